/* SPDX-License-Identifier: GPL-2.0 */
/*
 * minivm guest ABI: guest physical memory layout, I/O ports and the
 * per-vCPU parameter block.  Shared by the guest program (guest.S, via the
 * C preprocessor) and the host side (guest.c, vm.c).  Plain #defines only,
 * so that the assembler can read it.
 *
 * Guest physical memory (one KVM memslot, slot 0, GPA 0 .. mem_size, backed
 * by the memfd at offset 0, so memfd offset == GPA):
 *
 *   0x00000000  boot page: GDT (null, flat code, flat data) + info header
 *   0x00001000  guest program (MVM_CODE_MAX bytes reserved)
 *   0x00010000  parameter block of vCPU i at 0x10000 + i * 0x1000 (read-only
 *               for the guest)
 *   0x00020000  stack page of vCPU i at 0x20000 + i * 0x1000; ESP starts at
 *               the top of it.  The guest program never uses the stack
 *               (no push/pop/call, interrupts off), so it is never written.
 *   0x00030000  unused up to 1 MiB
 *   0x00100000  data regions: vCPU i owns region_pages pages starting at
 *               0x100000 + i * region_pages * 4096, where
 *               region_pages = (mem_size - 1 MiB) / 4096 / nvcpus.
 *               Leftover tail pages (if any) are unused.
 *
 * The guest only ever writes its own data region, so the dirty log of a run
 * contains only data-region GFNs.
 */
#ifndef MINIVM_GUEST_ABI_H
#define MINIVM_GUEST_ABI_H

#define MVM_PAGE_SIZE		0x1000
#define MVM_PAGE_SHIFT		12

#define MVM_GPA_BOOT		0x00000000
#define MVM_GPA_GDT		0x00000000
#define MVM_GPA_INFO		0x00000100
#define MVM_GPA_CODE		0x00001000
#define MVM_CODE_MAX		0x0000f000
#define MVM_GPA_PARAMS		0x00010000
#define MVM_GPA_STACKS		0x00020000
#define MVM_GPA_DATA		0x00100000

#define MVM_SEL_CODE		0x08
#define MVM_SEL_DATA		0x10

/*
 * I/O ports (all 32-bit accesses, "out %eax, $port" / "in $port, %eax").
 * Every access exits to minivm (no in-kernel devices are created).
 */
#define MVM_PORT_BATCH		0xe0	/* out: W (page operations so far)   */
#define MVM_PORT_SCAN		0xe1	/* out: checksum of one scan pass    */
#define MVM_PORT_CSUM		0xe2	/* out: region checksum at the end   */
#define MVM_PORT_DONE		0xe3	/* out: vCPU finished (value unused) */
#define MVM_PORT_ERROR		0xe4	/* out: bad parameter block          */
#define MVM_PORT_CTRL		0xe5	/* in:  1 = run workload again, 0 = finish */

/* Workload ids (parameter block field MVM_P_WORKLOAD). */
#define MVM_WL_SEQ		1
#define MVM_WL_RANDOM		2
#define MVM_WL_HOT		3
#define MVM_WL_SCAN		4
#define MVM_WL_PAGES		5

/* Parameter block: one page per vCPU, all fields little-endian u32. */
#define MVM_PARAM_MAGIC		0x504d564d	/* "MVMP" */
#define MVM_P_MAGIC		0x00
#define MVM_P_VCPU		0x04
#define MVM_P_WORKLOAD		0x08
#define MVM_P_FILL_STRIDE	0x0c	/* bytes between written dwords    */
#define MVM_P_BASE		0x10	/* GPA of the data region            */
#define MVM_P_NPAGES		0x14	/* pages in the data region          */
#define MVM_P_END		0x18	/* BASE + NPAGES * 4096              */
#define MVM_P_PASSES		0x1c	/* seq/scan/pages: passes (>= 1)     */
#define MVM_P_COUNT		0x20	/* random/hot: writes (>= 1)         */
#define MVM_P_HOT_K		0x24	/* random/hot: size of the page set  */
#define MVM_P_HOT_STRIDE	0x28	/* random/hot: page = index * stride */
#define MVM_P_SEED		0x2c	/* per-vCPU data seed                */
#define MVM_P_LCG_SEED		0x30	/* initial LCG state                 */
#define MVM_P_BATCH_MASK	0x34	/* batch - 1 (batch is a power of 2) */
#define MVM_P_W0		0x38	/* initial W                         */
#define MVM_P_NRANGES		0x3c	/* pages: number of ranges           */
#define MVM_P_RANGES		0x40	/* pages: {first, end} u32 pairs     */
#define MVM_MAX_RANGES		((MVM_PAGE_SIZE - MVM_P_RANGES) / 8)

/* Data pattern constants (see Documentation/minivm.rst). */
#define MVM_STAMP_MUL_W		0x85ebca77
#define MVM_STAMP_MUL_P		0x9e3779b1
#define MVM_FILL_STEP		0x01000193
#define MVM_FNV_OFFSET		0x811c9dc5
#define MVM_FNV_PRIME		0x01000193
#define MVM_LCG_MUL		1664525
#define MVM_LCG_ADD		1013904223

#endif /* MINIVM_GUEST_ABI_H */
