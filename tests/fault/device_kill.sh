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
# back, every device syncs, and in a few rounds all running syncs are
# SIGKILLed again mid-traffic and restarted. Scaled: 4 devices x 1,000
# events; full: 8 x 12,500 (a little more when a killed recording kept more).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fault_init device_kill 91004

devices=$(fault_pick 4 8)
per_dev=$(fault_pick 1000 12500)
online_rounds=$(fault_pick 3 6)
sync_timeout=$(fault_pick 120 600)
FAULT_WHAT="device process SIGKILL (bulk, offline sync, online sync)"

fault_broker_start
fault_agg_start
fault_proxy_start --down 1
fault_devices "$devices" "$PROXY_URL"

for d in "${DEVICES[@]}"; do
	conf=$(fault_conf "$d")
	# A recording killed part way (it commits every 1,000 rows, so what
	# stays is a multiple of 1,000, or all of it if the kill came late).
	"$KDC_EVENT" --config "$conf" bulk --count $((per_dev * 10)) --days "$FAULT_DAYS" --seed "$RANDOM" \
		>>"$WORK/dev/$d.bulk.log" 2>&1 &
	pid=$!
	# kdc-event bulk records about 60,000 events/s here: aim inside the first
	# per_dev events. More may stay if the machine is fast; they count too.
	rand_between 5 $((5 + per_dev / 60))
	sleep_ms "$RAND"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	st=$?
	kept=$(fault_outbox_count "$d")
	if [ "$st" = 137 ]; then
		fault_count 1
		kdc_say "$d: bulk SIGKILLed after ${RAND} ms, $kept of $per_dev events kept"
	else
		kdc_say "$d: bulk ended (status $st) before its kill at ${RAND} ms, $kept events"
	fi
	if [ "$kept" -lt "$per_dev" ]; then
		fault_record $((per_dev - kept)) "$d"
	else
		fault_capture "$d"
	fi

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

# The network returns. Each online round starts a sync on every device that
# still holds events and SIGKILLs all those still running at a random moment
# of the traffic; then a last sync runs to the end.
fault_proxy_control "down 0"
total=$(fault_expected)
for k in $(seq 1 "$online_rounds"); do
	left=()
	for d in "${DEVICES[@]}"; do
		[ "$(fault_outbox_count "$d")" -gt 0 ] && left+=("$d")
	done
	[ "${#left[@]}" -gt 0 ] || break
	fault_hold_agg
	fault_sync_start "$sync_timeout" "${left[@]}"
	fault_strike_moment $((total - $(fault_stored)))
	killed=0
	for d in "${left[@]}"; do
		if pid_alive "${SYNC_PID[$d]:-0}"; then
			fault_sync_kill "$d"
			killed=$((killed + 1))
		fi
	done
	agg_resume "$WORK/agg"
	fault_sync_wait 30 # those that had finished
	fault_count "$killed"
	kdc_say "online round $k: $killed syncs SIGKILLed $STRIKE ($(fault_stored) stored of $total, $(fault_in_flight) unreceipted)"
	rand_between 0 1000
	sleep_ms "$RAND"
done
fault_sync_start "$sync_timeout"
fault_sync_wait $((sync_timeout + 30))
fault_drain "$sync_timeout"
fault_verify
