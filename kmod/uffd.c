// SPDX-License-Identifier: GPL-2.0
/*
 * The userfaultfd hook.  Linux 6.1 has no userfaultfd tracepoints; every
 * userfault goes through handle_userfault(vmf, reason), and the faulting
 * thread stays inside it for exactly as long as it is blocked.  A kretprobe
 * on it gives both ends of the fault in the faulting thread itself:
 *
 *   entry:  is vmf->vma->vm_mm tracked?  (the only cost for everyone else)
 *           a fault that will not wait is counted as "nowait" and left;
 *           otherwise take a session reference and open the fault
 *   return: close the fault, account its latency, drop the reference
 *
 * The probe is registered for the module's lifetime.  Sessions come and go
 * under it; tying the probe to sessions would strand the references of
 * faults still blocked when the last session ends.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/userfaultfd_k.h>
#include <linux/ktime.h>

#include "internal.h"

/*
 * Instances bound how many tracked threads can be blocked at once; a fault
 * beyond that is not timed and is counted in the kretprobe's nmissed, shown
 * in debugfs.  The instances cost 4096 * ~100 bytes.
 */
#define PCOPY_UFFD_MAXACTIVE 4096

static int uffd_probe_err = -ENOENT;

/* handle_userfault()'s reason is a VM_UFFD_* vma flag; the ABI has its own. */
static u32 uffd_reason(unsigned long reason)
{
	if (reason & VM_UFFD_WP)
		return PCOPY_REASON_WP;
	if (reason & VM_UFFD_MINOR)
		return PCOPY_REASON_MINOR;
	return PCOPY_REASON_MISSING;
}

static int uffd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	struct pcopy_fault *f = (struct pcopy_fault *)ri->data;
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return 1;

	rcu_read_lock();
	s = pcopy_session_find_mm(vmf->vma->vm_mm);
	if (!s)
		goto skip;

	/* these return at once: KVM's non-blocking GUP attempt, mostly */
	if ((vmf->flags & FAULT_FLAG_RETRY_NOWAIT) ||
	    !(vmf->flags & FAULT_FLAG_ALLOW_RETRY)) {
		pcopy_stats_nowait(s);
		f->addr = vmf->real_address;
		f->tid = current->pid;
		f->reason = uffd_reason(regs_get_kernel_argument(regs, 1));
		f->vcpu = pcopy_session_thread_vcpu(s, f->tid);
		f->start = ktime_get_ns();
		pcopy_ring_fault(s, f, PCOPY_REC_FAULT_END, PCOPY_REC_F_NOWAIT,
				 f->start);
		goto skip;
	}
	if (!pcopy_session_get(s))
		goto skip;
	rcu_read_unlock();

	f->s = s;
	f->addr = vmf->real_address;
	f->tid = current->pid;
	f->reason = uffd_reason(regs_get_kernel_argument(regs, 1));
	f->vcpu = pcopy_session_thread_vcpu(s, f->tid);
	f->start = ktime_get_ns();
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
	u64 now = ktime_get_ns();

	/* a signal, not the resolution, woke the thread */
	bool interrupted = signal_pending(current);

	pcopy_stats_fault_end(f->s, f, now, interrupted);
	pcopy_ring_fault(f->s, f, PCOPY_REC_FAULT_END,
			 interrupted ? PCOPY_REC_F_INTERRUPTED : 0, now);
	pcopy_session_put(f->s);
	return 0;
}

static struct kretprobe uffd_krp = {
	.kp.symbol_name	= "handle_userfault",
	.entry_handler	= uffd_entry,
	.handler	= uffd_return,
	.data_size	= sizeof(struct pcopy_fault),
	.maxactive	= PCOPY_UFFD_MAXACTIVE,
};

int pcopy_uffd_init(void)
{
	/*
	 * A missing hook is not fatal: pcopy still controls sessions and
	 * harvests dirty pages, so report the reason and carry on.
	 */
	uffd_probe_err = register_kretprobe(&uffd_krp);
	if (uffd_probe_err)
		pr_warn("cannot probe handle_userfault (%d): fault timing disabled\n",
			uffd_probe_err);
	return 0;
}

void pcopy_uffd_exit(void)
{
	if (!uffd_probe_err)
		unregister_kretprobe(&uffd_krp);
}

bool pcopy_uffd_available(void)
{
	return uffd_probe_err == 0;
}

int pcopy_uffd_probe_error(void)
{
	return uffd_probe_err;
}

int pcopy_uffd_missed(void)
{
	return uffd_probe_err ? 0 : uffd_krp.nmissed;
}
