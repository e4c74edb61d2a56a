/* baseline_sub: the broker ceiling. A bare Paho MQTTAsync subscriber (MQTT
 * 3.1.1, QoS 1, no Paho persistence) that does nothing but count the messages
 * arriving on a topic filter until N have arrived, then prints the rate from
 * the first message to the last.
 *
 * It is the baseline every aggregator figure is divided by: whatever the
 * aggregator does beyond counting (decode, validate, store, commit, receipt)
 * shows up as the ratio to this number measured in the same run. For that
 * ratio bench/run.sh times both sides from the launch of the process to
 * last_ms (see bench/README.md), not with the first -> last rate printed here.
 *
 *   baseline_sub --broker URL --topic FILTER --client-id ID --session-only
 *       connects with cleansession=0, subscribes (QoS 1), disconnects: the
 *       broker now keeps a persistent session and queues what arrives for it.
 *   baseline_sub --broker URL --topic FILTER --client-id ID --count N
 *       connects (resuming that session), subscribes, counts N messages and
 *       prints one line of key=value figures (drains a queued backlog).
 *   --receipts: decodes each message as a kdc.v1.Receipt and counts the
 *       distinct committed event ids instead of messages (how the aggregator
 *       benchmark sees "stored and receipted").
 *   --ready-file F: written once subscribed, so a script can start the load.
 *   --clean: cleansession=1 (a live counter that needs no session).
 *
 * Output (stdout, one line): count= messages= ids= distinct= rejected= bad=
 * first_ms= last_ms= elapsed_ms= rate= cpu_ms= done= ; first_ms/last_ms are
 * wall-clock UTC milliseconds so that a script can compare them with the start
 * time of another process; cpu_ms is this process's user+system CPU time
 * (less sensitive than rates to other programs sharing the machine).
 * Exit 0 when N arrived, 3 on timeout (the figures so far are still printed). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "kdc_proto.h"
#include "kdc_util.h"

struct sub_opts {
	const char *broker;
	const char *topic;
	const char *client_id;
	const char *ready_file;
	long long count;
	long long timeout_s;
	int session_only;
	int receipts;
	int clean;
	int quiet;
};

/* A set of 16-byte ids (open addressing, linear probing). Only the receive
 * thread touches it. Sized for the expected count so it never grows. */
struct id_set {
	uint8_t *slots;   /* cap * 16 bytes; an all-zero slot is empty */
	size_t cap;       /* power of two */
	size_t used;
};

struct sub_state {
	MQTTAsync client;
	const struct sub_opts *o;
	atomic_llong messages;    /* messages counted */
	atomic_llong ids;         /* receipts: committed ids seen (with repeats) */
	atomic_llong distinct;    /* receipts: distinct committed ids */
	atomic_llong rejected;    /* receipts: rejections seen */
	atomic_llong bad;         /* receipts that did not decode */
	atomic_llong first_ms;    /* wall clock of the first message, 0 = none */
	atomic_llong last_ms;     /* wall clock of the message that reached N */
	atomic_llong first_mono;
	atomic_llong last_mono;
	atomic_int done;          /* N reached */
	atomic_int subscribed;    /* 1 ok, -1 failed */
	atomic_int connected;     /* 1 ok, -1 failed */
	atomic_int disconnected;
	struct id_set set;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int id_set_init(struct id_set *s, long long expected)
{
	size_t cap = 1024;

	while ((long long)cap < expected * 2 && cap < ((size_t)1 << 30))
		cap <<= 1;
	s->slots = calloc(cap, KDC_UUID_LEN);
	s->cap = cap;
	s->used = 0;
	return s->slots ? 0 : -1;
}

/* 1 if id was new (and is now in the set), 0 if it was there or the set is
 * full (then it is not counted as distinct: the count errs low, not high). */
static int id_set_add(struct id_set *s, const uint8_t *id)
{
	static const uint8_t zero[KDC_UUID_LEN];
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	if (s->used * 10 >= s->cap * 9)
		return 0;
	for (i = 0; i < KDC_UUID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	for (i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		uint8_t *slot = s->slots + i * KDC_UUID_LEN;
		if (memcmp(slot, zero, KDC_UUID_LEN) == 0) {
			memcpy(slot, id, KDC_UUID_LEN);
			s->used++;
			return 1;
		}
		if (memcmp(slot, id, KDC_UUID_LEN) == 0)
			return 0;
	}
}

static void count_receipt(struct sub_state *st, const void *payload, int len)
{
	Kdc__V1__Receipt *r = kdc__v1__receipt__unpack(NULL, (size_t)len, payload);
	size_t i;

	if (!r) {
		atomic_fetch_add(&st->bad, 1);
		return;
	}
	for (i = 0; i < r->n_committed; i++) {
		atomic_fetch_add(&st->ids, 1);
		if (r->committed[i].len == KDC_UUID_LEN &&
		    id_set_add(&st->set, r->committed[i].data))
			atomic_fetch_add(&st->distinct, 1);
	}
	atomic_fetch_add(&st->rejected, (long long)r->n_rejected);
	kdc__v1__receipt__free_unpacked(r, NULL);
}

/* Receive thread, Paho's global mutex held: count and return at once. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct sub_state *st = ctx;
	long long reached;

	(void)topic_len;
	if (atomic_load(&st->first_ms) == 0) {
		atomic_store(&st->first_ms, kdc_now_ms());
		atomic_store(&st->first_mono, kdc_mono_ms());
	}
	atomic_fetch_add(&st->messages, 1);
	if (st->o->receipts)
		count_receipt(st, m->payload, m->payloadlen);
	reached = st->o->receipts ? atomic_load(&st->distinct) : atomic_load(&st->messages);
	if (!atomic_load(&st->done) && reached >= st->o->count) {
		atomic_store(&st->last_ms, kdc_now_ms());
		atomic_store(&st->last_mono, kdc_mono_ms());
		atomic_store(&st->done, 1);
	}
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	(void)ctx;
	fprintf(stderr, "baseline_sub: connection lost: %s\n", cause ? cause : "?");
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct sub_state *)ctx)->subscribed, 1);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
	fprintf(stderr, "baseline_sub: subscribe failed: %d\n", r ? r->code : -1);
	atomic_store(&((struct sub_state *)ctx)->subscribed, -1);
}

static void on_conn_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct sub_state *)ctx)->connected, 1);
}

static void on_conn_fail(void *ctx, MQTTAsync_failureData *r)
{
	fprintf(stderr, "baseline_sub: connect failed: %d %s\n", r ? r->code : -1,
	        r && r->message ? r->message : "");
	atomic_store(&((struct sub_state *)ctx)->connected, -1);
}

static void on_disc(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store(&((struct sub_state *)ctx)->disconnected, 1);
}

/* Waits until *flag is non-zero, the deadline passes or a signal arrives. */
static int wait_flag(atomic_int *flag, int64_t deadline)
{
	while (atomic_load(flag) == 0) {
		if (g_stop || kdc_mono_ms() > deadline)
			return 0;
		kdc_sleep_ms(2);
	}
	return atomic_load(flag);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: baseline_sub --broker URL --topic FILTER --client-id ID\n"
	        "                    (--session-only | --count N) [--receipts] [--clean]\n"
	        "                    [--ready-file FILE] [--timeout SECONDS (300)] [--quiet]\n");
}

static int parse_args(int argc, char **argv, struct sub_opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--session-only") == 0) {
			o->session_only = 1;
			continue;
		}
		if (strcmp(a, "--receipts") == 0) {
			o->receipts = 1;
			continue;
		}
		if (strcmp(a, "--clean") == 0) {
			o->clean = 1;
			continue;
		}
		if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "baseline_sub: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--broker") == 0)
			o->broker = v;
		else if (strcmp(a, "--topic") == 0)
			o->topic = v;
		else if (strcmp(a, "--client-id") == 0)
			o->client_id = v;
		else if (strcmp(a, "--ready-file") == 0)
			o->ready_file = v;
		else if (strcmp(a, "--count") == 0) {
			if (kdc_parse_ll(v, 1, 100000000LL, &o->count) != 0) {
				fprintf(stderr, "baseline_sub: --count must be 1..100000000\n");
				return -1;
			}
		} else if (strcmp(a, "--timeout") == 0) {
			if (kdc_parse_ll(v, 1, 86400, &o->timeout_s) != 0) {
				fprintf(stderr, "baseline_sub: --timeout must be 1..86400 seconds\n");
				return -1;
			}
		} else {
			fprintf(stderr, "baseline_sub: unknown option %s\n", a);
			return -1;
		}
	}
	if (!o->broker || !o->topic || !o->client_id || (!o->session_only && o->count <= 0)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static void print_result(struct sub_state *st)
{
	long long n = atomic_load(&st->messages);
	long long first = atomic_load(&st->first_ms), last = atomic_load(&st->last_ms);
	long long el = atomic_load(&st->last_mono) - atomic_load(&st->first_mono);
	long long counted = st->o->receipts ? atomic_load(&st->distinct) : n;
	double rate = 0;
	struct rusage ru;
	long long cpu_ms = -1;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_ms = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	if (!atomic_load(&st->done)) {
		last = kdc_now_ms();
		el = atomic_load(&st->first_mono) ? kdc_mono_ms() - atomic_load(&st->first_mono) : 0;
	}
	if (el > 0)
		rate = (double)counted * 1000.0 / (double)el;
	printf("count=%lld messages=%lld ids=%lld distinct=%lld rejected=%lld bad=%lld "
	       "first_ms=%lld last_ms=%lld elapsed_ms=%lld rate=%.0f cpu_ms=%lld done=%d\n",
	       counted, n, atomic_load(&st->ids), atomic_load(&st->distinct),
	       atomic_load(&st->rejected), atomic_load(&st->bad), first, last, el, rate,
	       cpu_ms, atomic_load(&st->done));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sub_opts o = { .timeout_s = 300 };
	struct sub_state st;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_responseOptions so = MQTTAsync_responseOptions_initializer;
	MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
	int64_t deadline;
	int rc = 1, prc;

	memset(&st, 0, sizeof st);
	if (parse_args(argc, argv, &o) != 0)
		return 2;
	st.o = &o;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (o.receipts && id_set_init(&st.set, o.count) != 0) {
		fprintf(stderr, "baseline_sub: out of memory\n");
		return 1;
	}
	prc = MQTTAsync_create(&st.client, o.broker, o.client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
	if (prc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "baseline_sub: MQTTAsync_create: %d\n", prc);
		goto cleanup_set;
	}
	prc = MQTTAsync_setCallbacks(st.client, &st, on_lost, on_message, NULL);
	if (prc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "baseline_sub: MQTTAsync_setCallbacks: %d\n", prc);
		goto cleanup;
	}
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.cleansession = o.clean ? 1 : 0;
	co.keepAliveInterval = 60;
	co.onSuccess = on_conn_ok;
	co.onFailure = on_conn_fail;
	co.context = &st;
	deadline = kdc_mono_ms() + o.timeout_s * 1000;
	if ((prc = MQTTAsync_connect(st.client, &co)) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "baseline_sub: MQTTAsync_connect: %d\n", prc);
		goto cleanup;
	}
	if (wait_flag(&st.connected, kdc_mono_ms() + 10000) != 1) {
		fprintf(stderr, "baseline_sub: not connected to %s\n", o.broker);
		goto cleanup;
	}
	/* A resumed session already has the subscription and the broker starts
	 * sending the backlog right after CONNACK; subscribing again is harmless
	 * and makes a fresh session work the same way. */
	so.onSuccess = on_sub_ok;
	so.onFailure = on_sub_fail;
	so.context = &st;
	if ((prc = MQTTAsync_subscribe(st.client, o.topic, 1, &so)) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "baseline_sub: MQTTAsync_subscribe: %d\n", prc);
		goto disconnect;
	}
	if (wait_flag(&st.subscribed, kdc_mono_ms() + 10000) != 1) {
		fprintf(stderr, "baseline_sub: subscription to %s not acknowledged\n", o.topic);
		goto disconnect;
	}
	if (o.ready_file) {
		FILE *f = fopen(o.ready_file, "w");
		if (!f || fclose(f) != 0) {
			fprintf(stderr, "baseline_sub: cannot write %s: %s\n", o.ready_file, strerror(errno));
			goto disconnect;
		}
	}
	if (o.session_only) {
		rc = 0;
		goto disconnect;
	}
	if (!o.quiet)
		fprintf(stderr, "baseline_sub: subscribed to %s, counting %lld\n", o.topic, o.count);
	rc = wait_flag(&st.done, deadline) == 1 ? 0 : 3;
	print_result(&st);

disconnect:
	dopt.timeout = 1000;
	dopt.onSuccess = on_disc;
	dopt.context = &st;
	if (MQTTAsync_disconnect(st.client, &dopt) == MQTTASYNC_SUCCESS)
		wait_flag(&st.disconnected, kdc_mono_ms() + 2000);
cleanup:
	MQTTAsync_destroy(&st.client);
cleanup_set:
	free(st.set.slots);
	return rc;
}
