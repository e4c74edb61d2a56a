/* province_profile.c: the province profile (docs/province.md): its wards,
 * their names, and the province's targets (the programme's defaults unless
 * the profile sets its own). See rollup.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "rollup.h"

static const struct { int indicator; long long percent_x100; const char *deadline; }
rollup_default_targets[] = {
	{ KDC_IND_HOUSEHOLDS_REACHED, 8500, "2023-12-31" },
	{ KDC_IND_PEOPLE_PAYING_REGULARLY, 8000, "2025-12-31" },
	{ KDC_IND_SERVICE_USERS_E_IDENTIFIED, 10000, "2025-12-31" },
	{ KDC_IND_BUSINESSES_USING_EINVOICE, 10000, "2025-12-31" },
};

struct rollup_parse {
	struct kdc_province *p;
	size_t cap;
	int target_line[KDC_IND_COUNT];
	unsigned target_keys[KDC_IND_COUNT]; /* 1 percent, 2 deadline */
	int nerr_nomem;
};

static int rollup__profile_target(struct rollup_parse *ps, const char *ind_name, const char *key,
                        const char *value, int line, char *err, size_t errlen)
{
	struct kdc_province *p = ps->p;
	struct kdc_profile_target *t = NULL;
	int ind = kdc_indicator_parse(ind_name);

	if (ind < 0) {
		snprintf(err, errlen, "unknown indicator '%.60s' (known: households_visited, "
		         "households_reached, people_with_payment_account, people_paying_regularly, "
		         "service_users_e_identified, businesses_using_einvoice)",
		         ind_name);
		return KDC_ERR_CONFIG;
	}
	if (!ps->target_line[ind]) {
		ps->target_line[ind] = line;
		t = &p->targets[p->ntargets++];
		t->indicator = ind;
	}
	for (size_t i = 0; i < p->ntargets; i++)
		if (p->targets[i].indicator == ind)
			t = &p->targets[i];
	if (strcmp(key, "percent") == 0) {
		if (kdc_profile_parse_percent(value, &t->percent_x100) != KDC_OK) {
			snprintf(err, errlen, "percent must be above 0 and at most 100, with up to two "
			         "decimals, got '%.40s'", value);
			return KDC_ERR_CONFIG;
		}
		ps->target_keys[ind] |= 1;
		return KDC_OK;
	}
	if (strcmp(key, "deadline") == 0) {
		if (kdc_profile_parse_date(value, t->deadline, &t->deadline_day) != KDC_OK) {
			snprintf(err, errlen, "deadline must be a date YYYY-MM-DD, got '%.40s'", value);
			return KDC_ERR_CONFIG;
		}
		ps->target_keys[ind] |= 2;
		return KDC_OK;
	}
	snprintf(err, errlen, "unknown key '%.40s' in [target %s] (known: percent, deadline)", key,
	         ind_name);
	return KDC_ERR_CONFIG;
}

static int rollup__profile_ward(struct rollup_parse *ps, const char *code, const char *name, char *err,
                      size_t errlen)
{
	struct kdc_province *p = ps->p;
	struct kdc_province_ward *w;

	if (!kdc_code_valid(code)) {
		snprintf(err, errlen, "ward code '%.40s' is not a code (1 to %d of A-Z a-z 0-9 _ -)",
		         code, KDC_CODE_MAX);
		return KDC_ERR_CONFIG;
	}
	if (strcmp(code, "province") == 0) {
		snprintf(err, errlen, "'province' cannot be a ward code: kdc/v1/province/ holds the "
		         "province snapshots");
		return KDC_ERR_CONFIG;
	}
	for (size_t i = 0; i < p->nwards; i++)
		if (strcmp(p->wards[i].code, code) == 0) {
			snprintf(err, errlen, "ward %s is listed twice", code);
			return KDC_ERR_CONFIG;
		}
	if (p->nwards >= KDC_ROLLUP_MAX_WARDS) {
		snprintf(err, errlen, "more than %d wards", KDC_ROLLUP_MAX_WARDS);
		return KDC_ERR_CONFIG;
	}
	if (p->nwards == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		void *nw = realloc(p->wards, cap * sizeof *p->wards);
		if (!nw) {
			snprintf(err, errlen, "out of memory");
			ps->nerr_nomem = 1;
			return KDC_ERR_NOMEM;
		}
		p->wards = nw;
		ps->cap = cap;
	}
	w = &p->wards[p->nwards];
	memset(w, 0, sizeof *w);
	snprintf(w->code, sizeof w->code, "%s", code);
	if (kdc_profile_parse_name(w->name, name, err, errlen) != KDC_OK)
		return KDC_ERR_CONFIG;
	p->nwards++;
	return KDC_OK;
}

static int rollup__profile_line(void *ud, const char *section, const char *key, const char *value, int line,
                    char *err, size_t errlen)
{
	struct rollup_parse *ps = ud;
	struct kdc_province *p = ps->p;

	if (strcmp(section, "province") == 0) {
		if (strcmp(key, "code") == 0) {
			if (!kdc_code_valid(value)) {
				snprintf(err, errlen, "province code '%.40s' is not a code (1 to %d of "
				         "A-Z a-z 0-9 _ -)", value, KDC_CODE_MAX);
				return KDC_ERR_CONFIG;
			}
			snprintf(p->code, sizeof p->code, "%s", value);
			return KDC_OK;
		}
		if (strcmp(key, "name") == 0)
			return kdc_profile_parse_name(p->name, value, err, errlen);
		if (strcmp(key, "utc_offset") == 0) {
			if (kdc_profile_parse_offset(value, &p->utc_offset_min) != KDC_OK) {
				snprintf(err, errlen, "utc_offset must look like +07:00 (from -14:00 to "
				         "+14:00), got '%.40s'", value);
				return KDC_ERR_CONFIG;
			}
			return KDC_OK;
		}
		snprintf(err, errlen, "unknown key '%.40s' in [province] (known: code, name, utc_offset)",
		         key);
		return KDC_ERR_CONFIG;
	}
	if (strcmp(section, "wards") == 0)
		return rollup__profile_ward(ps, key, value, err, errlen);
	if (strncmp(section, "target ", 7) == 0 || strncmp(section, "target\t", 7) == 0) {
		const char *ind = section + 7;
		while (*ind == ' ' || *ind == '\t')
			ind++;
		return rollup__profile_target(ps, ind, key, value, line, err, errlen);
	}
	snprintf(err, errlen, "unknown section [%.60s] (known: [province], [wards], "
	         "[target INDICATOR])", section);
	return KDC_ERR_CONFIG;
}

int kdc_province_load(const char *path, struct kdc_province **out, char *err, size_t errlen)
{
	struct rollup_parse ps;
	struct kdc_province *p;
	int rc;

	*out = NULL;
	memset(&ps, 0, sizeof ps);
	if (!(p = calloc(1, sizeof *p))) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	p->utc_offset_min = KDC_PROFILE_DEFAULT_OFFSET_MIN;
	ps.p = p;
	if ((rc = kdc_ini_parse(path, rollup__profile_line, &ps, err, errlen)) != KDC_OK) {
		if (ps.nerr_nomem)
			rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	rc = KDC_ERR_CONFIG;
	if (!p->code[0]) {
		snprintf(err, errlen, "%s: missing [province] code = ... (the province's "
		         "administrative-unit code)", path);
		goto cleanup;
	}
	if (p->nwards == 0) {
		snprintf(err, errlen, "%s: no wards: list them under [wards] as 'CODE = name' lines",
		         path);
		goto cleanup;
	}
	for (int i = 0; i < KDC_IND_COUNT; i++)
		if (ps.target_line[i] && ps.target_keys[i] != 3) {
			snprintf(err, errlen, "%s:%d: [target %s] needs both percent = and deadline =",
			         path, ps.target_line[i], kdc_indicator_name(i));
			goto cleanup;
		}
	if (p->ntargets == 0) {
		for (size_t i = 0; i < sizeof rollup_default_targets / sizeof rollup_default_targets[0];
		     i++) {
			struct kdc_profile_target *t = &p->targets[p->ntargets++];
			t->indicator = rollup_default_targets[i].indicator;
			t->percent_x100 = rollup_default_targets[i].percent_x100;
			kdc_profile_parse_date(rollup_default_targets[i].deadline, t->deadline, &t->deadline_day);
		}
	} else {
		/* indicator order, as in the ward snapshots */
		struct kdc_profile_target sorted[KDC_IND_COUNT];
		size_t n = 0;
		for (int ind = 0; ind < KDC_IND_COUNT; ind++)
			for (size_t i = 0; i < p->ntargets; i++)
				if (p->targets[i].indicator == ind)
					sorted[n++] = p->targets[i];
		memcpy(p->targets, sorted, n * sizeof sorted[0]);
	}
	if (!p->name[0])
		snprintf(p->name, sizeof p->name, "%s", p->code);
	*out = p;
	p = NULL;
	rc = KDC_OK;
cleanup:
	kdc_province_free(p);
	return rc;
}

void kdc_province_free(struct kdc_province *p)
{
	if (!p)
		return;
	free(p->wards);
	free(p);
}
