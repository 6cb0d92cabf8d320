/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_H
#define PCOPY_AGENT_H

/* The CLI: main.c, args.c and one cmd_*.c per subcommand. */

#include <stdbool.h>
#include <stdint.h>

#include "common/defs.h"
#include "common/jsonb.h"

#define PCOPY_AGENT_VERSION "0.1.0"

/* Options common to every subcommand. */
struct opts {
	bool json;
};

/* args.c */
/* "pcopy: MESSAGE", a pointer to --help, exit(2). */
void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/*
 * Parse a subcommand's own options (-j/--json, -h/--help) into @o, which
 * starts as a copy of the global ones; @usage is the synopsis after the
 * subcommand's name.  Exits on -h and on a usage error.  Returns the index
 * of the first operand in @argv.
 */
int cmd_opts(int argc, char **argv, struct opts *o, const char *usage);
/*
 * cmd_opts() for a subcommand with options of its own: @extra (getopt_long
 * entries, at most CMD_OPTS_MAX, ending with a zeroed one) and their short
 * forms @extra_short ("o:v"; a leading '+' stops at the first operand, for
 * a subcommand that runs a command line).  Each one found is handed to @fn with its
 * value, in command-line order; @fn calls usage_error() for a bad value.
 */
#define CMD_OPTS_MAX	12
struct option;
int cmd_opts_ext(int argc, char **argv, struct opts *o, const char *usage,
		 const struct option *extra, const char *extra_short,
		 void (*fn)(int c, const char *arg, void *ctx), void *ctx);
/* A decimal in [min, max], digits only: 0, -EINVAL or -ERANGE. */
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* A pid or tid operand (1 to INT_MAX); a usage error, naming @what, if not. */
uint32_t id_arg(const char *cmd, const char *what, const char *s);
/*
 * The options of a subcommand whose one operand is a PID ("pcopy stats
 * PID"), and that PID; exits on -h and on a usage error.
 */
uint32_t pid_operand(int argc, char **argv, struct opts *o, const char *cmd);
/* The PID that must be the only operand left, from argv[@i] on. */
uint32_t pid_arg(int argc, char **argv, int i, const char *cmd);
/*
 * Seconds, digits with an optional fraction ("2", "0.5"), above 0 and at
 * most @max_ns: 0 with *@ns set, -EINVAL or -ERANGE.
 */
int parse_seconds(const char *s, uint64_t max_ns, uint64_t *ns);
/* The same for an option value, in ns; a usage error naming @what if bad. */
uint64_t seconds_arg(const char *cmd, const char *what, const char *s, uint64_t max_s);

/* subcommands, one file each */
int cmd_status(int argc, char **argv, const struct opts *o);
int cmd_track(int argc, char **argv, const struct opts *o);
int cmd_untrack(int argc, char **argv, const struct opts *o);
int cmd_list(int argc, char **argv, const struct opts *o);
int cmd_vcpu(int argc, char **argv, const struct opts *o);
int cmd_reset(int argc, char **argv, const struct opts *o);
int cmd_stats(int argc, char **argv, const struct opts *o);
int cmd_watch(int argc, char **argv, const struct opts *o);
int cmd_record(int argc, char **argv, const struct opts *o);
int cmd_report(int argc, char **argv, const struct opts *o);
int cmd_send(int argc, char **argv, const struct opts *o);
int cmd_recv(int argc, char **argv, const struct opts *o);
int cmd_run(int argc, char **argv, const struct opts *o);
int cmd_auto(int argc, char **argv, const struct opts *o);

/*
 * helper.c: the helper programs, found beside the running pcopy: in
 * libexec/ (the build tree) or ../libexec/pcopy/ (an installed one).
 *
 * helper_exec(): become helper pcopy-@name for subcommand @name with its
 * @argv (argv[0] the subcommand; -j is passed on); returns only on
 * failure, after saying why: 1.
 * helper_run(): run helper pcopy-@name with @args (NULL-terminated, after
 * argv[0]) and wait: its exit status, or 1 (said why) if it could not run.
 */
int helper_exec(const char *name, char **argv, const struct opts *o);
int helper_run(const char *name, const char *const *args);

/*
 * send/recv --plot DIR: make DIR (if need be), remove an earlier run's
 * DIR/@name.rec and .png, put the recording's path in @rec; 0, or -1
 * after saying why.  Then, after the run, draw DIR/@name.png from it with
 * pcopy-plot: 0, or 1 after saying why (nothing recorded, say).
 */
int plot_dir_prepare(const char *cmd, const char *dir, const char *name, char *rec, size_t len);
int plot_dir_draw(const char *cmd, const char *dir, const char *name);

#endif
