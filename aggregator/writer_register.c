/* writer_register.c: the writer's side of the household register and of
 * voids (docs/register.md; register.h does the lookups and the SQL). In a batch,
 * in arrival order: activity events are checked against the register in
 * memory (writer.c) and stored many to a statement; a HouseholdAdded or a
 * void is judged and stored on its own, after the rows before it; a new row
 * a waiting void names is stored voided. The statistics then fold the batch's
 * counted rows, or are recomputed when a void or a register change touched
 * what was counted before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "writer_int.h"

/* Stores the rows judged valid so far (INSERT OR IGNORE, many rows to a
 * statement): duplicates are only receipted again, a new row that a waiting
 * void names is stored voided, and the other new rows stay at the front of
 * w->rows (rows[0, nfold)) for the statistics. */
int writer__flush(kdc_writer *w, size_t *nvalid)
{
	size_t from = w->nfold;
	int rc, voided;

	if (*nvalid == from)
		return KDC_OK;
	if ((rc = kdc_store_add_events(w->store, w->rows + from, *nvalid - from,
	                               w->inserted + from)) != KDC_OK)
		return rc;
	for (size_t j = from; j < *nvalid; j++) {
		if (!w->inserted[j]) {
			w->ndup++;
			continue;
		}
		w->nnew++;
		if ((rc = kdc_register_arrived(w->reg, &w->rows[j], &voided)) != KDC_OK)
			return rc;
		w->voided |= voided;
		if (voided)
			continue;
		if (j != w->nfold)
			w->rows[w->nfold] = w->rows[j];
		w->nfold++;
	}
	*nvalid = w->nfold;
	return KDC_OK;
}

/* A HouseholdAdded or a void (rare): judged and stored at once, in arrival
 * order, after the rows judged before it (so that a void finds its event
 * stored when it came earlier in the batch). The row is w->rows[*nvalid]. */
int writer__special(kdc_writer *w, const struct kdc_ingest_msg *m, struct writer_outcome *o,
                    const kdc_event_pb *ev, int64_t now, size_t *nvalid, size_t *nrej)
{
	struct kdc_event_row row = w->rows[*nvalid];
	struct kdc_register_effect e;
	struct kdc_verdict v;
	int rc;

	if ((rc = writer__flush(w, nvalid)) != KDC_OK ||
	    (rc = kdc_register_special(w->reg, ev, &row, now, &v, &e)) != KDC_OK)
		return rc;
	if (v.reason != 0) {
		(*nrej)++;
		return writer__reject(w, m, o, now, v.reason, v.detail);
	}
	w->ndup += (size_t)e.duplicate;
	w->nnew += (size_t)e.stored;
	w->voided |= e.stored && row.kind == KDC_KIND_VOID;
	w->reg_changed |= e.added;
	w->rebuild |= e.rebuild;
	if (e.voided) {
		/* stored in this batch and not folded yet: it just leaves the list;
		 * folded before: the statistics are recomputed */
		size_t i = 0;
		while (i < w->nfold && memcmp(w->rows[i].id, e.target, KDC_UUID_LEN) != 0)
			i++;
		if (i < w->nfold) {
			memmove(&w->rows[i], &w->rows[i + 1], (w->nfold - i - 1) * sizeof *w->rows);
			w->nfold--;
			*nvalid = w->nfold;
		} else {
			w->rebuild = 1;
		}
	}
	return KDC_OK;
}

/* The register as the database has it, inside the batch's transaction:
 * reloaded after a rolled-back batch (the memory may hold what was undone)
 * or when another process changed it (register_log grew); then the
 * statistics are recomputed unless they already reflect that register. */
int writer__register_sync(kdc_writer *w)
{
	int changed = 0, rc;

	if (kdc_register_is_stale(w->reg)) {
		int64_t lid = 0;
		if ((rc = kdc_register_load(w->reg)) != KDC_OK)
			return rc;
		if (w->stats && (rc = kdc_stats_register_lid(w->stats, &lid)) != KDC_OK)
			return rc;
		changed = w->stats && lid != kdc_register_lid(w->reg);
		w->reg_changed = 1;
	} else {
		if ((rc = kdc_register_poll(w->reg, &changed)) != KDC_OK)
			return rc;
		if (changed && (rc = kdc_register_load(w->reg)) != KDC_OK)
			return rc;
	}
	if (changed) {
		kdc_notice("the household register or its voids changed (register_log row %lld): "
		           "reloaded; the statistics are recomputed",
		           (long long)kdc_register_lid(w->reg));
		w->rebuild = 1;
		w->reg_changed = 1;
		w->reg_reloaded = 1;
	}
	return KDC_OK;
}

/* After a commit: the denominators of a changed register to the statistics
 * (the register's counts, or the profile's when there is none). */
void writer__push_register(kdc_writer *w)
{
	int rc;

	if (w->reg_reloaded)
		kdc_register_log_check(w->reg);
	w->reg_reloaded = 0;
	if (!w->reg_changed || !w->stats)
		return;
	w->reg_changed = 0;
	rc = kdc_register_set_denominators(w->reg, w->stats);
	if (rc != KDC_OK) {
		kdc_error("out of memory for the register's denominators; retrying after the next batch");
		w->reg_changed = 1;
	}
}

/* The statistics of the batch: its counted new rows folded, or everything
 * recomputed when a void or a register change touched what was counted. */
int writer__stats(kdc_writer *w, int64_t lid0, size_t nrej)
{
	int rc;

	if (!w->stats)
		return KDC_OK;
	if (w->voided)
		kdc_stats_touch(w->stats);
	if (w->rebuild)
		/* it recounts table rejected too, this batch's rows included */
		return kdc_stats_rebuild(w->stats);
	if (w->nfold && (rc = kdc_stats_apply(w->stats, w->rows, w->nfold)) != KDC_OK)
		return rc;
	/* a field addition kept exact without a rebuild */
	if (kdc_register_lid(w->reg) != lid0 &&
	    (rc = kdc_stats_set_register_lid(w->stats, kdc_register_lid(w->reg))) != KDC_OK)
		return rc;
	if (nrej && (rc = kdc_stats_rejected(w->stats, nrej)) != KDC_OK)
		return rc;
	return KDC_OK;
}

/* Once a second when idle: a change of the register by the ward's tools is
 * taken up (reload, recompute, republish) without waiting for an event. */
void writer__idle_register(kdc_writer *w)
{
	int changed = 0, rc;

	if (!kdc_register_is_stale(w->reg) &&
	    (kdc_register_poll(w->reg, &changed) != KDC_OK || !changed))
		return;
	w->rebuild = 0;
	if ((rc = kdc_store_begin(w->store)) != KDC_OK)
		goto fail;
	/* poll again inside: the change is read under the write lock */
	kdc_register_stale(w->reg);
	if ((rc = writer__register_sync(w)) != KDC_OK)
		goto fail;
	if (w->rebuild && w->stats && (rc = kdc_stats_rebuild(w->stats)) != KDC_OK)
		goto fail;
	if ((rc = kdc_store_commit(w->store)) != KDC_OK)
		goto fail;
	writer__push_register(w);
	return;
fail:
	kdc_store_rollback(w->store);
	kdc_register_stale(w->reg);
	kdc_warn("cannot take up the change of the household register yet (%s: %s); retrying",
	         kdc_strerror(rc), kdc_store_errmsg(w->store));
}

/* The register at start, on the caller's thread (the writer's is not
 * running yet): loaded, the statistics recomputed when the register changed
 * while the aggregator was down, the denominators set and the cross-check
 * with the profile logged. */
int writer__open_register(kdc_writer *w, char *err, size_t errlen)
{
	int64_t lid = 0;
	int rc;

	if (!(w->reg = kdc_register_open(w->store, w->conf.profile, err, errlen)))
		return KDC_ERR_DB;
	if (w->stats && (rc = kdc_stats_register_lid(w->stats, &lid)) != KDC_OK) {
		snprintf(err, errlen, "cannot read the statistics: %s", kdc_store_errmsg(w->store));
		return rc;
	}
	if (w->stats && lid != kdc_register_lid(w->reg)) {
		kdc_notice("the household register or its voids changed since the statistics were "
		           "computed: recomputing them");
		if ((rc = kdc_store_begin(w->store)) != KDC_OK ||
		    (rc = kdc_stats_rebuild(w->stats)) != KDC_OK ||
		    (rc = kdc_store_commit(w->store)) != KDC_OK) {
			kdc_store_rollback(w->store);
			snprintf(err, errlen, "cannot recompute the statistics for the household register: "
			         "%s (%s)", kdc_strerror(rc), kdc_store_errmsg(w->store));
			return rc;
		}
	}
	w->reg_changed = 1;
	w->reg_reloaded = 1;
	writer__push_register(w);
	return KDC_OK;
}

