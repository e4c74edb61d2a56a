/* writer_testlib.c: see writer_testlib.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "writer_testlib.h"

void wl_open(struct wl *l, const char *tag, const char *profile_text)
{
	char err[512] = "", ppath[600];
	struct kdc_store_opts so = KDC_STORE_OPTS_INIT;

	memset(l, 0, sizeof *l);
	tl_tmp_path(l->path, sizeof l->path, tag);
	if (profile_text) {
		snprintf(ppath, sizeof ppath, "%s.ini", l->path);
		tl_write_file(ppath, profile_text);
		if (kdc_profile_load(ppath, &l->profile, err, sizeof err) != 0)
			fail_msg("profile: %s", err);
		unlink(ppath);
	} else {
		l->profile = kdc_profile_new_default("31975");
		assert_non_null(l->profile);
	}
	so.synchronous_full = 0;   /* tests: no fsync per batch */
	if (!(l->store = kdc_store_open(l->path, &so, err, sizeof err)))
		fail_msg("store: %s", err);
	if (!(l->stats = kdc_stats_open(kdc_store_db(l->store), l->profile, err, sizeof err)))
		fail_msg("stats: %s", err);
	l->in = kdc_ingest_new(4096);
	l->out = kdc_outq_new(64 << 20);
	assert_non_null(l->in);
	assert_non_null(l->out);
	l->outcomes = calloc(WL_MAX_OUTCOMES, sizeof *l->outcomes);
	assert_non_null(l->outcomes);
	l->conf = (struct kdc_writer_conf)KDC_WRITER_CONF_INIT;
	l->conf.ward = "31975";
	l->conf.batch_max = 64;
	l->conf.batch_ms = 5;
	l->conf.stats_interval_ms = 0;
	l->conf.profile = l->profile;
}

void wl_sql(struct wl *l, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(l->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

long long wl_count(struct wl *l, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open(l->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

void wl_start(struct wl *l)
{
	char err[256] = "";

	/* a new ingest queue: the old one was closed by the stop */
	if (kdc_ingest_closed(l->in)) {
		kdc_ingest_free(l->in);
		l->in = kdc_ingest_new(4096);
		assert_non_null(l->in);
	}
	l->sent = 0;
	l->w = kdc_writer_start(&l->conf, l->store, l->stats, l->in, l->out, err, sizeof err);
	if (!l->w)
		fail_msg("writer: %s", err);
}

void wl_put(struct wl *l, const struct kdc_event_row *r, const uint8_t *target,
            const char *reason, uint32_t people)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__HouseholdVisited visit = KDC__V1__HOUSEHOLD_VISITED__INIT;
	Kdc__V1__AccountCreated acct = KDC__V1__ACCOUNT_CREATED__INIT;
	Kdc__V1__PaymentMade pay = KDC__V1__PAYMENT_MADE__INIT;
	Kdc__V1__ServiceUsed svc = KDC__V1__SERVICE_USED__INIT;
	Kdc__V1__HouseholdAdded add = KDC__V1__HOUSEHOLD_ADDED__INIT;
	Kdc__V1__EventVoided vo = KDC__V1__EVENT_VOIDED__INIT;
	Kdc__V1__BusinessVisited bv = KDC__V1__BUSINESS_VISITED__INIT;
	Kdc__V1__EinvoiceAdopted ei = KDC__V1__EINVOICE_ADOPTED__INIT;
	Kdc__V1__BusinessAccountCreated ba = KDC__V1__BUSINESS_ACCOUNT_CREATED__INIT;
	uint8_t buf[KDC_MAX_EVENT_BYTES];
	char topic[KDC_TOPIC_MAX + 1];
	size_t n;

	ev.id.data = (uint8_t *)r->id;
	ev.id.len = KDC_UUID_LEN;
	ev.seq = r->seq > 0 ? (uint64_t)r->seq : 1;
	ev.occurred_ms = r->occurred_ms;
	ev.ward = "31975";
	ev.khom = (char *)r->khom;
	ev.team = (char *)r->team;
	ev.device = (char *)r->device;
	ev.household = (char *)r->household;
	ev.member = (uint32_t)r->member;
	switch (r->kind) {
	case KDC_KIND_VISIT:
		ev.body_case = KDC__V1__EVENT__BODY_VISIT;
		visit.outcome = (Kdc__V1__VisitOutcome)r->subkind;
		ev.visit = &visit;
		break;
	case KDC_KIND_ACCOUNT:
		ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		acct.kind = (Kdc__V1__AccountKind)r->subkind;
		ev.account = &acct;
		break;
	case KDC_KIND_PAYMENT:
		ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
		pay.purpose = (Kdc__V1__PaymentPurpose)r->subkind;
		pay.method = (Kdc__V1__PaymentMethod)(r->method ? r->method : 1);
		pay.amount_vnd = r->amount_vnd;
		ev.payment = &pay;
		break;
	case KDC_KIND_SERVICE:
		ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
		svc.kind = (Kdc__V1__ServiceKind)r->subkind;
		svc.vneid_level2 = (r->flags & KDC_FLAG_VNEID) != 0;
		ev.service = &svc;
		break;
	case KDC_KIND_BUSINESS_VISIT:
		ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_VISIT;
		bv.outcome = (Kdc__V1__VisitOutcome)(r->subkind ? r->subkind : 1);
		bv.issues_einvoice = (r->flags & KDC_FLAG_EINVOICE) != 0;
		bv.uses_online_services = (r->flags & KDC_FLAG_ONLINE_SERVICES) != 0;
		ev.business_visit = &bv;
		break;
	case KDC_KIND_EINVOICE:
		ev.body_case = KDC__V1__EVENT__BODY_EINVOICE;
		ev.einvoice = &ei;
		break;
	case KDC_KIND_BUSINESS_ACCOUNT:
		ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_ACCOUNT;
		ev.business_account = &ba;
		break;
	case KDC_KIND_HOUSEHOLD_ADDED:
		ev.body_case = KDC__V1__EVENT__BODY_HOUSEHOLD_ADDED;
		add.people_15plus = people;
		add.business = r->subkind == 1;   /* as the stored row says it */
		ev.household_added = &add;
		break;
	default:
		ev.body_case = KDC__V1__EVENT__BODY_VOID;
		vo.target.data = (uint8_t *)target;
		vo.target.len = KDC_UUID_LEN;
		vo.reason = (char *)reason;
		ev.void_ = &vo;
		break;
	}
	assert_true(kdc__v1__event__get_packed_size(&ev) <= sizeof buf);
	n = kdc__v1__event__pack(&ev, buf);
	assert_true(kdc_topic_events(topic, sizeof topic, "31975", r->team, r->device) > 0);
	assert_int_equal(kdc_ingest_put(l->in, topic, buf, n), KDC_OK);
	l->sent++;
}

void wl_wait(struct wl *l)
{
	struct kdc_writer_counters c;

	for (int64_t t0 = kdc_mono_ms();; usleep(2000)) {
		kdc_writer_counters(l->w, &c);
		if (c.stored + c.duplicates + c.rejected >= l->sent)
			break;
		if (c.not_stored)
			fail_msg("the writer failed a batch");
		if (kdc_mono_ms() - t0 > 30000)
			fail_msg("the writer judged %llu of %llu messages within 30 s",
			         (unsigned long long)(c.stored + c.duplicates + c.rejected),
			         (unsigned long long)l->sent);
	}
}

static void wl_outcome_set(struct wl *l, const uint8_t *id, int reason, const char *detail)
{
	size_t i;

	for (i = 0; i < l->noutcomes; i++)
		if (memcmp(l->outcomes[i].id, id, KDC_UUID_LEN) == 0)
			break;
	if (i == l->noutcomes) {
		assert_true(l->noutcomes < WL_MAX_OUTCOMES);
		l->noutcomes++;
	}
	memcpy(l->outcomes[i].id, id, KDC_UUID_LEN);
	l->outcomes[i].reason = reason;
	snprintf(l->outcomes[i].detail, sizeof l->outcomes[i].detail, "%s", detail ? detail : "");
}

void wl_collect(struct wl *l)
{
	struct kdc_outq_msg *m;

	while ((m = kdc_outq_pop(l->out))) {
		/* stats/closed is the closed months' list, not a scope's snapshot */
		if (m->retain && strstr(m->topic, "/stats/") &&
		    strcmp(strstr(m->topic, "/stats/"), "/stats/closed") != 0) {
			const char *p = strstr(m->topic, "/stats/") + 7;
			char scope[16] = "", *json = malloc(m->len + 1);
			const char *slash = strchr(p, '/');
			assert_non_null(json);
			memcpy(json, m->payload, m->len);
			json[m->len] = '\0';
			snprintf(scope, sizeof scope, "%.*s", (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
			tl_emit(&l->ret, scope, slash ? slash + 1 : NULL, json);
			free(json);
		} else if (!m->retain && strstr(m->topic, "/receipts/")) {
			kdc_receipt_pb *r = kdc__v1__receipt__unpack(NULL, m->len, m->payload);
			assert_non_null(r);
			for (size_t i = 0; i < r->n_committed; i++)
				if (r->committed[i].len == KDC_UUID_LEN)
					wl_outcome_set(l, r->committed[i].data, 0, NULL);
			for (size_t i = 0; i < r->n_rejected; i++)
				if (r->rejected[i]->id.len == KDC_UUID_LEN)
					wl_outcome_set(l, r->rejected[i]->id.data, (int)r->rejected[i]->reason,
					               r->rejected[i]->detail);
			kdc__v1__receipt__free_unpacked(r, NULL);
		}
		kdc_outq_msg_free(m);
	}
}

void wl_stop(struct wl *l)
{
	if (l->w) {
		wl_wait(l);
		kdc_writer_stop(l->w);
		l->w = NULL;
	}
	wl_collect(l);
}

void wl_close(struct wl *l)
{
	char side[600];

	wl_stop(l);
	kdc_stats_free(l->stats);
	kdc_store_close(l->store);
	kdc_ingest_free(l->in);
	kdc_outq_free(l->out);
	kdc_profile_free(l->profile);
	tl_retained_free(&l->ret);
	free(l->outcomes);
	unlink(l->path);
	snprintf(side, sizeof side, "%s-wal", l->path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", l->path);
	unlink(side);
}

int wl_outcome(const struct wl *l, const uint8_t *id, const char **detail)
{
	for (size_t i = 0; i < l->noutcomes; i++)
		if (memcmp(l->outcomes[i].id, id, KDC_UUID_LEN) == 0) {
			if (detail)
				*detail = l->outcomes[i].detail;
			return l->outcomes[i].reason;
		}
	return -1;
}

void wl_check_rebuild(struct wl *l, const char *what)
{
	struct tl_retained after;
	int64_t now = kdc_now_ms();

	assert_null(l->w);
	memset(&after, 0, sizeof after);
	/* the same clock for both: publish the incremental numbers again now */
	assert_int_equal(kdc_stats_publish(l->stats, now, 0, tl_emit, &l->ret), 0);
	assert_int_equal(kdc_store_begin(l->store), 0);
	assert_int_equal(kdc_stats_rebuild(l->stats), 0);
	assert_int_equal(kdc_store_commit(l->store), 0);
	assert_int_equal(kdc_stats_publish(l->stats, now, 0, tl_emit, &after), 0);
	for (size_t i = 0; i < l->ret.n; i++) {
		const char *b = tl_get(&after, l->ret.s[i].key);
		cJSON *x, *y;
		if (!b)
			fail_msg("%s: no snapshot of %s after the rebuild", what, l->ret.s[i].key);
		x = tl_parse_numbers(l->ret.s[i].json);
		y = tl_parse_numbers(b);
		if (!cJSON_Compare(x, y, 1)) {
			char *a = cJSON_PrintUnformatted(x), *c = cJSON_PrintUnformatted(y);
			fail_msg("%s: %s differs after the rebuild:\nincremental %s\nrebuild     %s", what,
			         l->ret.s[i].key, a, c);
		}
		cJSON_Delete(x);
		cJSON_Delete(y);
	}
	tl_retained_free(&after);
}

long long wl_int(struct wl *l, const char *key, const char *path)
{
	const char *json = tl_get(&l->ret, key);
	cJSON *root;
	long long v;

	if (!json)
		fail_msg("no snapshot of %s", key);
	root = tl_parse_numbers(json);
	v = tl_int(root, path);
	cJSON_Delete(root);
	return v;
}
