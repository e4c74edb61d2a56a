/* mqtt_diag.c: why a connect failed, in plain words. See mqtt_diag.h.
 *
 * Paho 1.3 reports a host that does not resolve as "Failure" (code -1) and a
 * closed port, an untrusted CA and a name mismatch all as "TCP/TLS connect
 * failure"; its ssl_error_cb hands over OpenSSL's error queue ("certificate
 * verify failed"), which names no verify reason, and its own host name check
 * after the handshake leaves nothing in that queue. So the same steps are
 * taken again here, each checked on its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <MQTTAsync.h>

#include "kdc_err.h"
#include "mqtt_diag.h"

int kdc_mqtt__split_uri(const char *uri, char *host, size_t hostlen, char *port,
                        size_t portlen, int *tls)
{
	static const struct { const char *scheme; const char *port; int tls; } schemes[] = {
		{ "tcp://", "1883", 0 }, { "mqtt://", "1883", 0 }, { "ssl://", "8883", 1 },
		{ "mqtts://", "8883", 1 }, { "ws://", "80", 0 }, { "wss://", "443", 1 },
	};
	const char *h = NULL, *end, *colon;
	const char *defport = NULL;
	size_t n;

	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		n = strlen(schemes[i].scheme);
		if (strncmp(uri, schemes[i].scheme, n) == 0) {
			h = uri + n;
			defport = schemes[i].port;
			*tls = schemes[i].tls;
			break;
		}
	}
	if (!h)
		return -1;
	end = h + strcspn(h, "/?#");
	if (*h == '[') { /* [v6]:port */
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return -1;
		n = (size_t)(rb - h - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, h + 1, n);
		host[n] = '\0';
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon ? colon : end) - h);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	if (colon && colon + 1 < end) {
		n = (size_t)(end - colon - 1);
		if (n >= portlen)
			return -1;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	} else {
		snprintf(port, portlen, "%s", defport);
	}
	return 0;
}

/* Connects to one address within the timeout. The socket, or -1 with errno. */
static int diag__connect(const struct addrinfo *ai)
{
	struct pollfd pfd;
	int fd, rc, soerr = 0, flags;
	socklen_t sl = sizeof soerr;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
		goto fail;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc != 0 && errno != EINPROGRESS)
		goto fail;
	if (rc != 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, MQTT_DIAG_TIMEOUT_MS);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, flags) != 0) /* blocking again, for the handshake */
		goto fail;
	return fd;
fail:
	rc = errno;
	close(fd);
	errno = rc;
	return -1;
}

/* The verify result in one of the causes, with what to check. */
static int diag__verify_cause(long v, const char *host, const char *ca_file, char *detail,
                              size_t len)
{
	const char *why = X509_verify_cert_error_string(v);

	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(detail, len, "TLS: certificate expired: the broker's certificate is not valid "
		         "now (%s): renew it on the server (kdc-ward renew-cert, then restart the broker), "
		         "and check this computer's date and time", why);
		return KDC_ERR_TLS_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		snprintf(detail, len, "TLS: unknown CA: the broker's certificate for %s is not signed by "
		         "a CA this computer trusts (%s): check that ca-file (%s) is the ward's CA "
		         "certificate handed out with the device config (ward-CODE-ca.crt)",
		         host, why, ca_file && *ca_file ? ca_file : "not set: the system's CAs");
		return KDC_ERR_TLS_UNKNOWN_CA;
	default:
		snprintf(detail, len, "TLS failed: the broker's certificate for %s is refused (%s): "
		         "check ca-file and the server's certificate", host, why);
		return KDC_ERR_TLS;
	}
}

/* The certificate names host (a DNS name or an IP address)? As Paho checks. */
static int diag__name_ok(X509 *cert, const char *host)
{
	return X509_check_host(cert, host, strlen(host), 0, NULL) == 1 ||
	       X509_check_ip_asc(cert, host, 0) == 1;
}

/* A TLS handshake on fd that does not stop at a bad certificate, so that the
 * verify result and the names can be read. */
static int diag__tls(int fd, const char *host, const char *ca_file, char *detail, size_t len)
{
	struct timeval tv = { MQTT_DIAG_TIMEOUT_MS / 1000, 0 };
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	struct in6_addr a6;
	long v;
	int rc = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	ERR_clear_error();
	if (!(ctx = SSL_CTX_new(TLS_client_method())))
		goto tls_error;
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			snprintf(detail, len, "TLS failed: cannot read the CA certificate %s: check the "
			         "ca-file setting and that the file is a PEM certificate readable by this user",
			         ca_file);
			rc = KDC_ERR_TLS;
			goto cleanup;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		goto tls_error;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* read the result, do not stop */
	if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1)
		goto tls_error;
	if (inet_pton(AF_INET, host, &a6) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
		(void)SSL_set_tlsext_host_name(ssl, host);
	if (SSL_connect(ssl) != 1)
		goto tls_error;
	v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		rc = diag__verify_cause(v, host, ca_file, detail, len);
		goto cleanup;
	}
	cert = SSL_get1_peer_certificate(ssl);
	if (cert && !diag__name_ok(cert, host)) {
		snprintf(detail, len, "TLS: certificate name mismatch: the broker's certificate is not "
		         "made for '%s': use the name the server's certificate was made for in the "
		         "broker URL (kdc-ward init --host NAME on the server sets it; then issue the "
		         "device configs again)", host);
		rc = KDC_ERR_TLS_NAME;
	}
	goto cleanup;
tls_error: {
		char ebuf[160];
		unsigned long e = ERR_peek_last_error();
		if (e)
			ERR_error_string_n(e, ebuf, sizeof ebuf);
		else
			snprintf(ebuf, sizeof ebuf, "%s", errno ? strerror(errno) : "handshake failed");
		snprintf(detail, len, "TLS failed: no TLS handshake with %s (%s): check that the broker "
		         "URL names the broker's TLS port (8883) and that it speaks TLS", host, ebuf);
		rc = KDC_ERR_TLS;
	}
cleanup:
	X509_free(cert);
	if (ssl) {
		if (rc == 0)
			(void)SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int kdc_mqtt__diagnose(const char *uri, const char *ca_file, char *detail, size_t len)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	int tls = 0, rc, fd = -1, err = 0, refused = 0;

	detail[0] = '\0';
	if (kdc_mqtt__split_uri(uri, host, sizeof host, port, sizeof port, &tls) != 0)
		return 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(detail, len, "host not found: the broker's name '%s' does not resolve (%s): "
		         "check the host in the broker URL (%s) and this computer's network connection "
		         "and DNS", host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc), uri);
		return KDC_ERR_HOST_NOT_FOUND;
	}
	for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		if ((fd = diag__connect(ai)) < 0) {
			err = errno;
			refused |= err == ECONNREFUSED;
		}
	}
	freeaddrinfo(res);
	if (fd < 0 && refused) {
		snprintf(detail, len, "connection refused: nothing listens on port %s of %s: check the "
		         "port in the broker URL (%s) and that the broker is running there "
		         "(systemctl status kdc-mosquitto@WARD on the server)", port, host, uri);
		return KDC_ERR_CONN_REFUSED;
	}
	if (fd < 0) {
		snprintf(detail, len, "no answer: %s port %s cannot be reached (%s): check this "
		         "computer's network connection and that the server's firewall lets port %s in",
		         host, port, strerror(err), port);
		return KDC_ERR_NO_ANSWER;
	}
	rc = tls ? diag__tls(fd, host, ca_file, detail, len) : 0;
	close(fd);
	return rc;
}

/* The CONNACK's refusal in plain words, or 0 when the broker did not answer
 * the CONNECT with one. Paho gives a v5 reason in both code and reason, a
 * 3.1.1 return code in code. */
int kdc_mqtt__connack_cause(const char *username, int v5, int code, int reason, char *msg, size_t len)
{
	const char *user = username && *username ? username : NULL;
	int r = v5 ? (reason >= 0x80 ? reason : code >= 0x80 ? code : 0) : (code >= 1 && code <= 5 ? code : 0);

	if (!r)
		return 0;
	if ((v5 && (r == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD ||
	            r == MQTTREASONCODE_NOT_AUTHORIZED)) || (!v5 && (r == 4 || r == 5))) {
		snprintf(msg, len, "login refused: the broker does not accept %s%s%s (%s): check username "
		         "and password in the config; for a team device: it may have been removed from the "
		         "ward (kdc-ward list-devices on the server), or the broker was not reloaded "
		         "after add-device", user ? "user '" : "", user ? user : "a login without a username",
		         user ? "' with this password" : "",
		         r == 4 || r == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD
		                 ? "bad user name or password" : "not authorised");
		return KDC_ERR_LOGIN_REFUSED;
	}
	snprintf(msg, len, "connection refused by the broker: %s (%s %d): check the broker URL and "
	         "the broker's log", v5 ? MQTTReasonCode_toString((enum MQTTReasonCodes)r)
	                                : r == 1 ? "unacceptable protocol version"
	                                : r == 2 ? "client id rejected" : "server unavailable",
	         v5 ? "reason" : "return code", r);
	return KDC_ERR_BROKER_REFUSED;
}
