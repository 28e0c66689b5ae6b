/* touchmem: write one byte in every 4 KiB page from 1 MiB to 15 MiB, so all
   of that guest memory must really exist on the host (tests/cli/test_memfull.sh). */
#include "guest.h"
	.globl	_start
_start:
	mov	$0x100000, %rdi
1:	movb	$0xa5, (%rdi)
	add	$4096, %rdi
	cmp	$0xf00000, %rdi
	jb	1b
	cmpb	$0xa5, 0xeff000
	jne	bad
	PUTS	msg
	POWEROFF
bad:	lea	m_bad(%rip), %rsi
	jmp	guest_fail
msg:	.asciz	"PASS touchmem\n"
m_bad:	.asciz	"touchmem: memory did not keep a write"
	GUEST_LIB
