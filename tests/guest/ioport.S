/* ioport: I/O to a port no device claims reads all ones and is dropped
   (bhyve's default); with bhyve -e (x86.strictio) bhyve exits 4 instead. */
#include "guest.h"
	.globl	_start
_start:
	mov	$0x2f0, %dx			/* nothing lives here */
	mov	$0x12, %al
	out	%al, %dx
	xor	%eax, %eax
	in	%dx, %al
	EXPECT	%rax, 0xff, m_in
	PUTS	msg
	POWEROFF
msg:	.asciz	"PASS ioport\n"
m_in:	.asciz	"ioport: unclaimed port did not read 0xff"
	GUEST_LIB
