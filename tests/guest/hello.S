/* hello: the smallest guest that reports and powers off. */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	POWEROFF
msg:	.asciz	"PASS hello\n"
	GUEST_LIB
