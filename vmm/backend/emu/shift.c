/*
 * shift.c - group 2 shifts and rotates (ROL ROR RCL RCR SHL SHR SAL SAR)
 * and the double shifts SHLD/SHRD (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/
 * ROL/ROR, SHLD, SHRD).
 *
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count
 * of 0 changes neither the operand nor the flags.  Flags are set eagerly.
 * Where the SDM leaves something undefined, the vendor profile decides
 * (checked against the host by tests/unit/test_flags_diff.c, and on fixed
 * vectors for both vendors by tests/unit/test_vendor.c).
 *
 * Intel (Xeon, measured):
 *  - SHL/SHR/SAR/SHLD/SHRD with a non-zero count clear AF.
 *  - OF is the count-1 value computed from the original operands, whatever
 *    the count: SHL/ROL/RCL/SHLD x[n-1] ^ x[n-2], SHR x[n-1], SAR 0,
 *    ROR x[0] ^ x[n-1], RCR CF ^ x[n-1], SHRD src[0] ^ x[n-1].
 *  - SHLD/SHRD of a 16-bit operand by 17..31 shift the 48-bit string
 *    dest:src:dest.
 *  - RCL/RCR by a multiple of 9 (8-bit) or 17 (16-bit) change no flag.
 *
 * AMD Zen:
 *  - SHL/SHR/SAR/SHLD/SHRD with a non-zero count set AF.
 *  - OF keeps its count-1 formula for every count: SHL/RCL/SHLD
 *    MSB(res) ^ CF, ROR/RCR/SHRD MSB(res) ^ MSB-1(res), ROL MSB(res) ^ CF,
 *    SHR MSB(src) for 1 and 0 otherwise, SAR 0.
 *  - A 32-bit register shifted by a masked count of 0 is still written
 *    (upper half zeroed), as any other 32-bit register write.
 *  - SHLD/SHRD of a 16-bit operand by 17..31 shift the 48-bit strings
 *    dest:src:src and src:src:dest; CF then reads 0, and so does OF for
 *    SHLD; SHLD by exactly 16 gives OF = CF.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

struct shift_ctx {
	int		op;
	bool		intel;		/* vendor profile */
	int		size;
	unsigned	count;		/* masked, non-zero */
	uint64_t	cf;		/* carry in for RCL/RCR */
	uint64_t	src;		/* SHLD/SHRD fill */
};

struct shift_out {
	uint64_t	res;
	uint64_t	flags;		/* RFL_ARITH bits */
	uint64_t	fmask;		/* which of them the instruction writes */
};

static inline uint64_t
szf_pf(uint64_t res, int size)
{
	uint64_t f = 0;

	if ((res & emu_size_mask(size)) == 0)
		f |= RFL_ZF;
	if (res & (1ULL << (size * 8 - 1)))
		f |= RFL_SF;
	if (emu_parity((uint8_t)res))
		f |= RFL_PF;
	return f;
}

/* Intel: OF as a count of 1 would set it, from the original operand @x. */
static uint64_t
shift_of1_intel(const struct shift_ctx *c, uint64_t x)
{
	unsigned n = (unsigned)c->size * 8;
	uint64_t top = (x >> (n - 1)) & 1, next = (x >> (n - 2)) & 1;

	switch (c->op) {
	case SH_ROR:
		return (x & 1) ^ top;
	case SH_RCR:
		return (c->cf & 1) ^ top;
	case SH_SHR:
		return top;
	case SH_SAR:
		return 0;
	default:	/* ROL RCL SHL SAL */
		return top ^ next;
	}
}

static void
shift_compute(const struct shift_ctx *c, uint64_t x, struct shift_out *o)
{
	unsigned n = (unsigned)c->size * 8, cnt = c->count, t;
	uint64_t mask = emu_size_mask(c->size);
	uint64_t res, cf, of;
	int64_t sx;
	unsigned __int128 v, m;

	x &= mask;
	switch (c->op) {
	case SH_ROL:
		t = cnt % n;
		res = t ? ((x << t) | (x >> (n - t))) & mask : x;
		cf = res & 1;
		of = ((res >> (n - 1)) ^ cf) & 1;
		o->fmask = RFL_CF | RFL_OF;
		break;
	case SH_ROR:
		t = cnt % n;
		res = t ? ((x >> t) | (x << (n - t))) & mask : x;
		cf = (res >> (n - 1)) & 1;
		of = ((res >> (n - 1)) ^ (res >> (n - 2))) & 1;
		o->fmask = RFL_CF | RFL_OF;
		break;
	case SH_RCL:
	case SH_RCR:
		/* Rotate the (n+1)-bit value CF:x (SDM: count MOD 9 / MOD 17). */
		t = cnt % (n + 1);
		if (c->op == SH_RCR && t != 0)
			t = n + 1 - t;
		m = ((unsigned __int128)1 << (n + 1)) - 1;
		v = ((unsigned __int128)c->cf << n) | x;
		if (t != 0)
			v = ((v << t) | (v >> (n + 1 - t))) & m;
		res = (uint64_t)v & mask;
		cf = (uint64_t)(v >> n) & 1;
		if (c->op == SH_RCL)
			of = ((res >> (n - 1)) ^ cf) & 1;
		else
			of = ((res >> (n - 1)) ^ (res >> (n - 2))) & 1;
		/* Intel: a rotation by a multiple of n + 1 leaves OF (and CF) alone. */
		o->fmask = c->intel && t == 0 ? 0 : RFL_CF | RFL_OF;
		break;
	case SH_SHL:
	case SH_SAL:
		if (n == 64) {
			res = x << cnt;
			cf = (x >> (64 - cnt)) & 1;
		} else {
			/* cnt <= 31 < 64 - n: the wide shift keeps every bit. */
			res = (x << cnt) & mask;
			cf = ((x << cnt) >> n) & 1;
		}
		of = ((res >> (n - 1)) ^ cf) & 1;
		o->fmask = RFL_ARITH;
		break;
	case SH_SHR:
		res = cnt >= n ? 0 : x >> cnt;
		cf = cnt - 1 >= n ? 0 : (x >> (cnt - 1)) & 1;
		of = cnt == 1 ? (x >> (n - 1)) & 1 : 0;
		o->fmask = RFL_ARITH;
		break;
	default:	/* SAR */
		sx = (int64_t)(x << (64 - n)) >> (64 - n);
		t = cnt > 63 ? 63 : cnt;
		res = (uint64_t)(sx >> t) & mask;
		cf = (uint64_t)(sx >> (t - 1)) & 1;
		of = 0;
		o->fmask = RFL_ARITH;
		break;
	}
	if (c->intel)
		of = shift_of1_intel(c, x);
	o->res = res;
	o->flags = (cf ? RFL_CF : 0) | (of ? RFL_OF : 0);
	if (o->fmask == RFL_ARITH)
		o->flags |= szf_pf(res, c->size) | (c->intel ? 0 : RFL_AF);
}

static uint64_t
shift_fn(const void *ctx, uint64_t old)
{
	struct shift_out o;

	shift_compute(ctx, old, &o);
	return o.res;
}

/*
 * Read the operand only when the masked count is 0: the flags and the
 * operand are unchanged, but a bad address still faults.
 */
static int
shift_run(struct emu_cpu *cpu, const struct emu_insn *in, struct shift_ctx *c,
    void (*compute)(const struct shift_ctx *, uint64_t, struct shift_out *),
    emu_rmw_fn *fn)
{
	struct shift_out o;
	uint64_t old;
	int rc;

	if (c->count == 0) {
		rc = emu_rm_read(cpu, in, c->size, &old);
		/* Zen still writes a 32-bit register, zeroing its upper half. */
		if (rc == EMU_OK && !in->has_mem && c->size == 4)
			emu_reg_write(cpu, in->rm, 4, in->rex, old);
		return rc;
	}
	if (!in->has_mem) {
		/* A register: compute once, no read-modify-write machinery. */
		old = emu_reg_read(cpu, in->rm, c->size, in->rex);
		compute(c, old, &o);
		emu_reg_write(cpu, in->rm, c->size, in->rex, o.res);
		emu_set_arith_flags(cpu, o.fmask, o.flags);
		return EMU_OK;
	}
	rc = emu_rmw(cpu, in, c->size, fn, c, &old);
	if (rc != EMU_OK)
		return rc;
	compute(c, old, &o);
	emu_set_arith_flags(cpu, o.fmask, o.flags);
	return EMU_OK;
}

int
op_shift(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct shift_ctx c;
	uint64_t cnt;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->form == EMU_FORM_RM_1)
		cnt = 1;
	else if (in->form == EMU_FORM_RM_CL)
		cnt = cpu->st.gpr[GPR_RCX];
	else
		cnt = in->imm;
	c.op = in->sub & 7;
	c.intel = cpu->vendor == VMM_VENDOR_INTEL;
	c.size = in->opsize;
	c.count = (unsigned)(cnt & (c.size == 8 ? 0x3f : 0x1f));
	c.cf = (c.op == SH_RCL || c.op == SH_RCR) && c.count != 0 ?
	    emu_get_cf(cpu) : 0;
	c.src = 0;
	return shift_run(cpu, in, &c, shift_compute, shift_fn);
}

/*
 * SHLD/SHRD: the count may exceed a 16-bit operand's width (up to 31),
 * which the SDM leaves undefined; see the top of the file for what Zen
 * (and so this code) does.
 */
static void
dshift_compute(const struct shift_ctx *c, uint64_t x, struct shift_out *o)
{
	unsigned n = (unsigned)c->size * 8, cnt = c->count;
	uint64_t mask = emu_size_mask(c->size), y = c->src & mask, res, cf, of;
	unsigned __int128 v;

	x &= mask;
	if (c->op == SH_SHL) {
		if (n == 16) {
			/* dest:src:src (AMD) or dest:src:dest (Intel), top 16 bits */
			v = ((unsigned __int128)x << 32) | (y << 16) | (c->intel ? x : y);
			res = (uint64_t)(v >> (32 - cnt)) & mask;
			cf = (uint64_t)(v >> (48 - cnt)) & 1;
		} else {
			v = ((unsigned __int128)x << n) | y;
			res = (uint64_t)(v >> (n - cnt)) & mask;
			cf = (uint64_t)(v >> (2 * n - cnt)) & 1;
		}
		/* Count 1: the sign change (SDM); Zen uses this form for all counts. */
		of = ((res >> (n - 1)) ^ cf) & 1;
	} else {
		if (n == 16) {
			/* src:src:dest (AMD) or dest:src:dest (Intel), low 16 bits */
			v = ((unsigned __int128)(c->intel ? x : y) << 32) | (y << 16) | x;
			res = (uint64_t)(v >> cnt) & mask;
			cf = (uint64_t)(v >> (cnt - 1)) & 1;
		} else {
			v = ((unsigned __int128)y << n) | x;
			res = (uint64_t)(v >> cnt) & mask;
			cf = (uint64_t)(v >> (cnt - 1)) & 1;
		}
		of = ((res >> (n - 1)) ^ (res >> (n - 2))) & 1;
	}
	if (c->intel) {
		/* Count-1 OF: SHLD x[n-1] ^ x[n-2], SHRD src[0] ^ x[n-1]. */
		of = c->op == SH_SHL ? ((x >> (n - 1)) ^ (x >> (n - 2))) & 1 :
		    ((x >> (n - 1)) ^ y) & 1;
	} else if (cnt > n) {
		/* Zen, 16-bit operand: a count above 16 clears CF (and OF for SHLD). */
		cf = 0;
		if (c->op == SH_SHL)
			of = 0;
	} else if (cnt == n && c->op == SH_SHL) {
		/* Zen: SHLD by exactly 16 sets OF equal to CF. */
		of = cf;
	}
	o->res = res;
	o->fmask = RFL_ARITH;
	o->flags = (cf ? RFL_CF : 0) | (of ? RFL_OF : 0) | szf_pf(res, c->size) |
	    (c->intel ? 0 : RFL_AF);
}

static uint64_t
dshift_fn(const void *ctx, uint64_t old)
{
	struct shift_out o;

	dshift_compute(ctx, old, &o);
	return o.res;
}

static int
dshift(struct emu_cpu *cpu, const struct emu_insn *in, int op)
{
	struct shift_ctx c;
	uint64_t cnt;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	/* A5/AD take CL, A4/AC imm8. */
	cnt = in->form == EMU_FORM_RM_CL ? cpu->st.gpr[GPR_RCX] : in->imm;
	c.op = op;
	c.intel = cpu->vendor == VMM_VENDOR_INTEL;
	c.size = in->opsize;
	c.count = (unsigned)(cnt & (c.size == 8 ? 0x3f : 0x1f));
	c.cf = 0;
	c.src = emu_reg_read(cpu, in->reg, c.size, in->rex);
	return shift_run(cpu, in, &c, dshift_compute, dshift_fn);
}

int
op_shld(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return dshift(cpu, in, SH_SHL);
}

int
op_shrd(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return dshift(cpu, in, SH_SHR);
}

/*
 * Specialised register forms by an immediate or by 1 (C1 /r ib, D1 /r with
 * mod = 3), 32 and 64 bits, for SHL SHR SAR ROL ROR: the flags of
 * shift_compute, computed directly (emu_specialize picks them; a masked
 * count of 0 goes to op_shift).
 */
static inline __attribute__((always_inline)) int
shift_reg_imm(struct emu_cpu *cpu, const struct emu_insn *in, int op, int size)
{
	unsigned n = (unsigned)size * 8, c;
	uint64_t m = emu_size_mask(size), x, res, cf, of, top, f;
	bool intel = cpu->vendor == VMM_VENDOR_INTEL;

	c = in->form == EMU_FORM_RM_1 ? 1 : (unsigned)(in->imm & (n - 1));
	if (c == 0)
		return op_shift(cpu, in);
	x = cpu->st.gpr[in->rm] & m;
	top = (x >> (n - 1)) & 1;
	switch (op) {
	case SH_SHL:
		res = (x << c) & m;
		cf = (x >> (n - c)) & 1;
		of = intel ? top ^ ((x >> (n - 2)) & 1) : ((res >> (n - 1)) ^ cf) & 1;
		break;
	case SH_SHR:
		res = x >> c;
		cf = (x >> (c - 1)) & 1;
		of = intel || c == 1 ? top : 0;
		break;
	case SH_SAR:
		res = (uint64_t)((int64_t)(x << (64 - n)) >> (64 - n + c)) & m;
		cf = (uint64_t)((int64_t)(x << (64 - n)) >> (64 - n + c - 1)) & 1;
		of = 0;
		break;
	case SH_ROL:
		res = ((x << c) | (x >> (n - c))) & m;
		cf = res & 1;
		of = intel ? top ^ ((x >> (n - 2)) & 1) : ((res >> (n - 1)) ^ cf) & 1;
		cpu->st.gpr[in->rm] = res;
		emu_set_arith_flags(cpu, RFL_CF | RFL_OF, (cf ? RFL_CF : 0) | (of ? RFL_OF : 0));
		return EMU_OK;
	default:	/* ROR */
		res = ((x >> c) | (x << (n - c))) & m;
		cf = (res >> (n - 1)) & 1;
		of = intel ? (x & 1) ^ top : ((res >> (n - 1)) ^ (res >> (n - 2))) & 1;
		cpu->st.gpr[in->rm] = res;
		emu_set_arith_flags(cpu, RFL_CF | RFL_OF, (cf ? RFL_CF : 0) | (of ? RFL_OF : 0));
		return EMU_OK;
	}
	/* 32-bit results zero the upper half: res is already masked. */
	cpu->st.gpr[in->rm] = res;
	/* Lazily: ZF SF PF come from res, CF OF AF ride in src1. */
	f = (cf ? RFL_CF : 0) | (of ? RFL_OF : 0) | (intel ? 0 : RFL_AF);
	emu_flags_set(cpu, EMU_LF_SHIFT, size, f, 0, res);
	return EMU_OK;
}

#define SHIFT_FAST(name, OP)							\
static int name##32(struct emu_cpu *c, const struct emu_insn *i)		\
{ return shift_reg_imm(c, i, OP, 4); }						\
static int name##64(struct emu_cpu *c, const struct emu_insn *i)		\
{ return shift_reg_imm(c, i, OP, 8); }
SHIFT_FAST(shl_ri, SH_SHL)
SHIFT_FAST(shr_ri, SH_SHR)
SHIFT_FAST(sar_ri, SH_SAR)
SHIFT_FAST(rol_ri, SH_ROL)
SHIFT_FAST(ror_ri, SH_ROR)

emu_op_fn *const emu_shift_reg_imm[8][2] = {
	[SH_ROL] = { rol_ri32, rol_ri64 },
	[SH_ROR] = { ror_ri32, ror_ri64 },
	[SH_SHL] = { shl_ri32, shl_ri64 },
	[SH_SAL] = { shl_ri32, shl_ri64 },
	[SH_SHR] = { shr_ri32, shr_ri64 },
	[SH_SAR] = { sar_ri32, sar_ri64 },
};
