/*
 * fast.c - specialised handlers for the hottest instruction forms, chosen
 * once at decode time (emu_specialize, called by emu_decode), so that they
 * never re-decide operation, form, size or register/memory at run time
 * (the Bochs way: XOR_EdGdR vs XOR_EdGdM).
 *
 * Each one covers exactly a form its generic handler (alu.c, move.c) also
 * covers, computes the same result and records the same lazy flags; the
 * memory forms use the inline TLB path (emu_mem_fast) and hand anything
 * else (a miss, MMIO, a page crossing, a fault) to the generic handler,
 * which starts from scratch: nothing architectural has changed by then.
 * tests/diff runs every form through emu_decode, so the specialised
 * handlers are what it checks against the host.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

#define ALWAYS_INLINE	static inline __attribute__((always_inline))

/* dst op= src on values already masked to @size; records the lazy flags. */
ALWAYS_INLINE uint64_t
alu_op(struct emu_cpu *cpu, int op, int size, uint64_t a, uint64_t b)
{
	uint64_t m = emu_size_mask(size), r;

	switch (op) {
	case ALU_ADD:
		r = (a + b) & m;
		emu_flags_set(cpu, EMU_LF_ADD, size, a, b, r);
		break;
	case ALU_OR:
		r = a | b;
		emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, r);
		break;
	case ALU_AND:
		r = a & b;
		emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, r);
		break;
	case ALU_XOR:
		r = a ^ b;
		emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, r);
		break;
	default:	/* SUB, CMP */
		r = (a - b) & m;
		emu_flags_set(cpu, EMU_LF_SUB, size, a, b, r);
		break;
	}
	return r;
}

/* Register destination of 4 or 8 bytes: a 32-bit write zeroes the upper half. */
ALWAYS_INLINE void
reg_put(struct emu_cpu *cpu, int reg, int size, uint64_t v)
{
	cpu->st.gpr[reg] = size == 8 ? v : (uint32_t)v;
}

ALWAYS_INLINE uint64_t
reg_get(const struct emu_cpu *cpu, int reg, int size)
{
	return size == 8 ? cpu->st.gpr[reg] : (uint32_t)cpu->st.gpr[reg];
}

ALWAYS_INLINE uint64_t
load_sz(const uint8_t *p, int size)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

ALWAYS_INLINE void
store_sz(uint8_t *p, int size, uint64_t v)
{
	uint8_t v8 = (uint8_t)v;
	uint32_t v32 = (uint32_t)v;

	if (size == 8)
		memcpy(p, &v, 8);
	else if (size == 4)
		memcpy(p, &v32, 4);
	else
		memcpy(p, &v8, 1);
}

/* ---- ALU: reg,reg  reg,imm  reg,[mem]  [mem],reg  [mem],imm ---- */

ALWAYS_INLINE int
alu_rr(struct emu_cpu *cpu, int op, int size, int dst, int src)
{
	uint64_t r = alu_op(cpu, op, size, reg_get(cpu, dst, size), reg_get(cpu, src, size));

	if (op != ALU_CMP)
		reg_put(cpu, dst, size, r);
	return EMU_OK;
}

ALWAYS_INLINE int
alu_ri(struct emu_cpu *cpu, int op, int size, int dst, uint64_t imm)
{
	uint64_t r = alu_op(cpu, op, size, reg_get(cpu, dst, size), imm & emu_size_mask(size));

	if (op != ALU_CMP)
		reg_put(cpu, dst, size, r);
	return EMU_OK;
}

/* reg op= [mem] (REG_RM with memory). */
ALWAYS_INLINE int
alu_rm(struct emu_cpu *cpu, const struct emu_insn *in, int op, int size)
{
	uint64_t gpa, r;
	const uint8_t *hp;

	hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), size, 0, &gpa);
	if (hp == NULL)
		return op_alu(cpu, in);
	r = alu_op(cpu, op, size, reg_get(cpu, in->reg, size), load_sz(hp, size));
	if (op != ALU_CMP)
		reg_put(cpu, in->reg, size, r);
	return EMU_OK;
}

/* [mem] op= reg or imm (RM_REG / RM_IMM with memory, no LOCK). */
ALWAYS_INLINE int
alu_mr(struct emu_cpu *cpu, const struct emu_insn *in, int op, int size, bool imm)
{
	uint64_t gpa, src, r;
	uint8_t *hp;

	hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), size, op != ALU_CMP, &gpa);
	if (hp == NULL)
		return op_alu(cpu, in);
	src = imm ? in->imm & emu_size_mask(size) : reg_get(cpu, in->reg, size);
	r = alu_op(cpu, op, size, load_sz(hp, size), src);
	if (op != ALU_CMP) {
		store_sz(hp, size, r);
		emu_code_written(cpu, gpa, (uint64_t)size);
	}
	return EMU_OK;
}

#define ALU_FNS(name, OP, SZ)							\
static int fast_##name##SZ##_rmreg(struct emu_cpu *c, const struct emu_insn *i)	\
{ return alu_rr(c, OP, SZ / 8, i->rm, i->reg); }				\
static int fast_##name##SZ##_regrm(struct emu_cpu *c, const struct emu_insn *i)	\
{ return alu_rr(c, OP, SZ / 8, i->reg, i->rm); }				\
static int fast_##name##SZ##_rmimm(struct emu_cpu *c, const struct emu_insn *i)	\
{ return alu_ri(c, OP, SZ / 8, i->rm, i->imm); }				\
static int fast_##name##SZ##_accimm(struct emu_cpu *c, const struct emu_insn *i) \
{ return alu_ri(c, OP, SZ / 8, GPR_RAX, i->imm); }				\
static int fast_##name##SZ##_regmem(struct emu_cpu *c, const struct emu_insn *i) \
{ return alu_rm(c, i, OP, SZ / 8); }						\
static int fast_##name##SZ##_memreg(struct emu_cpu *c, const struct emu_insn *i) \
{ return alu_mr(c, i, OP, SZ / 8, false); }					\
static int fast_##name##SZ##_memimm(struct emu_cpu *c, const struct emu_insn *i) \
{ return alu_mr(c, i, OP, SZ / 8, true); }

#define ALU_OP(name, OP) ALU_FNS(name, OP, 32) ALU_FNS(name, OP, 64)
ALU_OP(add, ALU_ADD) ALU_OP(or, ALU_OR) ALU_OP(and, ALU_AND)
ALU_OP(sub, ALU_SUB) ALU_OP(xor, ALU_XOR) ALU_OP(cmp, ALU_CMP)

enum { V_RMREG, V_REGRM, V_RMIMM, V_ACCIMM, V_REGMEM, V_MEMREG, V_MEMIMM, V_COUNT };

#define ALU_ROW(name)								\
	{ { fast_##name##32_rmreg, fast_##name##32_regrm, fast_##name##32_rmimm,	\
	    fast_##name##32_accimm, fast_##name##32_regmem, fast_##name##32_memreg,	\
	    fast_##name##32_memimm },							\
	  { fast_##name##64_rmreg, fast_##name##64_regrm, fast_##name##64_rmimm,	\
	    fast_##name##64_accimm, fast_##name##64_regmem, fast_##name##64_memreg,	\
	    fast_##name##64_memimm } }

/* [ALU row][size 4, 8][variant]; ADC and SBB stay generic. */
static emu_op_fn *const alu_fast[8][2][V_COUNT] = {
	[ALU_ADD] = ALU_ROW(add), [ALU_OR] = ALU_ROW(or), [ALU_AND] = ALU_ROW(and),
	[ALU_SUB] = ALU_ROW(sub), [ALU_XOR] = ALU_ROW(xor), [ALU_CMP] = ALU_ROW(cmp),
};

/* ---- TEST reg,reg ---- */

static int
fast_test32_rr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t a = reg_get(cpu, in->rm, 4), b = reg_get(cpu, in->reg, 4);

	emu_flags_set(cpu, EMU_LF_LOGIC, 4, a, b, a & b);
	return EMU_OK;
}

static int
fast_test64_rr(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t a = cpu->st.gpr[in->rm], b = cpu->st.gpr[in->reg];

	emu_flags_set(cpu, EMU_LF_LOGIC, 8, a, b, a & b);
	return EMU_OK;
}

/* ---- MOV ---- */

#define MOV_FNS(SZ)								\
static int fast_mov##SZ##_rmreg(struct emu_cpu *c, const struct emu_insn *i)	\
{ reg_put(c, i->rm, SZ / 8, c->st.gpr[i->reg]); return EMU_OK; }		\
static int fast_mov##SZ##_regrm(struct emu_cpu *c, const struct emu_insn *i)	\
{ reg_put(c, i->reg, SZ / 8, c->st.gpr[i->rm]); return EMU_OK; }		\
static int fast_mov##SZ##_imm(struct emu_cpu *c, const struct emu_insn *i)	\
{ reg_put(c, i->rm, SZ / 8, i->imm); return EMU_OK; }				\
static int fast_mov##SZ##_load(struct emu_cpu *c, const struct emu_insn *i)	\
{										\
	uint64_t gpa;								\
	const uint8_t *hp = emu_mem_fast(c, i->seg, emu_ea(c, i), SZ / 8, 0, &gpa); \
										\
	if (hp == NULL)								\
		return op_mov(c, i);						\
	reg_put(c, i->reg, SZ / 8, load_sz(hp, SZ / 8));			\
	return EMU_OK;								\
}										\
static int fast_mov##SZ##_store(struct emu_cpu *c, const struct emu_insn *i)	\
{										\
	uint64_t gpa;								\
	uint8_t *hp = emu_mem_fast(c, i->seg, emu_ea(c, i), SZ / 8, 1, &gpa);	\
										\
	if (hp == NULL)								\
		return op_mov(c, i);						\
	store_sz(hp, SZ / 8, i->form == EMU_FORM_RM_IMM ? i->imm : c->st.gpr[i->reg]); \
	emu_code_written(c, gpa, SZ / 8);					\
	return EMU_OK;								\
}
MOV_FNS(32)
MOV_FNS(64)

/* ---- MOVZX, MOVSX, MOVSXD ---- */

ALWAYS_INLINE uint64_t
sext_sz(uint64_t v, int size)
{
	return size == 1 ? (uint64_t)(int64_t)(int8_t)v : size == 2 ?
	    (uint64_t)(int64_t)(int16_t)v : (uint64_t)(int64_t)(int32_t)v;
}

/* Destination of @dsize (4, 8) from a source of @ssize (1, 2, 4). */
ALWAYS_INLINE int
movx_fast(struct emu_cpu *cpu, const struct emu_insn *in, int ssize, int dsize,
    bool sign, bool mem, emu_op_fn *generic)
{
	uint64_t v, gpa;

	if (mem) {
		const uint8_t *hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), ssize, 0, &gpa);

		if (hp == NULL)
			return generic(cpu, in);
		v = load_sz(hp, ssize);
	} else {
		v = emu_reg_read(cpu, in->rm, ssize, in->rex);
	}
	reg_put(cpu, in->reg, dsize, sign ? sext_sz(v, ssize) : v);
	return EMU_OK;
}

#define MOVX_FNS(name, SIGN, SS, DS, GEN)					\
static int fast_##name##SS##_##DS##_r(struct emu_cpu *c, const struct emu_insn *i) \
{ return movx_fast(c, i, SS / 8, DS / 8, SIGN, false, GEN); }			\
static int fast_##name##SS##_##DS##_m(struct emu_cpu *c, const struct emu_insn *i) \
{ return movx_fast(c, i, SS / 8, DS / 8, SIGN, true, GEN); }
MOVX_FNS(movzx, false, 8, 32, op_movzx) MOVX_FNS(movzx, false, 8, 64, op_movzx)
MOVX_FNS(movzx, false, 16, 32, op_movzx) MOVX_FNS(movzx, false, 16, 64, op_movzx)
MOVX_FNS(movsx, true, 8, 32, op_movsx) MOVX_FNS(movsx, true, 8, 64, op_movsx)
MOVX_FNS(movsx, true, 16, 32, op_movsx) MOVX_FNS(movsx, true, 16, 64, op_movsx)
MOVX_FNS(movsxd, true, 32, 64, op_movsxd)

/* [sign][source 16][destination 64][memory] */
static emu_op_fn *const movx_fast_fns[2][2][2][2] = {
	{ { { fast_movzx8_32_r, fast_movzx8_32_m }, { fast_movzx8_64_r, fast_movzx8_64_m } },
	  { { fast_movzx16_32_r, fast_movzx16_32_m }, { fast_movzx16_64_r, fast_movzx16_64_m } } },
	{ { { fast_movsx8_32_r, fast_movsx8_32_m }, { fast_movsx8_64_r, fast_movsx8_64_m } },
	  { { fast_movsx16_32_r, fast_movsx16_32_m }, { fast_movsx16_64_r, fast_movsx16_64_m } } },
};

/* ---- CMOVcc: a memory source is read whatever the condition ---- */

ALWAYS_INLINE int
cmov_fast(struct emu_cpu *cpu, const struct emu_insn *in, int size, bool mem)
{
	uint64_t v, gpa;

	if (mem) {
		const uint8_t *hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), size, 0, &gpa);

		if (hp == NULL)
			return op_cmov(cpu, in);
		v = load_sz(hp, size);
	} else {
		v = cpu->st.gpr[in->rm];
	}
	if (!emu_cond(cpu, in->sub & 15))
		v = cpu->st.gpr[in->reg];
	/* A 32-bit CMOV zeroes the upper half even when it does not move. */
	reg_put(cpu, in->reg, size, v);
	return EMU_OK;
}

static int fast_cmov32_r(struct emu_cpu *c, const struct emu_insn *i) { return cmov_fast(c, i, 4, false); }
static int fast_cmov32_m(struct emu_cpu *c, const struct emu_insn *i) { return cmov_fast(c, i, 4, true); }
static int fast_cmov64_r(struct emu_cpu *c, const struct emu_insn *i) { return cmov_fast(c, i, 8, false); }
static int fast_cmov64_m(struct emu_cpu *c, const struct emu_insn *i) { return cmov_fast(c, i, 8, true); }

/* ---- TEST with memory or an immediate, any size but 16; SETcc ---- */

ALWAYS_INLINE uint64_t
rget(const struct emu_cpu *cpu, int reg, int size, int rex)
{
	return size == 1 ? emu_reg_read(cpu, reg, 1, rex) : reg_get(cpu, reg, size);
}

enum { T_MEMREG, T_REGIMM, T_MEMIMM, T_ACCIMM, T_REGREG8 };

ALWAYS_INLINE int
test_fast(struct emu_cpu *cpu, const struct emu_insn *in, int size, int kind)
{
	uint64_t a, b, gpa;

	if (kind == T_MEMREG || kind == T_MEMIMM) {
		const uint8_t *hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), size, 0, &gpa);

		if (hp == NULL)
			return op_test(cpu, in);
		a = load_sz(hp, size);
	} else {
		a = rget(cpu, kind == T_ACCIMM ? GPR_RAX : in->rm, size, kind == T_ACCIMM ? 0 : in->rex);
	}
	b = kind == T_MEMREG || kind == T_REGREG8 ? rget(cpu, in->reg, size, in->rex) : in->imm;
	emu_flags_set(cpu, EMU_LF_LOGIC, size, a, b, a & b & emu_size_mask(size));
	return EMU_OK;
}

#define TEST_FNS(SZ)								\
static int fast_test##SZ##_mr(struct emu_cpu *c, const struct emu_insn *i)	\
{ return test_fast(c, i, SZ / 8, T_MEMREG); }					\
static int fast_test##SZ##_ri(struct emu_cpu *c, const struct emu_insn *i)	\
{ return test_fast(c, i, SZ / 8, T_REGIMM); }					\
static int fast_test##SZ##_mi(struct emu_cpu *c, const struct emu_insn *i)	\
{ return test_fast(c, i, SZ / 8, T_MEMIMM); }					\
static int fast_test##SZ##_ai(struct emu_cpu *c, const struct emu_insn *i)	\
{ return test_fast(c, i, SZ / 8, T_ACCIMM); }
TEST_FNS(8) TEST_FNS(32) TEST_FNS(64)
static int fast_test8_rr(struct emu_cpu *c, const struct emu_insn *i) { return test_fast(c, i, 1, T_REGREG8); }

/* [size 1, 4, 8][T_MEMREG .. T_ACCIMM] */
static emu_op_fn *const test_fast_fns[3][4] = {
	{ fast_test8_mr, fast_test8_ri, fast_test8_mi, fast_test8_ai },
	{ fast_test32_mr, fast_test32_ri, fast_test32_mi, fast_test32_ai },
	{ fast_test64_mr, fast_test64_ri, fast_test64_mi, fast_test64_ai },
};

static int
fast_setcc_r(struct emu_cpu *cpu, const struct emu_insn *in)
{
	emu_reg_write(cpu, in->rm, 1, in->rex, emu_cond(cpu, in->sub & 15));
	return EMU_OK;
}

static int
fast_setcc_m(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t gpa;
	uint8_t *hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), 1, 1, &gpa);

	if (hp == NULL)
		return op_setcc(cpu, in);
	*hp = emu_cond(cpu, in->sub & 15);
	emu_code_written(cpu, gpa, 1);
	return EMU_OK;
}

/* ---- IMUL r, r/m and IMUL r, r/m, imm (muldiv.c's imul_trunc and mul_flags) ---- */

ALWAYS_INLINE int
imul_fast(struct emu_cpu *cpu, const struct emu_insn *in, int size, bool three, bool mem)
{
	uint64_t a, b, lo, gpa, f;
	bool ovf;

	if (mem) {
		const uint8_t *hp = emu_mem_fast(cpu, in->seg, emu_ea(cpu, in), size, 0, &gpa);

		if (hp == NULL)
			return three ? op_imul3(cpu, in) : op_imul2(cpu, in);
		a = load_sz(hp, size);
	} else {
		a = cpu->st.gpr[in->rm];
	}
	b = three ? in->imm : cpu->st.gpr[in->reg];
	if (size == 8) {
		int64_t r;

		ovf = __builtin_mul_overflow((int64_t)a, (int64_t)b, &r);
		lo = (uint64_t)r;
	} else {
		int64_t p = (int64_t)(int32_t)a * (int32_t)b;

		ovf = p != (int32_t)p;
		lo = (uint32_t)p;
	}
	reg_put(cpu, in->reg, size, lo);
	f = ovf ? RFL_CF | RFL_OF : 0;
	if (cpu->vendor == VMM_VENDOR_INTEL)
		emu_flags_set(cpu, EMU_LF_SHIFT, size, f, 0, lo | 0x100);
	else
		emu_set_arith_flags(cpu, RFL_CF | RFL_OF, f);
	return EMU_OK;
}

static int fast_imul2_32_r(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 4, false, false); }
static int fast_imul2_32_m(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 4, false, true); }
static int fast_imul2_64_r(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 8, false, false); }
static int fast_imul2_64_m(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 8, false, true); }
static int fast_imul3_32_r(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 4, true, false); }
static int fast_imul3_32_m(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 4, true, true); }
static int fast_imul3_64_r(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 8, true, false); }
static int fast_imul3_64_m(struct emu_cpu *c, const struct emu_insn *i) { return imul_fast(c, i, 8, true, true); }

/* [three operands][size 8][memory] */
static emu_op_fn *const imul_fast_fns[2][2][2] = {
	{ { fast_imul2_32_r, fast_imul2_32_m }, { fast_imul2_64_r, fast_imul2_64_m } },
	{ { fast_imul3_32_r, fast_imul3_32_m }, { fast_imul3_64_r, fast_imul3_64_m } },
};

/* ---- LEA, INC/DEC ---- */

static int
fast_lea64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	cpu->st.gpr[in->reg] = emu_ea(cpu, in);
	return EMU_OK;
}

static int
fast_lea32(struct emu_cpu *cpu, const struct emu_insn *in)
{
	cpu->st.gpr[in->reg] = (uint32_t)emu_ea(cpu, in);
	return EMU_OK;
}

ALWAYS_INLINE int
incdec_r(struct emu_cpu *cpu, const struct emu_insn *in, int size, bool dec)
{
	/* INC/DEC leave CF alone (SDM Vol. 2A INC): carry it in src2, as alu.c. */
	uint64_t cf = emu_get_cf(cpu), old = reg_get(cpu, in->rm, size);
	uint64_t res = (dec ? old - 1 : old + 1) & emu_size_mask(size);

	reg_put(cpu, in->rm, size, res);
	emu_flags_set(cpu, dec ? EMU_LF_DEC : EMU_LF_INC, size, old, cf, res);
	return EMU_OK;
}

static int fast_inc32(struct emu_cpu *c, const struct emu_insn *i) { return incdec_r(c, i, 4, false); }
static int fast_inc64(struct emu_cpu *c, const struct emu_insn *i) { return incdec_r(c, i, 8, false); }
static int fast_dec32(struct emu_cpu *c, const struct emu_insn *i) { return incdec_r(c, i, 4, true); }
static int fast_dec64(struct emu_cpu *c, const struct emu_insn *i) { return incdec_r(c, i, 8, true); }

/* ---- ADC/SBB reg,reg; NOT/NEG reg ---- */

/* The carry-in rides in lf.cf_in, as alu.c records it. */
ALWAYS_INLINE int
adcsbb_rr(struct emu_cpu *cpu, int size, int dst, int src, bool sbb)
{
	uint64_t m = emu_size_mask(size), cf = emu_get_cf(cpu);
	uint64_t a = reg_get(cpu, dst, size), b = reg_get(cpu, src, size);
	uint64_t r = (sbb ? a - b - cf : a + b + cf) & m;

	reg_put(cpu, dst, size, r);
	emu_flags_set(cpu, sbb ? EMU_LF_SUB : EMU_LF_ADD, size, a, b, r);
	cpu->lf.cf_in = (uint8_t)cf;
	return EMU_OK;
}

#define ADCSBB_FNS(name, SBB, SZ)						static int fast_##name##SZ##_rmreg(struct emu_cpu *c, const struct emu_insn *i)	{ return adcsbb_rr(c, SZ / 8, i->rm, i->reg, SBB); }				static int fast_##name##SZ##_regrm(struct emu_cpu *c, const struct emu_insn *i)	{ return adcsbb_rr(c, SZ / 8, i->reg, i->rm, SBB); }
ADCSBB_FNS(adc, false, 32) ADCSBB_FNS(adc, false, 64)
ADCSBB_FNS(sbb, true, 32) ADCSBB_FNS(sbb, true, 64)

static int
fast_not32(struct emu_cpu *cpu, const struct emu_insn *in)
{
	cpu->st.gpr[in->rm] = (uint32_t)~cpu->st.gpr[in->rm];
	return EMU_OK;
}

static int
fast_not64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	cpu->st.gpr[in->rm] = ~cpu->st.gpr[in->rm];
	return EMU_OK;
}

ALWAYS_INLINE int
neg_r(struct emu_cpu *cpu, const struct emu_insn *in, int size)
{
	uint64_t old = reg_get(cpu, in->rm, size), res = (0 - old) & emu_size_mask(size);

	reg_put(cpu, in->rm, size, res);
	emu_flags_set(cpu, EMU_LF_NEG, size, old, 0, res);
	return EMU_OK;
}

static int fast_neg32(struct emu_cpu *c, const struct emu_insn *i) { return neg_r(c, i, 4); }
static int fast_neg64(struct emu_cpu *c, const struct emu_insn *i) { return neg_r(c, i, 8); }

/* ---- near branches and the stack in 64-bit mode ---- */

ALWAYS_INLINE bool
canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* JMP rel8/rel32; anything unusual (not 64-bit mode, #GP) goes to op_jmp. */
static int
fast_jmp_rel64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t t = cpu->next_rip + in->imm;

	if (__builtin_expect(cpu->mode != EMU_MODE_LONG64 || !canonical(t), 0))
		return op_jmp(cpu, in);
	cpu->next_rip = t;
	return EMU_OK;
}

/* The 8-byte stack slot at RSP + @delta, when the inline TLB path has it. */
ALWAYS_INLINE uint8_t *
stack_slot(struct emu_cpu *cpu, uint64_t delta, int write, uint64_t *gpa)
{
	if (__builtin_expect(cpu->mode != EMU_MODE_LONG64, 0))
		return NULL;
	return emu_mem_fast(cpu, SEG_SS, cpu->st.gpr[GPR_RSP] + delta, 8, write, gpa);
}

static int
fast_call_rel64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t t = cpu->next_rip + in->imm, gpa;
	uint8_t *hp;

	hp = stack_slot(cpu, (uint64_t)-8, 1, &gpa);
	if (__builtin_expect(hp == NULL || !canonical(t), 0))
		return op_call(cpu, in);
	memcpy(hp, &cpu->next_rip, 8);
	emu_code_written(cpu, gpa, 8);
	cpu->st.gpr[GPR_RSP] -= 8;
	cpu->next_rip = t;
	return EMU_OK;
}

/* C3, and C2 imm16 (which then releases imm16 more bytes). */
static int
fast_ret64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t t, gpa;
	const uint8_t *hp;

	hp = stack_slot(cpu, 0, 0, &gpa);
	if (__builtin_expect(hp == NULL, 0))
		return op_ret(cpu, in);
	memcpy(&t, hp, 8);
	if (__builtin_expect(!canonical(t), 0))
		return op_ret(cpu, in);
	cpu->st.gpr[GPR_RSP] += 8 + (in->opcode == 0xc2 ? in->imm : 0);
	cpu->next_rip = t;
	return EMU_OK;
}

/* PUSH r64 stores the register's value before RSP moves (PUSH RSP included). */
static int
fast_push64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t gpa;
	uint8_t *hp;

	hp = stack_slot(cpu, (uint64_t)-8, 1, &gpa);
	if (__builtin_expect(hp == NULL, 0))
		return op_push(cpu, in);
	memcpy(hp, &cpu->st.gpr[in->rm], 8);
	emu_code_written(cpu, gpa, 8);
	cpu->st.gpr[GPR_RSP] -= 8;
	return EMU_OK;
}

/* POP r64: RSP moves first, so POP RSP leaves the popped value. */
static int
fast_pop64(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v, gpa;
	const uint8_t *hp;

	hp = stack_slot(cpu, 0, 0, &gpa);
	if (__builtin_expect(hp == NULL, 0))
		return op_pop(cpu, in);
	memcpy(&v, hp, 8);
	cpu->st.gpr[GPR_RSP] += 8;
	cpu->st.gpr[in->rm] = v;
	return EMU_OK;
}

/*
 * ---- Jcc in 64-bit mode ----
 * A block may go on past a Jcc (emu.c): there the mid-block variant
 * returns EMU_BRANCH when it is taken, which ends the block, and EMU_OK
 * when it falls through.  At the end of a block the plain variant returns
 * EMU_OK either way.  JZ/JNZ read ZF straight from the lazy record.
 */

enum { CC_ANY = -1, CC_Z = 4, CC_NZ = 5 };

ALWAYS_INLINE int
jcc_64(struct emu_cpu *cpu, const struct emu_insn *in, int cc, bool mid)
{
	bool taken;
	uint64_t t;
	int rc;

	if (cc == CC_ANY) {
		taken = emu_cond(cpu, in->sub);
	} else {
		if (cpu->lf.op != EMU_LF_NONE)
			taken = (cpu->lf.res & emu_size_mask(cpu->lf.size)) == 0;
		else
			taken = (cpu->st.rflags & RFL_ZF) != 0;
		taken ^= cc == CC_NZ;
	}
	if (!taken)
		return EMU_OK;
	t = cpu->next_rip + in->imm;
	/* A non-canonical target faults at the branch (SDM Vol. 2A Jcc). */
	if (__builtin_expect(cpu->mode != EMU_MODE_LONG64 || !canonical(t), 0)) {
		rc = op_jcc(cpu, in);
		return mid && rc == EMU_OK ? EMU_BRANCH : rc;
	}
	cpu->next_rip = t;
	return mid ? EMU_BRANCH : EMU_OK;
}

static int fast_jcc64(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_ANY, false); }
static int fast_jz(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_Z, false); }
static int fast_jnz(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_NZ, false); }
static int mid_jcc64(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_ANY, true); }
static int mid_jz(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_Z, true); }
static int mid_jnz(struct emu_cpu *c, const struct emu_insn *i) { return jcc_64(c, i, CC_NZ, true); }

/*
 * The variant of a specialised instruction that may sit inside a block
 * (EMU_BRANCH when it leaves the fall-through), or NULL when the
 * instruction must end its block.
 */
emu_op_fn *
emu_midblock(const struct emu_insn *in)
{
	if (in->fn == fast_jz)
		return mid_jz;
	if (in->fn == fast_jnz)
		return mid_jnz;
	if (in->fn == fast_jcc64)
		return mid_jcc64;
	return NULL;
}

/* ---- the choice ---- */

void
emu_specialize(struct emu_insn *in)
{
	int sz, v;

	if (in->lock)
		return;
	if (in->fn == op_test && in->opsize != 2) {
		int t = in->opsize == 1 ? 0 : in->opsize == 4 ? 1 : 2;

		switch (in->form) {
		case EMU_FORM_RM_REG:
			if (in->has_mem)
				in->fn = test_fast_fns[t][T_MEMREG];
			else if (t == 0)
				in->fn = fast_test8_rr;
			else
				in->fn = t == 2 ? fast_test64_rr : fast_test32_rr;
			break;
		case EMU_FORM_RM_IMM:
			in->fn = test_fast_fns[t][in->has_mem ? T_MEMIMM : T_REGIMM];
			break;
		case EMU_FORM_ACC_IMM:
			in->fn = test_fast_fns[t][T_ACCIMM];
			break;
		default:
			break;
		}
		return;
	}
	if (in->fn == op_setcc) {
		in->fn = in->has_mem ? fast_setcc_m : fast_setcc_r;
		return;
	}
	if (in->opsize != 4 && in->opsize != 8)
		return;
	sz = in->opsize == 8;
	if (in->fn == op_movzx || in->fn == op_movsx) {
		in->fn = movx_fast_fns[in->fn == op_movsx][in->opcode & 1][sz][in->has_mem];
		return;
	}
	if (in->fn == op_movsxd && sz) {
		in->fn = in->has_mem ? fast_movsxd32_64_m : fast_movsxd32_64_r;
		return;
	}
	if (in->fn == op_imul2 || in->fn == op_imul3) {
		in->fn = imul_fast_fns[in->fn == op_imul3][sz][in->has_mem];
		return;
	}
	if (in->fn == op_cmov) {
		in->fn = sz ? (in->has_mem ? fast_cmov64_m : fast_cmov64_r) :
		    (in->has_mem ? fast_cmov32_m : fast_cmov32_r);
		return;
	}
	/*
	 * 64-bit mode near branches and stack operations have opsize 8
	 * (F_FORCE64, F_DEF64); with 66 the vendors differ (control.c), so
	 * those stay generic.
	 */
	if (sz && !in->opsize_prefix) {
		if (in->fn == op_jcc) {
			in->fn = in->sub == 4 ? fast_jz : in->sub == 5 ? fast_jnz : fast_jcc64;
			return;
		}
		if (in->fn == op_jmp && in->opcode != 0xff) {
			in->fn = fast_jmp_rel64;
			return;
		}
		if (in->fn == op_call && in->opcode == 0xe8) {
			in->fn = fast_call_rel64;
			return;
		}
		if (in->fn == op_ret) {
			in->fn = fast_ret64;
			return;
		}
		if (in->fn == op_push && in->form == EMU_FORM_REG_OP) {
			in->fn = fast_push64;
			return;
		}
		if (in->fn == op_pop && in->form == EMU_FORM_REG_OP) {
			in->fn = fast_pop64;
			return;
		}
	}
	if (in->fn == op_alu && !in->has_mem && ((in->sub & 7) == ALU_ADC ||
	    (in->sub & 7) == ALU_SBB) && (in->form == EMU_FORM_RM_REG ||
	    in->form == EMU_FORM_REG_RM)) {
		static emu_op_fn *const adcsbb[2][2][2] = {
			{ { fast_adc32_rmreg, fast_adc32_regrm }, { fast_adc64_rmreg, fast_adc64_regrm } },
			{ { fast_sbb32_rmreg, fast_sbb32_regrm }, { fast_sbb64_rmreg, fast_sbb64_regrm } },
		};
		in->fn = adcsbb[(in->sub & 7) == ALU_SBB][sz][in->form == EMU_FORM_REG_RM];
		return;
	}
	if (in->fn == op_not && !in->has_mem) {
		in->fn = sz ? fast_not64 : fast_not32;
		return;
	}
	if (in->fn == op_neg && !in->has_mem) {
		in->fn = sz ? fast_neg64 : fast_neg32;
		return;
	}
	if (in->fn == op_alu && alu_fast[in->sub & 7][sz][0] != NULL) {
		switch (in->form) {
		case EMU_FORM_RM_REG:
			v = in->has_mem ? V_MEMREG : V_RMREG;
			break;
		case EMU_FORM_REG_RM:
			v = in->has_mem ? V_REGMEM : V_REGRM;
			break;
		case EMU_FORM_RM_IMM:
			v = in->has_mem ? V_MEMIMM : V_RMIMM;
			break;
		case EMU_FORM_ACC_IMM:
			v = V_ACCIMM;
			break;
		default:
			return;
		}
		in->fn = alu_fast[in->sub & 7][sz][v];
	} else if (in->fn == op_mov && !(in->map == 0 && in->opcode >= 0xa0 && in->opcode <= 0xa3)) {
		switch (in->form) {
		case EMU_FORM_RM_REG:
			in->fn = in->has_mem ? (sz ? fast_mov64_store : fast_mov32_store) :
			    (sz ? fast_mov64_rmreg : fast_mov32_rmreg);
			break;
		case EMU_FORM_REG_RM:
			in->fn = in->has_mem ? (sz ? fast_mov64_load : fast_mov32_load) :
			    (sz ? fast_mov64_regrm : fast_mov32_regrm);
			break;
		case EMU_FORM_REG_OP:
			in->fn = sz ? fast_mov64_imm : fast_mov32_imm;
			break;
		case EMU_FORM_RM_IMM:
			if (in->has_mem)
				in->fn = sz ? fast_mov64_store : fast_mov32_store;
			break;
		default:
			break;
		}
	} else if (in->fn == op_shift && !in->has_mem &&
	    (in->form == EMU_FORM_RM_IMM || in->form == EMU_FORM_RM_1) &&
	    emu_shift_reg_imm[in->sub & 7][sz] != NULL) {
		in->fn = emu_shift_reg_imm[in->sub & 7][sz];
	} else if (in->fn == op_lea && in->has_mem) {
		in->fn = sz ? fast_lea64 : fast_lea32;
	} else if (in->fn == op_incdec && !in->has_mem &&
	    (in->form == EMU_FORM_RM || in->form == EMU_FORM_REG_OP)) {
		if (in->sub & 1)
			in->fn = sz ? fast_dec64 : fast_dec32;
		else
			in->fn = sz ? fast_inc64 : fast_inc32;
	}
}
