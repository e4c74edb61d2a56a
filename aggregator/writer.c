/* writer.c: the writer thread. See writer.h for the contract.
 *
 * Cost per event is kept to: one protobuf unpack, the shared validation, a
 * sixteenth of a prepared multi-row INSERT OR IGNORE (no per-event malloc of
 * our own; rows, outcomes and receipt scratch are allocated once at start).
 * Per batch: one transaction, one statistics fold, one receipt per device.
 * JSON is built only by the coalesced statistics publish. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_hmap.h"
#include "kdc_log.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "register.h"
#include "writer_int.h"

#define STATS_CALL_MS 100       /* after batches, ask the stats this often */
#define IDLE_STATS_MS 1000      /* and at least this often when idle */
/* Worklists computed per call while events flow (none when idle): a big
 * ward's lists are spread over several calls instead of holding up the next
 * batch (worklist.h). */
#define WORKLIST_BUDGET_MS 5
#define THROUGHPUT_LOG_MS 60000
#define REJECT_LOG_MS 10000
/* Healthy again only after commits work and none failed for this long: at
 * the edge of a full disk small batches fit and big ones do not, and the
 * status should not flap with every batch. */
#define RECOVER_MS 10000
/* A batch stops filling once the flow pauses this long: the end of a backlog
 * (or a quiet moment) is committed and receipted at once instead of after the
 * whole batch_ms. Messages of a flowing stream (a backlog arrives every few
 * microseconds) are far closer together. */
#define BATCH_GAP_MS 2
/* Batches grow towards batch_max only while a backlog keeps them full: a
 * batch may hold at most twice the previous one, and at least this many.
 * Big batches share the per-batch work (fsync, one statistics row per key)
 * among more events; the ramp keeps a short burst, or the first batch after a
 * restart, from being committed all at once. */
#define BATCH_START 1000
/* Room for one decoded event's fields; a larger one spills to malloc. */
#define ARENA_BYTES (8 * 1024)

/* An oversized payload is only partly kept; decode must refuse it on its
 * length before reading any byte, which it does for len > KDC_MAX_EVENT_BYTES. */
_Static_assert(KDC_INGEST_KEEP_MAX > KDC_MAX_EVENT_BYTES,
               "kept part of an oversized payload must exceed the event limit");

/* ---- health ---------------------------------------------------------------- */

static void writer__set_health(kdc_writer *w, int degraded, const char *reason)
{
	pthread_mutex_lock(&w->lock);
	if (w->degraded != degraded || strcmp(w->reason, reason) != 0) {
		w->degraded = degraded;
		snprintf(w->reason, sizeof w->reason, "%s", reason);
		w->generation++;
	}
	pthread_mutex_unlock(&w->lock);
}

int kdc_writer_health(kdc_writer *w, char *reason, size_t len, uint64_t *generation)
{
	int d;

	pthread_mutex_lock(&w->lock);
	d = w->degraded;
	if (reason && len)
		snprintf(reason, len, "%s", w->reason);
	if (generation)
		*generation = w->generation;
	pthread_mutex_unlock(&w->lock);
	return d;
}

void kdc_writer_counters(kdc_writer *w, struct kdc_writer_counters *c)
{
	pthread_mutex_lock(&w->lock);
	*c = w->totals;
	pthread_mutex_unlock(&w->lock);
}

static const char *writer__fail_reason(int rc)
{
	switch (rc) {
	case KDC_ERR_DISK_FULL:
		return "disk full: events are not being stored";
	case KDC_ERR_BUSY:
		return "database locked by another program: events are not being stored";
	default:
		return "database error: events are not being stored";
	}
}

/* The batch is lost to the database; its messages were acknowledged to the
 * broker, but without a receipt their devices send them again. */
void writer__failed(kdc_writer *w, int rc, size_t n)
{
	kdc_store_rollback(w->store);
	/* a household added or a void waiting in the batch is undone too */
	kdc_register_stale(w->reg);
	if (!w->failing || w->fail_rc != rc) {
		kdc_error("cannot store events: %s (%s). The batch of %zu messages was rolled back "
		          "and no receipts were sent, so the devices will send them again. "
		          "Retrying with every batch; this is logged once until it recovers.",
		          rc == KDC_ERR_DISK_FULL ? "the disk holding the database is full"
		                                  : kdc_strerror(rc),
		          kdc_store_errmsg(w->store), n);
		if (!w->failing) {
			w->episode_batches = 0;
			w->episode_msgs = 0;
		}
		w->failing = 1;
		w->fail_rc = rc;
	}
	w->episode_batches++;
	w->episode_msgs += n;
	w->ok_since_fail = 0;
	w->last_fail_ms = kdc_mono_ms();
	w->period.failed += n;
	writer__set_health(w, 1, writer__fail_reason(rc));
	pthread_mutex_lock(&w->lock);
	w->totals.failed_batches++;
	w->totals.not_stored += n;
	pthread_mutex_unlock(&w->lock);
}

static void writer__recovered(kdc_writer *w, int committed)
{
	if (!w->failing)
		return;
	if (committed)
		w->ok_since_fail = 1;
	if (!w->ok_since_fail || kdc_mono_ms() - w->last_fail_ms < RECOVER_MS)
		return;
	kdc_notice("storing events again after %llu failed batches (%llu messages were not stored; "
	           "their devices send them again)",
	           (unsigned long long)w->episode_batches, (unsigned long long)w->episode_msgs);
	w->failing = 0;
	w->fail_rc = 0;
	writer__set_health(w, 0, "");
}

/* ---- one message ------------------------------------------------------------ */

static void *writer__arena_alloc(void *ud, size_t n)
{
	struct writer_arena *a = ud;
	const size_t align = _Alignof(max_align_t);
	size_t at = (a->used + align - 1) & ~(align - 1);
	void **block;

	if (n <= ARENA_BYTES && at <= ARENA_BYTES - n) {
		a->used = at + n;
		return a->buf + at;
	}
	if (n > SIZE_MAX - align || !(block = malloc(align + n)))
		return NULL;
	*block = a->spilled;
	a->spilled = block;
	return (uint8_t *)block + align;
}

/* Fields are dropped all at once by writer__arena_reset. */
static void writer__arena_free(void *ud, void *p)
{
	(void)ud;
	(void)p;
}

static void writer__arena_reset(struct writer_arena *a)
{
	while (a->spilled) {
		void **block = a->spilled;
		a->spilled = *block;
		free(block);
	}
	a->used = 0;
}

/* ---- the ward profile ------------------------------------------------------------ */

/* The profile's word on an otherwise valid event: its team and khom must be
 * the ward's (when the profile lists any), and a device the profile gives to
 * a team must file under that team. A device the profile does not list may
 * file under any team of the ward. 0, or the reason (also in v). */
static int writer__check_profile(const kdc_writer *w, const kdc_event_pb *ev, struct kdc_verdict *v)
{
	const struct kdc_profile *p = w->conf.profile;

	if (!p)
		return 0;
	if (!w->conf.count_unknown && p->nteams > 0 && kdc_profile_team_find(p, ev->team) < 0) {
		snprintf(v->detail, sizeof v->detail, "team %s is not a team of ward %s", ev->team, w->ward);
		return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_TEAM;
	}
	if (!w->conf.count_unknown && p->nkhoms > 0 && kdc_profile_khom_find(p, ev->khom) < 0) {
		snprintf(v->detail, sizeof v->detail, "khom %s is not a khom of ward %s", ev->khom, w->ward);
		return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_KHOM;
	}
	for (size_t t = 0; t < p->nteams; t++)
		for (size_t d = 0; d < p->teams[t].ndevices; d++)
			if (strcmp(p->teams[t].devices[d], ev->device) == 0 &&
			    strcmp(p->teams[t].code, ev->team) != 0) {
				snprintf(v->detail, sizeof v->detail,
				         "device %s belongs to team %s, not %s", ev->device,
				         p->teams[t].code, ev->team);
				return v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_WRONG_TEAM;
			}
	return 0;
}

/* kdc_event_decode, with the fields in the arena (valid until the next
 * writer__arena_reset). What the arena cannot decode goes to
 * kdc_event_decode itself: a payload too large or not an Event gets its
 * verdict there (NULL), and one that failed only for lack of memory may
 * decode there after all: then *heap is that event, for kdc_event_free.
 * Either way the string fields are checked on the wire
 * (kdc_event_wire_check), as kdc_event_decode does. An arena event they fail
 * is still returned, with the reason in v, so that its rejection carries its
 * id; kdc_event_decode returns NULL for it. */
static kdc_event_pb *writer__decode(kdc_writer *w, const struct kdc_ingest_msg *m,
                                    struct kdc_verdict *v, kdc_event_pb **heap)
{
	kdc_event_pb *ev = NULL;

	*heap = NULL;
	writer__arena_reset(&w->arena);
	/* payload_len, not payload_kept: an oversized payload is refused on its
	 * length before any byte is read */
	if (m->payload_len <= KDC_MAX_EVENT_BYTES)
		ev = kdc__v1__event__unpack(&w->pb_alloc, m->payload_len, m->payload);
	if (ev) {
		if (kdc_event_wire_check(m->payload, m->payload_len, v) == 0) {
			v->reason = 0;
			v->detail[0] = '\0';
		}
		return ev;
	}
	return *heap = kdc_event_decode(m->payload, m->payload_len, v);
}

/* Topics come from devices: keep control characters out of the log. */
static void writer__printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

static void writer__log_reject(kdc_writer *w, const char *raw_topic, const struct writer_outcome *o)
{
	int64_t now = kdc_mono_ms();
	char topic[128];

	/* a broken device can send thousands: one line, then a summary per
	 * REJECT_LOG_MS */
	if (w->reject_log_ms && now - w->reject_log_ms < REJECT_LOG_MS) {
		w->rejects_unlogged++;
		return;
	}
	writer__printable(topic, sizeof topic, raw_topic);
	if (w->rejects_unlogged)
		kdc_warn("rejected %llu more payloads in the last %d s; latest: topic %s: %s (%s)",
		         (unsigned long long)w->rejects_unlogged + 1, REJECT_LOG_MS / 1000, topic,
		         kdc_reason_name(o->reason), o->detail);
	else
		kdc_warn("rejected payload on %s: %s (%s)", topic, kdc_reason_name(o->reason),
		         o->detail);
	w->rejects_unlogged = 0;
	w->reject_log_ms = now;
}

/* A device went over its budget of kept refused payloads: it floods (or is
 * badly broken). One line per REJECT_LOG_MS at most. */
static void writer__log_flood(kdc_writer *w, const char *device)
{
	int64_t now = kdc_mono_ms();

	if (w->flood_log_ms && now - w->flood_log_ms < REJECT_LOG_MS)
		return;
	w->flood_log_ms = now;
	kdc_warn("device %s floods: it sent more refused payloads than the %d kept per device; "
	         "the oldest are deleted (%lld since start, per device in table rejected_dropped)",
	         device && *device ? device : "(unknown)", KDC_STORE_REJECTED_PER_DEVICE,
	         (long long)kdc_store_rejected_dropped(w->store));
}

int writer__reject(kdc_writer *w, const struct kdc_ingest_msg *m, struct writer_outcome *o,
                   int64_t now, int reason, const char *detail)
{
	struct kdc_rejected_row r = {
		.received_ms = now,
		.topic = m->topic,
		.device = o->device,
		.event_id = o->has_id ? o->id : NULL,
		.reason = reason,
		.detail = detail,
		.payload = m->payload,
		.payload_kept = m->payload_kept,
		.payload_len = m->payload_len,
	};

	int64_t dropped = kdc_store_rejected_dropped(w->store);
	int rc;

	o->reason = reason;
	snprintf(o->detail, sizeof o->detail, "%s", detail);
	writer__log_reject(w, m->topic, o);
	rc = kdc_store_add_rejected(w->store, &r);
	if (rc == KDC_OK && kdc_store_rejected_dropped(w->store) > dropped)
		writer__log_flood(w, o->device);
	return rc;
}

/* Decodes and checks one message inside the open transaction: a valid event
 * becomes w->rows[*nvalid] (stored with the others by writer__store), the
 * rest is kept as rejected. Returns a store error (the batch then fails),
 * else 0 with *o filled. */
static int writer__one(kdc_writer *w, const struct kdc_ingest_msg *m, struct writer_outcome *o,
                       int64_t now, size_t *nvalid, size_t *nrej)
{
	struct kdc_event_topic t;
	struct kdc_verdict v;
	struct kdc_event_row *row;
	kdc_event_pb *ev, *heap = NULL;
	int rc = KDC_OK;

	memset(&t, 0, sizeof t);
	o->group = -1;
	o->reason = OUTCOME_COMMITTED;
	o->has_id = 0;
	o->device[0] = '\0';
	if (m->lost) {
		/* the receive thread had no memory to copy it: no row, no receipt,
		 * so the device sends it again */
		kdc_warn("a %zu-byte message was dropped for lack of memory; its device will resend it",
		         m->payload_len);
		o->reason = OUTCOME_SKIP;
		return KDC_OK;
	}
	if (m->topic_truncated || kdc_event_topic_parse(m->topic, &t) != KDC_OK ||
	    strcmp(t.ward, w->ward) != 0) {
		char detail[sizeof v.detail];
		/* the device level alone is enough to address the rejection */
		memcpy(o->device, t.device, sizeof o->device);
		snprintf(detail, sizeof detail,
		         "topic is not kdc/v1/%s/events/{team}/{device} with codes of 1-32 letters, "
		         "digits, '_' or '-'", w->ward);
		(*nrej)++;
		return writer__reject(w, m, o, now, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_TOPIC,
		                      detail);
	}
	memcpy(o->device, t.device, sizeof o->device);
	ev = writer__decode(w, m, &v, &heap);
	if (!ev) {
		(*nrej)++;
		return writer__reject(w, m, o, now, v.reason, v.detail);
	}
	if (ev->id.len == KDC_UUID_LEN) {
		memcpy(o->id, ev->id.data, KDC_UUID_LEN);
		o->has_id = 1;
	}
	if (v.reason != 0 || kdc_event_validate(ev, &t, w->ward, now, &v) != 0 ||
	    writer__check_profile(w, ev, &v) != 0) {
		(*nrej)++;
		rc = writer__reject(w, m, o, now, v.reason, v.detail);
		goto cleanup;
	}
	row = &w->rows[*nvalid];
	kdc_event_row_from_pb(row, ev);
	row->received_ms = now;
	if (!kdc_kind_is_activity(row->kind)) {
		rc = writer__special(w, m, o, ev, now, nvalid, nrej);
		goto cleanup;
	}
	if (kdc_register_check(w->reg, row, &v) != 0) {
		int stored = 0;
		/* a resend of an event stored before the register changed is a
		 * duplicate (the INSERT below ignores it), not a refusal */
		if ((rc = kdc_register_stored(w->reg, row->id, &stored)) != KDC_OK)
			goto cleanup;
		if (!stored) {
			(*nrej)++;
			rc = writer__reject(w, m, o, now, v.reason, v.detail);
			goto cleanup;
		}
	}
	(*nvalid)++;
cleanup:
	kdc_event_free(heap);
	return rc;
}

/* ---- a batch ------------------------------------------------------------------ */

/* After the commit: the khóms of the batch's new events may have lists
 * to publish again. */
static void writer__touch_worklists(kdc_writer *w, size_t nrows)
{
	const char *last = NULL;

	if (!w->conf.worklist)
		return;
	for (size_t i = 0; i < nrows; i++) {
		if (last && strcmp(last, w->rows[i].khom) == 0)
			continue;
		last = w->rows[i].khom;
		kdc_worklist_touch(w->conf.worklist, last);
	}
}

static void writer__batch(kdc_writer *w, size_t n)
{
	int64_t now = w->conf.clock_ms ? w->conf.clock_ms() : kdc_now_ms(), lid0;
	size_t nvalid = 0, nrej = 0;
	int rc;

	w->nfold = w->nnew = w->ndup = 0;
	w->rebuild = w->voided = 0;
	if ((rc = kdc_store_begin(w->store)) != KDC_OK)
		goto fail;
	if ((rc = writer__register_sync(w)) != KDC_OK)
		goto fail;
	lid0 = kdc_register_lid(w->reg);
	for (size_t i = 0; i < n; i++) {
		rc = writer__one(w, kdc_ingest_at(w->in, i), &w->outcomes[i], now, &nvalid, &nrej);
		if (rc != KDC_OK)
			goto fail;
	}
	if ((rc = writer__flush(w, &nvalid)) != KDC_OK ||
	    (rc = writer__stats(w, lid0, nrej)) != KDC_OK)
		goto fail;
	if ((rc = kdc_store_commit(w->store)) != KDC_OK)
		goto fail;
	/* committed: the slots can go back to the receive thread before the
	 * receipts are built from the outcomes */
	kdc_ingest_release(w->in, n);
	writer__recovered(w, 1);
	w->period.stored += w->nnew;
	w->period.duplicates += w->ndup;
	w->period.rejected += nrej;
	pthread_mutex_lock(&w->lock);
	w->totals.stored += w->nnew;
	w->totals.duplicates += w->ndup;
	w->totals.rejected += nrej;
	w->totals.batches++;
	pthread_mutex_unlock(&w->lock);
	writer__push_register(w);
	writer__receipts(w, n);
	writer__touch_worklists(w, w->nfold);
	return;
fail:
	writer__failed(w, rc, n);
	kdc_ingest_release(w->in, n);
}

/* ---- statistics and logs ---------------------------------------------------- */

static void writer__emit(void *ud, const char *scope, const char *id, const char *json)
{
	kdc_writer *w = ud;
	char topic[KDC_TOPIC_MAX + 1];

	if (kdc_topic_stats(topic, sizeof topic, w->ward, scope, id) < 0) {
		kdc_warn("stats scope %s/%s makes a topic too long: not published", scope, id ? id : "");
		return;
	}
	if (kdc_outq_push(w->out, topic, json, strlen(json), 1) != KDC_OK)
		kdc_warn("out of memory queueing stats for %s", topic);
}

static void writer__publish_stats(kdc_writer *w, int64_t min_interval_ms)
{
	int rc;

	if (!w->stats)
		return;
	rc = kdc_stats_publish(w->stats, kdc_now_ms(), min_interval_ms, writer__emit, w);
	if (rc != KDC_OK) {
		int64_t now = kdc_mono_ms();
		if (!w->stats_fail_log_ms || now - w->stats_fail_log_ms >= THROUGHPUT_LOG_MS) {
			kdc_error("cannot compute statistics snapshots: %s (%s); retrying every second",
			          kdc_strerror(rc), sqlite3_errmsg(kdc_store_db(w->store)));
			w->stats_fail_log_ms = now;
		}
	}
}

/* The closed months, when kdc-report closed or reopened one (and at start). */
static void writer__publish_closed(kdc_writer *w)
{
	char topic[KDC_TOPIC_MAX + 1], *json = NULL;
	int rc;

	if (!w->closed)
		return;
	if ((rc = kdc_closed_poll(w->closed, &json)) != KDC_OK) {
		kdc_warn("cannot read the closed months: %s; retrying every second", kdc_strerror(rc));
		return;
	}
	if (!json)
		return;
	/* beside the scopes' snapshots, under stats/#: the dashboards' ACL reads it */
	if ((size_t)snprintf(topic, sizeof topic, "kdc/v1/%s/stats/closed", w->ward) >= sizeof topic ||
	    kdc_outq_push(w->out, topic, json, strlen(json), 1) != KDC_OK)
		kdc_warn("cannot queue the closed months (out of memory)");
	free(json);
}

static void writer__emit_worklist(void *ud, const char *topic, const void *payload, size_t len)
{
	kdc_writer *w = ud;

	if (kdc_outq_push(w->out, topic, payload, len, KDC_OUTQ_BULK) != KDC_OK)
		kdc_warn("out of memory queueing the list for %s", topic);
}

/* After the statistics, on the same path: the outq sends these only when no
 * receipt waits. */
static void writer__publish_worklists(kdc_writer *w, int64_t min_interval_ms, int64_t budget_ms)
{
	int rc;

	if (!w->conf.worklist)
		return;
	rc = kdc_worklist_publish(w->conf.worklist, kdc_now_ms(), min_interval_ms, budget_ms,
	                          kdc_stats_rebuilds(w->stats), writer__emit_worklist, w);
	if (rc != KDC_OK) {
		int64_t now = kdc_mono_ms();
		if (!w->worklist_fail_log_ms || now - w->worklist_fail_log_ms >= THROUGHPUT_LOG_MS) {
			kdc_error("cannot compute the team worklists: %s; retrying every second",
			          kdc_strerror(rc));
			w->worklist_fail_log_ms = now;
		}
	}
}

static void writer__log_period(kdc_writer *w, int64_t now)
{
	struct writer_period *p = &w->period;
	size_t depth = kdc_ingest_depth(w->in);
	uint64_t full_waits = kdc_ingest_full_waits(w->in);

	if (p->stored || p->duplicates || p->rejected || p->failed || depth ||
	    full_waits != w->period_full_waits)
		kdc_info("last %lld s: %llu events stored (%.0f/s), %llu duplicates, %llu rejected, "
		         "%llu not stored; queue %zu of %zu (receiver waited for room %llu times)",
		         (long long)((now - w->period_start_ms) / 1000), (unsigned long long)p->stored,
		         (double)p->stored * 1000.0 / (double)(now - w->period_start_ms > 1000 ? now - w->period_start_ms : 1000),
		         (unsigned long long)p->duplicates, (unsigned long long)p->rejected,
		         (unsigned long long)p->failed, depth, kdc_ingest_capacity(w->in),
		         (unsigned long long)(full_waits - w->period_full_waits));
	w->period_full_waits = full_waits;
	memset(p, 0, sizeof *p);
	w->period_start_ms = now;
}

static void writer__log_totals(kdc_writer *w)
{
	struct kdc_writer_counters c;

	kdc_writer_counters(w, &c);
	kdc_info("totals since start: %llu events stored, %llu duplicates, %llu rejected, "
	         "%llu batches (%llu failed, %llu messages not stored), %llu receipts queued "
	         "(%llu dropped)",
	         (unsigned long long)c.stored, (unsigned long long)c.duplicates,
	         (unsigned long long)c.rejected, (unsigned long long)c.batches,
	         (unsigned long long)c.failed_batches, (unsigned long long)c.not_stored,
	         (unsigned long long)c.receipts, (unsigned long long)c.receipts_dropped);
}

static size_t writer__next_limit(const kdc_writer *w, size_t n)
{
	size_t start = BATCH_START < w->conf.batch_max ? BATCH_START : w->conf.batch_max;
	size_t next = 2 * n;

	if (next < start)
		next = start;
	return next < w->conf.batch_max ? next : w->conf.batch_max;
}

static void *writer__main(void *arg)
{
	kdc_writer *w = arg;
	int64_t mono = kdc_mono_ms();
	int64_t last_stats = 0, next_idle_stats = mono;

	w->period_start_ms = mono;
	w->limit = writer__next_limit(w, 0);
	for (;;) {
		int64_t wait = next_idle_stats - kdc_mono_ms();
		size_t n;

		if (wait < 1)
			wait = 1;
		if (wait > IDLE_STATS_MS)
			wait = IDLE_STATS_MS;
		n = kdc_ingest_wait_gap(w->in, w->limit, (int)wait, w->conf.batch_ms, BATCH_GAP_MS);
		if (n) {
			writer__batch(w, n);
			w->limit = writer__next_limit(w, n);
		}
		mono = kdc_mono_ms();
		if ((n && mono - last_stats >= STATS_CALL_MS) || mono >= next_idle_stats) {
			if (!n)
				writer__idle_register(w);
			writer__publish_stats(w, w->conf.stats_interval_ms);
			writer__publish_closed(w);
			writer__publish_worklists(w, w->conf.worklist_interval_ms,
			                          n ? WORKLIST_BUDGET_MS : 0);
			last_stats = mono;
			next_idle_stats = mono + IDLE_STATS_MS;
		}
		if (!n)
			writer__recovered(w, 0);
		if (mono - w->period_start_ms >= THROUGHPUT_LOG_MS)
			writer__log_period(w, mono);
		if (!n && atomic_load(&w->stopping) && kdc_ingest_closed(w->in) &&
		    kdc_ingest_depth(w->in) == 0)
			break;
	}
	/* the last snapshot, whatever the interval: the process is going away */
	writer__publish_stats(w, 0);
	writer__publish_worklists(w, 0, 0);
	writer__log_period(w, kdc_mono_ms());
	writer__log_totals(w);
	return NULL;
}

/* ---- start/stop ------------------------------------------------------------- */

static void writer__free(kdc_writer *w)
{
	kdc_closed_free(w->closed);
	free(w->outcomes);
	free(w->rows);
	free(w->inserted);
	free(w->order);
	kdc_hmap_free(&w->groups);
	free(w->committed);
	free(w->rej);
	free(w->rejp);
	free(w->pack);
	writer__arena_reset(&w->arena);
	free(w->arena.buf);
	kdc_register_free(w->reg);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

kdc_writer *kdc_writer_start(const struct kdc_writer_conf *conf, kdc_store *store,
                             kdc_stats *stats, kdc_ingest *in, kdc_outq *out,
                             char *err, size_t errlen)
{
	kdc_writer *w;
	size_t max = conf->batch_max;
	int prc;

	if (!conf->ward || !kdc_code_valid(conf->ward) || max == 0 || max > (1u << 24)) {
		snprintf(err, errlen, "writer: invalid ward or batch size");
		return NULL;
	}
	if (!(w = calloc(1, sizeof *w))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->conf = *conf;
	snprintf(w->ward, sizeof w->ward, "%s", conf->ward);
	w->conf.ward = w->ward;
	w->store = store;
	w->stats = stats;
	w->in = in;
	w->out = out;
	kdc_hmap_init(&w->groups, sizeof(struct writer_group_key), sizeof(struct writer_group));
	w->outcomes = calloc(max, sizeof *w->outcomes);
	w->rows = calloc(max, sizeof *w->rows);
	w->inserted = calloc(max, sizeof *w->inserted);
	w->order = calloc(max, sizeof *w->order);
	w->committed = calloc(RECEIPT_CHUNK, sizeof *w->committed);
	w->rej = calloc(RECEIPT_CHUNK, sizeof *w->rej);
	w->rejp = calloc(RECEIPT_CHUNK, sizeof *w->rejp);
	w->arena.buf = malloc(ARENA_BYTES);
	w->pb_alloc.alloc = writer__arena_alloc;
	w->pb_alloc.free = writer__arena_free;
	w->pb_alloc.allocator_data = &w->arena;
	if (!w->outcomes || !w->rows || !w->inserted || !w->order ||
	    !w->committed || !w->rej || !w->rejp || !w->arena.buf) {
		snprintf(err, errlen, "out of memory for batches of %zu", max);
		goto fail;
	}
	if (writer__open_register(w, err, errlen) != KDC_OK)
		goto fail;
	if (!(w->closed = kdc_closed_new(kdc_store_db(store), w->ward))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	prc = pthread_create(&w->thread, NULL, writer__main, w);
	if (prc != 0) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(prc));
		goto fail;
	}
	return w;
fail:
	writer__free(w);
	return NULL;
}

void kdc_writer_stop(kdc_writer *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	kdc_ingest_close(w->in);
	pthread_join(w->thread, NULL);
	writer__free(w);
}
