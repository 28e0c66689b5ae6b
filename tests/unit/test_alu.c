/*
 * test_alu.c - the computing instruction families of the software CPU,
 * called directly with hand-built decoded instructions on register
 * operands: known results and flags for each operation and size, the edge
 * cases (carry, overflow, AF, parity, AH-BH, 32-bit zero-extension), #DE
 * and #UD.  test_flags_diff.c compares the same handlers with the host.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "test.h"

#define RAX	GPR_RAX
#define RCX	GPR_RCX
#define RDX	GPR_RDX
#define RBX	GPR_RBX

static struct emu_cpu cpu_;

static struct emu_cpu *
cpu_new(void)
{
	memset(&cpu_, 0, sizeof(cpu_));
	cpu_.mode = EMU_MODE_LONG64;
	cpu_.exc_vector = -1;
	emu_set_rflags(&cpu_, 0x2);
	return &cpu_;
}

/* A register-form instruction: r/m = @rm, reg = @reg. */
static struct emu_insn
insn(int opsize, int form, int sub, int rm, int reg)
{
	struct emu_insn in;

	memset(&in, 0, sizeof(in));
	in.opsize = (uint8_t)opsize;
	in.addrsize = 8;
	in.form = (uint8_t)form;
	in.sub = (uint8_t)sub;
	in.rm = (uint8_t)rm;
	in.reg = (uint8_t)reg;
	in.base = EMU_REG_NONE;
	in.index = EMU_REG_NONE;
	in.seg = SEG_DS;
	return in;
}

static uint64_t
fl(struct emu_cpu *c)
{
	return emu_rflags(c) & RFL_ARITH;
}

/* dst (RAX) op= src (RBX) at @size; returns the result, flags in *f. */
static uint64_t
alu(int row, int size, uint64_t dst, uint64_t src, uint64_t fin, uint64_t *f)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(size, EMU_FORM_RM_REG, row, RAX, RBX);

	c->st.gpr[RAX] = dst;
	c->st.gpr[RBX] = src;
	emu_set_rflags(c, fin | 0x2);
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	*f = fl(c);
	return c->st.gpr[RAX];
}

enum { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP };

TEST(add_all_sizes)
{
	uint64_t f;

	CHECK_EQ(alu(ADD, 1, 0xff, 1, 0, &f), 0x00);
	CHECK_EQ(f, RFL_CF | RFL_ZF | RFL_AF | RFL_PF);
	CHECK_EQ(alu(ADD, 1, 0x7f, 1, 0, &f), 0x80);
	CHECK_EQ(f, RFL_OF | RFL_SF | RFL_AF);
	CHECK_EQ(alu(ADD, 2, 0x7fff, 0x7fff, 0, &f), 0xfffe);
	CHECK_EQ(f, RFL_OF | RFL_SF | RFL_AF);
	CHECK_EQ(alu(ADD, 4, 0xffffffff, 0xffffffff, 0, &f), 0xfffffffe);
	CHECK_EQ(f, RFL_CF | RFL_SF | RFL_AF);
	CHECK_EQ(alu(ADD, 8, 0x8000000000000000ULL, 0x8000000000000000ULL, 0, &f), 0);
	CHECK_EQ(f, RFL_CF | RFL_OF | RFL_ZF | RFL_PF);
	CHECK_EQ(alu(ADD, 8, 1, 2, RFL_ARITH, &f), 3);
	CHECK_EQ(f, RFL_PF);
}

TEST(sub_cmp_borrow)
{
	uint64_t f;

	CHECK_EQ(alu(SUB, 1, 0, 1, 0, &f), 0xff);
	CHECK_EQ(f, RFL_CF | RFL_SF | RFL_AF | RFL_PF);
	CHECK_EQ(alu(SUB, 1, 0x80, 1, 0, &f), 0x7f);
	CHECK_EQ(f, RFL_OF | RFL_AF);
	CHECK_EQ(alu(SUB, 4, 5, 5, 0, &f), 0);
	CHECK_EQ(f, RFL_ZF | RFL_PF);
	CHECK_EQ(alu(SUB, 8, 0, 0x8000000000000000ULL, 0, &f), 0x8000000000000000ULL);
	CHECK_EQ(f, RFL_CF | RFL_OF | RFL_SF | RFL_PF);
	/* CMP leaves the destination alone. */
	CHECK_EQ(alu(CMP, 2, 0x1234, 0x1235, 0, &f), 0x1234);
	CHECK_EQ(f, RFL_CF | RFL_SF | RFL_AF | RFL_PF);
}

TEST(adc_sbb_carry_in)
{
	uint64_t f;

	CHECK_EQ(alu(ADC, 1, 0xfe, 1, RFL_CF, &f), 0);
	CHECK_EQ(f, RFL_CF | RFL_ZF | RFL_AF | RFL_PF);
	CHECK_EQ(alu(ADC, 8, ~0ULL, ~0ULL, RFL_CF, &f), ~0ULL);
	CHECK_EQ(f & (RFL_CF | RFL_OF | RFL_SF), RFL_CF | RFL_SF);
	CHECK_EQ(alu(ADC, 2, 0x7fff, 0, RFL_CF, &f), 0x8000);
	CHECK_EQ(f & RFL_OF, RFL_OF);
	CHECK_EQ(alu(SBB, 1, 0, 0, RFL_CF, &f), 0xff);
	CHECK_EQ(f, RFL_CF | RFL_SF | RFL_AF | RFL_PF);
	CHECK_EQ(alu(SBB, 4, 1, 0, RFL_CF, &f), 0);
	CHECK_EQ(f, RFL_ZF | RFL_PF);
	CHECK_EQ(alu(SBB, 8, 5, ~0ULL, RFL_CF, &f), 5);
	CHECK_EQ(f & RFL_CF, RFL_CF);
}

TEST(logic_clears_cf_of)
{
	uint64_t f;

	CHECK_EQ(alu(AND, 1, 0xf0, 0x3c, RFL_CF | RFL_OF | RFL_AF, &f), 0x30);
	CHECK_EQ(f, RFL_PF);
	CHECK_EQ(alu(OR, 2, 0x8000, 0x0001, RFL_CF | RFL_OF, &f), 0x8001);
	CHECK_EQ(f, RFL_SF);
	CHECK_EQ(alu(XOR, 8, 0x55, 0x55, RFL_CF, &f), 0);
	CHECK_EQ(f, RFL_ZF | RFL_PF);
}

TEST(register_width_rules)
{
	struct emu_cpu *c;
	struct emu_insn in;
	uint64_t f;

	/* 32-bit destination: upper half zeroed; 8/16-bit: merged. */
	CHECK_EQ(alu(ADD, 4, 0xdeadbeef00000001ULL, 0xffffffff00000001ULL, 0, &f), 2);
	CHECK_EQ(alu(ADD, 2, 0xdeadbeef0000ffffULL, 1, 0, &f), 0xdeadbeef00000000ULL);
	CHECK_EQ(alu(ADD, 1, 0x11223344556677ffULL, 1, 0, &f), 0x1122334455667700ULL);

	/* ADD AH, BH without REX */
	c = cpu_new();
	in = insn(1, EMU_FORM_RM_REG, ADD, 4, 7);
	c->st.gpr[RAX] = 0x1234;
	c->st.gpr[RBX] = 0x0f00;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x2134);
	CHECK_EQ(fl(c), RFL_AF | RFL_PF);

	/* With REX the same encoding names SPL/DIL. */
	c = cpu_new();
	in = insn(1, EMU_FORM_RM_REG, ADD, 4, 7);
	in.rex = 0x40;
	c->st.gpr[GPR_RSP] = 0x1001;
	c->st.gpr[GPR_RDI] = 0x02;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[GPR_RSP], 0x1003);
}

TEST(alu_imm_forms)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	/* 83 /0 ib: imm8 sign-extended by the decoder */
	in = insn(8, EMU_FORM_RM_IMM, ADD, RCX, 0);
	in.imm = (uint64_t)-1;
	c->st.gpr[RCX] = 1;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0);
	CHECK_EQ(fl(c), RFL_CF | RFL_ZF | RFL_AF | RFL_PF);

	/* 2D id: SUB EAX, imm32 */
	in = insn(4, EMU_FORM_ACC_IMM, SUB, 0, 0);
	in.imm = 0x10;
	c->st.gpr[RAX] = 0xffffffff00000010ULL;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0);

	/* 02 /r: ADD reg, r/m */
	in = insn(1, EMU_FORM_REG_RM, ADD, RBX, RCX);
	c->st.gpr[RBX] = 0x05;
	c->st.gpr[RCX] = 0x0b;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0x10);
	CHECK_EQ(fl(c), RFL_AF);

	/* TEST AL, imm8 */
	in = insn(1, EMU_FORM_ACC_IMM, 0, 0, 0);
	in.imm = 0x80;
	c->st.gpr[RAX] = 0x81;
	CHECK_EQ(op_test(c, &in), EMU_OK);
	CHECK_EQ(fl(c), RFL_SF);
}

TEST(lock_register_is_ud)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(4, EMU_FORM_RM_REG, ADD, RAX, RBX);

	in.lock = 1;
	CHECK_EQ(op_alu(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
	/* LOCK CMP is never valid, even with memory: #UD before any access. */
	c = cpu_new();
	in = insn(4, EMU_FORM_RM_REG, CMP, 0, RBX);
	in.lock = 1;
	in.has_mem = 1;
	CHECK_EQ(op_alu(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
	c = cpu_new();
	in = insn(4, EMU_FORM_RM, 0, RAX, 0);
	in.lock = 1;
	CHECK_EQ(op_incdec(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
	c = cpu_new();
	in = insn(4, EMU_FORM_REG_RM, 0, RAX, RBX);
	in.lock = 1;
	CHECK_EQ(op_mov(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
}

TEST(incdec_neg_not)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	/* INC keeps CF */
	in = insn(4, EMU_FORM_RM, 0, RAX, 0);
	c->st.gpr[RAX] = 0x7fffffff;
	emu_set_rflags(c, RFL_CF);
	CHECK_EQ(op_incdec(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x80000000);
	CHECK_EQ(fl(c), RFL_CF | RFL_OF | RFL_SF | RFL_AF | RFL_PF);
	CHECK(emu_get_cf(c));
	/* DEC through zero, CF clear stays clear */
	in = insn(1, EMU_FORM_RM, 1, RCX, 0);
	c->st.gpr[RCX] = 0x100;
	emu_set_rflags(c, 0);
	CHECK_EQ(op_incdec(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0x1ff);
	CHECK_EQ(fl(c), RFL_SF | RFL_AF | RFL_PF);
	/* DEC 0x80 overflows */
	c->st.gpr[RCX] = 0x80;
	CHECK_EQ(op_incdec(c, &in), EMU_OK);
	CHECK_EQ(fl(c) & RFL_OF, RFL_OF);
	/* NEG 0: CF clear; NEG min: OF */
	in = insn(2, EMU_FORM_RM, 3, RDX, 0);
	c->st.gpr[RDX] = 0;
	CHECK_EQ(op_neg(c, &in), EMU_OK);
	CHECK_EQ(fl(c), RFL_ZF | RFL_PF);
	c->st.gpr[RDX] = 0x8000;
	CHECK_EQ(op_neg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RDX], 0x8000);
	CHECK_EQ(fl(c), RFL_CF | RFL_OF | RFL_SF | RFL_PF);
	c->st.gpr[RDX] = 1;
	CHECK_EQ(op_neg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RDX], 0xffff);
	CHECK_EQ(fl(c), RFL_CF | RFL_SF | RFL_AF | RFL_PF);
	/* NOT: no flags */
	in = insn(8, EMU_FORM_RM, 2, RBX, 0);
	emu_set_rflags(c, RFL_ZF | RFL_OF);
	c->st.gpr[RBX] = 0x00ff00ff00ff00ffULL;
	CHECK_EQ(op_not(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RBX], 0xff00ff00ff00ff00ULL);
	CHECK_EQ(fl(c), RFL_ZF | RFL_OF);
}

/*
 * Every condition read from the lazy record (flags.c emu_cond, with its
 * CMP/SUB shortcut) equals the one read from the materialized RFLAGS, for
 * each size, edge operands, and the flag-setting rows that leave a record.
 */
TEST(lazy_conditions_all_sizes)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
		0x80000000, 0xffffffff, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
		0xffffffffffffffffULL, 0x123456789abcdef0ULL,
	};
	static const int rows[] = { ADD, SUB, CMP, SBB, AND, XOR, ADC };
	struct emu_cpu *c = cpu_new();
	int size, r, i, j, cc, cfin;

	for (size = 1; size <= 8; size *= 2)
		for (r = 0; r < (int)(sizeof(rows) / sizeof(rows[0])); r++)
			for (cfin = 0; cfin < 2; cfin++)
				for (i = 0; i < (int)(sizeof(edge) / sizeof(edge[0])); i++)
					for (j = 0; j < (int)(sizeof(edge) / sizeof(edge[0])); j++)
						for (cc = 0; cc < 16; cc++) {
							struct emu_insn in = insn(size, EMU_FORM_RM_REG,
							    rows[r], RAX, RBX);
							bool lazy;

							c->st.gpr[RAX] = edge[i];
							c->st.gpr[RBX] = edge[j];
							emu_set_rflags(c, (cfin ? RFL_CF : 0) | 0x2);
							CHECK_EQ(op_alu(c, &in), EMU_OK);
							lazy = emu_cond(c, cc);
							emu_rflags(c);		/* materialize */
							if (emu_cond(c, cc) != lazy) {
								CHECK_EQ(emu_cond(c, cc), lazy);
								fprintf(stderr, "  row %d size %d %#llx %#llx cf %d cc %d\n",
								    rows[r], size, (unsigned long long)edge[i],
								    (unsigned long long)edge[j], cfin, cc);
								return;
							}
						}
}

TEST(parity_and_conditions)
{
	struct emu_cpu *c;
	uint64_t f;
	int cc, v;
	bool want;

	CHECK_EQ(emu_parity(0), 1);
	CHECK_EQ(emu_parity(1), 0);
	CHECK_EQ(emu_parity(3), 1);
	CHECK_EQ(emu_parity(0xff), 1);
	CHECK_EQ(emu_parity(0x80), 0);
	/* Each condition from lazy flags equals the one from materialized flags. */
	for (v = 0; v < 64; v++) {
		for (cc = 0; cc < 16; cc++) {
			(void)alu(v & 1 ? SUB : ADD, 1, (uint64_t)v * 37, (uint64_t)v * 91, 0, &f);
			c = &cpu_;
			want = emu_cond(c, cc);
			emu_set_rflags(c, f);
			CHECK_EQ(emu_cond(c, cc), want);
		}
	}
	c = cpu_new();
	emu_set_rflags(c, RFL_SF);
	CHECK(emu_cond(c, 12));		/* L: SF != OF */
	CHECK(!emu_cond(c, 13));
	CHECK(emu_cond(c, 14));		/* LE */
	emu_set_rflags(c, RFL_CF);
	CHECK(emu_cond(c, 2));		/* B */
	CHECK(emu_cond(c, 6));		/* BE */
	CHECK(!emu_cond(c, 7));		/* A */
	emu_set_rflags(c, RFL_PF | RFL_OF);
	CHECK(emu_cond(c, 10));
	CHECK(emu_cond(c, 0));
	CHECK(!emu_cond(c, 1));
}

static uint64_t
shift(int sub, int size, int form, uint64_t v, uint64_t cnt, uint64_t fin, uint64_t *f)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(size, form, sub, RAX, 0);

	c->st.gpr[RAX] = v;
	c->st.gpr[RCX] = cnt;
	in.imm = cnt;
	emu_set_rflags(c, fin | 0x2);
	CHECK_EQ(op_shift(c, &in), EMU_OK);
	*f = fl(c);
	return c->st.gpr[RAX];
}

enum { ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR };

TEST(shifts_and_rotates)
{
	uint64_t f;

	CHECK_EQ(shift(SHL, 1, EMU_FORM_RM_1, 0x81, 1, 0, &f), 0x02);
	CHECK_EQ(f & (RFL_CF | RFL_OF | RFL_ZF | RFL_SF), RFL_CF | RFL_OF);
	CHECK_EQ(shift(SHR, 2, EMU_FORM_RM_CL, 0x8001, 1, 0, &f), 0x4000);
	CHECK_EQ(f & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);
	CHECK_EQ(shift(SAR, 4, EMU_FORM_RM_IMM, 0x80000000, 31, 0, &f), 0xffffffff);
	CHECK_EQ(f & (RFL_CF | RFL_OF | RFL_SF), RFL_SF);
	CHECK_EQ(shift(SAR, 8, EMU_FORM_RM_CL, 0x8000000000000000ULL, 63, 0, &f), ~0ULL);
	/* 32-bit count mask: 33 is 1 */
	CHECK_EQ(shift(SHL, 4, EMU_FORM_RM_CL, 1, 33, 0, &f), 2);
	/* 64-bit count mask: 65 is 1 */
	CHECK_EQ(shift(SHL, 8, EMU_FORM_RM_CL, 1, 65, 0, &f), 2);
	/* 8-bit: the mask is still 5 bits, so 9 shifts everything out */
	CHECK_EQ(shift(SHR, 1, EMU_FORM_RM_CL, 0xff, 9, 0, &f), 0);
	CHECK_EQ(f & (RFL_CF | RFL_ZF), RFL_ZF);
	/* Count 0: nothing changes, flags included */
	CHECK_EQ(shift(SHL, 2, EMU_FORM_RM_CL, 0x1234, 32, RFL_CF | RFL_ZF, &f), 0x1234);
	CHECK_EQ(f, RFL_CF | RFL_ZF);
	/* Rotates touch only CF and OF */
	CHECK_EQ(shift(ROL, 1, EMU_FORM_RM_1, 0x81, 1, RFL_ZF, &f), 0x03);
	CHECK_EQ(f, RFL_CF | RFL_OF | RFL_ZF);
	CHECK_EQ(shift(ROR, 2, EMU_FORM_RM_CL, 0x0001, 4, 0, &f), 0x1000);
	/* OF is undefined for a count above 1: test_vendor.c checks it per vendor. */
	CHECK_EQ(f & ~RFL_OF, 0);
	CHECK_EQ(shift(ROR, 8, EMU_FORM_RM_1, 1, 1, 0, &f), 0x8000000000000000ULL);
	CHECK_EQ(f, RFL_CF | RFL_OF);
	/* RCL 8-bit rotates through 9 bits: by 9 gives the operand back */
	CHECK_EQ(shift(RCL, 1, EMU_FORM_RM_CL, 0x80, 1, 0, &f), 0x00);
	CHECK_EQ(f & RFL_CF, RFL_CF);
	CHECK_EQ(shift(RCL, 1, EMU_FORM_RM_CL, 0x5a, 9, RFL_CF, &f), 0x5a);
	CHECK_EQ(f & RFL_CF, RFL_CF);
	CHECK_EQ(shift(RCR, 2, EMU_FORM_RM_1, 0x0001, 1, RFL_CF, &f), 0x8000);
	CHECK_EQ(f & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);
	CHECK_EQ(shift(RCR, 8, EMU_FORM_RM_CL, 0, 64, RFL_CF, &f), 0);	/* masked to 0 */
	CHECK_EQ(f, RFL_CF);
	CHECK_EQ(shift(RCL, 8, EMU_FORM_RM_CL, 0x8000000000000000ULL, 1, 0, &f), 0);
	CHECK_EQ(f & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);
	/* AH as the operand */
	{
		struct emu_cpu *c = cpu_new();
		struct emu_insn in = insn(1, EMU_FORM_RM_1, SHL, 4, 0);

		c->st.gpr[RAX] = 0x4011;
		CHECK_EQ(op_shift(c, &in), EMU_OK);
		CHECK_EQ(c->st.gpr[RAX], 0x8011);
	}
}

TEST(double_shifts)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(4, EMU_FORM_RM_IMM, 0, RAX, RBX);

	in.imm = 8;
	c->st.gpr[RAX] = 0x11223344;
	c->st.gpr[RBX] = 0xaabbccdd;
	CHECK_EQ(op_shld(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x223344aa);
	c->st.gpr[RAX] = 0x11223344;
	CHECK_EQ(op_shrd(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0xdd112233);
	CHECK_EQ(fl(c) & (RFL_CF | RFL_SF), RFL_SF);
	in = insn(8, EMU_FORM_RM_CL, 0, RAX, RBX);
	c->st.gpr[RCX] = 4;
	c->st.gpr[RAX] = 0x8000000000000001ULL;
	c->st.gpr[RBX] = 0xf000000000000000ULL;
	CHECK_EQ(op_shld(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x000000000000001fULL);
	CHECK_EQ(fl(c) & RFL_CF, 0);
}

static int
muldiv(int sub, int size, uint64_t *rax, uint64_t *rdx, uint64_t src)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(size, EMU_FORM_RM, sub, RBX, 0);
	int rc;

	c->st.gpr[RAX] = *rax;
	c->st.gpr[RDX] = *rdx;
	c->st.gpr[RBX] = src;
	rc = op_muldiv(c, &in);
	*rax = c->st.gpr[RAX];
	*rdx = c->st.gpr[RDX];
	return rc;
}

enum { MUL = 4, IMUL, DIV, IDIV };

TEST(mul_imul)
{
	uint64_t a, d;

	a = 0xff; d = 0x99;
	CHECK_EQ(muldiv(MUL, 1, &a, &d, 0xff), EMU_OK);
	CHECK_EQ(a, 0xfe01);
	CHECK_EQ(d, 0x99);
	CHECK_EQ(fl(&cpu_) & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);
	a = 0xffffffffffffffffULL; d = 0;
	CHECK_EQ(muldiv(MUL, 8, &a, &d, 2), EMU_OK);
	CHECK_EQ(a, 0xfffffffffffffffeULL);
	CHECK_EQ(d, 1);
	a = 0x1234ffff00000010ULL; d = 0xabcdULL << 32;
	CHECK_EQ(muldiv(MUL, 4, &a, &d, 0x10), EMU_OK);
	CHECK_EQ(a, 0x100);
	CHECK_EQ(d, 0);
	CHECK_EQ(fl(&cpu_) & (RFL_CF | RFL_OF), 0);
	a = (uint64_t)-3; d = 0;
	CHECK_EQ(muldiv(IMUL, 2, &a, &d, 7), EMU_OK);
	CHECK_EQ(a & 0xffff, 0xffeb);
	CHECK_EQ(d & 0xffff, 0xffff);
	CHECK_EQ(fl(&cpu_) & (RFL_CF | RFL_OF), 0);
	a = 0x80; d = 0;
	CHECK_EQ(muldiv(IMUL, 1, &a, &d, 0xff), EMU_OK);	/* -128 * -1 */
	CHECK_EQ(a, 0x0080);
	CHECK_EQ(fl(&cpu_) & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);

	{
		struct emu_cpu *c = cpu_new();
		struct emu_insn in = insn(4, EMU_FORM_REG_RM, 0, RBX, RCX);

		c->st.gpr[RCX] = 0x40000000;
		c->st.gpr[RBX] = 2;
		CHECK_EQ(op_imul2(c, &in), EMU_OK);
		CHECK_EQ(c->st.gpr[RCX], 0x80000000);
		CHECK_EQ(fl(c) & (RFL_CF | RFL_OF), RFL_CF | RFL_OF);
		in = insn(8, EMU_FORM_REG_RM, 0, RBX, RCX);
		in.imm = (uint64_t)-5;
		c->st.gpr[RBX] = 3;
		CHECK_EQ(op_imul3(c, &in), EMU_OK);
		CHECK_EQ(c->st.gpr[RCX], (uint64_t)-15);
		CHECK_EQ(fl(c) & (RFL_CF | RFL_OF), 0);
	}
}

TEST(div_idiv)
{
	uint64_t a, d;

	a = 0x0107; d = 0;
	CHECK_EQ(muldiv(DIV, 1, &a, &d, 0x10), EMU_OK);
	CHECK_EQ(a, 0x0710);			/* AH = 7, AL = 0x10 */
	a = 100; d = 0;
	CHECK_EQ(muldiv(DIV, 4, &a, &d, 7), EMU_OK);
	CHECK_EQ(a, 14);
	CHECK_EQ(d, 2);
	a = 0; d = 1;
	CHECK_EQ(muldiv(DIV, 8, &a, &d, 2), EMU_OK);
	CHECK_EQ(a, 0x8000000000000000ULL);
	CHECK_EQ(d, 0);
	a = (uint64_t)-7; d = ~0ULL;
	CHECK_EQ(muldiv(IDIV, 8, &a, &d, 2), EMU_OK);
	CHECK_EQ(a, (uint64_t)-3);
	CHECK_EQ(d, (uint64_t)-1);
	a = 0xfff9; d = 0xffff;
	CHECK_EQ(muldiv(IDIV, 2, &a, &d, 2), EMU_OK);
	CHECK_EQ(a, 0xfffd);
	CHECK_EQ(d, 0xffff);
}

TEST(divide_errors)
{
	uint64_t a, d;

	/* by zero */
	a = 5; d = 0;
	CHECK_EQ(muldiv(DIV, 4, &a, &d, 0xffffffff00000000ULL), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	CHECK_EQ(a, 5);
	a = 5; d = 0;
	CHECK_EQ(muldiv(IDIV, 1, &a, &d, 0), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	/* quotient too large */
	a = 0x1000; d = 0;
	CHECK_EQ(muldiv(DIV, 1, &a, &d, 0x10), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	CHECK_EQ(a, 0x1000);
	a = 0; d = 1;
	CHECK_EQ(muldiv(DIV, 8, &a, &d, 1), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	/* INT_MIN / -1 */
	a = 0x80000000; d = 0xffffffff;
	CHECK_EQ(muldiv(IDIV, 4, &a, &d, 0xffffffff), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	a = 0x8000000000000000ULL; d = ~0ULL;
	CHECK_EQ(muldiv(IDIV, 8, &a, &d, ~0ULL), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	a = 0; d = 0x8000000000000000ULL;	/* -2^127 / -1 */
	CHECK_EQ(muldiv(IDIV, 8, &a, &d, ~0ULL), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	a = 0x8000; d = 0xffff;
	CHECK_EQ(muldiv(IDIV, 2, &a, &d, 0xffff), EMU_FAULT);
	CHECK_EQ(cpu_.exc_vector, IDT_DE);
	/* -128 / 1 fits; 128 / 1 does not */
	a = 0xff80; d = 0;
	CHECK_EQ(muldiv(IDIV, 1, &a, &d, 1), EMU_OK);
	a = 0x0080; d = 0;
	CHECK_EQ(muldiv(IDIV, 1, &a, &d, 1), EMU_FAULT);
}

TEST(bit_test_scan_swap)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	in = insn(4, EMU_FORM_RM_REG, 0, RAX, RBX);
	in.map = 1;
	in.opcode = 0xab;			/* BTS */
	c->st.gpr[RAX] = 0xffffffff00000000ULL;
	c->st.gpr[RBX] = 35;			/* mod 32 = 3 */
	CHECK_EQ(op_bt(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x8);
	CHECK(!emu_get_cf(c));
	in.opcode = 0xbb;			/* BTC */
	CHECK_EQ(op_bt(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0);
	CHECK(emu_get_cf(c));
	in = insn(8, EMU_FORM_RM_IMM, 6, RAX, 0);	/* BTR r/m64, 63 */
	in.map = 1;
	in.opcode = 0xba;
	in.imm = 63 + 64;
	c->st.gpr[RAX] = 0x8000000000000001ULL;
	CHECK_EQ(op_bt(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 1);
	CHECK(emu_get_cf(c));
	/* BT with LOCK is #UD even on memory */
	in.opcode = 0xa3;
	in.lock = 1;
	in.has_mem = 1;
	CHECK_EQ(op_bt(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);

	c = cpu_new();
	in = insn(4, EMU_FORM_REG_RM, 0, RBX, RAX);
	c->st.gpr[RBX] = 0x00f00000;
	CHECK_EQ(op_bsf(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 20);
	CHECK_EQ(fl(c) & RFL_ZF, 0);
	CHECK_EQ(op_bsr(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 23);
	/* source 0: ZF, destination unchanged (upper half included) */
	c->st.gpr[RBX] = 0xffffffff00000000ULL;
	c->st.gpr[RAX] = 0x1234567887654321ULL;
	CHECK_EQ(op_bsf(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x1234567887654321ULL);
	CHECK_EQ(fl(c) & RFL_ZF, RFL_ZF);

	in = insn(4, EMU_FORM_REG_OP, 0, RDX, 0);
	c->st.gpr[RDX] = 0xaabbccdd11223344ULL;
	CHECK_EQ(op_bswap(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RDX], 0x44332211);
	in.opsize = 8;
	c->st.gpr[RDX] = 0x0102030405060708ULL;
	CHECK_EQ(op_bswap(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RDX], 0x0807060504030201ULL);
}

TEST(xadd_cmpxchg)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	in = insn(2, EMU_FORM_RM_REG, 0, RAX, RBX);
	c->st.gpr[RAX] = 0xffff;
	c->st.gpr[RBX] = 0x0001;
	CHECK_EQ(op_xadd(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0);
	CHECK_EQ(c->st.gpr[RBX], 0xffff);
	CHECK_EQ(fl(c) & (RFL_CF | RFL_ZF), RFL_CF | RFL_ZF);
	/* XADD r, r with the same register leaves the sum */
	in = insn(4, EMU_FORM_RM_REG, 0, RCX, RCX);
	c->st.gpr[RCX] = 21;
	CHECK_EQ(op_xadd(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 42);

	/* CMPXCHG equal: dest <- src, ZF */
	in = insn(8, EMU_FORM_RM_REG, 0, RCX, RBX);
	c->st.gpr[RAX] = 7;
	c->st.gpr[RCX] = 7;
	c->st.gpr[RBX] = 9;
	CHECK_EQ(op_cmpxchg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 9);
	CHECK_EQ(c->st.gpr[RAX], 7);
	CHECK(emu_cond(c, 4));
	/* not equal: accumulator <- dest, ZF clear */
	CHECK_EQ(op_cmpxchg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 9);
	CHECK_EQ(c->st.gpr[RCX], 9);
	CHECK(!emu_cond(c, 4));
	/* CMPXCHG8B with a register operand is #UD */
	in = insn(4, EMU_FORM_RM, 1, RAX, 0);
	CHECK_EQ(op_cmpxchg8b(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
}

TEST(moves_and_extensions)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	in = insn(8, EMU_FORM_REG_OP, 0, GPR_R9, 0);
	in.imm = 0x1122334455667788ULL;
	CHECK_EQ(op_mov(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[GPR_R9], 0x1122334455667788ULL);
	in = insn(4, EMU_FORM_RM_REG, 0, GPR_R9, RAX);
	c->st.gpr[RAX] = 0xffffffff80000000ULL;
	CHECK_EQ(op_mov(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[GPR_R9], 0x80000000);

	in = insn(4, EMU_FORM_REG_RM, 0, RBX, RCX);
	in.map = 1;
	in.opcode = 0xbe;			/* MOVSX r32, r/m8 */
	c->st.gpr[RBX] = 0x80;
	c->st.gpr[RCX] = ~0ULL;
	CHECK_EQ(op_movsx(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0xffffff80);
	in.opcode = 0xb7;			/* MOVZX r32, r/m16 */
	c->st.gpr[RBX] = 0x12348765;
	CHECK_EQ(op_movzx(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0x8765);
	in = insn(8, EMU_FORM_REG_RM, 0, RBX, RCX);
	c->st.gpr[RBX] = 0x80000000;
	CHECK_EQ(op_movsxd(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RCX], 0xffffffff80000000ULL);

	in = insn(2, EMU_FORM_NONE, 0, 0, 0);
	c->st.gpr[RAX] = 0x1111111111111180ULL;
	CHECK_EQ(op_cbw(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x111111111111ff80ULL);
	in.opsize = 8;
	c->st.gpr[RAX] = 0x80000000;
	CHECK_EQ(op_cbw(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0xffffffff80000000ULL);
	in.opsize = 4;
	c->st.gpr[RDX] = 0x5555555555555555ULL;
	CHECK_EQ(op_cwd(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RDX], 0xffffffff);

	/* XCHG with an opcode register */
	in = insn(8, EMU_FORM_REG_OP, 0, RBX, 0);
	c->st.gpr[RAX] = 1;
	c->st.gpr[RBX] = 2;
	CHECK_EQ(op_xchg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 2);
	CHECK_EQ(c->st.gpr[RBX], 1);
	/* LEA needs a memory operand */
	in = insn(8, EMU_FORM_REG_RM, 0, RBX, RAX);
	CHECK_EQ(op_lea(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
}

TEST(cmov_setcc_flagops)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	/* CMOVZ r32 with ZF clear still zero-extends the destination */
	in = insn(4, EMU_FORM_REG_RM, 4, RBX, RAX);
	c->st.gpr[RAX] = 0xdeadbeef12345678ULL;
	c->st.gpr[RBX] = 1;
	CHECK_EQ(op_cmov(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x12345678);
	emu_set_rflags(c, RFL_ZF);
	CHECK_EQ(op_cmov(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 1);
	/* CMOV r16 leaves the upper bits */
	in = insn(2, EMU_FORM_REG_RM, 5, RBX, RAX);
	c->st.gpr[RAX] = 0xdeadbeef12345678ULL;
	CHECK_EQ(op_cmov(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0xdeadbeef12345678ULL);

	/* SETB AH after a borrowing SUB */
	in = insn(1, EMU_FORM_RM_REG, SUB, RCX, RDX);
	c->st.gpr[RCX] = 1;
	c->st.gpr[RDX] = 2;
	CHECK_EQ(op_alu(c, &in), EMU_OK);
	in = insn(1, EMU_FORM_RM, 2, 4, 0);
	c->st.gpr[RAX] = 0;
	CHECK_EQ(op_setcc(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0x100);
	in.sub = 3;
	CHECK_EQ(op_setcc(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RAX], 0);

	in = insn(4, EMU_FORM_NONE, 0, 0, 0);
	in.opcode = 0xf9;			/* STC */
	CHECK_EQ(op_flagop(c, &in), EMU_OK);
	CHECK(emu_get_cf(c));
	in.opcode = 0xf5;			/* CMC */
	CHECK_EQ(op_flagop(c, &in), EMU_OK);
	CHECK(!emu_get_cf(c));
	in.opcode = 0xfd;			/* STD */
	CHECK_EQ(op_flagop(c, &in), EMU_OK);
	CHECK(emu_rflags(c) & RFL_DF);
	in.opcode = 0xfc;			/* CLD */
	CHECK_EQ(op_flagop(c, &in), EMU_OK);
	CHECK(!(emu_rflags(c) & RFL_DF));

	/* LAHF/SAHF round trip */
	emu_set_rflags(c, RFL_SF | RFL_PF | RFL_CF | RFL_OF);
	CHECK_EQ(op_lahf(c, &in), EMU_OK);
	CHECK_EQ((c->st.gpr[RAX] >> 8) & 0xff, 0x87);
	c->st.gpr[RAX] = 0x5000;		/* ZF AF */
	CHECK_EQ(op_sahf(c, &in), EMU_OK);
	CHECK_EQ(fl(c), RFL_ZF | RFL_AF | RFL_OF);
}

TEST(segment_moves_real_mode)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in;

	c->mode = EMU_MODE_REAL;
	c->st.seg[SEG_DS].limit = 0xffffffff;	/* unreal mode survives a load */
	in = insn(2, EMU_FORM_REG_RM, SEG_DS, RAX, SEG_DS);
	in.opcode = 0x8e;
	c->st.gpr[RAX] = 0xb800;
	CHECK_EQ(op_movseg(c, &in), EMU_OK);
	CHECK_EQ(c->st.seg[SEG_DS].sel, 0xb800);
	CHECK_EQ(c->st.seg[SEG_DS].base, 0xb8000);
	CHECK_EQ(c->st.seg[SEG_DS].limit, 0xffffffff);
	in.sub = SEG_SS;
	CHECK_EQ(op_movseg(c, &in), EMU_OK);
	CHECK(c->st.intr_shadow != 0);
	in.sub = SEG_CS;
	CHECK_EQ(op_movseg(c, &in), EMU_FAULT);
	CHECK_EQ(c->exc_vector, IDT_UD);
	/* MOV r32, Sreg zero-extends */
	in = insn(4, EMU_FORM_RM_REG, SEG_DS, RBX, SEG_DS);
	in.opcode = 0x8c;
	c->st.gpr[RBX] = ~0ULL;
	CHECK_EQ(op_movseg(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[RBX], 0xb800);
}

TEST(rep_with_zero_count_does_nothing)
{
	struct emu_cpu *c = cpu_new();
	struct emu_insn in = insn(4, EMU_FORM_NONE, 0, 0, 0);

	in.rep = 0xf3;
	c->st.gpr[RCX] = 0xffffffff00000000ULL;	/* ECX = 0 with a 32-bit address size */
	in.addrsize = 4;
	c->st.gpr[GPR_RSI] = 0x1000;
	c->st.gpr[GPR_RDI] = 0x2000;
	c->st.rip = 0x100;
	c->next_rip = 0x102;
	CHECK_EQ(op_movs(c, &in), EMU_OK);
	CHECK_EQ(op_stos(c, &in), EMU_OK);
	CHECK_EQ(op_lods(c, &in), EMU_OK);
	CHECK_EQ(op_cmps(c, &in), EMU_OK);
	CHECK_EQ(op_scas(c, &in), EMU_OK);
	CHECK_EQ(c->st.gpr[GPR_RSI], 0x1000);
	CHECK_EQ(c->st.gpr[GPR_RDI], 0x2000);
	CHECK_EQ(c->st.gpr[RCX], 0xffffffff00000000ULL);
	CHECK_EQ(c->next_rip, 0x102);
}
