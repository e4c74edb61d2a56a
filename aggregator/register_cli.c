/* register_cli.c: the ward office's commands. See register_cli.h.
 *
 * A change (import, add, retire, void) is one transaction that waits for a
 * running aggregator's batch (busy timeout) and appends register_log rows,
 * which the aggregator watches. When no aggregator runs (its lock is free)
 * and the profile is known, the statistics are recomputed in the same
 * transaction, so that the database never holds figures that disagree with
 * its register and voids. forget needs the aggregator stopped. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "dblock.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"
#include "kdc_util.h"
#include "register_cli.h"
#include "register_edit.h"
#include "stats.h"
#include "store.h"

#define TOOL_BY_MAX 64

struct tool_session {
	const struct kdc_tool *t;
	kdc_store *store;
	kdc_stats *stats;
	kdc_dblock *lock;     /* held: no aggregator runs */
	pid_t holder;         /* the running aggregator's pid, when known */
	int running;          /* an aggregator (or another tool) holds the lock */
	char by[TOOL_BY_MAX + 8];
};

/* --by, else the login name. 0, or a usage error. */
static int tool__by(const struct kdc_tool *t, char *by, size_t len)
{
	const char *name = t->by;
	struct passwd *pw;

	if (!name || !*name) {
		pw = getpwuid(getuid());
		if (pw && pw->pw_name && *pw->pw_name)
			name = pw->pw_name;
		else {
			snprintf(by, len, "uid %ld", (long)getuid());
			return 0;
		}
	}
	if (strlen(name) > TOOL_BY_MAX)
		return kdc_usage_error("--by must be at most %d bytes (a user name)", TOOL_BY_MAX);
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return kdc_usage_error("--by must be a name without control characters");
	snprintf(by, len, "%s", name);
	return 0;
}

static int tool__need_db(const struct kdc_tool *t, const char *cmd, int may_create)
{
	if (!t->db || !*t->db)
		return kdc_usage_error("%s: --db is required (the aggregator's SQLite file, e.g. "
		                       "/var/lib/kdc/31975/events.db)", cmd);
	if (!may_create && access(t->db, F_OK) != 0)
		return kdc_usage_error("%s: there is no database %s (give the aggregator's --db)", cmd,
		                       t->db);
	return 0;
}

static int tool__need_profile(const struct kdc_tool *t, const char *cmd)
{
	if (!t->profile_path || !*t->profile_path)
		return kdc_usage_error("%s: --profile FILE is required (the ward profile: the khóms "
		                       "a household may be in), or --config with a profile line", cmd);
	return 0;
}

/* Takes the lock when free; when it is not, notes who holds it. */
static void tool__try_lock(struct tool_session *s)
{
	char err[512];
	int rc = kdc_dblock_try(s->t->db, 0, &s->lock, &s->holder, err, sizeof err);

	s->running = rc != KDC_OK;
	if (rc != KDC_OK && rc != KDC_ERR_BUSY)
		kdc_warn("%s; taking the aggregator as running (it recomputes the statistics itself)", err);
}

/* Opens the store (and, when no aggregator runs and the profile is known,
 * the statistics, to recompute them after the change). */
static int tool__open(struct tool_session *s, const struct kdc_tool *t, int with_stats)
{
	struct kdc_store_opts so = KDC_STORE_OPTS_INIT;
	char err[512];

	memset(s, 0, sizeof *s);
	s->t = t;
	so.busy_timeout_ms = t->busy_timeout_ms;
	so.cache_kib = 2048;
	if (!(s->store = kdc_store_open(t->db, &so, err, sizeof err))) {
		kdc_error("%s", err);
		return -1;
	}
	if (!with_stats)
		return 0;
	tool__try_lock(s);
	if (s->lock && t->profile_path && *t->profile_path &&
	    !(s->stats = kdc_stats_open(kdc_store_db(s->store), t->profile, err, sizeof err))) {
		kdc_error("cannot set up statistics in %s: %s", t->db, err);
		return -1;
	}
	return 0;
}

static void tool__close(struct tool_session *s)
{
	kdc_stats_free(s->stats);
	kdc_store_close(s->store);
	kdc_dblock_release(s->lock);
	s->stats = NULL;
	s->store = NULL;
	s->lock = NULL;
}

/* Commits the change, after recomputing the statistics when they are ours. */
static int tool__commit(struct tool_session *s)
{
	if (s->stats && kdc_stats_rebuild(s->stats) != KDC_OK) {
		kdc_error("recomputing the statistics failed, nothing was changed: %s",
		          sqlite3_errmsg(kdc_store_db(s->store)));
		kdc_store_rollback(s->store);
		return -1;
	}
	if (kdc_store_commit(s->store) != KDC_OK) {
		kdc_error("saving the change failed, nothing was changed: %s", kdc_store_errmsg(s->store));
		kdc_store_rollback(s->store);
		return -1;
	}
	return 0;
}

/* After a committed change: says who brings the figures up to date. */
static void tool__say_figures(const struct tool_session *s)
{
	if (s->running && s->holder)
		printf("The running aggregator (pid %ld) takes the change into its figures within "
		       "seconds.\n", (long)s->holder);
	else if (s->running)
		printf("The running aggregator takes the change into its figures within seconds.\n");
	else if (!s->stats)
		printf("No aggregator is running, and without --profile the statistics were not "
		       "recomputed: run kdc-aggregator rebuild --db %s --profile FILE before starting "
		       "it.\n", s->t->db);
	else
		printf("No aggregator is running: the statistics were recomputed.\n");
}

static int tool__begin(struct tool_session *s)
{
	if (kdc_store_begin(s->store) != KDC_OK) {
		kdc_error("cannot change %s: %s", s->t->db, kdc_store_errmsg(s->store));
		return -1;
	}
	return 0;
}

/* ---- register ------------------------------------------------------------------ */

static int tool_import(const char *file, const struct kdc_tool *t)
{
	struct kdc_register_csv csv;
	struct kdc_reg_import_counts n;
	struct tool_session s;
	struct kdc_reg_who who;
	char err[512], by[TOOL_BY_MAX + 8];
	int rc;

	if (!file || !*file)
		return kdc_usage_error("register import: give the CSV file: register import FILE "
		                       "[--dry-run] [--retire-missing]");
	if ((rc = tool__need_db(t, "register import", 1)) || (rc = tool__need_profile(t, "register import")) ||
	    (rc = tool__by(t, by, sizeof by)))
		return rc;
	if (kdc_register_csv_read(file, t->profile, &csv, err, sizeof err) != KDC_OK) {
		kdc_register_csv_free(&csv);
		fprintf(stderr, "%s: %s\n", kdc_prog_name(), err);
		return 1;
	}
	if (csv.nerrors) {
		for (size_t i = 0; i < csv.nerrors; i++)
			fprintf(stderr, "%s\n", csv.errors[i]);
		fprintf(stderr, "%s: %zu error%s in %s: nothing was changed\n", kdc_prog_name(),
		        csv.nerrors, csv.nerrors == 1 ? "" : "s", file);
		kdc_register_csv_free(&csv);
		return KDC_EXIT_USAGE;
	}
	if (t->retire_missing && csv.nrows == 0) {
		fprintf(stderr, "%s: %s lists no household: with --retire-missing it would retire the "
		        "whole register; nothing was changed\n", kdc_prog_name(), file);
		kdc_register_csv_free(&csv);
		return KDC_EXIT_USAGE;
	}
	who.by = by;
	who.now_ms = kdc_now_ms();
	rc = 1;
	if (tool__open(&s, t, !t->dry_run) != 0 || tool__begin(&s) != 0)
		goto cleanup;
	if ((rc = kdc_reg_import(kdc_store_db(s.store), &csv, file, t->retire_missing, &who,
	                         t->dry_run, t->dry_run, stdout, stderr, &n, err, sizeof err)) != KDC_OK) {
		kdc_store_rollback(s.store);
		fprintf(stderr, "%s: %s\n", kdc_prog_name(), err);
		rc = rc == KDC_ERR_INVAL ? KDC_EXIT_USAGE : 1;
		goto cleanup;
	}
	rc = 1;
	if (t->dry_run) {
		kdc_store_rollback(s.store);
		printf("would add %zu, change %zu, retire %zu; %zu unchanged (dry run: nothing was "
		       "changed)\n", n.added, n.changed, n.retired, n.unchanged + n.stay_retired);
	} else {
		if (!n.added && !n.changed && !n.retired)
			kdc_store_rollback(s.store); /* nothing to save, nothing to pick up */
		else if (tool__commit(&s) != 0)
			goto cleanup;
		printf("added %zu, changed %zu, retired %zu; %zu unchanged\n", n.added, n.changed,
		       n.retired, n.unchanged + n.stay_retired);
		if (n.added || n.changed || n.retired)
			tool__say_figures(&s);
	}
	rc = 0;
cleanup:
	tool__close(&s);
	kdc_register_csv_free(&csv);
	return rc;
}

static int tool__need_household(const struct kdc_tool *t, const char *cmd)
{
	if (!t->khom || !*t->khom)
		return kdc_usage_error("%s: --khom K is required (the khóm of the household)", cmd);
	if (!kdc_code_valid(t->khom))
		return kdc_usage_error("%s: --khom '%s' is not a code (1-32 letters, digits, '_' or '-')",
		                       cmd, t->khom);
	if (!t->household || !*t->household)
		return kdc_usage_error("%s: --household H is required (the household's code, e.g. H0042)",
		                       cmd);
	if (!kdc_code_valid(t->household))
		return kdc_usage_error("%s: --household '%s' is not a code (1-32 letters, digits, '_' "
		                       "or '-')", cmd, t->household);
	return 0;
}

/* add and retire: one household, one change. */
static int tool_one(const char *action, const struct kdc_tool *t)
{
	struct tool_session s;
	struct kdc_reg_who who;
	char cmd[32], msg[1024], by[TOOL_BY_MAX + 8];
	int rc, retire = strcmp(action, "retire") == 0;

	snprintf(cmd, sizeof cmd, "register %s", action);
	if ((rc = tool__need_db(t, cmd, !retire)) || (rc = tool__need_household(t, cmd)) ||
	    (rc = tool__by(t, by, sizeof by)))
		return rc;
	if (!retire) {
		if ((rc = tool__need_profile(t, cmd)))
			return rc;
		if (kdc_profile_khom_find(t->profile, t->khom) < 0)
			return kdc_usage_error("%s: khóm '%s' is not in the ward profile %s", cmd, t->khom,
			                       t->profile_path);
		if (t->people > KDC_REGISTER_PEOPLE_MAX)
			return kdc_usage_error("%s: --people-15plus must be 0 to %d", cmd,
			                       KDC_REGISTER_PEOPLE_MAX);
		if (t->business && t->people >= 0)
			return kdc_usage_error("%s: a business has no --people-15plus", cmd);
	} else if (!kdc_reg_reason_valid(t->reason, msg, sizeof msg)) {
		return kdc_usage_error("register retire: --reason TEXT is required: %s", msg);
	}
	who.by = by;
	who.now_ms = kdc_now_ms();
	rc = 1;
	if (tool__open(&s, t, 1) != 0 || tool__begin(&s) != 0)
		goto cleanup;
	if (retire)
		rc = kdc_reg_retire(kdc_store_db(s.store), t->khom, t->household, t->reason, &who, msg,
		                    sizeof msg);
	else
		rc = kdc_reg_add(kdc_store_db(s.store), t->khom, t->household, (int)t->people,
		                 t->business, &who, msg, sizeof msg);
	if (rc != KDC_OK) {
		kdc_store_rollback(s.store);
		fprintf(stderr, "%s: %s\n", kdc_prog_name(), msg);
		rc = 1;
		goto cleanup;
	}
	rc = 1;
	if (tool__commit(&s) != 0)
		goto cleanup;
	printf("%s\n", msg);
	tool__say_figures(&s);
	rc = 0;
cleanup:
	tool__close(&s);
	return rc;
}

/* list and log: read only. */
static int tool_read(const char *action, const struct kdc_tool *t)
{
	struct tool_session s;
	char err[512];
	int rc;

	if ((rc = tool__need_db(t, action, 0)))
		return rc;
	if (t->khom && *t->khom && !kdc_code_valid(t->khom))
		return kdc_usage_error("%s: --khom '%s' is not a code", action, t->khom);
	if (tool__open(&s, t, 0) != 0) {
		tool__close(&s);
		return 1;
	}
	const char *khom = t->khom && *t->khom ? t->khom : NULL;
	if (strcmp(action, "register log") == 0)
		rc = kdc_reg_log_print(kdc_store_db(s.store), khom, stdout, err, sizeof err);
	else if (strcmp(action, "events") == 0)
		rc = kdc_reg_events(kdc_store_db(s.store), khom,
		                    t->household && *t->household ? t->household : NULL, t->limit, stdout,
		                    err, sizeof err);
	else
		rc = kdc_reg_list(kdc_store_db(s.store), khom, t->field, t->retired, stdout, err, sizeof err);
	if (rc != KDC_OK)
		kdc_error("%s", err);
	tool__close(&s);
	return rc == KDC_OK ? 0 : 1;
}

int kdc_tool_register(const char *action, const char *file, const struct kdc_tool *t)
{
	if (!action || !*action)
		return kdc_usage_error("register: say what to do: import, list, add, retire or log "
		                       "(see docs/register.md)");
	if (strcmp(action, "import") == 0)
		return tool_import(file, t);
	if (file)
		return kdc_usage_error("register %s: unexpected argument '%s'", action, file);
	if (strcmp(action, "list") == 0)
		return tool_read("register list", t);
	if (strcmp(action, "log") == 0)
		return tool_read("register log", t);
	if (strcmp(action, "add") == 0 || strcmp(action, "retire") == 0)
		return tool_one(action, t);
	return kdc_usage_error("register: unknown action '%s' (import, list, add, retire or log)", action);
}

int kdc_tool_events(const struct kdc_tool *t)
{
	if (t->household && *t->household && !kdc_code_valid(t->household))
		return kdc_usage_error("events: --household '%s' is not a code", t->household);
	return tool_read("events", t);
}

/* ---- void ------------------------------------------------------------------------ */

int kdc_tool_void(const struct kdc_tool *t)
{
	struct tool_session s;
	struct kdc_reg_who who;
	uint8_t id[KDC_UUID_LEN];
	char msg[1024], by[TOOL_BY_MAX + 8];
	int rc;

	if ((rc = tool__need_db(t, "void", 0)) || (rc = tool__by(t, by, sizeof by)))
		return rc;
	if (!t->event || !*t->event)
		return kdc_usage_error("void: --event ID is required (the event's id, as kdc-aggregator "
		                       "events prints it)");
	if (kdc_uuid_parse(t->event, id) != KDC_OK)
		return kdc_usage_error("void: --event '%s' is not an event id (like "
		                       "0190a5c4-1f2e-7abc-8def-0123456789ab)", t->event);
	if (!kdc_reg_reason_valid(t->reason, msg, sizeof msg))
		return kdc_usage_error("void: --reason TEXT is required: %s", msg);
	who.by = by;
	who.now_ms = kdc_now_ms();
	rc = 1;
	if (tool__open(&s, t, 1) != 0 || tool__begin(&s) != 0)
		goto cleanup;
	if (kdc_reg_void(kdc_store_db(s.store), id, t->reason, &who, msg, sizeof msg) != KDC_OK) {
		kdc_store_rollback(s.store);
		fprintf(stderr, "%s: %s\n", kdc_prog_name(), msg);
		goto cleanup;
	}
	if (tool__commit(&s) != 0)
		goto cleanup;
	printf("%s\n", msg);
	tool__say_figures(&s);
	rc = 0;
cleanup:
	tool__close(&s);
	return rc;
}

/* ---- forget ---------------------------------------------------------------------- */

int kdc_tool_forget(const struct kdc_tool *t)
{
	struct tool_session s;
	struct kdc_reg_who who;
	char err[512], by[TOOL_BY_MAX + 8];
	int64_t events = 0, rejected = 0;
	int rc, entry = 0, in_tx = 0;

	if (t->household && *t->household && (!t->khom || !*t->khom))
		return kdc_usage_error("forget: --household needs --khom K too: the same code can be a "
		                       "different household in another khóm, and only one is deleted");
	if ((rc = tool__need_household(t, "forget")) || (rc = tool__need_db(t, "forget", 0)) ||
	    (rc = tool__by(t, by, sizeof by)))
		return rc;
	memset(&s, 0, sizeof s);
	s.t = t;
	rc = kdc_dblock_try(t->db, 0, &s.lock, &s.holder, err, sizeof err);
	if (rc == KDC_ERR_BUSY) {
		char pid[32] = "";
		if (s.holder)
			snprintf(pid, sizeof pid, " (pid %ld)", (long)s.holder);
		fprintf(stderr, "%s: the aggregator%s is running on this database: stop it first: "
		        "systemctl stop kdc-aggregator@%s (and start it again after forget)\n",
		        kdc_prog_name(), pid, t->ward && *t->ward ? t->ward : "WARD");
		return KDC_TOOL_EXIT_RUNNING;
	}
	if (rc != KDC_OK) {
		kdc_error("forget: cannot make sure no aggregator runs on %s: %s", t->db, err);
		return 1;
	}
	{
		kdc_dblock *lock = s.lock;
		rc = tool__open(&s, t, 0);
		s.lock = lock;
	}
	if (rc == 0 && !(s.stats = kdc_stats_open(kdc_store_db(s.store), t->profile, err, sizeof err)))
		kdc_error("cannot set up statistics in %s: %s", t->db, err);
	rc = 1;
	if (!s.stats)
		goto cleanup;
	who.by = by;
	who.now_ms = kdc_now_ms();
	/* the statistics and the log keep household codes too: overwrite
	 * everything deleted */
	if (kdc_store_secure_delete(s.store, 1) != KDC_OK || kdc_store_begin(s.store) != KDC_OK)
		goto fail;
	in_tx = 1;
	if (kdc_store_forget_household(s.store, t->khom, t->household, &events, &rejected) != KDC_OK)
		goto fail;
	if (kdc_reg_forget(kdc_store_db(s.store), t->khom, t->household, events, rejected, &who,
	                   &entry, err, sizeof err) != KDC_OK) {
		kdc_error("forgetting household %s of khóm %s failed, nothing was changed: %s",
		          t->household, t->khom, err);
		goto rollback;
	}
	if (kdc_stats_rebuild(s.stats) != KDC_OK || kdc_store_commit(s.store) != KDC_OK)
		goto fail;
	in_tx = 0;
	if (kdc_store_checkpoint(s.store) != KDC_OK)
		kdc_warn("deleted, but the write-ahead log could not be truncated yet: %s",
		         kdc_store_errmsg(s.store));
	printf("household %s of khóm %s: %lld events and %lld refused payloads deleted%s; "
	       "statistics rebuilt\n", t->household, t->khom, (long long)events, (long long)rejected,
	       entry ? ", register entry deleted" : "");
	rc = 0;
	goto cleanup;
fail:
	kdc_error("forgetting household %s of khóm %s in %s failed, nothing was changed: %s",
	          t->household, t->khom, t->db, s.store ? kdc_store_errmsg(s.store) : "");
rollback:
	if (in_tx)
		kdc_store_rollback(s.store);
cleanup:
	tool__close(&s);
	return rc;
}
