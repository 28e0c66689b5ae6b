/*
 * test_isa_diff.c - the newer user-level integer instructions of the
 * software CPU against the host CPU: POPCNT LZCNT TZCNT MOVBE, BMI1, BMI2,
 * ADX, XLAT, CMPXCHG16B.
 *
 * Each case is one byte string, run natively (inline assembly on fixed
 * registers RAX RCX RDX RBX, RSI or RBX pointing at a buffer, RFLAGS in
 * and out by PUSHF/POPF) and decoded and run by the emulator on the same
 * registers, flags and buffer contents (the buffer at a guest address of
 * an identity-mapped 64-bit fixture), for thousands of random operands
 * with edge values.  The registers (full 64 bits), CF PF AF ZF SF OF and
 * the buffer must match.  The byte string is the same for both, so they
 * cannot disagree on the encoding.
 *
 * Flags the SDM leaves undefined are compared when the host is Intel (the
 * emulator copies Intel there, see bit.c, bmi.c).  A case whose feature
 * the host lacks (host CPUID) is skipped, never passed.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"

#if defined(__x86_64__)
#include <cpuid.h>

struct regs {
	uint64_t	rax, rcx, rdx, rbx, rsi, flags;
};

#define BUF_SIZE	256
static uint8_t hostbuf[BUF_SIZE] __attribute__((aligned(64)));

/*
 * Define @nm_bytes and @nm_native from one list of bytes: the native
 * function runs them with ".byte" between POPF and PUSHF.  The 128-byte
 * drop keeps PUSHF/POPF clear of the red zone.
 */
#define CASE_BYTES(nm, ...)						\
static const uint8_t nm##_bytes[] = { __VA_ARGS__ };			\
static void								\
nm##_native(struct regs *r)						\
{									\
	uint64_t a = r->rax, c = r->rcx, d = r->rdx, b = r->rbx;	\
	uint64_t s = r->rsi, f = r->flags;				\
									\
	__asm__ __volatile__("sub $128, %%rsp\n\t"			\
	    "push %[f]\n\tpopfq\n\t"					\
	    ".byte " #__VA_ARGS__ "\n\t"				\
	    "pushfq\n\tpopq %[f]\n\t"					\
	    "add $128, %%rsp"						\
	    : "+a" (a), "+c" (c), "+d" (d), "+b" (b), "+S" (s),	\
	      [f] "+r" (f)						\
	    : : "cc", "memory");					\
	r->rax = a; r->rcx = c; r->rdx = d; r->rbx = b; r->rsi = s;	\
	r->flags = f;							\
}

/* popcnt/lzcnt/tzcnt %rbx,%rax (and 32, 16 bits) */
CASE_BYTES(popcnt64, 0xf3, 0x48, 0x0f, 0xb8, 0xc3)
CASE_BYTES(popcnt32, 0xf3, 0x0f, 0xb8, 0xc3)
CASE_BYTES(popcnt16, 0x66, 0xf3, 0x0f, 0xb8, 0xc3)
CASE_BYTES(lzcnt64, 0xf3, 0x48, 0x0f, 0xbd, 0xc3)
CASE_BYTES(lzcnt32, 0xf3, 0x0f, 0xbd, 0xc3)
CASE_BYTES(lzcnt16, 0x66, 0xf3, 0x0f, 0xbd, 0xc3)
CASE_BYTES(tzcnt64, 0xf3, 0x48, 0x0f, 0xbc, 0xc3)
CASE_BYTES(tzcnt32, 0xf3, 0x0f, 0xbc, 0xc3)
CASE_BYTES(tzcnt16, 0x66, 0xf3, 0x0f, 0xbc, 0xc3)
/* popcnt (%rsi),%rax: the memory form */
CASE_BYTES(popcntm, 0xf3, 0x48, 0x0f, 0xb8, 0x06)
/* movbe (%rsi),%rax/eax/ax; movbe %rbx/ebx/bx,8(%rsi) */
CASE_BYTES(movbeld64, 0x48, 0x0f, 0x38, 0xf0, 0x06)
CASE_BYTES(movbeld32, 0x0f, 0x38, 0xf0, 0x06)
CASE_BYTES(movbeld16, 0x66, 0x0f, 0x38, 0xf0, 0x06)
CASE_BYTES(movbest64, 0x48, 0x0f, 0x38, 0xf1, 0x5e, 0x08)
CASE_BYTES(movbest32, 0x0f, 0x38, 0xf1, 0x5e, 0x08)
CASE_BYTES(movbest16, 0x66, 0x0f, 0x38, 0xf1, 0x5e, 0x08)
/* BMI1: andn %rcx,%rbx,%rax; bextr %rcx,%rbx,%rax; blsi/blsmsk/blsr %rbx,%rax */
CASE_BYTES(andn64, 0xc4, 0xe2, 0xe0, 0xf2, 0xc1)
CASE_BYTES(andn32, 0xc4, 0xe2, 0x60, 0xf2, 0xc1)
CASE_BYTES(andnm, 0xc4, 0xe2, 0xe0, 0xf2, 0x06)
CASE_BYTES(bextr64, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3)
CASE_BYTES(bextr32, 0xc4, 0xe2, 0x70, 0xf7, 0xc3)
CASE_BYTES(blsi64, 0xc4, 0xe2, 0xf8, 0xf3, 0xdb)
CASE_BYTES(blsi32, 0xc4, 0xe2, 0x78, 0xf3, 0xdb)
CASE_BYTES(blsmsk64, 0xc4, 0xe2, 0xf8, 0xf3, 0xd3)
CASE_BYTES(blsmsk32, 0xc4, 0xe2, 0x78, 0xf3, 0xd3)
CASE_BYTES(blsr64, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb)
CASE_BYTES(blsr32, 0xc4, 0xe2, 0x78, 0xf3, 0xcb)
/* BMI2: bzhi %rcx,%rbx,%rax; mulx %rbx,%rcx,%rax; pdep/pext %rbx,%rcx,%rax; rorx; sarx/shlx/shrx */
CASE_BYTES(bzhi64, 0xc4, 0xe2, 0xf0, 0xf5, 0xc3)
CASE_BYTES(bzhi32, 0xc4, 0xe2, 0x70, 0xf5, 0xc3)
CASE_BYTES(bzhim, 0xc4, 0xe2, 0xf0, 0xf5, 0x06)
CASE_BYTES(mulx64, 0xc4, 0xe2, 0xf3, 0xf6, 0xc3)
CASE_BYTES(mulx32, 0xc4, 0xe2, 0x73, 0xf6, 0xc3)
CASE_BYTES(mulxsame, 0xc4, 0xe2, 0xfb, 0xf6, 0xc3)
CASE_BYTES(pdep64, 0xc4, 0xe2, 0xf3, 0xf5, 0xc3)
CASE_BYTES(pdep32, 0xc4, 0xe2, 0x73, 0xf5, 0xc3)
CASE_BYTES(pext64, 0xc4, 0xe2, 0xf2, 0xf5, 0xc3)
CASE_BYTES(pext32, 0xc4, 0xe2, 0x72, 0xf5, 0xc3)
CASE_BYTES(rorx64, 0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x0d)
CASE_BYTES(rorx32, 0xc4, 0xe3, 0x7b, 0xf0, 0xc3, 0x2d)
CASE_BYTES(sarx64, 0xc4, 0xe2, 0xf2, 0xf7, 0xc3)
CASE_BYTES(sarx32, 0xc4, 0xe2, 0x72, 0xf7, 0xc3)
CASE_BYTES(shlx64, 0xc4, 0xe2, 0xf1, 0xf7, 0xc3)
CASE_BYTES(shlx32, 0xc4, 0xe2, 0x71, 0xf7, 0xc3)
CASE_BYTES(shrx64, 0xc4, 0xe2, 0xf3, 0xf7, 0xc3)
CASE_BYTES(shrx32, 0xc4, 0xe2, 0x73, 0xf7, 0xc3)
/* ADX: adcx/adox %rbx,%rax (and 32 bits), adcx (%rsi),%rax */
CASE_BYTES(adcx64, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3)
CASE_BYTES(adcx32, 0x66, 0x0f, 0x38, 0xf6, 0xc3)
CASE_BYTES(adox64, 0xf3, 0x48, 0x0f, 0x38, 0xf6, 0xc3)
CASE_BYTES(adox32, 0xf3, 0x0f, 0x38, 0xf6, 0xc3)
CASE_BYTES(adcxm, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0x06)
/* xlat (table at %rbx); with a 67 prefix, the table at %ebx */
CASE_BYTES(xlat, 0xd7)
CASE_BYTES(xlat48, 0x48, 0xd7)
/* lock cmpxchg16b (%rsi); cmpxchg16b 16(%rsi) */
CASE_BYTES(cx16lock, 0xf0, 0x48, 0x0f, 0xc7, 0x0e)
CASE_BYTES(cx16, 0x48, 0x0f, 0xc7, 0x4e, 0x10)

enum { H_POPCNT, H_LZCNT, H_BMI1, H_BMI2, H_ADX, H_MOVBE, H_CX16, H_NONE };
enum { K_PLAIN, K_CTL, K_CX16 };

struct dcase {
	int		feature;
	const char	*name;
	const uint8_t	*bytes;
	int		len;
	void		(*native)(struct regs *);
	int		size;		/* operand size, for edge values */
	int		kind;		/* K_CTL: RCX holds a bit index/length */
	int		ptr;		/* register holding the buffer address */
	uint64_t	undef;		/* SDM-undefined flags: compared on Intel only */
};

#define U_CNT	(RFL_OF | RFL_SF | RFL_AF | RFL_PF)
#define U_BMI	(RFL_AF | RFL_PF)
#define C(ft, nm, sz, k, p, un) \
	{ ft, #nm, nm##_bytes, (int)sizeof(nm##_bytes), nm##_native, sz, k, p, un }

static const struct dcase cases[] = {
	C(H_POPCNT, popcnt64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_POPCNT, popcnt32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_POPCNT, popcnt16, 2, K_PLAIN, GPR_RSI, 0),
	C(H_POPCNT, popcntm, 8, K_PLAIN, GPR_RSI, 0),
	C(H_LZCNT, lzcnt64, 8, K_PLAIN, GPR_RSI, U_CNT),
	C(H_LZCNT, lzcnt32, 4, K_PLAIN, GPR_RSI, U_CNT),
	C(H_LZCNT, lzcnt16, 2, K_PLAIN, GPR_RSI, U_CNT),
	C(H_BMI1, tzcnt64, 8, K_PLAIN, GPR_RSI, U_CNT),
	C(H_BMI1, tzcnt32, 4, K_PLAIN, GPR_RSI, U_CNT),
	C(H_BMI1, tzcnt16, 2, K_PLAIN, GPR_RSI, U_CNT),
	C(H_MOVBE, movbeld64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_MOVBE, movbeld32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_MOVBE, movbeld16, 2, K_PLAIN, GPR_RSI, 0),
	C(H_MOVBE, movbest64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_MOVBE, movbest32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_MOVBE, movbest16, 2, K_PLAIN, GPR_RSI, 0),
	C(H_BMI1, andn64, 8, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, andn32, 4, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, andnm, 8, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, bextr64, 8, K_CTL, GPR_RSI, U_BMI | RFL_SF),
	C(H_BMI1, bextr32, 4, K_CTL, GPR_RSI, U_BMI | RFL_SF),
	C(H_BMI1, blsi64, 8, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, blsi32, 4, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, blsmsk64, 8, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, blsmsk32, 4, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, blsr64, 8, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI1, blsr32, 4, K_PLAIN, GPR_RSI, U_BMI),
	C(H_BMI2, bzhi64, 8, K_CTL, GPR_RSI, U_BMI),
	C(H_BMI2, bzhi32, 4, K_CTL, GPR_RSI, U_BMI),
	C(H_BMI2, bzhim, 8, K_CTL, GPR_RSI, U_BMI),
	C(H_BMI2, mulx64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, mulx32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, mulxsame, 8, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, pdep64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, pdep32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, pext64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, pext32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, rorx64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, rorx32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_BMI2, sarx64, 8, K_CTL, GPR_RSI, 0),
	C(H_BMI2, sarx32, 4, K_CTL, GPR_RSI, 0),
	C(H_BMI2, shlx64, 8, K_CTL, GPR_RSI, 0),
	C(H_BMI2, shlx32, 4, K_CTL, GPR_RSI, 0),
	C(H_BMI2, shrx64, 8, K_CTL, GPR_RSI, 0),
	C(H_BMI2, shrx32, 4, K_CTL, GPR_RSI, 0),
	C(H_ADX, adcx64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_ADX, adcx32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_ADX, adox64, 8, K_PLAIN, GPR_RSI, 0),
	C(H_ADX, adox32, 4, K_PLAIN, GPR_RSI, 0),
	C(H_ADX, adcxm, 8, K_PLAIN, GPR_RSI, 0),
	C(H_NONE, xlat, 1, K_PLAIN, GPR_RBX, 0),
	C(H_NONE, xlat48, 1, K_PLAIN, GPR_RBX, 0),
	C(H_CX16, cx16lock, 8, K_CX16, GPR_RSI, 0),
	C(H_CX16, cx16, 8, K_CX16, GPR_RSI, 0),
};

#ifndef ITERS
#define ITERS	4000
#endif

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic across runs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A random register whose low @size bytes are often an edge value. */
static uint64_t
gen(int size)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000,
		0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
	};
	uint64_t m = emu_size_mask(size), v = rng(), hi = (rng() & 3) ? rng() : 0;

	switch (rng() % 6) {
	case 0:
		v = edge[rng() % (sizeof(edge) / sizeof(edge[0]))];
		break;
	case 1:
		v = rng() % 5;
		break;
	case 2:
		v = m - rng() % 3;
		break;
	case 3:
		/* a few bits only: counts and deposits see sparse values */
		v = (1ULL << (rng() % 64)) | (1ULL << (rng() % 64));
		break;
	default:
		break;
	}
	return (hi & ~m) | (v & m);
}

static bool host_intel;

static bool
host_has(int feature)
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	switch (feature) {
	case H_POPCNT:
	case H_MOVBE:
	case H_CX16:
		__get_cpuid(1, &a, &b, &c, &d);
		return (c >> (feature == H_POPCNT ? 23 : feature == H_MOVBE ? 22 : 13)) & 1;
	case H_LZCNT:
		__get_cpuid(0x80000001u, &a, &b, &c, &d);
		return (c >> 5) & 1;
	case H_BMI1:
	case H_BMI2:
	case H_ADX:
		if (__get_cpuid_max(0, NULL) < 7)
			return false;
		__cpuid_count(7, 0, a, b, c, d);
		return (b >> (feature == H_BMI1 ? 3 : feature == H_BMI2 ? 8 : 19)) & 1;
	default:
		return true;
	}
}

/* The emulated side: same registers; the buffer at FX_DATA. */
static int
run_emu(struct fx *f, const struct dcase *dc, struct regs *r, const uint8_t *buf, int *exc)
{
	struct emu_cpu *cpu = f->cpu;
	int rc;

	memcpy(f->ram + FX_DATA, buf, BUF_SIZE);
	cpu->st.gpr[GPR_RAX] = r->rax;
	cpu->st.gpr[GPR_RCX] = r->rcx;
	cpu->st.gpr[GPR_RDX] = r->rdx;
	cpu->st.gpr[GPR_RBX] = r->rbx;
	cpu->st.gpr[GPR_RSI] = r->rsi;
	emu_set_rflags(cpu, r->flags);
	rc = fx_run(f, dc->bytes, dc->len);
	*exc = cpu->exc_vector;
	r->rax = cpu->st.gpr[GPR_RAX];
	r->rcx = cpu->st.gpr[GPR_RCX];
	r->rdx = cpu->st.gpr[GPR_RDX];
	r->rbx = cpu->st.gpr[GPR_RBX];
	r->rsi = cpu->st.gpr[GPR_RSI];
	r->flags = emu_rflags(cpu);
	return rc;
}

static int
run_case(struct fx *f, const struct dcase *dc)
{
	struct regs in, nat, emu;
	uint8_t buf[BUF_SIZE];
	uint64_t fmask, *ptrn, *ptre;
	int i, j, bad = 0, rc, exc;

	for (i = 0; i < ITERS; i++) {
		in.rax = gen(dc->size);
		in.rcx = gen(dc->size);
		in.rdx = gen(dc->size);
		in.rbx = gen(dc->size);
		in.rsi = 0;
		in.flags = (rng() & RFL_ARITH) | 0x2;
		for (j = 0; j < BUF_SIZE; j += 8) {
			uint64_t v = gen(8);

			memcpy(buf + j, &v, 8);
		}
		if (dc->kind == K_CTL && rng() % 2)
			in.rcx = (in.rcx & ~0xffffULL) | (rng() % 72) | (rng() % 72) << 8;
		if (dc->kind == K_CX16 && rng() % 2) {
			int off = dc->bytes[dc->len - 1] == 0x10 ? 16 : 0;

			memcpy(buf + off, &in.rax, 8);
			memcpy(buf + off + 8, &in.rdx, 8);
		}
		nat = in;
		emu = in;
		/* The pointer register: the host buffer natively, FX_DATA emulated. */
		ptrn = dc->ptr == GPR_RBX ? &nat.rbx : &nat.rsi;
		ptre = dc->ptr == GPR_RBX ? &emu.rbx : &emu.rsi;
		*ptrn = (uint64_t)(uintptr_t)hostbuf;
		*ptre = FX_DATA;
		memcpy(hostbuf, buf, BUF_SIZE);
		dc->native(&nat);
		rc = run_emu(f, dc, &emu, buf, &exc);
		*ptrn -= (uint64_t)(uintptr_t)hostbuf;
		*ptre -= FX_DATA;

		fmask = RFL_ARITH;
		if (!host_intel)
			fmask &= ~dc->undef;
		if (rc == EMU_OK && nat.rax == emu.rax && nat.rcx == emu.rcx &&
		    nat.rdx == emu.rdx && nat.rbx == emu.rbx && nat.rsi == emu.rsi &&
		    ((nat.flags ^ emu.flags) & fmask) == 0 &&
		    memcmp(hostbuf, f->ram + FX_DATA, BUF_SIZE) == 0)
			continue;
		if (bad++ == 0) {
			fprintf(stderr, "  %s: first mismatch at iteration %d\n"
			    "    in:     rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx\n"
			    "    native: rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx\n"
			    "    emu:    rax=%016llx rcx=%016llx rdx=%016llx rbx=%016llx fl=%03llx rc=%d exc=%d mem %s\n",
			    dc->name, i,
			    (unsigned long long)in.rax, (unsigned long long)in.rcx,
			    (unsigned long long)in.rdx, (unsigned long long)in.rbx,
			    (unsigned long long)in.flags & 0xfff,
			    (unsigned long long)nat.rax, (unsigned long long)nat.rcx,
			    (unsigned long long)nat.rdx, (unsigned long long)nat.rbx,
			    (unsigned long long)nat.flags & 0xfff,
			    (unsigned long long)emu.rax, (unsigned long long)emu.rcx,
			    (unsigned long long)emu.rdx, (unsigned long long)emu.rbx,
			    (unsigned long long)emu.flags & 0xfff, rc, exc,
			    memcmp(hostbuf, f->ram + FX_DATA, BUF_SIZE) ? "differs" : "same");
		}
	}
	return bad;
}

static void
run_feature(int feature, const char *what)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	struct fx f;
	size_t i;
	int bad;

	if (!host_has(feature))
		SKIP("host lacks %s", what);
	__get_cpuid(0, &a, &b, &c, &d);
	/* "GenuineIntel": EBX EDX ECX */
	host_intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;
	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].feature != feature)
			continue;
		rng_state = 0x9e3779b97f4a7c15ULL ^ (i * 0x100000001b3ULL);
		bad = run_case(&f, &cases[i]);
		if (bad != 0) {
			fprintf(stderr, "  %s: %d/%d mismatches\n", cases[i].name, bad, ITERS);
			test_failed_ = 1;
		}
	}
	fx_fini(&f);
}

TEST(diff_popcnt)
{
	run_feature(H_POPCNT, "POPCNT");
}

TEST(diff_lzcnt)
{
	run_feature(H_LZCNT, "LZCNT (ABM)");
}

TEST(diff_bmi1)
{
	run_feature(H_BMI1, "BMI1");
}

TEST(diff_bmi2)
{
	run_feature(H_BMI2, "BMI2");
}

TEST(diff_adx)
{
	run_feature(H_ADX, "ADX");
}

TEST(diff_movbe)
{
	run_feature(H_MOVBE, "MOVBE");
}

TEST(diff_xlat)
{
	run_feature(H_NONE, "nothing");
}

TEST(diff_cmpxchg16b)
{
	run_feature(H_CX16, "CMPXCHG16B");
}

#else

TEST(diff_isa_host)
{
	SKIP("the host is not x86-64");
}

#endif
