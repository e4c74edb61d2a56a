#!/usr/bin/env bash
# Topology B against a second broker implementation: the spine end to end
# through RabbitMQ's MQTT plugin (MQTT 3.1.1 only), configured from
# deploy/province/rabbitmq.conf.in with the accounts and topic rights of
# deploy/province/kdc-rabbitmq-defs. Two wards' aggregators subscribe per
# ward on the one broker; kdc-event devices record events of every kind and
# sync, with mqtt-version auto (which must fall back to 3.1.1) and with
# 3.1.1 given explicitly, over plain MQTT and over TLS; every event is
# stored once and receipted and every outbox is empty; a device cannot
# publish as another; the aggregator restarted with 3.1.1 goes on; and
# kdc-rollup adds the two wards up on the same broker. One test, because
# RabbitMQ takes about 20 s to start.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kdc_test_init province_rabbitmq
need_program KDC_EVENT
need_program KDC_AGGREGATOR
need_program KDC_ROLLUP
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"
tpl=$KDC_SOURCE_DIR/deploy/province
r=$WORK/rabbit
trap 'st=$?; rabbit_stop "$r"; kdc_cleanup $st' EXIT

w1=91301
w2=91302
province=91300

# ---- the broker, from the deploy template, with generated accounts -------------------------
rabbit_ports "$r"
make_tls "$r"
mport=$(cat "$r/mqtt.port")
tport=$(cat "$r/mqtts.port")
echo "$mport" >"$r/port" # for broker_url / dev_config
fill_template "$tpl/rabbitmq.conf.in" "$r/rabbitmq.conf" AMQP_PORT="$(cat "$r/amqp.port")" \
	PLAIN_BIND=127.0.0.1 MQTT_PORT="$mport" TLS_BIND=127.0.0.1 MQTTS_PORT="$tport" DIR="$r"
rabbit_start "$r"

declare -A pw
for a in agg1 agg2 d11 d12 d21 rollup; do pw[$a]=pw-$a-$RANDOM$RANDOM; done
cat >"$r/accounts" <<EOF
# test accounts
aggregator $w1 ${pw[agg1]}
aggregator $w2 ${pw[agg2]}
device $w1 D1 ${pw[d11]} T1
device $w1 D2 ${pw[d12]}
device $w2 D1 ${pw[d21]} T1
rollup $province ${pw[rollup]}
EOF
# D2's line is as written before worklists (no team): still accepted, with a
# word that it gets no worklist
"$tpl/kdc-rabbitmq-defs" "$r/accounts" >"$r/defs.json" 2>"$r/defs.err" ||
	fail "kdc-rabbitmq-defs failed: $(cat "$r/defs.err")"
grep -q "device $w1.D2 has no team" "$r/defs.err" ||
	fail "kdc-rabbitmq-defs did not say that D2's line has no team: $(cat "$r/defs.err")"
out=$(rabbitmqctl_ import_definitions "$r/defs.json" 2>&1) || fail "rabbitmqctl import_definitions: $out"
echo "ok: accounts imported: $(jq '.users | length' "$r/defs.json") users with topic rights"

url=tcp://127.0.0.1:$mport
# read a retained message as the roll-up account (RabbitMQ delivers retained
# messages to exact topic subscriptions only)
rsub() { retained_json "$mport" "$1" -u "kdc.rollup.$province" -P "${pw[rollup]}"; }
online() { case "$(rsub "kdc/v1/$1/status/aggregator")" in *'"online"'*) return 0 ;; esac; return 1; }

# ward 1 has a profile with teams, so its aggregator publishes team worklists
mkdir -p "$WORK/$w1"
cat >"$WORK/$w1/profile.ini" <<EOF
[ward]
code = $w1
[khom 6]
households = 40
people_15plus = 90
[khom 7]
households = 30
people_15plus = 70
[team T1]
khoms = 6
devices = D1
[team T2]
khoms = 7
devices = D2
EOF
agg_start "$WORK/$w1/agg" --broker "$url" --ward $w1 --db "$WORK/$w1/ward.db" \
	--username "kdc.aggregator.$w1" --password "${pw[agg1]}" --mqtt-version auto \
	--profile "$WORK/$w1/profile.ini"
agg_start "$WORK/$w2/agg" --broker "$url" --ward $w2 --db "$WORK/$w2/ward.db" \
	--username "kdc.aggregator.$w2" --password "${pw[agg2]}" --mqtt-version 3.1.1
wait_for 40 "aggregator $w1 online on RabbitMQ" online $w1
wait_for 40 "aggregator $w2 online on RabbitMQ" online $w2
grep -q 'connected to .* (MQTT 3.1.1' "$WORK/$w1/agg/agg.log" ||
	fail "aggregator $w1 (mqtt-version auto) did not say it connected with MQTT 3.1.1"
echo "ok: aggregator with mqtt-version auto fell back to MQTT 3.1.1"

# devices: ward 1 D1 auto over plain MQTT, ward 1 D2 3.1.1 over TLS, ward 2
# D1 auto over TLS
dev_config "$WORK/d11.conf" "$r" $w1 T1 D1 username=$w1.D1 password="${pw[d11]}" \
	mqtt-version=auto resend-after=5 log-level=info
dev_config "$WORK/d12.conf" "$r" $w1 T2 D2 username=$w1.D2 password="${pw[d12]}" \
	mqtt-version=3.1.1 ca-file="$r/ca.crt" resend-after=5 log-level=info
sed -i "s|^broker = .*|broker = ssl://127.0.0.1:$tport|" "$WORK/d12.conf"
dev_config "$WORK/d21.conf" "$r" $w2 T1 D1 username=$w2.D1 password="${pw[d21]}" \
	mqtt-version=auto ca-file="$r/ca.crt" resend-after=5 log-level=info
sed -i "s|^broker = .*|broker = ssl://127.0.0.1:$tport|" "$WORK/d21.conf"

declare -A ids # device conf -> file of recorded ids
record_each_kind() { # CONF KHOM: one event of each kind, ids appended
	local c=$1 k=$2
	dev_event "$c" visit --khom "$k" --household H1 --outcome surveyed --members 4 \
		--members-15plus 3 --smartphones 2 --needs install_app,payment_account
	echo "$EVENT_ID" >>"${c%.conf}.ids"
	dev_event "$c" account --khom "$k" --household H1 --member 1 --kind payment
	echo "$EVENT_ID" >>"${c%.conf}.ids"
	dev_event "$c" payment --khom "$k" --household H1 --member 1 --purpose electricity \
		--method qr_code --amount 250000
	echo "$EVENT_ID" >>"${c%.conf}.ids"
	dev_event "$c" service --khom "$k" --household H1 --member 2 --kind birth_registration
	echo "$EVENT_ID" >>"${c%.conf}.ids"
}
record_each_kind "$WORK/d11.conf" 6
record_each_kind "$WORK/d12.conf" 7
record_each_kind "$WORK/d21.conf" 1
out=$("$KDC_EVENT" --config "$WORK/d21.conf" bulk --count 200 --khom 2 --households 150 --days 10 2>&1) ||
	fail "kdc-event bulk: $out"
sql "$(dev_outbox "$WORK/d21.conf")" "select lower(hex(id)) from outbox where state = 0;" >"$WORK/d21.pending"

# stored_once DB IDSFILE: every id of the file is in events exactly once
stored_once() {
	local db=$1 ids=$2 id hex n=0
	while read -r id; do
		hex=$(uuid_hex "$id")
		[ "$(sql_count "$db" events "lower(hex(id)) = '$hex'")" = 1 ] ||
			fail "event $id is not stored exactly once in $db"
		n=$((n + 1))
	done <"$ids"
	echo "ok: $n events of $ids stored exactly once"
}

for c in d11 d12 d21; do dev_sync "$WORK/$c.conf" 90; done
for c in d11 d12 d21; do
	assert_eq "$c: outbox rows after sync (all receipted)" 0 "$(dev_outbox_count "$WORK/$c.conf")"
done
grep -q 'MQTT 3.1.1' "$WORK/d11.sync.log" || fail "device d11 (auto) did not connect with MQTT 3.1.1"
grep -q 'MQTT 3.1.1' "$WORK/d12.sync.log" || fail "device d12 (3.1.1) did not connect with MQTT 3.1.1"
# D2 has no worklist right: RabbitMQ closes the connection on its refused
# worklist SUBSCRIBE, and the sync still delivered everything (above)
grep -q "does not let this device read team T2's worklist" "$WORK/d12.sync.log" ||
	fail "d12's sync did not say that the broker refused its team's worklist"
echo "ok: a device without worklist rights syncs all its events and says the list was refused"
stored_once "$WORK/$w1/ward.db" "$WORK/d11.ids"
stored_once "$WORK/$w1/ward.db" "$WORK/d12.ids"
stored_once "$WORK/$w2/ward.db" "$WORK/d21.ids"
assert_eq "ward $w1 rows (2 devices x 4 kinds)" 8 "$(sql_count "$WORK/$w1/ward.db" events)"
assert_eq "ward $w2 rows (4 kinds + 200 bulk)" 204 "$(sql_count "$WORK/$w2/ward.db" events)"
assert_eq "ward $w2: every id pending before the sync stored (by id)" 204 \
	"$(sql "$WORK/$w2/ward.db" "select count(*) from events where lower(hex(id)) in ($(sed "s/.*/'&'/" "$WORK/d21.pending" | paste -sd,));")"
for w in $w1 $w2; do
	assert_eq "ward $w: kinds stored (visit, account, payment, service)" "0 1 2 3" \
		"$(sql "$WORK/$w/ward.db" "select distinct kind from events order by kind;" | paste -sd' ')"
	assert_eq "ward $w: rows rejected" 0 "$(sql_count "$WORK/$w/ward.db" rejected)"
done

# ---- a device cannot publish as another (topic rights) --------------------------------------
# D2's account publishing on D1's topic: RabbitMQ refuses it (and closes the
# connection); had it passed, the aggregator would have stored a rejected row.
mosquitto_pub -h 127.0.0.1 -p "$mport" -u "$w1.D2" -P "${pw[d12]}" -q 1 \
	-t "kdc/v1/$w1/events/T2/D1" -m 'not an event' 2>/dev/null
sleep 2
assert_eq "ward $w1 rejected rows after D2 published as D1 (refused by the broker)" 0 \
	"$(sql_count "$WORK/$w1/ward.db" rejected)"
# ... while on its own topic the same bytes do reach the aggregator
mosquitto_pub -h 127.0.0.1 -p "$mport" -u "$w1.D2" -P "${pw[d12]}" -q 1 \
	-t "kdc/v1/$w1/events/T2/D2" -m 'not an event' || fail "D2 could not publish on its own topic"
rejected_one() { [ "$(sql_count "$WORK/$w1/ward.db" rejected)" = 1 ]; }
wait_for 60 "the aggregator's rejected row for D2's own (malformed) message" rejected_one
echo "ok: D2's message on its own topic arrived and was rejected as malformed"

# ---- the aggregator again, now with MQTT 3.1.1 given explicitly ------------------------------------
agg_stop "$WORK/$w1/agg"
sed -i 's/^auto$/3.1.1/' "$WORK/$w1/agg/agg.args"
agg_restart "$WORK/$w1/agg"
wait_for 40 "aggregator $w1 online again (3.1.1)" online $w1
: >"$WORK/d11.ids.2"
for i in 1 2 3; do
	dev_event "$WORK/d11.conf" payment --khom 6 --household "H$i" --member 1 --purpose water \
		--method bank_transfer --amount $((i * 1000))
	echo "$EVENT_ID" >>"$WORK/d11.ids.2"
done
# team T1's worklist, published by the aggregator (retained) once it has
# households, reaches D1 (which has the right to read it) on this sync
wl_published() {
	[ -n "$(retained_json "$mport" "kdc/v1/$w1/worklist/T1" -u "kdc.aggregator.$w1" -P "${pw[agg1]}")" ]
}
wait_for 60 "team T1's worklist retained on RabbitMQ" wl_published
dev_sync "$WORK/d11.conf" 60
assert_eq "d11: outbox rows after the second sync" 0 "$(dev_outbox_count "$WORK/d11.conf")"
grep -q "the team's worklist is updated" "$WORK/d11.sync.log" ||
	fail "d11's sync did not receive team T1's worklist: $(grep worklist "$WORK/d11.sync.log")"
worklist_out=$("$KDC_EVENT" --config "$WORK/d11.conf" worklist 2>&1) || fail "kdc-event worklist: $worklist_out"
grep -q H1 <<<"$worklist_out" || fail "d11's worklist does not list household H1: $worklist_out"
echo "ok: team T1's worklist reached D1 through RabbitMQ"
stored_once "$WORK/$w1/ward.db" "$WORK/d11.ids.2"
stored_once "$WORK/$w1/ward.db" "$WORK/d11.ids"
assert_eq "ward $w1 rows after the restart with 3.1.1" 11 "$(sql_count "$WORK/$w1/ward.db" events)"

# ---- the retained statistics and the province roll-up on the same broker ----------------------------
stored_is() { [ "$(rsub "kdc/v1/$1/stats/ward" | jq -r .stored_total 2>/dev/null)" = "$2" ]; }
wait_for 60 "ward $w1 retained stats with stored_total 11" stored_is $w1 11
wait_for 60 "ward $w2 retained stats with stored_total 204" stored_is $w2 204
cat >"$WORK/province.ini" <<EOF
[province]
code = $province
name = Tỉnh Thỏ
[wards]
$w1 = Phường Một
$w2 = Phường Hai
EOF
rollup_start "$WORK/rollup" --profile "$WORK/province.ini" --broker "$url" \
	--username "kdc.rollup.$province" --password "${pw[rollup]}" --mqtt-version auto
same_snapshots() {
	P=$(rsub "kdc/v1/province/$province/stats")
	W=("$(rsub "kdc/v1/$w1/stats/ward")" "$(rsub "kdc/v1/$w2/stats/ward")")
	[ "$(jq -r '[.wards[] | "\(.seq)/\(.online)"] | join(" ")' <<<"$P" 2>/dev/null)" = \
		"$(jq -r .seq <<<"${W[0]}")/true $(jq -r .seq <<<"${W[1]}")/true" ]
}
wait_for 60 "the province snapshot of both wards on RabbitMQ" same_snapshots
check_province_sum "$P" "${W[@]}"
assert_eq "province stored_total on RabbitMQ" 215 "$(jq .stored_total <<<"$P")"
rollup_stop "$WORK/rollup"
agg_stop "$WORK/$w1/agg"
agg_stop "$WORK/$w2/agg"
rabbit_stop "$r"
[ -z "$(epmd_pid "$(cat "$r/epmd.port")")" ] || fail "the test's epmd is still running"
echo "rabbitmq: 215 events through RabbitMQ's MQTT plugin (auto -> 3.1.1 and 3.1.1, plain and TLS), each stored once, outboxes empty, topic rights enforced, province = sum"
