/*
 * test_decode.c - the x86 decoder from byte strings: lengths, operand and
 * address sizes, prefixes, REX, ModRM/SIB/displacement forms, RIP-relative
 * and 16-bit addressing, immediates, groups, invalid encodings, the 15-byte
 * limit; and the lengths of thousands of generated instructions compared
 * with Capstone's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "cpu.h"
#include "machine.h"
#include "test.h"

static int
dec(enum emu_mode mode, struct emu_insn *in, const uint8_t *b, int n)
{
	return emu_decode(b, n, mode, in);
}

#define DEC64(in, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	dec(EMU_MODE_LONG64, in, b_, (int)sizeof(b_)); })
#define DEC32(in, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	dec(EMU_MODE_PROT32, in, b_, (int)sizeof(b_)); })
#define DEC16(in, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	dec(EMU_MODE_REAL, in, b_, (int)sizeof(b_)); })

TEST(decode_register_forms)
{
	struct emu_insn in;

	/* mov %rbx,%rax */
	CHECK_EQ(DEC64(&in, 0x48, 0x89, 0xd8), 0);
	CHECK_EQ(in.len, 3);
	CHECK(in.fn == op_mov);
	CHECK_EQ(in.form, EMU_FORM_RM_REG);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.reg, GPR_RBX);
	CHECK_EQ(in.rm, GPR_RAX);
	CHECK_EQ(in.has_mem, 0);
	/* mov %r9d,%r12d: REX.R and REX.B */
	CHECK_EQ(DEC64(&in, 0x45, 0x89, 0xcc), 0);
	CHECK_EQ(in.reg, 9);
	CHECK_EQ(in.rm, 12);
	CHECK_EQ(in.opsize, 4);
	/* push %r8: register in the opcode, 64-bit default */
	CHECK_EQ(DEC64(&in, 0x41, 0x50), 0);
	CHECK(in.fn == op_push);
	CHECK_EQ(in.rm, 8);
	CHECK_EQ(in.opsize, 8);
	/* push %ax */
	CHECK_EQ(DEC64(&in, 0x66, 0x50), 0);
	CHECK_EQ(in.opsize, 2);
	/* a REX followed by a legacy prefix is ignored: 48 66 89 d8 is mov %bx,%ax */
	CHECK_EQ(DEC64(&in, 0x48, 0x66, 0x89, 0xd8), 0);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(in.rex, 0);
	/* 90 is NOP, 41 90 is xchg %eax,%r8d */
	CHECK_EQ(DEC64(&in, 0x90), 0);
	CHECK(in.fn == op_nop);
	CHECK_EQ(DEC64(&in, 0x41, 0x90), 0);
	CHECK(in.fn == op_xchg);
	CHECK_EQ(in.rm, 8);
	/* F3 41 90 is PAUSE, not xchg %eax,%r8d (what Intel hardware does) */
	CHECK_EQ(DEC64(&in, 0xf3, 0x41, 0x90), 0);
	CHECK(in.fn == op_nop);
	CHECK_EQ(DEC64(&in, 0xf2, 0x41, 0x90), 0);
	CHECK(in.fn == op_xchg);
}

TEST(decode_memory_forms)
{
	struct emu_insn in;

	/* mov 0x10(%rip),%eax */
	CHECK_EQ(DEC64(&in, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00), 0);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ(in.base, EMU_REG_RIP);
	CHECK_EQ(in.index, EMU_REG_NONE);
	CHECK_EQ(in.disp, 0x10);
	CHECK_EQ(in.seg, SEG_DS);
	/* 32-bit mode: the same bytes are an absolute disp32 */
	CHECK_EQ(DEC32(&in, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00), 0);
	CHECK_EQ(in.base, EMU_REG_NONE);
	/* mov 8(%rsp),%eax: SIB, SS by default */
	CHECK_EQ(DEC64(&in, 0x8b, 0x44, 0x24, 0x08), 0);
	CHECK_EQ(in.len, 4);
	CHECK_EQ(in.base, GPR_RSP);
	CHECK_EQ(in.index, EMU_REG_NONE);
	CHECK_EQ(in.disp, 8);
	CHECK_EQ(in.seg, SEG_SS);
	/* mov 0x1000(,%r9,4),%eax: no base, REX.X index */
	CHECK_EQ(DEC64(&in, 0x42, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00), 0);
	CHECK_EQ(in.len, 8);
	CHECK_EQ(in.base, EMU_REG_NONE);
	CHECK_EQ(in.index, 9);
	CHECK_EQ(in.scale, 2);
	CHECK_EQ(in.disp, 0x1000);
	/* mov -0x80(%r13),%eax: r13 needs a displacement, default DS */
	CHECK_EQ(DEC64(&in, 0x41, 0x8b, 0x45, 0x80), 0);
	CHECK_EQ(in.base, 13);
	CHECK_EQ((int64_t)in.disp, -0x80);
	CHECK_EQ(in.seg, SEG_DS);
	/* %fs override; the %cs override is ignored in 64-bit mode */
	CHECK_EQ(DEC64(&in, 0x64, 0x8b, 0x00), 0);
	CHECK_EQ(in.seg, SEG_FS);
	CHECK_EQ(DEC64(&in, 0x2e, 0x8b, 0x00), 0);
	CHECK_EQ(in.seg, SEG_DS);
	CHECK_EQ(DEC32(&in, 0x2e, 0x8b, 0x00), 0);
	CHECK_EQ(in.seg, SEG_CS);
	/* 67: 32-bit addressing in 64-bit mode */
	CHECK_EQ(DEC64(&in, 0x67, 0x8b, 0x00), 0);
	CHECK_EQ(in.addrsize, 4);
}

TEST(decode_16bit_addressing)
{
	struct emu_insn in;

	/* mov 2(%bp),%ax */
	CHECK_EQ(DEC16(&in, 0x8b, 0x46, 0x02), 0);
	CHECK_EQ(in.len, 3);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(in.addrsize, 2);
	CHECK_EQ(in.base, GPR_RBP);
	CHECK_EQ(in.seg, SEG_SS);
	/* mov (%bx,%si),%ax */
	CHECK_EQ(DEC16(&in, 0x8b, 0x00), 0);
	CHECK_EQ(in.base, GPR_RBX);
	CHECK_EQ(in.index, GPR_RSI);
	CHECK_EQ(in.seg, SEG_DS);
	/* mov 0x1234,%ax (mod 0, rm 6: disp16) */
	CHECK_EQ(DEC16(&in, 0x8b, 0x06, 0x34, 0x12), 0);
	CHECK_EQ(in.len, 4);
	CHECK_EQ(in.base, EMU_REG_NONE);
	CHECK_EQ(in.disp, 0x1234);
	/* 66 67: 32-bit operand and address in real mode */
	CHECK_EQ(DEC16(&in, 0x66, 0x67, 0x8b, 0x04, 0x24), 0);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(in.addrsize, 4);
	CHECK_EQ(in.base, GPR_RSP);
}

TEST(decode_immediates)
{
	struct emu_insn in;

	/* add $-1,%eax: imm8 sign-extended to the operand size */
	CHECK_EQ(DEC64(&in, 0x83, 0xc0, 0xff), 0);
	CHECK(in.fn == op_alu);
	CHECK_EQ(in.sub, 0);
	CHECK_EQ(in.imm, 0xffffffffULL);
	CHECK_EQ(DEC64(&in, 0x48, 0x83, 0xc0, 0xff), 0);
	CHECK_EQ(in.imm, ~0ULL);
	/* cmp $0x80000000,%rax: imm32 sign-extended to 64 */
	CHECK_EQ(DEC64(&in, 0x48, 0x3d, 0x00, 0x00, 0x00, 0x80), 0);
	CHECK_EQ(in.sub, 7);
	CHECK_EQ(in.form, EMU_FORM_ACC_IMM);
	CHECK_EQ(in.imm, 0xffffffff80000000ULL);
	/* movabs $imm64,%rax */
	CHECK_EQ(DEC64(&in, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8), 0);
	CHECK_EQ(in.len, 10);
	CHECK_EQ(in.imm, 0x0807060504030201ULL);
	/* mov $imm32,%eax */
	CHECK_EQ(DEC64(&in, 0xb8, 1, 2, 3, 4), 0);
	CHECK_EQ(in.len, 5);
	/* testb $0x80,(%rax): F6 /0 has an immediate, F6 /2 (not) has none */
	CHECK_EQ(DEC64(&in, 0xf6, 0x00, 0x80), 0);
	CHECK(in.fn == op_test);
	CHECK_EQ(in.len, 3);
	CHECK_EQ(in.imm, 0x80);
	CHECK_EQ(DEC64(&in, 0xf6, 0x10), 0);
	CHECK(in.fn == op_not);
	CHECK_EQ(in.len, 2);
	/* in $0x60,%al, int $0x80: zero-extended */
	CHECK_EQ(DEC64(&in, 0xe4, 0x80), 0);
	CHECK_EQ(in.imm, 0x80);
	CHECK_EQ(DEC64(&in, 0xcd, 0x80), 0);
	CHECK_EQ(in.imm, 0x80);
	/* enter $0x10,$2 */
	CHECK_EQ(DEC64(&in, 0xc8, 0x10, 0x00, 0x02), 0);
	CHECK_EQ(in.imm, 0x10);
	CHECK_EQ(in.imm2, 2);
	/* moffs: 8 bytes in 64-bit mode, 4 with 67, 4 in 32-bit mode */
	CHECK_EQ(DEC64(&in, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8), 0);
	CHECK_EQ(in.len, 9);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ((uint64_t)in.disp, 0x0807060504030201ULL);
	CHECK_EQ(DEC64(&in, 0x67, 0xa1, 1, 2, 3, 4), 0);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(DEC32(&in, 0xa3, 1, 2, 3, 4), 0);
	CHECK_EQ(in.len, 5);
	CHECK_EQ(in.form, EMU_FORM_RM_REG);
	/* ljmp $0x10,$0x12345678 in 32-bit mode */
	CHECK_EQ(DEC32(&in, 0xea, 0x78, 0x56, 0x34, 0x12, 0x10, 0x00), 0);
	CHECK_EQ(in.imm, 0x12345678);
	CHECK_EQ(in.imm2, 0x10);
}

TEST(decode_branches)
{
	struct emu_insn in;

	/* jne rel32 */
	CHECK_EQ(DEC64(&in, 0x0f, 0x85, 0xfc, 0xff, 0xff, 0xff), 0);
	CHECK(in.fn == op_jcc);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(in.sub, 5);
	CHECK_EQ((int64_t)in.imm, -4);
	CHECK_EQ(in.opsize, 8);
	/* jmp rel8 */
	CHECK_EQ(DEC64(&in, 0xeb, 0xfe), 0);
	CHECK_EQ((int64_t)in.imm, -2);
	/* 66 e8 in 64-bit mode: Intel keeps a 32-bit displacement */
	CHECK_EQ(DEC64(&in, 0x66, 0xe8, 0, 0, 0, 0), 0);
	CHECK_EQ(in.len, 6);
	/* call *%rax is FF /2 with a 64-bit operand */
	CHECK_EQ(DEC64(&in, 0xff, 0xd0), 0);
	CHECK(in.fn == op_call);
	CHECK_EQ(in.opsize, 8);
	/* 16-bit call rel16 in real mode */
	CHECK_EQ(DEC16(&in, 0xe8, 0x00, 0x01), 0);
	CHECK_EQ(in.len, 3);
}

TEST(decode_system)
{
	struct emu_insn in;

	/* mov %rax,%cr3 */
	CHECK_EQ(DEC64(&in, 0x0f, 0x22, 0xd8), 0);
	CHECK(in.fn == op_movcr);
	CHECK_EQ(in.reg, 3);
	CHECK_EQ(in.rm, 0);
	CHECK_EQ(in.opsize, 8);
	/* mov %cr8,%rax; MOV CR ignores mod */
	CHECK_EQ(DEC64(&in, 0x44, 0x0f, 0x20, 0xc0), 0);
	CHECK_EQ(in.reg, 8);
	CHECK_EQ(DEC32(&in, 0x0f, 0x20, 0x00), 0);
	CHECK_EQ(in.has_mem, 0);
	CHECK_EQ(in.len, 3);
	/* swapgs */
	CHECK_EQ(DEC64(&in, 0x0f, 0x01, 0xf8), 0);
	CHECK(in.fn == op_grp7);
	CHECK_EQ(in.sub, 7);
	CHECK_EQ(in.has_mem, 0);
	/* lgdt (%rax) */
	CHECK_EQ(DEC64(&in, 0x0f, 0x01, 0x10), 0);
	CHECK_EQ(in.sub, 2);
	CHECK_EQ(in.has_mem, 1);
	/* mov %ds,%eax */
	CHECK_EQ(DEC64(&in, 0x8c, 0xd8), 0);
	CHECK(in.fn == op_movseg);
	CHECK_EQ(in.sub, SEG_DS);
	/* x87: one handler, ModRM.reg in sub (fld qword [rsp+8]) */
	CHECK_EQ(DEC64(&in, 0xdd, 0x44, 0x24, 0x08), 0);
	CHECK(in.fn == op_x87);
	CHECK_EQ(in.sub, 0);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ(in.len, 4);
	/* fxsave64 [rax]; 66 fxsave is #UD (measured) */
	CHECK_EQ(DEC64(&in, 0x48, 0x0f, 0xae, 0x00), 0);
	CHECK(in.fn == op_fxsave);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xae, 0x08), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x0f, 0x0b), 0);
	CHECK(in.fn == op_ud);
}

TEST(decode_invalid)
{
	struct emu_insn in;
	uint8_t b[16];

	/* not in 64-bit mode */
	CHECK_EQ(DEC64(&in, 0x06), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x27), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xea, 0, 0, 0, 0, 0, 0), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0x79, 0x00), -EILSEQ);	/* VEX: no AVX */
	CHECK_EQ(DEC32(&in, 0x06), 0);
	/* group holes */
	CHECK_EQ(DEC64(&in, 0xff, 0x38), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xfe, 0x10), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x8f, 0x08), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x0f, 0xc7, 0xc8), -EILSEQ);		/* 0F C7 /1 needs memory */
	CHECK_EQ(DEC64(&in, 0x0f, 0xc7, 0x30), -EILSEQ);		/* vmptrld: no VMX */
	/* LEA and far jumps need memory */
	CHECK_EQ(DEC64(&in, 0x8d, 0xc0), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xff, 0xe8), -EILSEQ);
	/* mov to %cs, mov from a 7th segment register */
	CHECK_EQ(DEC64(&in, 0x8e, 0xc8), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x8c, 0xf0), -EILSEQ);
	/* LOCK: only read-modify-write instructions with a memory destination */
	CHECK_EQ(DEC64(&in, 0xf0, 0x01, 0x08), 0);
	CHECK_EQ(in.lock, 1);
	CHECK_EQ(DEC64(&in, 0xf0, 0x01, 0xc8), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf0, 0x8b, 0x00), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf0, 0x39, 0x08), -EILSEQ);	/* cmp */
	CHECK_EQ(DEC64(&in, 0xf0, 0x0f, 0xba, 0x28, 0x01), 0);	/* bts */
	CHECK_EQ(DEC64(&in, 0xf0, 0x0f, 0x20, 0xc0), -EILSEQ);	/* no AMD CR8 alias */
	/* the 15-byte limit: 14 prefixes + NOP fits, 15 do not */
	memset(b, 0x66, sizeof(b));
	b[14] = 0x90;
	CHECK_EQ(dec(EMU_MODE_LONG64, &in, b, 15), 0);
	CHECK_EQ(in.len, 15);
	b[14] = 0x66;
	b[15] = 0x90;
	CHECK_EQ(dec(EMU_MODE_LONG64, &in, b, 16), -E2BIG);
	/* past 15 bytes #GP wins over a bad LOCK's #UD: lock imul with 16 and 15 bytes */
	CHECK_EQ(DEC64(&in, 0xf0, 0xf0, 0x3e, 0x2e, 0x45, 0x69, 0xac, 0xb9,
	    0x86, 0x6d, 0xdc, 0xb4, 0x1c, 0x15, 0x2e, 0x00), -E2BIG);
	CHECK_EQ(DEC64(&in, 0xf0, 0x3e, 0x2e, 0x45, 0x69, 0xac, 0xb9,
	    0x86, 0x6d, 0xdc, 0xb4, 0x1c, 0x15, 0x2e, 0x00), -EILSEQ);
	/* fences take no 66/F2/F3: f2 0f ae f0 is UMWAIT, 66 0f ae e8 reserved */
	CHECK_EQ(DEC64(&in, 0x0f, 0xae, 0xf0), 0);
	CHECK(in.fn == op_nop);
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0xae, 0xf0), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xae, 0xe8), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xae, 0xf8), -EILSEQ);
	/* clflush (%rax); with 66 it is CLFLUSHOPT, with F2/F3 #UD */
	CHECK_EQ(DEC64(&in, 0x0f, 0xae, 0x38), 0);
	CHECK(in.fn == op_nop);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xae, 0x38), 0);
	CHECK(in.fn == op_nop);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xae, 0x38), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0xae, 0x38), -EILSEQ);
	/* 0F 0D with a register is a NOP, as on hardware */
	CHECK_EQ(DEC64(&in, 0x0f, 0x0d, 0xc0), 0);
	CHECK(in.fn == op_nop);
	/* more bytes needed */
	CHECK_EQ(DEC64(&in, 0x48), -EAGAIN);
	CHECK_EQ(DEC64(&in, 0x48, 0xb8, 1, 2, 3), -EAGAIN);
}

/*
 * Lengths against Capstone on generated instructions: random prefixes, REX,
 * a one-byte or 0F opcode, then random ModRM/SIB/displacement/immediate
 * bytes.  Only instructions our decoder maps to a real handler are compared.
 */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static bool
oracle_skips(const struct emu_insn *in, enum emu_mode mode)
{
	/*
	 * Capstone follows AMD for 66-prefixed near branches in 64-bit mode
	 * (rel16); we follow Intel (SDM Vol. 2A JMP/CALL/Jcc: 64-bit operand
	 * size, 66 ignored).
	 */
	if (mode == EMU_MODE_LONG64 && in->opsize_prefix &&
	    (in->fn == op_jmp || in->fn == op_jcc || in->fn == op_call ||
	    in->fn == op_ret || in->fn == op_loop))
		return true;
	/*
	 * UD0/UD1 take a ModRM byte (SDM Vol. 2B UD); Capstone 4 decodes them
	 * as two bytes.  Their length never matters: they raise #UD.
	 */
	if (in->fn == op_ud)
		return true;
	/*
	 * Capstone 4 reads two extra bytes for 67 REX.W C2 (RET imm16); the
	 * immediate is 16 bits whatever the prefixes (SDM Vol. 2B RET).
	 */
	if (in->fn == op_ret && in->opcode == 0xc2 && (in->rex & 0x8) && in->addrsize == 4)
		return true;
	return false;
}

static int
oracle_run(enum emu_mode mode, cs_mode csmode, int trials, int *compared)
{
	static const uint8_t pfx[] = { 0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x3e, 0x64, 0x65, 0x26 };
	csh h;
	cs_insn *ci;
	struct emu_insn in;
	uint8_t b[15];
	int t, n, i, np, mismatches = 0;
	size_t cnt;

	if (cs_open(CS_ARCH_X86, csmode, &h) != CS_ERR_OK)
		return -1;
	for (t = 0; t < trials; t++) {
		for (i = 0; i < 15; i++)
			b[i] = (uint8_t)rng();
		n = 0;
		np = (int)(rng() % 3);
		for (i = 0; i < np; i++)
			b[n++] = pfx[rng() % sizeof(pfx)];
		if (mode == EMU_MODE_LONG64 && (rng() & 1))
			b[n++] = (uint8_t)(0x40 | (rng() & 0xf));
		if (rng() % 3 == 0)
			b[n++] = 0x0f;
		b[n] = (uint8_t)rng();
		if (emu_decode(b, 15, mode, &in) != 0 || in.fn == op_unimpl ||
		    oracle_skips(&in, mode))
			continue;
		cnt = cs_disasm(h, b, 15, 0x1000, 1, &ci);
		if (cnt == 0)
			continue;	/* Capstone rejects: invalid there, #UD-vs-decode disagreements are not lengths */
		(*compared)++;
		if (ci[0].size != in.len) {
			if (mismatches < 20) {
				fprintf(stderr, "mode %d len %d capstone %d (%s %s):", mode,
				    in.len, (int)ci[0].size, ci[0].mnemonic, ci[0].op_str);
				for (i = 0; i < 15; i++)
					fprintf(stderr, " %02x", b[i]);
				fprintf(stderr, "\n");
			}
			mismatches++;
		}
		cs_free(ci, cnt);
	}
	cs_close(&h);
	return mismatches;
}

TEST(decode_lengths_vs_capstone)
{
	int compared = 0;

	CHECK_EQ(oracle_run(EMU_MODE_LONG64, CS_MODE_64, 20000, &compared), 0);
	CHECK_EQ(oracle_run(EMU_MODE_PROT32, CS_MODE_32, 10000, &compared), 0);
	CHECK_EQ(oracle_run(EMU_MODE_REAL, CS_MODE_16, 5000, &compared), 0);
	CHECK(compared > 10000);
	fprintf(stderr, "decode_lengths_vs_capstone: %d instructions compared\n", compared);
}
