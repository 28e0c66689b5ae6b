/*
 * test_gate.c - far CALL/JMP through call gates and RETF back (gate.c,
 * control.c), on the fixture CPU (isa_fixture.h).  Expected frames, error
 * codes and their order follow SDM Vol. 3A 5.8.3-5.8.6 (figure 5-13) and
 * the CALL/JMP/RET pseudo-code of Vol. 2A/2B; Intel and AMD agree here
 * (AMD APM Vol. 2 4.11.2-4.11.3), so the Intel profile only.
 */
#include <stdint.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"

#define TSS	(FX_DATA + 0x2000)
#define PTR	(FX_DATA + 0x3000)	/* a far pointer for FF /3, FF /5 */
#define USTK	0x170000ULL
#define KSTK	0x180000ULL
#define RIP0	0x1000ULL
#define TGT	0x2345ULL

/* A legacy gate: @type 4 or C, present, @dpl, @count parameters. */
static uint64_t
gate(uint16_t sel, uint32_t off, int type, int dpl, int count, int present)
{
	return (off & 0xffffULL) | (uint64_t)sel << 16 | (uint64_t)count << 32 |
	    (uint64_t)type << 40 | (uint64_t)dpl << 45 | (uint64_t)present << 47 |
	    (uint64_t)(off >> 16) << 48;
}

static void
set_seg(struct fx *f, int seg, uint16_t sel)
{
	uint64_t raw = fx_get64(f, FX_GDT + (sel & 0xfff8));

	emu_desc_to_seg(raw, sel, &f->cpu->st.seg[seg]);
}

/*
 * GDT beyond the fixture's: 28 ring-3 32-bit code, 30 ring-3 data, 38 TSS,
 * 40 32-bit gate (DPL 3, 2 parameters) to 18:TGT, 48 16-bit gate (DPL 3,
 * 1 parameter) to 20:TGT, 50 32-bit gate DPL 0, 58 gate not present,
 * 60 64-bit gate (16 bytes), 70 ring-3 64-bit code.  CPL 3 at RIP0.
 */
static int
setup(struct fx *f, enum emu_mode mode)
{
	if (fx_init(f, mode) != 0)
		return -1;
	fx_put64(f, FX_GDT + 0x28, 0x00cffb000000ffffULL);
	fx_put64(f, FX_GDT + 0x30, 0x00cff3000000ffffULL);
	fx_put64(f, FX_GDT + 0x38, 0x00008b0000000067ULL | (TSS & 0xffffff) << 16);
	fx_put64(f, FX_GDT + 0x40, gate(0x18, TGT, 0xc, 3, 2, 1));
	fx_put64(f, FX_GDT + 0x48, gate(0x20, TGT, 0x4, 3, 1, 1));
	fx_put64(f, FX_GDT + 0x50, gate(0x18, TGT, 0xc, 0, 0, 1));
	fx_put64(f, FX_GDT + 0x58, gate(0x18, TGT, 0xc, 3, 0, 0));
	fx_put64(f, FX_GDT + 0x60, gate(0x08, TGT, 0xc, 3, 0, 1));
	fx_put64(f, FX_GDT + 0x68, 0x00007f00ULL);	/* offset 63:32 */
	fx_put64(f, FX_GDT + 0x70, 0x00affb000000ffffULL);
	set_seg(f, SEG_TR, 0x38);
	/* TSS: ESP0 / RSP0 at 4, SS0 at 8 (32-bit; in a 64-bit TSS RSP0's high half, 0). */
	fx_put64(f, TSS + 4, KSTK | 0x10ULL << 32);
	if (mode == EMU_MODE_LONG64)
		fx_put64(f, TSS + 4, KSTK);
	set_seg(f, SEG_CS, mode == EMU_MODE_LONG64 ? 0x73 : 0x2b);
	set_seg(f, SEG_SS, 0x33);
	set_seg(f, SEG_DS, 0x33);
	set_seg(f, SEG_ES, 0x33);
	f->cpu->st.gpr[GPR_RSP] = USTK;
	f->cpu->st.rip = RIP0;
	emu_update_mode(f->cpu);
	return f->cpu->cpl == 3 && f->cpu->mode == mode ? 0 : -1;
}

static uint32_t
get32(struct fx *f, uint64_t gpa)
{
	return (uint32_t)fx_get64(f, gpa);
}

static uint16_t
get16(struct fx *f, uint64_t gpa)
{
	return (uint16_t)fx_get64(f, gpa);
}

/* CALL 43:0 (9A), then RETF 8 (CA 08 00) from the handler. */
TEST(gate_call32_inner_params)
{
	struct fx f;

	REQUIRE(setup(&f, EMU_MODE_PROT32) == 0);
	fx_put64(&f, USTK, 0x2222222211111111ULL);
	CHECK_EQ(FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 0);
	CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x18);
	CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x10);
	CHECK_EQ(f.cpu->next_rip, TGT);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], KSTK - 24);
	CHECK_EQ(get32(&f, KSTK - 24), RIP0 + 7);
	CHECK_EQ(get32(&f, KSTK - 20), 0x2b);
	CHECK_EQ(get32(&f, KSTK - 16), 0x11111111);
	CHECK_EQ(get32(&f, KSTK - 12), 0x22222222);
	CHECK_EQ(get32(&f, KSTK - 8), USTK);
	CHECK_EQ(get32(&f, KSTK - 4), 0x33);

	f.cpu->st.rip = f.cpu->next_rip;
	CHECK_EQ(FX_RUN(&f, 0xca, 0x08, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 3);
	CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x2b);
	CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x33);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], USTK + 8);
	CHECK_EQ(f.cpu->next_rip, RIP0 + 7);
	fx_fini(&f);
}

/* A 16-bit gate pushes words and copies one word parameter; IP truncated. */
TEST(gate_call16_inner)
{
	struct fx f;

	REQUIRE(setup(&f, EMU_MODE_PROT32) == 0);
	fx_put64(&f, USTK, 0xbeef);
	CHECK_EQ(FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x4b, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 0);
	CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x20);
	CHECK_EQ(f.cpu->mode, EMU_MODE_PROT16);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], KSTK - 10);
	CHECK_EQ(get16(&f, KSTK - 10), RIP0 + 7);
	CHECK_EQ(get16(&f, KSTK - 8), 0x2b);
	CHECK_EQ(get16(&f, KSTK - 6), 0xbeef);
	CHECK_EQ(get16(&f, KSTK - 4), USTK & 0xffff);
	CHECK_EQ(get16(&f, KSTK - 2), 0x33);
	fx_fini(&f);
}

/* Same privilege (a CPL 0 caller): only CS:EIP pushed; JMP pushes nothing. */
TEST(gate_same_level)
{
	struct fx f;

	REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
	fx_put64(&f, FX_GDT + 0x50, gate(0x18, TGT, 0xc, 0, 3, 1));
	f.cpu->st.gpr[GPR_RSP] = KSTK;
	f.cpu->st.rip = RIP0;
	CHECK_EQ(FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x50, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->next_rip, TGT);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], KSTK - 8);
	CHECK_EQ(get32(&f, KSTK - 8), RIP0 + 7);
	CHECK_EQ(get32(&f, KSTK - 4), 0x18);
	f.cpu->st.gpr[GPR_RSP] = KSTK;
	CHECK_EQ(FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x50, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->next_rip, TGT);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], KSTK);
	fx_fini(&f);
}

static void
expect_fault(struct fx *f, int rc, int vector, uint32_t err)
{
	CHECK_EQ(rc, EMU_FAULT);
	CHECK_EQ(f->cpu->exc_vector, vector);
	CHECK_EQ(f->cpu->exc_err, err);
	/* nothing changed */
	CHECK_EQ(f->cpu->cpl, 3);
	CHECK_EQ(f->cpu->st.seg[SEG_CS].sel, 0x2b);
	CHECK_EQ(f->cpu->st.seg[SEG_SS].sel, 0x33);
	CHECK_EQ(f->cpu->st.gpr[GPR_RSP], USTK);
}

/* SDM Vol. 2A CALL/JMP: each check's exception and error code. */
TEST(gate_faults)
{
	struct fx f;

	REQUIRE(setup(&f, EMU_MODE_PROT32) == 0);
	/* gate DPL < CPL, RPL > gate DPL: #GP(gate) */
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x53, 0x00), IDT_GP, 0x50);
	/* gate not present: #NP(gate) */
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x5b, 0x00), IDT_NP, 0x58);
	/* JMP through a gate to a more privileged non-conforming segment: #GP(CS) */
	expect_fault(&f, FX_RUN(&f, 0xea, 0, 0, 0, 0, 0x43, 0x00), IDT_GP, 0x18);
	/* the gate's CS null: #GP(0); not a code segment: #GP(sel); not present: #NP(sel) */
	fx_put64(&f, FX_GDT + 0x40, gate(0x00, TGT, 0xc, 3, 2, 1));
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_GP, 0);
	fx_put64(&f, FX_GDT + 0x40, gate(0x10, TGT, 0xc, 3, 2, 1));
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_GP, 0x10);
	fx_put64(&f, FX_GDT + 0x78, 0x00cf1b000000ffffULL);
	fx_put64(&f, FX_GDT + 0x40, gate(0x78, TGT, 0xc, 3, 2, 1));
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_NP, 0x78);
	fx_put64(&f, FX_GDT + 0x40, gate(0x18, TGT, 0xc, 3, 2, 1));
	/* inner stack: SS0 null, RPL/DPL wrong, not present: #TS/#SS(SS0) */
	fx_put64(&f, TSS + 4, KSTK);
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_TS, 0);
	fx_put64(&f, TSS + 4, KSTK | 0x33ULL << 32);
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_TS, 0x30);
	fx_put64(&f, TSS + 4, KSTK | 0x30ULL << 32);
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_TS, 0x30);
	fx_put64(&f, FX_GDT + 0x80, 0x00cf13000000ffffULL);
	fx_put64(&f, TSS + 4, KSTK | 0x80ULL << 32);
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_SS, 0x80);
	fx_put64(&f, TSS + 4, KSTK | 0x100ULL << 32);		/* past the GDT limit */
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_TS, 0x100);
	/* SS0:ESP0 outside the TSS limit: #TS(TR) */
	fx_put64(&f, TSS + 4, KSTK | 0x10ULL << 32);
	f.cpu->st.seg[SEG_TR].limit = 8;
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_TS, 0x38);
	f.cpu->st.seg[SEG_TR].limit = 0x67;
	/* no room for the frame on the new stack (limit FFFFH): #SS(SS0) */
	fx_put64(&f, FX_GDT + 0x88, 0x004093000000ffffULL);
	fx_put64(&f, TSS + 4, 0x10ULL | 0x88ULL << 32);
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_SS, 0x88);
	fx_put64(&f, TSS + 4, KSTK | 0x10ULL << 32);
	/* target past the CS limit: #GP(0) */
	fx_put64(&f, FX_GDT + 0x40, gate(0x20, 0x200000, 0xc, 3, 2, 1));
	expect_fault(&f, FX_RUN(&f, 0x9a, 0, 0, 0, 0, 0x43, 0x00), IDT_GP, 0);
	fx_fini(&f);
}

/* IA-32e mode: CALL FAR [PTR] through the 64-bit gate 63, then RETFQ. */
TEST(gate_call64_inner)
{
	struct fx f;
	uint64_t tgt = 0x00007f0000000000ULL | TGT;

	REQUIRE(setup(&f, EMU_MODE_LONG64) == 0);
	fx_put64(&f, PTR, 0x63ULL << 32);
	/* FF /3 [disp32]: m16:32 */
	CHECK_EQ(FX_RUN(&f, 0xff, 0x1c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 0);
	CHECK_EQ(f.cpu->mode, EMU_MODE_LONG64);
	CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x08);
	CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0);
	CHECK(SEG_DESC_UNUSABLE(f.cpu->st.seg[SEG_SS].access));
	CHECK_EQ(f.cpu->next_rip, tgt);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], KSTK - 32);
	CHECK_EQ(fx_get64(&f, KSTK - 32), RIP0 + 7);
	CHECK_EQ(fx_get64(&f, KSTK - 24), 0x73);
	CHECK_EQ(fx_get64(&f, KSTK - 16), USTK);
	CHECK_EQ(fx_get64(&f, KSTK - 8), 0x33);

	f.cpu->st.rip = f.cpu->next_rip;
	CHECK_EQ(FX_RUN(&f, 0x48, 0xcb), EMU_OK);
	CHECK_EQ(f.cpu->cpl, 3);
	CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x73);
	CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x33);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], USTK);
	CHECK_EQ(f.cpu->next_rip, RIP0 + 7);

	/* JMP FAR [PTR] to CPL 0 code: #GP(CS) */
	CHECK_EQ(FX_RUN(&f, 0xff, 0x2c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x08);
	/* a 16-bit gate type in IA-32e mode, a nonzero upper type: #GP(gate) */
	fx_put64(&f, PTR, 0x4bULL << 32);
	CHECK_EQ(FX_RUN(&f, 0xff, 0x1c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x48);
	fx_put64(&f, PTR, 0x63ULL << 32);
	fx_put64(&f, FX_GDT + 0x68, 0x00007f00ULL | 0xcULL << 40);
	CHECK_EQ(FX_RUN(&f, 0xff, 0x1c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x60);
	/* target a 32-bit code segment: #GP(CS) */
	fx_put64(&f, FX_GDT + 0x68, 0x00007f00ULL);
	fx_put64(&f, FX_GDT + 0x60, gate(0x18, TGT, 0xc, 3, 0, 1));
	CHECK_EQ(FX_RUN(&f, 0xff, 0x1c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(f.cpu->exc_err, 0x18);
	/* RSP0 not canonical: #SS(0) */
	fx_put64(&f, FX_GDT + 0x60, gate(0x08, TGT, 0xc, 3, 0, 1));
	fx_put64(&f, TSS + 4, 0x8000000000000000ULL);
	CHECK_EQ(FX_RUN(&f, 0xff, 0x1c, 0x25, 0x00, 0x30, 0x10, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_SS);
	CHECK_EQ(f.cpu->exc_err, 0);
	CHECK_EQ(f.cpu->cpl, 3);
	CHECK_EQ(f.cpu->st.gpr[GPR_RSP], USTK);
	fx_fini(&f);
}
