# shellcheck shell=bash
# tests/deploy/ward_lib.sh: a ward set up by deploy/kdc-ward in a scratch
# folder, with its real broker (the generated mosquitto.conf, plugin and all)
# and its real kdc-aggregator, for the attack tests. Source after
# tests/lib/common.sh and kdc_test_init.
#
# Environment: KDC_WARD (the script), KDC_BROKER_PLUGIN (kdc_guard.so),
# KDC_AGGREGATOR, KDC_EVENT (the programs).
#
# ward_setup: sets WARD, DIR (ward folder), PLAIN/TLS/WS ports, CA, DB,
# AGG_PW, DASH_PW and device passwords PW_<device>; the profile has khoms 6
# and 7, teams T1 (devices D1 D2), T2 (device D3) and T3 (device D4).

WARD=31975

ward__profile() {
	cat <<EOF
[ward]
code = $WARD
name = Phường 1
utc_offset = +07:00

[khom 6]
households = 186
people_15plus = 520

[khom 7]
households = 120
people_15plus = 300

[team T1]
khoms = 6

[team T2]
khoms = 7

[team T3]
khoms = 7
EOF
}

ward_setup() {
	need_program KDC_AGGREGATOR
	need_program KDC_EVENT
	[ -x "${KDC_WARD:-}" ] || fail "KDC_WARD does not name the kdc-ward script"
	[ -f "${KDC_BROKER_PLUGIN:-}" ] || fail "KDC_BROKER_PLUGIN does not name kdc_guard.so"
	read -r PLAIN TLS WS <<<"$(free_port 3 | tr '\n' ' ')"
	DIR=$WORK/etc
	DB=$WORK/agg/events.db
	ward__profile >"$WORK/profile.ini"
	"$KDC_WARD" init --ward "$WARD" --dir "$DIR" --host 127.0.0.1 \
		--plain-port "$PLAIN" --tls-port "$TLS" --ws-port "$WS" --bind 127.0.0.1 \
		--run-as-user "$(id -un)" --broker-data "$WORK/data" --pid-file "$WORK/mosquitto.pid" \
		--log-file "$WORK/mosquitto.log" --db "$DB" --profile "$WORK/profile.ini" \
		>"$WORK/init.out" 2>&1 || fail "kdc-ward init failed: $(tail -n 3 "$WORK/init.out")"
	local d
	for d in T1:D1 T1:D2 T2:D3 T3:D4; do
		"$KDC_WARD" add-device --dir "$DIR" --no-reload "${d%%:*}" "${d#*:}" >>"$WORK/init.out" 2>&1 ||
			fail "add-device $d failed: $(tail -n 3 "$WORK/init.out")"
		printf -v "PW_${d#*:}" '%s' "$(conf_value "$DIR/devices/${d#*:}.conf" password)"
		# the outbox beside the config, in the work folder
		echo "outbox = $WORK/${d#*:}-outbox.db" >>"$DIR/devices/${d#*:}.conf"
		sed -i "s|^ca-file = .*|ca-file = $DIR/ca.crt|" "$DIR/devices/${d#*:}.conf"
	done
	CA=$DIR/ca.crt
	AGG_PW=$(conf_value "$DIR/aggregator.conf" password)
	DASH_PW=$(conf_value "$DIR/dashboard.conf" password)
	ward_broker_start
	agg_start "$WORK/agg" --config "$DIR/aggregator.conf"
	ward_wait_online
}

conf_value() { sed -n "s/^$2 *= *//p" "$1" | head -n 1; }

ward_broker_start() {
	setsid mosquitto -c "$DIR/mosquitto.conf" </dev/null >>"$WORK/mosquitto.out" 2>&1 &
	BROKER_PID=$!
	KDC_PIDS+=("$BROKER_PID")
	KDC_LOGS+=("$WORK/mosquitto.log")
	wait_for 15 "the ward broker listening on $PLAIN, $TLS and $WS" \
		eval 'port_open $PLAIN && port_open $TLS && port_open $WS'
}

ward_broker_stop() {
	kill -TERM "$BROKER_PID"
	pid_wait_dead "$BROKER_PID" 10 || fail "the broker did not stop on SIGTERM"
	kdc_forget_pid "$BROKER_PID"
}

# dash_sub ARGS...: mosquitto_sub on the plain port as the dashboard account.
dash_sub() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PLAIN" -I kdc-dash- -u kdc.dashboard -P "$DASH_PW" "$@"; }

agg_online() { dash_sub -t "kdc/v1/$WARD/status/aggregator" -C 1 -W 2 2>/dev/null | grep -q '"online"'; }
ward_wait_online() {
	wait_for 60 "the aggregator online (log: $(tail -n 2 "$WORK/agg/agg.log" 2>/dev/null | tr '\n' ' '))" agg_online
}

# dev_event DEVICE ARGS...: kdc-event with the device's config.
dev_event() { local d=$1; shift; "$KDC_EVENT" --config "$DIR/devices/$d.conf" "$@"; }

# dev_visit DEVICE HOUSEHOLD [ARGS...]: records a visit (khom 6 unless given).
dev_visit() {
	local d=$1 h=$2
	shift 2
	dev_event "$d" visit --khom 6 --household "$h" --outcome surveyed --members 3 \
		--members-15plus 2 --smartphones 1 "$@" >>"$WORK/events.out" 2>&1
}

# dev_sync DEVICE: sends what is pending and waits for the receipts (20 s).
dev_sync() { dev_event "$1" sync --timeout 20 >>"$WORK/events.out" 2>&1; }

# stored_for DEVICE: events of DEVICE in the aggregator's database.
stored_for() { sql "$DB" "select count(*) from events where device = '$1';"; }

# retained_topics: every retained topic under the ward's stats (dashboard view).
retained_topics() { dash_sub -t "kdc/v1/$WARD/stats/#" -W 2 -v --retained-only 2>/dev/null | awk '{print $1}' | sort; }
