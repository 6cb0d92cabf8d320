/* SPDX-License-Identifier: GPL-2.0 */
/*
 * minivm control protocol (see Documentation/minivm.rst).
 *
 * The one definition for both ends: the agent's minivm adapter
 * (vmm_minivm.c) speaks it and tools/minivm serves it, including this
 * header from here.  It belongs to the agent because the product depends
 * on it and the test VMM implements it, not the other way round.
 *
 * Transport: a Unix SOCK_SEQPACKET socket (minivm --control PATH).  Every
 * request is one packet, answered by exactly one reply packet.  A packet is
 * a struct mvm_ctl_hdr followed by hdr.len payload bytes; all integers are
 * host-endian (x86-64: little-endian), structures have natural alignment
 * and explicit padding.  Several clients may be connected; requests are
 * served one at a time.
 *
 * Request:  magic = MVM_CTL_MAGIC, version = MVM_CTL_VERSION, cmd, status 0,
 *           len + payload (only MVM_CMD_IMPORT has one).
 * Reply:    same magic/version/cmd; status 0 on success, or a negative errno
 *           value with a NUL-terminated error message as payload.
 *
 * Commands and their successful reply payloads:
 *   STATUS      struct mvm_ctl_status
 *   PAUSE       none; sent only once every vCPU thread is out of KVM_RUN
 *               and parked (and the dirty rings were reaped)
 *   RESUME      none
 *   LAYOUT      struct mvm_ctl_layout
 *   GET_MEMFD   struct mvm_ctl_memfd + the guest RAM memfd as SCM_RIGHTS
 *   EXPORT      state image (VM must be paused): struct mvm_state_hdr,
 *               nvcpus * struct mvm_vcpu_state, blob_size bytes device blob
 *   IMPORT      request payload = a state image; VM must be paused (or an
 *               incoming VM waiting for its state); reply has no payload
 *   STOP        none; --loop workloads finish at the end of the current run
 *   QUIT        none; minivm then stops the vCPUs and exits
 */
#ifndef MINIVM_CTL_H
#define MINIVM_CTL_H

#include <stdint.h>
#include <linux/kvm.h>

#define MVM_CTL_MAGIC		0x434d564dU	/* "MVMC" */
#define MVM_CTL_VERSION		1
#define MVM_CTL_MAX_MSG		(128 * 1024)

#define MVM_MAX_VCPUS		64
#define MVM_MAX_SLOTS		4
#define MVM_MAX_BLOB		(32 * 1024)

enum mvm_ctl_cmd {
	MVM_CMD_STATUS		= 1,
	MVM_CMD_PAUSE		= 2,
	MVM_CMD_RESUME		= 3,
	MVM_CMD_LAYOUT		= 4,
	MVM_CMD_GET_MEMFD	= 5,
	MVM_CMD_EXPORT		= 6,
	MVM_CMD_IMPORT		= 7,
	MVM_CMD_STOP		= 8,
	MVM_CMD_QUIT		= 9,
};

struct mvm_ctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t cmd;
	int32_t status;		/* reply: 0 or -errno; request: 0 */
	uint32_t len;		/* payload bytes following the header */
};

/* ---- LAYOUT ---- */

#define MVM_LAYOUT_F_INCOMING	(1u << 0)	/* RAM is userfaultfd-backed */
#define MVM_LAYOUT_F_DIRTY_RING	(1u << 1)

struct mvm_ctl_slot {
	uint32_t slot;		/* KVM memslot id */
	uint32_t flags;		/* KVM_MEM_* flags of the slot */
	uint64_t gpa;
	uint64_t size;
	uint64_t memfd_offset;	/* offset of gpa in the memfd */
	uint64_t hva;		/* address in the minivm process */
};

struct mvm_ctl_region {
	uint64_t gpa;		/* data region of the vCPU */
	uint64_t npages;
	uint64_t param_gpa;	/* parameter block */
	uint64_t stack_gpa;	/* stack page (never written by the guest) */
};

struct mvm_ctl_layout {
	uint32_t page_size;
	uint32_t nvcpus;
	uint32_t nslots;
	uint32_t dirty_ring_entries;	/* per vCPU, 0 = off */
	uint64_t mem_size;
	uint32_t flags;			/* MVM_LAYOUT_F_* */
	uint32_t pad;
	struct mvm_ctl_slot slots[MVM_MAX_SLOTS];
	struct mvm_ctl_region vcpu[MVM_MAX_VCPUS];
};

/* ---- STATUS ---- */

enum mvm_vm_state {
	MVM_VM_RUNNING		= 1,
	MVM_VM_PAUSED		= 2,
	MVM_VM_FINISHED		= 3,	/* every vCPU reported DONE */
	MVM_VM_INCOMING		= 4,	/* incoming, no state imported yet */
	MVM_VM_FAILED		= 5,
};

enum mvm_vcpu_run_state {
	MVM_VCPU_INIT		= 0,
	MVM_VCPU_RUNNING	= 1,
	MVM_VCPU_PAUSED		= 2,
	MVM_VCPU_FINISHED	= 3,
	MVM_VCPU_FAILED		= 4,
};

#define MVM_STATUS_F_LOOP	(1u << 0)	/* --loop and no STOP yet */
#define MVM_STATUS_F_DIRTY_RING	(1u << 1)
#define MVM_STATUS_F_INCOMING	(1u << 2)
#define MVM_STATUS_F_IMPORTED	(1u << 3)

#define MVM_VS_CSUM_VALID	(1u << 0)	/* guest reported a checksum */
#define MVM_VS_CSUM_MISMATCH	(1u << 1)	/* host checksum differed */
#define MVM_VS_FINISHED		(1u << 2)
#define MVM_VS_HOST_CSUM_VALID	(1u << 3)

struct mvm_ctl_vcpu_status {
	uint32_t state;		/* enum mvm_vcpu_run_state */
	uint32_t flags;		/* MVM_VS_* */
	uint32_t guest_csum;	/* last region checksum reported by guest */
	uint32_t host_csum;	/* host checksum of the region at that time */
	uint32_t csum_reports;	/* completed runs of the workload */
	uint32_t scan_csum;	/* last scan-pass checksum (scan) */
	uint64_t progress;	/* page operations done (W, 64-bit) */
	uint64_t dirty_entries;	/* dirty-ring entries harvested */
	uint64_t exits;		/* KVM_RUN exits handled */
};

struct mvm_ctl_status {
	uint32_t state;		/* enum mvm_vm_state */
	uint32_t nvcpus;
	uint32_t workload;	/* MVM_WL_* (guest_abi.h) */
	uint32_t flags;		/* MVM_STATUS_F_* */
	uint64_t dirty_entries;	/* all vCPUs */
	uint64_t dirty_distinct;	/* distinct GFNs harvested */
	uint64_t ring_full_exits;
	uint64_t uptime_ns;
	struct mvm_ctl_vcpu_status vcpu[MVM_MAX_VCPUS];
};

/* ---- GET_MEMFD ---- */

struct mvm_ctl_memfd {
	uint64_t size;		/* bytes of guest RAM in the memfd */
	uint64_t offset;	/* memfd offset of GPA 0 */
};

/* ---- EXPORT / IMPORT: the state image ---- */

#define MVM_STATE_MAGIC		0x53564d4dU	/* "MVMS" */
#define MVM_STATE_VERSION	1

#define MVM_SF_LOOP		(1u << 0)	/* workload loops until STOP */

struct mvm_state_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;	/* sizeof(struct mvm_state_hdr) */
	uint32_t vcpu_rec_size;	/* sizeof(struct mvm_vcpu_state) */
	uint32_t nvcpus;
	uint32_t page_size;
	uint64_t mem_size;
	uint32_t workload;
	uint32_t flags;		/* MVM_SF_* */
	uint32_t rate;		/* pages/s per vCPU, 0 = unlimited */
	uint32_t blob_size;
};

struct mvm_vcpu_state {
	uint32_t id;
	uint32_t flags;		/* MVM_VS_FINISHED, MVM_VS_CSUM_VALID */
	uint32_t guest_csum;
	uint32_t csum_reports;
	uint64_t progress;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

/*
 * Device blob: opaque to migration tools.  minivm fills it at boot with a
 * deterministic pattern and checks it on import: a struct mvm_blob_hdr
 * followed by (size - sizeof(hdr)) bytes whose FNV-1a (bytewise) is
 * body_fnv.
 */
#define MVM_BLOB_MAGIC		0x44564d4dU	/* "MMVD" */

struct mvm_blob_hdr {
	uint32_t magic;
	uint32_t size;		/* whole blob, header included */
	uint32_t seed;
	uint32_t body_fnv;
};

#endif /* MINIVM_CTL_H */
