/* kdc_prog.h: what every kdc program does the same way at its start: its
 * name in log lines and messages, --help / -h and --version, the options
 * (defaults, config file, flags) from one table, the log level, usage errors
 * (exit status 2, one line on stderr) and the stop signals.
 *
 *   int main(int argc, char **argv)
 *   {
 *       int argi = 1, rc;
 *       kdc_prog_init("kdc-x");
 *       if (kdc_prog_help_version(argc, argv, 1, usage, &rc))
 *           return rc;
 *       if ((rc = kdc_prog_options(opts, &conf, argc, argv, &argi, 1)) == 0 &&
 *           (rc = kdc_prog_log_level(conf.log_level)) == 0)
 *           rc = run(&conf);
 *       kdc_conf_free(opts, &conf);
 *       return rc;
 *   }
 *
 * Main thread only, before any other thread starts (kdc_prog_on_stop: before
 * the threads that should not see the signals are started). */
#ifndef KDC_PROG_H
#define KDC_PROG_H

#include <signal.h>
#include <stdio.h>

#include "kdc_conf.h"

#ifndef KDC_VERSION
#define KDC_VERSION "unknown"
#endif

#define KDC_EXIT_OK 0
#define KDC_EXIT_FAIL 1
#define KDC_EXIT_USAGE 2

/* Names the program (a static string) in log lines and in messages. */
void kdc_prog_init(const char *name);
const char *kdc_prog_name(void);

/* Looks through argv[from..] (up to a "--") for --help, -h and --version.
 * When one is there, prints the help (usage(stdout)) or "NAME VERSION",
 * sets *exit_status to 0 and returns 1; otherwise returns 0. With usage
 * NULL only --version is looked for (a program whose help depends on its
 * command). */
int kdc_prog_help_version(int argc, char **argv, int from, void (*usage)(FILE *out),
                          int *exit_status);

/* Prints "NAME: message" on stderr and returns KDC_EXIT_USAGE. */
int kdc_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets opts' defaults in conf and reads the flags from argv[*argi] on
 * (--config FILE where the table has it). With rest == 0 an argument that is
 * not an option is a usage error; otherwise *argi is left on it. Returns 0,
 * KDC_EXIT_USAGE after saying why, or KDC_EXIT_FAIL when out of memory. */
int kdc_prog_options(const struct kdc_opt *opts, void *conf, int argc, char **argv,
                     int *argi, int rest);

/* Sets the log level named by name ("warning" when NULL). 0, or a usage
 * error. */
int kdc_prog_log_level(const char *name);

/* Warns when config (a file given with --config) holds a password
 * (non-empty) and others may read it. */
void kdc_prog_check_secret_file(const char *config, const char *password);

/* SIGINT and SIGTERM set *flag to 1 (the program stops cleanly when it sees
 * it); with ignore_sigpipe, a peer closing a socket does not kill the
 * process. */
void kdc_prog_on_stop(volatile sig_atomic_t *flag, int ignore_sigpipe);

#endif
