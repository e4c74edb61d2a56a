#!/usr/bin/env bash
# A team member's device and its team's worklist, with a real broker and no
# aggregator (the list is published here with protoc and mosquitto_pub, as the
# aggregator publishes it: retained, QoS 1): `kdc-event sync` stores the list
# under MQTT 5 and 3.1.1; with the broker stopped, `kdc-event worklist` lists
# it, a visit to a listed household is recorded, a mistyped code is refused
# with the nearest one suggested, a household added on the device can be
# visited, and void and amend put the expected rows in the outbox.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init worklist_device 120
need_program KDC_EVENT

ward=90023
broker=$WORK/broker
broker_start "$broker"

cat >"$WORK/worklist.txt" <<TXT
ward: "$ward"
team: "T1"
as_of_ms: 1764669600000
seq: 7
from_register: true
households { khom: "6" household: "H0041" status: HOUSEHOLD_STATUS_NOT_VISITED next: NEXT_STEP_VISIT }
households { khom: "6" household: "H0042" status: HOUSEHOLD_STATUS_NOT_HOME attempts: 2
             last_attempt_ms: 1764583200000 next: NEXT_STEP_REVISIT }
households { khom: "6" household: "H0043" status: HOUSEHOLD_STATUS_SURVEYED next: NEXT_STEP_OPEN_ACCOUNT }
households { khom: "7" household: "H0001" status: HOUSEHOLD_STATUS_NOT_VISITED next: NEXT_STEP_VISIT
             field_added: true }
TXT
pb_encode kdc.v1.Worklist worklist <"$WORK/worklist.txt" >"$WORK/worklist.bin" ||
	fail "protoc could not encode the worklist"
mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -r -t "kdc/v1/$ward/worklist/T1" \
	-f "$WORK/worklist.bin" || fail "mosquitto_pub of the worklist failed"

# Two devices of team T1, one per protocol version; neither has events.
for v in 5 3.1.1; do
	conf=$WORK/d-$v.conf
	dev_config "$conf" "$broker" "$ward" T1 "D${v%%.*}" "mqtt-version=$v"
	out=$("$KDC_EVENT" --config "$conf" sync --timeout 30 2>&1)
	st=$?
	printf '%s\n' "$out" >"$WORK/sync-$v.log"
	assert_eq "MQTT $v: sync exit status with nothing pending" 0 "$st"
	assert_contains "MQTT $v: sync says" "the team's worklist is updated" "$out"
	assert_eq "MQTT $v: households stored" 4 "$(sql "$(dev_outbox "$conf")" 'select count(*) from worklist;')"
	assert_eq "MQTT $v: list seq stored" "7|T1|$ward" \
		"$(sql "$(dev_outbox "$conf")" 'select seq, team, ward from worklist_info;')"
done
conf=$WORK/d-5.conf

broker_stop "$broker"
port_open "$(broker_port "$broker")" && fail "broker still accepts after stop"
kdc_say "broker stopped: the device is offline"

out=$("$KDC_EVENT" --config "$conf" worklist 2>&1) || fail "kdc-event worklist failed: $out"
printf '%s\n' "$out" >"$WORK/worklist.out"
# times in the ward's time: the device's utc-offset, +07:00 by default
assert_contains "worklist header" "team T1's worklist (ward $ward), as of 2025-12-02 17:00 (ward time, UTC+07:00), list 7" "$out"
assert_contains "worklist: H0042's last attempt in ward time" "last attempt 2025-12-01 17:00" "$out"
out=$("$KDC_EVENT" --config "$conf" --utc-offset -03:30 worklist 2>&1) || fail "worklist with --utc-offset failed: $out"
assert_contains "worklist header at another offset" "as of 2025-12-02 06:30 (ward time, UTC-03:30)" "$out"
for h in H0041 H0042 H0043 H0001; do
	assert_contains "worklist lists $h" "$h" "$out"
done
assert_contains "worklist: H0042 in plain words" "H0042      nobody at home  attempts 2" "$out"
case "$(grep H0043 <<<"$out")" in *attempts*) fail "worklist: attempts shown for surveyed H0043: $out" ;; esac
assert_contains "worklist: H0042's next step" "next: visit again" "$out"
assert_contains "worklist: field addition marked" "(added in the field)" "$out"
assert_contains "worklist total" "4 households: 2 not visited, 1 nobody at home, 0 declined, 1 surveyed, 0 reached" "$out"

out=$("$KDC_EVENT" --config "$conf" worklist --status not_visited 2>&1) || fail "worklist --status failed: $out"
assert_contains "--status not_visited: H0041" "H0041" "$out"
assert_contains "--status not_visited: H0001" "H0001" "$out"
case "$out" in *H0042* | *H0043*) fail "--status not_visited lists other statuses: $out" ;; esac
out=$("$KDC_EVENT" --config "$conf" worklist --khom 6 --status not_home 2>&1)
assert_contains "--khom 6 --status not_home" "1 household: 0 not visited, 1 nobody at home" "$out"

# Recording against the list, offline.
dev_event "$conf" visit --khom 6 --household H0041 --outcome surveyed --members 3
visit_id=$EVENT_ID
assert_eq "visit of a listed household is in the outbox" 1 "$(dev_outbox_count "$conf" 'kind = 0')"

out=$("$KDC_EVENT" --config "$conf" visit --khom 6 --household H0O42 --outcome not_home 2>&1)
st=$?
assert_eq "typo H0O42: exit status" 2 "$st"
assert_contains "typo H0O42: refusal" "household 'H0O42' is not on team T1's list for khóm 6; did you mean H0042?" "$out"
assert_contains "typo H0O42: what to do if new" "kdc-event household add --khom 6 --household H0O42" "$out"
assert_eq "typo H0O42: nothing in the outbox" 1 "$(dev_outbox_count "$conf")"

out=$("$KDC_EVENT" --config "$conf" account --khom 6 --household H0099 --member 1 --kind payment 2>&1)
assert_eq "unknown H0099 before household add: exit status" 2 "$?"
dev_event "$conf" household add --khom 6 --household H0099 --people-15plus 3
added_id=$EVENT_ID
assert_eq "household add: a household_added event in the outbox" 1 "$(dev_outbox_count "$conf" 'kind = 4')"
dev_event "$conf" visit --khom 6 --household H0099 --outcome surveyed
h99_id=$EVENT_ID
out=$("$KDC_EVENT" --config "$conf" worklist --khom 6 2>&1)
assert_contains "worklist shows the household added here" "H0099" "$out"
assert_contains "... marked as added on this device" "(added on this device)" "$out"

# void: by the end of the id the listing shows
out=$("$KDC_EVENT" --config "$conf" pending 2>&1)
assert_contains "pending shows the visit's id" "$visit_id" "$out"
before=$(dev_outbox_count "$conf")
out=$("$KDC_EVENT" --config "$conf" void "${visit_id: -12}" --reason "recorded twice" 2>&1) ||
	fail "kdc-event void failed: $out"
void_id=${out#void }
assert_eq "void: one row more" $((before + 1)) "$(dev_outbox_count "$conf")"
hex=$(sql "$(dev_outbox "$conf")" "select hex(payload) from outbox where id = x'$(uuid_hex "$void_id")' and kind = 5;")
[ -n "$hex" ] || fail "void $void_id is not in the outbox as a void"
hex_to_file "$hex" "$WORK/void.bin"
text=$(pb_decode kdc.v1.Event event <"$WORK/void.bin") || fail "the void is not a kdc.v1.Event"
assert_contains "void names its target" "target: $(pb_bytes_text "$(uuid_hex "$visit_id")")" "$text"
assert_contains "void reason" 'reason: "recorded twice"' "$text"
assert_contains "void carries the target's household" 'household: "H0041"' "$text"

out=$("$KDC_EVENT" --config "$conf" void "$visit_id" --reason again 2>&1)
assert_eq "second void of the same event: exit status" 2 "$?"
assert_contains "second void: refusal" "is voided already on this device" "$out"
out=$("$KDC_EVENT" --config "$conf" void "$void_id" --reason x 2>&1)
assert_eq "void of a void: exit status" 2 "$?"
assert_contains "void of a void: refusal" "is itself a void" "$out"
out=$("$KDC_EVENT" --config "$conf" void 0123456789abcdef --reason x 2>&1)
assert_eq "void of an unknown id: exit status" 2 "$?"
assert_contains "void of an unknown id: refusal" "no event 0123456789abcdef on this device: events older than 60 days are not kept here; the ward office can void it: kdc-ward void" "$out"
out=$("$KDC_EVENT" --config "$conf" void "$added_id" --reason x 2>&1)
assert_eq "void of a household addition: exit status" 2 "$?"

# amend: a visit recorded for the wrong household of the list
at=$(date -u -d '2 days ago' +%Y-%m-%dT08:00:00Z)
at_ms=$(($(date -u -d "$at" +%s) * 1000))
dev_event "$conf" visit --khom 6 --household H0043 --outcome declined --at "$at"
wrong_id=$EVENT_ID
before=$(dev_outbox_count "$conf")
out=$("$KDC_EVENT" --config "$conf" amend "$wrong_id" --household H0042 --outcome surveyed 2>&1) ||
	fail "kdc-event amend failed: $out"
assert_eq "amend: two rows more" $((before + 2)) "$(dev_outbox_count "$conf")"
new_id=$(printf '%s\n' "$out" | sed -n 's/^new //p')
[ -n "$new_id" ] || fail "amend printed no new id: $out"
row=$(sql "$(dev_outbox "$conf")" "select kind, occurred_ms from outbox where id = x'$(uuid_hex "$new_id")';")
assert_eq "amend: the new event keeps the kind and the original's time" "0|$at_ms" "$row"
hex=$(sql "$(dev_outbox "$conf")" "select hex(payload) from outbox where id = x'$(uuid_hex "$new_id")';")
hex_to_file "$hex" "$WORK/new.bin"
text=$(pb_decode kdc.v1.Event event <"$WORK/new.bin")
assert_contains "amended event: the corrected household" 'household: "H0042"' "$text"
assert_contains "amended event: the corrected outcome" "outcome: VISIT_OUTCOME_SURVEYED" "$text"
voids=$(sql "$(dev_outbox "$conf")" "select count(*) from outbox where kind = 5;")
assert_eq "voids in the outbox after the amendment" 2 "$voids"
out=$("$KDC_EVENT" --config "$conf" amend "$wrong_id" --household H0O42 2>&1)
assert_eq "amending it again: exit status" 2 "$?"
assert_contains "amending it again: refusal" "voided already" "$out"

# Back online: a refusal for a register reason is shown with what to do, and a
# newer list replaces the stored one but keeps the household added here.
broker_start "$broker"
cat >"$WORK/receipt.txt" <<TXT
device: "D5"
rejected { id: "$(hex_escape "$(uuid_hex "$h99_id")")" reason: REJECT_REASON_UNKNOWN_HOUSEHOLD
           detail: "household H0099 is not in khom 6 of the ward's register" }
TXT
pb_encode kdc.v1.Receipt receipt <"$WORK/receipt.txt" >"$WORK/receipt.bin" || fail "protoc could not encode the receipt"
mq_pub_file "$broker" "kdc/v1/$ward/receipts/D5" "$WORK/receipt.bin"
sed -e 's/^seq: 7/seq: 8/' -e '/H0043/d' "$WORK/worklist.txt" | pb_encode kdc.v1.Worklist worklist >"$WORK/worklist8.bin"
mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -r -t "kdc/v1/$ward/worklist/T1" \
	-f "$WORK/worklist8.bin" || fail "mosquitto_pub of the worklist failed"
# no aggregator: the events stay pending and the sync times out (exit 3)
out=$("$KDC_EVENT" --config "$conf" sync --timeout 4 2>&1)
st=$?
printf '%s\n' "$out" >"$WORK/sync-again.log"
assert_eq "sync without an aggregator: exit status" 3 "$st"
assert_contains "the newer list is stored" "the team's worklist is updated" "$out"
assert_contains "the refusal is reported" "1 event(s) were refused by the server" "$out"
out=$("$KDC_EVENT" --config "$conf" worklist 2>&1)
assert_contains "list 8 stored" "list 8" "$out"
case "$out" in *H0043*) fail "H0043 is still listed after list 8: $out" ;; esac
assert_contains "the household added here is kept" "H0099" "$out"
out=$("$KDC_EVENT" --config "$conf" rejected 2>&1)
printf '%s\n' "$out" >"$WORK/rejected.out"
assert_contains "rejected: the reason" "$h99_id" "$out"
assert_contains "rejected: the reason's name" "unknown_household" "$out"
assert_contains "rejected: what to do" "ask the ward office to add it to the register, or record it as a new household: kdc-event household add --khom 6 --household H0099" "$out"

# the refused event was never stored: void says there is nothing to void;
# amend records the corrected event alone, without a void that would wait on
# the server for ever
voids_before=$(dev_outbox_count "$conf" 'kind = 5')
out=$("$KDC_EVENT" --config "$conf" void "$h99_id" --reason "wrong household" 2>&1)
assert_eq "void of a refused event: exit status" 2 "$?"
assert_contains "void of a refused event" "was refused by the server" "$out"
out=$("$KDC_EVENT" --config "$conf" amend "$h99_id" --household H0041 2>&1) ||
	fail "amend of a refused event failed: $out"
assert_contains "amend of a refused event: the corrected event" "new " "$out"
case "$out" in *void*) fail "amend of a refused event recorded a void: $out" ;; esac
assert_eq "voids in the outbox after amending a refused event" "$voids_before" "$(dev_outbox_count "$conf" 'kind = 5')"

# household add: refused for a household on the register's list; allowed for
# one missing from a list that is not the register's (a ward without one
# lists the households seen so far)
out=$("$KDC_EVENT" --config "$conf" household add --khom 6 --household H0041 2>&1)
assert_eq "household add of a registered household: exit status" 2 "$?"
assert_contains "household add of a registered household" "H0041 of khóm 6 is on the ward's register already" "$out"
sed -e 's/^seq: 7/seq: 9/' -e '/^from_register/d' "$WORK/worklist.txt" |
	pb_encode kdc.v1.Worklist worklist >"$WORK/worklist9.bin" || fail "protoc could not encode list 9"
mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -r -t "kdc/v1/$ward/worklist/T1" \
	-f "$WORK/worklist9.bin" || fail "mosquitto_pub of list 9 failed"
conf3=$WORK/d-3.1.1.conf
out=$("$KDC_EVENT" --config "$conf3" sync --timeout 30 2>&1) || fail "sync of D3 failed: $out"
assert_eq "D3: list 9 (not the register's) stored" "9|0" "$(sql "$(dev_outbox "$conf3")" 'select seq, from_register from worklist_info;')"
dev_event "$conf3" household add --khom 6 --household H0050
assert_eq "household add of a household missing from a list that is not the register" 1 \
	"$(dev_outbox_count "$conf3" 'kind = 4')"

# An event recorded before the register's list came, refused by the server as
# unknown_household: kdc-event rejected suggests the nearest registered code
# from the list the same sync stored.
dev_event "$conf3" visit --khom 6 --household H0O42 --outcome surveyed
typo_id=$EVENT_ID
sed -e 's/^seq: 7/seq: 10/' "$WORK/worklist.txt" | pb_encode kdc.v1.Worklist worklist >"$WORK/worklist10.bin" ||
	fail "protoc could not encode list 10"
mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -r -t "kdc/v1/$ward/worklist/T1" \
	-f "$WORK/worklist10.bin" || fail "mosquitto_pub of list 10 failed"
cat >"$WORK/receipt3.txt" <<TXT
device: "D3"
rejected { id: "$(hex_escape "$(uuid_hex "$typo_id")")" reason: REJECT_REASON_UNKNOWN_HOUSEHOLD
           detail: "household H0O42 is not in khom 6 of the ward's register" }
TXT
pb_encode kdc.v1.Receipt receipt <"$WORK/receipt3.txt" >"$WORK/receipt3.bin" || fail "protoc could not encode receipt 3"
mq_pub_file "$broker" "kdc/v1/$ward/receipts/D3" "$WORK/receipt3.bin"
out=$("$KDC_EVENT" --config "$conf3" sync --timeout 10 2>&1)
printf '%s\n' "$out" >"$WORK/sync-d3.log"
assert_contains "D3: the register's list 10 stored" "the team's worklist is updated" "$out"
out=$("$KDC_EVENT" --config "$conf3" rejected 2>&1)
printf '%s\n' "$out" >"$WORK/rejected-d3.out"
assert_contains "rejected: the nearest registered code" "H0O42 of khóm 6 is not in the ward's register: did you mean H0042? If so, correct it: kdc-event amend $typo_id --household H0042" "$out"

kdc_say "worklist_device: all checks passed"
