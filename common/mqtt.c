/* mqtt.c: kdc's layer over Paho MQTTAsync. See kdc_mqtt.h for the contract.
 *
 * State machine, owned by the owner thread through kdc_mqtt_tick():
 *   DOWN --tick, retry time reached--> CONNECTING --onSuccess--> UP
 *   CONNECTING --onFailure--> DOWN (backoff doubles up to MQTT_BACKOFF_MAX_MS)
 *   UP --connectionLost--> DOWN; the next tick replaces the Paho client with a
 *     fresh one and connects again at once
 * Paho's callbacks only flip the state and call the user's callbacks; the
 * client itself is created, recreated (auto version switch, lost connection)
 * and destroyed only by the owner thread.
 *
 * A failed connect is classified on the owner thread, in tick: the broker's
 * CONNACK refusal when there was one, else what mqtt_diag.c finds on the way
 * (DNS, TCP, TLS). The cause's plain message is logged once per change of
 * cause, however often the connect is retried.
 *
 * Why a fresh client after every lost connection: Paho 1.3 keeps the
 * in-flight publishes of a persistent session and writes them again after
 * the reconnect, and when connections are torn in the middle of a packet
 * (a mobile link) it now and then sends a corrupted PUBLISH then, or crashes
 * (tests/fault, proxy_cut). kdc needs none of that state: the outbox and the
 * receipts carry the guarantee, so each publish still pending on the old
 * client is reported failed and the caller sends it again. The broker's
 * session (subscriptions, queued messages for us) is keyed by the client id
 * and is not affected. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_mqtt.h"
#include "kdc_util.h"
#include "mqtt_diag.h"
#include "mqtt_int.h"

static int mqtt__is_tls(const char *uri)
{
	return strncmp(uri, "ssl://", 6) == 0 || strncmp(uri, "wss://", 6) == 0 ||
	       strncmp(uri, "mqtts://", 8) == 0;
}

/* ---- Paho callbacks (Paho's threads, library mutex held) ---------------- */

static void mqtt__sub_answer(struct mqtt_sub *sub, int granted)
{
	atomic_store(&sub->answer_ms, kdc_mono_ms());
	atomic_store(&sub->answer, granted ? 1 : -1);
	if (!granted)
		kdc_warn("mqtt: the broker refused the subscription to %s (not authorised?)",
		         sub->filter);
}

/* A SUBACK: a granted QoS of 0x80 (3.1.1) or a reason of 0x80 and up (5) is
 * a refusal; Paho gives those to the failure callbacks, or to the success
 * ones with the code. */
static void mqtt__on_sub(void *ctx, MQTTAsync_successData *resp)
{
	mqtt__sub_answer(ctx, !(resp && resp->alt.qos >= 0x80));
}
static void mqtt__on_sub5(void *ctx, MQTTAsync_successData5 *resp)
{
	mqtt__sub_answer(ctx, !(resp && resp->reasonCode >= 0x80));
}
static void mqtt__on_sub_fail(void *ctx, MQTTAsync_failureData *resp)
{
	(void)resp;
	mqtt__sub_answer(ctx, 0);
}
static void mqtt__on_sub_fail5(void *ctx, MQTTAsync_failureData5 *resp)
{
	(void)resp;
	mqtt__sub_answer(ctx, 0);
}

/* Response options that note the broker's answer in sub. */
static MQTTAsync_responseOptions mqtt__sub_options(kdc_mqtt *m, struct mqtt_sub *sub)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	atomic_store(&sub->answer, 0);
	ro.context = sub;
	if (atomic_load(&m->version) == 5) {
		ro.onSuccess5 = mqtt__on_sub5;
		ro.onFailure5 = mqtt__on_sub_fail5;
	} else {
		ro.onSuccess = mqtt__on_sub;
		ro.onFailure = mqtt__on_sub_fail;
	}
	return ro;
}

static void mqtt__subscribe_all(kdc_mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->nsubs; i++) {
		MQTTAsync_responseOptions ro;
		int rc;

		if (m->subs[i].dropped)
			continue;
		ro = mqtt__sub_options(m, &m->subs[i]);
		rc = MQTTAsync_subscribe(m->client, m->subs[i].filter, m->subs[i].qos, &ro);
		if (rc != MQTTASYNC_SUCCESS)
			kdc_warn("mqtt: subscribe to %s failed: %s", m->subs[i].filter,
			         MQTTAsync_strerror(rc));
	}
	pthread_mutex_unlock(&m->lock);
}

static void mqtt__connected(kdc_mqtt *m, int session_present)
{

	kdc_mqtt__nodelay_all(m);
	atomic_store(&m->negotiated, atomic_load(&m->version));
	atomic_store(&m->state, MQTT_UP);
	kdc_info("mqtt: connected to %s as %s (MQTT %s, session %s)", m->conf.broker,
	         m->conf.client_id, atomic_load(&m->version) == 5 ? "5" : "3.1.1",
	         session_present ? "resumed" : "new");
	mqtt__subscribe_all(m);
	if (m->cbs.on_connection)
		m->cbs.on_connection(m->cbs.ud, 1, session_present);
}

static void mqtt__on_connect(void *ctx, MQTTAsync_successData *resp)
{
	mqtt__connected(ctx, resp ? resp->alt.connect.sessionPresent : 0);
}

static void mqtt__on_connect5(void *ctx, MQTTAsync_successData5 *resp)
{
	mqtt__connected(ctx, resp ? resp->alt.connect.sessionPresent : 0);
}

/* Keeps what Paho said for tick to classify (mqtt__classify). */
static void mqtt__failed(kdc_mqtt *m, int code, int reason, const char *msg)
{
	pthread_mutex_lock(&m->lock);
	m->fail_code = code;
	m->fail_reason = reason;
	snprintf(m->fail_msg, sizeof m->fail_msg, "%s", msg ? msg : "");
	pthread_mutex_unlock(&m->lock);
	kdc_debug("mqtt: connect to %s failed: %s%s%s (code %d, reason %d)", m->conf.broker,
	          MQTTAsync_strerror(code), msg ? ": " : "", msg ? msg : "", code, reason);
	atomic_store(&m->failed, 1);
	atomic_store(&m->state, MQTT_DOWN);
}

/* Paho's ssl_error_cb: OpenSSL's error queue, one line per call. */
static int mqtt__ssl_error(const char *str, size_t len, void *u)
{
	kdc_mqtt *m = u;

	while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
		len--;
	pthread_mutex_lock(&m->lock);
	snprintf(m->ssl_err, sizeof m->ssl_err, "%.*s", (int)(len < 255 ? len : 255), str);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mqtt__on_connect_fail(void *ctx, MQTTAsync_failureData *resp)
{
	mqtt__failed(ctx, resp ? resp->code : -1, 0, resp ? resp->message : NULL);
}

static void mqtt__on_connect_fail5(void *ctx, MQTTAsync_failureData5 *resp)
{
	mqtt__failed(ctx, resp ? resp->code : -1, resp ? (int)resp->reasonCode : 0,
	             resp ? resp->message : NULL);
}

static void mqtt__connection_lost(void *ctx, char *cause)
{
	kdc_mqtt *m = ctx;

	kdc_warn("mqtt: connection to %s lost%s%s; reconnecting", m->conf.broker,
	         cause ? ": " : "", cause ? cause : "");
	atomic_store(&m->lost, 1);
	atomic_store(&m->state, MQTT_DOWN);
	if (m->cbs.on_connection)
		m->cbs.on_connection(m->cbs.ud, 0, 0);
	if (cause)
		MQTTAsync_free(cause);
}

static int mqtt__message_arrived(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	kdc_mqtt *m = ctx;

	(void)topic_len; /* Paho NUL-terminates topics; an embedded NUL just cuts it short */
	kdc_mqtt__stream_rx(m);
	if (msg->retained && m->on_retained)
		m->on_retained(m->cbs.ud, topic, msg->payload, (size_t)msg->payloadlen);
	else if (m->cbs.on_message)
		m->cbs.on_message(m->cbs.ud, topic, msg->payload, (size_t)msg->payloadlen);
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void mqtt__pub_unlink(struct mqtt_pub_ctx *pc)
{
	pthread_mutex_lock(&pc->m->lock);
	pc->prev->next = pc->next;
	pc->next->prev = pc->prev;
	pthread_mutex_unlock(&pc->m->lock);
}

/* A publish the broker refused: said once per topic and minute (a daemon
 * may publish thousands a second to one refused topic). Paho's thread. */
static void mqtt__log_refused(kdc_mqtt *m, const char *topic, int reason)
{
	int64_t now = kdc_mono_ms();
	int say;

	pthread_mutex_lock(&m->lock);
	say = strcmp(topic, m->refused_topic) != 0 || now - m->refused_log_ms >= 60000;
	if (say) {
		snprintf(m->refused_topic, sizeof m->refused_topic, "%s", topic);
		m->refused_log_ms = now;
	}
	pthread_mutex_unlock(&m->lock);
	if (!say)
		return;
	if (reason == MQTTREASONCODE_NOT_AUTHORIZED)
		kdc_warn("mqtt: topic refused: the broker %s does not let user '%s' publish on %s "
		         "(not authorised): check the ward, team and device codes in the config "
		         "against the broker's ACL and accounts (kdc-ward list-devices on the server)",
		         m->conf.broker, m->conf.username ? m->conf.username : "", topic);
	else
		kdc_warn("mqtt: the broker %s refused a publish on %s: %s (reason %d)", m->conf.broker,
		         topic, MQTTReasonCode_toString((enum MQTTReasonCodes)reason), reason);
}

static void mqtt__pub_done(struct mqtt_pub_ctx *pc, int rc)
{
	mqtt__pub_unlink(pc);
	if (pc->cb)
		pc->cb(pc->ud, rc);
	free(pc);
}

static void mqtt__on_pub(void *ctx, MQTTAsync_successData *resp) { mqtt__pub_done(ctx, KDC_OK); }
static void mqtt__on_pub5(void *ctx, MQTTAsync_successData5 *resp) { mqtt__pub_done(ctx, KDC_OK); }
static void mqtt__on_pub_fail(void *ctx, MQTTAsync_failureData *resp)
{
	mqtt__pub_done(ctx, KDC_ERR_MQTT);
}

/* An MQTT 5 PUBACK with a reason of 128 or more comes here too. */
static void mqtt__on_pub_fail5(void *ctx, MQTTAsync_failureData5 *resp)
{
	struct mqtt_pub_ctx *pc = ctx;
	int reason = resp ? (int)resp->reasonCode : 0;

	if (reason < 0x80) {
		mqtt__pub_done(pc, KDC_ERR_MQTT);
		return;
	}
	mqtt__log_refused(pc->m, pc->topic, reason);
	mqtt__pub_done(pc, reason == MQTTREASONCODE_NOT_AUTHORIZED ? KDC_ERR_TOPIC_REFUSED
	                                                             : KDC_ERR_BUSY);
}

/* ---- owner thread ------------------------------------------------------- */

static int mqtt__create(kdc_mqtt *m, char *err, size_t errlen)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	co.MQTTVersion = atomic_load(&m->version) == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	co.sendWhileDisconnected = 0;
	co.maxBufferedMessages = MQTT_MAX_BUFFERED;
	rc = MQTTAsync_createWithOptions(&m->client, m->conf.broker, m->conf.client_id,
	                                 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "cannot create MQTT client for %s: %s", m->conf.broker,
		         MQTTAsync_strerror(rc));
		m->client = NULL;
		return KDC_ERR_MQTT;
	}
	rc = MQTTAsync_setCallbacks(m->client, m, mqtt__connection_lost,
	                            mqtt__message_arrived, NULL);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "cannot set MQTT callbacks: %s", MQTTAsync_strerror(rc));
		MQTTAsync_destroy(&m->client);
		m->client = NULL;
		return KDC_ERR_MQTT;
	}
	return KDC_OK;
}

/* Destroys the Paho client (owner thread, not under m->lock: Paho takes its
 * own mutex first) and reports every publish it had not answered as failed.
 * After MQTTAsync_destroy no Paho thread touches those contexts any more. */
static void mqtt__destroy_client(kdc_mqtt *m)
{
	struct mqtt_pub_ctx *pc;
	int n = 0;

	if (!m->client)
		return;
	MQTTAsync_destroy(&m->client);
	m->client = NULL;
	pthread_mutex_lock(&m->lock);
	m->nfds = 0; /* its sockets are closed: the numbers may be reused */
	pthread_mutex_unlock(&m->lock);
	for (;;) {
		pthread_mutex_lock(&m->lock);
		pc = m->pubs.next != &m->pubs ? m->pubs.next : NULL;
		pthread_mutex_unlock(&m->lock);
		if (!pc)
			break;
		mqtt__pub_done(pc, KDC_ERR_MQTT);
		n++;
	}
	if (n > 0)
		kdc_debug("mqtt: %d publish(es) of the lost connection reported failed", n);
}

/* A fresh client in place of the current one (version switch, lost
 * connection). Logs and leaves m->client NULL on failure: tick retries. */
static void mqtt__recreate(kdc_mqtt *m)
{
	char err[256];

	mqtt__destroy_client(m);
	if (mqtt__create(m, err, sizeof err) != KDC_OK)
		kdc_error("mqtt: %s", err);
}

static int mqtt__start_connect(kdc_mqtt *m)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTAsync_connectOptions *o;
	int v5 = atomic_load(&m->version) == 5;
	int rc;

	if (v5) {
		MQTTProperty p;
		o = &co5;
		o->cleanstart = m->conf.clean_session;
		p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
		p.value.integer4 = m->conf.clean_session ? 0 : (unsigned int)m->conf.session_expiry;
		if (MQTTProperties_add(&props, &p) != 0)
			return KDC_ERR_MQTT;
		o->connectProperties = &props;
		o->onSuccess5 = mqtt__on_connect5;
		o->onFailure5 = mqtt__on_connect_fail5;
	} else {
		o = &co;
		o->cleansession = m->conf.clean_session;
		o->MQTTVersion = MQTTVERSION_3_1_1;
		o->onSuccess = mqtt__on_connect;
		o->onFailure = mqtt__on_connect_fail;
	}
	o->context = m;
	o->keepAliveInterval = (int)m->conf.keepalive;
	o->connectTimeout = 10;
	o->automaticReconnect = 0; /* tick() does it, with our own backoff */
	o->maxInflight = 1000;
	if (m->conf.username && *m->conf.username) {
		o->username = m->conf.username;
		o->password = m->conf.password;
	}
	if (m->will_topic) {
		will.topicName = m->will_topic;
		will.message = m->will_payload;
		will.retained = 1;
		will.qos = 1;
		o->will = &will;
	}
	if (mqtt__is_tls(m->conf.broker)) {
		ssl.trustStore = m->conf.ca_file && *m->conf.ca_file ? m->conf.ca_file : NULL;
		ssl.keyStore = m->conf.cert_file && *m->conf.cert_file ? m->conf.cert_file : NULL;
		ssl.privateKey = m->conf.key_file && *m->conf.key_file ? m->conf.key_file : NULL;
		ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		ssl.ssl_error_cb = mqtt__ssl_error;
		ssl.ssl_error_context = m;
		o->ssl = &ssl;
	}
	atomic_store(&m->failed, 0);
	atomic_store(&m->state, MQTT_CONNECTING);
	rc = MQTTAsync_connect(m->client, o);
	MQTTProperties_free(&props); /* Paho copied them */
	if (rc != MQTTASYNC_SUCCESS) {
		atomic_store(&m->state, MQTT_DOWN);
		atomic_store(&m->failed, 1);
		kdc_warn("mqtt: connect to %s refused at once: %s", m->conf.broker,
		         MQTTAsync_strerror(rc));
		return KDC_ERR_MQTT;
	}
	return KDC_OK;
}

kdc_mqtt *kdc_mqtt_new(const struct kdc_mqtt_conf *conf,
                       const struct kdc_mqtt_callbacks *cbs, char *err, size_t errlen)
{
	kdc_mqtt *m;
	const char *ver = conf->mqtt_version ? conf->mqtt_version : "auto";

	if (!conf->broker || !*conf->broker) {
		snprintf(err, errlen, "no broker URL given");
		return NULL;
	}
	if (!conf->client_id || !*conf->client_id) {
		snprintf(err, errlen, "no MQTT client id given");
		return NULL;
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->pubs.next = m->pubs.prev = &m->pubs;
	if (strcmp(ver, "5") == 0) {
		atomic_store(&m->version, 5);
	} else if (strcmp(ver, "3.1.1") == 0 || strcmp(ver, "4") == 0) {
		atomic_store(&m->version, 4);
	} else if (strcmp(ver, "auto") == 0) {
		atomic_store(&m->version, 5);
		m->auto_version = 1;
	} else {
		snprintf(err, errlen, "mqtt-version must be auto, 5 or 3.1.1, got '%s'", ver);
		goto fail;
	}
	m->conf.broker = kdc_strdup(conf->broker);
	m->conf.client_id = kdc_strdup(conf->client_id);
	m->conf.username = kdc_strdup(conf->username);
	m->conf.password = kdc_strdup(conf->password);
	m->conf.ca_file = kdc_strdup(conf->ca_file);
	m->conf.cert_file = kdc_strdup(conf->cert_file);
	m->conf.key_file = kdc_strdup(conf->key_file);
	m->conf.mqtt_version = kdc_strdup(ver);
	m->conf.keepalive = conf->keepalive > 0 ? conf->keepalive : 30;
	m->conf.session_expiry = conf->session_expiry;
	m->conf.clean_session = conf->clean_session ? 1 : 0;
	if (!m->conf.broker || !m->conf.client_id || !m->conf.mqtt_version) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cbs)
		m->cbs = *cbs;
	m->backoff_ms = MQTT_BACKOFF_MIN_MS;
	if (mqtt__create(m, err, errlen) != KDC_OK)
		goto fail;
	return m;
fail:
	kdc_mqtt_free(m);
	return NULL;
}

void kdc_mqtt_set_retained_cb(kdc_mqtt *m, kdc_mqtt_message_cb cb)
{
	m->on_retained = cb;
}

int kdc_mqtt_set_will(kdc_mqtt *m, const char *topic, const char *payload)
{
	char *t = kdc_strdup(topic), *p = kdc_strdup(payload);

	if (!t || !p) {
		free(t);
		free(p);
		return KDC_ERR_NOMEM;
	}
	free(m->will_topic);
	free(m->will_payload);
	m->will_topic = t;
	m->will_payload = p;
	return KDC_OK;
}

int kdc_mqtt_subscribe(kdc_mqtt *m, const char *filter, int qos)
{
	struct mqtt_sub *sub = NULL;
	char *copy;
	int rc = KDC_OK;

	pthread_mutex_lock(&m->lock);
	if (m->nsubs >= MQTT_MAX_SUBS) {
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if (!(copy = strdup(filter))) {
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	sub = &m->subs[m->nsubs];
	sub->filter = copy;
	sub->qos = qos;
	atomic_store(&sub->answer, 0);
	sub->dropped = 0;
	m->nsubs++;
cleanup:
	pthread_mutex_unlock(&m->lock);
	/* already connected: subscribe now too (outside our lock: Paho's first) */
	if (rc == KDC_OK && atomic_load(&m->state) == MQTT_UP) {
		MQTTAsync_responseOptions ro = mqtt__sub_options(m, sub);
		int prc = MQTTAsync_subscribe(m->client, filter, qos, &ro);
		if (prc != MQTTASYNC_SUCCESS)
			kdc_warn("mqtt: subscribe to %s failed: %s", filter, MQTTAsync_strerror(prc));
	}
	return rc;
}

int kdc_mqtt_sub_answer(kdc_mqtt *m, const char *filter, int64_t *at_ms)
{
	int answer = 0;

	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->nsubs; i++) {
		if (strcmp(m->subs[i].filter, filter) != 0)
			continue;
		answer = atomic_load(&m->subs[i].answer);
		if (at_ms)
			*at_ms = answer ? atomic_load(&m->subs[i].answer_ms) : 0;
		break;
	}
	pthread_mutex_unlock(&m->lock);
	return answer;
}

void kdc_mqtt_drop_sub(kdc_mqtt *m, const char *filter)
{
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->nsubs; i++)
		if (strcmp(m->subs[i].filter, filter) == 0)
			m->subs[i].dropped = 1;
	pthread_mutex_unlock(&m->lock);
}

/* Why the connect failed: the broker's answer, else what the diagnosis finds
 * on the way, else Paho's own words. Owner thread; blocking (mqtt_diag.h). */
static int mqtt__classify(kdc_mqtt *m, char *msg, size_t len)
{
	char pmsg[128], sslerr[256];
	int code, reason, cause;

	pthread_mutex_lock(&m->lock);
	code = m->fail_code;
	reason = m->fail_reason;
	snprintf(pmsg, sizeof pmsg, "%s", m->fail_msg);
	snprintf(sslerr, sizeof sslerr, "%s", m->ssl_err);
	m->ssl_err[0] = '\0';
	pthread_mutex_unlock(&m->lock);
	if ((cause = kdc_mqtt__connack_cause(m->conf.username, atomic_load(&m->version) == 5, code,
	                                      reason, msg, len)) != 0)
		return cause;
	if ((cause = kdc_mqtt__diagnose(m->conf.broker, m->conf.ca_file, msg, len)) != 0)
		return cause;
	snprintf(msg, len, "%s%s%s%s%s (code %d): check the broker URL (MQTT %s) and the broker's log",
	         MQTTAsync_strerror(code), *pmsg ? ": " : "", pmsg, *sslerr ? ": " : "", sslerr,
	         code, atomic_load(&m->version) == 5 ? "5" : "3.1.1");
	return KDC_ERR_MQTT;
}

/* Classifies a failed connect and logs its cause when it changed. */
static void mqtt__note_failure(kdc_mqtt *m)
{
	m->cause = mqtt__classify(m, m->cause_msg, sizeof m->cause_msg);
	if (m->cause == m->logged_cause)
		return;
	/* a cause retrying cannot fix is an error (journalctl -p err shows it);
	 * a broker that is down or a network that is not there, a warning */
	if (kdc_err_needs_fix(m->cause))
		kdc_error("mqtt: cannot connect to %s: %s; retrying", m->conf.broker, m->cause_msg);
	else
		kdc_warn("mqtt: cannot connect to %s: %s; retrying", m->conf.broker, m->cause_msg);
	m->logged_cause = m->cause;
}

int kdc_mqtt_cause(const kdc_mqtt *m, char *msg, size_t len)
{
	if (msg && len > 0)
		snprintf(msg, len, "%s", m->cause ? m->cause_msg : "");
	return m->cause;
}

int kdc_mqtt_give_up(const kdc_mqtt *m, int timed_out, char *msg, size_t len)
{
	int cause = kdc_mqtt_connected(m) ? 0 : kdc_mqtt_cause(m, msg, len);

	if (!kdc_err_exit_status(cause) || (!timed_out && !kdc_err_needs_fix(cause)))
		return 0;
	return kdc_err_exit_status(cause);
}

void kdc_mqtt_tick(kdc_mqtt *m)
{
	int64_t now = kdc_mono_ms();

	if (atomic_load(&m->state) == MQTT_UP) {
		m->version_locked = 1;
		m->backoff_ms = MQTT_BACKOFF_MIN_MS;
		if (m->logged_cause)
			kdc_notice("mqtt: connected to %s: the problem above is gone", m->conf.broker);
		m->cause = m->logged_cause = 0;
		kdc_mqtt__stream_check(m, now);
		return;
	}
	if (atomic_load(&m->state) == MQTT_CONNECTING)
		return;
	if (atomic_exchange(&m->lost, 0)) {
		/* the next connect at once: the link may only have blinked */
		mqtt__recreate(m);
		m->next_attempt_ms = now;
	}
	if (atomic_load(&m->failed)) {
		/* schedule the next try once per failure */
		atomic_store(&m->failed, 0);
		mqtt__note_failure(m);
		now = kdc_mono_ms(); /* the diagnosis may have taken a while */
		m->next_attempt_ms = now + m->backoff_ms;
		m->backoff_ms = m->backoff_ms * 2 > MQTT_BACKOFF_MAX_MS ? MQTT_BACKOFF_MAX_MS
		                                                         : m->backoff_ms * 2;
		/* only when nothing on the way explains it: the broker may not
		 * speak this version (RabbitMQ refuses a v5 CONNECT) */
		if (m->auto_version && !m->version_locked &&
		    (m->cause == KDC_ERR_MQTT || m->cause == KDC_ERR_BROKER_REFUSED)) {
			/* a 3.1.1-only broker (RabbitMQ) refuses a v5 CONNECT: try the other */
			atomic_store(&m->version, atomic_load(&m->version) == 5 ? 4 : 5);
			mqtt__recreate(m);
			if (atomic_load(&m->version) == 4)
				m->next_attempt_ms = now; /* try the other version at once */
		}
		return;
	}
	if (now < m->next_attempt_ms)
		return;
	if (!m->client) {
		mqtt__recreate(m); /* creating it failed before: try again */
		if (!m->client) {
			m->next_attempt_ms = now + MQTT_BACKOFF_MAX_MS;
			return;
		}
	}
	mqtt__start_connect(m);
}

int kdc_mqtt_connected(const kdc_mqtt *m)
{
	return atomic_load(&m->state) == MQTT_UP;
}

int kdc_mqtt_version(const kdc_mqtt *m)
{
	return atomic_load(&m->negotiated);
}

int kdc_mqtt_publish(kdc_mqtt *m, const char *topic, const void *payload, size_t len,
                     int qos, int retain, kdc_mqtt_publish_cb cb, void *cb_ud)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	struct mqtt_pub_ctx *pc = NULL;
	int rc;

	if (atomic_load(&m->state) != MQTT_UP || !m->client)
		return KDC_ERR_NOT_CONNECTED;
	if (len > 256 * 1024 * 1024)
		return KDC_ERR_INVAL;
	if (cb || qos > 0) {
		size_t tlen = strlen(topic) + 1;
		if (!(pc = malloc(sizeof *pc + tlen)))
			return KDC_ERR_NOMEM;
		memcpy(pc->topic, topic, tlen);
		pc->m = m;
		pc->cb = cb;
		pc->ud = cb_ud;
		/* listed before Paho can answer for it */
		pthread_mutex_lock(&m->lock);
		pc->next = &m->pubs;
		pc->prev = m->pubs.prev;
		m->pubs.prev->next = pc;
		m->pubs.prev = pc;
		pthread_mutex_unlock(&m->lock);
		ro.context = pc;
		if (atomic_load(&m->version) == 5) {
			ro.onSuccess5 = mqtt__on_pub5;
			ro.onFailure5 = mqtt__on_pub_fail5;
		} else {
			ro.onSuccess = mqtt__on_pub;
			ro.onFailure = mqtt__on_pub_fail;
		}
	}
	rc = MQTTAsync_send(m->client, topic, (int)len, payload, qos, retain, &ro);
	if (rc == MQTTASYNC_SUCCESS)
		return KDC_OK;
	if (pc) {
		mqtt__pub_unlink(pc);
		free(pc);
	}
	switch (rc) {
	case MQTTASYNC_DISCONNECTED:
		return KDC_ERR_NOT_CONNECTED;
	case MQTTASYNC_MAX_BUFFERED_MESSAGES:
	case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
	case MQTTASYNC_NO_MORE_MSGIDS:
		return KDC_ERR_BUSY;
	default:
		kdc_debug("mqtt: publish to %s failed: %s", topic, MQTTAsync_strerror(rc));
		return KDC_ERR_MQTT;
	}
}

void kdc_mqtt_disconnect(kdc_mqtt *m, int timeout_ms)
{
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	int64_t until;

	if (!m || !m->client || atomic_load(&m->state) != MQTT_UP)
		return;
	d.timeout = timeout_ms;
	if (MQTTAsync_disconnect(m->client, &d) != MQTTASYNC_SUCCESS)
		return;
	/* disconnect is asynchronous: give it the time it asked for */
	until = kdc_mono_ms() + timeout_ms + 200;
	while (MQTTAsync_isConnected(m->client) && kdc_mono_ms() < until)
		kdc_sleep_ms(10);
	atomic_store(&m->state, MQTT_DOWN);
}

void kdc_mqtt_free(kdc_mqtt *m)
{
	if (!m)
		return;
	if (m->client) {
		kdc_mqtt_disconnect(m, 1000);
		mqtt__destroy_client(m);
	}
	for (int i = 0; i < m->nsubs; i++)
		free(m->subs[i].filter);
	free(m->conf.broker);
	free(m->conf.client_id);
	free(m->conf.username);
	free(m->conf.password);
	free(m->conf.ca_file);
	free(m->conf.cert_file);
	free(m->conf.key_file);
	free(m->conf.mqtt_version);
	free(m->will_topic);
	free(m->will_payload);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer (sanitizer builds only): Paho 1.3.12 does not free, in
 * MQTTAsync_destroy, four small blocks per publish it still held for a lost
 * connection (about 170 bytes each, at most a window of publishes per lost
 * connection: kdc_mqtt replaces the client after every loss). Debian's Paho
 * has no symbols, so its module is the narrowest pattern there is. Memory
 * that kdc code allocates on Paho's threads is still checked by the
 * valgrind tests. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpaho-mqtt3as.so\n";
}
#endif

static void mqtt__trace(enum MQTTASYNC_TRACE_LEVELS level, char *message)
{
	kdc_debug("paho[%d]: %s", (int)level, message);
}

void kdc_mqtt_trace(int enable)
{
	MQTTAsync_setTraceCallback(enable ? mqtt__trace : NULL);
	MQTTAsync_setTraceLevel(enable ? MQTTASYNC_TRACE_PROTOCOL : MQTTASYNC_TRACE_FATAL);
}
