/*
 * gate.c - far CALL and JMP through call gates (SDM Vol. 3A 5.8.3-5.8.6,
 * Vol. 2A CALL and JMP pseudo-code; AMD APM Vol. 2 4.11.2, 4.11.3).
 *
 * Protected mode: 16-bit (type 4) and 32-bit (type C) gates; a call to a more privileged non-conforming segment takes
 * SSn:ESPn from the TSS and copies the gate's parameter count of words or
 * doublewords from the caller's stack.  IA-32e mode: only the 16-byte
 * 64-bit gate (type C, upper type field 0), to 64-bit code; the inner
 * stack is TSS.RSPn with a null SS, no parameters.  RETF to the outer
 * level is op_retfar's (control.c).
 *
 * Every check, read and stack write comes before the first register
 * changes; a fault leaves the instruction restartable.  Rare: kept out of
 * control.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

static uint64_t
le(const uint8_t *b, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void
put_le(uint8_t *b, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* Read from the current TSS; #TS(TR) past its limit (SDM Vol. 3A 7.2.1). */
static int
tss_read(struct emu_cpu *cpu, uint32_t off, void *buf, int size)
{
	const struct vm_seg *tr = &cpu->st.seg[SEG_TR];

	if (SEG_DESC_UNUSABLE(tr->access) || (uint64_t)off + (uint64_t)size - 1 > tr->limit)
		return emu_raise_err(cpu, IDT_TS, tr->sel & 0xfffc);
	return emu_read_linear(cpu, tr->base + off, buf, size, 0);
}

/*
 * The inner stack of a 16/32-bit gate call (CALL pseudo-code,
 * "MORE-PRIVILEGE"): SS:ESP for @cpl from the TSS, every SS check a #TS
 * (selector) but presence, #SS(selector).
 */
static int
inner_stack(struct emu_cpu *cpu, int cpl, struct vm_seg *ss, uint64_t *sp)
{
	bool tss32 = (SEG_DESC_TYPE(cpu->st.seg[SEG_TR].access) & 0x8) != 0;
	uint8_t t[8];
	uint64_t raw;
	uint16_t ssel;
	int rc;

	if (tss32) {
		rc = tss_read(cpu, 4 + 8 * (uint32_t)cpl, t, 6);
		*sp = le(t, 4);
		ssel = (uint16_t)le(t + 4, 2);
	} else {
		rc = tss_read(cpu, 2 + 4 * (uint32_t)cpl, t, 4);
		*sp = le(t, 2);
		ssel = (uint16_t)le(t + 2, 2);
	}
	if (rc != EMU_OK)
		return rc;
	if ((ssel & 0xfffc) == 0 || (ssel & 3) != cpl)
		return emu_raise_err(cpu, IDT_TS, ssel & 0xfffc);
	rc = emu_desc_fetch(cpu, ssel, &raw, NULL);
	if (rc != EMU_OK) {
		if (cpu->exc_vector == IDT_GP)
			return emu_raise_err(cpu, IDT_TS, ssel & 0xfffc);
		return rc;
	}
	emu_desc_to_seg(raw, ssel, ss);
	if (!SEG_DESC_S(ss->access) || (SEG_DESC_TYPE(ss->access) & 0xa) != 0x2 ||
	    (int)SEG_DESC_DPL(ss->access) != cpl)
		return emu_raise_err(cpu, IDT_TS, ssel & 0xfffc);
	if (!SEG_DESC_PRESENT(ss->access))
		return emu_raise_err(cpu, IDT_SS, ssel & 0xfffc);
	return EMU_OK;
}

int
emu_far_gate(struct emu_cpu *cpu, uint16_t gsel, uint64_t lo, uint64_t gla, bool call)
{
	bool lma = (cpu->st.efer & EFER_LMA) != 0;
	int type = (int)((lo >> 40) & 0xf), dpl = (int)((lo >> 45) & 3);
	int w, nparam, new_cpl, cdpl, rc, n;
	uint64_t hi = 0, off, raw, sp, tss_sp, la;
	uint16_t csel = (uint16_t)(lo >> 16);
	uint8_t g[8], frame[16 + 31 * 4];
	struct vm_seg cs, ss;

	/* IA-32e mode has only 16-byte 64-bit gates (SDM Vol. 3A 5.8.3.1). */
	if (lma) {
		const struct vm_seg *tab = (gsel & 4) ? &cpu->st.seg[SEG_LDTR] : &cpu->st.gdtr;

		if (type != 0xc)
			return emu_raise_err(cpu, IDT_GP, gsel & 0xfffc);
		if ((uint64_t)(gsel & 0xfff8) + 15 > tab->limit)
			return emu_raise_err(cpu, IDT_GP, gsel & 0xfffc);
		rc = emu_read_linear(cpu, gla + 8, g, 8, 0);
		if (rc != EMU_OK)
			return rc;
		hi = le(g, 8);
		if ((hi >> 40) & 0x1f)
			return emu_raise_err(cpu, IDT_GP, gsel & 0xfffc);
	}
	if (dpl < cpu->cpl || (gsel & 3) > dpl)
		return emu_raise_err(cpu, IDT_GP, gsel & 0xfffc);
	if (!((lo >> 47) & 1))
		return emu_raise_err(cpu, IDT_NP, gsel & 0xfffc);
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ULL) | (hi << 32);
	w = lma ? 8 : type == 0xc ? 4 : 2;
	if (w == 2)
		off &= 0xffff;
	nparam = lma ? 0 : (int)((lo >> 32) & 0x1f);

	/* The code segment the gate names. */
	if ((csel & 0xfffc) == 0)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_desc_fetch(cpu, csel, &raw, NULL);
	if (rc != EMU_OK)
		return rc;
	emu_desc_to_seg(raw, csel, &cs);
	cdpl = SEG_DESC_DPL(cs.access);
	if (!SEG_DESC_S(cs.access) || !(SEG_DESC_TYPE(cs.access) & 0x8) || cdpl > cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, csel & 0xfffc);
	/* JMP: a non-conforming target must be at CPL (5.8.6, table 5-2). */
	if (!call && !(SEG_DESC_TYPE(cs.access) & 0x4) && cdpl != cpu->cpl)
		return emu_raise_err(cpu, IDT_GP, csel & 0xfffc);
	if (!SEG_DESC_PRESENT(cs.access))
		return emu_raise_err(cpu, IDT_NP, csel & 0xfffc);
	if (lma && !(SEG_DESC_L(cs.access) && !SEG_DESC_DEF32(cs.access)))
		return emu_raise_err(cpu, IDT_GP, csel & 0xfffc);
	new_cpl = call && !(SEG_DESC_TYPE(cs.access) & 0x4) ? cdpl : cpu->cpl;

	if (new_cpl == cpu->cpl) {
		uint64_t rsp = cpu->st.gpr[GPR_RSP];

		if (lma ? !emu_canonical(off) : off > cs.limit)
			return emu_raise_err(cpu, IDT_GP, 0);
		if (call) {
			rc = emu_push(cpu, cpu->st.seg[SEG_CS].sel, w);
			if (rc == EMU_OK)
				rc = emu_push(cpu, cpu->next_rip, w);
			if (rc != EMU_OK) {
				cpu->st.gpr[GPR_RSP] = rsp;
				return rc;
			}
		}
		emu_load_cs(cpu, csel, &cs, new_cpl);
		cpu->next_rip = off;
		return EMU_OK;
	}

	/* CALL to an inner level. */
	if (lma) {
		/* TSS.RSPn, SS null with RPL = new CPL (SDM Vol. 3A 5.8.5.1). */
		rc = tss_read(cpu, 4 + 8 * (uint32_t)new_cpl, g, 8);
		if (rc != EMU_OK)
			return rc;
		sp = le(g, 8);
		if (!emu_canonical(sp) || !emu_canonical(sp - 32))
			return emu_raise_err(cpu, IDT_SS, 0);
		if (!emu_canonical(off))
			return emu_raise_err(cpu, IDT_GP, 0);
		put_le(frame, cpu->next_rip, 8);
		put_le(frame + 8, cpu->st.seg[SEG_CS].sel, 8);
		put_le(frame + 16, cpu->st.gpr[GPR_RSP], 8);
		put_le(frame + 24, cpu->st.seg[SEG_SS].sel, 8);
		sp -= 32;
		rc = emu_write_linear(cpu, sp, frame, 32, 0);
		if (rc != EMU_OK)
			return rc;
		memset(&ss, 0, sizeof(ss));
		ss.sel = (uint16_t)new_cpl;
		ss.access = DESC_UNUSABLE | ((uint32_t)new_cpl << 5);
		cpu->st.seg[SEG_SS] = ss;
		cpu->st.gpr[GPR_RSP] = sp;
		emu_load_cs(cpu, csel, &cs, new_cpl);
		cpu->next_rip = off;
		return EMU_OK;
	}
	rc = inner_stack(cpu, new_cpl, &ss, &tss_sp);
	if (rc != EMU_OK)
		return rc;
	/*
	 * New stack, lowest address first: EIP, CS, the parameters as they
	 * lay on the caller's stack, ESP, SS (5.8.5, figure 5-13).
	 */
	n = (4 + nparam) * w;
	put_le(frame, cpu->next_rip, w);
	put_le(frame + w, cpu->st.seg[SEG_CS].sel, w);
	if (nparam > 0) {
		uint64_t osp = cpu->st.gpr[GPR_RSP] & emu_size_mask(emu_stack_size(cpu));

		rc = emu_read(cpu, SEG_SS, osp, frame + 2 * w, nparam * w);
		if (rc != EMU_OK)
			return rc;
	}
	put_le(frame + (2 + nparam) * w, cpu->st.gpr[GPR_RSP], w);
	put_le(frame + (3 + nparam) * w, cpu->st.seg[SEG_SS].sel, w);
	sp = (tss_sp - (uint64_t)n) & (SEG_DESC_DEF32(ss.access) ? 0xffffffffULL : 0xffffULL);
	{
		struct vm_seg saved = cpu->st.seg[SEG_SS];
		uint8_t saved_cpl = cpu->cpl;

		cpu->st.seg[SEG_SS] = ss;
		cpu->cpl = (uint8_t)new_cpl;
		rc = emu_seg_linear(cpu, SEG_SS, sp, n, 1, &la);
		cpu->st.seg[SEG_SS] = saved;
		cpu->cpl = saved_cpl;
		if (rc != EMU_OK) {
			if (cpu->exc_vector == IDT_SS)
				cpu->exc_err = ss.sel & 0xfffc;
			return rc;
		}
	}
	if (off > cs.limit)
		return emu_raise_err(cpu, IDT_GP, 0);
	rc = emu_write_linear(cpu, la, frame, n, 0);
	if (rc != EMU_OK)
		return rc;
	cpu->st.seg[SEG_SS] = ss;
	if (SEG_DESC_DEF32(ss.access))
		cpu->st.gpr[GPR_RSP] = sp;
	else
		cpu->st.gpr[GPR_RSP] = (tss_sp & ~0xffffULL) | sp;
	emu_load_cs(cpu, csel, &cs, new_cpl);
	cpu->next_rip = off;
	return EMU_OK;
}
