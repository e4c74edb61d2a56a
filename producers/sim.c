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
#include "sim_int.h"

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

int64_t sim__exp(struct kdc_sim_rng *r, double mean)
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

int64_t sim__day(const struct sim_ctx *c, int64_t t)
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
int sim__span(const struct sim_ctx *c, int64_t day, int64_t *lo, int64_t *hi)
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
int64_t sim__time_from_day(const struct sim_ctx *c, struct kdc_sim_rng *r, int64_t day)
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
int64_t sim__next_work(const struct sim_ctx *c, int64_t t)
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

struct kdc_sim_event *sim__append(struct sim_ctx *c, int64_t t, uint32_t *order)
{
	struct kdc_sim *s = c->s;
	struct kdc_sim_event *e;

	if (c->failed || t < s->start_ms || t > s->end_ms)
		return NULL;
	if (s->nevents == c->cap_events) {
		size_t cap = c->cap_events ? c->cap_events * 2 : 4096;
		struct kdc_sim_event *n = realloc(s->events, cap * sizeof *n);
		if (!n) {
			c->failed = 1;
			return NULL;
		}
		s->events = n;
		c->cap_events = cap;
	}
	e = &s->events[s->nevents++];
	memset(e, 0, sizeof *e);
	e->t = t;
	e->order = (*order)++;
	return e;
}

static void sim__emit(struct sim_ctx *c, uint32_t h, uint32_t *order, int64_t t, int kind,
                      int sub, int member, int method, int64_t amount)
{
	struct kdc_sim_event *e = sim__append(c, t, order);

	if (!e)
		return;
	e->amount_vnd = amount;
	e->household = h;
	e->device = c->s->households[h].device;
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

void sim__household_events(struct sim_ctx *c, uint32_t h, size_t pos)
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

int sim__event_cmp(const void *a, const void *b)
{
	const struct kdc_sim_event *x = a, *y = b;

	int bx = kdc_kind_for_business(x->kind), by = kdc_kind_for_business(y->kind);

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (bx != by)   /* a business's index is not a household's */
		return bx - by;
	if (x->household != y->household)
		return x->household < y->household ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
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
