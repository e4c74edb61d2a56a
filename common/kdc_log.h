/* kdc_log.h: one log function for every kdc program. Writes one line per call
 * to stderr (journald collects it under systemd). Thread-safe.
 *
 * Line format: "2026-11-27T08:30:00.123Z ident[pid] level: text"; when stderr
 * is the journal (JOURNAL_STREAM, see log.c) "<N>level: text" with the syslog
 * priority N (3 error, 4 warning, 5 notice, 6 info, 7 debug) and no time. */
#ifndef KDC_LOG_H
#define KDC_LOG_H

enum kdc_log_level {
	KDC_LOG_DEBUG = 0,
	KDC_LOG_INFO,
	KDC_LOG_NOTICE,
	KDC_LOG_WARNING,
	KDC_LOG_ERROR,
	KDC_LOG_NONE
};

/* Messages below `level` are dropped before formatting. Default INFO. */
void kdc_log_set_level(int level);
int kdc_log_get_level(void);
/* Parses "debug", "info", "notice", "warning", "error"; -1 if unknown. */
int kdc_log_level_parse(const char *name);
/* Program name shown in each line (static string, not copied). */
void kdc_log_set_ident(const char *ident);

void kdc_log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define kdc_log(level, ...) \
	do { \
		if ((level) >= kdc_log_get_level()) \
			kdc_log_write((level), __VA_ARGS__); \
	} while (0)
#define kdc_debug(...) kdc_log(KDC_LOG_DEBUG, __VA_ARGS__)
#define kdc_info(...) kdc_log(KDC_LOG_INFO, __VA_ARGS__)
#define kdc_notice(...) kdc_log(KDC_LOG_NOTICE, __VA_ARGS__)
#define kdc_warn(...) kdc_log(KDC_LOG_WARNING, __VA_ARGS__)
#define kdc_error(...) kdc_log(KDC_LOG_ERROR, __VA_ARGS__)

#endif
