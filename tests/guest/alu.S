/* alu: arithmetic, flags and branches, checked against known answers. */
#include "guest.h"
	.globl	_start
_start:
	mov	$0x7fffffffffffffff, %rax
	add	$1, %rax
	jno	fail_of			/* signed overflow sets OF */
	mov	$0xffffffff, %eax
	add	$1, %eax		/* 32-bit result zero-extends */
	jnz	fail_zf
	EXPECT	%rax, 0, m_zext
	mov	$10, %rcx
	xor	%rbx, %rbx
1:	add	%rcx, %rbx
	loop	1b
	EXPECT	%rbx, 55, m_loop
	mov	$0x1234, %eax
	mov	$0x56, %ecx
	mul	%ecx			/* edx:eax = 0x1234 * 0x56 */
	EXPECT	%rax, 0x61d78, m_mul
	mov	$1000003, %eax
	xor	%edx, %edx
	mov	$7, %ecx
	div	%ecx
	EXPECT	%rax, 142857, m_div
	EXPECT	%rdx, 4, m_div
	mov	$0x80, %eax
	sar	$3, %al			/* only AL changes */
	EXPECT	%rax, 0xf0, m_sar
	mov	$-5, %rax
	cqo
	EXPECT	%rdx, 0xffffffffffffffff, m_cqo
	stc
	mov	$0, %eax
	adc	$0, %eax
	EXPECT	%rax, 1, m_adc
	mov	$0x0f0f, %ax
	bsr	%ax, %cx
	movzwl	%cx, %ecx
	EXPECT	%rcx, 11, m_bsr
	PUTS	pass
	POWEROFF
fail_of:
	lea	m_of(%rip), %rsi
	jmp	guest_fail
fail_zf:
	lea	m_zf(%rip), %rsi
	jmp	guest_fail
pass:	.asciz	"PASS alu\n"
m_of:	.asciz	"alu: add overflow"
m_zf:	.asciz	"alu: zero flag"
m_zext:	.asciz	"alu: 32-bit zero extension"
m_loop:	.asciz	"alu: loop sum"
m_mul:	.asciz	"alu: mul"
m_div:	.asciz	"alu: div"
m_sar:	.asciz	"alu: sar"
m_cqo:	.asciz	"alu: cqo"
m_adc:	.asciz	"alu: adc"
m_bsr:	.asciz	"alu: bsr"
	GUEST_LIB
