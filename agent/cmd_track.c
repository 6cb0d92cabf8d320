// SPDX-License-Identifier: GPL-2.0
/* pcopy track PID: start a session, timing the process's userfaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "session.h"

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
	struct nl_msg *msg;
	struct pnl p;
	uint32_t pid;
	int i, ret;

	i = cmd_opts(argc, argv, &o, "PID");
	if (argc - i != 1)
		usage_error("track: expected one PID");
	pid = id_arg("track", "pid", argv[i]);
	snprintf(what, sizeof(what), "track %u", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = session_msg(&p, PCOPY_CMD_SESSION_NEW, 0, pid);
	ret = msg ? session_do(&p, msg, &s, why, sizeof(why)) : -ENOMEM;
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
		struct json_object *obj = stats_to_json(&s);

		if (obj) {
			print_json(obj);
			json_object_put(obj);
		} else {
			ret = -ENOMEM;
			session_perror(what, ret, NULL, NULL);
		}
	} else {
		printf("tracking pid %u\n", pid);
	}
	session_stats_free(&s);
out:
	pnl_close(&p);
	return ret;
}
