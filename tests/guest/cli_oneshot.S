/*
 * cli_oneshot: a one-shot LAPIC timer (about 1.5 s, SDM Vol. 3A 11.5.4)
 * armed once, whose single interrupt must arrive even when the count runs
 * out while the VM is stopped for a save (tests/cli/test_backend.sh holds
 * the paused vCPUs past it with LHYVE_SAVE_HOLD_MS, then continues the
 * guest in a new bhyve).  The interrupt prints one '.', then PASS.  A lost
 * interrupt hangs it; a repeated one prints a second dot and fails it: the
 * guest waits 2 s on the ACPI PM timer after it (FIRED), where the test
 * stops it too, the count run out and the interrupt taken.
 */
#include "guest.h"
#define IDT	0x100000
#define VEC	0x40
#define PMTMR	0x408
	.globl	_start
_start:
	PUTS	start
	SET_GATE	IDT+VEC*16, oneshot_handler
	lidt	idtr(%rip)
	xor	%r12, %r12
	LAPIC_TIMER_SETUP
	movl	$VEC, 0x320(%rbx)		/* one-shot, not masked */
	movl	$187500000, 0x380(%rbx)		/* about 1.5 s */
	PUTS	armed
1:	sti
	hlt
	cli
	test	%r12, %r12
	jz	1b
	PUTS	fired
	/* Two seconds on the ACPI PM timer (3.579545 MHz): no second interrupt. */
	mov	$PMTMR, %dx
	in	%dx, %eax
	mov	%eax, %r13d
	sti
3:	pause
	in	%dx, %eax
	sub	%r13d, %eax
	cmp	$7159090, %eax
	jb	3b
	cli
	EXPECT	%r12, 1, m_again
	mov	0x390(%rbx), %eax		/* the count has run out and stays 0 */
	EXPECT	%rax, 0, m_ccr
	PUTS	pass
	POWEROFF

oneshot_handler:
	inc	%r12
	push	%rax
	push	%rdx
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	pop	%rdx
	pop	%rax
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
start:	.asciz	"START\n"
armed:	.asciz	"ARMED\n"
fired:	.asciz	"FIRED\n"
pass:	.asciz	"\nPASS cli_oneshot\n"
m_again:	.asciz	"cli_oneshot: the one-shot timer fired again"
m_ccr:	.asciz	"cli_oneshot: the one-shot count did not stay 0"
	GUEST_LIB
