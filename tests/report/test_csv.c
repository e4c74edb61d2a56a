/* test_csv.c: the CSV writer of kdc-report (report/csv.h), on its own: the
 * bytes of each field (quoting by RFC 4180, UTF-8 passed through), CRLF row
 * ends, the byte-order mark, and a write error (a full disk) reported; the
 * sink that takes the rows instead of a stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

static int failures;

#define CHECK(cond, ...)                                         \
	do {                                                         \
		if (!(cond)) {                                           \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                        \
	} while (0)

/* The bytes one row of fields becomes (NULL ends the list; "\1" is NULL). */
static void expect_row(const char *want, const char *const *fields)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct kdc_csv c;

	if (!f) {
		CHECK(0, "open_memstream failed");
		return;
	}
	kdc_csv_init(&c, f);
	for (; *fields; fields++)
		kdc_csv_field(&c, strcmp(*fields, "\1") == 0 ? NULL : *fields);
	CHECK(kdc_csv_end_row(&c) == 0, "end_row failed");
	CHECK(kdc_csv_finish(&c) == 0, "finish failed");
	fclose(f);
	CHECK(len == strlen(want) && memcmp(buf, want, len) == 0, "expected [%s], got [%.*s]", want,
	      (int)len, buf);
	free(buf);
}

static void test_quoting(void)
{
	expect_row("a,b,c\r\n", (const char *[]){ "a", "b", "c", NULL });
	expect_row("\"a,b\",c\r\n", (const char *[]){ "a,b", "c", NULL });
	expect_row("\"say \"\"hi\"\"\"\r\n", (const char *[]){ "say \"hi\"", NULL });
	expect_row("\"\"\"\"\r\n", (const char *[]){ "\"", NULL });
	expect_row("\"two\nlines\",\"cr\rhere\",\"crlf\r\nend\"\r\n",
	           (const char *[]){ "two\nlines", "cr\rhere", "crlf\r\nend", NULL });
	/* Excel trims unquoted blanks at the ends */
	expect_row("\" lead\",\"trail \",in side\r\n", (const char *[]){ " lead", "trail ", "in side", NULL });
	expect_row(",,x,\r\n", (const char *[]){ "", "\1", "x", "", NULL });
	/* one empty field is an empty line, as RFC 4180 writes it */
	expect_row("\r\n", (const char *[]){ "", NULL });
}

static void test_utf8(void)
{
	/* passed through byte for byte, quoted only for the comma */
	expect_row("Khóm 6,Tổ công nghệ số,\"Phường 1, TP Cà Mau\"\r\n",
	           (const char *[]){ "Khóm 6", "Tổ công nghệ số", "Phường 1, TP Cà Mau", NULL });
	expect_row("\"nhập nhầm, hộ \"\"H900\"\"\"\r\n", (const char *[]){ "nhập nhầm, hộ \"H900\"", NULL });
}

static void test_bom_int_rows(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct kdc_csv c;
	const char want[] = "\xEF\xBB\xBFid,n\r\n-5,10000000000\r\n";

	if (!f) {
		CHECK(0, "open_memstream failed");
		return;
	}
	kdc_csv_init(&c, f);
	kdc_csv_bom(&c);
	kdc_csv_field(&c, "id");
	kdc_csv_field(&c, "n");
	kdc_csv_end_row(&c);
	kdc_csv_int(&c, -5);
	kdc_csv_int(&c, 10000000000LL);
	kdc_csv_end_row(&c);
	CHECK(kdc_csv_finish(&c) == 0, "finish failed");
	fclose(f);
	CHECK(len == sizeof want - 1 && memcmp(buf, want, len) == 0, "BOM and rows: got [%.*s]", (int)len, buf);
	free(buf);
}

/* /dev/full fails every write with ENOSPC, as a full disk does: the error
 * shows at the latest at finish, and is kept. */
static void test_full_disk(void)
{
	FILE *f = fopen("/dev/full", "w");
	struct kdc_csv c;
	int rc = 0;

	if (!f) {
		printf("skip: no /dev/full\n");
		return;
	}
	kdc_csv_init(&c, f);
	for (int i = 0; i < 20000 && rc == 0; i++) {
		kdc_csv_field(&c, "0190a5c4-1f2e-7abc-8def-0123456789ab");
		rc = kdc_csv_end_row(&c);
	}
	if (rc == 0)
		rc = kdc_csv_finish(&c);
	CHECK(rc == ENOSPC, "a full disk: expected ENOSPC (%d), got %d", ENOSPC, rc);
	CHECK(kdc_csv_finish(&c) == rc, "the first error is kept");
	fclose(f);
}

static void test_needs_quotes(void)
{
	CHECK(!kdc_csv_needs_quotes(""), "empty");
	CHECK(!kdc_csv_needs_quotes("H-001_a"), "a code");
	CHECK(kdc_csv_needs_quotes("a\tb") == 0, "a tab inside stays as it is");
	CHECK(kdc_csv_needs_quotes("\tb"), "a tab at the start");
}

/* A sink gets each field's text unquoted, whole numbers as numbers, no
 * byte-order mark, and a row end whose error the writer keeps. */
struct sink_log {
	char text[256];
	int ints, rows, fail_at;
};

static void sink_field(void *ud, const char *s, int is_int, long long v)
{
	struct sink_log *l = ud;

	strncat(l->text, s, sizeof l->text - strlen(l->text) - 2);
	strcat(l->text, "|");
	if (is_int && v == 42)
		l->ints++;
}

static int sink_end_row(void *ud)
{
	struct sink_log *l = ud;

	strcat(l->text, "/");
	return ++l->rows == l->fail_at ? ENOMEM : 0;
}

static void test_sink(void)
{
	struct sink_log l = { "", 0, 0, 2 };
	struct kdc_csv_sink sink = { &l, sink_field, sink_end_row };
	struct kdc_csv c;

	kdc_csv_init_sink(&c, &sink);
	kdc_csv_bom(&c);
	kdc_csv_field(&c, "a, \"b\"");
	kdc_csv_field(&c, NULL);
	kdc_csv_int(&c, 42);
	CHECK(kdc_csv_end_row(&c) == 0, "first row to the sink");
	kdc_csv_field(&c, "Khóm");
	CHECK(kdc_csv_end_row(&c) == ENOMEM, "the sink's error is returned");
	CHECK(kdc_csv_finish(&c) == ENOMEM, "and kept");
	CHECK(strcmp(l.text, "a, \"b\"||42|/Khóm|/") == 0, "fields as they are, no BOM: got '%s'", l.text);
	CHECK(l.ints == 1, "kdc_csv_int gives the sink a number");
}

int main(void)
{
	test_quoting();
	test_utf8();
	test_bom_int_rows();
	test_full_disk();
	test_needs_quotes();
	test_sink();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("ok: csv writer\n");
	return 0;
}
