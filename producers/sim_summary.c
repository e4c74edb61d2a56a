/* sim_summary.c: kdc-sim's summary of a run: what was recorded, delivered
 * and refused, and what the campaign did (the tally), as a table on stdout
 * and as JSON (--summary-json). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "kdc-sim.h"

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

void count_outboxes(struct run *r)
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

void print_summary(struct run *r, FILE *out)
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
		if (s->nbusinesses)
			fprintf(out, "businesses: %zu, with %lld events (visits, e-invoice adoptions, "
			        "e-identified accounts)\n", s->nbusinesses, (long long)t->business_events);
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

int write_summary_json(struct run *r, const char *path)
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
	if (o && !r->load && s->nbusinesses) {
		cJSON_AddNumberToObject(o, "business", (double)r->tally.business_events);
		total += r->tally.business_events;
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
