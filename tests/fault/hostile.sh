#!/usr/bin/env bash
# Scenario 6: hostile payloads on the events topic. A corpus made by
# gen_corpus.sh (truncated, random, oversized, wrong-typed, unknown-enum,
# far-future, far-past, missing fields, bad codes (a NUL or bad UTF-8 in every
# string field) and values, topic mismatches) is published with
# mosquitto_pub, one payload at a time: each
# must land in the rejected table with its reason (and its topic, length and
# raw bytes), be answered by a rejection receipt when its device is readable,
# and nothing may be stored. Then a flood of hostile messages (corpus payloads
# under 64 KiB, repeated; scaled 10,000, full 100,000, after a 40,000 warm-up):
# the daemon must stay alive, handle every one in `rejected` (the newest 200
# per device kept, the others counted in rejected_dropped), and its VmRSS must
# stay flat. Finally a real device still gets its events through.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fault_init hostile 91006

flood=$(fault_pick 10000 100000)
# Warm-up first: the aggregator's ingest ring (32,768 slots, touched lazily)
# and its SQLite page cache (--cache-mib, 8 MiB) legitimately grow RSS until
# about 40,000 messages have gone through (measured: 21 MB after 10,000,
# 44 MB after 40,000, then +0.3-0.5 MB per 10,000). Only then is "flat" a
# test of leaks.
# Under the sanitizers RSS is not judged (see below), so the warm-up would
# only cost minutes: none there unless asked for.
if ldd "$KDC_AGGREGATOR" 2>/dev/null | grep -q libasan; then
	warmup=${FAULT_WARMUP:-0}
else
	warmup=${FAULT_WARMUP:-40000}
fi
# Measured after the warm-up: RSS wanders within about 1.8 MB with no trend
# from 40,000 to 150,000 messages, so the slack is 2 MiB; the full run floods
# 100,000, where a leak of 20 bytes a message would already show.
rss_slack_kb=${FAULT_RSS_SLACK_KB:-2048}
FAULT_WHAT="hostile payloads"
team=T1
dev=D1
topic=kdc/v1/$WARD/events/$team/$dev
# bytes of a refused payload the aggregator keeps (KDC_STORE_REJECTED_PAYLOAD_MAX)
keep=8192

fault_broker_start
fault_agg_start
port=$(broker_port "$WORK/broker")
bash "$FAULT_DIR/gen_corpus.sh" "$WORK/corpus" "$WARD" "$team" "$dev" "$FAULT_SEED" ||
	fail "gen_corpus.sh failed"
mq_sub_prepare "$WORK/broker" "kdc-fault-$WARD-receipts" "kdc/v1/$WARD/receipts/+"

# ---- one at a time: the reason of each ------------------------------------------
wrong=0
n=0
with_device=0
while IFS='|' read -r file want t; do
	n=$((n + 1))
	[ -z "$t" ] && with_device=$((with_device + 1))
	before=$(sql "$FAULT_DB" "select coalesce(max(rid), 0) from rejected;")
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "${t:-$topic}" -f "$WORK/corpus/$file" ||
		fail "mosquitto_pub of $file failed"
	got=
	deadline=$((SECONDS + 60)) # a bound for a loaded machine under ASan, not a pace
	while :; do
		got=$(sql "$FAULT_DB" "select reason_name || '|' || payload_len || '|' || length(payload) || '|' || topic || '|' || coalesce(device, '') from rejected where rid > $before order by rid limit 1;")
		[ -n "$got" ] || [ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.1
	done
	size=$(stat -c %s "$WORK/corpus/$file")
	IFS='|' read -r reason plen blen rtopic rdev <<<"$got"
	verdict=ok
	if [ -z "$got" ]; then
		verdict="not in rejected within 60 s"
	elif [ "$want" != '*' ] && [ "$reason" != "$want" ]; then
		verdict="reason $reason, expected $want"
	elif [ "$plen" != "$size" ]; then
		verdict="payload_len $plen, expected $size"
	elif [ "$blen" != $((size < keep ? size : keep)) ]; then
		verdict="stored payload $blen bytes, expected the first $((size < keep ? size : keep))"
	elif [ "$rtopic" != "${t:-$topic}" ]; then
		verdict="topic '$rtopic', expected '${t:-$topic}'"
	elif [ -z "$t" ] && [ "$rdev" != "$dev" ]; then
		verdict="device '$rdev', expected '$dev' (readable from the topic)"
	fi
	printf '  %-40s %-15s -> %s\n' "$file" "$want" "${reason:-nothing}$([ "$verdict" = ok ] || echo "   <-- $verdict")"
	[ "$verdict" = ok ] || wrong=$((wrong + 1))
	agg_alive "$WORK/agg" || fail "the aggregator died on $file"
done <"$WORK/corpus/manifest"
fault_count "$n"
assert_eq "corpus payloads not rejected as expected (of $n)" 0 "$wrong"
assert_eq "rows stored from hostile payloads" 0 "$(fault_stored)"

# Rejection receipts: every payload on the device's own topic is answered.
receipts=$(mq_sub_collect "$WORK/broker" "kdc-fault-$WARD-receipts" "kdc/v1/$WARD/receipts/+" 100000 3)
rejections=0
while IFS= read -r hex; do
	[ -n "$hex" ] || continue
	hex_to_file "$hex" "$WORK/receipt.bin"
	r=$(pb_decode kdc.v1.Receipt receipt <"$WORK/receipt.bin" | grep -c '^rejected {')
	rejections=$((rejections + r))
done <<<"$receipts"
assert_ge "rejections receipted on kdc/v1/$WARD/receipts/$dev" "$with_device" "$rejections"

# ---- flood: memory stays flat ---------------------------------------------------
# The flood cycles through the manifest's payloads under 64 KiB, each on its
# own topic (the bad_topic ones are valid events: on the device's topic they
# would rightly be stored).
small=()
small_topic=()
while IFS='|' read -r file want t; do
	[ "$(stat -c %s "$WORK/corpus/$file")" -lt 65536 ] || continue
	small+=("$file")
	small_topic+=("${t:-$topic}")
done <"$WORK/corpus/manifest"
# publish_many COUNT: COUNT messages, each payload sent by one mosquitto_pub
# with --repeat (at QoS 1 it waits for every PUBACK).
publish_many() {
	local count=$1 per left=$1 i
	per=$(((count + ${#small[@]} - 1) / ${#small[@]}))
	for i in "${!small[@]}"; do
		[ "$left" -le 0 ] && break
		[ "$per" -gt "$left" ] && per=$left
		mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "${small_topic[$i]}" \
			-f "$WORK/corpus/${small[$i]}" --repeat "$per" ||
			fail "mosquitto_pub --repeat $per of ${small[$i]} failed"
		left=$((left - per))
	done
}
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$(agg_pid "$WORK/agg")/status"; }
# Refused payloads handled: kept in rejected, or kept and later purged by
# the per-device budget (counted in rejected_dropped).
rejected_now() {
	sql "$FAULT_DB" "select (select count(*) from rejected) + (select coalesce(sum(dropped), 0) from rejected_dropped);"
}
wait_rejected() {
	local want=$1
	wait_for 120 "$want rows in rejected" eval '[ "$(rejected_now)" -ge '"$want"' ]'
}

base=$(rejected_now)
rss_start=$(rss_kb)
publish_many "$warmup"
wait_rejected $((base + warmup))
sleep 2
rss0=$(rss_kb)
kdc_say "warm-up of $warmup hostile messages: VmRSS ${rss_start} kB -> ${rss0} kB"
base=$(rejected_now)
t0=$SECONDS
publish_many "$flood"
wait_rejected $((base + flood))
sleep 2
rss1=$(rss_kb)
fault_count "$((warmup + flood))"
agg_alive "$WORK/agg" || fail "the aggregator died during the flood"
assert_eq "refused payloads handled (kept or purged) in the flood of $flood" "$flood" $(($(rejected_now) - base))
kdc_say "flood of $flood hostile messages taken in $((SECONDS - t0)) s; VmRSS ${rss0} kB -> ${rss1} kB"
if ldd "$KDC_AGGREGATOR" 2>/dev/null | grep -q libasan; then
	# ASan's quarantine keeps freed memory (256 MB by default): RSS says
	# nothing there, and ASan reports leaks itself at exit.
	fault_note "VmRSS grew $((rss1 - rss0)) kB over the flood; not judged: sanitizer build"
else
	assert_between "VmRSS growth (kB) over $flood hostile messages" -100000 "$rss_slack_kb" $((rss1 - rss0))
fi
assert_eq "rows stored from hostile payloads" 0 "$(fault_stored)"

# ---- and a real device still gets through -------------------------------------------
fault_devices 1 "$BROKER_URL"
fault_record 100
fault_sync_start 60
fault_sync_wait 90
FAULT_EXPECT_REJECTED=$(rejected_now)
fault_verify
