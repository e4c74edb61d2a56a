#!/usr/bin/env node
// Tests of the dashboard's logic without a browser (node:test): formatting
// in Vietnamese and English, topic routing, snapshot and closed-months
// checks, khóm sorting, the teams' 7-day alignment, the staleness rules, and
// that every label exists in both languages. The scripts are classic scripts that fill
// globalThis.kdc, so they are run here the way a browser runs them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { join } from 'node:path';
import { DASHBOARD_DIR } from './harness.mjs';

for (const f of ['format.js', 'i18n.js', 'model.js', 'chart.js']) {
  const file = join(DASHBOARD_DIR, 'js', f);
  runInThisContext(readFileSync(file, 'utf8'), { filename: file });
}
const { format, i18n, model, chart } = globalThis.kdc;

test('Vietnamese formats: 1.234, 27/11/2026, 43,5%, VND, relative age', () => {
  const f = format.makeFormatter('vi', 'Asia/Ho_Chi_Minh');
  assert.equal(f.int(1234), '1.234');
  assert.equal(f.int(1234567), '1.234.567');
  assert.equal(f.int(0), '0');
  assert.equal(f.int(null), '—');
  assert.equal(f.int(NaN), '—');
  assert.equal(f.day('2026-11-27'), '27/11/2026');
  assert.equal(f.day('2023-12-31'), '31/12/2023');
  assert.equal(f.day('27/11/2026'), '—');
  assert.equal(f.dayShort('2026-11-07'), '07/11');
  assert.equal(f.goal(43.5), '43,5%');
  assert.equal(f.goal(85), '85%');
  assert.equal(f.goal(85.25), '85,25%');
  assert.equal(f.ratio(80, 186), '43%');
  assert.equal(f.ratio(1, 0), '—');
  assert.equal(f.vnd(1234000).replace(/\s/g, ' '), '1.234.000 ₫');
  // 22:14 UTC is 05:14 the next day in Vietnam (UTC+7).
  assert.match(f.time('2026-11-27T22:14:15.123Z'), /05:14.*28\/11\/2026/);
  assert.equal(f.ago(45000), '45 giây trước');
  assert.equal(f.ago(125000), '2 phút trước');
  assert.equal(f.ago(3 * 3600000), '3 giờ trước');
});

test('English formats keep day-first dates', () => {
  const f = format.makeFormatter('en', 'Asia/Ho_Chi_Minh');
  assert.equal(f.int(1234), '1,234');
  assert.equal(f.day('2026-11-27'), '27/11/2026');
  assert.equal(f.goal(43.5), '43.5%');
  assert.equal(f.ratio(158, 186), '84.9%');
  assert.equal(f.ago(125000), '2 minutes ago');
});

test('shares from counts: one decimal, rounded down, never up across a target', () => {
  const f = format.makeFormatter('vi', 'Asia/Ho_Chi_Minh');
  // 158/186 = 84.946...: rounding to nearest would show 85 %, the target line
  assert.equal(format.shareTenths(158, 186), 849);
  assert.equal(f.ratio(158, 186), '84,9%');
  assert.equal(f.ratio(169, 186), '90,8%');   // 90.86
  assert.equal(f.ratio(1999, 2000), '99,9%'); // 99.95: not 100 % before it is
  assert.equal(f.ratio(186, 186), '100%');
  assert.equal(f.ratio(0, 186), '0%');
  assert.equal(format.shareTenths(1, 0), null);
  assert.equal(format.shareTenths(null, 10), null);
  // exact at every count: k of n with k*1000 divisible by n is not lowered
  for (let n = 1; n <= 400; n++) {
    for (let k = 0; k <= n; k++) {
      const want = Math.floor((k * 1000 - (k * 1000) % n) / n);
      if (format.shareTenths(k, n) !== want) assert.fail(`${k}/${n}: ${format.shareTenths(k, n)}, want ${want}`);
    }
  }
});

test('local dates and times of the ward, from its UTC offset', () => {
  // 18:30 UTC on 1 December is 01:30 on 2 December at +07:00
  assert.equal(format.localDay('2026-12-01T18:30:00Z', 420), '2026-12-02');
  assert.equal(format.localDay(Date.parse('2026-12-01T16:59:00Z'), 420), '2026-12-01');
  assert.equal(format.localDay('2026-12-01T18:30:00Z', null, 'Asia/Ho_Chi_Minh'), '2026-12-02');
  assert.equal(format.localDay('2026-12-01T18:30:00Z', -300), '2026-12-01');
  const f = format.makeFormatter('vi', 'UTC', 420);
  assert.match(f.time('2026-12-01T18:30:00Z'), /01:30.*02\/12\/2026/);
  assert.equal(f.localDay('2026-12-01T18:30:00Z'), '2026-12-02');
});

test('calendar arithmetic ignores time zones', () => {
  assert.equal(format.addDays('2026-11-27', 5), '2026-12-02');
  assert.equal(format.addDays('2026-03-01', -1), '2026-02-28');
  assert.equal(format.daysBetween('2026-11-27', '2026-12-31'), 34);
  assert.equal(format.daysBetween('2026-11-27', '2025-12-31'), -331);
  assert.equal(format.daysBetween('2026-11-27', null), null);
});

test('every label exists in Vietnamese and English', () => {
  const vi = Object.keys(i18n.STRINGS.vi).sort(), en = Object.keys(i18n.STRINGS.en).sort();
  assert.deepEqual(vi.filter((k) => !en.includes(k)), [], 'keys missing in English');
  assert.deepEqual(en.filter((k) => !vi.includes(k)), [], 'keys missing in Vietnamese');
  for (const k of vi) {
    const pv = (i18n.STRINGS.vi[k].match(/\{\w+\}/g) || []).sort();
    const pe = (i18n.STRINGS.en[k].match(/\{\w+\}/g) || []).sort();
    assert.deepEqual(pe, pv, `placeholders of ${k} differ`);
  }
  assert.equal(i18n.t('vi', 'target.line', { percent: '85%', deadline: '31/12/2023' }), 'Chỉ tiêu 85% trước 31/12/2023');
  assert.equal(i18n.t('en', 'no.such.key'), 'no.such.key');
});

test('topics: only the ward\'s stats, closed months, household lists and status are read', () => {
  assert.deepEqual(model.topics('31975'), ['kdc/v1/31975/stats/ward', 'kdc/v1/31975/stats/khom/+',
    'kdc/v1/31975/stats/team/+', 'kdc/v1/31975/households/khom/+', 'kdc/v1/31975/status/aggregator',
    'kdc/v1/31975/stats/closed']);
  assert.deepEqual(model.route('kdc/v1/31975/stats/closed', '31975'), { scope: 'closed', id: null });
  assert.equal(model.route('kdc/v1/31975/stats/closed/x', '31975'), null);
  assert.equal(model.route('kdc/v1/99999/stats/closed', '31975'), null);
  assert.deepEqual(model.route('kdc/v1/31975/households/khom/6', '31975'), { scope: 'households', id: '6' });
  assert.equal(model.route('kdc/v1/31975/households/khom/6/x', '31975'), null);
  assert.equal(model.route('kdc/v1/31975/households/team/T1', '31975'), null);
  assert.equal(model.route('kdc/v1/31975/worklist/T1', '31975'), null);
  assert.deepEqual(model.route('kdc/v1/31975/stats/ward', '31975'), { scope: 'ward', id: null });
  assert.deepEqual(model.route('kdc/v1/31975/stats/khom/6', '31975'), { scope: 'khom', id: '6' });
  assert.deepEqual(model.route('kdc/v1/31975/stats/team/T1', '31975'), { scope: 'team', id: 'T1' });
  assert.deepEqual(model.route('kdc/v1/31975/status/aggregator', '31975'), { scope: 'status', id: null });
  assert.equal(model.route('kdc/v1/99999/stats/ward', '31975'), null);
  assert.equal(model.route('kdc/v1/31975/stats/khom/6/x', '31975'), null);
  assert.equal(model.route('kdc/v1/31975/stats/khom/a b', '31975'), null);
  assert.equal(model.route('kdc/v1/31975/events/T1/D1', '31975'), null);
  assert.equal(model.isCode('31975'), true);
  assert.equal(model.isCode('31+75'), false);
  assert.equal(model.isCode('#'), false);
  assert.equal(model.isCode(''), false);
});

test('snapshots: schema, ward and scope are checked, bad JSON never throws', () => {
  const good = JSON.stringify({ schema: 'kdc.stats.v1', ward: '31975', scope: 'khom', id: '6' });
  assert.ok(model.parseSnapshot(good, '31975', 'khom').snap);
  assert.match(model.parseSnapshot(good, '31975', 'team').error, /scope/);
  assert.match(model.parseSnapshot(good, '11111', 'khom').error, /ward/);
  assert.match(model.parseSnapshot('{"schema":"kdc.stats.v2"}', '31975', 'ward').error, /schema/);
  assert.match(model.parseSnapshot('{', '31975', 'ward').error, /JSON/);
  assert.match(model.parseSnapshot('[1]', '31975', 'ward').error, /object/);
  assert.match(model.parseSnapshot('null', '31975', 'ward').error, /object/);
  assert.equal(model.parseStatus('{"status":"online"}').status.status, 'online');
  assert.ok(model.parseStatus('{"state":"online"}').error);
});

function khom(visited, total, latest) {
  return { households: { total, visited, reached: 0 }, people_15plus: { total: 0, paying_regularly: 0 }, latest_event: latest };
}

test('khóm table: natural code order, rates sort highest first, missing values last', () => {
  const m = new Map([['10', khom(50, 100, '2026-11-20T00:00:00Z')], ['2', khom(90, 100, null)],
    ['1', khom(10, 0, '2026-11-27T00:00:00Z')], ['3', khom(45, 50, '2026-11-21T00:00:00Z')]]);
  const rows = model.khomRows(m);
  assert.deepEqual(model.sortRows(rows, 'khom', 'asc').map((r) => r.id), ['1', '2', '3', '10']);
  assert.deepEqual(model.sortRows(rows, 'khom', 'desc').map((r) => r.id), ['10', '3', '2', '1']);
  // 2 and 3 are both 90 %: ties by code. Khóm 1 has no denominator: last.
  assert.deepEqual(model.sortRows(rows, 'visited', 'desc').map((r) => r.id), ['2', '3', '10', '1']);
  assert.deepEqual(model.sortRows(rows, 'visited', 'asc').map((r) => r.id), ['10', '2', '3', '1']);
  assert.deepEqual(model.sortRows(rows, 'last', 'desc').map((r) => r.id), ['1', '3', '10', '2']);
});

function team(start, days, visit) {
  const z = () => new Array(days).fill(0);
  return { series: { start, days, visit, account: z(), payment: z(), service: z() }, devices: [{}, {}] };
}

test('teams: last 7 days aligned on the latest series day, missing days are 0', () => {
  const a = team('2026-11-18', 10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);        // ends 2026-11-27
  const b = team('2026-11-17', 10, [1, 1, 1, 1, 1, 1, 1, 1, 1, 5]);         // ends 2026-11-26
  const w = model.teamWeek(new Map([['T2', b], ['T1', a]]), 7);
  assert.deepEqual(w.dates, ['2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27']);
  assert.deepEqual(w.rows.map((r) => r.id), ['T1', 'T2']);
  assert.deepEqual(w.rows[0].days, [4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(w.rows[1].days, [1, 1, 1, 1, 1, 5, 0]);
  assert.equal(w.rows[0].total, 49);
  assert.equal(w.rows[1].devices, 2);
  assert.deepEqual(model.teamWeek(new Map(), 7), { dates: [], rows: [] });
});

test('health: stale after the limit, offline and degraded aggregator, lost broker', () => {
  const now = Date.parse('2026-11-27T22:00:00Z');
  const ward = { as_of_ms: now - 120000 };
  const kinds = (o) => model.health(Object.assign({ now, ward, status: { status: 'online' }, connected: true,
    settled: true, staleMs: 120000 }, o)).warnings.map((w) => w.kind);
  assert.deepEqual(kinds({}), []);
  assert.deepEqual(kinds({ ward: { as_of_ms: now - 120001 } }), ['stale']);
  assert.deepEqual(kinds({ ward: { as_of: '2026-11-27T21:50:00Z' } }), ['stale']);
  assert.deepEqual(kinds({ status: { status: 'offline', since: 'x' } }), ['agg_offline']);
  assert.deepEqual(kinds({ status: { status: 'degraded', reason: 'disk full' } }), ['agg_degraded']);
  assert.deepEqual(kinds({ connected: false }), ['broker']);
  assert.deepEqual(kinds({ ward: null }), ['no_data']);
  assert.deepEqual(kinds({ ward: null, settled: false }), []);
  // A clock behind the aggregator's never gives a negative age.
  assert.equal(model.health({ now, ward: { as_of_ms: now + 5000 }, connected: true, staleMs: 1 }).ageMs, 0);
});

test('chart y axis rounds up to 1, 2, 5 x 10^n', () => {
  assert.equal(chart.niceMax(0), 1);
  assert.equal(chart.niceMax(7), 10);
  assert.equal(chart.niceMax(43), 50);
  assert.equal(chart.niceMax(101), 200);
  assert.equal(chart.niceMax(100), 100);
});

test('household lists: checked, counted per status, filtered', () => {
  const hh = (household, status, extra) => Object.assign({ household, status, attempts: 0, last_attempt: null,
    next: 'visit', field_added: false }, extra || {});
  const json = (o) => JSON.stringify(Object.assign({ schema: 'kdc.households.v1', ward: '31975', khom: '6',
    register: true, households: [] }, o));
  const p = model.parseHouseholds(json({ households: [hh('H10', 'reached', { next: 'pay_cashless' }),
    hh('H2', 'not_home', { attempts: 2, last_attempt: '2026-12-01T18:30:00Z', next: 'revisit', field_added: true }),
    hh('H3', 'not_visited'), hh('', 'reached'), hh('H4', 'lost'), 'x', null] }), '31975', '6');
  assert.equal(p.error, undefined);
  assert.equal(p.dropped, 4);
  assert.deepEqual(p.list.households.map((e) => e.household), ['H2', 'H3', 'H10']);
  assert.deepEqual(p.list.households[0], { household: 'H2', status: 'not_home', attempts: 2,
    lastAttempt: '2026-12-01T18:30:00Z', next: 'revisit', fieldAdded: true });
  assert.deepEqual(model.householdCounts(p.list), { total: 3, field_added: 1, not_visited: 1, not_home: 1,
    declined: 0, surveyed: 0, reached: 1 });
  assert.deepEqual(model.filterHouseholds(p.list, 'reached').map((e) => e.household), ['H10']);
  assert.equal(model.filterHouseholds(p.list, 'all').length, 3);
  assert.equal(model.filterHouseholds(p.list, 'declined').length, 0);
  assert.deepEqual(model.householdCounts(null).total, 0);
  for (const [text, why] of [['nope', /not JSON/], ['[]', /not an object/], [json({ schema: 'kdc.stats.v1' }), /schema/],
    [json({ ward: '1' }), /ward/], [json({ khom: '7' }), /khóm 7/], [json({ households: 3 }), /no households/]]) {
    assert.match(model.parseHouseholds(text, '31975', '6').error, why);
  }
});

test('closed months: checked, newest first, official beside live with the difference', () => {
  const msg = (o) => JSON.stringify(Object.assign({ schema: 'kdc.closed.v1', ward: '31975' }, o));
  assert.match(model.parseClosed('nope', '31975').error, /not JSON/);
  assert.match(model.parseClosed(msg({ schema: 'kdc.stats.v1', months: [] }), '31975').error, /schema/);
  assert.match(model.parseClosed(msg({ ward: '1', months: [] }), '31975').error, /ward/);
  assert.match(model.parseClosed(msg({}), '31975').error, /months/);
  assert.deepEqual(model.parseClosed(msg({ months: [] }), '31975'), { months: [], dropped: 0 });
  const p = model.parseClosed(msg({ months: [
    { month: '2026-10', closed_by: 'Lan', closed_at: '2026-11-01T02:00:00.000Z', sha256: 'ab',
      targets: [{ indicator: 'households_reached', percent: 85, value: 150, denominator: 186, current: 80.64 }] },
    { month: '2026-13', closed_by: 'x', targets: [] },
    { month: '2026-11', closed_by: '<b>"Lan" & co</b>', closed_at: '2026-12-01T02:00:00.000Z', sha256: 'cd',
      targets: [{ indicator: 'households_reached', value: 155, denominator: 186 },
        { indicator: 'people_paying_regularly', value: 40, denominator: 100 }, { value: 1 }] },
  ] }), '31975');
  assert.equal(p.dropped, 1);
  assert.deepEqual(p.months.map((m) => m.month), ['2026-11', '2026-10']);
  assert.equal(p.months[0].closedBy, '<b>"Lan" & co</b>');
  assert.equal(p.months[0].targets.length, 2);
  const live = { targets: [{ indicator: 'households_reached', value: 158, denominator: 187 },
    { indicator: 'people_paying_regularly', value: 40, denominator: 100 }] };
  assert.deepEqual(model.closedRows(p.months[0], live), [
    { indicator: 'households_reached', official: { value: 155, denominator: 186 }, live: { value: 158, denominator: 187 },
      diff: { value: 3, denominator: 1 } },
    { indicator: 'people_paying_regularly', official: { value: 40, denominator: 100 }, live: { value: 40, denominator: 100 },
      diff: null }]);
  // no live snapshot yet: the official figures alone
  assert.deepEqual(model.closedRows(p.months[1], null).map((r) => [r.live, r.diff]), [[null, null]]);
  const vi = format.makeFormatter('vi', 'Asia/Ho_Chi_Minh'), en = format.makeFormatter('en', 'Asia/Ho_Chi_Minh');
  assert.equal(vi.month('2026-11'), '11/2026');
  assert.equal(en.month('2026-11'), 'November 2026');
  assert.equal(vi.month('2026-13'), '—');
  assert.equal(vi.signed(1234), '+1.234');
  assert.equal(en.signed(-3), '-3');
  assert.equal(en.signed(0), '0');
});
