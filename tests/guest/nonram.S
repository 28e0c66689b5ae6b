/* nonram: a jump to a guest-physical address that is not RAM (the loader's
   identity map covers it, nothing backs it).  No CPU can fetch from there:
   bhyve exits 4 and names the RIP; on KVM the message carries the
   registers (KVM_EXIT_INTERNAL_ERROR). */
#include "guest.h"
#define NOWHERE	0x8000000		/* 128 MiB: above the guest's 64 MiB */
	.globl	_start
_start:
	PUTS	msg
	mov	$NOWHERE, %rax
	jmp	*%rax
msg:	.asciz	"PASS nonram\n"
	GUEST_LIB
