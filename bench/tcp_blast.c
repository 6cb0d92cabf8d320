// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_blast: raw TCP throughput over N parallel connections, the baseline
 * for pcopy's bulk stream (the same number of sockets and bytes).
 *
 *   tcp_blast -l ADDR:PORT -n N
 *       print "listening" once it listens (so that the sender's clock
 *       does not include a refused connect), accept N connections, read
 *       each to end of file (one thread per
 *       connection, into a buffer that is thrown away), then acknowledge
 *       each with one byte and close it; print
 *         tcp_blast recv conns=N bytes=B
 *   tcp_blast -c ADDR:PORT -n N -b BYTES
 *       open N connections (retrying refused ones for 10 s) and send BYTES
 *       split evenly over them, one thread per connection, in 256 KiB
 *       writes; each thread then shuts its sending side and waits for the
 *       receiver's byte.  Print
 *         tcp_blast conns=N bytes=B time_ns=T throughput_bytes_per_s=X
 *       where T runs from before the first connect to the last
 *       acknowledgement, i.e. until the receiver has read every byte (as
 *       pcopy send's total time runs from before its connections to the
 *       destination's DONE).
 *
 * Sockets keep the kernel's defaults (no TCP_NODELAY, no buffer sizes).
 * Exit status 0 on success, 1 on any error (one line on stderr), 2 for a
 * usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	64
#define CHUNK		(256 * 1024)

struct conn {
	pthread_t thr;
	const struct sockaddr_in *sa;
	int fd;
	uint64_t bytes;		/* to send, or received */
	uint64_t deadline;
	int err;		/* errno of the first failure, or 0 */
	const char *what;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcp_blast -l ADDR:PORT -n N\n"
		"       tcp_blast -c ADDR:PORT -n N -b BYTES\n");
}

static unsigned long long num_arg(const char *opt, const char *s, unsigned long long min,
				  unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "tcp_blast: %s: '%s' is not a number from %llu to %llu\n",
			opt, s, min, max);
		exit(2);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void parse_addr(const char *s, struct sockaddr_in *sa)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon) {
		fprintf(stderr, "tcp_blast: '%s': expected ADDR:PORT\n", s);
		exit(2);
	}
	*colon = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(num_arg("port", colon + 1, 1, 65535));
	if (!*buf)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, buf, &sa->sin_addr) != 1) {
		fprintf(stderr, "tcp_blast: '%s': not an IPv4 address\n", buf);
		exit(2);
	}
}

static void *rx(void *arg)
{
	struct conn *c = arg;
	char *buf = malloc(CHUNK);
	char ack = 1;

	if (!buf) {
		c->err = ENOMEM;
		c->what = "malloc";
		return NULL;
	}
	for (;;) {
		ssize_t k = read(c->fd, buf, CHUNK);

		if (k == 0)
			break;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			c->err = errno;
			c->what = "read";
			break;
		}
		c->bytes += (uint64_t)k;
	}
	if (!c->err && write(c->fd, &ack, 1) != 1) {
		c->err = errno ? errno : EIO;
		c->what = "write ack";
	}
	close(c->fd);
	free(buf);
	return NULL;
}

static void *tx(void *arg)
{
	struct conn *c = arg;
	static char buf[CHUNK];	/* read only: shared by the threads */
	uint64_t left = c->bytes;
	char ack;
	ssize_t k;

	for (;;) {
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			c->err = errno;
			c->what = "socket";
			return NULL;
		}
		if (!connect(c->fd, (const struct sockaddr *)c->sa, sizeof(*c->sa)))
			break;
		c->err = errno;
		close(c->fd);
		if (c->err != ECONNREFUSED || now_ns() > c->deadline) {
			c->what = "connect";
			return NULL;
		}
		c->err = 0;
		usleep(20000);
	}
	while (left) {
		k = write(c->fd, buf, left < CHUNK ? left : CHUNK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			c->err = k < 0 ? errno : EIO;
			c->what = "write";
			goto out;
		}
		left -= (uint64_t)k;
	}
	if (shutdown(c->fd, SHUT_WR)) {
		c->err = errno;
		c->what = "shutdown";
		goto out;
	}
	do
		k = read(c->fd, &ack, 1);
	while (k < 0 && errno == EINTR);
	if (k != 1) {
		c->err = k < 0 ? errno : EPIPE;
		c->what = "reading the acknowledgement";
	}
out:
	close(c->fd);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *connect_to = NULL;
	unsigned long long bytes = 0, total = 0;
	unsigned int n = 0, i;
	struct conn c[MAX_CONNS];
	struct sockaddr_in sa;
	uint64_t t0, t1;
	int opt, one = 1, ls, ret = 0;

	while ((opt = getopt(argc, argv, "l:c:n:b:h")) != -1) {
		switch (opt) {
		case 'l':
			listen_at = optarg;
			break;
		case 'c':
			connect_to = optarg;
			break;
		case 'n':
			n = num_arg("-n", optarg, 1, MAX_CONNS);
			break;
		case 'b':
			bytes = num_arg("-b", optarg, 1, 1ull << 40);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !listen_at == !connect_to || !n || (connect_to && !bytes)) {
		usage(stderr);
		return 2;
	}
	parse_addr(listen_at ? listen_at : connect_to, &sa);
	memset(c, 0, sizeof(c));

	if (listen_at) {
		ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(ls, (const struct sockaddr *)&sa, sizeof(sa)) || listen(ls, MAX_CONNS)) {
			fprintf(stderr, "tcp_blast: listen: %s\n", strerror(errno));
			return 1;
		}
		printf("listening\n");
		fflush(stdout);
		for (i = 0; i < n; i++) {
			c[i].fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			if (c[i].fd < 0) {
				fprintf(stderr, "tcp_blast: accept: %s\n", strerror(errno));
				return 1;
			}
			errno = pthread_create(&c[i].thr, NULL, rx, &c[i]);
			if (errno) {
				fprintf(stderr, "tcp_blast: pthread_create: %s\n", strerror(errno));
				return 1;
			}
		}
		close(ls);
		for (i = 0; i < n; i++) {
			pthread_join(c[i].thr, NULL);
			if (c[i].err) {
				fprintf(stderr, "tcp_blast: connection %u: %s: %s\n", i,
					c[i].what, strerror(c[i].err));
				ret = 1;
			}
			total += c[i].bytes;
		}
		printf("tcp_blast recv conns=%u bytes=%llu\n", n, total);
		return ret;
	}

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		c[i].sa = &sa;
		c[i].bytes = bytes / n + (i < bytes % n);
		c[i].deadline = t0 + 10000000000ull;
		errno = pthread_create(&c[i].thr, NULL, tx, &c[i]);
		if (errno) {
			fprintf(stderr, "tcp_blast: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(c[i].thr, NULL);
		if (c[i].err) {
			fprintf(stderr, "tcp_blast: connection %u: %s: %s\n", i, c[i].what,
				strerror(c[i].err));
			ret = 1;
		}
	}
	t1 = now_ns();
	if (ret)
		return ret;
	printf("tcp_blast conns=%u bytes=%llu time_ns=%llu throughput_bytes_per_s=%llu\n",
	       n, bytes, (unsigned long long)(t1 - t0),
	       (unsigned long long)(bytes * 1000000000.0 / (double)(t1 - t0)));
	return 0;
}
