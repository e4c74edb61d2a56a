#!/usr/bin/env bash
# A device works offline: with the broker down it records 1,000 events while a
# `kdc-event sync` is started and SIGKILLed twice; once the broker is back
# (and the aggregator, which kept running, has reconnected), one sync delivers
# everything: all 1,000 stored exactly once, outbox empty.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init offline_device 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR

ward=90004
total=${KDC_OFFLINE_EVENTS:-1000}
broker=$WORK/broker
db=$WORK/agg/ward.db
broker_start "$broker"
agg_start "$WORK/agg" --broker "$(broker_url "$broker")" --ward "$ward" \
	--db "$db" --client-id "kdc-agg-$ward-offline"
agg_wait_online "$broker" "$ward" 30

conf=$WORK/d1.conf
dev_config "$conf" "$broker" "$ward" T2 D7 resend-after=5
broker_stop "$broker"
port_open "$(broker_port "$broker")" && fail "broker still accepts after stop"
kdc_say "broker stopped; recording $total events"

# Recording in five chunks: kdc-event bulk for the 1st, 3rd and 5th (fast, so
# the outage stays short and the test well within its time), one kdc-event
# call per event for the 2nd and 4th, while a sync runs beside them on the same
# outbox with no broker to talk to; each of those syncs is then SIGKILLed.
ids=$WORK/ids.txt
: >"$ids"
rest=$((total - 40))
chunks=($((rest / 3)) 20 $((rest / 3)) 20 $((rest - 2 * (rest / 3))))
kills=0
for c in 0 1 2 3 4; do
	if [ "$c" = 1 ] || [ "$c" = 3 ]; then
		"$KDC_EVENT" --config "$conf" sync --timeout 60 >>"$WORK/killed-sync.log" 2>&1 &
		spid=$!
		KDC_PIDS+=("$spid")
		fill_outbox "$conf" "${chunks[$c]}" "$ids"
		pid_alive "$spid" || fail "sync with no broker exited early (status: $(wait "$spid"; echo $?))"
		kill -KILL "$spid"
		pid_wait_dead "$spid" 5
		kdc_forget_pid "$spid"
		kills=$((kills + 1))
		kdc_say "sync $kills (pid $spid) SIGKILLed after $(dev_outbox_count "$conf") events recorded"
	else
		out=$("$KDC_EVENT" --config "$conf" bulk --count "${chunks[$c]}" --khom 4 --days 3 2>&1) ||
			fail "kdc-event bulk --count ${chunks[$c]} failed: $out"
	fi
done
assert_eq "ids printed by the single kdc-event calls" 40 "$(wc -l <"$ids")"
recorded=$(dev_outbox_count "$conf")
assert_eq "events in the outbox" "$total" "$recorded"
assert_eq "pending in the outbox while offline" "$total" "$(dev_outbox_count "$conf" 'state = 0')"
assert_eq "seq in the outbox: distinct, min, max" "$total|1|$total" \
	"$(sql "$(dev_outbox "$conf")" 'select count(distinct seq), min(seq), max(seq) from outbox;')"
sql "$(dev_outbox "$conf")" 'select lower(hex(id)) from outbox;' | sort >"$WORK/recorded.txt"
tr -d '-' <"$ids" | tr 'A-F' 'a-f' | sort >"$WORK/single.txt"
[ -z "$(comm -13 "$WORK/recorded.txt" "$WORK/single.txt")" ] ||
	fail "ids printed by kdc-event missing from the outbox: $(comm -13 "$WORK/recorded.txt" "$WORK/single.txt" | head -n 3)"
echo "ok: the 40 ids printed by kdc-event are in the outbox"
assert_eq "rows stored while offline" 0 "$(sql_count "$db" events)"

broker_start "$broker"
kdc_say "broker back on port $(broker_port "$broker"); syncing"
t0=$SECONDS
dev_sync "$conf" 90
kdc_say "sync done in $((SECONDS - t0)) s"

stored=$(sql_count "$db" events)
assert_eq "rows stored" "$recorded" "$stored"
assert_eq "distinct ids stored" "$recorded" "$(sql "$db" 'select count(distinct id) from events;')"
assert_eq "seq 1..N, each once" "$recorded|1|$recorded" \
	"$(sql "$db" "select count(distinct seq), min(seq), max(seq) from events where device = 'D7';")"
sql "$db" 'select lower(hex(id)) from events;' | sort >"$WORK/stored.txt"
cmp -s "$WORK/stored.txt" "$WORK/recorded.txt" ||
	fail "stored ids differ from recorded ids: $(comm -3 "$WORK/stored.txt" "$WORK/recorded.txt" | head -n 5 | tr '\n' ' ')"
echo "ok: stored ids are exactly the recorded ids"
assert_eq "outbox rows" 0 "$(dev_outbox_count "$conf")"
assert_eq "rejected rows" 0 "$(sql_count "$db" rejected)"

agg_stop "$WORK/agg"
broker_stop "$broker"
echo "offline_device: recorded $recorded offline, $kills syncs killed, stored $stored/$recorded, duplicates 0, outbox 0"
