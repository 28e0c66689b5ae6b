/*
 * ipiloop - bench/ipi's guest: `iters` self-IPIs (SDM Vol. 3A 11.6.1: ICR
 * with the "self" shorthand, fixed, vector 0x40) through the xAPIC page,
 * each taken (IF set) by a handler that counts it, writes EOI and returns
 * with IRETQ; the loop waits for the handler before it sends the next one,
 * so each iteration is one whole round trip on any CPU (hardware and TCG
 * may take the interrupt a few instructions late).  The count is checked.
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
	/*
	 * IDT: vector 0x40 to handler.  Under QEMU the firmware left the
	 * 8259 on vectors 08H-0FH and 70H-77H with the PIT running: those get
	 * a bare IRETQ (no EOI to the 8259, so it sends nothing more).  lhyve
	 * has no 8259 (and no port 21H to mask it with).
	 */
	lea	handler(%rip), %rax
	mov	$0x40, %esi
	call	set_gate
	lea	ignore(%rip), %rax
	mov	$0x08, %esi
5:	call	set_gate
	inc	%esi
	cmp	$0x10, %esi
	jne	5b
	mov	$0x70, %esi
6:	call	set_gate
	inc	%esi
	cmp	$0x78, %esi
	jne	6b
	lidt	idtr(%rip)
	mov	$LAPIC, %rbx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: software enable */
	mov	iters(%rip), %rcx
	xor	%r12, %r12			/* handler runs */
	xor	%r13, %r13			/* IPIs sent */
	sti
	/* A round trip: send, then wait until the handler has run. */
3:	inc	%r13
	movl	$0x40040, 0x300(%rbx)		/* ICR: self, fixed, vector 0x40 */
4:	cmp	%r13, %r12
	jne	4b
	cmp	%rcx, %r13
	jne	3b
	cli
	lidt	noidt(%rip)
	BENCH_FAIL_UNLESS_EQ %r12, %rcx
	BENCH_END

/* %esi: vector, %rax: handler; a 64-bit interrupt gate, this CS. */
set_gate:
	mov	%esi, %edi
	shl	$4, %rdi
	add	$IDT, %rdi
	mov	%rax, %rdx
	mov	%dx, (%rdi)
	mov	%cs, %dx
	mov	%dx, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	mov	%rax, %rdx
	shr	$16, %rdx
	mov	%dx, 6(%rdi)
	shr	$16, %rdx
	mov	%edx, 8(%rdi)
	movl	$0, 12(%rdi)
	ret

ignore:
	iretq

handler:
	inc	%r12
	movl	$0, 0xb0(%rbx)			/* EOI */
	iretq

	.align	8
idtr:	.word	256 * 16 - 1
	.quad	IDT
noidt:	.word	0
	.quad	0
