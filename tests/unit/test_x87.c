/*
 * test_x87.c - the x87 of the software CPU (x87.c) on fixed vectors from
 * the SDM and against an independent reference.
 *
 * tests/diff/test_x87_diff.c compares every encoding with the host CPU;
 * since x87.c executes on the host's unit, that proves the plumbing (state
 * images, stack, pointers, memory operands) more than the arithmetic.  So
 * here: the rounding constants of FLDPI (SDM Vol. 1 8.3.8), precision
 * control and rounding control on 1/3 (8.1.5), FMUL and FDIV on random
 * operands against a correctly rounded multi-precision computation under
 * every precision and rounding control, stack overflow and underflow
 * (8.5.1.1), masked and unmasked exceptions and #MF (8.7 with CR0.NE),
 * #NM (Vol. 3A table 2-2), FXSAVE alignment, FNSAVE/FRSTOR round trips in
 * 16-bit, real and protected mode formats.
 */
#include <quadmath.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"

#define FSW(f)	((uint16_t)((f)->cpu->st.fxsave[2] | (f)->cpu->st.fxsave[3] << 8))
#define TOP(f)	((FSW(f) >> 11) & 7)

struct f80 {
	uint64_t	m;
	uint16_t	se;
};

static struct f80
st_get(struct fx *f, int i)
{
	struct f80 v;

	memcpy(&v.m, f->cpu->st.fxsave + 32 + 16 * i, 8);
	memcpy(&v.se, f->cpu->st.fxsave + 32 + 16 * i + 8, 2);
	return v;
}

static void
set_fcw(struct fx *f, uint16_t fcw)
{
	memcpy(f->cpu->st.fxsave, &fcw, 2);
}

/* An empty stack with FCW @fcw, then push @n values (ST(0) = v[0]). */
static void
load_stack(struct fx *f, uint16_t fcw, const struct f80 *v, int n)
{
	uint8_t *fx = f->cpu->st.fxsave;
	uint16_t fsw = (uint16_t)(((8 - n) & 7) << 11);
	int i;

	memset(fx, 0, 160);
	memcpy(fx, &fcw, 2);
	memcpy(fx + 2, &fsw, 2);
	for (i = 0; i < n; i++) {
		memcpy(fx + 32 + 16 * i, &v[i].m, 8);
		memcpy(fx + 32 + 16 * i + 8, &v[i].se, 2);
		fx[4] |= (uint8_t)(1u << ((8 - n + i) & 7));
	}
}

static int
init64(struct fx *f)
{
	int rc = fx_init(f, EMU_MODE_LONG64);

	f->cpu->st.cr0 |= CR0_MP;
	f->cpu->st.rip = 0x1000;
	return rc;
}

TEST(x87_fninit_fld1_fldpi_rounding)
{
	struct fx f;
	struct f80 v;

	REQUIRE(init64(&f) == 0);
	memset(f.cpu->st.fxsave, 0xa5, 160);
	CHECK_EQ(FX_RUN(&f, 0xdb, 0xe3), EMU_OK);		/* fninit */
	CHECK_EQ(f.cpu->st.fxsave[0] | f.cpu->st.fxsave[1] << 8, 0x037f);
	CHECK_EQ(FSW(&f), 0);
	CHECK_EQ(f.cpu->st.fxsave[4], 0);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_OK);		/* fld1 */
	v = st_get(&f, 0);
	CHECK_EQ(v.se, 0x3fff);
	CHECK_EQ(v.m, 0x8000000000000000ULL);
	CHECK_EQ(TOP(&f), 7);
	/* FLDPI: pi = C90FDAA2 2168C234 C...; nearest and up give ...C235 */
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xeb), EMU_OK);
	CHECK_EQ(st_get(&f, 0).m, 0xc90fdaa22168c235ULL);
	CHECK_EQ(st_get(&f, 0).se, 0x4000);
	set_fcw(&f, 0x077f);					/* RC = down */
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xeb), EMU_OK);
	CHECK_EQ(st_get(&f, 0).m, 0xc90fdaa22168c234ULL);
	CHECK_EQ(TOP(&f), 5);
	fx_fini(&f);
}

/* 1/3 under each precision and rounding control (SDM Vol. 1 8.1.5). */
TEST(x87_precision_rounding_third)
{
	static const struct {
		uint16_t	pc_rc;		/* FCW bits 8-11 */
		uint64_t	m;
		int		up;		/* C1: rounded up */
	} want[] = {
		{ 0x000, 0xaaaaab0000000000ULL, 1 },	/* 24 bits, nearest */
		{ 0x400, 0xaaaaaa0000000000ULL, 0 },	/* 24, down */
		{ 0x800, 0xaaaaab0000000000ULL, 1 },	/* 24, up */
		{ 0xc00, 0xaaaaaa0000000000ULL, 0 },	/* 24, zero */
		{ 0x200, 0xaaaaaaaaaaaaa800ULL, 0 },	/* 53, nearest */
		{ 0xa00, 0xaaaaaaaaaaaab000ULL, 1 },	/* 53, up */
		{ 0x300, 0xaaaaaaaaaaaaaaabULL, 1 },	/* 64, nearest */
		{ 0xf00, 0xaaaaaaaaaaaaaaaaULL, 0 },	/* 64, zero */
	};
	struct fx f;
	size_t i;

	REQUIRE(init64(&f) == 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct f80 ops[2] = { { 1ULL << 63, 0x3fff }, { 3ULL << 62, 0x4000 } };

		load_stack(&f, (uint16_t)(0x007f | want[i].pc_rc), ops, 2);
		CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);	/* fdiv st0, st1 */
		CHECK_EQ(st_get(&f, 0).m, want[i].m);
		CHECK_EQ(st_get(&f, 0).se, 0x3ffd);
		CHECK(FSW(&f) & 0x20);				/* PE */
		CHECK_EQ(!!(FSW(&f) & 0x200), want[i].up);
	}
	fx_fini(&f);
}

/* ---- an independent reference: correctly rounded FMUL/FDIV ---- */

static uint64_t rs = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

/*
 * Round the positive integer @s (with @sticky: bits below it were not
 * zero) times 2^@e to @p significant bits by @rc (0 nearest even, 1 down,
 * 2 up, 3 zero) for sign @neg.  Returns the 80-bit value; *inexact, *up.
 */
static struct f80
round_ref(unsigned __int128 s, bool sticky, int e, int p, int rc, bool neg,
    bool *inexact, bool *up)
{
	int nbits = 128 - (s >> 64 ? __builtin_clzll((uint64_t)(s >> 64)) :
	    64 + __builtin_clzll((uint64_t)s));
	int sh = nbits - p;
	unsigned __int128 kept, rem = 0, half;
	bool inc = false;
	struct f80 r;

	if (sh > 0) {
		kept = s >> sh;
		rem = s & (((unsigned __int128)1 << sh) - 1);
		half = (unsigned __int128)1 << (sh - 1);
	} else {
		kept = s << -sh;
		half = 0;
	}
	*inexact = rem != 0 || sticky;
	switch (rc) {
	case 0:
		inc = sh > 0 && (rem > half || (rem == half && (sticky || (kept & 1))));
		break;
	case 1:
		inc = *inexact && neg;
		break;
	case 2:
		inc = *inexact && !neg;
		break;
	default:
		break;
	}
	e += nbits - 1;
	if (inc) {
		kept++;
		if (kept >> p) {
			kept >>= 1;
			e++;
		}
	}
	*up = inc;
	r.m = (uint64_t)kept << (64 - p);
	r.se = (uint16_t)((e + 16383) | (neg ? 0x8000 : 0));
	return r;
}

TEST(x87_fmul_fdiv_reference)
{
	static const int pcbits[4] = { 24, 0, 53, 64 };
	struct fx f;
	int i, bad = 0;

	REQUIRE(init64(&f) == 0);
	for (i = 0; i < 50000; i++) {
		int pc = (int)(rng() % 3), rc = (int)(rng() & 3), p;
		bool div = rng() & 1, inexact, up, neg;
		struct f80 a, b, want, got;
		unsigned __int128 s;
		bool sticky = false;
		int e;

		pc = pc == 0 ? 0 : pc + 1;
		p = pcbits[pc];
		a.m = rng() | 1ULL << 63;
		b.m = rng() | 1ULL << 63;
		if (rng() & 1)
			a.m &= ~0ULL << (rng() % 64);
		if (rng() & 1)
			b.m &= ~0ULL << (rng() % 64);
		a.se = (uint16_t)(0x3fff + (int)(rng() % 200) - 100 + (rng() & 0x8000));
		b.se = (uint16_t)(0x3fff + (int)(rng() % 200) - 100 + (rng() & 0x8000));
		neg = ((a.se ^ b.se) & 0x8000) != 0;
		if (div) {
			/* 64 or 65 quotient bits, then 8 more: guard bits for p = 64 */
			unsigned __int128 r = ((unsigned __int128)a.m << 64) % b.m;

			s = ((unsigned __int128)a.m << 64) / b.m;
			s = s << 8 | (r << 8) / b.m;
			sticky = (r << 8) % b.m != 0;
			e = (a.se & 0x7fff) - (b.se & 0x7fff) - 72;
		} else {
			s = (unsigned __int128)a.m * b.m;
			e = (a.se & 0x7fff) + (b.se & 0x7fff) - 2 * 16383 - 126;
		}
		want = round_ref(s, sticky, e, p, rc, neg, &inexact, &up);
		{
			struct f80 ops[2] = { a, b };

			load_stack(&f, (uint16_t)(0x007f | pc << 8 | rc << 10), ops, 2);
		}
		/* fdiv st0, st1 / fmul st0, st1 */
		if (div)
			CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);
		else
			CHECK_EQ(FX_RUN(&f, 0xd8, 0xc9), EMU_OK);
		got = st_get(&f, 0);
		if ((got.m != want.m || got.se != want.se ||
		    !!(FSW(&f) & 0x20) != inexact || !!(FSW(&f) & 0x200) != up) && bad++ < 5)
			fprintf(stderr, "  %s pc %d rc %d: %04x:%016llx %04x:%016llx -> "
			    "%04x:%016llx fsw %04x, want %04x:%016llx pe %d c1 %d\n",
			    div ? "fdiv" : "fmul", p, rc, a.se, (unsigned long long)a.m,
			    b.se, (unsigned long long)b.m, got.se, (unsigned long long)got.m,
			    FSW(&f), want.se, (unsigned long long)want.m, inexact, up);
	}
	CHECK_EQ(bad, 0);
	fx_fini(&f);
}

/*
 * Unmasked numeric overflow and underflow with a register destination (SDM
 * Vol. 1 4.9.1.4, 4.9.1.5, 8.5.4, 8.5.5): the result is rounded to the
 * precision control as if the exponent range were unbounded, then its
 * exponent is divided by 2^24576 (overflow) or multiplied by it (underflow)
 * and stored; PE says the rounding was inexact and C1 that it went up; OE
 * or UE with ES and B stay pending.  FMUL and FDIV against round_ref.
 */
TEST(x87_unmasked_overflow_underflow_bias)
{
	static const int pcbits[4] = { 24, 0, 53, 64 };
	struct fx f;
	int i, bad = 0, nover = 0, nunder = 0;

	REQUIRE(init64(&f) == 0);
	for (i = 0; i < 20000; i++) {
		int pc = (int)(rng() % 3), rc = (int)(rng() & 3), p, e, ue;
		bool div = rng() & 1, over = rng() & 1, inexact, up, neg;
		struct f80 a, b, want, got;
		unsigned __int128 s;
		bool sticky = false;
		uint16_t fsw, want_fsw;

		pc = pc == 0 ? 0 : pc + 1;
		p = pcbits[pc];
		a.m = rng() | 1ULL << 63;
		b.m = rng() | 1ULL << 63;
		if (rng() & 1)
			a.m &= ~0ULL << (rng() % 64);
		/*
		 * Unbiased result exponents 16500..24000 (overflow) or
		 * -24000..-16500 (underflow): out of range by more than a
		 * rounding carry, inside the 24576 adjustment.
		 */
		ue = 16500 + (int)(rng() % 7500);
		if (!over)
			ue = -ue;
		if (div) {
			a.se = (uint16_t)(0x3fff + ue / 2);
			b.se = (uint16_t)(0x3fff - (ue - ue / 2));
		} else {
			a.se = (uint16_t)(0x3fff + ue / 2);
			b.se = (uint16_t)(0x3fff + (ue - ue / 2));
		}
		a.se |= (uint16_t)(rng() & 0x8000);
		b.se |= (uint16_t)(rng() & 0x8000);
		neg = ((a.se ^ b.se) & 0x8000) != 0;
		if (div) {
			unsigned __int128 r = ((unsigned __int128)a.m << 64) % b.m;

			s = ((unsigned __int128)a.m << 64) / b.m;
			s = s << 8 | (r << 8) / b.m;
			sticky = (r << 8) % b.m != 0;
			e = (a.se & 0x7fff) - (b.se & 0x7fff) - 72;
		} else {
			s = (unsigned __int128)a.m * b.m;
			e = (a.se & 0x7fff) + (b.se & 0x7fff) - 2 * 16383 - 126;
		}
		/* round_ref with the exponent adjusted first: the same rounding */
		want = round_ref(s, sticky, over ? e - 24576 : e + 24576, p, rc, neg,
		    &inexact, &up);
		{
			struct f80 ops[2] = { a, b };

			/* OM and UM clear, the other exceptions masked */
			load_stack(&f, (uint16_t)(0x0067 | pc << 8 | rc << 10), ops, 2);
		}
		if (div)
			CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);	/* fdiv st0, st1 */
		else
			CHECK_EQ(FX_RUN(&f, 0xd8, 0xc9), EMU_OK);	/* fmul st0, st1 */
		got = st_get(&f, 0);
		fsw = FSW(&f);
		want_fsw = (uint16_t)(0x8080 | (over ? 0x08 : 0x10) | (inexact ? 0x20 : 0) |
		    (up ? 0x200 : 0));
		nover += over;
		nunder += !over;
		if ((got.m != want.m || got.se != want.se || (fsw & 0x82ff) != want_fsw) &&
		    bad++ < 5)
			fprintf(stderr, "  %s %s pc %d rc %d: %04x:%016llx %04x:%016llx -> "
			    "%04x:%016llx fsw %04x, want %04x:%016llx fsw %04x\n",
			    over ? "over" : "under", div ? "fdiv" : "fmul", p, rc, a.se,
			    (unsigned long long)a.m, b.se, (unsigned long long)b.m, got.se,
			    (unsigned long long)got.m, fsw, want.se,
			    (unsigned long long)want.m, want_fsw);
	}
	CHECK_EQ(bad, 0);
	CHECK(nover > 1000 && nunder > 1000);
	/* the exception is pending: the next waiting instruction faults (CR0.NE) */
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_MF);
	fx_fini(&f);
}

/*
 * The same with a memory destination (SDM Vol. 1 8.5.4, 8.5.5): FST/FSTP
 * m32/m64 of a value out of the format's range, OE or UE unmasked: memory
 * and the stack are unchanged (FSTP does not pop), OE or UE, ES and B set,
 * and PE clear even when the value is not exact in the destination format
 * (no rounded result was delivered; measured on Intel, the SDM leaves it
 * unsaid).  The host's own FSW for the same image is checked too.
 */
TEST(x87_unmasked_overflow_underflow_store)
{
	static const struct {
		uint8_t		op[2];		/* FST/FSTP [rbx] */
		uint16_t	se;
		uint64_t	m;
		uint16_t	flag;		/* OE or UE */
	} v[] = {
		{ { 0xd9, 0x13 }, 0x4000 + 200, 0xc90fdaa22168c235ULL, 0x08 },	/* fst m32: 2^201 */
		{ { 0xd9, 0x1b }, 0x4000 + 200, 1ULL << 63, 0x08 },		/* fstp m32, exact */
		{ { 0xdd, 0x13 }, 0x4000 + 2000, 0xc90fdaa22168c235ULL, 0x08 },	/* fst m64 */
		{ { 0xdd, 0x1b }, 0x3fff - 200, 0xc90fdaa22168c235ULL, 0x10 },	/* fstp m64: 2^-200 ok */
		{ { 0xd9, 0x1b }, 0x3fff - 200, 0xc90fdaa22168c235ULL, 0x10 },	/* fstp m32: tiny */
		{ { 0xdd, 0x13 }, 0x3fff - 2000, 1ULL << 63, 0x10 },		/* fst m64: tiny, exact */
	};
	struct fx f;
	size_t i;

	REQUIRE(init64(&f) == 0);
	f.cpu->st.gpr[GPR_RBX] = FX_DATA;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct f80 x = { v[i].m, v[i].se };
		uint8_t img[512] __attribute__((aligned(16))), host[512] __attribute__((aligned(16)));
		uint64_t nat = 0x5a5a5a5a5a5a5a5aULL;
		uint16_t nfsw, efsw;
		bool fits = v[i].se == 0x3fff - 200 && v[i].op[0] == 0xdd;

		load_stack(&f, 0x0067, &x, 1);
		memset(f.ram + FX_DATA, 0x5a, 8);
		CHECK_EQ(fx_run(&f, v[i].op, 2), EMU_OK);
		efsw = FSW(&f);
		/* natively: the same image, the same instruction on [rdi] */
		load_stack(&f, 0x0067, &x, 1);
		memcpy(img, f.cpu->st.fxsave, 160);
		memset(img + 160, 0, 352);
		memcpy(img + 24, "\x80\x1f\0\0", 4);
		if (v[i].op[0] == 0xd9 && v[i].op[1] == 0x13)
			__asm__ volatile("fxsave64 %0\n\tfxrstor64 %1\n\tfsts (%2)\n\t"
			    "fxsave64 %1\n\tfxrstor64 %0" : "=m" (host), "+m" (img)
			    : "r" (&nat) : "memory");
		else if (v[i].op[0] == 0xd9)
			__asm__ volatile("fxsave64 %0\n\tfxrstor64 %1\n\tfstps (%2)\n\t"
			    "fxsave64 %1\n\tfxrstor64 %0" : "=m" (host), "+m" (img)
			    : "r" (&nat) : "memory");
		else if (v[i].op[1] == 0x13)
			__asm__ volatile("fxsave64 %0\n\tfxrstor64 %1\n\tfstl (%2)\n\t"
			    "fxsave64 %1\n\tfxrstor64 %0" : "=m" (host), "+m" (img)
			    : "r" (&nat) : "memory");
		else
			__asm__ volatile("fxsave64 %0\n\tfxrstor64 %1\n\tfstpl (%2)\n\t"
			    "fxsave64 %1\n\tfxrstor64 %0" : "=m" (host), "+m" (img)
			    : "r" (&nat) : "memory");
		nfsw = (uint16_t)(img[2] | img[3] << 8);
		CHECK_EQ(efsw, nfsw);
		if (fits) {
			CHECK_EQ(efsw & 0x80, 0);
			CHECK(fx_get64(&f, FX_DATA) != 0x5a5a5a5a5a5a5a5aULL);
			continue;
		}
		CHECK_EQ(efsw & 0x80ff, 0x8080 | v[i].flag);	/* PE clear */
		CHECK_EQ(fx_get64(&f, FX_DATA), 0x5a5a5a5a5a5a5a5aULL);	/* not written */
		CHECK_EQ(nat, 0x5a5a5a5a5a5a5a5aULL);
		CHECK_EQ(TOP(&f), 7);				/* no pop */
		CHECK_EQ(st_get(&f, 0).se, v[i].se);
		CHECK_EQ(f.cpu->st.fxsave[4], 0x80);
	}
	fx_fini(&f);
}

/* An 80-bit value, exactly, as binary128 (finite values only). */
static __float128
f80_q(struct f80 v)
{
	int e = v.se & 0x7fff;
	__float128 q = ldexpq((__float128)v.m, (e ? e : 1) - 16383 - 63);

	return (v.se & 0x8000) ? -q : q;
}

/* A random normal 80-bit value in [2^lo, 2^hi) of either sign (@neg). */
static struct f80
rnd_f80(int lo, int hi, bool neg)
{
	struct f80 v;

	v.m = rng() | 1ULL << 63;
	v.se = (uint16_t)(16383 + lo + (int)(rng() % (uint64_t)(hi - lo)));
	if (neg && (rng() & 1))
		v.se |= 0x8000;
	return v;
}

/*
 * The transcendentals within the SDM's bound (Vol. 1 8.3.10: less than one
 * ulp with round to nearest, double extended precision, inside the
 * domains below, which need no argument reduction beyond what the
 * hardware does exactly), against libquadmath's binary128 functions
 * (accurate to far below an 80-bit ulp); FSQRT correctly rounded (half
 * an ulp).  Each result is the one x87.c stores, whatever host unit made it.
 */
TEST(x87_transcendental_error_bounds)
{
	enum { SIN, COS, TAN, ATAN, F2XM1, YL2X, YL2XP1, SQRT, NFN };
	static const char *const name[NFN] = {
		"fsin", "fcos", "fptan", "fpatan", "f2xm1", "fyl2x", "fyl2xp1", "fsqrt",
	};
	static const uint8_t op[NFN] = { 0xfe, 0xff, 0xf2, 0xf3, 0xf0, 0xf1, 0xf9, 0xfa };
	double worst[NFN] = { 0 };
	struct fx f;
	int fn, i;

	REQUIRE(init64(&f) == 0);
	for (fn = 0; fn < NFN; fn++) {
		for (i = 0; i < 3000; i++) {
			struct f80 v[2], r;
			__float128 x, y, want, err;
			int slot = 0;

			/* ST0 = x, ST1 = y */
			switch (fn) {
			case YL2X:
				v[0] = rnd_f80(-1, 3, false);		/* x in [0.5, 8) */
				v[1] = rnd_f80(-4, 4, true);
				break;
			case YL2XP1:
				v[0] = rnd_f80(-40, -2, true);		/* |x| < 0.25 */
				v[1] = rnd_f80(-4, 4, true);
				break;
			case ATAN:
				v[0] = rnd_f80(-20, 20, true);
				v[1] = rnd_f80(-20, 20, true);
				break;
			case SQRT:
				v[0] = rnd_f80(-1000, 1000, false);
				v[1] = v[0];
				break;
			default:
				v[0] = rnd_f80(-30, 0, true);		/* |x| < 1 */
				v[1] = v[0];
				break;
			}
			x = f80_q(v[0]);
			y = f80_q(v[1]);
			load_stack(&f, 0x037f, v, 2);
			CHECK_EQ(fx_run(&f, (const uint8_t[]){ 0xd9, op[fn] }, 2), EMU_OK);
			switch (fn) {
			case SIN: want = sinq(x); break;
			case COS: want = cosq(x); break;
			case TAN: want = tanq(x); slot = 1; break;
			case ATAN: want = atan2q(y, x); break;
			case F2XM1: want = expm1q(x * M_LN2q); break;
			case YL2X: want = y * log2q(x); break;
			case YL2XP1: want = y * log1pq(x) / M_LN2q; break;
			default: want = sqrtq(x); break;
			}
			if (fn == TAN) {
				r = st_get(&f, 0);
				CHECK(r.se == 0x3fff && r.m == 1ULL << 63);	/* 1.0 pushed */
			}
			r = st_get(&f, slot);
			if ((r.se & 0x7fff) == 0 || (r.se & 0x7fff) == 0x7fff) {
				CHECK(0);	/* not in these domains */
				continue;
			}
			err = fabsq(f80_q(r) - want) / ldexpq(1, ilogbq(want) - 63);
			if ((double)err > worst[fn])
				worst[fn] = (double)err;
		}
		printf("# %s: worst error %.3f ulp\n", name[fn], worst[fn]);
		CHECK(worst[fn] < (fn == SQRT ? 0.5000001 : 1.0));
	}
	fx_fini(&f);
}

/* Stack faults (SDM Vol. 1 8.5.1.1): masked, the QNaN indefinite. */
TEST(x87_stack_overflow_underflow)
{
	struct fx f;
	struct f80 one = { 1ULL << 63, 0x3fff }, full[8];
	int i;

	REQUIRE(init64(&f) == 0);
	for (i = 0; i < 8; i++)
		full[i] = one;
	load_stack(&f, 0x037f, full, 8);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_OK);		/* fld1: overflow */
	CHECK_EQ(FSW(&f) & 0x3ff, 0x241);			/* C1 SF IE */
	CHECK_EQ(st_get(&f, 0).se, 0xffff);			/* indefinite */
	CHECK_EQ(st_get(&f, 0).m, 0xc000000000000000ULL);
	load_stack(&f, 0x037f, full, 0);
	CHECK_EQ(FX_RUN(&f, 0xd8, 0xc1), EMU_OK);		/* fadd st0, st1: underflow */
	CHECK_EQ(FSW(&f) & 0x3ff, 0x041);			/* C1 = 0, SF IE */
	/* unmasked IE: the stack is left alone, ES set, the next FWAIT #MF */
	load_stack(&f, 0x037e, full, 8);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_OK);
	CHECK_EQ(FSW(&f) & 0x80ff, 0x80c1);			/* B ES SF IE */
	CHECK_EQ(TOP(&f), 0);
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_MF);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_FAULT);		/* any waiting x87 insn */
	CHECK_EQ(f.cpu->exc_vector, IDT_MF);
	CHECK_EQ(FX_RUN(&f, 0xdf, 0xe0), EMU_OK);		/* fnstsw ax: no wait */
	CHECK_EQ(f.cpu->st.gpr[GPR_RAX] & 0xffff, FSW(&f));
	/* without CR0.NE: FERR# (not modelled), the instruction runs */
	f.cpu->st.cr0 &= ~CR0_NE;
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe0), EMU_OK);		/* fchs */
	CHECK(FSW(&f) & 0x80);					/* still pending */
	CHECK_EQ(FX_RUN(&f, 0xdb, 0xe2), EMU_OK);		/* fnclex */
	CHECK_EQ(FSW(&f) & 0x80ff, 0);
	fx_fini(&f);
}

/* Unmasked #Z: the destination is unchanged (SDM Vol. 1 8.5.3). */
TEST(x87_zero_divide)
{
	struct fx f;
	struct f80 ops[2] = { { 1ULL << 63, 0x3fff }, { 0, 0 } };

	REQUIRE(init64(&f) == 0);
	load_stack(&f, 0x037f, ops, 2);
	CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);
	CHECK_EQ(st_get(&f, 0).se, 0x7fff);			/* +inf */
	CHECK_EQ(FSW(&f) & 0xff, 0x04);
	load_stack(&f, 0x037b, ops, 2);
	CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);
	CHECK_EQ(st_get(&f, 0).se, 0x3fff);			/* unchanged */
	CHECK_EQ(FSW(&f) & 0x80ff, 0x8084);
	fx_fini(&f);
}

/* #NM and #UD by CR0.EM/MP/TS (SDM Vol. 3A table 2-2; FXSAVE: #UD with EM). */
TEST(x87_device_not_available)
{
	struct fx f;

	REQUIRE(init64(&f) == 0);
	f.cpu->st.gpr[GPR_RBX] = FX_DATA;
	f.cpu->st.cr0 |= CR0_TS;
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_FAULT);			/* MP and TS */
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x03), EMU_FAULT);	/* fxsave [rbx] */
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	f.cpu->st.cr0 &= ~CR0_MP;
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_OK);			/* TS without MP */
	f.cpu->st.cr0 &= ~CR0_TS;
	f.cpu->st.cr0 |= CR0_EM;
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_NM);
	CHECK_EQ(FX_RUN(&f, 0x9b), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x03), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	/* reserved encodings are #UD first */
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xd1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_UD);
	fx_fini(&f);
}

TEST(x87_fxsave_alignment_and_layout)
{
	struct fx f;
	uint8_t img[512];

	REQUIRE(init64(&f) == 0);
	CHECK_EQ(FX_RUN(&f, 0xdb, 0xe3), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xeb), EMU_OK);		/* fldpi */
	f.cpu->st.gpr[GPR_RBX] = FX_DATA + 8;
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x03), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	f.cpu->st.gpr[GPR_RBX] = FX_DATA;
	memset(f.ram + FX_DATA, 0xee, 512);
	CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0xae, 0x03), EMU_OK);	/* fxsave64 */
	memcpy(img, f.ram + FX_DATA, 512);
	CHECK_EQ(img[0] | img[1] << 8, 0x037f);
	CHECK_EQ(img[4], 0x80);					/* R7 in use */
	CHECK_EQ(img[6] | img[7] << 8, 0);			/* FOP: no exception */
	CHECK_EQ(fx_get64(&f, FX_DATA + 8), 0x1000);		/* FIP */
	CHECK_EQ(fx_get64(&f, FX_DATA + 32), 0xc90fdaa22168c235ULL);
	CHECK_EQ(img[42], 0);					/* reserved bytes zero */
	CHECK_EQ(img[416], 0xee);				/* not written */
	/* MXCSR reserved bits: #GP(0) */
	img[27] = 0x01;
	memcpy(f.ram + FX_DATA, img, 512);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x0b), EMU_FAULT);	/* fxrstor */
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	img[27] = 0;
	memcpy(f.ram + FX_DATA, img, 512);
	CHECK_EQ(FX_RUN(&f, 0x0f, 0xae, 0x0b), EMU_OK);
	fx_fini(&f);
}

/* FNSAVE/FRSTOR round trip in each mode's format; FNSAVE reinitializes. */
TEST(x87_fnsave_frstor_formats)
{
	static const enum emu_mode modes[] = {
		EMU_MODE_LONG64, EMU_MODE_PROT32, EMU_MODE_PROT16, EMU_MODE_REAL,
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct fx f;
		uint8_t before[160];
		bool o16 = modes[i] == EMU_MODE_PROT16 || modes[i] == EMU_MODE_REAL;
		uint64_t D = o16 ? 0x8000 : FX_DATA;	/* [bx] in 16-bit code */

		REQUIRE(fx_init(&f, modes[i]) == 0);
		f.cpu->st.rip = 0x1234;
		f.cpu->st.gpr[GPR_RBX] = D;
		CHECK_EQ(FX_RUN(&f, 0xdb, 0xe3), EMU_OK);
		CHECK_EQ(FX_RUN(&f, 0xd9, 0xeb), EMU_OK);	/* fldpi */
		CHECK_EQ(FX_RUN(&f, 0xd9, 0xee), EMU_OK);	/* fldz */
		CHECK_EQ(FX_RUN(&f, 0xd8, 0xf1), EMU_OK);	/* 0/pi */
		memcpy(before, f.cpu->st.fxsave, 160);
		/* fnsave [bx] / [rbx] */
		if (o16)
			CHECK_EQ(FX_RUN(&f, 0xdd, 0x37), EMU_OK);
		else
			CHECK_EQ(FX_RUN(&f, 0xdd, 0x33), EMU_OK);
		CHECK_EQ(f.cpu->st.fxsave[4], 0);		/* FNINIT after */
		/* full tag word: R6 zero (01), R7 valid (00), others empty */
		CHECK_EQ(f.ram[D + (o16 ? 4 : 8)] | f.ram[D + (o16 ? 5 : 9)] << 8, 0x1fff);
		if (o16)
			CHECK_EQ(FX_RUN(&f, 0xdd, 0x27), EMU_OK);
		else
			CHECK_EQ(FX_RUN(&f, 0xdd, 0x23), EMU_OK);
		CHECK(memcmp(before, f.cpu->st.fxsave, 8) == 0);	/* FCW FSW FTW */
		CHECK(memcmp(before + 32, f.cpu->st.fxsave + 32, 128) == 0);
		/* FIP survives as far as the format holds it */
		CHECK_EQ(f.cpu->st.fxsave[8] | f.cpu->st.fxsave[9] << 8, 0x1234);
		fx_fini(&f);
	}
}

/* A sequence through memory: FLD1 FADD FADDP FISTP FILD FSQRT FSTP. */
TEST(x87_sequence)
{
	struct fx f;

	REQUIRE(init64(&f) == 0);
	f.cpu->st.gpr[GPR_RBX] = FX_DATA;
	CHECK_EQ(FX_RUN(&f, 0xdb, 0xe3), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_OK);		/* fld1 */
	CHECK_EQ(FX_RUN(&f, 0xd8, 0xc0), EMU_OK);		/* fadd st0, st0 */
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xe8), EMU_OK);
	CHECK_EQ(FX_RUN(&f, 0xde, 0xc1), EMU_OK);		/* faddp: 3 */
	CHECK_EQ(FX_RUN(&f, 0xdf, 0x3b), EMU_OK);		/* fistp qword [rbx] */
	CHECK_EQ(fx_get64(&f, FX_DATA), 3);
	CHECK_EQ(f.cpu->st.fxsave[4], 0);
	CHECK_EQ(FX_RUN(&f, 0xdf, 0x2b), EMU_OK);		/* fild qword [rbx] */
	CHECK_EQ(FX_RUN(&f, 0xd9, 0xfa), EMU_OK);		/* fsqrt */
	CHECK_EQ(FX_RUN(&f, 0xdd, 0x1b), EMU_OK);		/* fstp qword [rbx] */
	CHECK_EQ(fx_get64(&f, FX_DATA), 0x3ffbb67ae8584caaULL);	/* sqrt(3) */
	fx_fini(&f);
}

/*
 * x87.c's session (docs/cpu.md, "x87"): random sequences of x87, MMX and
 * FXSAVE instructions run once with the session closed after every
 * instruction (as fx_run does) and once in one session closed at the end
 * (as a block does), from the same random state and memory: the same
 * handler results, x87/SSE state (FIP, FDP, FOP included), memory, RAX and
 * flags.  Sequences of up to 100 run past the ring (EMU_X87_RING),
 * through unmasked exceptions (#MF), stores, MMX and FXSAVE (which close
 * the session).
 */
TEST(x87_session_matches_single_steps)
{
	static const uint8_t pool[][8] = {
		{ 2, 0xd9, 0xe8 }, { 2, 0xd9, 0xeb }, { 2, 0xd9, 0xee },	/* fld1 fldpi fldz */
		{ 2, 0xd9, 0xc1 }, { 2, 0xd9, 0xc9 },			/* fld st1, fxch */
		{ 2, 0xd8, 0xc1 }, { 2, 0xd8, 0xc9 }, { 2, 0xd8, 0xf1 },	/* fadd fmul fdiv */
		{ 2, 0xd8, 0xe1 }, { 2, 0xde, 0xc1 }, { 2, 0xde, 0xf9 },	/* fsub faddp fdivp */
		{ 2, 0xdd, 0x03 }, { 2, 0xd8, 0x0b }, { 3, 0xdc, 0x43, 0x08 },	/* loads */
		{ 2, 0xdb, 0x2b }, { 2, 0xdf, 0x2b }, { 3, 0xda, 0x43, 0x04 },
		{ 3, 0xdd, 0x5b, 0x10 }, { 3, 0xdf, 0x7b, 0x18 },		/* fstp m64, fistp m64 */
		{ 3, 0xd9, 0x5b, 0x20 }, { 3, 0xdb, 0x4b, 0x28 },		/* fstp m32, fisttp m32 */
		{ 3, 0xdd, 0x53, 0x38 }, { 3, 0xdb, 0x7b, 0x40 },		/* fst m64, fstp m80 */
		{ 3, 0xdf, 0x73, 0x50 }, { 3, 0xd9, 0x53, 0x07 },		/* fbstp, fst m32 unaligned */
		{ 2, 0xdf, 0xe0 }, { 3, 0xd9, 0x7b, 0x30 }, { 3, 0xdd, 0x7b, 0x32 },	/* fnstsw fnstcw */
		{ 2, 0xdb, 0xf1 }, { 2, 0xdf, 0xe9 }, { 2, 0xda, 0xc1 }, { 2, 0xdb, 0xd1 },
		{ 2, 0xd9, 0xfa }, { 2, 0xd9, 0xfe }, { 2, 0xd9, 0xf0 }, { 2, 0xd9, 0xfc },
		{ 2, 0xd9, 0xf8 }, { 2, 0xd9, 0xe0 }, { 2, 0xd9, 0xe4 }, { 2, 0xd9, 0xe5 },
		{ 1, 0x9b }, { 2, 0xdb, 0xe2 }, { 2, 0xdd, 0xc3 },		/* fwait fnclex ffree */
		{ 3, 0xd9, 0x6b, 0x30 },					/* fldcw [rbx+48] */
		{ 3, 0x0f, 0xef, 0xc1 }, { 2, 0x0f, 0x77 },			/* pxor mm0, mm1; emms */
		{ 7, 0x0f, 0xae, 0x83, 0x00, 0x01, 0x00, 0x00 },		/* fxsave [rbx+256] */
		{ 3, 0xd9, 0x63, 0x60 },					/* fldenv [rbx+96] */
	};
	const int npool = (int)(sizeof(pool) / sizeof(pool[0]));
	static uint8_t mem0[0x300], mem1[0x300], fx0[512];
	struct fx a, b;
	int iter, k, bad = 0;

	REQUIRE(init64(&a) == 0);
	REQUIRE(init64(&b) == 0);
	a.cpu->st.gpr[GPR_RBX] = b.cpu->st.gpr[GPR_RBX] = FX_DATA;
	for (iter = 0; iter < 2000; iter++) {
		struct f80 v[8];
		int n = (int)(rng() % 9), len = 1 + (int)(rng() % 100), rca[100], rcb[100];
		uint8_t seq[100];
		uint16_t fcw = (uint16_t)(0x0040 | (rng() & 0x0f00) |
		    (rng() % 4 ? 0x3f : rng() & 0x3f));
		/* every tenth: 100 register forms, all masked: one session past the ring */
		bool longrun = iter % 10 == 0;

		if (longrun) {
			len = 100;
			fcw |= 0x3f;
		}

		for (k = 0; k < n; k++) {
			v[k].m = rng();
			v[k].se = (uint16_t)rng();
			if (rng() % 4)
				v[k].se = (uint16_t)((v[k].se & 0x8000) | (0x3fff + rng() % 64 - 32));
			if (rng() % 8)
				v[k].m |= 1ULL << 63;
		}
		load_stack(&a, fcw, v, n);
		for (k = 0; k < (int)sizeof(mem0); k += 8) {
			uint64_t r = rng();

			memcpy(mem0 + k, &r, 8);
		}
		memcpy(mem0 + 0x30, &fcw, 2);		/* fldcw finds a sane FCW */
		memcpy(fx0, a.cpu->st.fxsave, 512);
		for (k = 0; k < len; k++)
			seq[k] = (uint8_t)(rng() % (uint64_t)(longrun ? 11 : npool));
		memcpy(b.cpu->st.fxsave, fx0, 512);
		memcpy(a.ram + FX_DATA, mem0, sizeof(mem0));
		memcpy(b.ram + FX_DATA, mem0, sizeof(mem0));
		a.cpu->st.rflags = b.cpu->st.rflags = 0x2;
		a.cpu->st.gpr[GPR_RAX] = b.cpu->st.gpr[GPR_RAX] = 0;
		for (k = 0; k < len; k++) {
			const uint8_t *ins = pool[seq[k]];

			a.cpu->st.rip = b.cpu->st.rip = 0x1000 + 16 * (uint64_t)k;
			rca[k] = fx_run(&a, ins + 1, ins[0]);
			/* b: the handler alone, the session left open */
			REQUIRE(emu_decode(ins + 1, ins[0], b.cpu->mode, &b.in) == 0);
			b.cpu->exc_vector = -1;
			b.cpu->next_rip = b.cpu->st.rip + b.in.len;
			rcb[k] = b.in.fn(b.cpu, &b.in);
		}
		emu_x87_flush(b.cpu);
		memcpy(mem1, b.ram + FX_DATA, sizeof(mem1));
		if ((memcmp(rca, rcb, sizeof(int) * (size_t)len) != 0 ||
		    memcmp(a.cpu->st.fxsave, b.cpu->st.fxsave, 512) != 0 ||
		    memcmp(a.ram + FX_DATA, mem1, sizeof(mem1)) != 0 ||
		    a.cpu->st.gpr[GPR_RAX] != b.cpu->st.gpr[GPR_RAX] ||
		    emu_rflags(a.cpu) != emu_rflags(b.cpu)) && bad++ < 3) {
			fprintf(stderr, "  sequence %d (%d insns, fcw %04x) differs:", iter, len, fcw);
			for (k = 0; k < len; k++)
				fprintf(stderr, " %02x%02x%s", pool[seq[k]][1], pool[seq[k]][2],
				    rca[k] != rcb[k] ? "!" : "");
			for (k = 0; k < 160; k++)
				if (a.cpu->st.fxsave[k] != b.cpu->st.fxsave[k]) {
					fprintf(stderr, " [fx byte %d: %02x vs %02x]", k,
					    a.cpu->st.fxsave[k], b.cpu->st.fxsave[k]);
					break;
				}
			fprintf(stderr, "\n");
		}
	}
	CHECK_EQ(bad, 0);
	fx_fini(&a);
	fx_fini(&b);
}

/*
 * The cost of one emulated x87 instruction (docs/cpu.md, "x87"): FMUL and
 * FDIV through the handler, in a session (the ring closes it every
 * EMU_X87_RING instructions) and with the session closed after each one
 * (four state images per instruction).  Thread CPU time, best of five
 * rounds; printed, not checked (machine load varies).
 */
TEST(x87_cost)
{
	static const uint8_t code[2][2] = { { 0xd8, 0xc9 }, { 0xd8, 0xf1 } };
	struct timespec t0, t1;
	struct fx f;
	int k, i, r, each, n = 100000;

	REQUIRE(init64(&f) == 0);
	for (k = 0; k < 2; k++) {
		for (each = 0; each < 2; each++) {
			/* x * 1 and x / 1: the operands stay normal (no microcode assists) */
			struct f80 ops[2] = { { 0xc90fdaa22168c235ULL, 0x3fff },
			    { 1ULL << 63, 0x3fff } };
			double best = 1e30, ns;

			load_stack(&f, 0x037f, ops, 2);
			REQUIRE(emu_decode(code[k], 2, f.cpu->mode, &f.in) == 0);
			for (r = 0; r < 5; r++) {
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
				for (i = 0; i < n; i++) {
					f.in.fn(f.cpu, &f.in);
					if (each)
						emu_x87_flush(f.cpu);
				}
				emu_x87_flush(f.cpu);
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
				ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
				best = ns < best ? ns : best;
			}
			printf("# %s st0, st1: %.1f ns per instruction (%s)\n", k ? "fdiv" : "fmul",
			    best, each ? "four images each" : "session");
		}
	}
	fx_fini(&f);
}
