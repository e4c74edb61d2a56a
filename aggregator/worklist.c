/* worklist.c: the team worklists and the dashboard's household lists. See
 * worklist.h for the contract.
 *
 * Each khóm keeps its last computed list (entries zero-padded so that two
 * lists compare with memcmp) and a version that grows when the list changes.
 * A khóm's JSON is published when its version moved; a team's list when the
 * sum of its khóms' versions moved. Each topic's seq survives restarts in
 * table worklist_seq (written after the publish, outside the writer's
 * transaction, like the statistics' seq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "calendar.h"
#include "jsonout.h"
#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "profile.h"
#include "worklist.h"

enum { SEQ_TEAM = 0, SEQ_KHOM = 1 };

struct wl_entry {
	char household[KDC_CODE_MAX + 1];
	int status, next;
	uint32_t attempts, people_15plus;
	int64_t last_attempt_ms;
	int field_added;
};

struct wl_khom {
	char code[KDC_CODE_MAX + 1];
	long pidx;                  /* in the profile, -1 if not there */
	int touched;
	int computed;               /* entries hold a computed list */
	int has_register;           /* the list came from the register */
	int64_t computed_ms;
	struct wl_entry *e;
	size_t n, cap;
	uint64_t version, pub_version;
	int64_t seq;
};

struct wl_team {
	char code[KDC_CODE_MAX + 1];
	size_t *khoms;              /* indices into wl->khoms, sorted by code */
	size_t nkhoms;
	uint64_t pub_sum;
	int published;
	int64_t last_ms, seq;
};

enum wl_stmt {
	W_REGISTER, W_SEEN, W_HAS_REGISTER, W_LID, W_LID_KHOMS, W_SEQ_GET, W_SEQ_SET, W_KHOMS_SEEN,
	W_COUNT
};

/* The facts of each listed household: columns 1.. of both list queries. */
#define WL_FACTS \
	" h.surveyed, h.declined, h.reach_day IS NOT NULL, h.not_home, h.last_attempt_ms," \
	" p.pay_acct, p.last_pay" \
	" FROM hh LEFT JOIN st_household h ON h.sid=(SELECT sid FROM k) AND h.khom=?1" \
	"  AND h.household=hh.household" \
	" LEFT JOIN (SELECT household, MAX(acct_pay_day IS NOT NULL) AS pay_acct," \
	"  MAX(last_pay_day) AS last_pay FROM st_person WHERE sid=(SELECT sid FROM k) AND khom=?1" \
	"  GROUP BY household) p ON p.household=hh.household" \
	" ORDER BY hh.household"
/* st_scope.kind 1: a khóm (stats_int.h) */
#define WL_KHOM_SID "WITH k(sid) AS (SELECT sid FROM st_scope WHERE kind=1 AND code=?1), "

static const char *const wl_sql[W_COUNT] = {
	[W_REGISTER] = WL_KHOM_SID
	               "hh(household, people, field) AS (SELECT household, people_15plus,"
	               " source='field' FROM register WHERE khom=?1 AND retired_ms IS NULL"
	               " AND business=0)" /* the worklist is of households */
	               " SELECT hh.household, hh.people, hh.field," WL_FACTS,
	/* people with an account or a payment: a person's service use alone or a
	 * business's facts (member 0) put no household on the list */
	[W_SEEN] = WL_KHOM_SID
	           "hh(household) AS (SELECT household FROM st_household WHERE sid=(SELECT sid FROM k)"
	           " AND khom=?1 UNION SELECT household FROM st_person WHERE sid=(SELECT sid FROM k)"
	           " AND khom=?1 AND (accounts<>0 OR last_pay_day IS NOT NULL))"
	           " SELECT hh.household, NULL, 0," WL_FACTS,
	[W_HAS_REGISTER] = "SELECT EXISTS(SELECT 1 FROM register)",
	[W_LID] = "SELECT COALESCE(MAX(lid), 0) FROM register_log",
	[W_LID_KHOMS] = "SELECT DISTINCT khom FROM register_log WHERE lid>?1",
	[W_SEQ_GET] = "SELECT kind, code, seq FROM worklist_seq",
	[W_SEQ_SET] = "INSERT INTO worklist_seq(kind,code,seq) VALUES(?1,?2,?3) "
	              "ON CONFLICT(kind,code) DO UPDATE SET seq=excluded.seq",
	/* khóms with events that the profile may lack (counted as unassigned) */
	[W_KHOMS_SEEN] = "SELECT code FROM st_scope WHERE kind=1 ORDER BY code",
};

struct kdc_worklist {
	sqlite3 *db;
	const struct kdc_profile *profile;
	char ward[KDC_CODE_MAX + 1];
	sqlite3_stmt *st[W_COUNT];
	int has_tables;             /* register and register_log exist */
	struct wl_khom *khoms;
	size_t nkhoms, cap;
	struct wl_team *teams;
	size_t nteams;
	int has_register;
	int64_t lid, day;
	uint64_t rebuilds;
	int started;
	/* scratch */
	struct wl_entry *scratch;
	size_t scratch_cap;
};

/* ---- status ---------------------------------------------------------------- */

void kdc_worklist_status(const struct kdc_household_facts *f, int64_t today, int window_days,
                         int *status, int *next)
{
	if (f->reached) {
		*status = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_REACHED;
		if (!f->payment_account)
			*next = KDC__V1__NEXT_STEP__NEXT_STEP_PAYMENT_ACCOUNT;
		else if (!f->has_pay || f->last_pay_day < today - window_days + 1)
			*next = KDC__V1__NEXT_STEP__NEXT_STEP_PAY_CASHLESS;
		else
			*next = KDC__V1__NEXT_STEP__NEXT_STEP_NONE;
	} else if (f->surveyed) {
		*status = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_SURVEYED;
		*next = KDC__V1__NEXT_STEP__NEXT_STEP_OPEN_ACCOUNT;
	} else if (f->declined) {
		*status = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_DECLINED;
		*next = KDC__V1__NEXT_STEP__NEXT_STEP_NONE;
	} else if (f->not_home > 0) {
		*status = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_HOME;
		*next = KDC__V1__NEXT_STEP__NEXT_STEP_REVISIT;
	} else {
		*status = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_VISITED;
		*next = KDC__V1__NEXT_STEP__NEXT_STEP_VISIT;
	}
}

/* ---- SQLite helpers -------------------------------------------------------------- */

static int wl__dberr(kdc_worklist *wl, int rc, const char *what)
{
	kdc_error("worklists: %s: %s", what, sqlite3_errmsg(wl->db));
	rc = kdc_db_rc(wl->db, rc);
	return rc == KDC_OK ? KDC_ERR_DB : rc;
}

static sqlite3_stmt *wl__stmt(kdc_worklist *wl, enum wl_stmt id)
{
	sqlite3_reset(wl->st[id]);
	sqlite3_clear_bindings(wl->st[id]);
	return wl->st[id];
}

/* The one integer a statement returns. */
static int wl__int(kdc_worklist *wl, enum wl_stmt id, int64_t *out)
{
	sqlite3_stmt *st = wl__stmt(wl, id);
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW) {
		rc = wl__dberr(wl, rc, "read the register");
		sqlite3_reset(st);
		return rc;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return KDC_OK;
}

static int wl__table_exists(sqlite3 *db, const char *name, int *exists)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return KDC_ERR_DB;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? KDC_OK : KDC_ERR_DB;
}

/* ---- khóms and teams ---------------------------------------------------------- */

static void wl__copy_code(char *dst, const char *src)
{
	size_t n = strnlen(src, KDC_CODE_MAX);

	memcpy(dst, src, n);
	memset(dst + n, 0, KDC_CODE_MAX + 1 - n);
}

static struct wl_khom *wl__khom_find(kdc_worklist *wl, const char *code)
{
	for (size_t i = 0; i < wl->nkhoms; i++)
		if (strncmp(wl->khoms[i].code, code, KDC_CODE_MAX) == 0)
			return &wl->khoms[i];
	return NULL;
}

static struct wl_khom *wl__khom_add(kdc_worklist *wl, const char *code)
{
	struct wl_khom *k;

	if (wl->nkhoms == wl->cap) {
		size_t ncap = wl->cap ? wl->cap * 2 : 16;
		struct wl_khom *nk = realloc(wl->khoms, ncap * sizeof *nk);
		if (!nk)
			return NULL;
		wl->khoms = nk;
		wl->cap = ncap;
	}
	k = &wl->khoms[wl->nkhoms++];
	memset(k, 0, sizeof *k);
	wl__copy_code(k->code, code);
	k->pidx = kdc_profile_khom_find(wl->profile, code);
	k->touched = 1;
	k->version = 1;
	return k;
}

/* Insertion sort by code: a team covers a handful of khóms. */
static void wl__sort_team(kdc_worklist *wl, struct wl_team *t)
{
	for (size_t i = 1; i < t->nkhoms; i++)
		for (size_t j = i; j > 0 &&
		     strcmp(wl->khoms[t->khoms[j - 1]].code, wl->khoms[t->khoms[j]].code) > 0; j--) {
			size_t x = t->khoms[j];
			t->khoms[j] = t->khoms[j - 1];
			t->khoms[j - 1] = x;
		}
}

/* The profile's khóms (in profile order, so index = pidx) and teams. */
static int wl__from_profile(kdc_worklist *wl)
{
	const struct kdc_profile *p = wl->profile;

	for (size_t i = 0; i < p->nkhoms; i++)
		if (!wl__khom_add(wl, p->khoms[i].code))
			return KDC_ERR_NOMEM;
	if (p->nteams && !(wl->teams = calloc(p->nteams, sizeof *wl->teams)))
		return KDC_ERR_NOMEM;
	wl->nteams = p->nteams;
	for (size_t i = 0; i < p->nteams; i++) {
		struct wl_team *t = &wl->teams[i];

		wl__copy_code(t->code, p->teams[i].code);
		if (p->teams[i].nkhoms && !(t->khoms = calloc(p->teams[i].nkhoms, sizeof *t->khoms)))
			return KDC_ERR_NOMEM;
		for (size_t j = 0; j < p->teams[i].nkhoms; j++)
			t->khoms[t->nkhoms++] = p->teams[i].khoms[j];
		wl__sort_team(wl, t);
	}
	return KDC_OK;
}

/* The khóms the statistics know beyond the profile's: their lists are
 * published at start too. */
static int wl__load_khoms_seen(kdc_worklist *wl)
{
	sqlite3_stmt *st = wl__stmt(wl, W_KHOMS_SEEN);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *code = (const char *)sqlite3_column_text(st, 0);

		if (code && kdc_code_valid(code) && !wl__khom_find(wl, code) && !wl__khom_add(wl, code)) {
			sqlite3_reset(st);
			return KDC_ERR_NOMEM;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? KDC_OK : wl__dberr(wl, rc, "read st_scope");
}

static int wl__load_seqs(kdc_worklist *wl)
{
	sqlite3_stmt *st = wl__stmt(wl, W_SEQ_GET);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(st, 0);
		const char *code = (const char *)sqlite3_column_text(st, 1);
		int64_t seq = sqlite3_column_int64(st, 2);

		if (!code)
			continue;
		if (kind == SEQ_KHOM) {
			struct wl_khom *k = wl__khom_find(wl, code);
			if (k)
				k->seq = seq;
		} else {
			for (size_t i = 0; i < wl->nteams; i++)
				if (strcmp(wl->teams[i].code, code) == 0)
					wl->teams[i].seq = seq;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? KDC_OK : wl__dberr(wl, rc, "read worklist_seq");
}

kdc_worklist *kdc_worklist_new(sqlite3 *db, const struct kdc_profile *profile, const char *ward,
                               char *err, size_t errlen)
{
	kdc_worklist *wl = calloc(1, sizeof *wl);
	int reg = 0, log = 0, rc;

	if (!wl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	wl->db = db;
	wl->profile = profile;
	snprintf(wl->ward, sizeof wl->ward, "%s", ward);
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS worklist_seq(kind INTEGER NOT NULL,"
	                     " code TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(kind, code))"
	                     " WITHOUT ROWID", NULL, NULL, NULL) != SQLITE_OK ||
	    wl__table_exists(db, "register", &reg) || wl__table_exists(db, "register_log", &log)) {
		snprintf(err, errlen, "worklists: %s", sqlite3_errmsg(db));
		goto fail;
	}
	wl->has_tables = reg && log;
	for (int i = 0; i < W_COUNT; i++) {
		if (!wl->has_tables && (i == W_REGISTER || i == W_HAS_REGISTER || i == W_LID ||
		                        i == W_LID_KHOMS))
			continue;
		if (sqlite3_prepare_v3(db, wl_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &wl->st[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "worklists: cannot prepare a statement: %s", sqlite3_errmsg(db));
			goto fail;
		}
	}
	if ((rc = wl__from_profile(wl))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (wl__load_khoms_seen(wl) || wl__load_seqs(wl) ||
	    (wl->has_tables && wl__int(wl, W_LID, &wl->lid))) {
		snprintf(err, errlen, "worklists: %s", sqlite3_errmsg(db));
		goto fail;
	}
	return wl;
fail:
	kdc_worklist_free(wl);
	return NULL;
}

void kdc_worklist_free(kdc_worklist *wl)
{
	if (!wl)
		return;
	for (int i = 0; i < W_COUNT; i++)
		sqlite3_finalize(wl->st[i]);
	for (size_t i = 0; i < wl->nkhoms; i++)
		free(wl->khoms[i].e);
	for (size_t i = 0; i < wl->nteams; i++)
		free(wl->teams[i].khoms);
	free(wl->khoms);
	free(wl->teams);
	free(wl->scratch);
	free(wl);
}

void kdc_worklist_touch(kdc_worklist *wl, const char *khom)
{
	struct wl_khom *k = wl__khom_find(wl, khom);

	if (k)
		k->touched = 1;
	else if (kdc_code_valid(khom) && !wl__khom_add(wl, khom))
		kdc_warn("worklists: out of memory adding khóm %s: its household list is not published",
		         khom);
}

void kdc_worklist_touch_all(kdc_worklist *wl)
{
	for (size_t i = 0; i < wl->nkhoms; i++)
		wl->khoms[i].touched = 1;
}

/* ---- computing a khóm's list ------------------------------------------------------- */

static void wl__row(kdc_worklist *wl, sqlite3_stmt *st, int64_t today, struct wl_entry *e)
{
	struct kdc_household_facts f;
	const char *hh = (const char *)sqlite3_column_text(st, 0);
	int64_t people = sqlite3_column_int64(st, 1);

	memset(e, 0, sizeof *e);
	wl__copy_code(e->household, hh ? hh : "");
	e->people_15plus = people > 0 && people <= UINT32_MAX ? (uint32_t)people : 0;
	e->field_added = sqlite3_column_int(st, 2) != 0;
	memset(&f, 0, sizeof f);
	f.surveyed = sqlite3_column_int(st, 3) != 0;
	f.declined = sqlite3_column_int(st, 4) != 0;
	f.reached = sqlite3_column_int(st, 5) != 0;
	f.not_home = sqlite3_column_int64(st, 6);
	f.payment_account = sqlite3_column_int(st, 8) != 0;
	f.has_pay = sqlite3_column_type(st, 9) != SQLITE_NULL;
	f.last_pay_day = sqlite3_column_int64(st, 9);
	kdc_worklist_status(&f, today, wl->profile->regular_window_days, &e->status, &e->next);
	e->attempts = f.not_home > 0 && f.not_home <= UINT32_MAX ? (uint32_t)f.not_home : 0;
	e->last_attempt_ms = f.not_home > 0 ? sqlite3_column_int64(st, 7) : 0;
}

/* Reads the khóm's list into k->e; bumps its version when it changed. */
static int wl__compute(kdc_worklist *wl, struct wl_khom *k, int64_t today)
{
	sqlite3_stmt *st = wl__stmt(wl, wl->has_register ? W_REGISTER : W_SEEN);
	size_t n = 0;
	int rc;

	sqlite3_bind_text(st, 1, k->code, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == wl->scratch_cap) {
			size_t ncap = wl->scratch_cap ? wl->scratch_cap * 2 : 256;
			struct wl_entry *ne = realloc(wl->scratch, ncap * sizeof *ne);
			if (!ne) {
				sqlite3_reset(st);
				return KDC_ERR_NOMEM;
			}
			wl->scratch = ne;
			wl->scratch_cap = ncap;
		}
		wl__row(wl, st, today, &wl->scratch[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return wl__dberr(wl, rc, "read a khóm's households");
	if (k->computed && n == k->n && k->has_register == wl->has_register &&
	    (n == 0 || memcmp(k->e, wl->scratch, n * sizeof *k->e) == 0))
		return KDC_OK;
	if (n > k->cap) {
		struct wl_entry *ne = realloc(k->e, n * sizeof *ne);
		if (!ne)
			return KDC_ERR_NOMEM;
		k->e = ne;
		k->cap = n;
	}
	if (n)
		memcpy(k->e, wl->scratch, n * sizeof *k->e);
	k->n = n;
	k->computed = 1;
	k->has_register = wl->has_register;
	k->version++;
	return KDC_OK;
}

/* ---- rendering ---------------------------------------------------------------------- */

/* A growing text buffer; oom set once an append failed. */
struct wl_buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void wl__buf_room(struct wl_buf *b, size_t need)
{
	char *np;
	size_t ncap;

	if (b->oom || b->len + need < b->cap)
		return;
	ncap = b->cap ? b->cap : 4096;
	while (ncap <= b->len + need)
		ncap *= 2;
	if (!(np = realloc(b->p, ncap))) {
		b->oom = 1;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void wl__buf_str(struct wl_buf *b, const char *s)
{
	size_t n = strlen(s);

	wl__buf_room(b, n + 1);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* s as a JSON string (codes need no escaping, but a stored one is not
 * trusted to be a code). */
static void wl__buf_json_str(struct wl_buf *b, const char *s)
{
	wl__buf_room(b, 6 * strlen(s) + 3);
	if (b->oom)
		return;
	b->p[b->len++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = (char)c;
		} else if (c < 0x20) {
			b->len += (size_t)sprintf(b->p + b->len, "\\u%04x", c);
		} else {
			b->p[b->len++] = (char)c;
		}
	}
	b->p[b->len++] = '"';
	b->p[b->len] = 0;
}

/* The "households" array as JSON text, written directly (one formatted
 * piece per household rather than seven cJSON items: this runs on the
 * writer thread, between batches). NULL when out of memory; free with
 * free(). */
static char *wl__households_json(const struct wl_khom *k)
{
	struct wl_buf b = { NULL, 0, 0, 0 };
	char item[256], when[40];

	wl__buf_str(&b, "[");
	for (size_t i = 0; i < k->n; i++) {
		const struct wl_entry *e = &k->e[i];

		wl__buf_str(&b, i ? ",{\"household\":" : "{\"household\":");
		wl__buf_json_str(&b, e->household);
		if (e->last_attempt_ms) {
			kdc_time_format(e->last_attempt_ms, when + 1, sizeof when - 2);
			when[0] = '"';
			strcat(when, "\"");
		} else {
			snprintf(when, sizeof when, "null");
		}
		snprintf(item, sizeof item,
		         ",\"status\":\"%s\",\"attempts\":%u,\"last_attempt\":%s,\"next\":\"%s\","
		         "\"field_added\":%s}",
		         kdc_status_name(e->status), e->attempts, when, kdc_next_step_name(e->next),
		         e->field_added ? "true" : "false");
		wl__buf_str(&b, item);
	}
	wl__buf_str(&b, "]");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The khóm's kdc.households.v1 JSON (cJSON_PrintUnformatted: free with
 * cJSON_free), or NULL when out of memory. */
static char *wl__khom_json(kdc_worklist *wl, const struct wl_khom *k, int64_t seq, int64_t now_ms)
{
	cJSON *root = cJSON_CreateObject(), *counts;
	int64_t c[KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_REACHED + 1] = { 0 };
	int64_t field = 0;
	char name[KDC_PROFILE_NAME_MAX + 16];
	char *out = NULL, *list = NULL;

	if (k->pidx >= 0)
		snprintf(name, sizeof name, "%s", wl->profile->khoms[k->pidx].name);
	else
		snprintf(name, sizeof name, "Khóm %s", k->code);
	for (size_t i = 0; i < k->n; i++) {
		c[k->e[i].status]++;
		field += k->e[i].field_added;
	}
	if (!root || !cJSON_AddStringToObject(root, "schema", "kdc.households.v1") ||
	    !cJSON_AddStringToObject(root, "ward", wl->ward) ||
	    !cJSON_AddStringToObject(root, "khom", k->code) ||
	    !cJSON_AddStringToObject(root, "name", name) || !kdc_json_int(root, "seq", seq) ||
	    !kdc_json_time(root, "as_of", 1, now_ms) || !kdc_json_int(root, "as_of_ms", now_ms) ||
	    !cJSON_AddBoolToObject(root, "register", k->has_register) ||
	    !(counts = cJSON_AddObjectToObject(root, "counts")) ||
	    !kdc_json_int(counts, "total", (int64_t)k->n))
		goto cleanup;
	for (int s = KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_VISITED;
	     s <= KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_REACHED; s++)
		if (!kdc_json_int(counts, kdc_status_name(s), c[s]))
			goto cleanup;
	if (!kdc_json_int(counts, "field_added", field) || !(list = wl__households_json(k)) ||
	    !cJSON_AddRawToObject(root, "households", list))
		goto cleanup;
	out = cJSON_PrintUnformatted(root);
cleanup:
	free(list);
	cJSON_Delete(root);
	return out;
}

/* The team's kdc.v1.Worklist, packed into a malloc'ed buffer (*len). */
static uint8_t *wl__team_pack(kdc_worklist *wl, const struct wl_team *t, int64_t seq,
                              int64_t now_ms, size_t *len)
{
	Kdc__V1__Worklist msg = KDC__V1__WORKLIST__INIT;
	Kdc__V1__WorklistEntry *ents = NULL, **ptrs = NULL;
	uint8_t *buf = NULL;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < t->nkhoms; i++)
		n += wl->khoms[t->khoms[i]].n;
	if (n && (!(ents = calloc(n, sizeof *ents)) || !(ptrs = calloc(n, sizeof *ptrs))))
		goto cleanup;
	for (size_t i = 0; i < t->nkhoms; i++) {
		struct wl_khom *k = &wl->khoms[t->khoms[i]];

		for (size_t x = 0; x < k->n; x++, j++) {
			const struct wl_entry *e = &k->e[x];
			Kdc__V1__WorklistEntry *pe = &ents[j];

			kdc__v1__worklist_entry__init(pe);
			pe->khom = k->code;
			pe->household = (char *)e->household;
			pe->status = (Kdc__V1__HouseholdStatus)e->status;
			pe->attempts = e->attempts;
			pe->last_attempt_ms = e->last_attempt_ms;
			pe->next = (Kdc__V1__NextStep)e->next;
			pe->people_15plus = e->people_15plus;
			pe->field_added = e->field_added;
			ptrs[j] = pe;
		}
	}
	msg.ward = wl->ward;
	msg.team = (char *)t->code;
	msg.as_of_ms = now_ms;
	msg.seq = (uint64_t)seq;
	msg.from_register = wl->has_register;
	msg.n_households = n;
	msg.households = ptrs;
	*len = kdc__v1__worklist__get_packed_size(&msg);
	if ((buf = malloc(*len ? *len : 1)))
		kdc__v1__worklist__pack(&msg, buf);
cleanup:
	free(ents);
	free(ptrs);
	return buf;
}

/* ---- publishing ------------------------------------------------------------------- */

/* Touches what changed outside the writer's batches: the register (another
 * program, or a device's household_added), a rebuild, a new local day. */
static int wl__notice_changes(kdc_worklist *wl, int64_t now_ms, uint64_t rebuilds)
{
	int64_t day = kdc_local_day(now_ms, wl->profile->utc_offset_min), lid = 0, has = 0;
	int rc;

	if (!wl->started || rebuilds != wl->rebuilds || day != wl->day)
		kdc_worklist_touch_all(wl);
	wl->started = 1;
	wl->rebuilds = rebuilds;
	wl->day = day;
	if (!wl->has_tables)
		return KDC_OK;
	if ((rc = wl__int(wl, W_HAS_REGISTER, &has)) || (rc = wl__int(wl, W_LID, &lid)))
		return rc;
	if ((int)has != wl->has_register) {
		wl->has_register = (int)has;
		kdc_worklist_touch_all(wl);
	}
	if (lid != wl->lid) {
		sqlite3_stmt *st = wl__stmt(wl, W_LID_KHOMS);

		sqlite3_bind_int64(st, 1, lid > wl->lid ? wl->lid : 0);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *khom = (const char *)sqlite3_column_text(st, 0);
			if (khom)
				kdc_worklist_touch(wl, khom);
			else
				kdc_worklist_touch_all(wl);
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return wl__dberr(wl, rc, "read register_log");
		wl->lid = lid;
	}
	return KDC_OK;
}

static void wl__save_seq(kdc_worklist *wl, int kind, const char *code, int64_t seq)
{
	sqlite3_stmt *st = wl__stmt(wl, W_SEQ_SET);
	int rc;

	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, seq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		wl__dberr(wl, rc, "write worklist_seq"); /* logged; the seq in memory is right */
}

/* 1 when the call's time is up (after at least one list: always progress). */
static int wl__over(int64_t until_mono_ms, int *done)
{
	if (*done > 0 && until_mono_ms > 0 && kdc_mono_ms() >= until_mono_ms)
		return 1;
	(*done)++;
	return 0;
}

static int wl__publish_khoms(kdc_worklist *wl, int64_t now_ms, int64_t min_interval_ms,
                             int64_t until_mono_ms, int *done, kdc_worklist_emit_cb emit, void *ud)
{
	char topic[KDC_TOPIC_MAX + 1];
	int rc;

	for (size_t i = 0; i < wl->nkhoms; i++) {
		struct wl_khom *k = &wl->khoms[i];
		char *json;

		if (k->touched && (!k->computed || now_ms - k->computed_ms >= min_interval_ms)) {
			if (wl__over(until_mono_ms, done))
				return KDC_OK;
			if ((rc = wl__compute(wl, k, wl->day)))
				return rc;
			k->touched = 0;
			k->computed_ms = now_ms;
		}
		if (k->version == k->pub_version || !k->computed)
			continue;
		if (kdc_topic_households(topic, sizeof topic, wl->ward, k->code) < 0) {
			k->pub_version = k->version;
			continue;
		}
		if (!(json = wl__khom_json(wl, k, k->seq + 1, now_ms)))
			return KDC_ERR_NOMEM;
		emit(ud, topic, json, strlen(json));
		cJSON_free(json);
		k->seq++;
		k->pub_version = k->version;
		wl__save_seq(wl, SEQ_KHOM, k->code, k->seq);
	}
	return KDC_OK;
}

static int wl__publish_teams(kdc_worklist *wl, int64_t now_ms, int64_t min_interval_ms,
                             int64_t until_mono_ms, int *done, kdc_worklist_emit_cb emit, void *ud)
{
	char topic[KDC_TOPIC_MAX + 1];

	for (size_t i = 0; i < wl->nteams; i++) {
		struct wl_team *t = &wl->teams[i];
		uint64_t sum = 0;
		uint8_t *buf;
		size_t len;
		int ready = 1;

		for (size_t j = 0; j < t->nkhoms; j++) {
			sum += wl->khoms[t->khoms[j]].version;
			ready &= wl->khoms[t->khoms[j]].computed;
		}
		if (!ready || (t->published && (sum == t->pub_sum || now_ms - t->last_ms < min_interval_ms)))
			continue;
		if (wl__over(until_mono_ms, done))
			return KDC_OK;
		if (kdc_topic_worklist(topic, sizeof topic, wl->ward, t->code) < 0) {
			t->pub_sum = sum;
			t->published = 1;
			continue;
		}
		if (!(buf = wl__team_pack(wl, t, t->seq + 1, now_ms, &len)))
			return KDC_ERR_NOMEM;
		emit(ud, topic, buf, len);
		free(buf);
		t->seq++;
		t->pub_sum = sum;
		t->published = 1;
		t->last_ms = now_ms;
		wl__save_seq(wl, SEQ_TEAM, t->code, t->seq);
	}
	return KDC_OK;
}

int kdc_worklist_publish(kdc_worklist *wl, int64_t now_ms, int64_t min_interval_ms,
                         int64_t budget_ms, uint64_t stats_rebuilds, kdc_worklist_emit_cb emit,
                         void *ud)
{
	int64_t start = kdc_mono_ms(), until = budget_ms > 0 ? start + budget_ms : 0;
	int rc, in_tx, done = 0;

	if ((rc = wl__notice_changes(wl, now_ms, stats_rebuilds)))
		return rc;
	/* the seqs of one publish in one small transaction */
	in_tx = sqlite3_exec(wl->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	rc = wl__publish_khoms(wl, now_ms, min_interval_ms, until, &done, emit, ud);
	if (!rc)
		rc = wl__publish_teams(wl, now_ms, min_interval_ms, until, &done, emit, ud);
	/* COMMIT even when nothing was written: a ROLLBACK would make the
	 * statistics drop their caches (their rollback hook) */
	if (in_tx && sqlite3_exec(wl->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		wl__dberr(wl, SQLITE_ERROR, "write worklist_seq");
		sqlite3_exec(wl->db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (done)
		kdc_debug("worklists: %d list(s) computed or published in %lld ms%s", done,
		          (long long)(kdc_mono_ms() - start), until && kdc_mono_ms() >= until ?
		          " (budget spent, the rest next time)" : "");
	return rc;
}
