/* sim_ward.c: the simulated ward: its teams and their devices, its
 * households and their people, from the ward profile; and kdc_sim_new,
 * which generates every household's campaign (sim.c) and sorts the events by
 * time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "kdc_err.h"
#include "sim_int.h"

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
		int width = par->household_digits > 0 ? par->household_digits : 3, need = 1;
		for (size_t x = n; x >= 10; x /= 10)
			need++;
		if (width < need)
			width = need;
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
	if (sim__businesses(s, prof) != KDC_OK)
		goto cleanup;
	for (size_t b = 0; b < s->nbusinesses; b++)
		sim__business_events(&c, (uint32_t)b);
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
	free(s->businesses);
	free(s->khoms);
	free(s->events);
	free(s);
}
