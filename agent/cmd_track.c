// SPDX-License-Identifier: GPL-2.0
/* pcopy track PID: start a session, timing the process's userfaults. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "observe/session.h"

#define STR_(x) #x
#define STR(x) STR_(x)

enum { OPT_FOLLOW = 256 };

static void track_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == OPT_FOLLOW)
		*(bool *)ctx = true;
}

int cmd_track(int argc, char **argv, const struct opts *go)
{
	static const struct errtext texts[] = {
		{ ESRCH, "no such process (or not a thread-group leader, or exiting)" },
		{ EEXIST, "already tracked" },
		{ EINVAL, "the process has no address space (a kernel thread)" },
		{ ENOSPC, "too many sessions (the module tracks at most "
			  STR(PCOPY_MAX_SESSIONS) " processes)" },
		{ EOPNOTSUPP, "the module cannot follow forks on this kernel (see 'pcopy status')" },
		{ 0, NULL },
	};
	struct session_stats s;
	struct opts o = *go;
	char what[32], why[200] = "";
	struct pnl p;
	uint32_t pid;
	int ret;

	static const struct option lopts[] = {
		{ "follow-forks", no_argument, NULL, OPT_FOLLOW },
		{ NULL, 0, NULL, 0 },
	};
	bool follow = false;

	pid = pid_arg(argc, argv,
		      cmd_opts_ext(argc, argv, &o, "PID [--follow-forks]", lopts, "",
				   track_opt, &follow), "track");
	snprintf(what, sizeof(what), "track %u", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = session_new(&p, pid, follow, &s, why, sizeof(why));
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
