/* fuzz_event.c: libFuzzer target for what the aggregator does with bytes from
 * the network before anything is stored: the topic parser, decode, validation
 * (with and without the topic), and the receipt decoder devices run. An
 * accepted event must have had every code checked over its whole length on
 * the wire (no NUL cutting it short).
 *
 * Input layout: the topic up to the first '\n', then the payload. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kdc_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The oracle for strings: the length on the wire of the last occurrence of
 * top-level length-delimited field `number` (the one protobuf-c keeps), or
 * -1. Written apart from validate.c's walker on purpose; stops at anything
 * it cannot read (only called on payloads protobuf-c decoded). */
static long wire_last_len(const uint8_t *p, size_t len, unsigned number)
{
	const uint8_t *end = p + len;
	long last = -1;

	while (p < end) {
		uint64_t tag = 0, n = 0;
		int shift = 0;
		do
			tag |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
		while ((*p++ & 0x80) && p < end && shift < 64);
		switch (tag & 7) {
		case 0:
			while (p < end && (*p++ & 0x80))
				;
			continue;
		case 1: n = 8; break;
		case 5: n = 4; break;
		case 2:
			shift = 0;
			while (p < end && shift < 64) {
				n |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
				if (!(*p++ & 0x80))
					break;
			}
			if ((tag >> 3) == number)
				last = (long)n;
			break;
		default:
			return last;
		}
		if (n > (uint64_t)(end - p))
			return last;
		p += n;
	}
	return last;
}

/* 1 if every code of an accepted event was validated over its whole wire
 * length: a NUL inside would have made strlen shorter. */
static int codes_whole(const kdc_event_pb *ev, const uint8_t *payload, size_t plen)
{
	const char *codes[] = { ev->ward, ev->khom, ev->team, ev->device, ev->household };

	for (unsigned i = 0; i < 5; i++)
		if ((long)strlen(codes[i]) != wire_last_len(payload, plen, 4 + i))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char topic[KDC_TOPIC_MAX + 64];
	const uint8_t *nl = memchr(data, '\n', size < sizeof topic - 1 ? size : sizeof topic - 1);
	size_t tlen = nl ? (size_t)(nl - data) : 0;
	const uint8_t *payload = nl ? nl + 1 : data;
	size_t plen = size - (size_t)(payload - data);
	struct kdc_event_topic t;
	struct kdc_verdict v;
	kdc_event_pb *ev;
	Kdc__V1__Receipt *r;
	int topic_ok;

	memcpy(topic, data, tlen);
	topic[tlen] = '\0';
	topic_ok = kdc_event_topic_parse(topic, &t) == 0;

	ev = kdc_event_decode(payload, plen, &v);
	if (ev) {
		/* a fixed "now" keeps runs reproducible */
		int64_t now = 1795000000000LL;
		int rc = kdc_event_validate(ev, topic_ok ? &t : NULL, "31975", now, &v);
		if (rc == 0) {
			/* what is accepted must have everything the store relies on */
			if (ev->id.len != 16 || !kdc_code_valid(ev->household) ||
			    kdc_event_kind(ev) < 0 || !codes_whole(ev, payload, plen))
				__builtin_trap();
		} else if (v.reason != rc || v.detail[0] == '\0') {
			__builtin_trap();
		}
		(void)kdc_reason_name(rc);
		kdc_event_free(ev);
	} else if (v.reason == 0 || v.detail[0] == '\0') {
		__builtin_trap();
	}

	r = kdc__v1__receipt__unpack(NULL, plen, payload);
	if (r) {
		/* what a device would act on: its device a code over the whole
		 * wire length */
		if (kdc_receipt_wire_check(payload, plen, &v) == 0 && r->device && *r->device &&
		    ((long)strlen(r->device) != wire_last_len(payload, plen, 1) ||
		     !kdc_code_valid(r->device)))
			__builtin_trap();
		kdc__v1__receipt__free_unpacked(r, NULL);
	}
	return 0;
}
