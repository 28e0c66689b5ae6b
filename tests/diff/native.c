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
