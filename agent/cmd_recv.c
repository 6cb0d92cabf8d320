// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy recv: the destination of `pcopy send`.  Takes the destination
 * VMM's userfaultfd (Firecracker's UFFD handoff) and fills its memory.
 * Options here; the migration in migrate/dest.c.
 */
#include <getopt.h>
#include <stdio.h>

#include "agent.h"
#include "migrate/migrate.h"

#define USAGE "--listen ADDR:PORT --uffd-sock PATH [--vmm-control SOCK] [--mem-out FILE]\n" \
	"       [--no-ring] [--timeout SECONDS]"

#define MAX_TIMEOUT_S	(24 * 3600)

enum {
	OPT_LISTEN = 256,
	OPT_UFFD,
	OPT_VMM,
	OPT_MEMOUT,
	OPT_NORING,
	OPT_TIMEOUT,
};

static void recv_opt(int c, const char *arg, void *ctx)
{
	struct recv_opts *ro = ctx;

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
		{ NULL, 0, NULL, 0 },
	};
	struct recv_opts ro = { .timeout_ns = RECV_DEFAULT_TIMEOUT_S * NSEC_PER_SEC };
	struct opts o = *go;
	int i;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", recv_opt, &ro);
	if (i != argc)
		usage_error("recv: unexpected operand '%s'", argv[i]);
	if (!ro.listen)
		usage_error("recv: --listen ADDR:PORT is required");
	if (!ro.uffd_sock)
		usage_error("recv: --uffd-sock PATH is required");
	ro.json = o.json;
	return dest_run(&ro);
}
