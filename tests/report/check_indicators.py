#!/usr/bin/env python3
"""Checks a `kdc-report export indicators` CSV against snapshots.

    check_indicators.py CSV --lang vi|en --snap DAY=FILE [--snap DAY=FILE ...]
                        [--days N] [--all-periods]

FILE holds the kdc.stats.v1 snapshots (one per line) of every scope at the
end of DAY: kdc-report snapshot --at DAY, or stats_at over a rebuilt copy.
The file must be UTF-8 with a BOM, RFC 4180 with CRLF, with the header of
its language; every row of a DAY given must equal that snapshot's figures,
scope by scope in the snapshot's order (the ward, then the khóms and teams),
the target columns in the order of the snapshot's targets. With
--all-periods every period in the CSV must have a snapshot. Prints the
number of values compared; exits 1 naming the first differences."""
import argparse
import csv
import io
import json
import sys

from report_words import FIGURES, INDICATORS, report_bad

FIRST = [('Ngày cuối kỳ', 'Period end'), ('Cấp', 'Scope'), ('Mã', 'Code'), ('Tên', 'Name')]
SCOPES = {'ward': ('Phường', 'Ward'), 'khom': ('Khóm', 'Khóm'), 'team': ('Tổ', 'Team')}
PARTS = [('giá trị', 'value'), ('mẫu số', 'denominator'), ('hiện tại (%)', 'current (%)')]


def get(o, path):
    for p in path.split('.'):
        o = o[p]
    return o


def expected_header(ward, en):
    h = [f[en] for f in FIRST] + [f[1 + en] for f in FIGURES]
    for t in ward['targets']:
        name = INDICATORS[t['indicator']][en]
        if en:
            label = f"{name} (target {t['percent']}% by {t['deadline']})"
        else:
            label = f"{name} (mục tiêu {t['percent']}% đến {t['deadline']})"
        h += [f'{label}: {p[en]}' for p in PARTS]
    return h


def expected_row(day, s, en):
    r = [day, SCOPES[s['scope']][en], s['id'] or '', s['name']]
    r += [str(get(s, f[0])) for f in FIGURES]
    for t in s['targets']:
        r += [str(t['value']), str(t['denominator']), '' if t['current'] is None else t['current']]
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('csv')
    ap.add_argument('--lang', choices=['vi', 'en'], default='vi')
    ap.add_argument('--snap', action='append', default=[])
    ap.add_argument('--all-periods', action='store_true')
    a = ap.parse_args()
    en = a.lang == 'en'
    raw = open(a.csv, 'rb').read()
    if not raw.startswith(b'\xef\xbb\xbf'):
        sys.exit('no UTF-8 byte-order mark')
    text = raw[3:].decode('utf-8')
    if text.replace('\r\n', '').find('\n') >= 0 or not text.endswith('\r\n'):
        sys.exit('a line does not end in CRLF')
    rows = list(csv.reader(io.StringIO(text, newline='')))
    header, rows = rows[0], rows[1:]
    snaps = {}
    for spec in a.snap:
        day, path = spec.split('=', 1)
        # parse_float=str keeps the percents as written ("52.00")
        snaps[day] = [json.loads(l, parse_float=str) for l in open(path, encoding='utf-8') if l.strip()]
    bad, n, checked = [], 0, set()
    first = next(iter(snaps.values()))
    if header != expected_header(first[0], en):
        bad.append(f'header: expected {expected_header(first[0], en)}, got {header}')
    by_day = {}
    for r in rows:
        by_day.setdefault(r[0], []).append(r)
    if a.all_periods and set(by_day) != set(snaps):
        bad.append(f'periods: the CSV has {sorted(by_day)}, snapshots were made for {sorted(snaps)}')
    for day, ss in snaps.items():
        got = by_day.get(day, [])
        want = [expected_row(day, s, en) for s in ss]
        if len(got) != len(want):
            bad.append(f'{day}: expected {len(want)} rows (one per scope), got {len(got)}')
            continue
        for g, w in zip(got, want):
            for i, (x, y) in enumerate(zip(g, w)):
                n += 1
                if x != y:
                    bad.append(f'{day} {w[1]} {w[2]}: column {header[i]!r}: expected {y!r}, got {x!r}')
            if len(g) != len(w):
                bad.append(f'{day} {w[1]} {w[2]}: expected {len(w)} columns, got {len(g)}')
        checked.add(day)
    return report_bad(bad, n)


if __name__ == '__main__':
    sys.exit(main())
