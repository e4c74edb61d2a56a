/* monthly.c: see monthly.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "export_events.h"
#include "figures.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "labels.h"
#include "monthly.h"
#include "period.h"

/* Words of the report: [vi, en]. */
enum {
	W_TITLE, W_WARD, W_MONTH, W_AS_OF, W_GENERATED, W_TARGETS, W_INDICATOR, W_TARGET, W_DEADLINE,
	W_VALUE, W_DENOM, W_CURRENT, W_CHANGE, W_PROJECTED, W_ON_TRACK, W_MET, W_FIGURES, W_FIGURE,
	W_END, W_PREV_END, W_YES, W_NO, W_NOT_AT_PACE, W_SUMMARY, W_EVENTS, W_EVENTS_TITLE,
	W_CLOSED, W_CLOSED_AT, W_AT, W_SHA, W_SHA_BAD, W_LIVE_DIFFERS, W_LIVE_SAME, W_ADJUSTMENTS,
	W_ADJ_TITLE, W_ADJ_NOTE, W_ADJ_NONE, W_SCOPE, W_ITEM, W_OFFICIAL, W_NOW, W_DIFFERENCE,
	W_VALUE_OF, W_DENOM_OF, W_COUNT
};
static const char *const words[W_COUNT][2] = {
	[W_TITLE] = { "Báo cáo tháng", "Monthly report" },
	[W_WARD] = { "Phường", "Ward" },
	[W_MONTH] = { "Tháng", "Month" },
	[W_AS_OF] = { "Số liệu đến hết ngày", "Figures as of the end of" },
	[W_GENERATED] = { "Lập lúc", "Generated at" },
	[W_TARGETS] = { "Mục tiêu", "Targets" },
	[W_INDICATOR] = { "Chỉ tiêu", "Indicator" },
	[W_TARGET] = { "Mục tiêu (%)", "Target (%)" },
	[W_DEADLINE] = { "Hạn", "Deadline" },
	[W_VALUE] = { "Giá trị cuối tháng", "Value at month end" },
	[W_DENOM] = { "Mẫu số", "Denominator" },
	[W_CURRENT] = { "Hiện tại (%)", "Current (%)" },
	[W_CHANGE] = { "Thay đổi trong tháng", "Change over the month" },
	[W_PROJECTED] = { "Dự kiến đạt", "Projected date" },
	[W_ON_TRACK] = { "Kịp hạn", "On track" },
	[W_MET] = { "Đã đạt", "Met" },
	[W_FIGURES] = { "Số liệu", "Figures" },
	[W_FIGURE] = { "Số liệu", "Figure" },
	[W_END] = { "Cuối tháng", "End of month" },
	[W_PREV_END] = { "Cuối tháng trước", "End of previous month" },
	[W_YES] = { "có", "yes" },
	[W_NO] = { "không", "no" },
	[W_NOT_AT_PACE] = { "chưa đạt được với tốc độ hiện nay", "not at the present pace" },
	[W_SUMMARY] = { "Tổng hợp", "Summary" },
	[W_EVENTS] = { "Sự kiện", "Events" },
	[W_EVENTS_TITLE] = { "Sự kiện trong tháng", "Events of the month" },
	[W_CLOSED] = { "Đã chốt số liệu", "Closed" },
	[W_CLOSED_AT] = { "bởi", "by" },
	[W_AT] = { "lúc", "at" },
	[W_SHA] = { "SHA-256 số liệu chính thức", "SHA-256 of the official figures" },
	[W_SHA_BAD] = { "KHÔNG KHỚP: số liệu đã chốt bị sửa", "DOES NOT MATCH: the frozen figures were altered" },
	[W_LIVE_DIFFERS] = { "Số liệu tính lại hiện nay khác số liệu chính thức (sự kiện đến muộn):",
		             "The figures recomputed now differ from the official ones (late events):" },
	[W_LIVE_SAME] = { "Số liệu tính lại hiện nay trùng số liệu chính thức",
		          "The figures recomputed now equal the official ones" },
	[W_ADJUSTMENTS] = { "Điều chỉnh", "Adjustments" },
	[W_ADJ_TITLE] = { "Điều chỉnh các tháng đã chốt", "Adjustments to closed months" },
	[W_ADJ_NOTE] = { "Sự kiện đến sau khi chốt, ghi ngày trong tháng đã chốt: số liệu tính lại "
		         "hiện nay trừ số liệu chính thức",
		         "Events that arrived after a month was closed, dated in it: the figures "
		         "recomputed now minus the official ones" },
	[W_ADJ_NONE] = { "Không có điều chỉnh", "No adjustments" },
	[W_SCOPE] = { "Phạm vi", "Scope" },
	[W_ITEM] = { "Số liệu", "Item" },
	[W_OFFICIAL] = { "Chính thức", "Official" },
	[W_NOW] = { "Tính lại hiện nay", "Recomputed now" },
	[W_DIFFERENCE] = { "Chênh lệch", "Difference" },
	[W_VALUE_OF] = { "giá trị", "value" },
	[W_DENOM_OF] = { "mẫu số", "denominator" },
};

#define W(m, w) (words[(w)][(m)->lang == KDC_LANG_EN])

int kdc_monthly_parse(const char *s, int64_t *first_day, int64_t *last_day)
{
	unsigned y, mo;

	if (strlen(s) != 7 || s[4] != '-')
		return KDC_ERR_INVAL;
	for (int i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)s[i]))
			return KDC_ERR_INVAL;
	y = (unsigned)atoi(s);
	mo = (unsigned)atoi(s + 5);
	if (y < 1970 || mo < 1 || mo > 12)
		return KDC_ERR_INVAL;
	*first_day = kdc_days_from_civil(y, mo, 1);
	*last_day = kdc_month_last_day(*first_day);
	return KDC_OK;
}

/* ---- the figures at both ends of the month ----------------------------------------- */

/* A deep copy of a moment's scopes (kdc_figures_at's are valid until its
 * next call). */
struct moment {
	struct kdc_scope_figs *s;
	size_t n;
};

static void moment_free(struct moment *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->s[i].targets);
	free(m->s);
	memset(m, 0, sizeof *m);
}

static int moment_copy(struct moment *m, const struct kdc_scope_figs *g, size_t n)
{
	if (!(m->s = calloc(n ? n : 1, sizeof *m->s)))
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		m->s[i] = g[i];
		m->s[i].json = NULL;
		m->s[i].targets = NULL;
		m->n++;
		if (!(m->s[i].targets = calloc(g[i].ntargets + 1, sizeof *g[i].targets)))
			return KDC_ERR_NOMEM;
		memcpy(m->s[i].targets, g[i].targets, g[i].ntargets * sizeof *g[i].targets);
	}
	return KDC_OK;
}

static const struct kdc_scope_figs *moment_find(const struct moment *m, int kind, const char *code)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].kind == kind && strcmp(m->s[i].code, code) == 0)
			return &m->s[i];
	return NULL;
}

/* ---- the sheets ------------------------------------------------------------------------ */

static void label(struct kdc_doc *d, const char *name, const char *value)
{
	kdc_doc_row(d, KDC_ROW_LABEL);
	kdc_doc_text(d, name);
	kdc_doc_text(d, value);
}

static void targets_table(const struct kdc_monthly *m, struct kdc_doc *d,
                          const struct kdc_scope_figs *g, const struct kdc_scope_figs *prev)
{
	static const int head[] = { W_INDICATOR, W_TARGET, W_DEADLINE, W_VALUE, W_DENOM, W_CURRENT,
		                    W_CHANGE, W_PROJECTED, W_ON_TRACK, W_MET };

	kdc_doc_row(d, KDC_ROW_HEAD);
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		kdc_doc_text(d, W(m, head[i]));
	for (size_t t = 0; t < g->ntargets; t++) {
		const struct kdc_target_figs *x = &g->targets[t];
		const char *name = kdc_label_indicator(x->indicator, m->lang);
		int64_t before = prev && t < prev->ntargets ? prev->targets[t].value : 0;

		kdc_doc_row(d, KDC_ROW_PLAIN);
		kdc_doc_text(d, name ? name : "?");
		kdc_doc_percent(d, x->percent);
		kdc_doc_text(d, x->deadline);
		kdc_doc_int(d, x->value);
		kdc_doc_int(d, x->denominator);
		kdc_doc_percent(d, x->current);
		kdc_doc_int(d, x->value - before);
		kdc_doc_text(d, x->projected[0] ? x->projected : W(m, W_NOT_AT_PACE));
		kdc_doc_text(d, W(m, x->on_track ? W_YES : W_NO));
		kdc_doc_text(d, W(m, x->met ? W_YES : W_NO));
	}
}

static void figures_table(const struct kdc_monthly *m, struct kdc_doc *d,
                          const struct kdc_scope_figs *g, const struct kdc_scope_figs *prev)
{
	kdc_doc_row(d, KDC_ROW_HEAD);
	kdc_doc_text(d, W(m, W_FIGURE));
	kdc_doc_text(d, W(m, W_END));
	kdc_doc_text(d, W(m, W_PREV_END));
	kdc_doc_text(d, W(m, W_CHANGE));
	for (size_t i = 0; i < kdc_fig_ncolumns; i++) {
		int f = kdc_fig_columns[i].field;
		int64_t before = prev ? prev->v[f] : 0;

		kdc_doc_row(d, KDC_ROW_PLAIN);
		kdc_doc_text(d, kdc_fig_columns[i].label[m->lang == KDC_LANG_EN]);
		kdc_doc_int(d, g->v[f]);
		kdc_doc_int(d, before);
		kdc_doc_int(d, g->v[f] - before);
	}
}

/* ---- closed months ------------------------------------------------------------------------ */

/* What the report knows of the closed months: the report's own month when
 * it is closed (its frozen figures are the sheets', the recomputed ones
 * differ by live_diffs), and the adjustments to the closed months before it. */
struct adjustment {
	const struct kdc_closed_month *c;
	struct kdc_period_diff *d;
	size_t n;
};
struct closed_view {
	const struct kdc_closed_month *self;
	struct kdc_period_diff *live_diffs;
	size_t nlive;
	struct adjustment *adj;
	size_t nadj;
};

static void closed_view_free(struct closed_view *v)
{
	for (size_t i = 0; i < v->nadj; i++)
		free(v->adj[i].d);
	free(v->adj);
	free(v->live_diffs);
	memset(v, 0, sizeof *v);
}

static void diff_names(const struct kdc_monthly *m, const struct kdc_period_diff *x, char *scope,
                       size_t scopelen, char *item, size_t itemlen)
{
	const char *ind;

	if (x->kind == KDC_SCOPE_WARD)
		snprintf(scope, scopelen, "%s", x->name);
	else
		snprintf(scope, scopelen, "%s %s", kdc_label_scope(x->kind, m->lang), x->code);
	if (x->item == KDC_DIFF_FIGURE) {
		snprintf(item, itemlen, "%s", kdc_fig_columns[x->which].label[m->lang == KDC_LANG_EN]);
		return;
	}
	ind = kdc_label_indicator(x->which, m->lang);
	snprintf(item, itemlen, "%s: %s", ind ? ind : "?",
	         W(m, x->item == KDC_DIFF_TARGET_VALUE ? W_VALUE_OF : W_DENOM_OF));
}

/* A table of differences (month: a first column with it; NULL: none). */
static void diff_rows(const struct kdc_monthly *m, struct kdc_doc *d, const char *month,
                      const struct kdc_period_diff *x, size_t n)
{
	char scope[KDC_PROFILE_NAME_MAX + 32], item[160];

	for (size_t i = 0; i < n; i++) {
		diff_names(m, &x[i], scope, sizeof scope, item, sizeof item);
		kdc_doc_row(d, KDC_ROW_PLAIN);
		if (month)
			kdc_doc_text(d, month);
		kdc_doc_text(d, scope);
		kdc_doc_text(d, item);
		kdc_doc_int(d, x[i].official);
		kdc_doc_int(d, x[i].now);
		kdc_doc_int(d, x[i].now - x[i].official);
	}
}

static void diff_head(const struct kdc_monthly *m, struct kdc_doc *d, int with_month)
{
	static const int head[] = { W_SCOPE, W_ITEM, W_OFFICIAL, W_NOW, W_DIFFERENCE };

	kdc_doc_row(d, KDC_ROW_HEAD);
	if (with_month)
		kdc_doc_text(d, W(m, W_MONTH));
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		kdc_doc_text(d, W(m, head[i]));
}

/* Who closed the month and when, and its hash, as labels. */
static void closed_labels(const struct kdc_monthly *m, struct kdc_doc *d,
                          const struct kdc_closed_month *c)
{
	char when[32], off[16], buf[400];

	kdc_time_format_local(c->at_ms, m->profile->utc_offset_min, when, sizeof when);
	kdc_utc_offset_format(m->profile->utc_offset_min, off, sizeof off);
	snprintf(buf, sizeof buf, "%s %s %s %s (%s)", W(m, W_CLOSED_AT), c->by, W(m, W_AT), when, off);
	label(d, W(m, W_CLOSED), buf);
	snprintf(buf, sizeof buf, "%s%s%s", c->sha256, c->sha_ok ? "" : " ",
	         c->sha_ok ? "" : W(m, W_SHA_BAD));
	label(d, W(m, W_SHA), buf);
}

/* The summary's end for a closed month: the recomputed figures beside the
 * official ones where they differ. */
static void closed_live(const struct kdc_monthly *m, struct kdc_doc *d, const struct closed_view *v)
{
	kdc_doc_row(d, KDC_ROW_PLAIN);
	kdc_doc_row(d, KDC_ROW_LABEL);
	kdc_doc_text(d, W(m, v->nlive ? W_LIVE_DIFFERS : W_LIVE_SAME));
	if (!v->nlive)
		return;
	diff_head(m, d, 0);
	diff_rows(m, d, NULL, v->live_diffs, v->nlive);
}

/* The adjustments sheet: each closed month before the report's, its
 * differences (or none). */
static void adjustments_sheet(const struct kdc_monthly *m, struct kdc_doc *d,
                              const struct closed_view *v)
{
	kdc_doc_sheet(d, W(m, W_ADJUSTMENTS));
	kdc_doc_row(d, KDC_ROW_TITLE);
	kdc_doc_text(d, W(m, W_ADJ_TITLE));
	kdc_doc_row(d, KDC_ROW_PLAIN);
	kdc_doc_text(d, W(m, W_ADJ_NOTE));
	for (size_t i = 0; i < v->nadj; i++) {
		kdc_doc_row(d, KDC_ROW_PLAIN);
		kdc_doc_row(d, KDC_ROW_TITLE);
		kdc_doc_text(d, v->adj[i].c->month);
		closed_labels(m, d, v->adj[i].c);
		if (!v->adj[i].n) {
			kdc_doc_row(d, KDC_ROW_LABEL);
			kdc_doc_text(d, W(m, W_ADJ_NONE));
			continue;
		}
		diff_head(m, d, 1);
		diff_rows(m, d, v->adj[i].c->month, v->adj[i].d, v->adj[i].n);
	}
}

/* Fills v: for each closed month before the report's, its figures now
 * (moments forward: oldest first) against its frozen ones. */
static int closed_before(const struct kdc_monthly *m, kdc_figures *f, struct closed_view *v,
                         char *err, size_t errlen)
{
	const struct kdc_scope_figs *g;
	size_t n;
	int rc;

	if (!m->closed)
		return KDC_OK;
	for (size_t i = 0; i < m->closed->n; i++) {
		const struct kdc_closed_month *c = &m->closed->m[i];
		struct adjustment *a;
		if (c->last_day >= m->first_day)
			break;
		if (!(a = realloc(v->adj, (v->nadj + 1) * sizeof *a)))
			return KDC_ERR_NOMEM;
		v->adj = a;
		a = &v->adj[v->nadj++];
		memset(a, 0, sizeof *a);
		a->c = c;
		if ((rc = kdc_figures_at(f, kdc_figures_day_end(m->profile, c->last_day), &g, &n, err,
		                         errlen)) != KDC_OK ||
		    (rc = kdc_period_compare(c->scopes, c->n, g, n, &a->d, &a->n)) != KDC_OK)
			return rc;
	}
	return KDC_OK;
}

/* One scope's sheet, or the summary (the ward's, with the stamp). */
static void scope_sheet(const struct kdc_monthly *m, struct kdc_doc *d, const struct kdc_scope_figs *g,
                        const struct moment *prev, const struct closed_view *v)
{
	const struct kdc_profile *p = m->profile;
	const struct kdc_scope_figs *before = moment_find(prev, g->kind, g->code);
	char month[16], buf[400], day[16], off[16], tab[64];

	kdc_month_format(m->first_day, month, sizeof month);
	kdc_day_format(m->last_day, day, sizeof day);
	kdc_utc_offset_format(p->utc_offset_min, off, sizeof off);
	if (g->kind == KDC_SCOPE_WARD) {
		kdc_doc_sheet(d, W(m, W_SUMMARY));
		kdc_doc_row(d, KDC_ROW_TITLE);
		snprintf(buf, sizeof buf, "%s %s: %s", W(m, W_TITLE), month, g->name);
		kdc_doc_text(d, buf);
		snprintf(buf, sizeof buf, "%s (%s)", g->name, p->ward[0] ? p->ward : "-");
		label(d, W(m, W_WARD), buf);
		label(d, W(m, W_MONTH), month);
	} else {
		/* a tab's name: at most 31 characters, codes are ASCII */
		snprintf(tab, sizeof tab, "%s %.26s", kdc_label_scope(g->kind, m->lang), g->code);
		kdc_doc_sheet(d, tab);
		kdc_doc_row(d, KDC_ROW_TITLE);
		snprintf(buf, sizeof buf, "%s %s: %s (%s)", kdc_label_scope(g->kind, m->lang), g->code,
		         g->name, month);
		kdc_doc_text(d, buf);
	}
	snprintf(buf, sizeof buf, "%s (%s)", day, off);
	label(d, W(m, W_AS_OF), buf);
	if (g->kind == KDC_SCOPE_WARD) {
		char when[32];
		kdc_time_format_local(m->generated_ms, p->utc_offset_min, when, sizeof when);
		snprintf(buf, sizeof buf, "%s (%s)", when, off);
		label(d, W(m, W_GENERATED), buf);
		kdc_doc_mark_stamp(d);
	}
	if (v->self)
		closed_labels(m, d, v->self);
	kdc_doc_row(d, KDC_ROW_PLAIN);
	kdc_doc_row(d, KDC_ROW_LABEL);
	kdc_doc_text(d, W(m, W_TARGETS));
	targets_table(m, d, g, before);
	kdc_doc_row(d, KDC_ROW_PLAIN);
	kdc_doc_row(d, KDC_ROW_LABEL);
	kdc_doc_text(d, W(m, W_FIGURES));
	figures_table(m, d, g, before);
	if (v->self && g->kind == KDC_SCOPE_WARD)
		closed_live(m, d, v);
}

/* ---- the events sheet ------------------------------------------------------------------- */

struct ev_sink {
	struct kdc_doc *d;
	int need_row, rows;
};

static void ev_field(void *ud, const char *s, int is_int, long long v)
{
	struct ev_sink *e = ud;

	if (e->need_row) {
		kdc_doc_row(e->d, e->rows == 0 ? KDC_ROW_HEAD : KDC_ROW_PLAIN);
		e->need_row = 0;
	}
	if (is_int)
		kdc_doc_int(e->d, v);
	else
		kdc_doc_text(e->d, s);
}

static int ev_end_row(void *ud)
{
	struct ev_sink *e = ud;

	e->need_row = 1;
	e->rows++;
	return e->d->err ? ENOMEM : 0;
}

static int events_sheet(const struct kdc_monthly *m, struct kdc_doc *d, int64_t *events, char *err,
                        size_t errlen)
{
	struct ev_sink e = { d, 1, 0 };
	struct kdc_csv_sink sink = { &e, ev_field, ev_end_row };
	struct kdc_export_events x;
	char month[16], buf[128];
	int rc;

	kdc_month_format(m->first_day, month, sizeof month);
	kdc_doc_sheet(d, W(m, W_EVENTS));
	kdc_doc_row(d, KDC_ROW_TITLE);
	snprintf(buf, sizeof buf, "%s %s", W(m, W_EVENTS_TITLE), month);
	kdc_doc_text(d, buf);
	memset(&x, 0, sizeof x);
	x.db = m->db;
	x.profile = m->profile;
	x.lang = m->lang;
	x.has_from = x.has_to = 1;
	x.from_ms = kdc_local_day_start(m->first_day, m->profile->utc_offset_min);
	x.to_ms = kdc_local_day_start(m->last_day + 1, m->profile->utc_offset_min);
	x.kind = -1;
	x.voided = KDC_VOIDED_INCLUDE;
	x.sink = &sink;
	rc = kdc_export_events_run(&x, events, err, errlen);
	if (rc == KDC_ERR_IO) /* the sink's only failure */
		snprintf(err, errlen, "out of memory");
	return rc == KDC_ERR_IO ? KDC_ERR_NOMEM : rc;
}

int kdc_monthly_build(const struct kdc_monthly *m, struct kdc_doc *d, int64_t *events, char *err,
                      size_t errlen)
{
	const struct kdc_scope_figs *g;
	struct moment prev = { NULL, 0 };
	struct closed_view v;
	kdc_figures *f;
	char month[16], title[400];
	size_t n;
	int rc;

	*events = 0;
	err[0] = '\0';
	memset(&v, 0, sizeof v);
	kdc_month_format(m->first_day, month, sizeof month);
	if (!(f = kdc_figures_new(m->db, m->profile, err, errlen)))
		return KDC_ERR_DB;
	if ((rc = closed_before(m, f, &v, err, errlen)) ||
	    (rc = kdc_figures_at(f, kdc_figures_day_end(m->profile, m->first_day - 1), &g, &n, err,
	                         errlen)) ||
	    (rc = moment_copy(&prev, g, n)) ||
	    (rc = kdc_figures_at(f, kdc_figures_day_end(m->profile, m->last_day), &g, &n, err, errlen)))
		goto cleanup;
	if (m->closed && (v.self = kdc_period_find(m->closed, month)) != NULL) {
		/* the official figures are the report's; the recomputed ones beside */
		if ((rc = kdc_period_compare(v.self->scopes, v.self->n, g, n, &v.live_diffs, &v.nlive)))
			goto cleanup;
		g = v.self->scopes;
		n = v.self->n;
	}
	snprintf(title, sizeof title, "%s %s: %s", W(m, W_TITLE), month, n ? g[0].name : "");
	if (!(d->title = strdup(title)))
		rc = KDC_ERR_NOMEM;
	snprintf(d->lang, sizeof d->lang, "%s", m->lang == KDC_LANG_EN ? "en" : "vi");
	d->created_s = kdc_floor_div(kdc_figures_day_end(m->profile, m->last_day), 1000);
	for (size_t i = 0; i < n && !rc; i++)
		scope_sheet(m, d, &g[i], &prev, &v);
	if (!rc && v.nadj)
		adjustments_sheet(m, d, &v);
	if (!rc)
		rc = events_sheet(m, d, events, err, errlen);
	if (!rc && d->err)
		rc = d->err;
	if (rc == KDC_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
cleanup:
	if (rc == KDC_ERR_NOMEM && !err[0])
		snprintf(err, errlen, "out of memory");
	moment_free(&prev);
	closed_view_free(&v);
	kdc_figures_free(f);
	return rc;
}
