/*
 * system.c - the system instructions of the software CPU: HLT, CLI/STI,
 * CPUID, RDTSC(P), MOV CR/DR, the 0F 00 and 0F 01 groups
 * (descriptor tables, LLDT/LTR, SMSW/LMSW, INVLPG, SWAPGS), CLTS, INVD,
 * LAR/LSL, ARPL, RDRAND/RDSEED/RDPID; and the descriptor-table helpers
 * control.c shares.  SYSCALL/SYSRET and SYSENTER/SYSEXIT are in syscall.c,
 * RDMSR/WRMSR in msr.c, the TSC in pvclock.c.
 *
 * Privilege: every instruction the SDM marks privileged raises #GP(0) at
 * CPL > 0 before looking at its operands.  Reserved-bit and mode rules for
 * control registers follow SDM Vol. 2B "MOV-Move to/from Control
 * Registers", Vol. 3A 2.5 and 9.8.5.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_cpuid.h"

/* CR0 bits that exist (SDM Vol. 3A 2.5); writes to the others are ignored. */
#define CR0_DEFINED	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | \
			 CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)
/* CR4 bits for features CPUID advertises; setting any other is #GP(0). */
#define CR4_ALLOWED	(CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | \
			 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE | CR4_OSXSAVE)

static inline bool
privileged_fault(const struct emu_cpu *cpu)
{
	return cpu->mode != EMU_MODE_REAL && cpu->cpl != 0;
}

/* ---- descriptors ---- */

int
emu_desc_fetch(struct emu_cpu *cpu, uint16_t sel, uint64_t *raw, uint64_t *lap)
{
	const struct vm_seg *tab;
	uint8_t b[8];
	uint64_t la;
	int rc, i;

	tab = (sel & 4) ? &cpu->st.seg[SEG_LDTR] : &cpu->st.gdtr;
	if (((sel & 4) && SEG_DESC_UNUSABLE(tab->access)) ||
	    (uint64_t)(sel | 7) > tab->limit)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	la = tab->base + (sel & 0xfff8);
	if (!(cpu->st.efer & EFER_LMA))
		la &= 0xffffffffULL;
	rc = emu_read_linear(cpu, la, b, 8, 0);
	if (rc != EMU_OK)
		return rc;
	*raw = 0;
	for (i = 0; i < 8; i++)
		*raw |= (uint64_t)b[i] << (8 * i);
	if (lap != NULL)
		*lap = la;
	return EMU_OK;
}

void
emu_desc_to_seg(uint64_t raw, uint16_t sel, struct vm_seg *seg)
{
	uint32_t limit;

	limit = (uint32_t)(raw & 0xffff) | (uint32_t)((raw >> 32) & 0xf0000);
	seg->access = (uint32_t)((raw >> 40) & 0xff) | (uint32_t)((raw >> 52) & 0xf) << 12;
	if (seg->access & 0x8000)
		limit = (limit << 12) | 0xfff;
	seg->limit = limit;
	seg->base = ((raw >> 16) & 0xffffff) | ((raw >> 32) & 0xff000000);
	seg->sel = sel;
	memset(seg->pad, 0, sizeof(seg->pad));
}

void
emu_load_cs(struct emu_cpu *cpu, uint16_t sel, const struct vm_seg *cs, int cpl)
{
	cpu->st.seg[SEG_CS] = *cs;
	cpu->st.seg[SEG_CS].sel = (uint16_t)((sel & 0xfffc) | cpl);
	emu_update_mode(cpu);
}

void
emu_seg_load_real(struct emu_cpu *cpu, int seg, uint16_t sel)
{
	/* Real mode keeps the cached limit and attributes (SDM Vol. 3A 20.1.1). */
	cpu->st.seg[seg].sel = sel;
	cpu->st.seg[seg].base = (uint64_t)sel << 4;
	cpu->st.seg[seg].access &= ~DESC_UNUSABLE;
}

void
emu_null_outer_segs(struct emu_cpu *cpu)
{
	static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	struct vm_seg *s;
	uint32_t type;
	unsigned i;

	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		s = &cpu->st.seg[segs[i]];
		if (SEG_DESC_UNUSABLE(s->access))
			continue;
		type = SEG_DESC_TYPE(s->access);
		/* data, or non-conforming code, more privileged than the new CPL */
		if (((type & 0xc) != 0xc) && SEG_DESC_DPL(s->access) < cpu->cpl) {
			s->sel = 0;
			s->access = DESC_UNUSABLE;
		}
	}
}

/* ---- simple ones ---- */

int
op_ud(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return emu_raise(cpu, IDT_UD);
}

int
op_hlt(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_exit *vme = cpu->exit;

	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	/*
	 * The instruction retires; libvmm decides whether the vCPU sleeps
	 * (interrupts masked, nothing pending) and resumes after it.
	 */
	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_HLT;
	vme->rip = cpu->st.rip;
	vme->inst_length = in->len;
	vme->u.hlt.rflags = emu_rflags(cpu);
	cpu->st.halted = 1;
	return EMU_EXIT;
}

/* CLI/STI: IOPL-sensitive in protected mode (SDM Vol. 2A CLI, Vol. 2B STI; no VME/PVI). */
int
op_cli(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (cpu->mode != EMU_MODE_REAL &&
	    cpu->cpl > ((cpu->st.rflags & RFL_IOPL) >> 12))
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.rflags &= ~RFL_IF;
	return EMU_OK;
}

int
op_sti(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (cpu->mode != EMU_MODE_REAL &&
	    cpu->cpl > ((cpu->st.rflags & RFL_IOPL) >> 12))
		return emu_raise_err(cpu, IDT_GP, 0);
	/* Interrupts stay blocked until after the next instruction (6.8.3). */
	if (!(cpu->st.rflags & RFL_IF)) {
		cpu->st.rflags |= RFL_IF;
		cpu->st.intr_shadow |= EMU_SHADOW_STI;
		cpu->block_stop = 1;
	}
	return EMU_OK;
}

int
op_cpuid(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vmm_cpu_profile prof = { .vendor = (enum vmm_vendor)cpu->vendor };
	uint32_t r[4], leaf = (uint32_t)cpu->st.gpr[GPR_RAX];

	vmm_cpuid(cpu->prof != NULL ? cpu->prof : &prof, cpu->vcpuid, leaf,
	    (uint32_t)cpu->st.gpr[GPR_RCX], r);
	/* CPUID.1:ECX.OSXSAVE[27] mirrors CR4.OSXSAVE (SDM Vol. 2A CPUID). */
	if (leaf == 1 && (cpu->st.cr4 & CR4_OSXSAVE))
		r[2] |= 1u << 27;
	cpu->st.gpr[GPR_RAX] = r[0];
	cpu->st.gpr[GPR_RBX] = r[1];
	cpu->st.gpr[GPR_RCX] = r[2];
	cpu->st.gpr[GPR_RDX] = r[3];
	return EMU_OK;
}

int
op_rdtsc(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t t;

	if ((cpu->st.cr4 & CR4_TSD) && privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	t = emu_tsc_read(cpu);
	cpu->st.gpr[GPR_RAX] = (uint32_t)t;
	cpu->st.gpr[GPR_RDX] = t >> 32;
	return EMU_OK;
}

int
op_rdtscp(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int rc;

	rc = op_rdtsc(cpu, in);
	if (rc == EMU_OK)
		cpu->st.gpr[GPR_RCX] = (uint32_t)cpu->st.tsc_aux;
	return rc;
}

/*
 * RDPMC (SDM Vol. 2B): there is no performance counter, general or fixed
 * (CPUID 0AH is empty, no AMD counters), so every ECX names an invalid
 * one: #GP(0), at any CPL and whatever CR4.PCE says.
 */
int
op_rdpmc(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return emu_raise_err(cpu, IDT_GP, 0);
}

/*
 * RDRAND (sub 0) / RDSEED (sub 1), 0F C7 /6 /7 register forms (SDM Vol. 2B):
 * a random value of the operand size and CF = 1, or 0 and CF = 0 when none
 * is available; OF SF ZF AF PF are cleared.  The host kernel's CSPRNG
 * (getrandom(2), which never blocks once it is seeded) serves both: it is
 * seeded from the host's entropy sources, RDSEED's included where present,
 * and it is the same on every host CPU.
 */
int
op_rdrand(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v = 0;
	bool ok;

	if (in->lock || in->has_mem)
		return emu_raise(cpu, IDT_UD);
	ok = getrandom(&v, (size_t)in->opsize, GRND_NONBLOCK) == (ssize_t)in->opsize;
	if (!ok)
		v = 0;
	emu_reg_write(cpu, in->rm, in->opsize, in->rex, v);
	emu_set_arith_flags(cpu, RFL_ARITH, ok ? RFL_CF : 0);
	return EMU_OK;
}

/* RDPID F3 0F C7 /7 (SDM Vol. 2B): IA32_TSC_AUX, as RDTSCP returns it in ECX. */
int
op_rdpid(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock || in->has_mem)
		return emu_raise(cpu, IDT_UD);
	if (cpu->mode == EMU_MODE_LONG64)
		cpu->st.gpr[in->rm] = cpu->st.tsc_aux;
	else
		emu_reg_write(cpu, in->rm, 4, 0, cpu->st.tsc_aux);
	return EMU_OK;
}

/*
 * F3 0F AE /0-/3 RDFSBASE RDGSBASE WRFSBASE WRGSBASE (SDM Vol. 2B):
 * 64-bit mode only, with CR4.FSGSBASE, any CPL; 32-bit operands without
 * REX.W (a read takes the low half, a write zero-extends).  A 64-bit base
 * that is not canonical is #GP(0).  Without the F3 prefix the encodings
 * are other instructions or reserved: #UD.
 */
int
op_fsgsbase(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int seg = (in->sub & 1) ? SEG_GS : SEG_FS;
	uint64_t v;

	if (in->rep != 0xf3 || in->lock || cpu->mode != EMU_MODE_LONG64 ||
	    !(cpu->st.cr4 & CR4_FSGSBASE))
		return emu_raise(cpu, IDT_UD);
	if (in->sub < 2) {
		v = cpu->st.seg[seg].base;
		if (in->rex & 0x8)
			cpu->st.gpr[in->rm] = v;
		else
			cpu->st.gpr[in->rm] = (uint32_t)v;
		return EMU_OK;
	}
	v = cpu->st.gpr[in->rm];
	if (!(in->rex & 0x8))
		v = (uint32_t)v;
	else if (!emu_canonical(v))
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.seg[seg].base = v;
	return EMU_OK;
}

int
op_invd(struct emu_cpu *cpu, const struct emu_insn *in)
{
	/* INVD/WBINVD: privileged; there is no cache to act on. */
	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

int
op_clts(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	cpu->st.cr0 &= ~CR0_TS;
	return EMU_OK;
}

/* ---- control registers ---- */

static int
cr0_write(struct emu_cpu *cpu, uint64_t val)
{
	uint64_t old = cpu->st.cr0, efer = cpu->st.efer;
	int rc;

	if (val >> 32)
		return emu_raise_err(cpu, IDT_GP, 0);
	val = (val & CR0_DEFINED) | CR0_ET;
	if ((val & CR0_PG) && !(val & CR0_PE))
		return emu_raise_err(cpu, IDT_GP, 0);
	if ((val & CR0_NW) && !(val & CR0_CD))
		return emu_raise_err(cpu, IDT_GP, 0);
	if ((val & CR0_PG) && !(old & CR0_PG)) {
		if (efer & EFER_LME) {
			/* Activating IA-32e mode (SDM Vol. 3A 9.8.5). */
			if (!(cpu->st.cr4 & CR4_PAE) || SEG_DESC_L(cpu->st.seg[SEG_CS].access))
				return emu_raise_err(cpu, IDT_GP, 0);
			efer |= EFER_LMA;
		} else if (cpu->st.cr4 & CR4_PAE) {
			rc = emu_load_pdptes(cpu, cpu->st.cr3);
			if (rc != EMU_OK)
				return rc;
		}
	} else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
		/* Leaving IA-32e mode is only allowed from compatibility mode (9.8.5.4). */
		if (cpu->mode == EMU_MODE_LONG64)
			return emu_raise_err(cpu, IDT_GP, 0);
		efer &= ~EFER_LMA;
	}
	cpu->st.cr0 = val;
	cpu->st.efer = efer;
	if ((val ^ old) & (CR0_PG | CR0_PE | CR0_WP))
		emu_tlb_flush(cpu, false);
	emu_update_mode(cpu);
	return EMU_OK;
}

static int
cr3_write(struct emu_cpu *cpu, uint64_t val)
{
	int rc;

	if (cpu->st.efer & EFER_LMA) {
		/* No PCID: bits 63:MAXPHYADDR are reserved. */
		if (val & ~EMU_PHYS_MASK)
			return emu_raise_err(cpu, IDT_GP, 0);
	} else {
		val &= 0xffffffffULL;
		if ((cpu->st.cr4 & CR4_PAE) && (cpu->st.cr0 & CR0_PG)) {
			rc = emu_load_pdptes(cpu, val);
			if (rc != EMU_OK)
				return rc;
		}
	}
	cpu->st.cr3 = val;
	emu_tlb_flush(cpu, true);
	return EMU_OK;
}

static int
cr4_write(struct emu_cpu *cpu, uint64_t val)
{
	uint64_t old = cpu->st.cr4;
	int rc;

	if (val & ~CR4_ALLOWED)
		return emu_raise_err(cpu, IDT_GP, 0);
	if ((cpu->st.efer & EFER_LMA) && !(val & CR4_PAE))
		return emu_raise_err(cpu, IDT_GP, 0);
	if ((val & CR4_PAE) && !(old & CR4_PAE) && (cpu->st.cr0 & CR0_PG) &&
	    !(cpu->st.efer & EFER_LMA)) {
		rc = emu_load_pdptes(cpu, cpu->st.cr3);
		if (rc != EMU_OK)
			return rc;
	}
	cpu->st.cr4 = val;
	/* Changing PGE, PAE or PSE invalidates everything, global too (4.10.4.1). */
	if ((val ^ old) & (CR4_PGE | CR4_PAE | CR4_PSE))
		emu_tlb_flush(cpu, false);
	return EMU_OK;
}

int
op_movcr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int cr = in->reg, size = in->opsize;
	uint64_t val;

	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
		return emu_raise(cpu, IDT_UD);
	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	if (in->opcode == 0x20) {
		switch (cr) {
		case 0: val = cpu->st.cr0; break;
		case 2: val = cpu->st.cr2; break;
		case 3: val = cpu->st.cr3; break;
		case 4: val = cpu->st.cr4; break;
		default:
			/* CR8 is TPR[7:4] of the local APIC (SDM Vol. 3A 11.8.6.1). */
			if (cpu->intr_src.get_tpr != NULL)
				cpu->st.cr8 = cpu->intr_src.get_tpr(cpu->intr_src.arg) >> 4;
			val = cpu->st.cr8;
			break;
		}
		emu_reg_write(cpu, in->rm, size, 1, val);
		return EMU_OK;
	}
	val = emu_reg_read(cpu, in->rm, size, 1);
	switch (cr) {
	case 0:
		return cr0_write(cpu, val);
	case 2:
		cpu->st.cr2 = val;
		return EMU_OK;
	case 3:
		return cr3_write(cpu, val);
	case 4:
		return cr4_write(cpu, val);
	default:
		if (val >> 4)
			return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.cr8 = val;
		if (cpu->intr_src.set_tpr != NULL) {
			cpu->intr_src.set_tpr(cpu->intr_src.arg, (uint8_t)(val << 4));
			cpu->block_stop = 1;	/* a lower TPR may let an interrupt in */
		}
		return EMU_OK;
	}
}

/* MOV DR (SDM Vol. 2B; Vol. 3A 17.2): DR4/DR5 alias DR6/DR7 unless CR4.DE. */
int
op_movdr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int dr = in->reg, size = in->opsize;
	uint64_t val;

	if (dr > 7)
		return emu_raise(cpu, IDT_UD);
	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	if (dr == 4 || dr == 5) {
		if (cpu->st.cr4 & CR4_DE)
			return emu_raise(cpu, IDT_UD);
		dr += 2;
	}
	if (cpu->st.dr[7] & (1ULL << 13)) {
		/* General detect: #DB fault with DR6.BD, GD cleared (17.2.4). */
		cpu->st.dr[6] |= 1ULL << 13;
		cpu->st.dr[7] &= ~(1ULL << 13);
		return emu_raise(cpu, IDT_DB);
	}
	if (in->opcode == 0x21) {
		emu_reg_write(cpu, in->rm, size, 1, cpu->st.dr[dr]);
		return EMU_OK;
	}
	val = emu_reg_read(cpu, in->rm, size, 1);
	switch (dr) {
	case 6:
		if (val >> 32)
			return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.dr[6] = (val & 0xe00fULL) | 0xffff0ff0ULL;
		break;
	case 7:
		if (val >> 32)
			return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.dr[7] = (val & ~0xd800ULL) | 0x400ULL;
		break;
	default:
		cpu->st.dr[dr] = val;
		break;
	}
	return EMU_OK;
}

/* ---- 0F 00: SLDT STR LLDT LTR VERR VERW ---- */

/* Read a 16-byte system descriptor's upper half in IA-32e mode (SDM Vol. 3A 7.2.3, 3.5.2). */
static int
sysdesc_base_hi(struct emu_cpu *cpu, uint64_t la, uint16_t sel, uint64_t *base_hi)
{
	uint8_t b[8];
	uint64_t hi = 0;
	int rc, i;

	if ((uint64_t)((sel & 0xfff8) + 15) > cpu->st.gdtr.limit)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	rc = emu_read_linear(cpu, la + 8, b, 8, 0);
	if (rc != EMU_OK)
		return rc;
	for (i = 0; i < 8; i++)
		hi |= (uint64_t)b[i] << (8 * i);
	if ((hi >> 40) & 0x1f)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	*base_hi = hi & 0xffffffffULL;
	return EMU_OK;
}

static int
load_ldt_or_tr(struct emu_cpu *cpu, uint16_t sel, bool tr)
{
	struct vm_seg s;
	uint64_t raw, la, base_hi = 0;
	uint32_t type;
	int rc;

	if ((sel & 0xfffc) == 0) {
		if (tr)
			return emu_raise_err(cpu, IDT_GP, 0);
		cpu->st.seg[SEG_LDTR].sel = sel;
		cpu->st.seg[SEG_LDTR].access = DESC_UNUSABLE;
		return EMU_OK;
	}
	if (sel & 4)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	rc = emu_desc_fetch(cpu, sel, &raw, &la);
	if (rc != EMU_OK)
		return rc;
	emu_desc_to_seg(raw, sel, &s);
	type = SEG_DESC_TYPE(s.access);
	if (SEG_DESC_S(s.access))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if (tr) {
		/* Available TSS: 9 (32/64-bit), or 1 (16-bit) outside IA-32e mode. */
		if (type != 9 && (type != 1 || (cpu->st.efer & EFER_LMA)))
			return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	} else if (type != 2) {
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	}
	if (!SEG_DESC_PRESENT(s.access))
		return emu_raise_err(cpu, IDT_NP, sel & 0xfffc);
	if (cpu->st.efer & EFER_LMA) {
		rc = sysdesc_base_hi(cpu, la, sel, &base_hi);
		if (rc != EMU_OK)
			return rc;
		s.base |= base_hi << 32;
		if (!emu_canonical(s.base))
			return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	}
	if (tr) {
		/* Mark the descriptor busy (SDM Vol. 3A 7.2.2). */
		uint8_t ab = (uint8_t)(((raw >> 40) & 0xff) | 0x2);

		rc = emu_write_linear(cpu, la + 5, &ab, 1, 0);
		if (rc != EMU_OK)
			return rc;
		s.access |= 0x2;
		cpu->st.seg[SEG_TR] = s;
	} else {
		cpu->st.seg[SEG_LDTR] = s;
	}
	return EMU_OK;
}

/*
 * The descriptor LAR, LSL, VERR and VERW look at: *found is false when the
 * selector is null or lies outside its table (or the LDT is unusable),
 * which those instructions report as ZF = 0, not as a fault.  Reading the
 * table itself can still fault (#PF), and does.
 */
static int
desc_probe(struct emu_cpu *cpu, uint16_t sel, bool *found, uint64_t *raw)
{
	const struct vm_seg *tab;

	*found = false;
	tab = (sel & 4) ? &cpu->st.seg[SEG_LDTR] : &cpu->st.gdtr;
	if ((sel & 0xfffc) == 0 || ((sel & 4) && SEG_DESC_UNUSABLE(tab->access)) ||
	    (uint64_t)(sel | 7) > tab->limit)
		return EMU_OK;
	*found = true;
	return emu_desc_fetch(cpu, sel, raw, NULL);
}

/* DPL >= max(CPL, RPL), or a conforming code segment (no DPL check). */
static bool
desc_visible(const struct emu_cpu *cpu, uint16_t sel, const struct vm_seg *s)
{
	uint32_t type = SEG_DESC_TYPE(s->access);
	int eff = cpu->cpl > (sel & 3) ? cpu->cpl : (sel & 3);

	if (SEG_DESC_S(s->access) && (type & 0xc) == 0xc)
		return true;
	return (int)SEG_DESC_DPL(s->access) >= eff;
}

/* VERR/VERW (SDM Vol. 2B): ZF = the segment is readable/writable at CPL and RPL. */
static int
verify_seg(struct emu_cpu *cpu, uint16_t sel, bool write)
{
	struct vm_seg s;
	uint64_t raw;
	uint32_t type;
	bool ok = false, found;
	int rc;

	rc = desc_probe(cpu, sel, &found, &raw);
	if (rc != EMU_OK)
		return rc;
	if (found) {
		emu_desc_to_seg(raw, sel, &s);
		type = SEG_DESC_TYPE(s.access);
		/* System descriptors never pass; present is not checked. */
		if (SEG_DESC_S(s.access) && desc_visible(cpu, sel, &s)) {
			if (write)
				ok = !(type & 0x8) && (type & 0x2);
			else
				ok = !(type & 0x8) || (type & 0x2);
		}
	}
	emu_set_arith_flags(cpu, RFL_ZF, ok ? RFL_ZF : 0);
	return EMU_OK;
}

/*
 * LAR 0F 02 / LSL 0F 03 (SDM Vol. 2A LAR, LSL, tables "Segment and Gate
 * Types"): every code and data descriptor is valid; of the system ones,
 * outside IA-32e mode LAR takes TSS (1 3 9 B), LDT (2), call gates (4 C)
 * and task gates (5), LSL only TSS and LDT; in IA-32e mode LAR takes the
 * 64-bit TSS (9 B) and call gate (C) but not the LDT, LSL the TSS and LDT.
 * (AMD also accepts the LDT for LAR and checks the upper half of 16-byte
 * descriptors; Intel documents neither.)  On success ZF = 1 and the
 * destination gets the access rights (descriptor dword 1 & 00F0FF00, FF00
 * at 16 bits) or the byte-granular limit; otherwise ZF = 0 and it is left
 * alone.  #UD in real mode.
 */
int
op_larlsl(struct emu_cpu *cpu, const struct emu_insn *in)
{
	static const uint16_t lar_legacy = 0x1a3e, lar_ia32e = 0x1a00;
	static const uint16_t lsl_legacy = 0x0a0e, lsl_ia32e = 0x0a04;
	struct vm_seg s;
	uint64_t v, raw, res;
	uint16_t sel, valid;
	bool lsl = in->opcode == 0x03, found, ok = false;
	int rc;

	if (in->lock || cpu->mode == EMU_MODE_REAL)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, 2, &v);
	if (rc != EMU_OK)
		return rc;
	sel = (uint16_t)v;
	rc = desc_probe(cpu, sel, &found, &raw);
	if (rc != EMU_OK)
		return rc;
	if (found) {
		emu_desc_to_seg(raw, sel, &s);
		if (cpu->st.efer & EFER_LMA)
			valid = lsl ? lsl_ia32e : lar_ia32e;
		else
			valid = lsl ? lsl_legacy : lar_legacy;
		ok = (SEG_DESC_S(s.access) ||
		    (valid >> SEG_DESC_TYPE(s.access)) & 1) &&
		    desc_visible(cpu, sel, &s);
	}
	if (ok) {
		if (lsl)
			res = s.limit;
		else
			res = (raw >> 32) & (in->opsize == 2 ? 0xff00 : 0x00f0ff00);
		emu_reg_write(cpu, in->reg, in->opsize, in->rex, res);
	}
	emu_set_arith_flags(cpu, RFL_ZF, ok ? RFL_ZF : 0);
	return EMU_OK;
}

/*
 * ARPL 63 /r outside 64-bit mode (SDM Vol. 2A ARPL): raise the RPL of the
 * 16-bit destination selector to the source's; ZF tells whether it
 * changed.  Memory is written only when it changes.  #UD in real mode.
 */
int
op_arpl(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t dst, src;
	int rc;

	if (in->lock || cpu->mode == EMU_MODE_REAL)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, 2, &dst);
	if (rc != EMU_OK)
		return rc;
	src = emu_reg_read(cpu, in->reg, 2, in->rex);
	if ((dst & 3) < (src & 3)) {
		rc = emu_rm_write(cpu, in, 2, (dst & ~3ULL) | (src & 3));
		if (rc != EMU_OK)
			return rc;
		emu_set_arith_flags(cpu, RFL_ZF, RFL_ZF);
	} else {
		emu_set_arith_flags(cpu, RFL_ZF, 0);
	}
	return EMU_OK;
}

int
op_grp6(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int rc;

	if (cpu->mode == EMU_MODE_REAL)
		return emu_raise(cpu, IDT_UD);
	switch (in->sub) {
	case 0:		/* SLDT */
	case 1:		/* STR */
		v = cpu->st.seg[in->sub == 0 ? SEG_LDTR : SEG_TR].sel;
		return emu_rm_write(cpu, in, in->has_mem ? 2 : in->opsize, v);
	case 2:		/* LLDT */
	case 3:		/* LTR */
		if (cpu->cpl != 0)
			return emu_raise_err(cpu, IDT_GP, 0);
		rc = emu_rm_read(cpu, in, 2, &v);
		if (rc != EMU_OK)
			return rc;
		return load_ldt_or_tr(cpu, (uint16_t)v, in->sub == 3);
	case 4:		/* VERR */
	case 5:		/* VERW */
		rc = emu_rm_read(cpu, in, 2, &v);
		if (rc != EMU_OK)
			return rc;
		return verify_seg(cpu, (uint16_t)v, in->sub == 5);
	default:
		return emu_raise(cpu, IDT_UD);
	}
}

/* ---- 0F 01 ---- */

static int
store_dtr(struct emu_cpu *cpu, const struct emu_insn *in, const struct vm_seg *dtr)
{
	uint8_t b[10];
	int n, i;

	/* limit, then a 64-bit base in 64-bit mode, else the full 32-bit base. */
	b[0] = (uint8_t)dtr->limit;
	b[1] = (uint8_t)(dtr->limit >> 8);
	n = cpu->mode == EMU_MODE_LONG64 ? 8 : 4;
	for (i = 0; i < n; i++)
		b[2 + i] = (uint8_t)(dtr->base >> (8 * i));
	return emu_write(cpu, in->seg, emu_ea(cpu, in), b, 2 + n);
}

static int
load_dtr(struct emu_cpu *cpu, const struct emu_insn *in, struct vm_seg *dtr)
{
	uint8_t b[10];
	uint64_t base = 0;
	int n, i, rc;

	if (cpu->mode != EMU_MODE_REAL && cpu->cpl != 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	n = cpu->mode == EMU_MODE_LONG64 ? 8 : 4;
	rc = emu_read(cpu, in->seg, emu_ea(cpu, in), b, 2 + n);
	if (rc != EMU_OK)
		return rc;
	for (i = 0; i < n; i++)
		base |= (uint64_t)b[2 + i] << (8 * i);
	/* 16-bit operand size loads a 24-bit base (SDM Vol. 2A LGDT/LIDT). */
	if (cpu->mode != EMU_MODE_LONG64 && in->opsize == 2)
		base &= 0xffffffULL;
	if (cpu->mode == EMU_MODE_LONG64 && !emu_canonical(base))
		return emu_raise_err(cpu, IDT_GP, 0);
	dtr->base = base;
	dtr->limit = (uint32_t)(b[0] | b[1] << 8);
	return EMU_OK;
}

static int
lmsw(struct emu_cpu *cpu, uint64_t src)
{
	uint64_t cr0 = cpu->st.cr0;

	if (privileged_fault(cpu))
		return emu_raise_err(cpu, IDT_GP, 0);
	/* Loads PE MP EM TS; PE can be set but never cleared (SDM Vol. 2A LMSW). */
	cr0 = (cr0 & ~0xeULL) | (src & 0xf) | (cr0 & CR0_PE);
	return cr0_write(cpu, cr0);
}

static int
swapgs(struct emu_cpu *cpu)
{
	uint64_t t;

	if (cpu->mode != EMU_MODE_LONG64)
		return emu_raise(cpu, IDT_UD);
	if (cpu->cpl != 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	t = cpu->st.seg[SEG_GS].base;
	cpu->st.seg[SEG_GS].base = cpu->st.kgs_base;
	cpu->st.kgs_base = t;
	return EMU_OK;
}

int
op_grp7(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v, la;
	int rc;

	if (in->has_mem) {
		switch (in->sub) {
		case 0:
			return store_dtr(cpu, in, &cpu->st.gdtr);
		case 1:
			return store_dtr(cpu, in, &cpu->st.idtr);
		case 2:
			return load_dtr(cpu, in, &cpu->st.gdtr);
		case 3:
			return load_dtr(cpu, in, &cpu->st.idtr);
		case 4:		/* SMSW m16 */
			return emu_rm_write(cpu, in, 2, cpu->st.cr0 & 0xffff);
		case 6:		/* LMSW m16 */
			if (privileged_fault(cpu))
				return emu_raise_err(cpu, IDT_GP, 0);
			rc = emu_rm_read(cpu, in, 2, &v);
			if (rc != EMU_OK)
				return rc;
			return lmsw(cpu, v);
		case 7:		/* INVLPG */
			if (privileged_fault(cpu))
				return emu_raise_err(cpu, IDT_GP, 0);
			/* A non-canonical or out-of-limit address is a no-op, not a fault. */
			la = emu_ea(cpu, in);
			if (cpu->mode == EMU_MODE_LONG64) {
				if (in->seg == SEG_FS || in->seg == SEG_GS)
					la += cpu->st.seg[in->seg].base;
			} else {
				la = (la + cpu->st.seg[in->seg].base) & 0xffffffffULL;
			}
			emu_tlb_flush_page(cpu, la);
			return EMU_OK;
		default:
			return emu_raise(cpu, IDT_UD);
		}
	}
	switch (in->sub) {
	case 2:		/* 0F 01 D0 XGETBV, D1 XSETBV (NP); D4-D7 VMFUNC, XEND, XTEST... */
		if ((in->rm & 7) > 1 || in->rep || in->opsize_prefix)
			return emu_raise(cpu, IDT_UD);
		return (in->rm & 7) == 0 ? emu_xgetbv(cpu) : emu_xsetbv(cpu);
	case 4:		/* SMSW r16/r32/r64 */
		emu_reg_write(cpu, in->rm, in->opsize, in->rex, cpu->st.cr0);
		return EMU_OK;
	case 6:		/* LMSW r16 */
		if (privileged_fault(cpu))
			return emu_raise_err(cpu, IDT_GP, 0);
		return lmsw(cpu, emu_reg_read(cpu, in->rm, 2, in->rex));
	case 7:
		if ((in->rm & 7) == 0)
			return swapgs(cpu);
		if ((in->rm & 7) == 1)
			return op_rdtscp(cpu, in);
		return emu_raise(cpu, IDT_UD);
	default:
		/*
		 * VMX/SVM instructions, MONITOR/MWAIT, CLAC/STAC, RDPKRU/WRPKRU:
		 * none is advertised, so all are #UD.
		 */
		return emu_raise(cpu, IDT_UD);
	}
}
