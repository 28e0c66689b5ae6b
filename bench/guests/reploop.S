/*
 * reploop - the string guest of bench/mips: `iters` times, copy a 4 KiB
 * buffer with REP MOVSB (4096 bytes) and again with REP MOVSQ (512
 * quadwords), then power-off.  8 KiB copied per iteration.
 * Instructions per iteration: 3 + rep movsb + 3 + rep movsq + dec + jnz = 10
 * (a REP instruction retires once, whatever its count, on lhyve as on the
 * hardware's instructions-retired counter).
 */
#define INSNS_PER_ITER		10	/* read by bench/mips */
#define BYTES_PER_ITER		8192
#include "boot.h"

#define SRC	0x200000
#define DST	0x201000

	.code64
loop64:
	cld
	mov	iters(%rip), %r9
1:	mov	$SRC, %esi		/* 1 */
	mov	$DST, %edi		/* 2 */
	mov	$4096, %ecx		/* 3 */
	rep movsb			/* 4 */
	mov	$SRC, %esi		/* 5 */
	mov	$(DST + 4096), %edi	/* 6 */
	mov	$512, %ecx		/* 7 */
	rep movsq			/* 8 */
	dec	%r9			/* 9 */
	jnz	1b			/* 10 */
	BENCH_END
