/* validate.c: names of enum values, topics, decoding with limits, and the
 * field checks that producers and aggregator share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"

/* ---- enum names ----------------------------------------------------------
 * Tables indexed by the proto enum number; NULL for UNSPECIFIED (never valid
 * on the wire). The names are the CLI and JSON spelling. */

static const char *const outcome_names[] = { NULL, "surveyed", "not_home", "declined" };
static const char *const need_names[] = {
	NULL, "install_app", "public_service_account", "vneid", "payment_account",
	"cashless_bills", "online_procedures", "medical_booking", "digital_skills"
};
static const char *const account_names[] = {
	NULL, "public_service_portal", "vneid_level2", "provincial_app", "payment"
};
static const char *const purpose_names[] = {
	NULL, "electricity", "water", "telecom", "public_fee", "school_fee", "health",
	"shopping", "other"
};
static const char *const method_names[] = { NULL, "bank_transfer", "qr_code", "ewallet", "card" };
static const char *const service_names[] = {
	NULL, "birth_registration", "marital_status", "medical_booking", "field_report", "other"
};
static const char *const reason_names[] = {
	"unspecified", "malformed", "too_large", "missing_field", "bad_code", "bad_enum",
	"bad_value", "clock_skew", "topic_mismatch", "bad_topic",
	"unknown_team", "wrong_team", "unknown_khom", "unknown_household", "void_refused",
	"retired_household", "wrong_entry_type"
};
static const char *const kind_names[] = {
	"visit", "account", "payment", "service", "household_added", "void",
	"business_visit", "einvoice", "business_account"
};
static const char *const business_need_names[] = {
	NULL, "einvoice", "eid_account", "online_procedures", "cashless_payment", "digital_skills"
};
static const char *const status_names[] = {
	NULL, "not_visited", "not_home", "declined", "surveyed", "reached"
};
static const char *const next_names[] = {
	NULL, "visit", "revisit", "open_account", "payment_account", "pay_cashless", "none"
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NAME_FN(fn, table) \
	const char *kdc_##fn##_name(int v) { return v > 0 && v < COUNT(table) ? table[v] : NULL; } \
	int kdc_##fn##_parse(const char *s) \
	{ \
		for (int i = 1; s && i < COUNT(table); i++) \
			if (strcmp(s, table[i]) == 0) \
				return i; \
		return -1; \
	}

NAME_FN(outcome, outcome_names)
NAME_FN(need, need_names)
NAME_FN(business_need, business_need_names)
NAME_FN(account, account_names)
NAME_FN(purpose, purpose_names)
NAME_FN(method, method_names)
NAME_FN(service, service_names)
NAME_FN(status, status_names)
NAME_FN(next_step, next_names)

const char *kdc_reason_name(int reason)
{
	return reason >= 0 && reason < COUNT(reason_names) ? reason_names[reason] : "unknown";
}

const char *kdc_kind_name(int kind)
{
	return kind >= 0 && kind < KDC_KIND_ALL ? kind_names[kind] : "unknown";
}

int kdc_kind_for_business(int kind)
{
	return kind == KDC_KIND_BUSINESS_VISIT || kind == KDC_KIND_EINVOICE ||
	       kind == KDC_KIND_BUSINESS_ACCOUNT;
}

int kdc_kind_is_activity(int kind)
{
	return (kind >= 0 && kind < KDC_KIND_COUNT) || kdc_kind_for_business(kind);
}

int kdc_event_kind(const kdc_event_pb *ev)
{
	switch (ev->body_case) {
	case KDC__V1__EVENT__BODY_VISIT: return ev->visit ? KDC_KIND_VISIT : -1;
	case KDC__V1__EVENT__BODY_ACCOUNT: return ev->account ? KDC_KIND_ACCOUNT : -1;
	case KDC__V1__EVENT__BODY_PAYMENT: return ev->payment ? KDC_KIND_PAYMENT : -1;
	case KDC__V1__EVENT__BODY_SERVICE: return ev->service ? KDC_KIND_SERVICE : -1;
	case KDC__V1__EVENT__BODY_HOUSEHOLD_ADDED:
		return ev->household_added ? KDC_KIND_HOUSEHOLD_ADDED : -1;
	case KDC__V1__EVENT__BODY_VOID: return ev->void_ ? KDC_KIND_VOID : -1;
	case KDC__V1__EVENT__BODY_BUSINESS_VISIT:
		return ev->business_visit ? KDC_KIND_BUSINESS_VISIT : -1;
	case KDC__V1__EVENT__BODY_EINVOICE: return ev->einvoice ? KDC_KIND_EINVOICE : -1;
	case KDC__V1__EVENT__BODY_BUSINESS_ACCOUNT:
		return ev->business_account ? KDC_KIND_BUSINESS_ACCOUNT : -1;
	default: return -1;
	}
}

/* ---- codes and topics --------------------------------------------------- */

int kdc_code_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= KDC_CODE_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Copies topic level [start, end) into out if it is a valid code. */
static int topic__level(const char *start, const char *end, char out[KDC_CODE_MAX + 1])
{
	size_t n = (size_t)(end - start);

	if (n == 0 || n > KDC_CODE_MAX)
		return 0;
	memcpy(out, start, n);
	out[n] = '\0';
	return kdc_code_valid(out);
}

int kdc_event_topic_parse(const char *topic, struct kdc_event_topic *out)
{
	const char *lv[7];
	const char *p = topic;
	int n = 0;

	memset(out, 0, sizeof *out);
	if (!topic || strlen(topic) > KDC_TOPIC_MAX)
		return KDC_ERR_INVAL;
	lv[n++] = p;
	for (; *p; p++) {
		if (*p == '/') {
			if (n == 7)
				return KDC_ERR_INVAL;
			lv[n++] = p + 1;
		}
	}
	/* the device is the last level: good enough to address a rejection */
	if (n >= 1) {
		const char *last = lv[n - 1];
		if (!topic__level(last, p, out->device))
			out->device[0] = '\0';
	}
	if (n != 6 || strncmp(topic, "kdc/v1/", 7) != 0 ||
	    (size_t)(lv[4] - lv[3]) != strlen("events/") ||
	    strncmp(lv[3], "events/", 7) != 0)
		return KDC_ERR_INVAL;
	if (!topic__level(lv[2], lv[3] - 1, out->ward) ||
	    !topic__level(lv[4], lv[5] - 1, out->team) || !out->device[0])
		return KDC_ERR_INVAL;
	return KDC_OK;
}

static int topic__fmt(char *buf, size_t len, int n)
{
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int kdc_topic_events(char *buf, size_t len, const char *ward, const char *team, const char *device)
{
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/events/%s/%s", ward, team, device));
}

int kdc_topic_receipts(char *buf, size_t len, const char *ward, const char *device)
{
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/receipts/%s", ward, device));
}

int kdc_topic_stats(char *buf, size_t len, const char *ward, const char *scope, const char *id)
{
	if (!id || strcmp(scope, "ward") == 0)
		return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/stats/ward", ward));
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/stats/%s/%s", ward, scope, id));
}

int kdc_topic_status(char *buf, size_t len, const char *ward)
{
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/status/aggregator", ward));
}

int kdc_topic_worklist(char *buf, size_t len, const char *ward, const char *team)
{
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/worklist/%s", ward, team));
}

int kdc_topic_households(char *buf, size_t len, const char *ward, const char *khom)
{
	return topic__fmt(buf, len, snprintf(buf, len, "kdc/v1/%s/households/khom/%s", ward, khom));
}

/* ---- decode and validate ------------------------------------------------ */

/* Sets v (when not NULL) to reason and the formatted detail; returns reason. */
static int verdict(struct kdc_verdict *v, int reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int verdict(struct kdc_verdict *v, int reason, const char *fmt, ...)
{
	va_list ap;

	if (v) {
		v->reason = reason;
		va_start(ap, fmt);
		vsnprintf(v->detail, sizeof v->detail, fmt, ap);
		va_end(ap);
	}
	return reason;
}

/* ---- the wire, field by field --------------------------------------------
 * protobuf-c hands string fields over as C strings: a NUL inside one cuts it
 * short, and the rest of it is never seen. So before a decoded message is
 * trusted, its length-delimited fields are walked on the wire, where every
 * string has its full length: a code must be 1..KDC_CODE_MAX bytes of its
 * alphabet, free text must be UTF-8 (as proto3 requires of every string)
 * with no NUL. One pass over the payload, no allocation. */

enum wire_kind { WIRE_CODE, WIRE_TEXT, WIRE_MESSAGE };

struct wire_field {
	uint32_t number;
	enum wire_kind kind;
	const char *name;
	const struct wire_field *sub; /* WIRE_MESSAGE: its fields, ending with number 0 */
};

/* Only the length-delimited fields with something to check; of the message
 * bodies of an Event only a void has a string field. */
static const struct wire_field void_fields[] = {
	{ 2, WIRE_TEXT, "void reason", NULL },
	{ 0, WIRE_CODE, NULL, NULL }
};
static const struct wire_field event_fields[] = {
	{ 4, WIRE_CODE, "ward", NULL },
	{ 5, WIRE_CODE, "khom", NULL },
	{ 6, WIRE_CODE, "team", NULL },
	{ 7, WIRE_CODE, "device", NULL },
	{ 8, WIRE_CODE, "household", NULL },
	{ 15, WIRE_MESSAGE, "void", void_fields },
	{ 0, WIRE_CODE, NULL, NULL }
};
static const struct wire_field rejection_fields[] = {
	{ 3, WIRE_TEXT, "rejection detail", NULL },
	{ 0, WIRE_CODE, NULL, NULL }
};
static const struct wire_field receipt_fields[] = {
	{ 1, WIRE_CODE, "device", NULL },
	{ 3, WIRE_MESSAGE, "rejection", rejection_fields },
	{ 0, WIRE_CODE, NULL, NULL }
};

#define WIRE_MAX_DEPTH 4

static int wire__varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t val = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		val |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = val;
			return 0;
		}
	}
	return -1;
}

static int wire__is_code_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Length of the UTF-8 sequence at s (n bytes left), or 0 if it is not a
 * shortest-form encoding of a scalar value other than U+0000 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static size_t wire__utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static int wire__code(const uint8_t *s, size_t n, const char *name, struct kdc_verdict *v)
{
	/* empty is left to kdc_event_validate: "missing" */
	if (n > KDC_CODE_MAX)
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_CODE,
		               "%s code is longer than 32 characters", name);
	for (size_t i = 0; i < n; i++) {
		if (wire__is_code_byte(s[i]))
			continue;
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_CODE,
		               "%s code has byte 0x%02x at position %zu: a code is 1-32 letters, "
		               "digits, '_' or '-'", name, s[i], i + 1);
	}
	return 0;
}

static int wire__text(const uint8_t *s, size_t n, const char *name, struct kdc_verdict *v)
{
	for (size_t i = 0, k; i < n; i += k) {
		if ((k = wire__utf8_seq(s + i, n - i)) != 0)
			continue;
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED,
		               "%s has byte 0x%02x at position %zu: text must be UTF-8 without NUL "
		               "bytes", name, s[i], i + 1);
	}
	return 0;
}

static const struct wire_field *wire__find(const struct wire_field *fields, uint64_t number)
{
	for (; fields->number; fields++)
		if (fields->number == number)
			return fields;
	return NULL;
}

static int wire__walk(const uint8_t *p, const uint8_t *end, const struct wire_field *fields,
                      int depth, struct kdc_verdict *v)
{
	uint64_t tag, n;

	while (p < end) {
		const struct wire_field *f;
		int rc = 0;

		if (wire__varint(&p, end, &tag) != 0 || (tag >> 3) == 0)
			goto malformed;
		switch (tag & 7) {
		case 0: /* varint */
			if (wire__varint(&p, end, &n) != 0)
				goto malformed;
			continue;
		case 1: /* 64-bit */
			n = 8;
			break;
		case 5: /* 32-bit */
			n = 4;
			break;
		case 2: /* length-delimited */
			if (wire__varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
				goto malformed;
			f = wire__find(fields, tag >> 3);
			if (f && f->kind == WIRE_CODE)
				rc = wire__code(p, (size_t)n, f->name, v);
			else if (f && f->kind == WIRE_TEXT)
				rc = wire__text(p, (size_t)n, f->name, v);
			else if (f && depth < WIRE_MAX_DEPTH)
				rc = wire__walk(p, p + n, f->sub, depth + 1, v);
			if (rc)
				return rc;
			break;
		default: /* groups and the rest: protobuf-c refuses them too */
			goto malformed;
		}
		if (n > (uint64_t)(end - p))
			goto malformed;
		p += n;
	}
	return 0;
malformed:
	return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED,
	               "payload is not a well-formed protobuf message");
}

int kdc_event_wire_check(const void *buf, size_t len, struct kdc_verdict *v)
{
	const uint8_t *p = buf;

	return len ? wire__walk(p, p + len, event_fields, 0, v) : 0;
}

int kdc_receipt_wire_check(const void *buf, size_t len, struct kdc_verdict *v)
{
	const uint8_t *p = buf;

	return len ? wire__walk(p, p + len, receipt_fields, 0, v) : 0;
}

kdc_event_pb *kdc_event_decode(const void *buf, size_t len, struct kdc_verdict *v)
{
	kdc_event_pb *ev;

	if (len > KDC_MAX_EVENT_BYTES) {
		verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_TOO_LARGE,
		        "payload is %zu bytes, the limit is %d", len, KDC_MAX_EVENT_BYTES);
		return NULL;
	}
	ev = kdc__v1__event__unpack(NULL, len, buf);
	if (!ev) {
		verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED,
		        "payload is not a kdc.v1.Event (cannot be decoded)");
		return NULL;
	}
	/* after the unpack, so that what protobuf-c refuses stays "malformed" */
	if (kdc_event_wire_check(buf, len, v) != 0) {
		kdc_event_free(ev);
		return NULL;
	}
	if (v) {
		v->reason = 0;
		v->detail[0] = '\0';
	}
	return ev;
}

void kdc_event_free(kdc_event_pb *ev)
{
	if (ev)
		kdc__v1__event__free_unpacked(ev, NULL);
}

static int check_code(const char *value, const char *what, struct kdc_verdict *v)
{
	if (!value || !*value)
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_MISSING_FIELD,
		               "%s code is missing", what);
	if (!kdc_code_valid(value))
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_CODE,
		               "%s code must be 1-32 letters, digits, '_' or '-'", what);
	return 0;
}

#define BAD_ENUM KDC__V1__REJECT_REASON__REJECT_REASON_BAD_ENUM
#define BAD_VALUE KDC__V1__REJECT_REASON__REJECT_REASON_BAD_VALUE
#define MISSING KDC__V1__REJECT_REASON__REJECT_REASON_MISSING_FIELD

static int check_body(const kdc_event_pb *ev, int kind, struct kdc_verdict *v)
{
	switch (kind) {
	case KDC_KIND_VISIT: {
		const Kdc__V1__HouseholdVisited *b = ev->visit;
		if (b->outcome == 0)
			return verdict(v, MISSING, "visit outcome is missing");
		if (!kdc_outcome_name(b->outcome))
			return verdict(v, BAD_ENUM, "visit outcome is a value this server does not know");
		if (b->members > KDC_MAX_MEMBERS || b->members_15plus > KDC_MAX_MEMBERS ||
		    b->smartphones > KDC_MAX_MEMBERS)
			return verdict(v, BAD_VALUE, "visit counts must be at most 100");
		if (b->members_15plus > b->members && b->members > 0)
			return verdict(v, BAD_VALUE, "more members aged 15+ than members");
		if (b->n_needs > KDC_MAX_NEEDS)
			return verdict(v, BAD_VALUE, "more than 16 needs listed");
		for (size_t i = 0; i < b->n_needs; i++)
			if (!kdc_need_name(b->needs[i]))
				return verdict(v, BAD_ENUM, "a need is a value this server does not know");
		if (ev->member != 0)
			return verdict(v, BAD_VALUE, "a visit is for the whole household: member must be 0");
		return 0;
	}
	case KDC_KIND_ACCOUNT:
		if (ev->account->kind == 0)
			return verdict(v, MISSING, "account kind is missing");
		if (!kdc_account_name(ev->account->kind))
			return verdict(v, BAD_ENUM, "account kind is a value this server does not know");
		break;
	case KDC_KIND_PAYMENT:
		if (ev->payment->purpose == 0 || ev->payment->method == 0)
			return verdict(v, MISSING, "payment purpose or method is missing");
		if (!kdc_purpose_name(ev->payment->purpose) || !kdc_method_name(ev->payment->method))
			return verdict(v, BAD_ENUM, "payment purpose or method is a value this server does not know");
		if (ev->payment->amount_vnd < 0 || ev->payment->amount_vnd > KDC_MAX_AMOUNT_VND)
			return verdict(v, BAD_VALUE, "payment amount must be 0 to 10,000,000,000 VND");
		break;
	case KDC_KIND_SERVICE:
		if (ev->service->kind == 0)
			return verdict(v, MISSING, "service kind is missing");
		if (!kdc_service_name(ev->service->kind))
			return verdict(v, BAD_ENUM, "service kind is a value this server does not know");
		break;
	case KDC_KIND_HOUSEHOLD_ADDED:
		if (ev->household_added->people_15plus > KDC_MAX_MEMBERS)
			return verdict(v, BAD_VALUE, "people aged 15+ must be at most 100");
		if (ev->household_added->business && ev->household_added->people_15plus)
			return verdict(v, BAD_VALUE, "a business has no people aged 15+: leave it 0");
		if (ev->member != 0)
			return verdict(v, BAD_VALUE, "a household addition is for the whole household: "
			               "member must be 0");
		return 0;
	case KDC_KIND_VOID: {
		const Kdc__V1__EventVoided *b = ev->void_;
		size_t n = b->reason ? strlen(b->reason) : 0;

		if (b->target.len == 0)
			return verdict(v, MISSING, "void: the id of the event voided is missing");
		if (b->target.len != KDC_UUID_LEN)
			return verdict(v, BAD_VALUE, "void: the id of the event voided must be 16 bytes");
		if (memcmp(b->target.data, ev->id.data, KDC_UUID_LEN) == 0)
			return verdict(v, BAD_VALUE, "void: an event cannot void itself");
		if (n == 0)
			return verdict(v, MISSING, "void: the reason is missing");
		if (n > KDC_VOID_REASON_MAX)
			return verdict(v, BAD_VALUE, "void: the reason is longer than %d bytes",
			               KDC_VOID_REASON_MAX);
		if (ev->member != 0)
			return verdict(v, BAD_VALUE, "a void names its event by id: member must be 0");
		return 0;
	}
	case KDC_KIND_BUSINESS_VISIT: {
		const Kdc__V1__BusinessVisited *b = ev->business_visit;
		if (b->outcome == 0)
			return verdict(v, MISSING, "business visit outcome is missing");
		if (!kdc_outcome_name(b->outcome))
			return verdict(v, BAD_ENUM, "business visit outcome is a value this server does not know");
		if (b->n_needs > KDC_MAX_BUSINESS_NEEDS)
			return verdict(v, BAD_VALUE, "more than %d business needs listed",
			               KDC_MAX_BUSINESS_NEEDS);
		for (size_t i = 0; i < b->n_needs; i++)
			if (!kdc_business_need_name(b->needs[i]))
				return verdict(v, BAD_ENUM, "a business need is a value this server does not know");
	}
		/* fall through */
	case KDC_KIND_EINVOICE:
	case KDC_KIND_BUSINESS_ACCOUNT:
		if (ev->member != 0)
			return verdict(v, BAD_VALUE, "a business event is for the whole business: member "
			               "must be 0");
		return 0;
	}
	/* person-level kinds */
	if (ev->member == 0)
		return verdict(v, MISSING, "member index is missing (person-level event)");
	if (ev->member > KDC_MAX_MEMBERS)
		return verdict(v, BAD_VALUE, "member index must be 1 to 100");
	return 0;
}

int kdc_event_validate(const kdc_event_pb *ev, const struct kdc_event_topic *topic,
                       const char *ward, int64_t now_ms, struct kdc_verdict *v)
{
	int kind, rc;

	if (v) {
		v->reason = 0;
		v->detail[0] = '\0';
	}
	if (ev->id.len == 0)
		return verdict(v, MISSING, "event id is missing");
	if (ev->id.len != 16)
		return verdict(v, BAD_VALUE, "event id must be 16 bytes");
	if (ev->seq == 0)
		return verdict(v, MISSING, "device sequence number is missing");
	if (ev->seq > (uint64_t)INT64_MAX)
		return verdict(v, BAD_VALUE, "device sequence number is too large");
	if ((rc = check_code(ev->ward, "ward", v)) ||
	    (rc = check_code(ev->khom, "khom", v)) ||
	    (rc = check_code(ev->team, "team", v)) ||
	    (rc = check_code(ev->device, "device", v)) ||
	    (rc = check_code(ev->household, "household", v)))
		return rc;
	if (ev->occurred_ms == 0)
		return verdict(v, MISSING, "event time is missing");
	if (ev->occurred_ms > now_ms + KDC_MAX_FUTURE_MS)
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_CLOCK_SKEW,
		               "event time is more than a day in the future: check the device clock");
	if (ev->occurred_ms < now_ms - KDC_MAX_AGE_MS)
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_CLOCK_SKEW,
		               "event time is more than two years in the past: check the device clock");
	if ((kind = kdc_event_kind(ev)) < 0)
		return verdict(v, MISSING, "event kind is missing (visit, account, payment, service, "
		               "household_added, void, business_visit, einvoice or business_account)");
	if ((rc = check_body(ev, kind, v)))
		return rc;
	if (ward && strcmp(ev->ward, ward) != 0)
		return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH,
		               "event is for ward %s, not this one", ev->ward);
	if (topic) {
		if (strcmp(ev->ward, topic->ward) != 0)
			return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH,
			               "event names ward %s, its topic another", ev->ward);
		if (strcmp(ev->team, topic->team) != 0)
			return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH,
			               "event names team %s, its topic another", ev->team);
		if (strcmp(ev->device, topic->device) != 0)
			return verdict(v, KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH,
			               "event names device %s, its topic another", ev->device);
	}
	return 0;
}
