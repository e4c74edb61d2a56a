#!/usr/bin/env bash
# test_deploy_register.sh: the ward office's commands through kdc-ward, on a
# ward set up by kdc-ward init (its broker, its aggregator with
# aggregator.conf): register import (dry run, then for real, signed --by),
# list and log; events and void of a device's event while the aggregator
# runs; forget refused while it runs (exit 3, "stop it first"), done after
# it stopped, and the one deletion procedure of deploy/README.md.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/ward_lib.sh"
kdc_test_init deploy_register 150
ward_setup
csv=$KDC_SOURCE_DIR/deploy/register-khom6.example.csv
kw() { "$KDC_WARD" "$@" --dir "$DIR"; }

kw register import "$csv" --dry-run >"$WORK/dry.out" 2>&1 || fail "kdc-ward register import --dry-run: $(cat "$WORK/dry.out")"
assert_contains "dry run" "would add 186, change 0, retire 0; 0 unchanged" "$(cat "$WORK/dry.out")"
assert_eq "register rows after the dry run" 0 "$(sql_count "$DB" register)"
kw register import "$csv" --by "Nguyen Van A" >"$WORK/import.out" 2>&1 || fail "kdc-ward register import: $(cat "$WORK/import.out")"
assert_contains "import" "added 186, changed 0, retired 0; 0 unchanged" "$(cat "$WORK/import.out")"
assert_eq "register log rows signed by the officer" 186 "$(sql_count "$DB" register_log "by = 'Nguyen Van A'")"
kw register list --khom 6 >"$WORK/list.out" 2>&1 || fail "kdc-ward register list: $(cat "$WORK/list.out")"
assert_contains "list" "186 active households in khóm 6" "$(cat "$WORK/list.out")"
st=0
kw register import "$csv" --db "$WORK/other.db" >"$WORK/db.out" 2>&1 || st=$?
assert_eq "kdc-ward with --db: exit status" 1 "$st"
assert_contains "kdc-ward with --db" "not needed here" "$(cat "$WORK/db.out")"

# a device's event, found with events and voided by the ward
dev_visit D1 H0042 || fail "recording a visit failed: $(tail -n 2 "$WORK/events.out")"
dev_sync D1 || fail "sync failed: $(tail -n 2 "$WORK/events.out")"
kw events --khom 6 --household H0042 >"$WORK/events.list" 2>&1 || fail "kdc-ward events: $(cat "$WORK/events.list")"
id=$(awk '$5 == "H0042" { print $1 }' "$WORK/events.list" | head -n 1)
[ -n "$id" ] || fail "kdc-ward events showed no event of H0042: $(cat "$WORK/events.list")"
kw void --event "$id" --reason "wrong household" >"$WORK/void.out" 2>&1 || fail "kdc-ward void: $(cat "$WORK/void.out")"
assert_contains "void" "voided event $id" "$(cat "$WORK/void.out")"
assert_eq "voided events" 1 "$(sql_count "$DB" events "voided_by is not null")"

# forget: refused while the aggregator runs, done once it is stopped
st=0
kw forget --khom 6 --household H0042 >"$WORK/forget1.out" 2>&1 || st=$?
assert_eq "kdc-ward forget while the aggregator runs: exit status" 3 "$st"
assert_contains "kdc-ward forget while the aggregator runs" "stop it first: systemctl stop kdc-aggregator@$WARD" "$(cat "$WORK/forget1.out")"
assert_eq "events of H0042 after the refused forget" 1 "$(sql_count "$DB" events "household = 'H0042'")"
agg_stop "$WORK/agg"
kw forget --khom 6 --household H0042 >"$WORK/forget2.out" 2>&1 || fail "kdc-ward forget: $(cat "$WORK/forget2.out")"
assert_contains "kdc-ward forget" "household H0042 of khóm 6: 1 events and 0 refused payloads deleted, register entry deleted" "$(cat "$WORK/forget2.out")"
assert_contains "kdc-ward forget" "systemctl start kdc-aggregator@$WARD" "$(cat "$WORK/forget2.out")"
assert_eq "events of H0042" 0 "$(sql_count "$DB" events "household = 'H0042'")"
assert_eq "register entry of H0042" 0 "$(sql_count "$DB" register "household = 'H0042'")"

# the docs give one deletion procedure: deploy/README.md's, and the others point to it
n=$(grep -l 'kdc-ward forget --khom' "$KDC_SOURCE_DIR/README.md" "$KDC_SOURCE_DIR/deploy/README.md" \
	"$KDC_SOURCE_DIR"/docs/*.md | wc -l)
[ "$n" -ge 1 ] || fail "no document gives the deletion procedure (kdc-ward forget --khom)"
if grep -n 'DELETE FROM events' "$KDC_SOURCE_DIR/README.md" "$KDC_SOURCE_DIR/deploy/README.md" "$KDC_SOURCE_DIR"/docs/*.md; then
	fail "a document still deletes a household's events by hand with sqlite3"
fi
kdc_say "kdc-ward register/events/void/forget on a ward set up by kdc-ward"
