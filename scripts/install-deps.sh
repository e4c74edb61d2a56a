#!/usr/bin/env bash
# scripts/install-deps.sh: installs what kdc needs to build, test and demo, from
# Debian's packages (and npm for the dashboard tests). Idempotent and quiet when
# everything is already there; `apt-get update` runs only when something is
# missing. Must run as root (it calls apt-get).
#
# Nothing here starts or relies on the system mosquitto service: tests and the
# demo run their own brokers on free 127.0.0.1 ports.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
	cmake gcc clang pkg-config make
	mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev libpaho-mqtt-dev
	libsqlite3-dev sqlite3
	libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libcmocka-dev libcjson-dev libssl-dev openssl
	chromium valgrind rabbitmq-server
	jq python3 curl procps util-linux coreutils ca-certificates
	nginx passwd dpkg-dev help2man
	libxlsxwriter-dev python3-openpyxl
)

installed() {
	# "ii": installed and configured. Some images ship packages left "unpacked"
	# (files present, postinst not run): apt-get would try to configure them
	# again on every run, so count those as present as well.
	local st
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
	case "$st" in ii* | iU*) return 0 ;; *) return 1 ;; esac
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
# Node.js: any node 18+ with npm will do (some machines carry a node package
# that bundles npm and conflicts with Debian's separate npm package).
if ! command -v node >/dev/null 2>&1; then
	missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
	missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}" >&2
		echo "install-deps: run this script as root (sudo $0) to install them with apt-get" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get update -qq; then
		echo "install-deps: apt-get update failed" >&2
		exit 1
	fi
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/kdc-install-deps.log 2>&1; then
		tail -n 30 /tmp/kdc-install-deps.log >&2
		echo "install-deps: apt-get install failed (full log: /tmp/kdc-install-deps.log)" >&2
		exit 1
	fi
	for p in "${missing[@]}"; do
		case "$p" in
		nodejs) command -v node >/dev/null 2>&1 || { echo "install-deps: node still missing" >&2; exit 1; } ;;
		npm) command -v npm >/dev/null 2>&1 || { echo "install-deps: npm still missing" >&2; exit 1; } ;;
		*) installed "$p" || { echo "install-deps: $p still not installed" >&2; exit 1; } ;;
		esac
	done
	echo "install-deps: done"
fi

# Dashboard test dependencies (npm registry), only when not installed yet.
for dir in "$root/tests/dashboard" "$root/dashboard"; do
	[ -f "$dir/package.json" ] || continue
	[ -d "$dir/node_modules" ] && continue
	echo "install-deps: npm install in ${dir#"$root"/}"
	if [ -f "$dir/package-lock.json" ]; then
		cmd=(npm ci --no-audit --no-fund --loglevel=error)
	else
		cmd=(npm install --no-audit --no-fund --loglevel=error)
	fi
	if ! (cd "$dir" && "${cmd[@]}" >/tmp/kdc-npm.log 2>&1); then
		tail -n 30 /tmp/kdc-npm.log >&2
		echo "install-deps: ${cmd[*]} failed in $dir" >&2
		exit 1
	fi
done
exit 0
