#!/usr/bin/env bash
# kdc-report close and reopen on a simulated campaign (kdc-sim, the shared
# broker, the real kdc-aggregator running throughout):
#  - a month not over is refused, a close without --by is a usage error;
#  - close freezes the month's figures: the stored JSON equals kdc-report
#    snapshot at the month's end, its SHA-256 is that of the text; a second
#    close is refused; the aggregator publishes it retained on stats/closed;
#  - a late event (kdc-event --at in the closed month, then sync): the frozen
#    figures and the retained closed topic stay, the live ward snapshot moves,
#    the next month's report lists the adjustment (workbook and HTML), and
#    the closed month's own report shows the official figures, who closed it,
#    and the recomputed ones beside;
#  - reopen needs a reason, is logged (period_log), and a close after it
#    freezes the figures anew (the late event in them);
#  - the reports from the live database and from `kdc-aggregator rebuild` of
#    a copy are the same but for the generation time (closed months included).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init report_close 300
. "$(dirname "${BASH_SOURCE[0]}")/report_lib.sh"
need_program KDC_EVENT
report_openpyxl

report_setup 90085 dump_sheet.py
dump=$check
port=$(broker_port "$BROKER_DIR")
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-close"
agg_wait_online "$BROKER_DIR" "$ward" 30
report_campaign "$url" "$profile" 70 41 "$db"

# the last whole month, its end, the current month
read -r month end cur <<<"$("$py" - "$WORK/summary.json" <<'PY'
import datetime, json, sys
s = json.load(open(sys.argv[1]))
tz = datetime.timezone(datetime.timedelta(hours=7))
today = datetime.datetime.fromtimestamp(s['end_ms'] // 1000, tz).date()
first = today.replace(day=1)
end = first - datetime.timedelta(days=1)
print(end.strftime('%Y-%m'), end, first.strftime('%Y-%m'))
PY
)"
kdc_say "closing $month (ends $end); current month $cur"

rep() { # ARGS...: kdc-report ARGS --db DB --profile PROFILE; RC, OUT, ERR
	"$KDC_REPORT" "$@" --db "$db" --profile "$profile" >"$WORK/out.txt" 2>"$WORK/err.txt"
	RC=$?
	OUT=$(cat "$WORK/out.txt")
	ERR=$(cat "$WORK/err.txt")
}
figures_of() { sql "$db" "select figures from closed_months where month = '$1'"; }
sha_of() { sql "$db" "select sha256 from closed_months where month = '$1'"; }

# refusals
rep close --month "$cur" --by "Lan"
assert_eq "close of the current month: exit status" 4 "$RC"
assert_contains "close of the current month: message" "$cur is not over yet" "$ERR"
rep close --month 2999-01 --by "Lan"
assert_eq "close of a future month: exit status" 4 "$RC"
rep close --month "$month"
assert_eq "close without --by: exit status" 2 "$RC"
rep close --month "$month" --by "   "
assert_eq "close with an empty --by: exit status" 2 "$RC"
assert_eq "closed months after the refusals" 0 "$(sql_count "$db" closed_months)"

# close, while the aggregator runs
rep close --month "$month" --by "Nguyễn Thị Lan"
assert_eq "close: exit status ($ERR)" 0 "$RC"
assert_contains "close: what it says" "closed $month by Nguyễn Thị Lan" "$OUT"
sha1=$(sha_of "$month")
figures_of "$month" >"$WORK/frozen1.json"
assert_eq "sha256 of the frozen figures" "$sha1" "$(printf '%s' "$(cat "$WORK/frozen1.json")" | sha256sum | cut -d' ' -f1)"
assert_contains "close: the hash it says" "$sha1" "$OUT"
rep snapshot --at "$end" --output "$WORK/end1.txt"
assert_eq "snapshot --at $end: exit status ($ERR)" 0 "$RC"
"$py" - "$WORK/frozen1.json" "$WORK/end1.txt" <<'PY' || fail "the frozen figures differ from the snapshot at the month's end"
import json, sys
frozen = json.load(open(sys.argv[1]))
snaps = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert frozen == snaps, (len(frozen), len(snaps))
assert frozen[0]['scope'] == 'ward' and len(frozen) == 5, [f['scope'] for f in frozen]
print(f'ok: the frozen figures are the {len(frozen)} snapshots at the month\'s end')
PY
assert_eq "period_log after the close" "close|Nguyễn Thị Lan|$sha1" \
	"$(sql "$db" "select action, by, sha256 from period_log order by pid")"

rep close --month "$month" --by "Minh"
assert_eq "a second close: exit status" 4 "$RC"
assert_contains "a second close: message" "$month is already closed (by Nguyễn Thị Lan" "$ERR"
assert_eq "the frozen figures after a second close" "$sha1" "$(sha_of "$month")"

# the aggregator publishes the closed months, retained
closed_topic() { # the retained stats/closed payload into $WORK/closed.json
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t "kdc/v1/$ward/stats/closed" -C 1 -W 5 \
		>"$WORK/closed.json" 2>/dev/null
}
closed_has() { closed_topic && grep -q "\"sha256\":\"$1\"" "$WORK/closed.json"; }
wait_for 30 "stats/closed naming $month with its hash" closed_has "$sha1"
"$py" - "$WORK/closed.json" "$WORK/frozen1.json" "$month" <<'PY' || fail "stats/closed differs from the table"
import json, sys
c = json.load(open(sys.argv[1])); frozen = json.load(open(sys.argv[2]))
assert c['schema'] == 'kdc.closed.v1', c
[m] = c['months']
assert m['month'] == sys.argv[3] and m['closed_by'] == 'Nguyễn Thị Lan', m
want = {t['indicator']: t['value'] for t in frozen[0]['targets']}
got = {t['indicator']: t['value'] for t in m['targets']}
assert got == want, (got, want)
print('ok: stats/closed holds the month, who closed it and the official target values')
PY

# a late event, dated in the closed month
dev=$WORK/late.conf
dev_config "$dev" "$BROKER_DIR" "$ward" A A-D1-late
late_at="${month}-15T05:00:00Z"
visited() { # the ward's households.visited in snapshot line(s) of file $1
	"$py" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["households"]["visited"])' "$1"
}
before=$(visited "$WORK/end1.txt")
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t "kdc/v1/$ward/stats/ward" -C 1 -W 5 >"$WORK/live0.json" 2>/dev/null
live_before=$(visited "$WORK/live0.json")
dev_event "$dev" visit --khom 1 --household HLATE1 --outcome surveyed --members 3 \
	--members-15plus 2 --smartphones 1 --at "$late_at"
dev_sync "$dev" 60
stored_late() { [ "$(sql_count "$db" events)" = $((TOTAL + 1)) ]; }
wait_for 30 "the late event stored" stored_late
live_moved() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t "kdc/v1/$ward/stats/ward" -C 1 -W 5 \
		>"$WORK/live1.json" 2>/dev/null && [ "$(visited "$WORK/live1.json")" = $((live_before + 1)) ]
}
wait_for 30 "the live ward snapshot counting the late visit" live_moved
assert_eq "the frozen figures after the late event" "$sha1" "$(sha_of "$month")"
cmp -s <(figures_of "$month") "$WORK/frozen1.json" || fail "the frozen figures changed after a late event"
closed_topic
grep -q "\"sha256\":\"$sha1\"" "$WORK/closed.json" || fail "stats/closed changed after a late event: $(cat "$WORK/closed.json")"
rep snapshot --at "$end" --output "$WORK/end2.txt"
assert_eq "households visited at $end, recomputed now" $((before + 1)) "$(visited "$WORK/end2.txt")"

# the next month's report lists the adjustment
rep monthly --month "$cur" --output "$WORK/cur.xlsx"
assert_eq "monthly $cur: exit status ($ERR)" 0 "$RC"
"$py" "$dump" "$WORK/cur.xlsx" "Điều chỉnh" >"$WORK/adj.tsv" || fail "no adjustments sheet in $cur's report"
tab=$'\t'
assert_contains "adjustment of the ward" "$month${tab}Phường thử số liệu${tab}Hộ đã thăm${tab}$before${tab}$((before + 1))${tab}1" "$(cat "$WORK/adj.tsv")"
assert_contains "adjustment of khóm 1" "$month${tab}Khóm 1${tab}Hộ đã thăm${tab}" "$(cat "$WORK/adj.tsv")"
assert_contains "adjustment of team A" "$month${tab}Tổ A${tab}Hộ đã thăm${tab}" "$(cat "$WORK/adj.tsv")"
assert_eq "adjustment rows of team B" 0 "$(grep -c "${tab}Tổ B${tab}" "$WORK/adj.tsv")"
assert_contains "the adjustments name who closed" "Nguyễn Thị Lan" "$(cat "$WORK/adj.tsv")"
rep monthly --month "$cur" --format html --lang en --output "$WORK/cur-en.html"
assert_eq "monthly $cur html: exit status ($ERR)" 0 "$RC"
grep -q "<td>$month</td><td>Phường thử số liệu</td><td>Households visited</td><td class=\"n\">$before</td><td class=\"n\">$((before + 1))</td><td class=\"n\">1</td>" \
	"$WORK/cur-en.html" || fail "the HTML page of $cur lacks the adjustment of the ward's households visited"
echo "ok: the HTML page (en) lists the adjustment"

# the closed month's own report: official figures, closed by, the recomputed beside
rep monthly --month "$month" --output "$WORK/month.xlsx"
assert_eq "monthly $month: exit status ($ERR)" 0 "$RC"
"$py" "$dump" "$WORK/month.xlsx" 0 >"$WORK/month.tsv"
assert_contains "closed mark" "Đã chốt số liệu${tab}bởi Nguyễn Thị Lan lúc" "$(cat "$WORK/month.tsv")"
assert_contains "hash" "SHA-256 số liệu chính thức${tab}$sha1" "$(cat "$WORK/month.tsv")"
assert_contains "official value of households visited" "Hộ đã thăm${tab}90${tab}2027-03-31${tab}$before${tab}" "$(cat "$WORK/month.tsv")"
assert_contains "the recomputed figures beside" "Phường thử số liệu${tab}Hộ đã thăm${tab}$before${tab}$((before + 1))${tab}1" "$(cat "$WORK/month.tsv")"

# the same reports from a rebuilt copy (closed month included), but for the stamp
sqlite3 "$db" ".backup '$WORK/copy.db'" || fail "cannot copy the database"
"$KDC_AGGREGATOR" rebuild --db "$WORK/copy.db" --profile "$profile" 2>"$WORK/rebuild.err" ||
	fail "rebuild of the copy failed: $(cat "$WORK/rebuild.err")"
for m in "$cur" "$month"; do
	"$KDC_REPORT" monthly --db "$WORK/copy.db" --profile "$profile" --month "$m" \
		--output "$WORK/copy-$m.xlsx" 2>/dev/null || fail "monthly $m from the copy failed"
	live=$WORK/month.xlsx
	[ "$m" = "$cur" ] && live=$WORK/cur.xlsx
	n=$("$py" "$here/check_monthly.py" same "$live" "$WORK/copy-$m.xlsx") ||
		fail "the report of $m from the rebuilt copy differs from the live one"
	printf 'ok: the report of %s from the rebuilt copy equals the live one but for its stamp (%s)\n' "$m" "$n"
done

# reopen: a reason is required, it is logged, and a new close freezes anew
rep reopen --month "$month" --by "Minh"
assert_eq "reopen without --reason: exit status" 2 "$RC"
rep reopen --month "$month" --reason "" --by "Minh"
assert_eq "reopen with an empty reason: exit status" 2 "$RC"
assert_eq "still closed after refused reopens" "$sha1" "$(sha_of "$month")"
rep reopen --month "$month" --reason "hộ HLATE1 thăm ngày 15, đồng bộ muộn" --by "Minh"
assert_eq "reopen: exit status ($ERR)" 0 "$RC"
assert_eq "closed months after the reopen" 0 "$(sql_count "$db" closed_months)"
assert_eq "period_log after the reopen" "close|Nguyễn Thị Lan||$sha1
reopen|Minh|hộ HLATE1 thăm ngày 15, đồng bộ muộn|$sha1" \
	"$(sql "$db" "select action, by, reason, sha256 from period_log order by pid")"
closed_empty() { closed_topic && grep -q '"months":\[\]' "$WORK/closed.json"; }
wait_for 30 "stats/closed without $month" closed_empty
rep reopen --month "$month" --reason "again" --by "Minh"
assert_eq "reopen of a month not closed: exit status" 4 "$RC"
assert_contains "reopen of a month not closed: message" "$month is not closed" "$ERR"
rep close --month "$month" --by "Minh"
assert_eq "close again: exit status ($ERR)" 0 "$RC"
sha2=$(sha_of "$month")
[ "$sha2" != "$sha1" ] || fail "the figures closed anew have the old hash"
"$py" -c 'import json,sys; print(json.loads(sys.argv[1])[0]["households"]["visited"])' "$(figures_of "$month")" \
	>"$WORK/v.txt"
assert_eq "households visited frozen anew" $((before + 1)) "$(cat "$WORK/v.txt")"
wait_for 30 "stats/closed with the new hash" closed_has "$sha2"
rep monthly --month "$cur" --output "$WORK/cur2.xlsx"
"$py" "$dump" "$WORK/cur2.xlsx" "Điều chỉnh" >"$WORK/adj2.tsv"
assert_contains "no adjustments once closed anew" "Không có điều chỉnh" "$(cat "$WORK/adj2.tsv")"
agg_alive "$WORK/agg" || fail "the aggregator died"
[ -z "$(ls "$TMPDIR")" ] || fail "kdc-report left files in TMPDIR: $(ls "$TMPDIR")"
kdc_say "kdc-report close/reopen: $month closed, a late event adjusted, reopened and closed anew"
