// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy recv: the destination of `pcopy send`.  Takes the destination
 * VMM's userfaultfd (Firecracker's UFFD handoff) and fills its memory.
 * Options here; the migration in migrate/dest.c.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include "agent.h"
#include "migrate/migrate.h"

#define USAGE "--listen ADDR:PORT --uffd-sock PATH [--vmm-control SOCK] [--mem-out FILE]\n" \
	"       [--no-ring] [--timeout SECONDS] [--plot DIR]"

#define MAX_TIMEOUT_S	(24 * 3600)

enum {
	OPT_LISTEN = 256,
	OPT_UFFD,
	OPT_VMM,
	OPT_MEMOUT,
	OPT_NORING,
	OPT_TIMEOUT,
	OPT_PLOT,
};

struct recv_args {
	struct recv_opts ro;
	const char *plot;		/* --plot DIR */
};

static void recv_opt(int c, const char *arg, void *ctx)
{
	struct recv_args *ra = ctx;
	struct recv_opts *ro = &ra->ro;

	switch (c) {
	case OPT_LISTEN:
		ro->listen = arg;
		break;
	case OPT_UFFD:
		ro->uffd_sock = arg;
		break;
	case OPT_VMM:
		ro->vmm_control = arg;
		break;
	case OPT_MEMOUT:
		ro->mem_out = arg;
		break;
	case OPT_NORING:
		ro->no_ring = true;
		break;
	case OPT_TIMEOUT:
		ro->timeout_ns = seconds_arg("recv", "--timeout", arg, MAX_TIMEOUT_S);
		break;
	case OPT_PLOT:
		ra->plot = arg;
		break;
	}
}

int cmd_recv(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "uffd-sock", required_argument, NULL, OPT_UFFD },
		{ "vmm-control", required_argument, NULL, OPT_VMM },
		{ "mem-out", required_argument, NULL, OPT_MEMOUT },
		{ "no-ring", no_argument, NULL, OPT_NORING },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ NULL, 0, NULL, 0 },
	};
	struct recv_args ra = { .ro = { .timeout_ns = RECV_DEFAULT_TIMEOUT_S * NSEC_PER_SEC } };
	struct recv_opts ro;
	struct opts o = *go;
	char rec[PATH_MAX];
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", recv_opt, &ra);
	ro = ra.ro;
	if (i != argc)
		usage_error("recv: unexpected operand '%s'", argv[i]);
	if (!ro.listen)
		usage_error("recv: --listen ADDR:PORT is required");
	if (!ro.uffd_sock)
		usage_error("recv: --uffd-sock PATH is required");
	if (ra.plot && ro.no_ring)
		usage_error("recv: --plot draws pcopy.ko's fault records: not with --no-ring");
	ro.json = o.json;
	if (ra.plot) {
		if (plot_dir_prepare("recv", ra.plot, "recv", rec, sizeof(rec)))
			return 1;
		ro.record = rec;
	}
	ret = dest_run(&ro) ? 1 : 0;
	if (ra.plot && plot_dir_draw("recv", ra.plot, "recv"))
		ret = 1;
	return ret;
}
