// SPDX-License-Identifier: GPL-2.0
/* Command-line pieces every subcommand shares. */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pcopy: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(run 'pcopy --help' for usage)\n");
	exit(2);
}

int cmd_opts_ext(int argc, char **argv, struct opts *o, const char *usage,
		 const struct option *extra, const char *extra_short,
		 void (*fn)(int c, const char *arg, void *ctx), void *ctx)
{
	static const struct option common[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option lopts[CMD_OPTS_MAX + ARRAY_SIZE(common) + 1];
	char sopts[2 * CMD_OPTS_MAX + 8];
	unsigned int n = 0;
	bool plus;
	int c;

	/*
	 * The subcommand's own first: getopt_long() takes the first entry of
	 * a name, so one may give a common name its own meaning ("run
	 * --json FILE")
	 */
	while (extra && extra[n].name) {
		if (n >= CMD_OPTS_MAX)
			abort();	/* a subcommand with too many options */
		lopts[n] = extra[n];
		n++;
	}
	memcpy(&lopts[n], common, sizeof(common));
	n += ARRAY_SIZE(common);
	memset(&lopts[n], 0, sizeof(lopts[n]));
	/*
	 * ':' first: a missing value is told apart from an unknown option;
	 * before it a '+' of @extra_short (stop at the first operand)
	 */
	plus = extra_short && *extra_short == '+';
	if ((size_t)snprintf(sopts, sizeof(sopts), "%s:jh%s", plus ? "+" : "",
			     extra_short ? extra_short + plus : "") >= sizeof(sopts))
		abort();

	/*
	 * optind = 0 re-initialises getopt: the dispatcher's "+" (stop at the
	 * subcommand) must not stick, so that options may follow operands.
	 */
	optind = 0;
	opterr = 0;	/* reported below, once */
	while ((c = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("usage: pcopy [-j] %s%s%s\n", argv[0], *usage ? " " : "",
			       usage);
			exit(0);
		case ':':
			usage_error("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
		case '?':
			if (optopt >= '0' && optopt <= '9')
				usage_error("%s: '-%c...' is not an option, and operands are never negative",
					    argv[0], optopt);
			if (optopt > 0 && optopt < 256)
				usage_error("%s: unknown option '-%c'", argv[0], optopt);
			usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
		default:
			fn(c, optarg, ctx);
		}
	}
	return optind;
}

int cmd_opts(int argc, char **argv, struct opts *o, const char *usage)
{
	return cmd_opts_ext(argc, argv, o, usage, NULL, NULL, NULL, NULL);
}

int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would take leading blanks, a sign and an empty string */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

uint32_t id_arg(const char *cmd, const char *what, const char *s)
{
	uint32_t v;
	int ret;

	ret = parse_u32(s, 1, INT_MAX, &v);
	if (ret == -EINVAL)
		usage_error("%s: %s '%s' is not a positive integer", cmd, what, s);
	if (ret)
		usage_error("%s: %s %s is out of range (1 to %d)", cmd, what, s, INT_MAX);
	return v;
}

int parse_seconds(const char *s, uint64_t max_ns, uint64_t *ns)
{
	uint64_t v = 0, scale = NSEC_PER_SEC;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > max_ns / NSEC_PER_SEC)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max_ns / NSEC_PER_SEC)
		return -ERANGE;
	v *= NSEC_PER_SEC;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;	/* digits past the ns are dropped */
			v += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p)
		return -EINVAL;
	if (!v || v > max_ns)
		return -ERANGE;
	*ns = v;
	return 0;
}

uint64_t seconds_arg(const char *cmd, const char *what, const char *s, uint64_t max_s)
{
	uint64_t ns;
	int ret;

	ret = parse_seconds(s, max_s * NSEC_PER_SEC, &ns);
	if (ret == -EINVAL)
		usage_error("%s: %s '%s' is not a number of seconds", cmd, what, s);
	if (ret)
		usage_error("%s: %s %s is out of range (above 0, at most %" PRIu64 " s)",
			    cmd, what, s, max_s);
	return ns;
}

uint32_t pid_arg(int argc, char **argv, int i, const char *cmd)
{
	if (argc - i != 1)
		usage_error("%s: expected one PID", cmd);
	return id_arg(cmd, "pid", argv[i]);
}

uint32_t pid_operand(int argc, char **argv, struct opts *o, const char *cmd)
{
	return pid_arg(argc, argv, cmd_opts(argc, argv, o, "PID"), cmd);
}
