/*
 * smp: the BSP starts every AP with INIT-SIPI-SIPI (SDM Vol. 3A 9.4.4,
 * 11.6.1).  Each AP begins in real mode at the trampoline below (CS =
 * vector << 8, IP = 0), enters 32-bit protected mode, writes its APIC ID
 * (from its own LAPIC page) to RESULTS[id] as id + 1, then increments a
 * shared counter 10^6 times with LOCK; the BSP does the same.  The sum must
 * be exact.  Run with -c 2 and -c 4 (tests/guest/run.sh).
 */
#include "guest.h"
#define LAPIC	0xfee00000
#define COUNTER	0x200000
#define DONE	0x200040
#define RESULTS	0x200080
#define N	1000000
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
10:	PUTS	pass
	POWEROFF

	.balign	4096
tramp:
	.code16
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	gdtr - tramp
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x8, $pm32
	.code32
pm32:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	LAPIC + 0x20, %eax		/* xAPIC ID register: ID in 31:24 */
	shr	$24, %eax
	lea	1(%eax), %ecx
	mov	%ecx, RESULTS(,%eax,4)
	mov	$N, %ecx
1:	lock incl COUNTER
	dec	%ecx
	jnz	1b
	lock incl DONE
2:	cli
	hlt
	jmp	2b
	.balign	8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: flat data */
gdtr:	.word	23
	.long	gdt
	.code64

pass:	.asciz	"PASS smp\n"
m_ncpus:	.asciz	"smp: CPUID 0BH reports fewer than 2 processors"
m_bsp_id:	.asciz	"smp: BSP APIC ID not 0"
m_timeout:	.asciz	"smp: APs did not all finish"
m_id:		.asciz	"smp: an AP did not write its APIC ID"
m_sum:		.asciz	"smp: LOCKed counter sum wrong"
	GUEST_LIB
