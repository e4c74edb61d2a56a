/* kdc-event.h: what kdc-event.c (recording, listing, sync) shares with
 * kdc-event-fix.c (households added in the field, voids, amendments and the
 * worklist). One program; the split only keeps each file readable. */
#ifndef KDC_EVENT_CLI_H
#define KDC_EVENT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "producer.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3
#define EXIT_INTERRUPTED 130

struct cli {
	struct kdc_producer_conf dev;
	char *config;
	char *log_level;
	int help;
	/* event fields */
	char *khom, *household, *outcome, *needs, *kind, *purpose, *method, *at;
	long long members, members_15plus, smartphones, member, amount;
	/* sync */
	long long timeout;
	/* bulk */
	long long count, households, days, seed;
	/* household add, void, amend, worklist */
	char *target;            /* the event id given after void/amend */
	char *reason;
	char *status;
	long long people_15plus;
	int business;            /* household add: a business */
	int vneid;               /* service: signed in with VNeID level 2 */
	int einvoice, online_services; /* business visit */
	/* history */
	long long limit;
};

/* Records ev through a fresh producer and prints the id; on_list: refuse a
 * household the team's worklist lacks (businesses are not on it). */
int record_event(struct cli *c, kdc_event_pb *ev, const char *what, int on_list);
/* --khom, --household (or --code), --at and --member (person) into ev; 0 or
 * exit status 2 with the reason said. */
int common_fields(struct cli *c, kdc_event_pb *ev, int person);
/* "a, b or c" from a name function over 1..max. */
void list_names(char *buf, size_t len, const char *(*name)(int));
/* Parses an enum option; on failure explains which values exist (exit 2). */
int parse_enum(const char *value, const char *opt, const char *what,
               int (*parse)(const char *), const char *(*name)(int), int *out);
/* A required code option: 0 or exit status 2 with the reason said. */
int require_code(const char *value, const char *opt, const char *what);
/* --at into ms (0 = now when at is NULL). */
int parse_at(const char *at, int offset_min, int64_t *ms);
/* Parses --needs (comma-separated) into needs[]; 0 or exit status 2. */
int parse_needs(const char *text, Kdc__V1__Need *needs, size_t *n);
int parse_business_needs(const char *text, Kdc__V1__BusinessNeed *needs, size_t *n);
/* The outbox path when the config names none; then the producer. */
int default_outbox(struct cli *c);
int open_producer(struct cli *c, kdc_producer **p);
/* Refuses (exit 2, said on stderr) a household the stored worklist does not
 * have; 0 when it has it or there is no list; EXIT_FAIL on an outbox error. */
int check_household(struct cli *c, kdc_producer *p, const char *khom, const char *household);

/* kdc-event-business.c: the business events */
int cmd_business_visit(struct cli *c);
int cmd_einvoice(struct cli *c);
int cmd_business_account(struct cli *c);
int cmd_bulk(struct cli *c);
int cmd_household(struct cli *c);
int cmd_void(struct cli *c);
int cmd_amend(struct cli *c);
int cmd_worklist(struct cli *c);
int cmd_history(struct cli *c);
/* Prints what to do about a refusal for one of the register's reasons
 * (unknown or retired household, void refused); nothing for the others. */
void rejected_hint(struct cli *c, kdc_outbox *ob, const struct kdc_outbox_row *row);

#endif
