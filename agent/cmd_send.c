// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy send: migrate a live VM (its VMM's control socket) or a memory
 * file to a `pcopy recv`.  Options here; the migration in migrate/source.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "agent.h"
#include "migrate/proto.h"
#include "migrate/migrate.h"

#define USAGE "--to HOST:PORT (--vmm-control SOCK | --mem-file FILE [--state-file FILE])\n" \
	"       [--channels N] [--max-rounds R] [--downtime-ms D] [--postcopy-only]\n" \
	"       [--no-urgent] [--no-hint] [--plot DIR]"

enum {
	OPT_TO = 256,
	OPT_CHANNELS,
	OPT_VMM,
	OPT_MEMFILE,
	OPT_STATEFILE,
	OPT_ROUNDS,
	OPT_DOWNTIME,
	OPT_POSTCOPY,
	OPT_NOURGENT,
	OPT_NOHINT,
	OPT_PLOT,
};

struct send_args {
	struct send_opts so;
	const char *plot;		/* --plot DIR */
};

static void send_opt(int c, const char *arg, void *ctx)
{
	struct send_args *sa = ctx;
	struct send_opts *so = &sa->so;
	uint32_t v;

	switch (c) {
	case OPT_TO:
		so->to = arg;
		break;
	case OPT_CHANNELS:
		if (parse_u32(arg, 1, MIG_MAX_BULK, &v))
			usage_error("send: --channels %s is not a number from 1 to %d", arg,
				    MIG_MAX_BULK);
		so->channels = v;
		break;
	case OPT_VMM:
		so->vmm_control = arg;
		break;
	case OPT_MEMFILE:
		so->mem_file = arg;
		break;
	case OPT_STATEFILE:
		so->state_file = arg;
		break;
	case OPT_ROUNDS:
		if (parse_u32(arg, 1, MIG_MAX_ROUNDS, &v))
			usage_error("send: --max-rounds %s is not a number from 1 to %d", arg,
				    MIG_MAX_ROUNDS);
		so->max_rounds = v;
		break;
	case OPT_DOWNTIME:
		if (parse_u32(arg, 1, 3600 * 1000, &v))
			usage_error("send: --downtime-ms %s is not a number of milliseconds from 1 to 3600000",
				    arg);
		so->downtime_ns = (uint64_t)v * NSEC_PER_MSEC;
		break;
	case OPT_POSTCOPY:
		so->postcopy_only = true;
		break;
	case OPT_NOURGENT:
		so->no_urgent = true;
		break;
	case OPT_NOHINT:
		so->no_hint = true;
		break;
	case OPT_PLOT:
		sa->plot = arg;
		break;
	}
}

int cmd_send(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "channels", required_argument, NULL, OPT_CHANNELS },
		{ "vmm-control", required_argument, NULL, OPT_VMM },
		{ "mem-file", required_argument, NULL, OPT_MEMFILE },
		{ "state-file", required_argument, NULL, OPT_STATEFILE },
		{ "max-rounds", required_argument, NULL, OPT_ROUNDS },
		{ "downtime-ms", required_argument, NULL, OPT_DOWNTIME },
		{ "postcopy-only", no_argument, NULL, OPT_POSTCOPY },
		{ "no-urgent", no_argument, NULL, OPT_NOURGENT },
		{ "no-hint", no_argument, NULL, OPT_NOHINT },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ NULL, 0, NULL, 0 },
	};
	struct send_args sa = {
		.so = {
			.channels = SEND_DEFAULT_CHANNELS,
			.max_rounds = SEND_DEFAULT_ROUNDS,
			.downtime_ns = SEND_DEFAULT_DOWNTIME_MS * NSEC_PER_MSEC,
		},
	};
	struct send_opts so;
	struct opts o = *go;
	char rec[PATH_MAX];
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", send_opt, &sa);
	so = sa.so;
	if (i != argc)
		usage_error("send: unexpected operand '%s'", argv[i]);
	if (!so.to)
		usage_error("send: --to HOST:PORT is required");
	if (!so.vmm_control == !so.mem_file)
		usage_error("send: give exactly one of --vmm-control SOCK and --mem-file FILE");
	if (so.state_file && !so.mem_file)
		usage_error("send: --state-file goes with --mem-file (a VMM exports its own state)");
	if (sa.plot && (so.mem_file || so.postcopy_only))
		usage_error("send: --plot draws the dirty records of precopy: not with %s",
			    so.mem_file ? "--mem-file" : "--postcopy-only");
	so.json = o.json;
	if (sa.plot) {
		if (plot_dir_prepare("send", sa.plot, "send", rec, sizeof(rec)))
			return 1;
		so.record = rec;
	}
	ret = source_run(&so) ? 1 : 0;
	if (sa.plot && plot_dir_draw("send", sa.plot, "send"))
		ret = 1;
	return ret;
}
