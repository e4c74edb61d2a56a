#!/usr/bin/env bash
# What a device sends again after its connection breaks. The broker's
# session tells it: a broker that still has the device's session (restarted
# with its persistence file) also still has every event it acknowledged, so
# the device sends none of them again; a broker that lost the session (its
# file deleted) may have lost them too, so the device sends everything still
# unreceipted at once, without waiting for resend-after (an hour here).
#
# Phase 1: 2,000 events published while no aggregator runs (queued by the
# broker for the aggregator's session), broker restarted with its file, the
# device reconnects: still 2,000 publishes when the aggregator then stores
# and receipts them all.
# Phase 2: 500 more published and queued, the sync paused (SIGSTOP), the
# broker restarted without its file, the aggregator online again, the sync
# continued: it sends the 500 again within seconds and finishes.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init reconnect 150
need_program KDC_EVENT
need_program KDC_AGGREGATOR

ward=90011
bdir=$WORK/broker
adir=$WORK/agg
conf=$WORK/d1.conf
log=$WORK/d1.sync.log
broker_start "$bdir"
agg_args=(--broker "$(broker_url "$bdir")" --ward "$ward" --db "$adir/ward.db"
	--client-id "kdc-agg-$ward-reconnect")
dev_config "$conf" "$bdir" "$ward" T1 D1 resend-after=3600 log-level=info

# The aggregator's persistent session must exist for the broker to queue
# events for it while it is away.
agg_start "$adir" "${agg_args[@]}"
agg_wait_online "$bdir" "$ward" 30
agg_stop "$adir"

# sync_sent: the last "sent N" the running sync printed (one line a second).
sync_sent() { sed -n 's/^sync: sent \([0-9]*\),.*/\1/p' "$log" | tail -n 1; }
sync_sent_at_least() { local n; n=$(sync_sent); [ "${n:-0}" -ge "$1" ]; }
sync_wait_sent() { wait_for "$2" "the sync to have sent $1 events" sync_sent_at_least "$1"; }
connects_at_least() { [ "$(grep -c 'mqtt: connected to' "$log")" -ge "$1" ]; }

# ---- phase 1: the broker keeps the session -------------------------------
fill_outbox_bulk "$conf" 2000 "$WORK/ids1"
# A subscriber sees what the broker has taken in: it acknowledges each
# publish as it routes it, so when all 2000 have reached the subscriber
# their PUBACKs are on their way to the device.
# (Its session is made first, so it misses none of them.)
mq_sub_prepare "$bdir" "kdc-test-routed-$ward" "kdc/v1/$ward/events/#"
mq_sub_collect "$bdir" "kdc-test-routed-$ward" "kdc/v1/$ward/events/#" 2000 60 >"$WORK/routed1" &
KDC_PIDS+=("$!")
"$KDC_EVENT" --config "$conf" sync --timeout 120 </dev/null >"$log" 2>&1 &
sync_pid=$!
KDC_PIDS+=("$sync_pid")
sync_wait_sent 2000 30
routed_all() { [ "$(wc -l <"$WORK/routed1")" -ge 2000 ]; }
wait_for 60 "the broker to have routed the 2000 events" routed_all
sleep 1 # the last PUBACKs of a local broker take milliseconds
broker_restart "$bdir" keep
wait_for 20 "the device to reconnect" connects_at_least 2
grep -q 'session resumed' "$log" || fail "the device did not resume its session after the restart: $(grep 'mqtt:' "$log" | tail -n 3)"
sleep 3 # time for a resend, if the device were going to make one
assert_eq "publishes after the reconnect with the session kept" 2000 "$(sync_sent)"
agg_start "$adir" "${agg_args[@]}"
pid_wait_dead "$sync_pid" 60 || fail "the sync did not finish within 60 s of the aggregator's start"
assert_eq "sync exit status" 0 "$KDC_WAIT_STATUS"
kdc_forget_pid "$sync_pid"
grep -q '^sync: done, nothing pending (2000 sent, 2000 receipted)' "$log" ||
	fail "expected 'sync: done, nothing pending (2000 sent, 2000 receipted)', got: $(tail -n 2 "$log")"
echo "ok: session kept: 2000 events, 2000 publishes, all receipted"
assert_eq "events stored" 2000 "$(sql_count "$adir/ward.db" events)"

# ---- phase 2: the broker lost the session --------------------------------
agg_stop "$adir"
"$KDC_EVENT" --config "$conf" bulk --count 500 --khom 6 --households 400 --days 20 >/dev/null 2>&1 ||
	fail "kdc-event bulk --count 500 failed"
"$KDC_EVENT" --config "$conf" sync --timeout 120 </dev/null >"$log" 2>&1 &
sync_pid=$!
KDC_PIDS+=("$sync_pid")
sync_wait_sent 500 30
sleep 1
kill -STOP "$sync_pid"
broker_restart "$bdir" wipe
agg_start "$adir" "${agg_args[@]}"
agg_wait_online "$bdir" "$ward" 30
t0=$SECONDS
kill -CONT "$sync_pid"
pid_wait_dead "$sync_pid" 60 || fail "the sync did not finish within 60 s of the broker's loss (resend-after is an hour)"
assert_eq "sync exit status" 0 "$KDC_WAIT_STATUS"
kdc_forget_pid "$sync_pid"
grep -q 'session new' "$log" || fail "the device did not see a new session after the wipe: $(grep 'mqtt:' "$log" | tail -n 3)"
grep -q '^sync: done, nothing pending (1000 sent, 500 receipted)' "$log" ||
	fail "expected 'sync: done, nothing pending (1000 sent, 500 receipted)', got: $(tail -n 2 "$log")"
echo "ok: session lost: the 500 sent again at once, finished $((SECONDS - t0)) s after the sync went on"
assert_eq "events stored" 2500 "$(sql_count "$adir/ward.db" events)"
agg_stop "$adir"
