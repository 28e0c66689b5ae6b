/*
 * string.c - MOVS CMPS STOS LODS SCAS INS OUTS (SDM Vol. 2, and Vol. 1
 * 7.3.9 for REP).
 *
 * One element per dispatch: with a REP prefix the handler does one
 * iteration and, when more remain, sets next_rip back to the instruction
 * itself, so the run loop can take interrupts and kicks between elements
 * and a port/MMIO exit concerns exactly one element.  A count of 0 does
 * nothing.  The source is seg:rSI (segment override allowed, in->seg), the
 * destination always ES:rDI.  REPNE on a non-comparing string instruction
 * repeats like REP, as hardware does.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "family.h"

static inline uint64_t
str_count(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	return cpu->st.gpr[GPR_RCX] & emu_addr_mask(in->addrsize);
}

static inline uint64_t
str_ptr(const struct emu_cpu *cpu, const struct emu_insn *in, int reg)
{
	return cpu->st.gpr[reg] & emu_addr_mask(in->addrsize);
}

/* Step rSI/rDI by the element size, down when DF is set; wraps at the address size. */
static inline void
str_step(struct emu_cpu *cpu, const struct emu_insn *in, int reg, int size)
{
	uint64_t d = (uint64_t)size;

	if (cpu->st.rflags & RFL_DF)
		d = 0 - d;
	emu_reg_write(cpu, reg, in->addrsize, 0, cpu->st.gpr[reg] + d);
}

/*
 * Finish an iteration: count it and decide whether the instruction runs
 * again.  @cmp: CMPS/SCAS also stop on the REPE/REPNE condition.
 */
static void
str_next(struct emu_cpu *cpu, const struct emu_insn *in, bool cmp)
{
	uint64_t n;

	if (!in->rep)
		return;
	n = str_count(cpu, in) - 1;
	emu_reg_write(cpu, GPR_RCX, in->addrsize, 0, n);
	if ((n & emu_addr_mask(in->addrsize)) == 0)
		return;
	if (cmp && emu_cond(cpu, 4) != (in->rep == 0xf3))
		return;
	cpu->next_rip = cpu->st.rip;
}

int
op_movs(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v = 0;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_read(cpu, in->seg, str_ptr(cpu, in, GPR_RSI), &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	rc = emu_write(cpu, SEG_ES, str_ptr(cpu, in, GPR_RDI), &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	str_step(cpu, in, GPR_RSI, in->opsize);
	str_step(cpu, in, GPR_RDI, in->opsize);
	str_next(cpu, in, false);
	return EMU_OK;
}

/* CMPS compares seg:[rSI] - ES:[rDI], as CMP would. */
int
op_cmps(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t a = 0, b = 0;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_read(cpu, in->seg, str_ptr(cpu, in, GPR_RSI), &a, in->opsize);
	if (rc != EMU_OK)
		return rc;
	rc = emu_read(cpu, SEG_ES, str_ptr(cpu, in, GPR_RDI), &b, in->opsize);
	if (rc != EMU_OK)
		return rc;
	emu_flags_set(cpu, EMU_LF_SUB, in->opsize, a, b,
	    (a - b) & emu_size_mask(in->opsize));
	str_step(cpu, in, GPR_RSI, in->opsize);
	str_step(cpu, in, GPR_RDI, in->opsize);
	str_next(cpu, in, true);
	return EMU_OK;
}

int
op_stos(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	v = emu_reg_read(cpu, GPR_RAX, in->opsize, 0);
	rc = emu_write(cpu, SEG_ES, str_ptr(cpu, in, GPR_RDI), &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	str_step(cpu, in, GPR_RDI, in->opsize);
	str_next(cpu, in, false);
	return EMU_OK;
}

int
op_lods(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t v = 0;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_read(cpu, in->seg, str_ptr(cpu, in, GPR_RSI), &v, in->opsize);
	if (rc != EMU_OK)
		return rc;
	emu_reg_write(cpu, GPR_RAX, in->opsize, 0, v);
	str_step(cpu, in, GPR_RSI, in->opsize);
	str_next(cpu, in, false);
	return EMU_OK;
}

/* SCAS compares the accumulator with ES:[rDI]: rAX - [rDI]. */
int
op_scas(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t a, b = 0;
	int rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_read(cpu, SEG_ES, str_ptr(cpu, in, GPR_RDI), &b, in->opsize);
	if (rc != EMU_OK)
		return rc;
	a = emu_reg_read(cpu, GPR_RAX, in->opsize, 0);
	emu_flags_set(cpu, EMU_LF_SUB, in->opsize, a, b,
	    (a - b) & emu_size_mask(in->opsize));
	str_step(cpu, in, GPR_RDI, in->opsize);
	str_next(cpu, in, true);
	return EMU_OK;
}

/* INS: port DX -> ES:[rDI]; the I/O permission check comes first (SDM Vol. 1 19.5). */
int
op_ins(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t port = (uint16_t)cpu->st.gpr[GPR_RDX];
	uint32_t v32 = 0;
	uint64_t v;
	int size = in->opsize > 4 ? 4 : in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_io_allowed(cpu, port, size);
	if (rc != EMU_OK)
		return rc;
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_port_in(cpu, port, size, &v32);
	if (rc != EMU_OK)
		return rc;
	v = v32;
	rc = emu_write(cpu, SEG_ES, str_ptr(cpu, in, GPR_RDI), &v, size);
	if (rc != EMU_OK)
		return rc;
	str_step(cpu, in, GPR_RDI, size);
	str_next(cpu, in, false);
	return EMU_OK;
}

/* OUTS: seg:[rSI] -> port DX.  INS/OUTS move at most 4 bytes (REX.W is ignored). */
int
op_outs(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint16_t port = (uint16_t)cpu->st.gpr[GPR_RDX];
	uint64_t v = 0;
	int size = in->opsize > 4 ? 4 : in->opsize, rc;

	if (in->lock)
		return emu_raise(cpu, IDT_UD);
	rc = emu_io_allowed(cpu, port, size);
	if (rc != EMU_OK)
		return rc;
	if (in->rep && str_count(cpu, in) == 0)
		return EMU_OK;
	rc = emu_read(cpu, in->seg, str_ptr(cpu, in, GPR_RSI), &v, size);
	if (rc != EMU_OK)
		return rc;
	rc = emu_port_out(cpu, port, size, (uint32_t)v);
	if (rc != EMU_OK)
		return rc;
	str_step(cpu, in, GPR_RSI, size);
	str_next(cpu, in, false);
	return EMU_OK;
}
