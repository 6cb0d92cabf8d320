// SPDX-License-Identifier: GPL-2.0
/*
 * Firecracker's UFFD handoff, receiving end (handoff.h).  The handoff
 * is parsed with json-c and refused whole at the first thing wrong: a
 * region we misread would have us place guest pages at the wrong address.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "handoff.h"
#include "transport.h"
#include "util.h"

int handoff_listen(struct mig_handoff *h, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	memset(h, 0, sizeof(*h));
	h->lfd = h->conn = h->uffd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pcopy: recv: --uffd-sock path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	snprintf(h->path, sizeof(h->path), "%s", path);
	/* replace a stale socket, never anything else */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "pcopy: recv: --uffd-sock %s exists and is not a socket\n", path);
			return -EEXIST;
		}
		unlink(path);
	}
	h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(h->lfd, 1)) {
		int ret = -errno;

		fprintf(stderr, "pcopy: recv: cannot listen on %s: %s\n", path, strerror(errno));
		if (h->lfd >= 0)
			close(h->lfd);
		h->lfd = -1;
		return ret;
	}
	return 0;
}

static int get_u64(struct json_object *o, const char *key, uint64_t *out, bool *present,
		   unsigned int i, char *err, size_t elen)
{
	struct json_object *v;

	*present = json_object_object_get_ex(o, key, &v);
	if (!*present)
		return 0;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, elen, "region %u: \"%s\" is not an integer", i, key);
		return -EINVAL;
	}
	/* json-c keeps integers as int64 or uint64: refuse the negative ones */
	if (json_object_get_int64(v) < 0) {
		snprintf(err, elen, "region %u: \"%s\" is negative", i, key);
		return -EINVAL;
	}
	*out = json_object_get_uint64(v);
	return 0;
}

static int need_u64(struct json_object *o, const char *key, uint64_t *out, unsigned int i,
		    char *err, size_t elen)
{
	bool present;
	int ret = get_u64(o, key, out, &present, i, err, elen);

	if (!ret && !present) {
		snprintf(err, elen, "region %u has no \"%s\"", i, key);
		ret = -EINVAL;
	}
	return ret;
}

static int region_cmp(const void *a, const void *b)
{
	const struct mig_region *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int parse_region(struct json_object *o, unsigned int i, struct mig_region *r,
			char *err, size_t elen)
{
	uint64_t kib = 0, sys_page = (uint64_t)sysconf(_SC_PAGESIZE);
	bool has_ps, has_kib;
	int ret;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, elen, "region %u is not a JSON object", i);
		return -EINVAL;
	}
	ret = need_u64(o, "base_host_virt_addr", &r->base, i, err, elen);
	if (!ret)
		ret = need_u64(o, "size", &r->size, i, err, elen);
	if (!ret)
		ret = need_u64(o, "offset", &r->offset, i, err, elen);
	if (!ret)
		ret = get_u64(o, "page_size", &r->page_size, &has_ps, i, err, elen);
	if (!ret)
		ret = get_u64(o, "page_size_kib", &kib, &has_kib, i, err, elen);
	if (ret)
		return ret;

	/* "page_size_kib" is the deprecated spelling of "page_size" */
	if (has_kib) {
		if (kib > UINT64_MAX / 1024 || (has_ps && r->page_size != kib * 1024)) {
			snprintf(err, elen, "region %u: \"page_size_kib\" %" PRIu64 " contradicts \"page_size\" %" PRIu64,
				 i, kib, r->page_size);
			return -EINVAL;
		}
		r->page_size = kib * 1024;
	} else if (!has_ps) {
		snprintf(err, elen, "region %u has neither \"page_size\" nor \"page_size_kib\"", i);
		return -EINVAL;
	}
	if (r->page_size != sys_page) {
		snprintf(err, elen, "region %u: page size %" PRIu64 " is not supported (only %" PRIu64 "-byte pages)",
			 i, r->page_size, sys_page);
		return -EINVAL;
	}
	if (!r->size || r->size % r->page_size) {
		snprintf(err, elen, "region %u: size %" PRIu64 " is not a positive multiple of the %" PRIu64 "-byte page",
			 i, r->size, r->page_size);
		return -EINVAL;
	}
	if (r->base % r->page_size || r->offset % r->page_size) {
		snprintf(err, elen, "region %u: base 0x%" PRIx64 " or offset %" PRIu64 " is not page-aligned",
			 i, r->base, r->offset);
		return -EINVAL;
	}
	if (r->base + r->size < r->base || r->offset + r->size < r->offset ||
	    r->base + r->size > (uint64_t)INTPTR_MAX) {
		snprintf(err, elen, "region %u: base 0x%" PRIx64 " or offset %" PRIu64 " + size %" PRIu64 " overflows",
			 i, r->base, r->offset, r->size);
		return -EINVAL;
	}
	return 0;
}

int handoff_parse(const char *body, size_t len, struct mig_region **out, unsigned int *nout,
		  char *err, size_t elen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *arr = NULL;
	struct mig_region *r = NULL;
	unsigned int i, j, n;
	size_t end;
	int ret = -EINVAL;

	if (!tok)
		return -ENOMEM;
	arr = json_tokener_parse_ex(tok, body, (int)len);
	if (!arr || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		if (e == json_tokener_continue)
			snprintf(err, elen, "the body is not JSON: it ends early");
		else
			snprintf(err, elen, "the body is not JSON (json-c: %s at byte %zu)",
				 json_tokener_error_desc(e), json_tokener_get_parse_end(tok));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len && (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' ||
			     body[end] == '\t'))
		end++;
	if (end != len) {
		snprintf(err, elen, "the body has %zu bytes after its JSON value", len - end);
		goto out;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		snprintf(err, elen, "the body is not a JSON array of regions");
		goto out;
	}
	n = (unsigned int)json_object_array_length(arr);
	if (!n || n > HANDOFF_MAX_REGIONS) {
		snprintf(err, elen, "%u regions (1 to %d are accepted)", n, HANDOFF_MAX_REGIONS);
		goto out;
	}
	r = calloc(n, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		snprintf(err, elen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ret = parse_region(json_object_array_get_idx(arr, i), i, &r[i], err, elen);
		if (ret)
			goto out;
	}
	ret = -EINVAL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (overlap(r[i].base, r[i].size, r[j].base, r[j].size)) {
				snprintf(err, elen, "region %u overlaps region %u in the VMM's address space",
					 i, j);
				goto out;
			}
			if (overlap(r[i].offset, r[i].size, r[j].offset, r[j].size)) {
				snprintf(err, elen, "region %u overlaps region %u in the guest memory file",
					 i, j);
				goto out;
			}
		}
	}
	qsort(r, n, sizeof(*r), region_cmp);
	*out = r;
	*nout = n;
	r = NULL;
	ret = 0;
out:
	free(r);
	json_object_put(arr);
	json_tokener_free(tok);
	return ret;
}

/* Is @fd a userfaultfd?  Anything else in the handoff is a mistake. */
static bool is_uffd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[userfaultfd]");
}

static void close_fds(struct msghdr *msg)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
				close(f);
			}
		}
	}
}

/*
 * The message: its first read carries the descriptor; a body split by the
 * stream is completed with further reads until it parses (or 1 s passes).
 */
static int recv_handoff(struct mig_handoff *h, char *body, size_t *blen, char *err,
			size_t elen)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { .iov_base = body, .iov_len = HANDOFF_MAX_BODY };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	unsigned int nfd = 0;
	size_t len;
	ssize_t n;
	int fd = -1;

	do {
		n = recvmsg(h->conn, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(err, elen, "cannot read the handoff message: %s", strerror(errno));
		return -errno;
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		close_fds(&msg);
		snprintf(err, elen, "the handoff message carries more descriptors than the one expected");
		return -EINVAL;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			nfd += (unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		}
	}
	if (nfd != 1) {
		close_fds(&msg);
		if (!n)
			snprintf(err, elen, "the VMM closed the connection without a handoff message");
		else if (!nfd)
			snprintf(err, elen, "the handoff message carries no file descriptor (the userfaultfd)");
		else
			snprintf(err, elen, "the handoff message carries %u file descriptors, not one", nfd);
		return -EINVAL;
	}
	if (!is_uffd(fd)) {
		close(fd);
		snprintf(err, elen, "the descriptor in the handoff message is not a userfaultfd");
		return -EINVAL;
	}
	len = (size_t)n;

	/* complete a body the stream delivered in pieces */
	for (;;) {
		struct json_tokener *tok = json_tokener_new();
		struct pollfd pfd = { .fd = h->conn, .events = POLLIN };
		enum json_tokener_error e;
		struct json_object *o;

		if (!tok) {
			close(fd);
			return -ENOMEM;
		}
		o = json_tokener_parse_ex(tok, body, (int)len);
		e = json_tokener_get_error(tok);
		json_object_put(o);
		json_tokener_free(tok);
		if (e != json_tokener_continue || len == HANDOFF_MAX_BODY || !len)
			break;
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = recv(h->conn, body + len, HANDOFF_MAX_BODY - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*blen = len;
	return fd;
}

int handoff_accept(struct mig_handoff *h, int timeout_ms)
{
	struct ucred cred = { 0 };
	socklen_t cl = sizeof(cred);
	char err[256], *body;
	size_t blen = 0, i;
	int ret, fd;

	ret = mig_accept(h->lfd, timeout_ms, &h->conn);
	if (ret) {
		fprintf(stderr, "pcopy: recv: no VMM connected to %s%s%s\n", h->path,
			ret == -ETIMEDOUT ? " in time" : ": ", ret == -ETIMEDOUT ? "" : strerror(-ret));
		return ret;
	}
	if (getsockopt(h->conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.pid <= 0) {
		fprintf(stderr, "pcopy: recv: %s: cannot learn the VMM's pid (SO_PEERCRED)\n", h->path);
		return -ESRCH;
	}
	h->pid = cred.pid;

	body = malloc(HANDOFF_MAX_BODY + 1);
	if (!body)
		return -ENOMEM;
	fd = recv_handoff(h, body, &blen, err, sizeof(err));
	if (fd < 0) {
		ret = fd;
		goto bad;
	}
	h->uffd = fd;
	ret = handoff_parse(body, blen, &h->r, &h->n, err, sizeof(err));
	if (ret)
		goto bad;

	h->page_size = h->r[0].page_size;
	for (i = 0; i < h->n; i++)
		if (h->r[i].offset + h->r[i].size > h->end)
			h->end = h->r[i].offset + h->r[i].size;
	/* for messages: the body on one line, shortened */
	for (i = 0; i < blen && i < sizeof(h->json) - 1; i++)
		h->json[i] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
	h->json[i] = '\0';
	free(body);
	return 0;
bad:
	fprintf(stderr, "pcopy: recv: UFFD handoff from pid %d refused: %s\n", (int)h->pid, err);
	free(body);
	return ret;
}

int handoff_check_cover(const struct mig_handoff *h, uint64_t size, char *err, size_t elen)
{
	uint64_t at = 0;
	unsigned int i;

	/* sorted by offset and not overlapping: a tiling has no gap */
	for (i = 0; i < h->n; i++) {
		if (h->r[i].offset != at) {
			snprintf(err, elen, "the destination's regions leave file offsets %" PRIu64 " to %" PRIu64 " uncovered",
				 at, h->r[i].offset);
			return -EINVAL;
		}
		at += h->r[i].size;
	}
	if (at != size) {
		snprintf(err, elen, "the source has %" PRIu64 " bytes of guest memory, the destination's regions cover %" PRIu64,
			 size, at);
		return -EINVAL;
	}
	return 0;
}

int handoff_page_of(const struct mig_handoff *h, uint64_t addr, uint64_t *page)
{
	unsigned int i;

	for (i = 0; i < h->n; i++) {
		const struct mig_region *r = &h->r[i];

		if (addr >= r->base && addr - r->base < r->size) {
			*page = (r->offset + (addr - r->base)) / r->page_size;
			return 0;
		}
	}
	return -ERANGE;
}

uint64_t handoff_addr_of(const struct mig_handoff *h, uint64_t page)
{
	uint64_t off = page * h->page_size;
	unsigned int lo = 0, hi = h->n;

	/* the last region starting at or below off */
	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;

		if (h->r[mid].offset <= off)
			lo = mid;
		else
			hi = mid;
	}
	return h->r[lo].base + (off - h->r[lo].offset);
}

void handoff_close(struct mig_handoff *h)
{
	if (h->uffd >= 0)
		close(h->uffd);
	if (h->conn >= 0)
		close(h->conn);
	if (h->lfd >= 0) {
		close(h->lfd);
		unlink(h->path);
	}
	free(h->r);
	h->r = NULL;
	h->uffd = h->conn = h->lfd = -1;
}
