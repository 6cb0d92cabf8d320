// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer of a session's record ring.  The kernel writes records and
 * the header; we write only the consumer position.  Everything read from
 * the producer mapping is checked before use: a record is copied out once,
 * its length held to the ring's framing rules and its body to rec_check(),
 * and only the private copy reaches the callback, so a record cannot change
 * between being checked and being used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "rec.h"
#include "ring.h"

/* Plain, single reads of kernel-written fields (READ_ONCE()). */
#define READ_ONCE(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

_Static_assert(sizeof(struct pcopy_ring_header) == 104, "pcopy_ring_header");
_Static_assert(sizeof(struct pcopy_ring_bind) == 32, "pcopy_ring_bind");

static int bad(struct ring *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct ring *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int ring_attach(struct ring *r, struct pcopy_ring_consumer *cons,
		const void *prod, size_t prod_len, uint64_t data_size)
{
	const struct pcopy_ring_header *h = prod;
	uint64_t data_offset, size, ppos, cpos;
	uint32_t version, header_size;

	if (prod_len < sizeof(*h))
		return bad(r, "the producer mapping (%zu bytes) cannot hold the header",
			   prod_len);
	version = READ_ONCE(h->version);
	header_size = READ_ONCE(h->header_size);
	data_offset = READ_ONCE(h->data_offset);
	size = READ_ONCE(h->data_size);

	if (version != PCOPY_RING_VERSION)
		return bad(r, "ring version %" PRIu32 ", this agent reads version %d",
			   version, PCOPY_RING_VERSION);
	/* a larger header is how the header grows; a smaller one is broken */
	/* the header grows at its end: a module without page_size is fine */
	if (header_size < offsetof(struct pcopy_ring_header, page_size) ||
	    header_size > data_offset)
		return bad(r, "header_size %" PRIu32 " is not between %zu and data_offset %" PRIu64,
			   header_size, offsetof(struct pcopy_ring_header, page_size),
			   data_offset);
	if (data_offset % REC_ALIGN)
		return bad(r, "data_offset %" PRIu64 " is not %d-byte aligned",
			   data_offset, REC_ALIGN);
	if (!size || size & (size - 1))
		return bad(r, "data_size %" PRIu64 " is not a power of two", size);
	if (size != data_size)
		return bad(r, "data_size %" PRIu64 " is not the %" PRIu64 " bytes asked for",
			   size, data_size);
	if (data_offset > prod_len || size > prod_len - data_offset)
		return bad(r, "the data area (%" PRIu64 " bytes at %" PRIu64 ") overruns the %zu-byte mapping",
			   size, data_offset, prod_len);

	/* pairs with smp_store_release(&hdr->producer_pos) in kmod/ring.c */
	ppos = __atomic_load_n(&h->producer_pos, __ATOMIC_ACQUIRE);
	cpos = READ_ONCE(cons->consumer_pos);
	if ((ppos | cpos) % REC_ALIGN || ppos - cpos > size)
		return bad(r, "producer position %" PRIu64 " and consumer position %" PRIu64
			   " are not a valid pair for a %" PRIu64 "-byte ring", ppos, cpos, size);

	r->cons = cons;
	r->hdr = h;
	r->data = (const unsigned char *)prod + data_offset;
	r->size = size;
	r->pos = cpos;
	return 0;
}

/* Print one line for a failed ring_open() step; returns -errno. */
static int open_error(const struct ring *r, const char *step)
{
	int err = errno;

	fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": %s: %s\n", r->pid, step,
		strerror(err));
	return -err;
}

int ring_open(struct ring *r, uint32_t pid, uint32_t data_pages,
	      uint32_t watermark, uint32_t flags)
{
	struct pcopy_ring_bind bind = {
		.pid = pid,
		.data_pages = data_pages,
		.watermark = watermark,
		.flags = flags,
	};
	long page = sysconf(_SC_PAGESIZE);
	uint64_t data_size;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->pid = pid;

	if (!data_pages || data_pages > PCOPY_RING_MAX_PAGES ||
	    data_pages & (data_pages - 1)) {
		fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": %" PRIu32 " pages is not a power of two from 1 to %d\n",
			pid, data_pages, PCOPY_RING_MAX_PAGES);
		return -EINVAL;
	}
	data_size = (uint64_t)data_pages * (uint64_t)page;

	r->fd = open(PCOPY_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			fprintf(stderr, "pcopy: %s not found: is pcopy.ko loaded?\n",
				PCOPY_DEV_PATH);
		else if (ret == -EACCES || ret == -EPERM)
			fprintf(stderr, "pcopy: %s: permission denied (pcopy needs CAP_NET_ADMIN)\n",
				PCOPY_DEV_PATH);
		else
			fprintf(stderr, "pcopy: %s: %s\n", PCOPY_DEV_PATH, strerror(-ret));
		return ret;
	}

	if (ioctl(r->fd, PCOPY_IOC_BIND, &bind)) {
		ret = -errno;
		if (ret == -EINVAL)
			fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": the module refused the binding: the process is not tracked (pcopy track %" PRIu32 " first), or the size or watermark is out of range\n",
				pid, pid);
		else if (ret == -EBUSY)
			fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": the session already has a ring (is another 'pcopy record' running?)\n",
				pid);
		else if (ret == -EPERM || ret == -EACCES)
			fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": permission denied (pcopy needs CAP_NET_ADMIN)\n",
				pid);
		else
			open_error(r, "bind");
		goto err_close;
	}

	r->cons_len = (size_t)page;
	r->cons_map = mmap(NULL, r->cons_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   r->fd, (off_t)PCOPY_RING_PGOFF_CONSUMER * page);
	if (r->cons_map == MAP_FAILED) {
		ret = open_error(r, "cannot map the consumer page");
		goto err_close;
	}
	r->prod_len = (size_t)page + data_size;
	r->prod_map = mmap(NULL, r->prod_len, PROT_READ, MAP_SHARED, r->fd,
			   (off_t)PCOPY_RING_PGOFF_PRODUCER * page);
	if (r->prod_map == MAP_FAILED) {
		ret = open_error(r, "cannot map the ring");
		goto err_unmap_cons;
	}

	ret = ring_attach(r, r->cons_map, r->prod_map, r->prod_len, data_size);
	if (ret) {
		fprintf(stderr, "pcopy: ring for pid %" PRIu32 ": refusing the ring: %s\n",
			pid, r->why);
		goto err_unmap_prod;
	}
	return 0;

err_unmap_prod:
	munmap(r->prod_map, r->prod_len);
	r->prod_map = NULL;
err_unmap_cons:
	munmap(r->cons_map, r->cons_len);
	r->cons_map = NULL;
err_close:
	close(r->fd);
	r->fd = -1;
	return ret;
}

void ring_close(struct ring *r)
{
	if (r->prod_map)
		munmap(r->prod_map, r->prod_len);
	if (r->cons_map)
		munmap(r->cons_map, r->cons_len);
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	r->prod_map = r->cons_map = r->buf = NULL;
	r->hdr = NULL;
	r->cons = NULL;
	r->fd = -1;
}

int ring_consume(struct ring *r, ring_cb cb, void *arg)
{
	uint64_t prod, pos = r->pos;
	int n = 0, ret = 0;

	/*
	 * Pairs with smp_store_release(&hdr->producer_pos) in kmod/ring.c:
	 * every record below prod is completely written before we read it.
	 */
	prod = __atomic_load_n(&r->hdr->producer_pos, __ATOMIC_ACQUIRE);
	if (prod % REC_ALIGN || prod - pos > r->size)
		return bad(r, "producer position %" PRIu64 " is not within %" PRIu64
			   " bytes ahead of the consumer position %" PRIu64,
			   prod, r->size, pos);

	/* at most size / 8 iterations: each one advances pos by len >= 8 */
	while (pos != prod) {
		uint64_t off = pos & (r->size - 1);
		struct pcopy_rec_hdr h;
		struct pcopy_rec_hdr *copy;

		memcpy(&h, r->data + off, sizeof(h));
		if (h.len < sizeof(h) || h.len % REC_ALIGN) {
			ret = bad(r, "record at position %" PRIu64 ": length %" PRIu32
				  " is not a multiple of %d of at least %zu",
				  pos, h.len, REC_ALIGN, sizeof(h));
			break;
		}
		if (h.len > r->size - off) {
			ret = bad(r, "record at position %" PRIu64 ": %" PRIu32
				  " bytes cross the end of the data area",
				  pos, h.len);
			break;
		}
		if (h.len > prod - pos) {
			ret = bad(r, "record at position %" PRIu64 ": %" PRIu32
				  " bytes run past the producer position %" PRIu64,
				  pos, h.len, prod);
			break;
		}
		if (h.type == PCOPY_REC_PAD) {
			pos += h.len;
			continue;
		}

		ret = buf_grow(&r->buf, &r->buf_len, h.len);
		if (ret)
			break;
		copy = r->buf;
		memcpy(copy, r->data + off, h.len);
		*copy = h;	/* the length checked above, whatever is there now */

		if (h.type != PCOPY_REC_LOST)
			r->counted++;
		switch (rec_check(copy, r->malformed_why, sizeof(r->malformed_why))) {
		case REC_UNKNOWN:
			r->unknown++;
			break;
		case REC_MALFORMED:
			r->malformed++;
			break;
		case REC_OK:
			ret = cb(copy, arg);
			if (ret < 0)
				goto out;
			n++;
			break;
		}
		pos += h.len;
	}
out:
	if (pos != r->pos) {
		/*
		 * Pairs with smp_load_acquire(&cons->consumer_pos) in
		 * kmod/ring.c: our reads of the records below pos are done
		 * before the producer may write over them.
		 */
		__atomic_store_n(&r->cons->consumer_pos, pos, __ATOMIC_RELEASE);
		r->pos = pos;
	}
	return ret < 0 ? ret : n;
}

int ring_wait(struct ring *r, int timeout_ms, const sigset_t *sigmask)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	int n;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	n = ppoll(&pfd, 1, tsp, sigmask);
	if (n < 0)
		return -errno;
	if (!n)
		return RING_TIMEOUT;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if (pfd.revents & POLLERR)
		return bad(r, "the module flags the consumer position %" PRIu64 " as invalid",
			   r->pos);
	if (pfd.revents & POLLHUP)
		return RING_HUP;
	return RING_READY;
}

bool ring_eof(const struct ring *r)
{
	/*
	 * kmod/ring.c pcopy_ring_session_end() sets PCOPY_RING_F_EOF
	 * (ring_publish_counters(), under the ring lock) after ring_flush()
	 * released the last producer_pos under the same lock, so the flag is
	 * stored after the final position; this acquire keeps our read of the
	 * position after our read of the flag.
	 */
	if (!(__atomic_load_n(&r->hdr->flags, __ATOMIC_ACQUIRE) & PCOPY_RING_F_EOF))
		return false;
	/* pairs with smp_store_release(&hdr->producer_pos) in kmod/ring.c */
	return __atomic_load_n(&r->hdr->producer_pos, __ATOMIC_ACQUIRE) == r->pos;
}

int ring_flush(struct ring *r)
{
	if (r->fd < 0)
		return -EBADF;
	return ioctl(r->fd, PCOPY_IOC_FLUSH) ? -errno : 0;
}

void ring_counters(const struct ring *r, struct ring_counters *c)
{
	const struct pcopy_ring_header *h = r->hdr;

	/* pairs with smp_store_release(&hdr->producer_pos) in kmod/ring.c */
	c->producer_pos = __atomic_load_n(&h->producer_pos, __ATOMIC_ACQUIRE);
	c->flags = READ_ONCE(h->flags);
	c->records = READ_ONCE(h->records);
	c->lost_records = READ_ONCE(h->lost_records);
	c->lost_gfns = READ_ONCE(h->lost_gfns);
	c->lost_records_pending = READ_ONCE(h->lost_records_pending);
	c->lost_gfns_pending = READ_ONCE(h->lost_gfns_pending);
	c->consumer_errors = READ_ONCE(h->consumer_errors);
}

int ring_drain_exact(struct ring *r, ring_cb cb, void *arg,
		     struct ring_counters *c, int tries)
{
	struct ring_counters before;
	int i, ret;

	for (i = 0; i < tries; i++) {
		if (i)
			usleep(1000);
		ring_counters(r, &before);
		ret = ring_consume(r, cb, arg);
		if (ret < 0)
			return ret;
		ring_counters(r, c);
		if (!memcmp(&before, c, sizeof(*c)) && c->records == r->counted)
			return 0;
	}
	return -EAGAIN;
}
