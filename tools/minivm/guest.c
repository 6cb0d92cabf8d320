// SPDX-License-Identifier: GPL-2.0
/*
 * minivm guest side on the host: lays out guest memory (boot page with the
 * GDT, program, parameter blocks, initial data pattern), sets the initial
 * vCPU registers, and computes the same checksums as the guest program.
 * The layout is described in guest_abi.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "minivm.h"

/* Per-vCPU derivations of the --seed value (documented in minivm.rst). */
static uint32_t vcpu_seed(uint32_t seed, unsigned int vcpu)
{
	return seed + vcpu * 0x9e3779b9u;
}

static uint32_t vcpu_lcg_seed(uint32_t seed, unsigned int vcpu)
{
	return seed * 0x2545f491u + (vcpu + 1) * 0x9e3779b9u;
}

uint64_t mvm_region_gpa(const struct mvm_vm *vm, unsigned int vcpu)
{
	return MVM_GPA_DATA + (uint64_t)vcpu * vm->region_pages * MVM_PAGE_SIZE;
}

uint32_t mvm_fnv_dwords(const void *p, size_t len)
{
	const uint32_t *w = p;
	uint32_t h = MVM_FNV_OFFSET;
	size_t i;

	for (i = 0; i < len / 4; i++)
		h = (h ^ w[i]) * MVM_FNV_PRIME;
	return h;
}

uint32_t mvm_fnv_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t h = MVM_FNV_OFFSET;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * MVM_FNV_PRIME;
	return h;
}

uint32_t mvm_region_csum(const struct mvm_vm *vm, unsigned int vcpu)
{
	return mvm_fnv_dwords(vm->mem + mvm_region_gpa(vm, vcpu),
			      (size_t)vm->region_pages * MVM_PAGE_SIZE);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Host-side initial contents of a data page (so that never-written pages
 * are not zero and a lost page shows up in a migration test):
 *   v0 = ((p + 1) * MVM_STAMP_MUL_P) ^ seed_v ^ 0xf111f111
 *   dword i = v0 + i * MVM_FILL_STEP
 */
static void fill_page(uint8_t *page, uint32_t p, uint32_t seed_v)
{
	uint32_t v = ((p + 1) * MVM_STAMP_MUL_P) ^ seed_v ^ 0xf111f111u;
	uint32_t *w = (uint32_t *)page;
	unsigned int i;

	for (i = 0; i < MVM_PAGE_SIZE / 4; i++, v += MVM_FILL_STEP)
		w[i] = v;
}

static void write_params(struct mvm_vm *vm, unsigned int i)
{
	const struct mvm_config *cfg = vm->cfg;
	uint8_t *pb = vm->mem + MVM_GPA_PARAMS + i * MVM_PAGE_SIZE;
	uint32_t base = (uint32_t)mvm_region_gpa(vm, i);
	uint32_t npages = vm->region_pages;
	uint32_t batch = cfg->batch;
	uint32_t hot_k = npages, stride = 1;
	unsigned int r;

	if (cfg->workload == MVM_WL_HOT) {
		hot_k = cfg->hot_k;
		stride = npages / hot_k;
	}
	memset(pb, 0, MVM_PAGE_SIZE);
	put32(pb + MVM_P_MAGIC, MVM_PARAM_MAGIC);
	put32(pb + MVM_P_VCPU, i);
	put32(pb + MVM_P_WORKLOAD, cfg->workload);
	put32(pb + MVM_P_FILL_STRIDE, MVM_PAGE_SIZE / cfg->fill);
	put32(pb + MVM_P_BASE, base);
	put32(pb + MVM_P_NPAGES, npages);
	put32(pb + MVM_P_END, base + npages * MVM_PAGE_SIZE);
	put32(pb + MVM_P_PASSES, cfg->passes);
	put32(pb + MVM_P_COUNT, cfg->count ? cfg->count : npages);
	put32(pb + MVM_P_HOT_K, hot_k);
	put32(pb + MVM_P_HOT_STRIDE, stride);
	put32(pb + MVM_P_SEED, vcpu_seed(cfg->seed, i));
	put32(pb + MVM_P_LCG_SEED, vcpu_lcg_seed(cfg->seed, i));
	put32(pb + MVM_P_BATCH_MASK, batch - 1);
	put32(pb + MVM_P_W0, 0);
	put32(pb + MVM_P_NRANGES, cfg->nranges);
	for (r = 0; r < cfg->nranges; r++) {
		put32(pb + MVM_P_RANGES + r * 8, cfg->ranges[r].first);
		put32(pb + MVM_P_RANGES + r * 8 + 4, cfg->ranges[r].end);
	}
}

/*
 * Fill guest RAM for a fresh boot.  Not used for an incoming VM, whose
 * memory (program and parameter blocks included) comes from the source.
 */
int mvm_guest_load(struct mvm_vm *vm)
{
	/* Two symbols around the same section: compare them as addresses. */
	size_t code_len = (size_t)((uintptr_t)minivm_guest_end -
				   (uintptr_t)minivm_guest_start);
	uint8_t *boot = vm->mem + MVM_GPA_BOOT;
	unsigned int i;
	uint32_t p;

	if (code_len > MVM_CODE_MAX) {
		mvm_err("guest program too large (%zu bytes)", code_len);
		return -E2BIG;
	}

	/* GDT: null, flat 4 GiB code (0x08), flat 4 GiB data (0x10). */
	memset(boot, 0, MVM_PAGE_SIZE);
	put64(boot + MVM_GPA_GDT + 0x00, 0);
	put64(boot + MVM_GPA_GDT + 0x08, 0x00cf9b000000ffffull);
	put64(boot + MVM_GPA_GDT + 0x10, 0x00cf93000000ffffull);

	/* Informational header for someone looking at a memory dump. */
	memcpy(boot + MVM_GPA_INFO, "MINIVM01", 8);
	put32(boot + MVM_GPA_INFO + 8, vm->nvcpus);
	put32(boot + MVM_GPA_INFO + 12, vm->region_pages);
	put64(boot + MVM_GPA_INFO + 16, vm->mem_size);

	memcpy(vm->mem + MVM_GPA_CODE, minivm_guest_start, code_len);

	for (i = 0; i < vm->nvcpus; i++) {
		uint8_t *region = vm->mem + mvm_region_gpa(vm, i);
		uint32_t seed_v = vcpu_seed(vm->cfg->seed, i);

		write_params(vm, i);
		for (p = 0; p < vm->region_pages; p++)
			fill_page(region + (size_t)p * MVM_PAGE_SIZE, p, seed_v);
	}
	return 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = 1;
	s->s = 1;
	s->l = 0;
	s->g = 1;
}

/* 32-bit flat protected mode, no paging, IF clear, at the program entry. */
int mvm_guest_init_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		mvm_err("vcpu %u: KVM_GET_SREGS: %s", v->id, strerror(errno));
		return -errno;
	}
	flat_seg(&sregs.cs, MVM_SEL_CODE, 0xb);	/* exec/read, accessed */
	flat_seg(&sregs.ds, MVM_SEL_DATA, 0x3);	/* read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.gdt.base = MVM_GPA_GDT;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;	/* any exception ends in a triple fault */
	sregs.cr0 = 0x11;	/* PE | ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		mvm_err("vcpu %u: KVM_SET_SREGS: %s", v->id, strerror(errno));
		return -errno;
	}

	memset(&regs, 0, sizeof(regs));
	regs.rip = MVM_GPA_CODE;
	regs.rflags = 0x2;
	regs.rsi = MVM_GPA_PARAMS + v->id * MVM_PAGE_SIZE;
	regs.rsp = MVM_GPA_STACKS + (v->id + 1) * MVM_PAGE_SIZE;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		mvm_err("vcpu %u: KVM_SET_REGS: %s", v->id, strerror(errno));
		return -errno;
	}
	(void)vm;
	return 0;
}

static int parse_u32(const char *s, char **end, uint32_t *out)
{
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, end, 10);
	if (errno || v > UINT32_MAX - 1)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* "3,7,100-120" -> {3,4} {7,8} {100,121}; order and repeats are kept. */
int mvm_parse_ranges(const char *s, struct mvm_range *r, unsigned int max,
		     unsigned int *n, char *err, size_t errlen)
{
	unsigned int cnt = 0;
	const char *p = s;

	while (*p) {
		uint32_t a, b;
		char *end;

		if (parse_u32(p, &end, &a))
			goto bad;
		b = a;
		if (*end == '-') {
			if (parse_u32(end + 1, &end, &b) || b < a)
				goto bad;
		}
		if (*end != ',' && *end != '\0')
			goto bad;
		if (cnt == max) {
			snprintf(err, errlen, "too many ranges in --pages (max %u)",
				 max);
			return -E2BIG;
		}
		r[cnt].first = a;
		r[cnt].end = b + 1;
		cnt++;
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && !*p)
			goto bad;
	}
	if (!cnt)
		goto bad;
	*n = cnt;
	return 0;
bad:
	snprintf(err, errlen, "bad --pages list '%s' (expected e.g. 3,7,100-120)",
		 s);
	return -EINVAL;
}
