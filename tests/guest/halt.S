/* halt: HLT with interrupts disabled halts the VM (bhyve exit status 2). */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	cli
	hlt
msg:	.asciz	"PASS halt\n"
	GUEST_LIB
