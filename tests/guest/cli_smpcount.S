/*
 * cli_smpcount: two vCPUs count at once, long enough to be stopped in the
 * middle (tests/cli/test_store.sh: bhyvectl --suspend of a 2-vCPU guest,
 * then bhyve continues it).  Run with -c 2.
 *
 * The BSP starts AP 1 with INIT-SIPI-SIPI (SDM Vol. 3A 9.4.4).  Each vCPU
 * keeps its count in ECX, mirrors it in memory (OWN0, OWN1), adds one to a
 * shared counter with LOCK per step, and prints one character every 2^20
 * steps: '.' the BSP, '+' the AP.  The shared counter ties the vCPUs
 * together: if a save took one vCPU's registers while the other went on
 * running (not one cut), the steps it ran after its registers were read are
 * run again after the resume and the shared counter ends above 2 N.  The
 * BSP waits for the AP and checks SUM = 2 N and OWN0 = OWN1 = N.
 */
#include "guest.h"
#define LAPIC	0xfee00000
#define SUM	0x200000
#define OWN0	0x200040
#define OWN1	0x200080
#define DONE	0x2000c0
#define N	(1 << 24)
	.globl	_start
_start:
	PUTS	start
	mov	$LAPIC, %rbx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: software enable */
	movl	$1 << 24, 0x310(%rbx)		/* ICR high: APIC 1 */
	movl	$0x00004500, 0x300(%rbx)	/* INIT, physical */
	mov	$tramp, %eax
	shr	$12, %eax			/* the start-up vector: page number */
	or	$0x00004600, %eax
	movl	%eax, 0x300(%rbx)
	movl	%eax, 0x300(%rbx)

	xor	%ecx, %ecx
1:	inc	%ecx
	mov	%ecx, OWN0
	lock incl SUM
	test	$0xfffff, %ecx
	jnz	2f
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
2:	cmp	$N, %ecx
	jne	1b
	mov	%rcx, %r12

	/* Wait for the AP (at most about 120 s of TSC). */
	RDTSC64
	mov	%rax, %r13
3:	cmpl	$1, DONE
	je	4f
	pause
	RDTSC64
	sub	%r13, %rax
	movabs	$120000000000, %rdx
	cmp	%rdx, %rax
	jb	3b
	lea	m_timeout(%rip), %rsi
	jmp	guest_fail
4:	EXPECT	%r12, N, m_reg
	mov	OWN0, %eax
	EXPECT	%rax, N, m_own0
	mov	OWN1, %eax
	EXPECT	%rax, N, m_own1
	mov	SUM, %eax
	EXPECT	%rax, (2 * N), m_sum
	PUTS	pass
	POWEROFF

	AP_TRAMPOLINE
	xor	%ecx, %ecx
1:	inc	%ecx
	mov	%ecx, OWN1
	lock incl SUM
	test	$0xfffff, %ecx
	jnz	2f
	mov	$'+', %al
	mov	$COM1, %dx
	out	%al, %dx
2:	cmp	$N, %ecx
	jne	1b
	movl	$1, DONE
3:	cli
	hlt
	jmp	3b
	.balign	8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: flat data */
gdtr:	.word	23
	.long	gdt
	.code64

start:	.asciz	"START\n"
pass:	.asciz	"\nPASS cli_smpcount\n"
m_timeout:	.asciz	"cli_smpcount: the AP did not finish"
m_reg:		.asciz	"cli_smpcount: BSP count register"
m_own0:		.asciz	"cli_smpcount: BSP count in memory"
m_own1:		.asciz	"cli_smpcount: AP count in memory"
m_sum:		.asciz	"cli_smpcount: shared count (the save was not one cut)"
	GUEST_LIB
