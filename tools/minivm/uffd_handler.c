// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_handler: a tiny userfaultfd page server for testing minivm's
 * incoming mode (and any VMM speaking the Firecracker UFFD handoff).
 *
 *   uffd_handler --socket PATH --src FILE [--stats FILE] [--timeout SECS]
 *
 * Listens on the Unix SOCK_STREAM socket PATH, accepts one connection and
 * receives ONE message: a JSON array of {"base_host_virt_addr", "size",
 * "offset", "page_size"} objects plus the uffd as SCM_RIGHTS.  Then it
 * serves every MISSING fault with UFFDIO_COPY of the page at
 * region.offset + (fault address - base) from FILE (a guest RAM image, e.g.
 * from "ctltest SOCK memfd-dump FILE"), until the VMM closes the
 * connection.  Prints (and writes to --stats) the number of pages served.
 * Exit status: 0 ok, 1 error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/userfaultfd.h>
#include <json-c/json.h>

#define MAX_REGIONS	16

struct region {
	uint64_t base, size, offset, page_size;
};

static struct region regions[MAX_REGIONS];
static unsigned int nregions;

static int get_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		fprintf(stderr, "uffd_handler: region without integer '%s'\n", key);
		return -1;
	}
	errno = 0;
	*out = json_object_get_uint64(v);
	return errno ? -1 : 0;
}

static int parse_regions(const char *body, size_t len, uint64_t src_size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *arr;
	size_t i, n;
	int rc = -1;

	if (!tok)
		return -1;
	arr = json_tokener_parse_ex(tok, body, (int)len);
	if (!arr || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(arr, json_type_array)) {
		fprintf(stderr, "uffd_handler: handoff body is not a JSON array: %.*s\n",
			(int)len, body);
		goto out;
	}
	n = json_object_array_length(arr);
	if (!n || n > MAX_REGIONS) {
		fprintf(stderr, "uffd_handler: %zu regions\n", n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct region *r = &regions[i];

		if (!json_object_is_type(o, json_type_object) ||
		    get_u64(o, "base_host_virt_addr", &r->base) ||
		    get_u64(o, "size", &r->size) ||
		    get_u64(o, "offset", &r->offset) ||
		    get_u64(o, "page_size", &r->page_size))
			goto out;
		if (!r->page_size || (r->page_size & (r->page_size - 1)) ||
		    r->base % r->page_size || r->size % r->page_size ||
		    r->offset + r->size > src_size) {
			fprintf(stderr, "uffd_handler: bad region %zu (or source file too small)\n",
				i);
			goto out;
		}
	}
	nregions = (unsigned int)n;
	rc = 0;
out:
	json_object_put(arr);
	json_tokener_free(tok);
	return rc;
}

static int recv_handoff(int conn, char *buf, size_t buflen, size_t *len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = buflen };
	struct msghdr msg;
	struct cmsghdr *cm;
	int uffd = -1;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		fprintf(stderr, "uffd_handler: no handoff message: %s\n",
			n < 0 ? strerror(errno) : "EOF");
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&uffd, CMSG_DATA(cm), sizeof(int));
	if (uffd < 0) {
		fprintf(stderr, "uffd_handler: handoff without a file descriptor\n");
		return -1;
	}
	*len = (size_t)n;
	return uffd;
}

static const struct region *find_region(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < nregions; i++)
		if (addr >= regions[i].base &&
		    addr < regions[i].base + regions[i].size)
			return &regions[i];
	return NULL;
}

static int serve_fault(int uffd, const uint8_t *src, uint64_t addr,
		       uint64_t *served)
{
	const struct region *r = find_region(addr);
	struct uffdio_copy copy;
	uint64_t page;

	if (!r) {
		fprintf(stderr, "uffd_handler: fault at 0x%llx outside every region\n",
			(unsigned long long)addr);
		return -1;
	}
	page = addr & ~(r->page_size - 1);
	memset(&copy, 0, sizeof(copy));
	copy.dst = page;
	copy.src = (uintptr_t)(src + r->offset + (page - r->base));
	copy.len = r->page_size;
	for (;;) {
		if (ioctl(uffd, UFFDIO_COPY, &copy) == 0) {
			(*served)++;
			return 0;
		}
		if (errno == EEXIST)	/* raced with another fault */
			return 0;
		if (errno != EAGAIN) {
			fprintf(stderr, "uffd_handler: UFFDIO_COPY 0x%llx: %s\n",
				(unsigned long long)page, strerror(errno));
			return -1;
		}
		copy.copy = 0;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "src", required_argument, NULL, 'f' },
		{ "stats", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock_path = NULL, *src_path = NULL, *stats = NULL;
	uint64_t served = 0, faults = 0;
	int timeout_ms = 30000, opt, lfd, conn, uffd, sfd, rc = 1;
	struct sockaddr_un sa;
	struct pollfd pfd[2];
	struct stat st;
	uint8_t *src;
	char body[4096];
	size_t blen;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'f': src_path = optarg; break;
		case 'o': stats = optarg; break;
		case 't': timeout_ms = atoi(optarg) * 1000; break;
		default:
			goto usage;
		}
	}
	if (!sock_path || !src_path || optind != argc ||
	    strlen(sock_path) >= sizeof(sa.sun_path))
		goto usage;

	sfd = open(src_path, O_RDONLY | O_CLOEXEC);
	if (sfd < 0 || fstat(sfd, &st) < 0 || !st.st_size) {
		fprintf(stderr, "uffd_handler: %s: %s\n", src_path,
			sfd < 0 ? strerror(errno) : "empty");
		return 1;
	}
	src = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, sfd, 0);
	close(sfd);
	if (src == MAP_FAILED) {
		perror("uffd_handler: mmap source");
		return 1;
	}

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, sock_path);
	unlink(sock_path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0) {
		fprintf(stderr, "uffd_handler: listen %s: %s\n", sock_path,
			strerror(errno));
		goto out_unmap;
	}
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	if (poll(pfd, 1, timeout_ms) != 1) {
		fprintf(stderr, "uffd_handler: nobody connected\n");
		goto out_listen;
	}
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		perror("uffd_handler: accept");
		goto out_listen;
	}
	uffd = recv_handoff(conn, body, sizeof(body), &blen);
	if (uffd < 0)
		goto out_conn;
	if (parse_regions(body, blen, (uint64_t)st.st_size))
		goto out_uffd;
	fprintf(stderr, "uffd_handler: %u region(s), first at 0x%llx size %llu page %llu\n",
		nregions, (unsigned long long)regions[0].base,
		(unsigned long long)regions[0].size,
		(unsigned long long)regions[0].page_size);

	pfd[0].fd = uffd;
	pfd[0].events = POLLIN;
	pfd[1].fd = conn;
	pfd[1].events = POLLIN;
	for (;;) {
		struct uffd_msg msg;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("uffd_handler: poll");
			goto out_uffd;
		}
		if (pfd[0].revents & POLLIN) {
			n = read(uffd, &msg, sizeof(msg));
			if (n == sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT) {
				faults++;
				if (serve_fault(uffd, src,
						msg.arg.pagefault.address,
						&served))
					goto out_uffd;
			} else if (n < 0 && errno != EAGAIN) {
				perror("uffd_handler: read uffd");
				goto out_uffd;
			}
		}
		if (pfd[1].revents) {
			char c;

			n = recv(conn, &c, 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;	/* the VMM went away */
		}
	}
	fprintf(stderr, "uffd_handler: served %llu pages for %llu faults\n",
		(unsigned long long)served, (unsigned long long)faults);
	if (stats) {
		FILE *f = fopen(stats, "we");

		if (f) {
			fprintf(f, "served %llu\nfaults %llu\n",
				(unsigned long long)served,
				(unsigned long long)faults);
			fclose(f);
		}
	}
	rc = 0;
out_uffd:
	close(uffd);
out_conn:
	close(conn);
out_listen:
	close(lfd);
	unlink(sock_path);
out_unmap:
	munmap(src, (size_t)st.st_size);
	return rc;
usage:
	fprintf(stderr, "usage: uffd_handler --socket PATH --src FILE [--stats FILE] [--timeout SECS]\n");
	return 2;
}
