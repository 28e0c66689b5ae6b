/*
 * string.c - MOVS CMPS STOS LODS SCAS INS OUTS (SDM Vol. 2, and Vol. 1
 * 7.3.9 for REP).
 *
 * With a REP prefix the handler does one iteration and, when more remain,
 * sets next_rip back to the instruction itself, so the run loop can take
 * interrupts and kicks between iterations and a port/MMIO exit concerns
 * exactly one element.  REP MOVS, STOS, CMPS and SCAS in 64-bit mode with
 * DF = 0 make an iteration of as many elements as fit in the source and
 * destination pages when both are RAM in the TLB (movs_bulk, stos_bulk,
 * cmp_bulk): the result is the element-by-element one, and an interrupt
 * still waits at most one page.  A count of 0 does nothing.  The source is seg:rSI (segment override allowed, in->seg), the
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

/* Linear address of a string operand in 64-bit mode (FS/GS bases only). */
static inline uint64_t
str_la(const struct emu_cpu *cpu, int seg, uint64_t off)
{
	return seg >= SEG_FS ? off + cpu->st.seg[seg].base : off;
}

/*
 * How many elements of @size fit from @la to the end of its page: 0 when
 * the next element crosses it.
 */
static inline uint64_t
room(uint64_t la, int size)
{
	return (4096 - (la & 4095)) / (uint64_t)size;
}

/* Bulk conditions: REP, 64-bit mode and addresses, forward, more than one element. */
static inline bool
bulk_ok(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	return in->rep && cpu->mode == EMU_MODE_LONG64 && in->addrsize == 8 &&
	    !(cpu->st.rflags & RFL_DF) && str_count(cpu, in) > 1;
}

/*
 * Elements a bulk iteration may take: the count, cut at the end of the
 * destination page and, with @src, of the source page.
 */
static uint64_t
bulk_count(const struct emu_cpu *cpu, const struct emu_insn *in, bool src,
    uint64_t sla, uint64_t dla)
{
	uint64_t n = str_count(cpu, in), r;

	if (src && (r = room(sla, in->opsize)) < n)
		n = r;
	if ((r = room(dla, in->opsize)) < n)
		n = r;
	return n;
}

/* After a bulk iteration of @n elements: pointers, count, and repeat. */
static void
bulk_done(struct emu_cpu *cpu, const struct emu_insn *in, uint64_t n, bool src)
{
	uint64_t bytes = n * (uint64_t)in->opsize;

	if (src)
		cpu->st.gpr[GPR_RSI] += bytes;
	cpu->st.gpr[GPR_RDI] += bytes;
	cpu->st.gpr[GPR_RCX] -= n;
	if (cpu->st.gpr[GPR_RCX] != 0)
		cpu->next_rip = cpu->st.rip;
}

static bool
movs_bulk(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t sla, dla, n, len, sgpa, dgpa, i;
	int size = in->opsize;
	const uint8_t *s;
	uint8_t *d;

	sla = str_la(cpu, in->seg, cpu->st.gpr[GPR_RSI]);
	dla = cpu->st.gpr[GPR_RDI];
	n = bulk_count(cpu, in, true, sla, dla);
	if (n < 2)
		return false;
	len = n * (uint64_t)size;
	s = emu_mem_range(cpu, sla, len, 0, &sgpa);
	d = emu_mem_range(cpu, dla, len, 1, &dgpa);
	if (s == NULL || d == NULL)
		return false;
	if (d > s && d < s + len) {
		/* Forward overlap: later elements read what earlier ones wrote. */
		for (i = 0; i < n; i++)
			memmove(d + i * (uint64_t)size, s + i * (uint64_t)size, (size_t)size);
	} else {
		memmove(d, s, len);
	}
	emu_code_written(cpu, dgpa, len);
	bulk_done(cpu, in, n, true);
	return true;
}

static bool
stos_bulk(struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t dla = cpu->st.gpr[GPR_RDI], n, dgpa, v, i;
	int size = in->opsize;
	uint8_t *d;

	n = bulk_count(cpu, in, false, 0, dla);
	if (n < 2)
		return false;
	d = emu_mem_range(cpu, dla, n * (uint64_t)size, 1, &dgpa);
	if (d == NULL)
		return false;
	v = cpu->st.gpr[GPR_RAX];
	if (size == 1)
		memset(d, (int)(v & 0xff), n);
	else
		for (i = 0; i < n; i++)
			memcpy(d + i * (uint64_t)size, &v, (size_t)size);
	emu_code_written(cpu, dgpa, n * (uint64_t)size);
	bulk_done(cpu, in, n, false);
	return true;
}

/*
 * REPE/REPNE CMPS and SCAS: compare element by element on host pointers
 * until the condition fails, the count runs out or a page ends; the flags
 * are those of the last comparison, as an element-by-element run leaves
 * them.  @src is NULL for SCAS (the accumulator is compared).
 */
static bool
cmp_bulk(struct emu_cpu *cpu, const struct emu_insn *in, bool scas)
{
	uint64_t sla = 0, dla = cpu->st.gpr[GPR_RDI], n, k, gpa, a, b = 0;
	uint64_t m = emu_size_mask(in->opsize);
	int size = in->opsize;
	const uint8_t *s = NULL, *d;
	bool stop = false;

	if (!scas)
		sla = str_la(cpu, in->seg, cpu->st.gpr[GPR_RSI]);
	n = bulk_count(cpu, in, !scas, sla, dla);
	if (n < 2)
		return false;
	d = emu_mem_range(cpu, dla, n * (uint64_t)size, 0, &gpa);
	if (!scas)
		s = emu_mem_range(cpu, sla, n * (uint64_t)size, 0, &gpa);
	if (d == NULL || (!scas && s == NULL))
		return false;
	a = cpu->st.gpr[GPR_RAX] & m;
	for (k = 0; k < n && !stop; k++) {
		if (!scas) {
			a = 0;
			memcpy(&a, s + k * (uint64_t)size, (size_t)size);
		}
		b = 0;
		memcpy(&b, d + k * (uint64_t)size, (size_t)size);
		/* REPE goes on while equal, REPNE while not (SDM Vol. 2B REP). */
		stop = (a == b) != (in->rep == 0xf3);
	}
	emu_flags_set(cpu, EMU_LF_SUB, size, a, b, (a - b) & m);
	if (!scas)
		cpu->st.gpr[GPR_RSI] += k * (uint64_t)size;
	cpu->st.gpr[GPR_RDI] += k * (uint64_t)size;
	cpu->st.gpr[GPR_RCX] -= k;
	if (!stop && cpu->st.gpr[GPR_RCX] != 0)
		cpu->next_rip = cpu->st.rip;
	return true;
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
	if (bulk_ok(cpu, in) && movs_bulk(cpu, in))
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
	if (bulk_ok(cpu, in) && cmp_bulk(cpu, in, false))
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
	if (bulk_ok(cpu, in) && stos_bulk(cpu, in))
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
	if (bulk_ok(cpu, in) && cmp_bulk(cpu, in, true))
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
