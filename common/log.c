/* log.c: one line per message to stderr: "time ident[pid] LEVEL: text".
 * Each line is formatted into a buffer and written with one write(2), so lines
 * from different threads never interleave.
 *
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names stderr's
 * device and inode, systemd.exec(5)), a line is "<N>LEVEL: text" instead: the
 * journal adds the time, the unit and the pid itself, and reads the syslog
 * priority N from the prefix (sd-daemon(3)), so `journalctl -p err` filters.
 * Stderr redirected to a file under systemd keeps the plain format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kdc_log.h"

static volatile int log_level = KDC_LOG_INFO;
static const char *log_ident = "kdc";

static const char *const level_names[] = {
	"debug", "info", "notice", "warning", "error"
};
/* syslog priorities of the levels above: LOG_DEBUG .. LOG_ERR */
static const int level_priority[] = { 7, 6, 5, 4, 3 };

/* -1: not looked at yet; 0: plain lines; 1: journal lines. Decided at the
 * first line written (stderr is set up by then). Any thread may compute it: every one gets the same answer, so the race is harmless. */
static volatile int log_journal = -1;

/* True when JOURNAL_STREAM is "DEV:INODE" of what stderr is now. */
static int log__stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char tail;

	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &sb) != 0)
		return 0;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void kdc_log_set_level(int level) { log_level = level; }
int kdc_log_get_level(void) { return log_level; }
void kdc_log_set_ident(const char *ident) { log_ident = ident; }

int kdc_log_level_parse(const char *name)
{
	for (int i = 0; i < KDC_LOG_NONE; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	if (strcasecmp(name, "warn") == 0)
		return KDC_LOG_WARNING;
	return -1;
}

void kdc_log_write(int level, const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int w;

	if (level < log_level || level < 0 || level >= KDC_LOG_NONE)
		return;
	if (log_journal < 0)
		log_journal = log__stderr_is_journal();
	if (log_journal) {
		n = 0;
		w = snprintf(buf, sizeof buf, "<%d>%s: ", level_priority[level], level_names[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
		w = snprintf(buf + n, sizeof buf - n, ".%03ldZ %s[%d] %s: ",
		             ts.tv_nsec / 1000000L, log_ident, (int)getpid(), level_names[level]);
	}
	if (w > 0)
		n += (size_t)w < sizeof buf - n ? (size_t)w : sizeof buf - n - 1;
	va_start(ap, fmt);
	w = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	va_end(ap);
	if (w > 0)
		n += (size_t)w < sizeof buf - n ? (size_t)w : sizeof buf - n - 1;
	if (n >= sizeof buf - 1)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	/* best effort: nothing sensible to do if stderr is gone */
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}
