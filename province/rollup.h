/* rollup.h: the province roll-up. Keeps the last ward statistics snapshot
 * (kdc/v1/{ward}/stats/ward) and status of every ward of a province and
 * builds the province snapshot that kdc-rollup publishes retained on
 * kdc/v1/province/{code}/stats: the sums of the additive fields, each
 * target recomputed from summed numerators and denominators, and one row per
 * ward with the age of its last snapshot and whether it is online.
 * docs/province.md says which fields are additive and why.
 *
 * Plain data, no I/O, no clock of its own (time comes in as now_ms), no
 * threads: one owner calls everything. */
#ifndef KDC_ROLLUP_H
#define KDC_ROLLUP_H

#include <stddef.h>
#include <stdint.h>
#include "kdc_proto.h"
#include "profile.h"

#define KDC_ROLLUP_SCHEMA "kdc.province.v1"
#define KDC_ROLLUP_MAX_WARDS 10000

/* ---- the province profile ------------------------------------------------ */

struct kdc_province_ward {
	char code[KDC_CODE_MAX + 1];
	char name[KDC_PROFILE_NAME_MAX];
};

struct kdc_province {
	char code[KDC_CODE_MAX + 1];       /* the province's administrative code */
	char name[KDC_PROFILE_NAME_MAX];
	int utc_offset_min;                /* for "today" in target projections */
	struct kdc_province_ward *wards;   /* in file order */
	size_t nwards;
	struct kdc_profile_target targets[KDC_IND_COUNT];
	size_t ntargets;
};

/* Loads a province profile (INI):
 *   [province]  code = 96, name = Cà Mau, utc_offset = +07:00
 *   [wards]     31975 = Phường 1      (one line per ward: code = name)
 *   [target households_reached]  percent = 85, deadline = 2023-12-31
 * Without [target ...] sections the two programme targets apply (as for a
 * ward). On failure returns KDC_ERR_CONFIG / KDC_ERR_IO / KDC_ERR_NOMEM with
 * "path:line: reason" in err and *out NULL; on success *out is owned by the
 * caller (kdc_province_free). */
int kdc_province_load(const char *path, struct kdc_province **out, char *err, size_t errlen);
void kdc_province_free(struct kdc_province *p);

/* ---- the roll-up state ---------------------------------------------------- */

typedef struct kdc_rollup kdc_rollup;

/* What an update did. */
enum kdc_rollup_result {
	KDC_ROLLUP_CHANGED = 0,   /* state changed: publish a new snapshot */
	KDC_ROLLUP_SAME,          /* a repeat of what is held (e.g. retained re-delivery) */
	KDC_ROLLUP_OLDER,         /* older than what is held (lower seq and as_of): ignored */
	KDC_ROLLUP_UNLISTED,      /* a ward not in the province profile: ignored */
	KDC_ROLLUP_INVALID,       /* not a ward snapshot / status: ignored, why in err */
};

/* The province profile is borrowed: it must outlive the roll-up. NULL when
 * out of memory. */
kdc_rollup *kdc_rollup_new(const struct kdc_province *prov);
void kdc_rollup_free(kdc_rollup *r);

/* A ward snapshot arrived for ward (taken from the topic). json need not be
 * NUL-terminated; len 0 is an emptied retained topic (the ward's snapshot is
 * forgotten). A snapshot replaces the held one only when it is newer (higher
 * seq, or a later as_of after the ward's database was recreated). Returns an
 * enum kdc_rollup_result; for KDC_ROLLUP_INVALID a reason is in err. */
int kdc_rollup_ward_stats(kdc_rollup *r, const char *ward, const char *json, size_t len,
                          char *err, size_t errlen);

/* kdc/v1/{ward}/status/aggregator arrived (JSON {"status":..,"since":..}). */
int kdc_rollup_ward_status(kdc_rollup *r, const char *ward, const char *json, size_t len,
                           char *err, size_t errlen);

/* The ward broker's bridge state arrived on kdc/v1/{ward}/status/bridge
 * (mosquitto's bridge notification: "1" up, "0" down). A ward whose bridge
 * is down is shown offline whatever its last aggregator status said: that
 * status can no longer reach the province. */
int kdc_rollup_ward_link(kdc_rollup *r, const char *ward, const char *payload, size_t len,
                         char *err, size_t errlen);

/* Builds the province snapshot as of now_ms with the given seq. *out is a
 * malloc'd NUL-terminated JSON text owned by the caller. 0 or KDC_ERR_NOMEM. */
int kdc_rollup_build(const kdc_rollup *r, int64_t now_ms, int64_t seq, char **out);

/* Wards listed / with a snapshot / online now. */
void kdc_rollup_counts(const kdc_rollup *r, size_t *listed, size_t *reporting, size_t *online);

#endif
