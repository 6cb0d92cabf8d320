/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_BENCHLIB_H
#define PCOPY_BENCHLIB_H

/*
 * What the benchmark programs share: number and address operands, the
 * clock, percentiles, and the TCP listen and connect of net_rtt and
 * tcp_blast.  Messages start with bench_prog ("net_rtt: ..."), which each
 * program's main() sets first.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

extern const char *bench_prog;

/* A decimal operand of option @opt in [min, max]; exits 2 if it is not. */
unsigned long long bench_num(const char *opt, const char *s, unsigned long long min,
			     unsigned long long max);
/* ADDR:PORT (IPv4, ADDR may be empty: any) into @sa; exits 2 if bad. */
void bench_parse_addr(const char *s, struct sockaddr_in *sa);

uint64_t bench_now_ns(void);	/* CLOCK_MONOTONIC */

/* Sort @v ascending; the nearest-rank percentile @p of sorted v[0..n-1]. */
void bench_sort_u64(uint64_t *v, size_t n);
uint64_t bench_pct(const uint64_t *v, unsigned long n, unsigned int p);

/*
 * A TCP socket listening on @sa with SO_REUSEADDR; -1 after printing
 * "PROG: listen: ERROR".
 */
int bench_listen(const struct sockaddr_in *sa, int backlog);
/*
 * Connect to @sa, retrying refused connections every 20 ms until
 * @deadline (bench_now_ns()).  The socket, or -errno with *@what the step
 * that failed ("socket" or "connect").
 */
int bench_connect(const struct sockaddr_in *sa, uint64_t deadline, const char **what);

#endif
