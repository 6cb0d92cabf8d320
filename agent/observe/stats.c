// SPDX-License-Identifier: GPL-2.0
/*
 * Session statistics for humans (text) and programs (JSON).  The text
 * borrows two familiar layouts: QEMU 10.1's `info migrate -a` postcopy
 * block, so a number can be compared with what QEMU reports for the same
 * migration (and `pcopy stats --qemu` prints nothing else, for QEMU's log
 * parsers), and bpftrace's hist(), so the histograms read like a bpftrace
 * one-liner run alongside.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

const char *end_reason_name(uint32_t why)
{
	switch (why) {
	case PCOPY_END_DELETED:
		return "untracked";
	case PCOPY_END_EXITED:
		return "exited";
	case PCOPY_END_UNLOAD:
		return "module unloaded";
	case PCOPY_END_EXEC_LOST:
		return "exec not followed";
	}
	return "unknown reason";
}

/* The JSON spelling: one word each. */
static const char *end_reason_json(uint32_t why)
{
	switch (why) {
	case PCOPY_END_DELETED:
		return "deleted";
	case PCOPY_END_EXITED:
		return "exited";
	case PCOPY_END_UNLOAD:
		return "unload";
	case PCOPY_END_EXEC_LOST:
		return "exec_lost";
	}
	return "unknown";
}

const char *fmt_time(char *buf, size_t len, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%" PRIu64 " s", ns / 1000000000u);
	return buf;
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
 * The figures of QEMU 10.1's query-migrate postcopy members (qapi/
 * migration.json, MigrationInfo), computed once for the text and the JSON
 * forms.  The vCPU lists are indexed by vCPU index, up to the highest one
 * pcopy knows; vCPUs it does not know read 0, as in QEMU for a vCPU that
 * never faulted.  QEMU's blocktimes are uint32 ms: pcopy's u64 ns saturate
 * there rather than wrap.
 */
struct qemu_view {
	uint64_t blocktime_ms;
	uint64_t latency_ns;
	uint64_t nonvcpu_latency_ns;
	bool has_vcpus;			/* the two vCPU lists are present */
	unsigned int nr;		/* their length */
	uint64_t *vcpu_blocktime_ms;
	uint64_t *vcpu_latency_ns;
};

static uint64_t qemu_ms(uint64_t ns)
{
	uint64_t ms = ns / NSEC_PER_MSEC;

	return ms > UINT32_MAX ? UINT32_MAX : ms;
}

static void qemu_view_free(struct qemu_view *q)
{
	free(q->vcpu_blocktime_ms);
	free(q->vcpu_latency_ns);
}

/* 0, or -ENOMEM with nothing to free. */
static int qemu_view_get(const struct session_stats *s, struct qemu_view *q)
{
	unsigned int i;

	*q = (struct qemu_view) {
		.blocktime_ms = qemu_ms(s->blocktime_ns),
		.latency_ns = stats_avg(s->latency_sum_ns, s->faults),
		.nonvcpu_latency_ns = stats_avg(s->nonvcpu_latency_sum_ns,
						s->nonvcpu_faults),
		/* a reply without the vCPU table: QEMU's members absent */
		.has_vcpus = !s->truncated,
	};
	if (!q->has_vcpus || !s->nr_vcpus)
		return 0;
	q->nr = s->vcpus[s->nr_vcpus - 1].index + 1;
	q->vcpu_blocktime_ms = calloc(q->nr, sizeof(uint64_t));
	q->vcpu_latency_ns = calloc(q->nr, sizeof(uint64_t));
	if (!q->vcpu_blocktime_ms || !q->vcpu_latency_ns) {
		qemu_view_free(q);
		return -ENOMEM;
	}
	for (i = 0; i < s->nr_vcpus; i++) {
		const struct vcpu_stats *v = &s->vcpus[i];

		q->vcpu_blocktime_ms[v->index] = qemu_ms(v->blocktime_ns);
		q->vcpu_latency_ns[v->index] = stats_avg(v->latency_sum_ns, v->faults);
	}
	return 0;
}

/* "Label:", then " [a, b, ...]", 10 values a line, as QEMU lays it out. */
static void print_qemu_list(FILE *f, const char *label, const uint64_t *a,
			    unsigned int n)
{
	unsigned int i;

	fprintf(f, "%s:\n [", label);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu64, !i ? "" : i % QEMU_PER_LINE ? ", " : ",\n  ",
			a[i]);
	fprintf(f, "]\n");
}

/*
 * A bucket bound of QEMU's latency distribution: 2^power us in whole us,
 * ms or sec, each step down by 1000 and truncated (2^16 us is "65 ms").
 */
static void qemu_bound(char *buf, size_t len, unsigned int power)
{
	static const char * const units[] = { "us", "ms", "sec" };
	uint64_t v = 1ull << power;
	unsigned int u = 0;

	for (; v >= 1000 && u + 1 < ARRAY_SIZE(units); u++)
		v /= 1000;
	snprintf(buf, len, "%" PRIu64 " %s", v, units[u]);
}

/*
 * The lines of QEMU 10.1's migration_dump_blocktime(), in its order; QEMU
 * prints each one when its member is present, and pcopy has every member
 * but the vCPU lists of a reply without the vCPU table.  The distribution
 * is left out when @dist is false.
 */
static void print_qemu(FILE *f, const struct session_stats *s,
		       const struct qemu_view *q, bool dist)
{
	char from[16], to[16];
	unsigned int i;

	fprintf(f, "Postcopy Blocktime (ms): %" PRIu64 "\n", q->blocktime_ms);
	if (q->has_vcpus)
		print_qemu_list(f, "Postcopy vCPU Blocktime (ms)",
				q->vcpu_blocktime_ms, q->nr);
	fprintf(f, "Postcopy Latency (ns): %" PRIu64 "\n", q->latency_ns);
	fprintf(f, "Postcopy non-vCPU Latencies (ns): %" PRIu64 "\n",
		q->nonvcpu_latency_ns);
	if (q->has_vcpus)
		print_qemu_list(f, "Postcopy vCPU Latencies (ns)",
				q->vcpu_latency_ns, q->nr);
	if (!dist)
		return;
	fprintf(f, "Postcopy Latency Distribution:\n");
	for (i = 0; i < PCOPY_HIST_US_BUCKETS; i++) {
		qemu_bound(from, sizeof(from), i);
		qemu_bound(to, sizeof(to), i + 1);
		fprintf(f, "  [ %8s - %8s ]: %10" PRIu64 "\n", from, to, s->hist_us[i]);
	}
}

int stats_print_qemu(FILE *f, const struct session_stats *s)
{
	struct qemu_view q;

	if (qemu_view_get(s, &q))
		return -ENOMEM;
	print_qemu(f, s, &q, true);
	qemu_view_free(&q);
	return 0;
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

int stats_print_text(FILE *f, const struct session_stats *s)
{
	char el[16], max[16], when[32];
	struct qemu_view q;

	if (qemu_view_get(s, &q))
		return -ENOMEM;

	if (s->ended)
		fprintf(f, "pid %" PRIu32 ": ENDED (%s) at %s, session %" PRIu64
			"; final statistics over %s\n", s->pid,
			end_reason_name(s->end_reason),
			fmt_time(when, sizeof(when), s->end_time_ns), s->session_id,
			fmt_duration(el, sizeof(el), s->elapsed_ns));
	else
		fprintf(f, "pid %" PRIu32 ": statistics over %s (since tracking began or the last reset)\n",
			s->pid, fmt_duration(el, sizeof(el), s->elapsed_ns));
	if (s->auto_attached)
		fprintf(f, "Auto-attached by the module (pcopy auto)%s\n",
			s->follow_forks ? ", following forks" : "");
	else if (s->parent_id)
		fprintf(f, "Child of session %" PRIu64 " (a followed fork)\n", s->parent_id);
	else if (s->follow_forks)
		fprintf(f, "Following forks: every child process gets a session\n");
	/* QEMU's names and units; its distribution is the us histogram below */
	print_qemu(f, s, &q, false);
	qemu_view_free(&q);

	fprintf(f, "Faults: %" PRIu64 " blocking (%" PRIu64 " vCPU, %" PRIu64
		" non-vCPU), %" PRIu64 " nowait, %" PRIu64 " interrupted\n",
		s->faults, s->vcpu_faults, s->nonvcpu_faults, s->nowait_faults,
		s->interrupted);
	fprintf(f, "Outstanding: %" PRIu32 " (max %" PRIu32 ")\n",
		s->outstanding, s->outstanding_max);
	if (s->execs)
		fprintf(f, "Followed: %" PRIu64 " execve()%s (counters kept, vCPUs learned again)\n",
			s->execs, s->execs == 1 ? "" : "s");
	if (s->ring_lost_records || s->ring_lost_gfns)
		fprintf(f, "Ring losses: %" PRIu64 " records, %" PRIu64 " dirty GFNs dropped by full record rings (their consumers lag)\n",
			s->ring_lost_records, s->ring_lost_gfns);
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
	return 0;
}

void stats_print_list(FILE *f, const struct session_stats *v, unsigned int n,
		      bool ended)
{
	char avg[16], bt[16], el[16], when[32];
	unsigned int i;

	if (!n) {
		fprintf(f, ended ? "no ended session is kept\n" : "no process is tracked\n");
		return;
	}
	if (ended)
		fprintf(f, "%-8s %8s %-19s %-17s %12s %12s %6s %9s %10s %9s\n", "PID",
			"SESSION", "ENDED AT", "REASON", "FAULTS", "NOWAIT", "VCPUS",
			"AVG LAT", "BLOCKTIME", "ELAPSED");
	else
		fprintf(f, "%-8s %12s %12s %6s %6s %9s %10s %9s\n", "PID", "FAULTS",
			"NOWAIT", "OUTST", "VCPUS", "AVG LAT", "BLOCKTIME", "ELAPSED");
	for (i = 0; i < n; i++) {
		const struct session_stats *s = &v[i];

		if (s->faults)
			fmt_duration(avg, sizeof(avg),
				     stats_avg(s->latency_sum_ns, s->faults));
		else
			strcpy(avg, "-");
		fmt_duration(bt, sizeof(bt), s->blocktime_ns);
		fmt_duration(el, sizeof(el), s->elapsed_ns);
		if (ended)
			fprintf(f, "%-8" PRIu32 " %8" PRIu64 " %-19s %-17s %12" PRIu64
				" %12" PRIu64 " %6" PRIu32 " %9s %10s %9s\n",
				s->pid, s->session_id,
				fmt_time(when, sizeof(when), s->end_time_ns),
				end_reason_name(s->end_reason), s->faults,
				s->nowait_faults, s->known_vcpus, avg, bt, el);
		else
			fprintf(f, "%-8" PRIu32 " %12" PRIu64 " %12" PRIu64 " %6" PRIu32
				" %6" PRIu32 " %9s %10s %9s\n",
				s->pid, s->faults, s->nowait_faults, s->outstanding,
				s->known_vcpus, avg, bt, el);
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

/*
 * The members of QEMU 10.1's query-migrate that these statistics stand for,
 * in its schema's order; NULL when out of memory.
 */
static struct json_object *qemu_to_json(struct jb *b, const struct session_stats *s)
{
	struct json_object *o;
	struct qemu_view q;

	if (qemu_view_get(s, &q))
		return NULL;	/* jadd() records the failure */
	o = json_object_new_object();
	jadd(b, o, "postcopy-blocktime", ju64(q.blocktime_ms));
	if (q.has_vcpus)
		jadd(b, o, "postcopy-vcpu-blocktime",
		     ju64_array(b, q.vcpu_blocktime_ms, q.nr));
	jadd(b, o, "postcopy-latency", ju64(q.latency_ns));
	jadd(b, o, "postcopy-latency-dist",
	     ju64_array(b, s->hist_us, PCOPY_HIST_US_BUCKETS));
	if (q.has_vcpus)
		jadd(b, o, "postcopy-vcpu-latency",
		     ju64_array(b, q.vcpu_latency_ns, q.nr));
	jadd(b, o, "postcopy-non-vcpu-latency", ju64(q.nonvcpu_latency_ns));
	qemu_view_free(&q);
	return o;
}

struct json_object *stats_to_json(const struct session_stats *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *vcpus = json_object_new_array();
	struct jb b = { .failed = false };
	unsigned int i;

	jadd(&b, o, "pid", ju64(s->pid));
	jadd(&b, o, "session_id", ju64(s->session_id));
	jadd(&b, o, "auto_attached", json_object_new_boolean(s->auto_attached));
	jadd(&b, o, "follow_forks", json_object_new_boolean(s->follow_forks));
	jadd(&b, o, "parent_session_id", ju64(s->parent_id));
	if (s->ended) {
		struct json_object *e = json_object_new_object();

		jadd(&b, e, "reason", json_object_new_string(end_reason_json(s->end_reason)));
		jadd(&b, e, "time_ns", ju64(s->end_time_ns));
		jadd(&b, o, "ended", e);
	} else if (o && json_object_object_add(o, "ended", NULL)) {
		b.failed = true;	/* JSON null: live */
	}
	jadd(&b, o, "faults", ju64(s->faults));
	jadd(&b, o, "nowait_faults", ju64(s->nowait_faults));
	jadd(&b, o, "interrupted", ju64(s->interrupted));
	jadd(&b, o, "missed", ju64(s->missed));
	jadd(&b, o, "threads_dropped", ju64(s->threads_dropped));
	jadd(&b, o, "execs", ju64(s->execs));
	jadd(&b, o, "ring_lost_records", ju64(s->ring_lost_records));
	jadd(&b, o, "ring_lost_gfns", ju64(s->ring_lost_gfns));
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
