/*
 * control.c - control transfer: near JMP/Jcc/CALL/RET/LOOP, far JMP/CALL/RET
 * through code-segment descriptors, INT n/INT3/INTO/INT1, IRET, and BOUND
 * (a conditional #BR, like INTO).
 *
 * Every handler checks the whole transfer (target canonical or within the
 * CS limit, descriptors, stack reads) before it changes a register, so a
 * fault leaves the instruction restartable.  The new RIP goes to
 * cpu->next_rip, which the run loop commits.
 *
 * Far transfers follow SDM Vol. 2A JMP/CALL, Vol. 2B RET/IRET and Vol. 3A
 * 5.8 (privilege checks for code segments); call gates are gate.c's, task
 * gates, TSS targets and IRET with NT task.c's.  Returns to virtual-8086
 * mode are not implemented: they end run() with a BACKEND_ERROR exit.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_cpuid.h"

/* Check a near target at @size and set next_rip (SDM Vol. 2A JMP: #GP(0)). */
static int
near_target(struct emu_cpu *cpu, uint64_t target, int size)
{
	if (cpu->mode == EMU_MODE_LONG64) {
		if (size != 8)
			target &= emu_size_mask(size);
		if (!emu_canonical(target))
			return emu_raise_err(cpu, IDT_GP, 0);
	} else {
		target &= emu_size_mask(size);
		if (target > cpu->st.seg[SEG_CS].limit)
			return emu_raise_err(cpu, IDT_GP, 0);
	}
	cpu->next_rip = target;
	return EMU_OK;
}

/* Read the @idx-th @size-byte slot above the stack pointer, without popping. */
static int
stack_peek(struct emu_cpu *cpu, int idx, int size, uint64_t *val)
{
	int ss = emu_stack_size(cpu), rc, i;
	uint64_t sp = (cpu->st.gpr[GPR_RSP] + (uint64_t)(idx * size)) & emu_size_mask(ss);
	uint8_t b[8];

	rc = emu_read(cpu, SEG_SS, sp, b, size);
	if (rc != EMU_OK)
		return rc;
	*val = 0;
	for (i = 0; i < size; i++)
		*val |= (uint64_t)b[i] << (8 * i);
	return EMU_OK;
}

/* RSP += n at the stack-address size (upper bits kept for a 16-bit stack). */
static void
sp_add(struct emu_cpu *cpu, uint64_t n)
{
	int ss = emu_stack_size(cpu);
	uint64_t *rsp = &cpu->st.gpr[GPR_RSP];

	if (ss == 2)
		*rsp = (*rsp & ~0xffffULL) | ((*rsp + n) & 0xffff);
	else if (ss == 4)
		*rsp = (uint32_t)(*rsp + n);
	else
		*rsp += n;
}

/*
 * Operand size of a near branch.  In 64-bit mode the decoder gives every
 * near branch a 64-bit operand whatever 66 says, Intel's rule (SDM Vol. 2A
 * 2.2.1.7 and the JMP, Jcc, CALL, RET, LOOP pages: 66 is ignored).  AMD
 * honours 66 there (AMD APM Vol. 3, "Near branches in 64-bit mode", and
 * the JMP (Near), CALL (Near), RET (Near), Jcc, LOOPcc, JrCXZ pages): a
 * 16-bit operand, so the target is truncated to IP, CALL pushes and RET
 * pops 2 bytes and FF /2 /4 read a 16-bit r/m; REX.W still gives 64 bits.
 */
static int
branch_size(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->opsize == 8 && in->opsize_prefix && !(in->rex & 0x8) &&
	    cpu->vendor == VMM_VENDOR_AMD)
		return 2;
	return in->opsize;
}

/*
 * Address of the next instruction.  With AMD's 16-bit operand the rel16/32
 * forms (E8, E9, 0F 80-8F) carry a 2-byte displacement, but the decoder
 * (vendor-neutral) took 4: the instruction is 2 bytes shorter, and the
 * displacement is the low half of the 4 bytes decoded.  The two extra
 * bytes were fetched, which can only matter when they cross into a page
 * that faults or push the length past 15 bytes (docs/cpu.md).
 */
static uint64_t
branch_next(const struct emu_cpu *cpu, const struct emu_insn *in, int size, uint64_t *rel)
{
	*rel = in->imm;
	if (__builtin_expect(size == 2 && in->opsize == 8, 0) &&
	    ((in->map == 0 && (in->opcode == 0xe8 || in->opcode == 0xe9)) ||
	    (in->map == 1 && in->opcode >= 0x80 && in->opcode <= 0x8f))) {
		*rel = (uint64_t)(int64_t)(int16_t)in->imm;
		return cpu->next_rip - 2;
	}
	return cpu->next_rip;
}

int
op_jmp(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = branch_size(cpu, in), rc;
	uint64_t t, rel, next;

	if (in->opcode == 0xff) {
		rc = emu_rm_read(cpu, in, size, &t);
		if (rc != EMU_OK)
			return rc;
	} else {
		next = branch_next(cpu, in, size, &rel);
		t = next + rel;
	}
	return near_target(cpu, t, size);
}

int
op_jcc(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = branch_size(cpu, in);
	uint64_t rel, next = branch_next(cpu, in, size, &rel);

	if (!emu_cond(cpu, in->sub)) {
		cpu->next_rip = next;
		return EMU_OK;
	}
	return near_target(cpu, next + rel, size);
}

int
op_call(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = branch_size(cpu, in), rc;
	uint64_t t, rel, fall = cpu->next_rip, ret = fall;

	if (in->opcode == 0xff) {
		rc = emu_rm_read(cpu, in, size, &t);
		if (rc != EMU_OK)
			return rc;
	} else {
		ret = branch_next(cpu, in, size, &rel);
		t = ret + rel;
	}
	rc = near_target(cpu, t, size);
	if (rc != EMU_OK)
		return rc;
	rc = emu_push(cpu, ret, size);
	if (rc != EMU_OK)
		cpu->next_rip = fall;
	return rc;
}

int
op_ret(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = branch_size(cpu, in), rc;
	uint64_t t;

	rc = stack_peek(cpu, 0, size, &t);
	if (rc != EMU_OK)
		return rc;
	rc = near_target(cpu, t, size);
	if (rc != EMU_OK)
		return rc;
	sp_add(cpu, (uint64_t)size + (in->opcode == 0xc2 ? in->imm : 0));
	return EMU_OK;
}

/* E0 LOOPNE, E1 LOOPE, E2 LOOP, E3 JrCXZ; the count register has the address size. */
int
op_loop(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t mask = emu_size_mask(in->addrsize);
	uint64_t count = cpu->st.gpr[GPR_RCX] & mask;
	bool take;
	int rc;

	if (in->opcode == 0xe3) {
		take = count == 0;
	} else {
		count = (count - 1) & mask;
		take = count != 0;
		if (in->opcode == 0xe1)
			take = take && emu_cond(cpu, 0x4);
		else if (in->opcode == 0xe0)
			take = take && !emu_cond(cpu, 0x4);
	}
	if (take) {
		rc = near_target(cpu, cpu->next_rip + in->imm, branch_size(cpu, in));
		if (rc != EMU_OK)
			return rc;
	}
	if (in->opcode != 0xe3)
		emu_reg_write(cpu, GPR_RCX, in->addrsize, 1, count);
	return EMU_OK;
}

/* ---- far transfers ---- */

static int
not_implemented(struct emu_cpu *cpu, const char *what, uint16_t sel)
{
	return emu_backend_error(cpu, ENOTSUP, "%s (selector %#x) is not implemented",
	    what, sel);
}

/* Far pointer operand: imm/imm2 (9A, EA) or m16:16/32/64 (FF /3, /5). */
static int
far_pointer(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t *off, uint16_t *sel)
{
	uint8_t b[10];
	uint64_t ea;
	int i, rc;

	if (!in->has_modrm) {
		*off = in->imm;
		*sel = (uint16_t)in->imm2;
		return EMU_OK;
	}
	ea = emu_ea(cpu, in);
	rc = emu_read(cpu, in->seg, ea, b, in->opsize + 2);
	if (rc != EMU_OK)
		return rc;
	*off = 0;
	for (i = 0; i < in->opsize; i++)
		*off |= (uint64_t)b[i] << (8 * i);
	*sel = (uint16_t)(b[in->opsize] | b[in->opsize + 1] << 8);
	return EMU_OK;
}

/* Target offset check against the new code segment. */
static int
far_offset_ok(struct emu_cpu *cpu, const struct vm_seg *cs, uint64_t off)
{
	if ((cpu->st.efer & EFER_LMA) && SEG_DESC_L(cs->access))
		return emu_canonical(off) ? EMU_OK : emu_raise_err(cpu, IDT_GP, 0);
	return off <= cs->limit ? EMU_OK : emu_raise_err(cpu, IDT_GP, 0);
}

/* jmpcall_cs: the selector names a call gate or a task (TSS, task gate). */
#define FAR_GATE	(-1)
#define FAR_TASK	(-2)

/*
 * Code segment for a direct far JMP/CALL (SDM Vol. 3A 5.8.1), or FAR_GATE
 * with the gate's descriptor in *raw and its linear address in *la.
 */
static int
jmpcall_cs(struct emu_cpu *cpu, uint16_t sel, struct vm_seg *cs, uint64_t *raw, uint64_t *la)
{
	uint32_t type;
	int rc, dpl;

	if ((sel & 0xfffc) == 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_desc_fetch(cpu, sel, raw, la);
	if (rc != EMU_OK)
		return rc;
	emu_desc_to_seg(*raw, sel, cs);
	type = SEG_DESC_TYPE(cs->access);
	dpl = SEG_DESC_DPL(cs->access);
	if (!SEG_DESC_S(cs->access)) {
		if (type == 4 || type == 12)
			return FAR_GATE;
		if (type == 5 || type == 1 || type == 9)
			return FAR_TASK;
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	}
	if (!(type & 0x8))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if (type & 0x4) {
		if (dpl > cpu->cpl)
			return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	} else if ((sel & 3) > cpu->cpl || dpl != cpu->cpl) {
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	}
	if (!SEG_DESC_PRESENT(cs->access))
		return emu_raise_err(cpu, IDT_NP, sel & 0xfffc);
	if ((cpu->st.efer & EFER_LMA) && SEG_DESC_L(cs->access) && SEG_DESC_DEF32(cs->access))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	return EMU_OK;
}

int
op_jmpfar(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_seg cs;
	uint64_t off, raw, la;
	uint16_t sel;
	int rc;

	rc = far_pointer(cpu, in, &off, &sel);
	if (rc != EMU_OK)
		return rc;
	if (cpu->mode == EMU_MODE_REAL) {
		off &= emu_size_mask(in->opsize);
		if (off > cpu->st.seg[SEG_CS].limit)
			return emu_raise_err(cpu, IDT_GP, 0);
		emu_seg_load_real(cpu, SEG_CS, sel);
		cpu->next_rip = off;
		return EMU_OK;
	}
	rc = jmpcall_cs(cpu, sel, &cs, &raw, &la);
	if (rc == FAR_GATE)
		return emu_far_gate(cpu, sel, raw, la, false);
	if (rc == FAR_TASK)
		return emu_task_far(cpu, sel, raw, false);
	if (rc != EMU_OK)
		return rc;
	rc = far_offset_ok(cpu, &cs, off);
	if (rc != EMU_OK)
		return rc;
	emu_load_cs(cpu, sel, &cs, cpu->cpl);
	cpu->next_rip = off;
	return EMU_OK;
}

int
op_callfar(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_seg cs;
	uint64_t off, raw, la, rsp = cpu->st.gpr[GPR_RSP];
	uint16_t sel;
	int rc;

	rc = far_pointer(cpu, in, &off, &sel);
	if (rc != EMU_OK)
		return rc;
	if (cpu->mode == EMU_MODE_REAL) {
		off &= emu_size_mask(in->opsize);
		if (off > cpu->st.seg[SEG_CS].limit)
			return emu_raise_err(cpu, IDT_GP, 0);
	} else {
		rc = jmpcall_cs(cpu, sel, &cs, &raw, &la);
		if (rc == FAR_GATE)
			return emu_far_gate(cpu, sel, raw, la, true);
		if (rc == FAR_TASK)
			return emu_task_far(cpu, sel, raw, true);
		if (rc != EMU_OK)
			return rc;
		rc = far_offset_ok(cpu, &cs, off);
		if (rc != EMU_OK)
			return rc;
	}
	rc = emu_push(cpu, cpu->st.seg[SEG_CS].sel, in->opsize);
	if (rc == EMU_OK)
		rc = emu_push(cpu, cpu->next_rip, in->opsize);
	if (rc != EMU_OK) {
		cpu->st.gpr[GPR_RSP] = rsp;
		return rc;
	}
	if (cpu->mode == EMU_MODE_REAL)
		emu_seg_load_real(cpu, SEG_CS, sel);
	else
		emu_load_cs(cpu, sel, &cs, cpu->cpl);
	cpu->next_rip = off;
	return EMU_OK;
}

/*
 * The code segment a far RET or IRET returns to (SDM Vol. 2B RET, IRET):
 * RPL >= CPL; conforming DPL <= RPL, non-conforming DPL = RPL.
 */
static int
return_cs(struct emu_cpu *cpu, uint16_t sel, struct vm_seg *cs)
{
	uint64_t raw;
	uint32_t type;
	int rc, dpl;

	if ((sel & 0xfffc) == 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	if ((sel & 3) < cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	rc = emu_desc_fetch(cpu, sel, &raw, NULL);
	if (rc != EMU_OK)
		return rc;
	emu_desc_to_seg(raw, sel, cs);
	type = SEG_DESC_TYPE(cs->access);
	dpl = SEG_DESC_DPL(cs->access);
	if (!SEG_DESC_S(cs->access) || !(type & 0x8))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if ((type & 0x4) ? dpl > (sel & 3) : dpl != (sel & 3))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if (!SEG_DESC_PRESENT(cs->access))
		return emu_raise_err(cpu, IDT_NP, sel & 0xfffc);
	if ((cpu->st.efer & EFER_LMA) && SEG_DESC_L(cs->access) && SEG_DESC_DEF32(cs->access))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	return EMU_OK;
}

/*
 * The stack segment popped by a return to an outer level or by IRET in
 * 64-bit mode.  A null SS is allowed only for a 64-bit CS below ring 3.
 */
static int
return_ss(struct emu_cpu *cpu, uint16_t ssel, uint16_t csel, const struct vm_seg *cs,
    struct vm_seg *ss)
{
	uint64_t raw;
	int rc, rpl = csel & 3;

	if ((ssel & 0xfffc) == 0) {
		if (!(cpu->st.efer & EFER_LMA) || !SEG_DESC_L(cs->access) || rpl == 3 ||
		    (ssel & 3) != rpl)
			return emu_raise_err(cpu, IDT_GP, 0);
		memset(ss, 0, sizeof(*ss));
		ss->sel = ssel;
		ss->access = DESC_UNUSABLE | ((uint32_t)rpl << 5);
		return EMU_OK;
	}
	if ((ssel & 3) != rpl)
		return emu_raise_err(cpu, IDT_GP, ssel & 0xfffc);
	rc = emu_desc_fetch(cpu, ssel, &raw, NULL);
	if (rc != EMU_OK)
		return rc;
	emu_desc_to_seg(raw, ssel, ss);
	if (!SEG_DESC_S(ss->access) || (SEG_DESC_TYPE(ss->access) & 0xa) != 0x2 ||
	    (int)SEG_DESC_DPL(ss->access) != rpl)
		return emu_raise_err(cpu, IDT_GP, ssel & 0xfffc);
	if (!SEG_DESC_PRESENT(ss->access))
		return emu_raise_err(cpu, IDT_SS, ssel & 0xfffc);
	return EMU_OK;
}

/* Switch to the outer (or same) level after the checks: CS, SS:RSP, data segments. */
static void
commit_return(struct emu_cpu *cpu, uint16_t csel, const struct vm_seg *cs,
    const struct vm_seg *ss, uint64_t rsp, bool load_ss)
{
	int old_cpl = cpu->cpl, rpl = csel & 3;

	cpu->st.seg[SEG_CS] = *cs;
	cpu->st.seg[SEG_CS].sel = csel;
	if (load_ss) {
		cpu->st.seg[SEG_SS] = *ss;
		cpu->st.gpr[GPR_RSP] = rsp;
	}
	emu_update_mode(cpu);
	if (rpl > old_cpl)
		emu_null_outer_segs(cpu);
}

int
op_retfar(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_seg cs, ss;
	uint64_t off, csel, rsp, ssel, imm = in->opcode == 0xca ? in->imm : 0;
	int size = in->opsize, rc;

	rc = stack_peek(cpu, 0, size, &off);
	if (rc == EMU_OK)
		rc = stack_peek(cpu, 1, size, &csel);
	if (rc != EMU_OK)
		return rc;
	if (cpu->mode == EMU_MODE_REAL) {
		off &= emu_size_mask(size);
		if (off > cpu->st.seg[SEG_CS].limit)
			return emu_raise_err(cpu, IDT_GP, 0);
		emu_seg_load_real(cpu, SEG_CS, (uint16_t)csel);
		sp_add(cpu, (uint64_t)(2 * size) + imm);
		cpu->next_rip = off;
		return EMU_OK;
	}
	rc = return_cs(cpu, (uint16_t)csel, &cs);
	if (rc != EMU_OK)
		return rc;
	rc = far_offset_ok(cpu, &cs, off);
	if (rc != EMU_OK)
		return rc;
	if ((csel & 3) == cpu->cpl) {
		commit_return(cpu, (uint16_t)csel, &cs, NULL, 0, false);
		sp_add(cpu, (uint64_t)(2 * size) + imm);
		cpu->next_rip = off;
		return EMU_OK;
	}
	/* Outer level: SS:RSP sit above the immediate's worth of parameters. */
	{
		uint64_t sp0 = cpu->st.gpr[GPR_RSP];

		sp_add(cpu, (uint64_t)(2 * size) + imm);
		rc = stack_peek(cpu, 0, size, &rsp);
		if (rc == EMU_OK)
			rc = stack_peek(cpu, 1, size, &ssel);
		cpu->st.gpr[GPR_RSP] = sp0;
		if (rc != EMU_OK)
			return rc;
	}
	rc = return_ss(cpu, (uint16_t)ssel, (uint16_t)csel, &cs, &ss);
	if (rc != EMU_OK)
		return rc;
	if (!SEG_DESC_L(cs.access) || !(cpu->st.efer & EFER_LMA))
		rsp &= SEG_DESC_DEF32(ss.access) ? 0xffffffffULL : 0xffffULL;
	commit_return(cpu, (uint16_t)csel, &cs, &ss, rsp, true);
	sp_add(cpu, imm);
	cpu->next_rip = off;
	return EMU_OK;
}

/* ---- software interrupts ---- */

int
op_int(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_exit *vme = cpu->exit;
	enum emu_event_kind kind = EMU_EV_SOFTINT;
	int vector;

	switch (in->opcode) {
	case 0xcc:
		if (cpu->caps[VM_CAP_BPT_EXIT]) {
			/* bhyve's debug server owns INT3 (VM_EXITCODE_BPT). */
			memset(&vme->u, 0, sizeof(vme->u));
			vme->exitcode = VM_EXITCODE_BPT;
			vme->rip = cpu->st.rip;
			vme->inst_length = 0;
			return EMU_EXIT;
		}
		vector = IDT_BP;
		break;
	case 0xce:
		if (!emu_cond(cpu, 0x0))	/* INTO: only when OF */
			return EMU_OK;
		vector = IDT_OF;
		break;
	case 0xf1:
		vector = IDT_DB;
		kind = EMU_EV_ICEBP;
		break;
	default:
		vector = (int)(in->imm & 0xff);
		break;
	}
	return emu_event_deliver(cpu, vector, kind, false, 0, cpu->next_rip);
}

/* RFLAGS bits IRET may change at @cpl (SDM Vol. 2A IRET pseudo-code). */
static uint64_t
iret_flags_mask(const struct emu_cpu *cpu, int size)
{
	uint64_t m = RFL_ARITH | RFL_TF | RFL_DF | RFL_NT | RFL_RF | RFL_AC | RFL_ID;
	uint64_t iopl = (cpu->st.rflags & RFL_IOPL) >> 12;

	if (cpu->mode == EMU_MODE_REAL || cpu->cpl <= iopl)
		m |= RFL_IF;
	if (cpu->mode == EMU_MODE_REAL || cpu->cpl == 0)
		m |= RFL_IOPL;
	if (cpu->mode != EMU_MODE_REAL && cpu->cpl == 0)
		m |= RFL_VIF | RFL_VIP;
	if (size == 2)
		m &= 0xffff;
	return m;
}

int
op_iret(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_seg cs, ss;
	uint64_t rip, csel, fl, rsp = 0, ssel = 0, mask, rflags;
	int size = in->opsize, rc;
	bool pop_ss;

	memset(&ss, 0, sizeof(ss));
	if (cpu->mode != EMU_MODE_REAL && (emu_rflags(cpu) & RFL_NT)) {
		/* IA-32e mode: #GP(0); protected mode: back to the nesting task, nothing popped. */
		if (cpu->st.efer & EFER_LMA)
			return emu_raise_err(cpu, IDT_GP, 0);
		rc = emu_task_return(cpu);
		if (rc == EMU_OK)
			cpu->st.intr_shadow &= ~EMU_SHADOW_NMI;
		return rc;
	}
	rc = stack_peek(cpu, 0, size, &rip);
	if (rc == EMU_OK)
		rc = stack_peek(cpu, 1, size, &csel);
	if (rc == EMU_OK)
		rc = stack_peek(cpu, 2, size, &fl);
	if (rc != EMU_OK)
		return rc;
	rflags = emu_rflags(cpu);
	mask = iret_flags_mask(cpu, size);

	if (cpu->mode == EMU_MODE_REAL) {
		rip &= emu_size_mask(size);
		if (rip > cpu->st.seg[SEG_CS].limit)
			return emu_raise_err(cpu, IDT_GP, 0);
		emu_seg_load_real(cpu, SEG_CS, (uint16_t)csel);
		sp_add(cpu, (uint64_t)(3 * size));
		emu_set_rflags(cpu, (rflags & ~mask) | (fl & mask));
		cpu->next_rip = rip;
		cpu->st.intr_shadow &= ~EMU_SHADOW_NMI;
		return EMU_OK;
	}
	if (!(cpu->st.efer & EFER_LMA) && cpu->cpl == 0 && (fl & RFL_VM) && size == 4)
		return not_implemented(cpu, "IRET to virtual-8086 mode", (uint16_t)csel);
	rc = return_cs(cpu, (uint16_t)csel, &cs);
	if (rc != EMU_OK)
		return rc;
	if (!((cpu->st.efer & EFER_LMA) && SEG_DESC_L(cs.access)))
		rip &= emu_size_mask(size);
	rc = far_offset_ok(cpu, &cs, rip);
	if (rc != EMU_OK)
		return rc;
	/* 64-bit mode always pops SS:RSP; elsewhere only on a privilege change. */
	pop_ss = cpu->mode == EMU_MODE_LONG64 || (csel & 3) > cpu->cpl;
	if (pop_ss) {
		rc = stack_peek(cpu, 3, size, &rsp);
		if (rc == EMU_OK)
			rc = stack_peek(cpu, 4, size, &ssel);
		if (rc != EMU_OK)
			return rc;
		rc = return_ss(cpu, (uint16_t)ssel, (uint16_t)csel, &cs, &ss);
		if (rc != EMU_OK)
			return rc;
		if (!(cpu->st.efer & EFER_LMA) || !SEG_DESC_L(cs.access))
			rsp &= SEG_DESC_DEF32(ss.access) ? 0xffffffffULL : 0xffffULL;
	}
	/* VM is never set from IA-32e mode; flags as allowed at the old CPL. */
	fl &= ~RFL_VM;
	emu_set_rflags(cpu, (rflags & ~mask) | (fl & mask));
	if (!pop_ss)
		sp_add(cpu, (uint64_t)(3 * size));
	commit_return(cpu, (uint16_t)csel, &cs, &ss, rsp, pop_ss);
	cpu->next_rip = rip;
	cpu->st.intr_shadow &= ~EMU_SHADOW_NMI;
	return EMU_OK;
}

/*
 * BOUND 62 /r (SDM Vol. 2A BOUND): the signed index in the register must
 * lie within the two signed bounds at m (lower, then upper, each of the
 * operand size), else #BR, a fault.  The decoder rejects mod = 3 (EVEX in
 * 64-bit mode, #UD elsewhere) and 64-bit mode.
 */
int
op_bound(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t b[8] = { 0 };
	int64_t idx, lo, hi;
	int os = in->opsize, rc;

	if (in->lock || !in->has_mem)
		return emu_raise(cpu, IDT_UD);
	rc = emu_read(cpu, in->seg, emu_ea(cpu, in), b, 2 * os);
	if (rc != EMU_OK)
		return rc;
	if (os == 2) {
		idx = (int16_t)emu_reg_read(cpu, in->reg, 2, 0);
		lo = (int16_t)(b[0] | b[1] << 8);
		hi = (int16_t)(b[2] | b[3] << 8);
	} else {
		idx = (int32_t)emu_reg_read(cpu, in->reg, 4, 0);
		lo = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		hi = (int32_t)((uint32_t)b[4] | (uint32_t)b[5] << 8 |
		    (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24);
	}
	if (idx < lo || idx > hi)
		return emu_raise(cpu, IDT_BR);
	return EMU_OK;
}
