/* pause: 100 PAUSEs (bhyve -P turns each into an exit; tests/cli/test_options.sh). */
#include "guest.h"
	.globl	_start
_start:
	mov	$100, %ecx
1:	pause
	loop	1b
	PUTS	msg
	POWEROFF
msg:	.asciz	"PASS pause\n"
	GUEST_LIB
