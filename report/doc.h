/* doc.h: a report as sheets of rows of cells, made once and written as an
 * XLSX workbook (doc_xlsx.c) or a printable HTML page (doc_html.c), so that
 * both show the same content. Cells own their text. Main thread only. */
#ifndef KDC_REPORT_DOC_H
#define KDC_REPORT_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum kdc_cell_kind {
	KDC_CELL_TEXT = 0,
	KDC_CELL_INT,       /* a whole number */
	KDC_CELL_PERCENT,   /* a percent with 2 decimals, kept as its text ("42.50") */
};

/* How a row looks: plain, a table's heading row, the sheet's title, or a
 * label and its value (the first cell bold). */
enum kdc_row_style { KDC_ROW_PLAIN = 0, KDC_ROW_HEAD, KDC_ROW_TITLE, KDC_ROW_LABEL };

struct kdc_cell {
	int kind;           /* enum kdc_cell_kind */
	char *text;         /* the text as shown (numbers too); never NULL */
	int64_t n;          /* KDC_CELL_INT */
};

struct kdc_row {
	int style;          /* enum kdc_row_style */
	struct kdc_cell *cells;
	size_t n, cap;
};

struct kdc_sheet {
	char *name;         /* the tab's name (at most 31 characters) */
	struct kdc_row *rows;
	size_t n, cap;
};

struct kdc_doc {
	char *title;        /* the HTML page's title */
	char lang[3];       /* "vi" or "en": the HTML page's language */
	struct kdc_sheet *sheets;
	size_t n, cap;
	/* the one cell that holds when the report was made (sheet, row, cell):
	 * all the rest depends on the data only */
	size_t stamp_sheet, stamp_row, stamp_cell;
	int has_stamp;
	int64_t created_s;  /* the workbook's "created" property (UTC seconds): a
	                     * moment of the data, not of the run */
	int err;            /* KDC_ERR_NOMEM once an addition failed */
};

void kdc_doc_init(struct kdc_doc *d);
void kdc_doc_free(struct kdc_doc *d);
/* Adds a sheet and makes it current (rows go to the last sheet). */
void kdc_doc_sheet(struct kdc_doc *d, const char *name);
/* Starts a row of the current sheet. An empty plain row is a blank line. */
void kdc_doc_row(struct kdc_doc *d, int style);
void kdc_doc_text(struct kdc_doc *d, const char *s);
void kdc_doc_int(struct kdc_doc *d, int64_t n);
/* A percent as the snapshot writes it; "" is an empty cell. */
void kdc_doc_percent(struct kdc_doc *d, const char *s);
/* Marks the last cell added as the generation time. */
void kdc_doc_mark_stamp(struct kdc_doc *d);

/* doc_xlsx.c: writes path as an XLSX workbook. KDC_OK or KDC_ERR_IO with
 * err. */
int kdc_doc_write_xlsx(const struct kdc_doc *d, const char *path, char *err, size_t errlen);
/* doc_html.c: writes one HTML page, every text escaped. KDC_OK or
 * KDC_ERR_IO with err. */
int kdc_doc_write_html(const struct kdc_doc *d, FILE *out, char *err, size_t errlen);

#endif
