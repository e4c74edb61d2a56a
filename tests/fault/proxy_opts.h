/* proxy_opts.h: the fault settings of kdc-faultproxy (proxy.c), read from
 * its command line and its control file (proxy_opts.c). */
#ifndef KDC_PROXY_OPTS_H
#define KDC_PROXY_OPTS_H

#include <stdio.h>

/* Fault settings: what the command line or the control file says. */
struct proxy_faults {
	long long reset_every; /* ms, 0 = off */
	long long stall_every; /* ms, 0 = off */
	long long stall_for;   /* ms */
	long long cut_every;   /* ms, 0 = off */
	long long cut_side;    /* 0 either direction, 1 client->target, 2 target->client */
	long long trickle;     /* 0/1 */
	long long down;        /* 0/1 */
	long long rate;        /* bytes/s per connection and direction, 0 = unlimited */
};

/* Sets the fault option name (without dashes) from value; -1, logged with
 * where, for an unknown name or a value out of its bounds. */
int proxy__set_opt(struct proxy_faults *f, const char *name, const char *value,
                   const char *where);
/* Every fault off, stalls 3000 ms long. */
void proxy__faults_default(struct proxy_faults *f);
/* Reads the control file into *out (faults absent from it are off). On any
 * error *out is left alone and -1 returned. */
int proxy__read_control(const char *path, struct proxy_faults *out);
/* The fault options' lines of --help. */
void proxy__usage_faults(FILE *out);

#endif
