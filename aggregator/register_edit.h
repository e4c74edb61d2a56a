/* register_edit.h: the ward office's changes to the household register, its
 * voids and its deletions, in the aggregator's database (tables register,
 * register_log, voids and events.voided_by of schema 3; docs/register.md).
 *
 * These run in the ward's tools (kdc-aggregator register|void|forget), not
 * in the daemon: every function works inside a transaction the caller opened
 * (kdc_store_begin) and commits or rolls back; a dry run is the same work
 * rolled back. Every change appends register_log rows (when, who, what):
 * a running aggregator watches that table and reloads.
 *
 * Errors: KDC_OK; KDC_ERR_INVAL when the request is refused (the reason, in
 * plain words, is in err; nothing was written); KDC_ERR_NOT_FOUND for an
 * unknown household or event (reason in err); else a kdc_db_rc code with
 * SQLite's words in err. */
#ifndef KDC_REGISTER_EDIT_H
#define KDC_REGISTER_EDIT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "register_csv.h"

#define KDC_REG_REASON_MAX 200 /* bytes of a retire or void reason */

/* Who and when, for every row written. */
struct kdc_reg_who {
	const char *by;      /* user name; 'ward:' + it for voids */
	int64_t now_ms;
};

struct kdc_reg_import_counts {
	size_t added, changed, retired, unchanged;
	size_t stay_retired;   /* in the file, retired in the register */
	size_t missing_kept;   /* active, not in the file, kept */
};

/* Applies the checked file csv (no errors) to the register: new households
 * added (source 'import'), a changed people_15plus updated (only when the
 * file has that column), retired ones left retired (said on out), households
 * missing from the file retired with retire_missing (never field additions),
 * else kept. A row whose type (household, business) is not the one of its
 * register entry is refused. label names the file in messages and the log. A code differing
 * only in case from one already in the register of that khóm is refused
 * ("FILE:LINE: ..." lines on errout, KDC_ERR_INVAL). With verbose, each
 * change is listed on out ("add 6 H0001 (people 15+: 3)"), prefixed by
 * "would " when dry (the caller then rolls back). */
int kdc_reg_import(sqlite3 *db, const struct kdc_register_csv *csv, const char *label,
                   int retire_missing, const struct kdc_reg_who *who, int verbose, int dry,
                   FILE *out, FILE *errout, struct kdc_reg_import_counts *counts,
                   char *err, size_t errlen);

/* Adds one household, or a business with business = 1 (source 'ward'), or
 * brings a retired one back (people updated when given). people: -1 when not
 * given (always for a business). Refused: already active, a retired entry of
 * the other type, or a code differing only in case from one of the khóm. */
int kdc_reg_add(sqlite3 *db, const char *khom, const char *household, int people, int business,
                const struct kdc_reg_who *who, char *msg, size_t msglen);

/* Retires an active household: its events stop counting, devices refuse new
 * ones (retired_household). */
int kdc_reg_retire(sqlite3 *db, const char *khom, const char *household, const char *reason,
                   const struct kdc_reg_who *who, char *msg, size_t msglen);

/* Prints the register (active entries; with field only field additions,
 * with retired only retired ones), khom NULL for every khóm. */
int kdc_reg_list(sqlite3 *db, const char *khom, int field, int retired, FILE *out,
                 char *err, size_t errlen);
/* Prints the register's history, oldest first. */
int kdc_reg_log_print(sqlite3 *db, const char *khom, FILE *out, char *err, size_t errlen);

/* 1 when the database has a register (a row, active or retired), 0 when
 * not, -1 on error. */
int kdc_reg_exists(sqlite3 *db);

/* The ward's own void of the event with id (16 bytes): a voids row (fresh
 * UUIDv7, team '', by 'ward:USER', state 1), events.voided_by, a 'void' log
 * row. Refused: unknown id, a void or household_added event, an event
 * already voided. */
int kdc_reg_void(sqlite3 *db, const uint8_t id[16], const char *reason,
                 const struct kdc_reg_who *who, char *msg, size_t msglen);

/* Prints stored events (newest last) of khom/household (either may be NULL
 * for all), at most limit of them (the newest). */
int kdc_reg_events(sqlite3 *db, const char *khom, const char *household, long long limit,
                   FILE *out, char *err, size_t errlen);

/* The register part of forgetting a household: deletes its entry, and
 * rewrites its log rows without the code (household NULL, the code in the
 * details replaced); then adds one 'forget' row naming only the khóm.
 * *entry is 1 when a register entry was deleted. */
int kdc_reg_forget(sqlite3 *db, const char *khom, const char *household, int64_t events,
                   int64_t rejected, const struct kdc_reg_who *who, int *entry,
                   char *err, size_t errlen);

/* Checks a reason (retire, void): 1..KDC_REG_REASON_MAX bytes of UTF-8
 * without control characters. 1 good, 0 bad (why in err). */
int kdc_reg_reason_valid(const char *s, char *err, size_t errlen);

#endif
