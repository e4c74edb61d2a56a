/* stats_at DB PROFILE NOW_MS: prints every scope's kdc.stats.v1 snapshot,
 * one per line, as the statistics tables of DB stand, read at NOW_MS.
 *
 * For the tests of kdc-report's figures: DB is a copy of a ward's database
 * whose later events were deleted and whose statistics `kdc-aggregator
 * rebuild` recomputed; this reads those tables as they are (no fold of its
 * own) through kdc_stats_publish, so that what kdc-report computes for that
 * moment from the whole database is checked against an independent rebuild.
 * The denominators are the register's when the copy has one, as the
 * aggregator's writer sets them (register.c). Writes the scopes' seq to DB:
 * a copy only. */
#include <stdio.h>
#include <stdlib.h>

#include "kdc_err.h"
#include "profile.h"
#include "register.h"
#include "stats.h"
#include "store.h"

static void emit(void *ud, const char *scope, const char *id, const char *json)
{
	(void)ud;
	(void)scope;
	(void)id;
	printf("%s\n", json);
}

int main(int argc, char **argv)
{
	struct kdc_store_opts so = KDC_STORE_OPTS_INIT;
	struct kdc_profile *p = NULL;
	kdc_store *store = NULL;
	kdc_stats *stats = NULL;
	kdc_register *reg = NULL;
	char err[512];
	int rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: stats_at DB PROFILE NOW_MS\n");
		return 2;
	}
	if (kdc_profile_load(argv[2], &p, err, sizeof err) != KDC_OK) {
		fprintf(stderr, "stats_at: %s\n", err);
		return 1;
	}
	if (!(store = kdc_store_open(argv[1], &so, err, sizeof err)) ||
	    !(stats = kdc_stats_open(kdc_store_db(store), p, err, sizeof err))) {
		fprintf(stderr, "stats_at: %s\n", err);
		goto cleanup;
	}
	if (!(reg = kdc_register_open(store, p, err, sizeof err))) {
		fprintf(stderr, "stats_at: %s\n", err);
		goto cleanup;
	}
	if (kdc_register_set_denominators(reg, stats) != KDC_OK) {
		fprintf(stderr, "stats_at: out of memory\n");
		goto cleanup;
	}
	if (kdc_stats_publish(stats, strtoll(argv[3], NULL, 10), 0, emit, NULL) != KDC_OK) {
		fprintf(stderr, "stats_at: publish failed\n");
		goto cleanup;
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
cleanup:
	kdc_register_free(reg);
	kdc_stats_free(stats);
	kdc_store_close(store);
	kdc_profile_free(p);
	return rc;
}
