/*
 * ferr: PC/AT x87 error reporting (SDM Vol. 1 8.7, D.2.1).  With CR0.NE
 * clear, a waiting instruction that finds an unmasked exception pending
 * asserts FERR#, which reaches the 8259 as IRQ 13 (slave IR5) instead of
 * #MF; the handler writes port F0H (FERR# off), FNCLEX, EOI.  Then with NE
 * set the same pending exception is #MF.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define VEC13	0x2d			/* slave base 28H + IR5 */

	.globl	_start
_start:
	SET_GATE	IDT+VEC13*16, irq13
	SET_GATE	IDT+16*16, mf
	lidt	idtr(%rip)
	mov	$LAPIC, %ebx
	movl	$0x1ff, 0xf0(%rbx)
	movl	$0x700, 0x350(%rbx)		/* LINT0: ExtINT */
	mov	$0x11, %al			/* ICW1-ICW4, 8259A datasheet */
	out	%al, $0x20
	out	%al, $0xa0
	mov	$0x20, %al
	out	%al, $0x21
	mov	$0x28, %al
	out	%al, $0xa1
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x02, %al
	out	%al, $0xa1
	mov	$0x01, %al
	out	%al, $0x21
	out	%al, $0xa1
	mov	$0xfb, %al			/* master: IR2 (cascade) only */
	out	%al, $0x21
	mov	$0xdf, %al			/* slave: IR5 (IRQ 13) only */
	out	%al, $0xa1

	mov	%cr0, %rax
	and	$~0x2c, %rax			/* NE, TS, EM off */
	or	$0x2, %rax			/* MP */
	mov	%rax, %cr0
	xor	%r12, %r12			/* IRQ 13 count */
	xor	%r13, %r13			/* #MF count */
	fninit
	fldcw	fcw(%rip)			/* ZE unmasked */
	fldz
	fld1
	fdivp					/* 1 / 0: ZE pending */
	fwait					/* FERR#: IRQ 13 */
	sti
	hlt
	cli
	EXPECT	%r12, 1, m_irq
	EXPECT	%r13, 0, m_mf
	fnstsw	%ax
	and	$0x80, %eax
	EXPECT	%rax, 0, m_es

	/* CR0.NE set: the same condition is #MF. */
	mov	%cr0, %rax
	or	$0x20, %rax
	mov	%rax, %cr0
	fldz
	fld1
	fdivp
	fwait
	EXPECT	%r13, 1, m_mf_ne
	EXPECT	%r12, 1, m_irq_ne
	PUTS	pass
	POWEROFF

irq13:
	inc	%r12
	push	%rax
	xor	%eax, %eax
	out	%al, $0xf0			/* FERR# off */
	fnclex
	mov	$0x20, %al			/* OCW2: EOI, slave then master */
	out	%al, $0xa0
	out	%al, $0x20
	pop	%rax
	iretq

mf:
	inc	%r13
	fnclex
	iretq

fcw:	.word	0x037b
idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS ferr\n"
m_irq:	.asciz	"ferr: IRQ 13 not taken once with CR0.NE clear"
m_mf:	.asciz	"ferr: #MF with CR0.NE clear"
m_es:	.asciz	"ferr: FSW.ES after the handler's FNCLEX"
m_mf_ne: .asciz	"ferr: no #MF with CR0.NE set"
m_irq_ne: .asciz "ferr: IRQ 13 with CR0.NE set"
	GUEST_LIB
