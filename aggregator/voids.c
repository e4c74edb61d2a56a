/* voids.c: the server side of EventVoided (docs/register.md, "Mistakes in recorded events"). A void
 * names an earlier event by id; the event stays stored with voided_by set
 * and leaves every figure. Table `voids` keeps every void with its state:
 * 0 waits for its event (not stored yet), 1 applied, 2 refused when its
 * event arrived (another team's, another household's, not an activity).
 * See register.h. */
#include <stdio.h>
#include <string.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "register_int.h"

enum { VOID_PENDING = 0, VOID_APPLIED = 1, VOID_REFUSED = 2 };

/* A text column, "" for NULL. */
static const char *void__text(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return t ? t : "";
}

static int void__row(kdc_register *r, const struct kdc_event_row *row, const uint8_t *target,
                     const char *reason, int state, int64_t now)
{
	int src = kdc_db_bind(r->st[R_VOID_ADD], "bbttti", row->id, (size_t)KDC_UUID_LEN, target,
	                      (size_t)KDC_UUID_LEN, reason, row->team, row->device, now);

	if (src != SQLITE_OK)
		return reg__fail(r, src, "bind void");
	if ((src = sqlite3_bind_int(r->st[R_VOID_ADD], 7, state)) != SQLITE_OK)
		return reg__fail(r, src, "bind void");
	return reg__done(r, r->st[R_VOID_ADD], "write voids");
}

static int void__apply(kdc_register *r, const uint8_t *target, const uint8_t *void_id)
{
	int src = kdc_db_bind(r->st[R_VOID_APPLY], "bb", target, (size_t)KDC_UUID_LEN, void_id,
	                      (size_t)KDC_UUID_LEN);

	return src == SQLITE_OK ? reg__done(r, r->st[R_VOID_APPLY], "void event")
	                        : reg__fail(r, src, "bind void event");
}

int reg__void(kdc_register *r, const kdc_event_pb *ev, const struct kdc_event_row *row,
              int64_t now, struct kdc_verdict *v, struct kdc_register_effect *e)
{
	const uint8_t *target = ev->void_->target.data;
	const char *reason = ev->void_->reason;
	sqlite3_stmt *st = r->st[R_TARGET];
	char id[KDC_UUID_STR_LEN], team[KDC_CODE_MAX + 1], khom[KDC_CODE_MAX + 1];
	char hh[KDC_CODE_MAX + 1];
	int src, kind = 0, already = 0, found, rc, inserted;

	kdc_uuid_format(target, id);
	if ((src = kdc_db_bind(st, "b", target, (size_t)KDC_UUID_LEN)) != SQLITE_OK)
		return reg__fail(r, src, "bind void target");
	src = sqlite3_step(st);
	found = src == SQLITE_ROW;
	if (found) {
		kind = sqlite3_column_int(st, 0);
		snprintf(team, sizeof team, "%s", void__text(st, 1));
		snprintf(khom, sizeof khom, "%s", void__text(st, 2));
		snprintf(hh, sizeof hh, "%s", void__text(st, 3));
		already = sqlite3_column_int(st, 4);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return reg__fail(r, src, "read void target");
	if (found) {
		if (!kdc_kind_is_activity(kind)) {
			snprintf(v->detail, sizeof v->detail, "event %s is %s: only an activity (a visit, "
			         "an account, a payment, a service or a business's) can be voided", id,
			         kind == KDC_KIND_VOID ? "itself a void" : "a household addition");
			v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED;
			return KDC_OK;
		}
		if (strcmp(team, row->team) != 0) {
			snprintf(v->detail, sizeof v->detail, "event %s was recorded by team %s; only a "
			         "device of team %s can void it", id, team, team);
			v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED;
			return KDC_OK;
		}
		if (strcmp(khom, row->khom) != 0 || strcmp(hh, row->household) != 0) {
			snprintf(v->detail, sizeof v->detail, "event %s is of household %s in khóm %s; "
			         "the void must name the same", id, hh, khom);
			v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED;
			return KDC_OK;
		}
	}
	if ((rc = kdc_store_add_event(r->store, row, &inserted)) != KDC_OK)
		return rc;
	e->stored = inserted;
	e->duplicate = !inserted;
	if (!inserted)
		return KDC_OK;
	if ((rc = void__row(r, row, target, reason, found ? VOID_APPLIED : VOID_PENDING, now)) != KDC_OK)
		return rc;
	if (!found) {
		/* the event is not here yet (sent later, or from another device):
		 * the void waits for it */
		struct reg_id k;
		struct reg_pending *p;
		int created;

		memcpy(k.id, target, KDC_UUID_LEN);
		if (!(p = kdc_hmap_get(&r->pending, &k, &created)))
			return KDC_ERR_NOMEM;
		p->live = 1;
		return KDC_OK;
	}
	if (already)
		return KDC_OK;     /* voided before: nothing changes */
	if ((rc = void__apply(r, target, row->id)) != KDC_OK)
		return rc;
	e->voided = kdc_register_counts(r, khom, hh);
	memcpy(e->target, target, KDC_UUID_LEN);
	return KDC_OK;
}

/* The oldest void waiting for row's event: 1 with its fields, 0 when none. */
static int void__next_pending(kdc_register *r, const struct kdc_event_row *row,
                              uint8_t void_id[KDC_UUID_LEN], char *team, char *khom, char *hh,
                              char *by, int *has_event, int *rc)
{
	sqlite3_stmt *st = r->st[R_VOIDS_OF];
	int src = kdc_db_bind(st, "b", row->id, (size_t)KDC_UUID_LEN), got = 0;

	*rc = KDC_OK;
	if (src != SQLITE_OK) {
		*rc = reg__fail(r, src, "bind pending voids");
		return 0;
	}
	src = sqlite3_step(st);
	if (src == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KDC_UUID_LEN) {
		memcpy(void_id, sqlite3_column_blob(st, 0), KDC_UUID_LEN);
		snprintf(team, KDC_CODE_MAX + 1, "%s", void__text(st, 1));
		*has_event = sqlite3_column_type(st, 2) != SQLITE_NULL;
		snprintf(khom, KDC_CODE_MAX + 1, "%s", void__text(st, 2));
		snprintf(hh, KDC_CODE_MAX + 1, "%s", void__text(st, 3));
		snprintf(by, 64, "%s", void__text(st, 4));
		got = 1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		*rc = reg__fail(r, src, "read pending voids");
	return got;
}

int kdc_register_arrived(kdc_register *r, const struct kdc_event_row *row, int *voided)
{
	struct reg_id k;
	struct reg_pending *p;
	char team[KDC_CODE_MAX + 1], khom[KDC_CODE_MAX + 1], hh[KDC_CODE_MAX + 1], by[64];
	char id[KDC_UUID_STR_LEN];
	uint8_t void_id[KDC_UUID_LEN];
	int rc, has_event = 0;

	*voided = 0;
	memcpy(k.id, row->id, KDC_UUID_LEN);
	p = kdc_hmap_find(&r->pending, &k);
	if (!p || !p->live)
		return KDC_OK;
	p->live = 0;
	kdc_uuid_format(row->id, id);
	/* oldest first: the first valid one applies, later valid ones find the
	 * event voided already (state 1 too), invalid ones are refused */
	/* each pass ends one void (its state leaves 0); the bound only guards
	 * against a row the UPDATE cannot change */
	for (int guard = 0; guard < 10000 &&
	     void__next_pending(r, row, void_id, team, khom, hh, by, &has_event, &rc); guard++) {
		const char *why = NULL;
		int state = VOID_APPLIED, src;

		if (!kdc_kind_is_activity(row->kind))
			why = "the event is not an activity (a visit, an account, a payment, a service "
			      "or a business's)";
		else if (team[0] && strcmp(team, row->team) != 0)
			why = "the event is of another team";
		else if (has_event && (strcmp(khom, row->khom) != 0 || strcmp(hh, row->household) != 0))
			why = "the event is of another household";
		if (why) {
			state = VOID_REFUSED;
			kdc_warn("a void by %s of event %s is refused now that the event arrived: %s "
			         "(team %s, khóm %s, household %s); the event counts", by, id, why,
			         row->team, row->khom, row->household);
		} else if (!*voided) {
			if ((rc = void__apply(r, row->id, void_id)) != KDC_OK)
				return rc;
			*voided = 1;
		}
		if ((src = kdc_db_bind(r->st[R_VOID_STATE], "bi", void_id, (size_t)KDC_UUID_LEN,
		                       (int64_t)state)) != SQLITE_OK)
			return reg__fail(r, src, "bind void state");
		if ((rc = reg__done(r, r->st[R_VOID_STATE], "write void state")) != KDC_OK)
			return rc;
	}
	return rc;
}
