#!/usr/bin/env bash
# Retained statistics after the broker restarts from an older persistence
# file. The broker saves its database (SIGUSR1: the save an autosave does)
# while the ward's stored_total is 5; 5 more events are stored and their
# snapshots published; then the broker is SIGKILLed and restarted from that
# file, which serves the snapshots of 5. The aggregator must publish the
# current ones (10) again as soon as it has reconnected: within 45 s of their
# as_of, well before the writer would republish unchanged figures anyway
# (60 s), however slow the machine (normally 1-5 s after the restart).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init stats_after_broker_restart 220
need_program KDC_EVENT
need_program KDC_AGGREGATOR
command -v jq >/dev/null || fail "jq is needed (apt-get install -y jq)"

ward=90012
bdir=$WORK/broker
db=$WORK/agg/ward.db
conf=$WORK/d1.conf
broker_start "$bdir"
agg_start "$WORK/agg" --broker "$(broker_url "$bdir")" --ward "$ward" \
	--db "$db" --client-id "kdc-agg-$ward"
agg_wait_online "$bdir" "$ward" 30
dev_config "$conf" "$bdir" "$ward" T1 D1 resend-after=5

# retained BROKERDIR SCOPE JQ: one field of a retained snapshot ("none" when
# there is none yet).
retained() {
	local msg
	msg=$(mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$1")" -t "kdc/v1/$ward/stats/$2" \
		-C 1 -W 2 2>/dev/null) || msg=""
	[ -n "$msg" ] || { echo none; return; }
	jq -r "$3" <<<"$msg" 2>/dev/null || echo unreadable
}
retained_is() { [ "$(retained "$1" "$2" "$3")" = "$4" ]; }

# record N: N visits in khóm 6, synced (every event receipted).
record() {
	local i
	for ((i = 0; i < $1; i++)); do
		dev_event "$conf" visit --khom 6 --household "H$RANDOM" --outcome surveyed \
			--members 3 --members-15plus 2 --smartphones 1 --needs install_app
	done
	dev_sync "$conf" 60
}

record 5
wait_for 60 "retained ward stored_total 5" retained_is "$bdir" ward .stored_total 5

# The save: mosquitto writes mosquitto.db.new and renames it, so a new inode
# means the file is complete.
inode() { stat -c %i "$bdir/mosquitto.db" 2>/dev/null || echo none; }
before=$(inode)
kill -USR1 "$(broker_pid "$bdir")" || fail "cannot signal the broker"
saved() { [ "$(inode)" != "$before" ]; }
wait_for 60 "the broker's persistence file to be written" saved
kdc_say "broker saved its database with stored_total 5"

record 5
wait_for 60 "retained ward stored_total 10" retained_is "$bdir" ward .stored_total 10
wait_for 60 "retained khóm 6 stored_total 10" retained_is "$bdir" khom/6 .stored_total 10
seq=$(retained "$bdir" ward .seq)
as_of_ms=$(retained "$bdir" ward .as_of_ms)
broker_kill "$bdir"
kdc_say "broker SIGKILLed with the ward snapshot seq $seq (stored_total 10) retained"
mkdir -p "$WORK/probe"
cp "$bdir/mosquitto.db" "$WORK/probe/mosquitto.db"

# The aggregator sends unchanged figures again 60 s after it last sent them
# (as_of of that snapshot) anyway: the current ones must be back well before,
# or the test could not tell the fix from that.
t0=$SECONDS
broker_start "$bdir"
kdc_say "broker restarted from its persistence file on port $(broker_port "$bdir")"
until_us=$(((as_of_ms + 45000) * 1000))
current() {
	retained_is "$bdir" ward .stored_total 10 && retained_is "$bdir" khom/6 .stored_total 10 &&
		retained_is "$bdir" team/T1 .stored_total 10
}
while ! current; do
	[ "${EPOCHREALTIME/./}" -lt "$until_us" ] ||
		fail "ward, khóm 6 and team T1 snapshots not current (stored_total 10) $((SECONDS - t0)) s after the restart, 45 s after they were last sent (ward now: $(retained "$bdir" ward .stored_total))"
	sleep 0.2
done
kdc_say "current figures retained $((SECONDS - t0)) s after the restart"
assert_ge "ward snapshot seq after the restart" "$seq" "$(retained "$bdir" ward .seq)"
agg_wait_online "$bdir" "$ward" 60

# What the saved file served, read from a copy on a broker of its own that
# no aggregator knows: the older figures, or this test proved nothing.
broker_start "$WORK/probe"
assert_eq "stored_total in the saved persistence file" 5 "$(retained "$WORK/probe" ward .stored_total)"
broker_stop "$WORK/probe"

agg_stop "$WORK/agg"
broker_stop "$bdir"
echo "stats_after_broker_restart: current snapshots retained within $((SECONDS - t0)) s of the broker's restart"
