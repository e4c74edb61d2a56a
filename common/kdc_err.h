/* kdc_err.h: the one error enum of kdc. 0 is success; every function that can
 * fail returns one of these (as int) and says so in its comment. */
#ifndef KDC_ERR_H
#define KDC_ERR_H

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
};

/* Plain-words description of an error code; never NULL, static storage. */
const char *kdc_strerror(int err);

#endif
