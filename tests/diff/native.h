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
#include <stddef.h>
#include <stdint.h>

/*
 * The code page every diff test runs its instruction from, as offsets from
 * the page's base: the inputs and outputs (16 GPRs, then RFLAGS), the host's
 * RSP, the entry, the end of the 15-byte instruction slot (RIP-relative
 * operands are computed from it) and the landing pad for faults.
 */
#define DIFF_SL_IN	0x000
#define DIFF_SL_OUT	0x100
#define DIFF_SL_HOSTRSP	0x200
#define DIFF_ENTRY	0x400
#define DIFF_SLOT	0x800
#define DIFF_LANDING	0xa00
/* FXSAVE images from the FPU-state base: in, out, the host's own. */
#define DIFF_FX_IN	0x000
#define DIFF_FX_OUT	0x200
#define DIFF_FX_HOST	0x400

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
 * Writes the harness into the 4 KiB page @code (mapped at @base) and
 * returns its entry. The entry saves the host's callee-saved registers and
 * RSP, loads RFLAGS and the 16 GPRs from DIFF_SL_IN and falls into the slot
 * (nops, then the instruction ending at DIFF_SLOT), which stores them to
 * DIFF_SL_OUT and returns 0. A fault lands at DIFF_LANDING, which returns
 * 1. With @fx_base non-zero, the x87/SSE state is loaded from DIFF_FX_IN
 * first and saved to DIFF_FX_OUT after, the host's own kept at DIFF_FX_HOST.
 */
int	(*diff_build_harness(uint8_t *code, uint64_t base, uint64_t fx_base))(void);

/* mmap at exactly @addr (MAP_FIXED_NOREPLACE); NULL when it is taken. */
void	*diff_map_fixed(uint64_t addr, size_t size, bool exec);

/*
 * Catch SIGFPE SIGSEGV SIGBUS SIGILL SIGTRAP on an alternate stack: one
 * raised in [code, code + size) stores its number in *sig and resumes at
 * @landing (RSP may be garbage there); any other is fatal as usual.
 */
void	diff_catch_faults(uint64_t code, uint64_t size, uint64_t landing,
	    volatile sig_atomic_t *sig);

/*
 * With DIFF_LIST_FORMS=file in the environment, the x87 and SSE diff tests
 * append the bytes of every case that matched the host to that file, one
 * instruction a line in hex: docs/cpu-coverage.md counts their forms from
 * it (scripts/cpu-coverage).  Without it, nothing.
 */
void	diff_list_case(const uint8_t *bytes, int len);

#endif /* LHYVE_DIFF_NATIVE_H */
