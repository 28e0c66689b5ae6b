/*
 * move.c - data movement and flag moves: MOV (all forms but CR/DR), MOVZX,
 * MOVSX, MOVSXD, LEA, XCHG, CBW/CWDE/CDQE, CWD/CDQ/CQO, CMOVcc, SETcc,
 * CMC/CLC/STC/CLD/STD, LAHF/SAHF, NOP and the hint space, MOV Sreg,
 * XLAT, MOVBE, and the far pointer loads LDS LES LSS LFS LGS (SDM Vol. 2).
 */
#include <stdbool.h>
#include <stdint.h>

#include <string.h>

#include "cpu.h"
#include "family.h"

int
op_mov(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v = 0, off;
	int size = in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	/*
	 * A0-A3: the moffs forms move between the accumulator and memory.
	 * The decoder presents the offset either as a memory operand or, with
	 * has_mem clear, as the immediate.
	 */
	if (in->map == 0 && in->opcode >= 0xa0 && in->opcode <= 0xa3) {
		off = in->has_mem ? emu_ea(cpu, in) :
		    in->imm & emu_addr_mask(in->addrsize);
		if (in->opcode <= 0xa1) {
			rc = emu_read(cpu, in->seg, off, &v, size);
			if (rc != EMU_OK)
				return rc;
			emu_reg_write(cpu, GPR_RAX, size, 0, v);
			return EMU_OK;
		}
		v = emu_reg_read(cpu, GPR_RAX, size, 0);
		return emu_write(cpu, in->seg, off, &v, size);
	}
	switch (in->form) {
	case EMU_FORM_REG_RM:
		rc = emu_rm_read(cpu, in, size, &v);
		if (rc != EMU_OK)
			return rc;
		emu_reg_write(cpu, in->reg, size, in->rex, v);
		return EMU_OK;
	case EMU_FORM_RM_IMM:
		return emu_rm_write(cpu, in, size, in->imm);
	case EMU_FORM_REG_OP:
		emu_reg_write(cpu, in->rm, size, in->rex, in->imm);
		return EMU_OK;
	default:	/* RM_REG */
		return emu_rm_write(cpu, in, size,
		    emu_reg_read(cpu, in->reg, size, in->rex));
	}
}

static inline uint64_t
sext(uint64_t v, int size)
{
	unsigned sh = 64 - (unsigned)size * 8;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* 0F B6/BE read a byte, 0F B7/BF a word. */
static int
movx(struct emu_cpu *cpu, const struct emu_insn *in, bool sign)
{
	uint64_t v;
	int ssize = (in->opcode & 1) ? 2 : 1, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, ssize, &v);
	if (rc != EMU_OK)
		return rc;
	v &= emu_size_mask(ssize);
	if (sign)
		v = sext(v, ssize);
	emu_reg_write(cpu, in->reg, in->opsize, in->rex, v);
	return EMU_OK;
}

int
op_movzx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return movx(cpu, in, false);
}

int
op_movsx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return movx(cpu, in, true);
}

/* MOVSXD without REX.W is a plain 32- or 16-bit move (SDM Vol. 2B MOVSX). */
int
op_movsxd(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int ssize = in->opsize == 8 ? 4 : in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, ssize, &v);
	if (rc != EMU_OK)
		return rc;
	emu_reg_write(cpu, in->reg, in->opsize, in->rex, sext(v & emu_size_mask(ssize), ssize));
	return EMU_OK;
}

int
op_lea(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock || !in->has_mem)
		return emu_raise(cpu, IDT_UD);
	/* emu_ea wraps at the address size; the destination then truncates. */
	emu_reg_write(cpu, in->reg, in->opsize, in->rex, emu_ea(cpu, in));
	return EMU_OK;
}

struct xchg_ctx {
	uint64_t	val;
};

static uint64_t
xchg_fn(const void *ctx, uint64_t old)
{
	return ((const struct xchg_ctx *)ctx)->val;
}

/* XCHG with memory is locked whether or not LOCK is present (SDM Vol. 2B XCHG). */
int
op_xchg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct xchg_ctx c;
	uint64_t old;
	int size = in->opsize, reg, rc;

	if (emu_lock_bad(in, true))
		return emu_raise(cpu, IDT_UD);
	if (in->form == EMU_FORM_REG_OP) {
		/* 90+r: rAX with the opcode register (87 /r semantics). */
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		emu_reg_write(cpu, in->rm, size, in->rex, emu_reg_read(cpu, GPR_RAX, size, 0));
		emu_reg_write(cpu, GPR_RAX, size, 0, old);
		return EMU_OK;
	}
	reg = in->reg;
	c.val = emu_reg_read(cpu, reg, size, in->rex);
	if (in->has_mem) {
		rc = emu_rmw_at(cpu, in->seg, emu_ea(cpu, in), size, true,
		    xchg_fn, &c, &old);
		if (rc != EMU_OK)
			return rc;
	} else {
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		emu_reg_write(cpu, in->rm, size, in->rex, c.val);
	}
	emu_reg_write(cpu, reg, size, in->rex, old);
	return EMU_OK;
}

int
op_cbw(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int half = in->opsize / 2;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	emu_reg_write(cpu, GPR_RAX, in->opsize, 0,
	    sext(cpu->st.gpr[GPR_RAX] & emu_size_mask(half), half));
	return EMU_OK;
}

int
op_cwd(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = in->opsize;
	uint64_t a;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	a = emu_reg_read(cpu, GPR_RAX, size, 0);
	emu_reg_write(cpu, GPR_RDX, size, 0,
	    (a >> (size * 8 - 1)) & 1 ? ~0ULL : 0);
	return EMU_OK;
}

/*
 * The source is read whatever the condition (a bad address faults), and a
 * 32-bit destination is zero-extended even when the condition is false
 * (SDM Vol. 2A CMOVcc).
 */
int
op_cmov(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int size = in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, size, &v);
	if (rc != EMU_OK)
		return rc;
	if (!emu_cond(cpu, in->sub & 15))
		v = emu_reg_read(cpu, in->reg, size, in->rex);
	emu_reg_write(cpu, in->reg, size, in->rex, v);
	return EMU_OK;
}

int
op_setcc(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	return emu_rm_write(cpu, in, 1, emu_cond(cpu, in->sub & 15) ? 1 : 0);
}

int
op_flagop(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	switch (in->opcode) {
	case 0xf5:
		emu_set_arith_flags(cpu, RFL_CF, emu_get_cf(cpu) ? 0 : RFL_CF);
		break;
	case 0xf8:
		emu_set_arith_flags(cpu, RFL_CF, 0);
		break;
	case 0xf9:
		emu_set_arith_flags(cpu, RFL_CF, RFL_CF);
		break;
	case 0xfc:
		cpu->st.rflags &= ~RFL_DF;
		break;
	case 0xfd:
		cpu->st.rflags |= RFL_DF;
		break;
	default:
		return emu_raise(cpu, IDT_UD);
	}
	return EMU_OK;
}

/* AH <- SF:ZF:0:AF:0:PF:1:CF (SDM Vol. 2A LAHF). */
int
op_lahf(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	emu_reg_write(cpu, 4, 1, 0, (emu_rflags(cpu) & 0xd5) | 0x2);
	return EMU_OK;
}

int
op_sahf(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t ah = (cpu->st.gpr[GPR_RAX] >> 8) & 0xff;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	emu_set_arith_flags(cpu, RFL_SF | RFL_ZF | RFL_AF | RFL_PF | RFL_CF, ah);
	return EMU_OK;
}

/*
 * 90, F3 90 (PAUSE), 0F 1F /0 and the 0F 18-1E hint space: no
 * architectural effect, and no memory access (prefetches never fault).
 */
int
op_nop(struct emu_cpu *cpu, const struct emu_insn *in)
{
	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	/* PAUSE (F3 90) leaves the CPU when asked to (VM_CAP_PAUSE_EXIT, bhyve -P). */
	if (in->map == 0 && in->opcode == 0x90 && in->rep == 0xf3 &&
	    cpu->caps[VM_CAP_PAUSE_EXIT]) {
		memset(&cpu->exit->u, 0, sizeof(cpu->exit->u));
		cpu->exit->exitcode = VM_EXITCODE_PAUSE;
		cpu->exit->rip = cpu->st.rip;
		cpu->exit->inst_length = in->len;	/* retired */
		return EMU_EXIT;
	}
	return EMU_OK;
}

/* ---- segment registers ---- */

static inline bool
emu_vm86(const struct emu_cpu *cpu)
{
	return cpu->mode != EMU_MODE_REAL && cpu->mode != EMU_MODE_LONG64 &&
	    (cpu->st.rflags & RFL_VM) != 0;
}

int
emu_dataseg_load(struct emu_cpu *cpu, int sreg, uint16_t sel)
{
	struct vm_seg *s = &cpu->st.seg[sreg];
	const struct vm_seg *tab;
	uint64_t d, la;
	uint32_t access, limit, type, dpl, rpl;
	uint16_t err = sel & 0xfffc;
	int rc;

	if (cpu->mode == EMU_MODE_REAL || emu_vm86(cpu)) {
		/*
		 * Real mode keeps the cached limit and attributes ("unreal
		 * mode"); virtual-8086 mode forces a 64 KiB DPL 3 data
		 * segment (SDM Vol. 3A 20.1.1, 20.2.1).
		 */
		s->sel = sel;
		s->base = (uint64_t)sel << 4;
		if (emu_vm86(cpu)) {
			s->limit = 0xffff;
			s->access = 0xf3;
		} else {
			s->access &= ~DESC_UNUSABLE;
		}
		return EMU_OK;
	}
	rpl = sel & 3;
	if ((sel & 0xfffc) == 0) {
		/*
		 * A null selector makes the register unusable; SS only in
		 * 64-bit mode at CPL < 3 with RPL = CPL (SDM Vol. 2B MOV,
		 * Vol. 3A 5.4.1.1).  FS/GS bases are kept, as Intel does.
		 */
		if (sreg == SEG_SS && (cpu->mode != EMU_MODE_LONG64 ||
		    cpu->cpl == 3 || rpl != cpu->cpl))
			return emu_raise_err(cpu, IDT_GP, 0);
		s->sel = sel;
		s->access = DESC_UNUSABLE | (sreg == SEG_SS ? (uint32_t)cpu->cpl << 5 : 0);
		return EMU_OK;
	}
	tab = (sel & 4) ? &cpu->st.seg[SEG_LDTR] : &cpu->st.gdtr;
	if (((sel & 4) && SEG_DESC_UNUSABLE(tab->access)) ||
	    (uint64_t)(sel | 7) > tab->limit)
		return emu_raise_err(cpu, IDT_GP, err);
	la = tab->base + (sel & 0xfff8);
	if (cpu->mode != EMU_MODE_LONG64)
		la &= 0xffffffffULL;
	d = 0;
	rc = emu_read_linear(cpu, la, &d, 8, 0);
	if (rc != EMU_OK)
		return rc;
	access = (uint32_t)((d >> 40) & 0xff) | (uint32_t)((d >> 52) & 0xf) << 12;
	type = access & 0xf;
	dpl = (access >> 5) & 3;
	if (!(access & 0x10))
		return emu_raise_err(cpu, IDT_GP, err);	/* system descriptor */
	if (sreg == SEG_SS) {
		/* Writable data, RPL = DPL = CPL (SDM Vol. 3A 5.7). */
		if ((type & 0xa) != 0x2 || rpl != cpu->cpl || dpl != cpu->cpl)
			return emu_raise_err(cpu, IDT_GP, err);
		if (!(access & 0x80))
			return emu_raise_err(cpu, IDT_SS, err);
	} else {
		/* Data or readable code; conforming code skips the DPL check. */
		if ((type & 0xa) == 0x8)
			return emu_raise_err(cpu, IDT_GP, err);
		if ((type & 0xc) != 0xc && (rpl > dpl || cpu->cpl > dpl))
			return emu_raise_err(cpu, IDT_GP, err);
		if (!(access & 0x80))
			return emu_raise_err(cpu, IDT_NP, err);
	}
	/* Set the accessed bit in the descriptor (SDM Vol. 3A 3.4.5.1). */
	if (!(type & 1)) {
		uint8_t ab = (uint8_t)(((d >> 40) & 0xff) | 1);

		rc = emu_write_linear(cpu, la + 5, &ab, 1, 0);
		if (rc != EMU_OK)
			return rc;
		access |= 1;
	}
	limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 32) & 0xf0000);
	if (access & 0x8000)
		limit = (limit << 12) | 0xfff;
	s->sel = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->limit = limit;
	s->access = access;
	return EMU_OK;
}

/* 8C/8E: ModRM.reg names the segment register; 6 and 7 do not exist. */
int
op_movseg(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int sreg = in->sub & 7, rc;

	if (in->lock || sreg > SEG_GS)
		return emu_raise(cpu, IDT_UD);
	if (in->opcode == 0x8c) {
		/*
		 * A memory destination is always 16 bits; a register one
		 * is zero-extended at 32/64-bit operand size.
		 */
		v = cpu->st.seg[sreg].sel;
		return emu_rm_write(cpu, in, in->has_mem ? 2 : in->opsize, v);
	}
	if (sreg == SEG_CS)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, 2, &v);
	if (rc != EMU_OK)
		return rc;
	rc = emu_dataseg_load(cpu, sreg, (uint16_t)v);
	if (rc != EMU_OK)
		return rc;
	/* MOV SS blocks interrupts and debug traps for one instruction. */
	if (sreg == SEG_SS) {
		cpu->st.intr_shadow |= 0x2;	/* EMU_SHADOW_MOVSS (VMX layout, machine.h) */
		cpu->block_stop = 1;
	}
	return EMU_OK;
}

/* XLAT D7: AL <- [seg:rBX + AL] at the address size (SDM Vol. 2B XLAT). */
int
op_xlat(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t off, v = 0;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	off = (emu_reg_read(cpu, GPR_RBX, in->addrsize, 0) +
	    (cpu->st.gpr[GPR_RAX] & 0xff)) & emu_addr_mask(in->addrsize);
	rc = emu_read(cpu, in->seg, off, &v, 1);
	if (rc != EMU_OK)
		return rc;
	emu_reg_write(cpu, GPR_RAX, 1, 0, v);
	return EMU_OK;
}

/*
 * LDS C5, LES C4 (not in 64-bit mode), LSS 0F B2, LFS 0F B4, LGS 0F B5
 * (SDM Vol. 2A LDS/LES/LFS/LGS/LSS): a far pointer in memory, offset of the
 * operand size then a 16-bit selector.  With REX.W the offset is 64 bits,
 * as on Intel (AMD reads 32).  The segment is loaded with MOV Sreg's
 * checks; the general register is written only once that succeeded.
 * Unlike MOV SS, LSS does not block interrupts for an instruction.
 */
int
op_lfp(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t b[10] = { 0 };
	uint64_t off = 0;
	int os = in->opsize, sreg, rc, i;

	if (in->lock || !in->has_mem)
		return emu_raise(cpu, IDT_UD);
	if (in->map == 0)
		sreg = in->opcode == 0xc4 ? SEG_ES : SEG_DS;
	else
		sreg = in->opcode == 0xb2 ? SEG_SS : in->opcode == 0xb4 ? SEG_FS : SEG_GS;
	rc = emu_read(cpu, in->seg, emu_ea(cpu, in), b, os + 2);
	if (rc != EMU_OK)
		return rc;
	for (i = 0; i < os; i++)
		off |= (uint64_t)b[i] << (8 * i);
	rc = emu_dataseg_load(cpu, sreg, (uint16_t)(b[os] | b[os + 1] << 8));
	if (rc != EMU_OK)
		return rc;
	emu_reg_write(cpu, in->reg, os, in->rex, off);
	return EMU_OK;
}

/* MOVBE 0F 38 F0 (load) / F1 (store): a move with the bytes reversed (SDM Vol. 2B MOVBE). */
int
op_movbe(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int size = in->opsize, rc;

	if (in->lock || !in->has_mem)
		return emu_raise(cpu, IDT_UD);
	if (in->form == EMU_FORM_REG_RM) {
		rc = emu_rm_read(cpu, in, size, &v);
		if (rc != EMU_OK)
			return rc;
	} else {
		v = emu_reg_read(cpu, in->reg, size, in->rex);
	}
	switch (size) {
	case 2: v = __builtin_bswap16((uint16_t)v); break;
	case 4: v = __builtin_bswap32((uint32_t)v); break;
	default: v = __builtin_bswap64(v); break;
	}
	if (in->form == EMU_FORM_REG_RM) {
		emu_reg_write(cpu, in->reg, size, in->rex, v);
		return EMU_OK;
	}
	return emu_rm_write(cpu, in, size, v);
}
