/* rdpmc: there is no performance counter, so RDPMC raises #GP(0) for
   every ECX (SDM Vol. 2B RDPMC), at CPL 0 too; the guest goes on. */
#include "guest.h"
#define IDT	0x100000
	.globl	_start
_start:
	SET_GATE	IDT+13*16, gp_handler
	lidt	idtr(%rip)
	xor	%r12, %r12
	mov	$-1, %r13
	xor	%ecx, %ecx
rd0:	rdpmc
	EXPECT	%r12, 1, m_gp
	EXPECT	%r13, 0, m_err
	lea	rd0(%rip), %rax
	cmp	%rax, %r14
	jne	bad_rip
	mov	$0x40000000, %ecx		/* a fixed-function counter */
	rdpmc
	EXPECT	%r12, 2, m_gp
	PUTS	pass
	POWEROFF
bad_rip:
	lea	m_rip(%rip), %rsi
	jmp	guest_fail

/* #GP: count it, remember the faulting RIP and error code, skip 2 bytes. */
gp_handler:
	inc	%r12
	mov	8(%rsp), %r14
	mov	(%rsp), %r13
	addq	$2, 8(%rsp)
	add	$8, %rsp
	iretq
idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS rdpmc\n"
m_gp:	.asciz	"rdpmc: RDPMC did not raise #GP"
m_err:	.asciz	"rdpmc: #GP error code not 0"
m_rip:	.asciz	"rdpmc: #GP reported the wrong RIP"
	GUEST_LIB
