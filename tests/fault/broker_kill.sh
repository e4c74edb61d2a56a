#!/usr/bin/env bash
# Scenario 2: the broker is SIGKILLed and restarted under load, keeping its
# persistence file (broker_kill.sh keep) or losing it (broker_kill.sh wipe: a
# disk replaced, or persistence never saved). Scaled: 3 kills, 8 x 1,000
# events; full: 10 kills, 8 x 12,500 = 100,000 events. Rounds as in
# agg_kill.sh, one kill per round at a random moment of its traffic, the
# broker back on the same port after 0.2-1.5 s. With the file wiped, queued
# messages and sessions are gone: the devices must resend and the aggregator
# must subscribe again, and its retained status must say online again.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mode=${1:-keep}
case $mode in keep | wipe) ;; *) echo "usage: $0 keep|wipe" >&2; exit 2 ;; esac
fault_init "broker_kill_$mode" $([ "$mode" = keep ] && echo 91002 || echo 91003)

kills=$(fault_pick 3 10)
per_round=$(fault_pick 333 1250) # per device and round
devices=8
sync_timeout=$(fault_pick 120 600)
FAULT_WHAT="broker SIGKILL, persistence $([ "$mode" = keep ] && echo kept || echo wiped)"

fault_broker_start
fault_agg_start
fault_devices "$devices" "$BROKER_URL"

# Kills counted as in agg_kill.sh: only those during traffic; more rounds
# (at most 3 x kills) when a round was over before its kill.
round=0
while [ "$FAULT_STRIKES_IN_FLIGHT" -lt "$kills" ] && [ "$round" -lt $((3 * kills)) ]; do
	round=$((round + 1))
	fault_record "$per_round"
	fault_hold_agg
	fault_sync_start "$sync_timeout"
	fault_strike_moment $((per_round * devices))
	broker_kill "$WORK/broker"
	agg_resume "$WORK/agg"
	fault_count 1
	fault_struck
	kdc_say "round $round: broker SIGKILLed $STRIKE ($(fault_stored) stored of $(fault_expected) recorded, $INFLIGHT unreceipted)"
	[ "$mode" = wipe ] && rm -f "$WORK/broker/mosquitto.db"
	rand_between 200 1500
	sleep_ms "$RAND"
	broker_start "$WORK/broker"
	fault_sync_wait $((sync_timeout + 30))
done
assert_ge "broker kills while devices were syncing" "$kills" "$FAULT_STRIKES_IN_FLIGHT"
fault_drain "$sync_timeout"

# The status is retained: after a wipe it is only there if the aggregator
# published it again on reconnecting. The last kill may be a moment ago (the
# drain can finish before the aggregator's next reconnect attempt): allow it
# its backoff.
agg_wait_online "$WORK/broker" "$WARD" 20
echo "ok: retained aggregator status after the broker restarts: online"
fault_verify
