#!/usr/bin/env bash
# broker_start.sh DIR: ctest fixture setup. Starts a fresh mosquitto for the
# tests on a free 127.0.0.1 port, with its config, persistence, log, PID
# (DIR/mosquitto.pid) and port (DIR/port) in DIR, and returns once the port
# accepts connections. The broker keeps running after this script exits;
# broker_stop.sh DIR ends it.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# = 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
if [ -s "$dir/mosquitto.pid" ] && pid_alive "$(cat "$dir/mosquitto.pid")"; then
	broker_stop "$dir"
fi
rm -rf "$dir"
mkdir -p "$dir"
broker_start "$dir"
echo "broker pid $(broker_pid "$dir") listening on 127.0.0.1:$(broker_port "$dir") (dir $dir)"
