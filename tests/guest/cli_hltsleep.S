/* cli_hltsleep: HLT with interrupts enabled and nothing to wake it: the
   vCPU sleeps (no CPU burnt) until bhyvectl stops the VM.  Driven by
   tests/cli/test_session.sh, not by tests/guest/run.sh. */
#include "guest.h"
	.globl	_start
_start:
	PUTS	msg
	sti
	hlt
	lea	m_woke(%rip), %rsi
	jmp	guest_fail
msg:	.asciz	"PASS cli_hltsleep\n"
m_woke:	.asciz	"cli_hltsleep: woke up with no interrupt source"
	GUEST_LIB
