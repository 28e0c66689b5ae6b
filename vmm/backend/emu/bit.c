/*
 * bit.c - bit test, scan and count: BT BTS BTR BTC, BSF, BSR, BSWAP,
 * POPCNT, TZCNT (BMI1), LZCNT (ABM), CRC32 (SSE4.2) (SDM Vol. 2A, 2B).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

struct bt_ctx {
	int		op;
	uint64_t	bit;		/* 1 << bit offset */
};

static uint64_t
bt_fn(const void *ctx, uint64_t old)
{
	const struct bt_ctx *c = ctx;

	switch (c->op) {
	case BT_SET: return old | c->bit;
	case BT_RESET: return old & ~c->bit;
	default: return old ^ c->bit;
	}
}

/*
 * BT sets CF to the selected bit; OF SF AF PF are undefined and ZF is
 * unaffected.  AMD Zen leaves all of those unchanged, and so do we.
 */
int
op_bt(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct bt_ctx c;
	uint64_t off, ea, old, amask;
	int64_t boff;
	int size = in->opsize, n = size * 8, rc;

	c.op = in->opcode == 0xba ? in->sub & 3 : (in->opcode >> 3) & 3;
	if (emu_lock_bad(in, c.op != BT_TEST))
		return emu_raise(cpu, IDT_UD);
	if (in->opcode == 0xba) {
		boff = (int64_t)(in->imm & (uint64_t)(n - 1));
	} else {
		off = emu_reg_read(cpu, in->reg, size, in->rex);
		/* A register bit offset is a signed value of the operand size. */
		boff = (int64_t)(off << (64 - n)) >> (64 - n);
	}
	if (!in->has_mem) {
		c.bit = 1ULL << (boff & (n - 1));
		old = emu_reg_read(cpu, in->rm, size, in->rex);
		if (c.op != BT_TEST)
			emu_reg_write(cpu, in->rm, size, in->rex, bt_fn(&c, old));
	} else {
		/*
		 * Memory: the offset selects an operand-sized unit relative to
		 * the effective address, which may lie far from it
		 * (SDM Vol. 2A BT, "bit base" addressing).
		 */
		amask = emu_addr_mask(in->addrsize);
		ea = (emu_ea(cpu, in) +
		    (uint64_t)(boff >> __builtin_ctz((unsigned)n)) * (uint64_t)size) & amask;
		c.bit = 1ULL << ((uint64_t)boff & (uint64_t)(n - 1));
		if (c.op == BT_TEST) {
			old = 0;
			rc = emu_read(cpu, in->seg, ea, &old, size);
		} else {
			rc = emu_rmw_at(cpu, in->seg, ea, size, in->lock != 0,
			    bt_fn, &c, &old);
		}
		if (rc != EMU_OK)
			return rc;
	}
	emu_set_arith_flags(cpu, RFL_CF, (old & c.bit) ? RFL_CF : 0);
	return EMU_OK;
}

/*
 * BSF/BSR: ZF = (source == 0), and then the destination is left unchanged,
 * upper half included for a 32-bit operand (AMD documents this; Intel says
 * undefined).  CF OF SF AF PF are undefined: Zen clears CF OF SF AF and sets
 * PF from the index (from 0 when the source is 0), and so do we.  F3 0F
 * BC/BD are TZCNT/LZCNT (the decoder picks them), as CPUID advertises.
 */
static int
bitscan(struct emu_cpu *cpu, const struct emu_insn *in, bool reverse)
{
	uint64_t src, idx;
	int size = in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	if (src == 0) {
		emu_set_arith_flags(cpu, RFL_ARITH, RFL_ZF | RFL_PF);
		return EMU_OK;
	}
	idx = reverse ? 63 - (uint64_t)__builtin_clzll(src) :
	    (uint64_t)__builtin_ctzll(src);
	emu_reg_write(cpu, in->reg, size, in->rex, idx);
	emu_set_arith_flags(cpu, RFL_ARITH, emu_parity((uint8_t)idx) ? RFL_PF : 0);
	return EMU_OK;
}

int
op_bsf(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return bitscan(cpu, in, false);
}

int
op_bsr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return bitscan(cpu, in, true);
}

/*
 * BSWAP r16 is undefined (SDM Vol. 2A BSWAP); Zen clears the low word,
 * as if the swapped 32-bit value were shifted out, and so do we.
 */
int
op_bswap(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int reg = in->form == EMU_FORM_REG_OP ? in->rm : in->reg;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	v = cpu->st.gpr[reg];
	switch (in->opsize) {
	case 8:
		cpu->st.gpr[reg] = __builtin_bswap64(v);
		break;
	case 4:
		cpu->st.gpr[reg] = __builtin_bswap32((uint32_t)v);
		break;
	default:
		emu_reg_write(cpu, reg, 2, 1, 0);
		break;
	}
	return EMU_OK;
}

/*
 * POPCNT (SDM Vol. 2B): ZF = (source == 0), OF SF AF CF PF cleared.
 * TZCNT/LZCNT (SDM Vol. 2B): the count of trailing/leading zero bits, the
 * operand width for a zero source; CF = (source == 0), ZF = (count == 0).
 * OF SF AF PF are undefined: Intel clears them (measured on Xeon), and so
 * do we.
 */
static int
bitcount(struct emu_cpu *cpu, const struct emu_insn *in, int kind)
{
	uint64_t src, n;
	int size = in->opsize, bits = size * 8, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_rm_read(cpu, in, size, &src);
	if (rc != EMU_OK)
		return rc;
	src &= emu_size_mask(size);
	if (kind == 0) {
		n = (uint64_t)__builtin_popcountll(src);
		emu_reg_write(cpu, in->reg, size, in->rex, n);
		emu_set_arith_flags(cpu, RFL_ARITH, src == 0 ? RFL_ZF : 0);
		return EMU_OK;
	}
	if (src == 0)
		n = (uint64_t)bits;
	else if (kind == 1)
		n = (uint64_t)__builtin_ctzll(src);
	else
		n = (uint64_t)(__builtin_clzll(src) - (64 - bits));
	emu_reg_write(cpu, in->reg, size, in->rex, n);
	emu_set_arith_flags(cpu, RFL_ARITH, (src == 0 ? RFL_CF : 0) |
	    (n == 0 ? RFL_ZF : 0));
	return EMU_OK;
}

int
op_popcnt(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return bitcount(cpu, in, 0);
}

int
op_tzcnt(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return bitcount(cpu, in, 1);
}

int
op_lzcnt(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return bitcount(cpu, in, 2);
}

/*
 * CRC32 (F2 0F 38 F0 r/m8, F1 r/m16/32/64; SDM Vol. 2A CRC32): CRC-32C
 * (Castagnoli, polynomial 11EDC6F41H) in its bit-reflected form, the
 * source's bytes from the least significant, accumulated into the low 32
 * bits of the destination; the r64 forms (REX.W) zero-extend the result.
 * No flags.  In C, a byte at a time from a 256-entry table, so the guest's
 * CRC does not depend on the host having SSE4.2 (Linux's crc32c-intel
 * checksums ext4 metadata with it: it is on the disk path).
 */
static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init(void)
{
	uint32_t c;

	for (int b = 0; b < 256; b++) {
		c = (uint32_t)b;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		crc32c_table[b] = c;
	}
}

static uint32_t
crc32c(uint32_t crc, uint64_t data, int size)
{
	pthread_once(&crc32c_once, crc32c_init);
	for (int i = 0; i < size; i++)
		crc = (crc >> 8) ^ crc32c_table[(crc ^ (uint8_t)(data >> (8 * i))) & 0xff];
	return crc;
}

int
op_crc32(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t src;
	uint32_t crc;
	int rc;

	/* F0: in->opsize is 1 (r/m8); F1: 2 with 66, 4, 8 with REX.W */
	rc = emu_rm_read(cpu, in, in->opsize, &src);
	if (rc != EMU_OK)
		return rc;
	crc = (uint32_t)emu_reg_read(cpu, in->reg, 4, in->rex);
	crc = crc32c(crc, src, in->opsize);
	emu_reg_write(cpu, in->reg, (in->rex & 0x8) ? 8 : 4, in->rex, crc);
	return EMU_OK;
}
