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
