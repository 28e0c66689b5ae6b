/*
 * forms.c - the table of instruction forms tested by tests/diff, and the
 * encoder that makes a random case of one form (see forms.h).
 *
 * Encoding follows SDM Vol. 2A chapter 2: legacy prefixes in any order,
 * then REX (2.2.1), opcode, ModRM, SIB, displacement, immediate; 16/32/64-bit
 * operand size by 66 / none / REX.W (2.2.1.2), 32-bit addressing by 67,
 * RIP-relative disp32 (2.2.1.6).  Byte registers 4-7 are AH CH DH BH only
 * without REX (3.1.1.1 of Vol. 2A), so a byte form picks "no REX, registers
 * 0-7" half of the time.
 *
 * Memory operands: the generator picks a target address in the data window
 * and an addressing form, then solves for the base (or displacement) so the
 * effective address lands on the target.  Registers whose values a form
 * constrains (CL counts, RDX:RAX dividends, RSP for the stack, the BT bit
 * offset...) are "fixed": when one is also the base or index, the
 * displacement absorbs it or another form is tried.
 */
#include <stdbool.h>
#include <string.h>

#include "cpu.h"
#include "forms.h"

#define AF	RFL_AF
#define U_LOGIC	RFL_AF
#define U_MUL	(RFL_SF | RFL_ZF | RFL_AF | RFL_PF)
#define U_ALL	RFL_ARITH
#define U_BT	(RFL_OF | RFL_SF | RFL_AF | RFL_PF)
#define U_BSF	(RFL_CF | RFL_OF | RFL_SF | RFL_AF | RFL_PF)
#define U_CNT	(RFL_OF | RFL_SF | RFL_AF | RFL_PF)	/* LZCNT TZCNT */
#define U_BMI	(RFL_AF | RFL_PF)			/* ANDN BLSI BLSMSK BLSR BZHI */
#define U_BEXTR	(RFL_AF | RFL_SF | RFL_PF)
#define VEX1	(O_VEX | O_VVVV | O_NEED(HF_BMI1))
#define VEX2	(O_VEX | O_VVVV | O_NEED(HF_BMI2))

/* One row of the ALU block 00-3D plus its 80/81/83 immediate group forms. */
#define ALU(nm, r, lk, un)						\
	{ nm " Eb,Gb", 0, (r) * 8 + 0, -1, E_MODRM, S_B, I_NONE, K_PLAIN, lk, un, D_ALU },	\
	{ nm " Ev,Gv", 0, (r) * 8 + 1, -1, E_MODRM, S_V, I_NONE, K_PLAIN, lk, un, D_ALU },	\
	{ nm " Gb,Eb", 0, (r) * 8 + 2, -1, E_MODRM, S_B, I_NONE, K_PLAIN, 0, un, D_ALU },	\
	{ nm " Gv,Ev", 0, (r) * 8 + 3, -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, un, D_ALU },	\
	{ nm " AL,Ib", 0, (r) * 8 + 4, -1, E_NONE, S_B, I_B, K_PLAIN, 0, un, D_ALU },	\
	{ nm " rAX,Iz", 0, (r) * 8 + 5, -1, E_NONE, S_V, I_Z, K_PLAIN, 0, un, D_ALU },	\
	{ nm " Eb,Ib (80)", 0, 0x80, r, E_GROUP, S_B, I_B, K_PLAIN, lk, un, D_ALU },	\
	{ nm " Ev,Iz (81)", 0, 0x81, r, E_GROUP, S_V, I_Z, K_PLAIN, lk, un, D_ALU },	\
	{ nm " Ev,Ib (83)", 0, 0x83, r, E_GROUP, S_V, I_B, K_PLAIN, lk, un, D_ALU }

/* Group 2 shifts/rotates: by imm8, by 1, by CL. */
#define SHIFT(nm, e)							\
	{ nm " Eb,Ib", 0, 0xc0, e, E_GROUP, S_B, I_B, K_SHIFT, 0, 0, D_SHIFT },	\
	{ nm " Ev,Ib", 0, 0xc1, e, E_GROUP, S_V, I_B, K_SHIFT, 0, 0, D_SHIFT },	\
	{ nm " Eb,1", 0, 0xd0, e, E_GROUP, S_B, I_NONE, K_SHIFT, 0, 0, D_SHIFT },	\
	{ nm " Ev,1", 0, 0xd1, e, E_GROUP, S_V, I_NONE, K_SHIFT, 0, 0, D_SHIFT },	\
	{ nm " Eb,CL", 0, 0xd2, e, E_GROUP, S_B, I_NONE, K_SHIFT, 0, 0, D_SHIFT },	\
	{ nm " Ev,CL", 0, 0xd3, e, E_GROUP, S_V, I_NONE, K_SHIFT, 0, 0, D_SHIFT }

#define CC(X)								\
	X("o", 0) X("no", 1) X("b", 2) X("ae", 3) X("e", 4) X("ne", 5)	\
	X("be", 6) X("a", 7) X("s", 8) X("ns", 9) X("p", 10) X("np", 11)	\
	X("l", 12) X("ge", 13) X("le", 14) X("g", 15)
#define SETCC(s, n)							\
	{ "set" s " Eb", 1, 0x90 + (n), 0, E_GROUP, S_B, I_NONE, K_PLAIN, 0, 0, D_CC },
#define CMOVCC(s, n)							\
	{ "cmov" s " Gv,Ev", 1, 0x40 + (n), -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, 0, D_CC },

/* name, map, opcode, /digit, encoding, sizes, immediate, kind, options, undefined flags, family */
const struct diff_form diff_forms[] = {
	ALU("add", 0, O_LOCK, 0),
	ALU("or", 1, O_LOCK, U_LOGIC),
	ALU("adc", 2, O_LOCK, 0),
	ALU("sbb", 3, O_LOCK, 0),
	ALU("and", 4, O_LOCK, U_LOGIC),
	ALU("sub", 5, O_LOCK, 0),
	ALU("xor", 6, O_LOCK, U_LOGIC),
	ALU("cmp", 7, 0, 0),
	{ "test Eb,Gb", 0, 0x84, -1, E_MODRM, S_B, I_NONE, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test Ev,Gv", 0, 0x85, -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test AL,Ib", 0, 0xa8, -1, E_NONE, S_B, I_B, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test rAX,Iz", 0, 0xa9, -1, E_NONE, S_V, I_Z, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test Eb,Ib", 0, 0xf6, 0, E_GROUP, S_B, I_B, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test Ev,Iz", 0, 0xf7, 0, E_GROUP, S_V, I_Z, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test Eb,Ib (/1)", 0, 0xf6, 1, E_GROUP, S_B, I_B, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "test Ev,Iz (/1)", 0, 0xf7, 1, E_GROUP, S_V, I_Z, K_PLAIN, 0, U_LOGIC, D_ALU },
	{ "not Eb", 0, 0xf6, 2, E_GROUP, S_B, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "not Ev", 0, 0xf7, 2, E_GROUP, S_V, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "neg Eb", 0, 0xf6, 3, E_GROUP, S_B, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "neg Ev", 0, 0xf7, 3, E_GROUP, S_V, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "inc Eb", 0, 0xfe, 0, E_GROUP, S_B, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "dec Eb", 0, 0xfe, 1, E_GROUP, S_B, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "inc Ev", 0, 0xff, 0, E_GROUP, S_V, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "dec Ev", 0, 0xff, 1, E_GROUP, S_V, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "xadd Eb,Gb", 1, 0xc0, -1, E_MODRM, S_B, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "xadd Ev,Gv", 1, 0xc1, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_LOCK, 0, D_ALU },
	{ "cmpxchg Eb,Gb", 1, 0xb0, -1, E_MODRM, S_B, I_NONE, K_CMPXCHG, O_LOCK, 0, D_ALU },
	{ "cmpxchg Ev,Gv", 1, 0xb1, -1, E_MODRM, S_V, I_NONE, K_CMPXCHG, O_LOCK, 0, D_ALU },
	{ "cmpxchg8b Mq", 1, 0xc7, 1, E_GROUP, S_D, I_NONE, K_CMPXCHG8B, O_LOCK | O_MEM, 0, D_ALU },
	{ "cmpxchg16b Mdq", 1, 0xc7, 1, E_GROUP, S_Q, I_NONE, K_CMPXCHG8B, O_LOCK | O_MEM, 0, D_ALU },
	{ "adcx Gy,Ey", 2, 0xf6, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, O_P66 | O_NEED(HF_ADX), 0, D_ALU },
	{ "adox Gy,Ey", 2, 0xf6, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, O_PF3 | O_NEED(HF_ADX), 0, D_ALU },

	SHIFT("rol", 0), SHIFT("ror", 1), SHIFT("rcl", 2), SHIFT("rcr", 3),
	SHIFT("shl", 4), SHIFT("shr", 5), SHIFT("sal", 6), SHIFT("sar", 7),
	{ "shld Ev,Gv,Ib", 1, 0xa4, -1, E_MODRM, S_V, I_B, K_SHXD, 0, 0, D_SHIFT },
	{ "shld Ev,Gv,CL", 1, 0xa5, -1, E_MODRM, S_V, I_NONE, K_SHXD, 0, 0, D_SHIFT },
	{ "shrd Ev,Gv,Ib", 1, 0xac, -1, E_MODRM, S_V, I_B, K_SHXD, 0, 0, D_SHIFT },
	{ "shrd Ev,Gv,CL", 1, 0xad, -1, E_MODRM, S_V, I_NONE, K_SHXD, 0, 0, D_SHIFT },

	{ "mul Eb", 0, 0xf6, 4, E_GROUP, S_B, I_NONE, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "mul Ev", 0, 0xf7, 4, E_GROUP, S_V, I_NONE, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "imul Eb", 0, 0xf6, 5, E_GROUP, S_B, I_NONE, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "imul Ev", 0, 0xf7, 5, E_GROUP, S_V, I_NONE, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "div Eb", 0, 0xf6, 6, E_GROUP, S_B, I_NONE, K_DIV, 0, U_ALL, D_MULDIV },
	{ "div Ev", 0, 0xf7, 6, E_GROUP, S_V, I_NONE, K_DIV, 0, U_ALL, D_MULDIV },
	{ "idiv Eb", 0, 0xf6, 7, E_GROUP, S_B, I_NONE, K_IDIV, 0, U_ALL, D_MULDIV },
	{ "idiv Ev", 0, 0xf7, 7, E_GROUP, S_V, I_NONE, K_IDIV, 0, U_ALL, D_MULDIV },
	{ "imul Gv,Ev", 1, 0xaf, -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "imul Gv,Ev,Iz", 0, 0x69, -1, E_MODRM, S_V, I_Z, K_PLAIN, 0, U_MUL, D_MULDIV },
	{ "imul Gv,Ev,Ib", 0, 0x6b, -1, E_MODRM, S_V, I_B, K_PLAIN, 0, U_MUL, D_MULDIV },

	{ "bt Ev,Gv", 1, 0xa3, -1, E_MODRM, S_V, I_NONE, K_BT, 0, U_BT, D_BIT },
	{ "bts Ev,Gv", 1, 0xab, -1, E_MODRM, S_V, I_NONE, K_BT, O_LOCK, U_BT, D_BIT },
	{ "btr Ev,Gv", 1, 0xb3, -1, E_MODRM, S_V, I_NONE, K_BT, O_LOCK, U_BT, D_BIT },
	{ "btc Ev,Gv", 1, 0xbb, -1, E_MODRM, S_V, I_NONE, K_BT, O_LOCK, U_BT, D_BIT },
	{ "bt Ev,Ib", 1, 0xba, 4, E_GROUP, S_V, I_B, K_PLAIN, 0, U_BT, D_BIT },
	{ "bts Ev,Ib", 1, 0xba, 5, E_GROUP, S_V, I_B, K_PLAIN, O_LOCK, U_BT, D_BIT },
	{ "btr Ev,Ib", 1, 0xba, 6, E_GROUP, S_V, I_B, K_PLAIN, O_LOCK, U_BT, D_BIT },
	{ "btc Ev,Ib", 1, 0xba, 7, E_GROUP, S_V, I_B, K_PLAIN, O_LOCK, U_BT, D_BIT },
	{ "bsf Gv,Ev", 1, 0xbc, -1, E_MODRM, S_V, I_NONE, K_BSF, 0, U_BSF, D_BIT },
	{ "bsr Gv,Ev", 1, 0xbd, -1, E_MODRM, S_V, I_NONE, K_BSF, 0, U_BSF, D_BIT },
	{ "bswap Zv", 1, 0xc8, -1, E_OPREG, S_DQ, I_NONE, K_PLAIN, 0, 0, D_BIT },
	{ "popcnt Gv,Ev", 1, 0xb8, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_PF3 | O_NEED(HF_POPCNT), 0, D_BIT },
	{ "tzcnt Gv,Ev", 1, 0xbc, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_PF3 | O_NEED(HF_BMI1), U_CNT, D_BIT },
	{ "lzcnt Gv,Ev", 1, 0xbd, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_PF3 | O_NEED(HF_LZCNT), U_CNT, D_BIT },

	{ "mov Eb,Gb", 0, 0x88, -1, E_MODRM, S_B, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Ev,Gv", 0, 0x89, -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Gb,Eb", 0, 0x8a, -1, E_MODRM, S_B, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Gv,Ev", 0, 0x8b, -1, E_MODRM, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Eb,Ib", 0, 0xc6, 0, E_GROUP, S_B, I_B, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Ev,Iz", 0, 0xc7, 0, E_GROUP, S_V, I_Z, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Zb,Ib", 0, 0xb0, -1, E_OPREG, S_B, I_B, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Zv,Iv", 0, 0xb8, -1, E_OPREG, S_V, I_V, K_PLAIN, 0, 0, D_MOVE },
	{ "mov AL,Ob", 0, 0xa0, -1, E_MOFFS, S_B, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov rAX,Ov", 0, 0xa1, -1, E_MOFFS, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Ob,AL", 0, 0xa2, -1, E_MOFFS, S_B, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "mov Ov,rAX", 0, 0xa3, -1, E_MOFFS, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "movzx Gv,Eb", 1, 0xb6, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_RMB, 0, D_MOVE },
	{ "movzx Gv,Ew", 1, 0xb7, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_RMW, 0, D_MOVE },
	{ "movsx Gv,Eb", 1, 0xbe, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_RMB, 0, D_MOVE },
	{ "movsx Gv,Ew", 1, 0xbf, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_RMW, 0, D_MOVE },
	{ "movsxd Gv,Ed", 0, 0x63, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, O_RMD, 0, D_MOVE },
	{ "lea Gv,M", 0, 0x8d, -1, E_MODRM, S_V, I_NONE, K_LEA, O_MEM, 0, D_MOVE },
	{ "xchg Eb,Gb", 0, 0x86, -1, E_MODRM, S_B, I_NONE, K_PLAIN, O_LOCK | O_ALIGN, 0, D_MOVE },
	{ "xchg Ev,Gv", 0, 0x87, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_LOCK | O_ALIGN, 0, D_MOVE },
	{ "xchg Zv,rAX", 0, 0x90, -1, E_OPREG, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "cbw/cwde/cdqe", 0, 0x98, -1, E_NONE, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "cwd/cdq/cqo", 0, 0x99, -1, E_NONE, S_V, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "nop Ev (0F 1F)", 1, 0x1f, 0, E_GROUP, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "prefetch hint (0F 18)", 1, 0x18, -1, E_MODRM, S_V, I_NONE, K_LEA, O_MEM, 0, D_MOVE },
	{ "hint nop (0F 19)", 1, 0x19, -1, E_MODRM, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "hint nop (0F 1C)", 1, 0x1c, -1, E_MODRM, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "hint nop (0F 1D)", 1, 0x1d, -1, E_MODRM, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "hint nop (0F 1E)", 1, 0x1e, -1, E_MODRM, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "hint nop (0F 1F)", 1, 0x1f, -1, E_MODRM, S_V, I_NONE, K_LEA, 0, 0, D_MOVE },
	{ "prefetchw Mb", 1, 0x0d, 1, E_GROUP, S_V, I_NONE, K_LEA, O_MEM, 0, D_MOVE },
	{ "cmc", 0, 0xf5, -1, E_NONE, S_D, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "clc", 0, 0xf8, -1, E_NONE, S_D, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "stc", 0, 0xf9, -1, E_NONE, S_D, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "cld", 0, 0xfc, -1, E_NONE, S_D, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "std", 0, 0xfd, -1, E_NONE, S_D, I_NONE, K_PLAIN, 0, 0, D_MOVE },
	{ "lahf", 0, 0x9f, -1, E_NONE, S_D, I_NONE, K_PLAIN, O_AHBH, 0, D_MOVE },
	{ "sahf", 0, 0x9e, -1, E_NONE, S_D, I_NONE, K_PLAIN, O_AHBH, 0, D_MOVE },
	{ "movbe Gv,Mv", 2, 0xf0, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_MEM | O_NEED(HF_MOVBE), 0, D_MOVE },
	{ "movbe Mv,Gv", 2, 0xf1, -1, E_MODRM, S_V, I_NONE, K_PLAIN, O_MEM | O_NEED(HF_MOVBE), 0, D_MOVE },
	{ "xlat", 0, 0xd7, -1, E_NONE, S_B, I_NONE, K_XLAT, 0, 0, D_MOVE },

	CC(SETCC)
	CC(CMOVCC)

	{ "push Zv", 0, 0x50, -1, E_OPREG, S_W | S_Q, I_NONE, K_PUSH, O_DEF64, 0, D_STACK },
	{ "push Ev", 0, 0xff, 6, E_GROUP, S_W | S_Q, I_NONE, K_PUSH, O_DEF64, 0, D_STACK },
	{ "push Iz", 0, 0x68, -1, E_NONE, S_W | S_Q, I_Z, K_PUSH, O_DEF64, 0, D_STACK },
	{ "push Ib", 0, 0x6a, -1, E_NONE, S_W | S_Q, I_B, K_PUSH, O_DEF64, 0, D_STACK },
	{ "pushf", 0, 0x9c, -1, E_NONE, S_W | S_Q, I_NONE, K_PUSH, O_DEF64, 0, D_STACK },
	{ "popf", 0, 0x9d, -1, E_NONE, S_W | S_Q, I_NONE, K_POPF, O_DEF64, 0, D_STACK },
	{ "leave", 0, 0xc9, -1, E_NONE, S_W | S_Q, I_NONE, K_LEAVE, O_DEF64, 0, D_STACK },
	{ "enter Iw,Ib", 0, 0xc8, -1, E_NONE, S_W | S_Q, I_ENTER, K_ENTER, O_DEF64, 0, D_STACK },
	{ "pop Zv", 0, 0x58, -1, E_OPREG, S_W | S_Q, I_NONE, K_POP, O_DEF64, 0, D_STACK },
	{ "pop Ev", 0, 0x8f, 0, E_GROUP, S_W | S_Q, I_NONE, K_POP, O_DEF64, 0, D_STACK },

	{ "movs Yb,Xb", 0, 0xa4, -1, E_NONE, S_B, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "movs Yv,Xv", 0, 0xa5, -1, E_NONE, S_V, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "cmps Xb,Yb", 0, 0xa6, -1, E_NONE, S_B, I_NONE, K_STRING, O_REP | O_REPNE, 0, D_STRING },
	{ "cmps Xv,Yv", 0, 0xa7, -1, E_NONE, S_V, I_NONE, K_STRING, O_REP | O_REPNE, 0, D_STRING },
	{ "stos Yb,AL", 0, 0xaa, -1, E_NONE, S_B, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "stos Yv,rAX", 0, 0xab, -1, E_NONE, S_V, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "lods AL,Xb", 0, 0xac, -1, E_NONE, S_B, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "lods rAX,Xv", 0, 0xad, -1, E_NONE, S_V, I_NONE, K_STRING, O_REP, 0, D_STRING },
	{ "scas AL,Yb", 0, 0xae, -1, E_NONE, S_B, I_NONE, K_STRING, O_REP | O_REPNE, 0, D_STRING },
	{ "scas rAX,Yv", 0, 0xaf, -1, E_NONE, S_V, I_NONE, K_STRING, O_REP | O_REPNE, 0, D_STRING },

	/* BMI1, BMI2 (SDM Vol. 2A/2B): VEX, 32 bits or 64 with VEX.W */
	{ "andn Gy,By,Ey", 2, 0xf2, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, VEX1, U_BMI, D_BMI },
	{ "blsr By,Ey", 2, 0xf3, 1, E_GROUP, S_DQ, I_NONE, K_PLAIN, VEX1, U_BMI, D_BMI },
	{ "blsmsk By,Ey", 2, 0xf3, 2, E_GROUP, S_DQ, I_NONE, K_PLAIN, VEX1, U_BMI, D_BMI },
	{ "blsi By,Ey", 2, 0xf3, 3, E_GROUP, S_DQ, I_NONE, K_PLAIN, VEX1, U_BMI, D_BMI },
	{ "bextr Gy,Ey,By", 2, 0xf7, -1, E_MODRM, S_DQ, I_NONE, K_VCTL, VEX1, U_BEXTR, D_BMI },
	{ "bzhi Gy,Ey,By", 2, 0xf5, -1, E_MODRM, S_DQ, I_NONE, K_VCTL, VEX2, U_BMI, D_BMI },
	{ "pdep Gy,By,Ey", 2, 0xf5, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, VEX2 | O_PF2, 0, D_BMI },
	{ "pext Gy,By,Ey", 2, 0xf5, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, VEX2 | O_PF3, 0, D_BMI },
	{ "mulx By,Gy,rDX,Ey", 2, 0xf6, -1, E_MODRM, S_DQ, I_NONE, K_PLAIN, VEX2 | O_PF2, 0, D_BMI },
	{ "shlx Gy,Ey,By", 2, 0xf7, -1, E_MODRM, S_DQ, I_NONE, K_VCTL, VEX2 | O_P66, 0, D_BMI },
	{ "sarx Gy,Ey,By", 2, 0xf7, -1, E_MODRM, S_DQ, I_NONE, K_VCTL, VEX2 | O_PF3, 0, D_BMI },
	{ "shrx Gy,Ey,By", 2, 0xf7, -1, E_MODRM, S_DQ, I_NONE, K_VCTL, VEX2 | O_PF2, 0, D_BMI },
	{ "rorx Gy,Ey,Ib", 3, 0xf0, -1, E_MODRM, S_DQ, I_B, K_PLAIN, O_VEX | O_PF2 | O_NEED(HF_BMI2), 0, D_BMI },
};

const int diff_nforms = (int)(sizeof(diff_forms) / sizeof(diff_forms[0]));

/* ---- random values ---- */

static uint64_t rng_state = 1;

void
diff_seed(uint64_t seed)
{
	rng_state = seed != 0 ? seed : 1;
}

uint64_t
diff_rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t
rnd(uint64_t n)
{
	return diff_rng() % n;
}

uint64_t
diff_gen(int size)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000,
		0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
	};
	uint64_t m = emu_size_mask(size), sign = 1ULL << (size * 8 - 1);
	uint64_t v = diff_rng(), hi = (diff_rng() & 3) ? diff_rng() : 0;

	switch (rnd(8)) {
	case 0:
		v = edge[rnd(sizeof(edge) / sizeof(edge[0]))];
		break;
	case 1:
		v = (diff_rng() & 1) ? sign : sign - 1;
		v += rnd(3) - 1;
		break;
	case 2:
		v = rnd(5);
		break;
	case 3:
		v = m - rnd(3);
		break;
	default:
		break;
	}
	return (hi & ~m) | (v & m);
}

/* A shift count: mostly in range, with the edges 0, 1, width-1, width, masks. */
static uint8_t
gen_count(int size)
{
	static const uint8_t edge[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255 };

	switch (rnd(4)) {
	case 0:
		return edge[rnd(sizeof(edge))];
	case 1:
		return (uint8_t)diff_rng();
	default:
		return (uint8_t)rnd((uint64_t)size * 8 + 2);
	}
}

/* ---- the case under construction ---- */

struct gen {
	struct diff_case *c;
	const struct diff_form *f;
	int		size;
	uint32_t	fixed;		/* registers whose values the form constrains */
	bool		rex;		/* REX present */
	uint8_t		rexbits;	/* W R X B */
	bool		addr32;
	bool		mem;
	int		reg, rm;	/* ModRM.reg operand, r/m register (4 bits) */
	int		vvvv;		/* VEX.vvvv register operand (O_VVVV) */
	/* memory operand */
	int		mod, mrm, sib, has_sib, dsize;
	int64_t		disp;
	uint64_t	target;
	int		msize;		/* bytes the operand covers */
};

static void
set_reg(struct gen *g, int r, uint64_t v)
{
	g->c->gpr[r] = v;
	g->fixed |= 1u << r;
}

/* Value of byte register @r as the instruction sees it (AH-BH without REX). */
static uint64_t
reg_val(const struct gen *g, int r, int size)
{
	if (size == 1 && !g->rex && r >= 4 && r < 8)
		return (g->c->gpr[r - 4] >> 8) & 0xff;
	return g->c->gpr[r] & emu_size_mask(size);
}

static void
reg_set_val(struct gen *g, int r, int size, uint64_t v)
{
	uint64_t *p;

	if (size == 1 && !g->rex && r >= 4 && r < 8) {
		p = &g->c->gpr[r - 4];
		*p = (*p & ~0xff00ULL) | ((v & 0xff) << 8);
		return;
	}
	p = &g->c->gpr[r];
	*p = (*p & ~emu_size_mask(size)) | (v & emu_size_mask(size));
}

static void
poke(struct diff_case *c, uint64_t addr, const void *v, int len)
{
	if (c->npoke >= 4 || len > 16)
		return;
	c->poke[c->npoke].off = (uint32_t)(addr - DIFF_DATA);
	c->poke[c->npoke].len = (uint8_t)len;
	memcpy(c->poke[c->npoke].v, v, len);
	c->npoke++;
}

static bool
fits(int64_t v, int bytes)
{
	return bytes == 1 ? v == (int8_t)v : bytes == 4 ? v == (int32_t)v : v == 0;
}

static int
pick_reg(const struct gen *g)
{
	return (int)rnd(g->rex ? 16 : 8);
}

/*
 * Choose ModRM/SIB/displacement and base/index values so that the effective
 * address is g->target (SDM Vol. 2A 2.1.5 tables 2-2 and 2-3).  K_LEA: any
 * address.  @adj is added to RSP when it is the base (POP r/m computes the
 * address after the pop).
 */
static void
solve_ea(struct gen *g, uint64_t adj)
{
	struct diff_case *c = g->c;
	uint64_t amask = g->addr32 ? 0xffffffffULL : ~0ULL;
	uint64_t T = g->target, vb, vi;
	bool lea = g->f->kind == K_LEA;
	int tries, form, base, index, scale;

	for (tries = 0; tries < 200; tries++) {
		form = (int)rnd(tries > 150 ? 1 : 8);
		base = pick_reg(g);
		index = pick_reg(g);
		if (index == 4)
			index = -1;	/* SIB index 100 without REX.X: none */
		scale = (int)rnd(4);
		g->has_sib = 0;
		g->dsize = 0;
		g->disp = 0;
		switch (form) {
		case 0:		/* [disp32], SIB form (no base, no index) */
			base = -1;
			index = -1;
			scale = (int)rnd(4);
			g->mod = 0;
			g->dsize = 4;
			break;
		case 1:		/* [rip + disp32] */
			base = -2;
			index = -1;
			g->mod = 0;
			g->dsize = 4;
			break;
		case 2:		/* [index*s + disp32] */
			if (index < 0)
				continue;
			base = -1;
			g->mod = 0;
			g->dsize = 4;
			break;
		case 3: case 4:	/* [base], [base + disp8/32], no index */
			index = -1;
			g->mod = (int)rnd(3);
			break;
		default:	/* [base + index*s + disp] */
			g->mod = (int)rnd(3);
			break;
		}
		if (base >= 0) {
			if (g->mod == 0 && (base & 7) == 5)
				g->mod = 1;	/* mod 00 base 101 means no base */
			g->dsize = g->mod == 1 ? 1 : g->mod == 2 ? 4 : 0;
		}
		g->has_sib = base == -1 || index >= 0 || (base >= 0 && (base & 7) == 4) ||
		    (base >= 0 && rnd(8) == 0);
		if (base == -2)
			g->has_sib = 0;

		vi = 0;
		if (index >= 0)
			vi = (g->fixed >> index & 1) ? c->gpr[index] : diff_rng();
		vb = 0;
		if (base >= 0) {
			vb = (g->fixed >> base & 1) ? c->gpr[base] : diff_rng();
			if (base == 4 && (g->fixed >> 4 & 1))
				vb += adj;
		}
		if (lea) {
			/* Any values: the wrap of the address size is part of the test. */
			g->disp = g->dsize == 1 ? (int8_t)diff_rng() :
			    g->dsize == 4 ? (int32_t)diff_gen(4) : 0;
			if (base >= 0)
				c->gpr[base] = vb;
			if (index >= 0)
				c->gpr[index] = vi;
			goto encode;
		}
		if (base == -2) {
			g->disp = (int64_t)(T - DIFF_SLOT_END);
			goto encode;
		}
		if (base == index && base >= 0) {
			uint64_t m = 1 + (1ULL << scale);
			int64_t x;

			if (g->fixed >> base & 1) {
				g->disp = (int64_t)((T - vb - (vb << scale)) & amask);
			} else {
				g->disp = g->dsize == 1 ? (int8_t)diff_rng() / 2 :
				    g->dsize == 4 ? (int64_t)rnd(1 << 20) - (1 << 19) : 0;
				x = (int64_t)T - g->disp;
				g->disp += x % (int64_t)m;
				x -= x % (int64_t)m;
				vb = (uint64_t)x / m;
				if (g->addr32)
					vb |= diff_rng() << 32;
				c->gpr[base] = vb;
			}
		} else if (base >= 0 && !(g->fixed >> base & 1)) {
			/* A free base absorbs everything, wrapping included. */
			g->disp = g->dsize == 1 ? (int8_t)diff_rng() :
			    g->dsize == 4 ? (int32_t)diff_gen(4) : 0;
			if (index >= 0 && !(g->fixed >> index & 1) && rnd(2))
				vi = (uint64_t)((int64_t)rnd(512) - 256);
			if (index >= 0)
				c->gpr[index] = vi;
			vb = T - (uint64_t)g->disp - (vi << scale);
			if (g->addr32)
				vb = (vb & 0xffffffffULL) | (diff_rng() << 32);
			c->gpr[base] = vb;
		} else {
			/* Fixed base or no base: the displacement must reach. */
			if (index >= 0 && !(g->fixed >> index & 1)) {
				vi = (uint64_t)((int64_t)rnd(512) - 256);
				if (g->addr32)
					vi = (vi & 0xffffffffULL) | (diff_rng() << 32);
				c->gpr[index] = vi;
			}
			g->disp = (int64_t)(T - vb - (vi << scale));
			if (g->addr32)
				g->disp = (int32_t)(uint32_t)g->disp;
		}
		if (g->addr32)
			g->disp = (int32_t)(uint32_t)g->disp;
		if (base == -1)
			g->dsize = 4;
		if (!fits(g->disp, g->dsize)) {
			if (base >= 0 && fits(g->disp, 4)) {
				g->mod = 2;
				g->dsize = 4;
			} else {
				continue;
			}
		}
encode:
		if (base == -2) {
			g->mrm = 5;
		} else if (g->has_sib) {
			g->mrm = 4;
			g->sib = (scale << 6) | ((index >= 0 ? index : 4) & 7) << 3 |
			    (base >= 0 ? base & 7 : 5);
			if (index >= 8)
				g->rexbits |= 0x2;
		} else {
			g->mrm = base & 7;
		}
		if (base >= 8)
			g->rexbits |= 0x1;
		if (base == -1)
			g->mod = 0;
		return;
	}
	/* Not reached: form 0 (absolute) always solves. */
}

/* Mostly-aligned target for a memory operand of @size bytes. */
static uint64_t
pick_target(int size, bool align)
{
	uint64_t t = DIFF_DATA + 6144 + rnd(4096);
	uint64_t a = size > 16 ? 16 : (uint64_t)size;

	if (align || rnd(2))
		t &= ~(a - 1);
	return t;
}

static void
put_imm(uint8_t *b, int *n, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		b[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* Undefined flags and results that depend on the operands (shifts). */
static void
shift_rules(struct gen *g, unsigned count)
{
	const struct diff_form *f = g->f;
	struct diff_case *c = g->c;
	unsigned bits = (unsigned)g->size * 8;
	unsigned m = count & (g->size == 8 ? 63 : 31);

	if (m == 0)
		return;		/* flags unaffected: all defined */
	if (f->kind == K_SHXD) {
		/* SDM Vol. 2B SHLD/SHRD: count > size: result and flags undefined */
		if (m > bits) {
			c->skip = 1;
			return;
		}
		c->undef |= RFL_AF | (m != 1 ? RFL_OF : 0);
		return;
	}
	if (f->ext >= 4) {
		/* SAL/SAR/SHL/SHR: AF undefined; OF if not 1; CF of SHL/SHR when count >= size */
		c->undef |= RFL_AF | (m != 1 ? RFL_OF : 0);
		if (f->ext != 7 && m >= bits)
			c->undef |= RFL_CF;
	} else {
		/* rotates: OF only defined for 1-bit rotates (SDM Vol. 2B RCL/RCR/ROL/ROR) */
		if (m != 1)
			c->undef |= RFL_OF;
	}
}

void
diff_generate(const struct diff_form *f, int size, struct diff_case *c)
{
	struct gen g;
	uint8_t pfx[8], *b;
	uint8_t tmp[32], rep_pfx;
	int npfx, n, i, immsize, rmsize;
	uint64_t imm, v;
	bool lock, byteregs;
	unsigned count;

again:
	rep_pfx = 0;
	immsize = 0;
	imm = 0;
	count = 1;
	memset(c, 0, sizeof(*c));
	memset(&g, 0, sizeof(g));
	g.c = c;
	g.f = f;
	g.size = size;
	c->size = size;
	for (i = 0; i < 16; i++)
		c->gpr[i] = diff_gen(rnd(2) ? size : 8);
	c->rflags = (diff_rng() & (RFL_ARITH | RFL_DF)) | 0x202;
	c->undef = f->undef;

	rmsize = (f->opt & O_RMB) ? 1 : (f->opt & O_RMW) ? 2 : (f->opt & O_RMD) ? 4 : size;
	byteregs = size == 1 || rmsize == 1;
	/* REX.W for 64-bit operands, except where 64 is the default */
	if (size == 8 && !(f->opt & O_DEF64))
		g.rexbits |= 0x8;
	if (size == 8 && (f->opt & O_DEF64) && rnd(4) == 0)
		g.rexbits |= 0x8;
	if (f->opt & O_VEX)
		g.rex = true;		/* VEX carries R X B: all 16 registers */
	else if (f->opt & O_AHBH)
		g.rex = false;
	else if (g.rexbits & 0x8)
		g.rex = true;
	else if (byteregs)
		g.rex = rnd(2);
	else
		g.rex = rnd(4) != 0;
	if (f->enc == E_NONE || f->enc == E_MOFFS)
		g.rex = g.rex && rnd(2);

	/* Operands */
	g.reg = pick_reg(&g);
	g.rm = pick_reg(&g);
	if (f->opt & O_VVVV)
		g.vvvv = pick_reg(&g);
	if (f->enc == E_MODRM || f->enc == E_GROUP)
		g.mem = (f->opt & O_MEM) || (!(f->opt & O_REG) && rnd(2));
	if (f->enc == E_MOFFS)
		g.mem = true;
	if (f->enc == E_OPREG && f->op == 0x90 && g.rm == 0)
		g.rm = 8;		/* 90 without REX.B is NOP */
	g.addr32 = g.mem && rnd(4) == 0;
	lock = g.mem && (f->opt & O_LOCK) && rnd(2);
	/* now and then a LOCK the SDM forbids here: #UD on both (Vol. 2A LOCK) */
	if (!lock && rnd(64) == 0)
		lock = true;
	g.msize = rmsize;
	if (f->kind == K_CMPXCHG8B)
		g.msize = size * 2;

	/* Constraints (fixed registers) */
	switch (f->kind) {
	case K_SHIFT:
	case K_SHXD:
		if (f->op == 0xd2 || f->op == 0xd3 || f->op == 0xa5 || f->op == 0xad) {
			count = gen_count(size);
			set_reg(&g, GPR_RCX, (c->gpr[GPR_RCX] & ~0xffULL) | count);
		} else if (f->imm == I_B) {
			count = gen_count(size);
			imm = count;
		}
		shift_rules(&g, count);
		break;
	case K_DIV:
	case K_IDIV: {
		/* divisor first, then a dividend whose quotient usually fits */
		uint64_t d = diff_gen(size), m = emu_size_mask(size);
		uint64_t hi = diff_gen(size), lo = c->gpr[GPR_RAX];

		if (rnd(4) && (d & m) != 0) {
			if (f->kind == K_DIV)
				hi = (hi & m) % (d & m);
			else
				hi = (lo >> (size * 8 - 1)) & 1 ? m : 0;
		}
		if (size == 1) {
			set_reg(&g, GPR_RAX, (lo & ~0xff00ULL) | ((hi & 0xff) << 8));
		} else {
			set_reg(&g, GPR_RAX, lo);
			set_reg(&g, GPR_RDX, (c->gpr[GPR_RDX] & ~m) | (hi & m));
		}
		imm = d;	/* placed below, in the register or memory */
		break;
	}
	case K_BT:
		if (g.mem) {
			/* bit offset beyond the operand, both signs, within the window */
			int64_t off = (int64_t)rnd(28000) - 14000;

			if (rnd(4) == 0)
				off = (int64_t)rnd(size * 8);
			set_reg(&g, g.reg, (c->gpr[g.reg] & ~emu_size_mask(size)) |
			    ((uint64_t)off & emu_size_mask(size)));
		}
		break;
	case K_CMPXCHG8B:
		set_reg(&g, GPR_RAX, c->gpr[GPR_RAX]);
		set_reg(&g, GPR_RDX, c->gpr[GPR_RDX]);
		set_reg(&g, GPR_RBX, c->gpr[GPR_RBX]);
		set_reg(&g, GPR_RCX, c->gpr[GPR_RCX]);
		break;
	case K_CMPXCHG:
		set_reg(&g, GPR_RAX, c->gpr[GPR_RAX]);
		break;
	case K_VCTL:
		/* start/index/count in bits 7:0, BEXTR's length in 15:8: edges */
		set_reg(&g, g.vvvv, (diff_gen(8) & ~0xffffULL) | gen_count(size) |
		    (uint64_t)gen_count(size) << 8);
		break;
	case K_XLAT:
		/* the table at rBX (EBX with 67, SDM Vol. 2B XLAT), AL anywhere */
		g.addr32 = rnd(4) == 0;
		v = DIFF_DATA + 4096 + rnd(8192);
		if (g.addr32)
			v |= diff_rng() << 32;
		set_reg(&g, GPR_RBX, v);
		c->fill = 2;
		break;
	case K_PUSH:
	case K_POP:
	case K_POPF:
	case K_LEAVE:
	case K_ENTER: {
		uint64_t sp = DIFF_DATA + 2048 + 8 * rnd(256);

		if (rnd(8) == 0)
			sp += 1 + rnd(7);
		set_reg(&g, f->kind == K_LEAVE ? GPR_RBP : GPR_RSP, sp);
		if (f->kind == K_ENTER)
			set_reg(&g, GPR_RBP, DIFF_DATA + 8192 + 8 * rnd(256) + (rnd(8) ? 0 : rnd(8)));
		if (f->kind == K_POPF) {
			/*
			 * The arithmetic flags and DF; IF as the host has it
			 * (user-mode POPF cannot change it), never TF or AC.
			 */
			v = (diff_rng() & (RFL_ARITH | RFL_DF)) | 0x202;
			poke(c, sp, &v, size);
		}
		if (f->kind == K_ENTER) {
			/*
			 * Nesting level mostly small, masked to 5 bits.  The frame
			 * stays in the window: Intel hosts fault when RSP - size
			 * is not writable (the SDM's ENTER pseudocode touches no
			 * memory there; the emulator does not either).
			 */
			set_reg(&g, GPR_RSP, sp + 2048);
			imm = (rnd(4) ? rnd(0x800) : rnd(3) * 8) |
			    (uint64_t)(rnd(4) ? rnd(4) : rnd(256)) << 16;
		}
		break;
	}
	case K_STRING: {
		bool rep = ((f->opt & O_REP) && rnd(3) != 0);
		uint64_t cnt;

		if (rep)
			rep_pfx = (f->opt & O_REPNE) && rnd(2) ? 0xf2 : 0xf3;
		g.addr32 = rnd(4) == 0;
		for (i = 0; i < 2; i++) {
			v = DIFF_DATA + 4096 + rnd(8192);
			if (rnd(2))
				v &= ~(uint64_t)(size - 1);
			if (g.addr32)
				v |= diff_rng() << 32;
			set_reg(&g, i == 0 ? GPR_RSI : GPR_RDI, v);
		}
		cnt = rnd(4) == 0 ? rnd(3) : rnd(40);
		if (!rep)
			cnt = diff_rng();
		else if (g.addr32)
			cnt |= diff_rng() << 32;
		/*
		 * REP with a 32-bit address size and ECX = 0: the SDM does not
		 * say whether RCX, RSI and RDI are written (zero-extended); Intel
		 * hosts zero the upper halves of some of them, depending on the
		 * instruction.  Only the low halves are compared then.
		 */
		if (rep && g.addr32 && (uint32_t)cnt == 0)
			c->lo32_reg = 1u << GPR_RCX | 1u << GPR_RSI | 1u << GPR_RDI;
		set_reg(&g, GPR_RCX, cnt);
		/* a mostly-zero window gives long equal runs and matches for REPE/REPNE */
		c->fill = 1 + (int)rnd(2);
		if (rnd(2))
			reg_set_val(&g, GPR_RAX, size, rnd(2) ? 0 : diff_gen(size));
		break;
	}
	default:
		break;
	}
	npfx = 0;
	if (rep_pfx != 0)
		pfx[npfx++] = rep_pfx;

	/* Memory operand */
	if (g.mem) {
		if (f->enc == E_MOFFS) {
			g.target = pick_target(g.msize, false);
		} else {
			g.target = pick_target(g.msize, lock || (f->opt & O_ALIGN) ||
			    f->kind == K_CMPXCHG8B);
			/* CMPXCHG16B on a misaligned m128: #GP(0) (SDM Vol. 2A) */
			if (f->kind == K_CMPXCHG8B && size == 8 && rnd(32) == 0)
				g.target += 8;
			solve_ea(&g, f->kind == K_POP ? (uint64_t)size : 0);
		}
		c->has_mem = f->kind != K_LEA;
	}

	/* Operand values that depend on the operand placement */
	if (g.mem && f->kind != K_LEA) {
		uint8_t buf[16];

		v = diff_gen(g.msize > 8 ? 8 : g.msize);
		if (f->kind == K_DIV || f->kind == K_IDIV)
			v = imm;
		if (f->kind == K_CMPXCHG && rnd(2))
			v = reg_val(&g, GPR_RAX, size);
		if (f->kind == K_BSF && rnd(8) == 0)
			v = 0;
		memcpy(buf, &v, 8);
		v = diff_gen(8);
		memcpy(buf + 8, &v, 8);
		if (f->kind == K_CMPXCHG8B && rnd(2)) {
			uint64_t lo = c->gpr[GPR_RAX], hi = c->gpr[GPR_RDX];

			if (size == 4)
				lo = (lo & 0xffffffffULL) | (hi << 32);
			memcpy(buf, &lo, 8);
			memcpy(buf + 8, &hi, 8);
		}
		poke(c, g.target, buf, g.msize > 16 ? 16 : g.msize);
		if (f->kind == K_BSF) {
			v = 0;
			memcpy(&v, buf, g.msize);
			if (v == 0)
				c->skip_reg |= 1u << g.reg;
		}
	} else if (f->enc == E_MODRM || f->enc == E_GROUP) {
		if (f->kind == K_DIV || f->kind == K_IDIV) {
			/* the divisor register, unless it is part of the dividend */
			if (!(g.fixed >> g.rm & 1) &&
			    !(size == 1 && !g.rex && g.rm == 4))
				reg_set_val(&g, g.rm, size, imm);
		}
		if (f->kind == K_CMPXCHG && rnd(2) && g.rm != GPR_RAX)
			reg_set_val(&g, g.rm, size, reg_val(&g, GPR_RAX, size));
		if (f->kind == K_BSF) {
			if (rnd(8) == 0 && g.rm != g.reg)
				reg_set_val(&g, g.rm, size, 0);
			if (reg_val(&g, g.rm, size) == 0)
				c->skip_reg |= 1u << g.reg;
		}
	}

	/* Immediate */
	switch (f->imm) {
	case I_B:
		immsize = 1;
		break;
	case I_Z:
		immsize = size == 2 ? 2 : size == 1 ? 1 : 4;
		break;
	case I_V:
		immsize = size;
		break;
	case I_W:
		immsize = 2;
		break;
	case I_ENTER:
		immsize = 3;
		break;
	}
	if (immsize != 0 && f->kind != K_SHIFT && f->kind != K_SHXD && f->kind != K_ENTER)
		imm = diff_gen(immsize);

	/* Bytes: prefixes in random order, REX, opcode, ModRM, SIB, disp, imm */
	if (size == 2)
		pfx[npfx++] = 0x66;
	else if ((g.rexbits & 0x8) && !(f->opt & (O_VEX | O_P66)) && rnd(8) == 0)
		pfx[npfx++] = 0x66;		/* REX.W wins (SDM Vol. 2A 2.2.1.2) */
	if (g.addr32)
		pfx[npfx++] = 0x67;
	if (lock)
		pfx[npfx++] = 0xf0;
	if (rnd(16) == 0)
		pfx[npfx++] = (uint8_t[]){ 0x26, 0x2e, 0x36, 0x3e }[rnd(4)];	/* ignored in 64-bit mode */
	for (i = npfx - 1; i > 0; i--) {
		int j = (int)rnd((uint64_t)i + 1);
		uint8_t t = pfx[i];

		pfx[i] = pfx[j];
		pfx[j] = t;
	}
	/* a legacy mandatory prefix last, where the SDM's opcode tables put it */
	if (!(f->opt & O_VEX) && (f->opt & (O_P66 | O_PF3 | O_PF2)))
		pfx[npfx++] = (f->opt & O_P66) ? 0x66 : (f->opt & O_PF3) ? 0xf3 : 0xf2;
	if (f->enc == E_MODRM) {
		if (g.reg >= 8)
			g.rexbits |= 0x4;
		if (!g.mem && g.rm >= 8)
			g.rexbits |= 0x1;
	} else if (f->enc == E_GROUP) {
		if (!g.mem && g.rm >= 8)
			g.rexbits |= 0x1;
	} else if (f->enc == E_OPREG) {
		if (g.rm >= 8)
			g.rexbits |= 0x1;
	}
	if (g.rexbits)
		g.rex = true;

	b = tmp;
	memcpy(b, pfx, npfx);
	n = npfx;
	if (f->opt & O_VEX) {
		/* SDM Vol. 2A 2.3.5: R X B vvvv inverted; C5 only for map 0F, W0, X = B = 0 */
		int pp = (f->opt & O_P66) ? 1 : (f->opt & O_PF3) ? 2 : (f->opt & O_PF2) ? 3 : 0;
		uint8_t last = (uint8_t)((g.rexbits & 0x8) << 4 | (~g.vvvv & 15) << 3 | pp);

		if (f->map == 1 && !(g.rexbits & 0xb) && rnd(2)) {
			b[n++] = 0xc5;
			b[n++] = (uint8_t)((~g.rexbits & 0x4) << 5 | last);
		} else {
			b[n++] = 0xc4;
			b[n++] = (uint8_t)((~g.rexbits & 0x7) << 5 | f->map);
			b[n++] = last;
		}
	} else {
		if (g.rex)
			b[n++] = 0x40 | g.rexbits;
		if (f->map >= 1)
			b[n++] = 0x0f;
		if (f->map >= 2)
			b[n++] = f->map == 2 ? 0x38 : 0x3a;
	}
	b[n++] = f->enc == E_OPREG ? (uint8_t)(f->op + (g.rm & 7)) : f->op;
	if (f->enc == E_MODRM || f->enc == E_GROUP) {
		int regf = f->enc == E_GROUP ? f->ext : (g.reg & 7);

		if (g.mem) {
			b[n++] = (uint8_t)(g.mod << 6 | regf << 3 | g.mrm);
			if (g.has_sib)
				b[n++] = (uint8_t)g.sib;
			put_imm(b, &n, (uint64_t)g.disp, g.dsize);
		} else {
			b[n++] = (uint8_t)(0xc0 | regf << 3 | (g.rm & 7));
		}
	} else if (f->enc == E_MOFFS) {
		put_imm(b, &n, g.target, g.addr32 ? 4 : 8);
	}
	put_imm(b, &n, imm, immsize);
	if (n > 15)
		goto again;	/* too many prefixes for this form */
	memcpy(c->bytes, tmp, n);
	c->len = n;
}
