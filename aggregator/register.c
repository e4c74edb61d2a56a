/* register.c: the household register in the writer's memory, its
 * denominators and cross-check, and HouseholdAdded. Voids are in voids.c.
 * See register.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "register_int.h"
#include "stats.h"

static const char *const reg_sql[R_COUNT] = {
	[R_LOAD] = "SELECT khom, household, people_15plus, retired_ms IS NOT NULL, business FROM register",
	[R_PENDING] = "SELECT target FROM voids WHERE state = 0",
	[R_MAX_LID] = "SELECT COALESCE(MAX(lid), 0) FROM register_log",
	[R_DATA_VERSION] = "PRAGMA data_version",
	[R_EXISTS] = "SELECT 1 FROM events WHERE id = ?1",
	[R_ADD] = "INSERT INTO register(khom, household, people_15plus, source, added_by, added_ms,"
	          " business) VALUES(?1, ?2, ?3, 'field', ?4, ?5, ?6)",
	[R_LOG] = "INSERT INTO register_log(at_ms, by, action, khom, household, detail)"
	          " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	/* no index on (khom, household): a scan, but only for a field addition */
	[R_HH_EVENTS] = "SELECT 1 FROM events WHERE khom = ?1 AND household = ?2 AND " KDC_KIND_ACTIVITY_SQL
	                " AND voided_by IS NULL LIMIT 1",
	[R_TARGET] = "SELECT kind, team, khom, household, voided_by IS NOT NULL FROM events WHERE id = ?1",
	[R_VOID_ADD] = "INSERT INTO voids(void_id, target, reason, team, by, at_ms, state)"
	               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[R_VOID_APPLY] = "UPDATE events SET voided_by = ?2 WHERE id = ?1 AND voided_by IS NULL",
	[R_VOIDS_OF] = "SELECT v.void_id, v.team, e.khom, e.household, v.by FROM voids v"
	               " LEFT JOIN events e ON e.id = v.void_id"
	               " WHERE v.target = ?1 AND v.state = 0 ORDER BY v.at_ms, v.void_id",
	[R_VOID_STATE] = "UPDATE voids SET state = ?2 WHERE void_id = ?1",
};

int reg__fail(kdc_register *r, int src, const char *what)
{
	kdc_error("household register: %s: %s", what, sqlite3_errmsg(r->db));
	return kdc_db_rc(r->db, src);
}

int reg__done(kdc_register *r, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return src == SQLITE_DONE ? KDC_OK : reg__fail(r, src, what);
}

int reg__exists(kdc_register *r, enum reg_stmt q, int *found, const char *what)
{
	sqlite3_stmt *st = r->st[q];
	int src = sqlite3_step(st);

	*found = src == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return src == SQLITE_ROW || src == SQLITE_DONE ? KDC_OK : reg__fail(r, src, what);
}

static void reg__key(struct reg_key *k, const char *khom, const char *household)
{
	memset(k, 0, sizeof *k);
	memcpy(k->khom, khom, strnlen(khom, KDC_CODE_MAX));
	memcpy(k->household, household, strnlen(household, KDC_CODE_MAX));
}

kdc_register *kdc_register_open(kdc_store *store, const struct kdc_profile *profile,
                                char *err, size_t errlen)
{
	kdc_register *r = calloc(1, sizeof *r);

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->store = store;
	r->db = kdc_store_db(store);
	r->profile = profile;
	r->data_version = -1;
	kdc_hmap_init(&r->entries, sizeof(struct reg_key), sizeof(struct reg_val));
	kdc_hmap_init(&r->pending, sizeof(struct reg_id), sizeof(struct reg_pending));
	if (kdc_db_prepare(r->db, reg_sql, r->st, R_COUNT, err, errlen) != KDC_OK)
		goto fail;
	if (kdc_register_load(r) != KDC_OK) {
		snprintf(err, errlen, "cannot read the household register: %s", sqlite3_errmsg(r->db));
		goto fail;
	}
	return r;
fail:
	kdc_register_free(r);
	return NULL;
}

void kdc_register_free(kdc_register *r)
{
	if (!r)
		return;
	kdc_db_finalize(r->st, R_COUNT);
	kdc_hmap_free(&r->entries);
	kdc_hmap_free(&r->pending);
	free(r);
}

int kdc_register_load(kdc_register *r)
{
	sqlite3_stmt *st = r->st[R_LOAD];
	size_t rows = 0;
	int src;

	kdc_hmap_clear(&r->entries);
	kdc_hmap_clear(&r->pending);
	r->rows = 0;
	r->stale = 1;   /* until the whole load worked */
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *khom = (const char *)sqlite3_column_text(st, 0);
		const char *hh = (const char *)sqlite3_column_text(st, 1);
		struct reg_key k;
		struct reg_val *v;
		int created;

		reg__key(&k, khom ? khom : "", hh ? hh : "");
		if (!(v = kdc_hmap_get(&r->entries, &k, &created))) {
			sqlite3_reset(st);
			return KDC_ERR_NOMEM;
		}
		v->state = sqlite3_column_int(st, 3) ? KDC_REG_RETIRED : KDC_REG_ACTIVE;
		v->people = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
		v->business = sqlite3_column_int(st, 4) != 0;
		rows++;
	}
	sqlite3_reset(st);
	if (src != SQLITE_DONE)
		return reg__fail(r, src, "read register");
	st = r->st[R_PENDING];
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct reg_id k;
		struct reg_pending *p;
		int created, n = sqlite3_column_bytes(st, 0);

		if (n != KDC_UUID_LEN)
			continue;
		memcpy(k.id, sqlite3_column_blob(st, 0), KDC_UUID_LEN);
		if (!(p = kdc_hmap_get(&r->pending, &k, &created))) {
			sqlite3_reset(st);
			return KDC_ERR_NOMEM;
		}
		p->live = 1;
	}
	sqlite3_reset(st);
	if (src != SQLITE_DONE)
		return reg__fail(r, src, "read pending voids");
	st = r->st[R_MAX_LID];
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		r->lid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (src != SQLITE_ROW)
		return reg__fail(r, src, "read register_log");
	r->rows = rows;
	r->stale = 0;
	return KDC_OK;
}

void kdc_register_stale(kdc_register *r)
{
	r->stale = 1;
}

int kdc_register_poll(kdc_register *r, int *changed)
{
	sqlite3_stmt *st = r->st[R_DATA_VERSION];
	int64_t dv = -1, lid = 0;
	int src;

	*changed = 0;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		dv = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (src != SQLITE_ROW)
		return reg__fail(r, src, "read data_version");
	/* data_version moves when another connection commits anything (a
	 * reader of the dashboard never does; the ward's tools do) */
	if (dv == r->data_version)
		return KDC_OK;
	st = r->st[R_MAX_LID];
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		lid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (src != SQLITE_ROW)
		return reg__fail(r, src, "read register_log");
	r->data_version = dv;
	if (lid != r->lid)
		*changed = 1;
	return KDC_OK;
}

int kdc_register_is_stale(const kdc_register *r)
{
	return r->stale;
}

int64_t kdc_register_lid(const kdc_register *r)
{
	return r->lid;
}

int kdc_register_present(const kdc_register *r)
{
	return r->rows > 0;
}

int kdc_register_state(const kdc_register *r, const char *khom, const char *household)
{
	struct reg_key k;
	const struct reg_val *v;

	reg__key(&k, khom, household);
	v = kdc_hmap_find(&r->entries, &k);
	return v ? v->state : KDC_REG_ABSENT;
}

int kdc_register_business(const kdc_register *r, const char *khom, const char *household)
{
	struct reg_key k;
	const struct reg_val *v;

	reg__key(&k, khom, household);
	v = kdc_hmap_find(&r->entries, &k);
	return v && v->business;
}

/* The entry's type against the event's: 0, or wrong_entry_type in v. */
static int reg__type_check(const char *khom, const char *household, int entry_business,
                           int event_business, struct kdc_verdict *v)
{
	if (entry_business == event_business)
		return 0;
	snprintf(v->detail, sizeof v->detail,
	         "%s of khóm %s is a %s in the ward's register, not a %s", household, khom,
	         entry_business ? "business" : "household", event_business ? "business" : "household");
	return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_WRONG_ENTRY_TYPE;
}

int kdc_register_counts(const kdc_register *r, const char *khom, const char *household)
{
	return r->rows == 0 || kdc_register_state(r, khom, household) == KDC_REG_ACTIVE;
}

int kdc_register_check(const kdc_register *r, const struct kdc_event_row *row,
                       struct kdc_verdict *v)
{
	int state;

	if (r->rows == 0)
		return 0;
	state = kdc_register_state(r, row->khom, row->household);
	if (state == KDC_REG_ACTIVE)
		return reg__type_check(row->khom, row->household,
		                       kdc_register_business(r, row->khom, row->household),
		                       kdc_kind_for_business(row->kind), v);
	if (state == KDC_REG_RETIRED) {
		snprintf(v->detail, sizeof v->detail,
		         "household %s of khóm %s was retired from the ward's register", row->household,
		         row->khom);
		return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_RETIRED_HOUSEHOLD;
	}
	snprintf(v->detail, sizeof v->detail,
	         "household %s is not in the ward's register for khóm %s", row->household, row->khom);
	return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_HOUSEHOLD;
}

/* ---- denominators ------------------------------------------------------------ */

/* Per profile khóm: active households, the sum of their people and whether
 * every one has people, active businesses; *extra counts active entries of
 * other khóms. */
struct reg_tally {
	int64_t hh, people, biz;
	int all_people;
};

static int reg__tally(const kdc_register *r, struct reg_tally *t, int64_t *extra)
{
	const struct kdc_profile *p = r->profile;
	size_t nk = p ? p->nkhoms : 0;

	*extra = 0;
	for (size_t i = 0; i < nk; i++) {
		t[i].hh = t[i].people = t[i].biz = 0;
		t[i].all_people = 1;
	}
	for (size_t i = 0; i < r->entries.len; i++) {
		const struct reg_key *k = KDC_HMAP_KEY(&r->entries, i);
		const struct reg_val *v = KDC_HMAP_VAL(&r->entries, i);
		long at;

		if (v->state != KDC_REG_ACTIVE)
			continue;
		at = p ? kdc_profile_khom_find(p, k->khom) : -1;
		if (at < 0) {
			(*extra)++;
			continue;
		}
		if (v->business) {
			t[at].biz++;
			continue;
		}
		t[at].hh++;
		if (v->people < 0)
			t[at].all_people = 0;
		else
			t[at].people += v->people;
	}
	return KDC_OK;
}

int kdc_register_set_denominators(const kdc_register *r, kdc_stats *stats)
{
	const struct kdc_profile *p = r->profile;
	size_t nk = p ? p->nkhoms : 0;
	struct reg_tally *t;
	int64_t *hh, *people, *biz, extra;
	int rc = KDC_ERR_NOMEM;

	if (r->rows == 0 || nk == 0) {
		if ((rc = kdc_stats_set_denominators(stats, NULL, NULL)) == KDC_OK)
			rc = kdc_stats_set_businesses(stats, NULL);
		return rc;
	}
	t = calloc(nk, sizeof *t);
	hh = calloc(nk, sizeof *hh);
	people = calloc(nk, sizeof *people);
	biz = calloc(nk, sizeof *biz);
	if (t && hh && people && biz) {
		reg__tally(r, t, &extra);
		for (size_t i = 0; i < nk; i++) {
			hh[i] = t[i].hh;
			/* every active entry gives its people (none at all: 0 people) */
			people[i] = t[i].all_people ? t[i].people : p->khoms[i].people_15plus;
			biz[i] = t[i].biz;
		}
		if ((rc = kdc_stats_set_denominators(stats, hh, people)) == KDC_OK)
			rc = kdc_stats_set_businesses(stats, biz);
	}
	free(t);
	free(hh);
	free(people);
	free(biz);
	return rc;
}

void kdc_register_log_check(const kdc_register *r)
{
	const struct kdc_profile *p = r->profile;
	size_t nk = p ? p->nkhoms : 0;
	struct reg_tally *t;
	int64_t extra;

	if (r->rows == 0) {
		kdc_info("household register: none (the profile's counts are the denominators)");
		return;
	}
	if (nk && !(t = calloc(nk, sizeof *t)))
		return;
	if (!nk)
		t = NULL;
	reg__tally(r, t, &extra);
	for (size_t i = 0; i < nk; i++) {
		const struct kdc_profile_khom *k = &p->khoms[i];
		if (t[i].hh != k->households)
			kdc_notice("khóm %s: the register has %lld households, the profile says %lld "
			           "(the register is used)", k->code, (long long)t[i].hh,
			           (long long)k->households);
		if (t[i].all_people && t[i].people != k->people_15plus)
			kdc_notice("khóm %s: the register has %lld people aged 15+, the profile says %lld "
			           "(the register is used)", k->code, (long long)t[i].people,
			           (long long)k->people_15plus);
	}
	if (extra)
		kdc_warn("the register has %lld active households in khóms the profile does not list: "
		         "they are not counted", (long long)extra);
	free(t);
}

/* ---- HouseholdAdded ------------------------------------------------------------ */

static int reg__household_added(kdc_register *r, const kdc_event_pb *ev,
                                const struct kdc_event_row *row, int64_t now,
                                struct kdc_verdict *v, struct kdc_register_effect *e)
{
	uint32_t people = ev->household_added->people_15plus;
	int business = ev->household_added->business != 0;
	char detail[160];
	int state = kdc_register_state(r, row->khom, row->household), rc, inserted, found;
	struct reg_key k;
	struct reg_val *val;

	if (state == KDC_REG_RETIRED) {
		snprintf(v->detail, sizeof v->detail,
		         "household %s of khóm %s was retired from the ward's register; the ward "
		         "can bring it back (register add)", row->household, row->khom);
		v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_RETIRED_HOUSEHOLD;
		return KDC_OK;
	}
	/* the same code added again as the other type: the device mistook it;
	 * a resend of a stored addition was receipted before this point */
	if (state == KDC_REG_ACTIVE &&
	    reg__type_check(row->khom, row->household, kdc_register_business(r, row->khom, row->household),
	                    business, v))
		return KDC_OK;
	if ((rc = kdc_store_add_event(r->store, row, &inserted)) != KDC_OK)
		return rc;
	e->stored = inserted;
	e->duplicate = !inserted;
	if (!inserted || state == KDC_REG_ACTIVE)
		return KDC_OK;
	/* Without a register the ward counts every household: one added from
	 * the field must not start a register of one (the import does that). */
	if (r->rows == 0) {
		kdc_info("household %s of khóm %s added from the field by device %s; the ward has no "
		         "register, so nothing changes", row->household, row->khom, row->device);
		return KDC_OK;
	}
	if ((rc = kdc_db_bind(r->st[R_ADD], "ttitii", row->khom, row->household,
	                      (int64_t)people, row->device, now, (int64_t)business)) != SQLITE_OK)
		return reg__fail(r, rc, "bind register add");
	if (people == 0 && (rc = sqlite3_bind_null(r->st[R_ADD], 3)) != SQLITE_OK)
		return reg__fail(r, rc, "bind register add");
	if ((rc = reg__done(r, r->st[R_ADD], "add to register")) != KDC_OK)
		return rc;
	snprintf(detail, sizeof detail, "%sadded from the field by device %s of team %s%s",
	         business ? "business " : "", row->device, row->team,
	         people || business ? "" : " (people aged 15+ not given)");
	if ((rc = kdc_db_bind(r->st[R_LOG], "ittttt", now, row->device, "field_add", row->khom,
	                      row->household, detail)) != SQLITE_OK)
		return reg__fail(r, rc, "bind register_log");
	if ((rc = reg__done(r, r->st[R_LOG], "write register_log")) != KDC_OK)
		return rc;
	/* ours is the next row when nobody else wrote the log since the load;
	 * else the lid stays behind and the next poll reloads everything */
	if (sqlite3_last_insert_rowid(r->db) == r->lid + 1)
		r->lid++;
	reg__key(&k, row->khom, row->household);
	if (!(val = kdc_hmap_get(&r->entries, &k, &found)))
		return KDC_ERR_NOMEM;
	val->state = KDC_REG_ACTIVE;
	val->people = people ? (int32_t)people : -1;
	val->business = business;
	r->rows++;
	e->added = 1;
	/* events of the household stored before (when it was not in the
	 * register) count from now on */
	if ((rc = kdc_db_bind(r->st[R_HH_EVENTS], "tt", row->khom, row->household)) != SQLITE_OK)
		return reg__fail(r, rc, "bind household events");
	if ((rc = reg__exists(r, R_HH_EVENTS, &found, "read household events")) != KDC_OK)
		return rc;
	e->rebuild = found;
	kdc_notice("khóm %s: %s %s added to the register from the field by device %s (team %s)",
	           row->khom, business ? "business" : "household", row->household, row->device,
	           row->team);
	return KDC_OK;
}

int kdc_register_stored(kdc_register *r, const uint8_t *id, int *found)
{
	int src = kdc_db_bind(r->st[R_EXISTS], "b", id, (size_t)KDC_UUID_LEN);

	*found = 0;
	if (src != SQLITE_OK)
		return reg__fail(r, src, "bind event id");
	return reg__exists(r, R_EXISTS, found, "read events");
}

int kdc_register_special(kdc_register *r, const kdc_event_pb *ev, const struct kdc_event_row *row,
                         int64_t now, struct kdc_verdict *v, struct kdc_register_effect *e)
{
	int rc, found, voided;

	memset(e, 0, sizeof *e);
	v->reason = 0;
	v->detail[0] = '\0';
	/* a resend is receipted again, whatever changed since */
	if ((rc = kdc_register_stored(r, row->id, &found)) != KDC_OK)
		return rc;
	if (found) {
		e->duplicate = 1;
		return KDC_OK;
	}
	if (row->kind == KDC_KIND_HOUSEHOLD_ADDED)
		rc = reg__household_added(r, ev, row, now, v, e);
	else
		rc = reg__void(r, ev, row, now, v, e);
	if (rc != KDC_OK || !e->stored)
		return rc;
	/* a void that waited for this event: refused, it is not an activity */
	return kdc_register_arrived(r, row, &voided);
}
