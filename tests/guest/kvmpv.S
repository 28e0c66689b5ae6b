/* kvmpv: the guest's CPUID offers KVM's paravirtual clock and nothing else
   of KVM's interface (vmm/vmm_cpuid.c): the signature leaf says
   "KVMKVMKVM", the kvmclock MSRs 0x4b564d00/0x4b564d01 work, and the old
   clock MSR 0x12 and the other paravirtual MSRs (0x4b564d02, async page
   faults) raise #GP(0), as any unknown MSR.  On KVM the MSR filter does
   the last part (vmm/backend/kvm/kvm.c). */
#include "guest.h"
#define IDT	0x100000
	.globl	_start
_start:
	SET_GATE	IDT+13*16, gp_handler
	lidt	idtr(%rip)
	mov	$0x40000000, %eax
	cpuid
	EXPECT	%rbx, 0x4b4d564b, m_sig		/* "KVMK" */
	xor	%r12, %r12
	mov	$0x4b564d01, %ecx		/* MSR_KVM_SYSTEM_TIME_NEW */
	rdmsr
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr					/* disabled: bit 0 clear */
	EXPECT	%r12, 0, m_new
	mov	$0x12, %ecx			/* MSR_KVM_SYSTEM_TIME (old) */
	rdmsr
	EXPECT	%r12, 1, m_old
	mov	$0x4b564d02, %ecx		/* MSR_KVM_ASYNC_PF_EN */
	rdmsr
	EXPECT	%r12, 2, m_apf
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
m_sig:	.asciz	"kvmpv: CPUID 40000000H is not KVM's signature"
m_new:	.asciz	"kvmpv: the kvmclock MSRs raised #GP"
m_old:	.asciz	"kvmpv: rdmsr of the old kvmclock did not raise #GP"
m_apf:	.asciz	"kvmpv: an unoffered paravirtual MSR did not raise #GP"
	GUEST_LIB
