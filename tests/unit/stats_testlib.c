/* stats_testlib.c: see stats_testlib.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_util.h"
#include "stats_testlib.h"

/* The contract's schema (kdc-contracts: "SQLite database"). */
static const char *const contract_sql =
	"PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
	"CREATE TABLE IF NOT EXISTS events("
	" id BLOB PRIMARY KEY, seq INTEGER NOT NULL, occurred_ms INTEGER NOT NULL,"
	" received_ms INTEGER NOT NULL, ward TEXT NOT NULL, khom TEXT NOT NULL, team TEXT NOT NULL,"
	" device TEXT NOT NULL, household TEXT NOT NULL, member INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, subkind INTEGER NOT NULL, method INTEGER NOT NULL,"
	" amount_vnd INTEGER NOT NULL, members INTEGER NOT NULL, members_15plus INTEGER NOT NULL,"
	" smartphones INTEGER NOT NULL, needs INTEGER NOT NULL, voided_by BLOB,"
	" flags INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS events_voided ON events(voided_by) WHERE voided_by IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS register("
	" khom TEXT NOT NULL, household TEXT NOT NULL, people_15plus INTEGER, source TEXT NOT NULL,"
	" added_by TEXT NOT NULL, added_ms INTEGER NOT NULL,"
	" retired_ms INTEGER, retired_by TEXT, retired_reason TEXT,"
	" business INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(khom, household)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS register_log("
	" lid INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, by TEXT NOT NULL, action TEXT NOT NULL,"
	" khom TEXT, household TEXT, detail TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS voids("
	" void_id BLOB PRIMARY KEY, target BLOB NOT NULL, reason TEXT NOT NULL, team TEXT NOT NULL,"
	" by TEXT NOT NULL, at_ms INTEGER NOT NULL, state INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS rejected("
	" rid INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL, device TEXT,"
	" event_id BLOB, reason INTEGER NOT NULL, reason_name TEXT NOT NULL, detail TEXT NOT NULL,"
	" payload_len INTEGER NOT NULL, payload BLOB NOT NULL);";

void tl_tmp_path(char *out, size_t len, const char *tag)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char side[600];

	snprintf(out, len, "%s/stats-%s-%ld.db", dir && *dir ? dir : "/tmp", tag, (long)getpid());
	unlink(out);
	snprintf(side, sizeof side, "%s-wal", out);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", out);
	unlink(side);
}

sqlite3 *tl_db_open(const char *path)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		fail_msg("cannot open %s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_exec(db, contract_sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("cannot create the contract tables: %s", msg);
	return db;
}

void tl_db_close(sqlite3 *db)
{
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int tl_store(sqlite3 *db, const struct kdc_event_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc;

	assert_int_equal(sqlite3_prepare_v2(db,
		"INSERT OR IGNORE INTO events(id, seq, occurred_ms, received_ms, ward, khom, team, device,"
		" household, member, kind, subkind, method, amount_vnd, members, members_15plus,"
		" smartphones, needs, flags)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
		-1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, r->id, KDC_UUID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->seq);
	sqlite3_bind_int64(st, 3, r->occurred_ms);
	sqlite3_bind_int64(st, 4, r->received_ms);
	sqlite3_bind_text(st, 5, r->ward, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->khom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->team, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->household, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 10, r->member);
	sqlite3_bind_int(st, 11, r->kind);
	sqlite3_bind_int(st, 12, r->subkind);
	sqlite3_bind_int(st, 13, r->method);
	sqlite3_bind_int64(st, 14, r->amount_vnd);
	sqlite3_bind_int(st, 15, r->members);
	sqlite3_bind_int(st, 16, r->members_15plus);
	sqlite3_bind_int(st, 17, r->smartphones);
	sqlite3_bind_int64(st, 18, r->needs);
	sqlite3_bind_int64(st, 19, r->flags);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		fail_msg("insert event: %s", sqlite3_errmsg(db));
	return sqlite3_changes(db) == 1;
}

void tl_store_rejected(sqlite3 *db, int64_t received_ms)
{
	char sql[256];

	snprintf(sql, sizeof sql, "INSERT INTO rejected(received_ms,topic,reason,reason_name,detail,"
	         "payload_len,payload) VALUES(%lld,'kdc/v1/31975/events/T1/D1',1,'malformed','test',1,x'00')",
	         (long long)received_ms);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

size_t tl_ingest(sqlite3 *db, kdc_stats *s, const struct kdc_event_row *rows, size_t n)
{
	struct kdc_event_row *fresh = calloc(n ? n : 1, sizeof *fresh);
	size_t nf = 0;

	assert_non_null(fresh);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < n; i++)
		if (tl_store(db, &rows[i]))
			fresh[nf++] = rows[i];
	assert_int_equal(kdc_stats_apply(s, fresh, nf), 0);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	free(fresh);
	return nf;
}

void tl_emit(void *ud, const char *scope, const char *id, const char *json)
{
	struct tl_retained *r = ud;
	char key[48];
	cJSON *root = cJSON_Parse(json);
	const cJSON *seq;
	size_t i;

	if (!root)
		fail_msg("emitted JSON does not parse: %.200s", json);
	if (getenv("KDC_TEST_VERBOSE"))
		printf("emit %s %s: %s\n", scope, id ? id : "-", json);
	seq = cJSON_GetObjectItemCaseSensitive(root, "seq");
	assert_true(cJSON_IsNumber(seq));
	snprintf(key, sizeof key, "%s%s%s", scope, id ? "/" : "", id ? id : "");
	for (i = 0; i < r->n; i++)
		if (strcmp(r->s[i].key, key) == 0)
			break;
	if (i == r->n) {
		assert_true(r->n < TL_MAX_SCOPES);
		snprintf(r->s[r->n].key, sizeof r->s[r->n].key, "%s", key);
		r->s[r->n].json = NULL;
		r->s[r->n].seq = -1;
		r->n++;
	}
	if (r->s[i].seq >= 0 && (long long)seq->valuedouble != r->s[i].seq + 1)
		r->seq_errors++;
	r->s[i].seq = (long long)seq->valuedouble;
	free(r->s[i].json);
	r->s[i].json = strdup(json);
	assert_non_null(r->s[i].json);
	r->emitted++;
	cJSON_Delete(root);
}

const char *tl_get(const struct tl_retained *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->s[i].key, key) == 0)
			return r->s[i].json;
	return NULL;
}

void tl_retained_free(struct tl_retained *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->s[i].json);
	memset(r, 0, sizeof *r);
}

cJSON *tl_parse_numbers(const char *json)
{
	cJSON *root = cJSON_Parse(json);

	if (!root)
		fail_msg("JSON does not parse: %.200s", json);
	cJSON_DeleteItemFromObjectCaseSensitive(root, "seq");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "as_of");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "as_of_ms");
	return root;
}

static const cJSON *tl_path(const cJSON *root, const char *path)
{
	char buf[128], *save = NULL, *tok;
	const cJSON *cur = root;

	snprintf(buf, sizeof buf, "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(cur))
			cur = cJSON_GetArrayItem(cur, atoi(tok));
		else
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	}
	if (!cur)
		fail_msg("JSON has no %s", path);
	return cur;
}

long long tl_int(const cJSON *root, const char *path)
{
	const cJSON *v = tl_path(root, path);

	if (!cJSON_IsNumber(v))
		fail_msg("JSON %s is not a number", path);
	return (long long)v->valuedouble;
}

const char *tl_str(const cJSON *root, const char *path)
{
	const cJSON *v = tl_path(root, path);

	if (cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v))
		fail_msg("JSON %s is not a string", path);
	return v->valuestring;
}

const cJSON *tl_target(const cJSON *root, const char *indicator)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets")) {
		const cJSON *ind = cJSON_GetObjectItemCaseSensitive(t, "indicator");
		if (cJSON_IsString(ind) && strcmp(ind->valuestring, indicator) == 0)
			return t;
	}
	return NULL;
}

struct kdc_event_row tl_row(int64_t occurred_ms, const char *khom, const char *team,
                            const char *device, const char *household, int member,
                            int kind, int subkind, int64_t amount)
{
	struct kdc_event_row r;

	memset(&r, 0, sizeof r);
	assert_int_equal(kdc_uuid7(r.id, occurred_ms), 0);
	r.seq = 1;
	r.occurred_ms = occurred_ms;
	r.received_ms = occurred_ms;
	snprintf(r.ward, sizeof r.ward, "31975");
	snprintf(r.khom, sizeof r.khom, "%s", khom);
	snprintf(r.team, sizeof r.team, "%s", team);
	snprintf(r.device, sizeof r.device, "%s", device);
	snprintf(r.household, sizeof r.household, "%s", household);
	r.member = member;
	r.kind = kind;
	r.subkind = subkind;
	if (kind == KDC_KIND_PAYMENT) {
		r.method = 1;
		r.amount_vnd = amount;
	}
	return r;
}

void tl_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}
