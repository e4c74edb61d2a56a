// The province page (province.html): the snapshot kdc-rollup publishes
// retained on kdc/v1/province/{code}/stats and its status on
// kdc/v1/province/{code}/status/rollup; the province's targets and totals,
// one row per ward with the age of its last snapshot and whether it is
// online, and the daily series. Reuses format.js, i18n.js (its strings plus
// the prov.* ones below), model.js, chart.js and page.js of the ward page.
// Classic script: see format.js for why.
(function (kdc) {
  'use strict';

  const i18n = kdc.i18n, model = kdc.model;
  const SCHEMA = 'kdc.province.v1';

  // Only what the ward page does not already say.
  const STRINGS = {
    vi: {
      'prov.title': 'Khu dân cư điện tử — toàn tỉnh',
      'prov.name': 'Tỉnh {province}',
      'prov.rollup.online': 'Tổng hợp tỉnh: đang chạy',
      'prov.rollup.offline': 'Tổng hợp tỉnh: đã dừng',
      'prov.rollup.unknown': 'Tổng hợp tỉnh: chưa rõ',
      'prov.warn.rollup_offline': 'Bộ tổng hợp số liệu của tỉnh đã dừng từ {since}: các con số dưới đây không còn được cập nhật.',
      'prov.warn.rollup_offline_alive': 'Bộ tổng hợp số liệu của tỉnh đã dừng (lần cuối còn hoạt động lúc {since}): các con số dưới đây không còn được cập nhật.',
      'prov.warn.rollup_offline_unknown': 'Bộ tổng hợp số liệu của tỉnh đã dừng: các con số dưới đây không còn được cập nhật.',
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
      'prov.warn.rollup_offline_alive': 'The province roll-up has stopped (last seen alive at {since}): the figures below are no longer updated.',
      'prov.warn.rollup_offline_unknown': 'The province roll-up has stopped: the figures below are no longer updated.',
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

  const page = kdc.page.create({
    scope: 'province', clientId: 'kdc-prov-', clientGlobal: 'kdcProvinceClient', render: render,
  });
  const common = page.state;  // settings, lang, fmt, connection, fatal
  const state = {
    snap: null,           // province snapshot
    status: null,         // roll-up status message
    sort: { key: 'ward', dir: 'asc' },
  };

  const $ = page.$, h = page.h, t = page.t, scheduleRender = page.scheduleRender;

  // ---- messages ----------------------------------------------------------------

  function topics(code) {
    return ['kdc/v1/province/' + code + '/stats', 'kdc/v1/province/' + code + '/status/rollup'];
  }

  const decoder = new TextDecoder('utf-8');

  // Never throws: whatever arrives must not break the page.
  function onMessage(topic, payload) {
    const [stats, status] = topics(common.settings.province);
    const text = decoder.decode(payload);
    let v = null;
    if (text !== '') {
      try { v = JSON.parse(text); } catch (e) { return console.warn('kdc province: not JSON on ' + topic); }
      if (v === null || typeof v !== 'object') return;
    }
    if (topic === stats) {
      if (v && (v.schema !== SCHEMA || String(v.province) !== common.settings.province)) {
        return console.warn('kdc province: ignored a snapshot of schema ' + v.schema + ', province ' + v.province);
      }
      state.snap = v;
    } else if (topic === status) {
      state.status = v && typeof v.status === 'string' ? v : null;
    }
    scheduleRender();
  }

  // ---- rendering ---------------------------------------------------------------

  function render() {
    page.useOffset(state.snap);
    page.renderLabels();
    renderHeader();
    renderWarnings();
    if (common.fatal) { $('main').hidden = true; return; }
    // The same cards as the ward page's targets, from the province's sums.
    page.renderTargets($('targets'), state.snap, { waiting: 'prov.empty.waiting', none: 'prov.target.none' });
    renderOverview();
    renderWards();
    page.renderCharts(state.snap);
    renderFooter();
    const g = (p) => model.get(state.snap, p, null);
    document.body.dataset.provSeq = g('seq') === null ? '' : String(g('seq'));
    document.body.dataset.lang = common.lang;
  }

  function ageMs() {
    const asOf = model.get(state.snap, 'as_of_ms', null);
    return typeof asOf === 'number' ? Math.max(0, Date.now() - asOf) : null;
  }

  function renderHeader() {
    const fmt = common.fmt;
    const name = model.get(state.snap, 'province_name', '') ||
      t('prov.name', { province: common.settings.province || '?' });
    $('prov-name').textContent = name;
    document.title = name + ' · ' + t('prov.title');
    const st = state.status && ['online', 'offline'].includes(state.status.status) ? state.status.status : 'unknown';
    page.renderConn(st === 'offline');
    $('rollup').dataset.state = st;
    $('rollup').textContent = t('prov.rollup.' + st);
    const age = ageMs();
    const stale = age !== null && common.settings.staleMs > 0 && age > common.settings.staleMs;
    page.renderAge(age, stale, st === 'offline');
    document.body.dataset.rollup = st;
  }

  function wardState(w) {
    if (!w.reporting) return 'missing';
    if (w.online) return 'online';
    if (w.link === 'down') return 'offline';
    return ['offline', 'degraded'].includes(w.status) ? w.status : 'unknown';
  }

  function renderWarnings() {
    page.renderWarnings(() => {
      const fmt = common.fmt, items = [];
      const add = (kind, text, info) => items.push({ kind: kind, text: text, info: info });
      if (!page.connUp()) add('broker', page.brokerWarning());
      if (state.status && state.status.status === 'offline') {
        const since = page.stoppedSince(state.status, state.snap);
        add('rollup_offline', since === null ? t('prov.warn.rollup_offline_unknown')
          : t(since.exact ? 'prov.warn.rollup_offline' : 'prov.warn.rollup_offline_alive', { since: fmt.time(since.ms) }));
      }
      const age = ageMs();
      if (age !== null && common.settings.staleMs > 0 && age > common.settings.staleMs) {
        add('stale', t('warn.stale', { ago: fmt.ago(age), limit: fmt.int(common.settings.staleMs / 60000) }));
      }
      const wards = model.get(state.snap, 'wards', []);
      const offline = wards.filter((w) => w.reporting && !w.online).length;
      const missing = wards.filter((w) => !w.reporting).length;
      if (offline > 0) add('wards_offline', t('prov.warn.wards_offline', { n: fmt.int(offline) }), true);
      if (missing > 0) add('wards_missing', t('prov.warn.wards_missing', { n: fmt.int(missing) }), true);
      if (!state.snap && page.settled(Date.now())) {
        add('no_data', t('prov.warn.no_data', { province: common.settings.province }), true);
      }
      return items;
    });
  }

  function renderOverview() {
    const fmt = common.fmt, s = state.snap, g = (p) => model.get(s, p, null), box = $('overview');
    if (!s) return box.replaceChildren(h('p', { class: 'empty' }, t('prov.empty.waiting')));
    const card = page.card, part = (key, label, p, w) => page.partCard(key, label, g(p), g(w));
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

  // Sort key only: what is shown comes from the counts (page.rateCell).
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

  function rateCell(col, n, total) {
    return page.rateCell(col, t('prov.col.' + col), n, total);
  }

  function renderWards() {
    const fmt = common.fmt, rows = state.snap ? wardRows() : [];
    page.sortHeader('wards', state.sort);
    $('wards-empty').hidden = rows.length > 0 || !state.snap;
    $('wards').closest('.table-wrap').hidden = rows.length === 0;
    $('wards-hint').hidden = rows.length < 2;
    const now = Date.now();
    $('wards').tBodies[0].replaceChildren(...rows.map((r) => h('tr', { 'data-ward': r.code, 'data-state': r.state },
      h('th', { scope: 'row', 'data-col': 'ward' },
        h('a', { href: 'index.html?ward=' + encodeURIComponent(r.code) }, r.name),
        h('span', { class: 'ward-code' }, r.code)),
      rateCell('reached', r.reached, r.households),
      rateCell('paying', r.paying, r.people),
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
      td.textContent = common.fmt.ago(now - Number(td.dataset.asOf));
    }
  }

  function renderFooter() {
    const fmt = common.fmt, s = state.snap;
    $('foot-asof').textContent = s ? t('prov.foot.as_of', { t: fmt.time(s.as_of_ms || s.as_of), seq: fmt.int(s.seq) }) : '';
    $('foot-source').textContent = t('prov.foot.source', { broker: common.settings.url, province: common.settings.province });
  }

  function start() {
    page.onSortClick('wards', state.sort, ['ward', 'state', 'age'], renderWards);
    // ages move with the clock
    const code = page.start({ missing: 'prov.err.no_province', invalid: 'prov.err.bad_province' },
      () => { renderHeader(); renderWarnings(); renderAges(); },
      () => page.renderCharts(state.snap));
    if (code === null) return;
    render();
    page.connect(topics(code), onMessage);
  }

  kdc.page.onReady(start);
})(globalThis.kdc = globalThis.kdc || {});
