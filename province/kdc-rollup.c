/* kdc-rollup: the province roll-up daemon.
 *
 *   kdc-rollup --profile PROVINCE.ini [--broker URL] [options]
 *
 * Subscribes to the ward statistics of the wards listed in the province
 * profile (kdc/v1/{ward}/stats/ward), their aggregators' status
 * (kdc/v1/{ward}/status/aggregator) and, where ward brokers are bridged, the
 * bridge state (kdc/v1/{ward}/status/bridge); publishes the province snapshot
 * retained on kdc/v1/province/{code}/stats, at most once per --interval-ms
 * when something changed, and every --refresh-s anyway so that the ages in
 * it stay true. Its own status is retained on
 * kdc/v1/province/{code}/status/rollup (will: offline).
 *
 * It keeps nothing on disk: every input is a retained message, so after a
 * restart the broker hands it the latest snapshot of every ward, and its own
 * last snapshot, whose seq it continues.
 *
 * Threads: main owns the MQTT client, the roll-up state and publishing;
 * Paho's receive thread only copies messages into the inbox (rollup state
 * is never touched there).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 when the MQTT client cannot be set
 * up, 2 on bad configuration. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_mqtt.h"
#include "kdc_prog.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "rollup.h"

#define EXIT_CONFIG KDC_EXIT_USAGE
#define TICK_MS 50
#define DISCONNECT_MS 3000
#define INBOX_MAX_BYTES (64u * 1024 * 1024)

/* ---- configuration ------------------------------------------------------------ */

struct rollup_conf {
	char *config;
	struct kdc_mqtt_conf mqtt;
	char *profile;
	long long interval_ms;
	long long refresh_s;
	long long settle_ms;
	char *subscribe;
	char *log_level;
};

static const struct kdc_opt ru_opts[] = {
	KDC_OPT(struct rollup_conf, "config", KDC_OPT_STR, config, 0, 0, NULL,
	        "read options from this file (key = value, same names as the flags)"),
	KDC_OPT(struct rollup_conf, "profile", KDC_OPT_STR, profile, 0, 0, NULL,
	        "province profile: its code and name, its wards (code = name), targets (required)"),
	KDC_MQTT_OPTS(struct rollup_conf, mqtt),
	KDC_OPT(struct rollup_conf, "interval-ms", KDC_OPT_INT, interval_ms, 100, 3600000, "1000",
	        "publish the province snapshot at most this often"),
	KDC_OPT(struct rollup_conf, "refresh-s", KDC_OPT_INT, refresh_s, 5, 86400, "60",
	        "publish again after this many seconds even if nothing changed (ages of the wards)"),
	KDC_OPT(struct rollup_conf, "settle-ms", KDC_OPT_INT, settle_ms, 0, 60000, "1500",
	        "after connecting, wait this long for the retained ward snapshots before the first "
	        "publish (so that a restart never publishes a half-empty province)"),
	KDC_OPT(struct rollup_conf, "subscribe", KDC_OPT_STR, subscribe, 0, 0, "per-ward",
	        "per-ward (three exact topics per listed ward; works on every broker) or wildcard "
	        "(kdc/v1/+/...; fewer subscriptions, but RabbitMQ does not deliver retained "
	        "messages to wildcard subscriptions)"),
	KDC_OPT(struct rollup_conf, "log-level", KDC_OPT_STR, log_level, 0, 0, "info",
	        "debug, info, notice, warning or error"),
	KDC_OPT_END
};

static void ru__usage(FILE *out)
{
	fprintf(out,
	        "usage: kdc-rollup --profile PROVINCE.ini [--broker URL] [options]\n"
	        "\n"
	        "Adds up the statistics of the wards of a province (kdc/v1/{ward}/stats/ward)\n"
	        "and publishes the province snapshot, retained, on kdc/v1/province/{code}/stats,\n"
	        "until SIGTERM or SIGINT. See docs/province.md.\n"
	        "\n"
	        "options (also as 'name = value' lines in --config FILE):\n");
	kdc_conf_usage(ru_opts, out);
}

/* ---- the inbox: Paho's thread -> main ------------------------------------------ */

enum msg_kind { MSG_STATS, MSG_STATUS, MSG_LINK, MSG_OWN };

struct msg {
	struct msg *next;
	enum msg_kind kind;
	char ward[KDC_CODE_MAX + 1];
	size_t len;
	char payload[]; /* len bytes + NUL */
};

struct inbox {
	pthread_mutex_t lock;
	struct msg *head, *tail;
	size_t bytes;
	unsigned long long dropped;
};

static volatile sig_atomic_t ru_stop;

struct ru {
	const struct rollup_conf *conf;
	const struct kdc_province *prov;
	char own_topic[KDC_TOPIC_MAX + 1];
	char status_topic[KDC_TOPIC_MAX + 1];
	struct inbox in;
	kdc_mqtt *mqtt;
	kdc_rollup *rollup;
	atomic_uint connects; /* bumped on Paho's thread at each connect */
	unsigned connects_seen;
	int status_published;
	int64_t settle_until;  /* mono ms; 0 = never connected yet */
	int64_t seq;           /* last published (or found retained) */
	int64_t last_pub;      /* mono ms of the last publish, 0 = none */
	int dirty;
	unsigned long long ignored_unlisted, ignored_invalid, ignored_older;
	int64_t invalid_logged_ms;     /* mono ms of the last "ignored" warning */
	unsigned long long invalid_unsaid;
};

/* kdc/v1/{ward}/stats/ward, kdc/v1/{ward}/status/aggregator,
 * kdc/v1/{ward}/status/bridge or our own snapshot topic -> kind and ward;
 * -1 for anything else. */
static int ru__route(const struct ru *r, const char *topic, char ward[KDC_CODE_MAX + 1])
{
	const char *p, *rest;
	size_t n;

	if (strcmp(topic, r->own_topic) == 0)
		return MSG_OWN;
	if (strncmp(topic, "kdc/v1/", 7) != 0)
		return -1;
	p = topic + 7;
	n = strcspn(p, "/");
	if (n == 0 || n > KDC_CODE_MAX || p[n] != '/')
		return -1;
	memcpy(ward, p, n);
	ward[n] = '\0';
	rest = p + n + 1;
	if (strcmp(rest, "stats/ward") == 0)
		return MSG_STATS;
	if (strcmp(rest, "status/aggregator") == 0)
		return MSG_STATUS;
	if (strcmp(rest, "status/bridge") == 0)
		return MSG_LINK;
	return -1;
}

/* Paho's receive thread, library mutex held: copy and return. */
static void ru__on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct ru *r = ud;
	char ward[KDC_CODE_MAX + 1] = "";
	int kind = ru__route(r, topic, ward);
	struct msg *m;

	if (kind < 0)
		return;
	pthread_mutex_lock(&r->in.lock);
	if (r->in.bytes + len > INBOX_MAX_BYTES || !(m = malloc(sizeof *m + len + 1))) {
		/* the ward publishes again within a second or so: losing one
		 * snapshot only delays the province's by as much */
		r->in.dropped++;
		pthread_mutex_unlock(&r->in.lock);
		return;
	}
	m->next = NULL;
	m->kind = kind;
	memcpy(m->ward, ward, sizeof m->ward);
	m->len = len;
	if (len)
		memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	if (r->in.tail)
		r->in.tail->next = m;
	else
		r->in.head = m;
	r->in.tail = m;
	r->in.bytes += len;
	pthread_mutex_unlock(&r->in.lock);
}

static void ru__on_connection(void *ud, int connected, int session_present)
{
	struct ru *r = ud;

	(void)session_present;
	if (connected)
		atomic_fetch_add(&r->connects, 1);
}

/* Takes everything queued (main thread). */
static struct msg *ru__take(struct ru *r)
{
	struct msg *m;
	unsigned long long dropped;

	pthread_mutex_lock(&r->in.lock);
	m = r->in.head;
	r->in.head = r->in.tail = NULL;
	r->in.bytes = 0;
	dropped = r->in.dropped;
	r->in.dropped = 0;
	pthread_mutex_unlock(&r->in.lock);
	if (dropped)
		kdc_warn("%llu messages dropped (inbox over %u MiB); the next ward snapshots "
		         "make up for them", dropped, INBOX_MAX_BYTES >> 20);
	return m;
}

/* Our own retained snapshot from before a restart: continue its seq. */
static void ru__own(struct ru *r, const struct msg *m)
{
	cJSON *root = cJSON_ParseWithLength(m->payload, m->len);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(root, "seq");

	if (cJSON_IsNumber(seq) && seq->valuedouble > (double)r->seq && seq->valuedouble < 9e15) {
		r->seq = (int64_t)seq->valuedouble;
		kdc_debug("continuing from the retained province snapshot, seq %lld", (long long)r->seq);
	}
	cJSON_Delete(root);
}

static void ru__apply(struct ru *r, const struct msg *m)
{
	char err[160] = "";
	int res;

	switch (m->kind) {
	case MSG_OWN:
		ru__own(r, m);
		return;
	case MSG_STATS:
		res = kdc_rollup_ward_stats(r->rollup, m->ward, m->payload, m->len, err, sizeof err);
		break;
	case MSG_STATUS:
		res = kdc_rollup_ward_status(r->rollup, m->ward, m->payload, m->len, err, sizeof err);
		if (res == KDC_ROLLUP_CHANGED)
			kdc_info("ward %s: aggregator %.*s", m->ward, (int)(m->len > 60 ? 60 : m->len),
			         m->len ? m->payload : "status withdrawn");
		break;
	case MSG_LINK:
		res = kdc_rollup_ward_link(r->rollup, m->ward, m->payload, m->len, err, sizeof err);
		if (res == KDC_ROLLUP_CHANGED)
			kdc_info("ward %s: bridge %s", m->ward,
			         m->len == 0 ? "state withdrawn" : m->payload[0] == '1' ? "up" : "down");
		break;
	default:
		return;
	}
	switch (res) {
	case KDC_ROLLUP_CHANGED:
		r->dirty = 1;
		break;
	case KDC_ROLLUP_UNLISTED:
		/* with --subscribe wildcard: other provinces' wards on a shared broker */
		if (r->ignored_unlisted++ == 0)
			kdc_info("ignoring ward %s (and any other ward) not listed in the province profile",
			         m->ward);
		break;
	case KDC_ROLLUP_INVALID:
		/* a broken ward publishes about once a second: say it once a
		 * minute, with how many were left unsaid */
		r->ignored_invalid++;
		if (kdc_mono_ms() - r->invalid_logged_ms >= 60000 || r->invalid_logged_ms == 0) {
			kdc_warn("ward %s: ignored a message: %s (%llu more ignored messages since the "
			         "last warning)", m->ward, err, r->invalid_unsaid);
			r->invalid_logged_ms = kdc_mono_ms();
			r->invalid_unsaid = 0;
		} else {
			r->invalid_unsaid++;
		}
		break;
	case KDC_ROLLUP_OLDER:
		r->ignored_older++;
		kdc_debug("ward %s: ignored a snapshot older than the one held", m->ward);
		break;
	default:
		break;
	}
}

static void ru__status_json(char *buf, size_t len, const struct kdc_province *p,
                            const char *status, int64_t since_ms)
{
	char since[40] = "null", t[32];

	if (since_ms > 0) {
		kdc_time_format(since_ms, t, sizeof t);
		snprintf(since, sizeof since, "\"%s\"", t);
	}
	/* the province code is a checked code: nothing to escape */
	snprintf(buf, len, "{\"status\":\"%s\",\"province\":\"%s\",\"since\":%s,\"version\":\"%s\"}",
	         status, p->code, since, KDC_VERSION);
}

/* After each (re)connect: our status, and the snapshot again (the broker may
 * have lost its retained copy). */
static void ru__on_connected(struct ru *r)
{
	unsigned connects = atomic_load(&r->connects);
	char json[256];

	if (connects == r->connects_seen)
		return;
	if (r->settle_until == 0) {
		r->settle_until = kdc_mono_ms() + r->conf->settle_ms;
		kdc_info("connected; waiting %lld ms for the retained ward snapshots",
		         r->conf->settle_ms);
	}
	ru__status_json(json, sizeof json, r->prov, "online", kdc_now_ms());
	if (kdc_mqtt_publish(r->mqtt, r->status_topic, json, strlen(json), 1, 1, NULL, NULL) != KDC_OK)
		return; /* again at the next tick */
	r->connects_seen = connects;
	r->dirty = 1;
}

static void ru__publish(struct ru *r)
{
	int64_t now = kdc_mono_ms();
	char *json = NULL;
	int rc;

	if (!kdc_mqtt_connected(r->mqtt) || r->settle_until == 0 || now < r->settle_until)
		return;
	if (r->last_pub && now - r->last_pub < r->conf->interval_ms)
		return;
	if (!r->dirty && r->last_pub && now - r->last_pub < r->conf->refresh_s * 1000)
		return;
	if (kdc_rollup_build(r->rollup, kdc_now_ms(), r->seq + 1, &json) != KDC_OK) {
		kdc_error("out of memory building the province snapshot");
		return;
	}
	rc = kdc_mqtt_publish(r->mqtt, r->own_topic, json, strlen(json), 1, 1, NULL, NULL);
	if (rc == KDC_OK) {
		size_t listed, reporting, online;
		r->seq++;
		r->last_pub = now;
		if (r->dirty) {
			kdc_rollup_counts(r->rollup, &listed, &reporting, &online);
			kdc_debug("published seq %lld: %zu wards, %zu reporting, %zu online",
			          (long long)r->seq, listed, reporting, online);
		}
		r->dirty = 0;
	} else if (rc != KDC_ERR_BUSY && rc != KDC_ERR_NOT_CONNECTED) {
		kdc_warn("publishing the province snapshot failed: %s", kdc_strerror(rc));
	}
	free(json);
}

static int ru__subscribe(struct ru *r)
{
	static const char *const suffixes[] = { "stats/ward", "status/aggregator", "status/bridge" };
	char topic[KDC_TOPIC_MAX + 1];
	int wildcard = strcmp(r->conf->subscribe, "wildcard") == 0;

	if (kdc_mqtt_subscribe(r->mqtt, r->own_topic, 1) != KDC_OK)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < (wildcard ? 1 : r->prov->nwards); i++)
		for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
			snprintf(topic, sizeof topic, "kdc/v1/%s/%s",
			         wildcard ? "+" : r->prov->wards[i].code, suffixes[k]);
			if (kdc_mqtt_subscribe(r->mqtt, topic, 1) != KDC_OK)
				return KDC_ERR_NOMEM;
		}
	return KDC_OK;
}

static void ru__shutdown(struct ru *r)
{
	char json[256];

	if (kdc_mqtt_connected(r->mqtt)) {
		/* the last word: a fresh snapshot if one is due, then offline */
		if (r->dirty && r->settle_until && kdc_mono_ms() >= r->settle_until) {
			r->last_pub = 0;
			ru__publish(r);
		}
		ru__status_json(json, sizeof json, r->prov, "offline", kdc_now_ms());
		if (kdc_mqtt_publish(r->mqtt, r->status_topic, json, strlen(json), 1, 1, NULL, NULL) !=
		    KDC_OK)
			kdc_warn("could not publish the offline status");
	}
	kdc_mqtt_disconnect(r->mqtt, DISCONNECT_MS);
}

static int ru_run(struct rollup_conf *c)
{
	struct kdc_mqtt_callbacks cbs = { 0 };
	struct kdc_province *prov = NULL;
	struct ru r;
	struct msg *m;
	char err[512], client_id[128], json[256];
	int rc;

	memset(&r, 0, sizeof r);
	r.conf = c;
	if (!c->profile || !*c->profile)
		return kdc_usage_error("--profile is required (the province profile: its code, "
		                       "wards and targets; see docs/province.md)");
	if (strcmp(c->subscribe, "per-ward") != 0 && strcmp(c->subscribe, "wildcard") != 0)
		return kdc_usage_error("--subscribe must be per-ward or wildcard, got '%s'",
		                       c->subscribe);
	if (!c->mqtt.broker || !*c->mqtt.broker)
		return kdc_usage_error("--broker is required (e.g. tcp://127.0.0.1:1883)");
	if ((rc = kdc_province_load(c->profile, &prov, err, sizeof err)) != KDC_OK) {
		fprintf(stderr, "kdc-rollup: cannot use the province profile: %s\n", err);
		return rc == KDC_ERR_NOMEM ? 1 : EXIT_CONFIG;
	}
	kdc_prog_check_secret_file(c->config, c->mqtt.password);
	r.prov = prov;
	rc = 1;
	if (c->mqtt.client_id && *c->mqtt.client_id)
		snprintf(client_id, sizeof client_id, "%s", c->mqtt.client_id);
	else
		snprintf(client_id, sizeof client_id, "kdc-rollup-%s", prov->code);
	snprintf(r.own_topic, sizeof r.own_topic, "kdc/v1/province/%s/stats", prov->code);
	snprintf(r.status_topic, sizeof r.status_topic, "kdc/v1/province/%s/status/rollup",
	         prov->code);
	if (pthread_mutex_init(&r.in.lock, NULL) != 0) {
		kdc_error("cannot create a mutex");
		kdc_province_free(prov);
		return 1;
	}
	if (!(r.rollup = kdc_rollup_new(prov))) {
		kdc_error("out of memory");
		goto cleanup;
	}
	kdc_info("kdc-rollup %s starting: province %s (%s), %zu wards, broker %s, client-id %s, "
	         "mqtt-version %s, subscribe %s, publishing %s", KDC_VERSION, prov->code, prov->name,
	         prov->nwards, c->mqtt.broker, client_id, c->mqtt.mqtt_version, c->subscribe,
	         r.own_topic);

	kdc_prog_on_stop(&ru_stop, 1);

	cbs.on_message = ru__on_message;
	cbs.on_connection = ru__on_connection;
	cbs.ud = &r;
	{
		struct kdc_mqtt_conf mc = c->mqtt;
		mc.client_id = client_id;
		r.mqtt = kdc_mqtt_new(&mc, &cbs, err, sizeof err);
	}
	if (!r.mqtt) {
		kdc_error("%s", err);
		goto cleanup;
	}
	ru__status_json(json, sizeof json, prov, "offline", 0);
	if (kdc_mqtt_set_will(r.mqtt, r.status_topic, json) != KDC_OK || ru__subscribe(&r) != KDC_OK) {
		kdc_error("out of memory setting up MQTT");
		goto cleanup;
	}

	while (!ru_stop) {
		kdc_mqtt_tick(r.mqtt);
		if (kdc_mqtt_connected(r.mqtt))
			ru__on_connected(&r);
		m = ru__take(&r);
		while (m) {
			struct msg *next = m->next;
			ru__apply(&r, m);
			free(m);
			m = next;
		}
		ru__publish(&r);
		kdc_sleep_ms(TICK_MS);
	}
	kdc_info("stopping");
	/* apply what is queued, so the last snapshot is complete */
	for (m = ru__take(&r); m;) {
		struct msg *next = m->next;
		ru__apply(&r, m);
		free(m);
		m = next;
	}
	ru__shutdown(&r);
	rc = 0;
cleanup:
	/* the MQTT client first: its callbacks use the inbox */
	kdc_mqtt_free(r.mqtt);
	for (m = ru__take(&r); m;) {
		struct msg *next = m->next;
		free(m);
		m = next;
	}
	pthread_mutex_destroy(&r.in.lock);
	kdc_rollup_free(r.rollup);
	kdc_province_free(prov);
	if (rc == 0)
		kdc_info("stopped (ignored: %llu unlisted, %llu invalid, %llu older)",
		         r.ignored_unlisted, r.ignored_invalid, r.ignored_older);
	return rc;
}

int main(int argc, char **argv)
{
	struct rollup_conf conf;
	int argi = 1, rc;

	kdc_prog_init("kdc-rollup");
	memset(&conf, 0, sizeof conf);
	if (kdc_prog_help_version(argc, argv, 1, ru__usage, &rc))
		return rc;
	if ((rc = kdc_prog_options(ru_opts, &conf, argc, argv, &argi, 0)) == 0 &&
	    (rc = kdc_prog_log_level(conf.log_level)) == 0)
		rc = ru_run(&conf);
	kdc_conf_free(ru_opts, &conf);
	return rc;
}
