/* profile.c: reads and checks the ward profile (INI). Every refusal names the
 * file and line, because the person fixing it is a ward's IT officer with a
 * text editor, not a developer with a debugger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "profile.h"

static const char *const indicator_names[KDC_IND_COUNT] = {
	"households_visited", "households_reached",
	"people_with_payment_account", "people_paying_regularly",
	"service_users_e_identified", "businesses_using_einvoice",
};

/* What the ward committed to by default (DESIGN.md "Statistics"). */
static const struct { int indicator; long long percent_x100; const char *deadline; }
default_targets[] = {
	{ KDC_IND_HOUSEHOLDS_REACHED, 8500, "2023-12-31" },
	{ KDC_IND_PEOPLE_PAYING_REGULARLY, 8000, "2025-12-31" },
	{ KDC_IND_SERVICE_USERS_E_IDENTIFIED, 10000, "2025-12-31" },
	{ KDC_IND_BUSINESSES_USING_EINVOICE, 10000, "2025-12-31" },
};

const char *kdc_indicator_name(int ind)
{
	return ind >= 0 && ind < KDC_IND_COUNT ? indicator_names[ind] : NULL;
}

int kdc_indicator_parse(const char *s)
{
	for (int i = 0; i < KDC_IND_COUNT; i++)
		if (strcmp(s, indicator_names[i]) == 0)
			return i;
	return -1;
}

/* ---- parsing ------------------------------------------------------------ */

enum sec_kind { SEC_NONE, SEC_WARD, SEC_KHOM, SEC_TEAM, SEC_TARGET, SEC_SETTINGS };

/* A team's "khoms =" list is checked at the end: khóms may come later. */
struct pending_ref {
	size_t team;
	char code[KDC_CODE_MAX + 1];
	int line;
};

struct entity_seen {
	unsigned keys; /* bit per key already given, to refuse duplicates */
	int line;      /* first key line, for "missing key" errors */
};

struct parse_state {
	struct kdc_profile *p;
	char section[128];      /* last section seen, to notice a new one */
	enum sec_kind kind;
	long index;             /* khóm, team or target index of the section */
	struct entity_seen ward, settings;
	struct entity_seen *khom_seen, *team_seen, target_seen[KDC_IND_COUNT];
	struct pending_ref *refs;
	size_t nrefs;
	int target_line[KDC_IND_COUNT]; /* 0 = no section for it */
	int window_line;
};

int kdc_profile_parse_name(char *dst, const char *value, char *err, size_t errlen)
{
	size_t n = strlen(value);

	if (n == 0 || n >= KDC_PROFILE_NAME_MAX) {
		snprintf(err, errlen, "name must be 1 to %d bytes", KDC_PROFILE_NAME_MAX - 1);
		return KDC_ERR_CONFIG;
	}
	memcpy(dst, value, n + 1);
	return KDC_OK;
}

static int profile__code(char *dst, const char *value, const char *what, char *err, size_t errlen)
{
	if (!kdc_code_valid(value)) {
		snprintf(err, errlen, "%s '%.40s' is not a code (1 to %d of A-Z a-z 0-9 _ -)",
		         what, value, KDC_CODE_MAX);
		return KDC_ERR_CONFIG;
	}
	snprintf(dst, KDC_CODE_MAX + 1, "%s", value);
	return KDC_OK;
}

/* "85", "82.5", "82.75" -> hundredths of a percent, in (0, 100]. */
int kdc_profile_parse_percent(const char *s, long long *out)
{
	long long whole = 0, frac = 0;
	int digits = 0, fdigits = 0;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits > 3)
			return KDC_ERR_INVAL;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, fdigits++) {
			if (fdigits >= 2)
				return KDC_ERR_INVAL;
			frac = frac * 10 + (*s - '0');
		}
		if (fdigits == 0)
			return KDC_ERR_INVAL;
	}
	if (*s == '%')
		s++;
	if (*s != '\0' || digits == 0)
		return KDC_ERR_INVAL;
	if (fdigits == 1)
		frac *= 10;
	*out = whole * 100 + frac;
	return (*out > 0 && *out <= 10000) ? KDC_OK : KDC_ERR_INVAL;
}

/* The one spelling of an offset, shared with the devices' utc-offset. */
int kdc_profile_parse_offset(const char *s, int *out)
{
	return kdc_parse_utc_offset(s, out);
}

int kdc_profile_parse_date(const char *s, char out[11], int64_t *day)
{
	int64_t ms;

	/* exactly YYYY-MM-DD: a deadline is a calendar date */
	if (strlen(s) != 10 || kdc_time_parse(s, &ms) != KDC_OK)
		return KDC_ERR_INVAL;
	*day = kdc_local_day(ms, 0);
	kdc_day_format(*day, out, 11);
	/* 2023-02-30 would parse as March 2: refuse what does not round-trip */
	return strcmp(out, s) == 0 ? KDC_OK : KDC_ERR_INVAL;
}

/* Splits "[khom 6]" into its word and code; 0 if the section has that word. */
static int section_is(const char *section, const char *word, const char **code)
{
	size_t n = strlen(word);

	if (strncmp(section, word, n) != 0 || (section[n] != ' ' && section[n] != '\t'))
		return 0;
	*code = section + n;
	while (**code == ' ' || **code == '\t')
		(*code)++;
	return 1;
}

/* A key may be given once per section: a second value is almost always a
 * copy-paste mistake that would otherwise silently win. */
static int seen_key(struct entity_seen *e, int bit, const char *key, int line,
                    char *err, size_t errlen)
{
	if (e->line == 0)
		e->line = line;
	if (e->keys & (1u << bit)) {
		snprintf(err, errlen, "'%s' is given twice in this section", key);
		return KDC_ERR_CONFIG;
	}
	e->keys |= 1u << bit;
	return KDC_OK;
}

static int profile__open_section(struct parse_state *st, const char *section,
                                 char *err, size_t errlen)
{
	struct kdc_profile *p = st->p;
	const char *code;

	snprintf(st->section, sizeof st->section, "%s", section);
	st->index = -1;
	if (strcmp(section, "ward") == 0) {
		st->kind = SEC_WARD;
	} else if (strcmp(section, "settings") == 0) {
		st->kind = SEC_SETTINGS;
	} else if (section_is(section, "khom", &code) || section_is(section, "khóm", &code)) {
		struct kdc_profile_khom *k;
		struct entity_seen *seen;

		st->kind = SEC_KHOM;
		if (!kdc_code_valid(code)) {
			snprintf(err, errlen, "[%s]: khóm code '%.40s' is not a code (1 to %d of A-Z a-z 0-9 _ -)",
			         section, code, KDC_CODE_MAX);
			return KDC_ERR_CONFIG;
		}
		if (kdc_profile_khom_find(p, code) >= 0) {
			snprintf(err, errlen, "khóm %s is described twice", code);
			return KDC_ERR_CONFIG;
		}
		k = realloc(p->khoms, (p->nkhoms + 1) * sizeof *k);
		if (!k)
			goto nomem;
		p->khoms = k;
		seen = realloc(st->khom_seen, (p->nkhoms + 1) * sizeof *seen);
		if (!seen)
			goto nomem;
		st->khom_seen = seen;
		memset(&seen[p->nkhoms], 0, sizeof *seen);
		k = &p->khoms[p->nkhoms];
		memset(k, 0, sizeof *k);
		k->households = -1;
		k->people_15plus = -1;
		snprintf(k->code, sizeof k->code, "%s", code);
		snprintf(k->name, sizeof k->name, "Khóm %s", code);
		st->index = (long)p->nkhoms++;
	} else if (section_is(section, "team", &code)) {
		struct kdc_profile_team *t;
		struct entity_seen *seen;

		st->kind = SEC_TEAM;
		if (!kdc_code_valid(code)) {
			snprintf(err, errlen, "[%s]: team code '%.40s' is not a code (1 to %d of A-Z a-z 0-9 _ -)",
			         section, code, KDC_CODE_MAX);
			return KDC_ERR_CONFIG;
		}
		if (kdc_profile_team_find(p, code) >= 0) {
			snprintf(err, errlen, "team %s is described twice", code);
			return KDC_ERR_CONFIG;
		}
		t = realloc(p->teams, (p->nteams + 1) * sizeof *t);
		if (!t)
			goto nomem;
		p->teams = t;
		seen = realloc(st->team_seen, (p->nteams + 1) * sizeof *seen);
		if (!seen)
			goto nomem;
		st->team_seen = seen;
		memset(&seen[p->nteams], 0, sizeof *seen);
		t = &p->teams[p->nteams];
		memset(t, 0, sizeof *t);
		snprintf(t->code, sizeof t->code, "%s", code);
		snprintf(t->name, sizeof t->name, "Tổ %s", code);
		st->index = (long)p->nteams++;
	} else if (section_is(section, "target", &code)) {
		int ind = kdc_indicator_parse(code);

		st->kind = SEC_TARGET;
		if (ind < 0) {
			snprintf(err, errlen, "[%s]: unknown indicator '%.40s' (known: households_visited, "
			         "households_reached, people_with_payment_account, people_paying_regularly, "
			         "service_users_e_identified, businesses_using_einvoice)",
			         section, code);
			return KDC_ERR_CONFIG;
		}
		if (st->target_seen[ind].line) {
			snprintf(err, errlen, "target %s is described twice", code);
			return KDC_ERR_CONFIG;
		}
		st->index = ind;
	} else {
		snprintf(err, errlen, "unknown section [%s] (expected [ward], [khom CODE], [team CODE], "
		         "[target INDICATOR] or [settings])", section);
		return KDC_ERR_CONFIG;
	}
	return KDC_OK;
nomem:
	snprintf(err, errlen, "out of memory");
	return KDC_ERR_NOMEM;
}

static int profile__count(const char *value, const char *key, long long *out,
                          char *err, size_t errlen)
{
	if (kdc_parse_ll(value, 0, KDC_PROFILE_MAX_COUNT, out) != KDC_OK) {
		snprintf(err, errlen, "%s must be a whole number from 0 to %lld, got '%.40s'",
		         key, KDC_PROFILE_MAX_COUNT, value);
		return KDC_ERR_CONFIG;
	}
	return KDC_OK;
}

/* "6, 7 8" -> pending references (checked once the whole file is read). */
static int profile__khom_list(struct parse_state *st, const char *value, int line,
                              char *err, size_t errlen)
{
	char buf[4096], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", value);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		struct pending_ref *r;

		if (!kdc_code_valid(tok)) {
			snprintf(err, errlen, "khoms: '%.40s' is not a khóm code", tok);
			return KDC_ERR_CONFIG;
		}
		r = realloc(st->refs, (st->nrefs + 1) * sizeof *r);
		if (!r) {
			snprintf(err, errlen, "out of memory");
			return KDC_ERR_NOMEM;
		}
		st->refs = r;
		r = &st->refs[st->nrefs++];
		r->team = (size_t)st->index;
		r->line = line;
		snprintf(r->code, sizeof r->code, "%s", tok);
	}
	return KDC_OK;
}

static int profile__device_list(struct kdc_profile_team *t, const char *value,
                                char *err, size_t errlen)
{
	char buf[4096], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", value);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		char (*d)[KDC_CODE_MAX + 1];

		if (!kdc_code_valid(tok)) {
			snprintf(err, errlen, "devices: '%.40s' is not a device code", tok);
			return KDC_ERR_CONFIG;
		}
		for (size_t i = 0; i < t->ndevices; i++)
			if (strcmp(t->devices[i], tok) == 0) {
				snprintf(err, errlen, "devices: %s is listed twice", tok);
				return KDC_ERR_CONFIG;
			}
		d = realloc(t->devices, (t->ndevices + 1) * sizeof *d);
		if (!d) {
			snprintf(err, errlen, "out of memory");
			return KDC_ERR_NOMEM;
		}
		t->devices = d;
		snprintf(t->devices[t->ndevices++], KDC_CODE_MAX + 1, "%s", tok);
	}
	return KDC_OK;
}

static int unknown_key(const char *section, const char *key, const char *known,
                       char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown key '%.40s' in [%s] (known: %s)", key, section, known);
	return KDC_ERR_CONFIG;
}

static int profile__ini_cb(void *ud, const char *section, const char *key,
                           const char *value, int line, char *err, size_t errlen)
{
	struct parse_state *st = ud;
	struct kdc_profile *p = st->p;
	int rc;

	if (section[0] == '\0') {
		snprintf(err, errlen, "'%s' is outside any section: start with [ward]", key);
		return KDC_ERR_CONFIG;
	}
	if (strcmp(section, st->section) != 0) {
		rc = profile__open_section(st, section, err, errlen);
		if (rc)
			return rc;
	}
	switch (st->kind) {
	case SEC_WARD:
		if (strcmp(key, "code") == 0)
			return seen_key(&st->ward, 0, key, line, err, errlen) ||
			       profile__code(p->ward, value, "ward code", err, errlen);
		if (strcmp(key, "name") == 0)
			return seen_key(&st->ward, 1, key, line, err, errlen) ||
			       kdc_profile_parse_name(p->ward_name, value, err, errlen);
		if (strcmp(key, "utc_offset") == 0) {
			if (seen_key(&st->ward, 2, key, line, err, errlen))
				return KDC_ERR_CONFIG;
			if (kdc_profile_parse_offset(value, &p->utc_offset_min) != KDC_OK) {
				snprintf(err, errlen, "utc_offset must look like +07:00 (from -14:00 to +14:00), got '%.40s'", value);
				return KDC_ERR_CONFIG;
			}
			return KDC_OK;
		}
		return unknown_key(section, key, "code, name, utc_offset", err, errlen);
	case SEC_KHOM: {
		struct kdc_profile_khom *k = &p->khoms[st->index];
		struct entity_seen *e = &st->khom_seen[st->index];

		if (strcmp(key, "name") == 0)
			return seen_key(e, 0, key, line, err, errlen) ||
			       kdc_profile_parse_name(k->name, value, err, errlen);
		if (strcmp(key, "households") == 0)
			return seen_key(e, 1, key, line, err, errlen) ||
			       profile__count(value, key, &k->households, err, errlen);
		if (strcmp(key, "people_15plus") == 0)
			return seen_key(e, 2, key, line, err, errlen) ||
			       profile__count(value, key, &k->people_15plus, err, errlen);
		if (strcmp(key, "businesses") == 0)
			return seen_key(e, 3, key, line, err, errlen) ||
			       profile__count(value, key, &k->businesses, err, errlen);
		return unknown_key(section, key, "name, households, people_15plus, businesses", err,
		                   errlen);
	}
	case SEC_TEAM: {
		struct kdc_profile_team *t = &p->teams[st->index];
		struct entity_seen *e = &st->team_seen[st->index];

		if (strcmp(key, "name") == 0)
			return seen_key(e, 0, key, line, err, errlen) ||
			       kdc_profile_parse_name(t->name, value, err, errlen);
		if (strcmp(key, "khoms") == 0)
			return seen_key(e, 1, key, line, err, errlen) ||
			       profile__khom_list(st, value, line, err, errlen);
		if (strcmp(key, "devices") == 0)
			return seen_key(e, 2, key, line, err, errlen) ||
			       profile__device_list(t, value, err, errlen);
		return unknown_key(section, key, "name, khoms, devices", err, errlen);
	}
	case SEC_TARGET: {
		struct kdc_profile_target *tg = &p->targets[st->index];
		struct entity_seen *e = &st->target_seen[st->index];

		tg->indicator = (int)st->index;
		if (strcmp(key, "percent") == 0) {
			if (seen_key(e, 0, key, line, err, errlen))
				return KDC_ERR_CONFIG;
			if (kdc_profile_parse_percent(value, &tg->percent_x100) != KDC_OK) {
				snprintf(err, errlen, "percent must be a number above 0 and at most 100 "
				         "(up to 2 decimals), got '%.40s'", value);
				return KDC_ERR_CONFIG;
			}
			return KDC_OK;
		}
		if (strcmp(key, "deadline") == 0) {
			if (seen_key(e, 1, key, line, err, errlen))
				return KDC_ERR_CONFIG;
			if (kdc_profile_parse_date(value, tg->deadline, &tg->deadline_day) != KDC_OK) {
				snprintf(err, errlen, "deadline must be a date YYYY-MM-DD, got '%.40s'", value);
				return KDC_ERR_CONFIG;
			}
			return KDC_OK;
		}
		return unknown_key(section, key, "percent, deadline", err, errlen);
	}
	case SEC_SETTINGS:
		if (strcmp(key, "regular_window_days") == 0) {
			long long v;

			if (seen_key(&st->settings, 0, key, line, err, errlen))
				return KDC_ERR_CONFIG;
			if (kdc_parse_ll(value, 1, KDC_PROFILE_MAX_WINDOW, &v) != KDC_OK) {
				snprintf(err, errlen, "regular_window_days must be a whole number from 1 to %d, got '%.40s'",
				         KDC_PROFILE_MAX_WINDOW, value);
				return KDC_ERR_CONFIG;
			}
			p->regular_window_days = (int)v;
			return KDC_OK;
		}
		return unknown_key(section, key, "regular_window_days", err, errlen);
	default:
		snprintf(err, errlen, "internal: no section");
		return KDC_ERR_CONFIG;
	}
}

/* Checks what no single line can: required keys, references between
 * sections. Formats "path:line: reason" itself (kdc_ini_parse has returned). */
static int profile__finish(struct parse_state *st, const char *path, char *err, size_t errlen)
{
	struct kdc_profile *p = st->p;

	if (!(st->ward.keys & 1u)) {
		snprintf(err, errlen, "%s: missing [ward] code = ... (the ward's administrative-unit code)", path);
		return KDC_ERR_CONFIG;
	}
	for (size_t i = 0; i < p->nkhoms; i++) {
		const struct kdc_profile_khom *k = &p->khoms[i];
		const char *missing = k->households < 0 ? "households" :
		                      k->people_15plus < 0 ? "people_15plus" : NULL;

		if (missing) {
			snprintf(err, errlen, "%s:%d: [khom %s] needs %s = N", path,
			         st->khom_seen[i].line, k->code, missing);
			return KDC_ERR_CONFIG;
		}
	}
	for (size_t i = 0; i < st->nrefs; i++) {
		struct kdc_profile_team *t = &p->teams[st->refs[i].team];
		long k = kdc_profile_khom_find(p, st->refs[i].code);
		size_t *ks;

		if (k < 0) {
			snprintf(err, errlen, "%s:%d: team %s covers khóm %s, which has no [khom %s] section",
			         path, st->refs[i].line, t->code, st->refs[i].code, st->refs[i].code);
			return KDC_ERR_CONFIG;
		}
		for (size_t j = 0; j < t->nkhoms; j++)
			if (t->khoms[j] == (size_t)k) {
				snprintf(err, errlen, "%s:%d: khóm %s is listed twice for team %s",
				         path, st->refs[i].line, st->refs[i].code, t->code);
				return KDC_ERR_CONFIG;
			}
		ks = realloc(t->khoms, (t->nkhoms + 1) * sizeof *ks);
		if (!ks) {
			snprintf(err, errlen, "%s: out of memory", path);
			return KDC_ERR_NOMEM;
		}
		t->khoms = ks;
		t->khoms[t->nkhoms++] = (size_t)k;
	}
	for (size_t i = 0; i < p->nteams; i++)
		if (!(st->team_seen[i].keys & 2u)) {
			snprintf(err, errlen, "%s:%d: [team %s] needs khoms = the khóm codes it covers",
			         path, st->team_seen[i].line, p->teams[i].code);
			return KDC_ERR_CONFIG;
		}
	/* Targets: the ones in the file, or else the defaults; listed in
	 * indicator order so that JSON output does not depend on file order. */
	{
		struct kdc_profile_target all[KDC_IND_COUNT];
		int any = 0;
		size_t n = 0;

		for (int i = 0; i < KDC_IND_COUNT; i++) {
			if (!st->target_seen[i].line)
				continue;
			any = 1;
			if (!(st->target_seen[i].keys & 1u) || !(st->target_seen[i].keys & 2u)) {
				snprintf(err, errlen, "%s:%d: [target %s] needs both percent = and deadline =",
				         path, st->target_seen[i].line, kdc_indicator_name(i));
				return KDC_ERR_CONFIG;
			}
			all[n++] = p->targets[i];
		}
		if (any) {
			memset(p->targets, 0, sizeof p->targets);
			memcpy(p->targets, all, n * sizeof all[0]);
			p->ntargets = n;
		}
	}
	return KDC_OK;
}

static void profile__set_defaults(struct kdc_profile *p)
{
	p->utc_offset_min = KDC_PROFILE_DEFAULT_OFFSET_MIN;
	p->regular_window_days = KDC_PROFILE_DEFAULT_WINDOW;
	p->ntargets = 0;
	for (size_t i = 0; i < sizeof default_targets / sizeof default_targets[0]; i++) {
		struct kdc_profile_target *t = &p->targets[p->ntargets++];

		t->indicator = default_targets[i].indicator;
		t->percent_x100 = default_targets[i].percent_x100;
		kdc_profile_parse_date(default_targets[i].deadline, t->deadline, &t->deadline_day);
	}
}

struct kdc_profile *kdc_profile_new_default(const char *ward)
{
	struct kdc_profile *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	profile__set_defaults(p);
	if (ward && kdc_code_valid(ward)) {
		snprintf(p->ward, sizeof p->ward, "%s", ward);
		snprintf(p->ward_name, sizeof p->ward_name, "%s", ward);
	}
	return p;
}

int kdc_profile_load(const char *path, struct kdc_profile **out, char *err, size_t errlen)
{
	struct parse_state st;
	struct kdc_profile *p = NULL;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof st);
	p = kdc_profile_new_default(NULL);
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	st.p = p;
	rc = kdc_ini_parse(path, profile__ini_cb, &st, err, errlen);
	if (rc)
		goto cleanup;
	rc = profile__finish(&st, path, err, errlen);
	if (rc)
		goto cleanup;
	if (p->ward_name[0] == '\0')
		snprintf(p->ward_name, sizeof p->ward_name, "%s", p->ward);
	*out = p;
	p = NULL;
cleanup:
	kdc_profile_free(p);
	free(st.khom_seen);
	free(st.team_seen);
	free(st.refs);
	return rc;
}

void kdc_profile_free(struct kdc_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nteams; i++) {
		free(p->teams[i].khoms);
		free(p->teams[i].devices);
	}
	free(p->teams);
	free(p->khoms);
	free(p);
}

long kdc_profile_khom_find(const struct kdc_profile *p, const char *code)
{
	for (size_t i = 0; p && i < p->nkhoms; i++)
		if (strcmp(p->khoms[i].code, code) == 0)
			return (long)i;
	return -1;
}

long kdc_profile_team_find(const struct kdc_profile *p, const char *code)
{
	for (size_t i = 0; p && i < p->nteams; i++)
		if (strcmp(p->teams[i].code, code) == 0)
			return (long)i;
	return -1;
}
