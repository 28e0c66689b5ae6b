/*
 * test_sse.c - fixed vectors for sse.c: the exception conditions (#UD #NM
 * #GP #XM, SDM Vol. 2A 2.5 and Vol. 3A 6.15), LDMXCSR/STMXCSR, the
 * x87-to-MMX transition and EMMS (Vol. 1 9.5), RCP/RSQRT against the SDM's
 * error bound on many inputs, MXCSR control, and that the host's MXCSR
 * is what it was after every guest operation.  tests/diff/test_sse_diff.c
 * compares every form with the host CPU.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "isa_fixture.h"
#include "test.h"

#define XMM(f, i)	((f)->cpu->st.fxsave + 160 + 16 * (i))

static uint32_t
mxcsr(struct fx *f)
{
	uint32_t v;

	memcpy(&v, f->cpu->st.fxsave + 24, 4);
	return v;
}

static void
set_mxcsr(struct fx *f, uint32_t v)
{
	memcpy(f->cpu->st.fxsave + 24, &v, 4);
}

static void
set_ps(struct fx *f, int r, float a, float b, float c, float d)
{
	float v[4] = { a, b, c, d };

	memcpy(XMM(f, r), v, 16);
}

static float
get_ps(struct fx *f, int r, int lane)
{
	float v;

	memcpy(&v, XMM(f, r) + 4 * lane, 4);
	return v;
}

static uint32_t
host_mxcsr(void)
{
	uint32_t v;

	__asm__ volatile("stmxcsr %0" : "=m" (v));
	return v;
}

/* no libm in the test link: the host's SQRTSD */
static double
host_sqrt(double d)
{
	__asm__("sqrtsd %1, %0" : "=x" (d) : "x" (d));
	return d;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static int
setup(struct fx *f)
{
	if (fx_init(f, EMU_MODE_LONG64) != 0)
		return -1;
	f->cpu->st.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	set_mxcsr(f, 0x1f80);
	return 0;
}

TEST(sse_control_register_faults)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	set_ps(&f, 1, 1, 2, 3, 4);
	set_ps(&f, 2, 1, 1, 1, 1);
	/* addps xmm1, xmm2 */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x58, 0xca), EMU_OK);
	CHECK(get_ps(&f, 1, 3) == 5.0f);
	f.cpu->st.cr0 |= CR0_EM;		/* #UD (SDM Vol. 2A table 2-21) */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x58, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	f.cpu->st.cr0 &= ~CR0_EM;
	f.cpu->st.cr4 &= ~CR4_OSFXSR;	/* #UD */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x58, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	/* ... but MMX does not need OSFXSR: paddb mm1, mm2 */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xfc, 0xca), EMU_OK);
	f.cpu->st.cr4 |= CR4_OSFXSR;
	f.cpu->st.cr0 |= CR0_TS;		/* #NM, for SSE, MMX and EMMS */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x58, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xfc, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x77), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK(get_ps(&f, 1, 3) == 5.0f);	/* nothing changed */
	/* LOCK is #UD */
	f.cpu->st.cr0 &= ~CR0_TS;
	CHECK_EQ(FX_RUN(&f, 0xf0, 0x0f, 0x58, 0x0a), -1);
	fx_fini(&f);
}

TEST(sse_alignment)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	f.cpu->st.gpr[GPR_RAX] = FX_DATA + 8;
	/* movaps xmm0, [rax]: #GP(0) when not 16-byte aligned (SDM Vol. 2B MOVAPS) */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x28, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	/* addps xmm0, [rax] too (legacy SSE m128 operands) */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x58, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	/* movups, lddqu, addss m32 and movq m64 do not check */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x10, 0x00), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0xf0, 0x00), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x58, 0x00), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x7e, 0x00), EMU_OK);
	f.cpu->st.gpr[GPR_RAX] = FX_DATA;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x28, 0x00), EMU_OK);
	/* MMX never checks: movq mm0, [rax + 1] */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x6f, 0x40, 0x01), EMU_OK);
	fx_fini(&f);
}

TEST(sse_ldmxcsr_stmxcsr)
{
	struct fx f;
	uint32_t v;

	REQUIRE(setup(&f) == 0);
	f.cpu->st.gpr[GPR_RAX] = FX_DATA;
	v = 0x7f80 | 0x40;		/* RC = up, DAZ */
	memcpy(f.ram + FX_DATA, &v, 4);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x10), EMU_OK);	/* ldmxcsr [rax] */
	CHECK_EQ(mxcsr(&f), 0x7fc0);
	v = 0x10000;			/* reserved bit: #GP(0) (SDM Vol. 2A LDMXCSR) */
	memcpy(f.ram + FX_DATA, &v, 4);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x10), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(mxcsr(&f), 0x7fc0);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x18), EMU_OK);	/* stmxcsr [rax] */
	memcpy(&v, f.ram + FX_DATA, 4);
	CHECK_EQ(v, 0x7fc0);
	/* 66 0F AE /2 is not LDMXCSR */
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0xae, 0x10), -1);
	fx_fini(&f);
}

TEST(sse_exceptions_xm_ud)
{
	struct fx f;
	uint32_t before;

	REQUIRE(setup(&f) == 0);
	set_ps(&f, 1, 1, 1, 1, 1);
	set_ps(&f, 2, 0, 1, 1, 1);
	/* divps, masked: +inf, ZE */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x5e, 0xca), EMU_OK);
	CHECK(isinf(get_ps(&f, 1, 0)));
	CHECK_EQ(mxcsr(&f), 0x1f80 | 0x4);
	/* ZE unmasked: #XM, the flag set, the destination unchanged (SDM Vol. 1 11.5.1) */
	set_ps(&f, 1, 1, 1, 1, 1);
	set_mxcsr(&f, 0x1f80 & ~0x200);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x5e, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_XF);
	CHECK(get_ps(&f, 1, 0) == 1.0f);
	CHECK_EQ(mxcsr(&f), (0x1f80 & ~0x200) | 0x4);
	/* CR4.OSXMMEXCPT clear: #UD instead (SDM Vol. 3A 6.15, interrupt 19) */
	f.cpu->st.cr4 &= ~CR4_OSXMMEXCPT;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x5e, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	f.cpu->st.cr4 |= CR4_OSXMMEXCPT;
	/* an unmasked PE on 1/3 */
	set_ps(&f, 2, 3, 1, 1, 1);
	set_mxcsr(&f, 0x1f80 & ~0x1000);
	before = mxcsr(&f);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x5e, 0xca), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_XF);
	CHECK_EQ(mxcsr(&f), before | 0x20);
	/* an unmasked underflow of an exact tiny result (Vol. 1 11.5.2.5): 2^-100 * 2^-40 */
	set_ps(&f, 1, 0x1p-100f, 0, 0, 0);
	set_ps(&f, 2, 0x1p-40f, 0, 0, 0);
	set_mxcsr(&f, 0x1f80 & ~0x800);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x59, 0xca), EMU_FAULT);	/* mulss */
	CHECK_EQ(f.cpu->exc_vector, IDT_XF);
	CHECK(mxcsr(&f) & 0x10);
	/* masked, the same is a denormal without UE */
	set_mxcsr(&f, 0x1f80);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x59, 0xca), EMU_OK);
	CHECK(get_ps(&f, 1, 0) == 0x1p-140f);
	CHECK_EQ(mxcsr(&f), 0x1f80);
	fx_fini(&f);
}

/*
 * PE with an unmasked overflow or underflow (SDM Vol. 1 4.9.1.4, 4.9.1.5,
 * 11.5.2.4, 11.5.2.5): set when the result rounded with an unbounded
 * exponent is inexact, whatever PM says; a lane whose underflow is masked
 * brings its own (denormalized) PE.  Expected flags as measured on Intel
 * (also checked against the host by tests/diff/test_sse_diff.c).
 */
TEST(sse_unmasked_overflow_underflow_pe)
{
	static const struct {
		const char	*what;
		uint8_t		op[5];
		int		len;
		double		a[2], b[2];	/* XMM1 (destination), XMM2 */
		uint32_t	mxcsr, flags;
	} v[] = {
		{ "mulsd OE inexact", { 0xf2, 0x0f, 0x59, 0xca }, 4, { 1e300 }, { 1e300 }, 0x1b80, 0x28 },
		{ "mulsd OE exact", { 0xf2, 0x0f, 0x59, 0xca }, 4, { 0x1p1000 }, { 0x1p1000 }, 0x1b80, 0x08 },
		{ "mulsd OE, PE unmasked", { 0xf2, 0x0f, 0x59, 0xca }, 4, { 1e300 }, { 1e300 }, 0x0b80,
		    0x28 },
		{ "mulsd UE inexact", { 0xf2, 0x0f, 0x59, 0xca }, 4, { 1e-300 }, { 1e-300 }, 0x1780, 0x30 },
		{ "mulsd UE exact", { 0xf2, 0x0f, 0x59, 0xca }, 4, { 0x1p-1000 }, { 0x1p-1000 }, 0x1780,
		    0x10 },
		{ "divsd UE, round up", { 0xf2, 0x0f, 0x5e, 0xca }, 4, { 0x1p-1000 }, { 0x1.8p100 },
		    0x5780, 0x30 },
		{ "cvtsd2ss OE inexact", { 0xf2, 0x0f, 0x5a, 0xca }, 4, { 0 }, { 1e300 }, 0x1b80, 0x28 },
		{ "cvtsd2ss OE exact", { 0xf2, 0x0f, 0x5a, 0xca }, 4, { 0 }, { 0x1p200 }, 0x1b80, 0x08 },
		/* lane 0 overflows (unmasked, exact), lane 1 underflows masked, inexact */
		{ "mulpd mixed", { 0x66, 0x0f, 0x59, 0xca }, 4, { 0x1p1000, 1e-300 }, { 0x1p1000, 1e-300 },
		    0x1b80, 0x38 },
		/* both exact: no PE */
		{ "mulpd exact", { 0x66, 0x0f, 0x59, 0xca }, 4, { 0x1p1000, 3 }, { 0x1p1000, 5 }, 0x1b80,
		    0x08 },
		/* HADDPD: the destination's pair overflows, inexact; the source's is exact */
		{ "haddpd", { 0x66, 0x0f, 0x7c, 0xca }, 4, { 0x1.0000000000001p1023, 0x1p1023 }, { 1, 2 },
		    0x1b80, 0x28 },
		{ "haddpd exact", { 0x66, 0x0f, 0x7c, 0xca }, 4, { 0x1p1023, 0x1p1023 }, { 1, 2 }, 0x1b80,
		    0x08 },
	};
	struct fx f;
	size_t i;

	REQUIRE(setup(&f) == 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t before[16];

		memcpy(XMM(&f, 1), v[i].a, 16);
		memcpy(XMM(&f, 2), v[i].b, 16);
		memcpy(before, XMM(&f, 1), 16);
		set_mxcsr(&f, v[i].mxcsr);
		CHECK_EQ(fx_run(&f, v[i].op, v[i].len), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_XF);
		if ((mxcsr(&f) & 0x3f) != v[i].flags)
			fprintf(stderr, "  %s: flags %02x, want %02x\n", v[i].what,
			    mxcsr(&f) & 0x3f, v[i].flags);
		CHECK_EQ(mxcsr(&f), v[i].mxcsr | v[i].flags);
		CHECK(memcmp(before, XMM(&f, 1), 16) == 0);	/* no result */
	}
	fx_fini(&f);
}

TEST(sse_mxcsr_control)
{
	static const uint32_t rc[4] = { 0x0000, 0x2000, 0x4000, 0x6000 };
	struct fx f;
	float want[4];
	uint32_t host = host_mxcsr();

	REQUIRE(setup(&f) == 0);
	/* 1 / 3 in each rounding mode: 0x3eaaaaab nearest = up, 0x3eaaaaaa down = zero */
	for (int i = 0; i < 4; i++) {
		set_ps(&f, 1, 1, -1, 0, 0);
		set_ps(&f, 2, 3, 3, 1, 1);
		set_mxcsr(&f, 0x1f80 | rc[i]);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x5e, 0xca), EMU_OK);
		want[i] = get_ps(&f, 1, 0);
		CHECK_EQ(host_mxcsr(), host);	/* the host's MXCSR is back */
	}
	CHECK(want[0] == want[2] && want[1] < want[0] && want[3] == want[1]);
	/* FTZ: a tiny result is zero (with UE PE); DAZ: a denormal operand is zero */
	set_ps(&f, 1, 0x1p-100f, 0, 0, 0);
	set_ps(&f, 2, 0x1p-40f, 0, 0, 0);
	set_mxcsr(&f, 0x1f80 | 0x8000);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x59, 0xca), EMU_OK);
	CHECK(get_ps(&f, 1, 0) == 0.0f);
	CHECK_EQ(mxcsr(&f), 0x1f80 | 0x8000 | 0x30);
	set_ps(&f, 1, 0x1p-140f, 0, 0, 0);
	set_ps(&f, 2, 1, 0, 0, 0);
	set_mxcsr(&f, 0x1f80 | 0x40);
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x58, 0xca), EMU_OK);	/* addss */
	CHECK(get_ps(&f, 1, 0) == 1.0f);
	CHECK_EQ(host_mxcsr(), host);
	fx_fini(&f);
}

/* RCP/RSQRT: |relative error| <= 1.5 * 2^-12 (SDM Vol. 2B RCPPS, RSQRTPS) */
TEST(sse_rcp_rsqrt_bound)
{
	struct fx f;
	uint32_t x = 0x3f800000u;
	int n = 0;

	REQUIRE(setup(&f) == 0);
	for (int i = 0; i < 20000; i++) {
		float in, r, q;
		double e;

		x = x * 1664525u + 1013904223u;
		in = 0;
		memcpy(&in, &x, 4);
		if (!isnormal(in) || fabsf(in) > 0x1p125f || fabsf(in) < 0x1p-125f)
			continue;
		in = fabsf(in);
		set_ps(&f, 2, in, in, in, in);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x53, 0xca), EMU_OK);	/* rcpps */
		r = get_ps(&f, 1, 2);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x52, 0xca), EMU_OK);	/* rsqrtps */
		q = get_ps(&f, 1, 1);
		e = fabs((double)r * in - 1);
		CHECK(e <= 1.5 * 0x1p-12);
		e = fabs((double)q * host_sqrt((double)in) - 1);
		CHECK(e <= 1.5 * 0x1p-12);
		n++;
	}
	CHECK(n > 10000);
	/* special cases: 1/+-0 = +-inf, 1/inf = 0, rsqrt(-1) = QNaN indefinite */
	set_ps(&f, 2, 0.0f, -0.0f, INFINITY, -1.0f);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x53, 0xca), EMU_OK);
	CHECK(isinf(get_ps(&f, 1, 0)) && get_ps(&f, 1, 0) > 0);
	CHECK(isinf(get_ps(&f, 1, 1)) && get_ps(&f, 1, 1) < 0);
	CHECK(get_ps(&f, 1, 2) == 0.0f);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x52, 0xca), EMU_OK);
	{
		uint32_t v;

		memcpy(&v, XMM(&f, 1) + 12, 4);
		CHECK_EQ(v, 0xffc00000u);
	}
	CHECK_EQ(mxcsr(&f), 0x1f80);	/* no flags */
	fx_fini(&f);
}

/* SDM Vol. 1 9.5.1: TOP = 0, all tags valid, bits 79:64 of a written MMi = 1s; EMMS empties */
TEST(sse_mmx_x87_transition)
{
	struct fx f;
	uint8_t *fxs;
	uint64_t v = 0x1122334455667788ULL;

	REQUIRE(setup(&f) == 0);
	fxs = f.cpu->st.fxsave;
	fxs[3] = 3 << 3;		/* TOP = 3 */
	fxs[4] = 0x01;			/* only R0 tagged valid */
	/* R5 = ST((5 - 3) mod 8) = ST2 */
	memcpy(fxs + 32 + 16 * 2, &v, 8);
	/* movq mm0, mm5 (0F 6F C5) */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x6f, 0xc5), EMU_OK);
	CHECK_EQ((fxs[3] >> 3) & 7, 0);
	CHECK_EQ(fxs[4], 0xff);
	CHECK_EQ(get64(fxs + 32), v);			/* MM0 = slot 0 */
	CHECK_EQ(fxs[40], 0xff);
	CHECK_EQ(fxs[41], 0xff);
	CHECK_EQ(get64(fxs + 32 + 16 * 5), v);		/* R5 rotated to slot 5 */
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x77), EMU_OK);		/* emms */
	CHECK_EQ(fxs[4], 0);
	/* a pending x87 exception (FSW.ES) with CR0.NE: #MF before an MMX instruction */
	fxs[2] |= 0x80;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0x6f, 0xc5), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_MF);
	fx_fini(&f);
}

/* MASKMOVDQU stores only the selected bytes at DS:rDI. */
TEST(sse_maskmovdqu)
{
	struct fx f;
	uint8_t mask[16] = { 0x80, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80 };

	REQUIRE(setup(&f) == 0);
	memset(XMM(&f, 1), 0xaa, 16);
	memcpy(XMM(&f, 2), mask, 16);
	memset(f.ram + FX_DATA, 0x11, 32);
	f.cpu->st.gpr[GPR_RDI] = FX_DATA + 3;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0xf7, 0xca), EMU_OK);
	CHECK_EQ(f.ram[FX_DATA + 3], 0xaa);
	CHECK_EQ(f.ram[FX_DATA + 4], 0x11);
	CHECK_EQ(f.ram[FX_DATA + 5], 0xaa);
	CHECK_EQ(f.ram[FX_DATA + 6], 0x11);
	CHECK_EQ(f.ram[FX_DATA + 18], 0xaa);
	CHECK_EQ(f.ram[FX_DATA + 19], 0x11);
	fx_fini(&f);
}

/* ---- SSE4.2 ---- */

static void
set_str(struct fx *f, int r, const char *s, size_t n)
{
	memset(XMM(f, r), 0, 16);
	memcpy(XMM(f, r), s, n);
}

#define STR(f, r, lit)	set_str(f, r, lit, sizeof(lit) - 1)
#define ARITH		(RFL_CF | RFL_PF | RFL_AF | RFL_ZF | RFL_SF | RFL_OF)

/*
 * CRC32 (SDM Vol. 2A CRC32): CRC-32C of "123456789" is E3069283H (the
 * catalogue's check value, with initial value and final XOR FFFFFFFFH),
 * byte, word, dword and qword forms agree, and flags are unchanged.
 */
TEST(sse42_crc32)
{
	struct fx f;
	uint32_t a, b;

	REQUIRE(setup(&f) == 0);
	memcpy(f.ram + FX_DATA, "123456789", 9);
	f.cpu->st.gpr[GPR_RAX] = FX_DATA;
	/* upper bits of RCX are ignored by the r64 form and zeroed */
	f.cpu->st.gpr[GPR_RCX] = 0xdeadbeefffffffffULL;
	emu_set_rflags(f.cpu, 0x202 | RFL_CF | RFL_ZF);
	/* crc32 rcx, qword [rax]; crc32 ecx, byte [rax + 8] */
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0x08), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX] >> 32, 0);
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0x48, 0x08), EMU_OK);
	CHECK_EQ(~(uint32_t)f.cpu->st.gpr[GPR_RCX], 0xe3069283u);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_ZF);
	/* byte by byte: crc32 ecx, byte [rax + rdx] */
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	for (int i = 0; i < 9; i++) {
		f.cpu->st.gpr[GPR_RDX] = (uint64_t)i;
		CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0x0c, 0x10), EMU_OK);
	}
	CHECK_EQ(~(uint32_t)f.cpu->st.gpr[GPR_RCX], 0xe3069283u);
	/* 66: crc32 ecx, word [rax] = the two bytes one by one; 32-bit form */
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	CHECK_EQ(FX_RUN(&f, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0x08), EMU_OK);
	a = (uint32_t)f.cpu->st.gpr[GPR_RCX];
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0x08), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0x48, 0x01), EMU_OK);
	CHECK_EQ((uint32_t)f.cpu->st.gpr[GPR_RCX], a);
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf1, 0x08), EMU_OK);
	b = (uint32_t)f.cpu->st.gpr[GPR_RCX];
	f.cpu->st.gpr[GPR_RCX] = a;
	CHECK_EQ(FX_RUN(&f, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0x48, 0x02), EMU_OK);
	CHECK_EQ((uint32_t)f.cpu->st.gpr[GPR_RCX], b);
	/* without REX, r/m8 4 is AH: crc32 ecx, ah = crc32 ecx, byte '2' */
	f.cpu->st.gpr[GPR_RAX] = 0x3200;
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0xcc), EMU_OK);
	a = (uint32_t)f.cpu->st.gpr[GPR_RCX];
	f.cpu->st.gpr[GPR_RDX] = 0x32;
	f.cpu->st.gpr[GPR_RCX] = 0xffffffff;
	CHECK_EQ(FX_RUN(&f, 0xf2, 0x0f, 0x38, 0xf0, 0xca), EMU_OK);	/* dl */
	CHECK_EQ((uint32_t)f.cpu->st.gpr[GPR_RCX], a);
	/* F3 0F 38 F0 is #UD; LOCK is #UD */
	CHECK_EQ(FX_RUN(&f, 0xf3, 0x0f, 0x38, 0xf0, 0xca), -1);
	CHECK_EQ(FX_RUN(&f, 0xf0, 0xf2, 0x0f, 0x38, 0xf1, 0x08), -1);
	fx_fini(&f);
}

/*
 * PCMPxSTRx on strings whose answers are known (SDM Vol. 2B 4.1): the
 * idioms of strpbrk (equal any), character classes (ranges), strcmp
 * (equal each, negative polarity), strstr (equal ordered).
 */
TEST(sse42_pcmpistri_idioms)
{
	struct fx f;
	uint8_t m[16];

	REQUIRE(setup(&f) == 0);
	STR(&f, 1, "aeiou");
	STR(&f, 2, "hello world");
	/* pcmpistri xmm1, xmm2, 0x00: the first vowel, 'e' at 1 */
	f.cpu->st.gpr[GPR_RCX] = ~0ULL;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 1);		/* ECX, zero-extended */
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_ZF | RFL_SF);
	/* 0x40: the last, 'o' at 7 */
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x40), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 7);
	/* negative polarity: the first non-vowel, 'h' at 0: OF = IntRes2[0] */
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x10), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 0);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_ZF | RFL_SF | RFL_OF);

	/* ranges 'a'-'z': the first lower-case letter of "ABCdef" is 3 */
	STR(&f, 1, "az");
	STR(&f, 2, "ABCdef");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x04), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 3);
	/* signed bytes: -10..10 holds -5 (index 1); unsigned F6H..0AH is empty */
	STR(&f, 1, "\xf6\x0a");
	STR(&f, 2, "\x80\xfb\x05\x64");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x06), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 1);
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x04), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 16);
	CHECK_EQ(emu_rflags(f.cpu) & RFL_CF, 0);

	/* strcmp (0x18, equal each, negative): "help!" and "hello" differ at 3 */
	STR(&f, 1, "help!");
	STR(&f, 2, "hello");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x18), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 3);
	/* equal strings: past both ends is "equal" too, so no bit: 16, CF = 0 */
	STR(&f, 1, "hello");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x18), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 16);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_ZF | RFL_SF);
	/* masked negative (0x38): only xmm2's 5 characters count */
	STR(&f, 1, "hellx");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x38), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 4);

	/* strstr (0x0c, equal ordered): "lo" in "hello world" at 3 */
	STR(&f, 1, "lo");
	STR(&f, 2, "hello world");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x0c), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 3);
	/* a needle running past the end of a full 16-byte text still matches */
	set_str(&f, 2, "0123456789abcdef", 16);
	STR(&f, 1, "efgh");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x0c), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 14);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_SF);

	/* pcmpistrm xmm1, xmm2, 0x0c / 0x4c: the match as a bit or a byte mask in XMM0 */
	STR(&f, 1, "l");
	STR(&f, 2, "hello");
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x62, 0xca, 0x0c), EMU_OK);
	CHECK_EQ(get64(XMM(&f, 0)), 0x0c);
	CHECK_EQ(get64(XMM(&f, 0) + 8), 0);
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x62, 0xca, 0x4c), EMU_OK);
	memcpy(m, XMM(&f, 0), 16);
	CHECK(m[1] == 0 && m[2] == 0xff && m[3] == 0xff && m[4] == 0 && m[15] == 0);
	/* words, equal any, word mask: "l" in "hello" as UTF-16 */
	set_str(&f, 1, "l\0", 2);
	set_str(&f, 2, "h\0e\0l\0l\0o\0", 10);
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x62, 0xca, 0x41), EMU_OK);
	CHECK_EQ(get64(XMM(&f, 0)), 0xffffffff00000000ULL);
	CHECK_EQ(get64(XMM(&f, 0) + 8), 0);
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x63, 0xca, 0x01), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 2);
	fx_fini(&f);
}

/*
 * PCMPESTRI/M: lengths are |EAX| and |EDX| (RAX/RDX with REX.W),
 * saturated to 16 or 8; the memory operand need not be aligned.
 */
TEST(sse42_pcmpestri_lengths)
{
	struct fx f;

	REQUIRE(setup(&f) == 0);
	set_str(&f, 1, "aeiouxxxxxxxxxxx", 16);
	memcpy(f.ram + FX_DATA + 1, "hello world\0\0\0\0\0", 16);
	f.cpu->st.gpr[GPR_RBX] = FX_DATA + 1;
	/* pcmpestri xmm1, [rbx], 0x00 with EAX = 2 ("ae"), EDX = -20 (16): 'e' at 1 */
	f.cpu->st.gpr[GPR_RAX] = 2;
	f.cpu->st.gpr[GPR_RDX] = (uint32_t)-20;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x61, 0x0b, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 1);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_SF);
	/* EAX = -1: only 'a', which "hello world" lacks; EDX = 5 sets ZF */
	f.cpu->st.gpr[GPR_RAX] = 0xffffffff;
	f.cpu->st.gpr[GPR_RDX] = 5;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x61, 0x0b, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 16);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_ZF | RFL_SF);
	/* without REX.W only EAX counts: RAX = 1 << 32 | 2 is 2 ... */
	f.cpu->st.gpr[GPR_RAX] = (1ULL << 32) | 2;
	f.cpu->st.gpr[GPR_RDX] = 16;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x61, 0x0b, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 1);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF | RFL_SF);
	/* ... with REX.W it is out of range: 16, SF clear, all vowels and 'x' */
	CHECK_EQ(FX_RUN(&f, 0x66, 0x48, 0x0f, 0x3a, 0x61, 0x0b, 0x00), EMU_OK);
	CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 1);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF);
	/* INT64_MIN saturates too */
	f.cpu->st.gpr[GPR_RAX] = 1ULL << 63;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x48, 0x0f, 0x3a, 0x61, 0x0b, 0x00), EMU_OK);
	CHECK_EQ(emu_rflags(f.cpu) & ARITH, RFL_CF);
	/* pcmpestrm, explicit NULs are characters: "\0" in "a\0b" at 1 */
	set_str(&f, 1, "", 0);
	set_str(&f, 2, "a\0b", 3);
	f.cpu->st.gpr[GPR_RAX] = 1;
	f.cpu->st.gpr[GPR_RDX] = 3;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x60, 0xca, 0x00), EMU_OK);
	CHECK_EQ(get64(XMM(&f, 0)), 0x2);
	/* OSFXSR clear: #UD as for every SSE instruction */
	f.cpu->st.cr4 &= ~CR4_OSFXSR;
	CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x60, 0xca, 0x00), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
}

/*
 * AES-NI against FIPS-197 appendix C.1 (AES-128: key 000102..0F, plaintext
 * 00112233..FF, ciphertext 69C4E0D8..C55A): the key expansion with
 * AESKEYGENASSIST (the XORs of the schedule in C), ten rounds with AESENC
 * and AESENCLAST, then back with AESIMC, AESDEC and AESDECLAST.  PCLMULQDQ
 * on products worked by hand, each quadword selection of imm8.
 */
TEST(sse_aes_fips197_pclmulqdq)
{
	static const uint8_t rcon[10] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36 };
	static const uint8_t ct[16] = {
		0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
		0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a,
	};
	uint8_t rk[11][16], pt[16];
	struct fx f;
	int i, j;

	REQUIRE(setup(&f) == 0);
	for (i = 0; i < 16; i++) {
		rk[0][i] = (uint8_t)i;
		pt[i] = (uint8_t)(0x11 * i);
	}
	for (i = 1; i <= 10; i++) {
		uint32_t w[4], t;
		uint8_t op[6] = { 0x66, 0x0f, 0x3a, 0xdf, 0xca, rcon[i - 1] };	/* xmm1, xmm2 */

		memcpy(XMM(&f, 2), rk[i - 1], 16);
		CHECK_EQ(fx_run(&f, op, 6), EMU_OK);
		memcpy(&t, XMM(&f, 1) + 12, 4);		/* RotWord(SubWord(w3)) ^ rcon */
		memcpy(w, rk[i - 1], 16);
		w[0] ^= t;
		for (j = 1; j < 4; j++)
			w[j] ^= w[j - 1];
		memcpy(rk[i], w, 16);
	}
	/* xmm1 = plaintext ^ round key 0; xmm2 = each round key */
	for (i = 0; i < 16; i++)
		XMM(&f, 1)[i] = pt[i] ^ rk[0][i];
	for (i = 1; i <= 10; i++) {
		memcpy(XMM(&f, 2), rk[i], 16);
		if (i < 10)
			CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xdc, 0xca), EMU_OK);	/* aesenc */
		else
			CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xdd, 0xca), EMU_OK);	/* aesenclast */
	}
	CHECK(memcmp(XMM(&f, 1), ct, 16) == 0);
	/* the equivalent inverse cipher (FIPS-197 5.3.5): AESIMC of keys 1-9 */
	for (i = 0; i < 16; i++)
		XMM(&f, 1)[i] ^= rk[10][i];
	for (i = 9; i >= 0; i--) {
		if (i > 0) {
			memcpy(XMM(&f, 3), rk[i], 16);
			CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xdb, 0xd3), EMU_OK);	/* aesimc xmm2, xmm3 */
			CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xde, 0xca), EMU_OK);	/* aesdec */
		} else {
			memcpy(XMM(&f, 2), rk[0], 16);
			CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x38, 0xdf, 0xca), EMU_OK);	/* aesdeclast */
		}
	}
	CHECK(memcmp(XMM(&f, 1), pt, 16) == 0);
	/* PCLMULQDQ: (x^7+x^2+x+1) (x+1) = x^8+x^7+x^3+1; x^63 x^63 = x^126 */
	{
		static const uint64_t d[2] = { 0x87, 1ULL << 63 }, s2[2] = { 3, 1ULL << 63 };
		uint64_t r[2];

		memcpy(XMM(&f, 1), d, 16);
		memcpy(XMM(&f, 2), s2, 16);
		CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x44, 0xca, 0x00), EMU_OK);
		memcpy(r, XMM(&f, 1), 16);
		CHECK(r[0] == 0x189 && r[1] == 0);
		memcpy(XMM(&f, 1), d, 16);
		CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x44, 0xca, 0x11), EMU_OK);
		memcpy(r, XMM(&f, 1), 16);
		CHECK(r[0] == 0 && r[1] == 1ULL << 62);
		memcpy(XMM(&f, 1), d, 16);
		CHECK_EQ(FX_RUN(&f, 0x66, 0x0f, 0x3a, 0x44, 0xca, 0x01), EMU_OK);	/* d.hi * s.lo */
		memcpy(r, XMM(&f, 1), 16);
		CHECK(r[0] == (1ULL << 63) && r[1] == 1);	/* x^63 (x + 1) */
	}
	fx_fini(&f);
}
