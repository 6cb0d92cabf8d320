// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy recv against hostile input: bad Firecracker UFFD handoff messages,
 * and a fake source speaking a malformed or hostile migration stream.
 * Every case must end pcopy recv with exit status 1 and one clear line,
 * and must leave guest memory untouched: this test process is the "VMM",
 * so it can check with mincore() that no page of its region was placed.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"
#include "../agent/migrate/proto.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define PAGES 16
#define PAGE 4096UL

FIXTURE(neg) {
	pid_t recv;
	int port;
	char sock[64], log[64];
	int uffd;
	char *area;
	int vmm;		/* the handoff connection */
	int ctl, urg, bulk;	/* the fake source's connections */
};

FIXTURE_SETUP(neg)
{
	char port[16], listen[32];
	int i;

	self->port = 20000 + getpid() % 20000;
	snprintf(self->sock, sizeof(self->sock), "/tmp/neg-%d.sock", getpid());
	snprintf(self->log, sizeof(self->log), "/tmp/neg-%d.log", getpid());
	snprintf(port, sizeof(port), "%d", self->port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", self->port);
	unlink(self->sock);
	self->vmm = self->ctl = self->urg = self->bulk = -1;
	self->uffd = uffd_open(0);
	ASSERT_LE(0, self->uffd);
	self->area = uffd_area(self->uffd, PAGES * PAGE);
	ASSERT_NE(NULL, self->area);

	self->recv = fork();
	ASSERT_LE(0, self->recv);
	if (self->recv == 0) {
		char path[512];
		int fd = open(self->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		snprintf(path, sizeof(path), "%s/agent/pcopy", getenv("PCOPY_SRC"));
		execl(path, "pcopy", "recv", "--listen", listen, "--uffd-sock",
		      self->sock, "--no-ring", "--timeout", "30", (char *)NULL);
		_exit(127);
	}
	/*
	 * pcopy loads its libraries and binds the socket; on a debug kernel
	 * over 9p that has taken more than 5 s.  Wait while it lives, up to
	 * 20 s (the harness's own timeout is 30).
	 */
	for (i = 0; i < 2000 && access(self->sock, F_OK); i++) {
		int status;

		ASSERT_EQ(0, waitpid(self->recv, &status, WNOHANG)) {
			TH_LOG("pcopy recv exited before binding %s (log %s)",
			       self->sock, self->log);
			self->recv = -1;
		}
		sleep_ms(10);
	}
	ASSERT_EQ(0, access(self->sock, F_OK));
}

FIXTURE_TEARDOWN(neg)
{
	int status;

	if (self->recv > 0) {
		kill(self->recv, SIGKILL);
		waitpid(self->recv, &status, 0);
	}
	close(self->vmm);
	close(self->ctl);
	close(self->urg);
	close(self->bulk);
	close(self->uffd);
	unlink(self->sock);
	unlink(self->log);
}

/* One handoff message: @json, and @fd in SCM_RIGHTS unless it is -1. */
static int handoff(const char *path, const char *json, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)json, strlen(json) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	int i;

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	if (s < 0)
		return -1;
	/* the socket file appears at bind(), a moment before listen() */
	for (i = 0; connect(s, (struct sockaddr *)&sa, sizeof(sa)); i++) {
		if (i == 500 || (errno != ECONNREFUSED && errno != ENOENT)) {
			close(s);
			return -1;
		}
		sleep_ms(10);
	}
	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(s, &mh, 0) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static void good_handoff(struct _test_data_neg *self)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":0,\"page_size\":4096}]",
		 (unsigned long)self->area, PAGES * PAGE);
	self->vmm = handoff(self->sock, json, self->uffd);
}

/* pcopy recv's exit status (-1 if it did not exit in time) and its log. */
static int recv_result(struct _test_data_neg *self, char **log)
{
	int status, i;

	for (i = 0; i < 3000; i++) {
		if (waitpid(self->recv, &status, WNOHANG) == self->recv) {
			self->recv = -1;
			*log = read_file(self->log);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(10);
	}
	*log = read_file(self->log);
	return -1;
}

/* No page of the VMM's region is present: nothing was placed. */
static int pages_present(struct _test_data_neg *self)
{
	unsigned char vec[PAGES];
	int i, n = 0;

	if (mincore(self->area, PAGES * PAGE, vec))
		return -1;
	for (i = 0; i < PAGES; i++)
		n += vec[i] & 1;
	return n;
}

static int tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 200; i++) {
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			return s;
		sleep_ms(10);
	}
	close(s);
	return -1;
}

static int send_pkt(int s, uint16_t type, const void *p, uint32_t len)
{
	struct mig_hdr h = { htole16(type), 0, htole32(len) };

	if (write(s, &h, sizeof(h)) != sizeof(h))
		return -1;
	return len && write(s, p, len) != (ssize_t)len ? -1 : 0;
}

/* Read one packet header and skip its payload; returns its type or -1. */
static int recv_pkt(int s)
{
	struct mig_hdr h;
	char buf[4096];
	uint32_t len;

	if (read(s, &h, sizeof(h)) != sizeof(h))
		return -1;
	for (len = le32toh(h.len); len;) {
		ssize_t n = read(s, buf, len < sizeof(buf) ? len : sizeof(buf));

		if (n <= 0)
			return -1;
		len -= n;
	}
	return le16toh(h.type);
}

static struct mig_hello hello(uint16_t kind, uint16_t index)
{
	struct mig_hello h = {
		.version = htole16(MIG_VERSION), .kind = htole16(kind),
		.index = htole16(index), .nbulk = htole16(1),
		.session = htole64(0x1234abcd),
	};

	memcpy(h.magic, MIG_MAGIC, 8);
	return h;
}

/* Control channel through SETUP_ACK, then urgent and one bulk channel. */
static int fake_source(struct _test_data_neg *self, uint64_t npages)
{
	struct mig_setup su = { .page_size = htole32(4096), .npages = htole64(npages) };
	struct mig_hello h;

	self->ctl = tcp(self->port);
	h = hello(MIG_CHAN_CONTROL, 0);
	if (self->ctl < 0 || send_pkt(self->ctl, MIG_T_HELLO, &h, sizeof(h)) ||
	    recv_pkt(self->ctl) != MIG_T_HELLO_ACK ||
	    send_pkt(self->ctl, MIG_T_SETUP, &su, sizeof(su)) ||
	    recv_pkt(self->ctl) != MIG_T_SETUP_ACK)
		return -1;
	self->urg = tcp(self->port);
	h = hello(MIG_CHAN_URGENT, 0);
	if (self->urg < 0 || send_pkt(self->urg, MIG_T_HELLO, &h, sizeof(h)) ||
	    recv_pkt(self->urg) != MIG_T_HELLO_ACK)
		return -1;
	self->bulk = tcp(self->port);
	h = hello(MIG_CHAN_BULK, 0);
	if (self->bulk < 0 || send_pkt(self->bulk, MIG_T_HELLO, &h, sizeof(h)) ||
	    recv_pkt(self->bulk) != MIG_T_HELLO_ACK)
		return -1;
	return 0;
}

#define EXPECT_REFUSED(needle) do {					\
	char *log = NULL;						\
	EXPECT_EQ(1, recv_result(self, &log)) TH_LOG("log: %s", log);	\
	ASSERT_NE(NULL, log);						\
	EXPECT_NE(NULL, strstr(log, needle)) TH_LOG("log: %s", log);	\
	EXPECT_EQ(0, pages_present(self));				\
	free(log);							\
} while (0)

/* ---- bad handoff messages ---- */

TEST_F(neg, handoff_bad_json)
{
	self->vmm = handoff(self->sock, "[{\"base_host_virt_addr\": 12,", self->uffd);
	ASSERT_LE(0, self->vmm);
	EXPECT_REFUSED("JSON");
}

TEST_F(neg, handoff_without_fd)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":0,\"page_size\":4096}]",
		 (unsigned long)self->area, PAGES * PAGE);
	self->vmm = handoff(self->sock, json, -1);
	ASSERT_LE(0, self->vmm);
	EXPECT_REFUSED("descriptor");
}

TEST_F(neg, handoff_fd_not_a_userfaultfd)
{
	char json[256];
	int efd = eventfd(0, EFD_CLOEXEC);

	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":0,\"page_size\":4096}]",
		 (unsigned long)self->area, PAGES * PAGE);
	self->vmm = handoff(self->sock, json, efd);
	ASSERT_LE(0, self->vmm);
	EXPECT_REFUSED("userfaultfd");
	close(efd);
}

TEST_F(neg, handoff_overlapping_regions)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":0,\"page_size\":4096},"
		 "{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":%lu,\"page_size\":4096}]",
		 (unsigned long)self->area, 8 * PAGE,
		 (unsigned long)self->area + 4 * PAGE, 8 * PAGE, 8 * PAGE);
	self->vmm = handoff(self->sock, json, self->uffd);
	ASSERT_LE(0, self->vmm);
	EXPECT_REFUSED("overlap");
}

TEST_F(neg, handoff_zero_size_and_bad_page_size)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":0,\"offset\":0,\"page_size\":2097152}]",
		 (unsigned long)self->area);
	self->vmm = handoff(self->sock, json, self->uffd);
	ASSERT_LE(0, self->vmm);
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, handoff_deprecated_page_size_kib_accepted)
{
	struct mig_hello h = hello(MIG_CHAN_CONTROL, 0);
	char json[256];

	/* the old spelling is fine; then a bad version ends it */
	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\":%lu,\"size\":%lu,\"offset\":0,\"page_size_kib\":4}]",
		 (unsigned long)self->area, PAGES * PAGE);
	self->vmm = handoff(self->sock, json, self->uffd);
	ASSERT_LE(0, self->vmm);
	self->ctl = tcp(self->port);
	ASSERT_LE(0, self->ctl);
	h.version = htole16(MIG_VERSION + 1);
	ASSERT_EQ(0, send_pkt(self->ctl, MIG_T_HELLO, &h, sizeof(h)));
	EXPECT_REFUSED("version");
}

/* ---- malformed or hostile streams ---- */

TEST_F(neg, stream_unknown_version)
{
	struct mig_hello h = hello(MIG_CHAN_CONTROL, 0);

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	self->ctl = tcp(self->port);
	ASSERT_LE(0, self->ctl);
	h.version = htole16(7);
	ASSERT_EQ(0, send_pkt(self->ctl, MIG_T_HELLO, &h, sizeof(h)));
	/* the source is told, with an ERROR packet */
	EXPECT_EQ(MIG_T_ERROR, recv_pkt(self->ctl));
	EXPECT_REFUSED("version");
}

TEST_F(neg, stream_bad_magic)
{
	struct mig_hello h = hello(MIG_CHAN_CONTROL, 0);

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	self->ctl = tcp(self->port);
	ASSERT_LE(0, self->ctl);
	memcpy(h.magic, "GARBAGE!", 8);
	ASSERT_EQ(0, send_pkt(self->ctl, MIG_T_HELLO, &h, sizeof(h)));
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, stream_oversized_packet)
{
	struct mig_hdr hd = { htole16(MIG_T_HELLO), 0, htole32(64u << 20) };

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	self->ctl = tcp(self->port);
	ASSERT_LE(0, self->ctl);
	/* only the header: the payload must not even be waited for */
	ASSERT_EQ(sizeof(hd), write(self->ctl, &hd, sizeof(hd)));
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, stream_unknown_packet_type)
{
	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	ASSERT_EQ(0, send_pkt(self->bulk, 99, "xxxxxxxx", 8));
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, stream_layout_mismatch)
{
	struct mig_setup su = { .page_size = htole32(4096), .npages = htole64(PAGES + 1) };
	struct mig_hello h = hello(MIG_CHAN_CONTROL, 0);

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	self->ctl = tcp(self->port);
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, send_pkt(self->ctl, MIG_T_HELLO, &h, sizeof(h)));
	ASSERT_EQ(MIG_T_HELLO_ACK, recv_pkt(self->ctl));
	ASSERT_EQ(0, send_pkt(self->ctl, MIG_T_SETUP, &su, sizeof(su)));
	EXPECT_EQ(MIG_T_ERROR, recv_pkt(self->ctl));
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, stream_page_outside_layout)
{
	struct {
		struct mig_page ph;
		char data[PAGE];
	} pg = { .ph = { .page = htole64(PAGES + 100), .round = MIG_ROUND_FINAL } };

	memset(pg.data, 0x5a, sizeof(pg.data));
	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	ASSERT_EQ(0, send_pkt(self->bulk, MIG_T_PAGE, &pg, sizeof(pg)));
	EXPECT_REFUSED("outside");
}

TEST_F(neg, stream_short_page)
{
	struct {
		struct mig_page ph;
		char data[100];
	} pg = { .ph = { .page = htole64(3), .round = MIG_ROUND_FINAL } };

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	ASSERT_EQ(0, send_pkt(self->bulk, MIG_T_PAGE, &pg, sizeof(pg)));
	EXPECT_REFUSED("pcopy: recv");
}

TEST_F(neg, stream_precopy_round_that_cannot_exist)
{
	struct {
		struct mig_page ph;
		char data[PAGE];
	} pg = { .ph = { .page = htole64(2), .round = 7 } };

	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	ASSERT_EQ(0, send_pkt(self->bulk, MIG_T_PAGE, &pg, sizeof(pg)));
	EXPECT_REFUSED("cannot exist");
}

/*
 * The control for the checks above: a valid page IS placed, whole, before
 * a bad one ends the stream (so "no page present" is not vacuous).
 */
TEST_F(neg, valid_page_placed_whole_before_refusal)
{
	struct {
		struct mig_page ph;
		char data[PAGE];
	} pg = { .ph = { .page = htole64(3), .round = MIG_ROUND_FINAL } };
	char *log = NULL;
	unsigned long i, bad = 0;

	memset(pg.data, 0x5a, sizeof(pg.data));
	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	ASSERT_EQ(0, send_pkt(self->bulk, MIG_T_PAGE, &pg, sizeof(pg)));
	pg.ph.page = htole64(PAGES);
	ASSERT_EQ(0, send_pkt(self->bulk, MIG_T_PAGE, &pg, sizeof(pg)));
	EXPECT_EQ(1, recv_result(self, &log)) TH_LOG("log: %s", log);
	free(log);
	EXPECT_EQ(1, pages_present(self));
	for (i = 0; i < PAGE; i++)
		bad += (unsigned char)self->area[3 * PAGE + i] != 0x5a;
	EXPECT_EQ(0, bad);
}

TEST_F(neg, stream_source_vanishes)
{
	good_handoff(self);
	ASSERT_LE(0, self->vmm);
	ASSERT_EQ(0, fake_source(self, PAGES));
	/* a channel dies mid-stream */
	close(self->bulk);
	self->bulk = -1;
	EXPECT_REFUSED("pcopy: recv");
}

TEST_HARNESS_MAIN
