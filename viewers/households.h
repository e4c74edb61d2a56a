/* households.h: the household lists a viewer reads, tallied by status.
 *
 * The aggregator publishes one retained kdc.households.v1 JSON message per
 * khóm on kdc/v1/{ward}/households/khom/{khom} (docs/stats.md): the khóm's
 * households with their status (not visited, not at home, declined,
 * surveyed, reached). kdc-stats shows how many households are in each
 * status, for a khóm or summed over the ward's khóms.
 *
 * Threads: no global state. kdc-stats parses on Paho's receive thread into a
 * table it guards with its own lock, and draws from a copy on its main thread. */
#ifndef KDC_VIEWER_HOUSEHOLDS_H
#define KDC_VIEWER_HOUSEHOLDS_H

#include <stddef.h>

#include "kdc_proto.h"

#define KDC_HH_SCHEMA "kdc.households.v1"

enum kdc_hh_status {
	KDC_HH_NOT_VISITED,
	KDC_HH_NOT_HOME,
	KDC_HH_DECLINED,
	KDC_HH_SURVEYED,
	KDC_HH_REACHED,
	KDC_HH_STATUS_COUNT
};

/* The JSON name ("not_home") and the words shown ("not at home"). */
extern const char *const kdc_hh_status_names[KDC_HH_STATUS_COUNT];
extern const char *const kdc_hh_status_words[KDC_HH_STATUS_COUNT];

struct kdc_hh_tally {
	long long status[KDC_HH_STATUS_COUNT];
	long long total;       /* households listed */
	long long field_added; /* of which added in the field */
	int with_register;     /* the list is the ward's register (else: seen in events) */
};

/* Reads one kdc.households.v1 message for ward/khom (the topic's). Uses its
 * "counts" when present, else counts its "households" list. 0, or
 * KDC_ERR_INVAL with the reason in err when it is not such a message for
 * that ward and khóm. Never crashes on any input. */
int kdc_hh_parse(const char *json, size_t len, const char *ward, const char *khom, struct kdc_hh_tally *out,
                 char *err, size_t errlen);

/* The latest tally of each khóm seen. */
struct kdc_hh_entry {
	char khom[KDC_CODE_MAX + 1];
	struct kdc_hh_tally tally;
};
struct kdc_hh_table {
	struct kdc_hh_entry *v;
	size_t n, cap;
};

/* Sets (or with tally NULL removes) the khóm's tally. 0 or KDC_ERR_NOMEM. */
int kdc_hh_table_set(struct kdc_hh_table *t, const char *khom, const struct kdc_hh_tally *tally);
/* A copy of src into dst (dst's old contents freed). 0 or KDC_ERR_NOMEM. */
int kdc_hh_table_copy(struct kdc_hh_table *dst, const struct kdc_hh_table *src);
void kdc_hh_table_free(struct kdc_hh_table *t);
/* The sum over every khóm of the table; returns how many there are. */
size_t kdc_hh_table_sum(const struct kdc_hh_table *t, struct kdc_hh_tally *sum);

/* "not visited 40 · not at home 10 · declined 3 · surveyed 50 · reached 83" */
void kdc_hh_format(const struct kdc_hh_tally *t, char *out, size_t len);

#endif
