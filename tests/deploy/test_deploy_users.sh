#!/usr/bin/env bash
# test_deploy_users.sh: deploy/README.md's steps with every program running as
# the user it runs as on a real ward server, not as root.
#
#   - `kdc-ward init` (as root, under its own umask 077) into a scratch
#     /etc/kdc-like folder, with the real owners: broker user mosquitto,
#     aggregator user kdc (created from deploy/systemd/kdc.sysusers if missing);
#   - the ward profile copied and enabled in aggregator.conf as the README says;
#   - the broker started as user mosquitto with the ExecStart line of
#     deploy/systemd/kdc-mosquitto@.service (systemd need not be PID 1 here:
#     setpriv does what User=/Group=/UMask= do);
#   - the aggregator as user kdc with the ExecStart line of
#     kdc-aggregator@.service; %d (the credentials folder of LoadCredential=)
#     is the ward folder itself, which is stricter: user kdc reads
#     aggregator.conf there;
#   - the dashboard served by nginx (master root, workers www-data, as Debian
#     runs it) with the site kdc-ward wrote, fetched with curl over https;
#   - `add-device` refuses a team the profile does not have and puts the new
#     device into the profile; its config works for a throwaway ordinary user
#     who only copied the two files handed over into the home folder (no folder
#     made by hand): the outbox goes to ~/.local/share/kdc;
#   - `kdc-stats --config dashboard.conf` run by that user shows the figures;
#   - `init --force` keeps the profile line and the passwords, says what it
#     replaced, and the restarted aggregator still has the profile's figures;
#     under a folder the service users cannot pass (0700), it names the folder;
#   - nobody reads what is not theirs (www-data, the member, kdc).
#
# Needs root (to create users and switch to them): exits 77 (skipped)
# otherwise. Everything listens on 127.0.0.1 only, on free ports. Every user,
# process and file it creates is removed at the end.
#
# Environment: KDC_WARD (default deploy/kdc-ward), KDC_AGGREGATOR, KDC_EVENT,
# KDC_STATS, KDC_FREEPORT, BUILD_DIR; KEEP_WORK=1 keeps the scratch folder.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

SRC=$KDC_SOURCE_DIR
KDC_WARD=${KDC_WARD:-$SRC/deploy/kdc-ward}
WARD=31975
MEMBER=kdct$$                # the throwaway team member's login

if [ "$(id -u)" != 0 ]; then
	echo "skip: this test creates users and runs services as them: run it as root"
	exit 77
fi
for tool in mosquitto mosquitto_sub openssl nginx curl setpriv useradd userdel jq; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (bash scripts/install-deps.sh)"
done
need_program KDC_AGGREGATOR
need_program KDC_EVENT
need_program KDC_STATS
getent passwd mosquitto >/dev/null || fail "user mosquitto is missing (the mosquitto package creates it)"
getent passwd www-data >/dev/null || fail "user www-data is missing"

# A scratch root every user can traverse (mktemp -d makes it 0700), with the
# programs copied in: the service users cannot reach into a build tree that
# sits under a private folder.
WORK=$(mktemp -d /tmp/kdc-deploy-users.XXXXXX)
chmod 0755 "$WORK"
BIN=$WORK/usr/bin
ETC=$WORK/etc/kdc
DIR=$ETC/$WARD
STATE=$WORK/var/lib
HOME_M=$WORK/home/$MEMBER
install -d -m 0755 "$BIN" "$WORK/home"
install -m 0755 "$KDC_AGGREGATOR" "$KDC_EVENT" "$KDC_STATS" "$BIN/"

CREATED_KDC=0
PIDS=()
cleanup() {
	local pid st=$?
	for pid in "${PIDS[@]}"; do
		if pid_alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null
			pid_wait_dead "$pid" 10 || kill -KILL "$pid" 2>/dev/null
		fi
	done
	if getent passwd "$MEMBER" >/dev/null; then
		userdel "$MEMBER" 2>/dev/null
	fi
	if [ "$CREATED_KDC" = 1 ]; then
		userdel kdc 2>/dev/null
		getent group kdc >/dev/null && groupdel kdc 2>/dev/null
	fi
	if [ "$st" = 0 ] && [ "${KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "scratch folder kept: $WORK"
		tail -n 20 "$WORK"/*.log 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

read -r PLAIN TLS WS WS2 HTTPS < <(free_port 5 | tr '\n' ' ')
kdc_say "ports: plain $PLAIN, tls $TLS, ws $WS (then $WS2), https $HTTPS"

# ---- users -------------------------------------------------------------------
# The aggregator's user, as the sysusers.d entry the package installs says.
if ! getent passwd kdc >/dev/null; then
	systemd-sysusers "$SRC/deploy/systemd/kdc.sysusers" >/dev/null 2>&1 ||
		fail "systemd-sysusers could not create user kdc from deploy/systemd/kdc.sysusers"
	CREATED_KDC=1
fi
getent passwd kdc >/dev/null || fail "user kdc does not exist after systemd-sysusers"
useradd --create-home --home-dir "$HOME_M" --shell /bin/sh "$MEMBER" ||
	fail "useradd $MEMBER failed"
[ "$(stat -c %U "$HOME_M")" = "$MEMBER" ] || fail "$HOME_M is not owned by $MEMBER"

# as USER CMD...: runs CMD as USER with only that user's groups, an ordinary
# environment and umask 077 (what the units' User=, Group=, UMask= give).
as() {
	local user=$1 home
	shift
	home=$(getent passwd "$user" | cut -d: -f6)
	setpriv --reuid="$user" --regid="$user" --init-groups \
		env -i HOME="$home" PATH="$BIN:/usr/bin:/bin:/usr/sbin:/sbin" LANG=C.UTF-8 \
		sh -c 'umask 077; exec "$@"' sh "$@"
}

# ---- 3. Set up the ward (deploy/README.md) -------------------------------------
(umask 022 && "$KDC_WARD" init --ward "$WARD" --name "Phường 1" --dir "$DIR" --host 127.0.0.1 \
	--plain-port "$PLAIN" --tls-port "$TLS" --ws-port "$WS" --https-port "$HTTPS" --bind 127.0.0.1 \
	--broker-data "$STATE/kdc-mosquitto/$WARD" --pid-file "$WORK/run/kdc-mosquitto/$WARD/mosquitto.pid" \
	--db "$STATE/kdc/$WARD/events.db" --dashboard "$SRC/dashboard/web") >"$WORK/init.log" 2>&1 ||
	fail "kdc-ward init failed: $(tail -n 3 "$WORK/init.log")"
printf 'ok: kdc-ward init\n'

# The README's profile step, as written there.
(umask 022 && cp "$SRC/deploy/ward-profile.example.ini" "$DIR/ward-profile.ini")
sed -i 's|^#profile = |profile = |' "$DIR/aggregator.conf"
assert_eq "profile line enabled in aggregator.conf" "$DIR/ward-profile.ini" \
	"$(sed -n 's/^profile = //p' "$DIR/aggregator.conf")"

# owner:group mode of each file the services need, and of the secrets.
mog() { stat -c '%U:%G %a' "$1"; }
MQ_GROUP=$(id -gn mosquitto)
KDC_GROUP=$(id -gn kdc)
assert_eq "ward parent folder $ETC" "root:root 755" "$(mog "$ETC")"
assert_eq "ward folder" "root:root 755" "$(mog "$DIR")"
assert_eq "mosquitto.conf" "root:$MQ_GROUP 640" "$(mog "$DIR/mosquitto.conf")"
for f in passwd acl server.key; do
	assert_eq "$f (the broker's secret)" "mosquitto:$MQ_GROUP 600" "$(mog "$DIR/$f")"
done
assert_eq "aggregator.conf (after the README's sed)" "root:$KDC_GROUP 640" "$(mog "$DIR/aggregator.conf")"
assert_eq "ca/ca.key" "root:root 600" "$(mog "$DIR/ca/ca.key")"
assert_eq "dashboard.conf (viewer account)" "root:root 644" "$(mog "$DIR/dashboard.conf")"
assert_eq "broker data folder" "mosquitto:$MQ_GROUP 700" "$(mog "$STATE/kdc-mosquitto/$WARD")"
assert_eq "its parent" "root:root 755" "$(mog "$STATE/kdc-mosquitto")"
assert_eq "pid file folder" "mosquitto:$MQ_GROUP 755" "$(mog "$WORK/run/kdc-mosquitto/$WARD")"
assert_eq "aggregator state folder" "kdc:$KDC_GROUP 700" "$(mog "$STATE/kdc/$WARD")"
assert_eq "its parent" "root:root 755" "$(mog "$STATE/kdc")"

# ---- 4. The broker as user mosquitto, by its unit's ExecStart ------------------
unit_exec() { # UNIT: the ExecStart command with %i and the scratch root filled in
	sed -n 's/^ExecStart=//p' "$SRC/deploy/systemd/$1" |
		sed "s|/etc/kdc/|$ETC/|g; s|/usr/bin/|$BIN/|g; s|%i|$WARD|g; s|%d|$DIR|g; s|%S|$STATE|g"
}
BROKER_CMD=$(unit_exec kdc-mosquitto@.service)
case "$BROKER_CMD" in *mosquitto\ -c\ "$DIR/mosquitto.conf") ;; *) fail "unexpected ExecStart in kdc-mosquitto@.service: $BROKER_CMD" ;; esac
# shellcheck disable=SC2086 # the ExecStart line is split into words as systemd does
setsid setpriv --reuid=mosquitto --regid=mosquitto --init-groups \
	sh -c 'umask 077; exec "$@"' sh $BROKER_CMD </dev/null >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
wait_for 15 "the broker (user mosquitto) listening on $PLAIN and $TLS (log: $(tail -n 2 "$WORK/broker.log" | tr '\n' ' '))" \
	eval 'pid_alive $BROKER_PID && port_open $PLAIN && port_open $TLS'
assert_eq "broker runs as" mosquitto "$(ps -o user= -p "$BROKER_PID")"
wait_for 5 "the broker's pid file" test -s "$WORK/run/kdc-mosquitto/$WARD/mosquitto.pid"
# Only the start-up lines: the port probes above make TLS handshake errors.
startlog=$(sed '/mosquitto version .* running/q' "$WORK/broker.log" | grep -iE 'warning|error|unable')
[ -z "$startlog" ] || fail "the broker logged at start: $startlog"
printf 'ok: broker started as mosquitto with the unit ExecStart, no error logged\n'

# ---- the aggregator as user kdc, by its unit's ExecStart -----------------------
AGG_CMD=$(unit_exec kdc-aggregator@.service)
start_aggregator() {
	# shellcheck disable=SC2086
	setsid setpriv --reuid=kdc --regid=kdc --init-groups \
		sh -c 'umask 077; exec "$@"' sh $AGG_CMD </dev/null >>"$WORK/aggregator.log" 2>&1 &
	AGG_PID=$!
	PIDS+=("$AGG_PID")
}
DASH_PW=$(sed -n 's/^password = //p' "$DIR/dashboard.conf")
status_online() {
	timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PLAIN" -I kdc-dash- -u kdc.dashboard -P "$DASH_PW" \
		-t "kdc/v1/$WARD/status/aggregator" -C 1 -W 2 2>/dev/null | grep -q '"online"'
}
start_aggregator
wait_for 30 "the aggregator (user kdc) online (log: $(tail -n 2 "$WORK/aggregator.log" | tr '\n' ' '))" \
	eval 'pid_alive $AGG_PID && status_online'
assert_eq "aggregator runs as" kdc "$(ps -o user= -p "$AGG_PID")"
assert_eq "its database" "kdc:$KDC_GROUP 600" "$(mog "$STATE/kdc/$WARD/events.db")"

# ---- 7. The dashboard: nginx, workers as www-data ------------------------------
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log;
daemon off;
events {}
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  include $DIR/nginx-dashboard.conf;
}
EOF
nginx -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx-t.log" 2>&1 ||
	fail "nginx -t refuses the site: $(tail -n 3 "$WORK/nginx-t.log")"
setsid nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" </dev/null >>"$WORK/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for 10 "nginx listening on 127.0.0.1:$HTTPS" port_open "$HTTPS"
workers=$(ps -o user= --ppid "$NGINX_PID" | sort -u | tr -d ' ')
assert_eq "nginx workers run as" www-data "$workers"
fetch() { curl -sS --cacert "$DIR/ca.crt" -o "$WORK/page.out" -w '%{http_code}' "https://127.0.0.1:$HTTPS$1"; }
assert_eq "GET / over https with the ward certificate" 200 "$(fetch /)"
assert_contains "the page" "<html" "$(cat "$WORK/page.out")"
assert_eq "GET /config.js" 200 "$(fetch /config.js)"
assert_contains "config.js" "ward: '$WARD', brokerPort: $WS" "$(cat "$WORK/page.out")"

# ---- 6. Devices ------------------------------------------------------------------
out=$("$KDC_WARD" add-device --dir "$DIR" T9 T9-D1 2>&1)
st=$?
[ "$st" != 0 ] || fail "add-device accepted team T9, which the profile does not have"
assert_contains "add-device T9 refused with" "team T9 is not in the ward profile" "$out"
has_account() { grep -q "^$1:" "$DIR/passwd"; }
has_account T9-D1 && fail "the refused device got an account"
"$KDC_WARD" add-device --dir "$DIR" T1 T1-D9 --khom 6 >"$WORK/add.log" 2>&1 ||
	fail "add-device T1 T1-D9 failed: $(cat "$WORK/add.log")"
assert_eq "profile devices of team T1" "T1-D1, T1-D2, T1-D3, T1-D9" \
	"$(sed -n 's/^devices = //p' "$DIR/ward-profile.ini")"
assert_eq "the profile stays readable" "root:root 644" "$(mog "$DIR/ward-profile.ini")"
grep -q "/var/lib/kdc-device" "$DIR/devices/T1-D9.conf" && fail "the device config still names /var/lib/kdc-device"
assert_eq "the device config has the profile's utc_offset" "+07:00" \
	"$(sed -n 's/^utc-offset = //p' "$DIR/devices/T1-D9.conf")"
printf 'ok: add-device checks the team and keeps the profile in step\n'
# add-device signalled the broker; mosquitto reads the new account at its next
# turn, which on a busy machine can come after the member's first login.
D9_PW=$(sed -n 's/^password = //p' "$DIR/devices/T1-D9.conf")
d9_login() {
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PLAIN" -i kdc-dev-T1-D9 -u T1-D9 -P "$D9_PW" \
		-t "kdc/v1/$WARD/worklist/T1" -E >/dev/null 2>&1
}
wait_for 30 "the broker to take T1-D9's new account" d9_login

# The officer hands over the two files; the member keeps them in the home
# folder, makes no folder, and runs kdc-event as themself.
install -o "$MEMBER" -g "$MEMBER" -m 0600 "$DIR/devices/T1-D9.conf" "$HOME_M/T1-D9.conf"
install -o "$MEMBER" -g "$MEMBER" -m 0644 "$DIR/devices/ward-$WARD-ca.crt" "$HOME_M/"
as "$MEMBER" kdc-event --config "$HOME_M/T1-D9.conf" visit --khom 6 --household H0001 \
	--outcome surveyed --members 4 --members-15plus 3 --smartphones 2 >"$WORK/event.log" 2>&1 ||
	fail "kdc-event visit as $MEMBER failed: $(cat "$WORK/event.log")"
assert_eq "the outbox in the member's data folder" "$MEMBER:$MEMBER 600" \
	"$(mog "$HOME_M/.local/share/kdc/outbox-T1-D9.db")"
assert_eq "its folder" "$MEMBER:$MEMBER 700" "$(mog "$HOME_M/.local/share/kdc")"
as "$MEMBER" kdc-event --config "$HOME_M/T1-D9.conf" sync --timeout 60 >>"$WORK/event.log" 2>&1 ||
	fail "kdc-event sync as $MEMBER failed: $(tail -n 3 "$WORK/event.log")"
printf 'ok: the member recorded and synced a visit (TLS, the CA beside the config)\n'

# ---- the figures, for any user of the server ---------------------------------------
ward_json() {
	as "$MEMBER" kdc-stats --config "$DIR/dashboard.conf" --once --json --timeout 20 2>>"$WORK/stats.log"
}
visited_is_1() { [ "$(ward_json | jq -r '.households.visited')" = 1 ]; }
wait_for 30 "kdc-stats --config dashboard.conf showing 1 household visited" visited_is_1
json=$(ward_json)
assert_eq "households visited of the ward's total (kdc-stats --config, as $MEMBER)" "1 of 186" \
	"$(jq -r '"\(.households.visited) of \(.households.total)"' <<<"$json")"
table=$(as "$MEMBER" kdc-stats --config "$DIR/dashboard.conf" --once --timeout 20 2>&1)
assert_contains "kdc-stats table" "186" "$table"

# ---- the ward office's register, while the aggregator runs ------------------------
# kdc-ward runs kdc-aggregator's register tools as the database's owner (kdc):
# the files they write stay the aggregator's.
"$KDC_WARD" register import "$SRC/deploy/register-khom6.example.csv" --dir "$DIR" --by "Officer" \
	>"$WORK/register.log" 2>&1 || fail "kdc-ward register import failed: $(tail -n 3 "$WORK/register.log")"
assert_contains "kdc-ward register import (as root, run as kdc)" "added 186" "$(cat "$WORK/register.log")"
for f in "$STATE/kdc/$WARD"/events.db*; do
	case $(stat -c %U "$f") in kdc) ;; *) fail "$f belongs to $(stat -c %U "$f") after the register import, not kdc" ;; esac
done
echo "ok: the database files are still user kdc's after the register import"
"$KDC_WARD" register list --khom 6 --dir "$DIR" >"$WORK/register.list" 2>&1 ||
	fail "kdc-ward register list failed: $(tail -n 3 "$WORK/register.list")"
assert_contains "kdc-ward register list" "186 active households in khóm 6" "$(cat "$WORK/register.list")"

# ---- nobody reads what is not theirs --------------------------------------------
denied() { # USER FILE: USER cannot read FILE
	if as "$1" cat "$2" >/dev/null 2>&1; then fail "$1 can read $2"; fi
	printf 'ok: %s cannot read %s\n' "$1" "${2#"$WORK"}"
}
for f in server.key passwd aggregator.conf ca/ca.key devices/T1-D9.conf; do
	denied www-data "$DIR/$f"
	denied "$MEMBER" "$DIR/$f"
done
denied kdc "$DIR/passwd"
denied kdc "$DIR/server.key"
denied mosquitto "$DIR/aggregator.conf"
denied "$MEMBER" "$STATE/kdc/$WARD/events.db"

# ---- init --force keeps what the officer configured ------------------------------
AGG_PW=$(sed -n 's/^password = //p' "$DIR/aggregator.conf")
reloads_seen() { grep -c 'Reloading config' "$WORK/broker.log"; }
reloads0=$(reloads_seen)
"$KDC_WARD" init --force --ward "$WARD" --dir "$DIR" --ws-port "$WS2" >"$WORK/force.log" 2>&1 ||
	fail "init --force failed: $(tail -n 3 "$WORK/force.log")"
assert_eq "profile line after init --force" "$DIR/ward-profile.ini" \
	"$(sed -n 's/^profile = //p' "$DIR/aggregator.conf")"
assert_eq "aggregator password after init --force" "$AGG_PW" "$(sed -n 's/^password = //p' "$DIR/aggregator.conf")"
assert_contains "init --force says what it replaced" "was:  listener $WS 127.0.0.1" "$(cat "$WORK/force.log")"
assert_contains "... and with what" "now:  listener $WS2 127.0.0.1" "$(cat "$WORK/force.log")"
assert_eq "mosquitto.conf after init --force" "root:$MQ_GROUP 640" "$(mog "$DIR/mosquitto.conf")"
assert_eq "aggregator.conf after init --force" "root:$KDC_GROUP 640" "$(mog "$DIR/aggregator.conf")"
st=0; grep -q 'warning' "$WORK/force.log" || st=$?
assert_eq "init --force with every folder passable: no warning" 1 "$st"
# The broker reloads (it logs that first, then reads the files in the same
# step, so a login answered after the line was answered with them).
reloaded() { [ "$(reloads_seen)" -gt "$reloads0" ] && status_online; }
wait_for 30 "the broker reloaded by init --force, and still taking logins" reloaded
# A folder above the ward that already existed 0700 (made by hand under root's
# umask 077): init leaves its mode alone but names it, with the fix, once, and
# does not reload the broker, which could not read its files and would then
# refuse every login.
reloads1=$(reloads_seen)
chmod 0700 "$ETC"
"$KDC_WARD" init --force --ward "$WARD" --dir "$DIR" >"$WORK/force700.log" 2>&1 ||
	fail "init --force under a 0700 folder failed: $(tail -n 3 "$WORK/force700.log")"
chmod 0755 "$ETC"
assert_contains "init --force under a 0700 folder" \
	"warning: the folder $ETC (root:root 700) stops user mosquitto from reaching the broker's configuration $DIR/mosquitto.conf: make it passable with 'chmod o+x $ETC'" \
	"$(cat "$WORK/force700.log")"
assert_eq "... named once" 1 "$(grep -c "the folder $ETC " "$WORK/force700.log")"
assert_contains "... and the broker left as it was" \
	"Not reloading the broker: user mosquitto cannot read its configuration now" "$(cat "$WORK/force700.log")"
assert_eq "broker reloads by init --force under a 0700 folder" "$reloads1" "$(reloads_seen)"
status_online || fail "the broker refuses the dashboard account after init --force under a 0700 folder"
kill -TERM "$AGG_PID"
pid_wait_dead "$AGG_PID" 20 || fail "the aggregator did not stop on SIGTERM"
assert_eq "aggregator exit status on SIGTERM" 0 "$KDC_WAIT_STATUS"
start_aggregator
wait_for 30 "the restarted aggregator online" eval 'pid_alive $AGG_PID && status_online'
json=$(ward_json)
assert_eq "after init --force and a restart, households" "1 of 186" \
	"$(jq -r '"\(.households.visited) of \(.households.total)"' <<<"$json")"
assert_contains "the profile's new device is listed" '"T1-D9"' "$(jq -c '[.devices[].device]' <<<"$json")"

printf 'ok: deploy as the real users: all checks passed\n'
