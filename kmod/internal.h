/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces between the parts of pcopy.ko.  The user-visible ABI
 * is in uapi/pcopy.h.
 */
#ifndef _PCOPY_INTERNAL_H
#define _PCOPY_INTERNAL_H

#include <linux/types.h>

#define PCOPY_MODULE_VERSION "0.1.0"

/* uffd.c: the userfaultfd hook */
int pcopy_uffd_init(void);
void pcopy_uffd_exit(void);
bool pcopy_uffd_available(void);
int pcopy_uffd_probe_error(void);

/* kvm.c: following kvm.ko and its tracepoints */
int pcopy_kvm_init(void);
void pcopy_kvm_exit(void);
u64 pcopy_kvm_features(void);

/* netlink.c */
int pcopy_netlink_init(void);
void pcopy_netlink_exit(void);

/* debugfs.c */
void pcopy_debugfs_init(void);
void pcopy_debugfs_exit(void);

u64 pcopy_features(void);

#endif /* _PCOPY_INTERNAL_H */
