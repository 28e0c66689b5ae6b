/*
 * bcd.c - decimal arithmetic adjustments: DAA DAS AAA AAS AAM AAD
 * (SDM Vol. 2A).  All six are #UD in 64-bit mode (the decoder rejects them).
 *
 * The SDM leaves some of their flags undefined.  Where it does, we model
 * Intel hardware as Bochs does (its BCD handlers are documented there as
 * validated against Intel Pentium-family hardware) and say so at each
 * instruction; AMD differs in places, and a per-vendor variant can be
 * chosen at these same spots later.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* SF ZF PF of an 8-bit result, as RFLAGS bits. */
static uint64_t
szp8(uint8_t v)
{
	return (v & 0x80 ? RFL_SF : 0) | (v == 0 ? RFL_ZF : 0) |
	    (emu_parity(v) ? RFL_PF : 0);
}

static uint8_t
al_read(const struct emu_cpu *cpu)
{
	return (uint8_t)cpu->st.gpr[GPR_RAX];
}

/*
 * DAA 27 / DAS 2F (SDM Vol. 2A DAA, DAS).  CF AF SF ZF PF as the SDM's
 * pseudocode; OF is undefined: cleared, as Bochs' Intel model does.
 */
static int
decimal_adjust(struct emu_cpu *cpu, const struct emu_insn *in, bool sub)
{
	uint64_t fl;
	uint8_t al, old_al;
	bool cf = false, af = false, old_cf;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	fl = emu_rflags(cpu);
	old_al = al = al_read(cpu);
	old_cf = (fl & RFL_CF) != 0;
	if ((al & 0x0f) > 9 || (fl & RFL_AF)) {
		/* The carry/borrow of this step counts only with old CF (SDM). */
		cf = old_cf || (sub ? al < 6 : al > 0xf9);
		al = (uint8_t)(sub ? al - 6 : al + 6);
		af = true;
	}
	if (old_al > 0x99 || old_cf) {
		al = (uint8_t)(sub ? al - 0x60 : al + 0x60);
		cf = true;
	} else if (!sub) {
		/* DAA clears CF here; DAS keeps the borrow of the first step. */
		cf = false;
	}
	emu_reg_write(cpu, GPR_RAX, 1, 0, al);
	emu_set_arith_flags(cpu, RFL_ARITH, szp8(al) | (cf ? RFL_CF : 0) |
	    (af ? RFL_AF : 0));
	return EMU_OK;
}

int
op_daa(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return decimal_adjust(cpu, in, false);
}

int
op_das(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return decimal_adjust(cpu, in, true);
}

/*
 * AAA 37 / AAS 3F (SDM Vol. 2A AAA, AAS): AX += 0x106 (AX -= 6, AH -= 1),
 * so a carry/borrow out of AL reaches AH, as on every CPU since the 286.
 * AF and CF are defined; OF SF ZF PF are not: Bochs' Intel model clears
 * OF and computes SF ZF PF from the final (masked) AL, so SF is always 0.
 */
static int
ascii_adjust(struct emu_cpu *cpu, const struct emu_insn *in, bool sub)
{
	uint64_t fl;
	uint16_t ax = (uint16_t)cpu->st.gpr[GPR_RAX];
	bool adjust;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	fl = emu_rflags(cpu);
	adjust = (ax & 0x0f) > 9 || (fl & RFL_AF);
	if (adjust)
		ax = (uint16_t)(sub ? ax - 6 - 0x100 : ax + 0x106);
	ax &= 0xff0f;
	emu_reg_write(cpu, GPR_RAX, 2, 0, ax);
	emu_set_arith_flags(cpu, RFL_ARITH, szp8((uint8_t)ax) |
	    (adjust ? RFL_CF | RFL_AF : 0));
	return EMU_OK;
}

int
op_aaa(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return ascii_adjust(cpu, in, false);
}

int
op_aas(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return ascii_adjust(cpu, in, true);
}

/*
 * AAM D4 ib (SDM Vol. 2A AAM): AH = AL / imm8, AL = AL % imm8; imm8 = 0 is
 * #DE.  SF ZF PF from AL; OF AF CF are undefined: cleared, as Bochs' Intel
 * model does.
 */
int
op_aam(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint8_t al = al_read(cpu), base = (uint8_t)in->imm;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (base == 0)
		return emu_raise(cpu, IDT_DE);
	al = al % base;
	emu_reg_write(cpu, GPR_RAX, 2, 0,
	    (uint64_t)(al_read(cpu) / base) << 8 | al);
	emu_set_arith_flags(cpu, RFL_ARITH, szp8(al));
	return EMU_OK;
}

/*
 * AAD D5 ib (SDM Vol. 2A AAD): AL = (AL + AH * imm8) & 0xff, AH = 0.
 * SF ZF PF from AL; OF AF CF are undefined: cleared, as Bochs' Intel model
 * does.
 */
int
op_aad(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t ax = cpu->st.gpr[GPR_RAX];
	uint8_t al;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	al = (uint8_t)((ax & 0xff) + ((ax >> 8) & 0xff) * (in->imm & 0xff));
	emu_reg_write(cpu, GPR_RAX, 2, 0, al);
	emu_set_arith_flags(cpu, RFL_ARITH, szp8(al));
	return EMU_OK;
}
