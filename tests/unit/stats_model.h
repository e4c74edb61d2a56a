/* stats_model.h: the statistics computed straightforwardly from a list of
 * counted events, as docs/stats.md defines them, for the property test: no
 * code of the statistics module is used. Also a JSON diff that names the
 * first difference. */
#ifndef KDC_STATS_MODEL_H
#define KDC_STATS_MODEL_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "event_row.h"
#include "profile.h"

#define DAY 86400000LL
#define HOUR 3600000LL

struct world {
	int offset_min;
	int window;
	int64_t now;
	char profile_text[2048];
	struct kdc_profile *profile;
};

enum { SC_WARD, SC_KHOM, SC_TEAM };

/* What the register and voids add: denominators per profile khóm (NULL:
 * the profile's) and the voided activity events (events.voided). */
struct model_extra {
	const long long *den_hh, *den_people, *den_biz;
	const struct kdc_event_row *voided;
	size_t nvoided;
};

/* The snapshot of one scope (kind SC_*, code "" for the ward) from the
 * counted events all[0, nall), as kdc_stats would publish it without seq
 * and as_of. x may be NULL. Free with cJSON_Delete. */
cJSON *model_snapshot(const struct world *w, const struct kdc_event_row *all, size_t nall,
                      int kind, const char *code, long long rejected, const struct model_extra *x);
/* 0 when equal, else 1 with "path: expected X, got Y" in out. */
int json_diff(const cJSON *want, const cJSON *got, const char *path, char *out, size_t len);

#endif
