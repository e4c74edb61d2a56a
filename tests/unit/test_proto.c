/* test_proto.c: the wire schema round-trips every kind, and the shared
 * validation accepts good events and refuses each kind of bad field with the
 * right reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"

#define NOW 1795000000000LL /* 2026-11-18 */
#define R(x) KDC__V1__REJECT_REASON__REJECT_REASON_##x

struct fixture {
	Kdc__V1__Event ev;
	Kdc__V1__HouseholdVisited visit;
	Kdc__V1__AccountCreated account;
	Kdc__V1__PaymentMade payment;
	Kdc__V1__ServiceUsed service;
	uint8_t id[16];
	Kdc__V1__Need needs[2];
};

/* A valid event of the given kind, all fields set. */
static void make_event(struct fixture *f, int kind)
{
	memset(f, 0, sizeof *f);
	kdc__v1__event__init(&f->ev);
	kdc__v1__household_visited__init(&f->visit);
	kdc__v1__account_created__init(&f->account);
	kdc__v1__payment_made__init(&f->payment);
	kdc__v1__service_used__init(&f->service);
	assert_int_equal(kdc_uuid7(f->id, NOW), KDC_OK);
	f->ev.id.data = f->id;
	f->ev.id.len = 16;
	f->ev.seq = 42;
	f->ev.occurred_ms = NOW - 3600 * 1000;
	f->ev.ward = "31975";
	f->ev.khom = "6";
	f->ev.team = "T1";
	f->ev.device = "D1";
	f->ev.household = "H0001";
	f->ev.member = 2;
	switch (kind) {
	case KDC_KIND_VISIT:
		f->ev.member = 0;
		f->visit.outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
		f->visit.members = 4;
		f->visit.members_15plus = 3;
		f->visit.smartphones = 2;
		f->needs[0] = KDC__V1__NEED__NEED_INSTALL_APP;
		f->needs[1] = KDC__V1__NEED__NEED_PAYMENT_ACCOUNT;
		f->visit.needs = f->needs;
		f->visit.n_needs = 2;
		f->ev.body_case = KDC__V1__EVENT__BODY_VISIT;
		f->ev.visit = &f->visit;
		break;
	case KDC_KIND_ACCOUNT:
		f->account.kind = KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2;
		f->ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		f->ev.account = &f->account;
		break;
	case KDC_KIND_PAYMENT:
		f->payment.purpose = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_WATER;
		f->payment.method = KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_QR_CODE;
		f->payment.amount_vnd = 185000;
		f->ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
		f->ev.payment = &f->payment;
		break;
	case KDC_KIND_SERVICE:
		f->service.kind = KDC__V1__SERVICE_KIND__SERVICE_KIND_BIRTH_REGISTRATION;
		f->ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
		f->ev.service = &f->service;
		break;
	}
}

static kdc_event_pb *roundtrip(const kdc_event_pb *ev)
{
	uint8_t buf[KDC_MAX_EVENT_BYTES];
	size_t len = kdc__v1__event__get_packed_size(ev);
	struct kdc_verdict v;
	kdc_event_pb *out;

	assert_true(len < sizeof buf);
	assert_int_equal(kdc__v1__event__pack(ev, buf), len);
	out = kdc_event_decode(buf, len, &v);
	assert_non_null(out);
	assert_int_equal(v.reason, 0);
	return out;
}

static void test_roundtrip_every_kind(void **state)
{
	for (int kind = 0; kind < KDC_KIND_COUNT; kind++) {
		struct fixture f;
		kdc_event_pb *d;

		make_event(&f, kind);
		d = roundtrip(&f.ev);
		assert_int_equal(kdc_event_kind(d), kind);
		assert_memory_equal(d->id.data, f.id, 16);
		assert_int_equal(d->seq, 42);
		assert_int_equal(d->occurred_ms, f.ev.occurred_ms);
		assert_string_equal(d->ward, "31975");
		assert_string_equal(d->khom, "6");
		assert_string_equal(d->team, "T1");
		assert_string_equal(d->device, "D1");
		assert_string_equal(d->household, "H0001");
		assert_int_equal(d->member, f.ev.member);
		switch (kind) {
		case KDC_KIND_VISIT:
			assert_int_equal(d->visit->outcome, f.visit.outcome);
			assert_int_equal(d->visit->members, 4);
			assert_int_equal(d->visit->members_15plus, 3);
			assert_int_equal(d->visit->smartphones, 2);
			assert_int_equal(d->visit->n_needs, 2);
			assert_int_equal(d->visit->needs[1], KDC__V1__NEED__NEED_PAYMENT_ACCOUNT);
			break;
		case KDC_KIND_ACCOUNT:
			assert_int_equal(d->account->kind, f.account.kind);
			break;
		case KDC_KIND_PAYMENT:
			assert_int_equal(d->payment->purpose, f.payment.purpose);
			assert_int_equal(d->payment->method, f.payment.method);
			assert_int_equal(d->payment->amount_vnd, 185000);
			break;
		case KDC_KIND_SERVICE:
			assert_int_equal(d->service->kind, f.service.kind);
			break;
		}
		assert_int_equal(kdc_event_validate(d, NULL, "31975", NOW, NULL), 0);
		kdc_event_free(d);
	}
}

static int check(struct fixture *f)
{
	struct kdc_verdict v;
	int rc = kdc_event_validate(&f->ev, NULL, NULL, NOW, &v);

	assert_int_equal(rc, v.reason);
	if (rc)
		assert_true(strlen(v.detail) > 0);
	return rc;
}

static void test_validation_refuses_each_bad_field(void **state)
{
	struct fixture f;

	make_event(&f, KDC_KIND_PAYMENT);
	assert_int_equal(check(&f), 0);

	f.ev.id.len = 0; assert_int_equal(check(&f), R(MISSING_FIELD));
	f.ev.id.len = 15; assert_int_equal(check(&f), R(BAD_VALUE));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.seq = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.household = "";
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.household = "H 1";
	assert_int_equal(check(&f), R(BAD_CODE));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.device = "Đ1"; /* not ASCII */
	assert_int_equal(check(&f), R(BAD_CODE));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.khom = "123456789012345678901234567890123";
	assert_int_equal(check(&f), R(BAD_CODE));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.occurred_ms = NOW + KDC_MAX_FUTURE_MS + 1;
	assert_int_equal(check(&f), R(CLOCK_SKEW));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.occurred_ms = NOW - KDC_MAX_AGE_MS - 1;
	assert_int_equal(check(&f), R(CLOCK_SKEW));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.occurred_ms = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_PAYMENT); f.payment.method = 99;
	assert_int_equal(check(&f), R(BAD_ENUM));
	make_event(&f, KDC_KIND_PAYMENT); f.payment.amount_vnd = -5;
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.member = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_PAYMENT); f.ev.body_case = KDC__V1__EVENT__BODY__NOT_SET;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_ACCOUNT); f.account.kind = 7;
	assert_int_equal(check(&f), R(BAD_ENUM));
	make_event(&f, KDC_KIND_SERVICE); f.service.kind = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	make_event(&f, KDC_KIND_VISIT); f.visit.members_15plus = 9;
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_event(&f, KDC_KIND_VISIT); f.needs[1] = 1000;
	assert_int_equal(check(&f), R(BAD_ENUM));
	make_event(&f, KDC_KIND_VISIT); f.ev.member = 1;
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_event(&f, KDC_KIND_VISIT); f.visit.outcome = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
}

static void test_unknown_enum_survives_the_wire(void **state)
{
	/* a newer device may send an enum value this server does not know:
	 * protobuf-c keeps the number, validation must refuse it */
	struct fixture f;
	kdc_event_pb *d;

	make_event(&f, KDC_KIND_SERVICE);
	f.service.kind = 77;
	d = roundtrip(&f.ev);
	assert_int_equal(kdc_event_validate(d, NULL, NULL, NOW, NULL), R(BAD_ENUM));
	kdc_event_free(d);
}

static void test_topic_must_match_payload(void **state)
{
	struct fixture f;
	struct kdc_event_topic t;
	struct kdc_verdict v;

	make_event(&f, KDC_KIND_ACCOUNT);
	assert_int_equal(kdc_event_topic_parse("kdc/v1/31975/events/T1/D1", &t), KDC_OK);
	assert_string_equal(t.ward, "31975");
	assert_string_equal(t.team, "T1");
	assert_string_equal(t.device, "D1");
	assert_int_equal(kdc_event_validate(&f.ev, &t, "31975", NOW, &v), 0);
	assert_int_equal(kdc_event_topic_parse("kdc/v1/31975/events/T1/D2", &t), KDC_OK);
	assert_int_equal(kdc_event_validate(&f.ev, &t, "31975", NOW, &v), R(TOPIC_MISMATCH));
	assert_non_null(strstr(v.detail, "device"));
	assert_int_equal(kdc_event_topic_parse("kdc/v1/31975/events/T1/D1", &t), KDC_OK);
	assert_int_equal(kdc_event_validate(&f.ev, &t, "99999", NOW, &v), R(TOPIC_MISMATCH));
}

static void test_topic_parser_refuses_bad_shapes(void **state)
{
	struct kdc_event_topic t;
	static const char *const bad[] = {
		"", "kdc", "kdc/v1/31975/events/T1", "kdc/v1/31975/events/T1/D1/x",
		"kdc/v2/31975/events/T1/D1", "kdc/v1/31975/receipts/T1/D1",
		"kdc/v1//events/T1/D1", "kdc/v1/31975/events//D1", "kdc/v1/31975/events/T1/",
		"kdc/v1/31975/events/T 1/D1", "kdc/v1/31975/eventsX/T1/D1",
		"kdc/v1/3197512345678901234567890123456789/events/T1/D1",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(kdc_event_topic_parse(bad[i], &t), KDC_ERR_INVAL);
	/* the device part is still readable for addressing a rejection */
	assert_int_equal(kdc_event_topic_parse("kdc/v1/31975/events//D7", &t), KDC_ERR_INVAL);
	assert_string_equal(t.device, "D7");
}

static void test_decode_refuses_garbage_and_oversize(void **state)
{
	struct kdc_verdict v;
	uint8_t junk[64];
	uint8_t *big;
	struct fixture f;
	uint8_t buf[256];
	size_t len;

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(0xff - i * 7);
	assert_null(kdc_event_decode(junk, sizeof junk, &v));
	assert_int_equal(v.reason, R(MALFORMED));

	make_event(&f, KDC_KIND_VISIT);
	len = kdc__v1__event__pack(&f.ev, buf);
	assert_null(kdc_event_decode(buf, len / 2, &v)); /* truncated */
	assert_int_equal(v.reason, R(MALFORMED));

	big = calloc(1, KDC_MAX_EVENT_BYTES + 1);
	assert_non_null(big);
	assert_null(kdc_event_decode(big, KDC_MAX_EVENT_BYTES + 1, &v));
	assert_int_equal(v.reason, R(TOO_LARGE));
	free(big);
}

/* ---- string fields over their wire length ---------------------------------
 * protobuf-c's encoder stops a string at its first NUL, so these payloads are
 * written by hand: the event packed with one code field empty (a proto3
 * empty string is left out), then that field appended with raw bytes. */

struct code_field {
	int number;
	const char *name;
	const char *good; /* the fixture's value */
};

static const struct code_field code_fields[] = {
	{ 4, "ward", "31975" }, { 5, "khom", "6" }, { 6, "team", "T1" },
	{ 7, "device", "D1" }, { 8, "household", "H0001" },
};

/* Appends field `number` (length-delimited) with n raw bytes; returns the
 * new length. */
static size_t put_field(uint8_t *buf, size_t len, int number, const void *bytes, size_t n)
{
	assert_true(n < 128);
	buf[len++] = (uint8_t)(number << 3 | 2);
	buf[len++] = (uint8_t)n;
	memcpy(buf + len, bytes, n);
	return len + n;
}

static const char **code_slot(struct fixture *f, int number)
{
	switch (number) {
	case 4: return (const char **)&f->ev.ward;
	case 5: return (const char **)&f->ev.khom;
	case 6: return (const char **)&f->ev.team;
	case 7: return (const char **)&f->ev.device;
	default: return (const char **)&f->ev.household;
	}
}

/* A valid payment event whose code field `number` is the n raw bytes. */
static size_t event_with_raw_code(uint8_t *buf, int number, const void *bytes, size_t n)
{
	struct fixture f;
	size_t len;

	make_event(&f, KDC_KIND_PAYMENT);
	*code_slot(&f, number) = "";
	len = kdc__v1__event__pack(&f.ev, buf);
	return put_field(buf, len, number, bytes, n);
}

/* Decodes and validates as the aggregator does for topic
 * kdc/v1/31975/events/T1/D1; returns the reason (0 = stored). */
static int server_verdict(const uint8_t *buf, size_t len, struct kdc_verdict *v)
{
	struct kdc_event_topic t;
	kdc_event_pb *ev;
	int rc;

	assert_int_equal(kdc_event_topic_parse("kdc/v1/31975/events/T1/D1", &t), KDC_OK);
	ev = kdc_event_decode(buf, len, v);
	if (!ev) {
		assert_int_not_equal(v->reason, 0);
		assert_true(strlen(v->detail) > 0);
		return v->reason;
	}
	rc = kdc_event_validate(ev, &t, "31975", NOW, v);
	kdc_event_free(ev);
	return rc;
}

static void test_hand_built_codes_decode(void **state)
{
	/* the construction itself: the good value written by hand is stored */
	uint8_t buf[256];
	struct kdc_verdict v;

	for (size_t i = 0; i < sizeof code_fields / sizeof code_fields[0]; i++) {
		const struct code_field *c = &code_fields[i];
		size_t len = event_with_raw_code(buf, c->number, c->good, strlen(c->good));
		assert_int_equal(kdc_event_wire_check(buf, len, &v), 0);
		assert_int_equal(server_verdict(buf, len, &v), 0);
	}
}

static void test_code_with_nul_is_bad_code(void **state)
{
	/* "H0001\0X", "D1\0evil": cut at the NUL they would pass every check,
	 * the topic's device included */
	static const char *const tails[] = { "\0X", "\0evil", "\0" };
	static const size_t tail_len[] = { 2, 5, 1 };
	uint8_t buf[256];
	char raw[64];
	struct kdc_verdict v;

	for (size_t i = 0; i < sizeof code_fields / sizeof code_fields[0]; i++) {
		const struct code_field *c = &code_fields[i];
		for (size_t k = 0; k < 3; k++) {
			size_t n = strlen(c->good), len;
			memcpy(raw, c->good, n);
			memcpy(raw + n, tails[k], tail_len[k]);
			len = event_with_raw_code(buf, c->number, raw, n + tail_len[k]);
			assert_int_equal(server_verdict(buf, len, &v), R(BAD_CODE));
			assert_non_null(strstr(v.detail, c->name));
			assert_non_null(strstr(v.detail, "0x00"));
			assert_int_equal(kdc_event_wire_check(buf, len, &v), R(BAD_CODE));
		}
	}
	/* a NUL first: the C string is empty ("missing"), the wire field is not */
	assert_int_equal(server_verdict(buf, event_with_raw_code(buf, 8, "\0H0001", 6), &v),
	                 R(BAD_CODE));
}

static void test_code_with_bad_utf8_is_bad_code(void **state)
{
	static const struct { const char *b; size_t n; } bad[] = {
		{ "\xc0\xaf", 2 },          /* overlong '/' */
		{ "H\xc0\xaf" "1", 4 },
		{ "\xe0\x80\xaf", 3 },      /* overlong, three bytes */
		{ "\xff", 1 },              /* never in UTF-8 */
		{ "H\x80", 2 },             /* lone continuation byte */
		{ "H\xe2\x82", 3 },         /* sequence cut short */
		{ "\xed\xa0\x80", 3 },      /* a surrogate */
		{ "Nh\xc3\xa0", 4 },        /* valid UTF-8, but not a code */
		{ "H 1", 3 },
		{ "123456789012345678901234567890123", 33 },
	};
	uint8_t buf[256];
	struct kdc_verdict v;

	for (size_t i = 0; i < sizeof code_fields / sizeof code_fields[0]; i++) {
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			size_t len = event_with_raw_code(buf, code_fields[i].number, bad[k].b, bad[k].n);
			assert_int_equal(server_verdict(buf, len, &v), R(BAD_CODE));
			assert_non_null(strstr(v.detail, code_fields[i].name));
		}
	}
}

static void test_every_occurrence_is_checked(void **state)
{
	/* protobuf-c keeps the last of a repeated singular field; a bad earlier
	 * one is refused all the same, and so is a bad later one */
	struct fixture f;
	uint8_t buf[256];
	struct kdc_verdict v;
	size_t len;

	make_event(&f, KDC_KIND_PAYMENT);
	len = kdc__v1__event__pack(&f.ev, buf);
	len = put_field(buf, len, 8, "H0001\0X", 7);
	assert_int_equal(server_verdict(buf, len, &v), R(BAD_CODE));

	len = event_with_raw_code(buf, 7, "D1\0evil", 7);
	len = put_field(buf, len, 7, "D1", 2);
	assert_int_equal(server_verdict(buf, len, &v), R(BAD_CODE));
}

/* A receipt for device D1 rejecting one event with the given detail bytes. */
static size_t receipt_with_detail(uint8_t *buf, const void *detail, size_t n)
{
	uint8_t rej[128];
	size_t rlen = 0, len = 0;

	rej[rlen++] = 0x10; /* reason */
	rej[rlen++] = 4;
	rlen = put_field(rej, rlen, 3, detail, n);
	len = put_field(buf, len, 1, "D1", 2);
	return put_field(buf, len, 3, rej, rlen);
}

static void test_receipt_strings(void **state)
{
	static const struct { const char *b; size_t n; int ok; } texts[] = {
		{ "household code is missing", 25, 1 },
		{ "M\xc3\xa3 h\xe1\xbb\x99", 8, 1 },        /* "Mã hộ" */
		{ "\xf0\x9f\x98\x80", 4, 1 },               /* U+1F600 */
		{ "\xed\x9f\xbf", 3, 1 },                   /* U+D7FF */
		{ "\xf4\x8f\xbf\xbf", 4, 1 },               /* U+10FFFF */
		{ "a\0b", 3, 0 },
		{ "\xc0\xaf", 2, 0 }, { "\xc1\xbf", 2, 0 }, /* overlong */
		{ "\xe0\x80\xaf", 3, 0 }, { "\xf0\x80\x80\xaf", 4, 0 },
		{ "\xed\xa0\x80", 3, 0 },                   /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },               /* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 }, { "\x80", 1, 0 },
		{ "\xe2\x82", 2, 0 }, { "\xe2\x28\xa1", 3, 0 },
	};
	uint8_t buf[256];
	struct kdc_verdict v;
	size_t len;
	kdc_receipt_pb *r;

	for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
		len = receipt_with_detail(buf, texts[k].b, texts[k].n);
		/* protobuf-c takes every one of them */
		assert_non_null(r = kdc__v1__receipt__unpack(NULL, len, buf));
		kdc__v1__receipt__free_unpacked(r, NULL);
		assert_int_equal(kdc_receipt_wire_check(buf, len, &v),
		                 texts[k].ok ? 0 : R(MALFORMED));
		if (!texts[k].ok)
			assert_non_null(strstr(v.detail, "detail"));
	}
	/* a receipt for "D1\0x" is not for D1 */
	len = put_field(buf, 0, 1, "D1\0x", 4);
	assert_int_equal(kdc_receipt_wire_check(buf, len, &v), R(BAD_CODE));
	len = put_field(buf, 0, 1, "D1", 2);
	assert_int_equal(kdc_receipt_wire_check(buf, len, &v), 0);
}

/* The register's kinds: a household added from the field and a void. */
static void make_special(struct fixture *f, Kdc__V1__HouseholdAdded *add, Kdc__V1__EventVoided *vo,
                         uint8_t *target, const char *reason)
{
	make_event(f, KDC_KIND_VISIT);
	if (add) {
		kdc__v1__household_added__init(add);
		add->people_15plus = 3;
		f->ev.body_case = KDC__V1__EVENT__BODY_HOUSEHOLD_ADDED;
		f->ev.household_added = add;
		return;
	}
	kdc__v1__event_voided__init(vo);
	assert_int_equal(kdc_uuid7(target, NOW - 7200 * 1000), KDC_OK);
	vo->target.data = target;
	vo->target.len = 16;
	vo->reason = (char *)reason;
	f->ev.body_case = KDC__V1__EVENT__BODY_VOID;
	f->ev.void_ = vo;
}

static void test_household_added_and_void(void **state)
{
	struct fixture f;
	Kdc__V1__HouseholdAdded add;
	Kdc__V1__EventVoided vo;
	uint8_t target[16], buf[1024];
	char reason[202];
	struct kdc_verdict v;
	kdc_event_pb *d;
	size_t len;

	(void)state;
	make_special(&f, &add, NULL, NULL, NULL);
	assert_int_equal(check(&f), 0);
	d = roundtrip(&f.ev);
	assert_int_equal(kdc_event_kind(d), KDC_KIND_HOUSEHOLD_ADDED);
	assert_int_equal(d->household_added->people_15plus, 3);
	assert_string_equal(kdc_kind_name(KDC_KIND_HOUSEHOLD_ADDED), "household_added");
	kdc_event_free(d);
	add.people_15plus = 0;                   /* not known */
	assert_int_equal(check(&f), 0);
	add.people_15plus = 101;
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_special(&f, &add, NULL, NULL, NULL);
	f.ev.member = 1;
	assert_int_equal(check(&f), R(BAD_VALUE));
	/* a business: no people aged 15+ */
	make_special(&f, &add, NULL, NULL, NULL);
	add.business = 1;
	assert_int_equal(check(&f), R(BAD_VALUE));
	add.people_15plus = 0;
	assert_int_equal(check(&f), 0);
	d = roundtrip(&f.ev);
	assert_true(d->household_added->business);
	kdc_event_free(d);
	assert_string_equal(kdc_reason_name(KDC__V1__REJECT_REASON__REJECT_REASON_WRONG_ENTRY_TYPE),
	                    "wrong_entry_type");

	make_special(&f, NULL, &vo, target, "recorded for the wrong household");
	assert_int_equal(check(&f), 0);
	d = roundtrip(&f.ev);
	assert_int_equal(kdc_event_kind(d), KDC_KIND_VOID);
	assert_memory_equal(d->void_->target.data, target, 16);
	assert_string_equal(d->void_->reason, "recorded for the wrong household");
	assert_string_equal(kdc_kind_name(KDC_KIND_VOID), "void");
	kdc_event_free(d);
	vo.target.len = 0;
	assert_int_equal(check(&f), R(MISSING_FIELD));
	vo.target.len = 15;
	assert_int_equal(check(&f), R(BAD_VALUE));
	vo.target.len = 16;
	vo.target.data = f.id;                    /* itself */
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_special(&f, NULL, &vo, target, "");
	assert_int_equal(check(&f), R(MISSING_FIELD));
	memset(reason, 'x', 200);
	reason[200] = '\0';
	make_special(&f, NULL, &vo, target, reason);
	assert_int_equal(check(&f), 0);           /* 200 bytes: the limit */
	reason[200] = 'x';
	reason[201] = '\0';
	assert_int_equal(check(&f), R(BAD_VALUE));
	make_special(&f, NULL, &vo, target, "wrong");
	f.ev.member = 2;
	assert_int_equal(check(&f), R(BAD_VALUE));
	/* a NUL inside the reason on the wire (a C string would end there) */
	make_special(&f, NULL, &vo, target, "wrong#house");
	len = kdc__v1__event__pack(&f.ev, buf);
	assert_int_equal(server_verdict(buf, len, &v), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '#')
			buf[i] = 0;
	assert_int_equal(server_verdict(buf, len, &v), R(MALFORMED));
	assert_non_null(strstr(v.detail, "void reason"));
}

static void test_enum_names(void **state)
{
	assert_int_equal(kdc_account_parse("payment"), 4);
	assert_string_equal(kdc_account_name(2), "vneid_level2");
	assert_int_equal(kdc_method_parse("qr_code"), 2);
	assert_int_equal(kdc_service_parse("nope"), -1);
	assert_null(kdc_purpose_name(0));
	assert_null(kdc_purpose_name(99));
	assert_string_equal(kdc_reason_name(8), "topic_mismatch");
	assert_string_equal(kdc_kind_name(KDC_KIND_SERVICE), "service");
}

/* The business events: member 0, an outcome and known needs for a visit;
 * their kinds are activities and for businesses; a service says VNeID. */
static void test_business_events(void **state)
{
	struct fixture f;
	Kdc__V1__BusinessVisited bv;
	Kdc__V1__EinvoiceAdopted ei;
	Kdc__V1__BusinessAccountCreated ba;
	Kdc__V1__BusinessNeed needs[2] = { KDC__V1__BUSINESS_NEED__BUSINESS_NEED_EINVOICE, 9 };
	kdc_event_pb *d;

	(void)state;
	make_event(&f, KDC_KIND_VISIT);
	kdc__v1__business_visited__init(&bv);
	f.ev.household = "B0001";
	f.ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_VISIT;
	f.ev.business_visit = &bv;
	assert_int_equal(check(&f), R(MISSING_FIELD));    /* no outcome */
	bv.outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
	bv.issues_einvoice = 1;
	bv.needs = needs;
	bv.n_needs = 1;
	assert_int_equal(check(&f), 0);
	d = roundtrip(&f.ev);
	assert_int_equal(kdc_event_kind(d), KDC_KIND_BUSINESS_VISIT);
	assert_true(d->business_visit->issues_einvoice);
	assert_false(d->business_visit->uses_online_services);
	kdc_event_free(d);
	bv.n_needs = 2;                                   /* need 9: unknown */
	assert_int_equal(check(&f), R(BAD_ENUM));
	bv.n_needs = 1;
	f.ev.member = 1;
	assert_int_equal(check(&f), R(BAD_VALUE));
	f.ev.member = 0;
	kdc__v1__einvoice_adopted__init(&ei);
	f.ev.body_case = KDC__V1__EVENT__BODY_EINVOICE;
	f.ev.einvoice = &ei;
	assert_int_equal(check(&f), 0);
	assert_int_equal(kdc_event_kind(&f.ev), KDC_KIND_EINVOICE);
	kdc__v1__business_account_created__init(&ba);
	f.ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_ACCOUNT;
	f.ev.business_account = &ba;
	assert_int_equal(check(&f), 0);
	f.ev.member = 3;
	assert_int_equal(check(&f), R(BAD_VALUE));
	assert_string_equal(kdc_kind_name(KDC_KIND_BUSINESS_VISIT), "business_visit");
	assert_string_equal(kdc_kind_name(KDC_KIND_EINVOICE), "einvoice");
	assert_string_equal(kdc_kind_name(KDC_KIND_BUSINESS_ACCOUNT), "business_account");
	assert_string_equal(kdc_business_need_name(2), "eid_account");
	assert_int_equal(kdc_business_need_parse("digital_skills"), 5);
	for (int k = 0; k < KDC_KIND_ALL; k++) {
		assert_int_equal(kdc_kind_for_business(k), k >= KDC_KIND_BUSINESS_VISIT);
		assert_int_equal(kdc_kind_is_activity(k), k != KDC_KIND_HOUSEHOLD_ADDED && k != KDC_KIND_VOID);
	}
	make_event(&f, KDC_KIND_SERVICE);
	f.service.vneid_level2 = 1;
	assert_int_equal(check(&f), 0);
	d = roundtrip(&f.ev);
	assert_true(d->service->vneid_level2);
	kdc_event_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_kind),
		cmocka_unit_test(test_validation_refuses_each_bad_field),
		cmocka_unit_test(test_unknown_enum_survives_the_wire),
		cmocka_unit_test(test_topic_must_match_payload),
		cmocka_unit_test(test_topic_parser_refuses_bad_shapes),
		cmocka_unit_test(test_decode_refuses_garbage_and_oversize),
		cmocka_unit_test(test_hand_built_codes_decode),
		cmocka_unit_test(test_code_with_nul_is_bad_code),
		cmocka_unit_test(test_code_with_bad_utf8_is_bad_code),
		cmocka_unit_test(test_every_occurrence_is_checked),
		cmocka_unit_test(test_receipt_strings),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_household_added_and_void),
		cmocka_unit_test(test_business_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
