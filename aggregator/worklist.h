/* worklist.h: the team worklists (kdc.v1.Worklist on kdc/v1/{ward}/worklist/{team})
 * and the dashboard's household lists (kdc.households.v1 JSON on
 * kdc/v1/{ward}/households/khom/{khom}), both retained.
 *
 * Which households: with a register (table `register` has a row), the active
 * entries of the khóm; without one, the households the statistics saw in the
 * khóm (st_household and st_person of the khóm's scope). A team's list is
 * the lists of its profile khóms, sorted by khóm then household. Where each
 * household stands comes from the statistics' tables (kept by the same
 * transaction as the events, so it holds counted events only): see
 * kdc_worklist_status for the rules.
 *
 * Cost: a khóm's list is one SQL query over the khóm's register entries and
 * statistics rows, run only for khóms touched since their last publish (the
 * writer touches the khóms of each committed batch), at most once per
 * interval each; a list whose content did not change is not published
 * again. Register changes made by other programs (import, add, retire) are
 * seen by the newest register_log row; a statistics rebuild or a new local
 * day (the "paying regularly" window moves) recomputes every list.
 *
 * Threads: all functions run on the writer thread, which owns the db handle,
 * outside the writer's transaction (after COMMIT, after the batch's receipts
 * were queued). The profile is borrowed and must outlive the worklist. */
#ifndef KDC_WORKLIST_H
#define KDC_WORKLIST_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct kdc_profile;
typedef struct kdc_worklist kdc_worklist;

/* What the statistics know of one household (counted events only). */
struct kdc_household_facts {
	int surveyed;               /* a surveyed visit */
	int declined;               /* a declined visit */
	int reached;                /* any account event */
	int64_t not_home;           /* "not at home" visits */
	int payment_account;        /* a member has a payment account */
	int has_pay;                /* a member paid (digitally) ... */
	int64_t last_pay_day;       /* ... last on this local day */
};

/* Where a household stands (kdc.v1.HouseholdStatus), the first that
 * applies: reached (an account), surveyed, declined, not home (only "not at
 * home" visits), not visited; and its next step (kdc.v1.NextStep): visit,
 * revisit, none when declined, open an account when surveyed; when reached,
 * a payment account when nobody has one, else paying cashless when nobody
 * paid within the window_days days ending today, else none. Pure. */
void kdc_worklist_status(const struct kdc_household_facts *f, int64_t today, int window_days,
                         int *status, int *next);

/* ward is copied; db and profile are borrowed (see above). Creates the table
 * that keeps each topic's seq. NULL with a reason in err. */
kdc_worklist *kdc_worklist_new(sqlite3 *db, const struct kdc_profile *profile, const char *ward,
                               char *err, size_t errlen);
void kdc_worklist_free(kdc_worklist *wl);

/* The khóm's list (and its teams') may have changed: recompute it at the
 * next publish. An unknown khóm (not in the profile) gets a household list
 * of its own and belongs to no team. */
void kdc_worklist_touch(kdc_worklist *wl, const char *khom);
/* Every list may have changed. */
void kdc_worklist_touch_all(kdc_worklist *wl);

/* Calls emit(ud, topic, payload, len) for each list that changed and whose
 * topic was last published at least min_interval_ms ago; payload is valid
 * only during the call. The first call publishes every list.
 * budget_ms > 0 bounds the call's time (monotonic clock): once it is spent,
 * after at least one list, the lists left wait for the next call, so that
 * the writer's next batch (its receipts) never waits long behind them; 0:
 * no bound. stats_rebuilds is kdc_stats_rebuilds(): when it moved, every
 * list is recomputed. Returns 0, or KDC_ERR_DB / KDC_ERR_NOMEM (the lists
 * not done are tried again next call). */
typedef void (*kdc_worklist_emit_cb)(void *ud, const char *topic, const void *payload,
                                     size_t len);
int kdc_worklist_publish(kdc_worklist *wl, int64_t now_ms, int64_t min_interval_ms,
                         int64_t budget_ms, uint64_t stats_rebuilds, kdc_worklist_emit_cb emit,
                         void *ud);

#endif
