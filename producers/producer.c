/* producer.c: outbox + MQTT = the device side of "nothing lost, nothing counted
 * twice". See producer.h for the contract; the receipts and the worklist that
 * come back, and kdc_producer_sync, are in producer_sync.c, the struct in
 * producer_int.h.
 *
 * Sending: `cursor` is the highest seq published so far. Each round first
 * sends pending rows after the cursor, then, at most once a second, rows
 * whose last publish is older than resend-after. A row never published is
 * never a resend: the resend pass takes only rows with a sent mark, so an
 * event recorded (by another process) between the two passes goes out once,
 * through the next first pass. A sync sends only what was recorded before it
 * started (`upto`); later events wait for the next sync, so a sync that ends
 * leaves nothing of its own in flight for the next one to send again.
 * The cursor goes back when a publish fails (to just before it: a lost
 * connection fails every publish the broker had not acknowledged) and to 0
 * when the broker no longer has our session (it lost its state: what it had
 * acknowledged may be gone too).
 * What the broker did acknowledge on a session it still has is in its hands,
 * so a reconnect alone does not send it again: on a link that drops every
 * few seconds, resending everything unreceipted after each reconnect used
 * the whole link for copies (tests/fault, proxy_reset). The outbox's
 * sent marks are kept in memory and written in one unsynced transaction every
 * few hundred milliseconds: they only pace resending.
 *
 * Refused: a publish the broker refuses (MQTT 5 PUBACK reason 135: its ACL
 * does not allow the topic, as when the config names the wrong ward) would
 * fail again at once, and going back to it at once made tens of thousands of
 * publishes a second. So a refusal pauses sending: the cursor goes back to
 * just before the refused event, nothing is published for PROD_REFUSED_MIN_MS,
 * doubling up to PROD_REFUSED_MAX_MS, and then one event alone tries again
 * (a probe); the probe's ack ends the pause (an ack of a publish sent before
 * the refusal does not: it may be on another topic). Each refusal is logged with
 * what to check.
 *
 * Window: a publish takes a slot before it is handed to kdc_mqtt and gives
 * it back in the publish callback, which kdc_mqtt calls exactly once for
 * every publish it took: acknowledged, or failed (at the latest when the
 * client of a lost connection is replaced, before the next connect). So the
 * count of slots in use is exact across reconnects. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "correct.h"
#include "producer_int.h"

struct prod_wrap { struct kdc_producer_conf c; };
const struct kdc_opt kdc_producer_opts[] = {
	KDC_PRODUCER_OPTS(struct prod_wrap, c),
	KDC_OPT_END
};

/* ---- configuration ------------------------------------------------------- */

static int producer__check_code(const char *v, const char *name, char *err, size_t errlen)
{
	if (!v || !*v) {
		snprintf(err, errlen, "%s is not set: give --%s CODE or '%s = CODE' in the config file",
		         name, name, name);
		return KDC_ERR_CONFIG;
	}
	if (!kdc_code_valid(v)) {
		snprintf(err, errlen, "%s '%.40s' is not a valid code: use 1-32 letters, digits, '_' or '-'",
		         name, v);
		return KDC_ERR_CONFIG;
	}
	return KDC_OK;
}

int kdc_producer_check_conf(const struct kdc_producer_conf *c, int need_identity,
                            char *err, size_t errlen)
{
	const char *ver = c->mqtt.mqtt_version;
	int rc;

	if (need_identity && ((rc = producer__check_code(c->ward, "ward", err, errlen)) ||
	                      (rc = producer__check_code(c->team, "team", err, errlen)) ||
	                      (rc = producer__check_code(c->device, "device", err, errlen))))
		return rc;
	if (!c->outbox || !*c->outbox) {
		snprintf(err, errlen, "outbox is not set: give --outbox FILE or 'outbox = FILE' "
		         "in the config file (the SQLite file that keeps events until the server has them)");
		return KDC_ERR_CONFIG;
	}
	if (ver && strcmp(ver, "auto") != 0 && strcmp(ver, "5") != 0 && strcmp(ver, "3.1.1") != 0) {
		snprintf(err, errlen, "mqtt-version must be auto, 5 or 3.1.1, not '%.20s'", ver);
		return KDC_ERR_CONFIG;
	}
	if (c->resend_after < 1 || c->window < 1) {
		snprintf(err, errlen, "resend-after and window must be at least 1");
		return KDC_ERR_CONFIG;
	}
	return KDC_OK;
}

/* Deep copy driven by the option table: every string option is duplicated. */
static int producer__conf_copy(struct kdc_producer_conf *dst, const struct kdc_producer_conf *src)
{
	*dst = *src;
	for (const struct kdc_opt *o = kdc_producer_opts; o->name; o++) {
		char **slot = (char **)((char *)dst + o->offset);
		if ((o->type != KDC_OPT_STR && o->type != KDC_OPT_PATH) || !*slot)
			continue;
		if (!(*slot = strdup(*slot))) {
			/* later slots still alias src: clear them before freeing ours */
			for (const struct kdc_opt *r = o; r->name; r++)
				if (r->type == KDC_OPT_STR || r->type == KDC_OPT_PATH)
					*(char **)((char *)dst + r->offset) = NULL;
			kdc_conf_free(kdc_producer_opts, dst);
			return KDC_ERR_NOMEM;
		}
	}
	return KDC_OK;
}

/* ---- Paho's threads: copy, count, signal -------------------------------- */

/* A worklist: only the latest one waiting is kept. */
static void producer__on_worklist(kdc_producer *p, const void *payload, size_t len)
{
	struct prod_receipt *r = NULL;

	if (len > KDC_MAX_WORKLIST_BYTES) {
		kdc_warn("producer %s: worklist of %zu bytes ignored (limit %d)", p->conf.device,
		         len, KDC_MAX_WORKLIST_BYTES);
		return;
	}
	if ((r = malloc(sizeof *r + len))) {
		r->next = NULL;
		r->len = len;
		memcpy(r->data, payload, len);
	}
	pthread_mutex_lock(&p->lock);
	free(p->wl_msg);
	p->wl_msg = r; /* out of memory: none, the next sync brings it again */
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void producer__on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	kdc_producer *p = ud;
	struct prod_receipt *r;

	if (p->want_worklist && strcmp(topic, p->worklist_topic) == 0) {
		producer__on_worklist(p, payload, len);
		return;
	}
	if (strcmp(topic, p->receipts_topic) != 0)
		return;
	if (len > KDC_MAX_RECEIPT_BYTES) {
		kdc_warn("producer %s: receipt of %zu bytes ignored (limit %d)", p->conf.device,
		         len, KDC_MAX_RECEIPT_BYTES);
		return;
	}
	pthread_mutex_lock(&p->lock);
	/* a dropped receipt costs only a resend and a duplicate receipt later */
	if (p->rq_bytes + len > PROD_RECEIPT_QUEUE_MAX || !(r = malloc(sizeof *r + len))) {
		p->rq_dropped++;
		goto cleanup;
	}
	r->next = NULL;
	r->len = len;
	memcpy(r->data, payload, len);
	if (p->rq_tail)
		p->rq_tail->next = r;
	else
		p->rq_head = r;
	p->rq_tail = r;
	p->rq_bytes += len;
	pthread_cond_signal(&p->cond);
cleanup:
	pthread_mutex_unlock(&p->lock);
}

static void producer__on_connection(void *ud, int connected, int session_present)
{
	kdc_producer *p = ud;

	pthread_mutex_lock(&p->lock);
	p->connected = connected;
	if (connected) {
		p->reconnected = 1;
		if (!session_present)
			p->session_lost = 1;
		p->connects++;
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void producer__on_publish(void *ud, int rc)
{
	struct prod_pub *pub = ud;
	kdc_producer *p = pub->p;

	pthread_mutex_lock(&p->lock);
	p->inflight--;
	if (rc == KDC_OK) {
		p->acked++;
		p->probe_acked |= pub->probe;
	} else if (rc == KDC_ERR_TOPIC_REFUSED || rc == KDC_ERR_BUSY) {
		if (p->refused_min_seq == 0 || pub->seq < p->refused_min_seq)
			p->refused_min_seq = pub->seq;
		p->refused_rc = rc;
	} else if (p->failed_min_seq == 0 || pub->seq < p->failed_min_seq) {
		p->failed_min_seq = pub->seq;
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	free(pub);
}

/* ---- new and free -------------------------------------------------------- */

kdc_producer *kdc_producer_new(const struct kdc_producer_conf *conf, char *err, size_t errlen)
{
	kdc_producer *p = NULL;
	pthread_condattr_t ca;
	int rc;

	if (kdc_producer_check_conf(conf, 1, err, errlen) != KDC_OK)
		return NULL;
	if (!(p = calloc(1, sizeof *p))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	/* monotonic waits: a clock change must not stretch or cut a timeout */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->st.pending = -1;
	p->upto = INT64_MAX;
	if (producer__conf_copy(&p->conf, conf) != KDC_OK) {
		memset(&p->conf, 0, sizeof p->conf);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (kdc_topic_receipts(p->receipts_topic, sizeof p->receipts_topic, conf->ward,
	                       conf->device) < 0 ||
	    kdc_topic_events(p->events_topic, sizeof p->events_topic, conf->ward, conf->team,
	                     conf->device) < 0 ||
	    kdc_topic_worklist(p->worklist_topic, sizeof p->worklist_topic, conf->ward,
	                       conf->team) < 0) {
		snprintf(err, errlen, "topic too long");
		goto fail;
	}
	if ((rc = kdc_outbox_open(conf->outbox, &p->ob, err, errlen)) != KDC_OK)
		goto fail;
	kdc_outbox_set_history_days(p->ob, (int)conf->history_days);
	if ((rc = kdc_outbox_purge_history(p->ob, kdc_now_ms(), NULL)) != KDC_OK) {
		snprintf(err, errlen, "outbox %s: cannot purge its history: %s", conf->outbox,
		         kdc_outbox_errmsg(p->ob));
		goto fail;
	}
	return p;
fail:
	kdc_producer_free(p);
	return NULL;
}

int producer__flush_marks(kdc_producer *p)
{
	int rc;

	if (p->nmarks == 0)
		return KDC_OK;
	rc = kdc_outbox_mark_sent(p->ob, p->marks, p->nmarks, kdc_now_ms());
	if (rc != KDC_OK) {
		/* kept for the next flush: a row without its mark is never resent
		 * (it looks never sent, and it is behind the cursor) */
		kdc_warn("producer %s: cannot note sent events: %s", p->conf.device,
		         kdc_outbox_errmsg(p->ob));
		p->marks_since = kdc_mono_ms(); /* next try in PROD_MARKS_FLUSH_MS */
		return rc;
	}
	p->nmarks = 0;
	return rc;
}

void kdc_producer_free(kdc_producer *p)
{
	struct prod_receipt *r;

	if (!p)
		return;
	if (p->ob)
		producer__flush_marks(p);
	/* after this no Paho callback can run, and every publish has had its
	 * callback (which freed it): what is left in the receipt queue is ours */
	kdc_mqtt_free(p->mqtt);
	while ((r = p->rq_head)) {
		p->rq_head = r->next;
		free(r);
	}
	free(p->wl_msg);
	kdc_outbox_close(p->ob);
	kdc_conf_free(kdc_producer_opts, &p->conf);
	free(p->marks);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

kdc_outbox *kdc_producer_outbox(kdc_producer *p)
{
	return p->ob;
}

/* ---- record ---------------------------------------------------------------- */

int kdc_producer_record(kdc_producer *p, kdc_event_pb *ev, uint8_t id[KDC_UUID_LEN],
                        struct kdc_verdict *v)
{
	int64_t now = kdc_now_ms();
	int rc;

	ev->ward = p->conf.ward;
	ev->team = p->conf.team;
	ev->device = p->conf.device;
	if (ev->occurred_ms == 0)
		ev->occurred_ms = now;
	rc = kdc_outbox_record(p->ob, ev, now, id, NULL, v);
	if (rc == KDC_OK)
		p->st.recorded++;
	return rc;
}

int kdc_producer_record_all(kdc_producer *p, kdc_event_pb *const *evs, size_t n,
                            uint8_t (*ids)[KDC_UUID_LEN], struct kdc_verdict *v)
{
	int64_t now = kdc_now_ms();
	int rc;

	for (size_t i = 0; i < n; i++) {
		evs[i]->ward = p->conf.ward;
		evs[i]->team = p->conf.team;
		evs[i]->device = p->conf.device;
		if (evs[i]->occurred_ms == 0)
			evs[i]->occurred_ms = now;
	}
	rc = kdc_outbox_record_all(p->ob, evs, n, now, ids, v);
	if (rc == KDC_OK)
		p->st.recorded += (int64_t)n;
	return rc;
}

/* ---- connect ------------------------------------------------------------------ */

int kdc_producer_connect(kdc_producer *p, char *err, size_t errlen)
{
	struct kdc_mqtt_callbacks cbs = { producer__on_message, producer__on_connection, p };
	struct kdc_mqtt_conf mc = p->conf.mqtt;
	char client_id[64];
	int rc;

	if (p->mqtt)
		return KDC_OK;
	if (!mc.client_id || !*mc.client_id) {
		/* stable per device: the broker keeps our receipts under this id */
		snprintf(client_id, sizeof client_id, "kdc-dev-%s", p->conf.device);
		mc.client_id = client_id;
	}
	if (!(p->mqtt = kdc_mqtt_new(&mc, &cbs, err, errlen)))
		return KDC_ERR_CONFIG;
	if ((rc = kdc_mqtt_subscribe(p->mqtt, p->receipts_topic, 1)) != KDC_OK) {
		snprintf(err, errlen, "cannot subscribe to %s: %s", p->receipts_topic,
		         kdc_strerror(rc));
		kdc_mqtt_free(p->mqtt);
		p->mqtt = NULL;
		return KDC_ERR_MQTT;
	}
	/* QoS 0: the retained list comes with every (re)subscribe, and the broker
	 * queues nothing for a device that is away for a week */
	if (p->want_worklist && (rc = kdc_mqtt_subscribe(p->mqtt, p->worklist_topic, 0)) != KDC_OK) {
		snprintf(err, errlen, "cannot subscribe to %s: %s", p->worklist_topic,
		         kdc_strerror(rc));
		kdc_mqtt_free(p->mqtt);
		p->mqtt = NULL;
		return KDC_ERR_MQTT;
	}
	return KDC_OK;
}

void kdc_producer_want_worklist(kdc_producer *p)
{
	p->want_worklist = 1;
}

int kdc_producer_worklist_state(kdc_producer *p)
{
	return p->wl_state;
}

/* ---- publish ------------------------------------------------------------------- */

/* The events topic for a stored event: the one the outbox kept with it (an
 * event recorded before the device moved team keeps the team it was
 * recorded under, or the aggregator would refuse it as a topic mismatch);
 * the conf's for a row without one. */
static const char *producer__topic(kdc_producer *p, const struct kdc_outbox_row *row)
{
	return row->topic && row->topic[0] ? row->topic : p->events_topic;
}

static int producer__add_mark(kdc_producer *p, int64_t seq)
{
	if (p->nmarks == p->cap_marks) {
		size_t cap = p->cap_marks ? p->cap_marks * 2 : 256;
		int64_t *m = realloc(p->marks, cap * sizeof *m);
		if (!m)
			return KDC_ERR_NOMEM;
		p->marks = m;
		p->cap_marks = cap;
	}
	if (p->nmarks == 0)
		p->marks_since = kdc_mono_ms();
	p->marks[p->nmarks++] = seq;
	return KDC_OK;
}

/* kdc_outbox_due callback: publishes one row into a free window slot. A
 * non-zero return stops the listing (window full, not connected, ...). */
static int producer__send_row(void *ud, const struct kdc_outbox_row *row)
{
	kdc_producer *p = ud;
	struct prod_pub *pub;
	const char *topic;
	int rc;

	if (!(pub = malloc(sizeof *pub)))
		return p->send_rc = KDC_ERR_NOMEM;
	pub->p = p;
	pub->seq = row->seq;
	pub->probe = p->refusing != 0;
	/* take the slot before Paho can possibly ack */
	pthread_mutex_lock(&p->lock);
	if (!p->connected || p->inflight >= p->conf.window) {
		p->window_full = p->connected;
		pthread_mutex_unlock(&p->lock);
		free(pub);
		return p->send_rc = KDC_ERR_BUSY;
	}
	p->inflight++;
	pthread_mutex_unlock(&p->lock);

	topic = producer__topic(p, row);
	rc = kdc_mqtt_publish(p->mqtt, topic, row->payload, row->payload_len, 1, 0,
	                      producer__on_publish, pub);
	if (rc != KDC_OK) {
		/* the callback will not come: give the slot back ourselves */
		pthread_mutex_lock(&p->lock);
		p->inflight--;
		pthread_mutex_unlock(&p->lock);
		free(pub);
		return p->send_rc = rc;
	}
	p->st.published++;
	if (!p->resend_pass && row->seq > p->cursor)
		p->cursor = row->seq;
	if (producer__add_mark(p, row->seq) != KDC_OK)
		kdc_debug("producer %s: out of memory for a sent mark", p->conf.device);
	return 0;
}

static int producer__connected(kdc_producer *p)
{
	int c;

	pthread_mutex_lock(&p->lock);
	c = p->connected;
	pthread_mutex_unlock(&p->lock);
	return c;
}

static int producer__room(kdc_producer *p)
{
	int room;

	pthread_mutex_lock(&p->lock);
	room = p->connected ? (int)p->conf.window - p->inflight : 0;
	pthread_mutex_unlock(&p->lock);
	return room;
}

/* Publishes while the window has room. *more = 1 when it stopped for a
 * reason other than a full window or an empty outbox (come back at once). */
static int producer__publish(kdc_producer *p, int *more)
{
	int64_t now = kdc_now_ms(), mono = kdc_mono_ms(), before;
	int room, n = 0, rc;

	*more = 0;
	p->window_full = 0;
	if (p->refusing && mono < p->paused_until)
		return KDC_OK;
	if ((room = producer__room(p)) <= 0) {
		p->window_full = producer__connected(p); /* else simply offline */
		return KDC_OK;
	}
	if (p->refusing) {
		/* one event tries whether the broker takes them again */
		if (room < p->conf.window)
			return KDC_OK; /* the last try is still on its way */
		room = 1;
	}
	p->send_rc = KDC_OK;
	p->resend_pass = 0;
	rc = kdc_outbox_due(p->ob, p->cursor, p->upto, INT64_MAX, now, room, producer__send_row,
	                    p, &n);
	if (rc == KDC_ERR_DB || rc == KDC_ERR_DISK_FULL)
		return rc;
	if (p->send_rc != KDC_OK)
		return KDC_OK; /* window full or connection gone: wait for a signal */
	if (n == room) {
		*more = 1;
		return KDC_OK;
	}
	if (mono < p->next_resend_check)
		return KDC_OK;
	/* nothing new: anything sent too long ago without a receipt? */
	room -= n;
	if ((rc = producer__flush_marks(p)) != KDC_OK)
		return rc;
	before = p->st.published;
	p->resend_pass = 1;
	rc = kdc_outbox_due(p->ob, 0, p->upto, now - p->conf.resend_after * 1000, now, room,
	                    producer__send_row, p, &n);
	p->resend_pass = 0;
	if (rc == KDC_ERR_DB || rc == KDC_ERR_DISK_FULL)
		return rc;
	p->resent += p->st.published - before;
	if (p->send_rc != KDC_OK)
		return KDC_OK; /* window full: go on as soon as acks make room */
	if (n == room) {
		*more = 1;
		return KDC_OK;
	}
	/* none left to resend: look again in a second */
	p->next_resend_check = mono + PROD_RESEND_CHECK_MS;
	if (p->resent > 0)
		kdc_info("producer %s: sent %lld event(s) again: no receipt after %llds",
		         p->conf.device, (long long)p->resent, p->conf.resend_after);
	p->resent = 0;
	return KDC_OK;
}

/* ---- refused publishes ---------------------------------------------------------------- */

/* The broker refused the publish of seq: pause, longer each time, and say
 * why. Owner thread. */
static void producer__refused(kdc_producer *p, int64_t seq, int why)
{
	int64_t pause, mono = kdc_mono_ms();

	/* the rest of a window sent before the pause began: already counted */
	if (p->refusing && mono < p->paused_until)
		return;
	if (!p->refusing || p->refused_backoff_ms == 0)
		p->refused_backoff_ms = PROD_REFUSED_MIN_MS;
	pause = p->refused_backoff_ms;
	p->refusing = why == KDC_ERR_TOPIC_REFUSED ? why : KDC_ERR_BROKER_REFUSED;
	p->paused_until = mono + pause;
	p->refused_backoff_ms = pause * 2 > PROD_REFUSED_MAX_MS ? PROD_REFUSED_MAX_MS : pause * 2;
	if (why == KDC_ERR_TOPIC_REFUSED)
		kdc_warn("producer %s: topic refused: the broker refused event %lld on %s (not "
		         "authorised): check ward (%s), team (%s) and device (%s) in the device config "
		         "against the ward server's accounts (kdc-ward list-devices); next try in %lld s",
		         p->conf.device, (long long)seq, p->events_topic, p->conf.ward, p->conf.team,
		         p->conf.device, (long long)(pause / 1000));
	else
		kdc_warn("producer %s: the broker refused event %lld on %s (see the line above); "
		         "next try in %lld s", p->conf.device, (long long)seq, p->events_topic,
		         (long long)(pause / 1000));
}

/* A publish went through after refusals: back to normal. Owner thread. */
static void producer__accepted(kdc_producer *p)
{
	kdc_notice("producer %s: the broker accepts its events again", p->conf.device);
	p->refusing = 0;
	p->refused_backoff_ms = 0;
	p->paused_until = 0;
}

int kdc_producer_cause(kdc_producer *p, char *msg, size_t len)
{
	if (p->refusing) {
		if (p->refusing == KDC_ERR_TOPIC_REFUSED)
			snprintf(msg, len, "topic refused: the broker does not let this device publish on %s: "
			         "check ward (%s), team (%s) and device (%s) in the device config against "
			         "the ward server's accounts (kdc-ward list-devices)", p->events_topic,
			         p->conf.ward, p->conf.team, p->conf.device);
		else
			snprintf(msg, len, "the broker refuses the events published on %s (see the log "
			         "above for its reason)", p->events_topic);
		return p->refusing;
	}
	if (!p->mqtt || kdc_mqtt_connected(p->mqtt)) {
		snprintf(msg, len, "%s", "");
		return 0;
	}
	return kdc_mqtt_cause(p->mqtt, msg, len);
}

/* ---- the owner's loop ------------------------------------------------------------ */

/* Copies the counters Paho's threads keep into the stats (lock held). */
static void producer__snapshot(kdc_producer *p)
{
	p->st.acked = p->acked;
	p->st.connects = p->connects;
	p->st.inflight = p->inflight;
	p->st.connected = p->connected;
}

int kdc_producer_poll(kdc_producer *p, int timeout_ms)
{
	struct prod_receipt *list, *wl;
	char err[256];
	int reconnected, session_lost, more = 0, rc = KDC_OK, refused_rc, acked;
	int64_t failed, refused, mono;

	if (!p->mqtt && (rc = kdc_producer_connect(p, err, sizeof err)) != KDC_OK) {
		kdc_error("producer %s: %s", p->conf.device, err);
		return rc;
	}
	kdc_mqtt_tick(p->mqtt);

	pthread_mutex_lock(&p->lock);
	list = p->rq_head;
	p->rq_head = p->rq_tail = NULL;
	wl = p->wl_msg;
	p->wl_msg = NULL;
	p->rq_bytes = 0;
	reconnected = p->reconnected;
	session_lost = p->session_lost;
	p->reconnected = p->session_lost = 0;
	failed = p->failed_min_seq;
	p->failed_min_seq = 0;
	refused = p->refused_min_seq;
	refused_rc = p->refused_rc;
	acked = p->probe_acked;
	p->refused_min_seq = 0;
	p->probe_acked = 0;
	producer__snapshot(p);
	pthread_mutex_unlock(&p->lock);

	if (refused > 0)
		producer__refused(p, refused, refused_rc);
	else if (acked && p->refusing)
		producer__accepted(p);

	if (reconnected) {
		if (session_lost)
			p->cursor = 0; /* everything pending goes out again, in order */
		p->next_resend_check = 0;
	}
	if (failed > 0 && failed - 1 < p->cursor)
		p->cursor = failed - 1;
	if (refused > 0 && refused - 1 < p->cursor)
		p->cursor = refused - 1;
	if (list && (rc = producer__apply_receipts(p, list)) != KDC_OK) {
		free(wl);
		return rc;
	}
	if (wl) {
		rc = producer__store_worklist(p, wl);
		free(wl);
		if (rc != KDC_OK)
			return rc;
	}
	if ((rc = producer__publish(p, &more)) != KDC_OK)
		return rc;
	mono = kdc_mono_ms();
	if (p->nmarks >= PROD_MARKS_FLUSH_N ||
	    (p->nmarks > 0 && mono - p->marks_since >= PROD_MARKS_FLUSH_MS))
		producer__flush_marks(p);
	if (more || timeout_ms <= 0)
		return KDC_OK;

	/* sleep until a receipt, an ack, a connection change or the timeout */
	if (timeout_ms > PROD_WAIT_MAX_MS)
		timeout_ms = PROD_WAIT_MAX_MS;
	pthread_mutex_lock(&p->lock);
	/* an ack that came since the round ended has already signalled: look
	 * at what it left behind instead of waiting for the next one */
	if (!p->rq_head && !p->wl_msg && !p->reconnected && !p->failed_min_seq &&
	    !(p->window_full && p->connected && p->inflight < p->conf.window)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)timeout_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return KDC_OK;
}

int kdc_producer_run(kdc_producer *p, const volatile sig_atomic_t *stop)
{
	int rc = KDC_OK;

	while (!*stop && (rc = kdc_producer_poll(p, PROD_WAIT_MAX_MS)) == KDC_OK)
		;
	if (rc == KDC_OK)
		rc = producer__flush_marks(p);
	return rc;
}

void kdc_producer_stats(kdc_producer *p, struct kdc_producer_stats *out)
{
	pthread_mutex_lock(&p->lock);
	producer__snapshot(p);
	pthread_mutex_unlock(&p->lock);
	*out = p->st;
}

int kdc_producer_connected(kdc_producer *p)
{
	return p->mqtt && kdc_mqtt_connected(p->mqtt);
}
