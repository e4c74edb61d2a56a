#!/usr/bin/env bash
# kdc-report export events on a real ward database: a 10-day simulated
# campaign for two khóms and two teams goes through kdc-sim, the shared
# broker and the real kdc-aggregator; a team member's device adds a visit
# and voids it with a reason holding a comma, quotes and Vietnamese letters.
# Then, while the aggregator still runs, kdc-report exports the events and
# check_export.py compares the CSV with sqlite3's dump of the same database
# (BOM, CRLF, header, every field of every row, the filters' subsets).
# Errors: no database, not a kdc database, a bad date, a mistyped kind or
# option, --output on the database, a full disk. Last, with the aggregator
# stopped (no -wal file): the export leaves the database's bytes and mtime
# as they were and creates no -wal or -shm; codes this build does not know
# are written as numbers.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init report_export 280
need_program KDC_REPORT
need_program KDC_SIM
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"
command -v python3 >/dev/null || fail "python3 is not installed"

ward=90081
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
check=$here/check_export.py
proto=$KDC_SOURCE_DIR/proto/kdc/v1/event.proto
db=$WORK/agg/ward.db
profile=$WORK/ward.ini
cat >"$profile" <<INI
[ward]
code = $ward
name = Phường thử, xuất báo cáo
utc_offset = +07:00
[khom 6]
name = Khóm 6
households = 60
people_15plus = 160
[khom 7]
name = Khóm 7 "Bờ kè", Phường 1
households = 40
people_15plus = 110
[team T1]
name = Tổ công nghệ số khóm 6
khoms = 6
devices = T1-D1, T1-D2
[team T2]
name = Tổ khóm 7
khoms = 7
devices = T2-D1, T2-D2, T2-D9
INI
url=$(broker_url "$BROKER_DIR")
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-report"
agg_wait_online "$BROKER_DIR" "$ward" 30

# ---- the events --------------------------------------------------------------------
kdc_say "kdc-sim: 10 days, seed 7, 2 devices per team"
"$KDC_SIM" --broker "$url" --profile "$profile" --dir "$WORK/sim" --days 10 --seed 7 \
	--team-devices 2 --sync-timeout 120 --progress lines --summary-json "$WORK/summary.json" \
	>"$WORK/sim.log" 2>&1
st=$?
KDC_LOGS+=("$WORK/sim.log")
assert_eq "kdc-sim exit status" 0 "$st"
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"]["total"])' "$WORK/summary.json")
assert_ge "events recorded by kdc-sim" 200 "$total"

conf=$WORK/d9.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T2 T2-D9 resend-after=5
dev_event "$conf" visit --khom 7 --household H900 --outcome declined
visit_id=$EVENT_ID
reason='nhập nhầm, hộ "H900" là hộ khác'
out=$("$KDC_EVENT" --config "$conf" void "$visit_id" --reason "$reason" 2>&1) ||
	fail "kdc-event void failed: $out"
void_id=${out#void } # "void ID"
[[ "$void_id" =~ ^[0-9a-f-]{36}$ ]] || fail "kdc-event void printed '$out', expected 'void ID'"
dev_sync "$conf" 60
stored_all() { [ "$(sql_count "$db" events)" = $((total + 2)) ]; }
wait_for 60 "all $((total + 2)) events stored" stored_all
voided() { [ "$(sql "$db" "select lower(hex(voided_by)) from events where lower(hex(id)) = '$(uuid_hex "$visit_id")';")" = "$(uuid_hex "$void_id")" ]; }
wait_for 60 "the visit voided" voided

dump() {
	sqlite3 -batch -noheader -cmd '.timeout 10000' -separator $'\x1f' -newline $'\x1e' "$db" \
		"select lower(hex(e.id)), e.occurred_ms, e.received_ms, e.khom, e.team, e.device,
		 e.household, e.member, e.kind, e.subkind, e.method, e.amount_vnd, e.members,
		 e.members_15plus, e.smartphones, e.needs, lower(hex(e.voided_by)),
		 lower(hex(v.target)), v.reason from events e left join voids v on v.void_id = e.id;" >"$1"
}
dump "$WORK/dump.txt"

# report ARGS...: kdc-report export events ARGS; status in RST, stderr in $WORK/report.err
report() {
	"$KDC_REPORT" export events "$@" 2>"$WORK/report.err"
	RST=$?
}

# ---- while the aggregator runs -------------------------------------------------------
{
	echo "broker = $url"
	echo "ward = $ward"
	echo "db = $db"
	echo "profile = $profile"
	echo "batch-ms = 50"
} >"$WORK/aggregator.conf"
report --config "$WORK/aggregator.conf" --output "$WORK/all.csv"
assert_eq "export with --config: exit status" 0 "$RST"
assert_contains "summary line" "wrote $((total + 2)) events to $WORK/all.csv" "$(cat "$WORK/report.err")"
agg_alive "$WORK/agg" || fail "the aggregator died during the export"
assert_eq "mode of the CSV (household data)" 600 "$(stat -c %a "$WORK/all.csv")"
n=$(python3 "$check" "$WORK/all.csv" "$WORK/dump.txt" --profile "$profile" --proto "$proto" \
	--expect-rows $((total + 2))) || fail "the full export differs from the events table"
assert_eq "rows of the full export equal to the events table, field by field" $((total + 2)) "$n"
assert_contains "the void's reason, quoted" "\"$(sed 's/"/""/g' <<<"$reason")\"" "$(cat "$WORK/all.csv")"

# filters: each subset equals the same filter applied to the dump
kinds=(visit account payment service household_added void)
dates=$(python3 - "$WORK/summary.json" <<'PY'
import datetime, json, sys
s = json.load(open(sys.argv[1]))
tz = datetime.timezone(datetime.timedelta(hours=7))
day = lambda ms: datetime.datetime.fromtimestamp(ms // 1000, tz).date()
a, b = day(s['start_ms']), day(s['end_ms'])
print(a + datetime.timedelta(days=3), a + datetime.timedelta(days=6))
PY
)
read -r d_from d_to <<<"$dates"
subset() { # NAME EXPECTED_MIN REPORT_ARGS -- CHECK_ARGS
	local name=$1 min=$2 args=() n
	shift 2
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	report --db "$db" --profile "$profile" "${args[@]}" --output "$WORK/sub.csv"
	assert_eq "$name: exit status" 0 "$RST"
	n=$(python3 "$check" "$WORK/sub.csv" "$WORK/dump.txt" --profile "$profile" --proto "$proto" "$@") ||
		fail "$name: the export differs from the events table"
	assert_ge "$name: rows equal to the dump's" "$min" "$n"
}
subset "--khom 7 --lang en" 10 --khom 7 --lang en -- --khom 7 --lang en
subset "--team T1" 10 --team T1 -- --team T1
subset "--kind payment" 1 --kind payment -- --kind 2
subset "--from $d_from --to $d_to" 10 --from "$d_from" --to "$d_to" -- --from "$d_from" --to "$d_to"
subset "--kind visit --from --to --khom 6" 1 --kind visit --from "$d_from" --to "$d_to" --khom 6 -- \
	--kind 0 --from "$d_from" --to "$d_to" --khom 6
subset "--voided only" 1 --voided only -- --voided only --expect-rows 1
subset "--voided exclude" $((total + 1)) --voided exclude -- --voided exclude --expect-rows $((total + 1))
subset "--kind void" 1 --kind void -- --kind 5 --expect-rows 1
report --db "$db" --from "$d_from" --to "$d_from" --khom 99 --output "$WORK/none.csv"
assert_eq "a filter matching nothing: exit status" 0 "$RST"
assert_contains "a filter matching nothing: summary" "wrote 0 events" "$(cat "$WORK/report.err")"

# standard output, when no --output
report --db "$db" --profile "$profile" --kind void >"$WORK/stdout.csv"
assert_eq "export to standard output: exit status" 0 "$RST"
python3 "$check" "$WORK/stdout.csv" "$WORK/dump.txt" --profile "$profile" --proto "$proto" \
	--kind 5 --expect-rows 1 >/dev/null || fail "export to standard output differs"
assert_contains "summary on stderr" "wrote 1 event to standard output" "$(cat "$WORK/report.err")"

# ---- errors ------------------------------------------------------------------------------
expect_error() { # WHAT STATUS TEXT ARGS...
	local what=$1 status=$2 text=$3
	shift 3
	report "$@" --output "$WORK/err.csv"
	assert_eq "$what: exit status" "$status" "$RST"
	assert_contains "$what: message" "$text" "$(cat "$WORK/report.err")"
}
expect_error "no database" 3 "there is no database $WORK/nope.db" --db "$WORK/nope.db"
[ -e "$WORK/nope.db" ] && fail "a missing database was created"
echo "not a database" >"$WORK/text.db"
expect_error "not a database" 3 "not an SQLite database" --db "$WORK/text.db"
sqlite3 "$WORK/other.db" "create table t(a);"
expect_error "another SQLite file" 3 "not a kdc events database" --db "$WORK/other.db"
expect_error "bad date" 2 "--from '2026-13-01' is not a date" --db "$db" --from 2026-13-01
expect_error "from after to" 2 "is after --to" --db "$db" --from 2026-11-02 --to 2026-11-01
expect_error "mistyped kind" 2 "did you mean payment?" --db "$db" --kind paymnet
expect_error "mistyped option" 2 "did you mean --khom?" --db "$db" --khon 6
expect_error "bad --voided" 2 "--voided must be include, exclude or only" --db "$db" --voided maybe
expect_error "no --db" 2 "--db PATH is required" --profile "$profile"
sha_before=$(sha256sum <"$db")
report --db "$db" --output "$db"
assert_eq "--output on the database: exit status" 2 "$RST"
assert_contains "--output on the database: message" "is the database itself" "$(cat "$WORK/report.err")"
report --db "$db" --output /dev/full
assert_eq "full disk: exit status" 1 "$RST"
assert_contains "full disk: message" "No space left on device" "$(cat "$WORK/report.err")"

# ---- with the aggregator stopped: nothing written, nothing created --------------------------
agg_stop "$WORK/agg"
[ -e "$db-wal" ] && fail "the aggregator left $db-wal after a clean stop (the check below needs none)"
before=$(sha256sum <"$db")$(stat -c %Y.%y "$db")
ls "$WORK/agg" >"$WORK/ls.before"
report --db "$db" --profile "$profile" --output "$WORK/stopped.csv"
assert_eq "export of a stopped ward: exit status" 0 "$RST"
assert_eq "database bytes and mtime after the export" "$before" "$(sha256sum <"$db")$(stat -c %Y.%y "$db")"
ls "$WORK/agg" >"$WORK/ls.after"
diff "$WORK/ls.before" "$WORK/ls.after" >/dev/null ||
	fail "the export created files beside the database: $(diff "$WORK/ls.before" "$WORK/ls.after")"
printf 'ok: no -wal or -shm created by the export\n'
cmp -s "$WORK/all.csv" "$WORK/stopped.csv" || fail "the export of the stopped ward differs from the live one"
printf 'ok: the same CSV as while the aggregator ran\n'

# a write to a stopped ward's database during the export (here: rows added
# while the export waits on a full pipe) is noticed: exit 1, nothing handed on
cp "$db" "$WORK/changing.db"
for _ in 1 2 3; do # about 4,000 rows: far more than a pipe holds
	sql "$WORK/changing.db" "insert into events select randomblob(16), seq, occurred_ms, received_ms,
		ward, khom, team, device, household, member, kind, subkind, method, amount_vnd, members,
		members_15plus, smartphones, needs, null, 0 from events;" || fail "cannot copy rows"
done
[ -e "$WORK/changing.db-wal" ] && fail "sqlite3 left a -wal file"
mkfifo "$WORK/pipe"
"$KDC_REPORT" export events --db "$WORK/changing.db" --output "$WORK/pipe" 2>"$WORK/changing.err" &
rpid=$!
KDC_PIDS+=("$rpid")
exec 3<"$WORK/pipe"
head -c 1000 <&3 >/dev/null # it has started, and now fills the pipe and waits
sql "$WORK/changing.db" "delete from events where kind = 1;" || fail "cannot change the database"
cat <&3 >/dev/null
exec 3<&-
pid_wait_dead "$rpid" 30 || fail "kdc-report did not finish"
kdc_forget_pid "$rpid"
assert_eq "database changed during the export: exit status" 1 "$KDC_WAIT_STATUS"
assert_contains "database changed during the export: message" "the database changed while it was read" \
	"$(cat "$WORK/changing.err")"
[ -e "$WORK/pipe" ] || fail "the pipe given as --output was removed"

# codes this build does not know: written as numbers
cp "$db" "$WORK/future.db"
sql "$WORK/future.db" "insert into events(id, seq, occurred_ms, received_ms, ward, khom, team, device,
	household, member, kind, subkind, method, amount_vnd, members, members_15plus, smartphones, needs)
	values (x'ffffffffffff7000800000000000000a', 1, 1764547200000, 1764547200000, '$ward', '6', 'T1',
	'T1-D1', 'H1', 1, 2, 42, 99, 5000, 0, 0, 0, 0),
	(x'ffffffffffff7000800000000000000b', 2, 1764547200000, 1764547200000, '$ward', '6', 'T1',
	'T1-D1', 'H1', 0, 9, 0, 0, 0, 0, 0, 0, 0);" || fail "cannot write the test rows"
report --db "$WORK/future.db" --kind payment --lang en --output "$WORK/future.csv"
assert_eq "unknown codes: exit status" 0 "$RST"
assert_contains "unknown purpose and method as numbers" ",Payment,,,,,,,42,99,5000," "$(cat "$WORK/future.csv")"
report --db "$WORK/future.db" --lang en --output "$WORK/future.csv"
assert_contains "unknown kind as its number" ",H1,,9," "$(cat "$WORK/future.csv")"
kdc_say "kdc-report export events: $((total + 2)) events, filters, errors, read-only"
