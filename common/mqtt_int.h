/* mqtt_int.h: internal to common/: struct kdc_mqtt, shared by the parts of
 * the MQTT layer (as libuv's uv-common.h is):
 *   mqtt.c        the state machine, Paho's callbacks, publish and subscribe
 *   mqtt_nagle.c  TCP_NODELAY on our sockets, off while a stream arrives
 *   mqtt_diag.c   why a connect failed, in plain words
 * Everyone else uses kdc_mqtt.h. */
#ifndef KDC_MQTT_INT_H
#define KDC_MQTT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <MQTTAsync.h>

#include "kdc_mqtt.h"

enum mqtt_state { MQTT_DOWN, MQTT_CONNECTING, MQTT_UP };

#define MQTT_BACKOFF_MIN_MS 250
#define MQTT_BACKOFF_MAX_MS 5000 /* a TCP SYN every 5 s costs nothing offline */
#define MQTT_MAX_SUBS 16
#define MQTT_MAX_BUFFERED 20000
/* A stream of messages (a backlog being drained) switches Nagle back on: this
 * many messages within this long make a stream, and a pause this long ends
 * it (see mqtt__nodelay_all). */
#define MQTT_STREAM_MSGS 256
#define MQTT_STREAM_MS 20
#define MQTT_QUIET_MS 2
#define MQTT_MAX_FDS 8

struct mqtt_sub {
	char *filter;
	int qos;
	/* the broker's answer to the last SUBSCRIBE (Paho's threads write):
	 * 0 none yet, 1 granted, -1 refused; reset at each connect */
	_Atomic int answer;
	_Atomic int64_t answer_ms;     /* kdc_mono_ms of that answer */
	int dropped;                   /* kdc_mqtt_drop_sub: not made again */
};

/* A QoS>0 publish handed to Paho, until Paho answers for it. */
struct mqtt_pub_ctx {
	struct mqtt_pub_ctx *prev, *next;
	kdc_mqtt *m;
	kdc_mqtt_publish_cb cb;        /* may be NULL */
	void *ud;
	char topic[];                  /* to name it when the broker refuses it */
};

struct kdc_mqtt {
	MQTTAsync client;
	struct kdc_mqtt_conf conf;     /* owned copies */
	struct kdc_mqtt_callbacks cbs;
	kdc_mqtt_message_cb on_retained; /* NULL: retained go to cbs.on_message */
	char *will_topic;
	char *will_payload;

	pthread_mutex_t lock;          /* guards subs (read on Paho's thread), fds, pubs */
	struct mqtt_pub_ctx pubs;      /* list head: publishes Paho has not answered */
	struct mqtt_sub subs[MQTT_MAX_SUBS];
	int nsubs;
	int fds[MQTT_MAX_FDS];         /* the TCP sockets set NODELAY at connect */
	int nfds;

	/* stream detection: rx_* on Paho's receive thread only */
	int64_t rx_t0;
	unsigned rx_n;
	_Atomic int64_t rx_last_ms;
	_Atomic int streaming;         /* 1: Nagle on while a stream arrives */

	_Atomic int state;
	_Atomic int version;           /* protocol of the current client: 5 or 4 */
	_Atomic int negotiated;        /* 5 or 4 once connected, else 0 */
	_Atomic int failed;            /* set by onFailure, read by tick */
	_Atomic int lost;              /* set by connectionLost: tick replaces the client */
	int auto_version;              /* "auto": switch on failure until one works */
	int version_locked;            /* a connect worked: keep that version */
	int64_t next_attempt_ms;
	int64_t backoff_ms;

	/* the last connect failure as Paho gave it: Paho's threads, under lock */
	int fail_code, fail_reason;
	char fail_msg[128];
	char ssl_err[256];             /* OpenSSL's last error (ssl_error_cb) */
	/* refused publishes, logged once per topic and minute: under lock */
	char refused_topic[256];
	int64_t refused_log_ms;
	/* owner thread */
	int cause;                     /* kdc_mqtt_cause */
	char cause_msg[768];
	int logged_cause;              /* the cause last logged, 0 = none since connected */
};

/* mqtt_nagle.c. nodelay_all: after a connect, NODELAY on every TCP socket
 * (Paho's thread); apply_nodelay: the remembered sockets to what
 * m->streaming asks (any thread); stream_rx: per message received (Paho's
 * receive thread); stream_check: each tick (owner thread). */
void kdc_mqtt__nodelay_all(kdc_mqtt *m);
void kdc_mqtt__apply_nodelay(kdc_mqtt *m);
void kdc_mqtt__stream_rx(kdc_mqtt *m);
void kdc_mqtt__stream_check(kdc_mqtt *m, int64_t now);

#endif
