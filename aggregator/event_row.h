/* event_row.h: one stored event, flattened (the columns of table `events`).
 * Shared by the store (writes them), the statistics (folds them) and rebuild
 * (reads them back). */
#ifndef KDC_EVENT_ROW_H
#define KDC_EVENT_ROW_H

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
	int subkind;           /* visit: outcome; account: AccountKind;
	                          payment: PaymentPurpose; service: ServiceKind */
	int method;            /* payment: PaymentMethod; else 0 */
	int64_t amount_vnd;    /* payment amount, 0 = not recorded */
	int members;           /* visit only */
	int members_15plus;    /* visit only */
	int smartphones;       /* visit only */
	uint32_t needs;        /* visit only: bit (1 << Need) per need expressed */
};

/* Fills row from a decoded, validated event (received_ms set by caller). */
void kdc_event_row_from_pb(struct kdc_event_row *row, const kdc_event_pb *ev);

#endif
