/* reboot: the first boot resets the machine through 0xcf9 (bhyve exit 0);
   guest memory survives the reload (bhyveload reinitialises the vCPUs
   only), so the second boot sees its mark and powers off. */
#include "guest.h"
#define MARK	0x300000
	.globl	_start
_start:
	cmpl	$0x600d600d, MARK
	je	second
	movl	$0x600d600d, MARK
	PUTS	first_msg
	mov	$0xcf9, %dx
	mov	$0x06, %al		/* SYS_RST | RST_CPU: hard reset */
	out	%al, %dx
	hlt
second:
	movl	$0, MARK
	PUTS	second_msg
	POWEROFF
first_msg:	.asciz	"PASS reboot\n"
second_msg:	.asciz	"PASS reboot: second boot\n"
	GUEST_LIB
