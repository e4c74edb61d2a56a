#!/usr/bin/env bash
# The household register on a real aggregator: a profile and a register
# (written with the sqlite3 CLI before start, as the ward's import would) make
# the aggregator refuse a visit to a household the register lacks
# (unknown_household) and one in a khóm the profile lacks (unknown_khom); the
# device's `kdc-event rejected` shows both reasons and the ward figures do not
# move. A kdc.v1 HouseholdAdded (built with protoc) joins the register and
# households.total grows by one; a household the ward's tools retire while the
# aggregator runs leaves the denominator.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init register 150
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"
command -v jq >/dev/null || fail "jq is needed (apt-get install -y jq)"

ward=90021
db=$WORK/agg/ward.db
profile=$WORK/profile.ini
mkdir -p "$WORK/agg"
cat >"$profile" <<INI
[ward]
code = $ward
name = Phường 21
[khom 6]
households = 186
people_15plus = 400
[team T1]
khoms = 6
devices = D1
INI
# the store's schema (an empty database), then the register as an import writes it
"$KDC_AGGREGATOR" rebuild --db "$db" --profile "$profile" >"$WORK/rebuild.log" 2>&1 ||
	fail "kdc-aggregator rebuild could not create the database: $(tail -n 3 "$WORK/rebuild.log")"
sql "$db" "insert into register values('6','H0041',2,'import','it',1,null,null,null,0);
	insert into register values('6','H0042',3,'import','it',1,null,null,null,0);
	insert into register values('6','H0043',4,'import','it',1,null,null,null,0);
	insert into register_log(at_ms, by, action, detail) values(1,'it','import','3 households');" ||
	fail "cannot write the register"

agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --profile "$profile" --client-id "kdc-agg-$ward-register"
agg_wait_online "$BROKER_DIR" "$ward" 30
assert_contains "the aggregator's cross-check of register and profile" \
	"khóm 6: the register has 3 households, the profile says 186 (the register is used)" \
	"$(cat "$WORK/agg/agg.log")"

# retained SCOPE JQ: one field of a retained snapshot ("none" when there is none yet).
retained() {
	local msg
	msg=$(mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$BROKER_DIR")" -t "kdc/v1/$ward/stats/$1" \
		-C 1 -W 2 2>/dev/null) || msg=""
	[ -n "$msg" ] || { echo none; return; }
	jq -r "$2" <<<"$msg" 2>/dev/null || echo unreadable
}
retained_is() { [ "$(retained "$1" "$2")" = "$3" ]; }
wait_for 60 "ward households.total 3 (the register's)" retained_is ward .households.total 3
assert_eq "ward people_15plus.total (2 + 3 + 4 from the register)" 9 "$(retained ward .people_15plus.total)"

conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5
dev_event "$conf" visit --khom 6 --household H0042 --outcome surveyed --members 3 \
	--members-15plus 3 --smartphones 1 --needs install_app
dev_event "$conf" visit --khom 6 --household H0O42 --outcome surveyed --members 3 \
	--members-15plus 3 --smartphones 1 --needs install_app
typo_id=$EVENT_ID
dev_event "$conf" account --khom 8 --household H0042 --member 1 --kind payment
khom_id=$EVENT_ID
dev_sync "$conf" 60
rejected=$("$KDC_EVENT" --config "$conf" rejected) || fail "kdc-event rejected failed"
assert_contains "rejected listing" "$typo_id" "$rejected"
assert_contains "rejected listing" \
	"unknown_household: household H0O42 is not in the ward's register for khóm 6" "$rejected"
assert_contains "rejected listing" "$khom_id" "$rejected"
assert_contains "rejected listing" "unknown_khom: khom 8 is not a khom of ward $ward" "$rejected"
assert_eq "rejected listing: last line" "2 rejected" "$(tail -n 1 <<<"$rejected")"
assert_eq "events stored" 1 "$(sql_count "$db" events)"
wait_for 60 "ward rejected_total 2" retained_is ward .rejected_total 2
assert_eq "ward households.visited (only H0042)" 1 "$(retained ward .households.visited)"
assert_eq "ward stored_total" 1 "$(retained ward .stored_total)"
assert_eq "ward people_15plus.with_payment_account" 0 "$(retained ward .people_15plus.with_payment_account)"
assert_eq "ward households.total" 3 "$(retained ward .households.total)"

# A household found in the field, as kdc.v1 (protoc), on D1's topic.
add_id=$(uuid7_hex)
now_ms=$(($(date +%s%N) / 1000000))
printf 'id: "%s"\nseq: 100\noccurred_ms: %s\nward: "%s"\nkhom: "6"\nteam: "T1"\ndevice: "D1"\nhousehold: "H0044"\nhousehold_added { people_15plus: 5 }\n' \
	"$(hex_escape "$add_id")" "$now_ms" "$ward" | pb_encode kdc.v1.Event event >"$WORK/add.bin" ||
	fail "protoc could not encode the HouseholdAdded event"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/events/T1/D1" "$WORK/add.bin"
wait_for 60 "ward households.total 4 after the field addition" retained_is ward .households.total 4
assert_eq "ward people_15plus.total" 14 "$(retained ward .people_15plus.total)"
assert_eq "register row of H0044" "field|D1|5" \
	"$(sql "$db" "select source, added_by, people_15plus from register where household = 'H0044';")"
assert_eq "register_log field_add rows" 1 "$(sql_count "$db" register_log "action = 'field_add'")"
# The device learns of it with its team's worklist (it refuses a household
# the register's list lacks): wait for the khóm's list and for the team's
# worklist, the one the device reads (they are published separately), that
# have it, then sync.
listed() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$BROKER_DIR")" -t "kdc/v1/$ward/households/khom/6" \
		-C 1 -W 2 2>/dev/null | jq -e '.households | map(.household) | index("H0044")' >/dev/null
}
wait_for 60 "H0044 on khóm 6's household list" listed
on_worklist() { mq_worklist "$BROKER_DIR" "$ward" T1 | grep -q '^  household: "H0044"$'; }
wait_for 60 "H0044 on team T1's worklist" on_worklist
dev_sync "$conf" 60
dev_event "$conf" visit --khom 6 --household H0044 --outcome not_home --members 0 \
	--members-15plus 0 --smartphones 0
dev_sync "$conf" 60
wait_for 60 "ward households.visited 2" retained_is ward .households.visited 2

# The ward's tools retire H0041 while the aggregator runs.
sql "$db" "begin; update register set retired_ms = 2, retired_by = 'it', retired_reason = 'moved'
	where khom = '6' and household = 'H0041';
	insert into register_log(at_ms, by, action, khom, household, detail)
	values(2, 'it', 'retire', '6', 'H0041', 'moved'); commit;" || fail "cannot retire H0041"
wait_for 60 "ward households.total 3 after the retirement" retained_is ward .households.total 3
agg_alive "$WORK/agg" || fail "the aggregator died"
agg_stop "$WORK/agg"

echo "register: unknown_household and unknown_khom refused and listed on the device, figures unmoved (visited 1, stored 1); HouseholdAdded made households.total 3 -> 4; a retirement by the ward's tools 4 -> 3"
