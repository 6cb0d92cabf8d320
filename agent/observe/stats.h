/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_STATS_H
#define PCOPY_AGENT_STATS_H

/*
 * A session's statistics as the agent holds them, and their text and JSON
 * forms.  Nothing here knows about netlink: session.c fills these from the
 * module's replies.  All times are in ns, as the module reports them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

struct json_object;

/* One PCOPY_A_VCPU_ENTRY. */
struct vcpu_stats {
	uint32_t index;
	uint32_t tid;
	bool is_explicit;		/* set by PCOPY_CMD_SET_VCPU, not learned */
	bool detached;			/* no thread is mapped to it now */
	uint64_t faults;
	uint64_t latency_sum_ns;
	uint64_t latency_min_ns;
	uint64_t latency_max_ns;
	uint64_t blocktime_ns;
	uint32_t outstanding;
	uint64_t dirty_pages;		/* GFNs KVM pushed for this vCPU */
	uint64_t dirty_rate;		/* pages/s over the last second */
};

/* One session: a PCOPY_CMD_SESSION_GET reply. */
struct session_stats {
	uint32_t pid;
	uint64_t session_id;		/* 0: a module older than ABI 3 */
	bool ended;			/* an ended session, kept by the module */
	bool auto_attached;		/* the module created it (pcopy auto) */
	bool follow_forks;		/* children get sessions of their own */
	uint64_t parent_id;		/* the session whose fork made it; 0: none */
	uint32_t end_reason;		/* enum pcopy_end_reason, if ended */
	uint64_t end_time_ns;		/* since the epoch, if ended */
	uint64_t faults;
	uint64_t nowait_faults;
	uint64_t interrupted;
	uint64_t missed;		/* blocking faults the module could not time */
	uint64_t threads_dropped;
	uint64_t execs;			/* execve()s the session followed */
	uint64_t ring_lost_records;	/* its rings dropped (never reset) */
	uint64_t ring_lost_gfns;
	uint64_t latency_sum_ns;
	uint64_t latency_max_ns;
	uint32_t outstanding;
	uint32_t outstanding_max;
	uint64_t vcpu_faults;
	uint64_t nonvcpu_faults;
	uint64_t nonvcpu_latency_sum_ns;
	uint32_t known_vcpus;
	uint64_t blocktime_ns;
	uint64_t elapsed_ns;
	uint64_t dirty_pages;		/* GFNs KVM pushed, all vCPUs */
	uint64_t dirty_rate;		/* pages/s over the last second */

	struct vcpu_stats *vcpus;	/* nr_vcpus entries, ascending index */
	unsigned int nr_vcpus;
	bool truncated;			/* the module left the vCPU table out */

	uint64_t hist_ns[PCOPY_HIST_NS_BUCKETS];
	uint64_t hist_us[PCOPY_HIST_US_BUCKETS];
};

void session_stats_free(struct session_stats *s);

/* "exited", "deleted", ... for an enum pcopy_end_reason. */
const char *end_reason_name(uint32_t why);

/* @ns since the epoch as local "YYYY-MM-DD HH:MM:SS"; returns @buf. */
const char *fmt_time(char *buf, size_t len, uint64_t ns);

/* sum / n, 0 when n is 0. */
uint64_t stats_avg(uint64_t sum, uint64_t n);

/* @ns with three significant digits in ns, us, ms or s; returns @buf. */
const char *fmt_duration(char *buf, size_t len, uint64_t ns);

/* @bytes as "512 B", "1.50 KiB", "2.00 MiB", ...; returns @buf. */
const char *fmt_bytes(char *buf, size_t len, uint64_t bytes);

/*
 * A log2 histogram in bpftrace's hist() layout, from the first to the last
 * non-empty bucket; bucket i is [2^i, 2^(i+1)), bucket 0 also holds 0.
 * With @open_last, the last bucket holds everything above 2^(n-1).
 */
void hist_print(FILE *f, const char *title, const uint64_t *h, unsigned int n,
		bool open_last);

/*
 * `pcopy stats`: QEMU's postcopy lines, counts, per-vCPU table, both
 * histograms.  0, or -ENOMEM (nothing printed).
 */
int stats_print_text(FILE *f, const struct session_stats *s);

/*
 * `pcopy stats --qemu`: exactly the postcopy block of QEMU 10.1's
 * `info migrate -a` (Documentation/stats.rst).  0, or -ENOMEM (nothing
 * printed).
 */
int stats_print_qemu(FILE *f, const struct session_stats *s);

/* `pcopy list`: one table row per session. */
void stats_print_list(FILE *f, const struct session_stats *v, unsigned int n,
		      bool ended);

/* The session object of the JSON output; NULL if out of memory. */
struct json_object *stats_to_json(const struct session_stats *s);
/* stats_to_json() printed on stdout: 0, or -ENOMEM (nothing printed). */
int stats_print_json(const struct session_stats *s);

PCOPY_PUBLIC_END

#endif
