/* kdc_util.h: clocks, UUIDv7, hex, small string helpers. */
#ifndef KDC_UTIL_H
#define KDC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define KDC_UUID_LEN 16
#define KDC_UUID_STR_LEN 37 /* 36 chars + NUL */

/* Wall clock, UTC milliseconds since the epoch. */
int64_t kdc_now_ms(void);
/* Monotonic clock in milliseconds, for timeouts and rates. */
int64_t kdc_mono_ms(void);
/* Sleep for ms milliseconds (restarts after signals unless *stop is set). */
void kdc_sleep_ms(int64_t ms);

/* Makes a UUIDv7 (RFC 9562) for time `ms`: 48-bit ms timestamp, then a 12-bit
 * counter-ish random part and 62 random bits. Ids made in one process are
 * strictly increasing even within one millisecond. Thread-safe. 0 or
 * KDC_ERR_IO if the system's random source fails. */
int kdc_uuid7(uint8_t out[KDC_UUID_LEN], int64_t ms);
/* Formats 16 bytes as 8-4-4-4-12 lowercase hex into out (37 bytes). */
void kdc_uuid_format(const uint8_t id[KDC_UUID_LEN], char out[KDC_UUID_STR_LEN]);
/* Parses the canonical form (dashes optional); 0 or KDC_ERR_INVAL. */
int kdc_uuid_parse(const char *s, uint8_t out[KDC_UUID_LEN]);
/* The millisecond timestamp inside a UUIDv7. */
int64_t kdc_uuid7_ms(const uint8_t id[KDC_UUID_LEN]);

/* Formats UTC ms as "2026-11-27T22:14:15.123Z" into out (at least 25 bytes). */
void kdc_time_format(int64_t ms, char *out, size_t outlen);
/* Formats UTC ms as the local time offset_min minutes east of UTC, to the
 * minute: "2026-11-27 08:30" (out at least 17 bytes). */
void kdc_time_format_local(int64_t ms, int offset_min, char *out, size_t outlen);
/* Formats an offset as "UTC+07:00" (out at least 10 bytes). */
void kdc_utc_offset_format(int offset_min, char *out, size_t outlen);
/* Parses "YYYY-MM-DD" (UTC midnight) or "YYYY-MM-DDTHH:MM[:SS[.mmm]]Z";
 * 0 or KDC_ERR_INVAL. */
int kdc_time_parse(const char *s, int64_t *ms);
/* A time as a person types it: "2026-11-27T08:30[:SS[.mmm]]" followed by "Z",
 * an offset ("+07:00", "-03:30", "+0530", "+7"), or nothing, which means
 * default_offset_min (minutes east of UTC: the ward's local time); ' ' may
 * stand for 'T'. A date alone, "2026-11-27", is noon of that day at
 * default_offset_min: the middle of the day, so it stays on that day even if
 * an offset is a few hours off. 0 with *ms set, or KDC_ERR_INVAL with a
 * plain reason naming the accepted forms in err. */
int kdc_parse_time(const char *s, int default_offset_min, int64_t *ms, char *err, size_t errlen);
/* "+07:00", "+7", "+0700", "-03:30", "0", "Z", "UTC" -> minutes east of UTC,
 * from -14:00 to +14:00; 0 or KDC_ERR_INVAL. */
int kdc_parse_utc_offset(const char *s, int *out);

/* Strict integer parsing with bounds: 0, or KDC_ERR_INVAL if s is not a whole
 * number in [min, max]. */
int kdc_parse_ll(const char *s, long long min, long long max, long long *out);

/* Edit distance of two strings (bytes; a swap of neighbours counts as one
 * edit), capped: cap + 1 means "more than cap" (also for strings over 64
 * bytes). Pure. */
int kdc_edit_distance(const char *a, const char *b, int cap);

/* The name nearest to s among names[0..n): the first equal to it ignoring
 * ASCII case, else the closest at most 2 edits away (ties: the first). Its
 * index, or -1 when none is near. For "did you mean ...?". Pure. */
int kdc_nearest(const char *s, const char *const *names, size_t n);

/* strdup that returns NULL for NULL. */
char *kdc_strdup(const char *s);

/* Writes `len` bytes to a new file at path with mode 0600 (atomically via a
 * temporary file and rename). 0 or KDC_ERR_IO. */
int kdc_write_file_private(const char *path, const void *data, size_t len);

#endif
