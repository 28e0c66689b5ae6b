/* msr: RDMSR/WRMSR of an MSR nobody implements raise #GP(0) at the
   instruction (bhyve's default, x86.strictmsr); known MSRs work. */
#include "guest.h"
#define IDT	0x100000
	.globl	_start
_start:
	SET_GATE	IDT+13*16, gp_handler
	lidt	idtr(%rip)
	xor	%r12, %r12
	mov	$0x12345, %ecx
wr:	wrmsr
	EXPECT	%r12, 1, m_wr
	EXPECT	%r13, 0, m_none
	lea	wr(%rip), %rax
	cmp	%rax, %r14
	jne	bad_rip
rd:	rdmsr
	EXPECT	%r12, 2, m_rd
	lea	rd(%rip), %rax
	cmp	%rax, %r14
	jne	bad_rip
	/* A known MSR: KERNEL_GS_BASE round trip. */
	mov	$0xc0000102, %ecx
	mov	$0x89abcdef, %eax
	mov	$0x00007fff, %edx		/* canonical */
	wrmsr
	xor	%eax, %eax
	xor	%edx, %edx
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	EXPECT	%rax, 0x00007fff89abcdef, m_kgs
	EXPECT	%r12, 2, m_extra
	PUTS	pass
	POWEROFF
bad_rip:
	lea	m_rip(%rip), %rsi
	jmp	guest_fail

/* #GP: count it, remember the faulting RIP and error code, skip 2 bytes. */
gp_handler:
	inc	%r12
	mov	8(%rsp), %r14		/* RIP, above the error code */
	mov	(%rsp), %r13		/* error code: 0 */
	addq	$2, 8(%rsp)
	add	$8, %rsp
	iretq
idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS msr\n"
m_wr:	.asciz	"msr: wrmsr of an unknown MSR did not raise #GP"
m_rd:	.asciz	"msr: rdmsr of an unknown MSR did not raise #GP"
m_rip:	.asciz	"msr: #GP reported the wrong RIP"
m_none:	.asciz	"msr: #GP error code not 0"
m_kgs:	.asciz	"msr: KERNEL_GS_BASE did not round-trip"
m_extra: .asciz	"msr: unexpected #GP"
	GUEST_LIB
