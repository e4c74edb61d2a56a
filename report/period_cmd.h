/* period_cmd.h: `kdc-report close` and `kdc-report reopen` (period.h does
 * the database's part): checks the request, computes the month's figures
 * for a close (figures.h, from a read of the database), writes, and says
 * what it did on standard output, what went wrong on standard error. Each
 * returns kdc-report's exit status: 0 done, 1 failed, 2 usage, 3 the
 * database cannot be used, 4 refused (close: closed already or not over;
 * reopen: not closed). Main thread only. */
#ifndef KDC_REPORT_PERIOD_CMD_H
#define KDC_REPORT_PERIOD_CMD_H

#include "profile.h"

int kdc_close_month(const char *db, const struct kdc_profile *p, const char *month, const char *by);
int kdc_reopen_month(const char *db, const char *month, const char *reason, const char *by);

#endif
