/* export_events.h: `kdc-report export events`, every stored event as one
 * CSV row (docs/report.md says what each column means).
 *
 * One statement, stepped row by row in the order of the event ids (the
 * events table's own key, so SQLite sorts nothing and memory stays the same
 * at any size); each row is written as it is read. Codes become words with
 * the project's name tables (kdc_proto.h); a code this build does not know is
 * written as its number. Main thread only. */
#ifndef KDC_EXPORT_EVENTS_H
#define KDC_EXPORT_EVENTS_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "csv.h"
#include "profile.h"

enum kdc_lang { KDC_LANG_VI = 0, KDC_LANG_EN };
enum kdc_voided { KDC_VOIDED_INCLUDE = 0, KDC_VOIDED_EXCLUDE, KDC_VOIDED_ONLY };

struct kdc_export_events {
	sqlite3 *db;                       /* read from; not owned */
	const struct kdc_profile *profile; /* names and UTC offset; not owned */
	int lang;                          /* enum kdc_lang */
	/* which events: all of a filter left unset */
	int has_from, has_to;
	int64_t from_ms, to_ms;            /* event time in [from_ms, to_ms) (UTC) */
	const char *khom, *team;           /* NULL: any */
	int kind;                          /* enum kdc_kind, or -1: any */
	int voided;                        /* enum kdc_voided */
	FILE *out;                         /* the CSV goes here; not closed */
	const struct kdc_csv_sink *sink;   /* or, when set, the rows go here (csv.h) */
	int progress;                      /* a progress line on stderr each second */
};

/* "Thăm hộ" / "Visit" for kind in lang; NULL for a kind out of range. */
const char *kdc_export_kind_label(int kind, int lang);

/* Writes the header and the rows. KDC_OK with *rows set, or an error with a
 * plain reason in err: KDC_ERR_IO (writing failed: err says why, e.g. the
 * disk is full), KDC_ERR_DB (reading failed). *rows is what was written. */
int kdc_export_events_run(const struct kdc_export_events *x, int64_t *rows, char *err,
                          size_t errlen);

#endif
