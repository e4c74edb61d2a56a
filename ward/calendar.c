/* calendar.c: see calendar.h. */
#include <stdio.h>

#include "calendar.h"
#include "kdc_util.h"

int64_t kdc_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t kdc_local_day(int64_t ms, int utc_offset_min)
{
	return kdc_floor_div(ms + (int64_t)utc_offset_min * KDC_MS_PER_MIN, KDC_MS_PER_DAY);
}

int64_t kdc_local_hour(int64_t ms, int utc_offset_min)
{
	return kdc_floor_div(ms + (int64_t)utc_offset_min * KDC_MS_PER_MIN, KDC_MS_PER_HOUR);
}

int64_t kdc_local_day_start(int64_t day, int utc_offset_min)
{
	return day * KDC_MS_PER_DAY - (int64_t)utc_offset_min * KDC_MS_PER_MIN;
}

void kdc_day_format(int64_t day, char *out, size_t outlen)
{
	char buf[40];

	kdc_time_format(day * KDC_MS_PER_DAY, buf, sizeof buf);
	snprintf(out, outlen, "%.10s", buf);
}

int64_t kdc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void kdc_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int kdc_weekday(int64_t day)
{
	/* 1970-01-01 (day 0) was a Thursday */
	return (int)(((day % 7) + 7 + 3) % 7);
}

int64_t kdc_window_first(int64_t last, int ndays)
{
	return last - (ndays - 1);
}
