/* exception: #UD and #DE delivered through a 64-bit IDT, then iretq. */
#include "guest.h"
#define IDT	0x100000
	.globl	_start
_start:
	/* Two interrupt gates: vector 0 (#DE) and 6 (#UD), both to handler. */
	lea	handler(%rip), %rax
	mov	$IDT, %rdi
	call	guest_set_gate			/* vector 0 */
	add	$6 * 16, %rdi
	call	guest_set_gate			/* vector 6 */
	lidt	idtr(%rip)
	xor	%r12, %r12			/* handler stores the vector here */
	ud2
	EXPECT	%r12, 0x106, m_ud		/* 0x100 | vector */
	xor	%ecx, %ecx
	mov	$1, %eax
	xor	%edx, %edx
	div	%ecx
	EXPECT	%r12, 0x100, m_de
	PUTS	pass
	POWEROFF

/* Fault handler: record the vector (from the return address) and skip
   the faulting instruction: ud2 and div %ecx are both 2 bytes. */
handler:
	mov	(%rsp), %rax			/* faulting RIP */
	cmpb	$0x0f, (%rax)
	je	1f
	mov	$0x100, %r12			/* div: #DE */
	jmp	2f
1:	mov	$0x106, %r12			/* ud2: #UD */
2:	addq	$2, (%rsp)
	iretq

idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS exception\n"
m_ud:	.asciz	"exception: #UD not delivered"
m_de:	.asciz	"exception: #DE not delivered"
	GUEST_LIB
