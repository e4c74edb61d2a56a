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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_kind),
		cmocka_unit_test(test_validation_refuses_each_bad_field),
		cmocka_unit_test(test_unknown_enum_survives_the_wire),
		cmocka_unit_test(test_topic_must_match_payload),
		cmocka_unit_test(test_topic_parser_refuses_bad_shapes),
		cmocka_unit_test(test_decode_refuses_garbage_and_oversize),
		cmocka_unit_test(test_enum_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
