/* kdc_guard: a mosquitto 2.0 plugin (v5 plugin API) that binds MQTT client
 * ids to accounts and keeps retained messages off event topics.
 *
 * Why: mosquitto lets any authenticated client connect with any client id,
 * and a second connection with an id in use closes the first. Client ids in
 * kdc are guessable (kdc-agg-{ward}, kdc-dev-{device}), and the dashboard's
 * password ships to every browser, so without this plugin anyone who loaded
 * the dashboard could kick the aggregator off again and again.
 *
 * Options (mosquitto.conf, after `plugin PATH`), written by `kdc-ward init`:
 *   plugin_opt_id.USER ID       account USER may only use client id ID
 *   plugin_opt_id.USER PREFIX*  account USER may only use ids starting with
 *                               PREFIX (the shared dashboard account: many
 *                               browsers, one account, each its own id)
 *   plugin_opt_id.* ID          every other account; "%u" in ID stands for
 *                               the username (devices: kdc-dev-%u)
 *   Several ids or prefixes may be given, separated by commas.
 *   plugin_opt_event_prefix P   topics starting with P are event topics: a
 *                               retained publish with a payload is refused
 *                               there; an empty retained publish (which only
 *                               clears one) is allowed for USER given by
 *   plugin_opt_clear_user USER  (the aggregator, for `kdc-ward clear-retained`)
 *   plugin_opt_clean_only USER  account USER may only connect with a clean
 *                               session (the shared dashboard account: a
 *                               session kept after it goes would make the
 *                               broker queue messages for it, in memory,
 *                               under as many ids as anyone cares to invent)
 * An account without a rule, and a client without a username, is refused.
 * kdc-ward writes the prefixes so that no fixed id starts with a prefix of
 * another account: then nobody can claim an id that is not theirs.
 *
 * Threads: mosquitto 2.0 is single-threaded; every callback runs on its main
 * loop. Options are copied at init and freed at cleanup (also on SIGHUP,
 * which re-runs init with the new options). */
#define _POSIX_C_SOURCE 200809L
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GUARD__MAX_RULES 32

struct guard__rule {
	char *user; /* "*" = every account without its own rule */
	char *id;   /* may hold %u; ends in '*' for a prefix rule */
};

struct guard {
	struct guard__rule rules[GUARD__MAX_RULES];
	int nrules;
	char *event_prefix;
	char *clear_user;
	char *clean_only;
};

static mosquitto_plugin_id_t *guard__pid;

/* True when client id `cid` fits one pattern (ending at ',' or '\0') for
 * user `user`. */
static bool guard__fits_one(const char *pat, const char *user, const char *cid)
{
	size_t ulen = strlen(user);
	for (;;) {
		if (pat[0] == '*' && (pat[1] == '\0' || pat[1] == ','))
			return true; /* prefix rule: the rest is free */
		if (pat[0] == '%' && pat[1] == 'u') {
			if (strncmp(cid, user, ulen) != 0)
				return false;
			cid += ulen;
			pat += 2;
			continue;
		}
		if (*pat == ',' || *pat == '\0')
			return *cid == '\0';
		if (*pat != *cid)
			return false;
		pat++;
		cid++;
	}
}

/* True when `cid` fits any of the comma-separated patterns `pats`. */
static bool guard__id_fits(const char *pats, const char *user, const char *cid)
{
	for (const char *p = pats; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (guard__fits_one(p, user, cid))
			return true;
	return false;
}

static const struct guard__rule *guard__rule_for(const struct guard *g, const char *user)
{
	const struct guard__rule *any = NULL;
	for (int i = 0; i < g->nrules; i++) {
		if (strcmp(g->rules[i].user, user) == 0)
			return &g->rules[i];
		if (strcmp(g->rules[i].user, "*") == 0)
			any = &g->rules[i];
	}
	return any;
}

static int guard__basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const struct guard *g = userdata;
	const char *user = ed->username;
	const char *cid = mosquitto_client_id(ed->client);
	(void)event;
	if (user == NULL || cid == NULL)
		return MOSQ_ERR_AUTH;
	const struct guard__rule *r = guard__rule_for(g, user);
	if (r == NULL || !guard__id_fits(r->id, user, cid)) {
		mosquitto_log_printf(MOSQ_LOG_WARNING,
		                     "kdc_guard: refused client id '%s' for account '%s' (allowed: %s)",
		                     cid, user, r ? r->id : "none");
		return MOSQ_ERR_AUTH;
	}
	if (g->clean_only && strcmp(user, g->clean_only) == 0 &&
	    !mosquitto_client_clean_session(ed->client)) {
		mosquitto_log_printf(MOSQ_LOG_WARNING,
		                     "kdc_guard: refused client '%s' of account '%s': it asked the broker to "
		                     "keep its session, and this account may only use clean sessions",
		                     cid, user);
		return MOSQ_ERR_AUTH;
	}
	/* The id fits: the password file decides. */
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int guard__acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const struct guard *g = userdata;
	(void)event;
	if (g->event_prefix == NULL || ed->access != MOSQ_ACL_WRITE || !ed->retain ||
	    strncmp(ed->topic, g->event_prefix, strlen(g->event_prefix)) != 0)
		return MOSQ_ERR_PLUGIN_DEFER;
	const char *user = mosquitto_client_username(ed->client);
	if (ed->payloadlen == 0 && g->clear_user && user && strcmp(user, g->clear_user) == 0)
		return MOSQ_ERR_SUCCESS; /* clearing a retained event */
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
	                     "kdc_guard: refused a retained publish on event topic %s from '%s'",
	                     ed->topic, user ? user : "(none)");
	return MOSQ_ERR_ACL_DENIED;
}

static void guard__free(struct guard *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < g->nrules; i++) {
		free(g->rules[i].user);
		free(g->rules[i].id);
	}
	free(g->event_prefix);
	free(g->clear_user);
	free(g->clean_only);
	free(g);
}

static int guard__parse(struct guard *g, struct mosquitto_opt *opts, int n)
{
	for (int i = 0; i < n; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		if (k == NULL || v == NULL)
			continue;
		if (strncmp(k, "id.", 3) == 0 && k[3] != '\0') {
			if (g->nrules == GUARD__MAX_RULES) {
				mosquitto_log_printf(MOSQ_LOG_ERR, "kdc_guard: more than %d id rules", GUARD__MAX_RULES);
				return MOSQ_ERR_INVAL;
			}
			struct guard__rule *r = &g->rules[g->nrules];
			r->user = strdup(k + 3);
			r->id = strdup(v);
			g->nrules++;
			if (r->user == NULL || r->id == NULL)
				return MOSQ_ERR_NOMEM;
		} else if (strcmp(k, "event_prefix") == 0) {
			free(g->event_prefix);
			if ((g->event_prefix = strdup(v)) == NULL)
				return MOSQ_ERR_NOMEM;
		} else if (strcmp(k, "clear_user") == 0) {
			free(g->clear_user);
			if ((g->clear_user = strdup(v)) == NULL)
				return MOSQ_ERR_NOMEM;
		} else if (strcmp(k, "clean_only") == 0) {
			free(g->clean_only);
			if ((g->clean_only = strdup(v)) == NULL)
				return MOSQ_ERR_NOMEM;
		} else {
			mosquitto_log_printf(MOSQ_LOG_ERR, "kdc_guard: unknown option plugin_opt_%s", k);
			return MOSQ_ERR_INVAL;
		}
	}
	if (g->nrules == 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "kdc_guard: no plugin_opt_id.USER rules: every client would be refused");
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
	struct guard *g = calloc(1, sizeof *g);
	int rc;
	if (g == NULL)
		return MOSQ_ERR_NOMEM;
	rc = guard__parse(g, options, option_count);
	if (rc != MOSQ_ERR_SUCCESS)
		goto fail;
	guard__pid = identifier;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, guard__basic_auth, NULL, g);
	if (rc != MOSQ_ERR_SUCCESS)
		goto fail;
	rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, guard__acl_check, NULL, g);
	if (rc != MOSQ_ERR_SUCCESS) {
		mosquitto_callback_unregister(identifier, MOSQ_EVT_BASIC_AUTH, guard__basic_auth, NULL);
		goto fail;
	}
	*userdata = g;
	mosquitto_log_printf(MOSQ_LOG_INFO, "kdc_guard: %d client id rule(s)%s", g->nrules,
	                     g->event_prefix ? ", no retained events" : "");
	return MOSQ_ERR_SUCCESS;
fail:
	guard__free(g);
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)options;
	(void)option_count;
	if (guard__pid) {
		mosquitto_callback_unregister(guard__pid, MOSQ_EVT_BASIC_AUTH, guard__basic_auth, NULL);
		mosquitto_callback_unregister(guard__pid, MOSQ_EVT_ACL_CHECK, guard__acl_check, NULL);
	}
	guard__free(userdata);
	return MOSQ_ERR_SUCCESS;
}
