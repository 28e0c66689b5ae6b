/*
 * cli_avxsuspend: AVX state (the upper halves of YMM0-15, XSAVE component
 * 2) live in registers across bhyvectl --suspend and a new bhyve on KVM
 * (tests/cli/test_backend.sh, docs/kvm.md "XSAVE").  YMM0-13 hold
 * constants, YMM14 = (1, 1, 1, 1) and YMM15 counts N steps in each of its
 * four 64-bit lanes (VPADDQ), so every upper half is checked at the end.
 * '.' every 2^23 steps, 16 in all.  Without AVX in CPUID (the software CPU,
 * or a host whose KVM lacks it) it prints "NOAVX" and powers off.
 */
#include "guest.h"
#define N		(1 << 27)
#define CR4_OSFXSR	(1 << 9)
#define CR4_OSXSAVE	(1 << 18)
#define XCR0_AVX	0x7			/* x87, SSE, AVX (SDM Vol. 1 13.3) */
#define IDT		0x100000
	.globl	_start
_start:
	PUTS	start
	/* #UD, #NM and #GP say which, rather than a triple fault. */
	SET_GATE	IDT+6*16, ud_handler
	SET_GATE	IDT+7*16, nm_handler
	SET_GATE	IDT+13*16, gp_handler
	lidt	idtr(%rip)
	mov	$1, %eax
	cpuid
	bt	$28, %ecx			/* CPUID.1:ECX.AVX */
	jnc	noavx
	bt	$26, %ecx			/* XSAVE */
	jnc	noavx
	mov	%cr4, %rax
	or	$CR4_OSFXSR | CR4_OSXSAVE, %rax
	mov	%rax, %cr4
	/*
	 * XCR0 may be set already (bhyvectl --set-xcr0=7: the nested
	 * harness, where a guest's own XSETBV does not reach KVM); else
	 * XSETBV sets it.
	 */
	xor	%ecx, %ecx
	xgetbv
	and	$XCR0_AVX, %eax
	cmp	$XCR0_AVX, %eax
	je	1f
	xor	%ecx, %ecx
	xor	%edx, %edx
	mov	$XCR0_AVX, %eax
	xsetbv
1:

	/* YMM k = 32 bytes of pattern from byte 17k + 1 on. */
	lea	pattern(%rip), %rdi
	xor	%ecx, %ecx
1:	lea	1(%rcx), %eax
	mov	%al, (%rdi, %rcx)
	inc	%ecx
	cmp	$14 * 17 + 32, %ecx
	jb	1b
	vmovdqu	pattern + 0 * 17(%rip), %ymm0
	vmovdqu	pattern + 1 * 17(%rip), %ymm1
	vmovdqu	pattern + 2 * 17(%rip), %ymm2
	vmovdqu	pattern + 3 * 17(%rip), %ymm3
	vmovdqu	pattern + 4 * 17(%rip), %ymm4
	vmovdqu	pattern + 5 * 17(%rip), %ymm5
	vmovdqu	pattern + 6 * 17(%rip), %ymm6
	vmovdqu	pattern + 7 * 17(%rip), %ymm7
	vmovdqu	pattern + 8 * 17(%rip), %ymm8
	vmovdqu	pattern + 9 * 17(%rip), %ymm9
	vmovdqu	pattern + 10 * 17(%rip), %ymm10
	vmovdqu	pattern + 11 * 17(%rip), %ymm11
	vmovdqu	pattern + 12 * 17(%rip), %ymm12
	vmovdqu	pattern + 13 * 17(%rip), %ymm13
	vmovdqu	ones(%rip), %ymm14
	vpxor	%ymm15, %ymm15, %ymm15
	xor	%r13, %r13
2:	vpaddq	%ymm14, %ymm15, %ymm15
	inc	%r13
	test	$0x7fffff, %r13d
	jnz	3f
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
3:	cmp	$N, %r13
	jne	2b

	/* Each register back to memory, compared with what it was loaded from. */
	lea	out(%rip), %rdi
	vmovdqu	%ymm0, 0 * 32(%rdi)
	vmovdqu	%ymm1, 1 * 32(%rdi)
	vmovdqu	%ymm2, 2 * 32(%rdi)
	vmovdqu	%ymm3, 3 * 32(%rdi)
	vmovdqu	%ymm4, 4 * 32(%rdi)
	vmovdqu	%ymm5, 5 * 32(%rdi)
	vmovdqu	%ymm6, 6 * 32(%rdi)
	vmovdqu	%ymm7, 7 * 32(%rdi)
	vmovdqu	%ymm8, 8 * 32(%rdi)
	vmovdqu	%ymm9, 9 * 32(%rdi)
	vmovdqu	%ymm10, 10 * 32(%rdi)
	vmovdqu	%ymm11, 11 * 32(%rdi)
	vmovdqu	%ymm12, 12 * 32(%rdi)
	vmovdqu	%ymm13, 13 * 32(%rdi)
	vmovdqu	%ymm14, 14 * 32(%rdi)
	vmovdqu	%ymm15, 15 * 32(%rdi)
	xor	%ebx, %ebx			/* register */
4:	imul	$17, %ebx, %esi
	lea	pattern(%rip), %rax
	add	%rax, %rsi
	mov	%ebx, %edi
	shl	$5, %edi
	lea	out(%rip), %rax
	add	%rax, %rdi
	mov	$32, %ecx
	repe cmpsb
	jne	bad_const
	inc	%ebx
	cmp	$14, %ebx
	jb	4b
	xor	%ebx, %ebx			/* YMM14 and YMM15 lanes */
5:	lea	out(%rip), %rax
	mov	14 * 32(%rax, %rbx, 8), %rcx
	EXPECT	%rcx, 1, m_ones
	lea	out(%rip), %rax
	mov	15 * 32(%rax, %rbx, 8), %rcx
	EXPECT	%rcx, N, m_count
	inc	%ebx
	cmp	$4, %ebx
	jb	5b
	PUTS	pass
	POWEROFF

ud_handler:
	FAIL	m_ud
nm_handler:
	FAIL	m_nm
gp_handler:
	FAIL	m_gp
bad_const:
	FAIL	m_const
noavx:
	PUTS	m_noavx
	POWEROFF

	.balign	32
ones:	.quad	1, 1, 1, 1
pattern: .fill	14 * 17 + 32, 1, 0
	.balign	32
out:	.fill	16 * 32, 1, 0
idtr:	.word	14 * 16 - 1
	.quad	IDT
start:	.asciz	"START\n"
m_ud:	.asciz	"cli_avxsuspend: #UD"
m_nm:	.asciz	"cli_avxsuspend: #NM"
m_gp:	.asciz	"cli_avxsuspend: #GP"
pass:	.asciz	"\nPASS cli_avxsuspend\n"
m_noavx: .asciz	"NOAVX\n"
m_const: .asciz	"cli_avxsuspend: a YMM register lost its value"
m_ones:	.asciz	"cli_avxsuspend: YMM14 lost its value"
m_count: .asciz	"cli_avxsuspend: YMM15's count"
	GUEST_LIB
