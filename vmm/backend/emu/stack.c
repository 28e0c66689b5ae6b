/*
 * stack.c - PUSH, POP, PUSH/POP Sreg, PUSHF, POPF, ENTER, LEAVE, PUSHA, POPA
 * (SDM Vol. 2B).
 *
 * emu_push/emu_pop move RSP themselves; an instruction that faults after
 * moving it puts it back, so a faulting or exiting instruction leaves the
 * architectural state as it found it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

/* Stack-address size: 8 in 64-bit mode, else SS.B (SDM Vol. 3A 3.4.5). */
static int
stack_size(const struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return 8;
	return (cpu->st.seg[SEG_SS].access & 0x4000) ? 4 : 2;
}

/* Write RSP at the stack-address size: SP alone on a 16-bit stack. */
static void
set_sp(struct emu_cpu *cpu, uint64_t v)
{
	int ss = stack_size(cpu);

	emu_reg_write(cpu, GPR_RSP, ss, 0, v);
}

static inline bool
in_vm86(const struct emu_cpu *cpu)
{
	return cpu->mode != EMU_MODE_REAL && cpu->mode != EMU_MODE_LONG64 &&
	    (cpu->st.rflags & RFL_VM) != 0;
}

int
op_push(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	switch (in->form) {
	case EMU_FORM_REG_OP:
		v = emu_reg_read(cpu, in->rm, in->opsize, in->rex);
		break;
	case EMU_FORM_RM:
		rc = emu_rm_read(cpu, in, in->opsize, &v);
		if (rc != EMU_OK)
			return rc;
		break;
	default:	/* 68 / 6A: the decoder sign-extended the immediate */
		v = in->imm;
		break;
	}
	return emu_push(cpu, v & emu_size_mask(in->opsize), in->opsize);
}

/*
 * POP r/m with an RSP-based address computes the address after RSP has
 * been incremented (SDM Vol. 2B POP); popping first gives exactly that.
 */
int
op_pop(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v, rsp = cpu->st.gpr[GPR_RSP];
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_pop(cpu, &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	if (in->form == EMU_FORM_REG_OP) {
		emu_reg_write(cpu, in->rm, in->opsize, in->rex, v);
		return EMU_OK;
	}
	rc = emu_rm_write(cpu, in, in->opsize, v);
	if (rc != EMU_OK)
		cpu->st.gpr[GPR_RSP] = rsp;
	return rc;
}

/* One-byte forms (06 0E 16 1E / 07 17 1F) outside 64-bit mode, and 0F A0/A1 A8/A9. */
static int
opcode_sreg(const struct emu_insn *in)
{
	if (in->map == 1)
		return (in->opcode & 0x08) ? SEG_GS : SEG_FS;
	return (in->opcode >> 3) & 3;
}

int
op_pushseg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	/* A wider push zero-extends the selector, as AMD does. */
	return emu_push(cpu, cpu->st.seg[opcode_sreg(in)].sel, in->opsize);
}

int
op_popseg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v, rsp = cpu->st.gpr[GPR_RSP];
	int sreg = opcode_sreg(in), rc;

	if (in->lock || sreg == SEG_CS)
		return emu_raise(cpu, IDT_UD);
	rc = emu_pop(cpu, &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	rc = emu_dataseg_load(cpu, sreg, (uint16_t)v);
	if (rc != EMU_OK) {
		cpu->st.gpr[GPR_RSP] = rsp;
		return rc;
	}
	if (sreg == SEG_SS) {
		cpu->st.intr_shadow |= 0x2;	/* EMU_SHADOW_MOVSS (VMX layout, machine.h) */
		cpu->block_stop = 1;
	}
	return EMU_OK;
}

/*
 * PUSHF: the image has VM and RF clear (SDM Vol. 2B PUSHF).  In
 * virtual-8086 mode with IOPL < 3 it is #GP(0) (no VME support).
 */
int
op_pushf(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t f;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in_vm86(cpu) && ((cpu->st.rflags & RFL_IOPL) >> 12) < 3)
		return emu_raise_err(cpu, IDT_GP, 0);
	f = emu_rflags(cpu) & ~(RFL_VM | RFL_RF);
	return emu_push(cpu, f & emu_size_mask(in->opsize), in->opsize);
}

/*
 * POPF (SDM Vol. 2B POPF, operation table): VM, VIF, VIP and the reserved
 * bits never change; RF is cleared (32/64-bit); IOPL changes only at CPL 0
 * (or in real mode); IF only when CPL <= IOPL.  A 16-bit POPF replaces
 * bits 15:0 only.
 */
int
op_popf(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v, f, mask;
	unsigned iopl;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	f = emu_rflags(cpu);
	iopl = (unsigned)((f & RFL_IOPL) >> 12);
	if (in_vm86(cpu) && iopl < 3)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_pop(cpu, &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	mask = RFL_ARITH | RFL_TF | RFL_IF | RFL_DF | RFL_IOPL | RFL_NT |
	    RFL_AC | RFL_ID;
	if (cpu->mode != EMU_MODE_REAL) {
		if (in_vm86(cpu) || cpu->cpl > 0)
			mask &= ~RFL_IOPL;
		if (!in_vm86(cpu) && cpu->cpl > iopl)
			mask &= ~RFL_IF;
	}
	if (in->opsize == 2)
		mask &= 0xffff;
	else
		f &= ~RFL_RF;
	emu_set_rflags(cpu, (f & ~mask) | (v & mask));
	return EMU_OK;
}

/* ENTER imm16, imm8 (SDM Vol. 2A ENTER): frame with nesting level imm8 mod 32. */
int
op_enter(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t rsp = cpu->st.gpr[GPR_RSP], rbp, frame, v, smask;
	unsigned level = (unsigned)(in->imm2 & 31), i;
	int os = in->opsize, ss = stack_size(cpu), rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	smask = emu_size_mask(ss);
	rbp = cpu->st.gpr[GPR_RBP];
	rc = emu_push(cpu, rbp & emu_size_mask(os), os);
	if (rc != EMU_OK)
		return rc;
	frame = cpu->st.gpr[GPR_RSP] & smask;
	if (level > 0) {
		for (i = 1; i < level; i++) {
			rbp = (rbp - (uint64_t)os) & smask;
			v = 0;
			rc = emu_read(cpu, SEG_SS, rbp, &v, os);
			if (rc == EMU_OK)
				rc = emu_push(cpu, v, os);
			if (rc != EMU_OK)
				goto undo;
		}
		rc = emu_push(cpu, frame, os);
		if (rc != EMU_OK)
			goto undo;
	}
	emu_reg_write(cpu, GPR_RBP, os, 0, frame);
	set_sp(cpu, (cpu->st.gpr[GPR_RSP] - (in->imm & 0xffff)) & smask);
	return EMU_OK;
undo:
	cpu->st.gpr[GPR_RSP] = rsp;
	return rc;
}

/* LEAVE: RSP <- RBP, then pop RBP (SDM Vol. 2A LEAVE). */
int
op_leave(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t rsp = cpu->st.gpr[GPR_RSP], v;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	set_sp(cpu, cpu->st.gpr[GPR_RBP]);
	rc = emu_pop(cpu, &v, in->opsize);
	if (rc != EMU_OK) {
		cpu->st.gpr[GPR_RSP] = rsp;
		return rc;
	}
	emu_reg_write(cpu, GPR_RBP, in->opsize, 0, v);
	return EMU_OK;
}

/*
 * PUSHA/PUSHAD 60 (SDM Vol. 2B PUSHA): AX CX DX BX, the SP from before the
 * instruction, BP SI DI, each of the operand size.  Every store is done
 * before SP moves, so a fault or a device exit part way leaves SP as it was
 * and the replay repeats the stores.
 */
int
op_pusha(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t smask = emu_size_mask(stack_size(cpu)), sp, v;
	int os = in->opsize, i, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	sp = cpu->st.gpr[GPR_RSP];
	for (i = 0; i < 8; i++) {
		/* Register i lands at SP - (i + 1) * size: EDI lowest. */
		v = cpu->st.gpr[i] & emu_size_mask(os);
		rc = emu_write(cpu, SEG_SS, (sp - (uint64_t)(i + 1) * (uint64_t)os) & smask,
		    &v, os);
		if (rc != EMU_OK)
			return rc;
	}
	set_sp(cpu, sp - 8 * (uint64_t)os);
	return EMU_OK;
}

/* POPA/POPAD 61: DI SI BP, skip the SP image, BX DX CX AX (SDM Vol. 2B POPA). */
int
op_popa(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t smask = emu_size_mask(stack_size(cpu)), sp, v[8];
	int os = in->opsize, i, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	sp = cpu->st.gpr[GPR_RSP];
	for (i = 0; i < 8; i++) {
		v[7 - i] = 0;
		rc = emu_read(cpu, SEG_SS, (sp + (uint64_t)i * (uint64_t)os) & smask,
		    &v[7 - i], os);
		if (rc != EMU_OK)
			return rc;
	}
	for (i = 0; i < 8; i++) {
		if (i != GPR_RSP)
			emu_reg_write(cpu, i, os, 0, v[i]);
	}
	set_sp(cpu, sp + 8 * (uint64_t)os);
	return EMU_OK;
}
