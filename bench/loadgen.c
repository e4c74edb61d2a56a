/* loadgen: a fast, bounded load generator for the benchmarks. Publishes valid
 * kdc.v1.Event protobufs at QoS 1 (MQTT 3.1.1) on
 * kdc/v1/{ward}/events/{team}/{device} for D devices, straight through Paho.
 *
 * Why not mosquitto_pub -l: it exits at the end of its input without draining
 * its queue (most of a 200,000-line input was lost once). Why not kdc_mqtt or
 * the producer library: the baseline must measure the broker and the
 * aggregator, not the device side's outbox.
 *
 * The in-flight window is bounded here (default 100 unacknowledged publishes,
 * released by onSuccess): Paho scans its lists per send and per ack, so a
 * large window is slower, and past 65535 sends fail. Paho persistence is off.
 * It exits only once every publish is acknowledged by the broker (so a backlog
 * is completely queued when it returns) and prints one line of key=value
 * figures: sent= acked= failed= elapsed_ms= rate=.
 *
 * Events are a deterministic mix of the four kinds (visit, account, payment,
 * service) over households H00001.., with event times spread over the last
 * 30 days; ids are UUIDv7 made now (kdc_uuid7), so every run makes new ids.
 * Every event passes kdc_event_validate (checked for the first of each kind). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "kdc_proto.h"
#include "kdc_util.h"

#define LOADGEN_MAX_DEVICES 10000
#define LOADGEN_DAY_MS (24LL * 3600 * 1000)

struct lg_opts {
	const char *broker;
	const char *client_id;
	const char *ward;
	const char *team;
	const char *khom;
	const char *device_prefix;
	long long count;
	long long rate;       /* events/s, 0 = as fast as the window allows */
	long long devices;
	long long window;
	long long seq_start;
	long long households;
	long long timeout_s;
	int quiet;
};

struct lg_state {
	MQTTAsync client;
	atomic_llong inflight;
	atomic_llong acked;
	atomic_llong failed;
	atomic_int connected;   /* 1 ok, -1 failed */
	atomic_int lost;
	atomic_int disconnected;
	pthread_mutex_t mu;     /* only for the condition variable: never held */
	pthread_cond_t cv;      /* across a Paho call (see TOOLCHAIN: deadlock) */
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* Send thread, Paho's mutex held: release one slot of the window. */
static void on_pub_ok(void *ctx, MQTTAsync_successData *r)
{
	struct lg_state *st = ctx;

	(void)r;
	atomic_fetch_add(&st->acked, 1);
	atomic_fetch_sub(&st->inflight, 1);
	pthread_mutex_lock(&st->mu);
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void on_pub_fail(void *ctx, MQTTAsync_failureData *r)
{
	struct lg_state *st = ctx;

	(void)r;
	atomic_fetch_add(&st->failed, 1);
	atomic_fetch_sub(&st->inflight, 1);
	pthread_mutex_lock(&st->mu);
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct lg_state *)ctx)->connected, 1);
}

static void on_conn_fail(void *ctx, MQTTAsync_failureData *r)
{
	fprintf(stderr, "loadgen: connect failed: %d %s\n", r ? r->code : -1,
	        r && r->message ? r->message : "");
	atomic_store(&((struct lg_state *)ctx)->connected, -1);
}

static void on_lost(void *ctx, char *cause)
{
	fprintf(stderr, "loadgen: connection lost: %s\n", cause ? cause : "?");
	atomic_store(&((struct lg_state *)ctx)->lost, 1);
}

static int on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void on_disc(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct lg_state *)ctx)->disconnected, 1);
}

/* Waits (up to 50 ms) for a window slot to free up or anything to change. */
static void wait_slot(struct lg_state *st)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->mu);
	pthread_cond_timedwait(&st->cv, &st->mu, &ts);
	pthread_mutex_unlock(&st->mu);
}

/* Deterministic xorshift, so the event mix is the same every run. */
static uint64_t lg_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Packs event number i into buf; returns its length or 0 on failure. The
 * event is valid per kdc_event_validate; `check` validates it as the
 * aggregator would (used for the first event of each kind). */
static size_t make_event(const struct lg_opts *o, long long i, int64_t now,
                         uint64_t *rs, const char *device, uint64_t seq,
                         uint8_t *buf, size_t buflen, int check)
{
	Kdc__V1__Event ev = KDC__V1__EVENT__INIT;
	Kdc__V1__HouseholdVisited visit = KDC__V1__HOUSEHOLD_VISITED__INIT;
	Kdc__V1__AccountCreated account = KDC__V1__ACCOUNT_CREATED__INIT;
	Kdc__V1__PaymentMade payment = KDC__V1__PAYMENT_MADE__INIT;
	Kdc__V1__ServiceUsed service = KDC__V1__SERVICE_USED__INIT;
	Kdc__V1__Need needs[2] = { KDC__V1__NEED__NEED_INSTALL_APP,
	                           KDC__V1__NEED__NEED_PAYMENT_ACCOUNT };
	uint8_t id[KDC_UUID_LEN];
	char household[24];
	uint64_t r = lg_rand(rs);

	if (kdc_uuid7(id, now) != 0)
		return 0;
	snprintf(household, sizeof household, "H%05lld",
	         (long long)(r % (uint64_t)o->households) + 1);
	ev.id.data = id;
	ev.id.len = KDC_UUID_LEN;
	ev.seq = seq;
	/* within the last 30 days: every rolling window sees some */
	ev.occurred_ms = now - (int64_t)((r >> 20) % (uint64_t)(30 * LOADGEN_DAY_MS));
	ev.ward = (char *)o->ward;
	ev.khom = (char *)o->khom;
	ev.team = (char *)o->team;
	ev.device = (char *)device;
	ev.household = household;
	switch (i % 4) {
	case 0:
		visit.outcome = (r >> 8) % 5 == 0 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME
		                                  : KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
		visit.members = 4;
		visit.members_15plus = 3;
		visit.smartphones = 2;
		visit.n_needs = 2;
		visit.needs = needs;
		ev.body_case = KDC__V1__EVENT__BODY_VISIT;
		ev.visit = &visit;
		break;
	case 1:
		account.kind = (Kdc__V1__AccountKind)(1 + (r >> 8) % 4);
		ev.member = 1 + (uint32_t)((r >> 12) % 4);
		ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		ev.account = &account;
		break;
	case 2:
		payment.purpose = (Kdc__V1__PaymentPurpose)(1 + (r >> 8) % 8);
		payment.method = (Kdc__V1__PaymentMethod)(1 + (r >> 12) % 4);
		payment.amount_vnd = 10000 + (int64_t)((r >> 16) % 2000) * 1000;
		ev.member = 1 + (uint32_t)((r >> 24) % 4);
		ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
		ev.payment = &payment;
		break;
	default:
		service.kind = (Kdc__V1__ServiceKind)(1 + (r >> 8) % 5);
		ev.member = 1 + (uint32_t)((r >> 12) % 4);
		ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
		ev.service = &service;
		break;
	}
	if (check) {
		struct kdc_verdict v;
		if (kdc_event_validate(&ev, NULL, o->ward, now, &v) != 0) {
			fprintf(stderr, "loadgen: generated an invalid event: %s\n", v.detail);
			return 0;
		}
	}
	if (kdc__v1__event__get_packed_size(&ev) > buflen)
		return 0;
	return kdc__v1__event__pack(&ev, buf);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: loadgen --broker URL --count N [--rate R (0 = max)] [--devices D (4)]\n"
	        "               [--ward 31975] [--team T1] [--khom 6] [--device-prefix D]\n"
	        "               [--window 100] [--seq-start 1] [--households 186]\n"
	        "               [--client-id ID] [--timeout SECONDS (600)] [--quiet]\n");
}

static int parse_args(int argc, char **argv, struct lg_opts *o)
{
	static const struct {
		const char *name;
		long long min, max;
		size_t off;
	} nums[] = {
		{ "--count", 1, 100000000LL, offsetof(struct lg_opts, count) },
		{ "--rate", 0, 10000000LL, offsetof(struct lg_opts, rate) },
		{ "--devices", 1, LOADGEN_MAX_DEVICES, offsetof(struct lg_opts, devices) },
		{ "--window", 1, 10000, offsetof(struct lg_opts, window) },
		{ "--seq-start", 1, 1000000000000LL, offsetof(struct lg_opts, seq_start) },
		{ "--households", 1, 99999, offsetof(struct lg_opts, households) },
		{ "--timeout", 1, 86400, offsetof(struct lg_opts, timeout_s) },
	};
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int matched = 0;

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return -1;
		}
		i++;
		for (k = 0; k < sizeof nums / sizeof nums[0]; k++) {
			if (strcmp(a, nums[k].name) == 0) {
				long long *dst = (long long *)((char *)o + nums[k].off);
				if (kdc_parse_ll(v, nums[k].min, nums[k].max, dst) != 0) {
					fprintf(stderr, "loadgen: %s must be %lld..%lld, got '%s'\n",
					        a, nums[k].min, nums[k].max, v);
					return -1;
				}
				matched = 1;
			}
		}
		if (matched)
			continue;
		if (strcmp(a, "--broker") == 0)
			o->broker = v;
		else if (strcmp(a, "--client-id") == 0)
			o->client_id = v;
		else if (strcmp(a, "--ward") == 0)
			o->ward = v;
		else if (strcmp(a, "--team") == 0)
			o->team = v;
		else if (strcmp(a, "--khom") == 0)
			o->khom = v;
		else if (strcmp(a, "--device-prefix") == 0)
			o->device_prefix = v;
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", a);
			return -1;
		}
	}
	if (!o->broker || o->count <= 0) {
		usage(stderr);
		return -1;
	}
	if (!kdc_code_valid(o->ward) || !kdc_code_valid(o->team) || !kdc_code_valid(o->khom) ||
	    strlen(o->device_prefix) > 20 || !kdc_code_valid(o->device_prefix)) {
		fprintf(stderr, "loadgen: ward, team, khom and device prefix must be codes [A-Za-z0-9_-]\n");
		return -1;
	}
	return 0;
}

/* Publishes one message, retrying while Paho's command queue is full. */
static int publish_one(struct lg_state *st, const char *topic, uint8_t *buf, size_t len,
                       int64_t deadline)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	int prc;

	msg.payload = buf;
	msg.payloadlen = (int)len;
	msg.qos = 1;
	ro.onSuccess = on_pub_ok;
	ro.onFailure = on_pub_fail;
	ro.context = st;
	atomic_fetch_add(&st->inflight, 1);
	for (;;) {
		prc = MQTTAsync_sendMessage(st->client, topic, &msg, &ro);
		if (prc == MQTTASYNC_SUCCESS)
			return 0;
		if (prc != MQTTASYNC_MAX_BUFFERED_MESSAGES || g_stop || kdc_mono_ms() > deadline)
			break;
		wait_slot(st);
	}
	atomic_fetch_sub(&st->inflight, 1);
	fprintf(stderr, "loadgen: MQTTAsync_sendMessage: %d\n", prc);
	return -1;
}

int main(int argc, char **argv)
{
	struct lg_opts o = { .ward = "31975", .team = "T1", .khom = "6", .device_prefix = "D",
	                     .client_id = NULL, .devices = 4, .window = 100, .seq_start = 1,
	                     .households = 186, .timeout_s = 600 };
	struct lg_state st;
	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
	char (*topics)[KDC_TOPIC_MAX] = NULL;
	char (*devices)[KDC_CODE_MAX + 1] = NULL;
	char cid[64];
	uint8_t buf[512];
	uint64_t rs = 88172645463325252ULL;
	int64_t t0, t_end, deadline;
	long long i, sent = 0;
	int rc = 1, prc, created = 0, checked[4] = { 0, 0, 0, 0 };
	double rate;

	memset(&st, 0, sizeof st);
	pthread_mutex_init(&st.mu, NULL);
	pthread_cond_init(&st.cv, NULL);
	if (parse_args(argc, argv, &o) != 0) {
		rc = 2;
		goto cleanup;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	topics = calloc((size_t)o.devices, sizeof *topics);
	devices = calloc((size_t)o.devices, sizeof *devices);
	if (!topics || !devices) {
		fprintf(stderr, "loadgen: out of memory\n");
		goto cleanup;
	}
	for (i = 0; i < o.devices; i++) {
		snprintf(devices[i], sizeof devices[i], "%s%lld", o.device_prefix, i + 1);
		if (kdc_topic_events(topics[i], sizeof topics[i], o.ward, o.team, devices[i]) < 0) {
			fprintf(stderr, "loadgen: topic too long\n");
			goto cleanup;
		}
	}
	if (!o.client_id) {
		snprintf(cid, sizeof cid, "kdc-loadgen-%ld", (long)getpid());
		o.client_id = cid;
	}
	/* maxBufferedMessages counts queued commands even while connected: give
	 * it room above the window so a full window never gets -12. */
	cro.maxBufferedMessages = (int)o.window * 2 + 16;
	cro.sendWhileDisconnected = 0;
	prc = MQTTAsync_createWithOptions(&st.client, o.broker, o.client_id,
	                                  MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
	if (prc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "loadgen: MQTTAsync_create: %d\n", prc);
		goto cleanup;
	}
	created = 1;
	if ((prc = MQTTAsync_setCallbacks(st.client, &st, on_lost, on_message, NULL)) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "loadgen: MQTTAsync_setCallbacks: %d\n", prc);
		goto cleanup;
	}
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.cleansession = 1;
	co.keepAliveInterval = 60;
	co.maxInflight = (int)o.window + 16;
	co.onSuccess = on_conn_ok;
	co.onFailure = on_conn_fail;
	co.context = &st;
	if ((prc = MQTTAsync_connect(st.client, &co)) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "loadgen: MQTTAsync_connect: %d\n", prc);
		goto cleanup;
	}
	deadline = kdc_mono_ms() + 10000;
	while (atomic_load(&st.connected) == 0 && !g_stop && kdc_mono_ms() < deadline)
		kdc_sleep_ms(2);
	if (atomic_load(&st.connected) != 1) {
		fprintf(stderr, "loadgen: not connected to %s\n", o.broker);
		goto cleanup;
	}

	t0 = kdc_mono_ms();
	deadline = t0 + o.timeout_s * 1000;
	for (i = 0; i < o.count && !g_stop; i++) {
		long long dev = i % o.devices;
		uint64_t seq = (uint64_t)(o.seq_start + i / o.devices);
		int kind = (int)(i % 4);
		size_t len;

		if (o.rate > 0) {
			/* message i is due at t0 + i/R: sleep when ahead of the schedule */
			int64_t due = t0 + (int64_t)((double)i * 1000.0 / (double)o.rate);
			int64_t now = kdc_mono_ms();
			if (due > now)
				kdc_sleep_ms(due - now);
		}
		while (atomic_load(&st.inflight) >= o.window && !g_stop && !atomic_load(&st.lost)) {
			if (kdc_mono_ms() > deadline)
				break;
			wait_slot(&st);
		}
		if (atomic_load(&st.lost) || kdc_mono_ms() > deadline)
			break;
		len = make_event(&o, i, kdc_now_ms(), &rs, devices[dev], seq, buf, sizeof buf,
		                 !checked[kind]);
		checked[kind] = 1;
		if (len == 0) {
			fprintf(stderr, "loadgen: cannot make event %lld\n", i);
			break;
		}
		if (publish_one(&st, topics[dev], buf, len, deadline) != 0)
			break;
		sent++;
	}
	/* every publish acknowledged (or failed) before we say "done" */
	while (atomic_load(&st.inflight) > 0 && !g_stop && !atomic_load(&st.lost) &&
	       kdc_mono_ms() < deadline)
		wait_slot(&st);
	t_end = kdc_mono_ms();
	rate = t_end > t0 ? (double)atomic_load(&st.acked) * 1000.0 / (double)(t_end - t0) : 0;
	printf("sent=%lld acked=%lld failed=%lld elapsed_ms=%lld rate=%.0f\n", sent,
	       atomic_load(&st.acked), atomic_load(&st.failed), (long long)(t_end - t0), rate);
	fflush(stdout);
	if (sent == o.count && atomic_load(&st.acked) == o.count)
		rc = 0;
	else
		fprintf(stderr, "loadgen: only %lld of %lld events acknowledged\n",
		        atomic_load(&st.acked), o.count);

	dopt.timeout = 2000;
	dopt.onSuccess = on_disc;
	dopt.context = &st;
	if (MQTTAsync_disconnect(st.client, &dopt) == MQTTASYNC_SUCCESS) {
		deadline = kdc_mono_ms() + 3000;
		while (!atomic_load(&st.disconnected) && kdc_mono_ms() < deadline)
			kdc_sleep_ms(2);
	}

cleanup:
	if (created)
		MQTTAsync_destroy(&st.client);
	free(topics);
	free(devices);
	pthread_cond_destroy(&st.cv);
	pthread_mutex_destroy(&st.mu);
	return rc;
}
