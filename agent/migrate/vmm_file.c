// SPDX-License-Identifier: GPL-2.0
/*
 * The memory-file adapter (vmm.h): a stopped source given as its guest
 * RAM in a file (GPA 0 at offset 0) and, optionally, its device state in
 * another, as a Firecracker snapshot or `ctltest memfd-dump` leaves them.
 * Nothing runs, so there is nothing to pause, resume or track; the state
 * is read whole when asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "vmm.h"

/* Open the memory file once and hold it to the page size. */
static int file_open_mem(struct vmm *v, uint64_t *size)
{
	struct stat st;
	int ret;

	if (v->fd < 0)
		v->fd = open(v->path, O_RDONLY | O_CLOEXEC);
	if (v->fd < 0 || fstat(v->fd, &st)) {
		ret = -errno;
		vmm_err(v, "%s: %s", v->path, strerror(errno));
		return ret;
	}
	if (!st.st_size || st.st_size % MIG_PAGE_SIZE) {
		vmm_err(v, "%s: %lld bytes is not a positive multiple of the %d-byte page",
			v->path, (long long)st.st_size, MIG_PAGE_SIZE);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int file_layout(struct vmm *v, struct vmm_layout *l)
{
	uint64_t size;
	int ret = file_open_mem(v, &size);

	if (ret)
		return ret;
	memset(l, 0, sizeof(*l));
	l->page_size = MIG_PAGE_SIZE;
	l->mem_size = size;
	l->nslots = 1;
	l->slots[0].size = size;
	return 0;
}

static int file_memory(struct vmm *v, int *fd, uint64_t *size, uint64_t *offset)
{
	int ret = file_open_mem(v, size);

	if (ret)
		return ret;
	*fd = v->fd;		/* the caller owns it now */
	v->fd = -1;
	*offset = 0;
	return 0;
}

static int file_nothing(struct vmm *v)
{
	(void)v;
	return 0;
}

static int file_export(struct vmm *v, void **img, size_t *len)
{
	struct stat st;
	void *buf = NULL;
	ssize_t n;
	int fd, ret;

	*img = NULL;
	*len = 0;
	if (!v->state_path)
		return 0;
	fd = open(v->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto err;
	}
	if (!st.st_size || st.st_size > MIG_MAX_STATE) {
		vmm_err(v, "%s: %lld bytes of device state (1 to %u are accepted)",
			v->state_path, (long long)st.st_size, MIG_MAX_STATE);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		ret = -ENOMEM;
		goto err;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		ret = n < 0 ? -errno : -EIO;
		goto err;
	}
	close(fd);
	*img = buf;
	*len = (size_t)st.st_size;
	return 0;
err:
	vmm_err(v, "%s: %s", v->state_path, strerror(-ret));
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int file_import(struct vmm *v, const void *img, size_t len)
{
	(void)img;
	(void)len;
	vmm_err(v, "%s: a memory file cannot take device state", v->path);
	return -EOPNOTSUPP;
}

static pid_t file_pid(const struct vmm *v)
{
	(void)v;
	return 0;
}

static void file_close(struct vmm *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static const struct vmm_ops file_ops = {
	.close = file_close,
	.layout = file_layout,
	.memory = file_memory,
	.pause = file_nothing,
	.resume = file_nothing,
	.state_export = file_export,
	.state_import = file_import,
	.pid = file_pid,
};

int vmm_file_open(struct vmm *v, const char *mem, const char *state, const char *who)
{
	memset(v, 0, sizeof(*v));
	v->ops = &file_ops;
	v->fd = -1;
	v->who = who;
	v->what = mem;
	v->path = mem;
	v->state_path = state;
	v->has_state = state != NULL;
	return 0;
}
