/* sim.h: the campaign model behind kdc-sim. Pure computation, no I/O: from a
 * ward profile and a seed it builds the ward's households, the team devices
 * that visit them, and the events of a door-to-door campaign over a time
 * window, in time order. kdc-sim.c records those events through the producer
 * library; the tests read the model and the outboxes it fills.
 *
 * The campaign (all times local, the profile's UTC offset):
 *  - Households come from the profile's khóms (codes H001, H002, ... in each
 *    khóm, or H0001, ... with household_digits 4, the register's format);
 *    each khóm's households are split in blocks among the devices of
 *    the team(s) that cover it, as streets are split among team members.
 *    People aged 15+ are spread so that each khóm's total equals its
 *    people_15plus (at least one per household, at most 8). About a fifth of
 *    households are "elderly": fewer smartphones, slower adoption.
 *  - Every event is recorded by a team member at work: Monday to Saturday,
 *    7:30-11:30 and 13:00-17:00. So every event time falls on a working day,
 *    in those hours, inside [start_ms, end_ms].
 *  - First visits go door to door over the first 60% of the working days;
 *    a household not at home is visited again 1-5 working days later (three
 *    attempts at most); a few decline.
 *  - After the survey, each person 15+ opens accounts (VNeID level 2, the
 *    public service portal (after VNeID), the provincial app (needs a
 *    smartphone), a payment account) following a logistic adoption curve over
 *    the campaign: a person adopts when the curve passes their own threshold,
 *    at the visit itself if it already has. Elderly households' curves are
 *    lower and later.
 *  - People with a payment account pay: the household's electricity (EVN
 *    residential tiers, VAT 8%) and water bills monthly, the first payment
 *    account holder of the household paying; telecom top-ups, shopping,
 *    health, school and public fees now and then. Payments only after the
 *    payer's payment account was opened.
 *  - Services (birth registration, marital status, medical booking, field
 *    report, other) arrive as Poisson processes once the person has the
 *    account they need.
 *  - Businesses (household businesses, enterprises: the profile's
 *    `businesses` of a khóm, codes B0001, ...; none without it) are visited
 *    once over the first visits' span by a device covering their khóm, which
 *    sees whether they issue e-invoices and use online public services;
 *    some adopt e-invoices, some open an e-identified account, some are
 *    visited again, which sees what changed. A stream of their own: the
 *    households' events are the same with or without businesses.
 *  - Each device goes offline now and then for 2 to 30 hours (about every
 *    five days); kdc-sim holds the events recorded meanwhile until the device
 *    is back ("late uploads").
 *
 * Determinism: only the local PRNG below (xoshiro256** seeded by splitmix64)
 * is used, with a separate stream per household and per device, so the same
 * seed, profile, window and layout give the same events, in the same order.
 *
 * Ownership and threads: a kdc_sim is plain data, read-only once built; read
 * it from any thread while nobody frees it. */
#ifndef KDC_SIM_H
#define KDC_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "profile.h"

#define KDC_SIM_MAX_ADULTS 8        /* people 15+ in one simulated household */
#define KDC_SIM_MAX_DEVICES 4096
#define KDC_SIM_NO_DEVICE UINT32_MAX

/* Local working hours, minutes after midnight. */
#define KDC_SIM_WORK_AM_START (7 * 60 + 30)
#define KDC_SIM_WORK_AM_END (11 * 60 + 30)
#define KDC_SIM_WORK_PM_START (13 * 60)
#define KDC_SIM_WORK_PM_END (17 * 60)

/* xoshiro256**, seeded through splitmix64. */
struct kdc_sim_rng {
	uint64_t s[4];
};
/* Seeds a stream from a seed and two stream numbers. */
void kdc_sim_rng_seed(struct kdc_sim_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t kdc_sim_rng_next(struct kdc_sim_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t kdc_sim_rng_below(struct kdc_sim_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double kdc_sim_rng_unit(struct kdc_sim_rng *r);

struct kdc_sim_params {
	uint64_t seed;
	int64_t start_ms, end_ms; /* the window; campaign events fall inside it */
	/* Campaign layout: devices per team, the profile's listed devices first,
	 * then {team}-D1, {team}-D2, ... for the rest. */
	int team_devices;
	/* Load layout (non-zero): this many devices in total, spread over the
	 * teams in turn; no campaign events are generated (see
	 * kdc_sim_load_event). */
	int devices;
	/* Digits of the household codes (H001 has 3): at least this many, more
	 * when a khóm has more households. 0 means 3. */
	int household_digits;
};

struct kdc_sim_household {
	char code[KDC_CODE_MAX + 1];
	uint32_t khom;              /* index into kdc_sim.khoms */
	uint32_t device;            /* index into kdc_sim.devices, or KDC_SIM_NO_DEVICE */
	uint8_t members;            /* people living there */
	uint8_t members_15plus;     /* 1..KDC_SIM_MAX_ADULTS */
	uint8_t smartphones;
	uint8_t elderly;            /* 1: slower adoption */
	uint32_t needs;             /* bitmask 1 << kdc.v1.Need expressed at the survey */
};

struct kdc_sim_business {
	char code[KDC_CODE_MAX + 1];
	uint32_t khom;              /* index into kdc_sim.khoms */
	uint32_t device;            /* index into kdc_sim.devices, or KDC_SIM_NO_DEVICE */
};

struct kdc_sim_device {
	char code[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	int64_t *offline;           /* [from, to) pairs, sorted, in the window */
	size_t noffline;            /* pairs */
	uint32_t *households;       /* indices of the households it visits */
	size_t nhouseholds;
};

/* One campaign event. kind: enum kdc_kind; sub: outcome, AccountKind,
 * PaymentPurpose or ServiceKind number; member 0 for visits. For the
 * business kinds (kdc_kind_for_business) household is an index into
 * kdc_sim.businesses and flags what a business visit saw (KDC_FLAG_*). */
struct kdc_sim_event {
	int64_t t;                  /* when it happened, UTC ms */
	int64_t amount_vnd;         /* payments; 0 otherwise */
	uint32_t household;         /* index into kdc_sim.households */
	uint32_t device;            /* index into kdc_sim.devices */
	uint32_t order;             /* generation order within the household */
	uint8_t kind, sub, member, method, flags;
};

struct kdc_sim {
	char ward[KDC_CODE_MAX + 1];
	int utc_offset_min;
	int regular_window_days;
	int64_t start_ms, end_ms;
	char (*khoms)[KDC_CODE_MAX + 1];
	size_t nkhoms;
	long long households_total, people_15plus_total; /* as simulated */
	struct kdc_sim_household *households;
	size_t nhouseholds;
	struct kdc_sim_business *businesses;
	size_t nbusinesses;
	struct kdc_sim_device *devices;
	size_t ndevices;
	struct kdc_sim_event *events; /* sorted by (t, household, order) */
	size_t nevents;
};

/* Builds the ward (households, devices, offline periods) and, in campaign
 * layout, the campaign's events. The profile must have at least one khóm;
 * khóms no team covers get a team "T-{khom}" of their own. Returns 0 and a
 * new kdc_sim in *out (free with kdc_sim_free), or KDC_ERR_INVAL/NOMEM with a
 * reason in err. */
int kdc_sim_new(const struct kdc_profile *prof, const struct kdc_sim_params *par,
                struct kdc_sim **out, char *err, size_t errlen);
void kdc_sim_free(struct kdc_sim *s);

/* 1 if device dev is offline at time t. */
int kdc_sim_offline(const struct kdc_sim *s, size_t dev, int64_t t);

/* 1 if t is inside the working hours above (Monday-Saturday, local time). */
int kdc_sim_working_time(int64_t t, int utc_offset_min);

/* Storage for one event as protobuf: kdc_sim_event_pb fills it and points
 * pb->ev's strings at the kdc_sim (valid while it lives). */
struct kdc_sim_pb {
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited visit;
	Kdc__V1__AccountCreated account;
	Kdc__V1__PaymentMade payment;
	Kdc__V1__ServiceUsed service;
	Kdc__V1__Need needs[KDC_MAX_NEEDS];
	Kdc__V1__BusinessVisited business_visit;
	Kdc__V1__EinvoiceAdopted einvoice;
	Kdc__V1__BusinessAccountCreated business_account;
	Kdc__V1__BusinessNeed business_needs[KDC_MAX_BUSINESS_NEEDS];
};
/* The event as the producer records it: khom, household, member, body and
 * occurred_ms = e->t. Ward, team and device are set by the producer. */
void kdc_sim_event_pb(const struct kdc_sim *s, const struct kdc_sim_event *e,
                      struct kdc_sim_pb *pb);

/* Load mode: one plausible event for device dev (a household of its own, or
 * any household when it has none), a mix of the four kinds, occurred_ms 0
 * (the producer then stamps it now). */
void kdc_sim_load_event(const struct kdc_sim *s, struct kdc_sim_rng *r, size_t dev,
                        struct kdc_sim_pb *pb);

/* What was recorded, counted the way the aggregator's statistics count
 * (distinct households and people; see docs/stats.md). */
struct kdc_sim_tally {
	int64_t events[KDC_KIND_COUNT];
	int64_t outcomes[4];        /* visits per VisitOutcome */
	int64_t accounts[5];        /* distinct people per AccountKind (1..4) */
	int64_t services[6];        /* events per ServiceKind (1..5) */
	int64_t purposes[9];        /* payments per PaymentPurpose (1..8) */
	int64_t payments, amount_vnd;
	int64_t visited, surveyed, reached, with_payment_account;
	int64_t business_events;    /* events of businesses (in none of the above) */
	/* internal: per household */
	size_t n;
	uint8_t *flags;             /* 1 visited, 2 surveyed, 4 reached */
	uint8_t (*acct)[5];         /* members (bit m-1) per AccountKind */
	int64_t (*last_pay)[KDC_SIM_MAX_ADULTS]; /* latest payment time per member, 0 none */
};
int kdc_sim_tally_init(struct kdc_sim_tally *t, const struct kdc_sim *s);
/* Counts one recorded event (campaign events only: the tally needs
 * household indices). */
void kdc_sim_tally_add(struct kdc_sim_tally *t, const struct kdc_sim_event *e);
/* People with a payment account and a payment on one of the last
 * window_days local days up to now_ms (today included). */
int64_t kdc_sim_tally_paying_regularly(const struct kdc_sim_tally *t, int64_t now_ms,
                                       int utc_offset_min, int window_days);
void kdc_sim_tally_free(struct kdc_sim_tally *t);

#endif
