#!/usr/bin/env bash
# The aggregator SIGKILLed at 5 random moments while 4 devices sync 10,000
# events, and restarted each time: afterwards exactly 10,000 rows, each id
# once, every outbox empty.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init aggregator_kill 220
need_program KDC_EVENT
need_program KDC_AGGREGATOR
STREAM_WARD=90005
STREAM_BROKER=$WORK/broker
. "$(dirname "${BASH_SOURCE[0]}")/stream.sh"

broker_start "$STREAM_BROKER"
stream_start_aggregator
stream_fill
stream_start_syncs

# The 5 moments: when the stored count first reaches each of 5 random
# thresholds between 3% and 60% of the stream (sorted), and never before the
# restarted aggregator has stored something again. The backlog drains at
# thousands of events a second, so moments chosen by the clock would often
# fall after the end of the stream.
mapfile -t thresholds < <(for k in 1 2 3 4 5; do
	echo $((STREAM_TOTAL * 3 / 100 + (RANDOM * 32768 + RANDOM) % (STREAM_TOTAL * 57 / 100)))
done | sort -n)
kills=()
last=$(stream_stored)
for k in 1 2 3 4 5; do
	deadline=$((SECONDS + 60))
	while n=$(stream_stored); [ "$n" -lt "${thresholds[$((k - 1))]}" ] || [ "$n" -le "$last" ]; do
		[ "$SECONDS" -lt "$deadline" ] || fail "no progress towards kill $k: $n stored"
		[ "$n" -lt "$STREAM_TOTAL" ] || break
		sleep 0.005
	done
	agg_alive "$WORK/agg" || fail "aggregator died by itself before kill $k"
	agg_kill "$WORK/agg"
	n=$(stream_stored)
	kills+=("$n")
	kdc_say "kill $k at +$((SECONDS - STREAM_T0)) s (threshold ${thresholds[$((k - 1))]}): $n/$STREAM_TOTAL stored"
	[ "$n" -lt "$STREAM_TOTAL" ] || fail "kill $k came after the stream had ended"
	last=$n
	rand_sleep 0 300
	agg_restart "$WORK/agg"
done
echo "all 5 kills hit the stream in progress (stored at each kill: ${kills[*]})"

stream_wait_syncs
stream_verify
agg_stop "$WORK/agg"
broker_stop "$STREAM_BROKER"
echo "aggregator_kill: 5 SIGKILLs (stored at each: ${kills[*]}), $STREAM_SUMMARY"
