/* test_log.c: kdc_log's two line formats. Each case runs in a child process
 * (the format is decided once per process, at the first line) whose stderr is
 * a file; the parent reads the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_log.h"

/* Runs the logging child with stderr on a new file; journal: 0 no
 * JOURNAL_STREAM, 1 JOURNAL_STREAM naming that file, 2 naming another one.
 * Returns what the child wrote (malloc'd). */
static char *log_lines(const char *name, int journal)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char path[512], *text;
	struct stat sb;
	FILE *f;
	long len;
	pid_t pid;
	int st;

	snprintf(path, sizeof path, "%s/%s", dir ? dir : "/tmp", name);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char js[64];

		if (!freopen(path, "w", stderr) || fstat(STDERR_FILENO, &sb) != 0)
			_exit(99);
		snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)sb.st_dev,
		         (unsigned long long)sb.st_ino + (journal == 2));
		if (journal)
			setenv("JOURNAL_STREAM", js, 1);
		else
			unsetenv("JOURNAL_STREAM");
		kdc_log_set_ident("test-log");
		kdc_log_set_level(KDC_LOG_DEBUG);
		kdc_error("disk %s", "full");
		kdc_warn("slow");
		kdc_notice("started");
		kdc_info("connected");
		kdc_debug("detail %d", 42);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static void test_journal_lines_have_priority_and_no_time(void **state)
{
	char *text = log_lines("journal.err", 1);

	(void)state;
	assert_string_equal(text, "<3>error: disk full\n"
	                          "<4>warning: slow\n"
	                          "<5>notice: started\n"
	                          "<6>info: connected\n"
	                          "<7>debug: detail 42\n");
	free(text);
}

/* Plain lines: "2026-11-27T08:30:00.123Z test-log[pid] error: disk full". */
static void check_plain(const char *text)
{
	const char *levels[] = { "error: disk full", "warning: slow", "notice: started",
	                         "info: connected", "debug: detail 42" };
	const char *line = text;

	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		const char *nl = strchr(line, '\n');
		char want[64];

		assert_non_null(nl);
		assert_true(line[0] != '<');
		assert_true(nl - line > 24 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z');
		assert_non_null(strstr(line, " test-log["));
		snprintf(want, sizeof want, "] %s\n", levels[i]);
		assert_int_equal(strncmp(nl + 1 - strlen(want), want, strlen(want)), 0);
		line = nl + 1;
	}
	assert_int_equal(*line, '\0');
}

static void test_plain_lines_without_journal(void **state)
{
	char *text = log_lines("plain.err", 0);

	(void)state;
	check_plain(text);
	free(text);
}

/* Under systemd with stderr sent elsewhere (a file), JOURNAL_STREAM names
 * another stream: the lines stay plain. */
static void test_plain_lines_when_stderr_is_not_the_journal(void **state)
{
	char *text = log_lines("other.err", 2);

	(void)state;
	check_plain(text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_lines_have_priority_and_no_time),
		cmocka_unit_test(test_plain_lines_without_journal),
		cmocka_unit_test(test_plain_lines_when_stderr_is_not_the_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
