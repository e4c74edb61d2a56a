#!/usr/bin/env bash
# The broker SIGKILLed once in the middle of a 10,000-event stream (4,000
# under the sanitizers) from 4 devices (the 4th joins after the restart) and
# restarted on its port (with whatever persistence it had saved, which for a
# broker killed before its first autosave is nothing: sessions, subscriptions
# and queued messages are gone). Afterwards exactly those rows, each id once,
# every outbox empty.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init broker_kill 220
need_program KDC_EVENT
need_program KDC_AGGREGATOR
STREAM_WARD=90006
STREAM_BROKER=$WORK/broker
. "$(dirname "${BASH_SOURCE[0]}")/stream.sh"

broker_start "$STREAM_BROKER"
stream_start_aggregator
stream_fill
held=$STREAM_DEVICES
stream_start_syncs $(seq 1 $((STREAM_DEVICES - 1)))

# "The middle": once a fifth of the events is stored, looked at with the
# aggregator stopped between short slices so that it cannot run past that
# while a slow shell polls; D4 is held back until the broker is back, so the
# stream cannot have ended at the kill, however fast the machine is.
fifth=$((STREAM_TOTAL / 5))
stored_enough() { n=$(sql_count_now "$STREAM_DB" events) && [ "$n" -ge "$fifth" ]; }
agg_step_until "$WORK/agg" 120 stored_enough
at_kill=$n
broker_kill "$STREAM_BROKER"
agg_resume "$WORK/agg"
kdc_say "broker SIGKILLed at +$((SECONDS - STREAM_T0)) s with $at_kill/$STREAM_TOTAL stored"
[ "$at_kill" -lt "$STREAM_TOTAL" ] || fail "the stream had ended before the broker was killed: the test proved nothing"
rand_sleep 500 1500
broker_start "$STREAM_BROKER"
kdc_say "broker restarted on port $(broker_port "$STREAM_BROKER")"
stream_start_syncs "$held"

stream_wait_syncs
agg_alive "$WORK/agg" || fail "the aggregator died after the broker was killed"
stream_verify
agg_stop "$WORK/agg"
broker_stop "$STREAM_BROKER"
echo "broker_kill: broker SIGKILLed with $at_kill stored, $STREAM_SUMMARY"
