/* kdc-event-bulk.c: `kdc-event bulk`, synthetic events recorded quickly into
 * the outbox, for tests and benchmarks (a plausible mix of the four kinds,
 * reproducible from a seed apart from ids and times). */
#include <stdio.h>
#include <string.h>

#include "kdc-event.h"
#include "kdc_err.h"
#include "kdc_prog.h"
#include "kdc_util.h"
#include "outbox.h"

#define BULK_TX_ROWS 1000

/* ---- bulk: synthetic events for tests and benchmarks --------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, reproducible, good enough for a plausible mix */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static int rng_below(uint64_t *s, int n)
{
	return (int)(rng_next(s) % (uint64_t)n);
}

/* Fills ev (and the body storage) with one plausible event. */
static void bulk_event(uint64_t *rng, const struct cli *c, int64_t now, char *household,
                       kdc_event_pb *ev, Kdc__V1__HouseholdVisited *vis,
                       Kdc__V1__AccountCreated *acc, Kdc__V1__PaymentMade *pay,
                       Kdc__V1__ServiceUsed *svc, Kdc__V1__Need *needs)
{
	int r = rng_below(rng, 100);

	kdc__v1__event__init(ev);
	snprintf(household, 16, "H%04d", 1 + rng_below(rng, (int)c->households));
	ev->khom = c->khom;
	ev->household = household;
	ev->occurred_ms = c->days > 0 ? now - (int64_t)(rng_next(rng) % (uint64_t)(c->days * 86400000LL))
	                              : now;
	ev->member = (uint32_t)(1 + rng_below(rng, 4));
	if (r < 40) {
		int o = rng_below(rng, 10);
		kdc__v1__household_visited__init(vis);
		vis->outcome = o < 7 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED :
		               o < 9 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME :
		                       KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_DECLINED;
		if (o < 7) {
			vis->members = (uint32_t)(1 + rng_below(rng, 7));
			vis->members_15plus = (uint32_t)(1 + rng_below(rng, (int)vis->members));
			vis->smartphones = (uint32_t)rng_below(rng, (int)vis->members + 1);
			vis->needs = needs;
			for (int n = 1; kdc_need_name(n); n++)
				if (rng_below(rng, 4) == 0)
					needs[vis->n_needs++] = (Kdc__V1__Need)n;
		}
		ev->member = 0;
		ev->body_case = KDC__V1__EVENT__BODY_VISIT;
		ev->visit = vis;
	} else if (r < 65) {
		kdc__v1__account_created__init(acc);
		acc->kind = (Kdc__V1__AccountKind)(1 + rng_below(rng, 4));
		ev->body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		ev->account = acc;
	} else if (r < 90) {
		kdc__v1__payment_made__init(pay);
		pay->purpose = (Kdc__V1__PaymentPurpose)(1 + rng_below(rng, 8));
		pay->method = (Kdc__V1__PaymentMethod)(1 + rng_below(rng, 4));
		pay->amount_vnd = rng_below(rng, 4) == 0 ? 0 : 1000LL * (10 + rng_below(rng, 2000));
		ev->body_case = KDC__V1__EVENT__BODY_PAYMENT;
		ev->payment = pay;
	} else {
		kdc__v1__service_used__init(svc);
		svc->kind = (Kdc__V1__ServiceKind)(1 + rng_below(rng, 5));
		ev->body_case = KDC__V1__EVENT__BODY_SERVICE;
		ev->service = svc;
	}
}

int cmd_bulk(struct cli *c)
{
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited vis;
	Kdc__V1__AccountCreated acc;
	Kdc__V1__PaymentMade pay;
	Kdc__V1__ServiceUsed svc;
	Kdc__V1__Need needs[KDC_MAX_NEEDS];
	struct kdc_verdict v;
	uint8_t id[KDC_UUID_LEN];
	char household[16];
	uint64_t rng = (uint64_t)c->seed * 0x9E3779B97F4A7C15ULL + 1;
	int64_t first = 0, last = 0, t0, now;
	kdc_producer *p = NULL;
	kdc_outbox *ob;
	int rc = KDC_OK, ret;

	if (c->count == 0)
		return kdc_usage_error("missing --count: how many events to record");
	if ((ret = require_code(c->khom, "khom", "the khom/ap code")) != 0 ||
	    (ret = open_producer(c, &p)) != 0)
		return ret;
	ob = kdc_producer_outbox(p);
	if (kdc_outbox_next_seq(ob, &first) != KDC_OK)
		first = 0;
	t0 = kdc_mono_ms();
	now = kdc_now_ms();
	for (long long i = 0; i < c->count; i++) {
		if (i % BULK_TX_ROWS == 0) {
			if (i > 0 && (rc = kdc_outbox_commit(ob)) != KDC_OK)
				break;
			if ((rc = kdc_outbox_begin(ob)) != KDC_OK)
				break;
			now = kdc_now_ms();
		}
		bulk_event(&rng, c, now, household, &ev, &vis, &acc, &pay, &svc, needs);
		if ((rc = kdc_producer_record(p, &ev, id, &v)) != KDC_OK)
			break;
		last = (int64_t)ev.seq;
	}
	if (rc == KDC_OK)
		rc = kdc_outbox_commit(ob);
	if (rc != KDC_OK) {
		kdc_outbox_rollback(ob);
		if (rc == KDC_ERR_INVAL)
			fprintf(stderr, "kdc-event: bulk event refused: %s\n", v.detail);
		else
			fprintf(stderr, "kdc-event: cannot write to the outbox %s: %s (%s)\n",
			        c->dev.outbox, kdc_strerror(rc), kdc_outbox_errmsg(ob));
		kdc_producer_free(p);
		return rc == KDC_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	{
		double secs = (double)(kdc_mono_ms() - t0) / 1000.0;
		printf("recorded %lld events (seq %lld to %lld) in %.2f s, %.0f events/s\n",
		       c->count, (long long)first, (long long)last, secs,
		       secs > 0 ? (double)c->count / secs : 0.0);
	}
	kdc_producer_free(p);
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}
