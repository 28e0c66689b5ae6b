/*
 * cli_count: a computation long enough to be stopped in the middle
 * (tests/cli/test_store.sh: bhyvectl --suspend, then bhyve continues it).
 * Sums 1..N in RBX with the counter in RCX, mirrors the counter in memory
 * at 0x80000, and prints one '.' every 2^20 steps, so that a device access
 * done twice or lost across the stop shows in the count of dots.
 */
#include "guest.h"
#define N	(1 << 26)
	.globl	_start
_start:
	PUTS	start
	xor	%ecx, %ecx
	xor	%ebx, %ebx
	mov	$N, %r12
1:	inc	%rcx
	add	%rcx, %rbx
	mov	%rcx, 0x80000
	test	$0xfffff, %ecx
	jnz	2f
	mov	$'.', %al
	mov	$COM1, %dx
	out	%al, %dx
2:	cmp	%r12, %rcx
	jne	1b
	EXPECT	%rbx, (N * (N + 1) / 2), badsum
	mov	0x80000, %rax
	EXPECT	%rax, N, badmem
	PUTS	pass
	POWEROFF
start:	.asciz	"START\n"
pass:	.asciz	"\nPASS cli_count\n"
badsum:	.asciz	"sum"
badmem:	.asciz	"memory counter"
	GUEST_LIB
