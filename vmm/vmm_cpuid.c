/*
 * vmm_cpuid.c - what CPUID tells the guest (SDM Vol. 2A CPUID).
 *
 * We present a GenuineIntel processor, because the software CPU implements
 * Intel's behaviour where vendors differ (SYSCALL/SYSRET only in 64-bit
 * mode, SYSRET's #GP on a non-canonical RCX, near branches ignoring 66 in
 * 64-bit mode).  The signature is the generic family 15 model 6 that QEMU's
 * "kvm64" model uses, which guests know and apply no model quirks to.
 *
 * A feature bit is set only when the emulator implements it completely:
 * today no x87, MMX or SSE (FPU, FXSR, SSE, SSE2 are clear), no AVX (so
 * no OSXSAVE/AVX: VEX encodes only the BMI general-register instructions),
 * no local APIC yet, no MTRRs, no SYSENTER.  Leaves beyond the maximum
 * return zeros.
 */
#include <stdint.h>
#include <string.h>

#include "vmm_cpuid.h"

#define CPUID_MAX_BASIC		0x7
#define CPUID_MAX_EXT		0x80000008u

/* CPUID.1:EDX */
#define CPUID1_DE		(1u << 2)	/* CR4.DE, DR4/DR5 #UD */
#define CPUID1_PSE		(1u << 3)	/* 4 MiB pages in 32-bit paging */
#define CPUID1_TSC		(1u << 4)
#define CPUID1_MSR		(1u << 5)
#define CPUID1_PAE		(1u << 6)
#define CPUID1_CX8		(1u << 8)
#define CPUID1_PGE		(1u << 13)
#define CPUID1_CMOV		(1u << 15)
#define CPUID1_PAT		(1u << 16)
#define CPUID1_CLFSH		(1u << 19)
/* CPUID.1:ECX */
#define CPUID1_CX16		(1u << 13)
#define CPUID1_MOVBE		(1u << 22)
#define CPUID1_POPCNT		(1u << 23)
#define CPUID1_RDRAND		(1u << 30)
#define CPUID1_HYPERVISOR	(1u << 31)
/* CPUID.7.0:EBX / ECX */
#define CPUID7_BMI1		(1u << 3)
#define CPUID7_BMI2		(1u << 8)
#define CPUID7_RDSEED		(1u << 18)
#define CPUID7_ADX		(1u << 19)
#define CPUID7_RDPID		(1u << 22)	/* ECX */
/* CPUID.80000001:ECX / EDX */
#define CPUIDX_LAHF		(1u << 0)
#define CPUIDX_ABM		(1u << 5)	/* LZCNT */
#define CPUIDX_SYSCALL		(1u << 11)
#define CPUIDX_NX		(1u << 20)
#define CPUIDX_PAGE1GB		(1u << 26)
#define CPUIDX_RDTSCP		(1u << 27)
#define CPUIDX_LM		(1u << 29)
/* CPUID.80000007:EDX */
#define CPUIDX_INVTSC		(1u << 8)

static const char brand[48] = "lhyve software x86-64 CPU";

void
vmm_cpuid(int vcpuid, uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
	memset(regs, 0, 4 * sizeof(regs[0]));
	switch (leaf) {
	case 0:
		regs[0] = CPUID_MAX_BASIC;
		memcpy(&regs[1], "Genu", 4);
		memcpy(&regs[3], "ineI", 4);
		memcpy(&regs[2], "ntel", 4);
		break;
	case 1:
		regs[0] = VMM_CPUID_SIGNATURE;
		/* CLFLUSH line size 8 x 8 bytes; initial APIC ID = vCPU id */
		regs[1] = (8u << 8) | ((uint32_t)vcpuid << 24);
		regs[2] = CPUID1_CX16 | CPUID1_MOVBE | CPUID1_POPCNT |
		    CPUID1_RDRAND | CPUID1_HYPERVISOR;
		regs[3] = CPUID1_DE | CPUID1_PSE | CPUID1_TSC | CPUID1_MSR |
		    CPUID1_PAE | CPUID1_CX8 | CPUID1_PGE | CPUID1_CMOV |
		    CPUID1_PAT | CPUID1_CLFSH;
		break;
	case 7:
		/* Subleaf 0 only: EAX (the highest subleaf) = 0. */
		if (subleaf != 0)
			break;
		regs[1] = CPUID7_BMI1 | CPUID7_BMI2 | CPUID7_RDSEED | CPUID7_ADX;
		regs[2] = CPUID7_RDPID;
		break;
	case 0x80000000u:
		regs[0] = CPUID_MAX_EXT;
		break;
	case 0x80000001u:
		regs[0] = VMM_CPUID_SIGNATURE;
		regs[2] = CPUIDX_LAHF | CPUIDX_ABM;
		regs[3] = CPUIDX_SYSCALL | CPUIDX_NX | CPUIDX_PAGE1GB |
		    CPUIDX_RDTSCP | CPUIDX_LM;
		break;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(regs, brand + (leaf - 0x80000002u) * 16, 16);
		break;
	case 0x80000007u:
		/* The TSC runs at a constant rate in every state. */
		regs[3] = CPUIDX_INVTSC;
		break;
	case 0x80000008u:
		/* 39-bit physical, 48-bit linear addresses (the MMU enforces both). */
		regs[0] = 39 | (48 << 8);
		break;
	default:
		break;
	}
}
