/* export_indicators.h: `kdc-report export indicators`, the ward's figures
 * per period as CSV: one row per (period, scope), the period's last day,
 * the scope, each figure of labels.h and each target's value, denominator
 * and current percent, as they stood at the end of that day (figures.h:
 * computed by the statistics module). The same CSV writer and conventions
 * as export events (docs/report.md). Main thread only. */
#ifndef KDC_EXPORT_INDICATORS_H
#define KDC_EXPORT_INDICATORS_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"

struct kdc_export_indicators {
	sqlite3 *db;                       /* read from; not owned */
	const struct kdc_profile *profile; /* not owned */
	int lang;                          /* enum kdc_lang */
	int by_month;                      /* 1: a period per month, 0: per day */
	/* ward-local days, both included; unset: the first and last event's */
	int has_from, has_to;
	int64_t from_day, to_day;
	FILE *out;                         /* not closed */
};

/* Writes the header and the rows. KDC_OK with *rows set (data rows), or an
 * error with a plain reason in err: KDC_ERR_IO (writing failed), KDC_ERR_DB,
 * KDC_ERR_NOMEM. */
int kdc_export_indicators_run(const struct kdc_export_indicators *x, int64_t *rows, char *err,
                              size_t errlen);

#endif
