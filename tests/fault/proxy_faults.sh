#!/usr/bin/env bash
# Scenario 4: a flaky network between devices and broker. The devices connect
# through kdc-faultproxy injecting one kind of fault for the whole traffic:
#   reset    every connection reset (RST) after a random 0.75-2.25 s
#   stall    all forwarding stopped for 3 s, every 0.75-2.25 s scaled (3-9 s
#            full), the clock starting when the first connection is through
#   cut      every connection closed mid-chunk (a packet torn) after 0.75-2.25 s
#   trickle  every byte in its own 1-byte segment
# Every connection is also limited to 16 KiB/s each way. The aggregator
# talks to the broker directly. Scaled: 8 x 500 events per
# kind; full: 8 x 12,500 = 100,000. When the traffic is over the faults stop
# and anything left is synced again (counted as extra syncs).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind=${1:-}
# A sync needs about half a second to connect and get its first receipts, so
# connections live 0.75-2.25 s: short enough that every device is hit,
# long enough for progress. Scaled traffic lasts seconds: stalls come sooner.
# None of it is timing luck: a device's 500 events are about 47 KB, which the
# 16 KiB/s limit below makes last at least 2.8 s on its first connection, on
# any machine (a slow one only takes longer); every fault's first time falls
# within 2.25 s of a connection being through.
case $kind in
reset) opts=(--reset-every 1500) ward=91011 stat=resets ;;
stall) opts=(--stall-every "$(fault_pick 1500 6000)" --stall-for 3000) ward=91012 stat=stalls ;;
cut) opts=(--cut-every 1500) ward=91013 stat=cuts ;;
trickle) opts=(--trickle 1) ward=91014 stat=trickle_writes ;;
*) echo "usage: $0 reset|stall|cut|trickle" >&2; exit 2 ;;
esac
fault_init "proxy_$kind" "$ward"

devices=8
per_dev=$(fault_pick 500 12500)
sync_timeout=$(fault_pick 150 600)
FAULT_WHAT="proxy $kind ($stat)"

fault_broker_start
fault_agg_start
# 16 KiB/s each way per connection, a slow mobile link: a device's traffic
# then lasts seconds (scaled) to a minute (full), and the faults meet it.
opts+=(--rate 16384)
fault_proxy_start "${opts[@]}"
fault_devices "$devices" "$PROXY_URL"
fault_record "$per_dev"
kdc_say "recorded $(fault_expected) events; syncing through the proxy (${opts[*]})"
fault_sync_start "$sync_timeout"
fault_sync_wait $((sync_timeout + 30))
# What the link carried: each event once, plus what was in flight when a
# connection broke. Sending every unreceipted event again after each
# reconnect (a resend storm: twice the events and more, the link full of
# copies) fails the scenario even when everything arrives in the end.
sent=$(fault_sent_total)
expected=$(fault_expected)
fault_note "devices published $sent times for $expected events"
[ "$sent" -le $((2 * expected)) ] ||
	FAULT_PROBLEMS+=("devices published $sent times for $expected events: a resend storm (more than 2 per event)")
fault_proxy_control "" # faults (and the rate limit) off
injected=$(fault_proxy_stat "$stat")
fault_count "${injected:-0}"
kdc_say "proxy: $(tr '\n' ' ' <"$WORK/proxy/stats")"
[ "${injected:-0}" -gt 0 ] || fail "the proxy injected no $stat: the scenario proved nothing"
fault_drain "$sync_timeout"
fault_verify
