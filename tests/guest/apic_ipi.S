/*
 * apic_ipi: self-IPIs through the xAPIC page and the x2APIC MSRs (SDM
 * Vol. 3A 11.6, 11.8, 11.12): IRR while IF is clear, TPR holding a vector
 * back, PPR and ISR inside the handler, EOI, priority order of two pending
 * vectors, ESR on an illegal vector, #GP for x2APIC MSRs in xAPIC mode and
 * for a reserved x2APIC write.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define SEQ	0x200000		/* vectors in the order the handlers ran */
	.globl	_start
_start:
	SET_GATE	IDT+0x50*16, h50
	SET_GATE	IDT+0x60*16, h60
	SET_GATE	IDT+13*16, gp
	lidt	idtr(%rip)
	mov	$LAPIC, %rbx			/* %rbx: the LAPIC page throughout */
	xor	%r9, %r9			/* EOI through the page (1: x2APIC MSR) */
	xor	%r10, %r10			/* handlers run so far */
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: software enable */

	/* Self IPI with IF clear: vector 0x50 waits in IRR (bit 16 of IRR[2]). */
	movl	$0, 0x310(%rbx)
	movl	$0x40050, 0x300(%rbx)		/* shorthand self, fixed, vector 0x50 */
	mov	0x220(%rbx), %eax
	shr	$16, %eax
	and	$1, %eax
	EXPECT	%rax, 1, m_irr
	mov	0xa0(%rbx), %eax
	EXPECT	%rax, 0, m_ppr0

	/* TPR 0x60 holds it back (priority class 5 <= 6, SDM 11.8.3). */
	movl	$0x60, 0x80(%rbx)
	mov	0xa0(%rbx), %eax
	EXPECT	%rax, 0x60, m_ppr_tpr
	sti
	nop
	nop
	cli
	EXPECT	%r10, 0, m_tpr
	/* MOV CR8 is TPR[7:4] (11.8.6.1): both ways, and it holds 0x50 back too. */
	mov	%cr8, %rax
	EXPECT	%rax, 6, m_cr8_read
	mov	$7, %eax
	mov	%rax, %cr8
	mov	0x80(%rbx), %eax
	EXPECT	%rax, 0x70, m_cr8_write
	sti
	nop
	cli
	EXPECT	%r10, 0, m_tpr
	xor	%eax, %eax
	mov	%rax, %cr8			/* TPR 0: 0x50 is taken */
	nop
	sti
	nop
	cli
	EXPECT	%r10, 1, m_taken
	EXPECT	%r13, 1, m_isr_in		/* ISR bit inside the handler */
	EXPECT	%r14, 0x50, m_ppr_in		/* PPR = the in-service class */
	mov	0x120(%rbx), %eax		/* ISR[2] after EOI */
	EXPECT	%rax, 0, m_isr_after
	mov	0xa0(%rbx), %eax
	EXPECT	%rax, 0, m_ppr_after

	/* Two pending: the higher vector is taken first (11.8.3). */
	movl	$0x40050, 0x300(%rbx)
	movl	$0x40060, 0x300(%rbx)
	sti
	nop
	cli
	EXPECT	%r10, 3, m_two
	movzbl	SEQ + 2, %eax			/* SEQ + n: the n-th handler run */
	EXPECT	%rax, 0x60, m_order
	movzbl	SEQ + 3, %eax
	EXPECT	%rax, 0x50, m_order

	/*
	 * With IF set the IPI is taken right after the ICR write retires,
	 * once: the write is not replayed after the handler.
	 */
	sti
	nop					/* past the STI shadow */
	movl	$0x40050, 0x300(%rbx)
	nop
	cli
	EXPECT	%r10, 4, m_once
	movzbl	SEQ + 4, %eax
	EXPECT	%rax, 0x50, m_once

	/*
	 * An illegal vector (< 16) sets "send illegal vector" (ESR bit 5).
	 * KVM's in-kernel LAPIC does not (docs/kvm.md): skipped where the
	 * brand string (CPUID 80000002H) says "lhyve x86-64 CPU (KVM)".
	 */
	mov	$0x80000002, %eax
	cpuid
	cmp	$0x38782065, %ebx		/* "e x8" */
	mov	$LAPIC, %ebx
	je	1f
	movl	$0x40005, 0x300(%rbx)
	movl	$0, 0x280(%rbx)			/* a write latches ESR (11.5.3) */
	mov	0x280(%rbx), %eax
	EXPECT	%rax, 0x20, m_esr
1:

	/* x2APIC MSRs do not exist in xAPIC mode: #GP. */
	xor	%r8, %r8
	mov	$0x802, %ecx
	rdmsr
	EXPECT	%r8, 13, m_gp_xapic

	/* x2APIC mode through APIC_BASE (11.12.1). */
	mov	$0x1b, %ecx
	rdmsr
	or	$0x400, %eax
	wrmsr
	mov	$1, %r9
	mov	$0x802, %ecx			/* ID: the vCPU number, 32 bits */
	rdmsr
	EXPECT	%rax, 0, m_x2id
	mov	$0x803, %ecx
	rdmsr
	and	$~0x1000000, %eax		/* bit 24: EOI-broadcast suppression, KVM's has it (11.8.5) */
	EXPECT	%rax, 0x50014, m_x2ver
	mov	$0x83f, %ecx			/* SELF IPI register */
	mov	$0x60, %eax
	xor	%edx, %edx
	wrmsr
	mov	$0x823, %ecx			/* IRR[3]: vector 0x60 is bit 0 */
	rdmsr
	and	$1, %eax
	EXPECT	%rax, 1, m_x2irr
	sti
	nop
	cli
	EXPECT	%r10, 5, m_x2taken
	mov	$0x830, %ecx			/* ICR: one 64-bit register */
	mov	$0x40050, %eax
	xor	%edx, %edx
	wrmsr
	sti
	nop
	cli
	EXPECT	%r10, 6, m_x2icr
	/*
	 * EOI with a non-zero value is a reserved write: #GP (11.12.1.2).
	 * KVM's LAPIC takes it as an EOI (docs/kvm.md): skipped there.
	 */
	mov	$0x80000002, %eax
	cpuid
	cmp	$0x38782065, %ebx		/* "e x8": "lhyve x86-64 CPU (KVM)" */
	mov	$LAPIC, %ebx
	je	1f
	xor	%r8, %r8
	mov	$0x80b, %ecx
	mov	$1, %eax
	wrmsr
	EXPECT	%r8, 13, m_gp_eoi
1:
	PUTS	pass
	POWEROFF

/* Both handlers: record the vector, ISR and PPR as seen inside, then EOI. */
h50:	push	%rax
	mov	$0x50, %eax
	jmp	common
h60:	push	%rax
	mov	$0x60, %eax
common:	push	%rcx
	push	%rdx
	inc	%r10
	mov	%al, SEQ(%r10)
	test	%r9, %r9
	jnz	1f
	mov	0x120(%rbx), %r13d		/* ISR[2]: bit 16 is vector 0x50 */
	shr	$16, %r13d
	and	$1, %r13d
	mov	0xa0(%rbx), %r14d
	movl	$0, 0xb0(%rbx)			/* EOI */
	jmp	2f
1:	mov	$0x80b, %ecx			/* x2APIC EOI */
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
2:	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq

/* #GP: note it and skip the 2-byte RDMSR/WRMSR. */
gp:	mov	$13, %r8
	add	$8, %rsp			/* error code */
	addq	$2, (%rsp)
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS apic_ipi\n"
m_irr:		.asciz	"apic_ipi: self IPI not in IRR"
m_ppr0:		.asciz	"apic_ipi: PPR not 0"
m_ppr_tpr:	.asciz	"apic_ipi: PPR does not follow TPR"
m_tpr:		.asciz	"apic_ipi: TPR did not hold the vector back"
m_cr8_read:	.asciz	"apic_ipi: MOV from CR8 is not TPR[7:4]"
m_cr8_write:	.asciz	"apic_ipi: MOV to CR8 did not set TPR"
m_taken:	.asciz	"apic_ipi: self IPI not taken"
m_isr_in:	.asciz	"apic_ipi: ISR bit not set in the handler"
m_ppr_in:	.asciz	"apic_ipi: PPR not 0x50 in the handler"
m_isr_after:	.asciz	"apic_ipi: ISR not clear after EOI"
m_ppr_after:	.asciz	"apic_ipi: PPR not 0 after EOI"
m_two:		.asciz	"apic_ipi: two pending vectors not both taken"
m_order:	.asciz	"apic_ipi: lower vector taken first"
m_once:		.asciz	"apic_ipi: self IPI with IF set not taken exactly once"
m_esr:		.asciz	"apic_ipi: ESR lacks send illegal vector"
m_gp_xapic:	.asciz	"apic_ipi: x2APIC MSR read in xAPIC mode did not #GP"
m_x2id:		.asciz	"apic_ipi: x2APIC ID not 0"
m_x2ver:	.asciz	"apic_ipi: x2APIC version wrong"
m_x2irr:	.asciz	"apic_ipi: x2APIC self IPI not in IRR"
m_x2taken:	.asciz	"apic_ipi: x2APIC self IPI not taken"
m_x2icr:	.asciz	"apic_ipi: x2APIC ICR self IPI not taken"
m_gp_eoi:	.asciz	"apic_ipi: non-zero x2APIC EOI did not #GP"
	GUEST_LIB
