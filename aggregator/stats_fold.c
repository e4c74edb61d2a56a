/* stats_fold.c: kdc_stats_apply. A batch of stored events is folded in
 * memory (hash maps keyed by scope and day, hour, device, household or
 * person), then written as one keyed upsert per distinct key. An event counts
 * on the local day and hour it happened (ward/calendar.c), however late it
 * arrives. */
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "jsonout.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "profile.h"
#include "stats_int.h"

/* ---- apply: fold a batch in memory ------------------------------------------ */

static void stats__touch(struct scope *sc, const struct kdc_event_row *r)
{
	sc->touched = 1;
	sc->dirty = 1;
	sc->delta.ev[r->kind]++;
	if (r->kind == KDC_KIND_PAYMENT)
		sc->delta.pay_amount += r->amount_vnd;
	if (!sc->delta.has_latest || r->occurred_ms > sc->delta.latest_ms) {
		sc->delta.latest_ms = r->occurred_ms;
		sc->delta.has_latest = 1;
	}
}

/* Which time-bucketed rows an event can ever matter for. Snapshots look at
 * most SERIES_DAYS days and 24 hours back from their `now`, and `now` is never
 * before the moment the event was stored (received_ms, the same wall clock):
 * an event already older than that when it arrived (a backlog, a rebuild of
 * years of events) cannot enter those windows again, so its day and hour rows
 * are not written. The rule depends on the row only, so a rebuild writes
 * exactly the same rows. One unit of margin absorbs small clock steps. */
struct fold_keep {
	int day, hour, payday;
};

static struct fold_keep stats__keep(const kdc_stats *s, const struct kdc_event_row *r,
                                    int64_t day, int64_t hour)
{
	const int off = s->profile->utc_offset_min;
	const int64_t rday = kdc_local_day(r->received_ms, off);
	struct fold_keep k;

	k.day = day >= rday - SERIES_DAYS;
	k.hour = hour >= kdc_local_hour(r->received_ms, off) - 24;
	/* paydays: the value 30 days ago looks back a whole "regularly" window */
	k.payday = day >= rday - KDC_PACE_DAYS - KDC_PROFILE_MAX_WINDOW - 1;
	return k;
}

static int stats__fold_counters(kdc_stats *s, int64_t sid, const struct kdc_event_row *r,
                                int64_t day, int64_t hour, struct fold_keep keep)
{
	struct k_day kd;
	struct k_hour kh;
	struct k_dev kv;
	struct v_day *vd;
	struct v_hour *vh;
	struct v_dev *vv;
	char team[KDC_CODE_MAX + 1];
	int created;

	if (keep.day) {
		memset(&kd, 0, sizeof kd);
		kd.sid = sid;
		kd.day = day;
		kd.kind = r->kind;
		/* only services are shown per sub-kind: fewer rows for the rest */
		kd.sub = r->kind == KDC_KIND_SERVICE ? r->subkind : 0;
		if (!(vd = kdc_hmap_get(&s->days, &kd, &created)))
			return KDC_ERR_NOMEM;
		vd->n++;
		if (r->kind == KDC_KIND_PAYMENT)
			vd->amount += r->amount_vnd;
	}
	if (keep.hour) {
		memset(&kh, 0, sizeof kh);
		kh.sid = sid;
		kh.hour = hour;
		kh.kind = r->kind;
		if (!(vh = kdc_hmap_get(&s->hours, &kh, &created)))
			return KDC_ERR_NOMEM;
		vh->n++;
	}

	memset(&kv, 0, sizeof kv);
	kv.sid = sid;
	COPY_CODE(kv.device, r->device);
	if (!(vv = kdc_hmap_get(&s->devs, &kv, &created)))
		return KDC_ERR_NOMEM;
	COPY_CODE(team, r->team);
	if (created || r->occurred_ms > vv->last_ms ||
	    (r->occurred_ms == vv->last_ms && strcmp(team, vv->team) > 0)) {
		vv->last_ms = r->occurred_ms;
		memcpy(vv->team, team, sizeof team);
	}
	vv->n++;
	return KDC_OK;
}

static void stats__invalidate_d0(struct scope *sc, int64_t day)
{
	if (sc->d0_valid && day <= sc->d0)
		sc->d0_valid = 0;
}

static void stats__fact_min(int *has, int64_t *day, int64_t d)
{
	if (!*has || d < *day)
		*day = d;
	*has = 1;
}

/* A business event that states a fact of the business (a plain visit
 * states none). */
static int stats__business_fact(const struct kdc_event_row *r)
{
	return r->kind == KDC_KIND_EINVOICE || r->kind == KDC_KIND_BUSINESS_ACCOUNT ||
	       (r->kind == KDC_KIND_BUSINESS_VISIT &&
	        (r->flags & (KDC_FLAG_EINVOICE | KDC_FLAG_ONLINE_SERVICES)));
}

/* The online public service facts of a person or business (docs/stats.md,
 * service_users_e_identified and businesses_using_einvoice): a use of a
 * service (a person's service event, a business visit that saw it use
 * them) on its day, with its own e-identification when the event says so;
 * a business's e-identified account; e-invoices. */
static int stats__fold_use(kdc_stats *s, const struct k_person *k, struct v_person *v,
                           const struct kdc_event_row *r, int64_t day)
{
	int created;

	if (r->kind == KDC_KIND_BUSINESS_ACCOUNT)
		stats__fact_min(&v->f.has_eid, &v->f.eid_day, day);
	if (r->kind == KDC_KIND_EINVOICE ||
	    (r->kind == KDC_KIND_BUSINESS_VISIT && (r->flags & KDC_FLAG_EINVOICE)))
		stats__fact_min(&v->f.has_einv, &v->f.einv_day, day);
	if (r->kind == KDC_KIND_SERVICE ||
	    (r->kind == KDC_KIND_BUSINESS_VISIT && (r->flags & KDC_FLAG_ONLINE_SERVICES))) {
		struct k_useday ku;
		struct v_useday *vu;

		if (!v->f.has_use || day > v->f.use_day)
			v->f.use_day = day;
		v->f.has_use = 1;
		memset(&ku, 0, sizeof ku);
		ku.p = *k;
		ku.day = day;
		if (!(vu = kdc_hmap_get(&s->usedays, &ku, &created)))
			return KDC_ERR_NOMEM;
		if (r->kind == KDC_KIND_SERVICE && (r->flags & KDC_FLAG_VNEID))
			vu->flagged = 1;
	}
	return KDC_OK;
}

/* Household and person facts go to the khóm's and the team's rows; the ward
 * mirrors the khóm's (see the top of stats_db.c). */
static int stats__fold_entities(kdc_stats *s, const struct scope *sc, const struct kdc_event_row *r,
                                int64_t day, struct fold_keep keep)
{
	const int64_t sid = sc->sid;
	const uint32_t scope = (uint32_t)(sc - s->scopes);
	int created;

	if (r->kind == KDC_KIND_VISIT || r->kind == KDC_KIND_ACCOUNT) {
		struct k_hh k;
		struct v_hh *v;

		memset(&k, 0, sizeof k);
		k.sid = sid;
		COPY_CODE(k.khom, r->khom);
		COPY_CODE(k.household, r->household);
		if (!(v = kdc_hmap_get(&s->hhs, &k, &created)))
			return KDC_ERR_NOMEM;
		v->scope = scope;
		if (r->kind == KDC_KIND_VISIT) {
			if (!v->has_visit || day < v->visit_day)
				v->visit_day = day;
			v->has_visit = 1;
			if (r->subkind == OUTCOME_SURVEYED)
				v->surveyed = 1;
			else if (r->subkind == OUTCOME_DECLINED)
				v->declined = 1;
			else if (r->subkind == OUTCOME_NOT_HOME) {
				if (!v->not_home || r->occurred_ms > v->last_attempt_ms)
					v->last_attempt_ms = r->occurred_ms;
				v->not_home++;
			}
		} else {
			if (!v->has_reach || day < v->reach_day)
				v->reach_day = day;
			v->has_reach = 1;
		}
	}
	if ((r->kind == KDC_KIND_ACCOUNT && r->subkind > 0 && r->subkind < NACCT) ||
	    r->kind == KDC_KIND_PAYMENT || r->kind == KDC_KIND_SERVICE || stats__business_fact(r)) {
		struct k_person k;
		struct v_person *v;

		memset(&k, 0, sizeof k);
		k.sid = sid;
		COPY_CODE(k.khom, r->khom);
		COPY_CODE(k.household, r->household);
		k.member = r->member;
		if (!(v = kdc_hmap_get(&s->persons, &k, &created)))
			return KDC_ERR_NOMEM;
		v->scope = scope;
		if (r->kind != KDC_KIND_PAYMENT && r->kind != KDC_KIND_ACCOUNT)
			return stats__fold_use(s, &k, v, r, day);
		if (r->kind == KDC_KIND_ACCOUNT && r->subkind == ACCT_VNEID)
			stats__fact_min(&v->f.has_eid, &v->f.eid_day, day);
		if (r->kind == KDC_KIND_ACCOUNT) {
			v->bits |= 1u << r->subkind;
			if (r->subkind == ACCT_PAYMENT && (!v->has_acct_pay || day < v->acct_pay_day)) {
				v->acct_pay_day = day;
				v->has_acct_pay = 1;
			}
		} else {
			struct k_payday kp;

			if (!v->has_pay || day > v->last_pay_day)
				v->last_pay_day = day;
			v->has_pay = 1;
			if (keep.payday) {
				memset(&kp, 0, sizeof kp);
				kp.p = k;
				kp.day = day;
				if (!kdc_hmap_get(&s->paydays, &kp, &created))
					return KDC_ERR_NOMEM;
			}
		}
	}
	return KDC_OK;
}

static int stats__fold_row(kdc_stats *s, const struct kdc_event_row *r)
{
	const int off = s->profile->utc_offset_min;
	int64_t day = kdc_local_day(r->occurred_ms, off);
	int64_t hour = kdc_local_hour(r->occurred_ms, off);
	char kcode[KDC_CODE_MAX + 1], tcode[KDC_CODE_MAX + 1];
	struct scope *ward, *khom, *team;
	struct fold_keep keep;
	size_t ki;
	int rc;

	if (!kdc_kind_is_activity(r->kind)) {
		kdc_debug("stats: event of unknown kind %d ignored", r->kind);
		return KDC_OK;
	}
	COPY_CODE(kcode, r->khom);
	COPY_CODE(tcode, r->team);
	/* indices, not pointers: adding the team's scope may move the array */
	if (!(khom = stats__scope_for(s, SCOPE_KHOM, kcode)))
		return KDC_ERR_NOMEM;
	ki = (size_t)(khom - s->scopes);
	if (!(team = stats__scope_for(s, SCOPE_TEAM, tcode)))
		return KDC_ERR_NOMEM;
	/* from here on no scope is added: the three pointers stay valid */
	khom = &s->scopes[ki];
	ward = &s->scopes[s->ward_index];
	stats__touch(ward, r);
	stats__touch(khom, r);
	stats__touch(team, r);
	keep = stats__keep(s, r, day, hour);
	if ((rc = stats__fold_counters(s, ward->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_counters(s, khom->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_counters(s, team->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_entities(s, khom, r, day, keep)) ||
	    (rc = stats__fold_entities(s, team, r, day, keep)))
		return rc;
	if (r->kind == KDC_KIND_PAYMENT ||
	    (r->kind == KDC_KIND_ACCOUNT && r->subkind == ACCT_PAYMENT)) {
		stats__invalidate_d0(ward, day);
		stats__invalidate_d0(khom, day);
		stats__invalidate_d0(team, day);
	}
	return KDC_OK;
}

/* ---- apply: write the batch ---------------------------------------------- */

static int stats__hist_add(kdc_stats *s, int64_t sid, int what, int64_t day, int64_t n)
{
	struct k_hist k;
	struct v_hist *v;
	int created;

	memset(&k, 0, sizeof k);
	k.sid = sid;
	k.what = what;
	k.day = day;
	if (!(v = kdc_hmap_get(&s->hists, &k, &created)))
		return KDC_ERR_NOMEM;
	v->n += n;
	return KDC_OK;
}

/* A household's or person's date moved (or appeared): move it between the
 * histogram's days, for its scope and, for a khóm, for the ward too. */
static int stats__hist_move(kdc_stats *s, const struct scope *sc, struct scope *ward, int what,
                            int had, int64_t old_day, int has, int64_t new_day)
{
	int rc;

	if (had == has && (!had || old_day == new_day))
		return KDC_OK;
	for (int i = 0; i < 2; i++) {
		int64_t sid = i == 0 ? sc->sid : ward->sid;
		if (i == 1 && sc->kind != SCOPE_KHOM)
			break;
		if (had && (rc = stats__hist_add(s, sid, what, old_day, -1)))
			return rc;
		if (has && (rc = stats__hist_add(s, sid, what, new_day, 1)))
			return rc;
	}
	return KDC_OK;
}

/* Adds 1 to a counter of sc and, when sc is a khóm, of the ward as well. */
#define BUMP(sc, ward, field) \
	do { \
		(sc)->delta.field++; \
		(sc)->touched = 1; \
		if ((sc)->kind == SCOPE_KHOM) { \
			(ward)->delta.field++; \
			(ward)->touched = 1; \
		} \
	} while (0)

static int stats__flush_households(kdc_stats *s, struct scope *ward)
{
	for (size_t i = 0; i < s->hhs.len; i++) {
		const struct k_hh *k = KDC_HMAP_KEY(&s->hhs, i);
		const struct v_hh *v = KDC_HMAP_VAL(&s->hhs, i);
		struct scope *sc = &s->scopes[v->scope];
		struct c_hh *c;
		sqlite3_stmt *st;
		int had_visit, had_reach, was_surveyed, has_visit, has_reach, surveyed, declined, rc;
		int64_t old_visit, old_reach, new_visit, new_reach, not_home, last_attempt;

		if (!(c = stats__hh_row(s, k, &rc)))
			return rc;
		had_visit = c->has_visit;
		old_visit = c->visit_day;
		had_reach = c->has_reach;
		old_reach = c->reach_day;
		was_surveyed = c->surveyed;

		has_visit = had_visit || v->has_visit;
		new_visit = !had_visit ? v->visit_day :
		            (v->has_visit && v->visit_day < old_visit) ? v->visit_day : old_visit;
		has_reach = had_reach || v->has_reach;
		new_reach = !had_reach ? v->reach_day :
		            (v->has_reach && v->reach_day < old_reach) ? v->reach_day : old_reach;
		surveyed = was_surveyed || v->surveyed;
		declined = c->declined || v->declined;
		not_home = c->not_home + v->not_home;
		last_attempt = !v->not_home || (c->not_home && c->last_attempt_ms >= v->last_attempt_ms) ?
		               c->last_attempt_ms : v->last_attempt_ms;
		if (has_visit == had_visit && surveyed == was_surveyed && has_reach == had_reach &&
		    (!had_visit || new_visit == old_visit) && (!had_reach || new_reach == old_reach) &&
		    declined == c->declined && v->not_home == 0)
			continue;

		st = stats__stmt(s, Q_HH_PUT);
		sqlite3_bind_int64(st, 1, k->sid);
		sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
		bind_opt_day(st, 4, has_visit, new_visit);
		bind_opt_day(st, 5, has_reach, new_reach);
		sqlite3_bind_int(st, 6, surveyed);
		sqlite3_bind_int(st, 7, declined);
		sqlite3_bind_int64(st, 8, not_home);
		bind_opt_day(st, 9, not_home > 0, last_attempt);
		if ((rc = stats__run(s, st, "write st_household")))
			return rc;
		c->declined = declined;
		c->not_home = not_home;
		c->last_attempt_ms = not_home > 0 ? last_attempt : 0;
		c->has_visit = has_visit;
		c->visit_day = has_visit ? new_visit : 0;
		c->has_reach = has_reach;
		c->reach_day = has_reach ? new_reach : 0;
		c->surveyed = surveyed;
		if (has_visit && !had_visit)
			BUMP(sc, ward, hh_visited);
		if (surveyed && !was_surveyed)
			BUMP(sc, ward, hh_surveyed);
		if (has_reach && !had_reach)
			BUMP(sc, ward, hh_reached);
		if ((rc = stats__hist_move(s, sc, ward, HIST_VISIT, had_visit, old_visit, has_visit, new_visit)) ||
		    (rc = stats__hist_move(s, sc, ward, HIST_REACH, had_reach, old_reach, has_reach, new_reach)))
			return rc;
	}
	return KDC_OK;
}

/* The facts of a person after the batch (but the first e-identified use,
 * which needs the batch's uses, stats__flush_uses): old ones merged with the
 * batch's. An earlier e-identification may make a stored use e-identified:
 * the first stored one on or after it is read back. */
static int stats__merge_facts(kdc_stats *s, const struct c_person *c, struct facts *b)
{
	const struct facts *o = &c->f;
	struct facts n = *o;
	sqlite3_stmt *st;
	int rc;

	if (b->has_use && (!n.has_use || b->use_day > n.use_day))
		n.use_day = b->use_day;
	n.has_use |= b->has_use;
	if (b->has_eid)
		stats__fact_min(&n.has_eid, &n.eid_day, b->eid_day);
	if (b->has_einv)
		stats__fact_min(&n.has_einv, &n.einv_day, b->einv_day);
	if (c->found && o->has_use && n.has_eid && (!o->has_eid || n.eid_day < o->eid_day)) {
		st = stats__stmt(s, Q_USE_FROM);
		sqlite3_bind_int64(st, 1, c->pid);
		sqlite3_bind_int64(st, 2, n.eid_day);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			stats__fact_min(&n.has_eiduse, &n.eiduse_day, sqlite3_column_int64(st, 0));
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return stats__dberr(s, rc, "read st_useday");
	}
	*b = n;
	return KDC_OK;
}

/* The batch's uses: e-identified when the use says so or the person's
 * e-identification (as merged) is on or before its day. */
static void stats__flush_uses(kdc_stats *s)
{
	for (size_t i = 0; i < s->usedays.len; i++) {
		const struct k_useday *k = KDC_HMAP_KEY(&s->usedays, i);
		const struct v_useday *u = KDC_HMAP_VAL(&s->usedays, i);
		struct v_person *v = kdc_hmap_find(&s->persons, &k->p);

		if (v && (u->flagged || (v->f.has_eid && k->day >= v->f.eid_day)))
			stats__fact_min(&v->f.has_eiduse, &v->f.eiduse_day, k->day);
	}
}

static int stats__facts_differ(const struct facts *a, const struct facts *b)
{
	return a->has_use != b->has_use || a->has_eid != b->has_eid ||
	       a->has_eiduse != b->has_eiduse || a->has_einv != b->has_einv ||
	       (a->has_use && a->use_day != b->use_day) || (a->has_eid && a->eid_day != b->eid_day) ||
	       (a->has_eiduse && a->eiduse_day != b->eiduse_day) ||
	       (a->has_einv && a->einv_day != b->einv_day);
}

static void stats__bind_facts(sqlite3_stmt *st, int i, const struct facts *f)
{
	bind_opt_day(st, i, f->has_use, f->use_day);
	bind_opt_day(st, i + 1, f->has_eid, f->eid_day);
	bind_opt_day(st, i + 2, f->has_eiduse, f->eiduse_day);
	bind_opt_day(st, i + 3, f->has_einv, f->einv_day);
}

/* The counters and histograms of the facts that changed. */
static int stats__bump_facts(kdc_stats *s, struct scope *sc, struct scope *ward,
                             const struct facts *o, const struct facts *n)
{
	int rc;

	if (n->has_use && !o->has_use)
		BUMP(sc, ward, su_total);
	if (n->has_eiduse && !o->has_eiduse)
		BUMP(sc, ward, su_eid);
	if (n->has_einv && !o->has_einv)
		BUMP(sc, ward, biz_einvoice);
	if ((rc = stats__hist_move(s, sc, ward, HIST_EIDUSE, o->has_eiduse, o->eiduse_day,
	                           n->has_eiduse, n->eiduse_day)) ||
	    (rc = stats__hist_move(s, sc, ward, HIST_EINVOICE, o->has_einv, o->einv_day,
	                           n->has_einv, n->einv_day)))
		return rc;
	return KDC_OK;
}

/* Rows of a batch keyed by person id, written once the ids are known. */
static int stats__flush_days(kdc_stats *s)
{
	struct multi_buf b;
	int rc;

	b.id = M_PAYDAY;
	b.nrows = 0;
	for (size_t i = 0; i < s->paydays.len; i++) {
		const struct k_payday *k = KDC_HMAP_KEY(&s->paydays, i);
		const struct v_person *p = kdc_hmap_find(&s->persons, &k->p);
		struct k_pidday kd;
		int64_t row[3];
		int created;

		if (!p)
			return KDC_ERR_DB;
		memset(&kd, 0, sizeof kd);
		kd.pid = p->pid;
		kd.day = k->day;
		if (!stats__cache_get(&s->payday_cache, &kd, &created))
			return KDC_ERR_NOMEM;
		if (!created)
			continue; /* the row is there already */
		row[0] = k->p.sid;
		row[1] = k->day;
		row[2] = p->pid;
		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	b.id = M_USEDAY;
	for (size_t i = 0; i < s->usedays.len; i++) {
		const struct k_useday *k = KDC_HMAP_KEY(&s->usedays, i);
		const struct v_person *p = kdc_hmap_find(&s->persons, &k->p);
		int64_t row[2];

		if (!p)
			return KDC_ERR_DB;
		row[0] = p->pid;
		row[1] = k->day;
		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	return stats__multi_end(s, &b);
}

static int stats__flush_persons(kdc_stats *s, struct scope *ward)
{
	int rc;

	for (size_t i = 0; i < s->persons.len; i++) {
		struct v_person *v = KDC_HMAP_VAL(&s->persons, i);
		struct c_person *c;

		if (!(c = stats__person_row(s, KDC_HMAP_KEY(&s->persons, i), &rc)) ||
		    (rc = stats__merge_facts(s, c, &v->f)))
			return rc;
	}
	stats__flush_uses(s);
	for (size_t i = 0; i < s->persons.len; i++) {
		const struct k_person *k = KDC_HMAP_KEY(&s->persons, i);
		struct v_person *v = KDC_HMAP_VAL(&s->persons, i);
		struct scope *sc = &s->scopes[v->scope];
		struct c_person *c;
		struct facts old_f;
		sqlite3_stmt *st;
		int found, had_acct, had_pay, has_acct, has_pay;
		uint32_t old_bits, bits;
		int64_t old_acct, old_pay, new_acct, new_pay;

		if (!(c = stats__person_row(s, k, &rc)))
			return rc;
		found = c->found;
		old_bits = c->bits;
		had_acct = c->has_acct;
		old_acct = c->acct_pay_day;
		had_pay = c->has_pay;
		old_pay = c->last_pay_day;
		old_f = c->f;

		bits = old_bits | v->bits;
		has_acct = had_acct || v->has_acct_pay;
		new_acct = !had_acct ? v->acct_pay_day :
		           (v->has_acct_pay && v->acct_pay_day < old_acct) ? v->acct_pay_day : old_acct;
		has_pay = had_pay || v->has_pay;
		new_pay = !had_pay ? v->last_pay_day :
		          (v->has_pay && v->last_pay_day > old_pay) ? v->last_pay_day : old_pay;

		if (!found) {
			st = stats__stmt(s, Q_PERSON_INS);
			sqlite3_bind_int64(st, 1, k->sid);
			sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 4, k->member);
			sqlite3_bind_int64(st, 5, bits);
			bind_opt_day(st, 6, has_acct, new_acct);
			bind_opt_day(st, 7, has_pay, new_pay);
			stats__bind_facts(st, 8, &v->f);
			if ((rc = stats__run(s, st, "insert st_person")))
				return rc;
			c->found = 1;
			c->pid = sqlite3_last_insert_rowid(s->db);
		} else if (bits != old_bits || has_acct != had_acct || has_pay != had_pay ||
		           new_acct != old_acct || new_pay != old_pay || stats__facts_differ(&old_f, &v->f)) {
			st = stats__stmt(s, Q_PERSON_UPD);
			sqlite3_bind_int64(st, 1, c->pid);
			sqlite3_bind_int64(st, 2, bits);
			bind_opt_day(st, 3, has_acct, new_acct);
			bind_opt_day(st, 4, has_pay, new_pay);
			stats__bind_facts(st, 5, &v->f);
			if ((rc = stats__run(s, st, "update st_person")))
				return rc;
		}
		c->bits = bits;
		c->has_acct = has_acct;
		c->acct_pay_day = has_acct ? new_acct : 0;
		c->has_pay = has_pay;
		c->last_pay_day = has_pay ? new_pay : 0;
		c->f = v->f;
		v->pid = c->pid;
		for (int kind = 1; kind < NACCT; kind++)
			if ((bits & (1u << kind)) && !(old_bits & (1u << kind)))
				BUMP(sc, ward, acct[kind]);
		if ((rc = stats__hist_move(s, sc, ward, HIST_PAYACCT, had_acct, old_acct, has_acct, new_acct)) ||
		    (rc = stats__hist_move(s, sc, ward, HIST_LASTPAY, had_acct && had_pay, old_pay,
		                           has_acct && has_pay, new_pay)) ||
		    (rc = stats__bump_facts(s, sc, ward, &old_f, &v->f)))
			return rc;
	}
	return stats__flush_days(s);
}

static int stats__flush_counters(kdc_stats *s)
{
	struct multi_buf b;
	int rc;

	b.id = M_DAY;
	b.nrows = 0;
	for (size_t i = 0; i < s->days.len; i++) {
		const struct k_day *k = KDC_HMAP_KEY(&s->days, i);
		const struct v_day *v = KDC_HMAP_VAL(&s->days, i);
		const int64_t row[6] = { k->sid, k->day, k->kind, k->sub, v->n, v->amount };

		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	b.id = M_HOUR;
	for (size_t i = 0; i < s->hours.len; i++) {
		const struct k_hour *k = KDC_HMAP_KEY(&s->hours, i);
		const struct v_hour *v = KDC_HMAP_VAL(&s->hours, i);
		const int64_t row[4] = { k->sid, k->hour, k->kind, v->n };

		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	for (size_t i = 0; i < s->devs.len; i++) {
		const struct k_dev *k = KDC_HMAP_KEY(&s->devs, i);
		const struct v_dev *v = KDC_HMAP_VAL(&s->devs, i);
		sqlite3_stmt *st = stats__stmt(s, Q_DEV_UP);

		sqlite3_bind_int64(st, 1, k->sid);
		sqlite3_bind_text(st, 2, k->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v->team, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, v->last_ms);
		sqlite3_bind_int64(st, 5, v->n);
		if ((rc = stats__run(s, st, "write st_device")))
			return rc;
	}
	b.id = M_HIST;
	for (size_t i = 0; i < s->hists.len; i++) {
		const struct k_hist *k = KDC_HMAP_KEY(&s->hists, i);
		const struct v_hist *v = KDC_HMAP_VAL(&s->hists, i);
		const int64_t row[4] = { k->sid, k->what, k->day, v->n };

		if (v->n == 0)
			continue;
		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	for (size_t i = 0; i < s->nscopes; i++) {
		struct scope *sc = &s->scopes[i];
		const struct counters *d = &sc->delta;
		sqlite3_stmt *st;

		if (!sc->touched)
			continue;
		if ((rc = stats__scope_store(s, sc)))
			return rc;
		st = stats__stmt(s, Q_SCOPE_UP);
		sqlite3_bind_int64(st, 1, sc->sid);
		for (int k = 0; k < KDC_KIND_COUNT; k++)
			sqlite3_bind_int64(st, 2 + k, d->ev[k]);
		sqlite3_bind_int64(st, 6, d->pay_amount);
		sqlite3_bind_int64(st, 7, d->hh_visited);
		sqlite3_bind_int64(st, 8, d->hh_surveyed);
		sqlite3_bind_int64(st, 9, d->hh_reached);
		for (int k = 1; k < NACCT; k++)
			sqlite3_bind_int64(st, 9 + k, d->acct[k]);
		bind_opt_day(st, 14, d->has_latest, d->latest_ms);
		sqlite3_bind_int64(st, 15, d->ev[KDC_KIND_BUSINESS_VISIT]);
		sqlite3_bind_int64(st, 16, d->ev[KDC_KIND_EINVOICE]);
		sqlite3_bind_int64(st, 17, d->ev[KDC_KIND_BUSINESS_ACCOUNT]);
		sqlite3_bind_int64(st, 18, d->biz_einvoice);
		sqlite3_bind_int64(st, 19, d->su_total);
		sqlite3_bind_int64(st, 20, d->su_eid);
		if ((rc = stats__run(s, st, "update st_scope")))
			return rc;
	}
	return KDC_OK;
}

static void stats__batch_reset(kdc_stats *s)
{
	kdc_hmap_clear(&s->days);
	kdc_hmap_clear(&s->hours);
	kdc_hmap_clear(&s->devs);
	kdc_hmap_clear(&s->hhs);
	kdc_hmap_clear(&s->persons);
	kdc_hmap_clear(&s->paydays);
	kdc_hmap_clear(&s->hists);
	kdc_hmap_clear(&s->usedays);
	for (size_t i = 0; i < s->nscopes; i++) {
		s->scopes[i].touched = 0;
		memset(&s->scopes[i].delta, 0, sizeof s->scopes[i].delta);
	}
}

int kdc_stats_apply(kdc_stats *s, const struct kdc_event_row *rows, size_t n)
{
	struct scope *ward;
	int rc = KDC_OK;

	if (n == 0)
		return KDC_OK;
	stats__batch_reset(s);
	if ((rc = stats__cache_check(s)))
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		if ((rc = stats__fold_row(s, &rows[i])))
			goto cleanup;
	if (!(ward = stats__scope_find(s, SCOPE_WARD, ""))) {
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	if ((rc = stats__flush_households(s, ward)) ||
	    (rc = stats__flush_persons(s, ward)) ||
	    (rc = stats__flush_counters(s)))
		goto cleanup;
cleanup:
	/* some rows may be written and others not: the caller rolls back, and
	 * the caches must not outlive that */
	if (rc)
		s->cache_stale = 1;
	stats__batch_reset(s);
	return rc;
}

int kdc_stats_rejected(kdc_stats *s, size_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (n == 0)
		return KDC_OK;
	st = stats__stmt(s, Q_META_ADD);
	sqlite3_bind_text(st, 1, "rejected_total", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)n);
	if ((rc = stats__run(s, st, "count rejected")))
		return rc;
	/* s->rejected_total is re-read at publish: this transaction may still
	 * roll back */
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].dirty = 1;
	return KDC_OK;
}
