/*
 * copyloop - the memory guest of bench/mips: `iters` times, copy a 4 KiB
 * buffer (0x200000) to another page (0x201000) a quadword at a time, two
 * loads then two stores, unrolled four quadwords a turn, then power-off.
 * A copy: 2 + 128 turns of 12 + 1 = 1539 instructions, then dec + jnz:
 * 1541 per iteration, 1024 of them memory accesses.
 */
#define INSNS_PER_ITER	1541	/* read by bench/mips */
#define BYTES_PER_ITER	4096
#include "boot.h"

#define SRC	0x200000
#define DST	0x201000

	.code64
loop64:
	mov	iters(%rip), %r9
1:	mov	$SRC, %esi			/* 1 */
	mov	$DST, %edi			/* 2 */
	mov	$(BYTES_PER_ITER / 32), %ecx	/* 3: 128 turns of: */
2:	mov	(%rsi), %rax			/* 1 */
	mov	8(%rsi), %rdx			/* 2 */
	mov	%rax, (%rdi)			/* 3 */
	mov	%rdx, 8(%rdi)			/* 4 */
	mov	16(%rsi), %rax			/* 5 */
	mov	24(%rsi), %rdx			/* 6 */
	mov	%rax, 16(%rdi)			/* 7 */
	mov	%rdx, 24(%rdi)			/* 8 */
	add	$32, %rsi			/* 9 */
	add	$32, %rdi			/* 10 */
	dec	%ecx				/* 11 */
	jnz	2b				/* 12 */
	dec	%r9				/* 1540 */
	jnz	1b				/* 1541 */
	BENCH_END
