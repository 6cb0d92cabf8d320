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

/* vma->vm_flags became const in 6.3; writers use vm_flags_clear(). */
static inline void pcopy_vm_flags_clear(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	vma->vm_flags &= ~flags;
#else
	vm_flags_clear(vma, flags);
#endif
}

#endif /* _PCOPY_COMPAT_H */
