#!/usr/bin/env bash
# scripts/demo.sh: the whole pipeline on this machine, end to end.
#
#   installs the dependencies, builds in build/, starts a mosquitto on free
#   127.0.0.1 ports (MQTT, and websockets serving the dashboard), starts
#   kdc-aggregator with the example ward profile, imports the example household
#   register of khóm 6 (deploy/register-khom6.example.csv) as a ward office
#   would, runs a simulated campaign of several team devices for the
#   register's households (kdc-sim when built, otherwise kdc-event devices that
#   record visits, accounts, payments and services and then sync), prints the
#   ward's statistics, the households by status and the dashboard address,
#   makes one correction (a device voids one of its stored events: the figures
#   before and after), and keeps everything running until Ctrl-C. Every
#   process it started is stopped by its PID on exit.
#
# usage: scripts/demo.sh [--once] [--no-build]
#   --once      stop after the campaign and the statistics (for tests and CI)
#   --no-build  use build/ as it is
# Work files (broker, database, device outboxes, logs) go to var/demo/ (or
# KDC_DEMO_DIR); the build directory is build/ (or KDC_BUILD_DIR).
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
once=0
do_build=1
for arg in "$@"; do
	case "$arg" in
	--once) once=1 ;;
	--no-build) do_build=0 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "demo.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

build=${KDC_BUILD_DIR:-$root/build}
work=${KDC_DEMO_DIR:-$root/var/demo}

if [ "$do_build" = 1 ]; then
	bash "$root/scripts/install-deps.sh" || exit 1
	echo "demo: building in $build"
	mkdir -p "$build"
	if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/kdc-demo-build.log" 2>&1 ||
		! cmake --build "$build" -j "${KDC_JOBS:-2}" >>"$build/kdc-demo-build.log" 2>&1; then
		tail -n 30 "$build/kdc-demo-build.log" >&2
		echo "demo: build failed (log: $build/kdc-demo-build.log)" >&2
		exit 1
	fi
fi

export KDC_EVENT=$build/producers/kdc-event
export KDC_AGGREGATOR=$build/aggregator/kdc-aggregator
export KDC_FREEPORT=$build/tests/kdc-freeport
KDC_SIM=$build/producers/kdc-sim
KDC_STATS=$build/viewers/kdc-stats
export KDC_SOURCE_DIR=$root
# shellcheck source=../tests/lib/common.sh
. "$root/tests/lib/common.sh"
need_program KDC_EVENT
need_program KDC_AGGREGATOR

rm -rf "$work"
mkdir -p "$work"
interrupted=0
# On Ctrl-C the logs are not news; on a failure their last lines are shown.
trap 'st=$?; [ "$interrupted" = 1 ] && st=0; kdc_cleanup "$st"; echo "demo: stopped everything it started"' EXIT
trap 'interrupted=1; exit 130' INT TERM

# ---- the ward --------------------------------------------------------------
profile=$root/deploy/ward-profile.example.ini
ward=31975
profile_args=()
if [ -f "$profile" ]; then
	# The example with khóm 6's 20 businesses (the simulated campaign visits them)
	sed 's/^people_15plus = 520$/&\nbusinesses = 20/' "$profile" >"$work/ward-profile.ini"
	profile=$work/ward-profile.ini
	profile_args=(--profile "$profile")
	# The profile names its ward; fall back to 31975 (Phường 1, TP Cà Mau).
	w=$(sed -n 's/^[[:space:]]*\(ward\|code\)[[:space:]]*=[[:space:]]*\([A-Za-z0-9_-]*\).*/\2/p' "$profile" | head -n 1)
	[ -n "$w" ] && ward=$w
	echo "demo: ward profile $profile (ward $ward)"
else
	echo "demo: no ward profile at deploy/ward-profile.example.ini; running without denominators"
fi

# ---- broker and aggregator ---------------------------------------------------
mapfile -t ports < <(free_port 2)
[ "${#ports[@]}" = 2 ] || fail "could not find two free ports"
broker_start "$work/broker" "${ports[0]}" "${ports[1]}" "$root/dashboard/web"
url=$(broker_url "$work/broker")
echo "demo: mosquitto pid $(broker_pid "$work/broker"): mqtt 127.0.0.1:${ports[0]}, websockets 127.0.0.1:${ports[1]}"

agg_start "$work/agg" --broker "$url" --ward "$ward" --db "$work/ward.db" \
	--client-id "kdc-agg-$ward" "${profile_args[@]}"
agg_wait_online "$work/broker" "$ward" 30
echo "demo: kdc-aggregator pid $(agg_pid "$work/agg") online for ward $ward (database $work/ward.db)"

# ---- the household register ----------------------------------------------------
# What a ward office does first (docs/register.md): a dry run, then the import.
# From then on the figures count the register's households and an event for a
# household that is not on it is refused (unknown_household).
register=$root/deploy/register-khom6.example.csv
with_register=0
if [ "${#profile_args[@]}" -gt 0 ] && [ -f "$register" ]; then
	reg_args=(--db "$work/ward.db" --profile "$profile" --by demo)
	echo "demo: the ward office imports the household register $register"
	echo "demo: \$ kdc-aggregator register import register-khom6.example.csv --dry-run"
	"$KDC_AGGREGATOR" register import "$register" "${reg_args[@]}" --dry-run >"$work/register-dry-run.txt" ||
		{ cat "$work/register-dry-run.txt"; fail "register import --dry-run failed"; }
	# one line per household: the first ones and the summary
	head -n 2 "$work/register-dry-run.txt"
	echo "..."
	tail -n 1 "$work/register-dry-run.txt"
	echo "demo: \$ kdc-aggregator register import register-khom6.example.csv"
	"$KDC_AGGREGATOR" register import "$register" "${reg_args[@]}" || fail "register import failed"
	businesses=$root/deploy/register-khom6-businesses.example.csv
	echo "demo: \$ kdc-aggregator register import register-khom6-businesses.example.csv   (its 20 businesses)"
	"$KDC_AGGREGATOR" register import "$businesses" "${reg_args[@]}" || fail "register import of the businesses failed"
	# the aggregator picks the register up within seconds: wait until khóm 6's
	# household list (retained) says it comes from the register
	for _ in $(seq 1 150); do
		mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/households/khom/6" -C 1 -W 2 \
			2>/dev/null | grep -q '"register":true' && with_register=1 && break
		sleep 0.2
	done
	[ "$with_register" = 1 ] || fail "the aggregator did not publish khóm 6's household list from the register within 30 s"
else
	echo "demo: no example register (or no profile): household codes are not checked"
fi

# ---- the campaign --------------------------------------------------------------
campaign_with_event() {
	# Three members of team T1 in khóm 6 (the example profile's pilot) over the
	# last four weeks: each visits households of the register (H0001-H0045),
	# helps some people open accounts, pay bills and use online services, then
	# syncs.
	local d conf i h day n=0
	for d in 1 2 3; do
		conf=$work/dev$d.conf
		dev_config "$conf" "$work/broker" "$ward" T1 "T1-D$d"
		for i in $(seq 1 15); do
			h=$(printf 'H%04d' $(((d - 1) * 15 + i)))
			day=$(date -u -d "-$((30 - 2 * i)) days -$((i % 8 + 1)) hours" +%Y-%m-%dT%H:%M:%SZ)
			dev_event "$conf" visit --khom 6 --household "$h" --outcome \
				"$([ $((i % 5)) = 0 ] && echo not_home || echo surveyed)" --members 4 \
				--members-15plus 3 --smartphones 2 --needs install_app,payment_account --at "$day"
			n=$((n + 1))
			[ $((i % 5)) = 0 ] && continue
			dev_event "$conf" account --khom 6 --household "$h" --member 1 --kind vneid_level2 --at "$day"
			dev_event "$conf" account --khom 6 --household "$h" --member 1 --kind payment --at "$day"
			dev_event "$conf" payment --khom 6 --household "$h" --member 1 --purpose electricity \
				--method qr_code --amount $((150000 + i * 10000)) --at "$day"
			n=$((n + 3))
			if [ $((i % 3)) = 0 ]; then
				dev_event "$conf" service --khom 6 --household "$h" --member 2 \
					--kind medical_booking --at "$day"
				n=$((n + 1))
			fi
		done
		echo "demo: device T1-D$d recorded its events; syncing"
		dev_sync "$conf" 60
	done
	echo "demo: campaign of $n events stored and receipted"
}

if [ -x "$KDC_SIM" ]; then
	echo "demo: running kdc-sim"
	# --household-digits 4: the households H0001 ... of the profile's khóms,
	# the codes of the example register; --history-days 60: each device keeps
	# its stored events, as a team member's does, to void one below
	"$KDC_SIM" --broker "$url" --ward "$ward" --dir "$work/sim" "${profile_args[@]}" \
		--household-digits 4 --history-days 60 \
		>"$work/sim.log" 2>&1 || { tail -n 20 "$work/sim.log" >&2; fail "kdc-sim failed (log: $work/sim.log)"; }
	tail -n 5 "$work/sim.log"
else
	echo "demo: kdc-sim not built; simulating with kdc-event devices"
	campaign_with_event
fi

# ---- statistics ---------------------------------------------------------------
echo "demo: ward statistics (retained on kdc/v1/$ward/stats/ward):"
# Stats are coalesced to about one publish a second: wait (60 s at most) until
# the retained ward snapshot counts every stored event.
stored_now=$(sql_count "$work/ward.db" events)
for _ in $(seq 1 300); do
	mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/ward" -C 1 -W 2 2>/dev/null |
		grep -q "\"stored_total\":$stored_now[,}]" && break
	sleep 0.2
done
if [ -x "$KDC_STATS" ]; then
	"$KDC_STATS" --broker "$url" --ward "$ward" --once || fail "kdc-stats --once failed"
	"$KDC_STATS" --broker "$url" --ward "$ward" --once --json >"$work/stats.json" ||
		fail "kdc-stats --once --json failed"
	echo "demo: the same snapshot as JSON (kdc-stats --once --json): $work/stats.json"
else
	snapshot=$(mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/ward" -C 1 -W 10 2>/dev/null)
	[ -n "$snapshot" ] || fail "no retained stats on kdc/v1/$ward/stats/ward within 10 s"
	echo "$snapshot"
fi
echo
echo "demo: stored events: $(sql_count "$work/ward.db" events), rejected: $(sql_count "$work/ward.db" rejected)"
# the programme's targets, as the ward's snapshot computes them
mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/ward" -C 1 -W 10 2>/dev/null |
	jq -r '.targets[] | "demo: target \(.indicator): \(.percent)% by \(.deadline); now \(.value) of \(.denominator); projected \(if .met then "met" elif .projected then .projected else "not at the last 30 days'"'"' pace" end)"' ||
	fail "no targets in the ward snapshot"

# ---- the register in use, and one correction -------------------------------------
# ward_figures: one line from the retained ward snapshot.
ward_figures() {
	mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/ward" -C 1 -W 10 2>/dev/null |
		jq -r '"households \(.households.total), visited \(.households.visited), reached \(.households.reached); visits \(.events.visit.total), accounts \(.events.account.total); events voided \(.events.voided)"'
}
if [ "$with_register" = 1 ]; then
	# the household lists follow the statistics within seconds
	# (--worklist-interval-ms): wait until khóm 6's counts its visited households
	visited=$(mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/khom/6" -C 1 -W 10 \
		2>/dev/null | jq -r '.households.visited')
	list=
	for _ in $(seq 1 150); do
		list=$(mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/households/khom/6" -C 1 -W 2 2>/dev/null)
		jq -e ".counts.total - .counts.not_visited == $visited" >/dev/null 2>&1 <<<"$list" && break
		sleep 0.2
	done
	echo "demo: register of khóm 6: $(jq -r '.counts | "\(.total) households on the register; not visited \(.not_visited), not at home \(.not_home), declined \(.declined), surveyed \(.surveyed), reached \(.reached)"' <<<"$list")"
	echo "demo: refused as unknown_household: $(sql_count "$work/ward.db" rejected "reason_name = 'unknown_household'")"

	# A team member recorded a visit for the wrong household: the device that
	# recorded it voids it (it keeps stored events in its history for
	# history-days) and syncs; the figures leave it out.
	if [ -x "$KDC_SIM" ]; then
		fix_conf=$work/sim/T1-D1.conf # kdc-sim's outbox of device T1-D1
	else
		fix_conf=$work/dev1.conf
	fi
	dev_config "$fix_conf" "$work/broker" "$ward" T1 T1-D1
	# a household of T1-D1 with one event, a visit, so that the void shows in
	# the households visited (else any of its visits)
	fix=$(sql "$work/ward.db" "select household, lower(hex(id)) from events where device = 'T1-D1'
		and kind = 0 and voided_by is null and household in (select household from events
		where device = 'T1-D1' group by household having count(*) = 1)
		union all select * from (select household, lower(hex(id)) from events
		where device = 'T1-D1' and kind = 0 and voided_by is null order by occurred_ms desc)
		limit 1")
	fix_household=${fix%%|*}
	fix_id=${fix#*|}
	if [ -z "$fix_household" ] || [ -z "$fix_id" ]; then
		fail "no visit of device T1-D1 to void"
	fi
	voided_before=$(sql_count "$work/ward.db" events "voided_by is not null")
	echo "demo: ward figures before the correction: $(ward_figures)"
	echo "demo: \$ kdc-event history --household $fix_household        (on device T1-D1)"
	"$KDC_EVENT" --config "$fix_conf" history --household "$fix_household" || fail "kdc-event history failed"
	# the id's last 12 hex digits, as kdc-event history shows it
	echo "demo: \$ kdc-event void ${fix_id: -12} --reason \"recorded for the wrong household\""
	"$KDC_EVENT" --config "$fix_conf" void "${fix_id: -12}" --reason "recorded for the wrong household" ||
		fail "kdc-event void failed"
	echo "demo: \$ kdc-event sync"
	"$KDC_EVENT" --config "$fix_conf" sync --timeout 60 || fail "kdc-event sync of the void failed"
	more_voided() { [ "$(sql_count "$work/ward.db" events "voided_by is not null")" -gt "$voided_before" ]; }
	wait_for 30 "the aggregator to apply the void" more_voided
	for _ in $(seq 1 150); do
		mosquitto_sub -h 127.0.0.1 -p "${ports[0]}" -t "kdc/v1/$ward/stats/ward" -C 1 -W 2 2>/dev/null |
			jq -e ".events.voided > $voided_before" >/dev/null 2>&1 && break
		sleep 0.2
	done
	echo "demo: ward figures after the correction:  $(ward_figures)"
	echo "demo: voided events: $(sql_count "$work/ward.db" events "voided_by is not null"), rejected: $(sql_count "$work/ward.db" rejected)"
	# the sync brought the team's worklist along: who is still to be revisited
	echo "demo: \$ kdc-event worklist --status not_home        (on device T1-D1)"
	"$KDC_EVENT" --config "$fix_conf" worklist --status not_home || fail "kdc-event worklist failed"
fi
echo "demo: dashboard: http://127.0.0.1:${ports[1]}/index.html?ward=$ward&broker=ws://127.0.0.1:${ports[1]}/mqtt"

if [ "$once" = 1 ]; then
	agg_stop "$work/agg" >/dev/null
	broker_stop "$work/broker"
	echo "demo: done (--once)"
	exit 0
fi
echo "demo: running; press Ctrl-C to stop"
while agg_alive "$work/agg" && pid_alive "$(broker_pid "$work/broker")"; do
	sleep 1
done
fail "a demo process exited by itself (logs in $work)"
