/* stats_int.h: what the parts of the statistics module share (as sqlite's
 * sqliteInt.h does for sqlite): the tables' keys, the scopes, the prepared
 * statements, struct kdc_stats itself and the snapshot read from the tables.
 * Only the stats_*.c files include it; everyone else uses stats.h.
 *
 * The parts, in the order an event goes through them:
 *   stats_db.c       open/free, schema, statements, row caches
 *   stats_scope.c    the scope registry: ward, khóms and teams, with their rows
 *   stats_fold.c     kdc_stats_apply: fold a batch in memory, write its sums
 *   stats_rebuild.c  kdc_stats_rebuild: the same fold over every stored event
 *   stats_read.c     a scope's snapshot read from the tables
 *   stats_json.c     that snapshot as kdc.stats.v1 JSON
 *   stats_publish.c  kdc_stats_publish: compare with the last snapshot, emit
 * The design notes are at the top of stats_db.c. All of it runs on the
 * aggregator's writer thread. */
#ifndef KDC_STATS_INT_H
#define KDC_STATS_INT_H

#include <cJSON.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "kdc_hmap.h"
#include "kdc_proto.h"
#include "snapshot.h"
#include "stats.h"

/* 2: st_household keeps declined, not_home (attempts) and last_attempt_ms
 * for the worklists; 3: st_person keeps the facts of online public service
 * use and e-invoices (also for businesses, member 0), st_useday, and st_scope
 * the business events and the two indicators; an older database is rebuilt
 * at open */
#define STATS_SCHEMA 3
#define SERIES_DAYS 60
#define REEVAL_MS 60000     /* windows are re-checked at least this often */
#define REBUILD_CHUNK 1024
/* Arrays by event kind: every kind number has a slot, the activities
 * (kdc_kind_is_activity) use theirs; stats_kinds lists them. */
#define NKIND KDC_KIND_ALL
#define NACT 7
extern const int stats_kinds[NACT];
#define NACCT (KDC_SNAP_NACCOUNT + 1) /* AccountKind 1..4 */
#define NSVC (KDC_SNAP_NSERVICE + 1)  /* ServiceKind 1..5 */
#define ACCT_PAYMENT KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT
#define ACCT_VNEID KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2
#define OUTCOME_SURVEYED KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED
#define OUTCOME_NOT_HOME KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME
#define OUTCOME_DECLINED KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_DECLINED

enum scope_kind { SCOPE_WARD = 0, SCOPE_KHOM, SCOPE_TEAM };
extern const char *const stats_scope_names[];

/* st_hist.what: per-day histograms of one date per household or person. */
enum hist_what {
	HIST_VISIT = 0,   /* households by the day of their first visit */
	HIST_REACH,       /* households by the day of their first account */
	HIST_PAYACCT,     /* people by the day of their first payment account */
	HIST_LASTPAY,     /* payment-account holders by the day of their last payment */
	HIST_EIDUSE,      /* service users by the day of their first e-identified use */
	HIST_EINVOICE,    /* businesses by the day they were first known to issue e-invoices */
};

/* Copies a code (cut at KDC_CODE_MAX chars) into a KDC_CODE_MAX + 1 buffer
 * and zero-fills the rest, so that keys holding it compare as bytes. Called
 * about 15 times per event folded: snprintf here was a tenth of the fold. */
static inline void copy_code(char *dst, const char *src)
{
	size_t n = strnlen(src, KDC_CODE_MAX);

	memcpy(dst, src, n);
	memset(dst + n, 0, KDC_CODE_MAX + 1 - n);
}

#define COPY_CODE(dst, src) copy_code((dst), (src))

/* Keys: memset to zero before filling, so padding compares equal. */
struct k_day { int64_t sid, day; int32_t kind, sub; };
struct v_day { int64_t n, amount; };
struct k_hour { int64_t sid, hour; int32_t kind, pad; };
struct v_hour { int64_t n; };
struct k_dev { int64_t sid; char device[KDC_CODE_MAX + 1]; char pad[7]; };
struct v_dev { int64_t last_ms, n; char team[KDC_CODE_MAX + 1]; };
struct k_hh { int64_t sid; char khom[KDC_CODE_MAX + 1]; char household[KDC_CODE_MAX + 1]; char pad[6]; };
/* not_home: "not at home" visits (attempts), last_attempt_ms the latest
 * (has_attempt = not_home > 0); declined: a declined visit */
struct v_hh { int64_t visit_day, reach_day, not_home, last_attempt_ms;
	int has_visit, has_reach, surveyed, declined; uint32_t scope; };
struct k_person { int64_t sid; char khom[KDC_CODE_MAX + 1]; char household[KDC_CODE_MAX + 1];
	char pad[2]; int32_t member; };
/* Service use (docs/stats.md, service_users_e_identified): a person's
 * ServiceUsed or a business's visit that saw it use online public services,
 * on use_day (the latest); eid_day: the first day of an e-identification
 * (a VNeID level 2 account, a business account); eiduse_day: the first day of
 * an e-identified use; einv_day: a business's first day known to issue
 * e-invoices. */
struct facts {
	int64_t use_day, eid_day, eiduse_day, einv_day;
	int has_use, has_eid, has_eiduse, has_einv;
};
struct v_person { int64_t pid, acct_pay_day, last_pay_day; uint32_t bits, scope; int has_acct_pay, has_pay;
	struct facts f; };
struct k_payday { struct k_person p; int64_t day; };
struct v_payday { int64_t unused; };
struct k_hist { int64_t sid, day; int32_t what, pad; };
struct v_hist { int64_t n; };
/* Cached rows (see the top of stats_db.c): st_household, st_person, and the
 * st_payday keys known to exist. */
struct c_hh { int64_t visit_day, reach_day, not_home, last_attempt_ms;
	int has_visit, has_reach, surveyed, declined; };
struct c_person {
	int64_t pid, acct_pay_day, last_pay_day;
	uint32_t bits;
	int found, has_acct, has_pay;
	struct facts f;
};
struct k_pidday { int64_t pid, day; };
/* A use of an online public service in a batch: flagged when the use
 * itself was e-identified (ServiceUsed.vneid_level2). */
struct k_useday { struct k_person p; int64_t day; };
struct v_useday { int flagged; };
struct c_pidday { int64_t unused; };

/* Entries per cache; a fuller cache is dropped and refills (a very large
 * ward then reads some rows again: slower, never wrong). */
#define CACHE_MAX 65536

/* ---- scopes -------------------------------------------------------------- */

/* Counters kept in st_scope (totals since the first event). */
struct counters {
	int64_t ev[NKIND];
	int64_t pay_amount;
	int64_t hh_visited, hh_surveyed, hh_reached;
	int64_t acct[NACCT];
	int64_t biz_einvoice, su_total, su_eid; /* businesses using e-invoices; service users, e-identified */
	int64_t latest_ms;
	int has_latest;
};

struct scope {
	int64_t sid;
	int kind;                       /* enum scope_kind */
	char code[KDC_CODE_MAX + 1];    /* "" for the ward */
	long pidx;                      /* index in the profile's khoms/teams, -1 if unassigned */
	int64_t seq;                    /* last seq emitted (persisted in st_scope) */
	/* apply side */
	int touched;                    /* has a delta to flush in this batch */
	struct counters delta;
	/* publish side */
	int dirty;
	char *last_body;                /* last emitted snapshot without seq/as_of */
	int64_t last_emit_ms, last_eval_ms, eval_hour;
	/* "paying regularly" 30 days ago, costly to count: cached per day */
	int d0_valid;
	int64_t d0, d0_value;
	int d0_window;
};

struct scope_key { int32_t kind; char code[KDC_CODE_MAX + 1]; char pad[3]; };
struct scope_ref { size_t index; };

enum stmt_id {
	Q_DEV_UP, Q_HH_GET, Q_HH_PUT, Q_PERSON_GET, Q_PERSON_INS,
	Q_PERSON_UPD, Q_SCOPE_INS, Q_SCOPE_UP, Q_SCOPE_GET,
	Q_DAYS, Q_HOURS, Q_DEVICES, Q_HIST_FROM, Q_REGULAR_AT, Q_REGULAR_AT_WARD,
	Q_SEQ_SET, Q_META_GET, Q_META_SET, Q_META_ADD, Q_DATA_VERSION,
	Q_VOIDED_WARD, Q_VOIDED_KHOM, Q_VOIDED_TEAM, Q_MAX_LID, Q_USE_FROM,
	Q_COUNT
};

extern const char *const stats_stmt_sql[Q_COUNT];

/* The keyed writes of a batch's sums, as INSERTs of MULTI_ROWS rows at a
 * time (the rows' keys are distinct): a thousand day rows then cost 32
 * statements rather than a thousand. Every column is an integer, bound in
 * order; the rows of a batch that do not fill a statement use the one-row
 * form. */
#define MULTI_ROWS 32
#define MULTI_MAX_COLS 6
enum multi_id { M_DAY, M_HOUR, M_PAYDAY, M_HIST, M_USEDAY, M_COUNT };

/* Rows queued for one multi-row statement. */
struct multi_buf {
	enum multi_id id;
	int nrows;
	int64_t v[MULTI_ROWS * MULTI_MAX_COLS];
};

struct kdc_stats {
	sqlite3 *db;
	const struct kdc_profile *profile;
	struct kdc_profile *own_profile;   /* used when the caller gave NULL */
	sqlite3_stmt *st[Q_COUNT];
	sqlite3_stmt *multi[M_COUNT][2];    /* one row, MULTI_ROWS rows */
	struct scope *scopes;
	size_t nscopes, scopes_cap;
	struct kdc_hmap scope_index;            /* scope_key -> scope_ref */
	size_t ward_index;                  /* the ward's scope in scopes[] */
	int64_t next_sid;
	int64_t rejected_total;
	uint64_t rebuilds;                  /* kdc_stats_rebuilds */
	/* per-batch accumulators */
	struct kdc_hmap days, hours, devs, hhs, persons, paydays, hists, usedays;
	/* caches of what the tables hold (writer thread; see the top) */
	struct kdc_hmap hh_cache, person_cache, payday_cache;
	int cache_stale;                    /* set by the rollback hook */
	int64_t data_version;
	/* denominators per profile khóm from the register (kdc_stats_set_denominators);
	 * NULL: the profile's */
	int64_t *den_hh, *den_people;
	int64_t *den_biz;   /* businesses per profile khóm (kdc_stats_set_businesses); NULL: the profile's */
};

/* A device of a snapshot: seen in the scope, or given to one of its teams
 * by the profile and silent so far (seen 0). */
struct stats_device {
	char device[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	int64_t last_ms, n;
	int seen;
};

/* Everything a scope's JSON shows, read from the tables (stats_read.c) so
 * that rendering (stats_json.c) reads nothing. Free with
 * stats__snapshot_free. */
struct snapshot {
	struct counters c;
	int64_t today, hour;
	int64_t ev24[NKIND], ev7[NKIND], ev30[NKIND];
	int64_t svc30[NSVC];
	int64_t pay30_n, pay30_amount;
	int64_t series[NKIND][SERIES_DAYS];
	int64_t regular_now;
	int64_t hh_total, people_total, biz_total;
	int64_t voided;             /* activity events of the scope taken out by a void */
	/* each target's indicator: value now, denominator, value KDC_PACE_DAYS ago */
	struct { int64_t value, denom, then; } ind[KDC_IND_COUNT];
	struct stats_device *devs;  /* ordered by device code */
	size_t ndevs;
};

/* stats_db.c: the statistics' storage: statements, the schema, the row caches */
int stats__dberr(kdc_stats *s, int rc, const char *what);
sqlite3_stmt *stats__stmt(kdc_stats *s, enum stmt_id id);
int stats__run(kdc_stats *s, sqlite3_stmt *st, const char *what);
int stats__exec(kdc_stats *s, const char *sql);
int stats__multi_add(kdc_stats *s, struct multi_buf *b, const int64_t *row);
int stats__multi_end(kdc_stats *s, struct multi_buf *b);
void bind_opt_day(sqlite3_stmt *st, int i, int has, int64_t day);
int stats__meta_get(kdc_stats *s, const char *key, int64_t *out, int *found);
int stats__meta_set(kdc_stats *s, const char *key, int64_t v);
void stats__cache_drop(kdc_stats *s);
int stats__cache_check(kdc_stats *s);
void *stats__cache_get(struct kdc_hmap *cache, const void *key, int *created);
struct c_hh *stats__hh_row(kdc_stats *s, const struct k_hh *k, int *rc);
struct c_person *stats__person_row(kdc_stats *s, const struct k_person *k, int *rc);
int stats__table_exists(kdc_stats *s, const char *name, int *exists);

/* stats_scope.c: the scope registry */
const char *stats__ward_code(const kdc_stats *s);
struct scope *stats__scope_find(kdc_stats *s, int kind, const char *code);
int stats__scope_store(kdc_stats *s, const struct scope *sc);
struct scope *stats__scope_for(kdc_stats *s, int kind, const char *code);
int stats__load_scopes(kdc_stats *s);
int stats__register_profile_scopes(kdc_stats *s);

/* stats_read.c: reading a scope's snapshot from the tables */
int stats__hist_from(kdc_stats *s, int64_t sid, int what, int64_t from, int64_t *out);
int stats__regular_at(kdc_stats *s, struct scope *sc, int64_t d0, int window, int64_t *out);
int stats__snapshot(kdc_stats *s, struct scope *sc, int64_t now_ms, struct snapshot *sn);
void stats__snapshot_free(struct snapshot *sn);

/* stats_json.c: the snapshot as kdc.stats.v1 JSON */
cJSON *stats__render(const kdc_stats *s, const struct scope *sc, const struct snapshot *sn);
int stats__render_meta(cJSON *root, int64_t seq, int64_t now_ms);

#endif
