/*
 * spin - the instruction-throughput guest: N iterations of a 10-instruction
 * integer loop (ALU, shifts, a load, a store, a taken branch), then power-off.
 */
#define N	20000000
#include "boot.h"

	.code64
loop64:
	mov	$N, %ecx
	mov	$0x200000, %rdi
	xor	%eax, %eax
	mov	$0x9e3779b9, %ebx
3:	add	%rbx, %rax
	rol	$5, %rax
	xor	%rcx, %rax
	mov	%rax, (%rdi)
	mov	8(%rdi), %rdx
	lea	1(%rdx,%rax), %rdx
	mov	%rdx, 8(%rdi)
	shr	$3, %rdx
	dec	%ecx
	jnz	3b
	BENCH_END
