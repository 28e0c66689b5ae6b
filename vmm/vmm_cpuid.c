/*
 * vmm_cpuid.c - what CPUID tells the guest (SDM Vol. 2A CPUID).
 *
 * The vendor comes from the VM's profile (vmm_cpuid.h): GenuineIntel with
 * the generic family 15 model 6 signature of QEMU's "kvm64" model, or
 * AuthenticAMD with family 15 model 107 of QEMU's "qemu64"; guests know
 * both and apply no model quirks to them.  The software CPU follows the
 * same profile where the vendors behave differently.
 *
 * A feature bit is set only when the emulator implements it completely:
 * x87, FXSR, MMX, SSE through SSE4.2, XSAVE for x87 and SSE, MTRRs are
 * set; no AVX on the software CPU (VEX encodes only the BMI
 * general-register instructions).  On KVM the profile's xstate adds the
 * AVX and AVX-512 families the host's KVM has (docs/kvm.md "XSAVE").
 * The local APIC (xAPIC, x2APIC, TSC-deadline timer) is libvmm's
 * (vmm_intr.c).  Leaves beyond the maximum return zeros.  The
 * hypervisor leaves 40000000H-40000001H are KVM's (kvmclock only).
 */
#include <cpuid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "io/vlapic.h"
#include "vmm_backend.h"
#include "vmm_cpuid.h"

/*
 * Highest basic leaf: Intel has the TSC leaves 15H and 16H and V2 extended
 * topology 1FH (17H-1EH read as zeros: features CPUID 7 does not offer);
 * AMD stops at 0DH (its processors have no 1FH).
 */
#define CPUID_MAX_BASIC_INTEL	0x1f
#define CPUID_MAX_BASIC_AMD	0xd
#define CPUID_MAX_EXT_INTEL	0x80000008u
#define CPUID_MAX_EXT_AMD	0x8000001eu	/* the topology leaf */

/* CPUID.1:EDX */
#define CPUID1_FPU		(1u << 0)	/* x87 (x87.c) */
#define CPUID1_DE		(1u << 2)	/* CR4.DE, DR4/DR5 #UD */
#define CPUID1_PSE		(1u << 3)	/* 4 MiB pages in 32-bit paging */
#define CPUID1_MCE		(1u << 7)	/* CR4.MCE, #MC (never raised) */
#define CPUID1_TSC		(1u << 4)
#define CPUID1_MSR		(1u << 5)
#define CPUID1_PAE		(1u << 6)
#define CPUID1_CX8		(1u << 8)
#define CPUID1_APIC		(1u << 9)	/* LAPIC (vmm/io/vlapic.c) */
#define CPUID1_SEP		(1u << 11)	/* SYSENTER/SYSEXIT (AMD: legacy mode only) */
#define CPUID1_MTRR		(1u << 12)	/* MTRRcap, fixed and 8 variable ranges (msr.c) */
#define CPUID1_PGE		(1u << 13)
#define CPUID1_MCA		(1u << 14)	/* MCG_CAP (no banks), MCG_STATUS (msr.c) */
#define CPUID1_CMOV		(1u << 15)
#define CPUID1_PAT		(1u << 16)
#define CPUID1_CLFSH		(1u << 19)
#define CPUID1_MMX		(1u << 23)
#define CPUID1_FXSR		(1u << 24)
#define CPUID1_SSE		(1u << 25)
#define CPUID1_SSE2		(1u << 26)
#define CPUID1_HTT		(1u << 28)	/* EBX[23:16] counts logical processors */
/* CPUID.1:ECX */
#define CPUID1_SSE3		(1u << 0)
#define CPUID1_PCLMULQDQ	(1u << 1)	/* sse.c, in C */
#define CPUID1_SSSE3		(1u << 9)
#define CPUID1_CX16		(1u << 13)
#define CPUID1_SSE41		(1u << 19)
#define CPUID1_SSE42		(1u << 20)
#define CPUID1_X2APIC		(1u << 21)
#define CPUID1_MOVBE		(1u << 22)
#define CPUID1_POPCNT		(1u << 23)
#define CPUID1_AES		(1u << 25)	/* AES-NI: sse.c, in C */
#define CPUID1_XSAVE		(1u << 26)	/* XSAVE/XRSTOR/XSETBV/XGETBV, x87 and SSE (x87.c) */
#define CPUID1_OSXSAVE		(1u << 27)	/* CR4.OSXSAVE: set by the CPU at CPUID time */
#define CPUID1_TSC_DEADLINE	(1u << 24)
#define CPUID1_RDRAND		(1u << 30)
#define CPUID1_HYPERVISOR	(1u << 31)
/* CPUID.1:ECX, vector extensions on the AVX state (KVM only: prof->xstate) */
#define CPUID1_FMA		(1u << 12)
#define CPUID1_AVX		(1u << 28)
#define CPUID1_F16C		(1u << 29)
/* CPUID.7.0:EBX / ECX */
#define CPUID7_FSGSBASE		(1u << 0)	/* RDFSBASE & co, CR4.FSGSBASE (system.c) */
#define CPUID7_TSC_ADJUST	(1u << 1)	/* IA32_TSC_ADJUST (pvclock.c) */
#define CPUID7_BMI1		(1u << 3)
#define CPUID7_BMI2		(1u << 8)
#define CPUID7_ERMS		(1u << 9)	/* REP MOVSB/STOSB are fast (string.c bulk paths) */
#define CPUID7_FDP_CSDS		(1u << 13)	/* FCS/FDS deprecated: saved as 0 (x87.c) */
#define CPUID7_RDSEED		(1u << 18)
#define CPUID7_ADX		(1u << 19)
#define CPUID7_CLFLUSHOPT	(1u << 23)
#define CPUID7_CLWB		(1u << 24)
#define CPUID7_RDPID		(1u << 22)	/* ECX */
/* CPUID.7.0:EBX / ECX / EDX on the AVX and AVX-512 state (KVM only) */
#define CPUID7_AVX2		(1u << 5)
#define CPUID7_AVX512_EBX	(1u << 16 | 1u << 17 | 1u << 21 | 1u << 28 | 1u << 30 | 1u << 31)
					/* F, DQ, IFMA, CD, BW, VL */
#define CPUID7_VAES		(1u << 9)	/* ECX; with VPCLMULQDQ: AVX encodings */
#define CPUID7_VPCLMULQDQ	(1u << 10)
#define CPUID7_AVX512_ECX	(1u << 1 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14)
					/* VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
#define CPUID7_AVX512_EDX	(1u << 23)	/* FP16 */
/* CPUID.7.0:EDX, 7.1:EAX on the AMX state (KVM only, Intel profile) */
#define CPUID7_AMX_EDX		(1u << 22 | 1u << 24 | 1u << 25)	/* BF16, TILE, INT8 */
#define CPUID7_1_AMX_FP16	(1u << 21)
#define CPUID7_SPEC_CTRL	(1u << 26)	/* EDX: IA32_SPEC_CTRL (IBRS) and IA32_PRED_CMD (IBPB) */
#define CPUID7_ARCH_CAP		(1u << 29)	/* EDX: IA32_ARCH_CAPABILITIES */
#define CPUID7_2_BHI_CTRL	(1u << 4)	/* 7.2:EDX: IA32_SPEC_CTRL.BHI_DIS_S */
/* CPUID.0DH.1:EAX */
#define CPUIDD_XSAVEOPT		(1u << 0)
#define CPUIDD_XSAVEC		(1u << 1)
#define CPUIDD_XGETBV1		(1u << 2)
#define CPUIDD_XFD		(1u << 4)	/* IA32_XFD, IA32_XFD_ERR (13.14) */
/* CPUID.80000001:ECX / EDX */
#define CPUIDX_LAHF		(1u << 0)
#define CPUIDX_ABM		(1u << 5)	/* LZCNT */
#define CPUIDX_TOPOEXT		(1u << 22)	/* AMD: leaf 8000001EH */
#define CPUIDX_SYSCALL		(1u << 11)
#define CPUIDX_NX		(1u << 20)
#define CPUIDX_PAGE1GB		(1u << 26)
#define CPUIDX_RDTSCP		(1u << 27)
#define CPUIDX_LM		(1u << 29)
/* CPUID.80000007:EDX */
#define CPUIDX_INVTSC		(1u << 8)

static const char brand[48] = "lhyve software x86-64 CPU";

/*
 * CPUID 15H: the crystal is the local APIC timer's input clock, and the
 * TSC runs at crystal * 125 / 16 = 1 GHz (the software CPU's EMU_TSC_HZ).
 */
#define TSC_CRYSTAL_HZ		VLAPIC_BUS_HZ
#define TSC_RATIO_NUM		125u
#define TSC_RATIO_DEN		16u
_Static_assert((uint64_t)TSC_CRYSTAL_HZ * TSC_RATIO_NUM / TSC_RATIO_DEN == 1000000000u &&
    (uint64_t)TSC_CRYSTAL_HZ * TSC_RATIO_NUM % TSC_RATIO_DEN == 0,
    "CPUID 15H must describe the 1 GHz TSC from the LAPIC timer's clock");

/* KVM's paravirtual interface (Linux Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_SIGNATURE	0x40000000u
#define KVM_CPUID_FEATURES	0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2	(1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

/*
 * Per backend.  The brand names the CPU that runs the guest; on KVM that is
 * the host's, under lhyve's profile.
 */
static const char brand_kvm[48] = "lhyve x86-64 CPU (KVM)";

static const char *
brand_string(const struct vmm_cpu_profile *prof)
{
	return prof->engine == VMM_ENGINE_KVM ? brand_kvm : brand;
}

enum vmm_vendor
vmm_host_vendor(void)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	char id[13];

	__get_cpuid(0, &a, &b, &c, &d);
	memcpy(id, &b, 4);
	memcpy(id + 4, &d, 4);
	memcpy(id + 8, &c, 4);
	id[12] = '\0';
	/* Hygon's Dhyana is a Zen core and behaves as one. */
	if (strcmp(id, "AuthenticAMD") == 0 || strcmp(id, "HygonGenuine") == 0)
		return VMM_VENDOR_AMD;
	return VMM_VENDOR_INTEL;
}

const char *
vmm_vendor_name(enum vmm_vendor vendor)
{
	return vendor == VMM_VENDOR_AMD ? "amd" : "intel";
}

int
vmm_vendor_parse(const char *name, enum vmm_vendor *vendor)
{
	if (strcmp(name, "intel") == 0)
		*vendor = VMM_VENDOR_INTEL;
	else if (strcmp(name, "amd") == 0)
		*vendor = VMM_VENDOR_AMD;
	else if (strcmp(name, "host") == 0)
		*vendor = vmm_host_vendor();
	else
		return -EINVAL;
	return 0;
}

void
vmm_cpu_profile_default(struct vmm_cpu_profile *prof)
{
	memset(prof, 0, sizeof(*prof));
	prof->vendor = vmm_host_vendor();
}

uint32_t
vmm_cpuid_signature(const struct vmm_cpu_profile *prof)
{
	return prof->vendor == VMM_VENDOR_AMD ? VMM_CPUID_SIGNATURE_AMD :
	    VMM_CPUID_SIGNATURE_INTEL;
}

static uint32_t
host_leaf1_ecx(void)
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	__get_cpuid(1, &a, &b, &c, &d);
	return c;
}

/* The 12-byte vendor string in EBX, EDX, ECX order. */
static void
put_vendor(const struct vmm_cpu_profile *prof, uint32_t regs[4])
{
	const char *id = prof->vendor == VMM_VENDOR_AMD ? "AuthenticAMD" : "GenuineIntel";

	memcpy(&regs[1], id, 4);
	memcpy(&regs[3], id + 4, 4);
	memcpy(&regs[2], id + 8, 4);
}

/* Bits to hold n IDs: ceil(log2(n)), as FreeBSD's vmm x86.c. */
static uint32_t
id_bits(int n)
{
	uint32_t b = 0;

	while ((1 << b) < n)
		b++;
	return b;
}

/*
 * The topology the leaves describe: sockets x cores x threads = ncpus, or
 * one socket of ncpus cores.  APIC ID = vCPU id, split as package | core |
 * thread by the ID widths (SDM Vol. 3A 10.4.1 / 9.9.1, "Hierarchical
 * Mapping"), exact when cores and threads are powers of two.
 */
struct topo {
	int		cores, threads;		/* per socket, per core */
	uint32_t	tbits, cbits;		/* ID bits for thread, core */
};

static void
topology(const struct vmm_cpu_profile *prof, int ncpus, struct topo *t)
{
	if (prof->sockets > 0 && prof->cores > 0 && prof->threads > 0 &&
	    prof->sockets * prof->cores * prof->threads == ncpus) {
		t->cores = prof->cores;
		t->threads = prof->threads;
	} else {
		t->cores = ncpus;
		t->threads = 1;
	}
	t->tbits = id_bits(t->threads);
	t->cbits = id_bits(t->cores);
}

/*
 * Leaves 0BH and 1FH (SDM Vol. 2A CPUID, "Extended Topology Enumeration"
 * and "V2 Extended Topology Enumeration"): the same levels, 0 SMT and
 * 1 core, as 1FH's module, tile and die levels are not used; EAX: bits to
 * shift the x2APIC ID right to reach the next level; EBX: logical
 * processors at this level; ECX: the subleaf and the level type (1 SMT, 2
 * core, 0 past the last); EDX: the x2APIC ID (= vCPU id) for every subleaf.
 */
static void
ext_topology(const struct topo *t, int vcpuid, uint32_t subleaf, uint32_t regs[4])
{
	regs[2] = subleaf & 0xff;
	regs[3] = (uint32_t)vcpuid;
	if (subleaf == 0) {
		regs[0] = t->tbits;
		regs[1] = (uint32_t)t->threads;
		regs[2] |= 1u << 8;
	} else if (subleaf == 1) {
		regs[0] = t->tbits + t->cbits;
		regs[1] = (uint32_t)(t->threads * t->cores);
		regs[2] |= 2u << 8;
	}
}

void
vmm_cpuid(const struct vmm_cpu_profile *prof, int vcpuid, uint32_t leaf,
    uint32_t subleaf, uint32_t regs[4])
{
	bool amd = prof->vendor == VMM_VENDOR_AMD;
	int ncpus = prof->ncpus > 0 ? prof->ncpus : 1;
	struct topo t;

	topology(prof, ncpus, &t);

	memset(regs, 0, 4 * sizeof(regs[0]));
	switch (leaf) {
	case 0:
		regs[0] = amd ? CPUID_MAX_BASIC_AMD : CPUID_MAX_BASIC_INTEL;
		put_vendor(prof, regs);
		break;
	case 1:
		regs[0] = vmm_cpuid_signature(prof);
		/*
		 * CLFLUSH line size 8 x 8 bytes; initial APIC ID = vCPU id;
		 * EBX[23:16] addressable logical processors per package, with
		 * HTT when more than one.
		 */
		regs[1] = (8u << 8) | ((uint32_t)vcpuid << 24) |
		    ((1u << (t.tbits + t.cbits)) & 0xff) << 16;
		/*
		 * SSE3, SSSE3 and SSE4.1 floating point run on the host's own
		 * unit (sse.c): offered only when the host has them.  SSE4.2
		 * (PCMPxSTRx, CRC32, PCMPGTQ), AES-NI and PCLMULQDQ are integer
		 * code in C: always.
		 */
		regs[2] = CPUID1_CX16 | CPUID1_SSE42 | CPUID1_AES | CPUID1_PCLMULQDQ |
		    CPUID1_MOVBE | CPUID1_POPCNT |
		    CPUID1_XSAVE | CPUID1_RDRAND | CPUID1_HYPERVISOR |
		    (host_leaf1_ecx() & (CPUID1_SSE3 | CPUID1_SSSE3 | CPUID1_SSE41));
		regs[2] |= CPUID1_TSC_DEADLINE;
		if (prof->xstate & VM_XSTATE_AVX)
			regs[2] |= CPUID1_AVX | CPUID1_FMA | CPUID1_F16C;
		if (prof->x2apic_off == NULL || !((*prof->x2apic_off >> vcpuid) & 1))
			regs[2] |= CPUID1_X2APIC;
		regs[3] = CPUID1_FPU | CPUID1_DE | CPUID1_PSE | CPUID1_TSC | CPUID1_MSR |
		    CPUID1_PAE | CPUID1_MCE | CPUID1_CX8 | CPUID1_APIC | CPUID1_SEP | CPUID1_MTRR |
		    CPUID1_PGE | CPUID1_MCA |
		    CPUID1_CMOV | CPUID1_PAT | CPUID1_CLFSH | CPUID1_MMX |
		    CPUID1_FXSR | CPUID1_SSE | CPUID1_SSE2;
		if (t.tbits + t.cbits > 0)
			regs[3] |= CPUID1_HTT;
		break;
	case 4:
		/*
		 * No cache described (type 0 ends the list), but EAX[31:26]:
		 * addressable core IDs per package - 1 (Intel only).
		 */
		if (!amd && subleaf == 0)
			regs[0] = ((1u << t.cbits) - 1) << 26;
		break;
	case 0xb:
		ext_topology(&t, vcpuid, subleaf, regs);
		break;
	case 0x1f:
		/* Intel's only: Linux prefers it to 0BH when present. */
		if (!amd)
			ext_topology(&t, vcpuid, subleaf, regs);
		break;
	case 7:
		/*
		 * Subleaves 0-2 (EAX of subleaf 0: the highest).  Subleaf 2
		 * EDX: BHI_CTRL on the Intel profile, so that Linux (which
		 * assumes BHI under any hypervisor since the ITS fixes) sets
		 * SPEC_CTRL.BHI_DIS_S once instead of clearing the branch
		 * history on every system call (msr.c).
		 */
		if (subleaf == 2) {
			if (!amd)
				regs[3] = CPUID7_2_BHI_CTRL;
			break;
		}
		if (subleaf == 1) {
			if (!amd && (prof->xstate & VM_XSTATE_AMX) == VM_XSTATE_AMX)
				regs[0] = CPUID7_1_AMX_FP16;
			break;
		}
		if (subleaf != 0)
			break;
		regs[0] = 2;
		regs[1] = CPUID7_FSGSBASE | CPUID7_TSC_ADJUST | CPUID7_BMI1 | CPUID7_BMI2 | CPUID7_ERMS |
		    CPUID7_FDP_CSDS | CPUID7_RDSEED | CPUID7_ADX | CPUID7_CLFLUSHOPT |
		    CPUID7_CLWB;
		regs[2] = CPUID7_RDPID;
		/*
		 * SPEC_CTRL and ARCH_CAPABILITIES on both profiles, as KVM
		 * offers them: the "not affected" bits of ARCH_CAPABILITIES
		 * and enhanced IBRS keep Linux from PTI, retpolines and the
		 * other costly mitigations (msr.c, docs/cpu.md "Vendor profiles").
		 */
		regs[3] = CPUID7_SPEC_CTRL | CPUID7_ARCH_CAP;
		if (prof->xstate & VM_XSTATE_AVX) {
			regs[1] |= CPUID7_AVX2;
			regs[2] |= CPUID7_VAES | CPUID7_VPCLMULQDQ;
		}
		if ((prof->xstate & VM_XSTATE_AVX512) == VM_XSTATE_AVX512) {
			regs[1] |= CPUID7_AVX512_EBX;
			regs[2] |= CPUID7_AVX512_ECX;
			regs[3] |= CPUID7_AVX512_EDX;
		}
		if (!amd && (prof->xstate & VM_XSTATE_AMX) == VM_XSTATE_AMX)
			regs[3] |= CPUID7_AMX_EDX;
		break;
	case 0xd:
		/*
		 * XSAVE (SDM Vol. 1 13.2): x87 and SSE, the 512-byte legacy
		 * region and the 64-byte header, plus what prof->xstate
		 * offers (KVM), each at its standard-format offset
		 * (vmm_backend.h).  EBX of subleaves 0 and 1 (the sizes for the
		 * current XCR0) is 576 with x87 and SSE, whatever XCR0 is; KVM
		 * updates both as the guest sets XCR0.
		 */
		if (subleaf == 0) {
			uint32_t off, size;
			int bit;

			regs[0] = (uint32_t)(VM_XSTATE_X87 | VM_XSTATE_SSE | (prof->xstate & VM_XSTATE_EXT));
			regs[1] = VM_XSAVE_LEGACY;
			regs[2] = VM_XSAVE_LEGACY;
			for (bit = 2; bit < 32; bit++)
				if ((regs[0] >> bit & 1) && vm_xstate_layout(bit, &off, &size) &&
				    off + size > regs[2])
					regs[2] = off + size;
		} else if (subleaf == 1) {
			regs[0] = CPUIDD_XSAVEOPT | CPUIDD_XSAVEC | CPUIDD_XGETBV1;
			/* Linux enables AMX only with XFD (its tile data is allocated on first use). */
			if (prof->xstate & VM_XSTATE_AMX)
				regs[0] |= CPUIDD_XFD;
			regs[1] = VM_XSAVE_LEGACY;
		} else if (subleaf < 32 && (prof->xstate & VM_XSTATE_EXT & (1ULL << subleaf))) {
			uint32_t off, size;

			if (vm_xstate_layout((int)subleaf, &off, &size)) {
				regs[0] = size;
				regs[1] = off;
			}
		}
		break;
	case 0x1d:
		/*
		 * AMX tile information (SDM Vol. 2A CPUID 1DH): palette 1, the
		 * only one: 8 KiB of tiles, 1 KiB each, rows of 64 bytes, 8
		 * tile names, 16 rows.
		 */
		if (amd || (prof->xstate & VM_XSTATE_AMX) != VM_XSTATE_AMX)
			break;
		if (subleaf == 0) {
			regs[0] = 1;
		} else if (subleaf == 1) {
			regs[0] = 8192 | 1024u << 16;
			regs[1] = 64 | 8u << 16;
			regs[2] = 16;
		}
		break;
	case 0x1e:
		/* TMUL information (CPUID 1EH): tmul_maxk 16, tmul_maxn 64. */
		if (!amd && subleaf == 0 && (prof->xstate & VM_XSTATE_AMX) == VM_XSTATE_AMX)
			regs[1] = 16 | 64u << 8;
		break;
	case 0x15:
		/*
		 * TSC/crystal (SDM Vol. 3B 18.7.3): the crystal is the local
		 * APIC timer's input clock (vlapic.h VLAPIC_BUS_HZ, 128 MHz)
		 * and TSC = crystal * 125 / 16 = 1 GHz (pvclock.c).  Linux
		 * takes tsc_khz and lapic_timer_period from here instead of
		 * calibrating against the PIT.
		 */
		if (!amd && prof->tsc_khz != 0) {
			/* KVM: its LAPIC bus (1 GHz) as the crystal, TSC = 1e9 * kHz / 1e6. */
			regs[0] = 1000000;
			regs[1] = prof->tsc_khz;
			regs[2] = 1000000000;
		} else if (!amd) {
			regs[0] = TSC_RATIO_DEN;
			regs[1] = TSC_RATIO_NUM;
			regs[2] = TSC_CRYSTAL_HZ;
		}
		break;
	case 0x16:
		/* Base and maximum frequency 1000 MHz, 100 MHz reference (BCLK). */
		if (!amd) {
			regs[0] = prof->tsc_khz != 0 ? prof->tsc_khz / 1000 : 1000;
			regs[1] = regs[0];
			regs[2] = 100;
		}
		break;
	case KVM_CPUID_SIGNATURE:
		regs[0] = KVM_CPUID_FEATURES;
		memcpy(&regs[1], "KVMK", 4);
		memcpy(&regs[2], "VMKV", 4);
		memcpy(&regs[3], "M\0\0\0", 4);
		break;
	case KVM_CPUID_FEATURES:
		/* kvmclock through the new MSRs, with a stable TSC (pvclock.c) only. */
		regs[0] = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
		break;
	case 0x80000000u:
		regs[0] = amd ? CPUID_MAX_EXT_AMD : CPUID_MAX_EXT_INTEL;
		/* AMD repeats the vendor here (APM Vol. 3 E.4.1); Intel returns 0. */
		if (amd)
			put_vendor(prof, regs);
		break;
	case 0x80000001u:
		regs[0] = vmm_cpuid_signature(prof);
		regs[2] = CPUIDX_LAHF | CPUIDX_ABM | (amd ? CPUIDX_TOPOEXT : 0);
		regs[3] = CPUIDX_SYSCALL | CPUIDX_NX | CPUIDX_PAGE1GB |
		    CPUIDX_RDTSCP | CPUIDX_LM;
		/*
		 * AMD mirrors the leaf 1 EDX feature bits 0-9, 12-17, 23, 24
		 * in this leaf (APM Vol. 3 E.4.2); Intel reserves them.
		 */
		if (amd) {
			uint32_t l1[4];

			vmm_cpuid(prof, vcpuid, 1, 0, l1);
			regs[3] |= l1[3] & 0x0183f3ffu;
		}
		break;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(regs, brand_string(prof) + (leaf - 0x80000002u) * 16, 16);
		break;
	case 0x80000007u:
		/* The TSC runs at a constant rate in every state. */
		regs[3] = CPUIDX_INVTSC;
		break;
	case 0x80000008u:
		/* 39-bit physical, 48-bit linear addresses (the MMU enforces both). */
		regs[0] = 39 | (48 << 8);
		/*
		 * AMD: ECX[7:0] logical processors per package - 1, ECX[15:12]
		 * their APIC ID bits (APM Vol. 3 E.4.7); Intel reserves ECX.
		 */
		if (amd)
			regs[2] = (uint32_t)(t.cores * t.threads - 1) |
			    (t.tbits + t.cbits) << 12;
		break;
	case 0x8000001eu:
		/*
		 * AMD extended APIC ID (APM Vol. 3 E.4.15): EAX the APIC ID;
		 * EBX[7:0] core ID, [15:8] threads per core - 1; ECX[7:0] node
		 * (= package) ID, [10:8] nodes per package - 1 (one).
		 */
		if (amd) {
			uint32_t id = (uint32_t)vcpuid;

			regs[0] = id;
			regs[1] = ((id >> t.tbits) & ((1u << t.cbits) - 1)) |
			    (uint32_t)(t.threads - 1) << 8;
			regs[2] = (id >> (t.tbits + t.cbits)) & 0xff;
		}
		break;
	default:
		break;
	}
}
