// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include "lib.h"

const char *src_path(const char *rel)
{
	static char buf[8][PATH_MAX];
	static int n;
	const char *src = getenv("PCOPY_SRC");
	char *b = buf[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", src ? src : ".", rel);
	return b;
}

int module_load(void)
{
	int fd = open(src_path("kmod/pcopy.ko"), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int module_unload(void)
{
	return syscall(SYS_delete_module, "pcopy", O_NONBLOCK) ? -errno : 0;
}

bool module_loaded(void)
{
	return access("/sys/module/pcopy", F_OK) == 0;
}

int module_ensure_loaded(void)
{
	return module_loaded() ? 0 : module_load();
}

struct nl_sock *genl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	return sk;
}

int pcopy_family(struct nl_sock *sk)
{
	return genl_ctrl_resolve(sk, PCOPY_GENL_NAME);
}

struct nl_msg *pcopy_msg(int family, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				flags, cmd, PCOPY_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

uint32_t attr_offset(struct nl_msg *msg, struct nlattr *attr)
{
	return (char *)attr - (char *)nlmsg_hdr(msg);
}

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct nl_result *r = arg;

	if (r->nreplies++ == 0) {
		nlmsg_get(msg);
		r->reply = msg;
		genlmsg_parse(nlmsg_hdr(msg), 0, r->tb, PCOPY_A_MAX, NULL);
	}
	return NL_OK;
}

static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	struct nl_result *r = arg;
	int hlen = sizeof(*e);

	(void)nla;
	r->err = -e->error;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if ((int)nlh->nlmsg_len > (int)NLMSG_HDRLEN + hlen &&
		    !nla_parse(tb, NLMSGERR_ATTR_MAX,
			       (struct nlattr *)((char *)e + hlen),
			       nlh->nlmsg_len - NLMSG_HDRLEN - hlen, NULL)) {
			if (tb[NLMSGERR_ATTR_MSG])
				snprintf(r->msg, sizeof(r->msg), "%s",
					 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
			if (tb[NLMSGERR_ATTR_OFFS]) {
				r->has_offs = true;
				r->offs = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);
			}
		}
	}
	return NL_STOP;
}

static int done_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct nl_result *)arg)->err = 0;
	return NL_STOP;
}

int nl_xfer(struct nl_sock *sk, struct nl_msg *msg, struct nl_result *r)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	memset(r, 0, sizeof(*r));
	r->err = -1;
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, done_cb, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, done_cb, r);
	nl_cb_err(cb, NL_CB_CUSTOM, error_cb, r);
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	/* nl_send_auto completes the header (port, sequence) */
	ret = nl_send_auto(sk, msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return -EIO;
	}
	while (r->err < 0) {
		ret = nl_recvmsgs(sk, cb);
		if (ret < 0 && r->err < 0) {
			r->err = EIO;
			break;
		}
	}
	nl_cb_put(cb);
	return -r->err;
}

void nl_result_free(struct nl_result *r)
{
	if (r->reply)
		nlmsg_free(r->reply);
	r->reply = NULL;
}

int run_capture(const char *cmd, char **out)
{
	FILE *f = popen(cmd, "r");
	size_t cap = 4096, len = 0, n;
	char *buf;
	int st;

	*out = NULL;
	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	st = pclose(f);
	if (buf)
		buf[len] = 0;
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *read_file(const char *path)
{
	char *out, cmd[PATH_MAX + 16];
	int rc;

	snprintf(cmd, sizeof(cmd), "cat '%s' 2>/dev/null", path);
	rc = run_capture(cmd, &out);
	if (rc) {
		free(out);
		return NULL;
	}
	return out;
}
