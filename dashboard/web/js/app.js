// The dashboard page: settings, the MQTT connection (read-only subscriptions
// to the ward's retained stats and the aggregator status) and rendering.
// Classic script: see format.js for why. Needs format.js, i18n.js, model.js,
// chart.js and vendor/mqtt.min.js loaded before it.
(function (kdc) {
  'use strict';

  const model = kdc.model, i18n = kdc.i18n;
  const LANG_KEY = 'kdc.dashboard.lang';
  const DEFAULTS = {
    ward: '', broker: '', brokerPort: null, brokerPath: '/mqtt', username: '', password: '',
    staleAfterSeconds: 120, timeZone: 'Asia/Ho_Chi_Minh', reconnectSeconds: 2,
  };
  // After connecting, how long to wait for retained messages before saying
  // that the ward has published nothing; and the grace period at page load
  // before an unreachable broker is reported.
  const SETTLE_MS = 3000;
  const CONNECT_GRACE_MS = 4000;
  const CHART_DAYS = 60;
  const TEAM_DAYS = 7;

  const state = {
    settings: null,
    lang: 'vi',
    fmt: null,
    ward: null,            // stats snapshot of the ward scope
    khoms: new Map(),      // khóm code -> snapshot
    teams: new Map(),      // team code -> snapshot
    status: null,          // aggregator status message
    conn: 'connecting',    // 'connecting' (never connected yet) | 'online' | 'offline'
    connError: null,       // last refusal by the broker, shown in the warning
    startedAt: Date.now(),
    connectedAt: 0,
    sort: { key: 'khom', dir: 'asc' },
    ignored: 0,
    renderQueued: false,
  };

  const $ = (id) => document.getElementById(id);
  const t = (key, params) => i18n.t(state.lang, key, params);

  // Small element builder: h('p', {class: 'x', 'data-f': 'y'}, 'text', child...)
  function h(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'style') e.style.cssText = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach((x) => x && e.append(x));
      else e.append(c);
    }
    return e;
  }

  // ---- settings -----------------------------------------------------------

  function readSettings() {
    const cfg = Object.assign({}, DEFAULTS, window.KDC_CONFIG || {});
    const q = new URLSearchParams(location.search);
    const s = {
      ward: q.get('ward') || cfg.ward || '',
      broker: q.get('broker') || cfg.broker || '',
      brokerPort: cfg.brokerPort,
      brokerPath: cfg.brokerPath || '/mqtt',
      username: q.get('user') || cfg.username || '',
      password: q.get('pass') || cfg.password || '',
      staleMs: 1000 * staleSeconds(q.get('stale') !== null ? q.get('stale') : cfg.staleAfterSeconds),
      timeZone: cfg.timeZone || DEFAULTS.timeZone,
      reconnectMs: 1000 * (Number(cfg.reconnectSeconds) || 2),
      lang: q.get('lang'),
    };
    s.url = s.broker || defaultBroker(s);
    return s;
  }

  // 0 turns the age rule off (the other warnings stay); nonsense gives 120.
  function staleSeconds(v) {
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 && v !== '' && v !== null ? n : 120;
  }

  function defaultBroker(s) {
    const secure = location.protocol === 'https:';
    const host = location.hostname || '127.0.0.1';
    const port = s.brokerPort || location.port || (secure ? 443 : 80);
    return (secure ? 'wss://' : 'ws://') + host + ':' + port + s.brokerPath;
  }

  function chooseLang(fromUrl) {
    if (i18n.LANGS.includes(fromUrl)) return fromUrl;
    try {
      const saved = localStorage.getItem(LANG_KEY);
      if (i18n.LANGS.includes(saved)) return saved;
    } catch (e) { /* storage disabled: keep the default */ }
    return 'vi';
  }

  function setLang(lang) {
    state.lang = lang;
    state.fmt = kdc.format.makeFormatter(lang, state.settings.timeZone);
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* not remembered */ }
    document.documentElement.lang = lang;
    render();
  }

  // ---- MQTT -----------------------------------------------------------------

  function connect() {
    const s = state.settings;
    if (!/^wss?:\/\//.test(s.url)) {
      fatal('err.bad_broker', { broker: s.url });
      return;
    }
    if (typeof window.mqtt === 'undefined') {
      fatal('err.no_mqtt', {});
      return;
    }
    const rnd = Math.random().toString(16).slice(2, 10);
    const client = window.mqtt.connect(s.url, {
      protocolVersion: 4,          // 3.1.1: every broker kdc supports speaks it
      clean: true,
      clientId: 'kdc-dash-' + rnd,
      username: s.username || undefined,
      password: s.password || undefined,
      keepalive: 30,
      reconnectPeriod: s.reconnectMs,
      connectTimeout: 8000,
      resubscribe: false,          // we subscribe on every connect ourselves
    });
    client.on('connect', () => {
      state.conn = 'online';
      state.connError = null;
      state.connectedAt = Date.now();
      client.subscribe(model.topics(s.ward), { qos: 1 }, (err, granted) => {
        if (err) {
          state.connError = String(err.message || err);
        } else if (granted && granted.some((g) => g.qos === 128)) {
          state.connError = t('err.denied');
        }
        scheduleRender();
      });
      setTimeout(scheduleRender, SETTLE_MS + 50);
      scheduleRender();
    });
    // MQTT.js emits 'close' after every failed attempt too; reconnectPeriod
    // keeps it trying for ever.
    client.on('close', () => {
      state.conn = 'offline';
      scheduleRender();
    });
    client.on('error', (err) => {
      // Refused CONNECT (bad credentials...); MQTT.js keeps retrying.
      state.connError = String((err && err.message) || err);
      scheduleRender();
    });
    client.on('message', onMessage);
    window.kdcDashboardClient = client;
  }

  const decoder = new TextDecoder('utf-8');

  function onMessage(topic, payload) {
    const r = model.route(topic, state.settings.ward);
    if (!r) return;
    const text = decoder.decode(payload);
    if (text.length === 0) {
      // An empty retained message deletes the topic: forget that scope.
      if (r.scope === 'ward') state.ward = null;
      else if (r.scope === 'status') state.status = null;
      else (r.scope === 'khom' ? state.khoms : state.teams).delete(r.id);
      scheduleRender();
      return;
    }
    if (r.scope === 'status') {
      const p = model.parseStatus(text);
      if (p.error) return ignore(topic, p.error);
      state.status = p.status;
    } else {
      const p = model.parseSnapshot(text, state.settings.ward, r.scope);
      if (p.error) return ignore(topic, p.error);
      if (r.scope === 'ward') state.ward = p.snap;
      else (r.scope === 'khom' ? state.khoms : state.teams).set(r.id, p.snap);
    }
    scheduleRender();
  }

  function ignore(topic, why) {
    state.ignored++;
    console.warn('kdc dashboard: ignored message on ' + topic + ': ' + why);
  }

  // ---- rendering ----------------------------------------------------------

  // Coalesce the burst of retained messages that arrives on (re)connect.
  function scheduleRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => {
      state.renderQueued = false;
      render();
    });
  }

  function fatal(key, params) {
    state.fatal = { key: key, params: params };
    render();
  }

  function render() {
    renderLabels();
    renderHeader();
    renderWarnings();
    if (state.fatal) {
      $('main').hidden = true;
      return;
    }
    renderTargets();
    renderOverview();
    renderKhoms();
    renderCharts();
    renderTeams();
    renderActivity();
    renderFooter();
    const seq = model.get(state.ward, 'seq', null);
    document.body.dataset.wardSeq = seq === null ? '' : String(seq);
    document.body.dataset.lang = state.lang;
  }

  function renderLabels() {
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    const btn = $('lang');
    btn.textContent = t('lang.toggle');
    btn.title = t('lang.toggle_title');
    btn.setAttribute('lang', state.lang === 'vi' ? 'en' : 'vi');
  }

  function wardLabel() {
    return model.get(state.ward, 'ward_name', '') || t('app.ward', { ward: state.settings.ward || '?' });
  }

  function renderHeader() {
    const fmt = state.fmt;
    $('ward-name').textContent = wardLabel();
    document.title = wardLabel() + ' · ' + t('app.title');

    const conn = $('conn');
    const shown = connShown();
    conn.dataset.state = shown;
    conn.textContent = t('conn.' + shown);

    const agg = $('agg');
    const st = state.status ? state.status.status : 'unknown';
    const aggState = ['online', 'offline', 'degraded'].includes(st) ? st : 'unknown';
    agg.dataset.state = aggState;
    agg.textContent = t('agg.' + aggState);
    agg.title = state.status && state.status.since ? fmt.time(state.status.since) : '';

    const hl = health();
    const age = $('age');
    age.dataset.state = hl.warnings.some((w) => w.kind === 'stale') ? 'stale' : (hl.ageMs === null ? 'none' : 'fresh');
    age.textContent = hl.ageMs === null ? t('age.none') : t('age.label', { ago: fmt.ago(hl.ageMs) });
    document.body.dataset.conn = shown;
    document.body.dataset.agg = aggState;
  }

  // 'online', 'connecting' (only during the grace period after the page
  // loads, so a normal load does not flash a warning) or 'offline'.
  function connShown() {
    if (state.conn === 'online') return 'online';
    return state.connectedAt === 0 && Date.now() - state.startedAt < CONNECT_GRACE_MS ? 'connecting' : 'offline';
  }

  function health() {
    const now = Date.now();
    const s = state.settings;
    return model.health({
      now: now,
      ward: state.ward,
      status: state.status,
      connected: connShown() !== 'offline',
      settled: state.conn === 'online' && now - state.connectedAt > SETTLE_MS,
      staleMs: s.staleMs,
    });
  }

  function renderWarnings() {
    const box = $('warnings');
    const items = [];
    if (state.fatal) {
      items.push(h('p', { class: 'warn error', 'data-warn': 'fatal' }, t(state.fatal.key, state.fatal.params)));
    } else {
      const fmt = state.fmt;
      for (const w of health().warnings) {
        let text;
        if (w.kind === 'broker') {
          text = t('warn.broker') + (state.connError ? ' (' + state.connError + ')' : '');
        } else if (w.kind === 'agg_offline') {
          text = t('warn.agg_offline', { since: w.since ? fmt.time(w.since) : fmt.dash });
        } else if (w.kind === 'agg_degraded') {
          text = t('warn.agg_degraded', { reason: w.reason || fmt.dash });
        } else if (w.kind === 'stale') {
          text = t('warn.stale', { ago: fmt.ago(w.ageMs), limit: fmt.int(state.settings.staleMs / 60000) });
        } else {
          text = t('warn.no_data', { ward: state.settings.ward });
        }
        items.push(h('p', { class: 'warn' + (w.kind === 'no_data' ? ' info' : ''), 'data-warn': w.kind }, text));
      }
    }
    box.replaceChildren(...items);
    document.body.dataset.warnings = items.map((e) => e.dataset.warn).join(' ');
  }

  function indicatorLabel(ind) {
    return i18n.has(state.lang, 'ind.' + ind) ? t('ind.' + ind) : ind;
  }

  function renderTargets() {
    const fmt = state.fmt;
    const targets = model.get(state.ward, 'targets', []);
    const box = $('targets');
    if (!state.ward) { box.replaceChildren(h('p', { class: 'empty' }, t('empty.waiting'))); return; }
    if (!Array.isArray(targets) || targets.length === 0) {
      box.replaceChildren(h('p', { class: 'empty' }, t('target.none')));
      return;
    }
    const asOfDay = typeof state.ward.as_of === 'string' ? state.ward.as_of.slice(0, 10) : null;
    box.replaceChildren(...targets.map((tg) => {
      const current = typeof tg.current === 'number' ? tg.current : null;
      const goal = typeof tg.percent === 'number' ? tg.percent : null;
      // `met` is the aggregator's exact test (counts, not rounded percents);
      // older snapshots without it fall back to comparing percents.
      const reached = typeof tg.met === 'boolean' ? tg.met : current !== null && goal !== null && current >= goal;
      const onTrack = tg.on_track === true;
      const badge = reached ? ['done', t('target.reached')]
        : onTrack ? ['ok', t('target.on_track')] : ['bad', t('target.off_track')];
      const left = asOfDay ? kdc.format.daysBetween(asOfDay, tg.deadline) : null;
      const deadlineNote = left === null || reached ? ''
        : left >= 0 ? ' · ' + t('target.days_left', { n: fmt.int(left) })
          : ' · ' + t('target.days_over', { n: fmt.int(-left) });
      const gained = typeof tg.gained_30d === 'number'
        ? ' · ' + t('target.gained', { n: (tg.gained_30d > 0 ? '+' : '') + fmt.int(tg.gained_30d) }) : '';
      const projected = reached ? null : (tg.projected
        ? t('target.projected', { date: fmt.day(tg.projected) }) : t('target.projected_never')) + gained;
      const fill = current === null ? 0 : Math.max(0, Math.min(100, current));
      return h('article', { class: 'target', 'data-indicator': tg.indicator, 'data-state': badge[0] },
        h('h3', null, indicatorLabel(tg.indicator)),
        h('div', { class: 'target-main' },
          h('span', { class: 'big', 'data-f': 'current' }, fmt.pct(current)),
          h('span', { class: 'count', 'data-f': 'count' },
            t('target.count', { value: fmt.int(tg.value), denominator: fmt.int(tg.denominator) })),
          h('span', { class: 'badge ' + badge[0], 'data-f': 'badge' }, badge[1])),
        h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
          'aria-valuenow': fill, 'aria-label': indicatorLabel(tg.indicator) },
          h('div', { class: 'fill', style: 'width:' + fill + '%' }),
          goal === null ? null : h('div', { class: 'marker', style: 'left:' + Math.min(100, goal) + '%',
            title: t('target.marker') })),
        h('p', { class: 'target-line', 'data-f': 'target' },
          t('target.line', { percent: fmt.pct(goal), deadline: fmt.day(tg.deadline) }) + deadlineNote),
        projected === null ? null : h('p', { class: 'target-proj', 'data-f': 'projected' }, projected));
    }));
  }

  function card(key, label, value, sub) {
    return h('div', { class: 'card', 'data-f': key },
      h('div', { class: 'card-label' }, label),
      h('div', { class: 'card-value' }, value),
      sub ? h('div', { class: 'card-sub' }, sub) : null);
  }

  function partCard(key, label, part, whole) {
    const fmt = state.fmt;
    return card(key, label, fmt.int(part), t('ov.of_total', { total: fmt.int(whole) }) + ' · ' + fmt.ratio(part, whole));
  }

  function renderOverview() {
    const fmt = state.fmt, w = state.ward, g = (p) => model.get(w, p, null);
    const box = $('overview');
    if (!w) { box.replaceChildren(h('p', { class: 'empty' }, t('empty.waiting'))); return; }
    box.replaceChildren(
      partCard('hh_visited', t('ov.hh_visited'), g('households.visited'), g('households.total')),
      partCard('hh_reached', t('ov.hh_reached'), g('households.reached'), g('households.total')),
      partCard('p_account', t('ov.p_account'), g('people_15plus.with_payment_account'), g('people_15plus.total')),
      partCard('p_regular', t('ov.p_regular', { n: fmt.int(g('regular_window_days') || 30) }),
        g('people_15plus.paying_regularly'), g('people_15plus.total')),
      card('payments', t('ov.payments'), fmt.vnd(g('payments.amount_vnd_30d')),
        t('ov.payments_count', { n: fmt.int(g('payments.count_30d')) })),
      card('latest', t('ov.latest_event'), fmt.time(g('latest_event')),
        t('ov.stored') + ' ' + fmt.int(g('stored_total')) + ' · ' + t('ov.rejected') + ' ' + fmt.int(g('rejected_total'))));
  }

  function sortHeader() {
    for (const th of document.querySelectorAll('#khoms thead th[data-sort]')) {
      const k = th.dataset.sort;
      th.setAttribute('aria-sort', k === state.sort.key ? (state.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
    }
  }

  function rateCell(col, n, p, total) {
    const fmt = state.fmt;
    return h('td', { class: 'num', 'data-col': col, 'data-label': t(col === 'paying' ? 'col.paying_short' : 'col.' + col) },
      h('span', { class: 'rate' }, fmt.pct(p)),
      h('span', { class: 'frac' }, fmt.int(n) + '/' + fmt.int(total)));
  }

  function renderKhoms() {
    const fmt = state.fmt;
    sortHeader();
    const rows = model.sortRows(model.khomRows(state.khoms), state.sort.key, state.sort.dir);
    const body = $('khoms').tBodies[0];
    $('khoms-empty').hidden = rows.length > 0;
    $('khoms').closest('.table-wrap').hidden = rows.length === 0;
    $('khoms-hint').hidden = rows.length < 2;
    body.replaceChildren(...rows.map((r) => h('tr', { 'data-khom': r.id },
      h('th', { scope: 'row', 'data-col': 'khom' }, r.name,
        r.unassigned ? h('span', { class: 'tag' }, t('khom.unassigned')) : null),
      h('td', { class: 'num', 'data-col': 'households', 'data-label': t('col.households') }, fmt.int(r.households)),
      rateCell('visited', r.visited, r.visitedPct, r.households),
      rateCell('reached', r.reached, r.reachedPct, r.households),
      rateCell('paying', r.paying, r.payingPct, r.people15),
      h('td', { 'data-col': 'last', 'data-label': t('col.last') }, fmt.time(r.last)))));
  }

  function onSortClick(ev) {
    const th = ev.target.closest('th[data-sort]');
    if (!th) return;
    const key = th.dataset.sort;
    if (state.sort.key === key) state.sort.dir = state.sort.dir === 'asc' ? 'desc' : 'asc';
    // Rates and recency are most useful highest first; names in order.
    else state.sort = { key: key, dir: key === 'khom' ? 'asc' : 'desc' };
    renderKhoms();
  }

  function renderCharts() {
    const fmt = state.fmt;
    const byDay = model.seriesByDay(state.ward);
    const dates = Array.from(byDay.keys()).slice(-CHART_DAYS);
    for (const fig of document.querySelectorAll('#charts figure[data-kind]')) {
      const kind = fig.dataset.kind;
      const host = fig.querySelector('.chart-host');
      const values = dates.map((d) => byDay.get(d)[kind]);
      const total = values.reduce((a, b) => a + b, 0);
      fig.querySelector('.chart-title').textContent = t('chart.' + kind);
      fig.querySelector('.chart-total').textContent = dates.length ? t('chart.total', { n: fmt.int(total) }) : '';
      fig.dataset.total = String(total);
      if (!dates.length) {
        host.replaceChildren(h('p', { class: 'empty' }, t('chart.none')));
        continue;
      }
      kdc.chart.bars(host, { dates: dates, values: values, fmt: fmt, label: t('chart.' + kind) });
    }
  }

  function renderTeams() {
    const fmt = state.fmt;
    const week = model.teamWeek(state.teams, TEAM_DAYS);
    const box = $('teams');
    if (week.rows.length === 0) {
      box.replaceChildren(h('p', { class: 'empty' }, t('team.none')));
      return;
    }
    box.replaceChildren(...week.rows.map((r) => {
      const host = h('div', { class: 'chart-host small' });
      const kinds = model.KINDS.map((k) => t('kind.' + k) + ' ' + fmt.int(r.perKind[k])).join(' · ');
      const article = h('article', { class: 'team', 'data-team': r.id, 'data-total': r.total },
        h('div', { class: 'team-head' },
          h('h3', null, r.name, r.unassigned ? h('span', { class: 'tag' }, t('khom.unassigned')) : null),
          h('span', { class: 'team-total', 'data-f': 'total' }, t('team.events', { n: fmt.int(r.total) }))),
        host,
        h('p', { class: 'team-kinds', 'data-f': 'kinds' }, kinds),
        h('p', { class: 'team-meta' }, t('team.devices', { n: fmt.int(r.devices) }) + ' · ' +
          t('team.last', { t: fmt.time(r.last) })));
      return { article: article, host: host, row: r };
    }).map((x) => {
      // Charts are sized from their host's width, so draw once attached.
      requestAnimationFrame(() => kdc.chart.bars(x.host, { dates: week.dates, values: x.row.days, fmt: fmt,
        height: 110, showValues: true, labelEvery: 1, label: x.row.name }));
      return x.article;
    }));
  }

  function renderActivity() {
    const fmt = state.fmt, w = state.ward;
    const wins = ['24h', '7d', '30d', 'total'];
    const tbl = $('activity');
    tbl.tHead.replaceChildren(h('tr', null, h('th', { scope: 'col' }, t('col.kind')),
      ...wins.map((x) => h('th', { scope: 'col', class: 'num' }, t('win.' + x)))));
    tbl.tBodies[0].replaceChildren(...model.KINDS.map((k) => h('tr', { 'data-kind': k },
      h('th', { scope: 'row' }, t('kind.' + k)),
      ...wins.map((x) => h('td', { class: 'num', 'data-win': x }, fmt.int(model.get(w, 'events.' + k + '.' + x, null)))))));

    const list = (id, prefix, obj, keys) => {
      $(id).replaceChildren(...keys.map((k) => h('div', { class: 'kv', 'data-key': k },
        h('dt', null, t(prefix + k)), h('dd', { class: 'num' }, fmt.int(model.get(obj, k, null))))));
    };
    list('accounts', 'acc.', model.get(w, 'accounts', null),
      ['public_service_portal', 'vneid_level2', 'provincial_app', 'payment']);
    list('services', 'svc.', model.get(w, 'services', null),
      ['birth_registration', 'marital_status', 'medical_booking', 'field_report', 'other']);
  }

  function renderFooter() {
    const fmt = state.fmt, w = state.ward;
    $('foot-asof').textContent = w ? t('foot.as_of', { t: fmt.time(w.as_of_ms || w.as_of), seq: fmt.int(w.seq) }) : '';
    $('foot-source').textContent = t('foot.source', { broker: state.settings.url, ward: state.settings.ward });
  }

  // ---- start --------------------------------------------------------------

  function start() {
    state.settings = readSettings();
    state.lang = chooseLang(state.settings.lang);
    state.fmt = kdc.format.makeFormatter(state.lang, state.settings.timeZone);
    document.documentElement.lang = state.lang;

    $('lang').addEventListener('click', () => setLang(state.lang === 'vi' ? 'en' : 'vi'));
    $('khoms').tHead.addEventListener('click', onSortClick);
    let resizeTimer = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { renderCharts(); renderTeams(); }, 150);
    });
    // The age of the data and the warnings move with the clock.
    setInterval(() => { renderHeader(); renderWarnings(); }, 1000);

    const ward = state.settings.ward;
    if (!ward) return fatal('err.no_ward', {});
    if (!model.isCode(ward)) return fatal('err.bad_ward', { ward: ward });
    render();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})(globalThis.kdc = globalThis.kdc || {});
