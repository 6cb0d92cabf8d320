// SPDX-License-Identifier: GPL-2.0
/*
 * Fault statistics of a session: counters, per-vCPU blocktime, whole-VM
 * blocktime and latency histograms.  Documentation/stats.rst defines each
 * figure; this file is the definition in code.
 *
 * Everything here runs under session->lock, mostly from the fault hooks,
 * so it is O(1) per fault and never sleeps or allocates: the table of
 * faults in progress is a hashtable of nodes embedded in the faults.  The
 * lock is only ever taken in task context (sometimes with interrupts
 * already off, in the KVM tracepoints), never by an interrupt handler, so
 * it is a plain spinlock: no interrupt flag juggling on the fault path.
 */
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/ktime.h>

#include "internal.h"

unsigned int pcopy_hist_ns_bucket(u64 ns)
{
	return ns ? ilog2(ns) : 0;
}

/* QEMU's view: [2^i, 2^(i+1)) us, below 1 us in 0, the rest in the last. */
unsigned int pcopy_hist_us_bucket(u64 ns)
{
	u64 us = div_u64(ns, NSEC_PER_USEC);

	if (!us)
		return 0;
	return min_t(unsigned int, ilog2(us), PCOPY_HIST_US_BUCKETS - 1);
}

void pcopy_stats_init(struct pcopy_session *s)
{
	unsigned int i;

	s->st.start = ktime_get_ns();
	s->st.dirty_win_start = s->st.start;
	for (i = 0; i < PCOPY_MAX_VCPUS; i++)
		s->vcpus[i].dirty_win_start = s->st.start;
}

void pcopy_stats_nowait(struct pcopy_session *s)
{

	spin_lock(&s->lock);
	s->st.nowait++;
	spin_unlock(&s->lock);
}

static bool all_blocked(const struct pcopy_stats *st)
{
	return st->known_vcpus && st->blocked_vcpus == st->known_vcpus;
}

void pcopy_stats_fault_begin(struct pcopy_session *s, struct pcopy_fault *f)
{
	struct pcopy_stats *st = &s->st;

	spin_lock(&s->lock);
	hash_add(s->faults, &f->node, f->tid);
	st->outstanding++;
	st->outstanding_max = max(st->outstanding_max, st->outstanding);
	if (f->vcpu != PCOPY_VCPU_NONE) {
		struct pcopy_vcpu_stats *v = &s->vcpus[f->vcpu];

		if (v->outstanding++ == 0) {
			v->blocked_since = f->start;
			st->blocked_vcpus++;
			if (all_blocked(st))
				st->all_blocked_since = f->start;
		}
	}
	spin_unlock(&s->lock);
}

void pcopy_stats_fault_end(struct pcopy_session *s, struct pcopy_fault *f,
			   u64 now, bool interrupted)
{
	struct pcopy_stats *st = &s->st;
	u64 lat = now - f->start;

	spin_lock(&s->lock);
	hash_del(&f->node);
	st->outstanding--;
	st->faults++;
	st->interrupted += interrupted;
	st->lat_sum += lat;
	st->lat_max = max(st->lat_max, lat);
	st->hist_ns[pcopy_hist_ns_bucket(lat)]++;
	st->hist_us[pcopy_hist_us_bucket(lat)]++;

	if (f->vcpu != PCOPY_VCPU_NONE) {
		struct pcopy_vcpu_stats *v = &s->vcpus[f->vcpu];

		st->vcpu_faults++;
		v->faults++;
		v->lat_sum += lat;
		v->lat_min = v->faults == 1 ? lat : min(v->lat_min, lat);
		v->lat_max = max(v->lat_max, lat);
		if (--v->outstanding == 0) {
			/* the all-blocked interval ends before the count drops */
			if (all_blocked(st))
				st->blocktime += now - max(st->all_blocked_since, st->start);
			st->blocked_vcpus--;
			v->blocktime += now - max(v->blocked_since, st->start);
		}
	} else {
		st->nonvcpu_faults++;
		st->nonvcpu_lat_sum += lat;
	}
	spin_unlock(&s->lock);
}

void pcopy_stats_vcpu_known(struct pcopy_session *s, u32 vcpu, u32 tid,
			    bool explicit)
{
	struct pcopy_stats *st = &s->st;
	struct pcopy_vcpu_stats *v = &s->vcpus[vcpu];

	spin_lock(&s->lock);
	v->tid = tid;
	v->explicit = explicit;
	if (!v->known) {
		/* a running vCPU joins: "all vCPUs blocked" stops being true */
		if (all_blocked(st))
			st->blocktime += ktime_get_ns() -
					 max(st->all_blocked_since, st->start);
		v->known = true;
		st->known_vcpus++;
	}
	spin_unlock(&s->lock);
}

/*
 * Zero every figure but keep the bookkeeping of faults in progress, so that
 * they still balance when they end.  Intervals in progress restart at the
 * reset: the max() against st->start above clips them.
 */
void pcopy_stats_reset(struct pcopy_session *s)
{
	struct pcopy_stats *st = &s->st;
	unsigned int i;

	spin_lock(&s->lock);
	st->faults = 0;
	st->nowait = 0;
	st->interrupted = 0;
	st->lat_sum = 0;
	st->lat_max = 0;
	st->outstanding_max = st->outstanding;
	st->vcpu_faults = 0;
	st->nonvcpu_faults = 0;
	st->nonvcpu_lat_sum = 0;
	st->blocktime = 0;
	st->start = ktime_get_ns();
	st->dirty = 0;
	st->dirty_win_start = st->start;
	st->dirty_win_count = 0;
	st->dirty_rate = 0;
	memset(st->hist_ns, 0, sizeof(st->hist_ns));
	memset(st->hist_us, 0, sizeof(st->hist_us));
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct pcopy_vcpu_stats *v = &s->vcpus[i];

		v->faults = 0;
		v->lat_sum = 0;
		v->lat_min = 0;
		v->lat_max = 0;
		v->blocktime = 0;
		v->dirty = 0;
		v->dirty_win_start = st->start;
		v->dirty_win_count = 0;
		v->dirty_rate = 0;
	}
	spin_unlock(&s->lock);
}

/* Copy the figures, with blocktime intervals still open counted up to now. */
void pcopy_stats_snapshot(struct pcopy_session *s, struct pcopy_snapshot *snap)
{
	struct pcopy_stats *st = &snap->st;
	unsigned int i;

	snap->tgid = s->tgid;
	spin_lock(&s->lock);
	snap->now = ktime_get_ns();
	*st = s->st;
	memcpy(snap->vcpus, s->vcpus, sizeof(snap->vcpus));
	spin_unlock(&s->lock);

	if (all_blocked(st))
		st->blocktime += snap->now - max(st->all_blocked_since, st->start);
	st->dirty_rate = pcopy_rate_now(st->dirty_win_start, st->dirty_win_count,
					st->dirty_rate, snap->now);
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct pcopy_vcpu_stats *v = &snap->vcpus[i];

		if (v->outstanding)
			v->blocktime += snap->now - max(v->blocked_since, st->start);
		v->dirty_rate = pcopy_rate_now(v->dirty_win_start, v->dirty_win_count,
					       v->dirty_rate, snap->now);
	}
}

/*
 * Dirty rate: pages counted in windows of at least a second.  The rate
 * shown is the current window's once it is longer than a second (so it
 * decays to 0 when dirtying stops), else the last full window's.
 */
u64 pcopy_rate_now(u64 win_start, u64 win_count, u64 last_rate, u64 now)
{
	u64 age = now - win_start;

	if (age >= NSEC_PER_SEC)
		return div64_u64(win_count * NSEC_PER_SEC, age);
	return last_rate;
}

static void rate_tick(u64 *win_start, u64 *win_count, u64 *rate, u64 now)
{
	u64 age = now - *win_start;

	if (age >= NSEC_PER_SEC) {
		*rate = div64_u64(*win_count * NSEC_PER_SEC, age);
		*win_start = now;
		*win_count = 0;
	}
	(*win_count)++;
}

/*
 * One GFN pushed to a vCPU's dirty ring (interrupts may be off).  This runs
 * once per dirtied page, so it reads the coarse clock (the last tick): rate
 * windows need no better, and a precise clock read can cost more than the
 * rest of the hook (an emulated HPET, say).
 */
void pcopy_stats_dirty(struct pcopy_session *s, u32 vcpu)
{
	struct pcopy_stats *st = &s->st;
	u64 now = ktime_get_coarse_ns();

	spin_lock(&s->lock);
	st->dirty++;
	rate_tick(&st->dirty_win_start, &st->dirty_win_count, &st->dirty_rate, now);
	if (vcpu < PCOPY_MAX_VCPUS) {
		struct pcopy_vcpu_stats *v = &s->vcpus[vcpu];

		v->dirty++;
		rate_tick(&v->dirty_win_start, &v->dirty_win_count,
			  &v->dirty_rate, now);
	}
	spin_unlock(&s->lock);
}
