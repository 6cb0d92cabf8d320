/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_RING_H
#define PCOPY_AGENT_RING_H

/*
 * The consumer side of a session's record ring (/dev/pcopy, see the "record
 * ring" section of uapi/pcopy.h).  ring_open() binds and maps a ring;
 * ring_attach() is the part that only needs memory, so that a fake ring in
 * plain memory exercises the same ring_consume().
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

struct ring {
	int fd;				/* /dev/pcopy, -1 for a fake ring */
	uint32_t pid;

	struct pcopy_ring_consumer *cons;	/* the one page we write */
	const struct pcopy_ring_header *hdr;	/* kernel-written, read-only */
	const unsigned char *data;		/* the data area */
	uint64_t size;			/* of the data area, a power of two */
	uint64_t pos;			/* consumed up to here (free-running) */

	uint64_t unknown;		/* records of unknown types skipped */
	uint64_t malformed;		/* well-framed records with a broken body */
	uint64_t counted;		/* taken off the ring, of the records the
					 * header's "records" counts (all but PAD
					 * and LOST) */
	char malformed_why[128];	/* what was wrong with the last one */

	void *buf;			/* private copy of the record handed out */
	size_t buf_len;

	void *cons_map, *prod_map;	/* set by ring_open() only */
	size_t cons_len, prod_len;

	char why[192];			/* why the last call returned -EPROTO */
};

/* The header's counters, each read once. */
struct ring_counters {
	uint64_t producer_pos;
	uint64_t flags;
	uint64_t records;
	uint64_t lost_records;
	uint64_t lost_gfns;
	uint64_t lost_records_pending;
	uint64_t lost_gfns_pending;
	uint64_t consumer_errors;
};

/*
 * Called once per record, in ring order, with a private copy whose length
 * has been checked (PAD, unknown and malformed records never get here).
 * A negative return stops ring_consume(), which returns it.
 */
typedef int (*ring_cb)(const struct pcopy_rec_hdr *rec, void *arg);

/*
 * Open /dev/pcopy, bind a ring of @data_pages pages to tracked process
 * @pid, map it and check its header.  Prints one line naming the cause on
 * failure and returns a negative errno: -ENOENT no /dev/pcopy, -EINVAL the
 * module refused the binding (e.g. @pid is not tracked), -EBUSY the
 * session already has a ring, -EPROTO a header this agent does not accept.
 */
int ring_open(struct ring *r, uint32_t pid, uint32_t data_pages,
	      uint32_t watermark, uint32_t flags);

/*
 * Check the ring header in @prod (@prod_len bytes: the producer mapping)
 * against the expected @data_size and take the consumer position from
 * @cons.  No output; -EPROTO with @r->why on a header it refuses.
 */
PCOPY_PART_ONLY int ring_attach(struct ring *r, struct pcopy_ring_consumer *cons,
		const void *prod, size_t prod_len, uint64_t data_size);

/* Unmap, close and free what ring_open()/ring_attach() set up. */
void ring_close(struct ring *r);

/*
 * Hand every record available now to @cb, then publish the new consumer
 * position.  Returns the number of records handed out, the callback's
 * negative return (the position then stays before the record it refused),
 * or -EPROTO with @r->why when the ring breaks its framing rules; records
 * handed out before the error stay consumed.
 */
int ring_consume(struct ring *r, ring_cb cb, void *arg);

enum ring_wait_result {
	RING_TIMEOUT,		/* nothing within the timeout */
	RING_READY,		/* watermark reached or the ring ended */
	RING_HUP,		/* the session ended and the ring is drained */
};

/*
 * Wait up to @timeout_ms (< 0: forever) for the ring; @sigmask, if not
 * NULL, is the signal mask while waiting (ppoll()).  Returns an enum
 * ring_wait_result, -EINTR for a signal, -EPROTO (@r->why) when the module
 * flags our consumer position as invalid, another negative errno else.
 */
int ring_wait(struct ring *r, int timeout_ms, const sigset_t *sigmask);

/* The session ended and every record it produced has been consumed. */
bool ring_eof(const struct ring *r);

/* PCOPY_IOC_FLUSH: have pending dirty batches and drops emitted now. */
int ring_flush(struct ring *r);

void ring_counters(const struct ring *r, struct ring_counters *c);

/*
 * The last drain of a recording stopped while producers may still run:
 * consume, and fill @c with counters that describe exactly what has been
 * taken off the ring.  The module publishes its counters and the producer
 * position one after the other, so one read of each can disagree; this
 * reads the counters before and after a drain and accepts them only when
 * both reads are equal and "records" equals what the ring handed out.
 * Returns 0, a negative ring_consume() error, or -EAGAIN when producers
 * never paused in @tries attempts (then @c is the last read).
 */
int ring_drain_exact(struct ring *r, ring_cb cb, void *arg,
		     struct ring_counters *c, int tries);

PCOPY_PUBLIC_END

#endif
