/* unimpl: an instruction the software CPU does not implement yet (SSE
   movaps): bhyve prints its bytes and RIP and exits 4.  Update when SSE lands. */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	movaps	%xmm1, %xmm0
	POWEROFF
msg:	.asciz	"PASS unimpl\n"
	GUEST_LIB
