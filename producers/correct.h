/* correct.h: what a team member needs to correct an event recorded on this
 * device: find it in the outbox or its history by the id `kdc-event
 * history/pending/rejected` shows (or a unique start or end of it), tell
 * whether a void of it is there already, and list the history.
 *
 * The outbox keeps an event until the server's receipt; a stored event then
 * stays in the history for history-days (outbox.h). Older ones are found no
 * more: the ward office voids those (kdc-ward void). */
#ifndef KDC_CORRECT_H
#define KDC_CORRECT_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "outbox.h"

#define KDC_ID_PREFIX_MIN 8 /* hex digits of an id prefix, at least */

/* Finds the event whose id is idtext, in the outbox or the history: a UUID
 * as printed, or the first KDC_ID_PREFIX_MIN or more of its hex digits, or
 * the last ones (dashes ignored, any case). The end is the handier: the start
 * of a UUIDv7 is its time, shared by the events of the same minute.
 * On 0: *ev is the decoded event (free with kdc_event_free), id its id and
 * *state its outbox state (KDC_OUTBOX_STORED: in the history). KDC_ERR_INVAL (not an id, or a prefix of several
 * events) and KDC_ERR_NOT_FOUND carry a plain reason in err; KDC_ERR_DB. */
int kdc_outbox_find(kdc_outbox *ob, const char *idtext, uint8_t id[KDC_UUID_LEN],
                    kdc_event_pb **ev, int *state, char *err, size_t errlen);

/* *voided = 1 when the outbox or the history holds a void naming target
 * (its id in void_id, which may be NULL). 0 or KDC_ERR_DB. */
int kdc_outbox_voided(kdc_outbox *ob, const uint8_t target[KDC_UUID_LEN],
                      uint8_t void_id[KDC_UUID_LEN], int *voided);

/* Records evs[0..n) (kdc_outbox_record each, ids[i] their ids) in one
 * transaction: all of them or, when one is refused (KDC_ERR_INVAL, reason
 * in v) or the write fails, none. A void and the corrected event of an
 * amendment go together so. Not inside a batch (KDC_ERR_BUSY). */
int kdc_outbox_record_all(kdc_outbox *ob, kdc_event_pb *const *evs, size_t n, int64_t now_ms,
                          uint8_t (*ids)[KDC_UUID_LEN], struct kdc_verdict *v);

/* One history row, as a listing callback sees it (pointers valid only
 * during the callback). */
struct kdc_history_row {
	uint8_t id[KDC_UUID_LEN];
	int64_t seq;
	int64_t occurred_ms;
	int kind;                /* enum kdc_kind */
	const char *khom, *household;
	int64_t member;
	const void *payload;     /* packed kdc.v1.Event */
	size_t payload_len;
	int64_t stored_ms;       /* when its receipt came (device clock) */
};
typedef int (*kdc_history_cb)(void *ud, const struct kdc_history_row *row);

/* The history, newest first (occurred_ms, then seq), of khom and household
 * only when not NULL, at most limit rows (0 = all). Returns 0, the callback's
 * non-zero value, or KDC_ERR_DB. */
int kdc_history_list(kdc_outbox *ob, const char *khom, const char *household, int64_t limit,
                     kdc_history_cb cb, void *ud);
/* Rows in the history. */
int kdc_history_count(kdc_outbox *ob, int64_t *n);

#endif
