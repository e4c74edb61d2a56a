// What the ward page (app.js) and the province page (province.js) have in
// common: settings from config.js and the address, the language and its
// toggle, the MQTT connection with its status pill and broker warning, the
// coalesced redraw, the fatal message, and the pieces of rendering that both
// draw the same way (target cards, overview cards, rate cells, sortable
// table headers, the daily charts).
// Classic script: see format.js for why. Needs format.js, i18n.js, model.js,
// chart.js and vendor/mqtt.min.js loaded before the page script that uses it.
(function (kdc) {
  'use strict';

  const LANG_KEY = 'kdc.dashboard.lang'; // one choice for both pages
  const DEFAULTS = {
    broker: '', brokerPort: null, brokerPath: '/mqtt', username: '', password: '',
    staleAfterSeconds: 120, timeZone: 'Asia/Ho_Chi_Minh', reconnectSeconds: 2,
  };
  // After connecting, how long to wait for retained messages before saying
  // that nothing was published; and the grace period at page load before an
  // unreachable broker is reported.
  const SETTLE_MS = 3000;
  const CONNECT_GRACE_MS = 4000;
  const CHART_DAYS = 60;

  const $ = (id) => document.getElementById(id);

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

  // `scope` names the page's subject in the address and in config.js
  // ('ward' or 'province'); settings[scope] is its code ('' when unset).
  function readSettings(scope) {
    const cfg = Object.assign({}, DEFAULTS, window.KDC_CONFIG || {});
    const q = new URLSearchParams(location.search);
    const s = {
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
    s[scope] = q.get(scope) || cfg[scope] || '';
    s.url = s.broker || defaultBroker(s);
    return s;
  }

  function chooseLang(fromUrl) {
    const LANGS = kdc.i18n.LANGS;
    if (LANGS.includes(fromUrl)) return fromUrl;
    try {
      const saved = localStorage.getItem(LANG_KEY);
      if (LANGS.includes(saved)) return saved;
    } catch (e) { /* storage disabled: keep the default */ }
    return 'vi';
  }

  // One page: its shared state and the helpers bound to it.
  //   opts.scope        'ward' | 'province' (see readSettings)
  //   opts.clientId     prefix of the MQTT client id
  //   opts.clientGlobal window property that holds the MQTT client
  //   opts.render       draws the whole page from the state
  function create(opts) {
    const st = {
      settings: null,
      lang: 'vi',
      fmt: null,
      conn: 'connecting',    // 'connecting' (never connected yet) | 'online' | 'offline'
      offsetMin: null,       // the shown snapshot's utc_offset_min (null: settings.timeZone)
      connError: null,       // last refusal by the broker, shown in the warning
      startedAt: Date.now(),
      connectedAt: 0,
      fatal: null,
      renderQueued: false,
    };
    const t = (key, params) => kdc.i18n.t(st.lang, key, params);
    const render = () => opts.render();

    function setLang(lang) {
      st.lang = lang;
      st.fmt = kdc.format.makeFormatter(lang, st.settings.timeZone, st.offsetMin);
      try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* not remembered */ }
      document.documentElement.lang = lang;
      render();
    }

    // Times and dates are the ward's local ones: the UTC offset of the shown
    // snapshot (its utc_offset_min) once there is one. Call before drawing.
    function useOffset(snap) {
      const off = kdc.model.get(snap, 'utc_offset_min', null);
      const min = kdc.format.isNum(off) ? off : null;
      if (min === st.offsetMin) return;
      st.offsetMin = min;
      st.fmt = kdc.format.makeFormatter(st.lang, st.settings.timeZone, min);
    }

    // Coalesce the burst of retained messages that arrives on (re)connect.
    function scheduleRender() {
      if (st.renderQueued) return;
      st.renderQueued = true;
      requestAnimationFrame(() => {
        st.renderQueued = false;
        render();
      });
    }

    function fatal(key, params) {
      st.fatal = { key: key, params: params };
      render();
    }

    // Subscribes to `topics` (exact names: RabbitMQ delivers retained
    // messages to those only) on every connect; onMessage(topic, payload).
    function connect(topics, onMessage) {
      const s = st.settings;
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
        clientId: opts.clientId + rnd,
        username: s.username || undefined,
        password: s.password || undefined,
        keepalive: 30,
        reconnectPeriod: s.reconnectMs,
        connectTimeout: 8000,
        resubscribe: false,          // we subscribe on every connect ourselves
      });
      client.on('connect', () => {
        st.conn = 'online';
        st.connError = null;
        st.connectedAt = Date.now();
        client.subscribe(topics, { qos: 1 }, (err, granted) => {
          if (err) {
            st.connError = String(err.message || err);
          } else if (granted && granted.some((g) => g.qos === 128)) {
            st.connError = t('err.denied');
          }
          scheduleRender();
        });
        setTimeout(scheduleRender, SETTLE_MS + 50);
        scheduleRender();
      });
      // MQTT.js emits 'close' after every failed attempt too; reconnectPeriod
      // keeps it trying for ever.
      client.on('close', () => {
        st.conn = 'offline';
        scheduleRender();
      });
      client.on('error', (err) => {
        // Refused CONNECT (bad credentials...); MQTT.js keeps retrying.
        st.connError = String((err && err.message) || err);
        scheduleRender();
      });
      client.on('message', onMessage);
      window[opts.clientGlobal] = client;
    }

    // 'online', 'connecting' (only during the grace period after the page
    // loads, so a normal load does not flash a warning), 'unreachable' (never
    // connected since the page loaded: the address may be wrong) or
    // 'offline' (connected before, lost since).
    function connShown() {
      if (st.conn === 'online') return 'online';
      if (st.connectedAt !== 0) return 'offline';
      return Date.now() - st.startedAt < CONNECT_GRACE_MS ? 'connecting' : 'unreachable';
    }

    // Whether the page is, or may soon be, connected to the broker.
    function connUp() {
      const shown = connShown();
      return shown === 'online' || shown === 'connecting';
    }

    // Connected long enough for the retained messages to have arrived.
    function settled(now) {
      return st.conn === 'online' && now - st.connectedAt > SETTLE_MS;
    }

    function renderLabels() {
      for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
      const btn = $('lang');
      btn.textContent = t('lang.toggle');
      btn.title = t('lang.toggle_title');
      btn.setAttribute('lang', st.lang === 'vi' ? 'en' : 'vi');
    }

    // The connection pill; returns what it shows. dataStopped: the source of
    // the figures (aggregator, roll-up) is offline, so a working connection
    // brings no new data and the pill must not say all is well.
    function renderConn(dataStopped) {
      const conn = $('conn');
      let shown = connShown();
      if (shown === 'online' && dataStopped) shown = 'stopped';
      conn.dataset.state = shown;
      conn.textContent = t('conn.' + shown);
      document.body.dataset.conn = shown;
      return shown;
    }

    // Never connected: say which address was tried and where it is set,
    // rather than "reconnecting" to something that never answered.
    function brokerWarning() {
      const why = st.connError ? ' (' + st.connError + ')' : '';
      if (connShown() === 'unreachable') return t('warn.unreachable', { url: st.settings.url }) + why;
      return t('warn.broker') + why;
    }

    // When the source of the figures stopped, in ms: `since` of its offline
    // status ({exact: true}); else, for a will (fixed when it connected, so
    // its since is null), the last time it was known alive: the as_of of its
    // last snapshot, which it republishes at least once a minute even when
    // nothing changed ({exact: false}); else null.
    function stoppedSince(status, snap) {
      const since = kdc.format.toTime(status && status.since);
      if (since) return { ms: since.getTime(), exact: true };
      const asOf = kdc.model.get(snap, 'as_of_ms', null) || Date.parse(kdc.model.get(snap, 'as_of', '')) || 0;
      return asOf > 0 ? { ms: asOf, exact: false } : null;
    }

    // The age pill: how old the figures are, and "stopped" when their source
    // is offline (whatever their age), "stale" past the age limit.
    function renderAge(ageMs, stale, stopped) {
      const fmt = st.fmt, age = $('age');
      age.dataset.state = ageMs === null ? 'none' : stopped ? 'stopped' : stale ? 'stale' : 'fresh';
      age.textContent = ageMs === null ? t('age.none')
        : t(stopped ? 'age.stopped' : 'age.label', { ago: fmt.ago(ageMs) });
    }

    // The fatal message alone once there is one, else what items() returns:
    // [{kind, text, info}].
    function renderWarnings(items) {
      const els = st.fatal
        ? [h('p', { class: 'warn error', 'data-warn': 'fatal' }, t(st.fatal.key, st.fatal.params))]
        : items().map((w) => h('p', { class: 'warn' + (w.info ? ' info' : ''), 'data-warn': w.kind }, w.text));
      $('warnings').replaceChildren(...els);
      document.body.dataset.warnings = els.map((e) => e.dataset.warn).join(' ');
    }

    // The label of a target's indicator (its code when the page has none).
    function indicatorLabel(ind) {
      return kdc.i18n.has(st.lang, 'ind.' + ind) ? t('ind.' + ind) : ind;
    }

    // The target cards of a stats snapshot (ward or province: same fields).
    // keys.waiting / keys.none: what to say without a snapshot / targets.
    function renderTargets(box, snap, keys) {
      const fmt = st.fmt;
      const targets = kdc.model.get(snap, 'targets', []);
      if (!snap) { box.replaceChildren(h('p', { class: 'empty' }, t(keys.waiting))); return; }
      if (!Array.isArray(targets) || targets.length === 0) {
        box.replaceChildren(h('p', { class: 'empty' }, t(keys.none)));
        return;
      }
      // days left are counted from the ward's local date of as_of, not UTC's
      const asOfDay = kdc.format.localDay(snap.as_of_ms || snap.as_of,
        kdc.model.get(snap, 'utc_offset_min', null), st.settings.timeZone);
      box.replaceChildren(...targets.map((tg) => {
        // The share is computed once from the counts and rounded down
        // (format.js shareTenths), never from the rounded `current`.
        const tenths = kdc.format.shareTenths(tg.value, tg.denominator);
        const goal = typeof tg.percent === 'number' ? tg.percent : null;
        // `met` is the aggregator's exact test on the counts; older snapshots
        // without it fall back to the same test here.
        const reached = typeof tg.met === 'boolean' ? tg.met
          : tenths !== null && goal !== null && tg.value * 100 >= goal * tg.denominator;
        const onTrack = tg.on_track === true;
        const badge = reached ? ['done', t('target.reached')]
          : onTrack ? ['ok', t('target.on_track')] : ['bad', t('target.off_track')];
        const left = asOfDay ? kdc.format.daysBetween(asOfDay, tg.deadline) : null;
        const deadlineNote = left === null || reached ? ''
          : left >= 0 ? ' · ' + t('target.days_left', { n: fmt.int(left) })
            : ' · ' + t('target.days_over', { n: fmt.int(-left) });
        const gained = typeof tg.gained_30d === 'number'
          ? ' · ' + t('target.gained', { n: fmt.signed(tg.gained_30d) }) : '';
        const projected = reached ? null : (tg.projected
          ? t('target.projected', { date: fmt.day(tg.projected) }) : t('target.projected_never')) + gained;
        const fill = tenths === null ? 0 : Math.max(0, Math.min(1000, tenths)) / 10;
        return h('article', { class: 'target', 'data-indicator': tg.indicator, 'data-state': badge[0] },
          h('h3', null, indicatorLabel(tg.indicator)),
          h('div', { class: 'target-main' },
            h('span', { class: 'big', 'data-f': 'current' }, fmt.ratio(tg.value, tg.denominator)),
            h('span', { class: 'count', 'data-f': 'count' },
              t('target.count', { value: fmt.int(tg.value), denominator: fmt.int(tg.denominator) })),
            h('span', { class: 'badge ' + badge[0], 'data-f': 'badge' }, badge[1])),
          h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
            'aria-valuenow': fill, 'aria-label': indicatorLabel(tg.indicator) },
            h('div', { class: 'fill', style: 'width:' + fill + '%' }),
            goal === null ? null : h('div', { class: 'marker', style: 'left:' + Math.min(100, goal) + '%',
              title: t('target.marker') })),
          h('p', { class: 'target-line', 'data-f': 'target' },
            t('target.line', { percent: fmt.goal(goal), deadline: fmt.day(tg.deadline) }) + deadlineNote),
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
      const fmt = st.fmt;
      return card(key, label, fmt.int(part), t('ov.of_total', { total: fmt.int(whole) }) + ' · ' + fmt.ratio(part, whole));
    }

    // A table cell "43% / 80/186" with its label for the narrow layout; the
    // share from the counts, as everywhere (fmt.ratio).
    function rateCell(col, label, n, total) {
      const fmt = st.fmt;
      return h('td', { class: 'num', 'data-col': col, 'data-label': label },
        h('span', { class: 'rate' }, fmt.ratio(n, total)),
        h('span', { class: 'frac' }, fmt.int(n) + '/' + fmt.int(total)));
    }

    // aria-sort on the headers of table `id` after sort {key, dir}.
    function sortHeader(id, sort) {
      for (const th of document.querySelectorAll('#' + id + ' thead th[data-sort]')) {
        const k = th.dataset.sort;
        th.setAttribute('aria-sort', k === sort.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
      }
    }

    // A click on table `id`'s header: the same column again turns the order
    // round, another one sorts by it, ascending for the keys in ascKeys
    // (names, ...) and descending for the rest (rates and recency are most
    // useful highest first); then() redraws.
    function onSortClick(id, sort, ascKeys, then) {
      $(id).tHead.addEventListener('click', (ev) => {
        const th = ev.target.closest('th[data-sort]');
        if (!th) return;
        const key = th.dataset.sort;
        if (sort.key === key) sort.dir = sort.dir === 'asc' ? 'desc' : 'asc';
        else { sort.key = key; sort.dir = ascKeys.includes(key) ? 'asc' : 'desc'; }
        then();
      });
    }

    // The figures in #charts, from the daily series of a stats snapshot.
    function renderCharts(snap) {
      const fmt = st.fmt;
      const byDay = kdc.model.seriesByDay(snap);
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

    // Settings, language and its toggle, the clock tick and the redraw on
    // resize (after 150 ms of quiet). Returns the page's code, or null after
    // showing why there is none (keys.missing / keys.invalid).
    function start(keys, tick, onResize) {
      st.settings = readSettings(opts.scope);
      st.lang = chooseLang(st.settings.lang);
      st.fmt = kdc.format.makeFormatter(st.lang, st.settings.timeZone, st.offsetMin);
      document.documentElement.lang = st.lang;

      $('lang').addEventListener('click', () => setLang(st.lang === 'vi' ? 'en' : 'vi'));
      let resizeTimer = 0;
      window.addEventListener('resize', () => {
        clearTimeout(resizeTimer);
        resizeTimer = setTimeout(onResize, 150);
      });
      setInterval(tick, 1000);

      const code = st.settings[opts.scope];
      if (!code) { fatal(keys.missing, {}); return null; }
      if (!kdc.model.isCode(code)) { fatal(keys.invalid, { [opts.scope]: code }); return null; }
      return code;
    }

    return {
      state: st, t: t, h: h, $: $,
      scheduleRender: scheduleRender, fatal: fatal, connect: connect,
      connShown: connShown, connUp: connUp, settled: settled, useOffset: useOffset,
      renderLabels: renderLabels, renderConn: renderConn, renderAge: renderAge,
      brokerWarning: brokerWarning, renderWarnings: renderWarnings,
      stoppedSince: stoppedSince,
      renderTargets: renderTargets, indicatorLabel: indicatorLabel, card: card, partCard: partCard, rateCell: rateCell,
      sortHeader: sortHeader, onSortClick: onSortClick, renderCharts: renderCharts,
      start: start,
    };
  }

  // Runs fn once the document is parsed.
  function onReady(fn) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fn);
    else fn();
  }

  kdc.page = { create: create, onReady: onReady, h: h, readSettings: readSettings, chooseLang: chooseLang };
})(globalThis.kdc = globalThis.kdc || {});
