// SPDX-License-Identifier: GPL-2.0
/* Talking to pcopy.ko over generic netlink, with libnl-genl-3. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/msg.h>

#include "nl.h"

struct nla_policy pnl_policy[PCOPY_A_MAX + 1] = {
	[PCOPY_A_MODULE_VERSION] = { .type = NLA_NUL_STRING,
				     .maxlen = PCOPY_VERSION_MAXLEN + 1 },
	[PCOPY_A_ABI_VERSION]	 = PNL_POLICY_U32,
	[PCOPY_A_FEATURES]	 = PNL_POLICY_U64,
	[PCOPY_A_FEATURES_KNOWN] = PNL_POLICY_U64,
	[PCOPY_A_PID]		 = PNL_POLICY_U32,
	[PCOPY_A_TID]		 = PNL_POLICY_U32,
	[PCOPY_A_VCPU]		 = PNL_POLICY_U32,
	[PCOPY_A_STATS]		 = { .type = NLA_NESTED },
	[PCOPY_A_VCPUS]		 = { .type = NLA_NESTED },
	[PCOPY_A_VCPU_ENTRY]	 = { .type = NLA_NESTED },
	[PCOPY_A_HIST_NS]	 = { .type = NLA_NESTED },
	[PCOPY_A_HIST_US]	 = { .type = NLA_NESTED },
	[PCOPY_A_TRUNCATED]	 = { .type = NLA_FLAG },
	[PCOPY_A_END_REASON]	 = PNL_POLICY_U32,
	[PCOPY_A_SESSION_ID]	 = PNL_POLICY_U64,
	[PCOPY_A_ENDED]		 = { .type = NLA_FLAG },
	[PCOPY_A_END_TIME]	 = PNL_POLICY_U64,
	[PCOPY_A_ENDED_MAX]	 = PNL_POLICY_U32,
	[PCOPY_A_ENDED_SECS]	 = PNL_POLICY_U32,
	[PCOPY_A_ENDED_COUNT]	 = PNL_POLICY_U32,
	[PCOPY_A_AUTO_ON]	 = { .type = NLA_U8, .maxlen = sizeof(uint8_t) },
	[PCOPY_A_AUTO_COMM]	 = { .type = NLA_NUL_STRING,
				     .maxlen = PCOPY_AUTO_COMM_MAXLEN + 1 },
	[PCOPY_A_AUTO_CGROUP]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_MAX]	 = PNL_POLICY_U32,
	[PCOPY_A_AUTO_CREATED]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_FILTERED]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_CAPPED]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_NO_SLOT]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_ATTACHED]	 = { .type = NLA_FLAG },
	[PCOPY_A_FOLLOW_FORKS]	 = { .type = NLA_FLAG },
	[PCOPY_A_PARENT_ID]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_FORKS]	 = PNL_POLICY_U64,
	[PCOPY_A_AUTO_FORKS_LOST] = PNL_POLICY_U64,
};

int pnl_open(struct pnl *p)
{
	int one = 1;
	int ret;

	p->sk = nl_socket_alloc();
	if (!p->sk) {
		fprintf(stderr, "pcopy: cannot allocate a netlink socket\n");
		return -ENOMEM;
	}
	ret = genl_connect(p->sk);
	if (ret < 0) {
		fprintf(stderr, "pcopy: cannot open generic netlink: %s\n",
			nl_geterror(ret));
		ret = -ENOTCONN;
		goto err;
	}
	/* libnl 3.7 has no helper for this: ask for extack messages */
	setsockopt(nl_socket_get_fd(p->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	p->family = genl_ctrl_resolve(p->sk, PCOPY_GENL_NAME);
	if (p->family < 0) {
		if (p->family == -NLE_OBJ_NOTFOUND) {
			fprintf(stderr, "pcopy: the pcopy kernel module is not loaded "
				"(no generic netlink family \"%s\"; insmod pcopy.ko)\n",
				PCOPY_GENL_NAME);
			ret = -ENOENT;
		} else {
			fprintf(stderr, "pcopy: cannot resolve the pcopy netlink family: %s\n",
				nl_geterror(p->family));
			ret = -EIO;
		}
		goto err;
	}
	return 0;
err:
	nl_socket_free(p->sk);
	p->sk = NULL;
	return ret;
}

void pnl_close(struct pnl *p)
{
	nl_socket_free(p->sk);
	p->sk = NULL;
}

struct nl_msg *pnl_msg(struct pnl *p, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, p->family, 0,
			 flags, cmd, PCOPY_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct req_ctx {
	int (*cb)(struct nlattr **tb, void *arg);
	void *arg;
	int err;
};

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct req_ctx *ctx = arg;
	struct nlattr *tb[PCOPY_A_MAX + 1];
	int ret;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCOPY_A_MAX, pnl_policy);
	if (ret < 0) {
		fprintf(stderr, "pcopy: malformed reply from the module: %s\n",
			nl_geterror(ret));
		ctx->err = -EPROTO;
		return NL_STOP;
	}
	if (ctx->cb) {
		ret = ctx->cb(tb, ctx->arg);
		if (ret < 0) {
			ctx->err = ret;
			return NL_STOP;
		}
	}
	return NL_OK;
}

/*
 * The kernel appends extack TLVs to an error (after the echoed request,
 * unless capped) and to the NLMSG_DONE of a dump (after the error code).
 */
static void print_extack(const struct nlmsghdr *nlh, const void *tlvs, int len)
{
	static struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_MSG] = { .type = NLA_STRING },
	};
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len <= 0)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)tlvs, len,
		      policy) == 0 && tb[NLMSGERR_ATTR_MSG])
		fprintf(stderr, "pcopy: kernel says: %s\n",
			nla_get_string(tb[NLMSGERR_ATTR_MSG]));
}

static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct req_ctx *ctx = arg;
	struct nlmsghdr *nlh = (struct nlmsghdr *)e - 1;
	int hlen = sizeof(*e);

	(void)nla;
	ctx->err = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	hlen = NLMSG_ALIGN(hlen);
	print_extack(nlh, (char *)e + hlen,
		     (int)nlh->nlmsg_len - (int)NLMSG_HDRLEN - hlen);
	return NL_STOP;
}

/*
 * NLMSG_DONE ends a dump.  Its payload is the dump's final status: a dump
 * that failed after its first message reports the error here, not in an
 * NLMSG_ERROR, and a successful dump is not followed by an ACK.
 */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct req_ctx *ctx = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int len = nlmsg_datalen(nlh);
	int err = 0;

	if (len >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0)
			print_extack(nlh, (char *)nlmsg_data(nlh) + NLMSG_ALIGN(sizeof(err)),
				     len - (int)NLMSG_ALIGN(sizeof(err)));
	}
	ctx->err = err < 0 ? err : 0;
	return NL_STOP;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct req_ctx *)arg)->err = 0;
	return NL_STOP;
}

/* The dump's objects changed while it was running: its view is torn. */
static int dump_intr_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct req_ctx *)arg)->err = -EAGAIN;
	return NL_STOP;
}

int pnl_request(struct pnl *p, struct nl_msg *msg,
		int (*cb)(struct nlattr **tb, void *arg), void *arg)
{
	struct req_ctx ctx = { .cb = cb, .arg = arg, .err = 1 };
	struct nl_cb *nlcb;
	int ret;

	nlcb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!nlcb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(nlcb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, &ctx);
	nl_cb_set(nlcb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, &ctx);
	nl_cb_set(nlcb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &ctx);
	nl_cb_set(nlcb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, dump_intr_cb, &ctx);
	nl_cb_err(nlcb, NL_CB_CUSTOM, error_cb, &ctx);

	/* a dump is ended by NLMSG_DONE; the kernel sends no ACK after it */
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	ret = nl_send_auto(p->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		fprintf(stderr, "pcopy: netlink send failed: %s\n", nl_geterror(ret));
		nl_cb_put(nlcb);
		return -EIO;
	}
	while (ctx.err > 0) {
		ret = nl_recvmsgs(p->sk, nlcb);
		if (ret < 0 && ctx.err > 0) {
			fprintf(stderr, "pcopy: netlink receive failed: %s\n",
				nl_geterror(ret));
			ctx.err = -EIO;
		}
	}
	nl_cb_put(nlcb);
	return ctx.err;
}
