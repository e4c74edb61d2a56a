#!/usr/bin/env bash
# test_deploy_acl.sh: the ward broker that `kdc-ward init` sets up keeps
# strangers out and keeps each account to its own topics.
#
# Runs kdc-ward init into a scratch folder with free 127.0.0.1 ports, starts a
# real mosquitto with the generated config, and proves with mosquitto_pub and
# mosquitto_sub (and a small WebSocket client in Python for the dashboard
# port) what every account may and may not do. Needs none of the kdc C
# programs. Prints one line per check (ok/FAIL) and exits 1 if any failed.
#
# Environment (all optional):
#   BUILD_DIR       scratch space goes under BUILD_DIR/tests/deploy-work
#   KDC_WARD        the kdc-ward script (default: deploy/kdc-ward of this tree)
#   KEEP_WORK=1     keep the scratch folder even when every check passed
#   NGINX           an nginx binary (default: nginx from PATH, if any) to
#                   check the generated dashboard site; skipped without one
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KDC_WARD=${KDC_WARD:-$HERE/../../deploy/kdc-ward}
WARD=31975

for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL: $tool is not installed (apt-get install mosquitto mosquitto-clients openssl python3)"
		exit 1
	fi
done
[ -x "$KDC_WARD" ] || { echo "FAIL: $KDC_WARD is not an executable"; exit 1; }

if [ -n "${BUILD_DIR:-}" ]; then
	mkdir -p "$BUILD_DIR/tests/deploy-work"
	WORK=$(mktemp -d "$BUILD_DIR/tests/deploy-work/acl.XXXXXX")
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kdc-deploy-acl.XXXXXX")
fi
WORK=$(cd "$WORK" && pwd)
DIR=$WORK/etc

FAILS=0
CHECKS=0
BROKER_PID=""
BG_PIDS=()

ok() { CHECKS=$((CHECKS + 1)); printf 'ok   %s\n' "$*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); printf 'FAIL %s\n' "$*"; }
# check WHAT CONDITION-COMMAND...: ok when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	if [ -n "$BROKER_PID" ] && pid_alive "$BROKER_PID"; then
		kill -TERM "$BROKER_PID" 2>/dev/null
		for _ in $(seq 50); do pid_alive "$BROKER_PID" || break; sleep 0.1; done
		kill -KILL "$BROKER_PID" 2>/dev/null
	fi
	if [ "$FAILS" -eq 0 ] && [ "${KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "scratch folder kept: $WORK (broker log: $WORK/mosquitto.log)"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Three distinct free ports: hold all three sockets until all are chosen.
read -r PLAIN TLS WS HTTPS < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# pid_alive PID: the process exists and is not a zombie (kill -0 is true for
# an exited child not yet reaped).
pid_alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
pid_gone() { ! pid_alive "$1"; }
wait_until() { # SECONDS CMD...: polls every 0.1 s
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

conf_value() { sed -n "s/^$2 = //p" "$1"; }

# kdc-ward reloads the broker with SIGHUP and returns: the broker takes the
# new accounts a moment later. reloads_seen: how many reloads its log shows
# so far; wait_reload N: until it shows more than N (the broker reloads in
# its one thread, so a client connecting after that sees the new files).
reloads_seen() { grep -c 'Reloading config' "$WORK/mosquitto.log" 2>/dev/null; }
reloaded_after() { [ "$(reloads_seen)" -gt "$1" ]; }
wait_reload() { wait_until 60 reloaded_after "$1" || bad "the broker logged no reload within 60 s"; }

# ---- set up the ward -------------------------------------------------------

RUN_AS=$(id -un)
# A stand-in for the dashboard's web folder (index.html + config.js).
mkdir -p "$WORK/dashboard-src"
echo '<!doctype html><title>kdc dashboard</title>' >"$WORK/dashboard-src/index.html"
printf "window.KDC_CONFIG = {\n  ward: '',\n  username: '',\n  password: '',\n};\n" >"$WORK/dashboard-src/config.js"
if ! "$KDC_WARD" init --ward "$WARD" --name "Phường 1" --dir "$DIR" --host 127.0.0.1 \
	--plain-port "$PLAIN" --tls-port "$TLS" --ws-port "$WS" --bind 127.0.0.1 \
	--run-as-user "$RUN_AS" --broker-data "$WORK/data" --pid-file "$WORK/mosquitto.pid" \
	--log-file "$WORK/mosquitto.log" --db "$WORK/agg/events.db" --device-home "$WORK/device" \
	--dashboard "$WORK/dashboard-src" --https-port "$HTTPS" >"$WORK/init.out" 2>&1; then
	bad "kdc-ward init exits 0"
	cat "$WORK/init.out"
	exit 1
fi
ok "kdc-ward init exits 0 (ports plain $PLAIN, tls $TLS, ws $WS)"

OUT=$WORK/ward.out
: >"$OUT"
"$KDC_WARD" add-device --dir "$DIR" T1 DEVA --khom 6 >>"$OUT" 2>&1 || bad "add-device DEVA exits 0"
"$KDC_WARD" add-device --dir "$DIR" T1 DEVB --khom 6 >>"$OUT" 2>&1 || bad "add-device DEVB exits 0"
"$KDC_WARD" add-device --dir "$DIR" T2 DEVC >>"$OUT" 2>&1 || bad "add-device DEVC exits 0"

AGG_USER=$(conf_value "$DIR/aggregator.conf" username)
AGG_PW=$(conf_value "$DIR/aggregator.conf" password)
DASH_USER=$(conf_value "$DIR/dashboard.conf" username)
DASH_PW=$(conf_value "$DIR/dashboard.conf" password)
A_PW=$(conf_value "$DIR/devices/DEVA.conf" password)
B_PW=$(conf_value "$DIR/devices/DEVB.conf" password)
C_PW=$(conf_value "$DIR/devices/DEVC.conf" password)
CA=$DIR/ca.crt

# ---- files -----------------------------------------------------------------

mode_of() { stat -c %a "$1" 2>/dev/null; }
for f in passwd acl server.key ca/ca.key devices/DEVA.conf devices/DEVC.conf; do
	m=$(mode_of "$DIR/$f")
	if [ "$m" = 600 ]; then ok "secret file $f is mode 0600"; else bad "secret file $f is mode 0600 (got ${m:-missing})"; fi
done
# aggregator.conf: readable by group kdc when root sets up a ward on a machine
# with the user kdc (the kdc-server package made it: deploy/README.md's table),
# else private to its owner.
if [ "$(id -u)" = 0 ] && getent passwd kdc >/dev/null; then
	want="root:$(id -gn kdc) 640"
else
	want="$(id -un):$(id -gn) 600"
fi
got=$(stat -c '%U:%G %a' "$DIR/aggregator.conf" 2>/dev/null)
if [ "$got" = "$want" ]; then ok "secret file aggregator.conf is $want"; else bad "secret file aggregator.conf is $want (got ${got:-missing})"; fi
check "dashboard.conf (the viewer account, public by design) is mode 0644" [ "$(mode_of "$DIR/dashboard.conf")" = 644 ]
check "aggregator.conf points at the plain loopback port" \
	[ "$(conf_value "$DIR/aggregator.conf" broker)" = "tcp://127.0.0.1:$PLAIN" ]
check "device config: broker ssl://127.0.0.1:$TLS, client id kdc-dev-DEVA, team T1" \
	[ "$(conf_value "$DIR/devices/DEVA.conf" broker)|$(conf_value "$DIR/devices/DEVA.conf" client-id)|$(conf_value "$DIR/devices/DEVA.conf" team)" = "ssl://127.0.0.1:$TLS|kdc-dev-DEVA|T1" ]
check "every generated password is 32 characters and distinct" \
	[ "$(printf '%s\n' "$AGG_PW" "$DASH_PW" "$A_PW" "$B_PW" "$C_PW" | grep -cxE '[A-Za-z0-9]{32}')|$(printf '%s\n' "$AGG_PW" "$DASH_PW" "$A_PW" "$B_PW" "$C_PW" | sort -u | wc -l)" = "5|5" ]
leaked=0
for pw in "$AGG_PW" "$DASH_PW" "$A_PW" "$B_PW" "$C_PW"; do
	[ -n "$pw" ] && grep -qF -- "$pw" "$WORK/init.out" "$OUT" && leaked=1
done
check "no password appears in kdc-ward's output" [ "$leaked" = 0 ]
check "the server certificate verifies against the ward CA" \
	openssl verify -CAfile "$CA" "$DIR/server.crt" >/dev/null 2>&1

# Refusals: a second init and a duplicate device, files untouched.
before=$(sha256sum "$DIR/aggregator.conf" "$DIR/passwd" | sha256sum)
"$KDC_WARD" init --ward "$WARD" --dir "$DIR" --plain-port "$PLAIN" --run-as-user "$RUN_AS" >"$WORK/again.out" 2>&1
rc=$?
check "init on an existing ward is refused without --force (exit $rc)" [ "$rc" -ne 0 ]
check "... and says to use --force" grep -q -- "--force" "$WORK/again.out"
"$KDC_WARD" add-device --dir "$DIR" T1 DEVA >"$WORK/again.out" 2>&1
rc=$?
check "add-device of an existing device is refused without --force (exit $rc)" [ "$rc" -ne 0 ]
check "... and no file changed" [ "$(sha256sum "$DIR/aggregator.conf" "$DIR/passwd" | sha256sum)" = "$before" ]
"$KDC_WARD" add-device --dir "$DIR" T1 'bad/dev' >"$WORK/again.out" 2>&1
check "a device code with '/' is refused" [ $? -ne 0 ]

# ---- broker ----------------------------------------------------------------

setsid mosquitto -c "$DIR/mosquitto.conf" </dev/null >"$WORK/mosquitto.out" 2>&1 &
BROKER_PID=$!
if wait_until 10 port_open "$PLAIN" && wait_until 5 port_open "$TLS" && wait_until 5 port_open "$WS"; then
	ok "mosquitto started with the generated config (pid $BROKER_PID)"
else
	bad "mosquitto started with the generated config"
	cat "$WORK/mosquitto.out" "$WORK/mosquitto.log" 2>/dev/null
	exit 1
fi
check "the broker wrote the pid file kdc-ward reloads it by" \
	[ "$(cat "$WORK/mosquitto.pid" 2>/dev/null)" = "$BROKER_PID" ]
# Only the start-up lines: the port probes above make TLS handshake errors.
startlog=$(sed '/mosquitto version .* running/q' "$WORK/mosquitto.log" | grep -iE 'warning|error' | grep -v 'should not be run as root')
check "the broker logs no warning or error at start${startlog:+ (got: $startlog)}" [ -z "$startlog" ]
listening=$(ss -ltnH 2>/dev/null | awk '{print $4}' | grep -E ":($PLAIN|$TLS|$WS)\$" | sort | tr '\n' ' ')
check "all three listeners bind 127.0.0.1 only ($listening)" \
	[ "$listening" = "$(printf '127.0.0.1:%s\n' "$PLAIN" "$TLS" "$WS" | sort | tr '\n' ' ')" ]

PLAINARGS=(-h 127.0.0.1 -p "$PLAIN")
TLSARGS=(-h 127.0.0.1 -p "$TLS" --cafile "$CA")

# pub WHERE... : mosquitto_pub with a 10 s guard; output in $WORK/pub.out
pub() { timeout 10 mosquitto_pub "$@" >"$WORK/pub.out" 2>&1; }

# sub_start OUTFILE ARGS...: starts mosquitto_sub in the background (-d, so
# its SUBACK shows) and returns once it is subscribed. SUB_PID is its PID.
sub_start() {
	local out=$1
	shift
	: >"$out" # exists before the background job opens it, for the grep below
	stdbuf -oL mosquitto_sub -d -v "$@" >>"$out" 2>&1 &
	SUB_PID=$!
	BG_PIDS+=("$SUB_PID")
	wait_until 10 grep -qi "received SUBACK" "$out"
}
# sub_wait: waits for SUB_PID to end (it has -C/-W of its own).
sub_wait() { wait "$SUB_PID" 2>/dev/null; }
# got FILE TOPIC PAYLOAD: true if the subscriber printed "TOPIC PAYLOAD".
got() { grep -qxF -- "$2 $3" "$1"; }

# ---- who may connect ---------------------------------------------------------

pub "${PLAINARGS[@]}" -t "kdc/v1/$WARD/stats/ward" -m x
rc=$?
check "anonymous client refused on the loopback port (exit $rc: $(head -n 1 "$WORK/pub.out"))" \
	sh -c "[ $rc -ne 0 ] && grep -qi 'not authori' '$WORK/pub.out'"
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "wrong-$AGG_PW" -t "kdc/v1/$WARD/stats/ward" -m x
rc=$?
check "wrong password refused (exit $rc: $(head -n 1 "$WORK/pub.out"))" \
	sh -c "[ $rc -ne 0 ] && grep -qi 'not authori' '$WORK/pub.out'"
pub "${TLSARGS[@]}" -t "kdc/v1/$WARD/events/T1/DEVA" -m x
check "anonymous client refused on the TLS port" [ $? -ne 0 ]
pub -h 127.0.0.1 -p "$TLS" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -t "kdc/v1/$WARD/events/T1/DEVA" -m x
check "a plaintext client on the TLS port fails" [ $? -ne 0 ]
pub -h 127.0.0.1 -p "$TLS" --capath /nonexistent-empty -u DEVA -P "$A_PW" -i kdc-dev-DEVA -t "kdc/v1/$WARD/events/T1/DEVA" -m x
check "a TLS client that does not trust the ward CA fails" [ $? -ne 0 ]
pub "${TLSARGS[@]}" --tls-version tlsv1.3 -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "kdc/v1/$WARD/events/T1/DEVA" -m hello
check "a TLS client with the ward CA connects and publishes (device DEVA)" [ $? -eq 0 ]
pub "${TLSARGS[@]}" --tls-version tlsv1.2 -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "kdc/v1/$WARD/events/T1/DEVA" -m hello
check "TLS 1.2 is accepted" [ $? -eq 0 ]
if openssl s_client -connect "127.0.0.1:$TLS" -tls1_1 -CAfile "$CA" </dev/null >"$WORK/tls11.out" 2>&1; then
	bad "TLS 1.1 is refused"
else
	ok "TLS 1.1 is refused"
fi

# ---- events: a device writes only its own topic -----------------------------

EV=kdc/v1/$WARD/events
AGGSUB=("${PLAINARGS[@]}" -u "$AGG_USER" -P "$AGG_PW" -i "kdc-agg-$WARD.test" -q 1)
# DEVA forges DEVB's topic (same team and another), then sends on its own:
# the subscriber stops at its first message, which must be the genuine one.
sub_start "$WORK/s1.out" "${AGGSUB[@]}" -t "$EV/+/+" -C 1 -W 10 || bad "aggregator subscribes to events"
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/T1/DEVB" -m forged1
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/T2/DEVC" -m forged2
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "kdc/v1/99999/events/T1/DEVA" -m otherward
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/T1/DEVA" -m genuine
sub_wait
check "the aggregator receives DEVA's event on DEVA's own topic" got "$WORK/s1.out" "$EV/T1/DEVA" genuine
check "DEVA publishing on DEVB's events topic never reaches the aggregator" \
	sh -c "! grep -q forged '$WORK/s1.out'"

# A device reads no events, not even of its own team.
sub_start "$WORK/s1b.out" "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/#" -W 3 ||
	bad "DEVA subscribes to events/#"
pub "${TLSARGS[@]}" -u DEVB -P "$B_PW" -i kdc-dev-DEVB -q 1 -t "$EV/T1/DEVB" -m peekB
sub_wait
check "a device cannot read other devices' events" sh -c "! grep -q peekB '$WORK/s1b.out'"

# The dashboard account (its password reaches browsers) may not inject
# events, not even under its own name, which the device pattern would allow.
sub_start "$WORK/s2.out" "${AGGSUB[@]}" -t "$EV/+/+" -C 1 -W 10 || bad "aggregator subscribes to events"
pub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -q 1 -t "$EV/T1/$DASH_USER" -m fromdash
pub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -q 1 -t "$EV/T1/DEVA" -m fromdash
pub "${TLSARGS[@]}" -u DEVB -P "$B_PW" -i kdc-dev-DEVB -q 1 -t "$EV/T1/DEVB" -m genuineB
sub_wait
check "the aggregator receives DEVB's event" got "$WORK/s2.out" "$EV/T1/DEVB" genuineB
check "the dashboard account cannot publish events (under its own name or a device's)" \
	sh -c "! grep -q fromdash '$WORK/s2.out'"

# ---- receipts: a device reads only its own -----------------------------------

RC=kdc/v1/$WARD/receipts
sub_start "$WORK/s3.out" "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$RC/#" -C 1 -W 10 ||
	bad "DEVA subscribes to receipts"
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -t "$RC/DEVB" -m receiptB
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -t "$RC/DEVA" -m receiptA
sub_wait
check "DEVA receives its own receipt" got "$WORK/s3.out" "$RC/DEVA" receiptA
check "DEVA cannot read DEVB's receipts (subscribed to receipts/#)" sh -c "! grep -q receiptB '$WORK/s3.out'"

# A device cannot forge receipts for another device either.
sub_start "$WORK/s4.out" "${TLSARGS[@]}" -u DEVB -P "$B_PW" -i kdc-dev-DEVB -q 1 -t "$RC/DEVB" -C 1 -W 10 ||
	bad "DEVB subscribes to its receipts"
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$RC/DEVB" -m forgedreceipt
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -t "$RC/DEVB" -m realreceipt
sub_wait
check "DEVA cannot publish a receipt to DEVB" \
	sh -c "grep -q realreceipt '$WORK/s4.out' && ! grep -q forgedreceipt '$WORK/s4.out'"

# ---- stats: aggregator writes, dashboard only reads --------------------------

ST=kdc/v1/$WARD/stats/ward
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -r -t "$ST" -m '{"seq":1}'
check "the aggregator publishes retained stats" [ $? -eq 0 ]
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -r -t "kdc/v1/$WARD/status/aggregator" -m '{"status":"online"}'
check "the aggregator publishes its retained status" [ $? -eq 0 ]
pub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -q 1 -r -t "$ST" -m '{"seq":666}'
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -r -t "$ST" -m '{"seq":667}'
timeout 10 mosquitto_sub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -t "$ST" -t "kdc/v1/$WARD/status/aggregator" -C 2 -W 5 -v >"$WORK/s5.out" 2>&1
check "the dashboard reads the retained stats and status" \
	sh -c "grep -qxF '$ST {\"seq\":1}' '$WORK/s5.out' && grep -qF 'status/aggregator {\"status\":\"online\"}' '$WORK/s5.out'"
check "the dashboard and a device cannot overwrite the stats" sh -c "! grep -qE '666|667' '$WORK/s5.out'"
timeout 10 mosquitto_sub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -t "$RC/#" -t "$EV/#" -W 2 -v >"$WORK/s6.out" 2>&1
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -t "$RC/DEVA" -m receiptA2
check "the dashboard reads no events or receipts" sh -c "! grep -q 'kdc/v1' '$WORK/s6.out'"
timeout 10 mosquitto_sub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA.peek -t "$ST" -W 2 -v >"$WORK/s7.out" 2>&1
check "a device cannot read the stats" sh -c "! grep -q 'seq' '$WORK/s7.out'"

# ---- worklists: each team's devices read their own; households for dashboards ----

WL=kdc/v1/$WARD/worklist
HH=kdc/v1/$WARD/households/khom
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -r -t "$WL/T1" -m worklistT1
check "the aggregator publishes team T1's retained worklist" [ $? -eq 0 ]
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -r -t "$WL/T2" -m worklistT2
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -r -t "$HH/6" -m '{"khom":"6"}'
check "the aggregator publishes khóm 6's retained household list" [ $? -eq 0 ]
# a device and the dashboard try to overwrite them
pub "${TLSARGS[@]}" -u DEVC -P "$C_PW" -i kdc-dev-DEVC -q 1 -r -t "$WL/T1" -m forgedT1
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -r -t "$WL/T1" -m forgedT1own
pub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -q 1 -r -t "$WL/T1" -m forgedT1dash
pub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -q 1 -r -t "$HH/6" -m forgedHHdash
timeout 10 mosquitto_sub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA.wl -t "$WL/T1" -C 1 -W 5 -v >"$WORK/s8.out" 2>&1
check "a T1 device reads T1's worklist" got "$WORK/s8.out" "$WL/T1" worklistT1
check "no device and not the dashboard can overwrite a worklist" sh -c "! grep -q forged '$WORK/s8.out'"
timeout 10 mosquitto_sub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA.wl -t "$WL/T2" -t "$WL/#" -t "$HH/#" -W 2 -v >"$WORK/s9.out" 2>&1
check "a T1 device cannot read T2's worklist (nor households/#)" \
	sh -c "! grep -q worklistT2 '$WORK/s9.out' && ! grep -q 'khom' '$WORK/s9.out'"
check "... while worklist/# still shows it T1's own" got "$WORK/s9.out" "$WL/T1" worklistT1
timeout 10 mosquitto_sub "${TLSARGS[@]}" -u DEVC -P "$C_PW" -i kdc-dev-DEVC.wl -t "$WL/#" -W 2 -v >"$WORK/s10.out" 2>&1
check "a T2 device reads T2's worklist and not T1's" \
	sh -c "grep -qxF '$WL/T2 worklistT2' '$WORK/s10.out' && ! grep -q worklistT1 '$WORK/s10.out'"
timeout 10 mosquitto_sub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -t "$HH/6" -C 1 -W 5 -v >"$WORK/s11.out" 2>&1
check "the dashboard reads households/khom/6 (and no one else wrote it)" got "$WORK/s11.out" "$HH/6" '{"khom":"6"}'
timeout 10 mosquitto_sub "${PLAINARGS[@]}" -I kdc-dash- -u "$DASH_USER" -P "$DASH_PW" -t "$WL/#" -W 2 -v >"$WORK/s12.out" 2>&1
check "the dashboard cannot read the worklists" sh -c "! grep -q worklist '$WORK/s12.out'"

# ---- the dashboard over secure WebSockets ------------------------------------
# A minimal MQTT 3.1.1 over WebSocket over TLS client (stdlib only): verifies
# the server certificate against the ward CA, logs in, subscribes, prints
# "CONNACK n" and the first message as "MSG topic payload".
cat >"$WORK/wss.py" <<'EOF'
import base64, os, socket, ssl, struct, sys
host, port, ca, user, pw, topic = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=5), server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /mqtt HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
           % (host, port, key)).encode())
raw = b""
while b"\r\n\r\n" not in raw:
    d = s.recv(4096)
    if not d: sys.exit("closed during the WebSocket handshake")
    raw += d
head, raw = raw.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("no WebSocket upgrade: %r" % head[:60])
def send(p):  # one masked binary frame
    m = os.urandom(4)
    n = len(p)
    h = bytes([0x82, 0x80 | n]) if n < 126 else bytes([0x82, 0xFE]) + struct.pack(">H", n)
    s.sendall(h + m + bytes(b ^ m[i % 4] for i, b in enumerate(p)))
stream = b""
def fill():  # appends the payload of the next frame to stream
    global raw, stream
    while True:
        if len(raw) >= 2:
            n, off = raw[1] & 0x7F, 2
            if n == 126: n, off = (struct.unpack(">H", raw[2:4])[0], 4) if len(raw) >= 4 else (None, 0)
            elif n == 127: n, off = (struct.unpack(">Q", raw[2:10])[0], 10) if len(raw) >= 10 else (None, 0)
            if n is not None and len(raw) >= off + n:
                stream += raw[off:off + n]; raw = raw[off + n:]; return
        d = s.recv(4096)
        if not d: raise EOFError
        raw += d
def packet():  # next MQTT packet: (type byte, body)
    global stream
    while True:
        if len(stream) >= 2:
            mult, n, i = 1, 0, 1
            while i < len(stream):
                n += (stream[i] & 0x7F) * mult; mult *= 128; i += 1
                if not stream[i - 1] & 0x80: break
            else: i = None
            if i is not None and len(stream) >= i + n:
                t, body = stream[0], stream[i:i + n]; stream = stream[i + n:]; return t, body
        fill()
def mstr(x): b = x.encode(); return struct.pack(">H", len(b)) + b
def rl(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n: return out
body = mstr("MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 30) + mstr("kdc-dash-wss-test-%d" % os.getpid()) + mstr(user) + mstr(pw)
send(bytes([0x10]) + rl(len(body)) + body)
try:
    t, b = packet()
except EOFError:
    print("CLOSED"); sys.exit(0)
print("CONNACK %d" % b[1]); sys.stdout.flush()
if b[1] != 0: sys.exit(0)
body = struct.pack(">H", 1) + mstr(topic) + b"\x00"
send(bytes([0x82]) + rl(len(body)) + body)
try:
    while True:
        t, b = packet()
        if t >> 4 == 3:
            tl = struct.unpack(">H", b[:2])[0]
            print("MSG %s %s" % (b[2:2 + tl].decode(), b[2 + tl:].decode())); break
except (EOFError, socket.timeout):
    print("NOMSG")
EOF
python3 "$WORK/wss.py" 127.0.0.1 "$WS" "$CA" "$DASH_USER" "$DASH_PW" "$ST" >"$WORK/wss.out" 2>&1
check "a dashboard over wss:// (TLS checked against the ward CA) reads the retained stats ($(tr '\n' ' ' <"$WORK/wss.out" | head -c 60))" \
	sh -c "grep -qx 'CONNACK 0' '$WORK/wss.out' && grep -qxF 'MSG $ST {\"seq\":1}' '$WORK/wss.out'"
python3 "$WORK/wss.py" 127.0.0.1 "$WS" "$CA" "$DASH_USER" "wrong" "$ST" >"$WORK/wss2.out" 2>&1
check "wss:// with a wrong password is refused ($(tr '\n' ' ' <"$WORK/wss2.out" | head -c 40))" \
	grep -qE '^(CONNACK [1-5]|CLOSED)$' "$WORK/wss2.out"

# The dashboard's files: copied to www/ with config.js naming this ward, the
# WebSockets port and the dashboard account, served by nginx over https.
check "www/config.js names ward $WARD, the WebSockets port and the dashboard account" \
	grep -qF "{ ward: '$WARD', brokerPort: $WS, username: '$DASH_USER', password: '$DASH_PW' }" "$DIR/www/config.js"
check "the broker itself serves no files (no http_dir: HTTP/2 breaks it in browsers)" \
	sh -c "! grep -q '^http_dir' '$DIR/mosquitto.conf'"
NGINX=${NGINX:-$(command -v nginx || true)}
if [ -z "$NGINX" ]; then
	echo "skip nginx serves the dashboard site (no nginx here; set NGINX=/path/to/nginx)"
else
	mkdir -p "$WORK/nginx/tmp"
	cat >"$WORK/nginx/nginx.conf" <<EOF
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
daemon off;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events {}
http {
  types { text/html html; application/javascript js; }
  access_log off;
  client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  include $DIR/nginx-dashboard.conf;
}
EOF
	setsid "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" </dev/null >"$WORK/nginx/out" 2>&1 &
	NGINX_PID=$!
	BG_PIDS+=("$NGINX_PID")
	wait_until 10 port_open "$HTTPS"
	python3 - "$HTTPS" "$CA" >"$WORK/https.out" 2>&1 <<'EOF'
import ssl, sys, urllib.request
port, ca = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=ca)
for path in ("/", "/config.js"):
    with urllib.request.urlopen("https://127.0.0.1:%s%s" % (port, path), context=ctx, timeout=5) as r:
        print("GET", path, r.status, r.read().decode().replace("\n", " "))
EOF
	check "nginx serves the dashboard over https with the ward certificate" grep -q "^GET / 200 .*kdc dashboard" "$WORK/https.out"
	check "... and its config.js" grep -qF "ward: '$WARD', brokerPort: $WS" "$WORK/https.out"
fi

# ---- revoking a device -------------------------------------------------------

# DEVC stays connected while it is revoked: the reload must also cut it off.
# (Its subscriber would wait 10 minutes by itself: ending within 30 s of the
# reload is the reload's doing.)
sub_start "$WORK/s8.out" "${TLSARGS[@]}" -u DEVC -P "$C_PW" -i kdc-dev-DEVC -q 1 -t "$RC/DEVC" -W 600 ||
	bad "DEVC subscribes before it is revoked"
r0=$(reloads_seen)
"$KDC_WARD" remove-device --dir "$DIR" DEVC >"$WORK/remove.out" 2>&1
check "remove-device exits 0 and reloads the broker by its pid file" grep -q "Reloaded the broker (pid $BROKER_PID)" "$WORK/remove.out"
check "remove-device deleted the device's config file" [ ! -e "$DIR/devices/DEVC.conf" ]
check "remove-device deleted the account" sh -c "! grep -q '^DEVC:' '$DIR/passwd'"
wait_reload "$r0"
pub "${TLSARGS[@]}" -u DEVC -P "$C_PW" -i kdc-dev-DEVC -q 1 -t "$EV/T2/DEVC" -m afterrevoke
rc=$?
check "the revoked device can no longer connect (exit $rc: $(head -n 1 "$WORK/pub.out"))" \
	sh -c "[ $rc -ne 0 ] && grep -qi 'not authori' '$WORK/pub.out'"
if wait_until 30 pid_gone "$SUB_PID"; then
	ok "the revoked device's open connection was closed by the reload"
else
	bad "the revoked device's open connection was closed by the reload"
fi
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/T1/DEVA" -m stillfine
check "the other devices still connect after the reload" [ $? -eq 0 ]
"$KDC_WARD" list-devices --dir "$DIR" >"$WORK/list.out" 2>&1
check "list-devices shows DEVA and DEVB but not DEVC" \
	sh -c "grep -q '^DEVA  *T1  *6 ' '$WORK/list.out' && grep -q '^DEVB ' '$WORK/list.out' && ! grep -q DEVC '$WORK/list.out' && grep -q '^2 device' '$WORK/list.out'"

# A new device works at once: add-device reloads too.
r0=$(reloads_seen)
"$KDC_WARD" add-device --dir "$DIR" T2 DEVD >"$WORK/add.out" 2>&1
wait_reload "$r0"
D_PW=$(conf_value "$DIR/devices/DEVD.conf" password)
pub "${TLSARGS[@]}" -u DEVD -P "$D_PW" -i kdc-dev-DEVD -q 1 -t "$EV/T2/DEVD" -m newdevice
check "a device added while the broker runs can connect at once" [ $? -eq 0 ]

# ---- redoing the ward: init --force keeps the CA and devices ------------------
ca_before=$(sha256sum <"$CA")
conf_before=$(grep -vE '^#|^$' "$DIR/mosquitto.conf")
# Only --force and the ward: every other setting comes from the first init.
r0=$(reloads_seen)
"$KDC_WARD" init --force --ward "$WARD" --dir "$DIR" >"$WORK/force.out" 2>&1
wait_reload "$r0"
check "init --force exits 0 and reloads the broker" grep -q "Reloaded the broker (pid $BROKER_PID)" "$WORK/force.out"
check "init --force keeps every broker setting it was not given" \
	[ "$(grep -vE '^#|^$' "$DIR/mosquitto.conf")" = "$conf_before" ]
check "init --force keeps the service passwords" \
	[ "$(conf_value "$DIR/aggregator.conf" password)|$(conf_value "$DIR/dashboard.conf" password)" = "$AGG_PW|$DASH_PW" ]
# --new-passwords: new passwords for the aggregator and dashboard accounts.
"$KDC_WARD" init --force --new-passwords --ward "$WARD" --dir "$DIR" >"$WORK/force.out" 2>&1
check "init --force --new-passwords exits 0 and reloads the broker" grep -q "Reloaded the broker (pid $BROKER_PID)" "$WORK/force.out"
DASH_PW2=$(conf_value "$DIR/dashboard.conf" password)
check "init --force --new-passwords writes the new dashboard password into www/config.js" \
	sh -c "[ '$DASH_PW2' != '$DASH_PW' ] && grep -qF \"password: '$DASH_PW2'\" '$DIR/www/config.js'"
check "init --force keeps the ward CA" [ "$(sha256sum <"$CA")" = "$ca_before" ]
AGG_PW2=$(conf_value "$DIR/aggregator.conf" password)
check "init --force --new-passwords gives the aggregator a new password" [ -n "$AGG_PW2" ] && [ "$AGG_PW2" != "$AGG_PW" ]
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW" -q 1 -t "$RC/DEVA" -m oldpw
check "... the old one no longer works" [ $? -ne 0 ]
pub "${PLAINARGS[@]}" -I "kdc-agg-$WARD." -u "$AGG_USER" -P "$AGG_PW2" -q 1 -t "$RC/DEVA" -m newpw
check "... the new one does" [ $? -eq 0 ]
pub "${TLSARGS[@]}" -u DEVA -P "$A_PW" -i kdc-dev-DEVA -q 1 -t "$EV/T1/DEVA" -m afterforce
check "... and device accounts still work" [ $? -eq 0 ]
"$KDC_WARD" renew-cert --dir "$DIR" >"$WORK/renew.out" 2>&1
check "renew-cert issues a new server certificate from the ward CA" \
	openssl verify -CAfile "$CA" "$DIR/server.crt" >/dev/null 2>&1
check "... and keeps its key private" [ "$(mode_of "$DIR/server.key")" = 600 ]

# ---- persistence ---------------------------------------------------------------
kill -TERM "$BROKER_PID"
wait_until 30 pid_gone "$BROKER_PID"
check "the broker saved its persistence file on SIGTERM" [ -s "$WORK/data/mosquitto.db" ]

echo "$((CHECKS - FAILS)) of $CHECKS checks passed"
[ "$FAILS" -eq 0 ]
