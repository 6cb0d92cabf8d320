/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest of qemu_postcopy_test: a multiboot kernel that QEMU boots with
 * -kernel, in 32-bit protected mode, with interrupts off all along (a guest
 * that takes interrupts is not reliable under nested SVM on TCG).
 *
 * It fills [REGION, REGION_END) with each dword's own address XOR SEED,
 * sets the dword at MARK to 1, then reads the first dword of every page of
 * the region, round after round, adding one to MARK after each round.  On
 * a postcopy destination every page it reads that has not arrived yet is a
 * userfault of its vCPU thread.  The values must match qemu_postcopy_test.c.
 */
	.set MB_MAGIC, 0x1badb002
	.set REGION, 0x01000000		/* 16 MiB */
	.set REGION_END, 0x03000000	/* 48 MiB */
	.set SEED, 0x5ca1ab1e
	.set MARK, 0x8000

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, 0, -MB_MAGIC

	.text
	.code32
	.globl _start
_start:
	cli
	movl $0, MARK
	movl $REGION, %edi
1:	movl %edi, %eax
	xorl $SEED, %eax
	movl %eax, (%edi)
	addl $4, %edi
	cmpl $REGION_END, %edi
	jb 1b
	movl $1, MARK
2:	movl $REGION, %esi
3:	addl (%esi), %ebx
	addl $4096, %esi
	cmpl $REGION_END, %esi
	jb 3b
	incl MARK
	jmp 2b
