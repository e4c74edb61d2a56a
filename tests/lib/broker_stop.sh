#!/usr/bin/env bash
# broker_stop.sh DIR: ctest fixture cleanup. Stops the mosquitto that
# broker_start.sh DIR started (by its PID, SIGTERM then SIGKILL).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# = 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
pid=$(broker_pid "$1")
if [ -z "$pid" ]; then
	echo "no broker running in $1"
	exit 0
fi
broker_stop "$1"
if pid_alive "$pid"; then
	echo "broker pid $pid is still running" >&2
	exit 1
fi
echo "broker pid $pid stopped"
