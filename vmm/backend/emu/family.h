/*
 * family.h - helpers shared by the instruction-family files (alu.c, bit.c,
 * move.c, stack.c, string.c...), private to the software CPU.
 */
#ifndef LHYVE_EMU_FAMILY_H
#define LHYVE_EMU_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/*
 * Read-modify-write of an operand: *oldp receives the value read, the
 * operand receives fn(ctx, old).  fn must be pure: under LOCK it may run
 * several times (compare-exchange loop).  Nothing but the operand changes,
 * so the caller sets flags and registers from *oldp once this returns EMU_OK.
 */
typedef uint64_t emu_rmw_fn(const void *ctx, uint64_t old);

/*
 * The emulated bus lock: a LOCKed access that no host atomic instruction can
 * cover (misaligned, page-crossing) is done as read + write while holding
 * it, so such accesses are atomic with respect to each other on every vCPU.
 * One per process, like the bus it stands for (a process runs one VM).
 */
void	emu_bus_lock(void);
void	emu_bus_unlock(void);

/* The r/m operand of @in; memory is locked when in->lock. */
int	emu_rmw(struct emu_cpu *cpu, const struct emu_insn *in, int size,
	    emu_rmw_fn *fn, const void *ctx, uint64_t *oldp);
/* Memory at seg:off; atomic across vCPUs when @locked and the operand is RAM. */
int	emu_rmw_at(struct emu_cpu *cpu, int seg, uint64_t off, int size, bool locked,
	    emu_rmw_fn *fn, const void *ctx, uint64_t *oldp);

/*
 * LOCK is legal only on a memory destination of ADD ADC AND BTC BTR BTS
 * CMPXCHG CMPXCHG8B/16B DEC INC NEG NOT OR SBB SUB XOR XADD XCHG
 * (SDM Vol. 2A LOCK): anything else is #UD.
 */
static inline bool
emu_lock_bad(const struct emu_insn *in, bool lockable)
{
	return in->lock && (!lockable || !in->has_mem);
}

/*
 * Load data/stack segment register @sreg (ES SS DS FS GS) with @sel as MOV
 * Sreg / POP Sreg do (SDM Vol. 2B MOV, Vol. 3A 5.4.1, 5.5): real and
 * virtual-8086 mode take base = sel << 4; protected and long mode read the
 * descriptor.  EMU_OK, or EMU_FAULT with #GP/#SS/#NP(sel) raised.
 */
int	emu_dataseg_load(struct emu_cpu *cpu, int sreg, uint16_t sel);

/* Address-size mask for a 2, 4 or 8 byte address. */
static inline uint64_t
emu_addr_mask(int addrsize)
{
	return emu_size_mask(addrsize);
}

#endif /* LHYVE_EMU_FAMILY_H */
