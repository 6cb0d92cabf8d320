/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces between the parts of pcopy.ko.  The user-visible ABI
 * is in uapi/pcopy.h.
 *
 * Locking, outermost first:
 *   pcopy_sessions_lock (mutex)  the session table and session lifetimes
 *   pcopy_kvm_lock (mutex)       kvm.ko's tracepoints (kvm.c)
 *   pcopy_bind_lock (raw spinlock) the address-space bindings: writers of
 *                                the by-mm table, also from the exec hook
 *   session->lock (raw spinlock) a session's statistics, fault and thread
 *                                tables; taken from the hooks, never sleeps
 *   batch->lock (raw spinlock)   one vCPU's dirty batch (ring.c)
 *   ring->lock (raw spinlock)    a ring's producer side (ring.c)
 * The fault hooks find sessions under RCU only.
 */
#ifndef _PCOPY_INTERNAL_H
#define _PCOPY_INTERNAL_H

#include <linux/hashtable.h>
#include <linux/timekeeping.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <pcopy.h>

#define PCOPY_MODULE_VERSION "0.2.0"

struct mm_struct;
struct pid;
struct dentry;
struct sk_buff;
struct netlink_ext_ack;
struct pcopy_ring;

/*
 * Per-vCPU counters.  A vCPU is "known" while at least one thread is mapped
 * to it; "seen" once it ever was, so its figures stay visible after its
 * threads are gone.  The fault figures are under session->lock.
 *
 * The dirty figures are written without a lock, by the one thread running
 * this vCPU (KVM pushes to the ring of the vCPU running on the current
 * thread, and vcpu->mutex serialises the threads that run one vCPU), and
 * read with READ_ONCE.  A reset bumps session->dirty_gen; the owner zeroes
 * its figures when it sees the new generation, so the reset never writes
 * what the hot path writes.
 */
struct pcopy_vcpu_stats {
	u64 faults;
	u64 lat_sum;
	u64 lat_min;
	u64 lat_max;
	u64 blocktime;
	u64 blocked_since;	/* valid while outstanding > 0 */
	u32 outstanding;
	u32 tid;		/* global tid of the last thread mapped */
	u32 nthreads;		/* threads mapped to it now */
	bool known;		/* nthreads > 0 */
	bool seen;
	bool counted;		/* in stats.blocked_vcpus */
	bool explicit;
	/* owner-written, lock-free: see above */
	u32 dirty_gen;
	u64 dirty;		/* GFNs KVM pushed for this vCPU */
	u64 dirty_win_start;	/* current rate window */
	u64 dirty_win_count;
	u64 dirty_rate;		/* pages/s of the last full window */
};

/* Per-session counters, under session->lock. */
struct pcopy_stats {
	u64 faults;
	u64 nowait;
	u64 interrupted;
	u64 missed;		/* blocking faults the probe could not time */
	u64 lat_sum;
	u64 lat_max;
	u32 outstanding;
	u32 outstanding_max;
	u64 vcpu_faults;
	u64 nonvcpu_faults;
	u64 nonvcpu_lat_sum;
	u32 known_vcpus;
	u32 blocked_vcpus;	/* known vCPUs with outstanding > 0 */
	u64 blocktime;		/* whole VM: all known vCPUs blocked */
	u64 all_blocked_since;	/* valid while all known vCPUs are blocked */
	u64 start;		/* creation or last reset */
	u64 threads_dropped;	/* mappings not kept: thread table full */
	u64 execs;		/* execve()s followed; never reset */
	u64 ring_lost_records;	/* snapshot only: s->ring_lost_records */
	u64 ring_lost_gfns;	/* snapshot only */
	u64 dirty;		/* snapshot only: sum over vCPUs */
	u64 dirty_rate;		/* snapshot only */
	u64 hist_ns[PCOPY_HIST_NS_BUCKETS];
	u64 hist_us[PCOPY_HIST_US_BUCKETS];
};

/*
 * One blocking fault in progress.  It lives in the kretprobe instance of the
 * faulting thread (uffd.c) and is linked, by thread, into session->faults
 * while the thread is inside handle_userfault().  The node is embedded, so
 * a fault costs no allocation.
 */
struct pcopy_fault {
	struct hlist_node node;		/* session->faults, under s->lock */
	struct pcopy_session *s;	/* holds a reference */
	struct task_struct *task;	/* compared only, never dereferenced */
	unsigned long addr;
	u64 start;
	u32 tid;
	u32 vcpu;			/* PCOPY_VCPU_NONE for non-vCPU */
	u32 reason;			/* PCOPY_REASON_* */
	bool woken;			/* by userfaultfd's wake, not a signal */
};

/*
 * A thread's vCPU mapping.  Entries come from a pool allocated with the
 * session, because they are made in the kvm_entry tracepoint with
 * interrupts off.  A tid names the same thread only as long as that
 * thread lives, so an entry also keeps the thread's start time and is
 * ignored, then dropped, once they no longer match (tid reuse).
 */
struct pcopy_thread {
	struct hlist_node node;		/* session->threads or ->free_threads */
	u64 start_time;			/* task->start_time */
	u32 tid;			/* global */
	u32 vcpu;			/* PCOPY_VCPU_NONE: declared non-vCPU */
	bool explicit;			/* set by PCOPY_CMD_SET_VCPU */
};

#define PCOPY_MAX_THREADS	1024

/*
 * A session's address space, the key under which the hooks find it.  An
 * execve() gives the process a new address space: the session then gets a
 * new binding and the old one is released after a grace period, so that a
 * hook never follows a node that moved to another hash chain, and the old
 * mm's address cannot be reused while a hook may still compare it.
 */
struct pcopy_mm_bind {
	struct hlist_node node;		/* sessions_by_mm, RCU */
	struct mm_struct *mm;		/* mmgrab()ed */
	struct pcopy_session *s;
	struct rcu_work free_rwork;
};

struct pcopy_session {
	refcount_t ref;
	struct pid *pid;		/* the thread group */
	pid_t tgid;			/* in the initial pid namespace */
	struct pcopy_mm_bind *bind;	/* under pcopy_bind_lock; NULL: ended */
	bool live;			/* in the tables, under sessions_lock */
	bool exec_lost;			/* an exec could not be followed */
	u64 id;				/* unique, never reused, from 1 */
	bool auto_attached;		/* created by auto.c */
	bool follow_forks;		/* children get sessions (auto.c) */
	u64 parent_id;			/* the session whose fork made this one */

	/*
	 * Set once at the end, under pcopy_sessions_lock, never cleared;
	 * end_now also under @lock (the snapshot's clock stops there).
	 */
	u64 end_seq;			/* order of ends, from 1; 0: live */
	u64 end_time;			/* ns since the epoch */
	u64 end_now;			/* pcopy_now() at the end */
	u32 end_reason;			/* enum pcopy_end_reason */
	bool kept;			/* on the ended list (sessions_lock) */
	struct list_head ended_node;	/* pcopy_ended, newest end first */

	wait_queue_entry_t exit_wait;	/* on pid->wait_pidfd */
	struct work_struct exit_work;
	struct rcu_work free_rwork;
	struct rcu_work ring_end_rwork;	/* ring EOF after a grace period */
	struct list_head all_node;	/* pcopy_all_sessions */

	/*
	 * Taken in kprobe and tracepoint context (interrupts may be off, and
	 * on PREEMPT_RT that must not be a sleeping lock), never from an
	 * interrupt handler.
	 */
	raw_spinlock_t lock;
	struct pcopy_stats st;
	struct pcopy_vcpu_stats *vcpus;	/* PCOPY_MAX_VCPUS entries */
	DECLARE_HASHTABLE(faults, 6);	/* struct pcopy_fault by global tid */
	DECLARE_HASHTABLE(threads, 7);	/* struct pcopy_thread by global tid */
	struct hlist_head free_threads;
	struct pcopy_thread *thread_pool;	/* PCOPY_MAX_THREADS */

	u32 dirty_gen;			/* bumped by a reset, see vcpu_stats */
	atomic64_t dirty_other;		/* GFNs of vCPU ids >= PCOPY_MAX_VCPUS */
	/*
	 * What the rings bound to it dropped, every ring since the session
	 * began (never reset): a consumer's losses, for whoever watches the
	 * session (the exporter).  Added to under the ring's lock.
	 */
	atomic64_t ring_lost_records;
	atomic64_t ring_lost_gfns;

	struct dentry *dbg;
	struct pcopy_ring __rcu *ring;	/* bound consumer, ring.c */
};

/* A consistent copy of a session's statistics, for netlink and debugfs. */
struct pcopy_snapshot {
	pid_t tgid;
	struct pcopy_stats st;
	u64 now;
	struct pcopy_vcpu_stats vcpus[PCOPY_MAX_VCPUS];
};

/* session.c */
extern struct mutex pcopy_sessions_lock;
extern struct xarray pcopy_sessions;		/* global tgid -> session */
extern atomic_t pcopy_nr_sessions;
extern atomic_t pcopy_nr_allocated;
int pcopy_session_init(void);
void pcopy_session_exit(void);
struct pcopy_session *pcopy_session_new(struct pid *pid,
					struct netlink_ext_ack *extack);
void pcopy_session_end(struct pcopy_session *s, enum pcopy_end_reason why);
void pcopy_session_end_sync(struct pcopy_session *s);
struct pcopy_session *pcopy_session_find_mm(struct mm_struct *mm);
struct pcopy_session *pcopy_session_lookup(u32 pid_nr);
struct pcopy_session *pcopy_session_lookup_ended(u32 pid_nr);
bool pcopy_session_has_pid(struct pid *pid);
struct pcopy_session *pcopy_session_lookup_id(u64 id);
struct pcopy_session *pcopy_session_ended_next(u64 below_seq);
u32 pcopy_ended_max(void);
u32 pcopy_ended_secs(void);
u32 pcopy_ended_count(void);
void pcopy_session_put(struct pcopy_session *s);
/*
 * The clock of fault timestamps, blocktime and statistics windows:
 * CLOCK_MONOTONIC read the NMI-safe way.  A kprobe that is not on ftrace
 * runs from int3, which lockdep treats as NMI context, and ktime_get()'s
 * seqcount retry could spin there forever on a writer it interrupted.
 */
static inline u64 pcopy_now(void)
{
	return ktime_get_mono_fast_ns();
}

static inline bool pcopy_session_get(struct pcopy_session *s)
{
	return refcount_inc_not_zero(&s->ref);
}
int pcopy_session_set_vcpu(struct pcopy_session *s, struct task_struct *task,
			   u32 vcpu);
void pcopy_session_learn_vcpu(struct pcopy_session *s, u32 vcpu);
void pcopy_session_prune_threads(struct pcopy_session *s);
void pcopy_session_exec(struct pcopy_session *s, struct mm_struct *mm);

/* auto.c: auto-attach */
struct pcopy_auto_config {
	char comm[TASK_COMM_LEN];	/* "": any */
	u64 cgroup;			/* cgroup v2 id; 0: any */
	u32 max;			/* auto-attached sessions at most */
	bool follow_forks;		/* for the sessions it creates */
};

struct pcopy_auto_counters {
	u64 created, filtered, capped, no_slot, forks, forks_lost;
};

void pcopy_auto_init(void);
void pcopy_auto_exit(void);
int pcopy_auto_error(void);
int pcopy_fork_error(void);
const char *pcopy_fork_reason(void);
int pcopy_auto_set(bool on, const struct pcopy_auto_config *cfg,
		   struct netlink_ext_ack *extack);
/* takes pcopy_sessions_lock */
void pcopy_auto_get(bool *on, struct pcopy_auto_config *cfg,
		    struct pcopy_auto_counters *cnt);

/* exec.c: following execve() */
int pcopy_exec_init(void);
void pcopy_exec_exit(void);
bool pcopy_exec_available(void);
int pcopy_exec_error(void);
const char *pcopy_exec_reason(void);

/* stats.c */
void pcopy_stats_init(struct pcopy_session *s);
u32 pcopy_stats_nowait(struct pcopy_session *s, u32 tid);
void pcopy_stats_missed(struct pcopy_session *s);
void pcopy_stats_fault_begin(struct pcopy_session *s, struct pcopy_fault *f);
enum pcopy_fault_end { PCOPY_FAULT_RESOLVED, PCOPY_FAULT_INTERRUPTED,
		       PCOPY_FAULT_NOWAIT };
void pcopy_stats_fault_end(struct pcopy_session *s, struct pcopy_fault *f,
			   u64 now, enum pcopy_fault_end how);
void pcopy_stats_fault_woken(struct pcopy_session *s, struct task_struct *task);
void pcopy_stats_vcpu_threads(struct pcopy_session *s, u32 vcpu, int delta,
			      u32 tid, bool explicit);
u32 pcopy_thread_vcpu_locked(struct pcopy_session *s, u32 tid,
			     u64 start_time);
void pcopy_stats_reset(struct pcopy_session *s);
void pcopy_stats_snapshot(struct pcopy_session *s, struct pcopy_snapshot *snap);
void pcopy_stats_dirty(struct pcopy_session *s, u32 vcpu);
u64 pcopy_rate_now(u64 win_start, u64 win_count, u64 last_rate, u64 now);
unsigned int pcopy_hist_ns_bucket(u64 ns);
unsigned int pcopy_hist_us_bucket(u64 ns);

/* uffd.c: the userfaultfd hook */
int pcopy_uffd_init(void);
void pcopy_uffd_exit(void);
bool pcopy_uffd_available(void);
int pcopy_uffd_probe_error(void);
int pcopy_uffd_post_error(void);
int pcopy_uffd_wake_error(void);
u64 pcopy_uffd_missed(void);
u64 pcopy_probe_missed(void);
u32 pcopy_uffd_maxactive(void);

/* ring.c: /dev/pcopy and the record ring */
int pcopy_ring_init(void);
void pcopy_ring_exit(void);
void pcopy_ring_fault(struct pcopy_session *s, const struct pcopy_fault *f,
		      u16 type, u16 flags, u64 end);
void pcopy_ring_dirty(struct pcopy_session *s, u32 vcpu, u32 slot, u64 offset,
		      u32 seq);
void pcopy_ring_dirty_reset(struct pcopy_session *s, u32 vcpu, u32 reset_index);
void pcopy_ring_vcpu_entry(struct pcopy_session *s, u32 vcpu);
void pcopy_ring_session_end(struct pcopy_session *s);
void pcopy_ring_lost(struct pcopy_session *s, u64 records);

/* kvm.c: following kvm.ko and its tracepoints */
int pcopy_kvm_init(void);
void pcopy_kvm_exit(void);
u64 pcopy_kvm_features(void);
int pcopy_kvm_hooks(int (*fn)(void *arg, const char *name, u64 feature,
			      int err, const char *reason), void *arg);

/* netlink.c */
int pcopy_netlink_init(void);
void pcopy_netlink_close(void);
void pcopy_netlink_exit(void);
void pcopy_netlink_notify_end(struct pcopy_session *s,
			      enum pcopy_end_reason why);
void pcopy_netlink_notify_new(struct pcopy_session *s);

/* debugfs.c */
void pcopy_debugfs_init(void);
void pcopy_debugfs_exit(void);
void pcopy_debugfs_session_add(struct pcopy_session *s);
void pcopy_debugfs_session_remove(struct pcopy_session *s);

u64 pcopy_features(void);

#endif /* _PCOPY_INTERNAL_H */
