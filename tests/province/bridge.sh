#!/usr/bin/env bash
# Topology A on loopback: two ward brokers, each with its aggregator and
# devices, bridge their statistics to a province broker, where kdc-rollup
# adds them up. The province broker is configured from
# deploy/province/mosquitto-province.conf.in and acl-province.in (TLS
# listener for the bridges, passwords, ACL, the kdc_guard plugin) and each
# ward broker gets deploy/province/ward-bridge.conf.in appended, as
# deploy/province/README.md says. The public dashboard account and a ward's
# account try to connect with kdc-rollup's and the bridges' client ids:
# refused, and the victims keep their connections. Then the bridge is cut
# twice, by SIGKILL of the province broker and of a ward broker, while the
# wards go on working; each time the province snapshot catches up with the
# sum of the ward snapshots.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kdc_test_init province_bridge
need_program KDC_EVENT
need_program KDC_AGGREGATOR
need_program KDC_ROLLUP
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"
command -v mosquitto_passwd >/dev/null || fail "mosquitto_passwd is missing (apt-get install mosquitto)"
[ -f "${KDC_BROKER_PLUGIN:-}" ] || fail "KDC_BROKER_PLUGIN does not name kdc_guard.so (build the kdc_guard target)"
command -v node >/dev/null || fail "node is missing (scripts/install-deps.sh)"
mqttjs=$KDC_SOURCE_DIR/dashboard/node_modules/mqtt
[ -d "$mqttjs" ] || fail "MQTT.js is missing in dashboard/node_modules: run scripts/install-deps.sh"
tpl=$KDC_SOURCE_DIR/deploy/province
province=91200
w1=91201
w2=91202

# ---- the province broker, from the deploy templates --------------------------------------
pdir=$WORK/province
mkdir -p "$pdir"
make_tls "$pdir"
mapfile -t pp < <(free_port 3)
pplain=${pp[0]} ptls=${pp[1]} pws=${pp[2]}
fill_template "$tpl/mosquitto-province.conf.in" "$pdir/mosquitto.conf" \
	PROVINCE=$province DIR="$pdir" DATA_DIR="$pdir" PLAIN_PORT="$pplain" TLS_PORT="$ptls" \
	WS_PORT="$pws" BIND_ADDR=" 127.0.0.1" RUN_AS_USER="$(id -un)" \
	LOG_DEST_LINE="log_dest file $pdir/mosquitto.log" GUARD_PLUGIN="$KDC_BROKER_PLUGIN"
fill_template "$tpl/acl-province.in" "$pdir/acl" PROVINCE=$province
pw1=pw-$RANDOM-1 pw2=pw-$RANDOM-2 pwr=pw-$RANDOM-r pwd=pw-$RANDOM-d
: >"$pdir/passwd"
chmod 600 "$pdir/passwd"
mosquitto_passwd -b "$pdir/passwd" "$w1" "$pw1" && mosquitto_passwd -b "$pdir/passwd" "$w2" "$pw2" &&
	mosquitto_passwd -b "$pdir/passwd" kdc.rollup "$pwr" &&
	mosquitto_passwd -b "$pdir/passwd" kdc.dashboard "$pwd" || fail "mosquitto_passwd failed"
conf_broker_start "$pdir" "$pplain" "$ptls" "$pws"
purl=tcp://127.0.0.1:$pplain
# reading the province broker as kdc-rollup does (a tool's id of its account)
psub() { retained_json "$pplain" "$1" -u kdc.rollup -P "$pwr" -i "kdc-rollup-$province.read"; }

# ---- the ward brokers with the bridge, aggregators, devices ----------------------------
declare -A pw=([$w1]=$pw1 [$w2]=$pw2)
for w in $w1 $w2; do
	mkdir -p "$WORK/$w/broker"
	fill_template "$tpl/ward-bridge.conf.in" "$WORK/$w/broker/extra.conf" WARD=$w \
		PROVINCE_HOST=127.0.0.1 PROVINCE_PORT="$ptls" PROVINCE_CA="$pdir/ca.crt" \
		BRIDGE_PASSWORD="${pw[$w]}"
	broker_start "$WORK/$w/broker"
	cat >"$WORK/$w/profile.ini" <<EOF
[ward]
code = $w
name = Phường $w
[khom 6]
households = 400
people_15plus = 1000
EOF
	agg_start "$WORK/$w/agg" --broker "$(broker_url "$WORK/$w/broker")" --ward "$w" \
		--db "$WORK/$w/ward.db" --profile "$WORK/$w/profile.ini" --client-id "kdc-agg-$w"
	dev_config "$WORK/$w/d1.conf" "$WORK/$w/broker" "$w" T1 D1
done
cat >"$WORK/province.ini" <<EOF
[province]
code = $province
name = Tỉnh Cầu Nối
[wards]
$w1 = Phường Một
$w2 = Phường Hai
EOF
rollup_start "$WORK/rollup" --profile "$WORK/province.ini" --broker "$purl" \
	--username kdc.rollup --password "$pwr" --refresh-s 5 --log-level debug
for w in $w1 $w2; do agg_wait_online "$WORK/$w/broker" "$w" 30; done

# record N more events on ward W's device (bulk, a new seed each time) and sync
seed=1
add_events() {
	local w=$1 n=$2 out
	out=$("$KDC_EVENT" --config "$WORK/$w/d1.conf" bulk --count "$n" --khom 6 --households 400 \
		--days 20 --seed $seed 2>&1) || fail "kdc-event bulk for ward $w: $out"
	seed=$((seed + 1))
	[ "${3:-sync}" = sync ] && dev_sync "$WORK/$w/d1.conf" 90
	return 0
}
declare -A total=([$w1]=0 [$w2]=0)
ward_json() { retained_json "$(broker_port "$WORK/$1/broker")" "kdc/v1/$1/stats/ward"; }
ward_stored_is() { [ "$(ward_json "$1" | jq -r .stored_total 2>/dev/null)" = "$2" ]; }

# province_caught_up WHAT: waits until the province snapshot is made of the
# current snapshot of both wards (same seq as on the ward brokers), both
# online, then checks the sums field by field.
province_caught_up() {
	local what=$1 w
	for w in $w1 $w2; do
		wait_for 60 "ward $w snapshot with stored_total ${total[$w]}" ward_stored_is "$w" "${total[$w]}"
	done
	caught_up() {
		P=$(psub "kdc/v1/province/$province/stats")
		W=("$(ward_json $w1)" "$(ward_json $w2)")
		[ "$(jq -r '[.wards[] | "\(.seq)/\(.online)"] | join(" ")' <<<"$P" 2>/dev/null)" = \
			"$(jq -r .seq <<<"${W[0]}")/true $(jq -r .seq <<<"${W[1]}")/true" ]
	}
	wait_for 60 "province snapshot $what: both wards current and online" caught_up
	check_province_sum "$P" "${W[@]}"
	assert_eq "province stored_total $what" $((total[$w1] + total[$w2])) "$(jq .stored_total <<<"$P")"
}

# ---- 1. stats reach the province through the bridges ----------------------------------------
add_events $w1 300
add_events $w2 200
total[$w1]=300 total[$w2]=200
province_caught_up "through the bridges"
assert_eq "bridge state of both wards" "up up" "$(jq -r '[.wards[].link] | join(" ")' <<<"$P")"
# the province broker holds exactly the ward's retained snapshot, byte for byte
assert_eq "ward $w1 snapshot on the province broker = on its ward broker" \
	"$(ward_json $w1 | md5sum)" "$(psub "kdc/v1/$w1/stats/ward" | md5sum)"
# the province broker refuses anonymous clients and a ward writing another's stats
if mosquitto_pub -h 127.0.0.1 -p "$pplain" -t "kdc/v1/$w2/stats/ward" -m x 2>/dev/null; then
	fail "the province broker accepted an anonymous client"
fi
# (the same account and TLS path may publish under its own ward)
mosquitto_pub -h 127.0.0.1 -p "$ptls" --cafile "$pdir/ca.crt" -u "$w1" -P "$pw1" -i "kdc-bridge-$w1.probe" -q 1 \
	-t "kdc/v1/$w1/stats/probe" -m probe || fail "ward $w1's account cannot publish over TLS to the province broker"
mosquitto_pub -h 127.0.0.1 -p "$ptls" --cafile "$pdir/ca.crt" -u "$w1" -P "$pw1" -i "kdc-bridge-$w1.probe" -q 1 -r \
	-t "kdc/v1/$w2/stats/ward" -m '{"forged":1}' 2>/dev/null
assert_eq "ward $w2 snapshot on the province broker after ward $w1 tried to overwrite it" \
	"$(ward_json $w2 | md5sum)" "$(psub "kdc/v1/$w2/stats/ward" | md5sum)"

# ---- 2. nobody takes kdc-rollup's or a bridge's client id ----------------------------------------
# The dashboard's password ships in the page and the TLS and WebSockets
# ports face the network: a connect with a victim's client id must be
# refused (kdc_guard), not close the victim's connection.
plog=$pdir/mosquitto.log
# kicked ID: how often the broker closed a connection of ID for a newcomer;
# connects ID: how often ID connected (a client or a bridge)
kicked() { grep -c "Client $1 already connected, closing old connection" "$plog"; }
connects() { grep -c "connected from .* as $1 (" "$plog"; }
victims=("kdc-rollup-$province" "kdc-bridge-$w1" "kdc-bridge-$w2")
declare -A kicked0 connects0
for id in "${victims[@]}"; do
	kicked0[$id]=$(kicked "$id") connects0[$id]=$(connects "$id")
	assert_ge "connects of $id so far" 1 "${connects0[$id]}"
done
# try_id PORT USER PASSWORD ID: connect (TLS on the TLS port) with client id ID
# and publish once; true when the broker let it in
try_id() {
	local tls=()
	[ "$1" = "$ptls" ] && tls=(--cafile "$pdir/ca.crt")
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$1" "${tls[@]}" -u "$2" -P "$3" -i "$4" -q 1 \
		-t "kdc/v1/$province/probe" -m x >"$WORK/try.out" 2>&1
}
# refused PORT USER PASSWORD ID: the broker refuses the connect as not authorised
refused() {
	try_id "$@" && fail "account $2 connected to port $1 with client id $4"
	grep -q "not authori[sz]ed" "$WORK/try.out" || fail "account $2 as $4: not refused as not authorised: $(cat "$WORK/try.out")"
	kdc_say "ok: account $2 cannot connect as $4 on port $1 ($(head -n 1 "$WORK/try.out"))"
}
for id in "${victims[@]}"; do refused "$ptls" kdc.dashboard "$pwd" "$id"; done
refused "$ptls" "$w1" "$pw1" "kdc-bridge-$w2"
refused "$ptls" "$w1" "$pw1" "kdc-rollup-$province"
refused "$ptls" "$w1" "$pw1" "kdc-prov-$w1"
refused "$pplain" kdc.rollup "$pwr" "kdc-bridge-$w1"
try_id "$ptls" kdc.dashboard "$pwd" kdc-prov-ok || fail "a dashboard with its own kdc-prov- id was refused: $(cat "$WORK/try.out")"
grep -q "kdc_guard: refused client id 'kdc-rollup-$province' for account 'kdc.dashboard'" "$plog" ||
	fail "the province broker did not log kdc_guard's refusal"
# the same over secure WebSockets with MQTT.js, as a browser would
node "$KDC_SOURCE_DIR/tests/deploy/ws_connect.mjs" "$mqttjs" "$pws" "$pdir/ca.crt" kdc.dashboard "$pwd" 0 1 \
	"${victims[@]}" kdc-prov-ok kdc-dash-ok >"$WORK/ws1.out" 2>&1 || fail "ws_connect.mjs failed: $(cat "$WORK/ws1.out")"
for id in "${victims[@]}"; do
	grep -q "^refused $id 1$" "$WORK/ws1.out" ||
		fail "the dashboard account over WebSockets was not refused as $id: $(cat "$WORK/ws1.out")"
done
for id in kdc-prov-ok kdc-dash-ok; do
	grep -q "^accepted $id 1$" "$WORK/ws1.out" ||
		fail "a dashboard over WebSockets with its own id $id was refused: $(cat "$WORK/ws1.out")"
done
kdc_say "ok: over wss:// the dashboard account cannot connect as ${victims[*]}, and connects as kdc-prov-ok, kdc-dash-ok"
# Keep trying (15 s from a browser and over TLS) while both wards record
# events: the bridged statistics must keep flowing to the roll-up.
node "$KDC_SOURCE_DIR/tests/deploy/ws_connect.mjs" "$mqttjs" "$pws" "$pdir/ca.crt" kdc.dashboard "$pwd" 15 300 \
	"${victims[@]}" >"$WORK/loop-ws.out" 2>&1 &
loop_ws=$!
KDC_PIDS+=("$loop_ws")
(
	end=$((SECONDS + 15)) tries=0 got=0
	while [ "$SECONDS" -lt "$end" ] && [ "$tries" -lt 300 ]; do
		for id in "${victims[@]}"; do
			try_id "$ptls" kdc.dashboard "$pwd" "$id" && got=$((got + 1))
			tries=$((tries + 1))
		done
	done
	echo "$tries $got" >"$WORK/loop-tls.out"
) &
loop_tls=$!
KDC_PIDS+=("$loop_tls")
add_events $w1 60
add_events $w2 40
total[$w1]=360 total[$w2]=240
wait "$loop_ws" || fail "ws_connect.mjs failed: $(cat "$WORK/loop-ws.out")"
wait "$loop_tls"
kdc_forget_pid "$loop_ws"
kdc_forget_pid "$loop_tls"
read -r tries got <"$WORK/loop-tls.out"
kdc_say "attack loop: $tries connects over TLS as a victim ($got accepted); over wss: $(tr '\n' ' ' <"$WORK/loop-ws.out")"
assert_ge "connects tried over TLS as a victim" 6 "$tries"
assert_eq "connects over TLS accepted as a victim" 0 "$got"
grep -q '^accepted' "$WORK/loop-ws.out" && fail "the dashboard got in over wss as a victim: $(cat "$WORK/loop-ws.out")"
grep -q '^refused' "$WORK/loop-ws.out" || fail "the wss loop made no tries: $(cat "$WORK/loop-ws.out")"
province_caught_up "with the dashboard account trying the victims' ids"
assert_eq "bridge state of both wards" "up up" "$(jq -r '[.wards[].link] | join(" ")' <<<"$P")"
for id in "${victims[@]}"; do
	assert_eq "times $id's connection was closed by a newcomer" "${kicked0[$id]}" "$(kicked "$id")"
	assert_eq "connects of $id (none since: it stayed connected)" "${connects0[$id]}" "$(connects "$id")"
done

# ---- 3. the province broker dies; the wards go on; it comes back ------------------------------
broker_kill "$pdir"
kdc_say "province broker killed; the wards keep working"
add_events $w1 100
add_events $w2 50
total[$w1]=460 total[$w2]=290
for w in $w1 $w2; do
	wait_for 60 "ward $w snapshot with stored_total ${total[$w]} (province down)" ward_stored_is "$w" "${total[$w]}"
done
conf_broker_start "$pdir" "$pplain" "$ptls" "$pws"
kdc_say "province broker restarted"
province_caught_up "after the province broker came back"

# ---- 4. a ward broker dies: the province shows it offline, keeps its numbers ---------------------
broker_kill "$WORK/$w1/broker"
kdc_say "ward broker $w1 killed"
w1_down() {
	P=$(psub "kdc/v1/province/$province/stats")
	[ "$(jq -r ".wards[] | select(.ward == \"$w1\") | \"\(.link) \(.online) \(.reporting)\"" <<<"$P")" = "down false true" ]
}
wait_for 60 "ward $w1 shown offline (bridge down) in the province snapshot" w1_down
assert_eq "province stored_total with ward $w1 unreachable (its last snapshot kept)" 750 "$(jq .stored_total <<<"$P")"
add_events $w1 80 nosync
add_events $w2 20
total[$w1]=540 total[$w2]=310
broker_start "$WORK/$w1/broker"
kdc_say "ward broker $w1 restarted"
dev_sync "$WORK/$w1/d1.conf" 90
province_caught_up "after ward broker $w1 came back"
assert_eq "bridge state of both wards" "up up" "$(jq -r '[.wards[].link] | join(" ")' <<<"$P")"

# ---- 5. a restarted roll-up finds every ward retained on the province broker ------------------------
rollup_stop "$WORK/rollup"
seq_stopped=$(psub "kdc/v1/province/$province/stats" | jq .seq)
rollup_restart "$WORK/rollup"
restarted() {
	P=$(psub "kdc/v1/province/$province/stats")
	[ "$(jq .seq <<<"$P")" -gt "$seq_stopped" ]
}
wait_for 60 "a snapshot from the restarted kdc-rollup" restarted
assert_eq "wards reporting at once after a roll-up restart (bridged snapshots are retained)" 2 \
	"$(jq .wards_reporting <<<"$P")"
assert_eq "province stored_total after the roll-up restart" 850 "$(jq .stored_total <<<"$P")"
rollup_stop "$WORK/rollup"
for w in $w1 $w2; do agg_stop "$WORK/$w/agg"; done
echo "bridge: 2 ward brokers -> TLS bridge -> province broker; the dashboard account refused as the roll-up and the bridges, which stayed connected; caught up after the province broker and a ward broker were killed; 850 events summed exactly"
