#!/usr/bin/env bash
# Bad input on the events topics: garbage bytes, a real payload cut short, a
# valid event on another device's topic, a 1 MiB payload, codes with a NUL. Each lands in the
# `rejected` table with its reason, the device named by the topic gets a
# receipt rejecting it, and the aggregator goes on storing good events.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init rejects 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90003
db=$WORK/agg/ward.db
agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --client-id "kdc-agg-$ward-rejects"
agg_wait_online "$BROKER_DIR" "$ward" 30

conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5

# A real payload, captured from the device's first sync.
mq_sub_prepare "$BROKER_DIR" "kdc-test-$ward-capture" "kdc/v1/$ward/events/T1/D1"
dev_event "$conf" visit --khom 3 --household H100 --outcome surveyed --members 5 \
	--members-15plus 4 --smartphones 3 --needs vneid,cashless_bills
real_id=$(uuid_hex "$EVENT_ID")
dev_sync "$conf" 60
real=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-capture" "kdc/v1/$ward/events/T1/D1" 1 10 | head -n 1)
[ -n "$real" ] || fail "could not capture the device's payload"
assert_eq "stored after the first sync" 1 "$(sql_count "$db" events)"

for d in D1 D2; do
	mq_sub_prepare "$BROKER_DIR" "kdc-test-$ward-receipts-$d" "kdc/v1/$ward/receipts/$d"
done

checked=0
# expect_rejected CASE TOPIC_DEVICE REASON_NAME REASON_ENUM PAYLOAD_LEN [EVENT_HEX]
expect_rejected() {
	local case=$1 dev=$2 name=$3 enum=$4 len=$5 ehex=${6:-} n row r text
	n=$((checked + 1))
	rejected_now() { [ "$(sql_count "$db" rejected)" -ge "$n" ]; }
	wait_for 60 "$case: row $n in rejected" rejected_now
	row=$(sql "$db" "select reason_name, reason, coalesce(device, ''), payload_len,
		length(payload), lower(coalesce(hex(event_id), '')), length(detail) > 0, topic
		from rejected order by rid limit 1 offset $checked;")
	IFS='|' read -r -a f <<<"$row"
	assert_eq "$case: reason_name" "$name" "${f[0]}"
	assert_eq "$case: reason" "$(reason_number "$enum")" "${f[1]}"
	assert_eq "$case: device (from the topic)" "$dev" "${f[2]}"
	assert_eq "$case: payload_len" "$len" "${f[3]}"
	# the aggregator keeps the first 8 KiB of a refused payload (KDC_STORE_REJECTED_PAYLOAD_MAX)
	assert_eq "$case: stored payload bytes (first 8 KiB)" "$((len < 8192 ? len : 8192))" "${f[4]}"
	if [ "${ehex:0:1}" = "?" ]; then
		# The id may or may not be recoverable from a damaged payload.
		[ -z "${f[5]}" ] || [ "${f[5]}" = "${ehex:1}" ] ||
			fail "$case: event_id: expected empty or ${ehex:1}, got ${f[5]}"
		echo "ok: $case: event_id = '${f[5]}' (empty or the real id)"
		ehex=${f[5]}
	else
		assert_eq "$case: event_id" "$ehex" "${f[5]}"
	fi
	assert_eq "$case: detail is not empty" 1 "${f[6]}"
	assert_eq "$case: topic" "kdc/v1/$ward/events/T1/$dev" "${f[7]}"
	r=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-receipts-$dev" "kdc/v1/$ward/receipts/$dev" 1 15 | head -n 1)
	[ -n "$r" ] || fail "$case: no receipt on kdc/v1/$ward/receipts/$dev within 15 s"
	hex_to_file "$r" "$WORK/receipt-$n.bin"
	text=$(pb_decode kdc.v1.Receipt receipt <"$WORK/receipt-$n.bin") || fail "$case: receipt is not a kdc.v1.Receipt"
	assert_contains "$case: receipt" "reason: $enum" "$text"
	[ -n "$ehex" ] && assert_contains "$case: receipt" "id: $(pb_bytes_text "$ehex")" "$text"
	case "$text" in *committed*) fail "$case: receipt also commits something: $text" ;; esac
	agg_alive "$WORK/agg" || fail "$case: the aggregator died"
	checked=$n
}

# reason_number ENUM: the number protoc gives the enum value.
reason_number() {
	printf 'reason: %s\n' "$1" | pb_encode kdc.v1.Rejection receipt | od -An -tu1 | awk '{print $2}'
}

# 1. Garbage: 0x67 is field 12 with wire type 7, which does not exist.
printf 'garbage\xff\xfe\xfd not a protobuf' >"$WORK/garbage.bin"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/garbage.bin"
expect_rejected garbage D1 malformed REJECT_REASON_MALFORMED "$(stat -c %s "$WORK/garbage.bin")"

# 2. The real payload cut about in half, at a point where the cut falls inside
# a field (protoc cannot decode it either).
len=$((${#real} / 2))
cut=$((len / 2))
while [ "$cut" -gt 1 ]; do
	hex_to_file "${real:0:$((cut * 2))}" "$WORK/truncated.bin"
	pb_decode kdc.v1.Event event <"$WORK/truncated.bin" >/dev/null 2>&1 || break
	cut=$((cut - 1))
done
echo "truncated: $cut of $len bytes"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/truncated.bin"
expect_rejected truncated D1 malformed REJECT_REASON_MALFORMED "$cut" "?$real_id"

# 3. A valid event of device D1 published on device D2's topic. Built with
# protoc so that the id is new to the aggregator.
ehex=$(uuid7_hex)
now_ms=$(($(date +%s%N) / 1000000))
printf 'id: "%s"\nseq: 7\noccurred_ms: %s\nward: "%s"\nkhom: "3"\nteam: "T1"\ndevice: "D1"\nhousehold: "H101"\nmember: 1\naccount { kind: ACCOUNT_KIND_PAYMENT }\n' \
	"$(hex_escape "$ehex")" "$now_ms" "$ward" | pb_encode kdc.v1.Event event >"$WORK/other.bin" ||
	fail "protoc could not encode the event"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D2" "$WORK/other.bin"
expect_rejected topic_mismatch D2 topic_mismatch REJECT_REASON_TOPIC_MISMATCH "$(stat -c %s "$WORK/other.bin")" "$ehex"
assert_eq "events with the mismatched id" 0 "$(sql_count "$db" events "lower(hex(id)) = '$ehex'")"

# 4. 1 MiB of random bytes.
head -c 1048576 /dev/urandom >"$WORK/big.bin"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/big.bin"
expect_rejected too_large D1 too_large REJECT_REASON_TOO_LARGE 1048576

# 5, 6. A code with a NUL inside, encoded by protoc: cut at the NUL,
# household "H101\0X" would be stored as H101, and device "D1\0evil" would pass
# as the topic's device D1. Both are codes with a byte outside the alphabet.
# nul_event NAME HOUSEHOLD DEVICE FIELD_HEX: writes $WORK/NAME.bin (which must
# hold FIELD_HEX, the field as protoc puts it on the wire), its id in $nul_id.
nul_event() {
	nul_id=$(uuid7_hex)
	printf 'id: "%s"\nseq: 8\noccurred_ms: %s\nward: "%s"\nkhom: "3"\nteam: "T1"\ndevice: "%s"\nhousehold: "%s"\nmember: 1\naccount { kind: ACCOUNT_KIND_PAYMENT }\n' \
		"$(hex_escape "$nul_id")" "$now_ms" "$ward" "$3" "$2" |
		pb_encode kdc.v1.Event event >"$WORK/$1.bin" || fail "protoc could not encode $1"
	case "$(od -An -tx1 -v "$WORK/$1.bin" | tr -d ' \n')" in
	*"$4"*) ;;
	*) fail "$1: protoc did not write the field $4" ;;
	esac
}
nul_event household-nul 'H101\000X' D1 4206483130310058
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/household-nul.bin"
expect_rejected household-nul D1 bad_code REJECT_REASON_BAD_CODE "$(stat -c %s "$WORK/household-nul.bin")" "$nul_id"
assert_contains "household-nul: detail" household "$(sql "$db" "select detail from rejected order by rid desc limit 1;")"
assert_eq "events with the household-nul id" 0 "$(sql_count "$db" events "lower(hex(id)) = '$nul_id'")"
nul_event device-nul H101 'D1\000evil' 3a074431006576696c
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/device-nul.bin"
expect_rejected device-nul D1 bad_code REJECT_REASON_BAD_CODE "$(stat -c %s "$WORK/device-nul.bin")" "$nul_id"
assert_contains "device-nul: detail" device "$(sql "$db" "select detail from rejected order by rid desc limit 1;")"
assert_eq "events with the device-nul id" 0 "$(sql_count "$db" events "lower(hex(id)) = '$nul_id'")"

# Still serving: the protoc-built event on its own topic is stored and
# receipted, and so is a new event from the device.
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/other.bin"
r=$(mq_sub_collect "$BROKER_DIR" "kdc-test-$ward-receipts-D1" "kdc/v1/$ward/receipts/D1" 1 15 | head -n 1)
[ -n "$r" ] || fail "no receipt for a valid event after the rejections"
hex_to_file "$r" "$WORK/receipt-ok.bin"
assert_contains "receipt of the protoc-built event on its own topic" \
	"committed: $(pb_bytes_text "$ehex")" "$(pb_decode kdc.v1.Receipt receipt <"$WORK/receipt-ok.bin")"
dev_event "$conf" service --khom 3 --household H100 --member 2 --kind birth_registration
dev_sync "$conf" 60
assert_eq "events stored (first, protoc-built, last)" 3 "$(sql_count "$db" events)"
assert_eq "rejected rows" 6 "$(sql_count "$db" rejected)"
assert_eq "outbox rows" 0 "$(dev_outbox_count "$conf")"

agg_stop "$WORK/agg"

# The device side: a receipt addressed to "D3\0x" is not D3's. D3's ward has no
# aggregator; its first sync leaves its event pending and its session (with
# the receipts subscription) in the broker, which then queues the receipts
# below for it. The next sync must ignore the first and apply the second.
conf3=$WORK/d3.conf
dev_config "$conf3" "$BROKER_DIR" 90013 T1 D3
dev_event "$conf3" account --khom 3 --household H300 --member 1 --kind vneid_level2
d3_id=$(uuid_hex "$EVENT_ID")
"$KDC_EVENT" --config "$conf3" sync --timeout 2 >>"$WORK/d3.sync.log" 2>&1
assert_eq "exit status of D3's sync with no aggregator" 3 "$?"
# receipt_for DEVICE_TEXT NAME: a receipt committing D3's event, by protoc.
receipt_for() {
	printf 'device: "%s"\ncommitted: "%s"\n' "$1" "$(hex_escape "$d3_id")" |
		pb_encode kdc.v1.Receipt receipt >"$WORK/$2.bin" || fail "protoc could not encode $2"
	mq_pub_file "$BROKER_DIR" "kdc/v1/90013/receipts/D3" "$WORK/$2.bin"
}
receipt_for 'D3\000x' receipt-nul
: >"$WORK/d3.sync.log"
"$KDC_EVENT" --config "$conf3" sync --timeout 8 >>"$WORK/d3.sync.log" 2>&1
assert_eq "exit status of D3's sync with only the D3\\0x receipt" 3 "$?"
assert_contains "D3's sync log" "receipt on kdc/v1/90013/receipts/D3 is ignored: device code has byte 0x00" \
	"$(cat "$WORK/d3.sync.log")"
assert_eq "D3's outbox rows after the D3\\0x receipt" 1 "$(dev_outbox_count "$conf3")"
receipt_for D3 receipt-good
dev_sync "$conf3" 30
assert_eq "D3's outbox rows after its own receipt" 0 "$(dev_outbox_count "$conf3")"

echo "rejects: 6/6 rejected with reasons (malformed x2, topic_mismatch, too_large, bad_code x2 for a NUL in household and device), 6 rejection receipts, stored 3/3 good events afterwards, outbox 0; a receipt for D3\\0x ignored by D3"
