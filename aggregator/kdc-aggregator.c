/* kdc-aggregator.c: kdc-aggregator, the ward server daemon.
 *
 *   kdc-aggregator [run] --ward CODE --db PATH [--broker URL] [options]
 *   kdc-aggregator rebuild --db PATH [--profile FILE]
 *   kdc-aggregator forget --db PATH [--profile FILE] --khom K --household H
 *   kdc-aggregator register import|list|add|retire|log ... --db PATH [--profile FILE]
 *   kdc-aggregator void --db PATH --event ID --reason TEXT
 *   kdc-aggregator events --db PATH [--khom K] [--household H]
 * (the ward office's commands are register_cli.h's; docs/register.md)
 *
 * Threads of `run`:
 *   - main: owns the MQTT client (connect/reconnect ticks), publishes what
 *     the writer queued (receipts, stats) and the status, handles shutdown;
 *   - Paho's receive thread: the message callback copies each message into
 *     the ingest queue and returns (ingest.h);
 *   - the writer: owns the database; batches, commits, builds receipts
 *     (writer.h).
 * The writer never calls Paho (see outq.h for why), so a full ingest queue
 * can only ever slow the broker down, never deadlock.
 *
 * Exit status: 0 after SIGTERM/SIGINT and a clean shutdown, 1 when the
 * database or MQTT client cannot be set up, 2 on bad configuration. */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <protobuf-c/protobuf-c.h>
#include <sqlite3.h>

#include "ingest.h"
#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_mqtt.h"
#include "kdc_prog.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "outq.h"
#include "dblock.h"
#include "profile.h"
#include "register_cli.h"
#include "stats.h"
#include "store.h"
#include "worklist.h"
#include "writer.h"


#define EXIT_CONFIG KDC_EXIT_USAGE
#define MAIN_TICK_MS 100
#define DOWN_TICK_MS 10
#define SHUTDOWN_PUBLISH_MS 5000
#define DISCONNECT_MS 3000
#define RECEIPT_QUEUE_BYTES (64u * 1024 * 1024)
#define LOCK_WAIT_MS 15000

/* ---- configuration -------------------------------------------------------- */

struct agg_conf {
	char *config;
	struct kdc_mqtt_conf mqtt;
	char *ward;
	char *db;
	char *profile;
	char *khom;
	char *household;
	char *by;
	char *reason;
	char *event;
	int dry_run;
	int retire_missing;
	int field;
	int retired;
	int business;
	long long people_15plus;
	long long limit;
	long long batch_max;
	long long batch_ms;
	char *synchronous;
	char *unknown_codes;
	long long stats_interval_ms;
	long long worklist_interval_ms;
	long long queue_slots;
	long long busy_timeout_ms;
	long long cache_mib;
	char *log_level;
};

static const struct kdc_opt agg_opts[] = {
	KDC_OPT(struct agg_conf, "config", KDC_OPT_STR, config, 0, 0, NULL,
	        "read options from this file (key = value, same names as the flags)"),
	KDC_OPT(struct agg_conf, "ward", KDC_OPT_STR, ward, 0, 0, NULL,
	        "the ward's administrative-unit code, e.g. 31975 (required)"),
	KDC_OPT(struct agg_conf, "db", KDC_OPT_STR, db, 0, 0, NULL,
	        "SQLite database file, created with mode 0600 (required)"),
	KDC_OPT(struct agg_conf, "profile", KDC_OPT_STR, profile, 0, 0, NULL,
	        "ward profile: households and people 15+ per khom, teams, targets"),
	KDC_OPT(struct agg_conf, "khom", KDC_OPT_STR, khom, 0, 0, NULL,
	        "register, events, forget: the khom (with --household: of that household)"),
	KDC_OPT(struct agg_conf, "household", KDC_OPT_STR, household, 0, 0, NULL,
	        "register add/retire, events, forget: the household's code, e.g. H0042"),
	KDC_OPT(struct agg_conf, "people-15plus", KDC_OPT_INT, people_15plus, -1, 100, "-1",
	        "register add: people aged 15+ in the household (-1: not given)"),
	KDC_OPT(struct agg_conf, "business", KDC_OPT_BOOL, business, 0, 0, "false",
	        "register add: the code is a business's (household business, enterprise)"),
	KDC_OPT(struct agg_conf, "reason", KDC_OPT_STR, reason, 0, 0, NULL,
	        "register retire, void: why, in a few words (kept in the register log)"),
	KDC_OPT(struct agg_conf, "by", KDC_OPT_STR, by, 0, 0, NULL,
	        "register, void, forget: who makes the change (default: the login name)"),
	KDC_OPT(struct agg_conf, "dry-run", KDC_OPT_BOOL, dry_run, 0, 0, "false",
	        "register import: print what would change, change nothing"),
	KDC_OPT(struct agg_conf, "retire-missing", KDC_OPT_BOOL, retire_missing, 0, 0, "false",
	        "register import: retire households the file no longer lists"),
	KDC_OPT(struct agg_conf, "field", KDC_OPT_BOOL, field, 0, 0, "false",
	        "register list: only households added in the field (by devices)"),
	KDC_OPT(struct agg_conf, "retired", KDC_OPT_BOOL, retired, 0, 0, "false",
	        "register list: the retired households instead of the active ones"),
	KDC_OPT(struct agg_conf, "event", KDC_OPT_STR, event, 0, 0, NULL,
	        "void: the id of the event to void (as kdc-aggregator events prints it)"),
	KDC_OPT(struct agg_conf, "limit", KDC_OPT_INT, limit, 1, 1000000, "100",
	        "events: show at most this many (the newest)"),
	KDC_MQTT_OPTS(struct agg_conf, mqtt),
	KDC_OPT(struct agg_conf, "batch-max", KDC_OPT_INT, batch_max, 1, 100000, "4096",
	        "events stored per transaction at most (a backlog is drained in batches "
	        "this big: per-batch work is shared by more events)"),
	KDC_OPT(struct agg_conf, "batch-ms", KDC_OPT_INT, batch_ms, 0, 10000, "50",
	        "wait at most this many ms to fill a batch (latency of receipts)"),
	KDC_OPT(struct agg_conf, "synchronous", KDC_OPT_STR, synchronous, 0, 0, "full",
	        "SQLite durability: full (a commit survives power loss) or normal "
	        "(the last commits may be lost on power loss; devices resend them)"),
	KDC_OPT(struct agg_conf, "unknown-codes", KDC_OPT_STR, unknown_codes, 0, 0, "refuse",
	        "an event whose team or khom the profile lacks: refuse (unknown_team, unknown_khom) or count (as unassigned)"),
	KDC_OPT(struct agg_conf, "stats-interval-ms", KDC_OPT_INT, stats_interval_ms, 100, 3600000, "1000",
	        "publish each statistics scope at most this often"),
	KDC_OPT(struct agg_conf, "worklist-interval-ms", KDC_OPT_INT, worklist_interval_ms, 100, 3600000, "5000",
	        "publish each team's worklist and each khom's household list at most this often"),
	KDC_OPT(struct agg_conf, "queue-slots", KDC_OPT_INT, queue_slots, 1024, 1048576, "32768",
	        "messages held between the MQTT receiver and the writer"),
	KDC_OPT(struct agg_conf, "cache-mib", KDC_OPT_INT, cache_mib, 1, 4096, "8",
	        "SQLite page cache in MiB (most of the daemon's memory once the database is big)"),
	KDC_OPT(struct agg_conf, "busy-timeout-ms", KDC_OPT_INT, busy_timeout_ms, 0, 600000, "5000",
	        "wait this long for a database locked by another program"),
	KDC_OPT(struct agg_conf, "log-level", KDC_OPT_STR, log_level, 0, 0, "info",
	        "debug, info, notice, warning or error"),
	KDC_OPT_END
};

static void agg__usage(FILE *out)
{
	fprintf(out,
	        "usage: kdc-aggregator [run] --ward CODE --db PATH [--broker URL] [options]\n"
	        "       kdc-aggregator rebuild --db PATH [--profile FILE]\n"
	        "       kdc-aggregator forget --db PATH [--profile FILE] --khom K --household H\n"
	        "       kdc-aggregator register import FILE [--dry-run] [--retire-missing] [--by NAME]\n"
	        "       kdc-aggregator register list [--khom K] [--field] [--retired]\n"
	        "       kdc-aggregator register add --khom K --household H [--people-15plus N | --business]\n"
	        "       kdc-aggregator register retire --khom K --household H --reason TEXT\n"
	        "       kdc-aggregator register log [--khom K]\n"
	        "       kdc-aggregator void --event ID --reason TEXT [--by NAME]\n"
	        "       kdc-aggregator events [--khom K] [--household H] [--limit N]\n"
	        "       (register, void and events take --db PATH and --profile FILE, or --config)\n"
	        "\n"
	        "run (the default) subscribes to kdc/v1/{ward}/events/+/+, stores every event\n"
	        "once, publishes receipts after each commit and the statistics as retained\n"
	        "JSON, until SIGTERM or SIGINT.\n"
	        "rebuild recomputes the statistics from the stored events (stop the daemon\n"
	        "first: it keeps statistics in memory too).\n"
	        "forget deletes one household of one khom: its events, the voids naming them,\n"
	        "refused payloads holding its code, its register entry (personal-data law),\n"
	        "and rebuilds the statistics, in one transaction; it refuses (exit 3) while\n"
	        "the daemon runs on the database.\n"
	        "register keeps the ward's household register, void takes an event out of\n"
	        "the figures, events lists stored events with their ids: these work while\n"
	        "the daemon runs (see docs/register.md).\n"
	        "\n"
	        "options (also as 'name = value' lines in --config FILE):\n");
	kdc_conf_usage(agg_opts, out);
}

/* Loads the profile named by --profile, or the built-in default (no
 * denominators) without one. A profile for another ward is a mistake worth
 * stopping for: its numbers would be published as this ward's. */
static int agg__profile(const struct agg_conf *c, const char *ward, struct kdc_profile **out)
{
	char err[512];

	*out = NULL;
	if (!c->profile || !*c->profile) {
		if (!(*out = kdc_profile_new_default(ward))) {
			fprintf(stderr, "kdc-aggregator: out of memory\n");
			return 1;
		}
		return 0;
	}
	if (kdc_profile_load(c->profile, out, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-aggregator: cannot use the ward profile: %s\n", err);
		return EXIT_CONFIG;
	}
	if (ward && (*out)->ward[0] && strcmp((*out)->ward, ward) != 0) {
		fprintf(stderr, "kdc-aggregator: the profile %s is for ward %s, but --ward is %s\n",
		        c->profile, (*out)->ward, ward);
		kdc_profile_free(*out);
		*out = NULL;
		return EXIT_CONFIG;
	}
	return 0;
}

/* ---- run --------------------------------------------------------------------- */

static volatile sig_atomic_t agg_stop;

struct agg {
	const struct agg_conf *conf;
	char status_topic[KDC_TOPIC_MAX + 1];
	kdc_ingest *in;
	kdc_outq *out;
	kdc_mqtt *mqtt;
	kdc_writer *writer;
	atomic_uint connects;          /* bumped by Paho's thread on each connect */
	unsigned connects_seen;
	uint64_t health_seen;
	int status_published;          /* 0: publish again at the next chance */
	char status[16];               /* what was last published */
	int64_t status_since_ms;
	unsigned stats_connects_seen;  /* connects when the stats were last requeued */
	uint64_t dropped_offline;      /* receipts dropped while the broker was away */
	atomic_ulong retained_ignored; /* retained deliveries on event topics */
};

/* Paho's receive thread, library mutex held: copy and return (ingest.h). */
static void agg__on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct agg *a = ud;

	/* refused only after shutdown began: no receipt, so the device resends */
	(void)kdc_ingest_put(a->in, topic, payload, len);
}

/* Paho's receive thread: a retained message on an event topic. Events are
 * never retained (the broker's kdc_guard plugin refuses that); one left on
 * the broker would come back at every reconnect, so it is not stored, not
 * receipted, only counted and logged. */
static void agg__on_retained(void *ud, const char *topic, const void *payload, size_t len)
{
	struct agg *a = ud;
	unsigned long n = atomic_fetch_add(&a->retained_ignored, 1) + 1;

	(void)payload;
	kdc_warn("ignored a retained message on %s (%zu bytes; %lu so far): events are never "
	         "retained; remove it with kdc-ward clear-retained", topic, len, n);
}

static void agg__on_connection(void *ud, int connected, int session_present)
{
	struct agg *a = ud;

	(void)session_present;
	if (connected)
		atomic_fetch_add(&a->connects, 1);
}

static void agg__status_json(const struct agg *a, char *buf, size_t len, const char *status,
                             int64_t since_ms, const char *reason)
{
	char since[40] = "null", t[32];

	if (since_ms > 0) {
		kdc_time_format(since_ms, t, sizeof t);
		snprintf(since, sizeof since, "\"%s\"", t);
	}
	/* ward is a checked code and reasons are our own words: nothing to
	 * escape */
	snprintf(buf, len, "{\"status\":\"%s\",\"ward\":\"%s\",\"since\":%s%s%s%s,\"version\":\"%s\"}",
	         status, a->conf->ward, since, reason ? ",\"reason\":\"" : "", reason ? reason : "",
	         reason ? "\"" : "", KDC_VERSION);
}

/* Publishes online/degraded when the writer's health changed or after each
 * (re)connect (the broker may have published our will meanwhile). */
static void agg__status(struct agg *a)
{
	char reason[128], json[512];
	uint64_t gen;
	unsigned connects = atomic_load(&a->connects);
	int degraded = kdc_writer_health(a->writer, reason, sizeof reason, &gen);
	const char *status = degraded ? "degraded" : "online";
	int rc;

	if (!kdc_mqtt_connected(a->mqtt))
		return;
	if (a->status_published && connects == a->connects_seen && gen == a->health_seen)
		return;
	if (strcmp(status, a->status) != 0 || connects != a->connects_seen)
		a->status_since_ms = kdc_now_ms();
	agg__status_json(a, json, sizeof json, status, a->status_since_ms,
	                 degraded ? reason : NULL);
	rc = kdc_mqtt_publish(a->mqtt, a->status_topic, json, strlen(json), 1, 1, NULL, NULL);
	if (rc != KDC_OK)
		return; /* try again next tick */
	if (strcmp(status, a->status) != 0)
		kdc_notice("status: %s%s%s%s", status, degraded ? " (" : "", degraded ? reason : "",
		           degraded ? ")" : "");
	snprintf(a->status, sizeof a->status, "%s", status);
	a->connects_seen = connects;
	a->health_seen = gen;
	a->status_published = 1;
}

/* After each (re)connect, queues every statistics snapshot again: a broker
 * that restarted from an older persistence file serves older ones, and the
 * writer sends a snapshot only when it changes (or once a minute). */
static void agg__requeue_stats(struct agg *a)
{
	unsigned connects = atomic_load(&a->connects);
	size_t n = 0;

	if (connects == a->stats_connects_seen || !kdc_mqtt_connected(a->mqtt))
		return;
	if (kdc_outq_requeue_retained(a->out, &n) != KDC_OK)
		kdc_warn("out of memory queueing the statistics again after a reconnect");
	else
		a->stats_connects_seen = connects;
	if (n)
		kdc_info("connected: publishing the %zu statistics snapshots and lists again", n);
}

/* Publishes what the writer queued. Returns 1 when Paho's buffer is full
 * (the caller should pause briefly), else 0. */
static int agg__publish_queued(struct agg *a)
{
	struct kdc_outq_msg *m;

	if (!kdc_mqtt_connected(a->mqtt)) {
		/* receipts are only worth sending fresh: the devices resend and
		 * get new ones; stats (retained) wait for the broker */
		a->dropped_offline += kdc_outq_drop_plain(a->out);
		return 0;
	}
	while ((m = kdc_outq_pop(a->out))) {
		int rc = kdc_mqtt_publish(a->mqtt, m->topic, m->payload, m->len, 1, m->retain, NULL, NULL);
		if (rc == KDC_OK) {
			kdc_outq_msg_free(m);
			continue;
		}
		if (rc == KDC_ERR_BUSY || rc == KDC_ERR_NOT_CONNECTED) {
			kdc_outq_unpop(a->out, m);
			return rc == KDC_ERR_BUSY;
		}
		kdc_debug("publish to %s failed: %s; dropped", m->topic, kdc_strerror(rc));
		kdc_outq_msg_free(m);
	}
	return 0;
}

static void agg__log_start(const struct agg_conf *c, const char *client_id)
{
	kdc_info("kdc-aggregator %s (SQLite %s, protobuf-c %s) starting: ward %s, db %s, "
	         "broker %s, client-id %s, mqtt-version %s%s%s, profile %s, batch-max %lld, "
	         "batch-ms %lld, synchronous %s, stats-interval-ms %lld, worklist-interval-ms %lld, "
	         "queue-slots %lld",
	         KDC_VERSION, sqlite3_libversion(), protobuf_c_version(), c->ward, c->db,
	         c->mqtt.broker, client_id, c->mqtt.mqtt_version,
	         c->mqtt.username && *c->mqtt.username ? ", username " : "",
	         c->mqtt.username && *c->mqtt.username ? c->mqtt.username : "",
	         c->profile && *c->profile ? c->profile : "(none)", c->batch_max, c->batch_ms,
	         c->synchronous, c->stats_interval_ms, c->worklist_interval_ms, c->queue_slots);
}

static void agg__shutdown(struct agg *a)
{
	int64_t until;
	char json[512];
	uint64_t refused;

	kdc_info("stopping: storing what is queued, then sending receipts and statistics");
	/* intake first: from here the callback refuses (devices resend those) */
	kdc_ingest_close(a->in);
	kdc_writer_stop(a->writer);
	a->writer = NULL;
	until = kdc_mono_ms() + SHUTDOWN_PUBLISH_MS;
	while (!kdc_outq_empty(a->out) && kdc_mqtt_connected(a->mqtt) && kdc_mono_ms() < until) {
		if (agg__publish_queued(a))
			kdc_sleep_ms(10);
	}
	if (!kdc_outq_empty(a->out))
		kdc_warn("stopping: some receipts or statistics could not be published (broker away); "
		         "devices resend and statistics are sent at the next start");
	refused = kdc_ingest_refused(a->in);
	if (refused)
		kdc_notice("stopping: %llu messages arrived after intake stopped; they were not "
		           "stored, their devices send them again",
		           (unsigned long long)refused);
	if (kdc_mqtt_connected(a->mqtt)) {
		agg__status_json(a, json, sizeof json, "offline", kdc_now_ms(), NULL);
		if (kdc_mqtt_publish(a->mqtt, a->status_topic, json, strlen(json), 1, 1, NULL, NULL) !=
		    KDC_OK)
			kdc_warn("could not publish the offline status");
	}
	/* waits for the QoS 1 acks of what was just sent; no will on a clean
	 * disconnect */
	kdc_mqtt_disconnect(a->mqtt, DISCONNECT_MS);
}

/* Opens the database and its statistics as the options say (run, rebuild
 * and forget alike). Logs why and returns -1 when it cannot; the caller
 * frees whatever was opened. */
static int agg__open_db(const struct agg_conf *c, int synchronous_full,
                        const struct kdc_profile *profile, kdc_store **store,
                        kdc_stats **stats)
{
	struct kdc_store_opts so = KDC_STORE_OPTS_INIT;
	char err[512];

	so.synchronous_full = synchronous_full;
	so.busy_timeout_ms = (int)c->busy_timeout_ms;
	so.cache_kib = (int)c->cache_mib * 1024;
	if (!(*store = kdc_store_open(c->db, &so, err, sizeof err))) {
		kdc_error("%s", err);
		return -1;
	}
	if (!(*stats = kdc_stats_open(kdc_store_db(*store), profile, err, sizeof err))) {
		kdc_error("cannot set up statistics in %s: %s", c->db, err);
		return -1;
	}
	return 0;
}

/* Takes the database's lock (dblock.h) for as long as the daemon runs: one
 * aggregator per database, and no forget under it. A ward tool holds it for
 * a moment when no aggregator runs, so a held lock is tried again for a
 * while before giving up. */
static int agg__lock(const struct agg_conf *c, kdc_dblock **lock)
{
	int64_t until = kdc_mono_ms() + LOCK_WAIT_MS;
	char err[512];
	pid_t holder = 0;
	int rc;

	while ((rc = kdc_dblock_try(c->db, 1, lock, &holder, err, sizeof err)) == KDC_ERR_BUSY &&
	       kdc_mono_ms() < until && !agg_stop)
		kdc_sleep_ms(100);
	if (rc == KDC_ERR_BUSY)
		kdc_error("the database %s is in use by another program (pid %ld): another "
		          "kdc-aggregator, or kdc-aggregator forget; one aggregator per database",
		          c->db, (long)holder);
	else if (rc != KDC_OK)
		kdc_error("%s", err);
	return rc == KDC_OK ? 0 : -1;
}

static int agg_run(struct agg_conf *c)
{
	struct kdc_writer_conf wc = KDC_WRITER_CONF_INIT;
	struct kdc_mqtt_callbacks cbs = { 0 };
	struct kdc_profile *profile = NULL;
	struct agg a;
	kdc_store *store = NULL;
	kdc_stats *stats = NULL;
	kdc_dblock *lock = NULL;
	kdc_worklist *worklist = NULL;
	char err[512], filter[KDC_TOPIC_MAX + 1], client_id[128], json[512];
	int rc = 1, full;

	memset(&a, 0, sizeof a);
	a.conf = c;
	if (!c->ward || !*c->ward)
		return kdc_usage_error("--ward is required (the ward's administrative code, e.g. 31975)");
	if (!kdc_code_valid(c->ward))
		return kdc_usage_error("--ward '%s' is not a code (1-32 letters, digits, '_' or '-')", c->ward);
	if (!c->db || !*c->db)
		return kdc_usage_error("--db is required (the SQLite file for events, e.g. /var/lib/kdc/31975.db)");
	if (strcmp(c->synchronous, "full") == 0)
		full = 1;
	else if (strcmp(c->synchronous, "normal") == 0)
		full = 0;
	else
		return kdc_usage_error("--synchronous must be full or normal, got '%s'", c->synchronous);
	if (strcmp(c->unknown_codes, "refuse") == 0)
		wc.count_unknown = 0;
	else if (strcmp(c->unknown_codes, "count") == 0)
		wc.count_unknown = 1;
	else
		return kdc_usage_error("--unknown-codes must be refuse or count, got '%s'", c->unknown_codes);
	if (!c->mqtt.broker || !*c->mqtt.broker)
		return kdc_usage_error("--broker is required (e.g. tcp://127.0.0.1:1883)");
	if (c->mqtt.client_id && *c->mqtt.client_id)
		snprintf(client_id, sizeof client_id, "%s", c->mqtt.client_id);
	else
		snprintf(client_id, sizeof client_id, "kdc-aggregator-%s", c->ward);
	kdc_prog_check_secret_file(c->config, c->mqtt.password);
	if ((rc = agg__profile(c, c->ward, &profile)) != 0)
		return rc;
	rc = 1;

	agg__log_start(c, client_id);
	if (agg__lock(c, &lock) != 0 || agg__open_db(c, full, profile, &store, &stats) != 0)
		goto cleanup;
	a.in = kdc_ingest_new((size_t)c->queue_slots);
	a.out = kdc_outq_new(RECEIPT_QUEUE_BYTES);
	if (!a.in || !a.out) {
		kdc_error("out of memory");
		goto cleanup;
	}
	if (kdc_topic_status(a.status_topic, sizeof a.status_topic, c->ward) < 0 ||
	    kdc_topic_events(filter, sizeof filter, c->ward, "+", "+") < 0) {
		kdc_error("ward code too long for a topic");
		goto cleanup;
	}

	kdc_prog_on_stop(&agg_stop, 1);

	wc.ward = c->ward;
	wc.batch_max = (size_t)c->batch_max;
	wc.batch_ms = (int)c->batch_ms;
	wc.stats_interval_ms = c->stats_interval_ms;
	wc.profile = profile;
	if (!(worklist = kdc_worklist_new(kdc_store_db(store), profile, c->ward, err, sizeof err))) {
		kdc_error("%s", err);
		goto cleanup;
	}
	wc.worklist = worklist;
	wc.worklist_interval_ms = c->worklist_interval_ms;
	if (!(a.writer = kdc_writer_start(&wc, store, stats, a.in, a.out, err, sizeof err))) {
		kdc_error("%s", err);
		goto cleanup;
	}

	cbs.on_message = agg__on_message;
	cbs.on_connection = agg__on_connection;
	cbs.ud = &a;
	{
		struct kdc_mqtt_conf mc = c->mqtt;
		mc.client_id = client_id;
		a.mqtt = kdc_mqtt_new(&mc, &cbs, err, sizeof err);
	}
	if (!a.mqtt) {
		kdc_error("%s", err);
		goto cleanup;
	}
	agg__status_json(&a, json, sizeof json, "offline", 0, "connection lost");
	kdc_mqtt_set_retained_cb(a.mqtt, agg__on_retained);
	if (kdc_mqtt_set_will(a.mqtt, a.status_topic, json) != KDC_OK ||
	    kdc_mqtt_subscribe(a.mqtt, filter, 1) != KDC_OK) {
		kdc_error("out of memory setting up MQTT");
		goto cleanup;
	}

	while (!agg_stop) {
		int busy;
		kdc_mqtt_tick(a.mqtt);
		agg__status(&a);
		agg__requeue_stats(&a);
		busy = agg__publish_queued(&a);
		if (busy)
			kdc_sleep_ms(5);
		else if (!kdc_mqtt_connected(a.mqtt))
			/* queued retained stats wait for the broker, so waiting on the
			 * queue would return at once: a busy loop for as long as the
			 * broker is away (every start-up included) */
			kdc_sleep_ms(DOWN_TICK_MS);
		else
			kdc_outq_wait(a.out, MAIN_TICK_MS);
	}
	agg__shutdown(&a);
	rc = 0;
cleanup:
	if (a.writer) {
		/* failed start-up after the writer began: stop it cleanly */
		kdc_ingest_close(a.in);
		kdc_writer_stop(a.writer);
		a.writer = NULL;
	}
	if (a.dropped_offline)
		kdc_info("%llu receipts were not sent while the broker was away (devices resend)",
		         (unsigned long long)a.dropped_offline);
	/* the MQTT client first: its callbacks use the ingest queue */
	kdc_mqtt_free(a.mqtt);
	kdc_worklist_free(worklist);
	kdc_stats_free(stats);
	kdc_store_close(store);
	kdc_ingest_free(a.in);
	kdc_outq_free(a.out);
	kdc_profile_free(profile);
	kdc_dblock_release(lock);
	if (rc == 0)
		kdc_info("stopped");
	return rc;
}

/* ---- rebuild ------------------------------------------------------------------ */

static int agg_rebuild(struct agg_conf *c)
{
	struct kdc_profile *profile = NULL;
	kdc_store *store = NULL;
	kdc_stats *stats = NULL;
	int64_t t0;
	int rc;

	if (!c->db || !*c->db)
		return kdc_usage_error("rebuild: --db is required (the aggregator's SQLite file)");
	if ((rc = agg__profile(c, c->ward && *c->ward ? c->ward : NULL, &profile)) != 0)
		return rc;
	rc = 1;
	if (agg__open_db(c, 1, profile, &store, &stats) != 0)
		goto cleanup;
	t0 = kdc_mono_ms();
	if (kdc_stats_rebuild(stats) != KDC_OK) {
		kdc_error("rebuilding the statistics of %s failed: %s", c->db,
		          sqlite3_errmsg(kdc_store_db(store)));
		goto cleanup;
	}
	kdc_info("statistics of %s rebuilt from the stored events in %.1f s", c->db,
	         (double)(kdc_mono_ms() - t0) / 1000.0);
	rc = 0;
cleanup:
	kdc_stats_free(stats);
	kdc_store_close(store);
	kdc_profile_free(profile);
	return rc;
}

/* ---- the ward office's commands (register_cli.h) ------------------------------- */

/* Positional arguments of `register ACTION [FILE]` (not options). */
static const char *agg_action, *agg_file;

/* Runs fn with the options as a kdc_tool, the profile loaded. */
static int agg__tool(struct agg_conf *c, int (*fn)(const struct kdc_tool *t))
{
	struct kdc_profile *profile = NULL;
	struct kdc_tool t;
	int rc;

	if ((rc = agg__profile(c, c->ward && *c->ward ? c->ward : NULL, &profile)) != 0)
		return rc;
	memset(&t, 0, sizeof t);
	t.db = c->db;
	t.profile_path = c->profile;
	t.profile = profile;
	t.ward = c->ward && *c->ward ? c->ward : profile->ward;
	t.by = c->by;
	t.khom = c->khom;
	t.household = c->household;
	t.reason = c->reason;
	t.event = c->event;
	t.dry_run = c->dry_run;
	t.retire_missing = c->retire_missing;
	t.field = c->field;
	t.retired = c->retired;
	t.business = c->business;
	t.people = c->people_15plus;
	t.limit = c->limit;
	t.busy_timeout_ms = (int)c->busy_timeout_ms;
	rc = fn(&t);
	kdc_profile_free(profile);
	return rc;
}

static int agg__register(const struct kdc_tool *t)
{
	return kdc_tool_register(agg_action, agg_file, t);
}

static int agg_register(struct agg_conf *c) { return agg__tool(c, agg__register); }
static int agg_void(struct agg_conf *c) { return agg__tool(c, kdc_tool_void); }
static int agg_events(struct agg_conf *c) { return agg__tool(c, kdc_tool_events); }
/* Deletes one household's data and brings the statistics to what a rebuild
 * from the remaining events gives, in one transaction; refuses while the
 * daemon runs on the database. */
static int agg_forget(struct agg_conf *c) { return agg__tool(c, kdc_tool_forget); }

/* ---- commands -------------------------------------------------------------- */

struct agg_command {
	const char *name;
	int (*fn)(struct agg_conf *c);
};

static const struct agg_command agg_commands[] = {
	{ "run", agg_run },
	{ "rebuild", agg_rebuild },
	{ "forget", agg_forget },
	{ "register", agg_register },
	{ "void", agg_void },
	{ "events", agg_events },
};

int main(int argc, char **argv)
{
	const struct agg_command *cmd = &agg_commands[0];
	struct agg_conf conf;
	int argi = 1, rc;

	kdc_prog_init("kdc-aggregator");
	memset(&conf, 0, sizeof conf);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = NULL;
		for (size_t i = 0; i < sizeof agg_commands / sizeof agg_commands[0]; i++)
			if (strcmp(argv[1], agg_commands[i].name) == 0)
				cmd = &agg_commands[i];
		if (strcmp(argv[1], "help") == 0) {
			agg__usage(stdout);
			return 0;
		}
		if (!cmd)
			return kdc_usage_error("unknown command '%s' (commands: run, rebuild, forget, "
			                       "register, void, events; see --help)", argv[1]);
		argi = 2;
	}
	if (kdc_prog_help_version(argc, argv, argi, agg__usage, &rc))
		return rc;
	if (cmd->fn == agg_register && argi < argc && argv[argi][0] != '-')
		agg_action = argv[argi++];
	if ((rc = kdc_prog_options(agg_opts, &conf, argc, argv, &argi, cmd->fn == agg_register)) != 0)
		goto cleanup;
	if (cmd->fn == agg_register && argi < argc) {
		/* register import FILE: the one argument, options before or after it */
		char err[512];
		agg_file = argv[argi++];
		if (kdc_conf_args(agg_opts, &conf, argc, argv, &argi, err, sizeof err) != KDC_OK) {
			rc = kdc_usage_error("%s", err);
			goto cleanup;
		}
		if (argi < argc) {
			rc = kdc_usage_error("unexpected argument '%s' (options start with --; see "
			                     "kdc-aggregator --help)", argv[argi]);
			goto cleanup;
		}
	}
	if ((rc = kdc_prog_log_level(conf.log_level)) != 0)
		goto cleanup;
	/* Nobody reads SQLite's memory statistics here, and keeping them takes a
	 * process-wide mutex on every SQLite allocation. Only possible before
	 * SQLite's first use. */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		kdc_debug("SQLite memory statistics stay on (SQLite already in use)");
	rc = cmd->fn(&conf);
cleanup:
	kdc_conf_free(agg_opts, &conf);
	return rc;
}
