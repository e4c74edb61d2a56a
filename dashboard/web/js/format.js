// Number, date and age formatting for the dashboard.
//
// Classic script (no import/export) so that it loads from mosquitto's http_dir,
// which sends no Content-Type (browsers refuse ES modules without one). It is
// also importable by node for the logic tests: it only touches globalThis.kdc.
(function (kdc) {
  'use strict';

  // Vietnamese numbers and dates (1.234; 27/11/2026) in Vietnamese; English
  // readers get English digit grouping with the same day-first dates.
  const LOCALES = { vi: 'vi-VN', en: 'en-GB' };
  const DASH = '—';
  const DAY_MS = 86400000;

  function isNum(x) {
    return typeof x === 'number' && Number.isFinite(x);
  }

  // "2026-11-27" -> Date at 00:00 UTC, or null. Calendar dates (deadlines,
  // series days) are formatted in UTC so they never shift by a time zone.
  function parseDay(s) {
    if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
    const d = new Date(s + 'T00:00:00Z');
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function dayString(d) {
    return d.toISOString().slice(0, 10);
  }

  function addDays(dayStr, n) {
    const d = parseDay(dayStr);
    return d ? dayString(new Date(d.getTime() + n * DAY_MS)) : null;
  }

  // Whole days from day a to day b (both "YYYY-MM-DD"), or null.
  function daysBetween(a, b) {
    const da = parseDay(a), db = parseDay(b);
    return da && db ? Math.round((db - da) / DAY_MS) : null;
  }

  function toTime(x) {
    if (isNum(x)) return new Date(x);
    if (typeof x === 'string' && x !== '') {
      const d = new Date(x);
      if (!Number.isNaN(d.getTime())) return d;
    }
    return null;
  }

  // Returns a formatter bound to a language ('vi' or 'en') and to the time zone
  // in which instants (as_of, latest_event) are shown.
  function makeFormatter(lang, timeZone) {
    const locale = LOCALES[lang] || LOCALES.vi;
    const tz = timeZone || 'Asia/Ho_Chi_Minh';
    const intF = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    const pctF = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
    const vndF = new Intl.NumberFormat(locale, { style: 'currency', currency: 'VND' });
    const dayF = new Intl.DateTimeFormat(locale, {
      day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
    const timeF = new Intl.DateTimeFormat(locale, {
      day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: tz });
    const relF = new Intl.RelativeTimeFormat(lang === 'en' ? 'en' : 'vi', { numeric: 'always' });

    return {
      lang: lang,
      locale: locale,
      dash: DASH,
      int: (n) => (isNum(n) ? intF.format(n) : DASH),
      // p is in percent units (43.01 means 43.01 %), as in the stats JSON.
      pct: (p) => (isNum(p) ? pctF.format(p / 100) : DASH),
      // Share of part in whole, or a dash when the denominator is unknown or 0.
      ratio: (part, whole) => (isNum(part) && isNum(whole) && whole > 0
        ? pctF.format(part / whole) : DASH),
      vnd: (n) => (isNum(n) ? vndF.format(n) : DASH),
      day: (s) => {
        const d = parseDay(s);
        return d ? dayF.format(d) : DASH;
      },
      // Axis label: "27/11" in both languages (vi-VN's own short form is "27-11").
      dayShort: (s) => (parseDay(s) ? s.slice(8, 10) + '/' + s.slice(5, 7) : DASH),
      time: (x) => {
        const d = toTime(x);
        return d ? timeF.format(d) : DASH;
      },
      // Age in ms -> "3 phút trước" / "3 minutes ago", in the largest sensible unit.
      ago: (ms) => {
        if (!isNum(ms)) return DASH;
        const s = Math.max(0, Math.round(ms / 1000));
        if (s < 60) return relF.format(-s, 'second');
        if (s < 3600) return relF.format(-Math.floor(s / 60), 'minute');
        if (s < 48 * 3600) return relF.format(-Math.floor(s / 3600), 'hour');
        return relF.format(-Math.floor(s / 86400), 'day');
      },
    };
  }

  kdc.format = {
    makeFormatter: makeFormatter,
    parseDay: parseDay,
    dayString: dayString,
    addDays: addDays,
    daysBetween: daysBetween,
    toTime: toTime,
    isNum: isNum,
    DAY_MS: DAY_MS,
  };
})(globalThis.kdc = globalThis.kdc || {});
