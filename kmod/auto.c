// SPDX-License-Identifier: GPL-2.0
/*
 * Sessions the module creates by itself.
 *
 * Auto-attach: once an administrator turns it on (PCOPY_CMD_SET_AUTO), a
 * session for every process that registers a userfaultfd range and passes
 * the filter: the command name of its main thread, a cgroup v2 subtree, or
 * both.  Off by default.  A kprobe on userfaultfd_ioctl() sees
 * UFFDIO_REGISTER in the registering thread.
 *
 * Following forks: a session made with PCOPY_A_FOLLOW_FORKS (or by
 * auto-attach with it) gets one for every child process its process forks,
 * linked to it by PCOPY_A_PARENT_ID and following forks too.  The core
 * kernel's sched_process_fork tracepoint sees the child before it first
 * runs.  A child that shares its parent's address space (vfork(),
 * posix_spawn()) cannot have a session of its own until it execs: it is
 * tried again every few milliseconds for up to two seconds.
 *
 * Probe context may not sleep, allocate, or wake anyone except through
 * irq_work, so both hooks only park a reference to the new process's pid
 * in a free slot of a fixed table and raise an irq_work; that queues the
 * work which, in process context, applies the filter and creates the
 * session, normally within a millisecond (a fault before that is not
 * counted).
 *
 * What the work decides is counted: sessions created, processes passed
 * over by the filter, registrations refused at the cap (auto_max live
 * auto-attached sessions, or PCOPY_MAX_SESSIONS in all), processes not
 * looked at because every slot was taken, and forks that could not be
 * followed.  The configuration and the counters are under
 * pcopy_sessions_lock; the probes read only auto_on and the sessions.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/userfaultfd.h>
#include <linux/workqueue.h>
#include <net/netlink.h>
#include <trace/events/sched.h>

#include "internal.h"

#define AUTO_SLOTS	64
#define FORK_TRIES	200	/* 10 ms apart */

static struct pcopy_auto_config auto_cfg = { .max = PCOPY_MAX_SESSIONS };
static struct pcopy_auto_counters auto_cnt;
static bool auto_on;			/* READ_ONCE in the probe */
static bool auto_closing;

/*
 * A parked process.  A probe claims a FREE slot, fills it and publishes it
 * READY; the work takes it and frees it.
 */
enum { SLOT_FREE, SLOT_CLAIMED, SLOT_READY };

struct park {
	int state;
	struct pid *pid;
	u64 parent_id;		/* 0: auto-attach; else the forking session */
	bool follow_forks;
	unsigned int tries;
};

static struct park parked[AUTO_SLOTS];
static atomic64_t auto_no_slot = ATOMIC64_INIT(0);
static int auto_probe_err = -ENOENT;
static struct tracepoint *fork_tp;
static int fork_err = -ENOENT;
static const char *fork_reason = "tracepoint sched_process_fork not found";

static void auto_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(auto_work, auto_work_fn);

static void auto_irq_fn(struct irq_work *w)
{
	mod_delayed_work(system_wq, &auto_work, 0);
}

static DEFINE_IRQ_WORK(auto_irq, auto_irq_fn);

/* Probe context: park @pid (its reference is taken here). */
static void park(struct pid *pid, u64 parent_id, bool follow_forks)
{
	unsigned int i;

	for (i = 0; i < AUTO_SLOTS; i++) {
		if (READ_ONCE(parked[i].state) == SLOT_READY &&
		    READ_ONCE(parked[i].pid) == pid)
			return;		/* already parked */
	}
	for (i = 0; i < AUTO_SLOTS; i++) {
		struct park *p = &parked[i];

		if (cmpxchg(&p->state, SLOT_FREE, SLOT_CLAIMED) != SLOT_FREE)
			continue;
		/* a live task's own pid: this reference is never the last */
		p->pid = get_pid(pid);
		p->parent_id = parent_id;
		p->follow_forks = follow_forks;
		p->tries = 0;
		/* the fields before the state: pairs with the work's acquire */
		smp_store_release(&p->state, SLOT_READY);
		irq_work_queue(&auto_irq);
		return;
	}
	atomic64_inc(&auto_no_slot);
}

/* userfaultfd_ioctl(file, cmd, arg): park the registering process. */
static int auto_ioctl_pre(struct kprobe *p, struct pt_regs *regs)
{
	bool tracked;

	if (!READ_ONCE(auto_on) ||
	    (unsigned int)regs_get_kernel_argument(regs, 1) != UFFDIO_REGISTER ||
	    !current->mm || (current->flags & PF_KTHREAD))
		return 0;
	rcu_read_lock();
	tracked = pcopy_session_find_mm(current->mm);
	rcu_read_unlock();
	if (!tracked)
		park(task_tgid(current), 0, false);
	return 0;
}

static struct kprobe auto_kp = {
	.symbol_name	= "userfaultfd_ioctl",
	.pre_handler	= auto_ioctl_pre,
};

/* sched_process_fork, in the forking thread, before @child first runs. */
static void fork_probe(void *data, struct task_struct *parent,
		       struct task_struct *child)
{
	struct pcopy_session *s;

	/* a new thread is not a new process */
	if (!atomic_read(&pcopy_nr_sessions) || !thread_group_leader(child))
		return;
	rcu_read_lock();
	s = xa_load(&pcopy_sessions, task_tgid_nr(parent));
	if (s && s->pid == task_tgid(parent) && READ_ONCE(s->follow_forks))
		park(task_pid(child), s->id, true);
	rcu_read_unlock();
}

static void fork_tp_found(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		*(struct tracepoint **)priv = tp;
}

/*
 * Is @task in the cgroup v2 subtree whose id is @id?  Without cgroups,
 * PCOPY_CMD_SET_AUTO refuses a cgroup filter, so @id is never set.
 */
#ifdef CONFIG_CGROUPS
static bool in_cgroup(struct task_struct *task, u64 id)
{
	struct cgroup *cg;
	bool in = false;

	rcu_read_lock();
	for (cg = task_dfl_cgroup(task); cg && !in; cg = cgroup_parent(cg))
		in = cgroup_id(cg) == id;
	rcu_read_unlock();
	return in;
}
#else
static bool in_cgroup(struct task_struct *task, u64 id)
{
	return false;
}
#endif

static unsigned int auto_live(void)
{
	struct pcopy_session *s;
	unsigned long idx;
	unsigned int n = 0;

	lockdep_assert_held(&pcopy_sessions_lock);
	xa_for_each(&pcopy_sessions, idx, s)
		n += s->auto_attached;
	return n;
}

/*
 * Create the session of parked process @p.  Returns true if it should be
 * tried again later (a vfork()ed child still on its parent's mm).
 */
static bool park_take(struct park *p)
{
	char comm[TASK_COMM_LEN];
	struct pcopy_session *s;
	struct task_struct *task;
	bool pass, retry = false;

	task = get_pid_task(p->pid, PIDTYPE_TGID);
	if (!task)
		return false;
	get_task_comm(comm, task);

	mutex_lock(&pcopy_sessions_lock);
	if (auto_closing)
		goto out;
	if (!p->parent_id) {
		if (!auto_on)
			goto out;
		pass = (!auto_cfg.comm[0] ||
			!strncmp(comm, auto_cfg.comm, TASK_COMM_LEN)) &&
		       (!auto_cfg.cgroup || in_cgroup(task, auto_cfg.cgroup));
		if (!pass) {
			auto_cnt.filtered++;
			goto out;
		}
		if (auto_live() >= auto_cfg.max) {
			auto_cnt.capped++;
			pr_warn_ratelimited("auto-attach: not tracking pid %d (%s): %u auto-attached sessions, the cap\n",
					    pid_nr(p->pid), comm, auto_cfg.max);
			goto out;
		}
	}
	s = pcopy_session_new(p->pid, NULL);
	if (IS_ERR(s)) {
		switch (PTR_ERR(s)) {
		case -ENOSPC:
			auto_cnt.capped++;
			pr_warn_ratelimited("not tracking pid %d (%s): %d sessions, the module's limit\n",
					    pid_nr(p->pid), comm, PCOPY_MAX_SESSIONS);
			break;
		case -EEXIST:
			/* tracked meanwhile, or still on its parent's mm */
			if (p->parent_id && !pcopy_session_has_pid(p->pid)) {
				retry = ++p->tries < FORK_TRIES;
				if (!retry)
					auto_cnt.forks_lost++;
			}
			break;
		}
		goto out;
	}
	if (p->parent_id) {
		s->parent_id = p->parent_id;
		auto_cnt.forks++;
	} else {
		s->auto_attached = true;
		auto_cnt.created++;
	}
	WRITE_ONCE(s->follow_forks, p->follow_forks || (!p->parent_id && auto_cfg.follow_forks));
	pcopy_netlink_notify_new(s);
out:
	mutex_unlock(&pcopy_sessions_lock);
	put_task_struct(task);
	return retry;
}

static void auto_work_fn(struct work_struct *work)
{
	bool again = false;
	unsigned int i;

	for (i = 0; i < AUTO_SLOTS; i++) {
		struct park *p = &parked[i];

		/* pairs with park()'s release: the fields are filled */
		if (smp_load_acquire(&p->state) != SLOT_READY)
			continue;
		if (park_take(p)) {
			again = true;
			continue;
		}
		put_pid(p->pid);
		p->pid = NULL;
		/* done with the fields before a probe may claim the slot */
		smp_store_release(&p->state, SLOT_FREE);
	}
	if (again)
		mod_delayed_work(system_wq, &auto_work, msecs_to_jiffies(10));
}

/* PCOPY_CMD_SET_AUTO, under pcopy_sessions_lock. */
int pcopy_auto_set(bool on, const struct pcopy_auto_config *cfg,
		   struct netlink_ext_ack *extack)
{
	lockdep_assert_held(&pcopy_sessions_lock);
	if (auto_closing) {
		NL_SET_ERR_MSG(extack, "module is unloading");
		return -ESHUTDOWN;
	}
	if (on && auto_probe_err) {
		NL_SET_ERR_MSG(extack, "the userfaultfd_ioctl probe is not attached on this kernel");
		return -EOPNOTSUPP;
	}
	auto_cfg = *cfg;
	WRITE_ONCE(auto_on, on);
	return 0;
}

void pcopy_auto_get(bool *on, struct pcopy_auto_config *cfg,
		    struct pcopy_auto_counters *cnt)
{
	mutex_lock(&pcopy_sessions_lock);
	*on = auto_on;
	*cfg = auto_cfg;
	*cnt = auto_cnt;
	mutex_unlock(&pcopy_sessions_lock);
	cnt->no_slot = atomic64_read(&auto_no_slot);
}

int pcopy_auto_error(void)
{
	return auto_probe_err;
}

int pcopy_fork_error(void)
{
	return fork_tp ? 0 : fork_err;
}

const char *pcopy_fork_reason(void)
{
	return fork_reason;
}

void pcopy_auto_init(void)
{
	struct tracepoint *tp = NULL;

	auto_probe_err = register_kprobe(&auto_kp);
	if (auto_probe_err)
		pr_info("auto-attach unavailable: cannot probe userfaultfd_ioctl (%d)\n",
			auto_probe_err);

	BUILD_BUG_ON(!__same_type(&register_trace_sched_process_fork,
				  int (*)(void (*)(void *, struct task_struct *,
						   struct task_struct *),
					  void *)));
	BUILD_BUG_ON(!__same_type(&fork_probe,
				  void (*)(void *, struct task_struct *,
					   struct task_struct *)));
	for_each_kernel_tracepoint(fork_tp_found, &tp);
	if (!tp) {
		pr_info("forks cannot be followed: %s\n", fork_reason);
		return;
	}
	fork_err = tracepoint_probe_register(tp, fork_probe, NULL);
	if (fork_err) {
		fork_reason = "tracepoint_probe_register failed";
		pr_info("forks cannot be followed (%d): %s\n", fork_err, fork_reason);
		return;
	}
	fork_tp = tp;
	fork_reason = NULL;
}

/* Before the sessions go: no probe, irq_work or work of ours is left. */
void pcopy_auto_exit(void)
{
	unsigned int i;

	mutex_lock(&pcopy_sessions_lock);
	auto_closing = true;
	WRITE_ONCE(auto_on, false);
	mutex_unlock(&pcopy_sessions_lock);
	if (!auto_probe_err)
		unregister_kprobe(&auto_kp);
	if (fork_tp) {
		tracepoint_probe_unregister(fork_tp, fork_probe, NULL);
		tracepoint_synchronize_unregister();
		fork_tp = NULL;
		fork_err = -ENOENT;
		fork_reason = "module unloading";
	}
	irq_work_sync(&auto_irq);
	cancel_delayed_work_sync(&auto_work);
	for (i = 0; i < AUTO_SLOTS; i++) {
		if (parked[i].state == SLOT_READY)
			put_pid(parked[i].pid);
		parked[i].pid = NULL;
		parked[i].state = SLOT_FREE;
	}
}
