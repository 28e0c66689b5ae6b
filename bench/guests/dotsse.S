/*
 * dotsse - the SSE2 guest of bench/mips: `iters` times, the dot product of
 * two arrays of 512 doubles (A at 0x200000, B at 0x201000) with packed
 * doubles: MOVAPD, MULPD m128, ADDPD into two accumulators, four elements
 * a turn; then power-off.  A product: 5 + 128 turns of 10 + 4 (fold the
 * accumulators) = 1289, then dec + jnz: 1291 per iteration, 256 of
 * them 16-byte memory reads.  The sum (593664, exact) is checked at the
 * end.
 */
#define INSNS_PER_ITER	1291	/* read by bench/mips */
#include "boot.h"

#define A	0x200000
#define B	0x201000
#define SUM	0x203000
#define N	512

	.code64
loop64:
	FPU_SSE_ON
	/* A[i] = i + 1, B[i] = (i & 7) + 1 (not timed: once) */
	xor	%ecx, %ecx
0:	lea	1(%rcx), %eax
	cvtsi2sd %eax, %xmm0
	movsd	%xmm0, A(,%rcx,8)
	mov	%ecx, %eax
	and	$7, %eax
	inc	%eax
	cvtsi2sd %eax, %xmm0
	movsd	%xmm0, B(,%rcx,8)
	inc	%ecx
	cmp	$N, %ecx
	jne	0b

	mov	iters(%rip), %r9
1:	mov	$A, %esi			/* 1 */
	mov	$B, %edi			/* 2 */
	mov	$(N / 4), %ecx			/* 3: 128 turns of: */
	xorpd	%xmm0, %xmm0			/* 4 */
	xorpd	%xmm1, %xmm1			/* 5 */
2:	movapd	(%rsi), %xmm2			/* 1 */
	mulpd	(%rdi), %xmm2			/* 2 */
	addpd	%xmm2, %xmm0			/* 3 */
	movapd	16(%rsi), %xmm3			/* 4 */
	mulpd	16(%rdi), %xmm3			/* 5 */
	addpd	%xmm3, %xmm1			/* 6 */
	add	$32, %rsi			/* 7 */
	add	$32, %rdi			/* 8 */
	dec	%ecx				/* 9 */
	jnz	2b				/* 10 */
	addpd	%xmm1, %xmm0			/* 1286 */
	movapd	%xmm0, %xmm1			/* 1287 */
	unpckhpd %xmm1, %xmm1			/* 1288 */
	addsd	%xmm1, %xmm0			/* 1289 */
	dec	%r9				/* 1290 */
	jnz	1b				/* 1291 */
	movq	%xmm0, %rax
	movabs	$0x41221e0000000000, %rdx	/* 593664.0 */
	BENCH_FAIL_UNLESS_EQ %rax, %rdx
	BENCH_END
