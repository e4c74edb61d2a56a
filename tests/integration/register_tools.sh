#!/usr/bin/env bash
# The ward office's register and void, through the real programs:
#  - `register import` of the example register (186 households of khóm 6):
#    the dry run prints what would change and changes nothing; the import
#    works while the aggregator runs and writes one register_log row per
#    household (who, when); a file with bad rows is refused with FILE:LINE
#    errors, exit 2, nothing changed;
#  - `register add`, `retire`, `list`, `log`;
#  - `events` shows the ids; `void` while the aggregator runs voids one event
#    (voids row of the ward, events.voided_by, a 'void' log row) and refuses
#    an unknown id and a second void; a void with the aggregator stopped
#    recomputes the statistics itself (equal to a rebuild).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init register_tools 150
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90022
profile=$WORK/ward-profile.ini
sed "s/^code = 31975$/code = $ward/" "$KDC_SOURCE_DIR/deploy/ward-profile.example.ini" >"$profile"
csv=$KDC_SOURCE_DIR/deploy/register-khom6.example.csv
db=$WORK/agg/ward.db
mkdir -p "$WORK/agg"
agg() { "$KDC_AGGREGATOR" "$@" --db "$db" --profile "$profile"; }

# the dry run first, before anything else made the database
agg register import "$csv" --dry-run >"$WORK/dry.out" 2>"$WORK/dry.err" ||
	fail "register import --dry-run failed: $(cat "$WORK/dry.err")"
assert_contains "the dry run's summary" "would add 186, change 0, retire 0; 0 unchanged" "$(cat "$WORK/dry.out")"
assert_contains "the dry run lists the additions" "would add khóm 6 household H0186" "$(cat "$WORK/dry.out")"
assert_eq "register rows after the dry run" 0 "$(sql_count "$db" register)"
assert_eq "register log rows after the dry run" 0 "$(sql_count "$db" register_log)"

agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --profile "$profile" --client-id "kdc-agg-$ward-register"
agg_wait_online "$BROKER_DIR" "$ward" 30

# a file with bad rows: every one named, nothing changed
printf 'khom,household,people_15plus\n6,H0001,2\n9,H0002,1\n6,H0001,3\n6,h0003,101\n6,H0003,1\n' >"$WORK/bad.csv"
st=0
agg register import "$WORK/bad.csv" >"$WORK/bad.out" 2>"$WORK/bad.err" || st=$?
assert_eq "import of a bad file: exit status" 2 "$st"
err=$(cat "$WORK/bad.err")
assert_contains "bad khóm" "$WORK/bad.csv:3: khóm '9' is not in the ward profile" "$err"
assert_contains "duplicate" "$WORK/bad.csv:4: household H0001 of khóm 6 is listed twice (also on line 2)" "$err"
assert_contains "people 15+" "$WORK/bad.csv:5: people_15plus '101'" "$err"
assert_contains "nothing changed" "nothing was changed" "$err"
assert_eq "register rows after the bad file" 0 "$(sql_count "$db" register)"

# the real import, while the aggregator runs
agg register import "$csv" --by officer >"$WORK/import.out" 2>"$WORK/import.err" ||
	fail "register import failed: $(cat "$WORK/import.err")"
assert_contains "the import's summary" "added 186, changed 0, retired 0; 0 unchanged" "$(cat "$WORK/import.out")"
assert_eq "register rows" 186 "$(sql_count "$db" register "source = 'import' and retired_ms is null")"
assert_eq "people 15+ of the register" 520 "$(sql "$db" 'select sum(people_15plus) from register;')"
assert_eq "register log rows of the import" 186 "$(sql_count "$db" register_log "action = 'import' and by = 'officer'")"
agg register import "$csv" --by officer >"$WORK/again.out" 2>&1 || fail "a second import failed: $(cat "$WORK/again.out")"
assert_contains "the same file again" "added 0, changed 0, retired 0; 186 unchanged" "$(cat "$WORK/again.out")"
assert_eq "register log rows after the same file again" 186 "$(sql_count "$db" register_log)"

# one household at a time
agg register add --khom 6 --household H0187 --people-15plus 3 --by officer >"$WORK/add.out" 2>&1 ||
	fail "register add failed: $(cat "$WORK/add.out")"
agg register retire --khom 6 --household H0005 --reason "moved to another ward" --by officer >"$WORK/retire.out" 2>&1 ||
	fail "register retire failed: $(cat "$WORK/retire.out")"
st=0
agg register add --khom 6 --household H0187 >"$WORK/add2.out" 2>&1 || st=$?
assert_eq "adding an active household again: exit status" 1 "$st"
assert_contains "adding an active household again" "already in the register" "$(cat "$WORK/add2.out")"
agg register list --khom 6 >"$WORK/list.out" 2>&1 || fail "register list failed"
assert_contains "register list" "186 active households in khóm 6" "$(cat "$WORK/list.out")"
agg register list --retired >"$WORK/retired.out" 2>&1 || fail "register list --retired failed"
assert_contains "register list --retired" "moved to another ward" "$(cat "$WORK/retired.out")"
agg register log --khom 6 >"$WORK/log.out" 2>&1 || fail "register log failed"
assert_contains "register log" "retire    6        H0005        moved to another ward" "$(cat "$WORK/log.out")"

# events, and the ward's void while the aggregator runs
conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5
dev_event "$conf" visit --khom 6 --household H0001 --outcome surveyed --members 3 --members-15plus 2
wrong=$EVENT_ID
dev_event "$conf" visit --khom 6 --household H0002 --outcome surveyed --members 2 --members-15plus 2
dev_event "$conf" account --khom 6 --household H0002 --member 1 --kind payment
later=$EVENT_ID
dev_sync "$conf" 60
assert_eq "events stored" 3 "$(sql_count "$db" events)"
agg events --khom 6 --household H0001 >"$WORK/events.out" 2>&1 || fail "events failed: $(cat "$WORK/events.out")"
assert_contains "events shows the id" "$wrong" "$(cat "$WORK/events.out")"
assert_contains "events shows the kind" "visit" "$(cat "$WORK/events.out")"

agg void --event "$wrong" --reason "recorded for the wrong household" --by officer >"$WORK/void.out" 2>&1 ||
	fail "void failed: $(cat "$WORK/void.out")"
assert_contains "void's report" "voided event $wrong" "$(cat "$WORK/void.out")"
hex=$(uuid_hex "$wrong")
assert_eq "the event is voided" 1 "$(sql_count "$db" events "hex(id) = upper('$hex') and voided_by is not null")"
assert_eq "the ward's voids row" 1 "$(sql_count "$db" voids "target = x'$hex' and team = '' and by = 'ward:officer' and state = 1")"
assert_eq "the void's register log row" 1 "$(sql_count "$db" register_log "action = 'void' and khom = '6' and household = 'H0001'")"
st=0
agg void --event "$wrong" --reason again >"$WORK/void2.out" 2>&1 || st=$?
assert_eq "a second void: exit status" 1 "$st"
assert_contains "a second void" "voided already" "$(cat "$WORK/void2.out")"
st=0
agg void --event "$(uuid7_hex)" --reason "no such event" >"$WORK/void3.out" 2>&1 || st=$?
assert_eq "void of an unknown id: exit status" 1 "$st"
assert_contains "void of an unknown id" "no event" "$(cat "$WORK/void3.out")"
agg_stop "$WORK/agg"

# with the aggregator stopped, the void recomputes the statistics itself
agg void --event "$later" --reason "no such account" --by officer >"$WORK/void4.out" 2>&1 ||
	fail "void with the aggregator stopped failed: $(cat "$WORK/void4.out")"
stats_equal_rebuild "$db" "$profile" "after a void"
kdc_say "register: dry run, import while running (186), bad rows named, add/retire/list/log, ward void while running and stopped"
