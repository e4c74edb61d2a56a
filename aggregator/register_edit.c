/* register_edit.c: the ward office's register changes, voids and the
 * register part of forget, in the aggregator's database. See
 * register_edit.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "register_edit.h"

#define PEOPLE_NONE (-1)

/* SQLite's failure as a kdc error, with its words in err. */
static int reg__fail(sqlite3 *db, int src, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return kdc_db_rc(db, src);
}

/* Prepares sql, binds parameters 1..n by fmt ('i' int64_t, 'p' int people,
 * negative binding NULL, 'b' const void * + size_t, 't' text, NULL binding
 * NULL) and runs it to the end. */
static int reg__exec(sqlite3 *db, char *err, size_t errlen, const char *what, const char *sql,
                     const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	int src;
	va_list ap;

	if ((src = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, what, err, errlen);
	/* kdc_db_bind takes the arguments one by one: bind them here by fmt */
	va_start(ap, fmt);
	for (int i = 0; fmt[i] && src == SQLITE_OK; i++) {
		if (fmt[i] == 'i') {
			src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else if (fmt[i] == 'p') {
			int v = va_arg(ap, int);
			src = v < 0 ? sqlite3_bind_null(st, i + 1) : sqlite3_bind_int(st, i + 1, v);
		} else if (fmt[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			src = sqlite3_bind_blob(st, i + 1, p, (int)va_arg(ap, size_t), SQLITE_STATIC);
		} else {
			const char *t = va_arg(ap, const char *);
			src = t ? sqlite3_bind_text(st, i + 1, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i + 1);
		}
	}
	va_end(ap);
	if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_DONE)
		src = SQLITE_OK;
	sqlite3_finalize(st);
	return src == SQLITE_OK ? KDC_OK : reg__fail(db, src, what, err, errlen);
}

static int reg__log(sqlite3 *db, const struct kdc_reg_who *who, const char *action,
                    const char *khom, const char *household, const char *detail, char *err,
                    size_t errlen)
{
	return reg__exec(db, err, errlen, "register log",
	                 "INSERT INTO register_log(at_ms, by, action, khom, household, detail)"
	                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	                 "itttt" "t", who->now_ms, who->by, action, khom, household, detail);
}

int kdc_reg_reason_valid(const char *s, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > KDC_REG_REASON_MAX) {
		snprintf(err, errlen, "the reason must be 1 to %d bytes of text", KDC_REG_REASON_MAX);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "the reason must be one line of text (no control characters)");
			return 0;
		}
	return 1;
}

int kdc_reg_exists(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int src, r = -1;

	if (sqlite3_prepare_v2(db, "SELECT EXISTS(SELECT 1 FROM register)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((src = sqlite3_step(st)) == SQLITE_ROW)
		r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return r;
}

/* ---- the register as it is ---------------------------------------------------- */

struct reg_ent {
	char khom[KDC_CODE_MAX + 1];
	char household[KDC_CODE_MAX + 1];
	int people;          /* PEOPLE_NONE: not given */
	int field;           /* source 'field' */
	int retired;
	int business;        /* a business, not a household */
	int seen;            /* named by the file */
};

struct reg_all {
	struct reg_ent *e;   /* by khom, household (byte order) */
	struct reg_ent **ci; /* by khom, household ignoring case */
	size_t n;
};

static int reg__cmp_exact(const void *a, const void *b)
{
	const struct reg_ent *x = a, *y = b;
	int d = strcmp(x->khom, y->khom);

	return d ? d : strcmp(x->household, y->household);
}

static int reg__cmp_case(const void *a, const void *b)
{
	const struct reg_ent *x = *(const struct reg_ent *const *)a;
	const struct reg_ent *y = *(const struct reg_ent *const *)b;
	int d = strcmp(x->khom, y->khom);

	return d ? d : strcasecmp(x->household, y->household);
}

static void reg__all_free(struct reg_all *r)
{
	free(r->e);
	free(r->ci);
	memset(r, 0, sizeof *r);
}

static int reg__load(sqlite3 *db, struct reg_all *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int src, rc = KDC_OK;

	memset(r, 0, sizeof *r);
	if ((src = sqlite3_prepare_v2(db, "SELECT khom, household, people_15plus, source = 'field',"
	                                  " retired_ms IS NOT NULL, business FROM register", -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, "read the register", err, errlen);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct reg_ent *e;
		if (r->n == cap) {
			size_t nc = cap ? 2 * cap : 256;
			struct reg_ent *ne = realloc(r->e, nc * sizeof *ne);
			if (!ne) {
				rc = KDC_ERR_NOMEM;
				snprintf(err, errlen, "out of memory");
				goto done;
			}
			r->e = ne;
			cap = nc;
		}
		e = &r->e[r->n++];
		memset(e, 0, sizeof *e);
		snprintf(e->khom, sizeof e->khom, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(e->household, sizeof e->household, "%s", (const char *)sqlite3_column_text(st, 1));
		e->people = sqlite3_column_type(st, 2) == SQLITE_NULL ? PEOPLE_NONE : sqlite3_column_int(st, 2);
		e->field = sqlite3_column_int(st, 3);
		e->retired = sqlite3_column_int(st, 4);
		e->business = sqlite3_column_int(st, 5) != 0;
	}
	if (src != SQLITE_DONE) {
		rc = reg__fail(db, src, "read the register", err, errlen);
		goto done;
	}
	if (r->n) {
		qsort(r->e, r->n, sizeof *r->e, reg__cmp_exact);
		if (!(r->ci = malloc(r->n * sizeof *r->ci))) {
			rc = KDC_ERR_NOMEM;
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < r->n; i++)
			r->ci[i] = &r->e[i];
		qsort(r->ci, r->n, sizeof *r->ci, reg__cmp_case);
	}
done:
	sqlite3_finalize(st);
	if (rc != KDC_OK)
		reg__all_free(r);
	return rc;
}

static struct reg_ent *reg__find(const struct reg_all *r, const char *khom, const char *household)
{
	struct reg_ent key;

	if (!r->n)
		return NULL;
	snprintf(key.khom, sizeof key.khom, "%s", khom);
	snprintf(key.household, sizeof key.household, "%s", household);
	return bsearch(&key, r->e, r->n, sizeof *r->e, reg__cmp_exact);
}

/* An entry of khom whose code equals household ignoring case (not
 * byte-equal), or NULL. */
static struct reg_ent *reg__case_twin(const struct reg_all *r, const char *khom, const char *household)
{
	struct reg_ent key, *kp = &key, **hit;
	size_t i;

	if (!r->n)
		return NULL;
	snprintf(key.khom, sizeof key.khom, "%s", khom);
	snprintf(key.household, sizeof key.household, "%s", household);
	if (!(hit = bsearch(&kp, r->ci, r->n, sizeof *r->ci, reg__cmp_case)))
		return NULL;
	/* walk the whole group of case-equal codes */
	i = (size_t)(hit - r->ci);
	while (i > 0 && reg__cmp_case(&r->ci[i - 1], &kp) == 0)
		i--;
	for (; i < r->n && reg__cmp_case(&r->ci[i], &kp) == 0; i++)
		if (strcmp(r->ci[i]->household, household) != 0)
			return r->ci[i];
	return NULL;
}

static void reg__people_text(char *buf, size_t len, int people)
{
	if (people == PEOPLE_NONE)
		snprintf(buf, len, "not given");
	else
		snprintf(buf, len, "%d", people);
}

/* ---- import ---------------------------------------------------------------------- */

enum plan_kind { PLAN_NONE, PLAN_ADD, PLAN_CHANGE };

/* One import: the file, the register as it was, what each row does. */
struct reg_import {
	sqlite3 *db;
	const struct kdc_register_csv *csv;
	const char *label;
	const struct kdc_reg_who *who;
	int verbose;
	const char *would;          /* "would " in a dry run, else "" */
	FILE *out, *errout;
	struct kdc_reg_import_counts *counts;
	struct reg_all reg;
	unsigned char *plan;        /* enum plan_kind per row of csv */
	char *err;
	size_t errlen;
};

/* Decides what each row does, before anything is written, so that a
 * refusal changes nothing. Returns the number of refused rows. */
static size_t reg__import_plan(struct reg_import *x)
{
	size_t bad = 0;

	for (size_t i = 0; i < x->csv->nrows; i++) {
		const struct kdc_register_row *row = &x->csv->rows[i];
		struct reg_ent *e = reg__find(&x->reg, row->khom, row->household), *twin;

		if (!e) {
			if ((twin = reg__case_twin(&x->reg, row->khom, row->household))) {
				fprintf(x->errout, "%s:%d: household %s of khóm %s differs only in case from %s, "
				        "already in the register: write it as %s\n", x->label, row->line,
				        row->household, row->khom, twin->household, twin->household);
				bad++;
			}
			x->plan[i] = PLAN_ADD;
			continue;
		}
		e->seen = 1;
		if (e->business != row->business) {
			fprintf(x->errout, "%s:%d: %s of khóm %s is a %s in the register, the file says %s: "
			        "a code keeps its type (retire it and register the %s under a new code)\n",
			        x->label, row->line, row->household, row->khom,
			        e->business ? "business" : "household", row->business ? "business" : "household",
			        row->business ? "business" : "household");
			bad++;
		} else if (e->retired) {
			fprintf(x->out, "%s:%d: household %s of khóm %s is retired in the register: it stays "
			        "retired (kdc-aggregator register add brings it back)\n",
			        x->label, row->line, row->household, row->khom);
			x->counts->stay_retired++;
		} else if (x->csv->has_people && e->people != row->people_15plus) {
			x->plan[i] = PLAN_CHANGE;
		} else {
			x->counts->unchanged++;
		}
	}
	return bad;
}

static int reg__import_rows(struct reg_import *x)
{
	char detail[512], a[16], b[16];
	int rc;

	for (size_t i = 0; i < x->csv->nrows; i++) {
		const struct kdc_register_row *row = &x->csv->rows[i];

		if (x->plan[i] == PLAN_ADD) {
			reg__people_text(a, sizeof a, row->people_15plus);
			if (row->business)
				snprintf(a, sizeof a, "business");
			if (x->verbose)
				fprintf(x->out, "%sadd khóm %s %s %s (%s%s)\n", x->would, row->khom,
				        row->business ? "business" : "household", row->household,
				        row->business ? "" : "people 15+: ", a);
			snprintf(detail, sizeof detail, "from %s, %s%s", x->label,
			         row->business ? "" : "people 15+: ", a);
			if ((rc = reg__exec(x->db, x->err, x->errlen, "add to the register",
			                    "INSERT INTO register(khom, household, people_15plus, source,"
			                    " added_by, added_ms, business) VALUES(?1, ?2, ?3, 'import', ?4, ?5, ?6)",
			                    "ttptii", row->khom, row->household, row->people_15plus, x->who->by,
			                    x->who->now_ms, (int64_t)row->business)) != KDC_OK ||
			    (rc = reg__log(x->db, x->who, "import", row->khom, row->household, detail,
			                   x->err, x->errlen)) != KDC_OK)
				return rc;
			x->counts->added++;
		} else if (x->plan[i] == PLAN_CHANGE) {
			struct reg_ent *e = reg__find(&x->reg, row->khom, row->household);
			reg__people_text(a, sizeof a, e->people);
			reg__people_text(b, sizeof b, row->people_15plus);
			if (x->verbose)
				fprintf(x->out, "%schange khóm %s household %s: people 15+ %s -> %s\n", x->would,
				        row->khom, row->household, a, b);
			snprintf(detail, sizeof detail, "people 15+: %s -> %s (import of %s)", a, b, x->label);
			if ((rc = reg__exec(x->db, x->err, x->errlen, "change the register",
			                    "UPDATE register SET people_15plus = ?3 WHERE khom = ?1 AND"
			                    " household = ?2", "ttp", row->khom, row->household,
			                    row->people_15plus)) != KDC_OK ||
			    (rc = reg__log(x->db, x->who, "change", row->khom, row->household, detail,
			                   x->err, x->errlen)) != KDC_OK)
				return rc;
			x->counts->changed++;
		}
	}
	return KDC_OK;
}

/* What the register has and the file does not: kept, or retired with
 * retire_missing (never a household added in the field). */
static int reg__import_missing(struct reg_import *x, int retire_missing)
{
	char detail[512];
	int rc;

	for (size_t i = 0; i < x->reg.n; i++) {
		const struct reg_ent *e = &x->reg.e[i];

		if (e->seen || e->retired || e->field)
			continue;
		if (!retire_missing) {
			x->counts->missing_kept++;
			continue;
		}
		if (x->verbose)
			fprintf(x->out, "%sretire khóm %s household %s (not in %s)\n", x->would, e->khom,
			        e->household, x->label);
		snprintf(detail, sizeof detail, "not in %s (import --retire-missing)", x->label);
		if ((rc = reg__exec(x->db, x->err, x->errlen, "retire in the register",
		                    "UPDATE register SET retired_ms = ?3, retired_by = ?4,"
		                    " retired_reason = ?5 WHERE khom = ?1 AND household = ?2",
		                    "ttitt", e->khom, e->household, x->who->now_ms, x->who->by,
		                    detail)) != KDC_OK ||
		    (rc = reg__log(x->db, x->who, "retire", e->khom, e->household, detail, x->err,
		                   x->errlen)) != KDC_OK)
			return rc;
		x->counts->retired++;
	}
	if (x->counts->missing_kept)
		fprintf(x->out, "%zu household%s of the register %s not in %s: kept (--retire-missing "
		        "retires them; households added in the field are never retired this way)\n",
		        x->counts->missing_kept, x->counts->missing_kept == 1 ? "" : "s",
		        x->counts->missing_kept == 1 ? "is" : "are", x->label);
	return KDC_OK;
}

int kdc_reg_import(sqlite3 *db, const struct kdc_register_csv *csv, const char *label,
                   int retire_missing, const struct kdc_reg_who *who, int verbose, int dry,
                   FILE *out, FILE *errout, struct kdc_reg_import_counts *counts,
                   char *err, size_t errlen)
{
	struct reg_import x = { .db = db, .csv = csv, .label = label, .who = who,
	                        .verbose = verbose, .would = dry ? "would " : "", .out = out,
	                        .errout = errout, .counts = counts, .err = err, .errlen = errlen };
	size_t bad;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = reg__load(db, &x.reg, err, errlen)) != KDC_OK)
		return rc;
	if (csv->nrows && !(x.plan = calloc(csv->nrows, 1))) {
		reg__all_free(&x.reg);
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	if ((bad = reg__import_plan(&x)) > 0) {
		snprintf(err, errlen, "%zu row%s of %s clash%s with the register: nothing was changed",
		         bad, bad == 1 ? "" : "s", label, bad == 1 ? "es" : "");
		rc = KDC_ERR_INVAL;
	} else if ((rc = reg__import_rows(&x)) == KDC_OK) {
		rc = reg__import_missing(&x, retire_missing);
	}
	free(x.plan);
	reg__all_free(&x.reg);
	return rc;
}

/* ---- one household -------------------------------------------------------------- */

/* Reads the entry (khom, household): 1 found (people, retired set), 0 not, or
 * an error (<0 as -kdc code). */
static int reg__get(sqlite3 *db, const char *khom, const char *household, int *people,
                    int *retired, int *business, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int src, r;

	if ((src = sqlite3_prepare_v2(db, "SELECT people_15plus, retired_ms IS NOT NULL, business"
	                                  " FROM register WHERE khom = ?1 AND household = ?2", -1, &st, NULL)) != SQLITE_OK)
		return -reg__fail(db, src, "read the register", err, errlen);
	if ((src = kdc_db_bind(st, "tt", khom, household)) != SQLITE_OK) {
		r = -reg__fail(db, src, "read the register", err, errlen);
	} else if ((src = sqlite3_step(st)) == SQLITE_ROW) {
		*people = sqlite3_column_type(st, 0) == SQLITE_NULL ? PEOPLE_NONE : sqlite3_column_int(st, 0);
		*retired = sqlite3_column_int(st, 1);
		*business = sqlite3_column_int(st, 2) != 0;
		r = 1;
	} else if (src == SQLITE_DONE) {
		r = 0;
	} else {
		r = -reg__fail(db, src, "read the register", err, errlen);
	}
	sqlite3_finalize(st);
	return r;
}

int kdc_reg_add(sqlite3 *db, const char *khom, const char *household, int people, int business,
                const struct kdc_reg_who *who, char *msg, size_t msglen)
{
	struct reg_all reg;
	struct reg_ent *twin;
	const char *what = business ? "business" : "household";
	char detail[256], a[16], err[256];
	int old_people = PEOPLE_NONE, retired = 0, old_business = 0, found, rc;

	if ((found = reg__get(db, khom, household, &old_people, &retired, &old_business, msg,
	                      msglen)) < 0)
		return -found;
	if (found && !retired) {
		snprintf(msg, msglen, "%s %s of khóm %s is already in the register",
		         old_business ? "business" : "household", household, khom);
		return KDC_ERR_INVAL;
	}
	if (found && old_business != business) {
		snprintf(msg, msglen, "%s of khóm %s is a retired %s in the register: a code keeps its "
		         "type (register the %s under a new code)", household, khom,
		         old_business ? "business" : "household", what);
		return KDC_ERR_INVAL;
	}
	if (business)
		people = PEOPLE_NONE;
	if (!found) {
		if ((rc = reg__load(db, &reg, msg, msglen)) != KDC_OK)
			return rc;
		twin = reg__case_twin(&reg, khom, household);
		if (twin)
			snprintf(msg, msglen, "household %s of khóm %s differs only in case from %s, already "
			         "in the register: is it the same household? (codes are compared exactly)",
			         household, khom, twin->household);
		reg__all_free(&reg);
		if (twin)
			return KDC_ERR_INVAL;
		reg__people_text(a, sizeof a, people);
		snprintf(detail, sizeof detail, business ? "business" : "people 15+: %s", a);
		if ((rc = reg__exec(db, msg, msglen, "add to the register",
		                    "INSERT INTO register(khom, household, people_15plus, source, added_by,"
		                    " added_ms, business) VALUES(?1, ?2, ?3, 'ward', ?4, ?5, ?6)",
		                    "ttptii", khom, household, people, who->by, who->now_ms,
		                    (int64_t)business)) != KDC_OK)
			return rc;
		if (business)
			snprintf(msg, msglen, "added business %s to khóm %s", household, khom);
		else
			snprintf(msg, msglen, "added household %s to khóm %s (people 15+: %s)", household,
			         khom, a);
	} else {
		if (people == PEOPLE_NONE)
			people = old_people;
		reg__people_text(a, sizeof a, people);
		snprintf(detail, sizeof detail, "brought back from retired, people 15+: %s", a);
		if ((rc = reg__exec(db, msg, msglen, "bring back in the register",
		                    "UPDATE register SET retired_ms = NULL, retired_by = NULL,"
		                    " retired_reason = NULL, people_15plus = ?3 WHERE khom = ?1 AND"
		                    " household = ?2", "ttp", khom, household, people)) != KDC_OK)
			return rc;
		snprintf(msg, msglen, "household %s of khóm %s is active again (it was retired; people "
		         "15+: %s)", household, khom, a);
	}
	if ((rc = reg__log(db, who, "add", khom, household, detail, err, sizeof err)) != KDC_OK)
		snprintf(msg, msglen, "%s", err);
	return rc;
}

int kdc_reg_retire(sqlite3 *db, const char *khom, const char *household, const char *reason,
                   const struct kdc_reg_who *who, char *msg, size_t msglen)
{
	int people, retired, business, found, rc;

	if (!kdc_reg_reason_valid(reason, msg, msglen))
		return KDC_ERR_INVAL;
	if ((found = reg__get(db, khom, household, &people, &retired, &business, msg, msglen)) < 0)
		return -found;
	if (!found) {
		snprintf(msg, msglen, "household %s of khóm %s is not in the register "
		         "(see kdc-aggregator register list --khom %s)", household, khom, khom);
		return KDC_ERR_NOT_FOUND;
	}
	if (retired) {
		snprintf(msg, msglen, "household %s of khóm %s is retired already", household, khom);
		return KDC_ERR_INVAL;
	}
	if ((rc = reg__exec(db, msg, msglen, "retire in the register",
	                    "UPDATE register SET retired_ms = ?3, retired_by = ?4, retired_reason = ?5"
	                    " WHERE khom = ?1 AND household = ?2",
	                    "ttitt", khom, household, who->now_ms, who->by, reason)) != KDC_OK ||
	    (rc = reg__log(db, who, "retire", khom, household, reason, msg, msglen)) != KDC_OK)
		return rc;
	snprintf(msg, msglen, "retired %s %s of khóm %s: its events no longer count, and "
	         "devices can no longer record for it", business ? "business" : "household", household,
	         khom);
	return KDC_OK;
}

/* ---- listings -------------------------------------------------------------------- */

static void reg__time(int64_t ms, char *buf, size_t len)
{
	char t[40];

	kdc_time_format(ms, t, sizeof t);
	/* to the second: enough for people, and one column width */
	snprintf(buf, len, "%.19sZ", t);
}

int kdc_reg_list(sqlite3 *db, const char *khom, int field, int retired, FILE *out,
                 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[512], when[40];
	size_t n = 0;
	int src;

	snprintf(sql, sizeof sql,
	         "SELECT khom, household, people_15plus, source, added_by, added_ms, retired_ms,"
	         " retired_by, retired_reason, business FROM register WHERE (?1 IS NULL OR khom = ?1) AND %s%s"
	         " ORDER BY khom, household",
	         retired ? "retired_ms IS NOT NULL" : "retired_ms IS NULL",
	         field ? " AND source = 'field'" : "");
	if ((src = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, "read the register", err, errlen);
	if ((src = kdc_db_bind(st, "t", khom)) != SQLITE_OK) {
		sqlite3_finalize(st);
		return reg__fail(db, src, "read the register", err, errlen);
	}
	fprintf(out, "%-8s %-12s %9s  %-7s %-20s %-20s%s\n", "KHOM", "HOUSEHOLD", "PEOPLE15+",
	        "SOURCE", "ADDED BY", "ADDED", retired ? " RETIRED              BY / REASON" : "");
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		char people[16] = "-";
		if (sqlite3_column_int(st, 9))
			snprintf(people, sizeof people, "business");
		else if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			snprintf(people, sizeof people, "%d", sqlite3_column_int(st, 2));
		reg__time(sqlite3_column_int64(st, 5), when, sizeof when);
		fprintf(out, "%-8s %-12s %9s  %-7s %-20s %-20s", sqlite3_column_text(st, 0),
		        sqlite3_column_text(st, 1), people, sqlite3_column_text(st, 3),
		        sqlite3_column_text(st, 4), when);
		if (retired) {
			reg__time(sqlite3_column_int64(st, 6), when, sizeof when);
			fprintf(out, " %-20s %s: %s", when, sqlite3_column_text(st, 7),
			        sqlite3_column_text(st, 8));
		}
		fputc('\n', out);
		n++;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return reg__fail(db, src, "read the register", err, errlen);
	fprintf(out, "%zu %s%shousehold%s%s%s\n", n, retired ? "retired " : "",
	        field ? "field-added " : (retired ? "" : "active "), n == 1 ? "" : "s",
	        khom ? " in khóm " : "", khom ? khom : "");
	return KDC_OK;
}

int kdc_reg_log_print(sqlite3 *db, const char *khom, FILE *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char when[40];
	size_t n = 0;
	int src;

	if ((src = sqlite3_prepare_v2(db, "SELECT at_ms, by, action, khom, household, detail"
	                                  " FROM register_log WHERE ?1 IS NULL OR khom = ?1 ORDER BY lid",
	                              -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, "read the register log", err, errlen);
	if ((src = kdc_db_bind(st, "t", khom)) != SQLITE_OK) {
		sqlite3_finalize(st);
		return reg__fail(db, src, "read the register log", err, errlen);
	}
	fprintf(out, "%-20s %-20s %-9s %-8s %-12s %s\n", "WHEN", "BY", "ACTION", "KHOM", "HOUSEHOLD",
	        "DETAIL");
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 3), *h = sqlite3_column_text(st, 4);
		reg__time(sqlite3_column_int64(st, 0), when, sizeof when);
		fprintf(out, "%-20s %-20s %-9s %-8s %-12s %s\n", when, sqlite3_column_text(st, 1),
		        sqlite3_column_text(st, 2), k ? (const char *)k : "-", h ? (const char *)h : "-",
		        sqlite3_column_text(st, 5));
		n++;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return reg__fail(db, src, "read the register log", err, errlen);
	fprintf(out, "%zu change%s\n", n, n == 1 ? "" : "s");
	return KDC_OK;
}

int kdc_reg_events(sqlite3 *db, const char *khom, const char *household, long long limit,
                   FILE *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char when[40], idtxt[KDC_UUID_STR_LEN], vtxt[KDC_UUID_STR_LEN];
	size_t n = 0;
	int src;

	if ((src = sqlite3_prepare_v2(db,
	             "SELECT * FROM (SELECT id, occurred_ms, kind, khom, household, member, team,"
	             " device, voided_by FROM events WHERE (?1 IS NULL OR khom = ?1) AND"
	             " (?2 IS NULL OR household = ?2) ORDER BY occurred_ms DESC, id DESC LIMIT ?3)"
	             " ORDER BY occurred_ms, id", -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, "read the events", err, errlen);
	if ((src = kdc_db_bind(st, "tti", khom, household, (int64_t)limit)) != SQLITE_OK) {
		sqlite3_finalize(st);
		return reg__fail(db, src, "read the events", err, errlen);
	}
	fprintf(out, "%-36s %-20s %-15s %-8s %-12s %6s %-8s %-12s %s\n", "ID", "OCCURRED", "KIND",
	        "KHOM", "HOUSEHOLD", "MEMBER", "TEAM", "DEVICE", "VOIDED BY");
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = kdc_kind_name(sqlite3_column_int(st, 2));
		if (sqlite3_column_bytes(st, 0) != KDC_UUID_LEN)
			continue;
		kdc_uuid_format(sqlite3_column_blob(st, 0), idtxt);
		snprintf(vtxt, sizeof vtxt, "-");
		if (sqlite3_column_bytes(st, 8) == KDC_UUID_LEN)
			kdc_uuid_format(sqlite3_column_blob(st, 8), vtxt);
		reg__time(sqlite3_column_int64(st, 1), when, sizeof when);
		fprintf(out, "%-36s %-20s %-15s %-8s %-12s %6d %-8s %-12s %s\n", idtxt, when,
		        kind ? kind : "?", sqlite3_column_text(st, 3), sqlite3_column_text(st, 4),
		        sqlite3_column_int(st, 5), sqlite3_column_text(st, 6), sqlite3_column_text(st, 7),
		        vtxt);
		n++;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return reg__fail(db, src, "read the events", err, errlen);
	fprintf(out, "%zu event%s%s\n", n, n == 1 ? "" : "s",
	        (long long)n == limit ? " (the newest; --limit N shows more)" : "");
	return KDC_OK;
}

/* ---- void ------------------------------------------------------------------------ */

int kdc_reg_void(sqlite3 *db, const uint8_t id[16], const char *reason,
                 const struct kdc_reg_who *who, char *msg, size_t msglen)
{
	sqlite3_stmt *st = NULL;
	char idtxt[KDC_UUID_STR_LEN], vtxt[KDC_UUID_STR_LEN], by[128], detail[512], when[40];
	char khom[KDC_CODE_MAX + 1], household[KDC_CODE_MAX + 1];
	uint8_t void_id[KDC_UUID_LEN];
	int src, kind, rc;
	int64_t occurred;

	kdc_uuid_format(id, idtxt);
	if (!kdc_reg_reason_valid(reason, msg, msglen))
		return KDC_ERR_INVAL;
	if ((src = sqlite3_prepare_v2(db, "SELECT kind, khom, household, occurred_ms, voided_by"
	                                  " FROM events WHERE id = ?1", -1, &st, NULL)) != SQLITE_OK)
		return reg__fail(db, src, "read the event", msg, msglen);
	if ((src = kdc_db_bind(st, "b", id, (size_t)KDC_UUID_LEN)) != SQLITE_OK ||
	    ((src = sqlite3_step(st)) != SQLITE_ROW && src != SQLITE_DONE)) {
		rc = reg__fail(db, src, "read the event", msg, msglen);
		sqlite3_finalize(st);
		return rc;
	}
	if (src == SQLITE_DONE) {
		sqlite3_finalize(st);
		snprintf(msg, msglen, "no event %s is stored (see kdc-aggregator events --khom K "
		         "--household H for the ids)", idtxt);
		return KDC_ERR_NOT_FOUND;
	}
	kind = sqlite3_column_int(st, 0);
	snprintf(khom, sizeof khom, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(household, sizeof household, "%s", (const char *)sqlite3_column_text(st, 2));
	occurred = sqlite3_column_int64(st, 3);
	if (sqlite3_column_bytes(st, 4) == KDC_UUID_LEN) {
		kdc_uuid_format(sqlite3_column_blob(st, 4), vtxt);
		sqlite3_finalize(st);
		snprintf(msg, msglen, "event %s is voided already (by %s): nothing to do", idtxt, vtxt);
		return KDC_ERR_INVAL;
	}
	sqlite3_finalize(st);
	if (!kdc_kind_is_activity(kind)) {
		snprintf(msg, msglen, "event %s is a %s, not a visit, account, payment or service: "
		         "only those can be voided%s", idtxt, kind == KDC_KIND_VOID ? "void"
		         : kind == KDC_KIND_HOUSEHOLD_ADDED ? "household addition" : "event of another kind",
		         kind == KDC_KIND_HOUSEHOLD_ADDED ? " (to take a household out, use "
		         "kdc-aggregator register retire)" : "");
		return KDC_ERR_INVAL;
	}
	if (kdc_uuid7(void_id, who->now_ms) != KDC_OK) {
		snprintf(msg, msglen, "the system's random source failed");
		return KDC_ERR_IO;
	}
	kdc_uuid_format(void_id, vtxt);
	snprintf(by, sizeof by, "ward:%s", who->by);
	reg__time(occurred, when, sizeof when);
	snprintf(detail, sizeof detail, "event %s (%s of %s) voided by %s: %s", idtxt,
	         kdc_kind_name(kind), when, vtxt, reason);
	if ((rc = reg__exec(db, msg, msglen, "store the void",
	                    "INSERT INTO voids(void_id, target, reason, team, by, at_ms, state)"
	                    " VALUES(?1, ?2, ?3, '', ?4, ?5, 1)",
	                    "bbtti", void_id, (size_t)KDC_UUID_LEN, id, (size_t)KDC_UUID_LEN, reason,
	                    by, who->now_ms)) != KDC_OK ||
	    (rc = reg__exec(db, msg, msglen, "void the event",
	                    "UPDATE events SET voided_by = ?1 WHERE id = ?2", "bb", void_id,
	                    (size_t)KDC_UUID_LEN, id, (size_t)KDC_UUID_LEN)) != KDC_OK ||
	    (rc = reg__log(db, who, "void", khom, household, detail, msg, msglen)) != KDC_OK)
		return rc;
	snprintf(msg, msglen, "voided event %s (%s of khóm %s household %s, %s): it no longer "
	         "counts", idtxt, kdc_kind_name(kind), khom, household, when);
	return KDC_OK;
}

/* ---- forget ---------------------------------------------------------------------- */

int kdc_reg_forget(sqlite3 *db, const char *khom, const char *household, int64_t events,
                   int64_t rejected, const struct kdc_reg_who *who, int *entry,
                   char *err, size_t errlen)
{
	char detail[256];
	int rc;

	*entry = 0;
	if ((rc = reg__exec(db, err, errlen, "delete the register entry",
	                    "DELETE FROM register WHERE khom = ?1 AND household = ?2", "tt", khom,
	                    household)) != KDC_OK)
		return rc;
	*entry = sqlite3_changes(db) > 0;
	/* its history stays (what happened, when, by whom), without the code */
	if ((rc = reg__exec(db, err, errlen, "rewrite the register log",
	                    "UPDATE register_log SET household = NULL, detail = replace(detail, ?2,"
	                    " '(forgotten)') WHERE khom = ?1 AND household = ?2", "tt", khom,
	                    household)) != KDC_OK)
		return rc;
	snprintf(detail, sizeof detail, "a household's data was deleted on request: %lld events, "
	         "%lld refused payloads%s", (long long)events, (long long)rejected,
	         *entry ? ", its register entry" : "");
	return reg__log(db, who, "forget", khom, NULL, detail, err, errlen);
}
