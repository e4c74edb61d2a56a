/* kdc-report: the reports a ward hands upward, from its events database.
 *
 *   kdc-report export events (--db PATH | --config aggregator.conf) [--profile FILE]
 *              [--from DATE] [--to DATE] [--khom K] [--team T] [--kind KIND]
 *              [--voided include|exclude|only] [--lang vi|en] [--output FILE]
 *   kdc-report export indicators (--db PATH | --config FILE) [--profile FILE] [--by day|month]
 *              [--from DATE] [--to DATE] [--lang vi|en] [--output FILE]
 *   kdc-report monthly (--db PATH | --config FILE) [--profile FILE] --month YYYY-MM
 *              [--format xlsx|html] [--lang vi|en] --output FILE
 *   kdc-report snapshot (--db PATH | --config FILE) [--profile FILE] --at WHEN [--output FILE]
 *   kdc-report close (--db PATH | --config FILE) [--profile FILE] --month YYYY-MM --by NAME
 *   kdc-report reopen (--db PATH | --config FILE) --month YYYY-MM --reason TEXT --by NAME
 *
 * close freezes a month's official figures in the ward's database and
 * reopen gives them up (period.h): the only commands that write it.
 * monthly makes the month's report (monthly.h), export indicators the
 * figures per period as CSV (export_indicators.h); both take their figures
 * from figures.h. snapshot prints the kdc.stats.v1 snapshots of every scope as they stood at
 * a moment, computed by the statistics module (figures.h). export events writes every stored event (or those the filters keep) as a
 * CSV file for a spreadsheet: UTF-8 with a byte-order mark, CRLF, one header
 * row in the chosen language (docs/report.md). The database is only read,
 * while the aggregator runs or not (source.h).
 *
 * Exit status: 0 written; 1 reading or writing failed (a full disk: the
 * partial file is removed); 2 usage error; 3 the database cannot be used
 * (missing, unreadable, not a kdc events database); 4 refused (close: the
 * month is already closed or not over; reopen: it is not closed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_events.h"
#include "export_indicators.h"
#include "figures.h"
#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "monthly.h"
#include "period.h"
#include "period_cmd.h"
#include "profile.h"
#include "source.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_NO_DB 3
#define EXIT_REFUSED 4

struct cli {
	char *config;
	char *db;
	char *profile;
	char *from, *to;
	char *khom, *team, *kind;
	char *voided;
	char *lang;
	char *output;
	char *at, *by, *month, *format, *reason;
	int help;
};

enum command { CMD_EVENTS = 0, CMD_INDICATORS, CMD_SNAPSHOT, CMD_MONTHLY, CMD_CLOSE, CMD_REOPEN };

static const struct kdc_opt opts[] = {
	KDC_OPT(struct cli, "config", KDC_OPT_STR, config, 0, 0, NULL, "the aggregator's config file (aggregator.conf): its db and profile lines are used"),
	KDC_OPT(struct cli, "db", KDC_OPT_STR, db, 0, 0, NULL, "the ward's events database (the aggregator's --db), read only"),
	KDC_OPT(struct cli, "profile", KDC_OPT_STR, profile, 0, 0, NULL, "the ward profile: khóm and team names, the ward's UTC offset, denominators and targets (default: +07:00, no names, no denominators, the default targets)"),
	KDC_OPT(struct cli, "from", KDC_OPT_STR, from, 0, 0, NULL, "first day, YYYY-MM-DD in the ward's time (inclusive)"),
	KDC_OPT(struct cli, "to", KDC_OPT_STR, to, 0, 0, NULL, "last day, YYYY-MM-DD in the ward's time (inclusive)"),
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "only this khóm's events (its code)"),
	KDC_OPT(struct cli, "team", KDC_OPT_STR, team, 0, 0, NULL, "only this team's events (its code)"),
	KDC_OPT(struct cli, "kind", KDC_OPT_STR, kind, 0, 0, NULL, "only visit, account, payment, service, household_added or void events"),
	KDC_OPT(struct cli, "voided", KDC_OPT_STR, voided, 0, 0, "include", "include, exclude or only the events a void cancelled (column voided by)"),
	KDC_OPT(struct cli, "lang", KDC_OPT_STR, lang, 0, 0, "vi", "vi or en: the language of the header and the kinds"),
	KDC_OPT(struct cli, "at", KDC_OPT_STR, at, 0, 0, NULL, "snapshot: the moment, a day YYYY-MM-DD (its end, in the ward's time) or a time 2026-11-30T17:00:00Z"),
	KDC_OPT(struct cli, "by", KDC_OPT_STR, by, 0, 0, NULL, "export indicators: one period per day or month (default month); close, reopen: who does it, a name for the log"),
	KDC_OPT(struct cli, "month", KDC_OPT_STR, month, 0, 0, NULL, "monthly, close, reopen: the month, YYYY-MM"),
	KDC_OPT(struct cli, "reason", KDC_OPT_STR, reason, 0, 0, NULL, "reopen: why the closed month is reopened (logged)"),
	KDC_OPT(struct cli, "format", KDC_OPT_STR, format, 0, 0, "xlsx", "monthly: xlsx (a workbook) or html (a printable page)"),
	KDC_OPT(struct cli, "output", KDC_OPT_STR, output, 0, 0, NULL, "write the CSV to this file (mode 0600: it holds household data) instead of standard output"),
	KDC_OPT(struct cli, "help", KDC_OPT_BOOL, help, 0, 0, NULL, "show this help"),
	KDC_OPT_END
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kdc-report export events (--db PATH | --config aggregator.conf) [--profile FILE]\n"
	             "                  [--from DATE] [--to DATE] [--khom K] [--team T] [--kind KIND]\n"
	             "                  [--voided include|exclude|only] [--lang vi|en] [--output FILE]\n"
	             "       kdc-report export indicators (--db PATH | --config FILE) [--profile FILE]\n"
	             "                  [--by day|month] [--from DATE] [--to DATE] [--lang vi|en] [--output FILE]\n"
	             "       kdc-report monthly (--db PATH | --config FILE) [--profile FILE] --month YYYY-MM\n"
	             "                  [--format xlsx|html] [--lang vi|en] --output FILE\n"
	             "       kdc-report snapshot (--db PATH | --config FILE) [--profile FILE] --at WHEN\n"
	             "                  [--output FILE]\n"
	             "       kdc-report close (--db PATH | --config FILE) [--profile FILE] --month YYYY-MM\n"
	             "                  --by NAME\n"
	             "       kdc-report reopen (--db PATH | --config FILE) --month YYYY-MM --reason TEXT\n"
	             "                  --by NAME\n\n"
	             "The reports a ward hands upward, from its events database. The database is only\n"
	             "read (never written, never created), also while kdc-aggregator runs; close and\n"
	             "reopen alone write to it (run them as the ward's service user).\n\n"
	             "export events: every stored event as CSV for a spreadsheet (UTF-8 with a byte-order\n"
	             "mark, CRLF, one header row in Vietnamese or English), one row per event in the order\n"
	             "of their ids: id, the ward's local date and time, khóm, team, device, household,\n"
	             "member, kind and its details, when it was stored, and the void that cancelled it.\n"
	             "Dates are the ward's calendar days (the profile's utc_offset). What every column\n"
	             "means: docs/report.md.\n"
	             "  kdc-report export events --config /etc/kdc/31975/aggregator.conf --output events.csv\n"
	             "  kdc-report export events --db events.db --profile ward.ini --khom 6 \\\n"
	             "             --from 2026-11-01 --to 2026-11-30 --kind payment --lang en > nov.csv\n\n"
	             "export indicators: the ward's figures per period as CSV (the same conventions), one\n"
	             "row per period and scope (the ward, each khóm, each team): the period's last day,\n"
	             "households visited, surveyed and reached, people 15+ with a payment account and\n"
	             "paying regularly, events per kind, online public service users and businesses,\n"
	             "and each target's value, denominator and current\n"
	             "percent, as they stood at the end of that day. The periods run from the first\n"
	             "event's day to the last one's unless --from and --to say otherwise.\n"
	             "  kdc-report export indicators --config /etc/kdc/31975/aggregator.conf --by month \\\n"
	             "             --output indicators.csv\n\n"
	             "monthly: the month's report to hand upward, an XLSX workbook (or with --format html\n"
	             "a printable page): a summary with each target's value at the end of the month, its\n"
	             "change over the month and its projected date; a sheet per khóm and per team; the\n"
	             "events of the month (the columns of export events). Vietnamese unless --lang en.\n"
	             "  kdc-report monthly --config /etc/kdc/31975/aggregator.conf --month 2026-11 \\\n"
	             "             --output 31975-2026-11.xlsx\n\n"
	             "snapshot: the statistics of the ward, each khóm and each team as they stood at a\n"
	             "moment (the events up to it, by event time), one kdc.stats.v1 JSON per line, as the\n"
	             "aggregator publishes them; computed by the aggregator's own statistics code.\n"
	             "--at 2026-11-30 is the end of that day in the ward's time.\n"
	             "  kdc-report snapshot --config /etc/kdc/31975/aggregator.conf --at 2026-11-30\n\n"
	             "close: freezes a month's official figures (every scope at the month's end, as the\n"
	             "monthly report computes them) with who closed it, when, and their SHA-256. A month\n"
	             "is closed once, after it ended; events dated in it that arrive later show in the\n"
	             "next months' reports as adjustments. reopen gives the frozen figures up (a reason\n"
	             "is required and logged); closing again freezes them anew.\n"
	             "  kdc-report close --config /etc/kdc/31975/aggregator.conf --month 2026-11 --by \"Lan\"\n\n"
	             "options:\n");
	kdc_conf_usage(opts, out);
	fprintf(out, "\nExit status: 0 written, 1 reading or writing failed (the partial file is removed),\n"
	             "2 usage error, 3 the database cannot be used (missing, unreadable, not kdc's),\n"
	             "4 refused (close: the month is closed already or not over; reopen: not closed).\n");
}

/* ---- --config: the aggregator's file ------------------------------------------------ */

/* Takes "--config FILE" / "--config=FILE" out of argv (kept in *config):
 * the aggregator's file has many settings this program has no use for, so
 * it is read here for db and profile only, not through the option table. */
static int take_config(int *argc, char **argv, int from, char **config)
{
	int i, o = from;

	for (i = from; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : i + 1 < *argc ? argv[++i] : NULL;
			if (!v)
				return kdc_usage_error("option --config needs a value");
			free(*config);
			if (!(*config = strdup(v)))
				return EXIT_FAIL;
			continue;
		}
		argv[o++] = argv[i];
	}
	while (i < *argc)
		argv[o++] = argv[i++];
	*argc = o;
	return 0;
}

static int config_line(void *ud, const char *section, const char *key, const char *value,
                       int line, char *err, size_t errlen)
{
	struct cli *c = ud;
	char **slot = strcmp(key, "db") == 0 ? &c->db : strcmp(key, "profile") == 0 ? &c->profile : NULL;

	(void)section;
	(void)line;
	if (!slot || *slot) /* another setting, or given on the command line */
		return 0;
	if (!(*slot = strdup(value))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- checking the options --------------------------------------------------------- */

/* The kind named s, or -1 with the nearest name (a prefix, or 2 edits)
 * in *near (NULL when none is near). */
static int parse_kind(const char *s, const char **near)
{
	const char *names[KDC_KIND_ALL];
	int i;

	*near = NULL;
	for (i = 0; i < KDC_KIND_ALL; i++) {
		names[i] = kdc_kind_name(i);
		if (strcmp(s, names[i]) == 0)
			return i;
	}
	for (i = 0; i < KDC_KIND_ALL && !*near; i++)
		if (*s && strncmp(names[i], s, strlen(s)) == 0)
			*near = names[i]; /* the first it begins */
	if (!*near && (i = kdc_nearest(s, names, KDC_KIND_ALL)) >= 0)
		*near = names[i];
	return -1;
}

static int parse_day(const char *opt, const char *s, int64_t *day)
{
	char buf[11];

	if (kdc_profile_parse_date(s, buf, day) != KDC_OK)
		return kdc_usage_error("--%s '%s' is not a date: give YYYY-MM-DD, a day of the ward's "
		                       "calendar, like 2026-11-27", opt, s);
	return 0;
}

static int check_code(const char *opt, const char *code)
{
	if (code && !kdc_code_valid(code))
		return kdc_usage_error("--%s '%s' is not a code (A-Z a-z 0-9 _ -, at most %d)", opt, code,
		                       KDC_CODE_MAX);
	return 0;
}

/* Fills x from the options (dates with the profile's offset). */
static int check_args(const struct cli *c, const struct kdc_profile *p, struct kdc_export_events *x)
{
	int64_t from = 0, to = 0;
	const char *near;
	int rc;

	if (c->from && (rc = parse_day("from", c->from, &from)))
		return rc;
	if (c->to && (rc = parse_day("to", c->to, &to)))
		return rc;
	if (c->from && c->to && from > to)
		return kdc_usage_error("--from %s is after --to %s", c->from, c->to);
	x->has_from = c->from != NULL;
	x->has_to = c->to != NULL;
	x->from_ms = kdc_local_day_start(from, p->utc_offset_min);
	x->to_ms = kdc_local_day_start(to + 1, p->utc_offset_min); /* the end of that day */
	if ((rc = check_code("khom", c->khom)) || (rc = check_code("team", c->team)))
		return rc;
	x->khom = c->khom;
	x->team = c->team;
	x->kind = -1;
	if (c->kind && (x->kind = parse_kind(c->kind, &near)) < 0)
		return kdc_usage_error("--kind '%s' is not a kind%s%s%s (visit, account, payment, service, "
		                       "household_added or void)", c->kind, near ? ": did you mean " : "",
		                       near ? near : "", near ? "?" : "");
	if (strcmp(c->voided, "include") == 0)
		x->voided = KDC_VOIDED_INCLUDE;
	else if (strcmp(c->voided, "exclude") == 0)
		x->voided = KDC_VOIDED_EXCLUDE;
	else if (strcmp(c->voided, "only") == 0)
		x->voided = KDC_VOIDED_ONLY;
	else
		return kdc_usage_error("--voided must be include, exclude or only, not '%s'", c->voided);
	if (strcmp(c->lang, "vi") != 0 && strcmp(c->lang, "en") != 0)
		return kdc_usage_error("--lang must be vi or en, not '%s'", c->lang);
	x->lang = strcmp(c->lang, "en") == 0 ? KDC_LANG_EN : KDC_LANG_VI;
	return 0;
}

/* A note when a filter names a khóm or team the profile does not have: a
 * typo then gives an empty file, which should not look like "no events". */
static void note_unknown(const struct cli *c, const struct kdc_profile *p)
{
	if (c->khom && p->nkhoms > 0 && kdc_profile_khom_find(p, c->khom) < 0)
		fprintf(stderr, "kdc-report: note: khóm %s is not in the ward profile\n", c->khom);
	if (c->team && p->nteams > 0 && kdc_profile_team_find(p, c->team) < 0)
		fprintf(stderr, "kdc-report: note: team %s is not in the ward profile\n", c->team);
}

/* ---- output ------------------------------------------------------------------------- */

/* 1 if path names the database or one of its WAL files (an --output typo
 * that would truncate the ward's data). */
static int is_database(const char *path, const char *db)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	struct stat out, st;
	char name[4096];

	if (stat(path, &out) != 0)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if ((size_t)snprintf(name, sizeof name, "%s%s", db, suffix[i]) < sizeof name &&
		    stat(name, &st) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino)
			return 1;
	return 0;
}

/* Opens --output (mode 0600 when created) or standard output. */
static FILE *open_output(const char *path)
{
	int fd;
	FILE *f;

	if (!path)
		return stdout;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return NULL;
	if (!(f = fdopen(fd, "w")))
		close(fd);
	return f;
}

/* Closes the output, 0 or the errno of a failure (the last buffered bytes
 * are written by fclose: a full disk shows here too). */
static int close_output(FILE *f)
{
	if (f == stdout)
		return fflush(f) == 0 ? 0 : errno ? errno : EIO;
	return fclose(f) == 0 ? 0 : errno ? errno : EIO;
}

/* A half-written file must not be taken for the report. */
static void remove_partial(const char *path)
{
	struct stat st;

	if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0)
		fprintf(stderr, "kdc-report: removed the partial %s\n", path);
}

/* ---- export events ---------------------------------------------------------------- */

static int load_profile(const struct cli *c, struct kdc_profile **p)
{
	char err[512];

	if (!c->profile || !*c->profile) {
		if (!(*p = kdc_profile_new_default(NULL))) {
			fprintf(stderr, "kdc-report: out of memory\n");
			return EXIT_FAIL;
		}
		return 0;
	}
	if (kdc_profile_load(c->profile, p, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-report: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* What a command writes, given the database open for reading and the output
 * open for writing: KDC_OK with *count (rows, days...) and *noun set, or an
 * error with a plain reason in err. */
typedef int (*produce_fn)(void *ud, sqlite3 *db, FILE *out, int64_t *count, const char **noun,
                          char *err, size_t errlen);

/* Opens the database and the output, runs fn, closes both; a failure
 * removes the partial file. The exit status. */
static int produce(const struct cli *c, produce_fn fn, void *ud)
{
	struct kdc_source src;
	const char *name = c->output ? c->output : "standard output", *noun = "rows";
	char err[1024];
	int64_t count = 0;
	FILE *out;
	int rc, werr;

	if (c->output && is_database(c->output, c->db))
		return kdc_usage_error("--output %s is the database itself: give another file", c->output);
	if ((rc = kdc_source_open(&src, c->db, err, sizeof err)) != KDC_OK) {
		fprintf(stderr, "kdc-report: %s\n", err);
		return rc == KDC_ERR_NOMEM ? EXIT_FAIL : EXIT_NO_DB;
	}
	if (!(out = open_output(c->output))) {
		fprintf(stderr, "kdc-report: cannot write %s: %s\n", c->output, strerror(errno));
		kdc_source_close(&src);
		return EXIT_FAIL;
	}
	rc = fn(ud, src.db, out, &count, &noun, err, sizeof err);
	werr = close_output(out);
	if (rc == KDC_OK && werr)
		snprintf(err, sizeof err, "writing failed at the end: %s", strerror(werr));
	/* before any read error: pages changing under an immutable read look
	 * like a damaged file to SQLite, and the file is not damaged */
	if ((rc != KDC_ERR_IO && !werr) && kdc_source_changed(&src, c->db)) {
		snprintf(err, sizeof err, "the database changed while it was read (an aggregator started, "
		         "or a register or void command ran): run the report again");
		rc = KDC_ERR_BUSY;
	}
	kdc_source_close(&src);
	if (rc != KDC_OK || werr) {
		fprintf(stderr, "kdc-report: %s: %s\n", name, err);
		remove_partial(c->output);
		return EXIT_FAIL;
	}
	/* "1 event", "2 events" */
	fprintf(stderr, "kdc-report: wrote %lld %.*s to %s\n", (long long)count,
	        (int)strlen(noun) - (count == 1 && noun[strlen(noun) - 1] == 's'), noun, name);
	return 0;
}

/* ---- export events ---------------------------------------------------------------- */

static int events_fn(void *ud, sqlite3 *db, FILE *out, int64_t *count, const char **noun,
                     char *err, size_t errlen)
{
	struct kdc_export_events *x = ud;

	x->db = db;
	x->out = out;
	x->progress = isatty(STDERR_FILENO);
	*noun = "events";
	return kdc_export_events_run(x, count, err, errlen);
}

static int cmd_events(const struct cli *c, const struct kdc_profile *p)
{
	struct kdc_export_events x;
	int rc;

	memset(&x, 0, sizeof x);
	x.profile = p;
	if ((rc = check_args(c, p, &x)) != 0)
		return rc;
	note_unknown(c, p);
	return produce(c, events_fn, &x);
}

/* ---- snapshot ----------------------------------------------------------------------- */

/* --at: a day (its last ms in the ward's time) or a time. */
static int parse_at(const char *s, const struct kdc_profile *p, int64_t *ms)
{
	char buf[11], err[256];
	int64_t day;

	if (strlen(s) == 10 && kdc_profile_parse_date(s, buf, &day) == KDC_OK) {
		*ms = kdc_figures_day_end(p, day);
		return 0;
	}
	if (kdc_parse_time(s, p->utc_offset_min, ms, err, sizeof err) != KDC_OK)
		return kdc_usage_error("--at '%s': %s", s, err);
	return 0;
}

struct snapshot_job {
	const struct kdc_profile *profile;
	int64_t at_ms;
};

static int snapshot_fn(void *ud, sqlite3 *db, FILE *out, int64_t *count, const char **noun,
                       char *err, size_t errlen)
{
	const struct snapshot_job *j = ud;
	const struct kdc_scope_figs *g;
	kdc_figures *f;
	size_t n;
	int rc;

	*noun = "snapshots";
	if (!(f = kdc_figures_new(db, j->profile, err, errlen)))
		return KDC_ERR_DB;
	if ((rc = kdc_figures_at(f, j->at_ms, &g, &n, err, errlen)) == KDC_OK) {
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s\n", g[i].json);
		*count = (int64_t)n;
		if (ferror(out)) {
			snprintf(err, errlen, "writing failed: %s", strerror(errno ? errno : EIO));
			rc = KDC_ERR_IO;
		}
	}
	kdc_figures_free(f);
	return rc;
}

static int cmd_snapshot(const struct cli *c, const struct kdc_profile *p)
{
	struct snapshot_job j = { p, 0 };
	int rc;

	if (!c->at)
		return kdc_usage_error("snapshot needs --at: a day YYYY-MM-DD (its end) or a time");
	if ((rc = parse_at(c->at, p, &j.at_ms)) != 0)
		return rc;
	return produce(c, snapshot_fn, &j);
}

/* ---- export indicators -------------------------------------------------------------- */

static int indicators_fn(void *ud, sqlite3 *db, FILE *out, int64_t *count, const char **noun,
                         char *err, size_t errlen)
{
	struct kdc_export_indicators *x = ud;

	x->db = db;
	x->out = out;
	*noun = "rows";
	return kdc_export_indicators_run(x, count, err, errlen);
}

static int parse_lang(const char *s, int *lang)
{
	if (strcmp(s, "vi") != 0 && strcmp(s, "en") != 0)
		return kdc_usage_error("--lang must be vi or en, not '%s'", s);
	*lang = strcmp(s, "en") == 0 ? KDC_LANG_EN : KDC_LANG_VI;
	return 0;
}

static int cmd_indicators(const struct cli *c, const struct kdc_profile *p)
{
	struct kdc_export_indicators x;
	int rc;

	memset(&x, 0, sizeof x);
	x.profile = p;
	if (c->from && (rc = parse_day("from", c->from, &x.from_day)))
		return rc;
	if (c->to && (rc = parse_day("to", c->to, &x.to_day)))
		return rc;
	if (c->from && c->to && x.from_day > x.to_day)
		return kdc_usage_error("--from %s is after --to %s", c->from, c->to);
	x.has_from = c->from != NULL;
	x.has_to = c->to != NULL;
	if (c->by && strcmp(c->by, "day") != 0 && strcmp(c->by, "month") != 0)
		return kdc_usage_error("--by must be day or month, not '%s'", c->by);
	x.by_month = !c->by || strcmp(c->by, "month") == 0;
	if ((rc = parse_lang(c->lang, &x.lang)) != 0)
		return rc;
	return produce(c, indicators_fn, &x);
}

/* ---- monthly ---------------------------------------------------------------------------- */

struct monthly_job {
	struct kdc_monthly m;
	int html;
	const char *path;  /* the workbook's file: libxlsxwriter writes it by name */
};

static int monthly_fn(void *ud, sqlite3 *db, FILE *out, int64_t *count, const char **noun,
                      char *err, size_t errlen)
{
	struct monthly_job *j = ud;
	struct kdc_closed_list closed;
	struct kdc_doc d;
	int rc;

	j->m.db = db;
	*noun = "events in the monthly report";
	if ((rc = kdc_period_load(db, &closed, err, errlen)) != KDC_OK)
		return rc;
	j->m.closed = &closed;
	kdc_doc_init(&d);
	if ((rc = kdc_monthly_build(&j->m, &d, count, err, errlen)) == KDC_OK)
		/* out (open_output: created 0600) stays empty for a workbook, which
		 * libxlsxwriter writes over it by name, keeping its mode */
		rc = j->html ? kdc_doc_write_html(&d, out, err, errlen)
		             : kdc_doc_write_xlsx(&d, j->path, err, errlen);
	kdc_doc_free(&d);
	kdc_period_list_free(&closed);
	j->m.closed = NULL;
	return rc;
}

static int cmd_monthly(const struct cli *c, const struct kdc_profile *p)
{
	struct monthly_job j;
	int rc;

	memset(&j, 0, sizeof j);
	j.m.profile = p;
	j.m.generated_ms = kdc_now_ms();
	if (!c->month)
		return kdc_usage_error("monthly needs --month YYYY-MM (a month of the ward's calendar)");
	if (kdc_monthly_parse(c->month, &j.m.first_day, &j.m.last_day) != KDC_OK)
		return kdc_usage_error("--month '%s' is not a month: give YYYY-MM, like 2026-11", c->month);
	if ((rc = parse_lang(c->lang, &j.m.lang)) != 0)
		return rc;
	if (strcmp(c->format, "xlsx") != 0 && strcmp(c->format, "html") != 0)
		return kdc_usage_error("--format must be xlsx or html, not '%s'", c->format);
	j.html = strcmp(c->format, "html") == 0;
	if (!j.html && !c->output)
		return kdc_usage_error("a workbook is a file: give --output FILE.xlsx (or --format html "
		                       "for standard output)");
	j.path = c->output;
	return produce(c, monthly_fn, &j);
}

/* ---- close, reopen ------------------------------------------------------------------------ */

static int cmd_close(const struct cli *c, const struct kdc_profile *p)
{
	if (!c->month || !c->by)
		return kdc_usage_error("close needs --month YYYY-MM and --by NAME (who closes it, for the log)");
	return kdc_close_month(c->db, p, c->month, c->by);
}

static int cmd_reopen(const struct cli *c, const struct kdc_profile *p)
{
	(void)p;
	if (!c->month || !c->by || !c->reason)
		return kdc_usage_error("reopen needs --month YYYY-MM, --reason TEXT (why, for the log) "
		                       "and --by NAME");
	return kdc_reopen_month(c->db, c->month, c->reason, c->by);
}

/* The options that only some commands take, refused elsewhere. */
static int check_command_options(const struct cli *c, enum command cmd)
{
	static const char *const names[] = { "export events", "export indicators", "snapshot",
		                             "monthly", "close", "reopen" };
	const struct { const char *opt; const char *val; unsigned cmds; } only[] = {
		{ "khom", c->khom, 1u << CMD_EVENTS },
		{ "team", c->team, 1u << CMD_EVENTS },
		{ "kind", c->kind, 1u << CMD_EVENTS },
		{ "from", c->from, 1u << CMD_EVENTS | 1u << CMD_INDICATORS },
		{ "to", c->to, 1u << CMD_EVENTS | 1u << CMD_INDICATORS },
		{ "at", c->at, 1u << CMD_SNAPSHOT },
		{ "month", c->month, 1u << CMD_MONTHLY | 1u << CMD_CLOSE | 1u << CMD_REOPEN },
		{ "reason", c->reason, 1u << CMD_REOPEN },
		{ "by", c->by, 1u << CMD_INDICATORS | 1u << CMD_CLOSE | 1u << CMD_REOPEN },
		{ "output", c->output, 1u << CMD_EVENTS | 1u << CMD_INDICATORS | 1u << CMD_SNAPSHOT |
		                       1u << CMD_MONTHLY },
	};

	for (size_t i = 0; i < sizeof only / sizeof only[0]; i++)
		if (only[i].val && !(only[i].cmds & (1u << cmd)))
			return kdc_usage_error("--%s is not an option of %s", only[i].opt, names[cmd]);
	return 0;
}

static int run(struct cli *c, enum command cmd)
{
	struct kdc_profile *p = NULL;
	char err[512];
	int rc;

	if (c->config && kdc_ini_parse(c->config, config_line, c, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if ((rc = check_command_options(c, cmd)) != 0)
		return rc;
	if (!c->db || !*c->db)
		return kdc_usage_error("--db PATH is required (the aggregator's SQLite file, e.g. "
		                       "/var/lib/kdc/31975/events.db), or --config with its aggregator.conf");
	if ((rc = load_profile(c, &p)) != 0)
		return rc;
	switch (cmd) {
	case CMD_EVENTS: rc = cmd_events(c, p); break;
	case CMD_SNAPSHOT: rc = cmd_snapshot(c, p); break;
	case CMD_INDICATORS: rc = cmd_indicators(c, p); break;
	case CMD_MONTHLY: rc = cmd_monthly(c, p); break;
	case CMD_CLOSE: rc = cmd_close(c, p); break;
	case CMD_REOPEN: rc = cmd_reopen(c, p); break;
	}
	kdc_profile_free(p);
	return rc;
}

/* The command from argv[1..2]; *argi: where its options start. */
static int command(int argc, char **argv, enum command *cmd, int *argi)
{
	if (argc < 2 || strncmp(argv[1], "--", 2) == 0)
		return kdc_usage_error("give a command: export events, export indicators, snapshot, "
		                       "monthly, close or reopen (see kdc-report --help)");
	*argi = 2;
	if (strcmp(argv[1], "snapshot") == 0) {
		*cmd = CMD_SNAPSHOT;
		return 0;
	}
	if (strcmp(argv[1], "monthly") == 0) {
		*cmd = CMD_MONTHLY;
		return 0;
	}
	if (strcmp(argv[1], "close") == 0 || strcmp(argv[1], "reopen") == 0) {
		*cmd = argv[1][0] == 'c' ? CMD_CLOSE : CMD_REOPEN;
		return 0;
	}
	if (strcmp(argv[1], "export") != 0)
		return kdc_usage_error("unknown command '%s': the commands are export events, export "
		                       "indicators, snapshot, monthly, close and reopen", argv[1]);
	*argi = 3;
	if (argc >= 3 && strcmp(argv[2], "events") == 0)
		*cmd = CMD_EVENTS;
	else if (argc >= 3 && strcmp(argv[2], "indicators") == 0)
		*cmd = CMD_INDICATORS;
	else
		return kdc_usage_error("export what? events or indicators: kdc-report export events");
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	char *config = NULL;
	enum command cmd = CMD_EVENTS;
	int argi = 3, ret;

	kdc_prog_init("kdc-report");
	/* the scratch database's schema steps and the like are no news here */
	kdc_log_set_level(KDC_LOG_WARNING);
	memset(&c, 0, sizeof c);
	if (kdc_prog_help_version(argc, argv, 1, usage, &ret))
		return ret;
	if ((ret = command(argc, argv, &cmd, &argi)) != 0)
		return ret;
	if ((ret = take_config(&argc, argv, argi, &config)) == 0 &&
	    (ret = kdc_prog_options(opts, &c, argc, argv, &argi, 0)) == 0) {
		c.config = config; /* after the defaults, which would have dropped it */
		config = NULL;
		ret = run(&c, cmd);
	}
	free(config);
	kdc_conf_free(opts, &c);
	return ret;
}
