// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile consumer of the record ring while a tracked process faults
 * continuously: random consumer positions (each judged exactly against
 * uapi/pcopy.h's rule), writes to the read-only producer pages, unmapping
 * and remapping, closing the fd while another thread waits in poll() or
 * epoll_wait(), binding and unbinding in loops.  After each storm a fresh
 * consumer must read exactly the records of a known burst of faults.
 *
 * Environment: PCOPY_RING_STRESS_N (loop counts, default 2000 positions,
 * N / 6 = 333 remaps, N / 8 = 250 binds), PCOPY_RING_STRESS_SEED.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
#define NPAGES 64		/* the producer's userfault area */
#define BURST 50		/* faults of the final, exact check */

enum { CMD_RUN = 1, CMD_PAUSE, CMD_BURST, CMD_EXIT };

/* Shared with the producer process. */
struct ctl {
	int cmd, ack;
	uint64_t faults;	/* resolved and read back */
	uint64_t bad;		/* a page that read back wrong */
	unsigned long area;
	int stop;
};

struct producer_ctx {
	int uffd;
	struct ctl *ctl;
};

static void *resolver(void *arg)
{
	struct producer_ctx *p = arg;
	struct uffd_msg msg;

	while (!__atomic_load_n(&p->ctl->stop, __ATOMIC_ACQUIRE)) {
		if (uffd_read_msg(p->uffd, &msg, 20))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			uffd_copy_page(p->uffd, msg.arg.pagefault.address, 0x5a);
	}
	return NULL;
}

static void touch(struct ctl *ctl, char *area, int n)
{
	int i;

	madvise(area, NPAGES * PAGE, MADV_DONTNEED);
	for (i = 0; i < n; i++) {
		if (*(volatile char *)(area + i * PAGE) != 0x5a)
			ctl->bad++;
		__atomic_add_fetch(&ctl->faults, 1, __ATOMIC_RELEASE);
	}
}

/* The tracked process: its main thread faults, a second one resolves. */
static void producer(struct ctl *ctl)
{
	struct producer_ctx p = { .ctl = ctl };
	pthread_t th;
	char *area;

	p.uffd = uffd_open(0);
	area = p.uffd >= 0 ? uffd_area(p.uffd, NPAGES * PAGE) : NULL;
	if (!area || pthread_create(&th, NULL, resolver, &p))
		_exit(10);
	ctl->area = (unsigned long)area;
	for (;;) {
		int c = __atomic_load_n(&ctl->cmd, __ATOMIC_ACQUIRE);

		switch (c) {
		case CMD_RUN:
			__atomic_store_n(&ctl->ack, c, __ATOMIC_RELEASE);
			touch(ctl, area, NPAGES);
			break;
		case CMD_BURST:
			if (__atomic_load_n(&ctl->ack, __ATOMIC_ACQUIRE) != c) {
				touch(ctl, area, BURST);
				__atomic_store_n(&ctl->ack, c, __ATOMIC_RELEASE);
			}
			usleep(500);
			break;
		case CMD_EXIT:
			__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
			pthread_join(th, NULL);
			_exit(ctl->bad ? 11 : 0);
		default:
			__atomic_store_n(&ctl->ack, c, __ATOMIC_RELEASE);
			usleep(500);
		}
	}
}

FIXTURE(rs) {
	struct nl_sock *sk;
	int fam;
	struct ctl *ctl;
	pid_t pid;
	struct test_ring r;
	struct ring_counts c;
};

/* Tell the producer @cmd and wait until it has taken it; 0 or -ETIMEDOUT. */
static int command(struct ctl *ctl, int cmd)
{
	uint64_t end = now_ns() + 20000000000ull;

	__atomic_store_n(&ctl->cmd, cmd, __ATOMIC_RELEASE);
	while (__atomic_load_n(&ctl->ack, __ATOMIC_ACQUIRE) != cmd) {
		if (now_ns() > end)
			return -ETIMEDOUT;
		usleep(200);
	}
	return 0;
}

FIXTURE_SETUP(rs)
{
	struct nl_result res;

	ASSERT_EQ(0, module_ensure_loaded());
	rnd_seed(env_num("PCOPY_RING_STRESS_SEED", 0x71e55) | 1);
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk) TH_LOG("cannot reach the pcopy family");
	self->ctl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ctl);
	self->ctl->cmd = CMD_PAUSE;
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0)
		producer(self->ctl);
	ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, self->pid, &res));
	nl_result_free(&res);
	memset(&self->r, 0, sizeof(self->r));
	self->r.fd = -1;
	memset(&self->c, 0, sizeof(self->c));
}

FIXTURE_TEARDOWN(rs)
{
	struct nl_result res;
	int status;

	test_ring_close(&self->r);
	if (self->pid > 0) {
		__atomic_store_n(&self->ctl->cmd, CMD_EXIT, __ATOMIC_RELEASE);
		waitpid(self->pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			TH_LOG("producer ended with status %#x", status);
	}
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &res);
	nl_result_free(&res);
	munmap(self->ctl, PAGE);
	nl_socket_free(self->sk);
}

struct burst_check {
	unsigned long lo, hi;
	uint32_t tid;
	int bad;
};

static void check_rec(const struct pcopy_rec_hdr *h, void *arg)
{
	const struct pcopy_rec_fault *f = (const void *)h;
	struct burst_check *b = arg;

	if ((h->type != PCOPY_REC_FAULT_BEGIN && h->type != PCOPY_REC_FAULT_END) ||
	    h->len != sizeof(*f) || f->tid != b->tid || f->addr < b->lo ||
	    f->addr >= b->hi || f->reason != PCOPY_REASON_MISSING)
		b->bad++;
}

/*
 * After the storm: with the producer paused, a fresh consumer bound to the
 * session reads exactly the 2 x BURST records of BURST new faults.
 */
static void fresh_consumer_exact(struct __test_metadata *_metadata,
				 FIXTURE_DATA(rs) *self)
{
	struct burst_check b = { .tid = self->pid };
	struct ring_counts c = { 0 };
	struct sess_stats *st = malloc(sizeof(*st));
	struct test_ring r;
	struct nl_result res;
	uint64_t before;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
	test_ring_close(&self->r);
	ASSERT_EQ(0, ring_bind(&r, self->pid, 8, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&r));
	EXPECT_EQ(0, r.hdr->producer_pos);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_RESET, self->pid, &res));
	nl_result_free(&res);
	before = self->ctl->faults;
	ASSERT_EQ(0, command(self->ctl, CMD_BURST));
	ASSERT_EQ(before + BURST, self->ctl->faults);
	b.lo = self->ctl->area;
	b.hi = b.lo + BURST * PAGE;
	ring_drain(&r, &c, check_rec, &b);
	EXPECT_EQ(0, c.bad);
	EXPECT_EQ(0, b.bad);
	EXPECT_EQ(BURST, c.begin);
	EXPECT_EQ(BURST, c.end);
	EXPECT_EQ(0, c.lost_records);
	EXPECT_EQ(0, c.pads);
	EXPECT_EQ(2 * BURST, r.hdr->records);
	EXPECT_EQ(0, r.hdr->lost_records);
	EXPECT_EQ(0, r.hdr->consumer_errors);
	EXPECT_EQ(0, r.hdr->flags);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, st));
	EXPECT_EQ(BURST, st->faults);
	EXPECT_EQ(0, st->outstanding);
	EXPECT_EQ(0, self->ctl->bad);
	test_ring_close(&r);
	free(st);
}

/* Is @v a valid consumer position against producer position @p? */
static bool pos_valid(uint64_t v, uint64_t p, uint64_t size)
{
	return !(v & 7) && p - v <= size;
}

static short poll_now(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) < 0 ? -1 : pfd.revents;
}

/*
 * Random consumer positions while the producer runs.  Each value follows
 * an invalid one, which stops the producer (the ring counts as full), so
 * the producer position it is judged against is exact: an invalid value
 * must give POLLERR and PCOPY_RING_F_CONSUMER_INVALID, a valid one
 * neither, and consumer_errors counts exactly the valid -> invalid changes.
 */
TEST_F(rs, random_consumer_positions)
{
	long long n = env_num("PCOPY_RING_STRESS_N", 2000);
	uint64_t size, p, v, errors0, r0, l0, expect_errors = 0;
	int wrong = 0, valid_seen = 0, invalid_seen = 0, i;
	struct ring_counts c = { 0 };
	bool was_valid = true;
	short ev;

	ASSERT_EQ(0, ring_bind(&self->r, self->pid, 4, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&self->r));
	size = self->r.hdr->data_size;
	ASSERT_EQ(4 * PAGE, size);
	errors0 = self->r.hdr->consumer_errors;
	ASSERT_EQ(0, command(self->ctl, CMD_RUN));

	for (i = 0; i < n; i++) {
		/* freeze: an unaligned position stops the producer */
		self->r.cons->consumer_pos = 1;
		ev = poll_now(self->r.fd);
		if (!(ev & POLLERR))
			wrong++;
		if (was_valid)
			expect_errors++;
		p = __atomic_load_n(&self->r.hdr->producer_pos, __ATOMIC_ACQUIRE);

		switch (rnd() % 8) {
		case 0:
			v = rnd();
			break;
		case 1:		/* ahead of the producer */
			v = p + 8 * (1 + rnd() % 64);
			break;
		case 2:		/* more than a ring behind */
			v = p - size - 8 * (1 + rnd() % 64);
			break;
		case 3:		/* exactly a ring behind: full, but valid */
			v = p - size;
			break;
		case 4:
			v = p - (rnd() % (size / 8)) * 8 - 1 - rnd() % 7;
			break;
		default:	/* inside the window */
			v = p - (rnd() % (size / 8 + 1)) * 8;
		}
		self->r.cons->consumer_pos = v;
		ev = poll_now(self->r.fd);
		if (pos_valid(v, p, size)) {
			valid_seen++;
			if ((ev & POLLERR) ||
			    (self->r.hdr->flags & PCOPY_RING_F_CONSUMER_INVALID))
				wrong++;
			was_valid = true;
		} else {
			invalid_seen++;
			if (!(ev & POLLERR) ||
			    !(self->r.hdr->flags & PCOPY_RING_F_CONSUMER_INVALID))
				wrong++;
			/* nothing was written against it */
			if (self->r.hdr->producer_pos != p)
				wrong++;
			was_valid = false;
		}
	}
	TH_LOG("%d positions: %d valid, %d invalid, %d judged wrong", n > 0 ? (int)n : 0,
	       valid_seen, invalid_seen, wrong);
	EXPECT_EQ(0, wrong);
	EXPECT_LT(0, valid_seen);
	EXPECT_LT(0, invalid_seen);

	/* stop, then restart from the producer position: records are sane */
	ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
	self->r.cons->consumer_pos = 1;
	EXPECT_TRUE(poll_now(self->r.fd) & POLLERR);
	if (was_valid)
		expect_errors++;
	EXPECT_EQ(expect_errors, self->r.hdr->consumer_errors - errors0);
	p = self->r.hdr->producer_pos;
	r0 = self->r.hdr->records;
	/* the drops of the frozen time are still pending: the next LOST has them */
	l0 = self->r.hdr->lost_records - self->r.hdr->lost_records_pending;
	self->r.cons->consumer_pos = p;
	ASSERT_EQ(0, command(self->ctl, CMD_RUN));
	sleep_ms(300);
	ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
	ring_drain(&self->r, &c, NULL, NULL);
	ASSERT_EQ(0, ioctl(self->r.fd, PCOPY_IOC_FLUSH));
	ring_drain(&self->r, &c, NULL, NULL);
	EXPECT_EQ(0, c.bad);
	EXPECT_LT(0, c.begin);
	EXPECT_EQ(c.begin + c.end, self->r.hdr->records - r0);
	EXPECT_EQ(0, self->r.hdr->lost_records_pending);
	/* every drop since the restart, and the pending ones, in LOST records */
	EXPECT_EQ(c.lost_records, self->r.hdr->lost_records - l0);
	EXPECT_FALSE(self->r.hdr->flags & PCOPY_RING_F_CONSUMER_INVALID);
	fresh_consumer_exact(_metadata, self);
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

/* Writing where only the kernel writes faults; nothing grants write access. */
TEST_F(rs, producer_pages_read_only)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	volatile int faults = 0, tries = 0;
	char buf[8];
	void *p;

	ASSERT_EQ(0, ring_bind(&self->r, self->pid, 2, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&self->r));
	ASSERT_EQ(0, command(self->ctl, CMD_RUN));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, &old));
	/* the header's producer position, flags, and the data area */
	if (!sigsetjmp(segv_jmp, 1)) {
		tries++;
		((volatile struct pcopy_ring_header *)self->r.hdr)->producer_pos = 0;
	} else {
		faults++;
	}
	if (!sigsetjmp(segv_jmp, 1)) {
		tries++;
		((volatile struct pcopy_ring_header *)self->r.hdr)->flags = 0;
	} else {
		faults++;
	}
	if (!sigsetjmp(segv_jmp, 1)) {
		tries++;
		self->r.data[rnd() % self->r.size] = 1;
	} else {
		faults++;
	}
	sigaction(SIGSEGV, &old, NULL);
	EXPECT_EQ(3, tries);
	EXPECT_EQ(3, faults);

	/* no way to a writable producer mapping */
	EXPECT_EQ(-1, mprotect(self->r.hdr, PAGE + self->r.size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, PAGE + self->r.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->r.fd, PCOPY_RING_PGOFF_PRODUCER * PAGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* a private copy would hide the producer: refused too */
	p = mmap(NULL, PAGE + self->r.size, PROT_READ, MAP_PRIVATE, self->r.fd,
		 PCOPY_RING_PGOFF_PRODUCER * PAGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* the ring has no read() or write() */
	EXPECT_EQ(-1, read(self->r.fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->r.fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	/* and the header is what the kernel wrote */
	EXPECT_EQ(PCOPY_RING_VERSION, self->r.hdr->version);
	EXPECT_EQ(2 * PAGE, self->r.hdr->data_size);
	fresh_consumer_exact(_metadata, self);
}

/* Mappings come and go while records are written; the file does not care. */
TEST_F(rs, unmap_and_remap)
{
	long long n = env_num("PCOPY_RING_STRESS_N", 2000) / 6;
	uint64_t last = 0;
	int i, wrong = 0, busy;
	struct test_ring other;

	ASSERT_EQ(0, ring_bind(&self->r, self->pid, 4, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, command(self->ctl, CMD_RUN));
	for (i = 0; i < n; i++) {
		struct pcopy_ring_header *second;
		uint64_t pos;

		ASSERT_EQ(0, ring_map(&self->r));
		/* a second view of the same pages */
		second = mmap(NULL, PAGE + self->r.size, PROT_READ, MAP_SHARED,
			      self->r.fd, PCOPY_RING_PGOFF_PRODUCER * PAGE);
		ASSERT_NE(MAP_FAILED, second);
		pos = __atomic_load_n(&self->r.hdr->producer_pos, __ATOMIC_ACQUIRE);
		if (pos < last || self->r.hdr->version != PCOPY_RING_VERSION ||
		    self->r.hdr->data_size != 4 * PAGE ||
		    self->r.hdr->data_offset != PAGE ||
		    memcmp(second, self->r.hdr, offsetof(struct pcopy_ring_header, producer_pos)) ||
		    __atomic_load_n(&second->producer_pos, __ATOMIC_ACQUIRE) < pos)
			wrong++;
		last = pos;
		/* consume everything, so the producer keeps writing */
		self->r.cons->consumer_pos = pos;
		munmap(second, PAGE + self->r.size);
		munmap(self->r.cons, PAGE);
		munmap(self->r.hdr, PAGE + self->r.size);
		self->r.cons = NULL;
		self->r.hdr = NULL;
	}
	EXPECT_EQ(0, wrong);
	EXPECT_LT(0, last);
	/* the fd still owns the ring: a second bind is refused */
	busy = ring_bind(&other, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS);
	EXPECT_EQ(-EBUSY, busy);
	close(other.fd);

	/* closing the fd with a mapping left keeps the ring until the unmap */
	ASSERT_EQ(0, ring_map(&self->r));
	close(self->r.fd);
	self->r.fd = -1;
	EXPECT_EQ(PCOPY_RING_VERSION, self->r.hdr->version);
	EXPECT_EQ(-EBUSY, ring_bind(&other, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS));
	close(other.fd);
	munmap(self->r.cons, PAGE);
	munmap(self->r.hdr, PAGE + self->r.size);
	self->r.cons = NULL;
	self->r.hdr = NULL;
	EXPECT_EQ(0, ring_bind(&other, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS));
	close(other.fd);
	fresh_consumer_exact(_metadata, self);
}

struct waiter {
	int fd;
	bool use_epoll;
	int ret;
	short revents;
	int entered;
};

static void *wait_fn(void *arg)
{
	struct waiter *w = arg;

	if (w->use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN }, out;
		int ep = epoll_create1(EPOLL_CLOEXEC);

		epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev);
		__atomic_store_n(&w->entered, 1, __ATOMIC_RELEASE);
		w->ret = epoll_wait(ep, &out, 1, 1500);
		w->revents = w->ret == 1 ? out.events : 0;
		close(ep);
	} else {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

		__atomic_store_n(&w->entered, 1, __ATOMIC_RELEASE);
		w->ret = poll(&pfd, 1, 5000);
		w->revents = pfd.revents;
	}
	return NULL;
}

/*
 * close() while another thread waits on the ring.  poll() holds the file:
 * the ring lives on (a new bind is EBUSY), records wake the waiter, and
 * it reports the fd number as closed (POLLNVAL).
 * epoll does not: the ring goes at close (a new bind works at once) and
 * the waiter simply times out.
 */
TEST_F(rs, close_while_waiting)
{
	int round;

	for (round = 0; round < 6; round++) {
		struct waiter w = { .use_epoll = round % 2 };
		struct test_ring other;
		pthread_t th;
		uint64_t t0;

		ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
		ASSERT_EQ(0, ring_bind(&self->r, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS));
		w.fd = self->r.fd;
		ASSERT_EQ(0, pthread_create(&th, NULL, wait_fn, &w));
		while (!__atomic_load_n(&w.entered, __ATOMIC_ACQUIRE))
			usleep(100);
		sleep_ms(50);
		t0 = now_ns();
		close(self->r.fd);
		self->r.fd = -1;
		if (w.use_epoll) {
			EXPECT_EQ(0, ring_bind(&other, self->pid, 1, 1,
					       PCOPY_RING_BIND_FAULTS));
			close(other.fd);
		} else {
			EXPECT_EQ(-EBUSY, ring_bind(&other, self->pid, 1, 1,
						    PCOPY_RING_BIND_FAULTS));
			close(other.fd);
		}
		/* records for a ring nobody can reach any more */
		ASSERT_EQ(0, command(self->ctl, CMD_RUN));
		pthread_join(th, NULL);
		if (w.use_epoll) {
			EXPECT_EQ(0, w.ret);
		} else {
			/* woken by the records, it finds the fd number closed */
			EXPECT_EQ(1, w.ret);
			EXPECT_EQ(POLLNVAL, w.revents);
		}
		EXPECT_GT(5000000000ull, now_ns() - t0);
		/* the waiter is gone: so is the ring */
		ASSERT_EQ(0, command(self->ctl, CMD_PAUSE));
		EXPECT_EQ(0, ring_bind(&other, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS));
		close(other.fd);
	}
	fresh_consumer_exact(_metadata, self);
}

/* Bind, use and drop rings in a loop while the producer runs. */
TEST_F(rs, bind_unbind_loop)
{
	static const uint32_t pages[] = { 1, 2, 4, 8 };
	long long n = env_num("PCOPY_RING_STRESS_N", 2000) / 8;
	struct pcopy_ring_bind bad = { .pid = self->pid, .data_pages = 1,
				       .watermark = 1, .flags = PCOPY_RING_BIND_FAULTS,
				       .reserved = { 0, 1 } };
	int i, wrong = 0, busy = 0, inval = 0;
	struct ring_counts c = { 0 };

	ASSERT_EQ(0, command(self->ctl, CMD_RUN));
	for (i = 0; i < n; i++) {
		uint32_t np = pages[rnd() % 4];
		uint32_t flags = rnd() % 2 ? PCOPY_RING_BIND_FAULTS :
			PCOPY_RING_BIND_FAULTS | PCOPY_RING_BIND_DIRTY;
		struct test_ring r, other;
		int fd;

		if (ring_bind(&r, self->pid, np, 1 + rnd() % 64, flags)) {
			wrong++;
			close(r.fd);
			continue;
		}
		busy += ring_bind(&other, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS) == -EBUSY;
		close(other.fd);
		fd = open(PCOPY_DEV_PATH, O_RDWR | O_CLOEXEC);
		inval += fd >= 0 && ioctl(fd, PCOPY_IOC_BIND, &bad) && errno == EINVAL;
		close(fd);
		if (i % 3 == 0) {
			struct pollfd pfd = { .fd = r.fd, .events = POLLIN };

			/* a fresh ring starts at 0: everything in it is well formed */
			if (ring_map(&r) || poll(&pfd, 1, 2000) != 1)
				wrong++;
			else
				ring_drain(&r, &c, NULL, NULL);
		}
		if (i % 5 == 0 && ioctl(r.fd, PCOPY_IOC_FLUSH))
			wrong++;
		test_ring_close(&r);
	}
	TH_LOG("%lld binds: %llu records read, %llu lost", n,
	       (unsigned long long)(c.begin + c.end),
	       (unsigned long long)c.lost_records);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(n, busy);
	EXPECT_EQ(n, inval);
	EXPECT_EQ(0, c.bad);
	EXPECT_LT(0, c.begin + c.end);
	fresh_consumer_exact(_metadata, self);
}

TEST_HARNESS_MAIN
