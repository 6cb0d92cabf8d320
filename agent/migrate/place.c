// SPDX-License-Identifier: GPL-2.0
/*
 * Destination page placement (place.h).
 *
 * The state word of a page:
 *   bits 0-7   round of the buffered precopied version (0: none)
 *   ZERO       that version is all zeroes (nothing in the buffer slot)
 *   BUSY       a thread owns the page: writes its buffer slot or places it
 *   PLACED     present in guest memory; never cleared
 *   REQUESTED  asked from the source
 *   FAULTED    fault_ns[] holds when the first fault was seen
 *
 * Only the BUSY owner changes the round, ZERO and PLACED; anyone may add
 * REQUESTED or FAULTED with an atomic OR, so the owner releases with a
 * compare-and-swap loop that keeps those.
 *
 * The manifest race: a precopied version can be buffered while the placer
 * walks the pages.  The receiver releases the page and then reads
 * manifest_known; the manifest side stores manifest_known and then reads
 * each page's state; all four are seq_cst, so at least one of the two sees
 * the other and places the page (claiming makes sure only one does).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "common/defs.h"
#include "place.h"
#include "proto.h"
#include "util.h"

#define PS		MIG_PAGE_SIZE

#define ST_ROUND	0xffu
#define ST_ZERO		(1u << 8)
#define ST_BUSY		(1u << 9)
#define ST_PLACED	(1u << 10)
#define ST_REQUESTED	(1u << 11)
#define ST_FAULTED	(1u << 12)

/* the placer places a run of at most this many pages with one ioctl */
#define RUN_MAX		256

static const unsigned char zero_page[PS] __attribute__((aligned(PS)));

#define INC(field)	__atomic_fetch_add(&pl->st.field, 1, __ATOMIC_RELAXED)

/* mmap() refuses an empty mapping */
static size_t maplen(size_t n)
{
	return n ? n : 1;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, maplen(len), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int place_init(struct place *pl, int uffd, const struct mig_handoff *h, uint64_t npages,
	       uint8_t max_round, const char *out, void (*all_placed)(void *), void *arg)
{
	memset(pl, 0, sizeof(*pl));
	pl->uffd = uffd;
	pl->h = h;
	pl->npages = npages;
	pl->max_round = max_round;
	pl->zeropage = true;
	pl->out_fd = -1;
	pl->all_placed = all_placed;
	pl->arg = arg;
	pl->state = map_anon(npages * sizeof(uint32_t));
	pl->buf = map_anon(npages * PS);
	pl->fault_ns = map_anon(npages * sizeof(uint64_t));
	pl->lat = map_anon(npages * sizeof(uint64_t));
	pl->placed_bm = bm_alloc(npages);
	if (!pl->state || !pl->buf || !pl->fault_ns || !pl->lat || !pl->placed_bm) {
		fprintf(stderr, "pcopy: recv: out of memory for %" PRIu64 " pages\n", npages);
		place_fini(pl);
		return -ENOMEM;
	}
	if (out) {
		/* the received image, holes for zero pages */
		pl->out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (pl->out_fd < 0 || ftruncate(pl->out_fd, (off_t)(npages * PS))) {
			int ret = -errno;

			fprintf(stderr, "pcopy: recv: --mem-out %s: %s\n", out, strerror(errno));
			place_fini(pl);
			return ret;
		}
	}
	return 0;
}

void place_fini(struct place *pl)
{
	if (pl->placer_started)
		pthread_join(pl->placer, NULL);
	pl->placer_started = false;
	if (pl->state)
		munmap(pl->state, maplen(pl->npages * sizeof(uint32_t)));
	if (pl->buf)
		munmap(pl->buf, maplen(pl->npages * PS));
	if (pl->fault_ns)
		munmap(pl->fault_ns, maplen(pl->npages * sizeof(uint64_t)));
	if (pl->lat)
		munmap(pl->lat, maplen(pl->npages * sizeof(uint64_t)));
	bm_free(pl->placed_bm, pl->npages);
	free(pl->manifest);
	if (pl->out_fd >= 0)
		close(pl->out_fd);
	pl->state = NULL;
	pl->buf = NULL;
	pl->fault_ns = pl->lat = pl->placed_bm = NULL;
	pl->manifest = NULL;
	pl->out_fd = -1;
}

/* Own page @p; false if it is placed already.  *@old: the state claimed. */
static bool claim(struct place *pl, uint64_t p, uint32_t *old)
{
	uint32_t s = __atomic_load_n(&pl->state[p], __ATOMIC_ACQUIRE);

	for (;;) {
		if (s & ST_PLACED)
			return false;
		if (s & ST_BUSY) {
			/* the owner copies one page or makes one ioctl */
			sched_yield();
			s = __atomic_load_n(&pl->state[p], __ATOMIC_ACQUIRE);
			continue;
		}
		if (__atomic_compare_exchange_n(&pl->state[p], &s, s | ST_BUSY, true,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
			*old = s;
			return true;
		}
	}
}

/* Give page @p up with its round/ZERO bits set to @keep, plus @set. */
static uint32_t release(struct place *pl, uint64_t p, uint32_t keep, uint32_t set)
{
	uint32_t s = __atomic_load_n(&pl->state[p], __ATOMIC_RELAXED), n;

	do {
		n = (s & ~(ST_BUSY | ST_ROUND | ST_ZERO)) | keep | set;
	} while (!__atomic_compare_exchange_n(&pl->state[p], &s, n, true, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return n;
}

/* The ioctl: 0, -EEXIST, or another negative errno after mig_fail(). */
static int uffd_place(struct place *pl, uint64_t p, const void *data)
{
	uint64_t addr = handoff_addr_of(pl->h, p);
	int ret;

	if (!data && __atomic_load_n(&pl->zeropage, __ATOMIC_RELAXED)) {
		struct uffdio_zeropage z = { .range = { .start = addr, .len = PS } };

		for (;;) {
			INC(ioctls);
			if (!ioctl(pl->uffd, UFFDIO_ZEROPAGE, &z))
				return 0;
			ret = -errno;
			if (ret == -EAGAIN || ret == -EINTR) {
				z.zeropage = 0;
				continue;
			}
			if (ret != -EINVAL)
				break;
			/* memory whose registration does not allow it: copy zeroes */
			__atomic_store_n(&pl->zeropage, false, __ATOMIC_RELAXED);
			goto copy;
		}
		goto out;
	}
copy:
	{
		struct uffdio_copy c = {
			.dst = addr,
			.src = (uintptr_t)(data ? data : zero_page),
			.len = PS,
		};

		for (;;) {
			INC(ioctls);
			if (!ioctl(pl->uffd, UFFDIO_COPY, &c))
				return 0;
			ret = -errno;
			/* the VMM's mm is changing (fork, mremap): try again */
			if (ret != -EAGAIN && ret != -EINTR)
				break;
			c.copy = 0;
		}
	}
out:
	if (ret == -EEXIST)
		return ret;
	if (ret == -ESRCH || ret == -ENOENT)
		mig_fail("placing page %" PRIu64 " at 0x%" PRIx64 ": the destination VMM's memory is gone (did it exit?)",
			 p, addr);
	else
		mig_fail("placing page %" PRIu64 " at 0x%" PRIx64 ": %s", p, addr, strerror(-ret));
	return ret;
}

/*
 * Place page @p, which the caller has claimed, from @data (NULL: zeroes);
 * release it; account.  0 or -EIO.
 */
static int settle(struct place *pl, uint64_t p, uint32_t keep, const void *data,
		  bool from_buffer, int ret);

static int place_claimed(struct place *pl, uint64_t p, uint32_t keep, const void *data,
			 bool from_buffer)
{
	return settle(pl, p, keep, data, from_buffer, uffd_place(pl, p, data));
}

/* Release claimed page @p after its ioctl returned @ret; account.  0 or -EIO. */
static int settle(struct place *pl, uint64_t p, uint32_t keep, const void *data,
		  bool from_buffer, int ret)
{
	uint64_t now;
	uint32_t s;

	if (ret && ret != -EEXIST) {
		release(pl, p, keep, 0);
		return -EIO;
	}
	s = release(pl, p, keep, ST_PLACED);
	now = mig_now_ns();
	if (ret == -EEXIST) {
		INC(eexist);
	} else {
		INC(placed);
		if (from_buffer)
			INC(placed_buffer);
		if (!data)
			INC(placed_zero);
		if (!bm_set(pl->placed_bm, p))
			INC(twice);
		if (pl->out_fd >= 0 && data &&
		    pwrite(pl->out_fd, data, PS, (off_t)(p * PS)) != PS) {
			mig_fail("--mem-out: writing page %" PRIu64 ": %s", p, strerror(errno));
			return -EIO;
		}
	}
	if (s & ST_FAULTED) {
		uint64_t t = __atomic_load_n(&pl->fault_ns[p], __ATOMIC_ACQUIRE);
		uint64_t i = __atomic_fetch_add(&pl->nlat, 1, __ATOMIC_RELAXED);

		if (i < pl->npages)
			pl->lat[i] = now > t ? now - t : 0;
		INC(samples);
	}
	if (__atomic_add_fetch(&pl->settled, 1, __ATOMIC_ACQ_REL) == pl->npages && pl->all_placed)
		pl->all_placed(pl->arg);
	return 0;
}

int place_final(struct place *pl, uint64_t p, const void *data)
{
	uint32_t old;

	if (!claim(pl, p, &old)) {
		INC(final_dups);
		return 0;
	}
	/* the buffered version, if any, is of no use any more */
	return place_claimed(pl, p, old & (ST_ROUND | ST_ZERO), data, false);
}

static const void *buffered(struct place *pl, uint64_t p, uint32_t s)
{
	return s & ST_ZERO ? NULL : pl->buf + p * PS;
}

/* In state @s, page @p is not placed and its buffered version is final. */
static bool final_in_buffer(const struct place *pl, uint64_t p, uint32_t s)
{
	uint8_t m = pl->manifest[p];

	return m && !(s & ST_PLACED) && (s & ST_ROUND) == m;
}

/* Place @p from the buffer if its buffered round is the final one. */
static int try_buffered(struct place *pl, uint64_t p)
{
	uint32_t old;

	if (!final_in_buffer(pl, p, __atomic_load_n(&pl->state[p], __ATOMIC_SEQ_CST)))
		return 0;
	if (!claim(pl, p, &old))
		return 0;
	if (!final_in_buffer(pl, p, old)) {
		release(pl, p, old & (ST_ROUND | ST_ZERO), 0);
		return 0;
	}
	return place_claimed(pl, p, old & (ST_ROUND | ST_ZERO), buffered(pl, p, old), true);
}

int place_precopy(struct place *pl, uint64_t p, uint8_t round, const void *data)
{
	uint32_t old, keep;
	int ret = 0;

	INC(precopy_rx);
	if (!claim(pl, p, &old)) {
		INC(precopy_late);
		return 0;
	}
	keep = old & (ST_ROUND | ST_ZERO);
	/* rounds send a page at most once: a higher round is a newer version */
	if (round > (old & ST_ROUND)) {
		if ((old & ST_ROUND))
			INC(precopy_newer);
		keep = round;
		if (data)
			memcpy(pl->buf + p * PS, data, PS);
		else
			keep |= ST_ZERO;
	} else {
		INC(precopy_older);
	}
	release(pl, p, keep, 0);
	/* seq_cst, after the seq_cst release: pairs with place_manifest() */
	if (__atomic_load_n(&pl->manifest_known, __ATOMIC_SEQ_CST))
		ret = try_buffered(pl, p);
	return ret;
}

/*
 * Claim page @p for the placer if its buffered version is the final one
 * and all zeroes exactly when @zero says: never waits for another owner
 * (a busy page ends the run).  *@old: the state claimed.
 */
static bool claim_final(struct place *pl, uint64_t p, bool zero, uint32_t *old)
{
	uint32_t s = __atomic_load_n(&pl->state[p], __ATOMIC_SEQ_CST);

	if ((s & ST_BUSY) || !final_in_buffer(pl, p, s) || !(s & ST_ZERO) != !zero)
		return false;
	if (!__atomic_compare_exchange_n(&pl->state[p], &s, s | ST_BUSY, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		return false;
	*old = s;
	return true;
}

/*
 * Place the claimed run @p .. @p + @n - 1, contiguous in the VMM's memory
 * and all of one kind (@zero), with one UFFDIO_COPY from the buffer or one
 * UFFDIO_ZEROPAGE.  What the kernel placed before an error is settled as
 * placed; the rest goes one page at a time (uffd_place() knows EEXIST,
 * EAGAIN and memory without zero pages).  0 or -EIO.
 */
static int place_run(struct place *pl, uint64_t p, uint64_t n, bool zero, const uint32_t *old)
{
	uint64_t addr = handoff_addr_of(pl->h, p), done = 0, i;
	int64_t got;
	int ret = 0;

	if (n > 1 && (!zero || __atomic_load_n(&pl->zeropage, __ATOMIC_RELAXED))) {
		INC(ioctls);
		INC(placer_ioctls);
		if (zero) {
			struct uffdio_zeropage z = { .range = { .start = addr, .len = n * PS } };

			got = ioctl(pl->uffd, UFFDIO_ZEROPAGE, &z) ? z.zeropage : (int64_t)(n * PS);
		} else {
			struct uffdio_copy c = {
				.dst = addr, .src = (uintptr_t)(pl->buf + p * PS), .len = n * PS,
			};

			got = ioctl(pl->uffd, UFFDIO_COPY, &c) ? c.copy : (int64_t)(n * PS);
		}
		done = got > 0 ? (uint64_t)got / PS : 0;
	}
	for (i = 0; i < n; i++) {
		const void *data = zero ? NULL : pl->buf + (p + i) * PS;
		uint32_t keep = old[i] & (ST_ROUND | ST_ZERO);
		int r;

		if (ret) {
			release(pl, p + i, keep, 0);
			continue;
		}
		if (i >= done)
			INC(placer_ioctls);
		r = settle(pl, p + i, keep, data, true, i < done ? 0 : uffd_place(pl, p + i, data));
		if (r)
			ret = r;
		else
			INC(placer_pages);
	}
	return ret;
}

static void *placer_main(void *arg)
{
	struct place *pl = arg;
	uint64_t p = 0, n, t0 = mig_now_ns();
	uint32_t old[RUN_MAX];
	uint64_t addr;
	bool zero;

	while (p < pl->npages && !mig_failed()) {
		zero = __atomic_load_n(&pl->state[p], __ATOMIC_ACQUIRE) & ST_ZERO;
		if (!claim_final(pl, p, zero, &old[0])) {
			p++;
			continue;
		}
		addr = handoff_addr_of(pl->h, p);
		for (n = 1; n < RUN_MAX && p + n < pl->npages; n++)
			if (handoff_addr_of(pl->h, p + n) != addr + n * PS ||
			    !claim_final(pl, p + n, zero, &old[n]))
				break;
		if (place_run(pl, p, n, zero, old))
			break;
		p += n;
	}
	pl->placer_ns = mig_now_ns() - t0;
	return NULL;
}

int place_manifest(struct place *pl, uint8_t *manifest)
{
	int ret;

	pl->manifest = manifest;
	/* publishes manifest[]; seq_cst: pairs with place_precopy() */
	__atomic_store_n(&pl->manifest_known, true, __ATOMIC_SEQ_CST);
	ret = pthread_create(&pl->placer, NULL, placer_main, pl);
	if (ret) {
		mig_fail("cannot start the placer thread: %s", strerror(ret));
		return -ret;
	}
	pl->placer_started = true;
	return 0;
}

enum place_fault_result place_fault(struct place *pl, uint64_t p, uint64_t now_ns)
{
	uint32_t s = __atomic_load_n(&pl->state[p], __ATOMIC_ACQUIRE);
	uint64_t zero = 0;

	if (s & ST_PLACED)
		return FAULT_DONE;
	if (__atomic_compare_exchange_n(&pl->fault_ns[p], &zero, now_ns, false,
					__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
		INC(faulted);
		s = __atomic_fetch_or(&pl->state[p], ST_FAULTED, __ATOMIC_ACQ_REL);
		if (s & ST_PLACED)
			return FAULT_DONE;
	}
	if (__atomic_load_n(&pl->manifest_known, __ATOMIC_ACQUIRE) && pl->manifest[p] &&
	    (s & ST_ROUND) == pl->manifest[p]) {
		if (try_buffered(pl, p))
			return FAULT_DONE;	/* failed: mig_fail() said why */
		if (place_is_placed(pl, p)) {
			INC(local);
			return FAULT_DONE;
		}
	}
	s = __atomic_fetch_or(&pl->state[p], ST_REQUESTED, __ATOMIC_ACQ_REL);
	if (s & ST_PLACED)
		return FAULT_DONE;
	return s & ST_REQUESTED ? FAULT_PENDING : FAULT_REQUEST;
}

bool place_is_placed(const struct place *pl, uint64_t p)
{
	return __atomic_load_n(&pl->state[p], __ATOMIC_ACQUIRE) & ST_PLACED;
}

void place_stats(const struct place *pl, struct place_stats *st)
{
	const uint64_t *src = (const uint64_t *)&pl->st;
	uint64_t *dst = (uint64_t *)st;
	size_t i;

	for (i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

uint64_t place_settled(const struct place *pl)
{
	return __atomic_load_n(&pl->settled, __ATOMIC_ACQUIRE);
}

const uint64_t *place_latencies(struct place *pl, uint64_t *n)
{
	uint64_t k = __atomic_load_n(&pl->nlat, __ATOMIC_ACQUIRE);

	if (k > pl->npages)
		k = pl->npages;
	mig_sort_u64(pl->lat, k);
	*n = k;
	return pl->lat;
}
