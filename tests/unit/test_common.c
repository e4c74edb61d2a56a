/* test_common.c: UUIDv7 order, time text, strict numbers, INI errors with
 * file:line, and option tables shared by files and flags. */
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
