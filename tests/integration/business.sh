#!/usr/bin/env bash
# Businesses on the register, end to end: an import with a type column puts
# a business (B001) beside a household (H001); kdc-event records the three
# business events (a visit that saw e-invoices and online public services,
# an e-invoice adoption, an e-identified business account) and a service used
# with VNeID level 2; they sync over a real broker to a real aggregator and
# are stored field by field. An event for a household naming the business,
# and a business event naming the household, are refused wrong_entry_type.
# kdc-event amend corrects business events: a stored visit moved to another
# business with another outcome (a void and the corrected visit), the
# refused one given the business's code (the corrected event alone); fields
# a business event lacks are refused on the device.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init business 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90041
profile=$WORK/ward-profile.ini
sed "s/^code = 31975$/code = $ward/" "$KDC_SOURCE_DIR/deploy/ward-profile.example.ini" >"$profile"
db=$WORK/agg/ward.db
mkdir -p "$WORK/agg"
printf 'khom,household,type,people_15plus\n6,H001,household,3\n6,B001,business,\n6,B002,business,\n' \
	>"$WORK/reg.csv"
"$KDC_AGGREGATOR" register import "$WORK/reg.csv" --db "$db" --profile "$profile" --by it \
	>"$WORK/import.out" 2>&1 || fail "register import failed: $(cat "$WORK/import.out")"
assert_eq "businesses on the register" 2 "$(sql_count "$db" register "business = 1")"

agg_start "$WORK/agg" --broker "$(broker_url "$BROKER_DIR")" --ward "$ward" \
	--db "$db" --profile "$profile" --client-id "kdc-agg-$ward-business"
agg_wait_online "$BROKER_DIR" "$ward" 30
conf=$WORK/d1.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T1 T1-D1 resend-after=5

declare -A id expected
fields="kind subkind member needs flags household"
# kinds: service 3, business_visit 6, einvoice 7, business_account 8;
# needs einvoice (1) and eid_account (2): 2 + 4; flags: e-invoice 1, online
# services 2, VNeID 4
dev_event "$conf" business-visit --khom 6 --code B001 --outcome surveyed --einvoice \
	--online-services --needs einvoice,eid_account
id[bvisit]=$EVENT_ID
expected[bvisit]="6|1|0|6|3|B001"
dev_event "$conf" einvoice --khom 6 --code B001
id[einvoice]=$EVENT_ID
expected[einvoice]="7|0|0|0|0|B001"
dev_event "$conf" business-account --khom 6 --code B001
id[baccount]=$EVENT_ID
expected[baccount]="8|0|0|0|0|B001"
dev_event "$conf" service --khom 6 --household H001 --member 1 --kind other --vneid
id[service]=$EVENT_ID
expected[service]="3|5|1|0|4|H001"
dev_event "$conf" visit --khom 6 --household B001 --outcome surveyed
id[wrong_visit]=$EVENT_ID
dev_event "$conf" business-visit --khom 6 --code H001 --outcome declined
id[wrong_bvisit]=$EVENT_ID

# plain-word refusals on the device, before anything is recorded
st=0
out=$("$KDC_EVENT" --config "$conf" business-visit --khom 6 --code B001 2>&1) || st=$?
assert_eq "business-visit without --outcome: exit status" 2 "$st"
assert_contains "its reason" "missing --outcome" "$out"
st=0
out=$("$KDC_EVENT" --config "$conf" business-visit --khom 6 --code B001 --outcome surveyed \
	--needs vneid 2>&1) || st=$?
assert_eq "a household's need on a business visit: exit status" 2 "$st"
assert_contains "its reason" "unknown need 'vneid' in --needs: use einvoice, eid_account" "$out"
st=0
out=$("$KDC_EVENT" --config "$conf" einvoice --khom 6 2>&1) || st=$?
assert_eq "einvoice without --code: exit status" 2 "$st"
assert_contains "its reason" "missing --code" "$out"

dev_sync "$conf" 60
assert_eq "rows stored" 4 "$(sql_count "$db" events)"
read -r -a names <<<"$fields"
for k in bvisit einvoice baccount service; do
	hex=$(uuid_hex "${id[$k]}")
	row=$(sql "$db" "select $(tr ' ' ',' <<<"$fields") from events where lower(hex(id)) = '$hex';")
	[ "$row" = "${expected[$k]}" ] ||
		fail "$k event ${id[$k]}: expected ($fields) ${expected[$k]}, got '${row:-<no row>}'"
	echo "ok: $k event stored as recorded"
done
for k in wrong_visit wrong_bvisit; do
	hex=$(uuid_hex "${id[$k]}")
	assert_eq "$k refused wrong_entry_type" wrong_entry_type \
		"$(sql "$db" "select reason_name from rejected where lower(hex(event_id)) = '$hex';")"
done
assert_contains "the refusal in plain words, on the device" \
	"B001 of khóm 6 is a business in the ward's register, not a household" \
	"$("$KDC_EVENT" --config "$conf" rejected 2>&1)"

# ---- amend ------------------------------------------------------------------------------
amend() {
	AMENDED=$("$KDC_EVENT" --config "$conf" amend "$@" 2>&1) || fail "kdc-event amend $* failed: $AMENDED"
	NEW_ID=$(printf '%s\n' "$AMENDED" | sed -n 's/^new //p')
	[ -n "$NEW_ID" ] || fail "kdc-event amend $* printed no new id: $AMENDED"
}
refused() { # refused WHAT WORDS ARGS...: amend exits 2 saying WORDS
	local what=$1 words=$2 st=0 out
	shift 2
	out=$("$KDC_EVENT" --config "$conf" amend "$@" 2>&1) || st=$?
	assert_eq "amend $what: exit status" 2 "$st"
	assert_contains "amend $what: reason" "$words" "$out"
}
refused "--member of a business visit" "is for the whole household or business" \
	"${id[bvisit]: -12}" --member 2
refused "--kind of an e-invoice adoption" "which has no such field" "${id[einvoice]: -12}" --kind other
refused "--outcome of a business account" "which has no such field" "${id[baccount]: -12}" \
	--outcome declined
refused "--needs a household's need on a business visit" "unknown need 'vneid'" \
	"${id[bvisit]: -12}" --needs vneid
before=$(sql_count "$db" events)
amend "${id[bvisit]: -12}" --code B002 --outcome declined --needs ''
new_bvisit=$NEW_ID
assert_contains "amend of a stored business visit: a void too" "void " "$AMENDED"
amend "${id[wrong_bvisit]: -12}" --code B002
new_wrong=$NEW_ID
case "$AMENDED" in *"void "*) fail "amend of a refused event recorded a void: $AMENDED" ;; esac
dev_sync "$conf" 60
assert_eq "rows stored after the amendments (two visits, one void)" $((before + 3)) "$(sql_count "$db" events)"
assert_eq "the amended business visit is voided" 1 \
	"$(sql_count "$db" events "lower(hex(id)) = '$(uuid_hex "${id[bvisit]}")' and voided_by is not null")"
# kind, outcome declined (3), member, needs (none), flags (e-invoice and
# online services seen, kept), code
assert_eq "the corrected business visit" "6|3|0|0|3|B002" \
	"$(sql "$db" "select $(tr ' ' ',' <<<"$fields") from events where lower(hex(id)) = '$(uuid_hex "$new_bvisit")';")"
assert_eq "the corrected refused visit" "6|3|0|0|0|B002" \
	"$(sql "$db" "select $(tr ' ' ',' <<<"$fields") from events where lower(hex(id)) = '$(uuid_hex "$new_wrong")';")"
echo "business: 4 business and VNeID events stored field by field; a household event on a business and a business event on a household refused wrong_entry_type; business events amended"
