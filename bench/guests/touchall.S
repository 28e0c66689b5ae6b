/*
 * touchall - the memory-overhead guest (bench/kvm-nested): writes every
 * 4 KiB page of a 128 MiB guest (each byte rewritten with its own value, so
 * the code and page tables stay intact), says 'R' on COM1, then spins
 * until the VMM is stopped.  The VMM's RSS then holds all of guest memory.
 */
#include "boot.h"
#define MEM	(128 << 20)

	.code64
loop64:
	xor	%edi, %edi
1:	orb	$0, (%rdi)
	add	$4096, %rdi
	cmp	$MEM, %rdi
	jb	1b
	mov	$'R', %al
	mov	$0x3f8, %dx
	out	%al, %dx
2:	pause
	jmp	2b
