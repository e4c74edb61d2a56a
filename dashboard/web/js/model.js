// What the dashboard knows, without any DOM: topic routing, snapshot checks,
// the khóm table rows and their sorting, the khóms' household lists, the
// teams' last 7 days, and whether the data shown can be trusted (connection,
// aggregator status, age).
// Classic script: see format.js for why.
(function (kdc) {
  'use strict';

  const SCHEMA = 'kdc.stats.v1';
  const CODE_RE = /^[A-Za-z0-9_-]{1,64}$/;
  const KINDS = ['visit', 'account', 'payment', 'service'];
  const HH_SCHEMA = 'kdc.households.v1';
  const CLOSED_SCHEMA = 'kdc.closed.v1';
  const MONTH_RE = /^\d{4}-(0[1-9]|1[0-2])$/;
  // Household statuses in campaign order; a status's code on the page is its
  // place here (1..5, as in the worklist's HouseholdStatus), so that a status
  // reads without its colour too.
  const HH_STATUSES = ['not_visited', 'not_home', 'declined', 'surveyed', 'reached'];
  const HH_NEXT = ['visit', 'revisit', 'survey', 'open_account', 'payment_account', 'pay_cashless', 'none'];

  function isCode(s) {
    return typeof s === 'string' && CODE_RE.test(s);
  }

  // stats/closed is an exact topic, not under a wildcard: RabbitMQ delivers
  // retained messages to exact subscriptions only.
  function topics(ward) {
    const base = 'kdc/v1/' + ward + '/';
    return [base + 'stats/ward', base + 'stats/khom/+', base + 'stats/team/+',
      base + 'households/khom/+', base + 'status/aggregator', base + 'stats/closed'];
  }

  // Topic -> {scope: 'ward'|'khom'|'team'|'households'|'status'|'closed', id}
  // or null when the topic is not one the dashboard reads for this ward.
  function route(topic, ward) {
    const p = topic.split('/');
    if (p.length < 5 || p[0] !== 'kdc' || p[1] !== 'v1' || p[2] !== ward) return null;
    if (p[3] === 'stats' && p[4] === 'ward' && p.length === 5) return { scope: 'ward', id: null };
    if (p[3] === 'stats' && p[4] === 'closed' && p.length === 5) return { scope: 'closed', id: null };
    if (p[3] === 'stats' && (p[4] === 'khom' || p[4] === 'team') && p.length === 6 && isCode(p[5])) {
      return { scope: p[4], id: p[5] };
    }
    if (p[3] === 'households' && p[4] === 'khom' && p.length === 6 && isCode(p[5])) {
      return { scope: 'households', id: p[5] };
    }
    if (p[3] === 'status' && p[4] === 'aggregator' && p.length === 5) return { scope: 'status', id: null };
    return null;
  }

  function get(obj, path, dflt) {
    let o = obj;
    for (const k of path.split('.')) {
      if (o === null || typeof o !== 'object' || !(k in o)) return dflt;
      o = o[k];
    }
    return o === undefined || o === null ? dflt : o;
  }

  // Parses one stats payload. Returns {snap} or {error: 'why'}; never throws,
  // because whatever arrives on the broker must not break the page.
  // Parses a JSON payload of a ward topic: an object of `schema` whose ward,
  // when it says one, is `ward`. Returns {j} or {error: 'why'}; never throws.
  function parseEnvelope(text, schema, ward) {
    let j;
    try {
      j = JSON.parse(text);
    } catch (e) {
      return { error: 'not JSON: ' + e.message };
    }
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return { error: 'not an object' };
    if (j.schema !== schema) return { error: 'schema is ' + JSON.stringify(j.schema) + ', expected ' + schema };
    if (j.ward !== undefined && j.ward !== null && String(j.ward) !== ward) return { error: 'ward ' + j.ward + ' on ward ' + ward + ' topic' };
    return { j: j };
  }

  function parseSnapshot(text, ward, scope) {
    const p = parseEnvelope(text, SCHEMA, ward);
    if (p.error) return p;
    const snap = p.j;
    if (snap.scope !== undefined && snap.scope !== scope) return { error: 'scope ' + snap.scope + ' on a ' + scope + ' topic' };
    return { snap: snap };
  }

  // Parses one khóm's household list (kdc.households.v1) from the topic of
  // khóm `khom`. Returns {list: {khom, name, register, asOf, households: [{household,
  // status, attempts, lastAttempt, next, fieldAdded}]}} or {error}; never
  // throws. Entries without a household code or with an unknown status are
  // left out (and said in `dropped`).
  function parseHouseholds(text, ward, khom) {
    const p = parseEnvelope(text, HH_SCHEMA, ward);
    if (p.error) return p;
    const j = p.j;
    if (j.khom !== undefined && j.khom !== null && String(j.khom) !== khom) return { error: 'khóm ' + j.khom + ' on khóm ' + khom + ' topic' };
    if (!Array.isArray(j.households)) return { error: 'no households list' };
    const out = [];
    let dropped = 0;
    for (const e of j.households) {
      if (!e || typeof e !== 'object' || typeof e.household !== 'string' || e.household === '' ||
        !HH_STATUSES.includes(e.status)) {
        dropped++;
        continue;
      }
      out.push({
        household: e.household,
        status: e.status,
        attempts: typeof e.attempts === 'number' && Number.isFinite(e.attempts) ? e.attempts : null,
        lastAttempt: typeof e.last_attempt === 'string' ? e.last_attempt : null,
        next: HH_NEXT.includes(e.next) ? e.next : null,
        fieldAdded: e.field_added === true,
      });
    }
    out.sort((a, b) => compareCodes(a.household, b.household));
    return {
      list: {
        khom: khom,
        name: typeof j.name === 'string' && j.name !== '' ? j.name : null,
        register: j.register === true,
        asOf: j.as_of_ms || j.as_of || null,
        households: out,
      },
      dropped: dropped,
    };
  }

  // Parses the closed months of a ward (kdc.closed.v1, on stats/closed).
  // Returns {months: [{month, closedBy, closedAt, sha256, targets: [{indicator,
  // percent, value, denominator}]}]} newest first, or {error}; never throws.
  // Months without a valid "YYYY-MM" are left out (and said in `dropped`).
  function parseClosed(text, ward) {
    const p = parseEnvelope(text, CLOSED_SCHEMA, ward);
    if (p.error) return p;
    const j = p.j;
    if (!Array.isArray(j.months)) return { error: 'no months list' };
    const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    const months = [];
    let dropped = 0;
    for (const m of j.months) {
      if (!m || typeof m !== 'object' || typeof m.month !== 'string' || !MONTH_RE.test(m.month)) {
        dropped++;
        continue;
      }
      const targets = [];
      for (const tg of Array.isArray(m.targets) ? m.targets : []) {
        if (!tg || typeof tg !== 'object' || typeof tg.indicator !== 'string' || tg.indicator === '') continue;
        targets.push({ indicator: tg.indicator, percent: num(tg.percent), value: num(tg.value), denominator: num(tg.denominator) });
      }
      months.push({
        month: m.month,
        closedBy: typeof m.closed_by === 'string' ? m.closed_by : '',
        closedAt: typeof m.closed_at === 'string' ? m.closed_at : null,
        sha256: typeof m.sha256 === 'string' ? m.sha256 : '',
        targets: targets,
      });
    }
    months.sort((a, b) => (a.month < b.month ? 1 : a.month > b.month ? -1 : 0));
    return { months: months, dropped: dropped };
  }

  // The targets of a closed month beside the live ones of snapshot `snap`
  // (same indicator): [{indicator, official: {value, denominator}, live:
  // {value, denominator} or null, diff: {value, denominator} or null}]. diff
  // is live minus official, null when they are equal or one is unknown.
  function closedRows(month, snap) {
    const live = new Map();
    for (const tg of Array.isArray(get(snap, 'targets', null)) ? snap.targets : []) {
      if (tg && typeof tg.indicator === 'string') live.set(tg.indicator, tg);
    }
    const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    return month.targets.map((tg) => {
      const l = live.get(tg.indicator);
      const now = l ? { value: num(l.value), denominator: num(l.denominator) } : null;
      let diff = null;
      if (now && now.value !== null && tg.value !== null && now.denominator !== null && tg.denominator !== null &&
        (now.value !== tg.value || now.denominator !== tg.denominator)) {
        diff = { value: now.value - tg.value, denominator: now.denominator - tg.denominator };
      }
      return { indicator: tg.indicator, official: { value: tg.value, denominator: tg.denominator }, live: now, diff: diff };
    });
  }

  // Households of a list per status, counted from the list itself (what
  // the page lists, so that the counts and the filter always agree).
  function householdCounts(list) {
    const c = { total: 0, field_added: 0 };
    for (const s of HH_STATUSES) c[s] = 0;
    for (const e of list ? list.households : []) {
      c[e.status]++;
      c.total++;
      if (e.fieldAdded) c.field_added++;
    }
    return c;
  }

  // The households of a list with status `status` ('all': every one).
  function filterHouseholds(list, status) {
    const all = list ? list.households : [];
    return status === 'all' ? all.slice() : all.filter((e) => e.status === status);
  }

  function parseStatus(text) {
    try {
      const s = JSON.parse(text);
      if (s && typeof s === 'object' && typeof s.status === 'string') return { status: s };
      return { error: 'no status field' };
    } catch (e) {
      return { error: 'not JSON: ' + e.message };
    }
  }

  function pct(part, whole) {
    return typeof part === 'number' && typeof whole === 'number' && whole > 0 ? (100 * part) / whole : null;
  }

  // Natural order of khóm codes: "2" before "10", then text.
  function compareCodes(a, b) {
    return String(a).localeCompare(String(b), 'vi', { numeric: true });
  }

  // One row per khóm snapshot, with the rates the table sorts by.
  function khomRows(khoms) {
    const rows = [];
    for (const [id, s] of khoms) {
      const hhTotal = get(s, 'households.total', null);
      const pTotal = get(s, 'people_15plus.total', null);
      const visited = get(s, 'households.visited', null);
      const reached = get(s, 'households.reached', null);
      const paying = get(s, 'people_15plus.paying_regularly', null);
      rows.push({
        id: id,
        name: get(s, 'name', '') || id,
        unassigned: s.unassigned === true,
        households: hhTotal,
        visited: visited,
        visitedPct: pct(visited, hhTotal),
        reached: reached,
        reachedPct: pct(reached, hhTotal),
        people15: pTotal,
        paying: paying,
        payingPct: pct(paying, pTotal),
        last: get(s, 'latest_event', null),
        lastMs: Date.parse(get(s, 'latest_event', '')) || null,
      });
    }
    return rows;
  }

  // Sort keys of the khóm table; rates rather than counts, so that small and
  // large khóms compare fairly.
  const SORT_KEYS = {
    khom: (r) => r.id,
    households: (r) => r.households,
    visited: (r) => r.visitedPct,
    reached: (r) => r.reachedPct,
    paying: (r) => r.payingPct,
    last: (r) => r.lastMs,
  };

  // Returns a new array sorted by key ('khom', 'visited', ...) in dir 'asc' or
  // 'desc'; rows without a value go last either way, ties by khóm code.
  function sortRows(rows, key, dir) {
    const f = SORT_KEYS[key] || SORT_KEYS.khom;
    const sign = dir === 'desc' ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const va = f(a), vb = f(b);
      const na = va === null || va === undefined, nb = vb === null || vb === undefined;
      if (na !== nb) return na ? 1 : -1;
      let c = 0;
      if (!na) c = key === 'khom' ? compareCodes(va, vb) : (va < vb ? -1 : va > vb ? 1 : 0);
      if (c === 0 && key !== 'khom') return compareCodes(a.id, b.id);
      return sign * c;
    });
  }

  // The daily series of one snapshot as a Map day -> {visit, account, ...}.
  function seriesByDay(snap) {
    const out = new Map();
    const s = snap && snap.series;
    if (!s || !kdc.format.parseDay(s.start)) return out;
    const days = typeof s.days === 'number' ? s.days : 0;
    for (let i = 0; i < days; i++) {
      const day = kdc.format.addDays(s.start, i);
      const v = {};
      for (const k of KINDS) v[k] = Array.isArray(s[k]) && typeof s[k][i] === 'number' ? s[k][i] : 0;
      out.set(day, v);
    }
    return out;
  }

  function lastSeriesDay(snap) {
    const s = snap && snap.series;
    if (!s || !kdc.format.parseDay(s.start) || typeof s.days !== 'number' || s.days < 1) return null;
    return kdc.format.addDays(s.start, s.days - 1);
  }

  // The last n days of every team, aligned on the same dates (the latest day of
  // any team's series, normally today at the aggregator), sorted by team code.
  function teamWeek(teams, n) {
    let end = null;
    for (const s of teams.values()) {
      const d = lastSeriesDay(s);
      if (d && (end === null || d > end)) end = d;
    }
    const dates = [];
    if (end) for (let i = n - 1; i >= 0; i--) dates.push(kdc.format.addDays(end, -i));
    const rows = [];
    for (const [id, s] of teams) {
      const byDay = seriesByDay(s);
      const perKind = { visit: 0, account: 0, payment: 0, service: 0 };
      const totals = dates.map((d) => {
        const v = byDay.get(d);
        if (!v) return 0;
        let sum = 0;
        for (const k of KINDS) { perKind[k] += v[k]; sum += v[k]; }
        return sum;
      });
      const devices = Array.isArray(s.devices) ? s.devices.length : 0;
      rows.push({
        id: id,
        name: get(s, 'name', '') || id,
        unassigned: s.unassigned === true,
        days: totals,
        total: totals.reduce((a, b) => a + b, 0),
        perKind: perKind,
        devices: devices,
        last: get(s, 'latest_event', null),
      });
    }
    rows.sort((a, b) => compareCodes(a.id, b.id));
    return { dates: dates, rows: rows };
  }

  // Whether the figures on screen can be trusted. now and as_of in ms.
  // Returns {ageMs, warnings: [{kind, ...}]}, kinds in order of severity.
  function health(opts) {
    const warnings = [];
    const asOf = opts.ward ? get(opts.ward, 'as_of_ms', null) || Date.parse(get(opts.ward, 'as_of', '')) || null : null;
    const ageMs = asOf ? Math.max(0, opts.now - asOf) : null;
    if (!opts.connected) warnings.push({ kind: 'broker' });
    if (opts.status && opts.status.status === 'offline') warnings.push({ kind: 'agg_offline', since: opts.status.since || null });
    if (opts.status && opts.status.status === 'degraded') warnings.push({ kind: 'agg_degraded', reason: opts.status.reason || '' });
    if (ageMs !== null && opts.staleMs > 0 && ageMs > opts.staleMs) warnings.push({ kind: 'stale', ageMs: ageMs });
    if (!opts.ward && opts.connected && opts.settled) warnings.push({ kind: 'no_data' });
    return { ageMs: ageMs, warnings: warnings };
  }

  kdc.model = {
    SCHEMA: SCHEMA,
    KINDS: KINDS,
    isCode: isCode,
    topics: topics,
    route: route,
    get: get,
    parseSnapshot: parseSnapshot,
    parseStatus: parseStatus,
    HH_STATUSES: HH_STATUSES,
    HH_NEXT: HH_NEXT,
    parseHouseholds: parseHouseholds,
    parseClosed: parseClosed,
    closedRows: closedRows,
    householdCounts: householdCounts,
    filterHouseholds: filterHouseholds,
    khomRows: khomRows,
    sortRows: sortRows,
    seriesByDay: seriesByDay,
    teamWeek: teamWeek,
    health: health,
    compareCodes: compareCodes,
  };
})(globalThis.kdc = globalThis.kdc || {});
