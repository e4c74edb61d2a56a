/* monthly.h: `kdc-report monthly`, the month's report as a kdc_doc (doc.h),
 * written as a workbook or an HTML page:
 *  - a summary sheet: the ward, the month, the moment of its figures, when
 *    the report was made (its one cell that depends on the run), each
 *    target's value at the end of the month, its change over the month (end
 *    of month minus end of the month before) and its projected date (the
 *    statistics module's projection at the end of the month), then the
 *    ward's figures at both ends of the month;
 *  - a sheet per khóm and per team with the same for that scope;
 *  - for each closed month before this one (period.h), an adjustments
 *    sheet: where the figures recomputed now differ from the frozen ones
 *    (late events), both and the difference; "none" otherwise;
 *  - a sheet with the events of the month (the columns of export events).
 * A closed month's own report shows its official (frozen) figures, who
 * closed it and when and the hash, and on the summary the figures
 * recomputed now where they differ.
 * The figures come from figures.h (the statistics module), the events from
 * export_events.h. Main thread only. */
#ifndef KDC_MONTHLY_H
#define KDC_MONTHLY_H

#include <sqlite3.h>
#include <stdint.h>

#include "doc.h"
#include "period.h"
#include "profile.h"

struct kdc_monthly {
	sqlite3 *db;                       /* read from; not owned */
	const struct kdc_profile *profile; /* not owned */
	int lang;                          /* enum kdc_lang */
	int64_t first_day, last_day;       /* the month's ward-local days */
	int64_t generated_ms;              /* when the report is made (UTC ms) */
	const struct kdc_closed_list *closed; /* the closed months (period.h); NULL: none */
};

/* Fills d (kdc_doc_init'ed). KDC_OK with *events (the month's events), or
 * an error with a plain reason in err. */
int kdc_monthly_build(const struct kdc_monthly *m, struct kdc_doc *d, int64_t *events, char *err,
                      size_t errlen);
/* "2026-11" -> the month's first and last day; KDC_ERR_INVAL if it is not one. */
int kdc_monthly_parse(const char *s, int64_t *first_day, int64_t *last_day);

#endif
