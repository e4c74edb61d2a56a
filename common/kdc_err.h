/* kdc_err.h: the one error enum of kdc. 0 is success; every function that can
 * fail returns one of these (as int) and says so in its comment. */
#ifndef KDC_ERR_H
#define KDC_ERR_H

#include <stdio.h>

enum kdc_err {
	KDC_OK = 0,
	KDC_ERR_NOMEM,     /* out of memory */
	KDC_ERR_INVAL,     /* bad argument or input */
	KDC_ERR_IO,        /* file or system call failed */
	KDC_ERR_DB,        /* SQLite failed */
	KDC_ERR_DISK_FULL, /* SQLite said the disk is full */
	KDC_ERR_MQTT,      /* Paho refused or failed */
	KDC_ERR_NOT_CONNECTED,
	KDC_ERR_TIMEOUT,
	KDC_ERR_CONFIG,    /* bad configuration */
	KDC_ERR_NOT_FOUND,
	KDC_ERR_BUSY,      /* try again later (queue full, lock held) */
	/* Why a connection or a publish failed (kdc_mqtt_cause): each has its own
	 * exit status (kdc_err_exit_status) for the programs that give up. */
	KDC_ERR_HOST_NOT_FOUND,  /* DNS: the broker's name does not resolve */
	KDC_ERR_CONN_REFUSED,    /* nothing listens on that port */
	KDC_ERR_NO_ANSWER,       /* timed out or network unreachable */
	KDC_ERR_TLS_UNKNOWN_CA,  /* the broker's certificate is not from a trusted CA */
	KDC_ERR_TLS_NAME,        /* the certificate is not for the name connected to */
	KDC_ERR_TLS_EXPIRED,     /* the certificate expired (or is not valid yet) */
	KDC_ERR_TLS,             /* any other TLS failure */
	KDC_ERR_LOGIN_REFUSED,   /* CONNACK: bad username or password, not authorised */
	KDC_ERR_TOPIC_REFUSED,   /* PUBACK: the broker's ACL refused the topic */
	KDC_ERR_BROKER_REFUSED,  /* CONNACK: refused for another reason */
};

/* Plain-words description of an error code; never NULL, static storage. */
const char *kdc_strerror(int err);

/* The exit status of a program that gives up because of a connection cause
 * (KDC_ERR_HOST_NOT_FOUND .. KDC_ERR_BROKER_REFUSED): 10-19, one per cause;
 * 0 for any other code. */
int kdc_err_exit_status(int err);

/* 1 when retrying cannot help until someone fixes a file, a password or a
 * certificate (TLS, login): a program that gives up does so at once. */
int kdc_err_needs_fix(int err);

/* Prints the exit statuses above, one per line, for a program's --help. */
void kdc_err_exit_usage(FILE *out);

#endif
