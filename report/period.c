/* period.c: closed months, see period.h. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "labels.h"
#include "monthly.h"
#include "period.h"

/* ---- the figures' text and hash ------------------------------------------------------ */

char *kdc_period_figures_json(const struct kdc_scope_figs *g, size_t n)
{
	size_t len = 3, at = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(g[i].json) + 1;
	if (!(s = malloc(len)))
		return NULL;
	s[at++] = '[';
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(g[i].json);
		if (i)
			s[at++] = ',';
		memcpy(s + at, g[i].json, k);
		at += k;
	}
	s[at++] = ']';
	s[at] = '\0';
	return s;
}

void kdc_period_sha256(const char *s, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return; /* an empty hash never equals a stored one: shows as altered */
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ---- reading ------------------------------------------------------------------------------ */

void kdc_period_list_free(struct kdc_closed_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		kdc_figures_list_free(l->m[i].scopes, l->m[i].n);
	free(l->m);
	l->m = NULL;
	l->n = 0;
}

static int period__row(sqlite3_stmt *st, struct kdc_closed_month *c, char *err, size_t errlen)
{
	const char *month = (const char *)sqlite3_column_text(st, 0);
	const char *by = (const char *)sqlite3_column_text(st, 1);
	const char *figs = (const char *)sqlite3_column_text(st, 3);
	const char *sha = (const char *)sqlite3_column_text(st, 4);
	char now[65];
	int rc;

	memset(c, 0, sizeof *c);
	if (!month || !by || !figs || !sha ||
	    kdc_monthly_parse(month, &c->first_day, &c->last_day) != KDC_OK) {
		snprintf(err, errlen, "a closed month's row is damaged (month %s)", month ? month : "NULL");
		return KDC_ERR_INVAL;
	}
	snprintf(c->month, sizeof c->month, "%s", month);
	snprintf(c->by, sizeof c->by, "%s", by);
	snprintf(c->sha256, sizeof c->sha256, "%s", sha);
	c->at_ms = sqlite3_column_int64(st, 2);
	kdc_period_sha256(figs, now);
	c->sha_ok = strcmp(now, c->sha256) == 0;
	if ((rc = kdc_figures_parse_list(figs, &c->scopes, &c->n)) != KDC_OK)
		snprintf(err, errlen, rc == KDC_ERR_NOMEM ? "out of memory"
		                                          : "the frozen figures of %s do not parse", month);
	return rc;
}

int kdc_period_load(sqlite3 *db, struct kdc_closed_list *l, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct kdc_closed_month *grown;
	int src, rc = KDC_OK;

	l->m = NULL;
	l->n = 0;
	if (sqlite3_prepare_v2(db, "SELECT month, closed_by, closed_ms, figures, sha256"
	                       " FROM closed_months ORDER BY month", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "reading the closed months: %s", sqlite3_errmsg(db));
		return KDC_ERR_DB;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(grown = realloc(l->m, (l->n + 1) * sizeof *grown))) {
			snprintf(err, errlen, "out of memory");
			rc = KDC_ERR_NOMEM;
			break;
		}
		l->m = grown;
		rc = period__row(st, &l->m[l->n], err, errlen);
		l->n++; /* counted either way: its scopes are freed below */
		if (rc != KDC_OK)
			break;
	}
	if (rc == KDC_OK && src != SQLITE_DONE) {
		snprintf(err, errlen, "reading the closed months: %s", sqlite3_errmsg(db));
		rc = KDC_ERR_DB;
	}
	sqlite3_finalize(st);
	if (rc != KDC_OK)
		kdc_period_list_free(l);
	return rc;
}

const struct kdc_closed_month *kdc_period_find(const struct kdc_closed_list *l, const char *month)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->m[i].month, month) == 0)
			return &l->m[i];
	return NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

static int period__open(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	const struct kdc_db_opts o = { "database", 1, 10000, 0 };

	return kdc_db_open(path, &o, db, err, errlen);
}

/* Runs sql bound by fmt (kdc_db_bind) to its end; the first row's text
 * column 0 and int column 1 into *text / *num when they are not NULL (and
 * *found = 1). */
static int period__run(sqlite3 *db, const char *sql, int *found, char *text, size_t textlen,
                       int64_t *num, char *err, size_t errlen, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int src;

	if (found)
		*found = 0;
	if ((src = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) == SQLITE_OK) {
		va_start(ap, fmt);
		for (int i = 0; fmt[i] && src == SQLITE_OK; i++) {
			const char *t = fmt[i] == 't' ? va_arg(ap, const char *) : NULL;
			int64_t v = fmt[i] == 'i' ? va_arg(ap, int64_t) : 0;
			src = fmt[i] == 't' ? sqlite3_bind_text(st, i + 1, t, -1, SQLITE_STATIC)
			                    : sqlite3_bind_int64(st, i + 1, v);
		}
		va_end(ap);
	}
	while (src == SQLITE_OK || src == SQLITE_ROW) {
		if ((src = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (found && !*found) {
			*found = 1;
			if (text)
				snprintf(text, textlen, "%s", sqlite3_column_text(st, 0) ?
				         (const char *)sqlite3_column_text(st, 0) : "");
			if (num)
				*num = sqlite3_column_int64(st, 1);
		}
	}
	if (src != SQLITE_DONE) {
		snprintf(err, errlen, "writing the closed months: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return kdc_db_rc(db, src);
	}
	sqlite3_finalize(st);
	return KDC_OK;
}

static int period__exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	int src = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (src == SQLITE_OK)
		return KDC_OK;
	snprintf(err, errlen, "%s: %s%s", sql, sqlite3_errmsg(db),
	         src == SQLITE_BUSY ? " (the aggregator or a ward tool kept the database busy; "
	                              "run the command again)" : "");
	return kdc_db_rc(db, src);
}

/* Ends the transaction: COMMIT when rc is KDC_OK, else ROLLBACK. */
static int period__end(sqlite3 *db, int rc, char *err, size_t errlen)
{
	if (rc == KDC_OK)
		return period__exec(db, "COMMIT", err, errlen);
	if (sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Closes the database; rc, or KDC_ERR_DB when closing fails after a success. */
static int period__close(sqlite3 *db, int rc, char *err, size_t errlen)
{
	if (sqlite3_close(db) != SQLITE_OK && rc == KDC_OK) {
		snprintf(err, errlen, "closing the database: %s", sqlite3_errmsg(db));
		rc = KDC_ERR_DB;
	}
	return rc;
}

int kdc_period_close(const char *path, const char *month, const char *by, const char *figures,
                     int64_t now_ms, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char sha[65], who[KDC_PERIOD_BY_MAX], when[32];
	int64_t at = 0;
	int rc, found = 0;

	kdc_period_sha256(figures, sha);
	if ((rc = period__open(path, &db, err, errlen)) != KDC_OK)
		return rc;
	if ((rc = period__exec(db, "BEGIN IMMEDIATE", err, errlen)) != KDC_OK)
		goto cleanup;
	rc = period__run(db, "SELECT closed_by, closed_ms FROM closed_months WHERE month = ?1", &found,
	                 who, sizeof who, &at, err, errlen, "t", month);
	if (rc == KDC_OK && found) {
		kdc_time_format(at, when, sizeof when);
		snprintf(err, errlen, "%s is already closed (by %s at %s): its figures stay as they were "
		         "frozen; to close it anew, reopen it first (kdc-report reopen --month %s "
		         "--reason TEXT --by NAME)", month, who, when, month);
		rc = KDC_ERR_BUSY;
	}
	if (rc == KDC_OK)
		rc = period__run(db, "INSERT INTO closed_months(month, closed_by, closed_ms, figures, sha256)"
		                 " VALUES(?1, ?2, ?3, ?4, ?5)", NULL, NULL, 0, NULL, err, errlen, "ttitt",
		                 month, by, now_ms, figures, sha);
	if (rc == KDC_OK)
		rc = period__run(db, "INSERT INTO period_log(month, action, by, at_ms, reason, sha256)"
		                 " VALUES(?1, 'close', ?2, ?3, NULL, ?4)", NULL, NULL, 0, NULL, err, errlen,
		                 "ttit", month, by, now_ms, sha);
	rc = period__end(db, rc, err, errlen);
cleanup:
	return period__close(db, rc, err, errlen);
}

int kdc_period_reopen(const char *path, const char *month, const char *reason, const char *by,
                      int64_t now_ms, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char sha[65];
	int rc, found = 0;

	if ((rc = period__open(path, &db, err, errlen)) != KDC_OK)
		return rc;
	if ((rc = period__exec(db, "BEGIN IMMEDIATE", err, errlen)) != KDC_OK)
		goto cleanup;
	rc = period__run(db, "SELECT sha256, 0 FROM closed_months WHERE month = ?1", &found, sha,
	                 sizeof sha, NULL, err, errlen, "t", month);
	if (rc == KDC_OK && !found) {
		snprintf(err, errlen, "%s is not closed: there is nothing to reopen", month);
		rc = KDC_ERR_NOT_FOUND;
	}
	if (rc == KDC_OK)
		rc = period__run(db, "DELETE FROM closed_months WHERE month = ?1", NULL, NULL, 0, NULL,
		                 err, errlen, "t", month);
	if (rc == KDC_OK)
		rc = period__run(db, "INSERT INTO period_log(month, action, by, at_ms, reason, sha256)"
		                 " VALUES(?1, 'reopen', ?2, ?3, ?4, ?5)", NULL, NULL, 0, NULL, err, errlen,
		                 "ttitt", month, by, now_ms, reason, sha);
	rc = period__end(db, rc, err, errlen);
cleanup:
	return period__close(db, rc, err, errlen);
}

/* ---- the differences ----------------------------------------------------------------------- */

static const struct kdc_scope_figs *period__scope(const struct kdc_scope_figs *g, size_t n,
                                                  int kind, const char *code)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].kind == kind && strcmp(g[i].code, code) == 0)
			return &g[i];
	return NULL;
}

static const struct kdc_target_figs *period__target(const struct kdc_scope_figs *g, int indicator)
{
	for (size_t i = 0; g && i < g->ntargets; i++)
		if (g->targets[i].indicator == indicator)
			return &g->targets[i];
	return NULL;
}

struct diffs {
	struct kdc_period_diff *d;
	size_t n;
	int failed;
};

static void period__add(struct diffs *x, const struct kdc_scope_figs *g, int item, int which,
                        int64_t official, int64_t now)
{
	struct kdc_period_diff *grown;

	if (official == now || x->failed)
		return;
	if (!(grown = realloc(x->d, (x->n + 1) * sizeof *grown))) {
		x->failed = 1;
		return;
	}
	x->d = grown;
	grown = &x->d[x->n++];
	memset(grown, 0, sizeof *grown);
	grown->kind = g->kind;
	snprintf(grown->code, sizeof grown->code, "%s", g->code);
	snprintf(grown->name, sizeof grown->name, "%s", g->name);
	grown->item = item;
	grown->which = which;
	grown->official = official;
	grown->now = now;
}

/* One scope: a (official) against b (now); either may be NULL, not both. */
static void period__scope_diff(struct diffs *x, const struct kdc_scope_figs *a,
                               const struct kdc_scope_figs *b)
{
	const struct kdc_scope_figs *g = a ? a : b, *tg;

	for (size_t i = 0; i < kdc_fig_ncolumns; i++) {
		int f = kdc_fig_columns[i].field;
		period__add(x, g, KDC_DIFF_FIGURE, (int)i, a ? a->v[f] : 0, b ? b->v[f] : 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		/* the targets of a, then those only b has */
		tg = pass == 0 ? a : b;
		for (size_t t = 0; tg && t < tg->ntargets; t++) {
			int ind = tg->targets[t].indicator;
			const struct kdc_target_figs *ta = period__target(a, ind), *tb = period__target(b, ind);
			if (pass == 1 && ta)
				continue;
			period__add(x, g, KDC_DIFF_TARGET_VALUE, ind, ta ? ta->value : 0, tb ? tb->value : 0);
			period__add(x, g, KDC_DIFF_TARGET_DENOM, ind, ta ? ta->denominator : 0,
			            tb ? tb->denominator : 0);
		}
	}
}

int kdc_period_compare(const struct kdc_scope_figs *official, size_t nofficial,
                       const struct kdc_scope_figs *now, size_t nnow,
                       struct kdc_period_diff **out, size_t *n)
{
	struct diffs x = { NULL, 0, 0 };

	for (size_t i = 0; i < nofficial; i++)
		period__scope_diff(&x, &official[i],
		                   period__scope(now, nnow, official[i].kind, official[i].code));
	for (size_t i = 0; i < nnow; i++)
		if (!period__scope(official, nofficial, now[i].kind, now[i].code))
			period__scope_diff(&x, NULL, &now[i]);
	if (x.failed) {
		free(x.d);
		*out = NULL;
		*n = 0;
		return KDC_ERR_NOMEM;
	}
	*out = x.d;
	*n = x.n;
	return KDC_OK;
}
