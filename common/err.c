/* err.c: plain-words text for kdc error codes. */
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
	default: return "unknown error";
	}
}
