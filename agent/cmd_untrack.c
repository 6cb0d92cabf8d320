// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy untrack PID: end a session.
 * pcopy reset PID: zero a session's counters, histograms and blocktimes.
 * Both send one PID to the module and report success the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/session.h"

struct pid_cmd {
	const char *name;	/* subcommand, for messages */
	uint8_t cmd;		/* PCOPY_CMD_* */
	const char *json_key;	/* the JSON answer: {"pid", json_key: json_val} */
	bool json_val;
	const char *done;	/* the text answer, with the pid */
};

static int pid_cmd(int argc, char **argv, const struct opts *go,
		   const struct pid_cmd *pc)
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
	int ret;

	pid = pid_operand(argc, argv, &o, pc->name);
	snprintf(what, sizeof(what), "%s %u", pc->name, pid);
	snprintf(notrk, sizeof(notrk), "pid %u is not tracked", pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = session_msg(&p, pc->cmd, 0, pid);
	ret = session_ack(&p, msg, what, texts);
	if (ret)
		goto out;

	if (o.json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "pid", json_object_new_int64(pid));
		json_object_object_add(obj, pc->json_key,
				       json_object_new_boolean(pc->json_val));
		print_json(obj);
		json_object_put(obj);
	} else {
		printf(pc->done, pid);
		putchar('\n');
	}
out:
	pnl_close(&p);
	return ret;
}

int cmd_untrack(int argc, char **argv, const struct opts *go)
{
	static const struct pid_cmd pc = {
		"untrack", PCOPY_CMD_SESSION_DEL, "tracked", false,
		"no longer tracking pid %u",
	};

	return pid_cmd(argc, argv, go, &pc);
}

int cmd_reset(int argc, char **argv, const struct opts *go)
{
	static const struct pid_cmd pc = {
		"reset", PCOPY_CMD_SESSION_RESET, "reset", true,
		"statistics of pid %u reset",
	};

	return pid_cmd(argc, argv, go, &pc);
}
