#!/usr/bin/env bash
# Scenario 3: device processes killed while offline with queued events,
# restarted, then reconnected. The devices reach the broker only through the
# fault proxy, which starts "down" (every connection reset: no network).
# Offline, each device
#   - records a batch with kdc-event bulk that is SIGKILLed at a random moment
#     (whatever it committed must stay, whatever it did not must not appear),
#   - records a second batch to the end,
#   - starts sync twice (it cannot connect) and is SIGKILLed each time.
# The outboxes must pass SQLite's integrity check. Then the network comes
# back, every device syncs, and some syncs are SIGKILLed again mid-traffic
# and restarted. Scaled: 4 devices x 1,000 events; full: 8 x 12,500.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fault_init device_kill 91004

devices=$(fault_pick 4 8)
per_dev=$(fault_pick 1000 12500)
online_kills=$(fault_pick 4 16)
sync_timeout=$(fault_pick 120 600)
FAULT_WHAT="device process SIGKILL (bulk, offline sync, online sync)"

fault_broker_start
fault_agg_start
fault_proxy_start --down 1
fault_devices "$devices" "$PROXY_URL"

for d in "${DEVICES[@]}"; do
	conf=$(fault_conf "$d")
	# A recording killed part way. It commits every 1,000 rows.
	"$KDC_EVENT" --config "$conf" bulk --count "$per_dev" --days "$FAULT_DAYS" --seed "$RANDOM" \
		>>"$WORK/dev/$d.bulk.log" 2>&1 &
	pid=$!
	rand_between 10 $((per_dev / 20 + 50))
	sleep_ms "$RAND"
	kill -KILL "$pid" 2>/dev/null && fault_count 1
	wait "$pid" 2>/dev/null
	kept=$(fault_outbox_count "$d")
	kdc_say "$d: bulk SIGKILLed after ${RAND} ms, $kept events kept"
	fault_record $((per_dev - kept)) "$d"

	# Syncs that cannot connect, killed while they retry.
	for _ in 1 2; do
		fault_sync_start "$sync_timeout" "$d"
		rand_between 300 2500
		sleep_ms "$RAND"
		pid_alive "${SYNC_PID[$d]}" || fail "$d: offline sync ended by itself (status: see $WORK/dev/$d.sync.log)"
		fault_sync_kill "$d"
		fault_count 1
	done
	st=$(sql "$(fault_outbox "$d")" "pragma integrity_check;")
	assert_eq "$d: outbox integrity after the kills" ok "$st"
	pending=$("$KDC_EVENT" --config "$conf" pending 2>/dev/null | grep -c -E '^[0-9a-f]{8}-')
	assert_eq "$d: events listed by kdc-event pending" "$(fault_outbox_count "$d" 'state = 0')" "$pending"
done
fault_capture
kdc_say "offline: $(fault_expected) events queued on ${#DEVICES[@]} devices, $FAULTS kills so far"
assert_eq "events stored while every device was offline" 0 "$(fault_stored)"

# The network returns.
fault_proxy_control "down 0"
fault_sync_start "$sync_timeout"
total=$(fault_expected)
for k in $(seq 1 "$online_kills"); do
	d=${DEVICES[$((RANDOM % ${#DEVICES[@]}))]}
	fault_strike_moment $((total / online_kills))
	if pid_alive "${SYNC_PID[$d]:-0}"; then
		fault_sync_kill "$d"
		fault_count 1
		kdc_say "online kill $k/$online_kills: $d's sync SIGKILLed $STRIKE ($(fault_stored) stored of $total)"
	else
		kdc_say "online kill $k/$online_kills: $d had finished already"
	fi
	rand_between 0 1000
	sleep_ms "$RAND"
	[ "$(fault_outbox_count "$d")" -gt 0 ] && ! pid_alive "${SYNC_PID[$d]:-0}" && fault_sync_start "$sync_timeout" "$d"
done
fault_sync_wait $((sync_timeout + 30))
fault_drain "$sync_timeout"
fault_verify
