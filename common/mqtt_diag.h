/* mqtt_diag.h: internal to common/ (kdc_mqtt). Finds out why a connect to
 * the broker failed when Paho only says "TCP/TLS connect failure" or
 * "Failure": looks the host up, opens a TCP connection to its port and, for
 * TLS, makes a handshake of its own to read OpenSSL's verify result and check
 * the certificate's names, the way Paho does (X509_check_host, then
 * X509_check_ip_asc).
 *
 * Blocking (DNS, then at most MQTT_DIAG_TIMEOUT_MS per address and for the
 * handshake): called on kdc_mqtt's owner thread from kdc_mqtt_tick, after a
 * failed connect only, never with a lock held. */
#ifndef KDC_MQTT_DIAG_H
#define KDC_MQTT_DIAG_H

#include <stddef.h>

#define MQTT_DIAG_TIMEOUT_MS 5000

/* Returns the cause (KDC_ERR_HOST_NOT_FOUND, _CONN_REFUSED, _NO_ANSWER,
 * _TLS_UNKNOWN_CA, _TLS_NAME, _TLS_EXPIRED, _TLS), or 0 when the host, the
 * port and the certificate are all fine (the broker itself refused: the
 * caller decides). detail gets a plain-words sentence naming what to check
 * (always set when the return is not 0). ca_file NULL or "" = system store. */
int kdc_mqtt__diagnose(const char *uri, const char *ca_file, char *detail, size_t len);

/* Splits a broker URL (tcp://, mqtt://, ssl://, mqtts://, ws://, wss://,
 * with [v6]:port) into host and port, default port by scheme. tls gets 1 for
 * ssl/mqtts/wss. 0, or -1 when it is not a URL of those. */
int kdc_mqtt__split_uri(const char *uri, char *host, size_t hostlen, char *port,
                        size_t portlen, int *tls);

/* The broker's CONNACK refusal in plain words in msg, as
 * KDC_ERR_LOGIN_REFUSED or KDC_ERR_BROKER_REFUSED; 0 when Paho's failure
 * (code, reason: a v5 reason in either, a 3.1.1 return code in code) is not
 * a CONNACK refusal. username may be NULL. Pure: any thread. */
int kdc_mqtt__connack_cause(const char *username, int v5, int code, int reason, char *msg,
                            size_t len);

#endif
