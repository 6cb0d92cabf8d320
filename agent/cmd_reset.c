// SPDX-License-Identifier: GPL-2.0
/* pcopy reset PID: zero a session's counters, histograms and blocktimes. */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "agent.h"
#include "session.h"

int cmd_reset(int argc, char **argv, const struct opts *go)
{
	char what[32], notrk[48];
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	struct opts o = *go;
	struct nl_msg *msg;
	struct pnl p;
	uint32_t pid;
	int i, ret;

	i = cmd_opts(argc, argv, &o, "PID");
	if (argc - i != 1)
		usage_error("reset: expected one PID");
	pid = id_arg("reset", "pid", argv[i]);
	snprintf(what, sizeof(what), "reset %u", pid);
	snprintf(notrk, sizeof(notrk), "pid %u is not tracked", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = session_msg(&p, PCOPY_CMD_SESSION_RESET, 0, pid);
	ret = msg ? pnl_request(&p, msg, NULL, NULL) : -ENOMEM;
	if (ret) {
		session_perror(what, ret, texts, NULL);
		goto out;
	}

	if (o.json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "pid", json_object_new_int64(pid));
		json_object_object_add(obj, "reset", json_object_new_boolean(1));
		print_json(obj);
		json_object_put(obj);
	} else {
		printf("statistics of pid %u reset\n", pid);
	}
out:
	pnl_close(&p);
	return ret;
}
