// The dashboard page: what the ward's retained stats, its closed months, the
// khóms' household lists and the aggregator status say (read-only subscriptions) and how they
// are drawn. Settings,
// language, the connection and what the province page draws the same way
// are in page.js.
// Classic script: see format.js for why. Needs format.js, i18n.js, model.js,
// chart.js, page.js and vendor/mqtt.min.js loaded before it.
(function (kdc) {
  'use strict';

  const model = kdc.model;
  const TEAM_DAYS = 7;

  const page = kdc.page.create({
    scope: 'ward', clientId: 'kdc-dash-', clientGlobal: 'kdcDashboardClient', render: render,
  });
  const common = page.state;  // settings, lang, fmt, connection, fatal
  const state = {
    ward: null,            // stats snapshot of the ward scope
    khoms: new Map(),      // khóm code -> snapshot
    teams: new Map(),      // team code -> snapshot
    households: new Map(), // khóm code -> household list (model.parseHouseholds)
    hhKhom: null,          // the khóm whose households are shown
    hhFilter: 'all',       // 'all' or a status: the households listed
    status: null,          // aggregator status message
    closed: null,          // closed months, newest first (model.parseClosed); null: none published
    sort: { key: 'khom', dir: 'asc' },
    ignored: 0,
  };

  const $ = page.$, h = page.h, t = page.t, scheduleRender = page.scheduleRender;

  // ---- MQTT -----------------------------------------------------------------

  const decoder = new TextDecoder('utf-8');

  function onMessage(topic, payload) {
    const r = model.route(topic, common.settings.ward);
    if (!r) return;
    const text = decoder.decode(payload);
    if (text.length === 0) {
      // An empty retained message deletes the topic: forget that scope.
      if (r.scope === 'ward') state.ward = null;
      else if (r.scope === 'status') state.status = null;
      else if (r.scope === 'closed') state.closed = null;
      else if (r.scope === 'households') state.households.delete(r.id);
      else (r.scope === 'khom' ? state.khoms : state.teams).delete(r.id);
      scheduleRender();
      return;
    }
    if (r.scope === 'status') {
      const p = model.parseStatus(text);
      if (p.error) return ignore(topic, p.error);
      state.status = p.status;
    } else if (r.scope === 'closed') {
      const p = model.parseClosed(text, common.settings.ward);
      if (p.error) return ignore(topic, p.error);
      if (p.dropped) console.warn('kdc dashboard: ' + p.dropped + ' closed months without a valid month left out on ' + topic);
      state.closed = p.months;
    } else if (r.scope === 'households') {
      const p = model.parseHouseholds(text, common.settings.ward, r.id);
      if (p.error) return ignore(topic, p.error);
      if (p.dropped) console.warn('kdc dashboard: ' + p.dropped + ' households without a code or status left out on ' + topic);
      state.households.set(r.id, p.list);
    } else {
      const p = model.parseSnapshot(text, common.settings.ward, r.scope);
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

  function render() {
    page.useOffset(state.ward);
    page.renderLabels();
    renderHeader();
    renderWarnings();
    if (common.fatal) {
      $('main').hidden = true;
      return;
    }
    page.renderTargets($('targets'), state.ward, { waiting: 'empty.waiting', none: 'target.none' });
    renderClosed();
    renderOverview();
    renderKhoms();
    renderHouseholds();
    page.renderCharts(state.ward);
    renderTeams();
    renderActivity();
    renderFooter();
    const seq = model.get(state.ward, 'seq', null);
    document.body.dataset.wardSeq = seq === null ? '' : String(seq);
    document.body.dataset.lang = common.lang;
  }

  function wardLabel() {
    return model.get(state.ward, 'ward_name', '') || t('app.ward', { ward: common.settings.ward || '?' });
  }

  function renderHeader() {
    const fmt = common.fmt;
    $('ward-name').textContent = wardLabel();
    document.title = wardLabel() + ' · ' + t('app.title');
    const aggOffline = aggIsOffline();
    page.renderConn(aggOffline);

    const agg = $('agg');
    const st = state.status ? state.status.status : 'unknown';
    const aggState = ['online', 'offline', 'degraded'].includes(st) ? st : 'unknown';
    agg.dataset.state = aggState;
    agg.textContent = t('agg.' + aggState);
    agg.title = state.status && state.status.since ? fmt.time(state.status.since) : '';

    const hl = health();
    page.renderAge(hl.ageMs, hl.warnings.some((w) => w.kind === 'stale'), aggOffline);
    document.body.dataset.agg = aggState;
  }

  // The aggregator said it stopped (its offline status or its will): every
  // indicator then says the figures have stopped.
  function aggIsOffline() {
    return state.status !== null && state.status.status === 'offline';
  }

  function health() {
    const now = Date.now();
    return model.health({
      now: now,
      ward: state.ward,
      status: state.status,
      connected: page.connUp(),
      settled: page.settled(now),
      staleMs: common.settings.staleMs,
    });
  }

  function renderWarnings() {
    page.renderWarnings(() => health().warnings.map((w) => {
      const fmt = common.fmt;
      let text;
      if (w.kind === 'broker') {
        text = page.brokerWarning();
      } else if (w.kind === 'agg_offline') {
        // the will cannot know when it is published: then the last time the
        // aggregator was known alive
        const since = page.stoppedSince(state.status, state.ward);
        text = since === null ? t('warn.agg_offline_unknown')
          : t(since.exact ? 'warn.agg_offline' : 'warn.agg_offline_alive', { since: fmt.time(since.ms) });
      } else if (w.kind === 'agg_degraded') {
        text = t('warn.agg_degraded', { reason: w.reason || fmt.dash });
      } else if (w.kind === 'stale') {
        text = t('warn.stale', { ago: fmt.ago(w.ageMs), limit: fmt.int(common.settings.staleMs / 60000) });
      } else {
        text = t('warn.no_data', { ward: common.settings.ward });
      }
      return { kind: w.kind, text: text, info: w.kind === 'no_data' };
    }));
  }

  // The closed months (stats/closed), newest first: who closed each and when,
  // and each target's official (frozen) figure beside the live one of the
  // ward snapshot, with the difference that late events made. No section
  // without the topic; one line when no month is closed.
  function renderClosed() {
    const fmt = common.fmt, months = state.closed;
    const sec = $('closed-sec'), box = $('closed');
    sec.hidden = months === null;
    sec.dataset.months = months === null ? '' : String(months.length);
    $('closed-hint').hidden = months === null || months.length === 0;
    if (months === null) { box.replaceChildren(); return; }
    if (months.length === 0) { box.replaceChildren(h('p', { class: 'empty', 'data-f': 'none' }, t('closed.none'))); return; }
    // a figure as the target cards show it: the share from the counts, then the counts
    const figure = (col, label, x) => h('td', { class: 'num', 'data-col': col, 'data-label': label },
      h('span', { class: 'rate' }, x ? fmt.ratio(x.value, x.denominator) : fmt.dash),
      h('span', { class: 'frac' }, x ? t('target.count', { value: fmt.int(x.value), denominator: fmt.int(x.denominator) }) : ''));
    box.replaceChildren(...months.map((m) => {
      const rows = model.closedRows(m, state.ward);
      return h('article', { class: 'closed-month', 'data-month': m.month },
        h('h3', { 'data-f': 'month' }, t('closed.month', { month: fmt.month(m.month) })),
        h('p', { class: 'closed-by', 'data-f': 'by' },
          t('closed.by_label') + ' ', h('strong', { 'data-f': 'name' }, m.closedBy || fmt.dash),
          ' · ' + t('closed.at', { t: fmt.time(m.closedAt) }),
          m.sha256 ? h('span', { class: 'closed-sha', 'data-f': 'sha', title: m.sha256 },
            ' · SHA-256 ' + m.sha256.slice(0, 12) + (m.sha256.length > 12 ? '…' : '')) : null),
        rows.length === 0 ? h('p', { class: 'empty' }, t('closed.no_targets')) : h('table', { class: 'closed-targets' },
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('closed.col.target')),
            h('th', { scope: 'col', class: 'num' }, t('closed.col.official')),
            h('th', { scope: 'col', class: 'num' }, t('closed.col.live')),
            h('th', { scope: 'col', class: 'num' }, t('closed.col.diff')))),
          h('tbody', null, ...rows.map((r) => h('tr', { 'data-indicator': r.indicator, 'data-differs': r.diff ? 'yes' : 'no' },
            h('th', { scope: 'row' }, page.indicatorLabel(r.indicator)),
            figure('official', t('closed.col.official'), r.official),
            figure('live', t('closed.col.live'), r.live),
            h('td', { class: 'num', 'data-col': 'diff', 'data-label': t('closed.col.diff') },
              r.diff ? fmt.signed(r.diff.value) + (r.diff.denominator !== 0 ? ' / ' + fmt.signed(r.diff.denominator) : '')
                : r.live ? t('closed.same') : fmt.dash))))));
    }));
  }

  function renderOverview() {
    const fmt = common.fmt, w = state.ward, g = (p) => model.get(w, p, null);
    const card = page.card, partCard = page.partCard;
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
        t('ov.stored') + ' ' + fmt.int(g('stored_total')) + ' · ' + t('ov.rejected') + ' ' + fmt.int(g('rejected_total')) +
        (voided(w) === null ? '' : ' · ' + t('ov.voided') + ' ' + fmt.int(voided(w)))));
  }

  // Events of the scope voided (corrected or withdrawn; in no figure), or
  // null for a snapshot without the field (older aggregators).
  function voided(snap) {
    const v = model.get(snap, 'events.voided', null);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
  }

  function rateCell(col, n, total) {
    return page.rateCell(col, t(col === 'paying' ? 'col.paying_short' : 'col.' + col), n, total);
  }

  function renderKhoms() {
    const fmt = common.fmt;
    page.sortHeader('khoms', state.sort);
    const rows = model.sortRows(model.khomRows(state.khoms), state.sort.key, state.sort.dir);
    const body = $('khoms').tBodies[0];
    $('khoms-empty').hidden = rows.length > 0;
    $('khoms').closest('.table-wrap').hidden = rows.length === 0;
    $('khoms-hint').hidden = rows.length < 2;
    body.replaceChildren(...rows.map((r) => h('tr', { 'data-khom': r.id },
      h('th', { scope: 'row', 'data-col': 'khom' }, r.name,
        r.unassigned ? h('span', { class: 'tag' }, t('khom.unassigned')) : null),
      h('td', { class: 'num', 'data-col': 'households', 'data-label': t('col.households') }, fmt.int(r.households)),
      rateCell('visited', r.visited, r.households),
      rateCell('reached', r.reached, r.households),
      rateCell('paying', r.paying, r.people15),
      h('td', { 'data-col': 'last', 'data-label': t('col.last') }, fmt.time(r.last)))));
  }

  // ---- the households of one khóm -------------------------------------------

  // Khóms to choose from: those with a household list or a snapshot.
  function householdKhoms() {
    const ids = new Set([...state.households.keys(), ...state.khoms.keys()]);
    return Array.from(ids).sort(model.compareCodes);
  }

  function khomName(id) {
    const l = state.households.get(id);
    return (l && l.name) || model.get(state.khoms.get(id), 'name', '') || id;
  }

  // A status as its code (1..5) and words, on its colour.
  function statusBadge(status) {
    return h('span', { class: 'hh-badge', 'data-status': status },
      h('span', { class: 'hh-code' }, String(model.HH_STATUSES.indexOf(status) + 1)), ' ',
      h('span', { class: 'hh-word' }, t('hh.status.' + status)));
  }

  function renderHouseholds() {
    const fmt = common.fmt;
    const ids = householdKhoms();
    const any = state.households.size > 0;
    if (state.hhKhom === null || !ids.includes(state.hhKhom)) {
      state.hhKhom = ids.find((id) => state.households.has(id)) || ids[0] || null;
    }
    const sel = $('hh-khom');
    // rebuilt only when the choice changes, not under an open list
    const key = common.lang + '|' + ids.map((id) => id + '=' + khomName(id)).join('|');
    if (sel.dataset.key !== key) {
      sel.replaceChildren(...ids.map((id) => h('option', { value: id }, khomName(id))));
      sel.dataset.key = key;
    }
    sel.value = state.hhKhom || '';
    const list = state.hhKhom === null ? null : state.households.get(state.hhKhom) || null;
    const box = $('households');
    box.dataset.khom = state.hhKhom || '';
    box.dataset.filter = state.hhFilter;
    box.querySelector('.hh-pick').hidden = !any;
    for (const id of ['hh-legend', 'hh-counts', 'hh-meta']) $(id).hidden = !list;
    const empty = $('hh-empty');
    if (!list) {
      empty.textContent = t(any ? 'hh.none_khom' : 'hh.none');
      empty.hidden = false;
      $('hh-wrap').hidden = true;
      $('hh-list').tBodies[0].replaceChildren();
      return;
    }
    const counts = model.householdCounts(list);
    const chip = (status, code, label, n) => h('button', {
      type: 'button', class: 'hh-chip', 'data-status': status,
      'aria-pressed': state.hhFilter === status ? 'true' : 'false',
    }, code === null ? null : h('span', { class: 'hh-code', 'data-status': status }, String(code)),
    h('span', { class: 'hh-word' }, label), ' ', h('span', { class: 'hh-n', 'data-f': 'count' }, fmt.int(n)));
    $('hh-counts').replaceChildren(chip('all', null, t('hh.all'), counts.total),
      ...model.HH_STATUSES.map((s, i) => chip(s, i + 1, t('hh.status.' + s), counts[s])));
    const rows = model.filterHouseholds(list, state.hhFilter);
    $('hh-meta').textContent = t(list.register ? 'hh.register' : 'hh.no_register',
      { total: fmt.int(counts.total), field: fmt.int(counts.field_added), t: fmt.time(list.asOf) }) +
      ' ' + t('hh.shown', { n: fmt.int(rows.length), total: fmt.int(counts.total) });
    $('hh-list').tBodies[0].replaceChildren(...rows.map((e) => h('tr', { 'data-household': e.household, 'data-status': e.status },
      h('th', { scope: 'row', 'data-col': 'household' }, e.household,
        e.fieldAdded ? h('span', { class: 'tag hh-field', 'data-f': 'field' }, '+ ' + t('hh.field_added')) : null),
      h('td', { 'data-col': 'status' }, statusBadge(e.status)),
      h('td', { class: 'num', 'data-col': 'attempts', 'data-label': t('hh.col.attempts') }, fmt.int(e.attempts)),
      h('td', { 'data-col': 'last', 'data-label': t('hh.col.last') }, fmt.time(e.lastAttempt)),
      h('td', { 'data-col': 'next', 'data-label': t('hh.col.next') }, e.next ? t('hh.next.' + e.next) : fmt.dash))));
    $('hh-wrap').hidden = rows.length === 0;
    empty.hidden = rows.length > 0;
    empty.textContent = rows.length > 0 ? '' : t('hh.none_status');
  }

  function renderTeams() {
    const fmt = common.fmt;
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
          t('team.last', { t: fmt.time(r.last) }) +
          (voided(state.teams.get(r.id)) > 0 ? ' · ' + t('team.voided', { n: fmt.int(voided(state.teams.get(r.id))) }) : '')));
      return { article: article, host: host, row: r };
    }).map((x) => {
      // Charts are sized from their host's width, so draw once attached.
      requestAnimationFrame(() => kdc.chart.bars(x.host, { dates: week.dates, values: x.row.days, fmt: fmt,
        height: 110, showValues: true, labelEvery: 1, label: x.row.name }));
      return x.article;
    }));
  }

  function renderActivity() {
    const fmt = common.fmt, w = state.ward;
    const wins = ['24h', '7d', '30d', 'total'];
    const tbl = $('activity');
    tbl.tHead.replaceChildren(h('tr', null, h('th', { scope: 'col' }, t('col.kind')),
      ...wins.map((x) => h('th', { scope: 'col', class: 'num' }, t('win.' + x)))));
    tbl.tBodies[0].replaceChildren(...model.KINDS.map((k) => h('tr', { 'data-kind': k },
      h('th', { scope: 'row' }, t('kind.' + k)),
      ...wins.map((x) => h('td', { class: 'num', 'data-win': x }, fmt.int(model.get(w, 'events.' + k + '.' + x, null)))))));
    const v = voided(w);
    $('voided').hidden = v === null;
    $('voided').textContent = v === null ? '' : t('ev.voided', { n: fmt.int(v) });

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
    const fmt = common.fmt, w = state.ward;
    $('foot-asof').textContent = w ? t('foot.as_of', { t: fmt.time(w.as_of_ms || w.as_of), seq: fmt.int(w.seq) }) : '';
    $('foot-source').textContent = t('foot.source', { broker: common.settings.url, ward: common.settings.ward });
  }

  // ---- start --------------------------------------------------------------

  function start() {
    page.onSortClick('khoms', state.sort, ['khom'], renderKhoms);
    $('hh-khom').addEventListener('change', (ev) => {
      state.hhKhom = ev.target.value;
      renderHouseholds();
    });
    $('hh-counts').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-status]');
      if (!b) return;
      state.hhFilter = b.dataset.status;
      renderHouseholds();
    });
    // The age of the data and the warnings move with the clock.
    const ward = page.start({ missing: 'err.no_ward', invalid: 'err.bad_ward' },
      () => { renderHeader(); renderWarnings(); },
      () => { page.renderCharts(state.ward); renderTeams(); });
    if (ward === null) return;
    render();
    page.connect(model.topics(ward), onMessage);
  }

  kdc.page.onReady(start);
})(globalThis.kdc = globalThis.kdc || {});
