/* kdc-event-business.c: recording the business events (a visit to a
 * business, its adoption of e-invoices, its e-identified account for online
 * public services) and the needs lists of both kinds of visit. A business is
 * a register entry of type business (docs/register.md); its events have
 * member 0 and are not checked against the team's worklist, which lists
 * households only (the server checks the register). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc-event.h"
#include "kdc_conf.h"

/* Parses a comma-separated list of names with parse into out[] (at most
 * max); 0 or exit status 2 with the names that exist. */
static int parse_list(const char *text, const char *opt, int (*parse)(const char *),
                      const char *(*name)(int), int *out, size_t max, size_t *n)
{
	char valid[512];
	char *copy = strdup(text), *save = NULL;
	int v;

	*n = 0;
	if (!copy)
		return EXIT_FAIL;
	list_names(valid, sizeof valid, name);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if ((v = parse(t)) < 0 || *n == max) {
			if (v < 0)
				fprintf(stderr, "kdc-event: unknown need '%s' in --%s: use %s "
				        "(comma-separated)\n", t, opt, valid);
			else
				fprintf(stderr, "kdc-event: more than %zu needs in --%s\n", max, opt);
			free(copy);
			return EXIT_USAGE;
		}
		out[(*n)++] = v;
	}
	free(copy);
	return 0;
}

int parse_needs(const char *text, Kdc__V1__Need *needs, size_t *n)
{
	int v[KDC_MAX_NEEDS];
	int ret = parse_list(text, "needs", kdc_need_parse, kdc_need_name, v, KDC_MAX_NEEDS, n);

	for (size_t i = 0; ret == 0 && i < *n; i++)
		needs[i] = (Kdc__V1__Need)v[i];
	return ret;
}

int parse_business_needs(const char *text, Kdc__V1__BusinessNeed *needs, size_t *n)
{
	int v[KDC_MAX_BUSINESS_NEEDS];
	int ret = parse_list(text, "needs", kdc_business_need_parse, kdc_business_need_name, v,
	                     KDC_MAX_BUSINESS_NEEDS, n);

	for (size_t i = 0; ret == 0 && i < *n; i++)
		needs[i] = (Kdc__V1__BusinessNeed)v[i];
	return ret;
}

/* --khom, --code and --at of a business event (member 0). */
static int business_fields(struct cli *c, kdc_event_pb *ev)
{
	int ret;

	if ((ret = require_code(c->khom, "khom", "the khom/ap code, e.g. --khom 6")) ||
	    (ret = require_code(c->household, "code", "the business's code, e.g. --code B0001")))
		return ret;
	return common_fields(c, ev, 0);
}

int cmd_business_visit(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__BusinessVisited b = KDC__V1__BUSINESS_VISITED__INIT;
	Kdc__V1__BusinessNeed needs[KDC_MAX_BUSINESS_NEEDS];
	int ret, v;

	if ((ret = business_fields(c, &ev)) ||
	    (ret = parse_enum(c->outcome, "outcome", "how the visit went", kdc_outcome_parse,
	                      kdc_outcome_name, &v)))
		return ret;
	b.outcome = (Kdc__V1__VisitOutcome)v;
	b.issues_einvoice = c->einvoice != 0;
	b.uses_online_services = c->online_services != 0;
	if (c->needs && *c->needs) {
		if ((ret = parse_business_needs(c->needs, needs, &b.n_needs)) != 0)
			return ret;
		b.needs = needs;
	}
	ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_VISIT;
	ev.business_visit = &b;
	return record_event(c, &ev, "business visit", 0);
}

int cmd_einvoice(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__EinvoiceAdopted b = KDC__V1__EINVOICE_ADOPTED__INIT;
	int ret;

	if ((ret = business_fields(c, &ev)))
		return ret;
	ev.body_case = KDC__V1__EVENT__BODY_EINVOICE;
	ev.einvoice = &b;
	return record_event(c, &ev, "e-invoice adoption", 0);
}

int cmd_business_account(struct cli *c)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__BusinessAccountCreated b = KDC__V1__BUSINESS_ACCOUNT_CREATED__INIT;
	int ret;

	if ((ret = business_fields(c, &ev)))
		return ret;
	ev.body_case = KDC__V1__EVENT__BODY_BUSINESS_ACCOUNT;
	ev.business_account = &b;
	return record_event(c, &ev, "business account", 0);
}
