#!/usr/bin/env bash
# kdc-report's figures at a moment (kdc-report snapshot), computed by the
# statistics module itself over the events up to that moment:
#  - as of the live aggregator's latest snapshot, they equal the retained
#    snapshots of the ward, each khóm and each team (read with mosquitto_sub)
#    field by field;
#  - as of the end of an earlier day, they equal what an independent
#    `kdc-aggregator rebuild` makes of a copy of the database from which the
#    later events were deleted (stats_at reads the rebuilt tables at that
#    moment); the copy's stored times are set to at most that moment, as if
#    the events had arrived by then (kdc_stats_fold_from takes them so);
#  - the database is only read: with the aggregator stopped its bytes and
#    mtime stay, no -wal or -shm appears.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init report_figures 280
. "$(dirname "${BASH_SOURCE[0]}")/report_lib.sh"
[ -n "${STATS_AT:-}" ] || fail "STATS_AT is not set (the test helper stats_at)"

report_setup 90082 check_figures.py
port=$(broker_port "$BROKER_DIR")
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-figures"
agg_wait_online "$BROKER_DIR" "$ward" 30

report_campaign "$url" "$profile" 45 11 "$db"
total=$TOTAL

# ---- as of the live snapshot ----------------------------------------------------------
# live_equal WHAT STORED HOUSEHOLDS: waits for the retained snapshots of every
# scope once the ward's counts STORED events of HOUSEHOLDS households, then
# compares each with the report as of the moment it was made
live_equal() {
	RET_STORED=$2 RET_HH=$3
	wait_for 60 "the retained ward snapshot counting $2 events of $3 households" retained
	for at in $(python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l.split(" ", 1)[1])["as_of"] for l in open(sys.argv[1])})))' \
		"$WORK/retained.txt"); do
		grep -F "\"as_of\":\"$at\"" "$WORK/retained.txt" >"$WORK/live-$at.txt"
		"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "$at" \
			--output "$WORK/report-$at.txt" 2>"$WORK/report.err" ||
			fail "kdc-report snapshot --at $at failed: $(cat "$WORK/report.err")"
		n=$(python3 "$check" same "$WORK/live-$at.txt" "$WORK/report-$at.txt" --what "as of $at") ||
			fail "$1: the figures as of $at differ from the live aggregator's retained snapshots"
		printf 'ok: %s: as of %s, %s fields of %s live snapshots equal the report'\''s\n' "$1" "$at" \
			"$n" "$(grep -c . "$WORK/live-$at.txt")"
	done
}
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v -t "kdc/v1/$ward/stats/#" -C 5 -W 5 \
		>"$WORK/retained.txt" 2>/dev/null
	[ "$(grep -c . "$WORK/retained.txt")" = 5 ] &&
		python3 - "$WORK/retained.txt" "$RET_STORED" "$RET_HH" <<'PY'
import json, sys
snaps = [json.loads(l.split(' ', 1)[1]) for l in open(sys.argv[1], encoding='utf-8')]
ward = [s for s in snaps if s['scope'] == 'ward'][0]
ok = ward['stored_total'] == int(sys.argv[2]) and ward['households']['total'] == int(sys.argv[3])
sys.exit(0 if ok else 1)
PY
}
live_equal "without a register" "$total" 90
assert_contains "snapshot summary" "wrote 5 snapshots to" "$(cat "$WORK/report.err")"

# the ward office imports a register of part of the households and part of
# the businesses: their events alone count, its households, people and
# businesses are the denominators (not the profile's 6 and 4 businesses)
{
	echo "khom,household,type,people_15plus"
	for i in $(seq -w 1 30); do echo "1,H0$i,,2"; done
	for i in $(seq -w 1 25); do echo "2,H0$i,,3"; done
	for i in 1 2 3 4; do echo "1,B000$i,business,"; done
	for i in 1 2; do echo "2,B000$i,business,"; done
} >"$WORK/register.csv"
"$KDC_AGGREGATOR" register import "$WORK/register.csv" --db "$db" --profile "$profile" --by test \
	>"$WORK/import.log" 2>&1 || fail "register import failed: $(cat "$WORK/import.log")"
counted=$(sql "$db" "select count(*) from events e where (kind < 4 or kind between 6 and 8) and voided_by is null and exists
	(select 1 from register r where r.khom = e.khom and r.household = e.household and r.retired_ms is null);")
assert_between "events of the register's households" 100 $((total - 1)) "$counted"
live_equal "with a register" "$counted" 55
assert_eq "businesses on the register (the retained ward snapshot)" 6 "$(python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    s = json.loads(l.split(" ", 1)[1])
    if s["scope"] == "ward":
        print(s["businesses"]["total"])' "$WORK/retained.txt")"

# ---- as of earlier days, against a rebuild of a cut copy ----------------------------------
agg_stop "$WORK/agg"
days=$(python3 - "$WORK/summary.json" <<'PY'
import datetime, json, sys
s = json.load(open(sys.argv[1]))
tz = datetime.timezone(datetime.timedelta(hours=7))
a = datetime.datetime.fromtimestamp(s['start_ms'] // 1000, tz).date()
print(a + datetime.timedelta(days=9), a + datetime.timedelta(days=31))
PY
)
for day in $days; do
	report_rebuilt_at "$db" "$profile" "$day" "$WORK/rebuilt-$day.txt"
	left=$CUT_EVENTS
	assert_between "events up to $day" 50 $((total - 50)) "$left"
	"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "$day" >"$WORK/report-$day.txt" \
		2>"$WORK/report.err" || fail "kdc-report snapshot --at $day failed: $(cat "$WORK/report.err")"
	n=$(python3 "$check" same "$WORK/rebuilt-$day.txt" "$WORK/report-$day.txt" --scopes 5 \
		--what "as of $day") || fail "the figures as of $day differ from a rebuild of the cut copy"
	printf 'ok: as of the end of %s (%s events), %s fields equal a rebuild of the cut copy\n' \
		"$day" "$left" "$n"
done

# ---- only read ------------------------------------------------------------------------------
[ -e "$db-wal" ] && fail "the aggregator left $db-wal after a clean stop"
before=$(sha256sum <"$db")$(stat -c %Y.%y "$db")
ls "$WORK/agg" >"$WORK/ls.before"
"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "${days##* }" >/dev/null 2>&1 ||
	fail "kdc-report snapshot of a stopped ward failed"
assert_eq "database bytes and mtime after the report" "$before" "$(sha256sum <"$db")$(stat -c %Y.%y "$db")"
ls "$WORK/agg" >"$WORK/ls.after"
cmp -s "$WORK/ls.before" "$WORK/ls.after" || fail "the report created files beside the database"
[ -z "$(ls "$TMPDIR")" ] || fail "the report left files in TMPDIR: $(ls "$TMPDIR")"
printf 'ok: the database only read, no scratch file left\n'

# errors
"$KDC_REPORT" snapshot --db "$db" 2>"$WORK/err.txt"
assert_eq "snapshot without --at: exit status" 2 "$?"
"$KDC_REPORT" snapshot --db "$db" --at 2026-13-01 2>"$WORK/err.txt"
assert_eq "snapshot --at a bad date: exit status" 2 "$?"
"$KDC_REPORT" export events --db "$db" --at 2026-11-01 2>"$WORK/err.txt"
assert_eq "--at on export events: exit status" 2 "$?"
assert_contains "--at on export events: message" "--at is not an option of export events" "$(cat "$WORK/err.txt")"
kdc_say "kdc-report snapshot: live and rebuilt figures equal, read only"
