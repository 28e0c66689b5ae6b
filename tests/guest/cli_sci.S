/*
 * cli_sci: a guest that handles the ACPI power button the way an OS does
 * (ACPI 6.x 4.8.2.5, 4.8.3.1): it switches to ACPI mode (SMI_CMD 0xb2 <-
 * the FADT's ACPI_ENABLE 0xa0, then waits for SCI_EN in PM1a_CNT),
 * enables PWRBTN_EN, and unmasks the SCI's IOAPIC pin 9 as the MADT's
 * override describes it (level, active high).  Asleep in HLT, it takes
 * the SCI when the host presses the button (SIGTERM to bhyve): the
 * handler finds PWRBTN_STS, clears it (write 1), EOIs; the level line
 * then stays low, so the handler runs once.  It prints "SCI" and powers
 * off through S5 (bhyve exits 1).  tests/cli/test_session.sh drives it.
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define IOAPIC	0xfec00000
#define VEC	0x49
#define SMI_CMD	0xb2
#define PM1_STS	0x400
#define PM1_EN	0x402
#define PWRBTN	0x0100		/* PWRBTN_STS, PWRBTN_EN */
	.globl	_start
_start:
	SET_GATE	IDT+VEC*16, handler
	lidt	idtr(%rip)
	mov	$LAPIC, %ebx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: enabled */
	mov	$IOAPIC, %esi
	IOAPIC_RTE 9, VEC | 0x8000		/* level, high, unmasked */

	mov	$SMI_CMD, %dx
	mov	$0xa0, %al
	out	%al, %dx
	mov	$PM1A_CNT, %dx
	mov	$1000000, %ecx
1:	in	%dx, %ax
	test	$1, %al				/* SCI_EN */
	jnz	2f
	loop	1b
	lea	m_acpi(%rip), %rsi
	jmp	guest_fail
2:	mov	$PM1_EN, %dx
	mov	$PWRBTN, %ax
	out	%ax, %dx
	xor	%r12d, %r12d			/* SCIs taken */
	PUTS	armed
3:	sti
	hlt
	cli
	test	%r12, %r12
	jz	3b
	/* Let a wrongly re-sent level interrupt in for about 50 ms. */
	sti
	RDTSC64
	lea	50000000(%rax), %rdi
4:	pause
	RDTSC64
	cmp	%rdi, %rax
	jb	4b
	cli
	EXPECT	%r12, 1, m_once
	mov	$PM1_STS, %dx
	in	%dx, %ax
	and	$PWRBTN, %eax
	EXPECT	%rax, 0, m_sts
	PUTS	pass
	POWEROFF

/* The SCI: whose event?  The power button's: clear its status, count it. */
handler:
	push	%rax
	push	%rdx
	mov	$PM1_STS, %dx
	in	%dx, %ax
	test	$PWRBTN, %ax
	jz	1f
	mov	$PWRBTN, %ax			/* write 1 to clear */
	out	%ax, %dx
	inc	%r12
1:	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	pop	%rdx
	pop	%rax
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
armed:	.asciz	"ARMED\n"
pass:	.asciz	"SCI\nPASS cli_sci\n"
m_acpi:	.asciz	"cli_sci: SCI_EN never set after ACPI_ENABLE"
m_once:	.asciz	"cli_sci: the SCI handler did not run exactly once"
m_sts:	.asciz	"cli_sci: PWRBTN_STS still set"
	GUEST_LIB
