#!/usr/bin/env python3
"""Checks a `kdc-report export events` CSV against the events table.

The expected rows are computed here, from a sqlite3 dump of the same
database and from the ward profile and proto/kdc/v1/event.proto, without
the code under test: the local time with Python's datetime, the names of
the codes from the .proto enums, the filters in Python.

  check_export.py CSV DUMP --profile INI --proto PROTO [--lang vi|en]
                  [--khom K] [--team T] [--kind N] [--from DATE] [--to DATE]
                  [--voided include|exclude|only] [--expect-rows N]

DUMP: sqlite3 output with fields separated by 0x1f and rows by 0x1e, of
  lower(hex(id)), occurred_ms, received_ms, khom, team, device, household,
  member, kind, subkind, method, amount_vnd, members, members_15plus,
  smartphones, needs, lower(hex(voided_by)), lower(hex(void target)), reason
Prints the number of rows checked; exits 1 with the first difference."""
import argparse
import configparser
import csv
import datetime
import io
import re
import sys

HEAD = {
    'vi': ['Mã sự kiện', 'Ngày', 'Giờ', 'Múi giờ', 'Mã khóm', 'Khóm', 'Mã tổ', 'Tổ', 'Thiết bị',
           'Mã hộ', 'Thành viên', 'Loại', 'Kết quả thăm', 'Số người trong hộ', 'Số người từ 15 tuổi',
           'Số điện thoại thông minh', 'Nhu cầu', 'Loại tài khoản', 'Mục đích thanh toán',
           'Hình thức thanh toán', 'Số tiền (VND)', 'Dịch vụ', 'Hủy sự kiện', 'Lý do hủy', 'Lưu lúc',
           'Bị hủy bởi'],
    'en': ['Event ID', 'Date', 'Time', 'UTC offset', 'Khóm code', 'Khóm', 'Team code', 'Team',
           'Device', 'Household', 'Member', 'Kind', 'Visit outcome', 'Members', 'Members 15+',
           'Smartphones', 'Needs', 'Account kind', 'Payment purpose', 'Payment method',
           'Amount (VND)', 'Service', 'Voids event', 'Void reason', 'Stored at', 'Voided by'],
}
KINDS = {
    'vi': ['Thăm hộ', 'Mở tài khoản', 'Thanh toán', 'Dịch vụ công', 'Thêm hộ', 'Hủy sự kiện'],
    'en': ['Visit', 'Account opened', 'Payment', 'Public service', 'Household added', 'Void'],
}


def fail(msg):
    print('FAIL: ' + msg, file=sys.stderr)
    sys.exit(1)


def proto_enums(path):
    """{'VisitOutcome': {1: 'surveyed', ...}, ...} from the .proto text."""
    text = open(path, encoding='utf-8').read()
    out = {}
    for name, body in re.findall(r'enum (\w+) \{(.*?)\}', text, re.S):
        prefix = re.sub(r'(?<!^)([A-Z])', r'_\1', name).upper() + '_'
        values = {}
        for const, num in re.findall(r'(\w+) = (\d+);', body):
            if int(num) and const.startswith(prefix):
                values[int(num)] = const[len(prefix):].lower()
        out[name] = values
    return out


def profile_names(path):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(path, encoding='utf-8')
    khoms = {s.split(None, 1)[1]: cp[s].get('name', 'Khóm ' + s.split(None, 1)[1])
             for s in cp.sections() if s.startswith('khom ')}
    teams = {s.split(None, 1)[1]: cp[s].get('name', 'Tổ ' + s.split(None, 1)[1])
             for s in cp.sections() if s.startswith('team ')}
    off = cp['ward'].get('utc_offset', '+07:00')
    m = re.fullmatch(r'([+-])(\d\d):(\d\d)', off)
    minutes = (1 if m.group(1) == '+' else -1) * (int(m.group(2)) * 60 + int(m.group(3)))
    return khoms, teams, minutes


def uuid(h):
    return '' if not h else '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def local(ms, minutes):
    tz = datetime.timezone(datetime.timedelta(minutes=minutes))
    return datetime.datetime.fromtimestamp(ms // 1000, tz)


def expected_row(f, a, enums, khoms, teams, minutes):
    (hid, occ, rec, khom, team, device, hh, member, kind, sub, method, amount, members, m15,
     phones, needs, voided_by, target, reason) = f
    occ, rec, kind, sub = int(occ), int(rec), int(kind), int(sub)
    t = local(occ, minutes)
    sign = '+' if minutes >= 0 else '-'
    name = lambda enum, v: enums[enum].get(v, str(v))
    need_names = [name('Need', n) for n in range(32) if int(needs) >> n & 1]
    return [
        uuid(hid), t.strftime('%Y-%m-%d'), t.strftime('%H:%M:%S'),
        'UTC%s%02d:%02d' % (sign, abs(minutes) // 60, abs(minutes) % 60),
        khom, khoms.get(khom, ''), team, teams.get(team, ''), device, hh,
        member if int(member) > 0 else '',
        KINDS[a.lang][kind] if kind < len(KINDS[a.lang]) else str(kind),
        name('VisitOutcome', sub) if kind == 0 else '',
        members if kind == 0 else '', m15 if kind == 0 else '', phones if kind == 0 else '',
        '; '.join(need_names) if kind == 0 else '',
        name('AccountKind', sub) if kind == 1 else '',
        name('PaymentPurpose', sub) if kind == 2 else '',
        name('PaymentMethod', int(method)) if kind == 2 else '',
        amount if kind == 2 and int(amount) != 0 else '',
        name('ServiceKind', sub) if kind == 3 else '',
        uuid(target), reason,
        local(rec, minutes).strftime('%Y-%m-%d %H:%M:%S'),
        uuid(voided_by),
    ]


def keep(f, row, a):
    """The filters, on the dump's values and the expected local date."""
    if a.khom is not None and f[3] != a.khom:
        return False
    if a.team is not None and f[4] != a.team:
        return False
    if a.kind is not None and int(f[8]) != a.kind:
        return False
    if a.date_from and row[1] < a.date_from:
        return False
    if a.date_to and row[1] > a.date_to:
        return False
    if a.voided == 'exclude' and f[16]:
        return False
    if a.voided == 'only' and not f[16]:
        return False
    return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument('csv')
    p.add_argument('dump')
    p.add_argument('--profile', required=True)
    p.add_argument('--proto', required=True)
    p.add_argument('--lang', default='vi')
    p.add_argument('--khom')
    p.add_argument('--team')
    p.add_argument('--kind', type=int)
    p.add_argument('--from', dest='date_from')
    p.add_argument('--to', dest='date_to')
    p.add_argument('--voided', default='include')
    p.add_argument('--expect-rows', type=int)
    a = p.parse_args()

    raw = open(a.csv, 'rb').read()
    if not raw.startswith(b'\xef\xbb\xbf'):
        fail('%s does not start with the UTF-8 byte-order mark: %r' % (a.csv, raw[:8]))
    if raw.count(b'\n') != raw.count(b'\r\n') or not raw.endswith(b'\r\n'):
        fail('%s: a line does not end in CRLF' % a.csv)
    rows = list(csv.reader(io.StringIO(raw.decode('utf-8-sig'), newline='')))
    if rows[0] != HEAD[a.lang]:
        fail('header: expected %s, got %s' % (HEAD[a.lang], rows[0]))
    rows = rows[1:]

    enums = proto_enums(a.proto)
    khoms, teams, minutes = profile_names(a.profile)
    dump = open(a.dump, encoding='utf-8', newline='').read()
    expected = []
    for rec in sorted(r for r in dump.split('\x1e') if r.strip('\n')):
        f = rec.strip('\n').split('\x1f')
        if len(f) != 19:
            fail('dump row with %d fields: %r' % (len(f), rec))
        row = expected_row(f, a, enums, khoms, teams, minutes)
        if keep(f, row, a):
            expected.append(row)
    if len(rows) != len(expected):
        fail('rows: expected %d, got %d' % (len(expected), len(rows)))
    for i, (want, got) in enumerate(zip(expected, rows)):
        if want != got:
            diff = [(HEAD['en'][j], w, g) for j, (w, g) in enumerate(zip(want, got)) if w != g]
            fail('row %d (%s): expected != got in %s' % (i + 1, want[0], diff or (want, got)))
    if a.expect_rows is not None and len(rows) != a.expect_rows:
        fail('rows: expected exactly %d, got %d' % (a.expect_rows, len(rows)))
    print(len(rows))


main()
