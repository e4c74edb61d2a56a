/* snapshot.h: the count fields of a kdc.stats.v1 snapshot (docs/stats.md),
 * listed once. The ward aggregator writes them (aggregator/stats_json.c), the
 * province adds them up (province/rollup.c); both take the dotted paths and
 * their order from this table, so a field added here appears in both.
 *
 * The table holds the additive counts only: the ones whose province value is
 * the sum of its wards' (docs/province.md). Targets, the daily series and the
 * devices are built beside them. Plain constant data: any thread. */
#ifndef KDC_SNAPSHOT_H
#define KDC_SNAPSHOT_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "profile.h"

#define KDC_STATS_SCHEMA "kdc.stats.v1"

#define KDC_SNAP_NACCOUNT 4 /* AccountKind 1..4 */
#define KDC_SNAP_NSERVICE 5 /* ServiceKind 1..5 */
#define KDC_SNAP_NWINDOW 4  /* events per kind: 24h, 7d, 30d, total */

/* Index of each field in kdc_snap_fields, in the order of the JSON. */
enum kdc_snap_field {
	KDC_SF_HH_TOTAL = 0, KDC_SF_HH_VISITED, KDC_SF_HH_SURVEYED, KDC_SF_HH_REACHED,
	KDC_SF_P_TOTAL, KDC_SF_P_ACCOUNT, KDC_SF_P_REGULAR,
	/* accounts.{kind}: KDC_SF_ACCOUNT + AccountKind - 1 */
	KDC_SF_ACCOUNT,
	/* events.{kind}.{window}: KDC_SF_EVENTS + kind * KDC_SNAP_NWINDOW + window */
	KDC_SF_EVENTS = KDC_SF_ACCOUNT + KDC_SNAP_NACCOUNT,
	/* services.{kind} (last 30 days): KDC_SF_SERVICES + ServiceKind - 1 */
	KDC_SF_SERVICES = KDC_SF_EVENTS + KDC_KIND_COUNT * KDC_SNAP_NWINDOW,
	KDC_SF_PAY_COUNT_30D = KDC_SF_SERVICES + KDC_SNAP_NSERVICE,
	KDC_SF_PAY_AMOUNT_30D, KDC_SF_PAY_COUNT_TOTAL, KDC_SF_PAY_AMOUNT_TOTAL,
	KDC_SF_STORED, KDC_SF_REJECTED,
	/* events.voided: activity events stored and then voided (not counted) */
	KDC_SF_VOIDED,
	/* Added after the first snapshots: a reader takes 0 for one absent
	 * (a ward not updated yet). */
	KDC_SF_ADDED,
	/* events.{business_visit,einvoice,business_account}.{window}:
	 * KDC_SF_BIZ_EVENTS + (kind - KDC_KIND_BUSINESS_VISIT) * KDC_SNAP_NWINDOW + window */
	KDC_SF_BIZ_EVENTS = KDC_SF_ADDED,
	KDC_SF_BIZ_TOTAL = KDC_SF_BIZ_EVENTS + 3 * KDC_SNAP_NWINDOW, /* businesses.total */
	KDC_SF_BIZ_EINVOICE,     /* businesses.using_einvoice */
	KDC_SF_SU_TOTAL,         /* service_users.total */
	KDC_SF_SU_EID,           /* service_users.e_identified */
	KDC_SF_COUNT
};
enum { KDC_SNAP_W24H = 0, KDC_SNAP_W7D, KDC_SNAP_W30D, KDC_SNAP_WTOTAL };

/* "households.total", ... "rejected_total": the dotted path of each field. */
extern const char *const kdc_snap_fields[KDC_SF_COUNT];

/* The count and the denominator of each target indicator among the fields. */
struct kdc_snap_indicator {
	int value, denom;
};
extern const struct kdc_snap_indicator kdc_snap_indicators[KDC_IND_COUNT];

/* Adds field f with value v to root, creating the objects on its path.
 * KDC_OK, or KDC_ERR_NOMEM. */
int kdc_snap_put(cJSON *root, int f, int64_t v);

#endif
