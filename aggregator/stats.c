/* stats.c: the ward's adoption indicators, kept exact and incremental in
 * SQLite, published as JSON snapshots.
 *
 * How it stays cheap (docs/stats.md has the user-facing definitions):
 *  - kdc_stats_apply folds a batch in memory first (hash maps keyed by scope
 *    and day, hour, device, household or person), then writes one keyed
 *    upsert per distinct key. Nothing scans history.
 *  - What the tables already say about a household, a person and a person's
 *    payment days is cached in memory, so that a batch reads nothing back and
 *    writes only what changes (most events of a campaign repeat known facts).
 *    The caches mirror the database as this connection wrote it: they are
 *    dropped when a transaction rolls back (SQLite's rollback hook) or another
 *    connection commits (PRAGMA data_version), and refill from the tables.
 *  - Everything derived is order-independent (sums, min, max, set unions), so
 *    a batch split, a restart or a late event gives the same tables as a
 *    rebuild in event-time order.
 *  - Windows are whole local days (7 d, 30 d, series) and whole local hours
 *    (24 h) ending at now: a publish sums at most 60 day rows per kind. Day
 *    and hour rows are written only for events that can still enter those
 *    windows (see stats__keep), so a backlog of old events costs little.
 *  - Indicators that move with the clock (people paying regularly, the value
 *    30 days ago for the pace) come from per-day histograms: how many
 *    households were first reached on day D, how many payment-account holders
 *    last paid on day D. Counting "paying regularly" is then a sum over the
 *    last N days.
 *  - Households and people of the ward are exactly those of its khóms (an
 *    event has one khóm), so their rows are kept per khóm and per team only;
 *    the ward's counters and histograms receive the khóm's changes too. */
#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "profile.h"
#include "jsonout.h"
#include "stats.h"

#define STATS_SCHEMA 1
#define SERIES_DAYS 60
#define REEVAL_MS 60000     /* windows are re-checked at least this often */
#define REBUILD_CHUNK 1024
#define NKIND KDC_KIND_COUNT
#define NACCT 5             /* AccountKind 1..4 */
#define NSVC 6              /* ServiceKind 1..5 */
#define ACCT_PAYMENT KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT
#define OUTCOME_SURVEYED KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED

enum scope_kind { SCOPE_WARD = 0, SCOPE_KHOM, SCOPE_TEAM };
static const char *const scope_names[] = { "ward", "khom", "team" };

/* st_hist.what: per-day histograms of one date per household or person. */
enum hist_what {
	HIST_VISIT = 0,   /* households by the day of their first visit */
	HIST_REACH,       /* households by the day of their first account */
	HIST_PAYACCT,     /* people by the day of their first payment account */
	HIST_LASTPAY,     /* payment-account holders by the day of their last payment */
};

/* Copies a code (cut at KDC_CODE_MAX chars) into a KDC_CODE_MAX + 1 buffer
 * and zero-fills the rest, so that keys holding it compare as bytes. Called
 * about 15 times per event folded: snprintf here was a tenth of the fold. */
static void copy_code(char *dst, const char *src)
{
	size_t n = strnlen(src, KDC_CODE_MAX);

	memcpy(dst, src, n);
	memset(dst + n, 0, KDC_CODE_MAX + 1 - n);
}

#define COPY_CODE(dst, src) copy_code((dst), (src))

/* ---- small hash map: fixed-size keys (zero-padded structs), dense values -- */

struct hmap {
	size_t ksize, esize;   /* key bytes; entry bytes (key + value, 8-aligned) */
	unsigned char *ents;   /* len entries, in insertion order */
	size_t len, ents_cap;
	uint32_t *idx;         /* 0 = empty, else entry index + 1 */
	size_t cap;            /* power of two */
};

static void hmap_init(struct hmap *m, size_t ksize, size_t vsize)
{
	memset(m, 0, sizeof *m);
	m->ksize = ksize;
	m->esize = (ksize + vsize + 7) & ~(size_t)7;
}

/* Keys are zero-padded structs whose sizes are multiples of 8: hash them a
 * word at a time (a multiply-xorshift mix per word). */
static uint64_t hmap__hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	for (; n > 0; n--, p++)
		h = (h ^ *p) * 0x100000001B3ULL;
	return h ^ (h >> 29);
}

static int hmap__grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 256;
	uint32_t *nidx = calloc(ncap, sizeof *nidx);

	if (!nidx)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < m->len; i++) {
		size_t j = hmap__hash(m->ents + i * m->esize, m->ksize) & (ncap - 1);
		while (nidx[j])
			j = (j + 1) & (ncap - 1);
		nidx[j] = (uint32_t)(i + 1);
	}
	free(m->idx);
	m->idx = nidx;
	m->cap = ncap;
	return KDC_OK;
}

/* Value of key, created zeroed when absent (*created = 1). NULL when out of
 * memory. The pointer is valid until the next hmap_get. */
static void *hmap_get(struct hmap *m, const void *key, int *created)
{
	size_t j;

	*created = 0;
	if ((m->len + 1) * 2 > m->cap && hmap__grow(m) != KDC_OK)
		return NULL;
	j = hmap__hash(key, m->ksize) & (m->cap - 1);
	while (m->idx[j]) {
		unsigned char *e = m->ents + (m->idx[j] - 1) * m->esize;
		if (memcmp(e, key, m->ksize) == 0)
			return e + m->ksize;
		j = (j + 1) & (m->cap - 1);
	}
	if (m->len == m->ents_cap) {
		size_t ncap = m->ents_cap ? m->ents_cap * 2 : 128;
		unsigned char *ne = realloc(m->ents, ncap * m->esize);
		if (!ne)
			return NULL;
		m->ents = ne;
		m->ents_cap = ncap;
	}
	{
		unsigned char *e = m->ents + m->len * m->esize;
		memset(e, 0, m->esize);
		memcpy(e, key, m->ksize);
		m->idx[j] = (uint32_t)(++m->len);
		*created = 1;
		return e + m->ksize;
	}
}

static void *hmap_find(const struct hmap *m, const void *key)
{
	size_t j;

	if (!m->cap)
		return NULL;
	j = hmap__hash(key, m->ksize) & (m->cap - 1);
	while (m->idx[j]) {
		unsigned char *e = m->ents + (m->idx[j] - 1) * m->esize;
		if (memcmp(e, key, m->ksize) == 0)
			return e + m->ksize;
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

#define HMAP_KEY(m, i) ((void *)((m)->ents + (i) * (m)->esize))
#define HMAP_VAL(m, i) ((void *)((m)->ents + (i) * (m)->esize + (m)->ksize))

static void hmap_clear(struct hmap *m)
{
	if (m->len && m->idx)
		memset(m->idx, 0, m->cap * sizeof *m->idx);
	m->len = 0;
	/* a huge batch should not pin its memory forever */
	if (m->cap > 65536) {
		free(m->idx);
		free(m->ents);
		m->idx = NULL;
		m->ents = NULL;
		m->cap = m->ents_cap = 0;
	}
}

static void hmap_free(struct hmap *m)
{
	free(m->idx);
	free(m->ents);
	m->idx = NULL;
	m->ents = NULL;
}

/* Keys: memset to zero before filling, so padding compares equal. */
struct k_day { int64_t sid, day; int32_t kind, sub; };
struct v_day { int64_t n, amount; };
struct k_hour { int64_t sid, hour; int32_t kind, pad; };
struct v_hour { int64_t n; };
struct k_dev { int64_t sid; char device[KDC_CODE_MAX + 1]; char pad[7]; };
struct v_dev { int64_t last_ms, n; char team[KDC_CODE_MAX + 1]; };
struct k_hh { int64_t sid; char khom[KDC_CODE_MAX + 1]; char household[KDC_CODE_MAX + 1]; char pad[6]; };
struct v_hh { int64_t visit_day, reach_day; int has_visit, has_reach, surveyed; uint32_t scope; };
struct k_person { int64_t sid; char khom[KDC_CODE_MAX + 1]; char household[KDC_CODE_MAX + 1];
	char pad[2]; int32_t member; };
struct v_person { int64_t pid, acct_pay_day, last_pay_day; uint32_t bits, scope; int has_acct_pay, has_pay; };
struct k_payday { struct k_person p; int64_t day; };
struct v_payday { int64_t unused; };
struct k_hist { int64_t sid, day; int32_t what, pad; };
struct v_hist { int64_t n; };
/* Cached rows (see the top of this file): st_household, st_person, and the
 * st_payday keys known to exist. */
struct c_hh { int64_t visit_day, reach_day; int has_visit, has_reach, surveyed; };
struct c_person {
	int64_t pid, acct_pay_day, last_pay_day;
	uint32_t bits;
	int found, has_acct, has_pay;
};
struct k_pidday { int64_t pid, day; };
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
	Q_COUNT
};

static const char *const stmt_sql[Q_COUNT] = {
	/* the device's team is the one of its latest event; ties broken by code
	 * so that the order of folding never matters */
	[Q_DEV_UP] = "INSERT INTO st_device(sid,device,team,last_ms,n) VALUES(?1,?2,?3,?4,?5) "
	             "ON CONFLICT(sid,device) DO UPDATE SET n=n+excluded.n, "
	             "team=CASE WHEN excluded.last_ms>last_ms OR (excluded.last_ms=last_ms AND excluded.team>team) "
	             "THEN excluded.team ELSE team END, last_ms=MAX(last_ms,excluded.last_ms)",
	[Q_HH_GET] = "SELECT visit_day, reach_day, surveyed FROM st_household WHERE sid=?1 AND khom=?2 AND household=?3",
	[Q_HH_PUT] = "INSERT INTO st_household(sid,khom,household,visit_day,reach_day,surveyed) VALUES(?1,?2,?3,?4,?5,?6) "
	             "ON CONFLICT(sid,khom,household) DO UPDATE SET visit_day=excluded.visit_day, "
	             "reach_day=excluded.reach_day, surveyed=excluded.surveyed",
	[Q_PERSON_GET] = "SELECT pid, accounts, acct_pay_day, last_pay_day FROM st_person "
	                 "WHERE sid=?1 AND khom=?2 AND household=?3 AND member=?4",
	[Q_PERSON_INS] = "INSERT INTO st_person(sid,khom,household,member,accounts,acct_pay_day,last_pay_day) "
	                 "VALUES(?1,?2,?3,?4,?5,?6,?7)",
	[Q_PERSON_UPD] = "UPDATE st_person SET accounts=?2, acct_pay_day=?3, last_pay_day=?4 WHERE pid=?1",
	[Q_SCOPE_INS] = "INSERT OR IGNORE INTO st_scope(sid,kind,code) VALUES(?1,?2,?3)",
	[Q_SCOPE_UP] = "UPDATE st_scope SET ev_visit=ev_visit+?2, ev_account=ev_account+?3, "
	               "ev_payment=ev_payment+?4, ev_service=ev_service+?5, pay_amount=pay_amount+?6, "
	               "hh_visited=hh_visited+?7, hh_surveyed=hh_surveyed+?8, hh_reached=hh_reached+?9, "
	               "acct_portal=acct_portal+?10, acct_vneid=acct_vneid+?11, acct_app=acct_app+?12, "
	               "acct_payment=acct_payment+?13, latest_ms=COALESCE(MAX(latest_ms,?14),latest_ms,?14) "
	               "WHERE sid=?1",
	[Q_SCOPE_GET] = "SELECT ev_visit, ev_account, ev_payment, ev_service, pay_amount, hh_visited, "
	                "hh_surveyed, hh_reached, acct_portal, acct_vneid, acct_app, acct_payment, latest_ms "
	                "FROM st_scope WHERE sid=?1",
	[Q_DAYS] = "SELECT day, kind, sub, n, amount FROM st_day WHERE sid=?1 AND day BETWEEN ?2 AND ?3",
	[Q_HOURS] = "SELECT kind, SUM(n) FROM st_hour WHERE sid=?1 AND hour BETWEEN ?2 AND ?3 GROUP BY kind",
	[Q_DEVICES] = "SELECT device, team, last_ms, n FROM st_device WHERE sid=?1 ORDER BY device",
	[Q_HIST_FROM] = "SELECT COALESCE(SUM(n),0) FROM st_hist WHERE sid=?1 AND what=?2 AND day>=?3",
	/* payment-account holders (by day D0) with a payment in [D0-W+1, D0] */
	[Q_REGULAR_AT] = "SELECT COUNT(DISTINCT d.pid) FROM st_payday d JOIN st_person p ON p.pid=d.pid "
	                 "WHERE d.sid=?1 AND d.day BETWEEN ?2 AND ?3 AND p.acct_pay_day<=?3",
	[Q_REGULAR_AT_WARD] = "SELECT COUNT(DISTINCT d.pid) FROM st_scope s "
	                      "JOIN st_payday d ON d.sid=s.sid AND d.day BETWEEN ?2 AND ?3 "
	                      "JOIN st_person p ON p.pid=d.pid "
	                      "WHERE s.kind=1 AND p.acct_pay_day<=?3",
	[Q_SEQ_SET] = "UPDATE st_scope SET seq=?2 WHERE sid=?1",
	[Q_META_GET] = "SELECT value FROM st_meta WHERE key=?1",
	[Q_META_SET] = "INSERT INTO st_meta(key,value) VALUES(?1,?2) "
	               "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
	[Q_META_ADD] = "UPDATE st_meta SET value=value+?2 WHERE key=?1",
	/* changes when another connection commits (not for our own writes) */
	[Q_DATA_VERSION] = "PRAGMA data_version",
};

/* The keyed writes of a batch's sums, as INSERTs of MULTI_ROWS rows at a
 * time (the rows' keys are distinct): a thousand day rows then cost 32
 * statements rather than a thousand. Every column is an integer, bound in
 * order; the rows of a batch that do not fill a statement use the one-row
 * form. */
#define MULTI_ROWS 32
#define MULTI_MAX_COLS 6
enum multi_id { M_DAY, M_HOUR, M_PAYDAY, M_HIST, M_COUNT };

static const struct {
	const char *head, *row, *tail, *what;
	int ncols;
} multi_sql[M_COUNT] = {
	[M_DAY] = { "INSERT INTO st_day(sid,day,kind,sub,n,amount) VALUES", "(?,?,?,?,?,?)",
	            " ON CONFLICT(sid,day,kind,sub) DO UPDATE SET n=n+excluded.n,"
	            " amount=amount+excluded.amount",
	            "write st_day", 6 },
	[M_HOUR] = { "INSERT INTO st_hour(sid,hour,kind,n) VALUES", "(?,?,?,?)",
	             " ON CONFLICT(sid,hour,kind) DO UPDATE SET n=n+excluded.n", "write st_hour", 4 },
	[M_PAYDAY] = { "INSERT OR IGNORE INTO st_payday(sid,day,pid) VALUES", "(?,?,?)", "",
	               "insert st_payday", 3 },
	[M_HIST] = { "INSERT INTO st_hist(sid,what,day,n) VALUES", "(?,?,?,?)",
	             " ON CONFLICT(sid,what,day) DO UPDATE SET n=n+excluded.n", "write st_hist", 4 },
};

/* Rows queued for one multi-row statement. */
struct multi_buf {
	enum multi_id id;
	int nrows;
	int64_t v[MULTI_ROWS * MULTI_MAX_COLS];
};

static const char *const schema_sql =
	"CREATE TABLE IF NOT EXISTS st_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_scope("
	" sid INTEGER PRIMARY KEY, kind INTEGER NOT NULL, code TEXT NOT NULL,"
	" seq INTEGER NOT NULL DEFAULT 0,"
	" ev_visit INTEGER NOT NULL DEFAULT 0, ev_account INTEGER NOT NULL DEFAULT 0,"
	" ev_payment INTEGER NOT NULL DEFAULT 0, ev_service INTEGER NOT NULL DEFAULT 0,"
	" pay_amount INTEGER NOT NULL DEFAULT 0,"
	" hh_visited INTEGER NOT NULL DEFAULT 0, hh_surveyed INTEGER NOT NULL DEFAULT 0,"
	" hh_reached INTEGER NOT NULL DEFAULT 0,"
	" acct_portal INTEGER NOT NULL DEFAULT 0, acct_vneid INTEGER NOT NULL DEFAULT 0,"
	" acct_app INTEGER NOT NULL DEFAULT 0, acct_payment INTEGER NOT NULL DEFAULT 0,"
	" latest_ms INTEGER, UNIQUE(kind, code));"
	"CREATE TABLE IF NOT EXISTS st_day(sid INTEGER NOT NULL, day INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, sub INTEGER NOT NULL, n INTEGER NOT NULL, amount INTEGER NOT NULL,"
	" PRIMARY KEY(sid, day, kind, sub)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_hour(sid INTEGER NOT NULL, hour INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(sid, hour, kind)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_device(sid INTEGER NOT NULL, device TEXT NOT NULL,"
	" team TEXT NOT NULL, last_ms INTEGER NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(sid, device)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_household(sid INTEGER NOT NULL, khom TEXT NOT NULL,"
	" household TEXT NOT NULL, visit_day INTEGER, reach_day INTEGER, surveyed INTEGER NOT NULL,"
	" PRIMARY KEY(sid, khom, household)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_person(pid INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
	" khom TEXT NOT NULL, household TEXT NOT NULL, member INTEGER NOT NULL,"
	" accounts INTEGER NOT NULL, acct_pay_day INTEGER, last_pay_day INTEGER,"
	" UNIQUE(sid, khom, household, member));"
	"CREATE TABLE IF NOT EXISTS st_payday(sid INTEGER NOT NULL, day INTEGER NOT NULL,"
	" pid INTEGER NOT NULL, PRIMARY KEY(sid, day, pid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_hist(sid INTEGER NOT NULL, what INTEGER NOT NULL,"
	" day INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(sid, what, day)) WITHOUT ROWID;";

struct kdc_stats {
	sqlite3 *db;
	const struct kdc_profile *profile;
	struct kdc_profile *own_profile;   /* used when the caller gave NULL */
	sqlite3_stmt *st[Q_COUNT];
	sqlite3_stmt *multi[M_COUNT][2];    /* one row, MULTI_ROWS rows */
	struct scope *scopes;
	size_t nscopes, scopes_cap;
	struct hmap scope_index;            /* scope_key -> scope_ref */
	size_t ward_index;                  /* the ward's scope in scopes[] */
	int64_t next_sid;
	int64_t rejected_total;
	/* per-batch accumulators */
	struct hmap days, hours, devs, hhs, persons, paydays, hists;
	/* caches of what the tables hold (writer thread; see the top) */
	struct hmap hh_cache, person_cache, payday_cache;
	int cache_stale;                    /* set by the rollback hook */
	int64_t data_version;
};

/* ---- SQLite helpers --------------------------------------------------------- */

static int stats__dberr(kdc_stats *s, int rc, const char *what)
{
	kdc_error("stats: %s: %s", what, sqlite3_errmsg(s->db));
	return (rc == SQLITE_FULL) ? KDC_ERR_DISK_FULL : KDC_ERR_DB;
}

static sqlite3_stmt *stats__stmt(kdc_stats *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no row (or whose rows are ignored). */
static int stats__run(kdc_stats *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int err = stats__dberr(s, rc, what);
		sqlite3_reset(st);
		return err;
	}
	sqlite3_reset(st);
	return KDC_OK;
}

static int stats__exec(kdc_stats *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? KDC_OK : stats__dberr(s, rc, sql);
}

/* Binds rows [from, from + rows) of b to the one- or MULTI_ROWS-row form of
 * its statement and runs it. */
static int stats__multi_run(kdc_stats *s, const struct multi_buf *b, int from, int rows)
{
	const int nc = multi_sql[b->id].ncols;
	sqlite3_stmt *st = s->multi[b->id][rows == 1 ? 0 : 1];

	for (int i = 0; i < rows * nc; i++)
		sqlite3_bind_int64(st, i + 1, b->v[from * nc + i]);
	return stats__run(s, st, multi_sql[b->id].what);
}

/* Queues one row of ncols values; a full buffer is written at once. */
static int stats__multi_add(kdc_stats *s, struct multi_buf *b, const int64_t *row)
{
	const int nc = multi_sql[b->id].ncols;

	memcpy(&b->v[b->nrows * nc], row, (size_t)nc * sizeof *row);
	if (++b->nrows < MULTI_ROWS)
		return KDC_OK;
	b->nrows = 0;
	return stats__multi_run(s, b, 0, MULTI_ROWS);
}

/* Writes the rows still queued, one statement each. */
static int stats__multi_end(kdc_stats *s, struct multi_buf *b)
{
	int rc = KDC_OK;

	for (int r = 0; r < b->nrows && rc == KDC_OK; r++)
		rc = stats__multi_run(s, b, r, 1);
	b->nrows = 0;
	return rc;
}

static void bind_opt_day(sqlite3_stmt *st, int i, int has, int64_t day)
{
	if (has)
		sqlite3_bind_int64(st, i, day);
	else
		sqlite3_bind_null(st, i);
}

static int stats__meta_get(kdc_stats *s, const char *key, int64_t *out, int *found)
{
	sqlite3_stmt *st = stats__stmt(s, Q_META_GET);
	int rc;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return stats__dberr(s, rc, "read st_meta");
	return KDC_OK;
}

static int stats__meta_set(kdc_stats *s, const char *key, int64_t v)
{
	sqlite3_stmt *st = stats__stmt(s, Q_META_SET);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return stats__run(s, st, "write st_meta");
}

/* ---- caches of the tables' rows ----------------------------------------- */

static void stats__cache_drop(kdc_stats *s)
{
	hmap_clear(&s->hh_cache);
	hmap_clear(&s->person_cache);
	hmap_clear(&s->payday_cache);
	s->cache_stale = 0;
}

/* SQLite's rollback hook: runs on the thread that rolls back, inside SQLite
 * (a ROLLBACK, or an error that ended the transaction), so it only notes that
 * the caches may now be ahead of the tables. */
static void stats__on_rollback(void *ud)
{
	((kdc_stats *)ud)->cache_stale = 1;
}

/* Before a batch: drop the caches if a transaction of ours rolled back or
 * another connection changed the database since the last batch. */
static int stats__cache_check(kdc_stats *s)
{
	sqlite3_stmt *st = stats__stmt(s, Q_DATA_VERSION);
	int64_t v;
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW) {
		rc = stats__dberr(s, rc, "read data_version");
		sqlite3_reset(st);
		return rc;
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (s->cache_stale || v != s->data_version) {
		stats__cache_drop(s);
		s->data_version = v;
	}
	return KDC_OK;
}

/* A cache entry for key, created zeroed (= "no row", *created = 1) when
 * absent; a full cache is emptied first. NULL when out of memory. Valid until
 * the next lookup in the same cache. */
static void *stats__cache_get(struct hmap *cache, const void *key, int *created)
{
	if (cache->len >= CACHE_MAX)
		hmap_clear(cache);
	return hmap_get(cache, key, created);
}

/* The st_household row of k as the tables hold it (all zero: no row). NULL
 * with *rc set on error. Valid until the next call. */
static struct c_hh *stats__hh_row(kdc_stats *s, const struct k_hh *k, int *rc)
{
	struct c_hh *c;
	sqlite3_stmt *st;
	int created, step;

	if (!(c = stats__cache_get(&s->hh_cache, k, &created))) {
		*rc = KDC_ERR_NOMEM;
		return NULL;
	}
	if (!created)
		return c;
	st = stats__stmt(s, Q_HH_GET);
	sqlite3_bind_int64(st, 1, k->sid);
	sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		c->has_visit = sqlite3_column_type(st, 0) != SQLITE_NULL;
		c->visit_day = sqlite3_column_int64(st, 0);
		c->has_reach = sqlite3_column_type(st, 1) != SQLITE_NULL;
		c->reach_day = sqlite3_column_int64(st, 1);
		c->surveyed = sqlite3_column_int(st, 2);
	} else if (step != SQLITE_DONE) {
		/* the zeroed entry is wrong now: the caller's error drops the cache */
		*rc = stats__dberr(s, step, "read st_household");
		sqlite3_reset(st);
		return NULL;
	}
	sqlite3_reset(st);
	return c;
}

/* The st_person row of k (found = 0: no row). As stats__hh_row. */
static struct c_person *stats__person_row(kdc_stats *s, const struct k_person *k, int *rc)
{
	struct c_person *c;
	sqlite3_stmt *st;
	int created, step;

	if (!(c = stats__cache_get(&s->person_cache, k, &created))) {
		*rc = KDC_ERR_NOMEM;
		return NULL;
	}
	if (!created)
		return c;
	st = stats__stmt(s, Q_PERSON_GET);
	sqlite3_bind_int64(st, 1, k->sid);
	sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, k->member);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		c->found = 1;
		c->pid = sqlite3_column_int64(st, 0);
		c->bits = (uint32_t)sqlite3_column_int64(st, 1);
		c->has_acct = sqlite3_column_type(st, 2) != SQLITE_NULL;
		c->acct_pay_day = sqlite3_column_int64(st, 2);
		c->has_pay = sqlite3_column_type(st, 3) != SQLITE_NULL;
		c->last_pay_day = sqlite3_column_int64(st, 3);
	} else if (step != SQLITE_DONE) {
		*rc = stats__dberr(s, step, "read st_person");
		sqlite3_reset(st);
		return NULL;
	}
	sqlite3_reset(st);
	return c;
}

/* ---- scope registry --------------------------------------------------------- */

static const char *stats__ward_code(const kdc_stats *s)
{
	return s->profile->ward[0] ? s->profile->ward : NULL;
}

static struct scope *stats__scope_find(kdc_stats *s, int kind, const char *code)
{
	struct scope_key k;
	struct scope_ref *r;

	memset(&k, 0, sizeof k);
	k.kind = kind;
	copy_code(k.code, code);
	r = hmap_find(&s->scope_index, &k);
	return r ? &s->scopes[r->index] : NULL;
}

/* Adds a scope to the registry (not to the db: see stats__scope_store). */
static struct scope *stats__scope_add(kdc_stats *s, int64_t sid, int kind,
                                      const char *code, int64_t seq)
{
	struct scope_key k;
	struct scope_ref *r;
	struct scope *sc;
	int created;

	if (s->nscopes == s->scopes_cap) {
		size_t ncap = s->scopes_cap ? s->scopes_cap * 2 : 16;
		struct scope *ns = realloc(s->scopes, ncap * sizeof *ns);
		if (!ns)
			return NULL;
		s->scopes = ns;
		s->scopes_cap = ncap;
	}
	memset(&k, 0, sizeof k);
	k.kind = kind;
	snprintf(k.code, sizeof k.code, "%s", code);
	r = hmap_get(&s->scope_index, &k, &created);
	if (!r)
		return NULL;
	r->index = s->nscopes;
	sc = &s->scopes[s->nscopes++];
	memset(sc, 0, sizeof *sc);
	sc->sid = sid;
	sc->kind = kind;
	snprintf(sc->code, sizeof sc->code, "%s", code);
	sc->seq = seq;
	sc->dirty = 1;
	sc->eval_hour = INT64_MIN;
	if (kind == SCOPE_KHOM)
		sc->pidx = kdc_profile_khom_find(s->profile, code);
	else if (kind == SCOPE_TEAM)
		sc->pidx = kdc_profile_team_find(s->profile, code);
	else
		sc->pidx = 0;
	if (sid >= s->next_sid)
		s->next_sid = sid + 1;
	return sc;
}

/* Makes sure the scope's row exists in this transaction. Cheap and
 * idempotent; done per batch rather than once, so that a rolled-back batch
 * that first created the row cannot leave counters pointing nowhere. */
static int stats__scope_store(kdc_stats *s, const struct scope *sc)
{
	sqlite3_stmt *st = stats__stmt(s, Q_SCOPE_INS);

	sqlite3_bind_int64(st, 1, sc->sid);
	sqlite3_bind_int(st, 2, sc->kind);
	sqlite3_bind_text(st, 3, sc->code, -1, SQLITE_STATIC);
	return stats__run(s, st, "insert st_scope");
}

/* The scope of an event's khóm or team, created on first sight. */
static struct scope *stats__scope_for(kdc_stats *s, int kind, const char *code)
{
	struct scope *sc = stats__scope_find(s, kind, code);

	if (sc)
		return sc;
	sc = stats__scope_add(s, s->next_sid, kind, code, 0);
	if (sc && sc->pidx < 0)
		kdc_warn("stats: %s %s is not in the ward profile: its events are counted under "
		         "\"unassigned\" %s %s (add a [%s %s] section to give it denominators)",
		         kind == SCOPE_KHOM ? "khóm" : "team", code, scope_names[kind], code,
		         scope_names[kind], code);
	return sc;
}

static int stats__load_scopes(kdc_stats *s)
{
	sqlite3_stmt *st = NULL;
	int rc = KDC_OK, step;

	if (sqlite3_prepare_v2(s->db, "SELECT sid, kind, code, seq FROM st_scope ORDER BY sid",
	                       -1, &st, NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, "read st_scope");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 1);
		const char *code = (const char *)sqlite3_column_text(st, 2);
		struct scope *sc;

		if (kind < SCOPE_WARD || kind > SCOPE_TEAM || !code)
			continue;
		sc = stats__scope_add(s, sqlite3_column_int64(st, 0), kind, code,
		                      sqlite3_column_int64(st, 3));
		if (!sc) {
			rc = KDC_ERR_NOMEM;
			goto cleanup;
		}
		if (sc->pidx < 0)
			kdc_warn("stats: %s %s has events but is not in the ward profile: counted as unassigned",
			         kind == SCOPE_KHOM ? "khóm" : "team", code);
	}
	if (step != SQLITE_DONE)
		rc = stats__dberr(s, step, "read st_scope");
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* The ward and every khóm and team of the profile are published even
 * before their first event: the ward wants to see 0 of 186. */
static int stats__register_profile_scopes(kdc_stats *s)
{
	const struct kdc_profile *p = s->profile;
	struct scope *sc;
	int rc;

	if (!(sc = stats__scope_find(s, SCOPE_WARD, "")) &&
	    !(sc = stats__scope_add(s, s->next_sid, SCOPE_WARD, "", 0)))
		return KDC_ERR_NOMEM;
	s->ward_index = (size_t)(sc - s->scopes);
	if ((rc = stats__scope_store(s, sc)))
		return rc;
	for (size_t i = 0; i < p->nkhoms; i++) {
		if (!(sc = stats__scope_for(s, SCOPE_KHOM, p->khoms[i].code)))
			return KDC_ERR_NOMEM;
		if ((rc = stats__scope_store(s, sc)))
			return rc;
	}
	for (size_t i = 0; i < p->nteams; i++) {
		if (!(sc = stats__scope_for(s, SCOPE_TEAM, p->teams[i].code)))
			return KDC_ERR_NOMEM;
		if ((rc = stats__scope_store(s, sc)))
			return rc;
	}
	return KDC_OK;
}

/* ---- open / free ------------------------------------------------------------ */

static int stats__table_exists(kdc_stats *s, const char *name, int *exists)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, "read sqlite_master");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, "read sqlite_master");
}

static int stats__events_any(kdc_stats *s, int *any)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM events LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, "read events");
	rc = sqlite3_step(st);
	*any = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, "read events");
}

/* Prepares each multi_sql statement with one row and with MULTI_ROWS rows. */
static int stats__prepare_multi(kdc_stats *s, char *err, size_t errlen)
{
	for (int i = 0; i < M_COUNT; i++) {
		size_t rowlen = strlen(multi_sql[i].row);
		size_t len = strlen(multi_sql[i].head) + MULTI_ROWS * (rowlen + 1) +
		             strlen(multi_sql[i].tail) + 1;
		char *sql = malloc(len);

		if (!sql) {
			snprintf(err, errlen, "out of memory");
			return KDC_ERR_NOMEM;
		}
		for (int k = 0; k < 2; k++) {
			int rows = k ? MULTI_ROWS : 1, src;
			char *p = sql;

			p += sprintf(p, "%s", multi_sql[i].head);
			for (int r = 0; r < rows; r++)
				p += sprintf(p, "%s%s", r ? "," : "", multi_sql[i].row);
			sprintf(p, "%s", multi_sql[i].tail);
			src = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			                         &s->multi[i][k], NULL);
			if (src != SQLITE_OK) {
				snprintf(err, errlen, "cannot prepare statistics statement %s: %s",
				         multi_sql[i].what, sqlite3_errmsg(s->db));
				free(sql);
				return KDC_ERR_DB;
			}
		}
		free(sql);
	}
	return KDC_OK;
}

/* Creates the tables and decides whether the derived state must be rebuilt:
 * tables new while events exist (an older database), or days cut at another
 * UTC offset than the profile's now. */
static int stats__schema(kdc_stats *s, int *need_rebuild, char *err, size_t errlen)
{
	int64_t v;
	int found, rc, events_exist = 0, any = 0;

	*need_rebuild = 0;
	if ((rc = stats__exec(s, schema_sql))) {
		snprintf(err, errlen, "cannot create statistics tables: %s", sqlite3_errmsg(s->db));
		return rc;
	}
	for (int i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare statistics statement %d: %s", i,
			         sqlite3_errmsg(s->db));
			return KDC_ERR_DB;
		}
	if ((rc = stats__prepare_multi(s, err, errlen)))
		return rc;
	if ((rc = stats__table_exists(s, "events", &events_exist)))
		goto dberr;
	if (events_exist && (rc = stats__events_any(s, &any)))
		goto dberr;
	if ((rc = stats__meta_get(s, "schema", &v, &found)))
		goto dberr;
	if (!found) {
		if ((rc = stats__meta_set(s, "schema", STATS_SCHEMA)) ||
		    (rc = stats__meta_set(s, "utc_offset_min", s->profile->utc_offset_min)) ||
		    (rc = stats__meta_set(s, "rejected_total", 0)))
			goto dberr;
		*need_rebuild = any;
		return KDC_OK;
	}
	if (v != STATS_SCHEMA) {
		snprintf(err, errlen, "statistics tables have schema version %lld; this program knows %d",
		         (long long)v, STATS_SCHEMA);
		return KDC_ERR_DB;
	}
	if ((rc = stats__meta_get(s, "utc_offset_min", &v, &found)))
		goto dberr;
	if (!found || v != s->profile->utc_offset_min) {
		kdc_notice("stats: the profile's utc_offset changed (%lld -> %d minutes): recomputing days",
		           found ? (long long)v : 0LL, s->profile->utc_offset_min);
		if ((rc = stats__meta_set(s, "utc_offset_min", s->profile->utc_offset_min)))
			goto dberr;
		*need_rebuild = any;
	}
	if ((rc = stats__meta_get(s, "rejected_total", &s->rejected_total, &found)))
		goto dberr;
	return KDC_OK;
dberr:
	snprintf(err, errlen, "statistics tables: %s", sqlite3_errmsg(s->db));
	return rc;
}

kdc_stats *kdc_stats_open(sqlite3 *db, const struct kdc_profile *profile,
                          char *err, size_t errlen)
{
	kdc_stats *s = calloc(1, sizeof *s);
	int need_rebuild = 0, rc, in_sp = 0;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->db = db;
	s->next_sid = 1;
	if (!profile) {
		s->own_profile = kdc_profile_new_default(NULL);
		if (!s->own_profile) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		s->own_profile->ntargets = 0;
		profile = s->own_profile;
	}
	s->profile = profile;
	hmap_init(&s->scope_index, sizeof(struct scope_key), sizeof(struct scope_ref));
	hmap_init(&s->days, sizeof(struct k_day), sizeof(struct v_day));
	hmap_init(&s->hours, sizeof(struct k_hour), sizeof(struct v_hour));
	hmap_init(&s->devs, sizeof(struct k_dev), sizeof(struct v_dev));
	hmap_init(&s->hhs, sizeof(struct k_hh), sizeof(struct v_hh));
	hmap_init(&s->persons, sizeof(struct k_person), sizeof(struct v_person));
	hmap_init(&s->paydays, sizeof(struct k_payday), sizeof(struct v_payday));
	hmap_init(&s->hists, sizeof(struct k_hist), sizeof(struct v_hist));
	hmap_init(&s->hh_cache, sizeof(struct k_hh), sizeof(struct c_hh));
	hmap_init(&s->person_cache, sizeof(struct k_person), sizeof(struct c_person));
	hmap_init(&s->payday_cache, sizeof(struct k_pidday), sizeof(struct c_pidday));
	s->data_version = -1;
	sqlite3_rollback_hook(db, stats__on_rollback, s);

	if (stats__exec(s, "SAVEPOINT st_open")) {
		snprintf(err, errlen, "cannot open a transaction: %s", sqlite3_errmsg(db));
		goto fail;
	}
	in_sp = 1;
	if (stats__schema(s, &need_rebuild, err, errlen))
		goto fail;
	if ((rc = stats__load_scopes(s)) || (rc = stats__register_profile_scopes(s))) {
		snprintf(err, errlen, "statistics scopes: %s", rc == KDC_ERR_NOMEM ? "out of memory" :
		         sqlite3_errmsg(db));
		goto fail;
	}
	/* inside st_open: a failed rebuild leaves the old tables and settings */
	if (need_rebuild) {
		kdc_notice("stats: recomputing the statistics from the stored events");
		if ((rc = kdc_stats_rebuild(s))) {
			snprintf(err, errlen, "rebuilding statistics: %s", kdc_strerror(rc));
			goto fail;
		}
	}
	if (stats__exec(s, "RELEASE st_open")) {
		snprintf(err, errlen, "cannot commit: %s", sqlite3_errmsg(db));
		goto fail;
	}
	in_sp = 0;
	return s;
fail:
	if (in_sp) {
		sqlite3_exec(db, "ROLLBACK TO st_open", NULL, NULL, NULL);
		sqlite3_exec(db, "RELEASE st_open", NULL, NULL, NULL);
	}
	kdc_stats_free(s);
	return NULL;
}

void kdc_stats_free(kdc_stats *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; i < M_COUNT; i++) {
		sqlite3_finalize(s->multi[i][0]);
		sqlite3_finalize(s->multi[i][1]);
	}
	for (size_t i = 0; i < s->nscopes; i++)
		cJSON_free(s->scopes[i].last_body);
	free(s->scopes);
	hmap_free(&s->scope_index);
	hmap_free(&s->days);
	hmap_free(&s->hours);
	hmap_free(&s->devs);
	hmap_free(&s->hhs);
	hmap_free(&s->persons);
	hmap_free(&s->paydays);
	hmap_free(&s->hists);
	hmap_free(&s->hh_cache);
	hmap_free(&s->person_cache);
	hmap_free(&s->payday_cache);
	if (s->db)
		sqlite3_rollback_hook(s->db, NULL, NULL);
	kdc_profile_free(s->own_profile);
	free(s);
}

/* ---- apply: fold a batch in memory ------------------------------------------ */

static void stats__touch(struct scope *sc, const struct kdc_event_row *r)
{
	sc->touched = 1;
	sc->dirty = 1;
	sc->delta.ev[r->kind]++;
	if (r->kind == KDC_KIND_PAYMENT)
		sc->delta.pay_amount += r->amount_vnd;
	if (!sc->delta.has_latest || r->occurred_ms > sc->delta.latest_ms) {
		sc->delta.latest_ms = r->occurred_ms;
		sc->delta.has_latest = 1;
	}
}


/* Which time-bucketed rows an event can ever matter for. Snapshots look at
 * most SERIES_DAYS days and 24 hours back from their `now`, and `now` is never
 * before the moment the event was stored (received_ms, the same wall clock):
 * an event already older than that when it arrived (a backlog, a rebuild of
 * years of events) cannot enter those windows again, so its day and hour rows
 * are not written. The rule depends on the row only, so a rebuild writes
 * exactly the same rows. One unit of margin absorbs small clock steps. */
struct fold_keep {
	int day, hour, payday;
};

static struct fold_keep stats__keep(const kdc_stats *s, const struct kdc_event_row *r,
                                    int64_t day, int64_t hour)
{
	const int off = s->profile->utc_offset_min;
	const int64_t rday = kdc_local_day(r->received_ms, off);
	struct fold_keep k;

	k.day = day >= rday - SERIES_DAYS;
	k.hour = hour >= kdc_local_hour(r->received_ms, off) - 24;
	/* paydays: the value 30 days ago looks back a whole "regularly" window */
	k.payday = day >= rday - KDC_PACE_DAYS - KDC_PROFILE_MAX_WINDOW - 1;
	return k;
}

static int stats__fold_counters(kdc_stats *s, int64_t sid, const struct kdc_event_row *r,
                                int64_t day, int64_t hour, struct fold_keep keep)
{
	struct k_day kd;
	struct k_hour kh;
	struct k_dev kv;
	struct v_day *vd;
	struct v_hour *vh;
	struct v_dev *vv;
	char team[KDC_CODE_MAX + 1];
	int created;

	if (keep.day) {
		memset(&kd, 0, sizeof kd);
		kd.sid = sid;
		kd.day = day;
		kd.kind = r->kind;
		/* only services are shown per sub-kind: fewer rows for the rest */
		kd.sub = r->kind == KDC_KIND_SERVICE ? r->subkind : 0;
		if (!(vd = hmap_get(&s->days, &kd, &created)))
			return KDC_ERR_NOMEM;
		vd->n++;
		if (r->kind == KDC_KIND_PAYMENT)
			vd->amount += r->amount_vnd;
	}
	if (keep.hour) {
		memset(&kh, 0, sizeof kh);
		kh.sid = sid;
		kh.hour = hour;
		kh.kind = r->kind;
		if (!(vh = hmap_get(&s->hours, &kh, &created)))
			return KDC_ERR_NOMEM;
		vh->n++;
	}

	memset(&kv, 0, sizeof kv);
	kv.sid = sid;
	COPY_CODE(kv.device, r->device);
	if (!(vv = hmap_get(&s->devs, &kv, &created)))
		return KDC_ERR_NOMEM;
	COPY_CODE(team, r->team);
	if (created || r->occurred_ms > vv->last_ms ||
	    (r->occurred_ms == vv->last_ms && strcmp(team, vv->team) > 0)) {
		vv->last_ms = r->occurred_ms;
		memcpy(vv->team, team, sizeof team);
	}
	vv->n++;
	return KDC_OK;
}

static void stats__invalidate_d0(struct scope *sc, int64_t day)
{
	if (sc->d0_valid && day <= sc->d0)
		sc->d0_valid = 0;
}

/* Household and person facts go to the khóm's and the team's rows; the ward
 * mirrors the khóm's (see the top of this file). */
static int stats__fold_entities(kdc_stats *s, const struct scope *sc, const struct kdc_event_row *r,
                                int64_t day, struct fold_keep keep)
{
	const int64_t sid = sc->sid;
	const uint32_t scope = (uint32_t)(sc - s->scopes);
	int created;

	if (r->kind == KDC_KIND_VISIT || r->kind == KDC_KIND_ACCOUNT) {
		struct k_hh k;
		struct v_hh *v;

		memset(&k, 0, sizeof k);
		k.sid = sid;
		COPY_CODE(k.khom, r->khom);
		COPY_CODE(k.household, r->household);
		if (!(v = hmap_get(&s->hhs, &k, &created)))
			return KDC_ERR_NOMEM;
		v->scope = scope;
		if (r->kind == KDC_KIND_VISIT) {
			if (!v->has_visit || day < v->visit_day)
				v->visit_day = day;
			v->has_visit = 1;
			if (r->subkind == OUTCOME_SURVEYED)
				v->surveyed = 1;
		} else {
			if (!v->has_reach || day < v->reach_day)
				v->reach_day = day;
			v->has_reach = 1;
		}
	}
	if ((r->kind == KDC_KIND_ACCOUNT && r->subkind > 0 && r->subkind < NACCT) ||
	    r->kind == KDC_KIND_PAYMENT) {
		struct k_person k;
		struct v_person *v;

		memset(&k, 0, sizeof k);
		k.sid = sid;
		COPY_CODE(k.khom, r->khom);
		COPY_CODE(k.household, r->household);
		k.member = r->member;
		if (!(v = hmap_get(&s->persons, &k, &created)))
			return KDC_ERR_NOMEM;
		v->scope = scope;
		if (r->kind == KDC_KIND_ACCOUNT) {
			v->bits |= 1u << r->subkind;
			if (r->subkind == ACCT_PAYMENT && (!v->has_acct_pay || day < v->acct_pay_day)) {
				v->acct_pay_day = day;
				v->has_acct_pay = 1;
			}
		} else {
			struct k_payday kp;

			if (!v->has_pay || day > v->last_pay_day)
				v->last_pay_day = day;
			v->has_pay = 1;
			if (keep.payday) {
				memset(&kp, 0, sizeof kp);
				kp.p = k;
				kp.day = day;
				if (!hmap_get(&s->paydays, &kp, &created))
					return KDC_ERR_NOMEM;
			}
		}
	}
	return KDC_OK;
}

static int stats__fold_row(kdc_stats *s, const struct kdc_event_row *r)
{
	const int off = s->profile->utc_offset_min;
	int64_t day = kdc_local_day(r->occurred_ms, off);
	int64_t hour = kdc_local_hour(r->occurred_ms, off);
	char kcode[KDC_CODE_MAX + 1], tcode[KDC_CODE_MAX + 1];
	struct scope *ward, *khom, *team;
	struct fold_keep keep;
	size_t ki;
	int rc;

	if (r->kind < 0 || r->kind >= NKIND) {
		kdc_debug("stats: event of unknown kind %d ignored", r->kind);
		return KDC_OK;
	}
	COPY_CODE(kcode, r->khom);
	COPY_CODE(tcode, r->team);
	/* indices, not pointers: adding the team's scope may move the array */
	if (!(khom = stats__scope_for(s, SCOPE_KHOM, kcode)))
		return KDC_ERR_NOMEM;
	ki = (size_t)(khom - s->scopes);
	if (!(team = stats__scope_for(s, SCOPE_TEAM, tcode)))
		return KDC_ERR_NOMEM;
	/* from here on no scope is added: the three pointers stay valid */
	khom = &s->scopes[ki];
	ward = &s->scopes[s->ward_index];
	stats__touch(ward, r);
	stats__touch(khom, r);
	stats__touch(team, r);
	keep = stats__keep(s, r, day, hour);
	if ((rc = stats__fold_counters(s, ward->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_counters(s, khom->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_counters(s, team->sid, r, day, hour, keep)) ||
	    (rc = stats__fold_entities(s, khom, r, day, keep)) ||
	    (rc = stats__fold_entities(s, team, r, day, keep)))
		return rc;
	if (r->kind == KDC_KIND_PAYMENT ||
	    (r->kind == KDC_KIND_ACCOUNT && r->subkind == ACCT_PAYMENT)) {
		stats__invalidate_d0(ward, day);
		stats__invalidate_d0(khom, day);
		stats__invalidate_d0(team, day);
	}
	return KDC_OK;
}

/* ---- apply: write the batch ---------------------------------------------- */

static int stats__hist_add(kdc_stats *s, int64_t sid, int what, int64_t day, int64_t n)
{
	struct k_hist k;
	struct v_hist *v;
	int created;

	memset(&k, 0, sizeof k);
	k.sid = sid;
	k.what = what;
	k.day = day;
	if (!(v = hmap_get(&s->hists, &k, &created)))
		return KDC_ERR_NOMEM;
	v->n += n;
	return KDC_OK;
}

/* A household's or person's date moved (or appeared): move it between the
 * histogram's days, for its scope and, for a khóm, for the ward too. */
static int stats__hist_move(kdc_stats *s, const struct scope *sc, struct scope *ward, int what,
                            int had, int64_t old_day, int has, int64_t new_day)
{
	int rc;

	if (had == has && (!had || old_day == new_day))
		return KDC_OK;
	for (int i = 0; i < 2; i++) {
		int64_t sid = i == 0 ? sc->sid : ward->sid;
		if (i == 1 && sc->kind != SCOPE_KHOM)
			break;
		if (had && (rc = stats__hist_add(s, sid, what, old_day, -1)))
			return rc;
		if (has && (rc = stats__hist_add(s, sid, what, new_day, 1)))
			return rc;
	}
	return KDC_OK;
}

/* Adds 1 to a counter of sc and, when sc is a khóm, of the ward as well. */
#define BUMP(sc, ward, field) \
	do { \
		(sc)->delta.field++; \
		(sc)->touched = 1; \
		if ((sc)->kind == SCOPE_KHOM) { \
			(ward)->delta.field++; \
			(ward)->touched = 1; \
		} \
	} while (0)

static int stats__flush_households(kdc_stats *s, struct scope *ward)
{
	for (size_t i = 0; i < s->hhs.len; i++) {
		const struct k_hh *k = HMAP_KEY(&s->hhs, i);
		const struct v_hh *v = HMAP_VAL(&s->hhs, i);
		struct scope *sc = &s->scopes[v->scope];
		struct c_hh *c;
		sqlite3_stmt *st;
		int had_visit, had_reach, was_surveyed, has_visit, has_reach, surveyed, rc;
		int64_t old_visit, old_reach, new_visit, new_reach;

		if (!(c = stats__hh_row(s, k, &rc)))
			return rc;
		had_visit = c->has_visit;
		old_visit = c->visit_day;
		had_reach = c->has_reach;
		old_reach = c->reach_day;
		was_surveyed = c->surveyed;

		has_visit = had_visit || v->has_visit;
		new_visit = !had_visit ? v->visit_day :
		            (v->has_visit && v->visit_day < old_visit) ? v->visit_day : old_visit;
		has_reach = had_reach || v->has_reach;
		new_reach = !had_reach ? v->reach_day :
		            (v->has_reach && v->reach_day < old_reach) ? v->reach_day : old_reach;
		surveyed = was_surveyed || v->surveyed;
		if (has_visit == had_visit && surveyed == was_surveyed && has_reach == had_reach &&
		    (!had_visit || new_visit == old_visit) && (!had_reach || new_reach == old_reach))
			continue;

		st = stats__stmt(s, Q_HH_PUT);
		sqlite3_bind_int64(st, 1, k->sid);
		sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
		bind_opt_day(st, 4, has_visit, new_visit);
		bind_opt_day(st, 5, has_reach, new_reach);
		sqlite3_bind_int(st, 6, surveyed);
		if ((rc = stats__run(s, st, "write st_household")))
			return rc;
		c->has_visit = has_visit;
		c->visit_day = has_visit ? new_visit : 0;
		c->has_reach = has_reach;
		c->reach_day = has_reach ? new_reach : 0;
		c->surveyed = surveyed;
		if (has_visit && !had_visit)
			BUMP(sc, ward, hh_visited);
		if (surveyed && !was_surveyed)
			BUMP(sc, ward, hh_surveyed);
		if (has_reach && !had_reach)
			BUMP(sc, ward, hh_reached);
		if ((rc = stats__hist_move(s, sc, ward, HIST_VISIT, had_visit, old_visit, has_visit, new_visit)) ||
		    (rc = stats__hist_move(s, sc, ward, HIST_REACH, had_reach, old_reach, has_reach, new_reach)))
			return rc;
	}
	return KDC_OK;
}

static int stats__flush_persons(kdc_stats *s, struct scope *ward)
{
	struct multi_buf b;

	for (size_t i = 0; i < s->persons.len; i++) {
		const struct k_person *k = HMAP_KEY(&s->persons, i);
		struct v_person *v = HMAP_VAL(&s->persons, i);
		struct scope *sc = &s->scopes[v->scope];
		struct c_person *c;
		sqlite3_stmt *st;
		int found, had_acct, had_pay, has_acct, has_pay, rc;
		uint32_t old_bits, bits;
		int64_t old_acct, old_pay, new_acct, new_pay;

		if (!(c = stats__person_row(s, k, &rc)))
			return rc;
		found = c->found;
		old_bits = c->bits;
		had_acct = c->has_acct;
		old_acct = c->acct_pay_day;
		had_pay = c->has_pay;
		old_pay = c->last_pay_day;

		bits = old_bits | v->bits;
		has_acct = had_acct || v->has_acct_pay;
		new_acct = !had_acct ? v->acct_pay_day :
		           (v->has_acct_pay && v->acct_pay_day < old_acct) ? v->acct_pay_day : old_acct;
		has_pay = had_pay || v->has_pay;
		new_pay = !had_pay ? v->last_pay_day :
		          (v->has_pay && v->last_pay_day > old_pay) ? v->last_pay_day : old_pay;

		if (!found) {
			st = stats__stmt(s, Q_PERSON_INS);
			sqlite3_bind_int64(st, 1, k->sid);
			sqlite3_bind_text(st, 2, k->khom, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, k->household, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 4, k->member);
			sqlite3_bind_int64(st, 5, bits);
			bind_opt_day(st, 6, has_acct, new_acct);
			bind_opt_day(st, 7, has_pay, new_pay);
			if ((rc = stats__run(s, st, "insert st_person")))
				return rc;
			c->found = 1;
			c->pid = sqlite3_last_insert_rowid(s->db);
		} else if (bits != old_bits || has_acct != had_acct || has_pay != had_pay ||
		           new_acct != old_acct || new_pay != old_pay) {
			st = stats__stmt(s, Q_PERSON_UPD);
			sqlite3_bind_int64(st, 1, c->pid);
			sqlite3_bind_int64(st, 2, bits);
			bind_opt_day(st, 3, has_acct, new_acct);
			bind_opt_day(st, 4, has_pay, new_pay);
			if ((rc = stats__run(s, st, "update st_person")))
				return rc;
		}
		c->bits = bits;
		c->has_acct = has_acct;
		c->acct_pay_day = has_acct ? new_acct : 0;
		c->has_pay = has_pay;
		c->last_pay_day = has_pay ? new_pay : 0;
		v->pid = c->pid;
		for (int kind = 1; kind < NACCT; kind++)
			if ((bits & (1u << kind)) && !(old_bits & (1u << kind)))
				BUMP(sc, ward, acct[kind]);
		if ((rc = stats__hist_move(s, sc, ward, HIST_PAYACCT, had_acct, old_acct, has_acct, new_acct)) ||
		    (rc = stats__hist_move(s, sc, ward, HIST_LASTPAY, had_acct && had_pay, old_pay,
		                           has_acct && has_pay, new_pay)))
			return rc;
	}
	b.id = M_PAYDAY;
	b.nrows = 0;
	for (size_t i = 0; i < s->paydays.len; i++) {
		const struct k_payday *k = HMAP_KEY(&s->paydays, i);
		const struct v_person *p = hmap_find(&s->persons, &k->p);
		struct k_pidday kd;
		int64_t row[3];
		int rc, created;

		if (!p)
			return KDC_ERR_DB;
		memset(&kd, 0, sizeof kd);
		kd.pid = p->pid;
		kd.day = k->day;
		if (!stats__cache_get(&s->payday_cache, &kd, &created))
			return KDC_ERR_NOMEM;
		if (!created)
			continue; /* the row is there already */
		row[0] = k->p.sid;
		row[1] = k->day;
		row[2] = p->pid;
		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	return stats__multi_end(s, &b);
}

static int stats__flush_counters(kdc_stats *s)
{
	struct multi_buf b;
	int rc;

	b.id = M_DAY;
	b.nrows = 0;
	for (size_t i = 0; i < s->days.len; i++) {
		const struct k_day *k = HMAP_KEY(&s->days, i);
		const struct v_day *v = HMAP_VAL(&s->days, i);
		const int64_t row[6] = { k->sid, k->day, k->kind, k->sub, v->n, v->amount };

		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	b.id = M_HOUR;
	for (size_t i = 0; i < s->hours.len; i++) {
		const struct k_hour *k = HMAP_KEY(&s->hours, i);
		const struct v_hour *v = HMAP_VAL(&s->hours, i);
		const int64_t row[4] = { k->sid, k->hour, k->kind, v->n };

		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	for (size_t i = 0; i < s->devs.len; i++) {
		const struct k_dev *k = HMAP_KEY(&s->devs, i);
		const struct v_dev *v = HMAP_VAL(&s->devs, i);
		sqlite3_stmt *st = stats__stmt(s, Q_DEV_UP);

		sqlite3_bind_int64(st, 1, k->sid);
		sqlite3_bind_text(st, 2, k->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v->team, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, v->last_ms);
		sqlite3_bind_int64(st, 5, v->n);
		if ((rc = stats__run(s, st, "write st_device")))
			return rc;
	}
	b.id = M_HIST;
	for (size_t i = 0; i < s->hists.len; i++) {
		const struct k_hist *k = HMAP_KEY(&s->hists, i);
		const struct v_hist *v = HMAP_VAL(&s->hists, i);
		const int64_t row[4] = { k->sid, k->what, k->day, v->n };

		if (v->n == 0)
			continue;
		if ((rc = stats__multi_add(s, &b, row)))
			return rc;
	}
	if ((rc = stats__multi_end(s, &b)))
		return rc;
	for (size_t i = 0; i < s->nscopes; i++) {
		struct scope *sc = &s->scopes[i];
		const struct counters *d = &sc->delta;
		sqlite3_stmt *st;

		if (!sc->touched)
			continue;
		if ((rc = stats__scope_store(s, sc)))
			return rc;
		st = stats__stmt(s, Q_SCOPE_UP);
		sqlite3_bind_int64(st, 1, sc->sid);
		for (int k = 0; k < NKIND; k++)
			sqlite3_bind_int64(st, 2 + k, d->ev[k]);
		sqlite3_bind_int64(st, 6, d->pay_amount);
		sqlite3_bind_int64(st, 7, d->hh_visited);
		sqlite3_bind_int64(st, 8, d->hh_surveyed);
		sqlite3_bind_int64(st, 9, d->hh_reached);
		for (int k = 1; k < NACCT; k++)
			sqlite3_bind_int64(st, 9 + k, d->acct[k]);
		bind_opt_day(st, 14, d->has_latest, d->latest_ms);
		if ((rc = stats__run(s, st, "update st_scope")))
			return rc;
	}
	return KDC_OK;
}

static void stats__batch_reset(kdc_stats *s)
{
	hmap_clear(&s->days);
	hmap_clear(&s->hours);
	hmap_clear(&s->devs);
	hmap_clear(&s->hhs);
	hmap_clear(&s->persons);
	hmap_clear(&s->paydays);
	hmap_clear(&s->hists);
	for (size_t i = 0; i < s->nscopes; i++) {
		s->scopes[i].touched = 0;
		memset(&s->scopes[i].delta, 0, sizeof s->scopes[i].delta);
	}
}

int kdc_stats_apply(kdc_stats *s, const struct kdc_event_row *rows, size_t n)
{
	struct scope *ward;
	int rc = KDC_OK;

	if (n == 0)
		return KDC_OK;
	stats__batch_reset(s);
	if ((rc = stats__cache_check(s)))
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		if ((rc = stats__fold_row(s, &rows[i])))
			goto cleanup;
	if (!(ward = stats__scope_find(s, SCOPE_WARD, ""))) {
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	if ((rc = stats__flush_households(s, ward)) ||
	    (rc = stats__flush_persons(s, ward)) ||
	    (rc = stats__flush_counters(s)))
		goto cleanup;
cleanup:
	/* some rows may be written and others not: the caller rolls back, and
	 * the caches must not outlive that */
	if (rc)
		s->cache_stale = 1;
	stats__batch_reset(s);
	return rc;
}

int kdc_stats_rejected(kdc_stats *s, size_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (n == 0)
		return KDC_OK;
	st = stats__stmt(s, Q_META_ADD);
	sqlite3_bind_text(st, 1, "rejected_total", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)n);
	if ((rc = stats__run(s, st, "count rejected")))
		return rc;
	/* s->rejected_total is re-read at publish: this transaction may still
	 * roll back */
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].dirty = 1;
	return KDC_OK;
}

/* ---- rebuild ------------------------------------------------------------- */

static void row_text(sqlite3_stmt *st, int col, char *dst)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	COPY_CODE(dst, t ? (const char *)t : "");
}

static void stats__read_row(sqlite3_stmt *st, struct kdc_event_row *r)
{
	const void *id = sqlite3_column_blob(st, 0);
	int idlen = sqlite3_column_bytes(st, 0);

	memset(r, 0, sizeof *r);
	if (id)
		memcpy(r->id, id, idlen < KDC_UUID_LEN ? (size_t)idlen : KDC_UUID_LEN);
	r->seq = sqlite3_column_int64(st, 1);
	r->occurred_ms = sqlite3_column_int64(st, 2);
	r->received_ms = sqlite3_column_int64(st, 3);
	row_text(st, 4, r->ward);
	row_text(st, 5, r->khom);
	row_text(st, 6, r->team);
	row_text(st, 7, r->device);
	row_text(st, 8, r->household);
	r->member = sqlite3_column_int(st, 9);
	r->kind = sqlite3_column_int(st, 10);
	r->subkind = sqlite3_column_int(st, 11);
	r->method = sqlite3_column_int(st, 12);
	r->amount_vnd = sqlite3_column_int64(st, 13);
	r->members = sqlite3_column_int(st, 14);
	r->members_15plus = sqlite3_column_int(st, 15);
	r->smartphones = sqlite3_column_int(st, 16);
	r->needs = (uint32_t)sqlite3_column_int64(st, 17);
}

static int stats__refold(kdc_stats *s)
{
	sqlite3_stmt *st = NULL;
	struct kdc_event_row *rows = NULL;
	size_t n = 0;
	int64_t total = 0;
	int rc = KDC_OK, step;

	rows = malloc(REBUILD_CHUNK * sizeof *rows);
	if (!rows)
		return KDC_ERR_NOMEM;
	if (sqlite3_prepare_v2(s->db,
	        "SELECT id, seq, occurred_ms, received_ms, ward, khom, team, device, household, member, "
	        "kind, subkind, method, amount_vnd, members, members_15plus, smartphones, needs "
	        "FROM events ORDER BY occurred_ms, id", -1, &st, NULL) != SQLITE_OK) {
		rc = stats__dberr(s, SQLITE_ERROR, "read events");
		goto cleanup;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		stats__read_row(st, &rows[n++]);
		if (n == REBUILD_CHUNK) {
			if ((rc = kdc_stats_apply(s, rows, n)))
				goto cleanup;
			total += (int64_t)n;
			n = 0;
		}
	}
	if (step != SQLITE_DONE) {
		rc = stats__dberr(s, step, "read events");
		goto cleanup;
	}
	if (n && (rc = kdc_stats_apply(s, rows, n)))
		goto cleanup;
	total += (int64_t)n;
	kdc_info("stats: rebuilt from %lld stored events", (long long)total);
cleanup:
	sqlite3_finalize(st);
	free(rows);
	return rc;
}

static int stats__recount_rejected(kdc_stats *s)
{
	sqlite3_stmt *st = NULL;
	int exists = 0, rc;
	int64_t n = 0;

	if ((rc = stats__table_exists(s, "rejected", &exists)))
		return rc;
	if (exists) {
		if (sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM rejected", -1, &st, NULL) != SQLITE_OK)
			return stats__dberr(s, SQLITE_ERROR, "count rejected");
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = stats__dberr(s, rc, "count rejected");
			sqlite3_finalize(st);
			return rc;
		}
		n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	/* refused payloads purged by the per-device budget count too */
	if ((rc = stats__table_exists(s, "rejected_dropped", &exists)))
		return rc;
	if (exists) {
		if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(SUM(dropped), 0) FROM rejected_dropped",
		                       -1, &st, NULL) != SQLITE_OK)
			return stats__dberr(s, SQLITE_ERROR, "count rejected_dropped");
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = stats__dberr(s, rc, "count rejected_dropped");
			sqlite3_finalize(st);
			return rc;
		}
		n += sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if ((rc = stats__meta_set(s, "rejected_total", n)))
		return rc;
	s->rejected_total = n;
	return KDC_OK;
}

int kdc_stats_rebuild(kdc_stats *s)
{
	int rc;

	if ((rc = stats__exec(s, "SAVEPOINT st_rebuild")))
		return rc;
	if ((rc = stats__exec(s, "DELETE FROM st_day; DELETE FROM st_hour; DELETE FROM st_device;"
	                         "DELETE FROM st_household; DELETE FROM st_person; DELETE FROM st_payday;"
	                         "DELETE FROM st_hist;"
	                         "UPDATE st_scope SET ev_visit=0, ev_account=0, ev_payment=0, ev_service=0,"
	                         " pay_amount=0, hh_visited=0, hh_surveyed=0, hh_reached=0, acct_portal=0,"
	                         " acct_vneid=0, acct_app=0, acct_payment=0, latest_ms=NULL;")))
		goto fail;
	stats__cache_drop(s);
	if ((rc = stats__refold(s)) || (rc = stats__recount_rejected(s)))
		goto fail;
	if ((rc = stats__exec(s, "RELEASE st_rebuild")))
		goto fail;
	/* publish everything again, even where the numbers did not change:
	 * whoever asked for a rebuild wants to see its result */
	for (size_t i = 0; i < s->nscopes; i++) {
		s->scopes[i].dirty = 1;
		s->scopes[i].d0_valid = 0;
		cJSON_free(s->scopes[i].last_body);
		s->scopes[i].last_body = NULL;
	}
	return KDC_OK;
fail:
	sqlite3_exec(s->db, "ROLLBACK TO st_rebuild", NULL, NULL, NULL);
	sqlite3_exec(s->db, "RELEASE st_rebuild", NULL, NULL, NULL);
	/* a savepoint's rollback does not call the rollback hook */
	stats__cache_drop(s);
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].d0_valid = 0;
	return rc;
}

/* ---- snapshots ----------------------------------------------------------- */

struct snapshot {
	struct counters c;
	int64_t today, hour;
	int64_t ev24[NKIND], ev7[NKIND], ev30[NKIND];
	int64_t svc30[NSVC];
	int64_t pay30_n, pay30_amount;
	int64_t series[NKIND][SERIES_DAYS];
	int64_t regular_now;
	int64_t hh_total, people_total;
};

static int stats__read_counters(kdc_stats *s, int64_t sid, struct counters *c)
{
	sqlite3_stmt *st = stats__stmt(s, Q_SCOPE_GET);
	int rc;

	memset(c, 0, sizeof *c);
	sqlite3_bind_int64(st, 1, sid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (int k = 0; k < NKIND; k++)
			c->ev[k] = sqlite3_column_int64(st, k);
		c->pay_amount = sqlite3_column_int64(st, 4);
		c->hh_visited = sqlite3_column_int64(st, 5);
		c->hh_surveyed = sqlite3_column_int64(st, 6);
		c->hh_reached = sqlite3_column_int64(st, 7);
		for (int k = 1; k < NACCT; k++)
			c->acct[k] = sqlite3_column_int64(st, 7 + k);
		c->has_latest = sqlite3_column_type(st, 12) != SQLITE_NULL;
		c->latest_ms = sqlite3_column_int64(st, 12);
	}
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, "read st_scope");
}

static int stats__read_windows(kdc_stats *s, int64_t sid, struct snapshot *sn)
{
	const int64_t first = sn->today - (SERIES_DAYS - 1);
	sqlite3_stmt *st = stats__stmt(s, Q_DAYS);
	int rc;

	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_int64(st, 3, sn->today);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t day = sqlite3_column_int64(st, 0);
		int kind = sqlite3_column_int(st, 1), sub = sqlite3_column_int(st, 2);
		int64_t n = sqlite3_column_int64(st, 3), amount = sqlite3_column_int64(st, 4);

		if (kind < 0 || kind >= NKIND)
			continue;
		sn->series[kind][day - first] += n;
		if (day > sn->today - 7)
			sn->ev7[kind] += n;
		if (day > sn->today - 30) {
			sn->ev30[kind] += n;
			if (kind == KDC_KIND_SERVICE && sub > 0 && sub < NSVC)
				sn->svc30[sub] += n;
			if (kind == KDC_KIND_PAYMENT) {
				sn->pay30_n += n;
				sn->pay30_amount += amount;
			}
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return stats__dberr(s, rc, "read st_day");

	st = stats__stmt(s, Q_HOURS);
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, sn->hour - 23);
	sqlite3_bind_int64(st, 3, sn->hour);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		if (kind >= 0 && kind < NKIND)
			sn->ev24[kind] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? KDC_OK : stats__dberr(s, rc, "read st_hour");
}

static int stats__query_int(kdc_stats *s, sqlite3_stmt *st, int64_t *out, const char *what)
{
	int rc = sqlite3_step(st);

	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? KDC_OK : stats__dberr(s, rc, what);
}

/* Histogram sum of days >= from. */
static int stats__hist_from(kdc_stats *s, int64_t sid, int what, int64_t from, int64_t *out)
{
	sqlite3_stmt *st = stats__stmt(s, Q_HIST_FROM);

	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int(st, 2, what);
	sqlite3_bind_int64(st, 3, from);
	return stats__query_int(s, st, out, "read st_hist");
}

/* People with a payment account by day d0 and a payment in the window ending
 * on d0: the "paying regularly" indicator as it stood 30 days ago. */
static int stats__regular_at(kdc_stats *s, struct scope *sc, int64_t d0, int window, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sc->d0_valid && sc->d0 == d0 && sc->d0_window == window) {
		*out = sc->d0_value;
		return KDC_OK;
	}
	st = stats__stmt(s, sc->kind == SCOPE_WARD ? Q_REGULAR_AT_WARD : Q_REGULAR_AT);
	sqlite3_bind_int64(st, 1, sc->sid);
	sqlite3_bind_int64(st, 2, d0 - window + 1);
	sqlite3_bind_int64(st, 3, d0);
	if ((rc = stats__query_int(s, st, out, "count regular payers")))
		return rc;
	sc->d0_valid = 1;
	sc->d0 = d0;
	sc->d0_window = window;
	sc->d0_value = *out;
	return KDC_OK;
}

static void stats__denominators(const kdc_stats *s, const struct scope *sc, struct snapshot *sn)
{
	const struct kdc_profile *p = s->profile;

	sn->hh_total = sn->people_total = 0;
	if (sc->kind == SCOPE_WARD) {
		for (size_t i = 0; i < p->nkhoms; i++) {
			sn->hh_total += p->khoms[i].households;
			sn->people_total += p->khoms[i].people_15plus;
		}
	} else if (sc->kind == SCOPE_KHOM && sc->pidx >= 0) {
		sn->hh_total = p->khoms[sc->pidx].households;
		sn->people_total = p->khoms[sc->pidx].people_15plus;
	} else if (sc->kind == SCOPE_TEAM && sc->pidx >= 0) {
		const struct kdc_profile_team *t = &p->teams[sc->pidx];
		for (size_t i = 0; i < t->nkhoms; i++) {
			sn->hh_total += p->khoms[t->khoms[i]].households;
			sn->people_total += p->khoms[t->khoms[i]].people_15plus;
		}
	}
}

/* ---- JSON ------------------------------------------------------------------ */

/* One target: the indicator's value now and 30 days ago give the pace; the
 * projection is the first day at which that pace reaches the target. */
static int stats__json_target(kdc_stats *s, struct scope *sc, const struct snapshot *sn,
                              const struct kdc_profile_target *t, cJSON *arr)
{
	const int64_t d0 = sn->today - KDC_PACE_DAYS;
	int64_t value = 0, denom = 0, then = 0, after = 0;
	cJSON *o = cJSON_CreateObject();
	int rc = KDC_OK;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return KDC_ERR_NOMEM;
	}
	switch (t->indicator) {
	case KDC_IND_HOUSEHOLDS_VISITED:
		value = sn->c.hh_visited;
		denom = sn->hh_total;
		rc = stats__hist_from(s, sc->sid, HIST_VISIT, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_HOUSEHOLDS_REACHED:
		value = sn->c.hh_reached;
		denom = sn->hh_total;
		rc = stats__hist_from(s, sc->sid, HIST_REACH, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT:
		value = sn->c.acct[ACCT_PAYMENT];
		denom = sn->people_total;
		rc = stats__hist_from(s, sc->sid, HIST_PAYACCT, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_PEOPLE_PAYING_REGULARLY:
		value = sn->regular_now;
		denom = sn->people_total;
		rc = stats__regular_at(s, sc, d0, s->profile->regular_window_days, &then);
		break;
	default:
		return KDC_OK;
	}
	if (rc)
		return rc;
	kdc_json_target(o, t, value, denom, 1, value - then, sn->today);
	return KDC_OK;
}

struct dev_entry {
	char device[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	int64_t last_ms, n;
	int seen;
};

static int dev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dev_entry *)a)->device, ((const struct dev_entry *)b)->device);
}

static int dev_push(struct dev_entry **v, size_t *n, size_t *cap, const char *device,
                    const char *team, int64_t last_ms, int64_t count, int seen)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct dev_entry *nv = realloc(*v, ncap * sizeof *nv);
		if (!nv)
			return KDC_ERR_NOMEM;
		*v = nv;
		*cap = ncap;
	}
	memset(&(*v)[*n], 0, sizeof **v);
	COPY_CODE((*v)[*n].device, device);
	COPY_CODE((*v)[*n].team, team);
	(*v)[*n].last_ms = last_ms;
	(*v)[*n].n = count;
	(*v)[*n].seen = seen;
	(*n)++;
	return KDC_OK;
}

/* Devices seen in the scope, plus the profile's devices of the scope's teams
 * that never sent anything (a silent device is news too). */
static int stats__json_devices(kdc_stats *s, const struct scope *sc, cJSON *obj)
{
	const struct kdc_profile *p = s->profile;
	struct dev_entry *v = NULL;
	size_t n = 0, cap = 0, nseen;
	sqlite3_stmt *st = stats__stmt(s, Q_DEVICES);
	cJSON *arr;
	int rc = KDC_OK, step;

	sqlite3_bind_int64(st, 1, sc->sid);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		const char *team = (const char *)sqlite3_column_text(st, 1);
		if ((rc = dev_push(&v, &n, &cap, dev ? dev : "", team ? team : "",
		                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), 1)))
			break;
	}
	sqlite3_reset(st);
	if (rc)
		goto cleanup;
	if (step != SQLITE_DONE) {
		rc = stats__dberr(s, step, "read st_device");
		goto cleanup;
	}
	nseen = n;
	for (size_t t = 0; t < p->nteams && sc->kind != SCOPE_KHOM; t++) {
		if (sc->kind == SCOPE_TEAM && (long)t != sc->pidx)
			continue;
		for (size_t d = 0; d < p->teams[t].ndevices; d++) {
			int known = 0;
			for (size_t i = 0; i < n && !known; i++)
				known = strcmp(v[i].device, p->teams[t].devices[d]) == 0;
			if (!known && (rc = dev_push(&v, &n, &cap, p->teams[t].devices[d],
			                             p->teams[t].code, 0, 0, 0)))
				goto cleanup;
		}
	}
	if (n > nseen)
		qsort(v, n, sizeof *v, dev_cmp);
	if (!(arr = cJSON_AddArrayToObject(obj, "devices"))) {
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = KDC_ERR_NOMEM;
			goto cleanup;
		}
		cJSON_AddStringToObject(o, "device", v[i].device);
		cJSON_AddStringToObject(o, "team", v[i].team);
		kdc_json_time(o, "last_event", v[i].seen, v[i].last_ms);
		kdc_json_int(o, "events", v[i].n);
	}
cleanup:
	free(v);
	return rc;
}

static const char *scope_name(const kdc_stats *s, const struct scope *sc)
{
	const struct kdc_profile *p = s->profile;

	if (sc->kind == SCOPE_WARD)
		return p->ward_name[0] ? p->ward_name : sc->code;
	if (sc->pidx < 0)
		return sc->code;
	return sc->kind == SCOPE_KHOM ? p->khoms[sc->pidx].name : p->teams[sc->pidx].name;
}

/* Builds the snapshot of one scope. with_meta adds seq and as_of (left out
 * when comparing with the previous snapshot). */
static int stats__build(kdc_stats *s, struct scope *sc, const struct snapshot *sn,
                        int with_meta, int64_t seq, int64_t now_ms, char **out)
{
	const struct kdc_profile *p = s->profile;
	cJSON *root = cJSON_CreateObject(), *o, *e;
	int rc = KDC_ERR_NOMEM;
	int64_t stored = 0;

	*out = NULL;
	if (!root)
		return KDC_ERR_NOMEM;
	cJSON_AddStringToObject(root, "schema", "kdc.stats.v1");
	if (stats__ward_code(s))
		cJSON_AddStringToObject(root, "ward", stats__ward_code(s));
	else
		cJSON_AddNullToObject(root, "ward");
	cJSON_AddStringToObject(root, "ward_name", p->ward_name[0] ? p->ward_name : "");
	cJSON_AddStringToObject(root, "scope", scope_names[sc->kind]);
	if (sc->kind == SCOPE_WARD)
		cJSON_AddNullToObject(root, "id");
	else
		cJSON_AddStringToObject(root, "id", sc->code);
	cJSON_AddStringToObject(root, "name", scope_name(s, sc));
	cJSON_AddBoolToObject(root, "unassigned", sc->kind != SCOPE_WARD && sc->pidx < 0);
	if (with_meta) {
		kdc_json_int(root, "seq", seq);
		kdc_json_time(root, "as_of", 1, now_ms);
		kdc_json_int(root, "as_of_ms", now_ms);
	}
	if (!(o = cJSON_AddObjectToObject(root, "households")))
		goto cleanup;
	kdc_json_int(o, "total", sn->hh_total);
	kdc_json_int(o, "visited", sn->c.hh_visited);
	kdc_json_int(o, "surveyed", sn->c.hh_surveyed);
	kdc_json_int(o, "reached", sn->c.hh_reached);
	if (!(o = cJSON_AddObjectToObject(root, "people_15plus")))
		goto cleanup;
	kdc_json_int(o, "total", sn->people_total);
	kdc_json_int(o, "with_payment_account", sn->c.acct[ACCT_PAYMENT]);
	kdc_json_int(o, "paying_regularly", sn->regular_now);
	if (!(o = cJSON_AddObjectToObject(root, "accounts")))
		goto cleanup;
	for (int k = 1; k < NACCT; k++)
		kdc_json_int(o, kdc_account_name(k), sn->c.acct[k]);
	if (!(o = cJSON_AddObjectToObject(root, "events")))
		goto cleanup;
	for (int k = 0; k < NKIND; k++) {
		if (!(e = cJSON_AddObjectToObject(o, kdc_kind_name(k))))
			goto cleanup;
		kdc_json_int(e, "24h", sn->ev24[k]);
		kdc_json_int(e, "7d", sn->ev7[k]);
		kdc_json_int(e, "30d", sn->ev30[k]);
		kdc_json_int(e, "total", sn->c.ev[k]);
		stored += sn->c.ev[k];
	}
	if (!(o = cJSON_AddObjectToObject(root, "services")))
		goto cleanup;
	for (int k = 1; k < NSVC; k++)
		kdc_json_int(o, kdc_service_name(k), sn->svc30[k]);
	if (!(o = cJSON_AddObjectToObject(root, "payments")))
		goto cleanup;
	kdc_json_int(o, "count_30d", sn->pay30_n);
	kdc_json_int(o, "amount_vnd_30d", sn->pay30_amount);
	kdc_json_int(o, "count_total", sn->c.ev[KDC_KIND_PAYMENT]);
	kdc_json_int(o, "amount_vnd_total", sn->c.pay_amount);
	if (!(o = cJSON_AddArrayToObject(root, "targets")))
		goto cleanup;
	for (size_t i = 0; i < p->ntargets; i++)
		if ((rc = stats__json_target(s, sc, sn, &p->targets[i], o)))
			goto cleanup;
	rc = KDC_ERR_NOMEM;
	if (!(o = cJSON_AddObjectToObject(root, "series")))
		goto cleanup;
	kdc_json_day(o, "start", sn->today - (SERIES_DAYS - 1));
	kdc_json_int(o, "days", SERIES_DAYS);
	for (int k = 0; k < NKIND; k++) {
		if (!(e = cJSON_AddArrayToObject(o, kdc_kind_name(k))))
			goto cleanup;
		for (int d = 0; d < SERIES_DAYS; d++) {
			char buf[32];
			cJSON *num;
			snprintf(buf, sizeof buf, "%lld", (long long)sn->series[k][d]);
			if (!(num = cJSON_CreateRaw(buf)) || !cJSON_AddItemToArray(e, num)) {
				cJSON_Delete(num);
				goto cleanup;
			}
		}
	}
	if ((rc = stats__json_devices(s, sc, root)))
		goto cleanup;
	rc = KDC_ERR_NOMEM;
	kdc_json_int(root, "stored_total", stored);
	kdc_json_int(root, "rejected_total", s->rejected_total);
	kdc_json_time(root, "latest_event", sn->c.has_latest, sn->c.latest_ms);
	kdc_json_int(root, "regular_window_days", p->regular_window_days);
	kdc_json_int(root, "utc_offset_min", p->utc_offset_min);
	*out = cJSON_PrintUnformatted(root);
	rc = *out ? KDC_OK : KDC_ERR_NOMEM;
cleanup:
	cJSON_Delete(root);
	return rc;
}

static int stats__snapshot(kdc_stats *s, struct scope *sc, int64_t now_ms, struct snapshot *sn)
{
	const int window = s->profile->regular_window_days;
	int rc;

	memset(sn, 0, sizeof *sn);
	sn->today = kdc_local_day(now_ms, s->profile->utc_offset_min);
	sn->hour = kdc_local_hour(now_ms, s->profile->utc_offset_min);
	stats__denominators(s, sc, sn);
	if ((rc = stats__read_counters(s, sc->sid, &sn->c)) ||
	    (rc = stats__read_windows(s, sc->sid, sn)) ||
	    (rc = stats__hist_from(s, sc->sid, HIST_LASTPAY, sn->today - window + 1, &sn->regular_now)))
		return rc;
	return KDC_OK;
}

/* ---- publish --------------------------------------------------------------- */

struct pending {
	size_t scope;
	char *body, *json;
};

int kdc_stats_publish(kdc_stats *s, int64_t now_ms, int64_t min_interval_ms,
                      kdc_stats_emit_cb emit, void *ud)
{
	struct pending *pend = NULL;
	size_t npend = 0;
	int64_t hour = kdc_local_hour(now_ms, s->profile->utc_offset_min);
	int rc = KDC_OK, in_sp = 0;

	pend = calloc(s->nscopes ? s->nscopes : 1, sizeof *pend);
	if (!pend)
		return KDC_ERR_NOMEM;
	{
		int found;
		if ((rc = stats__meta_get(s, "rejected_total", &s->rejected_total, &found)))
			goto cleanup;
	}
	for (size_t i = 0; i < s->nscopes; i++) {
		struct scope *sc = &s->scopes[i];
		struct snapshot sn;
		char *body = NULL;
		int due = sc->dirty || !sc->last_body || hour != sc->eval_hour ||
		          now_ms - sc->last_eval_ms >= REEVAL_MS || now_ms < sc->last_eval_ms;

		if (!due)
			continue;
		/* coalesce: at most one snapshot per scope per min_interval_ms (a
		 * clock that went backwards does not hold publishing back) */
		if (sc->last_body && now_ms >= sc->last_emit_ms &&
		    now_ms - sc->last_emit_ms < min_interval_ms)
			continue;
		if ((rc = stats__snapshot(s, sc, now_ms, &sn)) ||
		    (rc = stats__build(s, sc, &sn, 0, 0, 0, &body)))
			goto cleanup;
		sc->dirty = 0;
		sc->last_eval_ms = now_ms;
		sc->eval_hour = hour;
		/* unchanged numbers are still republished once a minute, so that a
		 * viewer can tell a quiet ward from a stopped aggregator by as_of */
		if (sc->last_body && strcmp(body, sc->last_body) == 0 &&
		    now_ms >= sc->last_emit_ms && now_ms - sc->last_emit_ms < REEVAL_MS) {
			cJSON_free(body);
			continue;
		}
		pend[npend].scope = i;
		pend[npend].body = body;
		if ((rc = stats__build(s, sc, &sn, 1, sc->seq + 1, now_ms, &pend[npend].json))) {
			npend++;
			goto cleanup;
		}
		npend++;
	}
	if (npend == 0)
		goto cleanup;
	/* seq is made durable before anyone sees it, so that it never repeats */
	if ((rc = stats__exec(s, "SAVEPOINT st_publish")))
		goto cleanup;
	in_sp = 1;
	for (size_t i = 0; i < npend; i++) {
		const struct scope *sc = &s->scopes[pend[i].scope];
		sqlite3_stmt *st = stats__stmt(s, Q_SEQ_SET);

		sqlite3_bind_int64(st, 1, sc->sid);
		sqlite3_bind_int64(st, 2, sc->seq + 1);
		if ((rc = stats__run(s, st, "write st_scope.seq")))
			goto cleanup;
	}
	if ((rc = stats__exec(s, "RELEASE st_publish")))
		goto cleanup;
	in_sp = 0;
	for (size_t i = 0; i < npend; i++) {
		struct scope *sc = &s->scopes[pend[i].scope];

		sc->seq++;
		sc->last_emit_ms = now_ms;
		cJSON_free(sc->last_body);
		sc->last_body = pend[i].body;
		pend[i].body = NULL;
		if (emit)
			emit(ud, scope_names[sc->kind], sc->kind == SCOPE_WARD ? NULL : sc->code,
			     pend[i].json);
	}
cleanup:
	if (in_sp) {
		sqlite3_exec(s->db, "ROLLBACK TO st_publish", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE st_publish", NULL, NULL, NULL);
	}
	if (rc) {
		/* nothing was emitted: evaluate these scopes again next time */
		for (size_t i = 0; i < npend; i++)
			s->scopes[pend[i].scope].dirty = 1;
	}
	for (size_t i = 0; i < npend; i++) {
		cJSON_free(pend[i].body);
		cJSON_free(pend[i].json);
	}
	free(pend);
	return rc;
}
