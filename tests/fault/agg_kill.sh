#!/usr/bin/env bash
# Scenario 1: the aggregator is SIGKILLed at random moments while 8 devices
# publish (scaled: 5 kills, 8 x 1,000 events; full: 20 kills, 8 x 12,500 =
# 100,000 events). The load comes in rounds, one kill per round: each device
# records its share with kdc-event bulk, then syncs; the kill falls at a
# random moment of the round's traffic (mostly once a random 5-95% of the
# round is stored, sometimes at a random time) and the aggregator is started
# again after 0-1 s. Rounds go on until the number of kills that fell while
# devices were still syncing is reached, so the event total can exceed the
# nominal one. Every recorded event must end up stored exactly once.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fault_init agg_kill 91001

kills=$(fault_pick 5 20)
per_round=$(fault_pick 200 625) # per device and round
devices=8
sync_timeout=$(fault_pick 120 600)
FAULT_WHAT="aggregator SIGKILL"

fault_broker_start
fault_agg_start
fault_devices "$devices" "$BROKER_URL"

# A kill counts when it fell while devices were still syncing; a round whose
# traffic was over before its kill is followed by another round (at most
# 3 x kills rounds), so the figure is kills during traffic, not attempts.
round=0
while [ "$FAULT_STRIKES_IN_FLIGHT" -lt "$kills" ] && [ "$round" -lt $((3 * kills)) ]; do
	round=$((round + 1))
	fault_record "$per_round"
	fault_hold_agg
	fault_sync_start "$sync_timeout"
	fault_strike_moment $((per_round * devices))
	agg_kill "$WORK/agg"
	fault_count 1
	fault_struck
	kdc_say "round $round: aggregator SIGKILLed $STRIKE ($(fault_stored) stored of $(fault_expected) recorded, $INFLIGHT unreceipted)"
	rand_between 0 1000
	sleep_ms "$RAND"
	agg_restart "$WORK/agg"
	fault_sync_wait $((sync_timeout + 30))
done
assert_ge "aggregator kills while devices were syncing" "$kills" "$FAULT_STRIKES_IN_FLIGHT"
fault_drain "$sync_timeout"
fault_verify
