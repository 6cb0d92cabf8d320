// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy list [--ended]: every live session, or with --ended every ended one
 * the module keeps, one line each (a dump of PCOPY_CMD_SESSION_GET).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "agent.h"
#include "observe/session.h"

static int pid_cmp(const void *a, const void *b)
{
	const struct session_stats *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

enum { OPT_ENDED = 256 };

static void list_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == OPT_ENDED)
		*(bool *)ctx = true;
}

int cmd_list(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "ended", no_argument, NULL, OPT_ENDED },
		{ NULL, 0, NULL, 0 },
	};
	struct session_set set = { 0 };
	struct opts o = *go;
	bool ended = false;
	struct nl_msg *msg;
	struct pnl p;
	unsigned int j;
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, "[--ended]", lopts, "", list_opt, &ended);
	if (i != argc)
		usage_error("list takes no arguments");

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = pnl_msg(&p, PCOPY_CMD_SESSION_GET, NLM_F_DUMP);
	if (msg && ended && nla_put_flag(msg, PCOPY_A_ENDED) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = msg ? pnl_request(&p, msg, session_set_add, &set) : -ENOMEM;
	if (ret) {
		session_perror("list", ret, NULL, set.why);
		goto out;
	}
	/* an old module ignores PCOPY_A_ENDED and dumps live sessions */
	for (j = 0; j < set.n; j++) {
		if (set.v[j].ended != ended) {
			fprintf(stderr, "pcopy: list: the module %s\n", ended ?
				"keeps no ended sessions (older than ABI 3?)" :
				"listed an ended session among the live ones");
			ret = -EPROTO;
			goto out;
		}
	}
	/* live: in pid order; ended: the module's order, newest end first */
	if (!ended)
		qsort(set.v, set.n, sizeof(*set.v), pid_cmp);

	if (o.json) {
		struct json_object *arr = json_object_new_array_ext((int)set.n);

		for (j = 0; arr && j < set.n; j++) {
			struct json_object *obj = stats_to_json(&set.v[j]);

			if (!obj || json_object_array_add(arr, obj)) {
				json_object_put(obj);
				json_object_put(arr);
				arr = NULL;
			}
		}
		if (!arr) {
			ret = -ENOMEM;
			session_perror("list", ret, NULL, NULL);
			goto out;
		}
		print_json(arr);
		json_object_put(arr);
	} else {
		stats_print_list(stdout, set.v, set.n, ended);
	}
out:
	session_set_free(&set);
	pnl_close(&p);
	return ret;
}
