// SPDX-License-Identifier: GPL-2.0
/*
 * Fault statistics of a session: counters, per-vCPU blocktime, whole-VM
 * blocktime and latency histograms.  Documentation/stats.rst defines each
 * figure; this file is the definition in code.
 *
 * The fault figures are under session->lock, taken from the fault hooks,
 * so everything is O(1) per fault and never sleeps or allocates: the table
 * of faults in progress is a hashtable of nodes embedded in the faults.
 * The lock is a raw spinlock (kprobe and tracepoint context, also on
 * PREEMPT_RT), never taken by an interrupt handler, but sometimes with
 * interrupts off already (the KVM tracepoints), so it is always taken with
 * the irqsave variants.
 *
 * Dirty figures are per vCPU and lock-free (see struct pcopy_vcpu_stats):
 * a dirtied page must not contend with every other vCPU of the VM.
 */
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/ktime.h>
#include <linux/sched.h>

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
	s->st.start = pcopy_now();
}

static bool all_blocked(const struct pcopy_stats *st)
{
	return st->known_vcpus && st->blocked_vcpus == st->known_vcpus;
}

/*
 * A vCPU's "known" or "blocked" state may have changed: apply it to the
 * whole-VM counts, closing or opening the all-blocked interval at @now.
 * Every change of known_vcpus or blocked_vcpus goes through here.
 */
static void vcpu_recount(struct pcopy_session *s, struct pcopy_vcpu_stats *v,
			 u64 now)
{
	struct pcopy_stats *st = &s->st;
	bool known = v->nthreads > 0;
	bool blocked = known && v->outstanding > 0;
	bool was_all = all_blocked(st);

	lockdep_assert_held(&s->lock);
	if (known == v->known && blocked == v->counted)
		return;
	st->known_vcpus += (int)known - (int)v->known;
	st->blocked_vcpus += (int)blocked - (int)v->counted;
	v->known = known;
	v->counted = blocked;
	if (known)
		v->seen = true;

	if (was_all && !all_blocked(st))
		st->blocktime += now - max(st->all_blocked_since, st->start);
	else if (!was_all && all_blocked(st))
		st->all_blocked_since = now;
}

/* A thread was mapped to (@delta 1) or unmapped from (-1) vCPU @vcpu. */
void pcopy_stats_vcpu_threads(struct pcopy_session *s, u32 vcpu, int delta,
			      u32 tid, bool explicit)
{
	struct pcopy_vcpu_stats *v = &s->vcpus[vcpu];

	lockdep_assert_held(&s->lock);
	v->nthreads += delta;
	if (delta >= 0) {
		WRITE_ONCE(v->tid, tid);
		v->explicit = explicit;
	}
	vcpu_recount(s, v, pcopy_now());
}

/* A fault that will not wait; returns the thread's vCPU for its record. */
u32 pcopy_stats_nowait(struct pcopy_session *s, u32 tid)
{
	unsigned long flags;
	u32 vcpu;

	raw_spin_lock_irqsave(&s->lock, flags);
	s->st.nowait++;
	vcpu = pcopy_thread_vcpu_locked(s, tid, current->start_time);
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return vcpu;
}

void pcopy_stats_missed(struct pcopy_session *s)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&s->lock, flags);
	s->st.missed++;
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/* Opens @f: fills in its vCPU and links it into the session. */
void pcopy_stats_fault_begin(struct pcopy_session *s, struct pcopy_fault *f)
{
	struct pcopy_stats *st = &s->st;
	unsigned long flags;

	raw_spin_lock_irqsave(&s->lock, flags);
	f->vcpu = pcopy_thread_vcpu_locked(s, f->tid, current->start_time);
	hash_add(s->faults, &f->node, f->tid);
	st->outstanding++;
	st->outstanding_max = max(st->outstanding_max, st->outstanding);
	if (f->vcpu != PCOPY_VCPU_NONE) {
		struct pcopy_vcpu_stats *v = &s->vcpus[f->vcpu];

		if (v->outstanding++ == 0) {
			v->blocked_since = f->start;
			vcpu_recount(s, v, f->start);
		}
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * userfaultfd's wake function woke @task, blocked in a fault of @s: the
 * fault was resolved, whatever signals are pending when it returns.
 */
void pcopy_stats_fault_woken(struct pcopy_session *s, struct task_struct *task)
{
	struct pcopy_fault *f;
	unsigned long flags;

	raw_spin_lock_irqsave(&s->lock, flags);
	hash_for_each_possible(s->faults, f, node, task->pid)
		if (f->task == task)
			f->woken = true;
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * Closes @f.  A fault that came back without waiting (the context was
 * released, or the SIGBUS feature answered it) counts as nowait, not as a
 * blocking fault; its few ns still close the blocked intervals it opened.
 */
void pcopy_stats_fault_end(struct pcopy_session *s, struct pcopy_fault *f,
			   u64 now, enum pcopy_fault_end how)
{
	struct pcopy_stats *st = &s->st;
	u64 lat = now - f->start;
	unsigned long flags;

	raw_spin_lock_irqsave(&s->lock, flags);
	hash_del(&f->node);
	st->outstanding--;
	if (how == PCOPY_FAULT_NOWAIT) {
		st->nowait++;
	} else {
		st->faults++;
		st->interrupted += how == PCOPY_FAULT_INTERRUPTED;
		st->lat_sum += lat;
		st->lat_max = max(st->lat_max, lat);
		st->hist_ns[pcopy_hist_ns_bucket(lat)]++;
		st->hist_us[pcopy_hist_us_bucket(lat)]++;
	}

	if (f->vcpu != PCOPY_VCPU_NONE) {
		struct pcopy_vcpu_stats *v = &s->vcpus[f->vcpu];

		if (how != PCOPY_FAULT_NOWAIT) {
			st->vcpu_faults++;
			v->faults++;
			v->lat_sum += lat;
			v->lat_min = v->faults == 1 ? lat : min(v->lat_min, lat);
			v->lat_max = max(v->lat_max, lat);
		}
		if (--v->outstanding == 0) {
			v->blocktime += now - max(v->blocked_since, st->start);
			vcpu_recount(s, v, now);
		}
	} else if (how != PCOPY_FAULT_NOWAIT) {
		st->nonvcpu_faults++;
		st->nonvcpu_lat_sum += lat;
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * Zero every figure but keep the bookkeeping of faults in progress and the
 * vCPU mappings, so that they still balance.  Intervals in progress
 * restart at the reset: the max() against st->start above clips them.
 */
void pcopy_stats_reset(struct pcopy_session *s)
{
	struct pcopy_stats *st = &s->st;
	unsigned long flags;
	unsigned int i;

	raw_spin_lock_irqsave(&s->lock, flags);
	st->faults = 0;
	st->nowait = 0;
	st->interrupted = 0;
	st->missed = 0;
	st->lat_sum = 0;
	st->lat_max = 0;
	st->outstanding_max = st->outstanding;
	st->vcpu_faults = 0;
	st->nonvcpu_faults = 0;
	st->nonvcpu_lat_sum = 0;
	st->blocktime = 0;
	st->threads_dropped = 0;
	st->start = pcopy_now();
	memset(st->hist_ns, 0, sizeof(st->hist_ns));
	memset(st->hist_us, 0, sizeof(st->hist_us));
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct pcopy_vcpu_stats *v = &s->vcpus[i];

		v->faults = 0;
		v->lat_sum = 0;
		v->lat_min = 0;
		v->lat_max = 0;
		v->blocktime = 0;
		/* a vCPU without threads now drops out of the table */
		v->seen = v->known;
	}
	/* the dirty figures' owners zero them when they see this */
	WRITE_ONCE(s->dirty_gen, s->dirty_gen + 1);
	atomic64_set(&s->dirty_other, 0);
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/* Copy the figures, with blocktime intervals still open counted up to now. */
void pcopy_stats_snapshot(struct pcopy_session *s, struct pcopy_snapshot *snap)
{
	struct pcopy_stats *st = &snap->st;
	unsigned long flags;
	unsigned int i;
	u32 gen;

	snap->tgid = s->tgid;
	raw_spin_lock_irqsave(&s->lock, flags);
	/* an ended session's clock stopped at its end */
	snap->now = s->end_now ? s->end_now : pcopy_now();
	*st = s->st;
	memcpy(snap->vcpus, s->vcpus, sizeof(snap->vcpus));
	gen = s->dirty_gen;
	raw_spin_unlock_irqrestore(&s->lock, flags);

	if (all_blocked(st))
		st->blocktime += snap->now - max(st->all_blocked_since, st->start);
	st->dirty = atomic64_read(&s->dirty_other);
	st->dirty_rate = 0;
	st->ring_lost_records = atomic64_read(&s->ring_lost_records);
	st->ring_lost_gfns = atomic64_read(&s->ring_lost_gfns);
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct pcopy_vcpu_stats *v = &snap->vcpus[i];
		struct pcopy_vcpu_stats *live = &s->vcpus[i];

		if (v->outstanding)
			v->blocktime += snap->now - max(v->blocked_since, st->start);
		/*
		 * Lock-free figures: read the live copy.  Pairs with the
		 * smp_store_release() of dirty_gen in pcopy_stats_dirty().
		 */
		if (smp_load_acquire(&live->dirty_gen) != gen) {
			v->dirty = 0;
			v->dirty_rate = 0;
		} else {
			v->dirty = READ_ONCE(live->dirty);
			v->dirty_rate = pcopy_rate_now(READ_ONCE(live->dirty_win_start),
						       READ_ONCE(live->dirty_win_count),
						       READ_ONCE(live->dirty_rate),
						       snap->now);
		}
		if (v->dirty)
			v->seen = true;
		st->dirty += v->dirty;
		st->dirty_rate += v->dirty_rate;
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

	if (!win_start)
		return 0;
	if (age >= NSEC_PER_SEC)
		return div64_u64(win_count * NSEC_PER_SEC, age);
	return last_rate;
}

/*
 * One GFN pushed to vCPU @vcpu's dirty ring, from the thread running that
 * vCPU (interrupts may be off).  This runs once per dirtied page: no lock,
 * and the coarse clock (the last tick), because rate windows need no
 * better and a precise clock read can cost more than the rest of the hook
 * (an emulated HPET, say).
 */
void pcopy_stats_dirty(struct pcopy_session *s, u32 vcpu)
{
	struct pcopy_vcpu_stats *v;
	u64 now, age;
	u32 gen;

	if (vcpu >= PCOPY_MAX_VCPUS) {
		atomic64_inc(&s->dirty_other);
		return;
	}
	v = &s->vcpus[vcpu];
	now = ktime_get_coarse_ns();
	gen = READ_ONCE(s->dirty_gen);
	if (v->dirty_gen != gen) {
		WRITE_ONCE(v->dirty, 0);
		WRITE_ONCE(v->dirty_rate, 0);
		WRITE_ONCE(v->dirty_win_count, 0);
		WRITE_ONCE(v->dirty_win_start, now);
		/* the zeroes are in place before readers trust the generation */
		smp_store_release(&v->dirty_gen, gen);
	} else if (!v->dirty_win_start) {
		WRITE_ONCE(v->dirty_win_start, now);
	}
	age = now - v->dirty_win_start;
	if (age >= NSEC_PER_SEC) {
		WRITE_ONCE(v->dirty_rate, div64_u64(v->dirty_win_count * NSEC_PER_SEC, age));
		WRITE_ONCE(v->dirty_win_start, now);
		WRITE_ONCE(v->dirty_win_count, 0);
	}
	WRITE_ONCE(v->dirty_win_count, v->dirty_win_count + 1);
	WRITE_ONCE(v->dirty, v->dirty + 1);
}
