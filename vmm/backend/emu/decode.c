/*
 * decode.c - the x86 instruction decoder of the software CPU.
 *
 * Table driven (SDM Vol. 2A chapter 2 and appendix A): legacy prefixes, REX,
 * the one-byte map and the 0F map are described by static tables of
 * struct opdesc; group opcodes (ModRM.reg selects the operation) go through
 * a second level of 8-entry tables.  The result is a struct emu_insn with
 * the handler already chosen (insn->fn), so dispatch is one indirect call.
 *
 * Conventions of the decoded form (see docs/cpu.md):
 *   - imm: immediates are sign-extended to the operand size and masked to it
 *     (imm8 of 83 /x, 6A, 6B; imm32 of REX.W 81, C7, 68, 69), except port
 *     numbers, vectors, shift counts and ENTER/RET sizes (zero-extended) and
 *     branch displacements (rel8/rel16/rel32, sign-extended to 64 bits).
 *   - moffs (A0-A3): has_mem = 1, no base or index, disp = the offset; form
 *     REG_RM (A0/A1) or RM_REG (A2/A3) with reg = 0 (the accumulator).
 *   - far pointer (9A, EA): imm = offset, imm2 = selector.  ENTER: imm =
 *     frame size, imm2 = nesting level.
 *   - 8C/8E: reg = the segment register (REX.R ignored), 6 and 7 rejected.
 *   - 0F 20-23: the ModRM r/m is a register whatever mod says; reg carries
 *     REX.R (CR8); opsize is 8 in 64-bit mode, else 4.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

#define F_MODRM		0x00000001u
#define F_BYTE		0x00000002u	/* 8-bit operand size */
#define F_IMM8		0x00000004u	/* imm8 sign-extended to the operand size */
#define F_IMM8U		0x00000008u	/* imm8 zero-extended */
#define F_IMMZ		0x00000010u	/* imm16/32 by operand size, sign-extended */
#define F_IMMV		0x00000020u	/* imm16/32/64 by operand size (B8+r) */
#define F_IMM16		0x00000040u	/* imm16 zero-extended */
#define F_REL8		0x00000080u
#define F_RELZ		0x00000100u	/* rel16/32 by operand size */
#define F_MOFFS		0x00000200u	/* A0-A3: offset of address size */
#define F_DEF64		0x00000400u	/* 64-bit operand by default in 64-bit mode, 66 gives 16 */
#define F_FORCE64	0x00000800u	/* 64-bit operand in 64-bit mode, 66 ignored (Intel) */
#define F_GROUP		0x00001000u	/* sub indexes group tables by ModRM.reg */
#define F_INV64		0x00002000u	/* #UD in 64-bit mode */
#define F_LOCK		0x00004000u	/* LOCK allowed (with a memory operand) */
#define F_MEMONLY	0x00008000u	/* ModRM.mod = 3 is #UD */
#define F_REGONLY	0x00010000u
#define F_SUBREG	0x00020000u	/* sub = ModRM.reg */
#define F_FAR		0x00040000u	/* ptr16:16/32 */
#define F_ENTER		0x00080000u	/* imm16, imm8 */
#define F_CR		0x00100000u	/* MOV CR/DR: r/m always a register */
#define F_INVALID	0x00200000u
#define F_GROUPMOD	0x00400000u	/* group table sub for memory, sub + 1 for mod = 3 */
#define F_SREG		0x00800000u	/* 8C/8E */
#define F_CC		0x01000000u	/* sub = opcode & 15 */
#define F_REGOP		0x02000000u	/* register in the opcode's low bits */
#define F_PFX		0x04000000u	/* sub indexes pfx_table by mandatory prefix */
#define F_NO66		0x08000000u	/* 66 is a mandatory prefix: operand size 32, 64 with REX.W */
#define F_VEXL0		0x10000000u	/* VEX.L = 1 is #UD (BMI: VEX.LZ) */
#define F_NOVVVV	0x20000000u	/* VEX.vvvv unused: must be 1111b, else #UD */
#define F_NP		0x40000000u	/* "NP": 66/F2/F3 make it another instruction (#UD here) */
#define F_NOREP		0x80000000u	/* F2/F3 make it another instruction (#UD here) */

struct opdesc {
	emu_op_fn	*fn;
	uint32_t	flags;
	uint8_t		form;
	uint8_t		sub;
};

#define INV		{ NULL, F_INVALID, 0, 0 }

/* The eight ALU rows 00-3F (SDM Vol. 2D A.3 table A-2): sub = row. */
#define ALU_ROW(r, lk)							\
	[(r) * 8 + 0] = { op_alu, F_MODRM | F_BYTE | (lk), EMU_FORM_RM_REG, r },	\
	[(r) * 8 + 1] = { op_alu, F_MODRM | (lk), EMU_FORM_RM_REG, r },		\
	[(r) * 8 + 2] = { op_alu, F_MODRM | F_BYTE, EMU_FORM_REG_RM, r },		\
	[(r) * 8 + 3] = { op_alu, F_MODRM, EMU_FORM_REG_RM, r },			\
	[(r) * 8 + 4] = { op_alu, F_BYTE | F_IMM8, EMU_FORM_ACC_IMM, r },		\
	[(r) * 8 + 5] = { op_alu, F_IMMZ, EMU_FORM_ACC_IMM, r }

enum {
	G1, G2, G3, G4, G5, G6, G8, G9M, G9R, G11, G1A, G15M, G15R, G17,
	G12M, G12X, G13M, G13X, G14M, G14X,	/* 0F 71-73, MMX and 66 (sse_decode.h) */
	G_COUNT
};

/*
 * Mandatory prefixes.  An F_PFX entry's sub picks a row of pfx_table, whose
 * four columns are in VEX.pp order: none, 66, F3, F2.  For a legacy
 * encoding the column is F3 or F2 when present (the last of them wins),
 * else 66, else none, so 66 F3 0F B8 is POPCNT r16 (SDM Vol. 2A 2.1.2,
 * and POPCNT); for VEX it is VEX.pp.  An entry in the 66 column that uses
 * 66 as its opcode, not as an operand-size override, says F_NO66.
 */
enum { PFX_NONE, PFX_66, PFX_F3, PFX_F2 };
enum {
	P_0FB8, P_0FBC, P_0FBD, P_MOVBE_LD, P_MOVBE_ST, P_ADX, P_RDRAND, P_RDSEED,
	P_V38_F2, P_V38_F3, P_V38_F5, P_V38_F6, P_V38_F7, P_V3A_F0, P_COUNT,
	P_SSE = P_COUNT		/* the MMX/SSE row of this opcode in sse_map */
};

#include "sse_decode.h"

static const struct opdesc grp_table[G_COUNT][8] = {
	/* 80-83: immediate ALU, sub = ModRM.reg */
	[G1] = {
		[0 ... 6] = { op_alu, F_LOCK, EMU_FORM_RM_IMM, 0 },
		[7] = { op_alu, 0, EMU_FORM_RM_IMM, 0 },
	},
	/* C0/C1/D0-D3: shifts and rotates (reg 6 is the SAL alias) */
	[G2] = {
		[0 ... 7] = { op_shift, 0, 0, 0 },
	},
	/* F6/F7 */
	[G3] = {
		[0] = { op_test, F_IMMZ, EMU_FORM_RM_IMM, 0 },
		[1] = { op_test, F_IMMZ, EMU_FORM_RM_IMM, 0 },
		[2] = { op_not, F_LOCK, EMU_FORM_RM, 0 },
		[3] = { op_neg, F_LOCK, EMU_FORM_RM, 0 },
		[4 ... 7] = { op_muldiv, 0, EMU_FORM_RM, 0 },
	},
	/* FE */
	[G4] = {
		[0 ... 1] = { op_incdec, F_LOCK, EMU_FORM_RM, 0 },
		[2 ... 7] = INV,
	},
	/* FF */
	[G5] = {
		[0 ... 1] = { op_incdec, F_LOCK, EMU_FORM_RM, 0 },
		[2] = { op_call, F_FORCE64, EMU_FORM_RM, 0 },
		[3] = { op_callfar, F_MEMONLY, EMU_FORM_RM, 0 },
		[4] = { op_jmp, F_FORCE64, EMU_FORM_RM, 0 },
		[5] = { op_jmpfar, F_MEMONLY, EMU_FORM_RM, 0 },
		[6] = { op_push, F_DEF64, EMU_FORM_RM, 0 },
		[7] = INV,
	},
	/* 0F 00: SLDT STR LLDT LTR VERR VERW */
	[G6] = {
		[0 ... 5] = { op_grp6, 0, EMU_FORM_RM, 0 },
		[6 ... 7] = INV,
	},
	/* 0F BA: BT BTS BTR BTC r/m, imm8 */
	[G8] = {
		[0 ... 3] = INV,
		[4] = { op_bt, F_IMM8U, EMU_FORM_RM_IMM, 0 },
		[5 ... 7] = { op_bt, F_IMM8U | F_LOCK, EMU_FORM_RM_IMM, 0 },
	},
	/*
	 * 0F C7, memory: CMPXCHG8B/16B, XSAVEC; the VMX and XSAVES/XRSTORS forms are
	 * #UD because CPUID does not advertise them.
	 */
	[G9M] = {
		[0] = INV,
		[1] = { op_cmpxchg8b, F_MEMONLY | F_LOCK, EMU_FORM_RM, 0 },
		[2 ... 3] = INV,
		[4] = { op_xsavec, F_NP, EMU_FORM_RM, 0 },
		[5 ... 7] = INV,	/* XSAVES XRSTORS (not offered), VMPTRLD... */
	},
	/* 0F C7, register: RDRAND, RDSEED, F3: RDPID (SDM Vol. 2B) */
	[G9R] = {
		[0 ... 5] = INV,
		[6] = { NULL, F_PFX, 0, P_RDRAND },
		[7] = { NULL, F_PFX, 0, P_RDSEED },
	},
	/* C6/C7: MOV r/m, imm (C6 F8 / C7 F8 are XABORT/XBEGIN: no RTM) */
	[G11] = {
		[0] = { op_mov, F_IMMZ, EMU_FORM_RM_IMM, 0 },
		[1 ... 7] = INV,
	},
	/* 8F: POP r/m (other regs are AMD XOP) */
	[G1A] = {
		[0] = { op_pop, F_DEF64, EMU_FORM_RM, 0 },
		[1 ... 7] = INV,
	},
	/*
	 * 0F AE, memory: FXSAVE FXRSTOR XSAVE XRSTOR XSAVEOPT (x87.c; REX.W:
	 * the 64-bit forms), LDMXCSR STMXCSR (sse.c); CLFLUSH is a no-op on a
	 * cache-less CPU (66: CLFLUSHOPT, the same to us; F2/F3 0F AE /7 are
	 * #UD on hardware); 66 0F AE /6 is CLWB, also a no-op.
	 */
	[G15M] = {
		[0] = { op_fxsave, F_NP, EMU_FORM_RM, 0 },
		[1] = { op_fxrstor, F_NP, EMU_FORM_RM, 0 },
		[2] = { op_ldmxcsr, F_NP, EMU_FORM_RM, 0 },
		[3] = { op_stmxcsr, F_NP, EMU_FORM_RM, 0 },
		[4] = { op_xsave, F_NP, EMU_FORM_RM, 0 },
		[5] = { op_xrstor, F_NP, EMU_FORM_RM, 0 },
		[6] = { op_xsaveopt_clwb, 0, EMU_FORM_RM, 0 },
		[7] = { op_nop, F_NOREP, EMU_FORM_RM, 0 },
	},
	/*
	 * 0F AE, register: LFENCE MFENCE SFENCE; F3 0F AE /0-/3 RDFSBASE
	 * RDGSBASE WRFSBASE WRGSBASE (system.c, FSGSBASE).
	 * With 66/F2/F3 these are INCSSP, UMONITOR, UMWAIT, TPAUSE... or
	 * reserved: #UD without those extensions (SDM Vol. 2A LFENCE: "NP").
	 */
	[G15R] = {
		[0 ... 3] = { op_fsgsbase, 0, EMU_FORM_RM, 0 },	/* F3: RD/WR FS/GS BASE */
		[4] = INV,
		[5 ... 7] = { op_nop, F_NP, EMU_FORM_NONE, 0 },
	},
	/* VEX.LZ.0F38 F3: BLSR BLSMSK BLSI (BMI1), vvvv is the destination */
	[G17] = {
		[0] = INV,
		[1 ... 3] = { op_blsx, F_VEXL0, EMU_FORM_RM, 0 },
		[4 ... 7] = INV,
	},
	SSE_GROUP_TABLES
};

static const struct opdesc pfx_table[P_COUNT][4] = {
	/* 0F B8: POPCNT with F3 (JMPE without it: no IA-64) */
	[P_0FB8] = {
		[PFX_NONE] = INV, [PFX_66] = INV, [PFX_F2] = INV,
		[PFX_F3] = { op_popcnt, F_MODRM, EMU_FORM_REG_RM, 0 },
	},
	/* 0F BC/BD: BSF/BSR, TZCNT/LZCNT with F3 (BMI1, ABM) */
	[P_0FBC] = {
		[PFX_NONE ... PFX_66] = { op_bsf, F_MODRM, EMU_FORM_REG_RM, 0 },
		[PFX_F2] = { op_bsf, F_MODRM, EMU_FORM_REG_RM, 0 },
		[PFX_F3] = { op_tzcnt, F_MODRM, EMU_FORM_REG_RM, 0 },
	},
	[P_0FBD] = {
		[PFX_NONE ... PFX_66] = { op_bsr, F_MODRM, EMU_FORM_REG_RM, 0 },
		[PFX_F2] = { op_bsr, F_MODRM, EMU_FORM_REG_RM, 0 },
		[PFX_F3] = { op_lzcnt, F_MODRM, EMU_FORM_REG_RM, 0 },
	},
	/*
	 * 0F 38 F0/F1: MOVBE; F2 is CRC32 r32/r64, r/m8 (F0) or r/m16/32/64
	 * (F1, 66 for 16 bits: F2 picks the column, 66 stays an operand size).
	 */
	[P_MOVBE_LD] = {
		[PFX_NONE ... PFX_66] = { op_movbe, F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },
		[PFX_F3] = INV,
		[PFX_F2] = { op_crc32, F_MODRM | F_BYTE, EMU_FORM_REG_RM, 0 },
	},
	[P_MOVBE_ST] = {
		[PFX_NONE ... PFX_66] = { op_movbe, F_MODRM | F_MEMONLY, EMU_FORM_RM_REG, 0 },
		[PFX_F3] = INV,
		[PFX_F2] = { op_crc32, F_MODRM, EMU_FORM_REG_RM, 0 },
	},
	/* 0F 38 F6: ADCX (66), ADOX (F3); WRSS without a prefix (no CET) */
	[P_ADX] = {
		[PFX_NONE] = INV, [PFX_F2] = INV,
		[PFX_66] = { op_adx, F_MODRM | F_NO66, EMU_FORM_REG_RM, 0 },
		[PFX_F3] = { op_adx, F_MODRM | F_NO66, EMU_FORM_REG_RM, 1 },
	},
	/* 0F C7 /6, /7 register forms */
	[P_RDRAND] = {
		[PFX_NONE ... PFX_66] = { op_rdrand, 0, EMU_FORM_RM, 0 },
		[PFX_F3 ... PFX_F2] = INV,
	},
	[P_RDSEED] = {
		[PFX_NONE ... PFX_66] = { op_rdrand, 0, EMU_FORM_RM, 0 },
		[PFX_F3] = { op_rdpid, 0, EMU_FORM_RM, 0 },
		[PFX_F2] = INV,
	},
	/* VEX 0F38 (SDM Vol. 2D A.3 table A-4): BMI1, BMI2 */
	[P_V38_F2] = {
		[PFX_NONE] = { op_andn, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 0 },
		[PFX_66 ... PFX_F2] = INV,
	},
	[P_V38_F3] = {
		[PFX_NONE] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G17 },
		[PFX_66 ... PFX_F2] = INV,
	},
	[P_V38_F5] = {
		[PFX_NONE] = { op_bzhi, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 0 },
		[PFX_66] = INV,
		[PFX_F3] = { op_pdep, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 1 },	/* PEXT */
		[PFX_F2] = { op_pdep, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 0 },	/* PDEP */
	},
	[P_V38_F6] = {
		[PFX_NONE ... PFX_F3] = INV,
		[PFX_F2] = { op_mulx, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 0 },
	},
	[P_V38_F7] = {
		[PFX_NONE] = { op_bextr, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 0 },
		/* SHLX SARX SHRX: sub as in group 2 (4 shl, 7 sar, 5 shr) */
		[PFX_66] = { op_shiftx, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 4 },
		[PFX_F3] = { op_shiftx, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 7 },
		[PFX_F2] = { op_shiftx, F_MODRM | F_VEXL0, EMU_FORM_REG_RM, 5 },
	},
	/* VEX 0F3A F0: RORX (BMI2) */
	[P_V3A_F0] = {
		[PFX_NONE ... PFX_F3] = INV,
		[PFX_F2] = { op_rorx, F_MODRM | F_IMM8U | F_VEXL0 | F_NOVVVV, EMU_FORM_REG_RM, 0 },
	},
};

static const struct opdesc one_byte[256] = {
	ALU_ROW(0, F_LOCK), ALU_ROW(1, F_LOCK), ALU_ROW(2, F_LOCK), ALU_ROW(3, F_LOCK),
	ALU_ROW(4, F_LOCK), ALU_ROW(5, F_LOCK), ALU_ROW(6, F_LOCK), ALU_ROW(7, 0),
	/* PUSH/POP ES CS SS DS, not in 64-bit mode */
	[0x06] = { op_pushseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x07] = { op_popseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x0e] = { op_pushseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x0f] = INV,		/* escape, handled before the table */
	[0x16] = { op_pushseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x17] = { op_popseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x1e] = { op_pushseg, F_INV64, EMU_FORM_NONE, 0 },
	[0x1f] = { op_popseg, F_INV64, EMU_FORM_NONE, 0 },
	/* segment prefixes 26 2E 36 3E are consumed before the table */
	[0x26] = INV, [0x2e] = INV, [0x36] = INV, [0x3e] = INV,
	/* DAA DAS AAA AAS */
	[0x27] = { op_daa, F_INV64, EMU_FORM_NONE, 0 },
	[0x2f] = { op_das, F_INV64, EMU_FORM_NONE, 0 },
	[0x37] = { op_aaa, F_INV64, EMU_FORM_NONE, 0 },
	[0x3f] = { op_aas, F_INV64, EMU_FORM_NONE, 0 },
	/* INC/DEC r16/32 outside 64-bit mode (REX there) */
	[0x40 ... 0x47] = { op_incdec, F_REGOP, EMU_FORM_REG_OP, 0 },
	[0x48 ... 0x4f] = { op_incdec, F_REGOP, EMU_FORM_REG_OP, 1 },
	[0x50 ... 0x57] = { op_push, F_REGOP | F_DEF64, EMU_FORM_REG_OP, 0 },
	[0x58 ... 0x5f] = { op_pop, F_REGOP | F_DEF64, EMU_FORM_REG_OP, 0 },
	/* PUSHA POPA */
	[0x60] = { op_pusha, F_INV64, EMU_FORM_NONE, 0 },
	[0x61] = { op_popa, F_INV64, EMU_FORM_NONE, 0 },
	/* BOUND (mod = 3 is EVEX, #UD: no AVX-512) */
	[0x62] = { op_bound, F_INV64 | F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },
	/* ARPL outside 64-bit mode; MOVSXD in it (see movsxd_desc) */
	[0x63] = { op_arpl, F_MODRM, EMU_FORM_RM_REG, 0 },
	[0x64 ... 0x67] = INV,	/* prefixes */
	[0x68] = { op_push, F_IMMZ | F_DEF64, EMU_FORM_NONE, 0 },
	[0x69] = { op_imul3, F_MODRM | F_IMMZ, EMU_FORM_REG_RM, 0 },
	[0x6a] = { op_push, F_IMM8 | F_DEF64, EMU_FORM_NONE, 0 },
	[0x6b] = { op_imul3, F_MODRM | F_IMM8, EMU_FORM_REG_RM, 0 },
	[0x6c] = { op_ins, F_BYTE, EMU_FORM_NONE, 0 },
	[0x6d] = { op_ins, 0, EMU_FORM_NONE, 0 },
	[0x6e] = { op_outs, F_BYTE, EMU_FORM_NONE, 0 },
	[0x6f] = { op_outs, 0, EMU_FORM_NONE, 0 },
	[0x70 ... 0x7f] = { op_jcc, F_REL8 | F_FORCE64 | F_CC, EMU_FORM_NONE, 0 },
	[0x80] = { NULL, F_MODRM | F_GROUP | F_BYTE | F_IMM8 | F_SUBREG, 0, G1 },
	[0x81] = { NULL, F_MODRM | F_GROUP | F_IMMZ | F_SUBREG, 0, G1 },
	[0x82] = { NULL, F_MODRM | F_GROUP | F_BYTE | F_IMM8 | F_SUBREG | F_INV64, 0, G1 },
	[0x83] = { NULL, F_MODRM | F_GROUP | F_IMM8 | F_SUBREG, 0, G1 },
	[0x84] = { op_test, F_MODRM | F_BYTE, EMU_FORM_RM_REG, 0 },
	[0x85] = { op_test, F_MODRM, EMU_FORM_RM_REG, 0 },
	[0x86] = { op_xchg, F_MODRM | F_BYTE | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0x87] = { op_xchg, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0x88] = { op_mov, F_MODRM | F_BYTE, EMU_FORM_RM_REG, 0 },
	[0x89] = { op_mov, F_MODRM, EMU_FORM_RM_REG, 0 },
	[0x8a] = { op_mov, F_MODRM | F_BYTE, EMU_FORM_REG_RM, 0 },
	[0x8b] = { op_mov, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0x8c] = { op_movseg, F_MODRM | F_SREG | F_SUBREG, EMU_FORM_RM_REG, 0 },
	[0x8d] = { op_lea, F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },
	[0x8e] = { op_movseg, F_MODRM | F_SREG | F_SUBREG, EMU_FORM_REG_RM, 0 },
	[0x8f] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G1A },
	[0x90 ... 0x97] = { op_xchg, F_REGOP, EMU_FORM_REG_OP, 0 },
	[0x98] = { op_cbw, 0, EMU_FORM_NONE, 0 },
	[0x99] = { op_cwd, 0, EMU_FORM_NONE, 0 },
	[0x9a] = { op_callfar, F_FAR | F_INV64, EMU_FORM_NONE, 0 },
	[0x9b] = { op_fwait, 0, EMU_FORM_NONE, 0 },
	[0x9c] = { op_pushf, F_DEF64, EMU_FORM_NONE, 0 },
	[0x9d] = { op_popf, F_DEF64, EMU_FORM_NONE, 0 },
	[0x9e] = { op_sahf, 0, EMU_FORM_NONE, 0 },
	[0x9f] = { op_lahf, 0, EMU_FORM_NONE, 0 },
	[0xa0] = { op_mov, F_MOFFS | F_BYTE, EMU_FORM_REG_RM, 0 },
	[0xa1] = { op_mov, F_MOFFS, EMU_FORM_REG_RM, 0 },
	[0xa2] = { op_mov, F_MOFFS | F_BYTE, EMU_FORM_RM_REG, 0 },
	[0xa3] = { op_mov, F_MOFFS, EMU_FORM_RM_REG, 0 },
	[0xa4] = { op_movs, F_BYTE, EMU_FORM_NONE, 0 },
	[0xa5] = { op_movs, 0, EMU_FORM_NONE, 0 },
	[0xa6] = { op_cmps, F_BYTE, EMU_FORM_NONE, 0 },
	[0xa7] = { op_cmps, 0, EMU_FORM_NONE, 0 },
	[0xa8] = { op_test, F_BYTE | F_IMM8, EMU_FORM_ACC_IMM, 0 },
	[0xa9] = { op_test, F_IMMZ, EMU_FORM_ACC_IMM, 0 },
	[0xaa] = { op_stos, F_BYTE, EMU_FORM_NONE, 0 },
	[0xab] = { op_stos, 0, EMU_FORM_NONE, 0 },
	[0xac] = { op_lods, F_BYTE, EMU_FORM_NONE, 0 },
	[0xad] = { op_lods, 0, EMU_FORM_NONE, 0 },
	[0xae] = { op_scas, F_BYTE, EMU_FORM_NONE, 0 },
	[0xaf] = { op_scas, 0, EMU_FORM_NONE, 0 },
	[0xb0 ... 0xb7] = { op_mov, F_REGOP | F_BYTE | F_IMM8, EMU_FORM_REG_OP, 0 },
	[0xb8 ... 0xbf] = { op_mov, F_REGOP | F_IMMV, EMU_FORM_REG_OP, 0 },
	[0xc0] = { op_shift, F_MODRM | F_BYTE | F_IMM8U | F_SUBREG, EMU_FORM_RM_IMM, 0 },
	[0xc1] = { op_shift, F_MODRM | F_IMM8U | F_SUBREG, EMU_FORM_RM_IMM, 0 },
	[0xc2] = { op_ret, F_IMM16 | F_FORCE64, EMU_FORM_NONE, 0 },
	[0xc3] = { op_ret, F_FORCE64, EMU_FORM_NONE, 0 },
	/* LES/LDS outside 64-bit mode; mod = 3 there and anything in 64-bit mode is VEX (#UD: no AVX) */
	[0xc4] = { op_lfp, F_MODRM | F_MEMONLY | F_INV64, EMU_FORM_REG_RM, 0 },
	[0xc5] = { op_lfp, F_MODRM | F_MEMONLY | F_INV64, EMU_FORM_REG_RM, 0 },
	[0xc6] = { NULL, F_MODRM | F_GROUP | F_BYTE | F_SUBREG, 0, G11 },
	[0xc7] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G11 },
	[0xc8] = { op_enter, F_ENTER | F_DEF64, EMU_FORM_NONE, 0 },
	[0xc9] = { op_leave, F_DEF64, EMU_FORM_NONE, 0 },
	[0xca] = { op_retfar, F_IMM16, EMU_FORM_NONE, 0 },
	[0xcb] = { op_retfar, 0, EMU_FORM_NONE, 0 },
	[0xcc] = { op_int, 0, EMU_FORM_NONE, 0 },
	[0xcd] = { op_int, F_IMM8U, EMU_FORM_NONE, 0 },
	[0xce] = { op_int, F_INV64, EMU_FORM_NONE, 0 },
	[0xcf] = { op_iret, 0, EMU_FORM_NONE, 0 },
	[0xd0] = { op_shift, F_MODRM | F_BYTE | F_SUBREG, EMU_FORM_RM_1, 0 },
	[0xd1] = { op_shift, F_MODRM | F_SUBREG, EMU_FORM_RM_1, 0 },
	[0xd2] = { op_shift, F_MODRM | F_BYTE | F_SUBREG, EMU_FORM_RM_CL, 0 },
	[0xd3] = { op_shift, F_MODRM | F_SUBREG, EMU_FORM_RM_CL, 0 },
	/* AAM AAD */
	[0xd4] = { op_aam, F_IMM8U | F_INV64, EMU_FORM_NONE, 0 },
	[0xd5] = { op_aad, F_IMM8U | F_INV64, EMU_FORM_NONE, 0 },
	[0xd6] = INV,		/* SALC is undocumented */
	[0xd7] = { op_xlat, 0, EMU_FORM_NONE, 0 },
	/* x87 escapes: ModRM.reg and the register/memory form pick the operation (x87.c) */
	[0xd8 ... 0xdf] = { op_x87, F_MODRM | F_SUBREG, EMU_FORM_NONE, 0 },
	[0xe0 ... 0xe3] = { op_loop, F_REL8 | F_FORCE64, EMU_FORM_NONE, 0 },
	[0xe4] = { op_in, F_BYTE | F_IMM8U, EMU_FORM_NONE, 0 },
	[0xe5] = { op_in, F_IMM8U, EMU_FORM_NONE, 0 },
	[0xe6] = { op_out, F_BYTE | F_IMM8U, EMU_FORM_NONE, 0 },
	[0xe7] = { op_out, F_IMM8U, EMU_FORM_NONE, 0 },
	[0xe8] = { op_call, F_RELZ | F_FORCE64, EMU_FORM_NONE, 0 },
	[0xe9] = { op_jmp, F_RELZ | F_FORCE64, EMU_FORM_NONE, 0 },
	[0xea] = { op_jmpfar, F_FAR | F_INV64, EMU_FORM_NONE, 0 },
	[0xeb] = { op_jmp, F_REL8 | F_FORCE64, EMU_FORM_NONE, 0 },
	[0xec] = { op_in, F_BYTE, EMU_FORM_NONE, 0 },
	[0xed] = { op_in, 0, EMU_FORM_NONE, 0 },
	[0xee] = { op_out, F_BYTE, EMU_FORM_NONE, 0 },
	[0xef] = { op_out, 0, EMU_FORM_NONE, 0 },
	[0xf0] = INV, [0xf2] = INV, [0xf3] = INV,	/* prefixes */
	[0xf1] = { op_int, 0, EMU_FORM_NONE, 0 },
	[0xf4] = { op_hlt, 0, EMU_FORM_NONE, 0 },
	[0xf5] = { op_flagop, 0, EMU_FORM_NONE, 0 },
	[0xf6] = { NULL, F_MODRM | F_GROUP | F_BYTE | F_SUBREG, 0, G3 },
	[0xf7] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G3 },
	[0xf8] = { op_flagop, 0, EMU_FORM_NONE, 0 },
	[0xf9] = { op_flagop, 0, EMU_FORM_NONE, 0 },
	[0xfa] = { op_cli, 0, EMU_FORM_NONE, 0 },
	[0xfb] = { op_sti, 0, EMU_FORM_NONE, 0 },
	[0xfc] = { op_flagop, 0, EMU_FORM_NONE, 0 },
	[0xfd] = { op_flagop, 0, EMU_FORM_NONE, 0 },
	[0xfe] = { NULL, F_MODRM | F_GROUP | F_BYTE | F_SUBREG, 0, G4 },
	[0xff] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G5 },
};

static const struct opdesc movsxd_desc = { op_movsxd, F_MODRM, EMU_FORM_REG_RM, 0 };

static const struct opdesc two_byte[256] = {
	[0x00] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G6 },
	[0x01] = { op_grp7, F_MODRM | F_SUBREG, EMU_FORM_RM, 0 },
	[0x02] = { op_larlsl, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0x03] = { op_larlsl, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0x04] = INV,
	[0x05] = { op_syscall, 0, EMU_FORM_NONE, 0 },
	[0x06] = { op_clts, 0, EMU_FORM_NONE, 0 },
	[0x07] = { op_sysret, 0, EMU_FORM_NONE, 0 },
	[0x08] = { op_invd, 0, EMU_FORM_NONE, 0 },
	[0x09] = { op_invd, 0, EMU_FORM_NONE, 0 },
	[0x0a] = INV,
	[0x0b] = { op_ud, 0, EMU_FORM_NONE, 0 },
	[0x0c] = INV,
	/*
	 * PREFETCHW (/1), AMD PREFETCH (/0); the other forms, registers
	 * included, are NOPs on Intel hardware and in XED.
	 */
	[0x0d] = { op_nop, F_MODRM, EMU_FORM_RM, 0 },
	[0x0e] = INV,
	[0x0f] = INV,		/* 3DNow! */
	[0x10 ... 0x17] = { NULL, F_PFX, 0, P_SSE },	/* SSE moves */
	/* prefetch hints and reserved-NOP space (SDM Vol. 2B NOP, PREFETCHh) */
	[0x18 ... 0x1f] = { op_nop, F_MODRM, EMU_FORM_RM, 0 },
	[0x20] = { op_movcr, F_MODRM | F_CR, EMU_FORM_RM_REG, 0 },
	[0x21] = { op_movdr, F_MODRM | F_CR, EMU_FORM_RM_REG, 0 },
	[0x22] = { op_movcr, F_MODRM | F_CR, EMU_FORM_REG_RM, 0 },
	[0x23] = { op_movdr, F_MODRM | F_CR, EMU_FORM_REG_RM, 0 },
	[0x24 ... 0x27] = INV,
	[0x28 ... 0x2f] = { NULL, F_PFX, 0, P_SSE },	/* SSE */
	[0x30] = { op_wrmsr, 0, EMU_FORM_NONE, 0 },
	[0x31] = { op_rdtsc, 0, EMU_FORM_NONE, 0 },
	[0x32] = { op_rdmsr, 0, EMU_FORM_NONE, 0 },
	[0x33] = { op_rdpmc, 0, EMU_FORM_NONE, 0 },
	[0x34] = { op_sysenter, 0, EMU_FORM_NONE, 0 },
	[0x35] = { op_sysexit, 0, EMU_FORM_NONE, 0 },
	[0x36] = INV,
	[0x37] = INV,		/* GETSEC: no SMX */
	[0x38] = INV,		/* three-byte escapes, handled before the table */
	[0x39] = INV,
	[0x3a] = INV,
	[0x3b ... 0x3f] = INV,
	[0x40 ... 0x4f] = { op_cmov, F_MODRM | F_CC, EMU_FORM_REG_RM, 0 },
	[0x50 ... 0x76] = { NULL, F_PFX, 0, P_SSE },	/* SSE/MMX */
	[0x77] = { NULL, F_PFX, 0, P_SSE },	/* EMMS */
	[0x78 ... 0x79] = INV,	/* VMREAD/VMWRITE: no VMX */
	[0x7a ... 0x7b] = INV,
	[0x7c ... 0x7f] = { NULL, F_PFX, 0, P_SSE },
	[0x80 ... 0x8f] = { op_jcc, F_RELZ | F_FORCE64 | F_CC, EMU_FORM_NONE, 0 },
	[0x90 ... 0x9f] = { op_setcc, F_MODRM | F_BYTE | F_CC, EMU_FORM_RM, 0 },
	[0xa0] = { op_pushseg, F_DEF64, EMU_FORM_NONE, 0 },
	[0xa1] = { op_popseg, F_DEF64, EMU_FORM_NONE, 0 },
	[0xa2] = { op_cpuid, 0, EMU_FORM_NONE, 0 },
	[0xa3] = { op_bt, F_MODRM, EMU_FORM_RM_REG, 0 },
	[0xa4] = { op_shld, F_MODRM | F_IMM8U, EMU_FORM_RM_IMM, 0 },
	[0xa5] = { op_shld, F_MODRM, EMU_FORM_RM_CL, 0 },
	[0xa6 ... 0xa7] = INV,
	[0xa8] = { op_pushseg, F_DEF64, EMU_FORM_NONE, 0 },
	[0xa9] = { op_popseg, F_DEF64, EMU_FORM_NONE, 0 },
	[0xaa] = INV,		/* RSM: #UD outside SMM */
	[0xab] = { op_bt, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xac] = { op_shrd, F_MODRM | F_IMM8U, EMU_FORM_RM_IMM, 0 },
	[0xad] = { op_shrd, F_MODRM, EMU_FORM_RM_CL, 0 },
	[0xae] = { NULL, F_MODRM | F_GROUP | F_GROUPMOD | F_SUBREG, 0, G15M },
	[0xaf] = { op_imul2, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0xb0] = { op_cmpxchg, F_MODRM | F_BYTE | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xb1] = { op_cmpxchg, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xb2] = { op_lfp, F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },	/* LSS */
	[0xb3] = { op_bt, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xb4] = { op_lfp, F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },	/* LFS */
	[0xb5] = { op_lfp, F_MODRM | F_MEMONLY, EMU_FORM_REG_RM, 0 },	/* LGS */
	[0xb6] = { op_movzx, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0xb7] = { op_movzx, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0xb8] = { NULL, F_PFX, 0, P_0FB8 },
	[0xb9] = { op_ud, F_MODRM, EMU_FORM_NONE, 0 },		/* UD1 */
	[0xba] = { NULL, F_MODRM | F_GROUP | F_SUBREG, 0, G8 },
	[0xbb] = { op_bt, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xbc] = { NULL, F_PFX, 0, P_0FBC },
	[0xbd] = { NULL, F_PFX, 0, P_0FBD },
	[0xbe] = { op_movsx, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0xbf] = { op_movsx, F_MODRM, EMU_FORM_REG_RM, 0 },
	[0xc0] = { op_xadd, F_MODRM | F_BYTE | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xc1] = { op_xadd, F_MODRM | F_LOCK, EMU_FORM_RM_REG, 0 },
	[0xc2 ... 0xc6] = { NULL, F_PFX, 0, P_SSE },	/* CMPPS MOVNTI PINSRW PEXTRW SHUFPS */
	[0xc7] = { NULL, F_MODRM | F_GROUP | F_GROUPMOD | F_SUBREG, 0, G9M },
	[0xc8 ... 0xcf] = { op_bswap, F_REGOP, EMU_FORM_REG_OP, 0 },
	[0xd0 ... 0xfe] = { NULL, F_PFX, 0, P_SSE },	/* SSE/MMX */
	[0xff] = { op_ud, F_MODRM, EMU_FORM_NONE, 0 },		/* UD0 */
};

/*
 * 0F 38 (SDM Vol. 2D A.3 table A-4): SSSE3/SSE4 and AES-NI vector
 * instructions in sse_map (extensions CPUID does not report, SHA..., are #UD); the
 * integer ones from F0 up are here.
 */
static const struct opdesc three_byte_38[256] = {
	[0x00 ... 0xef] = { NULL, F_PFX, 0, P_SSE },
	[0xf0] = { NULL, F_PFX, 0, P_MOVBE_LD },
	[0xf1] = { NULL, F_PFX, 0, P_MOVBE_ST },
	/* CET, MOVDIRI, ENQCMD...: not advertised */
	[0xf2 ... 0xf5] = INV,
	[0xf6] = { NULL, F_PFX, 0, P_ADX },
	[0xf7 ... 0xff] = INV,
};

/* 0F 3A (table A-5): vector instructions with an imm8, all in sse_map. */
static const struct opdesc three_byte_3a[256] = {
	[0x00 ... 0xef] = { NULL, F_PFX, 0, P_SSE },
	[0xf0 ... 0xff] = INV,
};

/*
 * VEX maps, indexed by VEX.mmmmm (1 0F, 2 0F38, 3 0F3A), then the opcode;
 * entries pick the VEX.pp column through pfx_table like legacy ones.
 * AVX is not advertised: everything but the GPR instructions of BMI1 and
 * BMI2 is #UD (an empty entry, fn NULL, is invalid).  AVX work adds its
 * entries here.
 */
static const struct opdesc vex_map[4][256] = {
	[2] = {
		[0xf2] = { NULL, F_PFX, 0, P_V38_F2 },
		[0xf3] = { NULL, F_PFX, 0, P_V38_F3 },
		[0xf5] = { NULL, F_PFX, 0, P_V38_F5 },
		[0xf6] = { NULL, F_PFX, 0, P_V38_F6 },
		[0xf7] = { NULL, F_PFX, 0, P_V38_F7 },
	},
	[3] = {
		[0xf0] = { NULL, F_PFX, 0, P_V3A_F0 },
	},
};

/* Byte cursor with the 15-byte architectural limit (SDM Vol. 2A 2.3.11). */
struct cursor {
	const uint8_t	*code;
	int		avail;
	int		pos;
};

static inline int
need(const struct cursor *c, int n)
{
	if (c->pos + n > 15)
		return -E2BIG;
	if (c->pos + n > c->avail)
		return -EAGAIN;
	return 0;
}

/* Little-endian immediate of @n bytes, zero-extended. */
static inline uint64_t
take(struct cursor *c, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)c->code[c->pos + i] << (8 * i);
	c->pos += n;
	return v;
}

static inline uint64_t
sext(uint64_t v, int bytes)
{
	int sh = 64 - 8 * bytes;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* 16-bit ModRM addressing (SDM Vol. 2A 2.1.5 table 2-1). */
static int
decode_mem16(struct cursor *c, struct emu_insn *in, int mod, int rm, int *ss_default)
{
	static const uint8_t base16[8] = {
		GPR_RBX, GPR_RBX, GPR_RBP, GPR_RBP, GPR_RSI, GPR_RDI, GPR_RBP, GPR_RBX
	};
	static const uint8_t index16[8] = {
		GPR_RSI, GPR_RDI, GPR_RSI, GPR_RDI,
		EMU_REG_NONE, EMU_REG_NONE, EMU_REG_NONE, EMU_REG_NONE
	};
	int rc;

	in->base = base16[rm];
	in->index = index16[rm];
	in->scale = 0;
	if (mod == 0 && rm == 6) {
		in->base = EMU_REG_NONE;
		if ((rc = need(c, 2)) != 0)
			return rc;
		in->disp = (int64_t)sext(take(c, 2), 2);
		return 0;
	}
	*ss_default = in->base == GPR_RBP;
	if (mod == 1) {
		if ((rc = need(c, 1)) != 0)
			return rc;
		in->disp = (int64_t)sext(take(c, 1), 1);
	} else if (mod == 2) {
		if ((rc = need(c, 2)) != 0)
			return rc;
		in->disp = (int64_t)sext(take(c, 2), 2);
	}
	return 0;
}

/* 32/64-bit ModRM and SIB addressing (SDM Vol. 2A 2.1.5 tables 2-2, 2-3; 2.2.1). */
static int
decode_mem32(struct cursor *c, struct emu_insn *in, int mod, int rm, bool mode64,
    int *ss_default)
{
	int rc, sib, base, index, disp_size = 0;
	uint8_t rex = in->rex;

	in->index = EMU_REG_NONE;
	in->scale = 0;
	if (rm == 4) {
		if ((rc = need(c, 1)) != 0)
			return rc;
		sib = c->code[c->pos++];
		in->scale = (uint8_t)(sib >> 6);
		index = ((sib >> 3) & 7) | ((rex & 0x2) << 2);
		if (index != GPR_RSP)
			in->index = (uint8_t)index;
		base = sib & 7;
		if (base == 5 && mod == 0) {
			in->base = EMU_REG_NONE;
			disp_size = 4;
		} else {
			in->base = (uint8_t)(base | ((rex & 0x1) << 3));
			/* SS for rSP/rBP bases only, not R12/R13 (SDM Vol. 1 3.7.4.1) */
			*ss_default = in->base == GPR_RSP || in->base == GPR_RBP;
		}
	} else if (rm == 5 && mod == 0) {
		/* disp32; RIP-relative in 64-bit mode (SDM Vol. 2A 2.2.1.6) */
		in->base = mode64 ? EMU_REG_RIP : EMU_REG_NONE;
		disp_size = 4;
	} else {
		in->base = (uint8_t)(rm | ((rex & 0x1) << 3));
		*ss_default = in->base == GPR_RBP;
	}
	if (mod == 1)
		disp_size = 1;
	else if (mod == 2)
		disp_size = 4;
	if (disp_size != 0) {
		if ((rc = need(c, disp_size)) != 0)
			return rc;
		in->disp = (int64_t)sext(take(c, disp_size), disp_size);
	}
	return 0;
}

/*
 * VEX prefix C4/C5 at c->pos (SDM Vol. 2A 2.3.5): fills in->vex*, in->rex
 * (W R X B, 64-bit mode only: R and X must be 1 elsewhere, which is what
 * told it from LES/LDS, and B is ignored), *map and *pp, and moves past it.
 */
static int
decode_vex(struct cursor *c, struct emu_insn *in, bool mode64, int *map, int *pp)
{
	uint8_t b0 = c->code[c->pos], p1, p2;
	int rc, r, x = 0, bb = 0, w = 0;

	if ((rc = need(c, b0 == 0xc5 ? 2 : 3)) != 0)
		return rc;
	p1 = c->code[c->pos + 1];
	if (b0 == 0xc5) {
		/* R vvvv L pp; map 0F, W = 0, X = B = 0 */
		p2 = p1;
		*map = 1;
		c->pos += 2;
	} else {
		/* R X B mmmmm, then W vvvv L pp */
		p2 = c->code[c->pos + 2];
		*map = p1 & 0x1f;
		x = !(p1 & 0x40);
		bb = !(p1 & 0x20);
		w = p2 >> 7;
		c->pos += 3;
		if (*map < 1 || *map > 3)
			return -EILSEQ;		/* reserved maps #UD */
	}
	r = !(p1 & 0x80);
	in->vex = 1;
	in->vex_vvvv = (uint8_t)((~p2 >> 3) & 0xf);
	in->vex_l = (p2 >> 2) & 1;
	in->vex_w = (uint8_t)w;
	*pp = p2 & 3;
	if (mode64)
		in->rex = (uint8_t)(0x40 | w << 3 | r << 2 | x << 1 | bb);
	return 0;
}

int
emu_decode(const uint8_t *code, int avail, enum emu_mode mode, struct emu_insn *in)
{
	struct cursor c = { code, avail, 0 };
	const struct opdesc *d;
	bool mode64 = mode == EMU_MODE_LONG64;
	bool def16 = mode == EMU_MODE_REAL || mode == EMU_MODE_PROT16 ||
	    mode == EMU_MODE_COMPAT16;
	int seg_override = -1, ss_default = 0, rc, mod = 0, regf = 0, rmf = 0;
	int immsize, vex_map_sel = 0, col = PFX_NONE;
	uint32_t fl;
	uint8_t b, opsz_pfx = 0, adsz_pfx = 0;

	memset(in, 0, offsetof(struct emu_insn, bytes));
	in->base = EMU_REG_NONE;
	in->index = EMU_REG_NONE;

	/* Legacy prefixes, any order; REX only right before the opcode (2.2.1). */
	for (;;) {
		if ((rc = need(&c, 1)) != 0)
			return rc;
		b = code[c.pos];
		switch (b) {
		case 0xf0:
			in->lock = 1;
			break;
		case 0xf2:
		case 0xf3:
			in->rep = b;
			break;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			/* In 64-bit mode ES CS SS DS overrides are ignored (3.3.7.1). */
			if (!mode64)
				seg_override = (b >> 3) & 3;
			break;
		case 0x64:
			seg_override = SEG_FS;
			break;
		case 0x65:
			seg_override = SEG_GS;
			break;
		case 0x66:
			opsz_pfx = 1;
			break;
		case 0x67:
			adsz_pfx = 1;
			break;
		case 0xc4:
		case 0xc5:
			/*
			 * VEX in 64-bit mode; elsewhere only when the next byte
			 * has bits 7:6 = 11 (a register ModRM, invalid for
			 * LES/LDS), else it is LES/LDS (SDM Vol. 2A 2.3.5.2).
			 */
			if (!mode64) {
				if ((rc = need(&c, 2)) != 0)
					return rc;
				if ((code[c.pos + 1] & 0xc0) != 0xc0)
					goto opcode;
				/* Not in real (or virtual-8086) mode (table 2-29). */
				if (mode == EMU_MODE_REAL)
					return -EILSEQ;
			}
			/* VEX after 66 F2 F3 LOCK or REX is #UD (2.3.2). */
			if (opsz_pfx || in->rep || in->lock || in->rex)
				return -EILSEQ;
			if ((rc = decode_vex(&c, in, mode64, &vex_map_sel, &col)) != 0)
				return rc;
			goto opcode;
		default:
			if (mode64 && (b & 0xf0) == 0x40) {
				in->rex = b;
				c.pos++;
				continue;
			}
			goto opcode;
		}
		/* A REX followed by a legacy prefix is ignored. */
		in->rex = 0;
		c.pos++;
	}
opcode:
	if ((rc = need(&c, 1)) != 0)
		return rc;
	b = code[c.pos++];
	if (in->vex) {
		/* The opcode byte follows VEX directly: no 0F escape. */
		in->map = (uint8_t)vex_map_sel;
		d = &vex_map[vex_map_sel][b];
	} else if (b != 0x0f) {
		in->map = 0;
		d = (mode64 && b == 0x63) ? &movsxd_desc : &one_byte[b];
		/*
		 * NOP, not XCHG eAX, eAX; and PAUSE (F3 90) whatever REX.B
		 * says: F3 41 90 is PAUSE on Intel hardware (and in XED), not
		 * XCHG r8d, eAX (SDM Vol. 2B PAUSE, Vol. 2C XCHG).
		 */
		if (b == 0x90 && (!(in->rex & 0x1) || in->rep == 0xf3))
			d = NULL;
	} else {
		if ((rc = need(&c, 1)) != 0)
			return rc;
		b = code[c.pos++];
		in->map = 1;
		if (b == 0x38 || b == 0x3a) {
			in->map = b == 0x38 ? 2 : 3;
			if ((rc = need(&c, 1)) != 0)
				return rc;
			b = code[c.pos++];
			d = in->map == 2 ? &three_byte_38[b] : &three_byte_3a[b];
		} else {
			d = &two_byte[b];
		}
	}
	if (!in->vex)
		col = in->rep == 0xf3 ? PFX_F3 : in->rep == 0xf2 ? PFX_F2 :
		    opsz_pfx ? PFX_66 : PFX_NONE;
	in->opcode = b;
	if (d == NULL) {
		static const struct opdesc nop_desc = { op_nop, 0, EMU_FORM_NONE, 0 };

		d = &nop_desc;
	}
	fl = d->flags;
	if (fl & F_PFX) {
		d = d->sub == P_SSE ? &sse_map[in->map - 1][b][col] : &pfx_table[d->sub][col];
		fl = d->flags;
	}
	if ((fl & F_INVALID) || (mode64 && (fl & F_INV64)))
		return -EILSEQ;

	if (fl & F_MODRM) {
		if ((rc = need(&c, 1)) != 0)
			return rc;
		b = code[c.pos++];
		mod = b >> 6;
		regf = (b >> 3) & 7;
		rmf = b & 7;
		in->has_modrm = 1;
		if (fl & F_GROUP) {
			const struct opdesc *g;

			g = &grp_table[d->sub + ((fl & F_GROUPMOD) && mod == 3)][regf];
			if (g->flags & F_PFX)
				g = &pfx_table[g->sub][col];
			if (g->flags & F_INVALID)
				return -EILSEQ;
			fl = (fl & ~(F_GROUP | F_GROUPMOD)) | g->flags;
			d = g;
		}
		if ((fl & F_MEMONLY) && mod == 3)
			return -EILSEQ;
		if ((fl & (F_NP | F_NOREP)) && (in->rep || ((fl & F_NP) && opsz_pfx)))
			return -EILSEQ;
		if ((fl & F_REGONLY) && mod != 3)
			return -EILSEQ;
		if (fl & F_CR)
			mod = 3;
	}
	if (d->fn == NULL)
		return -EILSEQ;		/* an empty table entry */
	if (in->vex) {
		if ((fl & F_VEXL0) && in->vex_l)
			return -EILSEQ;
		if ((fl & F_NOVVVV) && in->vex_vvvv != 0)
			return -EILSEQ;
		/* Outside 64-bit mode VEX.vvvv bit 3 is ignored (2.3.5.6). */
		if (!mode64)
			in->vex_vvvv &= 7;
	}
	in->fn = d->fn;
	in->form = d->form;
	in->sub = d->sub;
	if (fl & F_SUBREG)
		in->sub = (uint8_t)regf;
	if (fl & F_CC)
		in->sub = in->opcode & 0xf;

	/* Operand size (SDM Vol. 1 3.6, Vol. 2A 2.2.1.2 table 2-4). */
	in->opsize_prefix = opsz_pfx;
	if (in->vex || (fl & F_NO66)) {
		/*
		 * VEX general-register instructions are 32-bit, 64-bit with
		 * W in 64-bit mode (W is ignored elsewhere); 66 as a
		 * mandatory prefix does not shrink them.
		 */
		in->opsize = mode64 && (in->rex & 0x8) ? 8 : 4;
	} else if (fl & F_BYTE)
		in->opsize = 1;
	else if (fl & F_CR)
		in->opsize = mode64 ? 8 : 4;
	else if (mode64 && (fl & F_FORCE64))
		in->opsize = 8;
	else if (mode64 && (in->rex & 0x8))
		in->opsize = 8;
	else if (mode64 && (fl & F_DEF64))
		in->opsize = opsz_pfx ? 2 : 8;
	else
		in->opsize = (def16 ^ opsz_pfx) ? 2 : 4;
	if (mode64)
		in->addrsize = adsz_pfx ? 4 : 8;
	else
		in->addrsize = (def16 ^ adsz_pfx) ? 2 : 4;

	/* ModRM operands */
	if (fl & F_MODRM) {
		if (fl & F_SREG) {
			/* MOV Sreg: REX.R ignored; no Sreg 6/7; MOV CS is #UD. */
			if (regf > 5 || (in->opcode == 0x8e && regf == SEG_CS))
				return -EILSEQ;
			in->reg = (uint8_t)regf;
		} else {
			in->reg = (uint8_t)(regf | ((in->rex & 0x4) << 1));
		}
		if (mod == 3) {
			in->rm = (uint8_t)(rmf | ((in->rex & 0x1) << 3));
		} else {
			in->has_mem = 1;
			if (in->addrsize == 2)
				rc = decode_mem16(&c, in, mod, rmf, &ss_default);
			else
				rc = decode_mem32(&c, in, mod, rmf, mode64, &ss_default);
			if (rc != 0)
				return rc;
		}
	} else if (fl & F_REGOP) {
		in->rm = (uint8_t)((in->opcode & 7) | ((in->rex & 0x1) << 3));
	}

	/* Immediates */
	if (fl & (F_IMM8 | F_IMM8U)) {
		if ((rc = need(&c, 1)) != 0)
			return rc;
		in->imm = take(&c, 1);
		if (fl & F_IMM8)
			in->imm = sext(in->imm, 1) & emu_size_mask(in->opsize);
	} else if (fl & F_IMMZ) {
		immsize = in->opsize == 1 ? 1 : in->opsize == 2 ? 2 : 4;
		if ((rc = need(&c, immsize)) != 0)
			return rc;
		in->imm = sext(take(&c, immsize), immsize) & emu_size_mask(in->opsize);
	} else if (fl & F_IMMV) {
		if ((rc = need(&c, in->opsize)) != 0)
			return rc;
		in->imm = take(&c, in->opsize);
	} else if (fl & F_IMM16) {
		if ((rc = need(&c, 2)) != 0)
			return rc;
		in->imm = take(&c, 2);
	} else if (fl & F_ENTER) {
		if ((rc = need(&c, 3)) != 0)
			return rc;
		in->imm = take(&c, 2);
		in->imm2 = take(&c, 1);
	} else if (fl & F_REL8) {
		if ((rc = need(&c, 1)) != 0)
			return rc;
		in->imm = sext(take(&c, 1), 1);
	} else if (fl & F_RELZ) {
		immsize = in->opsize == 2 ? 2 : 4;
		if ((rc = need(&c, immsize)) != 0)
			return rc;
		in->imm = sext(take(&c, immsize), immsize);
	} else if (fl & F_MOFFS) {
		if ((rc = need(&c, in->addrsize)) != 0)
			return rc;
		in->disp = (int64_t)take(&c, in->addrsize);
		in->has_mem = 1;
		in->base = EMU_REG_NONE;
		in->index = EMU_REG_NONE;
	} else if (fl & F_FAR) {
		immsize = in->opsize == 2 ? 2 : 4;
		if ((rc = need(&c, immsize + 2)) != 0)
			return rc;
		in->imm = take(&c, immsize);
		in->imm2 = take(&c, 2);
	}

	/*
	 * LOCK is checked once the length is known: past 15 bytes #GP(0)
	 * comes first (SDM Vol. 3A 6.9, table 6-2: instruction length > 15
	 * bytes before invalid opcode), as on hardware.
	 */
	if (in->lock && (!(fl & F_LOCK) || !in->has_mem))
		return -EILSEQ;

	if (seg_override >= 0)
		in->seg = (uint8_t)seg_override;
	else
		in->seg = ss_default ? SEG_SS : SEG_DS;
	in->len = (uint8_t)c.pos;
	memcpy(in->bytes, code, c.pos);
	return 0;
}
