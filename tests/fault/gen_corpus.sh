#!/usr/bin/env bash
# gen_corpus.sh OUTDIR WARD TEAM DEVICE [SEED]: writes a corpus of hostile
# payloads for the events topic kdc/v1/WARD/events/TEAM/DEVICE.
#
# Well-formed-but-invalid events are encoded by protoc from text format (not by
# the project's own encoder, which is under test); truncated, wrong-typed,
# random and oversized ones are cut or assembled from bytes. Times are relative
# to now, so the corpus is made fresh for each run; random bytes come from SEED.
#
# OUTDIR/manifest has one line per payload: FILE|EXPECTED|TOPIC, where EXPECTED
# is the reject reason name the aggregator must store (as in the rejected
# table's reason_name; "*" = any reason, for random bytes) and TOPIC is empty
# for the device's own events topic.
set -u
[ $# -ge 4 ] || { echo "usage: $0 OUTDIR WARD TEAM DEVICE [SEED]" >&2; exit 2; }
out=$1 ward=$2 team=$3 device=$4 seed=${5:-1}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out"
: >"$out/manifest"

now_ms=$(($(date +%s%N) / 1000000))
day=$((24 * 3600 * 1000))

encode() { protoc -I "$src/proto" --encode=kdc.v1.Event kdc/v1/event.proto; }
decodes() { protoc -I "$src/proto" --decode=kdc.v1.Event kdc/v1/event.proto >/dev/null 2>&1; }

# A fresh UUIDv7 as protobuf text bytes ("\x01\x9a...").
id_text() {
	local ms rnd hex
	ms=$(($(date +%s%N) / 1000000))
	rnd=$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')
	hex=$(printf '%012x7%s%x%s' "$ms" "${rnd:0:3}" $((0x${rnd:3:1} & 0x3 | 0x8)) "${rnd:4:15}")
	printf '%s' "$hex" | sed 's/../\\x&/g'
}

# event [KEY=VALUE...]: protobuf text of a valid payment event, with fields
# replaced (VALUE "-" drops the field) or the body replaced (body=...).
event() {
	local -A f=(
		[id]="\"$(id_text)\"" [seq]=7 [occurred_ms]=$((now_ms - 3600000))
		[ward]="\"$ward\"" [khom]='"6"' [team]="\"$team\"" [device]="\"$device\""
		[household]='"H001"' [member]=1
		[body]='payment { purpose: PAYMENT_PURPOSE_WATER method: PAYMENT_METHOD_QR_CODE amount_vnd: 85000 }'
	)
	local kv k
	for kv in "$@"; do
		f[${kv%%=*}]=${kv#*=}
	done
	for k in id seq occurred_ms ward khom team device household member; do
		[ "${f[$k]}" = - ] || printf '%s: %s\n' "$k" "${f[$k]}"
	done
	[ "${f[body]}" = - ] || printf '%s\n' "${f[body]}"
}

# add NAME EXPECTED [TOPIC] < payload bytes. (Often the end of a pipeline, so
# a subshell: the number comes from the manifest, not from a variable.)
add() {
	local file n
	n=$(($(wc -l <"$out/manifest") + 1))
	file=$(printf '%02d-%s.bin' "$n" "$1")
	cat >"$out/$file"
	printf '%s|%s|%s\n' "$file" "$2" "${3:-}" >>"$out/manifest"
}

# add_text NAME EXPECTED [TOPIC] < protobuf text
add_text() {
	local bin
	bin=$(mktemp)
	if ! encode >"$bin"; then
		echo "gen_corpus: protoc cannot encode case $1" >&2
		rm -f "$bin"
		exit 1
	fi
	add "$@" <"$bin"
	rm -f "$bin"
}

rand_bytes() { perl -e 'srand($ARGV[0]); print map { chr(int(rand(256))) } 1 .. $ARGV[1]' "$1" "$2"; }

visit_body='visit { outcome: VISIT_OUTCOME_SURVEYED members: 4 members_15plus: 3 smartphones: 2 needs: NEED_INSTALL_APP needs: NEED_DIGITAL_SKILLS }'

# ---- truncated: a valid visit cut inside a field (protoc must fail to parse) -
full=$(mktemp)
event member=0 body="$visit_body" household='"HOUSEHOLD-0123456789"' | encode >"$full"
size=$(stat -c %s "$full")
for cut in 3 10 $((size / 2)) $((size - 1)); do
	head -c "$cut" "$full" >"$full.cut"
	if decodes <"$full.cut"; then
		continue # this cut fell on a field boundary: not a truncation protobuf can see
	fi
	add "truncated-at-$cut-of-$size" malformed <"$full.cut"
done
rm -f "$full" "$full.cut"

# ---- wrong-typed: a known field with another wire type ----------------------
valid=$(mktemp)
event | encode >"$valid"
tail_bytes() { tail -c +"$1" "$valid"; } # the valid event from byte $1 on (1-based)
# id (field 1, bytes) as a varint
{ printf '\x08\x05'; tail_bytes 19; } | add wrongtype-id-varint malformed
# seq (field 2, varint) as a length-delimited string
{ printf '\x12\x03abc'; tail_bytes 1; } | add wrongtype-seq-string malformed
# ward (field 4, string) as fixed32
{ tail_bytes 1; printf '\x25\x01\x02\x03\x04'; } | add wrongtype-ward-fixed32 malformed
# payment body (field 12, message) as a varint
{ tail_bytes 1; printf '\x60\x01'; } | add wrongtype-body-varint malformed
# a length prefix far beyond the payload
{ printf '\x0a\xff\xff\xff\x0f'; tail_bytes 1; } | add length-overflow malformed
rm -f "$valid"

# ---- unknown enum values ------------------------------------------------------
event member=0 body='visit { outcome: 99 members: 2 }' | add_text enum-visit-outcome-99 bad_enum
event member=0 body='visit { outcome: VISIT_OUTCOME_SURVEYED needs: 77 }' | add_text enum-need-77 bad_enum
event body='account { kind: 9 }' | add_text enum-account-kind-9 bad_enum
event body='payment { purpose: 42 method: PAYMENT_METHOD_CARD }' | add_text enum-payment-purpose-42 bad_enum
event body='payment { purpose: PAYMENT_PURPOSE_WATER method: 42 }' | add_text enum-payment-method-42 bad_enum
event body='service { kind: 6 }' | add_text enum-service-kind-6 bad_enum

# ---- far future, far past --------------------------------------------------------
event occurred_ms=$((now_ms + 3 * day)) | add_text far-future-3-days clock_skew
event occurred_ms=$((now_ms + 25 * 3600 * 1000)) | add_text future-25-hours clock_skew
event occurred_ms=$((now_ms - 3 * 366 * day)) | add_text far-past-3-years clock_skew
event occurred_ms=-1 | add_text negative-time clock_skew
event occurred_ms=9223372036854775807 | add_text time-int64-max clock_skew

# ---- missing fields ------------------------------------------------------------------
printf '' | add empty-payload missing_field
event id=- | add_text missing-id missing_field
event seq=- | add_text missing-seq missing_field
event household=- | add_text missing-household missing_field
event occurred_ms=- | add_text missing-time missing_field
event body=- | add_text missing-body missing_field
event member=- | add_text missing-member missing_field
event body='payment { method: PAYMENT_METHOD_CARD }' | add_text missing-payment-purpose missing_field

# ---- bad codes -------------------------------------------------------------------------
event household='"H 01"' | add_text code-household-space bad_code
event khom='"KHOM-WITH-A-NAME-LONGER-THAN-32-CHARS"' | add_text code-khom-too-long bad_code
event household='"Nh\303\240-01"' | add_text code-household-utf8 bad_code
event household='"H01;DROP TABLE events"' | add_text code-household-sql bad_code

# Every string field with a NUL inside (cut at it, the rest would pass: the
# device's one even as the topic's device), an overlong '/' (C0 AF) and a byte
# never in UTF-8 (FF) after its valid value. protoc encodes them (it only
# warns about the UTF-8, hence the quiet encoder). More forms of bad UTF-8 are
# in tests/unit/test_proto.c; each payload here costs the scenario time.
declare -A code_value=([ward]=$ward [khom]=6 [team]=$team [device]=$device [household]=H001)
for field in ward khom team device household; do
	for bad in 'nul:\000evil' 'overlong:\300\257' 'invalid:\377'; do
		bin=$(mktemp)
		if ! event "$field=\"${code_value[$field]}${bad#*:}\"" | encode 2>/dev/null >"$bin"; then
			echo "gen_corpus: protoc cannot encode $field with ${bad%%:*}" >&2
			exit 1
		fi
		add "code-$field-${bad%%:*}" bad_code <"$bin"
		rm -f "$bin"
	done
done

# ---- bad values --------------------------------------------------------------------------
event id='"\x01\x02\x03\x04\x05\x06\x07\x08"' | add_text id-8-bytes bad_value
event seq=9223372036854775808 | add_text seq-above-int64 bad_value
event member=1000 | add_text member-1000 bad_value
event body='payment { purpose: PAYMENT_PURPOSE_WATER method: PAYMENT_METHOD_CARD amount_vnd: -5 }' |
	add_text amount-negative bad_value
event body='payment { purpose: PAYMENT_PURPOSE_WATER method: PAYMENT_METHOD_CARD amount_vnd: 10000000001 }' |
	add_text amount-too-large bad_value
event member=0 body='visit { outcome: VISIT_OUTCOME_SURVEYED members: 101 }' | add_text visit-members-101 bad_value
event member=0 body='visit { outcome: VISIT_OUTCOME_SURVEYED members: 2 members_15plus: 5 }' |
	add_text visit-more-adults-than-members bad_value
event member=2 body="$visit_body" | add_text visit-with-member bad_value

# ---- payload disagrees with its topic; topic not an events topic ----------------------------
event device='"OTHER"' | add_text mismatch-device topic_mismatch
event team='"T-OTHER"' | add_text mismatch-team topic_mismatch
event ward='"00000"' | add_text mismatch-ward topic_mismatch
event | add_text topic-device-with-space bad_topic "kdc/v1/$ward/events/$team/D 1"
event | add_text topic-device-too-long bad_topic "kdc/v1/$ward/events/$team/DEVICE-WITH-A-CODE-LONGER-THAN-32"

# ---- random and oversized bytes -----------------------------------------------------------------
for len in 1 2 16 100 1000 4096; do
	rand_bytes $((seed * 1000 + len)) "$len" | add "random-$len-bytes" '*'
done
rand_bytes $((seed + 7)) 4097 | add oversized-random-4097 too_large
event household="\"$(head -c 5000 /dev/zero | tr '\0' 'H')\"" | add_text oversized-household-5000 too_large
rand_bytes $((seed + 8)) 70000 | add oversized-random-70000 too_large
rand_bytes $((seed + 9)) 1048576 | add oversized-random-1MiB too_large

echo "gen_corpus: $(wc -l <"$out/manifest") payloads in $out"
