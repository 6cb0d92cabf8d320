// SPDX-License-Identifier: GPL-2.0
/* pcopy track PID: start a session, timing the process's userfaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "observe/session.h"

#define STR_(x) #x
#define STR(x) STR_(x)

int cmd_track(int argc, char **argv, const struct opts *go)
{
	static const struct errtext texts[] = {
		{ ESRCH, "no such process (or not a thread-group leader, or exiting)" },
		{ EEXIST, "already tracked" },
		{ EINVAL, "the process has no address space (a kernel thread)" },
		{ ENOSPC, "too many sessions (the module tracks at most "
			  STR(PCOPY_MAX_SESSIONS) " processes)" },
		{ 0, NULL },
	};
	struct session_stats s;
	struct opts o = *go;
	char what[32], why[200] = "";
	struct pnl p;
	uint32_t pid;
	int ret;

	pid = pid_operand(argc, argv, &o, "track");
	snprintf(what, sizeof(what), "track %u", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = session_call(&p, PCOPY_CMD_SESSION_NEW, pid, &s, why, sizeof(why));
	if (ret == -EPROTO) {
		/* the module replies only once the session exists */
		size_t n = strlen(why);

		snprintf(why + n, sizeof(why) - n, "%sthe process is tracked all the same",
			 n ? "; " : "");
	}
	if (ret) {
		session_perror(what, ret, texts, why);
		goto out;
	}

	if (o.json) {
		ret = stats_print_json(&s);
		if (ret)
			session_perror(what, ret, NULL, NULL);
	} else {
		printf("tracking pid %u\n", pid);
	}
	session_stats_free(&s);
out:
	pnl_close(&p);
	return ret;
}
