/* producer.h: the device library (kdc_producer): a durable outbox plus the MQTT
 * side of the delivery contract (DESIGN.md "Delivery").
 *
 *   record  -> the event is validated and written to the device's SQLite
 *              outbox before anything else; works with no broker at all.
 *   publish -> pending events go out at QoS 1 on
 *              kdc/v1/{ward}/events/{team}/{device}, in seq order, with at most
 *              `window` publishes awaiting the broker's ack; an event with no
 *              receipt is published again after `resend-after` seconds, when
 *              its publish failed (the connection broke before the broker
 *              acknowledged it), and after a reconnect that found the broker
 *              without our session (it may have lost what it acknowledged).
 *              The aggregator stores each id once.
 *   receipt -> kdc.v1.Receipt on kdc/v1/{ward}/receipts/{device} (QoS 1,
 *              persistent session, so receipts wait for us while we are away):
 *              committed ids leave the outbox, rejected ones stay with the
 *              reason (state 2) and are not sent again.
 *
 * Threads and ownership:
 *  - A kdc_producer has one owner thread: every function below must be called
 *    from it (it owns the SQLite connection). Paho's threads only copy
 *    receipts into a mutex-protected queue and count acks; all SQLite work
 *    happens in kdc_producer_poll/run/sync on the owner thread.
 *  - Several producers may live in one process (a simulator), each with its
 *    own outbox file and client id; one thread may own several of them and
 *    poll each in turn with timeout 0.
 *  - Callbacks given here run on the owner thread, inside the call that
 *    invokes them.
 *  - Strings in the conf are copied by kdc_producer_new; the caller keeps
 *    ownership of its conf (free it with kdc_conf_free(kdc_producer_opts, c)).
 */
#ifndef KDC_PRODUCER_H
#define KDC_PRODUCER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kdc_conf.h"
#include "kdc_mqtt.h"
#include "kdc_proto.h"
#include "outbox.h"

struct kdc_producer_conf {
	struct kdc_mqtt_conf mqtt;   /* client-id NULL/"" = kdc-dev-{device} */
	char *ward;                  /* ward code, e.g. 31975 */
	char *team;                  /* team code, e.g. T1 */
	char *device;                /* device code, e.g. D1 */
	char *outbox;                /* SQLite file path */
	long long resend_after;      /* seconds without receipt before republishing */
	long long window;            /* publishes awaiting the broker's ack */
	int utc_offset_min;          /* the ward's local time (kdc-event --at without offset) */
	long long history_days;      /* stored events kept for corrections (0 = none) */
};

/* Option rows for the fields above, to splice into a program's table
 * (m = the member holding a struct kdc_producer_conf). */
#define KDC_PRODUCER_OPTS(type, m) \
	KDC_MQTT_OPTS(type, m.mqtt), \
	KDC_OPT(type, "ward", KDC_OPT_STR, m.ward, 0, 0, NULL, "ward code (administrative-unit code, e.g. 31975)"), \
	KDC_OPT(type, "team", KDC_OPT_STR, m.team, 0, 0, NULL, "team code (letters, digits, _ or -)"), \
	KDC_OPT(type, "device", KDC_OPT_STR, m.device, 0, 0, NULL, "this device's code (letters, digits, _ or -)"), \
	KDC_OPT(type, "outbox", KDC_OPT_PATH, m.outbox, 0, 0, NULL, "outbox file (SQLite) holding events until the server has them (default: $XDG_DATA_HOME/kdc/outbox-DEVICE.db, else ~/.local/share/kdc/outbox-DEVICE.db; a relative path in a config file is taken from its folder)"), \
	KDC_OPT(type, "resend-after", KDC_OPT_INT, m.resend_after, 1, 86400, "30", "seconds without a receipt before an event is sent again"), \
	KDC_OPT(type, "window", KDC_OPT_INT, m.window, 1, 1000, "100", "events sent but not yet acknowledged by the broker, at most"), \
	KDC_OPT(type, "utc-offset", KDC_OPT_OFFSET, m.utc_offset_min, 0, 0, "+07:00", "the ward's local time, as the ward profile's utc_offset: a time typed without an offset is taken as this"), \
	KDC_OPT(type, "history-days", KDC_OPT_INT, m.history_days, 0, 3650, "60", "days this device keeps the events the server has stored, to void or amend them and for 'kdc-event history' (0 = none)")

/* The same rows for a bare struct kdc_producer_conf (defaults, free). */
extern const struct kdc_opt kdc_producer_opts[];

/* Counters since kdc_producer_new (all owner-thread snapshots). */
struct kdc_producer_stats {
	int64_t recorded;     /* events recorded through this producer */
	int64_t published;    /* publishes handed to MQTT, resends included */
	int64_t acked;        /* of those, acknowledged by the broker */
	int64_t receipts;     /* receipt messages applied */
	int64_t committed;    /* events receipted as stored (left the outbox) */
	int64_t rejected;     /* events receipted as refused (state 2) */
	int64_t pending;      /* pending rows at the last count (-1 before any;
	                         during a sync, of the events it started with) */
	int64_t connects;     /* successful connects */
	int inflight;         /* publishes awaiting ack now */
	int connected;        /* 1 while connected */
};

typedef struct kdc_producer kdc_producer;

/* Progress of kdc_producer_sync, on the owner thread, about every 250 ms
 * and once at the end. */
typedef void (*kdc_producer_progress_cb)(void *ud, const struct kdc_producer_stats *s);

/* Checks a conf in plain words (codes valid, outbox set, mqtt-version known).
 * need_identity: ward/team/device must be set (recording and syncing need
 * them; listing the outbox does not). 0 or KDC_ERR_CONFIG with err. */
int kdc_producer_check_conf(const struct kdc_producer_conf *conf, int need_identity,
                            char *err, size_t errlen);

/* Opens the outbox, sets its history-days and purges the history; no
 * network yet. Returns NULL with a reason in err. */
kdc_producer *kdc_producer_new(const struct kdc_producer_conf *conf, char *err, size_t errlen);
/* Flushes what it can, disconnects gracefully (no will), frees. NULL is fine. */
void kdc_producer_free(kdc_producer *p);

/* The producer's outbox (owned by it), for listings and for batches:
 * kdc_outbox_begin / kdc_producer_record... / kdc_outbox_commit. Commit a
 * batch before the next poll: receipts need their own transaction. */
kdc_outbox *kdc_producer_outbox(kdc_producer *p);

/* Records an event: sets ward, team and device from the conf (a device
 * publishes only as itself), occurred_ms to now when it is 0, then
 * kdc_outbox_record (id, seq, validation, insert). The caller fills khom,
 * household, member and the body. On success id holds the event id and
 * ev->id points at it. KDC_ERR_INVAL with the reason in v when refused. */
int kdc_producer_record(kdc_producer *p, kdc_event_pb *ev, uint8_t id[KDC_UUID_LEN],
                        struct kdc_verdict *v);

/* kdc_producer_record for evs[0..n), all in one outbox transaction: all
 * recorded, or none (kdc_outbox_record_all). ids[i] gets evs[i]'s id. */
int kdc_producer_record_all(kdc_producer *p, kdc_event_pb *const *evs, size_t n,
                            uint8_t (*ids)[KDC_UUID_LEN], struct kdc_verdict *v);

/* Creates the MQTT client and its receipts subscription; connecting then
 * happens in poll (with backoff, forever). 0, or KDC_ERR_CONFIG/MQTT with err.
 * Calling it again is a no-op. */
int kdc_producer_connect(kdc_producer *p, char *err, size_t errlen);

/* One round of work: drives the connection, applies queued receipts (one
 * transaction), publishes what the window allows, and then waits up to
 * timeout_ms for something to do (0 = do not wait). Connects first if
 * kdc_producer_connect was not called. 0, or KDC_ERR_DB/DISK_FULL/MQTT. */
int kdc_producer_poll(kdc_producer *p, int timeout_ms);

/* Polls until *stop becomes non-zero (set it from a signal handler). */
int kdc_producer_run(kdc_producer *p, const volatile sig_atomic_t *stop);

/* Sends the events pending when it is called and polls until every one of
 * them is receipted (0), timeout_ms passes or *stop is set (KDC_ERR_TIMEOUT;
 * stop may be NULL), or an outbox error. When it gives up for a known cause
 * (kdc_producer_cause), it returns that cause instead of KDC_ERR_TIMEOUT: at
 * once for a cause that retrying cannot fix (kdc_err_needs_fix: TLS, login),
 * at the timeout for the others (host not found, refused, topic refused). Events recorded meanwhile (by
 * another process) are neither sent nor waited for: they go with the next
 * sync, once each. Rejected events do not count as pending; the stats'
 * pending is what is left of the sync's events. progress may be NULL.
 * With kdc_producer_want_worklist it also connects when nothing is pending
 * and waits for the worklist (see kdc_producer_worklist_state); a worklist
 * that does not come by the timeout is no error when the events are done.
 * At the end the history is purged (history-days). */
int kdc_producer_sync(kdc_producer *p, int64_t timeout_ms, const volatile sig_atomic_t *stop,
                      kdc_producer_progress_cb progress, void *ud);

/* Asks for the team's worklist (kdc/v1/{ward}/worklist/{team}): call before
 * kdc_producer_connect. Each list that arrives is checked and stored in the
 * outbox file (worklist.h); kdc_producer_sync then also waits for the
 * retained list, a moment after the broker granted the subscription. */
void kdc_producer_want_worklist(kdc_producer *p);

enum kdc_producer_worklist {
	KDC_PRODUCER_WORKLIST_NONE = 0,  /* no answer yet */
	KDC_PRODUCER_WORKLIST_STORED,    /* a newer list came and is stored */
	KDC_PRODUCER_WORKLIST_SAME,      /* the list that came is the one stored */
	KDC_PRODUCER_WORKLIST_NOTHING,   /* the broker has no list for the team */
	KDC_PRODUCER_WORKLIST_REFUSED,   /* the broker refused the subscription */
	KDC_PRODUCER_WORKLIST_BAD,       /* the list that came was unreadable */
};
/* What happened to the worklist so far (enum kdc_producer_worklist). */
int kdc_producer_worklist_state(kdc_producer *p);

/* Why events do not get through now, or 0: KDC_ERR_TOPIC_REFUSED (or
 * KDC_ERR_BUSY) while the broker refuses our publishes, else while not
 * connected the connect failure's cause (kdc_mqtt_cause). msg gets the
 * plain-words message naming what to check. */
int kdc_producer_cause(kdc_producer *p, char *msg, size_t len);

/* Counts pending rows now (a query) and stores it in the stats too. */
int kdc_producer_pending(kdc_producer *p, int64_t *n);
/* Current counters. */
void kdc_producer_stats(kdc_producer *p, struct kdc_producer_stats *out);
/* 1 while connected to the broker. */
int kdc_producer_connected(kdc_producer *p);

#endif
