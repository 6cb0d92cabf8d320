// SPDX-License-Identifier: GPL-2.0
/*
 * Following kvm.ko.  KVM's tracepoints live in the kvm module, and the one
 * pcopy needs for dirty harvesting (kvm_dirty_ring_push) is not exported, so
 * pcopy cannot link against them: that would also pin kvm.ko.  Instead a
 * tracepoint module notifier tells us when kvm.ko comes and goes, whether it
 * was loaded before or after pcopy, and hands us its tracepoint table.
 *
 * vCPU attribution: kvm_entry fires in the vCPU thread right before every
 * guest entry and carries the vcpu.  That is the cheapest sound place to
 * learn "this thread runs vCPU n" without the VMM's help: no tracked
 * session means one atomic read, an untracked VMM one hash lookup, and a
 * known mapping one more xarray load.  The probe is attached while kvm.ko
 * is loaded; its cost with no session is that single read.
 *
 * Dirty harvest: kvm_dirty_ring_push fires for every GFN KVM puts in a
 * vCPU's dirty ring.  The ring is embedded in struct kvm_vcpu, which gives
 * the vCPU id and, through vcpu->kvm->mm, the session.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/tracepoint.h>

#include <pcopy.h>

#include "internal.h"

/* Protects the kvm_* pointers below. */
static DEFINE_MUTEX(pcopy_kvm_lock);
static struct module *kvm_mod;
static struct tracepoint *tp_dirty_ring_push;
static struct tracepoint *tp_kvm_entry;
static struct tracepoint *tp_dirty_ring_reset;

/* Matches kvm_entry's TP_PROTO in arch/x86/kvm/trace.h of 6.1. */
static void kvm_entry_probe(void *data, struct kvm_vcpu *vcpu,
			    bool force_immediate_exit)
{
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return;
	rcu_read_lock();
	s = pcopy_session_find_mm(current->mm);
	if (s && vcpu->vcpu_id >= 0 && vcpu->vcpu_id < PCOPY_MAX_VCPUS) {
		pcopy_session_set_vcpu(s, current->pid, vcpu->vcpu_id, false);
		/* the vCPU's dirty GFNs of this exit are complete */
		pcopy_ring_vcpu_entry(s, vcpu->vcpu_id);
	}
	rcu_read_unlock();
}

/*
 * Matches kvm_dirty_ring_push's TP_PROTO in include/trace/events/kvm.h:
 * KVM pushed one GFN to the dirty ring of the vCPU that owns @ring, from
 * that vCPU's thread, possibly under kvm->mmu_lock.
 */
static void kvm_dirty_push_probe(void *data, struct kvm_dirty_ring *ring,
				 u32 slot, u64 offset)
{
	struct kvm_vcpu *vcpu = container_of(ring, struct kvm_vcpu, dirty_ring);
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return;
	rcu_read_lock();
	s = pcopy_session_find_mm(vcpu->kvm->mm);
	if (s) {
		pcopy_stats_dirty(s, vcpu->vcpu_id);
		/* the push incremented dirty_index after filling the entry */
		pcopy_ring_dirty(s, vcpu->vcpu_id, slot, offset,
				 ring->dirty_index - 1);
	}
	rcu_read_unlock();
}

/*
 * Matches kvm_dirty_ring_reset's TP_PROTO: the VMM's KVM_RESET_DIRTY_RINGS
 * re-protected every entry of @ring before ring->reset_index.
 */
static void kvm_dirty_reset_probe(void *data, struct kvm_dirty_ring *ring)
{
	struct kvm_vcpu *vcpu = container_of(ring, struct kvm_vcpu, dirty_ring);
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return;
	rcu_read_lock();
	s = pcopy_session_find_mm(vcpu->kvm->mm);
	if (s)
		pcopy_ring_dirty_reset(s, vcpu->vcpu_id, ring->reset_index);
	rcu_read_unlock();
}

static void kvm_module_coming(struct tp_module *tp_mod)
{
	struct module *mod = tp_mod->mod;
	unsigned int i;

	lockdep_assert_held(&pcopy_kvm_lock);

	for (i = 0; i < mod->num_tracepoints; i++) {
		struct tracepoint *tp = tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]);

		if (!strcmp(tp->name, "kvm_dirty_ring_push"))
			tp_dirty_ring_push = tp;
		else if (!strcmp(tp->name, "kvm_entry"))
			tp_kvm_entry = tp;
		else if (!strcmp(tp->name, "kvm_dirty_ring_reset"))
			tp_dirty_ring_reset = tp;
	}
	kvm_mod = mod;
	if (tp_kvm_entry &&
	    tracepoint_probe_register(tp_kvm_entry, kvm_entry_probe, NULL)) {
		pr_warn("cannot attach to kvm_entry: vCPU mapping disabled\n");
		tp_kvm_entry = NULL;
	}
	if (tp_dirty_ring_push &&
	    tracepoint_probe_register(tp_dirty_ring_push, kvm_dirty_push_probe, NULL)) {
		pr_warn("cannot attach to kvm_dirty_ring_push: dirty harvest disabled\n");
		tp_dirty_ring_push = NULL;
	}
	if (tp_dirty_ring_reset &&
	    tracepoint_probe_register(tp_dirty_ring_reset, kvm_dirty_reset_probe, NULL)) {
		pr_warn("cannot attach to kvm_dirty_ring_reset: no reset records\n");
		tp_dirty_ring_reset = NULL;
	}
	pr_info("kvm loaded: dirty ring hook %s, vcpu map %s\n",
		tp_dirty_ring_push ? "available" : "missing",
		tp_kvm_entry ? "available" : "missing");
}

static void kvm_module_going(void)
{
	lockdep_assert_held(&pcopy_kvm_lock);

	if (tp_kvm_entry)
		tracepoint_probe_unregister(tp_kvm_entry, kvm_entry_probe, NULL);
	if (tp_dirty_ring_push)
		tracepoint_probe_unregister(tp_dirty_ring_push, kvm_dirty_push_probe, NULL);
	if (tp_dirty_ring_reset)
		tracepoint_probe_unregister(tp_dirty_ring_reset, kvm_dirty_reset_probe, NULL);
	/* no probe may still run when kvm's (or our) text goes away */
	tracepoint_synchronize_unregister();
	kvm_mod = NULL;
	tp_dirty_ring_push = NULL;
	tp_dirty_ring_reset = NULL;
	tp_kvm_entry = NULL;
	pr_info("kvm unloaded\n");
}

static int kvm_tp_notify(struct notifier_block *nb, unsigned long val,
			 void *data)
{
	struct tp_module *tp_mod = data;

	if (strcmp(tp_mod->mod->name, "kvm"))
		return NOTIFY_DONE;

	mutex_lock(&pcopy_kvm_lock);
	if (val == MODULE_STATE_COMING)
		kvm_module_coming(tp_mod);
	else if (val == MODULE_STATE_GOING && kvm_mod == tp_mod->mod)
		kvm_module_going();
	mutex_unlock(&pcopy_kvm_lock);
	return NOTIFY_OK;
}

static struct notifier_block kvm_tp_nb = {
	.notifier_call = kvm_tp_notify,
};

u64 pcopy_kvm_features(void)
{
	u64 f = 0;

	mutex_lock(&pcopy_kvm_lock);
	if (kvm_mod)
		f |= PCOPY_FEAT_KVM;
	if (tp_dirty_ring_push)
		f |= PCOPY_FEAT_DIRTY_RING_HOOK;
	if (tp_kvm_entry)
		f |= PCOPY_FEAT_VCPU_MAP;
	mutex_unlock(&pcopy_kvm_lock);
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
