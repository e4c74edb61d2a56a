#!/usr/bin/env bash
# The team worklists and the khóms' household lists over a real broker: a
# ward with a small register (written with the sqlite3 CLI before the
# aggregator starts), visits recorded with kdc-event and synced; the retained
# kdc.v1.Worklist of team T1 (decoded with protoc, independently of the
# project's code) and the kdc.households.v1 JSON of khóm 6 (read with jq)
# show where each household stands: not at home twice is not_home with 2
# attempts, a surveyed visit is surveyed, an account is reached with next
# step payment_account, a retired entry is not listed, and team T2 sees only
# its own khóm.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init worklist 240
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"
command -v jq >/dev/null || fail "jq is not installed (apt-get install jq)"

ward=90024
db=$WORK/agg/ward.db
profile=$WORK/profile.ini
port=$(broker_port "$BROKER_DIR")
mkdir -p "$WORK/agg"
cat >"$profile" <<EOF
[ward]
code = $ward
[khom 6]
households = 5
people_15plus = 12
[khom 7]
households = 1
people_15plus = 2
[team T1]
khoms = 6
devices = D1
[team T2]
khoms = 7
devices = D2
EOF

# The store's tables, then the register (the ward's import, by hand).
"$KDC_AGGREGATOR" rebuild --db "$db" --profile "$profile" >"$WORK/create.log" 2>&1 ||
	fail "kdc-aggregator rebuild could not create the database: $(tail -n 3 "$WORK/create.log")"
sql "$db" "INSERT INTO register(khom, household, people_15plus, source, added_by, added_ms, retired_ms)
	VALUES ('6','H1',3,'import','test',0,NULL), ('6','H2',2,'import','test',0,NULL),
	       ('6','H3',4,'import','test',0,NULL), ('6','H4',NULL,'field','D1',0,NULL),
	       ('6','H5',1,'import','test',0,1), ('7','K1',2,'import','test',0,NULL);
	INSERT INTO register_log(at_ms, by, action, detail) VALUES (0,'test','import','6 households');" ||
	fail "cannot write the register"

agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" --db "$db" \
	--profile "$profile" --client-id "kdc-agg-$ward-worklist" --worklist-interval-ms 200
agg_wait_online "$BROKER_DIR" "$ward" 60

# worklist_text TEAM: the team's retained worklist as "household status
# attempts next people field" lines (names without their enum prefix), after
# a line "seq N"; empty when nothing is retained yet.
worklist_text() {
	mq_worklist "$BROKER_DIR" "$ward" "$1" | awk '
		/^seq:/ { print "seq " $2 }
		/^households {/ { h = ""; s = ""; a = 0; n = ""; p = 0; f = "false" }
		/^  household:/ { h = $2; gsub(/"/, "", h) }
		/^  status:/ { s = $2; sub(/^HOUSEHOLD_STATUS_/, "", s) }
		/^  attempts:/ { a = $2 }
		/^  next:/ { n = $2; sub(/^NEXT_STEP_/, "", n) }
		/^  people_15plus:/ { p = $2 }
		/^  field_added:/ { f = $2 }
		/^}/ { print h, s, a, n, p, f }'
}

# wait_worklist TEAM SECONDS EXPECTED: until the household lines equal EXPECTED.
WL_TEXT=
worklist_is() {
	WL_TEXT=$(worklist_text "$1")
	[ "$(grep -v '^seq ' <<<"$WL_TEXT")" = "$2" ]
}
wait_worklist() {
	local deadline=$((SECONDS + $2))
	until worklist_is "$1" "$3"; do
		[ "$SECONDS" -lt "$deadline" ] ||
			fail "team $1's worklist after ${2}s: expected
$3
got
$WL_TEXT"
		sleep 0.2
	done
	printf 'ok: team %s worklist:\n%s\n' "$1" "$(grep -v '^seq ' <<<"$WL_TEXT")"
}

# Before any event: the register, nobody visited (H5 is retired).
wait_worklist T1 60 "H1 NOT_VISITED 0 VISIT 3 false
H2 NOT_VISITED 0 VISIT 2 false
H3 NOT_VISITED 0 VISIT 4 false
H4 NOT_VISITED 0 VISIT 0 true"
wait_worklist T2 60 "K1 NOT_VISITED 0 VISIT 2 false"
seq_before=$(sed -n 's/^seq //p' <<<"$WL_TEXT")

conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 D1 resend-after=5
at1=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
at2=$(date -u -d '-1 hours' +%Y-%m-%dT%H:%M:%SZ)
dev_event "$conf" visit --khom 6 --household H1 --outcome not_home --at "$at1"
dev_event "$conf" visit --khom 6 --household H1 --outcome not_home --at "$at2"
dev_event "$conf" visit --khom 6 --household H2 --outcome surveyed --members 3 --members-15plus 2 \
	--smartphones 1
dev_event "$conf" visit --khom 6 --household H3 --outcome surveyed --members 4 --members-15plus 4 \
	--smartphones 2
dev_event "$conf" account --khom 6 --household H3 --member 1 --kind public_service_portal
dev_sync "$conf" 60
assert_eq "events stored" 5 "$(sql_count "$db" events)"

wait_worklist T1 60 "H1 NOT_HOME 2 REVISIT 3 false
H2 SURVEYED 0 OPEN_ACCOUNT 2 false
H3 REACHED 0 PAYMENT_ACCOUNT 4 false
H4 NOT_VISITED 0 VISIT 0 true"
last_ms=$(mq_worklist "$BROKER_DIR" "$ward" T1 5 | sed -n 's/^  last_attempt_ms: //p')
assert_eq "H1's last attempt (ms)" "$(($(date -u -d "$at2" +%s) * 1000))" "$last_ms"

# Team T2's list did not change: not published again (same seq).
worklist_is T2 "K1 NOT_VISITED 0 VISIT 2 false" || fail "team T2's list changed: $WL_TEXT"
assert_eq "team T2's worklist seq (unchanged, not published again)" "$seq_before" \
	"$(sed -n 's/^seq //p' <<<"$WL_TEXT")"

# The dashboard's list of khóm 6.
json=$(mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t "kdc/v1/$ward/households/khom/6" -C 1 -W 5)
assert_eq "households schema" kdc.households.v1 "$(jq -r .schema <<<"$json")"
assert_eq "households register" true "$(jq -r .register <<<"$json")"
assert_eq "households counts" "4 1 1 0 1 1 1" \
	"$(jq -r '.counts | "\(.total) \(.not_visited) \(.not_home) \(.declined) \(.surveyed) \(.reached) \(.field_added)"' <<<"$json")"
assert_eq "H1 in the khóm's list" "not_home 2 revisit" \
	"$(jq -r '.households[] | select(.household == "H1") | "\(.status) \(.attempts) \(.next)"' <<<"$json")"
assert_eq "H1's last attempt" "$(date -u -d "$at2" +%Y-%m-%dT%H:%M:%S).000Z" \
	"$(jq -r '.households[] | select(.household == "H1") | .last_attempt' <<<"$json")"
assert_eq "H3 in the khóm's list" "reached payment_account" \
	"$(jq -r '.households[] | select(.household == "H3") | "\(.status) \(.next)"' <<<"$json")"

agg_stop "$WORK/agg"
kdc_say "PASS"
