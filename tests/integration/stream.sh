# shellcheck shell=bash
# tests/integration/stream.sh: the shared part of the crash tests (sourced).
# Four devices fill their outboxes first, then sync in parallel into one
# aggregator while the test kills something; afterwards every event must be
# stored exactly once and every outbox be empty.
#
# Needs: common.sh sourced, WORK set, STREAM_BROKER (broker dir), STREAM_WARD.

STREAM_DEVICES=4
STREAM_TOTAL=${KDC_STREAM_EVENTS:-10000}
STREAM_PER=$((STREAM_TOTAL / STREAM_DEVICES))
STREAM_TOTAL=$((STREAM_PER * STREAM_DEVICES))
STREAM_DB=$WORK/agg/ward.db
SYNC_PIDS=()

stream_conf() { echo "$WORK/dev$1.conf"; }

# stream_start_aggregator: starts it and waits until it is online.
stream_start_aggregator() {
	agg_start "$WORK/agg" --broker "$(broker_url "$STREAM_BROKER")" --ward "$STREAM_WARD" \
		--db "$STREAM_DB" --client-id "kdc-agg-$STREAM_WARD"
	agg_wait_online "$STREAM_BROKER" "$STREAM_WARD" 30
}

# stream_fill: writes the device configs and records STREAM_PER events on each
# (kdc-event bulk: one process and a few transactions per device), the four
# devices in parallel.
stream_fill() {
	local d pids=() st t0=$SECONDS
	for d in $(seq 1 "$STREAM_DEVICES"); do
		# Two teams of two devices; a receipt that does not come within 3 s
		# makes the device publish the event again.
		dev_config "$(stream_conf "$d")" "$STREAM_BROKER" "$STREAM_WARD" "T$(((d + 1) / 2))" "D$d" resend-after=3
		: >"$WORK/ids-D$d.txt"
		fill_outbox_bulk "$(stream_conf "$d")" "$STREAM_PER" "$WORK/ids-D$d.txt" &
		pids+=($!)
	done
	for d in "${!pids[@]}"; do
		wait "${pids[$d]}"
		st=$?
		[ "$st" = 0 ] || fail "recording events on device D$((d + 1)) failed (status $st)"
	done
	for d in $(seq 1 "$STREAM_DEVICES"); do
		assert_eq "pending on D$d before sync" "$STREAM_PER" "$(dev_outbox_count "$(stream_conf "$d")" 'state = 0')"
	done
	kdc_say "recorded $STREAM_TOTAL events on $STREAM_DEVICES devices in $((SECONDS - t0)) s"
}

# stream_start_syncs [DEVICE-NUMBERS...]: one `kdc-event sync` per device (all
# by default), in parallel. A test can hold a device back and start it later:
# until then the stream cannot end, however fast the machine is.
STREAM_T0=
stream_start_syncs() {
	local d devs=("$@")
	[ $# -gt 0 ] || mapfile -t devs < <(seq 1 "$STREAM_DEVICES")
	for d in "${devs[@]}"; do
		"$KDC_EVENT" --config "$(stream_conf "$d")" sync --timeout 150 >"$WORK/sync-D$d.log" 2>&1 &
		SYNC_PIDS[$d]=$!
		KDC_PIDS+=($!)
	done
	[ -n "$STREAM_T0" ] || STREAM_T0=$SECONDS
}

stream_stored() { sql_count "$STREAM_DB" events; }

# stream_wait_syncs: every sync must end with exit 0 (nothing pending).
stream_wait_syncs() {
	local d st
	for d in "${!SYNC_PIDS[@]}"; do
		wait "${SYNC_PIDS[$d]}"
		st=$?
		kdc_forget_pid "${SYNC_PIDS[$d]}"
		[ "$st" = 0 ] || fail "kdc-event sync of D$d exited $st, expected 0: $(tail -n 3 "$WORK/sync-D$d.log")"
	done
	kdc_say "all ${#SYNC_PIDS[@]} syncs exited 0, $((SECONDS - STREAM_T0)) s after the first started"
}

# stream_verify: exactly the recorded events, each once; every outbox empty.
stream_verify() {
	local d stored dups
	stored=$(stream_stored)
	assert_eq "rows stored" "$STREAM_TOTAL" "$stored"
	dups=$(sql "$STREAM_DB" "select count(*) - count(distinct device || '/' || seq) from events;")
	assert_eq "rows sharing a device and seq (duplicates)" 0 "$dups"
	for d in $(seq 1 "$STREAM_DEVICES"); do
		assert_eq "D$d: rows, distinct seq, min, max" "$STREAM_PER|$STREAM_PER|1|$STREAM_PER" \
			"$(sql "$STREAM_DB" "select count(*), count(distinct seq), min(seq), max(seq) from events where device = 'D$d';")"
		assert_eq "D$d: outbox rows" 0 "$(dev_outbox_count "$(stream_conf "$d")")"
	done
	sql "$STREAM_DB" 'select lower(hex(id)) from events;' | sort >"$WORK/stored.txt"
	cat "$WORK"/ids-D*.txt | tr -d '-' | tr 'A-F' 'a-f' | sort >"$WORK/recorded.txt"
	cmp -s "$WORK/stored.txt" "$WORK/recorded.txt" ||
		fail "stored ids differ from recorded ids: $(comm -3 "$WORK/stored.txt" "$WORK/recorded.txt" | head -n 5 | tr '\n' ' ')"
	echo "ok: stored ids are exactly the $STREAM_TOTAL recorded ids"
	assert_eq "rejected rows" 0 "$(sql_count "$STREAM_DB" rejected)"
	STREAM_SUMMARY="stored $stored/$STREAM_TOTAL, duplicates $dups, outbox 0 on $STREAM_DEVICES devices"
}

# rand_ms LOW HIGH: a random number of milliseconds in [LOW, HIGH], as seconds.
rand_sleep() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}
