/*
 * muldiv.c - MUL, IMUL (one, two and three operands), DIV, IDIV
 * (SDM Vol. 2A/2B).
 *
 * CF and OF say whether the product needed the upper half; SF ZF AF PF are
 * undefined after a multiply and every flag is undefined after a divide.
 * The vendor profile decides them (checked against the host by
 * tests/unit/test_flags_diff.c): see mul_flags and div_flags.
 * #DE: divisor 0, or a quotient that does not fit (INT_MIN / -1 included).
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

static inline int64_t
sext(uint64_t v, int size)
{
	unsigned sh = 64 - (unsigned)size * 8;

	return (int64_t)(v << sh) >> sh;
}

/*
 * CF = OF = the product did not fit the destination.  Zen leaves SF ZF AF
 * PF unchanged; Intel sets SF and PF from the low half of the product (the
 * destination's value) and clears ZF and AF, even for a zero product.
 */
static void
mul_flags(struct emu_cpu *cpu, int size, uint64_t lo, bool ovf)
{
	uint64_t f = ovf ? RFL_CF | RFL_OF : 0;

	if (cpu->vendor == VMM_VENDOR_INTEL && size > 1) {
		/*
		 * Lazily, as a shift records them: CF OF given, SF PF from the
		 * result.  Bit 8 set keeps ZF clear and touches neither SF nor
		 * PF of a 16-bit or wider value; AF reads 0.
		 */
		emu_flags_set(cpu, EMU_LF_SHIFT, size, f, 0,
		    (lo & emu_size_mask(size)) | 0x100);
		return;
	}
	if (cpu->vendor == VMM_VENDOR_INTEL) {
		if (lo & (1ULL << (size * 8 - 1)))
			f |= RFL_SF;
		if (emu_parity((uint8_t)lo))
			f |= RFL_PF;
		emu_set_arith_flags(cpu, RFL_ARITH, f);
		return;
	}
	emu_set_arith_flags(cpu, RFL_CF | RFL_OF, f);
}

/*
 * After DIV/IDIV: Zen keeps CF and OF, clears SF ZF PF and sets AF; Intel
 * leaves every flag unchanged.
 */
static void
div_flags(struct emu_cpu *cpu)
{
	if (cpu->vendor == VMM_VENDOR_INTEL)
		return;
	emu_set_arith_flags(cpu, RFL_SF | RFL_ZF | RFL_AF | RFL_PF, RFL_AF);
}

static int
do_mul(struct emu_cpu *cpu, int size, uint64_t src, bool sign)
{
	unsigned __int128 up;
	__int128 sp;
	uint64_t a, lo, hi;
	bool ovf;
	unsigned n = (unsigned)size * 8;

	a = emu_reg_read(cpu, GPR_RAX, size, 0);
	if (sign) {
		sp = (__int128)sext(a, size) * sext(src, size);
		lo = (uint64_t)sp & emu_size_mask(size);
		hi = (uint64_t)(sp >> n) & emu_size_mask(size);
		ovf = sp != (__int128)sext(lo, size);
	} else {
		up = (unsigned __int128)a * src;
		lo = (uint64_t)up & emu_size_mask(size);
		hi = (uint64_t)(up >> n) & emu_size_mask(size);
		ovf = hi != 0;
	}
	if (size == 1) {
		emu_reg_write(cpu, GPR_RAX, 2, 0, hi << 8 | lo);
	} else {
		emu_reg_write(cpu, GPR_RAX, size, 0, lo);
		emu_reg_write(cpu, GPR_RDX, size, 0, hi);
	}
	mul_flags(cpu, size, lo, ovf);
	return EMU_OK;
}

static int
do_div(struct emu_cpu *cpu, int size, uint64_t src, bool sign)
{
	unsigned __int128 un, uq;
	__int128 sn, sq, sr;
	uint64_t mask = emu_size_mask(size), q, r, lo, hi;
	unsigned n = (unsigned)size * 8;

	if ((src & mask) == 0)
		return emu_raise(cpu, IDT_DE);
	if (size == 1) {
		lo = cpu->st.gpr[GPR_RAX] & 0xff;
		hi = (cpu->st.gpr[GPR_RAX] >> 8) & 0xff;
	} else {
		lo = emu_reg_read(cpu, GPR_RAX, size, 0);
		hi = emu_reg_read(cpu, GPR_RDX, size, 0);
	}
	un = ((unsigned __int128)hi << n) | lo;
	if (sign) {
		/* The dividend is 2n bits wide: sign-extend it from bit 2n-1. */
		sn = (__int128)(un << (128 - 2 * n)) >> (128 - 2 * n);
		/* -2^127 / -1 would overflow the host division itself. */
		if (n == 64 && sext(src, size) == -1 && un == (unsigned __int128)1 << 127)
			return emu_raise(cpu, IDT_DE);
		sq = sn / sext(src, size);
		sr = sn % sext(src, size);
		/* Quotient out of range, INT_MIN / -1 included (SDM: #DE). */
		if (sq != (__int128)sext((uint64_t)sq & mask, size))
			return emu_raise(cpu, IDT_DE);
		q = (uint64_t)sq & mask;
		r = (uint64_t)sr & mask;
	} else {
		uq = un / src;
		if (uq > mask)
			return emu_raise(cpu, IDT_DE);
		q = (uint64_t)uq;
		r = (uint64_t)(un % src);
	}
	if (size == 1) {
		emu_reg_write(cpu, GPR_RAX, 2, 0, r << 8 | q);
	} else {
		emu_reg_write(cpu, GPR_RAX, size, 0, q);
		emu_reg_write(cpu, GPR_RDX, size, 0, r);
	}
	div_flags(cpu);
	return EMU_OK;
}

int
op_muldiv(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src;
	int size = in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	switch (in->sub & 7) {
	case 4: return do_mul(cpu, size, src, false);
	case 5: return do_mul(cpu, size, src, true);
	case 6: return do_div(cpu, size, src, false);
	default: return do_div(cpu, size, src, true);
	}
}

/* Truncating signed multiply shared by IMUL r, r/m and IMUL r, r/m, imm. */
static void
imul_trunc(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t a, uint64_t b)
{
	int size = in->opsize;
	__int128 p;
	uint64_t lo;

	p = (__int128)sext(a, size) * sext(b, size);
	lo = (uint64_t)p & emu_size_mask(size);
	emu_reg_write(cpu, in->reg, size, in->rex, lo);
	mul_flags(cpu, size, lo, p != (__int128)sext(lo, size));
}

int
op_imul2(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, in->opsize, &src);
	if (rc != EMU_OK)
		return rc;
	imul_trunc(cpu, in, emu_reg_read(cpu, in->reg, in->opsize, in->rex), src);
	return EMU_OK;
}

int
op_imul3(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, in->opsize, &src);
	if (rc != EMU_OK)
		return rc;
	imul_trunc(cpu, in, src, in->imm);
	return EMU_OK;
}
