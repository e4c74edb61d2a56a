/* register_cli.h: the ward office's commands of kdc-aggregator (see
 * docs/register.md): register import|list|add|retire|log, void, events and
 * forget. kdc-aggregator.c reads the options and calls these.
 *
 * Exit status: 0 done; 1 refused or failed (an unknown household, a database
 * error: said on stderr); 2 bad usage or a bad register file (nothing
 * changed); 3 forget while an aggregator runs on the database. */
#ifndef KDC_REGISTER_CLI_H
#define KDC_REGISTER_CLI_H

#include "profile.h"

#define KDC_TOOL_EXIT_RUNNING 3

struct kdc_tool {
	const char *db;
	const char *profile_path;          /* NULL or "": none was given */
	const struct kdc_profile *profile; /* the loaded one (the default without) */
	const char *ward;                  /* for messages (systemctl ...@WARD); may be NULL */
	const char *by;                    /* NULL or "": the login name */
	const char *khom, *household, *reason, *event;
	int dry_run, retire_missing, field, retired;
	int business;                      /* register add: a business, not a household */
	long long people;                  /* -1: not given */
	long long limit;
	int busy_timeout_ms;
};

/* action: import (file: the CSV), list, add, retire, log. */
int kdc_tool_register(const char *action, const char *file, const struct kdc_tool *t);
int kdc_tool_void(const struct kdc_tool *t);
int kdc_tool_events(const struct kdc_tool *t);
int kdc_tool_forget(const struct kdc_tool *t);

#endif
