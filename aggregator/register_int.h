/* register_int.h: what register.c and voids.c share (the struct behind
 * kdc_register and its statements). Nobody else includes it. */
#ifndef KDC_REGISTER_INT_H
#define KDC_REGISTER_INT_H

#include "kdc_hmap.h"
#include "register.h"

enum reg_stmt {
	R_LOAD, R_PENDING, R_MAX_LID, R_DATA_VERSION, R_EXISTS, R_ADD, R_LOG, R_HH_EVENTS,
	R_TARGET, R_VOID_ADD, R_VOID_APPLY, R_VOIDS_OF, R_VOID_STATE,
	R_COUNT
};

/* Keys are zero-filled before they are set, so that they compare as bytes. */
struct reg_key {
	char khom[KDC_CODE_MAX + 1];
	char household[KDC_CODE_MAX + 1];
	char pad[6];
};
struct reg_val {
	int32_t state;     /* enum kdc_register_state */
	int32_t people;    /* people_15plus, -1 when not given */
	int32_t business;  /* 1: a business (household business, enterprise); 0: a household */
};
struct reg_id {
	uint8_t id[KDC_UUID_LEN];
};
struct reg_pending {
	int32_t live;      /* 0: resolved since the load (the map cannot delete) */
};

struct kdc_register {
	kdc_store *store;
	sqlite3 *db;
	const struct kdc_profile *profile;
	sqlite3_stmt *st[R_COUNT];
	struct kdc_hmap entries;   /* reg_key -> reg_val: every row of `register` */
	struct kdc_hmap pending;   /* reg_id -> reg_pending: targets of voids in state 0 */
	size_t rows;               /* rows of `register` (0: the ward has no register) */
	int64_t lid;               /* largest register_log lid known */
	int64_t data_version;
	int stale;
};

int reg__fail(kdc_register *r, int src, const char *what);
int reg__done(kdc_register *r, sqlite3_stmt *st, const char *what);
int reg__exists(kdc_register *r, enum reg_stmt q, int *found, const char *what);
/* voids.c: an EventVoided event (see kdc_register_special) */
int reg__void(kdc_register *r, const kdc_event_pb *ev, const struct kdc_event_row *row,
              int64_t now, struct kdc_verdict *v, struct kdc_register_effect *e);

#endif
