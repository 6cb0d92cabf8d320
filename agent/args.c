// SPDX-License-Identifier: GPL-2.0
/* Command-line pieces every subcommand shares. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"

int cmd_opts(int argc, char **argv, struct opts *o, const char *usage)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/*
	 * optind = 0 re-initialises getopt: the dispatcher's "+" (stop at the
	 * subcommand) must not stick, so that options may follow operands.
	 */
	optind = 0;
	opterr = 0;	/* reported below, once */
	while ((c = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("usage: pcopy [-j] %s%s%s\n", argv[0], *usage ? " " : "",
			       usage);
			exit(0);
		default:
			if (optopt >= '0' && optopt <= '9')
				usage_error("%s: '-%c...' is not an option, and operands are never negative",
					    argv[0], optopt);
			if (optopt)
				usage_error("%s: unknown option '-%c'", argv[0], optopt);
			usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
		}
	}
	return optind;
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
