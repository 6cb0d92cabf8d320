// SPDX-License-Identifier: GPL-2.0
/*
 * Following KVM.  KVM's tracepoints live in kvm.ko when KVM is a module,
 * and the one pcopy needs for dirty harvesting (kvm_dirty_ring_push) is not
 * exported, so pcopy cannot link against them: that would also pin kvm.ko.
 * Instead a tracepoint module notifier tells us when kvm.ko comes and goes,
 * whether it was loaded before or after pcopy, and hands us its tracepoint
 * table.  When KVM is built into the kernel (CONFIG_KVM=y), the same
 * tracepoints are found once, at load, among the kernel's own.
 *
 * vCPU attribution: kvm_entry fires in the vCPU thread right before every
 * guest entry and carries the vcpu.  That is the cheapest sound place to
 * learn "this thread runs vCPU n" without the VMM's help: no tracked
 * session means one atomic read, an untracked VMM one hash lookup, and a
 * known mapping one more load.
 *
 * Dirty harvest: kvm_dirty_ring_push fires for every GFN KVM puts in a
 * vCPU's dirty ring.  The ring is embedded in struct kvm_vcpu, which gives
 * the vCPU id and, through vcpu->kvm->mm, the session.
 *
 * A tracepoint carries no type at run time, so every probe's prototype is
 * checked when pcopy is built (compat.h); a hook whose prototype cannot be
 * checked on this kernel is not attached, and says why.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/tracepoint.h>
#include <trace/events/kvm.h>

#include <pcopy.h>

#include "compat.h"
#include "internal.h"

#if PCOPY_HAVE_KVM_ENTRY
static void kvm_entry_probe(void *data, PCOPY_KVM_ENTRY_PROTO)
{
	struct pcopy_session *s;

	if (!atomic_read(&pcopy_nr_sessions))
		return;
	rcu_read_lock();
	s = pcopy_session_find_mm(current->mm);
	if (s && vcpu->vcpu_id >= 0 && vcpu->vcpu_id < PCOPY_MAX_VCPUS) {
		pcopy_session_learn_vcpu(s, vcpu->vcpu_id);
		/* the vCPU's dirty GFNs of this exit are complete */
		pcopy_ring_vcpu_entry(s, vcpu->vcpu_id);
	}
	rcu_read_unlock();
}
#endif

/* The session of the VM that owns @vcpu, if it is tracked; RCU held. */
static struct pcopy_session *vcpu_session(struct kvm_vcpu *vcpu)
{
	if (!atomic_read(&pcopy_nr_sessions))
		return NULL;
	return pcopy_session_find_mm(vcpu->kvm->mm);
}

/*
 * KVM pushed one GFN to the dirty ring of the vCPU that owns @ring, from
 * that vCPU's thread, possibly under kvm->mmu_lock.
 */
static void kvm_dirty_push_probe(void *data, struct kvm_dirty_ring *ring,
				 u32 slot, u64 offset)
{
	struct kvm_vcpu *vcpu = container_of(ring, struct kvm_vcpu, dirty_ring);
	struct pcopy_session *s;

	rcu_read_lock();
	s = vcpu_session(vcpu);
	if (s) {
		pcopy_stats_dirty(s, vcpu->vcpu_id);
		/* the push incremented dirty_index after filling the entry */
		pcopy_ring_dirty(s, vcpu->vcpu_id, slot, offset,
				 ring->dirty_index - 1);
	}
	rcu_read_unlock();
}

/*
 * The VMM's KVM_RESET_DIRTY_RINGS re-protected every entry of @ring before
 * ring->reset_index.
 */
static void kvm_dirty_reset_probe(void *data, struct kvm_dirty_ring *ring)
{
	struct kvm_vcpu *vcpu = container_of(ring, struct kvm_vcpu, dirty_ring);
	struct pcopy_session *s;

	rcu_read_lock();
	s = vcpu_session(vcpu);
	if (s)
		pcopy_ring_dirty_reset(s, vcpu->vcpu_id, ring->reset_index);
	rcu_read_unlock();
}

struct kvm_hook {
	const char *tp_name;
	void *probe;			/* NULL: cannot be attached here */
	const char *unsupported;	/* why, when probe is NULL */
	u64 feature;
	struct tracepoint *tp;		/* attached */
	int err;			/* of the last attempt */
	const char *reason;		/* of the last failure, for status */
};

static struct kvm_hook kvm_hooks[] = {
	{
		.tp_name = "kvm_entry",
#if PCOPY_HAVE_KVM_ENTRY
		.probe = kvm_entry_probe,
#else
		.unsupported = PCOPY_KVM_ENTRY_UNSUPPORTED,
#endif
		.feature = PCOPY_FEAT_VCPU_MAP,
	},
	{
		.tp_name = "kvm_dirty_ring_push",
		.probe = kvm_dirty_push_probe,
		.feature = PCOPY_FEAT_DIRTY_RING_HOOK,
	},
	{
		.tp_name = "kvm_dirty_ring_reset",
		.probe = kvm_dirty_reset_probe,
		.feature = PCOPY_FEAT_DIRTY_RESET_HOOK,
	},
};

/* Protects everything below and kvm_hooks[]. */
static DEFINE_MUTEX(pcopy_kvm_lock);
static struct module *kvm_mod;
static bool kvm_builtin;

static void hooks_found(struct tracepoint *tp)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++)
		if (!strcmp(tp->name, kvm_hooks[i].tp_name))
			kvm_hooks[i].tp = tp;
}

/* Attach every hook whose tracepoint hooks_found() filled in. */
static void hooks_attach(const char *where)
{
	unsigned int i;

	lockdep_assert_held(&pcopy_kvm_lock);
	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++) {
		struct kvm_hook *h = &kvm_hooks[i];

		if (!h->tp) {
			h->err = -ENOENT;
			h->reason = "tracepoint not found in KVM";
		} else if (!h->probe) {
			h->tp = NULL;
			h->err = -EOPNOTSUPP;
			h->reason = h->unsupported;
		} else {
			h->err = tracepoint_probe_register(h->tp, h->probe, NULL);
			h->reason = h->err ? "tracepoint_probe_register failed" : NULL;
			if (h->err)
				h->tp = NULL;
		}
		if (h->err)
			pr_warn("%s: %s not attached (%d): %s\n", where,
				h->tp_name, h->err, h->reason);
	}
	pr_info("%s: dirty ring hook %s, vcpu map %s\n", where,
		kvm_hooks[1].tp ? "available" : "missing",
		kvm_hooks[0].tp ? "available" : "missing");
}

static void hooks_detach(void)
{
	unsigned int i;

	lockdep_assert_held(&pcopy_kvm_lock);
	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++)
		if (kvm_hooks[i].tp)
			tracepoint_probe_unregister(kvm_hooks[i].tp,
						    kvm_hooks[i].probe, NULL);
	/* no probe may still run when kvm's (or our) text goes away */
	tracepoint_synchronize_unregister();
	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++) {
		kvm_hooks[i].tp = NULL;
		kvm_hooks[i].err = -ENOENT;
		kvm_hooks[i].reason = "KVM is not loaded";
	}
}

static void kvm_module_coming(struct tp_module *tp_mod)
{
	struct module *mod = tp_mod->mod;
	unsigned int i;

	lockdep_assert_held(&pcopy_kvm_lock);
	for (i = 0; i < mod->num_tracepoints; i++)
		hooks_found(tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]));
	kvm_mod = mod;
	hooks_attach("kvm loaded");
}

static int kvm_tp_notify(struct notifier_block *nb, unsigned long val,
			 void *data)
{
	struct tp_module *tp_mod = data;

	if (strcmp(tp_mod->mod->name, "kvm"))
		return NOTIFY_DONE;

	mutex_lock(&pcopy_kvm_lock);
	if (val == MODULE_STATE_COMING && !kvm_builtin) {
		kvm_module_coming(tp_mod);
	} else if (val == MODULE_STATE_GOING && kvm_mod == tp_mod->mod) {
		hooks_detach();
		kvm_mod = NULL;
		pr_info("kvm unloaded\n");
	}
	mutex_unlock(&pcopy_kvm_lock);
	return NOTIFY_OK;
}

static struct notifier_block kvm_tp_nb = {
	.notifier_call = kvm_tp_notify,
};

static void kernel_tp_found(struct tracepoint *tp, void *priv)
{
	bool *any = priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++)
		if (!strcmp(tp->name, kvm_hooks[i].tp_name))
			*any = true;
	hooks_found(tp);
}

u64 pcopy_kvm_features(void)
{
	unsigned int i;
	u64 f = 0;

	mutex_lock(&pcopy_kvm_lock);
	if (kvm_mod || kvm_builtin)
		f |= PCOPY_FEAT_KVM;
	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++)
		if (kvm_hooks[i].tp)
			f |= kvm_hooks[i].feature;
	mutex_unlock(&pcopy_kvm_lock);
	return f;
}

/* For status: call @fn for each KVM hook with its state. */
int pcopy_kvm_hooks(int (*fn)(void *arg, const char *name, u64 feature,
			      int err, const char *reason), void *arg)
{
	unsigned int i;
	int ret = 0;

	mutex_lock(&pcopy_kvm_lock);
	for (i = 0; i < ARRAY_SIZE(kvm_hooks) && !ret; i++) {
		const struct kvm_hook *h = &kvm_hooks[i];

		ret = fn(arg, h->tp_name, h->feature, h->tp ? 0 : h->err,
			 h->tp ? NULL : h->reason);
	}
	mutex_unlock(&pcopy_kvm_lock);
	return ret;
}

int pcopy_kvm_init(void)
{
	bool builtin = false;
	unsigned int i;

	/*
	 * Our probes against the kernel's own declarations; only the types
	 * are used, so nothing links against the unexported tracepoints.
	 */
	BUILD_BUG_ON(!__same_type(&register_trace_kvm_dirty_ring_push,
				  int (*)(void (*)(void *, struct kvm_dirty_ring *, u32, u64),
					  void *)));
	BUILD_BUG_ON(!__same_type(&register_trace_kvm_dirty_ring_reset,
				  int (*)(void (*)(void *, struct kvm_dirty_ring *),
					  void *)));
	BUILD_BUG_ON(!__same_type(&kvm_dirty_push_probe,
				  void (*)(void *, struct kvm_dirty_ring *, u32, u64)));
	BUILD_BUG_ON(!__same_type(&kvm_dirty_reset_probe,
				  void (*)(void *, struct kvm_dirty_ring *)));

	for (i = 0; i < ARRAY_SIZE(kvm_hooks); i++) {
		kvm_hooks[i].err = -ENOENT;
		kvm_hooks[i].reason = "KVM is not loaded";
	}
	/* KVM built in: its tracepoints are the kernel's own */
	mutex_lock(&pcopy_kvm_lock);
	for_each_kernel_tracepoint(kernel_tp_found, &builtin);
	if (builtin) {
		kvm_builtin = true;
		hooks_attach("kvm built in");
	}
	mutex_unlock(&pcopy_kvm_lock);
	if (builtin)
		return 0;
	/* Replays MODULE_STATE_COMING for a kvm.ko that is already loaded. */
	return register_tracepoint_module_notifier(&kvm_tp_nb);
}

void pcopy_kvm_exit(void)
{
	mutex_lock(&pcopy_kvm_lock);
	if (kvm_builtin)
		hooks_detach();
	mutex_unlock(&pcopy_kvm_lock);
	if (!kvm_builtin)
		unregister_tracepoint_module_notifier(&kvm_tp_nb);
}
