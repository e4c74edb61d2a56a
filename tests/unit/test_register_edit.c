/* test_register.c: the ward office's register tools on real files: the CSV
 * reader (BOM, CRLF, quotes, comments; every bad row as FILE:LINE, duplicates
 * naming the other line, codes differing only in case), the import into a
 * real database (added, changed, retired stays retired, --retire-missing
 * never retiring field additions, a dry run leaving every table as it was),
 * the ward's void and its refusals, and forget keeping the same code of
 * another khóm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_util.h"
#include "profile.h"
#include "register_cli.h"
#include "register_csv.h"
#include "register_edit.h"
#include "store.h"

static char tmp_dir[400];

static const char *tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/register-%d-%s", tmp_dir, (int)getpid(), name);
	return buf;
}

static const char *write_tmp(char *buf, size_t len, const char *name, const char *text)
{
	FILE *f;

	tmp_path(buf, len, name);
	assert_non_null(f = fopen(buf, "wb"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void drop_db(const char *path)
{
	char side[600];

	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof side, "%s.lock", path);
	unlink(side);
}

static struct kdc_profile *profile;
static char profile_path[512];

static int setup(void **state)
{
	const char *d = getenv("KDC_TEST_TMP");
	char err[512];

	(void)state;
	snprintf(tmp_dir, sizeof tmp_dir, "%s", d && *d ? d : "/tmp");
	write_tmp(profile_path, sizeof profile_path, "profile.ini",
	          "[ward]\ncode = 31975\n[khom 6]\nhouseholds = 3\npeople_15plus = 6\n"
	          "[khom 7]\nhouseholds = 2\npeople_15plus = 4\n");
	if (kdc_profile_load(profile_path, &profile, err, sizeof err) != KDC_OK)
		fail_msg("profile: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kdc_profile_free(profile);
	unlink(profile_path);
	return 0;
}

static void read_csv(const char *text, struct kdc_register_csv *c, char *path, size_t len)
{
	char err[512] = "";

	write_tmp(path, len, "in.csv", text);
	if (kdc_register_csv_read(path, profile, c, err, sizeof err) != KDC_OK)
		fail_msg("read: %s", err);
}

/* Error i of c is "PATH:LINE: ..." and contains want. */
static void assert_error(const struct kdc_register_csv *c, size_t i, const char *path, int line,
                         const char *want)
{
	char prefix[600];

	assert_true(i < c->nerrors);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	if (strncmp(c->errors[i], prefix, strlen(prefix)) != 0 || !strstr(c->errors[i], want))
		fail_msg("error %zu is '%s', expected '%s...%s'", i, c->errors[i], prefix, want);
}

static void test_csv_good_file(void **state)
{
	struct kdc_register_csv c;
	char path[512];

	(void)state;
	read_csv("\xEF\xBB\xBF# khóm 6, list of 2026\r\n\r\nKhom, Household ,people_15plus\r\n"
	         "6,H0001,3\r\n\"6\", \"H0002\" ,2\r\n  # a comment\r\n7,H0001,\r\n6,\"H0003\",\"0\"",
	         &c, path, sizeof path);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.has_people, 1);
	assert_int_equal(c.nrows, 4);
	assert_string_equal(c.rows[0].khom, "6");
	assert_string_equal(c.rows[0].household, "H0001");
	assert_int_equal(c.rows[0].people_15plus, 3);
	assert_int_equal(c.rows[0].line, 4);
	assert_string_equal(c.rows[1].household, "H0002");
	assert_int_equal(c.rows[1].people_15plus, 2);
	assert_string_equal(c.rows[2].khom, "7");
	assert_int_equal(c.rows[2].people_15plus, -1);
	assert_int_equal(c.rows[3].people_15plus, 0);
	assert_int_equal(c.rows[3].line, 8);
	kdc_register_csv_free(&c);

	/* two columns, in another order */
	read_csv("household,khom\nH9,6\n", &c, path, sizeof path);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.has_people, 0);
	assert_int_equal(c.nrows, 1);
	assert_string_equal(c.rows[0].khom, "6");
	assert_string_equal(c.rows[0].household, "H9");
	kdc_register_csv_free(&c);
}

static void test_csv_every_bad_row_named(void **state)
{
	struct kdc_register_csv c;
	char path[512];

	(void)state;
	read_csv("khom,household,people_15plus\n"
	         "6,H0001,3\n"          /* 2 good */
	         "8,H0002,1\n"          /* 3 khóm not in the profile */
	         "6,H 3,1\n"            /* 4 bad code */
	         "6,H0004,101\n"        /* 5 too many people */
	         "6,H0005,x\n"          /* 6 not a number */
	         "6,H0006\n"            /* 7 cells */
	         "6,\"H0007,1\n"        /* 8 open quote */
	         "6,H0001,2\n"          /* 9 duplicate of 2 */
	         "6,h0001,2\n"          /* 10 case only */
	         "7,H0001,2\n",         /* 11 good: another khóm */
	         &c, path, sizeof path);
	assert_int_equal(c.nerrors, 8);
	assert_error(&c, 0, path, 3, "khóm '8' is not in the ward profile");
	assert_error(&c, 1, path, 4, "'H 3' is not a code");
	assert_error(&c, 2, path, 5, "people_15plus '101'");
	assert_error(&c, 3, path, 6, "people_15plus 'x'");
	assert_error(&c, 4, path, 7, "2 cells, but the header has 3");
	assert_error(&c, 5, path, 8, "quote");
	assert_error(&c, 6, path, 9, "H0001 of khóm 6 is listed twice (also on line 2)");
	assert_error(&c, 7, path, 10, "H0001 (line 2) and h0001 of khóm 6 differ only in case");
	kdc_register_csv_free(&c);

	read_csv("# only a comment\n", &c, path, sizeof path);
	assert_int_equal(c.nerrors, 1);
	assert_non_null(strstr(c.errors[0], "no header line"));
	kdc_register_csv_free(&c);

	read_csv("khom,name\n6,x\n", &c, path, sizeof path);
	assert_int_equal(c.nerrors, 1);
	assert_error(&c, 0, path, 1, "header");
	kdc_register_csv_free(&c);
}

static kdc_store *open_db(const char *path)
{
	char err[512] = "";
	kdc_store *s = kdc_store_open(path, NULL, err, sizeof err);

	if (!s)
		fail_msg("open %s: %s", path, err);
	return s;
}

static long long q(kdc_store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int import(kdc_store *s, const char *csvtext, int retire_missing,
                  struct kdc_reg_import_counts *n)
{
	struct kdc_register_csv c;
	struct kdc_reg_who who = { "officer", 1795000000000LL };
	char path[512], err[512] = "";
	int rc;

	read_csv(csvtext, &c, path, sizeof path);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	rc = kdc_reg_import(kdc_store_db(s), &c, "in.csv", retire_missing, &who, 0, 0, stdout,
	                    stderr, n, err, sizeof err);
	if (rc == KDC_OK)
		assert_int_equal(kdc_store_commit(s), KDC_OK);
	else
		kdc_store_rollback(s);
	kdc_register_csv_free(&c);
	return rc;
}

static void test_import_add_change_retire(void **state)
{
	char path[512], msg[512];
	struct kdc_reg_import_counts n;
	struct kdc_reg_who who = { "officer", 1795000000000LL };
	kdc_store *s;

	(void)state;
	tmp_path(path, sizeof path, "import.db");
	drop_db(path);
	s = open_db(path);
	assert_int_equal(kdc_reg_exists(kdc_store_db(s)), 0);
	assert_int_equal(import(s, "khom,household,people_15plus\n6,H1,2\n6,H2,3\n6,H3,1\n7,H1,4\n", 0, &n),
	                 KDC_OK);
	assert_int_equal(n.added, 4);
	assert_int_equal(kdc_reg_exists(kdc_store_db(s)), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE source = 'import' AND added_by = 'officer'"), 4);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE action = 'import'"), 4);
	assert_int_equal(q(s, "SELECT people_15plus FROM register WHERE khom = '7' AND household = 'H1'"), 4);

	/* the same file again: no change, no log row */
	assert_int_equal(import(s, "khom,household,people_15plus\n6,H1,2\n6,H2,3\n6,H3,1\n7,H1,4\n", 0, &n),
	                 KDC_OK);
	assert_int_equal(n.added + n.changed + n.retired, 0);
	assert_int_equal(n.unchanged, 4);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log"), 4);

	/* a retired household stays retired when the file lists it */
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_reg_retire(kdc_store_db(s), "6", "H2", "moved away", &who, msg, sizeof msg),
	                 KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	/* a household added in the field is never retired by --retire-missing */
	assert_int_equal(sqlite3_exec(kdc_store_db(s),
	                              "INSERT INTO register(khom, household, people_15plus, source,"
	                              " added_by, added_ms) VALUES('6', 'H9', NULL, 'field', 'T1-D1', 1)",
	                              NULL, NULL, NULL), SQLITE_OK);
	/* H1 changes, H2 is retired, H3 is missing, H4 is new */
	assert_int_equal(import(s, "khom,household,people_15plus\n6,H1,5\n6,H2,3\n6,H4,1\n7,H1,4\n", 0, &n),
	                 KDC_OK);
	assert_int_equal(n.added, 1);
	assert_int_equal(n.changed, 1);
	assert_int_equal(n.stay_retired, 1);
	assert_int_equal(n.missing_kept, 1); /* H3; never the field's H9 */
	assert_int_equal(n.retired, 0);
	assert_int_equal(q(s, "SELECT retired_ms IS NOT NULL FROM register WHERE khom = '6' AND household = 'H2'"), 1);
	assert_int_equal(q(s, "SELECT people_15plus FROM register WHERE khom = '6' AND household = 'H1'"), 5);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE action = 'change' AND household = 'H1'"), 1);

	/* --retire-missing: H3 goes, the field's H9 stays */
	assert_int_equal(import(s, "khom,household,people_15plus\n6,H1,5\n6,H2,3\n6,H4,1\n7,H1,4\n", 1, &n),
	                 KDC_OK);
	assert_int_equal(n.retired, 1);
	assert_int_equal(q(s, "SELECT retired_ms IS NOT NULL FROM register WHERE household = 'H3'"), 1);
	assert_int_equal(q(s, "SELECT retired_ms IS NULL FROM register WHERE household = 'H9'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE action = 'retire'"), 2);

	/* a new code differing only in case from one in the register: refused, nothing changes */
	long long log_rows = q(s, "SELECT count(*) FROM register_log");
	assert_int_equal(import(s, "khom,household\n6,H5\n6,h1\n", 0, &n), KDC_ERR_INVAL);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE household IN ('H5', 'h1')"), 0);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log"), log_rows);

	/* register add brings a retired one back; an active one is refused */
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_reg_add(kdc_store_db(s), "6", "H2", -1, 0, &who, msg, sizeof msg), KDC_OK);
	assert_int_equal(kdc_reg_add(kdc_store_db(s), "6", "H2", -1, 0, &who, msg, sizeof msg), KDC_ERR_INVAL);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	assert_int_equal(q(s, "SELECT retired_ms IS NULL AND people_15plus = 3 FROM register WHERE khom = '6' AND household = 'H2'"), 1);
	kdc_store_close(s);
	drop_db(path);
}

/* Every row of every table, as text: equal dumps, equal databases. */
/* The type column: businesses beside households (an old file without the
 * column gives households); a bad type, people for a business, and a code
 * whose type the file changes are refused; add and retire a business. */
static void test_import_businesses(void **state)
{
	char path[512], csvpath[512], msg[512];
	struct kdc_register_csv c;
	struct kdc_reg_import_counts n;
	struct kdc_reg_who who = { "officer", 1795000000000LL };
	kdc_store *s;

	(void)state;
	read_csv("khom,household,type,people_15plus\n6,B1,shop,\n6,B2,business,3\n", &c, csvpath,
	         sizeof csvpath);
	assert_int_equal(c.nerrors, 2);
	assert_error(&c, 0, csvpath, 2, "type 'shop' must be household or business");
	assert_error(&c, 1, csvpath, 3, "a business has no people_15plus");
	kdc_register_csv_free(&c);
	tmp_path(path, sizeof path, "biz.db");
	drop_db(path);
	s = open_db(path);
	memset(&n, 0, sizeof n);
	assert_int_equal(import(s, "khom,household,type,people_15plus\n6,H1,household,2\n"
	                           "6,B1,Business,\n6,H2,,1\n", 0, &n), KDC_OK);
	assert_int_equal(n.added, 3);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE business = 1 AND household = 'B1'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE business = 0"), 2);
	/* a file without the type column lists households: naming B1 in it
	 * would make a business a household, which is refused */
	memset(&n, 0, sizeof n);
	assert_int_equal(import(s, "khom,household\n6,B1\n", 0, &n), KDC_ERR_INVAL);
	assert_int_equal(q(s, "SELECT business FROM register WHERE household = 'B1'"), 1);
	assert_int_equal(kdc_reg_add(kdc_store_db(s), "6", "B9", -1, 1, &who, msg, sizeof msg), KDC_OK);
	assert_non_null(strstr(msg, "added business B9"));
	assert_int_equal(kdc_reg_retire(kdc_store_db(s), "6", "B9", "closed", &who, msg, sizeof msg),
	                 KDC_OK);
	assert_non_null(strstr(msg, "retired business B9"));
	/* brought back only as what it is */
	assert_int_equal(kdc_reg_add(kdc_store_db(s), "6", "B9", -1, 0, &who, msg, sizeof msg),
	                 KDC_ERR_INVAL);
	assert_non_null(strstr(msg, "retired business"));
	assert_int_equal(kdc_reg_add(kdc_store_db(s), "6", "B9", -1, 1, &who, msg, sizeof msg), KDC_OK);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE household = 'B9' AND business = 1"
	                      " AND retired_ms IS NULL"), 1);
	kdc_store_close(s);
	drop_db(path);
}

static char *dump(const char *path)
{
	kdc_store *s = open_db(path);
	sqlite3_stmt *t, *st;
	char *out = NULL, sql[512];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s), "SELECT name FROM sqlite_master WHERE"
	                                    " type = 'table' ORDER BY name", -1, &t, NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		int ncol, n;
		snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", sqlite3_column_text(t, 0));
		assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
		ncol = sqlite3_column_count(st);
		sqlite3_finalize(st);
		n = (int)strlen(sql);
		for (int i = 1; i <= ncol; i++)
			n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%d", i == 1 ? " ORDER BY " : ", ", i);
		fprintf(f, "== %s\n", sqlite3_column_text(t, 0));
		assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);
				fprintf(f, "%s|", v ? (const char *)v : "NULL");
			}
			fputc('\n', f);
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(t);
	fclose(f);
	kdc_store_close(s);
	return out;
}

static void tool_conf(struct kdc_tool *t, const char *db)
{
	memset(t, 0, sizeof *t);
	t->db = db;
	t->profile_path = profile_path;
	t->profile = profile;
	t->by = "officer";
	t->people = -1;
	t->limit = 100;
	t->busy_timeout_ms = 5000;
}

static void test_dry_run_changes_nothing(void **state)
{
	char db[512], csv[512], *before, *after;
	struct kdc_tool t;

	(void)state;
	tmp_path(db, sizeof db, "dry.db");
	drop_db(db);
	tool_conf(&t, db);
	write_tmp(csv, sizeof csv, "first.csv", "khom,household,people_15plus\n6,H1,2\n6,H2,3\n");
	assert_int_equal(kdc_tool_register("import", csv, &t), 0);
	before = dump(db);
	assert_non_null(strstr(before, "|H2|3|import|officer|"));

	/* a file that adds, changes and (with --retire-missing) retires */
	write_tmp(csv, sizeof csv, "second.csv", "khom,household,people_15plus\n6,H1,4\n7,H8,1\n");
	t.dry_run = 1;
	t.retire_missing = 1;
	assert_int_equal(kdc_tool_register("import", csv, &t), 0);
	after = dump(db);
	assert_string_equal(before, after);
	free(after);

	/* a file with a bad row: exit 2, nothing changed */
	t.dry_run = 0;
	write_tmp(csv, sizeof csv, "bad.csv", "khom,household,people_15plus\n6,H1,4\n6,H1,5\n");
	assert_int_equal(kdc_tool_register("import", csv, &t), 2);
	after = dump(db);
	assert_string_equal(before, after);
	free(after);

	/* and the real run does change it */
	write_tmp(csv, sizeof csv, "second.csv", "khom,household,people_15plus\n6,H1,4\n7,H8,1\n");
	assert_int_equal(kdc_tool_register("import", csv, &t), 0);
	after = dump(db);
	assert_string_not_equal(before, after);
	assert_non_null(strstr(after, "|H8|1|import|officer|"));
	free(after);
	free(before);
	drop_db(db);
}

static void add_event(kdc_store *s, uint8_t id[16], const char *khom, const char *hh, int kind, int n)
{
	struct kdc_event_row r;
	int inserted;

	memset(&r, 0, sizeof r);
	assert_int_equal(kdc_uuid7(r.id, 1795000000000LL + n), KDC_OK);
	memcpy(id, r.id, 16);
	r.seq = n;
	r.occurred_ms = 1795000000000LL + n;
	r.received_ms = r.occurred_ms + 1000;
	strcpy(r.ward, "31975");
	snprintf(r.khom, sizeof r.khom, "%s", khom);
	strcpy(r.team, "T1");
	strcpy(r.device, "D1");
	snprintf(r.household, sizeof r.household, "%s", hh);
	r.kind = kind;
	r.subkind = 1;
	assert_int_equal(kdc_store_add_event(s, &r, &inserted), KDC_OK);
	assert_int_equal(inserted, 1);
}

static void test_void_and_forget(void **state)
{
	struct kdc_reg_who who = { "officer", 1795000100000LL };
	uint8_t visit[16], added[16], other[16], unknown[16], x[16];
	char path[512], msg[512];
	int64_t events, rejected;
	int entry;
	kdc_store *s;

	(void)state;
	tmp_path(path, sizeof path, "void.db");
	drop_db(path);
	s = open_db(path);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	add_event(s, visit, "6", "H1", KDC_KIND_VISIT, 1);
	add_event(s, added, "6", "H1", KDC_KIND_HOUSEHOLD_ADDED, 2);
	add_event(s, other, "7", "H1", KDC_KIND_VISIT, 3); /* same code, another khóm */
	add_event(s, x, "6", "H2", KDC_KIND_ACCOUNT, 4);
	assert_int_equal(kdc_uuid7(unknown, 1795000000009LL), KDC_OK);

	assert_int_equal(kdc_reg_void(kdc_store_db(s), unknown, "typo", &who, msg, sizeof msg),
	                 KDC_ERR_NOT_FOUND);
	assert_non_null(strstr(msg, "no event"));
	assert_int_equal(kdc_reg_void(kdc_store_db(s), added, "typo", &who, msg, sizeof msg),
	                 KDC_ERR_INVAL);
	assert_non_null(strstr(msg, "household addition"));
	assert_int_equal(kdc_reg_void(kdc_store_db(s), visit, "wrong household", &who, msg, sizeof msg),
	                 KDC_OK);
	assert_int_equal(q(s, "SELECT count(*) FROM events WHERE voided_by IS NOT NULL"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM voids WHERE team = '' AND by = 'ward:officer'"
	                      " AND state = 1 AND reason = 'wrong household'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE action = 'void' AND khom = '6'"
	                      " AND household = 'H1' AND by = 'officer'"), 1);
	assert_int_equal(kdc_reg_void(kdc_store_db(s), visit, "again", &who, msg, sizeof msg),
	                 KDC_ERR_INVAL);
	assert_non_null(strstr(msg, "voided already"));
	assert_int_equal(kdc_store_commit(s), KDC_OK);

	/* a void event of a device is no target either */
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	add_event(s, x, "6", "H2", KDC_KIND_VOID, 5);
	assert_int_equal(kdc_reg_void(kdc_store_db(s), x, "no", &who, msg, sizeof msg), KDC_ERR_INVAL);
	assert_int_equal(kdc_store_commit(s), KDC_OK);

	/* forget H1 of khóm 6: its events and void go, khóm 7's H1 stays */
	assert_int_equal(sqlite3_exec(kdc_store_db(s),
	                              "INSERT INTO register(khom, household, source, added_by, added_ms)"
	                              " VALUES('6', 'H1', 'import', 'o', 1), ('7', 'H1', 'import', 'o', 1);"
	                              "INSERT INTO register_log(at_ms, by, action, khom, household, detail)"
	                              " VALUES(1, 'o', 'add', '7', 'H1', 'H1 of 7')",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_forget_household(s, "6", "H1", &events, &rejected), KDC_OK);
	assert_int_equal(events, 2);
	assert_int_equal(kdc_reg_forget(kdc_store_db(s), "6", "H1", events, rejected, &who, &entry,
	                                msg, sizeof msg), KDC_OK);
	assert_int_equal(entry, 1);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	assert_int_equal(q(s, "SELECT count(*) FROM events WHERE household = 'H1'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM events WHERE khom = '7' AND household = 'H1'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM voids"), 0);
	assert_int_equal(q(s, "SELECT count(*) FROM register WHERE household = 'H1'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE khom = '6' AND"
	                      " (household = 'H1' OR instr(detail, 'H1') > 0)"), 0);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE khom = '7' AND household = 'H1'"), 1);
	assert_int_equal(q(s, "SELECT count(*) FROM register_log WHERE action = 'forget' AND khom = '6'"
	                      " AND household IS NULL"), 1);
	kdc_store_close(s);
	drop_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_good_file),
		cmocka_unit_test(test_csv_every_bad_row_named),
		cmocka_unit_test(test_import_add_change_retire),
		cmocka_unit_test(test_import_businesses),
		cmocka_unit_test(test_dry_run_changes_nothing),
		cmocka_unit_test(test_void_and_forget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
