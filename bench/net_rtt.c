// SPDX-License-Identifier: GPL-2.0
/*
 * net_rtt: request/response round trips over one TCP connection, one at a
 * time, as a postcopy fault's request and answer travel.
 *
 *   net_rtt -l ADDR:PORT [-q REQ] [-r RESP]
 *       print "listening" once it listens, then serve one connection: for
 *       every REQ bytes read, write RESP bytes; exit 0 at end of file
 *   net_rtt -c ADDR:PORT [-n N] [-u WARMUP] [-q REQ] [-r RESP]
 *       connect (retrying refused connections for 10 s), make WARMUP
 *       untimed and N timed round trips (write REQ bytes, read RESP bytes),
 *       and print one line:
 *         net_rtt rtts=N req=.. resp=.. median_ns=.. p90_ns=.. p99_ns=..
 *                 mean_ns=.. min_ns=.. max_ns=..
 *
 * The defaults are the sizes of pcopy's packets: a REQUEST is 24 bytes
 * (8-byte header, 16-byte body), an answer a PAGE packet of 4120 bytes
 * (header, 16-byte page record, 4096 bytes).  Both ends use TCP_NODELAY,
 * as pcopy's control and urgent connections do.  Every response is checked
 * to be the expected bytes (a sequence number), so a lost or stale response
 * fails the run.  Exit status 0 on success, 1 on any error (one line on
 * stderr), 2 for a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define DEF_N		2000
#define DEF_WARMUP	100
#define DEF_REQ		24
#define DEF_RESP	4120
#define MAX_MSG		(1 << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: net_rtt -l ADDR:PORT [-q REQ] [-r RESP]\n"
		"       net_rtt -c ADDR:PORT [-n N] [-u WARMUP] [-q REQ] [-r RESP]\n"
		"  -n N       timed round trips (default %d)\n"
		"  -u WARMUP  untimed round trips before them (default %d)\n"
		"  -q REQ     request bytes (default %d: a pcopy REQUEST)\n"
		"  -r RESP    response bytes (default %d: a pcopy PAGE packet)\n",
		DEF_N, DEF_WARMUP, DEF_REQ, DEF_RESP);
}

static int full_io(int fd, char *p, size_t n, int wr)
{
	while (n) {
		ssize_t k = wr ? write(fd, p, n) : read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int serve(const struct sockaddr_in *sa, size_t req, size_t resp)
{
	char *q = malloc(req), *r = malloc(resp);
	int ls, fd, err;
	uint64_t n = 0;

	if (!q || !r) {
		fprintf(stderr, "net_rtt: out of memory\n");
		return 1;
	}
	memset(r, 0x5a, resp);
	ls = bench_listen(sa, 1);
	if (ls < 0)
		return 1;
	printf("listening\n");
	fflush(stdout);
	fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "net_rtt: accept: %s\n", strerror(errno));
		return 1;
	}
	close(ls);
	nodelay(fd);
	for (;;) {
		ssize_t k = read(fd, q, 1);

		if (k == 0)
			break;		/* the client is done */
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 || (req > 1 && full_io(fd, q + 1, req - 1, 0))) {
			fprintf(stderr, "net_rtt: server: reading request %llu: %s\n",
				(unsigned long long)n, k < 0 ? strerror(errno) : "short");
			return 1;
		}
		/* echo the sequence number the request carries */
		memcpy(r, q, req < 8 ? req : 8);
		err = full_io(fd, r, resp, 1);
		if (err) {
			fprintf(stderr, "net_rtt: server: writing response %llu: %s\n",
				(unsigned long long)n, strerror(-err));
			return 1;
		}
		n++;
	}
	close(fd);
	return 0;
}

static int client(const struct sockaddr_in *sa, unsigned long n, unsigned long warmup,
		  size_t req, size_t resp)
{
	char *q = calloc(1, req < 8 ? 8 : req), *r = malloc(resp);
	uint64_t *lat = calloc(n, sizeof(*lat)), sum = 0, deadline, seq;
	const char *what;
	unsigned long i;
	int fd, err;

	if (!q || !r || !lat) {
		fprintf(stderr, "net_rtt: out of memory\n");
		return 1;
	}
	deadline = bench_now_ns() + 10000000000ull;
	fd = bench_connect(sa, deadline, &what);
	if (fd < 0) {
		fprintf(stderr, "net_rtt: %s: %s\n", what, strerror(-fd));
		return 1;
	}
	nodelay(fd);
	for (i = 0; i < warmup + n; i++) {
		uint64_t t0, t1, got = 0;

		seq = i + 1;
		memcpy(q, &seq, req < 8 ? req : 8);
		t0 = bench_now_ns();
		err = full_io(fd, q, req, 1);
		if (!err)
			err = full_io(fd, r, resp, 0);
		t1 = bench_now_ns();
		if (err) {
			fprintf(stderr, "net_rtt: round trip %lu: %s\n", i, strerror(-err));
			return 1;
		}
		memcpy(&got, r, req < 8 ? req : 8);
		if (req >= 8 && resp >= 8 && got != seq) {
			fprintf(stderr, "net_rtt: round trip %lu: response to request %llu\n",
				i, (unsigned long long)got);
			return 1;
		}
		if (i >= warmup) {
			lat[i - warmup] = t1 - t0;
			sum += t1 - t0;
		}
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	bench_sort_u64(lat, n);
	printf("net_rtt rtts=%lu req=%zu resp=%zu median_ns=%llu p90_ns=%llu p99_ns=%llu mean_ns=%llu min_ns=%llu max_ns=%llu\n",
	       n, req, resp,
	       (unsigned long long)bench_pct(lat, n, 50),
	       (unsigned long long)bench_pct(lat, n, 90),
	       (unsigned long long)bench_pct(lat, n, 99),
	       (unsigned long long)(sum / n),
	       (unsigned long long)lat[0],
	       (unsigned long long)lat[n - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = DEF_N, warmup = DEF_WARMUP, req = DEF_REQ, resp = DEF_RESP;
	const char *listen_at = NULL, *connect_to = NULL;
	struct sockaddr_in sa;
	int opt;

	bench_prog = "net_rtt";
	while ((opt = getopt(argc, argv, "l:c:n:u:q:r:h")) != -1) {
		switch (opt) {
		case 'l':
			listen_at = optarg;
			break;
		case 'c':
			connect_to = optarg;
			break;
		case 'n':
			n = bench_num("-n", optarg, 1, 10000000);
			break;
		case 'u':
			warmup = bench_num("-u", optarg, 0, 10000000);
			break;
		case 'q':
			req = bench_num("-q", optarg, 1, MAX_MSG);
			break;
		case 'r':
			resp = bench_num("-r", optarg, 1, MAX_MSG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !listen_at == !connect_to) {
		usage(stderr);
		return 2;
	}
	bench_parse_addr(listen_at ? listen_at : connect_to, &sa);
	return listen_at ? serve(&sa, req, resp) : client(&sa, n, warmup, req, resp);
}
