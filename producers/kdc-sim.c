/* kdc-sim: simulates a ward's door-to-door campaign through the real device
 * library, and doubles as the load generator of the benchmarks.
 *
 *   kdc-sim [--profile FILE] [--days N] [--seed N] [--realtime [--speed X]]
 *           [--broker URL ...] [--dir DIR] [--no-sync] [--summary-json FILE]
 *   kdc-sim --events M [--devices N] [--rate R] ...        (load mode)
 *
 * Every simulated device is a kdc_producer of its own: its own outbox file
 * (DIR/{device}.db) and its own MQTT connection (client id
 * kdc-sim-{ward}-{device}). The library has no shared-connection mode, so
 * neither has kdc-sim. A connect made while another client of the process is
 * already connected takes Paho about 2.1 s; so every device's connect is
 * started at once, before any completes (measured here: 4, 16 and 32 devices
 * all connected within a second), and recording never waits for them. A
 * device that loses its connection later pays the 2.1 s on reconnecting. All
 * devices share Paho's one send thread: about 25,000 publishes a second per
 * process, so --devices is capped at 64.
 *
 * Exit status: 0 done (nothing pending, or --no-sync), 1 an outbox failed,
 * 2 usage or configuration error, 3 sync timed out with events pending,
 * 130 interrupted. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"
#include "kdc_util.h"
#include "producer.h"
#include "profile.h"
#include "sim.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3
#define EXIT_INTERRUPTED 130

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define LOAD_CHUNK 500          /* events per device per transaction, --rate 0 */
#define MARGIN_MS HOUR_MS       /* keep clear of the aggregator's time limits */

struct cli {
	struct kdc_mqtt_conf mqtt;
	char *config, *profile, *ward, *dir, *end, *summary_json, *progress, *log_level;
	long long days, seed, team_devices, speed, devices, events, rate, sync_timeout;
	long long resend_after, window;
	int realtime, no_sync, help;
};

#define O(name, type, field, min, max, def, help) \
	{ name, type, offsetof(struct cli, field), min, max, def, help }

static const struct kdc_opt opts[] = {
	O("config", KDC_OPT_STR, config, 0, 0, NULL, "read these settings from a file (key = value lines)"),
	O("profile", KDC_OPT_STR, profile, 0, 0, NULL, "ward profile (INI, as for kdc-aggregator); default: the built-in pilot, khóm 6 of phường 1 (ward 31975, 186 households, 520 people 15+, team T1)"),
	O("ward", KDC_OPT_STR, ward, 0, 0, NULL, "ward code (default: the profile's)"),
	O("dir", KDC_OPT_STR, dir, 0, 0, "var/sim", "directory of the devices' outboxes ({device}.db)"),
	O("days", KDC_OPT_INT, days, 1, 700, "90", "length of the campaign in days"),
	O("end", KDC_OPT_STR, end, 0, 0, NULL, "end of the campaign window, e.g. 2026-11-27T10:00:00Z (default: now)"),
	O("seed", KDC_OPT_INT, seed, 0, 9223372036854775807LL, "1", "random seed: the same seed gives the same events (ids apart)"),
	O("team-devices", KDC_OPT_INT, team_devices, 1, 64, "4", "devices per team: the profile's listed ones first, then {team}-D1, -D2, ..."),
	O("realtime", KDC_OPT_BOOL, realtime, 0, 0, NULL, "play the campaign live from now (events stamped as they happen)"),
	O("speed", KDC_OPT_INT, speed, 1, 100000000, "1", "with --realtime: simulated seconds per wall second (3600: an hour a second)"),
	O("events", KDC_OPT_INT, events, 0, 1000000000, "0", "load mode: record this many events in total (instead of a campaign)"),
	O("devices", KDC_OPT_INT, devices, 0, 64, "0", "load mode: devices to spread the events over (default 4), each with its own connection"),
	O("rate", KDC_OPT_INT, rate, 0, 10000000, "0", "load mode: events per second in total (0 = as fast as possible)"),
	O("no-sync", KDC_OPT_BOOL, no_sync, 0, 0, NULL, "only record into the outboxes: connect to nothing, publish nothing"),
	O("sync-timeout", KDC_OPT_INT, sync_timeout, 1, 86400, "300", "after recording, wait at most this many seconds for every receipt"),
	O("summary-json", KDC_OPT_STR, summary_json, 0, 0, NULL, "also write the summary as JSON to this file"),
	O("progress", KDC_OPT_STR, progress, 0, 0, "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or none"),
	KDC_MQTT_OPTS(struct cli, mqtt),
	O("resend-after", KDC_OPT_INT, resend_after, 1, 86400, "30", "seconds without a receipt before an event is sent again"),
	O("window", KDC_OPT_INT, window, 1, 1000, "100", "events sent but not yet acknowledged, per device"),
	O("log-level", KDC_OPT_STR, log_level, 0, 0, "warning", "debug, info, notice, warning or error"),
	O("help", KDC_OPT_BOOL, help, 0, 0, NULL, "show help"),
	KDC_OPT_END
};

static volatile sig_atomic_t stop_flag;

/* ---- devices ------------------------------------------------------------------ */

struct device {
	kdc_producer *p;
	char outbox[PATH_MAX];
	char client_id[128];
	int in_tx;               /* a batch is open */
	int64_t pending_before;  /* pending rows found at start (an earlier run) */
	int64_t recorded, late, since_poll;
	int offline;             /* simulated state now */
};

struct run {
	struct cli *cli;
	struct kdc_profile *prof;
	struct kdc_sim *sim;
	struct device *dev;
	size_t ndev;
	struct kdc_sim_tally tally;
	int load;
	int64_t load_kinds[KDC_KIND_COUNT];
	int64_t start_ms, end_ms;   /* the window */
	int64_t t0_mono;
	int64_t record_ms;          /* wall time spent recording (and publishing meanwhile) */
	int64_t sync_ms;            /* wall time of the final sync */
	int64_t recorded, late, offline_periods;
	int64_t delivered, pending, rejected;
	int synced;                 /* 1: nothing pending at the end */
	int fatal;                  /* an outbox failed */
	/* progress */
	int pmode;                  /* 0 none, 1 bar, 2 lines */
	int64_t p_last_ms;
	int p_last_tenth;
	int p_wrote;
};

static int64_t dev_pending_estimate(const struct run *r)
{
	int64_t n = 0;
	struct kdc_producer_stats st;

	for (size_t d = 0; d < r->ndev; d++) {
		kdc_producer_stats(r->dev[d].p, &st);
		n += r->dev[d].pending_before + st.recorded - st.committed - st.rejected;
	}
	return n < 0 ? 0 : n;
}

static int64_t dev_delivered(const struct run *r)
{
	int64_t n = 0;
	struct kdc_producer_stats st;

	for (size_t d = 0; d < r->ndev; d++) {
		kdc_producer_stats(r->dev[d].p, &st);
		n += st.committed;
	}
	return n;
}

static int dev_connected(const struct run *r)
{
	int n = 0;

	for (size_t d = 0; d < r->ndev; d++)
		n += kdc_producer_connected(r->dev[d].p);
	return n;
}

/* ---- progress ------------------------------------------------------------------ */

/* label: what is going on; frac: 0..1, or < 0 when unknown. */
static void progress(struct run *r, const char *label, double frac, int force)
{
	char line[256], bar[32];
	int64_t now = kdc_mono_ms();
	int tenth = frac < 0 ? -1 : (int)(frac * 10);
	int n;

	if (r->pmode == 0)
		return;
	if (!force && r->pmode == 1 && now - r->p_last_ms < 100)
		return;
	if (!force && r->pmode == 2 && now - r->p_last_ms < 5000 && tenth == r->p_last_tenth)
		return;
	r->p_last_ms = now;
	r->p_last_tenth = tenth;
	n = snprintf(line, sizeof line, "%s: recorded %lld", label, (long long)r->recorded);
	if (!r->cli->no_sync && n > 0 && (size_t)n < sizeof line)
		snprintf(line + n, sizeof line - (size_t)n, ", delivered %lld, pending %lld, connected %d/%zu",
		         (long long)dev_delivered(r), (long long)dev_pending_estimate(r),
		         dev_connected(r), r->ndev);
	if (r->pmode == 1) {
		int fill = frac < 0 ? 0 : (int)(frac * 24 + 0.5);
		for (int i = 0; i < 24; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[24] = '\0';
		if (frac < 0)
			fprintf(stderr, "\r%s\033[K", line);
		else
			fprintf(stderr, "\r[%s] %3d%% %s\033[K", bar, (int)(frac * 100 + 0.5), line);
		r->p_wrote = 1;
	} else {
		if (frac < 0)
			fprintf(stderr, "kdc-sim: %s\n", line);
		else
			fprintf(stderr, "kdc-sim: %3d%% %s\n", (int)(frac * 100 + 0.5), line);
	}
}

static void progress_end(struct run *r)
{
	if (r->pmode == 1 && r->p_wrote) {
		fputc('\n', stderr);
		r->p_wrote = 0;
	}
}

/* ---- recording and polling ------------------------------------------------------- */

static int record_pb(struct run *r, size_t d, struct kdc_sim_pb *pb)
{
	struct device *dv = &r->dev[d];
	struct kdc_verdict v;
	uint8_t id[KDC_UUID_LEN];
	int rc;

	if (!dv->in_tx) {
		if ((rc = kdc_outbox_begin(kdc_producer_outbox(dv->p))) != KDC_OK)
			goto fail;
		dv->in_tx = 1;
	}
	rc = kdc_producer_record(dv->p, &pb->ev, id, &v);
	if (rc == KDC_ERR_INVAL) {
		/* the model made an event the validation refuses: a bug here */
		kdc_error("device %s: simulated event refused: %s", r->sim->devices[d].code, v.detail);
		goto fail;
	}
	if (rc != KDC_OK)
		goto fail;
	dv->recorded++;
	dv->since_poll++;
	r->recorded++;
	return KDC_OK;
fail:
	kdc_error("device %s: cannot record into %s: %s (%s)", r->sim->devices[d].code, dv->outbox,
	          kdc_strerror(rc), kdc_outbox_errmsg(kdc_producer_outbox(dv->p)));
	r->fatal = 1;
	return rc == KDC_OK ? KDC_ERR_DB : rc;
}

static int commit_all(struct run *r)
{
	int rc;

	for (size_t d = 0; d < r->ndev; d++) {
		struct device *dv = &r->dev[d];
		if (!dv->in_tx)
			continue;
		dv->in_tx = 0;
		if ((rc = kdc_outbox_commit(kdc_producer_outbox(dv->p))) != KDC_OK) {
			kdc_error("device %s: cannot commit to %s: %s (%s)", r->sim->devices[d].code,
			          dv->outbox, kdc_strerror(rc), kdc_outbox_errmsg(kdc_producer_outbox(dv->p)));
			kdc_outbox_rollback(kdc_producer_outbox(dv->p));
			r->fatal = 1;
			return rc;
		}
	}
	return KDC_OK;
}

/* One round for device d: drives its connection, applies receipts, sends. */
static int poll_dev(struct run *r, size_t d)
{
	int rc;

	if (r->cli->no_sync)
		return KDC_OK;
	r->dev[d].since_poll = 0;
	if ((rc = kdc_producer_poll(r->dev[d].p, 0)) != KDC_OK) {
		kdc_error("device %s: %s (%s)", r->sim->devices[d].code, kdc_strerror(rc),
		          kdc_outbox_errmsg(kdc_producer_outbox(r->dev[d].p)));
		r->fatal = 1;
	}
	return rc;
}

/* ---- the three ways to run --------------------------------------------------------- */

/* Compressed time: the whole window is recorded as fast as the outboxes allow,
 * an hour of simulated time per transaction. A device offline in simulated
 * time keeps its events (late uploads) until its period ends. */
static int run_compressed(struct run *r)
{
	const struct kdc_sim *s = r->sim;
	struct kdc_sim_pb pb;
	size_t i = 0;
	int64_t step_end;
	char label[64], day[16];

	while (i < s->nevents && !stop_flag) {
		/* the simulated hour of the next event */
		step_end = s->events[i].t - (s->events[i].t % HOUR_MS) + HOUR_MS;
		while (i < s->nevents && s->events[i].t < step_end) {
			const struct kdc_sim_event *e = &s->events[i++];
			kdc_sim_event_pb(s, e, &pb);
			if (record_pb(r, e->device, &pb) != KDC_OK)
				return EXIT_FAIL;
			kdc_sim_tally_add(&r->tally, e);
			if (kdc_sim_offline(s, e->device, e->t)) {
				r->dev[e->device].late++;
				r->late++;
			}
		}
		if (commit_all(r) != KDC_OK)
			return EXIT_FAIL;
		for (size_t d = 0; d < r->ndev; d++) {
			int off = kdc_sim_offline(s, d, step_end);
			/* online devices send what they have; offline ones hold it */
			if (!off && (r->dev[d].since_poll || r->dev[d].offline) && poll_dev(r, d) != KDC_OK)
				return EXIT_FAIL;
			r->dev[d].offline = off;
		}
		kdc_day_format(kdc_local_day(step_end, s->utc_offset_min), day, sizeof day);
		snprintf(label, sizeof label, "campaign %s", day);
		progress(r, label, (double)i / (double)s->nevents, 0);
	}
	return stop_flag ? EXIT_INTERRUPTED : 0;
}

/* Live: the campaign plays from now on, `speed` simulated seconds per wall
 * second; each event is stamped with the wall clock when it is recorded. */
static int run_realtime(struct run *r)
{
	const struct kdc_sim *s = r->sim;
	struct kdc_sim_pb pb;
	int64_t speed = r->cli->speed, mono0 = kdc_mono_ms();
	char label[64], day[16];

	for (size_t i = 0; i < s->nevents && !stop_flag; i++) {
		struct kdc_sim_event e = s->events[i];
		int64_t due = mono0 + (e.t - s->start_ms) / speed, now;

		while ((now = kdc_mono_ms()) < due && !stop_flag) {
			int64_t sim_now = s->start_ms + (now - mono0) * speed;
			for (size_t d = 0; d < r->ndev; d++) {
				r->dev[d].offline = kdc_sim_offline(s, d, sim_now);
				if (!r->dev[d].offline && poll_dev(r, d) != KDC_OK)
					return EXIT_FAIL;
			}
			kdc_day_format(kdc_local_day(sim_now, s->utc_offset_min), day, sizeof day);
			snprintf(label, sizeof label, "live, simulated %s", day);
			progress(r, label, (double)i / (double)s->nevents, 0);
			kdc_sleep_ms(due - now < 50 ? due - now : 50);
		}
		if (stop_flag)
			break;
		kdc_sim_event_pb(s, &e, &pb);
		e.t = kdc_now_ms(); /* it happens now */
		pb.ev.occurred_ms = e.t;
		if (record_pb(r, e.device, &pb) != KDC_OK || commit_all(r) != KDC_OK)
			return EXIT_FAIL;
		kdc_sim_tally_add(&r->tally, &e);
		if (kdc_sim_offline(s, e.device, s->events[i].t)) {
			r->dev[e.device].late++;
			r->late++;
		} else if (poll_dev(r, e.device) != KDC_OK) {
			return EXIT_FAIL;
		}
	}
	return stop_flag ? EXIT_INTERRUPTED : 0;
}

/* Load: M events over the devices in turn, at `rate` a second in total (0:
 * batches of LOAD_CHUNK per device as fast as the outboxes take them),
 * published meanwhile. Events are stamped now. */
static int run_load(struct run *r)
{
	const struct kdc_sim *s = r->sim;
	struct kdc_sim_rng rng;
	struct kdc_sim_pb pb;
	int64_t total = r->cli->events, rate = r->cli->rate, mono0 = kdc_mono_ms();
	size_t next_dev = 0;

	kdc_sim_rng_seed(&rng, (uint64_t)r->cli->seed, 99, 0);
	while (r->recorded < total && !stop_flag) {
		int64_t due;
		if (rate > 0) {
			due = (kdc_mono_ms() - mono0) * rate / 1000 + 1 - r->recorded;
			if (due > rate / 10 + 1) /* behind: catch up in steps, keep polling */
				due = rate / 10 + 1;
		} else {
			due = (int64_t)(LOAD_CHUNK * r->ndev);
		}
		if (due > total - r->recorded)
			due = total - r->recorded;
		for (int64_t k = 0; k < due; k++) {
			size_t d = next_dev;
			next_dev = (next_dev + 1) % r->ndev;
			kdc_sim_load_event(s, &rng, d, &pb);
			if (record_pb(r, d, &pb) != KDC_OK)
				return EXIT_FAIL;
			r->load_kinds[kdc_event_kind(&pb.ev)]++;
		}
		if (commit_all(r) != KDC_OK)
			return EXIT_FAIL;
		for (size_t d = 0; d < r->ndev; d++)
			if (poll_dev(r, d) != KDC_OK)
				return EXIT_FAIL;
		progress(r, "load", (double)r->recorded / (double)total, 0);
		if (due <= 0)
			kdc_sleep_ms(1);
	}
	return stop_flag ? EXIT_INTERRUPTED : 0;
}

/* After recording: every device back online until nothing is pending. */
static int final_sync(struct run *r)
{
	int64_t start = kdc_mono_ms(), deadline = start + r->cli->sync_timeout * 1000;
	int64_t next_count = 0, pending = 1;

	while (!stop_flag) {
		int64_t now = kdc_mono_ms();
		for (size_t d = 0; d < r->ndev; d++)
			if (poll_dev(r, d) != KDC_OK)
				return EXIT_FAIL;
		if (now >= next_count) {
			pending = 0;
			for (size_t d = 0; d < r->ndev; d++) {
				int64_t n = 0;
				if (kdc_producer_pending(r->dev[d].p, &n) != KDC_OK) {
					r->fatal = 1;
					return EXIT_FAIL;
				}
				pending += n;
			}
			next_count = now + 200;
			if (pending == 0)
				break;
		}
		if (now >= deadline)
			break;
		progress(r, "sync", -1, 0);
		kdc_sleep_ms(2);
	}
	r->sync_ms = kdc_mono_ms() - start;
	if (pending == 0)
		return 0;
	return stop_flag ? EXIT_INTERRUPTED : EXIT_TIMEOUT;
}

/* ---- summary ------------------------------------------------------------------------ */

static void thousands(int64_t v, char *out, size_t len)
{
	char digits[32], tmp[48];
	int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v)), o = 0;

	if (v < 0)
		tmp[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			tmp[o++] = ',';
		tmp[o++] = digits[i];
	}
	tmp[o] = '\0';
	snprintf(out, len, "%s", tmp);
}

static void count_outboxes(struct run *r)
{
	r->pending = 0;
	r->rejected = 0;
	for (size_t d = 0; d < r->ndev; d++) {
		kdc_outbox *ob = kdc_producer_outbox(r->dev[d].p);
		int64_t n = 0;
		if (kdc_outbox_count(ob, KDC_OUTBOX_PENDING, &n) == KDC_OK)
			r->pending += n;
		if (kdc_outbox_count(ob, KDC_OUTBOX_REJECTED, &n) == KDC_OK)
			r->rejected += n;
	}
	r->delivered = dev_delivered(r);
}

static const int64_t *kinds_of(const struct run *r)
{
	return r->load ? r->load_kinds : r->tally.events;
}

static void print_summary(struct run *r, FILE *out)
{
	const struct kdc_sim *s = r->sim;
	const int64_t *k = kinds_of(r);
	char a[32], b[32], when[32];
	double secs = (double)r->record_ms / 1000.0;

	if (r->load) {
		if (r->cli->rate)
			snprintf(a, sizeof a, "%lld events/s", r->cli->rate);
		else
			snprintf(a, sizeof a, "as fast as possible");
		fprintf(out, "kdc-sim: load of %lld events over %zu devices, ward %s, rate %s\n",
		        r->cli->events, r->ndev, s->ward, a);
	} else {
		kdc_time_format(r->start_ms, a, sizeof a);
		kdc_time_format(r->end_ms, b, sizeof b);
		fprintf(out, "kdc-sim: ward %s, %lld days (%.10s to %.10s), %lld households in %zu khóm(s), "
		        "%zu devices, seed %lld%s\n", s->ward, r->cli->days, a, b, s->households_total,
		        s->nkhoms, r->ndev, r->cli->seed, r->cli->realtime ? ", live" : "");
	}
	fprintf(out, "events recorded: %lld (visit %lld, account %lld, payment %lld, service %lld) "
	        "in %.2f s, %.0f events/s\n", (long long)r->recorded, (long long)k[KDC_KIND_VISIT],
	        (long long)k[KDC_KIND_ACCOUNT], (long long)k[KDC_KIND_PAYMENT],
	        (long long)k[KDC_KIND_SERVICE], secs, secs > 0 ? (double)r->recorded / secs : 0.0);
	if (!r->load) {
		const struct kdc_sim_tally *t = &r->tally;
		thousands(t->amount_vnd, a, sizeof a);
		fprintf(out, "households: visited %lld, surveyed %lld, reached %lld of %lld; people 15+ "
		        "with a payment account %lld of %lld, paying regularly %lld\n",
		        (long long)t->visited, (long long)t->surveyed, (long long)t->reached,
		        s->households_total, (long long)t->with_payment_account, s->people_15plus_total,
		        (long long)kdc_sim_tally_paying_regularly(t, r->end_ms, s->utc_offset_min,
		                                                  s->regular_window_days));
		fprintf(out, "payments: %lld, %s VND; late uploads: %lld events recorded while their "
		        "device was offline (%lld offline periods)\n", (long long)t->payments, a,
		        (long long)r->late, (long long)r->offline_periods);
	}
	if (r->cli->no_sync) {
		fprintf(out, "not synced (--no-sync): %lld pending in %s\n", (long long)r->pending,
		        r->cli->dir);
	} else {
		kdc_time_format(kdc_now_ms(), when, sizeof when);
		fprintf(out, "delivered %lld, pending %lld, rejected %lld (sync %.2f s)%s\n",
		        (long long)r->delivered, (long long)r->pending, (long long)r->rejected,
		        (double)r->sync_ms / 1000.0, r->synced ? "" : ": NOT everything was receipted");
	}
}

static int write_summary_json(struct run *r, const char *path)
{
	static const char *const outcome[] = { NULL, "surveyed", "not_home", "declined" };
	const struct kdc_sim *s = r->sim;
	const int64_t *k = kinds_of(r);
	cJSON *root = cJSON_CreateObject(), *o, *arr;
	char when[32], *text = NULL;
	int64_t total = 0;
	int rc = KDC_ERR_NOMEM;

	if (!root)
		goto cleanup;
	cJSON_AddStringToObject(root, "mode", r->load ? "load" : r->cli->realtime ? "realtime" : "campaign");
	cJSON_AddStringToObject(root, "ward", s->ward);
	cJSON_AddNumberToObject(root, "seed", (double)r->cli->seed);
	if (!r->load) {
		cJSON_AddNumberToObject(root, "days", (double)r->cli->days);
		kdc_time_format(r->start_ms, when, sizeof when);
		cJSON_AddStringToObject(root, "start", when);
		cJSON_AddNumberToObject(root, "start_ms", (double)r->start_ms);
		kdc_time_format(r->end_ms, when, sizeof when);
		cJSON_AddStringToObject(root, "end", when);
		cJSON_AddNumberToObject(root, "end_ms", (double)r->end_ms);
	}
	arr = cJSON_AddArrayToObject(root, "devices");
	for (size_t d = 0; arr && d < r->ndev; d++) {
		cJSON *x = cJSON_CreateObject();
		if (!x)
			goto cleanup;
		cJSON_AddStringToObject(x, "device", s->devices[d].code);
		cJSON_AddStringToObject(x, "team", s->devices[d].team);
		cJSON_AddStringToObject(x, "outbox", r->dev[d].outbox);
		cJSON_AddNumberToObject(x, "recorded", (double)r->dev[d].recorded);
		cJSON_AddNumberToObject(x, "late", (double)r->dev[d].late);
		cJSON_AddNumberToObject(x, "offline_periods", (double)s->devices[d].noffline);
		cJSON_AddItemToArray(arr, x);
	}
	o = cJSON_AddObjectToObject(root, "events");
	for (int i = 0; o && i < KDC_KIND_COUNT; i++) {
		cJSON_AddNumberToObject(o, kdc_kind_name(i), (double)k[i]);
		total += k[i];
	}
	if (o)
		cJSON_AddNumberToObject(o, "total", (double)total);
	if (!r->load) {
		const struct kdc_sim_tally *t = &r->tally;
		o = cJSON_AddObjectToObject(root, "households");
		cJSON_AddNumberToObject(o, "total", (double)s->households_total);
		cJSON_AddNumberToObject(o, "visited", (double)t->visited);
		cJSON_AddNumberToObject(o, "surveyed", (double)t->surveyed);
		cJSON_AddNumberToObject(o, "reached", (double)t->reached);
		o = cJSON_AddObjectToObject(root, "visits");
		for (int i = 1; i <= 3; i++)
			cJSON_AddNumberToObject(o, outcome[i], (double)t->outcomes[i]);
		o = cJSON_AddObjectToObject(root, "people_15plus");
		cJSON_AddNumberToObject(o, "total", (double)s->people_15plus_total);
		cJSON_AddNumberToObject(o, "with_payment_account", (double)t->with_payment_account);
		cJSON_AddNumberToObject(o, "paying_regularly",
		                        (double)kdc_sim_tally_paying_regularly(t, r->end_ms, s->utc_offset_min,
		                                                               s->regular_window_days));
		cJSON_AddNumberToObject(o, "regular_window_days", s->regular_window_days);
		o = cJSON_AddObjectToObject(root, "accounts");
		for (int i = 1; i <= 4; i++)
			cJSON_AddNumberToObject(o, kdc_account_name(i), (double)t->accounts[i]);
		o = cJSON_AddObjectToObject(root, "services");
		for (int i = 1; i <= 5; i++)
			cJSON_AddNumberToObject(o, kdc_service_name(i), (double)t->services[i]);
		o = cJSON_AddObjectToObject(root, "payments");
		cJSON_AddNumberToObject(o, "count", (double)t->payments);
		cJSON_AddNumberToObject(o, "amount_vnd", (double)t->amount_vnd);
		for (int i = 1; i <= 8; i++)
			cJSON_AddNumberToObject(o, kdc_purpose_name(i), (double)t->purposes[i]);
		cJSON_AddNumberToObject(root, "late_events", (double)r->late);
		cJSON_AddNumberToObject(root, "offline_periods", (double)r->offline_periods);
	}
	cJSON_AddNumberToObject(root, "recorded", (double)r->recorded);
	cJSON_AddBoolToObject(root, "synced", !r->cli->no_sync && r->synced);
	cJSON_AddNumberToObject(root, "delivered", (double)r->delivered);
	cJSON_AddNumberToObject(root, "pending", (double)r->pending);
	cJSON_AddNumberToObject(root, "rejected", (double)r->rejected);
	cJSON_AddNumberToObject(root, "record_s", (double)r->record_ms / 1000.0);
	cJSON_AddNumberToObject(root, "sync_s", (double)r->sync_ms / 1000.0);
	cJSON_AddNumberToObject(root, "elapsed_s", (double)(kdc_mono_ms() - r->t0_mono) / 1000.0);
	if (!(text = cJSON_Print(root)))
		goto cleanup;
	{
		FILE *f = fopen(path, "w");
		rc = KDC_ERR_IO;
		if (!f)
			goto cleanup;
		if (fputs(text, f) >= 0 && fputc('\n', f) != EOF)
			rc = KDC_OK;
		if (fclose(f) != 0)
			rc = KDC_ERR_IO;
	}
cleanup:
	if (rc != KDC_OK)
		fprintf(stderr, "kdc-sim: cannot write the summary to %s: %s\n", path,
		        rc == KDC_ERR_IO ? strerror(errno) : kdc_strerror(rc));
	free(text);
	cJSON_Delete(root);
	return rc;
}

/* ---- setup ------------------------------------------------------------------------- */

/* The pilot of deploy/ward-profile.example.ini, for runs without --profile. */
static struct kdc_profile *default_profile(void)
{
	struct kdc_profile *p = kdc_profile_new_default("31975");

	if (!p)
		return NULL;
	snprintf(p->ward_name, sizeof p->ward_name, "Phường 1, TP Cà Mau");
	if (!(p->khoms = calloc(1, sizeof *p->khoms)) || !(p->teams = calloc(1, sizeof *p->teams)))
		goto fail;
	p->nkhoms = 1;
	snprintf(p->khoms[0].code, sizeof p->khoms[0].code, "6");
	snprintf(p->khoms[0].name, sizeof p->khoms[0].name, "Khóm 6");
	p->khoms[0].households = 186;
	p->khoms[0].people_15plus = 520;
	p->nteams = 1;
	snprintf(p->teams[0].code, sizeof p->teams[0].code, "T1");
	snprintf(p->teams[0].name, sizeof p->teams[0].name, "Tổ công nghệ số cộng đồng khóm 6");
	if (!(p->teams[0].khoms = calloc(1, sizeof *p->teams[0].khoms)) ||
	    !(p->teams[0].devices = calloc(3, sizeof *p->teams[0].devices)))
		goto fail;
	p->teams[0].nkhoms = 1;
	for (int i = 0; i < 3; i++)
		snprintf(p->teams[0].devices[i], sizeof p->teams[0].devices[i], "T1-D%d", i + 1);
	p->teams[0].ndevices = 3;
	return p;
fail:
	kdc_profile_free(p);
	return NULL;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, path, len + 1);
	for (char *q = buf + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*q = '/';
	}
	return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int open_devices(struct run *r)
{
	struct cli *c = r->cli;
	const struct kdc_sim *s = r->sim;
	char err[512];

	if (!(r->dev = calloc(s->ndevices, sizeof *r->dev)))
		return EXIT_FAIL;
	r->ndev = s->ndevices;
	for (size_t d = 0; d < r->ndev; d++) {
		struct device *dv = &r->dev[d];
		struct kdc_producer_conf pc;
		memset(&pc, 0, sizeof pc);
		pc.mqtt = c->mqtt;
		/* one session per simulated device, stable across runs */
		if (c->mqtt.client_id && *c->mqtt.client_id)
			snprintf(dv->client_id, sizeof dv->client_id, "%s-%s", c->mqtt.client_id,
			         s->devices[d].code);
		else
			snprintf(dv->client_id, sizeof dv->client_id, "kdc-sim-%s-%s", s->ward,
			         s->devices[d].code);
		pc.mqtt.client_id = dv->client_id;
		if (snprintf(dv->outbox, sizeof dv->outbox, "%s/%s.db", c->dir, s->devices[d].code) >=
		    (int)sizeof dv->outbox)
			return kdc_usage_error("--dir is too long");
		pc.ward = (char *)s->ward;
		pc.team = (char *)s->devices[d].team;
		pc.device = (char *)s->devices[d].code;
		pc.outbox = dv->outbox;
		pc.resend_after = c->resend_after;
		pc.window = c->window;
		if (kdc_producer_check_conf(&pc, 1, err, sizeof err) != KDC_OK)
			return kdc_usage_error("%s", err);
		if (!(dv->p = kdc_producer_new(&pc, err, sizeof err))) {
			fprintf(stderr, "kdc-sim: device %s: %s\n", s->devices[d].code, err);
			return EXIT_FAIL;
		}
		if (kdc_producer_pending(dv->p, &dv->pending_before) != KDC_OK) {
			fprintf(stderr, "kdc-sim: cannot read %s\n", dv->outbox);
			return EXIT_FAIL;
		}
		if (dv->pending_before > 0)
			kdc_warn("device %s: %lld event(s) of an earlier run still pending in %s: "
			           "they are sent too", s->devices[d].code, (long long)dv->pending_before,
			           dv->outbox);
		/* start connecting now: Paho takes ~2.1 s per further connection in one
		 * process, and recording need not wait for it */
		if (!c->no_sync && kdc_producer_connect(dv->p, err, sizeof err) != KDC_OK)
			return kdc_usage_error("device %s: %s", s->devices[d].code, err);
		r->offline_periods += (int64_t)s->devices[d].noffline;
	}
	/* start every connect now, together: see the top of this file */
	for (size_t d = 0; d < r->ndev; d++)
		if (poll_dev(r, d) != KDC_OK)
			return EXIT_FAIL;
	return 0;
}

static int check_cli(struct cli *c)
{
	const char *v = c->mqtt.mqtt_version;
	int rc;

	if ((rc = kdc_prog_log_level(c->log_level)) != 0)
		return rc;
	if (v && strcmp(v, "auto") != 0 && strcmp(v, "5") != 0 && strcmp(v, "3.1.1") != 0)
		return kdc_usage_error("mqtt-version must be auto, 5 or 3.1.1, not '%s'", v);
	if (strcmp(c->progress, "auto") != 0 && strcmp(c->progress, "bar") != 0 &&
	    strcmp(c->progress, "lines") != 0 && strcmp(c->progress, "none") != 0)
		return kdc_usage_error("--progress must be auto, bar, lines or none, not '%s'",
		        c->progress);
	if (c->ward && !kdc_code_valid(c->ward))
		return kdc_usage_error("--ward '%s' is not a valid code: use 1-32 letters, digits, "
		        "'_' or '-'", c->ward);
	if (c->events > 0 && c->realtime)
		return kdc_usage_error("--realtime plays a campaign; load mode (--events) has --rate "
		        "instead");
	if (c->events == 0 && (c->devices > 0 || c->rate > 0))
		return kdc_usage_error("--devices and --rate belong to load mode: give --events M "
		        "too (a campaign takes its devices from the profile and --team-devices)");
	if (c->speed != 1 && !c->realtime)
		return kdc_usage_error("--speed needs --realtime (without it the whole window is "
		        "recorded at once)");
	return 0;
}

/* The window: the last --days days up to --end (default now), or from now on
 * with --realtime. */
static int window(struct run *r)
{
	struct cli *c = r->cli;
	int64_t now = kdc_now_ms(), span = c->days * DAY_MS;

	if (c->realtime) {
		if (c->end)
			return kdc_usage_error("--end does not go with --realtime (it starts now)");
		r->start_ms = now;
		r->end_ms = now + span;
		return 0;
	}
	r->end_ms = now;
	if (c->end && kdc_time_parse(c->end, &r->end_ms) != KDC_OK)
		return kdc_usage_error("--end '%s' is not a time: use 2026-11-27 or "
		        "2026-11-27T10:00:00Z (UTC)", c->end);
	r->start_ms = r->end_ms - span;
	if (r->end_ms > now + KDC_MAX_FUTURE_MS - MARGIN_MS ||
	    r->start_ms < now - KDC_MAX_AGE_MS + MARGIN_MS)
		return kdc_usage_error("the window %s%s and %lld days before it is outside what the "
		        "server accepts (at most two years ago, at most a day ahead)",
		        c->end ? "--end " : "ending now", c->end ? c->end : "", c->days);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kdc-sim [OPTIONS]\n\n"
	        "Simulates a ward's door-to-door digital-transformation campaign through the real\n"
	        "device library: households from the ward profile, one outbox and one MQTT\n"
	        "connection per team device, visits on working days (Mon-Sat 7:30-17:00 local),\n"
	        "households not at home visited again, accounts opened along an adoption curve\n"
	        "(slower for elderly households), monthly electricity and water bills and other\n"
	        "payments, online services, and devices offline for hours that upload late.\n\n"
	        "  kdc-sim --broker tcp://127.0.0.1:1883 --days 90     90 days ending now, at once\n"
	        "  kdc-sim --realtime --speed 3600                      live, an hour a second\n"
	        "  kdc-sim --events 100000 --devices 8 --rate 0         load for benchmarks\n"
	        "  kdc-sim --no-sync --dir out                          fill outboxes only\n\n"
	        "The same --seed (with the same profile, --days, --end and --team-devices)\n"
	        "gives the same events in the same order; only the event ids differ.\n"
	        "Each device has its own outbox (DIR/{device}.db) and its own connection\n"
	        "(client id kdc-sim-{ward}-{device}); all connect together at start.\n\n"
	        "Options (also as 'key = value' lines in the file given with --config):\n");
	kdc_conf_usage(opts, out);
	fprintf(out, "\nExit status: 0 done, 1 outbox failure, 2 usage or configuration error,\n"
	        "3 sync timed out with events pending, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
	struct cli c;
	struct run r;
	struct kdc_sim_params par;
	char err[512];
	int argi = 1, ret = EXIT_USAGE, rc;

	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	r.cli = &c;
	r.t0_mono = kdc_mono_ms();
	kdc_prog_init("kdc-sim");
	if (kdc_prog_help_version(argc, argv, 1, usage, &ret))
		return ret;
	if ((ret = kdc_prog_options(opts, &c, argc, argv, &argi, 0)) != 0 ||
	    (ret = check_cli(&c)) != 0)
		goto cleanup;
	ret = EXIT_USAGE;
	r.load = c.events > 0;
	if (r.load && c.devices == 0)
		c.devices = 4;

	if (c.profile) {
		if (kdc_profile_load(c.profile, &r.prof, err, sizeof err) != KDC_OK) {
			fprintf(stderr, "kdc-sim: %s\n", err);
			goto cleanup;
		}
	} else if (!(r.prof = default_profile())) {
		ret = EXIT_FAIL;
		goto cleanup;
	}
	if (c.ward)
		snprintf(r.prof->ward, sizeof r.prof->ward, "%s", c.ward);
	if ((ret = window(&r)) != 0)
		goto cleanup;

	memset(&par, 0, sizeof par);
	par.seed = (uint64_t)c.seed;
	par.start_ms = r.start_ms;
	par.end_ms = r.end_ms;
	par.team_devices = (int)c.team_devices;
	par.devices = r.load ? (int)c.devices : 0;
	if ((rc = kdc_sim_new(r.prof, &par, &r.sim, err, sizeof err)) != KDC_OK) {
		fprintf(stderr, "kdc-sim: %s\n", err);
		ret = rc == KDC_ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto cleanup;
	}
	if (!r.load && kdc_sim_tally_init(&r.tally, r.sim) != KDC_OK) {
		ret = EXIT_FAIL;
		goto cleanup;
	}
	if (mkdir_p(c.dir) != 0) {
		fprintf(stderr, "kdc-sim: cannot create --dir %s: %s\n", c.dir, strerror(errno));
		ret = EXIT_FAIL;
		goto cleanup;
	}
	if ((ret = open_devices(&r)) != 0)
		goto cleanup;

	if (strcmp(c.progress, "auto") == 0)
		r.pmode = isatty(STDERR_FILENO) ? 1 : 2;
	else
		r.pmode = strcmp(c.progress, "bar") == 0 ? 1 : strcmp(c.progress, "lines") == 0 ? 2 : 0;
	kdc_prog_on_stop(&stop_flag, 0);

	{
		int64_t t = kdc_mono_ms();
		ret = r.load ? run_load(&r) : c.realtime ? run_realtime(&r) : run_compressed(&r);
		r.record_ms = kdc_mono_ms() - t;
	}
	if (!r.fatal && commit_all(&r) != KDC_OK)
		ret = EXIT_FAIL;
	if (ret == 0 && !c.no_sync)
		ret = final_sync(&r);
	progress(&r, "done", 1, 1);
	progress_end(&r);
	count_outboxes(&r);
	r.synced = !c.no_sync && r.pending == 0;
	print_summary(&r, stdout);
	if (c.summary_json && write_summary_json(&r, c.summary_json) != KDC_OK && ret == 0)
		ret = EXIT_FAIL;
	if (fflush(stdout) != 0 && ret == 0)
		ret = EXIT_FAIL;
	if (ret == EXIT_TIMEOUT)
		fprintf(stderr, "kdc-sim: %lld event(s) still pending after %lld s; they stay in the "
		        "outboxes under %s for the next run\n", (long long)r.pending, c.sync_timeout, c.dir);
cleanup:
	for (size_t d = 0; d < r.ndev; d++) {
		if (r.dev[d].in_tx)
			kdc_outbox_rollback(kdc_producer_outbox(r.dev[d].p));
		kdc_producer_free(r.dev[d].p);
	}
	free(r.dev);
	if (!r.load)
		kdc_sim_tally_free(&r.tally);
	kdc_sim_free(r.sim);
	kdc_profile_free(r.prof);
	kdc_conf_free(opts, &c);
	return ret;
}
