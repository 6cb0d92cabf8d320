/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_UTIL_H
#define PCOPY_AGENT_MIG_UTIL_H

/*
 * Small things both ends of a migration share: the clock, atomic page
 * bitmaps, the page hash, the one-shot failure path and the progress line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t mig_now_ns(void);		/* CLOCK_MONOTONIC */
uint64_t mig_peak_rss(void);		/* this process's peak RSS, bytes */

/*
 * Bitmaps of pages in 64-bit words that several threads update with
 * atomic read-modify-write operations.
 */
#define BM_WORDS(n)	(((n) + 63) / 64)

uint64_t *bm_alloc(uint64_t nbits);	/* zeroed; NULL when out of memory */
void bm_free(uint64_t *bm, uint64_t nbits);
uint64_t bm_count(const uint64_t *bm, uint64_t nbits);

static inline bool bm_test(const uint64_t *bm, uint64_t i)
{
	return __atomic_load_n(&bm[i / 64], __ATOMIC_ACQUIRE) & (1ull << (i % 64));
}

/* Set bit @i; true if it was clear. */
static inline bool bm_set(uint64_t *bm, uint64_t i)
{
	uint64_t bit = 1ull << (i % 64);

	return !(__atomic_fetch_or(&bm[i / 64], bit, __ATOMIC_ACQ_REL) & bit);
}

/* Clear bit @i; true if it was set. */
static inline bool bm_clear(uint64_t *bm, uint64_t i)
{
	uint64_t bit = 1ull << (i % 64);

	return __atomic_fetch_and(&bm[i / 64], ~bit, __ATOMIC_ACQ_REL) & bit;
}

/*
 * A 64-bit hash of @len bytes, to tell whether a page changed since it was
 * sent (not a cryptographic hash: nobody here is an adversary of the
 * guest's own memory).  mig_page_scan() hashes a page and says whether it
 * is all zeroes, in one pass.
 */
uint64_t mig_hash(const void *buf, size_t len);
uint64_t mig_page_scan(const void *page, bool *zero);

/*
 * The failure path.  The first mig_fail() of the process prints
 * "pcopy: WHO: MESSAGE" (after taking the progress line away), then calls
 * the hook set by mig_fail_setup() with the message, which tells the peer
 * and unblocks every thread (shuts the connections down); later calls
 * do nothing.  The main thread sees mig_failed() and exits with status 1.
 */
void mig_fail_setup(const char *who, void (*hook)(void *, const char *), void *arg);
void mig_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool mig_failed(void);
/*
 * mig_fail() for a connection the peer closed or reset: the peer may have
 * said why on the control connection, so give that reason @grace_ms to
 * arrive (and be the one reported) first.
 */
void mig_fail_lost(int grace_ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * SIGINT and SIGTERM end a migration through the failure path, so that it
 * is left as cleanly as any other failure: mig_signals() installs the
 * handlers, mig_check_signal() (called by the main thread's waits) turns a
 * signal received into mig_fail().
 */
void mig_signals(void);
void mig_check_signal(void);
/* A line on stderr that is not an error ("pcopy: WHO: ..."), progress aside. */
void mig_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The live progress line on stderr: redrawn in place at most 4 times a
 * second on a terminal, otherwise printed as one line per second.
 */
void mig_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mig_progress_clear(void);

/* Nearest-rank percentile @p (1..100) of @v, @n values sorted ascending. */
uint64_t mig_percentile(const uint64_t *v, size_t n, unsigned int p);
void mig_sort_u64(uint64_t *v, size_t n);

#endif
