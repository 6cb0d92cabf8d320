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

#include "benchlib.h"

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

	c->fd = bench_connect(c->sa, c->deadline, &c->what);
	if (c->fd < 0) {
		c->err = -c->fd;
		return NULL;
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
	int opt, ls, ret = 0;

	bench_prog = "tcp_blast";
	while ((opt = getopt(argc, argv, "l:c:n:b:h")) != -1) {
		switch (opt) {
		case 'l':
			listen_at = optarg;
			break;
		case 'c':
			connect_to = optarg;
			break;
		case 'n':
			n = bench_num("-n", optarg, 1, MAX_CONNS);
			break;
		case 'b':
			bytes = bench_num("-b", optarg, 1, 1ull << 40);
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
	bench_parse_addr(listen_at ? listen_at : connect_to, &sa);
	memset(c, 0, sizeof(c));

	if (listen_at) {
		ls = bench_listen(&sa, MAX_CONNS);
		if (ls < 0)
			return 1;
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

	t0 = bench_now_ns();
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
	t1 = bench_now_ns();
	if (ret)
		return ret;
	printf("tcp_blast conns=%u bytes=%llu time_ns=%llu throughput_bytes_per_s=%llu\n",
	       n, bytes, (unsigned long long)(t1 - t0),
	       (unsigned long long)(bytes * 1000000000.0 / (double)(t1 - t0)));
	return 0;
}
