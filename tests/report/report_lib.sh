# tests/report/report_lib.sh: what the kdc-report tests of figures share
# (sourced after tests/lib/common.sh and kdc_test_init).

# report_setup WARD CHECKER: what every figures test starts with: the
# programs it runs and the broker fixture checked; ward, the report's scratch
# folder TMPDIR inside the work folder (checked empty at the end by some),
# here (this folder), check (CHECKER in it), url of the broker, db and
# profile (written).
report_setup() {
	need_program KDC_REPORT
	need_program KDC_SIM
	need_program KDC_AGGREGATOR
	[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"
	url=$(broker_url "$BROKER_DIR")
	ward=$1
	export TMPDIR=$WORK/tmp
	mkdir -p "$TMPDIR"
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	check=$here/$2
	db=$WORK/agg/ward.db
	profile=$WORK/ward.ini
	report_profile "$ward" "$profile"
}

# report_openpyxl: py = a python3 with openpyxl (python3 may be another
# interpreter than Debian's, without it); fails the test when there is none.
report_openpyxl() {
	local p
	py=
	for p in python3 /usr/bin/python3; do
		"$p" -c 'import openpyxl' 2>/dev/null && { py=$p; return 0; }
	done
	fail "python3 has no openpyxl: install python3-openpyxl (scripts/install-deps.sh)"
}

# report_profile WARD FILE: a profile of two khóms with 6 and 4 businesses,
# two teams (devices A-D1, A-D2, B-D1, B-D2) and a target on each of the six
# indicators.
report_profile() {
	cat >"$2" <<INI
[ward]
code = $1
name = Phường thử số liệu
utc_offset = +07:00
[khom 1]
households = 50
people_15plus = 130
businesses = 6
[khom 2]
name = Khóm 2
households = 40
people_15plus = 100
businesses = 4
[team A]
khoms = 1
devices = A-D1, A-D2
[team B]
khoms = 2
devices = B-D1, B-D2
[target households_visited]
percent = 90
deadline = 2027-03-31
[target households_reached]
percent = 85.5
deadline = 2027-06-30
[target people_with_payment_account]
percent = 70
deadline = 2027-06-30
[target people_paying_regularly]
percent = 60
deadline = 2027-12-31
[target service_users_e_identified]
percent = 95
deadline = 2027-12-31
[target businesses_using_einvoice]
percent = 80
deadline = 2027-12-31
INI
}

# report_campaign URL PROFILE DAYS SEED DB: kdc-sim through the broker; waits
# until the aggregator stored every event; TOTAL is their number.
report_campaign() {
	local st
	kdc_say "kdc-sim: $3 days, seed $4"
	"$KDC_SIM" --broker "$1" --profile "$2" --dir "$WORK/sim" --days "$3" --seed "$4" \
		--team-devices 2 --sync-timeout 120 --progress lines --summary-json "$WORK/summary.json" \
		>"$WORK/sim.log" 2>&1
	st=$?
	KDC_LOGS+=("$WORK/sim.log")
	assert_eq "kdc-sim exit status" 0 "$st"
	TOTAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"]["total"])' \
		"$WORK/summary.json")
	assert_ge "events recorded by kdc-sim" 300 "$TOTAL"
	REPORT_DB=$5
	wait_for 60 "all $TOTAL events stored" report__stored_all
}
report__stored_all() { [ "$(sql_count "$REPORT_DB" events)" = "$TOTAL" ]; }

# report_day_end DAY: the last ms of DAY (YYYY-MM-DD) at UTC+07:00.
report_day_end() {
	python3 -c '
import datetime, sys
d = datetime.date.fromisoformat(sys.argv[1])
t = datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone(datetime.timedelta(hours=7)))
print(int((t + datetime.timedelta(days=1)).timestamp() * 1000) - 1)' "$1"
}

# report_rebuilt_at DB PROFILE DAY OUT: the independent figures at the end
# of DAY: a copy of DB without the later events (their stored times at most
# that moment, as if they had arrived by then), rebuilt by kdc-aggregator
# rebuild and read by stats_at into OUT. CUT_EVENTS: the events kept.
report_rebuilt_at() {
	local end_ms
	end_ms=$(report_day_end "$3")
	cp "$1" "$WORK/cut.db"
	sql "$WORK/cut.db" "delete from events where occurred_ms > $end_ms;
		update events set received_ms = min(received_ms, $end_ms);"
	CUT_EVENTS=$(sql_count "$WORK/cut.db" events)
	"$KDC_AGGREGATOR" rebuild --db "$WORK/cut.db" --profile "$2" 2>"$WORK/rebuild.err" ||
		fail "rebuild of the copy cut at $3 failed: $(cat "$WORK/rebuild.err")"
	"$STATS_AT" "$WORK/cut.db" "$2" "$end_ms" >"$4" || fail "stats_at failed on the copy cut at $3"
}
