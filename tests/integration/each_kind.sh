#!/usr/bin/env bash
# The spine, once per event kind: kdc-event records into its outbox, syncs over
# a real broker to a real kdc-aggregator, gets its receipts and empties its
# outbox; every stored row equals, field by field, what kdc-event was told.
# Then the correction of an event already stored: it left the outbox, but the
# device's history still has it, so `kdc-event amend` sends a void and the
# corrected event, and the aggregator stores both.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init each_kind 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90001
db=$WORK/agg/ward.db
agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --client-id "kdc-agg-$ward-each-kind"
agg_wait_online "$BROKER_DIR" "$ward" 30

conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5

# Times in the recent past as a team member types them: UTC, the ward's local
# time without an offset (the device's utc-offset, +07:00 by default), another
# offset, and a date alone (noon, ward time). ICT-7 is UTC+07:00 for date(1).
at_visit=$(date -u -d '-30 hours' +%Y-%m-%dT%H:%M:%SZ)
at_account=$(TZ=ICT-7 date -d '-29 hours' +%Y-%m-%dT%H:%M)
at_payment=$(TZ=IST-5:30 date -d '-3 hours' +%Y-%m-%dT%H:%M:%S+05:30)
at_service=$(date -u -d '-2 days' +%Y-%m-%d)
ms() { echo $(($(date -u -d "$1" +%s) * 1000)); }
ms_ward() { echo $(($(TZ=ICT-7 date -d "$1" +%s) * 1000)); }

declare -A id expected
fields="seq occurred_ms ward khom team device household member kind subkind method amount_vnd members members_15plus smartphones needs"

# kind numbers: visit 0, account 1, payment 2, service 3. Enum numbers from
# proto/kdc/v1/event.proto. needs: install_app (1), payment_account (4),
# digital_skills (8) -> 2 + 16 + 256.
dev_event "$conf" visit --khom 6 --household H001 --outcome surveyed --members 4 \
	--members-15plus 3 --smartphones 2 --needs install_app,payment_account,digital_skills \
	--at "$at_visit"
id[visit]=$EVENT_ID
expected[visit]="1|$(ms "$at_visit")|$ward|6|T1|D1|H001|0|0|1|0|0|4|3|2|274"

dev_event "$conf" account --khom 6 --household H001 --member 1 --kind provincial_app \
	--at "$at_account"
id[account]=$EVENT_ID
expected[account]="2|$(ms_ward "${at_account/T/ }")|$ward|6|T1|D1|H001|1|1|3|0|0|0|0|0|0"

dev_event "$conf" payment --khom 6 --household H001 --member 1 --purpose school_fee \
	--method ewallet --amount 1250000 --at "$at_payment"
id[payment]=$EVENT_ID
expected[payment]="3|$(ms "$at_payment")|$ward|6|T1|D1|H001|1|2|5|3|1250000|0|0|0|0"

dev_event "$conf" service --khom 7 --household H-02_b --member 2 --kind field_report \
	--at "$at_service"
id[service]=$EVENT_ID
expected[service]="4|$(ms_ward "$at_service 12:00")|$ward|7|T1|D1|H-02_b|2|3|4|0|0|0|0|0|0"

# No --at and no --amount: the time is "now" and the amount 0 (not recorded).
before_ms=$(($(date +%s%N) / 1000000))
dev_event "$conf" payment --khom 7 --household H003 --member 3 --purpose electricity --method bank_transfer
id[payment_now]=$EVENT_ID
after_ms=$(($(date +%s%N) / 1000000))
expected[payment_now]="5|NOW|$ward|7|T1|D1|H003|3|2|1|1|0|0|0|0|0"

assert_eq "pending events in the outbox before sync" 5 "$(dev_outbox_count "$conf" 'state = 0')"
assert_eq "rows stored before sync" 0 "$(sql_count "$db" events)"

sync_start_ms=$(($(date +%s%N) / 1000000))
dev_sync "$conf" 60
sync_end_ms=$(($(date +%s%N) / 1000000))
assert_eq "outbox rows after sync (receipted rows are deleted)" 0 "$(dev_outbox_count "$conf")"
assert_eq "rows stored" 5 "$(sql_count "$db" events)"
assert_eq "rows rejected" 0 "$(sql_count "$db" rejected)"

read -r -a names <<<"$fields"
for k in visit account payment service payment_now; do
	hex=$(uuid_hex "${id[$k]}")
	row=$(sql "$db" "select $(tr ' ' ',' <<<"$fields") from events where lower(hex(id)) = '$hex';")
	[ -n "$row" ] || fail "$k event ${id[$k]}: no row with this id in events"
	IFS='|' read -r -a got <<<"$row"
	IFS='|' read -r -a want <<<"${expected[$k]}"
	for i in "${!names[@]}"; do
		if [ "${names[$i]}" = occurred_ms ] && [ "${want[$i]}" = NOW ]; then
			assert_between "$k.occurred_ms (recorded without --at)" "$before_ms" "$after_ms" "${got[$i]}"
			continue
		fi
		[ "${got[$i]:-}" = "${want[$i]}" ] ||
			fail "$k event ${id[$k]} field ${names[$i]}: expected ${want[$i]}, got ${got[$i]:-<missing>}"
	done
	received=$(sql "$db" "select received_ms from events where lower(hex(id)) = '$hex';")
	assert_between "$k.received_ms" "$sync_start_ms" "$sync_end_ms" "$received"
	echo "ok: $k event ${id[$k]}: all ${#names[@]} fields as recorded"
done

# The retained ward stats follow (coalesced, about once a second).
stats_total() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$BROKER_DIR")" -t "kdc/v1/$ward/stats/ward" \
		-C 1 -W 2 2>/dev/null | grep -Eo '"stored_total" *: *[0-9]+' | grep -Eo '[0-9]+$'
}
stats_say_5() { [ "$(stats_total)" = 5 ]; }
wait_for 60 "retained ward stats with stored_total 5" stats_say_5
echo "ok: retained ward stats say stored_total 5"

# ---- a correction after the sync --------------------------------------------
# The visit was receipted (it left the outbox) and is in the device's history,
# listed with its short id (the last 12 digits) and its time in ward time.
vshort=${id[visit]: -12}
out=$("$KDC_EVENT" --config "$conf" history 2>&1) || fail "kdc-event history failed: $out"
printf '%s\n' "$out" >"$WORK/history-1.out"
assert_contains "history: header" "newest first (ward time, UTC+07:00)" "$out"
assert_contains "history: the stored visit, in ward time" \
	"$vshort  $(TZ=ICT-7 date -d "$at_visit" '+%Y-%m-%d %H:%M')  visit" "$out"
assert_contains "history: all five" "5 stored events" "$out"
out=$("$KDC_EVENT" --config "$conf" history --household H003 2>&1)
assert_contains "history --household H003: one" "1 shown of 5" "$out"
case "$out" in *"$vshort"*) fail "history --household H003 lists the visit of H001: $out" ;; esac

out=$("$KDC_EVENT" --config "$conf" amend "$vshort" --household H0002 2>&1) ||
	fail "kdc-event amend of a stored event failed: $out"
new_id=$(printf '%s\n' "$out" | sed -n 's/^new //p')
void_id=$(printf '%s\n' "$out" | sed -n 's/^void //p')
[ -n "$new_id" ] && [ -n "$void_id" ] || fail "amend printed no new and void ids: $out"
assert_eq "amend: the void and the corrected visit are pending" 2 "$(dev_outbox_count "$conf" 'state = 0')"
out=$("$KDC_EVENT" --config "$conf" void "$vshort" --reason again 2>&1)
assert_eq "void of the amended stored event: exit status" 2 "$?"
assert_contains "void of the amended stored event: refusal" "is voided already on this device" "$out"

dev_sync "$conf" 60
assert_eq "outbox rows after the second sync" 0 "$(dev_outbox_count "$conf")"
assert_eq "rows rejected after the correction" 0 "$(sql_count "$db" rejected)"
vhex=$(uuid_hex "$void_id")
nhex=$(uuid_hex "$new_id")
assert_eq "the void is stored (kind 5) with the visit's khóm and household" "5|6|H001" \
	"$(sql "$db" "select kind, khom, household from events where lower(hex(id)) = '$vhex';")"
assert_eq "the corrected visit is stored, with the original's time" "0|6|H0002|$(ms "$at_visit")" \
	"$(sql "$db" "select kind, khom, household, occurred_ms from events where lower(hex(id)) = '$nhex';")"
assert_eq "the aggregator applied the void to the original visit" "$vhex" \
	"$(sql "$db" "select lower(hex(voided_by)) from events where lower(hex(id)) = '$(uuid_hex "${id[visit]}")';")"

out=$("$KDC_EVENT" --config "$conf" history 2>&1) || fail "kdc-event history failed: $out"
printf '%s\n' "$out" >"$WORK/history-2.out"
assert_contains "history: the void, naming the visit" "${void_id: -12}" "$out"
assert_contains "history: what the void voids" "voids $vshort: amended" "$out"
assert_contains "history: the corrected visit" "${new_id: -12}" "$out"
assert_contains "history: the original marked voided" "khóm 6    H001                 (voided)" "$out"
assert_contains "history: seven now" "7 stored events" "$out"
out=$("$KDC_EVENT" --config "$conf" amend "${id[visit]}" --household H0003 2>&1)
assert_eq "amending the voided visit again: exit status" 2 "$?"
assert_contains "amending the voided visit again: refusal" "voided already" "$out"

agg_stop "$WORK/agg"
echo "each_kind: stored 5/5 (visit, account, payment x2, service), fields 16/16 each, rejected 0, outbox 0; a stored visit amended from the device's history"
