#!/usr/bin/env bash
# kdc-stats shows what the dashboard shows, by the same rules (docs/stats.md):
#  - every percentage from the counts, to one decimal rounded down: 158 of
#    186 households against a target of 85 % is 84.9 %, never 85 %, whatever
#    the JSON's `current` says; 169 of 186 (90.86 %) is 90.8 %;
#  - days left to a deadline from the ward's local date of as_of: at 18:30
#    UTC it is already the next day at +07:00 (29 days to 31 December from
#    2 December, not 30 from 1 December);
#  - the aggregator's will (offline, "since": null) gives the last time it
#    was known alive, the as_of of its last snapshot, and the real
#    aggregator's will, after a SIGKILL, says exactly that;
#  - the households by status of a khóm's household list, summed over the
#    khóms for the ward, and the snapshot's voided events.
# The snapshot is written here by hand (the expected figures are worked out
# from its counts, not read from kdc-stats), published retained on the broker
# fixture for a ward of its own, and removed at the end.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init stats_viewer
need_program KDC_STATS
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90311
port=$(broker_port "$BROKER_DIR")
url=$(broker_url "$BROKER_DIR")
base=kdc/v1/$ward
pub() { mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t "$1" "${@:2}" || fail "mosquitto_pub $1 failed"; }
cleanup() { pub "$base/stats/ward" -n; pub "$base/status/aggregator" -n; }
trap 'st=$?; cleanup; kdc_cleanup $st' EXIT

snapshot='{"schema":"kdc.stats.v1","ward":"'$ward'","ward_name":"Phường 9","scope":"ward","id":null,"name":"Phường 9",
"seq":7,"as_of":"2026-12-01T18:30:00.000Z","as_of_ms":1796149800000,
"households":{"total":186,"visited":169,"surveyed":160,"reached":158},
"people_15plus":{"total":520,"with_payment_account":50,"paying_regularly":40},
"accounts":{"public_service_portal":1,"vneid_level2":2,"provincial_app":3,"payment":4},
"events":{"visit":{"24h":1,"7d":2,"30d":3,"total":4},"account":{"24h":0,"7d":0,"30d":0,"total":0},
"payment":{"24h":0,"7d":0,"30d":0,"total":0},"service":{"24h":0,"7d":0,"30d":0,"total":0}},
"services":{"birth_registration":0,"marital_status":0,"medical_booking":0,"field_report":0,"other":0},
"payments":{"count_30d":0,"amount_vnd_30d":0,"count_total":0,"amount_vnd_total":0},
"targets":[{"indicator":"households_reached","percent":85,"deadline":"2026-12-31","current":84.95,"value":158,
"denominator":186,"gained_30d":3,"projected":null,"on_track":false,"met":false},
{"indicator":"service_users_e_identified","percent":100,"deadline":"2025-12-31","current":66.66,"value":2,
"denominator":3,"gained_30d":1,"projected":null,"on_track":false,"met":false},
{"indicator":"businesses_using_einvoice","percent":100,"deadline":"2025-12-31","current":35.00,"value":7,
"denominator":20,"gained_30d":2,"projected":"2027-03-01","on_track":false,"met":false}],
"service_users":{"total":3,"e_identified":2},"businesses":{"total":20,"using_einvoice":7},
"series":{"start":"2026-12-02","days":1,"visit":[1],"account":[0],"payment":[0],"service":[0]},
"devices":[],"stored_total":4,"rejected_total":0,"latest_event":"2026-12-01T18:00:00.000Z",
"regular_window_days":30,"utc_offset_min":420}'
# 1796149800000 ms is 2026-12-01T18:30:00Z: check the hand-written pair
[ "$(date -u -d @1796149800 +%Y-%m-%dT%H:%M:%S)" = 2026-12-01T18:30:00 ] || fail "as_of_ms does not match as_of"
pub "$base/stats/ward" -m "$(tr -d '\n' <<<"$snapshot")"
pub "$base/status/aggregator" -m '{"status":"offline","ward":"'$ward'","since":null,"reason":"connection lost","version":"0"}'

out=$("$KDC_STATS" --broker "$url" --ward "$ward" --once --timeout 10)
assert_eq "kdc-stats exit status" 0 "$?"
printf '%s\n' "$out"
assert_contains "target from the counts, rounded down" " 84.9% of 85% by 2026-12-31" "$out"
assert_contains "days left from the local date (2026-12-02 at +07:00)" "by 2026-12-31, 29 days left" "$out"
assert_contains "households reached 158 of 186" "84.9%" "$out"
assert_contains "service users, e-identified 2 of 3 rounded down" "3 users (people and businesses), 2 e-identified 66.6%" "$out"
assert_contains "businesses on e-invoices" "Businesses: 20, 7 issuing e-invoices 35%" "$out"
assert_contains "the e-identified target, overdue" "service_users_e_identified" "$out"
assert_contains "the e-invoice target" " 35% of 100% by 2025-12-31" "$out"
assert_contains "households visited 169 of 186 (90.86 %) rounded down" "90.8%" "$out"
case "$out" in *"85.0%"* | *" 85% of"* | *"90.9%"* | *"84.95"*) fail "a percentage was rounded up: $out" ;; esac
assert_contains "times in the ward's local time" "as of 2026-12-02 01:30:00" "$out"
assert_contains "will without since: last seen alive at the last snapshot" \
	"offline, last seen alive 2026-12-02 01:30:00" "$out"

# Households by status and voided events. Two khóms publish their household
# lists (kdc.households.v1; the statuses are listed one household at a time
# here and the expected figures are counted from those lists, not from the
# "counts" the viewer reads); khóm 9's message is not such a list and is left
# out; the snapshots say how many events were voided.
# hh_list KHOM NOT_VISITED NOT_HOME DECLINED SURVEYED REACHED FIELD_ADDED
hh_list() {
	local khom=$1 n=0 i st list='' fa
	local -a sts=(not_visited not_home declined surveyed reached) cnt=("${@:2:5}")
	for i in 0 1 2 3 4; do
		for ((j = 0; j < cnt[i]; j++)); do
			n=$((n + 1))
			st=${sts[i]}
			fa=false; [ "$n" -le "$7" ] && fa=true
			list+=${list:+,}'{"household":"H'$(printf %04d $n)'","status":"'$st'","attempts":0,"last_attempt":null,"next":"visit","field_added":'$fa'}'
		done
	done
	printf '{"schema":"kdc.households.v1","ward":"%s","khom":"%s","name":"Khóm %s","seq":3,"as_of":"2026-12-01T18:30:00Z","as_of_ms":1796149800000,"register":true,"counts":{"total":%d,"not_visited":%d,"not_home":%d,"declined":%d,"surveyed":%d,"reached":%d,"field_added":%d},"households":[%s]}' \
		"$ward" "$khom" "$khom" "$n" "$2" "$3" "$4" "$5" "$6" "$7" "$list"
}
# what the lists say, counted here: status name -> households over the khóms given
hh_expect() {
	local st=$1 total=0 k
	for k in "${@:2}"; do
		total=$((total + $(mosquitto_sub -h 127.0.0.1 -p "$port" -t "$base/households/khom/$k" -C 1 -W 2 |
			grep -o "\"status\":\"$st\"" | wc -l)))
	done
	echo "$total"
}
pub "$base/households/khom/6" -m "$(hh_list 6 40 10 3 50 83 1)"
pub "$base/households/khom/7" -m "$(hh_list 7 5 2 0 1 12 0)"
pub "$base/households/khom/9" -m '{"schema":"kdc.stats.v1","counts":{"not_visited":1000}}'
cleanup_hh() { for k in 6 7 9; do pub "$base/households/khom/$k" -n; done; pub "$base/stats/khom/6" -n; pub "$base/stats/khom/8" -n; }
trap 'st=$?; cleanup_hh; cleanup; kdc_cleanup $st' EXIT
voided_snapshot=$(tr -d '\n' <<<"$snapshot" | sed 's/"events":{/"events":{"voided":12,/')
pub "$base/stats/ward" -m "$voided_snapshot"
pub "$base/status/aggregator" -m '{"status":"online","ward":"'$ward'","since":"2026-12-01T18:00:00Z","version":"0"}'
want="not visited $(hh_expect not_visited 6 7) · not at home $(hh_expect not_home 6 7) · declined $(hh_expect declined 6 7)"
want+=" · surveyed $(hh_expect surveyed 6 7) · reached $(hh_expect reached 6 7)"
assert_eq "the ward's households reached, counted from the lists" 95 "$(hh_expect reached 6 7)"
out=$("$KDC_STATS" --broker "$url" --ward "$ward" --once --timeout 10)
assert_eq "kdc-stats exit status" 0 "$?"
printf '%s\n' "$out"
assert_contains "the ward: households by status, summed over its 2 khóms' lists" \
	"households by status (2 khóms): $want" "$out"
assert_contains "the ward: households on the register, added in the field" \
	"(206 households on the register, 1 added in the field)" "$out"
grep -Eq '^  voided +12  \(corrected or withdrawn' <<<"$out" || fail "the ward's 12 voided events are not shown: $out"
grep -Eq '^  voided +0 +0 ' <<<"$out" && fail "events.voided is drawn as an event kind: $out"

khom_snapshot=$(sed 's/"scope":"ward","id":null,"name":"Phường 9"/"scope":"khom","id":"6","name":"Khóm 6"/; s/"voided":12/"voided":3/' <<<"$voided_snapshot")
pub "$base/stats/khom/6" -m "$khom_snapshot"
want="not visited $(hh_expect not_visited 6) · not at home $(hh_expect not_home 6) · declined $(hh_expect declined 6)"
want+=" · surveyed $(hh_expect surveyed 6) · reached $(hh_expect reached 6)"
assert_eq "the example's line" "not visited 40 · not at home 10 · declined 3 · surveyed 50 · reached 83" "$want"
out=$("$KDC_STATS" --broker "$url" --ward "$ward" --khom 6 --once --timeout 10)
printf '%s\n' "$out"
assert_contains "khóm 6: households by status from its list" "households by status: $want" "$out"
assert_contains "khóm 6: households on the register" "(186 households on the register, 1 added in the field)" "$out"
grep -Eq '^  voided +3  \(corrected' <<<"$out" || fail "khóm 6's 3 voided events are not shown: $out"

# a khóm without a household list, and a snapshot from an older aggregator
# (no events.voided): nothing about voided events, no error
pub "$base/stats/khom/8" -m "$(tr -d '\n' <<<"$snapshot" | sed 's/"scope":"ward","id":null,"name":"Phường 9"/"scope":"khom","id":"8","name":"Khóm 8"/')"
out=$("$KDC_STATS" --broker "$url" --ward "$ward" --khom 8 --once --timeout 10)
assert_eq "kdc-stats exit status (khóm 8)" 0 "$?"
assert_contains "khóm 8: no household list yet" "households by status: no household list published yet" "$out"
case "$out" in *voided*) fail "an older snapshot without events.voided shows a voided line: $out" ;; esac
# a cleared list is gone from the ward's sum
pub "$base/households/khom/7" -n
out=$("$KDC_STATS" --broker "$url" --ward "$ward" --once --timeout 10)
assert_contains "the ward after khóm 7's list was cleared" "households by status (1 khóm): not visited 40 ·" "$out"
cleanup_hh

# The real aggregator's will: since is null (a will is fixed at connect), so
# the viewer falls back to the last snapshot, which the aggregator
# republishes at least once a minute.
cleanup
agg_start "$WORK/agg" --ward "$ward" --db "$WORK/agg.db" --broker "$url" --stats-interval-ms 200
agg_wait_online "$BROKER_DIR" "$ward" 20
snap_asof() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -t "$base/stats/ward" -C 1 -W 2 2>/dev/null |
		sed -n 's/.*"as_of":"\([^"]*\)".*/\1/p'
}
has_snap() { [ -n "$(snap_asof)" ]; }
wait_for 20 "a retained ward snapshot from the aggregator" has_snap
agg_kill "$WORK/agg"
will() { mosquitto_sub -h 127.0.0.1 -p "$port" -t "$base/status/aggregator" -C 1 -W 2 2>/dev/null; }
will_offline() { will | grep -q '"offline"'; }
wait_for 20 "the aggregator's will" will_offline
assert_contains "the will has no since" '"since":null' "$(will)"
asof=$(snap_asof)
local_asof=$(date -u -d "@$(($(date -u -d "$asof" +%s) + 7 * 3600))" '+%Y-%m-%d %H:%M:%S')
out=$("$KDC_STATS" --broker "$url" --ward "$ward" --once --timeout 10)
assert_contains "after a SIGKILL: last seen alive at the as_of of the last snapshot ($asof)" \
	"offline, last seen alive $local_asof" "$out"
echo "ok: kdc-stats viewer"
