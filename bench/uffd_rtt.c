// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_rtt: userfaultfd round-trip time, one fault at a time.
 *
 * The main thread touches the pages of a userfaultfd-registered anonymous
 * region one by one; every touch is one missing fault.  A resolver thread
 * poll()s and read()s the userfaultfd and answers each fault with
 * UFFDIO_COPY.  The round trip of a fault (fault -> message -> read ->
 * UFFDIO_COPY -> wake -> retry) is the time around the touch, taken with
 * clock_gettime(CLOCK_MONOTONIC).  The region is small and reused:
 * MADV_DONTNEED drops its pages, so the next touch of a page faults again.
 *
 * Protocol, so that a script can act on the process at the right moments
 * (pcopy track before the timed faults, pcopy stats after them):
 *
 *   1. the warm-up faults (page tables, caches; not timed)
 *   2. with -s, prints "ready PID" and waits for a line on stdin
 *   3. the timed faults, exactly N of them
 *   4. prints one line:
 *        uffd_rtt faults=N median_ns=.. p90_ns=.. p99_ns=.. mean_ns=..
 *                 min_ns=.. max_ns=.. clock_ns=..
 *      clock_ns is the median of an empty timing (two clock reads back to
 *      back), included in every figure before it: under TCG without a
 *      TSC clocksource a clock read is not free.
 *   5. with -w, waits for a line (or end of file) on stdin before exiting,
 *      so its statistics can still be read while it lives
 *
 * Every fault is checked: the resolver must see exactly one message per
 * touch, all of them missing faults on the page touched; anything else
 * (a touch that did not fault, a fault twice) fails the run, because the
 * numbers would not mean what they say.  Exit status 0 on success, 1 on
 * any error (one line on stderr), 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define DEF_FAULTS	10000
#define DEF_WARMUP	200
#define DEF_PAGES	256	/* region: 1 MiB with 4 KiB pages */

struct resolver {
	int uffd;
	int stopfd;		/* eventfd: the main thread is done */
	char *src;		/* one page of data to copy in */
	size_t psz;
	char *base;
	size_t len;
	unsigned long msgs;	/* fault messages read */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uffd_rtt [-n FAULTS] [-u WARMUP] [-p PAGES] [-c CPU[,CPU]] [-s] [-w]\n"
		"  -n FAULTS  timed faults (default %d)\n"
		"  -u WARMUP  untimed faults before them (default %d)\n"
		"  -p PAGES   region size in pages, reused in batches (default %d)\n"
		"  -c F[,R]   pin the faulting thread to CPU F, the resolver to CPU R\n"
		"             (default R = F)\n"
		"  -s         print \"ready PID\" and wait for a line on stdin\n"
		"             before the timed faults\n"
		"  -w         wait for a line or end of file on stdin before exiting\n",
		DEF_FAULTS, DEF_WARMUP, DEF_PAGES);
}

/*
 * The faulting thread would wait forever for a fault the resolver gave up
 * on: a resolver error ends the process.
 */
static void __attribute__((noreturn)) res_fail(int err, const char *what)
{
	fprintf(stderr, "uffd_rtt: resolver: %s: %s\n", what, strerror(err));
	_exit(1);
}

static void *resolve(void *arg)
{
	struct resolver *r = arg;
	struct pollfd pfd[2] = {
		{ .fd = r->uffd, .events = POLLIN },
		{ .fd = r->stopfd, .events = POLLIN },
	};

	for (;;) {
		struct uffdio_copy copy;
		struct uffd_msg msg;
		unsigned long addr;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			res_fail(errno, "poll");
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			res_fail(EIO, "poll: userfaultfd error");
		n = read(r->uffd, &msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(msg))
			res_fail(n < 0 ? errno : EIO, "read userfaultfd");
		addr = msg.arg.pagefault.address;
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
		    addr < (unsigned long)r->base ||
		    addr >= (unsigned long)r->base + r->len)
			res_fail(EPROTO, "unexpected userfaultfd message");
		/*
		 * Counted before the wake-up, which UFFDIO_COPY does: the
		 * faulting thread checks the count as soon as it runs again.
		 */
		__atomic_store_n(&r->msgs, r->msgs + 1, __ATOMIC_RELEASE);
		copy.dst = addr & ~(r->psz - 1);
		copy.src = (unsigned long)r->src;
		copy.len = r->psz;
		copy.mode = 0;
		copy.copy = 0;
		/* EEXIST would mean a page faulted twice */
		if (ioctl(r->uffd, UFFDIO_COPY, &copy))
			res_fail(errno, "UFFDIO_COPY");
	}
	return NULL;
}

static int pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}

/* -c F[,R] */
static void cpu_args(const char *s, int *fcpu, int *rcpu)
{
	char buf[32], *comma;

	snprintf(buf, sizeof(buf), "%s", s);
	comma = strchr(buf, ',');
	if (comma)
		*comma = 0;
	*fcpu = bench_num("-c", buf, 0, CPU_SETSIZE - 1);
	*rcpu = comma ? (int)bench_num("-c", comma + 1, 0, CPU_SETSIZE - 1) : *fcpu;
}

/* Wait for one line on stdin; end of file counts as one only if @eof_ok. */
static int wait_line(int eof_ok)
{
	int c;

	while ((c = getchar()) != EOF && c != '\n')
		;
	return c == EOF && (!eof_ok || ferror(stdin)) ? -EIO : 0;
}

/* Median cost of an empty timing, using buf[0..n-1] as scratch. */
static uint64_t clock_cost(uint64_t *buf, unsigned long n)
{
	unsigned long i;

	if (n > 1000)
		n = 1000;
	for (i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();

		buf[i] = bench_now_ns() - t0;
	}
	bench_sort_u64(buf, n);
	return bench_pct(buf, n, 50);
}

/*
 * Touch pages base[next..] one by one, n of them, re-arming the region
 * whenever it is used up.  Records each round trip in lat[] if not NULL.
 */
static int touch(struct resolver *r, unsigned long *next, unsigned long npages,
		 unsigned long n, uint64_t *lat)
{
	unsigned long i, before;

	for (i = 0; i < n; i++) {
		volatile char *p;
		uint64_t t0, t1;

		if (*next == npages) {
			if (madvise(r->base, r->len, MADV_DONTNEED)) {
				fprintf(stderr, "uffd_rtt: madvise(MADV_DONTNEED): %s\n",
					strerror(errno));
				return -1;
			}
			*next = 0;
		}
		p = r->base + *next * r->psz;
		before = __atomic_load_n(&r->msgs, __ATOMIC_ACQUIRE);
		t0 = bench_now_ns();
		*p = 1;
		t1 = bench_now_ns();
		if (lat)
			lat[i] = t1 - t0;
		(*next)++;
		/*
		 * The write returned, so its fault (if any) was resolved; the
		 * count must have moved by exactly one, or the numbers lie.
		 */
		if (__atomic_load_n(&r->msgs, __ATOMIC_ACQUIRE) != before + 1) {
			fprintf(stderr, "uffd_rtt: touch %lu of page %lu: %lu faults instead of 1\n",
				i, *next - 1,
				__atomic_load_n(&r->msgs, __ATOMIC_ACQUIRE) - before);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long nfaults = DEF_FAULTS, warmup = DEF_WARMUP, npages = DEF_PAGES;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct resolver r = { .uffd = -1, .stopfd = -1 };
	int fcpu = -1, rcpu = -1, sync_start = 0, wait_exit = 0, ret = 1, opt;
	unsigned long next = 0, i;
	uint64_t *lat = NULL, sum = 0, clock_ns;
	pthread_t thr;
	int started = 0;

	bench_prog = "uffd_rtt";
	while ((opt = getopt(argc, argv, "n:u:p:c:swh")) != -1) {
		switch (opt) {
		case 'n':
			nfaults = bench_num("-n", optarg, 0, 100000000);
			break;
		case 'u':
			warmup = bench_num("-u", optarg, 0, 100000000);
			break;
		case 'p':
			npages = bench_num("-p", optarg, 0, 1 << 20);
			break;
		case 'c':
			cpu_args(optarg, &fcpu, &rcpu);
			break;
		case 's':
			sync_start = 1;
			break;
		case 'w':
			wait_exit = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !nfaults || !npages) {
		usage(stderr);
		return 2;
	}

	r.psz = sysconf(_SC_PAGESIZE);
	r.len = npages * r.psz;

	/* everything the timed loop uses is faulted in now, not during it */
	lat = malloc(nfaults * sizeof(*lat));
	r.src = aligned_alloc(r.psz, r.psz);
	if (!lat || !r.src) {
		fprintf(stderr, "uffd_rtt: out of memory for %lu faults\n", nfaults);
		goto out;
	}
	memset(lat, 0, nfaults * sizeof(*lat));
	memset(r.src, 0x5a, r.psz);

	r.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r.uffd < 0) {
		fprintf(stderr, "uffd_rtt: userfaultfd: %s\n", strerror(errno));
		goto out;
	}
	if (ioctl(r.uffd, UFFDIO_API, &api)) {
		fprintf(stderr, "uffd_rtt: UFFDIO_API: %s\n", strerror(errno));
		goto out;
	}
	r.stopfd = eventfd(0, EFD_CLOEXEC);
	if (r.stopfd < 0) {
		fprintf(stderr, "uffd_rtt: eventfd: %s\n", strerror(errno));
		goto out;
	}
	r.base = mmap(NULL, r.len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.base == MAP_FAILED) {
		fprintf(stderr, "uffd_rtt: mmap %zu bytes: %s\n", r.len, strerror(errno));
		r.base = NULL;
		goto out;
	}
	/* one 4 KiB fault per touch: no huge page may fill a whole PMD at once */
	if (madvise(r.base, r.len, MADV_NOHUGEPAGE)) {
		fprintf(stderr, "uffd_rtt: madvise(MADV_NOHUGEPAGE): %s\n", strerror(errno));
		goto out;
	}
	reg.range.start = (unsigned long)r.base;
	reg.range.len = r.len;
	if (ioctl(r.uffd, UFFDIO_REGISTER, &reg)) {
		fprintf(stderr, "uffd_rtt: UFFDIO_REGISTER: %s\n", strerror(errno));
		goto out;
	}

	errno = pthread_create(&thr, NULL, resolve, &r);
	if (errno) {
		fprintf(stderr, "uffd_rtt: pthread_create: %s\n", strerror(errno));
		goto out;
	}
	started = 1;
	if (fcpu >= 0) {
		int err = pin(pthread_self(), fcpu);

		if (!err)
			err = pin(thr, rcpu);
		if (err) {
			fprintf(stderr, "uffd_rtt: pin to cpus %d,%d: %s\n",
				fcpu, rcpu, strerror(-err));
			goto out;
		}
	}

	if (touch(&r, &next, npages, warmup, NULL))
		goto out;
	clock_ns = clock_cost(lat, nfaults);

	if (sync_start) {
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		/* the controller is gone: nobody would read the results */
		if (wait_line(0)) {
			fprintf(stderr, "uffd_rtt: no go line on stdin\n");
			goto out;
		}
	}

	if (touch(&r, &next, npages, nfaults, lat))
		goto out;

	for (i = 0; i < nfaults; i++)
		sum += lat[i];
	bench_sort_u64(lat, nfaults);
	printf("uffd_rtt faults=%lu median_ns=%llu p90_ns=%llu p99_ns=%llu mean_ns=%llu min_ns=%llu max_ns=%llu clock_ns=%llu\n",
	       nfaults,
	       (unsigned long long)bench_pct(lat, nfaults, 50),
	       (unsigned long long)bench_pct(lat, nfaults, 90),
	       (unsigned long long)bench_pct(lat, nfaults, 99),
	       (unsigned long long)(sum / nfaults),
	       (unsigned long long)lat[0],
	       (unsigned long long)lat[nfaults - 1],
	       (unsigned long long)clock_ns);
	fflush(stdout);

	if (wait_exit && wait_line(1)) {
		fprintf(stderr, "uffd_rtt: reading stdin failed\n");
		goto out;
	}
	ret = 0;
out:
	if (started) {
		uint64_t one = 1;

		if (write(r.stopfd, &one, sizeof(one)) != sizeof(one))
			ret = 1;
		pthread_join(thr, NULL);
	}
	if (r.base)
		munmap(r.base, r.len);
	if (r.stopfd >= 0)
		close(r.stopfd);
	if (r.uffd >= 0)
		close(r.uffd);
	free(r.src);
	free(lat);
	return ret;
}
