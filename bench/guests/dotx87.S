/*
 * dotx87 - the x87 guest of bench/mips: `iters` times, the dot product of
 * two arrays of 512 doubles (A at 0x200000, B at 0x201000) on the x87
 * stack: FLD m64, FMUL m64, FADDP, unrolled two elements a turn; then
 * power-off.  A product: 3 + FLDZ + 256 turns of 10 + FSTP = 2565, then
 * dec + jnz: 2567 per iteration, 1024 of them memory reads.  The sum,
 * 593664 = sum (i + 1) * ((i & 7) + 1), is exact and checked at the end.
 */
#define INSNS_PER_ITER	2567	/* read by bench/mips */
#include "boot.h"

#define A	0x200000
#define B	0x201000
#define SUM	0x203000
#define TMP	0x203008
#define N	512

	.code64
loop64:
	FPU_SSE_ON
	/* A[i] = i + 1, B[i] = (i & 7) + 1, with FILD (not timed: once) */
	xor	%ecx, %ecx
0:	lea	1(%rcx), %eax
	mov	%eax, TMP
	fildl	TMP
	fstpl	A(,%rcx,8)
	mov	%ecx, %eax
	and	$7, %eax
	inc	%eax
	mov	%eax, TMP
	fildl	TMP
	fstpl	B(,%rcx,8)
	inc	%ecx
	cmp	$N, %ecx
	jne	0b

	mov	iters(%rip), %r9
1:	mov	$A, %esi			/* 1 */
	mov	$B, %edi			/* 2 */
	mov	$(N / 2), %ecx			/* 3: 256 turns of: */
	fldz					/* 4 */
2:	fldl	(%rsi)				/* 1 */
	fmull	(%rdi)				/* 2 */
	faddp					/* 3 */
	fldl	8(%rsi)				/* 4 */
	fmull	8(%rdi)				/* 5 */
	faddp					/* 6 */
	add	$16, %rsi			/* 7 */
	add	$16, %rdi			/* 8 */
	dec	%ecx				/* 9 */
	jnz	2b				/* 10 */
	fstpl	SUM				/* 2565 */
	dec	%r9				/* 2566 */
	jnz	1b				/* 2567 */
	mov	SUM, %rax
	movabs	$0x41221e0000000000, %rdx	/* 593664.0 */
	BENCH_FAIL_UNLESS_EQ %rax, %rdx
	BENCH_END
