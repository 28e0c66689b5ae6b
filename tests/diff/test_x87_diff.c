/*
 * test_x87_diff.c - the software CPU's x87 (x87.c) against the host CPU,
 * encoding by encoding: every D8-DF ModRM register form, every memory form
 * (ModRM.reg), FWAIT, FXSAVE/FXRSTOR with and without REX.W.
 *
 * As tests/diff/test_diff.c, each case runs natively and emulated on the
 * same inputs, here with a random x87 state as well: the native prologue
 * loads it with FXRSTOR64 (after saving the host's with FXSAVE64), the
 * epilogue saves the result with FXSAVE64 and restores the host's.  The
 * emulator gets the same image in st.fxsave.  The state is drawn to hit
 * the edges: zeros, denormals, pseudo-denormals, infinities, QNaNs, SNaNs,
 * the indefinite, unnormals and pseudo-NaNs, integer and BCD boundaries,
 * ties, every rounding and precision control, masked and unmasked
 * exceptions, pending exceptions (#MF), empty and full stacks.
 *
 * Compared: the x87 image (FCW FSW FTW FOP FIP FDP and ST0-7 with their
 * reserved bytes: bytes 0-23 and 32-159 of the FXSAVE64 image), all GPRs,
 * the arithmetic flags, the whole data window (so FNSAVE/FNSTENV/FXSAVE
 * images byte for byte), and for a faulting case the vector (SIGILL #UD,
 * SIGFPE #MF, SIGSEGV #GP) and that the emulator changed nothing.
 * DIFF_ITERS overrides the cases per form, DIFF_FORM=xx runs only forms
 * whose name contains xx, DIFF_LIST_FORMS=file lists the cases that matched
 * (native.h; for docs/cpu-coverage.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "cpu.h"
#include "forms.h"
#include "native.h"
#include "test.h"

#if defined(__x86_64__)

#define VERIFY(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: VERIFY(%s) failed\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

#ifdef __SANITIZE_ADDRESS__
#define ITERS_DEFAULT	150
#else
#define ITERS_DEFAULT	300
#endif

/* Our own pages (a process of its own: test_diff's addresses are free). */
#define X_CODE		0x42000000ULL
#define X_CODE_SIZE	0x3000ULL
#define X_FX		0x1000	/* the harness's FXSAVE images, after the code page */
#define FX_IN		(X_FX + DIFF_FX_IN)
#define FX_OUT		(X_FX + DIFF_FX_OUT)

static uint8_t *code, *data, *init_img, *nat_img;
static volatile sig_atomic_t nat_signal;
static int (*nat_entry)(void);
static struct emu_cpu *ecpu;
static struct vmm_memmap emap;
static struct vm_exit eexit;

/* ---- the forms ---- */

struct xform {
	char	name[40];
	int	kind;		/* XF_ESC, XF_FWAIT, XF_FXSAVE, XF_FXRSTOR */
	int	esc;		/* 0-7 for D8-DF */
	int	modrm;		/* register form: C0-FF; memory form: reg << 3 */
	bool	mem;
	int	rexw;		/* FXSAVE/FXRSTOR: REX.W */
};
enum { XF_ESC, XF_FWAIT, XF_FXSAVE, XF_FXRSTOR };

static struct xform forms[8 * 64 + 8 * 8 + 8];
static int nforms;

static void
make_forms(void)
{
	int e, m;

	for (e = 0; e < 8; e++) {
		for (m = 0; m < 8; m++) {
			struct xform *f = &forms[nforms++];

			snprintf(f->name, sizeof(f->name), "%02x /%d mem", 0xd8 + e, m);
			f->kind = XF_ESC;
			f->esc = e;
			f->modrm = m << 3;
			f->mem = true;
		}
		for (m = 0xc0; m <= 0xff; m++) {
			struct xform *f = &forms[nforms++];

			snprintf(f->name, sizeof(f->name), "%02x %02x", 0xd8 + e, m);
			f->kind = XF_ESC;
			f->esc = e;
			f->modrm = m;
		}
	}
	snprintf(forms[nforms].name, 40, "9b fwait");
	forms[nforms++].kind = XF_FWAIT;
	for (m = 0; m < 2; m++) {
		snprintf(forms[nforms].name, 40, "%sfxsave", m ? "rex.w " : "");
		forms[nforms].kind = XF_FXSAVE;
		forms[nforms].mem = true;
		forms[nforms++].rexw = m;
		snprintf(forms[nforms].name, 40, "%sfxrstor", m ? "rex.w " : "");
		forms[nforms].kind = XF_FXRSTOR;
		forms[nforms].mem = true;
		forms[nforms++].rexw = m;
	}
}

/* ---- random operands ---- */

static uint64_t
rnd(void)
{
	return diff_rng();
}

/* An 80-bit value of a random class (SDM Vol. 1 8.2.2, table 8-3). */
static void
gen_f80(uint8_t *p)
{
	static const uint16_t int_exp[] = { 0x400e, 0x401e, 0x403e, 0x400d, 0x401d, 0x403d };
	uint64_t m = rnd();
	uint16_t s = (rnd() & 1) ? 0x8000 : 0, e;
	int64_t k;

	switch (rnd() % 18) {
	case 0: e = 0; m = 0; break;					/* zero */
	case 1: e = 0; m = (m >> (rnd() % 63)) & ~(1ULL << 63); break;	/* denormal */
	case 2: e = 0; m |= 1ULL << 63; break;				/* pseudo-denormal */
	case 3: e = 0x7fff; m = 1ULL << 63; break;			/* infinity */
	case 4: e = 0x7fff; m |= 3ULL << 62; break;			/* QNaN */
	case 5: e = 0x7fff; m = (m & ~(3ULL << 62)) | (1ULL << 63) | 1; break;	/* SNaN */
	case 6: e = 0x7fff; s = 0x8000; m = 3ULL << 62; break;		/* indefinite */
	case 7: e = (rnd() & 1) ? 0x7fff : (uint16_t)(rnd() % 0x7fff); m &= ~(1ULL << 63); break;
	case 8:								/* small integer */
		k = (int64_t)(rnd() % 2001) - 1000;
		s = k < 0 ? 0x8000 : 0;
		k = k < 0 ? -k : k;
		if (k == 0) { e = 0; m = 0; break; }
		e = (uint16_t)(0x3fff + 63 - __builtin_clzll((uint64_t)k));
		m = (uint64_t)k << __builtin_clzll((uint64_t)k);
		break;
	case 9:								/* integer boundaries */
		e = int_exp[rnd() % 6];
		m = (1ULL << 63) | ((rnd() & 1) ? (rnd() & 0xff) : ~0ULL >> (rnd() % 4 + 48));
		if (rnd() & 1)
			m = 1ULL << 63;
		break;
	case 10:							/* k + 1/2 and ties */
		e = (uint16_t)(0x3fff + rnd() % 8);
		m = (1ULL << 63) | (m & ~0ULL << (63 - (rnd() % 64)));
		m |= (1ULL << (rnd() % 40));
		break;
	case 11:							/* extremes */
		e = (rnd() & 1) ? 0x7ffe : 1;
		m = (rnd() & 1) ? ~0ULL : 1ULL << 63;
		break;
	case 12:							/* near the single/double limits */
		e = (uint16_t)((rnd() & 1 ? 0x3fff + 127 : 0x3fff + 1023) + (rnd() % 5) - 2);
		if (rnd() & 1)
			e = (uint16_t)((rnd() & 1 ? 0x3fff - 126 : 0x3fff - 1022) - (rnd() % 70));
		m |= 1ULL << 63;
		break;
	case 13:							/* few significant bits: exact results */
		e = (uint16_t)(0x3fff + (rnd() % 64) - 32);
		m = (1ULL << 63) | (m & 0x7ff0000000000000ULL);
		break;
	default:							/* normal */
		e = (rnd() % 4) ? (uint16_t)(0x3fff + (int)(rnd() % 160) - 80) :
		    (uint16_t)(1 + rnd() % 0x7ffe);
		m |= 1ULL << 63;
		break;
	}
	memcpy(p, &m, 8);
	e |= s;
	memcpy(p + 8, &e, 2);
}

/* An m32fp or m64fp operand of a random class. */
static void
gen_fp(uint8_t *p, int size)
{
	int mb = size == 4 ? 23 : 52, eb = size == 4 ? 8 : 11;
	uint64_t emax = (1ULL << eb) - 1, bias = emax >> 1, v, e, m = rnd() & ((1ULL << mb) - 1);
	uint64_t s = rnd() & 1;

	switch (rnd() % 10) {
	case 0: e = 0; m = 0; break;
	case 1: e = 0; m >>= rnd() % mb; if (!m) m = 1; break;
	case 2: e = emax; m = 0; break;
	case 3: e = emax; m |= 1ULL << (mb - 1); break;				/* QNaN */
	case 4: e = emax; m = (m & ~(1ULL << (mb - 1))) | 1; break;		/* SNaN */
	case 5: e = (rnd() & 1) ? emax - 1 : 1; break;
	case 6: e = bias + rnd() % 8; m &= ~0ULL << (mb - 4); break;		/* short */
	default: e = bias + (rnd() % 200) - 100; break;
	}
	v = s << (size * 8 - 1) | e << mb | m;
	memcpy(p, &v, (size_t)size);
}

static void
gen_int(uint8_t *p, int size)
{
	uint64_t v = rnd(), top = 1ULL << (size * 8 - 1);

	switch (rnd() % 6) {
	case 0: v = top; break;
	case 1: v = top - 1 - (rnd() % 3); break;
	case 2: v = rnd() % 2001 - 1000; break;
	case 3: v = (uint64_t)-(int64_t)(rnd() % 3); break;
	default: break;
	}
	memcpy(p, &v, (size_t)size);
}

static void
gen_bcd(uint8_t *p)
{
	int i;

	for (i = 0; i < 9; i++)
		p[i] = (rnd() % 16) ? (uint8_t)((rnd() % 10) << 4 | rnd() % 10) : (uint8_t)rnd();
	p[9] = (rnd() % 8) ? (uint8_t)(rnd() & 0x80) : (uint8_t)rnd();
}

/*
 * A random x87 state in FXSAVE64 layout; @raw: as an operand in memory,
 * else as the processor holds it (FXRSTOR drops FCW's reserved bits and
 * recomputes ES and B, so a loaded state never has them otherwise).
 */
static void
gen_state(uint8_t *fx, bool raw)
{
	uint16_t fcw, fsw, exc;
	uint64_t v;
	int i, top;

	memset(fx, 0, 512);
	fcw = (uint16_t)(0x0040 | (rnd() & 0x0c00) | ((rnd() % 3 ? 3 - (rnd() & 1) * 1 : rnd() & 3) << 8));
	if (rnd() % 4 == 0)
		fcw |= (uint16_t)(rnd() & 0x3f);
	else
		fcw |= 0x3f;
	if (rnd() % 16 == 0)
		fcw ^= (uint16_t)(rnd() & 0xf080);
	top = (int)(rnd() & 7);
	exc = (rnd() % 3 == 0) ? (uint16_t)(rnd() & rnd() & 0x7f) : 0;
	fsw = (uint16_t)(top << 11 | (rnd() & 0x4700) | exc);
	if (fsw & ~fcw & 0x3f)
		fsw |= 0x8080;
	if (rnd() % 32 == 0 && raw)
		fsw ^= 0x8080;
	if (!raw)
		fcw = (uint16_t)((fcw & 0x1f3f) | 0x40);
	memcpy(fx + 0, &fcw, 2);
	memcpy(fx + 2, &fsw, 2);
	switch (rnd() % 8) {
	case 0: fx[4] = 0; break;
	case 1: fx[4] = 0xff; break;
	default: fx[4] = (uint8_t)(rnd() | rnd()); break;
	}
	v = rnd() & 0x7ff;
	memcpy(fx + 6, &v, 2);
	v = rnd() & 0x7fffffffffffULL;
	memcpy(fx + 8, &v, 8);
	v = rnd() & 0x7fffffffffffULL;
	memcpy(fx + 16, &v, 8);
	v = 0x1f80;
	memcpy(fx + 24, &v, 4);
	v = 0xffff;
	memcpy(fx + 28, &v, 4);
	for (i = 0; i < 8; i++)
		gen_f80(fx + 32 + 16 * i);
	if (rnd() & 1)		/* equal operands for compares */
		memcpy(fx + 32 + 16 * (1 + rnd() % 7), fx + 32, 10);
}

/* ---- native execution ---- */


static int
native_setup(void)
{
	code = diff_map_fixed(X_CODE, X_CODE_SIZE, true);
	data = diff_map_fixed(DIFF_DATA, DIFF_DATA_SIZE, false);
	if (code == NULL || data == NULL)
		return -ENOMEM;
	init_img = malloc(DIFF_DATA_SIZE);
	nat_img = malloc(DIFF_DATA_SIZE);
	VERIFY(init_img != NULL && nat_img != NULL);
	nat_entry = diff_build_harness(code, X_CODE, X_CODE + X_FX);
	diff_catch_faults(X_CODE, 0x1000, X_CODE + DIFF_LANDING, &nat_signal);
	return 0;
}

struct xcase {
	uint8_t		bytes[15];
	int		len;
	uint64_t	gpr[16];
	uint64_t	rflags;
	uint8_t		fx[512] __attribute__((aligned(16)));
};

static int
native_run(const struct xcase *c, uint64_t *gpr, uint64_t *flags, uint8_t *fx)
{
	uint8_t *slot = code + DIFF_SLOT;

	memset(slot - 15, 0x90, 15 - c->len);
	memcpy(slot - c->len, c->bytes, c->len);
	memcpy(code + DIFF_SL_IN, c->gpr, 16 * 8);
	memcpy(code + DIFF_SL_IN + 16 * 8, &c->rflags, 8);
	memcpy(code + FX_IN, c->fx, 512);
	nat_signal = 0;
	if (nat_entry() != 0)
		return nat_signal != 0 ? nat_signal : -1;
	memcpy(gpr, code + DIFF_SL_OUT, 16 * 8);
	memcpy(flags, code + DIFF_SL_OUT + 16 * 8, 8);
	memcpy(fx, code + FX_OUT, 512);
	return 0;
}

/* ---- emulated execution ---- */

static void
emu_setup(void)
{
	int s;

	ecpu = calloc(1, sizeof(*ecpu));
	VERIFY(ecpu != NULL);
	/* Linux's user mode: CR0.MP and NE set, EM and TS clear. */
	ecpu->st.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
	ecpu->st.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
	ecpu->st.efer = EFER_LME | EFER_LMA;
	ecpu->st.seg[SEG_CS].access = 0xa09b;
	ecpu->st.seg[SEG_CS].limit = 0xffffffff;
	for (s = SEG_ES; s <= SEG_GS; s++) {
		if (s == SEG_CS)
			continue;
		ecpu->st.seg[s].access = 0xc093;
		ecpu->st.seg[s].limit = 0xffffffff;
	}
	emu_update_mode(ecpu);
	VERIFY(ecpu->mode == EMU_MODE_LONG64);
	emap.nsegs = 1;
	emap.seg[0].gpa = DIFF_DATA;
	emap.seg[0].len = DIFF_DATA_SIZE;
	emap.seg[0].hva = data;
	ecpu->mem = &emap;
	ecpu->exit = &eexit;
	/* the host's vendor: x87 pointer rules differ (x87.c) */
	{
		unsigned a, b, cc, d;

		__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(cc), "=d"(d) : "a"(0));
		ecpu->vendor = b == 0x68747541 ? VMM_VENDOR_AMD : VMM_VENDOR_INTEL;
	}
	emu_tlb_flush(ecpu, false);
}

struct eres {
	int		rc, exc, derr;
	uint64_t	gpr[16], flags;
};

static void
emu_run_case(const struct xcase *c, struct eres *r)
{
	uint64_t rip = X_CODE + DIFF_SLOT - (uint64_t)c->len;
	struct emu_insn in;
	int rc;

	memset(r, 0, sizeof(*r));
	memcpy(ecpu->st.gpr, c->gpr, 16 * 8);
	emu_set_rflags(ecpu, c->rflags);
	memcpy(ecpu->st.fxsave, c->fx, 512);
	ecpu->st.rip = rip;
	ecpu->exc_vector = -1;
	rc = emu_decode(c->bytes, c->len, ecpu->mode, &in);
	if (rc == -EILSEQ) {
		r->rc = EMU_FAULT;
		r->exc = IDT_UD;
	} else if (rc != 0) {
		r->rc = -1;
		r->derr = rc;
	} else if (in.len != c->len) {
		r->rc = -1;
		r->derr = -1000 - in.len;
	} else {
		ecpu->next_rip = rip + in.len;
		r->rc = in.fn(ecpu, &in);
		emu_x87_flush(ecpu);	/* as emu.c after an instruction */
		r->exc = ecpu->exc_vector;
	}
	memcpy(r->gpr, ecpu->st.gpr, 16 * 8);
	r->flags = emu_rflags(ecpu);
}

/* ---- cases ---- */

/* bases without a SIB byte (r/m 100 is SIB) */
static const uint8_t gpr_ok[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15 };

/* Encode @f with a memory operand at @target; returns the length. */
static int
encode_mem(struct xcase *c, const uint8_t *op, int nop, int reg, uint64_t target, bool rexw)
{
	uint8_t *b = c->bytes;
	int n = 0, base = gpr_ok[rnd() % sizeof(gpr_ok)], form = (int)(rnd() % 4);
	int32_t disp;
	uint8_t rex = rexw ? 0x48 : 0;

	if (rnd() % 4 == 0)
		b[n++] = 0x66;
	if (form == 0) {
		/* [rip + disp32] */
		if (rex)
			b[n++] = rex;
		memcpy(b + n, op, nop);
		n += nop;
		b[n++] = (uint8_t)(reg << 3 | 5);
		disp = (int32_t)(target - (X_CODE + DIFF_SLOT));
		memcpy(b + n, &disp, 4);
		return n + 4;
	}
	if (base >= 8)
		rex |= 0x41;
	if (rex)
		b[n++] = rex;
	memcpy(b + n, op, nop);
	n += nop;
	if (form == 1) {
		disp = (int8_t)rnd();
		b[n++] = (uint8_t)(0x40 | reg << 3 | (base & 7));
		b[n++] = (uint8_t)disp;
	} else {
		disp = (int32_t)(rnd() % 4096) - 2048;
		b[n++] = (uint8_t)(0x80 | reg << 3 | (base & 7));
		memcpy(b + n, &disp, 4);
		n += 4;
	}
	c->gpr[base] = target - (uint64_t)(int64_t)disp;
	return n;
}

/* The operand a memory form reads, at @p (the rest of the window is random). */
static void
gen_operand(const struct xform *f, uint8_t *p, int opsz16)
{
	int reg = f->modrm >> 3;

	if (f->kind == XF_FXRSTOR) {
		uint32_t mx = 0x1f80 ^ (uint32_t)(rnd() & 0xffbf);

		gen_state(p, true);
		if (rnd() % 8 == 0)
			mx |= (uint32_t)rnd();
		memcpy(p + 24, &mx, 4);
		return;
	}
	if (f->kind != XF_ESC)
		return;
	switch (f->esc) {
	case 0: case 4:
		gen_fp(p, f->esc ? 8 : 4);
		return;
	case 2: case 6:
		gen_int(p, f->esc == 2 ? 4 : 2);
		return;
	case 1:
		if (reg == 0)
			gen_fp(p, 4);
		else if (reg == 5)
			gen_int(p, 2);
		else if (reg == 4) {
			uint8_t fx[512];
			uint16_t v;

			/* an environment from a random state: FCW FSW FTW */
			gen_state(fx, true);
			memcpy(p, fx, 4);
			v = (uint16_t)rnd();
			memcpy(p + (opsz16 ? 4 : 8), &v, 2);
		}
		return;
	case 3:
		if (reg == 0)
			gen_int(p, 4);
		else if (reg == 5)
			gen_f80(p);
		return;
	case 5:
		if (reg == 0)
			gen_fp(p, 8);
		else if (reg == 4) {
			uint8_t fx[512];
			int i, n = opsz16 ? 14 : 28;

			gen_state(fx, true);
			memcpy(p, fx, 4);
			if (!opsz16)
				memcpy(p + 4, fx + 2, 2);
			for (i = 0; i < 8; i++)
				gen_f80(p + n + 10 * i);
		}
		return;
	case 7:
		if (reg == 0)
			gen_int(p, 2);
		else if (reg == 4)
			gen_bcd(p);
		else if (reg == 5)
			gen_int(p, 8);
		return;
	}
}

static void
gen_case(const struct xform *f, struct xcase *c)
{
	uint64_t target;
	uint8_t op[3];
	int nop, i;
	bool opsz16;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < 16; i++)
		c->gpr[i] = rnd();
	c->rflags = 0x2 | (rnd() & RFL_ARITH);
	gen_state(c->fx, false);
	for (i = 0; i < (int)DIFF_DATA_SIZE; i += 8) {
		uint64_t v = rnd();

		memcpy(init_img + i, &v, 8);
	}
	if (f->kind == XF_FWAIT) {
		c->bytes[0] = 0x9b;
		c->len = 1;
		return;
	}
	if (!f->mem) {
		i = 0;
		if (rnd() % 4 == 0)
			c->bytes[i++] = (uint8_t)(0x40 | (rnd() & 0xf));
		c->bytes[i++] = (uint8_t)(0xd8 + f->esc);
		c->bytes[i++] = (uint8_t)f->modrm;
		c->len = i;
		return;
	}
	target = DIFF_DATA + 64 + rnd() % (DIFF_DATA_SIZE - 1024);
	if (f->kind == XF_FXSAVE || f->kind == XF_FXRSTOR) {
		if (rnd() % 8)
			target &= ~15ULL;
		op[0] = 0x0f;
		op[1] = 0xae;
		nop = 2;
		c->len = encode_mem(c, op, nop, f->kind == XF_FXRSTOR, target, f->rexw);
	} else {
		op[0] = (uint8_t)(0xd8 + f->esc);
		nop = 1;
		c->len = encode_mem(c, op, nop, f->modrm >> 3, target, rnd() % 8 == 0);
	}
	opsz16 = c->bytes[0] == 0x66;
	gen_operand(f, init_img + (target - DIFF_DATA), opsz16);
}

/* ---- comparison ---- */

static void
dump_fx(const char *what, const uint8_t *fx)
{
	int i;

	fprintf(stderr, "    %-7s fcw %04x fsw %04x ftw %02x fop %03x fip %016llx fdp %016llx\n",
	    what, fx[0] | fx[1] << 8, fx[2] | fx[3] << 8, fx[4], (fx[6] | fx[7] << 8) & 0x7ff,
	    *(const unsigned long long *)(const void *)(fx + 8),
	    *(const unsigned long long *)(const void *)(fx + 16));
	fprintf(stderr, "           ");
	for (i = 0; i < 8; i++)
		fprintf(stderr, "st%d=%04x:%016llx%s", i, fx[32 + 16 * i + 8] | fx[32 + 16 * i + 9] << 8,
		    *(const unsigned long long *)(const void *)(fx + 32 + 16 * i),
		    i % 3 == 2 ? "\n           " : " ");
	fprintf(stderr, "\n");
}

static const char *
compare(const struct xcase *c, int sig, const uint64_t *ngpr, uint64_t nflags,
    const uint8_t *nfx, const struct eres *er)
{
	if (er->rc == -1)
		return "the emulator's decoder rejects the bytes or decodes another length";
	if (sig != 0) {
		if (er->rc != EMU_FAULT)
			return "native fault, the emulator did not fault";
		if (sig == SIGFPE && er->exc != IDT_MF)
			return "native #MF, the emulator raised another exception";
		if (sig == SIGILL && er->exc != IDT_UD)
			return "native #UD, the emulator raised another exception";
		if ((sig == SIGSEGV || sig == SIGBUS) && er->exc != IDT_GP && er->exc != IDT_SS)
			return "native #GP, the emulator raised another exception";
		if (memcmp(er->gpr, c->gpr, sizeof(er->gpr)) != 0)
			return "the emulator faulted but changed registers";
		if (memcmp(ecpu->st.fxsave, c->fx, 512) != 0)
			return "the emulator faulted but changed the x87 state";
		if (memcmp(data, init_img, DIFF_DATA_SIZE) != 0)
			return "the emulator faulted but changed memory";
		return NULL;
	}
	if (er->rc != EMU_OK)
		return "the emulator faulted or exited, the host did not";
	if (memcmp(ngpr, er->gpr, 16 * 8) != 0)
		return "registers differ";
	if ((nflags ^ er->flags) & RFL_ARITH)
		return "flags differ";
	if (memcmp(nfx, ecpu->st.fxsave, 24) != 0)
		return "x87 control/status/tag/pointers differ";
	if (memcmp(nfx + 32, ecpu->st.fxsave + 32, 128) != 0)
		return "x87 registers differ";
	if (memcmp(data, nat_img, DIFF_DATA_SIZE) != 0)
		return "memory differs";
	return NULL;
}

static void
report(const struct xform *f, const struct xcase *c, int iter, const char *why, int sig,
    const uint8_t *nfx, uint64_t nflags, const struct eres *er)
{
	int i;

	fprintf(stderr, "  %s case %d: %s\n    bytes  ", f->name, iter, why);
	for (i = 0; i < c->len; i++)
		fprintf(stderr, " %02x", c->bytes[i]);
	fprintf(stderr, "  rflags in %llx\n", (unsigned long long)c->rflags);
	dump_fx("in:", c->fx);
	if (sig != 0)
		fprintf(stderr, "    native: signal %d\n", sig);
	else {
		dump_fx("native:", nfx);
		fprintf(stderr, "    native rflags %llx rax %llx\n", (unsigned long long)nflags,
		    (unsigned long long)0);
	}
	fprintf(stderr, "    emu: rc %d exc %d derr %d rflags %llx\n", er->rc, er->exc, er->derr,
	    (unsigned long long)er->flags);
	dump_fx("emu:", ecpu->st.fxsave);
	for (i = 0; i < (int)DIFF_DATA_SIZE; i++) {
		if (sig == 0 && data[i] != nat_img[i]) {
			fprintf(stderr, "    memory at %#llx: native %02x emu %02x (before %02x)\n",
			    (unsigned long long)(DIFF_DATA + i), nat_img[i], data[i], init_img[i]);
			break;
		}
	}
}

static uint64_t
seed_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*name)
		h = (h ^ (uint8_t)*name++) * 0x100000001b3ULL;
	return h;
}

static long total, faults;

static int
run_form(const struct xform *f, int n)
{
	static struct xcase c;
	static uint8_t nfx[512] __attribute__((aligned(16)));
	struct eres er;
	uint64_t ngpr[16], nflags = 0;
	const char *why;
	int i, sig, bad = 0;

	diff_seed(seed_of(f->name));
	for (i = 0; i < n; i++) {
		gen_case(f, &c);
		memcpy(data, init_img, DIFF_DATA_SIZE);
		sig = native_run(&c, ngpr, &nflags, nfx);
		memcpy(nat_img, data, DIFF_DATA_SIZE);
		memcpy(data, init_img, DIFF_DATA_SIZE);
		emu_run_case(&c, &er);
		total++;
		faults += sig != 0;
		why = compare(&c, sig, ngpr, nflags, nfx, &er);
		if (why == NULL)
			diff_list_case(c.bytes, c.len);
		if (why != NULL && bad++ < 2)
			report(f, &c, i, why, sig, nfx, nflags, &er);
	}
	if (bad != 0)
		fprintf(stderr, "  %s: %d/%d cases differ\n", f->name, bad, n);
	return bad;
}

static bool ready;

static void
run_group(int lo, int hi)
{
	const char *only = getenv("DIFF_FORM"), *e = getenv("DIFF_ITERS");
	int i, n = e != NULL ? atoi(e) : ITERS_DEFAULT, nf = 0, nbad = 0;
	long before = total, fb = faults;
	struct timespec t0, t1;

	if (!ready) {
		if (native_setup() != 0)
			SKIP("cannot map the test pages");
		emu_setup();
		make_forms();
		ready = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nforms; i++) {
		const struct xform *f = &forms[i];
		int g = f->kind == XF_ESC ? f->esc : 8;

		if (g < lo || g > hi || (only != NULL && strstr(f->name, only) == NULL))
			continue;
		nf++;
		if (run_form(f, n) != 0) {
			test_failed_ = 1;
			nbad++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %d forms (%d differ), %ld cases (%ld faulting natively), %.2f s\n", nf, nbad,
	    total - before, faults - fb,
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

TEST(x87_d8_arith_m32_st) { run_group(0, 0); }
TEST(x87_d9_load_store_env_const_transc) { run_group(1, 1); }
TEST(x87_da_int32_fcmov) { run_group(2, 2); }
TEST(x87_db_int32_m80_fcmovn_fcomi) { run_group(3, 3); }
TEST(x87_dc_arith_m64_sti) { run_group(4, 4); }
TEST(x87_dd_m64_save_ffree_fst_fucom) { run_group(5, 5); }
TEST(x87_de_int16_arith_pop) { run_group(6, 6); }
TEST(x87_df_int16_int64_bcd_fcomip) { run_group(7, 7); }
TEST(x87_fwait_fxsave_fxrstor) { run_group(8, 8); }

#else

TEST(x87_diff_host)
{
	SKIP("the host is not x86-64");
}

#endif
