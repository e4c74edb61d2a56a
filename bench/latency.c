/* latency: end-to-end latency of the delivery path, device outbox -> receipt.
 *
 * D devices, each a real kdc_producer (its own SQLite outbox, its own MQTT
 * connection), record events on an open-loop schedule of R events/s: event k
 * is due at t0 + k/R, whatever happened before (a generator that waits for
 * slow answers would hide them). Each tick the events that are due are
 * recorded, one outbox transaction per device (as a busy device's batch
 * would be), and every producer is polled, which publishes them.
 *
 * A separate MQTT client in this process watches kdc/v1/{ward}/receipts/+
 * and takes the time at which a receipt naming each event id arrives: the
 * same message, from the same broker, reaches the device's own connection at
 * the same moment. Latency = receipt arrival - the event's due time, so it
 * includes the outbox write, the publish, the broker, the aggregator's
 * batching, commit and fsync, and the receipt's way back. (The producer
 * library exposes no per-event receipt hook, hence the watcher.)
 *
 * --nodelay sets TCP_NODELAY on this process's sockets (see set_nodelay_all).
 * --households N (default 186) and --khoms K (default: all in khóm 6) spread
 * the events over households H00001..H{N} of khóms 1..K (household i in
 * khóm (i - 1) % K + 1), e.g. over a ward register of 10,000 households for
 * the aggregator's worklists (bench/run.sh figure 3w).
 *
 * Prints one line: count= received= p50_ms= p99_ms= max_ms= mean_ms=
 * lag_max_ms= (how far the recording loop fell behind its schedule)
 * pending= done= . Exit 0 when every event was receipted, 3 on timeout. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "kdc_conf.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "producer.h"

#define LAT_MAX_DEVICES 64

struct lat_opts {
	const char *broker;
	const char *ward;
	const char *team;
	const char *dir;
	const char *prefix;
	long long rate;
	long long count;
	long long devices;
	long long timeout_s;
	long long tick_ms;
	long long households, khoms;
	int nodelay;
};

/* id -> event index, filled by the owner thread after each record and read
 * by the watcher on Paho's receive thread (under mu; Paho is never called
 * while mu is held). */
struct lat_map {
	uint8_t *keys;      /* cap * 16; all-zero = empty */
	int64_t *vals;      /* event index */
	size_t cap;
};

struct lat_state {
	pthread_mutex_t mu;
	struct lat_map map;
	int64_t *due_us;     /* per event: when it was due (monotonic us) */
	int64_t *lat_us;     /* per event: latency, -1 until receipted */
	long long received;  /* under mu */
	atomic_int sub_ok;
	atomic_int conn_ok;
	MQTTAsync watcher;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* --nodelay: Paho never sets TCP_NODELAY on its sockets. To measure what
 * Nagle's algorithm costs the device side, set it on every TCP socket this
 * process holds once the clients are connected (an experiment, not a fix). */
static int set_nodelay_all(void)
{
	int fd, n = 0, one = 1;

	for (fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage a;
		socklen_t len = sizeof a;
		int type = 0;
		socklen_t tl = sizeof type;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
		    (a.ss_family != AF_INET && a.ss_family != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
			n++;
	}
	return n;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t map_slot(const struct lat_map *m, const uint8_t *id)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < KDC_UUID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return h & (m->cap - 1);
}

static void map_put(struct lat_map *m, const uint8_t *id, int64_t v)
{
	static const uint8_t zero[KDC_UUID_LEN];
	size_t i;

	for (i = map_slot(m, id);; i = (i + 1) & (m->cap - 1)) {
		uint8_t *k = m->keys + i * KDC_UUID_LEN;
		if (memcmp(k, zero, KDC_UUID_LEN) == 0 || memcmp(k, id, KDC_UUID_LEN) == 0) {
			memcpy(k, id, KDC_UUID_LEN);
			m->vals[i] = v;
			return;
		}
	}
}

static int64_t map_get(const struct lat_map *m, const uint8_t *id)
{
	static const uint8_t zero[KDC_UUID_LEN];
	size_t i;

	for (i = map_slot(m, id);; i = (i + 1) & (m->cap - 1)) {
		const uint8_t *k = m->keys + i * KDC_UUID_LEN;
		if (memcmp(k, id, KDC_UUID_LEN) == 0)
			return m->vals[i];
		if (memcmp(k, zero, KDC_UUID_LEN) == 0)
			return -1;
	}
}

/* Paho receive thread: stamp every committed id we know. */
static int on_receipt(void *ctx, char *topic, int tlen, MQTTAsync_message *msg)
{
	struct lat_state *st = ctx;
	int64_t now = mono_us();
	Kdc__V1__Receipt *r;
	size_t i;

	(void)tlen;
	r = kdc__v1__receipt__unpack(NULL, (size_t)msg->payloadlen, msg->payload);
	if (r) {
		pthread_mutex_lock(&st->mu);
		for (i = 0; i < r->n_committed; i++) {
			int64_t k;
			if (r->committed[i].len != KDC_UUID_LEN)
				continue;
			k = map_get(&st->map, r->committed[i].data);
			if (k >= 0 && st->lat_us[k] < 0) {
				st->lat_us[k] = now - st->due_us[k];
				st->received++;
			}
		}
		pthread_mutex_unlock(&st->mu);
		kdc__v1__receipt__free_unpacked(r, NULL);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct lat_state *)ctx)->conn_ok, 1);
}

static void on_conn_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	atomic_store(&((struct lat_state *)ctx)->conn_ok, -1);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct lat_state *)ctx)->sub_ok, 1);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	atomic_store(&((struct lat_state *)ctx)->sub_ok, -1);
}

static int wait_flag(atomic_int *f, int64_t ms)
{
	int64_t end = kdc_mono_ms() + ms;

	while (atomic_load(f) == 0 && kdc_mono_ms() < end && !g_stop)
		kdc_sleep_ms(5);
	return atomic_load(f);
}

static int watcher_start(struct lat_state *st, const struct lat_opts *o)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_responseOptions so = MQTTAsync_responseOptions_initializer;
	char topic[KDC_TOPIC_MAX], cid[64];

	snprintf(topic, sizeof topic, "kdc/v1/%s/receipts/+", o->ward);
	snprintf(cid, sizeof cid, "kdc-bench-latency-%ld", (long)getpid());
	if (MQTTAsync_create(&st->watcher, o->broker, cid, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
		return -1;
	if (MQTTAsync_setCallbacks(st->watcher, st, NULL, on_receipt, NULL) != MQTTASYNC_SUCCESS)
		return -1;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.cleansession = 1;
	co.onSuccess = on_conn_ok;
	co.onFailure = on_conn_fail;
	co.context = st;
	if (MQTTAsync_connect(st->watcher, &co) != MQTTASYNC_SUCCESS || wait_flag(&st->conn_ok, 10000) != 1)
		return -1;
	so.onSuccess = on_sub_ok;
	so.onFailure = on_sub_fail;
	so.context = st;
	if (MQTTAsync_subscribe(st->watcher, topic, 1, &so) != MQTTASYNC_SUCCESS ||
	    wait_flag(&st->sub_ok, 10000) != 1)
		return -1;
	return 0;
}

/* Fills the fields the producer does not: khom, household, member, body.
 * Event k of the run cycles through the four kinds. */
static void fill_event(const struct lat_opts *o, Kdc__V1__Event *ev, long long k,
                       char *khom, size_t klen, char *household, size_t hlen,
                       Kdc__V1__HouseholdVisited *visit, Kdc__V1__AccountCreated *account,
                       Kdc__V1__PaymentMade *payment, Kdc__V1__ServiceUsed *service)
{
	long long h = k % o->households + 1;

	snprintf(household, hlen, "H%05lld", h);
	if (o->khoms > 0)
		snprintf(khom, klen, "%lld", (h - 1) % o->khoms + 1);
	else
		snprintf(khom, klen, "6");
	ev->khom = khom;
	ev->household = household;
	switch (k % 4) {
	case 0:
		visit->outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
		visit->members = 4;
		visit->members_15plus = 3;
		visit->smartphones = 2;
		ev->member = 0;
		ev->body_case = KDC__V1__EVENT__BODY_VISIT;
		ev->visit = visit;
		break;
	case 1:
		account->kind = KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT;
		ev->member = 1;
		ev->body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		ev->account = account;
		break;
	case 2:
		payment->purpose = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_ELECTRICITY;
		payment->method = KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_QR_CODE;
		payment->amount_vnd = 350000;
		ev->member = 1;
		ev->body_case = KDC__V1__EVENT__BODY_PAYMENT;
		ev->payment = payment;
		break;
	default:
		service->kind = KDC__V1__SERVICE_KIND__SERVICE_KIND_MEDICAL_BOOKING;
		ev->member = 2;
		ev->body_case = KDC__V1__EVENT__BODY_SERVICE;
		ev->service = service;
		break;
	}
}

static int cmp_ll(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int parse_args(int argc, char **argv, struct lat_opts *o)
{
	int i;

	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;

		if (strcmp(a, "--nodelay") == 0) {
			o->nodelay = 1;
			i--;
			continue;
		}
		if (!v)
			break;
		if (strcmp(a, "--broker") == 0)
			o->broker = v;
		else if (strcmp(a, "--ward") == 0)
			o->ward = v;
		else if (strcmp(a, "--team") == 0)
			o->team = v;
		else if (strcmp(a, "--dir") == 0)
			o->dir = v;
		else if (strcmp(a, "--device-prefix") == 0)
			o->prefix = v;
		else if (strcmp(a, "--rate") == 0)
			rc = kdc_parse_ll(v, 1, 1000000, &o->rate);
		else if (strcmp(a, "--count") == 0)
			rc = kdc_parse_ll(v, 1, 10000000, &o->count);
		else if (strcmp(a, "--devices") == 0)
			rc = kdc_parse_ll(v, 1, LAT_MAX_DEVICES, &o->devices);
		else if (strcmp(a, "--timeout") == 0)
			rc = kdc_parse_ll(v, 1, 3600, &o->timeout_s);
		else if (strcmp(a, "--tick-ms") == 0)
			rc = kdc_parse_ll(v, 1, 1000, &o->tick_ms);
		else if (strcmp(a, "--households") == 0)
			rc = kdc_parse_ll(v, 1, 99999, &o->households);
		else if (strcmp(a, "--khoms") == 0)
			rc = kdc_parse_ll(v, 1, 1000, &o->khoms);
		else {
			fprintf(stderr, "latency: unknown option %s\n", a);
			return -1;
		}
		if (rc != 0) {
			fprintf(stderr, "latency: bad value for %s: %s\n", a, v);
			return -1;
		}
	}
	if (i != argc || !o->broker || !o->dir || o->count <= 0 || o->rate <= 0) {
		fprintf(stderr, "usage: latency --broker URL --dir DIR --rate R --count N [--devices D (4)]\n"
		                "               [--ward 31975] [--team T1] [--device-prefix L]\n"
		                "               [--tick-ms 5] [--timeout SECONDS (120)] [--nodelay]\n"
		                "               [--households N (186)] [--khoms K (all in khom 6)]\n");
		return -1;
	}
	return 0;
}

/* Makes device d's producer (outbox DIR/PREFIXd.db) and starts connecting. */
static kdc_producer *device_new(const struct lat_opts *o, long long d)
{
	struct kdc_producer_conf c;
	char dev[KDC_CODE_MAX + 1], path[4096], cid[96], err[256];
	kdc_producer *p = NULL;

	memset(&c, 0, sizeof c);
	snprintf(dev, sizeof dev, "%s%lld", o->prefix, d + 1);
	snprintf(path, sizeof path, "%s/%s.db", o->dir, dev);
	snprintf(cid, sizeof cid, "kdc-dev-%s-%s", o->ward, dev);
	if (kdc_conf_defaults(kdc_producer_opts, &c) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "broker", o->broker, err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "client-id", cid, err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "mqtt-version", "3.1.1", err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "ward", o->ward, err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "team", o->team, err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "device", dev, err, sizeof err) != 0 ||
	    kdc_conf_set(kdc_producer_opts, &c, "outbox", path, err, sizeof err) != 0) {
		fprintf(stderr, "latency: device config: %s\n", err);
		goto cleanup;
	}
	p = kdc_producer_new(&c, err, sizeof err);
	if (!p) {
		fprintf(stderr, "latency: %s\n", err);
		goto cleanup;
	}
	if (kdc_producer_connect(p, err, sizeof err) != 0) {
		fprintf(stderr, "latency: connect: %s\n", err);
		kdc_producer_free(p);
		p = NULL;
	}
cleanup:
	kdc_conf_free(kdc_producer_opts, &c);
	return p;
}

/* Records events [from, to) : one outbox transaction per device. */
static int record_due(kdc_producer **devs, const struct lat_opts *o, struct lat_state *st,
                      long long from, long long to)
{
	long long d, k;

	for (d = 0; d < o->devices; d++) {
		kdc_outbox *ob = kdc_producer_outbox(devs[d]);
		int opened = 0;

		for (k = from + ((d - from % o->devices) + o->devices) % o->devices; k < to; k += o->devices) {
			Kdc__V1__Event ev = KDC__V1__EVENT__INIT;
			Kdc__V1__HouseholdVisited visit = KDC__V1__HOUSEHOLD_VISITED__INIT;
			Kdc__V1__AccountCreated account = KDC__V1__ACCOUNT_CREATED__INIT;
			Kdc__V1__PaymentMade payment = KDC__V1__PAYMENT_MADE__INIT;
			Kdc__V1__ServiceUsed service = KDC__V1__SERVICE_USED__INIT;
			uint8_t id[KDC_UUID_LEN];
			char household[24], khom[24];
			struct kdc_verdict v;

			if (!opened) {
				if (kdc_outbox_begin(ob) != 0) {
					fprintf(stderr, "latency: outbox begin: %s\n", kdc_outbox_errmsg(ob));
					return -1;
				}
				opened = 1;
			}
			fill_event(o, &ev, k, khom, sizeof khom, household, sizeof household, &visit, &account,
			           &payment, &service);
			if (kdc_producer_record(devs[d], &ev, id, &v) != 0) {
				fprintf(stderr, "latency: record refused: %s\n", v.detail);
				kdc_outbox_rollback(ob);
				return -1;
			}
			pthread_mutex_lock(&st->mu);
			map_put(&st->map, id, k);
			pthread_mutex_unlock(&st->mu);
		}
		if (opened && kdc_outbox_commit(ob) != 0) {
			fprintf(stderr, "latency: outbox commit: %s\n", kdc_outbox_errmsg(ob));
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lat_opts o = { .ward = "31975", .team = "T1", .prefix = "L", .devices = 4,
	                      .timeout_s = 120, .tick_ms = 5, .households = 186 };
	struct lat_state st;
	kdc_producer *devs[LAT_MAX_DEVICES] = { 0 };
	int64_t t0, deadline, lag_max = 0, *sorted = NULL, pending = 0;
	long long k = 0, d, received = 0, n = 0, i;
	int rc = 1, all;
	double sum = 0;

	memset(&st, 0, sizeof st);
	pthread_mutex_init(&st.mu, NULL);
	if (parse_args(argc, argv, &o) != 0) {
		rc = 2;
		goto cleanup;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (st.map.cap = 1024; (long long)st.map.cap < o.count * 2; st.map.cap <<= 1)
		;
	st.map.keys = calloc(st.map.cap, KDC_UUID_LEN);
	st.map.vals = calloc(st.map.cap, sizeof *st.map.vals);
	st.due_us = calloc((size_t)o.count, sizeof *st.due_us);
	st.lat_us = malloc((size_t)o.count * sizeof *st.lat_us);
	sorted = malloc((size_t)o.count * sizeof *sorted);
	if (!st.map.keys || !st.map.vals || !st.due_us || !st.lat_us || !sorted) {
		fprintf(stderr, "latency: out of memory\n");
		goto cleanup;
	}
	for (i = 0; i < o.count; i++)
		st.lat_us[i] = -1;
	if (watcher_start(&st, &o) != 0) {
		fprintf(stderr, "latency: receipt watcher could not subscribe on %s\n", o.broker);
		goto cleanup;
	}
	for (d = 0; d < o.devices; d++)
		if (!(devs[d] = device_new(&o, d)))
			goto cleanup;
	/* every device connected (Paho: each further connect takes ~2 s) */
	deadline = kdc_mono_ms() + 15000 + 3000 * o.devices;
	do {
		all = 1;
		for (d = 0; d < o.devices; d++) {
			if (kdc_producer_poll(devs[d], 0) != 0)
				goto cleanup;
			all &= kdc_producer_connected(devs[d]);
		}
		if (!all)
			kdc_sleep_ms(10);
	} while (!all && !g_stop && kdc_mono_ms() < deadline);
	if (!all) {
		fprintf(stderr, "latency: devices did not connect to %s\n", o.broker);
		goto cleanup;
	}

	if (o.nodelay)
		fprintf(stderr, "latency: TCP_NODELAY set on %d sockets\n", set_nodelay_all());
	t0 = mono_us();
	for (i = 0; i < o.count; i++)
		st.due_us[i] = t0 + (int64_t)((double)i * 1e6 / (double)o.rate);
	deadline = kdc_mono_ms() + o.timeout_s * 1000;
	while (!g_stop && kdc_mono_ms() < deadline) {
		int64_t now = mono_us();
		long long due = (long long)((double)(now - t0) * (double)o.rate / 1e6) + 1;

		if (due > o.count)
			due = o.count;
		if (due > k) {
			if (now - st.due_us[k] > lag_max)
				lag_max = now - st.due_us[k];
			if (record_due(devs, &o, &st, k, due) != 0)
				goto cleanup;
			k = due;
		}
		for (d = 0; d < o.devices; d++)
			if (kdc_producer_poll(devs[d], 0) != 0)
				goto cleanup;
		pthread_mutex_lock(&st.mu);
		received = st.received;
		pthread_mutex_unlock(&st.mu);
		if (received >= o.count)
			break;
		/* sleep to the next tick, at most */
		kdc_sleep_ms(k < o.count ? o.tick_ms : 1);
	}
	for (d = 0; d < o.devices; d++) {
		int64_t p = 0;
		if (kdc_producer_pending(devs[d], &p) == 0)
			pending += p;
	}
	pthread_mutex_lock(&st.mu);
	for (i = 0; i < o.count; i++)
		if (st.lat_us[i] >= 0) {
			sorted[n++] = st.lat_us[i];
			sum += (double)st.lat_us[i];
		}
	pthread_mutex_unlock(&st.mu);
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_ll);
	printf("count=%lld received=%lld p50_ms=%.1f p99_ms=%.1f max_ms=%.1f mean_ms=%.1f "
	       "lag_max_ms=%.1f pending=%lld done=%d\n",
	       o.count, n, n ? sorted[(n - 1) / 2] / 1000.0 : 0.0,
	       n ? sorted[(long long)((double)(n - 1) * 0.99)] / 1000.0 : 0.0,
	       n ? sorted[n - 1] / 1000.0 : 0.0, n ? sum / (double)n / 1000.0 : 0.0,
	       lag_max / 1000.0, (long long)pending, n == o.count);
	fflush(stdout);
	rc = n == o.count ? 0 : 3;

cleanup:
	for (d = 0; d < LAT_MAX_DEVICES; d++)
		kdc_producer_free(devs[d]);
	if (st.watcher) {
		MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
		dopt.timeout = 500;
		if (MQTTAsync_isConnected(st.watcher))
			MQTTAsync_disconnect(st.watcher, &dopt);
		kdc_sleep_ms(100);
		MQTTAsync_destroy(&st.watcher);
	}
	free(st.map.keys);
	free(st.map.vals);
	free(st.due_us);
	free(st.lat_us);
	free(sorted);
	pthread_mutex_destroy(&st.mu);
	return rc;
}
