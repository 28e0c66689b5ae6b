/*
 * test_decode_vex.c - the decoder on the encodings added with the integer
 * extensions: mandatory prefixes (POPCNT/TZCNT/LZCNT, MOVBE, ADCX/ADOX,
 * RDRAND/RDSEED/RDPID), the 0F 38 / 0F 3A maps, the VEX prefix (C4/C5:
 * inverted R X B and vvvv, map select, W, L, pp; invalid prefixes before
 * it; LES/LDS outside 64-bit mode) and the legacy instructions BCD,
 * PUSHA/POPA, BOUND, ARPL, XLAT, LAR/LSL, far pointer loads.
 */
#include <errno.h>
#include <string.h>

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
#define DECC16(in, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	dec(EMU_MODE_PROT16, in, b_, (int)sizeof(b_)); })

TEST(decode_mandatory_prefix)
{
	struct emu_insn in;

	/* popcnt %rbx,%rax; 66 F3: popcnt %bx,%ax; 0F B8 alone is JMPE (#UD) */
	CHECK_EQ(DEC64(&in, 0xf3, 0x48, 0x0f, 0xb8, 0xc3), 0);
	CHECK(in.fn == op_popcnt);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.reg, GPR_RAX);
	CHECK_EQ(in.rm, GPR_RBX);
	CHECK_EQ(in.len, 5);
	CHECK_EQ(DEC64(&in, 0x66, 0xf3, 0x0f, 0xb8, 0xc3), 0);
	CHECK(in.fn == op_popcnt);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(DEC64(&in, 0x0f, 0xb8, 0xc3), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xb8, 0xc3), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0xb8, 0xc3), -EILSEQ);
	/* the last of F2/F3 counts: F2 F3 0F B8 is POPCNT */
	CHECK_EQ(DEC64(&in, 0xf2, 0xf3, 0x0f, 0xb8, 0xc3), 0);
	CHECK(in.fn == op_popcnt);
	/* tzcnt/lzcnt with F3; bsf/bsr without, and with 66 or F2 */
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xbc, 0xc3), 0);
	CHECK(in.fn == op_tzcnt);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xbd, 0x03), 0);
	CHECK(in.fn == op_lzcnt);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ(DEC64(&in, 0x0f, 0xbc, 0xc3), 0);
	CHECK(in.fn == op_bsf);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xbd, 0xc3), 0);
	CHECK(in.fn == op_bsr);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0xbc, 0xc3), 0);
	CHECK(in.fn == op_bsf);
	/* F3 as REP does not make LOCK legal */
	CHECK_EQ(DEC64(&in, 0xf0, 0xf3, 0x0f, 0xb8, 0x03), -EILSEQ);
}

TEST(decode_0f38_integer)
{
	struct emu_insn in;

	/* movbe (%rsi),%rax; movbe %bx,8(%rsi); register forms are #UD */
	CHECK_EQ(DEC64(&in, 0x48, 0x0f, 0x38, 0xf0, 0x06), 0);
	CHECK(in.fn == op_movbe);
	CHECK_EQ(in.map, 2);
	CHECK_EQ(in.opcode, 0xf0);
	CHECK_EQ(in.form, EMU_FORM_REG_RM);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.len, 5);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x38, 0xf1, 0x5e, 0x08), 0);
	CHECK(in.fn == op_movbe);
	CHECK_EQ(in.form, EMU_FORM_RM_REG);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(in.disp, 8);
	CHECK_EQ(DEC64(&in, 0x0f, 0x38, 0xf0, 0xc0), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0x38, 0xf0, 0x06), -EILSEQ);
	/* F2 0F 38 F0/F1 is CRC32 (SSE4.2): r/m8, or r/m16/32/64 by 66 and REX.W */
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0x38, 0xf1, 0xc3), 0);
	CHECK(in.fn == op_crc32);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC64(&in, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0xc3), 0);
	CHECK(in.fn == op_crc32);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(DEC64(&in, 0xf2, 0x48, 0x0f, 0x38, 0xf0, 0xc3), 0);
	CHECK(in.fn == op_crc32);
	CHECK_EQ(in.opsize, 1);
	CHECK_EQ(DEC32(&in, 0x0f, 0x38, 0xf0, 0x06), 0);
	CHECK(in.fn == op_movbe);
	CHECK_EQ(in.opsize, 4);
	/* adcx %rbx,%rax (66 does not make it 16-bit); adox %ebx,%eax */
	CHECK_EQ(DEC64(&in, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3), 0);
	CHECK(in.fn == op_adx);
	CHECK_EQ(in.sub, 0);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x38, 0xf6, 0xc3), 0);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0x38, 0xf6, 0xc3), 0);
	CHECK(in.fn == op_adx);
	CHECK_EQ(in.sub, 1);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC64(&in, 0x0f, 0x38, 0xf6, 0xc3), -EILSEQ);	/* WRSS: no CET */
	CHECK_EQ(DEC64(&in, 0xf0, 0x66, 0x0f, 0x38, 0xf6, 0x03), -EILSEQ);
	/* SSSE3 pshufb (sse.c) */
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x38, 0x00, 0xc1), 0);
	CHECK(in.fn == op_sse);
	CHECK_EQ(in.len, 5);
	/* 0F 3A always has an imm8: palignr, pcmpistri */
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08), 0);
	CHECK(in.fn == op_sse);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x08), 0);
	CHECK(in.fn == op_sse);
	CHECK_EQ(in.len, 6);
	/* AES-NI (aesenc), PCLMULQDQ: sse.c; SHA: not advertised, #UD */
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x38, 0xdc, 0xc1), 0);
	CHECK(in.fn == op_sse);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x11), 0);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(DEC64(&in, 0x0f, 0x38, 0xdc, 0xc1), -EILSEQ);	/* no 66: no instruction */
	CHECK_EQ(DEC64(&in, 0x0f, 0x38, 0xc8, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x0f, 0x38), -EAGAIN);
}

TEST(decode_group9_rdrand_rdpid)
{
	struct emu_insn in;

	/* rdrand %eax, rdrand %r9 (REX.B), rdrand %ax */
	CHECK_EQ(DEC64(&in, 0x0f, 0xc7, 0xf0), 0);
	CHECK(in.fn == op_rdrand);
	CHECK_EQ(in.sub, 6);
	CHECK_EQ(in.rm, GPR_RAX);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC64(&in, 0x49, 0x0f, 0xc7, 0xf1), 0);
	CHECK_EQ(in.rm, 9);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(DEC64(&in, 0x66, 0x0f, 0xc7, 0xf0), 0);
	CHECK(in.fn == op_rdrand);
	CHECK_EQ(in.opsize, 2);
	/* rdseed %ecx; rdpid %rax with F3; F2 / F3 rdrand are #UD */
	CHECK_EQ(DEC64(&in, 0x0f, 0xc7, 0xf9), 0);
	CHECK(in.fn == op_rdrand);
	CHECK_EQ(in.sub, 7);
	CHECK_EQ(in.rm, GPR_RCX);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xc7, 0xf8), 0);
	CHECK(in.fn == op_rdpid);
	CHECK_EQ(DEC64(&in, 0xf3, 0x0f, 0xc7, 0xf0), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf2, 0x0f, 0xc7, 0xf8), -EILSEQ);
	/* cmpxchg16b (%rsi) still; its register form and /0 are #UD */
	CHECK_EQ(DEC64(&in, 0xf0, 0x48, 0x0f, 0xc7, 0x0e), 0);
	CHECK(in.fn == op_cmpxchg8b);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.lock, 1);
	CHECK_EQ(DEC64(&in, 0x48, 0x0f, 0xc7, 0xc8), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x0f, 0xc7, 0xc0), -EILSEQ);
	/* no LOCK on RDRAND */
	CHECK_EQ(DEC64(&in, 0xf0, 0x0f, 0xc7, 0xf0), -EILSEQ);
}

TEST(decode_vex_fields)
{
	struct emu_insn in;

	/* andn %rcx,%rbx,%rax: C4 RXB=111 map 2, W=1 vvvv=~3 (rbx) L=0 pp=0 */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.vex, 1);
	CHECK_EQ(in.map, 2);
	CHECK_EQ(in.opcode, 0xf2);
	CHECK_EQ(in.vex_vvvv, GPR_RBX);
	CHECK_EQ(in.vex_w, 1);
	CHECK_EQ(in.vex_l, 0);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.reg, GPR_RAX);
	CHECK_EQ(in.rm, GPR_RCX);
	CHECK_EQ(in.len, 5);
	/* andn %r9d,%r15d,%r10d: R X B inverted, vvvv = ~15 */
	CHECK_EQ(DEC64(&in, 0xc4, 0x42, 0x00, 0xf2, 0xd1), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(in.reg, 10);
	CHECK_EQ(in.rm, 9);
	CHECK_EQ(in.vex_vvvv, 15);
	/* andn (%r8,%r11,4),%eax,%eax: VEX.X and VEX.B extend SIB */
	CHECK_EQ(DEC64(&in, 0xc4, 0x02, 0x78, 0xf2, 0x04, 0x98), 0);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ(in.base, 8);
	CHECK_EQ(in.index, 11);
	CHECK_EQ(in.scale, 2);
	/* blsr %rbx,%rax: group 17, vvvv is the destination */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb), 0);
	CHECK(in.fn == op_blsx);
	CHECK_EQ(in.sub, 1);
	CHECK_EQ(in.vex_vvvv, GPR_RAX);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf8, 0xf3, 0xc3), -EILSEQ);	/* /0 */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf8, 0xf3, 0xe3), -EILSEQ);	/* /4 */
	/* pp picks the column: bzhi (none), pext (F3), pdep (F2) */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf0, 0xf5, 0xc3), 0);
	CHECK(in.fn == op_bzhi);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf2, 0xf5, 0xc3), 0);
	CHECK(in.fn == op_pdep);
	CHECK_EQ(in.sub, 1);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf3, 0xf5, 0xc3), 0);
	CHECK(in.fn == op_pdep);
	CHECK_EQ(in.sub, 0);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf1, 0xf5, 0xc3), -EILSEQ);	/* 66: none */
	/* mulx; bextr/shlx/sarx/shrx by pp */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf3, 0xf6, 0xc3), 0);
	CHECK(in.fn == op_mulx);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3), 0);
	CHECK(in.fn == op_bextr);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf1, 0xf7, 0xc3), 0);
	CHECK(in.fn == op_shiftx);
	CHECK_EQ(in.sub, 4);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf2, 0xf7, 0xc3), 0);
	CHECK_EQ(in.sub, 7);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xf3, 0xf7, 0xc3), 0);
	CHECK_EQ(in.sub, 5);
	/* rorx $13,%rbx,%rax: map 3 with an imm8; vvvv must be 1111b */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x0d), 0);
	CHECK(in.fn == op_rorx);
	CHECK_EQ(in.map, 3);
	CHECK_EQ(in.imm, 13);
	CHECK_EQ(in.len, 6);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe3, 0xf3, 0xf0, 0xc3, 0x0d), -EILSEQ);
	/* two-byte C5: map 0F, only AVX lives there: #UD */
	CHECK_EQ(DEC64(&in, 0xc5, 0xf8, 0x77), -EILSEQ);	/* vzeroupper */
	CHECK_EQ(DEC64(&in, 0xc5, 0xf9, 0x6f, 0xc1), -EILSEQ);	/* vmovdqa */
	/* AVX in map 2 (vpshufb) is #UD */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0x79, 0x00, 0xc1), -EILSEQ);
	/* W is ignored outside 64-bit mode: 32-bit operand */
	CHECK_EQ(DEC32(&in, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(in.rex, 0);
	/* 16-bit protected mode: still 32-bit, VEX.vvvv bit 3 ignored */
	CHECK_EQ(DECC16(&in, 0xc4, 0xe2, 0x20, 0xf2, 0xc1), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(in.vex_vvvv, GPR_RBX);
}

TEST(decode_vex_invalid)
{
	struct emu_insn in;

	/* BMI with VEX.L = 1 */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xe4, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xfc, 0xf3, 0xcb), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe3, 0xff, 0xf0, 0xc3, 0x0d), -EILSEQ);
	/* reserved map selects 0 and 4..31 */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe0, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe4, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xc4, 0xff, 0xe0, 0xf2, 0xc1), -EILSEQ);
	/* VEX after 66, F2, F3, LOCK or REX */
	CHECK_EQ(DEC64(&in, 0x66, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf2, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf3, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xf0, 0xc4, 0xe2, 0xe0, 0xf2, 0x01), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x48, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x40, 0xc5, 0xf8, 0x77), -EILSEQ);
	/* segment and address-size prefixes are allowed */
	CHECK_EQ(DEC64(&in, 0x64, 0x67, 0xc4, 0xe2, 0xe0, 0xf2, 0x06), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.seg, SEG_FS);
	CHECK_EQ(in.addrsize, 4);
	CHECK_EQ(in.len, 7);
	/* truncated */
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2), -EAGAIN);
	CHECK_EQ(DEC64(&in, 0xc4, 0xe2, 0xe0), -EAGAIN);
	CHECK_EQ(DEC64(&in, 0xc5), -EAGAIN);
	CHECK_EQ(DEC32(&in, 0xc4), -EAGAIN);
	/* VEX is #UD in real mode (mod = 3 is not LES either) */
	CHECK_EQ(DEC16(&in, 0xc4, 0xe2, 0x60, 0xf2, 0xc1), -EILSEQ);
}

TEST(decode_les_lds_outside_64)
{
	struct emu_insn in;

	/* 32-bit mode, C4/C5 with ModRM.mod != 3: les/lds */
	CHECK_EQ(DEC32(&in, 0xc4, 0x06), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(in.vex, 0);
	CHECK_EQ(in.opcode, 0xc4);
	CHECK_EQ(in.has_mem, 1);
	CHECK_EQ(in.reg, GPR_RAX);
	CHECK_EQ(in.len, 2);
	CHECK_EQ(DEC32(&in, 0xc5, 0x5d, 0x08), 0);	/* lds 8(%ebp),%ebx */
	CHECK(in.fn == op_lfp);
	CHECK_EQ(in.opcode, 0xc5);
	CHECK_EQ(in.seg, SEG_SS);
	CHECK_EQ(in.reg, GPR_RBX);
	CHECK_EQ(in.len, 3);
	/* 66: 16-bit offset; with mod = 3 it is VEX */
	CHECK_EQ(DEC32(&in, 0x66, 0xc4, 0x06), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(DEC32(&in, 0xc4, 0xe2, 0x60, 0xf2, 0xc1), 0);
	CHECK(in.fn == op_andn);
	CHECK_EQ(in.vex, 1);
	/* real mode: les (%bx) */
	CHECK_EQ(DEC16(&in, 0xc4, 0x07), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(in.opsize, 2);
	/* LSS LFS LGS in every mode, memory only; REX.W: 64-bit offset */
	CHECK_EQ(DEC64(&in, 0x48, 0x0f, 0xb2, 0x26), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(in.reg, GPR_RSP);
	CHECK_EQ(DEC64(&in, 0x0f, 0xb4, 0x06), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(DEC32(&in, 0x0f, 0xb5, 0x06), 0);
	CHECK(in.fn == op_lfp);
	CHECK_EQ(DEC64(&in, 0x0f, 0xb5, 0xc0), -EILSEQ);
}

TEST(decode_legacy_integer)
{
	struct emu_insn in;

	/* BCD: valid outside 64-bit mode only; AAM/AAD take an imm8 */
	CHECK_EQ(DEC32(&in, 0x27), 0);
	CHECK(in.fn == op_daa);
	CHECK_EQ(DEC32(&in, 0x2f), 0);
	CHECK(in.fn == op_das);
	CHECK_EQ(DEC32(&in, 0x37), 0);
	CHECK(in.fn == op_aaa);
	CHECK_EQ(DEC16(&in, 0x3f), 0);
	CHECK(in.fn == op_aas);
	CHECK_EQ(DEC32(&in, 0xd4, 0x0a), 0);
	CHECK(in.fn == op_aam);
	CHECK_EQ(in.imm, 10);
	CHECK_EQ(in.len, 2);
	CHECK_EQ(DEC32(&in, 0xd5, 0x10), 0);
	CHECK(in.fn == op_aad);
	CHECK_EQ(in.imm, 0x10);
	CHECK_EQ(DEC64(&in, 0x27), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x2f), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x37), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x3f), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xd4, 0x0a), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0xd5, 0x0a), -EILSEQ);
	/* pusha/popa, 66 for the 16-bit forms */
	CHECK_EQ(DEC32(&in, 0x60), 0);
	CHECK(in.fn == op_pusha);
	CHECK_EQ(in.opsize, 4);
	CHECK_EQ(DEC32(&in, 0x66, 0x61), 0);
	CHECK(in.fn == op_popa);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(DEC64(&in, 0x60), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x61), -EILSEQ);
	/* bound (%eax),%ecx; register form #UD (EVEX in 64-bit mode) */
	CHECK_EQ(DEC32(&in, 0x62, 0x08), 0);
	CHECK(in.fn == op_bound);
	CHECK_EQ(in.reg, GPR_RCX);
	CHECK_EQ(DEC32(&in, 0x62, 0xc8), -EILSEQ);
	CHECK_EQ(DEC64(&in, 0x62, 0x08), -EILSEQ);
	/* arpl %bx,(%eax) outside 64-bit mode, movsxd in it */
	CHECK_EQ(DEC32(&in, 0x63, 0x18), 0);
	CHECK(in.fn == op_arpl);
	CHECK_EQ(in.form, EMU_FORM_RM_REG);
	CHECK_EQ(DEC64(&in, 0x48, 0x63, 0xc3), 0);
	CHECK(in.fn == op_movsxd);
	/* xlat; with a segment override and 67 */
	CHECK_EQ(DEC64(&in, 0xd7), 0);
	CHECK(in.fn == op_xlat);
	CHECK_EQ(in.seg, SEG_DS);
	CHECK_EQ(in.addrsize, 8);
	CHECK_EQ(DEC32(&in, 0x26, 0x67, 0xd7), 0);
	CHECK(in.fn == op_xlat);
	CHECK_EQ(in.seg, SEG_ES);
	CHECK_EQ(in.addrsize, 2);
	/* lar/lsl r, r/m16 */
	CHECK_EQ(DEC64(&in, 0x48, 0x0f, 0x02, 0xc3), 0);
	CHECK(in.fn == op_larlsl);
	CHECK_EQ(in.opcode, 0x02);
	CHECK_EQ(in.opsize, 8);
	CHECK_EQ(DEC32(&in, 0x66, 0x0f, 0x03, 0x03), 0);
	CHECK(in.fn == op_larlsl);
	CHECK_EQ(in.opcode, 0x03);
	CHECK_EQ(in.opsize, 2);
	CHECK_EQ(in.has_mem, 1);
}
