/* SPDX-License-Identifier: GPL-2.0 */
/* minivm internal interfaces. */
#ifndef MINIVM_H
#define MINIVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <sys/types.h>
#include <linux/kvm.h>

#include "guest_abi.h"
#include "vmm_minivm_proto.h"

#define MVM_MIN_MEM		(2ull << 20)
#define MVM_MAX_MEM		(3ull << 30)
#define MVM_DEFAULT_MEM		(64ull << 20)
#define MVM_DEFAULT_RING	4096
#define MVM_MIN_RING		256	/* KVM: at least one page of entries */
#define MVM_MAX_RING		65536	/* KVM_DIRTY_RING_MAX_ENTRIES */
#define MVM_DEFAULT_BATCH	256
/*
 * With the dirty ring on, the guest exits at least every MVM_RING_SAFE_STORES
 * stores by default.  KVM checks for a soft-full ring only between guest
 * entries; where it emulates the guest (e.g. PVM hosts) every emulated store
 * pushes one entry, and more than the 64 reserved entries between two exits
 * would overflow the ring and lose entries.
 */
#define MVM_RING_SAFE_STORES	32
#define MVM_DEFAULT_BLOB	4096
#define MVM_PAUSE_TIMEOUT_MS	10000

struct mvm_range {
	uint32_t first;		/* region-relative page */
	uint32_t end;		/* exclusive */
};

struct mvm_config {
	uint64_t mem_size;
	unsigned int nvcpus;
	unsigned int workload;	/* MVM_WL_* */
	uint32_t passes;
	uint32_t count;		/* 0 = region pages */
	uint32_t hot_k;
	uint32_t seed;
	uint32_t rate;		/* pages/s per vCPU, 0 = unlimited */
	bool rate_set;		/* --rate given: an import keeps it */
	uint32_t batch;		/* 0 = automatic */
	uint32_t fill;		/* dwords written per page write */
	bool loop;
	struct mvm_range ranges[MVM_MAX_RANGES];
	unsigned int nranges;
	uint32_t ring_entries;	/* 0 = dirty ring off */
	unsigned int reap_ms;
	uint32_t blob_size;
	const char *harvest_out;
	const char *control;
	const char *incoming;
	bool json;
	bool start_paused;
	bool quiet;
};

struct mvm_vcpu {
	struct mvm_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;

	/* dirty ring (ring == NULL when off); under vm->dirty.lock */
	struct kvm_dirty_gfn *ring;
	uint32_t ring_fetch;
	uint64_t dirty_entries;

	/* everything below is under vm->lock */
	int state;		/* enum mvm_vcpu_run_state */
	uint64_t progress;	/* 64-bit W */
	uint32_t last_w;	/* last 32-bit W seen */
	uint32_t guest_csum;
	uint32_t host_csum;
	uint32_t csum_reports;
	uint32_t scan_csum;
	uint32_t scan_reports;
	uint32_t vs_flags;	/* MVM_VS_* */
	uint64_t exits;
	uint64_t ring_full_exits;
	unsigned int ring_full_idle;	/* consecutive empty ring-full exits */
	char fail_msg[160];

	/* rate limiter, vCPU thread only (rate_rebase written under lock) */
	bool rate_rebase;
	uint64_t rate_t0_ns;
	uint64_t rate_w0;
};

struct mvm_dirty {
	bool enabled;
	uint32_t entries;
	int cap;		/* KVM_CAP_DIRTY_LOG_RING[_ACQ_REL] */
	pthread_mutex_t lock;
	uint64_t npages;	/* pages of slot 0 */
	uint64_t *bitmap;	/* distinct GFNs of slot 0 */
	uint64_t distinct;
	uint64_t total;
	uint64_t invalid;	/* entries outside slot 0 */
	uint64_t resets;	/* KVM_RESET_DIRTY_RINGS calls */
	uint64_t reset_mismatch;
	uint64_t overflows;	/* a ring was found completely full */
	FILE *out;
};

struct mvm_vm {
	const struct mvm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int mem_fd;
	uint8_t *mem;
	uint64_t mem_size;
	size_t run_size;
	unsigned int nvcpus;
	uint32_t region_pages;
	struct mvm_vcpu vcpus[MVM_MAX_VCPUS];

	/* workload knobs that migrate (from config or from an import) */
	unsigned int workload;
	uint32_t rate;
	bool loop;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pause_req;
	bool quit_req;
	bool stop_loop;
	bool failed;
	bool stuck;		/* a vCPU thread could not be joined */
	bool ever_ran;
	int event_fd;		/* vCPU finished/failed: wakes the main loop */
	uint64_t t_start_ns;
	uint64_t t_run_ns;	/* first time the vCPUs were let run */
	uint64_t t_done_ns;	/* all vCPUs finished */

	struct mvm_dirty dirty;

	uint8_t *blob;
	uint32_t blob_size;

	bool incoming;
	bool imported;
	int uffd;
	int uffd_sock;
};

/* util (main.c) */
uint64_t mvm_now_ns(void);
void mvm_log(const struct mvm_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mvm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* guest.c */
extern const uint8_t minivm_guest_start[];
extern const uint8_t minivm_guest_end[];
int mvm_guest_load(struct mvm_vm *vm);
int mvm_guest_init_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v);
uint64_t mvm_region_gpa(const struct mvm_vm *vm, unsigned int vcpu);
uint32_t mvm_region_csum(const struct mvm_vm *vm, unsigned int vcpu);
uint32_t mvm_fnv_dwords(const void *p, size_t len);
uint32_t mvm_fnv_bytes(const void *p, size_t len);
int mvm_parse_ranges(const char *s, struct mvm_range *r, unsigned int max,
		     unsigned int *n, char *err, size_t errlen);

/* vm.c */
int mvm_vm_create(struct mvm_vm *vm, const struct mvm_config *cfg);
int mvm_vm_start(struct mvm_vm *vm);
int mvm_vm_pause(struct mvm_vm *vm);
int mvm_vm_resume(struct mvm_vm *vm);
void mvm_vm_stop(struct mvm_vm *vm);
void mvm_vm_destroy(struct mvm_vm *vm);
int mvm_vm_state(struct mvm_vm *vm);
bool mvm_vm_paused(struct mvm_vm *vm);

/* dirty.c */
int mvm_dirty_init(struct mvm_vm *vm);
int mvm_dirty_map_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v);
void mvm_dirty_unmap_vcpu(struct mvm_vm *vm, struct mvm_vcpu *v);
uint64_t mvm_dirty_reap(struct mvm_vm *vm, struct mvm_vcpu *self,
			uint64_t *self_n);
void mvm_dirty_flush(struct mvm_vm *vm);
void mvm_dirty_fini(struct mvm_vm *vm);

/* state.c */
int mvm_blob_init(struct mvm_vm *vm, uint32_t size, uint32_t seed);
void mvm_blob_fini(struct mvm_vm *vm);
int mvm_state_export(struct mvm_vm *vm, uint8_t **img, size_t *len,
		     char *err, size_t errlen);
int mvm_state_import(struct mvm_vm *vm, const uint8_t *img, size_t len,
		     char *err, size_t errlen);

/* incoming.c */
int mvm_incoming_setup(struct mvm_vm *vm, const char *sock_path);
void mvm_incoming_fini(struct mvm_vm *vm);

/* ctl.c */
struct mvm_ctl;
int mvm_ctl_open(struct mvm_ctl **ctlp, struct mvm_vm *vm, const char *path);
int mvm_ctl_pollfds(struct mvm_ctl *ctl, struct pollfd *pfd, int max);
int mvm_ctl_service(struct mvm_ctl *ctl, struct pollfd *pfd, int n);
void mvm_ctl_close(struct mvm_ctl *ctl);

#endif /* MINIVM_H */
