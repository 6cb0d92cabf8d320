// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: <debugfs>/pcopy/ for humans and tests.  Nothing here is ABI; the
 * agent only uses netlink.
 *
 *   status                     version, hooks, session counts
 *   ended                      the ended sessions kept, newest first
 *   sessions/<tgid>/summary    the session's figures, QEMU-style names
 *   sessions/<tgid>/hist       latency histograms as bars (bpftrace style)
 *   sessions/<tgid>/vcpus      the per-vCPU table
 *   sessions/<tgid>/faults     the faults blocked right now
 *
 * Session files stay safe to read while the session ends: debugfs removal
 * waits for readers, and the session is freed only after that.
 */
#include <linux/debugfs.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/ktime.h>

#include "internal.h"

static struct dentry *pcopy_dir;
static struct dentry *sessions_dir;

static const char * const feature_names[] = {
	"uffd_hook", "kvm", "dirty_ring_hook", "vcpu_map", "dirty_reset_hook",
	"missed_hook", "wake_hook", "exec_hook", "auto_hook",
	"fork_hook",
};

static int show_hook(void *arg, const char *name, u64 feature, int err,
		     const char *reason)
{
	struct seq_file *m = arg;

	if (err)
		seq_printf(m, "%s:\tnot attached (error %d): %s\n", name, err,
			   reason ?: "unknown");
	else
		seq_printf(m, "%s:\tattached\n", name);
	return 0;
}

static void show_auto(struct seq_file *m)
{
	struct pcopy_auto_config cfg;
	struct pcopy_auto_counters cnt;
	bool on;

	pcopy_auto_get(&on, &cfg, &cnt);
	seq_printf(m, "auto:\t%s\n", on ? "on" : "off");
	seq_printf(m, "auto_comm:\t%s\n", cfg.comm);
	seq_printf(m, "auto_cgroup:\t%llu\n", cfg.cgroup);
	seq_printf(m, "auto_max:\t%u\n", cfg.max);
	seq_printf(m, "auto_created:\t%llu\n", cnt.created);
	seq_printf(m, "auto_filtered:\t%llu\n", cnt.filtered);
	seq_printf(m, "auto_capped:\t%llu\n", cnt.capped);
	seq_printf(m, "auto_no_slot:\t%llu\n", cnt.no_slot);
	seq_printf(m, "auto_follow_forks:\t%d\n", cfg.follow_forks);
	seq_printf(m, "forks_followed:\t%llu\n", cnt.forks);
	seq_printf(m, "forks_lost:\t%llu\n", cnt.forks_lost);
}

static int status_show(struct seq_file *m, void *v)
{
	u64 f = pcopy_features();
	unsigned int i;

	BUILD_BUG_ON(BIT(ARRAY_SIZE(feature_names)) - 1 != __PCOPY_FEAT_ALL);

	seq_printf(m, "version:\t%s\n", PCOPY_MODULE_VERSION);
	seq_printf(m, "abi:\t%u\n", PCOPY_ABI_VERSION);
	seq_printf(m, "features:\t%#llx", f);
	for (i = 0; i < ARRAY_SIZE(feature_names); i++)
		if (f & BIT(i))
			seq_printf(m, " %s", feature_names[i]);
	seq_puts(m, "\n");
	if (pcopy_uffd_available())
		seq_puts(m, "handle_userfault:\tprobe ok\n");
	else
		seq_printf(m, "handle_userfault:\tunavailable (error %d)\n",
			   pcopy_uffd_probe_error());
	seq_printf(m, "kvm:\t%s\n", f & PCOPY_FEAT_KVM ? "loaded" : "not loaded");
	pcopy_kvm_hooks(show_hook, m);
	seq_printf(m, "sessions:\t%d\n", atomic_read(&pcopy_nr_sessions));
	/* live sessions plus ended ones still referenced by blocked faults */
	seq_printf(m, "sessions_allocated:\t%d\n", atomic_read(&pcopy_nr_allocated));
	show_auto(m);
	/* ended sessions kept for reading (not in sessions_allocated) */
	seq_printf(m, "sessions_ended:\t%u\n", pcopy_ended_count());
	seq_printf(m, "ended_max:\t%u\n", pcopy_ended_max());
	seq_printf(m, "ended_secs:\t%u\n", pcopy_ended_secs());
	seq_printf(m, "uffd_maxactive:\t%u\n", pcopy_uffd_maxactive());
	seq_printf(m, "faults_missed:\t%llu\n", pcopy_uffd_missed());
	seq_printf(m, "probe_missed:\t%llu\n", pcopy_probe_missed());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(status);

static u64 avg(u64 sum, u64 n)
{
	return n ? div64_u64(sum, n) : 0;
}

/* Snapshot for a session file's show(); NULL and -ENOMEM on failure. */
static struct pcopy_snapshot *snap_of(struct seq_file *m)
{
	struct pcopy_snapshot *snap = kvmalloc(sizeof(*snap), GFP_KERNEL);

	if (snap)
		pcopy_stats_snapshot(m->private, snap);
	return snap;
}

static int summary_show(struct seq_file *m, void *unused)
{
	struct pcopy_snapshot *snap = snap_of(m);
	struct pcopy_stats *st;
	unsigned int i, n = 0;

	if (!snap)
		return -ENOMEM;
	st = &snap->st;
	seq_printf(m, "pid:\t%d\n", snap->tgid);
	seq_printf(m, "elapsed_ns:\t%llu\n", snap->now - st->start);
	seq_printf(m, "faults:\t%llu\n", st->faults);
	seq_printf(m, "nowait_faults:\t%llu\n", st->nowait);
	seq_printf(m, "interrupted:\t%llu\n", st->interrupted);
	seq_printf(m, "missed:\t%llu\n", st->missed);
	seq_printf(m, "threads_dropped:\t%llu\n", st->threads_dropped);
	seq_printf(m, "execs:\t%llu\n", st->execs);
	seq_printf(m, "ring_lost_records:\t%llu\n", st->ring_lost_records);
	seq_printf(m, "ring_lost_gfns:\t%llu\n", st->ring_lost_gfns);
	seq_printf(m, "outstanding:\t%u\n", st->outstanding);
	seq_printf(m, "outstanding_max:\t%u\n", st->outstanding_max);
	seq_printf(m, "vcpu_faults:\t%llu\n", st->vcpu_faults);
	seq_printf(m, "nonvcpu_faults:\t%llu\n", st->nonvcpu_faults);
	seq_printf(m, "known_vcpus:\t%u\n", st->known_vcpus);
	seq_printf(m, "dirty_pages:\t%llu\n", st->dirty);
	seq_printf(m, "dirty_rate:\t%llu\n", st->dirty_rate);
	seq_printf(m, "postcopy-blocktime-ns:\t%llu\n", st->blocktime);
	seq_puts(m, "postcopy-vcpu-blocktime-ns:\t[");
	for (i = 0; i < PCOPY_MAX_VCPUS; i++)
		if (snap->vcpus[i].seen)
			seq_printf(m, "%s%llu", n++ ? ", " : "",
				   snap->vcpus[i].blocktime);
	seq_puts(m, "]\n");
	seq_printf(m, "postcopy-latency-ns:\t%llu\n", avg(st->lat_sum, st->faults));
	seq_printf(m, "postcopy-latency-max-ns:\t%llu\n", st->lat_max);
	seq_printf(m, "postcopy-non-vcpu-latency-ns:\t%llu\n",
		   avg(st->nonvcpu_lat_sum, st->nonvcpu_faults));
	n = 0;
	seq_puts(m, "postcopy-vcpu-latency-ns:\t[");
	for (i = 0; i < PCOPY_MAX_VCPUS; i++)
		if (snap->vcpus[i].seen)
			seq_printf(m, "%s%llu", n++ ? ", " : "",
				   avg(snap->vcpus[i].lat_sum, snap->vcpus[i].faults));
	seq_puts(m, "]\n");
	kvfree(snap);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(summary);

static void hist_label(char *buf, size_t len, unsigned int pow)
{
	static const char sfx[] = " KMGTPE";
	unsigned int k = min(pow / 10, 6U);
	/*
	 * pow <= 64 (the widest histogram), so the mantissa is 1 .. 512;
	 * min() tells the compiler too, or W=1 warns about truncation.
	 */
	unsigned int mant = 1U << min(pow - 10 * k, 9U);

	if (k)
		snprintf(buf, len, "%u%c", mant, sfx[k]);
	else
		snprintf(buf, len, "%u", mant);
}

/* bpftrace's hist() look: [lo, hi)  count |@@@@...| */
static void show_hist(struct seq_file *m, const char *name, const u64 *b,
		      unsigned int n, bool open_end)
{
	unsigned int i, first = n, last = 0, bar;
	char lo[16], hi[16], range[40];
	u64 max = 0;

	for (i = 0; i < n; i++) {
		if (!b[i])
			continue;
		first = min(first, i);
		last = i;
		max = max(max, b[i]);
	}
	seq_printf(m, "@%s:\n", name);
	for (i = first; i <= last && first < n; i++) {
		hist_label(lo, sizeof(lo), i);
		hist_label(hi, sizeof(hi), i + 1);
		if (open_end && i == n - 1)
			snprintf(range, sizeof(range), "[%s, ...)", lo);
		else
			snprintf(range, sizeof(range), "[%s, %s)", lo, hi);
		bar = max ? div64_u64(b[i] * 52, max) : 0;
		seq_printf(m, "%-20s %8llu |%.*s%*s|\n", range, b[i], bar,
			   "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
			   52 - bar, "");
	}
	seq_puts(m, "\n");
}

static int hist_show(struct seq_file *m, void *unused)
{
	struct pcopy_snapshot *snap = snap_of(m);

	if (!snap)
		return -ENOMEM;
	show_hist(m, "latency_ns", snap->st.hist_ns, PCOPY_HIST_NS_BUCKETS, false);
	show_hist(m, "latency_us (QEMU buckets)", snap->st.hist_us,
		  PCOPY_HIST_US_BUCKETS, true);
	kvfree(snap);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hist);

static int vcpus_show(struct seq_file *m, void *unused)
{
	struct pcopy_snapshot *snap = snap_of(m);
	unsigned int i;

	if (!snap)
		return -ENOMEM;
	seq_printf(m, "%5s %8s %8s %10s %12s %12s %12s %14s %5s %10s %10s\n",
		   "vcpu", "tid", "mapping", "faults", "avg_ns", "min_ns", "max_ns",
		   "blocktime_ns", "out", "dirty", "dirty/s");
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct pcopy_vcpu_stats *v = &snap->vcpus[i];

		if (!v->seen)
			continue;
		seq_printf(m, "%5u %8u %8s %10llu %12llu %12llu %12llu %14llu %5u %10llu %10llu\n",
			   i, v->tid, !v->known ? "detached" :
			   v->explicit ? "explicit" : "learned",
			   v->faults, avg(v->lat_sum, v->faults), v->lat_min,
			   v->lat_max, v->blocktime, v->outstanding, v->dirty,
			   v->dirty_rate);
	}
	kvfree(snap);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vcpus);

static const char *reason_name(u32 reason)
{
	switch (reason) {
	case PCOPY_REASON_MISSING:
		return "missing";
	case PCOPY_REASON_WP:
		return "wp";
	case PCOPY_REASON_MINOR:
		return "minor";
	}
	return "?";
}

static int faults_show(struct seq_file *m, void *unused)
{
	struct pcopy_session *s = m->private;
	struct pcopy_fault *f;
	unsigned long flags;
	unsigned int bkt;
	u64 now;

	seq_printf(m, "%8s %5s %18s %8s %14s\n", "tid", "vcpu", "address",
		   "reason", "waiting_ns");
	/* the fault hooks add and remove entries under s->lock */
	raw_spin_lock_irqsave(&s->lock, flags);
	now = pcopy_now();
	hash_for_each(s->faults, bkt, f, node) {
		if (f->vcpu == PCOPY_VCPU_NONE)
			seq_printf(m, "%8u %5s %#18lx %8s %14llu\n", f->tid, "-",
				   f->addr, reason_name(f->reason), now - f->start);
		else
			seq_printf(m, "%8u %5u %#18lx %8s %14llu\n", f->tid, f->vcpu,
				   f->addr, reason_name(f->reason), now - f->start);
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(faults);

static const char *end_name(u32 why)
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
	return "?";
}

static int ended_show(struct seq_file *m, void *unused)
{
	struct pcopy_session *s;
	u64 seq = U64_MAX;

	seq_printf(m, "%8s %8s %10s %20s %12s\n", "id", "pid", "reason",
		   "end_time_ns", "faults");
	mutex_lock(&pcopy_sessions_lock);
	while ((s = pcopy_session_ended_next(seq))) {
		seq_printf(m, "%8llu %8d %10s %20llu %12llu\n", s->id, s->tgid,
			   end_name(s->end_reason), s->end_time, s->st.faults);
		seq = s->end_seq;
	}
	mutex_unlock(&pcopy_sessions_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ended);

void pcopy_debugfs_session_add(struct pcopy_session *s)
{
	char name[16];

	snprintf(name, sizeof(name), "%d", s->tgid);
	s->dbg = debugfs_create_dir(name, sessions_dir);
	debugfs_create_file("summary", 0400, s->dbg, s, &summary_fops);
	debugfs_create_file("hist", 0400, s->dbg, s, &hist_fops);
	debugfs_create_file("vcpus", 0400, s->dbg, s, &vcpus_fops);
	debugfs_create_file("faults", 0400, s->dbg, s, &faults_fops);
}

void pcopy_debugfs_session_remove(struct pcopy_session *s)
{
	debugfs_remove_recursive(s->dbg);
	s->dbg = NULL;
}

void pcopy_debugfs_init(void)
{
	pcopy_dir = debugfs_create_dir("pcopy", NULL);
	debugfs_create_file("status", 0400, pcopy_dir, NULL, &status_fops);
	debugfs_create_file("ended", 0400, pcopy_dir, NULL, &ended_fops);
	sessions_dir = debugfs_create_dir("sessions", pcopy_dir);
}

void pcopy_debugfs_exit(void)
{
	debugfs_remove_recursive(pcopy_dir);
}
