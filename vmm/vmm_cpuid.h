/*
 * vmm_cpuid.h - the CPU profile of lhyve's vCPUs, shared by every backend:
 * which vendor the guest sees, and what CPUID tells it.
 *
 * Only features the software CPU implements are advertised, but for the
 * vector families over AVX state the KVM backend adds (prof->xstate); this
 * file is the single place that grows as instruction families land.  The vendor
 * profile also decides every behaviour where Intel and AMD processors
 * differ (flags and results the SDM leaves undefined, SYSCALL/SYSENTER
 * details, 66-prefixed near branches): the software CPU reads it from its
 * vCPU (docs/cpu.md, "Vendor profiles").
 */
#ifndef LHYVE_VMM_CPUID_H
#define LHYVE_VMM_CPUID_H

#include <stdint.h>

enum vmm_vendor {
	VMM_VENDOR_INTEL,
	VMM_VENDOR_AMD,
};

/*
 * The CPU behind the guest: lhyve's software CPU, or the host's through
 * KVM.  The few leaves that differ per backend test it (vmm_cpuid.c, "Per
 * backend"); the KVM backend also masks every feature word with what
 * KVM_GET_SUPPORTED_CPUID reports.
 */
enum vmm_cpu_engine {
	VMM_ENGINE_EMU,
	VMM_ENGINE_KVM,
};

struct vmm_cpu_profile {
	enum vmm_vendor	vendor;
	int		ncpus;		/* topology leaves; 0 means 1 */
	/*
	 * Topology (bhyve -c sockets=,cores=,threads=): threads per core,
	 * cores per socket.  Used when their product is ncpus; otherwise one
	 * socket of ncpus single-thread cores.  vCPU i has APIC ID i.
	 */
	int		sockets, cores, threads;
	/* Bit i: vCPU i does not offer x2APIC (vm_set_x2apic_state); may be NULL. */
	const _Atomic uint32_t *x2apic_off;
	enum vmm_cpu_engine engine;
	/*
	 * KVM: the guest TSC's rate (KVM_GET_TSC_KHZ); CPUID 15H/16H then
	 * describe it, with KVM's 1 GHz LAPIC bus as the crystal.  0: the
	 * software CPU's 1 GHz TSC and 128 MHz crystal.
	 */
	uint32_t	tsc_khz;
	/*
	 * XSAVE state components offered beyond x87 and SSE (XCR0 bits,
	 * vmm_backend.h VM_XSTATE_*): with AVX, CPUID offers AVX, AVX2, FMA
	 * and F16C; with AVX-512's three, the AVX-512 families.  The KVM
	 * backend sets those the host's KVM has at lhyve's layout
	 * (docs/kvm.md "XSAVE"); the software CPU has none: 0.
	 */
	uint64_t	xstate;
};

/* Signatures (CPUID.1:EAX, also RDX after RESET): generic models guests know. */
#define VMM_CPUID_SIGNATURE_INTEL	0x00000f61u	/* family 15 model 6 (QEMU kvm64) */
#define VMM_CPUID_SIGNATURE_AMD		0x00060fb1u	/* family 15 model 107 (QEMU qemu64) */
#define VMM_CPUID_SIGNATURE		VMM_CPUID_SIGNATURE_INTEL

/* The vendor of the host CPU (CPUID.0): AMD for AuthenticAMD/HygonGenuine, else Intel. */
enum vmm_vendor vmm_host_vendor(void);
/* "intel" / "amd" */
const char *vmm_vendor_name(enum vmm_vendor vendor);
/* "intel", "amd" or "host": 0, or -EINVAL for anything else. */
int	vmm_vendor_parse(const char *name, enum vmm_vendor *vendor);
/* The profile of a VM whose vendor was not chosen: the host's. */
void	vmm_cpu_profile_default(struct vmm_cpu_profile *prof);
uint32_t vmm_cpuid_signature(const struct vmm_cpu_profile *prof);

/* regs[] = EAX, EBX, ECX, EDX for @leaf/@subleaf on vCPU @vcpuid. */
void	vmm_cpuid(const struct vmm_cpu_profile *prof, int vcpuid, uint32_t leaf,
	    uint32_t subleaf, uint32_t regs[4]);

#endif /* LHYVE_VMM_CPUID_H */
