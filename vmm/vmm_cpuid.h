/*
 * vmm_cpuid.h - the CPUID policy of lhyve's vCPUs, shared by every backend.
 *
 * Only features the software CPU implements are advertised; this file is
 * the single place that grows as instruction families land.
 */
#ifndef LHYVE_VMM_CPUID_H
#define LHYVE_VMM_CPUID_H

#include <stdint.h>

/* Family 15, model 6, stepping 1 (CPUID.1:EAX), also RDX after RESET. */
#define VMM_CPUID_SIGNATURE	0x00000f61u

/* regs[] = EAX, EBX, ECX, EDX for @leaf/@subleaf on vCPU @vcpuid. */
void	vmm_cpuid(int vcpuid, uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);

#endif /* LHYVE_VMM_CPUID_H */
