/* stats_db.c: the storage of the ward's adoption indicators (see stats_int.h
 * for the other parts): statements, schema, row caches (the scope registry is
 * in stats_scope.c).
 *
 * The statistics are the ward's adoption indicators, kept exact and
 * incremental in SQLite, published as JSON snapshots.
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
 *    the ward's counters and histograms receive the khóm's changes too.
 *  - st_household also keeps what the team worklists need (worklist.c reads
 *    it): declined, the number of "not at home" visits and the latest one.
 *    A count and a max: order-independent like the rest.
 *  - A database whose st_meta schema is older than STATS_SCHEMA gets the
 *    changed tables dropped, created anew and rebuilt at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "profile.h"
#include "stats_int.h"

const int stats_kinds[NACT] = {
	KDC_KIND_VISIT, KDC_KIND_ACCOUNT, KDC_KIND_PAYMENT, KDC_KIND_SERVICE,
	KDC_KIND_BUSINESS_VISIT, KDC_KIND_EINVOICE, KDC_KIND_BUSINESS_ACCOUNT,
};

const char *const stats_stmt_sql[Q_COUNT] = {
	/* the device's team is the one of its latest event; ties broken by code
	 * so that the order of folding never matters */
	[Q_DEV_UP] = "INSERT INTO st_device(sid,device,team,last_ms,n) VALUES(?1,?2,?3,?4,?5) "
	             "ON CONFLICT(sid,device) DO UPDATE SET n=n+excluded.n, "
	             "team=CASE WHEN excluded.last_ms>last_ms OR (excluded.last_ms=last_ms AND excluded.team>team) "
	             "THEN excluded.team ELSE team END, last_ms=MAX(last_ms,excluded.last_ms)",
	[Q_HH_GET] = "SELECT visit_day, reach_day, surveyed, declined, not_home, last_attempt_ms "
	             "FROM st_household WHERE sid=?1 AND khom=?2 AND household=?3",
	[Q_HH_PUT] = "INSERT INTO st_household(sid,khom,household,visit_day,reach_day,surveyed,declined,"
	             "not_home,last_attempt_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) "
	             "ON CONFLICT(sid,khom,household) DO UPDATE SET visit_day=excluded.visit_day, "
	             "reach_day=excluded.reach_day, surveyed=excluded.surveyed, declined=excluded.declined, "
	             "not_home=excluded.not_home, last_attempt_ms=excluded.last_attempt_ms",
	[Q_PERSON_GET] = "SELECT pid, accounts, acct_pay_day, last_pay_day, use_day, eid_day, eiduse_day,"
	                 " einv_day FROM st_person "
	                 "WHERE sid=?1 AND khom=?2 AND household=?3 AND member=?4",
	[Q_PERSON_INS] = "INSERT INTO st_person(sid,khom,household,member,accounts,acct_pay_day,last_pay_day,"
	                 "use_day,eid_day,eiduse_day,einv_day) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	[Q_PERSON_UPD] = "UPDATE st_person SET accounts=?2, acct_pay_day=?3, last_pay_day=?4, use_day=?5, "
	                 "eid_day=?6, eiduse_day=?7, einv_day=?8 WHERE pid=?1",
	/* the first stored use on or after a day (a new, earlier e-identification) */
	[Q_USE_FROM] = "SELECT MIN(day) FROM st_useday WHERE pid=?1 AND day>=?2",
	[Q_SCOPE_INS] = "INSERT OR IGNORE INTO st_scope(sid,kind,code) VALUES(?1,?2,?3)",
	[Q_SCOPE_UP] = "UPDATE st_scope SET ev_visit=ev_visit+?2, ev_account=ev_account+?3, "
	               "ev_payment=ev_payment+?4, ev_service=ev_service+?5, pay_amount=pay_amount+?6, "
	               "hh_visited=hh_visited+?7, hh_surveyed=hh_surveyed+?8, hh_reached=hh_reached+?9, "
	               "acct_portal=acct_portal+?10, acct_vneid=acct_vneid+?11, acct_app=acct_app+?12, "
	               "acct_payment=acct_payment+?13, latest_ms=COALESCE(MAX(latest_ms,?14),latest_ms,?14), "
	               "ev_bvisit=ev_bvisit+?15, ev_einvoice=ev_einvoice+?16, ev_baccount=ev_baccount+?17, "
	               "biz_einvoice=biz_einvoice+?18, su_total=su_total+?19, su_eid=su_eid+?20 "
	               "WHERE sid=?1",
	[Q_SCOPE_GET] = "SELECT ev_visit, ev_account, ev_payment, ev_service, pay_amount, hh_visited, "
	                "hh_surveyed, hh_reached, acct_portal, acct_vneid, acct_app, acct_payment, latest_ms, "
	                "ev_bvisit, ev_einvoice, ev_baccount, biz_einvoice, su_total, su_eid "
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
	/* events.voided: voided activity events (the partial index events_voided) */
	[Q_VOIDED_WARD] = "SELECT COUNT(*) FROM events WHERE voided_by IS NOT NULL AND " KDC_KIND_ACTIVITY_SQL "",
	[Q_VOIDED_KHOM] = "SELECT COUNT(*) FROM events WHERE voided_by IS NOT NULL AND " KDC_KIND_ACTIVITY_SQL " AND khom=?1",
	[Q_VOIDED_TEAM] = "SELECT COUNT(*) FROM events WHERE voided_by IS NOT NULL AND " KDC_KIND_ACTIVITY_SQL " AND team=?1",
	/* the register change a rebuild reflects (st_meta register_lid) */
	[Q_MAX_LID] = "SELECT COALESCE(MAX(lid),0) FROM register_log",
};

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
	[M_USEDAY] = { "INSERT OR IGNORE INTO st_useday(pid,day) VALUES", "(?,?)", "",
	               "insert st_useday", 2 },
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
	" latest_ms INTEGER,"
	" ev_bvisit INTEGER NOT NULL DEFAULT 0, ev_einvoice INTEGER NOT NULL DEFAULT 0,"
	" ev_baccount INTEGER NOT NULL DEFAULT 0, biz_einvoice INTEGER NOT NULL DEFAULT 0,"
	" su_total INTEGER NOT NULL DEFAULT 0, su_eid INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(kind, code));"
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
	" declined INTEGER NOT NULL DEFAULT 0, not_home INTEGER NOT NULL DEFAULT 0, last_attempt_ms INTEGER,"
	" PRIMARY KEY(sid, khom, household)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_person(pid INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
	" khom TEXT NOT NULL, household TEXT NOT NULL, member INTEGER NOT NULL,"
	" accounts INTEGER NOT NULL, acct_pay_day INTEGER, last_pay_day INTEGER,"
	" use_day INTEGER, eid_day INTEGER, eiduse_day INTEGER, einv_day INTEGER,"
	" UNIQUE(sid, khom, household, member));"
	"CREATE TABLE IF NOT EXISTS st_useday(pid INTEGER NOT NULL, day INTEGER NOT NULL,"
	" PRIMARY KEY(pid, day)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_payday(sid INTEGER NOT NULL, day INTEGER NOT NULL,"
	" pid INTEGER NOT NULL, PRIMARY KEY(sid, day, pid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS st_hist(sid INTEGER NOT NULL, what INTEGER NOT NULL,"
	" day INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(sid, what, day)) WITHOUT ROWID;";

/* ---- SQLite helpers --------------------------------------------------------- */

int stats__dberr(kdc_stats *s, int rc, const char *what)
{
	kdc_error("stats: %s: %s", what, sqlite3_errmsg(s->db));
	rc = kdc_db_rc(s->db, rc);
	return rc == KDC_OK ? KDC_ERR_DB : rc;
}

sqlite3_stmt *stats__stmt(kdc_stats *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no row (or whose rows are ignored). */
int stats__run(kdc_stats *s, sqlite3_stmt *st, const char *what)
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

int stats__exec(kdc_stats *s, const char *sql)
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
int stats__multi_add(kdc_stats *s, struct multi_buf *b, const int64_t *row)
{
	const int nc = multi_sql[b->id].ncols;

	memcpy(&b->v[b->nrows * nc], row, (size_t)nc * sizeof *row);
	if (++b->nrows < MULTI_ROWS)
		return KDC_OK;
	b->nrows = 0;
	return stats__multi_run(s, b, 0, MULTI_ROWS);
}

/* Writes the rows still queued, one statement each. */
int stats__multi_end(kdc_stats *s, struct multi_buf *b)
{
	int rc = KDC_OK;

	for (int r = 0; r < b->nrows && rc == KDC_OK; r++)
		rc = stats__multi_run(s, b, r, 1);
	b->nrows = 0;
	return rc;
}

void bind_opt_day(sqlite3_stmt *st, int i, int has, int64_t day)
{
	if (has)
		sqlite3_bind_int64(st, i, day);
	else
		sqlite3_bind_null(st, i);
}

int stats__meta_get(kdc_stats *s, const char *key, int64_t *out, int *found)
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

int stats__meta_set(kdc_stats *s, const char *key, int64_t v)
{
	sqlite3_stmt *st = stats__stmt(s, Q_META_SET);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return stats__run(s, st, "write st_meta");
}

/* ---- caches of the tables' rows ----------------------------------------- */

void stats__cache_drop(kdc_stats *s)
{
	kdc_hmap_clear(&s->hh_cache);
	kdc_hmap_clear(&s->person_cache);
	kdc_hmap_clear(&s->payday_cache);
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
int stats__cache_check(kdc_stats *s)
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
void *stats__cache_get(struct kdc_hmap *cache, const void *key, int *created)
{
	if (cache->len >= CACHE_MAX)
		kdc_hmap_clear(cache);
	return kdc_hmap_get(cache, key, created);
}

/* The st_household row of k as the tables hold it (all zero: no row). NULL
 * with *rc set on error. Valid until the next call. */
struct c_hh *stats__hh_row(kdc_stats *s, const struct k_hh *k, int *rc)
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
		c->declined = sqlite3_column_int(st, 3);
		c->not_home = sqlite3_column_int64(st, 4);
		c->last_attempt_ms = sqlite3_column_int64(st, 5);
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
struct c_person *stats__person_row(kdc_stats *s, const struct k_person *k, int *rc)
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
		c->f.has_use = sqlite3_column_type(st, 4) != SQLITE_NULL;
		c->f.use_day = sqlite3_column_int64(st, 4);
		c->f.has_eid = sqlite3_column_type(st, 5) != SQLITE_NULL;
		c->f.eid_day = sqlite3_column_int64(st, 5);
		c->f.has_eiduse = sqlite3_column_type(st, 6) != SQLITE_NULL;
		c->f.eiduse_day = sqlite3_column_int64(st, 6);
		c->f.has_einv = sqlite3_column_type(st, 7) != SQLITE_NULL;
		c->f.einv_day = sqlite3_column_int64(st, 7);
	} else if (step != SQLITE_DONE) {
		*rc = stats__dberr(s, step, "read st_person");
		sqlite3_reset(st);
		return NULL;
	}
	sqlite3_reset(st);
	return c;
}

/* ---- open / free ------------------------------------------------------------ */

int stats__table_exists(kdc_stats *s, const char *name, int *exists)
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

/* Schema 2 -> 3: st_person has four more columns (dropped, made anew),
 * st_scope six (added, unless there already: its seq stays). */
static int stats__migrate_3(kdc_stats *s)
{
	sqlite3_stmt *st = NULL;
	int exists = 0, rc;

	if ((rc = stats__exec(s, "DROP TABLE IF EXISTS st_person")) ||
	    (rc = stats__table_exists(s, "st_scope", &exists)) || !exists)
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info('st_scope') WHERE name='su_eid'",
	                       -1, &st, NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, "read st_scope");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return KDC_OK;
	if (rc != SQLITE_DONE)
		return stats__dberr(s, rc, "read st_scope");
	return stats__exec(s, "ALTER TABLE st_scope ADD COLUMN ev_bvisit INTEGER NOT NULL DEFAULT 0;"
	                      "ALTER TABLE st_scope ADD COLUMN ev_einvoice INTEGER NOT NULL DEFAULT 0;"
	                      "ALTER TABLE st_scope ADD COLUMN ev_baccount INTEGER NOT NULL DEFAULT 0;"
	                      "ALTER TABLE st_scope ADD COLUMN biz_einvoice INTEGER NOT NULL DEFAULT 0;"
	                      "ALTER TABLE st_scope ADD COLUMN su_total INTEGER NOT NULL DEFAULT 0;"
	                      "ALTER TABLE st_scope ADD COLUMN su_eid INTEGER NOT NULL DEFAULT 0;");
}

/* Before the tables are created: when st_meta says an older schema, drops
 * the tables whose columns changed (schema_sql then creates them anew) and
 * sets *migrated; the caller rebuilds. Statements are not prepared yet, so
 * this one is prepared here. */
static int stats__migrate(kdc_stats *s, int *migrated)
{
	sqlite3_stmt *st = NULL;
	int exists = 0, rc;
	int64_t v = 0;

	*migrated = 0;
	if ((rc = stats__table_exists(s, "st_meta", &exists)) || !exists)
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM st_meta WHERE key='schema'", -1, &st,
	                       NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, "read st_meta");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return stats__dberr(s, rc, "read st_meta");
	if (rc == SQLITE_DONE || v >= STATS_SCHEMA)
		return KDC_OK;
	/* schema 1 -> 2: st_household has three more columns */
	if (v < 2 && (rc = stats__exec(s, "DROP TABLE IF EXISTS st_household")))
		return rc;
	if (v < 3 && (rc = stats__migrate_3(s)))
		return rc;
	*migrated = 1;
	return KDC_OK;
}

/* Creates the tables and decides whether the derived state must be rebuilt:
 * tables new while events exist (an older database), or days cut at another
 * UTC offset than the profile's now. */
static int stats__schema(kdc_stats *s, int *need_rebuild, char *err, size_t errlen)
{
	int64_t v;
	int found, rc, events_exist = 0, any = 0, migrated = 0;

	*need_rebuild = 0;
	if ((rc = stats__migrate(s, &migrated))) {
		snprintf(err, errlen, "cannot update the statistics tables: %s", sqlite3_errmsg(s->db));
		return rc;
	}
	if ((rc = stats__exec(s, schema_sql))) {
		snprintf(err, errlen, "cannot create statistics tables: %s", sqlite3_errmsg(s->db));
		return rc;
	}
	if ((rc = kdc_db_prepare(s->db, stats_stmt_sql, s->st, Q_COUNT, err, errlen)))
		return rc;
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
	if (migrated) {
		kdc_notice("stats: the statistics tables are from an older version (schema %lld): "
		           "recomputing them from the stored events", (long long)v);
		if ((rc = stats__meta_set(s, "schema", STATS_SCHEMA)))
			goto dberr;
		*need_rebuild = any;
		v = STATS_SCHEMA;
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
	kdc_hmap_init(&s->scope_index, sizeof(struct scope_key), sizeof(struct scope_ref));
	kdc_hmap_init(&s->days, sizeof(struct k_day), sizeof(struct v_day));
	kdc_hmap_init(&s->hours, sizeof(struct k_hour), sizeof(struct v_hour));
	kdc_hmap_init(&s->devs, sizeof(struct k_dev), sizeof(struct v_dev));
	kdc_hmap_init(&s->hhs, sizeof(struct k_hh), sizeof(struct v_hh));
	kdc_hmap_init(&s->persons, sizeof(struct k_person), sizeof(struct v_person));
	kdc_hmap_init(&s->paydays, sizeof(struct k_payday), sizeof(struct v_payday));
	kdc_hmap_init(&s->hists, sizeof(struct k_hist), sizeof(struct v_hist));
	kdc_hmap_init(&s->usedays, sizeof(struct k_useday), sizeof(struct v_useday));
	kdc_hmap_init(&s->hh_cache, sizeof(struct k_hh), sizeof(struct c_hh));
	kdc_hmap_init(&s->person_cache, sizeof(struct k_person), sizeof(struct c_person));
	kdc_hmap_init(&s->payday_cache, sizeof(struct k_pidday), sizeof(struct c_pidday));
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
	kdc_db_finalize(s->st, Q_COUNT);
	for (int i = 0; i < M_COUNT; i++) {
		sqlite3_finalize(s->multi[i][0]);
		sqlite3_finalize(s->multi[i][1]);
	}
	for (size_t i = 0; i < s->nscopes; i++)
		cJSON_free(s->scopes[i].last_body);
	free(s->scopes);
	kdc_hmap_free(&s->scope_index);
	kdc_hmap_free(&s->days);
	kdc_hmap_free(&s->hours);
	kdc_hmap_free(&s->devs);
	kdc_hmap_free(&s->hhs);
	kdc_hmap_free(&s->persons);
	kdc_hmap_free(&s->paydays);
	kdc_hmap_free(&s->hists);
	kdc_hmap_free(&s->usedays);
	kdc_hmap_free(&s->hh_cache);
	kdc_hmap_free(&s->person_cache);
	kdc_hmap_free(&s->payday_cache);
	if (s->db)
		sqlite3_rollback_hook(s->db, NULL, NULL);
	kdc_profile_free(s->own_profile);
	free(s->den_hh);
	free(s->den_people);
	free(s->den_biz);
	free(s);
}

int kdc_stats_set_businesses(kdc_stats *s, const int64_t *businesses)
{
	size_t n = s->profile->nkhoms;

	if (!businesses) {
		free(s->den_biz);
		s->den_biz = NULL;
	} else {
		int64_t *b = s->den_biz ? s->den_biz : malloc((n ? n : 1) * sizeof *b);
		if (!b)
			return KDC_ERR_NOMEM;
		memcpy(b, businesses, n * sizeof *b);
		s->den_biz = b;
	}
	kdc_stats_touch(s);
	return KDC_OK;
}

int kdc_stats_set_denominators(kdc_stats *s, const int64_t *households, const int64_t *people)
{
	size_t n = s->profile->nkhoms;

	if (!households || !people) {
		free(s->den_hh);
		free(s->den_people);
		s->den_hh = s->den_people = NULL;
	} else {
		int64_t *h = s->den_hh ? s->den_hh : malloc((n ? n : 1) * sizeof *h);
		int64_t *p = s->den_people ? s->den_people : malloc((n ? n : 1) * sizeof *p);
		if (!h || !p) {
			if (h != s->den_hh)
				free(h);
			if (p != s->den_people)
				free(p);
			return KDC_ERR_NOMEM;
		}
		memcpy(h, households, n * sizeof *h);
		memcpy(p, people, n * sizeof *p);
		s->den_hh = h;
		s->den_people = p;
	}
	/* a snapshot that did not change is not emitted again (publish compares) */
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].dirty = 1;
	return KDC_OK;
}

void kdc_stats_touch(kdc_stats *s)
{
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].dirty = 1;
}

int kdc_stats_register_lid(kdc_stats *s, int64_t *lid)
{
	int found = 0, rc = stats__meta_get(s, "register_lid", lid, &found);

	if (rc == KDC_OK && !found)
		*lid = 0;
	return rc;
}

int kdc_stats_set_register_lid(kdc_stats *s, int64_t lid)
{
	return stats__meta_set(s, "register_lid", lid);
}
