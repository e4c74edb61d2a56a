#!/usr/bin/env bash
# scripts/demo.sh --once, as a person would run it (minus the build): it must
# store the simulated campaign with nothing rejected, print the statistics and
# the dashboard address, and leave no process behind.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init demo_once 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${KDC_BUILD_DIR:-}" ] || fail "KDC_BUILD_DIR is not set (run under ctest)"

export KDC_DEMO_DIR=$WORK/demo
bash "$KDC_SOURCE_DIR/scripts/demo.sh" --once --no-build >"$WORK/demo.out" 2>&1
st=$?
KDC_LOGS+=("$WORK/demo.out")
assert_eq "demo.sh --once exit status" 0 "$st"
out=$(cat "$WORK/demo.out")
stored=$(sed -n 's/^demo: stored events: \([0-9]*\), rejected: \([0-9]*\)$/\1/p' <<<"$out")
rejected=$(sed -n 's/^demo: stored events: \([0-9]*\), rejected: \([0-9]*\)$/\2/p' <<<"$out")
assert_ge "events stored by the demo campaign" 100 "${stored:-0}"
assert_eq "events rejected in the demo" 0 "${rejected:-missing}"
assert_eq "rows in the demo database" "$stored" "$(sql_count "$KDC_DEMO_DIR/ward.db" events)"
assert_contains "demo output" "demo: dashboard: http://127.0.0.1:" "$out"
assert_contains "demo output" "demo: stopped everything it started" "$out"
for f in "$KDC_DEMO_DIR/broker/mosquitto.pid" "$KDC_DEMO_DIR/agg/agg.pid"; do
	[ -e "$f" ] && pid_alive "$(cat "$f")" && fail "process $(cat "$f") from $f still running after demo.sh --once"
done
port=$(cat "$KDC_DEMO_DIR/broker/port")
port_open "$port" && fail "the demo broker port $port still accepts after demo.sh --once"
echo "ok: broker and aggregator of the demo are gone"
echo "demo_once: stored $stored, rejected 0, statistics and dashboard address printed, nothing left running"
