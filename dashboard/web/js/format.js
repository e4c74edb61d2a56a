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

  // Share of part in whole in tenths of a percent, rounded down (158 of 186
  // -> 849, shown 84.9 %), or null. The one rounding rule of every percentage
  // the dashboard computes from counts: never up, so that a share below a
  // target never shows as reaching it. Exact for whole counts below 2^43.
  function shareTenths(part, whole) {
    if (!isNum(part) || !isNum(whole) || whole <= 0 || part < 0) return null;
    return Math.floor((part * 1000) / whole);
  }

  // The ward's local date ("YYYY-MM-DD") of instant x (ms or ISO text): with
  // offsetMin (the snapshot's utc_offset_min) when known, else in timeZone.
  function localDay(x, offsetMin, timeZone) {
    const d = toTime(x);
    if (!d) return null;
    if (isNum(offsetMin)) return dayString(new Date(d.getTime() + offsetMin * 60000));
    // en-CA writes dates as YYYY-MM-DD
    return new Intl.DateTimeFormat('en-CA', { timeZone: timeZone || 'Asia/Ho_Chi_Minh',
      year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  }

  function toTime(x) {
    if (isNum(x)) return new Date(x);
    if (typeof x === 'string' && x !== '') {
      const d = new Date(x);
      if (!Number.isNaN(d.getTime())) return d;
    }
    return null;
  }

  // Returns a formatter bound to a language ('vi' or 'en') and to the ward's
  // local time in which instants (as_of, latest_event) are shown: its UTC
  // offset in minutes when known (offsetMin, the snapshot's utc_offset_min),
  // else the time zone timeZone.
  function makeFormatter(lang, timeZone, offsetMin) {
    const locale = LOCALES[lang] || LOCALES.vi;
    const tz = timeZone || 'Asia/Ho_Chi_Minh';
    const intF = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    const pctF = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
    // declared percentages (targets: up to 2 decimals) are shown as declared
    const goalF = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 2 });
    const fixed = isNum(offsetMin);
    const vndF = new Intl.NumberFormat(locale, { style: 'currency', currency: 'VND' });
    const dayF = new Intl.DateTimeFormat(locale, {
      day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
    const timeF = new Intl.DateTimeFormat(locale, {
      day: '2-digit', month: '2-digit', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: fixed ? 'UTC' : tz });
    // a calendar month: "11/2026" in Vietnamese (read "Tháng 11/2026"),
    // "November 2026" in English
    const monthF = lang === 'en' ? new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' }) : null;
    const relF = new Intl.RelativeTimeFormat(lang === 'en' ? 'en' : 'vi', { numeric: 'always' });

    return {
      lang: lang,
      locale: locale,
      dash: DASH,
      offsetMin: fixed ? offsetMin : null,
      int: (n) => (isNum(n) ? intF.format(n) : DASH),
      // A declared percentage (a target's `percent`: 85 means 85 %), as is.
      goal: (p) => (isNum(p) ? goalF.format(p / 100) : DASH),
      // Share of part in whole from the counts, one decimal rounded down
      // (shareTenths), or a dash when the denominator is unknown or 0.
      ratio: (part, whole) => {
        const t = shareTenths(part, whole);
        return t === null ? DASH : pctF.format(t / 1000);
      },
      vnd: (n) => (isNum(n) ? vndF.format(n) : DASH),
      day: (s) => {
        const d = parseDay(s);
        return d ? dayF.format(d) : DASH;
      },
      // A calendar month "2026-11": "11/2026" (vi) or "November 2026" (en).
      month: (s) => {
        if (typeof s !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(s)) return DASH;
        return monthF ? monthF.format(new Date(s + '-01T00:00:00Z')) : s.slice(5, 7) + '/' + s.slice(0, 4);
      },
      // A signed whole number: "+3", "-2", "0" (a change).
      signed: (n) => (isNum(n) ? (n > 0 ? '+' : '') + intF.format(n) : DASH),
      // Axis label: "27/11" in both languages (vi-VN's own short form is "27-11").
      dayShort: (s) => (parseDay(s) ? s.slice(8, 10) + '/' + s.slice(5, 7) : DASH),
      time: (x) => {
        const d = toTime(x);
        if (!d) return DASH;
        return timeF.format(fixed ? new Date(d.getTime() + offsetMin * 60000) : d);
      },
      // The ward's local date of instant x ("YYYY-MM-DD"), or null.
      localDay: (x) => localDay(x, fixed ? offsetMin : null, tz),
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
    shareTenths: shareTenths,
    localDay: localDay,
    DAY_MS: DAY_MS,
  };
})(globalThis.kdc = globalThis.kdc || {});
