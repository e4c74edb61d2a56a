#!/usr/bin/env bash
# The broker SIGKILLed once in the middle of a 10,000-event stream from 4
# devices and restarted on its port (with whatever persistence it had saved,
# which for a broker killed before its first autosave is nothing: sessions,
# subscriptions and queued messages are gone). Afterwards exactly 10,000
# rows, each id once, every outbox empty.
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
stream_start_syncs

# "The middle": once a fifth of the events is stored, or after 20 s.
fifth=$((STREAM_TOTAL / 5))
stored_enough() { [ "$(stream_stored)" -ge "$fifth" ]; }
deadline=$((SECONDS + 20))
while ! stored_enough && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
at_kill=$(stream_stored)
broker_kill "$STREAM_BROKER"
kdc_say "broker SIGKILLed at +$((SECONDS - STREAM_T0)) s with $at_kill/$STREAM_TOTAL stored"
[ "$at_kill" -lt "$STREAM_TOTAL" ] || fail "the stream had ended before the broker was killed: the test proved nothing"
rand_sleep 500 1500
broker_start "$STREAM_BROKER"
kdc_say "broker restarted on port $(broker_port "$STREAM_BROKER")"

stream_wait_syncs
agg_alive "$WORK/agg" || fail "the aggregator died after the broker was killed"
stream_verify
agg_stop "$WORK/agg"
broker_stop "$STREAM_BROKER"
echo "broker_kill: broker SIGKILLed with $at_kill stored, $STREAM_SUMMARY"
