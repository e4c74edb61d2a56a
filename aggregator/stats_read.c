/* stats_read.c: a scope's snapshot read from the tables: counters, the
 * windows of days and hours, the histograms, the denominators, each target's
 * indicator and the devices: everything the JSON shows. */
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "jsonout.h"
#include "kdc_err.h"
#include "profile.h"
#include "stats_int.h"

/* ---- snapshots ----------------------------------------------------------- */

static int stats__read_counters(kdc_stats *s, int64_t sid, struct counters *c)
{
	sqlite3_stmt *st = stats__stmt(s, Q_SCOPE_GET);
	int rc;

	memset(c, 0, sizeof *c);
	sqlite3_bind_int64(st, 1, sid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (int k = 0; k < KDC_KIND_COUNT; k++)
			c->ev[k] = sqlite3_column_int64(st, k);
		c->pay_amount = sqlite3_column_int64(st, 4);
		c->hh_visited = sqlite3_column_int64(st, 5);
		c->hh_surveyed = sqlite3_column_int64(st, 6);
		c->hh_reached = sqlite3_column_int64(st, 7);
		for (int k = 1; k < NACCT; k++)
			c->acct[k] = sqlite3_column_int64(st, 7 + k);
		c->has_latest = sqlite3_column_type(st, 12) != SQLITE_NULL;
		c->latest_ms = sqlite3_column_int64(st, 12);
		c->ev[KDC_KIND_BUSINESS_VISIT] = sqlite3_column_int64(st, 13);
		c->ev[KDC_KIND_EINVOICE] = sqlite3_column_int64(st, 14);
		c->ev[KDC_KIND_BUSINESS_ACCOUNT] = sqlite3_column_int64(st, 15);
		c->biz_einvoice = sqlite3_column_int64(st, 16);
		c->su_total = sqlite3_column_int64(st, 17);
		c->su_eid = sqlite3_column_int64(st, 18);
	}
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, "read st_scope");
}

static int stats__read_windows(kdc_stats *s, int64_t sid, struct snapshot *sn)
{
	const int64_t first = kdc_window_first(sn->today, SERIES_DAYS);
	sqlite3_stmt *st = stats__stmt(s, Q_DAYS);
	int rc;

	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_int64(st, 3, sn->today);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t day = sqlite3_column_int64(st, 0);
		int kind = sqlite3_column_int(st, 1), sub = sqlite3_column_int(st, 2);
		int64_t n = sqlite3_column_int64(st, 3), amount = sqlite3_column_int64(st, 4);

		if (kind < 0 || kind >= NKIND)
			continue;
		sn->series[kind][day - first] += n;
		if (day > sn->today - 7)
			sn->ev7[kind] += n;
		if (day > sn->today - 30) {
			sn->ev30[kind] += n;
			if (kind == KDC_KIND_SERVICE && sub > 0 && sub < NSVC)
				sn->svc30[sub] += n;
			if (kind == KDC_KIND_PAYMENT) {
				sn->pay30_n += n;
				sn->pay30_amount += amount;
			}
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return stats__dberr(s, rc, "read st_day");

	st = stats__stmt(s, Q_HOURS);
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, sn->hour - 23);
	sqlite3_bind_int64(st, 3, sn->hour);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		if (kind >= 0 && kind < NKIND)
			sn->ev24[kind] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? KDC_OK : stats__dberr(s, rc, "read st_hour");
}

static int stats__query_int(kdc_stats *s, sqlite3_stmt *st, int64_t *out, const char *what)
{
	int rc = sqlite3_step(st);

	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, what);
}

/* Histogram sum of days >= from. */
int stats__hist_from(kdc_stats *s, int64_t sid, int what, int64_t from, int64_t *out)
{
	sqlite3_stmt *st = stats__stmt(s, Q_HIST_FROM);

	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int(st, 2, what);
	sqlite3_bind_int64(st, 3, from);
	return stats__query_int(s, st, out, "read st_hist");
}

/* People with a payment account by day d0 and a payment in the window ending
 * on d0: the "paying regularly" indicator as it stood 30 days ago. */
int stats__regular_at(kdc_stats *s, struct scope *sc, int64_t d0, int window, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sc->d0_valid && sc->d0 == d0 && sc->d0_window == window) {
		*out = sc->d0_value;
		return KDC_OK;
	}
	st = stats__stmt(s, sc->kind == SCOPE_WARD ? Q_REGULAR_AT_WARD : Q_REGULAR_AT);
	sqlite3_bind_int64(st, 1, sc->sid);
	sqlite3_bind_int64(st, 2, kdc_window_first(d0, window));
	sqlite3_bind_int64(st, 3, d0);
	if ((rc = stats__query_int(s, st, out, "count regular payers")))
		return rc;
	sc->d0_valid = 1;
	sc->d0 = d0;
	sc->d0_window = window;
	sc->d0_value = *out;
	return KDC_OK;
}

/* Households and people 15+ of profile khóm i: the register's when the
 * writer set them (kdc_stats_set_denominators), else the profile's. */
static void stats__khom_denom(const kdc_stats *s, size_t i, struct snapshot *sn)
{
	const struct kdc_profile *p = s->profile;

	sn->hh_total += s->den_hh ? s->den_hh[i] : p->khoms[i].households;
	sn->people_total += s->den_people ? s->den_people[i] : p->khoms[i].people_15plus;
	sn->biz_total += s->den_biz ? s->den_biz[i] : p->khoms[i].businesses;
}

static void stats__denominators(const kdc_stats *s, const struct scope *sc, struct snapshot *sn)
{
	const struct kdc_profile *p = s->profile;

	sn->hh_total = sn->people_total = sn->biz_total = 0;
	if (sc->kind == SCOPE_WARD) {
		for (size_t i = 0; i < p->nkhoms; i++)
			stats__khom_denom(s, i, sn);
	} else if (sc->kind == SCOPE_KHOM && sc->pidx >= 0) {
		stats__khom_denom(s, (size_t)sc->pidx, sn);
	} else if (sc->kind == SCOPE_TEAM && sc->pidx >= 0) {
		const struct kdc_profile_team *t = &p->teams[sc->pidx];
		for (size_t i = 0; i < t->nkhoms; i++)
			stats__khom_denom(s, t->khoms[i], sn);
	}
}

/* events.voided: the scope's stored activity events that a void took out. */
static int stats__read_voided(kdc_stats *s, const struct scope *sc, int64_t *out)
{
	sqlite3_stmt *st = stats__stmt(s, sc->kind == SCOPE_WARD ? Q_VOIDED_WARD :
	                                  sc->kind == SCOPE_KHOM ? Q_VOIDED_KHOM : Q_VOIDED_TEAM);

	if (sc->kind != SCOPE_WARD)
		sqlite3_bind_text(st, 1, sc->code, -1, SQLITE_STATIC);
	return stats__query_int(s, st, out, "count voided events");
}

/* Each indicator's value, denominator and value KDC_PACE_DAYS days ago, for
 * the profile's targets. */
static int stats__read_indicators(kdc_stats *s, struct scope *sc, struct snapshot *sn)
{
	const int64_t d0 = sn->today - KDC_PACE_DAYS;
	const struct kdc_profile *p = s->profile;
	int rc = KDC_OK;

	for (size_t i = 0; i < p->ntargets && rc == KDC_OK; i++) {
		int ind = p->targets[i].indicator;
		int64_t value = 0, denom = 0, then = 0, after = 0;

		switch (ind) {
		case KDC_IND_HOUSEHOLDS_VISITED:
			value = sn->c.hh_visited;
			denom = sn->hh_total;
			rc = stats__hist_from(s, sc->sid, HIST_VISIT, d0 + 1, &after);
			then = value - after;
			break;
		case KDC_IND_HOUSEHOLDS_REACHED:
			value = sn->c.hh_reached;
			denom = sn->hh_total;
			rc = stats__hist_from(s, sc->sid, HIST_REACH, d0 + 1, &after);
			then = value - after;
			break;
		case KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT:
			value = sn->c.acct[ACCT_PAYMENT];
			denom = sn->people_total;
			rc = stats__hist_from(s, sc->sid, HIST_PAYACCT, d0 + 1, &after);
			then = value - after;
			break;
		case KDC_IND_PEOPLE_PAYING_REGULARLY:
			value = sn->regular_now;
			denom = sn->people_total;
			rc = stats__regular_at(s, sc, d0, p->regular_window_days, &then);
			break;
		case KDC_IND_SERVICE_USERS_E_IDENTIFIED:
			value = sn->c.su_eid;
			denom = sn->c.su_total;
			rc = stats__hist_from(s, sc->sid, HIST_EIDUSE, d0 + 1, &after);
			then = value - after;
			break;
		case KDC_IND_BUSINESSES_USING_EINVOICE:
			value = sn->c.biz_einvoice;
			denom = sn->biz_total;
			rc = stats__hist_from(s, sc->sid, HIST_EINVOICE, d0 + 1, &after);
			then = value - after;
			break;
		default:
			continue;
		}
		sn->ind[ind].value = value;
		sn->ind[ind].denom = denom;
		sn->ind[ind].then = then;
	}
	return rc;
}

static int dev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stats_device *)a)->device,
	              ((const struct stats_device *)b)->device);
}

static int dev_push(struct snapshot *sn, size_t *cap, const char *device, const char *team,
                    int64_t last_ms, int64_t count, int seen)
{
	struct stats_device *d;

	if (sn->ndevs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct stats_device *nv = realloc(sn->devs, ncap * sizeof *nv);
		if (!nv)
			return KDC_ERR_NOMEM;
		sn->devs = nv;
		*cap = ncap;
	}
	d = &sn->devs[sn->ndevs++];
	memset(d, 0, sizeof *d);
	COPY_CODE(d->device, device);
	COPY_CODE(d->team, team);
	d->last_ms = last_ms;
	d->n = count;
	d->seen = seen;
	return KDC_OK;
}

/* Devices seen in the scope, plus the profile's devices of the scope's teams
 * that never sent anything (a silent device is news too). */
static int stats__read_devices(kdc_stats *s, const struct scope *sc, struct snapshot *sn)
{
	const struct kdc_profile *p = s->profile;
	sqlite3_stmt *st = stats__stmt(s, Q_DEVICES);
	size_t cap = 0, nseen;
	int rc = KDC_OK, step;

	sqlite3_bind_int64(st, 1, sc->sid);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		const char *team = (const char *)sqlite3_column_text(st, 1);
		if ((rc = dev_push(sn, &cap, dev ? dev : "", team ? team : "",
		                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), 1)))
			break;
	}
	sqlite3_reset(st);
	if (rc)
		return rc;
	if (step != SQLITE_DONE)
		return stats__dberr(s, step, "read st_device");
	nseen = sn->ndevs;
	for (size_t t = 0; t < p->nteams && sc->kind != SCOPE_KHOM; t++) {
		if (sc->kind == SCOPE_TEAM && (long)t != sc->pidx)
			continue;
		for (size_t d = 0; d < p->teams[t].ndevices; d++) {
			int known = 0;
			for (size_t i = 0; i < sn->ndevs && !known; i++)
				known = strcmp(sn->devs[i].device, p->teams[t].devices[d]) == 0;
			if (!known && (rc = dev_push(sn, &cap, p->teams[t].devices[d],
			                             p->teams[t].code, 0, 0, 0)))
				return rc;
		}
	}
	if (sn->ndevs > nseen)
		qsort(sn->devs, sn->ndevs, sizeof *sn->devs, dev_cmp);
	return KDC_OK;
}

void stats__snapshot_free(struct snapshot *sn)
{
	free(sn->devs);
	sn->devs = NULL;
	sn->ndevs = 0;
}

int stats__snapshot(kdc_stats *s, struct scope *sc, int64_t now_ms, struct snapshot *sn)
{
	const int window = s->profile->regular_window_days;
	int rc;

	memset(sn, 0, sizeof *sn);
	sn->today = kdc_local_day(now_ms, s->profile->utc_offset_min);
	sn->hour = kdc_local_hour(now_ms, s->profile->utc_offset_min);
	stats__denominators(s, sc, sn);
	if ((rc = stats__read_counters(s, sc->sid, &sn->c)) ||
	    (rc = stats__read_windows(s, sc->sid, sn)) ||
	    (rc = stats__hist_from(s, sc->sid, HIST_LASTPAY, kdc_window_first(sn->today, window), &sn->regular_now)) ||
	    (rc = stats__read_indicators(s, sc, sn)) ||
	    (rc = stats__read_voided(s, sc, &sn->voided)) ||
	    (rc = stats__read_devices(s, sc, sn))) {
		stats__snapshot_free(sn);
		return rc;
	}
	return KDC_OK;
}
