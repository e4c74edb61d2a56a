// Small hand-drawn SVG bar charts: no chart library, nothing from the network.
// Classic script: see format.js for why.
(function (kdc) {
  'use strict';

  const NS = 'http://www.w3.org/2000/svg';

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A round upper bound for the y axis: 1, 2, 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // Draws a daily bar chart into host (replacing its content), sized to the
  // host's current width. opts: dates (YYYY-MM-DD), values, fmt (formatter),
  // height, labelEvery (days between x labels, 0 = choose), showValues.
  function bars(host, opts) {
    const dates = opts.dates, values = opts.values, fmt = opts.fmt;
    const width = Math.max(200, Math.floor(host.clientWidth || 300));
    const height = opts.height || 160;
    const left = opts.showValues ? 4 : 34, right = 6, top = opts.showValues ? 16 : 10, bottom = 20;
    const w = width - left - right, h = height - top - bottom;
    const n = values.length;
    const max = opts.showValues ? Math.max(1, ...values) : niceMax(Math.max(0, ...values));
    const svg = el('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height,
      role: 'img', class: 'chart-svg' });
    if (opts.label) svg.setAttribute('aria-label', opts.label);

    if (!opts.showValues) {
      // Horizontal grid at 0, max and, when it is a whole number, half of
      // max; labelled on the left.
      for (const f of Number.isInteger(max / 2) ? [0, 0.5, 1] : [0, 1]) {
        const y = top + h - f * h;
        svg.appendChild(el('line', { x1: left, x2: left + w, y1: y, y2: y, class: 'chart-grid' }));
        svg.appendChild(el('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'chart-axis' },
          fmt.int(max * f)));
      }
    }

    const slot = w / Math.max(1, n);
    const barW = Math.max(1, slot * (n > 20 ? 0.75 : 0.6));
    const every = opts.labelEvery || (slot >= 34 ? 1 : Math.ceil(40 / slot));
    for (let i = 0; i < n; i++) {
      const v = values[i] || 0;
      const bh = (v / max) * h;
      const x = left + i * slot + (slot - barW) / 2;
      const r = el('rect', { x: x.toFixed(1), y: (top + h - bh).toFixed(1), width: barW.toFixed(1),
        height: Math.max(v > 0 ? 1 : 0, bh).toFixed(1), class: 'chart-bar', 'data-day': dates[i], 'data-value': v });
      r.appendChild(el('title', {}, fmt.day(dates[i]) + ': ' + fmt.int(v)));
      svg.appendChild(r);
      if (opts.showValues) {
        svg.appendChild(el('text', { x: (left + i * slot + slot / 2).toFixed(1), y: (top + h - bh - 3).toFixed(1),
          'text-anchor': 'middle', class: 'chart-value' }, fmt.int(v)));
      }
      // Label the last day always, and every `every` days counting back from it.
      // Labels near either edge are anchored inwards so they are not clipped.
      if ((n - 1 - i) % every === 0) {
        const cx = left + i * slot + slot / 2;
        const anchor = cx + 16 > width ? 'end' : cx - 16 < 0 ? 'start' : 'middle';
        svg.appendChild(el('text', { x: (anchor === 'end' ? width - 1 : anchor === 'start' ? 1 : cx).toFixed(1),
          y: height - 5, 'text-anchor': anchor, class: 'chart-axis' }, fmt.dayShort(dates[i])));
      }
    }
    svg.appendChild(el('line', { x1: left, x2: left + w, y1: top + h, y2: top + h, class: 'chart-base' }));
    host.replaceChildren(svg);
  }

  kdc.chart = { bars: bars, niceMax: niceMax };
})(globalThis.kdc = globalThis.kdc || {});
