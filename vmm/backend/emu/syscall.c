/*
 * syscall.c - the fast system call instructions: SYSCALL/SYSRET (SDM Vol.
 * 2B SYSCALL, SYSRET; AMD APM Vol. 3 SYSCALL, SYSRET) and SYSENTER/SYSEXIT
 * (SDM Vol. 2B SYSENTER, SYSEXIT, Vol. 3A 5.8.7; AMD APM Vol. 3 SYSENTER,
 * SYSEXIT).
 *
 * Their segments come from MSRs, not from the GDT: CS and SS are loaded
 * with fixed flat descriptors and the CPL changes with SS.DPL (the VMX
 * convention this CPU uses, emu_update_mode).  Intel and AMD differ here
 * by design, not only where a manual leaves something undefined; each
 * difference is behind cpu->vendor (docs/cpu.md, "Vendor profiles"):
 *
 *   SYSCALL   Intel: 64-bit mode only (#UD elsewhere).  AMD: also
 *             compatibility mode (to CSTAR) and legacy protected mode
 *             (to STAR[31:0], IF VM RF cleared, no SFMASK); R11 gets RFLAGS
 *             with RF cleared.
 *   SYSRET    Intel: 64-bit mode only; #GP(0) in ring 0 for a non-canonical
 *             RCX; SS gets flat ring-3 attributes.  AMD: also legacy and
 *             compatibility mode (to 32-bit code, IF set, EIP = ECX); no
 *             canonical check, the fetch at CPL 3 faults; SS keeps its
 *             base, limit and attributes, only the selector changes.
 *   SYSENTER  Intel: also IA-32e mode (64-bit or compatibility) into
 *   SYSEXIT   64-bit code; REX.W SYSEXIT returns to 64-bit code.  AMD:
 *             legacy mode only, #UD in long mode.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_cpuid.h"

/* Access rights (VMCS layout): G D/B L P DPL S type. */
#define AR_CODE64_DPL0	0xa09b
#define AR_CODE32_DPL0	0xc09b
#define AR_DATA_DPL0	0xc093
#define AR_CODE64_DPL3	0xa0fb
#define AR_CODE32_DPL3	0xc0fb
#define AR_DATA_DPL3	0xc0f3
#define AR_DPL_MASK	0x0060

/* RFLAGS bits SYSRET takes from R11 (SDM Vol. 2B SYSRET): not RF, not VM. */
#define SYSRET_RFLAGS	0x3c7fd7ULL

static void
flat_seg(struct vm_seg *s, uint16_t sel, uint32_t access)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->access = access;
}

static bool
amd(const struct emu_cpu *cpu)
{
	return cpu->vendor == VMM_VENDOR_AMD;
}

/* ---- SYSCALL / SYSRET ---- */

int
op_syscall(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(cpu->st.star >> 32);
	uint64_t rflags, target;

	if (!(cpu->st.efer & EFER_SCE))
		return emu_raise(cpu, IDT_UD);
	/* Intel: "IF (CS.L != 1) or (IA32_EFER.LMA != 1) ... THEN #UD". */
	if (!amd(cpu) && cpu->mode != EMU_MODE_LONG64)
		return emu_raise(cpu, IDT_UD);
	/*
	 * AMD's pseudo-code does not exclude real mode, where it would leave
	 * 32-bit code with CR0.PE = 0 (a state this CPU does not model); we
	 * raise #UD there as KVM's emulator does (em_syscall).
	 */
	if (cpu->mode == EMU_MODE_REAL)
		return emu_raise(cpu, IDT_UD);
	rflags = emu_rflags(cpu);
	if (!(cpu->st.efer & EFER_LMA)) {
		/*
		 * AMD legacy mode (APM Vol. 3 SYSCALL, SYSCALL_LEGACY_MODE): ECX
		 * = return EIP, EIP = STAR[31:0], 32-bit flat CS/SS at DPL 0;
		 * SFMASK is not used: IF, VM and RF are cleared.
		 */
		emu_reg_write(cpu, GPR_RCX, 4, 0, cpu->next_rip);
		flat_seg(&cpu->st.seg[SEG_CS], sel & 0xfffc, AR_CODE32_DPL0);
		flat_seg(&cpu->st.seg[SEG_SS], (uint16_t)(sel + 8), AR_DATA_DPL0);
		emu_set_rflags(cpu, rflags & ~(RFL_IF | RFL_VM | RFL_RF));
		cpu->next_rip = (uint32_t)cpu->st.star;
		emu_update_mode(cpu);
		return EMU_OK;
	}
	/* IA-32e: to 64-bit code at LSTAR, or CSTAR from compatibility mode (AMD). */
	target = cpu->mode == EMU_MODE_LONG64 ? cpu->st.lstar : cpu->st.cstar;
	cpu->st.gpr[GPR_RCX] = cpu->next_rip;
	/* SDM: R11 := RFLAGS; APM: "R11.q = RFLAGS // with rf cleared". */
	cpu->st.gpr[GPR_R11] = amd(cpu) ? rflags & ~RFL_RF : rflags;
	/* CS: 64-bit DPL 0 code; SS: DPL 0 writable data (fixed, not read from the GDT). */
	flat_seg(&cpu->st.seg[SEG_CS], sel & 0xfffc, AR_CODE64_DPL0);
	flat_seg(&cpu->st.seg[SEG_SS], (uint16_t)(sel + 8), AR_DATA_DPL0);
	emu_set_rflags(cpu, rflags & ~(cpu->st.sfmask | RFL_RF));
	cpu->next_rip = target;
	emu_update_mode(cpu);
	return EMU_OK;
}

/*
 * AMD's SYSRET changes the SS selector only: "SS base, limit, attributes
 * unchanged" (APM Vol. 3 SYSRET), so a null SS left by an interrupt stays
 * unusable at CPL 3 (the erratum Linux works around as
 * X86_BUG_SYSRET_SS_ATTRS).  SVM keeps the CPL apart from SS; here the CPL
 * is SS.DPL, so DPL alone becomes 3, as KVM reports SS.DPL = VMCB.CPL.
 * The APM writes the selector as STAR[63:48] + 8 without forcing RPL 3.
 */
static void
sysret_ss_amd(struct emu_cpu *cpu, uint16_t sel)
{
	struct vm_seg *ss = &cpu->st.seg[SEG_SS];

	ss->sel = (uint16_t)(sel + 8);
	ss->access = (ss->access & ~AR_DPL_MASK) | (3u << 5);
}

int
op_sysret(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(cpu->st.star >> 48);
	uint64_t rip;

	if (!(cpu->st.efer & EFER_SCE))
		return emu_raise(cpu, IDT_UD);
	if (!amd(cpu) && cpu->mode != EMU_MODE_LONG64)
		return emu_raise(cpu, IDT_UD);
	/* APM: "IF ((!PROTECTED_MODE) || (CPL != 0)) EXCEPTION [#GP(0)]". */
	if (cpu->mode == EMU_MODE_REAL || cpu->cpl != 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	if (cpu->mode != EMU_MODE_LONG64) {
		/*
		 * AMD legacy and compatibility mode (SYSRET_NON_64BIT_MODE):
		 * to 32-bit code at ECX; RFLAGS is not taken from R11, IF is set.
		 */
		rip = (uint32_t)cpu->st.gpr[GPR_RCX];
		flat_seg(&cpu->st.seg[SEG_CS], (uint16_t)(sel | 3), AR_CODE32_DPL3);
		sysret_ss_amd(cpu, sel);
		emu_set_rflags(cpu, emu_rflags(cpu) | RFL_IF);
		cpu->next_rip = rip;
		emu_update_mode(cpu);
		return EMU_OK;
	}
	if (in->opsize == 8) {
		rip = cpu->st.gpr[GPR_RCX];
		/*
		 * Intel raises #GP(0) in ring 0 for a non-canonical RCX.  AMD
		 * returns: the fetch faults at CPL 3 with the user RSP in place.
		 */
		if (!amd(cpu) && !emu_canonical(rip))
			return emu_raise_err(cpu, IDT_GP, 0);
		flat_seg(&cpu->st.seg[SEG_CS], (uint16_t)((sel + 16) | 3), AR_CODE64_DPL3);
	} else {
		rip = (uint32_t)cpu->st.gpr[GPR_RCX];
		flat_seg(&cpu->st.seg[SEG_CS], (uint16_t)(sel | 3), AR_CODE32_DPL3);
	}
	/* Intel: SS = (STAR[63:48] + 8) | 3, flat ring-3 data (SDM Vol. 2B SYSRET). */
	if (amd(cpu))
		sysret_ss_amd(cpu, sel);
	else
		flat_seg(&cpu->st.seg[SEG_SS], (uint16_t)((sel + 8) | 3), AR_DATA_DPL3);
	emu_set_rflags(cpu, (cpu->st.gpr[GPR_R11] & SYSRET_RFLAGS) | 0x2);
	cpu->next_rip = rip;
	emu_update_mode(cpu);
	return EMU_OK;
}

/* ---- SYSENTER / SYSEXIT ---- */

/*
 * Checks both share: AMD does not recognize them in long mode (APM Vol. 3
 * SYSENTER, SYSEXIT: #UD); then #GP(0) in real mode or with
 * IA32_SYSENTER_CS[15:2] = 0 (SDM Vol. 2B SYSENTER, SYSEXIT).
 */
static int
sysenter_check(struct emu_cpu *cpu)
{
	if (amd(cpu) && (cpu->st.efer & EFER_LMA))
		return emu_raise(cpu, IDT_UD);
	if (cpu->mode == EMU_MODE_REAL || (cpu->st.sysenter_cs & 0xfffc) == 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

/*
 * SYSENTER (SDM Vol. 2B SYSENTER): to CPL 0 at IA32_SYSENTER_CS:EIP with
 * the stack IA32_SYSENTER_ESP.  In IA-32e mode (Intel) the target is
 * 64-bit code and both MSRs are used whole (WRMSR keeps them canonical);
 * elsewhere their low 32 bits.  VM, IF (and RF) are cleared; nothing is
 * saved.
 */
int
op_sysenter(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(cpu->st.sysenter_cs & 0xfffc);
	bool ia32e = (cpu->st.efer & EFER_LMA) != 0;
	int rc;

	rc = sysenter_check(cpu);
	if (rc != EMU_OK)
		return rc;
	emu_set_rflags(cpu, emu_rflags(cpu) & ~(RFL_VM | RFL_IF | RFL_RF));
	flat_seg(&cpu->st.seg[SEG_CS], sel, ia32e ? AR_CODE64_DPL0 : AR_CODE32_DPL0);
	flat_seg(&cpu->st.seg[SEG_SS], (uint16_t)(sel + 8), AR_DATA_DPL0);
	if (ia32e) {
		cpu->st.gpr[GPR_RSP] = cpu->st.sysenter_esp;
		cpu->next_rip = cpu->st.sysenter_eip;
	} else {
		emu_reg_write(cpu, GPR_RSP, 4, 0, cpu->st.sysenter_esp);
		cpu->next_rip = (uint32_t)cpu->st.sysenter_eip;
	}
	emu_update_mode(cpu);
	return EMU_OK;
}

/*
 * SYSEXIT (SDM Vol. 2B SYSEXIT): from CPL 0 to CPL 3 at RDX with the stack
 * RCX.  REX.W returns to 64-bit code with CS = IA32_SYSENTER_CS + 32 (RPL
 * 3) and needs canonical RCX and RDX (#GP(0)); otherwise to 32-bit code
 * (protected or compatibility mode) at EDX, ESP = ECX, CS = +16.  SS is CS
 * + 8.  RFLAGS is unchanged.
 */
int
op_sysexit(struct emu_cpu *cpu, const struct emu_insn *in)
{
	bool to64 = in->opsize == 8;
	uint16_t sel;
	int rc;

	rc = sysenter_check(cpu);
	if (rc != EMU_OK)
		return rc;
	if (cpu->cpl != 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	if (to64 && (!emu_canonical(cpu->st.gpr[GPR_RCX]) ||
	    !emu_canonical(cpu->st.gpr[GPR_RDX])))
		return emu_raise_err(cpu, IDT_GP, 0);
	sel = (uint16_t)((cpu->st.sysenter_cs + (to64 ? 32 : 16)) | 3);
	flat_seg(&cpu->st.seg[SEG_CS], sel, to64 ? AR_CODE64_DPL3 : AR_CODE32_DPL3);
	flat_seg(&cpu->st.seg[SEG_SS], (uint16_t)(sel + 8), AR_DATA_DPL3);
	if (to64) {
		cpu->st.gpr[GPR_RSP] = cpu->st.gpr[GPR_RCX];
		cpu->next_rip = cpu->st.gpr[GPR_RDX];
	} else {
		emu_reg_write(cpu, GPR_RSP, 4, 0, cpu->st.gpr[GPR_RCX]);
		cpu->next_rip = (uint32_t)cpu->st.gpr[GPR_RDX];
	}
	emu_update_mode(cpu);
	return EMU_OK;
}
