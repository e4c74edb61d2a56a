#!/usr/bin/env bash
# scripts/test.sh: the test command (CI runs it through .ci/run).
#
#   1. installs the dependencies (scripts/install-deps.sh),
#   2. builds in build/ (RelWithDebInfo) and runs every test but the soak ones,
#   3. builds in build-asan/ with -DKDC_SANITIZE=ON and runs the same tests
#      again under AddressSanitizer + UBSan, all but those that run no
#      program of this build (label no-kdc-binary: the dashboard and deploy
#      tests, the fuzzer, which builds its own ASan binary) and the benchmark
#      smoke test, which builds its own Release tree: they ran in step 2.
# Exits non-zero if anything fails. Build directories can be changed with
# KDC_BUILD_DIR / KDC_ASAN_BUILD_DIR, parallelism with KDC_JOBS (default 2),
# and the sanitizer pass skipped with KDC_SKIP_ASAN=1 (local use only).
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
jobs=${KDC_JOBS:-2}
build_dir=${KDC_BUILD_DIR:-$root/build}
asan_dir=${KDC_ASAN_BUILD_DIR:-$root/build-asan}
started=$SECONDS
failed_steps=()
passed_total=0
failed_total=0

step() { printf '\n==== %s (%ds)\n' "$*" "$((SECONDS - started))"; }

# build DIR CMAKE-ARGS...: configure and build; prints the log tail on failure.
build() {
	local dir=$1 log
	shift
	mkdir -p "$dir"
	log=$dir/kdc-build.log
	if ! cmake -S "$root" -B "$dir" "$@" >"$log" 2>&1; then
		tail -n 40 "$log"
		echo "configure failed in $dir (log: $log)"
		return 1
	fi
	if ! cmake --build "$dir" -j "$jobs" >>"$log" 2>&1; then
		grep -E 'error|Error' "$log" | head -n 40
		tail -n 20 "$log"
		echo "build failed in $dir (log: $log)"
		return 1
	fi
	echo "built $dir ($(grep -c 'warning:' "$log") compiler warning lines, log: $log)"
}

# run_ctest NAME DIR CTEST-ARGS...: runs ctest and adds its counts to the totals.
run_ctest() {
	local name=$1 dir=$2 log rc line total failed
	shift 2
	log=$dir/kdc-ctest.log
	ctest --test-dir "$dir" --output-on-failure -j "$jobs" --no-tests=error "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		failed=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
		total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
		passed_total=$((passed_total + total - failed))
		failed_total=$((failed_total + failed))
	fi
	if [ "$rc" != 0 ]; then
		failed_steps+=("$name (ctest exit $rc)")
		[ -z "$line" ] && failed_total=$((failed_total + 1))
	fi
}

step "dependencies"
if ! bash "$root/scripts/install-deps.sh"; then
	echo "test.sh: installing dependencies failed"
	exit 1
fi

step "build ($build_dir)"
if build "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKDC_SANITIZE=OFF; then
	step "tests (all but soak)"
	run_ctest "tests" "$build_dir" -LE soak
else
	failed_steps+=("build")
	failed_total=$((failed_total + 1))
fi

if [ "${KDC_SKIP_ASAN:-0}" = 1 ]; then
	step "sanitizer pass skipped (KDC_SKIP_ASAN=1)"
else
	step "build with sanitizers ($asan_dir)"
	if build "$asan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKDC_SANITIZE=ON; then
		step "tests (all but soak, bench-smoke and no-kdc-binary) under ASan/UBSan"
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_ctest "sanitizer tests" "$asan_dir" -LE 'soak|bench-smoke|no-kdc-binary'
	else
		failed_steps+=("sanitizer build")
		failed_total=$((failed_total + 1))
	fi
fi

step "summary"
if [ "${#failed_steps[@]}" -gt 0 ]; then
	printf 'failed: %s\n' "${failed_steps[@]}"
fi
echo "test.sh finished in $((SECONDS - started)) s"
echo "total: $passed_total passed, $failed_total failed"
[ "${#failed_steps[@]}" = 0 ]
