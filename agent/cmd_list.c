// SPDX-License-Identifier: GPL-2.0
/* pcopy list: every session, one line each (a dump of PCOPY_CMD_SESSION_GET). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/session.h"

static int pid_cmp(const void *a, const void *b)
{
	const struct session_stats *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int cmd_list(int argc, char **argv, const struct opts *go)
{
	struct session_set set = { 0 };
	struct opts o = *go;
	struct nl_msg *msg;
	struct pnl p;
	unsigned int j;
	int i, ret;

	i = cmd_opts(argc, argv, &o, "");
	if (i != argc)
		usage_error("list takes no arguments");

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = pnl_msg(&p, PCOPY_CMD_SESSION_GET, NLM_F_DUMP);
	ret = msg ? pnl_request(&p, msg, session_set_add, &set) : -ENOMEM;
	if (ret) {
		session_perror("list", ret, NULL, set.why);
		goto out;
	}
	/* the module dumps in its own order; show a stable one */
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
		stats_print_list(stdout, set.v, set.n);
	}
out:
	session_set_free(&set);
	pnl_close(&p);
	return ret;
}
