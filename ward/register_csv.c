/* register_csv.c: reads the register CSV. See register_csv.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kdc_err.h"
#include "kdc_util.h"
#include "register_csv.h"

#define CSV_FILE_MAX (64L * 1024 * 1024)
#define CSV_CELLS_MAX 8

enum { COL_KHOM, COL_HOUSEHOLD, COL_PEOPLE, COL_TYPE, COL_N };
static const char *const csv_col_names[COL_N] = { "khom", "household", "people_15plus", "type" };

struct csv_err {
	int line;
	size_t seq;           /* order of finding, among errors of one line */
	char *msg;
};

struct csv_reader {
	const char *path;
	const struct kdc_profile *profile;
	struct kdc_register_csv *out;
	size_t rows_cap, errors_cap;
	int col[COL_N];       /* cell index of each column, -1 absent */
	int ncols;            /* cells in the header */
	struct csv_err *errs;
	size_t nerrs;
	int nomem;
};

static void csv__error(struct csv_reader *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Adds "FILE:LINE: reason" to the list (sorted by line at the end). */
static void csv__error(struct csv_reader *r, int line, const char *fmt, ...)
{
	char msg[512], *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (r->nerrs == r->errors_cap) {
		size_t cap = r->errors_cap ? 2 * r->errors_cap : 16;
		struct csv_err *e = realloc(r->errs, cap * sizeof *e);
		if (!e) {
			r->nomem = 1;
			return;
		}
		r->errs = e;
		r->errors_cap = cap;
	}
	n = snprintf(NULL, 0, "%s:%d: %s", r->path, line, msg);
	if (!(s = malloc((size_t)n + 1))) {
		r->nomem = 1;
		return;
	}
	snprintf(s, (size_t)n + 1, "%s:%d: %s", r->path, line, msg);
	r->errs[r->nerrs] = (struct csv_err){ line, r->nerrs, s };
	r->nerrs++;
}

/* Splits one line (NUL-terminated, no line end) into cells, in place:
 * quotes removed, blanks around unquoted text trimmed. Returns the number of
 * cells, or -1 with a reason in *why. */
static int csv__split(char *p, char **cells, int max, const char **why)
{
	int n = 0;

	for (;;) {
		char *w;
		while (*p == ' ' || *p == '\t')
			p++;
		if (n == max) {
			*why = "too many cells";
			return -1;
		}
		cells[n++] = w = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (!*p) {
					*why = "a quote is not closed on this line";
					return -1;
				}
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p && *p != ',') {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			char *end;
			while (*p && *p != ',') {
				if (*p == '"') {
					*why = "a quote inside a cell that does not start with one";
					return -1;
				}
				p++;
			}
			end = p;
			while (end > w && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			w = end;
		}
		if (!*p) {
			*w = '\0';
			return n;
		}
		*w = '\0';
		p++; /* the comma */
	}
}

static int csv__header(struct csv_reader *r, char **cells, int n, int line)
{
	for (int c = 0; c < COL_N; c++)
		r->col[c] = -1;
	for (int i = 0; i < n; i++) {
		int c;
		for (c = 0; c < COL_N; c++)
			if (strcasecmp(cells[i], csv_col_names[c]) == 0)
				break;
		if (c == COL_N || r->col[c] >= 0) {
			csv__error(r, line, "the header must be khom,household or khom,household,people_15plus "
			                    "(and optionally type) (found '%s')", cells[i]);
			return -1;
		}
		r->col[c] = i;
	}
	if (r->col[COL_KHOM] < 0 || r->col[COL_HOUSEHOLD] < 0) {
		csv__error(r, line, "the header must name the columns khom and household "
		                    "(and optionally people_15plus and type)");
		return -1;
	}
	r->ncols = n;
	r->out->has_people = r->col[COL_PEOPLE] >= 0;
	return 0;
}

static void csv__row(struct csv_reader *r, char **cells, int n, int line)
{
	struct kdc_register_csv *c = r->out;
	struct kdc_register_row row = { .people_15plus = -1, .line = line };
	const char *khom, *hh, *people = NULL, *type = NULL;
	int bad = 0;

	if (n != r->ncols) {
		csv__error(r, line, "%d cells, but the header has %d", n, r->ncols);
		return;
	}
	khom = cells[r->col[COL_KHOM]];
	hh = cells[r->col[COL_HOUSEHOLD]];
	if (r->col[COL_PEOPLE] >= 0)
		people = cells[r->col[COL_PEOPLE]];
	if (r->col[COL_TYPE] >= 0)
		type = cells[r->col[COL_TYPE]];
	if (!kdc_code_valid(khom)) {
		csv__error(r, line, "the khóm code '%.40s' is not a code (1-32 letters, digits, '_' or '-')", khom);
		bad = 1;
	} else if (kdc_profile_khom_find(r->profile, khom) < 0) {
		csv__error(r, line, "khóm '%s' is not in the ward profile", khom);
		bad = 1;
	}
	if (!kdc_code_valid(hh)) {
		csv__error(r, line, "the household code '%.40s' is not a code (1-32 letters, digits, '_' or '-')", hh);
		bad = 1;
	}
	if (people && *people) {
		long long v;
		if (kdc_parse_ll(people, 0, KDC_REGISTER_PEOPLE_MAX, &v) != KDC_OK) {
			csv__error(r, line, "people_15plus '%.40s' is not a number from 0 to %d", people,
			           KDC_REGISTER_PEOPLE_MAX);
			bad = 1;
		} else {
			row.people_15plus = (int)v;
		}
	}
	/* an empty type cell is a household, as a file without the column */
	if (type && *type) {
		if (strcasecmp(type, "business") == 0)
			row.business = 1;
		else if (strcasecmp(type, "household") != 0) {
			csv__error(r, line, "type '%.40s' must be household or business", type);
			bad = 1;
		}
	}
	if (row.business && people && *people) {
		csv__error(r, line, "a business has no people_15plus: leave the cell empty");
		bad = 1;
	}
	if (bad)
		return;
	snprintf(row.khom, sizeof row.khom, "%s", khom);
	snprintf(row.household, sizeof row.household, "%s", hh);
	if (c->nrows == r->rows_cap) {
		size_t cap = r->rows_cap ? 2 * r->rows_cap : 256;
		struct kdc_register_row *rows = realloc(c->rows, cap * sizeof *rows);
		if (!rows) {
			r->nomem = 1;
			return;
		}
		c->rows = rows;
		r->rows_cap = cap;
	}
	c->rows[c->nrows++] = row;
}

/* Orders rows by khóm, then household ignoring case, then line. */
static int csv__cmp_rows(const void *a, const void *b)
{
	const struct kdc_register_row *x = *(const struct kdc_register_row *const *)a;
	const struct kdc_register_row *y = *(const struct kdc_register_row *const *)b;
	int d = strcmp(x->khom, y->khom);

	if (!d)
		d = strcasecmp(x->household, y->household);
	return d ? d : (x->line > y->line) - (x->line < y->line);
}

static int csv__cmp_errors(const void *a, const void *b)
{
	const struct csv_err *x = a, *y = b;

	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Duplicates (same code twice in a khóm) and case-only twins, found on a
 * sorted copy; every row after the first of its group is reported. */
static void csv__duplicates(struct csv_reader *r)
{
	struct kdc_register_csv *c = r->out;
	struct kdc_register_row **idx;
	size_t i, j, first;

	if (c->nrows < 2)
		return;
	if (!(idx = malloc(c->nrows * sizeof *idx))) {
		r->nomem = 1;
		return;
	}
	for (i = 0; i < c->nrows; i++)
		idx[i] = &c->rows[i];
	qsort(idx, c->nrows, sizeof *idx, csv__cmp_rows);
	for (first = 0; first < c->nrows; first = i) {
		for (i = first + 1; i < c->nrows && strcmp(idx[i]->khom, idx[first]->khom) == 0 &&
		                    strcasecmp(idx[i]->household, idx[first]->household) == 0; i++) {
			const struct kdc_register_row *same = NULL;
			for (j = first; j < i && !same; j++)
				if (strcmp(idx[j]->household, idx[i]->household) == 0)
					same = idx[j];
			if (same)
				csv__error(r, idx[i]->line, "household %s of khóm %s is listed twice "
				           "(also on line %d)", idx[i]->household, idx[i]->khom, same->line);
			else
				csv__error(r, idx[i]->line, "households %s (line %d) and %s of khóm %s differ "
				           "only in case: one code, written two ways? Write it one way",
				           idx[first]->household, idx[first]->line, idx[i]->household,
				           idx[i]->khom);
		}
	}
	free(idx);
}

/* Reads the whole file (bounded). */
static int csv__slurp(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *b;

	*buf = NULL;
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return KDC_ERR_IO;
	}
	if (!(b = malloc(cap + 1))) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	for (;;) {
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (n < cap) {
			if (ferror(f)) {
				snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
				fclose(f);
				free(b);
				return KDC_ERR_IO;
			}
			break;
		}
		if (cap >= (size_t)CSV_FILE_MAX) {
			snprintf(err, errlen, "%s is larger than %ld MiB: not a household list", path,
			         CSV_FILE_MAX / (1024 * 1024));
			fclose(f);
			free(b);
			return KDC_ERR_IO;
		}
		char *nb = realloc(b, 2 * cap + 1);
		if (!nb) {
			fclose(f);
			free(b);
			snprintf(err, errlen, "out of memory");
			return KDC_ERR_NOMEM;
		}
		b = nb;
		cap *= 2;
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return KDC_OK;
}

int kdc_register_csv_read(const char *path, const struct kdc_profile *profile,
                          struct kdc_register_csv *out, char *err, size_t errlen)
{
	struct csv_reader r = { .path = path, .profile = profile, .out = out };
	char *buf, *p, *end, *cells[CSV_CELLS_MAX];
	size_t len;
	int line = 0, rc, header = 0;

	memset(out, 0, sizeof *out);
	if ((rc = csv__slurp(path, &buf, &len, err, errlen)) != KDC_OK)
		return rc;
	p = buf;
	end = buf + len;
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && !r.nomem) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *s;
		const char *why = NULL;
		int n;

		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (memchr(p, '\0', (size_t)(e - p))) {
			csv__error(&r, line, "a NUL byte: this is not a text file");
			p = nl ? nl + 1 : end;
			continue;
		}
		*e = '\0';
		s = p;
		p = nl ? nl + 1 : end;
		if ((size_t)(e - s) > KDC_REGISTER_LINE_MAX) {
			csv__error(&r, line, "the line is longer than %d bytes", KDC_REGISTER_LINE_MAX);
			continue;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if ((n = csv__split(s, cells, CSV_CELLS_MAX, &why)) < 0) {
			csv__error(&r, line, "%s", why);
			if (!header)
				break; /* no header: the rest cannot be read */
			continue;
		}
		if (!header) {
			header = 1;
			if (csv__header(&r, cells, n, line) != 0)
				break;
			continue;
		}
		csv__row(&r, cells, n, line);
	}
	free(buf);
	if (!header && !r.nomem)
		csv__error(&r, line ? line : 1, "no header line: the first line must be "
		                                 "khom,household or khom,household,people_15plus");
	if (header)
		csv__duplicates(&r);
	if (r.nerrs > 1)
		qsort(r.errs, r.nerrs, sizeof *r.errs, csv__cmp_errors);
	if (!r.nomem && r.nerrs && !(out->errors = malloc(r.nerrs * sizeof *out->errors)))
		r.nomem = 1;
	for (size_t i = 0; i < r.nerrs; i++) {
		if (out->errors)
			out->errors[out->nerrors++] = r.errs[i].msg;
		else
			free(r.errs[i].msg);
	}
	free(r.errs);
	if (r.nomem) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

void kdc_register_csv_free(struct kdc_register_csv *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	free(c->errors);
	free(c->rows);
	memset(c, 0, sizeof *c);
}
