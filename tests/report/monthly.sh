#!/usr/bin/env bash
# kdc-report monthly on a simulated 90-day campaign (kdc-sim, the shared
# broker, the real kdc-aggregator), read with openpyxl:
#  - every number of the summary and of each khóm's and team's sheet equals
#    the figures at the end of the month and of the month before (kdc-report
#    snapshot, which tests/report/figures.sh holds to the live aggregator and
#    to rebuilds); the events sheet equals export events of the month;
#  - the current month's summary counts equal the live retained snapshot;
#  - a report made while the aggregator runs and one made from
#    `kdc-aggregator rebuild` of a copy of the database are the same but for
#    the generation time: the workbooks part by part and cell by cell, the
#    HTML pages line by line but its line; in English too;
#  - the HTML page escapes what it shows (a name with <, & and quotes).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init report_monthly 280
. "$(dirname "${BASH_SOURCE[0]}")/report_lib.sh"
report_openpyxl

report_setup 90084 check_monthly.py
# a name the HTML page must escape
sed -i 's/^name = Khóm 2$/name = Khóm 2 <"Bờ kè" \& chợ>/' "$profile"
port=$(broker_port "$BROKER_DIR")
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-monthly"
agg_wait_online "$BROKER_DIR" "$ward" 30
report_campaign "$url" "$profile" 90 31 "$db"

# the months: the last whole one, the one before it, and the current one
read -r month prev_end end cur <<<"$("$py" - "$WORK/summary.json" <<'PY'
import datetime, json, sys
s = json.load(open(sys.argv[1]))
tz = datetime.timezone(datetime.timedelta(hours=7))
today = datetime.datetime.fromtimestamp(s['end_ms'] // 1000, tz).date()
first = today.replace(day=1)
end = first - datetime.timedelta(days=1)
m = end.replace(day=1)
print(m.strftime('%Y-%m'), m - datetime.timedelta(days=1), end, first.strftime('%Y-%m'))
PY
)"
kdc_say "month $month (the month before ends $prev_end), current month $cur"

monthly() { # NAME ARGS...: kdc-report monthly into $WORK/NAME
	local name=$1
	shift
	"$KDC_REPORT" monthly --db "$DB" --profile "$profile" "$@" --output "$WORK/$name" \
		2>"$WORK/report.err" || fail "kdc-report monthly $* failed: $(cat "$WORK/report.err")"
}
DB=$db
monthly live.xlsx --month "$month"
assert_contains "summary line" "events in the monthly report to $WORK/live.xlsx" "$(cat "$WORK/report.err")"
assert_eq "mode of the workbook (household data)" 600 "$(stat -c %a "$WORK/live.xlsx")"
monthly live.html --month "$month" --format html
monthly live-en.xlsx --month "$month" --lang en
monthly live-en.html --month "$month" --lang en --format html
monthly current.xlsx --month "$cur"
agg_alive "$WORK/agg" || fail "the aggregator died during the reports"

# the current month's summary against the live retained ward snapshot
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v -t "kdc/v1/$ward/stats/ward" -C 1 -W 5 \
		>"$WORK/retained.txt" 2>/dev/null &&
		grep -q "\"stored_total\":$TOTAL[,}]" "$WORK/retained.txt"
}
wait_for 60 "the retained ward snapshot counting all $TOTAL events" retained
n=$("$py" "$check" live "$WORK/current.xlsx" --retained "$WORK/retained.txt") ||
	fail "the current month's summary differs from the live snapshot"
printf 'ok: the summary of %s: %s counts equal the live retained snapshot\n' "$cur" "$n"
agg_stop "$WORK/agg"

# every number against the figures at both ends of the month
"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "$end" --output "$WORK/end.txt" 2>/dev/null ||
	fail "snapshot --at $end failed"
"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "$prev_end" --output "$WORK/prev.txt" \
	2>/dev/null || fail "snapshot --at $prev_end failed"
for lang in vi en; do
	x=$WORK/live.xlsx
	[ "$lang" = en ] && x=$WORK/live-en.xlsx
	"$KDC_REPORT" export events --db "$db" --profile "$profile" --from "${month}-01" --to "$end" \
		--lang "$lang" --output "$WORK/events-$lang.csv" 2>/dev/null || fail "export events failed"
	n=$("$py" "$check" figures "$x" --lang "$lang" --end "$WORK/end.txt" --prev "$WORK/prev.txt" \
		--events "$WORK/events-$lang.csv") || fail "the workbook ($lang) differs from the figures"
	printf 'ok: workbook (%s): %s values equal the figures at the ends of %s and the month before, and export events\n' \
		"$lang" "$n" "$month"
done
grep -c . "$WORK/events-vi.csv" >/dev/null
assert_ge "events of $month in the workbook" 100 $(($(grep -c . "$WORK/events-vi.csv") - 1))

# the same report from a rebuilt copy, but for the generation time
cp "$db" "$WORK/copy.db"
"$KDC_AGGREGATOR" rebuild --db "$WORK/copy.db" --profile "$profile" 2>"$WORK/rebuild.err" ||
	fail "rebuild of the copy failed: $(cat "$WORK/rebuild.err")"
DB=$WORK/copy.db
monthly copy.xlsx --month "$month"
monthly copy.html --month "$month" --format html
monthly copy-en.xlsx --month "$month" --lang en
monthly copy-en.html --month "$month" --lang en --format html
for lang in "" -en; do
	n=$("$py" "$check" same "$WORK/live$lang.xlsx" "$WORK/copy$lang.xlsx") ||
		fail "the workbook$lang from the rebuilt copy differs from the live one"
	printf 'ok: workbook%s from the rebuilt copy equals the live one but for its stamp (%s comparisons)\n' \
		"$lang" "$n"
	for f in live copy; do
		grep -v -e '<b>Lập lúc</b>' -e '<b>Generated at</b>' "$WORK/$f$lang.html" >"$WORK/$f$lang.nostamp"
		assert_eq "$f$lang.html: lines with the generation time" 1 \
			$(($(grep -c . "$WORK/$f$lang.html") - $(grep -c . "$WORK/$f$lang.nostamp")))
	done
	cmp -s "$WORK/live$lang.nostamp" "$WORK/copy$lang.nostamp" ||
		fail "the HTML page$lang from the rebuilt copy differs: $(diff "$WORK/live$lang.nostamp" "$WORK/copy$lang.nostamp" | head -5)"
	printf 'ok: HTML page%s from the rebuilt copy equals the live one but for its stamp line\n' "$lang"
done

# the HTML page: escaped, and the same numbers as the workbook
assert_contains "escaped name" 'Khóm 2 &lt;&quot;Bờ kè&quot; &amp; chợ&gt;' "$(cat "$WORK/live.html")"
grep -q '<"Bờ kè"' "$WORK/live.html" && fail "the HTML page holds the name unescaped"
"$py" - "$WORK/live.html" "$WORK/live.xlsx" <<'PY' || fail "the HTML page's tables differ from the workbook's"
# the HTML's table rows against the workbook's rows of 3 cells or more (the
# tables; titles and labels have 1 or 2), numbers compared as numbers
import html.parser, sys, openpyxl
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.rows = []; s.cur = None
    def handle_starttag(s, t, a):
        if t == 'tr': s.rows.append([])
        if t in ('td', 'th'): s.cur = ''
    def handle_endtag(s, t):
        if t in ('td', 'th'): s.rows[-1].append(s.cur); s.cur = None
    def handle_data(s, d):
        if s.cur is not None: s.cur += d
def norm(v):
    if v is None: return ''
    try: return float(v)
    except ValueError: return str(v)
p = P(); p.feed(open(sys.argv[1], encoding='utf-8').read())
got = [[norm(c) for c in r] for r in p.rows]
want = []
for ws in openpyxl.load_workbook(sys.argv[2]).worksheets:
    for r in ws.iter_rows(values_only=True):
        last = max([i for i, v in enumerate(r) if v is not None], default=-1)
        if last >= 2:
            want.append([norm(v) for v in r[:last + 1]])
# the HTML keeps a row's empty cells at its end: compare up to the workbook's last
got = [g[:len(w)] if len(g) > len(w) and not any(x != '' for x in g[len(w):]) else g for g, w in zip(got, want)]
if got != want:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            print(f'row {i}: html {g}, workbook {w}', file=sys.stderr); break
    print(f'{len(p.rows)} html rows, {len(want)} workbook rows', file=sys.stderr)
    sys.exit(1)
print(f"ok: the HTML page's {len(got)} table rows hold the workbook's")
PY

# errors
"$KDC_REPORT" monthly --db "$db" --month 2026-13 --output "$WORK/x.xlsx" 2>"$WORK/err.txt"
assert_eq "--month 2026-13: exit status" 2 "$?"
"$KDC_REPORT" monthly --db "$db" --month "$month" 2>"$WORK/err.txt"
assert_eq "a workbook without --output: exit status" 2 "$?"
assert_contains "a workbook without --output: message" "give --output FILE.xlsx" "$(cat "$WORK/err.txt")"
"$KDC_REPORT" monthly --db "$db" --month "$month" --format pdf --output "$WORK/x.pdf" 2>"$WORK/err.txt"
assert_eq "--format pdf: exit status" 2 "$?"
[ -z "$(ls "$TMPDIR")" ] || fail "the report left files in TMPDIR: $(ls "$TMPDIR")"
kdc_say "kdc-report monthly: $month of a 90-day campaign checked against the figures; live and rebuilt equal"
