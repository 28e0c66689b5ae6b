/*
 * test_flags_diff.c - the software CPU's computing instructions against the
 * host CPU.
 *
 * Each case runs one instruction natively (inline assembly on fixed
 * registers, host RFLAGS read with PUSHF: tests only, never the emulator)
 * and through its handler on the same registers and input flags, for
 * thousands of random operands mixed with edge values (0, 1, max, min,
 * sign boundary), and compares all four registers it may touch (full 64
 * bits, so zero- and non-extension are checked) and CF PF AF ZF SF OF.
 *
 * Flags the SDM leaves undefined are compared too when the host is AMD
 * (the emulator copies AMD Zen there, see shift.c, muldiv.c, bit.c);
 * on another vendor they are masked out.  A divide that must raise #DE is
 * checked by catching the host's SIGFPE.  The seed is fixed; the first
 * mismatch of a case is printed with its operands.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "test.h"

#if defined(__x86_64__)
#include <cpuid.h>

struct regs {
	uint64_t	rax, rcx, rdx, rbx, flags;
};

/*
 * Run @insn on RAX RCX RDX RBX with RFLAGS = r->flags.  The 128-byte drop
 * keeps PUSHF/POPF clear of the red zone.
 */
#define NATIVE(fn, insn)						\
static void								\
fn(struct regs *r)							\
{									\
	uint64_t a = r->rax, c = r->rcx, d = r->rdx, b = r->rbx;	\
	uint64_t f = r->flags;						\
									\
	__asm__ __volatile__("sub $128, %%rsp\n\t"			\
	    "push %[f]\n\tpopfq\n\t"					\
	    insn "\n\t"							\
	    "pushfq\n\tpopq %[f]\n\t"					\
	    "add $128, %%rsp"						\
	    : "+a" (a), "+c" (c), "+d" (d), "+b" (b), [f] "+r" (f)	\
	    : : "cc", "memory");					\
	r->rax = a; r->rcx = c; r->rdx = d; r->rbx = b; r->flags = f;	\
}

/* op %bl/%bx/%ebx/%rbx, %al/... */
#define NAT_RR(nm, mn)							\
	NATIVE(nm##_1, mn "b %%bl, %%al")				\
	NATIVE(nm##_2, mn "w %%bx, %%ax")				\
	NATIVE(nm##_4, mn "l %%ebx, %%eax")				\
	NATIVE(nm##_8, mn "q %%rbx, %%rax")
#define NAT_RR3(nm, mn)							\
	NATIVE(nm##_2, mn "w %%bx, %%ax")				\
	NATIVE(nm##_4, mn "l %%ebx, %%eax")				\
	NATIVE(nm##_8, mn "q %%rbx, %%rax")
/* op %al/%ax/... */
#define NAT_R(nm, mn)							\
	NATIVE(nm##_1, mn "b %%al")					\
	NATIVE(nm##_2, mn "w %%ax")					\
	NATIVE(nm##_4, mn "l %%eax")					\
	NATIVE(nm##_8, mn "q %%rax")
/* op %cl, %al/... */
#define NAT_CL(nm, mn)							\
	NATIVE(nm##_1, mn "b %%cl, %%al")				\
	NATIVE(nm##_2, mn "w %%cl, %%ax")				\
	NATIVE(nm##_4, mn "l %%cl, %%eax")				\
	NATIVE(nm##_8, mn "q %%cl, %%rax")
/* op %bl/... (implicit accumulator) */
#define NAT_M(nm, mn)							\
	NATIVE(nm##_1, mn "b %%bl")					\
	NATIVE(nm##_2, mn "w %%bx")					\
	NATIVE(nm##_4, mn "l %%ebx")					\
	NATIVE(nm##_8, mn "q %%rbx")

NAT_RR(n_add, "add") NAT_RR(n_or, "or") NAT_RR(n_adc, "adc") NAT_RR(n_sbb, "sbb")
NAT_RR(n_and, "and") NAT_RR(n_sub, "sub") NAT_RR(n_xor, "xor") NAT_RR(n_cmp, "cmp")
NAT_RR(n_test, "test") NAT_RR(n_xadd, "xadd")
NAT_R(n_inc, "inc") NAT_R(n_dec, "dec") NAT_R(n_neg, "neg") NAT_R(n_not, "not")
NAT_CL(n_rol, "rol") NAT_CL(n_ror, "ror") NAT_CL(n_rcl, "rcl") NAT_CL(n_rcr, "rcr")
NAT_CL(n_shl, "shl") NAT_CL(n_shr, "shr") NAT_CL(n_sar, "sar")
NAT_R(n_rol1, "rol") NAT_R(n_ror1, "ror") NAT_R(n_rcl1, "rcl") NAT_R(n_rcr1, "rcr")
NAT_R(n_shl1, "shl") NAT_R(n_shr1, "shr") NAT_R(n_sar1, "sar")
NAT_M(n_mul, "mul") NAT_M(n_imul1, "imul") NAT_M(n_div, "div") NAT_M(n_idiv, "idiv")
NAT_RR3(n_imul2, "imul") NAT_RR3(n_bt, "bt") NAT_RR3(n_bts, "bts")
NAT_RR3(n_btr, "btr") NAT_RR3(n_btc, "btc") NAT_RR3(n_bsf, "bsf") NAT_RR3(n_bsr, "bsr")
NATIVE(n_shld_2, "shldw %%cl, %%bx, %%ax")
NATIVE(n_shld_4, "shldl %%cl, %%ebx, %%eax")
NATIVE(n_shld_8, "shldq %%cl, %%rbx, %%rax")
NATIVE(n_shrd_2, "shrdw %%cl, %%bx, %%ax")
NATIVE(n_shrd_4, "shrdl %%cl, %%ebx, %%eax")
NATIVE(n_shrd_8, "shrdq %%cl, %%rbx, %%rax")
NATIVE(n_imul3a_2, "imulw $3, %%bx, %%ax")
NATIVE(n_imul3a_4, "imull $3, %%ebx, %%eax")
NATIVE(n_imul3a_8, "imulq $3, %%rbx, %%rax")
NATIVE(n_imul3b_2, "imulw $-128, %%bx, %%ax")
NATIVE(n_imul3b_4, "imull $-128, %%ebx, %%eax")
NATIVE(n_imul3b_8, "imulq $-128, %%rbx, %%rax")
NATIVE(n_imul3c_2, "imulw $0x7fff, %%bx, %%ax")
NATIVE(n_imul3c_4, "imull $0x7fffffff, %%ebx, %%eax")
NATIVE(n_imul3c_8, "imulq $-0x80000000, %%rbx, %%rax")
NATIVE(n_bti_2, "btw $13, %%ax")
NATIVE(n_bti_4, "btl $37, %%eax")
NATIVE(n_bti_8, "btq $63, %%rax")
NATIVE(n_btsi_4, "btsl $31, %%eax")
NATIVE(n_btri_8, "btrq $45, %%rax")
NATIVE(n_btci_2, "btcw $7, %%ax")
NATIVE(n_bswap_2, ".byte 0x66, 0x0f, 0xc8")
NATIVE(n_bswap_4, "bswapl %%eax")
NATIVE(n_bswap_8, "bswapq %%rax")
NATIVE(n_cmpxchg_1, "cmpxchgb %%bl, %%cl")
NATIVE(n_cmpxchg_2, "cmpxchgw %%bx, %%cx")
NATIVE(n_cmpxchg_4, "cmpxchgl %%ebx, %%ecx")
NATIVE(n_cmpxchg_8, "cmpxchgq %%rbx, %%rcx")
NATIVE(n_cbw_2, "cbtw")
NATIVE(n_cbw_4, "cwtl")
NATIVE(n_cbw_8, "cltq")
NATIVE(n_cwd_2, "cwtd")
NATIVE(n_cwd_4, "cltd")
NATIVE(n_cwd_8, "cqto")
NATIVE(n_addh, "addb %%bh, %%ah")
NATIVE(n_sbbh, "sbbb %%ah, %%bl")
NATIVE(n_xorh, "xorb %%ch, %%dh")

/*
 * SETcc and CMOVcc read flags left lazily by a previous instruction, so
 * each runs after one that sets them (CMP, ADD, AND, INC, NEG on RCX/RDX).
 */
#define CC_LIST(X, pr)							\
	X(o, 0, pr) X(no, 1, pr) X(b, 2, pr) X(ae, 3, pr) X(e, 4, pr)	\
	X(ne, 5, pr) X(be, 6, pr) X(a, 7, pr) X(s, 8, pr) X(ns, 9, pr)	\
	X(p, 10, pr) X(np, 11, pr) X(l, 12, pr) X(ge, 13, pr) X(le, 14, pr)	\
	X(g, 15, pr)
#define PRE_cmp32	"cmpl %%edx, %%ecx\n\t"
#define PRE_add8	"addb %%dl, %%cl\n\t"
#define PRE_and64	"andq %%rdx, %%rcx\n\t"
#define PRE_inc16	"incw %%cx\n\t"
#define PRE_neg64	"negq %%rcx\n\t"
#define PRE_sbb16	"sbbw %%dx, %%cx\n\t"
#define NAT_SET(cc, n, pr) NATIVE(n_set##cc##_##pr, PRE_##pr "set" #cc " %%al")
#define NAT_CMOV(cc, n, pr)						\
	NATIVE(n_cmov##cc##_##pr##_2, PRE_##pr "cmov" #cc "w %%bx, %%ax")	\
	NATIVE(n_cmov##cc##_##pr##_4, PRE_##pr "cmov" #cc "l %%ebx, %%eax")	\
	NATIVE(n_cmov##cc##_##pr##_8, PRE_##pr "cmov" #cc "q %%rbx, %%rax")
CC_LIST(NAT_SET, cmp32) CC_LIST(NAT_SET, add8) CC_LIST(NAT_SET, and64)
CC_LIST(NAT_SET, inc16) CC_LIST(NAT_SET, neg64) CC_LIST(NAT_SET, sbb16)
CC_LIST(NAT_CMOV, cmp32) CC_LIST(NAT_CMOV, add8) CC_LIST(NAT_CMOV, sbb16)

/* Operand generation */
enum { K_BIN, K_SHIFT, K_DIV, K_IDIV, K_CMPXCHG };

/* The instruction that sets flags before SETcc/CMOVcc (RCX op= RDX). */
struct pre {
	emu_op_fn	*fn;
	uint8_t		size, sub, form;
};
static const struct pre PRE_cmp32_e = { op_alu, 4, 7, EMU_FORM_RM_REG };
static const struct pre PRE_add8_e = { op_alu, 1, 0, EMU_FORM_RM_REG };
static const struct pre PRE_and64_e = { op_alu, 8, 4, EMU_FORM_RM_REG };
static const struct pre PRE_inc16_e = { op_incdec, 2, 0, EMU_FORM_RM };
static const struct pre PRE_neg64_e = { op_neg, 8, 3, EMU_FORM_RM };
static const struct pre PRE_sbb16_e = { op_alu, 2, 3, EMU_FORM_RM_REG };

struct dcase {
	int		group;
	const char	*name;
	void		(*native)(struct regs *);
	emu_op_fn	*fn;
	uint8_t		size, form, sub, rm, reg, opcode, kind;
	uint64_t	imm;
	uint64_t	undef;		/* SDM-undefined flags: compared on AMD only */
	const struct pre *pre;
};

enum { G_ALU, G_SHIFT, G_MUL, G_BIT, G_MISC, G_CC };

#define ROW(g, nm, nat, f, sz, fo, su, r_m, rg, opc, k, im, un)	\
	{ g, nm, nat, f, sz, fo, su, r_m, rg, opc, k, im, un, NULL }
#define ROW4(g, nm, nat, f, fo, su, r_m, rg, opc, k, im, un)		\
	ROW(g, nm "8", nat##_1, f, 1, fo, su, r_m, rg, opc, k, im, un),	\
	ROW(g, nm "16", nat##_2, f, 2, fo, su, r_m, rg, opc, k, im, un),	\
	ROW(g, nm "32", nat##_4, f, 4, fo, su, r_m, rg, opc, k, im, un),	\
	ROW(g, nm "64", nat##_8, f, 8, fo, su, r_m, rg, opc, k, im, un)
#define ROW3(g, nm, nat, f, fo, su, r_m, rg, opc, k, im, un)		\
	ROW(g, nm "16", nat##_2, f, 2, fo, su, r_m, rg, opc, k, im, un),	\
	ROW(g, nm "32", nat##_4, f, 4, fo, su, r_m, rg, opc, k, im, un),	\
	ROW(g, nm "64", nat##_8, f, 8, fo, su, r_m, rg, opc, k, im, un)

#define U_ALL	RFL_ARITH
#define U_MUL	(RFL_SF | RFL_ZF | RFL_AF | RFL_PF)
#define U_BT	(RFL_OF | RFL_SF | RFL_AF | RFL_PF)
#define U_BSF	(RFL_CF | RFL_OF | RFL_SF | RFL_AF | RFL_PF)
/* Shifts: AF always, OF unless the count is 1 (checked per run, see run_case). */
#define U_SH	RFL_AF

#define ROW_SET(cc, n, pr)						\
	{ G_CC, "set" #cc "/" #pr, n_set##cc##_##pr, op_setcc, 1,		\
	  EMU_FORM_RM, n, 0, 0, 0x90 + n, K_BIN, 0, 0, &PRE_##pr##_e },
#define ROW_CMOV(cc, n, pr)						\
	{ G_CC, "cmov" #cc "16/" #pr, n_cmov##cc##_##pr##_2, op_cmov, 2,	\
	  EMU_FORM_REG_RM, n, 3, 0, 0x40 + n, K_BIN, 0, 0, &PRE_##pr##_e },	\
	{ G_CC, "cmov" #cc "32/" #pr, n_cmov##cc##_##pr##_4, op_cmov, 4,	\
	  EMU_FORM_REG_RM, n, 3, 0, 0x40 + n, K_BIN, 0, 0, &PRE_##pr##_e },	\
	{ G_CC, "cmov" #cc "64/" #pr, n_cmov##cc##_##pr##_8, op_cmov, 8,	\
	  EMU_FORM_REG_RM, n, 3, 0, 0x40 + n, K_BIN, 0, 0, &PRE_##pr##_e },

static const struct dcase cases[] = {
	ROW4(G_ALU, "add", n_add, op_alu, EMU_FORM_RM_REG, 0, 0, 3, 0x01, K_BIN, 0, 0),
	ROW4(G_ALU, "or", n_or, op_alu, EMU_FORM_RM_REG, 1, 0, 3, 0x09, K_BIN, 0, RFL_AF),
	ROW4(G_ALU, "adc", n_adc, op_alu, EMU_FORM_RM_REG, 2, 0, 3, 0x11, K_BIN, 0, 0),
	ROW4(G_ALU, "sbb", n_sbb, op_alu, EMU_FORM_RM_REG, 3, 0, 3, 0x19, K_BIN, 0, 0),
	ROW4(G_ALU, "and", n_and, op_alu, EMU_FORM_RM_REG, 4, 0, 3, 0x21, K_BIN, 0, RFL_AF),
	ROW4(G_ALU, "sub", n_sub, op_alu, EMU_FORM_RM_REG, 5, 0, 3, 0x29, K_BIN, 0, 0),
	ROW4(G_ALU, "xor", n_xor, op_alu, EMU_FORM_RM_REG, 6, 0, 3, 0x31, K_BIN, 0, RFL_AF),
	ROW4(G_ALU, "cmp", n_cmp, op_alu, EMU_FORM_RM_REG, 7, 0, 3, 0x39, K_BIN, 0, 0),
	ROW4(G_ALU, "test", n_test, op_test, EMU_FORM_RM_REG, 0, 0, 3, 0x85, K_BIN, 0, RFL_AF),
	ROW4(G_ALU, "inc", n_inc, op_incdec, EMU_FORM_RM, 0, 0, 0, 0xff, K_BIN, 0, 0),
	ROW4(G_ALU, "dec", n_dec, op_incdec, EMU_FORM_RM, 1, 0, 0, 0xff, K_BIN, 0, 0),
	ROW4(G_ALU, "neg", n_neg, op_neg, EMU_FORM_RM, 3, 0, 0, 0xf7, K_BIN, 0, 0),
	ROW4(G_ALU, "not", n_not, op_not, EMU_FORM_RM, 2, 0, 0, 0xf7, K_BIN, 0, 0),
	ROW4(G_ALU, "xadd", n_xadd, op_xadd, EMU_FORM_RM_REG, 0, 0, 3, 0xc1, K_BIN, 0, 0),
	ROW4(G_ALU, "cmpxchg", n_cmpxchg, op_cmpxchg, EMU_FORM_RM_REG, 0, 1, 3, 0xb1, K_CMPXCHG, 0, 0),
	ROW(G_ALU, "add ah,bh", n_addh, op_alu, 1, EMU_FORM_RM_REG, 0, 4, 7, 0x00, K_BIN, 0, 0),
	ROW(G_ALU, "sbb bl,ah", n_sbbh, op_alu, 1, EMU_FORM_RM_REG, 3, 3, 4, 0x18, K_BIN, 0, 0),
	ROW(G_ALU, "xor dh,ch", n_xorh, op_alu, 1, EMU_FORM_RM_REG, 6, 6, 5, 0x30, K_BIN, 0, RFL_AF),

	ROW4(G_SHIFT, "rol", n_rol, op_shift, EMU_FORM_RM_CL, 0, 0, 0, 0xd3, K_SHIFT, 0, RFL_OF),
	ROW4(G_SHIFT, "ror", n_ror, op_shift, EMU_FORM_RM_CL, 1, 0, 0, 0xd3, K_SHIFT, 0, RFL_OF),
	ROW4(G_SHIFT, "rcl", n_rcl, op_shift, EMU_FORM_RM_CL, 2, 0, 0, 0xd3, K_SHIFT, 0, RFL_OF),
	ROW4(G_SHIFT, "rcr", n_rcr, op_shift, EMU_FORM_RM_CL, 3, 0, 0, 0xd3, K_SHIFT, 0, RFL_OF),
	ROW4(G_SHIFT, "shl", n_shl, op_shift, EMU_FORM_RM_CL, 4, 0, 0, 0xd3, K_SHIFT, 0, U_SH),
	ROW4(G_SHIFT, "shr", n_shr, op_shift, EMU_FORM_RM_CL, 5, 0, 0, 0xd3, K_SHIFT, 0, U_SH),
	ROW4(G_SHIFT, "sar", n_sar, op_shift, EMU_FORM_RM_CL, 7, 0, 0, 0xd3, K_SHIFT, 0, U_SH),
	ROW4(G_SHIFT, "rol1", n_rol1, op_shift, EMU_FORM_RM_1, 0, 0, 0, 0xd1, K_BIN, 0, 0),
	ROW4(G_SHIFT, "ror1", n_ror1, op_shift, EMU_FORM_RM_1, 1, 0, 0, 0xd1, K_BIN, 0, 0),
	ROW4(G_SHIFT, "rcl1", n_rcl1, op_shift, EMU_FORM_RM_1, 2, 0, 0, 0xd1, K_BIN, 0, 0),
	ROW4(G_SHIFT, "rcr1", n_rcr1, op_shift, EMU_FORM_RM_1, 3, 0, 0, 0xd1, K_BIN, 0, 0),
	ROW4(G_SHIFT, "shl1", n_shl1, op_shift, EMU_FORM_RM_1, 4, 0, 0, 0xd1, K_BIN, 0, U_SH),
	ROW4(G_SHIFT, "shr1", n_shr1, op_shift, EMU_FORM_RM_1, 5, 0, 0, 0xd1, K_BIN, 0, U_SH),
	ROW4(G_SHIFT, "sar1", n_sar1, op_shift, EMU_FORM_RM_1, 7, 0, 0, 0xd1, K_BIN, 0, U_SH),
	ROW3(G_SHIFT, "shld", n_shld, op_shld, EMU_FORM_RM_CL, 0, 0, 3, 0xa5, K_SHIFT, 0, U_SH),
	ROW3(G_SHIFT, "shrd", n_shrd, op_shrd, EMU_FORM_RM_CL, 0, 0, 3, 0xad, K_SHIFT, 0, U_SH),

	ROW4(G_MUL, "mul", n_mul, op_muldiv, EMU_FORM_RM, 4, 3, 0, 0xf7, K_BIN, 0, U_MUL),
	ROW4(G_MUL, "imul", n_imul1, op_muldiv, EMU_FORM_RM, 5, 3, 0, 0xf7, K_BIN, 0, U_MUL),
	ROW4(G_MUL, "div", n_div, op_muldiv, EMU_FORM_RM, 6, 3, 0, 0xf7, K_DIV, 0, U_ALL),
	ROW4(G_MUL, "idiv", n_idiv, op_muldiv, EMU_FORM_RM, 7, 3, 0, 0xf7, K_IDIV, 0, U_ALL),
	ROW3(G_MUL, "imul2_", n_imul2, op_imul2, EMU_FORM_REG_RM, 0, 3, 0, 0xaf, K_BIN, 0, U_MUL),
	ROW3(G_MUL, "imul3_3_", n_imul3a, op_imul3, EMU_FORM_REG_RM, 0, 3, 0, 0x6b, K_BIN, 3, U_MUL),
	ROW3(G_MUL, "imul3_m128_", n_imul3b, op_imul3, EMU_FORM_REG_RM, 0, 3, 0, 0x6b, K_BIN,
	    (uint64_t)-128, U_MUL),
	ROW(G_MUL, "imul3_7fff_16", n_imul3c_2, op_imul3, 2, EMU_FORM_REG_RM, 0, 3, 0, 0x69,
	    K_BIN, 0x7fff, U_MUL),
	ROW(G_MUL, "imul3_7fffffff_32", n_imul3c_4, op_imul3, 4, EMU_FORM_REG_RM, 0, 3, 0, 0x69,
	    K_BIN, 0x7fffffff, U_MUL),
	ROW(G_MUL, "imul3_m80000000_64", n_imul3c_8, op_imul3, 8, EMU_FORM_REG_RM, 0, 3, 0, 0x69,
	    K_BIN, 0xffffffff80000000ULL, U_MUL),

	ROW3(G_BIT, "bt", n_bt, op_bt, EMU_FORM_RM_REG, 0, 0, 3, 0xa3, K_BIN, 0, U_BT),
	ROW3(G_BIT, "bts", n_bts, op_bt, EMU_FORM_RM_REG, 0, 0, 3, 0xab, K_BIN, 0, U_BT),
	ROW3(G_BIT, "btr", n_btr, op_bt, EMU_FORM_RM_REG, 0, 0, 3, 0xb3, K_BIN, 0, U_BT),
	ROW3(G_BIT, "btc", n_btc, op_bt, EMU_FORM_RM_REG, 0, 0, 3, 0xbb, K_BIN, 0, U_BT),
	ROW(G_BIT, "bt $13 16", n_bti_2, op_bt, 2, EMU_FORM_RM_IMM, 4, 0, 0, 0xba, K_BIN, 13, U_BT),
	ROW(G_BIT, "bt $37 32", n_bti_4, op_bt, 4, EMU_FORM_RM_IMM, 4, 0, 0, 0xba, K_BIN, 37, U_BT),
	ROW(G_BIT, "bt $63 64", n_bti_8, op_bt, 8, EMU_FORM_RM_IMM, 4, 0, 0, 0xba, K_BIN, 63, U_BT),
	ROW(G_BIT, "bts $31 32", n_btsi_4, op_bt, 4, EMU_FORM_RM_IMM, 5, 0, 0, 0xba, K_BIN, 31, U_BT),
	ROW(G_BIT, "btr $45 64", n_btri_8, op_bt, 8, EMU_FORM_RM_IMM, 6, 0, 0, 0xba, K_BIN, 45, U_BT),
	ROW(G_BIT, "btc $7 16", n_btci_2, op_bt, 2, EMU_FORM_RM_IMM, 7, 0, 0, 0xba, K_BIN, 7, U_BT),
	ROW3(G_BIT, "bsf", n_bsf, op_bsf, EMU_FORM_REG_RM, 0, 3, 0, 0xbc, K_BIN, 0, U_BSF),
	ROW3(G_BIT, "bsr", n_bsr, op_bsr, EMU_FORM_REG_RM, 0, 3, 0, 0xbd, K_BIN, 0, U_BSF),
	ROW3(G_BIT, "bswap", n_bswap, op_bswap, EMU_FORM_REG_OP, 0, 0, 0, 0xc8, K_BIN, 0, 0),

	ROW3(G_MISC, "cbw", n_cbw, op_cbw, EMU_FORM_NONE, 0, 0, 0, 0x98, K_BIN, 0, 0),
	ROW3(G_MISC, "cwd", n_cwd, op_cwd, EMU_FORM_NONE, 0, 0, 0, 0x99, K_BIN, 0, 0),

	CC_LIST(ROW_SET, cmp32) CC_LIST(ROW_SET, add8) CC_LIST(ROW_SET, and64)
	CC_LIST(ROW_SET, inc16) CC_LIST(ROW_SET, neg64) CC_LIST(ROW_SET, sbb16)
	CC_LIST(ROW_CMOV, cmp32) CC_LIST(ROW_CMOV, add8) CC_LIST(ROW_CMOV, sbb16)
};

#ifndef ITERS
#define ITERS	4000
#endif

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic across runs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A random register whose low @size bytes are often an edge value. */
static uint64_t
gen(int size)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000,
		0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
	};
	uint64_t m = emu_size_mask(size), sign = 1ULL << (size * 8 - 1);
	uint64_t v = rng(), hi = (rng() & 3) ? rng() : 0;

	switch (rng() % 8) {
	case 0:
		v = edge[rng() % (sizeof(edge) / sizeof(edge[0]))];
		break;
	case 1:
		v = (rng() & 1) ? sign : sign - 1;
		v += (rng() % 3) - 1;
		break;
	case 2:
		v = rng() % 5;
		break;
	case 3:
		v = m - rng() % 3;
		break;
	default:
		break;
	}
	return (hi & ~m) | (v & m);
}

static sigjmp_buf fpe_jmp;

static void
fpe_handler(int sig)
{
	siglongjmp(fpe_jmp, 1);
}

/* Run natively; returns 1 when the host raised #DE (SIGFPE). */
static int
run_native(const struct dcase *dc, struct regs *r)
{
	struct sigaction sa, old;
	volatile int de = 0;

	if (dc->kind != K_DIV && dc->kind != K_IDIV) {
		dc->native(r);
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fpe_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGFPE, &sa, &old);
	if (sigsetjmp(fpe_jmp, 1) == 0)
		dc->native(r);
	else
		de = 1;
	sigaction(SIGFPE, &old, NULL);
	return de;
}

static struct emu_cpu ecpu;

static int
run_emu(const struct dcase *dc, struct regs *r, int *exc)
{
	struct emu_insn in;
	int rc;

	ecpu.st.gpr[GPR_RAX] = r->rax;
	ecpu.st.gpr[GPR_RCX] = r->rcx;
	ecpu.st.gpr[GPR_RDX] = r->rdx;
	ecpu.st.gpr[GPR_RBX] = r->rbx;
	ecpu.mode = EMU_MODE_LONG64;
	ecpu.exc_vector = -1;
	emu_set_rflags(&ecpu, r->flags);
	memset(&in, 0, sizeof(in));
	if (dc->pre != NULL) {
		in.opsize = dc->pre->size;
		in.form = dc->pre->form;
		in.sub = dc->pre->sub;
		in.rm = GPR_RCX;
		in.reg = GPR_RDX;
		in.addrsize = 8;
		rc = dc->pre->fn(&ecpu, &in);
		if (rc != EMU_OK) {
			*exc = ecpu.exc_vector;
			return rc;
		}
		memset(&in, 0, sizeof(in));
	}
	in.opsize = dc->size;
	in.form = dc->form;
	in.sub = dc->sub;
	in.rm = dc->rm;
	in.reg = dc->reg;
	in.opcode = dc->opcode;
	in.map = 1;
	in.imm = dc->imm;
	in.addrsize = 8;
	in.base = EMU_REG_NONE;
	in.index = EMU_REG_NONE;
	rc = dc->fn(&ecpu, &in);
	*exc = ecpu.exc_vector;
	r->rax = ecpu.st.gpr[GPR_RAX];
	r->rcx = ecpu.st.gpr[GPR_RCX];
	r->rdx = ecpu.st.gpr[GPR_RDX];
	r->rbx = ecpu.st.gpr[GPR_RBX];
	r->flags = emu_rflags(&ecpu);
	return rc;
}

static bool host_amd;

/* Returns the number of mismatching iterations; prints the first. */
static int
run_case(const struct dcase *dc)
{
	struct regs in, nat, emu;
	uint64_t m = emu_size_mask(dc->size), fmask, cnt;
	int i, bad = 0, exc = -1, rc, de;

	for (i = 0; i < ITERS; i++) {
		in.rax = gen(dc->size);
		in.rbx = gen(dc->size);
		in.rcx = gen(dc->size);
		in.rdx = gen(dc->size);
		in.flags = (rng() & RFL_ARITH) | 0x2;
		switch (dc->kind) {
		case K_SHIFT:
			in.rcx = (in.rcx & ~0xffULL) | (rng() % 3 ? rng() % 72 : rng() & 0xff);
			break;
		case K_CMPXCHG:
			if (rng() & 1)
				in.rcx = (in.rcx & ~m) | (in.rax & m);
			break;
		case K_DIV:
			/* Mostly a quotient that fits: high half below the divisor. */
			if (rng() % 4 && (in.rbx & m) != 0)
				in.rdx = (in.rdx & ~m) | ((in.rdx & m) % (in.rbx & m));
			if (dc->size == 1 && rng() % 4 && (in.rbx & 0xff) != 0)
				in.rax = (in.rax & ~0xff00ULL) |
				    ((((in.rax >> 8) & 0xff) % (in.rbx & 0xff)) << 8);
			break;
		case K_IDIV:
			/* Mostly a sign-extended dividend: quotient usually fits. */
			if (rng() % 4) {
				uint64_t s = (in.rax >> (dc->size * 8 - 1)) & 1 ? m : 0;

				if (dc->size == 1)
					in.rax = (in.rax & ~0xff00ULL) | ((s & 0xff) << 8);
				else
					in.rdx = (in.rdx & ~m) | s;
			}
			break;
		default:
			if (rng() % 8 == 0)
				in.rbx = (in.rbx & ~m) | (in.rax & m);
			if (rng() % 8 == 0)
				in.rdx = (in.rdx & ~m) | (in.rcx & m);
			break;
		}
		/*
		 * A 16-bit SHLD/SHRD by 17..31 has an undefined result (not
		 * only flags): only AMD is known to match.
		 */
		if (!host_amd && (dc->fn == op_shld || dc->fn == op_shrd) &&
		    dc->size == 2 && (in.rcx & 31) > 16)
			continue;
		nat = in;
		emu = in;
		de = run_native(dc, &nat);
		rc = run_emu(dc, &emu, &exc);

		fmask = RFL_ARITH;
		if (!host_amd)
			fmask &= ~dc->undef;
		/* OF of a shift by more than 1 is undefined (U_SH above). */
		if (!host_amd && dc->kind == K_SHIFT &&
		    (in.rcx & (dc->size == 8 ? 63 : 31)) != 1)
			fmask &= ~RFL_OF;
		if (de || rc != EMU_OK) {
			if (de && rc == EMU_FAULT && exc == IDT_DE)
				continue;
			goto mismatch;
		}
		if (nat.rax != emu.rax || nat.rcx != emu.rcx || nat.rdx != emu.rdx ||
		    nat.rbx != emu.rbx || ((nat.flags ^ emu.flags) & fmask) != 0)
			goto mismatch;
		continue;
mismatch:
		if (bad++ == 0) {
			cnt = in.rcx & 0xff;
			fprintf(stderr, "  %s: first mismatch at iteration %d (cl=%llu)\n"
			    "    in:     rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx\n"
			    "    native: rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx de=%d\n"
			    "    emu:    rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx rc=%d exc=%d\n",
			    dc->name, i, (unsigned long long)cnt,
			    (unsigned long long)in.rax, (unsigned long long)in.rcx,
			    (unsigned long long)in.rdx, (unsigned long long)in.rbx,
			    (unsigned long long)in.flags & 0xfff,
			    (unsigned long long)nat.rax, (unsigned long long)nat.rcx,
			    (unsigned long long)nat.rdx, (unsigned long long)nat.rbx,
			    (unsigned long long)nat.flags & 0xfff, de,
			    (unsigned long long)emu.rax, (unsigned long long)emu.rcx,
			    (unsigned long long)emu.rdx, (unsigned long long)emu.rbx,
			    (unsigned long long)emu.flags & 0xfff, rc, exc);
		}
	}
	return bad;
}

static void
run_group(int group)
{
	unsigned a, b, c, d;
	size_t i;
	int bad;

	a = b = c = d = 0;
	__get_cpuid(0, &a, &b, &c, &d);
	/* "AuthenticAMD": EBX EDX ECX */
	host_amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].group != group)
			continue;
		rng_state = 0x9e3779b97f4a7c15ULL ^ (i * 0x100000001b3ULL);
		bad = run_case(&cases[i]);
		if (bad != 0) {
			fprintf(stderr, "  %s: %d/%d mismatches\n", cases[i].name, bad, ITERS);
			test_failed_ = 1;
		}
	}
}

TEST(diff_alu)
{
	run_group(G_ALU);
}

TEST(diff_shift)
{
	run_group(G_SHIFT);
}

TEST(diff_muldiv)
{
	run_group(G_MUL);
}

TEST(diff_bit)
{
	run_group(G_BIT);
}

TEST(diff_cbw_cwd)
{
	run_group(G_MISC);
}

TEST(diff_setcc_cmov)
{
	run_group(G_CC);
}

#else

TEST(diff_host)
{
	SKIP("the host is not x86-64");
}

#endif
