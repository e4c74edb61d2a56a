/* kdc-sim: simulates a ward's door-to-door campaign through the real device
 * library, and doubles as the load generator of the benchmarks.
 *
 *   kdc-sim [--profile FILE] [--days N] [--seed N] [--realtime [--speed X]]
 *           [--household-digits N] [--history-days N]
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
#include "kdc-sim.h"

static const struct kdc_opt opts[] = {
	KDC_OPT(struct cli, "config", KDC_OPT_STR, config, 0, 0, NULL, "read these settings from a file (key = value lines)"),
	KDC_OPT(struct cli, "profile", KDC_OPT_STR, profile, 0, 0, NULL, "ward profile (INI, as for kdc-aggregator); default: the built-in pilot, khóm 6 of phường 1 (ward 31975, 186 households, 520 people 15+, team T1)"),
	KDC_OPT(struct cli, "ward", KDC_OPT_STR, ward, 0, 0, NULL, "ward code (default: the profile's)"),
	KDC_OPT(struct cli, "dir", KDC_OPT_STR, dir, 0, 0, "var/sim", "directory of the devices' outboxes ({device}.db)"),
	KDC_OPT(struct cli, "days", KDC_OPT_INT, days, 1, 700, "90", "length of the campaign in days"),
	KDC_OPT(struct cli, "end", KDC_OPT_STR, end, 0, 0, NULL, "end of the campaign window, e.g. 2026-11-27T10:00:00Z (default: now)"),
	KDC_OPT(struct cli, "seed", KDC_OPT_INT, seed, 0, 9223372036854775807LL, "1", "random seed: the same seed gives the same events (ids apart)"),
	KDC_OPT(struct cli, "team-devices", KDC_OPT_INT, team_devices, 1, 64, "4", "devices per team: the profile's listed ones first, then {team}-D1, -D2, ..."),
	KDC_OPT(struct cli, "household-digits", KDC_OPT_INT, household_digits, 1, 12, "3", "digits of the household codes: 3 gives H001, H002, ...; 4 gives H0001, ... as in the example register (deploy/register-khom6.example.csv), so that every simulated household is on it"),
	KDC_OPT(struct cli, "realtime", KDC_OPT_BOOL, realtime, 0, 0, NULL, "play the campaign live from now (events stamped as they happen)"),
	KDC_OPT(struct cli, "speed", KDC_OPT_INT, speed, 1, 100000000, "1", "with --realtime: simulated seconds per wall second (3600: an hour a second)"),
	KDC_OPT(struct cli, "events", KDC_OPT_INT, events, 0, 1000000000, "0", "load mode: record this many events in total (instead of a campaign)"),
	KDC_OPT(struct cli, "devices", KDC_OPT_INT, devices, 0, 64, "0", "load mode: devices to spread the events over (default 4), each with its own connection"),
	KDC_OPT(struct cli, "rate", KDC_OPT_INT, rate, 0, 10000000, "0", "load mode: events per second in total (0 = as fast as possible)"),
	KDC_OPT(struct cli, "no-sync", KDC_OPT_BOOL, no_sync, 0, 0, NULL, "only record into the outboxes: connect to nothing, publish nothing"),
	KDC_OPT(struct cli, "sync-timeout", KDC_OPT_INT, sync_timeout, 1, 86400, "300", "after recording, wait at most this many seconds for every receipt"),
	KDC_OPT(struct cli, "summary-json", KDC_OPT_STR, summary_json, 0, 0, NULL, "also write the summary as JSON to this file"),
	KDC_OPT(struct cli, "progress", KDC_OPT_STR, progress, 0, 0, "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or none"),
	KDC_MQTT_OPTS(struct cli, mqtt),
	KDC_OPT(struct cli, "resend-after", KDC_OPT_INT, resend_after, 1, 86400, "30", "seconds without a receipt before an event is sent again"),
	KDC_OPT(struct cli, "window", KDC_OPT_INT, window, 1, 1000, "100", "events sent but not yet acknowledged, per device"),
	KDC_OPT(struct cli, "history-days", KDC_OPT_INT, history_days, 0, 3650, "0", "days each device keeps the events the server has stored, so that kdc-event can list (history), void or amend them in its outbox (0 = none, the fastest; a team member's device keeps 60)"),
	KDC_OPT(struct cli, "log-level", KDC_OPT_STR, log_level, 0, 0, "warning", "debug, info, notice, warning or error"),
	KDC_OPT(struct cli, "help", KDC_OPT_BOOL, help, 0, 0, NULL, "show help"),
	KDC_OPT_END
};

static volatile sig_atomic_t stop_flag;

/* ---- devices ------------------------------------------------------------------ */

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

int64_t dev_delivered(const struct run *r)
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
		pc.history_days = c->history_days;
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
	par.household_digits = (int)c.household_digits;
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
