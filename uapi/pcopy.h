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
 *	  PCOPY_A_UFFD_MAXACTIVE	u32, faults that can be timed at once
 *					(module parameter uffd_maxactive)
 *	  PCOPY_A_UFFD_MISSED		u64, faults not timed because that many
 *					were already in progress (kretprobe
 *					nmissed); each is also counted in its
 *					session's PCOPY_STATS_A_MISSED
 *	  PCOPY_A_PROBE_MISSED		u64, hits of pcopy's probes that the
 *					kprobes core skipped (recursion)
 *	  PCOPY_A_ENDED_MAX		u32, ended sessions kept (ended_max)
 *	  PCOPY_A_ENDED_SECS		u32, how long, in seconds (ended_secs;
 *					0: no limit)
 *	  PCOPY_A_ENDED_COUNT		u32, ended sessions kept now
 *	  PCOPY_A_HOOKS			nested, one PCOPY_A_HOOK (nested,
 *					PCOPY_HOOK_A_*) per hook: its name, the
 *					PCOPY_FEAT_* bit it provides, and while
 *					it is not attached the negative errno
 *					and a reason in words
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
 * workers).  A session follows its process through execve(): it is bound to
 * the new address space before the new program runs, keeps its counters
 * (PCOPY_STATS_A_EXECS counts the execs) and learns its vCPU threads again
 * (every thread mapping is dropped: the threads of the old program are
 * gone).  This needs PCOPY_FEAT_EXEC_HOOK; without it an exec is not seen
 * and the session counts nothing afterwards.  A session ends when the
 * process exits, when it is deleted, when an exec cannot be followed
 * (PCOPY_END_EXEC_LOST: no memory for the new binding), or when the module
 * is unloaded; each end is announced on the "events" multicast group.
 *
 * Every session has an id, unique for the module's lifetime and never
 * reused (PCOPY_A_SESSION_ID, from 1).  An ended session lingers, unless
 * the module is unloading: the last PCOPY_A_ENDED_MAX ended sessions keep
 * their full state, frozen at the end, for PCOPY_A_ENDED_SECS seconds (0:
 * no time limit); both are module parameters (ended_max, ended_secs),
 * writable at run time.  Ended sessions are never found by pid alone: a
 * request asks for them with PCOPY_A_ENDED or names one by its id, so a
 * new session of a reused pid and an ended one never mix.
 *
 * PCOPY_CMD_SESSION_NEW
 *	Request: PCOPY_A_PID (required); PCOPY_A_FOLLOW_FORKS: every child
 *	process the process forks gets a session of its own too, shortly
 *	after the fork, following forks in turn and carrying
 *	PCOPY_A_PARENT_ID (needs PCOPY_FEAT_FORK_HOOK, else EOPNOTSUPP).  A
 *	child that shares its parent's address space (vfork, posix_spawn) is
 *	tracked once it execs; one not tracked within 2 s is counted in
 *	PCOPY_A_AUTO_FORKS_LOST (GET_INFO), the ones followed in
 *	PCOPY_A_AUTO_FORKS.
 *	Errors:  ESRCH  no such process, the pid is a thread that is not a
 *			thread-group leader, or the process is exiting (its
 *			address space is gone: a zombie);
 *		 EINVAL the process has no address space (a kernel thread);
 *		 EEXIST the process is already tracked;
 *		 ENOSPC PCOPY_MAX_SESSIONS sessions exist.
 *	Reply:   like PCOPY_CMD_SESSION_GET.
 *
 * PCOPY_CMD_SESSION_DEL
 *	Request: PCOPY_A_PID (required).  Errors: ENOENT not tracked.
 *
 * PCOPY_CMD_SESSION_GET
 *	do:   PCOPY_A_PID or PCOPY_A_SESSION_ID (one is required; with both,
 *	      both must match).  By pid: the live session, or with the
 *	      PCOPY_A_ENDED flag, if there is none, the newest ended session
 *	      of that pid.  By id: that session, live or ended.  Errors:
 *	      ENOENT not tracked (no such session).
 *	dump: every live session, one message each; with PCOPY_A_ENDED every
 *	      ended session instead, newest first.
 *	Reply: PCOPY_A_PID, PCOPY_A_SESSION_ID, PCOPY_A_STATS (nested,
 *	       PCOPY_STATS_A_*),
 *	       PCOPY_A_VCPUS (nested: one PCOPY_A_VCPU_ENTRY, nested
 *	       PCOPY_VCPU_A_*, per known vCPU), PCOPY_A_HIST_NS and
 *	       PCOPY_A_HIST_US (nested histograms, see below).  A dump message
 *	       that cannot hold the per-vCPU table omits it and carries
 *	       PCOPY_A_TRUNCATED; a "do" request always gets everything.  An
 *	       ended session's reply also carries the PCOPY_A_ENDED flag,
 *	       PCOPY_A_END_REASON and PCOPY_A_END_TIME; its figures stop at
 *	       the end (PCOPY_STATS_A_ELAPSED_NS included).
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
 * PCOPY_CMD_SET_AUTO
 *	Request: PCOPY_A_AUTO_ON (required), and with 1 the filter:
 *	PCOPY_A_AUTO_COMM (the command name of the process's main thread,
 *	compared on its first 15 characters), PCOPY_A_AUTO_CGROUP (the id,
 *	i.e. the inode number, of a cgroup v2 directory: the process must be
 *	in it or below), PCOPY_A_AUTO_MAX (auto-attached sessions at most,
 *	default PCOPY_MAX_SESSIONS), PCOPY_A_FOLLOW_FORKS (the sessions it
 *	creates follow forks).  Each one given must match; none: every
 *	process.  Every SET_AUTO replaces the whole configuration.  With auto
 *	on, the module creates a session by itself, marked
 *	PCOPY_A_AUTO_ATTACHED, for each untracked process that registers a
 *	userfaultfd range (UFFDIO_REGISTER) and passes the filter, shortly
 *	after the registration (faults before the session exists are not
 *	counted), and announces it like any other.  Errors: EOPNOTSUPP
 *	without PCOPY_FEAT_AUTO_HOOK.  GET_INFO reports the configuration
 *	(PCOPY_A_AUTO_ON, _COMM, _CGROUP, _MAX) and what it did:
 *	PCOPY_A_AUTO_CREATED sessions, PCOPY_A_AUTO_FILTERED processes the
 *	filter passed over, PCOPY_A_AUTO_CAPPED registrations refused at the
 *	cap (PCOPY_A_AUTO_MAX, or PCOPY_MAX_SESSIONS sessions in all),
 *	PCOPY_A_AUTO_NO_SLOT registrations not looked at (too many at once).
 *
 * Events (multicast group PCOPY_MCGRP_EVENTS; joining it needs
 * CAP_NET_ADMIN, and events are sent in the initial network namespace
 * only: they name host pids)
 *	PCOPY_CMD_SESSION_NEW	PCOPY_A_PID, PCOPY_A_SESSION_ID
 *	PCOPY_CMD_SESSION_DEL	PCOPY_A_PID, PCOPY_A_SESSION_ID,
 *				PCOPY_A_END_REASON, and the session's final
 *				PCOPY_A_STATS
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
 * The record ring (/dev/pcopy)
 * ----------------------------
 * A consumer (the agent) receives a session's records as they happen,
 * without a syscall per record, through a ring shared with the kernel:
 *
 *   fd = open("/dev/pcopy", O_RDWR);       needs CAP_NET_ADMIN
 *   ioctl(fd, PCOPY_IOC_BIND, &bind);      one ring per session
 *   page = sysconf(_SC_PAGESIZE);          data_pages are of this size
 *   cons = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
 *               PCOPY_RING_PGOFF_CONSUMER * page);
 *   prod = mmap(NULL, page + data_size, PROT_READ, MAP_SHARED, fd,
 *               PCOPY_RING_PGOFF_PRODUCER * page);
 *   poll(fd) / epoll: POLLIN once at least bind.watermark bytes are
 *   unread, or any byte is unread after the session ended; POLLHUP once
 *   the session ended (drain until consumer_pos == producer_pos);
 *   POLLERR while the consumer position is invalid.
 *
 * Mappings: the consumer page (offset PCOPY_RING_PGOFF_CONSUMER pages, exactly one
 * page, read-write, MAP_SHARED) holds struct pcopy_ring_consumer, the only
 * memory the consumer writes.  The producer mapping (offset
 * PCOPY_RING_PGOFF_PRODUCER = one page, exactly one page plus data_size,
 * read-only: PROT_WRITE is refused and cannot be added later) holds struct
 * pcopy_ring_header in its first page and the data area from
 * header.data_offset.  Any other offset, length or protection: EINVAL.
 *
 * Positions are free-running u64 byte counts; a record starts at
 * (pos & (data_size - 1)) and is 8-byte aligned.  Records never wrap: the
 * producer pads the end of the data area with a PCOPY_REC_PAD record.
 * Compare positions by difference, never with "<".
 *
 * Ordering:
 *   producer: write record; smp_store_release(&hdr->producer_pos)
 *   consumer: smp_load_acquire(&hdr->producer_pos); read records;
 *             smp_store_release(&cons->consumer_pos)
 *   producer: smp_load_acquire(&cons->consumer_pos) before reusing space
 *
 * The consumer position is hostile input: a value that is not 8-byte
 * aligned or lies outside [producer_pos - data_size, producer_pos] is
 * ignored (the ring is treated as full), counted in consumer_errors, and
 * flagged with PCOPY_RING_F_CONSUMER_INVALID until a valid value returns.
 *
 * The producer never waits: when a record does not fit it is dropped and
 * counted, and the next record that fits is preceded by a PCOPY_REC_LOST
 * record with the exact numbers dropped since the previous one.  The header
 * keeps running totals; lost_*_pending are drops not yet reported by a
 * LOST record, so at any time
 *   produced = delivered + sum(LOST records) + pending.
 *
 * When the session ends, pending dirty batches and drops are flushed and
 * PCOPY_RING_F_EOF is set with a store-release after the final
 * producer_pos (a consumer that load-acquires flags and sees EOF then sees
 * every record); the mapping stays valid until unmapped.
 *
 * The ioctls have the same numbers and layout for 32-bit and 64-bit
 * callers (compat_ioctl).
 *
 * ioctls: PCOPY_IOC_BIND (EINVAL: not tracked, bad size or watermark,
 * reserved bits set; EBUSY: fd already bound or the session already has a
 * ring), PCOPY_IOC_FLUSH (emit pending dirty batches and LOST now).
 *
 * Dirty harvest
 * -------------
 * For a tracked VMM that uses KVM's dirty ring, every GFN KVM pushes to a
 * vCPU's dirty ring (tracepoint kvm_dirty_ring_push) is counted per vCPU and
 * delivered as (vCPU, memslot, offset) in PCOPY_REC_DIRTY records, batched
 * per vCPU: a batch is emitted when full, when that vCPU enters the guest
 * at least a scheduler tick after the batch's first GFN, before a
 * DIRTY_RESET of that vCPU, on PCOPY_IOC_FLUSH and when the session ends.  "slot" is KVM's
 * (address space << 16 | slot id); "vcpu" is KVM's vcpu_id, as elsewhere
 * (records carry any id; per-vCPU statistics cover ids below
 * PCOPY_MAX_VCPUS only);
 * "seq" is the entry's index in that vCPU's KVM dirty ring (free-running
 * u32, KVM's dirty_index of the push).
 *
 * When the VMM resets the dirty rings (KVM_RESET_DIRTY_RINGS), a
 * PCOPY_REC_DIRTY_RESET record per vCPU ring follows every DIRTY record of
 * that vCPU it covers: each push with seq before reset_index has been
 * write-protected again, so a write after that pushes again.  A migration
 * source uses this to know when a page it read can no longer change without
 * a new record (the invariant QEMU keeps by resetting before it sends).
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
#define PCOPY_ABI_VERSION	3
#define PCOPY_MCGRP_EVENTS	"events"

#define PCOPY_MAX_SESSIONS	64
#define PCOPY_MAX_VCPUS		512
#define PCOPY_VCPU_NONE		0xffffffffU
#define PCOPY_HIST_NS_BUCKETS	64
#define PCOPY_HIST_US_BUCKETS	24

/*
 * Longest PCOPY_A_AUTO_COMM, without its NUL.  A command name is compared
 * on its first 15 characters, all the kernel keeps (TASK_COMM_LEN - 1):
 * "qemu-system-x86_64" matches a process named "qemu-system-x86".
 */
#define PCOPY_AUTO_COMM_MAXLEN	255

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
	PCOPY_CMD_SET_AUTO,
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
	PCOPY_A_UFFD_MAXACTIVE,		/* u32 */
	PCOPY_A_UFFD_MISSED,		/* u64 */
	PCOPY_A_PROBE_MISSED,		/* u64 */
	PCOPY_A_HOOKS,			/* nested, PCOPY_A_HOOK... */
	PCOPY_A_HOOK,			/* nested, enum pcopy_hook_attr */
	PCOPY_A_SESSION_ID,		/* u64, >= 1 */
	PCOPY_A_ENDED,			/* flag: ended sessions (see above) */
	PCOPY_A_END_TIME,		/* u64, ns since the epoch (realtime) */
	PCOPY_A_ENDED_MAX,		/* u32 */
	PCOPY_A_ENDED_SECS,		/* u32 */
	PCOPY_A_ENDED_COUNT,		/* u32 */
	PCOPY_A_AUTO_ON,		/* u8, 0 or 1 */
	PCOPY_A_AUTO_COMM,		/* NUL string, <= PCOPY_AUTO_COMM_MAXLEN */
	PCOPY_A_AUTO_CGROUP,		/* u64, a cgroup v2 id (its inode), >= 1 */
	PCOPY_A_AUTO_MAX,		/* u32, 1..PCOPY_MAX_SESSIONS */
	PCOPY_A_AUTO_CREATED,		/* u64 */
	PCOPY_A_AUTO_FILTERED,		/* u64 */
	PCOPY_A_AUTO_CAPPED,		/* u64 */
	PCOPY_A_AUTO_NO_SLOT,		/* u64 */
	PCOPY_A_AUTO_ATTACHED,		/* flag: the module created the session */
	PCOPY_A_FOLLOW_FORKS,		/* flag: children get sessions too */
	PCOPY_A_PARENT_ID,		/* u64, the session whose fork made it */
	PCOPY_A_AUTO_FORKS,		/* u64, forks followed */
	PCOPY_A_AUTO_FORKS_LOST,	/* u64, forks that could not be */
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
	PCOPY_STATS_A_DIRTY_PAGES,	/* u64, GFNs pushed by KVM */
	PCOPY_STATS_A_DIRTY_RATE,	/* u64, pages/s over the last second */
	PCOPY_STATS_A_MISSED,		/* u64, blocking faults not timed */
	PCOPY_STATS_A_THREADS_DROPPED,	/* u64, vCPU mappings not kept */
	PCOPY_STATS_A_EXECS,		/* u64, execve()s followed (never reset) */
	PCOPY_STATS_A_RING_LOST_RECORDS, /* u64, records its rings dropped (never reset) */
	PCOPY_STATS_A_RING_LOST_GFNS,	/* u64, dirty GFNs its rings dropped (never reset) */
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
	PCOPY_VCPU_A_DIRTY_PAGES,	/* u64 */
	PCOPY_VCPU_A_DIRTY_RATE,	/* u64, pages/s over the last second */
	PCOPY_VCPU_A_DETACHED,		/* flag: no thread is mapped to it now */
	__PCOPY_VCPU_A_LAST
};
#define PCOPY_VCPU_A_MAX (__PCOPY_VCPU_A_LAST - 1)

enum pcopy_hook_attr {
	PCOPY_HOOK_A_UNSPEC,
	PCOPY_HOOK_A_PAD,
	PCOPY_HOOK_A_NAME,		/* NUL string: the probed symbol */
	PCOPY_HOOK_A_FEATURE,		/* u64, the PCOPY_FEAT_* bit */
	PCOPY_HOOK_A_ERROR,		/* u32, a negative errno; absent: attached */
	PCOPY_HOOK_A_REASON,		/* NUL string, why it is not attached */
	__PCOPY_HOOK_A_LAST
};
#define PCOPY_HOOK_A_MAX (__PCOPY_HOOK_A_LAST - 1)

enum pcopy_end_reason {
	PCOPY_END_DELETED,		/* PCOPY_CMD_SESSION_DEL */
	PCOPY_END_EXITED,		/* the process exited */
	PCOPY_END_UNLOAD,		/* the module is being unloaded */
	PCOPY_END_EXEC_LOST,		/* an execve() could not be followed */
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
	/* kvm's kvm_dirty_ring_reset tracepoint: DIRTY_RESET records. */
	PCOPY_FEAT_DIRTY_RESET_HOOK	= 1 << 4,
	/* A second probe on handle_userfault(): missed faults per session. */
	PCOPY_FEAT_MISSED_HOOK		= 1 << 5,
	/* A probe on userfaultfd's wake function: exact "interrupted". */
	PCOPY_FEAT_WAKE_HOOK		= 1 << 6,
	/* The sched_process_exec tracepoint: sessions follow execve(). */
	PCOPY_FEAT_EXEC_HOOK		= 1 << 7,
	/* A kprobe on userfaultfd_ioctl(): auto-attach (PCOPY_CMD_SET_AUTO). */
	PCOPY_FEAT_AUTO_HOOK		= 1 << 8,
	/* The sched_process_fork tracepoint: PCOPY_A_FOLLOW_FORKS. */
	PCOPY_FEAT_FORK_HOOK		= 1 << 9,

	__PCOPY_FEAT_ALL		= (1 << 10) - 1
};

/* ---- the record ring ---- */

#define PCOPY_DEV_PATH		"/dev/pcopy"
#define PCOPY_RING_VERSION	1
#define PCOPY_RING_MAX_PAGES	4096		/* data pages */

/*
 * mmap offsets in pages of the system's page size (sysconf(_SC_PAGESIZE)):
 * mmap(..., PCOPY_RING_PGOFF_PRODUCER * page_size).  The _OFF_ byte
 * values are those of a 4 KiB-page system, kept for old clients.
 */
#define PCOPY_RING_PGOFF_CONSUMER	0
#define PCOPY_RING_PGOFF_PRODUCER	1
#define PCOPY_RING_OFF_CONSUMER	0
#define PCOPY_RING_OFF_PRODUCER	4096

enum pcopy_ring_bind_flags {
	PCOPY_RING_BIND_FAULTS	= 1 << 0,	/* fault begin/end records */
	PCOPY_RING_BIND_DIRTY	= 1 << 1,	/* dirty GFN records */
	__PCOPY_RING_BIND_ALL	= (1 << 2) - 1
};

struct pcopy_ring_bind {
	__u32 pid;		/* tracked process, caller's pid namespace */
	__u32 data_pages;	/* power of two, 1..PCOPY_RING_MAX_PAGES */
	__u32 watermark;	/* unread bytes that wake poll; 1..data size */
	__u32 flags;		/* enum pcopy_ring_bind_flags, at least one */
	__u64 reserved[2];	/* must be zero */
};

#define PCOPY_IOC_MAGIC		0xb8
#define PCOPY_IOC_BIND		_IOW(PCOPY_IOC_MAGIC, 1, struct pcopy_ring_bind)
#define PCOPY_IOC_FLUSH		_IO(PCOPY_IOC_MAGIC, 2)

/* The consumer page: the only memory the consumer writes. */
struct pcopy_ring_consumer {
	__u64 consumer_pos;
};

enum pcopy_ring_flags {
	PCOPY_RING_F_EOF		= 1 << 0,	/* the session ended */
	PCOPY_RING_F_CONSUMER_INVALID	= 1 << 1,	/* consumer_pos rejected */
};

/* First page of the read-only producer mapping; kernel-written only. */
struct pcopy_ring_header {
	__u32 version;		/* PCOPY_RING_VERSION */
	__u32 header_size;	/* sizeof(struct pcopy_ring_header) */
	__u64 data_offset;	/* of the data area in the producer mapping */
	__u64 data_size;	/* bytes, a power of two */
	__u64 producer_pos;	/* free-running; smp_store_release()d */
	__u64 flags;		/* enum pcopy_ring_flags */
	__u64 watermark;
	__u64 records;		/* records written, LOST and PAD excluded */
	__u64 lost_records;	/* non-dirty records dropped, total */
	__u64 lost_gfns;	/* dirty GFNs dropped, total */
	__u64 lost_records_pending;	/* not yet reported by a LOST record */
	__u64 lost_gfns_pending;
	__u64 consumer_errors;	/* invalid consumer positions seen */
	__u64 page_size;	/* the kernel's; header_size >= 104 */
};

enum pcopy_rec_type {
	PCOPY_REC_PAD,		/* skip len bytes */
	PCOPY_REC_FAULT_BEGIN,	/* struct pcopy_rec_fault */
	PCOPY_REC_FAULT_END,	/* struct pcopy_rec_fault */
	PCOPY_REC_DIRTY,	/* struct pcopy_rec_dirty */
	PCOPY_REC_LOST,		/* struct pcopy_rec_lost */
	PCOPY_REC_DIRTY_RESET,	/* struct pcopy_rec_dirty_reset */
	/* 0xffff is reserved: the agent's record files use it (trailer) */
	PCOPY_REC_RESERVED_FILE	= 0xffff,
};

struct pcopy_rec_hdr {
	__u32 len;		/* whole record, a multiple of 8 */
	__u16 type;		/* enum pcopy_rec_type */
	__u16 flags;		/* enum pcopy_rec_flags */
};

enum pcopy_rec_flags {
	PCOPY_REC_F_NOWAIT	= 1 << 0,	/* FAULT_END of a nowait fault */
	PCOPY_REC_F_INTERRUPTED	= 1 << 1,	/* FAULT_END: woken by a signal */
};

/* Fault reasons, as in the kernel's VM_UFFD_* */
#define PCOPY_REASON_MISSING	0x1
#define PCOPY_REASON_WP		0x2
#define PCOPY_REASON_MINOR	0x4

struct pcopy_rec_fault {
	struct pcopy_rec_hdr hdr;
	__u32 tid;		/* initial pid namespace */
	__u32 vcpu;		/* PCOPY_VCPU_NONE for a non-vCPU thread */
	__u64 addr;		/* faulting address */
	__u64 start_ns;		/* CLOCK_MONOTONIC */
	__u64 end_ns;		/* FAULT_END only */
	__u64 latency_ns;	/* FAULT_END only */
	__u32 reason;		/* PCOPY_REASON_* */
	__u32 pad;
};

struct pcopy_dirty_gfn {
	__u32 slot;		/* as_id << 16 | slot id */
	__u32 seq;		/* index of the push in the vCPU's dirty ring */
	__u64 offset;		/* page offset in the slot */
};

struct pcopy_rec_dirty_reset {
	struct pcopy_rec_hdr hdr;
	__u32 vcpu;
	__u32 reset_index;	/* pushes with seq before this are reset */
	__u64 time_ns;		/* CLOCK_MONOTONIC, tick resolution */
};

struct pcopy_rec_dirty {
	struct pcopy_rec_hdr hdr;
	__u32 vcpu;
	__u32 count;
	__u64 time_ns;		/* when the batch was emitted (CLOCK_MONOTONIC,
				 * tick resolution) */
	struct pcopy_dirty_gfn gfns[];
};

struct pcopy_rec_lost {
	struct pcopy_rec_hdr hdr;
	__u64 records;		/* other records (fault, reset) dropped since
				 * the last LOST */
	__u64 gfns;		/* dirty GFNs dropped since the last LOST */
};

#endif /* _UAPI_LINUX_PCOPY_H */
