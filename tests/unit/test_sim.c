/* test_sim: kdc-sim with no broker (--no-sync). The same seed gives the same
 * events in every outbox, byte for byte apart from the event ids; another
 * seed gives other events; the campaign has a plausible shape (checked on
 * the decoded outboxes with this file's own calendar arithmetic: every event
 * on a working day in working hours inside the window, a household surveyed
 * before any of its accounts, payments only by people with a payment account
 * opened earlier, each account opened once); the summary counts what the
 * outboxes hold; load mode spreads M events over N devices; bad usage exits 2.
 * The model is also checked directly (sim.h): repeatable, sorted, the
 * profile's people 15+ reproduced, elderly households slower. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_util.h"
#include "outbox.h"
#include "profile.h"
#include "sim.h"

#define DAY_MS 86400000LL
#define EXAMPLE_PROFILE KDC_SOURCE_DIR "/deploy/ward-profile.example.ini"
#define CAMPAIGN_DAYS 90
#define OFFSET_MS (7 * 3600 * 1000LL) /* the example profile: UTC+07:00 */

static char tmpdir[400];
static char end_arg[32];   /* the same window end for every run */
static int64_t end_ms;

/* ---- running kdc-sim ------------------------------------------------------------ */

/* Runs kdc-sim with the NULL-terminated arguments, output to LOG; returns its
 * exit status. */
static int run_sim(const char *log, ...)
{
	const char *argv[64];
	va_list ap;
	int n = 0, st;
	pid_t pid;

	argv[n++] = KDC_SIM_PATH;
	va_start(ap, log);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = freopen(log, "w", stdout);
		if (!f || dup2(fileno(stdout), 2) < 0)
			_exit(127);
		execv(KDC_SIM_PATH, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/sim-%d-%s", tmpdir, (int)getpid(), name);
}

/* A campaign with --no-sync into a fresh directory `name`. */
static void campaign(const char *name, const char *seed, const char *profile)
{
	char dir[512], log[600], json[600];
	int st;

	path(dir, sizeof dir, name);
	snprintf(log, sizeof log, "%s.log", dir);
	snprintf(json, sizeof json, "%s.json", dir);
	{
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	if (profile)
		st = run_sim(log, "--no-sync", "--dir", dir, "--days", "90", "--end", end_arg, "--seed",
		             seed, "--progress", "none", "--summary-json", json, "--profile", profile,
		             (char *)NULL);
	else
		st = run_sim(log, "--no-sync", "--dir", dir, "--days", "90", "--end", end_arg, "--seed",
		             seed, "--progress", "none", "--summary-json", json, (char *)NULL);
	if (st != 0) {
		char cmd[700];
		snprintf(cmd, sizeof cmd, "cat '%s' >&2", log);
		(void)system(cmd);
	}
	assert_int_equal(st, 0);
}

static cJSON *read_json(const char *name)
{
	char p[600], *text;
	FILE *f;
	long len;
	cJSON *j;

	path(p, sizeof p, name);
	strcat(p, ".json");
	assert_non_null(f = fopen(p, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	assert_non_null(text = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	j = cJSON_Parse(text);
	free(text);
	assert_non_null(j);
	return j;
}

static int64_t json_int(const cJSON *j, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	if (!cJSON_IsNumber(x))
		fail_msg("summary has no number at %s%s%s", a, b ? "." : "", b ? b : "");
	return (int64_t)x->valuedouble;
}

/* ---- reading outboxes ----------------------------------------------------------- */

struct row {
	int64_t seq, t, amount;
	int kind, sub, member;
	char khom[KDC_CODE_MAX + 1], household[KDC_CODE_MAX + 1], device[KDC_CODE_MAX + 1];
	uint8_t id[KDC_UUID_LEN];
	uint8_t *noid;   /* the packed event with its id left out */
	size_t noid_len;
};

struct rows {
	struct row *r;
	size_t n, cap;
};

static int collect(void *ud, const struct kdc_outbox_row *or)
{
	struct rows *rs = ud;
	struct kdc_verdict v;
	kdc_event_pb *ev = kdc_event_decode(or->payload, or->payload_len, &v);
	struct row *r;
	ProtobufCBinaryData id;

	if (!ev)
		fail_msg("outbox row %lld does not decode: %s", (long long)or->seq, v.detail);
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 1024;
		assert_non_null(rs->r = realloc(rs->r, rs->cap * sizeof *rs->r));
	}
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof *r);
	r->seq = or->seq;
	r->t = ev->occurred_ms;
	r->kind = kdc_event_kind(ev);
	r->member = (int)ev->member;
	snprintf(r->khom, sizeof r->khom, "%s", ev->khom);
	snprintf(r->household, sizeof r->household, "%s", ev->household);
	snprintf(r->device, sizeof r->device, "%s", ev->device);
	memcpy(r->id, or->id, KDC_UUID_LEN);
	switch (r->kind) {
	case KDC_KIND_VISIT: r->sub = ev->visit->outcome; break;
	case KDC_KIND_ACCOUNT: r->sub = ev->account->kind; break;
	case KDC_KIND_PAYMENT: r->sub = ev->payment->purpose; r->amount = ev->payment->amount_vnd; break;
	case KDC_KIND_SERVICE: r->sub = ev->service->kind; break;
	default: fail_msg("outbox row %lld has no body", (long long)or->seq);
	}
	id = ev->id;
	ev->id.len = 0;
	ev->id.data = NULL;
	r->noid_len = kdc__v1__event__get_packed_size(ev);
	assert_non_null(r->noid = malloc(r->noid_len));
	kdc__v1__event__pack(ev, r->noid);
	ev->id = id;
	kdc_event_free(ev);
	return 0;
}

/* Every pending row of every outbox in the run's directory, device by device
 * (T1-D1 .. T1-D{ndev}), each in seq order. */
static void read_run(const char *name, int ndev, struct rows *rs)
{
	char dir[512], p[600], err[256];

	memset(rs, 0, sizeof *rs);
	path(dir, sizeof dir, name);
	for (int d = 1; d <= ndev; d++) {
		kdc_outbox *ob = NULL;
		snprintf(p, sizeof p, "%s/T1-D%d.db", dir, d);
		if (kdc_outbox_open(p, &ob, err, sizeof err) != KDC_OK)
			fail_msg("cannot open %s: %s", p, err);
		assert_int_equal(kdc_outbox_list(ob, KDC_OUTBOX_PENDING, collect, rs), KDC_OK);
		kdc_outbox_close(ob);
	}
}

static void rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].noid);
	free(rs->r);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_same_seed_same_events(void **state)
{
	struct rows a, b;
	size_t same_id = 0;
	cJSON *ja, *jb;

	(void)state;
	campaign("seed7a", "7", NULL);
	campaign("seed7b", "7", NULL);
	read_run("seed7a", 4, &a);
	read_run("seed7b", 4, &b);
	assert_true(a.n > 500);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		if (a.r[i].seq != b.r[i].seq || strcmp(a.r[i].device, b.r[i].device) != 0 ||
		    a.r[i].noid_len != b.r[i].noid_len ||
		    memcmp(a.r[i].noid, b.r[i].noid, a.r[i].noid_len) != 0)
			fail_msg("event %zu differs between two runs with seed 7: %s seq %lld kind %d at %lld "
			         "vs %s seq %lld kind %d at %lld", i, a.r[i].device, (long long)a.r[i].seq,
			         a.r[i].kind, (long long)a.r[i].t, b.r[i].device, (long long)b.r[i].seq,
			         b.r[i].kind, (long long)b.r[i].t);
		same_id += memcmp(a.r[i].id, b.r[i].id, KDC_UUID_LEN) == 0;
	}
	assert_int_equal(same_id, 0); /* ids are made fresh by each device */
	ja = read_json("seed7a");
	jb = read_json("seed7b");
	assert_int_equal(json_int(ja, "events", "total"), (int64_t)a.n);
	assert_int_equal(json_int(jb, "events", "total"), (int64_t)b.n);
	assert_int_equal(json_int(ja, "payments", "amount_vnd"), json_int(jb, "payments", "amount_vnd"));
	assert_int_equal(json_int(ja, "late_events", NULL), json_int(jb, "late_events", NULL));
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	rows_free(&a);
	rows_free(&b);
}

static void test_other_seed_other_events(void **state)
{
	struct rows a, c;
	size_t differ = 0, n;

	(void)state;
	campaign("seed7c", "7", NULL);
	campaign("seed8", "8", NULL);
	read_run("seed7c", 4, &a);
	read_run("seed8", 4, &c);
	n = a.n < c.n ? a.n : c.n;
	for (size_t i = 0; i < n; i++)
		differ += a.r[i].noid_len != c.r[i].noid_len ||
		          memcmp(a.r[i].noid, c.r[i].noid, a.r[i].noid_len) != 0;
	if (differ < n / 2)
		fail_msg("seeds 7 and 8 gave %zu and %zu events of which only %zu differ", a.n, c.n, differ);
	rows_free(&a);
	rows_free(&c);
}

/* Working time by this file's own arithmetic: Monday to Saturday, 7:30-11:30
 * and 13:00-17:00 at UTC+07:00. */
static int working(int64_t t)
{
	time_t s = (time_t)((t + OFFSET_MS) / 1000);
	struct tm tm;
	int m;

	gmtime_r(&s, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	return tm.tm_wday != 0 && ((m >= 450 && m < 690) || (m >= 780 && m < 1020));
}

/* The first row index of household (khom, household) of kind with sub (any
 * sub when sub < 0) and member (any when < 0), earliest in time; -1 if none. */
static long first_of(const struct rows *rs, const struct row *of, int kind, int sub, int member)
{
	long best = -1;

	for (size_t i = 0; i < rs->n; i++) {
		const struct row *r = &rs->r[i];
		if (r->kind != kind || (sub >= 0 && r->sub != sub) || (member >= 0 && r->member != member) ||
		    strcmp(r->household, of->household) != 0 || strcmp(r->khom, of->khom) != 0)
			continue;
		if (best < 0 || r->t < rs->r[best].t)
			best = (long)i;
	}
	return best;
}

static void test_campaign_shape(void **state)
{
	struct rows a;
	int64_t kinds[KDC_KIND_COUNT] = { 0 }, start = end_ms - CAMPAIGN_DAYS * DAY_MS;
	int64_t not_home = 0, revisited = 0, later_accounts = 0;
	cJSON *j;

	(void)state;
	campaign("shape", "11", EXAMPLE_PROFILE);
	read_run("shape", 4, &a);
	assert_true(a.n > 500);
	for (size_t i = 0; i < a.n; i++) {
		const struct row *r = &a.r[i];
		long s;
		kinds[r->kind]++;
		if (r->t < start || r->t > end_ms)
			fail_msg("%s seq %lld: time %lld outside the window [%lld, %lld]", r->device,
			         (long long)r->seq, (long long)r->t, (long long)start, (long long)end_ms);
		if (!working(r->t))
			fail_msg("%s seq %lld: time %lld is not Mon-Sat 7:30-11:30/13:00-17:00 at UTC+7",
			         r->device, (long long)r->seq, (long long)r->t);
		assert_string_equal(r->khom, "6");
		if (i > 0 && strcmp(r->device, a.r[i - 1].device) == 0) {
			/* each outbox was recorded in time order */
			assert_int_equal(r->seq, a.r[i - 1].seq + 1);
			assert_true(r->t >= a.r[i - 1].t);
		}
		switch (r->kind) {
		case KDC_KIND_VISIT:
			assert_int_equal(r->member, 0);
			if (r->sub == KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME) {
				not_home++;
				for (size_t k = 0; k < a.n; k++)
					if (a.r[k].kind == KDC_KIND_VISIT && a.r[k].t > r->t &&
					    strcmp(a.r[k].household, r->household) == 0) {
						revisited++;
						break;
					}
			}
			break;
		case KDC_KIND_ACCOUNT:
			s = first_of(&a, r, KDC_KIND_VISIT, KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED, -1);
			if (s < 0 || a.r[s].t >= r->t)
				fail_msg("household %s: account (kind %d) at %lld %s its survey", r->household,
				         r->sub, (long long)r->t, s < 0 ? "without" : "before");
			if (r->t > a.r[s].t + DAY_MS)
				later_accounts++;
			/* a person opens each kind of account once */
			for (size_t k = i + 1; k < a.n; k++)
				if (a.r[k].kind == KDC_KIND_ACCOUNT && a.r[k].sub == r->sub &&
				    a.r[k].member == r->member && strcmp(a.r[k].household, r->household) == 0)
					fail_msg("household %s member %d opened account kind %d twice", r->household,
					         r->member, r->sub);
			break;
		case KDC_KIND_PAYMENT:
			s = first_of(&a, r, KDC_KIND_ACCOUNT, KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT,
			             r->member);
			if (s < 0 || a.r[s].t >= r->t)
				fail_msg("household %s member %d paid at %lld %s a payment account", r->household,
				         r->member, (long long)r->t, s < 0 ? "without" : "before opening");
			if (r->sub == KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_ELECTRICITY &&
			    (r->amount < 50000 || r->amount > 5000000))
				fail_msg("electricity bill of %lld VND: not a household's monthly bill",
				         (long long)r->amount);
			break;
		default:
			s = first_of(&a, r, KDC_KIND_ACCOUNT, -1, r->member);
			if (s < 0 || a.r[s].t >= r->t)
				fail_msg("household %s member %d used service %d with no account before",
				         r->household, r->member, r->sub);
			break;
		}
	}
	assert_true(kinds[KDC_KIND_VISIT] >= 186 / 2);
	assert_true(kinds[KDC_KIND_ACCOUNT] > 0 && kinds[KDC_KIND_PAYMENT] > 0 && kinds[KDC_KIND_SERVICE] > 0);
	assert_true(not_home > 0);
	assert_true(revisited > 0);      /* households not at home were visited again */
	assert_true(later_accounts > 0); /* not every account opened at the visit */

	/* the summary counts exactly what the outboxes hold */
	j = read_json("shape");
	assert_int_equal(json_int(j, "events", "visit"), kinds[KDC_KIND_VISIT]);
	assert_int_equal(json_int(j, "events", "account"), kinds[KDC_KIND_ACCOUNT]);
	assert_int_equal(json_int(j, "events", "payment"), kinds[KDC_KIND_PAYMENT]);
	assert_int_equal(json_int(j, "events", "service"), kinds[KDC_KIND_SERVICE]);
	assert_int_equal(json_int(j, "events", "total"), (int64_t)a.n);
	assert_int_equal(json_int(j, "pending", NULL), (int64_t)a.n);
	assert_int_equal(json_int(j, "delivered", NULL), 0);
	assert_int_equal(json_int(j, "households", "total"), 186);
	assert_true(json_int(j, "households", "visited") <= 186);
	assert_true(json_int(j, "households", "reached") <= json_int(j, "households", "surveyed"));
	assert_true(json_int(j, "late_events", NULL) > 0);
	assert_int_equal(json_int(j, "start_ms", NULL), start);
	assert_int_equal(json_int(j, "end_ms", NULL), end_ms);
	cJSON_Delete(j);
	rows_free(&a);
}

static void test_load_mode(void **state)
{
	char dir[512], log[600], cmd[1200];
	struct rows a;
	int per[4] = { 0 };

	(void)state;
	path(dir, sizeof dir, "load");
	snprintf(log, sizeof log, "%s.log", dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(run_sim(log, "--no-sync", "--dir", dir, "--events", "1000", "--devices", "3",
	                         "--profile", EXAMPLE_PROFILE, "--progress", "none", (char *)NULL), 0);
	read_run("load", 3, &a);
	assert_int_equal(a.n, 1000);
	for (size_t i = 0; i < a.n; i++)
		per[a.r[i].device[4] - '0']++;
	for (int d = 1; d <= 3; d++)
		assert_in_range(per[d], 333, 334);
	rows_free(&a);
}

static void test_usage_errors(void **state)
{
	char log[600];

	(void)state;
	path(log, sizeof log, "usage.log");
	assert_int_equal(run_sim(log, "--days", "0", "--no-sync", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--no-such-option", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--profile", "/nonexistent/profile.ini", "--no-sync", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--rate", "100", "--no-sync", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--end", "2001-01-01", "--no-sync", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--speed", "60", "--no-sync", (char *)NULL), 2);
	assert_int_equal(run_sim(log, "--help", (char *)NULL), 0);
}

/* ---- the model directly -------------------------------------------------------------- */

static struct kdc_profile *example(void)
{
	struct kdc_profile *p = NULL;
	char err[256];

	if (kdc_profile_load(EXAMPLE_PROFILE, &p, err, sizeof err) != KDC_OK)
		fail_msg("%s", err);
	return p;
}

static void test_model_repeatable(void **state)
{
	struct kdc_profile *p = example();
	struct kdc_sim_params par = { 3, end_ms - CAMPAIGN_DAYS * DAY_MS, end_ms, 4, 0, 0 };
	struct kdc_sim *a = NULL, *b = NULL;
	char err[256];
	long long adults = 0;

	(void)state;
	assert_int_equal(kdc_sim_new(p, &par, &a, err, sizeof err), KDC_OK);
	assert_int_equal(kdc_sim_new(p, &par, &b, err, sizeof err), KDC_OK);
	assert_int_equal(a->nevents, b->nevents);
	assert_memory_equal(a->events, b->events, a->nevents * sizeof *a->events);
	/* devices: the profile's three, then one more */
	assert_int_equal(a->ndevices, 4);
	assert_string_equal(a->devices[0].code, "T1-D1");
	assert_string_equal(a->devices[3].code, "T1-D4");
	for (size_t i = 0; i < a->nhouseholds; i++)
		adults += a->households[i].members_15plus;
	assert_int_equal(adults, 520); /* the profile's people_15plus */
	assert_string_equal(a->households[0].code, "H001");
	assert_string_equal(a->households[185].code, "H186");
	for (size_t i = 0; i < a->nevents; i++) {
		assert_true(kdc_sim_working_time(a->events[i].t, 420));
		assert_int_equal(working(a->events[i].t), 1);
		if (i > 0)
			assert_true(a->events[i].t >= a->events[i - 1].t);
	}
	kdc_sim_free(a);
	kdc_sim_free(b);
	kdc_profile_free(p);
}

/* Businesses (khóm 6's 20 shops): their events come from a stream of their
 * own, so the households' events are the same as without them; each is a
 * valid business event (member 0, a B code of khóm 6) at a working time of
 * the window, by a device covering the khóm; some adopt e-invoices and open
 * an e-identified account. */
static void test_businesses(void **state)
{
	struct kdc_profile *p = example();
	struct kdc_sim_params par = { 5, end_ms - CAMPAIGN_DAYS * DAY_MS, end_ms, 3, 0, 4 };
	struct kdc_sim *a = NULL, *b = NULL;
	struct kdc_sim_pb pb;
	struct kdc_verdict v;
	uint8_t id[16];
	char err[256];
	size_t nh = 0, kinds[KDC_KIND_ALL] = { 0 };

	(void)state;
	assert_int_equal(kdc_sim_new(p, &par, &a, err, sizeof err), KDC_OK);
	p->khoms[0].businesses = 20;
	assert_int_equal(kdc_sim_new(p, &par, &b, err, sizeof err), KDC_OK);
	assert_int_equal(a->nbusinesses, 0);
	assert_int_equal(b->nbusinesses, 20);
	assert_string_equal(b->businesses[0].code, "B0001");
	assert_string_equal(b->businesses[19].code, "B0020");
	for (size_t i = 0; i < b->nevents; i++) {
		const struct kdc_sim_event *e = &b->events[i];
		if (!kdc_kind_for_business(e->kind)) {
			/* the households' events, in the same order as without businesses */
			assert_true(nh < a->nevents);
			assert_memory_equal(e, &a->events[nh], sizeof *e);
			nh++;
			continue;
		}
		kinds[e->kind]++;
		assert_int_equal(working(e->t), 1);
		assert_true(e->household < 20);
		assert_int_equal(e->device, b->businesses[e->household].device);
		kdc_sim_event_pb(b, e, &pb);
		assert_int_equal(kdc_uuid7(id, e->t), KDC_OK);
		pb.ev.id.data = id;
		pb.ev.id.len = 16;
		pb.ev.seq = 1;
		pb.ev.ward = "31975";
		pb.ev.team = "T1";
		pb.ev.device = (char *)b->devices[e->device].code;
		if (kdc_event_validate(&pb.ev, NULL, "31975", e->t, &v) != 0)
			fail_msg("business event %zu refused: %s", i, v.detail);
		assert_string_equal(pb.ev.khom, "6");
		assert_int_equal(pb.ev.household[0], 'B');
	}
	assert_int_equal(nh, a->nevents);
	assert_true(kinds[KDC_KIND_BUSINESS_VISIT] >= 19);  /* every one visited (at most one declined early) */
	assert_true(kinds[KDC_KIND_EINVOICE] > 0);
	assert_true(kinds[KDC_KIND_BUSINESS_ACCOUNT] > 0);
	kdc_sim_free(a);
	kdc_sim_free(b);
	kdc_profile_free(p);
}

/* --household-digits 4 names the households as the example register does
 * (H0001 ... H0186 for khóm 6); fewer digits than a khóm needs are widened;
 * the events are the same whatever the codes. */
static void test_household_digits(void **state)
{
	struct kdc_profile *p = example();
	struct kdc_sim_params par = { 3, end_ms - CAMPAIGN_DAYS * DAY_MS, end_ms, 4, 0, 0 };
	struct kdc_sim *a = NULL, *b = NULL, *c = NULL;
	char err[256], want[32];

	(void)state;
	assert_int_equal(kdc_sim_new(p, &par, &a, err, sizeof err), KDC_OK);
	par.household_digits = 4;
	assert_int_equal(kdc_sim_new(p, &par, &b, err, sizeof err), KDC_OK);
	par.household_digits = 1;
	assert_int_equal(kdc_sim_new(p, &par, &c, err, sizeof err), KDC_OK);
	assert_int_equal(b->nhouseholds, 186);
	for (size_t i = 0; i < b->nhouseholds; i++) {
		snprintf(want, sizeof want, "H%04zu", i + 1);
		assert_string_equal(b->households[i].code, want);
		assert_string_equal(c->households[i].code, a->households[i].code);
	}
	assert_string_equal(b->households[185].code, "H0186");
	assert_string_equal(c->households[0].code, "H001");
	assert_int_equal(a->nevents, b->nevents);
	assert_memory_equal(a->events, b->events, a->nevents * sizeof *a->events);
	kdc_sim_free(a);
	kdc_sim_free(b);
	kdc_sim_free(c);
	kdc_profile_free(p);
}

static void test_working_time(void **state)
{
	int64_t fri; /* Friday 2026-11-27 00:00 local = 2026-11-26T17:00Z */

	(void)state;
	assert_int_equal(kdc_time_parse("2026-11-26T17:00:00Z", &fri), KDC_OK);
	assert_true(kdc_sim_working_time(fri + (7 * 60 + 30) * 60000LL, 420));     /* 07:30 */
	assert_false(kdc_sim_working_time(fri + (7 * 60 + 29) * 60000LL, 420));    /* 07:29 */
	assert_false(kdc_sim_working_time(fri + 12 * 3600000LL, 420));             /* lunch */
	assert_true(kdc_sim_working_time(fri + 16 * 3600000LL, 420));              /* 16:00 */
	assert_false(kdc_sim_working_time(fri + 17 * 3600000LL, 420));             /* 17:00 */
	assert_true(kdc_sim_working_time(fri + DAY_MS + 9 * 3600000LL, 420));      /* Saturday */
	assert_false(kdc_sim_working_time(fri + 2 * DAY_MS + 9 * 3600000LL, 420)); /* Sunday */
}

/* Elderly households adopt less within the same campaign (over many seeds,
 * so that the comparison is about the curves, not about luck). */
static void test_elderly_slower(void **state)
{
	struct kdc_profile *p = example();
	long long adults[2] = { 0 }, accounts[2] = { 0 };
	char err[256];

	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct kdc_sim_params par = { seed, end_ms - CAMPAIGN_DAYS * DAY_MS, end_ms, 4, 0, 0 };
		struct kdc_sim *s = NULL;
		assert_int_equal(kdc_sim_new(p, &par, &s, err, sizeof err), KDC_OK);
		for (size_t i = 0; i < s->nhouseholds; i++)
			adults[s->households[i].elderly] += s->households[i].members_15plus;
		for (size_t i = 0; i < s->nevents; i++)
			if (s->events[i].kind == KDC_KIND_ACCOUNT)
				accounts[s->households[s->events[i].household].elderly]++;
		kdc_sim_free(s);
	}
	assert_true(adults[1] > 0 && adults[0] > 0);
	/* accounts per adult: elderly below two thirds of the others */
	if (accounts[1] * adults[0] * 3 >= accounts[0] * adults[1] * 2)
		fail_msg("elderly: %lld accounts for %lld adults; others: %lld for %lld", accounts[1],
		         adults[1], accounts[0], adults[0]);
	kdc_profile_free(p);
}

int main(void)
{
	const char *dir = getenv("KDC_TEST_TMP");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_working_time),
		cmocka_unit_test(test_model_repeatable),
		cmocka_unit_test(test_household_digits),
		cmocka_unit_test(test_businesses),
		cmocka_unit_test(test_elderly_slower),
		cmocka_unit_test(test_same_seed_same_events),
		cmocka_unit_test(test_other_seed_other_events),
		cmocka_unit_test(test_campaign_shape),
		cmocka_unit_test(test_load_mode),
		cmocka_unit_test(test_usage_errors),
	};

	snprintf(tmpdir, sizeof tmpdir, "%s", dir && *dir ? dir : "/tmp");
	mkdir(tmpdir, 0700);
	/* a whole hour a little in the past: both runs of a pair share the window */
	end_ms = (kdc_now_ms() / 3600000LL - 1) * 3600000LL;
	kdc_time_format(end_ms, end_arg, sizeof end_arg);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
