/*
 * task.c - hardware task switches between 32-bit and 16-bit TSSs (SDM
 * Vol. 3A 7.3, table 7-1, 7.6; Vol. 2A JMP/CALL, Vol. 2B IRET, 6.12.2
 * task gates in the IDT).
 *
 * Reached from far JMP/CALL to a TSS descriptor or task gate, IRET with
 * EFLAGS.NT (the back link), and an interrupt or exception whose IDT entry
 * is a task gate (the #DF task of 32-bit Linux, for one).  Protected mode
 * only: IA-32e mode has no task switching (#GP from JMP/CALL, the IDT
 * refuses type 5, IRET with NT is #GP(0)).
 *
 * Order: every check on the new TSS descriptor and the read of the whole
 * new TSS come first, so a fault there leaves the old task untouched; then
 * the old task's state goes to its TSS, busy bits and the back link are
 * written, and the new state is committed (TR, CR3, registers, selectors).
 * Loading the new task's descriptors comes last: a fault there (#TS, #NP,
 * #SS with table 7-1's selectors) is taken in the new task, at its EIP, as
 * the SDM says.  A new TSS with its T bit set leaves a #DB trap pending
 * (task_trap).  Either TSS may be a 32-bit or a 286-style 16-bit one.
 * Not modelled: a new task in virtual-8086 mode (a BACKEND_ERROR exit
 * that names it), and the I/O map or interrupt redirection of the new TSS
 * (read when used).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

/*
 * The two TSS formats: 32-bit (SDM Vol. 3A 7.2.1, figure 7-2) and the
 * 286's 16-bit one (7.6, figure 7-11), whose fields are words and which
 * has no CR3, FS, GS, T bit or I/O map.  The back link is at 0 in both.
 */
struct tss_fmt {
	uint32_t	w;		/* field width: 4 or 2 */
	uint32_t	ip, flags, gpr;	/* EIP/IP, EFLAGS/FLAGS, EAX/AX (8 registers) */
	uint32_t	segs;		/* ES CS SS DS, then FS GS (32-bit only) */
	uint32_t	nsegs;
	uint32_t	ldt;		/* LDT selector; the dynamic fields end here */
	uint32_t	min_limit;	/* 67H / 2BH: below that, #TS (7.2.2, 7.6) */
};

static const struct tss_fmt tss32 = { 4, 0x20, 0x24, 0x28, 0x48, 6, 0x60, 0x67 };
static const struct tss_fmt tss16 = { 2, 0x0e, 0x10, 0x12, 0x22, 4, 0x2a, 0x2b };

#define TSS_LINK	0x00
#define TSS_CR3		0x1c	/* 32-bit only */
#define TSS_TRAP	0x64	/* 32-bit only; bit 0: T, the debug trap flag */
#define TSS_MAX_READ	0x68

#define DR6_BT		(1ULL << 15)	/* task switch (SDM Vol. 3A 17.2.3) */

/* A TSS descriptor's type: 1/3 a 16-bit TSS, 9/B a 32-bit one. */
static const struct tss_fmt *
tss_fmt_of(uint32_t access)
{
	return (SEG_DESC_TYPE(access) & 0x8) ? &tss32 : &tss16;
}

static uint32_t
get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static uint32_t
getw(const uint8_t *b, uint32_t w)
{
	return w == 4 ? get32(b) : (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static void
putw(uint8_t *b, uint32_t v, uint32_t w)
{
	uint32_t i;

	for (i = 0; i < w; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* TSS order of the segment registers. */
static const int tss_segs[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

/* Set or clear the busy bit (type bit 1) of the TSS descriptor for @sel in the GDT. */
static int
set_busy(struct emu_cpu *cpu, uint16_t sel, bool busy)
{
	uint64_t raw, la;
	uint8_t ab;
	int rc;

	rc = emu_desc_fetch(cpu, sel & ~4, &raw, &la);
	if (rc != EMU_OK)
		return rc;
	ab = (uint8_t)(raw >> 40);
	ab = busy ? (ab | 0x2) : (ab & ~0x2);
	return emu_write_linear(cpu, la + 5, &ab, 1, 0);
}

/*
 * The new TSS has T set (SDM Vol. 3A 7.2.1, 17.3.1.5): a #DB trap with
 * DR6.BT once the switch is complete, before the new task's first
 * instruction.  It is left pending, the way an injected event is: run()
 * takes it at once (block_stop ends the block), ahead of NMIs and
 * interrupts (6.9, priority 2), and emu_exception_deliver takes it right
 * after the event whose task gate made the switch.
 */
static void
task_trap(struct emu_cpu *cpu)
{
	cpu->st.dr[6] |= DR6_BT;
	cpu->st.pending_valid = 1;
	cpu->st.pending_vector = IDT_DB;
	cpu->st.pending_errcode_valid = 0;
	cpu->st.pending_errcode = 0;
	cpu->block_stop = 1;
}

/* Table 7-1: a new task's segment descriptor, #TS/#NP/#SS with its selector. */
static int
load_task_seg(struct emu_cpu *cpu, int seg, uint16_t sel, uint32_t ext)
{
	struct vm_seg s;
	uint64_t raw;
	uint32_t type, err = (sel & 0xfffc) | ext;
	int rc, dpl, rpl = sel & 3, cpl = cpu->st.seg[SEG_CS].sel & 3;

	if ((sel & 0xfffc) == 0) {
		if (seg == SEG_CS || seg == SEG_SS)
			return emu_raise_err(cpu, IDT_TS, err);
		return EMU_OK;		/* already loaded null */
	}
	rc = emu_desc_fetch(cpu, sel, &raw, NULL);
	if (rc != EMU_OK) {
		if (cpu->exc_vector == IDT_GP)
			return emu_raise_err(cpu, IDT_TS, err);
		return rc;
	}
	emu_desc_to_seg(raw, sel, &s);
	type = SEG_DESC_TYPE(s.access);
	dpl = SEG_DESC_DPL(s.access);
	if (!SEG_DESC_S(s.access))
		return emu_raise_err(cpu, IDT_TS, err);
	switch (seg) {
	case SEG_CS:
		if (!(type & 0x8) || ((type & 0x4) ? dpl > rpl : dpl != rpl))
			return emu_raise_err(cpu, IDT_TS, err);
		if (!SEG_DESC_PRESENT(s.access))
			return emu_raise_err(cpu, IDT_NP, err);
		break;
	case SEG_SS:
		if ((type & 0xa) != 0x2 || rpl != cpl || dpl != cpl)
			return emu_raise_err(cpu, IDT_TS, err);
		if (!SEG_DESC_PRESENT(s.access))
			return emu_raise_err(cpu, IDT_SS, err);
		break;
	default:
		/* data or readable code; DPL >= CPL and RPL unless conforming code */
		if ((type & 0xa) == 0x8)
			return emu_raise_err(cpu, IDT_TS, err);
		if ((type & 0xc) != 0xc && (dpl < cpl || dpl < rpl))
			return emu_raise_err(cpu, IDT_TS, err);
		if (!SEG_DESC_PRESENT(s.access))
			return emu_raise_err(cpu, IDT_NP, err);
		break;
	}
	cpu->st.seg[seg] = s;
	return EMU_OK;
}

int
emu_task_switch(struct emu_cpu *cpu, uint16_t sel, uint64_t raw, enum emu_task_reason why,
    bool has_err, uint32_t err, uint64_t ret_rip, uint32_t ext)
{
	struct vm_seg otr = cpu->st.seg[SEG_TR], ntr;
	const struct tss_fmt *of, *nf;
	uint8_t nt[TSS_MAX_READ] = { 0 }, save[0x40];	/* nt: a 16-bit TSS fills 2CH */
	uint32_t eflags, cr3, i;
	uint16_t sels[6], ldt;
	int rc;
	bool nest = why == EMU_TASK_CALL || why == EMU_TASK_INT;

	emu_desc_to_seg(raw, sel, &ntr);
	nf = tss_fmt_of(ntr.access);
	of = tss_fmt_of(otr.access);
	if (ntr.limit < nf->min_limit)
		return emu_raise_err(cpu, IDT_TS, (sel & 0xfffc) | ext);
	if (SEG_DESC_UNUSABLE(otr.access) || otr.limit < of->min_limit)
		return emu_raise_err(cpu, IDT_TS, (otr.sel & 0xfffc) | ext);
	rc = emu_read_linear(cpu, ntr.base & 0xffffffffULL, nt, nf->min_limit + 1, 0);
	if (rc != EMU_OK)
		return rc;
	/* A 16-bit TSS's FLAGS has no VM bit: upper EFLAGS are zero (7.6). */
	eflags = getw(nt + nf->flags, nf->w);
	if (eflags & RFL_VM)
		return emu_backend_error(cpu, ENOTSUP,
		    "task switch to virtual-8086 mode (TSS %#x) is not implemented", sel);

	/*
	 * The old task's dynamic fields, in the old TSS's format (7.2.1, 7.6;
	 * a 16-bit TSS keeps the low words); IRET saves EFLAGS with NT clear.
	 */
	{
		uint64_t fl = emu_rflags(cpu);

		if (why == EMU_TASK_IRET)
			fl &= ~RFL_NT;
		putw(save, (uint32_t)ret_rip, of->w);
		putw(save + (of->flags - of->ip), (uint32_t)fl, of->w);
		for (i = 0; i < 8; i++)
			putw(save + (of->gpr - of->ip) + of->w * i, (uint32_t)cpu->st.gpr[i], of->w);
		for (i = 0; i < of->nsegs; i++)
			putw(save + (of->segs - of->ip) + of->w * i,
			    cpu->st.seg[tss_segs[i]].sel, of->w);
	}
	rc = emu_write_linear(cpu, (otr.base + of->ip) & 0xffffffffULL, save,
	    (int)(of->ldt - of->ip), 0);
	if (rc != EMU_OK)
		return rc;
	if (why == EMU_TASK_JMP || why == EMU_TASK_IRET) {
		rc = set_busy(cpu, otr.sel, false);
		if (rc != EMU_OK)
			return rc;
	}
	if (nest) {
		uint8_t link[2] = { (uint8_t)otr.sel, (uint8_t)(otr.sel >> 8) };

		rc = emu_write_linear(cpu, (ntr.base + TSS_LINK) & 0xffffffffULL, link, 2, 0);
		if (rc != EMU_OK)
			return rc;
	}
	if (why != EMU_TASK_IRET) {
		rc = set_busy(cpu, sel, true);
		if (rc != EMU_OK)
			return rc;
	}

	/* Commit the new task (7.3 steps 10-11). */
	ntr.access |= 0x2;
	cpu->st.seg[SEG_TR] = ntr;
	cpu->st.cr0 |= CR0_TS;
	if (nf == &tss32 && (cpu->st.cr0 & CR0_PG)) {
		/* A 16-bit TSS has no CR3: the address space stays (7.6). */
		cr3 = get32(nt + TSS_CR3);
		if (cpu->st.cr4 & CR4_PAE) {
			rc = emu_load_pdptes(cpu, cr3);
			if (rc != EMU_OK)
				return rc;
		}
		cpu->st.cr3 = cr3;
		emu_tlb_flush(cpu, true);
	}
	/*
	 * From a 16-bit TSS: IP and FLAGS zero-extended, and the upper words
	 * of the general registers all ones, as the 386 does; the SDM leaves
	 * those words unspecified (7.6), Bochs and QEMU set them so.
	 */
	for (i = 0; i < 8; i++)
		cpu->st.gpr[i] = getw(nt + nf->gpr + nf->w * i, nf->w) |
		    (nf->w == 2 ? 0xffff0000U : 0);
	if (nest)
		eflags |= RFL_NT;
	emu_set_rflags(cpu, (eflags & ~RFL_VM) | 0x2);
	cpu->st.rip = getw(nt + nf->ip, nf->w);
	cpu->next_rip = cpu->st.rip;
	/* Local breakpoint enables are cleared (SDM Vol. 3B 18.2.4). */
	cpu->st.dr[7] &= ~0x55ULL;
	ldt = (uint16_t)getw(nt + nf->ldt, nf->w);
	/* FS and GS of a 16-bit task are null. */
	for (i = 0; i < 6; i++) {
		sels[i] = i < nf->nsegs ? (uint16_t)getw(nt + nf->segs + nf->w * i, nf->w) : 0;
		memset(&cpu->st.seg[tss_segs[i]], 0, sizeof(struct vm_seg));
		cpu->st.seg[tss_segs[i]].sel = sels[i];
		cpu->st.seg[tss_segs[i]].access = DESC_UNUSABLE;
	}
	/* CPL is the new CS's RPL until SS is loaded (SS.DPL: emu_update_mode). */
	cpu->st.seg[SEG_SS].access |= (uint32_t)(sels[1] & 3) << 5;
	cpu->st.seg[SEG_CS].access |= 0x4000;
	cpu->st.seg[SEG_LDTR].sel = ldt;
	cpu->st.seg[SEG_LDTR].access = DESC_UNUSABLE;
	emu_update_mode(cpu);

	/* The new task's descriptors: LDT first, then CS, SS, data (table 7-1). */
	if (ldt & 0xfffc) {
		struct vm_seg l;
		uint64_t lraw;

		if (ldt & 4)
			return emu_raise_err(cpu, IDT_TS, (ldt & 0xfffc) | ext);
		rc = emu_desc_fetch(cpu, ldt, &lraw, NULL);
		if (rc != EMU_OK) {
			if (cpu->exc_vector == IDT_GP)
				return emu_raise_err(cpu, IDT_TS, (ldt & 0xfffc) | ext);
			return rc;
		}
		emu_desc_to_seg(lraw, ldt, &l);
		if (SEG_DESC_S(l.access) || SEG_DESC_TYPE(l.access) != 2)
			return emu_raise_err(cpu, IDT_TS, (ldt & 0xfffc) | ext);
		if (!SEG_DESC_PRESENT(l.access))
			return emu_raise_err(cpu, IDT_TS, (ldt & 0xfffc) | ext);
		cpu->st.seg[SEG_LDTR] = l;
	}
	rc = load_task_seg(cpu, SEG_CS, sels[1], ext);
	if (rc == EMU_OK)
		rc = load_task_seg(cpu, SEG_SS, sels[2], ext);
	for (i = 0; rc == EMU_OK && i < 6; i++) {
		if (tss_segs[i] != SEG_CS && tss_segs[i] != SEG_SS)
			rc = load_task_seg(cpu, tss_segs[i], sels[i], ext);
	}
	emu_update_mode(cpu);
	if (rc != EMU_OK)
		return rc;
	if (cpu->st.rip > cpu->st.seg[SEG_CS].limit)
		return emu_raise_err(cpu, IDT_GP, ext);
	/*
	 * An exception's error code goes on the new task's stack (6.12.2), a
	 * word or a doubleword as the new TSS is 16- or 32-bit (Bochs and
	 * QEMU alike; the SDM does not say).
	 */
	if (has_err) {
		rc = emu_push(cpu, err, (int)nf->w);
		if (rc != EMU_OK)
			return rc;
	}
	if (nf == &tss32 && (nt[TSS_TRAP] & 1))
		task_trap(cpu);
	return EMU_OK;
}

/*
 * Far JMP/CALL to the TSS descriptor or task gate @sel (@raw; SDM Vol. 2A
 * JMP/CALL "TASK-GATE", "TASK-STATE-SEGMENT").
 */
int
emu_task_far(struct emu_cpu *cpu, uint16_t sel, uint64_t raw, bool call)
{
	int type = (int)((raw >> 40) & 0xf), dpl = (int)((raw >> 45) & 3), rc;
	uint16_t tsel = sel;

	if (cpu->st.efer & EFER_LMA)
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if (dpl < cpu->cpl || dpl < (sel & 3))
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	if (type == 5) {
		if (!((raw >> 47) & 1))
			return emu_raise_err(cpu, IDT_NP, sel & 0xfffc);
		tsel = (uint16_t)(raw >> 16);
		if (tsel & 4)
			return emu_raise_err(cpu, IDT_GP, tsel & 0xfffc);
		rc = emu_desc_fetch(cpu, tsel, &raw, NULL);
		if (rc != EMU_OK)
			return rc;
		type = (int)((raw >> 40) & 0x1f);	/* S included: must be 0 */
		if (type != 9 && type != 1)
			return emu_raise_err(cpu, IDT_GP, tsel & 0xfffc);
	} else if (sel & 4) {
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	} else if (type != 9 && type != 1) {
		/* a busy TSS */
		return emu_raise_err(cpu, IDT_GP, sel & 0xfffc);
	}
	if (!((raw >> 47) & 1))
		return emu_raise_err(cpu, IDT_NP, tsel & 0xfffc);
	return emu_task_switch(cpu, tsel, raw, call ? EMU_TASK_CALL : EMU_TASK_JMP,
	    false, 0, cpu->next_rip, 0);
}

/* IRET with EFLAGS.NT in protected mode: back to the task in the back link (IRET "TASK-RETURN"). */
int
emu_task_return(struct emu_cpu *cpu)
{
	const struct vm_seg *tr = &cpu->st.seg[SEG_TR];
	uint8_t b[2];
	uint64_t raw;
	uint16_t sel;
	int rc;

	if (SEG_DESC_UNUSABLE(tr->access) || tr->limit < 1)
		return emu_raise_err(cpu, IDT_TS, tr->sel & 0xfffc);
	rc = emu_read_linear(cpu, (tr->base + TSS_LINK) & 0xffffffffULL, b, 2, 0);
	if (rc != EMU_OK)
		return rc;
	sel = (uint16_t)(b[0] | b[1] << 8);
	if (sel & 4)
		return emu_raise_err(cpu, IDT_TS, sel & 0xfffc);
	rc = emu_desc_fetch(cpu, sel, &raw, NULL);
	if (rc != EMU_OK) {
		if (cpu->exc_vector == IDT_GP)
			return emu_raise_err(cpu, IDT_TS, sel & 0xfffc);
		return rc;
	}
	/* The nesting task is busy: type B (or 3), S clear. */
	if (((raw >> 40) & 0x1f) != 0xb && ((raw >> 40) & 0x1f) != 0x3)
		return emu_raise_err(cpu, IDT_TS, sel & 0xfffc);
	if (!((raw >> 47) & 1))
		return emu_raise_err(cpu, IDT_NP, sel & 0xfffc);
	return emu_task_switch(cpu, sel, raw, EMU_TASK_IRET, false, 0, cpu->next_rip, 0);
}
