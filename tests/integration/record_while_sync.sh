#!/usr/bin/env bash
# Recording and syncing at the same time on one device: three `kdc-event`
# processes record (a visit, a batch of events with kdc-event bulk, a
# payment, in rounds), while `kdc-event sync`
# runs back to back on the same outbox, against a real broker and aggregator
# on a healthy link. Then the recorders stop and a last sync sends the rest.
#
#   - every sync ends with exit 0: it waits for the receipts of what was
#     pending when it started, not for an outbox that the recorders keep
#     filling;
#   - every event is published exactly once: an event recorded while a sync
#     runs is never taken for a resend, and a sync leaves nothing in flight
#     for the next one to send again. Publishes are counted by a separate
#     subscriber on the broker (per event id), by the aggregator (stored plus
#     duplicates) and by the syncs' own "sent N" lines;
#   - no sync says it sent anything "again".
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init record_while_sync 280
need_program KDC_EVENT
need_program KDC_AGGREGATOR

ward=90013
recorders=3
syncs=${KDC_OVERLAP_SYNCS:-10}
# Recording goes in rounds, one per sync, started as the sync starts: in a
# round each recorder records a visit, a batch with kdc-event bulk (one
# transaction, holding the outbox's write lock while the sync wants it to
# note what it sent or to apply receipts) and a payment; recorder 1's
# batch is big, the others' small. A recorder still busy when the next sync
# starts goes on with the next round: the recording overlaps the syncs, and
# its volume follows the syncs instead of the clock (a slow build must not
# record faster than its syncs drain).
bulk_sizes=(0 "${KDC_OVERLAP_BIG:-500}" 50 50)
broker=$WORK/broker
adir=$WORK/agg
db=$adir/ward.db
conf=$WORK/d1.conf
stop=$WORK/recorders.stop
broker_start "$broker"
agg_start "$adir" --broker "$(broker_url "$broker")" --ward "$ward" --db "$db" \
	--client-id "kdc-agg-$ward-overlap"
agg_wait_online "$broker" "$ward" 30
# resend-after at its default (30 s): on a healthy link no receipt takes that
# long, so any "again" is a publish that should not have happened
dev_config "$conf" "$broker" "$ward" T1 D1 log-level=info

# Every message on the ward's event topics, one line each: topic and the
# payload's first 18 bytes in hex (field 1, the 16-byte event id, comes
# first). A marker on another topic, published after the last sync, says
# that everything the broker took before it has been written out.
pubs=$WORK/publishes.txt
marker="kdc-test/$ward/end"
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -i "kdc-test-count-$ward" \
	-t "kdc/v1/$ward/events/#" -t "$marker/#" -F '%t %x' >"$pubs" 2>"$WORK/sub.err" &
KDC_PIDS+=($!)
sub_pid=$!
# the subscription is in place once a message on the marker topic gets back
sub_ready() {
	mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -t "$marker/ready" -m x
	grep -q "^$marker/ready " "$pubs"
}
wait_for 20 "the counting subscriber to be subscribed" sub_ready

# record_loop N: one round per go.K file, until the stop file exists; any
# failure is written to rec-N.err and ends the loop.
record_loop() {
	local n=$1 k=0
	while :; do
		k=$((k + 1))
		while [ ! -e "$WORK/go.$k" ]; do
			[ -e "$stop" ] && return 0
			sleep 0.05
		done
		if ! "$KDC_EVENT" --config "$conf" visit --khom $((k % 9 + 1)) --household "H$n-$k" \
			--outcome surveyed --members 3 --members-15plus 2 --smartphones 1 \
			>/dev/null 2>>"$WORK/rec-$n.log" ||
			! "$KDC_EVENT" --config "$conf" bulk --count "${bulk_sizes[$n]}" --days 3 --seed "$n$k" \
				>/dev/null 2>>"$WORK/rec-$n.log" ||
			! "$KDC_EVENT" --config "$conf" payment --khom 1 --household "H$n-$k" --member 1 \
				--purpose electricity --method qr_code --amount 1000 \
				>/dev/null 2>>"$WORK/rec-$n.log"; then
			echo "recording failed: $(tail -n 2 "$WORK/rec-$n.log")" >"$WORK/rec-$n.err"
			return 1
		fi
	done
}
rec_pids=()
for n in $(seq 1 "$recorders"); do
	record_loop "$n" &
	rec_pids+=($!)
	KDC_PIDS+=($!)
done
# recorded: events recorded so far (each took the outbox's next seq)
recorded() {
	[ -s "$(dev_outbox "$conf")" ] || { echo 0; return; }
	sql "$(dev_outbox "$conf")" "select value - 1 from meta where key = 'next_seq';"
}
# a first round, so that the first sync has something to send
touch "$WORK/go.1"
recorded_at_least() { [ "$(recorded)" -ge "$1" ]; }
wait_for 30 "the recorders to record their first events" recorded_at_least 3

# sync_once K: one sync; its log in sync-K.log; must exit 0.
sync_once() {
	local k=$1 st
	echo "--- sync $k $(date -u +%H:%M:%S.%N), $(recorded) recorded so far" >"$WORK/sync-$k.log"
	"$KDC_EVENT" --config "$conf" sync --timeout 60 </dev/null >>"$WORK/sync-$k.log" 2>&1
	st=$?
	[ "$st" = 0 ] || fail "sync $k exited $st, expected 0: $(tail -n 3 "$WORK/sync-$k.log")"
}
for k in $(seq 1 "$syncs"); do
	touch "$WORK/go.$((k + 1))"
	sync_once "$k"
	for n in $(seq 1 "$recorders"); do
		[ -e "$WORK/rec-$n.err" ] && fail "recorder $n: $(cat "$WORK/rec-$n.err")"
	done
done
kdc_say "$syncs syncs done while recording, $(recorded) events recorded so far"
touch "$stop"
for i in "${!rec_pids[@]}"; do
	wait "${rec_pids[$i]}" || fail "recorder $((i + 1)) failed: $(cat "$WORK/rec-$((i + 1)).err" 2>/dev/null)"
	kdc_forget_pid "${rec_pids[$i]}"
done
events=$(recorded)
last=$((syncs + 1))
sync_once "$last"
assert_eq "outbox rows after the last sync" 0 "$(dev_outbox_count "$conf")"
assert_eq "events stored" "$events" "$(sql_count "$db" events)"

# Everything the broker took has reached the subscriber once the marker has.
mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$broker")" -q 1 -t "$marker" -m end
sub_done() { grep -q "^$marker " "$pubs"; }
wait_for 20 "the end marker to reach the counting subscriber" sub_done
kill -TERM "$sub_pid"
pid_wait_dead "$sub_pid" 5
kdc_forget_pid "$sub_pid"
agg_stop "$adir"

# Publishes per event, as the broker passed them on.
grep "^kdc/v1/$ward/events/" "$pubs" | awk '{ print substr($2, 5, 32) }' | sort | uniq -c |
	awk '{ print $1 }' | sort -n | uniq -c >"$WORK/per_event.txt"
published=$(grep -c "^kdc/v1/$ward/events/" "$pubs")
distinct=$(grep "^kdc/v1/$ward/events/" "$pubs" | awk '{ print substr($2, 5, 32) }' | sort -u | wc -l)
syncs_sent=$(cat "$WORK"/sync-*.log | sed -n 's/^sync: done, nothing pending (\([0-9]*\) sent.*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
totals=$(grep 'totals since start:' "$adir/agg.log" | tail -n 1)
agg_stored=$(sed -n 's/.*totals since start: \([0-9]*\) events stored.*/\1/p' <<<"$totals")
agg_dups=$(sed -n 's/.*events stored, \([0-9]*\) duplicates.*/\1/p' <<<"$totals")
overlapped=$(grep -l 'recorded during the sync go with the next one' "$WORK"/sync-*.log | wc -l)
kdc_say "$events events, $published publishes seen by the broker's subscriber ($distinct distinct ids)," \
	"$syncs_sent by the syncs' count, aggregator $agg_stored stored + $agg_dups duplicates;" \
	"publishes per event: $(awk '{ printf "%s event(s) %s time(s); ", $1, $2 }' "$WORK/per_event.txt")" \
	"$overlapped of $last syncs ended with events recorded during them"
cat "$WORK"/sync-*.log >"$WORK/syncs.log"
KDC_LOGS+=("$WORK/syncs.log")
assert_eq "distinct event ids published" "$events" "$distinct"
assert_eq "publishes (broker's subscriber)" "$events" "$published"
assert_eq "publishes (syncs' own count)" "$events" "$syncs_sent"
assert_eq "events the aggregator stored" "$events" "$agg_stored"
assert_eq "duplicates the aggregator received" 0 "$agg_dups"
again=$(grep -c 'event(s) again' "$WORK/syncs.log")
assert_eq "syncs that sent events again" 0 "$again"
# the test means something only if recording and syncing did overlap
assert_ge "syncs that ended while newer events waited" 1 "$overlapped"
