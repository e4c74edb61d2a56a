# shellcheck shell=bash
# tests/fault/lib.sh: the fault harness. Source it from a scenario script.
#
# Runs real processes (mosquitto, kdc-aggregator, kdc-event devices, the fault
# proxy) through tests/lib/common.sh, which keeps their PIDs: everything is
# stopped or killed by PID, never by name. After a scenario, fault_verify checks
# the promise of the design's "Delivery" section:
#
#   - every event id recorded in any outbox (captured from the outboxes right
#     after recording, before any sync) is stored in `events` exactly once:
#     lost = captured ids missing from `events`, unexpected = stored ids never
#     seen in an outbox, duplicated = the same (device, seq) stored under two
#     ids plus any excess of the published stored_total over the rows;
#   - every outbox is empty (all receipted, nothing rejected);
#   - the retained ward stats agree with SQL counts over `events`, and equal
#     (apart from as_of and seq) what an aggregator publishes from a copy of
#     the database after `kdc-aggregator rebuild`.
#
# It prints one line per scenario, and appends it to $KDC_FAULT_RESULTS when
# set (run_full.sh collects them):
#   RESULT <name> scale=... events=N faults=N (what) lost=N duplicated=N ... time=Ns
#
# Environment: those of tests/lib/common.sh, plus
#   KDC_FAULTPROXY     path of kdc-faultproxy
#   FAULT_SCALE        scaled (default, the ctest numbers) or full (issue 7's)
#   FAULT_SEED         seed of every random choice (default: from the clock;
#                      printed, so a failing run can be repeated)
#   FAULT_RESEND       devices' resend-after in seconds (default 5)
#   FAULT_DAYS         bulk events spread over this many past days (default 0:
#                      see fault_record)

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
. "$FAULT_DIR/../lib/common.sh"

: "${FAULT_SCALE:=scaled}"
: "${FAULT_SEED:=$(($(date +%s%N) / 1000 % 1000000))}"
: "${FAULT_RESEND:=5}"
: "${FAULT_DAYS:=0}"
RANDOM=$FAULT_SEED

FAULTS=0            # faults injected so far
FAULT_WHAT=""       # what kind of faults, for the result line
FAULT_NOTES=()      # things worth reporting that are not failures
FAULT_PROBLEMS=()   # failures a scenario found before fault_verify
FAULT_ROUND=0
DEVICES=()
declare -A SYNC_PID=() SYNC_RC=()
FAULT_SYNC_TIMEOUTS=0 # syncs that ended with exit 3 (gave up) during the faults
FAULT_EXTRA_SYNCS=0   # syncs run after the faults to drain what was left
FAULT_MOUNTS=()

# ---- setup and small helpers -------------------------------------------------------

# fault_init NAME WARD: work directory, cleanup trap, programs checked.
fault_init() {
	kdc_test_init "fault.$1"
	FAULT_NAME=$1
	WARD=$2
	FAULT_T0=$SECONDS
	trap 'fault__cleanup $?' EXIT
	need_program KDC_EVENT
	need_program KDC_AGGREGATOR
	mkdir -p "$WORK/dev"
	: >"$WORK/expected.ids"
	kdc_say "scenario $1: scale $FAULT_SCALE, seed $FAULT_SEED (FAULT_SEED=$FAULT_SEED repeats the random choices)"
}

fault__cleanup() {
	local st=$1 m
	kdc_cleanup "$st"
	for m in "${FAULT_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	if [ "$st" != 0 ]; then
		echo "scenario $FAULT_NAME failed (seed $FAULT_SEED, work directory $WORK)" >&2
	fi
	return "$st"
}

# fault_pick SCALED FULL: the number for this scale.
fault_pick() {
	if [ "$FAULT_SCALE" = full ]; then echo "$2"; else echo "$1"; fi
}

# rand_between LO HI: a random integer in [LO, HI] from the seeded $RANDOM,
# left in RAND. (Not printed: a $(...) subshell reseeds $RANDOM, and the run
# could not be repeated from its seed.)
RAND=0
rand_between() {
	RAND=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

fault_note() {
	FAULT_NOTES+=("$*")
	kdc_say "note: $*"
}

# fault_count N WHAT: N more faults injected.
fault_count() {
	FAULTS=$((FAULTS + $1))
}

# ---- broker and aggregator -----------------------------------------------------------------

fault_broker_start() {
	broker_start "$WORK/broker"
	BROKER_URL=$(broker_url "$WORK/broker")
}

FAULT_DB=
# fault_agg_start [DB [ARGS...]]: the ward's aggregator on the fault broker.
fault_agg_start() {
	FAULT_DB=${1:-$WORK/agg/ward.db}
	shift || true
	mkdir -p "$WORK/agg"
	agg_start "$WORK/agg" --broker "$(broker_url "$WORK/broker")" --ward "$WARD" \
		--db "$FAULT_DB" --client-id "kdc-agg-$WARD" "$@"
	agg_wait_online "$WORK/broker" "$WARD" 30
}

# fault_rejected_total: refused payloads the aggregator handled: the rows of
# `rejected` plus those its per-device budget purged (rejected_dropped).
fault_rejected_total() {
	sql "$FAULT_DB" "select (select count(*) from rejected) + (select coalesce(sum(dropped), 0) from rejected_dropped);"
}

# fault_retained TOPIC-SUFFIX [BROKERDIR]: the retained message on
# kdc/v1/WARD/SUFFIX, or nothing.
fault_retained() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "${2:-$WORK/broker}")" -q 1 \
		-t "kdc/v1/$WARD/$1" -C 1 -W 2 2>/dev/null
	return 0
}

fault_stored() { sql_count "$FAULT_DB" events; }

# ---- devices --------------------------------------------------------------------------

# fault_devices N BROKER-URL: device configs D1..DN (two per team), outboxes
# beside them. Devices talk to BROKER-URL (the broker, or the fault proxy).
fault_devices() {
	local n=$1 url=$2 i d
	for i in $(seq 1 "$n"); do
		d=D$i
		{
			echo "# device $d, ward $WARD (fault suite)"
			echo "broker = $url"
			echo "client-id = kdc-dev-$WARD-$d"
			echo "ward = $WARD"
			echo "team = T$(((i + 1) / 2))"
			echo "device = $d"
			echo "outbox = $WORK/dev/$d.db"
			echo "resend-after = $FAULT_RESEND"
		} >"$WORK/dev/$d.conf"
		chmod 600 "$WORK/dev/$d.conf"
		DEVICES+=("$d")
	done
}

fault_conf() { echo "$WORK/dev/$1.conf"; }
fault_outbox() { echo "$WORK/dev/$1.db"; }

# fault_has_outbox DEV: true once the device's outbox table exists (a
# process killed while creating it may leave an empty file behind).
fault_has_outbox() {
	[ -f "$(fault_outbox "$1")" ] &&
		[ "$(sql "$(fault_outbox "$1")" "select count(*) from sqlite_master where name = 'outbox';")" = 1 ]
}

# fault_outbox_count DEV [WHERE]: rows in the device's outbox (0 if none yet).
fault_outbox_count() {
	fault_has_outbox "$1" || { echo 0; return; }
	sql_count "$(fault_outbox "$1")" outbox "${2:-}"
}

# fault_record COUNT [DEV...]: each device records COUNT synthetic events with
# kdc-event bulk (two devices at a time: two cores), then the ids in every
# outbox are captured. Events are spread over FAULT_DAYS past days; the
# default 0 keeps every event inside every rolling window, so the published
# and the rebuilt stats are taken seconds apart without an event crossing a
# window's edge in between.
fault_record() {
	local count=$1 d pids=() devs=() i st before
	shift
	[ $# -gt 0 ] && devs=("$@") || devs=("${DEVICES[@]}")
	FAULT_ROUND=$((FAULT_ROUND + 1))
	declare -A before_n=()
	for d in "${devs[@]}"; do
		before_n[$d]=$(fault_outbox_count "$d" 'state = 0')
	done
	for i in "${!devs[@]}"; do
		d=${devs[$i]}
		"$KDC_EVENT" --config "$(fault_conf "$d")" bulk --count "$count" \
			--khom $((1 + i % 3)) --days "$FAULT_DAYS" --households 186 \
			--seed $((FAULT_SEED * 1000 + FAULT_ROUND * 16 + i)) \
			>>"$WORK/dev/$d.bulk.log" 2>&1 &
		pids+=($!)
		if [ "${#pids[@]}" -ge 2 ]; then
			for st in "${pids[@]}"; do
				wait "$st" || fail "kdc-event bulk --count $count failed (see $WORK/dev/*.bulk.log)"
			done
			pids=()
		fi
	done
	for st in "${pids[@]}"; do
		wait "$st" || fail "kdc-event bulk --count $count failed (see $WORK/dev/*.bulk.log)"
	done
	for d in "${devs[@]}"; do
		before=${before_n[$d]}
		# Fewer is possible (a sync running meanwhile may have had receipts),
		# more is not.
		st=$(fault_outbox_count "$d" 'state = 0')
		[ "$st" -le $((before + count)) ] ||
			fail "$d: $st pending after recording $count onto $before"
	done
	fault_capture "${devs[@]}"
}

# fault_capture [DEV...]: appends every id now in the outboxes to the set of
# ids that must end up stored exactly once.
fault_capture() {
	local d devs=()
	[ $# -gt 0 ] && devs=("$@") || devs=("${DEVICES[@]}")
	for d in "${devs[@]}"; do
		fault_has_outbox "$d" || continue
		sql "$(fault_outbox "$d")" "select lower(hex(id)) from outbox;" >>"$WORK/expected.ids" ||
			fail "cannot read the outbox of $d"
	done
}

fault_expected() { sort -u "$WORK/expected.ids" | wc -l; }

# fault_sent_total: publishes made by all the devices' syncs so far, resends
# included (each finished sync prints "sync: done, nothing pending (N sent";
# one that gave up or was killed counts as its last progress line).
fault_sent_total() {
	local d total=0 n
	for d in "${DEVICES[@]}"; do
		n=$(awk '/^--- sync/ { if (last != "") s += last; last = "" }
			/^sync: sent [0-9]+,/ { last = $3; sub(",", "", last) }
			/^sync: done, nothing pending \(/ { last = substr($5, 2) }
			END { if (last != "") s += last; print s + 0 }' "$WORK/dev/$d.sync.log")
		total=$((total + n))
	done
	echo "$total"
}

# fault_sync_start TIMEOUT [DEV...]: kdc-event sync in the background.
fault_sync_start() {
	local timeout=$1 d
	shift
	local devs=()
	[ $# -gt 0 ] && devs=("$@") || devs=("${DEVICES[@]}")
	for d in "${devs[@]}"; do
		echo "--- sync $(date -u +%H:%M:%S.%N) timeout $timeout" >>"$WORK/dev/$d.sync.log"
		"$KDC_EVENT" --config "$(fault_conf "$d")" sync --timeout "$timeout" \
			</dev/null >>"$WORK/dev/$d.sync.log" 2>&1 &
		SYNC_PID[$d]=$!
		KDC_PIDS+=("$!")
		unset 'SYNC_RC[$d]'
	done
}

# fault_syncing: true while any background sync runs.
fault_syncing() {
	local d
	for d in "${!SYNC_PID[@]}"; do
		pid_alive "${SYNC_PID[$d]}" && return 0
	done
	return 1
}

# fault_sync_kill DEV: SIGKILL the device's running sync (a phone switched off).
fault_sync_kill() {
	local pid=${SYNC_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	pid_wait_dead "$pid" 10
	kdc_forget_pid "$pid"
	unset 'SYNC_PID[$1]'
	echo "--- SIGKILL $(date -u +%H:%M:%S.%N)" >>"$WORK/dev/$1.sync.log"
}

# fault_sync_wait SECONDS: waits for every background sync; their exit
# statuses go to SYNC_RC. Exit 3 (gave up after its timeout) is counted; any
# other non-zero status fails the scenario (the contract knows 0 and 3).
fault_sync_wait() {
	local secs=$1 d pid deadline=$((SECONDS + $1))
	for d in "${!SYNC_PID[@]}"; do
		pid=${SYNC_PID[$d]}
		while pid_alive "$pid"; do
			[ "$SECONDS" -ge "$deadline" ] &&
				fail "kdc-event sync of $d still running ${secs}s later, past its own --timeout"
			sleep 0.1
		done
		wait "$pid" 2>/dev/null
		SYNC_RC[$d]=$?
		kdc_forget_pid "$pid"
		unset 'SYNC_PID[$d]'
		case ${SYNC_RC[$d]} in
		0) ;;
		# 3 timed out; 11/12 timed out while the broker (or the link to it)
		# was down: connection refused, no answer
		3 | 11 | 12) FAULT_SYNC_TIMEOUTS=$((FAULT_SYNC_TIMEOUTS + 1))
		   kdc_say "$d: sync gave up (exit ${SYNC_RC[$d]}) with $(fault_outbox_count "$d" 'state = 0') pending" ;;
		*) fail "kdc-event sync of $d exited ${SYNC_RC[$d]} (contract: 0, 3, 11 or 12); log: $(tail -n 3 "$WORK/dev/$d.sync.log")" ;;
		esac
	done
}

# fault_drain TIMEOUT: once the faults stop, syncs every device that still
# has rows in its outbox, as a team member pressing "sync" again would.
fault_drain() {
	local d left=()
	for d in "${DEVICES[@]}"; do
		[ "$(fault_outbox_count "$d")" -gt 0 ] && left+=("$d")
	done
	[ "${#left[@]}" = 0 ] && return 0
	FAULT_EXTRA_SYNCS=$((FAULT_EXTRA_SYNCS + ${#left[@]}))
	fault_note "after the faults, ${#left[@]} device(s) still had events: synced again (${left[*]})"
	fault_sync_start "$1" "${left[@]}"
	fault_sync_wait $(($1 + 30))
}

# ---- verification ------------------------------------------------------------------------

# fault__json_num JSON PATH: a number from the JSON (jq path), or "none".
fault__json_num() {
	local v
	v=$(jq -r "$2 // \"none\"" <<<"$1" 2>/dev/null) || v=bad
	echo "${v:-none}"
}

# fault__stats_vs_sql JSON: compares the published ward stats with SQL counts
# over the stored rows; prints mismatches, one per line.
fault__stats_vs_sql() {
	local json=$1 k i got want
	local kinds=(visit account payment service)
	want=$(sql_count "$FAULT_DB" events)
	got=$(fault__json_num "$json" .stored_total)
	[ "$got" = "$want" ] || echo "stored_total: published $got, events table $want"
	for i in 0 1 2 3; do
		k=${kinds[$i]}
		want=$(sql_count "$FAULT_DB" events "kind = $i")
		got=$(fault__json_num "$json" ".events.$k.total")
		[ "$got" = "$want" ] || echo "events.$k.total: published $got, events table $want"
	done
	want=$(sql_count "$FAULT_DB" events "kind = 2")
	got=$(fault__json_num "$json" .payments.count_total)
	[ "$got" = "$want" ] || echo "payments.count_total: published $got, events table $want"
	want=$(sql "$FAULT_DB" "select coalesce(sum(amount_vnd), 0) from events where kind = 2;")
	got=$(fault__json_num "$json" .payments.amount_vnd_total)
	[ "$got" = "$want" ] || echo "payments.amount_vnd_total: published $got, events table $want"
	want=$(fault_rejected_total)
	got=$(fault__json_num "$json" .rejected_total)
	[ "$got" = "$want" ] || echo "rejected_total: published $got, rejected table $want"
}

# fault__stats_settled N: the retained ward stats, once they say stored_total
# N (stats are coalesced, about one publish a second), else the last seen.
fault__stats_settled() {
	local want=$1 json deadline=$((SECONDS + 20))
	while :; do
		json=$(fault_retained stats/ward)
		[ "$(fault__json_num "$json" .stored_total)" = "$want" ] && break
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.5
	done
	printf '%s' "$json"
}

# fault__rebuild_compare LIVE-JSON: copies the database, runs kdc-aggregator
# rebuild on the copy, starts an aggregator on it against a scratch broker and
# compares its retained ward stats with LIVE-JSON. Prints differences.
fault__rebuild_compare() {
	local live=$1 r=$WORK/rebuild rb json deadline st
	rm -rf "$r"
	mkdir -p "$r/agg"
	cp "$FAULT_DB" "$r/ward.db" || { echo "cannot copy $FAULT_DB"; return; }
	[ -f "$FAULT_DB-wal" ] && cp "$FAULT_DB-wal" "$r/ward.db-wal"
	"$KDC_AGGREGATOR" rebuild --db "$r/ward.db" >"$r/rebuild.log" 2>&1
	st=$?
	if [ "$st" != 0 ]; then
		echo "kdc-aggregator rebuild exited $st: $(tail -n 2 "$r/rebuild.log")"
		return
	fi
	rb=$r/broker
	broker_start "$rb"
	agg_start "$r/agg" --broker "$(broker_url "$rb")" --ward "$WARD" --db "$r/ward.db" \
		--client-id "kdc-agg-$WARD-rebuilt"
	deadline=$((SECONDS + 60))
	json=
	while [ -z "$json" ] && [ "$SECONDS" -lt "$deadline" ]; do
		json=$(fault_retained stats/ward "$rb")
		[ -z "$json" ] && sleep 0.3
	done
	agg_stop "$r/agg" >/dev/null
	broker_stop "$rb"
	if [ -z "$json" ]; then
		echo "the aggregator on the rebuilt copy published no ward stats within 60 s"
		return
	fi
	printf '%s\n' "$json" >"$r/rebuilt.json"
	printf '%s\n' "$live" >"$r/live.json"
	# as_of and seq say when and how often, not what: everything else must match.
	# If the ward's day changed between the two (a scenario across 17:00 UTC),
	# the daily series and projected dates moved with it: those are left out.
	local norm='del(.as_of, .as_of_ms, .seq)'
	if [ "$(jq -r .series.start <<<"$live")" != "$(jq -r .series.start <<<"$json")" ]; then
		echo "note: the ward's day changed between the live and the rebuilt snapshot: series and projected dates not compared" >&2
		norm='del(.as_of, .as_of_ms, .seq, .series) | del(.targets[]?.projected, .targets[]?.on_track)'
	fi
	if ! diff <(jq -S "$norm" "$r/live.json") <(jq -S "$norm" "$r/rebuilt.json") >"$r/diff"; then
		echo "published stats differ from the rebuilt ones ($(grep -c '^[<>]' "$r/diff") lines, $r/diff):"
		head -n 12 "$r/diff" | sed 's/^/    /'
	fi
}

# fault_verify: the checks described at the top; prints the RESULT line and
# fails the scenario when anything was lost, duplicated, left or miscounted.
# The aggregator must still be running (it is stopped here with SIGTERM, which
# must end it with exit 0).
fault_verify() {
	local expected stored lost unexpected dup_seq dup left=0 d n rejected
	local json stats_total over=0 problems=("${FAULT_PROBLEMS[@]}") gaps elapsed line
	kdc_say "verifying"
	agg_alive "$WORK/agg" || problems+=("the aggregator is not running at the end (log $WORK/agg/agg.log)")
	sort -u "$WORK/expected.ids" >"$WORK/expected.sorted"
	expected=$(wc -l <"$WORK/expected.sorted")
	sql "$FAULT_DB" "select lower(hex(id)) from events;" | sort >"$WORK/stored.sorted"
	stored=$(wc -l <"$WORK/stored.sorted")
	comm -23 "$WORK/expected.sorted" "$WORK/stored.sorted" >"$WORK/lost.ids"
	comm -13 "$WORK/expected.sorted" "$WORK/stored.sorted" >"$WORK/unexpected.ids"
	lost=$(wc -l <"$WORK/lost.ids")
	unexpected=$(wc -l <"$WORK/unexpected.ids")
	dup_seq=$(sql "$FAULT_DB" "select count(*) - count(distinct device || ':' || seq) from events;")
	gaps=$(sql "$FAULT_DB" "select coalesce(sum(g), 0) from (select max(seq) - min(seq) + 1 - count(*) as g from events group by device);")
	for d in "${DEVICES[@]}"; do
		n=$(fault_outbox_count "$d")
		left=$((left + n))
		[ "$n" -gt 0 ] && problems+=("$d: $n rows left in its outbox ($(fault_outbox_count "$d" 'state = 2') rejected)")
	done
	rejected=$(fault_rejected_total)
	[ "${FAULT_EXPECT_REJECTED:-0}" = "$rejected" ] ||
		problems+=("rejected table: $rejected rows, expected ${FAULT_EXPECT_REJECTED:-0}")

	json=$(fault__stats_settled "$stored")
	if [ -z "$json" ]; then
		problems+=("no retained ward stats on kdc/v1/$WARD/stats/ward")
		stats_total=none
	else
		stats_total=$(fault__json_num "$json" .stored_total)
		[[ "$stats_total" =~ ^[0-9]+$ ]] && [ "$stats_total" -gt "$stored" ] && over=$((stats_total - stored))
		n=${#problems[@]}
		while IFS= read -r line; do
			[ -n "$line" ] && problems+=("stats vs SQL: $line")
		done < <(fault__stats_vs_sql "$json")
		[ "${#problems[@]}" = "$n" ] &&
			echo "ok: published ward stats = SQL counts (stored_total $stats_total, per-kind totals, payments, rejected_total)"
	fi
	agg_stop "$WORK/agg" >/dev/null
	if [ -n "$json" ]; then
		# The last snapshot published before the stop, again: it may have moved.
		json=$(fault_retained stats/ward)
		n=${#problems[@]}
		while IFS= read -r line; do
			[ -n "$line" ] && problems+=("stats vs rebuild: $line")
		done < <(fault__rebuild_compare "$json")
		[ "${#problems[@]}" = "$n" ] &&
			echo "ok: published ward stats = stats published after kdc-aggregator rebuild on a copy (all fields but as_of, seq)"
	fi

	dup=$((dup_seq + over))
	[ "$lost" = 0 ] || problems+=("$lost recorded events not stored, e.g. $(head -n 3 "$WORK/lost.ids" | tr '\n' ' ')")
	[ "$unexpected" = 0 ] || problems+=("$unexpected stored events never recorded in an outbox")
	[ "$dup_seq" = 0 ] || problems+=("$dup_seq events stored twice under different ids (same device and seq)")
	[ "$over" = 0 ] || problems+=("published stored_total $stats_total exceeds the $stored rows by $over")
	[ "$expected" -gt 0 ] || problems+=("no events were recorded: the scenario proved nothing")
	[ "$gaps" = 0 ] || fault_note "$gaps gaps in devices' stored sequence numbers"
	[ "$FAULT_STRIKES_IN_FLIGHT" = 0 ] ||
		fault_note "$FAULT_STRIKES_IN_FLIGHT of $FAULTS faults struck while devices were still syncing"
	# Liveness: every sync is given minutes for seconds of traffic; one that
	# gives up left its device stuck behind faults a healthy client rides out.
	[ "$FAULT_SYNC_TIMEOUTS" = 0 ] ||
		problems+=("$FAULT_SYNC_TIMEOUTS syncs gave up (exit 3) during the faults; their events got through only with a later sync (see $WORK/dev/*.sync.log)")

	elapsed=$((SECONDS - FAULT_T0))
	line=$(printf 'RESULT %s scale=%s events=%s faults=%s (%s) lost=%s duplicated=%s unexpected=%s outbox_left=%s stats=%s extra_syncs=%s time=%ss seed=%s' \
		"$FAULT_NAME" "$FAULT_SCALE" "$expected" "$FAULTS" "$FAULT_WHAT" "$lost" "$dup" \
		"$unexpected" "$left" "$([ "${#problems[@]}" = 0 ] && echo ok || echo "$stats_total")" \
		"$FAULT_EXTRA_SYNCS" "$elapsed" "$FAULT_SEED")
	echo "$line"
	[ -n "${KDC_FAULT_RESULTS:-}" ] && echo "$line" >>"$KDC_FAULT_RESULTS"
	for line in "${FAULT_NOTES[@]}"; do
		echo "  note: $line"
		[ -n "${KDC_FAULT_RESULTS:-}" ] && echo "  note: $line" >>"$KDC_FAULT_RESULTS"
	done
	if [ "${#problems[@]}" -gt 0 ]; then
		for line in "${problems[@]}"; do
			echo "  problem: $line" >&2
			[ -n "${KDC_FAULT_RESULTS:-}" ] && echo "  problem: $line" >>"$KDC_FAULT_RESULTS"
		done
		fail "$FAULT_NAME: ${#problems[@]} problem(s) (above)"
	fi
	echo "ok: $FAULT_NAME: $expected events, $FAULTS faults, 0 lost, 0 duplicated"
}

# ---- fault proxy ----------------------------------------------------------------------

# fault_proxy_start [OPTIONS...]: kdc-faultproxy in front of the broker;
# PROXY_URL is where devices connect. Options as kdc-faultproxy takes them.
fault_proxy_start() {
	need_program KDC_FAULTPROXY
	local dir=$WORK/proxy
	mkdir -p "$dir"
	# No control file yet: the proxy would read it at start, and it replaces
	# the command line's faults.
	rm -f "$dir/port" "$dir/control"
	setsid "$KDC_FAULTPROXY" --target "$(broker_port "$WORK/broker")" --listen 0 \
		--port-file "$dir/port" --stats "$dir/stats" --control "$dir/control" \
		--seed "$FAULT_SEED" "$@" </dev/null >/dev/null 2>>"$dir/proxy.log" &
	PROXY_PID=$!
	KDC_PIDS+=("$PROXY_PID")
	KDC_LOGS+=("$dir/proxy.log")
	wait_for 10 "kdc-faultproxy to listen" test -s "$dir/port"
	PROXY_URL="tcp://127.0.0.1:$(cat "$dir/port")"
}

# fault_proxy_control "KEY VALUE" ...: replaces the proxy's fault settings.
fault_proxy_control() {
	printf '%s\n' "$@" >"$WORK/proxy/control.tmp"
	mv "$WORK/proxy/control.tmp" "$WORK/proxy/control"
	kill -HUP "$PROXY_PID"
	sleep 0.2
}

# fault_proxy_stat NAME: a counter from the proxy's stats file.
fault_proxy_stat() {
	kill -USR1 "$PROXY_PID" 2>/dev/null
	sleep 0.3
	sed -n "s/^$1 //p" "$WORK/proxy/stats"
}

# fault_in_flight: outbox rows not yet receipted, over all devices.
fault_in_flight() {
	local d n=0
	for d in "${DEVICES[@]}"; do
		n=$((n + $(fault_outbox_count "$d")))
	done
	echo "$n"
}

# fault_struck: call right after a fault that followed fault_strike_moment.
# It struck "in flight" when a sync was still running at that moment (a sync
# ends only when its device holds nothing unreceipted). Leaves the rows still
# unreceipted, over all devices, in INFLIGHT (for the log).
FAULT_STRIKES_IN_FLIGHT=0
INFLIGHT=0
fault_struck() {
	[ "$STRIKE_IN_FLIGHT" = 1 ] && FAULT_STRIKES_IN_FLIGHT=$((FAULT_STRIKES_IN_FLIGHT + 1))
	INFLIGHT=$(fault_in_flight)
}

# ---- kill moments ------------------------------------------------------------------------
# A round's traffic lasts about a second on a fast machine, less than a busy
# machine may take to poll the database once. So the aggregator is held
# (SIGSTOP) before a round's syncs start, and fault_strike_moment runs it in
# short slices up to the moment (agg_step_until): the moment cannot pass while
# the test looks, whatever the speed. The aggregator is left stopped at the
# moment; the scenario strikes, then resumes it (agg_resume) unless it killed
# it.

# fault_hold_agg: stops the aggregator until fault_strike_moment steps it.
fault_hold_agg() {
	local p
	p=$(agg_pid "$WORK/agg")
	[ -n "$p" ] && pid_alive "$p" && kill -STOP "$p"
	return 0
}

# fault__moment: true (the aggregator stopped) once FAULT_TARGET rows are
# stored, the clock passed FAULT_UNTIL_US, or no sync runs any more.
FAULT_TARGET=0
FAULT_UNTIL_US=0
fault__moment() {
	local n
	[ "${EPOCHREALTIME/./}" -ge "$FAULT_UNTIL_US" ] && return 0
	fault_syncing || return 0 # the traffic is over (it can only end in a gave-up sync)
	n=$(sql_count_now "$FAULT_DB" events) || return 1
	[ "$n" -ge "$FAULT_TARGET" ]
}

# fault_strike_moment ROUND-EVENTS: steps the aggregator (held by
# fault_hold_agg) to a random moment of the round: mostly when a random
# fraction (5-95%) of the round is stored, sometimes after a random
# 0-600 ms of stepping (which may fall during a restart or catch-up; at 95%
# of the round stored at the latest). Leaves what it was in STRIKE (not
# printed: $(...) would run it in a subshell, whose $RANDOM does not advance
# ours).
STRIKE=
STRIKE_IN_FLIGHT=0
fault_strike_moment() {
	local round=$1 base frac ms
	base=$(fault_stored)
	FAULT_UNTIL_US=$((1 << 62))
	if [ $((RANDOM % 4)) = 0 ]; then
		rand_between 0 600
		ms=$RAND
		FAULT_TARGET=$((base + round * 95 / 100))
		FAULT_UNTIL_US=$((${EPOCHREALTIME/./} + ms * 1000))
		STRIKE="at ${ms} ms"
	else
		rand_between 5 95
		frac=$RAND
		FAULT_TARGET=$((base + round * frac / 100))
		STRIKE="at ${frac}% of the round stored"
	fi
	agg_step_until "$WORK/agg" 120 fault__moment
	STRIKE_IN_FLIGHT=0
	fault_syncing && STRIKE_IN_FLIGHT=1
	[ "$STRIKE_IN_FLIGHT" = 1 ] || STRIKE="$STRIKE, after the traffic"
	return 0
}
