/* kdc-event: what a team member runs on a phone or laptop. Records a visit,
 * account, payment or service into the device's outbox (no network needed),
 * lists what is pending or was refused, and syncs with the ward server, which
 * also brings the team's worklist. What the server stored stays listed for a
 * while (`history`) so that it can still be voided or amended. Households added in the field, voids,
 * amendments and the worklist listing are in kdc-event-fix.c, `bulk` in
 * kdc-event-bulk.c.
 *
 *   kdc-event [DEVICE SETTINGS] COMMAND [OPTIONS]
 *
 * Exit status: 0 done, 1 the outbox failed, 2 usage or configuration error,
 * 3 sync timed out with events still pending, 10-19 sync gave up on the broker
 * for the cause kdc_err_exit_status names (host not found, TLS, login, topic
 * refused, ...), 130 interrupted. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "kdc-event.h"
#include "outbox.h"
#include "producer.h"
#include "worklist.h"


static volatile sig_atomic_t stop_flag;

/* ---- option tables ---------------------------------------------------------- */

#define DEVICE_ROWS \
	KDC_OPT(struct cli, "config", KDC_OPT_STR, config, 0, 0, NULL, "read device settings from this file (key = value lines)"), \
	KDC_PRODUCER_OPTS(struct cli, dev), \
	KDC_OPT(struct cli, "log-level", KDC_OPT_STR, log_level, 0, 0, "warning", "debug, info, notice, warning or error"), \
	KDC_OPT(struct cli, "help", KDC_OPT_BOOL, help, 0, 0, NULL, "show help")

#define KHOM_ROW KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "khom/ap code, e.g. 6 (required)")
#define HOUSEHOLD_ROW KDC_OPT(struct cli, "household", KDC_OPT_STR, household, 0, 0, NULL, "household code, e.g. H001 (required; a code, never a name)")
#define MEMBER_ROW KDC_OPT(struct cli, "member", KDC_OPT_INT, member, 1, KDC_MAX_MEMBERS, NULL, "the person's index in the household: 1, 2, ... (required)")
#define AT_ROW KDC_OPT(struct cli, "at", KDC_OPT_STR, at, 0, 0, NULL, "when it happened (default: now): 2026-11-27T08:30 in ward time (--utc-offset), 2026-11-27T08:30+07:00, 2026-11-27T01:30Z, or a date alone, 2026-11-27, meaning noon ward time")

#define VISIT_ROWS KHOM_ROW, HOUSEHOLD_ROW, \
	KDC_OPT(struct cli, "outcome", KDC_OPT_STR, outcome, 0, 0, NULL, "surveyed, not_home or declined (required)"), \
	KDC_OPT(struct cli, "members", KDC_OPT_INT, members, 0, KDC_MAX_MEMBERS, NULL, "people living in the household"), \
	KDC_OPT(struct cli, "members-15plus", KDC_OPT_INT, members_15plus, 0, KDC_MAX_MEMBERS, NULL, "of whom aged 15 or more"), \
	KDC_OPT(struct cli, "smartphones", KDC_OPT_INT, smartphones, 0, KDC_MAX_MEMBERS, NULL, "smartphones in the household"), \
	KDC_OPT(struct cli, "needs", KDC_OPT_STR, needs, 0, 0, NULL, "needs expressed, comma-separated: install_app, public_service_account, vneid, payment_account, cashless_bills, online_procedures, medical_booking, digital_skills"), \
	AT_ROW
#define ACCOUNT_ROWS KHOM_ROW, HOUSEHOLD_ROW, MEMBER_ROW, \
	KDC_OPT(struct cli, "kind", KDC_OPT_STR, kind, 0, 0, NULL, "public_service_portal, vneid_level2, provincial_app or payment (required)"), \
	AT_ROW
#define PAYMENT_ROWS KHOM_ROW, HOUSEHOLD_ROW, MEMBER_ROW, \
	KDC_OPT(struct cli, "purpose", KDC_OPT_STR, purpose, 0, 0, NULL, "electricity, water, telecom, public_fee, school_fee, health, shopping or other (required)"), \
	KDC_OPT(struct cli, "method", KDC_OPT_STR, method, 0, 0, NULL, "bank_transfer, qr_code, ewallet or card (required)"), \
	KDC_OPT(struct cli, "amount", KDC_OPT_INT, amount, 0, KDC_MAX_AMOUNT_VND, NULL, "amount in VND (optional)"), \
	AT_ROW
#define SERVICE_ROWS KHOM_ROW, HOUSEHOLD_ROW, MEMBER_ROW, \
	KDC_OPT(struct cli, "kind", KDC_OPT_STR, kind, 0, 0, NULL, "birth_registration, marital_status, medical_booking, field_report or other (required)"), \
	KDC_OPT(struct cli, "vneid", KDC_OPT_BOOL, vneid, 0, 0, "false", "the person signed in with VNeID level 2 for this service"), \
	AT_ROW
#define CODE_ROW KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "khom/ap code of the business, e.g. 6 (required)"), \
	KDC_OPT(struct cli, "code", KDC_OPT_STR, household, 0, 0, NULL, "the business's code in the register, e.g. B0001 (required; a code, never a name)")
#define BVISIT_ROWS CODE_ROW, \
	KDC_OPT(struct cli, "outcome", KDC_OPT_STR, outcome, 0, 0, NULL, "surveyed, not_home or declined (required)"), \
	KDC_OPT(struct cli, "einvoice", KDC_OPT_BOOL, einvoice, 0, 0, "false", "it issues electronic invoices already"), \
	KDC_OPT(struct cli, "online-services", KDC_OPT_BOOL, online_services, 0, 0, "false", "it uses online public services"), \
	KDC_OPT(struct cli, "needs", KDC_OPT_STR, needs, 0, 0, NULL, "needs expressed, comma-separated: einvoice, eid_account, online_procedures, cashless_payment, digital_skills"), \
	AT_ROW
#define BUSINESS_ROWS CODE_ROW, AT_ROW
#define SYNC_ROWS \
	KDC_OPT(struct cli, "timeout", KDC_OPT_INT, timeout, 1, 86400 * 7, "60", "give up after this many seconds (exit status 3)")
#define BULK_ROWS \
	KDC_OPT(struct cli, "count", KDC_OPT_INT, count, 1, 100000000, NULL, "how many events to record (required)"), \
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, "6", "khom/ap code of the households"), \
	KDC_OPT(struct cli, "households", KDC_OPT_INT, households, 1, 9999, "186", "households H0001.. to spread the events over"), \
	KDC_OPT(struct cli, "days", KDC_OPT_INT, days, 0, 700, "30", "event times spread over this many past days (0 = now)"), \
	KDC_OPT(struct cli, "seed", KDC_OPT_INT, seed, 0, 4294967295LL, "1", "random seed (same seed, same events apart from ids and times)")

#define HOUSEHOLD_ADD_ROWS KHOM_ROW, HOUSEHOLD_ROW, \
	KDC_OPT(struct cli, "people-15plus", KDC_OPT_INT, people_15plus, 0, KDC_MAX_MEMBERS, NULL, "people aged 15 or more living there (optional)"), \
	KDC_OPT(struct cli, "business", KDC_OPT_BOOL, business, 0, 0, "false", "the code is a business's (household business or enterprise), not a household's")
#define REASON_ROW(req) KDC_OPT(struct cli, "reason", KDC_OPT_STR, reason, 0, 0, NULL, "why, in plain words (" req "at most 200 bytes)")
#define AMEND_ROWS \
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "the corrected khom/ap code"), \
	KDC_OPT(struct cli, "household", KDC_OPT_STR, household, 0, 0, NULL, "the corrected household code"), \
	KDC_OPT(struct cli, "code", KDC_OPT_STR, household, 0, 0, NULL, "business events: the corrected business code"), \
	KDC_OPT(struct cli, "member", KDC_OPT_INT, member, 1, KDC_MAX_MEMBERS, NULL, "the corrected member index (account, payment, service)"), \
	KDC_OPT(struct cli, "outcome", KDC_OPT_STR, outcome, 0, 0, NULL, "visit or business visit: surveyed, not_home or declined"), \
	KDC_OPT(struct cli, "members", KDC_OPT_INT, members, 0, KDC_MAX_MEMBERS, NULL, "visit: people living in the household"), \
	KDC_OPT(struct cli, "members-15plus", KDC_OPT_INT, members_15plus, 0, KDC_MAX_MEMBERS, NULL, "visit: of whom aged 15 or more"), \
	KDC_OPT(struct cli, "smartphones", KDC_OPT_INT, smartphones, 0, KDC_MAX_MEMBERS, NULL, "visit: smartphones in the household"), \
	KDC_OPT(struct cli, "needs", KDC_OPT_STR, needs, 0, 0, NULL, "visit or business visit: the needs, comma-separated (replaces them; '' for none)"), \
	KDC_OPT(struct cli, "kind", KDC_OPT_STR, kind, 0, 0, NULL, "account or service: the corrected kind"), \
	KDC_OPT(struct cli, "purpose", KDC_OPT_STR, purpose, 0, 0, NULL, "payment: the corrected purpose"), \
	KDC_OPT(struct cli, "method", KDC_OPT_STR, method, 0, 0, NULL, "payment: the corrected method"), \
	KDC_OPT(struct cli, "amount", KDC_OPT_INT, amount, 0, KDC_MAX_AMOUNT_VND, NULL, "payment: the corrected amount in VND"), \
	KDC_OPT(struct cli, "at", KDC_OPT_STR, at, 0, 0, NULL, "the corrected time (default: the original's)"), \
	REASON_ROW("optional, default 'amended'; ")
#define WORKLIST_ROWS \
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "only this khom/ap"), \
	KDC_OPT(struct cli, "status", KDC_OPT_STR, status, 0, 0, NULL, "only this status: not_visited, not_home, declined, surveyed or reached")

#define HISTORY_ROWS \
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "only this khom/ap"), \
	KDC_OPT(struct cli, "household", KDC_OPT_STR, household, 0, 0, NULL, "only this household"), \
	KDC_OPT(struct cli, "limit", KDC_OPT_INT, limit, 0, 100000000, "50", "show at most this many, newest first (0 = all)")

#define END KDC_OPT_END
static const struct kdc_opt device_opts[] = { DEVICE_ROWS, END };
static const struct kdc_opt visit_own[] = { VISIT_ROWS, END };
static const struct kdc_opt visit_opts[] = { VISIT_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt account_own[] = { ACCOUNT_ROWS, END };
static const struct kdc_opt account_opts[] = { ACCOUNT_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt payment_own[] = { PAYMENT_ROWS, END };
static const struct kdc_opt payment_opts[] = { PAYMENT_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt service_own[] = { SERVICE_ROWS, END };
static const struct kdc_opt service_opts[] = { SERVICE_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt bvisit_own[] = { BVISIT_ROWS, END };
static const struct kdc_opt bvisit_opts[] = { BVISIT_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt business_own[] = { BUSINESS_ROWS, END };
static const struct kdc_opt business_opts[] = { BUSINESS_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt sync_own[] = { SYNC_ROWS, END };
static const struct kdc_opt sync_opts[] = { SYNC_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt none_own[] = { END };
static const struct kdc_opt bulk_own[] = { BULK_ROWS, END };
static const struct kdc_opt bulk_opts[] = { BULK_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt household_own[] = { HOUSEHOLD_ADD_ROWS, END };
static const struct kdc_opt household_opts[] = { HOUSEHOLD_ADD_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt void_own[] = { REASON_ROW("required; "), END };
static const struct kdc_opt void_opts[] = { REASON_ROW("required; "), DEVICE_ROWS, END };
static const struct kdc_opt amend_own[] = { AMEND_ROWS, END };
static const struct kdc_opt amend_opts[] = { AMEND_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt worklist_own[] = { WORKLIST_ROWS, END };
static const struct kdc_opt worklist_opts[] = { WORKLIST_ROWS, DEVICE_ROWS, END };
static const struct kdc_opt history_own[] = { HISTORY_ROWS, END };
static const struct kdc_opt history_opts[] = { HISTORY_ROWS, DEVICE_ROWS, END };

struct command {
	const char *name;
	const char *summary;
	const char *usage;
	const struct kdc_opt *own, *opts;
	int (*run)(struct cli *c);
	const char *word;   /* the word after the command: "ID" (an event id), "add", or NULL */
};

/* ---- small helpers ------------------------------------------------------------ */

/* "a, b or c" from a name function over 1..max. */
void list_names(char *buf, size_t len, const char *(*name)(int))
{
	size_t o = 0;
	int n = 0;

	buf[0] = '\0';
	while (name(n + 1))
		n++;
	for (int i = 1; i <= n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i == 1 ? "" : i == n ? " or " : ", ", name(i));
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* Parses an enum option; on failure explains which values exist. */
int parse_enum(const char *value, const char *opt, const char *what,
                      int (*parse)(const char *), const char *(*name)(int), int *out)
{
	char valid[512];

	list_names(valid, sizeof valid, name);
	if (!value)
		return kdc_usage_error("missing --%s: %s, one of %s", opt, what, valid);
	if ((*out = parse(value)) < 0)
		return kdc_usage_error("unknown --%s value '%s' (%s): use %s", opt, value,
		        what, valid);
	return 0;
}

int require_code(const char *value, const char *opt, const char *what)
{
	if (!value || !*value)
		return kdc_usage_error("missing --%s: %s", opt, what);
	if (!kdc_code_valid(value))
		return kdc_usage_error("--%s '%s' is not a valid code: use 1-32 letters, "
		        "digits, '_' or '-' (no spaces, no names)", opt, value);
	return 0;
}

int parse_at(const char *at, int offset_min, int64_t *ms)
{
	char err[512];

	*ms = 0; /* now */
	if (at && kdc_parse_time(at, offset_min, ms, err, sizeof err) != KDC_OK)
		return kdc_usage_error("--at %s", err);
	return 0;
}

/* A config without 'outbox =' (a team member's laptop or phone): the outbox
 * goes to the user's data folder, made as needed. */
int default_outbox(struct cli *c)
{
	char err[512];

	if (c->dev.outbox && *c->dev.outbox)
		return 0;
	free(c->dev.outbox);
	c->dev.outbox = NULL;
	if (kdc_outbox_default_path(c->dev.device, &c->dev.outbox, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	return 0;
}

int open_producer(struct cli *c, kdc_producer **p)
{
	char err[512];
	int ret;

	if ((ret = default_outbox(c)) != 0)
		return ret;
	if (kdc_producer_check_conf(&c->dev, 1, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if (!(*p = kdc_producer_new(&c->dev, err, sizeof err))) {
		fprintf(stderr, "kdc-event: %s\n", err);
		return EXIT_FAIL;
	}
	return 0;
}

int record_event(struct cli *c, kdc_event_pb *ev, const char *what, int on_list)
{
	struct kdc_verdict v;
	uint8_t id[KDC_UUID_LEN];
	char idtext[KDC_UUID_STR_LEN];
	kdc_producer *p = NULL;
	int rc, ret;

	if ((ret = open_producer(c, &p)) != 0)
		return ret;
	if (on_list && (ret = check_household(c, p, ev->khom, ev->household)) != 0) {
		kdc_producer_free(p);
		return ret;
	}
	rc = kdc_producer_record(p, ev, id, &v);
	if (rc == KDC_ERR_INVAL && c->at &&
	    v.reason == KDC__V1__REJECT_REASON__REJECT_REASON_CLOCK_SKEW) {
		fprintf(stderr, "kdc-event: --at %s is outside what the server accepts: at most "
		        "two years ago and at most a day ahead\n", c->at);
		ret = EXIT_USAGE;
	} else if (rc == KDC_ERR_INVAL) {
		fprintf(stderr, "kdc-event: this %s cannot be recorded: %s\n", what, v.detail);
		ret = EXIT_USAGE;
	} else if (rc != KDC_OK) {
		fprintf(stderr, "kdc-event: cannot write to the outbox %s: %s (%s)\n",
		        c->dev.outbox, kdc_strerror(rc), kdc_outbox_errmsg(kdc_producer_outbox(p)));
		ret = EXIT_FAIL;
	} else {
		kdc_uuid_format(id, idtext);
		printf("%s\n", idtext);
		ret = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
	}
	kdc_producer_free(p);
	return ret;
}

/* ---- record commands ------------------------------------------------------------- */

static int record(struct cli *c, kdc_event_pb *ev, const char *what)
{
	return record_event(c, ev, what, 1);
}

int common_fields(struct cli *c, kdc_event_pb *ev, int person)
{
	int ret;

	if ((ret = require_code(c->khom, "khom", "the khom/ap code, e.g. --khom 6")) ||
	    (ret = require_code(c->household, "household", "the household code, e.g. --household H001")))
		return ret;
	if (person && c->member == 0)
		return kdc_usage_error("missing --member: the person's index in the household (1, 2, ...)");
	if ((ret = parse_at(c->at, c->dev.utc_offset_min, &ev->occurred_ms)) != 0)
		return ret;
	ev->khom = c->khom;
	ev->household = c->household;
	ev->member = person ? (uint32_t)c->member : 0;
	return 0;
}

int check_household(struct cli *c, kdc_producer *p, const char *khom, const char *household)
{
	char msg[512];
	int rc = kdc_worklist_check(kdc_producer_outbox(p), c->dev.ward, c->dev.team, khom,
	                            household, msg, sizeof msg);

	if (rc == KDC_OK)
		return 0;
	if (rc == KDC_ERR_NOT_FOUND) {
		fprintf(stderr, "kdc-event: %s\n", msg);
		return EXIT_USAGE;
	}
	fprintf(stderr, "kdc-event: cannot read the worklist in the outbox %s: %s\n",
	        c->dev.outbox, rc == KDC_ERR_NOMEM ? msg : kdc_outbox_errmsg(kdc_producer_outbox(p)));
	return EXIT_FAIL;
}

static int cmd_visit(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__HouseholdVisited b = KDC__V1__HOUSEHOLD_VISITED__INIT;
	Kdc__V1__Need needs[KDC_MAX_NEEDS];
	int ret, v;

	if ((ret = common_fields(c, &ev, 0)) ||
	    (ret = parse_enum(c->outcome, "outcome", "how the visit went", kdc_outcome_parse,
	                      kdc_outcome_name, &v)))
		return ret;
	b.outcome = (Kdc__V1__VisitOutcome)v;
	b.members = (uint32_t)c->members;
	b.members_15plus = (uint32_t)c->members_15plus;
	b.smartphones = (uint32_t)c->smartphones;
	if (c->needs && *c->needs) {
		if ((ret = parse_needs(c->needs, needs, &b.n_needs)) != 0)
			return ret;
		b.needs = needs;
	}
	ev.body_case = KDC__V1__EVENT__BODY_VISIT;
	ev.visit = &b;
	return record(c, &ev, "visit");
}

static int cmd_account(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__AccountCreated b = KDC__V1__ACCOUNT_CREATED__INIT;
	int ret, v;

	if ((ret = common_fields(c, &ev, 1)) ||
	    (ret = parse_enum(c->kind, "kind", "the kind of account", kdc_account_parse,
	                      kdc_account_name, &v)))
		return ret;
	b.kind = (Kdc__V1__AccountKind)v;
	ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
	ev.account = &b;
	return record(c, &ev, "account");
}

static int cmd_payment(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__PaymentMade b = KDC__V1__PAYMENT_MADE__INIT;
	int ret, purpose, method;

	if ((ret = common_fields(c, &ev, 1)) ||
	    (ret = parse_enum(c->purpose, "purpose", "what was paid", kdc_purpose_parse,
	                      kdc_purpose_name, &purpose)) ||
	    (ret = parse_enum(c->method, "method", "how it was paid", kdc_method_parse,
	                      kdc_method_name, &method)))
		return ret;
	b.purpose = (Kdc__V1__PaymentPurpose)purpose;
	b.method = (Kdc__V1__PaymentMethod)method;
	b.amount_vnd = c->amount;
	ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
	ev.payment = &b;
	return record(c, &ev, "payment");
}

static int cmd_service(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__ServiceUsed b = KDC__V1__SERVICE_USED__INIT;
	int ret, v;

	if ((ret = common_fields(c, &ev, 1)) ||
	    (ret = parse_enum(c->kind, "kind", "the kind of service", kdc_service_parse,
	                      kdc_service_name, &v)))
		return ret;
	b.kind = (Kdc__V1__ServiceKind)v;
	b.vneid_level2 = c->vneid != 0;
	ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
	ev.service = &b;
	return record(c, &ev, "service");
}

/* ---- listings ----------------------------------------------------------------- */

struct listing {
	struct cli *c;
	kdc_outbox *ob;
	int64_t n;
};

static int print_row(void *ud, const struct kdc_outbox_row *row)
{
	struct listing *l = ud;
	char id[KDC_UUID_STR_LEN], when[32];

	kdc_uuid_format(row->id, id);
	kdc_time_format(row->occurred_ms, when, sizeof when);
	if (row->state == KDC_OUTBOX_REJECTED) {
		printf("%s %lld %s %s %s: %s\n", id, (long long)row->seq, kdc_kind_name(row->kind),
		       when, kdc_reason_name(row->reject_reason), row->reject_detail);
		rejected_hint(l->c, l->ob, row);
	} else
		printf("%s %lld %s %s\n", id, (long long)row->seq, kdc_kind_name(row->kind), when);
	l->n++;
	return 0;
}

static int list_state(struct cli *c, int state, const char *label)
{
	kdc_outbox *ob = NULL;
	struct listing l = { c, NULL, 0 };
	char err[512];
	int rc, ret = 0;

	if ((ret = default_outbox(c)) != 0)
		return ret;
	if (kdc_producer_check_conf(&c->dev, 0, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if (kdc_outbox_open(c->dev.outbox, &ob, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event: %s\n", err);
		return EXIT_FAIL;
	}
	l.ob = ob;
	if ((rc = kdc_outbox_list(ob, state, print_row, &l)) != KDC_OK) {
		fprintf(stderr, "kdc-event: cannot read the outbox %s: %s\n", c->dev.outbox,
		        kdc_outbox_errmsg(ob));
		ret = EXIT_FAIL;
	} else {
		printf("%lld %s\n", (long long)l.n, label);
	}
	kdc_outbox_close(ob);
	if (fflush(stdout) != 0)
		ret = EXIT_FAIL;
	return ret;
}

static int cmd_pending(struct cli *c) { return list_state(c, KDC_OUTBOX_PENDING, "pending"); }
static int cmd_rejected(struct cli *c) { return list_state(c, KDC_OUTBOX_REJECTED, "rejected"); }

/* ---- sync ---------------------------------------------------------------------------- */

struct sync_view {
	int tty;
	const char *broker;
	char last[160];
	int64_t last_line_ms;
	int wrote;
};

static void sync_line(const struct sync_view *sv, const struct kdc_producer_stats *s,
                      char *line, size_t len)
{
	snprintf(line, len, "sync: sent %lld, receipted %lld, pending %lld%s%s",
	         (long long)s->published, (long long)(s->committed + s->rejected),
	         (long long)(s->pending < 0 ? 0 : s->pending),
	         s->connected ? "" : ", connecting to ", s->connected ? "" : sv->broker);
}

static void sync_progress(void *ud, const struct kdc_producer_stats *s)
{
	struct sync_view *sv = ud;
	char line[160];
	int64_t now = kdc_mono_ms();

	sync_line(sv, s, line, sizeof line);
	if (sv->tty) {
		fprintf(stderr, "\r%s\033[K", line);
		sv->wrote = 1;
	} else if (strcmp(line, sv->last) != 0 && now - sv->last_line_ms >= 1000) {
		/* a log file gets a line a second at most, and only on change */
		fprintf(stderr, "%s\n", line);
		sv->last_line_ms = now;
	} else {
		return;
	}
	snprintf(sv->last, sizeof sv->last, "%s", line);
}

static int cmd_sync(struct cli *c)
{
	struct sync_view sv = { isatty(STDERR_FILENO), c->dev.mqtt.broker, "", 0, 0 };
	struct kdc_producer_stats s;
	kdc_producer *p = NULL;
	int64_t pending = 0, rejected = 0;
	char err[512];
	int rc, ret;

	if ((ret = open_producer(c, &p)) != 0)
		return ret;
	kdc_producer_want_worklist(p);
	if (kdc_producer_connect(p, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event: %s\n", err);
		kdc_producer_free(p);
		return EXIT_USAGE;
	}
	kdc_prog_on_stop(&stop_flag, 0);

	rc = kdc_producer_sync(p, c->timeout * 1000, &stop_flag, sync_progress, &sv);
	kdc_producer_stats(p, &s);
	if (sv.tty && sv.wrote) {
		fputc('\n', stderr);
	} else if (!sv.tty) {
		char line[160];
		sync_line(&sv, &s, line, sizeof line);
		if (strcmp(line, sv.last) != 0) /* the final state, whatever the pace */
			fprintf(stderr, "%s\n", line);
	}
	if (rc == KDC_OK || rc == KDC_ERR_TIMEOUT || kdc_err_exit_status(rc)) {
		if (kdc_producer_pending(p, &pending) != KDC_OK ||
		    kdc_outbox_count(kdc_producer_outbox(p), KDC_OUTBOX_REJECTED, &rejected) != KDC_OK)
			rc = KDC_ERR_DB;
	}
	/* the worklist first: the outcome of the sync is the line that ends it */
	switch (kdc_producer_worklist_state(p)) {
	case KDC_PRODUCER_WORKLIST_STORED:
		fprintf(stderr, "sync: the team's worklist is updated: see 'kdc-event worklist'\n");
		break;
	case KDC_PRODUCER_WORKLIST_SAME:
		fprintf(stderr, "sync: the team's worklist has not changed\n");
		break;
	case KDC_PRODUCER_WORKLIST_NOTHING:
		/* mosquitto grants a subscription its ACL then filters: no telling */
		fprintf(stderr, "sync: no worklist came for team %s: the ward server publishes none "
		        "yet, or the broker does not let this device read it\n", c->dev.team);
		break;
	case KDC_PRODUCER_WORKLIST_REFUSED:
		fprintf(stderr, "sync: the broker does not let this device read team %s's worklist "
		        "(ask the ward's IT officer to update the device accounts)\n", c->dev.team);
		break;
	case KDC_PRODUCER_WORKLIST_BAD:
		fprintf(stderr, "sync: the worklist that came could not be read or stored: the "
		        "stored one is kept (see the log)\n");
		break;
	default:
		if (rc == KDC_OK)
			fprintf(stderr, "sync: the team's worklist did not come this time: the stored "
			        "one is kept\n");
		break;
	}
	if (rc == KDC_OK) {
		fprintf(stderr, "sync: done, nothing pending (%lld sent, %lld receipted)",
		        (long long)s.published, (long long)(s.committed + s.rejected));
		if (pending > 0)
			fprintf(stderr, "; %lld event(s) recorded during the sync go with the next one",
			        (long long)pending);
		fputc('\n', stderr);
		ret = 0;
	} else if (rc == KDC_ERR_TIMEOUT) {
		if (!stop_flag && s.connects > 0 && s.published > 0 && s.committed + s.rejected == 0)
			/* mosquitto acknowledges a 3.1.1 publish its ACL refuses, and drops it */
			fprintf(stderr, "sync: no receipt came: is kdc-aggregator running on the server? "
			        "Under MQTT 3.1.1 the broker also drops events on a topic it refuses "
			        "without saying so: check ward (%s), team (%s) and device (%s) in the "
			        "device config\n", c->dev.ward, c->dev.team, c->dev.device);
		if (stop_flag)
			fprintf(stderr, "sync: interrupted");
		else
			fprintf(stderr, "sync: timed out after %lld s", c->timeout);
		fprintf(stderr, " with %lld event(s) still pending; they stay in the outbox: "
		        "run sync again when the connection is better\n", (long long)pending);
		if (!s.connected && s.connects == 0)
			fprintf(stderr, "sync: could not reach the broker %s\n", c->dev.mqtt.broker);

		ret = stop_flag ? EXIT_INTERRUPTED : EXIT_TIMEOUT;
	} else if (kdc_err_exit_status(rc)) {
		char why[768];
		kdc_producer_cause(p, why, sizeof why);
		fprintf(stderr, "sync: gave up with %lld event(s) still pending (they stay in the "
		        "outbox): %s\n", (long long)pending, *why ? why : kdc_strerror(rc));
		ret = kdc_err_exit_status(rc);
	} else {
		fprintf(stderr, "kdc-event: sync failed: %s (%s)\n", kdc_strerror(rc),
		        kdc_outbox_errmsg(kdc_producer_outbox(p)));
		ret = EXIT_FAIL;
	}
	if (rejected > 0)
		fprintf(stderr, "sync: %lld event(s) were refused by the server: see "
		        "'kdc-event rejected'\n", (long long)rejected);
	kdc_producer_free(p);
	return ret;
}

/* ---- main ------------------------------------------------------------------------ */

static const struct command commands[] = {
	{ "visit", "record a household visit (survey)",
	  "visit --khom K --household H --outcome surveyed|not_home|declined [--members N --members-15plus N --smartphones N --needs a,b] [--at TIME]",
	  visit_own, visit_opts, cmd_visit, NULL },
	{ "account", "record an account opened for a household member",
	  "account --khom K --household H --member N --kind KIND [--at TIME]",
	  account_own, account_opts, cmd_account, NULL },
	{ "payment", "record a cashless payment",
	  "payment --khom K --household H --member N --purpose P --method M [--amount VND] [--at TIME]",
	  payment_own, payment_opts, cmd_payment, NULL },
	{ "service", "record an online public service used",
	  "service --khom K --household H --member N --kind KIND [--vneid] [--at TIME]",
	  service_own, service_opts, cmd_service, NULL },
	{ "business-visit", "record a visit to a business (household business or enterprise)",
	  "business-visit --khom K --code B --outcome surveyed|not_home|declined [--einvoice] [--online-services] [--needs a,b] [--at TIME]",
	  bvisit_own, bvisit_opts, cmd_business_visit, NULL },
	{ "einvoice", "record that a business started issuing electronic invoices",
	  "einvoice --khom K --code B [--at TIME]", business_own, business_opts, cmd_einvoice, NULL },
	{ "business-account", "record a business's account for online public services with electronic identification",
	  "business-account --khom K --code B [--at TIME]", business_own, business_opts,
	  cmd_business_account, NULL },
	{ "household", "add a household found in the field that the team's list lacks",
	  "household add --khom K --household H [--people-15plus N | --business]",
	  household_own, household_opts, cmd_household, "add" },
	{ "void", "cancel an event recorded on this device, pending or stored (by its id)",
	  "void ID --reason TEXT", void_own, void_opts, cmd_void, "ID" },
	{ "amend", "correct an event recorded on this device: a void plus the corrected event",
	  "amend ID [--khom K] [--household H] [--member N] [fields as when recording]",
	  amend_own, amend_opts, cmd_amend, "ID" },
	{ "worklist", "list the team's households and what to do next (offline)",
	  "worklist [--khom K] [--status S]", worklist_own, worklist_opts, cmd_worklist, NULL },
	{ "sync", "send the events pending now, wait for the server's receipts, get the team's worklist",
	  "sync [--timeout SECONDS]", sync_own, sync_opts, cmd_sync, NULL },
	{ "history", "list the events the server has stored, with their ids (newest first)",
	  "history [--khom K] [--household H] [--limit N]", history_own, history_opts,
	  cmd_history, NULL },
	{ "pending", "list events the server has not confirmed yet",
	  "pending", none_own, device_opts, cmd_pending, NULL },
	{ "rejected", "list events the server refused, with the reason",
	  "rejected", none_own, device_opts, cmd_rejected, NULL },
	{ "bulk", "record N synthetic events quickly (tests and benchmarks)",
	  "bulk --count N [--khom K --households N --days N --seed N]",
	  bulk_own, bulk_opts, cmd_bulk, NULL },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void main_help(FILE *out)
{
	fprintf(out,
	        "usage: kdc-event [DEVICE SETTINGS] COMMAND [OPTIONS]\n\n"
	        "Records what a community digital-technology team did on this device, keeps\n"
	        "it in the device's outbox (no connection needed) and sends it to the ward\n"
	        "server when there is one. Nothing leaves the outbox until the server\n"
	        "confirms it has it.\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'kdc-event COMMAND --help' for a command's options.\n\n"
	        "Device settings (on the command line, or as 'key = value' lines in the\n"
	        "file given with --config; keep it mode 0600 when it holds a password):\n");
	kdc_conf_usage(device_opts, out);
	fprintf(out, "\nExit status: 0 done, 1 outbox failure, 2 usage or configuration "
	        "error,\n3 sync timed out with events pending, 130 interrupted.\n");
	kdc_err_exit_usage(out);
}

static void command_help(const struct command *cmd, FILE *out)
{
	fprintf(out, "usage: kdc-event [DEVICE SETTINGS] %s\n\n%c%s.\n", cmd->usage,
	        toupper((unsigned char)cmd->summary[0]), cmd->summary + 1);
	if (cmd->own[0].name) {
		fprintf(out, "\nOptions:\n");
		kdc_conf_usage(cmd->own, out);
	}
	fprintf(out, "\nDevice settings: see 'kdc-event --help'. Example:\n"
	        "  kdc-event --config dev.conf %s\n", cmd->usage);
}

static void cli_free(struct cli *c)
{
	kdc_conf_free(device_opts, c);
	free(c->khom);
	free(c->household);
	free(c->outcome);
	free(c->needs);
	free(c->kind);
	free(c->purpose);
	free(c->method);
	free(c->at);
	free(c->target);
	free(c->reason);
	free(c->status);
}

/* The word after a command that takes one (an event id, or "add"): taken
 * when it is next, before or after the options. 0 or exit status 2. */
static int take_word(const struct command *cmd, struct cli *c, int argc, char **argv, int *argi)
{
	if (!cmd->word || c->target || *argi >= argc || argv[*argi][0] == '-')
		return 0;
	if (strcmp(cmd->word, "add") == 0 && strcmp(argv[*argi], "add") != 0)
		return kdc_usage_error("kdc-event %s: unknown '%s': use '%s'", cmd->name,
		                       argv[*argi], cmd->usage);
	if (!(c->target = strdup(argv[(*argi)++])))
		return EXIT_FAIL;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	const struct command *cmd = NULL;
	char err[512];
	int argi = 1, ret = EXIT_USAGE;

	memset(&c, 0, sizeof c);
	kdc_prog_init("kdc-event");
	if (kdc_prog_help_version(argc, argv, 1, NULL, &ret))
		return ret;
	if ((ret = kdc_prog_options(device_opts, &c, argc, argv, &argi, 1)) != 0)
		goto cleanup;
	ret = EXIT_USAGE;
	if (c.help || (argi < argc && strcmp(argv[argi], "-h") == 0)) {
		main_help(stdout);
		ret = 0;
		goto cleanup;
	}
	if (argi >= argc) {
		fprintf(stderr, "kdc-event: which command? visit, account, payment, service, "
		        "household, void, amend, worklist, sync, history, pending, rejected or bulk "
		        "(see kdc-event --help)\n");
		goto cleanup;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[argi], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "kdc-event: unknown command '%s': use visit, account, payment, "
		        "service, household, void, amend, worklist, sync, history, pending, rejected "
		        "or bulk (see kdc-event --help)\n", argv[argi]);
		goto cleanup;
	}
	argi++;
	if (kdc_conf_defaults(cmd->own, &c) != KDC_OK)
		goto cleanup;
	if (cmd->run == cmd_amend) /* -1: not given, the original's value stays */
		c.members = c.members_15plus = c.smartphones = c.member = c.amount = -1;
	if ((ret = take_word(cmd, &c, argc, argv, &argi)) != 0)
		goto cleanup;
	ret = EXIT_USAGE;
	if (kdc_conf_args(cmd->opts, &c, argc, argv, &argi, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event %s: %s\n", cmd->name, err);
		goto cleanup;
	}
	if ((ret = take_word(cmd, &c, argc, argv, &argi)) != 0)
		goto cleanup;
	ret = EXIT_USAGE;
	if (argi < argc && cmd->word && c.target &&
	    kdc_conf_args(cmd->opts, &c, argc, argv, &argi, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "kdc-event %s: %s\n", cmd->name, err);
		goto cleanup;
	}
	if (c.help || (argi < argc && strcmp(argv[argi], "-h") == 0)) {
		command_help(cmd, stdout);
		ret = 0;
		goto cleanup;
	}
	if (cmd->word && !c.target) {
		if (strcmp(cmd->word, "add") == 0)
			fprintf(stderr, "kdc-event %s: use '%s'\n", cmd->name, cmd->usage);
		else
			fprintf(stderr, "kdc-event %s: which event? give its id as 'kdc-event history', "
			        "'kdc-event pending' or 'kdc-event rejected' shows it: %s\n", cmd->name,
			        cmd->usage);
		goto cleanup;
	}
	if (argi < argc) {
		fprintf(stderr, "kdc-event %s: unexpected argument '%s' (options start with --; "
		        "see kdc-event %s --help)\n", cmd->name, argv[argi], cmd->name);
		goto cleanup;
	}
	if ((ret = kdc_prog_log_level(c.log_level)) == 0)
		ret = cmd->run(&c);
cleanup:
	cli_free(&c);
	return ret;
}
