/* event_row.c: a decoded, validated kdc.v1.Event flattened into the columns
 * of table `events`. */
#include <stdio.h>
#include <string.h>

#include "event_row.h"

enum { COL_ID, COL_I64, COL_INT, COL_TEXT, COL_U32 };

static const struct {
	const char *name;
	int type;
	size_t offset;
} event_cols[] = {
#define EVENT_COL(c, t) { #c, COL_##t, offsetof(struct kdc_event_row, c) },
	KDC_EVENT_COLUMNS(EVENT_COL)
#undef EVENT_COL
};
_Static_assert(sizeof event_cols / sizeof event_cols[0] == KDC_EVENT_NCOLS,
               "one entry per column");

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
		row->flags = ev->service->vneid_level2 ? KDC_FLAG_VNEID : 0;
		break;
	case KDC_KIND_BUSINESS_VISIT:
		row->subkind = ev->business_visit->outcome;
		row->flags = (ev->business_visit->issues_einvoice ? KDC_FLAG_EINVOICE : 0) |
		             (ev->business_visit->uses_online_services ? KDC_FLAG_ONLINE_SERVICES : 0);
		for (size_t i = 0; i < ev->business_visit->n_needs; i++)
			if (ev->business_visit->needs[i] > 0 && ev->business_visit->needs[i] < 32)
				row->needs |= 1u << ev->business_visit->needs[i];
		break;
	case KDC_KIND_HOUSEHOLD_ADDED:
		row->subkind = ev->household_added->business ? 1 : 0; /* 1: a business */
		break;
	default:
		break;
	}
}

int kdc_event_row_columns(char *out, size_t len)
{
	int n = 0;

	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < KDC_EVENT_NCOLS; i++) {
		size_t at = (size_t)n < len ? (size_t)n : len;
		n += snprintf(out + at, len - at, "%s%s", i ? ", " : "", event_cols[i].name);
	}
	return n;
}

int kdc_event_row_bind(sqlite3_stmt *st, int base, const struct kdc_event_row *r)
{
	const char *p = (const char *)r;
	int src = SQLITE_OK;

	for (int i = 0; i < KDC_EVENT_NCOLS && src == SQLITE_OK; i++) {
		const void *f = p + event_cols[i].offset;
		switch (event_cols[i].type) {
		case COL_ID:
			src = sqlite3_bind_blob(st, base + i + 1, f, KDC_UUID_LEN, SQLITE_STATIC);
			break;
		case COL_I64:
			src = sqlite3_bind_int64(st, base + i + 1, *(const int64_t *)f);
			break;
		case COL_INT:
			src = sqlite3_bind_int(st, base + i + 1, *(const int *)f);
			break;
		case COL_TEXT:
			src = sqlite3_bind_text(st, base + i + 1, f, -1, SQLITE_STATIC);
			break;
		default:
			src = sqlite3_bind_int64(st, base + i + 1, (sqlite3_int64)*(const uint32_t *)f);
			break;
		}
	}
	return src;
}

void kdc_event_row_read(sqlite3_stmt *st, int col, struct kdc_event_row *r)
{
	char *p = (char *)r;

	memset(r, 0, sizeof *r);
	for (int i = 0; i < KDC_EVENT_NCOLS; i++) {
		void *f = p + event_cols[i].offset;
		int c = col + i;
		switch (event_cols[i].type) {
		case COL_ID: {
			const void *id = sqlite3_column_blob(st, c);
			int n = sqlite3_column_bytes(st, c);
			if (id)
				memcpy(f, id, n < KDC_UUID_LEN ? (size_t)n : KDC_UUID_LEN);
			break;
		}
		case COL_I64:
			*(int64_t *)f = sqlite3_column_int64(st, c);
			break;
		case COL_INT:
			*(int *)f = sqlite3_column_int(st, c);
			break;
		case COL_TEXT:
			row__code(f, (const char *)sqlite3_column_text(st, c));
			break;
		default:
			*(uint32_t *)f = (uint32_t)sqlite3_column_int64(st, c);
			break;
		}
	}
}
