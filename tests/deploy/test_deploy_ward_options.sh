#!/usr/bin/env bash
# test_deploy_ward_options.sh: kdc-ward refuses a mistyped option or command
# in plain words and suggests the one meant, as the C programs do ("did you
# mean --force?"), and an unknown option never takes the next argument as
# its value: `init ... --forse` used to say "--forse needs a value", and
# `add-device --kohm 6 T1 T1-D1` swallowed the 6. Nothing is created: every
# call is refused before kdc-ward touches a file (the ward folder given does
# not exist and stays so). Needs no root, no broker.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
kdc_test_init deploy_ward_options 60
KDC_WARD=${KDC_WARD:-$KDC_SOURCE_DIR/deploy/kdc-ward}
DIR=$WORK/etc/kdc/90031

# refused STATUS MESSAGE ARGS...: kdc-ward ARGS exits STATUS, saying MESSAGE.
refused() {
	local want=$1 msg=$2 st=0 out
	shift 2
	out=$(bash "$KDC_WARD" "$@" 2>&1) || st=$?
	assert_eq "kdc-ward $*: exit status" "$want" "$st"
	assert_contains "kdc-ward $*" "$msg" "$out"
}

refused 1 "kdc-ward: unknown option '--forse' for init: did you mean --force? (see kdc-ward --help)" \
	init --ward 90031 --dir "$DIR" --forse
refused 1 "unknown option '--forse' for init: did you mean --force?" \
	init --forse --ward 90031 --dir "$DIR"
refused 1 "unknown option '--tls' for init: did you mean --tls-port?" \
	init --ward 90031 --dir "$DIR" --tls 8885
refused 1 "unknown option '--plain-prot' for init: did you mean --plain-port?" \
	init --ward 90031 --dir "$DIR" --plain-prot=1884
refused 1 "unknown option '--xyz' for init (see kdc-ward --help)" \
	init --ward 90031 --dir "$DIR" --xyz 1
refused 1 "kdc-ward: unknown option '--kohm': did you mean --khom? (see kdc-ward --help)" \
	add-device --kohm 6 T1 T1-D1 --dir "$DIR"
refused 1 "unknown option '--froce': did you mean --force?" \
	add-device T1 T1-D1 --dir "$DIR" --froce
refused 1 "--force does not apply here" remove-device T1-D1 --dir "$DIR" --force
refused 2 "kdc-ward: unknown command 'list-device': did you mean list-devices? (see kdc-ward --help)" \
	list-device --dir "$DIR"
refused 2 "kdc-ward: unknown command 'ad-device': did you mean add-device?" ad-device T1 T1-D1
out=$(bash "$KDC_WARD" lst 2>&1)
case $out in *"did you mean"*) fail "a suggestion for 'lst', which is near nothing: $out" ;; esac
[ ! -e "$DIR" ] || fail "a refused call created $DIR"
printf 'ok: kdc-ward options: all checks passed\n'
