/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels pcopy.ko builds on, in one place.  Every
 * version check of kmod/ lives here; the rest of the code calls the
 * pcopy_*() wrappers below and never tests LINUX_VERSION_CODE itself.
 *
 * Tested: Debian 12's 6.1 and Debian 13's 6.12 (booted in the test VM),
 * 6.12 PREEMPT_RT and cloud flavours (compile-checked).  To add a kernel,
 * build against its headers; what breaks belongs here, behind a version
 * or config test, with the release that changed it.
 */
#ifndef _PCOPY_COMPAT_H
#define _PCOPY_COMPAT_H

#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/version.h>
#include <net/genetlink.h>

/*
 * Has every thread of @pid's group exited?  thread_group_exited() did this
 * until it was removed in 6.9 (the pidfd code now open-codes the test), so
 * keep our own copy of its definition, which is the same on every kernel:
 * the leader is gone, or it is a zombie with no threads left.
 */
static inline bool pcopy_thread_group_exited(struct pid *pid)
{
	struct task_struct *task;
	bool exited;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_PID);
	exited = !task ||
		 (READ_ONCE(task->exit_state) && thread_group_empty(task));
	rcu_read_unlock();
	return exited;
}

/*
 * The parsed attributes of a dump request: 6.6 moved them into a struct
 * genl_info inside the dump's info (genl_info_dump()).
 */
static inline struct nlattr **pcopy_dump_attrs(struct netlink_callback *cb)
{
#if KERNEL_VERSION(6, 6, 0) > LINUX_VERSION_CODE
	return genl_dumpit_info(cb)->attrs;
#else
	return genl_info_dump(cb)->attrs;
#endif
}

/* vma->vm_flags became const in 6.3; writers use vm_flags_clear(). */
static inline void pcopy_vm_flags_clear(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#if KERNEL_VERSION(6, 3, 0) > LINUX_VERSION_CODE
	vma->vm_flags &= ~flags;
#else
	vm_flags_clear(vma, flags);
#endif
}

/*
 * kretprobes: uffd.c uses only what every release keeps (entry_handler,
 * handler, data_size with ri->data, maxactive, nmissed and kp.nmissed).
 * The instance store under them changed twice, to rethook (x86, 5.19) and
 * to an objpool of maxactive instances (6.7); neither changes that API or
 * that a fault finding no free instance counts in nmissed, which
 * accounting_test checks exactly on every lane.  Nothing here depends on
 * the internals, so nothing needs a version test.
 */

/*
 * Tracepoint prototypes.  A probe must have exactly its tracepoint's
 * prototype (with kCFI a mismatch traps; without, arguments are read
 * from the wrong registers).
 *
 * kvm_dirty_ring_push and kvm_dirty_ring_reset are declared in
 * include/trace/events/kvm.h, which every header package ships: the
 * build checks our probes against the kernel's own declaration (ring.c
 * includes it through compat_check_kvm_protos()).
 *
 * kvm_entry is arch code (arch/x86/kvm/trace.h, not in the headers): its
 * prototype is known per architecture and release.  x86 passes the vCPU
 * and, since 6.9 and in Debian's 6.1 (backported with the same change),
 * force_immediate_exit.  arm64's kvm_entry takes the guest PC, with no
 * vCPU at all: there the hook is not attached.
 */
#if defined(CONFIG_X86)
#define PCOPY_HAVE_KVM_ENTRY	1
#define PCOPY_KVM_ENTRY_PROTO	struct kvm_vcpu *vcpu, bool force_immediate_exit
#else
#define PCOPY_HAVE_KVM_ENTRY	0
#define PCOPY_KVM_ENTRY_UNSUPPORTED \
	"kvm_entry carries no vCPU on this architecture"
#endif

#endif /* _PCOPY_COMPAT_H */
