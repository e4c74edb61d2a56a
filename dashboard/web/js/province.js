// The province page (province.html): the snapshot kdc-rollup publishes
// retained on kdc/v1/province/{code}/stats and its status on
// kdc/v1/province/{code}/status/rollup; the province's targets and totals,
// one row per ward with the age of its last snapshot and whether it is
// online, and the daily series. Reuses format.js, i18n.js (its strings plus
// the prov.* ones below), model.js and chart.js of the ward page.
// Classic script: see format.js for why.
(function (kdc) {
  'use strict';

  const i18n = kdc.i18n, model = kdc.model;
  const SCHEMA = 'kdc.province.v1';
  const LANG_KEY = 'kdc.dashboard.lang'; // shared with the ward page
  const SETTLE_MS = 3000;
  const CONNECT_GRACE_MS = 4000;
  const CHART_DAYS = 60;

  // Only what the ward page does not already say.
  const STRINGS = {
    vi: {
      'prov.title': 'Khu dân cư điện tử — toàn tỉnh',
      'prov.name': 'Tỉnh {province}',
      'prov.rollup.online': 'Tổng hợp tỉnh: đang chạy',
      'prov.rollup.offline': 'Tổng hợp tỉnh: đã dừng',
      'prov.rollup.unknown': 'Tổng hợp tỉnh: chưa rõ',
      'prov.warn.rollup_offline': 'Bộ tổng hợp số liệu của tỉnh đã dừng từ {since}: các con số dưới đây không còn được cập nhật.',
      'prov.warn.no_data': 'Chưa nhận được số liệu của tỉnh {province}.',
      'prov.warn.wards_offline': '{n} phường đang mất kết nối: số liệu của các phường này là lần cập nhật cuối cùng.',
      'prov.warn.wards_missing': '{n} phường chưa gửi số liệu lần nào: chưa được tính vào tổng.',
      'prov.err.no_province': 'Chưa chọn tỉnh: thêm ?province=MÃ_TỈNH vào địa chỉ trang.',
      'prov.err.bad_province': 'Mã tỉnh “{province}” không hợp lệ (chỉ gồm chữ, số, - và _).',
      'prov.empty.waiting': 'Đang chờ số liệu từ bộ tổng hợp của tỉnh…',
      'prov.target.none': 'Hồ sơ tỉnh chưa khai báo chỉ tiêu.',
      'prov.ov.wards': 'Phường đã gửi số liệu',
      'prov.ov.wards_sub': '{online} phường đang trực tuyến, tổng {listed} phường',
      'prov.sec.wards': 'Các phường',
      'prov.col.ward': 'Phường',
      'prov.col.reached': 'Hộ được tiếp cận',
      'prov.col.paying': 'Người 15+ thanh toán thường xuyên',
      'prov.col.events': 'Sự kiện đã lưu',
      'prov.col.age': 'Cập nhật lần cuối',
      'prov.col.state': 'Trạng thái',
      'prov.state.online': 'Trực tuyến',
      'prov.state.offline': 'Mất kết nối',
      'prov.state.degraded': 'Gặp sự cố',
      'prov.state.unknown': 'Chưa rõ',
      'prov.state.missing': 'Chưa có số liệu',
      'prov.link.down': 'mất đường truyền tới tỉnh',
      'prov.wards.none': 'Hồ sơ tỉnh chưa có phường nào.',
      'prov.foot.as_of': 'Số liệu toàn tỉnh tính đến {t}, ảnh chụp số {seq}.',
      'prov.foot.source': 'Máy chủ {broker}, tỉnh {province}.',
      'prov.foot.help': 'Số liệu của tỉnh là tổng số liệu các phường gửi lên; phường mất kết nối được tính theo lần cập nhật cuối cùng. Trang tự cập nhật, không cần tải lại.',
    },
    en: {
      'prov.title': 'Digital residential areas — province',
      'prov.name': 'Province {province}',
      'prov.rollup.online': 'Province roll-up: running',
      'prov.rollup.offline': 'Province roll-up: stopped',
      'prov.rollup.unknown': 'Province roll-up: unknown',
      'prov.warn.rollup_offline': 'The province roll-up stopped at {since}: the figures below are no longer updated.',
      'prov.warn.no_data': 'No figures received for province {province} yet.',
      'prov.warn.wards_offline': '{n} wards are offline: their figures are from their last update.',
      'prov.warn.wards_missing': '{n} wards have never reported: they are not in the totals yet.',
      'prov.err.no_province': 'No province chosen: add ?province=CODE to the page address.',
      'prov.err.bad_province': 'Province code “{province}” is not valid (letters, digits, - and _ only).',
      'prov.empty.waiting': 'Waiting for figures from the province roll-up…',
      'prov.target.none': 'The province profile declares no targets.',
      'prov.ov.wards': 'Wards reporting',
      'prov.ov.wards_sub': '{online} online, {listed} wards in all',
      'prov.sec.wards': 'Wards',
      'prov.col.ward': 'Ward',
      'prov.col.reached': 'Households reached',
      'prov.col.paying': 'People 15+ paying regularly',
      'prov.col.events': 'Events stored',
      'prov.col.age': 'Last update',
      'prov.col.state': 'State',
      'prov.state.online': 'Online',
      'prov.state.offline': 'Offline',
      'prov.state.degraded': 'Degraded',
      'prov.state.unknown': 'Unknown',
      'prov.state.missing': 'No figures yet',
      'prov.link.down': 'link to the province down',
      'prov.wards.none': 'The province profile lists no wards.',
      'prov.foot.as_of': 'Province figures as of {t}, snapshot {seq}.',
      'prov.foot.source': 'Broker {broker}, province {province}.',
      'prov.foot.help': 'Province figures are the sums of what the wards report; an offline ward counts with its last update. The page updates itself.',
    },
  };
  for (const lang of Object.keys(STRINGS)) Object.assign(i18n.STRINGS[lang], STRINGS[lang]);

  const state = {
    settings: null,
    lang: 'vi',
    fmt: null,
    snap: null,           // province snapshot
    status: null,         // roll-up status message
    conn: 'connecting',
    connError: null,
    startedAt: Date.now(),
    connectedAt: 0,
    sort: { key: 'ward', dir: 'asc' },
    renderQueued: false,
  };

  const $ = (id) => document.getElementById(id);
  const t = (key, params) => i18n.t(state.lang, key, params);

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

  // ---- settings and connection (as the ward page; ?province= instead of ?ward=) ----

  function readSettings() {
    const cfg = Object.assign({ brokerPath: '/mqtt', staleAfterSeconds: 120, timeZone: 'Asia/Ho_Chi_Minh',
      reconnectSeconds: 2 }, window.KDC_CONFIG || {});
    const q = new URLSearchParams(location.search);
    const stale = Number(q.get('stale') !== null ? q.get('stale') : cfg.staleAfterSeconds);
    const s = {
      province: q.get('province') || cfg.province || '',
      broker: q.get('broker') || cfg.broker || '',
      brokerPort: cfg.brokerPort,
      brokerPath: cfg.brokerPath || '/mqtt',
      username: q.get('user') || cfg.username || '',
      password: q.get('pass') || cfg.password || '',
      staleMs: 1000 * (Number.isFinite(stale) && stale >= 0 ? stale : 120),
      timeZone: cfg.timeZone || 'Asia/Ho_Chi_Minh',
      reconnectMs: 1000 * (Number(cfg.reconnectSeconds) || 2),
      lang: q.get('lang'),
    };
    if (!s.broker) {
      const secure = location.protocol === 'https:';
      const port = s.brokerPort || location.port || (secure ? 443 : 80);
      s.broker = (secure ? 'wss://' : 'ws://') + (location.hostname || '127.0.0.1') + ':' + port + s.brokerPath;
    }
    return s;
  }

  function topics(code) {
    return ['kdc/v1/province/' + code + '/stats', 'kdc/v1/province/' + code + '/status/rollup'];
  }

  function connect() {
    const s = state.settings;
    if (!/^wss?:\/\//.test(s.broker)) return fatal('err.bad_broker', { broker: s.broker });
    if (typeof window.mqtt === 'undefined') return fatal('err.no_mqtt', {});
    const client = window.mqtt.connect(s.broker, {
      protocolVersion: 4, clean: true, clientId: 'kdc-prov-' + Math.random().toString(16).slice(2, 10),
      username: s.username || undefined, password: s.password || undefined, keepalive: 30,
      reconnectPeriod: s.reconnectMs, connectTimeout: 8000, resubscribe: false,
    });
    client.on('connect', () => {
      state.conn = 'online';
      state.connError = null;
      state.connectedAt = Date.now();
      // exact topics: RabbitMQ delivers retained messages to those only
      client.subscribe(topics(s.province), { qos: 1 }, (err, granted) => {
        if (err) state.connError = String(err.message || err);
        else if (granted && granted.some((g) => g.qos === 128)) state.connError = t('err.denied');
        scheduleRender();
      });
      setTimeout(scheduleRender, SETTLE_MS + 50);
      scheduleRender();
    });
    client.on('close', () => { state.conn = 'offline'; scheduleRender(); });
    client.on('error', (err) => { state.connError = String((err && err.message) || err); scheduleRender(); });
    client.on('message', onMessage);
    window.kdcProvinceClient = client;
  }

  const decoder = new TextDecoder('utf-8');

  // Never throws: whatever arrives must not break the page.
  function onMessage(topic, payload) {
    const [stats, status] = topics(state.settings.province);
    const text = decoder.decode(payload);
    let v = null;
    if (text !== '') {
      try { v = JSON.parse(text); } catch (e) { return console.warn('kdc province: not JSON on ' + topic); }
      if (v === null || typeof v !== 'object') return;
    }
    if (topic === stats) {
      if (v && (v.schema !== SCHEMA || String(v.province) !== state.settings.province)) {
        return console.warn('kdc province: ignored a snapshot of schema ' + v.schema + ', province ' + v.province);
      }
      state.snap = v;
    } else if (topic === status) {
      state.status = v && typeof v.status === 'string' ? v : null;
    }
    scheduleRender();
  }

  // ---- rendering ---------------------------------------------------------------

  function scheduleRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => { state.renderQueued = false; render(); });
  }

  function fatal(key, params) {
    state.fatal = { key: key, params: params };
    render();
  }

  function render() {
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    const btn = $('lang');
    btn.textContent = t('lang.toggle');
    btn.title = t('lang.toggle_title');
    renderHeader();
    renderWarnings();
    if (state.fatal) { $('main').hidden = true; return; }
    renderTargets();
    renderOverview();
    renderWards();
    renderCharts();
    renderFooter();
    const g = (p) => model.get(state.snap, p, null);
    document.body.dataset.provSeq = g('seq') === null ? '' : String(g('seq'));
    document.body.dataset.lang = state.lang;
  }

  function connShown() {
    if (state.conn === 'online') return 'online';
    return state.connectedAt === 0 && Date.now() - state.startedAt < CONNECT_GRACE_MS ? 'connecting' : 'offline';
  }

  function ageMs() {
    const asOf = model.get(state.snap, 'as_of_ms', null);
    return typeof asOf === 'number' ? Math.max(0, Date.now() - asOf) : null;
  }

  function renderHeader() {
    const fmt = state.fmt;
    const name = model.get(state.snap, 'province_name', '') ||
      t('prov.name', { province: state.settings.province || '?' });
    $('prov-name').textContent = name;
    document.title = name + ' · ' + t('prov.title');
    const shown = connShown();
    $('conn').dataset.state = shown;
    $('conn').textContent = t('conn.' + shown);
    const st = state.status && ['online', 'offline'].includes(state.status.status) ? state.status.status : 'unknown';
    $('rollup').dataset.state = st;
    $('rollup').textContent = t('prov.rollup.' + st);
    const age = ageMs();
    const stale = age !== null && state.settings.staleMs > 0 && age > state.settings.staleMs;
    $('age').dataset.state = age === null ? 'none' : stale ? 'stale' : 'fresh';
    $('age').textContent = age === null ? t('age.none') : t('age.label', { ago: fmt.ago(age) });
    document.body.dataset.conn = shown;
    document.body.dataset.rollup = st;
  }

  function wardState(w) {
    if (!w.reporting) return 'missing';
    if (w.online) return 'online';
    if (w.link === 'down') return 'offline';
    return ['offline', 'degraded'].includes(w.status) ? w.status : 'unknown';
  }

  function renderWarnings() {
    const fmt = state.fmt, items = [];
    const add = (kind, text, info) => items.push(h('p', { class: 'warn' + (info ? ' info' : ''), 'data-warn': kind }, text));
    if (state.fatal) {
      add('fatal', t(state.fatal.key, state.fatal.params));
    } else {
      if (connShown() === 'offline') add('broker', t('warn.broker') + (state.connError ? ' (' + state.connError + ')' : ''));
      if (state.status && state.status.status === 'offline') {
        add('rollup_offline', t('prov.warn.rollup_offline', { since: state.status.since ? fmt.time(state.status.since) : fmt.dash }));
      }
      const age = ageMs();
      if (age !== null && state.settings.staleMs > 0 && age > state.settings.staleMs) {
        add('stale', t('warn.stale', { ago: fmt.ago(age), limit: fmt.int(state.settings.staleMs / 60000) }));
      }
      const wards = model.get(state.snap, 'wards', []);
      const offline = wards.filter((w) => w.reporting && !w.online).length;
      const missing = wards.filter((w) => !w.reporting).length;
      if (offline > 0) add('wards_offline', t('prov.warn.wards_offline', { n: fmt.int(offline) }), true);
      if (missing > 0) add('wards_missing', t('prov.warn.wards_missing', { n: fmt.int(missing) }), true);
      if (!state.snap && state.conn === 'online' && Date.now() - state.connectedAt > SETTLE_MS) {
        add('no_data', t('prov.warn.no_data', { province: state.settings.province }), true);
      }
    }
    $('warnings').replaceChildren(...items);
    document.body.dataset.warnings = items.map((e) => e.dataset.warn).join(' ');
  }

  function indicatorLabel(ind) {
    return i18n.has(state.lang, 'ind.' + ind) ? t('ind.' + ind) : ind;
  }

  // The same cards as the ward page's targets, from the province's sums.
  function renderTargets() {
    const fmt = state.fmt, box = $('targets');
    if (!state.snap) return box.replaceChildren(h('p', { class: 'empty' }, t('prov.empty.waiting')));
    const targets = model.get(state.snap, 'targets', []);
    if (!Array.isArray(targets) || targets.length === 0) {
      return box.replaceChildren(h('p', { class: 'empty' }, t('prov.target.none')));
    }
    const today = typeof state.snap.as_of === 'string' ? state.snap.as_of.slice(0, 10) : null;
    box.replaceChildren(...targets.map((tg) => {
      const current = typeof tg.current === 'number' ? tg.current : null;
      const goal = typeof tg.percent === 'number' ? tg.percent : null;
      const met = tg.met === true;
      const badge = met ? ['done', t('target.reached')] : tg.on_track === true ? ['ok', t('target.on_track')]
        : ['bad', t('target.off_track')];
      const left = today ? kdc.format.daysBetween(today, tg.deadline) : null;
      const note = left === null || met ? '' : left >= 0 ? ' · ' + t('target.days_left', { n: fmt.int(left) })
        : ' · ' + t('target.days_over', { n: fmt.int(-left) });
      const gained = typeof tg.gained_30d === 'number'
        ? ' · ' + t('target.gained', { n: (tg.gained_30d > 0 ? '+' : '') + fmt.int(tg.gained_30d) }) : '';
      const projected = met ? null : (tg.projected ? t('target.projected', { date: fmt.day(tg.projected) })
        : t('target.projected_never')) + gained;
      const fill = current === null ? 0 : Math.max(0, Math.min(100, current));
      return h('article', { class: 'target', 'data-indicator': tg.indicator, 'data-state': badge[0] },
        h('h3', null, indicatorLabel(tg.indicator)),
        h('div', { class: 'target-main' },
          h('span', { class: 'big', 'data-f': 'current' }, fmt.pct(current)),
          h('span', { class: 'count', 'data-f': 'count' },
            t('target.count', { value: fmt.int(tg.value), denominator: fmt.int(tg.denominator) })),
          h('span', { class: 'badge ' + badge[0], 'data-f': 'badge' }, badge[1])),
        h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': fill,
          'aria-label': indicatorLabel(tg.indicator) },
          h('div', { class: 'fill', style: 'width:' + fill + '%' }),
          goal === null ? null : h('div', { class: 'marker', style: 'left:' + Math.min(100, goal) + '%', title: t('target.marker') })),
        h('p', { class: 'target-line', 'data-f': 'target' },
          t('target.line', { percent: fmt.pct(goal), deadline: fmt.day(tg.deadline) }) + note),
        projected === null ? null : h('p', { class: 'target-proj', 'data-f': 'projected' }, projected));
    }));
  }

  function card(key, label, value, sub) {
    return h('div', { class: 'card', 'data-f': key }, h('div', { class: 'card-label' }, label),
      h('div', { class: 'card-value' }, value), sub ? h('div', { class: 'card-sub' }, sub) : null);
  }

  function renderOverview() {
    const fmt = state.fmt, s = state.snap, g = (p) => model.get(s, p, null), box = $('overview');
    if (!s) return box.replaceChildren(h('p', { class: 'empty' }, t('prov.empty.waiting')));
    const part = (key, label, p, w) => card(key, label, fmt.int(g(p)),
      t('ov.of_total', { total: fmt.int(g(w)) }) + ' · ' + fmt.ratio(g(p), g(w)));
    box.replaceChildren(
      card('wards', t('prov.ov.wards'), fmt.int(g('wards_reporting')) + ' / ' + fmt.int(g('wards_listed')),
        t('prov.ov.wards_sub', { online: fmt.int(g('wards_online')), listed: fmt.int(g('wards_listed')) })),
      part('hh_visited', t('ov.hh_visited'), 'households.visited', 'households.total'),
      part('hh_reached', t('ov.hh_reached'), 'households.reached', 'households.total'),
      part('p_account', t('ov.p_account'), 'people_15plus.with_payment_account', 'people_15plus.total'),
      part('p_regular', t('ov.p_regular', { n: fmt.int(g('regular_window_days') || 30) }),
        'people_15plus.paying_regularly', 'people_15plus.total'),
      card('payments', t('ov.payments'), fmt.vnd(g('payments.amount_vnd_30d')),
        t('ov.payments_count', { n: fmt.int(g('payments.count_30d')) })),
      card('latest', t('ov.latest_event'), fmt.time(g('latest_event')),
        t('ov.stored') + ' ' + fmt.int(g('stored_total')) + ' · ' + t('ov.rejected') + ' ' + fmt.int(g('rejected_total'))));
  }

  function pct(part, whole) {
    return typeof part === 'number' && typeof whole === 'number' && whole > 0 ? (100 * part) / whole : null;
  }

  const STATE_ORDER = { online: 0, degraded: 1, unknown: 2, offline: 3, missing: 4 };
  const SORT = {
    ward: (r) => r.name,
    reached: (r) => r.reachedPct,
    paying: (r) => r.payingPct,
    events: (r) => r.events,
    age: (r) => r.asOf === null ? null : -r.asOf,
    state: (r) => STATE_ORDER[r.state],
  };

  function wardRows() {
    const rows = model.get(state.snap, 'wards', []).map((w) => ({
      code: w.ward,
      name: w.name || w.ward,
      state: wardState(w),
      linkDown: w.link === 'down',
      reached: model.get(w, 'households.reached', null),
      households: model.get(w, 'households.total', null),
      reachedPct: pct(model.get(w, 'households.reached', null), model.get(w, 'households.total', null)),
      paying: model.get(w, 'people_15plus.paying_regularly', null),
      people: model.get(w, 'people_15plus.total', null),
      payingPct: pct(model.get(w, 'people_15plus.paying_regularly', null), model.get(w, 'people_15plus.total', null)),
      events: model.get(w, 'stored_total', null),
      asOf: typeof w.as_of_ms === 'number' ? w.as_of_ms : null,
    }));
    const f = SORT[state.sort.key] || SORT.ward, sign = state.sort.dir === 'desc' ? -1 : 1;
    return rows.sort((a, b) => {
      const va = f(a), vb = f(b), na = va === null || va === undefined, nb = vb === null || vb === undefined;
      if (na !== nb) return na ? 1 : -1;
      const c = na ? 0 : typeof va === 'string' ? model.compareCodes(va, vb) : va - vb;
      return c !== 0 ? sign * c : model.compareCodes(a.code, b.code);
    });
  }

  function rateCell(col, n, p, total) {
    const fmt = state.fmt;
    return h('td', { class: 'num', 'data-col': col, 'data-label': t('prov.col.' + col) },
      h('span', { class: 'rate' }, fmt.pct(p)), h('span', { class: 'frac' }, fmt.int(n) + '/' + fmt.int(total)));
  }

  function renderWards() {
    const fmt = state.fmt, rows = state.snap ? wardRows() : [];
    for (const th of document.querySelectorAll('#wards thead th[data-sort]')) {
      th.setAttribute('aria-sort', th.dataset.sort === state.sort.key
        ? (state.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
    }
    $('wards-empty').hidden = rows.length > 0 || !state.snap;
    $('wards').closest('.table-wrap').hidden = rows.length === 0;
    $('wards-hint').hidden = rows.length < 2;
    const now = Date.now();
    $('wards').tBodies[0].replaceChildren(...rows.map((r) => h('tr', { 'data-ward': r.code, 'data-state': r.state },
      h('th', { scope: 'row', 'data-col': 'ward' },
        h('a', { href: 'index.html?ward=' + encodeURIComponent(r.code) }, r.name),
        h('span', { class: 'ward-code' }, r.code)),
      rateCell('reached', r.reached, r.reachedPct, r.households),
      rateCell('paying', r.paying, r.payingPct, r.people),
      h('td', { class: 'num', 'data-col': 'events', 'data-label': t('prov.col.events') }, fmt.int(r.events)),
      h('td', { 'data-col': 'age', 'data-label': t('prov.col.age'), 'data-as-of': r.asOf,
        title: r.asOf === null ? '' : fmt.time(r.asOf) }, r.asOf === null ? fmt.dash : fmt.ago(now - r.asOf)),
      h('td', { 'data-col': 'state', 'data-label': t('prov.col.state') },
        h('span', { class: 'ward-state', 'data-state': r.state }, t('prov.state.' + r.state)),
        r.linkDown ? h('span', { class: 'tag' }, t('prov.link.down')) : null))));
  }

  // Only the ages move with the clock: the rest of the table stays put.
  function renderAges() {
    const now = Date.now();
    for (const td of document.querySelectorAll('#wards td[data-col="age"][data-as-of]')) {
      td.textContent = state.fmt.ago(now - Number(td.dataset.asOf));
    }
  }

  function onSortClick(ev) {
    const th = ev.target.closest('th[data-sort]');
    if (!th) return;
    const key = th.dataset.sort;
    if (state.sort.key === key) state.sort.dir = state.sort.dir === 'asc' ? 'desc' : 'asc';
    else state.sort = { key: key, dir: key === 'ward' || key === 'state' || key === 'age' ? 'asc' : 'desc' };
    renderWards();
  }

  function renderCharts() {
    const fmt = state.fmt, byDay = model.seriesByDay(state.snap);
    const dates = Array.from(byDay.keys()).slice(-CHART_DAYS);
    for (const fig of document.querySelectorAll('#charts figure[data-kind]')) {
      const kind = fig.dataset.kind, host = fig.querySelector('.chart-host');
      const values = dates.map((d) => byDay.get(d)[kind]);
      const total = values.reduce((a, b) => a + b, 0);
      fig.querySelector('.chart-title').textContent = t('chart.' + kind);
      fig.querySelector('.chart-total').textContent = dates.length ? t('chart.total', { n: fmt.int(total) }) : '';
      fig.dataset.total = String(total);
      if (!dates.length) { host.replaceChildren(h('p', { class: 'empty' }, t('chart.none'))); continue; }
      kdc.chart.bars(host, { dates: dates, values: values, fmt: fmt, label: t('chart.' + kind) });
    }
  }

  function renderFooter() {
    const fmt = state.fmt, s = state.snap;
    $('foot-asof').textContent = s ? t('prov.foot.as_of', { t: fmt.time(s.as_of_ms || s.as_of), seq: fmt.int(s.seq) }) : '';
    $('foot-source').textContent = t('prov.foot.source', { broker: state.settings.broker, province: state.settings.province });
  }

  function setLang(lang) {
    state.lang = lang;
    state.fmt = kdc.format.makeFormatter(lang, state.settings.timeZone);
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* not remembered */ }
    document.documentElement.lang = lang;
    render();
  }

  function start() {
    state.settings = readSettings();
    let lang = state.settings.lang;
    if (!i18n.LANGS.includes(lang)) {
      try { lang = localStorage.getItem(LANG_KEY); } catch (e) { lang = null; }
    }
    state.lang = i18n.LANGS.includes(lang) ? lang : 'vi';
    state.fmt = kdc.format.makeFormatter(state.lang, state.settings.timeZone);
    document.documentElement.lang = state.lang;
    $('lang').addEventListener('click', () => setLang(state.lang === 'vi' ? 'en' : 'vi'));
    $('wards').tHead.addEventListener('click', onSortClick);
    let resizeTimer = 0;
    window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(renderCharts, 150); });
    // ages move with the clock
    setInterval(() => { renderHeader(); renderWarnings(); renderAges(); }, 1000);
    const code = state.settings.province;
    if (!code) return fatal('prov.err.no_province', {});
    if (!model.isCode(code)) return fatal('prov.err.bad_province', { province: code });
    render();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})(globalThis.kdc = globalThis.kdc || {});
