// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy stats PID [--qemu]: one session's statistics, vCPU table and
 * histograms; with --qemu, only QEMU 10.1's postcopy block, so that what
 * parses QEMU's `info migrate -a` parses this too.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "agent.h"
#include "observe/session.h"

#define USAGE	"PID [--qemu]"

enum {
	OPT_QEMU = 256,
};

static void stats_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == OPT_QEMU)
		*(bool *)ctx = true;
}

int cmd_stats(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "qemu", no_argument, NULL, OPT_QEMU },
		{ NULL, 0, NULL, 0 },
	};
	char what[32], notrk[48], why[160] = "";
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	struct session_stats s;
	struct opts o = *go;
	bool qemu = false;
	struct pnl p;
	uint32_t pid;
	int ret;

	pid = pid_arg(argc, argv,
		      cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", stats_opt, &qemu),
		      "stats");
	/* QEMU's block is text; its JSON is already the "qemu" member */
	if (qemu && o.json)
		usage_error("stats: --qemu prints QEMU's text block; with -j, read the \"qemu\" member");
	snprintf(what, sizeof(what), "stats %u", pid);
	snprintf(notrk, sizeof(notrk), "pid %u is not tracked", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = session_call(&p, PCOPY_CMD_SESSION_GET, pid, &s, why, sizeof(why));
	if (ret) {
		session_perror(what, ret, texts, why);
		goto out;
	}

	if (o.json)
		ret = stats_print_json(&s);
	else if (qemu)
		ret = stats_print_qemu(stdout, &s);
	else
		ret = stats_print_text(stdout, &s);
	if (ret)
		session_perror(what, ret, NULL, NULL);
	session_stats_free(&s);
out:
	pnl_close(&p);
	return ret;
}
