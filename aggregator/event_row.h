/* event_row.h: one stored event, flattened (the columns of table `events`).
 * Shared by the store (writes them), the statistics (folds them) and rebuild
 * (reads them back). The columns are mapped once, in KDC_EVENT_COLUMNS: the
 * store binds and rebuild reads through it. Pure functions: any thread. */
#ifndef KDC_EVENT_ROW_H
#define KDC_EVENT_ROW_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "kdc_proto.h"
#include "kdc_util.h"

struct kdc_event_row {
	uint8_t id[KDC_UUID_LEN];
	int64_t seq;
	int64_t occurred_ms;   /* event time (device clock, UTC ms) */
	int64_t received_ms;   /* when the aggregator stored it */
	char ward[KDC_CODE_MAX + 1];
	char khom[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	char device[KDC_CODE_MAX + 1];
	char household[KDC_CODE_MAX + 1];
	int member;            /* 0 for household-level events */
	int kind;              /* enum kdc_kind */
	int subkind;           /* visit, business visit: outcome; account: AccountKind;
	                          payment: PaymentPurpose; service: ServiceKind;
	                          household added: 1 for a business */
	int method;            /* payment: PaymentMethod; else 0 */
	int64_t amount_vnd;    /* payment amount, 0 = not recorded */
	int members;           /* visit only */
	int members_15plus;    /* visit only */
	int smartphones;       /* visit only */
	uint32_t needs;        /* visit only: bit (1 << Need) per need expressed;
	                          business visit: bit (1 << BusinessNeed) */
	uint32_t flags;        /* KDC_FLAG_*: business visit, service */
};

/* The columns of table `events` in order: X(column and field name, type),
 * type ID (the 16-byte id), I64, INT, TEXT (a code) or U32. */
#define KDC_EVENT_COLUMNS(X) \
	X(id, ID) X(seq, I64) X(occurred_ms, I64) X(received_ms, I64) \
	X(ward, TEXT) X(khom, TEXT) X(team, TEXT) X(device, TEXT) X(household, TEXT) \
	X(member, INT) X(kind, INT) X(subkind, INT) X(method, INT) X(amount_vnd, I64) \
	X(members, INT) X(members_15plus, INT) X(smartphones, INT) X(needs, U32) X(flags, U32)
#define KDC__EVENT_COL_ONE(c, t) +1
#define KDC_EVENT_NCOLS (0 KDC_EVENT_COLUMNS(KDC__EVENT_COL_ONE))

/* Fills row from a decoded, validated event (received_ms set by caller). */
void kdc_event_row_from_pb(struct kdc_event_row *row, const kdc_event_pb *ev);

/* "id, seq, ..., needs" into out; the length it needs (like snprintf). */
int kdc_event_row_columns(char *out, size_t len);
/* Binds r at parameters base + 1 .. base + KDC_EVENT_NCOLS of st (static:
 * r must outlive the step). Returns SQLite's result code. */
int kdc_event_row_bind(sqlite3_stmt *st, int base, const struct kdc_event_row *r);
/* Reads r from the columns col .. col + KDC_EVENT_NCOLS - 1 of a row of st
 * selected with kdc_event_row_columns. */
void kdc_event_row_read(sqlite3_stmt *st, int col, struct kdc_event_row *r);

#endif
