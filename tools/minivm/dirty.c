// SPDX-License-Identifier: GPL-2.0
/*
 * minivm dirty-ring harvesting.
 *
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL is used when the kernel reports it, else
 * KVM_CAP_DIRTY_LOG_RING; either way the ring protocol is the same and the
 * accesses below have the acquire/release ordering the _ACQ_REL variant
 * asks for:
 *   - load-acquire the flags of the entry at our fetch index; stop at the
 *     first entry without KVM_DIRTY_GFN_F_DIRTY;
 *   - read slot and offset, account them;
 *   - store-release KVM_DIRTY_GFN_F_RESET into the flags;
 *   - after walking every vCPU's ring, KVM_RESET_DIRTY_RINGS (VM ioctl) so
 *     KVM re-protects the pages and recycles the entries.
 * Harvesting runs from the main loop every --reap-ms, from a vCPU thread
 * on KVM_EXIT_DIRTY_RING_FULL, on pause and at the end; d->lock serialises
 * them.  Every entry is counted exactly once: per vCPU, in total, as a
 * distinct GFN of slot 0, and as one "vcpu slot offset" line in
 * --harvest-out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "minivm.h"

int mvm_dirty_init(struct mvm_vm *vm)
{
	struct mvm_dirty *d = &vm->dirty;
	uint32_t entries = vm->cfg->ring_entries;
	struct kvm_enable_cap cap;
	uint64_t bytes;
	int max, err;

	pthread_mutex_init(&d->lock, NULL);
	if (!entries)
		return 0;

	d->cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, d->cap);
	if (max <= 0) {
		d->cap = KVM_CAP_DIRTY_LOG_RING;
		max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, d->cap);
	}
	if (max <= 0) {
		mvm_err("KVM does not support the dirty ring (use --dirty-ring 0)");
		err = -EOPNOTSUPP;
		goto err_lock;
	}
	bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	if (bytes > (uint64_t)max) {
		mvm_err("--dirty-ring %u: KVM allows at most %zu entries",
			entries, (size_t)max / sizeof(struct kvm_dirty_gfn));
		err = -EINVAL;
		goto err_lock;
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = d->cap;
	cap.args[0] = bytes;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		err = -errno;
		mvm_err("KVM_ENABLE_CAP(dirty ring, %u entries): %s", entries,
			strerror(errno));
		goto err_lock;
	}

	d->entries = entries;
	d->npages = vm->mem_size / MVM_PAGE_SIZE;
	d->bitmap = calloc((d->npages + 63) / 64, sizeof(uint64_t));
	if (!d->bitmap) {
		err = -ENOMEM;
		mvm_err("out of memory");
		goto err_lock;
	}
	if (vm->cfg->harvest_out) {
		d->out = fopen(vm->cfg->harvest_out, "we");
		if (!d->out) {
			err = -errno;
			mvm_err("cannot open %s: %s", vm->cfg->harvest_out,
				strerror(errno));
			goto err_bitmap;
		}
		setvbuf(d->out, NULL, _IOFBF, 1 << 16);
	}
	d->enabled = true;
	mvm_log(vm, "dirty ring: %u entries per vCPU (%s)", entries,
		d->cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL ?
		"KVM_CAP_DIRTY_LOG_RING_ACQ_REL" : "KVM_CAP_DIRTY_LOG_RING");
	return 0;

err_bitmap:
	free(d->bitmap);
	d->bitmap = NULL;
err_lock:
	pthread_mutex_destroy(&d->lock);
	return err;
}

int mvm_dirty_map_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v)
{
	struct mvm_dirty *d = &vm->dirty;
	size_t len = (size_t)d->entries * sizeof(struct kvm_dirty_gfn);
	void *p;

	if (!d->enabled)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd,
		 (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * MVM_PAGE_SIZE);
	if (p == MAP_FAILED) {
		mvm_err("vcpu %u: mmap dirty ring: %s", v->id, strerror(errno));
		return -errno;
	}
	v->ring = p;
	v->ring_fetch = 0;
	return 0;
}

void mvm_dirty_unmap_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v)
{
	if (!v->ring)
		return;
	munmap(v->ring, (size_t)vm->dirty.entries * sizeof(struct kvm_dirty_gfn));
	v->ring = NULL;
}

static void account(struct mvm_dirty *d, struct mvm_vcpu *v, uint32_t slot,
		    uint64_t offset)
{
	v->dirty_entries++;
	d->total++;
	if (slot == 0 && offset < d->npages) {
		uint64_t bit = 1ull << (offset % 64);

		if (!(d->bitmap[offset / 64] & bit)) {
			d->bitmap[offset / 64] |= bit;
			d->distinct++;
		}
	} else {
		d->invalid++;
	}
	if (d->out)
		fprintf(d->out, "%u %u %llu\n", v->id, slot,
			(unsigned long long)offset);
}

static uint64_t reap_vcpu(struct mvm_dirty *d, struct mvm_vcpu *v)
{
	uint32_t mask = d->entries - 1;
	uint64_t n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &v->ring[v->ring_fetch & mask];
		uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		account(d, v, e->slot, e->offset);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		v->ring_fetch++;
		n++;
	}
	return n;
}

/*
 * Harvest every vCPU's ring, then reset.  Returns the entries harvested;
 * *self_n (if self) gets the number taken from self's ring.
 */
uint64_t mvm_dirty_reap(struct mvm_vm *vm, struct mvm_vcpu *self,
			uint64_t *self_n)
{
	struct mvm_dirty *d = &vm->dirty;
	uint64_t n = 0, k;
	unsigned int i;
	int r;

	if (self_n)
		*self_n = 0;
	if (!d->enabled)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		if (!v->ring)
			continue;
		k = reap_vcpu(d, v);
		/*
		 * KVM stops a vCPU at the soft limit (size minus reserved
		 * entries); a completely full ring means it pushed past it
		 * and may have overwritten entries we had not seen yet.
		 */
		if (k >= d->entries) {
			d->overflows++;
			mvm_err("vcpu %u: dirty ring found completely full: KVM may have overwritten entries (harvest inexact)",
				v->id);
		}
		if (v == self && self_n)
			*self_n = k;
		n += k;
	}
	if (n) {
		r = ioctl(vm->vm_fd, KVM_RESET_DIRTY_RINGS);
		d->resets++;
		if (r < 0)
			mvm_err("KVM_RESET_DIRTY_RINGS: %s", strerror(errno));
		else if ((uint64_t)r != n)
			d->reset_mismatch++;
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

void mvm_dirty_flush(struct mvm_vm *vm)
{
	struct mvm_dirty *d = &vm->dirty;

	if (!d->enabled)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->out)
		fflush(d->out);
	pthread_mutex_unlock(&d->lock);
}

void mvm_dirty_fini(struct mvm_vm *vm)
{
	struct mvm_dirty *d = &vm->dirty;

	if (!d->enabled) {
		pthread_mutex_destroy(&d->lock);
		return;
	}
	if (d->out && fclose(d->out))
		mvm_err("writing %s: %s", vm->cfg->harvest_out, strerror(errno));
	d->out = NULL;
	free(d->bitmap);
	d->bitmap = NULL;
	d->enabled = false;
	pthread_mutex_destroy(&d->lock);
}
