#!/usr/bin/env bash
# A scripted campaign in khóm 6 (186 households, 520 people aged 15+) goes
# through kdc-event, the real broker and kdc-aggregator; the retained stats
# JSON, read back with mosquitto_sub, matches what this script expects field
# by field, target progress and projected dates included. Then: the same
# numbers after a restart (seq goes on), after `kdc-aggregator rebuild`, and
# from `kdc-stats --once --json`.
#
# Every expected number below is worked out from the campaign, not read from
# the code under test. Event times are noon (local, UTC+07:00) k days ago, so
# the time of day the test runs at does not matter; "now" events are one
# minute old.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init stats_campaign
need_program KDC_EVENT
need_program KDC_AGGREGATOR
need_program KDC_STATS
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90303
offset_s=$((7 * 3600))
local_day() { echo $((($(date -u +%s) + offset_s) / 86400)); }
# Crossing local midnight during the test would move every window, and the
# "now" events (one minute old) must fall on today: start neither in the last
# 7 minutes of a local day (the test takes up to about 5 under ASan on a busy
# machine) nor in its first 2. Waits at most 9 minutes, on 0.6% of days' starts.
in_day() { echo $((($(date -u +%s) + offset_s) % 86400)); }
while [ "$(in_day)" -gt $((86400 - 420)) ] || [ "$(in_day)" -lt 120 ]; do sleep 5; done
today=$(local_day)
day_str() { date -u -d "@$(($1 * 86400))" +%Y-%m-%d; }
noon_ago() { echo "$(day_str $((today - $1)))T05:00:00Z"; } # 12:00 at UTC+07:00
recent=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)

profile=$WORK/ward-profile.ini
cat >"$profile" <<EOF
[ward]
code = $ward
name = Phường 1, TP Cà Mau
utc_offset = +07:00
[khom 6]
name = Khóm 6
households = 186
people_15plus = 520
[team T1]
name = Tổ công nghệ số khóm 6
khoms = 6
devices = T1-D1, T1-D2, T1-D3
EOF

db=$WORK/agg/ward.db
agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" --db "$db" \
	--profile "$profile" --client-id "kdc-agg-$ward-campaign" --unknown-codes count
agg_wait_online "$BROKER_DIR" "$ward" 30

d1=$WORK/d1.conf
d2=$WORK/d2.conf
dev_config "$d1" "$BROKER_DIR" "$ward" T1 T1-D1
dev_config "$d2" "$BROKER_DIR" "$ward" T1 T1-D2
hh() { printf 'H%03d' "$1"; }
kdc_say "recording the campaign"
# Visits: H001-H040 40 days ago; H041-H120 on days 2..29 ago (k = 2 + i % 28);
# H001-H110 surveyed, H111-H120 not at home; H111-H115 surveyed on a second
# visit 3 days ago.
declare -A visits_on # days ago -> visits
for i in $(seq 1 120); do
	if [ "$i" -le 40 ]; then k=40; else k=$((2 + (i - 41) % 28)); fi
	outcome=surveyed
	[ "$i" -gt 110 ] && outcome=not_home
	dev_event "$d1" visit --khom 6 --household "$(hh "$i")" --outcome "$outcome" \
		--members 4 --members-15plus 3 --smartphones 1 --at "$(noon_ago "$k")"
	visits_on[$k]=$((${visits_on[$k]:-0} + 1))
done
for i in $(seq 111 115); do
	dev_event "$d1" visit --khom 6 --household "$(hh "$i")" --outcome surveyed --at "$(noon_ago 3)"
	visits_on[3]=$((${visits_on[3]:-0} + 1))
done
# Accounts: H001-H050 member 1 a payment account 45 days ago; H001-H020
# member 1 the public service portal 40 days ago; H001 member 2 the provincial
# app 40 days ago; H021-H080 member 1 VNeID level 2 on days 2..29 ago.
declare -A accounts_on
for i in $(seq 1 50); do
	dev_event "$d1" account --khom 6 --household "$(hh "$i")" --member 1 --kind payment --at "$(noon_ago 45)"
done
for i in $(seq 1 20); do
	dev_event "$d1" account --khom 6 --household "$(hh "$i")" --member 1 --kind public_service_portal \
		--at "$(noon_ago 40)"
done
dev_event "$d1" account --khom 6 --household H001 --member 2 --kind provincial_app --at "$(noon_ago 40)"
for i in $(seq 21 80); do
	k=$((2 + (i - 21) % 28))
	dev_event "$d1" account --khom 6 --household "$(hh "$i")" --member 1 --kind vneid_level2 --at "$(noon_ago "$k")"
	accounts_on[$k]=$((${accounts_on[$k]:-0} + 1))
done
# Payments: H001-H010 member 1 paid 35 days ago (50,000 VND each), H011-H050
# member 1 five days ago (120,000 each), H011 once more a minute ago
# (100,000); one birth registration a minute ago.
for i in $(seq 1 10); do
	dev_event "$d2" payment --khom 6 --household "$(hh "$i")" --member 1 --purpose electricity \
		--method qr_code --amount 50000 --at "$(noon_ago 35)"
done
for i in $(seq 11 50); do
	dev_event "$d2" payment --khom 6 --household "$(hh "$i")" --member 1 --purpose water \
		--method bank_transfer --amount 120000 --at "$(noon_ago 5)"
done
dev_event "$d2" payment --khom 6 --household H011 --member 1 --purpose telecom --method ewallet \
	--amount 100000 --at "$recent"
dev_event "$d2" service --khom 6 --household H090 --member 1 --kind birth_registration --at "$recent"
# One visit in khóm 9, which the profile does not know.
dev_event "$d1" visit --khom 9 --household H001 --outcome surveyed --at "$(noon_ago 2)"

kdc_say "syncing"
dev_sync "$d1" 90
dev_sync "$d2" 90

# ---- read the retained snapshots back -------------------------------------------------
topic() { echo "kdc/v1/$ward/stats/$1"; }
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$BROKER_DIR")" -t "$(topic "$1")" -C 1 -W 3 2>/dev/null
}
stored_is() { [ "$(retained "$1" | jq -r '.stored_total' 2>/dev/null)" = "$2" ]; }
wait_for 60 "ward snapshot with all 309 events" stored_is ward 309
wait_for 60 "khóm 6 snapshot with its 308 events" stored_is khom/6 308

ward_json=$(retained ward)
khom_json=$(retained khom/6)
team_json=$(retained team/T1)
khom9_json=$(retained khom/9)
printf '%s\n' "$ward_json" >"$WORK/ward.json"

# check JSON NAME JQPATH EXPECTED: compact jq output must equal EXPECTED
check() {
	local json=$1 name=$2 path=$3 want=$4 got
	got=$(jq -c "$path" <<<"$json" 2>/dev/null) || got="(no $path)"
	assert_eq "$name $path" "$want" "$got"
}

days_between() { # sum of an associative array's values for keys in [lo, hi] days ago
	local -n arr=$1
	local lo=$2 hi=$3 k sum=0
	for k in "${!arr[@]}"; do
		[ "$k" -ge "$lo" ] && [ "$k" -le "$hi" ] && sum=$((sum + arr[$k]))
	done
	echo "$sum"
}
v7=$(days_between visits_on 0 6)
v30=$(days_between visits_on 0 29)
a7=$(days_between accounts_on 0 6)
a30=$(days_between accounts_on 0 29)

# khóm 6: everything above except the khóm-9 visit
j=$khom_json
check "$j" khom6 .schema '"kdc.stats.v1"'
check "$j" khom6 .ward "\"$ward\""
check "$j" khom6 .scope '"khom"'
check "$j" khom6 .id '"6"'
check "$j" khom6 .name '"Khóm 6"'
check "$j" khom6 .unassigned false
check "$j" khom6 .households '{"total":186,"visited":120,"surveyed":115,"reached":80}'
check "$j" khom6 .people_15plus '{"total":520,"with_payment_account":50,"paying_regularly":40}'
check "$j" khom6 .accounts '{"public_service_portal":20,"vneid_level2":60,"provincial_app":1,"payment":50}'
check "$j" khom6 .events.visit "{\"24h\":0,\"7d\":$v7,\"30d\":$v30,\"total\":125}"
check "$j" khom6 .events.account "{\"24h\":0,\"7d\":$a7,\"30d\":$a30,\"total\":131}"
check "$j" khom6 .events.payment '{"24h":1,"7d":41,"30d":41,"total":51}'
check "$j" khom6 .events.service '{"24h":1,"7d":1,"30d":1,"total":1}'
check "$j" khom6 .services '{"birth_registration":1,"marital_status":0,"medical_booking":0,"field_report":0,"other":0}'
check "$j" khom6 .payments '{"count_30d":41,"amount_vnd_30d":4900000,"count_total":51,"amount_vnd_total":5400000}'
check "$j" khom6 .series.start "\"$(day_str $((today - 59)))\""
check "$j" khom6 .series.days 60
check "$j" khom6 '.series.visit | length' 60
check "$j" khom6 '.series.payment[54]' 40           # 5 days ago
check "$j" khom6 '.series.payment[59]' 1            # today
check "$j" khom6 '.series.payment[24]' 10           # 35 days ago
check "$j" khom6 '.series.visit[56]' "${visits_on[3]}"
check "$j" khom6 '.series.visit[19]' 40             # 40 days ago: H001-H040
check "$j" khom6 '.series.service | add' 1
check "$j" khom6 .stored_total 308
check "$j" khom6 .rejected_total 0
check "$j" khom6 .regular_window_days 30
check "$j" khom6 '.devices | map(.device)' '["T1-D1","T1-D2"]'
check "$j" khom6 '.devices | map(.events)' '[256,52]'
check "$j" khom6 .latest_event "\"$(jq -r '.devices[1].last_event' <<<"$j")\""
[ "$(jq -r .latest_event <<<"$j" | cut -c1-16)" = "${recent:0:16}" ] ||
	fail "khom6 latest_event: expected ${recent}, got $(jq -r .latest_event <<<"$j")"

# Targets. Households reached: 80 of 186 now; 50 were reached by the day 30
# days ago (the payment accounts 45 days ago), so +30 in 30 days = 1 a day.
# 85% of 186 = 158.1 -> 159 households; 79 more at 1 a day: in 79 days.
check "$j" khom6 '.targets[0] | [.indicator,.percent,.deadline,.value,.denominator,.gained_30d,.current,.met,.on_track]' \
	'["households_reached",85,"2023-12-31",80,186,30,43.01,false,false]'
check "$j" khom6 '.targets[0].projected' "\"$(day_str $((today + 79)))\""
# People paying regularly: 40 of 520 now (H011-H050); 30 days ago 10
# (H001-H010 paid 35 days ago, within that day's 30-day window). 80% of 520 =
# 416; 376 more at 1 a day: in 376 days.
check "$j" khom6 '.targets[1] | [.indicator,.percent,.deadline,.value,.denominator,.gained_30d,.current,.met,.on_track]' \
	'["people_paying_regularly",80,"2025-12-31",40,520,30,7.69,false,false]'
check "$j" khom6 '.targets[1].projected' "\"$(day_str $((today + 376)))\""
# The programme's two other default targets: the one service user (H090
# member 1, no VNeID level 2 account) is not e-identified, 0 of 1 with no
# pace; no business in the profile or a register: no denominator.
check "$j" khom6 '.targets[2] | [.indicator,.percent,.deadline,.value,.denominator,.gained_30d,.current,.met,.projected]' \
	'["service_users_e_identified",100,"2025-12-31",0,1,0,0,false,null]'
check "$j" khom6 '.targets[3] | [.indicator,.percent,.deadline,.value,.denominator,.current,.projected]' \
	'["businesses_using_einvoice",100,"2025-12-31",0,0,null,null]'
check "$j" khom6 .service_users '{"total":1,"e_identified":0}'
check "$j" khom6 .businesses '{"total":0,"using_einvoice":0}'

# team T1 recorded everything, the khóm-9 visit included; its devices include
# the silent T1-D3.
j=$team_json
check "$j" teamT1 .households '{"total":186,"visited":121,"surveyed":116,"reached":80}'
check "$j" teamT1 .stored_total 309
check "$j" teamT1 .name '"Tổ công nghệ số khóm 6"'
check "$j" teamT1 '.devices | map([.device, .events, (.last_event == null)])' \
	'[["T1-D1",257,false],["T1-D2",52,false],["T1-D3",0,true]]'

# khóm 9 is not in the profile: counted under its own code, flagged
j=$khom9_json
check "$j" khom9 .unassigned true
check "$j" khom9 .households '{"total":0,"visited":1,"surveyed":1,"reached":0}'
check "$j" khom9 '.targets[0].current' null

# the ward: both khóms; denominators from the profile only
j=$ward_json
check "$j" ward .id null
check "$j" ward .ward_name '"Phường 1, TP Cà Mau"'
check "$j" ward .households '{"total":186,"visited":121,"surveyed":116,"reached":80}'
check "$j" ward .people_15plus '{"total":520,"with_payment_account":50,"paying_regularly":40}'
check "$j" ward .stored_total 309
check "$j" ward '.targets | map(.projected)' "[\"$(day_str $((today + 79)))\",\"$(day_str $((today + 376)))\",null,null]"

# ---- the same through kdc-stats ----------------------------------------------------------
viewer=$("$KDC_STATS" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" --khom 6 --once --json --timeout 10)
assert_eq "kdc-stats --once --json exit status" 0 "$?"
assert_eq "kdc-stats --once --json prints the retained snapshot" "$khom_json" "$viewer"
table=$("$KDC_STATS" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" --once --timeout 10)
assert_contains "kdc-stats table" "Phường 1, TP Cà Mau" "$table"
assert_contains "kdc-stats table" "households_reached" "$table"
assert_contains "kdc-stats table" "reached $(day_str $((today + 79)))" "$table"
"$KDC_STATS" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" --team NOPE --once --json --timeout 2 \
	>/dev/null 2>"$WORK/nope.err"
assert_eq "kdc-stats exit status when nothing is retained" 3 "$?"
assert_contains "kdc-stats timeout message" "no statistics within 2 s" "$(cat "$WORK/nope.err")"

# ---- restart and rebuild give the same numbers ------------------------------------------
numbers() { jq -S 'del(.seq, .as_of, .as_of_ms)' <<<"$1"; }
agg_stop "$WORK/agg"
# What it left retained (its once-a-minute republish may have come after
# ward_json was read): the restarted aggregator goes on from there.
before=$(retained ward)
seq_before=$(jq .seq <<<"$before")
"$KDC_AGGREGATOR" rebuild --db "$db" --profile "$profile" >"$WORK/rebuild.log" 2>&1 ||
	fail "kdc-aggregator rebuild failed: $(tail -n 3 "$WORK/rebuild.log")"
agg_restart "$WORK/agg"
t_restart=$SECONDS
agg_wait_online "$BROKER_DIR" "$ward" 30
seq_is_after() { [ "$(retained ward | jq .seq)" -gt "$seq_before" ] 2>/dev/null; }
wait_for 60 "a new ward snapshot after the restart" seq_is_after
after=$(retained ward)
if [ "$(numbers "$before")" != "$(numbers "$after")" ]; then
	diff <(numbers "$before") <(numbers "$after") | head -20 >&2
	fail "the ward's numbers changed across rebuild and restart"
fi
# one more than before; on a machine so busy that this came a minute or more
# after the restart, the once-a-minute republish may have added one a minute
assert_between "ward seq after restart (one more than before)" $((seq_before + 1)) \
	$((seq_before + 1 + (SECONDS - t_restart) / 60)) "$(jq .seq <<<"$after")"
agg_stop "$WORK/agg"
kdc_say "campaign statistics: all checks passed"
