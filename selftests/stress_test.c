// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle stress: track, vcpu, reset, record, untrack and rmmod/insmod,
 * looped, while threads of a tracked process are blocked in userfaults and
 * the vCPUs of a real KVM guest (tools/minivm, dirty ring on) run.  After
 * every step the counters must be exact: outstanding equals the threads
 * blocked right now, faults equals what the workload made since the last
 * reset (faults outstanding at a reset count in full when they end),
 * known_vcpus equals the vCPUs mapped (explicitly for the workload, learned
 * from KVM for minivm), and dirty records are well formed.  At the end no
 * session is left, nothing is still allocated, minivm's own checks passed,
 * and the module unloads.
 *
 * Environment: PCOPY_STRESS_N (iterations, default 100), PCOPY_STRESS_SECS
 * (time cap, default 150; the test fails if it cuts the loop short).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 400

#define PAGE 4096UL
#define NT 3			/* faulting threads of the workload */
#define MVM_VCPUS 2

enum { CMD_BLOCK = 1, CMD_RESOLVE, CMD_EXIT };

/* Shared with the workload process. */
struct wctl {
	int gen, cmd, k, ack;
	int tids[NT];
	int go[NT], done[NT];
	int blocked;		/* threads told to fault and not yet resolved */
	unsigned char fill;
	uint64_t made;		/* faults resolved and read back right */
	int bad;
	int stop;
};

struct wthread {
	struct wctl *c;
	char *page;
	int idx;
};

static void *faulter(void *arg)
{
	struct wthread *t = arg;
	struct wctl *c = t->c;
	int last = 0;

	__atomic_store_n(&c->tids[t->idx], sys_gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int g = __atomic_load_n(&c->go[t->idx], __ATOMIC_ACQUIRE);

		if (g == last) {
			usleep(200);
			continue;
		}
		last = g;
		if (*(volatile unsigned char *)t->page != c->fill)
			__atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&c->done[t->idx], g, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The workload: NT threads that block in userfaults when told to. */
static void workload(struct wctl *c)
{
	struct wthread t[NT];
	pthread_t th[NT];
	struct uffd_msg msg;
	int uffd, last = 0, i;
	char *area;

	uffd = uffd_open(0);
	area = uffd >= 0 ? uffd_area(uffd, NT * PAGE) : NULL;
	if (!area)
		_exit(10);
	for (i = 0; i < NT; i++) {
		t[i] = (struct wthread){ c, area + i * PAGE, i };
		if (pthread_create(&th[i], NULL, faulter, &t[i]))
			_exit(11);
	}
	for (;;) {
		int g = __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);

		if (g == last) {
			usleep(200);
			continue;
		}
		last = g;
		switch (c->cmd) {
		case CMD_BLOCK:
			madvise(area, NT * PAGE, MADV_DONTNEED);
			c->fill++;
			c->blocked = c->k;
			for (i = 0; i < c->k; i++)
				__atomic_store_n(&c->go[i], g, __ATOMIC_RELEASE);
			break;
		case CMD_RESOLVE:
			for (i = 0; i < c->blocked; i++)
				if (uffd_read_msg(uffd, &msg, 20000) ||
				    uffd_copy_page(uffd, msg.arg.pagefault.address, c->fill))
					_exit(12);
			for (i = 0; i < c->blocked; i++)
				while (__atomic_load_n(&c->done[i], __ATOMIC_ACQUIRE) !=
				       __atomic_load_n(&c->go[i], __ATOMIC_ACQUIRE))
					usleep(100);
			c->made += c->blocked;
			c->blocked = 0;
			break;
		case CMD_EXIT:
			__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
			for (i = 0; i < NT; i++)
				pthread_join(th[i], NULL);
			_exit(c->bad ? 13 : 0);
		}
		__atomic_store_n(&c->ack, g, __ATOMIC_RELEASE);
	}
}

static int wcmd(struct wctl *c, int cmd, int k)
{
	uint64_t end = now_ns() + 30000000000ull;
	int g = c->gen + 1;

	c->cmd = cmd;
	c->k = k;
	__atomic_store_n(&c->gen, g, __ATOMIC_RELEASE);
	while (__atomic_load_n(&c->ack, __ATOMIC_ACQUIRE) != g) {
		if (now_ns() > end)
			return -ETIMEDOUT;
		usleep(200);
	}
	return 0;
}

FIXTURE(st) {
	struct nl_sock *sk;
	int fam;
	struct wctl *c;
	pid_t w, m;
	int fails;
	struct sess_stats *s;
};

/* Count a failed check with its iteration; log the first few. */
#define CHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		if (self->fails++ < 20)					\
			TH_LOG("iteration %d: " fmt, i, ##__VA_ARGS__);	\
	}								\
} while (0)

static int track(FIXTURE_DATA(st) *self, pid_t pid)
{
	struct nl_result r;
	int ret = sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, pid, &r);

	nl_result_free(&r);
	return ret;
}

static int simple(FIXTURE_DATA(st) *self, uint8_t cmd, pid_t pid)
{
	struct nl_result r;
	int ret = sess_cmd(self->sk, self->fam, cmd, pid, &r);

	nl_result_free(&r);
	return ret;
}

static int vcpu_cmd(FIXTURE_DATA(st) *self, pid_t pid, pid_t tid, uint32_t vcpu)
{
	struct nl_result r;
	int ret = set_vcpu(self->sk, self->fam, pid, tid, vcpu, &r);

	nl_result_free(&r);
	return ret;
}

/* Wait until @pid's session has @n vCPUs known; the count, or -errno. */
static int wait_known(FIXTURE_DATA(st) *self, pid_t pid, uint32_t n, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	int ret;

	for (;;) {
		ret = sess_get(self->sk, self->fam, pid, self->s);
		if (ret)
			return ret;
		if (self->s->known_vcpus == n || now_ns() > end)
			return self->s->known_vcpus;
		sleep_ms(10);
	}
}

FIXTURE_SETUP(st)
{
	char cmd[512];
	int i;

	ASSERT_EQ(0, module_ensure_loaded());
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	self->sk = genl_open();
	ASSERT_NE(NULL, self->sk);
	ASSERT_EQ(0, sock_rcvtimeo(nl_socket_get_fd(self->sk), 10000));
	self->fam = pcopy_family(self->sk);
	ASSERT_LT(0, self->fam);
	self->s = malloc(sizeof(*self->s));
	ASSERT_NE(NULL, self->s);
	self->c = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->c);
	self->w = fork();
	ASSERT_LE(0, self->w);
	if (self->w == 0)
		workload(self->c);
	for (i = 0; i < 2000 && !__atomic_load_n(&self->c->tids[NT - 1], __ATOMIC_ACQUIRE); i++)
		sleep_ms(5);
	ASSERT_NE(0, self->c->tids[NT - 1]);

	/* a small guest dirtying memory at a bounded rate, forever */
	snprintf(cmd, sizeof(cmd), "exec \"$PCOPY_SRC/tools/minivm/minivm\" --mem 4 "
		 "--vcpus %d --workload seq --loop --rate 400 --dirty-ring 1024 --quiet",
		 MVM_VCPUS);
	self->m = fork();
	ASSERT_LE(0, self->m);
	if (self->m == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/*
	 * A session follows an address space: track minivm, not the shell
	 * before its exec.  It is up once KVM has run both vCPUs.
	 */
	for (i = 0; i < 2000; i++) {
		char exe[PATH_MAX], link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", self->m);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 7 && !memcmp(exe + n - 7, "/minivm", 7))
			break;
		sleep_ms(5);
	}
	ASSERT_GT(2000, i);
	ASSERT_EQ(0, track(self, self->m));
	ASSERT_EQ(MVM_VCPUS, wait_known(self, self->m, MVM_VCPUS, 60000));
	ASSERT_EQ(0, simple(self, PCOPY_CMD_SESSION_DEL, self->m));
}

FIXTURE_TEARDOWN(st)
{
	int status;

	if (self->m > 0) {
		kill(self->m, SIGKILL);
		waitpid(self->m, &status, 0);
	}
	if (self->w > 0) {
		kill(self->w, SIGKILL);
		waitpid(self->w, &status, 0);
	}
	free(self->s);
	if (self->sk)
		nl_socket_free(self->sk);
	module_ensure_loaded();
}

/* A ring on minivm: dirty records arrive, all well formed. */
static void ring_step(struct __test_metadata *_metadata, FIXTURE_DATA(st) *self, int i)
{
	struct ring_counts c = { 0 };
	struct test_ring r;
	uint64_t end;
	int ret;

	ret = ring_bind(&r, self->m, 4, 1, PCOPY_RING_BIND_DIRTY | PCOPY_RING_BIND_FAULTS);
	CHECK(ret == 0, "ring bind: %d", ret);
	if (!ret)
		ret = ring_map(&r);
	if (ret) {
		test_ring_close(&r);
		return;
	}
	end = now_ns() + 3000000000ull;
	while (c.gfns + c.lost_gfns == 0 && now_ns() < end) {
		sleep_ms(20);
		ioctl(r.fd, PCOPY_IOC_FLUSH);
		ring_drain(&r, &c, NULL, NULL);
	}
	CHECK(c.bad == 0, "%llu malformed records", (unsigned long long)c.bad);
	CHECK(c.gfns + c.lost_gfns > 0, "no dirty GFN in 3 s");
	CHECK(c.begin == 0 && c.end == 0, "fault records from a VMM without userfaults");
	ret = sess_get(self->sk, self->fam, self->m, self->s);
	CHECK(!ret && self->s->dirty >= c.gfns + c.lost_gfns,
	      "session dirty %llu < %llu delivered + lost on the ring",
	      (unsigned long long)self->s->dirty,
	      (unsigned long long)(c.gfns + c.lost_gfns));
	test_ring_close(&r);
}

/* pcopy record for a second, then pcopy report: consistent. */
static void record_step(struct __test_metadata *_metadata, FIXTURE_DATA(st) *self, int i)
{
	struct json_object *root = NULL, *o, *v;
	char cmd[512], *out;
	bool ok = false;
	int rc;

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" record %d -o /tmp/stress-%d.rec "
		 "--pages 16 --duration 1 >/dev/null 2>&1 && \"$PCOPY_SRC/agent/pcopy\" report -j "
		 "/tmp/stress-%d.rec", self->m, getpid(), getpid());
	rc = run_capture(cmd, &out);
	if (!rc && out)
		root = json_tokener_parse(out);
	if (root && json_object_object_get_ex(root, "check", &o) &&
	    json_object_object_get_ex(o, "consistent", &v))
		ok = json_object_get_boolean(v);
	CHECK(ok, "pcopy record/report: %d %s", rc, out ? out : "");
	json_object_put(root);
	free(out);
	snprintf(cmd, sizeof(cmd), "/tmp/stress-%d.rec", getpid());
	unlink(cmd);
}

TEST_F(st, lifecycle_loop)
{
	long long n = env_num("PCOPY_STRESS_N", 100);
	long long secs = env_num("PCOPY_STRESS_SECS", 150);
	uint64_t t0 = now_ns(), end = t0 + secs * 1000000000ull;
	int i, ret, status, reloads = 0, status_w;
	uint64_t made;
	const struct vcpu_stat *vs;
	struct wctl *c = self->c;

	for (i = 0; i < n && now_ns() < end; i++) {
		int k = 1 + i % NT, k2 = 1 + (i / 4) % NT, known;
		uint32_t vcpu = (i * 7) % 16;

		ret = track(self, self->w);
		CHECK(ret == 0, "track workload: %d", ret);
		ret = track(self, self->m);
		CHECK(ret == 0, "track minivm: %d", ret);

		/* k threads blocked: exactly k outstanding, none ended yet */
		ASSERT_EQ(0, wcmd(c, CMD_BLOCK, k));
		ret = wait_outstanding(self->sk, self->fam, self->w, k, 10000);
		CHECK(ret == 0, "%d threads blocked, outstanding never got there", k);
		ret = sess_get(self->sk, self->fam, self->w, self->s);
		CHECK(!ret && self->s->faults == 0 && self->s->outstanding == (uint32_t)k &&
		      self->s->outstanding_max == (uint32_t)k,
		      "blocked: faults %llu outstanding %u max %u, want 0 %d %d",
		      (unsigned long long)self->s->faults, self->s->outstanding,
		      self->s->outstanding_max, k, k);

		/* vcpu: a blocked thread mapped, then unmapped */
		ret = vcpu_cmd(self, self->w, c->tids[0], vcpu);
		CHECK(ret == 0, "set_vcpu: %d", ret);
		ret = sess_get(self->sk, self->fam, self->w, self->s);
		vs = ret ? NULL : find_vcpu(self->s, vcpu);
		CHECK(vs && self->s->known_vcpus == 1 && vs->explicit_map &&
		      vs->tid == (uint32_t)c->tids[0] && !vs->detached,
		      "mapped: known_vcpus %u, vcpu %u %s", self->s->known_vcpus, vcpu,
		      vs ? "not as set" : "missing");
		ret = vcpu_cmd(self, self->w, c->tids[0], PCOPY_VCPU_NONE);
		CHECK(ret == 0, "set_vcpu none: %d", ret);
		ret = sess_get(self->sk, self->fam, self->w, self->s);
		CHECK(!ret && self->s->known_vcpus == 0, "unmapped: known_vcpus %u",
		      self->s->known_vcpus);

		/* reset while blocked: the blocked faults count in full later */
		ret = simple(self, PCOPY_CMD_SESSION_RESET, self->w);
		CHECK(ret == 0, "reset: %d", ret);
		made = c->made;
		ASSERT_EQ(0, wcmd(c, CMD_RESOLVE, 0));
		ret = wait_outstanding(self->sk, self->fam, self->w, 0, 10000);
		CHECK(ret == 0, "resolved, outstanding never got to 0");
		ret = sess_get(self->sk, self->fam, self->w, self->s);
		CHECK(!ret && self->s->faults == c->made - made && self->s->faults == (uint64_t)k &&
		      self->s->interrupted == 0 && self->s->outstanding == 0,
		      "resolved: faults %llu (workload made %llu) interrupted %llu outstanding %u",
		      (unsigned long long)self->s->faults,
		      (unsigned long long)(c->made - made),
		      (unsigned long long)self->s->interrupted, self->s->outstanding);
		ret = simple(self, PCOPY_CMD_SESSION_RESET, self->w);
		ret = ret ? ret : sess_get(self->sk, self->fam, self->w, self->s);
		CHECK(!ret && self->s->faults == 0 && self->s->outstanding == 0,
		      "after reset: faults %llu", (unsigned long long)self->s->faults);

		/* minivm's vCPUs are learned from KVM, exactly */
		known = wait_known(self, self->m, MVM_VCPUS, 10000);
		CHECK(known == MVM_VCPUS, "minivm known_vcpus %d, want %d", known, MVM_VCPUS);
		CHECK(self->s->faults == 0, "minivm faults %llu",
		      (unsigned long long)self->s->faults);

		/* record: the ring, and now and then the agent */
		ring_step(_metadata, self, i);
		if (i % 25 == 12)
			record_step(_metadata, self, i);

		/* the end of it: rmmod or untrack, with k2 threads blocked */
		ASSERT_EQ(0, wcmd(c, CMD_BLOCK, k2));
		ret = wait_outstanding(self->sk, self->fam, self->w, k2, 10000);
		CHECK(ret == 0, "%d threads blocked before the end", k2);
		if (i % 4 == 3) {
			ret = module_unload();
			CHECK(ret == 0, "rmmod: %d", ret);
			CHECK(!module_loaded(), "still loaded after rmmod");
			ret = module_load();
			ASSERT_EQ(0, ret);
			reloads++;
			self->fam = pcopy_family(self->sk);
			ASSERT_LT(0, self->fam);
		} else {
			ret = simple(self, PCOPY_CMD_SESSION_DEL, self->w);
			CHECK(ret == 0, "untrack workload: %d", ret);
			ret = simple(self, PCOPY_CMD_SESSION_DEL, self->m);
			CHECK(ret == 0, "untrack minivm: %d", ret);
		}
		ret = simple(self, PCOPY_CMD_SESSION_GET, self->w);
		CHECK(ret == -ENOENT, "workload session after the end: %d", ret);
		ret = simple(self, PCOPY_CMD_SESSION_GET, self->m);
		CHECK(ret == -ENOENT, "minivm session after the end: %d", ret);
		CHECK(pcopy_status("sessions") == 0, "sessions %lld",
		      pcopy_status("sessions"));
		/* the blocked threads come back, with the right bytes */
		ASSERT_EQ(0, wcmd(c, CMD_RESOLVE, 0));
		CHECK(c->bad == 0, "workload read %d wrong pages", c->bad);
	}
	TH_LOG("%d iterations (%d with rmmod) in %.1f s, %llu faults made",
	       i, reloads, (now_ns() - t0) / 1e9, (unsigned long long)c->made);
	EXPECT_EQ(n, i);
	EXPECT_EQ(0, self->fails);

	/* nothing left behind, and everyone is fine */
	EXPECT_EQ(0, pcopy_status("sessions"));
	EXPECT_EQ(0, wait_status("sessions_allocated", 0, 10000));
	EXPECT_EQ(0, sess_dump_count(self->sk, self->fam, 0, NULL));
	ASSERT_EQ(0, kill(self->m, SIGINT));
	ASSERT_EQ(self->m, waitpid(self->m, &status, 0));
	self->m = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* the workload exits instead of acknowledging */
	c->cmd = CMD_EXIT;
	__atomic_store_n(&c->gen, c->gen + 1, __ATOMIC_RELEASE);
	ASSERT_EQ(self->w, waitpid(self->w, &status_w, 0));
	self->w = 0;
	EXPECT_TRUE(WIFEXITED(status_w));
	EXPECT_EQ(0, WEXITSTATUS(status_w));
	EXPECT_EQ(0, module_unload());
	EXPECT_EQ(0, module_load());
}

TEST_HARNESS_MAIN
