/* test_stats_prop.c: the property that makes the statistics trustworthy.
 *
 * Thousands of random event streams (duplicates, late and out-of-order
 * arrivals, times on midnight, hour and window edges, unknown khóm and team
 * codes, random UTC offsets and "regularly" windows) go through
 * kdc_stats_apply in random batches, with restarts, rolled-back batches and
 * publishes at random moments in between. At the end, for every scope:
 *
 *     the snapshot the incremental path published
 *   = the snapshot after kdc_stats_rebuild
 *   = the snapshot computed straightforwardly from the list of events
 *     (stats_model.c)
 *
 * and every emitted seq is the previous one + 1, across restarts.
 *
 * A second property runs streams through the real writer, with the ward's
 * household register, voids (before their events, twice, of other teams'
 * events, of voids), amends (a void and the corrected event), household
 * additions from the field and register changes by another connection:
 * incremental = rebuild = the model's replay of the rules in docs/register.md and docs/stats.md.
 *
 * KDC_STATS_STREAMS (default 2000), KDC_REGISTER_STREAMS (default 200) and
 * KDC_STATS_SEED (default: the time) steer them; the seed is printed so that
 * a failure can be replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kdc_log.h"
#include "kdc_util.h"
#include "profile.h"
#include "stats.h"
#include "stats_model.h"
#include "stats_testlib.h"
#include "register.h"
#include "register_model.h"
#include "writer_testlib.h"

#define MAX_EVENTS 160
#define NKIND 4

/* ---- random ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* uniform in [0, n) */
static int64_t rnd_n(int64_t n)
{
	return n > 0 ? (int64_t)(rnd() % (uint64_t)n) : 0;
}

static int chance(int percent)
{
	return rnd_n(100) < percent;
}

/* ---- the world of a stream --------------------------------------------------- */

static const char *const khoms[] = { "6", "7", "9" };          /* 9: not in the profile */
static const char *const teams[] = { "T1", "T2", "TX" };       /* TX: not in the profile */
static const char *const devices[] = { "D1", "D2", "D3", "D4", "D9" };
static const int offsets[] = { 420, 0, -210, 345, 840, -720 };
static const int windows[] = { 1, 7, 30, 45 };


static void world_profile(struct world *w, const char *path)
{
	char err[512];

	snprintf(w->profile_text, sizeof w->profile_text,
	         "[ward]\ncode = 31975\nname = Phường 1\nutc_offset = %c%02d:%02d\n"
	         "[khom 6]\nname = Khóm 6\nhouseholds = 5\npeople_15plus = 12\nbusinesses = 4\n"
	         "[khom 7]\nhouseholds = 3\npeople_15plus = 7\n"
	         "[team T1]\nkhoms = 6\ndevices = D1, D2\n"
	         "[team T2]\nkhoms = 6, 7\ndevices = D3, D8\n"
	         "[target households_visited]\npercent = %d\ndeadline = 2027-01-31\n"
	         "[target households_reached]\npercent = 85\ndeadline = 2026-12-31\n"
	         "[target people_with_payment_account]\npercent = 50.5\ndeadline = 2027-06-30\n"
	         "[target people_paying_regularly]\npercent = 80\ndeadline = 2025-12-31\n"
	         "[target service_users_e_identified]\npercent = %d\ndeadline = 2026-12-31\n"
	         "[target businesses_using_einvoice]\npercent = %d\ndeadline = 2027-12-31\n"
	         "[settings]\nregular_window_days = %d\n",
	         w->offset_min < 0 ? '-' : '+', abs(w->offset_min) / 60, abs(w->offset_min) % 60,
	         (int)(40 + rnd_n(61)), (int)(30 + rnd_n(71)), (int)(10 + rnd_n(91)), w->window);
	tl_write_file(path, w->profile_text);
	if (kdc_profile_load(path, &w->profile, err, sizeof err) != 0)
		fail_msg("profile: %s", err);
}

/* A time that likes edges: windows, local midnights, hours, ties. */
static int64_t pick_time(const struct world *w, const struct kdc_event_row *prev, size_t nprev)
{
	const int64_t off = (int64_t)w->offset_min * 60000;
	const int64_t local_midnight = ((w->now + off) / DAY) * DAY - off;
	static const int days_back[] = { 0, 1, 6, 7, 29, 30, 31, 59, 60 };
	int64_t jitter = rnd_n(3) - 1; /* -1, 0, +1 ms */

	switch (rnd_n(8)) {
	case 0: /* exactly k days old, +-1 ms */
		return w->now - days_back[rnd_n(9)] * DAY + jitter;
	case 1: /* a local midnight k days back, +-1 ms */
		return local_midnight - days_back[rnd_n(9)] * DAY + jitter;
	case 2: /* the regular window's edges */
		return local_midnight - (w->window - 1 + rnd_n(3) - 1) * DAY + jitter;
	case 3: /* 23 or 24 hours old, or an hour boundary */
		return w->now - (23 + rnd_n(2)) * HOUR + jitter;
	case 4: /* the same moment as an earlier event */
		if (nprev)
			return prev[rnd_n((int64_t)nprev)].occurred_ms;
		/* fall through */
	case 5: /* ahead of the clock (a device's clock is fast), at most 24 h */
		if (chance(50))
			return w->now + rnd_n(24 * HOUR);
		/* fall through */
	default: /* anywhere in the last 70 days */
		return w->now - rnd_n(70 * DAY);
	}
}

static struct kdc_event_row random_event(const struct world *w, const struct kdc_event_row *prev,
                                         size_t nprev)
{
	struct kdc_event_row r;
	int kind = (int)rnd_n(14);
	char hh[16];

	/* a household's activities, then a business's (member 0) */
	kind = kind < 3 ? 0 : kind < 6 ? 1 : kind < 9 ? 2 : kind < 11 ? 3 :
	       kind == 11 ? KDC_KIND_BUSINESS_VISIT : kind == 12 ? KDC_KIND_EINVOICE :
	       KDC_KIND_BUSINESS_ACCOUNT;
	snprintf(hh, sizeof hh, "H%d", (int)rnd_n(6));
	r = tl_row(pick_time(w, prev, nprev), khoms[rnd_n(3)], teams[rnd_n(3)], devices[rnd_n(5)],
	           hh, kind == 0 || kdc_kind_for_business(kind) ? 0 : (int)(1 + rnd_n(3)), kind, 1, 0);
	switch (kind) {
	case 0: r.subkind = (int)(1 + rnd_n(3)); break;
	case 1: r.subkind = chance(50) ? 4 : chance(40) ? 2 : (int)(1 + rnd_n(4)); break;
	case KDC_KIND_BUSINESS_VISIT:
		r.subkind = (int)(1 + rnd_n(3));
		r.flags = (uint32_t)rnd_n(4);      /* e-invoices, online public services */
		break;
	case KDC_KIND_EINVOICE: case KDC_KIND_BUSINESS_ACCOUNT: r.subkind = 0; break;
	case 3:
		r.subkind = (int)(1 + rnd_n(5));
		r.flags = chance(30) ? KDC_FLAG_VNEID : 0;
		break;
	case 2:
		r.subkind = (int)(1 + rnd_n(8));
		r.method = (int)(1 + rnd_n(4));
		r.amount_vnd = chance(20) ? 0 : rnd_n(2000000);
		break;
	default: r.subkind = (int)(1 + rnd_n(5)); break;
	}
	return r;
}

/* ---- one stream ---------------------------------------------------------------- */

struct stream_ctx {
	struct world w;
	char db_path[512], profile_path[512];
	sqlite3 *db;
	kdc_stats *stats;
	struct tl_retained ret;
	struct kdc_event_row events[MAX_EVENTS];  /* unique, as the model sees them */
	size_t nevents;
	long long rejected;
};

static void ctx_open_stats(struct stream_ctx *c)
{
	char err[512];

	c->stats = kdc_stats_open(c->db, c->w.profile, err, sizeof err);
	if (!c->stats)
		fail_msg("kdc_stats_open: %s", err);
}

static void ctx_restart(struct stream_ctx *c)
{
	kdc_stats_free(c->stats);
	if (chance(50)) {
		tl_db_close(c->db);
		c->db = tl_db_open(c->db_path);
	}
	ctx_open_stats(c);
}

static void ctx_publish(struct stream_ctx *c, int64_t now, int64_t min_interval)
{
	assert_int_equal(kdc_stats_publish(c->stats, now, min_interval, tl_emit, &c->ret), 0);
	if (c->ret.seq_errors)
		fail_msg("a seq did not follow the previous one");
}

/* Every scope's retained snapshot against the model; returns 1 if all equal. */
static void check_all(struct stream_ctx *c, const char *stage, uint64_t seed, int stream)
{
	size_t expected_scopes = 0;
	char keys[16][48];
	int kinds[16];

	snprintf(keys[expected_scopes], 48, "ward");
	kinds[expected_scopes++] = SC_WARD;
	for (int k = 0; k < 3; k++) {
		int used = k < 2; /* profile khóms are always published */
		for (size_t i = 0; i < c->nevents && !used; i++)
			used = strcmp(c->events[i].khom, khoms[k]) == 0;
		if (used) {
			snprintf(keys[expected_scopes], 48, "khom/%s", khoms[k]);
			kinds[expected_scopes++] = SC_KHOM;
		}
		used = k < 2;
		for (size_t i = 0; i < c->nevents && !used; i++)
			used = strcmp(c->events[i].team, teams[k]) == 0;
		if (used) {
			snprintf(keys[expected_scopes], 48, "team/%s", teams[k]);
			kinds[expected_scopes++] = SC_TEAM;
		}
	}
	if (c->ret.n != expected_scopes)
		fail_msg("seed %llu stream %d %s: %zu scopes published, expected %zu",
		         (unsigned long long)seed, stream, stage, c->ret.n, expected_scopes);
	for (size_t i = 0; i < expected_scopes; i++) {
		const char *json = tl_get(&c->ret, keys[i]);
		const char *code = strchr(keys[i], '/') ? strchr(keys[i], '/') + 1 : "";
		cJSON *got, *want;
		char diff[1024];

		if (!json)
			fail_msg("seed %llu stream %d %s: no snapshot for %s", (unsigned long long)seed,
			         stream, stage, keys[i]);
		got = tl_parse_numbers(json);
		want = model_snapshot(&c->w, c->events, c->nevents, kinds[i], code, c->rejected, NULL);
		if (json_diff(want, got, keys[i], diff, sizeof diff))
			fail_msg("seed %llu stream %d %s (offset %d, window %d, %zu events): %s",
			         (unsigned long long)seed, stream, stage, c->w.offset_min, c->w.window,
			         c->nevents, diff);
		cJSON_Delete(got);
		cJSON_Delete(want);
	}
}

static void run_stream(uint64_t seed, int stream)
{
	struct stream_ctx *c = calloc(1, sizeof *c);
	struct kdc_event_row arrivals[MAX_EVENTS * 2];
	size_t narr = 0, target = (size_t)(1 + rnd_n(MAX_EVENTS));
	int64_t clock;
	char tag[32];
	int64_t base;

	assert_non_null(c);
	assert_int_equal(kdc_time_parse("2026-11-27T00:00:00Z", &base), 0);
	c->w.offset_min = offsets[rnd_n(6)];
	c->w.window = windows[rnd_n(4)];
	c->w.now = base + rnd_n(3 * DAY);
	snprintf(tag, sizeof tag, "prop%d", stream % 4);
	tl_tmp_path(c->db_path, sizeof c->db_path, tag);
	tl_tmp_path(c->profile_path, sizeof c->profile_path, "prop-profile");
	world_profile(&c->w, c->profile_path);

	/* the events, and the order they arrive in: shuffled, with resends */
	while (c->nevents < target) {
		struct kdc_event_row r = random_event(&c->w, c->events, c->nevents);
		c->events[c->nevents++] = r;
		arrivals[narr++] = r;
		if (chance(10) && narr < MAX_EVENTS * 2)
			arrivals[narr++] = c->events[rnd_n((int64_t)c->nevents)]; /* a resend */
	}
	for (size_t i = narr; i > 1; i--) {
		size_t j = (size_t)rnd_n((int64_t)i);
		struct kdc_event_row t = arrivals[i - 1];
		arrivals[i - 1] = arrivals[j];
		arrivals[j] = t;
	}

	c->db = tl_db_open(c->db_path);
	ctx_open_stats(c);
	clock = c->w.now - rnd_n(3 * DAY);
	for (size_t at = 0; at < narr;) {
		size_t n = (size_t)(1 + rnd_n(25));
		if (n > narr - at)
			n = narr - at;
		/* stored now: old events then skip the day and hour rows they can
		 * never show in (a publish's now is never before this) */
		for (size_t i = 0; i < n; i++)
			arrivals[at + i].received_ms = clock;
		if (chance(5)) {
			/* the writer failed this batch (disk full...): rolled back, sent again */
			struct kdc_event_row fresh[25];
			size_t nf = 0;
			assert_int_equal(sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
			for (size_t i = 0; i < n; i++)
				if (tl_store(c->db, &arrivals[at + i]))
					fresh[nf++] = arrivals[at + i];
			assert_int_equal(kdc_stats_apply(c->stats, fresh, nf), 0);
			assert_int_equal(sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
		}
		tl_ingest(c->db, c->stats, &arrivals[at], n);
		at += n;
		if (chance(10)) {
			long long k = 1 + rnd_n(3);
			assert_int_equal(sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
			for (long long i = 0; i < k; i++)
				tl_store_rejected(c->db, clock);
			assert_int_equal(kdc_stats_rejected(c->stats, (size_t)k), 0);
			assert_int_equal(sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
			c->rejected += k;
		}
		if (chance(30)) {
			clock += rnd_n(8 * HOUR);
			if (clock > c->w.now)
				clock = c->w.now;
			ctx_publish(c, clock, chance(50) ? 1000 : 0);
		}
		if (chance(8))
			ctx_restart(c);
	}
	/* the incremental path, as published (min_interval 0: nothing held back) */
	ctx_publish(c, c->w.now, 0);
	check_all(c, "incremental", seed, stream);
	/* a rebuild publishes every scope again: same numbers */
	assert_int_equal(kdc_stats_rebuild(c->stats), 0);
	ctx_publish(c, c->w.now, 0);
	check_all(c, "after rebuild", seed, stream);
	/* and a restart on the rebuilt tables */
	kdc_stats_free(c->stats);
	ctx_open_stats(c);
	ctx_publish(c, c->w.now + 1, 0);
	check_all(c, "after rebuild and restart", seed, stream);

	kdc_stats_free(c->stats);
	tl_db_close(c->db);
	kdc_profile_free(c->w.profile);
	tl_retained_free(&c->ret);
	remove(c->db_path);
	remove(c->profile_path);
	free(c);
}

/* ---- streams through the writer: the register, voids, amends ---------------------
 *
 * The same world, but the events go through the real writer (validation, the
 * register in memory, voids, field additions, recomputes) with the ward's
 * tools changing the register and voiding events between batches, and
 * restarts. The model (register_model.c) replays the arrivals in order with
 * the rules of docs/register.md, written here again from the contract: what
 * is refused, which households the register holds, which events a void takes
 * out. The figures are then model_snapshot of the events it counts. */

/* The scopes the statistics have seen: those of every event counted now.
 * After a whole chunk (the writer's figures then match) they certainly
 * folded it (1); after any one arrival they may have (2): an event counted
 * and voided within one batch of the writer is never folded. */
static void m_mark_seen(struct model *m, int how)
{
	for (size_t i = 0; i < m->nst; i++) {
		if (!m_counted(m, &m->st[i]))
			continue;
		for (int k = 0; k < 3; k++) {
			if (strcmp(m->st[i].r.khom, khoms[k]) == 0)
				m->seen_khom[k] |= how;
			if (strcmp(m->st[i].r.team, teams[k]) == 0)
				m->seen_team[k] |= how;
		}
	}
}

static int64_t g_clock;

static int64_t prop_clock(void)
{
	return g_clock;
}

static void fix_team(struct kdc_event_row *r)
{
	/* the profile gives D1, D2 to T1 and D3 to T2 (a wrong team is refused) */
	if (strcmp(r->device, "D1") == 0 || strcmp(r->device, "D2") == 0)
		snprintf(r->team, sizeof r->team, "T1");
	else if (strcmp(r->device, "D3") == 0)
		snprintf(r->team, sizeof r->team, "T2");
}

static struct kdc_event_row other_row(const struct world *w, const struct kdc_event_row *like,
                                      int kind, const char *khom, const char *hh)
{
	struct kdc_event_row r = tl_row(like ? like->occurred_ms : w->now - rnd_n(30 * DAY), khom,
	                                teams[rnd_n(3)], devices[rnd_n(5)], hh, 0, kind, 0, 0);
	if (like && chance(85)) {           /* usually the event's own device */
		snprintf(r.team, sizeof r.team, "%s", like->team);
		snprintf(r.device, sizeof r.device, "%s", like->device);
	}
	fix_team(&r);
	return r;
}

static void insert_item(struct item *items, size_t *n, size_t at, const struct item *it)
{
	memmove(&items[at + 1], &items[at], (*n - at) * sizeof *items);
	items[at] = *it;
	(*n)++;
}

/* The arrivals of a stream: events shuffled with resends, voids before or
 * after their event (some of another team, household or kind), amends,
 * household additions. */
static size_t make_items(const struct world *w, struct item *items)
{
	struct kdc_event_row pool[MAX_EVENTS / 2];
	size_t n = 0, npool = (size_t)(1 + rnd_n(MAX_EVENTS / 2));
	char hh[8];

	for (size_t i = 0; i < npool; i++) {
		pool[i] = random_event(w, pool, i);
		fix_team(&pool[i]);
		if (pool[i].occurred_ms > w->now + 23 * HOUR)
			pool[i].occurred_ms = w->now + 23 * HOUR;
		items[n].type = IT_EVENT;
		items[n].r = pool[i];
		n++;
		if (chance(10)) {                  /* a resend */
			items[n] = items[n - 1];
			n++;
		}
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rnd_n((int64_t)i);
		struct item t = items[i - 1];
		items[i - 1] = items[j];
		items[j] = t;
	}
	for (size_t k = 0, m = n; k < m && n < MAX_ITEMS - 4; k++) {
		const struct item *tg = &items[rnd_n((int64_t)n)];
		struct item v;
		size_t at = 0;

		if (!chance(20))
			continue;
		memset(&v, 0, sizeof v);
		if (chance(85)) {                            /* a void */
			v.type = IT_VOID;
			v.r = other_row(w, &tg->r, KDC_KIND_VOID, tg->r.khom, tg->r.household);
			if (chance(8))
				snprintf(v.r.household, sizeof v.r.household, "H%d", (int)rnd_n(6));
			memcpy(v.target, tg->r.id, KDC_UUID_LEN);
			while (at < n && memcmp(items[at].r.id, tg->r.id, KDC_UUID_LEN) != 0)
				at++;
			at = chance(70) ? at + 1 + (size_t)rnd_n((int64_t)(n - at)) : (size_t)rnd_n((int64_t)at + 1);
			insert_item(items, &n, at, &v);
			if (chance(10))                          /* sent twice */
				insert_item(items, &n, at + 1 + (size_t)rnd_n((int64_t)(n - at)), &v);
			if (tg->type == IT_EVENT && chance(40)) {  /* an amend: the corrected event */
				struct item c = *tg;
				c.r = tl_row(tg->r.occurred_ms, tg->r.khom, tg->r.team, tg->r.device,
				             tg->r.household, tg->r.member, tg->r.kind,
				             tg->r.kind == KDC_KIND_ACCOUNT ? 4 : 1, tg->r.amount_vnd);
				insert_item(items, &n, at + 1, &c);
			}
		} else {                                     /* a household found in the field */
			snprintf(hh, sizeof hh, "H%d", (int)rnd_n(8));
			v.type = IT_ADD;
			v.r = other_row(w, NULL, KDC_KIND_HOUSEHOLD_ADDED, khoms[rnd_n(3)], hh);
			v.r.subkind = chance(25);                /* a business */
			v.people = v.r.subkind ? 0 : (uint32_t)rnd_n(5);
			insert_item(items, &n, (size_t)rnd_n((int64_t)n + 1), &v);
		}
	}
	return n;
}

__attribute__((format(printf, 2, 3)))
static void ward_sql(struct wl *l, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	wl_sql(l, sql);
}

/* A register entry, people -1 for not given; a business has none. */
static void reg_insert(struct wl *l, struct model *m, const char *khom, const char *hh, int people,
                       int business, const char *source)
{
	char p[16];
	struct mreg *g = &m->reg[m->nreg++];

	snprintf(p, sizeof p, "%d", people);
	ward_sql(l, "INSERT INTO register VALUES('%s','%s',%s,'%s','it',1,NULL,NULL,NULL,%d)", khom, hh,
	         people < 0 || business ? "NULL" : p, source, business);
	snprintf(g->khom, sizeof g->khom, "%s", khom);
	snprintf(g->hh, sizeof g->hh, "%s", hh);
	g->active = 1;
	g->people = business ? -1 : people;
	g->business = business;
}

/* Between batches, as the ward's tools: retire, add or bring back a
 * household, or void a stored event. */
static void ward_change(struct wl *l, struct model *m)
{
	char hh[8];
	const char *khom = khoms[rnd_n(3)];
	struct mreg *g;

	snprintf(hh, sizeof hh, "H%d", (int)rnd_n(8));
	g = m_reg(m, khom, hh);
	if (chance(25) && m->nst) {
		struct mstored *e = &m->st[rnd_n((int64_t)m->nst)];
		char id[40];
		int k = 0;
		if (e->type != IT_EVENT || e->voided)
			return;
		for (int i = 0; i < KDC_UUID_LEN; i++)
			k += snprintf(id + k, sizeof id - (size_t)k, "%02x", e->r.id[i]);
		ward_sql(l, "BEGIN; UPDATE events SET voided_by = randomblob(16) WHERE id = x'%s';"
		         "INSERT INTO voids SELECT voided_by, id, 'wrong', '', 'ward:it', 1, 1 FROM events "
		         "WHERE id = x'%s'; INSERT INTO register_log(at_ms,by,action,detail) "
		         "VALUES(1,'it','void','x'); COMMIT;", id, id);
		e->voided = 1;
	} else if (g) {
		ward_sql(l, "BEGIN; UPDATE register SET retired_ms=%s, retired_by=%s, retired_reason=%s "
		         "WHERE khom='%s' AND household='%s'; INSERT INTO register_log(at_ms,by,action,"
		         "khom,household,detail) VALUES(1,'it','%s','%s','%s','x'); COMMIT;",
		         g->active ? "1" : "NULL", g->active ? "'it'" : "NULL", g->active ? "'gone'" : "NULL",
		         khom, hh, g->active ? "retire" : "add", khom, hh);
		g->active = !g->active;
	} else if (m->nreg < MAX_REG) {
		/* two commits: the writer takes the change up with the log's row */
		reg_insert(l, m, khom, hh, chance(30) ? -1 : (int)rnd_n(6), chance(20), "ward");
		ward_sql(l, "INSERT INTO register_log(at_ms,by,action,khom,household,detail) "
		         "VALUES(1,'it','add','%s','%s','new')", khom, hh);
	}
}

static void wcheck(struct wl *l, struct model *m, const struct world *w, const char *stage,
                   uint64_t seed, int stream, struct tl_retained *ret)
{
	struct kdc_event_row *counted = calloc(MAX_ITEMS, sizeof *counted);
	struct kdc_event_row *voided = calloc(MAX_ITEMS, sizeof *voided);
	long long den_hh[2], den_people[2], den_biz[2];
	struct model_extra x = { NULL, NULL, NULL, voided, 0 };
	size_t nc = 0, expected = 1;

	assert_non_null(counted);
	assert_non_null(voided);
	for (size_t i = 0; i < m->nst; i++) {
		if (m_counted(m, &m->st[i]))
			counted[nc++] = m->st[i].r;
		if (m->st[i].type == IT_EVENT && m->st[i].voided)
			voided[x.nvoided++] = m->st[i].r;
	}
	if (m->nreg > 0) {
		for (size_t k = 0; k < w->profile->nkhoms; k++) {
			int all = 1;
			den_hh[k] = den_people[k] = den_biz[k] = 0;
			for (size_t i = 0; i < m->nreg; i++) {
				if (!m->reg[i].active || strcmp(m->reg[i].khom, w->profile->khoms[k].code) != 0)
					continue;
				if (m->reg[i].business) {
					den_biz[k]++;
					continue;
				}
				den_hh[k]++;
				if (m->reg[i].people < 0)
					all = 0;
				else
					den_people[k] += m->reg[i].people;
			}
			if (!all)
				den_people[k] = w->profile->khoms[k].people_15plus;
		}
		x.den_hh = den_hh;
		x.den_people = den_people;
		x.den_biz = den_biz;
	}
	for (int k = 0; k < 3; k++) {
		char key[2][16];
		int seen[2] = { k < 2 ? 3 : m->seen_khom[k], k < 2 ? 3 : m->seen_team[k] };
		snprintf(key[0], sizeof key[0], "khom/%s", khoms[k]);
		snprintf(key[1], sizeof key[1], "team/%s", teams[k]);
		for (int j = 0; j < 2; j++) {
			int got = tl_get(ret, key[j]) != NULL;
			if ((seen[j] & 1) && !got)
				fail_msg("seed %llu stream %d %s: no snapshot of %s", (unsigned long long)seed,
				         stream, stage, key[j]);
			if (got && !seen[j])
				fail_msg("seed %llu stream %d %s: a snapshot of %s, which no event counted in",
				         (unsigned long long)seed, stream, stage, key[j]);
			expected += (size_t)got;
		}
	}
	if (ret->n != expected)
		fail_msg("seed %llu stream %d %s: %zu scopes published, expected %zu",
		         (unsigned long long)seed, stream, stage, ret->n, expected);
	for (size_t i = 0; i < ret->n; i++) {
		const char *key = ret->s[i].key, *slash = strchr(key, '/');
		int kind = !slash ? SC_WARD : key[0] == 'k' ? SC_KHOM : SC_TEAM;
		cJSON *got = tl_parse_numbers(ret->s[i].json);
		cJSON *want = model_snapshot(w, counted, nc, kind, slash ? slash + 1 : "", m->rejected, &x);
		char diff[1024];
		if (json_diff(want, got, key, diff, sizeof diff))
			fail_msg("seed %llu stream %d %s (offset %d, window %d, %zu stored, %zu register "
			         "entries): %s", (unsigned long long)seed, stream, stage, w->offset_min,
			         w->window, m->nst, m->nreg, diff);
		cJSON_Delete(got);
		cJSON_Delete(want);
	}
	free(counted);
	free(voided);
}

static void run_writer_stream(uint64_t seed, int stream)
{
	struct wl *l = calloc(1, sizeof *l);
	struct model *m = calloc(1, sizeof *m);
	struct item *items = calloc(MAX_ITEMS, sizeof *items);
	struct world w;
	struct tl_retained ret;
	char tag[32], ppath[600], err[256];
	size_t n;
	int64_t base;

	assert_non_null(l);
	assert_non_null(m);
	assert_non_null(items);
	memset(&w, 0, sizeof w);
	memset(&ret, 0, sizeof ret);
	assert_int_equal(kdc_time_parse("2026-11-27T00:00:00Z", &base), 0);
	w.offset_min = offsets[rnd_n(6)];
	w.window = windows[rnd_n(4)];
	w.now = base + rnd_n(3 * DAY);
	snprintf(tag, sizeof tag, "wprop%d", stream % 4);
	tl_tmp_path(ppath, sizeof ppath, "wprop-profile");
	world_profile(&w, ppath);
	remove(ppath);
	wl_open(l, tag, w.profile_text);
	l->conf.count_unknown = 1;          /* khóm 9 and team TX: stored as unassigned */
	l->conf.clock_ms = prop_clock;
	l->conf.batch_max = (size_t)(1 + rnd_n(30));
	g_clock = w.now - 10 * 60000;
	if (chance(60)) {                   /* the ward's register, imported before */
		for (int k = 0; k < 3; k++)
			for (int h = 0; h < 6; h++) {
				char hh[8];
				snprintf(hh, sizeof hh, "H%d", h);
				if (chance(60))
					reg_insert(l, m, khoms[k], hh, chance(15) ? -1 : (int)rnd_n(6), chance(20),
					           "import");
			}
		if (m->nreg)
			wl_sql(l, "INSERT INTO register_log(at_ms,by,action,detail) VALUES(1,'it','import','x')");
	}
	n = make_items(&w, items);
	wl_start(l);
	for (size_t at = 0; at < n;) {
		size_t k = (size_t)(1 + rnd_n(25));
		if (k > n - at)
			k = n - at;
		g_clock += 1000;
		for (size_t i = at; i < at + k; i++) {
			wl_put(l, &items[i].r, items[i].target, "recorded by mistake", items[i].people);
			m_apply(m, &items[i]);
			m_mark_seen(m, 2);
		}
		at += k;
		wl_wait(l);
		m_mark_seen(m, 3);
		if (chance(12)) {
			ward_change(l, m);
			m_mark_seen(m, 3);
		}
		if (chance(6)) {
			wl_stop(l);
			if (chance(50)) {
				kdc_stats_free(l->stats);
				l->stats = kdc_stats_open(kdc_store_db(l->store), l->profile, err, sizeof err);
				assert_non_null(l->stats);
			}
			wl_start(l);
		}
	}
	/* a last change of the ward's, and a last batch: a change made after the
	 * last batch is taken up by the running writer at its next batch or tick
	 * (or at its next start) */
	if (chance(30))
		ward_change(l, m);
	{
		struct item none;
		memset(&none, 0, sizeof none);
		none.type = IT_EVENT;
		none.r = tl_row(w.now - HOUR, "6", "T1", "D1", "H9", 0, KDC_KIND_VISIT, 1, 0);
		g_clock += 1000;
		wl_put(l, &none.r, NULL, NULL, 0);
		m_apply(m, &none);
		wl_wait(l);
		m_mark_seen(m, 3);
	}
	wl_stop(l);
	/* the incremental figures: a fresh statistics object publishes every scope */
	kdc_stats_free(l->stats);
	l->stats = kdc_stats_open(kdc_store_db(l->store), l->profile, err, sizeof err);
	assert_non_null(l->stats);
	{
		kdc_register *r = kdc_register_open(l->store, l->profile, err, sizeof err);
		assert_non_null(r);
		assert_int_equal(kdc_register_set_denominators(r, l->stats), 0);
		kdc_register_free(r);
	}
	assert_int_equal(kdc_stats_publish(l->stats, w.now, 0, tl_emit, &ret), 0);
	wcheck(l, m, &w, "incremental", seed, stream, &ret);
	tl_retained_free(&ret);
	assert_int_equal(kdc_store_begin(l->store), 0);
	assert_int_equal(kdc_stats_rebuild(l->stats), 0);
	assert_int_equal(kdc_store_commit(l->store), 0);
	assert_int_equal(kdc_stats_publish(l->stats, w.now, 0, tl_emit, &ret), 0);
	wcheck(l, m, &w, "after rebuild", seed, stream, &ret);
	tl_retained_free(&ret);
	wl_close(l);
	kdc_profile_free(w.profile);
	free(items);
	free(m);
	free(l);
}

static void test_writer_streams_with_register_and_voids(void **state)
{
	const char *env_seed = getenv("KDC_STATS_SEED"), *env_n = getenv("KDC_REGISTER_STREAMS");
	uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : (uint64_t)time(NULL);
	const char *env_one = getenv("KDC_STATS_STREAM");
	int streams = env_n ? atoi(env_n) : 200, first = 0;

	(void)state;
	if (env_one) {
		first = atoi(env_one);
		streams = first + 1;
	}
	printf("writer property test: %d streams, seed %llu (KDC_STATS_SEED=%llu "
	       "[KDC_STATS_STREAM=i] to replay)\n", streams - first, (unsigned long long)seed,
	       (unsigned long long)seed);
	for (int i = first; i < streams; i++) {
		rng_state = seed * 1000033ULL + (uint64_t)i + 7;
		(void)rnd();
		run_writer_stream(seed, i);
	}
	printf("writer property test: %d streams passed\n", streams - first);
}

static void test_random_streams_match_rebuild_and_model(void **state)
{
	const char *env_seed = getenv("KDC_STATS_SEED"), *env_n = getenv("KDC_STATS_STREAMS");
	uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : (uint64_t)time(NULL);
	const char *env_one = getenv("KDC_STATS_STREAM");
	int streams = env_n ? atoi(env_n) : 2000, first = 0;

	(void)state;
	if (env_one) { /* replay one failing stream */
		first = atoi(env_one);
		streams = first + 1;
	}
	printf("property test: %d streams, seed %llu (KDC_STATS_SEED=%llu [KDC_STATS_STREAM=i] to replay)\n",
	       streams - first, (unsigned long long)seed, (unsigned long long)seed);
	for (int i = first; i < streams; i++) {
		rng_state = seed * 1000003ULL + (uint64_t)i + 1;
		(void)rnd();
		run_stream(seed, i);
	}
	printf("property test: %d streams passed\n", streams - first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_streams_match_rebuild_and_model),
		cmocka_unit_test(test_writer_streams_with_register_and_voids),
	};

	kdc_log_set_level(KDC_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
