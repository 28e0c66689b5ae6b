/*
 * strloop - the SSE4.2 string guest of bench/mips: `iters` times, find
 * "needle" in a 4 KiB NUL-terminated text with PCMPISTRI (equal ordered,
 * imm8 0x0c), 16 bytes a turn, the inner loop of an SSE4.2 strstr; then
 * power-off.  The text (at 0x200005: the m128 operands are unaligned, as
 * PCMPISTRI allows) uses the letters a-m only, so the one candidate is the
 * needle itself, at offset 4003, found in the 251st block.  A search:
 * 2 + 251 turns of 3 + 1 = 756, then dec + jnz: 758 per iteration.  The
 * offset found is checked at the end.  QEMU needs -cpu max for SSE4.2.
 */
#define INSNS_PER_ITER	758	/* read by bench/mips */
#define BYTES_PER_ITER	4016	/* the text read per search */
#define QEMU_CPU	max	/* read by bench/mips */
#include "boot.h"

#define TEXT	0x200005
#define LEN	4096
#define AT	4003

	.code64
loop64:
	FPU_SSE_ON
	/* text[i] = 'a' + (7 i mod 13), "needle" at AT, NUL last (not timed) */
	xor	%ecx, %ecx
	xor	%eax, %eax
0:	lea	'a'(%rax), %edx
	mov	%dl, TEXT(%rcx)
	add	$7, %eax
	cmp	$13, %eax
	jb	3f
	sub	$13, %eax
3:	inc	%ecx
	cmp	$LEN, %ecx
	jne	0b
	movb	$0, TEXT + LEN - 1
	movl	$0x6465656e, TEXT + AT		/* "need" */
	movw	$0x656c, TEXT + AT + 4		/* "le" */

	mov	iters(%rip), %r9
1:	movdqu	needle(%rip), %xmm1		/* 1 */
	mov	$-16, %rdx			/* 2: 251 turns of: */
2:	add	$16, %rdx			/* 1 */
	pcmpistri $0x0c, TEXT(%rdx), %xmm1	/* 2: CF candidate, ZF end */
	ja	2b				/* 3 */
	lea	(%rdx,%rcx), %r8		/* 756 */
	dec	%r9				/* 757 */
	jnz	1b				/* 758 */
	BENCH_FAIL_UNLESS_EQ %r8, $AT
	BENCH_END

	.align	16
needle:	.asciz	"needle"
	.fill	9, 1, 0
