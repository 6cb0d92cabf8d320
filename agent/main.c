// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy: the agent.  main() only parses the global options and dispatches
 * to a subcommand; each subcommand lives in its own cmd_*.c file, except
 * those that need a large library (NULL here): they are helper programs
 * in libexec/, which pcopy execs (helper.c), so that no other subcommand
 * loads their libraries.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcopy.h>

#include "agent.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, const struct opts *o);
	const char *args;
	const char *help;
} cmds[] = {
	{ "status", cmd_status, "", "show the module's version, ABI and hooks" },
	{ "track", cmd_track, "PID", "start timing a process's userfaults" },
	{ "run", cmd_run, "[--json F] -- CMD", "run a command tracked, then print its statistics" },
	{ "auto", cmd_auto, "on [FILTER] | off", "track every process that registers a userfaultfd" },
	{ "untrack", cmd_untrack, "PID", "stop tracking a process" },
	{ "list", cmd_list, "[--ended]", "one line per tracked (or ended) process" },
	{ "stats", cmd_stats, "PID [--qemu]", "a process's latencies, blocktimes, histograms" },
	{ "reset", cmd_reset, "PID", "zero a process's statistics" },
	{ "vcpu", cmd_vcpu, "PID TID VCPU|none", "declare which vCPU a thread runs" },
	{ "watch", cmd_watch, "PID", "a live view of a process's faults and dirty pages" },
	{ "record", cmd_record, "PID -o FILE", "record a process's faults and dirty pages to a file" },
	{ "report", cmd_report, "FILE", "summarise a file written by 'pcopy record'" },
	{ "send", cmd_send, "--to HOST:PORT", "migrate a VM (or a memory file) to 'pcopy recv'" },
	{ "exporter", NULL, "--listen ADDR:PORT", "serve the module's metrics to Prometheus over HTTP" },
	{ "recv", cmd_recv, "--listen ADDR:PORT", "receive a migration into a VMM's userfaultfd" },
};

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: pcopy [-j] COMMAND [-j] [ARGS...]\n\n"
		"  -j, --json     machine-readable JSON output\n"
		"  -h, --help     this help (after COMMAND: the command's)\n"
		"  -V, --version  agent version\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %-18s %s\n", cmds[i].name, cmds[i].args,
			cmds[i].help);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0 };
	unsigned int i;
	int c;

	/* '+': stop at the subcommand, it parses its own options */
	while ((c = getopt_long(argc, argv, "+jhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pcopy agent %s (ABI %d)\n", PCOPY_AGENT_VERSION,
			       PCOPY_ABI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[optind], cmds[i].name)) {
			argc -= optind;
			argv += optind;
			optind = 1;
			if (!cmds[i].fn)
				return helper_exec(cmds[i].name, argv, &o);
			return cmds[i].fn(argc, argv, &o) ? 1 : 0;
		}
	}
	usage_error("unknown command '%s'", argv[optind]);
	return 2;
}
