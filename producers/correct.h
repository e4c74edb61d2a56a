/* correct.h: what a team member needs to correct an event recorded on this
 * device: find it in the outbox by the id `kdc-event pending/rejected` shows
 * (or a unique start or end of it), and tell whether a void of it is there already.
 *
 * The outbox keeps an event only until the server's receipt: a stored
 * (receipted) event has left the device and is found no more; the ward office
 * voids those (kdc-ward void). */
#ifndef KDC_CORRECT_H
#define KDC_CORRECT_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "outbox.h"

#define KDC_ID_PREFIX_MIN 8 /* hex digits of an id prefix, at least */

/* Finds the event whose id is idtext: a UUID as printed, or the first
 * KDC_ID_PREFIX_MIN or more of its hex digits, or the last ones (dashes
 * ignored, any case). The end is the handier: the start of a UUIDv7 is its
 * time, shared by the events of the same minute.
 * On 0: *ev is the decoded event (free with kdc_event_free), id its id and
 * *state its outbox state. KDC_ERR_INVAL (not an id, or a prefix of several
 * events) and KDC_ERR_NOT_FOUND carry a plain reason in err; KDC_ERR_DB. */
int kdc_outbox_find(kdc_outbox *ob, const char *idtext, uint8_t id[KDC_UUID_LEN],
                    kdc_event_pb **ev, int *state, char *err, size_t errlen);

/* *voided = 1 when the outbox holds a void naming target (its id in void_id,
 * which may be NULL). 0 or KDC_ERR_DB. */
int kdc_outbox_voided(kdc_outbox *ob, const uint8_t target[KDC_UUID_LEN],
                      uint8_t void_id[KDC_UUID_LEN], int *voided);

/* Records evs[0..n) (kdc_outbox_record each, ids[i] their ids) in one
 * transaction: all of them or, when one is refused (KDC_ERR_INVAL, reason
 * in v) or the write fails, none. A void and the corrected event of an
 * amendment go together so. Not inside a batch (KDC_ERR_BUSY). */
int kdc_outbox_record_all(kdc_outbox *ob, kdc_event_pb *const *evs, size_t n, int64_t now_ms,
                          uint8_t (*ids)[KDC_UUID_LEN], struct kdc_verdict *v);

#endif
