/* xsave_clock: XSAVE/XRSTOR round trip of x87 and SSE state (and XSAVEC's
   compacted header), then KVM's paravirtual clock read twice: it is there
   (CPUID 40000000H "KVMKVMKVM"), its page is well formed, and time goes on.
   The software CPU's XSAVE and kvmclock: docs/cpu.md "XSAVE", "Time". */
#include "guest.h"
#define AREA	0x20000			/* 64-byte aligned XSAVE areas */
#define AREA2	0x21000
#define PVTI	0x30000			/* struct pvclock_vcpu_time_info */
#define WALL	0x31000			/* struct pvclock_wall_clock */
	.globl	_start
_start:
	/* CPUID.1:ECX: XSAVE (26) offered, OSXSAVE (27) off until CR4 says so. */
	mov	$1, %eax
	cpuid
	bt	$26, %ecx
	jnc	no_xsave
	bt	$27, %ecx
	jc	bad_osxsave
	mov	%cr4, %rax
	or	$0x40600, %rax		/* OSFXSR OSXMMEXCPT OSXSAVE */
	mov	%rax, %cr4
	mov	$1, %eax
	cpuid
	bt	$27, %ecx
	jnc	bad_osxsave
	/* XCR0 = x87 | SSE */
	xor	%ecx, %ecx
	xor	%edx, %edx
	mov	$3, %eax
	xsetbv
	xor	%ecx, %ecx
	xgetbv
	EXPECT	%rax, 3, m_xcr0

	/* Some state: ST0 = pi, ST1 = 1; XMM0, XMM7, XMM15; MXCSR 9FA0H (FZ). */
	fninit
	fld1
	fldpi
	movdqu	pat(%rip), %xmm0
	movdqu	pat+16(%rip), %xmm7
	movdqu	pat+32(%rip), %xmm15
	ldmxcsr	mx_set(%rip)
	/* XSAVE with a clean header; XSTATE_BV says both are there. */
	mov	$AREA, %rdi
	xor	%eax, %eax
	mov	$8, %ecx
	add	$512, %rdi
	rep stosq
	mov	$AREA, %rdi
	mov	$-1, %eax
	mov	$-1, %edx
	xsave64	(%rdi)
	mov	512(%rdi), %rax
	EXPECT	%rax, 3, m_bv
	/* Lose it all, then XRSTOR. */
	fninit
	pxor	%xmm0, %xmm0
	pxor	%xmm7, %xmm7
	pxor	%xmm15, %xmm15
	ldmxcsr	mx_init(%rip)
	mov	$-1, %eax
	mov	$-1, %edx
	xrstor64 (%rdi)
	/* ST0 is pi and ST1 is 1 again. */
	fstpt	tmp(%rip)
	mov	tmp(%rip), %rax
	mov	$0xc90fdaa22168c235, %rbx
	cmp	%rbx, %rax
	jne	bad_x87
	fld1
	fcomip	%st(1), %st
	jne	bad_x87
	fstp	%st(0)
	/* XMMs */
	movdqu	pat(%rip), %xmm1
	pcmpeqb	%xmm0, %xmm1
	pmovmskb %xmm1, %eax
	EXPECT	%rax, 0xffff, m_xmm
	movdqu	pat+16(%rip), %xmm1
	pcmpeqb	%xmm7, %xmm1
	pmovmskb %xmm1, %eax
	EXPECT	%rax, 0xffff, m_xmm
	movdqu	pat+32(%rip), %xmm1
	pcmpeqb	%xmm15, %xmm1
	pmovmskb %xmm1, %eax
	EXPECT	%rax, 0xffff, m_xmm
	stmxcsr	tmp(%rip)
	mov	tmp(%rip), %eax
	EXPECT	%rax, 0x9fa0, m_mxcsr
	/* XSAVEC: compacted header, XCOMP_BV = bit 63 | RFBM. */
	mov	$AREA2, %rdi
	mov	$-1, %eax
	mov	$-1, %edx
	xsavec64 (%rdi)
	mov	520(%rdi), %rax
	mov	$0x8000000000000003, %rbx
	cmp	%rbx, %rax
	jne	bad_xcomp

	/* kvmclock: the signature and the clocksource bits. */
	mov	$0x40000000, %eax
	cpuid
	EXPECT	%rax, 0x40000001, m_sig
	EXPECT	%rbx, 0x4b4d564b, m_sig		/* "KVMK" */
	EXPECT	%rcx, 0x564b4d56, m_sig		/* "VMKV" */
	EXPECT	%rdx, 0x4d, m_sig		/* "M\0\0\0" */
	mov	$0x40000001, %eax
	cpuid
	EXPECT	%rax, 0x01000008, m_feat
	/* The wall clock: a time after 2017. */
	mov	$0x4b564d00, %ecx
	mov	$WALL, %eax
	xor	%edx, %edx
	wrmsr
	mov	WALL, %eax
	test	$1, %eax
	jnz	bad_version
	mov	WALL+4, %eax
	cmp	$1500000000, %eax
	jb	bad_wall
	/* The vCPU's page, enabled. */
	mov	$0x4b564d01, %ecx
	mov	$PVTI | 1, %eax
	xor	%edx, %edx
	wrmsr
	mov	PVTI, %eax
	test	%eax, %eax
	jz	bad_version
	test	$1, %eax
	jnz	bad_version
	movzbl	PVTI+29, %eax
	EXPECT	%rax, 1, m_stable		/* PVCLOCK_TSC_STABLE_BIT */
	call	pvclock_read
	mov	%rax, %r12
	mov	$100000, %ecx
1:	loop	1b
	call	pvclock_read
	cmp	%r12, %rax
	jbe	bad_time
	PUTS	pass
	POWEROFF

/* rax = system_time + scale(rdtsc - tsc_timestamp), as Linux's pvclock.c. */
pvclock_read:
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	sub	PVTI+8, %rax			/* tsc_timestamp */
	movsbl	PVTI+28, %ecx			/* tsc_shift */
	test	%ecx, %ecx
	js	2f
	shl	%cl, %rax
	jmp	3f
2:	neg	%ecx
	shr	%cl, %rax
3:	mov	PVTI+24, %ecx			/* tsc_to_system_mul */
	mul	%rcx
	shrd	$32, %rdx, %rax
	add	PVTI+16, %rax			/* system_time */
	ret

no_xsave:	lea	m_noxs(%rip), %rsi
	jmp	guest_fail
bad_osxsave:	lea	m_osxs(%rip), %rsi
	jmp	guest_fail
bad_x87:	lea	m_x87(%rip), %rsi
	jmp	guest_fail
bad_xcomp:	lea	m_xcomp(%rip), %rsi
	jmp	guest_fail
bad_version:	lea	m_version(%rip), %rsi
	jmp	guest_fail
bad_wall:	lea	m_wall(%rip), %rsi
	jmp	guest_fail
bad_time:	lea	m_time(%rip), %rsi
	jmp	guest_fail

	.balign	16
pat:	.quad	0x0123456789abcdef, 0xfedcba9876543210
	.quad	0x1111222233334444, 0x5555666677778888
	.quad	0xdeadbeefcafef00d, 0x0badc0de00c0ffee
mx_set:	.long	0x9fa0
mx_init: .long	0x1f80
tmp:	.quad	0, 0
pass:	.asciz	"PASS xsave_clock\n"
m_noxs:	.asciz	"xsave_clock: CPUID does not offer XSAVE"
m_osxs:	.asciz	"xsave_clock: CPUID.1:ECX.OSXSAVE does not follow CR4"
m_xcr0:	.asciz	"xsave_clock: XCR0 is not what XSETBV wrote"
m_bv:	.asciz	"xsave_clock: XSTATE_BV is not 3"
m_x87:	.asciz	"xsave_clock: x87 registers did not round-trip"
m_xmm:	.asciz	"xsave_clock: XMM registers did not round-trip"
m_mxcsr: .asciz	"xsave_clock: MXCSR did not round-trip"
m_xcomp: .asciz	"xsave_clock: XSAVEC header is wrong"
m_sig:	.asciz	"xsave_clock: no KVM signature at CPUID 40000000H"
m_feat:	.asciz	"xsave_clock: KVM features are not CLOCKSOURCE2 | STABLE"
m_version: .asciz "xsave_clock: pvclock version is odd or was never written"
m_wall:	.asciz	"xsave_clock: the wall clock is before 2017"
m_stable: .asciz "xsave_clock: PVCLOCK_TSC_STABLE_BIT is not set"
m_time:	.asciz	"xsave_clock: kvmclock did not advance"
	GUEST_LIB
