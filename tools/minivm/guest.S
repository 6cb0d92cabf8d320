/* SPDX-License-Identifier: GPL-2.0 */
/*
 * minivm guest program: 32-bit flat protected mode, no paging, interrupts
 * disabled, no stack use (no push/pop/call/int), so the only guest memory
 * it writes is its own data region.
 *
 * The bytes between minivm_guest_start and minivm_guest_end are copied by
 * the host to GPA MVM_GPA_CODE and entered there.  The code is position
 * independent (relative jumps only, no absolute addresses), which
 * "objdump -r guest.o" confirms (no relocations).
 *
 * Entry state (set by the host with KVM_SET_REGS/KVM_SET_SREGS):
 *   %esi = GPA of this vCPU's parameter block (guest_abi.h)
 *   %esp = top of this vCPU's stack page (never used)
 *   EFLAGS = 0x2 (IF clear), CS/DS/ES/SS/FS/GS flat 4 GiB.
 *
 * Register use (all workload state lives in registers, so KVM_GET_REGS +
 * KVM_GET_SREGS is the complete vCPU state to migrate):
 *   %esi  parameter block (constant)
 *   %ebp  W: page operations done so far (monotonic, 32-bit wrap)
 *   %ebx  random/hot: LCG state; scan: running hash; pages: range index
 *   %ecx  passes / writes remaining
 *   %edx  current page index (relative to the region)
 *   %edi  current address
 *   %eax  scratch
 *
 * Page stamp written by every page write of page p at op counter W:
 *   v0 = ((W * MVM_STAMP_MUL_W + p) * MVM_STAMP_MUL_P) ^ seed
 *   dword k * S of the page = v0 + k * MVM_FILL_STEP    (k = 0 .. fill-1)
 * where fill = --fill (dwords per page write) and S = 1024 / fill; the
 * other dwords keep their previous contents.
 * Region checksum: FNV-1a over little-endian dwords:
 *   h = MVM_FNV_OFFSET; for each dword w: h = (h ^ w) * MVM_FNV_PRIME
 */
#include "guest_abi.h"

#define P(off)	off(%esi)

/* %eax = page stamp for page index \preg at the current W (%ebp). */
.macro STAMP preg
	imull	$MVM_STAMP_MUL_W, %ebp, %eax
	addl	\preg, %eax
	imull	$MVM_STAMP_MUL_P, %eax, %eax
	xorl	P(MVM_P_SEED), %eax
.endm

/*
 * Write one page: the dwords at byte offsets 0, FILL_STRIDE, 2*FILL_STRIDE,
 * ... of the page at %edi get %eax, %eax + step, ...  FILL_STRIDE = 4096 /
 * (--fill dwords), so --fill 1024 rewrites the whole page.  Clobbers %eax;
 * %edi ends one page on.
 */
.macro WRITE_PAGE
.Lwp\@:
	movl	%eax, (%edi)
	addl	$MVM_FILL_STEP, %eax
	addl	P(MVM_P_FILL_STRIDE), %edi
	testl	$(MVM_PAGE_SIZE - 1), %edi
	jnz	.Lwp\@
.endm

/* Fold the 4 dwords at %edi into the FNV-1a hash in \h; %edi += 16. */
.macro HASH16 h
	xorl	(%edi), \h
	imull	$MVM_FNV_PRIME, \h, \h
	xorl	4(%edi), \h
	imull	$MVM_FNV_PRIME, \h, \h
	xorl	8(%edi), \h
	imull	$MVM_FNV_PRIME, \h, \h
	xorl	12(%edi), \h
	imull	$MVM_FNV_PRIME, \h, \h
	addl	$16, %edi
.endm

/* One page operation done: W++, and every batch ops report W to the host. */
.macro TICK
	incl	%ebp
	testl	%ebp, P(MVM_P_BATCH_MASK)
	jnz	.Ltick\@
	movl	%ebp, %eax
	outl	%eax, $MVM_PORT_BATCH
.Ltick\@:
.endm

	.section .rodata.minivm_guest, "a"
	.globl	minivm_guest_start
	.globl	minivm_guest_end
	.code32

minivm_guest_start:
	cmpl	$MVM_PARAM_MAGIC, P(MVM_P_MAGIC)
	jne	.Lbad_param
	movl	P(MVM_P_W0), %ebp
	movl	P(MVM_P_LCG_SEED), %ebx

.Ldispatch:
	movl	P(MVM_P_WORKLOAD), %eax
	cmpl	$MVM_WL_SEQ, %eax
	je	.Lwl_seq
	cmpl	$MVM_WL_RANDOM, %eax
	je	.Lwl_random
	cmpl	$MVM_WL_HOT, %eax
	je	.Lwl_random
	cmpl	$MVM_WL_SCAN, %eax
	je	.Lwl_scan
	cmpl	$MVM_WL_PAGES, %eax
	je	.Lwl_pages
.Lbad_param:
	outl	%eax, $MVM_PORT_ERROR
1:	hlt
	jmp	1b

/* seq: PASSES passes, each writing pages 0 .. NPAGES-1 in order. */
.Lwl_seq:
	movl	P(MVM_P_PASSES), %ecx
.Lseq_pass:
	xorl	%edx, %edx
	movl	P(MVM_P_BASE), %edi
.Lseq_page:
	STAMP	%edx
	WRITE_PAGE
	TICK
	incl	%edx
	cmpl	P(MVM_P_NPAGES), %edx
	jb	.Lseq_page
	decl	%ecx
	jnz	.Lseq_pass
	jmp	.Lwl_end

/*
 * random / hot: COUNT writes; x = x * 1664525 + 1013904223 (mod 2^32),
 * page = ((x * HOT_K) >> 32) * HOT_STRIDE.  random uses HOT_K = NPAGES,
 * HOT_STRIDE = 1; hot uses HOT_K = K, HOT_STRIDE = NPAGES / K.
 */
.Lwl_random:
	movl	P(MVM_P_COUNT), %ecx
.Lrnd_next:
	imull	$MVM_LCG_MUL, %ebx, %ebx
	addl	$MVM_LCG_ADD, %ebx
	movl	%ebx, %eax
	mull	P(MVM_P_HOT_K)
	imull	P(MVM_P_HOT_STRIDE), %edx
	movl	%edx, %edi
	shll	$MVM_PAGE_SHIFT, %edi
	addl	P(MVM_P_BASE), %edi
	STAMP	%edx
	WRITE_PAGE
	TICK
	decl	%ecx
	jnz	.Lrnd_next
	jmp	.Lwl_end

/* scan: PASSES read passes, each hashing the region; report each hash. */
.Lwl_scan:
	movl	P(MVM_P_PASSES), %ecx
.Lscan_pass:
	movl	P(MVM_P_BASE), %edi
	xorl	%edx, %edx
	movl	$MVM_FNV_OFFSET, %ebx
.Lscan_page:
	HASH16	%ebx
	testl	$(MVM_PAGE_SIZE - 1), %edi
	jnz	.Lscan_page
	TICK
	incl	%edx
	cmpl	P(MVM_P_NPAGES), %edx
	jb	.Lscan_page
	movl	%ebx, %eax
	outl	%eax, $MVM_PORT_SCAN
	decl	%ecx
	jnz	.Lscan_pass
	jmp	.Lwl_end

/* pages: PASSES passes over the ranges [first, end) in the given order. */
.Lwl_pages:
	movl	P(MVM_P_PASSES), %ecx
.Lpg_pass:
	xorl	%ebx, %ebx
.Lpg_range:
	cmpl	P(MVM_P_NRANGES), %ebx
	jae	.Lpg_pass_done
	movl	MVM_P_RANGES(%esi,%ebx,8), %edx
.Lpg_page:
	movl	%edx, %edi
	shll	$MVM_PAGE_SHIFT, %edi
	addl	P(MVM_P_BASE), %edi
	STAMP	%edx
	WRITE_PAGE
	TICK
	incl	%edx
	cmpl	MVM_P_RANGES+4(%esi,%ebx,8), %edx
	jb	.Lpg_page
	incl	%ebx
	jmp	.Lpg_range
.Lpg_pass_done:
	decl	%ecx
	jnz	.Lpg_pass
	jmp	.Lwl_end

/*
 * End of one run of the workload: checksum the region, report it, ask the
 * host whether to go again (--loop), else report DONE and halt.
 */
.Lwl_end:
	movl	$MVM_FNV_OFFSET, %eax
	movl	P(MVM_P_BASE), %edi
	movl	P(MVM_P_END), %ecx
.Lsum:
	HASH16	%eax
	cmpl	%ecx, %edi
	jb	.Lsum
	outl	%eax, $MVM_PORT_CSUM
	inl	$MVM_PORT_CTRL, %eax
	testl	%eax, %eax
	jnz	.Ldispatch
	outl	%eax, $MVM_PORT_DONE
2:	hlt
	jmp	2b

minivm_guest_end:
	.code64

	.section .note.GNU-stack, "", @progbits
