/* unimpl: an instruction the software CPU does not implement yet (RDPMC):
   bhyve prints its bytes and RIP and exits 4.  Update when RDPMC lands. */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	rdpmc
	POWEROFF
msg:	.asciz	"PASS unimpl\n"
	GUEST_LIB
