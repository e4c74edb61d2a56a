#!/usr/bin/env bash
# scripts/demo.sh --once, as a person would run it (minus the build): it must
# import the example register of khóm 6, store the simulated campaign for the
# register's households with nothing rejected (no unknown_household), print
# the statistics and the dashboard address, void one stored event from the
# device that recorded it (the figures lose it: one household visited less,
# one event voided), and leave no process behind.
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
assert_eq "activities of the households and the businesses in the demo database" "$stored" \
	"$(sql_count "$KDC_DEMO_DIR/ward.db" events "kind < 4 or kind between 6 and 8")"
assert_ge "business events (visits, e-invoices, accounts) of the simulated shops" 20 \
	"$(sql_count "$KDC_DEMO_DIR/ward.db" events "kind between 6 and 8")"

# the register is in use: its 186 households are the denominator, and every
# stored event names one of them
assert_eq "households in the demo's register" 186 \
	"$(sql_count "$KDC_DEMO_DIR/ward.db" register "retired_ms is null and business = 0")"
assert_eq "businesses in the demo's register" 20 \
	"$(sql_count "$KDC_DEMO_DIR/ward.db" register "retired_ms is null and business = 1")"
# the four targets of the programme that kdc measures, each with its
# projection (a date, met, or not at the last 30 days' pace)
for ind in households_reached people_paying_regularly service_users_e_identified businesses_using_einvoice; do
	grep -qE "^demo: target $ind: [0-9.]+% by [0-9-]{10}; now [0-9]+ of [0-9]+; projected ([0-9]{4}-[0-9]{2}-[0-9]{2}|met|not at the last 30 days' pace)$" <<<"$out" ||
		fail "the demo does not print the target $ind with its projection"
	echo "ok: $(grep "^demo: target $ind:" <<<"$out")"
done
assert_contains "demo output" "demo: register of khóm 6: 186 households on the register; not visited 0," "$out"
assert_contains "demo output" "demo: refused as unknown_household: 0" "$out"
assert_eq "stored events of households not on the register" 0 \
	"$(sql_count "$KDC_DEMO_DIR/ward.db" events "kind < 4 and not exists (select 1 from register r
		where r.khom = events.khom and r.household = events.household)")"
before=$(sed -n 's/^demo: ward figures before the correction: //p' <<<"$out")
after=$(sed -n 's/^demo: ward figures after the correction: *//p' <<<"$out")
# figure NAME LINE: the number after NAME in a figures line
figure() { grep -oE "(^|[ ,;])$1 [0-9]+" <<<"$2" | head -n 1 | grep -oE '[0-9]+$'; }
assert_eq "households (before the void)" 186 "$(figure households "$before")"
assert_eq "households (after the void)" 186 "$(figure households "$after")"
assert_eq "events voided (before)" 0 "$(figure voided "$before")"
assert_eq "events voided (after)" 1 "$(figure voided "$after")"
assert_eq "visits counted after the void" "$(($(figure visits "$before") - 1))" "$(figure visits "$after")"
# the demo voids the visit of a household with no other event when there is
# one (seed 1 has some): then it is visited no more
h=$(sed -n 's/^demo: \$ kdc-event history --household \([^ ]*\).*/\1/p' <<<"$out")
if [ "$(sql_count "$KDC_DEMO_DIR/ward.db" events "household = '$h' and kind < 4")" = 1 ]; then
	assert_eq "households visited after voiding $h's only visit" \
		"$(($(figure visited "$before") - 1))" "$(figure visited "$after")"
fi
assert_contains "demo output" "demo: voided events: 1, rejected: 0" "$out"
assert_eq "events voided in the demo database" 1 "$(sql_count "$KDC_DEMO_DIR/ward.db" events "voided_by is not null")"
assert_contains "demo output" "team T1's worklist (ward 31975)" "$out"
assert_contains "demo output" "demo: dashboard: http://127.0.0.1:" "$out"
assert_contains "demo output" "demo: stopped everything it started" "$out"
for f in "$KDC_DEMO_DIR/broker/mosquitto.pid" "$KDC_DEMO_DIR/agg/agg.pid"; do
	[ -e "$f" ] && pid_alive "$(cat "$f")" && fail "process $(cat "$f") from $f still running after demo.sh --once"
done
port=$(cat "$KDC_DEMO_DIR/broker/port")
port_open "$port" && fail "the demo broker port $port still accepts after demo.sh --once"
echo "ok: broker and aggregator of the demo are gone"
echo "demo_once: register of 186 households imported, stored $stored, rejected 0, one event voided ($before -> $after), nothing left running"
