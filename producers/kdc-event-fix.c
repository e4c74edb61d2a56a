/* kdc-event-fix.c: the kdc-event commands around the ward's household
 * register: `household add` (a household found in the field), `void` and
 * `amend` (corrections of events in this device's outbox or its history of
 * stored events), `history` (that history), `worklist` (the team's list as
 * the last sync stored it), and what `rejected` says to do about the
 * register's refusals. Times are shown in the ward's time (utc-offset). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correct.h"
#include "kdc-event.h"
#include "kdc_err.h"
#include "kdc_prog.h"
#include "kdc_util.h"
#include "worklist.h"

#define AMEND_REASON "amended"

/* Prints "LABEL ID" for each of n ids. */
static int print_ids(uint8_t (*ids)[KDC_UUID_LEN], const char *const *labels, int n)
{
	char idtext[KDC_UUID_STR_LEN];

	for (int i = 0; i < n; i++) {
		kdc_uuid_format(ids[i], idtext);
		printf("%s%s%s\n", labels[i] ? labels[i] : "", labels[i] ? " " : "", idtext);
	}
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

/* The exit status of a failed record, said in plain words. */
static int record_failed(struct cli *c, kdc_producer *p, int rc, const struct kdc_verdict *v)
{
	if (rc == KDC_ERR_INVAL) {
		fprintf(stderr, "kdc-event: this cannot be recorded: %s\n", v->detail);
		return EXIT_USAGE;
	}
	fprintf(stderr, "kdc-event: cannot write to the outbox %s: %s (%s)\n", c->dev.outbox,
	        kdc_strerror(rc), kdc_outbox_errmsg(kdc_producer_outbox(p)));
	return EXIT_FAIL;
}

/* Records evs[0..n) together (all or nothing) and prints their ids. */
static int record_together(struct cli *c, kdc_producer *p, kdc_event_pb *const *evs,
                           const char *const *labels, int n)
{
	uint8_t ids[2][KDC_UUID_LEN];
	struct kdc_verdict v;
	int rc;

	if (n > 2)
		return EXIT_FAIL;
	if ((rc = kdc_producer_record_all(p, evs, (size_t)n, ids, &v)) != KDC_OK)
		return record_failed(c, p, rc, &v);
	return print_ids(ids, labels, n);
}

/* ---- household add ------------------------------------------------------------ */

struct on_list {
	const char *household;
	int found;
};

static int on_list_cb(void *ud, const struct kdc_wl_entry *e)
{
	struct on_list *f = ud;

	if (strcmp(e->household, f->household) == 0)
		f->found = 1;
	return KDC_OK;
}

/* Whether khom/household is on the team's stored list when that list is
 * the ward's register (a ward without one lists the households seen so far:
 * one of those may still need adding). */
static int on_register_list(struct cli *c, kdc_outbox *ob, int *found)
{
	struct kdc_wl_info info;
	struct on_list f = { c->household, 0 };
	int rc = kdc_worklist_info(ob, &info);

	*found = 0;
	if (rc == KDC_ERR_NOT_FOUND)
		return KDC_OK;
	if (rc != KDC_OK)
		return rc;
	if (!info.from_register || strcmp(info.ward, c->dev.ward) != 0 ||
	    strcmp(info.team, c->dev.team) != 0)
		return KDC_OK;
	if ((rc = kdc_worklist_list(ob, c->khom, 0, on_list_cb, &f)) != KDC_OK)
		return rc;
	*found = f.found;
	return KDC_OK;
}

int cmd_household(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__HouseholdAdded b = KDC__V1__HOUSEHOLD_ADDED__INIT;
	const char *labels[1] = { NULL };
	uint8_t ids[1][KDC_UUID_LEN];
	struct kdc_verdict v;
	kdc_producer *p = NULL;
	kdc_outbox *ob;
	int ret, rc, added, found;

	if ((ret = require_code(c->khom, "khom", "the khom/ap code, e.g. --khom 6")) ||
	    (ret = require_code(c->household, "household", "the new household's code, e.g. "
	                        "--household H0187")) ||
	    (ret = open_producer(c, &p)))
		return ret;
	if (c->business && c->people_15plus > 0) {
		fprintf(stderr, "kdc-event: a business has no --people-15plus: give one or the other\n");
		kdc_producer_free(p);
		return EXIT_USAGE;
	}
	rc = on_register_list(c, kdc_producer_outbox(p), &found);
	if (rc == KDC_OK && found) {
		fprintf(stderr, "kdc-event: household %s of khóm %s is on the ward's register "
		        "already (team %s's list): nothing to add\n", c->household, c->khom,
		        c->dev.team);
		kdc_producer_free(p);
		return EXIT_USAGE;
	} else if (rc != KDC_OK) {
		fprintf(stderr, "kdc-event: cannot read the worklist in the outbox %s: %s\n",
		        c->dev.outbox, kdc_outbox_errmsg(kdc_producer_outbox(p)));
		kdc_producer_free(p);
		return EXIT_FAIL;
	}
	b.people_15plus = (uint32_t)c->people_15plus;
	b.business = c->business != 0;
	ev.khom = c->khom;
	ev.household = c->household;
	ev.body_case = KDC__V1__EVENT__BODY_HOUSEHOLD_ADDED;
	ev.household_added = &b;
	/* the event and the list's new line in one transaction */
	ob = kdc_producer_outbox(p);
	if ((rc = kdc_outbox_begin(ob)) != KDC_OK ||
	    (rc = kdc_producer_record(p, &ev, ids[0], &v)) != KDC_OK ||
	    /* the worklist is of households: a business is not on it */
	    (!c->business && (rc = kdc_worklist_add_local(ob, c->khom, c->household,
	                                                  c->people_15plus, &added)) != KDC_OK) ||
	    (rc = kdc_outbox_commit(ob)) != KDC_OK) {
		kdc_outbox_rollback(ob);
		ret = record_failed(c, p, rc, &v);
	} else {
		ret = print_ids(ids, labels, 1);
	}
	kdc_producer_free(p);
	return ret;
}

/* ---- void and amend ---------------------------------------------------------- */

/* Finds c->target in the outbox or the history and refuses what cannot be
 * voided; *state is its kdc_outbox_state. On 0 the caller frees *orig. */
static int find_voidable(struct cli *c, kdc_producer *p, uint8_t id[KDC_UUID_LEN],
                         kdc_event_pb **orig, int *state)
{
	kdc_outbox *ob = kdc_producer_outbox(p);
	uint8_t vid[KDC_UUID_LEN];
	char err[512], idtext[KDC_UUID_STR_LEN];
	int rc, voided, kind;

	rc = kdc_outbox_find(ob, c->target, id, orig, state, err, sizeof err);
	if (rc == KDC_ERR_INVAL || rc == KDC_ERR_NOT_FOUND) {
		fprintf(stderr, "kdc-event: %s\n", err);
		return EXIT_USAGE;
	}
	if (rc != KDC_OK) {
		fprintf(stderr, "kdc-event: cannot read the outbox %s: %s\n", c->dev.outbox,
		        kdc_outbox_errmsg(ob));
		return EXIT_FAIL;
	}
	kdc_uuid_format(id, idtext);
	kind = kdc_event_kind(*orig);
	if (kind == KDC_KIND_VOID || kind == KDC_KIND_HOUSEHOLD_ADDED) {
		if (kind == KDC_KIND_VOID)
			fprintf(stderr, "kdc-event: event %s is itself a void: a void cannot be voided "
			        "or amended\n", idtext);
		else
			fprintf(stderr, "kdc-event: event %s adds a household: it cannot be voided or "
			        "amended; ask the ward office to retire the household if it was a "
			        "mistake\n", idtext);
		goto refuse;
	}
	if ((rc = kdc_outbox_voided(ob, id, vid, &voided)) != KDC_OK) {
		fprintf(stderr, "kdc-event: cannot read the outbox %s: %s\n", c->dev.outbox,
		        kdc_outbox_errmsg(ob));
		kdc_event_free(*orig);
		*orig = NULL;
		return EXIT_FAIL;
	}
	if (voided) {
		char vtext[KDC_UUID_STR_LEN];
		kdc_uuid_format(vid, vtext);
		fprintf(stderr, "kdc-event: event %s is voided already on this device (void %s)\n",
		        idtext, vtext);
		goto refuse;
	}
	/* pending or stored: a void goes to the server (a pending event may have
	 * reached it already); a refused one is in no figure (see the callers) */
	return 0;
refuse:
	kdc_event_free(*orig);
	*orig = NULL;
	return EXIT_USAGE;
}

/* The void of orig: its khom and household, member 0, now. */
static void build_void(kdc_event_pb *ev, Kdc__V1__EventVoided *b, const kdc_event_pb *orig,
                       uint8_t id[KDC_UUID_LEN], const char *reason)
{
	kdc__v1__event__init(ev);
	kdc__v1__event_voided__init(b);
	b->target.data = id;
	b->target.len = KDC_UUID_LEN;
	b->reason = (char *)reason;
	ev->khom = orig->khom;
	ev->household = orig->household;
	ev->member = 0;
	ev->body_case = KDC__V1__EVENT__BODY_VOID;
	ev->void_ = b;
}

static int check_reason(const char *reason, int required)
{
	if (!reason && !required)
		return 0;
	if (!reason || !*reason)
		return kdc_usage_error("missing --reason: why, in plain words, e.g. --reason "
		                       "\"recorded for the wrong household\"");
	if (strlen(reason) > KDC_VOID_REASON_MAX)
		return kdc_usage_error("--reason is longer than %d bytes: say it shorter",
		                       KDC_VOID_REASON_MAX);
	return 0;
}

int cmd_void(struct cli *c)
{
	kdc_event_pb ev, *orig = NULL, *evs[1] = { &ev };
	Kdc__V1__EventVoided b;
	const char *labels[1] = { "void" };
	uint8_t id[KDC_UUID_LEN];
	kdc_producer *p = NULL;
	int ret, state;

	if ((ret = check_reason(c->reason, 1)) || (ret = open_producer(c, &p)))
		return ret;
	if ((ret = find_voidable(c, p, id, &orig, &state)) == 0 && state == KDC_OUTBOX_REJECTED) {
		/* the server never stored it: a void would wait there for ever */
		fprintf(stderr, "kdc-event: event %s was refused by the server (see 'kdc-event "
		        "rejected'): it is in no figure, so there is nothing to void; to record it "
		        "correctly, use 'kdc-event amend %s' with the corrected fields\n",
		        c->target, c->target);
		ret = EXIT_USAGE;
	} else if (ret == 0) {
		build_void(&ev, &b, orig, id, c->reason);
		ret = record_together(c, p, evs, labels, 1);
	}
	kdc_event_free(orig);
	kdc_producer_free(p);
	return ret;
}

/* Body storage of the corrected event. */
struct amended {
	Kdc__V1__HouseholdVisited visit;
	Kdc__V1__AccountCreated account;
	Kdc__V1__PaymentMade payment;
	Kdc__V1__ServiceUsed service;
	Kdc__V1__Need needs[KDC_MAX_NEEDS];
	Kdc__V1__BusinessVisited bvisit;
	Kdc__V1__BusinessNeed bneeds[KDC_MAX_BUSINESS_NEEDS];
	Kdc__V1__EinvoiceAdopted einvoice;
	Kdc__V1__BusinessAccountCreated baccount;
};

/* ev = orig with the options given; *changed = how many options were given. */
static int build_amended(struct cli *c, const kdc_event_pb *orig, kdc_event_pb *ev,
                         struct amended *a, int *changed)
{
	int ret, v, kind = kdc_event_kind(orig);
	int person = kind == KDC_KIND_ACCOUNT || kind == KDC_KIND_PAYMENT || kind == KDC_KIND_SERVICE;

	*changed = 0;
	kdc__v1__event__init(ev);
	ev->khom = orig->khom;
	ev->household = orig->household;
	ev->member = orig->member;
	ev->occurred_ms = orig->occurred_ms;
	if (c->khom) {
		if ((ret = require_code(c->khom, "khom", "the corrected khom/ap code")))
			return ret;
		ev->khom = c->khom;
		++*changed;
	}
	if (c->household) {
		if ((ret = require_code(c->household, "household", "the corrected household code")))
			return ret;
		ev->household = c->household;
		++*changed;
	}
	if (c->member >= 0) {
		if (!person)
			return kdc_usage_error("--member: event %s is %s, which is for the whole "
			                       "household or business", c->target,
			                       kind == KDC_KIND_VISIT ? "a visit" : "a business event");
		ev->member = (uint32_t)c->member;
		++*changed;
	}
	if (c->at) {
		if ((ret = parse_at(c->at, c->dev.utc_offset_min, &ev->occurred_ms)) != 0)
			return ret;
		++*changed;
	}
	ev->body_case = orig->body_case;
#define SET_INT(field, value) do { if ((value) >= 0) { field = (__typeof__(field))(value); ++*changed; } } while (0)
#define NOT_FOR(opt, what) do { if (c->opt) return kdc_usage_error("--%s: event %s is %s %s, " \
	"which has no such field", #opt, c->target, kind == KDC_KIND_ACCOUNT ? "an" : "a", what); } while (0)
	switch (kind) {
	case KDC_KIND_VISIT:
		a->visit = *orig->visit;
		NOT_FOR(kind, "visit"); NOT_FOR(purpose, "visit"); NOT_FOR(method, "visit");
		if (c->amount >= 0)
			return kdc_usage_error("--amount: a visit has no amount");
		if (c->outcome) {
			if ((ret = parse_enum(c->outcome, "outcome", "how the visit went",
			                      kdc_outcome_parse, kdc_outcome_name, &v)))
				return ret;
			a->visit.outcome = (Kdc__V1__VisitOutcome)v;
			++*changed;
		}
		SET_INT(a->visit.members, c->members);
		SET_INT(a->visit.members_15plus, c->members_15plus);
		SET_INT(a->visit.smartphones, c->smartphones);
		if (c->needs) {
			size_t n = 0;
			if (*c->needs && (ret = parse_needs(c->needs, a->needs, &n)))
				return ret;
			a->visit.needs = a->needs;
			a->visit.n_needs = n;
			++*changed;
		}
		ev->visit = &a->visit;
		break;
	case KDC_KIND_ACCOUNT:
	case KDC_KIND_SERVICE:
		NOT_FOR(outcome, kdc_kind_name(kind)); NOT_FOR(needs, kdc_kind_name(kind));
		NOT_FOR(purpose, kdc_kind_name(kind)); NOT_FOR(method, kdc_kind_name(kind));
		if (c->members >= 0 || c->members_15plus >= 0 || c->smartphones >= 0 || c->amount >= 0)
			return kdc_usage_error("those options are for visits and payments, not for "
			                       "event %s (%s)", c->target, kdc_kind_name(kind));
		if (kind == KDC_KIND_ACCOUNT) {
			a->account = *orig->account;
			if (c->kind) {
				if ((ret = parse_enum(c->kind, "kind", "the kind of account",
				                      kdc_account_parse, kdc_account_name, &v)))
					return ret;
				a->account.kind = (Kdc__V1__AccountKind)v;
				++*changed;
			}
			ev->account = &a->account;
		} else {
			a->service = *orig->service;
			if (c->kind) {
				if ((ret = parse_enum(c->kind, "kind", "the kind of service",
				                      kdc_service_parse, kdc_service_name, &v)))
					return ret;
				a->service.kind = (Kdc__V1__ServiceKind)v;
				++*changed;
			}
			ev->service = &a->service;
		}
		break;
	case KDC_KIND_PAYMENT:
		a->payment = *orig->payment;
		NOT_FOR(outcome, "payment"); NOT_FOR(needs, "payment"); NOT_FOR(kind, "payment");
		if (c->members >= 0 || c->members_15plus >= 0 || c->smartphones >= 0)
			return kdc_usage_error("--members, --members-15plus and --smartphones are for "
			                       "visits, not for a payment");
		if (c->purpose) {
			if ((ret = parse_enum(c->purpose, "purpose", "what was paid", kdc_purpose_parse,
			                      kdc_purpose_name, &v)))
				return ret;
			a->payment.purpose = (Kdc__V1__PaymentPurpose)v;
			++*changed;
		}
		if (c->method) {
			if ((ret = parse_enum(c->method, "method", "how it was paid", kdc_method_parse,
			                      kdc_method_name, &v)))
				return ret;
			a->payment.method = (Kdc__V1__PaymentMethod)v;
			++*changed;
		}
		SET_INT(a->payment.amount_vnd, c->amount);
		ev->payment = &a->payment;
		break;
	case KDC_KIND_BUSINESS_VISIT:
	case KDC_KIND_EINVOICE:
	case KDC_KIND_BUSINESS_ACCOUNT:
		NOT_FOR(kind, kdc_kind_name(kind)); NOT_FOR(purpose, kdc_kind_name(kind));
		NOT_FOR(method, kdc_kind_name(kind));
		if (c->members >= 0 || c->members_15plus >= 0 || c->smartphones >= 0 || c->amount >= 0)
			return kdc_usage_error("those options are for household visits and payments, not "
			                       "for event %s (%s)", c->target, kdc_kind_name(kind));
		if (kind == KDC_KIND_BUSINESS_VISIT) {
			a->bvisit = *orig->business_visit;
			if (c->outcome) {
				if ((ret = parse_enum(c->outcome, "outcome", "how the visit went",
				                      kdc_outcome_parse, kdc_outcome_name, &v)))
					return ret;
				a->bvisit.outcome = (Kdc__V1__VisitOutcome)v;
				++*changed;
			}
			if (c->needs) {
				size_t n = 0;
				if (*c->needs && (ret = parse_business_needs(c->needs, a->bneeds, &n)))
					return ret;
				a->bvisit.needs = a->bneeds;
				a->bvisit.n_needs = n;
				++*changed;
			}
			ev->business_visit = &a->bvisit;
		} else {
			NOT_FOR(outcome, kdc_kind_name(kind)); NOT_FOR(needs, kdc_kind_name(kind));
			if (kind == KDC_KIND_EINVOICE) {
				a->einvoice = *orig->einvoice;
				ev->einvoice = &a->einvoice;
			} else {
				a->baccount = *orig->business_account;
				ev->business_account = &a->baccount;
			}
		}
		break;
	default:
		return kdc_usage_error("event %s cannot be amended", c->target);
	}
#undef SET_INT
#undef NOT_FOR
	return 0;
}

int cmd_amend(struct cli *c)
{
	kdc_event_pb vev, nev, *orig = NULL, *evs[2] = { &nev, &vev };
	Kdc__V1__EventVoided b;
	struct amended a;
	const char *labels[2] = { "new", "void" };
	uint8_t id[KDC_UUID_LEN];
	kdc_producer *p = NULL;
	int ret, changed, state;

	if ((ret = check_reason(c->reason, 0)) || (ret = open_producer(c, &p)))
		return ret;
	if ((ret = find_voidable(c, p, id, &orig, &state)) != 0)
		goto cleanup;
	if ((ret = build_amended(c, orig, &nev, &a, &changed)) != 0)
		goto cleanup;
	if (changed == 0) {
		ret = kdc_usage_error("nothing to change: give the corrected fields, e.g. "
		                      "kdc-event amend %s --household H0042", c->target);
		goto cleanup;
	}
	/* the corrected household must be one the team's list has (the list
	 * has no businesses: the server checks theirs); the void carries the
	 * original's codes, whatever they were */
	if (!kdc_kind_for_business(kdc_event_kind(&nev)) &&
	    (ret = check_household(c, p, nev.khom, nev.household)) != 0)
		goto cleanup;
	build_void(&vev, &b, orig, id, c->reason ? c->reason : AMEND_REASON);
	/* a refused event was never stored: the corrected one alone, no void
	 * (it would wait on the server for ever) */
	ret = record_together(c, p, evs, labels, state == KDC_OUTBOX_REJECTED ? 1 : 2);
cleanup:
	kdc_event_free(orig);
	kdc_producer_free(p);
	return ret;
}

/* ---- worklist ------------------------------------------------------------------ */

static const char *status_words(int s)
{
	switch (s) {
	case KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_VISITED: return "not visited";
	case KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_HOME: return "nobody at home";
	case KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_DECLINED: return "declined";
	case KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_SURVEYED: return "surveyed";
	case KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_REACHED: return "reached";
	default: return "unknown";
	}
}

static const char *next_words(int n)
{
	switch (n) {
	case KDC__V1__NEXT_STEP__NEXT_STEP_VISIT: return "visit";
	case KDC__V1__NEXT_STEP__NEXT_STEP_REVISIT: return "visit again";
	case KDC__V1__NEXT_STEP__NEXT_STEP_OPEN_ACCOUNT: return "help open a digital account";
	case KDC__V1__NEXT_STEP__NEXT_STEP_PAYMENT_ACCOUNT: return "help open a payment account";
	case KDC__V1__NEXT_STEP__NEXT_STEP_PAY_CASHLESS: return "help pay cashless";
	case KDC__V1__NEXT_STEP__NEXT_STEP_NONE: return "nothing now";
	default: return "-";
	}
}

#define WL_STATUSES 6 /* HouseholdStatus values, UNSPECIFIED included */

struct wl_print {
	int64_t n, by_status[WL_STATUSES];
	int offset_min;
};

/* " (ward time, UTC+07:00)" for the device's utc-offset. */
static void ward_time_note(const struct cli *c, char *buf, size_t len)
{
	char off[16];

	kdc_utc_offset_format(c->dev.utc_offset_min, off, sizeof off);
	snprintf(buf, len, "(ward time, %s)", off);
}

static int print_household(void *ud, const struct kdc_wl_entry *e)
{
	struct wl_print *wp = ud;
	char last[32] = "-", tries[64] = "";

	/* attempts are the "not at home" visits: shown only where there were
	 * some, not as "attempts 0" beside a household that declined */
	if (e->attempts > 0) {
		if (e->last_attempt_ms > 0)
			kdc_time_format_local(e->last_attempt_ms, wp->offset_min, last, sizeof last);
		snprintf(tries, sizeof tries, "attempts %-3lld last attempt %-16s", (long long)e->attempts,
		         last);
	}
	printf("khóm %-4s %-10s %-15s %-42s next: %s%s\n", e->khom, e->household,
	       status_words(e->status), tries, next_words(e->next), e->local ? " (added on this device)" :
	       e->field_added ? " (added in the field)" : "");
	wp->n++;
	if (e->status >= 0 && e->status < WL_STATUSES)
		wp->by_status[e->status]++;
	return 0;
}

int cmd_worklist(struct cli *c)
{
	struct wl_print wp;
	struct kdc_wl_info info;
	kdc_outbox *ob = NULL;
	char err[512], when[32], note[40];
	int rc, ret = 0, status = 0;

	memset(&wp, 0, sizeof wp);
	wp.offset_min = c->dev.utc_offset_min;
	if (c->khom && (ret = require_code(c->khom, "khom", "the khom/ap code")))
		return ret;
	if (c->status && (ret = parse_enum(c->status, "status", "the households' status",
	                                   kdc_status_parse, kdc_status_name, &status)))
		return ret;
	if ((ret = default_outbox(c)) != 0)
		return ret;
	if (kdc_producer_check_conf(&c->dev, 0, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if (kdc_outbox_open(c->dev.outbox, &ob, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event: %s\n", err);
		return EXIT_FAIL;
	}
	if ((rc = kdc_worklist_info(ob, &info)) == KDC_ERR_NOT_FOUND) {
		printf("no worklist has been downloaded to this device yet: run kdc-event sync "
		       "while online\n");
		goto cleanup;
	}
	if (rc != KDC_OK)
		goto fail;
	kdc_time_format_local(info.as_of_ms, c->dev.utc_offset_min, when, sizeof when);
	ward_time_note(c, note, sizeof note);
	printf("team %s's worklist (ward %s), as of %s %s, list %lld\n", info.team, info.ward,
	       when, note, (long long)info.seq);
	if (c->dev.team && *c->dev.team && strcmp(c->dev.team, info.team) != 0)
		printf("note: this device is in team %s now: run kdc-event sync while online to "
		       "get its list\n", c->dev.team);
	if ((rc = kdc_worklist_list(ob, c->khom, status, print_household, &wp)) != KDC_OK)
		goto fail;
	printf("%lld household%s", (long long)wp.n, wp.n == 1 ? "" : "s");
	for (int s = 1; s < WL_STATUSES; s++)
		printf("%s%lld %s", s == 1 ? ": " : ", ", (long long)wp.by_status[s], status_words(s));
	printf("\n");
	goto cleanup;
fail:
	fprintf(stderr, "kdc-event: cannot read the worklist in the outbox %s: %s\n",
	        c->dev.outbox, kdc_outbox_errmsg(ob));
	ret = EXIT_FAIL;
cleanup:
	kdc_outbox_close(ob);
	if (fflush(stdout) != 0)
		ret = EXIT_FAIL;
	return ret;
}

/* ---- history ------------------------------------------------------------------------ */

/* The ids the voids on this device name (outbox and history). */
struct void_targets {
	uint8_t (*ids)[KDC_UUID_LEN];
	size_t n, cap;
	int nomem;
};

static void add_target(struct void_targets *vt, const void *payload, size_t len)
{
	kdc_event_pb *ev = kdc_event_decode(payload, len, NULL);

	if (ev && ev->body_case == KDC__V1__EVENT__BODY_VOID && ev->void_ &&
	    ev->void_->target.len == KDC_UUID_LEN) {
		if (vt->n == vt->cap) {
			size_t cap = vt->cap ? vt->cap * 2 : 16;
			void *ids = realloc(vt->ids, cap * sizeof *vt->ids);
			if (!ids) {
				vt->nomem = 1;
				kdc_event_free(ev);
				return;
			}
			vt->ids = ids;
			vt->cap = cap;
		}
		memcpy(vt->ids[vt->n++], ev->void_->target.data, KDC_UUID_LEN);
	}
	kdc_event_free(ev);
}

static int collect_history_void(void *ud, const struct kdc_history_row *row)
{
	if (row->kind == KDC_KIND_VOID)
		add_target(ud, row->payload, row->payload_len);
	return 0;
}

static int collect_outbox_void(void *ud, const struct kdc_outbox_row *row)
{
	if (row->kind == KDC_KIND_VOID)
		add_target(ud, row->payload, row->payload_len);
	return 0;
}

static int is_target(const struct void_targets *vt, const uint8_t id[KDC_UUID_LEN])
{
	for (size_t i = 0; i < vt->n; i++)
		if (memcmp(vt->ids[i], id, KDC_UUID_LEN) == 0)
			return 1;
	return 0;
}

struct hist_print {
	const struct void_targets *vt;
	int offset_min;
	int64_t n;
};

/* The last 12 hex digits of an id: what `void` and `amend` take. */
static void short_id(const uint8_t id[KDC_UUID_LEN], char out[13])
{
	char text[KDC_UUID_STR_LEN];

	kdc_uuid_format(id, text);
	memcpy(out, text + KDC_UUID_STR_LEN - 13, 13);
}

static int print_stored(void *ud, const struct kdc_history_row *row)
{
	struct hist_print *hp = ud;
	const char *kind = kdc_kind_name(row->kind);
	char sid[13], when[32], who[32] = "", line[512];
	size_t o;

	short_id(row->id, sid);
	kdc_time_format_local(row->occurred_ms, hp->offset_min, when, sizeof when);
	if (row->member > 0)
		snprintf(who, sizeof who, "member %lld", (long long)row->member);
	snprintf(line, sizeof line, "%s  %s  %-15s khóm %-4s %-10s %-9s", sid, when,
	         kind ? kind : "?", row->khom, row->household, who);
	o = strlen(line);
	if (row->kind == KDC_KIND_VOID) {
		kdc_event_pb *ev = kdc_event_decode(row->payload, row->payload_len, NULL);
		if (ev && ev->body_case == KDC__V1__EVENT__BODY_VOID && ev->void_ &&
		    ev->void_->target.len == KDC_UUID_LEN) {
			short_id(ev->void_->target.data, sid);
			snprintf(line + o, sizeof line - o, " voids %s: %s", sid,
			         ev->void_->reason ? ev->void_->reason : "");
		}
		kdc_event_free(ev);
	} else if (is_target(hp->vt, row->id)) {
		snprintf(line + o, sizeof line - o, " (voided)");
	}
	o = strlen(line);
	while (o > 0 && line[o - 1] == ' ')
		line[--o] = '\0';
	printf("%s\n", line);
	hp->n++;
	return 0;
}

int cmd_history(struct cli *c)
{
	struct void_targets vt = { NULL, 0, 0, 0 };
	struct hist_print hp = { &vt, c->dev.utc_offset_min, 0 };
	kdc_outbox *ob = NULL;
	char err[512], note[40];
	int64_t total = 0, pending = 0;
	int ret = 0, days;

	if ((c->khom && (ret = require_code(c->khom, "khom", "the khom/ap code"))) ||
	    (c->household && (ret = require_code(c->household, "household", "the household code"))))
		return ret;
	if ((ret = default_outbox(c)) != 0)
		return ret;
	if (kdc_producer_check_conf(&c->dev, 0, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if (kdc_outbox_open(c->dev.outbox, &ob, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event: %s\n", err);
		return EXIT_FAIL;
	}
	days = (int)c->dev.history_days;
	kdc_outbox_set_history_days(ob, days);
	if (kdc_outbox_purge_history(ob, kdc_now_ms(), NULL) != KDC_OK ||
	    kdc_history_list(ob, NULL, NULL, 0, collect_history_void, &vt) != KDC_OK ||
	    kdc_outbox_list(ob, KDC_OUTBOX_PENDING, collect_outbox_void, &vt) != KDC_OK ||
	    kdc_history_count(ob, &total) != KDC_OK ||
	    kdc_outbox_count(ob, KDC_OUTBOX_PENDING, &pending) != KDC_OK)
		goto fail;
	if (vt.nomem) {
		fprintf(stderr, "kdc-event: out of memory\n");
		ret = EXIT_FAIL;
		goto cleanup;
	}
	ward_time_note(c, note, sizeof note);
	if (days == 0)
		printf("this device keeps no stored events (history-days = 0)\n");
	else
		printf("events the server has stored, newest first %s; this device keeps "
		       "them %d day%s:\n", note, days, days == 1 ? "" : "s");
	if (kdc_history_list(ob, c->khom, c->household, c->limit, print_stored, &hp) != KDC_OK)
		goto fail;
	if (c->khom || c->household || hp.n < total)
		printf("%lld shown of %lld stored event%s kept here\n", (long long)hp.n,
		       (long long)total, total == 1 ? "" : "s");
	else
		printf("%lld stored event%s\n", (long long)hp.n, hp.n == 1 ? "" : "s");
	if (pending > 0)
		printf("%lld event%s not stored yet: see 'kdc-event pending'\n", (long long)pending,
		       pending == 1 ? "" : "s");
	goto cleanup;
fail:
	fprintf(stderr, "kdc-event: cannot read the outbox %s: %s\n", c->dev.outbox,
	        kdc_outbox_errmsg(ob));
	ret = EXIT_FAIL;
cleanup:
	free(vt.ids);
	kdc_outbox_close(ob);
	if (fflush(stdout) != 0)
		ret = EXIT_FAIL;
	return ret;
}

/* ---- what to do about a refusal --------------------------------------------------- */

void rejected_hint(struct cli *c, kdc_outbox *ob, const struct kdc_outbox_row *row)
{
	kdc_event_pb *ev;
	const char *k, *h;
	char id[KDC_UUID_STR_LEN], near[KDC_CODE_MAX + 1] = "";
	int listed;

	if (row->reject_reason != KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_HOUSEHOLD &&
	    row->reject_reason != KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED &&
	    row->reject_reason != KDC__V1__REJECT_REASON__REJECT_REASON_RETIRED_HOUSEHOLD)
		return;
	ev = kdc_event_decode(row->payload, row->payload_len, NULL);
	k = ev && ev->khom ? ev->khom : "?";
	h = ev && ev->household ? ev->household : "?";
	kdc_uuid_format(row->id, id);
	switch (row->reject_reason) {
	case KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_HOUSEHOLD:
		/* the nearest code of the team's list, when the last sync stored
		 * the register's (a failure only loses the suggestion) */
		if (ev && ev->khom && ev->household &&
		    kdc_worklist_nearest(ob, c->dev.ward, c->dev.team, k, h, &listed, near) != KDC_OK)
			near[0] = '\0';
		printf("  unknown household: %s of khóm %s is not in the ward's register", h, k);
		if (*near)
			printf(": did you mean %s? If so, correct it: kdc-event amend %s --household %s.",
			       near, id, near);
		else
			printf(". If the code is mistyped, correct it: kdc-event amend %s --household CODE.",
			       id);
		printf(" If the household is new, ask the ward office to add it to the register, or "
		       "record it as a new household: kdc-event household add --khom %s --household "
		       "%s, and record the event again\n", k, h);
		break;
	case KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED:
		printf("  void refused: the server cannot void that event (see above why): only an "
		       "activity of your own team can be voided, with its own khóm and household; "
		       "ask the ward office, which can void any event\n");
		break;
	default:
		printf("  retired household: the ward has retired %s of khóm %s from its register. "
		       "Check the code with the ward office; if the household lives there again, "
		       "the ward office can bring it back (register add)\n", h, k);
		break;
	}
	kdc_event_free(ev);
}
