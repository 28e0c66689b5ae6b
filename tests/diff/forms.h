/*
 * forms.h - the instruction forms of the differential test (tests/diff) and
 * the generator that turns one form into a random test case: real
 * instruction bytes (prefixes, REX, ModRM/SIB/disp/imm) with the registers,
 * flags and memory they run on.
 *
 * A case runs in 64-bit mode at fixed low addresses: the code slot ends at
 * DIFF_SLOT_END (RIP-relative operands are computed from it) and memory
 * operands land in the data window [DIFF_DATA, DIFF_DATA + DIFF_DATA_SIZE),
 * which is below 2 GiB so that absolute disp32 and 32-bit (67) addressing
 * reach it too.  The native run maps both at these addresses; the emulator
 * sees the data window as guest RAM at the same guest-physical address.
 */
#ifndef LHYVE_DIFF_FORMS_H
#define LHYVE_DIFF_FORMS_H

#include <stdint.h>

#define DIFF_CODE	0x41000000ULL
#define DIFF_CODE_SIZE	4096ULL
#define DIFF_SLOT_END	(DIFF_CODE + 0x800)	/* the instruction ends here */
#define DIFF_DATA	0x41100000ULL
#define DIFF_DATA_SIZE	16384ULL

/* Operand sizes a form exists in (bit = size in bytes). */
#define S_B	0x01
#define S_W	0x02
#define S_D	0x04
#define S_Q	0x08
#define S_V	(S_W | S_D | S_Q)
#define S_DQ	(S_D | S_Q)

/* Layout of the encoding. */
enum diff_enc {
	E_NONE,		/* opcode only (plus immediate) */
	E_MODRM,	/* ModRM: reg = register operand, r/m = register or memory */
	E_GROUP,	/* ModRM: reg = form->ext, r/m = register or memory */
	E_OPREG,	/* register in the opcode's low 3 bits (+REX.B) */
	E_MOFFS,	/* A0-A3: absolute address of address size */
};

/* Immediate. */
enum diff_imm { I_NONE, I_B, I_Z, I_V, I_W, I_ENTER /* imm16, imm8 */ };

/* Options. */
#define O_LOCK		0x0001	/* LOCK allowed with a memory operand */
#define O_MEM		0x0002	/* r/m must be memory */
#define O_REG		0x0004	/* r/m must be a register */
#define O_RMB		0x0008	/* r/m operand is a byte (MOVZX/MOVSX Gv, Eb) */
#define O_RMW		0x0010	/* r/m operand is a word */
#define O_RMD		0x0020	/* r/m operand is a dword (MOVSXD) */
#define O_REP		0x0040	/* F3 allowed (string) */
#define O_REPNE		0x0080	/* F2 allowed (CMPS, SCAS) */
#define O_ALIGN		0x0100	/* memory operand always aligned (implicit lock: XCHG) */
#define O_AHBH		0x0200	/* uses AH (LAHF/SAHF): no REX */
#define O_DEF64		0x0400	/* 64-bit by default (PUSH/POP): 66 gives 16 */
/* Mandatory prefix (SDM Vol. 2A 2.1.2): emitted last, before REX; with O_VEX it is VEX.pp. */
#define O_P66		0x0800
#define O_PF3		0x1000
#define O_PF2		0x2000
/* VEX (C4/C5, SDM Vol. 2A 2.3.5): map in VEX.mmmmm, REX bits and W inverted into it. */
#define O_VEX		0x4000
#define O_VVVV		0x8000	/* VEX.vvvv names a register operand (else 1111b) */
/* The host CPUID feature a form needs (enum diff_feat): the test skips it without. */
#define O_NEED(feat)	((uint32_t)(feat) << 24)
#define O_FEAT(opt)	((int)((opt) >> 24))

enum diff_feat {
	HF_NONE, HF_POPCNT, HF_LZCNT, HF_BMI1, HF_BMI2, HF_ADX, HF_MOVBE, HF_COUNT
};

/* Operand constraints and flag rules that depend on the operands. */
enum diff_kind {
	K_PLAIN,
	K_SHIFT,	/* count in imm, CL or 1: flags by masked count */
	K_SHXD,		/* SHLD/SHRD: count in imm or CL */
	K_DIV,		/* DIV: RDX:RAX (AX) dividend, mostly a fitting quotient */
	K_IDIV,
	K_BT,		/* BT* Ev, Gv: bit offset register, bit-string addressing */
	K_CMPXCHG,	/* accumulator often equal to the destination */
	K_CMPXCHG8B,	/* EDX:EAX often equal to m64 / m128 */
	K_STRING,	/* RSI RDI (RCX with REP) point into the data window */
	K_PUSH,		/* RSP in the data window */
	K_POP,		/* RSP in the data window; r/m address uses RSP after the pop */
	K_LEA,		/* no memory access: any register values */
	K_BSF,		/* destination undefined when the source is 0 */
	K_POPF,		/* RSP in the data window, a flags image on the stack */
	K_LEAVE,	/* RBP in the data window */
	K_ENTER,	/* RSP and RBP in the data window */
	K_XLAT,		/* rBX + AL in the data window */
	K_VCTL,		/* the VEX.vvvv register is a count, index or start/length: edges */
};

struct diff_form {
	const char	*name;
	uint8_t		map;		/* 0 one-byte, 1 0F, 2 0F 38, 3 0F 3A */
	uint8_t		op;		/* opcode byte (E_OPREG: +0) */
	int8_t		ext;		/* E_GROUP: ModRM.reg */
	uint8_t		enc;		/* enum diff_enc */
	uint8_t		sizes;		/* S_* */
	uint8_t		imm;		/* enum diff_imm */
	uint8_t		kind;		/* enum diff_kind */
	uint32_t	opt;		/* O_*, O_NEED() */
	uint64_t	undef;		/* RFLAGS bits the SDM leaves undefined (always) */
	uint8_t		family;		/* enum diff_family: which TEST() runs it */
};

enum diff_family {
	D_ALU, D_SHIFT, D_MULDIV, D_BIT, D_MOVE, D_CC, D_STACK, D_STRING, D_BMI, D_FAMILIES
};

extern const struct diff_form diff_forms[];
extern const int diff_nforms;

/* One generated case: bytes and the machine state they run on. */
struct diff_case {
	uint8_t		bytes[15];
	int		len;
	int		size;		/* operand size */
	uint64_t	gpr[16];
	uint64_t	rflags;
	uint64_t	undef;		/* flags not compared for this case */
	uint32_t	skip_reg;	/* registers not compared (bit per GPR): undefined results */
	uint32_t	lo32_reg;	/* registers compared in their low 32 bits only */
	/* Bytes of the data window to set before running (edge-biased operands). */
	struct { uint32_t off; uint8_t len; uint8_t v[16]; } poke[4];
	int		npoke;
	int		has_mem;
	int		fill;		/* data window first: 0 as left, 1 mostly zero, 2 random */
	int		skip;		/* architecturally undefined case: do not compare */
};

/* Deterministic PRNG (xorshift64*): every run generates the same cases. */
void	diff_seed(uint64_t seed);
uint64_t diff_rng(void);
/* A 64-bit value whose low @size bytes are often an edge value. */
uint64_t diff_gen(int size);

/* Generate a case of @f at operand size @size. */
void	diff_generate(const struct diff_form *f, int size, struct diff_case *c);

#endif /* LHYVE_DIFF_FORMS_H */
