/* test_stats.c: the ward profile (example loads, mistakes refused with
 * file:line) and the statistics' semantics on hand-made cases: window edges,
 * late events, windows rolling with the clock, target projection, unassigned
 * codes, seq and coalescing, rebuild and automatic rebuild. Real SQLite files,
 * no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "jsonout.h"
#include "profile.h"
#include "stats.h"
#include "stats_testlib.h"

#define DAY 86400000LL
#define HOUR 3600000LL
#define VISIT KDC_KIND_VISIT
#define ACCOUNT KDC_KIND_ACCOUNT
#define PAYMENT KDC_KIND_PAYMENT
#define SERVICE KDC_KIND_SERVICE
#define SURVEYED 1
#define ACCT_PORTAL 1
#define ACCT_PAYMENT 4

static const char *const test_profile =
	"[ward]\ncode = 31975\nname = Phường 1\n"
	"[khom 6]\nhouseholds = 186\npeople_15plus = 520\n"
	"[khom 7]\nname = Khóm Bảy\nhouseholds = 100\npeople_15plus = 300\n"
	"[team T1]\nkhoms = 6\ndevices = D1, D2\n"
	"[team T2]\nkhoms = 7\n";

/* Local (UTC+07:00) time "2026-11-27T10:00:00" as UTC ms. */
static int64_t lt(const char *s)
{
	char buf[64];
	int64_t ms;

	snprintf(buf, sizeof buf, "%sZ", s);
	assert_int_equal(kdc_time_parse(buf, &ms), 0);
	return ms - 7 * HOUR;
}

struct fixture {
	char db_path[512], profile_path[512];
	sqlite3 *db;
	struct kdc_profile *profile;
	kdc_stats *stats;
	struct tl_retained ret;
};

static struct fixture *fx_open(const char *tag, const char *profile_text)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[512];

	assert_non_null(f);
	tl_tmp_path(f->db_path, sizeof f->db_path, tag);
	tl_tmp_path(f->profile_path, sizeof f->profile_path, "profile");
	tl_write_file(f->profile_path, profile_text);
	if (kdc_profile_load(f->profile_path, &f->profile, err, sizeof err) != 0)
		fail_msg("profile: %s", err);
	f->db = tl_db_open(f->db_path);
	f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err);
	if (!f->stats)
		fail_msg("kdc_stats_open: %s", err);
	return f;
}

/* Closes and reopens the statistics (and the database), like a restart. */
static void fx_restart(struct fixture *f)
{
	char err[512];

	kdc_stats_free(f->stats);
	tl_db_close(f->db);
	f->db = tl_db_open(f->db_path);
	f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err);
	if (!f->stats)
		fail_msg("kdc_stats_open after restart: %s", err);
}

static void fx_close(struct fixture *f)
{
	kdc_stats_free(f->stats);
	tl_db_close(f->db);
	kdc_profile_free(f->profile);
	tl_retained_free(&f->ret);
	remove(f->db_path);
	remove(f->profile_path);
	free(f);
}

static void fx_add(struct fixture *f, struct kdc_event_row r)
{
	assert_int_equal(tl_ingest(f->db, f->stats, &r, 1), 1);
}

static size_t fx_publish(struct fixture *f, int64_t now, int64_t min_interval)
{
	size_t before = f->ret.emitted;

	assert_int_equal(kdc_stats_publish(f->stats, now, min_interval, tl_emit, &f->ret), 0);
	assert_int_equal(f->ret.seq_errors, 0);
	return f->ret.emitted - before;
}

/* Parsed retained snapshot of a scope (caller deletes). */
static cJSON *fx_get(struct fixture *f, const char *key)
{
	const char *json = tl_get(&f->ret, key);

	if (!json)
		fail_msg("no snapshot was emitted for %s", key);
	return tl_parse_numbers(json);
}

static struct kdc_event_row visit(int64_t t, const char *hh)
{
	return tl_row(t, "6", "T1", "D1", hh, 0, VISIT, SURVEYED, 0);
}

/* ---- profile --------------------------------------------------------------- */

/* The programme's four targets: the defaults of a profile without a
 * [target ...] section, and what the example profile writes out. */
static void assert_programme_targets(const struct kdc_profile *p)
{
	static const struct {
		int indicator;
		long long percent_x100;
		const char *deadline;
	} want[] = {
		{ KDC_IND_HOUSEHOLDS_REACHED, 8500, "2023-12-31" },
		{ KDC_IND_PEOPLE_PAYING_REGULARLY, 8000, "2025-12-31" },
		{ KDC_IND_SERVICE_USERS_E_IDENTIFIED, 10000, "2025-12-31" },
		{ KDC_IND_BUSINESSES_USING_EINVOICE, 10000, "2025-12-31" },
	};

	assert_int_equal(p->ntargets, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(p->targets[i].indicator, want[i].indicator);
		assert_int_equal(p->targets[i].percent_x100, want[i].percent_x100);
		assert_string_equal(p->targets[i].deadline, want[i].deadline);
	}
}

static void test_profile_example_loads(void **state)
{
	struct kdc_profile *p = NULL;
	char err[512];

	(void)state;
	if (kdc_profile_load(KDC_SOURCE_DIR "/deploy/ward-profile.example.ini", &p, err, sizeof err) != 0)
		fail_msg("the example profile is refused: %s", err);
	assert_string_equal(p->ward, "31975");
	assert_int_equal(p->utc_offset_min, 420);
	assert_int_equal(p->regular_window_days, 30);
	assert_int_equal(p->nkhoms, 1);
	assert_string_equal(p->khoms[0].code, "6");
	assert_string_equal(p->khoms[0].name, "Khóm 6");
	assert_int_equal(p->khoms[0].households, 186);
	assert_int_equal(p->khoms[0].people_15plus, 520);
	assert_int_equal(p->nteams, 1);
	assert_string_equal(p->teams[0].code, "T1");
	assert_int_equal(p->teams[0].nkhoms, 1);
	assert_int_equal(p->teams[0].khoms[0], 0);
	assert_int_equal(p->teams[0].ndevices, 3);
	assert_programme_targets(p);
	kdc_profile_free(p);
}

static void test_profile_defaults(void **state)
{
	struct kdc_profile *p = NULL;
	char path[512], err[512];

	(void)state;
	tl_tmp_path(path, sizeof path, "profile-min");
	tl_write_file(path, "[ward]\ncode = 31975\n[target households_visited]\npercent = 99.5\n"
	                    "deadline = 2024-02-29\n[settings]\nregular_window_days = 14\n");
	if (kdc_profile_load(path, &p, err, sizeof err) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(p->ward_name, "31975");
	assert_int_equal(p->ntargets, 1);
	assert_int_equal(p->targets[0].indicator, KDC_IND_HOUSEHOLDS_VISITED);
	assert_int_equal(p->targets[0].percent_x100, 9950);
	assert_int_equal(p->regular_window_days, 14);
	kdc_profile_free(p);
	/* without any [target ...] section: the programme's four */
	tl_write_file(path, "[ward]\ncode = 31975\n");
	if (kdc_profile_load(path, &p, err, sizeof err) != 0)
		fail_msg("refused: %s", err);
	assert_programme_targets(p);
	kdc_profile_free(p);
	remove(path);
}

struct bad_case {
	const char *text;
	int line;            /* 0: the error names no line */
	const char *reason;  /* part of the message */
};

static void test_profile_bad_refused_with_line(void **state)
{
	static const struct bad_case cases[] = {
		{ "[ward]\ncode = 31975\n[khom 6]\nhouseholds = 18b\npeople_15plus = 5\n", 4,
		  "households must be a whole number" },
		{ "[ward]\ncode = 31975\n[team T1]\nkhoms = 6\n", 4, "khóm 6, which has no [khom 6]" },
		{ "[ward]\ncode = bad code\n", 2, "is not a code" },
		{ "[ward]\ncode = 1\n[target households_reached]\npercent = 120\ndeadline = 2023-12-31\n", 4,
		  "percent must be" },
		{ "[ward]\ncode = 1\n[target households_reached]\npercent = 85\ndeadline = 2023-02-30\n", 5,
		  "deadline must be a date" },
		{ "[ward]\ncode = 1\n[target households_reached]\npercent = 85\n", 4, "needs both" },
		{ "[ward]\ncode = 1\n[target happiness]\npercent = 85\n", 4, "unknown indicator" },
		{ "[wards]\ncode = 1\n", 2, "unknown section [wards]" },
		{ "[ward]\ncode = 1\n[khom 6]\nhouses = 3\n", 4, "unknown key 'houses'" },
		{ "[ward]\ncode = 1\ncode = 2\n", 3, "given twice" },
		{ "[ward]\ncode = 1\n\n[khom 6]\npeople_15plus = 5\n", 5, "needs households" },
		{ "code = 1\n", 1, "outside any section" },
		{ "[ward]\ncode = 1\n[settings]\nregular_window_days = 0\n", 4, "regular_window_days" },
		{ "[ward]\ncode = 1\nutc_offset = +25:00\n", 3, "utc_offset" },
		{ "[ward]\ncode = 1\n[khom 6]\nhouseholds = -1\npeople_15plus = 1\n", 4, "households" },
		{ "[ward]\ncode = 1\n[khom 6]\nhouseholds = 1\npeople_15plus = 1\n[khom 7]\nhouseholds = 1\n"
		  "[khom 6]\nname = again\n", 9, "described twice" },
		{ "[ward]\ncode = 1\n[khom 6]\nhouseholds = 1\npeople_15plus = 1\n[team T1]\nkhoms = 6 6\n", 7,
		  "listed twice" },
		{ "[khom 6]\nhouseholds = 1\npeople_15plus = 1\n", 0, "missing [ward] code" },
	};
	char path[512];

	(void)state;
	tl_tmp_path(path, sizeof path, "profile-bad");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct kdc_profile *p = (struct kdc_profile *)1;
		char err[512], prefix[600];
		int rc;

		tl_write_file(path, cases[i].text);
		rc = kdc_profile_load(path, &p, err, sizeof err);
		if (rc != KDC_ERR_CONFIG)
			fail_msg("case %zu: expected KDC_ERR_CONFIG, got %d (%s)", i, rc, rc ? err : "accepted");
		assert_null(p);
		if (cases[i].line)
			snprintf(prefix, sizeof prefix, "%s:%d: ", path, cases[i].line);
		else
			snprintf(prefix, sizeof prefix, "%s: ", path);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, cases[i].reason))
			fail_msg("case %zu: expected \"%s...%s...\", got \"%s\"", i, prefix, cases[i].reason, err);
	}
	remove(path);
}

/* ---- windows ---------------------------------------------------------------- */

static void test_window_edges(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("edges", test_profile);
	cJSON *w;

	(void)state;
	fx_add(f, visit(now - 30 * DAY, "A"));                 /* exactly 30 days old: out */
	fx_add(f, visit(lt("2026-10-29T00:00:00"), "B"));      /* first ms of the oldest day: in */
	fx_add(f, visit(lt("2026-10-28T23:59:59.999"), "C"));  /* last ms before it: out */
	fx_add(f, visit(now - 7 * DAY, "D"));                  /* exactly 7 days old: out of 7 d */
	fx_add(f, visit(lt("2026-11-21T00:00:00"), "E"));      /* oldest day of 7 d: in */
	fx_add(f, visit(now - 24 * HOUR, "F"));                /* exactly 24 h old: out of 24 h */
	fx_add(f, visit(now - 23 * HOUR, "G"));                /* oldest hour of 24 h: in */
	fx_add(f, visit(now, "H"));
	fx_add(f, visit(now + 20 * HOUR, "I"));                /* device clock ahead: tomorrow */
	{
		/* uploaded now but 61 days old: in the totals, in no window */
		struct kdc_event_row old = visit(now - 61 * DAY, "J");
		old.received_ms = now;
		fx_add(f, old);
	}
	fx_publish(f, now, 1000);

	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "events.visit.24h"), 2);   /* G H */
	assert_int_equal(tl_int(w, "events.visit.7d"), 4);    /* E F G H */
	assert_int_equal(tl_int(w, "events.visit.30d"), 6);   /* B D E F G H */
	assert_int_equal(tl_int(w, "events.visit.total"), 10);
	assert_string_equal(tl_str(w, "series.start"), "2026-09-29");
	assert_int_equal(tl_int(w, "series.days"), 60);
	assert_int_equal(tl_int(w, "series.visit.29"), 2);    /* 2026-10-28: A C */
	assert_int_equal(tl_int(w, "series.visit.30"), 1);    /* 2026-10-29: B */
	assert_int_equal(tl_int(w, "series.visit.52"), 1);    /* 2026-11-20: D */
	assert_int_equal(tl_int(w, "series.visit.53"), 1);    /* 2026-11-21: E */
	assert_int_equal(tl_int(w, "series.visit.58"), 2);    /* 2026-11-26: F G */
	assert_int_equal(tl_int(w, "series.visit.59"), 1);    /* today: H */
	assert_int_equal(tl_int(w, "households.visited"), 10);
	assert_int_equal(tl_int(w, "series.visit.0"), 0);
	assert_string_equal(tl_str(w, "latest_event"), "2026-11-27T23:00:00.000Z");
	cJSON_Delete(w);

	/* a late upload for 10 days ago: 30 d and the series move, 24 h and 7 d do not */
	{
		struct kdc_event_row late = visit(now - 10 * DAY, "late");
		late.received_ms = now;
		fx_add(f, late);
	}
	assert_int_equal(fx_publish(f, now + 1000, 1000), 3); /* ward, khom 6, team T1 */
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "events.visit.24h"), 2);
	assert_int_equal(tl_int(w, "events.visit.7d"), 4);
	assert_int_equal(tl_int(w, "events.visit.30d"), 7);
	assert_int_equal(tl_int(w, "events.visit.total"), 11);
	assert_int_equal(tl_int(w, "series.visit.49"), 1);    /* 2026-11-17 */
	cJSON_Delete(w);
	fx_close(f);
}

static void test_windows_roll_with_the_clock(void **state)
{
	const int64_t now = lt("2026-11-27T10:30:00");
	struct fixture *f = fx_open("roll", test_profile);
	cJSON *w;

	(void)state;
	fx_add(f, tl_row(now - 40 * DAY, "6", "T1", "D1", "H1", 1, ACCOUNT, ACCT_PAYMENT, 0));
	fx_add(f, tl_row(now, "6", "T1", "D1", "H1", 1, PAYMENT, 1, 150000));
	fx_add(f, visit(now, "H1"));
	fx_publish(f, now, 1000);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "events.visit.24h"), 1);
	assert_int_equal(tl_int(w, "people_15plus.paying_regularly"), 1);
	assert_int_equal(tl_int(w, "payments.count_30d"), 1);
	assert_int_equal(tl_int(w, "payments.amount_vnd_30d"), 150000);
	cJSON_Delete(w);

	/* nothing new, 40 s later: same numbers, nothing emitted */
	assert_int_equal(fx_publish(f, now + 40000, 1000), 0);
	/* 24 h later (next hour boundary passed): out of 24 h, still in 7 d */
	assert_true(fx_publish(f, now + 24 * HOUR, 1000) > 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "events.visit.24h"), 0);
	assert_int_equal(tl_int(w, "events.visit.7d"), 1);
	assert_int_equal(tl_int(w, "series.visit.58"), 1);    /* moved one day left */
	cJSON_Delete(w);
	/* 7 days later: out of 7 d */
	fx_publish(f, now + 7 * DAY, 1000);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "events.visit.7d"), 0);
	assert_int_equal(tl_int(w, "events.visit.30d"), 1);
	assert_int_equal(tl_int(w, "people_15plus.paying_regularly"), 1);
	cJSON_Delete(w);
	/* 29 days later the payment is still in the 30-day window, 30 days later not */
	fx_publish(f, now + 29 * DAY, 1000);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "people_15plus.paying_regularly"), 1);
	assert_int_equal(tl_int(w, "payments.count_30d"), 1);
	cJSON_Delete(w);
	assert_true(fx_publish(f, now + 30 * DAY, 1000) > 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "people_15plus.paying_regularly"), 0);
	assert_int_equal(tl_int(w, "people_15plus.with_payment_account"), 1);
	assert_int_equal(tl_int(w, "payments.count_30d"), 0);
	assert_int_equal(tl_int(w, "payments.amount_vnd_30d"), 0);
	assert_int_equal(tl_int(w, "payments.count_total"), 1);
	assert_int_equal(tl_int(w, "payments.amount_vnd_total"), 150000);
	assert_int_equal(tl_int(w, "events.visit.30d"), 0);
	assert_int_equal(tl_int(w, "events.visit.total"), 1);
	cJSON_Delete(w);
	fx_close(f);
}

/* ---- targets ---------------------------------------------------------------- */

static void test_target_projection(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("projection", test_profile);
	const cJSON *t;
	cJSON *k;
	char hh[16], want[16];
	int i;

	(void)state;
	/* 19 households reached 40 days ago and one on the last day before the
	 * pace window: 20 at the start of the window. 60 more within it. */
	for (i = 0; i < 19; i++) {
		snprintf(hh, sizeof hh, "old%d", i);
		fx_add(f, tl_row(now - 40 * DAY, "6", "T1", "D1", hh, 1, ACCOUNT, ACCT_PORTAL, 0));
	}
	fx_add(f, tl_row(lt("2026-10-28T23:59:59.999"), "6", "T1", "D1", "edge", 1, ACCOUNT, ACCT_PORTAL, 0));
	for (i = 0; i < 60; i++) {
		snprintf(hh, sizeof hh, "new%d", i);
		fx_add(f, tl_row(now - (i % 30) * DAY, "6", "T1", "D2", hh, 1, ACCOUNT, ACCT_PORTAL, 0));
	}
	/* a second account in an old household does not make it new again */
	fx_add(f, tl_row(now, "6", "T1", "D1", "old0", 2, ACCOUNT, ACCT_PORTAL, 0));
	/* people: 10 account holders paid 35 days ago (regular 30 days ago),
	 * 40 others paid 5 days ago (regular now) */
	for (i = 1; i <= 50; i++) {
		snprintf(hh, sizeof hh, "p%d", i);
		fx_add(f, tl_row(now - 45 * DAY, "6", "T1", "D1", hh, 1, ACCOUNT, ACCT_PAYMENT, 0));
		fx_add(f, tl_row(now - (i <= 10 ? 35 : 5) * DAY, "6", "T1", "D1", hh, 1, PAYMENT, 2, 1000));
	}
	/* paid long ago but opened the account only recently: neither then nor now */
	fx_add(f, tl_row(now - 5 * DAY, "6", "T1", "D1", "late-acct", 1, ACCOUNT, ACCT_PAYMENT, 0));
	fx_add(f, tl_row(now - 35 * DAY, "6", "T1", "D1", "late-acct", 1, PAYMENT, 2, 1000));
	/* paid but no payment account recorded: never "paying regularly" */
	fx_add(f, tl_row(now, "6", "T1", "D1", "no-acct", 1, PAYMENT, 2, 1000));
	fx_publish(f, now, 1000);

	k = fx_get(f, "khom/6");
	assert_int_equal(tl_int(k, "households.total"), 186);
	assert_int_equal(tl_int(k, "households.reached"), 80 + 51);
	cJSON_Delete(k);

	/* the same without the people's households, in a khóm of its own */
	fx_close(f);
	f = fx_open("projection2", test_profile);
	for (i = 0; i < 19; i++) {
		snprintf(hh, sizeof hh, "old%d", i);
		fx_add(f, tl_row(now - 40 * DAY, "6", "T1", "D1", hh, 1, ACCOUNT, ACCT_PORTAL, 0));
	}
	fx_add(f, tl_row(lt("2026-10-28T23:59:59.999"), "6", "T1", "D1", "edge", 1, ACCOUNT, ACCT_PORTAL, 0));
	for (i = 0; i < 60; i++) {
		snprintf(hh, sizeof hh, "new%d", i);
		fx_add(f, tl_row(now - (i % 30) * DAY, "6", "T1", "D2", hh, 1, ACCOUNT, ACCT_PORTAL, 0));
	}
	fx_add(f, tl_row(now, "6", "T1", "D1", "old0", 2, ACCOUNT, ACCT_PORTAL, 0));
	for (i = 1; i <= 50; i++) {
		snprintf(hh, sizeof hh, "p%d", i);
		fx_add(f, tl_row(now - 45 * DAY, "7", "T2", "D3", hh, 1, ACCOUNT, ACCT_PAYMENT, 0));
		fx_add(f, tl_row(now - (i <= 10 ? 35 : 5) * DAY, "7", "T2", "D3", hh, 1, PAYMENT, 2, 1000));
	}
	fx_add(f, tl_row(now - 5 * DAY, "7", "T2", "D3", "late-acct", 1, ACCOUNT, ACCT_PAYMENT, 0));
	fx_add(f, tl_row(now - 35 * DAY, "7", "T2", "D3", "late-acct", 1, PAYMENT, 2, 1000));
	fx_add(f, tl_row(now, "7", "T2", "D3", "no-acct", 1, PAYMENT, 2, 1000));
	fx_publish(f, now, 1000);

	/* households reached in khóm 6: 80 of 186, 60 gained in 30 days.
	 * 85% of 186 = 158.1 -> 159 needed; 79 more at 2 a day = 39.5 -> 40 days */
	k = fx_get(f, "khom/6");
	t = tl_target(k, "households_reached");
	assert_non_null(t);
	assert_int_equal(tl_int(t, "value"), 80);
	assert_int_equal(tl_int(t, "denominator"), 186);
	assert_int_equal(tl_int(t, "gained_30d"), 60);
	assert_int_equal(tl_int(t, "percent"), 85);
	assert_string_equal(tl_str(t, "deadline"), "2023-12-31");
	assert_true(cJSON_GetObjectItem(t, "current")->valuedouble > 43.005 &&
	            cJSON_GetObjectItem(t, "current")->valuedouble < 43.015);
	assert_string_equal(tl_str(t, "projected"), "2027-01-06");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "on_track")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "met")));
	/* nobody pays in khóm 6: no pace, no projection */
	t = tl_target(k, "people_paying_regularly");
	assert_non_null(t);
	assert_int_equal(tl_int(t, "value"), 0);
	assert_null(tl_str(t, "projected"));
	cJSON_Delete(k);

	/* people paying regularly in khóm 7: 40 now, 10 thirty days ago (the
	 * late account holder counts in neither); 80% of 300 = 240 needed;
	 * 200 more at 1 a day = 200 days */
	k = fx_get(f, "khom/7");
	assert_int_equal(tl_int(k, "people_15plus.with_payment_account"), 51);
	assert_int_equal(tl_int(k, "people_15plus.paying_regularly"), 40);
	t = tl_target(k, "people_paying_regularly");
	assert_int_equal(tl_int(t, "value"), 40);
	assert_int_equal(tl_int(t, "denominator"), 300);
	assert_int_equal(tl_int(t, "gained_30d"), 30);
	kdc_day_format(kdc_local_day(now, 420) + 200, want, sizeof want);
	assert_string_equal(tl_str(t, "projected"), want);
	cJSON_Delete(k);

	/* the ward adds both khóms up: 80 of 286 households, 40 of 820 people */
	k = fx_get(f, "ward");
	assert_int_equal(tl_int(k, "households.total"), 286);
	assert_int_equal(tl_int(k, "people_15plus.total"), 820);
	t = tl_target(k, "people_paying_regularly");
	assert_int_equal(tl_int(t, "value"), 40);
	assert_int_equal(tl_int(t, "gained_30d"), 30);
	cJSON_Delete(k);
	fx_close(f);
}

static void test_target_met_and_unreachable(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("met", "[ward]\ncode = 31975\n[khom 6]\nhouseholds = 4\npeople_15plus = 8\n"
	                                   "[khom 7]\nhouseholds = 100000\npeople_15plus = 8\n"
	                                   "[target households_reached]\npercent = 50\ndeadline = 2027-01-01\n");
	const cJSON *t;
	cJSON *k;

	(void)state;
	fx_add(f, tl_row(now - DAY, "6", "T1", "D1", "a", 1, ACCOUNT, ACCT_PORTAL, 0));
	fx_add(f, tl_row(now - DAY, "6", "T1", "D1", "b", 1, ACCOUNT, ACCT_PORTAL, 0));
	/* one household a month in a khóm of 100,000: 50,000 needed, ~4,000 years */
	fx_add(f, tl_row(now - DAY, "7", "T1", "D1", "a", 1, ACCOUNT, ACCT_PORTAL, 0));
	fx_publish(f, now, 1000);
	k = fx_get(f, "khom/6");
	t = tl_target(k, "households_reached");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "met")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "on_track")));
	assert_string_equal(tl_str(t, "projected"), "2026-11-27");
	assert_null(tl_target(k, "people_paying_regularly")); /* the file's targets replace the defaults */
	cJSON_Delete(k);
	k = fx_get(f, "khom/7");
	t = tl_target(k, "households_reached");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "met")));
	assert_null(tl_str(t, "projected"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "on_track")));
	cJSON_Delete(k);
	fx_close(f);
}

/* ---- scopes, seq, coalescing -------------------------------------------------- */

/* A target's `current` is rounded down at two decimals: 16999 of 20000
 * (84.995 %) is below 85 % and must not read 85.00; 158 of 186 (84.946 %)
 * reads 84.94, not 84.95 that a viewer would round again to 85. */
static void test_target_current_never_rounds_up(void **state)
{
	static const struct { int64_t value, denom; const char *current; int met; } cases[] = {
		{ 16999, 20000, "84.99", 0 }, { 158, 186, "84.94", 0 }, { 17000, 20000, "85.00", 1 },
		{ 159, 186, "85.48", 1 }, { 1, 3, "33.33", 0 }, { 2, 3, "66.66", 0 },
	};
	/* 2026-12-31 is day 20818 */
	const struct kdc_profile_target t = { KDC_IND_HOUSEHOLDS_REACHED, 8500, "2026-12-31", 20818 };

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *o = cJSON_CreateObject();
		char *s;

		assert_non_null(o);
		kdc_json_target(o, &t, cases[i].value, cases[i].denom, 0, 0, t.deadline_day - 30);
		s = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "current"));
		assert_non_null(s);
		if (strcmp(s, cases[i].current) != 0)
			fail_msg("%lld of %lld: current %s, expected %s", (long long)cases[i].value,
			         (long long)cases[i].denom, s, cases[i].current);
		assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(o, "met")), cases[i].met);
		cJSON_free(s);
		cJSON_Delete(o);
	}
}

static void test_unassigned_codes(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("unassigned", test_profile);
	cJSON *k;

	(void)state;
	fx_add(f, tl_row(now, "9", "TX", "D9", "H1", 0, VISIT, SURVEYED, 0));
	fx_add(f, tl_row(now, "9", "TX", "D9", "H1", 1, ACCOUNT, ACCT_PORTAL, 0));
	fx_publish(f, now, 1000);
	k = fx_get(f, "khom/9");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(k, "unassigned")));
	assert_int_equal(tl_int(k, "households.total"), 0);
	assert_int_equal(tl_int(k, "households.reached"), 1);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(tl_target(k, "households_reached"), "current")));
	cJSON_Delete(k);
	k = fx_get(f, "team/TX");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(k, "unassigned")));
	assert_int_equal(tl_int(k, "stored_total"), 2);
	assert_string_equal(tl_str(k, "devices.0.device"), "D9");
	cJSON_Delete(k);
	k = fx_get(f, "khom/6");                /* known khóm, no events: still published */
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(k, "unassigned")));
	assert_int_equal(tl_int(k, "stored_total"), 0);
	assert_string_equal(tl_str(k, "name"), "Khóm 6");
	cJSON_Delete(k);
	k = fx_get(f, "team/T1");               /* its devices show before their first event */
	assert_string_equal(tl_str(k, "devices.0.device"), "D1");
	assert_null(tl_str(k, "devices.0.last_event"));
	assert_int_equal(tl_int(k, "devices.1.events"), 0);
	cJSON_Delete(k);
	k = fx_get(f, "ward");
	assert_int_equal(tl_int(k, "households.reached"), 1);
	assert_int_equal(tl_int(k, "households.total"), 286);
	assert_int_equal(tl_int(k, "stored_total"), 2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(k, "id")));
	assert_string_equal(tl_str(k, "ward"), "31975");
	assert_string_equal(tl_str(k, "ward_name"), "Phường 1");
	cJSON_Delete(k);
	fx_close(f);
}

static long long seq_of(struct fixture *f, const char *key)
{
	cJSON *root = cJSON_Parse(tl_get(&f->ret, key));
	long long v = tl_int(root, "seq");

	cJSON_Delete(root);
	return v;
}

static void test_seq_and_coalescing(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("seq", test_profile);

	(void)state;
	assert_int_equal(fx_publish(f, now, 1000), 5);        /* ward, 2 khóms, 2 teams */
	assert_int_equal(seq_of(f, "ward"), 1);
	fx_add(f, visit(now, "H1"));
	assert_int_equal(fx_publish(f, now + 100, 1000), 0);  /* coalesced */
	fx_add(f, visit(now, "H2"));
	assert_int_equal(fx_publish(f, now + 999, 1000), 0);
	assert_int_equal(fx_publish(f, now + 1000, 1000), 3); /* ward, khom 6, team T1 */
	assert_int_equal(seq_of(f, "ward"), 2);
	assert_int_equal(seq_of(f, "khom/7"), 1);
	assert_int_equal(fx_publish(f, now + 5000, 1000), 0); /* nothing changed */
	fx_restart(f);
	/* after a restart every scope is published at once, seq going on */
	assert_int_equal(fx_publish(f, now + 6000, 1000), 5);
	assert_int_equal(seq_of(f, "ward"), 3);
	assert_int_equal(seq_of(f, "khom/7"), 2);
	{
		cJSON *w = fx_get(f, "ward");
		assert_int_equal(tl_int(w, "households.visited"), 2);
		cJSON_Delete(w);
	}
	/* a rebuild publishes every scope again, seq still going on */
	assert_int_equal(kdc_stats_rebuild(f->stats), 0);
	assert_int_equal(fx_publish(f, now + 7000, 1000), 5);
	assert_int_equal(seq_of(f, "ward"), 4);
	/* unchanged numbers: quiet for a minute, then republished (heartbeat) */
	assert_int_equal(fx_publish(f, now + 7000 + 59000, 1000), 0);
	assert_int_equal(fx_publish(f, now + 7000 + 60000, 1000), 5);
	assert_int_equal(seq_of(f, "ward"), 5);
	fx_close(f);
}

static void test_rejected_total(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("rejected", test_profile);
	cJSON *w;

	(void)state;
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	tl_store_rejected(f->db, now);
	tl_store_rejected(f->db, now);
	assert_int_equal(kdc_stats_rejected(f->stats, 2), 0);
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	/* a batch that rolls back does not count */
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	tl_store_rejected(f->db, now);
	assert_int_equal(kdc_stats_rejected(f->stats, 1), 0);
	assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	fx_publish(f, now, 0);
	w = fx_get(f, "khom/7");
	assert_int_equal(tl_int(w, "rejected_total"), 2);
	cJSON_Delete(w);
	assert_int_equal(kdc_stats_rebuild(f->stats), 0);
	fx_publish(f, now + 1000, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "rejected_total"), 2);
	cJSON_Delete(w);
	fx_close(f);
}

/* ---- rebuild ---------------------------------------------------------------- */

static void test_open_rebuilds_when_tables_are_new(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("autorebuild", test_profile);
	struct kdc_event_row r = tl_row(lt("2026-11-27T03:00:00"), "6", "T1", "D1", "H1", 0, VISIT, SURVEYED, 0);
	struct kdc_profile *utc;
	char err[512];
	cJSON *w;

	(void)state;
	/* events stored without statistics (a database from before them) */
	kdc_stats_free(f->stats);
	assert_int_equal(sqlite3_exec(f->db, "DROP TABLE st_meta; DROP TABLE st_scope; DROP TABLE st_day;"
	                              "DROP TABLE st_hour; DROP TABLE st_device; DROP TABLE st_household;"
	                              "DROP TABLE st_person; DROP TABLE st_payday; DROP TABLE st_hist;",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(tl_store(f->db, &r), 1);
	f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err);
	assert_non_null(f->stats);
	fx_publish(f, now, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "households.visited"), 1);
	assert_int_equal(tl_int(w, "series.visit.59"), 1);   /* 03:00 local is today */
	cJSON_Delete(w);

	/* the same database under a profile in UTC: 03:00+07 is yesterday there */
	kdc_stats_free(f->stats);
	utc = kdc_profile_new_default("31975");
	assert_non_null(utc);
	utc->utc_offset_min = 0;
	f->stats = kdc_stats_open(f->db, utc, err, sizeof err);
	assert_non_null(f->stats);
	fx_publish(f, now, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "series.visit.58"), 1);
	assert_int_equal(tl_int(w, "series.visit.59"), 0);
	cJSON_Delete(w);
	kdc_stats_free(f->stats);
	f->stats = NULL;
	kdc_profile_free(utc);
	fx_close(f);
}

/* Statistics of schema 2 (before the service users and businesses): st_scope
 * gets its new columns and keeps its seq, st_person is made anew, and the
 * figures are recomputed from the stored events at open. */
static void test_schema_2_is_migrated(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("schema2", test_profile);
	struct kdc_event_row r = tl_row(lt("2026-11-27T03:00:00"), "6", "T1", "D1", "H1", 1, SERVICE, 1, 0);
	char err[512];
	long long seq;
	cJSON *w;

	(void)state;
	r.flags = KDC_FLAG_VNEID;
	tl_ingest(f->db, f->stats, &r, 1);
	fx_publish(f, now, 0);
	seq = seq_of(f, "ward");
	kdc_stats_free(f->stats);
	assert_int_equal(sqlite3_exec(f->db,
		"CREATE TABLE old AS SELECT sid, kind, code, seq, ev_visit, ev_account, ev_payment,"
		" ev_service, pay_amount, hh_visited, hh_surveyed, hh_reached, acct_portal, acct_vneid,"
		" acct_app, acct_payment, latest_ms FROM st_scope; DROP TABLE st_scope;"
		"ALTER TABLE old RENAME TO st_scope; DROP TABLE st_person; DROP TABLE st_useday;"
		"CREATE TABLE st_person(pid INTEGER PRIMARY KEY, sid INTEGER NOT NULL, khom TEXT NOT NULL,"
		" household TEXT NOT NULL, member INTEGER NOT NULL, accounts INTEGER NOT NULL,"
		" acct_pay_day INTEGER, last_pay_day INTEGER, UNIQUE(sid, khom, household, member));"
		"UPDATE st_meta SET value = 2 WHERE key = 'schema';", NULL, NULL, NULL), SQLITE_OK);
	f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err);
	if (!f->stats)
		fail_msg("kdc_stats_open of a schema 2 database: %s", err);
	fx_publish(f, now, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "service_users.total"), 1);
	assert_int_equal(tl_int(w, "service_users.e_identified"), 1);
	cJSON_Delete(w);
	assert_int_equal(seq_of(f, "ward"), seq + 1);
	fx_close(f);
}

/* The statistics cache what they wrote; another program changing the
 * database meanwhile (kdc-aggregator forget run next to the daemon: deletes a
 * household's events and rebuilds) must not leave the cache saying that the
 * household was already visited. */
static void test_other_connection_changes_are_seen(void **state)
{
	const int64_t now = lt("2026-11-27T10:00:00");
	struct fixture *f = fx_open("otherconn", test_profile);
	sqlite3 *db2;
	kdc_stats *s2;
	char err[512];
	cJSON *w;

	(void)state;
	fx_add(f, visit(lt("2026-11-26T09:00:00"), "H1"));
	fx_add(f, tl_row(lt("2026-11-26T09:10:00"), "6", "T1", "D1", "H1", 1, ACCOUNT, ACCT_PAYMENT, 0));
	fx_publish(f, now, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "households.visited"), 1);
	assert_int_equal(tl_int(w, "households.reached"), 1);
	cJSON_Delete(w);

	/* another connection forgets H1 and rebuilds */
	db2 = tl_db_open(f->db_path);
	s2 = kdc_stats_open(db2, f->profile, err, sizeof err);
	if (!s2)
		fail_msg("second kdc_stats_open: %s", err);
	assert_int_equal(sqlite3_exec(db2, "BEGIN IMMEDIATE; DELETE FROM events WHERE household = 'H1'",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(kdc_stats_rebuild(s2), 0);
	assert_int_equal(sqlite3_exec(db2, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	kdc_stats_free(s2);
	tl_db_close(db2);

	/* H1 visited again: counted once more, as a rebuild would */
	fx_add(f, visit(lt("2026-11-27T08:00:00"), "H1"));
	fx_publish(f, now + 1000, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "households.visited"), 1);
	assert_int_equal(tl_int(w, "households.reached"), 0);
	assert_int_equal(tl_int(w, "people_15plus.with_payment_account"), 0);
	cJSON_Delete(w);
	assert_int_equal(kdc_stats_rebuild(f->stats), 0);
	fx_publish(f, now + 2000, 0);
	w = fx_get(f, "ward");
	assert_int_equal(tl_int(w, "households.visited"), 1);
	assert_int_equal(tl_int(w, "households.reached"), 0);
	cJSON_Delete(w);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_example_loads),
		cmocka_unit_test(test_profile_defaults),
		cmocka_unit_test(test_profile_bad_refused_with_line),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_windows_roll_with_the_clock),
		cmocka_unit_test(test_target_projection),
		cmocka_unit_test(test_target_met_and_unreachable),
		cmocka_unit_test(test_target_current_never_rounds_up),
		cmocka_unit_test(test_unassigned_codes),
		cmocka_unit_test(test_seq_and_coalescing),
		cmocka_unit_test(test_rejected_total),
		cmocka_unit_test(test_open_rebuilds_when_tables_are_new),
		cmocka_unit_test(test_schema_2_is_migrated),
		cmocka_unit_test(test_other_connection_changes_are_seen),
	};

	kdc_log_set_level(KDC_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
