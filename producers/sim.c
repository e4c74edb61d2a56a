/* sim.c: the campaign model of kdc-sim. See sim.h for what is simulated and
 * the guarantees (working hours, order, determinism).
 *
 * Generation is per household, each with its own PRNG stream, so a
 * household's events do not depend on how many other households there are or
 * in which order they are generated; the events are then sorted by time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "kdc_err.h"
#include "sim.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define AM_START (KDC_SIM_WORK_AM_START * MIN_MS)
#define AM_END (KDC_SIM_WORK_AM_END * MIN_MS)
#define PM_START (KDC_SIM_WORK_PM_START * MIN_MS)
#define PM_END (KDC_SIM_WORK_PM_END * MIN_MS)
#define AM_LEN (AM_END - AM_START)
#define WORK_MS (AM_LEN + PM_END - PM_START) /* working ms in a day */

#define SIM_MAX_HOUSEHOLDS 5000000LL
#define SIM_VISIT_PHASE 0.6      /* first visits over this share of the working days */
#define SIM_ATTEMPTS 3           /* visits to a household never at home */
#define SIM_CURVE_K 9.0          /* steepness of the adoption curves */
#define SIM_OFFLINE_EVERY_MS (5 * DAY_MS)

/* streams of the PRNG (second seed word) */
enum { STREAM_HOUSEHOLD = 1, STREAM_DEVICE, STREAM_PEOPLE, STREAM_EVENTS };

/* ---- PRNG ------------------------------------------------------------------ */

static uint64_t sim__splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void kdc_sim_rng_seed(struct kdc_sim_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = seed;

	/* mix the stream numbers through splitmix64 too, so that nearby streams
	 * (households 1 and 2) start far apart */
	x = sim__splitmix64(&x) ^ a;
	x = sim__splitmix64(&x) ^ b;
	for (int i = 0; i < 4; i++)
		r->s[i] = sim__splitmix64(&x);
}

static uint64_t sim__rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t kdc_sim_rng_next(struct kdc_sim_rng *r)
{
	uint64_t *s = r->s, out = sim__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim__rotl(s[3], 45);
	return out;
}

uint64_t kdc_sim_rng_below(struct kdc_sim_rng *r, uint64_t n)
{
	/* Lemire's multiply-shift; the tiny bias does not matter here */
	return (uint64_t)(((unsigned __int128)kdc_sim_rng_next(r) * n) >> 64);
}

double kdc_sim_rng_unit(struct kdc_sim_rng *r)
{
	return (double)(kdc_sim_rng_next(r) >> 11) * 0x1.0p-53;
}

static int64_t sim__exp(struct kdc_sim_rng *r, double mean)
{
	return (int64_t)(-mean * log(1.0 - kdc_sim_rng_unit(r)));
}

static int64_t sim__between(struct kdc_sim_rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)kdc_sim_rng_below(r, (uint64_t)(hi - lo + 1));
}

/* ---- calendar ---------------------------------------------------------------- */

/* Monday to Saturday. */
static int sim__workday(int64_t day)
{
	return kdc_weekday(day) != 6;
}

int kdc_sim_working_time(int64_t t, int utc_offset_min)
{
	int64_t day = kdc_local_day(t, utc_offset_min);
	int64_t tod = t - kdc_local_day_start(day, utc_offset_min);

	return sim__workday(day) && ((tod >= AM_START && tod < AM_END) ||
	                             (tod >= PM_START && tod < PM_END));
}

/* Working ms (0..WORK_MS) <-> local time of day. */
static int64_t sim__wms_tod(int64_t w)
{
	return w < AM_LEN ? AM_START + w : PM_START + (w - AM_LEN);
}

/* First working instant at or after tod, as working ms (WORK_MS: none). */
static int64_t sim__tod_wms_ceil(int64_t tod)
{
	if (tod <= AM_START)
		return 0;
	if (tod < AM_END)
		return tod - AM_START;
	if (tod <= PM_START)
		return AM_LEN;
	if (tod < PM_END)
		return AM_LEN + tod - PM_START;
	return WORK_MS;
}

/* Last working instant at or before tod, as working ms (-1: none). */
static int64_t sim__tod_wms_floor(int64_t tod)
{
	if (tod < AM_START)
		return -1;
	if (tod < AM_END)
		return tod - AM_START;
	if (tod < PM_START)
		return AM_LEN - 1;
	if (tod < PM_END)
		return AM_LEN + tod - PM_START;
	return WORK_MS - 1;
}

/* ---- generation context -------------------------------------------------------- */

struct sim_ctx {
	struct kdc_sim *s;
	uint64_t seed;
	int64_t first_day, last_day;
	int64_t *wdays;             /* working days with working time in the window */
	size_t nwdays;
	size_t cap_events;
	int failed;                 /* out of memory while emitting */
};

static int64_t sim__day(const struct sim_ctx *c, int64_t t)
{
	return kdc_local_day(t, c->s->utc_offset_min);
}

/* Local time of day of t, in ms since the start of day. */
static int64_t sim__tod(const struct sim_ctx *c, int64_t t, int64_t day)
{
	return t - kdc_local_day_start(day, c->s->utc_offset_min);
}

static int64_t sim__at(const struct sim_ctx *c, int64_t day, int64_t wms)
{
	return kdc_local_day_start(day, c->s->utc_offset_min) + sim__wms_tod(wms);
}

/* The working ms [lo, hi) of day that fall inside the window; 0 if none. */
static int sim__span(const struct sim_ctx *c, int64_t day, int64_t *lo, int64_t *hi)
{
	if (day < c->first_day || day > c->last_day || !sim__workday(day))
		return 0;
	*lo = 0;
	*hi = WORK_MS;
	if (day == c->first_day) {
		int64_t w = sim__tod_wms_ceil(sim__tod(c, c->s->start_ms, day));
		if (w > *lo)
			*lo = w;
	}
	if (day == c->last_day) {
		int64_t w = sim__tod_wms_floor(sim__tod(c, c->s->end_ms, day)) + 1;
		if (w < *hi)
			*hi = w;
	}
	return *lo < *hi;
}

/* A random working time on the first working day from `day` on; 0 when the
 * window ends first. */
static int64_t sim__time_from_day(const struct sim_ctx *c, struct kdc_sim_rng *r, int64_t day)
{
	int64_t lo, hi;

	if (day < c->first_day)
		day = c->first_day;
	for (; day <= c->last_day; day++)
		if (sim__span(c, day, &lo, &hi))
			return sim__at(c, day, lo + (int64_t)kdc_sim_rng_below(r, (uint64_t)(hi - lo)));
	return 0;
}

/* The first working instant at or after t; 0 when that is after the window. */
static int64_t sim__next_work(const struct sim_ctx *c, int64_t t)
{
	int64_t day = sim__day(c, t), w, r = 0;

	if (sim__workday(day) && (w = sim__tod_wms_ceil(sim__tod(c, t, day))) < WORK_MS) {
		r = sim__at(c, day, w);
	} else {
		for (day++; !sim__workday(day); day++)
			;
		r = sim__at(c, day, 0);
	}
	if (r < t) /* within the same working ms: keep the exact instant */
		r = t;
	return r <= c->s->end_ms ? r : 0;
}

/* ---- emitting ---------------------------------------------------------------- */

static void sim__emit(struct sim_ctx *c, uint32_t h, uint32_t *order, int64_t t, int kind,
                      int sub, int member, int method, int64_t amount)
{
	struct kdc_sim *s = c->s;
	struct kdc_sim_event *e;

	if (c->failed || t < s->start_ms || t > s->end_ms)
		return;
	if (s->nevents == c->cap_events) {
		size_t cap = c->cap_events ? c->cap_events * 2 : 4096;
		struct kdc_sim_event *n = realloc(s->events, cap * sizeof *n);
		if (!n) {
			c->failed = 1;
			return;
		}
		s->events = n;
		c->cap_events = cap;
	}
	e = &s->events[s->nevents++];
	memset(e, 0, sizeof *e);
	e->t = t;
	e->amount_vnd = amount;
	e->household = h;
	e->device = s->households[h].device;
	e->order = (*order)++;
	e->kind = (uint8_t)kind;
	e->sub = (uint8_t)sub;
	e->member = (uint8_t)member;
	e->method = (uint8_t)method;
}

/* ---- amounts (VND) ---------------------------------------------------------------- */

/* EVN residential tariff (VND/kWh before VAT, tiers of 50, 50, 100, 100,
 * 100 kWh, then the rest), plus VAT 8%. */
static int64_t sim__electricity_bill(int64_t kwh)
{
	static const int64_t size[] = { 50, 50, 100, 100, 100, INT64_MAX };
	static const int64_t price[] = { 1806, 1866, 2167, 2729, 3050, 3151 };
	int64_t left = kwh, sum = 0;

	for (int i = 0; i < 6 && left > 0; i++) {
		int64_t n = left < size[i] ? left : size[i];
		sum += n * price[i];
		left -= n;
	}
	return (sum * 108 + 50) / 100;
}

/* Water: whole m3 at 8,400 VND, plus 10% environment fee and 5% VAT. */
static int64_t sim__water_bill(int64_t m3)
{
	return (m3 * 8400 * 115 + 50) / 100;
}

static int64_t sim__round(double v, int64_t unit)
{
	int64_t x = ((int64_t)v + unit / 2) / unit * unit;
	return x < unit ? unit : x;
}

/* ---- one household's campaign --------------------------------------------------- */

/* Adoption curves: L (the share that ever adopts), f0 (campaign fraction at
 * which half of them have). Order: AccountKind numbers. */
static const double curve_l[5] = { 0, 0.65, 0.80, 0.70, 0.65 };
static const double curve_f0[5] = { 0, 0.40, 0.30, 0.35, 0.40 };
/* the order in which kinds are considered: VNeID first (the portal needs it) */
static const int account_order[4] = {
	KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2,
	KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PUBLIC_SERVICE_PORTAL,
	KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PROVINCIAL_APP,
	KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT,
};

static int sim__method(struct kdc_sim_rng *r, int preferred)
{
	if (kdc_sim_rng_unit(r) < 0.8)
		return preferred;
	return 1 + (int)kdc_sim_rng_below(r, 4);
}

static int sim__preferred_method(struct kdc_sim_rng *r)
{
	double u = kdc_sim_rng_unit(r);

	return u < 0.40 ? KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_QR_CODE :
	       u < 0.70 ? KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_BANK_TRANSFER :
	       u < 0.95 ? KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_EWALLET :
	                  KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_CARD;
}

/* The visits; returns the time of the survey, 0 if none. */
static int64_t sim__visits(struct sim_ctx *c, struct kdc_sim_rng *r, uint32_t h, size_t pos,
                           uint32_t *order)
{
	const struct kdc_sim_household *hh = &c->s->households[h];
	const struct kdc_sim_device *dev = &c->s->devices[hh->device];
	size_t phase = (size_t)ceil((double)c->nwdays * SIM_VISIT_PHASE), di;
	double not_home = hh->elderly ? 0.12 : 0.28;
	int64_t t;

	if (c->nwdays == 0)
		return 0;
	if (phase < 1)
		phase = 1;
	/* door to door: the device's households in order over the visit phase */
	di = pos * phase / dev->nhouseholds;
	t = sim__time_from_day(c, r, c->wdays[di]);
	for (int attempt = 0; attempt < SIM_ATTEMPTS && t; attempt++) {
		double u = kdc_sim_rng_unit(r);
		if (u < not_home) {
			sim__emit(c, h, order, t, KDC_KIND_VISIT,
			          KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME, 0, 0, 0);
			di += 1 + kdc_sim_rng_below(r, 5);
			if (di >= c->nwdays)
				return 0;
			t = sim__time_from_day(c, r, c->wdays[di]);
			continue;
		}
		if (u < not_home + 0.04) {
			sim__emit(c, h, order, t, KDC_KIND_VISIT,
			          KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_DECLINED, 0, 0, 0);
			return 0;
		}
		sim__emit(c, h, order, t, KDC_KIND_VISIT,
		          KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED, 0, 0, 0);
		return t;
	}
	return 0;
}

/* Accounts of adult j, after the survey at ts; times in acct[kind] (0 none).
 * openness scales the household's curves: families tend to go digital
 * together, or not at all. */
static void sim__accounts(struct sim_ctx *c, struct kdc_sim_rng *r, uint32_t h, int j,
                          int64_t ts, double openness, uint32_t *order, int64_t acct[5])
{
	const struct kdc_sim_household *hh = &c->s->households[h];
	double span = (double)(c->s->end_ms - c->s->start_ms);

	for (int i = 0; i < 4; i++) {
		int kind = account_order[i];
		double u = kdc_sim_rng_unit(r), session = kdc_sim_rng_unit(r);
		double l = curve_l[kind] * openness, f0 = curve_f0[kind], fstar;
		int64_t ta;
		int eligible = 1;

		if (hh->elderly) {
			l *= 0.55;
			f0 += 0.25;
		}
		if (kind == KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PUBLIC_SERVICE_PORTAL)
			eligible = acct[KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2] != 0;
		if (kind == KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PROVINCIAL_APP)
			eligible = j <= hh->smartphones;
		if (!eligible || u >= l)
			continue;
		/* when the person's logistic curve reaches their threshold u */
		fstar = u <= 0 ? -1.0 : f0 - log(l / u - 1.0) / SIM_CURVE_K;
		if (fstar * span + (double)c->s->start_ms <= (double)ts) {
			/* already convinced: opened during the visit */
			ta = sim__next_work(c, ts + (int64_t)((5 + session * 55) * MIN_MS));
		} else {
			int64_t when = c->s->start_ms + (int64_t)(fstar * span);
			ta = when > c->s->end_ms ? 0 : sim__time_from_day(c, r, sim__day(c, when));
			if (ta && ta <= ts)
				ta = sim__next_work(c, ts + 5 * MIN_MS);
		}
		if (ta && kind == KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PUBLIC_SERVICE_PORTAL) {
			int64_t after = acct[KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2] + 2 * MIN_MS;
			if (ta < after)
				ta = sim__next_work(c, after);
		}
		if (!ta)
			continue;
		sim__emit(c, h, order, ta, KDC_KIND_ACCOUNT, kind, j, 0, 0);
		acct[kind] = ta;
	}
}

/* A random working time in local month (y, m), after `after`; 0 if none. */
static int64_t sim__time_in_month(struct sim_ctx *c, struct kdc_sim_rng *r, int64_t y,
                                  unsigned m, unsigned dd, int64_t after)
{
	int64_t first = kdc_days_from_civil(y, m, 1), day = first + dd - 1, t;

	if (day < c->first_day)
		return 0;
	t = sim__time_from_day(c, r, day);
	return t > after ? t : 0;
}

static unsigned sim__days_in_month(int64_t y, unsigned m)
{
	int64_t a = kdc_days_from_civil(y, m, 1);
	int64_t b = m == 12 ? kdc_days_from_civil(y + 1, 1, 1) : kdc_days_from_civil(y, m + 1, 1);
	return (unsigned)(b - a);
}

/* Payments of holder j in month (y, m) besides the household's bills. The
 * draws are made one by one (an initializer list would leave their order to
 * the compiler, and with it the events). */
static void sim__own_payments(struct sim_ctx *c, struct kdc_sim_rng *r, uint32_t h, int j,
                              int64_t y, unsigned m, unsigned dim, int64_t own, int preferred,
                              uint32_t *order)
{
	static const int64_t topup[] = { 20000, 50000, 100000, 200000 };
	static const int64_t fee[] = { 10000, 20000, 50000, 100000, 200000 };
	const struct kdc_sim_household *hh = &c->s->households[h];
	int kids = hh->members > hh->members_15plus;
	struct { int purpose; double p; int64_t amount; } item[6] = {
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_TELECOM, 0.45, 0 },
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_SHOPPING, 0.30, 0 },
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_HEALTH, hh->elderly ? 0.12 : 0.05, 0 },
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_PUBLIC_FEE, 0.04, 0 },
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_SCHOOL_FEE,
		  kids && j <= 2 && (m == 8 || m == 9 || m == 1) ? 0.5 : 0, 0 },
		{ KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_OTHER, 0.03, 0 },
	};

	item[0].amount = topup[kdc_sim_rng_below(r, 4)];
	item[1].amount = sim__round(20000 * exp(4.6 * kdc_sim_rng_unit(r)), 1000);
	item[2].amount = sim__round(100000 + 1400000 * kdc_sim_rng_unit(r), 1000);
	item[3].amount = fee[kdc_sim_rng_below(r, 5)];
	item[4].amount = sim__round(300000 + 2700000 * kdc_sim_rng_unit(r), 10000);
	item[5].amount = sim__round(10000 + 490000 * kdc_sim_rng_unit(r), 1000);
	for (size_t k = 0; k < sizeof item / sizeof item[0]; k++) {
		unsigned day = 1 + (unsigned)kdc_sim_rng_below(r, dim);
		double pu = kdc_sim_rng_unit(r);
		int64_t t;
		if (!own || pu >= item[k].p)
			continue;
		if ((t = sim__time_in_month(c, r, y, m, day, own)))
			sim__emit(c, h, order, t, KDC_KIND_PAYMENT, item[k].purpose, j,
			          sim__method(r, preferred), item[k].amount);
	}
}

/* Payments of the household's payment-account holders. */
static void sim__payments(struct sim_ctx *c, struct kdc_sim_rng *r, uint32_t h,
                          uint32_t *order, int64_t acct[][5])
{
	const struct kdc_sim_household *hh = &c->s->households[h];
	int n = hh->members_15plus, payer = 0;
	int preferred[KDC_SIM_MAX_ADULTS + 1];
	double kwh_base = 40 + 45.0 * hh->members + 80 * kdc_sim_rng_unit(r);
	double m3_base = 3.0 * hh->members + 3 * kdc_sim_rng_unit(r);
	int piped = kdc_sim_rng_unit(r) < 0.8;
	unsigned due_e = 5 + (unsigned)kdc_sim_rng_below(r, 16);
	unsigned due_w = 5 + (unsigned)kdc_sim_rng_below(r, 16);
	double cashless = hh->elderly ? 0.65 : 0.88;
	int64_t y, y_end;
	unsigned m, m_end, d;

	if (hh->elderly)
		kwh_base *= 0.8;
	for (int j = 1; j <= n; j++) {
		preferred[j] = sim__preferred_method(r);
		if (acct[j][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT] &&
		    (!payer || acct[j][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT] <
		               acct[payer][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT]))
			payer = j;
	}
	if (!payer)
		return;
	kdc_civil_from_days(c->first_day, &y, &m, &d);
	kdc_civil_from_days(c->last_day, &y_end, &m_end, &d);
	for (;;) {
		unsigned dim = sim__days_in_month(y, m);
		int64_t t, after = acct[payer][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT];
		double u = kdc_sim_rng_unit(r), f = 0.85 + 0.3 * kdc_sim_rng_unit(r);

		/* the household's bills, paid by its first payment-account holder */
		t = sim__time_in_month(c, r, y, m, due_e, after);
		if (t && u < cashless)
			sim__emit(c, h, order, t, KDC_KIND_PAYMENT,
			          KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_ELECTRICITY, payer,
			          sim__method(r, preferred[payer]),
			          sim__electricity_bill((int64_t)(kwh_base * f)));
		u = kdc_sim_rng_unit(r);
		f = 0.8 + 0.4 * kdc_sim_rng_unit(r);
		t = sim__time_in_month(c, r, y, m, due_w, after);
		if (piped && t && u < cashless - 0.1)
			sim__emit(c, h, order, t, KDC_KIND_PAYMENT,
			          KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_WATER, payer,
			          sim__method(r, preferred[payer]),
			          sim__water_bill((int64_t)(m3_base * f + 0.5)));
		/* each holder's own payments now and then */
		for (int j = 1; j <= n; j++)
			sim__own_payments(c, r, h, j, y, m, dim, acct[j][KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PAYMENT],
			                  preferred[j], order);
		if (y == y_end && m == m_end)
			break;
		if (++m > 12) {
			m = 1;
			y++;
		}
	}
}

static int64_t sim__min_set(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* Online services of adult j once they have the account the service needs. */
static void sim__services(struct sim_ctx *c, struct kdc_sim_rng *r, uint32_t h, int j,
                          uint32_t *order, const int64_t acct[5])
{
	const struct kdc_sim_household *hh = &c->s->households[h];
	int64_t portal = acct[KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PUBLIC_SERVICE_PORTAL];
	int64_t vneid = acct[KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2];
	int64_t app = acct[KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_PROVINCIAL_APP];
	int kids = hh->members > hh->members_15plus;
	struct { int kind; int64_t gate; double per30d; } svc[] = {
		{ KDC__V1__SERVICE_KIND__SERVICE_KIND_MEDICAL_BOOKING, sim__min_set(app, vneid),
		  hh->elderly ? 0.30 : 0.15 },
		{ KDC__V1__SERVICE_KIND__SERVICE_KIND_FIELD_REPORT, app, 0.15 },
		{ KDC__V1__SERVICE_KIND__SERVICE_KIND_OTHER, portal, 0.08 },
		{ KDC__V1__SERVICE_KIND__SERVICE_KIND_MARITAL_STATUS, sim__min_set(portal, vneid), 0.02 },
		{ KDC__V1__SERVICE_KIND__SERVICE_KIND_BIRTH_REGISTRATION,
		  kids && j <= 2 ? sim__min_set(portal, vneid) : 0, 0.03 },
	};

	for (size_t k = 0; k < sizeof svc / sizeof svc[0]; k++) {
		int64_t t = svc[k].gate;
		if (!t)
			continue;
		for (;;) {
			int64_t te;
			t += sim__exp(r, 30.0 * DAY_MS / svc[k].per30d);
			if (t > c->s->end_ms)
				break;
			te = sim__time_from_day(c, r, sim__day(c, t));
			if (!te)
				break;
			if (te > svc[k].gate)
				sim__emit(c, h, order, te, KDC_KIND_SERVICE, svc[k].kind, j, 0, 0);
			if (te > t)
				t = te;
		}
	}
}

static void sim__household_events(struct sim_ctx *c, uint32_t h, size_t pos)
{
	const struct kdc_sim_household *hh = &c->s->households[h];
	struct kdc_sim_rng r;
	int64_t acct[KDC_SIM_MAX_ADULTS + 1][5], ts;
	uint32_t order = 0;
	double openness;

	if (hh->device == KDC_SIM_NO_DEVICE)
		return;
	/* a stream of its own, distinct from the one that drew its make-up */
	kdc_sim_rng_seed(&r, c->seed, STREAM_EVENTS, h);
	memset(acct, 0, sizeof acct);
	openness = 0.2 + 1.0 * kdc_sim_rng_unit(&r);
	if (openness > 1.0)
		openness = 1.0;
	if (!(ts = sim__visits(c, &r, h, pos, &order)))
		return;
	for (int j = 1; j <= hh->members_15plus; j++)
		sim__accounts(c, &r, h, j, ts, openness, &order, acct[j]);
	sim__payments(c, &r, h, &order, acct);
	for (int j = 1; j <= hh->members_15plus; j++)
		sim__services(c, &r, h, j, &order, acct[j]);
}

static int sim__event_cmp(const void *a, const void *b)
{
	const struct kdc_sim_event *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->household != y->household)
		return x->household < y->household ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- the ward: teams, devices, households ---------------------------------------- */

struct sim_team {
	char code[KDC_CODE_MAX + 1];
	const struct kdc_profile_team *prof; /* NULL for a team made for an uncovered khóm */
	size_t khom;                          /* that khóm */
	size_t ndev, first_dev;
};

static int sim__team_covers(const struct sim_team *t, size_t k)
{
	if (!t->prof)
		return t->khom == k;
	for (size_t i = 0; i < t->prof->nkhoms; i++)
		if (t->prof->khoms[i] == k)
			return 1;
	return 0;
}

static int sim__device_taken(const struct kdc_sim *s, size_t n, const char *code)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->devices[i].code, code) == 0)
			return 1;
	return 0;
}

/* Names the team's devices: the profile's list first, then {team}-D{k}. */
static int sim__name_devices(struct kdc_sim *s, struct sim_team *t, size_t *ndev,
                             char *err, size_t errlen)
{
	size_t listed = t->prof ? t->prof->ndevices : 0, k = 1;

	t->first_dev = *ndev;
	for (size_t i = 0; i < t->ndev; i++) {
		struct kdc_sim_device *d = &s->devices[*ndev];
		if (i < listed) {
			snprintf(d->code, sizeof d->code, "%s", t->prof->devices[i]);
		} else {
			do {
				char suffix[24];
				int sl = snprintf(suffix, sizeof suffix, "-D%zu", k++);
				snprintf(d->code, sizeof d->code, "%.*s%s", KDC_CODE_MAX - sl, t->code, suffix);
			} while (sim__device_taken(s, *ndev, d->code));
		}
		if (sim__device_taken(s, *ndev, d->code)) {
			snprintf(err, errlen, "device %s is listed for two teams in the profile", d->code);
			return KDC_ERR_INVAL;
		}
		snprintf(d->team, sizeof d->team, "%s", t->code);
		(*ndev)++;
	}
	return KDC_OK;
}

/* People 15+ of khóm k spread over its households [h0, h0 + n). */
static void sim__spread_people(struct kdc_sim *s, uint64_t seed, size_t k, size_t h0, size_t n,
                               long long people)
{
	struct kdc_sim_rng r;
	long long left;

	if (n == 0)
		return;
	if (people <= 0) /* no denominator in the profile: about 2.8 a household */
		people = (long long)((double)n * 2.8 + 0.5);
	if (people > (long long)n * KDC_SIM_MAX_ADULTS)
		people = (long long)n * KDC_SIM_MAX_ADULTS;
	kdc_sim_rng_seed(&r, seed, STREAM_PEOPLE, k);
	for (size_t i = 0; i < n; i++)
		s->households[h0 + i].members_15plus = 1;
	left = people - (long long)n;
	while (left > 0) {
		struct kdc_sim_household *hh = &s->households[h0 + kdc_sim_rng_below(&r, n)];
		if (hh->members_15plus < KDC_SIM_MAX_ADULTS) {
			hh->members_15plus++;
			left--;
		}
	}
}

/* Who lives there (beyond the adults counted above) and what they need. */
static void sim__household_makeup(struct kdc_sim_household *hh, uint64_t seed, uint32_t h)
{
	struct kdc_sim_rng r;
	double u, p_phone;
	int kids;

	kdc_sim_rng_seed(&r, seed, STREAM_HOUSEHOLD, h);
	hh->elderly = kdc_sim_rng_unit(&r) < 0.2;
	u = kdc_sim_rng_unit(&r);
	kids = u < 0.35 ? 0 : u < 0.65 ? 1 : u < 0.9 ? 2 : 3;
	if (hh->elderly && kdc_sim_rng_unit(&r) < 0.8)
		kids = 0;
	hh->members = (uint8_t)(hh->members_15plus + kids);
	p_phone = hh->elderly ? 0.45 : 0.9;
	hh->smartphones = 0;
	for (int j = 0; j < hh->members_15plus; j++)
		if (kdc_sim_rng_unit(&r) < p_phone)
			hh->smartphones++;
	hh->needs = 0;
	{
		const double p[KDC__V1__NEED__NEED_DIGITAL_SKILLS + 1] = {
			0,
			hh->smartphones ? 0.7 : 0.1,      /* install_app */
			0.5,                               /* public_service_account */
			0.6,                               /* vneid */
			hh->elderly ? 0.3 : 0.5,           /* payment_account */
			0.4,                               /* cashless_bills */
			0.3,                               /* online_procedures */
			hh->elderly ? 0.5 : 0.2,           /* medical_booking */
			hh->elderly ? 0.8 : 0.2,           /* digital_skills */
		};
		for (int n = 1; n <= KDC__V1__NEED__NEED_DIGITAL_SKILLS; n++)
			if (kdc_sim_rng_unit(&r) < p[n])
				hh->needs |= 1u << n;
	}
}

static void sim__offline_periods(struct kdc_sim *s, uint64_t seed, size_t dev, int *failed)
{
	struct kdc_sim_device *d = &s->devices[dev];
	struct kdc_sim_rng r;
	size_t cap = 0;
	int64_t t = s->start_ms;

	kdc_sim_rng_seed(&r, seed, STREAM_DEVICE, dev);
	for (;;) {
		int64_t dur;
		t += sim__exp(&r, (double)SIM_OFFLINE_EVERY_MS);
		dur = 2 * HOUR_MS + (int64_t)(28.0 * HOUR_MS * kdc_sim_rng_unit(&r));
		if (t >= s->end_ms)
			break;
		if (d->noffline == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *n = realloc(d->offline, ncap * 2 * sizeof *n);
			if (!n) {
				*failed = 1;
				return;
			}
			d->offline = n;
			cap = ncap;
		}
		d->offline[2 * d->noffline] = t;
		d->offline[2 * d->noffline + 1] = t + dur < s->end_ms ? t + dur : s->end_ms;
		d->noffline++;
		t += dur;
	}
}

int kdc_sim_offline(const struct kdc_sim *s, size_t dev, int64_t t)
{
	const struct kdc_sim_device *d = &s->devices[dev];
	size_t lo = 0, hi = d->noffline;

	/* the last period starting at or before t */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->offline[2 * mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && t < d->offline[2 * (lo - 1) + 1];
}

static int sim__layout(struct kdc_sim *s, const struct kdc_profile *prof,
                       const struct kdc_sim_params *par, char *err, size_t errlen)
{
	struct sim_team *teams = NULL;
	size_t nteams = 0, ndev = 0, total = 0, h = 0;
	uint32_t *covering = NULL;
	int rc = KDC_ERR_NOMEM;

	if (!(teams = calloc(prof->nteams + prof->nkhoms, sizeof *teams)))
		goto cleanup;
	for (size_t i = 0; i < prof->nteams; i++) {
		snprintf(teams[nteams].code, sizeof teams[nteams].code, "%s", prof->teams[i].code);
		teams[nteams++].prof = &prof->teams[i];
	}
	for (size_t k = 0; k < prof->nkhoms; k++) {
		int covered = 0;
		for (size_t i = 0; i < nteams && !covered; i++)
			covered = sim__team_covers(&teams[i], k);
		if (!covered) {
			snprintf(teams[nteams].code, sizeof teams[nteams].code, "T-%.*s",
			         KDC_CODE_MAX - 2, prof->khoms[k].code);
			teams[nteams++].khom = k;
		}
	}
	for (size_t i = 0; i < nteams; i++) {
		if (par->devices > 0)
			teams[i].ndev = (size_t)par->devices / nteams + (i < (size_t)par->devices % nteams);
		else
			teams[i].ndev = (size_t)par->team_devices;
		total += teams[i].ndev;
	}
	if (total == 0 || total > KDC_SIM_MAX_DEVICES) {
		snprintf(err, errlen, "%zu devices in all: use 1 to %d", total, KDC_SIM_MAX_DEVICES);
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if (!(s->devices = calloc(total, sizeof *s->devices)))
		goto cleanup;
	for (size_t i = 0; i < nteams; i++)
		if ((rc = sim__name_devices(s, &teams[i], &ndev, err, errlen)) != KDC_OK)
			goto cleanup;
	s->ndevices = ndev;
	rc = KDC_ERR_NOMEM;

	/* households: each khóm in blocks over the devices of the teams covering it */
	for (size_t k = 0; k < prof->nkhoms; k++)
		s->nhouseholds += (size_t)prof->khoms[k].households;
	if ((long long)s->nhouseholds > SIM_MAX_HOUSEHOLDS) {
		snprintf(err, errlen, "the profile has %zu households: kdc-sim handles %lld at most",
		         s->nhouseholds, SIM_MAX_HOUSEHOLDS);
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if (s->nhouseholds == 0) {
		snprintf(err, errlen, "the profile's khóms have no households: nothing to simulate");
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if (!(s->households = calloc(s->nhouseholds, sizeof *s->households)) ||
	    !(covering = calloc(total, sizeof *covering)))
		goto cleanup;
	for (size_t k = 0; k < prof->nkhoms; k++) {
		size_t n = (size_t)prof->khoms[k].households, nc = 0;
		int width = 3;
		for (size_t x = n; x >= 1000; x /= 10)
			width++;
		for (size_t i = 0; i < nteams; i++)
			if (sim__team_covers(&teams[i], k))
				for (size_t d = 0; d < teams[i].ndev; d++)
					covering[nc++] = (uint32_t)(teams[i].first_dev + d);
		sim__spread_people(s, par->seed, k, h, n, prof->khoms[k].people_15plus);
		for (size_t i = 0; i < n; i++, h++) {
			struct kdc_sim_household *hh = &s->households[h];
			snprintf(hh->code, sizeof hh->code, "H%0*lu", width & 15, (unsigned long)(i + 1));
			hh->khom = (uint32_t)k;
			hh->device = nc ? covering[i * nc / n] : KDC_SIM_NO_DEVICE;
			sim__household_makeup(hh, par->seed, (uint32_t)h);
			s->people_15plus_total += hh->members_15plus;
			if (hh->device != KDC_SIM_NO_DEVICE)
				s->devices[hh->device].nhouseholds++;
		}
	}
	s->households_total = (long long)s->nhouseholds;
	for (size_t d = 0; d < s->ndevices; d++) {
		if (s->devices[d].nhouseholds &&
		    !(s->devices[d].households = malloc(s->devices[d].nhouseholds * sizeof(uint32_t))))
			goto cleanup;
		s->devices[d].nhouseholds = 0;
	}
	for (size_t i = 0; i < s->nhouseholds; i++) {
		struct kdc_sim_device *d;
		if (s->households[i].device == KDC_SIM_NO_DEVICE)
			continue;
		d = &s->devices[s->households[i].device];
		d->households[d->nhouseholds++] = (uint32_t)i;
	}
	rc = KDC_OK;
cleanup:
	if (rc == KDC_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	free(covering);
	free(teams);
	return rc;
}

int kdc_sim_new(const struct kdc_profile *prof, const struct kdc_sim_params *par,
                struct kdc_sim **out, char *err, size_t errlen)
{
	struct kdc_sim *s = NULL;
	struct sim_ctx c;
	int rc = KDC_ERR_NOMEM, failed = 0;

	*out = NULL;
	memset(&c, 0, sizeof c);
	if (prof->nkhoms == 0) {
		snprintf(err, errlen, "the profile has no [khom ...] section: nothing to simulate");
		return KDC_ERR_INVAL;
	}
	if (par->end_ms <= par->start_ms || (par->devices <= 0 && par->team_devices <= 0)) {
		snprintf(err, errlen, "empty window or no devices");
		return KDC_ERR_INVAL;
	}
	if (!(s = calloc(1, sizeof *s)))
		goto cleanup;
	snprintf(s->ward, sizeof s->ward, "%s", prof->ward);
	s->utc_offset_min = prof->utc_offset_min;
	s->regular_window_days = prof->regular_window_days;
	s->start_ms = par->start_ms;
	s->end_ms = par->end_ms;
	if (!(s->khoms = calloc(prof->nkhoms, sizeof *s->khoms)))
		goto cleanup;
	s->nkhoms = prof->nkhoms;
	for (size_t k = 0; k < prof->nkhoms; k++)
		snprintf(s->khoms[k], sizeof s->khoms[k], "%s", prof->khoms[k].code);
	if ((rc = sim__layout(s, prof, par, err, errlen)) != KDC_OK)
		goto cleanup;
	rc = KDC_ERR_NOMEM;
	if (par->devices > 0) { /* load layout: no campaign */
		*out = s;
		return KDC_OK;
	}
	for (size_t d = 0; d < s->ndevices && !failed; d++)
		sim__offline_periods(s, par->seed, d, &failed);
	if (failed)
		goto cleanup;

	c.s = s;
	c.seed = par->seed;
	c.first_day = sim__day(&c, s->start_ms);
	c.last_day = sim__day(&c, s->end_ms);
	if (!(c.wdays = malloc((size_t)(c.last_day - c.first_day + 1) * sizeof *c.wdays)))
		goto cleanup;
	for (int64_t day = c.first_day, lo, hi; day <= c.last_day; day++)
		if (sim__span(&c, day, &lo, &hi))
			c.wdays[c.nwdays++] = day;
	for (size_t d = 0; d < s->ndevices; d++)
		for (size_t i = 0; i < s->devices[d].nhouseholds; i++)
			sim__household_events(&c, s->devices[d].households[i], i);
	if (c.failed)
		goto cleanup;
	qsort(s->events, s->nevents, sizeof *s->events, sim__event_cmp);
	*out = s;
	s = NULL;
	rc = KDC_OK;
cleanup:
	if (rc == KDC_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	free(c.wdays);
	kdc_sim_free(s);
	return rc;
}

void kdc_sim_free(struct kdc_sim *s)
{
	if (!s)
		return;
	for (size_t d = 0; s->devices && d < s->ndevices; d++) {
		free(s->devices[d].offline);
		free(s->devices[d].households);
	}
	free(s->devices);
	free(s->households);
	free(s->khoms);
	free(s->events);
	free(s);
}

/* ---- protobuf ------------------------------------------------------------------- */

void kdc_sim_event_pb(const struct kdc_sim *s, const struct kdc_sim_event *e,
                      struct kdc_sim_pb *pb)
{
	const struct kdc_sim_household *hh = &s->households[e->household];

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

void kdc_sim_load_event(const struct kdc_sim *s, struct kdc_sim_rng *r, size_t dev,
                        struct kdc_sim_pb *pb)
{
	const struct kdc_sim_device *d = &s->devices[dev];
	struct kdc_sim_event e;
	uint32_t h = d->nhouseholds ? d->households[kdc_sim_rng_below(r, d->nhouseholds)]
	                            : (uint32_t)kdc_sim_rng_below(r, s->nhouseholds);
	const struct kdc_sim_household *hh = &s->households[h];
	uint64_t k = kdc_sim_rng_below(r, 100);

	memset(&e, 0, sizeof e);
	e.household = h;
	e.device = (uint32_t)dev;
	e.member = (uint8_t)(1 + kdc_sim_rng_below(r, hh->members_15plus));
	if (k < 35) {
		uint64_t o = kdc_sim_rng_below(r, 100);
		e.kind = KDC_KIND_VISIT;
		e.member = 0;
		e.sub = o < 72 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED :
		        o < 96 ? KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME :
		                 KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_DECLINED;
	} else if (k < 60) {
		e.kind = KDC_KIND_ACCOUNT;
		e.sub = (uint8_t)(1 + kdc_sim_rng_below(r, 4));
	} else if (k < 90) {
		uint64_t p = kdc_sim_rng_below(r, 100);
		e.kind = KDC_KIND_PAYMENT;
		e.method = (uint8_t)sim__preferred_method(r);
		if (p < 40) {
			e.sub = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_ELECTRICITY;
			e.amount_vnd = sim__electricity_bill(60 + (int64_t)kdc_sim_rng_below(r, 300));
		} else if (p < 70) {
			e.sub = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_WATER;
			e.amount_vnd = sim__water_bill(3 + (int64_t)kdc_sim_rng_below(r, 25));
		} else {
			e.sub = (uint8_t)(3 + kdc_sim_rng_below(r, 6));
			e.amount_vnd = sim__between(r, 10, 2000) * 1000;
		}
	} else {
		e.kind = KDC_KIND_SERVICE;
		e.sub = (uint8_t)(1 + kdc_sim_rng_below(r, 5));
	}
	kdc_sim_event_pb(s, &e, pb);
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
	uint8_t *f = &t->flags[e->household];
	uint8_t bit = e->member >= 1 && e->member <= KDC_SIM_MAX_ADULTS ? (uint8_t)(1u << (e->member - 1)) : 0;

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
