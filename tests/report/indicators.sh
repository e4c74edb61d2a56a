#!/usr/bin/env bash
# kdc-report export indicators on a simulated 50-day campaign (kdc-sim, the
# shared broker, the real kdc-aggregator): the CSV, read with Python's csv
# module, holds one row per period and scope, and each row equals the
# figures of `kdc-report snapshot` at the end of that period (step by step
# the same statistics code), --by day and --by month, in both languages,
# with --from/--to; for three period ends the rows also equal an
# independent `kdc-aggregator rebuild` of a copy of the database cut at
# that day. Made while the aggregator runs and after it stopped: the same
# bytes (nothing in the CSV depends on when it was made).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init report_indicators 280
. "$(dirname "${BASH_SOURCE[0]}")/report_lib.sh"
[ -n "${STATS_AT:-}" ] || fail "STATS_AT is not set (the test helper stats_at)"

report_setup 90083 check_indicators.py
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-indicators"
agg_wait_online "$BROKER_DIR" "$ward" 30
report_campaign "$url" "$profile" 50 23 "$db"

# indicators NAME ARGS...: the export into $WORK/NAME.csv
indicators() {
	local name=$1
	shift
	"$KDC_REPORT" export indicators --db "$db" --profile "$profile" "$@" \
		--output "$WORK/$name.csv" 2>"$WORK/report.err" ||
		fail "kdc-report export indicators $* failed: $(cat "$WORK/report.err")"
}
# periods CSV: the period ends of a CSV, one per line
periods() { python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))[1:]
print("\n".join(sorted({r[0] for r in rows})))' "$1"; }
# snaps CSV: --snap DAY=FILE for every period of CSV, from kdc-report snapshot
snaps() {
	local day
	SNAPS=()
	for day in $(periods "$1"); do
		[ -s "$WORK/snap-$day.txt" ] ||
			"$KDC_REPORT" snapshot --db "$db" --profile "$profile" --at "$day" \
				--output "$WORK/snap-$day.txt" 2>/dev/null || fail "kdc-report snapshot --at $day failed"
		SNAPS+=(--snap "$day=$WORK/snap-$day.txt")
	done
}

indicators live-month --by month
agg_alive "$WORK/agg" || fail "the aggregator died during the export"
assert_eq "mode of the CSV" 600 "$(stat -c %a "$WORK/live-month.csv")"
agg_stop "$WORK/agg"

indicators day --by day
snaps "$WORK/day.csv"
nper=${#SNAPS[@]}
assert_between "periods of --by day (two per day: --snap DAY=FILE)" 100 104 "$nper"
n=$(python3 "$check" "$WORK/day.csv" --lang vi --all-periods "${SNAPS[@]}") ||
	fail "export indicators --by day differs from the snapshots"
printf 'ok: --by day, %s periods x 5 scopes, %s values equal the snapshots at each day'\''s end\n' \
	$((nper / 2)) "$n"

indicators month --by month
cmp -s "$WORK/live-month.csv" "$WORK/month.csv" ||
	fail "the export made while the aggregator ran differs from the one made after it stopped"
printf 'ok: the same bytes while the aggregator ran and after it stopped\n'
snaps "$WORK/month.csv"
assert_eq "periods of --by month (51 days span 2 or 3 months)" 1 $((${#SNAPS[@]} >= 4 && ${#SNAPS[@]} <= 6))
n=$(python3 "$check" "$WORK/month.csv" --lang vi --all-periods "${SNAPS[@]}") ||
	fail "export indicators --by month differs from the snapshots"
printf 'ok: --by month, %s values equal the snapshots at each month'\''s end\n' "$n"
# three period ends against an independent rebuild of a cut copy
for day in $(periods "$WORK/month.csv" | head -n 2) $(periods "$WORK/day.csv" | sed -n 20p); do
	report_rebuilt_at "$db" "$profile" "$day" "$WORK/rebuilt-$day.txt"
	csv=$WORK/month.csv
	periods "$csv" | grep -x "$day" >/dev/null || csv=$WORK/day.csv
	n=$(python3 "$check" "$csv" --lang vi --snap "$day=$WORK/rebuilt-$day.txt") ||
		fail "the rows of $day differ from a rebuild of the copy cut at $day"
	printf 'ok: %s: %s values equal a rebuild of the copy cut there (%s events)\n' "$day" "$n" "$CUT_EVENTS"
done

# --from/--to and English
first=$(periods "$WORK/day.csv" | sed -n 10p)
last=$(periods "$WORK/day.csv" | sed -n 14p)
indicators range --by day --from "$first" --to "$last" --lang en
snaps "$WORK/range.csv"
assert_eq "periods of --from $first --to $last (days)" 10 "${#SNAPS[@]}"
n=$(python3 "$check" "$WORK/range.csv" --lang en --all-periods "${SNAPS[@]}") ||
	fail "export indicators --from --to --lang en differs from the snapshots"
printf 'ok: --from %s --to %s --lang en: %s values\n' "$first" "$last" "$n"
indicators range-month --by month --from "$first" --to "$last"
assert_eq "--by month within one range: its last day is the period end" "$last" \
	"$(periods "$WORK/range-month.csv" | tail -n 1)"

# errors
"$KDC_REPORT" export indicators --db "$db" --by week 2>"$WORK/err.txt"
assert_eq "--by week: exit status" 2 "$?"
assert_contains "--by week: message" "--by must be day or month" "$(cat "$WORK/err.txt")"
"$KDC_REPORT" export indicators --db "$db" --khom 1 2>"$WORK/err.txt"
assert_eq "--khom on export indicators: exit status" 2 "$?"
[ -z "$(ls "$TMPDIR")" ] || fail "the report left files in TMPDIR: $(ls "$TMPDIR")"
kdc_say "kdc-report export indicators: by day and month, equal to the snapshots and to rebuilds"
