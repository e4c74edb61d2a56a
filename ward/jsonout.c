/* jsonout.c: see jsonout.h. */
#include <stdio.h>

#include "jsonout.h"
#include "kdc_util.h"
#include "profile.h"

cJSON *kdc_json_int(cJSON *obj, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", (long long)v);
	return cJSON_AddRawToObject(obj, name, buf);
}

cJSON *kdc_json_time(cJSON *obj, const char *name, int has, int64_t ms)
{
	char buf[40];

	if (!has)
		return cJSON_AddNullToObject(obj, name);
	kdc_time_format(ms, buf, sizeof buf);
	return cJSON_AddStringToObject(obj, name, buf);
}

cJSON *kdc_json_day(cJSON *obj, const char *name, int64_t day)
{
	char buf[16];

	kdc_day_format(day, buf, sizeof buf);
	return cJSON_AddStringToObject(obj, name, buf);
}

static int64_t json__ceil_div(int64_t a, int64_t b)
{
	return a / b + ((a % b != 0) && ((a > 0) == (b > 0)));
}

void kdc_json_target(cJSON *o, const struct kdc_profile_target *t, int64_t value,
                     int64_t denom, int has_gained, int64_t gained, int64_t today)
{
	char buf[32];
	int64_t need;

	cJSON_AddStringToObject(o, "indicator", kdc_indicator_name(t->indicator));
	if (t->percent_x100 % 100)
		snprintf(buf, sizeof buf, "%lld.%02lld", t->percent_x100 / 100, t->percent_x100 % 100);
	else
		snprintf(buf, sizeof buf, "%lld", t->percent_x100 / 100);
	cJSON_AddRawToObject(o, "percent", buf);
	cJSON_AddStringToObject(o, "deadline", t->deadline);
	if (denom > 0) {
		/* percent with 2 decimals, rounded down, in integers: a count
		 * below the target never gives a `current` that reaches it */
		int64_t c100 = value * 10000 / denom;
		snprintf(buf, sizeof buf, "%lld.%02lld", (long long)(c100 / 100), (long long)(c100 % 100));
		cJSON_AddRawToObject(o, "current", buf);
	} else {
		cJSON_AddNullToObject(o, "current");
	}
	kdc_json_int(o, "value", value);
	kdc_json_int(o, "denominator", denom);
	if (has_gained)
		kdc_json_int(o, "gained_30d", gained);
	else
		cJSON_AddNullToObject(o, "gained_30d");
	/* the smallest count that meets the target: value * 10000 >= percent_x100 * denom */
	need = json__ceil_div(t->percent_x100 * denom, 10000);
	if (denom <= 0) {
		cJSON_AddNullToObject(o, "projected");
		cJSON_AddBoolToObject(o, "on_track", 0);
		cJSON_AddBoolToObject(o, "met", 0);
	} else if (value >= need) {
		kdc_json_day(o, "projected", today);
		cJSON_AddBoolToObject(o, "on_track", 1);
		cJSON_AddBoolToObject(o, "met", 1);
	} else {
		int64_t days = 0;
		int reachable = has_gained && gained > 0;

		if (reachable) {
			days = json__ceil_div((need - value) * KDC_PACE_DAYS, gained);
			reachable = days <= KDC_HORIZON_DAYS;
		}
		if (reachable)
			kdc_json_day(o, "projected", today + days);
		else
			cJSON_AddNullToObject(o, "projected");
		cJSON_AddBoolToObject(o, "on_track", reachable && today + days <= t->deadline_day);
		cJSON_AddBoolToObject(o, "met", 0);
	}
}
