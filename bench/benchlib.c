// SPDX-License-Identifier: GPL-2.0
/* What the benchmark programs share (benchlib.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

const char *bench_prog = "bench";

unsigned long long bench_num(const char *opt, const char *s, unsigned long long min,
			     unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s: '%s' is not a number from %llu to %llu\n",
			bench_prog, opt, s, min, max);
		exit(2);
	}
	return v;
}

void bench_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon) {
		fprintf(stderr, "%s: '%s': expected ADDR:PORT\n", bench_prog, s);
		exit(2);
	}
	*colon = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)bench_num("port", colon + 1, 1, 65535));
	if (!*buf)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, buf, &sa->sin_addr) != 1) {
		fprintf(stderr, "%s: '%s': not an IPv4 address\n", bench_prog, buf);
		exit(2);
	}
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_sort_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t bench_pct(const uint64_t *v, unsigned long n, unsigned int p)
{
	unsigned long rank = (n * p + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

int bench_listen(const struct sockaddr_in *sa, int backlog)
{
	int one = 1, ls;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (const struct sockaddr *)sa, sizeof(*sa)) || listen(ls, backlog)) {
		fprintf(stderr, "%s: listen: %s\n", bench_prog, strerror(errno));
		if (ls >= 0)
			close(ls);
		return -1;
	}
	return ls;
}

int bench_connect(const struct sockaddr_in *sa, uint64_t deadline, const char **what)
{
	int fd, err;

	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			*what = "socket";
			return -errno;
		}
		if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
			return fd;
		err = errno;
		close(fd);
		if (err != ECONNREFUSED || bench_now_ns() > deadline) {
			*what = "connect";
			return -err;
		}
		usleep(20000);
	}
}
