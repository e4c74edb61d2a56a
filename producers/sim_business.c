/* sim_business.c: the businesses of a simulated campaign (sim.h): the
 * profile's `businesses` of each khóm, codes B0001, ..., each given to a
 * device covering its khóm, and their events, drawn from a stream of their
 * own so that the households' events do not change with them:
 *  - one visit over the first visits' span: mostly surveyed; it sees
 *    whether the business issues e-invoices (a third do) and uses online
 *    public services (close to half), and hears its needs;
 *  - then, for a business not issuing them, an e-invoice adoption (60%),
 *    and an e-identified account for online public services (55%), some
 *    days later;
 *  - half are visited again after that, a visit that sees what changed
 *    (an account makes it use online public services).
 * A declined visit ends it. Times are working times of the window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "sim_int.h"

int sim__businesses(struct kdc_sim *s, const struct kdc_profile *prof)
{
	size_t n = 0, b = 0;

	for (size_t k = 0; k < prof->nkhoms; k++)
		n += (size_t)prof->khoms[k].businesses;
	if (n == 0)
		return KDC_OK;
	if (!(s->businesses = calloc(n, sizeof *s->businesses)))
		return KDC_ERR_NOMEM;
	for (size_t k = 0; k < prof->nkhoms; k++) {
		size_t nb = (size_t)prof->khoms[k].businesses, first = SIZE_MAX, nh = 0;

		/* the khóm's households are one block: spread the businesses over
		 * the devices that visit it, as along its street */
		for (size_t h = 0; h < s->nhouseholds; h++)
			if (s->households[h].khom == k) {
				if (first == SIZE_MAX)
					first = h;
				nh++;
			}
		for (size_t i = 0; i < nb; i++, b++) {
			struct kdc_sim_business *z = &s->businesses[b];
			snprintf(z->code, sizeof z->code, "B%04lu", (unsigned long)(i + 1));
			z->khom = (uint32_t)k;
			z->device = nh ? s->households[first + i * nh / nb].device : KDC_SIM_NO_DEVICE;
		}
	}
	s->nbusinesses = n;
	return KDC_OK;
}

static void biz__emit(struct sim_ctx *c, uint32_t b, uint32_t *order, int64_t t, int kind,
                      int sub, unsigned flags)
{
	struct kdc_sim_event *e = t > 0 ? sim__append(c, t, order) : NULL;

	if (!e)
		return;
	e->household = b;
	e->device = c->s->businesses[b].device;
	e->kind = (uint8_t)kind;
	e->sub = (uint8_t)sub;
	e->flags = (uint8_t)flags;
}

void sim__business_events(struct sim_ctx *c, uint32_t b)
{
	struct kdc_sim_rng r;
	int64_t t, later, last;
	unsigned seen = 0;
	uint32_t order = 0;
	int outcome, einv, online, adopts, account;
	double u;

	if (c->s->businesses[b].device == KDC_SIM_NO_DEVICE || c->nwdays == 0)
		return;
	kdc_sim_rng_seed(&r, c->seed, STREAM_BUSINESS, b);
	t = sim__time_from_day(c, &r, c->wdays[kdc_sim_rng_below(&r, (uint64_t)(c->nwdays * SIM_VISIT_PHASE) + 1)]);
	u = kdc_sim_rng_unit(&r);
	outcome = u < 0.04 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_DECLINED
	          : u < 0.12 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME
	          : KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
	einv = kdc_sim_rng_unit(&r) < 0.35;
	online = kdc_sim_rng_unit(&r) < 0.45;
	adopts = !einv && kdc_sim_rng_unit(&r) < 0.60;
	account = kdc_sim_rng_unit(&r) < 0.55;
	if (outcome == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME) {
		biz__emit(c, b, &order, t, KDC_KIND_BUSINESS_VISIT, outcome, 0);
		t = sim__next_work(c, t + (1 + (int64_t)kdc_sim_rng_below(&r, 3)) * DAY_MS);
		outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
	}
	if (outcome == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED)
		seen = (einv ? KDC_FLAG_EINVOICE : 0) | (online ? KDC_FLAG_ONLINE_SERVICES : 0);
	biz__emit(c, b, &order, t, KDC_KIND_BUSINESS_VISIT, outcome, seen);
	if (outcome != KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED || t == 0)
		return;
	last = t;
	if (adopts && (later = sim__next_work(c, t + sim__exp(&r, 10.0 * DAY_MS))) != 0) {
		biz__emit(c, b, &order, later, KDC_KIND_EINVOICE, 0, 0);
		einv = 1;
		last = later > last ? later : last;
	}
	if (account && (later = sim__next_work(c, t + sim__exp(&r, 8.0 * DAY_MS))) != 0) {
		biz__emit(c, b, &order, later, KDC_KIND_BUSINESS_ACCOUNT, 0, 0);
		online = 1;
		last = later > last ? later : last;
	}
	if (kdc_sim_rng_unit(&r) < 0.5 &&
	    (later = sim__next_work(c, last + sim__exp(&r, 6.0 * DAY_MS))) != 0)
		biz__emit(c, b, &order, later, KDC_KIND_BUSINESS_VISIT, outcome,
		          (einv ? KDC_FLAG_EINVOICE : 0) | (online ? KDC_FLAG_ONLINE_SERVICES : 0));
}

void sim__business_pb(const struct kdc_sim *s, const struct kdc_sim_event *e, struct kdc_sim_pb *pb)
{
	const struct kdc_sim_business *z = &s->businesses[e->household];

	kdc__v1__event__init(&pb->ev);
	pb->ev.khom = (char *)s->khoms[z->khom];
	pb->ev.household = (char *)z->code;
	pb->ev.member = 0;
	pb->ev.occurred_ms = e->t;
	switch (e->kind) {
	case KDC_KIND_BUSINESS_VISIT:
		kdc__v1__business_visited__init(&pb->business_visit);
		pb->business_visit.outcome = (Kdc__V1__VisitOutcome)e->sub;
		pb->business_visit.issues_einvoice = (e->flags & KDC_FLAG_EINVOICE) != 0;
		pb->business_visit.uses_online_services = (e->flags & KDC_FLAG_ONLINE_SERVICES) != 0;
		if (e->sub == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED) {
			if (!(e->flags & KDC_FLAG_EINVOICE))
				pb->business_needs[pb->business_visit.n_needs++] =
					KDC__V1__BUSINESS_NEED__BUSINESS_NEED_EINVOICE;
			if (!(e->flags & KDC_FLAG_ONLINE_SERVICES))
				pb->business_needs[pb->business_visit.n_needs++] =
					KDC__V1__BUSINESS_NEED__BUSINESS_NEED_EID_ACCOUNT;
		}
		pb->business_visit.needs = pb->business_visit.n_needs ? pb->business_needs : NULL;
		pb->ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_VISIT;
		pb->ev.business_visit = &pb->business_visit;
		break;
	case KDC_KIND_EINVOICE:
		kdc__v1__einvoice_adopted__init(&pb->einvoice);
		pb->ev.body_case = KDC__V1__EVENT__BODY_EINVOICE;
		pb->ev.einvoice = &pb->einvoice;
		break;
	default:
		kdc__v1__business_account_created__init(&pb->business_account);
		pb->ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_ACCOUNT;
		pb->ev.business_account = &pb->business_account;
		break;
	}
}
