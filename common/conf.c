/* conf.c: a small INI reader (with line numbers in errors) and option tables
 * that drive config files, command-line flags and --help from one description. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kdc_conf.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"

#define CONF_LINE_MAX 4096

static char *conf__trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int kdc_ini_parse(const char *path, kdc_ini_cb cb, void *ud, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX];
	char section[128] = "";
	int lineno = 0, rc = KDC_OK;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return KDC_ERR_IO;
	}
	while (fgets(line, sizeof line, f)) {
		char *s, *eq, *key, *value;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line longer than %d characters",
			         path, lineno, CONF_LINE_MAX - 2);
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
		s = conf__trim(line);
		if (lineno == 1 && (unsigned char)s[0] == 0xEF &&
		    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
			s = conf__trim(s + 3); /* UTF-8 byte-order mark from Windows editors */
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1] != '\0') {
				snprintf(err, errlen, "%s:%d: section header must look like [name]",
				         path, lineno);
				rc = KDC_ERR_CONFIG;
				goto cleanup;
			}
			*end = '\0';
			snprintf(section, sizeof section, "%s", conf__trim(s + 1));
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value', got '%.60s'",
			         path, lineno, s);
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
		*eq = '\0';
		key = conf__trim(s);
		value = conf__trim(eq + 1);
		if (*key == '\0') {
			snprintf(err, errlen, "%s:%d: missing key before '='", path, lineno);
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
		err[0] = '\0';
		if (cb(ud, section, key, value, lineno, err, errlen) != 0) {
			char reason[512];
			snprintf(reason, sizeof reason, "%s", err[0] ? err : "invalid value");
			snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = KDC_ERR_IO;
	}
cleanup:
	fclose(f);
	return rc;
}

static const struct kdc_opt *conf__find(const struct kdc_opt *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/* The known option a mistyped name most likely meant: the only one it is a
 * prefix of, else the only nearest one at most 2 edits away (and no more
 * edits than half its length, so "xy" does not become "at"). NULL when
 * nothing is close or two are equally close. */
static const char *conf__suggest(const struct kdc_opt *opts, const char *name)
{
	const char *prefix = NULL, *best = NULL;
	size_t len = strlen(name);
	int nprefix = 0, bestd = 3, ties = 0;

	for (const struct kdc_opt *o = opts; o->name; o++) {
		int d;
		if (len > 0 && strncmp(o->name, name, len) == 0) {
			prefix = o->name;
			nprefix++;
		}
		d = kdc_edit_distance(name, o->name, 2);
		if (d < bestd) {
			best = o->name;
			bestd = d;
			ties = 0;
		} else if (d == bestd) {
			ties++;
		}
	}
	if (nprefix == 1)
		return prefix;
	if (best && ties == 0 && (size_t)bestd * 2 <= len)
		return best;
	return NULL;
}

/* "350.000", "350,000", "1.250.000" or "350k": a whole number written the way
 * people write amounts. Writes the digits-only spelling into out when it is
 * certain (groups of three after the first, k = 000), else "". Returns 0
 * when the value does not look like that at all. */
static int conf__grouped_number(const char *v, char *out, size_t outlen)
{
	char digits[64];
	size_t n = 0, group = 0, first = 0;
	int seps = 0, exact = 1, k = 0;

	out[0] = '\0';
	for (const char *p = v; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n + 4 >= sizeof digits)
				return 0;
			digits[n++] = *p;
			group++;
		} else if ((*p == '.' || *p == ',') && group > 0 && p[1] >= '0' && p[1] <= '9') {
			if (seps++ == 0)
				first = group;
			else if (group != 3)
				exact = 0;
			group = 0;
		} else if ((*p == 'k' || *p == 'K') && group > 0 && p[1] == '\0') {
			k = 1;
		} else {
			return 0;
		}
	}
	if (seps == 0 && !k)
		return 0;
	if (seps > 0 && (first > 3 || group != 3))
		exact = 0;
	if (exact) {
		if (k)
			for (int i = 0; i < 3; i++)
				digits[n++] = '0';
		snprintf(out, outlen, "%.*s", (int)n, digits);
	}
	return 1;
}

static int conf__bool(const char *v, int *out)
{
	if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	         !strcasecmp(v, "off"))
		*out = 0;
	else
		return KDC_ERR_INVAL;
	return KDC_OK;
}

/* dash: "--" when the value came from the command line, "" otherwise. */
static int conf__assign(const struct kdc_opt *o, void *target, const char *value,
                        const char *dash, char *err, size_t errlen)
{
	char *base = target;

	switch (o->type) {
	case KDC_OPT_STR:
	case KDC_OPT_PATH: {
		char **slot = (char **)(base + o->offset);
		char *copy = strdup(value);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return KDC_ERR_NOMEM;
		}
		free(*slot);
		*slot = copy;
		return KDC_OK;
	}
	case KDC_OPT_INT: {
		long long v;
		char plain[64];
		if (conf__grouped_number(value, plain, sizeof plain)) {
			snprintf(err, errlen, "%s%s takes %s in digits only, without '.' or ',' "
			         "separators%s%s%s%.40s", dash, o->name,
			         o->help && strstr(o->help, "VND") ? "whole VND" : "a whole number",
			         plain[0] ? ": " : ", got '", plain, plain[0] ? "" : value,
			         plain[0] ? "" : "'");
			return KDC_ERR_CONFIG;
		}
		if (kdc_parse_ll(value, o->min, o->max, &v) != KDC_OK) {
			snprintf(err, errlen, "%s must be a whole number from %lld to %lld, got '%.40s'",
			         o->name, o->min, o->max, value);
			return KDC_ERR_CONFIG;
		}
		*(long long *)(base + o->offset) = v;
		return KDC_OK;
	}
	case KDC_OPT_BOOL: {
		int v;
		if (conf__bool(value, &v) != KDC_OK) {
			snprintf(err, errlen, "%s must be true or false, got '%.40s'", o->name, value);
			return KDC_ERR_CONFIG;
		}
		*(int *)(base + o->offset) = v;
		return KDC_OK;
	}
	case KDC_OPT_OFFSET: {
		int v;
		if (kdc_parse_utc_offset(value, &v) != KDC_OK) {
			snprintf(err, errlen, "%s%s must look like +07:00 (from -14:00 to +14:00), got '%.40s'",
			         dash, o->name, value);
			return KDC_ERR_CONFIG;
		}
		*(int *)(base + o->offset) = v;
		return KDC_OK;
	}
	}
	return KDC_ERR_INVAL;
}

int kdc_conf_defaults(const struct kdc_opt *opts, void *target)
{
	char err[256];

	for (; opts->name; opts++) {
		if (!opts->def)
			continue;
		if (conf__assign(opts, target, opts->def, "", err, sizeof err) != KDC_OK)
			return KDC_ERR_CONFIG;
	}
	return KDC_OK;
}

int kdc_conf_set(const struct kdc_opt *opts, void *target, const char *name,
                 const char *value, char *err, size_t errlen)
{
	const struct kdc_opt *o = conf__find(opts, name);

	if (!o) {
		const char *near = conf__suggest(opts, name);
		snprintf(err, errlen, "unknown option '%.60s'%s%s%s", name,
		         near ? ": did you mean '" : "", near ? near : "", near ? "'?" : "");
		return KDC_ERR_CONFIG;
	}
	return conf__assign(o, target, value, "", err, errlen);
}

struct conf_load_ctx {
	const struct kdc_opt *opts;
	void *target;
	const char *path;   /* the file being read */
	size_t dirlen;      /* length of its folder with the '/', 0 for none */
	int has_password;   /* it sets `password` */
	int has_device;     /* ... and `device`: a team device's own account */
};

/* A relative KDC_OPT_PATH value read from a file names a file beside it. */
static int conf__set_path(struct conf_load_ctx *ctx, const struct kdc_opt *o,
                          const char *value, char *err, size_t errlen)
{
	size_t len = ctx->dirlen + strlen(value) + 1;
	char *joined;
	int rc;

	if (!(joined = malloc(len))) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	snprintf(joined, len, "%.*s%s", (int)ctx->dirlen, ctx->path, value);
	rc = conf__assign(o, ctx->target, joined, "", err, errlen);
	free(joined);
	return rc;
}

static int conf__ini_cb(void *ud, const char *section, const char *key,
                        const char *value, int line, char *err, size_t errlen)
{
	struct conf_load_ctx *ctx = ud;
	const struct kdc_opt *o;

	(void)section;
	(void)line;
	if (strcmp(key, "config") == 0) {
		snprintf(err, errlen, "'config' cannot be set inside a config file");
		return -1;
	}
	if (strcmp(key, "password") == 0 && *value)
		ctx->has_password = 1;
	if (strcmp(key, "device") == 0)
		ctx->has_device = 1;
	o = conf__find(ctx->opts, key);
	if (o && o->type == KDC_OPT_PATH && value[0] != '/' && value[0] != '\0' && ctx->dirlen > 0)
		return conf__set_path(ctx, o, value, err, errlen) == KDC_OK ? 0 : -1;
	return kdc_conf_set(ctx->opts, ctx->target, key, value, err, errlen) == KDC_OK ? 0 : -1;
}

int kdc_conf_load(const struct kdc_opt *opts, void *target, const char *path,
                  char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	struct conf_load_ctx ctx = { opts, target, path, slash ? (size_t)(slash - path) + 1 : 0, 0, 0 };
	struct stat st;
	int rc = kdc_ini_parse(path, conf__ini_cb, &ctx, err, errlen);

	/* a team device's password, readable by every user of the laptop: as
	 * ssh does for a private key, but only a word (the dashboard's account
	 * is public by design, and a service's group may read its own) */
	if (rc == KDC_OK && ctx.has_password && ctx.has_device && stat(path, &st) == 0 &&
	    (st.st_mode & S_IROTH))
		kdc_warn("%s holds a password, and every user of this computer can read it: "
		         "chmod 600 %s", path, path);
	return rc;
}

int kdc_conf_args(const struct kdc_opt *opts, void *target, int argc, char **argv,
                  int *argi, char *err, size_t errlen)
{
	int i = *argi;
	int rc = KDC_OK;

	for (; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct kdc_opt *o;
		char name[128];
		size_t nlen;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			break;
		arg += 2;
		nlen = strcspn(arg, "=");
		if (nlen >= sizeof name) {
			snprintf(err, errlen, "option too long: --%.40s", arg);
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
		memcpy(name, arg, nlen);
		name[nlen] = '\0';
		if (arg[nlen] == '=')
			value = arg + nlen + 1;
		o = conf__find(opts, name);
		if (!o) {
			const char *near = conf__suggest(opts, name);
			snprintf(err, errlen, "unknown option --%s%s%s%s (see --help)", name,
			         near ? ": did you mean --" : "", near ? near : "", near ? "?" : "");
			rc = KDC_ERR_CONFIG;
			goto cleanup;
		}
		if (!value) {
			if (o->type == KDC_OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
			                                conf__bool(argv[i + 1], &(int){0}) != KDC_OK)) {
				value = "true";
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				snprintf(err, errlen, "option --%s needs a value", name);
				rc = KDC_ERR_CONFIG;
				goto cleanup;
			}
		}
		if (strcmp(name, "config") == 0) {
			rc = conf__assign(o, target, value, "--", err, errlen);
			if (rc == KDC_OK)
				rc = kdc_conf_load(opts, target, value, err, errlen);
		} else {
			rc = conf__assign(o, target, value, "--", err, errlen);
		}
		if (rc != KDC_OK)
			goto cleanup;
	}
cleanup:
	*argi = i;
	return rc;
}

void kdc_conf_usage(const struct kdc_opt *opts, FILE *out)
{
	for (; opts->name; opts++) {
		const char *meta = opts->type == KDC_OPT_INT ? "N" :
		                   opts->type == KDC_OPT_OFFSET ? "+HH:MM" :
		                   opts->type == KDC_OPT_BOOL ? "[BOOL]" :
		                   opts->type == KDC_OPT_PATH ? "FILE" : "VALUE";
		char left[64];

		snprintf(left, sizeof left, "--%s %s", opts->name, meta);
		fprintf(out, "  %-28s %s", left, opts->help ? opts->help : "");
		if (opts->def && strcmp(opts->name, "password") != 0)
			fprintf(out, " (default: %s)", opts->def);
		fputc('\n', out);
	}
}

void kdc_conf_free(const struct kdc_opt *opts, void *target)
{
	char *base = target;

	for (; opts->name; opts++) {
		if (opts->type == KDC_OPT_STR || opts->type == KDC_OPT_PATH) {
			char **slot = (char **)(base + opts->offset);
			free(*slot);
			*slot = NULL;
		}
	}
}
