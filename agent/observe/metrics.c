// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus text format 0.0.4 of pcopy.ko's state.  Every scrape is a
 * fresh GET_INFO and SESSION_GET dump; a session whose per-vCPU table did
 * not fit the dump message is asked for again on its own.  Text is
 * written with open_memstream().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "info.h"
#include "metrics.h"
#include "session.h"

/* A label value with the format's escapes: backslash, quote, newline. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A session's labels, without the braces: pid and comm, then its id. */
struct labels {
	char vm[96];		/* pid="..",comm=".." (a vCPU's series too) */
	char text[128];		/* vm,session_id=".." */
};

static void session_labels(const struct session_stats *s, struct labels *l)
{
	char path[64], comm[64] = "";
	FILE *f, *m;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", s->pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(comm, 1, sizeof(comm) - 1, f);
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	l->vm[0] = '\0';
	m = fmemopen(l->vm, sizeof(l->vm), "w");
	if (m) {
		fprintf(m, "pid=\"%" PRIu32 "\",comm=\"", s->pid);
		put_label(m, comm);
		fputc('"', m);
		fclose(m);
	}
	snprintf(l->text, sizeof(l->text), "%s,session_id=\"%" PRIu64 "\"", l->vm,
		 s->session_id);
}

struct metric {
	const char *name, *type, *help;
};

static void head(FILE *f, const struct metric *m)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* Series of every session: one metric at a time, as the format wants. */
enum sess_metric {
	SM_FAULTS, SM_NOWAIT, SM_INTERRUPTED, SM_MISSED, SM_NONVCPU, SM_BLOCKTIME,
	SM_OUTSTANDING, SM_KNOWN_VCPUS, SM_DIRTY, SM_DIRTY_RATE, SM_EXECS, SM_ELAPSED,
	SM_RING_LOST_RECORDS, SM_RING_LOST_GFNS,
	__SM_MAX
};

static const struct metric sess_metrics[__SM_MAX] = {
	[SM_FAULTS]	 = { "pcopy_faults_total", "counter", "Blocking userfaults timed." },
	[SM_NOWAIT]	 = { "pcopy_nowait_faults_total", "counter", "Userfaults that did not wait." },
	[SM_INTERRUPTED] = { "pcopy_interrupted_faults_total", "counter",
			     "Blocking userfaults ended by a signal." },
	[SM_MISSED]	 = { "pcopy_missed_faults_total", "counter",
			     "Blocking userfaults not timed (uffd_maxactive reached)." },
	[SM_NONVCPU]	 = { "pcopy_nonvcpu_faults_total", "counter",
			     "Blocking userfaults of threads that are no vCPU." },
	[SM_BLOCKTIME]	 = { "pcopy_blocktime_seconds_total", "counter",
			     "Whole-VM blocktime: time every known vCPU was blocked at once." },
	[SM_OUTSTANDING] = { "pcopy_outstanding_faults", "gauge", "Blocking userfaults in progress." },
	[SM_KNOWN_VCPUS] = { "pcopy_known_vcpus", "gauge", "vCPUs mapped to a thread." },
	[SM_DIRTY]	 = { "pcopy_dirty_pages_total", "counter", "GFNs KVM pushed to the dirty rings." },
	[SM_DIRTY_RATE]	 = { "pcopy_dirty_pages_per_second", "gauge",
			     "Dirty GFNs per second over the last second." },
	[SM_EXECS]	 = { "pcopy_execs_total", "counter", "execve()s the session followed." },
	[SM_ELAPSED]	 = { "pcopy_session_elapsed_seconds", "gauge",
			     "Time since the session began or was last reset." },
	[SM_RING_LOST_RECORDS] = { "pcopy_ring_lost_records_total", "counter",
				   "Records the session's record rings dropped: their consumer lagged." },
	[SM_RING_LOST_GFNS] = { "pcopy_ring_lost_dirty_gfns_total", "counter",
				"Dirty GFNs the session's record rings dropped." },
};

static void sess_value(FILE *f, enum sess_metric m, const struct session_stats *s)
{
	switch (m) {
	case SM_FAULTS:		fprintf(f, "%" PRIu64, s->faults); break;
	case SM_NOWAIT:		fprintf(f, "%" PRIu64, s->nowait_faults); break;
	case SM_INTERRUPTED:	fprintf(f, "%" PRIu64, s->interrupted); break;
	case SM_MISSED:		fprintf(f, "%" PRIu64, s->missed); break;
	case SM_NONVCPU:	fprintf(f, "%" PRIu64, s->nonvcpu_faults); break;
	case SM_BLOCKTIME:	fprintf(f, "%.9f", secs(s->blocktime_ns)); break;
	case SM_OUTSTANDING:	fprintf(f, "%" PRIu32, s->outstanding); break;
	case SM_KNOWN_VCPUS:	fprintf(f, "%" PRIu32, s->known_vcpus); break;
	case SM_DIRTY:		fprintf(f, "%" PRIu64, s->dirty_pages); break;
	case SM_DIRTY_RATE:	fprintf(f, "%" PRIu64, s->dirty_rate); break;
	case SM_EXECS:		fprintf(f, "%" PRIu64, s->execs); break;
	case SM_ELAPSED:	fprintf(f, "%.9f", secs(s->elapsed_ns)); break;
	case SM_RING_LOST_RECORDS: fprintf(f, "%" PRIu64, s->ring_lost_records); break;
	case SM_RING_LOST_GFNS:	fprintf(f, "%" PRIu64, s->ring_lost_gfns); break;
	default:		break;
	}
}

enum vcpu_metric {
	VM_FAULTS, VM_LATENCY, VM_LATENCY_MAX, VM_BLOCKTIME, VM_OUTSTANDING, VM_DIRTY,
	VM_DIRTY_RATE, __VM_MAX
};

static const struct metric vcpu_metrics[__VM_MAX] = {
	[VM_FAULTS]	 = { "pcopy_vcpu_faults_total", "counter", "Blocking userfaults of the vCPU." },
	[VM_LATENCY]	 = { "pcopy_vcpu_fault_latency_seconds_total", "counter",
			     "Sum of the vCPU's blocking userfault latencies." },
	[VM_LATENCY_MAX] = { "pcopy_vcpu_fault_latency_max_seconds", "gauge",
			     "Longest blocking userfault of the vCPU." },
	[VM_BLOCKTIME]	 = { "pcopy_vcpu_blocktime_seconds_total", "counter",
			     "Time the vCPU was blocked in userfaults." },
	[VM_OUTSTANDING] = { "pcopy_vcpu_outstanding_faults", "gauge",
			     "Blocking userfaults of the vCPU in progress." },
	[VM_DIRTY]	 = { "pcopy_vcpu_dirty_pages_total", "counter",
			     "GFNs KVM pushed to the vCPU's dirty ring." },
	[VM_DIRTY_RATE]	 = { "pcopy_vcpu_dirty_pages_per_second", "gauge",
			     "The vCPU's dirty GFNs per second over the last second." },
};

static void vcpu_value(FILE *f, enum vcpu_metric m, const struct vcpu_stats *v)
{
	switch (m) {
	case VM_FAULTS:		fprintf(f, "%" PRIu64, v->faults); break;
	case VM_LATENCY:	fprintf(f, "%.9f", secs(v->latency_sum_ns)); break;
	case VM_LATENCY_MAX:	fprintf(f, "%.9f", secs(v->latency_max_ns)); break;
	case VM_BLOCKTIME:	fprintf(f, "%.9f", secs(v->blocktime_ns)); break;
	case VM_OUTSTANDING:	fprintf(f, "%" PRIu32, v->outstanding); break;
	case VM_DIRTY:		fprintf(f, "%" PRIu64, v->dirty_pages); break;
	case VM_DIRTY_RATE:	fprintf(f, "%" PRIu64, v->dirty_rate); break;
	default:		break;
	}
}

/*
 * The latency histogram: hist_ns bucket i counts [2^i, 2^(i+1)) ns, so its
 * upper bound "le" is 2^(i+1) ns; the last bucket has none but +Inf.
 */
static void histogram(FILE *f, const struct session_stats *s, const struct labels *l)
{
	uint64_t cum = 0;
	int i;

	for (i = 0; i < PCOPY_HIST_NS_BUCKETS - 1; i++) {
		cum += s->hist_ns[i];
		fprintf(f, "pcopy_fault_latency_seconds_bucket{%s,le=\"%.9g\"} %" PRIu64 "\n",
			l->text, secs(2ull << i), cum);
	}
	cum += s->hist_ns[i];
	fprintf(f, "pcopy_fault_latency_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n",
		l->text, cum);
	fprintf(f, "pcopy_fault_latency_seconds_sum{%s} %.9f\n", l->text,
		secs(s->latency_sum_ns));
	fprintf(f, "pcopy_fault_latency_seconds_count{%s} %" PRIu64 "\n", l->text, cum);
}

static void render(FILE *f, const struct module_info *in, const struct session_set *set)
{
	struct labels *l = calloc(set->n ? set->n : 1, sizeof(*l));
	static const struct metric info_m = {
		"pcopy_module_info", "gauge", "pcopy.ko's version and ABI (always 1)."
	}, uffd_m = {
		"pcopy_uffd_missed_total", "counter",
		"Userfaults of all processes not timed: uffd_maxactive were in progress."
	}, probe_m = {
		"pcopy_probe_missed_total", "counter",
		"Hits of pcopy's probes the kprobes core skipped."
	}, sess_m = {
		"pcopy_sessions", "gauge", "Live sessions (tracked processes)."
	}, ended_m = {
		"pcopy_ended_sessions", "gauge", "Ended sessions the module keeps."
	}, auto_m = {
		"pcopy_auto_sessions_created_total", "counter", "Sessions auto-attach created."
	}, hist_m = {
		"pcopy_fault_latency_seconds", "histogram", "Blocking userfault latency."
	};
	unsigned int i, j;
	int m;

	head(f, &info_m);
	fprintf(f, "pcopy_module_info{version=\"");
	put_label(f, in->version);
	fprintf(f, "\",abi=\"%" PRIu32 "\"} 1\n", in->abi);
	head(f, &uffd_m);
	fprintf(f, "%s %" PRIu64 "\n", uffd_m.name, in->uffd_missed);
	head(f, &probe_m);
	fprintf(f, "%s %" PRIu64 "\n", probe_m.name, in->probe_missed);
	head(f, &sess_m);
	fprintf(f, "%s %u\n", sess_m.name, set->n);
	head(f, &ended_m);
	fprintf(f, "%s %" PRIu32 "\n", ended_m.name, in->ended_count);
	head(f, &auto_m);
	fprintf(f, "%s %" PRIu64 "\n", auto_m.name, in->auto_created);
	if (!l)
		return;

	for (i = 0; i < set->n; i++)
		session_labels(&set->v[i], &l[i]);
	for (m = 0; m < __SM_MAX; m++) {
		head(f, &sess_metrics[m]);
		for (i = 0; i < set->n; i++) {
			fprintf(f, "%s{%s} ", sess_metrics[m].name, l[i].text);
			sess_value(f, m, &set->v[i]);
			fputc('\n', f);
		}
	}
	head(f, &hist_m);
	for (i = 0; i < set->n; i++)
		histogram(f, &set->v[i], &l[i]);
	for (m = 0; m < __VM_MAX; m++) {
		head(f, &vcpu_metrics[m]);
		for (i = 0; i < set->n; i++) {
			const struct session_stats *s = &set->v[i];

			for (j = 0; j < s->nr_vcpus; j++) {
				fprintf(f, "%s{%s,vcpu=\"%" PRIu32 "\"} ", vcpu_metrics[m].name,
					l[i].vm, s->vcpus[j].index);
				vcpu_value(f, m, &s->vcpus[j]);
				fputc('\n', f);
			}
		}
	}
	free(l);
}

int metrics_render(struct pnl *p, char **out, size_t *len)
{
	struct session_set set = { 0 };
	struct module_info in;
	struct nl_msg *msg;
	unsigned int i;
	FILE *f;
	int ret;

	*out = NULL;
	*len = 0;
	ret = module_info_get(p, &in);
	if (ret) {
		session_perror("exporter: module info", ret, NULL, NULL);
		return ret;
	}
	msg = pnl_msg(p, PCOPY_CMD_SESSION_GET, NLM_F_DUMP);
	ret = msg ? pnl_request(p, msg, session_set_add, &set) : -ENOMEM;
	if (ret) {
		session_perror("exporter: sessions", ret, NULL, set.why);
		goto out;
	}
	/* a dump message may leave the vCPU table out: ask for it alone */
	for (i = 0; i < set.n; i++) {
		struct session_stats one = { 0 };

		if (!set.v[i].truncated)
			continue;
		if (session_get(p, set.v[i].pid, set.v[i].session_id, false, &one,
				set.why, sizeof(set.why)))
			continue;	/* ended in between: keep what the dump said */
		session_stats_free(&set.v[i]);
		set.v[i] = one;
	}
	f = open_memstream(out, len);
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	render(f, &in, &set);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		ret = -ENOMEM;
	}
out:
	session_set_free(&set);
	return ret;
}
