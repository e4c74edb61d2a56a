# shellcheck shell=bash
# tests/lib/common.sh: helpers for the integration tests and the demo.
#
# Source it from bash. Everything here runs real processes (mosquitto,
# kdc-aggregator, kdc-event) on 127.0.0.1 and keeps their PIDs, so a test can
# stop, SIGKILL and restart exactly what it started and nothing else: other
# people may run their own mosquitto on the same machine at the same time.
#
# Environment (set by tests/CMakeLists.txt; the demo sets them itself):
#   KDC_EVENT, KDC_AGGREGATOR   paths of the built programs
#   KDC_FREEPORT                path of kdc-freeport (optional: falls back to probing)
#   KDC_SOURCE_DIR              the source tree (for proto/ files)
#   KDC_TEST_WORK               a scratch directory for this test
#   BROKER_DIR                  the directory of the shared broker fixture

KDC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${KDC_SOURCE_DIR:=$(cd "$KDC_LIB_DIR/../.." && pwd)}"

# PIDs of every process this shell started through these helpers, and the log
# files worth showing when something fails.
KDC_PIDS=()
KDC_LOGS=()
KDC_BROKER_DIRS=()

# ---- reporting -----------------------------------------------------------

kdc_say() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: expected $2, got $3"
	fi
	printf 'ok: %s = %s\n' "$1" "$3"
}

# assert_ge WHAT MIN ACTUAL (integers)
assert_ge() {
	if ! [ "$3" -ge "$2" ] 2>/dev/null; then
		fail "$1: expected at least $2, got $3"
	fi
	printf 'ok: %s = %s (>= %s)\n' "$1" "$3" "$2"
}

# assert_between WHAT LOW HIGH ACTUAL (integers, inclusive)
assert_between() {
	if ! { [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; } 2>/dev/null; then
		fail "$1: expected between $2 and $3, got $4"
	fi
	printf 'ok: %s = %s (in [%s, %s])\n' "$1" "$4" "$2" "$3"
}

# assert_contains WHAT NEEDLE HAYSTACK
assert_contains() {
	case "$3" in
	*"$2"*) printf 'ok: %s contains %s\n' "$1" "$2" ;;
	*) fail "$1: expected text containing '$2', got '$3'" ;;
	esac
}

# need_program VAR: fails unless the program named by $VAR is executable.
need_program() {
	local var=$1 path=${!1:-}
	if [ -z "$path" ]; then
		fail "$var is not set: the target is not defined in this build (configure again once it exists)"
	fi
	if [ ! -x "$path" ]; then
		fail "$var=$path is not an executable: build it first (cmake --build BUILD)"
	fi
}

# ---- waiting ---------------------------------------------------------------

# wait_for SECONDS WHAT CMD [ARGS...]: runs CMD every 0.1 s until it succeeds;
# fails the test with WHAT after SECONDS.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	while ! "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			fail "timed out after ${secs}s waiting for: $what"
		fi
		sleep 0.1
	done
}

# pid_alive PID: true while the process exists and is not a zombie. (No
# subprocess: it runs in tight polling loops.)
pid_alive() {
	local stat rest
	[ -n "$1" ] || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${stat##*) }
	case "${rest%% *}" in Z | X | "") return 1 ;; esac
	return 0
}

# pid_wait_dead PID SECONDS: true once PID is gone. When it was a child of this
# shell it is reaped and its exit status left in KDC_WAIT_STATUS.
KDC_WAIT_STATUS=
pid_wait_dead() {
	local pid=$1 deadline=$((SECONDS + $2))
	while pid_alive "$pid"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	KDC_WAIT_STATUS=$?
	return 0
}

# port_open PORT: true when something accepts on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

kdc_forget_pid() {
	local i
	for i in "${!KDC_PIDS[@]}"; do
		[ "${KDC_PIDS[$i]}" = "$1" ] && unset 'KDC_PIDS[i]'
	done
	return 0
}

# ---- free ports --------------------------------------------------------------

# free_port [N]: prints N distinct free ports on 127.0.0.1. Uses kdc-freeport
# when built; otherwise probes random ports until nothing answers on them.
free_port() {
	local n=${1:-1} p found=()
	if [ -n "${KDC_FREEPORT:-}" ] && [ -x "$KDC_FREEPORT" ]; then
		"$KDC_FREEPORT" "$n"
		return
	fi
	while [ "${#found[@]}" -lt "$n" ]; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_open "$p" && continue
		case " ${found[*]} " in *" $p "*) continue ;; esac
		found+=("$p")
	done
	printf '%s\n' "${found[@]}"
}

# ---- broker ----------------------------------------------------------------
# A broker lives in a directory: mosquitto.conf, mosquitto.db (persistence),
# mosquitto.log, mosquitto.pid, port (and wsport when it has websockets).

broker_port() { cat "$1/port"; }
broker_url() { printf 'tcp://127.0.0.1:%s' "$(cat "$1/port")"; }
broker_pid() { cat "$1/mosquitto.pid" 2>/dev/null; }

broker__write_conf() {
	local dir=$1 port=$2 wsport=${3:-} httpdir=${4:-}
	{
		echo "# written by tests/lib/common.sh: loopback only, for tests and the demo"
		echo "listener $port 127.0.0.1"
		echo "socket_domain ipv4"
		if [ -n "$wsport" ]; then
			echo "listener $wsport 127.0.0.1"
			echo "socket_domain ipv4"
			echo "protocol websockets"
			# mosquitto serves static files on its websockets listener: the
			# dashboard then needs no other web server.
			[ -n "$httpdir" ] && echo "http_dir $httpdir"
		fi
		echo "allow_anonymous true"
		echo "persistence true"
		echo "persistence_location $dir/"
		echo "persistence_file mosquitto.db"
		echo "log_dest file $dir/mosquitto.log"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		echo "connection_messages true"
		# mosquitto started as root drops to user "mosquitto" unless told to stay,
		# and then cannot write its persistence file (and still exits 0).
		[ "$(id -u)" = 0 ] && echo "user root"
		echo "set_tcp_nodelay true"
		echo "max_queued_messages 1000000"
		echo "max_inflight_messages 100"
	} >"$dir/mosquitto.conf"
}

# broker_start DIR [PORT [WSPORT [HTTPDIR]]]: starts mosquitto for DIR in the
# background and returns once its ports accept. Without PORT it reuses DIR/port
# when the directory had a broker before (a restart keeps its port), else picks
# a free one (and retries with another if the port was taken meanwhile).
# WSPORT adds a websockets listener, serving the files of HTTPDIR if given.
broker_start() {
	local dir=$1 port=${2:-} wsport=${3:-} httpdir=${4:-} fixed=1 attempt pid
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -z "$port" ] && [ -s "$dir/port" ]; then
		port=$(cat "$dir/port")
		[ -s "$dir/wsport" ] && wsport=$(cat "$dir/wsport")
		[ -s "$dir/httpdir" ] && httpdir=$(cat "$dir/httpdir")
	fi
	[ -z "$port" ] && fixed=0
	if [ -n "$(broker_pid "$dir")" ] && pid_alive "$(broker_pid "$dir")"; then
		fail "broker in $dir is already running (pid $(broker_pid "$dir"))"
	fi
	for attempt in 1 2 3 4 5; do
		[ "$fixed" = 0 ] && port=$(free_port)
		broker__write_conf "$dir" "$port" "$wsport" "$httpdir"
		echo "$port" >"$dir/port"
		[ -n "$wsport" ] && echo "$wsport" >"$dir/wsport"
		[ -n "$httpdir" ] && echo "$httpdir" >"$dir/httpdir"
		# setsid: the broker must not share the terminal's or ctest's process
		# group, and must not hold their stdio open (ctest would wait for it).
		setsid mosquitto -c "$dir/mosquitto.conf" </dev/null >>"$dir/out" 2>&1 &
		pid=$!
		echo "$pid" >"$dir/mosquitto.pid"
		KDC_PIDS+=("$pid")
		case " ${KDC_BROKER_DIRS[*]} " in *" $dir "*) ;; *) KDC_BROKER_DIRS+=("$dir") ;; esac
		case " ${KDC_LOGS[*]} " in *" $dir/mosquitto.log "*) ;; *) KDC_LOGS+=("$dir/mosquitto.log") ;; esac
		local deadline=$((SECONDS + 10))
		while pid_alive "$pid"; do
			if port_open "$port" && { [ -z "$wsport" ] || port_open "$wsport"; }; then
				if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != mosquitto ]; then
					fail "broker pid $pid is not mosquitto (started under job control?)"
				fi
				return 0
			fi
			[ "$SECONDS" -ge "$deadline" ] && break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
		pid_wait_dead "$pid" 5
		kdc_forget_pid "$pid"
		if [ "$fixed" = 1 ]; then
			tail -n 5 "$dir/out" "$dir/mosquitto.log" >&2 2>/dev/null
			fail "mosquitto did not start on 127.0.0.1:$port (attempt $attempt), see $dir"
		fi
	done
	fail "mosquitto did not start after 5 attempts, see $dir/mosquitto.log"
}

# broker_stop DIR: SIGTERM (mosquitto then saves its persistence file), waits.
broker_stop() {
	local dir=$1 pid
	pid=$(broker_pid "$dir")
	[ -z "$pid" ] && return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		if ! pid_wait_dead "$pid" 10; then
			kill -KILL "$pid" 2>/dev/null
			pid_wait_dead "$pid" 5
		fi
	fi
	kdc_forget_pid "$pid"
	rm -f "$dir/mosquitto.pid"
}

# broker_kill DIR: SIGKILL, as a power cut would: no final persistence save.
broker_kill() {
	local dir=$1 pid
	pid=$(broker_pid "$dir")
	[ -z "$pid" ] && return 0
	kill -KILL "$pid" 2>/dev/null
	pid_wait_dead "$pid" 10
	kdc_forget_pid "$pid"
	rm -f "$dir/mosquitto.pid"
}

# broker_restart DIR [keep|wipe]: stops the broker and starts it again on the
# same port, keeping (default) or deleting its persistence file.
broker_restart() {
	local dir=$1 mode=${2:-keep}
	broker_stop "$dir"
	[ "$mode" = wipe ] && rm -f "$dir/mosquitto.db"
	broker_start "$dir"
}

# ---- aggregator --------------------------------------------------------------
# An aggregator lives in a directory too: agg.pid, agg.log, and its arguments in
# agg.args so that it can be restarted the same way after a SIGKILL.

# agg_start DIR ARGS...: starts kdc-aggregator ARGS in the background.
agg_start() {
	local dir=$1
	shift
	need_program KDC_AGGREGATOR
	mkdir -p "$dir"
	printf '%s\n' "$@" >"$dir/agg.args"
	agg__spawn "$dir"
}

agg__spawn() {
	local dir=$1 pid args=()
	mapfile -t args <"$dir/agg.args"
	echo "--- start $(date -u +%H:%M:%S.%N)" >>"$dir/agg.log"
	"$KDC_AGGREGATOR" "${args[@]}" </dev/null >>"$dir/agg.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/agg.pid"
	KDC_PIDS+=("$pid")
	case " ${KDC_LOGS[*]} " in *" $dir/agg.log "*) ;; *) KDC_LOGS+=("$dir/agg.log") ;; esac
}

agg_pid() { cat "$1/agg.pid" 2>/dev/null; }

# agg_restart DIR: starts it again with the arguments it had.
agg_restart() { agg__spawn "$1"; }

# agg_kill DIR: SIGKILL, no chance to flush or say goodbye.
agg_kill() {
	local dir=$1 pid
	pid=$(agg_pid "$dir")
	[ -z "$pid" ] && return 0
	kill -KILL "$pid" 2>/dev/null
	pid_wait_dead "$pid" 10
	kdc_forget_pid "$pid"
	rm -f "$dir/agg.pid"
}

# agg_stop DIR: SIGTERM, then the contract: exit 0 within 20 s (ASan builds
# report leaks at exit, so this also checks that everything was freed).
agg_stop() {
	local dir=$1 pid st
	pid=$(agg_pid "$dir")
	[ -z "$pid" ] && fail "no aggregator running in $dir"
	pid_alive "$pid" || fail "aggregator (pid $pid) died before it was told to stop; log: $dir/agg.log"
	kill -TERM "$pid"
	if ! pid_wait_dead "$pid" 20; then
		kill -KILL "$pid" 2>/dev/null
		fail "aggregator did not exit within 20 s of SIGTERM"
	fi
	st=$KDC_WAIT_STATUS
	kdc_forget_pid "$pid"
	rm -f "$dir/agg.pid"
	[ "$st" = 0 ] || fail "aggregator exit status after SIGTERM: expected 0, got $st (log: $dir/agg.log)"
	printf 'ok: aggregator exit status after SIGTERM = 0\n'
}

# agg_alive DIR: true while the aggregator runs.
agg_alive() { local p; p=$(agg_pid "$1"); [ -n "$p" ] && pid_alive "$p"; }

# agg_step_until DIR SECONDS CMD [ARGS...]: runs the aggregator of DIR in
# short slices (SIGCONT, a pause, SIGSTOP) and CMD while it is stopped, until
# CMD succeeds; the aggregator is left stopped then (agg_kill it, or
# agg_resume). The aggregator cannot run ahead while CMD looks, however slow
# this shell or the machine is, so a fault aimed at "N events stored" lands at
# N plus what one slice stores, not after the traffic. A slice lasts as long
# as CMD took (20-250 ms), so that a slow machine's checks do not leave the
# aggregator stopped most of the time (its devices would resend meanwhile).
# Fails the test when the aggregator dies, or after SECONDS (resuming it
# first).
agg_step_until() {
	local dir=$1 secs=$2 pid deadline t0 us
	shift 2
	pid=$(agg_pid "$dir")
	deadline=$((SECONDS + secs))
	while :; do
		{ pid_alive "$pid" && kill -STOP "$pid" 2>/dev/null; } ||
			fail "aggregator (pid ${pid:-none}) died by itself; log: $dir/agg.log"
		t0=${EPOCHREALTIME/./}
		"$@" && return 0
		us=$((${EPOCHREALTIME/./} - t0))
		kill -CONT "$pid" 2>/dev/null
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${secs}s stepping the aggregator until: $*"
		[ "$us" -lt 20000 ] && us=20000
		[ "$us" -gt 250000 ] && us=250000
		sleep "0.$(printf '%06d' "$us")"
	done
}

# agg_resume DIR: lets an aggregator stopped by agg_step_until run again.
agg_resume() { local p; p=$(agg_pid "$1"); [ -n "$p" ] && kill -CONT "$p" 2>/dev/null; return 0; }

# sql_count_now DB TABLE: like sql_count, but gives up after 0.5 s on a
# locked database (prints nothing, fails): for polls, which must not hang on
# a writer that agg_step_until has stopped.
sql_count_now() {
	sqlite3 -batch -noheader -cmd '.timeout 500' "$1" "select count(*) from $2;" 2>/dev/null
}

# agg_wait_online BROKERDIR WARD SECONDS: waits for the retained status
# message to say "online". SECONDS is a bound, never less than 60: an
# aggregator under valgrind or ASan on a busy machine can take that long.
agg_wait_online() {
	local bdir=$1 ward=$2 secs=${3:-60} deadline msg
	[ "$secs" -ge 60 ] || secs=60
	deadline=$((SECONDS + secs))
	while :; do
		msg=$(mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$bdir")" -q 1 \
			-t "kdc/v1/$ward/status/aggregator" -C 1 -W 1 2>/dev/null) || msg=""
		case "$msg" in *'"online"'*) return 0 ;; esac
		[ "$SECONDS" -ge "$deadline" ] && fail "aggregator of ward $ward not online after ${secs}s (status: '${msg:-none}')"
		sleep 0.2
	done
}

# ---- devices -----------------------------------------------------------------

# dev_config FILE BROKERDIR WARD TEAM DEVICE [KEY=VALUE...]: writes a device
# config whose outbox sits beside it (FILE with .db instead of .conf).
dev_config() {
	local file=$1 bdir=$2 ward=$3 team=$4 device=$5 kv
	shift 5
	{
		echo "# device $device of team $team, ward $ward"
		echo "broker = $(broker_url "$bdir")"
		echo "client-id = kdc-dev-$ward-$device"
		echo "ward = $ward"
		echo "team = $team"
		echo "device = $device"
		echo "outbox = ${file%.conf}.db"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$file"
	chmod 600 "$file"
}

dev_outbox() { sed -n 's/^outbox = //p' "$1"; }

# dev_event CONF ARGS...: kdc-event --config CONF ARGS; fails the test unless
# it exits 0 and prints a UUID, which it leaves in EVENT_ID. (Not meant for
# $(...): a failure must end the test, not a subshell.)
EVENT_ID=
dev_event() {
	local conf=$1 st
	shift
	need_program KDC_EVENT
	EVENT_ID=$("$KDC_EVENT" --config "$conf" "$@" 2>>"${conf%.conf}.err")
	st=$?
	[ "$st" = 0 ] || fail "kdc-event $* exited $st, expected 0: $(tail -n 3 "${conf%.conf}.err")"
	[[ "$EVENT_ID" =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]] ||
		fail "kdc-event $* printed '$EVENT_ID', expected one event id (UUID text)"
}

# dev_sync CONF TIMEOUT: kdc-event sync, must exit 0 (nothing pending).
dev_sync() {
	local conf=$1 st
	"$KDC_EVENT" --config "$conf" sync --timeout "$2" >>"${conf%.conf}.sync.log" 2>&1
	st=$?
	[ "$st" = 0 ] || fail "kdc-event sync for $conf exited $st, expected 0: $(tail -n 3 "${conf%.conf}.sync.log")"
}

# fill_outbox CONF N IDSFILE: records N events of all four kinds, one
# kdc-event call each, and appends their ids to IDSFILE. Run it in the
# background to fill several devices at once; it exits non-zero on the first
# failure.
fill_outbox() {
	local conf=$1 n=$2 ids=$3 i k h
	for ((i = 1; i <= n; i++)); do
		k=$((i % 9 + 1))
		h=H$((i % 400))
		case $((i % 4)) in
		0) dev_event "$conf" visit --khom "$k" --household "$h" --outcome surveyed \
			--members 4 --members-15plus 3 --smartphones 2 --needs install_app ;;
		1) dev_event "$conf" account --khom "$k" --household "$h" --member 1 --kind payment ;;
		2) dev_event "$conf" payment --khom "$k" --household "$h" --member 1 \
			--purpose electricity --method qr_code --amount $((i * 1000)) ;;
		3) dev_event "$conf" service --khom "$k" --household "$h" --member 2 --kind medical_booking ;;
		esac
		echo "$EVENT_ID" >>"$ids"
	done
}

# fill_outbox_bulk CONF N IDSFILE: records N synthetic events of all kinds in
# one call (kdc-event bulk) into a fresh outbox and writes their ids (hex) to
# IDSFILE.
fill_outbox_bulk() {
	local conf=$1 n=$2 ids=$3 out st
	need_program KDC_EVENT
	out=$("$KDC_EVENT" --config "$conf" bulk --count "$n" --khom 6 --households 400 --days 20 2>&1)
	st=$?
	[ "$st" = 0 ] || fail "kdc-event bulk --count $n exited $st: $out"
	sql "$(dev_outbox "$conf")" 'select lower(hex(id)) from outbox where state = 0;' >"$ids"
	[ "$(wc -l <"$ids")" = "$n" ] || fail "kdc-event bulk --count $n left $(wc -l <"$ids") pending rows, expected $n"
}

# dev_outbox_count CONF [WHERE]: rows in the device's outbox.
dev_outbox_count() {
	sql "$(dev_outbox "$1")" "select count(*) from outbox ${2:+where $2};"
}

# ---- SQLite ------------------------------------------------------------------

# sql DB QUERY: one query, plain output, waiting up to 10 s for a busy database.
sql() {
	sqlite3 -batch -noheader -cmd '.timeout 10000' "$1" "$2"
}

sql_count() { sql "$1" "select count(*) from $2 ${3:+where $3};"; }

# stats_equal_rebuild DB PROFILE WHAT: the statistics tables (st_*) of DB as
# they are equal what `kdc-aggregator rebuild` makes of them; fails naming WHAT
# ("after a void") with the first lines of the difference. The aggregator must
# not be running on DB.
stats__dump() {
	local t
	for t in $(sql "$1" "select name from sqlite_master where type = 'table' and name like 'st\\_%' escape '\\' order by name;"); do
		echo "== $t"
		sql "$1" "select * from $t order by 1, 2;"
	done
}
stats_equal_rebuild() {
	local db=$1 profile=$2 what=$3
	stats__dump "$db" >"$WORK/stats_live.txt"
	[ -s "$WORK/stats_live.txt" ] || fail "no statistics tables found in $db"
	"$KDC_AGGREGATOR" rebuild --db "$db" --profile "$profile" 2>"$WORK/rebuild.err" ||
		fail "rebuild failed: $(cat "$WORK/rebuild.err")"
	stats__dump "$db" >"$WORK/stats_rebuilt.txt"
	diff -u "$WORK/stats_live.txt" "$WORK/stats_rebuilt.txt" >"$WORK/stats.diff" ||
		fail "statistics $what differ from a rebuild: $(head -n 20 "$WORK/stats.diff")"
	printf 'ok: statistics %s equal a rebuild (%s lines compared)\n' "$what" "$(wc -l <"$WORK/stats_live.txt")"
}

# uuid_hex UUID: the 32 lowercase hex digits of a UUID text (as lower(hex(id))).
uuid_hex() { printf '%s' "$1" | tr -d '-' | tr 'A-F' 'a-f'; }

# ---- protobuf and raw payloads ---------------------------------------------------
# protoc (Debian's protobuf-compiler) encodes and decodes independently of the
# project's own code, so what a test sends or reads is not judged by the code
# under test.

pb_encode() { protoc -I "$KDC_SOURCE_DIR/proto" --encode="$1" "kdc/v1/$2.proto"; }
pb_decode() { protoc -I "$KDC_SOURCE_DIR/proto" --decode="$1" "kdc/v1/$2.proto"; }

# hex_escape HEX: "\x01\x9a..." for protobuf text format.
hex_escape() { printf '%s' "$1" | sed 's/../\\x&/g'; }

# pb_bytes_text HEX: how protoc --decode prints these bytes (a quoted C string),
# to look for an id in a decoded receipt.
pb_bytes_text() {
	printf 'id: "%s"\n' "$(hex_escape "$1")" | pb_encode kdc.v1.Rejection receipt |
		pb_decode kdc.v1.Rejection receipt | sed -n 's/^id: //p'
}

# hex_to_file HEX FILE: writes the bytes.
hex_to_file() {
	# shellcheck disable=SC2059 # the format is the data on purpose
	printf "$(hex_escape "$1")" >"$2"
}

# uuid7_hex: a fresh UUIDv7 (hex) made here, for events built with protoc.
uuid7_hex() {
	local ms rnd
	ms=$(($(date +%s%N) / 1000000))
	rnd=$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')
	printf '%012x7%s%x%s' "$ms" "${rnd:0:3}" $((0x${rnd:3:1} & 0x3 | 0x8)) "${rnd:4:15}"
}

# mq_sub_prepare BROKERDIR CLIENTID TOPIC: creates a persistent QoS 1
# subscription, so that messages published from now on wait for mq_sub_collect.
mq_sub_prepare() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$1")" -i "$2" -c -q 1 -t "$3" -E ||
		fail "cannot subscribe $2 to $3"
}

# mq_sub_collect BROKERDIR CLIENTID TOPIC COUNT SECONDS: prints up to COUNT
# queued or arriving messages, one hex line each.
mq_sub_collect() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$1")" -i "$2" -c -q 1 -t "$3" \
		-C "$4" -W "$5" -F '%x' 2>/dev/null
	return 0
}

# mq_worklist BROKERDIR WARD TEAM [SECONDS]: the team's retained worklist
# (kdc.v1.Worklist) as protoc text; nothing when none comes within SECONDS
# (default 2).
mq_worklist() {
	local hex
	hex=$(mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$1")" -q 1 -t "kdc/v1/$2/worklist/$3" \
		-C 1 -W "${4:-2}" -F '%x' 2>/dev/null) || return 0
	[ -n "$hex" ] || return 0
	printf '%s' "$hex" | xxd -r -p | pb_decode kdc.v1.Worklist worklist
}

# mq_pub_file BROKERDIR TOPIC FILE: publishes the file's bytes at QoS 1.
mq_pub_file() {
	mosquitto_pub -h 127.0.0.1 -p "$(broker_port "$1")" -q 1 -t "$2" -f "$3" ||
		fail "mosquitto_pub of $3 to $2 failed"
}

# ---- per-test setup and cleanup ------------------------------------------------

# kdc_test_init NAME [DEADLINE]: a fresh work directory ($WORK) and the
# cleanup trap. With DEADLINE (seconds), a watchdog fails the test when it runs
# longer, so that its processes are stopped and their logs shown before ctest's
# own timeout would kill the script without either.
kdc_test_init() {
	WORK=${KDC_TEST_WORK:-${TMPDIR:-/tmp}/kdc-test}/$1
	rm -rf "$WORK"
	mkdir -p "$WORK"
	trap 'kdc_cleanup $?' EXIT
	trap 'exit 130' INT
	trap 'kdc__on_term' TERM
	kdc_say "test $1: work directory $WORK"
	if [ -n "${2:-}" ]; then
		# KDC_DEADLINE_SCALE: a slower build (valgrind) gets that many times the time
		kdc__watchdog $(($2 * ${KDC_DEADLINE_SCALE:-1})) "$$" &
		KDC_WATCHDOG=$!
	fi
}

kdc__on_term() {
	if [ -n "${KDC_WATCHDOG:-}" ] && ! pid_alive "$KDC_WATCHDOG"; then
		printf 'FAIL: the test ran past its deadline\n' >&2
	fi
	exit 143
}

# kdc__watchdog SECONDS PID: after SECONDS, SIGTERM to the test shell PID and
# to the processes it is waiting for in the foreground (its children).
kdc__watchdog() {
	local i c
	for ((i = 0; i < $1; i++)); do
		sleep 1
		pid_alive "$2" || exit 0
	done
	printf 'FAIL: test still running after its %s s deadline; stopping it\n' "$1" >&2
	kill -TERM "$2" 2>/dev/null
	for c in $(ps -o pid= --ppid "$2" 2>/dev/null); do
		[ "$c" != "$BASHPID" ] && kill -TERM "$c" 2>/dev/null
	done
	exit 0
}

# kdc_cleanup STATUS: stops every process started here, by PID; on failure
# shows the end of each log.
kdc_cleanup() {
	local st=${1:-0} pid log
	if [ -n "${KDC_WATCHDOG:-}" ]; then
		kill -TERM "$KDC_WATCHDOG" 2>/dev/null
		KDC_WATCHDOG=
	fi
	for pid in "${KDC_PIDS[@]}"; do
		# CONT: a process stopped by agg_step_until acts on TERM only then
		[ -n "$pid" ] && pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null
	done
	for pid in "${KDC_PIDS[@]}"; do
		[ -n "$pid" ] || continue
		pid_wait_dead "$pid" 5 || { kill -KILL "$pid" 2>/dev/null; pid_wait_dead "$pid" 5; }
	done
	KDC_PIDS=()
	if [ "$st" != 0 ]; then
		for log in "${KDC_LOGS[@]}"; do
			[ -s "$log" ] || continue
			echo "---- last lines of $log" >&2
			tail -n 25 "$log" >&2
		done
	fi
	return "$st"
}
