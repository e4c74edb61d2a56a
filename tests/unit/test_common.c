/* test_common.c: UUIDv7 order, time text (and times as people type them),
 * strict numbers, INI errors with file:line, option tables shared by files and
 * flags, and the hints they give for mistyped names and grouped numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_util.h"

static void test_uuid7_is_ordered_and_versioned(void **state)
{
	uint8_t prev[16], id[16];
	char text[KDC_UUID_STR_LEN];
	uint8_t back[16];

	assert_int_equal(kdc_uuid7(prev, 1000), KDC_OK);
	for (int i = 0; i < 20000; i++) {
		/* same millisecond many times, and once a clock step backwards */
		assert_int_equal(kdc_uuid7(id, i == 10000 ? 900 : 1000 + i / 5000), KDC_OK);
		assert_true(memcmp(prev, id, 16) < 0);
		assert_int_equal(id[6] >> 4, 7);       /* version 7 */
		assert_int_equal(id[8] >> 6, 2);       /* RFC variant */
		memcpy(prev, id, 16);
	}
	kdc_uuid_format(id, text);
	assert_int_equal(strlen(text), 36);
	assert_int_equal(kdc_uuid_parse(text, back), KDC_OK);
	assert_memory_equal(back, id, 16);
	assert_int_equal(kdc_uuid_parse("xyz", back), KDC_ERR_INVAL);
	assert_true(kdc_uuid7_ms(id) >= 1003);
}

static void test_time_text(void **state)
{
	int64_t ms;
	char buf[32];

	assert_int_equal(kdc_time_parse("2023-12-31", &ms), KDC_OK);
	assert_int_equal(ms, 1703980800000LL);
	assert_int_equal(kdc_time_parse("2026-11-27T08:30:00Z", &ms), KDC_OK);
	kdc_time_format(ms, buf, sizeof buf);
	assert_string_equal(buf, "2026-11-27T08:30:00.000Z");
	assert_int_equal(kdc_time_parse("2026-11-27T08:30:05.25Z", &ms), KDC_OK);
	assert_int_equal(ms % 1000, 250);
	assert_int_equal(kdc_time_parse("2026-02-31", &ms), KDC_ERR_INVAL);
	assert_int_equal(kdc_time_parse("27/11/2026", &ms), KDC_ERR_INVAL);
	assert_int_equal(kdc_time_parse("2026-11-27x", &ms), KDC_ERR_INVAL);
}

static void test_parse_ll_is_strict(void **state)
{
	long long v;

	assert_int_equal(kdc_parse_ll("42", 0, 100, &v), KDC_OK);
	assert_int_equal(v, 42);
	assert_int_equal(kdc_parse_ll("101", 0, 100, &v), KDC_ERR_INVAL);
	assert_int_equal(kdc_parse_ll("4x", 0, 100, &v), KDC_ERR_INVAL);
	assert_int_equal(kdc_parse_ll("", 0, 100, &v), KDC_ERR_INVAL);
	assert_int_equal(kdc_parse_ll("99999999999999999999", 0, 100, &v), KDC_ERR_INVAL);
}

struct cfg {
	char *name;
	long long count;
	int flag;
	char *config;
};

static const struct kdc_opt cfg_opts[] = {
	{ "name", KDC_OPT_STR, offsetof(struct cfg, name), 0, 0, "anon", "a name" },
	{ "count", KDC_OPT_INT, offsetof(struct cfg, count), 1, 1000, "10", "a count" },
	{ "flag", KDC_OPT_BOOL, offsetof(struct cfg, flag), 0, 0, "false", "a flag" },
	{ "config", KDC_OPT_STR, offsetof(struct cfg, config), 0, 0, NULL, "config file" },
	KDC_OPT_END
};

static char *write_tmp(const char *name, const char *text)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char *path = malloc(512);
	FILE *f;

	assert_non_null(path);
	snprintf(path, 512, "%s/%s", dir ? dir : "/tmp", name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config_file_and_flags(void **state)
{
	struct cfg c = { 0 };
	char err[256];
	char *path = write_tmp("good.conf", "# comment\nname = ward 1\n\n; other\ncount=7\n");
	char cfgarg[600];
	char *argv[] = { "prog", cfgarg, "--count", "9", "--flag", "rest" };
	int argi = 1;

	snprintf(cfgarg, sizeof cfgarg, "--config=%s", path);
	assert_int_equal(kdc_conf_defaults(cfg_opts, &c), KDC_OK);
	assert_string_equal(c.name, "anon");
	assert_int_equal(kdc_conf_args(cfg_opts, &c, 6, argv, &argi, err, sizeof err), KDC_OK);
	assert_int_equal(argi, 5);
	assert_string_equal(c.name, "ward 1");
	assert_int_equal(c.count, 9);   /* the flag after --config wins */
	assert_int_equal(c.flag, 1);
	kdc_conf_free(cfg_opts, &c);
	free(path);
}

static void test_config_errors_name_file_and_line(void **state)
{
	struct cfg c = { 0 };
	char err[256];
	char *path = write_tmp("bad.conf", "name = x\n\ncount = 5000\n");
	char expect[600];

	assert_int_equal(kdc_conf_defaults(cfg_opts, &c), KDC_OK);
	assert_int_equal(kdc_conf_load(cfg_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	snprintf(expect, sizeof expect, "%s:3: count must be", path);
	assert_non_null(strstr(err, expect));
	free(path);

	path = write_tmp("bad2.conf", "name = x\nwhat is this\n");
	assert_int_equal(kdc_conf_load(cfg_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ":2: expected 'key = value'"));
	free(path);

	path = write_tmp("bad3.conf", "colour = blue\n");
	assert_int_equal(kdc_conf_load(cfg_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ":1: unknown option 'colour'"));
	free(path);

	assert_int_equal(kdc_conf_load(cfg_opts, &c, "/nonexistent/x.conf", err, sizeof err),
	                 KDC_ERR_IO);
	assert_non_null(strstr(err, "cannot open"));
	kdc_conf_free(cfg_opts, &c);
}

struct pathcfg {
	char *file;
	char *name;
};

static const struct kdc_opt path_opts[] = {
	{ "file", KDC_OPT_PATH, offsetof(struct pathcfg, file), 0, 0, NULL, "a file" },
	{ "name", KDC_OPT_STR, offsetof(struct pathcfg, name), 0, 0, NULL, "a name" },
	KDC_OPT_END
};

/* A relative path in a config file names a file beside the config; an
 * absolute one and a plain string stay as written. */
static void test_config_relative_path_is_beside_the_file(void **state)
{
	struct pathcfg c = { 0 };
	char err[256], expect[600];
	char *path = write_tmp("paths.conf", "file = ca.crt\nname = ca.crt\n");
	char *argv[] = { "prog", "--file", "here.crt" };
	int argi = 1;

	(void)state;
	assert_int_equal(kdc_conf_load(path_opts, &c, path, err, sizeof err), KDC_OK);
	snprintf(expect, sizeof expect, "%.*sca.crt", (int)(strrchr(path, '/') - path + 1), path);
	assert_string_equal(c.file, expect);
	assert_string_equal(c.name, "ca.crt");
	free(path);
	path = write_tmp("paths2.conf", "file = /etc/kdc/ca.crt\n");
	assert_int_equal(kdc_conf_load(path_opts, &c, path, err, sizeof err), KDC_OK);
	assert_string_equal(c.file, "/etc/kdc/ca.crt");
	/* on the command line: relative to the current folder, as typed */
	assert_int_equal(kdc_conf_args(path_opts, &c, 3, argv, &argi, err, sizeof err), KDC_OK);
	assert_string_equal(c.file, "here.crt");
	kdc_conf_free(path_opts, &c);
	free(path);
}

/* ms of a UTC time written the old way, for the expectations below */
static int64_t utc(const char *s)
{
	int64_t ms;

	if (kdc_time_parse(s, &ms) != KDC_OK)
		fail_msg("bad expectation '%s'", s);
	return ms;
}

static void expect_time(const char *s, int offset_min, const char *want_utc)
{
	char err[512] = "";
	int64_t ms = -1;

	if (kdc_parse_time(s, offset_min, &ms, err, sizeof err) != KDC_OK)
		fail_msg("'%s' (ward at %+d min): expected %s, got the error: %s", s, offset_min,
		         want_utc, err);
	if (ms != utc(want_utc)) {
		char got[32];
		kdc_time_format(ms, got, sizeof got);
		fail_msg("'%s' (ward at %+d min): expected %s, got %s", s, offset_min, want_utc, got);
	}
}

static void expect_no_time(const char *s, const char *words)
{
	char err[512] = "";
	int64_t ms = 0;

	if (kdc_parse_time(s, 420, &ms, err, sizeof err) != KDC_ERR_INVAL)
		fail_msg("'%s': expected an error mentioning '%s', got a time", s, words);
	if (!strstr(err, words) || !strstr(err, "2026-11-27T08:30+07:00") ||
	    !strstr(err, "2026-11-27 (noon, ward time)"))
		fail_msg("'%s': expected an error mentioning '%s' and the accepted forms, got '%s'",
		         s, words, err);
}

/* --at as a team member types it: an offset, Z, or none (the ward's time). */
static void test_parse_time_takes_local_time_with_or_without_offset(void **state)
{
	(void)state;
	expect_time("2026-11-27T08:30+07:00", 0, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T08:30:00+07:00", 0, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T08:30:00+0700", 0, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T01:30Z", 420, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T01:30:00Z", 420, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T08:30+05:30", 420, "2026-11-27T03:00:00Z");
	expect_time("2026-11-27T08:30-03:00", 420, "2026-11-27T11:30:00Z");
	expect_time("2026-11-27T03:00+07:00", 0, "2026-11-26T20:00:00Z");
	/* no offset: the ward's local time */
	expect_time("2026-11-27T08:30", 420, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27 08:30", 420, "2026-11-27T01:30:00Z");
	expect_time("2026-11-27T08:30:15.25", 420, "2026-11-27T01:30:15.250Z");
	expect_time("2026-11-27T08:30", 330, "2026-11-27T03:00:00Z");
	expect_time("2026-11-27T08:30", -180, "2026-11-27T11:30:00Z");
	expect_time("2026-11-27T08:30", 0, "2026-11-27T08:30:00Z");
	/* a date alone: noon of that day, ward time */
	expect_time("2026-11-27", 420, "2026-11-27T05:00:00Z");
	expect_time("2026-11-27", -180, "2026-11-27T15:00:00Z");
	expect_time("2028-02-29", 0, "2028-02-29T12:00:00Z");
}

static void test_parse_time_refuses_what_is_not_a_time(void **state)
{
	(void)state;
	expect_no_time("2026-11-27T25:00", "no such time of day");
	expect_no_time("2026-11-27T08:60", "no such time of day");
	expect_no_time("2026-11-27T08:30:61", "no such time of day");
	expect_no_time("2026-02-30", "no such day in the calendar");
	expect_no_time("2026-02-29T08:30", "no such day in the calendar");
	expect_no_time("2026-13-01", "no such day in the calendar");
	expect_no_time("2026-11-00", "no such day in the calendar");
	expect_no_time("2026-11-27T08:30junk", "is not a time");
	expect_no_time("2026-11-27T08:30+07:00x", "is not a time");
	expect_no_time("2026-11-27T08:30Zx", "is not a time");
	expect_no_time("2026-11-27x", "is not a time");
	expect_no_time("2026-11-27T08:30+15:00", "is not a time");
	expect_no_time("2026-11-27T08:30+", "is not a time");
	expect_no_time("2026-11-27T8:30", "is not a time");
	expect_no_time("2026-11-27T", "is not a time");
	expect_no_time("2026-11-27T08:30:15.", "is not a time");
	expect_no_time("27/11/2026", "is not a time");
	expect_no_time(" 2026-11-27", "is not a time");
	expect_no_time("", "is not a time");
}

static void test_utc_offset_spellings(void **state)
{
	int m = 1;

	(void)state;
	assert_int_equal(kdc_parse_utc_offset("+07:00", &m), KDC_OK);
	assert_int_equal(m, 420);
	assert_int_equal(kdc_parse_utc_offset("+0530", &m), KDC_OK);
	assert_int_equal(m, 330);
	assert_int_equal(kdc_parse_utc_offset("-03:00", &m), KDC_OK);
	assert_int_equal(m, -180);
	assert_int_equal(kdc_parse_utc_offset("Z", &m), KDC_OK);
	assert_int_equal(m, 0);
	assert_int_equal(kdc_parse_utc_offset("7", &m), KDC_ERR_INVAL);
	assert_int_equal(kdc_parse_utc_offset("+14:30", &m), KDC_ERR_INVAL);
	assert_int_equal(kdc_parse_utc_offset("+07:00x", &m), KDC_ERR_INVAL);
}

struct devcfg {
	long long amount, count;
	int offset;
	char *household, *outcome, *outbox, *at, *members, *members15;
};

static const struct kdc_opt dev_opts[] = {
	KDC_OPT(struct devcfg, "amount", KDC_OPT_INT, amount, 0, 100000000000LL, NULL, "amount in VND (optional)"),
	KDC_OPT(struct devcfg, "count", KDC_OPT_INT, count, 1, 1000000, NULL, "how many"),
	KDC_OPT(struct devcfg, "utc-offset", KDC_OPT_OFFSET, offset, 0, 0, "+07:00", "the ward's local time"),
	KDC_OPT(struct devcfg, "household", KDC_OPT_STR, household, 0, 0, NULL, "household code"),
	KDC_OPT(struct devcfg, "outcome", KDC_OPT_STR, outcome, 0, 0, NULL, "outcome"),
	KDC_OPT(struct devcfg, "outbox", KDC_OPT_PATH, outbox, 0, 0, NULL, "outbox file"),
	KDC_OPT(struct devcfg, "at", KDC_OPT_STR, at, 0, 0, NULL, "when"),
	KDC_OPT(struct devcfg, "members", KDC_OPT_STR, members, 0, 0, NULL, "people"),
	KDC_OPT(struct devcfg, "members-15plus", KDC_OPT_STR, members15, 0, 0, NULL, "people aged 15+"),
	KDC_OPT_END
};

/* Parses "--NAME VALUE" with dev_opts; the error text, "" when it parsed. */
static const char *flag_error(const char *name, const char *value)
{
	static char err[512];
	struct devcfg c = { 0 };
	char flag[64];
	char *argv[] = { "prog", flag, (char *)value };
	int argi = 1;

	snprintf(flag, sizeof flag, "--%s", name);
	assert_int_equal(kdc_conf_defaults(dev_opts, &c), KDC_OK);
	err[0] = '\0';
	if (kdc_conf_args(dev_opts, &c, 3, argv, &argi, err, sizeof err) == KDC_OK)
		err[0] = '\0';
	else
		assert_true(err[0] != '\0');
	kdc_conf_free(dev_opts, &c);
	return err;
}

static void test_offset_option(void **state)
{
	struct devcfg c = { 0 };
	char err[512];
	char *argv[] = { "prog", "--utc-offset", "-03:30" };
	int argi = 1;
	char *path = write_tmp("offset.conf", "utc-offset = +05:30\n");

	(void)state;
	assert_int_equal(kdc_conf_defaults(dev_opts, &c), KDC_OK);
	assert_int_equal(c.offset, 420);
	assert_int_equal(kdc_conf_load(dev_opts, &c, path, err, sizeof err), KDC_OK);
	assert_int_equal(c.offset, 330);
	assert_int_equal(kdc_conf_args(dev_opts, &c, 3, argv, &argi, err, sizeof err), KDC_OK);
	assert_int_equal(c.offset, -210);
	free(path);
	path = write_tmp("offset2.conf", "\nutc-offset = 7\n");
	assert_int_equal(kdc_conf_load(dev_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ":2: utc-offset must look like +07:00 (from -14:00 to +14:00), got '7'"));
	assert_string_equal(flag_error("utc-offset", "+25:00"),
	                    "--utc-offset must look like +07:00 (from -14:00 to +14:00), got '+25:00'");
	kdc_conf_free(dev_opts, &c);
	free(path);
}

/* An amount written as on a bill is refused with its digits-only spelling. */
static void test_integers_take_digits_only(void **state)
{
	const char *want = "--amount takes whole VND in digits only, without '.' or ',' separators: 350000";
	struct devcfg c = { 0 };
	char err[512];
	char *path = write_tmp("amount.conf", "count = 1,000\n");

	(void)state;
	assert_string_equal(flag_error("amount", "350.000"), want);
	assert_string_equal(flag_error("amount", "350,000"), want);
	assert_string_equal(flag_error("amount", "350k"), want);
	assert_string_equal(flag_error("amount", "1.250.000"),
	                    "--amount takes whole VND in digits only, without '.' or ',' separators: 1250000");
	assert_string_equal(flag_error("amount", "3.5"),
	                    "--amount takes whole VND in digits only, without '.' or ',' separators, got '3.5'");
	assert_string_equal(flag_error("amount", "1234.567"),
	                    "--amount takes whole VND in digits only, without '.' or ',' separators, got '1234.567'");
	assert_string_equal(flag_error("count", "10.000"),
	                    "--count takes a whole number in digits only, without '.' or ',' separators: 10000");
	assert_string_equal(flag_error("amount", "350000"), "");
	/* not separators: the plain range error as before */
	assert_non_null(strstr(flag_error("count", "-5"), "count must be a whole number"));
	assert_non_null(strstr(flag_error("count", "5."), "count must be a whole number"));
	assert_int_equal(kdc_conf_defaults(dev_opts, &c), KDC_OK);
	assert_int_equal(kdc_conf_load(dev_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ":1: count takes a whole number in digits only, without '.' or ',' separators: 1000"));
	kdc_conf_free(dev_opts, &c);
	free(path);
}

static void test_unknown_option_suggests_the_nearest(void **state)
{
	struct devcfg c = { 0 };
	char err[512];
	char *path = write_tmp("typo.conf", "# device\nhousehld = H1\n");

	(void)state;
	assert_string_equal(flag_error("househld", "H1"),
	                    "unknown option --househld: did you mean --household? (see --help)");
	assert_string_equal(flag_error("hosuehold", "H1"),   /* two letters swapped */
	                    "unknown option --hosuehold: did you mean --household? (see --help)");
	assert_string_equal(flag_error("amout", "1"),
	                    "unknown option --amout: did you mean --amount? (see --help)");
	assert_string_equal(flag_error("utc-ofset", "+07:00"),
	                    "unknown option --utc-ofset: did you mean --utc-offset? (see --help)");
	assert_string_equal(flag_error("outc", "x"),         /* the only option it begins */
	                    "unknown option --outc: did you mean --outcome? (see --help)");
	assert_string_equal(flag_error("members-15", "1"),
	                    "unknown option --members-15: did you mean --members-15plus? (see --help)");
	assert_string_equal(flag_error("member", "1"),       /* begins two: the nearer one */
	                    "unknown option --member: did you mean --members? (see --help)");
	/* nothing close, or two equally close: no guess */
	assert_string_equal(flag_error("out", "x"), "unknown option --out (see --help)");
	assert_string_equal(flag_error("colour", "x"), "unknown option --colour (see --help)");
	assert_string_equal(flag_error("xy", "x"), "unknown option --xy (see --help)");
	assert_string_equal(flag_error("count-everything", "x"),
	                    "unknown option --count-everything (see --help)");
	assert_int_equal(kdc_conf_defaults(dev_opts, &c), KDC_OK);
	assert_int_equal(kdc_conf_load(dev_opts, &c, path, err, sizeof err), KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ":2: unknown option 'househld': did you mean 'household'?"));
	assert_int_equal(kdc_conf_set(dev_opts, &c, "colour", "x", err, sizeof err), KDC_ERR_CONFIG);
	assert_string_equal(err, "unknown option 'colour'");
	kdc_conf_free(dev_opts, &c);
	free(path);
}

static void test_private_file_mode(void **state)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/secret", dir ? dir : "/tmp");
	assert_int_equal(kdc_write_file_private(path, "pw", 2), KDC_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid7_is_ordered_and_versioned),
		cmocka_unit_test(test_time_text),
		cmocka_unit_test(test_parse_ll_is_strict),
		cmocka_unit_test(test_config_file_and_flags),
		cmocka_unit_test(test_config_errors_name_file_and_line),
		cmocka_unit_test(test_config_relative_path_is_beside_the_file),
		cmocka_unit_test(test_private_file_mode),
		cmocka_unit_test(test_parse_time_takes_local_time_with_or_without_offset),
		cmocka_unit_test(test_parse_time_refuses_what_is_not_a_time),
		cmocka_unit_test(test_utc_offset_spellings),
		cmocka_unit_test(test_offset_option),
		cmocka_unit_test(test_integers_take_digits_only),
		cmocka_unit_test(test_unknown_option_suggests_the_nearest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
