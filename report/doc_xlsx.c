/* doc_xlsx.c: a kdc_doc as an XLSX workbook, with libxlsxwriter. Numbers are
 * written as numbers (a spreadsheet sums them), percents as numbers shown
 * with 2 decimals, the rest as text (dates too: YYYY-MM-DD, so that no
 * locale turns them around). The workbook's "created" property is the
 * doc's created_s, not the clock: the generation time is in its one cell. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "doc.h"
#include "kdc_err.h"

struct formats {
	lxw_format *title, *head, *label, *percent;
};

static void make_formats(lxw_workbook *wb, struct formats *f)
{
	f->title = workbook_add_format(wb);
	format_set_bold(f->title);
	format_set_font_size(f->title, 14);
	f->head = workbook_add_format(wb);
	format_set_bold(f->head);
	format_set_bottom(f->head, LXW_BORDER_THIN);
	format_set_text_wrap(f->head);
	format_set_align(f->head, LXW_ALIGN_VERTICAL_TOP);
	f->label = workbook_add_format(wb);
	format_set_bold(f->label);
	f->percent = workbook_add_format(wb);
	format_set_num_format(f->percent, "0.00");
}

static lxw_error write_cell(lxw_worksheet *ws, const struct formats *f, lxw_row_t r, lxw_col_t c,
                            const struct kdc_row *row, const struct kdc_cell *cell)
{
	lxw_format *fmt = row->style == KDC_ROW_TITLE ? f->title
	                  : row->style == KDC_ROW_HEAD ? f->head
	                  : row->style == KDC_ROW_LABEL && c == 0 ? f->label
	                                                          : NULL;

	switch (cell->kind) {
	case KDC_CELL_INT:
		return worksheet_write_number(ws, r, c, (double)cell->n, fmt);
	case KDC_CELL_PERCENT:
		return worksheet_write_number(ws, r, c, strtod(cell->text, NULL), fmt ? fmt : f->percent);
	default:
		if (!*cell->text)
			return LXW_NO_ERROR;
		return worksheet_write_string(ws, r, c, cell->text, fmt);
	}
}

static lxw_error write_sheet(lxw_workbook *wb, const struct formats *f, const struct kdc_sheet *sh)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, sh->name);
	size_t widest = 0;
	lxw_error e;

	if (!ws)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	for (size_t r = 0; r < sh->n; r++) {
		const struct kdc_row *row = &sh->rows[r];
		if (row->n > widest)
			widest = row->n;
		for (size_t c = 0; c < row->n; c++)
			if ((e = write_cell(ws, f, (lxw_row_t)r, (lxw_col_t)c, row, &row->cells[c])))
				return e;
	}
	/* the first column holds the labels; the others, numbers and codes */
	worksheet_set_column(ws, 0, 0, 34, NULL);
	if (widest > 1)
		worksheet_set_column(ws, 1, (lxw_col_t)(widest - 1), 16, NULL);
	worksheet_set_landscape(ws);
	worksheet_fit_to_pages(ws, 1, 0);
	return LXW_NO_ERROR;
}

int kdc_doc_write_xlsx(const struct kdc_doc *d, const char *path, char *err, size_t errlen)
{
	lxw_doc_properties props;
	struct formats f;
	lxw_workbook *wb;
	lxw_error e = LXW_NO_ERROR, ce;

	if (d->err) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	if (!(wb = workbook_new(path))) {
		snprintf(err, errlen, "cannot create the workbook");
		return KDC_ERR_IO;
	}
	memset(&props, 0, sizeof props);
	props.title = d->title;
	props.created = (time_t)d->created_s;
	workbook_set_properties(wb, &props);
	make_formats(wb, &f);
	for (size_t s = 0; s < d->n && !e; s++)
		e = write_sheet(wb, &f, &d->sheets[s]);
	ce = workbook_close(wb); /* writes the file, and frees wb in any case */
	if (e || ce) {
		snprintf(err, errlen, "writing the workbook failed: %s", lxw_strerror(e ? e : ce));
		return KDC_ERR_IO;
	}
	return KDC_OK;
}
