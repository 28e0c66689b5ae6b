/*
 * msr.c - RDMSR/WRMSR (SDM Vol. 2B, Vol. 4; AMD APM Vol. 2 appendix A)
 * and the MSRs the software CPU owns.
 *
 * Privilege: #GP(0) at CPL > 0.  Each MSR answers as the vendor profile's
 * processor would (cpu->vendor): the Intel-only ones below are unknown on
 * the AMD profile and the reverse.  Writes that set reserved bits, change
 * read-only ones or name a non-existent memory type raise #GP(0).
 *
 * Any other RDMSR exits to userland with VM_EXITCODE_RDMSR (u.msr.code =
 * ECX) and inst_length 0: userland completes it with the value in
 * u.msr.wval (or injects #GP) and the instruction replays, taking the
 * value from the replay log.  Any other WRMSR exits with VM_EXITCODE_WRMSR
 * (u.msr.code, u.msr.wval = EDX:EAX) already retired (inst_length = its
 * length), as bhyve does.  The local APIC's MSRs (APIC_BASE, x2APIC,
 * TSC_DEADLINE) are the APIC model's.
 *
 * What Linux 6.1 needs from here on the way up, without an "unchecked MSR
 * access" (docs/cpu.md, "MSRs"): IA32_UCODE_REV written and read with the
 * unchecked accessors by early Intel setup, MISC_ENABLE (fast strings,
 * else it drops ERMS), the MTRRs and PAT (mtrr_bp_init, pat_init, which
 * disables and restores MTRRdefType), SPEC_CTRL written when it picks
 * enhanced IBRS, the kvmclock MSRs, and on the AMD profile (family 0FH)
 * SYSCFG (k8_check_syscfg_dram_mod_en), HWCR (init_amd_k8) and
 * INT_PENDING_MSG (the erratum 400 check of family 0FH model 41H+).
 * MCG_CAP says there is no bank: Linux gets a machine-check architecture
 * (no "Unable to init MCE device") with nothing to poll.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_cpuid.h"

#define MSR_TSC			0x00000010
#define MSR_FEATURE_CONTROL	0x0000003a	/* Intel */
#define MSR_TSC_ADJUST		0x0000003b
#define MSR_SPEC_CTRL		0x00000048
#define MSR_PRED_CMD		0x00000049
#define MSR_UCODE_REV		0x0000008b	/* Intel BIOS_SIGN_ID, AMD PATCH_LEVEL */
#define MSR_ARCH_CAPABILITIES	0x0000010a
#define MSR_PLATFORM_INFO	0x000000ce	/* Intel */
#define MSR_MTRRCAP		0x000000fe
#define MSR_MISC_FEATURES	0x00000140	/* Intel MISC_FEATURES_ENABLES */
#define MSR_MCG_CAP		0x00000179
#define MSR_MCG_STATUS		0x0000017a
#define MSR_SYSENTER_CS		0x00000174
#define MSR_SYSENTER_ESP	0x00000175
#define MSR_SYSENTER_EIP	0x00000176
#define MSR_MISC_ENABLE		0x000001a0	/* Intel */
#define MSR_MTRR_PHYS_FIRST	0x00000200
#define MSR_MTRR_PHYS_LAST	0x0000020f
#define MSR_PAT			0x00000277
#define MSR_MTRRDEFTYPE		0x000002ff
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SFMASK		0xc0000084
#define MSR_FSBASE		0xc0000100
#define MSR_GSBASE		0xc0000101
#define MSR_KGSBASE		0xc0000102
#define MSR_TSC_AUX		0xc0000103
#define MSR_K8_SYSCFG		0xc0010010	/* AMD */
#define MSR_K7_HWCR		0xc0010015	/* AMD */
#define MSR_K8_INT_PENDING_MSG	0xc0010055	/* AMD */
#define MSR_K8_TSEG_ADDR	0xc0010112	/* AMD SMM_ADDR */
#define MSR_K8_TSEG_MASK	0xc0010113	/* AMD SMM_MASK */
#define MSR_VM_CR		0xc0010114	/* AMD */
#define MSR_DE_CFG		0xc0011029	/* AMD */
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

/*
 * IA32_ARCH_CAPABILITIES (SDM Vol. 4 table 2-2; Linux's msr-index.h): the
 * CPU speculates nothing, so every "not affected" bit is true: RDCL_NO
 * (no Meltdown, so no PTI), IBRS_ALL (enhanced IBRS: no retpolines),
 * SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO,
 * SBDR_SSDP_NO, FBSDP_NO, PSDP_NO (no MMIO stale data), BHI_NO, PBRSB_NO,
 * GDS_NO, RFDS_NO and ITS_NO; no TSX_CTRL, no FB_CLEAR, no RRSBA.
 */
#define ARCH_CAP_VALUE	((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | \
			 (1ULL << 5) | (1ULL << 6) | (1ULL << 8) | (1ULL << 13) | \
			 (1ULL << 14) | (1ULL << 15) | (1ULL << 20) | (1ULL << 24) | \
			 (1ULL << 26) | (1ULL << 27) | (1ULL << 62))
/*
 * IA32_SPEC_CTRL: IBRS, and BHI_DIS_S on Intel (CPUID 7.2:EDX[4]); no
 * STIBP, no SSBD (CPUID 7:EDX[27], [31] are clear).
 */
#define SPEC_CTRL_IBRS		0x1ULL
#define SPEC_CTRL_BHI_DIS_S	(1ULL << 10)
/* IA32_PRED_CMD: IBPB is the only command. */
#define PRED_CMD_IBPB	0x1ULL
/* UCODE_REV: revision 1 in EDX, KVM's default microcode version. */
#define UCODE_REV_VALUE	0x100000000ULL
/* FEATURE_CONTROL: locked by firmware, VMX off in and outside SMX. */
#define FEATURE_CONTROL_VALUE 0x1ULL
/* PLATFORM_INFO: maximum non-turbo ratio 10 x 100 MHz = the 1 GHz TSC; no CPUID faulting. */
#define PLATFORM_INFO_VALUE (10ULL << 8)
/* MTRRcap: 8 variable ranges, fixed ranges, write-combining; no SMRR. */
#define MTRR_VCNT	8
#define MTRRCAP_VALUE	(MTRR_VCNT | (1ULL << 8) | (1ULL << 10))
/* MISC_ENABLE: only fast-string enable (bit 0) is writable here. */
#define MISC_ENABLE_RW	0x1ULL
/* HWCR: SMMLOCK (0) and TscFreqSel (24) read as 1; bits 63:32 are reserved. */
#define HWCR_RO		((1ULL << 0) | (1ULL << 24))
/* VM_CR: SVM is not offered: LOCK and SVMDIS set (APM Vol. 2 15.30.1). */
#define VM_CR_VALUE	((1ULL << 3) | (1ULL << 4))
/* DE_CFG: LFENCE is dispatch serializing (bit 1), always, in this CPU. */
#define DE_CFG_LFENCE_SERIALIZE 0x2ULL

/* msr_read/msr_write: the MSR belongs to userland (distinct from EMU_*). */
#define MSR_NOT_OURS		(-1)

static inline bool
privileged_fault(const struct emu_cpu *cpu)
{
	return cpu->mode != EMU_MODE_REAL && cpu->cpl != 0;
}

/* Memory types of PAT (0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-; SDM Vol. 3A 12.12.2). */
static bool
pat_valid(uint64_t v)
{
	int i;
	uint8_t t;

	for (i = 0; i < 8; i++) {
		t = (uint8_t)(v >> (8 * i));
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* Memory types of the MTRRs: UC, WC (MTRRcap.WC), WT, WP, WB (12.11.1). */
static bool
mtrr_type_valid(uint8_t t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

/* Index of a fixed-range MTRR in st.mtrr_fixed, or -1 (12.11.2.2). */
static int
mtrr_fixed_index(uint32_t msr)
{
	if (msr == 0x250)
		return 0;
	if (msr == 0x258 || msr == 0x259)
		return 1 + (int)(msr - 0x258);
	if (msr >= 0x268 && msr <= 0x26f)
		return 3 + (int)(msr - 0x268);
	return -1;
}

/*
 * The MTRRs (SDM Vol. 3A 12.11.2): EMU_OK after storing @val, EMU_FAULT
 * for reserved bits or types, MSR_NOT_OURS when @msr is not one.
 */
static int
mtrr_write(struct emu_cpu *cpu, uint32_t msr, uint64_t val)
{
	int i, k;

	if (msr == MSR_MTRRDEFTYPE) {
		/* type 7:0, FE 10, E 11; the rest reserved */
		if ((val & ~0xcffULL) || !mtrr_type_valid((uint8_t)val))
			return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.mtrr_deftype = val;
		return EMU_OK;
	}
	if ((i = mtrr_fixed_index(msr)) >= 0) {
		for (k = 0; k < 8; k++)
			if (!mtrr_type_valid((uint8_t)(val >> (8 * k))))
				return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.mtrr_fixed[i] = val;
		return EMU_OK;
	}
	if (msr >= MSR_MTRR_PHYS_FIRST && msr <= MSR_MTRR_PHYS_LAST) {
		if (msr & 1) {
			/* PhysMask: V at 11, mask 38:12; 10:0 and 63:39 reserved */
			if (val & (0x7ffULL | ~EMU_PHYS_MASK))
				return emu_raise_err(cpu, IDT_GP, 0);
		} else if ((val & (0xf00ULL | ~EMU_PHYS_MASK)) || !mtrr_type_valid((uint8_t)val)) {
			/* PhysBase: type 7:0, base 38:12; 11:8 and 63:39 reserved */
			return emu_raise_err(cpu, IDT_GP, 0);
		}
		cpu->st.mtrr_var[msr - MSR_MTRR_PHYS_FIRST] = val;
		return EMU_OK;
	}
	return MSR_NOT_OURS;
}

/* EMU_OK with *val, EMU_FAULT, or MSR_NOT_OURS. */
static int
msr_read(struct emu_cpu *cpu, uint32_t msr, uint64_t *val)
{
	const struct vm_cpu_state *st = &cpu->st;
	bool intel = cpu->vendor != VMM_VENDOR_AMD;
	int i;

	switch (msr) {
	case MSR_TSC: *val = emu_tsc_read(cpu); return EMU_OK;
	case MSR_TSC_ADJUST: *val = st->tsc_adjust; return EMU_OK;
	case MSR_SPEC_CTRL: *val = st->spec_ctrl; return EMU_OK;
	case MSR_PRED_CMD:
		return emu_raise_err(cpu, IDT_GP, 0);	/* write-only */
	case MSR_MCG_CAP:
		/*
		 * Machine-check architecture without banks (CPUID 1:EDX MCE,
		 * MCA): nothing here ever fails, so there is nothing to report.
		 */
		*val = 0;
		return EMU_OK;
	case MSR_MCG_STATUS: *val = 0; return EMU_OK;
	case MSR_UCODE_REV: *val = UCODE_REV_VALUE; return EMU_OK;
	case MSR_ARCH_CAPABILITIES: *val = ARCH_CAP_VALUE; return EMU_OK;
	case MSR_MTRRCAP: *val = MTRRCAP_VALUE; return EMU_OK;
	case MSR_MTRRDEFTYPE: *val = st->mtrr_deftype; return EMU_OK;
	case MSR_SYSENTER_CS: *val = st->sysenter_cs; return EMU_OK;
	case MSR_SYSENTER_ESP: *val = st->sysenter_esp; return EMU_OK;
	case MSR_SYSENTER_EIP: *val = st->sysenter_eip; return EMU_OK;
	case MSR_PAT: *val = st->pat; return EMU_OK;
	case MSR_EFER: *val = st->efer; return EMU_OK;
	case MSR_STAR: *val = st->star; return EMU_OK;
	case MSR_LSTAR: *val = st->lstar; return EMU_OK;
	case MSR_CSTAR: *val = st->cstar; return EMU_OK;
	case MSR_SFMASK: *val = st->sfmask; return EMU_OK;
	case MSR_FSBASE: *val = st->seg[SEG_FS].base; return EMU_OK;
	case MSR_GSBASE: *val = st->seg[SEG_GS].base; return EMU_OK;
	case MSR_KGSBASE: *val = st->kgs_base; return EMU_OK;
	case MSR_TSC_AUX: *val = st->tsc_aux; return EMU_OK;
	case MSR_KVM_WALL_CLOCK_NEW: *val = cpu->clock->kvm_wall_clock; return EMU_OK;
	case MSR_KVM_SYSTEM_TIME_NEW: *val = st->kvm_system_time; return EMU_OK;
	default:
		break;
	}
	if (msr >= MSR_MTRR_PHYS_FIRST && msr <= MSR_MTRR_PHYS_LAST) {
		*val = st->mtrr_var[msr - MSR_MTRR_PHYS_FIRST];
		return EMU_OK;
	}
	if ((i = mtrr_fixed_index(msr)) >= 0) {
		*val = st->mtrr_fixed[i];
		return EMU_OK;
	}
	if (intel) {
		switch (msr) {
		case MSR_FEATURE_CONTROL: *val = FEATURE_CONTROL_VALUE; return EMU_OK;
		case MSR_PLATFORM_INFO: *val = PLATFORM_INFO_VALUE; return EMU_OK;
		case MSR_MISC_FEATURES: *val = 0; return EMU_OK;
		case MSR_MISC_ENABLE: *val = st->misc_enable; return EMU_OK;
		default: return MSR_NOT_OURS;
		}
	}
	switch (msr) {
	case MSR_K8_SYSCFG: *val = 0; return EMU_OK;
	case MSR_K7_HWCR: *val = st->hwcr; return EMU_OK;
	case MSR_K8_INT_PENDING_MSG: *val = 0; return EMU_OK;
	case MSR_K8_TSEG_ADDR:
	case MSR_K8_TSEG_MASK: *val = 0; return EMU_OK;
	case MSR_VM_CR: *val = VM_CR_VALUE; return EMU_OK;
	case MSR_DE_CFG: *val = DE_CFG_LFENCE_SERIALIZE; return EMU_OK;
	default: return MSR_NOT_OURS;
	}
}

static int
efer_write(struct emu_cpu *cpu, uint64_t val)
{
	uint64_t old = cpu->st.efer;

	if (val & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		return emu_raise_err(cpu, IDT_GP, 0);
	/* LME may not change while paging is on (9.8.5); LMA is read-only. */
	if ((cpu->st.cr0 & CR0_PG) && ((val ^ old) & EFER_LME))
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.efer = (val & ~EFER_LMA) | (old & EFER_LMA);
	if ((cpu->st.efer ^ old) & EFER_NXE)
		emu_tlb_flush(cpu, false);
	emu_update_mode(cpu);
	return EMU_OK;
}

/* MSRs of one vendor only; MSR_NOT_OURS for the others. */
static int
msr_write_vendor(struct emu_cpu *cpu, uint32_t msr, uint64_t val)
{
	struct vm_cpu_state *st = &cpu->st;

	if (cpu->vendor != VMM_VENDOR_AMD) {
		switch (msr) {
		case MSR_FEATURE_CONTROL:	/* locked */
		case MSR_PLATFORM_INFO:		/* read-only */
			return emu_raise_err(cpu, IDT_GP, 0);
		case MSR_MISC_FEATURES:
			/* CPUID faulting (bit 0) is not offered: PLATFORM_INFO[31] = 0 */
			if (val != 0)
				return emu_raise_err(cpu, IDT_GP, 0);
			return EMU_OK;
		case MSR_MISC_ENABLE:
			if ((val ^ st->misc_enable) & ~MISC_ENABLE_RW)
				return emu_raise_err(cpu, IDT_GP, 0);
			st->misc_enable = val;
			return EMU_OK;
		default:
			return MSR_NOT_OURS;
		}
	}
	switch (msr) {
	case MSR_K8_SYSCFG:
		/* No SMM, no TOM2 and no fixed-range RdDram/WrDram: all bits stay 0. */
		if (val != 0)
			return emu_raise_err(cpu, IDT_GP, 0);
		return EMU_OK;
	case MSR_K7_HWCR:
		if ((val >> 32) || (val & HWCR_RO) != HWCR_RO)
			return emu_raise_err(cpu, IDT_GP, 0);
		st->hwcr = val;
		return EMU_OK;
	case MSR_K8_INT_PENDING_MSG:
		/* No C1E or SMI on halt to message about: the register reads 0. */
		return EMU_OK;
	case MSR_K8_TSEG_ADDR:
	case MSR_K8_TSEG_MASK:
		/* Locked by HWCR.SMMLOCK (APM Vol. 2 10.2.5). */
		return emu_raise_err(cpu, IDT_GP, 0);
	case MSR_VM_CR:
		/* LOCK is set: SVMDIS cannot change (APM Vol. 2 15.30.1). */
		return emu_raise_err(cpu, IDT_GP, 0);
	case MSR_DE_CFG:
		if (val & ~DE_CFG_LFENCE_SERIALIZE)
			return emu_raise_err(cpu, IDT_GP, 0);
		return EMU_OK;
	default:
		return MSR_NOT_OURS;
	}
}

static int
msr_write(struct emu_cpu *cpu, uint32_t msr, uint64_t val)
{
	struct vm_cpu_state *st = &cpu->st;
	int rc;

	switch (msr) {
	case MSR_TSC:
		emu_tsc_write(cpu, val);
		break;
	case MSR_TSC_ADJUST:
		emu_tsc_adjust_write(cpu, val);
		break;
	case MSR_SPEC_CTRL:
		/* A plain register: nothing here speculates. */
		if (val & ~(SPEC_CTRL_IBRS |
		    (cpu->vendor != VMM_VENDOR_AMD ? SPEC_CTRL_BHI_DIS_S : 0)))
			return emu_raise_err(cpu, IDT_GP, 0);
		st->spec_ctrl = val;
		break;
	case MSR_PRED_CMD:
		/* IBPB: there are no predictors to flush. */
		if (val & ~PRED_CMD_IBPB)
			return emu_raise_err(cpu, IDT_GP, 0);
		break;
	case MSR_UCODE_REV:
		/*
		 * Intel software writes 0 and executes CPUID to latch the
		 * revision (SDM Vol. 3A 10.11.7.1); KVM ignores guest writes.
		 */
		break;
	case MSR_ARCH_CAPABILITIES:
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
		return emu_raise_err(cpu, IDT_GP, 0);	/* read-only */
	case MSR_MCG_STATUS:
		/* No machine check in progress: only 0 may be written (SDM Vol. 3B 16.3.1.2). */
		if (val != 0)
			return emu_raise_err(cpu, IDT_GP, 0);
		break;
	case MSR_SYSENTER_CS:
		st->sysenter_cs = val & 0xffffffffULL;
		break;
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		if (!emu_canonical(val))
			return emu_raise_err(cpu, IDT_GP, 0);
		if (msr == MSR_SYSENTER_ESP)
			st->sysenter_esp = val;
		else
			st->sysenter_eip = val;
		break;
	case MSR_PAT:
		if (!pat_valid(val))
			return emu_raise_err(cpu, IDT_GP, 0);
		st->pat = val;
		break;
	case MSR_EFER:
		return efer_write(cpu, val);
	case MSR_STAR:
		st->star = val;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
		if (!emu_canonical(val))
			return emu_raise_err(cpu, IDT_GP, 0);
		if (msr == MSR_LSTAR)
			st->lstar = val;
		else
			st->cstar = val;
		break;
	case MSR_SFMASK:
		if (val >> 32)
			return emu_raise_err(cpu, IDT_GP, 0);
		st->sfmask = val;
		break;
	case MSR_FSBASE:
	case MSR_GSBASE:
	case MSR_KGSBASE:
		if (!emu_canonical(val))
			return emu_raise_err(cpu, IDT_GP, 0);
		if (msr == MSR_FSBASE)
			st->seg[SEG_FS].base = val;
		else if (msr == MSR_GSBASE)
			st->seg[SEG_GS].base = val;
		else
			st->kgs_base = val;
		break;
	case MSR_TSC_AUX:
		if (val >> 32)
			return emu_raise_err(cpu, IDT_GP, 0);
		st->tsc_aux = val;
		break;
	case MSR_KVM_WALL_CLOCK_NEW:
		emu_kvm_wall_clock_write(cpu, val);
		break;
	case MSR_KVM_SYSTEM_TIME_NEW:
		emu_kvm_system_time_write(cpu, val);
		break;
	default:
		rc = mtrr_write(cpu, msr, val);
		if (rc == MSR_NOT_OURS)
			rc = msr_write_vendor(cpu, msr, val);
		return rc;
	}
	return EMU_OK;
}

int
op_rdmsr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct emu_io_log *log = &cpu->io_log;
	struct vm_exit *vme = cpu->exit;
	uint32_t msr = (uint32_t)cpu->st.gpr[GPR_RCX];
	uint64_t val = 0;
	int rc;

	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = msr_read(cpu, msr, &val);
	if (rc == EMU_FAULT)
		return rc;
	if (rc == MSR_NOT_OURS) {
		if (log->pos < log->n) {
			val = log->data[log->pos++];
		} else {
			memset(&vme->u, 0, sizeof(vme->u));
			vme->exitcode = VM_EXITCODE_RDMSR;
			vme->rip = cpu->st.rip;
			vme->inst_length = 0;
			vme->u.msr.code = msr;
			log->rip = cpu->st.rip;
			log->pending_read = 1;
			return EMU_EXIT;
		}
	}
	cpu->st.gpr[GPR_RAX] = (uint32_t)val;
	cpu->st.gpr[GPR_RDX] = val >> 32;
	return EMU_OK;
}

int
op_wrmsr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_exit *vme = cpu->exit;
	uint32_t msr = (uint32_t)cpu->st.gpr[GPR_RCX];
	uint64_t val;
	int rc;

	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	val = (cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)cpu->st.gpr[GPR_RAX];
	rc = msr_write(cpu, msr, val);
	if (rc == EMU_OK || rc == EMU_FAULT)
		return rc;
	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_WRMSR;
	vme->rip = cpu->st.rip;
	vme->inst_length = in->len;
	vme->u.msr.code = msr;
	vme->u.msr.wval = val;
	return EMU_EXIT;
}
