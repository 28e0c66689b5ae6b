/* stack: calls, recursion, push/pop and string moves through memory. */
#include "guest.h"
	.globl	_start
_start:
	mov	$10, %rdi
	call	fact
	EXPECT	%rax, 3628800, m_fact
	/* rep movsb 16 bytes, then compare with repe cmpsb */
	lea	src(%rip), %rsi
	mov	$0x200000, %rdi
	mov	$16, %rcx
	cld
	rep movsb
	lea	src(%rip), %rsi
	mov	$0x200000, %rdi
	mov	$16, %rcx
	repe cmpsb
	jne	bad_copy
	EXPECT	%rcx, 0, m_copy
	pushq	$0x1234
	popq	%rbx
	EXPECT	%rbx, 0x1234, m_push
	EXPECT	%rsp, 0x9000, m_rsp
	PUTS	pass
	POWEROFF
bad_copy:
	lea	m_copy(%rip), %rsi
	jmp	guest_fail
fact:	/* rax = rdi! */
	cmp	$1, %rdi
	jbe	1f
	push	%rdi
	dec	%rdi
	call	fact
	pop	%rdi
	imul	%rdi, %rax
	ret
1:	mov	$1, %eax
	ret
src:	.ascii	"0123456789abcdef"
pass:	.asciz	"PASS stack\n"
m_fact:	.asciz	"stack: factorial"
m_copy:	.asciz	"stack: rep movsb/cmpsb"
m_push:	.asciz	"stack: push/pop"
m_rsp:	.asciz	"stack: rsp balance"
	GUEST_LIB
