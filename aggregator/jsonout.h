/* jsonout.h: the few cJSON writers shared by the ward snapshots (stats.c) and
 * the province snapshot (rollup.c), so both spell numbers and times alike.
 * Each adds one member to obj and returns it, or NULL when out of memory. */
#ifndef KDC_JSONOUT_H
#define KDC_JSONOUT_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* An integer as raw text: cJSON's doubles would round VND sums above 2^53
 * and print them as 1e+16. */
cJSON *kdc_json_int(cJSON *obj, const char *name, int64_t v);
/* "2026-11-27T22:14:15.123Z", or null when has is 0. */
cJSON *kdc_json_time(cJSON *obj, const char *name, int has, int64_t ms);
/* A day number (days since 1970-01-01) as "YYYY-MM-DD". */
cJSON *kdc_json_day(cJSON *obj, const char *name, int64_t day);

#endif
