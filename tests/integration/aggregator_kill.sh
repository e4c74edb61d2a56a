#!/usr/bin/env bash
# The aggregator SIGKILLed at 5 random moments while devices sync 10,000
# events (4 devices; 4,000 under the sanitizers, see tests/CMakeLists.txt),
# and restarted each time: afterwards exactly those rows, each id once, every
# outbox empty.
#
# Whatever the machine's speed, every kill falls while the stream is going:
#   - D4 is held back: its sync starts only after the 5th kill, so at each
#     kill at least its 2,500 events are still to come;
#   - the kill moments are counts of stored events, and the aggregator is run
#     in short slices while the test looks (agg_step_until), so it cannot run
#     past a moment while a slow shell polls.
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
held=$STREAM_DEVICES
released=$((STREAM_TOTAL - STREAM_PER))
stream_start_syncs $(seq 1 $((STREAM_DEVICES - 1)))

# The 5 moments: when the stored count first reaches each of 5 random
# thresholds between 3% and 80% of the released events (sorted), and never
# before the restarted aggregator has stored something again; or, should the
# aggregator have caught up with everything released, then (the stream is
# still going: D$held has not started).
mapfile -t thresholds < <(for k in 1 2 3 4 5; do
	echo $((released * 3 / 100 + (RANDOM * 32768 + RANDOM) % (released * 77 / 100)))
done | sort -n)
kill_moment() {
	n=$(sql_count_now "$STREAM_DB" events) || return 1
	{ [ "$n" -ge "$threshold" ] && [ "$n" -gt "$last" ]; } || [ "$n" -ge "$released" ]
}
kills=()
caught_up=0
last=$(stream_stored)
for k in 1 2 3 4 5; do
	threshold=${thresholds[$((k - 1))]}
	agg_step_until "$WORK/agg" 120 kill_moment
	agg_kill "$WORK/agg"
	kills+=("$n")
	what="$((released - n)) released events not stored yet"
	[ "$n" -lt "$released" ] || { what="everything released stored"; caught_up=$((caught_up + 1)); }
	kdc_say "kill $k at +$((SECONDS - STREAM_T0)) s (threshold $threshold): $n/$STREAM_TOTAL stored, $what"
	[ "$n" -lt "$STREAM_TOTAL" ] || fail "kill $k came after the stream had ended"
	last=$n
	rand_sleep 0 300
	agg_restart "$WORK/agg"
done
echo "all 5 kills hit the stream in progress (stored at each kill: ${kills[*]}; $caught_up with the released events all stored)"
stream_start_syncs "$held"

stream_wait_syncs
stream_verify
agg_stop "$WORK/agg"
broker_stop "$STREAM_BROKER"
echo "aggregator_kill: 5 SIGKILLs (stored at each: ${kills[*]}), $STREAM_SUMMARY"
