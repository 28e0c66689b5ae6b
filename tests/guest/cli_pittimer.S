/*
 * cli_pittimer: the 8254 at 200 Hz (mode 2, count 5966) through the 8259
 * and the BSP's LINT0 in ExtINT mode, which must survive bhyvectl
 * --suspend and a new bhyve (tests/cli/test_store.sh): the guest sleeps in
 * HLT between ticks, prints '.' every 20 ticks and passes after 400; the
 * 8259's mask and the counter's mode must read back the same at the end.
 * An 8254, 8259 or LINT0 lost across the stop hangs or fails it.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define PICVEC	0x50
	.globl	_start
_start:
	PUTS	start
	SET_GATE	IDT+PICVEC*16, tick_handler
	lidt	idtr(%rip)
	mov	$LAPIC, %ebx
	movl	$0x1ff, 0xf0(%rbx)
	movl	$0x700, 0x350(%rbx)		/* LINT0: ExtINT */
	mov	$0x11, %al			/* ICW1-ICW4, 8259A datasheet */
	out	%al, $0x20
	mov	$PICVEC, %al
	out	%al, $0x21
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x01, %al
	out	%al, $0x21
	mov	$0xfe, %al			/* OCW1: IRQ 0 only */
	out	%al, $0x21
	mov	$0x34, %al			/* counter 0, LSB+MSB, mode 2 */
	out	%al, $0x43
	mov	$0x4e, %al			/* 5966 = 0x174e: 5 ms */
	out	%al, $0x40
	mov	$0x17, %al
	out	%al, $0x40
	xor	%r12, %r12
1:	sti
	hlt
	cli
	cmp	$400, %r12
	jb	1b
	in	$0x21, %al
	movzbl	%al, %eax
	EXPECT	%rax, 0xfe, m_imr
	mov	$0xe2, %al			/* read-back: status of counter 0 */
	out	%al, $0x43
	in	$0x40, %al
	and	$0x3f, %eax
	EXPECT	%rax, 0x34, m_mode
	PUTS	pass
	POWEROFF

	TICK_HANDLER
tick_eoi:
	mov	$0x20, %al			/* OCW2: non-specific EOI */
	out	%al, $0x20
	ret

idtr:	.word	256 * 16 - 1
	.quad	IDT
start:	.asciz	"START\n"
pass:	.asciz	"\nPASS cli_pittimer\n"
m_imr:	.asciz	"cli_pittimer: 8259 mask lost"
m_mode:	.asciz	"cli_pittimer: 8254 counter 0 mode lost"
	GUEST_LIB
