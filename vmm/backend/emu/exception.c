/*
 * exception.c - raising exceptions and delivering events through the IDT.
 *
 * An instruction raises an exception with emu_raise()/emu_raise_err(): the
 * vector and error code are recorded in cpu->exc_* and the handler returns
 * EMU_FAULT without changing architectural state.  The run loop then calls
 * emu_exception_deliver(), which pushes the frame and enters the handler,
 * escalating to #DF and to a triple fault per SDM Vol. 3A 6.15, table 6-5.
 *
 * Delivery follows SDM Vol. 3A 6.12 (protected mode), 6.14 (IA-32e mode:
 * 16-byte gates, IST, 16-byte aligned frames, SS:RSP always pushed) and
 * 20.1.4 (real-address mode IVT).  Every check and every stack write happens
 * before the first register changes, so a fault during delivery leaves the
 * vCPU exactly as it was and the nested fault is delivered instead (or
 * escalates).  A task gate switches tasks (task.c); virtual-8086 mode is
 * not implemented and ends run() with a BACKEND_ERROR exit that says so.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

int
emu_raise(struct emu_cpu *cpu, int vector)
{
	cpu->exc_vector = vector;
	cpu->exc_has_err = 0;
	cpu->exc_err = 0;
	return EMU_FAULT;
}

int
emu_raise_err(struct emu_cpu *cpu, int vector, uint32_t errcode)
{
	cpu->exc_vector = vector;
	cpu->exc_has_err = 1;
	cpu->exc_err = errcode;
	return EMU_FAULT;
}

int
emu_unimplemented(struct emu_cpu *cpu, const struct emu_insn *in)
{
	struct vm_exit *vme = cpu->exit;

	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_INST_UNIMPL;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	memcpy(vme->u.inst_unimpl.inst_bytes, in->bytes, in->len);
	vme->u.inst_unimpl.num_valid = in->len;
	return EMU_EXIT;
}

int
op_unimpl(struct emu_cpu *cpu, const struct emu_insn *in)
{
	return emu_unimplemented(cpu, in);
}

int
emu_backend_error(struct emu_cpu *cpu, int error, const char *fmt, ...)
{
	struct vm_exit *vme = cpu->exit;
	va_list ap;

	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_BACKEND_ERROR;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	vme->u.backend_error.error = error;
	va_start(ap, fmt);
	vsnprintf(vme->u.backend_error.msg, sizeof(vme->u.backend_error.msg), fmt, ap);
	va_end(ap);
	return EMU_EXIT;
}

/* Exceptions that are faults: the saved RFLAGS has RF set (SDM Vol. 3A 17.3.1.1). */
static bool
is_fault_class(int v)
{
	switch (v) {
	case IDT_DE: case IDT_BR: case IDT_UD: case IDT_NM: case IDT_TS:
	case IDT_NP: case IDT_SS: case IDT_GP: case IDT_PF: case IDT_MF:
	case IDT_AC: case IDT_XF:
		return true;
	default:
		return false;
	}
}

static void
put64(uint8_t *b, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Read from the TSS at @off; #TS(TR) when outside its limit (SDM Vol. 3A 7.7, 6.14.5). */
static int
tss_read(struct emu_cpu *cpu, uint32_t off, void *buf, int size, uint32_t ext)
{
	const struct vm_seg *tr = &cpu->st.seg[SEG_TR];

	if (SEG_DESC_UNUSABLE(tr->access) || (uint64_t)off + (uint64_t)size - 1 > tr->limit)
		return emu_raise_err(cpu, IDT_TS, (tr->sel & 0xfffc) | ext);
	return emu_read_linear(cpu, tr->base + off, buf, size, 0);
}

/*
 * Fetch and check the code segment a gate names (SDM Vol. 3A 6.12.1.1):
 * a present code segment with DPL <= CPL.
 */
static int
gate_target_cs(struct emu_cpu *cpu, uint16_t sel, uint32_t ext, struct vm_seg *cs)
{
	uint32_t selerr = (sel & 0xfffc) | ext;
	uint64_t raw;
	int rc;

	if ((sel & 0xfffc) == 0)
		return emu_raise_err(cpu, IDT_GP, ext);
	rc = emu_desc_fetch(cpu, sel, &raw, NULL);
	if (rc != EMU_OK) {
		if (cpu->exc_vector == IDT_GP)
			cpu->exc_err = selerr;
		return rc;
	}
	emu_desc_to_seg(raw, sel, cs);
	if (!SEG_DESC_S(cs->access) || !(SEG_DESC_TYPE(cs->access) & 0x8) ||
	    SEG_DESC_DPL(cs->access) > cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, selerr);
	if (!SEG_DESC_PRESENT(cs->access))
		return emu_raise_err(cpu, IDT_NP, selerr);
	return EMU_OK;
}

/* IA-32e mode: 64-bit interrupt and trap gates (SDM Vol. 3A 6.14). */
static int
deliver_long(struct emu_cpu *cpu, int vector, enum emu_event_kind kind,
    bool has_err, uint32_t err, uint64_t ret_rip)
{
	uint32_t ext = kind == EMU_EV_SOFTINT ? 0 : 1;
	uint32_t idt_err = (uint32_t)vector * 8 + 2 + ext;
	uint8_t g[16], frame[48];
	uint64_t lo, hi, target, rsp, rflags;
	struct vm_seg cs;
	int type, dpl, ist, new_cpl, rc, n;
	uint16_t sel;

	if ((uint64_t)vector * 16 + 15 > cpu->st.idtr.limit)
		return emu_raise_err(cpu, IDT_GP, idt_err);
	rc = emu_read_linear(cpu, cpu->st.idtr.base + (uint64_t)vector * 16, g, 16, 0);
	if (rc != EMU_OK)
		return rc;
	lo = get64(g);
	hi = get64(g + 8);
	type = (int)((lo >> 40) & 0xf);
	dpl = (int)((lo >> 45) & 3);
	ist = (int)((lo >> 32) & 7);
	sel = (uint16_t)(lo >> 16);
	target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ULL) | (hi << 32);
	if ((type != 0xe && type != 0xf) || ((lo >> 44) & 1))
		return emu_raise_err(cpu, IDT_GP, idt_err);
	if (kind == EMU_EV_SOFTINT && dpl < cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, idt_err);
	if (!((lo >> 47) & 1))
		return emu_raise_err(cpu, IDT_NP, idt_err);
	rc = gate_target_cs(cpu, sel, ext, &cs);
	if (rc != EMU_OK)
		return rc;
	if (!SEG_DESC_L(cs.access) || SEG_DESC_DEF32(cs.access))
		return emu_raise_err(cpu, IDT_GP, (sel & 0xfffc) | ext);
	new_cpl = (SEG_DESC_TYPE(cs.access) & 0x4) ? cpu->cpl : SEG_DESC_DPL(cs.access);
	if (!emu_canonical(target))
		return emu_raise_err(cpu, IDT_GP, ext);

	if (ist != 0) {
		rc = tss_read(cpu, 0x24 + (uint32_t)(ist - 1) * 8, g, 8, ext);
		if (rc != EMU_OK)
			return rc;
		rsp = get64(g);
	} else if (new_cpl < cpu->cpl) {
		rc = tss_read(cpu, 4 + (uint32_t)new_cpl * 8, g, 8, ext);
		if (rc != EMU_OK)
			return rc;
		rsp = get64(g);
	} else {
		rsp = cpu->st.gpr[GPR_RSP];
	}
	if (!emu_canonical(rsp))
		return emu_raise_err(cpu, IDT_SS, ext);
	rsp &= ~0xfULL;

	rflags = emu_rflags(cpu);
	n = 0;
	if (has_err) {
		put64(frame, err);
		n = 8;
	}
	put64(frame + n, ret_rip);
	put64(frame + n + 8, cpu->st.seg[SEG_CS].sel);
	put64(frame + n + 16, rflags | (kind == EMU_EV_EXCEPTION &&
	    is_fault_class(vector) ? RFL_RF : 0));
	put64(frame + n + 24, cpu->st.gpr[GPR_RSP]);
	put64(frame + n + 32, cpu->st.seg[SEG_SS].sel);
	n += 40;
	rsp -= (uint64_t)n;
	if (!emu_canonical(rsp))
		return emu_raise_err(cpu, IDT_SS, ext);
	rc = emu_write_linear(cpu, rsp, frame, n, new_cpl == 3);
	if (rc != EMU_OK)
		return rc;

	/* Commit. */
	if (new_cpl != cpu->cpl) {
		/* 64-bit mode: SS becomes a null selector with RPL = new CPL (6.14.4). */
		struct vm_seg *ss = &cpu->st.seg[SEG_SS];

		ss->sel = (uint16_t)new_cpl;
		ss->base = 0;
		ss->limit = 0;
		ss->access = DESC_UNUSABLE | ((uint32_t)new_cpl << 5);
	}
	cs.sel = (uint16_t)((sel & 0xfffc) | new_cpl);
	cpu->st.seg[SEG_CS] = cs;
	cpu->st.gpr[GPR_RSP] = rsp;
	rflags &= ~(RFL_TF | RFL_NT | RFL_RF | RFL_VM);
	if (type == 0xe)
		rflags &= ~RFL_IF;
	emu_set_rflags(cpu, rflags);
	cpu->st.rip = target;
	cpu->next_rip = target;
	emu_update_mode(cpu);
	return EMU_OK;
}

/* Protected mode: 16- and 32-bit interrupt and trap gates (SDM Vol. 3A 6.12.1). */
static int
deliver_prot(struct emu_cpu *cpu, int vector, enum emu_event_kind kind,
    bool has_err, uint32_t err, uint64_t ret_rip)
{
	uint32_t ext = kind == EMU_EV_SOFTINT ? 0 : 1;
	uint32_t idt_err = (uint32_t)vector * 8 + 2 + ext;
	uint8_t g[8], frame[24];
	uint64_t lo, target, rsp, rflags, base_la, raw;
	struct vm_seg cs, ss;
	int type, dpl, new_cpl, rc, n, w, ssz, i;
	uint16_t sel, new_ss;
	uint32_t vals[6];

	if (cpu->st.rflags & RFL_VM)
		return emu_backend_error(cpu, ENOTSUP, "virtual-8086 mode is not implemented");
	if ((uint64_t)vector * 8 + 7 > cpu->st.idtr.limit)
		return emu_raise_err(cpu, IDT_GP, idt_err);
	rc = emu_read_linear(cpu, (cpu->st.idtr.base + (uint64_t)vector * 8) & 0xffffffffULL,
	    g, 8, 0);
	if (rc != EMU_OK)
		return rc;
	lo = get64(g);
	type = (int)((lo >> 40) & 0x1f);	/* S bit included: must be 0 */
	dpl = (int)((lo >> 45) & 3);
	sel = (uint16_t)(lo >> 16);
	target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ULL);
	if (type != 0x5 && type != 0x6 && type != 0x7 && type != 0xe && type != 0xf)
		return emu_raise_err(cpu, IDT_GP, idt_err);
	if (kind == EMU_EV_SOFTINT && dpl < cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, idt_err);
	if (!((lo >> 47) & 1))
		return emu_raise_err(cpu, IDT_NP, idt_err);
	if (type == 0x5) {
		/* Task gate (6.12.2): the TSS it names must be an available one in the GDT. */
		uint16_t tsel = (uint16_t)(lo >> 16);

		if (tsel & 4)
			return emu_raise_err(cpu, IDT_GP, (tsel & 0xfffc) | ext);
		rc = emu_desc_fetch(cpu, tsel, &raw, NULL);
		if (rc != EMU_OK) {
			if (cpu->exc_vector == IDT_GP)
				cpu->exc_err |= ext;
			return rc;
		}
		if (((raw >> 40) & 0x1f) != 0x9 && ((raw >> 40) & 0x1f) != 0x1)
			return emu_raise_err(cpu, IDT_GP, (tsel & 0xfffc) | ext);
		if (!((raw >> 47) & 1))
			return emu_raise_err(cpu, IDT_NP, (tsel & 0xfffc) | ext);
		return emu_task_switch(cpu, tsel, raw, EMU_TASK_INT, has_err, err, ret_rip, ext);
	}
	w = (type & 0x8) ? 4 : 2;
	if (w == 2)
		target &= 0xffff;
	rc = gate_target_cs(cpu, sel, ext, &cs);
	if (rc != EMU_OK)
		return rc;
	new_cpl = (SEG_DESC_TYPE(cs.access) & 0x4) ? cpu->cpl : SEG_DESC_DPL(cs.access);
	if (target > cs.limit)
		return emu_raise_err(cpu, IDT_GP, ext);

	ss = cpu->st.seg[SEG_SS];
	new_ss = ss.sel;
	rsp = cpu->st.gpr[GPR_RSP];
	if (new_cpl < cpu->cpl) {
		/*
		 * Inner stack from the TSS: ESPn at 4 + 8n, SSn at 8 + 8n in a
		 * 32-bit one (7.2.1), SPn at 2 + 4n, SSn at 4 + 4n in a 16-bit
		 * one (7.6).
		 */
		uint8_t t[8] = { 0 };

		if (SEG_DESC_TYPE(cpu->st.seg[SEG_TR].access) & 0x8) {
			rc = tss_read(cpu, 4 + (uint32_t)new_cpl * 8, t, 8, ext);
			rsp = (uint32_t)get64(t);
			new_ss = (uint16_t)(get64(t) >> 32);
		} else {
			rc = tss_read(cpu, 2 + (uint32_t)new_cpl * 4, t, 4, ext);
			rsp = (uint16_t)get64(t);
			new_ss = (uint16_t)(get64(t) >> 16);
		}
		if (rc != EMU_OK)
			return rc;
		if ((new_ss & 0xfffc) == 0 || (new_ss & 3) != new_cpl)
			return emu_raise_err(cpu, IDT_TS, (new_ss & 0xfffc) | ext);
		rc = emu_desc_fetch(cpu, new_ss, &raw, NULL);
		if (rc != EMU_OK) {
			if (cpu->exc_vector == IDT_GP)
				return emu_raise_err(cpu, IDT_TS, (new_ss & 0xfffc) | ext);
			return rc;
		}
		emu_desc_to_seg(raw, new_ss, &ss);
		if (!SEG_DESC_S(ss.access) || (SEG_DESC_TYPE(ss.access) & 0xa) != 0x2 ||
		    (int)SEG_DESC_DPL(ss.access) != new_cpl)
			return emu_raise_err(cpu, IDT_TS, (new_ss & 0xfffc) | ext);
		if (!SEG_DESC_PRESENT(ss.access))
			return emu_raise_err(cpu, IDT_SS, (new_ss & 0xfffc) | ext);
	}

	rflags = emu_rflags(cpu);
	n = 0;
	if (new_cpl < cpu->cpl) {
		vals[n++] = cpu->st.seg[SEG_SS].sel;
		vals[n++] = (uint32_t)cpu->st.gpr[GPR_RSP];
	}
	vals[n++] = (uint32_t)(rflags | (kind == EMU_EV_EXCEPTION &&
	    is_fault_class(vector) ? RFL_RF : 0));
	vals[n++] = cpu->st.seg[SEG_CS].sel;
	vals[n++] = (uint32_t)ret_rip;
	if (has_err)
		vals[n++] = err;
	/* Highest address first: vals[0] is pushed first. */
	for (i = 0; i < n; i++) {
		int k, at = (n - 1 - i) * w;

		for (k = 0; k < w; k++)
			frame[at + k] = (uint8_t)(vals[i] >> (8 * k));
	}
	ssz = SEG_DESC_DEF32(ss.access) ? 4 : 2;
	rsp = (rsp - (uint64_t)(n * w)) & emu_size_mask(ssz);
	/* Segment checks on the new stack, then the write. */
	{
		struct vm_seg saved = cpu->st.seg[SEG_SS];
		uint8_t saved_cpl = cpu->cpl;

		cpu->st.seg[SEG_SS] = ss;
		cpu->cpl = (uint8_t)new_cpl;
		rc = emu_seg_linear(cpu, SEG_SS, rsp, n * w, 1, &base_la);
		cpu->st.seg[SEG_SS] = saved;
		cpu->cpl = saved_cpl;
		if (rc != EMU_OK) {
			if (cpu->exc_vector == IDT_SS)
				cpu->exc_err = ext | (new_ss & 0xfffc);
			return rc;
		}
	}
	rc = emu_write_linear(cpu, base_la, frame, n * w, new_cpl == 3);
	if (rc != EMU_OK)
		return rc;

	/* Commit. */
	if (new_cpl < cpu->cpl) {
		ss.sel = new_ss;
		cpu->st.seg[SEG_SS] = ss;
	}
	if (ssz == 2)
		cpu->st.gpr[GPR_RSP] = (cpu->st.gpr[GPR_RSP] & ~0xffffULL) | rsp;
	else
		cpu->st.gpr[GPR_RSP] = rsp;
	cs.sel = (uint16_t)((sel & 0xfffc) | new_cpl);
	cpu->st.seg[SEG_CS] = cs;
	rflags &= ~(RFL_TF | RFL_NT | RFL_RF | RFL_VM);
	if (!(type & 0x1))
		rflags &= ~RFL_IF;
	emu_set_rflags(cpu, rflags);
	cpu->st.rip = target;
	cpu->next_rip = target;
	emu_update_mode(cpu);
	return EMU_OK;
}

/* Real-address mode: the IVT (SDM Vol. 3A 20.1.4). */
static int
deliver_real(struct emu_cpu *cpu, int vector, uint64_t ret_rip)
{
	uint8_t v[4], frame[6];
	uint64_t rflags, sp, la;
	uint16_t ip, seg;
	int rc;

	if ((uint64_t)vector * 4 + 3 > cpu->st.idtr.limit)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_read_linear(cpu, cpu->st.idtr.base + (uint64_t)vector * 4, v, 4, 0);
	if (rc != EMU_OK)
		return rc;
	ip = (uint16_t)(v[0] | v[1] << 8);
	seg = (uint16_t)(v[2] | v[3] << 8);
	rflags = emu_rflags(cpu);
	/* FLAGS, CS, IP pushed in that order: IP ends at the lowest address. */
	frame[0] = (uint8_t)ret_rip;
	frame[1] = (uint8_t)(ret_rip >> 8);
	frame[2] = (uint8_t)cpu->st.seg[SEG_CS].sel;
	frame[3] = (uint8_t)(cpu->st.seg[SEG_CS].sel >> 8);
	frame[4] = (uint8_t)rflags;
	frame[5] = (uint8_t)(rflags >> 8);
	sp = (cpu->st.gpr[GPR_RSP] - 6) & 0xffff;
	rc = emu_seg_linear(cpu, SEG_SS, sp, 6, 1, &la);
	if (rc != EMU_OK)
		return rc;
	rc = emu_write_linear(cpu, la, frame, 6, 0);
	if (rc != EMU_OK)
		return rc;
	cpu->st.gpr[GPR_RSP] = (cpu->st.gpr[GPR_RSP] & ~0xffffULL) | sp;
	emu_seg_load_real(cpu, SEG_CS, seg);
	emu_set_rflags(cpu, rflags & ~(RFL_IF | RFL_TF | RFL_AC | RFL_RF));
	cpu->st.rip = ip;
	cpu->next_rip = ip;
	return EMU_OK;
}

int
emu_event_deliver(struct emu_cpu *cpu, int vector, enum emu_event_kind kind,
    bool has_err, uint32_t err, uint64_t ret_rip)
{
	int rc;

	/* A delivered event ends any replay of the interrupted instruction. */
	cpu->io_log.n = 0;
	cpu->io_log.pos = 0;
	cpu->io_log.pending_read = 0;
	if (cpu->mode == EMU_MODE_REAL)
		rc = deliver_real(cpu, vector, ret_rip);
	else if (cpu->st.efer & EFER_LMA)
		rc = deliver_long(cpu, vector, kind, has_err, err, ret_rip);
	else
		rc = deliver_prot(cpu, vector, kind, has_err, err, ret_rip);
	if (rc == EMU_OK) {
		cpu->st.halted = 0;
		if (kind == EMU_EV_NMI)
			cpu->st.intr_shadow |= EMU_SHADOW_NMI;
	}
	return rc;
}

/* Classes of SDM Vol. 3A table 6-4. */
static bool
is_contributory(int v)
{
	return v == IDT_DE || v == IDT_TS || v == IDT_NP || v == IDT_SS || v == IDT_GP;
}

static int
triple_fault(struct emu_cpu *cpu)
{
	struct vm_exit *vme = cpu->exit;

	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_SUSPENDED;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	vme->u.suspended.how = VM_SUSPEND_TRIPLEFAULT;
	vme->u.suspended.source = cpu->vcpuid;
	cpu->exc_vector = -1;
	return EMU_EXIT;
}

int
emu_exception_deliver(struct emu_cpu *cpu, enum emu_event_kind kind, uint64_t ret_rip)
{
	int vec = cpu->exc_vector, nvec, i, rc;
	bool has_err = cpu->exc_has_err != 0, pending = cpu->st.pending_valid != 0;
	uint32_t err = cpu->exc_err;

	/*
	 * A single-step trap after a JMP/CALL/IRET to a task with T set: one
	 * #DB reports both, DR6.BS and BT (SDM Vol. 3A 17.3.1.5, 17.2.3).
	 */
	if (vec == IDT_DB && pending && cpu->st.pending_vector == IDT_DB) {
		cpu->st.pending_valid = 0;
		pending = false;
	}
	for (i = 0; i < 8; i++) {
		cpu->exc_vector = -1;
		rc = emu_event_deliver(cpu, vec, kind, has_err, err, ret_rip);
		if (rc == EMU_OK && !pending && cpu->st.pending_valid) {
			/*
			 * A task gate switched to a TSS with T set (task.c): its
			 * #DB trap comes before the new task's first instruction
			 * and before any other event (SDM Vol. 3A 6.9).
			 */
			cpu->st.pending_valid = 0;
			vec = (int)cpu->st.pending_vector;
			has_err = cpu->st.pending_errcode_valid != 0;
			err = cpu->st.pending_errcode;
			kind = EMU_EV_EXCEPTION;
			ret_rip = cpu->st.rip;
			continue;
		}
		if (rc != EMU_FAULT)
			return rc;
		nvec = cpu->exc_vector;
		/* Table 6-5: a fault while delivering #DF is a triple fault. */
		if (vec == IDT_DF)
			return triple_fault(cpu);
		if ((is_contributory(vec) && is_contributory(nvec)) ||
		    (vec == IDT_PF && (is_contributory(nvec) || nvec == IDT_PF))) {
			vec = IDT_DF;
			has_err = true;
			err = 0;
		} else {
			/* Handled serially: the new fault replaces the first. */
			vec = nvec;
			has_err = cpu->exc_has_err != 0;
			err = cpu->exc_err;
		}
		kind = EMU_EV_EXCEPTION;
		ret_rip = cpu->st.rip;
	}
	return triple_fault(cpu);
}
