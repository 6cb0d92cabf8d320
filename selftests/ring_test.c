// SPDX-License-Identifier: GPL-2.0
/*
 * The record ring: bad bindings and mappings, exact fault records, exact
 * overflow accounting, a hostile consumer, and the end of a session while
 * the ring is mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGE 4096UL
#define BOTH (PCOPY_RING_BIND_FAULTS | PCOPY_RING_BIND_DIRTY)

FIXTURE(ring) {
	struct nl_sock *sk;
	int fam;
	int uffd;
	struct test_ring r;
	struct ring_counts c;
};

FIXTURE_SETUP(ring)
{
	struct nl_result res;

	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->uffd = uffd_open(0);
	ASSERT_LE(0, self->uffd);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, getpid(), &res));
	nl_result_free(&res);
	memset(&self->r, 0, sizeof(self->r));
	self->r.fd = -1;
	memset(&self->c, 0, sizeof(self->c));
}

FIXTURE_TEARDOWN(ring)
{
	struct nl_result res;

	test_ring_close(&self->r);
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, getpid(), &res);
	nl_result_free(&res);
	close(self->uffd);
	nl_socket_free(self->sk);
}

static int bind_raw(int fd, struct pcopy_ring_bind b)
{
	return ioctl(fd, PCOPY_IOC_BIND, &b) ? -errno : 0;
}

TEST_F(ring, bad_bindings)
{
	struct pcopy_ring_bind ok = { .pid = getpid(), .data_pages = 4,
				      .watermark = 1, .flags = BOTH };
	struct pcopy_ring_bind b;
	struct test_ring other;
	int fd = open(PCOPY_DEV_PATH, O_RDWR);

	ASSERT_LE(0, fd);
	/* a session that does not exist */
	b = ok;
	b.pid = 4194304 + 11;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b.pid = getppid();
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	/* sizes, watermark, flags, reserved */
	b = ok; b.data_pages = 0;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.data_pages = 3;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.data_pages = PCOPY_RING_MAX_PAGES * 2;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.watermark = 0;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.watermark = 4 * PAGE + 1;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.flags = 0;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.flags = 1 << 7;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	b = ok; b.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, bind_raw(fd, b));
	/* nothing to map or flush before a bind */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, PCOPY_IOC_FLUSH));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(PCOPY_IOC_MAGIC, 99)));
	EXPECT_EQ(ENOTTY, errno);

	EXPECT_EQ(0, bind_raw(fd, ok));
	EXPECT_EQ(-EBUSY, bind_raw(fd, ok));
	/* one ring per session */
	EXPECT_EQ(-EBUSY, ring_bind(&other, getpid(), 4, 1, BOTH));
	close(other.fd);
	close(fd);
	/* closing released it */
	EXPECT_EQ(0, ring_bind(&other, getpid(), 4, 1, BOTH));
	close(other.fd);
}

TEST_F(ring, bad_mappings)
{
	void *p;

	ASSERT_EQ(0, ring_bind(&self->r, getpid(), 4, 1, BOTH));
	/* consumer page: wrong size, read-only, private */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
				   self->r.fd, PCOPY_RING_OFF_CONSUMER));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->r.fd,
				   PCOPY_RING_OFF_CONSUMER));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
				   self->r.fd, PCOPY_RING_OFF_CONSUMER));
	EXPECT_EQ(EINVAL, errno);
	/* producer: writable, too long, too short */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
				   self->r.fd, PCOPY_RING_OFF_PRODUCER));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 6 * PAGE, PROT_READ, MAP_SHARED,
				   self->r.fd, PCOPY_RING_OFF_PRODUCER));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED,
				   self->r.fd, PCOPY_RING_OFF_PRODUCER));
	EXPECT_EQ(EINVAL, errno);
	/* an offset that is neither */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->r.fd, 2 * PAGE));
	EXPECT_EQ(EINVAL, errno);

	/* the right ones work, and the producer side can never become writable */
	ASSERT_EQ(0, ring_map(&self->r));
	EXPECT_EQ(PCOPY_RING_VERSION, self->r.hdr->version);
	EXPECT_EQ(sizeof(struct pcopy_ring_header), self->r.hdr->header_size);
	EXPECT_EQ(PAGE, self->r.hdr->data_offset);
	EXPECT_EQ(4 * PAGE, self->r.hdr->data_size);
	EXPECT_EQ(-1, mprotect(self->r.hdr, 5 * PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->r.fd,
		 PCOPY_RING_OFF_CONSUMER);
	EXPECT_NE(MAP_FAILED, p);
	munmap(p, PAGE);
}

TEST(unprivileged_open_is_eperm)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, module_ensure_loaded());
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		cap_t none = cap_init();

		if (!none || cap_set_proc(none))
			_exit(10);
		_exit(open(PCOPY_DEV_PATH, O_RDWR) < 0 && errno == EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

struct fault_check {
	unsigned long lo, hi;
	pid_t tid;
	int bad;
};

static void check_fault(const struct pcopy_rec_hdr *h, void *arg)
{
	const struct pcopy_rec_fault *f = (const void *)h;
	struct fault_check *fc = arg;

	if (h->type != PCOPY_REC_FAULT_BEGIN && h->type != PCOPY_REC_FAULT_END)
		return;
	if (h->len != sizeof(*f) || f->addr < fc->lo || f->addr >= fc->hi ||
	    f->tid != (uint32_t)fc->tid || f->vcpu != PCOPY_VCPU_NONE ||
	    f->reason != PCOPY_REASON_MISSING || !f->start_ns)
		fc->bad++;
	if (h->type == PCOPY_REC_FAULT_END &&
	    (f->end_ns < f->start_ns || f->latency_ns != f->end_ns - f->start_ns))
		fc->bad++;
	if (h->type == PCOPY_REC_FAULT_BEGIN && (f->end_ns || f->latency_ns))
		fc->bad++;
}

TEST_F(ring, fault_records_exact)
{
	struct fault_check fc = { .tid = getpid() };

	ASSERT_EQ(0, ring_bind(&self->r, getpid(), 4, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, take_faults(self->uffd, 5, 3));
	fc.lo = 0;
	fc.hi = ~0UL;
	ring_drain(&self->r, &self->c, check_fault, &fc);
	EXPECT_EQ(0, self->c.bad);
	EXPECT_EQ(0, fc.bad);
	EXPECT_EQ(5, self->c.begin);
	EXPECT_EQ(5, self->c.end);
	EXPECT_EQ(0, self->c.lost_records);
	EXPECT_EQ(10, self->r.hdr->records);
	EXPECT_EQ(0, self->r.hdr->lost_records);
	EXPECT_EQ(0, self->r.hdr->flags);
	EXPECT_EQ(self->r.cons->consumer_pos, self->r.hdr->producer_pos);
}

/*
 * A one-page ring nobody drains during a burst: what does not fit is
 * dropped, and delivered + LOST + pending equals what was produced.
 */
TEST_F(ring, overflow_is_counted_exactly)
{
	const int n = 120;	/* 240 records of 56 bytes: 3.3 pages */
	struct sess_stats *st = malloc(sizeof(*st));

	ASSERT_EQ(0, ring_bind(&self->r, getpid(), 1, PAGE, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, take_faults(self->uffd, n / 2, 1));
	ring_drain(&self->r, &self->c, NULL, NULL);	/* half way */
	ASSERT_EQ(0, take_faults(self->uffd, n / 2, 1));
	ring_drain(&self->r, &self->c, NULL, NULL);
	/* the drops of the second burst wait for room: flush reports them */
	ASSERT_EQ(0, ioctl(self->r.fd, PCOPY_IOC_FLUSH));
	ring_drain(&self->r, &self->c, NULL, NULL);

	ASSERT_EQ(0, sess_get(self->sk, self->fam, getpid(), st));
	ASSERT_EQ(n, st->faults);
	EXPECT_EQ(0, self->c.bad);
	EXPECT_LT(0, self->c.lost_records);
	EXPECT_EQ(0, self->r.hdr->lost_records_pending);
	EXPECT_EQ(2 * (uint64_t)n, self->c.begin + self->c.end + self->c.lost_records);
	EXPECT_EQ(self->r.hdr->lost_records, self->c.lost_records);
	EXPECT_EQ(self->r.hdr->records, self->c.begin + self->c.end);
	EXPECT_LT(0, self->c.pads);
	/* the session counts its ring's drops, and a reset keeps them */
	EXPECT_EQ(self->r.hdr->lost_records, st->ring_lost_records);
	EXPECT_EQ(0, st->ring_lost_gfns);
	{
		struct nl_result res;

		ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_RESET, getpid(), &res));
		nl_result_free(&res);
	}
	ASSERT_EQ(0, sess_get(self->sk, self->fam, getpid(), st));
	EXPECT_EQ(0, st->faults);
	EXPECT_EQ(self->r.hdr->lost_records, st->ring_lost_records);
	free(st);
}

TEST_F(ring, hostile_consumer)
{
	static const uint64_t garbage[] = { 3, 0x1000000, ~0ull, 1ull << 63 };
	struct pollfd pfd;
	unsigned int i;
	uint64_t good, before;

	ASSERT_EQ(0, ring_bind(&self->r, getpid(), 2, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, take_faults(self->uffd, 2, 1));
	ring_drain(&self->r, &self->c, NULL, NULL);
	good = self->r.cons->consumer_pos;
	ASSERT_EQ(4, self->c.begin + self->c.end);

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		before = self->r.hdr->lost_records;
		self->r.cons->consumer_pos = good + garbage[i];
		ASSERT_EQ(0, take_faults(self->uffd, 1, 1));
		/* no record was written against a garbage position */
		EXPECT_EQ(good, self->r.hdr->producer_pos);
		EXPECT_EQ(before + 2, self->r.hdr->lost_records);
		EXPECT_TRUE(self->r.hdr->flags & PCOPY_RING_F_CONSUMER_INVALID);
		pfd = (struct pollfd){ .fd = self->r.fd, .events = POLLIN };
		EXPECT_EQ(1, poll(&pfd, 1, 0));
		EXPECT_TRUE(pfd.revents & POLLERR);
		/* a sane position again: records flow, the drops are reported */
		self->r.cons->consumer_pos = good;
		ASSERT_EQ(0, take_faults(self->uffd, 1, 1));
		EXPECT_FALSE(self->r.hdr->flags & PCOPY_RING_F_CONSUMER_INVALID);
		memset(&self->c, 0, sizeof(self->c));
		ring_drain(&self->r, &self->c, NULL, NULL);
		EXPECT_EQ(0, self->c.bad);
		EXPECT_EQ(2, self->c.lost_records);
		EXPECT_EQ(2, self->c.begin + self->c.end);
		good = self->r.cons->consumer_pos;
	}
	EXPECT_EQ(sizeof(garbage) / sizeof(garbage[0]), self->r.hdr->consumer_errors);
	/* and the session counted the same drops, through a second ring too */
	{
		struct sess_stats *st = malloc(sizeof(*st));
		uint64_t first = self->r.hdr->lost_records;

		ASSERT_NE(NULL, st);
		ASSERT_EQ(0, sess_get(self->sk, self->fam, getpid(), st));
		EXPECT_EQ(first, st->ring_lost_records);
		test_ring_close(&self->r);
		ASSERT_EQ(0, ring_bind(&self->r, getpid(), 2, 1, PCOPY_RING_BIND_FAULTS));
		ASSERT_EQ(0, ring_map(&self->r));
		self->r.cons->consumer_pos = 3;	/* garbage: both records of a fault drop */
		ASSERT_EQ(0, take_faults(self->uffd, 1, 1));
		EXPECT_EQ(2, self->r.hdr->lost_records);
		ASSERT_EQ(0, sess_get(self->sk, self->fam, getpid(), st));
		EXPECT_EQ(first + 2, st->ring_lost_records);
		free(st);
	}
}

TEST_F(ring, session_end_while_mapped)
{
	struct nl_result res;
	struct pollfd pfd;

	ASSERT_EQ(0, ring_bind(&self->r, getpid(), 2, PAGE, BOTH));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, take_faults(self->uffd, 3, 1));
	pfd = (struct pollfd){ .fd = self->r.fd, .events = POLLIN };
	/* 6 records are below the one-page watermark */
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, getpid(), &res));
	nl_result_free(&res);
	EXPECT_TRUE(self->r.hdr->flags & PCOPY_RING_F_EOF);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_TRUE(pfd.revents & POLLHUP);
	EXPECT_TRUE(pfd.revents & POLLIN);	/* still data to read */
	ring_drain(&self->r, &self->c, NULL, NULL);
	EXPECT_EQ(6, self->c.begin + self->c.end);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLHUP, pfd.revents);
	/* the mapping stays readable after the end */
	EXPECT_EQ(6, self->r.hdr->records);
	/* nothing is recorded any more */
	ASSERT_EQ(0, take_faults(self->uffd, 1, 1));
	EXPECT_EQ(6, self->r.hdr->records);
}

TEST(ring_outlives_exited_process)
{
	struct nl_sock *sk = genl_open();
	struct test_ring r;
	struct nl_result res;
	int p[2], status, fam;
	pid_t child;
	char c;

	ASSERT_EQ(0, module_ensure_loaded());
	ASSERT_NE(NULL, sk);
	fam = pcopy_family(sk);
	ASSERT_EQ(0, pipe(p));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		close(p[1]);
		read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, child, &res));
	nl_result_free(&res);
	ASSERT_EQ(0, ring_bind(&r, child, 1, 8, BOTH));
	ASSERT_EQ(0, ring_map(&r));
	close(p[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	{
		struct pollfd pfd = { .fd = r.fd, .events = POLLIN };

		EXPECT_EQ(1, poll(&pfd, 1, 20000));
		EXPECT_TRUE(pfd.revents & POLLHUP);
	}
	EXPECT_TRUE(r.hdr->flags & PCOPY_RING_F_EOF);
	test_ring_close(&r);
	/* with the ring closed the module can go and come back */
	EXPECT_EQ(0, module_unload());
	EXPECT_EQ(0, module_load());
	nl_socket_free(sk);
}

TEST_HARNESS_MAIN
