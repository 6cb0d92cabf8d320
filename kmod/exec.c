// SPDX-License-Identifier: GPL-2.0
/*
 * Following execve().  VMMs are started by wrappers (a shell script that
 * execs QEMU, libvirt's fork+exec, a jailer), so a session made for the
 * wrapper must survive the exec that starts the VMM.  The exec gives the
 * process a new address space, under which the fault and KVM hooks would
 * no longer find the session.
 *
 * The core kernel's sched_process_exec tracepoint fires in the exec'ing
 * thread once the new program is loaded and before it runs: no thread can
 * fault on the new address space yet (the other threads are gone, and only
 * the new program can register userfaultfd ranges), so binding the session
 * there loses nothing.  The tracepoint is the kernel's own, found by name;
 * its prototype (the task, the old pid, the binprm) has not changed since
 * it was added and is checked against the kernel's declaration at build
 * time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/binfmts.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/tracepoint.h>
#include <trace/events/sched.h>

#include <pcopy.h>

#include "internal.h"

static struct tracepoint *exec_tp;
static int exec_err = -ENOENT;
static const char *exec_reason = "tracepoint sched_process_exec not found";

static void exec_probe(void *data, struct task_struct *p, pid_t old_pid,
		       struct linux_binprm *bprm)
{
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return;
	rcu_read_lock();
	s = xa_load(&pcopy_sessions, task_tgid_nr(p));
	/* the same process, not an older one whose tgid was reused */
	if (s && s->pid == task_tgid(p) && p->mm)
		pcopy_session_exec(s, p->mm);
	rcu_read_unlock();
}

static void exec_tp_found(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exec"))
		*(struct tracepoint **)priv = tp;
}

int pcopy_exec_init(void)
{
	struct tracepoint *tp = NULL;

	BUILD_BUG_ON(!__same_type(&register_trace_sched_process_exec,
				  int (*)(void (*)(void *, struct task_struct *,
						   pid_t, struct linux_binprm *),
					  void *)));
	BUILD_BUG_ON(!__same_type(&exec_probe,
				  void (*)(void *, struct task_struct *, pid_t,
					   struct linux_binprm *)));

	for_each_kernel_tracepoint(exec_tp_found, &tp);
	if (!tp) {
		pr_warn("sessions will not follow execve(): %s\n", exec_reason);
		return exec_err;
	}
	exec_err = tracepoint_probe_register(tp, exec_probe, NULL);
	if (exec_err) {
		exec_reason = "tracepoint_probe_register failed";
		pr_warn("sessions will not follow execve() (%d): %s\n",
			exec_err, exec_reason);
		return exec_err;
	}
	exec_tp = tp;
	exec_reason = NULL;
	return 0;
}

/* Before the session tables go: no probe runs once this returns. */
void pcopy_exec_exit(void)
{
	if (!exec_tp)
		return;
	tracepoint_probe_unregister(exec_tp, exec_probe, NULL);
	tracepoint_synchronize_unregister();
	exec_tp = NULL;
	exec_err = -ENOENT;
	exec_reason = "module unloading";
}

bool pcopy_exec_available(void)
{
	return exec_tp;
}

int pcopy_exec_error(void)
{
	return exec_tp ? 0 : exec_err;
}

const char *pcopy_exec_reason(void)
{
	return exec_reason;
}
