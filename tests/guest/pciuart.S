/*
 * pciuart: the PCI uart (-s N,uart) as a driver finds it: bus 0 scanned
 * through configuration mechanism #1 for SIIG's 0x131f:0x2000, class
 * 07h/00h/02h (16550), BAR 0 eight I/O ports, INTA# on the IOAPIC pin its
 * interrupt line names (16-23: PCI INTx, level, active low, as the _PRT).
 * It prints a line through BAR 0 (tests/cli/test_uart_backends.sh reads it
 * with the backend on stdio), then in loopback mode (16550 datasheet, MCR
 * bit 4) sends two bytes and takes each one's received-data interrupt:
 * the second proves the first's EOI cleared the pin's remote IRR.
 * tests/guest/run.sh runs it with "-s 5,uart".
 */
#include "guest.h"
#define IDT	0x100000
#define LAPIC	0xfee00000
#define IOAPIC	0xfec00000
#define VEC	0x41
#define CONF1	0xcf8
#define IDS	0x2000131f	/* device << 16 | vendor */

/* %eax = config dword \reg of the function at %r13d. */
.macro CFGR reg
	mov	%r13d, %eax
	or	$\reg, %eax
	mov	$CONF1, %dx
	out	%eax, %dx
	mov	$CONF1 + 4, %dx
	in	%dx, %eax
.endm

/* Port BAR0 + \off */
.macro UPORT off
	lea	\off(%r14), %edx
.endm

	.globl	_start
_start:
	SET_GATE	IDT+VEC*16, handler
	lidt	idtr(%rip)
	mov	$LAPIC, %ebx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: enabled */

	/* ---- find the function on bus 0 ---- */
	mov	$0x80000000, %r13d
1:	CFGR	0
	cmp	$IDS, %eax
	je	2f
	add	$1 << 11, %r13d
	cmp	$0x80000000 + (32 << 11), %r13d
	jb	1b
	lea	m_absent(%rip), %rsi
	jmp	guest_fail
2:	CFGR	0x08
	shr	$8, %eax
	EXPECT	%rax, 0x070002, m_class
	CFGR	0x10				/* BAR 0 */
	mov	%eax, %ecx
	and	$3, %ecx
	EXPECT	%rcx, 1, m_bar
	and	$0xfffc, %eax
	mov	%eax, %r14d			/* %r14: the uart's ports */
	CFGR	0x3c				/* line, pin */
	movzbl	%ah, %ecx
	EXPECT	%rcx, 1, m_pin
	movzbl	%al, %r12d			/* %r12: IOAPIC pin */
	EXPECT_RANGE %r12, 16, 23, m_line

	/* ---- registers: scratch, LSR idle ---- */
	UPORT	7
	mov	$0x5a, %al
	out	%al, %dx
	in	%dx, %al
	movzbl	%al, %eax
	EXPECT	%rax, 0x5a, m_scr
	UPORT	5
	in	%dx, %al
	movzbl	%al, %eax
	EXPECT	%rax, 0x60, m_lsr
	lea	hello(%rip), %rsi
	UPORT	0
3:	lodsb
	test	%al, %al
	jz	4f
	out	%al, %dx
	jmp	3b

	/* ---- INTA#: IOAPIC pin %r12, level, active low, vector VEC ---- */
4:	mov	$IOAPIC, %esi
	lea	0x11(,%r12,2), %eax
	mov	%eax, (%rsi)
	movl	$0, 0x10(%rsi)			/* destination APIC 0 */
	dec	%eax
	mov	%eax, (%rsi)
	movl	$VEC | 0xa000, 0x10(%rsi)	/* level, low, unmasked */
	UPORT	1
	mov	$1, %al				/* IER: received data */
	out	%al, %dx
	UPORT	4
	mov	$0x18, %al			/* MCR: loopback, OUT2 */
	out	%al, %dx
	xor	%r15d, %r15d			/* interrupts taken */
	sti
	mov	$'q', %al
	call	send
	EXPECT	%r15, 1, m_intr
	EXPECT	%r9, 'q', m_byte
	mov	$'r', %al
	call	send
	EXPECT	%r15, 2, m_intr2
	EXPECT	%r9, 'r', m_byte
	cli
	UPORT	4
	xor	%al, %al
	out	%al, %dx
	PUTS	pass
	POWEROFF

/* Sends %al in loopback and waits (bounded) for the interrupt count to move. */
send:
	mov	%r15, %r8
	UPORT	0
	out	%al, %dx
	mov	$10000000, %ecx
1:	cmp	%r8, %r15
	jne	2f
	pause
	loop	1b
2:	ret

/* Received data: IIR says so; reading RBR drops INTR, then EOI. */
handler:
	push	%rax
	push	%rdx
	UPORT	2
	in	%dx, %al
	and	$0x0f, %al
	cmp	$0x04, %al
	jne	1f
	UPORT	0
	in	%dx, %al
	movzbl	%al, %r9d
	inc	%r15
1:	movl	$0, 0xb0(%rbx)			/* LAPIC EOI */
	pop	%rdx
	pop	%rax
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
hello:	.asciz	"pciuart: hello through BAR 0\n"
pass:	.asciz	"PASS pciuart\n"
m_absent:	.asciz	"pciuart: no 131f:2000 on bus 0"
m_class:	.asciz	"pciuart: class code not 070002"
m_bar:		.asciz	"pciuart: BAR 0 not I/O"
m_pin:		.asciz	"pciuart: interrupt pin not INTA#"
m_line:		.asciz	"pciuart: interrupt line not an IOAPIC PCI pin"
m_scr:		.asciz	"pciuart: scratch register lost its value"
m_lsr:		.asciz	"pciuart: LSR not 0x60 when idle"
m_intr:		.asciz	"pciuart: no received-data interrupt on INTA#"
m_intr2:	.asciz	"pciuart: no second interrupt (remote IRR stuck?)"
m_byte:		.asciz	"pciuart: wrong byte received in loopback"
	GUEST_LIB
