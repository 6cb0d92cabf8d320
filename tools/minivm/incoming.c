// SPDX-License-Identifier: GPL-2.0
/*
 * minivm incoming mode (postcopy destination).
 *
 * Guest RAM is the same shmem memfd as in a normal boot, but nothing is
 * written to it: it is registered with a userfaultfd in MISSING mode, so
 * the first access to every page (by a vCPU through KVM, or by minivm
 * itself) blocks until the external handler fills the page with
 * UFFDIO_COPY.  The uffd is handed to the handler with the Firecracker UFFD
 * handoff protocol: minivm connects to the handler's SOCK_STREAM Unix
 * socket and sends ONE message whose body is a JSON array with one object
 * per guest memory region
 *     {"base_host_virt_addr": N, "size": N, "offset": N, "page_size": N}
 * (offset = offset of the region in the guest memory file, the memfd) and
 * whose SCM_RIGHTS control message carries the uffd.  The connection stays
 * open until minivm exits, so the handler sees EOF then.  minivm keeps its
 * own copy of the uffd: if the handler dies, faults keep blocking instead
 * of silently mapping zero pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <linux/userfaultfd.h>
#include <json-c/json.h>

#include "minivm.h"

static int uffd_open(void)
{
	int fd, dev;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	/* Kernels >= 6.1 also offer /dev/userfaultfd. */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd;
}

static char *handoff_json(struct mvm_vm *vm)
{
	struct json_object *arr, *reg;
	const char *s;
	char *out = NULL;

	arr = json_object_new_array();
	reg = json_object_new_object();
	if (!arr || !reg)
		goto out;
	json_object_object_add(reg, "base_host_virt_addr",
			       json_object_new_uint64((uintptr_t)vm->mem));
	json_object_object_add(reg, "size",
			       json_object_new_uint64(vm->mem_size));
	json_object_object_add(reg, "offset", json_object_new_uint64(0));
	json_object_object_add(reg, "page_size",
			       json_object_new_uint64(MVM_PAGE_SIZE));
	json_object_array_add(arr, reg);
	reg = NULL;
	s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	if (s)
		out = strdup(s);
out:
	json_object_put(reg);
	json_object_put(arr);
	return out;
}

static int send_handoff(int sock, int uffd, const char *body)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)body, .iov_len = strlen(body) };
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != iov.iov_len)
		return -EMSGSIZE;
	return 0;
}

int mvm_incoming_setup(struct mvm_vm *vm, const char *sock_path)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	struct uffdio_register reg;
	struct sockaddr_un sa;
	char *body;
	int uffd, sock, err;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		mvm_err("--incoming path too long: %s", sock_path);
		return -ENAMETOOLONG;
	}
	uffd = uffd_open();
	if (uffd < 0) {
		err = -errno;
		mvm_err("userfaultfd: %s", strerror(errno));
		return err;
	}
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		err = -errno;
		mvm_err("UFFDIO_API: %s", strerror(errno));
		goto err_uffd;
	}
	if (!(api.features & UFFD_FEATURE_MISSING_SHMEM)) {
		mvm_err("userfaultfd cannot handle shmem (memfd) memory");
		err = -EOPNOTSUPP;
		goto err_uffd;
	}
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)vm->mem;
	reg.range.len = vm->mem_size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		err = -errno;
		mvm_err("UFFDIO_REGISTER: %s", strerror(errno));
		goto err_uffd;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_COPY))) {
		mvm_err("UFFDIO_COPY not available on guest RAM");
		err = -EOPNOTSUPP;
		goto err_uffd;
	}

	body = handoff_json(vm);
	if (!body) {
		mvm_err("out of memory");
		err = -ENOMEM;
		goto err_uffd;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		err = -errno;
		mvm_err("socket: %s", strerror(errno));
		goto err_body;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, sock_path);
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		mvm_err("cannot connect to uffd handler at %s: %s", sock_path,
			strerror(errno));
		goto err_sock;
	}
	err = send_handoff(sock, uffd, body);
	if (err) {
		mvm_err("sending the uffd to %s: %s", sock_path, strerror(-err));
		goto err_sock;
	}
	mvm_log(vm, "incoming: uffd handed to %s: %s", sock_path, body);
	free(body);
	vm->uffd = uffd;
	vm->uffd_sock = sock;
	return 0;

err_sock:
	close(sock);
err_body:
	free(body);
err_uffd:
	close(uffd);
	return err;
}

void mvm_incoming_fini(struct mvm_vm *vm)
{
	if (vm->uffd_sock >= 0)
		close(vm->uffd_sock);
	if (vm->uffd >= 0)
		close(vm->uffd);
	vm->uffd_sock = vm->uffd = -1;
}
