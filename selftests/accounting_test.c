// SPDX-License-Identifier: GPL-2.0
/*
 * Counters that must not lie (issue 8, bugs 4 and 5):
 *   - a fault answered without a wait (UFFD_FEATURE_SIGBUS) is not a
 *     blocking fault;
 *   - a fault resolved while a signal is already pending is resolved, not
 *     interrupted;
 *   - a vCPU stops being known when its thread is unmapped, moves to
 *     another vCPU or exits, and whole-VM blocktime then counts again;
 *   - faults beyond the probe's capacity are counted exactly, per session,
 *     globally and as LOST records on the ring.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGE 4096UL

FIXTURE(acct) {
	struct nl_sock *sk;
	int fam;
	pid_t pid;
	struct sess_stats st;
};

FIXTURE_SETUP(acct)
{
	struct nl_result r;

	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->pid = getpid();
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW,
			      self->pid, &r)) TH_LOG("track: %s", r.msg);
	nl_result_free(&r);
}

FIXTURE_TEARDOWN(acct)
{
	struct nl_result r;

	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r);
	nl_result_free(&r);
	nl_socket_free(self->sk);
}

static sigjmp_buf bus_jmp;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* With UFFD_FEATURE_SIGBUS the fault is answered at once: nowait. */
TEST_F(acct, sigbus_feature_is_not_a_blocking_fault)
{
	struct sigaction sa = { .sa_handler = on_bus };
	volatile char *area;
	int uffd, hit = 0;

	uffd = uffd_open(UFFD_FEATURE_SIGBUS);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, PAGE);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	if (!sigsetjmp(bus_jmp, 1))
		(void)area[10];
	else
		hit = 1;
	signal(SIGBUS, SIG_DFL);
	EXPECT_EQ(1, hit);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(0, self->st.faults);
	EXPECT_EQ(1, self->st.nowait);
	EXPECT_EQ(0, self->st.outstanding);
	EXPECT_EQ(0, hist_sum(self->st.hist_ns, PCOPY_HIST_NS_BUCKETS));
	munmap((void *)area, PAGE);
	close(uffd);
}

struct faulter {
	pthread_t th;
	volatile unsigned char *addr;
	pid_t tid;
	pthread_barrier_t *go;
	unsigned char seen;
	cpu_set_t cpu;
};

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void *faulter_fn(void *arg)
{
	struct faulter *f = arg;

	sched_setaffinity(0, sizeof(f->cpu), &f->cpu);
	f->tid = sys_gettid();
	pthread_barrier_wait(f->go);
	pthread_barrier_wait(f->go);
	f->seen = *f->addr;
	return NULL;
}

/*
 * The resolver and the faulting thread share one CPU and the resolver runs
 * SCHED_FIFO: UFFDIO_COPY wakes the thread, the signal is queued before it
 * can run, so it leaves handle_userfault() resolved with a signal pending.
 */
TEST_F(acct, resolved_with_signal_pending_is_not_interrupted)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct sched_param sp = { .sched_priority = 10 };
	pthread_barrier_t go;
	struct uffd_msg msg;
	struct faulter f;
	cpu_set_t mine;
	char *area;
	int uffd;

	uffd = uffd_open(0);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, PAGE);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	CPU_ZERO(&f.cpu);
	CPU_SET(0, &f.cpu);
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(mine), &mine));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(f.cpu), &f.cpu));
	pthread_barrier_init(&go, NULL, 2);
	f.addr = (unsigned char *)area + 7;
	f.go = &go;
	ASSERT_EQ(0, pthread_create(&f.th, NULL, faulter_fn, &f));
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&go);
	ASSERT_EQ(0, uffd_read_msg(uffd, &msg, 20000));
	ASSERT_EQ(0, wait_outstanding(self->sk, self->fam, self->pid, 1, 5000));

	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &sp));
	ASSERT_EQ(0, uffd_copy_page(uffd, (unsigned long)area, 0x5a));
	ASSERT_EQ(0, pthread_kill(f.th, SIGUSR1));
	sp.sched_priority = 0;
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &sp));
	pthread_join(f.th, NULL);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(mine), &mine));
	signal(SIGUSR1, SIG_DFL);

	EXPECT_EQ(0x5a, f.seen);
	EXPECT_EQ(1, usr1);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, self->st.faults);
	EXPECT_EQ(0, self->st.interrupted);
	EXPECT_EQ(0, self->st.outstanding);
	munmap(area, PAGE);
	close(uffd);
}

/* A thread that parks until told to fault on @addr (or just exit). */
static struct faulter *faulter_start(volatile unsigned char *addr,
				     pthread_barrier_t *go)
{
	struct faulter *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	sched_getaffinity(0, sizeof(f->cpu), &f->cpu);
	f->addr = addr;
	f->go = go;
	if (pthread_create(&f->th, NULL, faulter_fn, f)) {
		free(f);
		return NULL;
	}
	pthread_barrier_wait(go);
	return f;
}

TEST_F(acct, vcpu_none_unmaps_the_thread)
{
	unsigned char byte = 1;
	pthread_barrier_t go;
	struct nl_result r;
	struct faulter *f;

	pthread_barrier_init(&go, NULL, 2);
	f = faulter_start(&byte, &go);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, f->tid, 0, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, self->st.known_vcpus);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, f->tid,
			      PCOPY_VCPU_NONE, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(0, self->st.known_vcpus);
	ASSERT_NE(NULL, find_vcpu(&self->st, 0));
	EXPECT_TRUE(find_vcpu(&self->st, 0)->detached);
	pthread_barrier_wait(&go);
	pthread_join(f->th, NULL);
	free(f);
}

/*
 * A thread moved from vCPU 0 to vCPU 1 leaves vCPU 0 detached; with one
 * known vCPU, a blocked fault of that thread blocks the whole VM.
 */
TEST_F(acct, moved_thread_leaves_no_stale_vcpu)
{
	pthread_barrier_t go;
	struct uffd_msg msg;
	struct nl_result r;
	struct faulter *f;
	char *area;
	int uffd;

	uffd = uffd_open(UFFD_FEATURE_THREAD_ID);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, PAGE);
	ASSERT_NE(NULL, area);
	pthread_barrier_init(&go, NULL, 2);
	f = faulter_start((unsigned char *)area, &go);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, f->tid, 0, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, f->tid, 1, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, self->st.known_vcpus);
	ASSERT_NE(NULL, find_vcpu(&self->st, 0));
	EXPECT_TRUE(find_vcpu(&self->st, 0)->detached);
	ASSERT_NE(NULL, find_vcpu(&self->st, 1));
	EXPECT_FALSE(find_vcpu(&self->st, 1)->detached);

	pthread_barrier_wait(&go);
	ASSERT_EQ(0, uffd_read_msg(uffd, &msg, 20000));
	sleep_ms(50);
	ASSERT_EQ(0, uffd_copy_page(uffd, (unsigned long)area, 0x11));
	pthread_join(f->th, NULL);
	EXPECT_EQ(0x11, f->seen);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(1, self->st.faults);
	EXPECT_EQ(1, self->st.vcpu_faults);
	EXPECT_EQ(1, find_vcpu(&self->st, 1)->faults);
	/* the one known vCPU was blocked: that is whole-VM blocktime */
	EXPECT_LE(50000000ULL, self->st.blocktime);
	EXPECT_LE(self->st.blocktime, self->st.lat_sum);
	EXPECT_EQ(find_vcpu(&self->st, 1)->blocktime, self->st.blocktime);
	free(f);
	munmap(area, PAGE);
	close(uffd);
}

/* A mapped thread exits: its vCPU is no longer known, its tid not kept. */
TEST_F(acct, exited_thread_is_pruned)
{
	unsigned char byte = 1;
	pthread_barrier_t go;
	struct nl_result r;
	struct faulter *f;

	pthread_barrier_init(&go, NULL, 2);
	f = faulter_start(&byte, &go);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, f->tid, 3, &r));
	nl_result_free(&r);
	pthread_barrier_wait(&go);
	pthread_join(f->th, NULL);
	free(f);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	EXPECT_EQ(0, self->st.known_vcpus);
	ASSERT_NE(NULL, find_vcpu(&self->st, 3));
	EXPECT_TRUE(find_vcpu(&self->st, 3)->detached);
}

/* ---- missed faults: a module with room for MAXACTIVE timed faults ---- */

#define MAXACTIVE 2
#define NFAULTERS 6

static int info_u64(struct nl_sock *sk, int fam, int attr, uint64_t *v)
{
	struct nl_msg *m = pcopy_msg(fam, PCOPY_CMD_GET_INFO, 0);
	struct nl_result r;
	int ret;

	if (!m)
		return -ENOMEM;
	ret = nl_xfer(sk, m, &r);
	nlmsg_free(m);
	if (!ret && !r.tb[attr])
		ret = -ENOENT;
	if (!ret)
		*v = nla_len(r.tb[attr]) == 4 ? nla_get_u32(r.tb[attr]) :
						 nla_get_u64(r.tb[attr]);
	nl_result_free(&r);
	return ret;
}

static int reload(const char *params)
{
	int ret = module_loaded() ? module_unload() : 0;

	return ret ? ret : module_load_params(params);
}

TEST(missed_faults_are_counted_exactly)
{
	struct faulter *f[NFAULTERS];
	struct ring_counts c = { 0 };
	struct sess_stats st;
	struct test_ring ring;
	pthread_barrier_t go;
	struct uffd_msg msg;
	struct nl_result r;
	struct nl_sock *sk;
	uint64_t v;
	char *area;
	int fam, uffd, i;

	/* out of range: refused, and nothing stays loaded */
	ASSERT_EQ(0, module_loaded() ? module_unload() : 0);
	EXPECT_EQ(-EINVAL, module_load_params("uffd_maxactive=0"));
	EXPECT_FALSE(module_loaded());
	ASSERT_EQ(0, reload("uffd_maxactive=2"));

	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk) TH_LOG("cannot reach the pcopy family");
	ASSERT_EQ(0, info_u64(sk, fam, PCOPY_A_UFFD_MAXACTIVE, &v));
	EXPECT_EQ(MAXACTIVE, v);
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, getpid(), &r));
	nl_result_free(&r);
	ASSERT_EQ(0, ring_bind(&ring, getpid(), 4, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&ring));

	uffd = uffd_open(0);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, NFAULTERS * PAGE);
	ASSERT_NE(NULL, area);
	pthread_barrier_init(&go, NULL, NFAULTERS + 1);
	for (i = 0; i < NFAULTERS; i++) {
		f[i] = calloc(1, sizeof(*f[i]));
		ASSERT_NE(NULL, f[i]);
		sched_getaffinity(0, sizeof(f[i]->cpu), &f[i]->cpu);
		f[i]->addr = (unsigned char *)area + i * PAGE;
		f[i]->go = &go;
		ASSERT_EQ(0, pthread_create(&f[i]->th, NULL, faulter_fn, f[i]));
	}
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&go);
	/* every thread is inside handle_userfault() once uffd saw its fault */
	for (i = 0; i < NFAULTERS; i++)
		ASSERT_EQ(0, uffd_read_msg(uffd, &msg, 20000));
	ASSERT_EQ(0, wait_outstanding(sk, fam, getpid(), MAXACTIVE, 5000));
	ASSERT_EQ(0, sess_get(sk, fam, getpid(), &st));
	EXPECT_EQ(MAXACTIVE, st.outstanding);
	EXPECT_EQ(NFAULTERS - MAXACTIVE, st.missed);

	for (i = 0; i < NFAULTERS; i++)
		ASSERT_EQ(0, uffd_copy_page(uffd, (unsigned long)area + i * PAGE, 0x40 + i));
	for (i = 0; i < NFAULTERS; i++) {
		pthread_join(f[i]->th, NULL);
		EXPECT_EQ(0x40 + i, f[i]->seen);
		free(f[i]);
	}
	ASSERT_EQ(0, sess_get(sk, fam, getpid(), &st));
	EXPECT_EQ(MAXACTIVE, st.faults);
	EXPECT_EQ(NFAULTERS - MAXACTIVE, st.missed);
	EXPECT_EQ(0, st.outstanding);
	ASSERT_EQ(0, info_u64(sk, fam, PCOPY_A_UFFD_MISSED, &v));
	EXPECT_EQ(NFAULTERS - MAXACTIVE, v);

	ASSERT_EQ(0, ioctl(ring.fd, PCOPY_IOC_FLUSH));
	ring_drain(&ring, &c, NULL, NULL);
	EXPECT_EQ(MAXACTIVE, c.begin);
	EXPECT_EQ(MAXACTIVE, c.end);
	EXPECT_EQ(NFAULTERS - MAXACTIVE, c.lost_records);
	EXPECT_EQ(NFAULTERS - MAXACTIVE, ring.hdr->lost_records);
	EXPECT_EQ(0, ring.hdr->lost_records_pending);
	EXPECT_EQ(0, c.bad);

	test_ring_close(&ring);
	sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, getpid(), &r);
	nl_result_free(&r);
	nl_socket_free(sk);
	munmap(area, NFAULTERS * PAGE);
	close(uffd);
	/* back to the default for the tests that follow */
	ASSERT_EQ(0, reload(""));
}

TEST_HARNESS_MAIN
