/*
 * smp: the BSP starts every AP with INIT-SIPI-SIPI (SDM Vol. 3A 9.4.4,
 * 11.6.1).  Each AP begins in real mode at the trampoline below (CS =
 * vector << 8, IP = 0), enters 32-bit protected mode, writes its APIC ID
 * (from its own LAPIC page) to RESULTS[id] as id + 1, then increments a
 * shared counter 10^6 times with LOCK; the BSP does the same.  The sum must
 * be exact.  Then IPIs between vCPUs: AP 1 takes vector 0x50 in HLT and
 * answers with vector 0x51 to the BSP, which sleeps in HLT too, 1000
 * round trips (fixed, physical destination).  Run with -c 2 and -c 4
 * (tests/guest/run.sh).
 */
#include "guest.h"
#define LAPIC	0xfee00000
#define COUNTER	0x200000
#define DONE	0x200040
#define RESULTS	0x200080
#define READY	0x200100		/* AP 1: LAPIC enabled, IDT loaded */
#define PINGS	0x200140		/* IPIs AP 1 took */
#define IDT	0x100000		/* the BSP's (64-bit gates) */
#define IDT32	0x300000		/* the APs' (32-bit gates) */
#define N	1000000
#define ROUNDS	1000
	.globl	_start
_start:
	/* The number of logical processors: CPUID 0BH, level 1 (cores). */
	mov	$0xb, %eax
	mov	$1, %ecx
	cpuid
	mov	%ebx, %r14d
	EXPECT_RANGE %r14, 2, 16, m_ncpus
	mov	$LAPIC, %rbx
	movl	$0x1ff, 0xf0(%rbx)		/* SVR: software enable */
	mov	0x20(%rbx), %eax
	EXPECT	%rax, 0, m_bsp_id
	movl	$0, 0x310(%rbx)
	/* INIT (level, assert), then SIPI twice, to all excluding self. */
	movl	$0x000c4500, 0x300(%rbx)
	mov	$tramp, %eax
	shr	$12, %eax			/* the start-up vector: page number */
	or	$0x000c4600, %eax
	movl	%eax, 0x300(%rbx)
	movl	%eax, 0x300(%rbx)

	mov	$N, %ecx
5:	lock incl COUNTER
	dec	%ecx
	jnz	5b

	/* Wait for every AP (at most about 60 s of TSC). */
	RDTSC64
	mov	%rax, %r13
	lea	-1(%r14), %r12
6:	mov	DONE, %eax
	cmp	%r12, %rax
	je	7f
	pause
	RDTSC64
	sub	%r13, %rax
	movabs	$60000000000, %rdx
	cmp	%rdx, %rax
	jb	6b
	lea	m_timeout(%rip), %rsi
	jmp	guest_fail
7:	mov	$1, %ecx
8:	mov	RESULTS(,%rcx,4), %eax
	lea	1(%rcx), %rdx
	cmp	%rdx, %rax
	je	9f
	lea	m_id(%rip), %rsi
	jmp	guest_fail
9:	inc	%rcx
	cmp	%r14, %rcx
	jb	8b
	mov	COUNTER, %eax
	imul	$N, %r14, %rdx
	cmp	%rdx, %rax
	je	10f
	lea	m_sum(%rip), %rsi
	jmp	guest_fail
	/* Ping-pong: vector 0x50 to APIC 1, which answers with 0x51. */
10:	SET_GATE	IDT+0x51*16, pong
	lidt	idtr(%rip)
11:	cmpl	$1, READY
	jne	11b
	xor	%r12, %r12			/* answers taken */
	xor	%r13, %r13			/* pings sent */
	movl	$1 << 24, 0x310(%rbx)		/* ICR high: APIC 1 */
12:	inc	%r13
	movl	$0x50, 0x300(%rbx)		/* fixed, physical, edge */
13:	sti
	hlt
	cli
	cmp	%r13, %r12
	jne	13b
	cmp	$ROUNDS, %r13
	jne	12b
	mov	PINGS, %eax
	EXPECT	%rax, ROUNDS, m_pings
	PUTS	pass
	POWEROFF

pong:	inc	%r12
	movl	$0, 0xb0(%rbx)			/* EOI */
	iretq

	AP_TRAMPOLINE
	mov	LAPIC + 0x20, %eax		/* xAPIC ID register: ID in 31:24 */
	shr	$24, %eax
	lea	1(%eax), %ecx
	mov	%ecx, RESULTS(,%eax,4)
	mov	$N, %ecx
1:	lock incl COUNTER
	dec	%ecx
	jnz	1b
	lock incl DONE
	cmp	$1, %eax
	jne	3f
	/* AP 1: answer each vector 0x50 with 0x51 to the BSP. */
	mov	$ap_ping, %ecx
	mov	%cx, IDT32 + 0x50 * 8
	movw	$0x08, IDT32 + 0x50 * 8 + 2
	movw	$0x8e00, IDT32 + 0x50 * 8 + 4	/* 32-bit interrupt gate */
	shr	$16, %ecx
	mov	%cx, IDT32 + 0x50 * 8 + 6
	lidt	idt32r
	mov	$0x2f0000, %esp			/* a stack for the handler */
	movl	$0x1ff, LAPIC + 0xf0
	movl	$1, READY
	sti
2:	hlt
	jmp	2b
3:	cli
	hlt
	jmp	3b
ap_ping:
	incl	PINGS
	movl	$0, LAPIC + 0xb0		/* EOI */
	movl	$0, LAPIC + 0x310		/* ICR high: APIC 0 */
	movl	$0x51, LAPIC + 0x300
	iret
	.balign	8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: flat data */
gdtr:	.word	23
	.long	gdt
idt32r:	.word	256 * 8 - 1
	.long	IDT32
	.code64

idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS smp\n"
m_ncpus:	.asciz	"smp: CPUID 0BH reports fewer than 2 processors"
m_bsp_id:	.asciz	"smp: BSP APIC ID not 0"
m_timeout:	.asciz	"smp: APs did not all finish"
m_id:		.asciz	"smp: an AP did not write its APIC ID"
m_sum:		.asciz	"smp: LOCKed counter sum wrong"
m_pings:	.asciz	"smp: AP 1 did not take every IPI"
	GUEST_LIB
