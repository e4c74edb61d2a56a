/* calendar.h: the ward's local calendar, the one place where a UTC time
 * becomes a local day or hour, a day number becomes a date, and a window of
 * days is counted. The aggregator (which day an event, even a late one,
 * counts on), the simulator (working days) and the province (the snapshot's
 * day) all use these, so a day means the same everywhere.
 *
 * A day number counts days since 1970-01-01 of the local calendar; a ward's
 * days start at local midnight (UTC + its offset in minutes). Pure
 * functions: any thread. Floor division throughout, so times before 1970
 * are correct too. */
#ifndef KDC_CALENDAR_H
#define KDC_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#define KDC_MS_PER_MIN 60000LL
#define KDC_MS_PER_HOUR 3600000LL
#define KDC_MS_PER_DAY 86400000LL

/* a / b rounded towards minus infinity (b > 0). */
int64_t kdc_floor_div(int64_t a, int64_t b);

/* Day number and hour number (hours since 1970-01-01 00:00 local) of UTC
 * time ms, for a UTC offset in minutes. */
int64_t kdc_local_day(int64_t ms, int utc_offset_min);
int64_t kdc_local_hour(int64_t ms, int utc_offset_min);
/* UTC time (ms) of local midnight starting day. */
int64_t kdc_local_day_start(int64_t day, int utc_offset_min);

/* Formats a day number as "YYYY-MM-DD" (out: at least 11 bytes). */
void kdc_day_format(int64_t day, char *out, size_t outlen);
/* Day number of a proleptic Gregorian date, and back (H. Hinnant's
 * civil-date algorithms). */
int64_t kdc_days_from_civil(int64_t y, unsigned m, unsigned d);
void kdc_civil_from_days(int64_t day, int64_t *y, unsigned *m, unsigned *d);
/* Day of the week of a day number: 0 = Monday ... 6 = Sunday. */
int kdc_weekday(int64_t day);

/* The first day of the window of ndays days that ends with (and includes)
 * day last: "the last 30 days" of today are kdc_window_first(today, 30) ..
 * today. */
int64_t kdc_window_first(int64_t last, int ndays);

#endif
