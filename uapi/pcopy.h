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
 * debugfs
 * -------
 * <debugfs>/pcopy/status is for humans and tests only; it is not ABI.
 */
#ifndef _UAPI_LINUX_PCOPY_H
#define _UAPI_LINUX_PCOPY_H

#include <linux/types.h>

#define PCOPY_GENL_NAME		"pcopy"
#define PCOPY_GENL_VERSION	1
#define PCOPY_ABI_VERSION	1

/* Longest PCOPY_A_MODULE_VERSION, without its NUL. */
#define PCOPY_VERSION_MAXLEN	31

enum pcopy_cmd {
	PCOPY_CMD_UNSPEC,
	PCOPY_CMD_GET_INFO,
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
	__PCOPY_A_LAST
};
#define PCOPY_A_MAX (__PCOPY_A_LAST - 1)

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
