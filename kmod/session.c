// SPDX-License-Identifier: GPL-2.0
/*
 * Sessions: one per tracked process.
 *
 * The control plane finds sessions by tgid in an xarray under
 * pcopy_sessions_lock.  The fault and KVM hooks find them by address space
 * in an RCU hashtable: the mm is the right key for a fault, because KVM's
 * async page-fault workers and other foreign threads fault on the VMM's
 * memory too.  The key is a binding (struct pcopy_mm_bind) that holds
 * mmgrab() on the mm, so the pointer cannot be reused by another process
 * while a hook may still compare it.  An execve() gives the process a new
 * mm: the exec hook (exec.c) binds the session to it before the new program
 * runs, and the old binding goes away after a grace period.
 *
 * Lifetime: the tables own one reference; every fault in progress owns one.
 * A session leaves the tables when it is deleted, when its process exits
 * (we sit on the pid's pidfd wait queue, which the exit path wakes) or at
 * unload.  It is freed after an RCU grace period once the last reference
 * is gone.  At unload, faults that are still blocked keep kretprobe
 * instances whose handler will never run again, so their references are
 * never dropped: pcopy_session_exit() frees what is left by force, after
 * the hooks are gone.
 *
 * Ended sessions linger: the newest ended_max of them stay on pcopy_ended,
 * which takes over the tables' reference, for ended_secs seconds, so that
 * their final figures can still be read (by id, or by pid on request:
 * never mixed with a new session of a reused pid).  A session ended by
 * the unload is not kept.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <net/netlink.h>

#include "compat.h"
#include "internal.h"

DEFINE_MUTEX(pcopy_sessions_lock);
DEFINE_XARRAY(pcopy_sessions);
atomic_t pcopy_nr_sessions = ATOMIC_INIT(0);
atomic_t pcopy_nr_allocated = ATOMIC_INIT(0);

#define SESSIONS_BY_MM_BITS 6
static DEFINE_HASHTABLE(sessions_by_mm, SESSIONS_BY_MM_BITS);
/* Writers of sessions_by_mm and of session->bind; see internal.h. */
static DEFINE_RAW_SPINLOCK(pcopy_bind_lock);

/* Every allocated session, live or waiting for its last reference. */
static LIST_HEAD(pcopy_all_sessions);
static DEFINE_SPINLOCK(all_sessions_lock);

static struct workqueue_struct *pcopy_wq;

/* Ended sessions kept, under pcopy_sessions_lock; see above. */
#define PCOPY_ENDED_LIMIT	256
static LIST_HEAD(pcopy_ended);
static unsigned int nr_ended;
static u64 last_id, last_end_seq;
static bool ended_closing;
static unsigned int ended_max = 16;
static unsigned int ended_secs = 3600;
static void ended_expire_work(struct work_struct *work);
static DECLARE_DELAYED_WORK(ended_work, ended_expire_work);

static void ended_drop(struct pcopy_session *s)
{
	lockdep_assert_held(&pcopy_sessions_lock);
	list_del(&s->ended_node);
	s->kept = false;
	nr_ended--;
	atomic_inc(&pcopy_nr_allocated);
	pcopy_session_put(s);
}

/* Apply ended_max now, and ended_secs now and when the oldest expires. */
static void ended_prune(void)
{
	u64 ttl = (u64)READ_ONCE(ended_secs) * NSEC_PER_SEC;
	struct pcopy_session *s, *tmp;
	u64 now = pcopy_now();

	lockdep_assert_held(&pcopy_sessions_lock);
	while (nr_ended > READ_ONCE(ended_max))
		ended_drop(list_last_entry(&pcopy_ended, struct pcopy_session,
					   ended_node));
	if (!ttl)
		return;
	list_for_each_entry_safe_reverse(s, tmp, &pcopy_ended, ended_node) {
		u64 age = now - s->end_now;

		if (age < ttl) {
			if (!ended_closing)
				mod_delayed_work(pcopy_wq, &ended_work,
						 nsecs_to_jiffies(ttl - age) + 1);
			return;
		}
		ended_drop(s);
	}
}

static void ended_expire_work(struct work_struct *work)
{
	mutex_lock(&pcopy_sessions_lock);
	ended_prune();
	mutex_unlock(&pcopy_sessions_lock);
}

static int ended_param_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (kp->arg == &ended_max && n > PCOPY_ENDED_LIMIT) {
		pr_err("ended_max=%u is out of range (0..%u)\n", n,
		       PCOPY_ENDED_LIMIT);
		return -ERANGE;
	}
	mutex_lock(&pcopy_sessions_lock);
	WRITE_ONCE(*(unsigned int *)kp->arg, n);
	ended_prune();
	mutex_unlock(&pcopy_sessions_lock);
	return 0;
}

static const struct kernel_param_ops ended_param_ops = {
	.set = ended_param_set,
	.get = param_get_uint,
};

module_param_cb(ended_max, &ended_param_ops, &ended_max, 0644);
MODULE_PARM_DESC(ended_max, "ended sessions kept, newest first (0..256, default 16)");
module_param_cb(ended_secs, &ended_param_ops, &ended_secs, 0644);
MODULE_PARM_DESC(ended_secs, "seconds an ended session is kept (0: no limit; default 3600)");

u32 pcopy_ended_max(void)
{
	return READ_ONCE(ended_max);
}

u32 pcopy_ended_secs(void)
{
	return READ_ONCE(ended_secs);
}

u32 pcopy_ended_count(void)
{
	return READ_ONCE(nr_ended);
}

/* Is @s's process visible (has a pid) in the caller's pid namespace? */
static pid_t vnr(struct pcopy_session *s)
{
	return pid_nr_ns(s->pid, task_active_pid_ns(current));
}

/* Does the process of @pid have a live session? */
bool pcopy_session_has_pid(struct pid *pid)
{
	struct pcopy_session *s;

	lockdep_assert_held(&pcopy_sessions_lock);
	s = xa_load(&pcopy_sessions, pid_nr_ns(pid, &init_pid_ns));
	return s && s->pid == pid;
}

/* The newest ended session of pid @pid_nr (the caller's namespace). */
struct pcopy_session *pcopy_session_lookup_ended(u32 pid_nr)
{
	struct pcopy_session *s;

	lockdep_assert_held(&pcopy_sessions_lock);
	list_for_each_entry(s, &pcopy_ended, ended_node)
		if (vnr(s) == pid_nr)
			return s;
	return NULL;
}

/* Session @id, live or kept, if the caller can see its process. */
struct pcopy_session *pcopy_session_lookup_id(u64 id)
{
	struct pcopy_session *s;
	unsigned long idx;

	lockdep_assert_held(&pcopy_sessions_lock);
	xa_for_each(&pcopy_sessions, idx, s)
		if (s->id == id)
			return vnr(s) ? s : NULL;
	list_for_each_entry(s, &pcopy_ended, ended_node)
		if (s->id == id)
			return vnr(s) ? s : NULL;
	return NULL;
}

/* For a dump: the newest kept session that ended before @below_seq. */
struct pcopy_session *pcopy_session_ended_next(u64 below_seq)
{
	struct pcopy_session *s;

	lockdep_assert_held(&pcopy_sessions_lock);
	list_for_each_entry(s, &pcopy_ended, ended_node)
		if (s->end_seq < below_seq && vnr(s))
			return s;
	return NULL;
}

/* Under rcu_read_lock(): the hooks, and the control plane's checks. */
struct pcopy_session *pcopy_session_find_mm(struct mm_struct *mm)
{
	struct pcopy_mm_bind *b;

	hash_for_each_possible_rcu(sessions_by_mm, b, node, (unsigned long)mm)
		if (b->mm == mm)
			return b->s;
	return NULL;
}

static void bind_free_work(struct work_struct *work)
{
	struct pcopy_mm_bind *b = container_of(to_rcu_work(work),
					       struct pcopy_mm_bind, free_rwork);

	mmdrop(b->mm);
	kfree(b);
}

static struct pcopy_mm_bind *bind_new(struct pcopy_session *s,
				      struct mm_struct *mm, gfp_t gfp)
{
	struct pcopy_mm_bind *b = kzalloc(sizeof(*b), gfp);

	if (!b)
		return NULL;
	mmgrab(mm);
	b->mm = mm;
	b->s = s;
	INIT_RCU_WORK(&b->free_rwork, bind_free_work);
	return b;
}

/* A binding that was never in the table: no grace period needed. */
static void bind_free(struct pcopy_mm_bind *b)
{
	if (b) {
		mmdrop(b->mm);
		kfree(b);
	}
}

/*
 * Make @b (NULL: none) the binding of @s and return the one it replaces,
 * which the caller releases with bind_release() once out of the lock.
 */
static struct pcopy_mm_bind *bind_swap(struct pcopy_session *s,
				       struct pcopy_mm_bind *b)
{
	struct pcopy_mm_bind *old = s->bind;

	lockdep_assert_held(&pcopy_bind_lock);
	if (b)
		hash_add_rcu(sessions_by_mm, &b->node, (unsigned long)b->mm);
	if (old)
		hash_del_rcu(&old->node);
	s->bind = b;
	return old;
}

/* Free an unhashed binding after a grace period: a hook may still see it. */
static void bind_release(struct pcopy_mm_bind *old)
{
	if (old)
		queue_rcu_work(pcopy_wq, &old->free_rwork);
}

/* Unhash @s; its binding is released after a grace period. */
static void bind_remove(struct pcopy_session *s)
{
	struct pcopy_mm_bind *old;

	raw_spin_lock(&pcopy_bind_lock);
	old = bind_swap(s, NULL);
	raw_spin_unlock(&pcopy_bind_lock);
	bind_release(old);
}

/* @pid_nr is in the caller's pid namespace. */
struct pcopy_session *pcopy_session_lookup(u32 pid_nr)
{
	struct pcopy_session *s = NULL;
	struct pid *pid;

	lockdep_assert_held(&pcopy_sessions_lock);

	pid = find_get_pid(pid_nr);
	if (pid) {
		s = xa_load(&pcopy_sessions, pid_nr_ns(pid, &init_pid_ns));
		if (s && s->pid != pid)
			s = NULL;
		put_pid(pid);
	}
	return s;
}

static void session_free(struct pcopy_session *s)
{
	spin_lock(&all_sessions_lock);
	list_del(&s->all_node);
	spin_unlock(&all_sessions_lock);

	kvfree(s->thread_pool);
	kvfree(s->vcpus);
	put_pid(s->pid);
	kfree(s);
	atomic_dec(&pcopy_nr_allocated);
}

static void session_free_work(struct work_struct *work)
{
	session_free(container_of(to_rcu_work(work), struct pcopy_session,
				  free_rwork));
}

void pcopy_session_put(struct pcopy_session *s)
{
	/* May run in a kretprobe handler: defer the free to process context. */
	if (refcount_dec_and_test(&s->ref))
		queue_rcu_work(pcopy_wq, &s->free_rwork);
}

/*
 * The ring's EOF is set one grace period after the session left the
 * tables, so that no hook that found the session is still producing; the
 * wait happens here rather than under pcopy_sessions_lock.
 */
static void session_ring_end_work(struct work_struct *work)
{
	struct pcopy_session *s = container_of(to_rcu_work(work),
					       struct pcopy_session,
					       ring_end_rwork);

	mutex_lock(&pcopy_sessions_lock);
	pcopy_ring_session_end(s);
	mutex_unlock(&pcopy_sessions_lock);
	pcopy_session_put(s);
}

static void session_exit_work(struct work_struct *work)
{
	struct pcopy_session *s = container_of(work, struct pcopy_session,
					       exit_work);

	mutex_lock(&pcopy_sessions_lock);
	if (s->live && READ_ONCE(s->exec_lost))
		pcopy_session_end(s, PCOPY_END_EXEC_LOST);
	else if (s->live && pcopy_thread_group_exited(s->pid))
		pcopy_session_end(s, PCOPY_END_EXITED);
	mutex_unlock(&pcopy_sessions_lock);
	pcopy_session_put(s);
}

/* Queue exit_work, which decides whether @s ends; any context. */
static void session_queue_exit(struct pcopy_session *s)
{
	if (refcount_inc_not_zero(&s->ref) && !queue_work(pcopy_wq, &s->exit_work))
		pcopy_session_put(s);
}

/*
 * Runs under the pidfd wait queue lock, from the exit path, with
 * interrupts off: only queue the work that ends the session.
 */
static int session_exit_wake(wait_queue_entry_t *wait, unsigned int mode,
			     int sync, void *key)
{
	session_queue_exit(container_of(wait, struct pcopy_session, exit_wait));
	return 0;
}

/*
 * Under pcopy_sessions_lock, mm references are dropped with mmput_async():
 * if the process exited meanwhile ours is the last one, and exit_mmap()
 * takes mmap_lock, which ring_mmap() holds when it takes the ring lock
 * that ring_ioctl() holds when it takes pcopy_sessions_lock (lockdep, debug
 * lane, exit_race_test).
 */
struct pcopy_session *pcopy_session_new(struct pid *pid,
					struct netlink_ext_ack *extack)
{
	struct pcopy_session *s;
	struct task_struct *task;
	struct pcopy_mm_bind *b;
	struct mm_struct *mm;
	unsigned int i;
	bool tracked;
	pid_t tgid;
	int ret;

	lockdep_assert_held(&pcopy_sessions_lock);

	task = get_pid_task(pid, PIDTYPE_TGID);
	if (!task) {
		NL_SET_ERR_MSG(extack, "no such process (a thread id is not a process id)");
		return ERR_PTR(-ESRCH);
	}
	mm = get_task_mm(task);
	if (!mm) {
		/* a kernel thread never has one; a user process has lost it */
		bool kthread = task->flags & PF_KTHREAD;

		put_task_struct(task);
		if (kthread) {
			NL_SET_ERR_MSG(extack, "process has no address space (a kernel thread)");
			return ERR_PTR(-EINVAL);
		}
		NL_SET_ERR_MSG(extack, "process is exiting");
		return ERR_PTR(-ESRCH);
	}
	put_task_struct(task);

	tgid = pid_nr_ns(pid, &init_pid_ns);
	rcu_read_lock();
	tracked = pcopy_session_find_mm(mm);
	rcu_read_unlock();
	if (xa_load(&pcopy_sessions, tgid) || tracked) {
		NL_SET_ERR_MSG(extack, "process is already tracked");
		ret = -EEXIST;
		goto err_mm;
	}
	if (atomic_read(&pcopy_nr_sessions) >= PCOPY_MAX_SESSIONS) {
		NL_SET_ERR_MSG(extack, "too many sessions");
		ret = -ENOSPC;
		goto err_mm;
	}

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s) {
		ret = -ENOMEM;
		goto err_mm;
	}
	s->vcpus = kvcalloc(PCOPY_MAX_VCPUS, sizeof(*s->vcpus), GFP_KERNEL);
	s->thread_pool = kvcalloc(PCOPY_MAX_THREADS, sizeof(*s->thread_pool),
				  GFP_KERNEL);
	b = bind_new(s, mm, GFP_KERNEL);
	if (!s->vcpus || !s->thread_pool || !b) {
		ret = -ENOMEM;
		goto err_free;
	}
	refcount_set(&s->ref, 1);
	s->id = ++last_id;
	s->pid = get_pid(pid);
	s->tgid = tgid;
	raw_spin_lock_init(&s->lock);
	hash_init(s->faults);
	hash_init(s->threads);
	INIT_HLIST_HEAD(&s->free_threads);
	for (i = 0; i < PCOPY_MAX_THREADS; i++)
		hlist_add_head(&s->thread_pool[i].node, &s->free_threads);
	atomic64_set(&s->dirty_other, 0);
	INIT_WORK(&s->exit_work, session_exit_work);
	INIT_RCU_WORK(&s->free_rwork, session_free_work);
	INIT_RCU_WORK(&s->ring_end_rwork, session_ring_end_work);
	init_waitqueue_func_entry(&s->exit_wait, session_exit_wake);
	pcopy_stats_init(s);

	ret = xa_insert(&pcopy_sessions, tgid, s, GFP_KERNEL);
	if (ret)
		goto err_pid;

	atomic_inc(&pcopy_nr_allocated);
	spin_lock(&all_sessions_lock);
	list_add(&s->all_node, &pcopy_all_sessions);
	spin_unlock(&all_sessions_lock);

	/*
	 * Wait for the exit first, then check whether it already happened:
	 * either the check sees the exit or the wake-up finds us queued.
	 */
	add_wait_queue(&pid->wait_pidfd, &s->exit_wait);
	if (pcopy_thread_group_exited(pid)) {
		remove_wait_queue(&pid->wait_pidfd, &s->exit_wait);
		xa_erase(&pcopy_sessions, tgid);
		NL_SET_ERR_MSG(extack, "process is exiting");
		/*
		 * The exit may have woken us between the add and the remove:
		 * then exit_work holds a reference of its own and will find
		 * the session not live.  Drop ours; never free directly.
		 */
		pcopy_session_put(s);
		bind_free(b);
		mmput_async(mm);
		return ERR_PTR(-ESRCH);
	}

	s->live = true;
	atomic_inc(&pcopy_nr_sessions);
	raw_spin_lock(&pcopy_bind_lock);
	bind_swap(s, b);
	raw_spin_unlock(&pcopy_bind_lock);
	pcopy_debugfs_session_add(s);
	mmput_async(mm);
	return s;

err_pid:
	put_pid(s->pid);
err_free:
	bind_free(b);
	kvfree(s->thread_pool);
	kvfree(s->vcpus);
	kfree(s);
err_mm:
	mmput_async(mm);
	return ERR_PTR(ret);
}

/* Take @s out of every table and drop the tables' reference. */
void pcopy_session_end(struct pcopy_session *s, enum pcopy_end_reason why)
{
	unsigned long flags;

	lockdep_assert_held(&pcopy_sessions_lock);

	if (!s->live)
		return;
	s->live = false;
	bind_remove(s);
	xa_erase(&pcopy_sessions, s->tgid);
	atomic_dec(&pcopy_nr_sessions);
	if (rcu_access_pointer(s->ring) && refcount_inc_not_zero(&s->ref))
		queue_rcu_work(pcopy_wq, &s->ring_end_rwork);
	remove_wait_queue(&s->pid->wait_pidfd, &s->exit_wait);
	pcopy_debugfs_session_remove(s);

	s->end_reason = why;
	s->end_time = ktime_get_real_ns();
	s->end_seq = ++last_end_seq;
	raw_spin_lock_irqsave(&s->lock, flags);
	s->end_now = pcopy_now();
	raw_spin_unlock_irqrestore(&s->lock, flags);
	pcopy_netlink_notify_end(s, why);

	if (why == PCOPY_END_UNLOAD || ended_closing || !READ_ONCE(ended_max)) {
		pcopy_session_put(s);
		return;
	}
	/* the ended list takes over the tables' reference */
	s->kept = true;
	list_add(&s->ended_node, &pcopy_ended);
	nr_ended++;
	atomic_dec(&pcopy_nr_allocated);
	ended_prune();
}

/*
 * After pcopy_session_end(), outside pcopy_sessions_lock: wait until the
 * ring, if any, has its EOF, so a deleting caller sees it done.
 */
void pcopy_session_end_sync(struct pcopy_session *s)
{
	might_sleep();
	flush_rcu_work(&s->ring_end_rwork);
}

static struct pcopy_thread *thread_find(struct pcopy_session *s, u32 tid)
{
	struct pcopy_thread *t;

	lockdep_assert_held(&s->lock);
	hash_for_each_possible(s->threads, t, node, tid)
		if (t->tid == tid)
			return t;
	return NULL;
}

static void thread_drop(struct pcopy_session *s, struct pcopy_thread *t)
{
	lockdep_assert_held(&s->lock);
	if (t->vcpu != PCOPY_VCPU_NONE)
		pcopy_stats_vcpu_threads(s, t->vcpu, -1, 0, false);
	hash_del(&t->node);
	hlist_add_head(&t->node, &s->free_threads);
}

static struct pcopy_thread *thread_new(struct pcopy_session *s, u32 tid,
				       u64 start_time)
{
	struct pcopy_thread *t;

	lockdep_assert_held(&s->lock);
	if (hlist_empty(&s->free_threads)) {
		s->st.threads_dropped++;
		return NULL;
	}
	t = hlist_entry(s->free_threads.first, struct pcopy_thread, node);
	hlist_del(&t->node);
	t->tid = tid;
	t->start_time = start_time;
	t->vcpu = PCOPY_VCPU_NONE;
	t->explicit = false;
	hash_add(s->threads, &t->node, tid);
	return t;
}

/* Point @t at @vcpu, keeping the per-vCPU thread counts right. */
static void thread_map(struct pcopy_session *s, struct pcopy_thread *t,
		       u32 vcpu, bool explicit)
{
	lockdep_assert_held(&s->lock);
	if (t->vcpu != vcpu) {
		if (t->vcpu != PCOPY_VCPU_NONE)
			pcopy_stats_vcpu_threads(s, t->vcpu, -1, 0, false);
		t->vcpu = vcpu;
		if (vcpu != PCOPY_VCPU_NONE)
			pcopy_stats_vcpu_threads(s, vcpu, 1, t->tid, explicit);
	} else if (vcpu != PCOPY_VCPU_NONE) {
		/* same vCPU: only who maps it changes */
		pcopy_stats_vcpu_threads(s, vcpu, 0, t->tid, explicit);
	}
	t->explicit = explicit;
}

/*
 * The vCPU of thread @tid, or PCOPY_VCPU_NONE: a stale entry (the tid now
 * names another thread) is dropped on the way.
 */
u32 pcopy_thread_vcpu_locked(struct pcopy_session *s, u32 tid, u64 start_time)
{
	struct pcopy_thread *t = thread_find(s, tid);

	if (!t)
		return PCOPY_VCPU_NONE;
	if (t->start_time != start_time) {
		thread_drop(s, t);
		return PCOPY_VCPU_NONE;
	}
	return t->vcpu;
}

/*
 * The current thread is entering vCPU @vcpu (kvm_entry, interrupts off).
 * KVM runs a vCPU on one thread at a time, so the thread that entered it
 * before, if another, no longer runs it and loses a learned mapping.  An
 * explicit mapping is never replaced by a learned one.
 */
void pcopy_session_learn_vcpu(struct pcopy_session *s, u32 vcpu)
{
	struct pcopy_vcpu_stats *v = &s->vcpus[vcpu];
	u64 start_time = current->start_time;
	u32 tid = current->pid;
	struct pcopy_thread *t, *prev;
	unsigned long flags;

	/* lock-free check first: kvm_entry fires on every guest entry */
	if (READ_ONCE(v->tid) == tid && READ_ONCE(v->known))
		return;

	raw_spin_lock_irqsave(&s->lock, flags);
	t = thread_find(s, tid);
	if (t && t->start_time != start_time) {
		thread_drop(s, t);
		t = NULL;
	}
	if (t && t->explicit)
		goto out;
	if (v->known && v->tid != tid) {
		prev = thread_find(s, v->tid);
		if (prev && !prev->explicit && prev->vcpu == vcpu)
			thread_drop(s, prev);
	}
	if (!t)
		t = thread_new(s, tid, start_time);
	if (t)
		thread_map(s, t, vcpu, false);
out:
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/* PCOPY_CMD_SET_VCPU: map @task to @vcpu (or PCOPY_VCPU_NONE), explicitly. */
int pcopy_session_set_vcpu(struct pcopy_session *s, struct task_struct *task,
			   u32 vcpu)
{
	u32 tid = task_pid_nr(task);
	struct pcopy_thread *t;
	unsigned long flags;
	int ret = 0;

	raw_spin_lock_irqsave(&s->lock, flags);
	t = thread_find(s, tid);
	if (t && t->start_time != task->start_time) {
		thread_drop(s, t);
		t = NULL;
	}
	if (!t)
		t = thread_new(s, tid, task->start_time);
	if (t)
		thread_map(s, t, vcpu, true);
	else
		ret = -ENOSPC;
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return ret;
}

/*
 * Drop the mappings of threads that have exited, so their vCPUs stop
 * counting as known and their tids cannot be inherited.  Process context.
 */
void pcopy_session_prune_threads(struct pcopy_session *s)
{
	struct task_struct *task;
	struct pcopy_thread *t;
	struct hlist_node *tmp;
	unsigned long flags;
	unsigned int bkt;

	raw_spin_lock_irqsave(&s->lock, flags);
	rcu_read_lock();
	hash_for_each_safe(s->threads, bkt, tmp, t, node) {
		task = pid_task(find_pid_ns(t->tid, &init_pid_ns), PIDTYPE_PID);
		/* PF_EXITING: set before the exit wakes a pthread_join() */
		if (!task || task->start_time != t->start_time ||
		    (READ_ONCE(task->flags) & PF_EXITING))
			thread_drop(s, t);
	}
	rcu_read_unlock();
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * The process of @s has just replaced its address space with @mm in
 * execve() (exec.c, sched_process_exec: the exec'ing thread, preemption
 * off, before the new program runs its first instruction).  Bind the
 * session to @mm, keep its counters, and forget every thread mapping: the
 * old program's threads are gone, and the new one's vCPUs are learned
 * again.  With no memory for the binding the exec cannot be followed: the
 * session stops counting now and ends with PCOPY_END_EXEC_LOST.
 */
void pcopy_session_exec(struct pcopy_session *s, struct mm_struct *mm)
{
	struct pcopy_mm_bind *b, *old;
	struct pcopy_thread *t;
	struct hlist_node *tmp;
	unsigned long flags;
	unsigned int bkt;

	b = bind_new(s, mm, GFP_NOWAIT | __GFP_NOWARN);
	raw_spin_lock(&pcopy_bind_lock);
	if (!s->bind || s->bind->mm == mm) {
		/* ended meanwhile, or already bound to it */
		raw_spin_unlock(&pcopy_bind_lock);
		bind_free(b);
		return;
	}
	old = bind_swap(s, b);
	raw_spin_unlock(&pcopy_bind_lock);
	bind_release(old);

	if (!b) {
		WRITE_ONCE(s->exec_lost, true);
		session_queue_exit(s);
		return;
	}

	raw_spin_lock_irqsave(&s->lock, flags);
	s->st.execs++;
	hash_for_each_safe(s->threads, bkt, tmp, t, node)
		thread_drop(s, t);
	raw_spin_unlock_irqrestore(&s->lock, flags);
}

int __init pcopy_session_init(void)
{
	pcopy_wq = alloc_workqueue("pcopy", 0, 0);
	if (!pcopy_wq)
		return -ENOMEM;
	/* an exec hook that cannot attach only turns its feature bit off */
	pcopy_exec_init();
	return 0;
}

/*
 * Called after the netlink family and every hook are gone, so nothing can
 * create, find or reference a session any more.
 */
void pcopy_session_exit(void)
{
	struct pcopy_session *s, *tmp;
	unsigned long idx;
	LIST_HEAD(left);

	pcopy_exec_exit();
	mutex_lock(&pcopy_sessions_lock);
	xa_for_each(&pcopy_sessions, idx, s)
		pcopy_session_end(s, PCOPY_END_UNLOAD);
	ended_closing = true;
	list_for_each_entry_safe(s, tmp, &pcopy_ended, ended_node)
		ended_drop(s);
	mutex_unlock(&pcopy_sessions_lock);
	cancel_delayed_work_sync(&ended_work);

	/* exit works and RCU frees queued before this point */
	rcu_barrier();
	flush_workqueue(pcopy_wq);
	rcu_barrier();
	destroy_workqueue(pcopy_wq);

	/* sessions still referenced by faults blocked at unload */
	spin_lock(&all_sessions_lock);
	list_splice_init(&pcopy_all_sessions, &left);
	spin_unlock(&all_sessions_lock);
	list_for_each_entry_safe(s, tmp, &left, all_node) {
		INIT_LIST_HEAD(&s->all_node);
		pr_info("freeing session of pid %d with %u faults still blocked\n",
			s->tgid, refcount_read(&s->ref));
		session_free(s);
	}
}
