// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: <debugfs>/pcopy/ for humans and tests.  Nothing here is ABI; the
 * agent only uses netlink.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include <pcopy.h>

#include "internal.h"

static struct dentry *pcopy_dir;

static const char * const feature_names[] = {
	"uffd_hook", "kvm", "dirty_ring_hook", "vcpu_map",
};

static int status_show(struct seq_file *m, void *v)
{
	u64 f = pcopy_features();
	unsigned int i;

	BUILD_BUG_ON(BIT(ARRAY_SIZE(feature_names)) - 1 != __PCOPY_FEAT_ALL);

	seq_printf(m, "version:\t%s\n", PCOPY_MODULE_VERSION);
	seq_printf(m, "abi:\t%u\n", PCOPY_ABI_VERSION);
	seq_printf(m, "features:\t%#llx", f);
	for (i = 0; i < ARRAY_SIZE(feature_names); i++)
		if (f & BIT(i))
			seq_printf(m, " %s", feature_names[i]);
	seq_puts(m, "\n");
	if (pcopy_uffd_available())
		seq_puts(m, "handle_userfault:\tprobe ok\n");
	else
		seq_printf(m, "handle_userfault:\tunavailable (error %d)\n",
			   pcopy_uffd_probe_error());
	seq_printf(m, "kvm:\t%s\n", f & PCOPY_FEAT_KVM ? "loaded" : "not loaded");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(status);

void pcopy_debugfs_init(void)
{
	pcopy_dir = debugfs_create_dir("pcopy", NULL);
	debugfs_create_file("status", 0400, pcopy_dir, NULL, &status_fops);
}

void pcopy_debugfs_exit(void)
{
	debugfs_remove_recursive(pcopy_dir);
}
