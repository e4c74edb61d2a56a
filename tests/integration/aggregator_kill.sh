#!/usr/bin/env bash
# The aggregator SIGKILLed at 5 random moments while 4 devices sync 10,000
# events, and restarted each time: afterwards exactly 10,000 rows, each id
# once, every outbox empty.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init aggregator_kill
need_program KDC_EVENT
need_program KDC_AGGREGATOR
STREAM_WARD=90005
STREAM_BROKER=$WORK/broker
. "$(dirname "${BASH_SOURCE[0]}")/stream.sh"

broker_start "$STREAM_BROKER"
stream_start_aggregator
stream_fill
stream_start_syncs

kills=()
for k in 1 2 3 4 5; do
	rand_sleep 200 1200
	n=$(stream_stored)
	agg_alive "$WORK/agg" || fail "aggregator died by itself before kill $k"
	agg_kill "$WORK/agg"
	kills+=("$n")
	kdc_say "kill $k at +$((SECONDS - STREAM_T0)) s: $n/$STREAM_TOTAL stored"
	rand_sleep 0 500
	agg_restart "$WORK/agg"
done
mid=0
for n in "${kills[@]}"; do
	[ "$n" -lt "$STREAM_TOTAL" ] && mid=$((mid + 1))
done
echo "kills while events were still arriving: $mid of 5 (stored at each kill: ${kills[*]})"
[ "$mid" -ge 1 ] || fail "every kill came after the stream had ended: the test proved nothing"

stream_wait_syncs
stream_verify
agg_stop "$WORK/agg"
broker_stop "$STREAM_BROKER"
echo "aggregator_kill: 5 SIGKILLs (stored at each: ${kills[*]}), $STREAM_SUMMARY"
