/*
 * bmi.c - the bit-manipulation extensions on general registers: BMI1
 * (ANDN BEXTR BLSI BLSMSK BLSR; TZCNT is in bit.c), BMI2 (BZHI MULX PDEP
 * PEXT RORX SARX SHLX SHRX) and ADX (ADCX ADOX) (SDM Vol. 2A-2B).
 *
 * BMI instructions are VEX-encoded: in->reg is ModRM.reg, the r/m operand
 * is register or memory, and the third register comes from VEX.vvvv
 * (in->vex_vvvv).  The operand size is 32 bits, or 64 with VEX.W in 64-bit
 * mode (the decoder sets in->opsize); VEX.L = 1 was rejected by the decoder.
 *
 * Flags the SDM leaves undefined (AF and PF, and SF for BEXTR) are cleared:
 * that is what Intel processors do (measured on Xeon).
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

static inline uint64_t
vreg(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	return cpu->st.gpr[in->vex_vvvv & 15] & emu_size_mask(in->opsize);
}

static inline uint64_t
sign_bit(int size)
{
	return 1ULL << (size * 8 - 1);
}

/* SF ZF of @r at @size. */
static inline uint64_t
sz_of(uint64_t r, int size)
{
	return ((r & sign_bit(size)) ? RFL_SF : 0) | (r == 0 ? RFL_ZF : 0);
}

/* ANDN: reg = ~vvvv & r/m; SF ZF, CF = OF = 0 (SDM Vol. 2A ANDN). */
int
op_andn(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, r;
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	r = ~vreg(cpu, in) & src & emu_size_mask(size);
	emu_reg_write(cpu, in->reg, size, in->rex, r);
	emu_set_arith_flags(cpu, RFL_ARITH, sz_of(r, size));
	return EMU_OK;
}

/*
 * BLSR (/1) clears the lowest set bit, BLSMSK (/2) masks up to it, BLSI
 * (/3) isolates it; the result goes to the vvvv register.  CF = (source
 * == 0) for BLSR/BLSMSK, (source != 0) for BLSI; ZF from the result (BLSMSK:
 * always 0); SF from the result; OF = 0 (SDM Vol. 2A BLSI, BLSMSK, BLSR).
 */
int
op_blsx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, r, m = emu_size_mask(in->opsize), f;
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= m;
	switch (in->sub) {
	case 1:
		r = (src - 1) & src & m;
		f = sz_of(r, size) | (src == 0 ? RFL_CF : 0);
		break;
	case 2:
		r = ((src - 1) ^ src) & m;
		f = (r & sign_bit(size) ? RFL_SF : 0) | (src == 0 ? RFL_CF : 0);
		break;
	case 3:
		r = (0 - src) & src & m;
		f = sz_of(r, size) | (src != 0 ? RFL_CF : 0);
		break;
	default:
		return emu_raise(cpu, IDT_UD);
	}
	emu_reg_write(cpu, in->vex_vvvv & 15, size, 0, r);
	emu_set_arith_flags(cpu, RFL_ARITH, f);
	return EMU_OK;
}

/*
 * BEXTR: reg = r/m bits [start + len - 1 : start], start = vvvv[7:0],
 * len = vvvv[15:8], bits beyond the operand reading as zero; ZF from the
 * result, CF = OF = 0 (SDM Vol. 2A BEXTR).
 */
int
op_bextr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, ctl = vreg(cpu, in), r = 0;
	unsigned start = (unsigned)(ctl & 0xff), len = (unsigned)((ctl >> 8) & 0xff);
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	if (start < (unsigned)size * 8) {
		r = src >> start;
		if (len < 64)
			r &= (1ULL << len) - 1;
	}
	emu_reg_write(cpu, in->reg, size, in->rex, r);
	emu_set_arith_flags(cpu, RFL_ARITH, r == 0 ? RFL_ZF : 0);
	return EMU_OK;
}

/*
 * BZHI: reg = r/m with the bits from index vvvv[7:0] up cleared; CF = the
 * index is beyond the operand (nothing cleared); SF ZF from the result,
 * OF = 0 (SDM Vol. 2A BZHI).
 */
int
op_bzhi(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, r;
	unsigned n = (unsigned)(vreg(cpu, in) & 0xff), bits = (unsigned)in->opsize * 8;
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	r = src & emu_size_mask(size);
	if (n < bits)
		r &= (1ULL << n) - 1;
	emu_reg_write(cpu, in->reg, size, in->rex, r);
	emu_set_arith_flags(cpu, RFL_ARITH, sz_of(r, size) | (n > bits - 1 ? RFL_CF : 0));
	return EMU_OK;
}

/*
 * PDEP (sub 0) deposits the low bits of vvvv at the positions of the set
 * bits of the r/m mask; PEXT (sub 1) gathers the bits of vvvv selected by
 * the mask into the low bits.  Flags are unaffected (SDM Vol. 2B PDEP, PEXT).
 */
int
op_pdep(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t mask, src = vreg(cpu, in), r = 0, bit = 1, mb;
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &mask);
	if (rc != EMU_OK)
		return rc;
	mask &= emu_size_mask(size);
	for (; mask != 0; mask &= mask - 1, bit <<= 1) {
		mb = mask & (0 - mask);		/* lowest set bit of the mask */
		if (in->sub == 0 && (src & bit))
			r |= mb;
		else if (in->sub == 1 && (src & mb))
			r |= bit;
	}
	emu_reg_write(cpu, in->reg, size, in->rex, r);
	return EMU_OK;
}

/*
 * MULX: unsigned rDX * r/m; the low half goes to vvvv, the high half to
 * reg, written last so that it wins when both name one register.  Flags
 * are unaffected (SDM Vol. 2B MULX).
 */
int
op_mulx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	unsigned __int128 p;
	uint64_t src;
	int size = in->opsize, rc;

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	p = (unsigned __int128)(cpu->st.gpr[GPR_RDX] & emu_size_mask(size)) *
	    (src & emu_size_mask(size));
	emu_reg_write(cpu, in->vex_vvvv & 15, size, 0, (uint64_t)p);
	emu_reg_write(cpu, in->reg, size, in->rex,
	    size == 8 ? (uint64_t)(p >> 64) : (uint64_t)(p >> 32));
	return EMU_OK;
}

/*
 * SHLX (sub 4), SHRX (sub 5), SARX (sub 7): r/m shifted by vvvv masked to
 * 5 or 6 bits; flags are unaffected (SDM Vol. 2B SARX/SHLX/SHRX).
 */
int
op_shiftx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, r;
	int size = in->opsize, bits = size * 8, rc;
	unsigned n = (unsigned)(vreg(cpu, in) & (uint64_t)(bits - 1));

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	switch (in->sub) {
	case 4:
		r = src << n;
		break;
	case 5:
		r = src >> n;
		break;
	default:
		/* sign-extend to 64 bits, then shift arithmetically */
		r = (uint64_t)((int64_t)(src << (64 - bits)) >> (64 - bits + (int)n));
		break;
	}
	emu_reg_write(cpu, in->reg, size, in->rex, r & emu_size_mask(size));
	return EMU_OK;
}

/* RORX: r/m rotated right by imm8 masked to 5 or 6 bits; flags unaffected (SDM Vol. 2B RORX). */
int
op_rorx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, r;
	int size = in->opsize, bits = size * 8, rc;
	unsigned n = (unsigned)(in->imm & (uint64_t)(bits - 1));

	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	r = n == 0 ? src : (src >> n) | (src << (bits - (int)n));
	emu_reg_write(cpu, in->reg, size, in->rex, r & emu_size_mask(size));
	return EMU_OK;
}

/*
 * ADCX (sub 0): reg += r/m + CF, carry out to CF; ADOX (sub 1): the same
 * with OF as the carry in and out.  No other flag changes (SDM Vol. 2A
 * ADCX, ADOX), which is what lets the two run as independent carry chains.
 */
int
op_adx(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src, dst, m = emu_size_mask(in->opsize), r, cin, flag;
	int size = in->opsize, rc;
	bool carry;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	flag = in->sub == 0 ? RFL_CF : RFL_OF;
	cin = (emu_rflags(cpu) & flag) ? 1 : 0;
	dst = emu_reg_read(cpu, in->reg, size, in->rex);
	src &= m;
	r = (dst + src + cin) & m;
	/* Carry out: the sum wrapped, or equalled dst with a carry in and src = max. */
	carry = r < dst || (cin && r == dst);
	emu_reg_write(cpu, in->reg, size, in->rex, r);
	emu_set_arith_flags(cpu, flag, carry ? flag : 0);
	return EMU_OK;
}
