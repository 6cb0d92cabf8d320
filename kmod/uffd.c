// SPDX-License-Identifier: GPL-2.0
/*
 * The userfaultfd hook.  Linux 6.1 has no userfaultfd tracepoints; every
 * userfault goes through handle_userfault(), so that is where pcopy hooks,
 * with a kprobe.  At load time we only find out whether the probe can be
 * placed on this kernel (it cannot if the function was inlined, renamed or
 * is blacklisted) and report the answer as PCOPY_FEAT_UFFD_HOOK.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>

#include <pcopy.h>

#include "internal.h"

static int uffd_probe_err = -ENOENT;

static int uffd_nop_pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}

int pcopy_uffd_init(void)
{
	struct kprobe kp = {
		.symbol_name = "handle_userfault",
		.pre_handler = uffd_nop_pre,
	};

	/*
	 * A missing hook is not fatal: pcopy still controls sessions and
	 * harvests dirty pages, so report the reason and carry on.
	 */
	uffd_probe_err = register_kprobe(&kp);
	if (uffd_probe_err) {
		pr_warn("cannot probe handle_userfault (%d): fault timing disabled\n",
			uffd_probe_err);
		return 0;
	}
	unregister_kprobe(&kp);
	return 0;
}

void pcopy_uffd_exit(void)
{
}

bool pcopy_uffd_available(void)
{
	return uffd_probe_err == 0;
}

int pcopy_uffd_probe_error(void)
{
	return uffd_probe_err;
}
