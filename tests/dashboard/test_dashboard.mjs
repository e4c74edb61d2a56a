#!/usr/bin/env node
// Browser test of the dashboard (dashboard/web) in headless Chromium.
//
// STATS_SOURCE=fixture (default): starts its own mosquitto (plain and
// websockets listeners on free 127.0.0.1 ports, password file and ACL, the
// dashboard served by http_dir), publishes retained stats made by fixture.mjs,
// and checks that the page shows them (percentages worked out here from the
// counts: 158 of 186 against 85 % is 84,9 %, and "days left" from the ward's
// local date at an as_of of 18:30 UTC), at 1366 and 360 px, follows new
// snapshots without reload, sorts the khóm table, switches language
// (remembered across a reload), warns when the aggregator goes offline (its
// will, "since": null: every badge says the data stopped), when the data is
// stale and when the broker goes away, reconnects when the broker comes back,
// names the address of a broker it never reached, and connects to a broker
// that starts after the page. The households view of a khóm (its retained
// household list): the counts per status and the filter (worked out here
// from the list), each household's status, attempts, last attempt, next step
// and field-added mark, at 1366 and 360 px in both languages; a khóm without
// a list says so; the voided events next to the event counts. The closed
// months (retained kdc.closed.v1 on stats/closed): none without the topic;
// two months newest first with who closed them (markup in the name shown
// literally) and when, each target's official figure beside the live one and
// the difference, at 1366 and 360 px in both languages; an empty list says
// that no month is closed.
//
// STATS_SOURCE=live: the stats come from whatever already publishes them
// (the real aggregator). Needs KDC_BROKER_PORT (plain MQTT, for reading the
// retained JSON with mosquitto_sub), KDC_WS_PORT (websockets) and KDC_WARD;
// optional KDC_DASH_USER/KDC_DASH_PASS. To also see the open page follow a
// newer ward snapshot: KDC_LIVE_TRIGGER, a shell command run once the page
// shows the first one (e.g. kdc-event ... && kdc-event ... sync), and/or
// KDC_LIVE_UPDATE_SECONDS, how long to wait for the new snapshot (default 30
// with a trigger). The dashboard is served by a small node server on a free
// port.
//
// Screenshots go to ARTIFACTS_DIR (default tests/artifacts/). Exit 0 when
// every check passed, 1 otherwise (including when Chromium is missing).

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO, DASHBOARD_DIR, USERS, sleep, freePort, startBroker, stopBroker, brokerLog, publishAll,
  publishRetained, readRetained, serveStatic, loadPlaywright, launchBrowser, expectPage, expectHouseholds,
  expectClosed,
} from './harness.mjs';
import { makeStats, messages, makeHouseholds } from './fixture.mjs';

const ARTIFACTS = process.env.ARTIFACTS_DIR || join(REPO, 'tests', 'artifacts');
const SOURCE = process.env.STATS_SOURCE || 'fixture';
const VI = 'vi-VN', EN = 'en-GB';

const t0 = Date.now();
let failures = 0;
function log(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
}
function check(cond, what, detail) {
  if (cond) { log(`ok   ${what}`); return; }
  failures++;
  log(`FAIL ${what}${detail ? ': ' + detail : ''}`);
}
// The two target cards added with the businesses (e-identified service
// users, businesses on e-invoices): titled in the page's language, their
// counts those of the retained JSON, inside the viewport at 360 px.
const NEW_TARGETS = {
  service_users_e_identified: { vi: 'Người dân, doanh nghiệp dùng dịch vụ công trực tuyến được định danh và xác thực điện tử',
    en: 'People and businesses using online public services who are e-identified' },
  businesses_using_einvoice: { vi: 'Doanh nghiệp sử dụng hóa đơn điện tử', en: 'Businesses using electronic invoices' },
};
async function newTargetCards(page, name, lang, stats) {
  for (const [ind, titles] of Object.entries(NEW_TARGETS)) {
    const tg = stats.ward.targets.find((x) => x.indicator === ind);
    const got = await page.evaluate((ind) => {
      const a = document.querySelector(`#targets article[data-indicator="${ind}"]`);
      if (!a) return null;
      const r = a.getBoundingClientRect();
      return { title: a.querySelector('h3').textContent, count: a.querySelector('[data-f=count]').textContent,
        right: r.right, width: document.documentElement.clientWidth };
    }, ind);
    check(got !== null && tg !== undefined, `${name}: a card for ${ind}`);
    if (!got || !tg) continue;
    check(got.title === titles[lang], `${name}: ${ind} card title`, `"${got.title}"`);
    const digits = (s) => s.replace(/\D/g, '');
    check(digits(got.count) === `${tg.value}${tg.denominator}`, `${name}: ${ind} card shows ${tg.value} of ${tg.denominator}`,
      `"${got.count}"`);
    check(got.right <= got.width + 0.5, `${name}: ${ind} card within the viewport`, `right edge ${got.right} of ${got.width}`);
  }
}

async function step(what, fn) {
  try {
    await fn();
    log(`ok   ${what}`);
  } catch (e) {
    failures++;
    log(`FAIL ${what}: ${e.message}`);
  }
}

async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot ${path}`);
}

function watchErrors(page, label) {
  page.on('pageerror', (e) => { failures++; log(`FAIL uncaught error in the page (${label}): ${e.message}`); });
}

const state = (page) => page.evaluate(() => ({ ...document.body.dataset, h1: document.querySelector('h1').textContent,
  lang: document.documentElement.lang }));

async function waitState(page, pred, what, ms = 30000, arg = null) {
  try {
    await page.waitForFunction(pred, arg, { timeout: ms, polling: 100 });
    log(`ok   ${what}`);
  } catch {
    failures++;
    log(`FAIL ${what}: page state ${JSON.stringify(await state(page))}`);
  }
}

// Order of the khóm rows the page should show when sorted by visited share,
// highest first (ties by code), computed from the JSON.
function visitedOrder(stats) {
  return Object.entries(stats.khoms)
    .map(([id, k]) => [id, k.households.visited / k.households.total])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0], 'vi', { numeric: true }))
    .map((x) => x[0]);
}

// The households view of one page: khóm 6's list under every filter, then
// khóm 3 (a snapshot but no household list yet: said, nothing else), then
// back to khóm 6, all statuses. lists: khóm -> published JSON.
async function householdSteps(page, name, locale, lists, offsetMin) {
  await page.selectOption('#hh-khom', '6');
  await step(`${name}: khóm 6's households, counts per status from its list`,
    () => expectHouseholds(page, lists['6'], locale, 'all', offsetMin));
  for (const f of ['not_home', 'reached', 'declined', 'all']) {
    await page.click(`#hh-counts button[data-status="${f}"]`);
    await step(`${name}: filter ${f} lists exactly the ${f === 'all' ? '' : f + ' '}households of the list`,
      () => expectHouseholds(page, lists['6'], locale, f, offsetMin));
  }
  await page.selectOption('#hh-khom', '2');
  await step(`${name}: khóm 2's households`, () => expectHouseholds(page, lists['2'], locale, 'all', offsetMin));
  await page.selectOption('#hh-khom', '3');
  await waitState(page, (vi) => document.getElementById('households').dataset.khom === '3' &&
    document.getElementById('hh-empty').offsetHeight > 0 &&
    document.getElementById('hh-empty').textContent === (vi ? 'Khóm này chưa có danh sách hộ.' : 'No household list yet for this khóm.') &&
    document.getElementById('hh-wrap').offsetHeight === 0 && document.getElementById('hh-counts').offsetHeight === 0,
  `${name}: khóm 3 without a household list says "no household list yet", nothing else`, 30000, locale === VI);
  await page.selectOption('#hh-khom', '6');
  await step(`${name}: back to khóm 6`, () => expectHouseholds(page, lists['6'], locale, 'all', offsetMin));
}

// The closed months as the aggregator publishes them on stats/closed (oldest
// first), made from the live ward snapshot `ward`: October's official
// figures equal the live ones; November was closed with 3 households reached
// fewer than counted now (late events), by a name holding markup.
function makeClosed(ward) {
  const frozen = (diff) => ward.targets.map((tg) => ({ indicator: tg.indicator, percent: tg.percent, deadline: tg.deadline,
    value: tg.value - (diff[tg.indicator] || 0), denominator: tg.denominator,
    current: Math.floor((10000 * (tg.value - (diff[tg.indicator] || 0))) / tg.denominator) / 100 }));
  return { schema: 'kdc.closed.v1', ward: ward.ward, months: [
    { month: '2026-10', closed_by: 'Nguyễn Thị Lan', closed_at: '2026-11-02T01:30:00.000Z',
      sha256: '9f2c'.padEnd(64, '0'), targets: frozen({}) },
    { month: '2026-11', closed_by: '<b>"Lan" & co</b>', closed_at: '2026-12-01T18:45:00.000Z',
      sha256: 'a1b2'.padEnd(64, '7'), targets: frozen({ households_reached: 3 }) },
  ] };
}

// At 360 px nothing may widen the page beyond the viewport.
async function checkWidth(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, what, `document is ${width} px wide`);
}

async function fixtureRun(pw, tmp) {
  const ward = '31975';
  const pub = USERS.publisher, dash = USERS.dashboard;
  const port = await freePort(), wsPort = await freePort();
  let broker = await startBroker(join(tmp, 'b1'), { port, wsPort, httpDir: DASHBOARD_DIR, auth: true });
  let broker2 = null;
  log(`broker pid ${broker.pid} on 127.0.0.1:${port}, websockets + http_dir on ${wsPort}`);
  const browser = await launchBrowser(pw);
  try {
    let seq = 12;
    let stats = makeStats({ ward, seq, nowMs: Date.now() });
    await publishAll(port, messages(stats, ward), pub);

    const url = `http://127.0.0.1:${wsPort}/index.html?ward=${ward}&user=${dash.user}&pass=${dash.pass}`;
    const desk = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await desk.newPage();
    watchErrors(page, 'desktop');
    await page.goto(url);
    await step('desktop page shows every number of the retained JSON (vi-VN)', () => expectPage(page, stats, VI));
    await newTargetCards(page, '1366 px vi', 'vi', stats);
    await waitState(page, () => document.getElementById('hh-empty').textContent === 'Chưa có danh sách hộ.' &&
      document.getElementById('hh-empty').offsetHeight > 0 && document.getElementById('hh-wrap').offsetHeight === 0,
    'no household list published (an older aggregator): the view says so, nothing else');

    // The khóms' household lists (khóm 3 has none).
    const lists = {
      6: makeHouseholds({ ward, khom: '6', nowMs: Date.now(), seed: 3, fieldAdded: 2,
        counts: { not_visited: 40, not_home: 10, declined: 3, surveyed: 50, reached: 83 } }),
      2: makeHouseholds({ ward, khom: '2', nowMs: Date.now(), seed: 9, fieldAdded: 0, register: false,
        counts: { not_visited: 7, not_home: 4, declined: 0, surveyed: 2, reached: 5 } }),
    };
    await publishAll(port, Object.entries(lists).map(([k, l]) => [`kdc/v1/${ward}/households/khom/${k}`, JSON.stringify(l)]), pub);
    const offsetMin = stats.ward.utc_offset_min;
    await householdSteps(page, '1366 px vi', VI, lists, offsetMin);
    await shot(page, 'dashboard-desktop-households-vi.png');
    check((await state(page)).lang === 'vi', 'Vietnamese by default');
    await waitState(page, () => document.body.dataset.conn === 'online' && document.body.dataset.agg === 'online' &&
      document.body.dataset.warnings === '', 'connected, aggregator online, no warning');
    await shot(page, 'dashboard-desktop-vi.png');

    // Sorting the khóm table by the visited column.
    await page.click('#khoms th[data-sort="visited"] button');
    const order = await page.$$eval('#khoms tbody tr', (trs) => trs.map((tr) => tr.dataset.khom));
    check(JSON.stringify(order) === JSON.stringify(visitedOrder(stats)), 'khóm table sorts by visited share, highest first',
      `page ${order}, expected ${visitedOrder(stats)}`);
    await page.click('#khoms th[data-sort="visited"] button');
    const order2 = await page.$$eval('#khoms tbody tr', (trs) => trs.map((tr) => tr.dataset.khom));
    check(JSON.stringify(order2) === JSON.stringify(visitedOrder(stats).reverse()), 'second click reverses the order');

    // New snapshots arrive: the page follows without reloading.
    await page.evaluate(() => { window.__kdcNoReload = 'still here'; });
    stats = makeStats({ ward, seq: ++seq, bump: 9, nowMs: Date.now() });
    await publishAll(port, messages(stats, ward), pub);
    await step('page shows the new snapshot (seq 13) without reload', () => expectPage(page, stats, VI));
    check(await page.evaluate(() => window.__kdcNoReload) === 'still here', 'no reload happened');

    // The closed months: nothing on stats/closed, no section; then two.
    await step('1366 px: nothing on stats/closed, no closed-months section',
      () => expectClosed(page, null, stats.ward, VI));
    const closed = makeClosed(stats.ward);
    await publishRetained(port, `kdc/v1/${ward}/stats/closed`, JSON.stringify(closed), pub);
    await step('1366 px vi: the closed months, newest first, with who and when, official beside live and the difference',
      () => expectClosed(page, closed, stats.ward, VI));
    check(await page.$$eval('#closed tr[data-differs="yes"]', (trs) => trs.map((tr) =>
      tr.closest('article').dataset.month + ' ' + tr.dataset.indicator).join()) === '2026-11 households_reached',
    'exactly one figure differs from its official value: November\'s households reached');
    await page.evaluate(() => document.getElementById('closed-sec').scrollIntoView());
    await shot(page, 'dashboard-desktop-closed-vi.png');

    // Language toggle, remembered in localStorage.
    await page.click('#lang');
    await waitState(page, () => document.documentElement.lang === 'en' &&
      document.querySelector('h1').textContent === 'Digital residential area', 'toggle switches to English');
    await step('English page shows the same numbers (en-GB format)', () => expectPage(page, stats, EN));
    await step('1366 px en: the closed months', () => expectClosed(page, closed, stats.ward, EN));
    await newTargetCards(page, '1366 px en', 'en', stats);
    await shot(page, 'dashboard-desktop-en.png');
    await householdSteps(page, '1366 px en', EN, lists, offsetMin);
    await page.reload();
    await waitState(page, () => document.documentElement.lang === 'en', 'English is remembered after a reload');
    await page.click('#lang');
    await waitState(page, () => document.documentElement.lang === 'vi' &&
      document.querySelector('h1').textContent === 'Khu dân cư điện tử', 'toggle back to Vietnamese');

    // 360 px wide phone.
    const phone = await browser.newContext({ viewport: { width: 360, height: 760 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const mob = await phone.newPage();
    watchErrors(mob, 'mobile');
    await mob.goto(url);
    await step('360 px page shows every number of the retained JSON', () => expectPage(mob, stats, VI));
    await newTargetCards(mob, '360 px vi', 'vi', stats);
    const overflow = await mob.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 360, 'no horizontal scrolling of the page at 360 px (the khóm table scrolls inside its box)',
      `document is ${overflow} px wide`);
    await shot(mob, 'dashboard-mobile-vi.png');
    for (const [lang, locale] of [['vi', VI], ['en', EN]]) {
      if (lang === 'en') {
        await mob.click('#lang');
        await waitState(mob, () => document.documentElement.lang === 'en', '360 px: English');
      }
      await step(`360 px ${lang}: the closed months`, () => expectClosed(mob, closed, stats.ward, locale));
      await checkWidth(mob, `360 px ${lang}: the closed months keep the page within the viewport`);
      await mob.evaluate(() => document.getElementById('closed-sec').scrollIntoView());
      await shot(mob, `dashboard-mobile-closed-${lang}.png`);
      await householdSteps(mob, `360 px ${lang}`, locale, lists, offsetMin);
      const width = await mob.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 360, `360 px ${lang}: the household view keeps the page within the viewport`, `document is ${width} px wide`);
      await mob.evaluate(() => document.getElementById('households').scrollIntoView());
      await shot(mob, `dashboard-mobile-households-${lang}.png`);
    }
    await mob.click('#lang');
    await waitState(mob, () => document.documentElement.lang === 'vi', '360 px: back to Vietnamese');

    // No month closed any more (all reopened): one line says so; an empty
    // retained message (the topic gone) removes the section.
    const none = { schema: 'kdc.closed.v1', ward, months: [] };
    await publishRetained(port, `kdc/v1/${ward}/stats/closed`, JSON.stringify(none), pub);
    for (const [p, name] of [[page, '1366 px'], [mob, '360 px']]) {
      await step(`${name}: an empty list of closed months says "no month closed yet"`, () => expectClosed(p, none, stats.ward, VI));
    }
    await publishRetained(port, `kdc/v1/${ward}/stats/closed`, '', pub);
    await step('1366 px: stats/closed cleared, no closed-months section', () => expectClosed(page, null, stats.ward, VI));

    // 158 of 186 households reached against a target of 85 %: 84.946 %. The
    // JSON's `current` (84.95 as older aggregators rounded it) must not be
    // rounded again to "85%": every view shows 84.9 % from the counts.
    const near = structuredClone(stats);
    near.ward.seq = ++seq;
    near.ward.households = { total: 186, visited: 171, surveyed: 160, reached: 158 };
    near.ward.targets[0] = { indicator: 'households_reached', percent: 85, deadline: '2026-12-31', current: 84.95,
      value: 158, denominator: 186, gained_30d: 4, projected: null, on_track: false, met: false };
    near.khoms['6'].households = { total: 186, visited: 158, surveyed: 150, reached: 158 };
    await publishAll(port, [[`kdc/v1/${ward}/stats/khom/6`, JSON.stringify(near.khoms['6'])],
      [`kdc/v1/${ward}/stats/ward`, JSON.stringify(near.ward)]], pub);
    for (const [p, name] of [[page, '1366 px'], [mob, '360 px']]) {
      await step(`${name}: 158 of 186 against 85 % shows 84,9 % (from the counts) on the card, overview and khóm row`,
        () => expectPage(p, near, VI));
      const shown = await p.evaluate(() => ({
        card: document.querySelector('#targets article[data-indicator="households_reached"] [data-f=current]').textContent,
        state: document.querySelector('#targets article[data-indicator="households_reached"]').dataset.state,
        row: document.querySelector('#khoms tr[data-khom="6"] [data-col=reached] .rate').textContent,
        fill: parseFloat(document.querySelector('#targets article[data-indicator="households_reached"] .bar .fill').style.width),
      }));
      check(shown.card !== '85%' && shown.row !== '85%' && shown.state !== 'done' && shown.fill < 85,
        `${name}: nothing says 85 % or "reached" for 84.9 %`, JSON.stringify(shown));
    }
    await shot(mob, 'dashboard-mobile-849.png');

    // The ward's local date: as_of at 18:30 UTC is 01:30 the next day at
    // +07:00, so "days left" counts from that next day (one fewer than from
    // the UTC date).
    const lateUtc = Math.floor((Date.now() - 18.5 * 3600000) / 86400000) * 86400000 + 18.5 * 3600000;
    const late = makeStats({ ward, seq: ++seq, bump: 9, nowMs: lateUtc });
    check(new Date(lateUtc).getUTCHours() >= 17 && lateUtc <= Date.now() &&
      new Date(lateUtc + 420 * 60000).toISOString().slice(0, 10) !== late.ward.as_of.slice(0, 10),
    `as_of ${late.ward.as_of} is between 17:00 and 24:00 UTC, on another local date`);
    await publishRetained(port, `kdc/v1/${ward}/stats/ward`, JSON.stringify(late.ward), pub);
    for (const [p, name] of [[page, '1366 px'], [mob, '360 px']]) {
      await step(`${name}: days left and times from the ward's local date at ${late.ward.as_of}`,
        () => expectPage(p, { ...late, khoms: near.khoms, teams: stats.teams }, VI));
    }
    stats = makeStats({ ward, seq: ++seq, bump: 9, nowMs: Date.now() });
    await publishAll(port, messages(stats, ward), pub);
    await step('back to a fresh snapshot', () => expectPage(page, stats, VI));

    // Aggregator dies: its will (fixed at connect, so "since" is null). Every
    // indicator says the data stopped, and the banner gives the last time the
    // aggregator was known alive: the as_of of its last snapshot.
    const will = { status: 'offline', ward, since: null, reason: 'connection lost', version: '0.1.0' };
    await publishRetained(port, `kdc/v1/${ward}/status/aggregator`, JSON.stringify(will), pub);
    const lastAlive = new Intl.DateTimeFormat(VI, { day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' })
      .format(new Date(stats.ward.as_of_ms + stats.ward.utc_offset_min * 60000));
    const firstVisit = await phone.newPage();
    watchErrors(firstVisit, 'first visit after the aggregator died');
    await firstVisit.goto(url);
    for (const [p, name] of [[page, 'desktop'], [mob, 'mobile'], [firstVisit, 'first visit']]) {
      await waitState(p, (t) => document.body.dataset.agg === 'offline' &&
        document.body.dataset.warnings.split(' ').includes('agg_offline') &&
        document.querySelector('[data-warn="agg_offline"]').offsetHeight > 0 &&
        document.querySelector('[data-warn="agg_offline"]').textContent.includes(t) &&
        !document.querySelector('[data-warn="agg_offline"]').textContent.includes('—') &&
        document.getElementById('conn').dataset.state === 'stopped' &&
        document.getElementById('age').dataset.state === 'stopped',
      `${name}: the will (since null) gives "stopped, last alive ${lastAlive}", and the broker and age pills say stopped`,
      30000, lastAlive);
    }
    await shot(firstVisit, 'dashboard-mobile-offline.png');
    await firstVisit.close();

    // Degraded, then online again but with data 5 minutes old: stale warning.
    await publishRetained(port, `kdc/v1/${ward}/status/aggregator`,
      JSON.stringify({ status: 'degraded', ward, since: new Date().toISOString(), reason: 'database is locked' }), pub);
    await waitState(page, () => document.body.dataset.agg === 'degraded' &&
      document.querySelector('[data-warn="agg_degraded"]')?.textContent.includes('database is locked'), 'degraded status shows its reason');
    await publishRetained(port, `kdc/v1/${ward}/status/aggregator`, JSON.stringify(stats.status), pub);
    const old = makeStats({ ward, seq: ++seq, bump: 9, nowMs: Date.now() - 5 * 60000 });
    await publishRetained(port, `kdc/v1/${ward}/stats/ward`, JSON.stringify(old.ward), pub);
    await waitState(page, (s) => document.body.dataset.wardSeq === s && document.body.dataset.warnings === 'stale' &&
      document.getElementById('age').dataset.state === 'stale', 'data 5 minutes old shows the stale warning', 30000, String(seq));
    // (and the households target is now met: a lower target in the profile)
    stats = makeStats({ ward, seq: ++seq, bump: 9, nowMs: Date.now(), hhTarget: 60 });
    await publishRetained(port, `kdc/v1/${ward}/stats/ward`, JSON.stringify(stats.ward), pub);
    await waitState(page, (s) => document.body.dataset.wardSeq === s && document.body.dataset.warnings === '',
      'fresh data clears the warning', 30000, String(seq));
    check(stats.ward.targets[0].met === true, 'fixture: households target met');
    await step('a met target shows as reached, without a projection', async () => {
      await expectPage(page, stats, VI);
      const proj = await page.$('#targets article[data-indicator="households_reached"] [data-f=projected]');
      if (proj) throw new Error('a projection is shown for a met target');
    });

    // Broker stops: warning; broker comes back on the same ports: reconnects.
    await stopBroker(broker);
    await waitState(page, () => document.body.dataset.conn === 'offline' &&
      document.body.dataset.warnings.split(' ').includes('broker'), 'broker stopped: disconnected warning', 30000);
    broker = await startBroker(join(tmp, 'b1'), { port, wsPort, httpDir: DASHBOARD_DIR, auth: true });
    stats = makeStats({ ward, seq: ++seq, bump: 12, nowMs: Date.now() });
    await publishAll(port, messages(stats, ward), pub);
    await step('broker restarted: the page reconnects and shows the republished stats',
      () => expectPage(page, stats, VI, 30000));
    await waitState(page, () => document.body.dataset.conn === 'online' && document.body.dataset.warnings === '',
      'no warning after reconnecting');

    // A wrong dashboard password: the broker refuses, the page says so.
    const refused = await desk.newPage();
    watchErrors(refused, 'wrong password');
    await refused.goto(`http://127.0.0.1:${wsPort}/index.html?ward=${ward}&user=${dash.user}&pass=wrong`);
    await waitState(refused, () => document.body.dataset.warnings === 'broker' &&
      /authori[sz]ed/i.test(document.querySelector('[data-warn="broker"]').textContent),
    'wrong password: the broker warning says the connection is not authorised', 30000);
    await refused.close();

    // A page opened before its broker exists connects once the broker starts.
    const port2 = await freePort(), wsPort2 = await freePort();
    const early = await desk.newPage();
    watchErrors(early, 'broker-later');
    await early.goto(`http://127.0.0.1:${wsPort}/index.html?ward=${ward}&broker=ws://127.0.0.1:${wsPort2}/mqtt` +
      `&user=${dash.user}&pass=${dash.pass}`);
    await waitState(early, (u) => document.body.dataset.conn === 'unreachable' &&
      document.body.dataset.warnings.split(' ').includes('broker') &&
      document.querySelector('[data-warn="broker"]').textContent.includes(u) &&
      document.querySelector('[data-warn="broker"]').textContent.includes('config.js') &&
      !/kết nối lại|reconnect/i.test(document.querySelector('[data-warn="broker"]').textContent + document.getElementById('conn').textContent),
    'a page that never connected names the address it tried and how to set it, not "reconnecting"', 30000,
    `ws://127.0.0.1:${wsPort2}/mqtt`);
    await shot(early, 'dashboard-desktop-nobroker.png');
    broker2 = await startBroker(join(tmp, 'b2'), { port: port2, wsPort: wsPort2, auth: true });
    log(`second broker pid ${broker2.pid} started after the page, on ${port2}/${wsPort2}`);
    // (an older aggregator: no events.voided, so no voided line)
    const stats2 = makeStats({ ward, seq: 3, bump: 4, seed: 11, nowMs: Date.now(), voided: false });
    await publishAll(port2, messages(stats2, ward), pub);
    await step('page connects to the broker started after it and shows its stats',
      () => expectPage(early, stats2, VI, 30000));
    check(stats2.ward.events.voided === undefined && stats.ward.events.voided > 0, 'fixture: stats2 has no events.voided, stats has');

    // Bad input on the topics must not break the page.
    await publishRetained(port, `kdc/v1/${ward}/stats/khom/99`, '{"schema":"something.else"}', pub);
    await publishRetained(port, `kdc/v1/${ward}/stats/team/T9`, 'not json at all', pub);
    await publishRetained(port, `kdc/v1/${ward}/stats/ward`, '[1,2,3]', pub);
    await sleep(500);
    await step('malformed messages are ignored, the page keeps the last good stats',
      () => expectPage(page, stats, VI, 3000));
    // An empty retained message removes a khóm.
    await publishRetained(port, `kdc/v1/${ward}/stats/khom/99`, '', pub);
    await publishRetained(port, `kdc/v1/${ward}/stats/team/T9`, '', pub);
    await publishRetained(port, `kdc/v1/${ward}/stats/khom/10`, '', pub);
    delete stats.khoms['10'];
    await step('an empty retained message removes the khóm row', () => expectPage(page, stats, VI, 30000));
    // A household list that is not one is ignored; an empty one removes it.
    await page.selectOption('#hh-khom', '6');
    await page.click('#hh-counts button[data-status="all"]');
    await publishRetained(port, `kdc/v1/${ward}/households/khom/6`, '{"schema":"kdc.stats.v1"}', pub);
    await publishRetained(port, `kdc/v1/${ward}/households/khom/2`, 'not json', pub);
    await sleep(500);
    await step('malformed household lists are ignored, the last good one stays',
      () => expectHouseholds(page, lists['6'], VI, 'all', stats.ward.utc_offset_min, 3000));
    await publishRetained(port, `kdc/v1/${ward}/households/khom/6`, '', pub);
    await waitState(page, () => document.getElementById('households').dataset.khom === '6' &&
      document.getElementById('hh-empty').textContent === 'Khóm này chưa có danh sách hộ.',
    'an empty retained household list removes it: "no household list yet"');
  } finally {
    await browser.close();
    await stopBroker(broker);
    await stopBroker(broker2);
    if (failures) log(`broker log tail:\n${brokerLog(broker)}`);
  }
}

async function liveRun(pw) {
  const need = (k) => {
    if (!process.env[k]) { console.log(`STATS_SOURCE=live needs ${k}`); process.exit(1); }
    return process.env[k];
  };
  const port = Number(need('KDC_BROKER_PORT')), wsPort = Number(need('KDC_WS_PORT')), ward = need('KDC_WARD');
  const auth = process.env.KDC_DASH_USER ? { user: process.env.KDC_DASH_USER, pass: process.env.KDC_DASH_PASS || '' } : null;
  const read = () => readRetained(port, ward, auth, 1);
  const first = read();
  check(first.ward !== null, `the broker holds a retained ward snapshot for ${ward}`);
  if (!first.ward) return;
  const server = await serveStatic(DASHBOARD_DIR, await freePort());
  const browser = await launchBrowser(pw);
  try {
    let q = `ward=${ward}&broker=ws://127.0.0.1:${wsPort}/mqtt`;
    if (auth) q += `&user=${encodeURIComponent(auth.user)}&pass=${encodeURIComponent(auth.pass)}`;
    for (const [w, name] of [[1280, 'desktop'], [360, 'mobile']]) {
      const ctx = await browser.newContext({ viewport: { width: w, height: 900 } });
      const page = await ctx.newPage();
      watchErrors(page, name);
      await page.goto(`http://127.0.0.1:${server.port}/index.html?${q}`);
      await step(`${name}: page shows the aggregator's retained stats`, () => expectPage(page, read, VI, 30000));
      await shot(page, `dashboard-live-${name}.png`);
      const trigger = process.env.KDC_LIVE_TRIGGER;
      const waitS = Number(process.env.KDC_LIVE_UPDATE_SECONDS || (trigger ? 30 : 0));
      if (waitS > 0 && name === 'desktop') {
        const seq0 = Number(await page.evaluate(() => document.body.dataset.wardSeq));
        if (trigger) {
          // e.g. record events with kdc-event and sync them: the aggregator
          // then publishes a new snapshot that the open page must pick up.
          const r = spawnSync('sh', ['-c', trigger], { stdio: ['ignore', 'inherit', 'inherit'] });
          check(r.status === 0, `KDC_LIVE_TRIGGER ran (exit ${r.status})`);
        }
        await waitState(page, (s) => Number(document.body.dataset.wardSeq) > s, 'page follows a newer ward snapshot', waitS * 1000, seq0);
        await step('and it matches the newer retained JSON', () => expectPage(page, read, VI, 30000));
        log(`ward seq ${seq0} -> ${await page.evaluate(() => document.body.dataset.wardSeq)}`);
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

async function main() {
  const pw = await loadPlaywright();
  for (const tool of ['mosquitto', 'mosquitto_pub', 'mosquitto_sub']) {
    const r = spawnSync(tool, ['--help'], { stdio: 'ignore' });
    if (r.error) {
      console.log(`FAILED: ${tool} is not installed (apt-get install -y mosquitto mosquitto-clients)`);
      process.exit(1);
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'kdc-dashboard-'));
  try {
    if (SOURCE === 'fixture') await fixtureRun(pw, tmp);
    else if (SOURCE === 'live') await liveRun(pw);
    else { console.log(`unknown STATS_SOURCE ${SOURCE} (fixture or live)`); failures++; }
  } catch (e) {
    failures++;
    log(`FAIL ${e.stack || e.message}`);
  } finally {
    if (!failures && !process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
    else log(`broker files kept in ${tmp}`);
  }
  log(failures ? `${failures} check(s) failed` : 'all dashboard checks passed');
  process.exit(failures ? 1 : 0);
}

await main();
