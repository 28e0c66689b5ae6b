/* repio: REP OUTSB and REP INSB, string I/O element by element (each
   backend exits once per element: vm_inout.string is 0).  OUTSB prints
   the PASS line; INSB reads 8 bytes from a port nobody claims (all
   ones) over a buffer of zeros, and must stop at RCX = 0 with RDI past it. */
#include "guest.h"
#define BUF	0x200000
	.globl	_start
_start:
	cld
	lea	msg(%rip), %rsi
	mov	$msg_end - msg, %ecx
	mov	$COM1, %dx
	rep outsb
	EXPECT	%rcx, 0, m_outs
	movq	$0, BUF
	movq	$0, BUF + 8
	mov	$BUF, %edi
	mov	$8, %ecx
	mov	$0x2f0, %dx
	rep insb
	EXPECT	%rcx, 0, m_ins
	EXPECT	%rdi, BUF + 8, m_rdi
	mov	BUF, %rax
	EXPECT	%rax, 0xffffffffffffffff, m_data
	mov	BUF + 8, %rax
	EXPECT	%rax, 0, m_over
	PUTS	pass
	POWEROFF
msg:	.ascii	"REP OUTSB\n"
msg_end:
pass:	.asciz	"PASS repio\n"
m_outs:	.asciz	"repio: rep outsb left rcx"
m_ins:	.asciz	"repio: rep insb left rcx"
m_rdi:	.asciz	"repio: rep insb rdi"
m_data:	.asciz	"repio: rep insb data"
m_over:	.asciz	"repio: rep insb wrote past rcx"
	GUEST_LIB
