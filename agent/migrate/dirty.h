/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_DIRTY_H
#define PCOPY_AGENT_MIG_DIRTY_H

/*
 * The source's dirty-page tracking, from pcopy.ko's record ring bound with
 * PCOPY_RING_BIND_DIRTY to the source VMM's session.
 *
 * KVM's dirty ring logs a page when a write finds it write-protected, then
 * leaves it writable until the VMM resets the ring entry (minivm every
 * --reap-ms).  A page we read while its latest push is not yet reset can
 * therefore be written again without a new record.  So besides the dirty
 * bitmap we keep, per page, how many of its pushes are not yet covered by
 * a DIRTY_RESET record (per vCPU queues of (seq, page), popped when a reset
 * record's reset_index passes them): a page read while that count is not
 * zero stays dirty.  The count is exact whatever order the vCPUs' batches
 * arrive in.
 *
 * Pushes we cannot see (made before the ring was bound, or dropped by the
 * module: LOST records) are covered by a barrier: until every vCPU has had
 * two DIRTY_RESET records since, no page counts as protected.  Two, because
 * the first may come from a harvest that began before the barrier; the
 * second comes from a harvest that began after the first reset, hence
 * after the unseen pushes (the VMM harvests and resets in turn, as minivm
 * and QEMU do).  A VM that pushes nothing for a second after the ring is
 * bound had no unseen pushes (it would have harvested them), and is
 * trusted.  The switchover check (the source's page hashes) stays the last
 * word either way.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "observe/ring.h"

struct mig_vcpuq;

struct mig_dirty_slot {
	uint32_t id;		/* as_id << 16 | slot id, as in the records */
	uint64_t first_page;	/* memory-file page of the slot's offset 0 */
	uint64_t npages;
};

struct mig_dirty_stats {
	uint64_t records;	/* DIRTY records */
	uint64_t gfns;		/* GFNs in them */
	uint64_t resets;	/* DIRTY_RESET records */
	uint64_t lost_gfns;	/* from LOST records */
	uint64_t lost_records;
	uint64_t bad_gfns;	/* outside every slot */
	uint64_t barriers;	/* times trust had to be rebuilt */
	uint64_t newly_dirty;	/* clean -> dirty transitions */
	uint64_t kept;		/* pages kept dirty: unprotected when read */
};

struct mig_rec;

struct mig_dirty {
	struct ring ring;
	bool ring_open;
	struct mig_rec *rec;		/* --plot: a copy of the ring's records */
	pthread_mutex_t lock;		/* ring consumption and the queues */
	pthread_t thread;
	bool running;
	int stop;

	uint64_t npages;
	uint64_t *dirty;		/* bitmap, atomic words */
	uint32_t *unreset;		/* per page: pushes not yet reset */

	struct mig_dirty_slot slots[4];
	unsigned int nslots;

	struct mig_vcpuq *q;		/* per vCPU id */
	unsigned int nq;
	unsigned int barrier_left;	/* vCPUs still owing resets */
	bool trusted;			/* atomic: no unseen pushes remain */
	bool seen_activity;		/* any record since the ring was bound */
	bool lost_for_good;		/* tracking broke: never trusted again */
	bool trust_bitmap;		/* test knob: see Documentation/migration.rst */
	uint64_t bound_ns;
	uint64_t malformed_seen;

	struct mig_dirty_stats st;	/* under lock (newly_dirty: atomic) */
	char why[192];
};

/*
 * Bind a ring to tracked process @pid and start the consumer thread.
 * @nvcpus: the VMM's vCPUs (ids 0..nvcpus-1).  Prints one line and
 * returns a negative errno on failure.  What it takes off the ring is also
 * copied to recording @record if not NULL.
 */
int dirty_start(struct mig_dirty *d, uint32_t pid, uint64_t npages, unsigned int nvcpus,
		const struct mig_dirty_slot *slots, unsigned int nslots, const char *record);
void dirty_stop(struct mig_dirty *d);
/* Only stop the consumer thread, keeping the bitmaps others may read. */
void dirty_halt(struct mig_dirty *d);

/* Wait up to @timeout_ms for trust (see above); true once trusted. */
bool dirty_wait_trusted(struct mig_dirty *d, int timeout_ms);

/*
 * Have the module flush what it holds and consume the ring to its end:
 * after a PAUSE, every push is then in the bitmap.  0 or a negative errno
 * (the reason in d->why).
 */
int dirty_drain(struct mig_dirty *d);

/* Move the dirty set into @out (an empty bitmap); returns its size. */
uint64_t dirty_take(struct mig_dirty *d, uint64_t *out);

/*
 * Called before reading page @p to send it: true if the page may change
 * without a record we would see (it must stay dirty).
 */
static inline bool dirty_unprotected(const struct mig_dirty *d, uint64_t p)
{
	if (d->trust_bitmap)
		return false;
	return !__atomic_load_n(&d->trusted, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&d->unreset[p], __ATOMIC_ACQUIRE);
}

/* Mark page @p dirty again (it was unprotected when read). */
void dirty_keep(struct mig_dirty *d, uint64_t p);

uint64_t dirty_count(const struct mig_dirty *d);
void dirty_stats(struct mig_dirty *d, struct mig_dirty_stats *st);

#endif
