/*
 * cli_fpsuspend: x87 and SSE state live in registers across bhyvectl
 * --suspend and a new bhyve (tests/cli/test_store.sh), with a periodic
 * LAPIC timer interrupting the loop.  N steps keep a counter and a sum on
 * the x87 stack (FADD, FMUL; non-default FCW) and in XMM0-XMM3 (ADDPD,
 * MULPD; non-default MXCSR); every value is an integer below 2^53, so the
 * results are exact and checked against constants.  '.' every 2^17 steps;
 * the timer must reach 20 ticks.
 */
#include "guest.h"
#define N	(1 << 21)
#define IDT	0x100000
#define LAPIC	0xfee00000
#define VEC	0x40
#define FCW	0x0f7f			/* all masked, 64-bit precision, RC = toward zero */
#define MXCSR	0x7f80			/* all masked, RC = toward zero (SDM Vol. 1 10.2.3) */
	.globl	_start
_start:
	PUTS	start
	mov	%cr4, %rax
	or	$0x600, %rax			/* OSFXSR OSXMMEXCPT (SDM Vol. 3A 13.1.3) */
	mov	%rax, %cr4
	SET_GATE	IDT+VEC*16, tick_handler
	lidt	idtr(%rip)
	mov	$LAPIC, %rbx
	movl	$0x1ff, 0xf0(%rbx)
	movl	$0xb, 0x3e0(%rbx)		/* divide by 1: 128 MHz */
	movl	$VEC | (1 << 17), 0x320(%rbx)	/* periodic */
	xor	%r12, %r12
	movl	$640000, 0x380(%rbx)		/* 5 ms */

	/* x87: ST0 = c, ST1 = s, ST2 = 1, ST3 = 3.  SSE: XMM0 = c (k, 2k),
	   XMM1 = (1, 2), XMM2 = sum, XMM3 = (2, 0.5). */
	fninit
	fldcw	fcw(%rip)
	ldmxcsr	mxcsr(%rip)
	fildl	three(%rip)
	fld1
	fldz
	fldz
	xorpd	%xmm0, %xmm0
	movupd	inc(%rip), %xmm1
	xorpd	%xmm2, %xmm2
	movupd	mul(%rip), %xmm3
	xor	%r13, %r13
	sti
1:	fadd	%st(2), %st			/* c += 1 */
	fadd	%st, %st(1)			/* s += c */
	fld	%st(0)
	fmul	%st(4), %st
	faddp	%st, %st(2)			/* s += 3c: s = 2N(N+1) */
	addpd	%xmm1, %xmm0
	movapd	%xmm0, %xmm4
	mulpd	%xmm3, %xmm4
	addpd	%xmm4, %xmm2			/* (N(N+1), N(N+1)/2) */
	inc	%r13
	test	$0x1ffff, %r13d
	jnz	2f
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
2:	cmp	$N, %r13
	jne	1b
	/* The timer goes on after the stop: 20 ticks in all, waited for in
	   HLT if the loop was faster (a lost timer hangs). */
3:	cmp	$20, %r12
	jae	4f
	hlt
	jmp	3b
4:	cli
	movl	$0, 0x380(%rbx)

	/* Control words first: a reset FPU would read 037FH and 1F80H. */
	fnstcw	scratch(%rip)
	movzwl	scratch(%rip), %eax
	EXPECT	%rax, FCW, m_fcw
	stmxcsr	scratch(%rip)
	mov	scratch(%rip), %eax
	EXPECT	%rax, MXCSR, m_mxcsr
	fistpll	scratch(%rip)
	mov	scratch(%rip), %rax
	EXPECT	%rax, N, m_x87c
	fistpll	scratch(%rip)
	mov	scratch(%rip), %rax
	EXPECT	%rax, (2*N*(N+1)), m_x87s
	cvttsd2si %xmm0, %rax
	EXPECT	%rax, N, m_ssec
	cvttsd2si %xmm2, %rax
	EXPECT	%rax, (N*(N+1)), m_sse0
	unpckhpd %xmm2, %xmm2
	cvttsd2si %xmm2, %rax
	EXPECT	%rax, (N*(N+1)/2), m_sse1
	PUTS	pass
	POWEROFF

tick_handler:
	inc	%r12
	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	iretq

	.balign	16
inc:	.double	1.0, 2.0
mul:	.double	2.0, 0.5
three:	.long	3
fcw:	.word	FCW
	.balign	4
mxcsr:	.long	MXCSR
	.balign	8
scratch: .quad	0
idtr:	.word	256 * 16 - 1
	.quad	IDT
start:	.asciz	"START\n"
pass:	.asciz	"\nPASS cli_fpsuspend\n"
m_fcw:	.asciz	"cli_fpsuspend: x87 control word lost"
m_mxcsr:	.asciz	"cli_fpsuspend: MXCSR lost"
m_x87c:	.asciz	"cli_fpsuspend: x87 counter"
m_x87s:	.asciz	"cli_fpsuspend: x87 sum"
m_ssec:	.asciz	"cli_fpsuspend: SSE counter"
m_sse0:	.asciz	"cli_fpsuspend: SSE sum, low lane"
m_sse1:	.asciz	"cli_fpsuspend: SSE sum, high lane"
	GUEST_LIB
