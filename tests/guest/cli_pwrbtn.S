/*
 * cli_pwrbtn.S - a guest that switches to ACPI mode (SMI_CMD 0xb2 <- the
 * FADT's ACPI_ENABLE value) and enables the power button event (PM1 enable,
 * ACPI 6.x 4.8.3.1), then ignores it: it spins with interrupts off.
 * tests/cli/test_session.sh checks that SIGTERM presses the button without
 * stopping such a guest, and that a second SIGTERM stops it.
 */
#include "guest.h"
	.globl	_start
_start:
	mov	$0xb2, %dx
	mov	$0xa0, %al
	out	%al, %dx
	mov	$0x402, %dx
	mov	$0x0100, %ax		/* PWRBTN_EN */
	out	%ax, %dx
	PUTS	armed
1:	pause
	jmp	1b
armed:	.asciz	"ARMED\n"
	GUEST_LIB
