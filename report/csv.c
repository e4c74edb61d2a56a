/* csv.c: see csv.h. */
#include <errno.h>
#include <string.h>

#include "csv.h"

void kdc_csv_init(struct kdc_csv *c, FILE *out)
{
	c->out = out;
	c->sink = NULL;
	c->nfields = 0;
	c->err = 0;
}

void kdc_csv_init_sink(struct kdc_csv *c, const struct kdc_csv_sink *sink)
{
	kdc_csv_init(c, NULL);
	c->sink = sink;
}

/* Keeps the first failure: later ones are usually its consequences. */
static void csv__check(struct kdc_csv *c, int failed)
{
	if (failed && !c->err)
		c->err = errno ? errno : EIO;
}

static void csv__put(struct kdc_csv *c, const char *s, size_t n)
{
	if (n && !c->err)
		csv__check(c, fwrite(s, 1, n, c->out) != n);
}

void kdc_csv_bom(struct kdc_csv *c)
{
	if (!c->sink)
		csv__put(c, "\xEF\xBB\xBF", 3);
}

int kdc_csv_needs_quotes(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return 0;
	return strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
	       s[n - 1] == '\t';
}

void kdc_csv_field(struct kdc_csv *c, const char *s)
{
	if (c->sink) {
		c->nfields++;
		c->sink->field(c->sink->ud, s ? s : "", 0, 0);
		return;
	}
	if (c->nfields++ > 0)
		csv__put(c, ",", 1);
	if (!s || !*s)
		return;
	if (!kdc_csv_needs_quotes(s)) {
		csv__put(c, s, strlen(s));
		return;
	}
	csv__put(c, "\"", 1);
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
		csv__put(c, s, (size_t)(q - s) + 1); /* up to and with the quote */
		csv__put(c, "\"", 1);               /* and once more */
	}
	csv__put(c, s, strlen(s));
	csv__put(c, "\"", 1);
}

void kdc_csv_int(struct kdc_csv *c, long long v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%lld", v);
	if (c->sink) {
		c->nfields++;
		c->sink->field(c->sink->ud, buf, 1, v);
		return;
	}
	kdc_csv_field(c, buf);
}

int kdc_csv_end_row(struct kdc_csv *c)
{
	if (c->sink) {
		int e = c->sink->end_row(c->sink->ud);
		if (e && !c->err)
			c->err = e;
		c->nfields = 0;
		return c->err;
	}
	csv__put(c, "\r\n", 2);
	c->nfields = 0;
	return c->err;
}

int kdc_csv_finish(struct kdc_csv *c)
{
	if (!c->err && !c->sink)
		csv__check(c, fflush(c->out) != 0);
	return c->err;
}
