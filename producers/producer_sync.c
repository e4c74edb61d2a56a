/* producer_sync.c: what comes back to a device, the server's receipts and the
 * team's worklist, applied by the owner's loop (kdc_producer_poll, in
 * producer.c), and kdc_producer_sync, which runs that loop until the events
 * recorded before it are receipted. See producer.h for the contract and
 * producer.c for sending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "producer_int.h"
#include "worklist.h"

/* ---- worklist ------------------------------------------------------------------ */

/* Stores a worklist that arrived (owner thread). A list that does not decode
 * or is not ours, or that cannot be written, is logged and dropped: the
 * stored one stays. Always 0. */
int producer__store_worklist(kdc_producer *p, struct prod_receipt *r)
{
	char err[256];
	kdc_worklist_pb *wl;
	int rc, stored = 0;

	if (!(wl = kdc_worklist_decode(r->data, r->len, p->conf.ward, p->conf.team, err,
	                               sizeof err))) {
		kdc_warn("producer %s: the worklist on %s is ignored: %s", p->conf.device,
		         p->worklist_topic, err);
		p->wl_state = KDC_PRODUCER_WORKLIST_BAD;
		return KDC_OK;
	}
	rc = kdc_worklist_store(p->ob, wl, kdc_now_ms(), &stored);
	if (rc == KDC_OK) {
		kdc_info("producer %s: worklist seq %llu with %zu households %s", p->conf.device,
		         (unsigned long long)wl->seq, wl->n_households,
		         stored ? "stored" : "not newer than the one stored: kept the stored one");
		p->wl_state = stored ? KDC_PRODUCER_WORKLIST_STORED : KDC_PRODUCER_WORKLIST_SAME;
	} else {
		/* the events matter more: the sync goes on, the stored list stays */
		kdc_error("producer %s: cannot store the worklist: %s", p->conf.device,
		          kdc_outbox_errmsg(p->ob));
		p->wl_state = KDC_PRODUCER_WORKLIST_BAD;
	}
	kdc__v1__worklist__free_unpacked(wl, NULL);
	return KDC_OK;
}

/* ---- receipts ------------------------------------------------------------------ */

static int producer__apply_one(kdc_producer *p, const struct prod_receipt *r)
{
	struct kdc_outbox_applied a;
	struct kdc_verdict v;
	kdc_receipt_pb *rc_pb;
	int rc;

	rc_pb = kdc__v1__receipt__unpack(NULL, r->len, r->data);
	if (!rc_pb) {
		kdc_warn("producer %s: a message on %s is not a kdc.v1.Receipt (%zu bytes): ignored",
		         p->conf.device, p->receipts_topic, r->len);
		return KDC_OK;
	}
	/* strings over their wire length: "D1\0x" is not addressed to D1 */
	if (kdc_receipt_wire_check(r->data, r->len, &v) != 0) {
		kdc_warn("producer %s: a receipt on %s is ignored: %s", p->conf.device,
		         p->receipts_topic, v.detail);
		rc = KDC_OK;
		goto cleanup;
	}
	if (!rc_pb->device || strcmp(rc_pb->device, p->conf.device) != 0) {
		kdc_warn("producer %s: receipt addressed to device '%.40s' ignored",
		         p->conf.device, rc_pb->device ? rc_pb->device : "");
		rc = KDC_OK;
		goto cleanup;
	}
	if ((rc = kdc_outbox_apply_receipt(p->ob, rc_pb, &a)) != KDC_OK)
		goto cleanup;
	p->st.receipts++;
	p->st.committed += a.committed;
	p->st.rejected += a.rejected;
	if (a.rejected)
		kdc_notice("producer %s: %lld event(s) refused by the server (see kdc-event rejected)",
		           p->conf.device, (long long)a.rejected);
cleanup:
	kdc__v1__receipt__free_unpacked(rc_pb, NULL);
	return rc;
}

/* Applies the queued receipts, PROD_RECEIPTS_PER_TX per transaction: deletes
 * of a busy stream share one fsync. */
int producer__apply_receipts(kdc_producer *p, struct prod_receipt *list)
{
	int rc = KDC_OK, n = 0;
	struct prod_receipt *r;

	while (list) {
		if (n == 0 && (rc = kdc_outbox_begin(p->ob)) != KDC_OK)
			break;
		r = list;
		list = r->next;
		rc = producer__apply_one(p, r);
		free(r);
		if (rc != KDC_OK)
			break;
		if (++n == PROD_RECEIPTS_PER_TX || !list) {
			n = 0;
			if ((rc = kdc_outbox_commit(p->ob)) != KDC_OK)
				break;
		}
	}
	if (rc != KDC_OK) {
		kdc_outbox_rollback(p->ob);
		kdc_error("producer %s: cannot apply receipts to the outbox: %s",
		          p->conf.device, kdc_outbox_errmsg(p->ob));
		/* the rest is dropped: the events are resent and receipted again */
		while (list) {
			r = list;
			list = r->next;
			free(r);
		}
	}
	return rc;
}

/* ---- sync ------------------------------------------------------------------------ */

int kdc_producer_pending(kdc_producer *p, int64_t *n)
{
	int rc = kdc_outbox_count(p->ob, KDC_OUTBOX_PENDING, n);

	if (rc == KDC_OK)
		p->st.pending = *n;
	return rc;
}

/* Pending rows of the sync's set (seq <= p->upto), stored in the stats. */
static int producer__pending_upto(kdc_producer *p, int64_t *n)
{
	int rc = kdc_outbox_count_upto(p->ob, KDC_OUTBOX_PENDING, p->upto, n);

	if (rc == KDC_OK)
		p->st.pending = *n;
	return rc;
}

/* A sync that wants the worklist waits for it until it came, the broker
 * refused the subscription, or PROD_WORKLIST_WAIT_MS passed since the broker
 * granted it (a ward may have published none yet). */
static int producer__worklist_waiting(kdc_producer *p)
{
	int64_t at = 0;
	int answer;

	if (!p->want_worklist || p->wl_state != KDC_PRODUCER_WORKLIST_NONE || !p->mqtt)
		return !!p->want_worklist && !p->mqtt;
	answer = kdc_mqtt_sub_answer(p->mqtt, p->worklist_topic, &at);
	if (answer < 0) {
		/* not asked again at the next reconnect: RabbitMQ closes the
		 * connection on a refused SUBSCRIBE, and the events still go */
		kdc_mqtt_drop_sub(p->mqtt, p->worklist_topic);
		p->wl_state = KDC_PRODUCER_WORKLIST_REFUSED;
		return 0;
	}
	if (answer > 0 && kdc_mono_ms() - at >= PROD_WORKLIST_WAIT_MS) {
		p->wl_state = KDC_PRODUCER_WORKLIST_NOTHING;
		return 0;
	}
	return 1;
}

int kdc_producer_sync(kdc_producer *p, int64_t timeout_ms, const volatile sig_atomic_t *stop,
                      kdc_producer_progress_cb progress, void *ud)
{
	int64_t start = kdc_mono_ms(), next_progress = 0, pending = 0, counted, now;
	int64_t drained_at_count, next_count, next_seq;
	int rc;

	/* The sync's set: every row recorded before now. Events recorded while
	 * it runs wait for the next sync; waiting for an empty outbox never
	 * ended while a team member kept recording. */
	if ((rc = kdc_outbox_next_seq(p->ob, &next_seq)) != KDC_OK)
		return rc;
	p->upto = next_seq - 1;
	/* Pending = the last SQL count minus what receipts have removed since.
	 * Receipts of rows outside the set (sent by an earlier process) make it
	 * too low, never too high, so it only decides when to count again. A
	 * count(*) per receipt batch was a fifth of a fast sync's CPU. */
	if ((rc = producer__pending_upto(p, &counted)) != KDC_OK)
		goto cleanup;
	pending = counted;
	drained_at_count = p->st.committed + p->st.rejected;
	next_count = kdc_mono_ms() + PROD_COUNT_EVERY_MS;
	for (;;) {
		/* asked each round, not only once the events are done: it drops a
		 * refused worklist subscription, on which some brokers close the
		 * connection, before it keeps the events from going */
		int wl_waiting = producer__worklist_waiting(p);
		char why[8];
		int cause;

		if (pending <= 0 && !wl_waiting)
			break;
		now = kdc_mono_ms();
		if (pending <= 0 && now - start >= timeout_ms && !(stop && *stop))
			break; /* the events are done; the worklist did not come: not an error */
		if (now - start >= timeout_ms || (stop && *stop)) {
			/* the cause, if one is known, tells more than "timed out" */
			cause = stop && *stop ? 0 : kdc_producer_cause(p, why, sizeof why);
			rc = cause ? cause : KDC_ERR_TIMEOUT;
			break;
		}
		if ((rc = kdc_producer_poll(p, PROD_WAIT_MAX_MS)) != KDC_OK)
			break;
		/* retrying cannot help until someone fixes the config or the server */
		if (kdc_err_needs_fix(cause = kdc_producer_cause(p, why, sizeof why))) {
			rc = cause;
			break;
		}
		now = kdc_mono_ms();
		pending = counted - (p->st.committed + p->st.rejected - drained_at_count);
		p->st.pending = pending;
		if (pending <= 0 || now >= next_count) {
			if ((rc = producer__pending_upto(p, &counted)) != KDC_OK)
				break;
			pending = counted;
			drained_at_count = p->st.committed + p->st.rejected;
			next_count = now + PROD_COUNT_EVERY_MS;
		}
		if (progress && now >= next_progress) {
			struct kdc_producer_stats s;
			kdc_producer_stats(p, &s);
			progress(ud, &s);
			next_progress = now + 250;
		}
	}
	if (rc == KDC_OK || rc == KDC_ERR_TIMEOUT || kdc_err_exit_status(rc)) {
		int frc = producer__flush_marks(p);
		if (frc == KDC_OK)
			frc = kdc_outbox_purge_history(p->ob, kdc_now_ms(), NULL);
		if (rc == KDC_OK)
			rc = frc;
	}
	if (progress) {
		struct kdc_producer_stats s;
		kdc_producer_stats(p, &s);
		progress(ud, &s);
	}
cleanup:
	p->upto = INT64_MAX;
	return rc;
}
