/* kvmpv: the guest's CPUID offers no KVM paravirtual interface, so KVM's
   paravirtual MSRs (kvmclock 0x11, 0x12, 0x4b564d00-0x4b564dff) are absent
   on every backend: RDMSR and WRMSR raise #GP(0), as for any unknown MSR.
   On KVM this is the MSR filter's work (vmm/backend/kvm/kvm.c). */
#include "guest.h"
#define IDT	0x100000
	.globl	_start
_start:
	lea	gp_handler(%rip), %rax
	mov	$IDT + 13 * 16, %rdi
	call	guest_set_gate
	lidt	idtr(%rip)
	xor	%r12, %r12
	mov	$0x4b564d01, %ecx		/* MSR_KVM_SYSTEM_TIME_NEW */
	rdmsr
	EXPECT	%r12, 1, m_rd
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	EXPECT	%r12, 2, m_wr
	mov	$0x12, %ecx			/* MSR_KVM_SYSTEM_TIME */
	rdmsr
	EXPECT	%r12, 3, m_old
	PUTS	pass
	POWEROFF
/* #GP: count it and skip the 2-byte RDMSR/WRMSR. */
gp_handler:
	inc	%r12
	addq	$2, 8(%rsp)
	add	$8, %rsp
	iretq
idtr:	.word	256 * 16 - 1
	.quad	IDT
pass:	.asciz	"PASS kvmpv\n"
m_rd:	.asciz	"kvmpv: rdmsr of kvmclock did not raise #GP"
m_wr:	.asciz	"kvmpv: wrmsr of kvmclock did not raise #GP"
m_old:	.asciz	"kvmpv: rdmsr of the old kvmclock did not raise #GP"
	GUEST_LIB
