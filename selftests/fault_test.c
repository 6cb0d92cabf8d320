// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel userfault timing: exact fault counts, latencies bounded below
 * by injected resolution delays, several waiters on one address, a wait
 * interrupted by a signal, and untracked processes left alone.
 *
 * The process under test is this test process itself (or a child): the
 * faulting threads touch userfaultfd-registered anonymous memory, and a
 * resolver thread answers each fault after a known delay.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGE 4096UL

FIXTURE(fault) {
	struct nl_sock *sk;
	int fam;
	int uffd;
	pid_t pid;
	struct sess_stats st;
};

FIXTURE_SETUP(fault)
{
	struct nl_result r;

	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->uffd = uffd_open(UFFD_FEATURE_THREAD_ID);
	ASSERT_LE(0, self->uffd);
	self->pid = getpid();
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
			      self->pid, &r)) TH_LOG("track: %s", r.msg);
	nl_result_free(&r);
}

FIXTURE_TEARDOWN(fault)
{
	struct nl_result r;

	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r);
	nl_result_free(&r);
	close(self->uffd);
	nl_socket_free(self->sk);
}

/* ---- N threads x M pages, per-thread resolution delays ---- */

#define NTHREADS 3
#define MPAGES 16
static const unsigned int delay_ms[NTHREADS] = { 2, 9, 33 };

struct worker {
	pthread_t th;
	char *base;		/* MPAGES pages of its own */
	pid_t tid;
	pthread_barrier_t *go;
	unsigned long sum;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int i;

	w->tid = sys_gettid();
	pthread_barrier_wait(w->go);	/* tid published */
	pthread_barrier_wait(w->go);	/* mapped to its vCPU */
	for (i = 0; i < MPAGES; i++)
		w->sum += *(volatile unsigned char *)(w->base + i * PAGE);
	return NULL;
}

struct pending {
	unsigned long addr;
	uint64_t due;
};

struct resolver {
	int uffd;
	char *base;		/* NTHREADS regions of MPAGES pages */
	int expect;		/* messages to serve before leaving */
	int served;
	int bad;		/* messages from a wrong thread or address */
	pid_t tids[NTHREADS];
};

/*
 * Serve each fault delay_ms[thread] after reading its message: the kernel
 * saw the thread enter the fault before the message existed, so every
 * measured latency is at least that delay.
 */
static void *resolver_fn(void *arg)
{
	struct resolver *r = arg;
	struct pending p[NTHREADS * MPAGES];
	int np = 0, i;

	while (r->served < r->expect) {
		uint64_t now = now_ns(), next = now + 1000000000ull;
		struct uffd_msg msg;
		int ret;

		for (i = 0; i < np; i++) {
			if (p[i].due <= now) {
				if (uffd_copy_page(r->uffd, p[i].addr, 0x5a))
					r->bad++;
				r->served++;
				p[i--] = p[--np];
				continue;
			}
			if (p[i].due < next)
				next = p[i].due;
		}
		ret = uffd_read_msg(r->uffd, &msg, (next - now) / 1000000 + 1);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret || msg.event != UFFD_EVENT_PAGEFAULT) {
			r->bad++;
			break;
		}
		{
			unsigned long a = msg.arg.pagefault.address;
			long t = (long)(a - (unsigned long)r->base) / (MPAGES * PAGE);

			if (t < 0 || t >= NTHREADS ||
			    msg.arg.pagefault.feat.ptid != (uint32_t)r->tids[t]) {
				r->bad++;
				t = 0;
			}
			p[np].addr = a;
			p[np].due = now_ns() + delay_ms[t] * 1000000ull;
			np++;
		}
	}
	return NULL;
}

TEST_F(fault, exact_counts_and_latency)
{
	struct worker w[NTHREADS];
	struct resolver res = { .uffd = self->uffd, .expect = NTHREADS * MPAGES };
	pthread_barrier_t go;
	pthread_t rth;
	struct nl_result r;
	unsigned int first_bucket;
	int i, b;

	res.base = uffd_area(self->uffd, NTHREADS * MPAGES * PAGE);
	ASSERT_NE(NULL, res.base);
	pthread_barrier_init(&go, NULL, NTHREADS + 1);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .base = res.base + i * MPAGES * PAGE,
					.go = &go };
		ASSERT_EQ(0, pthread_create(&w[i].th, NULL, worker_fn, &w[i]));
	}
	pthread_barrier_wait(&go);
	for (i = 0; i < NTHREADS; i++) {
		res.tids[i] = w[i].tid;
		/* thread i is vCPU i: per-vCPU figures are per-thread figures */
		ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, w[i].tid,
				      i, &r)) TH_LOG("%s", r.msg);
		nl_result_free(&r);
	}
	ASSERT_EQ(0, pthread_create(&rth, NULL, resolver_fn, &res));
	pthread_barrier_wait(&go);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].th, NULL);
		EXPECT_EQ(MPAGES * 0x5aUL, w[i].sum);
	}
	pthread_join(rth, NULL);
	EXPECT_EQ(0, res.bad);
	EXPECT_EQ(NTHREADS * MPAGES, res.served);

	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(NTHREADS * MPAGES, self->st.faults);
	EXPECT_EQ(0, self->st.nowait);
	EXPECT_EQ(0, self->st.interrupted);
	EXPECT_EQ(0, self->st.outstanding);
	EXPECT_EQ(NTHREADS * MPAGES, self->st.vcpu_faults);
	EXPECT_EQ(0, self->st.nonvcpu_faults);
	/* the vCPU threads have exited: their vCPUs are listed, not known */
	EXPECT_EQ(0, self->st.known_vcpus);
	EXPECT_EQ(NTHREADS * MPAGES, hist_sum(self->st.hist_ns, PCOPY_HIST_NS_BUCKETS));
	EXPECT_EQ(NTHREADS * MPAGES, hist_sum(self->st.hist_us, PCOPY_HIST_US_BUCKETS));
	ASSERT_EQ(NTHREADS, self->st.nvcpus);

	for (i = 0; i < NTHREADS; i++) {
		const struct vcpu_stat *v = find_vcpu(&self->st, i);
		uint64_t d = delay_ms[i] * 1000000ull;

		ASSERT_NE(NULL, v);
		EXPECT_EQ((uint32_t)w[i].tid, v->tid);
		EXPECT_TRUE(v->explicit_map);
		EXPECT_EQ(MPAGES, v->faults);
		EXPECT_LE(d, v->lat_min) TH_LOG("vcpu %d min %llu < delay %llu", i,
						(unsigned long long)v->lat_min,
						(unsigned long long)d);
		/* generous upper slack: TCG is slow */
		EXPECT_GE(d + 3000000000ull, v->lat_max);
		EXPECT_LE(MPAGES * d, v->lat_sum);
		EXPECT_LE(v->lat_min, v->lat_max);
		EXPECT_EQ(0, v->outstanding);
		/* a thread is blocked for at least its summed latency... */
		EXPECT_LE(MPAGES * d, v->blocktime);
		/* ...and its faults never overlap, so exactly that */
		EXPECT_EQ(v->lat_sum, v->blocktime);
	}
	/* no fault may land below the bucket of the shortest delay */
	first_bucket = 31 - __builtin_clz(delay_ms[0] * 1000);
	for (b = 0; b < (int)first_bucket; b++)
		EXPECT_EQ(0, self->st.hist_us[b]) TH_LOG("us bucket %d", b);
	first_bucket = 63 - __builtin_clzll(delay_ms[0] * 1000000ull);
	for (b = 0; b < (int)first_bucket; b++)
		EXPECT_EQ(0, self->st.hist_ns[b]) TH_LOG("ns bucket %d", b);
	EXPECT_EQ(self->st.lat_sum, self->st.vcpus[0].lat_sum +
		  self->st.vcpus[1].lat_sum + self->st.vcpus[2].lat_sum);
	EXPECT_LE(delay_ms[2] * 1000000ull, self->st.lat_max);
}

/* ---- several threads waiting on one address ---- */

#define KWAITERS 4
#define HOLD_MS 40

struct waiter {
	pthread_t th;
	volatile unsigned char *addr;
	pid_t tid;
	pthread_barrier_t *go;
	unsigned char seen;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->tid = sys_gettid();
	pthread_barrier_wait(w->go);
	pthread_barrier_wait(w->go);
	w->seen = *w->addr;
	return NULL;
}

TEST_F(fault, same_address_waiters)
{
	struct waiter w[KWAITERS];
	pthread_barrier_t go;
	struct uffd_msg msg;
	struct nl_result r;
	char *area, *txt, needle[32];
	int i, hits = 0;

	area = uffd_area(self->uffd, PAGE);
	ASSERT_NE(NULL, area);
	pthread_barrier_init(&go, NULL, KWAITERS + 1);
	for (i = 0; i < KWAITERS; i++) {
		w[i] = (struct waiter){ .addr = (unsigned char *)area + 8,
					.go = &go };
		ASSERT_EQ(0, pthread_create(&w[i].th, NULL, waiter_fn, &w[i]));
	}
	pthread_barrier_wait(&go);
	for (i = 0; i < KWAITERS; i++) {
		ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, w[i].tid,
				      10 + i, &r));
		nl_result_free(&r);
	}
	pthread_barrier_wait(&go);

	/* one message per blocked thread, all for the same page */
	for (i = 0; i < KWAITERS; i++) {
		ASSERT_EQ(0, uffd_read_msg(self->uffd, &msg, 20000));
		EXPECT_EQ((unsigned long)area, msg.arg.pagefault.address & ~(PAGE - 1));
	}
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, self->pid, KWAITERS, 5000));

	/* debugfs lists every waiter, on the same page */
	snprintf(needle, sizeof(needle), "%#lx", (unsigned long)area + 8);
	{
		char path[128];

		snprintf(path, sizeof(path), PCOPY_DEBUGFS "/sessions/%d/faults",
			 self->pid);
		txt = read_file(path);
	}
	ASSERT_NE(NULL, txt);
	for (char *p = txt; (p = strstr(p, needle)); p++)
		hits++;
	EXPECT_EQ(KWAITERS, hits) TH_LOG("faults file:\n%s", txt);
	free(txt);

	sleep_ms(HOLD_MS);
	/* a single resolution wakes them all */
	ASSERT_EQ(0, uffd_copy_page(self->uffd, (unsigned long)area, 0x77));
	for (i = 0; i < KWAITERS; i++) {
		pthread_join(w[i].th, NULL);
		EXPECT_EQ(0x77, w[i].seen);
	}

	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(KWAITERS, self->st.faults);
	EXPECT_EQ(KWAITERS, self->st.vcpu_faults);
	EXPECT_EQ(KWAITERS, self->st.outstanding_max);
	EXPECT_EQ(0, self->st.outstanding);
	/* the waiters have exited: their vCPUs are listed, detached */
	EXPECT_EQ(0, self->st.known_vcpus);
	for (i = 0; i < KWAITERS; i++) {
		const struct vcpu_stat *v = find_vcpu(&self->st, 10 + i);

		ASSERT_NE(NULL, v);
		EXPECT_TRUE(v->detached);
		EXPECT_EQ(1, v->faults);
		EXPECT_LE(HOLD_MS * 1000000ull, v->lat_min);
		EXPECT_EQ(v->lat_sum, v->blocktime);
	}
	/* every known vCPU was blocked through the hold */
	EXPECT_LE(HOLD_MS * 1000000ull, self->st.blocktime);
	EXPECT_GE(self->st.elapsed, self->st.blocktime);
	for (i = 0; i < KWAITERS; i++)
		EXPECT_GE(find_vcpu(&self->st, 10 + i)->blocktime, self->st.blocktime);
}

/* ---- a wait interrupted by a signal, then the same fault again ---- */

static volatile sig_atomic_t got_signal;

static void on_usr1(int sig)
{
	(void)sig;
	got_signal++;
}

TEST_F(fault, interrupted_wait_reenters)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct waiter w;
	pthread_barrier_t go;
	struct uffd_msg msg;
	struct nl_result r;
	char *area;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	area = uffd_area(self->uffd, PAGE);
	ASSERT_NE(NULL, area);
	pthread_barrier_init(&go, NULL, 2);
	w = (struct waiter){ .addr = (unsigned char *)area + 100, .go = &go };
	ASSERT_EQ(0, pthread_create(&w.th, NULL, waiter_fn, &w));
	pthread_barrier_wait(&go);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, w.tid, 0, &r));
	nl_result_free(&r);
	pthread_barrier_wait(&go);

	ASSERT_EQ(0, uffd_read_msg(self->uffd, &msg, 20000));
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, self->pid, 1, 5000));
	ASSERT_EQ(0, pthread_kill(w.th, SIGUSR1));
	/* the thread runs its handler and faults on the same address again */
	ASSERT_EQ(0, uffd_read_msg(self->uffd, &msg, 20000));
	/* uffd reports the page; the thread faulted at area + 100 */
	EXPECT_EQ((unsigned long)area, msg.arg.pagefault.address);
	EXPECT_EQ((uint32_t)w.tid, msg.arg.pagefault.feat.ptid);
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, self->pid, 1, 5000));
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, self->st.faults);		/* the interrupted one */
	EXPECT_EQ(1, self->st.interrupted);
	EXPECT_EQ(1, self->st.outstanding);

	ASSERT_EQ(0, uffd_copy_page(self->uffd, (unsigned long)area, 0x33));
	pthread_join(w.th, NULL);
	EXPECT_EQ(0x33, w.seen);
	EXPECT_EQ(1, got_signal);

	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(2, self->st.faults);
	EXPECT_EQ(1, self->st.interrupted);
	EXPECT_EQ(0, self->st.outstanding);
	EXPECT_EQ(1, self->st.outstanding_max);
	ASSERT_NE(NULL, find_vcpu(&self->st, 0));
	EXPECT_EQ(2, find_vcpu(&self->st, 0)->faults);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- reset ---- */

TEST_F(fault, reset_zeroes_figures)
{
	struct nl_result r;
	char *area;
	pid_t child;
	int status;

	area = uffd_area(self->uffd, 2 * PAGE);
	ASSERT_NE(NULL, area);
	/* a child resolves from a copy of the uffd: the main thread faults */
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct uffd_msg msg;
		int i;

		for (i = 0; i < 2; i++)
			if (uffd_read_msg(self->uffd, &msg, 20000) ||
			    uffd_copy_page(self->uffd, msg.arg.pagefault.address, 1))
				_exit(1);
		_exit(0);
	}
	EXPECT_EQ(1, *(volatile char *)area);
	EXPECT_EQ(1, *(volatile char *)(area + PAGE));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);

	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(2, self->st.faults);
	EXPECT_EQ(2, self->st.nonvcpu_faults);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_RESET,
			      self->pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(0, self->st.faults);
	EXPECT_EQ(0, self->st.nonvcpu_faults);
	EXPECT_EQ(0, self->st.lat_sum);
	EXPECT_EQ(0, hist_sum(self->st.hist_ns, PCOPY_HIST_NS_BUCKETS));
	EXPECT_EQ(0, hist_sum(self->st.hist_us, PCOPY_HIST_US_BUCKETS));
}

/* ---- an untracked process is not counted ---- */

TEST_F(fault, untracked_process_not_counted)
{
	struct sess_stats *cst = malloc(sizeof(*cst));
	int pipefd[2], status;
	struct nl_result r;
	pid_t child;
	char c;

	ASSERT_NE(NULL, cst);
	ASSERT_EQ(0, pipe(pipefd));
	/* the child is tracked and idle; we, untracked now, take faults */
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		close(pipefd[1]);
		read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, child, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r));
	nl_result_free(&r);

	{
		char *area = uffd_area(self->uffd, 3 * PAGE);
		pid_t res = fork();
		int i;

		ASSERT_NE(NULL, area);
		ASSERT_LE(0, res);
		if (res == 0) {
			struct uffd_msg msg;

			for (i = 0; i < 3; i++)
				if (uffd_read_msg(self->uffd, &msg, 20000) ||
				    uffd_copy_page(self->uffd, msg.arg.pagefault.address, 2))
					_exit(1);
			_exit(0);
		}
		for (i = 0; i < 3; i++)
			EXPECT_EQ(2, *(volatile char *)(area + i * PAGE));
		ASSERT_EQ(res, waitpid(res, &status, 0));
		EXPECT_EQ(0, status);
	}

	ASSERT_EQ(0, sess_get(self->sk, self->fam, child, cst));
	EXPECT_EQ(0, cst->faults);
	EXPECT_EQ(0, cst->nowait);
	EXPECT_EQ(-ENOENT, sess_get(self->sk, self->fam, self->pid, cst));

	write(pipefd[1], "x", 1);
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	/* re-track ourselves for the teardown */
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, self->pid, &r));
	nl_result_free(&r);
	free(cst);
}

TEST_HARNESS_MAIN
