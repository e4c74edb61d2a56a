/* households.c: see households.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "households.h"
#include "kdc_err.h"

const char *const kdc_hh_status_names[KDC_HH_STATUS_COUNT] = {
	"not_visited", "not_home", "declined", "surveyed", "reached",
};
const char *const kdc_hh_status_words[KDC_HH_STATUS_COUNT] = {
	"not visited", "not at home", "declined", "surveyed", "reached",
};

/* A whole count 0..10^12, or -1 (missing, negative, fractional, huge). */
static long long hh__count_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e12 ||
	    v->valuedouble != floor(v->valuedouble))
		return -1;
	return (long long)v->valuedouble;
}

static int hh__bad(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return KDC_ERR_INVAL;
}

static int hh__status_index(const char *name)
{
	for (int i = 0; i < KDC_HH_STATUS_COUNT; i++)
		if (strcmp(name, kdc_hh_status_names[i]) == 0)
			return i;
	return -1;
}

/* From "counts": every status present and whole. */
static int hh__from_counts(const cJSON *counts, struct kdc_hh_tally *t)
{
	long long sum = 0;

	for (int i = 0; i < KDC_HH_STATUS_COUNT; i++) {
		if ((t->status[i] = hh__count_of(counts, kdc_hh_status_names[i])) < 0)
			return KDC_ERR_INVAL;
		sum += t->status[i];
	}
	t->total = hh__count_of(counts, "total");
	if (t->total < 0)
		t->total = sum;
	t->field_added = hh__count_of(counts, "field_added");
	if (t->field_added < 0)
		t->field_added = 0;
	return 0;
}

/* From the list: entries with an unknown status are left out. */
static int hh__from_list(const cJSON *list, struct kdc_hh_tally *t)
{
	const cJSON *e;

	if (!cJSON_IsArray(list))
		return KDC_ERR_INVAL;
	cJSON_ArrayForEach(e, list) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
		int i = cJSON_IsString(st) ? hh__status_index(st->valuestring) : -1;

		if (i < 0)
			continue;
		t->status[i]++;
		t->total++;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "field_added")))
			t->field_added++;
	}
	return 0;
}

int kdc_hh_parse(const char *json, size_t len, const char *ward, const char *khom, struct kdc_hh_tally *out,
                 char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *v;
	struct kdc_hh_tally t;
	int rc = 0;

	memset(&t, 0, sizeof t);
	if (!root || !cJSON_IsObject(root)) {
		rc = hh__bad(err, errlen, "not a JSON object");
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, KDC_HH_SCHEMA) != 0) {
		rc = hh__bad(err, errlen, "its schema is not " KDC_HH_SCHEMA);
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "ward");
	if (cJSON_IsString(v) && strcmp(v->valuestring, ward) != 0) {
		rc = hh__bad(err, errlen, "it is for another ward");
		goto done;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "khom");
	if (cJSON_IsString(v) && strcmp(v->valuestring, khom) != 0) {
		rc = hh__bad(err, errlen, "it is for another khóm than its topic's");
		goto done;
	}
	t.with_register = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "register"));
	if (hh__from_counts(cJSON_GetObjectItemCaseSensitive(root, "counts"), &t) != 0) {
		int reg = t.with_register;

		memset(&t, 0, sizeof t);
		t.with_register = reg;
		if (hh__from_list(cJSON_GetObjectItemCaseSensitive(root, "households"), &t) != 0) {
			rc = hh__bad(err, errlen, "it has neither counts nor a list of households");
			goto done;
		}
	}
	*out = t;
done:
	cJSON_Delete(root);
	return rc;
}

int kdc_hh_table_set(struct kdc_hh_table *t, const char *khom, const struct kdc_hh_tally *tally)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].khom, khom) == 0)
			break;
	if (!tally) {
		if (i < t->n)
			t->v[i] = t->v[--t->n];
		return 0;
	}
	if (i == t->n) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 16;
			struct kdc_hh_entry *v = realloc(t->v, cap * sizeof *v);

			if (!v)
				return KDC_ERR_NOMEM;
			t->v = v;
			t->cap = cap;
		}
		snprintf(t->v[i].khom, sizeof t->v[i].khom, "%s", khom);
		t->n++;
	}
	t->v[i].tally = *tally;
	return 0;
}

int kdc_hh_table_copy(struct kdc_hh_table *dst, const struct kdc_hh_table *src)
{
	struct kdc_hh_entry *v = NULL;

	if (src->n > 0) {
		v = malloc(src->n * sizeof *v);
		if (!v)
			return KDC_ERR_NOMEM;
		memcpy(v, src->v, src->n * sizeof *v);
	}
	free(dst->v);
	dst->v = v;
	dst->n = dst->cap = src->n;
	return 0;
}

void kdc_hh_table_free(struct kdc_hh_table *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}

size_t kdc_hh_table_sum(const struct kdc_hh_table *t, struct kdc_hh_tally *sum)
{
	memset(sum, 0, sizeof *sum);
	for (size_t i = 0; i < t->n; i++) {
		const struct kdc_hh_tally *k = &t->v[i].tally;

		for (int s = 0; s < KDC_HH_STATUS_COUNT; s++)
			sum->status[s] += k->status[s];
		sum->total += k->total;
		sum->field_added += k->field_added;
		sum->with_register |= k->with_register;
	}
	return t->n;
}

void kdc_hh_format(const struct kdc_hh_tally *t, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int s = 0; s < KDC_HH_STATUS_COUNT && used < len; s++) {
		int n = snprintf(out + used, len - used, "%s%s %lld", s ? " · " : "", kdc_hh_status_words[s],
		                 t->status[s]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
