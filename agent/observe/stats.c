// SPDX-License-Identifier: GPL-2.0
/*
 * Session statistics for humans (text) and programs (JSON).  The text
 * borrows two familiar layouts: QEMU's `info migrate` postcopy lines, so a
 * number can be compared with what QEMU reports for the same migration,
 * and bpftrace's hist(), so the histograms read like a bpftrace one-liner
 * run alongside.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "stats.h"

#define HIST_BAR_WIDTH	52	/* bpftrace's */
#define QEMU_PER_LINE	10	/* QEMU prints 10 vCPU values per line */

void session_stats_free(struct session_stats *s)
{
	free(s->vcpus);
	s->vcpus = NULL;
	s->nr_vcpus = 0;
}

uint64_t stats_avg(uint64_t sum, uint64_t n)
{
	return n ? sum / n : 0;
}

const char *fmt_duration(char *buf, size_t len, uint64_t ns)
{
	static const struct {
		uint64_t div;
		const char *unit;
	} units[] = {
		{ NSEC_PER_USEC, "us" }, { NSEC_PER_MSEC, "ms" }, { NSEC_PER_SEC, "s" },
	};
	unsigned int u = 0;
	double v;
	int prec;

	if (ns < NSEC_PER_USEC) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return buf;
	}
	while (u + 1 < ARRAY_SIZE(units) && ns >= units[u + 1].div)
		u++;
	v = (double)ns / units[u].div;
	/* three significant digits, deciding on the value as rounded */
	prec = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
	if (prec == 0 && v >= 999.5 && u + 1 < ARRAY_SIZE(units)) {
		u++;
		v = (double)ns / units[u].div;
		prec = 2;
	}
	snprintf(buf, len, "%.*f%s", prec, v, units[u].unit);
	return buf;
}

const char *fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char * const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned int u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1023.995 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

/* 2^power in bpftrace's style: 512, 1K, 2K, ..., 1M, ..., 16E. */
static void hist_label(char *buf, size_t len, unsigned int power)
{
	static const char suffix[] = " KMGTPE";
	unsigned int k = power / 10;

	if (k >= sizeof(suffix) - 1)
		k = sizeof(suffix) - 2;
	if (k)
		snprintf(buf, len, "%llu%c", 1ull << (power - 10 * k), suffix[k]);
	else
		snprintf(buf, len, "%llu", 1ull << power);
}

void hist_print(FILE *f, const char *title, const uint64_t *h, unsigned int n,
		bool open_last)
{
	char from[24], to[24], label[64];
	unsigned int i, first = n, last = 0;
	uint64_t max = 0;
	int j;

	for (i = 0; i < n; i++) {
		if (!h[i])
			continue;
		if (first == n)
			first = i;
		last = i;
		if (h[i] > max)
			max = h[i];
	}
	fprintf(f, "%s\n", title);
	if (!max) {
		fprintf(f, "(empty)\n");
		return;
	}
	for (i = first; i <= last; i++) {
		int bar = (int)((double)h[i] / (double)max * HIST_BAR_WIDTH);

		if (open_last && i == n - 1) {
			snprintf(label, sizeof(label), "[%llu, ...)", 1ull << i);
		} else {
			/* bucket 0 also counts 0 (and, for us, everything < 1) */
			if (i)
				hist_label(from, sizeof(from), i);
			else
				snprintf(from, sizeof(from), "0");
			hist_label(to, sizeof(to), i + 1);
			snprintf(label, sizeof(label), "[%s, %s)", from, to);
		}
		fprintf(f, "%-16s%8" PRIu64 " |", label, h[i]);
		for (j = 0; j < HIST_BAR_WIDTH; j++)
			fputc(j < bar ? '@' : ' ', f);
		fprintf(f, "|\n");
	}
}

/*
 * The per-vCPU values QEMU reports, indexed by vCPU index; vCPUs pcopy does
 * not know about read 0, as in QEMU for a vCPU that never faulted.  Returns
 * the array length (highest known index + 1) and fills *out, or -1 when out
 * of memory.
 */
enum vcpu_value { VCPU_BLOCKTIME_MS, VCPU_LATENCY_NS };

static int vcpu_array(const struct session_stats *s, enum vcpu_value what,
		      uint64_t **out)
{
	unsigned int i, n;
	uint64_t *a;

	*out = NULL;
	if (!s->nr_vcpus)
		return 0;
	n = s->vcpus[s->nr_vcpus - 1].index + 1;
	a = calloc(n, sizeof(*a));
	if (!a)
		return -1;
	for (i = 0; i < s->nr_vcpus; i++) {
		const struct vcpu_stats *v = &s->vcpus[i];

		a[v->index] = what == VCPU_BLOCKTIME_MS ?
			      v->blocktime_ns / NSEC_PER_MSEC :
			      stats_avg(v->latency_sum_ns, v->faults);
	}
	*out = a;
	return n;
}

/* "Label: [a, b, ...]", continuation lines aligned after the '['. */
static void print_qemu_list(FILE *f, const char *label, const struct session_stats *s,
			    enum vcpu_value what)
{
	int indent = (int)strlen(label) + 3;
	uint64_t *a;
	int i, n;

	n = vcpu_array(s, what, &a);
	if (n < 0) {
		fprintf(f, "%s: (out of memory)\n", label);
		return;
	}
	fprintf(f, "%s: [", label);
	for (i = 0; i < n; i++) {
		if (i && i % QEMU_PER_LINE == 0)
			fprintf(f, ",\n%*s", indent, "");
		else if (i)
			fprintf(f, ", ");
		fprintf(f, "%" PRIu64, a[i]);
	}
	fprintf(f, "]\n");
	free(a);
}

static void print_vcpu_table(FILE *f, const struct session_stats *s)
{
	char avg[16], min[16], max[16], bt[16];
	unsigned int i;

	if (s->truncated) {
		fprintf(f, "(the module left the per-vCPU table out of this reply)\n");
		return;
	}
	if (!s->nr_vcpus) {
		fprintf(f, "no vCPU known yet (pcopy learns them from KVM, or: pcopy vcpu PID TID VCPU)\n");
		return;
	}
	fprintf(f, "%4s  %-8s %-8s %10s %8s %8s %8s %10s %6s %12s %9s\n", "vCPU",
		"TID", "MAPPING", "FAULTS", "AVG", "MIN", "MAX", "BLOCKTIME", "OUTST",
		"DIRTY", "DIRTY/s");
	for (i = 0; i < s->nr_vcpus; i++) {
		const struct vcpu_stats *v = &s->vcpus[i];

		if (v->faults) {
			fmt_duration(avg, sizeof(avg),
				     stats_avg(v->latency_sum_ns, v->faults));
			fmt_duration(min, sizeof(min), v->latency_min_ns);
			fmt_duration(max, sizeof(max), v->latency_max_ns);
		} else {
			strcpy(avg, "-");
			strcpy(min, "-");
			strcpy(max, "-");
		}
		fmt_duration(bt, sizeof(bt), v->blocktime_ns);
		fprintf(f, "%4" PRIu32 "  %-8" PRIu32 " %-8s %10" PRIu64
			" %8s %8s %8s %10s %6" PRIu32 " %12" PRIu64 " %9" PRIu64 "\n",
			v->index, v->tid, v->detached ? "detached" :
			v->is_explicit ? "explicit" : "learned",
			v->faults, avg, min, max, bt, v->outstanding, v->dirty_pages,
			v->dirty_rate);
	}
}

void stats_print_text(FILE *f, const struct session_stats *s)
{
	char el[16], max[16];

	fprintf(f, "pid %" PRIu32 ": statistics over %s (since tracking began or the last reset)\n",
		s->pid, fmt_duration(el, sizeof(el), s->elapsed_ns));

	/* QEMU's names and units: blocktimes in ms, latencies in ns */
	fprintf(f, "Postcopy Blocktime (ms): %" PRIu64 "\n",
		s->blocktime_ns / NSEC_PER_MSEC);
	print_qemu_list(f, "Postcopy vCPU Blocktime (ms)", s, VCPU_BLOCKTIME_MS);
	fprintf(f, "Postcopy Latency (ns): %" PRIu64 "\n",
		stats_avg(s->latency_sum_ns, s->faults));
	fprintf(f, "Postcopy non-vCPU Latencies (ns): %" PRIu64 "\n",
		stats_avg(s->nonvcpu_latency_sum_ns, s->nonvcpu_faults));
	print_qemu_list(f, "Postcopy vCPU Latencies (ns)", s, VCPU_LATENCY_NS);

	fprintf(f, "Faults: %" PRIu64 " blocking (%" PRIu64 " vCPU, %" PRIu64
		" non-vCPU), %" PRIu64 " nowait, %" PRIu64 " interrupted\n",
		s->faults, s->vcpu_faults, s->nonvcpu_faults, s->nowait_faults,
		s->interrupted);
	fprintf(f, "Outstanding: %" PRIu32 " (max %" PRIu32 ")\n",
		s->outstanding, s->outstanding_max);
	if (s->execs)
		fprintf(f, "Followed: %" PRIu64 " execve()%s (counters kept, vCPUs learned again)\n",
			s->execs, s->execs == 1 ? "" : "s");
	if (s->missed)
		fprintf(f, "Missed: %" PRIu64 " blocking faults not timed (more in progress at once than the module's uffd_maxactive)\n",
			s->missed);
	fprintf(f, "Max latency: %s\n",
		s->faults ? fmt_duration(max, sizeof(max), s->latency_max_ns) : "-");
	fprintf(f, "Dirty pages: %" PRIu64 " (%" PRIu64 " pages/s over the last second)\n",
		s->dirty_pages, s->dirty_rate);

	fprintf(f, "\n");
	print_vcpu_table(f, s);

	fprintf(f, "\n");
	hist_print(f, "@latency_ns:", s->hist_ns, PCOPY_HIST_NS_BUCKETS, false);
	fprintf(f, "\n");
	hist_print(f, "@latency_us (QEMU buckets):", s->hist_us,
		   PCOPY_HIST_US_BUCKETS, true);
}

void stats_print_list(FILE *f, const struct session_stats *v, unsigned int n)
{
	char avg[16], bt[16], el[16];
	unsigned int i;

	if (!n) {
		fprintf(f, "no process is tracked\n");
		return;
	}
	fprintf(f, "%-8s %12s %12s %6s %6s %9s %10s %9s\n", "PID", "FAULTS",
		"NOWAIT", "OUTST", "VCPUS", "AVG LAT", "BLOCKTIME", "ELAPSED");
	for (i = 0; i < n; i++) {
		const struct session_stats *s = &v[i];

		if (s->faults)
			fmt_duration(avg, sizeof(avg),
				     stats_avg(s->latency_sum_ns, s->faults));
		else
			strcpy(avg, "-");
		fprintf(f, "%-8" PRIu32 " %12" PRIu64 " %12" PRIu64 " %6" PRIu32
			" %6" PRIu32 " %9s %10s %9s\n",
			s->pid, s->faults, s->nowait_faults, s->outstanding,
			s->known_vcpus, avg,
			fmt_duration(bt, sizeof(bt), s->blocktime_ns),
			fmt_duration(el, sizeof(el), s->elapsed_ns));
	}
}

static struct json_object *vcpu_to_json(struct jb *b, const struct vcpu_stats *v)
{
	struct json_object *o = json_object_new_object();

	jadd(b, o, "index", ju64(v->index));
	jadd(b, o, "tid", ju64(v->tid));
	jadd(b, o, "explicit", json_object_new_boolean(v->is_explicit));
	jadd(b, o, "detached", json_object_new_boolean(v->detached));
	jadd(b, o, "faults", ju64(v->faults));
	jadd(b, o, "latency_sum_ns", ju64(v->latency_sum_ns));
	jadd(b, o, "latency_avg_ns", ju64(stats_avg(v->latency_sum_ns, v->faults)));
	jadd(b, o, "latency_min_ns", ju64(v->latency_min_ns));
	jadd(b, o, "latency_max_ns", ju64(v->latency_max_ns));
	jadd(b, o, "blocktime_ns", ju64(v->blocktime_ns));
	jadd(b, o, "outstanding", ju64(v->outstanding));
	jadd(b, o, "dirty_pages", ju64(v->dirty_pages));
	jadd(b, o, "dirty_rate", ju64(v->dirty_rate));
	return o;
}

/* The members of QEMU's query-migrate that these statistics stand for. */
static struct json_object *qemu_to_json(struct jb *b, const struct session_stats *s)
{
	struct json_object *o = json_object_new_object();
	uint64_t *a;
	int n;

	jadd(b, o, "postcopy-blocktime", ju64(s->blocktime_ns / NSEC_PER_MSEC));
	n = vcpu_array(s, VCPU_BLOCKTIME_MS, &a);
	jadd(b, o, "postcopy-vcpu-blocktime", n < 0 ? NULL : ju64_array(b, a, n));
	free(a);
	jadd(b, o, "postcopy-latency", ju64(stats_avg(s->latency_sum_ns, s->faults)));
	n = vcpu_array(s, VCPU_LATENCY_NS, &a);
	jadd(b, o, "postcopy-vcpu-latency", n < 0 ? NULL : ju64_array(b, a, n));
	free(a);
	jadd(b, o, "postcopy-non-vcpu-latency",
	     ju64(stats_avg(s->nonvcpu_latency_sum_ns, s->nonvcpu_faults)));
	jadd(b, o, "postcopy-latency-dist",
	     ju64_array(b, s->hist_us, PCOPY_HIST_US_BUCKETS));
	return o;
}

struct json_object *stats_to_json(const struct session_stats *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *vcpus = json_object_new_array();
	struct jb b = { .failed = false };
	unsigned int i;

	jadd(&b, o, "pid", ju64(s->pid));
	jadd(&b, o, "faults", ju64(s->faults));
	jadd(&b, o, "nowait_faults", ju64(s->nowait_faults));
	jadd(&b, o, "interrupted", ju64(s->interrupted));
	jadd(&b, o, "missed", ju64(s->missed));
	jadd(&b, o, "threads_dropped", ju64(s->threads_dropped));
	jadd(&b, o, "execs", ju64(s->execs));
	jadd(&b, o, "latency_sum_ns", ju64(s->latency_sum_ns));
	jadd(&b, o, "latency_avg_ns", ju64(stats_avg(s->latency_sum_ns, s->faults)));
	jadd(&b, o, "latency_max_ns", ju64(s->latency_max_ns));
	jadd(&b, o, "outstanding", ju64(s->outstanding));
	jadd(&b, o, "outstanding_max", ju64(s->outstanding_max));
	jadd(&b, o, "vcpu_faults", ju64(s->vcpu_faults));
	jadd(&b, o, "nonvcpu_faults", ju64(s->nonvcpu_faults));
	jadd(&b, o, "nonvcpu_latency_sum_ns", ju64(s->nonvcpu_latency_sum_ns));
	jadd(&b, o, "nonvcpu_latency_avg_ns",
	     ju64(stats_avg(s->nonvcpu_latency_sum_ns, s->nonvcpu_faults)));
	jadd(&b, o, "known_vcpus", ju64(s->known_vcpus));
	jadd(&b, o, "blocktime_ns", ju64(s->blocktime_ns));
	jadd(&b, o, "elapsed_ns", ju64(s->elapsed_ns));
	jadd(&b, o, "dirty_pages", ju64(s->dirty_pages));
	jadd(&b, o, "dirty_rate", ju64(s->dirty_rate));
	for (i = 0; i < s->nr_vcpus; i++)
		jpush(&b, vcpus, vcpu_to_json(&b, &s->vcpus[i]));
	jadd(&b, o, "vcpus", vcpus);
	jadd(&b, o, "hist_ns", ju64_array(&b, s->hist_ns, PCOPY_HIST_NS_BUCKETS));
	jadd(&b, o, "hist_us", ju64_array(&b, s->hist_us, PCOPY_HIST_US_BUCKETS));
	jadd(&b, o, "truncated", json_object_new_boolean(s->truncated));
	jadd(&b, o, "qemu", qemu_to_json(&b, s));
	return jb_done(&b, o);
}

int stats_print_json(const struct session_stats *s)
{
	struct json_object *obj = stats_to_json(s);

	if (!obj)
		return -ENOMEM;
	print_json(obj);
	json_object_put(obj);
	return 0;
}
