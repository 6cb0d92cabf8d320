// SPDX-License-Identifier: GPL-2.0
/*
 * minivm vCPU state export/import and the device blob.
 *
 * The state image (vmm_minivm_proto.h) is what a migration carries besides
 * guest RAM: per vCPU KVM_GET_REGS + KVM_GET_SREGS and the host's view of the
 * workload (progress, last checksum, finished), the workload knobs that
 * live on the host (id, --rate, --loop), and the device blob.  The guest
 * program keeps all of its state in general registers and never enables
 * the FPU, interrupts or paging, so regs + sregs is its complete CPU state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "minivm.h"

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/*
 * Blob body: bytes of a xorshift32 stream seeded with seed ^ 0xb10bb10b
 * (1 if that is 0), low byte of each step.
 */
int mvm_blob_init(struct mvm_vm *vm, uint32_t size, uint32_t seed)
{
	struct mvm_blob_hdr h;
	uint32_t s = seed ^ 0xb10bb10bu, i;
	uint8_t *b;

	if (size < sizeof(h) || size > MVM_MAX_BLOB)
		return -EINVAL;
	b = malloc(size);
	if (!b) {
		mvm_err("out of memory");
		return -ENOMEM;
	}
	if (!s)
		s = 1;
	for (i = sizeof(h); i < size; i++)
		b[i] = (uint8_t)xorshift32(&s);
	h.magic = MVM_BLOB_MAGIC;
	h.size = size;
	h.seed = seed;
	h.body_fnv = mvm_fnv_bytes(b + sizeof(h), size - sizeof(h));
	memcpy(b, &h, sizeof(h));
	vm->blob = b;
	vm->blob_size = size;
	return 0;
}

void mvm_blob_fini(struct mvm_vm *vm)
{
	free(vm->blob);
	vm->blob = NULL;
	vm->blob_size = 0;
}

int mvm_state_export(struct mvm_vm *vm, uint8_t **imgp, size_t *lenp,
		     char *err, size_t errlen)
{
	struct mvm_state_hdr h;
	struct mvm_vcpu_state *vs;
	size_t len;
	uint8_t *img;
	unsigned int i;

	if (vm->failed) {
		snprintf(err, errlen, "VM has failed");
		return -EIO;
	}
	if (vm->incoming && !vm->imported) {
		snprintf(err, errlen, "incoming VM has no state yet");
		return -EINVAL;
	}
	if (!mvm_vm_paused(vm)) {
		snprintf(err, errlen, "VM is not paused");
		return -EBUSY;
	}

	len = sizeof(h) + vm->nvcpus * sizeof(*vs) + vm->blob_size;
	img = calloc(1, len);
	if (!img) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(&h, 0, sizeof(h));
	h.magic = MVM_STATE_MAGIC;
	h.version = MVM_STATE_VERSION;
	h.hdr_size = sizeof(h);
	h.vcpu_rec_size = sizeof(*vs);
	h.nvcpus = vm->nvcpus;
	h.page_size = MVM_PAGE_SIZE;
	h.mem_size = vm->mem_size;
	h.blob_size = vm->blob_size;

	pthread_mutex_lock(&vm->lock);
	h.workload = vm->workload;
	h.flags = vm->loop && !vm->stop_loop ? MVM_SF_LOOP : 0;
	h.rate = vm->rate;
	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		vs = (struct mvm_vcpu_state *)(img + sizeof(h)) + i;
		vs->id = i;
		vs->flags = v->vs_flags & (MVM_VS_FINISHED | MVM_VS_CSUM_VALID);
		vs->guest_csum = v->guest_csum;
		vs->csum_reports = v->csum_reports;
		vs->progress = v->progress;
		if (ioctl(v->fd, KVM_GET_REGS, &vs->regs) < 0 ||
		    ioctl(v->fd, KVM_GET_SREGS, &vs->sregs) < 0) {
			snprintf(err, errlen, "vcpu %u: get registers: %s", i,
				 strerror(errno));
			pthread_mutex_unlock(&vm->lock);
			free(img);
			return -EIO;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	memcpy(img, &h, sizeof(h));
	memcpy(img + sizeof(h) + vm->nvcpus * sizeof(*vs), vm->blob,
	       vm->blob_size);
	*imgp = img;
	*lenp = len;
	return 0;
}

static int check_blob(const uint8_t *b, uint32_t size, char *err,
		      size_t errlen)
{
	struct mvm_blob_hdr h;

	if (size < sizeof(h) || size > MVM_MAX_BLOB) {
		snprintf(err, errlen, "bad device blob size %u", size);
		return -EINVAL;
	}
	memcpy(&h, b, sizeof(h));
	if (h.magic != MVM_BLOB_MAGIC || h.size != size ||
	    h.body_fnv != mvm_fnv_bytes(b + sizeof(h), size - sizeof(h))) {
		snprintf(err, errlen, "device blob is corrupt");
		return -EINVAL;
	}
	return 0;
}

static int check_image(struct mvm_vm *vm, const uint8_t *img, size_t len,
		       struct mvm_state_hdr *h, char *err, size_t errlen)
{
	const struct mvm_vcpu_state *vs;
	unsigned int i;

	if (len < sizeof(*h)) {
		snprintf(err, errlen, "state image too short (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(h, img, sizeof(*h));
	if (h->magic != MVM_STATE_MAGIC || h->version != MVM_STATE_VERSION ||
	    h->hdr_size != sizeof(*h) ||
	    h->vcpu_rec_size != sizeof(struct mvm_vcpu_state)) {
		snprintf(err, errlen, "not a minivm v%d state image",
			 MVM_STATE_VERSION);
		return -EINVAL;
	}
	if (h->nvcpus != vm->nvcpus || h->mem_size != vm->mem_size ||
	    h->page_size != MVM_PAGE_SIZE) {
		snprintf(err, errlen,
			 "state is for %u vCPUs / %llu bytes, this VM has %u / %llu",
			 h->nvcpus, (unsigned long long)h->mem_size,
			 vm->nvcpus, (unsigned long long)vm->mem_size);
		return -EINVAL;
	}
	if (h->workload < MVM_WL_SEQ || h->workload > MVM_WL_PAGES) {
		snprintf(err, errlen, "bad workload id %u", h->workload);
		return -EINVAL;
	}
	if (h->blob_size > MVM_MAX_BLOB ||
	    len != sizeof(*h) + h->nvcpus * sizeof(*vs) + h->blob_size) {
		snprintf(err, errlen, "state image has a bad length (%zu)", len);
		return -EINVAL;
	}
	for (i = 0; i < h->nvcpus; i++) {
		vs = (const struct mvm_vcpu_state *)(img + sizeof(*h)) + i;
		if (vs->id != i) {
			snprintf(err, errlen, "vcpu record %u has id %u", i,
				 vs->id);
			return -EINVAL;
		}
	}
	return check_blob(img + sizeof(*h) + h->nvcpus * sizeof(*vs),
			  h->blob_size, err, errlen);
}

int mvm_state_import(struct mvm_vm *vm, const uint8_t *img, size_t len,
		     char *err, size_t errlen)
{
	const struct mvm_vcpu_state *vs;
	struct mvm_state_hdr h;
	uint8_t *blob;
	unsigned int i;
	int r;

	r = check_image(vm, img, len, &h, err, errlen);
	if (r)
		return r;
	if (vm->failed) {
		snprintf(err, errlen, "VM has failed");
		return -EIO;
	}
	if (!mvm_vm_paused(vm)) {
		snprintf(err, errlen, "VM is not paused");
		return -EBUSY;
	}
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].state == MVM_VCPU_FINISHED ||
		    !vm->vcpus[i].thread_started) {
			snprintf(err, errlen,
				 "vcpu %u has already finished here", i);
			return -EBUSY;
		}
	}
	blob = malloc(h.blob_size);
	if (!blob) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(blob, img + sizeof(h) + h.nvcpus * sizeof(*vs), h.blob_size);

	/* Registers first: a failure here leaves the host state untouched. */
	for (i = 0; i < vm->nvcpus; i++) {
		vs = (const struct mvm_vcpu_state *)(img + sizeof(h)) + i;
		if (ioctl(vm->vcpus[i].fd, KVM_SET_SREGS, &vs->sregs) < 0 ||
		    ioctl(vm->vcpus[i].fd, KVM_SET_REGS, &vs->regs) < 0) {
			snprintf(err, errlen, "vcpu %u: set registers: %s", i,
				 strerror(errno));
			free(blob);
			return -EIO;
		}
	}

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		vs = (const struct mvm_vcpu_state *)(img + sizeof(h)) + i;
		v->progress = vs->progress;
		v->last_w = (uint32_t)vs->regs.rbp;
		v->guest_csum = vs->guest_csum;
		v->csum_reports = vs->csum_reports;
		v->host_csum = 0;
		v->vs_flags = vs->flags & (MVM_VS_FINISHED | MVM_VS_CSUM_VALID);
		if (vs->flags & MVM_VS_FINISHED)
			v->state = MVM_VCPU_FINISHED;
	}
	vm->workload = h.workload;
	/* the destination's own --rate, if it has one, wins over the source's */
	if (!vm->cfg->rate_set)
		__atomic_store_n(&vm->rate, h.rate, __ATOMIC_RELAXED);
	vm->loop = h.flags & MVM_SF_LOOP;
	vm->stop_loop = false;
	free(vm->blob);
	vm->blob = blob;
	vm->blob_size = h.blob_size;
	vm->imported = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	mvm_log(vm, "imported state of %u vCPU(s), %u-byte device blob",
		vm->nvcpus, h.blob_size);
	return 0;
}
