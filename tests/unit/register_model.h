/* register_model.h: the household register and voids of docs/register.md,
 * written again from the contract for the property test (test_stats_prop.c):
 * the arrivals replayed in order, what is refused, which households the
 * register holds, which events a void takes out. No code of the aggregator
 * is used. */
#ifndef KDC_REGISTER_MODEL_H
#define KDC_REGISTER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "event_row.h"
#include "kdc_util.h"

#define MAX_ITEMS 480
#define MAX_REG 32

enum { IT_EVENT, IT_ADD, IT_VOID };

struct item {
	int type;
	struct kdc_event_row r;      /* for a void: its own id, team, device, khom, household */
	uint8_t target[KDC_UUID_LEN];
	uint32_t people;             /* an addition's people 15+; its r.subkind 1: a business */
};

/* people -1: not given; business: a business entry (events for a
 * household are refused on it, and the reverse) */
struct mreg { char khom[KDC_CODE_MAX + 1], hh[KDC_CODE_MAX + 1]; int active, people, business; };
struct mstored { struct kdc_event_row r; int type, voided; };
struct mvoid {
	uint8_t target[KDC_UUID_LEN];
	char team[KDC_CODE_MAX + 1], khom[KDC_CODE_MAX + 1], hh[KDC_CODE_MAX + 1];
	int waiting;
};

struct model {
	struct mreg reg[MAX_REG];
	size_t nreg;
	struct mstored st[MAX_ITEMS];
	size_t nst;
	struct mvoid wait[MAX_ITEMS];
	size_t nwait;
	long long rejected;
	int seen_khom[3], seen_team[3];   /* scopes of khoms[] / teams[] folded (m_mark_seen) */
};

/* The register's row of khom/hh, NULL when it has none. */
struct mreg *m_reg(struct model *m, const char *khom, const char *hh);
/* 1 when the statistics count e: an event, not voided, of an active
 * household (any household while the register is empty). */
int m_counted(struct model *m, const struct mstored *e);
/* One arrival, as the writer takes it. */
void m_apply(struct model *m, const struct item *it);

#endif
