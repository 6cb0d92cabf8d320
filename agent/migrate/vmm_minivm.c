// SPDX-License-Identifier: GPL-2.0
/*
 * The minivm adapter (vmm.h): a client of minivm's control socket, whose
 * protocol vmm_minivm_proto.h defines for both ends.  Every request is one
 * SOCK_SEQPACKET packet answered by exactly one reply.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"
#include "vmm.h"
#include "vmm_minivm_proto.h"

_Static_assert(VMM_MAX_SLOTS == MVM_MAX_SLOTS, "a minivm layout fits struct vmm_layout");

/* how long vmm_open() waits for a control socket to appear: 5 s */
#define VMM_CONNECT_TRIES	100
#define VMM_CONNECT_WAIT_US	50000

/* PAUSE may take the VMM up to 10 s to refuse; wait a little longer. */
#define VMM_TIMEOUT_MS	15000

static const char *cmd_name(uint16_t cmd)
{
	switch (cmd) {
	case MVM_CMD_STATUS: return "STATUS";
	case MVM_CMD_PAUSE: return "PAUSE";
	case MVM_CMD_RESUME: return "RESUME";
	case MVM_CMD_LAYOUT: return "LAYOUT";
	case MVM_CMD_GET_MEMFD: return "GET_MEMFD";
	case MVM_CMD_EXPORT: return "EXPORT";
	case MVM_CMD_IMPORT: return "IMPORT";
	case MVM_CMD_STOP: return "STOP";
	case MVM_CMD_QUIT: return "QUIT";
	}
	return "?";
}

/*
 * Read one reply packet into @buf (MVM_CTL_MAX_MSG bytes): its length or
 * -errno, the first descriptor passed with it in *@got_fd (others are
 * closed) and the message flags in *@mflags.
 */
static ssize_t recv_reply(struct vmm *v, unsigned char *buf, int *got_fd, int *mflags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = MVM_CTL_MAX_MSG };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	do {
		n = recvmsg(v->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*mflags = msg.msg_flags;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
				if (*got_fd < 0)
					*got_fd = f;
				else
					close(f);
			}
		}
	}
	return n;
}

/*
 * One request, one reply.  The reply payload (if any) goes to *@reply
 * (malloc()ed, *@rlen bytes); a descriptor passed with it to *@fd (or is
 * closed when @fd is NULL).
 */
static int request(struct vmm *v, uint16_t cmd, const void *payload, size_t len,
		   void **reply, size_t *rlen, int *fd)
{
	struct mvm_ctl_hdr h = {
		.magic = MVM_CTL_MAGIC,
		.version = MVM_CTL_VERSION,
		.cmd = cmd,
		.len = (uint32_t)len,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	struct pollfd pfd = { .fd = v->fd, .events = POLLIN };
	int got_fd = -1, mflags = 0, ret, pr;
	unsigned char *buf;
	ssize_t n;

	if (fd)
		*fd = -1;
	if (reply)
		*reply = NULL;
	if (len > MVM_CTL_MAX_MSG - sizeof(h)) {
		vmm_err(v, "VMM %s: a %zu-byte payload exceeds the control protocol's limit", cmd_name(cmd), len);
		return -EMSGSIZE;
	}
	do {
		n = sendmsg(v->fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
		vmm_err(v, "VMM %s: sending to %s: %s", cmd_name(cmd), v->path, strerror(errno));
		return ret;
	}

	do {
		pr = poll(&pfd, 1, VMM_TIMEOUT_MS);
	} while (pr < 0 && errno == EINTR);
	if (pr <= 0) {
		vmm_err(v, "VMM %s: no reply from %s within %d s", cmd_name(cmd), v->path, VMM_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	buf = malloc(MVM_CTL_MAX_MSG);
	if (!buf)
		return -ENOMEM;
	n = recv_reply(v, buf, &got_fd, &mflags);
	if (n < 0) {
		ret = (int)n;
		vmm_err(v, "VMM %s: reading the reply: %s", cmd_name(cmd), strerror(-ret));
		goto out;
	}
	if (!n) {
		ret = -EPIPE;
		vmm_err(v, "VMM %s: the VMM closed its control socket (exited?)", cmd_name(cmd));
		goto out;
	}
	memcpy(&h, buf, (size_t)n < sizeof(h) ? (size_t)n : sizeof(h));
	if ((size_t)n < sizeof(h) || h.magic != MVM_CTL_MAGIC || h.version != MVM_CTL_VERSION ||
	    h.cmd != cmd || h.len != (size_t)n - sizeof(h) || (mflags & MSG_TRUNC)) {
		ret = -EPROTO;
		vmm_err(v, "VMM %s: malformed reply from %s", cmd_name(cmd), v->path);
		goto out;
	}
	if (h.status < 0) {
		ret = h.status;
		buf[n - 1] = '\0';
		vmm_err(v, "VMM %s failed: %s (%s)", cmd_name(cmd),
			h.len ? (char *)buf + sizeof(h) : "no message", strerror(-ret));
		goto out;
	}
	if (reply) {
		*reply = malloc(h.len ? h.len : 1);
		if (!*reply) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(*reply, buf + sizeof(h), h.len);
		*rlen = h.len;
	}
	if (fd) {
		*fd = got_fd;
		got_fd = -1;
	}
	ret = 0;
out:
	if (got_fd >= 0)
		close(got_fd);
	free(buf);
	return ret;
}

static int fixed_reply(struct vmm *v, uint16_t cmd, void *out, size_t size, int *fd)
{
	size_t len;
	void *r;
	int ret;

	ret = request(v, cmd, NULL, 0, &r, &len, fd);
	if (ret)
		return ret;
	if (len != size) {
		vmm_err(v, "VMM %s: a %zu-byte reply, expected %zu", cmd_name(cmd), len, size);
		free(r);
		if (fd && *fd >= 0)
			close(*fd);
		return -EPROTO;
	}
	memcpy(out, r, size);
	free(r);
	return 0;
}

static void minivm_close(struct vmm *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static int minivm_layout(struct vmm *v, struct vmm_layout *l)
{
	struct mvm_ctl_layout ml;
	unsigned int i;
	int ret;

	ret = fixed_reply(v, MVM_CMD_LAYOUT, &ml, sizeof(ml), NULL);
	if (ret)
		return ret;
	memset(l, 0, sizeof(*l));
	l->page_size = ml.page_size;
	l->mem_size = ml.mem_size;
	l->nvcpus = ml.nvcpus;
	l->dirty_ring_entries = ml.dirty_ring_entries;
	/* more slots than fit is kept in nslots for the caller to refuse */
	l->nslots = ml.nslots;
	for (i = 0; i < ml.nslots && i < VMM_MAX_SLOTS; i++) {
		l->slots[i].id = ml.slots[i].slot;
		l->slots[i].gpa = ml.slots[i].gpa;
		l->slots[i].size = ml.slots[i].size;
		l->slots[i].mem_offset = ml.slots[i].memfd_offset;
	}
	return 0;
}

static int minivm_memory(struct vmm *v, int *fd, uint64_t *size, uint64_t *offset)
{
	struct mvm_ctl_memfd m;
	int ret = fixed_reply(v, MVM_CMD_GET_MEMFD, &m, sizeof(m), fd);

	if (!ret && *fd < 0) {
		vmm_err(v, "VMM GET_MEMFD: the reply carries no descriptor");
		return -EPROTO;
	}
	if (!ret) {
		*size = m.size;
		*offset = m.offset;
	}
	return ret;
}

static int minivm_pause(struct vmm *v)
{
	return request(v, MVM_CMD_PAUSE, NULL, 0, NULL, NULL, NULL);
}

static int minivm_resume(struct vmm *v)
{
	return request(v, MVM_CMD_RESUME, NULL, 0, NULL, NULL, NULL);
}

static int minivm_export(struct vmm *v, void **img, size_t *len)
{
	return request(v, MVM_CMD_EXPORT, NULL, 0, img, len, NULL);
}

static int minivm_import(struct vmm *v, const void *img, size_t len)
{
	return request(v, MVM_CMD_IMPORT, img, len, NULL, NULL, NULL);
}

static pid_t minivm_pid(const struct vmm *v)
{
	return v->peer;
}

static const struct vmm_ops minivm_ops = {
	.close = minivm_close,
	.layout = minivm_layout,
	.memory = minivm_memory,
	.pause = minivm_pause,
	.resume = minivm_resume,
	.state_export = minivm_export,
	.state_import = minivm_import,
	.pid = minivm_pid,
};

int vmm_minivm_open(struct vmm *v, const char *path, const char *who)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred = { 0 };
	socklen_t cl = sizeof(cred);
	unsigned int tries;
	int ret;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->path = path;
	v->who = who;
	v->what = "the VMM's memfd";
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pcopy: %s: VMM control socket path too long: %s\n", who, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	v->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (v->fd < 0) {
		ret = -errno;
		goto err_connect;
	}
	/*
	 * A VMM may hand its userfaultfd over before it opens its control
	 * socket (minivm does): give it a few seconds to appear.
	 */
	for (tries = 0;; tries++) {
		if (!connect(v->fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		ret = -errno;
		if ((ret != -ENOENT && ret != -ECONNREFUSED) || tries == VMM_CONNECT_TRIES)
			goto err_connect;
		usleep(VMM_CONNECT_WAIT_US);
	}
	ret = getsockopt(v->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ? -errno : 0;
	if (!ret && cred.pid <= 0)
		ret = -ESRCH;
	if (ret) {
		fprintf(stderr, "pcopy: %s: %s: cannot learn the VMM's pid (SO_PEERCRED): %s\n",
			who, path, strerror(-ret));
		goto err;
	}
	v->peer = cred.pid;
	v->ops = &minivm_ops;
	v->live = true;
	v->has_state = true;
	return 0;
err_connect:
	fprintf(stderr, "pcopy: %s: cannot connect to the VMM control socket %s: %s\n",
		who, path, strerror(-ret));
err:
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	return ret;
}
