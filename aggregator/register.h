/* register.h: the ward's household register as the aggregator's writer
 * sees it (docs/stats.md, "The household register"), and the server side of
 * the two event kinds that change what is counted: HouseholdAdded (a
 * household found in the field joins the register) and EventVoided (an
 * earlier event leaves every figure).
 *
 * The register lives in table `register` (the ward's tools write it too,
 * each change with a row in register_log). The writer keeps it in memory, so
 * that checking an event's household costs one hash lookup:
 *  - a ward HAS A REGISTER when the table has any row (active or retired);
 *    without one, household codes are not checked and the denominators are
 *    the profile's;
 *  - with one, an activity event must name an active entry: else it is
 *    refused unknown_household or retired_household;
 *  - an entry is a household or a business (docs/register.md): events for
 *    one are refused on the other (wrong_entry_type);
 *  - denominators per khóm: households = its active household entries;
 *    people 15+ = the sum of their people_15plus when every one has it,
 *    else the profile's number; businesses = its active business entries.
 * Also in memory: the targets of pending voids (voids whose event was not
 * stored yet), so that a newly stored event costs one more lookup.
 *
 * Changes made by other processes are noticed with kdc_register_poll
 * (PRAGMA data_version, then the largest register_log lid), and the writer
 * then reloads and rebuilds the statistics.
 *
 * Everything runs on the writer thread (the owner of the database handle);
 * the functions that write run inside the writer's open transaction. After a
 * rolled-back transaction call kdc_register_stale: the memory may hold what
 * the database lost, and the next kdc_register_load puts it right. */
#ifndef KDC_REGISTER_H
#define KDC_REGISTER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "event_row.h"
#include "kdc_proto.h"
#include "profile.h"
#include "store.h"

struct kdc_stats;

typedef struct kdc_register kdc_register;

enum kdc_register_state { KDC_REG_ABSENT = 0, KDC_REG_ACTIVE, KDC_REG_RETIRED };

/* Prepares the register's statements on the store's database (schema 3) and
 * loads it. profile is borrowed (may be NULL: no khóm is known then). NULL
 * with a reason in err. */
kdc_register *kdc_register_open(kdc_store *store, const struct kdc_profile *profile,
                                char *err, size_t errlen);
void kdc_register_free(kdc_register *r);

/* (Re)reads table `register` and the pending voids into memory, and the
 * largest register_log lid. KDC_OK or a store error (the old contents stay). */
int kdc_register_load(kdc_register *r);
/* The memory may be wrong (a transaction was rolled back, or a load
 * failed): reload before the next use (kdc_register_is_stale says so). */
void kdc_register_stale(kdc_register *r);
int kdc_register_is_stale(const kdc_register *r);
/* Whether another process changed the register (or voids) since the last
 * load: *changed = 1 when register_log has another largest lid. Cheap when
 * nobody else committed anything (PRAGMA data_version). KDC_OK or a store
 * error. */
int kdc_register_poll(kdc_register *r, int *changed);
/* The largest register_log lid of the last load, moved by this writer's own
 * field additions. */
int64_t kdc_register_lid(const kdc_register *r);

int kdc_register_present(const kdc_register *r);
/* KDC_REG_ACTIVE, KDC_REG_RETIRED or KDC_REG_ABSENT: exact byte comparison. */
int kdc_register_state(const kdc_register *r, const char *khom, const char *household);
/* 1 when the entry of khom/household is a business (household business or
 * enterprise), 0 for a household or no entry. */
int kdc_register_business(const kdc_register *r, const char *khom, const char *household);
/* Whether an event of the household is counted as the register stands. */
int kdc_register_counts(const kdc_register *r, const char *khom, const char *household);

/* The hot path: 0 when an activity event's household may be stored, else
 * the reason (unknown_household, retired_household, or wrong_entry_type: an
 * event for a household naming a business entry, or the reverse) with plain
 * words in v. */
int kdc_register_check(const kdc_register *r, const struct kdc_event_row *row,
                       struct kdc_verdict *v);

/* Whether an event with this id is stored (a resend of a stored event is a
 * duplicate, receipted again, even when the register changed since). One
 * indexed read: for the refusal path only. */
int kdc_register_stored(kdc_register *r, const uint8_t *id, int *found);

/* The register's denominators into the statistics: per profile khóm its
 * active households, their people 15+ (the profile's figure where an entry
 * does not give them) and its active businesses; the profile's counts when
 * the ward has no register. The one way the aggregator, kdc-report and the
 * tests set them. KDC_OK, or KDC_ERR_NOMEM with the statistics unchanged
 * or half set (call again). */
int kdc_register_set_denominators(const kdc_register *r, struct kdc_stats *stats);
/* Logs one plain line per khóm where register and profile disagree. */
void kdc_register_log_check(const kdc_register *r);

/* What the special kinds did in the transaction. */
struct kdc_register_effect {
	int stored;           /* the event is new and was stored */
	int duplicate;        /* the event was stored before: receipt it again */
	int added;            /* a household joined the register (denominators changed) */
	int rebuild;          /* stored events became counted or uncounted: recompute */
	int voided;           /* a counted event was voided: its id is in target */
	uint8_t target[KDC_UUID_LEN];
};

/* A HouseholdAdded or EventVoided event (row->kind), validated, inside the
 * transaction: stores it (store) and applies it, or refuses it with the
 * reason in v (v->reason != 0, nothing stored). Rows of activity events
 * judged earlier in the batch must be stored already. now: the time stored.
 * KDC_OK or a store error (roll back). */
int kdc_register_special(kdc_register *r, const kdc_event_pb *ev, const struct kdc_event_row *row,
                         int64_t now, struct kdc_verdict *v, struct kdc_register_effect *e);

/* A newly stored activity event: when a pending void names it, applies the
 * void (*voided = 1: the event is stored voided and must not be folded) or
 * refuses it (state 2, logged; the event counts). One hash lookup when no
 * void waits for it. KDC_OK or a store error. */
int kdc_register_arrived(kdc_register *r, const struct kdc_event_row *row, int *voided);

#endif
