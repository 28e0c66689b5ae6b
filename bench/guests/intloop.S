/*
 * intloop - the integer guest of bench/mips: `iters` iterations of a
 * 16-instruction register-only loop (add, rol, xor, imul, lea, sub, shr, or,
 * 32-bit mov and shl, and, not, cmp, adc, dec, a taken jnz), then power-off.
 * No memory operand inside the loop.
 */
#define INSNS_PER_ITER	16	/* read by bench/mips */
#include "boot.h"

	.code64
loop64:
	mov	iters(%rip), %rcx
	movabs	$0x9e3779b97f4a7c15, %rax
	mov	$1, %ebx
	mov	$3, %edx
1:	add	%rax, %rbx		/* 1 */
	rol	$13, %rax		/* 2 */
	xor	%rbx, %rax		/* 3 */
	imul	%rax, %rdx		/* 4 */
	lea	7(%rdx,%rbx,2), %rsi	/* 5 */
	sub	%rsi, %rax		/* 6 */
	shr	$3, %rsi		/* 7 */
	or	%rsi, %rdx		/* 8 */
	mov	%eax, %r8d		/* 9 */
	shl	$2, %r8d		/* 10 */
	and	%rdx, %r8		/* 11 */
	not	%rbx			/* 12 */
	cmp	%r8, %rdx		/* 13 */
	adc	%r8, %rbx		/* 14 */
	dec	%rcx			/* 15 */
	jnz	1b			/* 16 */
	BENCH_END
