/* kdc-sim.h: what the two files of the kdc-sim program share: kdc-sim.c
 * (options, devices, the three ways to run) and sim_summary.c (what the run
 * did, as a table and as JSON). Main thread only. */
#ifndef KDC_SIM_PROG_H
#define KDC_SIM_PROG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "kdc_mqtt.h"
#include "producer.h"
#include "profile.h"
#include "sim.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3
#define EXIT_INTERRUPTED 130

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define LOAD_CHUNK 500          /* events per device per transaction, --rate 0 */
#define MARGIN_MS HOUR_MS       /* keep clear of the aggregator's time limits */

struct cli {
	struct kdc_mqtt_conf mqtt;
	char *config, *profile, *ward, *dir, *end, *summary_json, *progress, *log_level;
	long long days, seed, team_devices, speed, devices, events, rate, sync_timeout;
	long long resend_after, window, household_digits, history_days;
	int realtime, no_sync, help;
};

struct device {
	kdc_producer *p;
	char outbox[PATH_MAX];
	char client_id[128];
	int in_tx;               /* a batch is open */
	int64_t pending_before;  /* pending rows found at start (an earlier run) */
	int64_t recorded, late, since_poll;
	int offline;             /* simulated state now */
};

struct run {
	struct cli *cli;
	struct kdc_profile *prof;
	struct kdc_sim *sim;
	struct device *dev;
	size_t ndev;
	struct kdc_sim_tally tally;
	int load;
	int64_t load_kinds[KDC_KIND_COUNT];
	int64_t start_ms, end_ms;   /* the window */
	int64_t t0_mono;
	int64_t record_ms;          /* wall time spent recording (and publishing meanwhile) */
	int64_t sync_ms;            /* wall time of the final sync */
	int64_t recorded, late, offline_periods;
	int64_t delivered, pending, rejected;
	int synced;                 /* 1: nothing pending at the end */
	int fatal;                  /* an outbox failed */
	/* progress */
	int pmode;                  /* 0 none, 1 bar, 2 lines */
	int64_t p_last_ms;
	int p_last_tenth;
	int p_wrote;
};

int64_t dev_delivered(const struct run *r);
void count_outboxes(struct run *r);
void print_summary(struct run *r, FILE *out);
int write_summary_json(struct run *r, const char *path);

#endif
