/* kdc-stats: the ward's adoption statistics in a terminal, live.
 *
 *   kdc-stats --broker URL --ward CODE [--khom K | --team T] [--once] [--json]
 *
 * Subscribes to the retained snapshot kdc/v1/{ward}/stats/ward (or
 * .../stats/khom/{K}, .../stats/team/{T}), to the khóms' household lists
 * kdc/v1/{ward}/households/khom/+ (or .../khom/{K}; see households.h) and to
 * the aggregator's status, and redraws a table on every new snapshot (and
 * every second for the ages).
 * --json prints the snapshots as they arrive, one per line; --once stops
 * after the first one (for scripts).
 *
 * Exit status: 0 done (or interrupted in live mode), 1 MQTT client failure,
 * 2 usage or configuration error, 3 no snapshot within --timeout (--once). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <cJSON.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_mqtt.h"
#include "kdc_prog.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "households.h"
#include "profile.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3
#define BAR_WIDTH 28

struct cli {
	struct kdc_mqtt_conf mqtt;
	char *config;
	char *ward;
	char *khom;
	char *team;
	char *log_level;
	int once;
	int json;
	long long timeout;
	int help;
};

static const struct kdc_opt opts[] = {
	KDC_OPT(struct cli, "config", KDC_OPT_STR, config, 0, 0, NULL, "read these settings from a file (key = value lines)"),
	KDC_MQTT_OPTS(struct cli, mqtt),
	KDC_OPT(struct cli, "ward", KDC_OPT_STR, ward, 0, 0, NULL, "the ward's code, as in the topics (required)"),
	KDC_OPT(struct cli, "khom", KDC_OPT_STR, khom, 0, 0, NULL, "show one khóm instead of the whole ward"),
	KDC_OPT(struct cli, "team", KDC_OPT_STR, team, 0, 0, NULL, "show one team instead of the whole ward"),
	KDC_OPT(struct cli, "once", KDC_OPT_BOOL, once, 0, 0, NULL, "print the current snapshot once and exit"),
	KDC_OPT(struct cli, "json", KDC_OPT_BOOL, json, 0, 0, NULL, "print the snapshot JSON as received (one per line)"),
	KDC_OPT(struct cli, "timeout", KDC_OPT_INT, timeout, 1, 86400, "10", "with --once: give up (exit 3) after this many seconds"),
	KDC_OPT(struct cli, "log-level", KDC_OPT_STR, log_level, 0, 0, "warning", "debug, info, notice, warning or error"),
	KDC_OPT(struct cli, "help", KDC_OPT_BOOL, help, 0, 0, NULL, "show this help"),
	KDC_OPT_END
};

static volatile sig_atomic_t stop_flag;

/* ---- what arrives on Paho's thread --------------------------------------------- */

struct inbox {
	pthread_mutex_t lock;
	char stats_topic[KDC_TOPIC_MAX + 1];
	char status_topic[KDC_TOPIC_MAX + 1];
	char hh_filter[KDC_TOPIC_MAX + 1]; /* household lists; "" for a team */
	char ward[KDC_CODE_MAX + 1];
	struct kdc_hh_table hh; /* latest tally of each khóm's household list */
	unsigned hh_gen;
	char *stats;        /* latest snapshot (malloc'd), NULL until one arrives */
	char *status;       /* latest status JSON */
	unsigned stats_gen; /* bumped per snapshot, so none is missed in --json */
	unsigned status_gen;
	int connected, ever_connected;
};

static char *dup_payload(const void *payload, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, payload, len);
		s[len] = '\0';
	}
	return s;
}

/* The khóm of a household-list topic that matches the filter, or NULL. */
static const char *hh_khom(const struct inbox *in, const char *topic)
{
	size_t n = strlen(in->hh_filter);

	if (n == 0)
		return NULL;
	if (in->hh_filter[n - 1] != '+') /* one khóm: the exact topic */
		return strcmp(topic, in->hh_filter) == 0 ? strrchr(topic, '/') + 1 : NULL;
	if (strncmp(topic, in->hh_filter, n - 1) != 0 || !kdc_code_valid(topic + n - 1))
		return NULL;
	return topic + n - 1;
}

/* A khóm's household list: its tally replaces the last one; an empty
 * message (cleared) removes it; one that is not a list for this ward and
 * khóm is left out (the last good tally stays). */
static void on_households(struct inbox *in, const char *khom, const void *payload, size_t len)
{
	struct kdc_hh_tally t;
	char why[96];
	int ok = len > 0 && kdc_hh_parse(payload, len, in->ward, khom, &t, why, sizeof why) == 0;

	if (len > 0 && !ok) {
		kdc_debug("household list of khóm %s left out: %s", khom, why);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (kdc_hh_table_set(&in->hh, khom, ok ? &t : NULL) == 0)
		in->hh_gen++;
	pthread_mutex_unlock(&in->lock);
}

/* Paho's receive thread: copy and return (no printing here). */
static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct inbox *in = ud;
	const char *khom = hh_khom(in, topic);
	char *copy;

	if (khom) {
		on_households(in, khom, payload, len);
		return;
	}
	if (len == 0) /* a cleared retained message */
		return;
	copy = dup_payload(payload, len);
	if (!copy)
		return;
	pthread_mutex_lock(&in->lock);
	if (strcmp(topic, in->stats_topic) == 0) {
		free(in->stats);
		in->stats = copy;
		in->stats_gen++;
		copy = NULL;
	} else if (strcmp(topic, in->status_topic) == 0) {
		free(in->status);
		in->status = copy;
		in->status_gen++;
		copy = NULL;
	}
	pthread_mutex_unlock(&in->lock);
	free(copy);
}

static void on_connection(void *ud, int connected, int session_present)
{
	struct inbox *in = ud;

	(void)session_present;
	pthread_mutex_lock(&in->lock);
	in->connected = connected;
	if (connected)
		in->ever_connected = 1;
	pthread_mutex_unlock(&in->lock);
}

/* ---- drawing ----------------------------------------------------------------------- */

struct view {
	FILE *out;          /* a memory stream: one write per frame, no flicker */
	int tty;            /* colours, block characters, clear screen */
	int64_t now;
	const struct kdc_hh_table *hh; /* household lists; NULL for a team */
};

static const cJSON *jget(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static long long jint(const cJSON *o, const char *name)
{
	const cJSON *v = jget(o, name);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static const char *jstr(const cJSON *o, const char *name, const char *dflt)
{
	const cJSON *v = jget(o, name);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static const char *color(const struct view *v, const char *code)
{
	return v->tty ? code : "";
}
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

/* "12 s", "4 min", "3 h", "2 d" */
static void fmt_age(int64_t ms, char *out, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(out, len, "in the future");
	else if (s < 120)
		snprintf(out, len, "%lld s ago", (long long)s);
	else if (s < 7200)
		snprintf(out, len, "%lld min ago", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, len, "%lld h ago", (long long)(s / 3600));
	else
		snprintf(out, len, "%lld d ago", (long long)(s / 86400));
}

/* An ISO time from the JSON, shown in the ward's local time with its age. */
static void fmt_when(const struct view *v, const char *iso, int offset_min, char *out, size_t len)
{
	int64_t ms;
	char local[40], age[32];

	if (!iso || kdc_time_parse(iso, &ms) != KDC_OK) {
		snprintf(out, len, "never");
		return;
	}
	kdc_time_format(ms + (int64_t)offset_min * 60000, local, sizeof local);
	local[10] = ' ';
	local[19] = '\0';
	fmt_age(v->now - ms, age, sizeof age);
	snprintf(out, len, "%s (%s)", local, age);
}

/* 1234567 -> "1,234,567" */
static void fmt_num(long long n, char *out, size_t len)
{
	char raw[32], buf[48];
	int i, j = 0, digits;

	snprintf(raw, sizeof raw, "%lld", n < 0 ? -n : n);
	digits = (int)strlen(raw);
	if (n < 0)
		buf[j++] = '-';
	for (i = 0; i < digits; i++) {
		if (i > 0 && (digits - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = raw[i];
	}
	buf[j] = '\0';
	snprintf(out, len, "%s", buf);
}

/* Share of part in whole in tenths of a percent, rounded down (158 of 186:
 * 849), or -1 without a denominator. The one rule of every percentage shown,
 * as on the dashboard (docs/stats.md): from the counts, rounded once and
 * never up, so a share below a target never shows as reaching it. */
static long long share_tenths(long long part, long long whole)
{
	if (whole <= 0 || part < 0 || part > LLONG_MAX / 1000)
		return -1;
	return part * 1000 / whole;
}

static void pct(long long part, long long whole, char *out, size_t len)
{
	long long t = share_tenths(part, whole);

	if (t < 0)
		snprintf(out, len, "-");
	else if (t % 10)
		snprintf(out, len, "%lld.%lld%%", t / 10, t % 10);
	else
		snprintf(out, len, "%lld%%", t / 10);
}

/* tenths: the share in tenths of a percent (share_tenths); target in percent */
static void draw_bar(const struct view *v, long long tenths, double target, int good)
{
	int fill = (int)(tenths * BAR_WIDTH / 1000); /* down, as the number */
	int mark = (int)(target / 100.0 * BAR_WIDTH + 0.5);

	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	if (fill < 0)
		fill = 0;
	fputc('[', v->out);
	fputs(color(v, good ? GREEN : YELLOW), v->out);
	for (int i = 0; i < BAR_WIDTH; i++) {
		if (i == mark - 1 && i >= fill)
			fputs(v->tty ? "┊" : "|", v->out);
		else if (i < fill)
			fputs(v->tty ? "█" : "#", v->out);
		else
			fputs(v->tty ? "░" : ".", v->out);
	}
	fputs(color(v, RESET), v->out);
	fputc(']', v->out);
}

/* "29 days left" / "3 days overdue", counted from the ward's local date of
 * as_of (not the UTC date: they differ from 17:00 UTC in Vietnam), or "". */
static void fmt_days_left(const cJSON *root, const char *deadline, char *out, size_t len)
{
	int64_t ms, today, day;
	long long left;
	char buf[11];

	out[0] = '\0';
	if (!deadline || kdc_time_parse(jstr(root, "as_of", ""), &ms) != KDC_OK ||
	    kdc_profile_parse_date(deadline, buf, &day) != KDC_OK)
		return;
	today = kdc_local_day(ms, (int)jint(root, "utc_offset_min"));
	left = (long long)(day - today);
	if (left >= 0)
		snprintf(out, len, ", %lld day%s left", left, left == 1 ? "" : "s");
	else
		snprintf(out, len, ", %lld day%s overdue", -left, left == -1 ? "" : "s");
}

static void draw_targets(const struct view *v, const cJSON *root)
{
	const cJSON *t;

	if (cJSON_GetArraySize(jget(root, "targets")) == 0)
		return;
	fprintf(v->out, "\n%sTargets%s\n", color(v, BOLD), color(v, RESET));
	cJSON_ArrayForEach(t, jget(root, "targets")) {
		const cJSON *per = jget(t, "percent");
		const char *projected = jstr(t, "projected", NULL), *deadline = jstr(t, "deadline", NULL);
		int met = cJSON_IsTrue(jget(t, "met")), on_track = cJSON_IsTrue(jget(t, "on_track"));
		/* from the counts, not from the rounded `current` */
		long long tenths = share_tenths(jint(t, "value"), jint(t, "denominator"));
		double p = cJSON_IsNumber(per) ? per->valuedouble : 0;
		char line[160], share[32], left[48];

		fprintf(v->out, "  %-28s ", jstr(t, "indicator", "?"));
		draw_bar(v, tenths < 0 ? 0 : tenths, p, met || on_track);
		fmt_days_left(root, met ? NULL : deadline, left, sizeof left);
		pct(jint(t, "value"), jint(t, "denominator"), share, sizeof share);
		if (tenths >= 0)
			fprintf(v->out, " %7s of %g%% by %s%s\n", share, p, deadline ? deadline : "?", left);
		else
			fprintf(v->out, "       -  of %g%% by %s%s (no denominator in the profile)\n", p,
			        deadline ? deadline : "?", left);
		if (met)
			snprintf(line, sizeof line, "%smet%s", color(v, GREEN), color(v, RESET));
		else if (projected)
			snprintf(line, sizeof line, "at the last 30 days' pace (+%lld): reached %s%s%s", jint(t, "gained_30d"),
			         color(v, on_track ? GREEN : RED), projected, color(v, RESET));
		else
			snprintf(line, sizeof line, "%snot at this pace%s (+%lld in 30 days)", color(v, RED),
			         color(v, RESET), jint(t, "gained_30d"));
		fprintf(v->out, "  %-28s %lld of %lld; %s%s\n", "", jint(t, "value"), jint(t, "denominator"),
		        line, !met && !on_track ? ", after the deadline" : "");
	}
}

static void draw_series(const struct view *v, const cJSON *series)
{
	static const char *const blocks[] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char *const ascii[] = { " ", ".", ".", ":", ":", "+", "+", "#", "#" };
	static const char *const kinds[] = { "visit", "account", "payment", "service" };
	long long max = 0;

	for (int k = 0; k < 4; k++) {
		const cJSON *d;
		cJSON_ArrayForEach(d, jget(series, kinds[k]))
			if (d->valuedouble > max)
				max = (long long)d->valuedouble;
	}
	fprintf(v->out, "\n%sLast %lld days%s from %s (one column per day, highest %lld)\n", color(v, BOLD),
	        jint(series, "days"), color(v, RESET), jstr(series, "start", "?"), max);
	for (int k = 0; k < 4; k++) {
		const cJSON *d;
		fprintf(v->out, "  %-8s ", kinds[k]);
		cJSON_ArrayForEach(d, jget(series, kinds[k])) {
			int level = max > 0 ? (int)((d->valuedouble * 8 + max - 1) / max) : 0;
			if (level > 8)
				level = 8;
			fputs(v->tty ? blocks[level] : ascii[level], v->out);
		}
		fputc('\n', v->out);
	}
}

/* The households by status, from the khóm's household list or summed over
 * the ward's khóms (scope ward); nothing for a team. */
static void draw_household_status(const struct view *v, const cJSON *root)
{
	struct kdc_hh_tally t;
	size_t n;
	char line[256];

	if (!v->hh)
		return;
	n = kdc_hh_table_sum(v->hh, &t);
	if (n == 0) {
		fprintf(v->out, "households by status: no household list published yet\n");
		return;
	}
	kdc_hh_format(&t, line, sizeof line);
	if (strcmp(jstr(root, "scope", "ward"), "ward") == 0)
		fprintf(v->out, "households by status (%zu khóm%s): %s\n", n, n == 1 ? "" : "s", line);
	else
		fprintf(v->out, "households by status: %s\n", line);
	fprintf(v->out, "%-22s (%lld households %s", "", t.total,
	        t.with_register ? "on the register" : "seen in events, no register");
	if (t.field_added > 0)
		fprintf(v->out, ", %lld added in the field", t.field_added);
	fputs(")\n", v->out);
}

/* The events table: one row per kind, then the voided events (corrected or
 * withdrawn: in no figure) when the snapshot says (older aggregators do not). */
static void draw_events(const struct view *v, const cJSON *ev)
{
	const cJSON *o, *voided = jget(ev, "voided");

	fprintf(v->out, "\n%s%-22s %10s %10s %10s %10s%s\n", color(v, BOLD), "Events", "24 h", "7 d", "30 d",
	        "total", color(v, RESET));
	cJSON_ArrayForEach(o, ev)
		if (cJSON_IsObject(o))
			fprintf(v->out, "  %-20s %10lld %10lld %10lld %10lld\n", o->string, jint(o, "24h"), jint(o, "7d"),
			        jint(o, "30d"), jint(o, "total"));
	if (cJSON_IsNumber(voided))
		fprintf(v->out, "  %-20s %43lld  (corrected or withdrawn: in no figure)\n", "voided", jint(ev, "voided"));
}

static void draw(const struct view *v, const cJSON *root, const cJSON *status)
{
	const cJSON *hh = jget(root, "households"), *pp = jget(root, "people_15plus");
	const cJSON *acc = jget(root, "accounts"), *ev = jget(root, "events");
	const cJSON *svc = jget(root, "services"), *pay = jget(root, "payments"), *o;
	int offset = (int)jint(root, "utc_offset_min");
	char a[64], b[64], c[64], when[96];
	const char *scope = jstr(root, "scope", "ward");

	/* heading: where, what, how fresh */
	fprintf(v->out, "%s%s%s", color(v, BOLD), jstr(root, "ward_name", "?"), color(v, RESET));
	fprintf(v->out, " (%s)", jstr(root, "ward", "?"));
	if (strcmp(scope, "ward") != 0)
		fprintf(v->out, " · %s %s: %s%s", scope, jstr(root, "id", "?"), jstr(root, "name", "?"),
		        cJSON_IsTrue(jget(root, "unassigned")) ? " (not in the ward profile)" : "");
	fprintf(v->out, "   snapshot #%lld\n", jint(root, "seq"));
	fmt_when(v, jstr(root, "as_of", NULL), offset, when, sizeof when);
	fprintf(v->out, "as of %s, UTC%+03d:%02d", when, offset / 60, abs(offset) % 60);
	fmt_when(v, jstr(root, "latest_event", NULL), offset, when, sizeof when);
	fprintf(v->out, " · latest event %s\n", when);
	if (status) {
		const char *st = jstr(status, "status", "?");
		const char *col = strcmp(st, "online") == 0 ? GREEN : RED;
		const char *since = jstr(status, "since", NULL);

		/* the will cannot know when it is published (since null): then the
		 * last time the aggregator was known alive, its last snapshot */
		if (!since && strcmp(st, "offline") == 0) {
			fmt_when(v, jstr(root, "as_of", NULL), offset, when, sizeof when);
			fprintf(v->out, "aggregator %s%s%s, last seen alive %s", color(v, col), st,
			        color(v, RESET), when);
		} else {
			fmt_when(v, since, offset, when, sizeof when);
			fprintf(v->out, "aggregator %s%s%s since %s", color(v, col), st, color(v, RESET), when);
		}
		if (jstr(status, "reason", NULL))
			fprintf(v->out, ": %s", jstr(status, "reason", ""));
		if (strcmp(st, "online") != 0)
			fprintf(v->out, " %s(numbers may be out of date)%s", color(v, RED), color(v, RESET));
		fputc('\n', v->out);
	} else {
		fprintf(v->out, "aggregator status: not known yet\n");
	}

	fprintf(v->out, "\n%s%-22s %10s %10s %10s %10s%s\n", color(v, BOLD), "Households", "total",
	        "visited", "surveyed", "reached", color(v, RESET));
	fprintf(v->out, "%-22s %10lld %10lld %10lld %10lld\n", "", jint(hh, "total"), jint(hh, "visited"),
	        jint(hh, "surveyed"), jint(hh, "reached"));
	pct(jint(hh, "visited"), jint(hh, "total"), a, sizeof a);
	pct(jint(hh, "surveyed"), jint(hh, "total"), b, sizeof b);
	pct(jint(hh, "reached"), jint(hh, "total"), c, sizeof c);
	fprintf(v->out, "%-22s %10s %10s %10s %10s\n", "", "", a, b, c);
	draw_household_status(v, root);

	fprintf(v->out, "%s%-22s %10s %21s %21s%s\n", color(v, BOLD), "People aged 15+", "total",
	        "with payment account", "paying regularly", color(v, RESET));
	pct(jint(pp, "with_payment_account"), jint(pp, "total"), a, sizeof a);
	pct(jint(pp, "paying_regularly"), jint(pp, "total"), b, sizeof b);
	fprintf(v->out, "%-22s %10lld %13lld %7s %13lld %7s\n", "", jint(pp, "total"),
	        jint(pp, "with_payment_account"), a, jint(pp, "paying_regularly"), b);
	fprintf(v->out, "%-22s (paying regularly: a payment account and a payment in the last %lld days)\n",
	        "", jint(root, "regular_window_days"));
	fprintf(v->out, "%sAccounts opened%s (people): portal %lld · VNeID level 2 %lld · provincial app %lld · payment %lld\n",
	        color(v, BOLD), color(v, RESET), jint(acc, "public_service_portal"), jint(acc, "vneid_level2"),
	        jint(acc, "provincial_app"), jint(acc, "payment"));

	if (jget(root, "service_users") || jget(root, "businesses")) {
		const cJSON *su = jget(root, "service_users"), *bz = jget(root, "businesses");
		pct(jint(su, "e_identified"), jint(su, "total"), a, sizeof a);
		pct(jint(bz, "using_einvoice"), jint(bz, "total"), b, sizeof b);
		fprintf(v->out, "%sOnline public services%s: %lld users (people and businesses), %lld e-identified %s\n",
		        color(v, BOLD), color(v, RESET), jint(su, "total"), jint(su, "e_identified"), a);
		fprintf(v->out, "%sBusinesses%s: %lld, %lld issuing e-invoices %s\n", color(v, BOLD),
		        color(v, RESET), jint(bz, "total"), jint(bz, "using_einvoice"), b);
	}

	draw_targets(v, root);

	draw_events(v, ev);
	fprintf(v->out, "%sServices, 30 days:%s", color(v, BOLD), color(v, RESET));
	cJSON_ArrayForEach(o, svc)
		fprintf(v->out, " %s %lld%s", o->string, (long long)o->valuedouble, o->next ? " ·" : "");
	fputc('\n', v->out);
	fmt_num(jint(pay, "amount_vnd_30d"), a, sizeof a);
	fmt_num(jint(pay, "amount_vnd_total"), b, sizeof b);
	fprintf(v->out, "%sPayments:%s 30 days %lld (%s VND) · total %lld (%s VND)\n", color(v, BOLD),
	        color(v, RESET), jint(pay, "count_30d"), a, jint(pay, "count_total"), b);

	draw_series(v, jget(root, "series"));

	fprintf(v->out, "\n%s%-12s %-10s %-36s %8s%s\n", color(v, BOLD), "Device", "team", "last event",
	        "events", color(v, RESET));
	cJSON_ArrayForEach(o, jget(root, "devices")) {
		const char *last = jstr(o, "last_event", NULL);
		fmt_when(v, last, offset, when, sizeof when);
		fprintf(v->out, "  %-10s %-10s %s%-36s%s %8lld\n", jstr(o, "device", "?"), jstr(o, "team", "?"),
		        color(v, last ? "" : YELLOW), last ? when : "nothing yet", color(v, RESET), jint(o, "events"));
	}
	fprintf(v->out, "\nstored %lld events · rejected %lld payloads (whole ward)\n", jint(root, "stored_total"),
	        jint(root, "rejected_total"));
}

/* Renders one frame and writes it in one go. */
static void render(int tty, const char *stats_json, const char *status_json, const char *topic,
                   const struct kdc_hh_table *hh)
{
	struct view v = { NULL, tty, kdc_now_ms(), hh };
	cJSON *root = cJSON_Parse(stats_json), *status = status_json ? cJSON_Parse(status_json) : NULL;
	char *frame = NULL;
	size_t len = 0;

	v.out = open_memstream(&frame, &len);
	if (!v.out)
		goto cleanup;
	if (tty)
		fputs("\033[H\033[2J", v.out);
	if (!root || !cJSON_IsObject(root))
		fprintf(v.out, "%s: the snapshot is not JSON\n", topic);
	else
		draw(&v, root, status);
	if (tty)
		fprintf(v.out, "\n%s%s · Ctrl-C to quit%s\n", color(&v, DIM), topic, color(&v, RESET));
	else
		fputs("----\n", v.out);
	fclose(v.out);
	fwrite(frame, 1, len, stdout);
	fflush(stdout);
cleanup:
	free(frame);
	cJSON_Delete(root);
	cJSON_Delete(status);
}

/* ---- main ----------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out, "usage: kdc-stats (--config FILE | --broker URL --ward CODE) [--khom K | --team T] [--once] [--json] [options]\n\n"
	             "Shows the ward's adoption statistics as published by kdc-aggregator, live, with\n"
	             "the households by status (from the khóms' household lists) and the voided events.\n"
	             "On a ward server, with the viewer account kdc-ward init wrote (broker, account, ward):\n"
	             "  kdc-stats --config /etc/kdc/31975/dashboard.conf                 the whole ward, refreshing\n"
	             "  kdc-stats --config /etc/kdc/31975/dashboard.conf --khom 6        one khóm\n"
	             "  kdc-stats --config /etc/kdc/31975/dashboard.conf --once --json   the snapshot as JSON, then exit\n"
	             "Against the demo's or the tests' broker (anonymous, plain MQTT):\n"
	             "  kdc-stats --broker tcp://127.0.0.1:PORT --ward 31975\n"
	             "What every number means: docs/stats.md.\n\noptions:\n");
	kdc_conf_usage(opts, out);
	fprintf(out, "\nExit status: 0 done, 1 MQTT failure, 2 usage error, 3 nothing arrived within --timeout.\n");
	kdc_err_exit_usage(out);
}

static int check_args(struct cli *c, char *err, size_t errlen)
{
	if (!c->ward || !kdc_code_valid(c->ward)) {
		snprintf(err, errlen, "--ward CODE is required (the ward's code, as in the topics)");
		return EXIT_USAGE;
	}
	if (c->khom && c->team) {
		snprintf(err, errlen, "give --khom or --team, not both");
		return EXIT_USAGE;
	}
	if ((c->khom && !kdc_code_valid(c->khom)) || (c->team && !kdc_code_valid(c->team))) {
		snprintf(err, errlen, "--khom and --team take a code of A-Z a-z 0-9 _ -");
		return EXIT_USAGE;
	}
	return 0;
}

static int run(struct cli *c)
{
	struct inbox in;
	struct kdc_mqtt_callbacks cbs = { on_message, on_connection, &in };
	struct kdc_mqtt_conf mc = c->mqtt;
	int tty = isatty(STDOUT_FILENO) && !c->json;
	unsigned seen_stats = 0, seen_status = 0, seen_hh = 0;
	struct kdc_hh_table hh = { NULL, 0, 0 };
	int64_t start = kdc_mono_ms(), last_draw = 0, got_stats_at = 0;
	char client_id[64], err[768];
	kdc_mqtt *m = NULL;
	int ret = 0;

	memset(&in, 0, sizeof in);
	pthread_mutex_init(&in.lock, NULL);
	if (kdc_topic_stats(in.stats_topic, sizeof in.stats_topic, c->ward, c->khom ? "khom" : c->team ? "team" : "ward",
	                    c->khom ? c->khom : c->team) < 0 ||
	    kdc_topic_status(in.status_topic, sizeof in.status_topic, c->ward) < 0 ||
	    (!c->team && kdc_topic_households(in.hh_filter, sizeof in.hh_filter, c->ward, c->khom ? c->khom : "+") < 0)) {
		fprintf(stderr, "kdc-stats: the topic would be too long\n");
		ret = EXIT_USAGE;
		goto cleanup;
	}
	snprintf(in.ward, sizeof in.ward, "%s", c->ward);
	if (!mc.client_id || !*mc.client_id) {
		/* a viewer's own, short-lived id: many may watch at once */
		snprintf(client_id, sizeof client_id, "kdc-stats-%ld-%lld", (long)getpid(),
		         (long long)(kdc_now_ms() % 100000));
		mc.client_id = client_id;
	}
	if (!(m = kdc_mqtt_new(&mc, &cbs, err, sizeof err))) {
		fprintf(stderr, "kdc-stats: %s\n", err);
		ret = EXIT_FAIL;
		goto cleanup;
	}
	/* QoS 0: a viewer wants the retained state, never a queue of old ones.
	 * In this order: the broker sends each subscription's retained messages
	 * before it answers the next one, so once the status is in, the
	 * household lists are too (--once draws them). */
	if (kdc_mqtt_subscribe(m, in.stats_topic, 0) != KDC_OK ||
	    (in.hh_filter[0] && kdc_mqtt_subscribe(m, in.hh_filter, 0) != KDC_OK) ||
	    kdc_mqtt_subscribe(m, in.status_topic, 0) != KDC_OK) {
		fprintf(stderr, "kdc-stats: cannot subscribe\n");
		ret = EXIT_FAIL;
		goto cleanup;
	}
	if (tty && !c->once) {
		printf("\033[H\033[2Jwaiting for %s on %s ...\n", in.stats_topic, mc.broker);
		fflush(stdout);
	}
	while (!stop_flag) {
		char *stats = NULL, *status = NULL;
		unsigned sg, tg, hg;
		int64_t mono;
		int draw_now = 0, done = 0;

		kdc_mqtt_tick(m);
		kdc_sleep_ms(50);
		mono = kdc_mono_ms();
		pthread_mutex_lock(&in.lock);
		sg = in.stats_gen;
		tg = in.status_gen;
		hg = in.hh_gen;
		if (hg != seen_hh && kdc_hh_table_copy(&hh, &in.hh) != 0)
			hg = seen_hh; /* out of memory: try again on the next turn */
		stats = in.stats ? strdup(in.stats) : NULL;
		status = in.status ? strdup(in.status) : NULL;
		pthread_mutex_unlock(&in.lock);

		if (stats && !got_stats_at)
			got_stats_at = mono;
		if (stats && c->json) {
			if (sg != seen_stats) {
				printf("%s\n", stats);
				fflush(stdout);
				done = c->once;
			}
		} else if (stats && c->once) {
			/* wait a moment for the status, to show it too */
			draw_now = done = status != NULL || mono - got_stats_at >= 1000;
		} else if (stats) {
			draw_now = sg != seen_stats || tg != seen_status || hg != seen_hh ||
			           (tty && mono - last_draw >= 1000);
		}
		if (draw_now) {
			render(tty, stats, status, in.stats_topic, in.hh_filter[0] ? &hh : NULL);
			last_draw = mono;
		}
		seen_stats = sg;
		seen_status = tg;
		seen_hh = hg;
		free(stats);
		free(status);
		if (done)
			break;
		if (c->once && !got_stats_at &&
		    (ret = kdc_mqtt_give_up(m, mono - start >= c->timeout * 1000, err, sizeof err))) {
			fprintf(stderr, "kdc-stats: gave up: %s\n", err);
			break;
		}
		if (c->once && !got_stats_at && mono - start >= c->timeout * 1000) {
			int ever;
			pthread_mutex_lock(&in.lock);
			ever = in.ever_connected;
			pthread_mutex_unlock(&in.lock);
			if (!ever)
				fprintf(stderr, "kdc-stats: no statistics within %lld s: could not connect to %s "
				        "(check --broker, --username/--password, TLS files)\n", c->timeout, mc.broker);
			else
				fprintf(stderr, "kdc-stats: no statistics within %lld s: nothing retained on %s "
				        "(is kdc-aggregator running for ward %s%s?)\n", c->timeout, in.stats_topic,
				        c->ward, c->khom || c->team ? ", and does that khóm/team exist" : "");
			ret = EXIT_TIMEOUT;
			break;
		}
	}
cleanup:
	if (m) {
		kdc_mqtt_disconnect(m, 1000);
		kdc_mqtt_free(m);
	}
	free(in.stats);
	free(in.status);
	kdc_hh_table_free(&in.hh);
	kdc_hh_table_free(&hh);
	pthread_mutex_destroy(&in.lock);
	return ret;
}

int main(int argc, char **argv)
{
	struct cli c;
	char err[512];
	int argi = 1, ret;

	kdc_prog_init("kdc-stats");
	memset(&c, 0, sizeof c);
	if (kdc_prog_help_version(argc, argv, 1, usage, &ret))
		return ret;
	if ((ret = kdc_prog_options(opts, &c, argc, argv, &argi, 0)) != 0)
		goto cleanup;
	/* a viewer keeps no session on the broker after it quits */
	c.mqtt.clean_session = 1;
	if ((ret = check_args(&c, err, sizeof err)) != 0) {
		fprintf(stderr, "kdc-stats: %s\n", err);
		goto cleanup;
	}
	if ((ret = kdc_prog_log_level(c.log_level)) != 0)
		goto cleanup;
	kdc_prog_on_stop(&stop_flag, 0);
	ret = run(&c);
cleanup:
	kdc_conf_free(opts, &c);
	return ret;
}
