/*
 * test_xsave.c - XSAVE, XSAVEOPT, XSAVEC, XRSTOR, XGETBV, XSETBV (x87.c)
 * and CPUID leaf 0DH: round trips of x87 and SSE state in the standard
 * and compacted formats, the init optimization and XINUSE, the header and
 * MXCSR rules of XRSTOR, and the #UD/#NM/#GP conditions (SDM Vol. 1 ch.
 * 13, Vol. 2B).
 */
#include <stdint.h>
#include <string.h>

#include "isa_fixture.h"
#include "test.h"
#include "vmm_cpuid.h"

#define AREA	FX_DATA		/* 64-byte aligned */
#define AREA2	(FX_DATA + 0x1000)

#define XSAVE_RDI	0x0f, 0xae, 0x27
#define XSAVE64_RDI	0x48, 0x0f, 0xae, 0x27
#define XRSTOR_RDI	0x0f, 0xae, 0x2f
#define XRSTOR64_RDI	0x48, 0x0f, 0xae, 0x2f
#define XSAVEOPT_RDI	0x0f, 0xae, 0x37
#define XSAVEC_RDI	0x0f, 0xc7, 0x27
#define FXSAVE64_RDI	0x48, 0x0f, 0xae, 0x07

static uint64_t
g64(struct fx *f, uint64_t gpa)
{
	return fx_get64(f, gpa);
}

static int
run_vec(struct fx *f, int rc)
{
	return rc == EMU_FAULT ? f->cpu->exc_vector : rc;
}

/* 64-bit mode, CR4.OSXSAVE, XCR0 = x87 | SSE, RFBM all ones, RDI = AREA. */
static int
xs_init(struct fx *f, enum emu_mode mode)
{
	if (fx_init(f, mode) != 0)
		return -1;
	f->cpu->st.cr4 |= CR4_OSXSAVE | CR4_OSFXSR;
	f->cpu->st.xcr0 = 3;
	f->cpu->st.gpr[GPR_RAX] = 0xffffffff;
	f->cpu->st.gpr[GPR_RDX] = 0xffffffff;
	f->cpu->st.gpr[GPR_RDI] = AREA;
	/* the x87 and SSE initial configuration */
	memset(f->cpu->st.fxsave, 0, 512);
	f->cpu->st.fxsave[0] = 0x7f;
	f->cpu->st.fxsave[1] = 0x03;
	f->cpu->st.fxsave[24] = 0x80;
	f->cpu->st.fxsave[25] = 0x1f;
	return 0;
}

/* Some x87 and SSE state that is not the initial one. */
static void
dirty_state(struct fx *f)
{
	uint8_t *fx = f->cpu->st.fxsave;
	int i;

	fx[0] = 0x7f, fx[1] = 0x02;		/* FCW 027FH */
	fx[2] = 0x00, fx[3] = 0x38;		/* FSW: TOP = 7 */
	fx[4] = 0x80;				/* R7 in use */
	fx[6] = 0x2d, fx[7] = 0x05;		/* FOP */
	memcpy(fx + 8, &(uint64_t){ 0x1234567890ULL }, 8);	/* FIP */
	memcpy(fx + 16, &(uint64_t){ 0xabcdef0123ULL }, 8);	/* FDP */
	for (i = 0; i < 10; i++)
		fx[32 + i] = (uint8_t)(0x40 + i);	/* ST(0) */
	fx[24] = 0xa0, fx[25] = 0x1f;		/* MXCSR 1FA0H */
	for (i = 160; i < 416; i++)
		fx[i] = (uint8_t)(i * 7);
}

TEST(xsave_cpuid_leaf_0d)
{
	struct vmm_cpu_profile p[2] = { { .vendor = VMM_VENDOR_INTEL }, { .vendor = VMM_VENDOR_AMD } };
	uint32_t r[4];
	int i;

	for (i = 0; i < 2; i++) {
		vmm_cpuid(&p[i], 0, 1, 0, r);
		CHECK(r[2] & (1u << 26));
		CHECK(!(r[2] & (1u << 28)));		/* no AVX */
		vmm_cpuid(&p[i], 0, 0xd, 0, r);
		CHECK_EQ(r[0], 3);			/* x87 | SSE */
		CHECK_EQ(r[1], 576);
		CHECK_EQ(r[2], 576);
		CHECK_EQ(r[3], 0);
		vmm_cpuid(&p[i], 0, 0xd, 1, r);
		CHECK_EQ(r[0], 7);			/* XSAVEOPT, XSAVEC, XGETBV(1); no XSAVES */
		CHECK_EQ(r[2] | r[3], 0);		/* no IA32_XSS component */
		vmm_cpuid(&p[i], 0, 0xd, 2, r);
		CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
	}
}

TEST(xsave_osxsave_and_cpuid_bit)
{
	struct fx f;

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	/* CR4.OSXSAVE can be set (MOV CR4, RAX) and CPUID.1:ECX[27] follows it. */
	f.cpu->st.cr4 &= ~CR4_OSXSAVE;
	f.cpu->st.gpr[GPR_RAX] = 1;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xa2), EMU_OK);
	CHECK(!(f.cpu->st.gpr[GPR_RCX] & (1u << 27)));
	CHECK(f.cpu->st.gpr[GPR_RCX] & (1u << 26));
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XSAVE_RDI)), IDT_UD);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XRSTOR_RDI)), IDT_UD);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd0)), IDT_UD);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd1)), IDT_UD);
	f.cpu->st.gpr[GPR_RAX] = f.cpu->st.cr4 | CR4_OSXSAVE;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x22, 0xe0), EMU_OK);
	CHECK(f.cpu->st.cr4 & CR4_OSXSAVE);
	f.cpu->st.gpr[GPR_RAX] = 1;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xa2), EMU_OK);
	CHECK(f.cpu->st.gpr[GPR_RCX] & (1u << 27));
	fx_fini(&f);
}

TEST(xsave_xsetbv_xgetbv)
{
	static const struct { uint64_t v; int ok; } cases[] = {
		{ 1, 1 }, { 3, 1 }, { 0, 0 }, { 2, 0 }, { 5, 0 }, { 7, 0 },
		{ 1ULL << 9 | 3, 0 }, { 1ULL << 62 | 3, 0 },
	};
	struct fx f;
	unsigned i;

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.cpu->st.xcr0 = 1;
		f.cpu->st.gpr[GPR_RCX] = 0;
		f.cpu->st.gpr[GPR_RAX] = (uint32_t)cases[i].v;
		f.cpu->st.gpr[GPR_RDX] = cases[i].v >> 32;
		CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd1)), cases[i].ok ? EMU_OK : IDT_GP);
		CHECK_EQ(f.cpu->st.xcr0, cases[i].ok ? cases[i].v : 1);
	}
	/* XCR other than 0, CPL 3: #GP(0). */
	f.cpu->st.gpr[GPR_RAX] = 3, f.cpu->st.gpr[GPR_RDX] = 0, f.cpu->st.gpr[GPR_RCX] = 1;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd1)), IDT_GP);
	f.cpu->st.gpr[GPR_RCX] = 0;
	f.cpu->cpl = 3;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd1)), IDT_GP);
	CHECK_EQ(f.cpu->st.xcr0, 1);
	/* XGETBV works at any CPL: ECX 0 is XCR0, 1 is XCR0 & XINUSE, 2 #GP. */
	f.cpu->st.xcr0 = 3;
	f.cpu->st.gpr[GPR_RCX] = 0;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 3);
	CHECK_EQ(f.cpu->st.gpr[GPR_RDX], 0);
	f.cpu->st.gpr[GPR_RCX] = 1;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 0);		/* both in their initial configuration */
	f.cpu->st.fxsave[160] = 1;			/* XMM0 */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 2);
	f.cpu->st.fxsave[160] = 0;
	f.cpu->st.fxsave[24] = 0x81;			/* MXCSR 1F81H: SSE in use too */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 2);
	f.cpu->st.fxsave[0] = 0x7e;			/* FCW */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 3);
	f.cpu->st.xcr0 = 1;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x01, 0xd0), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX], 1);
	f.cpu->st.gpr[GPR_RCX] = 2;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x0f, 0x01, 0xd0)), IDT_GP);
	/* 66 0F 01 D0 is not XGETBV. */
	f.cpu->st.gpr[GPR_RCX] = 0;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x66, 0x0f, 0x01, 0xd0)), IDT_UD);
	fx_fini(&f);
}

TEST(xsave_xrstor_round_trip)
{
	struct fx f;
	uint8_t saved[512], fximg[512];

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	dirty_state(&f);
	memcpy(saved, f.cpu->st.fxsave, 512);
	memset(f.ram + AREA, 0x5a, 512);
	memset(f.ram + AREA + 512, 0, 64);
	f.ram[AREA + 512] = 0x80;			/* a bit outside RFBM... */
	f.ram[AREA + 560] = 0x77;			/* ...and header bytes XSAVE leaves alone */
	CHECK_EQ(FX_RUN(&f, XSAVE64_RDI), EMU_OK);
	/* The legacy region is what FXSAVE64 writes (bytes 0-415). */
	f.cpu->st.gpr[GPR_RDI] = AREA2;
	CHECK_EQ(FX_RUN(&f, FXSAVE64_RDI), EMU_OK);
	memcpy(fximg, f.ram + AREA2, 512);
	CHECK(memcmp(f.ram + AREA, fximg, 416) == 0);
	CHECK_EQ(g64(&f, AREA + 512), 0x83);		/* XSTATE_BV: RFBM bits replaced */
	CHECK_EQ(g64(&f, AREA + 520), 0);		/* XCOMP_BV not written */
	CHECK_EQ(f.ram[AREA + 560], 0x77);
	CHECK_EQ(f.ram[AREA + 416], 0x5a);		/* reserved bytes not written */
	/* Back from another state. */
	f.ram[AREA + 560] = 0;
	f.ram[AREA + 512] = 3;
	memset(f.cpu->st.fxsave, 0, 512);
	f.cpu->st.gpr[GPR_RDI] = AREA;
	CHECK_EQ(FX_RUN(&f, XRSTOR64_RDI), EMU_OK);
	CHECK(memcmp(f.cpu->st.fxsave, saved, 416) == 0);
	/* Without REX.W, FIP/FDP are 32-bit offsets (as FXSAVE). */
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 8), 0x34567890ULL);
	fx_fini(&f);
}

TEST(xsave_partial_rfbm)
{
	struct fx f;

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	dirty_state(&f);
	memset(f.ram + AREA, 0x5a, 512);
	memset(f.ram + AREA + 512, 0, 64);
	f.ram[AREA + 512] = 2;				/* XSTATE_BV[1] from an earlier save */
	/* EDX:EAX = 1: x87 only; MXCSR and XMM untouched, XSTATE_BV[1] kept. */
	f.cpu->st.gpr[GPR_RAX] = 1, f.cpu->st.gpr[GPR_RDX] = 0;
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 3);
	CHECK_EQ(f.ram[AREA + 0], 0x7f);
	CHECK_EQ(f.ram[AREA + 24], 0x5a);
	CHECK_EQ(f.ram[AREA + 160], 0x5a);
	/* XCR0 = 1 masks SSE out whatever EDX:EAX asks. */
	f.cpu->st.xcr0 = 1;
	f.cpu->st.gpr[GPR_RAX] = 3;
	f.ram[AREA + 512] = 0;
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 1);
	CHECK_EQ(f.ram[AREA + 160], 0x5a);
	/* XRSTOR of x87 only leaves SSE and MXCSR alone. */
	f.cpu->st.xcr0 = 3;
	f.cpu->st.gpr[GPR_RAX] = 1;
	memset(f.cpu->st.fxsave + 160, 0x33, 16);
	f.cpu->st.fxsave[0] = 0;
	CHECK_EQ(FX_RUN(&f, XRSTOR_RDI), EMU_OK);
	CHECK_EQ(f.cpu->st.fxsave[0], 0x7f);
	CHECK_EQ(f.cpu->st.fxsave[160], 0x33);
	CHECK_EQ(f.cpu->st.fxsave[24], 0xa0);
	fx_fini(&f);
}

TEST(xsave_init_optimization)
{
	struct fx f;

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	/* x87 in use, SSE initial: XSAVEOPT skips the SSE data, XSTATE_BV[1] = 0. */
	f.cpu->st.fxsave[0] = 0x7e;
	memset(f.ram + AREA, 0x5a, 512);
	memset(f.ram + AREA + 512, 0, 64);
	f.ram[AREA + 512] = 2;
	CHECK_EQ(FX_RUN(&f, XSAVEOPT_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 1);
	CHECK_EQ(f.ram[AREA + 0], 0x7e);
	CHECK_EQ(f.ram[AREA + 160], 0x5a);		/* XMM0 not written */
	CHECK_EQ(f.ram[AREA + 24], 0x80);		/* MXCSR still is (RFBM[1]) */
	/* XSAVE writes the initial values and says so in XSTATE_BV. */
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 1);
	CHECK_EQ(f.ram[AREA + 160], 0);
	/* XRSTOR with XSTATE_BV clear initializes: x87 too, MXCSR from memory. */
	dirty_state(&f);
	memset(f.ram + AREA + 512, 0, 64);
	f.ram[AREA + 24] = 0xc0;			/* MXCSR image 1FC0H */
	CHECK_EQ(FX_RUN(&f, XRSTOR_RDI), EMU_OK);
	CHECK_EQ(f.cpu->st.fxsave[0] | f.cpu->st.fxsave[1] << 8, 0x037f);
	CHECK_EQ(f.cpu->st.fxsave[2] | f.cpu->st.fxsave[3] | f.cpu->st.fxsave[4], 0);
	CHECK_EQ(f.cpu->st.fxsave[32] | f.cpu->st.fxsave[8] | f.cpu->st.fxsave[6], 0);
	CHECK_EQ(f.cpu->st.fxsave[160] | f.cpu->st.fxsave[415], 0);
	CHECK_EQ(f.cpu->st.fxsave[24], 0xc0);
	fx_fini(&f);
}

TEST(xsave_compacted)
{
	struct fx f;
	uint8_t saved[512];

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	dirty_state(&f);
	memcpy(saved, f.cpu->st.fxsave, 512);
	memset(f.ram + AREA, 0x5a, 576);
	CHECK_EQ(FX_RUN(&f, XSAVEC_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 3);
	CHECK_EQ(g64(&f, AREA + 520), 0x8000000000000003ULL);
	/* Header bytes 16-63 are the caller's (must be 0 for XRSTOR). */
	memset(f.ram + AREA + 528, 0, 48);
	memset(f.cpu->st.fxsave, 0, 512);
	CHECK_EQ(FX_RUN(&f, XRSTOR_RDI), EMU_OK);
	CHECK_EQ(f.cpu->st.fxsave[0] | f.cpu->st.fxsave[1] << 8, 0x027f);
	CHECK(memcmp(f.cpu->st.fxsave + 24, saved + 24, 4) == 0);
	CHECK(memcmp(f.cpu->st.fxsave + 160, saved + 160, 256) == 0);
	CHECK(memcmp(f.cpu->st.fxsave + 32, saved + 32, 10) == 0);
	/* RFBM = x87 only: XCOMP_BV says so, SSE not in XSTATE_BV. */
	f.cpu->st.gpr[GPR_RAX] = 1, f.cpu->st.gpr[GPR_RDX] = 0;
	CHECK_EQ(FX_RUN(&f, XSAVEC_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 1);
	CHECK_EQ(g64(&f, AREA + 520), 0x8000000000000001ULL);
	/* Compacted, SSE requested but not in XSTATE_BV: XMM cleared, MXCSR 1F80H. */
	f.cpu->st.gpr[GPR_RAX] = 3;
	memcpy(f.ram + AREA + 520, &(uint64_t){ 0x8000000000000003ULL }, 8);
	CHECK_EQ(FX_RUN(&f, XRSTOR_RDI), EMU_OK);
	CHECK_EQ(f.cpu->st.fxsave[24] | f.cpu->st.fxsave[25] << 8, 0x1f80);
	CHECK_EQ(f.cpu->st.fxsave[160] | f.cpu->st.fxsave[300], 0);
	/* x87 and SSE initial: XSAVEC writes no data, XSTATE_BV = 0. */
	memset(f.cpu->st.fxsave, 0, 512);
	f.cpu->st.fxsave[0] = 0x7f, f.cpu->st.fxsave[1] = 0x03;
	f.cpu->st.fxsave[24] = 0x80, f.cpu->st.fxsave[25] = 0x1f;
	memset(f.ram + AREA, 0x5a, 512);
	CHECK_EQ(FX_RUN(&f, XSAVEC_RDI), EMU_OK);
	CHECK_EQ(g64(&f, AREA + 512), 0);
	CHECK_EQ(g64(&f, AREA + 520), 0x8000000000000003ULL);
	CHECK_EQ(f.ram[AREA + 0], 0x5a);
	CHECK_EQ(f.ram[AREA + 160], 0x5a);
	fx_fini(&f);
}

TEST(xsave_xrstor_faults)
{
	struct fx f;
	uint8_t before[512];
	int i;

	REQUIRE(xs_init(&f, EMU_MODE_LONG64) == 0);
	dirty_state(&f);
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	memset(f.ram + AREA + 520, 0, 56);
	memset(f.cpu->st.fxsave + 160, 0, 16);
	/* Each faults with #GP(0) and changes nothing. */
	for (i = 0; i < 8; i++) {
		uint8_t hdr[64];

		memcpy(before, f.cpu->st.fxsave, 512);
		memcpy(hdr, f.ram + AREA + 512, 64);
		switch (i) {
		case 0: f.ram[AREA + 512] |= 4; break;			/* XSTATE_BV AVX */
		case 1: f.ram[AREA + 536] = 1; break;			/* header byte 24 */
		case 2: f.ram[AREA + 528] = 1; break;			/* header byte 16 */
		case 3: memcpy(f.ram + AREA + 520, &(uint64_t){ 0x8000000000000007ULL }, 8); break;
		case 4: memcpy(f.ram + AREA + 520, &(uint64_t){ 0x8000000000000001ULL }, 8); break;
		case 5: memcpy(f.ram + AREA + 520, &(uint64_t){ 0x8000000000000003ULL }, 8);
			f.ram[AREA + 560] = 1; break;			/* compacted: bytes 16-63 */
		case 6: f.ram[AREA + 26] = 1; break;			/* MXCSR bit 16 */
		case 7: f.cpu->st.gpr[GPR_RDI] = AREA + 16; break;	/* 16- but not 64-aligned */
		}
		if (i == 1) {
			/* Standard form: bytes 24-63 are not checked (only 8-23). */
			CHECK_EQ(run_vec(&f, FX_RUN(&f, XRSTOR_RDI)), EMU_OK);
		} else {
			CHECK_EQ(run_vec(&f, FX_RUN(&f, XRSTOR_RDI)), IDT_GP);
			CHECK(memcmp(f.cpu->st.fxsave, before, 512) == 0);
		}
		memcpy(f.ram + AREA + 512, hdr, 64);
		f.ram[AREA + 26] = 0;
		f.cpu->st.gpr[GPR_RDI] = AREA;
	}
	/* #NM with CR0.TS; CR0.EM does not matter (SDM Vol. 2B XSAVE). */
	f.cpu->st.cr0 |= CR0_TS;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XSAVE_RDI)), IDT_NM);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XRSTOR_RDI)), IDT_NM);
	f.cpu->st.cr0 = (f.cpu->st.cr0 & ~CR0_TS) | CR0_EM;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XSAVE_RDI)), EMU_OK);
	/* Misaligned XSAVE: #GP(0); F3 0F AE /6 (CLRSSBSY) and LOCK: #UD. */
	f.cpu->st.gpr[GPR_RDI] = AREA + 32;
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XSAVE_RDI)), IDT_GP);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, XSAVEC_RDI)), IDT_GP);
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0xf3, XSAVEOPT_RDI)), IDT_UD);
	CHECK_EQ(FX_RUN(&f, 0xf0, XSAVE_RDI), -1);
	/* 66 0F AE /6 is CLWB: nothing to do, no alignment rule. */
	CHECK_EQ(run_vec(&f, FX_RUN(&f, 0x66, XSAVEOPT_RDI)), EMU_OK);
	fx_fini(&f);
}

TEST(xsave_outside_64bit_mode)
{
	struct fx f;

	REQUIRE(xs_init(&f, EMU_MODE_PROT32) == 0);
	dirty_state(&f);
	memset(f.ram + AREA, 0x5a, 512);
	memset(f.ram + AREA + 512, 0, 64);
	CHECK_EQ(FX_RUN(&f, XSAVE_RDI), EMU_OK);
	/* XMM0-7 only (bytes 160-287). */
	CHECK_EQ(f.ram[AREA + 287], (uint8_t)(287 * 7));
	CHECK_EQ(f.ram[AREA + 288], 0x5a);
	/* XRSTOR with SSE initial clears XMM0-7 and keeps XMM8-15. */
	f.ram[AREA + 512] = 1;
	CHECK_EQ(FX_RUN(&f, XRSTOR_RDI), EMU_OK);
	CHECK_EQ(f.cpu->st.fxsave[160], 0);
	CHECK_EQ(f.cpu->st.fxsave[288], (uint8_t)(288 * 7));
	fx_fini(&f);
}
