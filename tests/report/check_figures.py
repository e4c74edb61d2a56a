#!/usr/bin/env python3
"""Compares two sets of kdc.stats.v1 snapshots field by field.

    check_figures.py same EXPECTED ACTUAL [--what TEXT] [--scopes N]

EXPECTED and ACTUAL hold one snapshot per line (kdc-report snapshot's
output, stats_at's, or the retained messages read with mosquitto_sub).
Every scope of EXPECTED must be in ACTUAL with every field equal, but for
those that say when and how often a snapshot was published (seq, as_of,
as_of_ms) and those the figures leave out (rejected_total: payloads, not
events; events.voided: read from the live events table). Prints the number
of fields compared; exits 1 naming the first differences."""
import argparse
import json
import sys

from report_words import report_bad

SKIP = {'seq', 'as_of', 'as_of_ms', 'rejected_total', 'events.voided'}


def flatten(o, prefix=''):
    """{"a": {"b": 1}, "c": [2]} -> {"a.b": 1, "c.0": 2}"""
    if isinstance(o, dict):
        items = o.items()
    elif isinstance(o, list):
        items = enumerate(o)
    else:
        return {prefix: o}
    out = {}
    for k, v in items:
        out.update(flatten(v, f'{prefix}.{k}' if prefix else str(k)))
    return out


def load(path):
    scopes = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            # mosquitto_sub -v: "topic json"
            if not line.startswith('{'):
                line = line.split(' ', 1)[1]
            s = json.loads(line)
            fields = flatten(s)
            scopes[(s['scope'], s['id'])] = fields
    return scopes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['same'])
    ap.add_argument('expected')
    ap.add_argument('actual')
    ap.add_argument('--what', default='figures')
    ap.add_argument('--scopes', type=int, default=0, help='scopes EXPECTED must hold at least')
    a = ap.parse_args()
    exp, act = load(a.expected), load(a.actual)
    if len(exp) < a.scopes:
        print(f'{a.what}: expected at least {a.scopes} scopes, found {len(exp)}', file=sys.stderr)
        return 1
    bad, n = [], 0
    for key, fields in sorted(exp.items(), key=lambda kv: (kv[0][0], kv[0][1] or '')):
        if key not in act:
            bad.append(f'scope {key} missing')
            continue
        other = act[key]
        for f, v in fields.items():
            if f in SKIP:
                continue
            n += 1
            if other.get(f, '<absent>') != v:
                bad.append(f'{key[0]} {key[1] or ""} {f}: expected {v!r}, got {other.get(f, "<absent>")!r}')
        for f in other:
            if f not in fields and f not in SKIP:
                bad.append(f'{key[0]} {key[1] or ""} {f}: not expected, got {other[f]!r}')
    return report_bad(bad, n, a.what)


if __name__ == '__main__':
    sys.exit(main())
