/* util.c: clocks, UUIDv7, time text, strict number parsing, private files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kdc_err.h"
#include "kdc_util.h"

int64_t kdc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kdc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kdc_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* a signal cuts the sleep short; callers loop on their own stop flag */
	nanosleep(&ts, NULL);
}

/* ---- UUIDv7 ------------------------------------------------------------- */

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms;
static unsigned uuid_counter; /* 12 bits in rand_a, so ids stay ordered */

static int util__random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return KDC_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return KDC_OK;
}

int kdc_uuid7(uint8_t out[KDC_UUID_LEN], int64_t ms)
{
	uint8_t rnd[10];
	unsigned counter;

	if (util__random(rnd, sizeof rnd) != KDC_OK)
		return KDC_ERR_IO;
	pthread_mutex_lock(&uuid_lock);
	if (ms > uuid_last_ms) {
		uuid_last_ms = ms;
		/* start low in the 12-bit space so a burst has room to count up */
		uuid_counter = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x3ff;
	} else if (++uuid_counter > 0xfff) {
		/* more than 4096 ids in one ms, or the clock went back: borrow
		 * from the next millisecond rather than lose the order */
		uuid_last_ms++;
		uuid_counter = 0;
	}
	ms = uuid_last_ms;
	counter = uuid_counter;
	pthread_mutex_unlock(&uuid_lock);

	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
	out[6] = (uint8_t)(0x70 | (counter >> 8));
	out[7] = (uint8_t)(counter & 0xff);
	out[8] = (uint8_t)(0x80 | (rnd[2] & 0x3f));
	memcpy(out + 9, rnd + 3, 7);
	return KDC_OK;
}

int64_t kdc_uuid7_ms(const uint8_t id[KDC_UUID_LEN])
{
	int64_t ms = 0;

	for (int i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

void kdc_uuid_format(const uint8_t id[KDC_UUID_LEN], char out[KDC_UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < KDC_UUID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}

static int util__hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int kdc_uuid_parse(const char *s, uint8_t out[KDC_UUID_LEN])
{
	int n = 0;

	for (; *s && n < 2 * KDC_UUID_LEN; s++) {
		int v;
		if (*s == '-')
			continue;
		if ((v = util__hexval(*s)) < 0)
			return KDC_ERR_INVAL;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return (n == 2 * KDC_UUID_LEN && *s == '\0') ? KDC_OK : KDC_ERR_INVAL;
}

/* ---- time text ---------------------------------------------------------- */

void kdc_time_format(int64_t ms, char *out, size_t outlen)
{
	time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int msec = (int)(ms - (int64_t)sec * 1000);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, outlen, "invalid-time");
		return;
	}
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n > 0 && n < outlen)
		snprintf(out + n, outlen - n, ".%03dZ", msec);
}

void kdc_time_format_local(int64_t ms, int offset_min, char *out, size_t outlen)
{
	int64_t local = ms + (int64_t)offset_min * 60000;
	time_t sec = (time_t)(local >= 0 ? local / 1000 : (local - 999) / 1000);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || strftime(out, outlen, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(out, outlen, "invalid-time");
}

void kdc_utc_offset_format(int offset_min, char *out, size_t outlen)
{
	int a = offset_min < 0 ? -offset_min : offset_min;

	snprintf(out, outlen, "UTC%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60 % 100, a % 60);
}

int kdc_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, used = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
		return KDC_ERR_INVAL;
	s += used;
	if (*s == 'T' || *s == ' ') {
		used = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &used) != 2)
			return KDC_ERR_INVAL;
		s += 1 + used;
		if (*s == ':') {
			used = 0;
			if (sscanf(s + 1, "%2d%n", &sec, &used) != 1)
				return KDC_ERR_INVAL;
			s += 1 + used;
			if (*s == '.') {
				int digits = 0;
				for (s++; *s >= '0' && *s <= '9'; s++, digits++)
					if (digits < 3)
						msec = msec * 10 + (*s - '0');
				for (; digits < 3; digits++)
					msec *= 10;
			}
		}
		if (*s == 'Z')
			s++;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
		return KDC_ERR_INVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d) /* 2026-02-31 normalises: refuse */
		return KDC_ERR_INVAL;
	*ms = (int64_t)t * 1000 + msec;
	return KDC_OK;
}

/* "+07:00", "+7", "+0700", "-03:30", "0", "Z", "UTC" -> minutes east of UTC,
 * within -14:00..+14:00 (the spelling of a ward profile's utc_offset). */
int kdc_parse_utc_offset(const char *s, int *out)
{
	int sign = 1, h = 0, m = 0, n = 0;

	if (strcmp(s, "Z") == 0 || strcmp(s, "0") == 0 || strcmp(s, "UTC") == 0) {
		*out = 0;
		return KDC_OK;
	}
	if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
	} else {
		return KDC_ERR_INVAL;
	}
	for (; *s >= '0' && *s <= '9' && n < 2; s++, n++)
		h = h * 10 + (*s - '0');
	if (n == 0)
		return KDC_ERR_INVAL;
	if (*s == ':')
		s++;
	if (*s) {
		if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == '\0'))
			return KDC_ERR_INVAL;
		m = (s[0] - '0') * 10 + (s[1] - '0');
	}
	if (h > 14 || m > 59 || (h == 14 && m > 0))
		return KDC_ERR_INVAL;
	*out = sign * (h * 60 + m);
	return KDC_OK;
}

/* Exactly n digits at *s (advanced past them) -> *v; else -1. */
static int util__digits(const char **s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		*v = *v * 10 + (**s - '0');
	}
	return 0;
}

#define UTIL_TIME_FORMS "write 2026-11-27T08:30 (ward time), 2026-11-27T08:30:15, " \
	"2026-11-27T08:30+07:00, 2026-11-27T01:30Z, or a date alone, 2026-11-27 (noon, ward time)"

int kdc_parse_time(const char *s, int default_offset_min, int64_t *ms, char *err, size_t errlen)
{
	const char *p = s;
	int y, mo, d, h = 12, mi = 0, sec = 0, msec = 0, off = default_offset_min;
	struct tm tm;
	time_t t;

	if (util__digits(&p, 4, &y) || *p++ != '-' || util__digits(&p, 2, &mo) || *p++ != '-' ||
	    util__digits(&p, 2, &d))
		goto bad;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (util__digits(&p, 2, &h) || *p++ != ':' || util__digits(&p, 2, &mi))
			goto bad;
		if (*p == ':') {
			p++;
			if (util__digits(&p, 2, &sec))
				goto bad;
			if (*p == '.') {
				int digits = 0;
				for (p++; *p >= '0' && *p <= '9'; p++, digits++)
					if (digits < 3)
						msec = msec * 10 + (*p - '0');
				if (digits == 0)
					goto bad;
				for (; digits < 3; digits++)
					msec *= 10;
			}
		}
		/* Z or +HH:MM / -HH:MM; nothing means the ward's local time */
		if (*p == 'Z' && p[1] == '\0')
			off = 0;
		else if ((*p == '+' || *p == '-') && kdc_parse_utc_offset(p, &off) == KDC_OK)
			;
		else if (*p != '\0')
			goto bad;
		if (h > 23 || mi > 59 || sec > 59) {
			snprintf(err, errlen, "'%.40s' is not a time: no such time of day "
			         "(00:00 to 23:59:59); " UTIL_TIME_FORMS, s);
			return KDC_ERR_INVAL;
		}
	} else if (*p != '\0') {
		goto bad;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (mo < 1 || mo > 12 || d < 1 || t == (time_t)-1 || tm.tm_mday != d) {
		/* timegm turns 2026-02-30 into March 2nd: refuse instead */
		snprintf(err, errlen, "'%.40s' is not a time: no such day in the calendar; "
		         UTIL_TIME_FORMS, s);
		return KDC_ERR_INVAL;
	}
	*ms = ((int64_t)t - (int64_t)off * 60) * 1000 + msec;
	return KDC_OK;
bad:
	snprintf(err, errlen, "'%.40s' is not a time; " UTIL_TIME_FORMS, s);
	return KDC_ERR_INVAL;
}

/* ---- numbers and strings ------------------------------------------------ */

int kdc_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return KDC_ERR_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return KDC_ERR_INVAL;
	*out = v;
	return KDC_OK;
}

char *kdc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int kdc_write_file_private(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, rc = KDC_ERR_IO;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return KDC_ERR_INVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return KDC_ERR_IO;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto cleanup;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto cleanup;
	rc = KDC_OK;
cleanup:
	if (close(fd) != 0)
		rc = KDC_ERR_IO;
	if (rc == KDC_OK && rename(tmp, path) != 0)
		rc = KDC_ERR_IO;
	if (rc != KDC_OK)
		unlink(tmp);
	return rc;
}

/* ---- nearest names --------------------------------------------------------------- */

int kdc_edit_distance(const char *a, const char *b, int cap)
{
	enum { MAXLEN = 64 };
	int row[3][MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAXLEN || lb > MAXLEN || (la > lb ? la - lb : lb - la) > (size_t)cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int *cur = row[i % 3], *prev = row[(i - 1) % 3], *prev2 = row[(i + 1) % 3];
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int v = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return row[la % 3][lb] > cap ? cap + 1 : row[la % 3][lb];
}

static int util__same_ignoring_case(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return *a == *b;
}

int kdc_nearest(const char *s, const char *const *names, size_t n)
{
	int best = -1, best_d = 3;

	for (size_t i = 0; i < n; i++)
		if (util__same_ignoring_case(s, names[i]))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		int d = kdc_edit_distance(s, names[i], 2);
		if (d < best_d) {
			best_d = d;
			best = (int)i;
		}
	}
	return best;
}
