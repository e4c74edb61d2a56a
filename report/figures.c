/* figures.c: the ward's figures at a moment, by the statistics module
 * (figures.h). The scratch database is a kdc events database of its own
 * (kdc_store_open: the same schema, so that the statistics and the register
 * find the tables they expect); its events table stays empty, the events are
 * read from the ward's database as they are folded. */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "figures.h"
#include "kdc_db.h"
#include "kdc_err.h"
#include "register.h"
#include "stats.h"
#include "store.h"

struct cached {
	int kind;
	char code[KDC_CODE_MAX + 1];
	char *json;
};

struct kdc_figures {
	sqlite3 *src;
	const struct kdc_profile *profile;
	char path[4096];
	kdc_store *store;
	kdc_stats *stats;
	int64_t folded_until;   /* events before this are folded */
	int64_t last_now;
	struct cached *cache;   /* the latest snapshot of every scope emitted */
	size_t ncache;
	struct kdc_scope_figs *figs;
	size_t nfigs;
	int emit_failed;
};

int64_t kdc_figures_day_end(const struct kdc_profile *p, int64_t day)
{
	return kdc_local_day_start(day + 1, p->utc_offset_min) - 1;
}

int64_t kdc_month_last_day(int64_t day)
{
	int64_t y;
	unsigned m, d;

	kdc_civil_from_days(day, &y, &m, &d);
	return m == 12 ? kdc_days_from_civil(y + 1, 1, 1) - 1 : kdc_days_from_civil(y, m + 1, 1) - 1;
}

int kdc_figures_event_days(sqlite3 *src, const struct kdc_profile *p, int64_t *first,
                           int64_t *last, int *found, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[128];
	int rc;

	*found = 0;
	snprintf(sql, sizeof sql, "SELECT MIN(occurred_ms), MAX(occurred_ms) FROM events WHERE kind < %d",
	         KDC_KIND_COUNT);
	if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK ||
	    (rc = sqlite3_step(st)) != SQLITE_ROW) {
		snprintf(err, errlen, "reading the events' dates: %s", sqlite3_errmsg(src));
		sqlite3_finalize(st);
		return KDC_ERR_DB;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*found = 1;
		*first = kdc_local_day(sqlite3_column_int64(st, 0), p->utc_offset_min);
		*last = kdc_local_day(sqlite3_column_int64(st, 1), p->utc_offset_min);
	}
	sqlite3_finalize(st);
	return KDC_OK;
}

/* ---- the scratch database --------------------------------------------------------- */

static int make_scratch(kdc_figures *f, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(f->path, sizeof f->path, "%s/kdc-report-XXXXXX", dir) >= sizeof f->path) {
		snprintf(err, errlen, "TMPDIR is too long");
		f->path[0] = '\0';
		return KDC_ERR_INVAL;
	}
	if ((fd = mkstemp(f->path)) < 0) {
		snprintf(err, errlen, "cannot create a scratch file in %s for the figures (set TMPDIR "
		         "to another folder): %s", dir, strerror(errno));
		f->path[0] = '\0';
		return KDC_ERR_IO;
	}
	close(fd);
	return KDC_OK;
}

static void remove_scratch(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[4200];

	if (!*path)
		return;
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
}

/* Copies table `register` of src into the scratch database (the same
 * schema version: source.c checked it), row by row with its values as they
 * are. */
static int copy_register(kdc_figures *f, char *err, size_t errlen)
{
	sqlite3 *dst = kdc_store_db(f->store);
	sqlite3_stmt *get = NULL, *put = NULL;
	char sql[512];
	int rc = KDC_OK, step, ncol;

	if (sqlite3_prepare_v2(f->src, "SELECT * FROM register", -1, &get, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the household register: %s", sqlite3_errmsg(f->src));
		return KDC_ERR_DB;
	}
	ncol = sqlite3_column_count(get);
	if (ncol < 1 || ncol > 64) {
		snprintf(err, errlen, "the household register has %d columns", ncol);
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	strcpy(sql, "INSERT INTO register VALUES(?");
	for (int i = 1; i < ncol; i++)
		strcat(sql, ",?");
	strcat(sql, ")");
	if (sqlite3_prepare_v2(dst, sql, -1, &put, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot copy the household register: %s", sqlite3_errmsg(dst));
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	while ((step = sqlite3_step(get)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++)
			sqlite3_bind_value(put, i + 1, sqlite3_column_value(get, i));
		if ((step = sqlite3_step(put)) != SQLITE_DONE) {
			snprintf(err, errlen, "cannot copy the household register: %s", sqlite3_errmsg(dst));
			rc = kdc_db_rc(dst, step) ? kdc_db_rc(dst, step) : KDC_ERR_DB;
			goto cleanup;
		}
		sqlite3_reset(put);
	}
	if (step != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read the household register: %s", sqlite3_errmsg(f->src));
		rc = KDC_ERR_DB;
	}
cleanup:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	return rc;
}

/* The denominators the live aggregator uses: the register's, or the
 * profile's when the ward has none (the same call as writer_register.c). */
static int set_denominators(kdc_figures *f, char *err, size_t errlen)
{
	kdc_register *reg = kdc_register_open(f->store, f->profile, err, errlen);
	int rc;

	if (!reg)
		return KDC_ERR_DB;
	if ((rc = kdc_register_set_denominators(reg, f->stats)) != KDC_OK)
		snprintf(err, errlen, "out of memory");
	kdc_register_free(reg);
	return rc;
}

kdc_figures *kdc_figures_new(sqlite3 *src, const struct kdc_profile *profile, char *err,
                             size_t errlen)
{
	struct kdc_store_opts so = KDC_STORE_OPTS_INIT;
	kdc_figures *f = calloc(1, sizeof *f);
	char why[512];

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->src = src;
	f->profile = profile;
	f->folded_until = INT64_MIN;
	f->last_now = INT64_MIN;
	if (make_scratch(f, err, errlen) != KDC_OK)
		goto fail;
	if (!(f->store = kdc_store_open(f->path, &so, why, sizeof why))) {
		snprintf(err, errlen, "scratch database for the figures: %s", why);
		goto fail;
	}
	/* a scratch file: losing it to a crash loses nothing */
	if (sqlite3_exec(kdc_store_db(f->store), "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "scratch database: %s", sqlite3_errmsg(kdc_store_db(f->store)));
		goto fail;
	}
	if (copy_register(f, err, errlen) != KDC_OK)
		goto fail;
	if (!(f->stats = kdc_stats_open(kdc_store_db(f->store), profile, why, sizeof why))) {
		snprintf(err, errlen, "statistics in the scratch database: %s", why);
		goto fail;
	}
	if (set_denominators(f, err, errlen) != KDC_OK)
		goto fail;
	return f;
fail:
	kdc_figures_free(f);
	return NULL;
}

static void free_figs(kdc_figures *f)
{
	for (size_t i = 0; i < f->nfigs; i++)
		free(f->figs[i].targets);
	free(f->figs);
	f->figs = NULL;
	f->nfigs = 0;
}

void kdc_figures_free(kdc_figures *f)
{
	if (!f)
		return;
	free_figs(f);
	for (size_t i = 0; i < f->ncache; i++)
		free(f->cache[i].json);
	free(f->cache);
	kdc_stats_free(f->stats);
	kdc_store_close(f->store);
	remove_scratch(f->path);
	free(f);
}

/* ---- the snapshots ---------------------------------------------------------------- */

static int scope_kind(const char *name)
{
	return strcmp(name, "khom") == 0 ? KDC_SCOPE_KHOM : strcmp(name, "team") == 0 ? KDC_SCOPE_TEAM
	                                                                              : KDC_SCOPE_WARD;
}

/* kdc_stats_emit_cb: keeps the scope's latest snapshot. A scope whose
 * numbers did not change since the previous moment may not be emitted
 * again: its kept snapshot is then still right. */
static void on_emit(void *ud, const char *scope, const char *id, const char *json)
{
	kdc_figures *f = ud;
	int kind = scope_kind(scope);
	struct cached *c = NULL, *grown;
	char *copy;

	for (size_t i = 0; i < f->ncache; i++)
		if (f->cache[i].kind == kind && strcmp(f->cache[i].code, id ? id : "") == 0)
			c = &f->cache[i];
	if (!(copy = strdup(json))) {
		f->emit_failed = 1;
		return;
	}
	if (!c) {
		if (!(grown = realloc(f->cache, (f->ncache + 1) * sizeof *grown))) {
			free(copy);
			f->emit_failed = 1;
			return;
		}
		f->cache = grown;
		c = &f->cache[f->ncache++];
		c->kind = kind;
		snprintf(c->code, sizeof c->code, "%s", id ? id : "");
		c->json = NULL;
	}
	free(c->json);
	c->json = copy;
}

/* The value at a dotted path ("households.visited") of a snapshot. */
static int64_t field(const cJSON *root, const char *path)
{
	char part[64];
	const cJSON *o = root;

	while (o && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof part)
			return 0;
		memcpy(part, path, n);
		part[n] = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, part);
		path += n + (path[n] == '.');
	}
	return cJSON_IsNumber(o) ? (int64_t)o->valuedouble : 0;
}

/* A string, or the text of a raw number, of o.name into out ("" if null). */
static void text(const cJSON *o, const char *name, char *out, size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		snprintf(out, outlen, "%s", v->valuestring);
	else if (cJSON_IsRaw(v))
		snprintf(out, outlen, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		/* percents: the snapshot writes them with 2 decimals (or none for
		 * a whole target), which cJSON parsed into a double */
		snprintf(out, outlen, "%.2f", v->valuedouble);
	else
		out[0] = '\0';
}

static int parse_targets(const cJSON *root, struct kdc_scope_figs *g)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "targets"), *t;
	char name[64];

	g->ntargets = 0;
	g->targets = calloc((size_t)(cJSON_GetArraySize(arr) + 1), sizeof *g->targets);
	if (!g->targets)
		return KDC_ERR_NOMEM;
	cJSON_ArrayForEach(t, arr) {
		struct kdc_target_figs *x = &g->targets[g->ntargets++];
		text(t, "indicator", name, sizeof name);
		x->indicator = kdc_indicator_parse(name);
		text(t, "percent", x->percent, sizeof x->percent);
		if (strcmp(x->percent + strcspn(x->percent, "."), ".00") == 0)
			x->percent[strcspn(x->percent, ".")] = '\0';
		text(t, "deadline", x->deadline, sizeof x->deadline);
		text(t, "current", x->current, sizeof x->current);
		text(t, "projected", x->projected, sizeof x->projected);
		x->value = field(t, "value");
		x->denominator = field(t, "denominator");
		x->gained_30d = field(t, "gained_30d");
		x->on_track = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "on_track"));
		x->met = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "met"));
	}
	return KDC_OK;
}

/* Reads the parsed JSON (cJSON's numbers are doubles: counts up to 2^53
 * are exact, far above a ward's). */
static int parse_object(const cJSON *root, struct kdc_scope_figs *g)
{
	char buf[16];

	text(root, "scope", buf, sizeof buf);
	g->kind = scope_kind(buf);
	text(root, "id", g->code, sizeof g->code);
	text(root, "name", g->name, sizeof g->name);
	g->unassigned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "unassigned"));
	for (int i = 0; i < KDC_SF_COUNT; i++)
		g->v[i] = field(root, kdc_snap_fields[i]);
	return parse_targets(root, g);
}

static int parse_scope(const char *json, struct kdc_scope_figs *g)
{
	cJSON *root = cJSON_Parse(json);
	int rc;

	if (!root)
		return KDC_ERR_NOMEM;
	rc = parse_object(root, g);
	cJSON_Delete(root);
	return rc;
}

int kdc_figures_parse_list(const char *json, struct kdc_scope_figs **out, size_t *n)
{
	cJSON *root = cJSON_Parse(json), *o;
	struct kdc_scope_figs *g;
	int rc = KDC_OK;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return KDC_ERR_INVAL;
	}
	if (!(g = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *g))) {
		cJSON_Delete(root);
		return KDC_ERR_NOMEM;
	}
	cJSON_ArrayForEach(o, root) {
		if (!cJSON_IsObject(o)) {
			rc = KDC_ERR_INVAL;
			break;
		}
		rc = parse_object(o, &g[(*n)++]); /* counted first: its targets are freed too */
		if (rc != KDC_OK)
			break;
	}
	cJSON_Delete(root);
	*out = g;
	if (rc != KDC_OK) {
		kdc_figures_list_free(g, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void kdc_figures_list_free(struct kdc_scope_figs *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].targets);
	free(g);
}

/* The ward, the profile's khóms and teams in its order, then the others by code. */
static const struct kdc_profile *sort_profile;

static long rank(const struct kdc_scope_figs *g)
{
	long i = -1;

	if (g->kind == KDC_SCOPE_KHOM)
		i = kdc_profile_khom_find(sort_profile, g->code);
	else if (g->kind == KDC_SCOPE_TEAM)
		i = kdc_profile_team_find(sort_profile, g->code);
	else
		return 0;
	return i < 0 ? 1000000000L : i;
}

static int cmp_figs(const void *a, const void *b)
{
	const struct kdc_scope_figs *x = a, *y = b;
	long rx = rank(x), ry = rank(y);

	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(x->code, y->code);
}

int kdc_figures_at(kdc_figures *f, int64_t now_ms, const struct kdc_scope_figs **scopes,
                   size_t *n, char *err, size_t errlen)
{
	int rc;

	*scopes = NULL;
	*n = 0;
	if (now_ms < f->last_now) {
		snprintf(err, errlen, "the figures' moments must go forward");
		return KDC_ERR_INVAL;
	}
	if ((rc = kdc_stats_fold_from(f->stats, f->src, f->folded_until, now_ms + 1)) != KDC_OK) {
		snprintf(err, errlen, "computing the figures: %s", kdc_strerror(rc));
		return rc;
	}
	f->folded_until = now_ms + 1;
	f->last_now = now_ms;
	f->emit_failed = 0;
	if ((rc = kdc_stats_publish(f->stats, now_ms, 0, on_emit, f)) != KDC_OK || f->emit_failed) {
		snprintf(err, errlen, "reading the figures: %s", kdc_strerror(rc ? rc : KDC_ERR_NOMEM));
		return rc ? rc : KDC_ERR_NOMEM;
	}
	free_figs(f);
	if (!(f->figs = calloc(f->ncache ? f->ncache : 1, sizeof *f->figs))) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	for (size_t i = 0; i < f->ncache; i++) {
		f->figs[i].json = f->cache[i].json;
		f->nfigs++;
		if ((rc = parse_scope(f->cache[i].json, &f->figs[i])) != KDC_OK) {
			snprintf(err, errlen, "out of memory");
			return rc;
		}
	}
	sort_profile = f->profile;
	qsort(f->figs, f->nfigs, sizeof *f->figs, cmp_figs);
	*scopes = f->figs;
	*n = f->nfigs;
	return KDC_OK;
}
