// SPDX-License-Identifier: GPL-2.0
/*
 * minivm control socket server (protocol in agent/migrate/vmm_minivm_proto.h
 * and Documentation/minivm.rst).  Runs in the main thread: requests are served
 * one at a time, each with exactly one reply.  Malformed requests get an
 * error reply; a client that goes away is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "minivm.h"

#define MVM_CTL_MAX_CLIENTS	8

struct mvm_ctl {
	struct mvm_vm *vm;
	int lfd;
	int cfd[MVM_CTL_MAX_CLIENTS];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint8_t *buf;
};

int mvm_ctl_open(struct mvm_ctl **ctlp, struct mvm_vm *vm, const char *path)
{
	struct sockaddr_un sa;
	struct mvm_ctl *ctl;
	struct stat st;
	int i, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		mvm_err("--control path too long: %s", path);
		return -ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		goto err_nomem;
	ctl->buf = malloc(MVM_CTL_MAX_MSG);
	if (!ctl->buf)
		goto err_free;
	ctl->vm = vm;
	for (i = 0; i < MVM_CTL_MAX_CLIENTS; i++)
		ctl->cfd[i] = -1;
	strcpy(ctl->path, path);

	/* Replace a stale socket, but never clobber anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			mvm_err("--control %s exists and is not a socket", path);
			err = -EEXIST;
			goto err_buf;
		}
		unlink(path);
	}
	ctl->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
			  SOCK_NONBLOCK, 0);
	if (ctl->lfd < 0) {
		err = -errno;
		mvm_err("socket: %s", strerror(errno));
		goto err_buf;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (bind(ctl->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		mvm_err("bind %s: %s", path, strerror(errno));
		goto err_sock;
	}
	if (chmod(path, 0600) < 0 || listen(ctl->lfd, 8) < 0) {
		err = -errno;
		mvm_err("listen %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	*ctlp = ctl;
	mvm_log(vm, "control socket: %s", path);
	return 0;

err_unlink:
	unlink(path);
err_sock:
	close(ctl->lfd);
err_buf:
	free(ctl->buf);
	free(ctl);
	return err;
err_free:
	free(ctl);
err_nomem:
	mvm_err("out of memory");
	return -ENOMEM;
}

void mvm_ctl_close(struct mvm_ctl *ctl)
{
	int i;

	if (!ctl)
		return;
	for (i = 0; i < MVM_CTL_MAX_CLIENTS; i++)
		if (ctl->cfd[i] >= 0)
			close(ctl->cfd[i]);
	close(ctl->lfd);
	unlink(ctl->path);
	free(ctl->buf);
	free(ctl);
}

/* pfd[0] = listening socket, then one entry per client slot. */
int mvm_ctl_pollfds(struct mvm_ctl *ctl, struct pollfd *pfd, int max)
{
	int i, n = 0;

	if (max < 1 + MVM_CTL_MAX_CLIENTS)
		return -EINVAL;
	pfd[n].fd = ctl->lfd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < MVM_CTL_MAX_CLIENTS; i++) {
		pfd[n].fd = ctl->cfd[i];	/* -1 is ignored by poll */
		pfd[n++].events = POLLIN;
	}
	return n;
}

static int send_reply(int fd, uint16_t cmd, int status, const void *payload,
		      size_t len, int pass_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct mvm_ctl_hdr h;
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	h.magic = MVM_CTL_MAGIC;
	h.version = MVM_CTL_VERSION;
	h.cmd = cmd;
	h.status = status;
	h.len = (uint32_t)len;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len ? 2 : 1;
	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

static int send_error(int fd, uint16_t cmd, int err, const char *msg)
{
	return send_reply(fd, cmd, err < 0 ? err : -EINVAL, msg,
			  strlen(msg) + 1, -1);
}

static void build_status(struct mvm_vm *vm, struct mvm_ctl_status *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->state = (uint32_t)mvm_vm_state(vm);
	pthread_mutex_lock(&vm->lock);
	st->nvcpus = vm->nvcpus;
	st->workload = vm->workload;
	if (vm->loop && !vm->stop_loop)
		st->flags |= MVM_STATUS_F_LOOP;
	if (vm->dirty.enabled)
		st->flags |= MVM_STATUS_F_DIRTY_RING;
	if (vm->incoming)
		st->flags |= MVM_STATUS_F_INCOMING;
	if (vm->imported)
		st->flags |= MVM_STATUS_F_IMPORTED;
	st->uptime_ns = mvm_now_ns() - vm->t_start_ns;
	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];
		struct mvm_ctl_vcpu_status *s = &st->vcpu[i];

		s->state = (uint32_t)v->state;
		s->flags = v->vs_flags;
		s->guest_csum = v->guest_csum;
		s->host_csum = v->host_csum;
		s->csum_reports = v->csum_reports;
		s->scan_csum = v->scan_csum;
		s->progress = v->progress;
		s->exits = __atomic_load_n(&v->exits, __ATOMIC_RELAXED);
		st->ring_full_exits += v->ring_full_exits;
	}
	pthread_mutex_unlock(&vm->lock);

	pthread_mutex_lock(&vm->dirty.lock);
	st->dirty_entries = vm->dirty.total;
	st->dirty_distinct = vm->dirty.distinct;
	for (i = 0; i < vm->nvcpus; i++)
		st->vcpu[i].dirty_entries = vm->vcpus[i].dirty_entries;
	pthread_mutex_unlock(&vm->dirty.lock);
}

static void build_layout(struct mvm_vm *vm, struct mvm_ctl_layout *l)
{
	unsigned int i;

	memset(l, 0, sizeof(*l));
	l->page_size = MVM_PAGE_SIZE;
	l->nvcpus = vm->nvcpus;
	l->nslots = 1;
	l->dirty_ring_entries = vm->dirty.enabled ? vm->dirty.entries : 0;
	l->mem_size = vm->mem_size;
	if (vm->incoming)
		l->flags |= MVM_LAYOUT_F_INCOMING;
	if (vm->dirty.enabled)
		l->flags |= MVM_LAYOUT_F_DIRTY_RING;
	l->slots[0].slot = 0;
	l->slots[0].flags = vm->dirty.enabled ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	l->slots[0].gpa = 0;
	l->slots[0].size = vm->mem_size;
	l->slots[0].memfd_offset = 0;
	l->slots[0].hva = (uintptr_t)vm->mem;
	for (i = 0; i < vm->nvcpus; i++) {
		l->vcpu[i].gpa = mvm_region_gpa(vm, i);
		l->vcpu[i].npages = vm->region_pages;
		l->vcpu[i].param_gpa = MVM_GPA_PARAMS + i * MVM_PAGE_SIZE;
		l->vcpu[i].stack_gpa = MVM_GPA_STACKS + i * MVM_PAGE_SIZE;
	}
}

/* Returns 1 for QUIT, 0 otherwise, -errno if the client must be dropped. */
static int handle_request(struct mvm_ctl *ctl, int fd, const uint8_t *req,
			  size_t n)
{
	struct mvm_vm *vm = ctl->vm;
	struct mvm_ctl_hdr h;
	const uint8_t *payload = req + sizeof(h);
	char err[256];
	int r;

	if (n < sizeof(h))
		return send_error(fd, 0, -EINVAL, "short message");
	memcpy(&h, req, sizeof(h));
	if (h.magic != MVM_CTL_MAGIC)
		return send_error(fd, h.cmd, -EINVAL, "bad magic");
	if (h.version != MVM_CTL_VERSION)
		return send_error(fd, h.cmd, -EPROTONOSUPPORT,
				  "unsupported protocol version");
	if (h.len != n - sizeof(h))
		return send_error(fd, h.cmd, -EINVAL,
				  "length field does not match the packet");
	if (h.len && h.cmd != MVM_CMD_IMPORT)
		return send_error(fd, h.cmd, -EINVAL,
				  "this command takes no payload");

	switch (h.cmd) {
	case MVM_CMD_STATUS: {
		struct mvm_ctl_status st;

		mvm_dirty_flush(vm);
		build_status(vm, &st);
		return send_reply(fd, h.cmd, 0, &st, sizeof(st), -1);
	}
	case MVM_CMD_PAUSE:
		if (vm->failed)
			return send_error(fd, h.cmd, -EIO, "VM has failed");
		r = mvm_vm_pause(vm);
		if (r)
			return send_error(fd, h.cmd, r,
					  "timed out waiting for vCPUs to stop");
		mvm_log(vm, "paused");
		return send_reply(fd, h.cmd, 0, NULL, 0, -1);
	case MVM_CMD_RESUME:
		if (vm->failed)
			return send_error(fd, h.cmd, -EIO, "VM has failed");
		if (vm->incoming && !vm->imported)
			return send_error(fd, h.cmd, -EINVAL,
					  "incoming VM: import the vCPU state first");
		mvm_vm_resume(vm);
		mvm_log(vm, "resumed");
		return send_reply(fd, h.cmd, 0, NULL, 0, -1);
	case MVM_CMD_LAYOUT: {
		struct mvm_ctl_layout l;

		build_layout(vm, &l);
		return send_reply(fd, h.cmd, 0, &l, sizeof(l), -1);
	}
	case MVM_CMD_GET_MEMFD: {
		struct mvm_ctl_memfd m = { .size = vm->mem_size, .offset = 0 };

		return send_reply(fd, h.cmd, 0, &m, sizeof(m), vm->mem_fd);
	}
	case MVM_CMD_EXPORT: {
		uint8_t *img;
		size_t len;

		r = mvm_state_export(vm, &img, &len, err, sizeof(err));
		if (r)
			return send_error(fd, h.cmd, r, err);
		r = send_reply(fd, h.cmd, 0, img, len, -1);
		free(img);
		if (!r)
			mvm_log(vm, "exported %zu-byte state image", len);
		return r;
	}
	case MVM_CMD_IMPORT:
		r = mvm_state_import(vm, payload, h.len, err, sizeof(err));
		if (r)
			return send_error(fd, h.cmd, r, err);
		return send_reply(fd, h.cmd, 0, NULL, 0, -1);
	case MVM_CMD_STOP:
		pthread_mutex_lock(&vm->lock);
		vm->stop_loop = true;
		pthread_mutex_unlock(&vm->lock);
		mvm_log(vm, "stop: workloads finish at the end of this run");
		return send_reply(fd, h.cmd, 0, NULL, 0, -1);
	case MVM_CMD_QUIT:
		r = send_reply(fd, h.cmd, 0, NULL, 0, -1);
		(void)r;
		return 1;
	default:
		snprintf(err, sizeof(err), "unknown command %u", h.cmd);
		return send_error(fd, h.cmd, -EINVAL, err);
	}
}

static void drop_fds(struct msghdr *msg)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				close(f);
			}
		}
	}
}

/* Returns 1 if a client asked to QUIT. */
static int serve_client(struct mvm_ctl *ctl, int slot)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	int fd = ctl->cfd[slot];
	struct iovec iov;
	struct msghdr msg;
	ssize_t n;
	int r;

	iov.iov_base = ctl->buf;
	iov.iov_len = MVM_CTL_MAX_MSG;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		goto drop;
	drop_fds(&msg);		/* no command takes descriptors */
	if (msg.msg_flags & MSG_TRUNC) {
		r = send_error(fd, 0, -EMSGSIZE, "message too large");
	} else {
		r = handle_request(ctl, fd, ctl->buf, (size_t)n);
		if (r == 1)
			return 1;
	}
	if (r < 0)
		goto drop;
	return 0;
drop:
	close(fd);
	ctl->cfd[slot] = -1;
	return 0;
}

static void accept_client(struct mvm_ctl *ctl)
{
	int fd, i;

	fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MVM_CTL_MAX_CLIENTS; i++) {
		if (ctl->cfd[i] < 0) {
			ctl->cfd[i] = fd;
			return;
		}
	}
	send_error(fd, 0, -EBUSY, "too many control clients");
	close(fd);
}

/* pfd/n as filled by mvm_ctl_pollfds().  Returns 1 on QUIT. */
int mvm_ctl_service(struct mvm_ctl *ctl, struct pollfd *pfd, int n)
{
	int i;

	for (i = 1; i < n && i <= MVM_CTL_MAX_CLIENTS; i++) {
		if (pfd[i].fd < 0 || !pfd[i].revents)
			continue;
		if (serve_client(ctl, i - 1) == 1)
			return 1;
	}
	if (pfd[0].revents & POLLIN)
		accept_client(ctl);
	return 0;
}
