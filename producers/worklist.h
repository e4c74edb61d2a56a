/* worklist.h: the team's worklist as the device keeps it, in its outbox file
 * (schema version 3), so that a team member can list it and record against it
 * offline.
 *
 *   worklist_info: one row (id 1): ward, team, as_of_ms, seq and received_ms
 *     of the list last stored; no row = nothing downloaded yet.
 *   worklist(khom, household, status, attempts, last_attempt_ms, next,
 *     people_15plus, field_added, pos, local): one row a household, pos its
 *     place in the list; local 1 = added on this device (kdc-event household
 *     add) and not on a list from the server yet.
 *
 * A newer list (higher seq, or a later as_of: the seq of a restarted
 * aggregator may start again) replaces the server's rows in one transaction;
 * the device's own additions stay until a list from the server names them.
 * The functions use the outbox's connection: call them from its owner, in or
 * outside an outbox batch. */
#ifndef KDC_WORKLIST_H
#define KDC_WORKLIST_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "outbox.h"

struct kdc_wl_info {
	char ward[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	int64_t as_of_ms;
	int64_t seq;
	int64_t received_ms;
	int from_register;       /* 1: the list is the register: others are refused */
};

/* One household of the stored list. */
struct kdc_wl_entry {
	char khom[KDC_CODE_MAX + 1];
	char household[KDC_CODE_MAX + 1];
	int status;              /* kdc.v1.HouseholdStatus */
	int64_t attempts;
	int64_t last_attempt_ms; /* 0 = none */
	int next;                /* kdc.v1.NextStep */
	int64_t people_15plus;   /* 0 = not known */
	int field_added;
	int local;               /* added on this device, not on the server's list yet */
};

typedef int (*kdc_wl_cb)(void *ud, const struct kdc_wl_entry *e);

/* Decodes a kdc.v1.Worklist (at most KDC_MAX_WORKLIST_BYTES) and checks it
 * is for ward/team, with valid codes and known status and next-step values.
 * Returns the list (free with kdc__v1__worklist__free_unpacked(wl, NULL)) or
 * NULL with the reason in err. */
kdc_worklist_pb *kdc_worklist_decode(const void *buf, size_t len, const char *ward,
                                     const char *team, char *err, size_t errlen);

/* Stores wl (checked by kdc_worklist_decode) when it is newer than the list
 * stored, or when the stored one is of another ward or team. *stored (may be
 * NULL) = 1 if it replaced the list, 0 if it was not newer. 0 or
 * KDC_ERR_DB/DISK_FULL (kdc_outbox_errmsg says why). */
int kdc_worklist_store(kdc_outbox *ob, const kdc_worklist_pb *wl, int64_t now_ms, int *stored);

/* The stored list's header: 0, KDC_ERR_NOT_FOUND when none was downloaded,
 * or KDC_ERR_DB. */
int kdc_worklist_info(kdc_outbox *ob, struct kdc_wl_info *info);

/* Households in list order (the device's own additions last), of khom only
 * when khom is not NULL, of status only when status > 0. */
int kdc_worklist_list(kdc_outbox *ob, const char *khom, int status, kdc_wl_cb cb, void *ud);

/* A household added on this device: not visited, field_added, local. *added
 * = 0 when (khom, household) is on the stored list already. */
int kdc_worklist_add_local(kdc_outbox *ob, const char *khom, const char *household,
                           int64_t people_15plus, int *added);

/* Checks (khom, household) against the stored list of ward/team before an
 * event is recorded: 0 when it is on the list or no list of ward/team is
 * stored; KDC_ERR_NOT_FOUND with the plain-words refusal and suggestion in
 * msg; KDC_ERR_DB. */
int kdc_worklist_check(kdc_outbox *ob, const char *ward, const char *team, const char *khom,
                       const char *household, char *msg, size_t len);

/* The household's place on the stored list, when that list is ward/team's
 * and the ward's register: *listed 1 on it, 0 not (then near is the nearest
 * code on the list for khom, or "" when none is near); -1 when there is no
 * such list to check against. KDC_OK or an error. */
int kdc_worklist_nearest(kdc_outbox *ob, const char *ward, const char *team, const char *khom,
                         const char *household, int *listed, char near[KDC_CODE_MAX + 1]);

/* The nearest registered code, for "did you mean ...?": kdc_nearest
 * (kdc_util.h). */

#endif
