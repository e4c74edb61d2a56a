/* err.c: plain-words text for kdc error codes, and the exit statuses of the
 * connection causes. */
#include "kdc_err.h"

const char *kdc_strerror(int err)
{
	switch (err) {
	case KDC_OK: return "success";
	case KDC_ERR_NOMEM: return "out of memory";
	case KDC_ERR_INVAL: return "invalid argument or input";
	case KDC_ERR_IO: return "file or system error";
	case KDC_ERR_DB: return "database error";
	case KDC_ERR_DISK_FULL: return "disk full";
	case KDC_ERR_MQTT: return "MQTT error";
	case KDC_ERR_NOT_CONNECTED: return "not connected to the broker";
	case KDC_ERR_TIMEOUT: return "timed out";
	case KDC_ERR_CONFIG: return "bad configuration";
	case KDC_ERR_NOT_FOUND: return "not found";
	case KDC_ERR_BUSY: return "busy, try again";
	case KDC_ERR_HOST_NOT_FOUND: return "host not found";
	case KDC_ERR_CONN_REFUSED: return "connection refused";
	case KDC_ERR_NO_ANSWER: return "no answer";
	case KDC_ERR_TLS_UNKNOWN_CA: return "TLS: unknown CA";
	case KDC_ERR_TLS_NAME: return "TLS: certificate name mismatch";
	case KDC_ERR_TLS_EXPIRED: return "TLS: certificate expired";
	case KDC_ERR_TLS: return "TLS failed";
	case KDC_ERR_LOGIN_REFUSED: return "login refused";
	case KDC_ERR_TOPIC_REFUSED: return "topic refused";
	case KDC_ERR_BROKER_REFUSED: return "connection refused by the broker";
	default: return "unknown error";
	}
}

/* One row per connection cause; the order is the exit status order. */
static const struct {
	int err;
	int status;
	const char *what;
} err__exits[] = {
	{ KDC_ERR_HOST_NOT_FOUND, 10, "host not found: the broker's name does not resolve (DNS)" },
	{ KDC_ERR_CONN_REFUSED, 11, "connection refused: nothing listens on the broker's port" },
	{ KDC_ERR_NO_ANSWER, 12, "no answer from the broker (network or firewall)" },
	{ KDC_ERR_TLS_UNKNOWN_CA, 13, "TLS: unknown CA (ca-file is not the CA of the broker's certificate)" },
	{ KDC_ERR_TLS_NAME, 14, "TLS: certificate name mismatch (the broker URL's host is not in its certificate)" },
	{ KDC_ERR_TLS_EXPIRED, 15, "TLS: certificate expired (or not valid yet: check the clock)" },
	{ KDC_ERR_TLS, 16, "TLS failed for another reason" },
	{ KDC_ERR_LOGIN_REFUSED, 17, "login refused: wrong username or password, or the device was removed" },
	{ KDC_ERR_TOPIC_REFUSED, 18, "topic refused by the broker's ACL (ward/team/device codes)" },
	{ KDC_ERR_BROKER_REFUSED, 19, "the broker refused the connection or a publish for another reason (see the log)" },
};
#define ERR_NEXITS (sizeof err__exits / sizeof err__exits[0])

int kdc_err_exit_status(int err)
{
	for (size_t i = 0; i < ERR_NEXITS; i++)
		if (err__exits[i].err == err)
			return err__exits[i].status;
	return 0;
}

int kdc_err_needs_fix(int err)
{
	switch (err) {
	case KDC_ERR_TLS_UNKNOWN_CA:
	case KDC_ERR_TLS_NAME:
	case KDC_ERR_TLS_EXPIRED:
	case KDC_ERR_TLS:
	case KDC_ERR_LOGIN_REFUSED:
		return 1;
	default:
		return 0;
	}
}

void kdc_err_exit_usage(FILE *out)
{
	fprintf(out, "When it gives up on the broker, the exit status names the cause:\n");
	for (size_t i = 0; i < ERR_NEXITS; i++)
		fprintf(out, "  %d  %s\n", err__exits[i].status, err__exits[i].what);
}
