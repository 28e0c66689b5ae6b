/*
 * test_isa.c - fixed vectors for the integer instructions added to the
 * software CPU: BCD (DAA DAS AAA AAS AAM AAD), PUSHA/POPA, BOUND, the far
 * pointer loads, XLAT, ARPL, LAR/LSL/VERR/VERW, POPCNT/LZCNT/TZCNT, MOVBE,
 * BMI1, BMI2, ADX, CMPXCHG16B, RDRAND/RDSEED/RDPID, and the CPUID bits
 * that advertise them.  Each instruction is given as bytes, decoded and
 * run on a fixture CPU (isa_fixture.h) in the mode it needs.
 */
#include <stdint.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"
#include "vmm_cpuid.h"

#define RAX	GPR_RAX
#define RCX	GPR_RCX
#define RDX	GPR_RDX
#define RBX	GPR_RBX
#define RSP	GPR_RSP

static uint64_t
fl(struct fx *f)
{
	return emu_rflags(f->cpu) & RFL_ARITH;
}

/* Run a one-byte BCD opcode (or D4/D5 ib) on AX and input flags. */
static uint64_t
bcd(struct fx *f, uint8_t op, uint8_t imm, uint64_t ax, uint64_t fin, int *rc)
{
	uint8_t b[2] = { op, imm };

	f->cpu->st.gpr[RAX] = 0xdeadbeef00000000ULL | ax;
	emu_set_rflags(f->cpu, fin | 0x2);
	*rc = fx_run(f, b, op == 0xd4 || op == 0xd5 ? 2 : 1);
	return f->cpu->st.gpr[RAX];
}

TEST(isa_bcd)
{
	struct fx f;
	int rc;

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	/* DAA after 0x79 + 0x35 = 0xae: 0x14, CF AF (SDM Vol. 2A DAA example) */
	CHECK_EQ(bcd(&f, 0x27, 0, 0xae, 0, &rc), 0xdeadbeef00000014ULL);
	CHECK_EQ(rc, EMU_OK);
	CHECK_EQ(fl(&f), RFL_CF | RFL_AF | RFL_PF);
	/* DAA with nothing to adjust clears CF AF */
	CHECK_EQ(bcd(&f, 0x27, 0, 0x45, RFL_CF * 0, &rc) & 0xff, 0x45);
	CHECK_EQ(fl(&f), 0);
	/* DAA: CF in forces +0x60; 0x00 with AF and CF: 0x66 */
	CHECK_EQ(bcd(&f, 0x27, 0, 0x00, RFL_AF | RFL_CF, &rc) & 0xff, 0x66);
	CHECK_EQ(fl(&f), RFL_CF | RFL_AF | RFL_PF);
	/* DAS after 0x35 - 0x47 = 0xee (CF AF): 0x88, CF AF, SF; OF cleared */
	CHECK_EQ(bcd(&f, 0x2f, 0, 0xee, RFL_CF | RFL_AF | RFL_OF, &rc) & 0xff, 0x88);
	CHECK_EQ(fl(&f), RFL_CF | RFL_AF | RFL_SF | RFL_PF);
	/* DAS: the borrow of the low step alone sets CF (AL 0x05, AF) */
	CHECK_EQ(bcd(&f, 0x2f, 0, 0x05, RFL_AF, &rc) & 0xff, 0xff);
	CHECK_EQ(fl(&f) & (RFL_CF | RFL_AF), RFL_CF | RFL_AF);
	/* AAA after 9 + 8 = 0x11 (AF): AX 0x0107, CF AF */
	CHECK_EQ(bcd(&f, 0x37, 0, 0x0011, RFL_AF, &rc) & 0xffff, 0x0107);
	CHECK_EQ(fl(&f) & (RFL_CF | RFL_AF), RFL_CF | RFL_AF);
	/* AAA: AX += 0x106 carries AL into AH (0x00ff -> 0x0205) */
	CHECK_EQ(bcd(&f, 0x37, 0, 0x00ff, 0, &rc) & 0xffff, 0x0205);
	/* AAA with nothing to adjust only masks AL; ZF from the masked AL */
	CHECK_EQ(bcd(&f, 0x37, 0, 0x0530, RFL_CF, &rc) & 0xffff, 0x0500);
	CHECK_EQ(fl(&f), RFL_ZF | RFL_PF);
	/* AAS after 2 - 5 = 0xfd (AF), AH 1: AX 0x0007, CF AF */
	CHECK_EQ(bcd(&f, 0x3f, 0, 0x01fd, RFL_AF, &rc) & 0xffff, 0x0007);
	CHECK_EQ(fl(&f) & (RFL_CF | RFL_AF), RFL_CF | RFL_AF);
	/* AAS: AX -= 6 borrows from AH, then AH -= 1 (0x0500 -> 0x030a) */
	CHECK_EQ(bcd(&f, 0x3f, 0, 0x0500, RFL_AF, &rc) & 0xffff, 0x030a);
	/* AAM: 63 -> AH 6 AL 3; base 16; upper RAX kept */
	CHECK_EQ(bcd(&f, 0xd4, 10, 0x003f, RFL_ARITH, &rc), 0xdeadbeef00000603ULL);
	CHECK_EQ(fl(&f), RFL_PF);
	CHECK_EQ(bcd(&f, 0xd4, 16, 0x00ff, 0, &rc) & 0xffff, 0x0f0f);
	CHECK_EQ(bcd(&f, 0xd4, 10, 0x0000, 0, &rc) & 0xffff, 0x0000);
	CHECK_EQ(fl(&f), RFL_ZF | RFL_PF);
	/* AAM 0 is #DE, nothing changed */
	CHECK_EQ(bcd(&f, 0xd4, 0, 0x1234, 0, &rc) & 0xffff, 0x1234);
	CHECK_EQ(rc, EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_DE);
	/* AAD: 0x0603 -> 63; base 16 -> 0x63; AL wraps (0xffff -> 0xf5, SF) */
	CHECK_EQ(bcd(&f, 0xd5, 10, 0x0603, RFL_ARITH, &rc), 0xdeadbeef0000003fULL);
	CHECK_EQ(fl(&f), RFL_PF);
	CHECK_EQ(bcd(&f, 0xd5, 16, 0x0603, 0, &rc) & 0xffff, 0x0063);
	CHECK_EQ(bcd(&f, 0xd5, 10, 0xffff, 0, &rc) & 0xffff, 0x00f5);
	CHECK_EQ(fl(&f), RFL_SF | RFL_PF);
	fx_fini(&f);
}

TEST(isa_pusha_popa)
{
	struct fx f;
	uint64_t sp = FX_DATA + 0x100;
	uint32_t v[8];
	int i;

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	for (i = 0; i < 8; i++)
		f.cpu->st.gpr[i] = 0x1111111100000000ULL * (uint64_t)(i + 1) + (uint64_t)(0x100 + i);
	f.cpu->st.gpr[RSP] = sp;
	CHECK_EQ(FX_RUN(&f, 0x60), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RSP], sp - 32);
	memcpy(v, f.ram + sp - 32, 32);
	/* EDI at the lowest address ... EAX at the highest; the old ESP */
	for (i = 0; i < 8; i++)
		CHECK_EQ(v[7 - i], i == RSP ? (uint32_t)sp : (uint32_t)(0x100 + i));
	/* POPA restores everything but ESP, which moves past the frame */
	v[7 - RAX] = 0xa0a0a0a0;
	v[7 - RSP] = 0x12345678;
	memcpy(f.ram + sp - 32, v, 32);
	CHECK_EQ(FX_RUN(&f, 0x61), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xa0a0a0a0);	/* 32-bit write zero-extends */
	CHECK_EQ(f.cpu->st.gpr[RSP], sp);
	CHECK_EQ(f.cpu->st.gpr[GPR_RDI], 0x107);
	/* 16-bit forms: words, upper halves kept */
	f.cpu->st.gpr[RAX] = 0xaaaa5555;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x60), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RSP], sp - 16);
	CHECK_EQ(f.ram[sp - 2] | f.ram[sp - 1] << 8, 0x5555);
	f.ram[sp - 2] = 0x11;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x61), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xaaaa5511);
	CHECK_EQ(f.cpu->st.gpr[RSP], sp);
	/* A stack past the SS limit faults with nothing changed */
	f.cpu->st.seg[SEG_SS].limit = sp - 8;
	CHECK_EQ(FX_RUN(&f, 0x61), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_SS);
	CHECK_EQ(f.cpu->st.gpr[RSP], sp);
	fx_fini(&f);
}

TEST(isa_bound)
{
	struct fx f;
	uint32_t b32[2] = { (uint32_t)-10, 100 };
	uint16_t b16[2] = { 5, 7 };

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	memcpy(f.ram + FX_DATA, b32, 8);
	memcpy(f.ram + FX_DATA + 8, b16, 4);
	f.cpu->st.gpr[RAX] = FX_DATA;
	/* bound (%eax),%ecx: signed, both ends inclusive */
	f.cpu->st.gpr[RCX] = (uint32_t)-10;
	CHECK_EQ(FX_RUN(&f, 0x62, 0x08), EMU_OK);
	f.cpu->st.gpr[RCX] = 100;
	CHECK_EQ(FX_RUN(&f, 0x62, 0x08), EMU_OK);
	f.cpu->st.gpr[RCX] = 101;
	CHECK_EQ(FX_RUN(&f, 0x62, 0x08), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_BR);
	f.cpu->st.gpr[RCX] = (uint32_t)-11;
	CHECK_EQ(FX_RUN(&f, 0x62, 0x08), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_BR);
	/* bound 8(%eax),%cx with 66: words */
	f.cpu->st.gpr[RCX] = 0xffff0006;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x62, 0x48, 0x08), EMU_OK);
	f.cpu->st.gpr[RCX] = 8;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x62, 0x48, 0x08), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_BR);
	fx_fini(&f);
}

TEST(isa_far_pointer_loads)
{
	struct fx f;
	uint8_t p[10] = { 0x78, 0x56, 0x34, 0x12, 0x10, 0x00 };
	uint8_t p64[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x00 };

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	/* a data segment with base 0x5000 at 0x28, a not-present one at 0x30 */
	fx_put64(&f, FX_GDT + 0x28, 0x00cf93005000ffffULL);
	fx_put64(&f, FX_GDT + 0x30, 0x00cf13000000ffffULL);
	memcpy(f.ram + FX_DATA, p, 6);
	f.cpu->st.gpr[RAX] = FX_DATA;
	/* les (%eax),%ebx */
	CHECK_EQ(FX_RUN(&f, 0xc4, 0x18), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RBX], 0x12345678);
	CHECK_EQ(f.cpu->st.seg[SEG_ES].sel, 0x10);
	/* lds with selector 0x28: DS base from the descriptor, accessed bit set */
	f.ram[FX_DATA + 4] = 0x28;
	CHECK_EQ(FX_RUN(&f, 0xc5, 0x18), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_DS].sel, 0x28);
	CHECK_EQ(f.cpu->st.seg[SEG_DS].base, 0x5000);
	CHECK_EQ(f.ram[FX_GDT + 0x28 + 5], 0x93);
	f.cpu->st.seg[SEG_DS] = fx_flat(0x10, 0xc093);
	/* lfs/lgs/lss; 66 lgs: 16-bit offset */
	f.ram[FX_DATA + 4] = 0x10;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xb4, 0x08), EMU_OK);	/* lfs (%eax),%ecx */
	CHECK_EQ(f.cpu->st.gpr[RCX], 0x12345678);
	CHECK_EQ(f.cpu->st.seg[SEG_FS].sel, 0x10);
	f.cpu->st.gpr[RDX] = 0xffffffff;
	f.ram[FX_DATA + 2] = 0x10;
	f.ram[FX_DATA + 3] = 0x00;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0xb5, 0x10), EMU_OK);	/* lgs (%eax),%dx */
	CHECK_EQ(f.cpu->st.gpr[RDX], 0xffff5678);
	CHECK_EQ(f.cpu->st.seg[SEG_GS].sel, 0x10);
	memcpy(f.ram + FX_DATA, p, 6);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xb2, 0x20), EMU_OK);	/* lss (%eax),%esp */
	CHECK_EQ(f.cpu->st.gpr[RSP], 0x12345678);
	CHECK_EQ(f.cpu->st.intr_shadow & 0x2, 0);	/* no MOV-SS shadow */
	/* a faulting segment load leaves the register alone */
	f.cpu->st.gpr[RBX] = 0;
	f.ram[FX_DATA + 4] = 0x30;
	CHECK_EQ(FX_RUN(&f, 0xc5, 0x18), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NP);
	CHECK_EQ(f.cpu->st.gpr[RBX], 0);
	/* LSS with a null selector is #GP(0); LDS with one makes DS unusable */
	f.ram[FX_DATA + 4] = 0;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xb2, 0x20), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(FX_RUN(&f, 0xc5, 0x18), EMU_OK);
	CHECK(SEG_DESC_UNUSABLE(f.cpu->st.seg[SEG_DS].access));
	fx_fini(&f);

	/* 64-bit mode: REX.W lfs reads a 64-bit offset (Intel) */
	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	memcpy(f.ram + FX_DATA, p64, 10);
	f.cpu->st.gpr[RAX] = FX_DATA;
	CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0xb4, 0x08), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RCX], 0x0807060504030201ULL);
	CHECK_EQ(f.cpu->st.seg[SEG_FS].sel, 0x10);
	fx_fini(&f);

	/* real mode: base = selector << 4 */
	REQUIRE(fx_init(&f, EMU_MODE_REAL) == 0);
	f.ram[0x100] = 0x34;
	f.ram[0x101] = 0x12;
	f.ram[0x102] = 0x00;
	f.ram[0x103] = 0x20;
	f.cpu->st.gpr[RBX] = 0x100;
	CHECK_EQ(FX_RUN(&f, 0xc4, 0x07), EMU_OK);	/* les (%bx),%ax */
	CHECK_EQ(f.cpu->st.gpr[RAX] & 0xffff, 0x1234);
	CHECK_EQ(f.cpu->st.seg[SEG_ES].base, 0x20000);
	fx_fini(&f);
}

TEST(isa_xlat)
{
	struct fx f;
	int i;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	for (i = 0; i < 256; i++)
		f.ram[FX_DATA + (uint64_t)i] = (uint8_t)(255 - i);
	f.cpu->st.gpr[RBX] = FX_DATA;
	f.cpu->st.gpr[RAX] = 0x1122334455667703ULL;
	CHECK_EQ(FX_RUN(&f, 0xd7), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x11223344556677fcULL);
	/* AL is unsigned: 0xff indexes forward */
	f.cpu->st.gpr[RAX] = 0xff;
	CHECK_EQ(FX_RUN(&f, 0xd7), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x00);
	/* %fs: the FS base applies */
	f.cpu->st.seg[SEG_FS].base = 0x10;
	f.cpu->st.gpr[RBX] = FX_DATA - 0x10;
	f.cpu->st.gpr[RAX] = 0x02;
	CHECK_EQ(FX_RUN(&f, 0x64, 0xd7), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xfd);
	fx_fini(&f);

	/* 16-bit addressing wraps BX + AL at 64 KiB */
	REQUIRE(fx_init(&f, EMU_MODE_REAL) == 0);
	f.ram[0x0001] = 0x5a;
	f.cpu->st.gpr[RBX] = 0xffff;
	f.cpu->st.gpr[RAX] = 0x02;
	CHECK_EQ(FX_RUN(&f, 0xd7), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x5a);
	fx_fini(&f);
}

TEST(isa_arpl)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	/* arpl %bx,%ax: RPL 1 < 3: raised, ZF */
	f.cpu->st.gpr[RAX] = 0xabcd0011;
	f.cpu->st.gpr[RBX] = 0x0003;
	CHECK_EQ(FX_RUN(&f, 0x63, 0xd8), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xabcd0013);
	CHECK_EQ(fl(&f) & RFL_ZF, RFL_ZF);
	/* already at least as high: unchanged, ZF = 0 */
	f.cpu->st.gpr[RBX] = 0x0002;
	CHECK_EQ(FX_RUN(&f, 0x63, 0xd8), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xabcd0013);
	CHECK_EQ(fl(&f) & RFL_ZF, 0);
	/* memory destination */
	f.ram[FX_DATA] = 0x28;
	f.cpu->st.gpr[RCX] = FX_DATA;
	CHECK_EQ(FX_RUN(&f, 0x63, 0x19), EMU_OK);
	CHECK_EQ(f.ram[FX_DATA], 0x2a);
	fx_fini(&f);

	REQUIRE(fx_init(&f, EMU_MODE_REAL) == 0);
	CHECK_EQ(FX_RUN(&f, 0x63, 0xd8), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
}

/* Descriptors for the LAR/LSL/VERR/VERW tests, at GDT selectors 0x28.. */
static void
lar_gdt(struct fx *f)
{
	fx_put64(f, FX_GDT + 0x28, 0x00cff3000000ffffULL);	/* data DPL 3, G */
	fx_put64(f, FX_GDT + 0x30, 0x0040f90060000067ULL);	/* 32-bit TSS DPL 3 */
	fx_put64(f, FX_GDT + 0x38, 0x0000e20070000fffULL);	/* LDT DPL 3 */
	fx_put64(f, FX_GDT + 0x40, 0x00cf9b000000ffffULL);	/* code DPL 0 */
	fx_put64(f, FX_GDT + 0x48, 0x00cfff000000ffffULL);	/* conforming code DPL 3 */
	fx_put64(f, FX_GDT + 0x50, 0x0000ee0000080000ULL);	/* 32-bit interrupt gate */
	fx_put64(f, FX_GDT + 0x58, 0x00cff9000000ffffULL);	/* execute-only code DPL 3 */
	fx_put64(f, FX_GDT + 0x60, 0x00cfdb000000ffffULL);	/* readable code DPL 2 */
	f->cpu->st.gdtr.limit = 0x67;
}

/* lar/lsl %bx,%eax (or 66/REX.W forms given by @pfx); returns ZF. */
static int
larlsl(struct fx *f, uint8_t pfx, uint8_t op, uint16_t sel, uint64_t *out)
{
	uint8_t b[4] = { pfx, 0x0f, op, 0xc3 };
	int rc;

	f->cpu->st.gpr[RAX] = 0x5555555555555555ULL;
	f->cpu->st.gpr[RBX] = sel;
	rc = pfx ? fx_run(f, b, 4) : fx_run(f, b + 1, 3);
	CHECK_EQ(rc, EMU_OK);
	*out = f->cpu->st.gpr[RAX];
	return (fl(f) & RFL_ZF) != 0;
}

TEST(isa_lar_lsl_verr_verw)
{
	struct fx f;
	uint64_t v;

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	lar_gdt(&f);
	/* data: access rights masked with 00F0FF00, limit scaled by G */
	CHECK(larlsl(&f, 0, 0x02, 0x2b, &v));
	CHECK_EQ(v, 0x00c0f300);
	CHECK(larlsl(&f, 0x66, 0x02, 0x2b, &v));
	CHECK_EQ(v, 0x555555555555f300ULL);
	CHECK(larlsl(&f, 0, 0x03, 0x2b, &v));
	CHECK_EQ(v, 0xffffffff);
	CHECK(larlsl(&f, 0x66, 0x03, 0x2b, &v));
	CHECK_EQ(v, 0x555555555555ffffULL);
	/* TSS and LDT: valid for both outside IA-32e mode; byte limits */
	CHECK(larlsl(&f, 0, 0x02, 0x30, &v));
	CHECK_EQ(v, 0x0040f900);
	CHECK(larlsl(&f, 0, 0x03, 0x30, &v));
	CHECK_EQ(v, 0x67);
	CHECK(larlsl(&f, 0, 0x03, 0x38, &v));
	CHECK_EQ(v, 0xfff);
	/* an interrupt gate is never valid; LSL refuses gates */
	CHECK(!larlsl(&f, 0, 0x02, 0x50, &v));
	CHECK_EQ(v, 0x5555555555555555ULL);
	CHECK(!larlsl(&f, 0, 0x03, 0x50, &v));
	/* DPL 0 code seen with RPL 3: invisible; conforming code always visible */
	CHECK(!larlsl(&f, 0, 0x02, 0x43, &v));
	CHECK(larlsl(&f, 0, 0x02, 0x40, &v));
	CHECK(larlsl(&f, 0, 0x02, 0x4b, &v));
	/* null selector, outside the GDT, LDT selector with no LDT */
	CHECK(!larlsl(&f, 0, 0x02, 0x0003, &v));
	CHECK(!larlsl(&f, 0, 0x03, 0x0068, &v));
	CHECK(!larlsl(&f, 0, 0x02, 0x002c, &v));
	/* VERR/VERW (0F 00 /4 /5 on %bx) */
	f.cpu->st.gpr[RBX] = 0x2b;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xe3), EMU_OK);
	CHECK(fl(&f) & RFL_ZF);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xeb), EMU_OK);
	CHECK(fl(&f) & RFL_ZF);
	f.cpu->st.gpr[RBX] = 0x58;	/* execute-only: neither */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xe3), EMU_OK);
	CHECK(!(fl(&f) & RFL_ZF));
	f.cpu->st.gpr[RBX] = 0x60;	/* readable code: VERR only */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xe3), EMU_OK);
	CHECK(fl(&f) & RFL_ZF);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xeb), EMU_OK);
	CHECK(!(fl(&f) & RFL_ZF));
	f.cpu->st.gpr[RBX] = 0x63;	/* RPL 3 > DPL 2 */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xe3), EMU_OK);
	CHECK(!(fl(&f) & RFL_ZF));
	f.cpu->st.gpr[RBX] = 0x30;	/* system: never */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x00, 0xe3), EMU_OK);
	CHECK(!(fl(&f) & RFL_ZF));
	fx_fini(&f);

	/* IA-32e mode: LAR refuses the LDT (LSL takes it), 16-bit TSS invalid */
	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	lar_gdt(&f);
	fx_put64(&f, FX_GDT + 0x30, 0x0040f90060000067ULL);
	CHECK(!larlsl(&f, 0, 0x02, 0x38, &v));
	CHECK(larlsl(&f, 0, 0x03, 0x38, &v));
	CHECK(larlsl(&f, 0x48, 0x02, 0x30, &v));
	CHECK_EQ(v, 0x0040f900);
	fx_put64(&f, FX_GDT + 0x30, 0x0040e10060000067ULL);	/* 16-bit TSS */
	CHECK(!larlsl(&f, 0, 0x02, 0x30, &v));
	CHECK(!larlsl(&f, 0, 0x03, 0x30, &v));
	fx_fini(&f);

	/* real mode: #UD */
	REQUIRE(fx_init(&f, EMU_MODE_REAL) == 0);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x02, 0xc3), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
}

/* Run @b on RBX and RCX (RDX as set) with flags @fin; returns RAX. */
static uint64_t
run3(struct fx *f, uint64_t rbx, uint64_t rcx, uint64_t fin, const uint8_t *b, int n)
{
	f->cpu->st.gpr[RAX] = 0xfeedfacecafebeefULL;
	f->cpu->st.gpr[RBX] = rbx;
	f->cpu->st.gpr[RCX] = rcx;
	emu_set_rflags(f->cpu, fin | 0x2);
	CHECK_EQ(fx_run(f, b, n), EMU_OK);
	return f->cpu->st.gpr[RAX];
}

#define RUN3(f, rbx, rcx, fin, ...) ({ static const uint8_t b3_[] = { __VA_ARGS__ }; \
	run3(f, rbx, rcx, fin, b3_, (int)sizeof(b3_)); })

TEST(isa_bit_count)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	/* popcnt %rbx,%rax; 16-bit form keeps the upper bits of RAX */
	CHECK_EQ(RUN3(&f, 0xf0f0ULL << 32, 0, RFL_ARITH, 0xf3, 0x48, 0x0f, 0xb8, 0xc3), 8);
	CHECK_EQ(fl(&f), 0);
	CHECK_EQ(RUN3(&f, 0, 0, RFL_ARITH, 0xf3, 0x48, 0x0f, 0xb8, 0xc3), 0);
	CHECK_EQ(fl(&f), RFL_ZF);
	CHECK_EQ(RUN3(&f, 0x1ffff, 0, 0, 0x66, 0xf3, 0x0f, 0xb8, 0xc3), 0xfeedfacecafe0010ULL);
	/* lzcnt: width for 0 (CF), 0 for a top bit (ZF) */
	CHECK_EQ(RUN3(&f, 0, 0, 0, 0xf3, 0x0f, 0xbd, 0xc3), 32);
	CHECK_EQ(fl(&f), RFL_CF);
	CHECK_EQ(RUN3(&f, 0x80000000, 0, RFL_ARITH, 0xf3, 0x0f, 0xbd, 0xc3), 0);
	CHECK_EQ(fl(&f), RFL_ZF);
	CHECK_EQ(RUN3(&f, 1, 0, 0, 0xf3, 0x48, 0x0f, 0xbd, 0xc3), 63);
	CHECK_EQ(RUN3(&f, 0x00ff, 0, 0, 0x66, 0xf3, 0x0f, 0xbd, 0xc3) & 0xffff, 8);
	/* tzcnt */
	CHECK_EQ(RUN3(&f, 0, 0, 0, 0xf3, 0x48, 0x0f, 0xbc, 0xc3), 64);
	CHECK_EQ(fl(&f), RFL_CF);
	CHECK_EQ(RUN3(&f, 0x100, 0, 0, 0xf3, 0x0f, 0xbc, 0xc3), 8);
	CHECK_EQ(fl(&f), 0);
	CHECK_EQ(RUN3(&f, 0x10000, 0, 0, 0x66, 0xf3, 0x0f, 0xbc, 0xc3) & 0xffff, 16);
	/* without F3: BSF leaves the destination alone for 0 */
	CHECK_EQ(RUN3(&f, 0, 0, 0, 0x48, 0x0f, 0xbc, 0xc3), 0xfeedfacecafebeefULL);
	fx_fini(&f);
}

TEST(isa_movbe)
{
	struct fx f;
	const uint8_t be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	memcpy(f.ram + FX_DATA, be, 8);
	f.cpu->st.gpr[GPR_RSI] = FX_DATA;
	f.cpu->st.gpr[RAX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x38, 0xf0, 0x06), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x0102030405060708ULL);
	f.cpu->st.gpr[RAX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x38, 0xf0, 0x06), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x01020304);
	f.cpu->st.gpr[RAX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xf0, 0x06), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xffffffffffff0102ULL);
	/* stores: movbe %ebx,8(%rsi) */
	f.cpu->st.gpr[RBX] = 0x11223344aabbccddULL;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x38, 0xf1, 0x5e, 0x08), EMU_OK);
	CHECK_EQ(fx_get64(&f, FX_DATA + 8), 0xddccbbaaULL);
	CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x38, 0xf1, 0x5e, 0x08), EMU_OK);
	CHECK_EQ(fx_get64(&f, FX_DATA + 8), 0xddccbbaa44332211ULL);
	/* a non-canonical address faults */
	f.cpu->st.gpr[GPR_RSI] = 0x0000800000000000ULL;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x38, 0xf0, 0x06), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	fx_fini(&f);
}

TEST(isa_bmi)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	/* andn %rcx,%rbx,%rax = ~rbx & rcx */
	CHECK_EQ(RUN3(&f, 0xff00, 0xffff, RFL_ARITH, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), 0xff);
	CHECK_EQ(fl(&f), 0);
	CHECK_EQ(RUN3(&f, 0, 1ULL << 63, 0, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1), 1ULL << 63);
	CHECK_EQ(fl(&f), RFL_SF);
	/* 32-bit: zero-extended */
	CHECK_EQ(RUN3(&f, 0, ~0ULL, 0, 0xc4, 0xe2, 0x60, 0xf2, 0xc1), 0xffffffff);
	/* bextr %rcx,%rbx,%rax: start 4, len 8; start beyond the operand: 0 */
	CHECK_EQ(RUN3(&f, 0xabcd, 0x0804, 0, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3), 0xbc);
	CHECK_EQ(RUN3(&f, ~0ULL, 0xff40, 0, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3), 0);
	CHECK_EQ(fl(&f), RFL_ZF);
	CHECK_EQ(RUN3(&f, ~0ULL, 0x4010, 0, 0xc4, 0xe2, 0x70, 0xf7, 0xc3), 0xffff);
	/* blsi/blsmsk/blsr %rbx,%rax */
	CHECK_EQ(RUN3(&f, 0x68, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xdb), 0x8);
	CHECK_EQ(fl(&f), RFL_CF);
	CHECK_EQ(RUN3(&f, 0x68, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xd3), 0xf);
	CHECK_EQ(fl(&f), 0);
	CHECK_EQ(RUN3(&f, 0, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xd3), ~0ULL);
	CHECK_EQ(fl(&f), RFL_CF | RFL_SF);
	CHECK_EQ(RUN3(&f, 0x68, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb), 0x60);
	CHECK_EQ(RUN3(&f, 0, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb), 0);
	CHECK_EQ(fl(&f), RFL_CF | RFL_ZF);
	/* bzhi %rcx,%rbx,%rax: index 8; index >= 64 keeps all and sets CF */
	CHECK_EQ(RUN3(&f, 0x1234, 8, 0, 0xc4, 0xe2, 0xf0, 0xf5, 0xc3), 0x34);
	CHECK_EQ(fl(&f), 0);
	CHECK_EQ(RUN3(&f, ~0ULL, 0x140, 0, 0xc4, 0xe2, 0xf0, 0xf5, 0xc3), ~0ULL);
	CHECK_EQ(fl(&f), RFL_CF | RFL_SF);
	/* pdep/pext %rbx,%rcx,%rax: source rcx, mask rbx */
	CHECK_EQ(RUN3(&f, 0xf0f0, 0x5a, 0, 0xc4, 0xe2, 0xf3, 0xf5, 0xc3), 0x50a0);
	CHECK_EQ(RUN3(&f, 0xf0f0, 0x50a0, 0, 0xc4, 0xe2, 0xf2, 0xf5, 0xc3), 0x5a);
	/* mulx %rbx,%rcx,%rax: rdx * rbx, low to rcx, high to rax; flags kept */
	f.cpu->st.gpr[RDX] = ~0ULL;
	CHECK_EQ(RUN3(&f, ~0ULL, 0, RFL_CF | RFL_ZF, 0xc4, 0xe2, 0xf3, 0xf6, 0xc3), ~0ULL - 1);
	CHECK_EQ(f.cpu->st.gpr[RCX], 1);
	CHECK_EQ(fl(&f), RFL_CF | RFL_ZF);
	/* same destination twice: the high half wins */
	f.cpu->st.gpr[RDX] = 0x100000000ULL;
	CHECK_EQ(RUN3(&f, 0x300000001ULL, 0, 0, 0xc4, 0xe2, 0xfb, 0xf6, 0xc3), 3);
	/* rorx $13,%rbx,%rax; sarx/shlx/shrx by rcx masked to 6 bits */
	CHECK_EQ(RUN3(&f, 0x2000, 0, 0, 0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x0d), 1);
	CHECK_EQ(RUN3(&f, 1ULL << 63, 65, 0, 0xc4, 0xe2, 0xf2, 0xf7, 0xc3), 3ULL << 62);
	CHECK_EQ(RUN3(&f, 3, 62, 0, 0xc4, 0xe2, 0xf1, 0xf7, 0xc3), 3ULL << 62);
	CHECK_EQ(RUN3(&f, 0x80000000, 33, 0, 0xc4, 0xe2, 0x73, 0xf7, 0xc3), 0x40000000);
	CHECK_EQ(RUN3(&f, 0x80000000, 31, 0, 0xc4, 0xe2, 0x72, 0xf7, 0xc3), 0xffffffff);
	fx_fini(&f);
}

TEST(isa_adx)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	/* adcx %rbx,%rax: CF in and out, nothing else */
	f.cpu->st.gpr[RAX] = ~0ULL;
	f.cpu->st.gpr[RBX] = 0;
	emu_set_rflags(f.cpu, RFL_CF | RFL_OF | RFL_ZF | 0x2);
	CHECK_EQ(FX_RUN(&f, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0);
	CHECK_EQ(fl(&f), RFL_CF | RFL_OF | RFL_ZF);
	/* adox %ebx,%eax: OF in and out; CF untouched; 32-bit zero-extends */
	f.cpu->st.gpr[RAX] = 0xffffffff00000005ULL;
	f.cpu->st.gpr[RBX] = 0xfffffffb;
	emu_set_rflags(f.cpu, RFL_CF | 0x2);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x38, 0xf6, 0xc3), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0);
	CHECK_EQ(fl(&f), RFL_CF | RFL_OF);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x38, 0xf6, 0xc3), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0xfffffffc);
	CHECK_EQ(fl(&f), RFL_CF);
	fx_fini(&f);
}

TEST(isa_cmpxchg16b)
{
	struct fx f;
	int lock;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	for (lock = 0; lock < 2; lock++) {
		uint8_t b[5] = { 0xf0, 0x48, 0x0f, 0xc7, 0x0e };	/* cmpxchg16b (%rsi) */
		const uint8_t *p = lock ? b : b + 1;
		int n = lock ? 5 : 4;

		fx_put64(&f, FX_DATA, 0x1111);
		fx_put64(&f, FX_DATA + 8, 0x2222);
		f.cpu->st.gpr[GPR_RSI] = FX_DATA;
		f.cpu->st.gpr[RAX] = 0x1111;
		f.cpu->st.gpr[RDX] = 0x2222;
		f.cpu->st.gpr[RBX] = 0x3333;
		f.cpu->st.gpr[RCX] = 0x4444;
		CHECK_EQ(fx_run(&f, p, n), EMU_OK);
		CHECK(fl(&f) & RFL_ZF);
		CHECK_EQ(fx_get64(&f, FX_DATA), 0x3333);
		CHECK_EQ(fx_get64(&f, FX_DATA + 8), 0x4444);
		/* mismatch: RDX:RAX get the memory, memory unchanged */
		CHECK_EQ(fx_run(&f, p, n), EMU_OK);
		CHECK(!(fl(&f) & RFL_ZF));
		CHECK_EQ(f.cpu->st.gpr[RAX], 0x3333);
		CHECK_EQ(f.cpu->st.gpr[RDX], 0x4444);
		CHECK_EQ(fx_get64(&f, FX_DATA), 0x3333);
		/* misaligned: #GP(0), nothing changed */
		f.cpu->st.gpr[GPR_RSI] = FX_DATA + 8;
		f.cpu->st.gpr[RAX] = 0;
		CHECK_EQ(fx_run(&f, p, n), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		CHECK_EQ(f.cpu->exc_err, 0);
		CHECK_EQ(f.cpu->st.gpr[RAX], 0);
	}
	/* The linear address counts: %fs base 8 + offset 8 is aligned, + 0 is not */
	f.cpu->st.seg[SEG_FS].base = 8;
	f.cpu->st.gpr[GPR_RSI] = FX_DATA + 8;
	f.cpu->st.gpr[RAX] = 0;
	f.cpu->st.gpr[RDX] = 0;
	CHECK_EQ(FX_RUN(&f, 0x64, 0xf0, 0x48, 0x0f, 0xc7, 0x0e), EMU_OK);
	CHECK(fl(&f) & RFL_ZF);
	CHECK_EQ(fx_get64(&f, FX_DATA + 16), f.cpu->st.gpr[RBX]);
	f.cpu->st.gpr[GPR_RSI] = FX_DATA;
	CHECK_EQ(FX_RUN(&f, 0x64, 0xf0, 0x48, 0x0f, 0xc7, 0x0e), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	fx_fini(&f);
}

TEST(isa_rdrand_rdseed_rdpid)
{
	struct fx f;
	uint64_t seen = 0;
	int i;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	for (i = 0; i < 4; i++) {
		emu_set_rflags(f.cpu, RFL_ARITH | 0x2);
		CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0xc7, 0xf0), EMU_OK);	/* rdrand %rax */
		CHECK_EQ(fl(&f), RFL_CF);
		seen |= f.cpu->st.gpr[RAX];
	}
	CHECK(seen != 0);
	/* rdseed %cx: 16 bits, the rest of RCX kept */
	f.cpu->st.gpr[RCX] = 0xaaaaaaaaaaaaaaaaULL;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0xc7, 0xf9), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RCX] >> 16, 0xaaaaaaaaaaaaULL);
	CHECK_EQ(fl(&f), RFL_CF);
	/* rdpid %rax: TSC_AUX, whole */
	f.cpu->st.tsc_aux = 0x1234567;
	f.cpu->st.gpr[RAX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0xc7, 0xf8), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x1234567);
	fx_fini(&f);
}

TEST(isa_cpuid_bits)
{
	static const struct vmm_cpu_profile prof = { .vendor = VMM_VENDOR_INTEL };
	uint32_t r[4];

	vmm_cpuid(&prof, 0, 0, 0, r);
	CHECK(r[0] >= 7);
	vmm_cpuid(&prof, 0, 1, 0, r);
	CHECK(r[2] & (1u << 22));	/* MOVBE */
	CHECK(r[2] & (1u << 23));	/* POPCNT */
	CHECK(r[2] & (1u << 30));	/* RDRAND */
	CHECK(r[2] & (1u << 13));	/* CMPXCHG16B */
	CHECK(!(r[2] & (1u << 28)));	/* no AVX */
	vmm_cpuid(&prof, 0, 7, 0, r);
	CHECK_EQ(r[0], 2);		/* subleaves 0-2 (2: BHI_CTRL) */
	CHECK(r[1] & (1u << 3));	/* BMI1 */
	CHECK(r[1] & (1u << 8));	/* BMI2 */
	CHECK(r[1] & (1u << 18));	/* RDSEED */
	CHECK(r[1] & (1u << 19));	/* ADX */
	CHECK(!(r[1] & (1u << 5)));	/* no AVX2 */
	CHECK(r[2] & (1u << 22));	/* RDPID */
	CHECK(r[1] & (1u << 0));	/* FSGSBASE */
	vmm_cpuid(&prof, 0, 7, 1, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
	vmm_cpuid(&prof, 0, 0x80000001u, 0, r);
	CHECK(r[2] & (1u << 5));	/* ABM: LZCNT */
}

/* F3 (REX.W) 0F AE /0-/3: RDFSBASE RDGSBASE WRFSBASE WRGSBASE (SDM Vol. 2B). */
TEST(isa_fsgsbase)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	f.cpu->st.seg[SEG_FS].base = 0x00007fff12345678ULL;
	f.cpu->st.seg[SEG_GS].base = 0xffff800000001000ULL;
	/* CR4.FSGSBASE clear: #UD. */
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x48, 0x0f, 0xae, 0xc0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	f.cpu->st.cr4 |= CR4_FSGSBASE;
	/* rdfsbase %rax, rdgsbase %ecx (zero-extended low half) */
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x48, 0x0f, 0xae, 0xc0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RAX], 0x00007fff12345678ULL);
	f.cpu->st.gpr[RCX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0xae, 0xc9), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[RCX], 0x00001000ULL);
	/* wrfsbase %r8, wrgsbase %edx; any CPL */
	f.cpu->st.gpr[8] = 0x0000123456789000ULL;
	f.cpu->cpl = 3;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x49, 0x0f, 0xae, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_FS].base, 0x0000123456789000ULL);
	f.cpu->st.gpr[RDX] = 0xffffffff80000000ULL;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0xae, 0xda), EMU_OK);
	CHECK_EQ(f.cpu->st.seg[SEG_GS].base, 0x80000000ULL);
	/* A non-canonical 64-bit base: #GP(0), nothing written. */
	f.cpu->st.gpr[RDX] = 0x0000800000000000ULL;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x48, 0x0f, 0xae, 0xda), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->st.seg[SEG_GS].base, 0x80000000ULL);
	/* Without F3, or with F2: #UD. */
	CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0xae, 0xc0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x48, 0x0f, 0xae, 0xc0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
	/* Outside 64-bit mode: #UD. */
	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	f.cpu->st.cr4 |= CR4_FSGSBASE;
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0xae, 0xc0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
}
