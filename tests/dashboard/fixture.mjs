// Stats snapshots shaped exactly like the aggregator's retained JSON
// (schema kdc.stats.v1), made up deterministically from a seed so that the
// browser test has something to compare the page against without the C
// aggregator. Ward figures are the sums of the khóm figures and the ward
// series is the sum of the team series, as the real aggregator's would be.

const KINDS = ['visit', 'account', 'payment', 'service'];
const DAY_MS = 86400000;

// Small deterministic generator (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function day(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// The aggregator's `current`: two decimals, rounded down (docs/stats.md).
function floor2(value, denominator) {
  return Math.floor((10000 * value) / denominator) / 100;
}

function sum(a) {
  return a.reduce((x, y) => x + y, 0);
}

function windowCounts(series, kind, now) {
  const a = series[kind];
  const last = (n) => sum(a.slice(-n));
  return { '24h': a[a.length - 1], '7d': last(7), '30d': last(30), total: sum(a) + (kind === 'visit' ? 40 : 7) };
}

// Builds {ward, khoms: {code: snap}, teams: {code: snap}, status} for ward
// `ward` as of `nowMs`. `seq` is the snapshot number of every scope; `bump`
// adds activity so a second call shows different figures.
export function makeStats({ ward = '31975', wardName = 'Phường 1', nowMs = Date.now(), seq = 1, bump = 0, seed = 7,
  hhTarget = 85, voided = true } = {}) {
  const r = rng(seed);
  const asOf = new Date(nowMs).toISOString();
  const start = day(nowMs - 59 * DAY_MS);
  const khomCodes = ['1', '2', '3', '4', '5', '6', '7', '10'];
  const households = [142, 231, 168, 305, 97, 186, 174, 259];
  const teamCodes = ['T1', 'T2', 'T3', 'T4'];

  const base = (scope, id, name) => ({
    schema: 'kdc.stats.v1', ward, ward_name: wardName, scope, id, name, seq,
    as_of: asOf, as_of_ms: nowMs,
  });

  // Team activity: 60 days, quiet at first, busier lately.
  const teams = {};
  const wardSeries = { start, days: 60, visit: [], account: [], payment: [], service: [] };
  for (let i = 0; i < 60; i++) for (const k of KINDS) wardSeries[k][i] = 0;
  teamCodes.forEach((code, ti) => {
    const series = { start, days: 60 };
    for (const k of KINDS) series[k] = [];
    for (let i = 0; i < 60; i++) {
      const ramp = 0.3 + 0.7 * (i / 59);
      const weekend = ((new Date(Date.parse(start) + i * DAY_MS).getUTCDay()) % 6 === 0) ? 0.4 : 1;
      const v = Math.round((6 + 8 * r()) * ramp * weekend * (1 + ti * 0.15));
      const a = Math.round(v * (0.5 + 0.4 * r()));
      const p = Math.round(v * (0.6 + 0.8 * r()) * ramp);
      const s = Math.round(v * 0.2 * r());
      series.visit.push(v + (i === 59 ? bump : 0));
      series.account.push(a + (i === 59 ? Math.floor(bump / 2) : 0));
      series.payment.push(p + (i === 59 ? bump * 2 : 0));
      series.service.push(s);
    }
    for (const k of KINDS) for (let i = 0; i < 60; i++) wardSeries[k][i] += series[k][i];
    const devices = [1, 2, 3].slice(0, 2 + (ti % 2)).map((d) => ({
      device: `D${ti + 1}${d}`, team: code,
      last_event: new Date(nowMs - (ti * 37 + d * 11) * 60000).toISOString(),
      events: 150 + Math.round(300 * r()),
    }));
    teams[code] = fill(base('team', code, `Tổ ${code.slice(1)}`), series, devices, r, nowMs, null, voided);
  });

  const khoms = {};
  khomCodes.forEach((code, i) => {
    const total = households[i];
    const visited = Math.min(total, Math.round(total * (0.35 + 0.6 * r())) + bump);
    const surveyed = Math.round(visited * 0.9);
    const reached = Math.min(visited, Math.round(visited * (0.45 + 0.45 * r())) + bump);
    const people = Math.round(total * 2.7);
    const withAcc = Math.round(people * (0.2 + 0.5 * r())) + bump;
    const paying = Math.round(withAcc * (0.4 + 0.5 * r())) + bump;
    const snap = base('khom', code, `Khóm ${code}`);
    snap.households = { total, visited, surveyed, reached };
    snap.people_15plus = { total: people, with_payment_account: withAcc, paying_regularly: paying };
    snap.latest_event = new Date(nowMs - Math.round(r() * 3 * DAY_MS)).toISOString();
    khoms[code] = snap;
  });

  const wardSnap = fill(base('ward', null, wardName), wardSeries,
    Object.values(teams).flatMap((t) => t.devices), r, nowMs, null, voided);
  wardSnap.households = {
    total: sum(khomCodes.map((c) => khoms[c].households.total)),
    visited: sum(khomCodes.map((c) => khoms[c].households.visited)),
    surveyed: sum(khomCodes.map((c) => khoms[c].households.surveyed)),
    reached: sum(khomCodes.map((c) => khoms[c].households.reached)),
  };
  wardSnap.people_15plus = {
    total: sum(khomCodes.map((c) => khoms[c].people_15plus.total)),
    with_payment_account: sum(khomCodes.map((c) => khoms[c].people_15plus.with_payment_account)),
    paying_regularly: sum(khomCodes.map((c) => khoms[c].people_15plus.paying_regularly)),
  };
  // Khóm snapshots carry every field too; fill them from their share.
  for (const code of khomCodes) {
    const k = khoms[code];
    const share = k.households.total / wardSnap.households.total;
    const s = { start, days: 60 };
    for (const kind of KINDS) s[kind] = wardSeries[kind].map((x) => Math.round(x * share));
    const hh = k.households, pp = k.people_15plus, le = k.latest_event;
    Object.assign(k, fill(base('khom', code, `Khóm ${code}`), s, [], r, nowMs, le, voided));
    k.households = hh;
    k.people_15plus = pp;
  }

  const hh = wardSnap.households, pp = wardSnap.people_15plus;
  // the programme's other two targets: people and businesses using online
  // public services who are e-identified, businesses issuing e-invoices
  wardSnap.service_users = { total: 233 + bump, e_identified: 171 + bump };
  wardSnap.businesses = { total: 20, using_einvoice: 7 };
  const su = wardSnap.service_users, bz = wardSnap.businesses;
  wardSnap.targets = [
    target('households_reached', hhTarget, '2026-12-31', hh.reached, hh.total, true, day(nowMs + 20 * DAY_MS)),
    target('people_paying_regularly', 80, '2025-12-31', pp.paying_regularly, pp.total, false, null),
    target('service_users_e_identified', 100, '2025-12-31', su.e_identified, su.total, false, null),
    target('businesses_using_einvoice', 100, '2025-12-31', bz.using_einvoice, bz.total, false, day(nowMs + 90 * DAY_MS)),
  ];
  for (const k of Object.values(khoms)) {
    k.targets = [target('households_reached', 85, '2026-12-31', k.households.reached, k.households.total, false, day(nowMs + 400 * DAY_MS))];
  }

  const status = { status: 'online', ward, since: new Date(nowMs - 3 * 3600 * 1000).toISOString(), version: '0.1.0' };
  return { ward: wardSnap, khoms, teams, status };
}

function target(indicator, percent, deadline, value, denominator, onTrack, projected) {
  const met = value * 100 >= percent * denominator;
  return { indicator, percent, deadline, current: floor2(value, denominator), value, denominator,
    gained_30d: Math.round(value / 12), projected: met ? day(Date.parse(deadline)) : projected,
    on_track: met || onTrack, met };
}

// voided: whether the snapshot has events.voided (aggregators from the
// household register on); older ones do not.
function fill(snap, series, devices, r, nowMs, latest, voided) {
  const evs = {};
  for (const k of KINDS) evs[k] = windowCounts(series, k, nowMs);
  const payCount30 = evs.payment['30d'];
  snap.households = { total: 0, visited: 0, surveyed: 0, reached: 0 };
  snap.people_15plus = { total: 0, with_payment_account: 0, paying_regularly: 0 };
  snap.accounts = {
    public_service_portal: Math.round(sum(series.account) * 0.35),
    vneid_level2: Math.round(sum(series.account) * 0.3),
    provincial_app: Math.round(sum(series.account) * 0.2),
    payment: Math.round(sum(series.account) * 0.15),
  };
  snap.events = evs;
  const svc = evs.service['30d'];
  snap.services = {
    birth_registration: Math.round(svc * 0.15), marital_status: Math.round(svc * 0.1),
    medical_booking: Math.round(svc * 0.4), field_report: Math.round(svc * 0.25),
    other: 0,
  };
  snap.services.other = svc - snap.services.birth_registration - snap.services.marital_status -
    snap.services.medical_booking - snap.services.field_report;
  snap.payments = {
    count_30d: payCount30, amount_vnd_30d: payCount30 * 185000 + Math.round(r() * 1000) * 1000,
    count_total: evs.payment.total, amount_vnd_total: evs.payment.total * 181000,
  };
  snap.targets = [];
  snap.series = series;
  snap.devices = devices;
  snap.stored_total = sum(KINDS.map((k) => evs[k].total));
  // stored events voided by a correction: in no other figure
  if (voided) evs.voided = 1 + Math.floor(snap.stored_total / 97);
  snap.rejected_total = Math.round(r() * 12);
  snap.latest_event = latest || new Date(nowMs - 4 * 60000).toISOString();
  snap.regular_window_days = 30;
  snap.utc_offset_min = 420;
  snap.unassigned = false;
  return snap;
}

// Every retained message of a stats set as [topic, payload text] pairs.
export function messages(stats, ward) {
  const base = `kdc/v1/${ward}/`;
  const out = [[base + 'status/aggregator', JSON.stringify(stats.status)]];
  for (const [k, s] of Object.entries(stats.khoms)) out.push([base + 'stats/khom/' + k, JSON.stringify(s)]);
  for (const [t, s] of Object.entries(stats.teams)) out.push([base + 'stats/team/' + t, JSON.stringify(s)]);
  out.push([base + 'stats/ward', JSON.stringify(stats.ward)]);
  return out;
}

const HH_STATUSES = ['not_visited', 'not_home', 'declined', 'surveyed', 'reached'];

// One khóm's household list as the aggregator publishes it (schema
// kdc.households.v1, retained on kdc/v1/{ward}/households/khom/{khom}):
// `counts` gives how many households of each status, listed in a shuffled
// (deterministic) order. Not-at-home households have 1-3 attempts and a last
// attempt; the first `fieldAdded` households of the shuffle were added in
// the field. The JSON's own `counts` agree with the list.
export function makeHouseholds({ ward = '31975', khom, name = `Khóm ${khom}`, counts, nowMs = Date.now(), seq = 1,
  seed = 5, fieldAdded = 2, register = true }) {
  const r = rng(seed);
  const statuses = [];
  for (const s of HH_STATUSES) for (let i = 0; i < (counts[s] || 0); i++) statuses.push(s);
  for (let i = statuses.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [statuses[i], statuses[j]] = [statuses[j], statuses[i]];
  }
  const next = { not_visited: 'visit', not_home: 'revisit', declined: 'none', surveyed: 'open_account' };
  const reachedNext = ['payment_account', 'pay_cashless', 'none'];
  const households = statuses.map((status, i) => {
    const attempts = status === 'not_home' ? 1 + Math.floor(r() * 3) : 0;
    // times spread over the last days, some in the ward's evening (another
    // local date than UTC's)
    const last = status === 'not_visited' ? null
      : new Date(nowMs - Math.floor(r() * 5 * 86400) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      household: 'H' + String(i + 1).padStart(4, '0'), status, attempts, last_attempt: last,
      next: status === 'reached' ? reachedNext[Math.floor(r() * 3)] : next[status],
      field_added: i < fieldAdded,
    };
  });
  const c = { total: households.length, field_added: Math.min(fieldAdded, households.length) };
  for (const s of HH_STATUSES) c[s] = counts[s] || 0;
  return { schema: 'kdc.households.v1', ward, khom, name, seq, as_of: new Date(nowMs).toISOString(), as_of_ms: nowMs,
    register, counts: c, households };
}
