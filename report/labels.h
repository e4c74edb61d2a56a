/* labels.h: what the summary reports (export indicators, monthly) show of a
 * scope's figures, and their headings in Vietnamese and English: one table,
 * so that the CSV, the workbook and the HTML page show the same figures
 * under the same names. The numbers come from figures.h. Plain constant
 * data: any thread. */
#ifndef KDC_REPORT_LABELS_H
#define KDC_REPORT_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "export_events.h" /* enum kdc_lang */
#include "figures.h"

/* One figure of a scope: field of kdc_scope_figs.v, heading per language. */
struct kdc_fig_column {
	int field;              /* enum kdc_snap_field */
	const char *label[2];   /* [KDC_LANG_VI], [KDC_LANG_EN] */
};
extern const struct kdc_fig_column kdc_fig_columns[];
extern const size_t kdc_fig_ncolumns;

/* "Phường" / "Ward", "Khóm", "Tổ" / "Team". */
const char *kdc_label_scope(int kind, int lang);
/* "Hộ đã thăm" / "Households visited", ...; NULL out of range. */
const char *kdc_label_indicator(int indicator, int lang);
/* A target's heading: "Hộ có tài khoản (mục tiêu 85% đến 2027-06-30)" /
 * "Households reached (target 85% by 2027-06-30)". */
void kdc_label_target(const struct kdc_target_figs *t, int lang, char *out, size_t outlen);
/* The headings of a target's three columns, after kdc_label_target:
 * value, denominator, current % (i = 0, 1, 2). */
const char *kdc_label_target_part(int i, int lang);
/* "2026-11" of a day number; out at least 8 bytes. */
void kdc_month_format(int64_t day, char *out, size_t outlen);

#endif
