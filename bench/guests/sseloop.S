/*
 * sseloop - the SSE2 memory guest of bench/mips: `iters` times, copy 4 KiB
 * with MOVDQU, four 16-byte loads then four stores a turn, from an
 * unaligned source (0x200004) to an aligned destination (0x202000), as a
 * memcpy does when the two alignments differ; then power-off.  A copy:
 * 3 + 64 turns of 12 = 771, then dec + jnz: 773 per iteration, 512 of them
 * 16-byte memory accesses.  The last quadword copied is checked at the end.
 */
#define INSNS_PER_ITER	773	/* read by bench/mips */
#define BYTES_PER_ITER	4096
#include "boot.h"

#define SRC	0x200004
#define DST	0x202000

	.code64
loop64:
	FPU_SSE_ON
	/* a pattern in the source (not timed) */
	xor	%ecx, %ecx
0:	lea	0x1e3779b9(%rcx), %eax
	imul	$0x01000193, %eax, %eax
	mov	%eax, SRC(,%rcx,4)
	inc	%ecx
	cmp	$(BYTES_PER_ITER / 4), %ecx
	jne	0b

	mov	iters(%rip), %r9
1:	mov	$SRC, %esi			/* 1 */
	mov	$DST, %edi			/* 2 */
	mov	$(BYTES_PER_ITER / 64), %ecx	/* 3: 64 turns of: */
2:	movdqu	(%rsi), %xmm0			/* 1 */
	movdqu	16(%rsi), %xmm1			/* 2 */
	movdqu	32(%rsi), %xmm2			/* 3 */
	movdqu	48(%rsi), %xmm3			/* 4 */
	movdqu	%xmm0, (%rdi)			/* 5 */
	movdqu	%xmm1, 16(%rdi)			/* 6 */
	movdqu	%xmm2, 32(%rdi)			/* 7 */
	movdqu	%xmm3, 48(%rdi)			/* 8 */
	add	$64, %rsi			/* 9 */
	add	$64, %rdi			/* 10 */
	dec	%ecx				/* 11 */
	jnz	2b				/* 12 */
	dec	%r9				/* 772 */
	jnz	1b				/* 773 */
	mov	SRC + BYTES_PER_ITER - 8, %rax
	mov	DST + BYTES_PER_ITER - 8, %rdx
	BENCH_FAIL_UNLESS_EQ %rdx, %rax
	BENCH_END
