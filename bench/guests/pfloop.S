/*
 * pfloop - page fault round trips: a load from a not-present address
 * (PML4 entry 1 is empty) raises #PF; the handler steps over the 2-byte
 * load and returns with IRETQ (SDM Vol. 3A 4.7, 6.14).  One iteration:
 * the faulting MOV, the handler's ADDQ and IRETQ, DEC, JNZ.
 */
#define INSNS_PER_ITER	5
#define EVENT		page-fault-round-trips
#include "boot.h"
#define IDT	0x80000

	.code64
loop64:
	/* IDT entry 14: a 64-bit interrupt gate to pf_handler (SDM Vol. 3A 6.14.1). */
	mov	$IDT + 14 * 16, %rdi
	lea	pf_handler(%rip), %rax
	mov	%ax, (%rdi)
	movw	$0x8, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	lidt	idtr(%rip)
	mov	$0x300000, %rsp
	mov	iters(%rip), %rcx
	movabs	$0x8000000000, %rbx		/* PML4[1]: not present */
1:	mov	(%rbx), %eax			/* 8b 03: faults */
	dec	%rcx
	jnz	1b
	BENCH_END

pf_handler:
	addq	$2, 8(%rsp)			/* past the error code: RIP += 2 */
	add	$8, %rsp			/* drop the error code */
	iretq

	.align	8
idtr:	.word	256 * 16 - 1
	.quad	IDT
