/* labels.c: see labels.h. */
#include <stdio.h>

#include "calendar.h"
#include "labels.h"
#include "snapshot.h"

#define EV_TOTAL(kind) (KDC_SF_EVENTS + (kind) * KDC_SNAP_NWINDOW + KDC_SNAP_WTOTAL)

const struct kdc_fig_column kdc_fig_columns[] = {
	{ KDC_SF_HH_TOTAL, { "Số hộ", "Households" } },
	{ KDC_SF_HH_VISITED, { "Hộ đã thăm", "Households visited" } },
	{ KDC_SF_HH_SURVEYED, { "Hộ đã khảo sát", "Households surveyed" } },
	{ KDC_SF_HH_REACHED, { "Hộ có tài khoản", "Households reached" } },
	{ KDC_SF_P_TOTAL, { "Người từ 15 tuổi", "People 15+" } },
	{ KDC_SF_P_ACCOUNT, { "Người có tài khoản thanh toán", "People with a payment account" } },
	{ KDC_SF_P_REGULAR, { "Người thanh toán thường xuyên", "People paying regularly" } },
	{ EV_TOTAL(KDC_KIND_VISIT), { "Lượt thăm hộ", "Visits" } },
	{ EV_TOTAL(KDC_KIND_ACCOUNT), { "Lượt mở tài khoản", "Accounts opened" } },
	{ EV_TOTAL(KDC_KIND_PAYMENT), { "Lượt thanh toán", "Payments" } },
	{ EV_TOTAL(KDC_KIND_SERVICE), { "Lượt dịch vụ công", "Public services" } },
	{ KDC_SF_PAY_AMOUNT_TOTAL, { "Tổng tiền thanh toán (VND)", "Payments total (VND)" } },
	{ KDC_SF_SU_TOTAL, { "Người dùng dịch vụ công trực tuyến", "Online public service users" } },
	{ KDC_SF_SU_EID, { "Người dùng được định danh điện tử", "Service users e-identified" } },
	{ KDC_SF_BIZ_TOTAL, { "Số doanh nghiệp", "Businesses" } },
	{ KDC_SF_BIZ_EINVOICE, { "Doanh nghiệp sử dụng hóa đơn điện tử", "Businesses using electronic invoices" } },
};
const size_t kdc_fig_ncolumns = sizeof kdc_fig_columns / sizeof kdc_fig_columns[0];

static const char *const scope_labels[][2] = {
	{ "Phường", "Ward" }, { "Khóm", "Khóm" }, { "Tổ", "Team" },
};

static const char *const indicator_labels[KDC_IND_COUNT][2] = {
	[KDC_IND_HOUSEHOLDS_VISITED] = { "Hộ đã thăm", "Households visited" },
	[KDC_IND_HOUSEHOLDS_REACHED] = { "Hộ có tài khoản", "Households reached" },
	[KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT] = { "Người có tài khoản thanh toán",
		                                  "People with a payment account" },
	[KDC_IND_PEOPLE_PAYING_REGULARLY] = { "Người thanh toán thường xuyên",
		                              "People paying regularly" },
	[KDC_IND_SERVICE_USERS_E_IDENTIFIED] = { "Người dân, doanh nghiệp dùng dịch vụ công trực tuyến "
		                                 "được định danh và xác thực điện tử",
		                                 "People and businesses using online public services "
		                                 "who are e-identified" },
	[KDC_IND_BUSINESSES_USING_EINVOICE] = { "Doanh nghiệp sử dụng hóa đơn điện tử",
		                                "Businesses using electronic invoices" },
};

static const char *const part_labels[3][2] = {
	{ "giá trị", "value" }, { "mẫu số", "denominator" }, { "hiện tại (%)", "current (%)" },
};

const char *kdc_label_scope(int kind, int lang)
{
	if (kind < 0 || kind > KDC_SCOPE_TEAM)
		return "";
	return scope_labels[kind][lang == KDC_LANG_EN];
}

const char *kdc_label_indicator(int indicator, int lang)
{
	if (indicator < 0 || indicator >= KDC_IND_COUNT)
		return NULL;
	return indicator_labels[indicator][lang == KDC_LANG_EN];
}

void kdc_label_target(const struct kdc_target_figs *t, int lang, char *out, size_t outlen)
{
	const char *name = kdc_label_indicator(t->indicator, lang);

	if (lang == KDC_LANG_EN)
		snprintf(out, outlen, "%s (target %s%% by %s)", name ? name : "?", t->percent, t->deadline);
	else
		snprintf(out, outlen, "%s (mục tiêu %s%% đến %s)", name ? name : "?", t->percent,
		         t->deadline);
}

const char *kdc_label_target_part(int i, int lang)
{
	return i >= 0 && i < 3 ? part_labels[i][lang == KDC_LANG_EN] : "";
}

void kdc_month_format(int64_t day, char *out, size_t outlen)
{
	int64_t y;
	unsigned m, d;

	kdc_civil_from_days(day, &y, &m, &d);
	snprintf(out, outlen, "%04lld-%02u", (long long)y, m);
}
