/* proxy_opts.c: the fault settings of kdc-faultproxy, one table for the
 * command line and the control file; see proxy_opts.h and proxy.c. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kdc_log.h"
#include "kdc_util.h"
#include "proxy_opts.h"

/* ---- options: one table for the command line and the control file -------- */

struct proxy_opt {
	const char *name;
	size_t offset; /* in struct proxy_faults */
	long long max;
	const char *help;
};

static const struct proxy_opt proxy_fault_opts[] = {
	{ "reset-every", offsetof(struct proxy_faults, reset_every), 86400000,
	  "mean lifetime in ms of a connection before its reset (RST), 0 = off" },
	{ "stall-every", offsetof(struct proxy_faults, stall_every), 86400000,
	  "mean ms between stalls of all forwarding, 0 = off" },
	{ "stall-for", offsetof(struct proxy_faults, stall_for), 3600000,
	  "length of a stall in ms (default 3000)" },
	{ "cut-every", offsetof(struct proxy_faults, cut_every), 86400000,
	  "mean lifetime in ms of a connection before it is cut mid-chunk, 0 = off" },
	{ "cut-side", offsetof(struct proxy_faults, cut_side), 2,
	  "which chunk a cut tears: 0 the next either way, 1 client's, 2 target's" },
	{ "trickle", offsetof(struct proxy_faults, trickle), 1,
	  "1 = forward byte by byte (1-byte segments)" },
	{ "down", offsetof(struct proxy_faults, down), 1,
	  "1 = reset every connection (network gone)" },
	{ "rate", offsetof(struct proxy_faults, rate), 1000000000,
	  "bytes/s per connection and direction, 0 = unlimited" },
};
#define PROXY_NOPTS (sizeof(proxy_fault_opts) / sizeof(proxy_fault_opts[0]))

static const struct proxy_opt *proxy__find_opt(const char *name)
{
	size_t i;

	for (i = 0; i < PROXY_NOPTS; i++) {
		if (strcmp(proxy_fault_opts[i].name, name) == 0)
			return &proxy_fault_opts[i];
	}
	return NULL;
}

int proxy__set_opt(struct proxy_faults *f, const char *name, const char *value,
                   const char *where)
{
	const struct proxy_opt *o = proxy__find_opt(name);
	long long v;

	if (o == NULL) {
		kdc_error("%s: unknown option '%s'", where, name);
		return -1;
	}
	if (kdc_parse_ll(value, 0, o->max, &v) != 0) {
		kdc_error("%s: %s must be a whole number in [0, %lld], got '%s'", where, name,
		          o->max, value);
		return -1;
	}
	*(long long *)((char *)f + o->offset) = v;
	return 0;
}

void proxy__faults_default(struct proxy_faults *f)
{
	memset(f, 0, sizeof(*f));
	f->stall_for = 3000;
}

/* Reads the control file into *out (faults absent from it are off). On any
 * error *out is left alone and -1 returned: a half-written file must not
 * switch faults off by accident. */
int proxy__read_control(const char *path, struct proxy_faults *out)
{
	struct proxy_faults f;
	char line[256], where[320];
	FILE *fp = NULL;
	int lineno = 0, rc = -1;

	proxy__faults_default(&f);
	fp = fopen(path, "r");
	if (fp == NULL) {
		kdc_error("control file %s: %s", path, strerror(errno));
		goto cleanup;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char name[64], value[64], extra[8];
		char *hash = strchr(line, '#');
		int n;

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		n = sscanf(line, "%63s %63s %7s", name, value, extra);
		if (n <= 0)
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (n != 2) {
			kdc_error("%s: expected 'option value'", where);
			goto cleanup;
		}
		if (proxy__set_opt(&f, name, value, where) != 0)
			goto cleanup;
	}
	*out = f;
	rc = 0;

cleanup:
	if (fp != NULL)
		fclose(fp);
	return rc;
}

/* The fault options' lines of --help. */
void proxy__usage_faults(FILE *out)
{
	size_t i;

	for (i = 0; i < PROXY_NOPTS; i++)
		fprintf(out, "  --%-12s %s\n", proxy_fault_opts[i].name, proxy_fault_opts[i].help);
}
