// SPDX-License-Identifier: GPL-2.0
/* pcopy stats PID: one session's statistics, vCPU table and histograms. */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

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
	struct nl_msg *msg;
	struct pnl p;
	uint32_t pid;
	int i, ret;

	i = cmd_opts(argc, argv, &o, "PID");
	if (argc - i != 1)
		usage_error("stats: expected one PID");
	pid = id_arg("stats", "pid", argv[i]);
	snprintf(what, sizeof(what), "stats %u", pid);
	snprintf(notrk, sizeof(notrk), "pid %u is not tracked", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = session_msg(&p, PCOPY_CMD_SESSION_GET, 0, pid);
	ret = msg ? session_do(&p, msg, &s, why, sizeof(why)) : -ENOMEM;
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
		stats_print_text(stdout, &s);
	}
	session_stats_free(&s);
out:
	pnl_close(&p);
	return ret;
}
