// Building blocks of the dashboard browser tests, exported so that an
// end-to-end test can reuse them with the real aggregator as the stats source:
// a mosquitto of our own (plain + websockets listeners on free 127.0.0.1 ports,
// serving the dashboard through http_dir), publishing and reading retained
// messages with the mosquitto command-line clients, headless Chromium, and
// checkPage(), which compares what the page shows with the stats JSON.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { join, dirname, resolve, extname, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const DASHBOARD_DIR = process.env.DASHBOARD_DIR || join(REPO, 'dashboard', 'web');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Flags measured on these machines (TOOLCHAIN.md section 5): no sandbox as
// root, and no name lookups or background traffic beyond 127.0.0.1.
export const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-extensions', '--disable-default-apps', '--metrics-recording-only',
  '--no-default-browser-check', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A TCP port that was free a moment ago on 127.0.0.1 (mosquitto cannot take 0).
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function canConnect(port) {
  return new Promise((res) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => { c.destroy(); res(true); });
    c.once('error', () => res(false));
  });
}

export async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing accepts connections on 127.0.0.1:${port} after ${ms} ms`);
}

// Users of the test broker when auth is on: a read-only dashboard account,
// as deploy/ gives the real dashboards, and a publisher standing in for the
// aggregator.
export const USERS = {
  dashboard: { user: 'kdc-dashboard', pass: 'dash-secret-1' },
  publisher: { user: 'kdc-test-pub', pass: 'pub-secret-1' },
};

// Writes the broker config into dir. opts: port, wsPort, httpDir, auth.
export function writeBrokerConfig(dir, opts) {
  mkdirSync(dir, { recursive: true });
  const lines = [];
  if (process.getuid && process.getuid() === 0) lines.push('user root');
  lines.push(`log_dest file ${join(dir, 'mosquitto.log')}`, 'log_type all', 'persistence false',
    'per_listener_settings false');
  if (opts.auth) {
    const pw = join(dir, 'passwd');
    writeFileSync(pw, '');
    chmodSync(pw, 0o600);
    for (const u of Object.values(USERS)) {
      const r = spawnSync('mosquitto_passwd', ['-b', pw, u.user, u.pass], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    }
    const acl = join(dir, 'acl');
    writeFileSync(acl, [
      `user ${USERS.dashboard.user}`, 'topic read kdc/v1/+/stats/#', 'topic read kdc/v1/+/status/#',
      'topic read kdc/v1/+/households/khom/+', '',
      `user ${USERS.publisher.user}`, 'topic readwrite kdc/#', ''].join('\n'));
    lines.push('allow_anonymous false', `password_file ${pw}`, `acl_file ${acl}`);
  } else {
    lines.push('allow_anonymous true');
  }
  // A websockets-only config makes mosquitto exit: keep the plain listener.
  lines.push(`listener ${opts.port} 127.0.0.1`);
  lines.push(`listener ${opts.wsPort} 127.0.0.1`, 'protocol websockets', 'socket_domain ipv4');
  if (opts.httpDir) lines.push(`http_dir ${opts.httpDir}`);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  return conf;
}

const running = new Set();
process.on('exit', () => {
  for (const b of running) try { process.kill(b.pid, 'SIGKILL'); } catch { /* already gone */ }
});

// Starts mosquitto in its own session (setsid) and waits until both ports
// accept. Returns {pid, port, wsPort, dir, conf, proc}.
export async function startBroker(dir, opts) {
  const conf = writeBrokerConfig(dir, opts);
  const out = openSync(join(dir, 'mosquitto.out'), 'a');
  const proc = spawn('mosquitto', ['-c', conf], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const b = { pid: proc.pid, port: opts.port, wsPort: opts.wsPort, dir, conf, proc, exited: false };
  proc.once('exit', () => { b.exited = true; running.delete(b); });
  running.add(b);
  try {
    await waitForPort(opts.port, 30000);
    await waitForPort(opts.wsPort, 30000);
  } catch (e) {
    await stopBroker(b);
    throw new Error(`${e.message}; broker log:\n${brokerLog(b)}`);
  }
  return b;
}

export function brokerLog(b) {
  try { return readFileSync(join(b.dir, 'mosquitto.log'), 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(no log)'; }
}

// SIGTERM by PID (never by name: other people run mosquitto here), then
// SIGKILL if it has not gone within 3 s.
export async function stopBroker(b) {
  if (!b || b.exited) return;
  try { process.kill(b.pid, 'SIGTERM'); } catch { return; }
  const until = Date.now() + 3000;
  while (!b.exited && Date.now() < until) await sleep(25);
  if (!b.exited) {
    try { process.kill(b.pid, 'SIGKILL'); } catch { /* gone */ }
    while (!b.exited) await sleep(25);
  }
}

function authArgs(auth) {
  return auth ? ['-u', auth.user, '-P', auth.pass] : [];
}

// Publishes one retained QoS 1 message with mosquitto_pub (payload on stdin,
// so its size is not limited by the command line). An empty payload clears
// the retained message.
export function publishRetained(port, topic, payload, auth) {
  return new Promise((res, rej) => {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-r', '-t', topic, ...authArgs(auth)];
    const empty = payload === '';
    args.push(empty ? '-n' : '-s');
    const p = spawn('mosquitto_pub', args, { stdio: [empty ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`mosquitto_pub ${topic} exited ${code}: ${err}`))));
    if (!empty) {
      // A mosquitto_pub that fails early closes its stdin: its exit status
      // tells why, the EPIPE says nothing more.
      p.stdin.on('error', () => {});
      p.stdin.end(payload);
    }
  });
}

export async function publishAll(port, msgs, auth) {
  for (const [topic, payload] of msgs) await publishRetained(port, topic, payload, auth);
}

// Reads the retained stats and status of a ward from a broker (the "live"
// source: whatever the aggregator published). Returns the same shape as
// fixture.mjs makeStats(): {ward, khoms, teams, status}.
export function readRetained(port, ward, auth, waitSeconds = 2) {
  const base = `kdc/v1/${ward}/`;
  const args = ['-h', '127.0.0.1', '-p', String(port), '-v', '--retained-only', '-W', String(waitSeconds),
    '-t', base + 'stats/#', '-t', base + 'status/aggregator', ...authArgs(auth)];
  const r = spawnSync('mosquitto_sub', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  // -W ends with exit status 27 when the time is up: that is the normal end.
  if (r.status !== 0 && r.status !== 27) throw new Error(`mosquitto_sub exited ${r.status}: ${r.stderr}`);
  const stats = { ward: null, khoms: {}, teams: {}, status: null };
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const topic = line.slice(0, sp), json = JSON.parse(line.slice(sp + 1));
    const rest = topic.slice(base.length).split('/');
    if (rest[0] === 'status') stats.status = json;
    else if (rest[1] === 'ward') stats.ward = json;
    else if (rest[1] === 'khom') stats.khoms[rest[2]] = json;
    else if (rest[1] === 'team') stats.teams[rest[2]] = json;
  }
  return stats;
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.md': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml' };

// A tiny static server on 127.0.0.1 for when the broker under test does not
// serve the dashboard itself. Returns {port, close()}.
export async function serveStatic(root, port) {
  const top = resolve(root);
  const srv = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(top, path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(top + sep) || !existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((res) => srv.listen(port, '127.0.0.1', res));
  return { port, close: () => new Promise((res) => srv.close(res)) };
}

// Loads playwright-core and checks that Chromium exists. Prints why and
// exits 1 when either is missing: a browser test that cannot run must fail,
// not pass silently.
export async function loadPlaywright() {
  if (!existsSync(CHROMIUM)) {
    console.log(`SKIPPED, counted as a failure: Chromium not found at ${CHROMIUM} ` +
      '(apt-get install -y chromium, or set CHROMIUM_PATH)');
    process.exit(1);
  }
  try {
    return await import('playwright-core');
  } catch (e) {
    console.log('SKIPPED, counted as a failure: npm package playwright-core is missing ' +
      `(run "npm ci" in ${here}): ${e.message}`);
    process.exit(1);
  }
}

export async function launchBrowser(pw) {
  return pw.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}

// Compares the page with stats ({ward, khoms, teams}) and returns a list of
// differences (empty when the page shows exactly the JSON). Expected texts are
// formatted with the browser's own Intl for `locale`, independently of the
// dashboard's code. Percentages are worked out here from the counts of the
// JSON (numerator and denominator, never the JSON's rounded `current`), to
// one decimal rounded down in exact integer arithmetic, so that a share below
// a target never shows as reaching it (158 of 186: 84.9 %, not 85 %). Times
// and "days left" use the ward's local time from utc_offset_min.
export async function pageProblems(page, stats, locale) {
  return page.evaluate(({ stats, locale }) => {
    const out = [];
    const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    const pf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
    const cf = new Intl.NumberFormat(locale, { style: 'currency', currency: 'VND' });
    const df = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
    const int = (n) => nf.format(n);
    const gf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 2 });
    const goal = (p) => gf.format(p / 100);
    // tenths of a percent, rounded down, in BigInt: exact whatever the counts
    const tenths = (n, d) => Number((BigInt(n) * 1000n) / BigInt(d));
    const share = (n, d) => pf.format(tenths(n, d) / 1000);
    const day = (s) => df.format(new Date(s + 'T00:00:00Z'));
    const txt = (sel, root) => { const e = (root || document).querySelector(sel); return e ? e.textContent.trim() : null; };
    const eq = (what, got, want) => {
      if (got !== want) out.push(`${what}: page shows ${JSON.stringify(got)}, JSON gives ${JSON.stringify(want)}`);
    };
    const has = (what, got, want) => {
      if (got === null || !got.includes(want)) out.push(`${what}: page shows ${JSON.stringify(got)}, expected to contain ${JSON.stringify(want)}`);
    };
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const w = stats.ward;
    if (!w) return ['the JSON has no ward snapshot'];

    eq('ward snapshot seq', document.body.dataset.wardSeq, String(w.seq));
    eq('ward name', txt('#ward-name'), w.ward_name);

    // Headline targets.
    eq('number of target cards', document.querySelectorAll('#targets article.target').length, w.targets.length);
    for (const tg of w.targets) {
      const a = document.querySelector(`#targets article[data-indicator="${tg.indicator}"]`);
      if (!a) { out.push(`no card for target ${tg.indicator}`); continue; }
      eq(`${tg.indicator} current`, txt('[data-f=current]', a), share(tg.value, tg.denominator));
      // below the target in the counts: the number shown is below it too
      const met = tg.value * 100 >= tg.percent * tg.denominator;
      if (!met && tenths(tg.value, tg.denominator) >= tg.percent * 10) {
        out.push(`${tg.indicator}: the fixture's count is not below its target: bad test data`);
      }
      const digits = (txt('[data-f=current]', a) || '').replace(/[^\d,.]/g, '');
      const shownNum = Number(locale === 'vi-VN' ? digits.replace(/\./g, '').replace(',', '.') : digits.replace(/,/g, ''));
      if (!met && !(shownNum < tg.percent)) out.push(`${tg.indicator}: ${tg.value} of ${tg.denominator} is below ${tg.percent} % but the page shows ${shownNum} %`);
      // days left or overdue, from the ward's local date of as_of
      if (!met) {
        const localDay = new Date(w.as_of_ms + w.utc_offset_min * 60000).toISOString().slice(0, 10);
        const left = Math.round((Date.parse(tg.deadline) - Date.parse(localDay)) / 86400000);
        const vi = locale === 'vi-VN';
        const want = left >= 0 ? (vi ? `còn ${int(left)} ngày` : `${int(left)} days left`)
          : (vi ? `quá hạn ${int(-left)} ngày` : `${int(-left)} days overdue`);
        has(`${tg.indicator} days left (local date ${localDay})`, txt('[data-f=target]', a), want);
      }
      eq(`${tg.indicator} value/denominator`, txt('[data-f=count]', a), `${int(tg.value)} / ${int(tg.denominator)}`);
      has(`${tg.indicator} target percent`, txt('[data-f=target]', a), goal(tg.percent));
      has(`${tg.indicator} deadline`, txt('[data-f=target]', a), day(tg.deadline));
      const reached = typeof tg.met === 'boolean' ? tg.met : tg.current >= tg.percent;
      eq(`${tg.indicator} state`, a.dataset.state, reached ? 'done' : tg.on_track ? 'ok' : 'bad');
      if (!reached && tg.projected) has(`${tg.indicator} projected`, txt('[data-f=projected]', a), day(tg.projected));
      if (!reached && typeof tg.gained_30d === 'number') {
        has(`${tg.indicator} gained in 30 days`, txt('[data-f=projected]', a), int(tg.gained_30d));
      }
      if (!reached && !tg.projected && /\d\d\/\d\d\/\d{4}/.test(txt('[data-f=projected]', a) || '')) {
        out.push(`${tg.indicator}: projected is null but the page shows a date`);
      }
      eq(`${tg.indicator} bar width`, a.querySelector('.bar .fill').style.width, `${Math.min(1000, tenths(tg.value, tg.denominator)) / 10}%`);
      eq(`${tg.indicator} target mark`, a.querySelector('.bar .marker').style.left, `${tg.percent}%`);
    }

    // Overview cards.
    const cardIs = (key, value, subParts) => {
      const c = document.querySelector(`#overview [data-f="${key}"]`);
      if (!c) { out.push(`no overview card ${key}`); return; }
      eq(`card ${key} value`, txt('.card-value', c), value);
      for (const p of subParts) has(`card ${key} detail`, txt('.card-sub', c), p);
    };
    const hh = w.households, pp = w.people_15plus;
    cardIs('hh_visited', int(hh.visited), [int(hh.total), share(hh.visited, hh.total)]);
    cardIs('hh_reached', int(hh.reached), [int(hh.total), share(hh.reached, hh.total)]);
    cardIs('p_account', int(pp.with_payment_account), [int(pp.total), share(pp.with_payment_account, pp.total)]);
    cardIs('p_regular', int(pp.paying_regularly), [int(pp.total), share(pp.paying_regularly, pp.total)]);
    cardIs('payments', cf.format(w.payments.amount_vnd_30d), [int(w.payments.count_30d)]);
    // the ward's local time: its offset, then shown as UTC
    const tf = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
    const local = (iso) => tf.format(new Date(Date.parse(iso) + w.utc_offset_min * 60000));
    cardIs('latest', w.latest_event ? local(w.latest_event) : '—', [int(w.stored_total), int(w.rejected_total)]);
    // events.voided: shown with the event counts when the snapshot has it
    // (older aggregators: nothing)
    const voidedEl = document.getElementById('voided');
    const vd = w.events && typeof w.events.voided === 'number' ? w.events.voided : null;
    if (vd === null) {
      if (voidedEl && !voidedEl.hidden && voidedEl.offsetHeight > 0) out.push(`no events.voided in the JSON, but the page shows "${voidedEl.textContent}"`);
    } else {
      if (!voidedEl || voidedEl.hidden || voidedEl.offsetHeight === 0) out.push('events.voided is not shown');
      else has('voided events', voidedEl.textContent, locale === 'vi-VN' ? `${int(vd)} sự kiện đã hủy` : `${int(vd)} corrected (voided)`);
      has('card latest: voided', txt('#overview [data-f="latest"] .card-sub'), int(vd));
    }

    // Khóm table.
    const khomIds = Object.keys(stats.khoms);
    eq('khóm rows', document.querySelectorAll('#khoms tbody tr').length, khomIds.length);
    for (const id of khomIds) {
      const k = stats.khoms[id];
      const tr = document.querySelector(`#khoms tbody tr[data-khom="${id}"]`);
      if (!tr) { out.push(`no table row for khóm ${id}`); continue; }
      has(`khóm ${id} name`, txt('[data-col=khom]', tr), k.name);
      eq(`khóm ${id} households`, txt('[data-col=households]', tr), int(k.households.total));
      for (const [col, n, d] of [['visited', k.households.visited, k.households.total],
        ['reached', k.households.reached, k.households.total],
        ['paying', k.people_15plus.paying_regularly, k.people_15plus.total]]) {
        eq(`khóm ${id} ${col} count`, txt(`[data-col=${col}] .frac`, tr), `${int(n)}/${int(d)}`);
        eq(`khóm ${id} ${col} rate`, txt(`[data-col=${col}] .rate`, tr), share(n, d));
      }
      if (k.latest_event) has(`khóm ${id} last activity`, txt('[data-col=last]', tr), local(k.latest_event).slice(-4));
    }

    // Daily charts: the last 60 days of the ward series.
    for (const kind of ['visit', 'account', 'payment']) {
      const fig = document.querySelector(`#charts figure[data-kind="${kind}"]`);
      const want = w.series[kind].slice(-60);
      const bars = Array.from(fig.querySelectorAll('rect.chart-bar')).map((r) => Number(r.dataset.value));
      eq(`${kind} chart bars`, JSON.stringify(bars), JSON.stringify(want));
      eq(`${kind} chart total`, fig.dataset.total, String(sum(want)));
      has(`${kind} chart caption`, txt('.chart-total', fig), int(sum(want)));
    }

    // Teams: last 7 days, all kinds, aligned on the latest series day.
    const dayMs = 86400000;
    const teamIds = Object.keys(stats.teams);
    let end = 0;
    for (const id of teamIds) {
      const s = stats.teams[id].series;
      end = Math.max(end, Date.parse(s.start + 'T00:00:00Z') + (s.days - 1) * dayMs);
    }
    eq('team cards', document.querySelectorAll('#teams article.team').length, teamIds.length);
    for (const id of teamIds) {
      const s = stats.teams[id].series;
      const want = [];
      for (let i = 6; i >= 0; i--) {
        const idx = Math.round((end - i * dayMs - Date.parse(s.start + 'T00:00:00Z')) / dayMs);
        want.push(idx >= 0 && idx < s.days ? s.visit[idx] + s.account[idx] + s.payment[idx] + s.service[idx] : 0);
      }
      const a = document.querySelector(`#teams article[data-team="${id}"]`);
      if (!a) { out.push(`no card for team ${id}`); continue; }
      const bars = Array.from(a.querySelectorAll('rect.chart-bar')).map((r) => Number(r.dataset.value));
      eq(`team ${id} 7-day bars`, JSON.stringify(bars), JSON.stringify(want));
      has(`team ${id} 7-day total`, txt('[data-f=total]', a), int(sum(want)));
      has(`team ${id} devices`, txt('.team-meta', a), int(stats.teams[id].devices.length));
    }

    // Activity, accounts, services.
    for (const kind of ['visit', 'account', 'payment', 'service']) {
      for (const win of ['24h', '7d', '30d', 'total']) {
        eq(`events ${kind} ${win}`, txt(`#activity tr[data-kind="${kind}"] td[data-win="${win}"]`), int(w.events[kind][win]));
      }
    }
    for (const [k, v] of Object.entries(w.accounts)) eq(`accounts ${k}`, txt(`#accounts [data-key="${k}"] dd`), int(v));
    for (const [k, v] of Object.entries(w.services)) eq(`services ${k}`, txt(`#services [data-key="${k}"] dd`), int(v));
    return out;
  }, { stats, locale });
}

// Waits until the page shows stats exactly, or throws with the differences.
// stats may be an async function returning the current stats (the live
// source, re-read while the aggregator keeps publishing).
export async function expectPage(page, stats, locale, ms = 30000) {
  const until = Date.now() + ms;
  let problems = [];
  while (Date.now() < until) {
    const s = typeof stats === 'function' ? await stats() : stats;
    problems = await pageProblems(page, s, locale);
    if (problems.length === 0) return;
    await sleep(150);
  }
  throw new Error(`the page does not show the stats JSON after ${ms} ms:\n  ${problems.slice(0, 25).join('\n  ')}`);
}

// Compares the households view with one khóm's household list (the JSON as
// published) under filter `filter` ('all' or a status), and returns the
// differences. The counts per status and the households a filter keeps are
// worked out here from the JSON's list (not with the page's code); the
// status and next-step words are this test's own; times are the ward's
// local ones (offsetMin, the snapshot's utc_offset_min).
export async function householdProblems(page, list, locale, filter, offsetMin) {
  return page.evaluate(({ list, locale, filter, offsetMin }) => {
    const out = [];
    const vi = locale === 'vi-VN';
    const WORDS = vi
      ? { not_visited: 'Chưa thăm', not_home: 'Vắng nhà', declined: 'Từ chối', surveyed: 'Đã khảo sát', reached: 'Đã tiếp cận', all: 'Tất cả' }
      : { not_visited: 'Not visited', not_home: 'Not at home', declined: 'Declined', surveyed: 'Surveyed', reached: 'Reached', all: 'All' };
    const NEXT = vi
      ? { visit: 'Đến thăm', revisit: 'Thăm lại', survey: 'Khảo sát', open_account: 'Hướng dẫn mở tài khoản',
        payment_account: 'Mở tài khoản thanh toán', pay_cashless: 'Hướng dẫn thanh toán không tiền mặt', none: 'Không cần làm thêm' }
      : { visit: 'Visit', revisit: 'Visit again', survey: 'Survey', open_account: 'Help open an account',
        payment_account: 'Open a payment account', pay_cashless: 'Help pay cashless', none: 'Nothing more to do' };
    const CODES = { not_visited: '1', not_home: '2', declined: '3', surveyed: '4', reached: '5' };
    const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    const int = (n) => nf.format(n);
    const tf = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
    const local = (iso) => tf.format(new Date(Date.parse(iso) + offsetMin * 60000));
    const txt = (sel, root) => { const e = (root || document).querySelector(sel); return e ? e.textContent.trim() : null; };
    const eq = (what, got, want) => {
      if (got !== want) out.push(`${what}: page shows ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    };
    const has = (what, got, want) => {
      if (got === null || !got.includes(want)) out.push(`${what}: page shows ${JSON.stringify(got)}, expected to contain ${JSON.stringify(want)}`);
    };
    const box = document.getElementById('households');
    eq('households view khóm', box.dataset.khom, list.khom);
    eq('households view filter', box.dataset.filter, filter);
    const count = {};
    for (const s of Object.keys(CODES)) count[s] = list.households.filter((e) => e.status === s).length;
    count.all = list.households.length;
    for (const s of ['all', ...Object.keys(CODES)]) {
      const chip = document.querySelector(`#hh-counts button[data-status="${s}"]`);
      if (!chip || chip.offsetHeight === 0) { out.push(`no ${s} chip`); continue; }
      eq(`${s} count`, txt('[data-f=count]', chip), int(count[s]));
      has(`${s} chip words`, chip.textContent, WORDS[s]);
      if (s !== 'all') eq(`${s} chip code`, txt('.hh-code', chip), CODES[s]);
      eq(`${s} chip pressed`, chip.getAttribute('aria-pressed'), s === filter ? 'true' : 'false');
    }
    const want = list.households.filter((e) => filter === 'all' || e.status === filter)
      .map((e) => e.household).sort();
    const rows = Array.from(document.querySelectorAll('#hh-list tbody tr'));
    const shown = rows.map((tr) => tr.dataset.household).sort();
    eq(`households listed for ${filter}`, JSON.stringify(shown), JSON.stringify(want));
    if (want.length > 0 && document.getElementById('hh-wrap').offsetHeight === 0) out.push('the household list is not visible');
    const byCode = new Map(list.households.map((e) => [e.household, e]));
    for (const tr of rows) {
      const e = byCode.get(tr.dataset.household);
      if (!e) continue;
      const code = e.household;
      has(`${code} code`, txt('[data-col=household]', tr), code);
      has(`${code} status words`, txt('[data-col=status]', tr), WORDS[e.status]);
      has(`${code} status code`, txt('[data-col=status]', tr), CODES[e.status]);
      eq(`${code} attempts`, txt('[data-col=attempts]', tr), int(e.attempts));
      eq(`${code} last attempt`, txt('[data-col=last]', tr), e.last_attempt ? local(e.last_attempt) : '—');
      eq(`${code} next step`, txt('[data-col=next]', tr), NEXT[e.next]);
      const mark = tr.querySelector('[data-f=field]');
      if (e.field_added !== !!mark) out.push(`${code}: field_added ${e.field_added} but the mark is ${mark ? 'shown' : 'absent'}`);
      if (mark) has(`${code} field mark`, mark.textContent, vi ? 'thêm tại địa bàn' : 'added in the field');
    }
    return out;
  }, { list, locale, filter, offsetMin });
}

// Waits until the households view shows `list` under `filter`, or throws.
export async function expectHouseholds(page, list, locale, filter, offsetMin, ms = 15000) {
  const until = Date.now() + ms;
  let problems = [];
  while (Date.now() < until) {
    problems = await householdProblems(page, list, locale, filter, offsetMin);
    if (problems.length === 0) return;
    await sleep(150);
  }
  throw new Error(`the households view does not show khóm ${list.khom} (${filter}) after ${ms} ms:\n  ${problems.slice(0, 25).join('\n  ')}`);
}

// Compares the closed-months section with `closed`, the kdc.closed.v1 JSON
// as published on stats/closed (null: nothing published), and `ward`, the
// live ward snapshot, and returns the differences. Months newest first; for
// each, the month, who closed it (shown literally, whatever markup it holds)
// and when (the ward's local time), and for each frozen target the official
// figure, the live one and their difference, formatted here as a reader
// expects them (the share from the counts rounded down, as the target cards;
// "+3" for three more since the close), with this test's own words.
export async function closedProblems(page, closed, ward, locale) {
  return page.evaluate(({ closed, ward, locale }) => {
    const out = [];
    const vi = locale === 'vi-VN';
    const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
      'October', 'November', 'December'];
    const LABELS = vi
      ? { households_reached: 'Hộ gia đình được tiếp cận nền tảng số',
        people_paying_regularly: 'Người từ 15 tuổi có tài khoản thanh toán và giao dịch thường xuyên',
        service_users_e_identified: 'Người dân, doanh nghiệp dùng dịch vụ công trực tuyến được định danh và xác thực điện tử',
        businesses_using_einvoice: 'Doanh nghiệp sử dụng hóa đơn điện tử' }
      : { households_reached: 'Households reached by a digital platform',
        people_paying_regularly: 'People aged 15+ with a payment account who pay regularly',
        service_users_e_identified: 'People and businesses using online public services who are e-identified',
        businesses_using_einvoice: 'Businesses using electronic invoices' };
    const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    const pf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
    const int = (n) => nf.format(n);
    const signed = (n) => (n > 0 ? '+' : '') + nf.format(n);
    const share = (n, d) => pf.format(Number((BigInt(n) * 1000n) / BigInt(d)) / 1000);
    const tf = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
    const local = (iso) => tf.format(new Date(Date.parse(iso) + ward.utc_offset_min * 60000));
    const txt = (sel, root) => { const e = (root || document).querySelector(sel); return e ? e.textContent.trim() : null; };
    const eq = (what, got, want) => {
      if (got !== want) out.push(`${what}: page shows ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    };
    const has = (what, got, want) => {
      if (got === null || !got.includes(want)) out.push(`${what}: page shows ${JSON.stringify(got)}, expected to contain ${JSON.stringify(want)}`);
    };
    const sec = document.getElementById('closed-sec');
    if (!sec) return ['the page has no closed-months section'];
    const articles = Array.from(sec.querySelectorAll('article.closed-month'));
    if (closed === null) {
      if (sec.offsetHeight > 0) out.push('nothing on stats/closed, but the closed-months section is shown');
      return out;
    }
    if (sec.offsetHeight === 0) return ['the closed-months section is not visible'];
    eq('closed-months heading', txt('h2', sec), vi ? 'Tháng đã chốt số liệu' : 'Closed months');
    if (closed.months.length === 0) {
      eq('closed months shown', articles.length, 0);
      const none = sec.querySelector('.empty');
      eq('no month closed', none && none.offsetHeight > 0 ? none.textContent : null,
        vi ? 'Chưa có tháng nào được chốt.' : 'No month closed yet.');
      return out;
    }
    const want = closed.months.slice().sort((a, b) => (a.month < b.month ? 1 : -1));
    eq('closed months, newest first', JSON.stringify(articles.map((a) => a.dataset.month)),
      JSON.stringify(want.map((m) => m.month)));
    const live = new Map(ward.targets.map((tg) => [tg.indicator, tg]));
    for (const m of want) {
      const a = sec.querySelector(`article.closed-month[data-month="${m.month}"]`);
      if (!a) continue;
      if (a.offsetHeight === 0) out.push(`month ${m.month} is not visible`);
      const [y, mm] = m.month.split('-');
      eq(`${m.month} heading`, txt('h3', a), vi ? `Tháng ${mm}/${y}` : `${MONTHS[Number(mm) - 1]} ${y}`);
      eq(`${m.month} closed by (literally)`, txt('[data-f=by] [data-f=name]', a), m.closed_by);
      has(`${m.month} closed by line`, txt('[data-f=by]', a), (vi ? 'Chốt bởi ' : 'Closed by ') + m.closed_by);
      if (a.querySelector('b, script')) out.push(`${m.month}: the name's markup became elements: ${a.querySelector('[data-f=by]').innerHTML}`);
      has(`${m.month} closed at (ward time)`, txt('[data-f=by]', a), (vi ? 'lúc ' : 'on ') + local(m.closed_at));
      const rows = Array.from(a.querySelectorAll('tbody tr'));
      eq(`${m.month} target rows`, JSON.stringify(rows.map((r) => r.dataset.indicator)),
        JSON.stringify(m.targets.map((tg) => tg.indicator)));
      for (const tg of m.targets) {
        const tr = a.querySelector(`tbody tr[data-indicator="${tg.indicator}"]`);
        if (!tr) continue;
        const what = `${m.month} ${tg.indicator}`;
        eq(`${what} label`, txt('th', tr), LABELS[tg.indicator]);
        eq(`${what} official share`, txt('[data-col=official] .rate', tr), share(tg.value, tg.denominator));
        eq(`${what} official counts`, txt('[data-col=official] .frac', tr), `${int(tg.value)} / ${int(tg.denominator)}`);
        const l = live.get(tg.indicator);
        eq(`${what} live share`, txt('[data-col=live] .rate', tr), share(l.value, l.denominator));
        eq(`${what} live counts`, txt('[data-col=live] .frac', tr), `${int(l.value)} / ${int(l.denominator)}`);
        const dv = l.value - tg.value, dd = l.denominator - tg.denominator;
        eq(`${what} difference`, txt('[data-col=diff]', tr), dv === 0 && dd === 0 ? (vi ? 'Không chênh lệch' : 'No difference')
          : signed(dv) + (dd !== 0 ? ` / ${signed(dd)}` : ''));
      }
    }
    return out;
  }, { closed, ward, locale });
}

// Waits until the closed-months section shows `closed` beside `ward`, or throws.
export async function expectClosed(page, closed, ward, locale, ms = 15000) {
  const until = Date.now() + ms;
  let problems = [];
  while (Date.now() < until) {
    problems = await closedProblems(page, closed, ward, locale);
    if (problems.length === 0) return;
    await sleep(150);
  }
  throw new Error(`the closed months do not show stats/closed after ${ms} ms:\n  ${problems.slice(0, 25).join('\n  ')}`);
}
