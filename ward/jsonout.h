/* jsonout.h: the few cJSON writers shared by the ward snapshots (stats.c) and
 * the province snapshot (rollup.c), so both spell numbers and times alike.
 * Each adds one member to obj and returns it, or NULL when out of memory. */
#ifndef KDC_JSONOUT_H
#define KDC_JSONOUT_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "profile.h"

/* A target's pace is its gain over this many days; a projection further
 * away than the horizon is "not at this pace" (docs/stats.md). */
#define KDC_PACE_DAYS 30
#define KDC_HORIZON_DAYS 3650

/* An integer as raw text: cJSON's doubles would round VND sums above 2^53
 * and print them as 1e+16. */
cJSON *kdc_json_int(cJSON *obj, const char *name, int64_t v);
/* "2026-11-27T22:14:15.123Z", or null when has is 0. */
cJSON *kdc_json_time(cJSON *obj, const char *name, int has, int64_t ms);
/* A day number (days since 1970-01-01) as "YYYY-MM-DD". */
cJSON *kdc_json_day(cJSON *obj, const char *name, int64_t day);

/* The members of one target of a snapshot, the same for a ward (stats.c)
 * and the province (rollup.c): "indicator", "percent", "deadline",
 * "current" (value / denom in percent, 2 decimals), "value",
 * "denominator", "gained_30d" (the gain over KDC_PACE_DAYS; null when
 * has_gained is 0), "projected" (the day that pace meets the target),
 * "on_track" and "met". today is the snapshot's day number. */
void kdc_json_target(cJSON *o, const struct kdc_profile_target *t, int64_t value,
                     int64_t denom, int has_gained, int64_t gained, int64_t today);

#endif
