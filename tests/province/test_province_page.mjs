#!/usr/bin/env node
// Browser test of the province page (dashboard/web/province.html) in
// headless Chromium, fed by the real kdc-rollup: a mosquitto of its own
// (plain + websockets listeners, the dashboard served by http_dir), ward
// snapshots of two wards published retained (tests/dashboard/fixture.mjs),
// one ward online and one offline, a third ward listed but silent; kdc-rollup
// adds them up and the page must show exactly the province snapshot it
// published (read back with mosquitto_sub; kdc-rollup republishes every 5 s,
// so whichever snapshot is retained when the page shows it), follow a newer
// one, and switch to English. Expected texts are formatted with the browser's own Intl.
//
// Environment: KDC_ROLLUP (path of kdc-rollup). Screenshots to ARTIFACTS_DIR
// (default tests/artifacts/). Exit 0 when every check passed, 1 otherwise
// (Chromium or playwright-core missing included).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO, DASHBOARD_DIR, sleep, freePort, startBroker, stopBroker, publishAll, publishRetained,
  loadPlaywright, launchBrowser,
} from '../dashboard/harness.mjs';
import { makeStats, messages } from '../dashboard/fixture.mjs';

const ARTIFACTS = process.env.ARTIFACTS_DIR || join(REPO, 'tests', 'artifacts');
const PROVINCE = '91400';
const WARDS = [['91401', 'Phường Một'], ['91402', 'Phường Hai'], ['91403', 'Phường Ba']];

const t0 = Date.now();
let failures = 0;
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${m}`);
function check(cond, what, detail) {
  if (cond) log(`ok   ${what}`);
  else { failures++; log(`FAIL ${what}${detail !== undefined ? ': ' + detail : ''}`); }
}
const eq = (what, want, got) => check(want === got, `${what} = ${JSON.stringify(got)}`, `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);

function readProvince(port) {
  const r = spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-C', '1', '-W', '3',
    '-t', `kdc/v1/province/${PROVINCE}/stats`], { encoding: 'utf8' });
  try { return JSON.parse(r.stdout); } catch { return null; }
}

async function waitProvince(port, pred, what, ms = 60000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const p = readProvince(port);
    if (p && pred(p)) return p;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// inSync(page, shown, port, pred, what): waits until the page shows the
// retained province snapshot and that snapshot satisfies pred; returns the
// snapshot and what the page showed (read in one evaluation, seq included).
async function inSync(page, shown, port, pred, what, ms = 60000) {
  const until = Date.now() + ms;
  let p = null, s = null;
  while (Date.now() < until) {
    p = readProvince(port);
    if (p && pred(p)) {
      s = await shown();
      if (s.seq === p.seq) return [p, s];
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for the page to show ${what} ` +
    `(retained seq ${p ? p.seq : 'none'}, page seq ${s ? s.seq : 'none'})`);
}

async function main() {
  const rollupBin = process.env.KDC_ROLLUP;
  if (!rollupBin) { console.log('FAIL: KDC_ROLLUP is not set (run under ctest)'); process.exit(1); }
  const pw = await loadPlaywright();
  const dir = mkdtempSync(join(tmpdir(), 'kdc-province-page-'));
  const port = await freePort();
  let wsPort = await freePort();
  while (wsPort === port) wsPort = await freePort();
  const broker = await startBroker(join(dir, 'broker'), { port, wsPort, httpDir: DASHBOARD_DIR });
  let rollup = null, browser = null;
  try {
    // two wards with figures, one online and one offline
    const now = Date.now();
    const w1 = makeStats({ ward: WARDS[0][0], wardName: WARDS[0][1], nowMs: now - 5000, seq: 4, seed: 3 });
    const w2 = makeStats({ ward: WARDS[1][0], wardName: WARDS[1][1], nowMs: now - 3600e3, seq: 9, seed: 11 });
    w2.status = { status: 'offline', ward: WARDS[1][0], since: new Date(now - 3600e3).toISOString() };
    // 85 + 73 = 158 of 100 + 86 = 186 households reached in the province:
    // 84.946 %, below a target of 85 %. Every view must show 84,9 %.
    for (const [w, reached, total] of [[w1, 85, 100], [w2, 73, 86]]) {
      Object.assign(w.ward.households, { total, reached, visited: reached, surveyed: reached });
      Object.assign(w.ward.targets[0], { value: reached, denominator: total, percent: 85,
        current: Math.floor((10000 * reached) / total) / 100, met: reached * 100 >= 85 * total });
    }
    await publishAll(port, messages(w1, WARDS[0][0]));
    await publishAll(port, messages(w2, WARDS[1][0]));
    writeFileSync(join(dir, 'province.ini'), `[province]\ncode = ${PROVINCE}\nname = Tỉnh Thử Nghiệm\n[wards]\n` +
      WARDS.map(([c, n]) => `${c} = ${n}\n`).join(''));
    const out = openSync(join(dir, 'rollup.log'), 'a');
    rollup = spawn(rollupBin, ['--profile', join(dir, 'province.ini'), '--broker', `tcp://127.0.0.1:${port}`,
      '--refresh-s', '5'], { stdio: ['ignore', out, out] });
    let prov = await waitProvince(port, (p) => p.wards_reporting === 2, 'a province snapshot of 2 wards');
    log(`ok   kdc-rollup published seq ${prov.seq}: stored_total ${prov.stored_total}`);
    eq('province households.reached = sum of the two wards',
      w1.ward.households.reached + w2.ward.households.reached, prov.households.reached);

    browser = await launchBrowser(pw);
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, locale: 'vi-VN' });
    page.on('pageerror', (e) => { failures++; log(`FAIL uncaught error in the page: ${e.message}`); });
    await page.goto(`http://127.0.0.1:${wsPort}/province.html?province=${PROVINCE}&stale=0`);
    // kdc-rollup republishes every few seconds (a new seq each time): waits
    // until a page shows the retained snapshot's seq
    const sameSeq = async (pg, ms = 60000) => {
      const until = Date.now() + ms;
      let p = null, shownSeq = null;
      while (Date.now() < until) {
        p = readProvince(port);
        shownSeq = await pg.evaluate(() => document.body.dataset.provSeq);
        if (p && shownSeq === String(p.seq)) return p;
        await sleep(200);
      }
      throw new Error(`the page shows province seq ${shownSeq}, the broker holds ${p && p.seq}`);
    };

    const shown = () => page.evaluate(() => {
      const txt = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.trim() : null; };
      return {
        seq: Number(document.body.dataset.provSeq),
        name: txt('#prov-name'),
        h1: txt('h1'),
        lang: document.documentElement.lang,
        warnings: document.body.dataset.warnings,
        reachedCard: txt('#overview [data-f="hh_reached"] .card-value'),
        wardsCard: txt('#overview [data-f="wards"] .card-value'),
        reachedShare: (txt('#overview [data-f="hh_reached"] .card-sub') || '').split(' · ').pop(),
        targets: Array.from(document.querySelectorAll('#targets .target')).map((e) => [e.dataset.indicator, e.querySelector('[data-f="current"]').textContent, e.dataset.state]),
        rows: Array.from(document.querySelectorAll('#wards tbody tr')).map((r) => ({
          ward: r.dataset.ward, state: r.dataset.state, name: r.querySelector('th a').textContent,
          reached: r.querySelector('[data-col="reached"] .rate').textContent,
          frac: r.querySelector('[data-col="reached"] .frac').textContent,
          paying: r.querySelector('[data-col="paying"] .rate').textContent,
          age: r.querySelector('[data-col="age"]').textContent,
        })),
      };
    });
    // what the page must show, formatted here with the browser's Intl;
    // percentages from the counts (never the JSON's `current`), one decimal
    // rounded down in exact integer arithmetic
    const expected = (p, locale) => page.evaluate(([p, locale]) => {
      const int = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
      const pct = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
      const rate = (a, b) => (typeof a === 'number' && b > 0 ? pct.format(Number((BigInt(a) * 1000n) / BigInt(b)) / 1000) : '—');
      return {
        name: p.province_name,
        reachedCard: int.format(p.households.reached),
        reachedShare: rate(p.households.reached, p.households.total),
        wardsCard: int.format(p.wards_reporting) + ' / ' + int.format(p.wards_listed),
        targets: p.targets.map((t) => [t.indicator, rate(t.value, t.denominator),
          t.denominator > 0 && t.value * 100 >= t.percent * t.denominator ? 'done' : t.on_track ? 'ok' : 'bad']),
        rows: p.wards.map((w) => ({
          ward: w.ward, name: w.name,
          reached: w.reporting ? rate(w.households.reached, w.households.total) : '—',
          frac: w.reporting ? int.format(w.households.reached) + '/' + int.format(w.households.total) : '—/—',
          paying: w.reporting ? rate(w.people_15plus.paying_regularly, w.people_15plus.total) : '—',
        })),
      };
    }, [p, locale]);

    // kdc-rollup republishes every 5 s (a new seq each time): the page may
    // already show a later snapshot than the one read above, and a loaded
    // machine may take longer than that to start Chromium. Compare the page
    // with whatever snapshot is retained when the page shows that one.
    let s;
    [prov, s] = await inSync(page, shown, port, (p) => p.seq >= prov.seq, 'the retained province snapshot');
    log(`ok   the page shows the retained province snapshot (seq ${prov.seq})`);
    let want = await expected(prov, 'vi-VN');
    eq('province name', want.name, s.name);
    eq('households reached card', want.reachedCard, s.reachedCard);
    eq('wards reporting card', want.wardsCard, s.wardsCard);
    eq('households reached share on its card', want.reachedShare, s.reachedShare);
    eq('targets (indicator, share from the counts, state)', JSON.stringify(want.targets), JSON.stringify(s.targets));
    const hhT = prov.targets.find((t) => t.indicator === 'households_reached');
    eq('province households_reached target counts', '158/186', `${hhT && hhT.value}/${hhT && hhT.denominator}`);
    eq('158 of 186 against 85 %: the target card', '84,9%', (s.targets.find((t) => t[0] === 'households_reached') || [])[1]);
    // the same at 360 px
    const phone = await browser.newPage({ viewport: { width: 360, height: 760 }, locale: 'vi-VN', isMobile: true });
    phone.on('pageerror', (e) => { failures++; log(`FAIL uncaught error in the 360 px page: ${e.message}`); });
    await phone.goto(`http://127.0.0.1:${wsPort}/province.html?province=${PROVINCE}&stale=0`);
    await sameSeq(phone);
    eq('360 px: targets (indicator, share from the counts, state)', JSON.stringify(want.targets),
      JSON.stringify(await phone.evaluate(() => Array.from(document.querySelectorAll('#targets .target')).map((e) =>
        [e.dataset.indicator, e.querySelector('[data-f="current"]').textContent, e.dataset.state]))));
    await phone.close();
    const byWard = (rows) => JSON.stringify(rows.map(({ ward, name, reached, frac, paying }) => ({ ward, name, reached, frac, paying }))
      .sort((a, b) => a.ward.localeCompare(b.ward)));
    eq('wards table (name, reached %, fraction, paying %)', byWard(want.rows), byWard(s.rows));
    eq('ward states', 'online offline missing',
      WARDS.map(([c]) => (s.rows.find((r) => r.ward === c) || {}).state).join(' '));
    check(/giờ|hour/.test(s.rows.find((r) => r.ward === WARDS[1][0]).age), `offline ward's age shown in hours ("${s.rows.find((r) => r.ward === WARDS[1][0]).age}")`);
    check(s.warnings.includes('wards_offline') && s.warnings.includes('wards_missing'),
      `warnings about the offline and the silent ward ("${s.warnings}")`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'province-vi.png'), fullPage: true });

    // a newer snapshot of ward 1: kdc-rollup republishes, the page follows
    const w1b = makeStats({ ward: WARDS[0][0], wardName: WARDS[0][1], nowMs: Date.now(), seq: 5, seed: 3, bump: 40 });
    await publishRetained(port, `kdc/v1/${WARDS[0][0]}/stats/ward`, JSON.stringify(w1b.ward));
    const ward1Updated = (p) => p.wards.find((w) => w.ward === WARDS[0][0]).seq === 5;
    let prov2 = await waitProvince(port, ward1Updated, 'the province snapshot with ward 1 seq 5');
    [prov2, s] = await inSync(page, shown, port, (p) => p.seq >= prov2.seq && ward1Updated(p),
      'the province snapshot with ward 1 seq 5');
    want = await expected(prov2, 'vi-VN');
    eq('households reached card after the ward update', want.reachedCard, s.reachedCard);
    eq('wards table after the ward update', byWard(want.rows), byWard(s.rows));

    // English
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: 30000 });
    s = await shown();
    want = await expected(prov2, 'en-GB');
    eq('heading in English', 'Digital residential areas — province', s.h1);
    eq('wards table in English', byWard(want.rows), byWard(s.rows));
    eq('state of the silent ward in English', 'No figures yet',
      await page.textContent(`#wards tr[data-ward="${WARDS[2][0]}"] .ward-state`));
    await page.screenshot({ path: join(ARTIFACTS, 'province-en.png'), fullPage: true });
    log(`screenshots in ${ARTIFACTS}: province-vi.png, province-en.png`);

    // kdc-rollup dies: its will (offline, since null) and every indicator
    // says the figures stopped, at the as_of of its last snapshot
    rollup.kill('SIGKILL');
    await new Promise((res) => (rollup.exitCode !== null || rollup.signalCode !== null ? res() : rollup.once('exit', res)));
    rollup = null;
    const last = readProvince(port);
    const lastAlive = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' })
      .format(new Date(last.as_of_ms + last.utc_offset_min * 60000));
    try {
      await page.waitForFunction((t) => document.body.dataset.rollup === 'offline' &&
        (document.querySelector('[data-warn="rollup_offline"]') || { textContent: '' }).textContent.includes(t) &&
        document.getElementById('conn').dataset.state === 'stopped' && document.getElementById('age').dataset.state === 'stopped',
      lastAlive, { timeout: 15000, polling: 100 });
      log(`ok   kdc-rollup killed: its will shows "last seen alive ${lastAlive}", broker and age pills say stopped`);
    } catch {
      failures++;
      log(`FAIL kdc-rollup killed: ${JSON.stringify(await page.evaluate(() => ({ ...document.body.dataset,
        warn: document.getElementById('warnings').textContent, conn: document.getElementById('conn').dataset.state,
        age: document.getElementById('age').dataset.state })))}, expected the time ${lastAlive}`);
    }
  } finally {
    if (browser) await browser.close();
    if (rollup) {
      rollup.kill('SIGTERM');
      await new Promise((res) => (rollup.exitCode !== null ? res() : rollup.once('exit', res)));
    }
    await stopBroker(broker);
    if (failures === 0) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir} (broker and kdc-rollup logs)`);
  }
}

main().then(() => {
  log(failures === 0 ? 'province page: all checks passed' : `province page: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}, (e) => {
  log(`FAIL ${e.stack || e.message}`);
  process.exit(1);
});
