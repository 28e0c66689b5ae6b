/*
 * native.h - what the diff tests (test_diff.c, test_x87_diff.c,
 * test_sse_diff.c) share to run an instruction on the host: code emitters
 * for their prologues and epilogues, and the fault catcher that sends a
 * fault inside the code page to its landing pad.
 */
#ifndef LHYVE_DIFF_NATIVE_H
#define LHYVE_DIFF_NATIVE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* ModRM 00 reg 101 + disp32: [rip + target - end of instruction] */
void	diff_emit_rip(uint8_t **p, int reg, uint64_t target);
/* mov r64, [rip+slot] (load) or mov [rip+slot], r64 (store) */
void	diff_emit_mov(uint8_t **p, int reg, uint64_t slot, bool store);
/* fxsave64 [rip+slot] (rstor false) or fxrstor64 [rip+slot] */
void	diff_emit_fx(uint8_t **p, uint64_t slot, bool rstor);
/* push / pop the callee-saved registers (rbx rbp r12-r15) */
void	diff_emit_pushes(uint8_t **p);
void	diff_emit_pops(uint8_t **p);

/*
 * Catch SIGFPE SIGSEGV SIGBUS SIGILL SIGTRAP on an alternate stack: one
 * raised in [code, code + size) stores its number in *sig and resumes at
 * @landing (RSP may be garbage there); any other is fatal as usual.
 */
void	diff_catch_faults(uint64_t code, uint64_t size, uint64_t landing,
	    volatile sig_atomic_t *sig);

#endif /* LHYVE_DIFF_NATIVE_H */
