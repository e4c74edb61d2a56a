#!/usr/bin/env bash
# The test helpers themselves: free ports are distinct and free, and a broker
# can be stopped, SIGKILLed and restarted on its port with its persistence kept
# or wiped. The spine tests rely on exactly these behaviours.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init fixtures 130

mapfile -t ports < <(free_port 4)
assert_eq "free ports returned" 4 "${#ports[@]}"
assert_eq "distinct free ports" 4 "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)"
for p in "${ports[@]}"; do
	port_open "$p" && fail "free port $p already accepts connections"
done
echo "ok: none of ${ports[*]} accepts connections"

b=$WORK/broker
broker_start "$b"
port=$(broker_port "$b")
pid1=$(broker_pid "$b")
port_open "$port" || fail "broker port $port does not accept"
assert_eq "broker process name" mosquitto "$(cat "/proc/$pid1/comm")"
grep -q '^user root$' "$b/mosquitto.conf" || [ "$(id -u)" != 0 ] || fail "config lacks 'user root' although running as root"

topic=kdc-test/fixtures/retained
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t "$topic" -m kept || fail "publish to broker failed"
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$(broker_port "$b")" -t "$topic" -C 1 -W 2 2>/dev/null
	return 0
}
assert_eq "retained message before restart" kept "$(retained)"

broker_restart "$b" keep
assert_eq "port after restart" "$port" "$(broker_port "$b")"
[ "$(broker_pid "$b")" != "$pid1" ] || fail "broker restart kept the old pid $pid1"
pid_alive "$pid1" && fail "old broker pid $pid1 still alive after restart"
assert_eq "retained message after restart (persistence kept)" kept "$(retained)"

broker_restart "$b" wipe
assert_eq "retained message after restart (persistence wiped)" "" "$(retained)"

pid2=$(broker_pid "$b")
broker_kill "$b"
pid_alive "$pid2" && fail "broker pid $pid2 survived SIGKILL"
port_open "$port" && fail "port $port still accepts after the broker was killed"
echo "ok: broker pid $pid2 killed, port $port closed"
broker_start "$b"
assert_eq "port after start following SIGKILL" "$port" "$(broker_port "$b")"
broker_stop "$b"
port_open "$port" && fail "port $port still accepts after broker_stop"

# A sqlite helper check, so a broken sqlite3 CLI does not pass as "0 rows".
sql "$WORK/t.db" "create table t(x); insert into t values (1),(2),(3);"
assert_eq "sql_count on a 3-row table" 3 "$(sql_count "$WORK/t.db" t)"
assert_eq "uuid_hex" 0190aabbccdd7eff8000000000000001 "$(uuid_hex 0190AABB-CCDD-7EFF-8000-000000000001)"
assert_eq "protobuf bytes as protoc prints them" '"\001\232A"' "$(pb_bytes_text 019a41)"

echo "fixtures: ports 4/4 distinct, broker restart keep/wipe/kill checked"
