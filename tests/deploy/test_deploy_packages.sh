#!/usr/bin/env bash
# test_deploy_packages.sh: the Debian packages (deploy/packages.cmake) build,
# hold what deploy/README.md installs from them, and keep a ward's data across
# `dpkg -r`, `dpkg -P` and a reinstall.
#
# Builds kdc-server and kdc-device with `cpack -G DEB` from this build, checks
# their control fields (Depends from dpkg-shlibdeps, maintainer scripts) and
# files (programs, units incl. kdc-rollup@.service, sysusers entry, dashboard,
# man pages), then installs them with dpkg into a scratch root
# (--root, --force-script-chrootless: the maintainer scripts run for real with
# DPKG_ROOT set, and nothing on this machine changes). There the installed
# kdc-ward sets up a ward; its files (database, CA, certificates, accounts,
# device configs, owners and modes) must come through remove, purge and
# reinstall byte for byte, and the user kdc the package created must stay.
#
# Needs root (dpkg; files owned by the service users), dpkg-dev (dpkg-shlibdeps)
# and help2man: exits 77 (skipped) without root.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

[ "$(id -u)" = 0 ] || { echo "skip: dpkg needs root"; exit 77; }
[ -n "${BUILD_DIR:-}" ] && [ -f "$BUILD_DIR/CPackConfig.cmake" ] ||
	fail "no CPackConfig.cmake in BUILD_DIR='${BUILD_DIR:-}': the build does not describe any package"
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps help2man sqlite3 openssl mosquitto_passwd; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (bash scripts/install-deps.sh)"
done

WORK=$(mktemp -d /tmp/kdc-deploy-packages.XXXXXX)
R=$WORK/root
cleanup() {
	local st=$?
	if [ "$st" = 0 ] && [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$WORK"; else echo "scratch folder kept: $WORK"; fi
}
trap cleanup EXIT

# ---- build ----------------------------------------------------------------------
(cd "$BUILD_DIR" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.log" 2>&1 ||
	fail "cpack -G DEB failed: $(tail -n 5 "$WORK/cpack.log")"
SERVER=$(ls "$WORK"/pkg/kdc-server_*.deb 2>/dev/null)
DEVICE=$(ls "$WORK"/pkg/kdc-device_*.deb 2>/dev/null)
[ -f "$SERVER" ] && [ -f "$DEVICE" ] || fail "cpack made $(ls "$WORK/pkg"), expected kdc-server_*.deb and kdc-device_*.deb"
printf 'ok: cpack made %s and %s\n' "${SERVER##*/}" "${DEVICE##*/}"

field() { dpkg-deb -f "$1" "$2"; }
for lib in libpaho-mqtt1.3 libsqlite3-0 libprotobuf-c1 libc6; do
	assert_contains "kdc-server Depends (dpkg-shlibdeps)" "$lib" "$(field "$SERVER" Depends)"
	assert_contains "kdc-device Depends (dpkg-shlibdeps)" "$lib" "$(field "$DEVICE" Depends)"
done
assert_contains "kdc-server Depends" "mosquitto (>= 2.0)" "$(field "$SERVER" Depends)"
assert_contains "kdc-server Depends" "systemd" "$(field "$SERVER" Depends)"
case "$(field "$DEVICE" Depends)" in *mosquitto*) fail "kdc-device must not need the broker" ;; esac

files() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
files "$SERVER" >"$WORK/server.files"
files "$DEVICE" >"$WORK/device.files"
for f in /usr/bin/kdc-aggregator /usr/bin/kdc-stats /usr/bin/kdc-rollup /usr/bin/kdc-report /usr/bin/kdc-ward \
	/usr/lib/systemd/system/kdc-aggregator@.service /usr/lib/systemd/system/kdc-mosquitto@.service \
	/usr/lib/systemd/system/kdc-rollup@.service /usr/lib/sysusers.d/kdc.conf \
	/usr/share/kdc/dashboard/index.html /usr/share/kdc/deploy/mosquitto/mosquitto.conf.in \
	/usr/share/kdc/deploy/ward-profile.example.ini \
	/usr/share/man/man1/kdc-aggregator.1.gz /usr/share/man/man1/kdc-ward.1.gz /usr/share/man/man1/kdc-stats.1.gz \
	/usr/share/man/man1/kdc-report.1.gz; do
	grep -qxF "$f" "$WORK/server.files" || fail "kdc-server lacks $f"
done
for f in /usr/bin/kdc-event /usr/bin/kdc-sim /usr/share/man/man1/kdc-event.1.gz; do
	grep -qxF "$f" "$WORK/device.files" || fail "kdc-device lacks $f"
done
grep -q "^/usr/bin/kdc-event$" "$WORK/server.files" && fail "kdc-event is in kdc-server too"
grep -vE '^/usr/' "$WORK/server.files" "$WORK/device.files" | grep -v ':/$' &&
	fail "a package ships files outside /usr (a ward's /etc and /var belong to kdc-ward)"
printf 'ok: both packages hold what the README installs from them, all under /usr\n'
dpkg-deb -e "$SERVER" "$WORK/control"
for s in postinst prerm postrm; do [ -x "$WORK/control/$s" ] || fail "kdc-server has no $s"; done

# ---- a scratch root ------------------------------------------------------------
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
: >"$R/var/lib/dpkg/status"
# --force-depends: the scratch dpkg database does not know this machine's
# libraries; the programs use the real ones.
DPKG=(dpkg --root="$R" --force-script-chrootless --force-depends --log="$WORK/dpkg.log")
"${DPKG[@]}" -i "$SERVER" "$DEVICE" >"$WORK/install.log" 2>&1 ||
	fail "dpkg -i into the scratch root failed: $(tail -n 5 "$WORK/install.log")"
assert_eq "installed" "ii ii" "$("${DPKG[@]}" -l kdc-server kdc-device | awk '/^ii/ {printf "%s ", $1}' | sed 's/ $//')"
KDC_LINE=$(grep '^kdc:' "$R/etc/passwd") || fail "the package did not create user kdc (sysusers) in the root"
assert_contains "user kdc from the sysusers entry" ":kdc ward aggregator:/var/lib/kdc:/usr/sbin/nologin" "$KDC_LINE"
"$R/usr/bin/kdc-event" --help >/dev/null || fail "the installed kdc-event does not run"
grep -q "^ExecStart=/usr/bin/kdc-aggregator " "$R/usr/lib/systemd/system/kdc-aggregator@.service" ||
	fail "the installed unit does not start /usr/bin/kdc-aggregator"

# A ward set up by the installed kdc-ward (templates from /usr/share/kdc).
WARD=$R/etc/kdc/31975
"$R/usr/bin/kdc-ward" init --ward 31975 --dir "$WARD" --host 127.0.0.1 --pid-file none \
	--broker-data "$R/var/lib/kdc-mosquitto/31975" --db "$R/var/lib/kdc/31975/events.db" \
	--dashboard "$R/usr/share/kdc/dashboard" >"$WORK/init.log" 2>&1 ||
	fail "the installed kdc-ward init failed: $(tail -n 3 "$WORK/init.log")"
"$R/usr/bin/kdc-ward" add-device --dir "$WARD" T1 T1-D1 >"$WORK/add.log" 2>&1 ||
	fail "add-device failed: $(tail -n 3 "$WORK/add.log")"
sqlite3 "$R/var/lib/kdc/31975/events.db" "create table events(id); insert into events values ('one visit');"
printf 'ok: a ward set up in the scratch root by the installed kdc-ward\n'

# Everything of the ward, with owner, group and mode: must not change.
ward_state() {
	(cd "$R" && find etc/kdc var/lib/kdc var/lib/kdc-mosquitto -printf '%p %u %g %m\n' | sort &&
		find etc/kdc var/lib/kdc var/lib/kdc-mosquitto -type f -print0 | sort -z | xargs -0 sha256sum)
	grep '^kdc:' "$R/etc/passwd"
}
ward_state >"$WORK/state.before"
grep -q "events.db" "$WORK/state.before" && grep -q "ca/ca.key" "$WORK/state.before" &&
	grep -q "devices/T1-D1.conf" "$WORK/state.before" || fail "the ward snapshot misses files: $(head -n 5 "$WORK/state.before")"

same_ward() {
	ward_state >"$WORK/state.after"
	diff "$WORK/state.before" "$WORK/state.after" >"$WORK/state.diff" ||
		fail "$1 changed the ward's files: $(head -n 6 "$WORK/state.diff")"
	printf 'ok: %s kept the ward (database, CA, certificates, accounts, device configs, owners, modes, user kdc)\n' "$1"
}

"${DPKG[@]}" -r kdc-server kdc-device >"$WORK/remove.log" 2>&1 || fail "dpkg -r failed: $(tail -n 3 "$WORK/remove.log")"
[ ! -e "$R/usr/bin/kdc-aggregator" ] || fail "dpkg -r left /usr/bin/kdc-aggregator"
same_ward "dpkg -r"
"${DPKG[@]}" -P kdc-server kdc-device >"$WORK/purge.log" 2>&1 || fail "dpkg -P failed: $(tail -n 3 "$WORK/purge.log")"
same_ward "dpkg -P"
"${DPKG[@]}" -i "$SERVER" "$DEVICE" >"$WORK/reinstall.log" 2>&1 || fail "reinstalling failed: $(tail -n 3 "$WORK/reinstall.log")"
same_ward "reinstalling"
"$R/usr/bin/kdc-ward" list-devices --dir "$WARD" >"$WORK/list.log" 2>&1 || fail "list-devices after reinstall failed"
assert_contains "the reinstalled kdc-ward sees the device account" "T1-D1" "$(cat "$WORK/list.log")"
printf 'ok: packages: all checks passed\n'
