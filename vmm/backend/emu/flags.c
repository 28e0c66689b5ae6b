/*
 * flags.c - the arithmetic flags of the software CPU, computed lazily.
 *
 * An instruction that sets CF PF AF ZF SF OF records its operands and result
 * in cpu->lf (emu_flags_set); the flags are derived only when something reads
 * them: Jcc/SETcc/CMOVcc through emu_cond, which derives just the flags the
 * condition needs, and PUSHF/LAHF/interrupt delivery through emu_rflags,
 * which folds them into cpu->st.rflags.  Instructions whose flags are awkward
 * to describe lazily (shifts, rotates, MUL, bit tests) set them eagerly with
 * emu_set_arith_flags.  The formulas follow SDM Vol. 1 3.4.3 and the
 * per-instruction "Flags Affected" sections of Vol. 2.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

static inline uint64_t
lf_sign(int size)
{
	return 1ULL << (size * 8 - 1);
}

uint8_t
emu_parity(uint8_t v)
{
	/* PF reflects the low byte only (SDM Vol. 1 3.4.3.1). */
	return (uint8_t)(!__builtin_parity(v));
}

static inline bool
lf_cf(const struct emu_lazyflags *lf)
{
	return emu_lf_cf(lf);
}

static bool
lf_of(const struct emu_lazyflags *lf)
{
	uint64_t s1, s2, r, top;

	s1 = lf->src1;
	s2 = lf->src2;
	r = lf->res;
	top = lf_sign(lf->size);
	switch (lf->op) {
	case EMU_LF_ADD:
		return ((s1 ^ r) & (s2 ^ r) & top) != 0;
	case EMU_LF_SUB:
		return ((s1 ^ s2) & (s1 ^ r) & top) != 0;
	case EMU_LF_NEG:
		return (s1 & emu_size_mask(lf->size)) == top;
	case EMU_LF_INC:
		return (r & emu_size_mask(lf->size)) == top;
	case EMU_LF_DEC:
		return (s1 & emu_size_mask(lf->size)) == top;
	case EMU_LF_SHIFT:
		return (s1 & RFL_OF) != 0;
	default:
		return false;
	}
}

static bool
lf_af(const struct emu_lazyflags *lf)
{
	switch (lf->op) {
	case EMU_LF_ADD:
	case EMU_LF_SUB:
		return ((lf->src1 ^ lf->src2 ^ lf->res) & 0x10) != 0;
	case EMU_LF_NEG:
		return ((lf->src1 ^ lf->res) & 0x10) != 0;
	case EMU_LF_INC:
		return (lf->res & 0xf) == 0;
	case EMU_LF_DEC:
		return (lf->res & 0xf) == 0xf;
	case EMU_LF_SHIFT:
		return (lf->src1 & RFL_AF) != 0;
	default:
		/*
		 * AND/OR/XOR/TEST leave AF undefined (SDM Vol. 2); AMD Zen
		 * clears it, and so do we.
		 */
		return false;
	}
}

static inline bool
lf_zf(const struct emu_lazyflags *lf)
{
	return (lf->res & emu_size_mask(lf->size)) == 0;
}

static inline bool
lf_sf(const struct emu_lazyflags *lf)
{
	return (lf->res & lf_sign(lf->size)) != 0;
}

static inline bool
lf_pf(const struct emu_lazyflags *lf)
{
	return emu_parity((uint8_t)lf->res) != 0;
}

uint64_t
emu_rflags(struct emu_cpu *cpu)
{
	const struct emu_lazyflags *lf = &cpu->lf;
	uint64_t f;

	if (lf->op != EMU_LF_NONE) {
		f = cpu->st.rflags & ~RFL_ARITH;
		if (lf_zf(lf))
			f |= RFL_ZF;
		if (lf_sf(lf))
			f |= RFL_SF;
		if (lf_pf(lf))
			f |= RFL_PF;
		/* Logic results (the commonest) have CF = OF = AF = 0. */
		if (lf->op != EMU_LF_LOGIC) {
			if (lf_cf(lf))
				f |= RFL_CF;
			if (lf_af(lf))
				f |= RFL_AF;
			if (lf_of(lf))
				f |= RFL_OF;
		}
		cpu->st.rflags = f;
		cpu->lf.op = EMU_LF_NONE;
	}
	/* Bit 1 is reserved and always reads as 1 (SDM Vol. 1 3.4.3). */
	cpu->st.rflags |= 0x2;
	return cpu->st.rflags;
}

void
emu_set_rflags(struct emu_cpu *cpu, uint64_t val)
{
	cpu->lf.op = EMU_LF_NONE;
	cpu->st.rflags = val | 0x2;
	/* TF or IF may have changed: interrupts and traps are looked at between blocks. */
	cpu->block_stop = 1;
}

void
emu_set_arith_flags(struct emu_cpu *cpu, uint64_t mask, uint64_t val)
{
	uint64_t f;

	const struct emu_lazyflags *lf = &cpu->lf;
	uint64_t keep;

	mask &= RFL_ARITH;
	f = cpu->st.rflags;
	if (mask == RFL_ARITH) {
		/* Every lazy flag is replaced: no need to derive them first. */
		cpu->lf.op = EMU_LF_NONE;
		cpu->st.rflags = (f & ~RFL_ARITH) | (val & RFL_ARITH) | 0x2;
		return;
	}
	if (lf->op != EMU_LF_NONE) {
		/* Derive only the lazy flags that survive (rotates keep SZAP). */
		keep = RFL_ARITH & ~mask;
		f &= ~RFL_ARITH;
		if ((keep & RFL_ZF) && lf_zf(lf))
			f |= RFL_ZF;
		if ((keep & RFL_SF) && lf_sf(lf))
			f |= RFL_SF;
		if ((keep & RFL_PF) && lf_pf(lf))
			f |= RFL_PF;
		if ((keep & RFL_AF) && lf_af(lf))
			f |= RFL_AF;
		if ((keep & RFL_CF) && lf_cf(lf))
			f |= RFL_CF;
		if ((keep & RFL_OF) && lf_of(lf))
			f |= RFL_OF;
		cpu->lf.op = EMU_LF_NONE;
	}
	cpu->st.rflags = (f & ~mask) | (val & mask) | 0x2;
}


static bool
get_zf(const struct emu_cpu *cpu)
{
	if (cpu->lf.op == EMU_LF_NONE)
		return (cpu->st.rflags & RFL_ZF) != 0;
	return lf_zf(&cpu->lf);
}

static bool
get_sf(const struct emu_cpu *cpu)
{
	if (cpu->lf.op == EMU_LF_NONE)
		return (cpu->st.rflags & RFL_SF) != 0;
	return lf_sf(&cpu->lf);
}

static bool
get_of(const struct emu_cpu *cpu)
{
	if (cpu->lf.op == EMU_LF_NONE)
		return (cpu->st.rflags & RFL_OF) != 0;
	return lf_of(&cpu->lf);
}

static bool
get_pf(const struct emu_cpu *cpu)
{
	if (cpu->lf.op == EMU_LF_NONE)
		return (cpu->st.rflags & RFL_PF) != 0;
	return lf_pf(&cpu->lf);
}

/*
 * Condition codes in tttn order (SDM Vol. 1 B.1, table B-1): bit 0 of @cc
 * negates the condition named by bits 3:1.
 */
bool
emu_cond(struct emu_cpu *cpu, int cc)
{
	const struct emu_lazyflags *lf = &cpu->lf;
	bool r;

	/*
	 * After CMP/SUB (no borrow in) the comparisons are the operands'
	 * own: shifted to the top, unsigned order is B/BE's and signed order
	 * is L/LE's (SF != OF), and equality is ZF.
	 */
	if (lf->op == EMU_LF_SUB && lf->cf_in == 0) {
		unsigned sh = 64 - lf->size * 8;
		uint64_t a = lf->src1 << sh, b = lf->src2 << sh;

		switch ((cc >> 1) & 7) {
		case 1:
			r = a < b;
			return (cc & 1) ? !r : r;
		case 2:
			r = a == b;
			return (cc & 1) ? !r : r;
		case 3:
			r = a <= b;
			return (cc & 1) ? !r : r;
		case 6:
			r = (int64_t)a < (int64_t)b;
			return (cc & 1) ? !r : r;
		case 7:
			r = (int64_t)a <= (int64_t)b;
			return (cc & 1) ? !r : r;
		default:
			break;
		}
	}
	switch ((cc >> 1) & 7) {
	case 0:		/* O */
		r = get_of(cpu);
		break;
	case 1:		/* B/C */
		r = emu_get_cf(cpu);
		break;
	case 2:		/* E/Z */
		r = get_zf(cpu);
		break;
	case 3:		/* BE: CF or ZF */
		r = emu_get_cf(cpu) || get_zf(cpu);
		break;
	case 4:		/* S */
		r = get_sf(cpu);
		break;
	case 5:		/* P */
		r = get_pf(cpu);
		break;
	case 6:		/* L: SF != OF */
		r = get_sf(cpu) != get_of(cpu);
		break;
	default:	/* LE: ZF or SF != OF */
		r = get_zf(cpu) || get_sf(cpu) != get_of(cpu);
		break;
	}
	return (cc & 1) ? !r : r;
}
