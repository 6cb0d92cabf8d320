// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy stats PID [--qemu] [--session ID]: one session's statistics, vCPU
 * table and histograms; with --qemu, only QEMU 10.1's postcopy block, so
 * that what parses QEMU's `info migrate -a` parses this too.  A PID with no
 * live session shows the newest ended one the module kept; --session names
 * one session, live or ended.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "observe/session.h"

#define USAGE	"PID [--qemu] | --session ID [PID] [--qemu]"

enum {
	OPT_QEMU = 256,
	OPT_SESSION,
};

struct stats_args {
	bool qemu;
	uint64_t id;
};

static void stats_opt(int c, const char *arg, void *ctx)
{
	struct stats_args *a = ctx;
	unsigned long long v;
	char *end;

	if (c == OPT_QEMU) {
		a->qemu = true;
	} else if (c == OPT_SESSION) {
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end || errno || !v)
			usage_error("stats: --session '%s' is not a session id (a positive integer)",
				    arg);
		a->id = v;
	}
}

int cmd_stats(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "qemu", no_argument, NULL, OPT_QEMU },
		{ "session", required_argument, NULL, OPT_SESSION },
		{ NULL, 0, NULL, 0 },
	};
	char what[48], notrk[96], why[160] = "";
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	struct stats_args a = { 0 };
	struct session_stats s;
	struct opts o = *go;
	uint32_t pid = 0;
	struct pnl p;
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", stats_opt, &a);
	if (!a.id || i < argc)
		pid = pid_arg(argc, argv, i, "stats");
	/* QEMU's block is text; its JSON is already the "qemu" member */
	if (a.qemu && o.json)
		usage_error("stats: --qemu prints QEMU's text block; with -j, read the \"qemu\" member");
	if (a.id) {
		snprintf(what, sizeof(what), "stats --session %" PRIu64, a.id);
		if (pid)
			snprintf(notrk, sizeof(notrk), "pid %u has no session %" PRIu64
				 " (live or kept after its end)", pid, a.id);
		else
			snprintf(notrk, sizeof(notrk), "no session %" PRIu64
				 " (live or kept after its end)", a.id);
	} else {
		snprintf(what, sizeof(what), "stats %u", pid);
		snprintf(notrk, sizeof(notrk),
			 "pid %u is not tracked (and no ended session of it is kept)", pid);
	}

	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = session_get(&p, pid, a.id, true, &s, why, sizeof(why));
	if (ret) {
		session_perror(what, ret, texts, why);
		goto out;
	}

	if (o.json)
		ret = stats_print_json(&s);
	else if (a.qemu)
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
