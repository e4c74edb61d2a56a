/* sim_int.h: what the parts of the campaign model share (sim.h is the
 * interface): sim.c generates each household's events, sim_ward.c builds the
 * ward (teams, devices, households) and runs the generation, sim_events.c
 * turns an event into its protobuf and keeps the tally the summary is
 * checked against. */
#ifndef KDC_SIM_INT_H
#define KDC_SIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define AM_START (KDC_SIM_WORK_AM_START * MIN_MS)
#define AM_END (KDC_SIM_WORK_AM_END * MIN_MS)
#define PM_START (KDC_SIM_WORK_PM_START * MIN_MS)
#define PM_END (KDC_SIM_WORK_PM_END * MIN_MS)
#define AM_LEN (AM_END - AM_START)
#define WORK_MS (AM_LEN + PM_END - PM_START) /* working ms in a day */

#define SIM_MAX_HOUSEHOLDS 5000000LL
#define SIM_VISIT_PHASE 0.6      /* first visits over this share of the working days */
#define SIM_ATTEMPTS 3           /* visits to a household never at home */
#define SIM_CURVE_K 9.0          /* steepness of the adoption curves */
#define SIM_OFFLINE_EVERY_MS (5 * DAY_MS)

/* streams of the PRNG (second seed word) */
enum { STREAM_HOUSEHOLD = 1, STREAM_DEVICE, STREAM_PEOPLE, STREAM_EVENTS, STREAM_BUSINESS };

struct sim_ctx {
	struct kdc_sim *s;
	uint64_t seed;
	int64_t first_day, last_day;
	int64_t *wdays;             /* working days with working time in the window */
	size_t nwdays;
	size_t cap_events;
	int failed;                 /* out of memory while emitting */
};

int64_t sim__exp(struct kdc_sim_rng *r, double mean);
int64_t sim__day(const struct sim_ctx *c, int64_t t);
int sim__span(const struct sim_ctx *c, int64_t day, int64_t *lo, int64_t *hi);
void sim__household_events(struct sim_ctx *c, uint32_t h, size_t pos);
int64_t sim__time_from_day(const struct sim_ctx *c, struct kdc_sim_rng *r, int64_t day);
int64_t sim__next_work(const struct sim_ctx *c, int64_t t);
/* A new event at t (zeroed but for t and order, which counts on), or NULL
 * when t is outside the campaign or memory ran out (then c->failed). */
struct kdc_sim_event *sim__append(struct sim_ctx *c, int64_t t, uint32_t *order);
/* sim_business.c: the profile's businesses over the devices that cover
 * their khóm (0 or KDC_ERR_NOMEM), and each one's events */
int sim__businesses(struct kdc_sim *s, const struct kdc_profile *prof);
void sim__business_pb(const struct kdc_sim *s, const struct kdc_sim_event *e, struct kdc_sim_pb *pb);
void sim__business_events(struct sim_ctx *c, uint32_t b);
int sim__event_cmp(const void *a, const void *b);

#endif
