/*
 * cli_apictimer: a periodic LAPIC timer (5 ms) that must survive
 * bhyvectl --suspend and a new bhyve (tests/cli/test_store.sh): the guest
 * sleeps in HLT between ticks, prints '.' every 20 ticks and passes after
 * 400; an IOAPIC redirection entry written first must read back the same
 * at the end.  A timer or IOAPIC lost across the stop hangs or fails it.
 */
#include "guest.h"
#define IDT	0x100000
#define IOAPIC	0xfec00000
#define VEC	0x40
#define RTE	0x0000a031		/* pin 9: vector 0x31, level, masked */
	.globl	_start
_start:
	PUTS	start
	SET_GATE	IDT+VEC*16, tick_handler
	lidt	idtr(%rip)
	mov	$IOAPIC, %rbp
	movl	$0x10 + 2 * 9, (%rbp)		/* IOREGSEL: pin 9, low word */
	movl	$RTE | 0x10000, 0x10(%rbp)
	/* A tick is about 5 ms on both backends, so --suspend lands mid-run. */
	LAPIC_TIMER_SETUP
	movl	$VEC | (1 << 17), 0x320(%rbx)	/* periodic */
	xor	%r12, %r12
	movl	$640000, 0x380(%rbx)		/* 5 ms */
1:	sti
	hlt
	cli
	cmp	$400, %r12
	jb	1b
	movl	$0, 0x380(%rbx)
	movl	$0x10 + 2 * 9, (%rbp)
	mov	0x10(%rbp), %eax
	EXPECT	%rax, RTE | 0x10000, m_ioapic
	PUTS	pass
	POWEROFF

	TICK_HANDLER
tick_eoi:
	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	ret

idtr:	.word	256 * 16 - 1
	.quad	IDT
start:	.asciz	"START\n"
pass:	.asciz	"\nPASS cli_apictimer\n"
m_ioapic:	.asciz	"cli_apictimer: IOAPIC entry lost"
	GUEST_LIB
