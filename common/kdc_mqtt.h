/* kdc_mqtt.h: the MQTT client every kdc program uses, a thin layer over Paho
 * MQTTAsync that adds what all of them need the same way:
 *
 *  - MQTT 5 or 3.1.1 ("auto" tries 5, falls back to 3.1.1 when refused, and
 *    keeps whichever worked), persistent session (v3 cleansession=0, v5
 *    cleanstart=0 with a session expiry), TLS and username/password;
 *  - connecting and reconnecting with backoff, driven by kdc_mqtt_tick() from
 *    the owner's thread (Paho does not retry a failed first connect);
 *  - subscriptions remembered and renewed after every connect;
 *  - no Paho persistence: kdc keeps its own outboxes and receipts.
 *
 * Threads: kdc_mqtt_new/free/tick/subscribe/publish must be called from one
 * owner thread (tick replaces the Paho client after a lost connection), and
 * never while holding a lock that a callback also takes (Paho calls callbacks
 * with its own global mutex held: library mutex -> your mutex is the only
 * safe order).
 * All callbacks run on Paho's threads with that mutex held: they must be
 * quick (copy and hand off; no SQLite commit, no sleeping). */
#ifndef KDC_MQTT_H
#define KDC_MQTT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kdc_conf.h"

struct kdc_mqtt_conf {
	char *broker;        /* tcp://127.0.0.1:1883, ssl://host:8883, ws://, wss:// */
	char *client_id;     /* stable: the persistent session is keyed by it */
	char *username;      /* NULL or "" for none */
	char *password;
	char *ca_file;       /* TLS: CA certificate (PEM); NULL = system store */
	char *cert_file;     /* TLS: optional client certificate */
	char *key_file;      /* TLS: its private key */
	char *mqtt_version;  /* "auto" (default), "5" or "3.1.1" */
	long long keepalive; /* seconds */
	long long session_expiry; /* v5 session expiry in seconds */
	int clean_session;   /* 1 for viewers: no session is kept on the broker
	                        (v3 cleansession=1, v5 cleanstart=1 and expiry 0);
	                        not an option-table field: programs set it */
};

/* Option-table rows for the fields above, to splice into a program's table
 * with KDC_MQTT_OPTS(struct_type, member_name). */
#define KDC_MQTT_OPTS(type, m) \
	KDC_OPT(type, "broker", KDC_OPT_STR, m.broker, 0, 0, "tcp://127.0.0.1:1883", "broker URL (tcp:// or ssl://)"), \
	KDC_OPT(type, "client-id", KDC_OPT_STR, m.client_id, 0, 0, NULL, "MQTT client id (keep it stable: the session is keyed by it)"), \
	KDC_OPT(type, "username", KDC_OPT_STR, m.username, 0, 0, NULL, "MQTT username"), \
	KDC_OPT(type, "password", KDC_OPT_STR, m.password, 0, 0, NULL, "MQTT password (prefer the config file, mode 0600)"), \
	KDC_OPT(type, "ca-file", KDC_OPT_PATH, m.ca_file, 0, 0, NULL, "CA certificate for TLS (PEM)"), \
	KDC_OPT(type, "cert-file", KDC_OPT_PATH, m.cert_file, 0, 0, NULL, "client certificate for TLS (PEM)"), \
	KDC_OPT(type, "key-file", KDC_OPT_PATH, m.key_file, 0, 0, NULL, "client key for TLS (PEM)"), \
	KDC_OPT(type, "mqtt-version", KDC_OPT_STR, m.mqtt_version, 0, 0, "auto", "auto, 5 or 3.1.1"), \
	KDC_OPT(type, "keepalive", KDC_OPT_INT, m.keepalive, 5, 3600, "30", "MQTT keepalive in seconds"), \
	KDC_OPT(type, "session-expiry", KDC_OPT_INT, m.session_expiry, 0, 4294967295LL, "604800", "MQTT 5 session expiry in seconds")

typedef struct kdc_mqtt kdc_mqtt;

/* A message arrived. topic and payload are valid only during the call. Runs on
 * Paho's receive thread; for QoS 1 the PUBACK goes out after it returns. */
typedef void (*kdc_mqtt_message_cb)(void *ud, const char *topic,
                                     const void *payload, size_t len);
/* Connected (1, with session_present 0/1) or connection lost (0). */
typedef void (*kdc_mqtt_connection_cb)(void *ud, int connected, int session_present);
/* A QoS>0 publish was acknowledged (rc KDC_OK), refused by the broker
 * (KDC_ERR_TOPIC_REFUSED: MQTT 5 PUBACK reason 135, not authorised;
 * KDC_ERR_BUSY: another PUBACK reason of 128 or more, e.g. quota exceeded), or
 * not delivered (KDC_ERR_MQTT: the connection was lost first). A refusal is
 * also logged by kdc_mqtt (once per topic and minute). Under MQTT 3.1.1 a
 * broker cannot refuse a publish: mosquitto 2.0 acknowledges a publish its
 * ACL denies like any other and drops it. */
typedef void (*kdc_mqtt_publish_cb)(void *ud, int rc);

struct kdc_mqtt_callbacks {
	kdc_mqtt_message_cb on_message;
	kdc_mqtt_connection_cb on_connection;
	void *ud;
};

/* Creates a client (does not connect). The conf strings are copied. Will is
 * optional: will_topic NULL for none. Returns NULL and a reason in err. */
kdc_mqtt *kdc_mqtt_new(const struct kdc_mqtt_conf *conf,
                       const struct kdc_mqtt_callbacks *cbs,
                       char *err, size_t errlen);

/* Optional: messages delivered with the retain flag (from the broker's
 * store of retained messages, not published just now) go to cb instead of
 * on_message; same thread and rules as on_message. Call before the first
 * tick. */
void kdc_mqtt_set_retained_cb(kdc_mqtt *m, kdc_mqtt_message_cb cb);

/* Sets the last will (retained, QoS 1). Call before the first tick. */
int kdc_mqtt_set_will(kdc_mqtt *m, const char *topic, const char *payload);

/* Adds a subscription that is (re)made on every connect. Call any time from
 * the owner thread. */
int kdc_mqtt_subscribe(kdc_mqtt *m, const char *topic_filter, int qos);

/* The broker's answer to the latest SUBSCRIBE of filter (made at each
 * connect): 0 none yet (or not subscribed), 1 granted, -1 refused; *at_ms
 * (may be NULL) gets the kdc_mono_ms() of the answer. A retained message
 * on the filter follows the grant on the same connection. Any thread. */
int kdc_mqtt_sub_answer(kdc_mqtt *m, const char *filter, int64_t *at_ms);

/* Stops making the subscription to filter at each connect, for one the
 * broker refused: some brokers (RabbitMQ) close the connection on a refused
 * SUBSCRIBE, so asking again at every reconnect would keep the client from
 * ever staying connected. Owner thread. */
void kdc_mqtt_drop_sub(kdc_mqtt *m, const char *filter);

/* Drives connecting/reconnecting. Cheap; call at least every 100 ms or so. */
void kdc_mqtt_tick(kdc_mqtt *m);

/* Why the last connect failed, as a cause of kdc_err.h (KDC_ERR_HOST_NOT_FOUND
 * .. KDC_ERR_BROKER_REFUSED, or KDC_ERR_MQTT when no cause was found); 0
 * before any failure and after each successful connect. msg (may be NULL)
 * gets the plain-words message naming what to check, as logged: kdc_mqtt
 * logs it at warning level once per change of cause, not every retry.
 * Owner thread. */
int kdc_mqtt_cause(const kdc_mqtt *m, char *msg, size_t len);

/* For a program that gives up on the broker (a command-line tool): 0 while
 * connected, before any failure, or while retrying may still help; else the
 * exit status of the cause (kdc_err_exit_status), with its message in msg. A
 * cause that retrying cannot fix (kdc_err_needs_fix) counts at once, the
 * others once the caller's time is up (timed_out). Owner thread. */
int kdc_mqtt_give_up(const kdc_mqtt *m, int timed_out, char *msg, size_t len);

/* 1 if connected now. */
int kdc_mqtt_connected(const kdc_mqtt *m);
/* Negotiated protocol: 5 or 4 (3.1.1); 0 before the first connect. */
int kdc_mqtt_version(const kdc_mqtt *m);

/* Publishes. cb (may be NULL) is called once, when the broker acknowledged
 * (QoS 1, on a Paho thread) or the send failed (on a Paho thread, or on the
 * owner thread inside kdc_mqtt_tick/kdc_mqtt_free for publishes still pending
 * when the connection was lost); it is NOT called when this function itself
 * returns an error. Returns 0, KDC_ERR_NOT_CONNECTED, or
 * KDC_ERR_BUSY (Paho's buffer full: retry later), or KDC_ERR_MQTT. */
int kdc_mqtt_publish(kdc_mqtt *m, const char *topic, const void *payload, size_t len,
                     int qos, int retain, kdc_mqtt_publish_cb cb, void *cb_ud);

/* Disconnects gracefully (waits up to timeout_ms for in-flight work), so that
 * no will is sent. Safe when not connected. */
void kdc_mqtt_disconnect(kdc_mqtt *m, int timeout_ms);

/* Disconnects if needed and frees everything. NULL is fine. */
void kdc_mqtt_free(kdc_mqtt *m);

/* Logs Paho's own trace at the given kdc level and up (debugging). */
void kdc_mqtt_trace(int enable);

#endif
