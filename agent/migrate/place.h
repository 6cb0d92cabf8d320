/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_PLACE_H
#define PCOPY_AGENT_MIG_PLACE_H

/*
 * Destination page placement.  The only way into guest memory is the
 * VMM's userfaultfd: UFFDIO_COPY (UFFDIO_ZEROPAGE for a zero page) places
 * a whole page atomically and wakes its faulting threads, and fails with
 * EEXIST on a page already present.  So:
 *
 *  - precopied versions are kept in a local buffer (the newest round of
 *    each page) until the manifest says which round is final; then a placer
 *    thread places every buffered page whose round is the final one, and a
 *    version arriving later is placed as it arrives if it is the final one;
 *  - a page of final content (MIG_ROUND_FINAL: sent while the source was
 *    paused, or an answer to a request) is placed as soon as it arrives;
 *  - a faulting page is placed from the buffer at once when its final
 *    version is there, else requested from the source.
 *
 * One 32-bit state word per page, changed only with atomic operations,
 * makes every page placed exactly once: a thread "claims" a page (BUSY)
 * before touching its buffer slot or placing it, and PLACED is final.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "handoff.h"

enum place_fault_result {
	FAULT_DONE,		/* present now (or placed from the buffer) */
	FAULT_REQUEST,		/* ask the source for it */
	FAULT_PENDING,		/* already asked */
};

struct place_stats {
	uint64_t placed;	/* UFFDIO_COPY / UFFDIO_ZEROPAGE that succeeded */
	uint64_t placed_buffer;	/* ... from the precopy buffer */
	uint64_t placed_zero;	/* ... as zero pages */
	uint64_t eexist;	/* the page was present already */
	uint64_t twice;		/* placed twice: must stay 0 */
	uint64_t final_dups;	/* final pages for pages placed already */
	uint64_t precopy_rx;	/* precopied versions received */
	uint64_t precopy_newer;	/* ... that replaced an older buffered one */
	uint64_t precopy_older;	/* ... dropped: not newer than the buffer's */
	uint64_t precopy_late;	/* ... dropped: the page was placed */
	uint64_t faulted;	/* distinct pages that faulted */
	uint64_t local;		/* faults served from the buffer */
	uint64_t samples;	/* fault -> placed latencies */
	uint64_t ioctls;	/* UFFDIO_COPY / UFFDIO_ZEROPAGE calls made */
	uint64_t placer_pages;	/* pages the manifest's placer placed ... */
	uint64_t placer_ioctls;	/* ... in this many calls (runs of pages) */
};

struct place {
	int uffd;
	const struct mig_handoff *h;
	uint64_t npages;
	uint8_t max_round;

	uint32_t *state;		/* per page, atomic */
	unsigned char *buf;		/* the precopy buffer, npages pages */
	uint64_t *fault_ns;		/* per page: when the first fault was seen */
	uint64_t *placed_bm;		/* bitmap: placed by us (the twice check) */
	uint8_t *manifest;		/* per page: final round, 0 = comes final */
	bool manifest_known;		/* atomic (seq_cst, see place.c) */
	bool zeropage;			/* UFFDIO_ZEROPAGE works on this memory */

	int out_fd;			/* --mem-out, -1 if none */

	uint64_t *lat;			/* fault -> placed, ns */
	uint64_t nlat;			/* atomic */

	uint64_t settled;		/* atomic: placed + eexist */
	struct place_stats st;		/* atomic counters */

	void (*all_placed)(void *);	/* called once, when settled == npages */
	void *arg;

	pthread_t placer;
	bool placer_started;
	uint64_t placer_ns;		/* how long the placer ran */
};

/*
 * @out: --mem-out path or NULL.  @all_placed is called (from whichever
 * thread places the last page) once every page is present.  Prints one
 * line and returns a negative errno on failure.
 */
int place_init(struct place *pl, int uffd, const struct mig_handoff *h, uint64_t npages,
	       uint8_t max_round, const char *out, void (*all_placed)(void *), void *arg);
void place_fini(struct place *pl);

/*
 * A page of final content (@data NULL: all zeroes): place it unless it is
 * present.  0, or -EIO after mig_fail() (UFFDIO_COPY failed for good).
 */
int place_final(struct place *pl, uint64_t p, const void *data);

/* A precopied version of round @round (@data NULL: zeroes). */
int place_precopy(struct place *pl, uint64_t p, uint8_t round, const void *data);

/* Install the manifest (taken over) and start the placer thread. */
int place_manifest(struct place *pl, uint8_t *manifest);

/* A fault on page @p seen at @now_ns. */
enum place_fault_result place_fault(struct place *pl, uint64_t p, uint64_t now_ns);

bool place_is_placed(const struct place *pl, uint64_t p);
void place_stats(const struct place *pl, struct place_stats *st);
uint64_t place_settled(const struct place *pl);

/* The latency samples, sorted (valid until place_fini()). */
const uint64_t *place_latencies(struct place *pl, uint64_t *n);

#endif
