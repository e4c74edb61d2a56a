#!/usr/bin/env python3
"""Checks a `kdc-report monthly` workbook (needs openpyxl).

    check_monthly.py figures XLSX --lang vi|en --end END --prev PREV --events CSV
        Every number of every scope's sheet equals the snapshots at the end
        of the month (END) and of the month before (PREV) (one kdc.stats.v1
        per line, from kdc-report snapshot): each target's value,
        denominator, current percent, change over the month, projected
        date, on track and met; each figure at both ends and its change. The
        events sheet equals the export events CSV of the month, cell by cell.
    check_monthly.py live XLSX --retained FILE
        The summary's counts that do not depend on the moment equal the
        live ward snapshot (mosquitto_sub -v output).
    check_monthly.py same A.xlsx B.xlsx
        The two workbooks are equal but for the generation time: every zip
        part byte for byte (the shared strings but the stamp's), and every
        cell as openpyxl reads it but the stamp.
Prints the number of values compared; exits 1 naming the differences."""
import argparse
import csv
import json
import re
import sys
import zipfile

import openpyxl

from report_words import FIGURES, INDICATORS, report_bad

W = {
    'indicator': ('Chỉ tiêu', 'Indicator'), 'target': ('Mục tiêu (%)', 'Target (%)'),
    'figure': ('Số liệu', 'Figure'), 'end': ('Cuối tháng', 'End of month'),
    'yes': ('có', 'yes'), 'no': ('không', 'no'),
    'not_at_pace': ('chưa đạt được với tốc độ hiện nay', 'not at the present pace'),
    'generated': ('Lập lúc', 'Generated at'),
}


def get(o, path):
    for p in path.split('.'):
        o = o[p]
    return o


def load_snaps(path):
    out = []
    for line in open(path, encoding='utf-8'):
        line = line.strip()
        if line:
            out.append(json.loads(line if line.startswith('{') else line.split(' ', 1)[1]))
    return out


def rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def table_after(rs, a, b):
    """The rows after the heading row whose first cells are a, b."""
    for i, r in enumerate(rs):
        if r[0] == a and len(r) > 1 and r[1] == b:
            out = []
            for r2 in rs[i + 1:]:
                if r2[0] is None:
                    break
                out.append(r2)
            return out
    raise SystemExit(f'no table headed {a!r}, {b!r}')


class Diff:
    def __init__(self):
        self.bad, self.n = [], 0

    def eq(self, what, want, got):
        self.n += 1
        if want != got:
            self.bad.append(f'{what}: expected {want!r}, got {got!r}')

    def done(self):
        return report_bad(self.bad, self.n)


def check_scope(d, ws, s, prev, en):
    rs = rows(ws)
    name = f"{ws.title}"
    targets = table_after(rs, W['indicator'][en], W['target'][en])
    d.eq(f'{name}: targets', len(s['targets']), len(targets))
    for t, p, r in zip(s['targets'], prev['targets'] if prev else [None] * 9, targets):
        what = f"{name} {t['indicator']}"
        d.eq(f'{what} label', INDICATORS[t['indicator']][en], r[0])
        d.eq(f'{what} target', float(t['percent']), float(r[1]))
        d.eq(f'{what} deadline', t['deadline'], r[2])
        d.eq(f'{what} value', t['value'], r[3])
        d.eq(f'{what} denominator', t['denominator'], r[4])
        d.eq(f'{what} current', None if t['current'] is None else float(t['current']), r[5])
        d.eq(f'{what} change over the month', t['value'] - (p['value'] if p else 0), r[6])
        d.eq(f'{what} projected', t['projected'] or W['not_at_pace'][en], r[7])
        d.eq(f'{what} on track', W['yes' if t['on_track'] else 'no'][en], r[8])
        d.eq(f'{what} met', W['yes' if t['met'] else 'no'][en], r[9])
    figs = table_after(rs, W['figure'][en], W['end'][en])
    d.eq(f'{name}: figures', len(FIGURES), len(figs))
    for (path, vi, eng), r in zip(FIGURES, figs):
        before = get(prev, path) if prev else 0
        d.eq(f'{name} {path} label', eng if en else vi, r[0])
        d.eq(f'{name} {path} at the end of the month', get(s, path), r[1])
        d.eq(f'{name} {path} at the end of the month before', before, r[2])
        d.eq(f'{name} {path} change', get(s, path) - before, r[3])


def cmd_figures(a):
    en = a.lang == 'en'
    wb = openpyxl.load_workbook(a.xlsx)
    end, prev = load_snaps(a.end), load_snaps(a.prev)
    prev_by = {(s['scope'], s['id']): s for s in prev}
    d = Diff()
    sheets = wb.worksheets
    d.eq('sheets (one per scope and the events)', len(end) + 1, len(sheets))
    for s, ws in zip(end, sheets):
        check_scope(d, ws, s, prev_by.get((s['scope'], s['id'])), en)
    ev = rows(sheets[-1])[1:]
    with open(a.events, encoding='utf-8-sig', newline='') as f:
        want = list(csv.reader(f))
    d.eq('event rows (with the header)', len(want), len(ev))
    for i, (w, g) in enumerate(zip(want, ev)):
        g = ['' if v is None else str(v) for v in g]
        g += [''] * (len(w) - len(g))
        d.eq(f'events row {i}', w, g)
    return d.done()


def cmd_live(a):
    wb = openpyxl.load_workbook(a.xlsx)
    ward = [s for s in load_snaps(a.retained) if s['scope'] == 'ward'][0]
    rs = rows(wb.worksheets[0])
    en = 1 if rs[1][0] == 'Ward' else 0
    figs = table_after(rs, W['figure'][en], W['end'][en])
    d = Diff()
    for (path, _, _), r in zip(FIGURES, figs):
        if path != 'people_15plus.paying_regularly':  # a window that ends at the moment
            d.eq(f'summary {path}', get(ward, path), r[1])
    targets = table_after(rs, W['indicator'][en], W['target'][en])
    for t, r in zip(ward['targets'], targets):
        if t['indicator'] != 'people_paying_regularly':
            d.eq(f"summary {t['indicator']} value", t['value'], r[3])
            d.eq(f"summary {t['indicator']} denominator", t['denominator'], r[4])
    return d.done()


def stamp_of(wb):
    ws = wb.worksheets[0]
    for row in ws.iter_rows():
        if row[0].value in W['generated']:
            return ws.title, row[1].coordinate, row[1].value
    raise SystemExit('no generation time in the summary')


def cmd_same(a):
    d = Diff()
    wa, wb = openpyxl.load_workbook(a.xlsx), openpyxl.load_workbook(a.other)
    sa, sb = stamp_of(wa), stamp_of(wb)
    d.eq('the stamp cell', sa[:2], sb[:2])
    d.eq('sheets', wa.sheetnames, wb.sheetnames)
    for x, y in zip(wa.worksheets, wb.worksheets):
        cx = {c.coordinate: c.value for r in x.iter_rows() for c in r if c.value is not None}
        cy = {c.coordinate: c.value for r in y.iter_rows() for c in r if c.value is not None}
        if x.title == sa[0]:
            cx.pop(sa[1], None)
            cy.pop(sb[1], None)
        d.eq(f'{x.title}: cells', sorted(cx), sorted(cy))
        for k in cx:
            d.eq(f'{x.title}!{k}', cx[k], cy.get(k))
    za, zb = zipfile.ZipFile(a.xlsx), zipfile.ZipFile(a.other)
    d.eq('zip parts', sorted(za.namelist()), sorted(zb.namelist()))
    for name in za.namelist():
        pa, pb = za.read(name), zb.read(name)
        if name == 'xl/sharedStrings.xml':
            def strip(p, stamp):
                p = p.decode('utf-8')
                n = p.count('<si>')
                p = re.sub(r'<si><t[^>]*>' + re.escape(stamp) + r'</t></si>', '<si/>', p)
                return p, n
            (pa, na), (pb, nb) = strip(pa, sa[2]), strip(pb, sb[2])
            d.eq('shared strings count', na, nb)
        d.eq(f'zip part {name} (bytes)', pa, pb)
    return d.done()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['figures', 'live', 'same'])
    ap.add_argument('xlsx')
    ap.add_argument('other', nargs='?')
    ap.add_argument('--lang', choices=['vi', 'en'], default='vi')
    ap.add_argument('--end')
    ap.add_argument('--prev')
    ap.add_argument('--events')
    ap.add_argument('--retained')
    a = ap.parse_args()
    return {'figures': cmd_figures, 'live': cmd_live, 'same': cmd_same}[a.mode](a)


if __name__ == '__main__':
    sys.exit(main())
