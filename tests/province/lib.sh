# shellcheck shell=bash
# tests/province/lib.sh: helpers of the province tests, on top of
# tests/lib/common.sh (source that first). Everything is started on free
# 127.0.0.1 ports and stopped by PID.
#
# Environment: KDC_ROLLUP (path of kdc-rollup) besides common.sh's.

# ---- brokers with extra configuration -------------------------------------------
# broker_start (common.sh) writes its own mosquitto.conf; a broker directory
# holding extra.conf gets those lines appended (a bridge, log_type subscribe).
eval "$(declare -f broker__write_conf | sed '1s/broker__write_conf/prov__common_write_conf/')"
broker__write_conf() {
	prov__common_write_conf "$@"
	[ -f "$1/extra.conf" ] && cat "$1/extra.conf" >>"$1/mosquitto.conf"
	return 0
}

# conf_broker_start DIR PORT...: starts mosquitto with the DIR/mosquitto.conf
# the test wrote itself (e.g. from deploy/province/), waits until every PORT
# accepts. broker_stop / broker_kill / broker_pid of common.sh work on it.
conf_broker_start() {
	local dir=$1 pid p ok
	shift
	echo "$1" >"$dir/port"
	setsid mosquitto -c "$dir/mosquitto.conf" </dev/null >>"$dir/out" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/mosquitto.pid"
	KDC_PIDS+=("$pid")
	case " ${KDC_LOGS[*]} " in *" $dir/mosquitto.log "*) ;; *) KDC_LOGS+=("$dir/mosquitto.log" "$dir/out") ;; esac
	local deadline=$((SECONDS + 10))
	while pid_alive "$pid"; do
		ok=1
		for p in "$@"; do port_open "$p" || ok=0; done
		[ "$ok" = 1 ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.05
	done
	tail -n 20 "$dir/out" "$dir/mosquitto.log" >&2 2>/dev/null
	fail "mosquitto with $dir/mosquitto.conf did not start on ports $*"
}

# fill_template IN OUT NAME=VALUE...: replaces @NAME@ by VALUE.
fill_template() {
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do
		args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${args[@]}" "$in" >"$out"
	if grep -q '@[A-Z_]*@' "$out"; then
		fail "template $in: unfilled $(grep -o '@[A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
	fi
}

# ---- kdc-rollup ---------------------------------------------------------------------
# Lives in a directory like an aggregator: rollup.pid, rollup.log, rollup.args.

rollup_start() {
	local dir=$1
	shift
	need_program KDC_ROLLUP
	mkdir -p "$dir"
	printf '%s\n' "$@" >"$dir/rollup.args"
	rollup_restart "$dir"
}

rollup_restart() {
	local dir=$1 pid args=()
	mapfile -t args <"$dir/rollup.args"
	echo "--- start $(date -u +%H:%M:%S.%N)" >>"$dir/rollup.log"
	"$KDC_ROLLUP" "${args[@]}" </dev/null >>"$dir/rollup.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/rollup.pid"
	KDC_PIDS+=("$pid")
	case " ${KDC_LOGS[*]} " in *" $dir/rollup.log "*) ;; *) KDC_LOGS+=("$dir/rollup.log") ;; esac
}

# rollup_stop DIR: SIGTERM, then exit status 0 within 10 s.
rollup_stop() {
	local dir=$1 pid
	pid=$(cat "$dir/rollup.pid" 2>/dev/null)
	[ -n "$pid" ] || fail "no kdc-rollup running in $dir"
	pid_alive "$pid" || fail "kdc-rollup (pid $pid) died before it was told to stop; log: $dir/rollup.log"
	kill -TERM "$pid"
	pid_wait_dead "$pid" 10 || { kill -KILL "$pid"; fail "kdc-rollup did not exit within 10 s of SIGTERM"; }
	kdc_forget_pid "$pid"
	rm -f "$dir/rollup.pid"
	[ "$KDC_WAIT_STATUS" = 0 ] || fail "kdc-rollup exit status after SIGTERM: expected 0, got $KDC_WAIT_STATUS"
	echo "ok: kdc-rollup exit status after SIGTERM = 0"
}

# ---- reading retained JSON --------------------------------------------------------
# retained_json PORT TOPIC [MOSQUITTO_SUB ARGS...]: the retained message, or
# nothing after 3 s.
retained_json() {
	local port=$1 topic=$2
	shift 2
	mosquitto_sub -h 127.0.0.1 -p "$port" "$@" -t "$topic" -C 1 -W 3 2>/dev/null
	return 0
}

# The fields kdc-rollup adds up (docs/province.md), as jq paths. Written out
# here rather than read from the code under test. A key that starts with a
# digit is quoted ("24h"): jq cannot parse .24h.
PROV_ADDITIVE=(
	.households.total .households.visited .households.surveyed .households.reached
	.people_15plus.total .people_15plus.with_payment_account .people_15plus.paying_regularly
	.accounts.public_service_portal .accounts.vneid_level2 .accounts.provincial_app .accounts.payment
	.events.visit.\"24h\" .events.visit.\"7d\" .events.visit.\"30d\" .events.visit.total
	.events.account.\"24h\" .events.account.\"7d\" .events.account.\"30d\" .events.account.total
	.events.payment.\"24h\" .events.payment.\"7d\" .events.payment.\"30d\" .events.payment.total
	.events.service.\"24h\" .events.service.\"7d\" .events.service.\"30d\" .events.service.total
	.services.birth_registration .services.marital_status .services.medical_booking
	.services.field_report .services.other
	.payments.count_30d .payments.amount_vnd_30d .payments.count_total .payments.amount_vnd_total
	.stored_total .rejected_total .events.voided
)

# check_province_sum PROVJSON WARDJSON...: every additive field of the
# province equals the sum of the wards' (jq adds integers exactly below 2^53),
# and each target's value and denominator are sums too, with current
# recomputed. Prints one line per field; fails at the first difference.
check_province_sum() {
	local prov=$1 path want got n=0
	shift
	for path in "${PROV_ADDITIVE[@]}"; do
		want=$(printf '%s\n' "$@" | jq -s "map($path) | add") || fail "jq could not add up $path of the wards"
		got=$(jq "$path" <<<"$prov") || fail "jq could not read $path of the province snapshot"
		[ "$want" = "$got" ] || fail "province $path: expected the wards' sum $want, got $got"
		n=$((n + 1))
	done
	echo "ok: province = sum of $# ward snapshots for all $n additive fields (stored_total $(jq .stored_total <<<"$prov"))"
	local ind value denom cur
	for ind in households_reached people_paying_regularly; do
		case $ind in
		households_reached) value=.households.reached denom=.households.total ;;
		people_paying_regularly) value=.people_15plus.paying_regularly denom=.people_15plus.total ;;
		esac
		want=$(printf '%s\n' "$@" | jq -s "map($value) | add")
		got=$(jq ".targets[] | select(.indicator == \"$ind\") | .value" <<<"$prov")
		assert_eq "province target $ind value (sum)" "$want" "$got"
		denom=$(printf '%s\n' "$@" | jq -s "map($denom) | add")
		got=$(jq ".targets[] | select(.indicator == \"$ind\") | .denominator" <<<"$prov")
		assert_eq "province target $ind denominator (sum)" "$denom" "$got"
		# 100 * value / denominator, two decimals, rounded down, in integers
		cur=$(awk -v v="$want" -v d="$denom" 'BEGIN { if (d == 0) { print "null"; exit }
			c = int(v * 10000 / d); printf "%.2f\n", c / 100 }')
		got=$(jq -r ".targets[] | select(.indicator == \"$ind\") | .current" <<<"$prov")
		# jq prints 43.1 for 43.10
		got=$(awk -v x="$got" 'BEGIN { if (x == "null") print "null"; else printf "%.2f\n", x }')
		assert_eq "province target $ind current (recomputed)" "$cur" "$got"
	done
}

# ---- TLS -----------------------------------------------------------------------------
# make_tls DIR: a throwaway CA (DIR/ca.crt) and a server certificate for
# 127.0.0.1 and localhost signed by it (DIR/server.crt, DIR/server.key).
make_tls() {
	local d=$1 out
	mkdir -p "$d"
	out=$({
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=kdc test CA" -keyout "$d/ca.key" -out "$d/ca.crt" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" &&
			printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n' >"$d/ext.cnf" &&
			openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
				-CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt"
	} 2>&1) || fail "openssl could not make the test certificates: $out"
	chmod 600 "$d/server.key" "$d/ca.key"
}

# ---- RabbitMQ with its MQTT plugin (TOOLCHAIN.md section 9) ---------------------------
# A node lives in a directory: rabbitmq.conf (written by the caller), env
# (its environment), mnesia/, log/, beam.pid, epmd port. Everything on
# 127.0.0.1, its own epmd on a free port (so no other Erlang node on the
# machine is touched), stopped by PID.
RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}

# rabbit_env DIR: the environment of the node's commands.
rabbit_env() {
	local d=$1
	export HOME=$d RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$(cat "$d/epmd.port") \
		RABBITMQ_NODE_PORT=$(cat "$d/amqp.port") RABBITMQ_DIST_PORT=$(cat "$d/dist.port") \
		RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf RABBITMQ_MNESIA_BASE=$d/mnesia \
		RABBITMQ_LOG_BASE=$d/log RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins \
		RABBITMQ_PID_FILE=$d/beam.pid
	# the distribution ports (node and command-line tools) on loopback too
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbit_ports DIR: picks the node's free ports (amqp, dist, epmd, mqtt, mqtts).
rabbit_ports() {
	local d=$1 p
	mkdir -p "$d"
	mapfile -t p < <(free_port 5)
	echo "${p[0]}" >"$d/amqp.port"
	echo "${p[1]}" >"$d/dist.port"
	echo "${p[2]}" >"$d/epmd.port"
	echo "${p[3]}" >"$d/mqtt.port"
	echo "${p[4]}" >"$d/mqtts.port"
}

rabbitmqctl_() { (rabbit_env "$RABBIT_DIR" && "$RABBIT_BIN/rabbitmqctl" "$@"); }

# rabbit_start DIR: enables the MQTT plugin, starts the node, waits (up to
# 90 s) until its MQTT ports accept. DIR/rabbitmq.conf must exist.
rabbit_start() {
	local d=$1 pid t0=$SECONDS out
	RABBIT_DIR=$d
	[ -x "$RABBIT_BIN/rabbitmq-server" ] ||
		fail "RabbitMQ is not installed ($RABBIT_BIN/rabbitmq-server missing): apt-get install rabbitmq-server"
	out=$( (rabbit_env "$d" && "$RABBIT_BIN/rabbitmq-plugins" enable --offline rabbitmq_mqtt) 2>&1) ||
		fail "rabbitmq-plugins enable --offline rabbitmq_mqtt failed: $out"
	(rabbit_env "$d" && exec setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >>"$d/server.out" 2>&1) &
	pid=$!
	echo "$pid" >"$d/server.pid"
	KDC_LOGS+=("$d/server.out")
	while ! { port_open "$(cat "$d/mqtt.port")" && port_open "$(cat "$d/mqtts.port")"; }; do
		pid_alive "$pid" || fail "rabbitmq-server exited while starting (see $d/server.out, $d/log)"
		[ $((SECONDS - t0)) -ge 90 ] && fail "RabbitMQ's MQTT ports not open after 90 s (see $d/log)"
		sleep 0.25
	done
	kdc_say "RabbitMQ ready in $((SECONDS - t0)) s (beam pid $(cat "$d/beam.pid" 2>/dev/null), MQTT 127.0.0.1:$(cat "$d/mqtt.port"), TLS :$(cat "$d/mqtts.port"))"
}

# epmd_pid PORT: the epmd serving that port (by its environment), if any.
epmd_pid() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = epmd ] || continue
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "ERL_EPMD_PORT=$1" && { echo "${p#/proc/}"; return 0; }
	done
	return 0
}

# rabbit_stop DIR: rabbitmqctl stop, then the node's processes and its epmd
# by PID. Safe to call twice and after a failed start.
rabbit_stop() {
	local d=$1 beam spid epmd
	[ -f "$d/epmd.port" ] || return 0
	beam=$(cat "$d/beam.pid" 2>/dev/null)
	spid=$(cat "$d/server.pid" 2>/dev/null)
	if [ -n "$beam" ] && pid_alive "$beam"; then
		(rabbit_env "$d" && timeout 30 "$RABBIT_BIN/rabbitmqctl" stop) >>"$d/stop.out" 2>&1
		pid_wait_dead "$beam" 20 || { kill -KILL "$beam" 2>/dev/null; pid_wait_dead "$beam" 5; }
	fi
	if [ -n "$spid" ] && pid_alive "$spid"; then
		kill -TERM "$spid" 2>/dev/null
		pid_wait_dead "$spid" 5 || kill -KILL "$spid" 2>/dev/null
	fi
	epmd=$(epmd_pid "$(cat "$d/epmd.port")")
	if [ -n "$epmd" ]; then
		kill -TERM "$epmd" 2>/dev/null
		pid_wait_dead "$epmd" 5 || kill -KILL "$epmd" 2>/dev/null
	fi
	rm -f "$d/beam.pid" "$d/server.pid"
}
