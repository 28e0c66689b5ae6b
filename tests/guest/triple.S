/* triple: a fault with an empty IDT escalates to a triple fault (exit 3). */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	lidt	idtr(%rip)
	ud2
idtr:	.word	0
	.quad	0
msg:	.asciz	"PASS triple\n"
	GUEST_LIB
