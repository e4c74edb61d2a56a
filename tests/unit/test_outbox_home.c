/* test_outbox_home.c: where a device's outbox goes when its config names
 * none: the user's XDG data folder, made as needed with mode 0700. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "outbox.h"

static char base[512];

static int setup(void **state)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char cmd[600];

	(void)state;
	snprintf(base, sizeof base, "%s/outbox-home", dir ? dir : "/tmp");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0 || mkdir(base, 0755) != 0)
		return -1;
	return 0;
}

static int mode_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

static void test_xdg_data_home_is_used_and_made_private(void **state)
{
	char xdg[600], want[700], err[256], *path = NULL;
	kdc_outbox *ob = NULL;

	(void)state;
	snprintf(xdg, sizeof xdg, "%s/xdg/data", base);
	setenv("XDG_DATA_HOME", xdg, 1);
	assert_int_equal(kdc_outbox_default_path("T1-D1", &path, err, sizeof err), KDC_OK);
	snprintf(want, sizeof want, "%s/kdc/outbox-T1-D1.db", xdg);
	assert_string_equal(path, want);
	snprintf(want, sizeof want, "%s/kdc", xdg);
	assert_int_equal(mode_of(want), 0700);
	assert_int_equal(mode_of(xdg), 0700);
	/* the outbox opens there with no folder made by hand */
	assert_int_equal(kdc_outbox_open(path, &ob, err, sizeof err), KDC_OK);
	kdc_outbox_close(ob);
	assert_int_equal(mode_of(path), 0600);
	free(path);
}

static void test_home_local_share_without_xdg(void **state)
{
	char home[600], want[700], err[256], *path = NULL;

	(void)state;
	snprintf(home, sizeof home, "%s/home", base);
	assert_int_equal(mkdir(home, 0755), 0);
	strcat(home, "/member");
	assert_int_equal(mkdir(home, 0755), 0);
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", home, 1);
	assert_int_equal(kdc_outbox_default_path("D2", &path, err, sizeof err), KDC_OK);
	snprintf(want, sizeof want, "%s/.local/share/kdc/outbox-D2.db", home);
	assert_string_equal(path, want);
	snprintf(want, sizeof want, "%s/.local/share/kdc", home);
	assert_int_equal(mode_of(want), 0700);
	free(path);
	/* a relative XDG_DATA_HOME is invalid (XDG spec): ignored */
	setenv("XDG_DATA_HOME", "rel/data", 1);
	assert_int_equal(kdc_outbox_default_path("D2", &path, err, sizeof err), KDC_OK);
	snprintf(want, sizeof want, "%s/.local/share/kdc/outbox-D2.db", home);
	assert_string_equal(path, want);
	free(path);
}

static void test_no_device_code_is_a_plain_error(void **state)
{
	char err[256], *path = NULL;

	(void)state;
	assert_int_equal(kdc_outbox_default_path(NULL, &path, err, sizeof err), KDC_ERR_CONFIG);
	assert_null(path);
	assert_non_null(strstr(err, "device = CODE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xdg_data_home_is_used_and_made_private),
		cmocka_unit_test(test_home_local_share_without_xdg),
		cmocka_unit_test(test_no_device_code_is_a_plain_error),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
