/* profile.h: the ward profile, an INI file that gives the statistics their
 * denominators (households and people aged 15+ per khóm), the teams and the
 * khóms they cover, and the targets the ward reports against. See
 * deploy/ward-profile.example.ini for the format and docs/stats.md for how it
 * is used.
 *
 * A profile is plain data: loaded once, read-only afterwards, safe to read
 * from any thread while nobody frees it. */
#ifndef KDC_PROFILE_H
#define KDC_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "calendar.h" /* the ward's days: the profile's offset and dates use it */
#include "kdc_proto.h"

/* The indicators a target can be set on. Order is fixed (JSON names below). */
enum kdc_indicator {
	KDC_IND_HOUSEHOLDS_VISITED = 0,
	KDC_IND_HOUSEHOLDS_REACHED,
	KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT,
	KDC_IND_PEOPLE_PAYING_REGULARLY,
	KDC_IND_SERVICE_USERS_E_IDENTIFIED,  /* people and businesses using online public services */
	KDC_IND_BUSINESSES_USING_EINVOICE,
	KDC_IND_COUNT
};
/* "households_visited", ...; NULL out of range. */
const char *kdc_indicator_name(int ind);
/* The indicator named s, or -1. */
int kdc_indicator_parse(const char *s);

#define KDC_PROFILE_NAME_MAX 128      /* bytes of a display name (UTF-8) */
#define KDC_PROFILE_MAX_COUNT 10000000LL /* households or people in one khóm */
#define KDC_PROFILE_DEFAULT_OFFSET_MIN (7 * 60) /* Vietnam: UTC+07:00 all year */
#define KDC_PROFILE_DEFAULT_WINDOW 30  /* "paying regularly" window, days */
#define KDC_PROFILE_MAX_WINDOW 365

struct kdc_profile_khom {
	char code[KDC_CODE_MAX + 1];
	char name[KDC_PROFILE_NAME_MAX];  /* default "Khóm {code}" */
	long long households;
	long long people_15plus;
	long long businesses;             /* optional, 0: none known (the register's replace it) */
};

struct kdc_profile_team {
	char code[KDC_CODE_MAX + 1];
	char name[KDC_PROFILE_NAME_MAX];  /* default "Tổ {code}" */
	size_t *khoms;                    /* indices into kdc_profile.khoms */
	size_t nkhoms;
	char (*devices)[KDC_CODE_MAX + 1]; /* devices the team was given */
	size_t ndevices;
};

struct kdc_profile_target {
	int indicator;          /* enum kdc_indicator */
	long long percent_x100; /* 85% is 8500: exact comparisons, no floats */
	char deadline[11];      /* "YYYY-MM-DD", a local calendar date */
	int64_t deadline_day;   /* the same date as a day number (days since 1970-01-01) */
};

struct kdc_profile {
	char ward[KDC_CODE_MAX + 1];       /* administrative-unit code */
	char ward_name[KDC_PROFILE_NAME_MAX];
	int utc_offset_min;                /* local time = UTC + this; days start at local midnight */
	int regular_window_days;           /* "paying regularly": a payment in the last N days */
	struct kdc_profile_khom *khoms;
	size_t nkhoms;
	struct kdc_profile_team *teams;
	size_t nteams;
	struct kdc_profile_target targets[KDC_IND_COUNT];
	size_t ntargets;
};

/* Loads and checks a profile. On success *out is a new profile (free with
 * kdc_profile_free) and 0 is returned. On failure returns KDC_ERR_CONFIG (or
 * KDC_ERR_IO / KDC_ERR_NOMEM) with "path:line: reason" (or "path: reason"
 * for something missing from the whole file) in err, and *out is NULL. */
int kdc_profile_load(const char *path, struct kdc_profile **out, char *err, size_t errlen);

/* Value parsers of the profile format, shared with other INI files of the
 * same family (the province profile of kdc-rollup), so one format is learnt
 * once. Each returns 0 or an error code:
 *  - name: 1 to KDC_PROFILE_NAME_MAX - 1 bytes, copied to dst (reason in err);
 *  - percent: "85", "82.5", "82.75", optional '%' -> hundredths, in (0, 100];
 *  - offset: "+07:00", "+7", "+0700", "-03:30", "0", "Z" -> minutes east of UTC;
 *  - date: exactly YYYY-MM-DD, a real calendar date -> out and day number. */
int kdc_profile_parse_name(char *dst, const char *value, char *err, size_t errlen);
int kdc_profile_parse_percent(const char *s, long long *out);
int kdc_profile_parse_offset(const char *s, int *out);
int kdc_profile_parse_date(const char *s, char out[11], int64_t *day);

/* A profile with no khóms or teams, the default targets and settings, for a
 * ward run without --profile. ward may be NULL. NULL when out of memory. */
struct kdc_profile *kdc_profile_new_default(const char *ward);

void kdc_profile_free(struct kdc_profile *p);

/* Index of the khóm / team with that code, or -1. */
long kdc_profile_khom_find(const struct kdc_profile *p, const char *code);
long kdc_profile_team_find(const struct kdc_profile *p, const char *code);

#endif
