// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy auto on [--comm NAME] [--cgroup DIR] [--max N] / pcopy auto off:
 * the module's auto-attach (PCOPY_CMD_SET_AUTO).  With it on, every process
 * that registers a userfaultfd range and passes the filter gets a session
 * without a "pcopy track"; "pcopy status" shows the setting and what it
 * did.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "agent.h"
#include "observe/nl.h"

#define USAGE	"on [--comm NAME] [--cgroup DIR] [--max N] [--follow-forks] | off"

enum { OPT_COMM = 256, OPT_CGROUP, OPT_MAX, OPT_FOLLOW };

struct auto_args {
	const char *comm;
	const char *cgroup;
	uint64_t cgroup_id;
	uint32_t max;
	bool follow;
};

static void auto_opt(int c, const char *arg, void *ctx)
{
	struct auto_args *a = ctx;
	struct statfs sfs;
	struct stat st;

	switch (c) {
	case OPT_COMM:
		if (!*arg || strlen(arg) > PCOPY_AUTO_COMM_MAXLEN)
			usage_error("auto: --comm needs a command name of 1 to %d characters",
				    PCOPY_AUTO_COMM_MAXLEN);
		a->comm = arg;
		break;
	case OPT_CGROUP:
		/* a cgroup v2 directory's id is its inode number */
		if (statfs(arg, &sfs) || stat(arg, &st))
			usage_error("auto: --cgroup %s: %s", arg, strerror(errno));
		if (sfs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
			usage_error("auto: --cgroup %s is not a cgroup v2 directory", arg);
		a->cgroup = arg;
		a->cgroup_id = st.st_ino;
		break;
	case OPT_FOLLOW:
		a->follow = true;
		break;
	case OPT_MAX:
		if (parse_u32(arg, 1, PCOPY_MAX_SESSIONS, &a->max))
			usage_error("auto: --max '%s' is not a number of sessions (1 to %d)", arg,
				    PCOPY_MAX_SESSIONS);
		break;
	}
}

int cmd_auto(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "max", required_argument, NULL, OPT_MAX },
		{ "follow-forks", no_argument, NULL, OPT_FOLLOW },
		{ NULL, 0, NULL, 0 },
	};
	struct auto_args a = { 0 };
	struct opts o = *go;
	struct nl_msg *msg;
	struct pnl p;
	bool on;
	int i, ret;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", auto_opt, &a);
	if (argc - i != 1 || (strcmp(argv[i], "on") && strcmp(argv[i], "off")))
		usage_error("auto: expected 'on' or 'off'");
	on = !strcmp(argv[i], "on");
	if (!on && (a.comm || a.cgroup || a.max || a.follow))
		usage_error("auto: off takes no filter");

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = pnl_msg(&p, PCOPY_CMD_SET_AUTO, 0);
	if (!msg || nla_put_u8(msg, PCOPY_A_AUTO_ON, on) < 0 ||
	    (a.comm && nla_put_string(msg, PCOPY_A_AUTO_COMM, a.comm) < 0) ||
	    (a.cgroup && nla_put_u64(msg, PCOPY_A_AUTO_CGROUP, a.cgroup_id) < 0) ||
	    (a.max && nla_put_u32(msg, PCOPY_A_AUTO_MAX, a.max) < 0) ||
	    (a.follow && nla_put_flag(msg, PCOPY_A_FOLLOW_FORKS) < 0)) {
		nlmsg_free(msg);
		ret = -ENOMEM;
	} else {
		ret = pnl_request(&p, msg, NULL, NULL);
	}
	if (ret == -EOPNOTSUPP)
		fprintf(stderr, "pcopy: auto: the module cannot auto-attach on this kernel "
			"(see 'pcopy status'), or is older than the agent\n");
	else if (ret)
		fprintf(stderr, "pcopy: auto %s: %s\n", argv[i], strerror(-ret));
	else if (!o.json && on)
		printf("auto-attach on: %s%s%s%s%s\n",
		       a.comm ? "command " : "", a.comm ? a.comm : "",
		       a.comm && a.cgroup ? ", " : "",
		       a.cgroup ? "cgroup " : "", a.cgroup ? a.cgroup : "");
	else if (!o.json)
		printf("auto-attach off\n");
	pnl_close(&p);
	return ret;
}
