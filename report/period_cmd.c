/* period_cmd.c: see period_cmd.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "figures.h"
#include "kdc_err.h"
#include "kdc_prog.h"
#include "kdc_util.h"
#include "monthly.h"
#include "period.h"
#include "period_cmd.h"
#include "source.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_NO_DB 3
#define EXIT_REFUSED 4

/* A name or reason for the log: some text, one line, of sane length. */
static int check_text(const char *opt, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || strspn(s, " \t") == n)
		return kdc_usage_error("--%s is empty: say %s", opt,
		                       strcmp(opt, "by") == 0 ? "who does it" : "why");
	if (n >= max)
		return kdc_usage_error("--%s is longer than %zu bytes", opt, max - 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return kdc_usage_error("--%s holds a control character (a line break?)", opt);
	return 0;
}

static int check_month(const char *month, int64_t *first, int64_t *last)
{
	if (kdc_monthly_parse(month, first, last) != KDC_OK)
		return kdc_usage_error("--month '%s' is not a month: give YYYY-MM, like 2026-11", month);
	return 0;
}

/* The database must exist, be kdc's of this version, and be writable. */
static int check_db(const char *db, struct kdc_source *src)
{
	char err[1024];
	int rc;

	if ((rc = kdc_source_open(src, db, err, sizeof err)) != KDC_OK) {
		fprintf(stderr, "kdc-report: %s\n", err);
		return rc == KDC_ERR_NOMEM ? EXIT_FAIL : EXIT_NO_DB;
	}
	if (access(db, W_OK) != 0) {
		fprintf(stderr, "kdc-report: cannot write %s: %s (closing a month writes the ward's "
		        "database: run as the ward's service user)\n", db, strerror(errno));
		kdc_source_close(src);
		return EXIT_NO_DB;
	}
	return 0;
}

/* The month's figures at its end, as the monthly report computes them:
 * the JSON to freeze (malloc'd) or NULL with err. */
static char *month_figures(sqlite3 *db, const struct kdc_profile *p, int64_t last_day,
                           size_t *nscopes, char *err, size_t errlen)
{
	const struct kdc_scope_figs *g;
	kdc_figures *f;
	char *json = NULL;
	size_t n;

	if (!(f = kdc_figures_new(db, p, err, errlen)))
		return NULL;
	if (kdc_figures_at(f, kdc_figures_day_end(p, last_day), &g, &n, err, errlen) == KDC_OK) {
		if (!(json = kdc_period_figures_json(g, n)))
			snprintf(err, errlen, "out of memory");
		*nscopes = n;
	}
	kdc_figures_free(f);
	return json;
}

int kdc_close_month(const char *db, const struct kdc_profile *p, const char *month, const char *by)
{
	struct kdc_closed_list closed = { NULL, 0 };
	const struct kdc_closed_month *was;
	struct kdc_source src;
	int64_t first, last, now = kdc_now_ms();
	char err[1024], sha[65], when[32];
	char *json = NULL;
	size_t nscopes = 0;
	int rc, ret;

	if ((ret = check_month(month, &first, &last)) || (ret = check_text("by", by, KDC_PERIOD_BY_MAX)))
		return ret;
	if (now <= kdc_figures_day_end(p, last)) {
		fprintf(stderr, "kdc-report: %s is not over yet (the ward's calendar): a month is closed "
		        "after its last day\n", month);
		return EXIT_REFUSED;
	}
	if ((ret = check_db(db, &src)) != 0)
		return ret;
	/* refused before the work of computing the figures; period.c checks
	 * again inside its write transaction */
	if ((rc = kdc_period_load(src.db, &closed, err, sizeof err)) == KDC_OK &&
	    (was = kdc_period_find(&closed, month)) != NULL) {
		kdc_time_format(was->at_ms, when, sizeof when);
		fprintf(stderr, "kdc-report: %s is already closed (by %s at %s): its figures stay as "
		        "they were frozen; to close it anew, reopen it first (kdc-report reopen --month %s "
		        "--reason TEXT --by NAME)\n", month, was->by, when, month);
		ret = EXIT_REFUSED;
	} else if (rc == KDC_OK) {
		json = month_figures(src.db, p, last, &nscopes, err, sizeof err);
		if (json && kdc_source_changed(&src, db)) {
			snprintf(err, sizeof err, "the database changed while it was read (an aggregator "
			         "started, or a register or void command ran): run close again");
			free(json);
			json = NULL;
		}
		if (!json)
			ret = EXIT_FAIL;
	} else {
		ret = EXIT_FAIL;
	}
	kdc_period_list_free(&closed);
	kdc_source_close(&src);
	if (ret == EXIT_FAIL)
		fprintf(stderr, "kdc-report: closing %s: %s\n", month, err);
	if (ret)
		return ret;
	rc = kdc_period_close(db, month, by, json, now, err, sizeof err);
	kdc_period_sha256(json, sha);
	free(json);
	if (rc != KDC_OK) {
		fprintf(stderr, "kdc-report: %s%s\n", rc == KDC_ERR_BUSY ? "" : "closing failed: ", err);
		return rc == KDC_ERR_BUSY ? EXIT_REFUSED : EXIT_FAIL;
	}
	kdc_time_format(now, when, sizeof when);
	printf("closed %s by %s at %s: the figures of %zu scopes at the month's end, sha256 %s\n", month,
	       by, when, nscopes, sha);
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

int kdc_reopen_month(const char *db, const char *month, const char *reason, const char *by)
{
	struct kdc_source src;
	int64_t first, last, now = kdc_now_ms();
	char err[1024], when[32];
	int rc, ret;

	if ((ret = check_month(month, &first, &last)) || (ret = check_text("by", by, KDC_PERIOD_BY_MAX)) ||
	    (ret = check_text("reason", reason, 1024)))
		return ret;
	if ((ret = check_db(db, &src)) != 0)
		return ret;
	kdc_source_close(&src);
	if ((rc = kdc_period_reopen(db, month, reason, by, now, err, sizeof err)) != KDC_OK) {
		fprintf(stderr, "kdc-report: %s%s\n", rc == KDC_ERR_NOT_FOUND ? "" : "reopening failed: ",
		        err);
		return rc == KDC_ERR_NOT_FOUND ? EXIT_REFUSED : EXIT_FAIL;
	}
	kdc_time_format(now, when, sizeof when);
	printf("reopened %s by %s at %s: its figures are no longer frozen (close it again to freeze "
	       "them anew)\n", month, by, when);
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}
