#!/usr/bin/env bash
# A 90-day simulated campaign for khóm 6 (deploy/ward-profile.example.ini:
# 186 households, team T1, four devices) goes through kdc-sim, a real
# mosquitto and the real kdc-aggregator. At the end:
#  - every event the simulator recorded is stored exactly once (the events
#    table holds the recorded total, one row per id and per device + seq),
#    at its own event time inside the simulated window; nothing rejected;
#  - every device outbox is empty;
#  - the retained ward statistics agree with the simulator's own summary:
#    events per kind, households visited (<= 186) / surveyed / reached, people
#    with a payment account and paying regularly, accounts per kind, payments
#    and their amount, events per device.
# The broker is this test's own: the example ward's device client ids
# (kdc-sim-31975-T1-D1, ...) must not meet another test's sessions.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init sim_campaign
need_program KDC_SIM
need_program KDC_AGGREGATOR
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"

profile=$KDC_SOURCE_DIR/deploy/ward-profile.example.ini
[ -f "$profile" ] || fail "no example profile at $profile"
ward=$(sed -n 's/^[[:space:]]*code[[:space:]]*=[[:space:]]*\([A-Za-z0-9_-]*\).*/\1/p' "$profile" | head -n 1)
[ -n "$ward" ] || fail "cannot read the ward code from $profile"
db=$WORK/ward.db
summary=$WORK/summary.json
offset_s=$((7 * 3600))
local_day() { echo $((($(date -u +%s) + offset_s) / 86400)); }

broker_start "$WORK/broker"
url=$(broker_url "$WORK/broker")
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --profile "$profile" \
	--client-id "kdc-agg-$ward-simtest"
agg_wait_online "$WORK/broker" "$ward" 30

kdc_say "kdc-sim: 90 days, seed 42"
day_before=$(local_day)
t0=$SECONDS
"$KDC_SIM" --broker "$url" --profile "$profile" --dir "$WORK/sim" --days 90 --seed 42 \
	--sync-timeout 120 --progress lines --summary-json "$summary" >"$WORK/sim.log" 2>&1
st=$?
KDC_LOGS+=("$WORK/sim.log")
assert_eq "kdc-sim exit status" 0 "$st"
kdc_say "kdc-sim done in $((SECONDS - t0)) s"
tail -n 5 "$WORK/sim.log"

s() { jq -r "$1" "$summary"; }
total=$(s .events.total)
assert_ge "events recorded by kdc-sim" 1000 "$total"
assert_eq "summary: recorded = events total" "$total" "$(s .recorded)"
assert_eq "summary: delivered" "$total" "$(s .delivered)"
assert_eq "summary: pending" 0 "$(s .pending)"
assert_eq "summary: rejected" 0 "$(s .rejected)"
assert_eq "summary: synced" true "$(s .synced)"
assert_ge "summary: events recorded while the device was offline" 1 "$(s .late_events)"

# ---- stored exactly once -----------------------------------------------------------
assert_eq "events stored" "$total" "$(sql_count "$db" events)"
assert_eq "distinct event ids stored" "$total" "$(sql "$db" 'select count(distinct id) from events;')"
assert_eq "distinct (device, seq) stored" "$total" \
	"$(sql "$db" 'select count(*) from (select distinct device, seq from events);')"
assert_eq "rejected rows" 0 "$(sql_count "$db" rejected)"
kind_names=(visit account payment service)
for k in 0 1 2 3; do
	assert_eq "stored ${kind_names[$k]} events" "$(s ".events.${kind_names[$k]}")" \
		"$(sql_count "$db" events "kind = $k")"
done
assert_eq "events outside the simulated window" 0 \
	"$(sql_count "$db" events "occurred_ms < $(s .start_ms) or occurred_ms > $(s .end_ms)")"
assert_eq "stored payment amount (VND)" "$(s .payments.amount_vnd)" \
	"$(sql "$db" 'select sum(amount_vnd) from events where kind = 2;')"
# services in the summary count all time; the snapshot's are 30-day: check them here
services=(none birth_registration marital_status medical_booking field_report other)
for k in 1 2 3 4 5; do
	assert_eq "stored ${services[$k]} services" "$(s ".services.${services[$k]}")" \
		"$(sql_count "$db" events "kind = 3 and subkind = $k")"
done

# ---- outboxes empty --------------------------------------------------------------
n=0
for ob in "$WORK"/sim/*.db; do
	assert_eq "rows left in $(basename "$ob")" 0 "$(sql_count "$ob" outbox)"
	n=$((n + 1))
done
assert_eq "device outboxes" 4 "$n"

# ---- retained ward statistics -------------------------------------------------------
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$WORK/broker")" -t "kdc/v1/$ward/stats/ward" \
		-C 1 -W 3 2>/dev/null
}
stored_is() { [ "$(retained | jq -r .stored_total 2>/dev/null)" = "$1" ]; }
wait_for 60 "ward stats with all $total events" stored_is "$total"
json=$(retained)
printf '%s\n' "$json" >"$WORK/ward.json"
w() { jq -c "$1" <<<"$json"; }
assert_eq "stats households.total" 186 "$(w .households.total)"
assert_eq "stats households.visited" "$(s .households.visited)" "$(w .households.visited)"
assert_between "stats households.visited" 1 186 "$(w .households.visited)"
assert_eq "stats households.surveyed" "$(s .households.surveyed)" "$(w .households.surveyed)"
assert_eq "stats households.reached" "$(s .households.reached)" "$(w .households.reached)"
assert_eq "stats people_15plus.total" "$(s .people_15plus.total)" "$(w .people_15plus.total)"
assert_eq "stats people_15plus.with_payment_account" "$(s .people_15plus.with_payment_account)" \
	"$(w .people_15plus.with_payment_account)"
if [ "$(local_day)" = "$day_before" ]; then
	# the summary's window ends when the simulation started; same local day
	assert_eq "stats people_15plus.paying_regularly" "$(s .people_15plus.paying_regularly)" \
		"$(w .people_15plus.paying_regularly)"
else
	echo "skip: paying_regularly (local midnight passed during the test)"
fi
assert_eq "stats accounts" "$(jq -c .accounts "$summary")" "$(w .accounts)"
for k in "${kind_names[@]}"; do
	assert_eq "stats events.$k.total" "$(s ".events.$k")" "$(w ".events.$k.total")"
done
assert_eq "stats payments.count_total" "$(s .payments.count)" "$(w .payments.count_total)"
assert_eq "stats payments.amount_vnd_total" "$(s .payments.amount_vnd)" "$(w .payments.amount_vnd_total)"
assert_eq "stats stored_total" "$total" "$(w .stored_total)"
assert_eq "stats rejected_total" 0 "$(w .rejected_total)"
assert_eq "stats devices" '["T1-D1","T1-D2","T1-D3","T1-D4"]' "$(w '[.devices[].device]')"
assert_eq "stats events per device" "$(jq -c '[.devices[].recorded]' "$summary")" \
	"$(w '[.devices[].events]')"

agg_stop "$WORK/agg"
kdc_say "sim campaign: $total events stored once, outboxes empty, stats agree"
