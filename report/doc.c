/* doc.c: see doc.h. An addition that runs out of memory sets d->err and
 * the rest are ignored: the caller checks once, at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "kdc_err.h"

void kdc_doc_init(struct kdc_doc *d)
{
	memset(d, 0, sizeof *d);
}

void kdc_doc_free(struct kdc_doc *d)
{
	for (size_t s = 0; s < d->n; s++) {
		struct kdc_sheet *sh = &d->sheets[s];
		for (size_t r = 0; r < sh->n; r++) {
			for (size_t c = 0; c < sh->rows[r].n; c++)
				free(sh->rows[r].cells[c].text);
			free(sh->rows[r].cells);
		}
		free(sh->rows);
		free(sh->name);
	}
	free(d->sheets);
	free(d->title);
	memset(d, 0, sizeof *d);
}

/* Room for one more element of size sz in *arr (n used, *cap allocated). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	void *p;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 8;
	if (!(p = realloc(*arr, want * sz)))
		return -1;
	*arr = p;
	*cap = want;
	return 0;
}

void kdc_doc_sheet(struct kdc_doc *d, const char *name)
{
	struct kdc_sheet *sh;

	if (d->err || grow((void **)&d->sheets, d->n, &d->cap, sizeof *d->sheets)) {
		d->err = KDC_ERR_NOMEM;
		return;
	}
	sh = &d->sheets[d->n];
	memset(sh, 0, sizeof *sh);
	if (!(sh->name = strdup(name))) {
		d->err = KDC_ERR_NOMEM;
		return;
	}
	d->n++;
}

void kdc_doc_row(struct kdc_doc *d, int style)
{
	struct kdc_sheet *sh;

	if (d->err || !d->n)
		return;
	sh = &d->sheets[d->n - 1];
	if (grow((void **)&sh->rows, sh->n, &sh->cap, sizeof *sh->rows)) {
		d->err = KDC_ERR_NOMEM;
		return;
	}
	memset(&sh->rows[sh->n], 0, sizeof sh->rows[sh->n]);
	sh->rows[sh->n++].style = style;
}

static void add(struct kdc_doc *d, int kind, const char *text, int64_t n)
{
	struct kdc_row *row;
	struct kdc_cell *c;

	if (d->err || !d->n || !d->sheets[d->n - 1].n)
		return;
	row = &d->sheets[d->n - 1].rows[d->sheets[d->n - 1].n - 1];
	if (grow((void **)&row->cells, row->n, &row->cap, sizeof *row->cells)) {
		d->err = KDC_ERR_NOMEM;
		return;
	}
	c = &row->cells[row->n];
	c->kind = kind;
	c->n = n;
	if (!(c->text = strdup(text ? text : ""))) {
		d->err = KDC_ERR_NOMEM;
		return;
	}
	row->n++;
}

void kdc_doc_text(struct kdc_doc *d, const char *s)
{
	add(d, KDC_CELL_TEXT, s, 0);
}

void kdc_doc_int(struct kdc_doc *d, int64_t n)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%lld", (long long)n);
	add(d, KDC_CELL_INT, buf, n);
}

void kdc_doc_percent(struct kdc_doc *d, const char *s)
{
	add(d, s && *s ? KDC_CELL_PERCENT : KDC_CELL_TEXT, s, 0);
}

void kdc_doc_mark_stamp(struct kdc_doc *d)
{
	const struct kdc_sheet *sh;

	if (d->err || !d->n || !(sh = &d->sheets[d->n - 1])->n || !sh->rows[sh->n - 1].n)
		return;
	d->has_stamp = 1;
	d->stamp_sheet = d->n - 1;
	d->stamp_row = sh->n - 1;
	d->stamp_cell = sh->rows[sh->n - 1].n - 1;
}
