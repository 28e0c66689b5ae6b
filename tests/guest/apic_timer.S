/*
 * apic_timer: the local APIC timer wakes HLT (SDM Vol. 3A 11.5.4):
 * one-shot, periodic (10 ticks) and TSC-deadline, each measured against
 * the TSC (in ns, RDTSC64) with generous bounds; CPUID reports the APIC,
 * x2APIC and TSC-deadline.  Bus clock from CPUID 15H (128 MHz on the
 * software CPU, 1 GHz on KVM), divide by 1.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define VEC	0x40
	.globl	_start
_start:
	mov	$1, %eax
	cpuid
	mov	%rdx, %rax
	shr	$9, %rax
	and	$1, %rax
	EXPECT	%rax, 1, m_cpuid_apic
	mov	%rcx, %rax
	shr	$21, %rax
	and	$9, %rax			/* bit 21 x2APIC, bit 24 TSC-deadline */
	EXPECT	%rax, 9, m_cpuid_ecx
	SET_GATE	IDT+VEC*16, handler
	lidt	idtr(%rip)
	mov	$LAPIC, %rbx			/* %rbx: the LAPIC page throughout */
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: enabled, spurious 0xff */
	movl	$0xb, 0x3e0(%rbx)		/* DCR: divide by 1 */

	/* One-shot: 2 ms of bus cycles. */
	RDTSC64					/* reads CPUID 15H once */
	mov	guest_bus_hz(%rip), %rax
	xor	%edx, %edx
	mov	$500, %ecx
	div	%rcx
	mov	%rax, %r14			/* %r14: bus cycles in 2 ms */
	xor	%r12, %r12
	movl	$VEC, 0x320(%rbx)
	RDTSC64
	mov	%rax, %r13
	movl	%r14d, 0x380(%rbx)
5:	sti
	hlt
	cli
	cmp	$1, %r12
	jb	5b
	RDTSC64
	sub	%r13, %rax
	EXPECT_RANGE %rax, 1900000, 20000000000, m_oneshot
	mov	0x390(%rbx), %eax		/* CCR: the count ran out */
	EXPECT	%rax, 0, m_ccr

	/* Periodic, 1 ms: 10 interrupts take at least 9 ms. */
	xor	%r12, %r12
	movl	$VEC | (1 << 17), 0x320(%rbx)
	RDTSC64
	mov	%rax, %r13
	shr	$1, %r14			/* 1 ms */
	movl	%r14d, 0x380(%rbx)
6:	sti
	hlt
	cli
	cmp	$10, %r12
	jb	6b
	movl	$0, 0x380(%rbx)		/* ICR 0 stops it */
	RDTSC64
	sub	%r13, %rax
	EXPECT_RANGE %rax, 9000000, 20000000000, m_periodic

	/* TSC-deadline: 3 ms from now; the MSR reads 0 once it fired. */
	xor	%r12, %r12
	movl	$VEC | (2 << 17), 0x320(%rbx)
	RDTSC64
	mov	%rax, %r13
	mov	$3000000, %eax
	call	guest_ns_to_tsc
	mov	%rax, %r15
	rdtsc					/* the MSR counts raw TSC ticks */
	shl	$32, %rdx
	or	%rdx, %rax
	add	%r15, %rax
	mov	%rax, %rdx
	shr	$32, %rdx
	mov	$0x6e0, %ecx
	wrmsr
7:	sti
	hlt
	cli
	cmp	$1, %r12
	jb	7b
	RDTSC64
	sub	%r13, %rax
	EXPECT_RANGE %rax, 2990000, 20000000000, m_deadline
	mov	$0x6e0, %ecx
	rdmsr
	EXPECT	%rax, 0, m_deadline_msr
	PUTS	pass
	POWEROFF

handler:
	inc	%r12
	movl	$0, 0xb0(%rbx)		/* EOI */
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS apic_timer\n"
m_cpuid_apic:	.asciz	"apic_timer: CPUID.1:EDX.APIC clear"
m_cpuid_ecx:	.asciz	"apic_timer: CPUID.1:ECX x2APIC/TSC-deadline clear"
m_oneshot:	.asciz	"apic_timer: one-shot 2 ms out of bounds"
m_ccr:		.asciz	"apic_timer: current count not 0 after one-shot"
m_periodic:	.asciz	"apic_timer: 10 periodic 1 ms ticks out of bounds"
m_deadline:	.asciz	"apic_timer: TSC deadline 3 ms out of bounds"
m_deadline_msr:	.asciz	"apic_timer: TSC_DEADLINE not 0 after it fired"
	GUEST_LIB
