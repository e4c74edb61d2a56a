/* doc_html.c: a kdc_doc as one printable HTML page: each sheet a section
 * (a page break between them when printed), title rows as headings, label
 * rows as one line each, a heading row and the rows after it as a table.
 * Every text is escaped; one row per line, so that the generation time is
 * on a line of its own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "doc.h"
#include "kdc_err.h"

static void esc(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out); break;
		}
	}
}

static const char style[] =
	"body{font-family:sans-serif;font-size:10pt;margin:1.5em}"
	"h1{font-size:15pt}h2{font-size:13pt;margin-top:1.5em}"
	"table{border-collapse:collapse;margin:.6em 0}"
	"th,td{border:1px solid #999;padding:2px 6px;vertical-align:top}"
	"th{background:#eee;text-align:left}td.n{text-align:right}"
	"p.label{margin:.2em 0}"
	"section+section{page-break-before:always}"
	"@media print{body{margin:0}}";

static void cells(FILE *out, const struct kdc_row *row, const char *tag)
{
	fputs("<tr>", out);
	for (size_t c = 0; c < row->n; c++) {
		const struct kdc_cell *cell = &row->cells[c];
		fprintf(out, "<%s%s>", tag, cell->kind != KDC_CELL_TEXT && tag[1] == 'd' ? " class=\"n\"" : "");
		esc(out, cell->text);
		fprintf(out, "</%s>", tag);
	}
	fputs("</tr>\n", out);
}

static void sheet(FILE *out, const struct kdc_sheet *sh, int first)
{
	int in_table = 0;

	fputs("<section>\n", out);
	for (size_t r = 0; r < sh->n; r++) {
		const struct kdc_row *row = &sh->rows[r];
		if (in_table && (row->style != KDC_ROW_PLAIN || row->n == 0)) {
			fputs("</tbody></table>\n", out);
			in_table = 0;
		}
		if (row->style == KDC_ROW_TITLE) {
			fputs(first ? "<h1>" : "<h2>", out);
			for (size_t c = 0; c < row->n; c++)
				esc(out, row->cells[c].text);
			fputs(first ? "</h1>\n" : "</h2>\n", out);
		} else if (row->style == KDC_ROW_LABEL) {
			fputs("<p class=\"label\"><b>", out);
			esc(out, row->n ? row->cells[0].text : "");
			fputs("</b>", out);
			for (size_t c = 1; c < row->n; c++) {
				fputs(c == 1 ? ": " : " ", out);
				esc(out, row->cells[c].text);
			}
			fputs("</p>\n", out);
		} else if (row->style == KDC_ROW_HEAD) {
			fputs("<table><thead>", out);
			cells(out, row, "th");
			fputs("</thead><tbody>\n", out);
			in_table = 1;
		} else if (row->n) {
			if (!in_table) {
				fputs("<table><tbody>\n", out);
				in_table = 1;
			}
			cells(out, row, "td");
		}
	}
	if (in_table)
		fputs("</tbody></table>\n", out);
	fputs("</section>\n", out);
}

int kdc_doc_write_html(const struct kdc_doc *d, FILE *out, char *err, size_t errlen)
{
	if (d->err) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
	        d->lang[0] ? d->lang : "vi");
	esc(out, d->title ? d->title : "");
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
	for (size_t s = 0; s < d->n; s++)
		sheet(out, &d->sheets[s], s == 0);
	fputs("</body>\n</html>\n", out);
	if (ferror(out)) {
		snprintf(err, errlen, "writing failed: %s", strerror(errno ? errno : EIO));
		return KDC_ERR_IO;
	}
	return KDC_OK;
}
