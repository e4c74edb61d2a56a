/* csv.h: a CSV writer for spreadsheets (RFC 4180, as Excel reads it).
 *
 * Every row ends in CRLF; a field is quoted when it holds a comma, a double
 * quote, CR or LF, or starts or ends with a blank (Excel would trim it), and
 * a quote inside is doubled. Bytes pass through unchanged: UTF-8 text stays
 * UTF-8. kdc_csv_bom writes the byte-order mark without which Excel reads a
 * file as the machine's legacy code page and garbles Vietnamese letters.
 *
 * Write errors (a full disk, a closed pipe) are remembered, not returned by
 * each call: kdc_csv_end_row and kdc_csv_finish say whether everything so
 * far reached the stream, and errno's value at the first failure is kept.
 * One writer belongs to one thread; it does not own the stream. */
#ifndef KDC_CSV_H
#define KDC_CSV_H

#include <stdio.h>

/* Instead of a stream, rows may go to a sink (the workbook's and the HTML
 * page's events table take the same fields the CSV would hold): field gets
 * each field's text ("" when empty), with is_int and v for a whole number;
 * end_row returns 0, or an errno value that the writer then keeps. */
struct kdc_csv_sink {
	void *ud;
	void (*field)(void *ud, const char *s, int is_int, long long v);
	int (*end_row)(void *ud);
};

struct kdc_csv {
	FILE *out;
	const struct kdc_csv_sink *sink; /* NULL: write to out */
	int nfields;   /* fields written in the current row */
	int err;       /* errno of the first failed write, or EIO; 0 while fine */
};

void kdc_csv_init(struct kdc_csv *c, FILE *out);
/* A writer whose rows go to sink (borrowed); the byte-order mark is then
 * dropped. */
void kdc_csv_init_sink(struct kdc_csv *c, const struct kdc_csv_sink *sink);
/* The UTF-8 byte-order mark EF BB BF; call first, once. */
void kdc_csv_bom(struct kdc_csv *c);
/* One field of the current row; NULL or "" is an empty field. */
void kdc_csv_field(struct kdc_csv *c, const char *s);
/* A whole number (no grouping: Excel reads it as a number). */
void kdc_csv_int(struct kdc_csv *c, long long v);
/* Ends the row with CRLF. 0, or the remembered error (an errno value). */
int kdc_csv_end_row(struct kdc_csv *c);
/* Flushes the stream. 0, or the remembered error (an errno value). The
 * caller still closes the stream, and must check that too. */
int kdc_csv_finish(struct kdc_csv *c);

/* 1 if field s needs quotes (see above). */
int kdc_csv_needs_quotes(const char *s);

#endif
