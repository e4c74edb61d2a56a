#!/usr/bin/env bash
# Personal-data deletion: `kdc-aggregator forget --khom K --household H`
# refuses (exit 3, naming the pid) while an aggregator runs on the database;
# once it is stopped, it removes exactly that household of that khóm (its
# events, refused payloads holding its code, its register entry; the same
# code in another khóm stays), rewrites the register log without the code,
# brings the statistics to exactly what a rebuild gives, and leaves no trace
# of the code in the database file (secure_delete, WAL truncated).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init forget 120
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=31975
# the example profile with a second khóm for team T1: one code, two households
profile=$WORK/ward-profile.ini
sed 's/^khoms = 6$/khoms = 6, 7/' "$KDC_SOURCE_DIR/deploy/ward-profile.example.ini" >"$profile"
printf '\n[khom 7]\nhouseholds = 120\npeople_15plus = 300\n' >>"$profile"
db=$WORK/agg/ward.db
mkdir -p "$WORK/agg"
# the household to forget has a code found nowhere else in the data
gone=HXQZ77
printf 'khom,household,people_15plus\n6,%s,2\n6,H002,2\n7,H002,1\n' "$gone" >"$WORK/register.csv"
"$KDC_AGGREGATOR" register import "$WORK/register.csv" --db "$db" --profile "$profile" --by officer \
	>"$WORK/import.out" 2>"$WORK/import.err" || fail "register import failed: $(cat "$WORK/import.err")"
agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --profile "$profile" --client-id "kdc-agg-$ward-forget"
agg_wait_online "$BROKER_DIR" "$ward" 30

conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5
dev_event "$conf" visit --khom 6 --household "$gone" --outcome surveyed --members 3 --members-15plus 2
dev_event "$conf" account --khom 6 --household "$gone" --member 1 --kind payment
dev_event "$conf" payment --khom 6 --household "$gone" --member 1 --purpose water --method qr_code --amount 120000
dev_event "$conf" visit --khom 6 --household H002 --outcome surveyed --members 2 --members-15plus 2
dev_event "$conf" account --khom 6 --household H002 --member 2 --kind vneid_level2
dev_event "$conf" visit --khom 7 --household H002 --outcome not_home
dev_sync "$conf" 60

# a refused payload naming the household (a visit must not name a member)
now_ms=$(($(date +%s%N) / 1000000))
printf 'id: "%s" seq: 99 occurred_ms: %s ward: "%s" khom: "6" team: "T1" device: "D1" household: "%s" member: 1 visit { outcome: VISIT_OUTCOME_SURVEYED }\n' \
	"$(hex_escape "$(uuid7_hex)")" "$now_ms" "$ward" "$gone" | pb_encode kdc.v1.Event event >"$WORK/bad.bin" ||
	fail "protoc could not encode the refused event"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/bad.bin"
one_rejected() { [ "$(sql_count "$db" rejected)" = 1 ]; }
wait_for 60 "the refused payload is stored" one_rejected
assert_eq "events stored before forget" 6 "$(sql_count "$db" events)"

# while the aggregator runs: refused, exit 3, its pid named, nothing deleted
pid=$(agg_pid "$WORK/agg")
st=0
"$KDC_AGGREGATOR" forget --db "$db" --profile "$profile" --khom 6 --household "$gone" \
	>"$WORK/forget_running.out" 2>"$WORK/forget_running.err" || st=$?
assert_eq "forget's exit status while the aggregator runs" 3 "$st"
msg=$(cat "$WORK/forget_running.err")
assert_contains "forget's refusal" "is running on this database: stop it first: systemctl stop kdc-aggregator@$ward" "$msg"
[ -n "${KDC_VG_AGGREGATOR:-}" ] || assert_contains "forget's refusal names the pid" "(pid $pid)" "$msg"
assert_eq "events after the refused forget" 6 "$(sql_count "$db" events)"
agg_stop "$WORK/agg"

# --household without --khom says why
st=0
"$KDC_AGGREGATOR" forget --db "$db" --profile "$profile" --household "$gone" 2>"$WORK/nokhom.err" || st=$?
assert_eq "forget without --khom: exit status" 2 "$st"
assert_contains "forget without --khom" "--household needs --khom" "$(cat "$WORK/nokhom.err")"

grep -q "$gone" "$db" || fail "the household code should be in the database before forget"
"$KDC_AGGREGATOR" forget --db "$db" --profile "$profile" --khom 6 --household "$gone" --by officer \
	>"$WORK/forget.out" 2>"$WORK/forget.err" || fail "forget failed: $(cat "$WORK/forget.err")"
assert_contains "forget's report" "3 events and 1 refused payloads deleted, register entry deleted" "$(cat "$WORK/forget.out")"
assert_eq "events of the forgotten household" 0 "$(sql_count "$db" events "household = '$gone'")"
assert_eq "events of the other household" 3 "$(sql_count "$db" events "household = 'H002'")"
assert_eq "refused payloads left" 0 "$(sql_count "$db" rejected)"
assert_eq "register entries of the forgotten household" 0 "$(sql_count "$db" register "household = '$gone'")"
assert_eq "register log rows naming the code" 0 "$(sql_count "$db" register_log "household = '$gone' or instr(detail, '$gone') > 0")"
assert_eq "the forget row of the register log" 1 "$(sql_count "$db" register_log "action = 'forget' and khom = '6' and household is null and by = 'officer'")"
for f in "$db" "$db-wal"; do
	[ -f "$f" ] || continue
	if grep -q "$gone" "$f"; then
		fail "the code $gone is still readable in $(basename "$f") after forget"
	fi
done
printf 'ok: the code is nowhere in the database file or its WAL\n'

# the same code in two khóms: forgetting khóm 7's leaves khóm 6's
"$KDC_AGGREGATOR" forget --db "$db" --profile "$profile" --khom 7 --household H002 \
	>"$WORK/forget7.out" 2>"$WORK/forget7.err" || fail "forget of khóm 7's H002 failed: $(cat "$WORK/forget7.err")"
assert_contains "forget's report" "household H002 of khóm 7: 1 events and 0 refused payloads deleted" "$(cat "$WORK/forget7.out")"
assert_eq "events of H002 in khóm 6" 2 "$(sql_count "$db" events "khom = '6' and household = 'H002'")"
assert_eq "events of H002 in khóm 7" 0 "$(sql_count "$db" events "khom = '7' and household = 'H002'")"
assert_eq "register entry of H002 in khóm 6" 1 "$(sql_count "$db" register "khom = '6' and household = 'H002'")"
assert_eq "register entry of H002 in khóm 7" 0 "$(sql_count "$db" register "khom = '7' and household = 'H002'")"
assert_eq "register log rows of khóm 6's H002 kept" 1 "$(sql_count "$db" register_log "khom = '6' and household = 'H002'")"

# statistics after forget == statistics after a fresh rebuild of the same data
stats_equal_rebuild "$db" "$profile" "after forget"

# and the published numbers only count the remaining household
agg_restart "$WORK/agg"
agg_wait_online "$BROKER_DIR" "$ward" 30
# The broker still holds the snapshot from before the forget until the
# restarted aggregator's first one replaces it (it comes right after
# "online", but after is not at once).
ward_stats() { mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$BROKER_DIR")" -t "kdc/v1/$ward/stats/ward" -C 1 -W 10; }
fresh() { [ "$(ward_stats | jq -r .stored_total)" = 2 ]; }
wait_for 60 "the restarted aggregator's ward snapshot (2 events stored)" fresh
json=$(ward_stats)
assert_eq "households visited after forget" 1 "$(jq -r .households.visited <<<"$json")"
assert_eq "people with a payment account after forget" 0 "$(jq -r .people_15plus.with_payment_account <<<"$json")"
assert_eq "stored events after forget" 2 "$(jq -r .stored_total <<<"$json")"
agg_stop "$WORK/agg"
kdc_say "forget: refused while running; 3 events + 1 refused payload + register entry deleted, the same code in another khóm kept, statistics equal a rebuild"
