/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pcopy: postcopy live-migration accelerator and observer for KVM hosts.
 *
 * This header is the only ABI shared by pcopy.ko, the pcopy agent and the
 * selftests.  Everything here is append-only: enum values are never
 * renumbered or reused, structures only grow at the end behind a version or
 * size field.
 *
 * Generic netlink
 * ---------------
 * Family PCOPY_GENL_NAME ("pcopy"), version PCOPY_GENL_VERSION.  Every
 * command requires CAP_NET_ADMIN (checked by the genetlink core with
 * GENL_ADMIN_PERM); an unprivileged caller gets EPERM.  The family is
 * available in every network namespace, because a VMM and its migration
 * agent commonly run inside one, but the capability is always checked
 * against the initial user namespace: tracking a process is a host-wide
 * privilege.
 *
 * All commands share one flat attribute space, PCOPY_A_*, validated by a
 * strict family policy: an attribute above PCOPY_A_MAX, of the wrong length
 * or type, a string without its terminating NUL or longer than allowed, or
 * a nested attribute without NLA_F_NESTED is rejected with EINVAL (ERANGE
 * for out-of-range values) and an extack message pointing at the attribute.
 * Attributes a command does not use are validated but otherwise ignored.
 * Unknown commands are rejected by the genetlink core with EOPNOTSUPP.
 *
 * PCOPY_CMD_GET_INFO
 *	Request: no attributes.
 *	Reply:
 *	  PCOPY_A_MODULE_VERSION	NUL-terminated string, "MAJOR.MINOR.PATCH"
 *	  PCOPY_A_ABI_VERSION		u32, PCOPY_ABI_VERSION of the module
 *	  PCOPY_A_FEATURES		u64, PCOPY_FEAT_* hooks usable right now
 *	  PCOPY_A_FEATURES_KNOWN	u64, every PCOPY_FEAT_* bit the module knows
 *
 *	A client compares PCOPY_A_ABI_VERSION with its own PCOPY_ABI_VERSION;
 *	the ABI only grows, so a module with a higher version serves an older
 *	client unchanged.
 *
 * Sessions
 * --------
 * A session tracks one process (a thread group, normally a VMM), named by
 * its pid in the caller's pid namespace.  Faults are attributed to a
 * session by address space: any thread that faults on the process's memory
 * counts (the process's own threads, but also e.g. KVM's async page-fault
 * workers).  A session ends when the process exits, when it is deleted, or
 * when the module is unloaded; each end is announced on the "events"
 * multicast group.
 *
 * PCOPY_CMD_SESSION_NEW
 *	Request: PCOPY_A_PID (required).
 *	Errors:  ESRCH  no such process, or the pid is a thread that is not a
 *			thread-group leader;
 *		 EINVAL the process has no address space (a kernel thread);
 *		 EEXIST the process is already tracked;
 *		 ENOSPC PCOPY_MAX_SESSIONS sessions exist.
 *	Reply:   like PCOPY_CMD_SESSION_GET.
 *
 * PCOPY_CMD_SESSION_DEL
 *	Request: PCOPY_A_PID (required).  Errors: ENOENT not tracked.
 *
 * PCOPY_CMD_SESSION_GET
 *	do:   PCOPY_A_PID (required).  Errors: ENOENT not tracked.
 *	dump: every session, one message each.
 *	Reply: PCOPY_A_PID, PCOPY_A_STATS (nested, PCOPY_STATS_A_*),
 *	       PCOPY_A_VCPUS (nested: one PCOPY_A_VCPU_ENTRY, nested
 *	       PCOPY_VCPU_A_*, per known vCPU), PCOPY_A_HIST_NS and
 *	       PCOPY_A_HIST_US (nested histograms, see below).  A dump message
 *	       that cannot hold the per-vCPU table omits it and carries
 *	       PCOPY_A_TRUNCATED; a "do" request always gets everything.
 *
 * PCOPY_CMD_SESSION_RESET
 *	Request: PCOPY_A_PID (required).  Zeroes every counter, histogram and
 *	blocktime.  Faults outstanding at that moment are counted in full
 *	when they end; vCPU mappings are kept.  Errors: ENOENT.
 *
 * PCOPY_CMD_SET_VCPU
 *	Request: PCOPY_A_PID, PCOPY_A_TID (both required), PCOPY_A_VCPU
 *	(required; < PCOPY_MAX_VCPUS, or PCOPY_VCPU_NONE to declare the thread
 *	a non-vCPU thread).  An explicit mapping overrides what pcopy learns
 *	from KVM and is never replaced by it.  Errors: ENOENT not tracked,
 *	ESRCH the thread does not belong to the process, ERANGE bad vCPU.
 *
 * Events (multicast group PCOPY_MCGRP_EVENTS)
 *	PCOPY_CMD_SESSION_NEW	PCOPY_A_PID
 *	PCOPY_CMD_SESSION_DEL	PCOPY_A_PID, PCOPY_A_END_REASON, and the
 *				session's final PCOPY_A_STATS
 *
 * Histograms
 * ----------
 * A histogram attribute nests one u64 count per non-empty bucket; the
 * attribute type is the bucket index + 1.
 *   PCOPY_A_HIST_NS: PCOPY_HIST_NS_BUCKETS buckets, bucket i counts
 *	latencies in [2^i, 2^(i+1)) ns; bucket 0 also counts 0 ns.
 *   PCOPY_A_HIST_US: the view of QEMU's postcopy latency distribution,
 *	PCOPY_HIST_US_BUCKETS buckets, bucket i counts [2^i, 2^(i+1)) us,
 *	bucket 0 also counts < 1 us and the last bucket everything above.
 *
 * Statistics (Documentation/stats.rst has the exact definitions)
 * ----------
 * Latency is measured in the kernel, in ns, from the moment the faulting
 * thread enters the userfault path to the moment it leaves it.  A fault
 * that returns at once because the caller asked not to wait
 * (FAULT_FLAG_RETRY_NOWAIT, e.g. KVM's first, non-blocking GUP attempt) is
 * a "nowait" fault: counted in PCOPY_STATS_A_NOWAIT_FAULTS only.  Every
 * other fault is a blocking fault.
 *
 * debugfs
 * -------
 * <debugfs>/pcopy/status and <debugfs>/pcopy/sessions/<pid>/{summary,hist,
 * vcpus} are for humans and tests only; they are not ABI.
 */
#ifndef _UAPI_LINUX_PCOPY_H
#define _UAPI_LINUX_PCOPY_H

#include <linux/types.h>

#define PCOPY_GENL_NAME		"pcopy"
#define PCOPY_GENL_VERSION	1
#define PCOPY_ABI_VERSION	1
#define PCOPY_MCGRP_EVENTS	"events"

#define PCOPY_MAX_SESSIONS	64
#define PCOPY_MAX_VCPUS		512
#define PCOPY_VCPU_NONE		0xffffffffU
#define PCOPY_HIST_NS_BUCKETS	64
#define PCOPY_HIST_US_BUCKETS	24

/* Longest PCOPY_A_MODULE_VERSION, without its NUL. */
#define PCOPY_VERSION_MAXLEN	31

enum pcopy_cmd {
	PCOPY_CMD_UNSPEC,
	PCOPY_CMD_GET_INFO,
	PCOPY_CMD_SESSION_NEW,
	PCOPY_CMD_SESSION_DEL,
	PCOPY_CMD_SESSION_GET,
	PCOPY_CMD_SESSION_RESET,
	PCOPY_CMD_SET_VCPU,
	__PCOPY_CMD_MAX
};
#define PCOPY_CMD_MAX (__PCOPY_CMD_MAX - 1)

enum pcopy_attr {
	PCOPY_A_UNSPEC,
	PCOPY_A_PAD,			/* padding for 64-bit attributes */
	PCOPY_A_MODULE_VERSION,		/* NUL string, <= PCOPY_VERSION_MAXLEN */
	PCOPY_A_ABI_VERSION,		/* u32 */
	PCOPY_A_FEATURES,		/* u64, enum pcopy_feature */
	PCOPY_A_FEATURES_KNOWN,		/* u64, enum pcopy_feature */
	PCOPY_A_PID,			/* u32, a process (thread-group) id */
	PCOPY_A_TID,			/* u32, a thread id */
	PCOPY_A_VCPU,			/* u32, vCPU index or PCOPY_VCPU_NONE */
	PCOPY_A_STATS,			/* nested, enum pcopy_stats_attr */
	PCOPY_A_VCPUS,			/* nested, PCOPY_A_VCPU_ENTRY... */
	PCOPY_A_VCPU_ENTRY,		/* nested, enum pcopy_vcpu_attr */
	PCOPY_A_HIST_NS,		/* nested histogram, see above */
	PCOPY_A_HIST_US,		/* nested histogram, see above */
	PCOPY_A_TRUNCATED,		/* flag: per-vCPU table left out */
	PCOPY_A_END_REASON,		/* u32, enum pcopy_end_reason */
	__PCOPY_A_LAST
};
#define PCOPY_A_MAX (__PCOPY_A_LAST - 1)

enum pcopy_stats_attr {
	PCOPY_STATS_A_UNSPEC,
	PCOPY_STATS_A_PAD,
	PCOPY_STATS_A_FAULTS,		/* u64, blocking faults */
	PCOPY_STATS_A_NOWAIT_FAULTS,	/* u64, faults that did not wait */
	PCOPY_STATS_A_INTERRUPTED,	/* u64, blocking faults ended by a signal */
	PCOPY_STATS_A_LATENCY_SUM_NS,	/* u64, sum over blocking faults */
	PCOPY_STATS_A_LATENCY_MAX_NS,	/* u64 */
	PCOPY_STATS_A_OUTSTANDING,	/* u32, blocking faults in progress */
	PCOPY_STATS_A_OUTSTANDING_MAX,	/* u32, highest OUTSTANDING seen */
	PCOPY_STATS_A_VCPU_FAULTS,	/* u64, blocking faults of vCPU threads */
	PCOPY_STATS_A_NONVCPU_FAULTS,	/* u64, blocking faults of other threads */
	PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS, /* u64 */
	PCOPY_STATS_A_KNOWN_VCPUS,	/* u32, vCPUs mapped to a thread */
	PCOPY_STATS_A_BLOCKTIME_NS,	/* u64, whole-VM blocktime */
	PCOPY_STATS_A_ELAPSED_NS,	/* u64, since creation or last reset */
	__PCOPY_STATS_A_LAST
};
#define PCOPY_STATS_A_MAX (__PCOPY_STATS_A_LAST - 1)

enum pcopy_vcpu_attr {
	PCOPY_VCPU_A_UNSPEC,
	PCOPY_VCPU_A_PAD,
	PCOPY_VCPU_A_INDEX,		/* u32 */
	PCOPY_VCPU_A_TID,		/* u32, last thread mapped to it */
	PCOPY_VCPU_A_EXPLICIT,		/* flag: mapping set by PCOPY_CMD_SET_VCPU */
	PCOPY_VCPU_A_FAULTS,		/* u64 */
	PCOPY_VCPU_A_LATENCY_SUM_NS,	/* u64 */
	PCOPY_VCPU_A_LATENCY_MIN_NS,	/* u64, 0 when no fault */
	PCOPY_VCPU_A_LATENCY_MAX_NS,	/* u64 */
	PCOPY_VCPU_A_BLOCKTIME_NS,	/* u64 */
	PCOPY_VCPU_A_OUTSTANDING,	/* u32 */
	__PCOPY_VCPU_A_LAST
};
#define PCOPY_VCPU_A_MAX (__PCOPY_VCPU_A_LAST - 1)

enum pcopy_end_reason {
	PCOPY_END_DELETED,		/* PCOPY_CMD_SESSION_DEL */
	PCOPY_END_EXITED,		/* the process exited */
	PCOPY_END_UNLOAD,		/* the module is being unloaded */
};

/*
 * Hooks the module could install on the running kernel.  A bit is set in
 * PCOPY_A_FEATURES only while the hook is usable: the KVM bits follow kvm.ko
 * being loaded and unloaded.
 */
enum pcopy_feature {
	/* A kprobe on handle_userfault() registers: faults can be timed. */
	PCOPY_FEAT_UFFD_HOOK		= 1 << 0,
	/* kvm.ko is loaded and its tracepoints were found. */
	PCOPY_FEAT_KVM			= 1 << 1,
	/* kvm's kvm_dirty_ring_push tracepoint: dirty GFNs can be harvested. */
	PCOPY_FEAT_DIRTY_RING_HOOK	= 1 << 2,
	/* kvm's kvm_entry tracepoint: threads can be mapped to vCPUs. */
	PCOPY_FEAT_VCPU_MAP		= 1 << 3,

	__PCOPY_FEAT_ALL		= (1 << 4) - 1
};

#endif /* _UAPI_LINUX_PCOPY_H */
