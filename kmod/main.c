// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy.ko: module init and exit.  Every other responsibility lives in its
 * own file; this one only orders them.  The user-visible entry point, the
 * netlink family, is registered last and unregistered first, so no request
 * can reach a half-initialised module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/init.h>

#include <pcopy.h>

#include "internal.h"

u64 pcopy_features(void)
{
	u64 f = pcopy_kvm_features();

	if (pcopy_uffd_available())
		f |= PCOPY_FEAT_UFFD_HOOK;
	if (!pcopy_uffd_post_error())
		f |= PCOPY_FEAT_MISSED_HOOK;
	if (!pcopy_uffd_wake_error())
		f |= PCOPY_FEAT_WAKE_HOOK;
	if (pcopy_exec_available())
		f |= PCOPY_FEAT_EXEC_HOOK;
	if (!pcopy_auto_error())
		f |= PCOPY_FEAT_AUTO_HOOK;
	if (!pcopy_fork_error())
		f |= PCOPY_FEAT_FORK_HOOK;
	return f;
}

static int __init pcopy_init(void)
{
	int ret;

	pcopy_debugfs_init();

	ret = pcopy_session_init();
	if (ret)
		goto err_session;

	ret = pcopy_uffd_init();
	if (ret)
		goto err_uffd;

	/* a probe that cannot attach only turns its feature bit off */
	pcopy_auto_init();

	ret = pcopy_kvm_init();
	if (ret)
		goto err_kvm;

	ret = pcopy_ring_init();
	if (ret)
		goto err_ring;

	ret = pcopy_netlink_init();
	if (ret)
		goto err_netlink;

	pr_info("version " PCOPY_MODULE_VERSION " loaded, features %#llx\n",
		pcopy_features());
	return 0;

err_netlink:
	pcopy_ring_exit();
err_ring:
	pcopy_kvm_exit();
err_kvm:
	pcopy_auto_exit();
	pcopy_uffd_exit();
err_uffd:
	pcopy_session_exit();
err_session:
	pcopy_debugfs_exit();
	return ret;
}

static void __exit pcopy_exit(void)
{
	pcopy_auto_exit();
	pcopy_netlink_close();
	pcopy_netlink_exit();
	pcopy_ring_exit();
	pcopy_kvm_exit();
	pcopy_uffd_exit();
	pcopy_session_exit();
	pcopy_debugfs_exit();
	pr_info("unloaded\n");
}

module_init(pcopy_init);
module_exit(pcopy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("postcopy live-migration accelerator and observer for KVM");
MODULE_VERSION(PCOPY_MODULE_VERSION);
