#!/usr/bin/env bash
# Connection failures in plain words: each cause has its own message and exit
# status, the same in kdc-event sync and kdc-stats --once; and a device whose
# config names the wrong ward (the broker's ACL refuses its publishes) backs
# off instead of resending without pause, says why, and gives up with the
# topic-refused status.
#
# A real mosquitto with TLS (a CA, a server certificate for IP 127.0.0.1 and
# an expired one, all made here with openssl), a password file and the ACL of
# deploy/mosquitto/acl.in, on free 127.0.0.1 ports. The causes:
#   host not found  ssl://broker.invalid:PORT           exit 10
#   refused         a free port nobody listens on        exit 11
#   TLS unknown CA  ca-file is another CA                exit 13
#   TLS name        ssl://localhost:PORT, certificate for 127.0.0.1 only  exit 14
#   TLS expired     a listener with an expired certificate                exit 15
#   login refused   wrong password; a device removed + broker reloaded    exit 17
#   topic refused   a device config naming ward 99999                     exit 18
#                   (under MQTT 3.1.1 the broker drops it silently: exit 3, with a hint)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init conn_errors 220
need_program KDC_EVENT
need_program KDC_STATS
need_program KDC_AGGREGATOR

WARD=31975
W=$WORK
B=$W/broker
mkdir -p "$B/newcerts"

# ---- certificates --------------------------------------------------------------
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
ec "$B/ca.key" && ec "$B/other-ca.key" && ec "$B/server.key" || fail "openssl genpkey failed"
openssl req -x509 -key "$B/ca.key" -subj "/CN=kdc test ward CA" -days 30 -out "$B/ca.crt" 2>/dev/null &&
	openssl req -x509 -key "$B/other-ca.key" -subj "/CN=another CA" -days 30 -out "$B/other-ca.crt" 2>/dev/null &&
	openssl req -new -key "$B/server.key" -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -out "$B/server.csr" 2>/dev/null ||
	fail "openssl req failed"
printf 'subjectAltName=IP:127.0.0.1\n' >"$B/san.ext"
openssl x509 -req -in "$B/server.csr" -CA "$B/ca.crt" -CAkey "$B/ca.key" -CAcreateserial \
	-days 30 -extfile "$B/san.ext" -out "$B/server.crt" 2>/dev/null || fail "openssl x509 failed"
# the same name, but valid only in January 2020
: >"$B/index.txt"
echo 1000 >"$B/serial"
cat >"$B/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $B/index.txt
new_certs_dir = $B/newcerts
serial = $B/serial
default_md = sha256
policy = any
copy_extensions = copy
[ any ]
commonName = supplied
EOF
openssl ca -batch -config "$B/ca.cnf" -cert "$B/ca.crt" -keyfile "$B/ca.key" -in "$B/server.csr" \
	-startdate 20200101000000Z -enddate 20200201000000Z -notext -out "$B/expired.crt" 2>/dev/null ||
	fail "openssl ca (expired certificate) failed"

# ---- broker: TLS, passwords, the deploy ACL ------------------------------------
read -r TLS EXP DEAD < <(printf '%s ' $(free_port 3))
: >"$B/passwd"
chmod 600 "$B/passwd"
for u in T1-D1:pw1 T1-D2:pw2 T1-D3:pw3 kdc.dashboard:dash; do
	mosquitto_passwd -b "$B/passwd" "${u%%:*}" "${u#*:}" || fail "mosquitto_passwd failed"
done
sed -e "s/@WARD@/$WARD/g" -e "s/@AGG_USER@/kdc.aggregator/g" -e "s/@DASH_USER@/kdc.dashboard/g" \
	-e "s/@CREATED@/now/g" "$KDC_SOURCE_DIR/deploy/mosquitto/acl.in" >"$B/acl"
# each device's own events topic, as kdc-ward add-device writes it
for d in T1-D1 T1-D2 T1-D3; do
	printf '\nuser %s\ntopic write kdc/v1/%s/events/T1/%s\n' "$d" "$WARD" "$d" >>"$B/acl"
done
chmod 600 "$B/acl"
{
	echo "allow_anonymous false"
	echo "password_file $B/passwd"
	echo "acl_file $B/acl"
	echo "listener $TLS 127.0.0.1"
	echo "cafile $B/ca.crt"
	echo "certfile $B/server.crt"
	echo "keyfile $B/server.key"
	echo "listener $EXP 127.0.0.1"
	echo "cafile $B/ca.crt"
	echo "certfile $B/expired.crt"
	echo "keyfile $B/server.key"
	echo "persistence false"
	echo "log_dest file $B/mosquitto.log"
	echo "log_type all"
	[ "$(id -u)" = 0 ] && echo "user root"
} >"$B/mosquitto.conf"
setsid mosquitto -c "$B/mosquitto.conf" </dev/null >>"$B/out" 2>&1 &
BROKER_PID=$!
echo "$BROKER_PID" >"$B/mosquitto.pid"
KDC_PIDS+=("$BROKER_PID")
KDC_LOGS+=("$B/mosquitto.log")
wait_for 10 "mosquitto listening on $TLS and $EXP" bash -c \
	"exec 3<>/dev/tcp/127.0.0.1/$TLS && exec 4<>/dev/tcp/127.0.0.1/$EXP" 2>/dev/null

# device CONF DEVICE PASSWORD BROKER [KEY=VALUE...]: a device config (ward
# $WARD, team T1, the ward CA) with one visit recorded in its outbox.
device() {
	local conf=$1 dev=$2 pw=$3 url=$4 kv
	shift 4
	{
		echo "broker = $url"
		echo "ca-file = $B/ca.crt"
		echo "username = $dev"
		echo "password = $pw"
		echo "ward = ${DEVICE_WARD:-$WARD}"
		echo "team = T1"
		echo "device = $dev"
		echo "outbox = ${conf%.conf}.db"
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
	} >"$conf"
	chmod 600 "$conf"
	dev_event "$conf" visit --khom 6 --household H0042 --outcome surveyed --members 4 \
		--members-15plus 3 --smartphones 2 --needs install_app
}

# expect_sync WHAT CONF TIMEOUT STATUS TEXT: kdc-event sync exits STATUS and
# says TEXT; the event stays pending.
expect_sync() {
	local what=$1 conf=$2 secs=$3 want=$4 text=$5 st out
	out=$("$KDC_EVENT" --config "$conf" sync --timeout "$secs" 2>&1)
	st=$?
	printf '%s\n' "$out" >"${conf%.conf}.sync.log"
	assert_eq "$what: kdc-event sync exit status" "$want" "$st"
	assert_contains "$what: kdc-event sync says" "$text" "$out"
	assert_eq "$what: still pending" 1 "$("$KDC_EVENT" --config "$conf" pending 2>/dev/null | grep -c " visit ")"
}

# expect_stats WHAT STATUS TEXT ARGS...: kdc-stats --once exits STATUS, says TEXT.
expect_stats() {
	local what=$1 want=$2 text=$3 st out
	shift 3
	out=$("$KDC_STATS" --ward "$WARD" --once --timeout 3 --username kdc.dashboard "$@" 2>&1)
	st=$?
	assert_eq "$what: kdc-stats --once exit status" "$want" "$st"
	assert_contains "$what: kdc-stats --once says" "$text" "$out"
}

# ---- host not found ---------------------------------------------------------------
device "$W/host.conf" T1-D1 pw1 "ssl://broker.invalid:$TLS"
expect_sync "host not found" "$W/host.conf" 3 10 "host not found: the broker's name 'broker.invalid' does not resolve"
expect_stats "host not found" 10 "host not found: the broker's name 'broker.invalid'" \
	--broker "ssl://broker.invalid:$TLS" --password dash --ca-file "$B/ca.crt"

# ---- nothing listens ---------------------------------------------------------------
device "$W/refused.conf" T1-D1 pw1 "ssl://127.0.0.1:$DEAD"
expect_sync "refused" "$W/refused.conf" 3 11 "connection refused: nothing listens on port $DEAD of 127.0.0.1"
expect_stats "refused" 11 "connection refused: nothing listens on port $DEAD" \
	--broker "tcp://127.0.0.1:$DEAD" --password dash

# ---- TLS: another CA, another name, an expired certificate -------------------------
device "$W/ca.conf" T1-D1 pw1 "ssl://127.0.0.1:$TLS" "ca-file=$B/other-ca.crt"
expect_sync "unknown CA" "$W/ca.conf" 30 13 "TLS: unknown CA"
expect_stats "unknown CA" 13 "TLS: unknown CA" --broker "ssl://127.0.0.1:$TLS" --password dash \
	--ca-file "$B/other-ca.crt"

device "$W/name.conf" T1-D1 pw1 "ssl://localhost:$TLS"
expect_sync "name mismatch" "$W/name.conf" 30 14 "TLS: certificate name mismatch: the broker's certificate is not made for 'localhost'"
expect_stats "name mismatch" 14 "TLS: certificate name mismatch" --broker "ssl://localhost:$TLS" \
	--password dash --ca-file "$B/ca.crt"

device "$W/expired.conf" T1-D1 pw1 "ssl://127.0.0.1:$EXP"
expect_sync "expired" "$W/expired.conf" 30 15 "TLS: certificate expired"
expect_stats "expired" 15 "TLS: certificate expired" --broker "ssl://127.0.0.1:$EXP" \
	--password dash --ca-file "$B/ca.crt"

# ---- login: a wrong password, a device removed from the ward ------------------------
device "$W/password.conf" T1-D1 wrong "ssl://127.0.0.1:$TLS"
expect_sync "wrong password" "$W/password.conf" 30 17 "login refused: the broker does not accept user 'T1-D1'"
# a config that holds a password and that every user can read: said
chmod 644 "$W/password.conf"
out=$("$KDC_EVENT" --config "$W/password.conf" pending 2>&1) || fail "kdc-event pending failed: $out"
assert_contains "a world-readable config with a password" "holds a password, and every user of this computer can read it: chmod 600 $W/password.conf" "$out"
chmod 600 "$W/password.conf"
out=$("$KDC_EVENT" --config "$W/password.conf" pending 2>&1) || fail "kdc-event pending failed: $out"
case $out in *"holds a password"*) fail "a 0600 config was said to be readable by all: $out" ;; esac
expect_stats "wrong password" 17 "login refused: the broker does not accept user 'kdc.dashboard'" \
	--broker "ssl://127.0.0.1:$TLS" --password wrong --ca-file "$B/ca.crt"
for v in 5 3.1.1; do
	device "$W/password-$v.conf" T1-D1 wrong "ssl://127.0.0.1:$TLS" "mqtt-version=$v"
	expect_sync "wrong password, MQTT $v" "$W/password-$v.conf" 30 17 "login refused"
done

# T1-D2 gets in (no aggregator here: no receipt, so sync times out, status 3) ...
device "$W/revoked.conf" T1-D2 pw2 "ssl://127.0.0.1:$TLS"
"$KDC_EVENT" --config "$W/revoked.conf" sync --timeout 2 >"$W/revoked.before.log" 2>&1
assert_eq "T1-D2 before removal: sync exit status (connected, no aggregator)" 3 "$?"
# ... until it is removed from the password file and the broker reloads it.
mosquitto_passwd -D "$B/passwd" T1-D2 || fail "mosquitto_passwd -D failed"
reloads=$(grep -c "Reloading config" "$B/mosquitto.log")
kill -HUP "$BROKER_PID"
wait_for 10 "the broker reloaded its config" \
	bash -c "[ \$(grep -c 'Reloading config' '$B/mosquitto.log') -gt $reloads ]"
expect_sync "revoked device" "$W/revoked.conf" 30 17 "login refused: the broker does not accept user 'T1-D2'"

# ---- the wrong ward: refused publishes back off --------------------------------------
# The broker's ACL lets T1-D3 publish on kdc/v1/31975/events/T1/T1-D3 only; a
# config naming ward 99999 publishes on kdc/v1/99999/events/T1/T1-D3, which
# mosquitto refuses (MQTT 5 PUBACK 135) and logs as "Denied PUBLISH".
DEVICE_WARD=99999 device "$W/ward.conf" T1-D3 pw3 "ssl://127.0.0.1:$TLS"
denied() { grep -c "Denied PUBLISH from kdc-dev-T1-D3 .*kdc/v1/99999/events/T1/T1-D3" "$B/mosquitto.log"; }
t0=$SECONDS
out=$("$KDC_EVENT" --config "$W/ward.conf" sync --timeout 30 2>&1)
st=$?
printf '%s\n' "$out" >"$W/ward.sync.log"
took=$((SECONDS - t0))
n=$(denied)
assert_eq "wrong ward: kdc-event sync exit status (topic refused)" 18 "$st"
assert_contains "wrong ward: sync says" "topic refused: the broker refused event" "$out"
assert_contains "wrong ward: sync names the topic" "kdc/v1/99999/events/T1/T1-D3" "$out"
assert_contains "wrong ward: sync says what to check" "check ward (99999), team (T1) and device (T1-D3)" "$out"
assert_contains "wrong ward: sync says it waits" "next try in 10 s" "$out"
assert_ge "wrong ward: sync ran its 30 s" 29 "$took"
# at 0, 5 and 15 s (the next at 35 s); the old code made thousands a second
assert_between "wrong ward: publishes the broker refused in 30 s" 1 5 "$n"
assert_eq "wrong ward: the event is still pending" 1 \
	"$("$KDC_EVENT" --config "$W/ward.conf" pending 2>/dev/null | grep -c " visit ")"

# Under MQTT 3.1.1 mosquitto acknowledges a refused publish and drops it: the
# device cannot tell, so it waits resend-after (30 s) as for any missing
# receipt, and the sync that times out says what to check.
DEVICE_WARD=99999 device "$W/ward311.conf" T1-D3 pw3 "ssl://127.0.0.1:$TLS" \
	"mqtt-version=3.1.1" "client-id=kdc-dev-T1-D3-v311"
out=$("$KDC_EVENT" --config "$W/ward311.conf" sync --timeout 4 2>&1)
st=$?
printf '%s\n' "$out" >"$W/ward311.sync.log"
assert_eq "wrong ward, MQTT 3.1.1: sync exit status (timed out)" 3 "$st"
assert_contains "wrong ward, MQTT 3.1.1: sync says" "Under MQTT 3.1.1 the broker also drops events on a topic it refuses without saying so: check ward (99999)" "$out"
assert_eq "wrong ward, MQTT 3.1.1: publishes the broker refused in 4 s" 1 \
	"$(grep -c "Denied PUBLISH from kdc-dev-T1-D3-v311 " "$B/mosquitto.log")"

# ---- a daemon keeps retrying, and says why once ------------------------------------
# kdc-aggregator with an account the broker does not know: the same message,
# logged once however often it retries (each retry is a debug line), as an
# error (retrying cannot fix it: under journald, journalctl -p err shows it).
agg_start "$W/agg" --ward "$WARD" --db "$W/agg/events.db" --broker "ssl://127.0.0.1:$TLS" \
	--ca-file "$B/ca.crt" --username kdc.aggregator --password nope --log-level debug
retries() { grep -c "connect to ssl://127.0.0.1:$TLS failed" "$W/agg/agg.log"; }
wait_for 60 "the aggregator to retry 4 times" bash -c "[ \$(grep -c 'connect to ssl://127.0.0.1:$TLS failed' '$W/agg/agg.log') -ge 4 ]"
assert_eq "aggregator: 'login refused' lines after $(retries) failed connects" 1 \
	"$(grep -c "error: mqtt: cannot connect to ssl://127.0.0.1:$TLS: login refused: the broker does not accept user 'kdc.aggregator'" "$W/agg/agg.log")"
agg_stop "$W/agg"

# ---- the help names every status ---------------------------------------------------------
for prog in "$KDC_EVENT" "$KDC_STATS"; do
	help=$("$prog" --help 2>&1)
	for s in "10  host not found" "11  connection refused" "13  TLS: unknown CA" \
		"14  TLS: certificate name mismatch" "15  TLS: certificate expired" "17  login refused" \
		"18  topic refused"; do
		assert_contains "$(basename "$prog") --help" "$s" "$help"
	done
done

kdc_say "test conn_errors: passed"
