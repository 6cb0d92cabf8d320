// SPDX-License-Identifier: GPL-2.0
/*
 * Migration connections (transport.h).  A packet's header is held to its
 * type's bounds before a single payload byte is read, so an oversized or
 * unknown packet never makes us buffer what it claims.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/defs.h"
#include "common/net.h"
#include "transport.h"
#include "util.h"

/* Enough for the largest packet and a good batch of pages behind it. */
#define RBUF_SIZE	(MIG_MAX_PAYLOAD + 256 * 1024)

static const struct {
	const char *name;
	uint32_t min, max;		/* payload bounds */
} types[__MIG_T_MAX] = {
	[MIG_T_HELLO]		= { "HELLO", sizeof(struct mig_hello), sizeof(struct mig_hello) },
	[MIG_T_HELLO_ACK]	= { "HELLO_ACK", sizeof(struct mig_hello_ack), sizeof(struct mig_hello_ack) },
	[MIG_T_ERROR]		= { "ERROR", sizeof(struct mig_error) + 1,
				    sizeof(struct mig_error) + MIG_MAX_ERROR },
	[MIG_T_SETUP]		= { "SETUP", sizeof(struct mig_setup), sizeof(struct mig_setup) },
	[MIG_T_SETUP_ACK]	= { "SETUP_ACK", sizeof(struct mig_setup_ack), sizeof(struct mig_setup_ack) },
	[MIG_T_ROUND]		= { "ROUND", sizeof(struct mig_round), sizeof(struct mig_round) },
	[MIG_T_SWITCHOVER]	= { "SWITCHOVER", sizeof(struct mig_switchover), sizeof(struct mig_switchover) },
	[MIG_T_MANIFEST]	= { "MANIFEST", sizeof(struct mig_manifest) + 1,
				    sizeof(struct mig_manifest) + MIG_MANIFEST_CHUNK },
	[MIG_T_MANIFEST_END]	= { "MANIFEST_END", sizeof(struct mig_manifest_end),
				    sizeof(struct mig_manifest_end) },
	[MIG_T_COMPLETE]	= { "COMPLETE", 0, 0 },
	[MIG_T_REQUEST]		= { "REQUEST", sizeof(struct mig_request), sizeof(struct mig_request) },
	[MIG_T_RESUMED]		= { "RESUMED", sizeof(struct mig_resumed), sizeof(struct mig_resumed) },
	[MIG_T_DONE]		= { "DONE", sizeof(struct mig_done), sizeof(struct mig_done) },
	[MIG_T_PAGE]		= { "PAGE", sizeof(struct mig_page), sizeof(struct mig_page) + MIG_PAGE_SIZE },
	[MIG_T_STATE]		= { "STATE", sizeof(struct mig_state) + 1,
				    sizeof(struct mig_state) + MIG_STATE_CHUNK },
	[MIG_T_END]		= { "END", sizeof(struct mig_end), sizeof(struct mig_end) },
};

_Static_assert(RBUF_SIZE >= sizeof(struct mig_hdr) + MIG_MAX_PAYLOAD, "receive buffer");

const char *mig_type_name(unsigned int type)
{
	return type < __MIG_T_MAX && types[type].name ? types[type].name : "unknown";
}

int mig_conn_init(struct mig_conn *c, int fd, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->rbuf = malloc(RBUF_SIZE);
	if (!c->rbuf)
		return -ENOMEM;
	c->rcap = RBUF_SIZE;
	pthread_mutex_init(&c->wlock, NULL);
	return 0;
}

void mig_conn_shutdown(struct mig_conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void mig_conn_close(struct mig_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
	if (c->rcap)
		pthread_mutex_destroy(&c->wlock);
	c->rcap = 0;
}

size_t mig_put_hdr(void *buf, uint16_t type, uint32_t len)
{
	struct mig_hdr h = {
		.type = htole16(type),
		.flags = 0,
		.len = htole32(len),
	};

	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

static int send_iov(struct mig_conn *c, struct iovec *iov, int n)
{
	struct msghdr msg = { 0 };
	ssize_t w;

	while (n) {
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		__atomic_fetch_add(&c->tx_bytes, (uint64_t)w, __ATOMIC_RELAXED);
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int mig_send(struct mig_conn *c, uint16_t type, const void *a, size_t alen,
	     const void *b, size_t blen)
{
	unsigned char hdr[sizeof(struct mig_hdr)];
	struct iovec iov[3];
	int n = 0, ret;

	mig_put_hdr(hdr, type, (uint32_t)(alen + blen));
	iov[n].iov_base = hdr;
	iov[n++].iov_len = sizeof(hdr);
	if (alen) {
		iov[n].iov_base = (void *)a;
		iov[n++].iov_len = alen;
	}
	if (blen) {
		iov[n].iov_base = (void *)b;
		iov[n++].iov_len = blen;
	}
	pthread_mutex_lock(&c->wlock);
	ret = send_iov(c, iov, n);
	pthread_mutex_unlock(&c->wlock);
	return ret;
}

static size_t put_error(unsigned char *buf, uint32_t flags, const char *text)
{
	struct mig_error e = { .flags = htole32(flags) };
	size_t n = strlen(text);

	if (!n) {
		text = "?";
		n = 1;
	}
	if (n > MIG_MAX_ERROR)
		n = MIG_MAX_ERROR;
	mig_put_hdr(buf, MIG_T_ERROR, (uint32_t)(sizeof(e) + n));
	memcpy(buf + sizeof(struct mig_hdr), &e, sizeof(e));
	memcpy(buf + sizeof(struct mig_hdr) + sizeof(e), text, n);
	return sizeof(struct mig_hdr) + sizeof(e) + n;
}

int mig_send_error(struct mig_conn *c, uint32_t flags, const char *text)
{
	unsigned char buf[sizeof(struct mig_hdr) + sizeof(struct mig_error) + MIG_MAX_ERROR];

	return mig_send_buf(c, buf, put_error(buf, flags, text));
}

void mig_send_error_nowait(struct mig_conn *c, uint32_t flags, const char *text)
{
	unsigned char buf[sizeof(struct mig_hdr) + sizeof(struct mig_error) + MIG_MAX_ERROR];
	size_t n = put_error(buf, flags, text);

	if (c->fd < 0 || pthread_mutex_trylock(&c->wlock))
		return;
	/* if it does not go out now, the peer sees the connection close */
	if (send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		__atomic_fetch_add(&c->tx_bytes, n, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->wlock);
}

int mig_send_buf(struct mig_conn *c, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int ret;

	if (!len)
		return 0;
	pthread_mutex_lock(&c->wlock);
	ret = send_iov(c, &iov, 1);
	pthread_mutex_unlock(&c->wlock);
	return ret;
}

static int why(struct mig_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why(struct mig_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return err;
}

/* Have at least @n bytes buffered. */
static int fill(struct mig_conn *c, size_t n, uint64_t deadline)
{
	while (c->rtail - c->rhead < n) {
		ssize_t r;

		if (c->rcap - c->rhead < n) {
			memmove(c->rbuf, c->rbuf + c->rhead, c->rtail - c->rhead);
			c->rtail -= c->rhead;
			c->rhead = 0;
		}
		if (deadline) {
			uint64_t now = mig_now_ns();
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			int pr;

			if (now >= deadline)
				return why(c, -ETIMEDOUT, "timed out waiting for the peer");
			pr = poll(&pfd, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1);
			if (pr < 0 && errno != EINTR)
				return why(c, -errno, "poll: %s", strerror(errno));
			if (pr <= 0)
				continue;
		}
		r = recv(c->fd, c->rbuf + c->rtail, c->rcap - c->rtail, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				return why(c, -ECONNRESET, "connection reset by the peer");
			return why(c, -errno, "%s", strerror(errno));
		}
		if (!r) {
			if (c->rtail == c->rhead)
				return why(c, -EPIPE, "closed by the peer");
			return why(c, -ECONNRESET, "closed by the peer in the middle of a packet");
		}
		c->rtail += (size_t)r;
		__atomic_fetch_add(&c->rx_bytes, (uint64_t)r, __ATOMIC_RELAXED);
	}
	return 0;
}

int mig_recv(struct mig_conn *c, uint32_t allowed, struct mig_pkt *p, int timeout_ms)
{
	uint64_t deadline = 0;
	struct mig_hdr h;
	uint16_t type, flags;
	uint32_t len;
	int ret;

	if (timeout_ms >= 0)
		deadline = mig_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC + 1;
	ret = fill(c, sizeof(h), deadline);
	if (ret)
		return ret;
	memcpy(&h, c->rbuf + c->rhead, sizeof(h));
	type = le16toh(h.type);
	flags = le16toh(h.flags);
	len = le32toh(h.len);

	if (type >= __MIG_T_MAX || !types[type].name)
		return why(c, -EPROTO, "packet of unknown type %u", type);
	if (!(allowed & MIG_BIT(type)))
		return why(c, -EPROTO, "%s packet is not allowed here", types[type].name);
	if (flags)
		return why(c, -EPROTO, "%s packet with unknown flags 0x%x", types[type].name, flags);
	if (len < types[type].min || len > types[type].max)
		return why(c, -EPROTO, "%s packet of %u bytes (allowed: %u to %u)",
			   types[type].name, len, types[type].min, types[type].max);

	ret = fill(c, sizeof(h) + len, deadline);
	if (ret)
		return ret;
	p->type = type;
	p->len = len;
	p->data = c->rbuf + c->rhead + sizeof(h);
	c->rhead += sizeof(h) + len;
	return 0;
}

uint32_t mig_error_text(const struct mig_pkt *p, char *buf, size_t len)
{
	struct mig_error e;
	size_t i, n = 0;

	memcpy(&e, p->data, sizeof(e));
	/* the peer's text, printable ASCII only, up to a NUL */
	for (i = sizeof(e); i < p->len && n + 1 < len && p->data[i]; i++)
		buf[n++] = p->data[i] >= 0x20 && p->data[i] < 0x7f ? (char)p->data[i] : '?';
	buf[n] = '\0';
	/* unknown flags are ignored: they can only ask for more caution */
	return le32toh(e.flags) & __MIG_ERR_ALL;
}

/* ---- addresses and sockets ---- */

int mig_listen_tcp(const char *addr, int *fd, char *err, size_t elen)
{
	return net_listen_tcp(addr, fd, err, elen);
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	int s, ret, soerr;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd;

	s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		   ai->ai_protocol);
	if (s < 0)
		return -errno;
	if (connect(s, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		ret = -errno;
		goto err;
	}
	pfd.fd = s;
	pfd.events = POLLOUT;
	for (;;) {
		uint64_t now = mig_now_ns();
		int pr;

		if (now >= deadline) {
			ret = -ETIMEDOUT;
			goto err;
		}
		pr = poll(&pfd, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1);
		if (pr > 0)
			break;
		if (pr < 0 && errno != EINTR) {
			ret = -errno;
			goto err;
		}
	}
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
		ret = soerr ? -soerr : -errno;
		goto err;
	}
	/* blocking from now on: every thread owns its connection */
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
	return s;
err:
	close(s);
	return ret;
}

int mig_connect_tcp(const char *addr, int timeout_ms, int *fd, char *err, size_t elen)
{
	uint64_t deadline = mig_now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	struct addrinfo *res, *ai;
	int s = -1, ret;

	ret = net_resolve(addr, false, &res, err, elen);
	if (ret)
		return ret;
	for (;;) {
		for (ai = res; ai; ai = ai->ai_next) {
			s = connect_one(ai, deadline);
			if (s >= 0)
				break;
			ret = s;
		}
		/* the destination may not listen yet: retry a refusal */
		if (s >= 0 || ret != -ECONNREFUSED || mig_now_ns() >= deadline)
			break;
		usleep(100 * 1000);
	}
	freeaddrinfo(res);
	if (s < 0) {
		snprintf(err, elen, "cannot connect to %s: %s", addr, strerror(-ret));
		return ret;
	}
	*fd = s;
	return 0;
}

int mig_accept(int lfd, int timeout_ms, int *fd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int r, s;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return -errno;
	*fd = s;
	return 0;
}

/* DSCP @dscp in the IPv4 or IPv6 header, socket priority @prio. */
static void mark(int fd, int dscp, int prio)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int tos = dscp << 2;	/* the ECN bits stay TCP's */

	if (!getsockname(fd, (struct sockaddr *)&ss, &len) && ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	/* IPv4, or an IPv4-mapped peer of an IPv6 socket */
	setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	/* last: IP_TOS sets the priority from the TOS too */
	setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio));
}

void mig_tune(int fd, int kind)
{
	int one = 1, idle = 5, intvl = 2, cnt = 5;
	unsigned int user_timeout = 30000;	/* ms of unacknowledged data */
	int lowat = 128 * 1024;

	/* a peer that vanishes without a reset is noticed in seconds */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
	mark(fd, kind == MIG_CHAN_BULK ? MIG_DSCP_BULK : MIG_DSCP_URGENT,
	     kind == MIG_CHAN_BULK ? MIG_PRIO_BULK : MIG_PRIO_URGENT);
	if (kind == MIG_CHAN_BULK) {
		/*
		 * Keep little unsent data queued in the kernel: what a bulk
		 * channel has queued delays the device state at switchover
		 * and a preempt hint in postcopy.  Data in flight is not
		 * limited, so throughput is not either.
		 */
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	} else {
		/* requests and answers are small and wanted now */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
}
