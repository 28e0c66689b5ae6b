/*
 * native.c - running an instruction on the host for the diff tests
 * (native.h).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "native.h"

void
diff_emit_rip(uint8_t **p, int reg, uint64_t target)
{
	int32_t d;

	*(*p)++ = (uint8_t)(((reg & 7) << 3) | 5);
	d = (int32_t)(target - ((uint64_t)(uintptr_t)*p + 4));
	memcpy(*p, &d, 4);
	*p += 4;
}

void
diff_emit_mov(uint8_t **p, int reg, uint64_t slot, bool store)
{
	*(*p)++ = (uint8_t)(0x48 | (reg >= 8 ? 0x4 : 0));
	*(*p)++ = store ? 0x89 : 0x8b;
	diff_emit_rip(p, reg, slot);
}

void
diff_emit_fx(uint8_t **p, uint64_t slot, bool rstor)
{
	*(*p)++ = 0x48;
	*(*p)++ = 0x0f;
	*(*p)++ = 0xae;
	diff_emit_rip(p, rstor ? 1 : 0, slot);
}

void
diff_emit_pushes(uint8_t **p)
{
	static const uint8_t pushes[] = {
		0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,
	};

	memcpy(*p, pushes, sizeof(pushes));
	*p += sizeof(pushes);
}

void
diff_emit_pops(uint8_t **p)
{
	static const uint8_t pops[] = {
		0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b,
	};

	memcpy(*p, pops, sizeof(pops));
	*p += sizeof(pops);
}

int
(*diff_build_harness(uint8_t *code, uint64_t base, uint64_t fx_base))(void)
{
	uint8_t *p;
	int r;

	memset(code, 0xcc, 0x1000);
	p = code + DIFF_ENTRY;
	diff_emit_pushes(&p);			/* callee-saved registers */
	diff_emit_mov(&p, 4 /* RSP */, base + DIFF_SL_HOSTRSP, true);
	if (fx_base != 0) {
		diff_emit_fx(&p, fx_base + DIFF_FX_HOST, false);
		diff_emit_fx(&p, fx_base + DIFF_FX_IN, true);
	}
	*p++ = 0xff;				/* push qword [rip+flags]; popfq */
	diff_emit_rip(&p, 6, base + DIFF_SL_IN + 16 * 8);
	*p++ = 0x9d;
	for (r = 0; r < 16; r++)
		diff_emit_mov(&p, r, base + DIFF_SL_IN + 8 * r, false);
	if (p > code + DIFF_SLOT - 15)
		abort();
	memset(p, 0x90, (size_t)(code + DIFF_SLOT - p));

	p = code + DIFF_SLOT;
	for (r = 0; r < 16; r++)
		diff_emit_mov(&p, r, base + DIFF_SL_OUT + 8 * r, true);
	diff_emit_mov(&p, 4, base + DIFF_SL_HOSTRSP, false);
	*p++ = 0x9c;				/* pushfq; pop qword [rip+flags] */
	*p++ = 0x8f;
	diff_emit_rip(&p, 0, base + DIFF_SL_OUT + 16 * 8);
	if (fx_base != 0) {
		diff_emit_fx(&p, fx_base + DIFF_FX_OUT, false);
		diff_emit_fx(&p, fx_base + DIFF_FX_HOST, true);
	}
	*p++ = 0xfc;				/* cld: the ABI wants DF = 0 */
	diff_emit_pops(&p);
	*p++ = 0x31; *p++ = 0xc0; *p++ = 0xc3;	/* xor eax, eax; ret */
	if (p > code + DIFF_LANDING)
		abort();

	/* RSP may be anything here: take the host's back first. */
	p = code + DIFF_LANDING;
	diff_emit_mov(&p, 4, base + DIFF_SL_HOSTRSP, false);
	if (fx_base != 0) {
		diff_emit_fx(&p, fx_base + DIFF_FX_OUT, false);
		diff_emit_fx(&p, fx_base + DIFF_FX_HOST, true);
	}
	*p++ = 0xfc;
	diff_emit_pops(&p);
	*p++ = 0xb8; *p++ = 1; *p++ = 0; *p++ = 0; *p++ = 0;	/* mov eax, 1 */
	*p++ = 0xc3;
	return (int (*)(void))(uintptr_t)(base + DIFF_ENTRY);
}

void *
diff_map_fixed(uint64_t addr, size_t size, bool exec)
{
	void *p;

	p = mmap((void *)(uintptr_t)addr, size,
	    PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0),
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (p != (void *)(uintptr_t)addr) {	/* an old kernel's hint */
		munmap(p, size);
		return NULL;
	}
	return p;
}

static uint64_t fault_code, fault_size, fault_landing;
static volatile sig_atomic_t *fault_sig;

static void
on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	(void)si;
	if (rip - fault_code < fault_size) {
		*fault_sig = sig;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)fault_landing;
		return;
	}
	signal(sig, SIG_DFL);	/* not ours: crash normally when it repeats */
}

void
diff_catch_faults(uint64_t code, uint64_t size, uint64_t landing,
    volatile sig_atomic_t *sig)
{
	static uint8_t altstack[1 << 16] __attribute__((aligned(16)));
	static const int sigs[] = { SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP };
	struct sigaction sa;
	stack_t ss;
	size_t i;

	fault_code = code;
	fault_size = size;
	fault_landing = landing;
	fault_sig = sig;
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	if (sigaltstack(&ss, NULL) != 0)
		abort();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			abort();
}

void
diff_list_case(const uint8_t *bytes, int len)
{
	static FILE *out;
	static bool tried;
	const char *path;
	int i;

	if (!tried) {
		tried = true;
		path = getenv("DIFF_LIST_FORMS");
		if (path != NULL && (out = fopen(path, "a")) == NULL)
			perror(path);
	}
	if (out == NULL)
		return;
	for (i = 0; i < len; i++)
		fprintf(out, "%02x", bytes[i]);
	fputc('\n', out);
	fflush(out);
}
