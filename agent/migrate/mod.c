// SPDX-License-Identifier: GPL-2.0
/* pcopy.ko for the migration commands (mod.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/msg.h>

#include "mod.h"
#include "observe/session.h"

static int info_cb(struct nlattr **tb, void *arg)
{
	struct mig_mod *m = arg;

	if (!tb[PCOPY_A_ABI_VERSION] || !tb[PCOPY_A_FEATURES])
		return -EPROTO;
	m->features = nla_get_u64(tb[PCOPY_A_FEATURES]);
	return 0;
}

int mod_open(struct mig_mod *m, char *why, size_t len)
{
	struct nl_msg *msg;
	int one = 1, ret;

	memset(m, 0, sizeof(*m));
	/* as pnl_open(), without its message: a missing module is no error here */
	m->p.sk = nl_socket_alloc();
	if (!m->p.sk) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	ret = genl_connect(m->p.sk);
	if (ret < 0) {
		snprintf(why, len, "cannot open generic netlink: %s", nl_geterror(ret));
		ret = -ENOTCONN;
		goto err;
	}
	setsockopt(nl_socket_get_fd(m->p.sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	m->p.family = genl_ctrl_resolve(m->p.sk, PCOPY_GENL_NAME);
	if (m->p.family < 0) {
		ret = m->p.family == -NLE_OBJ_NOTFOUND ? -ENOENT : -EIO;
		snprintf(why, len, "%s", ret == -ENOENT ?
			 "pcopy.ko is not loaded (no generic netlink family \"pcopy\")" :
			 nl_geterror(m->p.family));
		goto err;
	}
	m->open = true;
	msg = pnl_msg(&m->p, PCOPY_CMD_GET_INFO, 0);
	ret = msg ? pnl_request(&m->p, msg, info_cb, m) : -ENOMEM;
	if (ret) {
		snprintf(why, len, "pcopy.ko GET_INFO: %s", strerror(-ret));
		mod_close(m);
		return ret;
	}
	return 0;
err:
	nl_socket_free(m->p.sk);
	m->p.sk = NULL;
	return ret;
}

int mod_track(struct mig_mod *m, uint32_t pid, char *why, size_t len)
{
	struct session_stats s;
	char pwhy[160] = "";
	int ret;

	ret = session_call(&m->p, PCOPY_CMD_SESSION_NEW, pid, &s, pwhy, sizeof(pwhy));
	if (!ret) {
		session_stats_free(&s);
		m->created = true;
	} else if (ret == -EEXIST) {
		ret = 0;	/* someone tracks it already: share the session */
	} else if (ret == -EPERM) {
		snprintf(why, len, "cannot track pid %u: permission denied (pcopy needs CAP_NET_ADMIN)", pid);
	} else if (ret == -EPROTO) {
		snprintf(why, len, "cannot track pid %u: malformed reply from the module: %s", pid, pwhy);
	} else {
		snprintf(why, len, "cannot track pid %u: %s", pid, strerror(-ret));
	}
	if (!ret)
		m->pid = pid;
	return ret;
}

int mod_stats(struct mig_mod *m, struct session_stats *s, char *why, size_t len)
{
	char pwhy[160] = "";
	int ret;

	if (!m->pid)
		return -ENOENT;
	ret = session_call(&m->p, PCOPY_CMD_SESSION_GET, m->pid, s, pwhy, sizeof(pwhy));
	if (ret)
		snprintf(why, len, "statistics of pid %u: %s", m->pid,
			 ret == -EPROTO ? pwhy : ret == -ENOENT ? "the session ended (the VMM exited?)" :
			 strerror(-ret));
	return ret;
}

void mod_close(struct mig_mod *m)
{
	struct nl_msg *msg;

	if (!m->open)
		return;
	if (m->created) {
		msg = session_msg(&m->p, PCOPY_CMD_SESSION_DEL, 0, m->pid);
		/* ENOENT: the session ended with the process */
		if (msg)
			pnl_request(&m->p, msg, NULL, NULL);
	}
	pnl_close(&m->p);
	m->open = false;
	m->pid = 0;
	m->created = false;
}
