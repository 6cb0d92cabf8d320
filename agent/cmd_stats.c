// SPDX-License-Identifier: GPL-2.0
/* pcopy stats PID: one session's statistics, vCPU table and histograms. */
#include <errno.h>
#include <stdio.h>

#include "agent.h"
#include "observe/session.h"

int cmd_stats(int argc, char **argv, const struct opts *go)
{
	char what[32], notrk[48], why[160] = "";
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	struct session_stats s;
	struct opts o = *go;
	struct pnl p;
	uint32_t pid;
	int ret;

	pid = pid_operand(argc, argv, &o, "stats");
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

	if (o.json) {
		ret = stats_print_json(&s);
		if (ret)
			session_perror(what, ret, NULL, NULL);
	} else {
		stats_print_text(stdout, &s);
	}
	session_stats_free(&s);
out:
	pnl_close(&p);
	return ret;
}
