/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_REPORT_H
#define PCOPY_AGENT_REPORT_H

/*
 * The figures `pcopy report` derives from a stream of records.  Nothing
 * here knows about files or output: cmd_report.c feeds records in and
 * prints what comes out.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

struct report_vcpu {
	uint64_t faults;		/* blocking FAULT_ENDs */
	uint64_t latency_sum_ns;
	uint64_t latency_max_ns;
	uint64_t dirty_gfns;		/* GFNs in its DIRTY records */
};

/* The distinct page offsets seen in one memslot: an open-addressing set. */
struct report_slot {
	uint32_t slot;			/* as_id << 16 | slot id */
	uint64_t gfns;			/* GFNs pushed, repeats included */
	uint64_t distinct;
	uint64_t *keys;			/* REPORT_EMPTY marks a free entry */
	size_t cap;			/* a power of two, or 0 */
	bool has_empty_key;		/* offset REPORT_EMPTY itself was seen */
};

struct report {
	uint64_t by_type[PCOPY_REC_DIRTY_RESET + 1];	/* records per known type */

	uint64_t faults;		/* blocking: FAULT_END without NOWAIT */
	uint64_t nowait;
	uint64_t interrupted;
	uint64_t latency_sum_ns;
	uint64_t latency_max_ns;
	uint64_t *lat;			/* every blocking latency, sorted by */
	size_t nlat, lat_alloc;		/* report_finish() */

	struct report_vcpu vcpu[PCOPY_MAX_VCPUS];
	struct report_vcpu nonvcpu;	/* PCOPY_VCPU_NONE */
	uint64_t high_vcpu_gfns;	/* DIRTY GFNs of vCPU ids >= PCOPY_MAX_VCPUS */

	struct report_slot *slots;	/* ascending slot */
	size_t nslots, slots_alloc;
	uint64_t gfns;			/* GFNs in all DIRTY records */

	uint64_t lost_records;		/* sums of the LOST records */
	uint64_t lost_gfns;
};

/* Account one record that passed rec_check(): 0 or -ENOMEM. */
int report_add(struct report *rp, const struct pcopy_rec_hdr *rec);

/* Once every record is in: sorts the latencies for report_percentile(). */
void report_finish(struct report *rp);

/* Nearest-rank percentile @p (1..100) of the blocking latencies; 0 if none. */
uint64_t report_percentile(const struct report *rp, unsigned int p);

void report_free(struct report *rp);

PCOPY_PUBLIC_END

#endif
