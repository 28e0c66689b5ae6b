/*
 * cli_topology: print what CPUID says about the topology, for
 * tests/cli/test_options.sh: "TOPO a b c d e", two hex digits each: leaf
 * 0BH level 0 and level 1 EBX (threads per core, logical processors per
 * package), leaf 1 EBX[23:16], 80000008H ECX[7:0] and 8000001EH EBX[15:8]
 * (AMD: per package - 1, threads per core - 1), then leaf 1FH level 0
 * and level 1 EBX (Intel: as 0BH; AMD: 00, no such leaf).
 */
#include "guest.h"
	.globl	_start
_start:
	PUTS	topo
	mov	$0xb, %eax
	xor	%ecx, %ecx
	cpuid
	mov	%ebx, %edi
	call	hex2
	mov	$0xb, %eax
	mov	$1, %ecx
	cpuid
	mov	%ebx, %edi
	call	hex2
	mov	$1, %eax
	cpuid
	mov	%ebx, %edi
	shr	$16, %edi
	call	hex2
	mov	$0x80000008, %eax
	cpuid
	mov	%ecx, %edi
	call	hex2
	mov	$0x8000001e, %eax
	cpuid
	mov	%ebx, %edi
	shr	$8, %edi
	call	hex2
	mov	$0x1f, %eax
	xor	%ecx, %ecx
	cpuid
	mov	%ebx, %edi
	call	hex2
	mov	$0x1f, %eax
	mov	$1, %ecx
	cpuid
	mov	%ebx, %edi
	call	hex2
	mov	$'\n', %al
	mov	$COM1, %dx
	out	%al, %dx
	POWEROFF

/* " XX": the low byte of edi in hex. */
hex2:
	mov	$COM1, %dx
	mov	$' ', %al
	out	%al, %dx
	mov	%edi, %eax
	shr	$4, %eax
	call	1f
	mov	%edi, %eax
1:	and	$0xf, %eax
	lea	digits(%rip), %rsi
	mov	(%rsi, %rax), %al
	out	%al, %dx
	ret

digits:	.ascii	"0123456789abcdef"
topo:	.asciz	"TOPO"
	GUEST_LIB
