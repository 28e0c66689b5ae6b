/*
 * irqline: pc-testdev's IRQ line ports (0x2000 + N, -l pc-testdev) drive
 * the interrupt controllers as a device's wire would:
 *   - line 5, IOAPIC pin 5 edge-triggered: one interrupt per rising edge,
 *     none for a line held high (82093AA 3.2.4);
 *   - line 16, pin 16 level-triggered: while the line is high each EOI
 *     clears remote IRR and the interrupt comes again; the handler lowers
 *     the line on the third, and no fourth comes;
 *   - line 3 through the 8259 (IOAPIC pin 3 masked) and the BSP's LINT0 in
 *     ExtINT mode: a pulse gives one interrupt at the 8259's vector.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define IOAPIC	0xfec00000
#define IRQLINE	0x2000
#define VEDGE	0x45
#define VLEVEL	0x46
#define PICVEC	0x50

/* pc-testdev line \n := \v */
.macro LINE n, v
	mov	$IRQLINE + \n, %dx
	mov	$\v, %al
	out	%al, %dx
.endm

/* Spin until \reg moves past \n or about 100 ms of the TSC (1 GHz). */
.macro WAITFOR reg, n
	RDTSC64
	lea	100000000(%rax), %rdi
1:	cmp	$\n, \reg
	jae	2f
	pause
	RDTSC64
	cmp	%rdi, %rax
	jb	1b
2:
.endm

/* Lets pending interrupts in for about 20 ms. */
.macro SETTLE
	RDTSC64
	lea	20000000(%rax), %rdi
1:	pause
	RDTSC64
	cmp	%rdi, %rax
	jb	1b
.endm

	.globl	_start
_start:
	SET_GATE	IDT+VEDGE*16, edge_handler
	SET_GATE	IDT+VLEVEL*16, level_handler
	SET_GATE	IDT+(PICVEC+3)*16, pic_handler
	lidt	idtr(%rip)
	mov	$LAPIC, %ebx
	mov	$IOAPIC, %esi
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: enabled */
	xor	%r12d, %r12d			/* edge interrupts */
	xor	%r13d, %r13d			/* level interrupts */
	xor	%r14d, %r14d			/* 8259 interrupts */
	IOAPIC_RTE 5, VEDGE			/* edge, high, unmasked */
	IOAPIC_RTE 16, VLEVEL | 0x8000		/* level, high, unmasked */
	sti

	/* ---- edge: rising edges only ---- */
	LINE	5, 1
	WAITFOR	%r12, 1
	SETTLE
	EXPECT	%r12, 1, m_edge1
	LINE	5, 1				/* still high: no edge */
	LINE	5, 0
	SETTLE
	EXPECT	%r12, 1, m_edge_held
	LINE	5, 1
	WAITFOR	%r12, 2
	LINE	5, 0
	SETTLE
	EXPECT	%r12, 2, m_edge2

	/* ---- level: again after each EOI while high ---- */
	LINE	16, 1
	WAITFOR	%r13, 3
	SETTLE
	EXPECT	%r13, 3, m_level

	/* ---- line 3 through the 8259 and LINT0 (ExtINT) ---- */
	cli
	movl	$0x700, 0x350(%rbx)		/* LINT0: ExtINT */
	mov	$0x11, %al			/* ICW1-ICW4, 8259A datasheet */
	out	%al, $0x20
	mov	$PICVEC, %al
	out	%al, $0x21
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x01, %al
	out	%al, $0x21
	mov	$0xf7, %al			/* OCW1: IRQ 3 only */
	out	%al, $0x21
	sti
	LINE	3, 1
	LINE	3, 0
	WAITFOR	%r14, 1
	SETTLE
	EXPECT	%r14, 1, m_pic
	cli
	PUTS	pass
	POWEROFF

edge_handler:
	inc	%r12
	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	iretq

/* The third interrupt lowers the line before its EOI. */
level_handler:
	push	%rax
	push	%rdx
	inc	%r13
	cmp	$3, %r13
	jb	1f
	LINE	16, 0
1:	movl	$0, 0xb0(%rbx)
	pop	%rdx
	pop	%rax
	iretq

pic_handler:
	push	%rax
	inc	%r14
	mov	$0x20, %al			/* OCW2: non-specific EOI */
	out	%al, $0x20
	pop	%rax
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS irqline\n"
m_edge1:	.asciz	"irqline: no single interrupt for a rising edge on pin 5"
m_edge_held:	.asciz	"irqline: an edge pin held high interrupted again"
m_edge2:	.asciz	"irqline: no interrupt for the second rising edge"
m_level:	.asciz	"irqline: a level pin did not interrupt exactly 3 times"
m_pic:		.asciz	"irqline: line 3 did not interrupt once through the 8259"
	GUEST_LIB
