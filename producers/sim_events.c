/* sim_events.c: what becomes of a simulated event: its protobuf (what the
 * device records), and the tally of what the campaign did that kdc-sim's
 * summary, and the tests, compare with the ward's statistics. */
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "kdc_err.h"
#include "sim_int.h"

/* ---- protobuf ------------------------------------------------------------------- */

void kdc_sim_event_pb(const struct kdc_sim *s, const struct kdc_sim_event *e,
                      struct kdc_sim_pb *pb)
{
	const struct kdc_sim_household *hh;

	if (kdc_kind_for_business(e->kind)) {
		sim__business_pb(s, e, pb);
		return;
	}
	hh = &s->households[e->household];
	kdc__v1__event__init(&pb->ev);
	pb->ev.khom = (char *)s->khoms[hh->khom];
	pb->ev.household = (char *)hh->code;
	pb->ev.member = e->member;
	pb->ev.occurred_ms = e->t;
	switch (e->kind) {
	case KDC_KIND_VISIT:
		kdc__v1__household_visited__init(&pb->visit);
		pb->visit.outcome = (Kdc__V1__VisitOutcome)e->sub;
		if (e->sub == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED) {
			pb->visit.members = hh->members;
			pb->visit.members_15plus = hh->members_15plus;
			pb->visit.smartphones = hh->smartphones;
			for (int n = 1; n <= KDC__V1__NEED__NEED_DIGITAL_SKILLS; n++)
				if (hh->needs & (1u << n))
					pb->needs[pb->visit.n_needs++] = (Kdc__V1__Need)n;
			pb->visit.needs = pb->visit.n_needs ? pb->needs : NULL;
		}
		pb->ev.body_case = KDC__V1__EVENT__BODY_VISIT;
		pb->ev.visit = &pb->visit;
		break;
	case KDC_KIND_ACCOUNT:
		kdc__v1__account_created__init(&pb->account);
		pb->account.kind = (Kdc__V1__AccountKind)e->sub;
		pb->ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		pb->ev.account = &pb->account;
		break;
	case KDC_KIND_PAYMENT:
		kdc__v1__payment_made__init(&pb->payment);
		pb->payment.purpose = (Kdc__V1__PaymentPurpose)e->sub;
		pb->payment.method = (Kdc__V1__PaymentMethod)e->method;
		pb->payment.amount_vnd = e->amount_vnd;
		pb->ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
		pb->ev.payment = &pb->payment;
		break;
	default:
		kdc__v1__service_used__init(&pb->service);
		pb->service.kind = (Kdc__V1__ServiceKind)e->sub;
		pb->ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
		pb->ev.service = &pb->service;
		break;
	}
}

/* ---- tally ------------------------------------------------------------------------ */

int kdc_sim_tally_init(struct kdc_sim_tally *t, const struct kdc_sim *s)
{
	memset(t, 0, sizeof *t);
	t->n = s->nhouseholds;
	t->flags = calloc(t->n, sizeof *t->flags);
	t->acct = calloc(t->n, sizeof *t->acct);
	t->last_pay = calloc(t->n, sizeof *t->last_pay);
	if (!t->flags || !t->acct || !t->last_pay) {
		kdc_sim_tally_free(t);
		return KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

void kdc_sim_tally_add(struct kdc_sim_tally *t, const struct kdc_sim_event *e)
{
	const uint8_t bit = e->member >= 1 && e->member <= KDC_SIM_MAX_ADULTS ? (uint8_t)(1u << (e->member - 1)) : 0;
	uint8_t *f;

	if (kdc_kind_for_business(e->kind)) {   /* a business's: not a household's figures */
		t->business_events++;
		return;
	}
	f = &t->flags[e->household];
	if (e->kind < KDC_KIND_COUNT)
		t->events[e->kind]++;
	switch (e->kind) {
	case KDC_KIND_VISIT:
		if (e->sub < 4)
			t->outcomes[e->sub]++;
		if (!(*f & 1)) {
			*f |= 1;
			t->visited++;
		}
		if (e->sub == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED && !(*f & 2)) {
			*f |= 2;
			t->surveyed++;
		}
		break;
	case KDC_KIND_ACCOUNT:
		if (!(*f & 4)) {
			*f |= 4;
			t->reached++;
		}
		if (e->sub >= 1 && e->sub <= 4 && bit && !(t->acct[e->household][e->sub] & bit)) {
			t->acct[e->household][e->sub] |= bit;
			t->accounts[e->sub]++;
			if (e->sub == KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT)
				t->with_payment_account++;
		}
		break;
	case KDC_KIND_PAYMENT:
		if (e->sub < 9)
			t->purposes[e->sub]++;
		t->payments++;
		t->amount_vnd += e->amount_vnd;
		if (bit && e->t > t->last_pay[e->household][e->member - 1])
			t->last_pay[e->household][e->member - 1] = e->t;
		break;
	default:
		if (e->sub < 6)
			t->services[e->sub]++;
		break;
	}
}

int64_t kdc_sim_tally_paying_regularly(const struct kdc_sim_tally *t, int64_t now_ms,
                                       int utc_offset_min, int window_days)
{
	int64_t n = 0;
	int64_t first = kdc_window_first(kdc_local_day(now_ms, utc_offset_min), window_days);

	for (size_t h = 0; h < t->n; h++)
		for (int m = 0; m < KDC_SIM_MAX_ADULTS; m++) {
			int64_t lp = t->last_pay[h][m];
			if (lp && (t->acct[h][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT] & (1u << m)) &&
			    kdc_local_day(lp, utc_offset_min) >= first)
				n++;
		}
	return n;
}

void kdc_sim_tally_free(struct kdc_sim_tally *t)
{
	free(t->flags);
	free(t->acct);
	free(t->last_pay);
	t->flags = NULL;
	t->acct = NULL;
	t->last_pay = NULL;
}
