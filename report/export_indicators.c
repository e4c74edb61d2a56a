/* export_indicators.c: see export_indicators.h. A month's period ends on
 * its last day, or on the range's last day for the month it ends in (a
 * month in progress is shown up to that day). The figures move forward
 * through the periods: one pass over the events in all. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "csv.h"
#include "export_indicators.h"
#include "figures.h"
#include "kdc_err.h"
#include "labels.h"

static void header(struct kdc_csv *c, const struct kdc_export_indicators *x,
                   const struct kdc_scope_figs *ward)
{
	static const char *const first[][2] = {
		{ "Ngày cuối kỳ", "Period end" }, { "Cấp", "Scope" }, { "Mã", "Code" },
		{ "Tên", "Name" },
	};
	const int en = x->lang == KDC_LANG_EN;
	char name[256], h[320];

	for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
		kdc_csv_field(c, first[i][en]);
	for (size_t i = 0; i < kdc_fig_ncolumns; i++)
		kdc_csv_field(c, kdc_fig_columns[i].label[en]);
	for (size_t t = 0; ward && t < ward->ntargets; t++) {
		kdc_label_target(&ward->targets[t], x->lang, name, sizeof name);
		for (int part = 0; part < 3; part++) {
			snprintf(h, sizeof h, "%s: %s", name, kdc_label_target_part(part, x->lang));
			kdc_csv_field(c, h);
		}
	}
}

static void row(struct kdc_csv *c, const struct kdc_export_indicators *x, int64_t day,
                const struct kdc_scope_figs *g)
{
	char date[16];

	kdc_day_format(day, date, sizeof date);
	kdc_csv_field(c, date);
	kdc_csv_field(c, kdc_label_scope(g->kind, x->lang));
	kdc_csv_field(c, g->code);
	kdc_csv_field(c, g->name);
	for (size_t i = 0; i < kdc_fig_ncolumns; i++)
		kdc_csv_int(c, g->v[kdc_fig_columns[i].field]);
	for (size_t t = 0; t < g->ntargets; t++) {
		kdc_csv_int(c, g->targets[t].value);
		kdc_csv_int(c, g->targets[t].denominator);
		kdc_csv_field(c, g->targets[t].current);
	}
}

/* The next period's last day after the one ending on prev (or the first's
 * when prev < from); > to when there is none. */
static int64_t next_end(const struct kdc_export_indicators *x, int64_t prev, int64_t from, int64_t to)
{
	int64_t start = prev < from ? from : prev + 1, end;

	if (!x->by_month)
		return start;
	end = kdc_month_last_day(start);
	return start > to ? start : end > to ? to : end;
}

int kdc_export_indicators_run(const struct kdc_export_indicators *x, int64_t *rows, char *err,
                              size_t errlen)
{
	const struct kdc_scope_figs *g;
	struct kdc_csv c;
	kdc_figures *f = NULL;
	int64_t first = 0, last = 0, from, to;
	size_t n;
	int found, rc, wrote_header = 0;

	*rows = 0;
	kdc_csv_init(&c, x->out);
	kdc_csv_bom(&c);
	if ((rc = kdc_figures_event_days(x->db, x->profile, &first, &last, &found, err, errlen)))
		return rc;
	from = x->has_from ? x->from_day : first;
	to = x->has_to ? x->to_day : last;
	if (!(f = kdc_figures_new(x->db, x->profile, err, errlen)))
		return KDC_ERR_DB;
	if (!found && !x->has_from && !x->has_to)
		to = from - 1; /* no events and no range: the header alone */
	for (int64_t day = next_end(x, from - 1, from, to); day <= to; day = next_end(x, day, from, to)) {
		if ((rc = kdc_figures_at(f, kdc_figures_day_end(x->profile, day), &g, &n, err, errlen)))
			goto cleanup;
		if (!wrote_header) {
			header(&c, x, n ? &g[0] : NULL);
			kdc_csv_end_row(&c);
			wrote_header = 1;
		}
		for (size_t i = 0; i < n; i++) {
			row(&c, x, day, &g[i]);
			if (kdc_csv_end_row(&c) != 0)
				break;
			(*rows)++;
		}
		if (c.err)
			break;
	}
	if (!wrote_header) {
		if ((rc = kdc_figures_at(f, kdc_figures_day_end(x->profile, from), &g, &n, err, errlen)))
			goto cleanup;
		header(&c, x, n ? &g[0] : NULL);
		kdc_csv_end_row(&c);
	}
	if (kdc_csv_finish(&c) != 0) {
		snprintf(err, errlen, "writing failed: %s", strerror(c.err));
		rc = KDC_ERR_IO;
	}
cleanup:
	kdc_figures_free(f);
	return rc;
}
