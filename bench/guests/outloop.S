/*
 * outloop - the exit-latency guest: N writes to the 16550 scratch register
 * (COM1+7), each a round trip to the device model, then power-off.
 */
#ifndef N
#define N	20000000	/* bench/kvm-nested builds it with fewer (-DN=...) */
#endif
#include "boot.h"

	.code64
loop64:
	mov	$N, %ecx
	mov	$0x3ff, %dx
2:	out	%al, %dx
	dec	%ecx
	jnz	2b
	BENCH_END
