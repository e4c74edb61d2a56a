/* stats_scope.c: the scope registry of the statistics (see stats_int.h for
 * the other parts): the ward, its khóms and teams, each with its st_scope
 * row, found by kind and code, created on first sight. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "profile.h"
#include "stats_int.h"

const char *const stats_scope_names[] = { "ward", "khom", "team" };

const char *stats__ward_code(const kdc_stats *s)
{
	return s->profile->ward[0] ? s->profile->ward : NULL;
}

struct scope *stats__scope_find(kdc_stats *s, int kind, const char *code)
{
	struct scope_key k;
	struct scope_ref *r;

	memset(&k, 0, sizeof k);
	k.kind = kind;
	copy_code(k.code, code);
	r = kdc_hmap_find(&s->scope_index, &k);
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
	r = kdc_hmap_get(&s->scope_index, &k, &created);
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
int stats__scope_store(kdc_stats *s, const struct scope *sc)
{
	sqlite3_stmt *st = stats__stmt(s, Q_SCOPE_INS);

	sqlite3_bind_int64(st, 1, sc->sid);
	sqlite3_bind_int(st, 2, sc->kind);
	sqlite3_bind_text(st, 3, sc->code, -1, SQLITE_STATIC);
	return stats__run(s, st, "insert st_scope");
}

/* The scope of an event's khóm or team, created on first sight. */
struct scope *stats__scope_for(kdc_stats *s, int kind, const char *code)
{
	struct scope *sc = stats__scope_find(s, kind, code);

	if (sc)
		return sc;
	sc = stats__scope_add(s, s->next_sid, kind, code, 0);
	if (sc && sc->pidx < 0)
		kdc_warn("stats: %s %s is not in the ward profile: its events are counted under "
		         "\"unassigned\" %s %s (add a [%s %s] section to give it denominators)",
		         kind == SCOPE_KHOM ? "khóm" : "team", code, stats_scope_names[kind], code,
		         stats_scope_names[kind], code);
	return sc;
}

int stats__load_scopes(kdc_stats *s)
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
int stats__register_profile_scopes(kdc_stats *s)
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
