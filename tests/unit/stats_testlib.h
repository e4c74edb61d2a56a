/* stats_testlib.h: what the statistics tests share: a real SQLite file with
 * the `events` and `rejected` tables of the contract (written here from the
 * contract, not taken from the store, so the tests also check that the
 * statistics need nothing more), storing events the way the writer does, and
 * catching the snapshots kdc_stats_publish emits as a broker would retain
 * them. */
#ifndef KDC_STATS_TESTLIB_H
#define KDC_STATS_TESTLIB_H

#include <cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "event_row.h"
#include "stats.h"

#define TL_MAX_SCOPES 64

/* The last snapshot emitted per scope, like retained messages. */
struct tl_retained {
	struct {
		char key[48];      /* "ward", "khom/6", "team/T1" */
		char *json;
		long long seq;
	} s[TL_MAX_SCOPES];
	size_t n;
	size_t emitted;        /* emissions since the last tl_retained_reset_count */
	int seq_errors;        /* emissions whose seq was not previous + 1 */
};

/* A temporary file path under $KDC_TEST_TMP (or /tmp) named after tag; any
 * old file (and -wal, -shm) is removed. */
void tl_tmp_path(char *out, size_t len, const char *tag);
/* Opens path with WAL and the contract's tables. Fails the test on error. */
sqlite3 *tl_db_open(const char *path);
void tl_db_close(sqlite3 *db);
/* INSERT OR IGNORE into events: 1 if the row was new, 0 if a duplicate. */
int tl_store(sqlite3 *db, const struct kdc_event_row *r);
/* Stores a rejected payload row (only the columns the statistics count). */
void tl_store_rejected(sqlite3 *db, int64_t received_ms);
/* Stores rows in one transaction and folds the new ones into s, as the
 * writer does. Returns how many were new. */
size_t tl_ingest(sqlite3 *db, kdc_stats *s, const struct kdc_event_row *rows, size_t n);

/* emit callback for kdc_stats_publish; ud is a struct tl_retained. */
void tl_emit(void *ud, const char *scope, const char *id, const char *json);
/* The retained JSON of "ward", "khom/6", "team/T1", or NULL. */
const char *tl_get(const struct tl_retained *r, const char *key);
void tl_retained_free(struct tl_retained *r);

/* Parses json and drops the fields that differ between two publishes of the
 * same numbers (seq, as_of, as_of_ms). Caller frees with cJSON_Delete. */
cJSON *tl_parse_numbers(const char *json);
/* Integer at a dotted path ("households.reached", "events.visit.30d",
 * "series.visit.12"); fails the test when missing. */
long long tl_int(const cJSON *root, const char *path);
/* String at a dotted path, NULL when the value is JSON null; fails the test
 * when missing. */
const char *tl_str(const cJSON *root, const char *path);
/* The target object for an indicator, or NULL. */
const cJSON *tl_target(const cJSON *root, const char *indicator);

/* A row with the usual fields set (ward 31975, seq 1, needs 0, random id). */
struct kdc_event_row tl_row(int64_t occurred_ms, const char *khom, const char *team,
                            const char *device, const char *household, int member,
                            int kind, int subkind, int64_t amount);
/* Writes text to a new file at path. */
void tl_write_file(const char *path, const char *text);

#endif
