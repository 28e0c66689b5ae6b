/*
 * cli_vendor: print CPUID's vendor string and whether leaf 0x80000000
 * repeats it (AMD does, Intel does not), then power off.  Driven by
 * tests/guest/run.sh under both vendor profiles.
 */
#include "guest.h"
	.globl	_start
_start:
	xor	%eax, %eax
	cpuid
	lea	vendor(%rip), %rdi
	mov	%ebx, (%rdi)
	mov	%edx, 4(%rdi)
	mov	%ecx, 8(%rdi)
	PUTS	prefix
	PUTS	vendor
	mov	$0x80000000, %eax
	cpuid
	test	%ebx, %ebx
	jz	1f
	PUTS	ext
1:	PUTS	newline
	POWEROFF
prefix:	.asciz	"VENDOR "
ext:	.asciz	" EXT"
newline: .asciz	"\n"
	.data
vendor:	.zero	16
	.text
	GUEST_LIB
