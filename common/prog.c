/* prog.c: see kdc_prog.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"

static const char *prog_name = "kdc";
static volatile sig_atomic_t *prog_stop_flag;

void kdc_prog_init(const char *name)
{
	prog_name = name;
	kdc_log_set_ident(name);
}

const char *kdc_prog_name(void)
{
	return prog_name;
}

int kdc_prog_help_version(int argc, char **argv, int from, void (*usage)(FILE *out),
                          int *exit_status)
{
	for (int i = from; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (usage && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
			usage(stdout);
			*exit_status = KDC_EXIT_OK;
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", prog_name, KDC_VERSION);
			*exit_status = KDC_EXIT_OK;
			return 1;
		}
	}
	return 0;
}

int kdc_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KDC_EXIT_USAGE;
}

int kdc_prog_options(const struct kdc_opt *opts, void *conf, int argc, char **argv,
                     int *argi, int rest)
{
	char err[512];

	if (kdc_conf_defaults(opts, conf) != KDC_OK) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return KDC_EXIT_FAIL;
	}
	if (kdc_conf_args(opts, conf, argc, argv, argi, err, sizeof err) != KDC_OK)
		return kdc_usage_error("%s", err);
	if (!rest && *argi < argc)
		return kdc_usage_error("unexpected argument '%s' (options start with --; see %s --help)",
		                       argv[*argi], prog_name);
	return 0;
}

int kdc_prog_log_level(const char *name)
{
	int level = kdc_log_level_parse(name ? name : "warning");

	if (level < 0)
		return kdc_usage_error("--log-level must be debug, info, notice, warning or error, "
		                       "not '%s'", name);
	kdc_log_set_level(level);
	return 0;
}

void kdc_prog_check_secret_file(const char *config, const char *password)
{
	struct stat st;

	if (config && password && *password && stat(config, &st) == 0 && (st.st_mode & 077))
		kdc_warn("%s holds the MQTT password and is readable by others (mode %03o): "
		         "chmod 600 it", config, (unsigned)(st.st_mode & 0777));
}

static void prog__on_signal(int sig)
{
	(void)sig;
	*prog_stop_flag = 1;
}

void kdc_prog_on_stop(volatile sig_atomic_t *flag, int ignore_sigpipe)
{
	struct sigaction sa;

	prog_stop_flag = flag;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = prog__on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ignore_sigpipe) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}
