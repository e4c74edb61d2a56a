#!/usr/bin/env bash
# Scenario 5: the aggregator's disk fills up. Its database sits on a 2 MiB
# tmpfs mounted for the test; devices send more than fits (scaled 4 x 5,000
# events, full 8 x 12,500). While the disk is full the aggregator must
#   - keep running,
#   - say so in its log and in its retained status ("degraded", with a reason),
#   - never receipt an event it did not store: at every check, each id that
#     left an outbox (receipted) is in the events table;
# and once the tmpfs is grown to 64 MiB it must catch up by itself (no
# restart): everything stored exactly once, outboxes empty, status online.
#
# Why a tmpfs: it is the real failure (SQLITE_FULL / ENOSPC from the kernel,
# on the WAL and the database alike) with no code in the path under test.
# It needs mount(2) (root or CAP_SYS_ADMIN); without it the scenario is
# skipped (exit 77), not passed. An LD_PRELOAD write-failure shim was the
# alternative, but it cannot run ahead of ASan's runtime in the sanitizer
# build, and it would only fail the calls it knows about.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fault_init disk_full 91005

devices=$(fault_pick 4 8)
per_dev=$(fault_pick 5000 12500)
sync_timeout=$(fault_pick 240 900)
degraded_for=$(fault_pick 15 60) # seconds kept full while devices resend
FAULT_WHAT="disk full (tmpfs 2 MiB, then 64 MiB)"

mnt=$WORK/disk
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m,mode=0700 kdc-fault-disk "$mnt" 2>"$WORK/mount.err"; then
	echo "SKIPPED: cannot mount a tmpfs ($(cat "$WORK/mount.err")): needs root or CAP_SYS_ADMIN"
	exit 77
fi
FAULT_MOUNTS+=("$mnt")

fault_broker_start
fault_agg_start "$mnt/ward.db"
fault_devices "$devices" "$BROKER_URL"
fault_record "$per_dev"
total=$(fault_expected)
kdc_say "recorded $total events; the database has $(df -k --output=avail "$mnt" | tail -n 1) KiB free"
fault_sync_start "$sync_timeout"

# receipted_but_not_stored: ids gone from every outbox that are not stored.
receipted_but_not_stored() {
	local d
	for d in "${DEVICES[@]}"; do
		sql "$(fault_outbox "$d")" "select lower(hex(id)) from outbox;"
	done | sort >"$WORK/outbox.now"
	comm -23 "$WORK/expected.sorted" "$WORK/outbox.now" >"$WORK/receipted.now"
	sql "$FAULT_DB" "select lower(hex(id)) from events;" | sort >"$WORK/stored.now"
	comm -23 "$WORK/receipted.now" "$WORK/stored.now" | wc -l
}
sort -u "$WORK/expected.ids" >"$WORK/expected.sorted"

status_degraded() {
	case $(fault_retained status/aggregator) in *'"degraded"'*) return 0 ;; esac
	return 1
}
wait_for 120 "retained aggregator status degraded (disk full)" status_degraded
fault_count 1
status=$(fault_retained status/aggregator)
kdc_say "status: $status"
reason=$(jq -r '.reason // empty' <<<"$status")
[ -n "$reason" ] || fail "degraded status without a reason: $status"
grep -i -E 'full|space' "$WORK/agg/agg.log" | head -n 3
grep -q -i -E 'full|no space' "$WORK/agg/agg.log" || fail "the aggregator's log does not say the disk is full"
full_stored=$(fault_stored)
kdc_say "disk full after $full_stored of $total events stored"

bad_max=0
checks=0
deadline=$((SECONDS + degraded_for))
while [ "$SECONDS" -lt "$deadline" ]; do
	agg_alive "$WORK/agg" || fail "the aggregator died with its disk full"
	bad=$(receipted_but_not_stored)
	checks=$((checks + 1))
	[ "$bad" -gt "$bad_max" ] && bad_max=$bad
	sleep 1
done
assert_eq "receipted events missing from the database, worst of $checks checks while the disk was full" 0 "$bad_max"
status_degraded || fault_note "status no longer degraded after ${degraded_for}s with the disk still full: $(fault_retained status/aggregator)"

mount -o remount,size=64m "$mnt" || fail "cannot grow the tmpfs"
kdc_say "disk grown to 64 MiB; waiting for the aggregator to catch up by itself"
fault_sync_wait $((sync_timeout + 30))
status_online() {
	case $(fault_retained status/aggregator) in *'"online"'*) return 0 ;; esac
	return 1
}
wait_for 60 "retained aggregator status online after space returned" status_online
fault_drain "$sync_timeout"
assert_eq "receipted events missing from the database after recovery" 0 "$(receipted_but_not_stored)"
fault_verify
