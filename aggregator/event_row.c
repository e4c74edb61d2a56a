/* event_row.c: a decoded, validated kdc.v1.Event flattened into the columns
 * of table `events`. */
#include <string.h>

#include "event_row.h"

/* Codes were checked by kdc_event_validate (1..KDC_CODE_MAX characters);
 * the bound here only keeps an unchecked caller from overrunning the row. */
static void row__code(char dst[KDC_CODE_MAX + 1], const char *src)
{
	size_t n = src ? strnlen(src, KDC_CODE_MAX) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

void kdc_event_row_from_pb(struct kdc_event_row *row, const kdc_event_pb *ev)
{
	size_t idlen = ev->id.len < KDC_UUID_LEN ? ev->id.len : KDC_UUID_LEN;

	/* received_ms too: the caller sets it afterwards */
	memset(row, 0, sizeof *row);
	if (idlen)
		memcpy(row->id, ev->id.data, idlen);
	row->seq = (int64_t)ev->seq;
	row->occurred_ms = ev->occurred_ms;
	row__code(row->ward, ev->ward);
	row__code(row->khom, ev->khom);
	row__code(row->team, ev->team);
	row__code(row->device, ev->device);
	row__code(row->household, ev->household);
	row->member = (int)ev->member;
	row->kind = kdc_event_kind(ev);
	switch (row->kind) {
	case KDC_KIND_VISIT:
		row->subkind = ev->visit->outcome;
		row->members = (int)ev->visit->members;
		row->members_15plus = (int)ev->visit->members_15plus;
		row->smartphones = (int)ev->visit->smartphones;
		for (size_t i = 0; i < ev->visit->n_needs; i++)
			if (ev->visit->needs[i] > 0 && ev->visit->needs[i] < 32)
				row->needs |= 1u << ev->visit->needs[i];
		break;
	case KDC_KIND_ACCOUNT:
		row->subkind = ev->account->kind;
		break;
	case KDC_KIND_PAYMENT:
		row->subkind = ev->payment->purpose;
		row->method = ev->payment->method;
		row->amount_vnd = ev->payment->amount_vnd;
		break;
	case KDC_KIND_SERVICE:
		row->subkind = ev->service->kind;
		break;
	default:
		break;
	}
}
