/* register_csv.h: the ward's household register as a CSV file, as the ward
 * office keeps it (docs/register.md):
 *
 *   # khóm 6, from the 2026 household list
 *   khom,household,people_15plus
 *   6,H0001,3
 *   6,H0002,2
 *
 * UTF-8 (a byte-order mark is allowed), LF or CRLF line ends, fields quoted
 * or not ("a ""b""" for a quote inside), blanks around fields ignored, lines
 * starting with '#' and blank lines ignored. The first other line is the
 * header: khom,household or khom,household,people_15plus (any case, any
 * order), with an optional column type: household (the default, also for an
 * empty cell) or business (a household business or an enterprise, which has
 * no people_15plus). An empty people_15plus cell means "not given".
 *
 * Every row is checked against the rules and the ward profile, and every bad
 * row gives one message "FILE:LINE: reason": a bad code, a khóm the profile
 * lacks, the wrong number of cells, people_15plus not a number 0..100, a
 * household listed twice in one khóm (naming the other line), and two codes
 * of one khóm differing only in case (H0042 and h0042). */
#ifndef KDC_REGISTER_CSV_H
#define KDC_REGISTER_CSV_H

#include <stddef.h>
#include "kdc_proto.h"
#include "profile.h"

#define KDC_REGISTER_PEOPLE_MAX 100  /* people aged 15+ in one household */
#define KDC_REGISTER_LINE_MAX 4096   /* bytes of one line of the file */

struct kdc_register_row {
	char khom[KDC_CODE_MAX + 1];
	char household[KDC_CODE_MAX + 1];
	int people_15plus;   /* -1: not given (always for a business) */
	int business;        /* 1: type business; 0: household */
	int line;            /* line number in the file, from 1 */
};

struct kdc_register_csv {
	struct kdc_register_row *rows;  /* in file order */
	size_t nrows;
	int has_people;                 /* the header has people_15plus */
	char **errors;                  /* "FILE:LINE: reason", by line */
	size_t nerrors;
};

/* Reads and checks path (profile: the ward's khóms). KDC_OK when the file
 * was read, even with bad rows (then out->nerrors > 0); KDC_ERR_IO when it
 * cannot be read (reason in err), KDC_ERR_NOMEM. Free out with
 * kdc_register_csv_free in every case. */
int kdc_register_csv_read(const char *path, const struct kdc_profile *profile,
                          struct kdc_register_csv *out, char *err, size_t errlen);
void kdc_register_csv_free(struct kdc_register_csv *c);

#endif
