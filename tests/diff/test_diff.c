/*
 * test_diff.c - the software CPU against the host CPU, instruction form by
 * instruction form (DESIGN.md section 8, tests/diff).
 *
 * Each case (forms.c makes it: real instruction bytes plus registers, flags
 * and memory) runs twice on the same inputs:
 *
 *   native:   the bytes are copied into an executable page at a fixed low
 *             address, between a prologue that loads RFLAGS and all 16 GPRs
 *             (RSP included) from slots in that page and an epilogue that
 *             stores them back.  Slots are reached RIP-relative, so the
 *             instruction may use every register, RSP too: the host stack
 *             pointer is kept in a slot and reloaded by the epilogue.
 *             Faults (#DE from DIV, ...) arrive as signals on an alternate
 *             stack (RSP may be anything) and resume at a landing pad.
 *   emulated: emu_decode() on the same bytes, then the handler exactly as
 *             the run loop dispatches it (next_rip = rip + len; rc = fn()),
 *             repeated while a REP string instruction sets next_rip back to
 *             itself; 64-bit mode, paging off, the data window mapped as
 *             guest RAM at the guest-physical address equal to its host
 *             address.
 *
 * Compared: all 16 GPRs, the arithmetic flags the SDM defines for that form
 * and those operands (undefined ones are vendor-specific: see
 * tests/unit/test_flags_diff.c), DF, the whole data window, the decoded
 * length, and for a faulting case the vector (#DE) and that the emulator
 * changed nothing.  The seed is fixed per form; DIFF_ITERS overrides the
 * cases per form and size, DIFF_FORM runs only forms whose name contains it.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>
#include <cpuid.h>

#include "cpu.h"
#include "forms.h"
#include "native.h"
#include "test.h"

#if defined(__x86_64__)

/* A host invariant of the test itself. */
#define VERIFY(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: VERIFY(%s) failed\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

#ifdef __SANITIZE_ADDRESS__
#define DIFF_ITERS_DEFAULT	800
#else
#define DIFF_ITERS_DEFAULT	3000
#endif

/* Layout of the code page (offsets from DIFF_CODE). */

static uint8_t *code;		/* DIFF_CODE */
static uint8_t *data;		/* DIFF_DATA */
static uint8_t *init_img;	/* what the data window holds before each run */
static uint8_t *nat_img;	/* the window after the native run */
static volatile sig_atomic_t nat_signal;
static int (*nat_entry)(void);

static struct emu_cpu *ecpu;
static struct vmm_memmap emap;
static struct vm_exit eexit;

static const char *const gpr_name[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* ---- native execution ---- */

/* The code page (native.h's harness, no FPU state) and the data window. */
static int
native_setup(void)
{
	code = diff_map_fixed(DIFF_CODE, DIFF_CODE_SIZE, true);
	data = diff_map_fixed(DIFF_DATA, DIFF_DATA_SIZE, false);
	if (code == NULL || data == NULL)
		return -ENOMEM;
	init_img = malloc(DIFF_DATA_SIZE);
	nat_img = malloc(DIFF_DATA_SIZE);
	VERIFY(init_img != NULL && nat_img != NULL);
	nat_entry = diff_build_harness(code, DIFF_CODE, 0);
	diff_catch_faults(DIFF_CODE, DIFF_CODE_SIZE, DIFF_CODE + DIFF_LANDING, &nat_signal);
	return 0;
}

/* Run the case natively: returns the signal it raised, or 0. */
static int
native_run(const struct diff_case *c, uint64_t *gpr, uint64_t *flags)
{
	uint8_t *slot = code + (DIFF_SLOT_END - DIFF_CODE);

	memset(slot - 15, 0x90, 15 - c->len);
	memcpy(slot - c->len, c->bytes, c->len);
	memcpy(code + DIFF_SL_IN, c->gpr, 16 * 8);
	memcpy(code + DIFF_SL_IN + 16 * 8, &c->rflags, 8);
	nat_signal = 0;
	if (nat_entry() != 0)
		return nat_signal != 0 ? nat_signal : -1;
	memcpy(gpr, code + DIFF_SL_OUT, 16 * 8);
	memcpy(flags, code + DIFF_SL_OUT + 16 * 8, 8);
	return 0;
}

/* ---- emulated execution ---- */

static void
emu_setup(void)
{
	ecpu = calloc(1, sizeof(*ecpu));
	VERIFY(ecpu != NULL);
	/* IA-32e mode, 64-bit code segment, paging off: linear = physical. */
	ecpu->st.cr0 = CR0_PE | CR0_ET | CR0_NE;
	ecpu->st.efer = EFER_LME | EFER_LMA;
	ecpu->st.seg[SEG_CS].access = 0xa09b;	/* P, S, code RX accessed, L, G */
	ecpu->st.seg[SEG_CS].limit = 0xffffffff;
	for (int s = SEG_ES; s <= SEG_GS; s++) {
		if (s == SEG_CS)
			continue;
		ecpu->st.seg[s].access = 0xc093;	/* P, S, data RW accessed, D, G */
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
	emu_tlb_flush(ecpu, false);
}

struct emu_result {
	int	rc;		/* EMU_OK/FAULT/EXIT, or -1: decode error */
	int	derr;		/* emu_decode's error */
	int	exc;
	int	len;
	uint64_t gpr[16], flags;
};

static int specialize_next;

static void
emu_run_case(const struct diff_case *c, struct emu_result *r)
{
	const uint8_t *bytes = code + (DIFF_SLOT_END - DIFF_CODE) - c->len;
	uint64_t rip = DIFF_SLOT_END - (uint64_t)c->len;
	struct emu_insn in;
	long n;
	int rc;

	memset(r, 0, sizeof(*r));
	memcpy(ecpu->st.gpr, c->gpr, 16 * 8);
	emu_set_rflags(ecpu, c->rflags);
	ecpu->st.rip = rip;
	ecpu->exc_vector = -1;
	/* the bytes after the instruction (the epilogue) are there, as in memory */
	rc = emu_decode(bytes, 15, ecpu->mode, &in);
	if (rc == -EILSEQ || rc == -E2BIG) {
		/* what fetch_decode (emu.c) raises for these */
		r->rc = EMU_FAULT;
		r->exc = rc == -EILSEQ ? IDT_UD : IDT_GP;
		r->len = c->len;
		memcpy(r->gpr, c->gpr, 16 * 8);
		r->flags = c->rflags;
		return;
	}
	if (rc != 0) {
		r->rc = -1;
		r->derr = rc;
		return;
	}
	r->len = in.len;
	/*
	 * Every other case runs the handler the execution engine runs (the
	 * specialised one of fast.c, where the form has one), the others the
	 * generic handler it falls back to: both must match the host.
	 */
	if (specialize_next ^= 1)
		emu_specialize(&in);
	for (n = 0; n < 1000000; n++) {
		ecpu->exc_vector = -1;
		ecpu->next_rip = rip + in.len;
		rc = in.fn(ecpu, &in);
		if (rc != EMU_OK || ecpu->next_rip != rip)
			break;
	}
	r->rc = rc;
	r->exc = ecpu->exc_vector;
	memcpy(r->gpr, ecpu->st.gpr, 16 * 8);
	r->flags = emu_rflags(ecpu);
}

/* ---- comparison ---- */

static void
print_regs(const char *what, const uint64_t *gpr, uint64_t flags)
{
	int i;

	fprintf(stderr, "    %-7s", what);
	for (i = 0; i < 16; i++)
		fprintf(stderr, "%s%s=%016llx", i % 4 == 0 && i ? "\n           " : " ",
		    gpr_name[i], (unsigned long long)gpr[i]);
	fprintf(stderr, "\n           rflags=%08llx\n", (unsigned long long)flags);
}

static void
report(const struct diff_form *f, const struct diff_case *c, int iter, const char *why,
    int sig, const uint64_t *ngpr, uint64_t nflags, const struct emu_result *er)
{
	int i;

	fprintf(stderr, "  %s/%d case %d: %s\n    bytes  ", f->name, c->size * 8, iter, why);
	for (i = 0; i < c->len; i++)
		fprintf(stderr, " %02x", c->bytes[i]);
	fprintf(stderr, "\n");
	print_regs("in:", c->gpr, c->rflags);
	if (sig != 0)
		fprintf(stderr, "    native: signal %d\n", sig);
	else
		print_regs("native:", ngpr, nflags);
	if (er->rc == -1) {
		fprintf(stderr, "    emu:    emu_decode error %d\n", er->derr);
		return;
	}
	fprintf(stderr, "    emu:    rc %d exc %d len %d\n", er->rc, er->exc, er->len);
	print_regs("emu:", er->gpr, er->flags);
	fprintf(stderr, "    compared flags: %03llx\n",
	    (unsigned long long)((RFL_ARITH & ~c->undef) | RFL_DF));
	for (i = 0; i < (int)DIFF_DATA_SIZE; i++) {
		if (data[i] != nat_img[i]) {
			fprintf(stderr, "    memory at %#llx: native %02x emu %02x (before %02x)\n",
			    (unsigned long long)(DIFF_DATA + i), nat_img[i], data[i], init_img[i]);
			break;
		}
	}
}

/* Prepare the data window image for the case. */
static void
apply_memory(const struct diff_case *c)
{
	int i;

	if (c->fill == 1) {
		memset(init_img, 0, DIFF_DATA_SIZE);
		for (i = 0; i < 64; i++)
			init_img[diff_rng() % DIFF_DATA_SIZE] = (uint8_t)diff_rng();
	} else if (c->fill == 2) {
		for (i = 0; i < (int)DIFF_DATA_SIZE; i += 8) {
			uint64_t v = diff_rng();

			memcpy(init_img + i, &v, 8);
		}
	}
	for (i = 0; i < c->npoke; i++)
		memcpy(init_img + c->poke[i].off, c->poke[i].v, c->poke[i].len);
}

static const char *
compare(const struct diff_case *c, int sig, const uint64_t *ngpr, uint64_t nflags,
    const struct emu_result *er)
{
	uint64_t fmask = (RFL_ARITH & ~c->undef) | RFL_DF;
	int i;

	if (er->rc == -1)
		return "the emulator's decoder rejects the bytes";
	if (er->len != c->len && !(er->rc == EMU_FAULT && er->exc == IDT_UD))
		return "decoded length differs";
	if (sig != 0) {
		if (er->rc != EMU_FAULT)
			return "native fault, the emulator did not fault";
		if (sig == SIGFPE && er->exc != IDT_DE)
			return "native #DE, the emulator raised another exception";
		if (sig == SIGILL && er->exc != IDT_UD)
			return "native #UD, the emulator raised another exception";
		if ((sig == SIGSEGV || sig == SIGBUS) && er->exc != IDT_GP && er->exc != IDT_SS)
			return "native #GP/#SS, the emulator raised another exception";
		/* A faulting instruction changes nothing (SDM Vol. 3A 6.5). */
		if (memcmp(er->gpr, c->gpr, sizeof(er->gpr)) != 0)
			return "the emulator faulted but changed registers";
		if (memcmp(data, init_img, DIFF_DATA_SIZE) != 0)
			return "the emulator faulted but changed memory";
		return NULL;
	}
	if (er->rc != EMU_OK)
		return "the emulator faulted or exited, the host did not";
	for (i = 0; i < 16; i++) {
		uint64_t m = (c->lo32_reg >> i & 1) ? 0xffffffffULL : ~0ULL;

		if ((c->skip_reg >> i & 1) == 0 && ((ngpr[i] ^ er->gpr[i]) & m) != 0)
			return "registers differ";
	}
	if ((nflags ^ er->flags) & fmask)
		return "flags differ";
	if (memcmp(data, nat_img, DIFF_DATA_SIZE) != 0)
		return "memory differs";
	return NULL;
}

static uint64_t
seed_of(const char *name, int size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*name)
		h = (h ^ (uint8_t)*name++) * 0x100000001b3ULL;
	return h ^ ((uint64_t)size << 56);
}

static bool ready;
static long total_cases, total_faults;

/*
 * Does the host CPU have @feat (enum diff_feat)?  Without it the bytes mean
 * something else (F3 0F BC/BD are TZCNT/LZCNT with BMI1/ABM, BSF/BSR
 * without) or #UD, so the form is skipped.  CPUID bits: SDM Vol. 2A CPUID
 * tables 3-10, 3-8; leaf 80000001H ECX[5] is LZCNT.
 */
static bool
host_has(int feat)
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	switch (feat) {
	case HF_NONE:
		return true;
	case HF_POPCNT:
	case HF_MOVBE:
		__get_cpuid(1, &a, &b, &c, &d);
		return c & (feat == HF_POPCNT ? 1u << 23 : 1u << 22);
	case HF_LZCNT:
		if (!__get_cpuid(0x80000001u, &a, &b, &c, &d))
			return false;
		return c & (1u << 5);
	default:
		if (__get_cpuid_max(0, NULL) < 7)
			return false;
		__cpuid_count(7, 0, a, b, c, d);
		return b & (feat == HF_BMI1 ? 1u << 3 : feat == HF_BMI2 ? 1u << 8 : 1u << 19);
	}
}

static const char *const feat_name[HF_COUNT] = {
	[HF_POPCNT] = "POPCNT", [HF_LZCNT] = "LZCNT (ABM)", [HF_BMI1] = "BMI1",
	[HF_BMI2] = "BMI2", [HF_ADX] = "ADX", [HF_MOVBE] = "MOVBE",
};

static int
iters(void)
{
	const char *e = getenv("DIFF_ITERS");

	return e != NULL ? atoi(e) : DIFF_ITERS_DEFAULT;
}

/* Run @n cases of @f at @size; returns the number of mismatches. */
static int
run_form(const struct diff_form *f, int size, int n)
{
	struct diff_case c;
	struct emu_result er;
	uint64_t ngpr[16], nflags = 0;
	const char *why;
	int i, sig, bad = 0;

	diff_seed(seed_of(f->name, size));
	for (i = 0; i < n; i++) {
		diff_generate(f, size, &c);
		if (c.skip)
			continue;
		apply_memory(&c);
		memcpy(data, init_img, DIFF_DATA_SIZE);
		sig = native_run(&c, ngpr, &nflags);
		memcpy(nat_img, data, DIFF_DATA_SIZE);
		memcpy(data, init_img, DIFF_DATA_SIZE);
		emu_run_case(&c, &er);
		total_cases++;
		total_faults += sig != 0;
		why = compare(&c, sig, ngpr, nflags, &er);
		if (why != NULL && bad++ == 0)
			report(f, &c, i, why, sig, ngpr, nflags, &er);
	}
	if (bad != 0)
		fprintf(stderr, "  %s/%d: %d/%d cases differ\n", f->name, size * 8, bad, n);
	return bad;
}

static void
run_family(int family)
{
	const char *only = getenv("DIFF_FORM");
	struct timespec t0, t1;
	int i, size, nf = 0, nskip = 0, n = iters();
	long before = total_cases, faults = total_faults;

	if (!ready) {
		if (native_setup() != 0)
			SKIP("cannot map the test pages at %#llx", (unsigned long long)DIFF_CODE);
		emu_setup();
		ready = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < diff_nforms; i++) {
		const struct diff_form *f = &diff_forms[i];

		if (f->family != family || (only != NULL && strstr(f->name, only) == NULL))
			continue;
		if (!host_has(O_FEAT(f->opt))) {
			/* counted by tests/run.sh as a skip, never as a pass */
			printf("skip - %s: host lacks %s\n", f->name, feat_name[O_FEAT(f->opt)]);
			nskip++;
			continue;
		}
		for (size = 1; size <= 8; size *= 2) {
			if (!(f->sizes & size))
				continue;
			nf++;
			if (run_form(f, size, n) != 0)
				test_failed_ = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (nf == 0 && nskip != 0)
		SKIP("host lacks every feature these forms need");
	printf("# %d forms x sizes, %ld cases (%ld faulting), %.2f s\n", nf,
	    total_cases - before, total_faults - faults, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

TEST(diff_alu) { run_family(D_ALU); }
TEST(diff_shift) { run_family(D_SHIFT); }
TEST(diff_muldiv) { run_family(D_MULDIV); }
TEST(diff_bit) { run_family(D_BIT); }
TEST(diff_move) { run_family(D_MOVE); }
TEST(diff_setcc_cmov) { run_family(D_CC); }
TEST(diff_stack) { run_family(D_STACK); }
TEST(diff_string) { run_family(D_STRING); }
TEST(diff_bmi) { run_family(D_BMI); }

#else

TEST(diff_host)
{
	SKIP("the host is not x86-64");
}

#endif
