#!/usr/bin/env bash
# The same event delivered three more times (the device's own bytes, captured
# on the wire, republished with mosquitto_pub): stored once, and every delivery
# answered by a receipt naming it as committed; the device's own resend then
# gets its receipt too and empties the outbox.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init duplicates 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90002
db=$WORK/agg/ward.db
events_topic=kdc/v1/$ward/events/T1/D1
receipts_topic=kdc/v1/$ward/receipts/D1
conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=30

dev_event "$conf" payment --khom 6 --household H010 --member 2 --purpose water --method qr_code --amount 85000
eid=$EVENT_ID
hex=$(uuid_hex "$eid")

# Capture what the device publishes while no aggregator runs: sync must give
# up after its timeout with exit 3 and the event still pending.
mq_sub_prepare "$BROKER_DIR" "kdc-test-$ward-capture" "$events_topic"
"$KDC_EVENT" --config "$conf" sync --timeout 3 >"$WORK/sync1.log" 2>&1
st=$?
assert_eq "kdc-event sync exit status with no aggregator (timeout)" 3 "$st"
assert_eq "pending after the timed-out sync" 1 "$(dev_outbox_count "$conf" 'state = 0')"
captured=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-capture" "$events_topic" 1 10 | head -n 1)
[ -n "$captured" ] || fail "nothing published on $events_topic by kdc-event sync"
hex_to_file "$captured" "$WORK/event.bin"
echo "ok: captured the device's payload, $(stat -c %s "$WORK/event.bin") bytes"

# Judge the device's bytes with protoc, not with the project's decoder.
decoded=$(pb_decode kdc.v1.Event event <"$WORK/event.bin") || fail "protoc cannot decode the device's payload as kdc.v1.Event"
assert_contains "decoded event" "id: $(pb_bytes_text "$hex")" "$decoded"
assert_contains "decoded event" 'device: "D1"' "$decoded"
assert_contains "decoded event" "purpose: PAYMENT_PURPOSE_WATER" "$decoded"

agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --client-id "kdc-agg-$ward-dup"
agg_wait_online "$BROKER_DIR" "$ward" 30
mq_sub_prepare "$BROKER_DIR" "kdc-test-$ward-receipts" "$receipts_topic"

# The aggregator's persistent session was new, so the device's earlier publish
# did not reach it: the three copies below are the first, second and third.
want_line="committed: $(pb_bytes_text "$hex")"
receipts=0
for n in 1 2 3; do
	mq_pub_file "$BROKER_DIR" "$events_topic" "$WORK/event.bin"
	r=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-receipts" "$receipts_topic" 1 15 | head -n 1)
	[ -n "$r" ] || fail "no receipt within 15 s for delivery $n of event $eid"
	hex_to_file "$r" "$WORK/receipt$n.bin"
	text=$(pb_decode kdc.v1.Receipt receipt <"$WORK/receipt$n.bin") || fail "receipt $n is not a kdc.v1.Receipt"
	assert_contains "receipt $n" "$want_line" "$text"
	case "$text" in *rejected*) fail "receipt $n rejects the event: $text" ;; esac
	receipts=$((receipts + 1))
	assert_eq "rows with id $eid after delivery $n" 1 "$(sql_count "$db" events "lower(hex(id)) = '$hex'")"
done
assert_eq "receipts for 3 deliveries" 3 "$receipts"

# The device still has the event pending. Its next sync finishes it, either
# with the receipts its persistent session queued meanwhile or by sending
# again (a 4th delivery, receipted too); either way it is stored once.
dev_sync "$conf" 30
assert_eq "outbox rows after sync" 0 "$(dev_outbox_count "$conf")"
extra=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-receipts" "$receipts_topic" 10 2 | wc -l)
assert_eq "rows stored in total" 1 "$(sql_count "$db" events)"
assert_eq "rows rejected" 0 "$(sql_count "$db" rejected)"

agg_stop "$WORK/agg"
echo "duplicates: 3 replays of one event, stored 1, receipts $receipts/3 (+$extra after the device's sync), outbox 0"
