// SPDX-License-Identifier: GPL-2.0
/* Pieces both migration ends share (util.h). */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/defs.h"
#include "util.h"

#define MIG_FAIL_MSG	400

uint64_t mig_peak_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;	/* KiB on Linux */
}

uint64_t mig_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* mmap rather than calloc: a large VM's bitmaps are never touched whole. */
uint64_t *bm_alloc(uint64_t nbits)
{
	size_t len = BM_WORDS(nbits) * sizeof(uint64_t);
	void *p;

	if (!len)
		len = sizeof(uint64_t);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void bm_free(uint64_t *bm, uint64_t nbits)
{
	size_t len = BM_WORDS(nbits) * sizeof(uint64_t);

	if (bm)
		munmap(bm, len ? len : sizeof(uint64_t));
}

uint64_t bm_count(const uint64_t *bm, uint64_t nbits)
{
	uint64_t i, n = 0;

	for (i = 0; i < BM_WORDS(nbits); i++)
		n += (uint64_t)__builtin_popcountll(__atomic_load_n(&bm[i], __ATOMIC_RELAXED));
	return n;
}

/*
 * The page hash: four independent lanes over 64-bit words, each step a
 * bijection of the lane for a given word (xor, multiply by an odd
 * constant, rotate), so two contents that differ in one word always leave
 * that lane different; the lanes and the length are then folded through a
 * strong 64-bit finaliser.
 */
#define H_K0	0x9e3779b97f4a7c15ull
#define H_K1	0xc2b2ae3d27d4eb4full
#define H_K2	0x165667b19e3779f9ull
#define H_K3	0xd6e8feb86659fd93ull

static inline uint64_t rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t lane(uint64_t acc, uint64_t w, uint64_t k)
{
	return rotl64((acc ^ w) * k, 23);
}

static inline uint64_t fmix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_words(const unsigned char *p, size_t len, uint64_t *any)
{
	uint64_t a = H_K0, b = H_K1, c = H_K2, d = H_K3, or = 0, w[4], h;
	size_t i;

	for (i = 0; i + 32 <= len; i += 32) {
		memcpy(w, p + i, sizeof(w));
		or |= w[0] | w[1] | w[2] | w[3];
		a = lane(a, w[0], H_K1);
		b = lane(b, w[1], H_K2);
		c = lane(c, w[2], H_K3);
		d = lane(d, w[3], H_K0);
	}
	if (i < len) {
		unsigned char tail[32] = { 0 };

		memcpy(tail, p + i, len - i);
		memcpy(w, tail, sizeof(w));
		or |= w[0] | w[1] | w[2] | w[3];
		a = lane(a, w[0], H_K1);
		b = lane(b, w[1], H_K2);
		c = lane(c, w[2], H_K3);
		d = lane(d, w[3], H_K0);
	}
	h = fmix(a ^ (uint64_t)len);
	h = fmix(h ^ rotl64(b, 17));
	h = fmix(h ^ rotl64(c, 31));
	h = fmix(h ^ rotl64(d, 47));
	*any = or;
	return h;
}

uint64_t mig_hash(const void *buf, size_t len)
{
	uint64_t any;

	return hash_words(buf, len, &any);
}

uint64_t mig_page_scan(const void *page, bool *zero)
{
	uint64_t any, h = hash_words(page, 4096, &any);

	*zero = !any;
	return h;
}

/* ---- failure and stderr ---- */

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *fail_who = "migrate";
static void (*fail_hook)(void *, const char *);
static char fail_msg[MIG_FAIL_MSG];
static void *fail_arg;
static int failed;

struct progress_state {
	bool init, tty, shown;
	uint64_t next_ns;
};
static struct progress_state pg;

void mig_fail_setup(const char *who, void (*hook)(void *, const char *), void *arg)
{
	pthread_mutex_lock(&err_lock);
	fail_who = who;
	fail_hook = hook;
	fail_arg = arg;
	pthread_mutex_unlock(&err_lock);
}

static void clear_locked(void)
{
	if (pg.shown)
		fputs("\r\033[K", stderr);
	pg.shown = false;
}

void mig_fail(const char *fmt, ...)
{
	void (*hook)(void *, const char *) = NULL;
	va_list ap;

	pthread_mutex_lock(&err_lock);
	if (!__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
		clear_locked();
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
		va_end(ap);
		fprintf(stderr, "pcopy: %s: %s\n", fail_who, fail_msg);
		/* seq_cst: see the resume guard in dest.c */
		__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
		hook = fail_hook;
	}
	pthread_mutex_unlock(&err_lock);
	/* outside the lock: the hook may log; fail_msg is no longer written */
	if (hook)
		hook(fail_arg, fail_msg);
}

bool mig_failed(void)
{
	return __atomic_load_n(&failed, __ATOMIC_SEQ_CST);
}

void mig_fail_lost(int grace_ms, const char *fmt, ...)
{
	char msg[MIG_FAIL_MSG];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < grace_ms / 10 && !mig_failed(); i++)
		usleep(10 * 1000);
	mig_fail("%s", msg);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

void mig_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void mig_check_signal(void)
{
	if (got_signal && !mig_failed())
		mig_fail("interrupted by signal %d (%s)", (int)got_signal, strsignal(got_signal));
}

void mig_note(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&err_lock);
	clear_locked();
	fprintf(stderr, "pcopy: %s: ", fail_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&err_lock);
}

void mig_progress(const char *fmt, ...)
{
	uint64_t now = mig_now_ns();
	va_list ap;

	pthread_mutex_lock(&err_lock);
	if (!pg.init) {
		/* the first line after a second: short runs print none */
		pg.init = true;
		pg.tty = isatty(STDERR_FILENO);
		pg.next_ns = now + NSEC_PER_SEC;
	}
	if (failed || now < pg.next_ns)
		goto out;
	pg.next_ns = now + (pg.tty ? NSEC_PER_SEC / 4 : NSEC_PER_SEC);
	fputs(pg.tty ? "\r\033[K" : "", stderr);
	fprintf(stderr, "pcopy: %s: ", fail_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (pg.tty)
		pg.shown = true;
	else
		fputc('\n', stderr);
	fflush(stderr);
out:
	pthread_mutex_unlock(&err_lock);
}

void mig_progress_clear(void)
{
	pthread_mutex_lock(&err_lock);
	clear_locked();
	pthread_mutex_unlock(&err_lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void mig_sort_u64(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t mig_percentile(const uint64_t *v, size_t n, unsigned int p)
{
	size_t rank;

	if (!n)
		return 0;
	/* nearest rank: the smallest value with at least p% at or below it */
	rank = ((size_t)p * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}
