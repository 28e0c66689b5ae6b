/*
 * io.c - port I/O: IN, OUT, the permission check shared with INS/OUTS, and
 * the replayed INOUT exit (see cpu.h).
 *
 * An access that userland has not completed yet builds a VM_EXITCODE_INOUT
 * exit with inst_length 0; libvmm calls complete() and run() again, the
 * instruction re-executes and emu_port_in()/emu_port_out() then return the
 * logged result instead of exiting.  Registers change only after that.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

static int
port_exit(struct emu_cpu *cpu, uint16_t port, int size, bool in, uint32_t val)
{
	struct vm_exit *vme = cpu->exit;

	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_INOUT;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	vme->u.inout.bytes = (uint16_t)size;
	vme->u.inout.in = in;
	vme->u.inout.port = port;
	vme->u.inout.eax = in ? 0 : val;
	cpu->io_log.rip = cpu->st.rip;
	cpu->io_log.pending_read = in;
	return EMU_EXIT;
}

int
emu_port_in(struct emu_cpu *cpu, uint16_t port, int size, uint32_t *val)
{
	struct emu_io_log *log = &cpu->io_log;

	if (log->pos < log->n) {
		*val = (uint32_t)(log->data[log->pos++] & emu_size_mask(size));
		return EMU_OK;
	}
	return port_exit(cpu, port, size, true, 0);
}

int
emu_port_out(struct emu_cpu *cpu, uint16_t port, int size, uint32_t val)
{
	struct emu_io_log *log = &cpu->io_log;

	if (log->pos < log->n) {
		log->pos++;
		return EMU_OK;
	}
	return port_exit(cpu, port, size, false, (uint32_t)(val & emu_size_mask(size)));
}

/*
 * Protected mode with CPL > IOPL (or virtual-8086 mode): every bit of the
 * access in the TSS I/O permission bitmap must be clear (SDM Vol. 1 19.5.2).
 */
int
emu_io_allowed(struct emu_cpu *cpu, uint16_t port, int size)
{
	const struct vm_seg *tr = &cpu->st.seg[SEG_TR];
	uint32_t iopl = (uint32_t)((cpu->st.rflags & RFL_IOPL) >> 12);
	uint8_t b[2];
	uint64_t off;
	uint16_t bits, mask;
	uint32_t type;
	int rc;

	if (cpu->mode == EMU_MODE_REAL)
		return EMU_OK;
	if (cpu->cpl <= iopl && !(cpu->st.rflags & RFL_VM))
		return EMU_OK;
	type = SEG_DESC_TYPE(tr->access);
	/* Only a 32/64-bit TSS has a bitmap, and it needs a limit of at least 103. */
	if (SEG_DESC_UNUSABLE(tr->access) || (type != 9 && type != 11) || tr->limit < 103)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_read_linear(cpu, tr->base + 102, b, 2, 0);
	if (rc != EMU_OK)
		return rc;
	off = (uint64_t)(b[0] | b[1] << 8) + port / 8;
	if (off + 1 > tr->limit)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_read_linear(cpu, tr->base + off, b, 2, 0);
	if (rc != EMU_OK)
		return rc;
	bits = (uint16_t)(b[0] | b[1] << 8);
	mask = (uint16_t)(((1U << size) - 1) << (port & 7));
	if (bits & mask)
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

/* E4/E5 imm8, EC/ED DX (SDM Vol. 2A IN). */
int
op_in(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = in->opsize == 1 ? 1 : in->opsize == 2 ? 2 : 4, rc;
	uint16_t port;
	uint32_t v;

	port = (in->opcode & 0x8) ? (uint16_t)cpu->st.gpr[GPR_RDX] : (uint16_t)in->imm;
	rc = emu_io_allowed(cpu, port, size);
	if (rc != EMU_OK)
		return rc;
	rc = emu_port_in(cpu, port, size, &v);
	if (rc != EMU_OK)
		return rc;
	/* AL/AX merge; EAX zero-extends into RAX (SDM Vol. 1 3.4.1.1). */
	emu_reg_write(cpu, GPR_RAX, size, 1, v);
	return EMU_OK;
}

/* E6/E7 imm8, EE/EF DX (SDM Vol. 2B OUT). */
int
op_out(struct emu_cpu *cpu, const struct emu_insn *in)
{
	int size = in->opsize == 1 ? 1 : in->opsize == 2 ? 2 : 4, rc;
	uint16_t port;

	port = (in->opcode & 0x8) ? (uint16_t)cpu->st.gpr[GPR_RDX] : (uint16_t)in->imm;
	rc = emu_io_allowed(cpu, port, size);
	if (rc != EMU_OK)
		return rc;
	return emu_port_out(cpu, port, size,
	    (uint32_t)(cpu->st.gpr[GPR_RAX] & emu_size_mask(size)));
}
