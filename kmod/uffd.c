// SPDX-License-Identifier: GPL-2.0
/*
 * The userfaultfd hooks.  Every userfault goes through
 * handle_userfault(vmf, reason), and the faulting thread stays inside it
 * for exactly as long as it is blocked.  A kretprobe on it gives both ends
 * of the fault in the faulting thread itself:
 *
 *   entry:  is vmf->vma->vm_mm tracked?  (the only cost for everyone else)
 *           a fault that will not wait is counted as "nowait" and left;
 *           otherwise take a session reference and open the fault
 *   return: close the fault, account its latency, drop the reference
 *
 * Two more probes make the figures honest:
 *
 *   - a kprobe on handle_userfault() with only a post handler, which runs
 *     after every pre handler at that address, so after the kretprobe's.
 *     When the kretprobe had no free instance its entry handler did not
 *     run; the post handler sees that through a per-CPU mark and counts
 *     the fault as missed, in its session, with a LOST record on its ring.
 *   - a kretprobe on userfaultfd_wake_function(), the wait-queue callback
 *     through which UFFDIO_COPY/ZEROPAGE/WAKE and friends wake a faulting
 *     thread.  A fault whose thread it woke was resolved; one that returns
 *     with a signal pending and was never woken was interrupted.
 *
 * The probes are registered for the module's lifetime.  Sessions come and
 * go under them; tying the probes to sessions would strand the references
 * of faults still blocked when the last session ends.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/userfaultfd_k.h>
#include <linux/ktime.h>
#include <linux/wait.h>

#include "internal.h"

/*
 * Instances bound how many faults of any process can be inside
 * handle_userfault() at once while timed; one beyond that is counted as
 * missed.  A host with hundreds of vCPU threads per VM and many VMs needs
 * thousands; each costs about 100 bytes.
 */
static unsigned int uffd_maxactive = 4096;
module_param(uffd_maxactive, uint, 0444);
MODULE_PARM_DESC(uffd_maxactive,
		 "faults timed at once, 1..65536 (default 4096)");

static int uffd_probe_err = -ENOENT;
static int uffd_post_err = -ENOENT;
static int uffd_wake_err = -ENOENT;

/* The task whose handle_userfault() entry our kretprobe handler saw last. */
static DEFINE_PER_CPU(struct task_struct *, uffd_entered);

/* handle_userfault()'s reason is a VM_UFFD_* vma flag; the ABI has its own. */
static u32 uffd_reason(unsigned long reason)
{
	if (reason & VM_UFFD_WP)
		return PCOPY_REASON_WP;
	if (reason & VM_UFFD_MINOR)
		return PCOPY_REASON_MINOR;
	return PCOPY_REASON_MISSING;
}

/* These return at once: KVM's non-blocking GUP attempt, mostly. */
static bool uffd_nowait(const struct vm_fault *vmf)
{
	return (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) ||
	       !(vmf->flags & FAULT_FLAG_ALLOW_RETRY);
}

static int uffd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct pcopy_fault *f = (struct pcopy_fault *)ri->data;
	struct pcopy_session *s;

	/* whatever happens next, this entry was not missed */
	this_cpu_write(uffd_entered, current);
	if (!atomic_read(&pcopy_nr_sessions))
		return 1;

	rcu_read_lock();
	s = pcopy_session_find_mm(vmf->vma->vm_mm);
	if (!s)
		goto skip;

	f->addr = vmf->real_address;
	f->tid = current->pid;
	f->reason = uffd_reason(regs_get_kernel_argument(regs, 1));
	if (uffd_nowait(vmf)) {
		f->vcpu = pcopy_stats_nowait(s, f->tid);
		f->start = pcopy_now();
		pcopy_ring_fault(s, f, PCOPY_REC_FAULT_END, PCOPY_REC_F_NOWAIT,
				 f->start);
		goto skip;
	}
	if (!pcopy_session_get(s))
		goto skip;
	rcu_read_unlock();

	f->s = s;
	f->task = current;
	f->woken = false;
	f->start = pcopy_now();
	pcopy_stats_fault_begin(s, f);
	pcopy_ring_fault(s, f, PCOPY_REC_FAULT_BEGIN, 0, 0);
	return 0;

skip:
	rcu_read_unlock();
	return 1;
}

static int uffd_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct pcopy_fault *f = (struct pcopy_fault *)ri->data;
	vm_fault_t ret = (__force vm_fault_t)regs_return_value(regs);
	enum pcopy_fault_end how = PCOPY_FAULT_RESOLVED;
	u64 now = pcopy_now();
	u16 flags = 0;

	/*
	 * Only VM_FAULT_RETRY follows a wait; SIGBUS or NOPAGE mean the
	 * fault was answered without one.  Read f->woken without the lock:
	 * the wake happened before this thread ran again, or not at all.
	 */
	if (!(ret & VM_FAULT_RETRY)) {
		how = PCOPY_FAULT_NOWAIT;
		flags = PCOPY_REC_F_NOWAIT;
	} else if (!READ_ONCE(f->woken) && signal_pending(current)) {
		how = PCOPY_FAULT_INTERRUPTED;
		flags = PCOPY_REC_F_INTERRUPTED;
	}
	pcopy_stats_fault_end(f->s, f, now, how);
	pcopy_ring_fault(f->s, f, PCOPY_REC_FAULT_END, flags, now);
	pcopy_session_put(f->s);
	return 0;
}

static struct kretprobe uffd_krp = {
	.kp.symbol_name	= "handle_userfault",
	.entry_handler	= uffd_entry,
	.handler	= uffd_return,
	.data_size	= sizeof(struct pcopy_fault),
};

/* After every pre handler at handle_userfault(): see the top of the file. */
static void uffd_post(struct kprobe *p, struct pt_regs *regs,
		      unsigned long flags)
{
	struct vm_fault *vmf;
	struct pcopy_session *s;

	if (this_cpu_read(uffd_entered) == current) {
		this_cpu_write(uffd_entered, NULL);
		return;
	}
	if (!atomic_read(&pcopy_nr_sessions))
		return;
	vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	rcu_read_lock();
	s = pcopy_session_find_mm(vmf->vma->vm_mm);
	if (s) {
		if (uffd_nowait(vmf)) {
			pcopy_stats_nowait(s, current->pid);
		} else {
			pcopy_stats_missed(s);
			pcopy_ring_lost(s, 1);
		}
	}
	rcu_read_unlock();
}

static struct kprobe uffd_kp = {
	.symbol_name	= "handle_userfault",
	.post_handler	= uffd_post,
};

struct uffd_wake {
	struct task_struct *task;
};

static int uffd_wake_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	wait_queue_entry_t *wq = (wait_queue_entry_t *)regs_get_kernel_argument(regs, 0);
	struct uffd_wake *w = (struct uffd_wake *)ri->data;

	if (!atomic_read(&pcopy_nr_sessions))
		return 1;
	w->task = wq->private;
	return 0;
}

/* Non-zero: the wake matched the fault's range and woke its thread. */
static int uffd_wake_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct uffd_wake *w = (struct uffd_wake *)ri->data;
	struct pcopy_session *s;
	struct mm_struct *mm;

	if (!regs_return_value(regs))
		return 0;
	/*
	 * The woken thread is still inside handle_userfault() (it cannot
	 * return before we release the wait-queue lock our caller holds),
	 * so it and its mm are alive.
	 */
	mm = READ_ONCE(w->task->mm);
	if (!mm)
		return 0;
	rcu_read_lock();
	s = pcopy_session_find_mm(mm);
	if (s)
		pcopy_stats_fault_woken(s, w->task);
	rcu_read_unlock();
	return 0;
}

static struct kretprobe uffd_wake_krp = {
	.kp.symbol_name	= "userfaultfd_wake_function",
	.entry_handler	= uffd_wake_entry,
	.handler	= uffd_wake_return,
	.data_size	= sizeof(struct uffd_wake),
};

int pcopy_uffd_init(void)
{
	if (!uffd_maxactive || uffd_maxactive > 65536) {
		pr_err("uffd_maxactive=%u is out of range (1..65536)\n",
		       uffd_maxactive);
		return -EINVAL;
	}
	uffd_krp.maxactive = uffd_maxactive;

	/*
	 * A missing hook is not fatal: pcopy still controls sessions and
	 * harvests dirty pages, so report the reason and carry on.  The
	 * post-handler kprobe goes in first: at one address, the probe
	 * registered last runs its pre handler first, and post handlers
	 * run after all pre handlers either way.
	 */
	uffd_post_err = register_kprobe(&uffd_kp);
	uffd_probe_err = register_kretprobe(&uffd_krp);
	if (uffd_probe_err) {
		pr_warn("cannot probe handle_userfault (%d): fault timing disabled\n",
			uffd_probe_err);
		if (!uffd_post_err)
			unregister_kprobe(&uffd_kp);
		uffd_post_err = uffd_probe_err;
		return 0;
	}
	if (uffd_post_err)
		pr_warn("cannot add the missed-fault probe (%d): missed faults are counted globally only\n",
			uffd_post_err);
	uffd_wake_err = register_kretprobe(&uffd_wake_krp);
	if (uffd_wake_err)
		pr_warn("cannot probe userfaultfd_wake_function (%d): a fault with a signal pending counts as interrupted\n",
			uffd_wake_err);
	return 0;
}

void pcopy_uffd_exit(void)
{
	if (!uffd_wake_err)
		unregister_kretprobe(&uffd_wake_krp);
	if (!uffd_probe_err)
		unregister_kretprobe(&uffd_krp);
	if (!uffd_post_err)
		unregister_kprobe(&uffd_kp);
}

bool pcopy_uffd_available(void)
{
	return uffd_probe_err == 0;
}

int pcopy_uffd_probe_error(void)
{
	return uffd_probe_err;
}

int pcopy_uffd_post_error(void)
{
	return uffd_post_err;
}

int pcopy_uffd_wake_error(void)
{
	return uffd_wake_err;
}

/* Faults not timed because every kretprobe instance was in use. */
u64 pcopy_uffd_missed(void)
{
	return uffd_probe_err ? 0 : uffd_krp.nmissed;
}

/* Hits of any of our probes that kprobes skipped (recursion). */
u64 pcopy_probe_missed(void)
{
	u64 n = 0;

	if (!uffd_probe_err)
		n += uffd_krp.kp.nmissed;
	if (!uffd_post_err)
		n += uffd_kp.nmissed;
	if (!uffd_wake_err)
		n += uffd_wake_krp.kp.nmissed + uffd_wake_krp.nmissed;
	return n;
}

u32 pcopy_uffd_maxactive(void)
{
	return uffd_maxactive;
}
