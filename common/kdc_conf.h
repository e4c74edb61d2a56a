/* kdc_conf.h: INI files and option tables.
 *
 * A program describes its options once, as a table (name, type, where the
 * value goes, bounds, default, help); the same table reads the config file,
 * the --name=value / --name value flags, and prints --help. Errors name the
 * file and line. */
#ifndef KDC_CONF_H
#define KDC_CONF_H

#include <stddef.h>
#include <stdio.h>

/* ---- INI reader --------------------------------------------------------- */

/* Called for every `key = value` line; section is "" before any [section].
 * Return 0 to go on, or non-zero to stop (kdc_ini_parse then fails and keeps
 * whatever message the callback wrote into err). Strings are valid only during
 * the call; leading/trailing blanks are trimmed; `#` or `;` start a comment
 * line. */
typedef int (*kdc_ini_cb)(void *ud, const char *section, const char *key,
                          const char *value, int line, char *err, size_t errlen);

/* Parses path. On failure returns KDC_ERR_CONFIG (or KDC_ERR_IO if the file
 * cannot be read) with "path:line: reason" in err. */
int kdc_ini_parse(const char *path, kdc_ini_cb cb, void *ud, char *err, size_t errlen);

/* ---- option tables ------------------------------------------------------ */

enum kdc_opt_type {
	KDC_OPT_STR,   /* char * (malloc'd, owned by the target struct) */
	KDC_OPT_INT,   /* long long, within [min, max] */
	KDC_OPT_BOOL,  /* int 0/1: true/false, yes/no, on/off, 1/0 */
	KDC_OPT_PATH,  /* char *, like STR; a relative path in a config file is
	                  taken from the file's folder (on the command line, from
	                  the current folder), so a config and the files it names
	                  can move together */
	KDC_OPT_OFFSET, /* int, minutes east of UTC, written +07:00, -03:30 or Z
	                  (kdc_parse_utc_offset) */
};

struct kdc_opt {
	const char *name;     /* key in the file, --name on the command line */
	enum kdc_opt_type type;
	size_t offset;        /* offsetof(target struct, field) */
	long long min, max;   /* for KDC_OPT_INT */
	const char *def;      /* default as text, NULL for none */
	const char *help;
};
#define KDC_OPT_END { NULL, KDC_OPT_STR, 0, 0, 0, NULL, NULL }

/* One row of a table whose values go into a conf_type struct, e.g.
 *   KDC_OPT(struct cli, "timeout", KDC_OPT_INT, timeout, 1, 86400, "10",
 *           "give up after this many seconds")
 * field may name a member of a member (mqtt.broker). */
#define KDC_OPT(conf_type, name, type, field, min, max, def, help) \
	{ name, type, offsetof(conf_type, field), min, max, def, help }

/* Sets every option to its default (strings strdup'd). */
int kdc_conf_defaults(const struct kdc_opt *opts, void *target);
/* Sets one option from text; unknown name or bad value -> KDC_ERR_CONFIG with
 * a reason in err. An unknown name gets the nearest known one suggested (a
 * unique prefix, or at most 2 edits away); an INT written as people write
 * amounts ("350.000", "350,000", "350k") is refused with its digits-only
 * spelling, "whole VND" when the option's help mentions VND. */
int kdc_conf_set(const struct kdc_opt *opts, void *target, const char *name,
                 const char *value, char *err, size_t errlen);
/* Reads an INI file into target (sections are ignored for flat configs). */
int kdc_conf_load(const struct kdc_opt *opts, void *target, const char *path,
                  char *err, size_t errlen);
/* Parses argv from *argi: --name=value, --name value, and --flag for booleans.
 * Stops at the first non-option argument (its index is left in *argi) or
 * after "--". A "--config FILE" option, if the table has "config", is loaded
 * at that point in order. */
int kdc_conf_args(const struct kdc_opt *opts, void *target, int argc, char **argv,
                  int *argi, char *err, size_t errlen);
/* Prints "  --name VALUE   help (default: x)" lines. */
void kdc_conf_usage(const struct kdc_opt *opts, FILE *out);
/* Frees the strings of target. */
void kdc_conf_free(const struct kdc_opt *opts, void *target);

#endif
