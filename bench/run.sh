#!/usr/bin/env bash
# bench/run.sh: the kdc benchmarks, one command, one table.
#
#   bash bench/run.sh [--quick | --smoke] [--reps N] [--only 1,2,...]
#                     [--build-dir DIR] [--keep] [--agg-args "ARGS"]
#
# Installs the packages if needed (as root; scripts/install-deps.sh), builds
# the programs (Release) if needed, prints the machine and versions,
# starts its own mosquitto on free 127.0.0.1 ports and runs each figure N
# times (default 5), then prints median / min / max per row. What each figure
# means is in bench/README.md. --quick uses smaller sizes, --smoke tiny ones
# and one repetition (a few seconds, for ctest: it proves the harness works,
# its figures mean nothing). A figure whose program is not built yet prints
# "skipped: ... not built" instead of failing. --agg-args adds options to
# every kdc-aggregator run (e.g. "--batch-max 4000"), to try a setting.
#
# Every process is started by this script, remembered by PID and stopped by
# PID on exit (other people may run their own mosquitto on this machine).
# Nothing here asserts a time: the numbers are reported, and the aggregator's
# figures are divided by a baseline measured in the same run. Both sides of a
# ratio are timed the same way: from a timestamp this script takes right
# before it starts the process to the last message (bare subscriber) or the
# last receipt (kdc-aggregator), so process start, connect and (for the
# aggregator) opening the database count on both sides.
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${KDC_BENCH_BUILD_DIR:-$SRC/build-bench}
MODE=full
REPS=
ONLY=
KEEP=0
AGG_ARGS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--reps) REPS=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--build-dir) BUILD=$2; shift ;;
	--keep) KEEP=1 ;;
	--agg-args) AGG_ARGS=$2; shift ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

# ---- what it needs -------------------------------------------------------------
# On a fresh machine the one command installs the packages too (as test.sh
# and demo.sh do); quiet and quick when they are there. The ctest smoke run
# sets KDC_BENCH_NO_INSTALL: the test command has installed them already.
if [ -z "${KDC_BENCH_NO_INSTALL:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		bash "$SRC/scripts/install-deps.sh" || { echo "run.sh: installing the dependencies failed" >&2; exit 1; }
	else
		for tool in cmake gcc mosquitto sqlite3 protoc-c; do
			command -v "$tool" >/dev/null 2>&1 || {
				echo "run.sh: $tool is missing: run 'sudo bash scripts/install-deps.sh' first (or this script as root)" >&2
				exit 1
			}
		done
	fi
fi

# ---- sizes -------------------------------------------------------------------
WARD=31975
case $MODE in
full)
	M=200000          # (1)(2) backlog
	RSS_A=100000; RSS_B=1000000   # (4)
	LAT_N=(1000 5000) LAT_SECS=10 # (3) rates and seconds per run
	DEV_N=100000      # (6)
	ING_SMALL=10000; ING_M=100000 # (7): the big history is (4)'s database
	: "${REPS:=5}" ;;
quick)
	M=20000
	RSS_A=10000; RSS_B=100000
	LAT_N=(1000 5000) LAT_SECS=4
	DEV_N=20000
	ING_SMALL=10000; ING_M=20000
	: "${REPS:=5}" ;;
smoke)
	M=2000
	RSS_A=1000; RSS_B=4000
	LAT_N=(200) LAT_SECS=2
	DEV_N=1000
	ING_SMALL=500; ING_M=1000
	: "${REPS:=1}" ;;
esac
case $REPS in ''|*[!0-9]*|0) echo "run.sh: --reps must be a positive number" >&2; exit 2 ;; esac

WORK=$BUILD/bench-work
rm -rf "$WORK"
mkdir -p "$WORK/values"
LOG=$WORK/run.log
: >"$LOG"

# ---- processes -----------------------------------------------------------------
PIDS=()

pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
# Leaves the exit status in STOP_STATUS (when it was our child).
STOP_STATUS=
stop_pid() {
	local pid=$1 secs=${2:-10} end i st
	STOP_STATUS=
	[ -z "$pid" ] && return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		end=$((SECONDS + secs))
		while pid_alive "$pid" && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
		if pid_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null
			STOP_STATUS=killed
		fi
	fi
	wait "$pid" 2>/dev/null
	st=$?
	[ -z "$STOP_STATUS" ] && STOP_STATUS=$st
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$pid" ] && unset 'PIDS[i]'; done
	return 0
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		pid_alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	[ "$KEEP" = 1 ] || rm -rf "$WORK"/broker* "$WORK"/fig*
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

say() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }
section() { say "== [${SECONDS}s] $*"; }
now_ms() { date +%s%3N; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- build -----------------------------------------------------------------------
section "building (Release) in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >>"$LOG" 2>&1 ||
		{ echo "run.sh: cmake configure failed, see $LOG" >&2; exit 1; }
fi
BASE_SUB=$BUILD/bench/baseline_sub
LOADGEN=$BUILD/bench/loadgen
LATENCY=$BUILD/bench/latency
FREEPORT=$BUILD/tests/kdc-freeport
AGG=$BUILD/aggregator/kdc-aggregator
EVENT=$BUILD/producers/kdc-event
REPORT=$BUILD/report/kdc-report
for t in baseline_sub loadgen; do
	cmake --build "$BUILD" -j2 --target "$t" >>"$LOG" 2>&1 ||
		{ echo "run.sh: cannot build $t, see $LOG" >&2; exit 1; }
done
# Programs owned by other parts: built when their targets exist; a figure that
# needs a missing one is skipped.
for t in kdc-freeport kdc-aggregator kdc-event latency kdc-report; do
	cmake --build "$BUILD" -j2 --target "$t" >>"$LOG" 2>&1 || say "   ($t not built: target missing or does not compile)"
done
have() { [ -x "$1" ]; }

# ---- machine and versions --------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
MACHINE="machine: $(nproc) cores, ${CPU:-unknown CPU}, $MEM RAM, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
VERSIONS="versions: mosquitto $(mosquitto -h 2>/dev/null | head -n 1 | sed "s/^mosquitto version //"), Paho C $(pkgver libpaho-mqtt1.3), SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1), protobuf-c $(pkgver libprotobuf-c1), $(gcc --version | head -n 1)"
say "$MACHINE"
say "$VERSIONS"
say "mode: $MODE, $REPS repetition(s) per figure${AGG_ARGS:+, kdc-aggregator $AGG_ARGS}; broker: mosquitto, persistence off, set_tcp_nodelay true, max_queued_messages 2000000, max_inflight_messages 100"

# ---- broker ----------------------------------------------------------------------
free_port() {
	local p
	if have "$FREEPORT"; then "$FREEPORT"; return; fi
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_open "$p" || { echo "$p"; return; }
	done
}

BROKER_PID=
BROKER_URL=
BROKER_PORT=
# broker_start: a fresh broker (nothing queued, no sessions) in WORK/broker.
# Persistence is off on purpose: the benchmark measures the message path, and
# a periodic save of 200,000 queued messages would land in random runs.
broker_start() {
	local dir=$WORK/broker end
	rm -rf "$dir"
	mkdir -p "$dir"
	for _ in 1 2 3 4 5; do
		BROKER_PORT=$(free_port)
		{
			echo "listener $BROKER_PORT 127.0.0.1"
			echo "socket_domain ipv4"
			echo "allow_anonymous true"
			echo "persistence false"
			echo "set_tcp_nodelay true"
			echo "max_queued_messages 2000000"
			echo "max_queued_bytes 0"
			echo "max_inflight_messages 100"
			echo "log_dest file $dir/mosquitto.log"
			echo "log_type error"
			echo "log_type warning"
			[ "$(id -u)" = 0 ] && echo "user root"
		} >"$dir/mosquitto.conf"
		setsid mosquitto -c "$dir/mosquitto.conf" </dev/null >>"$dir/out" 2>&1 &
		BROKER_PID=$!
		PIDS+=("$BROKER_PID")
		end=$((SECONDS + 10))
		while pid_alive "$BROKER_PID" && [ "$SECONDS" -lt "$end" ]; do
			if port_open "$BROKER_PORT"; then
				BROKER_URL=tcp://127.0.0.1:$BROKER_PORT
				return 0
			fi
			sleep 0.05
		done
		stop_pid "$BROKER_PID" 2
	done
	echo "run.sh: mosquitto did not start, see $dir" >&2
	exit 1
}

broker_stop() { stop_pid "$BROKER_PID" 5; BROKER_PID=; }

# ---- aggregator --------------------------------------------------------------------
AGG_PID=
AGG_EXTRA= # options of one figure's aggregator (e.g. its --profile)
# agg_start DB LOG [CLIENT_ID]: kdc-aggregator on the current broker.
agg_start() {
	# shellcheck disable=SC2086 # AGG_ARGS is a list of options
	"$AGG" --broker "$BROKER_URL" --ward "$WARD" --db "$1" --client-id "${3:-kdc-agg-bench}" \
		--mqtt-version 3.1.1 --log-level warning $AGG_ARGS $AGG_EXTRA </dev/null >>"$2" 2>&1 &
	AGG_PID=$!
	PIDS+=("$AGG_PID")
}

# agg_stop: SIGTERM, which must flush and exit 0 (noted in the log if not).
agg_stop() {
	stop_pid "$AGG_PID" 30
	[ "$STOP_STATUS" = 0 ] || say "   note: kdc-aggregator exit status after SIGTERM: $STOP_STATUS"
	AGG_PID=
}

# agg_wait_online SECONDS: the retained status says "online".
agg_wait_online() {
	local end=$((SECONDS + $1)) msg
	while [ "$SECONDS" -lt "$end" ]; do
		pid_alive "$AGG_PID" || return 1
		msg=$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -V mqttv311 \
			-t "kdc/v1/$WARD/status/aggregator" -C 1 -W 1 2>/dev/null) || msg=
		case $msg in *'"online"'*) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

# agg_make_session DB LOG: runs the aggregator once so that the broker holds
# its persistent session (and queues a backlog for it), then stops it.
agg_make_session() {
	agg_start "$1" "$2"
	if ! agg_wait_online 20; then
		say "   kdc-aggregator did not come online (log: $2)"
		agg_stop
		return 1
	fi
	agg_stop
}

# cpu_ms PID: user+system CPU time of a process so far, in ms.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ms() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk -v hz="$CLK_TCK" '{ printf "%.0f", ($12 + $13) * 1000 / hz }'
}
# per_k MS N: milliseconds per 1000 events.
per_k() { awk -v ms="$1" -v n="$2" 'BEGIN { printf "%.1f", ms * 1000 / n }'; }

events_in() { sqlite3 "$1" 'select count(*) from events;' 2>/dev/null || echo "?"; }
vm_kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }

# ---- load and counting -----------------------------------------------------------------
# loadgen_run COUNT [ARGS...]: publishes COUNT events and waits for every PUBACK.
LOAD_RATE=
loadgen_run() {
	local n=$1 out
	shift
	out=$("$LOADGEN" --broker "$BROKER_URL" --ward "$WARD" --count "$n" --quiet "$@" 2>>"$LOG")
	local rc=$?
	echo "   loadgen: $out" >>"$LOG"
	LOAD_RATE=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$out")
	return $rc
}

# counter_start OUT COUNT TIMEOUT: a receipt counter (distinct committed ids
# on kdc/v1/WARD/receipts/#), subscribed before this returns.
COUNTER_PID=
counter_start() {
	local out=$1 ready=$1.ready end
	rm -f "$ready"
	"$BASE_SUB" --broker "$BROKER_URL" --topic "kdc/v1/$WARD/receipts/#" --client-id "bench-rc-$RANDOM" \
		--clean --receipts --count "$2" --timeout "$3" --ready-file "$ready" --quiet \
		>"$out" 2>>"$LOG" &
	COUNTER_PID=$!
	PIDS+=("$COUNTER_PID")
	end=$((SECONDS + 10))
	while [ ! -e "$ready" ]; do
		pid_alive "$COUNTER_PID" || return 1
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.02
	done
}

# counter_wait: waits for the counter to finish (it has its own timeout).
counter_wait() {
	wait "$COUNTER_PID" 2>/dev/null
	local rc=$?
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$COUNTER_PID" ] && unset 'PIDS[i]'; done
	return $rc
}

kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | head -n 1; }
drain_timeout() { local t=$(($1 / 2000 + 60)); echo "$t"; }

# ---- recording and the table -------------------------------------------------------------
record() { echo "$2" >>"$WORK/values/$1"; echo "   $1 = $2" >>"$LOG"; }

ROWS=()
# row KEY LABEL UNIT DECIMALS
row() {
	local key=$1 f=$WORK/values/$1 line
	if [ ! -s "$f" ]; then
		line=$(printf '%-68s %-7s %10s %10s %10s  %s' "$2" "$3" - - - "0 runs")
	else
		line=$(sort -g "$f" | awk -v d="$4" -v label="$2" -v unit="$3" '
			{ v[NR] = $1 }
			END {
				med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				fmt = "%-68s %-7s %10." d "f %10." d "f %10." d "f  %d run" (NR > 1 ? "s" : "")
				printf fmt, label, unit, med, v[1], v[NR], NR
			}')
	fi
	ROWS+=("$line")
}
note() { ROWS+=("$(printf '%s' "$*")"); }
median_of() { [ -s "$WORK/values/$1" ] && sort -g "$WORK/values/$1" | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# ---- (1) + (2): backlog drained by the bare subscriber, then by the aggregator ------------
# Paired per repetition, so that each aggregator run has a baseline from the
# same minute (timings drift 20-30% over an hour on shared machines); the
# order alternates (odd repetitions baseline first, even ones aggregator
# first) so that neither side always runs second.
#
# Both drains are timed alike: t0 is taken right before the process is
# started, the end is the wall-clock time (stamped by baseline_sub, which
# prints UTC milliseconds) of the N-th message (bare subscriber) or of the
# receipt naming the N-th distinct id (aggregator); rate = N / (end - t0).
# The loads are alike too: N events from 4 devices with a fresh device prefix.

# rate_from N T0 END: N events over END - T0 milliseconds, in events / s.
rate_from() { awk -v n="$1" -v ms="$(($3 - $2))" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }'; }

# base_drain N: fresh broker, persistent session for the bare subscriber, a
# backlog of N events, then the timed drain. Sets BASE_RATE and BASE_CPU;
# records pub_rate, base_cpu, base_bcpu (and the first -> last rate in
# base_rate_first_last, for the log only).
BASE_RATE=
BASE_CPU=
base_drain() {
	local n=$1 out=$WORK/fig1.out t0 first last
	BASE_RATE=
	BASE_CPU=
	broker_start
	"$BASE_SUB" --broker "$BROKER_URL" --topic "kdc/v1/$WARD/events/+/+" --client-id bench-base \
		--session-only 2>>"$LOG" || { say "   baseline_sub could not make its session"; broker_stop; return 1; }
	if ! loadgen_run "$n" --devices 4 --device-prefix "B$RANDOM"; then
		say "   loadgen did not get every PUBACK"
		broker_stop
		return 1
	fi
	record pub_rate "$LOAD_RATE"
	bcpu=$(cpu_ms "$BROKER_PID")
	t0=$(now_ms)
	"$BASE_SUB" --broker "$BROKER_URL" --topic "kdc/v1/$WARD/events/+/+" --client-id bench-base \
		--count "$n" --timeout "$(drain_timeout "$n")" --quiet >"$out" 2>>"$LOG"
	bcpu=$(($(cpu_ms "$BROKER_PID") - bcpu))
	cat "$out" >>"$LOG"
	broker_stop
	[ "$(kv "done" "$out")" = 1 ] || { say "   baseline drain incomplete: $(cat "$out")"; return 1; }
	first=$(kv first_ms "$out")
	last=$(kv last_ms "$out")
	echo "   bare subscriber: first message $((first - t0)) ms after launch, last $((last - t0)) ms" >>"$LOG"
	record base_rate_first_last "$(kv rate "$out")"
	BASE_RATE=$(rate_from "$n" "$t0" "$last")
	BASE_CPU=$(per_k "$(kv cpu_ms "$out")" "$n")
	record base_rate "$BASE_RATE"
	record base_cpu "$BASE_CPU"
	record base_bcpu "$(per_k "$bcpu" "$n")"
}

# agg_drain DB N KEY: fresh broker, the aggregator's session, a backlog of N
# events, then the aggregator started on DB (which may already hold events)
# and timed from its start until N distinct ids are receipted. Checks that
# the events table grew by N. Sets AGG_RATE and AGG_CPU; records KEY,
# KEY_cpu, KEY_bcpu (and KEY_counter_cpu, the receipt counter's own CPU,
# which shares the machine with the aggregator during the drain).
AGG_RATE=
AGG_CPU=
LOAD_EXTRA= # options of one figure's loadgen (e.g. its --households)
agg_drain() {
	local db=$1 n=$2 key=$3 out=$WORK/fig2.out alog=$WORK/fig2.agg.log before after t0 first last
	AGG_RATE=
	AGG_CPU=
	broker_start
	before=0
	[ -s "$db" ] && before=$(events_in "$db")
	agg_make_session "$db" "$alog" || { broker_stop; return 1; }
	# shellcheck disable=SC2086 # LOAD_EXTRA is a list of options
	if ! loadgen_run "$n" --devices 4 --device-prefix "B$RANDOM" $LOAD_EXTRA; then
		say "   loadgen did not get every PUBACK"
		broker_stop
		return 1
	fi
	counter_start "$out" "$n" "$(drain_timeout "$n")" || { say "   receipt counter did not start"; broker_stop; return 1; }
	bcpu=$(cpu_ms "$BROKER_PID")
	t0=$(now_ms)
	agg_start "$db" "$alog"
	counter_wait
	acpu=$(cpu_ms "$AGG_PID")
	bcpu=$(($(cpu_ms "$BROKER_PID") - bcpu))
	agg_stop
	broker_stop
	cat "$out" >>"$LOG"
	if [ "$(kv "done" "$out")" != 1 ]; then
		say "   aggregator drain incomplete: $(cat "$out") (log: $alog)"
		return 1
	fi
	after=$(events_in "$db")
	if [ "$after" != "$((before + n))" ]; then
		say "   events table holds $after rows, expected $((before + n))"
		return 1
	fi
	first=$(kv first_ms "$out")
	last=$(kv last_ms "$out")
	echo "   kdc-aggregator: first receipt $((first - t0)) ms after launch, last $((last - t0)) ms" >>"$LOG"
	record "${key}_counter_cpu" "$(per_k "$(kv cpu_ms "$out")" "$n")"
	AGG_RATE=$(rate_from "$n" "$t0" "$last")
	AGG_CPU=$(per_k "$acpu" "$n")
	record "$key" "$AGG_RATE"
	record "${key}_cpu" "$AGG_CPU"
	record "${key}_bcpu" "$(per_k "$bcpu" "$n")"
}

# (2r): the (2) drain into a ward with a profile and a register of 10,000
# households (khóm 6, written with sqlite3 before the aggregator starts),
# every event for one of them, so each is checked against the register and
# the khóm's household list (10,000 rows) is recomputed while it drains.
reg_ward() { # DB INI: the profile and a database holding the register
	printf '[ward]\ncode = %s\n[khom 6]\nhouseholds = 10000\npeople_15plus = 30000\n[team T1]\nkhoms = 6\n' \
		"$WARD" >"$2"
	"$AGG" rebuild --db "$1" --profile "$2" >>"$LOG" 2>&1 &&
		sqlite3 "$1" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
			INSERT INTO register(khom, household, people_15plus, source, added_by, added_ms)
			SELECT '6', printf('H%05d', i), 3, 'import', 'bench', 0 FROM n;
			INSERT INTO register_log(at_ms, by, action, detail) VALUES (0, 'bench', 'import', '10000');" >>"$LOG" 2>&1
}
if want 1 || want 2 || want 2r; then
	section "(1)(2)(2r) backlog of $M events: bare subscriber and kdc-aggregator (without, then with a register), order alternating"
	run_base() {
		base_drain "$M"
		say "   rep $r: bare subscriber ${BASE_RATE:-failed} ev/s from launch (publisher ${LOAD_RATE:-?} ev/s)"
	}
	run_agg() {
		AGG_RATE=
		AGG_CPU=
		want 2 && have "$AGG" || return 0
		rm -f "$WORK"/fig2.db*
		agg_drain "$WORK/fig2.db" "$M" agg_rate
		say "   rep $r: kdc-aggregator ${AGG_RATE:-failed} ev/s from launch"
	}
	REG_RATE=
	run_agg_reg() {
		REG_RATE=
		want 2r && have "$AGG" || return 0
		local rate=$AGG_RATE cpu=$AGG_CPU rejected # (2)'s, kept for its ratios
		rm -f "$WORK"/fig2r.db*
		reg_ward "$WORK/fig2r.db" "$WORK/fig2r.ini" || { say "   rep $r: could not write the register"; return 0; }
		AGG_EXTRA="--profile $WORK/fig2r.ini"
		LOAD_EXTRA="--households 10000"
		agg_drain "$WORK/fig2r.db" "$M" agg_reg_rate
		AGG_EXTRA=
		LOAD_EXTRA=
		REG_RATE=$AGG_RATE
		AGG_RATE=$rate
		AGG_CPU=$cpu
		rejected=$(sqlite3 "$WORK/fig2r.db" 'select count(*) from rejected;' 2>/dev/null)
		[ "$rejected" = 0 ] || say "   rep $r: $rejected events rejected against the register (expected 0)"
		say "   rep $r: kdc-aggregator with a 10000-household register ${REG_RATE:-failed} ev/s from launch"
	}
	for r in $(seq 1 "$REPS"); do
		# the order alternates: odd repetitions baseline first, even ones last
		if [ $((r % 2)) = 1 ]; then
			run_base; run_agg; run_agg_reg
		else
			run_agg_reg; run_agg; run_base
		fi
		if [ -n "$AGG_RATE" ] && [ -n "$REG_RATE" ]; then
			record reg_ratio "$(awk -v a="$REG_RATE" -v b="$AGG_RATE" 'BEGIN { printf "%.3f", a / b }')"
		fi
		if [ -n "$AGG_RATE" ] && [ -n "$BASE_RATE" ]; then
			record agg_ratio "$(awk -v a="$AGG_RATE" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
			record cpu_ratio "$(awk -v a="$AGG_CPU" -v b="$BASE_CPU" 'BEGIN { printf "%.2f", a / b }')"
		fi
	done
	row pub_rate "(0) loadgen publisher -> broker, QoS 1, window 100" "ev/s" 0
	row base_rate "(1) broker ceiling: backlog drained by bare subscriber" "ev/s" 0
	row base_cpu "(1) CPU of the bare subscriber per 1000 events" "ms" 1
	row base_bcpu "(1) CPU of mosquitto per 1000 events, bare drain" "ms" 1
	if want 2; then
		if have "$AGG"; then
			row agg_rate "(2) backlog drained by kdc-aggregator (stored+receipted)" "ev/s" 0
			row agg_ratio "(2)/(1) ratio per repetition (goal >= 0.8 (brief), issue asks 0.9)" "ratio" 2
			row agg_rate_cpu "(2) CPU of kdc-aggregator per 1000 events (all threads)" "ms" 1
			row agg_rate_bcpu "(2) CPU of mosquitto per 1000 events, aggregator drain" "ms" 1
			row cpu_ratio "(2)/(1) CPU per event, aggregator / bare subscriber" "ratio" 2
			row agg_rate_counter_cpu "(2) CPU of the harness's receipt counter per 1000 events" "ms" 1
		else
			note "(2) kdc-aggregator drain: skipped: kdc-aggregator not built"
		fi
	fi
	if want 2r && have "$AGG"; then
		row agg_reg_rate "(2r) backlog drained, ward with a 10000-household register" "ev/s" 0
		row reg_ratio "(2r)/(2) ratio per repetition (goal >= 0.9: within 10%)" "ratio" 2
		row agg_reg_rate_cpu "(2r) CPU of kdc-aggregator per 1000 events, register" "ms" 1
	fi
fi

# ---- (3) end-to-end latency -----------------------------------------------------------------
if want 3; then
	if ! have "$AGG" || ! have "$LATENCY"; then
		note "(3) latency outbox -> receipt: skipped: $(have "$AGG" || echo "kdc-aggregator ")$(have "$LATENCY" || echo "bench/latency (needs the producer library) ")not built"
	else
		for rate in "${LAT_N[@]}"; do
			section "(3) latency at $rate events/s"
			for r in $(seq 1 "$REPS"); do
				broker_start
				rm -rf "$WORK"/fig3*
				mkdir -p "$WORK/fig3"
				agg_start "$WORK/fig3.db" "$WORK/fig3.agg.log"
				if agg_wait_online 20; then
					out=$WORK/fig3.out
					"$LATENCY" --broker "$BROKER_URL" --ward "$WARD" --dir "$WORK/fig3" \
						--rate "$rate" --count $((rate * LAT_SECS)) --devices 4 >"$out" 2>>"$LOG"
					cat "$out" >>"$LOG"
					if [ "$(kv "done" "$out")" = 1 ]; then
						record "lat_p50_$rate" "$(kv p50_ms "$out")"
						record "lat_p99_$rate" "$(kv p99_ms "$out")"
						record "lat_max_$rate" "$(kv max_ms "$out")"
						say "   rep $r: p50 $(kv p50_ms "$out") ms, p99 $(kv p99_ms "$out") ms, max $(kv max_ms "$out") ms"
					else
						say "   rep $r: incomplete: $(cat "$out")"
					fi
				fi
				agg_stop
				broker_stop
			done
			row "lat_p50_$rate" "(3) latency outbox->receipt p50 at $rate ev/s" "ms" 1
			row "lat_p99_$rate" "(3) latency outbox->receipt p99 at $rate ev/s" "ms" 1
			row "lat_max_$rate" "(3) latency outbox->receipt max at $rate ev/s" "ms" 1
		done
	fi
fi

# ---- (3w) latency with a register of 10,000 households and the worklists -----------------------
# As (3) at 1,000 events/s, but the ward has a profile of 10 khóms and 10 teams
# (one khóm each) and a register of 10,000 households (1,000 per khóm, written
# with sqlite3 before the aggregator starts), and the events spread over all
# of them: every batch touches every khóm, so the aggregator recomputes and
# publishes all 10 team worklists and 10 household lists every
# --worklist-interval-ms (default 5000), on the writer thread, between batches.
wl_profile() {
	local k
	printf '[ward]\ncode = %s\n' "$WARD"
	for k in $(seq 1 10); do printf '[khom %s]\nhouseholds = 1000\npeople_15plus = 3000\n' "$k"; done
	for k in $(seq 1 10); do printf '[team T%s]\nkhoms = %s\n' "$k" "$k"; done
}
if want 3w; then
	if ! have "$AGG" || ! have "$LATENCY"; then
		note "(3w) latency with worklists: skipped: kdc-aggregator or bench/latency not built"
	else
		rate=${LAT_N[0]}
		section "(3w) latency at $rate events/s, register of 10000 households, worklists on"
		wl_profile >"$WORK/fig3w.ini"
		for r in $(seq 1 "$REPS"); do
			broker_start
			rm -rf "$WORK"/fig3w.db* "$WORK/fig3w"
			mkdir -p "$WORK/fig3w"
			"$AGG" rebuild --db "$WORK/fig3w.db" --profile "$WORK/fig3w.ini" >>"$LOG" 2>&1
			sqlite3 "$WORK/fig3w.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
				INSERT INTO register(khom, household, people_15plus, source, added_by, added_ms)
				SELECT (i - 1) % 10 + 1, printf('H%05d', i), 3, 'import', 'bench', 0 FROM n;
				INSERT INTO register_log(at_ms, by, action, detail) VALUES (0, 'bench', 'import', '10000');" >>"$LOG" 2>&1
			AGG_EXTRA="--profile $WORK/fig3w.ini"
			agg_start "$WORK/fig3w.db" "$WORK/fig3w.agg.log"
			AGG_EXTRA=
			if agg_wait_online 20; then
				out=$WORK/fig3w.out
				"$LATENCY" --broker "$BROKER_URL" --ward "$WARD" --dir "$WORK/fig3w" \
					--rate "$rate" --count $((rate * LAT_SECS)) --devices 4 \
					--households 10000 --khoms 10 >"$out" 2>>"$LOG"
				cat "$out" >>"$LOG"
				if [ "$(kv "done" "$out")" = 1 ]; then
					record "latw_p50" "$(kv p50_ms "$out")"
					record "latw_p99" "$(kv p99_ms "$out")"
					record "latw_max" "$(kv max_ms "$out")"
					say "   rep $r: p50 $(kv p50_ms "$out") ms, p99 $(kv p99_ms "$out") ms, max $(kv max_ms "$out") ms"
				else
					say "   rep $r: incomplete: $(cat "$out")"
				fi
			fi
			agg_stop
			broker_stop
		done
		row "latw_p50" "(3w) latency p50 at $rate ev/s, 10000-household register, worklists" "ms" 1
		row "latw_p99" "(3w) latency p99 at $rate ev/s, 10000-household register, worklists" "ms" 1
		row "latw_max" "(3w) latency max at $rate ev/s, 10000-household register, worklists" "ms" 1
	fi
fi

# ---- (4) aggregator memory ---------------------------------------------------------------------
# Live load (the publisher as fast as its window allows) into a running
# aggregator; VmRSS and VmHWM read once RSS_A, then RSS_B events are receipted.
# The database of the last repetition is kept for (5) and (7).
BIG_DB=
if want 4 || want 5 || want 7 || want 8; then
	if ! have "$AGG"; then
		note "(4) aggregator memory: skipped: kdc-aggregator not built"
	else
		section "(4) aggregator memory after $RSS_A and $RSS_B events (live load)"
		reps4=$REPS
		want 4 || reps4=1
		for r in $(seq 1 "$reps4"); do
			broker_start
			db=$WORK/fig4.db
			rm -f "$db"*
			agg_start "$db" "$WORK/fig4.agg.log"
			ok=0
			if agg_wait_online 20; then
				rss0=$(vm_kib "$AGG_PID" VmRSS)
				out=$WORK/fig4.out
				if counter_start "$out" "$RSS_A" "$(drain_timeout "$RSS_A")" &&
					loadgen_run "$RSS_A" --devices 4 --device-prefix M && counter_wait &&
					[ "$(kv "done" "$out")" = 1 ]; then
					rss_a=$(vm_kib "$AGG_PID" VmRSS)
					rest=$((RSS_B - RSS_A))
					if counter_start "$out" "$rest" "$(drain_timeout "$rest")" &&
						loadgen_run "$rest" --devices 4 --device-prefix M --seq-start $((RSS_A / 4 + 1)) &&
						counter_wait && [ "$(kv "done" "$out")" = 1 ]; then
						rss_b=$(vm_kib "$AGG_PID" VmRSS)
						hwm=$(vm_kib "$AGG_PID" VmHWM)
						ok=1
					fi
				fi
			fi
			agg_stop
			broker_stop
			if [ "$ok" = 1 ]; then
				record rss_0 "$(awk -v k="$rss0" 'BEGIN { printf "%.1f", k / 1024 }')"
				record rss_a "$(awk -v k="$rss_a" 'BEGIN { printf "%.1f", k / 1024 }')"
				record rss_b "$(awk -v k="$rss_b" 'BEGIN { printf "%.1f", k / 1024 }')"
				record hwm_b "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
				record rss_growth "$(awk -v a="$rss_a" -v b="$rss_b" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
				say "   rep $r: RSS idle $rss0 kB, after $RSS_A $rss_a kB, after $RSS_B $rss_b kB (peak $hwm kB); events stored $(events_in "$db")"
				BIG_DB=$db
			else
				say "   rep $r: failed (log: $WORK/fig4.agg.log)"
			fi
		done
		if want 4; then
			row rss_0 "(4) aggregator VmRSS when idle (before any event)" "MiB" 1
			row rss_a "(4) aggregator VmRSS after $RSS_A events" "MiB" 1
			row rss_b "(4) aggregator VmRSS after $RSS_B events (goal < 32)" "MiB" 1
			row hwm_b "(4) aggregator VmHWM (peak) after $RSS_B events" "MiB" 1
			row rss_growth "(4) VmRSS growth from $RSS_A to $RSS_B events (goal ~0)" "MiB" 1
		fi
	fi
fi

# ---- (5) rebuild -------------------------------------------------------------------------------
if want 5; then
	if ! have "$AGG" || [ -z "$BIG_DB" ]; then
		note "(5) rebuild speed: skipped: $(have "$AGG" && echo "no database from (4)" || echo "kdc-aggregator not built")"
	else
		n=$(events_in "$BIG_DB")
		section "(5) kdc-aggregator rebuild over $n stored events"
		for r in $(seq 1 "$REPS"); do
			t0=$(now_ms)
			if "$AGG" rebuild --db "$BIG_DB" >>"$WORK/fig5.log" 2>&1; then
				t1=$(now_ms)
				record rebuild_rate "$(awk -v n="$n" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')"
				say "   rep $r: $((t1 - t0)) ms"
			else
				say "   rep $r: rebuild failed (log: $WORK/fig5.log)"
			fi
		done
		row rebuild_rate "(5) kdc-aggregator rebuild over $n stored events" "ev/s" 0
	fi
fi

# ---- (8) export of the stored events ------------------------------------------------------------------
# kdc-report export events over the database of (4): rate, and the peak RSS
# (VmHWM, read every 20 ms until it exits: a constant-memory export shows the
# same peak at any size).
if want 8; then
	if ! have "$REPORT" || [ -z "$BIG_DB" ]; then
		note "(8) export: skipped: $(have "$REPORT" && echo "no database from (4)" || echo "kdc-report not built")"
	else
		n=$(events_in "$BIG_DB")
		section "(8) kdc-report export events over $n stored events"
		for r in $(seq 1 "$REPS"); do
			rm -f "$WORK/fig8.csv"
			t0=$(now_ms)
			"$REPORT" export events --db "$BIG_DB" --output "$WORK/fig8.csv" >>"$WORK/fig8.log" 2>&1 &
			pid=$!
			hwm=0
			while pid_alive "$pid"; do
				v=$(vm_kib "$pid" VmHWM)
				[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
				sleep 0.02
			done
			wait "$pid"
			st=$?
			t1=$(now_ms)
			rows=$(($(wc -l <"$WORK/fig8.csv" 2>/dev/null || echo 1) - 1))
			if [ "$st" = 0 ] && [ "$rows" = "$n" ]; then
				record export_rate "$(awk -v n="$n" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')"
				# an export over before the first reading shows no peak
				[ "$hwm" -gt 0 ] && record export_hwm "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
				say "   rep $r: $((t1 - t0)) ms, peak RSS $([ "$hwm" -gt 0 ] && echo "$((hwm / 1024)) MiB" || echo "not seen (too quick)"), $(du -m "$WORK/fig8.csv" | cut -f1) MB of CSV"
			else
				say "   rep $r: export failed or incomplete (exit $st, $rows rows of $n; log: $WORK/fig8.log)"
			fi
		done
		rm -f "$WORK/fig8.csv"
		row export_rate "(8) kdc-report export events over $n stored events" "ev/s" 0
		row export_hwm "(8) kdc-report peak RSS (VmHWM) during that export" "MiB" 1
	fi
fi

# ---- (6) device side ---------------------------------------------------------------------------------
if want 6; then
	if ! have "$EVENT"; then
		note "(6) device side: skipped: kdc-event not built"
	else
		section "(6) device side: $DEV_N events recorded into an outbox, then synced"
		for r in $(seq 1 "$REPS"); do
			rm -rf "$WORK/fig6"
			mkdir -p "$WORK/fig6"
			broker_start
			conf=$WORK/fig6/dev.conf
			{
				echo "broker = $BROKER_URL"
				echo "client-id = kdc-dev-bench-$r"
				echo "mqtt-version = 3.1.1"
				echo "ward = $WARD"
				echo "team = T1"
				echo "device = S$r"
				echo "outbox = $WORK/fig6/dev.db"
			} >"$conf"
			chmod 600 "$conf"
			t0=$(now_ms)
			if "$EVENT" --config "$conf" bulk --count "$DEV_N" >"$WORK/fig6/bulk.out" 2>>"$WORK/fig6/bulk.err"; then
				t1=$(now_ms)
				record dev_record "$(awk -v n="$DEV_N" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')"
				if have "$AGG"; then
					agg_start "$WORK/fig6/agg.db" "$WORK/fig6/agg.log"
					if agg_wait_online 20; then
						t0=$(now_ms)
						if "$EVENT" --config "$conf" sync --timeout "$(drain_timeout "$DEV_N")" >>"$WORK/fig6/sync.log" 2>&1; then
							t1=$(now_ms)
							record dev_sync "$(awk -v n="$DEV_N" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')"
						else
							say "   rep $r: sync did not finish (log: $WORK/fig6/sync.log)"
						fi
					fi
					agg_stop
					say "   rep $r: stored $(events_in "$WORK/fig6/agg.db") of $DEV_N"
				fi
			else
				say "   rep $r: kdc-event bulk failed: $(tail -n 2 "$WORK/fig6/bulk.err")"
			fi
			broker_stop
		done
		row dev_record "(6) kdc-event bulk: events recorded into the outbox" "ev/s" 0
		if have "$AGG"; then
			row dev_sync "(6) kdc-event sync: $DEV_N queued events drained" "ev/s" 0
		else
			note "(6) sync drain: skipped: kdc-aggregator not built"
		fi
	fi
fi

# ---- (7) ingest rate vs stored history ------------------------------------------------------------------
if want 7; then
	if ! have "$AGG" || [ -z "$BIG_DB" ]; then
		note "(7) ingest vs history: skipped: $(have "$AGG" && echo "no database from (4)" || echo "kdc-aggregator not built")"
	else
		big_n=$(events_in "$BIG_DB")
		section "(7) backlog of $ING_M events drained into a database holding $ING_SMALL, then $big_n events"
		# the small database, made once through the real path
		small=$WORK/fig7-small.db
		rm -f "$small"*
		broker_start
		agg_start "$small" "$WORK/fig7.agg.log"
		if agg_wait_online 20 && counter_start "$WORK/fig7.out" "$ING_SMALL" 120 &&
			loadgen_run "$ING_SMALL" --devices 4 --device-prefix S && counter_wait; then :; fi
		agg_stop
		broker_stop
		for r in $(seq 1 "$REPS"); do
			small_rate='' big_rate=''
			rm -f "$WORK"/fig7-run.db*
			for f in "$small"*; do cp "$f" "$WORK/fig7-run.db${f#"$small"}"; done
			agg_drain "$WORK/fig7-run.db" "$ING_M" ing_small && small_rate=$AGG_RATE
			rm -f "$WORK"/fig7-run.db*
			for f in "$BIG_DB"*; do cp "$f" "$WORK/fig7-run.db${f#"$BIG_DB"}"; done
			agg_drain "$WORK/fig7-run.db" "$ING_M" ing_big && big_rate=$AGG_RATE
			if [ -n "$small_rate" ] && [ -n "$big_rate" ]; then
				record ing_ratio "$(awk -v a="$big_rate" -v b="$small_rate" 'BEGIN { printf "%.3f", a / b }')"
			fi
			say "   rep $r: ${small_rate:-failed} ev/s into $ING_SMALL stored, ${big_rate:-failed} ev/s into $big_n stored"
		done
		rm -f "$WORK"/fig7-run.db*
		row ing_small "(7) backlog of $ING_M drained, $ING_SMALL events already stored" "ev/s" 0
		row ing_big "(7) backlog of $ING_M drained, $big_n events already stored" "ev/s" 0
		row ing_ratio "(7) ratio big/small history (goal >= 0.8)" "ratio" 2
		row ing_small_cpu "(7) aggregator CPU per 1000 events, $ING_SMALL stored" "ms" 1
		row ing_big_cpu "(7) aggregator CPU per 1000 events, $big_n stored" "ms" 1
	fi
fi

# ---- the table ------------------------------------------------------------------------------------------
{
	echo
	echo "kdc benchmarks ($MODE, $(date -u +%Y-%m-%dT%H:%MZ))${AGG_ARGS:+ kdc-aggregator $AGG_ARGS}"
	echo "$MACHINE"
	echo "$VERSIONS"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-68s %-7s %10s %10s %10s  %s\n' "figure" "unit" "median" "min" "max" "n"
	for l in "${ROWS[@]}"; do echo "$l"; done
} | tee -a "$LOG" "$WORK/table.txt"
echo "(raw values and logs: $WORK)" >&2
