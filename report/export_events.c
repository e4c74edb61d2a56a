/* export_events.c: see export_events.h. The columns are one table (COLS):
 * the header in each language and the function that writes the field, so
 * a column is added in one place. */
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "csv.h"
#include "export_events.h"
#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"

/* The columns the statement selects, in order. */
enum {
	Q_ID, Q_OCCURRED, Q_RECEIVED, Q_KHOM, Q_TEAM, Q_DEVICE, Q_HOUSEHOLD, Q_MEMBER, Q_KIND,
	Q_SUBKIND, Q_METHOD, Q_AMOUNT, Q_MEMBERS, Q_MEMBERS15, Q_SMARTPHONES, Q_NEEDS, Q_VOIDED_BY,
	Q_TARGET, Q_REASON
};
#define SQL_SELECT \
	"SELECT e.id, e.occurred_ms, e.received_ms, e.khom, e.team, e.device, e.household," \
	" e.member, e.kind, e.subkind, e.method, e.amount_vnd, e.members, e.members_15plus," \
	" e.smartphones, e.needs, e.voided_by, v.target, v.reason" \
	" FROM events e LEFT JOIN voids v ON v.void_id = e.id"
#define SQL_COUNT "SELECT count(*) FROM events e"
/* ?1..?2 time, ?3 khóm, ?4 team, ?5 kind, ?6 voided: NULL means any. */
#define SQL_WHERE \
	" WHERE (?1 IS NULL OR e.occurred_ms >= ?1) AND (?2 IS NULL OR e.occurred_ms < ?2)" \
	" AND (?3 IS NULL OR e.khom = ?3) AND (?4 IS NULL OR e.team = ?4)" \
	" AND (?5 IS NULL OR e.kind = ?5)" \
	" AND (?6 IS NULL OR (?6 = 1) = (e.voided_by IS NOT NULL))"

/* What a column writer sees of one row. */
struct row {
	sqlite3_stmt *st;
	const struct kdc_export_events *x;
	int kind;
};

static const char *const kind_labels[][2] = {
	{ "Thăm hộ", "Visit" },
	{ "Mở tài khoản", "Account opened" },
	{ "Thanh toán", "Payment" },
	{ "Dịch vụ công", "Public service" },
	{ "Thêm hộ", "Household added" },
	{ "Hủy sự kiện", "Void" },
	{ "Thăm doanh nghiệp", "Business visit" },
	{ "Dùng hóa đơn điện tử", "E-invoice adopted" },
	{ "Tài khoản doanh nghiệp", "Business account" },
};

const char *kdc_export_kind_label(int kind, int lang)
{
	if (kind < 0 || kind >= (int)(sizeof kind_labels / sizeof kind_labels[0]))
		return NULL;
	return kind_labels[kind][lang == KDC_LANG_EN];
}

/* ---- field helpers ---------------------------------------------------------- */

static const char *col_text(const struct row *r, int col)
{
	const char *t = (const char *)sqlite3_column_text(r->st, col);

	return t ? t : "";
}

static long long col_int(const struct row *r, int col)
{
	return sqlite3_column_int64(r->st, col);
}

/* A 16-byte id as UUID text; "" for NULL; hex for any other length (a
 * damaged row is still shown rather than dropped). */
static void put_id(struct kdc_csv *c, const struct row *r, int col)
{
	const void *b = sqlite3_column_blob(r->st, col);
	int n = sqlite3_column_bytes(r->st, col);
	char text[2 * 64 + 1];

	if (!b) {
		kdc_csv_field(c, NULL);
	} else if (n == KDC_UUID_LEN) {
		kdc_uuid_format(b, text);
		kdc_csv_field(c, text);
	} else {
		for (int i = 0; i < n && i < 64; i++)
			snprintf(text + 2 * i, 3, "%02x", ((const unsigned char *)b)[i]);
		text[2 * (n < 64 ? n : 64)] = '\0';
		kdc_csv_field(c, text);
	}
}

/* A name from a project table, or the code as a number when the table does
 * not know it (written by a newer kdc, say): never a guess, never a crash. */
static void put_name(struct kdc_csv *c, const char *name, long long code)
{
	if (name)
		kdc_csv_field(c, name);
	else
		kdc_csv_int(c, code);
}

/* "YYYY-MM-DD" and "HH:MM:SS" of UTC ms in the ward's time. */
static void local_parts(int64_t ms, int offset_min, char date[11], char hms[16])
{
	int64_t day = kdc_local_day(ms, offset_min);
	int64_t s = (ms + offset_min * KDC_MS_PER_MIN - day * KDC_MS_PER_DAY) / 1000;

	kdc_day_format(day, date, 11);
	snprintf(hms, 16, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

/* ---- the columns ---------------------------------------------------------------- */

static void c_id(struct kdc_csv *c, const struct row *r) { put_id(c, r, Q_ID); }

static void c_date(struct kdc_csv *c, const struct row *r)
{
	char date[11], hms[16];

	local_parts(col_int(r, Q_OCCURRED), r->x->profile->utc_offset_min, date, hms);
	kdc_csv_field(c, date);
}

static void c_time(struct kdc_csv *c, const struct row *r)
{
	char date[11], hms[16];

	local_parts(col_int(r, Q_OCCURRED), r->x->profile->utc_offset_min, date, hms);
	kdc_csv_field(c, hms);
}

static void c_offset(struct kdc_csv *c, const struct row *r)
{
	char off[16];

	kdc_utc_offset_format(r->x->profile->utc_offset_min, off, sizeof off);
	kdc_csv_field(c, off);
}

static void c_khom(struct kdc_csv *c, const struct row *r) { kdc_csv_field(c, col_text(r, Q_KHOM)); }

static void c_khom_name(struct kdc_csv *c, const struct row *r)
{
	long i = kdc_profile_khom_find(r->x->profile, col_text(r, Q_KHOM));

	kdc_csv_field(c, i >= 0 ? r->x->profile->khoms[i].name : NULL);
}

static void c_team(struct kdc_csv *c, const struct row *r) { kdc_csv_field(c, col_text(r, Q_TEAM)); }

static void c_team_name(struct kdc_csv *c, const struct row *r)
{
	long i = kdc_profile_team_find(r->x->profile, col_text(r, Q_TEAM));

	kdc_csv_field(c, i >= 0 ? r->x->profile->teams[i].name : NULL);
}

static void c_device(struct kdc_csv *c, const struct row *r) { kdc_csv_field(c, col_text(r, Q_DEVICE)); }
static void c_household(struct kdc_csv *c, const struct row *r) { kdc_csv_field(c, col_text(r, Q_HOUSEHOLD)); }

/* 0 is "the household as a whole": left empty. */
static void c_member(struct kdc_csv *c, const struct row *r)
{
	long long m = col_int(r, Q_MEMBER);

	if (m > 0)
		kdc_csv_int(c, m);
	else
		kdc_csv_field(c, NULL);
}

static void c_kind(struct kdc_csv *c, const struct row *r)
{
	put_name(c, kdc_export_kind_label(r->kind, r->x->lang), r->kind);
}

/* The subkind column names a different thing for each kind; each gets its
 * own CSV column, empty on the other kinds' rows. */
static void put_sub(struct kdc_csv *c, const struct row *r, int kind, const char *(*name)(int))
{
	if (r->kind == kind)
		put_name(c, name((int)col_int(r, Q_SUBKIND)), col_int(r, Q_SUBKIND));
	else
		kdc_csv_field(c, NULL);
}

static void put_if(struct kdc_csv *c, const struct row *r, int kind, int col)
{
	if (r->kind == kind)
		kdc_csv_int(c, col_int(r, col));
	else
		kdc_csv_field(c, NULL);
}

static void c_outcome(struct kdc_csv *c, const struct row *r) { put_sub(c, r, KDC_KIND_VISIT, kdc_outcome_name); }
static void c_members(struct kdc_csv *c, const struct row *r) { put_if(c, r, KDC_KIND_VISIT, Q_MEMBERS); }
static void c_members15(struct kdc_csv *c, const struct row *r) { put_if(c, r, KDC_KIND_VISIT, Q_MEMBERS15); }
static void c_phones(struct kdc_csv *c, const struct row *r) { put_if(c, r, KDC_KIND_VISIT, Q_SMARTPHONES); }

/* The needs bit set as names joined by "; " (bit n is Need n). */
static void c_needs(struct kdc_csv *c, const struct row *r)
{
	unsigned long long bits = (unsigned long long)col_int(r, Q_NEEDS);
	char buf[512] = "";
	size_t len = 0;

	for (int n = 0; n < 32 && r->kind == KDC_KIND_VISIT; n++) {
		const char *name = kdc_need_name(n);
		char num[12];

		if (!(bits & (1ull << n)))
			continue;
		if (!name)
			snprintf(num, sizeof num, "%d", n);
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? "; " : "",
		                        name ? name : num);
		if (len >= sizeof buf)
			break; /* 32 names fit; a cut list is better than none */
	}
	kdc_csv_field(c, buf);
}

static void c_account(struct kdc_csv *c, const struct row *r) { put_sub(c, r, KDC_KIND_ACCOUNT, kdc_account_name); }
static void c_purpose(struct kdc_csv *c, const struct row *r) { put_sub(c, r, KDC_KIND_PAYMENT, kdc_purpose_name); }

static void c_method(struct kdc_csv *c, const struct row *r)
{
	if (r->kind == KDC_KIND_PAYMENT)
		put_name(c, kdc_method_name((int)col_int(r, Q_METHOD)), col_int(r, Q_METHOD));
	else
		kdc_csv_field(c, NULL);
}

/* Whole VND, digits only; empty when not recorded (0). */
static void c_amount(struct kdc_csv *c, const struct row *r)
{
	if (r->kind == KDC_KIND_PAYMENT && col_int(r, Q_AMOUNT) != 0)
		kdc_csv_int(c, col_int(r, Q_AMOUNT));
	else
		kdc_csv_field(c, NULL);
}

static void c_service(struct kdc_csv *c, const struct row *r) { put_sub(c, r, KDC_KIND_SERVICE, kdc_service_name); }
static void c_target(struct kdc_csv *c, const struct row *r) { put_id(c, r, Q_TARGET); }
static void c_reason(struct kdc_csv *c, const struct row *r) { kdc_csv_field(c, col_text(r, Q_REASON)); }

static void c_stored(struct kdc_csv *c, const struct row *r)
{
	char date[11], hms[16], both[40];

	local_parts(col_int(r, Q_RECEIVED), r->x->profile->utc_offset_min, date, hms);
	snprintf(both, sizeof both, "%s %s", date, hms);
	kdc_csv_field(c, both);
}

static void c_voided_by(struct kdc_csv *c, const struct row *r) { put_id(c, r, Q_VOIDED_BY); }

static const struct {
	const char *head[2]; /* vi, en */
	void (*put)(struct kdc_csv *c, const struct row *r);
} COLS[] = {
	{ { "Mã sự kiện", "Event ID" }, c_id },
	{ { "Ngày", "Date" }, c_date },
	{ { "Giờ", "Time" }, c_time },
	{ { "Múi giờ", "UTC offset" }, c_offset },
	{ { "Mã khóm", "Khóm code" }, c_khom },
	{ { "Khóm", "Khóm" }, c_khom_name },
	{ { "Mã tổ", "Team code" }, c_team },
	{ { "Tổ", "Team" }, c_team_name },
	{ { "Thiết bị", "Device" }, c_device },
	{ { "Mã hộ", "Household" }, c_household },
	{ { "Thành viên", "Member" }, c_member },
	{ { "Loại", "Kind" }, c_kind },
	{ { "Kết quả thăm", "Visit outcome" }, c_outcome },
	{ { "Số người trong hộ", "Members" }, c_members },
	{ { "Số người từ 15 tuổi", "Members 15+" }, c_members15 },
	{ { "Số điện thoại thông minh", "Smartphones" }, c_phones },
	{ { "Nhu cầu", "Needs" }, c_needs },
	{ { "Loại tài khoản", "Account kind" }, c_account },
	{ { "Mục đích thanh toán", "Payment purpose" }, c_purpose },
	{ { "Hình thức thanh toán", "Payment method" }, c_method },
	{ { "Số tiền (VND)", "Amount (VND)" }, c_amount },
	{ { "Dịch vụ", "Service" }, c_service },
	{ { "Hủy sự kiện", "Voids event" }, c_target },
	{ { "Lý do hủy", "Void reason" }, c_reason },
	{ { "Lưu lúc", "Stored at" }, c_stored },
	{ { "Bị hủy bởi", "Voided by" }, c_voided_by },
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

/* ---- the statement ---------------------------------------------------------------- */

static int bind_filter(sqlite3_stmt *st, const struct kdc_export_events *x)
{
	int src = SQLITE_OK;

	if (x->has_from)
		src = sqlite3_bind_int64(st, 1, x->from_ms);
	if (src == SQLITE_OK && x->has_to)
		src = sqlite3_bind_int64(st, 2, x->to_ms);
	if (src == SQLITE_OK && x->khom)
		src = sqlite3_bind_text(st, 3, x->khom, -1, SQLITE_STATIC);
	if (src == SQLITE_OK && x->team)
		src = sqlite3_bind_text(st, 4, x->team, -1, SQLITE_STATIC);
	if (src == SQLITE_OK && x->kind >= 0)
		src = sqlite3_bind_int(st, 5, x->kind);
	if (src == SQLITE_OK && x->voided != KDC_VOIDED_INCLUDE)
		src = sqlite3_bind_int(st, 6, x->voided == KDC_VOIDED_ONLY);
	return src;
}

static int prepare(const struct kdc_export_events *x, const char *sql, sqlite3_stmt **st,
                   char *err, size_t errlen)
{
	int src = sqlite3_prepare_v2(x->db, sql, -1, st, NULL);

	if (src == SQLITE_OK)
		src = bind_filter(*st, x);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the events: %s", sqlite3_errmsg(x->db));
		return KDC_ERR_DB;
	}
	return KDC_OK;
}

/* How many rows the filter gives: a second pass over the same rows, worth
 * it only for a person watching the progress line. -1 when it fails. */
static int64_t count_rows(const struct kdc_export_events *x)
{
	sqlite3_stmt *st = NULL;
	char err[256];
	int64_t n = -1;

	if (prepare(x, SQL_COUNT SQL_WHERE, &st, err, sizeof err) == KDC_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void progress(int64_t rows, int64_t total, int done)
{
	if (total > 0)
		fprintf(stderr, "\r%lld of %lld events written (%lld%%)%s", (long long)rows,
		        (long long)total, (long long)(rows * 100 / total), done ? "\n" : "");
	else
		fprintf(stderr, "\r%lld events written%s", (long long)rows, done ? "\n" : "");
}

static void write_header(struct kdc_csv *c, int lang)
{
	kdc_csv_bom(c);
	for (size_t i = 0; i < NCOLS; i++)
		kdc_csv_field(c, COLS[i].head[lang == KDC_LANG_EN]);
}

int kdc_export_events_run(const struct kdc_export_events *x, int64_t *rows, char *err,
                          size_t errlen)
{
	struct kdc_csv c;
	struct row r = { NULL, x, 0 };
	int64_t total = x->progress ? count_rows(x) : -1, last = kdc_mono_ms();
	int src, rc = KDC_OK;

	*rows = 0;
	if (x->sink)
		kdc_csv_init_sink(&c, x->sink);
	else
		kdc_csv_init(&c, x->out);
	write_header(&c, x->lang);
	if (kdc_csv_end_row(&c) != 0)
		goto write_failed;
	if ((rc = prepare(x, SQL_SELECT SQL_WHERE " ORDER BY e.id", &r.st, err, errlen)) != KDC_OK)
		goto cleanup;
	while ((src = sqlite3_step(r.st)) == SQLITE_ROW) {
		r.kind = sqlite3_column_int(r.st, Q_KIND);
		for (size_t i = 0; i < NCOLS; i++)
			COLS[i].put(&c, &r);
		if (kdc_csv_end_row(&c) != 0)
			goto write_failed;
		++*rows;
		if (x->progress && (*rows & 255) == 0 && kdc_mono_ms() - last >= 1000) {
			progress(*rows, total, 0);
			last = kdc_mono_ms();
		}
	}
	if (src != SQLITE_DONE) {
		snprintf(err, errlen, "reading the events failed after %lld rows: %s", (long long)*rows,
		         sqlite3_errmsg(x->db));
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	if (kdc_csv_finish(&c) != 0)
		goto write_failed;
	goto cleanup;
write_failed:
	snprintf(err, errlen, "writing failed after %lld rows: %s", (long long)*rows, strerror(c.err));
	rc = KDC_ERR_IO;
cleanup:
	if (x->progress) /* the last count, and the line ended before any message */
		progress(*rows, total, 1);
	sqlite3_finalize(r.st);
	return rc;
}
