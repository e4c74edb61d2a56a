#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]     (default 60 s)
# BUILD_DIR is a configured kdc build tree (for the protoc-c output).
# The checked-in corpus is read; new inputs go to a scratch corpus in
# BUILD_DIR/fuzz, so the repository only changes when someone copies a case in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
gen="$build/proto/gen"
out="$build/fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
if [ ! -f "$gen/kdc/v1/event.pb-c.c" ]; then
	cmake --build "$build" --target kdc_proto >/dev/null
fi

clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined \
	-I"$src/proto" -I"$src/common" -I"$gen" \
	"$here/fuzz_event.c" "$src/proto/validate.c" \
	"$gen/kdc/v1/event.pb-c.c" "$gen/kdc/v1/receipt.pb-c.c" \
	$(pkg-config --cflags --libs libprotobuf-c) -o "$out/fuzz_event"

echo "fuzz: running fuzz_event for ${seconds}s"
"$out/fuzz_event" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
	-rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$out/artifacts/" "$out/corpus" "$here/corpus" 2>"$out/fuzz.log" || {
	tail -n 40 "$out/fuzz.log" >&2
	echo "fuzz: FAILED (crash input saved under $out/artifacts)" >&2
	exit 1
}
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$out/fuzz.log" || true
echo "fuzz: clean"
