/* fuzz_event.c: libFuzzer target for what the aggregator does with bytes from
 * the network before anything is stored: the topic parser, decode, validation
 * (with and without the topic), and the receipt decoder devices run.
 *
 * Input layout: the topic up to the first '\n', then the payload. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kdc_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
			    kdc_event_kind(ev) < 0)
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
	if (r)
		kdc__v1__receipt__free_unpacked(r, NULL);
	return 0;
}
