/*
 * ipiloop - bench/ipi's guest: `iters` self-IPIs (SDM Vol. 3A 11.6.1: ICR
 * with the "self" shorthand, fixed, vector 0x40) through the xAPIC page,
 * each taken at once (IF set) by a handler that counts it, writes EOI and
 * returns with IRETQ.  One iteration: the ICR write, the interrupt
 * delivery, the handler's increment and EOI write, IRETQ, the loop's dec
 * and jnz.  The count is checked at the end.
 */
#include "boot.h"
#define TABLES	0x400000		/* own page tables: the LAPIC is above 1 GiB */
#define IDT	0x410000
#define LAPIC	0xfee00000

	.code64
loop64:
	/* Identity-map 4 GiB with 2 MiB pages: PML4, PDPT, four PDs. */
	mov	$TABLES, %rdi
	xor	%eax, %eax
	mov	$6 * 4096 / 8, %ecx
	rep stosq
	movq	$TABLES + 0x1000 + 3, TABLES
	mov	$TABLES + 0x1000, %rdi
	mov	$TABLES + 0x2000 + 3, %rax
	mov	$4, %ecx
1:	mov	%rax, (%rdi)
	add	$8, %rdi
	add	$0x1000, %rax
	loop	1b
	mov	$TABLES + 0x2000, %rdi
	mov	$0x83, %eax			/* P, RW, PS */
	mov	$2048, %ecx
2:	mov	%rax, (%rdi)
	add	$8, %rdi
	add	$0x200000, %rax
	loop	2b
	mov	$TABLES, %rax
	mov	%rax, %cr3
	/* IDT: vector 0x40, a 64-bit interrupt gate to handler. */
	lea	handler(%rip), %rax
	mov	$IDT + 0x40 * 16, %rdi
	mov	%ax, (%rdi)
	mov	%cs, %dx
	mov	%dx, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	lidt	idtr(%rip)
	mov	$LAPIC, %rbx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: software enable */
	mov	iters(%rip), %rcx
	xor	%r12, %r12
	sti
3:	movl	$0x40040, 0x300(%rbx)		/* ICR: self, fixed, vector 0x40 */
	dec	%rcx
	jnz	3b
	cli
	mov	iters(%rip), %rax
	lidt	noidt(%rip)
	BENCH_FAIL_UNLESS_EQ %r12, %rax
	BENCH_END

handler:
	inc	%r12
	movl	$0, 0xb0(%rbx)			/* EOI */
	iretq

	.align	8
idtr:	.word	256 * 16 - 1
	.quad	IDT
noidt:	.word	0
	.quad	0
