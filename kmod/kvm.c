// SPDX-License-Identifier: GPL-2.0
/*
 * Following kvm.ko.  KVM's tracepoints live in the kvm module, and the one
 * pcopy needs for dirty harvesting (kvm_dirty_ring_push) is not exported, so
 * pcopy cannot link against them: that would also pin kvm.ko.  Instead a
 * tracepoint module notifier tells us when kvm.ko comes and goes, whether it
 * was loaded before or after pcopy, and hands us its tracepoint table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/tracepoint.h>

#include <pcopy.h>

#include "internal.h"

/* Protects the kvm_* pointers below. */
static DEFINE_MUTEX(kvm_lock);
static struct module *kvm_mod;
static struct tracepoint *tp_dirty_ring_push;
static struct tracepoint *tp_kvm_entry;

static void kvm_module_coming(struct tp_module *tp_mod)
{
	struct module *mod = tp_mod->mod;
	unsigned int i;

	lockdep_assert_held(&kvm_lock);

	for (i = 0; i < mod->num_tracepoints; i++) {
		struct tracepoint *tp = tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]);

		if (!strcmp(tp->name, "kvm_dirty_ring_push"))
			tp_dirty_ring_push = tp;
		else if (!strcmp(tp->name, "kvm_entry"))
			tp_kvm_entry = tp;
	}
	kvm_mod = mod;
	pr_info("kvm loaded: dirty ring hook %s, vcpu map %s\n",
		tp_dirty_ring_push ? "available" : "missing",
		tp_kvm_entry ? "available" : "missing");
}

static void kvm_module_going(void)
{
	lockdep_assert_held(&kvm_lock);

	kvm_mod = NULL;
	tp_dirty_ring_push = NULL;
	tp_kvm_entry = NULL;
	pr_info("kvm unloaded\n");
}

static int kvm_tp_notify(struct notifier_block *nb, unsigned long val,
			 void *data)
{
	struct tp_module *tp_mod = data;

	if (strcmp(tp_mod->mod->name, "kvm"))
		return NOTIFY_DONE;

	mutex_lock(&kvm_lock);
	if (val == MODULE_STATE_COMING)
		kvm_module_coming(tp_mod);
	else if (val == MODULE_STATE_GOING && kvm_mod == tp_mod->mod)
		kvm_module_going();
	mutex_unlock(&kvm_lock);
	return NOTIFY_OK;
}

static struct notifier_block kvm_tp_nb = {
	.notifier_call = kvm_tp_notify,
};

u64 pcopy_kvm_features(void)
{
	u64 f = 0;

	mutex_lock(&kvm_lock);
	if (kvm_mod)
		f |= PCOPY_FEAT_KVM;
	if (tp_dirty_ring_push)
		f |= PCOPY_FEAT_DIRTY_RING_HOOK;
	if (tp_kvm_entry)
		f |= PCOPY_FEAT_VCPU_MAP;
	mutex_unlock(&kvm_lock);
	return f;
}

int pcopy_kvm_init(void)
{
	/* Replays MODULE_STATE_COMING for a kvm.ko that is already loaded. */
	return register_tracepoint_module_notifier(&kvm_tp_nb);
}

void pcopy_kvm_exit(void)
{
	unregister_tracepoint_module_notifier(&kvm_tp_nb);
}
