/*
 * vmm_cpustate.c - register access on a struct vm_cpu_state by bhyve's
 * enum vm_reg_name, and the RESET state, for every backend.
 *
 * Segment registers: get_reg/set_reg reach the selector only, get_desc/
 * set_desc the hidden part (base, limit, access rights in the VMCS layout);
 * GDTR and IDTR have only a descriptor (base, limit).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmm_backend.h"
#include "vmm_cpuid.h"

static uint64_t *
reg_ptr(struct vm_cpu_state *st, int reg)
{
	switch (reg) {
	case VM_REG_GUEST_RAX: return &st->gpr[GPR_RAX];
	case VM_REG_GUEST_RBX: return &st->gpr[GPR_RBX];
	case VM_REG_GUEST_RCX: return &st->gpr[GPR_RCX];
	case VM_REG_GUEST_RDX: return &st->gpr[GPR_RDX];
	case VM_REG_GUEST_RSI: return &st->gpr[GPR_RSI];
	case VM_REG_GUEST_RDI: return &st->gpr[GPR_RDI];
	case VM_REG_GUEST_RBP: return &st->gpr[GPR_RBP];
	case VM_REG_GUEST_R8: return &st->gpr[GPR_R8];
	case VM_REG_GUEST_R9: return &st->gpr[GPR_R9];
	case VM_REG_GUEST_R10: return &st->gpr[GPR_R10];
	case VM_REG_GUEST_R11: return &st->gpr[GPR_R11];
	case VM_REG_GUEST_R12: return &st->gpr[GPR_R12];
	case VM_REG_GUEST_R13: return &st->gpr[GPR_R13];
	case VM_REG_GUEST_R14: return &st->gpr[GPR_R14];
	case VM_REG_GUEST_R15: return &st->gpr[GPR_R15];
	case VM_REG_GUEST_CR0: return &st->cr0;
	case VM_REG_GUEST_CR3: return &st->cr3;
	case VM_REG_GUEST_CR4: return &st->cr4;
	case VM_REG_GUEST_DR7: return &st->dr[7];
	case VM_REG_GUEST_RSP: return &st->gpr[GPR_RSP];
	case VM_REG_GUEST_RIP: return &st->rip;
	case VM_REG_GUEST_RFLAGS: return &st->rflags;
	case VM_REG_GUEST_EFER: return &st->efer;
	case VM_REG_GUEST_CR2: return &st->cr2;
	case VM_REG_GUEST_PDPTE0: return &st->pdpte[0];
	case VM_REG_GUEST_PDPTE1: return &st->pdpte[1];
	case VM_REG_GUEST_PDPTE2: return &st->pdpte[2];
	case VM_REG_GUEST_PDPTE3: return &st->pdpte[3];
	case VM_REG_GUEST_DR0: return &st->dr[0];
	case VM_REG_GUEST_DR1: return &st->dr[1];
	case VM_REG_GUEST_DR2: return &st->dr[2];
	case VM_REG_GUEST_DR3: return &st->dr[3];
	case VM_REG_GUEST_DR6: return &st->dr[6];
	case VM_REG_GUEST_FS_BASE: return &st->seg[SEG_FS].base;
	case VM_REG_GUEST_GS_BASE: return &st->seg[SEG_GS].base;
	case VM_REG_GUEST_KGS_BASE: return &st->kgs_base;
	case VM_REG_GUEST_TPR: return &st->cr8;
	case VM_REG_GUEST_XCR0: return &st->xcr0;
	default: return NULL;
	}
}

/* enum vm_reg_name -> segment index, or -1 (GDTR/IDTR are -2/-3). */
static int
seg_index(int reg)
{
	switch (reg) {
	case VM_REG_GUEST_ES: return SEG_ES;
	case VM_REG_GUEST_CS: return SEG_CS;
	case VM_REG_GUEST_SS: return SEG_SS;
	case VM_REG_GUEST_DS: return SEG_DS;
	case VM_REG_GUEST_FS: return SEG_FS;
	case VM_REG_GUEST_GS: return SEG_GS;
	case VM_REG_GUEST_LDTR: return SEG_LDTR;
	case VM_REG_GUEST_TR: return SEG_TR;
	case VM_REG_GUEST_GDTR: return -2;
	case VM_REG_GUEST_IDTR: return -3;
	default: return -1;
	}
}

int
vm_cpu_state_get_reg(const struct vm_cpu_state *st, int reg, uint64_t *val)
{
	const uint64_t *p;
	int si;

	if (reg == VM_REG_GUEST_INTR_SHADOW) {
		*val = st->intr_shadow;
		return 0;
	}
	si = seg_index(reg);
	if (si >= 0) {
		*val = st->seg[si].sel;
		return 0;
	}
	p = reg_ptr((struct vm_cpu_state *)(uintptr_t)st, reg);
	if (p == NULL)
		return -EINVAL;
	*val = *p;
	return 0;
}

int
vm_cpu_state_set_reg(struct vm_cpu_state *st, int reg, uint64_t val)
{
	uint64_t *p;
	int si;

	if (reg == VM_REG_GUEST_INTR_SHADOW) {
		st->intr_shadow = (uint32_t)val;
		return 0;
	}
	/*
	 * XCR0 as XSETBV takes it (vm_xcr0_valid), and only the components
	 * lhyve keeps.  A component disabled is dropped.
	 */
	if (reg == VM_REG_GUEST_XCR0) {
		if ((val & ~VM_XSTATE_ALL) || !vm_xcr0_valid(val))
			return -EINVAL;
		st->xcr0 = val;
		st->xstate_bv &= val;
		return 0;
	}
	si = seg_index(reg);
	if (si >= 0) {
		if (val > 0xffff)
			return -EINVAL;
		st->seg[si].sel = (uint16_t)val;
		return 0;
	}
	p = reg_ptr(st, reg);
	if (p == NULL)
		return -EINVAL;
	*p = val;
	return 0;
}

int
vm_cpu_state_get_desc(const struct vm_cpu_state *st, int reg, struct seg_desc *d)
{
	const struct vm_seg *s;
	int si = seg_index(reg);

	if (si == -1)
		return -EINVAL;
	s = si == -2 ? &st->gdtr : si == -3 ? &st->idtr : &st->seg[si];
	d->base = s->base;
	d->limit = s->limit;
	d->access = si < 0 ? 0 : s->access;
	return 0;
}

int
vm_cpu_state_set_desc(struct vm_cpu_state *st, int reg, const struct seg_desc *d)
{
	struct vm_seg *s;
	int si = seg_index(reg);

	if (si == -1)
		return -EINVAL;
	s = si == -2 ? &st->gdtr : si == -3 ? &st->idtr : &st->seg[si];
	s->base = d->base;
	s->limit = d->limit;
	if (si >= 0)
		s->access = d->access;
	return 0;
}

static void
seg_set(struct vm_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t access)
{
	memset(s, 0, sizeof(*s));
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->access = access;
}

/* SDM Vol. 3A 9.1.1, table 9-1 (power-up and RESET). */
void
vm_cpu_state_reset(struct vm_cpu_state *st, int vcpuid)
{
	int i;

	memset(st, 0, sizeof(*st));
	st->gpr[GPR_RDX] = VMM_CPUID_SIGNATURE;
	st->rip = 0xfff0;
	st->rflags = 0x2;
	st->cr0 = 0x60000010;
	/* CS: F000, base FFFF0000, execute/read accessed code; data: read/write accessed */
	seg_set(&st->seg[SEG_CS], 0xf000, 0xffff0000ULL, 0xffff, 0x9b);
	for (i = 0; i < SEG_COUNT; i++) {
		if (i != SEG_CS && i != SEG_LDTR && i != SEG_TR)
			seg_set(&st->seg[i], 0, 0, 0xffff, 0x93);
	}
	seg_set(&st->seg[SEG_LDTR], 0, 0, 0xffff, 0x82);
	seg_set(&st->seg[SEG_TR], 0, 0, 0xffff, 0x8b);
	seg_set(&st->gdtr, 0, 0, 0xffff, 0);
	seg_set(&st->idtr, 0, 0, 0xffff, 0);
	st->dr[6] = 0xffff0ff0ULL;
	st->dr[7] = 0x400;
	st->pat = 0x0007040600070406ULL;
	/* xAPIC enabled at FEE00000; vCPU 0 is the bootstrap processor. */
	st->apic_base = 0xfee00000ULL | 0x800 | (vcpuid == 0 ? 0x100 : 0);
	/* x87 FCW 0040H and MXCSR 1F80H after RESET (SDM Vol. 3A table 9-1). */
	st->fxsave[0] = 0x40;
	st->fxsave[24] = 0x80;
	st->fxsave[25] = 0x1f;
	st->xcr0 = 1;
	/*
	 * No firmware runs before the loaded kernel, so RESET leaves what a
	 * BIOS would hand over (Firecracker sets the same): MTRRs enabled,
	 * default type WB, fixed ranges off, no variable range in use.
	 */
	st->mtrr_deftype = 0x806;
	/* MISC_ENABLE: fast strings on, BTS and PEBS unavailable (SDM Vol. 4 table 2-2). */
	st->misc_enable = 0x1801;
	/* AMD HWCR: SMMLOCK set by firmware, TSC at the P0 rate (APM Vol. 2 A.4). */
	st->hwcr = 0x01000001;
	/* Application processors wait for INIT-SIPI-SIPI (SDM Vol. 3A 9.4.1). */
	st->halted = vcpuid == 0 ? VM_ACTIVITY_ACTIVE : VM_ACTIVITY_WAIT_SIPI;
}
