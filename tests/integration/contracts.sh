#!/usr/bin/env bash
# The smaller promises of the CLI and storage contracts, against the real
# programs and broker:
#   kdc-event: pending/rejected listings, sync exit 3 on timeout, and what a
#     receipt does to the outbox (committed ids deleted, rejected ids kept
#     with reason and detail) -- the receipt forged here with protoc;
#   kdc-aggregator: exit 2 with a plain message on bad configuration, database
#     mode 0600 in WAL mode with the contract's columns, the retained status
#     (online; offline by the will after SIGKILL; offline after SIGTERM).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init contracts 130
need_program KDC_EVENT
need_program KDC_AGGREGATOR
[ -n "${BROKER_DIR:-}" ] || fail "BROKER_DIR is not set (run under ctest, with the broker fixture)"

ward=90007
port=$(broker_port "$BROKER_DIR")

# ---- kdc-event ------------------------------------------------------------------
conf=$WORK/d5.conf
dev_config "$conf" "$BROKER_DIR" "$ward" T3 D5 resend-after=30
dev_event "$conf" visit --khom 2 --household H7 --outcome declined
id1=$EVENT_ID
dev_event "$conf" payment --khom 2 --household H7 --member 1 --purpose telecom --method card --amount 99000
id2=$EVENT_ID
assert_eq "outbox file mode" 600 "$(stat -c %a "$(dev_outbox "$conf")")"

pending=$("$KDC_EVENT" --config "$conf" pending) || fail "kdc-event pending failed"
assert_eq "pending listing: lines" 3 "$(wc -l <<<"$pending")"
assert_contains "pending listing, line 1" "$id1 1 visit" "$(sed -n 1p <<<"$pending")"
assert_contains "pending listing, line 2" "$id2 2 payment" "$(sed -n 2p <<<"$pending")"
assert_eq "pending listing: last line" "2 pending" "$(tail -n 1 <<<"$pending")"

"$KDC_EVENT" --config "$conf" sync --timeout 2 >"$WORK/sync1.out" 2>"$WORK/sync1.err"
st=$?
assert_eq "sync exit status on timeout (no aggregator for ward $ward)" 3 "$st"
assert_contains "sync stderr on timeout (how many are pending)" "2 event" "$(tail -n 1 "$WORK/sync1.err")"

# A receipt committing the visit and rejecting the payment, as an aggregator
# would send it; the device's persistent session holds it until the next sync.
printf 'device: "D5"\ncommitted: "%s"\nrejected { id: "%s" reason: REJECT_REASON_BAD_VALUE detail: "amount does not match the bill" }\n' \
	"$(hex_escape "$(uuid_hex "$id1")")" "$(hex_escape "$(uuid_hex "$id2")")" |
	pb_encode kdc.v1.Receipt receipt >"$WORK/receipt.bin" || fail "protoc could not encode the receipt"
mq_pub_file "$BROKER_DIR" "kdc/v1/$ward/receipts/D5" "$WORK/receipt.bin"
"$KDC_EVENT" --config "$conf" sync --timeout 20 >"$WORK/sync2.out" 2>"$WORK/sync2.err"
st=$?
assert_eq "sync exit status once the receipt settled everything" 0 "$st"
assert_eq "pending listing after the receipt" "0 pending" "$("$KDC_EVENT" --config "$conf" pending)"
rejected=$("$KDC_EVENT" --config "$conf" rejected) || fail "kdc-event rejected failed"
assert_contains "rejected listing" "$id2 2 payment" "$rejected"
assert_contains "rejected listing" "bad_value: amount does not match the bill" "$rejected"
assert_eq "rejected listing: last line" "1 rejected" "$(tail -n 1 <<<"$rejected")"
assert_eq "outbox rows (the committed one deleted, the rejected one kept)" "1|2" \
	"$(sql "$(dev_outbox "$conf")" 'select count(*), max(state) from outbox;')"

# ---- kdc-aggregator: bad configuration ----------------------------------------------
bad_config() {
	local what=$1 out st
	shift
	out=$("$KDC_AGGREGATOR" "$@" 2>&1 </dev/null)
	st=$?
	[ "$st" = 2 ] || fail "$what: expected exit 2, got $st: $out"
	[ -n "$out" ] || fail "$what: exit 2 but no message"
	case "$out" in *AddressSanitizer* | *"runtime error"*) fail "$what: $out" ;; esac
	printf 'ok: %s: exit 2, "%s"\n' "$what" "$(head -n 1 <<<"$out")"
}
url=$(broker_url "$BROKER_DIR")
bad_config "no --db" --broker "$url" --ward "$ward"
bad_config "ward code with a space" --broker "$url" --ward "90 07" --db "$WORK/x.db"
bad_config "unknown option" --broker "$url" --ward "$ward" --db "$WORK/x.db" --no-such-option 1
bad_config "batch-max out of range" --broker "$url" --ward "$ward" --db "$WORK/x.db" --batch-max -5
printf '[ward]\ncode = %s\nname = Test\n\n[khom 2]\nhouseholds = 18b\n' "$ward" >"$WORK/bad-profile.ini"
bad_config "profile with a bad number" --broker "$url" --ward "$ward" --db "$WORK/x.db" --profile "$WORK/bad-profile.ini"
out=$("$KDC_AGGREGATOR" --broker "$url" --ward "$ward" --db "$WORK/x.db" --profile "$WORK/bad-profile.ini" 2>&1)
assert_contains "profile error names file and line" "bad-profile.ini:6" "$out"

# ---- kdc-aggregator: storage and status -------------------------------------------------
db=$WORK/agg/ward.db
status() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -t "kdc/v1/$ward/status/aggregator" -C 1 -W 2 2>/dev/null
	return 0
}
agg_start "$WORK/agg" --broker "$url" --ward "$ward" --db "$db" --client-id "kdc-agg-$ward-contracts"
agg_wait_online "$BROKER_DIR" "$ward" 30
s=$(status)
assert_contains "status while running" '"ward":"'"$ward"'"' "$(tr -d ' ' <<<"$s")"
assert_contains "status while running" '"since":"' "$(tr -d ' ' <<<"$s")"
assert_contains "status while running" '"version":' "$(tr -d ' ' <<<"$s")"
assert_eq "database file mode" 600 "$(stat -c %a "$db")"
assert_eq "journal mode" wal "$(sql "$db" 'pragma journal_mode;')"
assert_ge "schema_version rows" 1 "$(sql_count "$db" schema_version)"
assert_eq "events columns" \
	"id seq occurred_ms received_ms ward khom team device household member kind subkind method amount_vnd members members_15plus smartphones needs voided_by flags" \
	"$(sql "$db" "select group_concat(name, ' ') from pragma_table_info('events');")"
assert_eq "rejected columns" \
	"rid received_ms topic device event_id reason reason_name detail payload_len payload" \
	"$(sql "$db" "select group_concat(name, ' ') from pragma_table_info('rejected');")"

agg_kill "$WORK/agg"
offline() { case "$(status)" in *'"offline"'*) return 0 ;; *) return 1 ;; esac; }
wait_for 60 "status offline (the will) after SIGKILL" offline
echo "ok: status offline after SIGKILL: $(status)"
agg_restart "$WORK/agg"
online() { case "$(status)" in *'"online"'*) return 0 ;; *) return 1 ;; esac; }
wait_for 60 "status online after restart" online
echo "ok: status online after restart"
agg_stop "$WORK/agg"
wait_for 30 "status offline after SIGTERM" offline
echo "ok: status offline after SIGTERM"

echo "contracts: kdc-event listings and receipts (1 committed, 1 rejected), 5 bad configurations exit 2, db mode/WAL/columns, status online/offline checked"
