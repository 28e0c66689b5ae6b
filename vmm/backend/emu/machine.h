/*
 * machine.h - internals of the software CPU's "machine" (decoder glue, MMU,
 * exception delivery, descriptor tables) shared by emu.c, mmu.c,
 * exception.c, control.c, system.c and io.c.  Instruction-family files use
 * only cpu.h (and family.h).
 */
#ifndef LHYVE_EMU_MACHINE_H
#define LHYVE_EMU_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* Physical address width we advertise (CPUID 0x80000008) and enforce. */
#define EMU_MAXPHYADDR		39
#define EMU_PHYS_MASK		((1ULL << EMU_MAXPHYADDR) - 1)

/*
 * Interruptibility state kept in st.intr_shadow, in the VMX layout
 * (SDM Vol. 3C 24.4.2, table 24-3) so that it round-trips through the store.
 */
#define EMU_SHADOW_STI		0x1
#define EMU_SHADOW_MOVSS	0x2
#define EMU_SHADOW_NMI		0x8	/* NMI blocked until the next IRET */

/* Handler for instructions the CPU decodes but does not implement (x87, SSE...). */
emu_op_fn op_unimpl;

/* ---- exception delivery (exception.c) ---- */

enum emu_event_kind {
	EMU_EV_EXCEPTION,	/* fault or trap raised by the CPU */
	EMU_EV_SOFTINT,		/* INT n, INT3, INTO: gate DPL checked, EXT = 0 */
	EMU_EV_ICEBP,		/* INT1 (F1): like a hardware #DB, no DPL check */
	EMU_EV_EXTINT,		/* external interrupt */
	EMU_EV_NMI,
};

/*
 * Deliver one event through the IDT/IVT, pushing @ret_rip as the return
 * address.  EMU_OK: CS:RIP, RSP, RFLAGS now point at the handler (st.rip
 * and cpu->next_rip both set).  EMU_FAULT: a fault occurred during delivery
 * and sits in cpu->exc_*; nothing architectural was changed.  EMU_EXIT: the
 * walk hit a backend error.
 */
int	emu_event_deliver(struct emu_cpu *cpu, int vector, enum emu_event_kind kind,
	    bool has_err, uint32_t err, uint64_t ret_rip);
/*
 * Deliver the exception in cpu->exc_* (raised by an instruction at st.rip,
 * or a pending one), escalating to #DF and to a triple fault per SDM Vol. 3A
 * 6.15 table 6-5.  EMU_OK, or EMU_EXIT with the SUSPENDED (triple fault) or
 * BACKEND_ERROR exit built.
 */
int	emu_exception_deliver(struct emu_cpu *cpu, enum emu_event_kind kind, uint64_t ret_rip);
/* Build a BACKEND_ERROR exit; returns EMU_EXIT. */
int	emu_backend_error(struct emu_cpu *cpu, int error, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* ---- MMU internals (mmu.c) ---- */

/* Access kinds for translation. */
#define EMU_ACC_READ	0x0
#define EMU_ACC_WRITE	0x1
#define EMU_ACC_USER	0x2
#define EMU_ACC_FETCH	0x4

/*
 * Translate linear page of @la for @acc; on success *hpage is the host
 * pointer of the page (NULL when the page is not RAM) and *gpa_page its
 * guest-physical address.  EMU_FAULT (#PF raised, CR2 set) or EMU_EXIT.
 */
int	emu_translate(struct emu_cpu *cpu, uint64_t la, int acc, uint8_t **hpage,
	    uint64_t *gpa_page);
/* Host pointer for [gpa, gpa+len) when wholly inside one RAM segment, else NULL. */
uint8_t *emu_gpa_to_hva(const struct emu_cpu *cpu, uint64_t gpa, uint64_t len);
/* Segmentation for seg:off..off+size-1: linear address or EMU_FAULT. */
int	emu_seg_linear(struct emu_cpu *cpu, int seg, uint64_t off, int size, int write,
	    uint64_t *la);
/* Load the four PAE PDPTEs from CR3 (SDM Vol. 3A 4.4.1); EMU_FAULT (#GP(0)) if reserved bits. */
int	emu_load_pdptes(struct emu_cpu *cpu, uint64_t cr3);
/* Canonical in 48-bit linear addressing. */
static inline bool
emu_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}
/* Stack-address size in bytes for the current mode (SS.B, or 8 in 64-bit mode). */
int	emu_stack_size(const struct emu_cpu *cpu);

/* ---- descriptors (system.c) ---- */

/* Read the 8-byte descriptor for @sel from the GDT or LDT; #GP(sel) when out of the table. */
int	emu_desc_fetch(struct emu_cpu *cpu, uint16_t sel, uint64_t *raw, uint64_t *la);
/* Convert a raw code/data descriptor to the cached form (VMCS access-rights layout). */
void	emu_desc_to_seg(uint64_t raw, uint16_t sel, struct vm_seg *seg);
/* Load CS from a descriptor that passed the checks; CPL becomes @cpl. */
void	emu_load_cs(struct emu_cpu *cpu, uint16_t sel, const struct vm_seg *cs, int cpl);
/*
 * Far JMP (@call false) or CALL through the call gate @gsel whose first 8
 * bytes are @lo, read from linear @gla (gate.c).  Sets CS, RSP, next_rip.
 */
int	emu_far_gate(struct emu_cpu *cpu, uint16_t gsel, uint64_t lo, uint64_t gla, bool call);
/* Task switches (task.c, SDM Vol. 3A 7.3): what started one. */
enum emu_task_reason {
	EMU_TASK_JMP,
	EMU_TASK_CALL,
	EMU_TASK_IRET,
	EMU_TASK_INT,		/* an interrupt or exception through a task gate */
};
/*
 * Switch to the 32-bit TSS @sel (descriptor @raw, checked by the caller for
 * type, DPL and presence), saving @ret_rip as the old task's EIP; an
 * exception's error code is pushed on the new stack.  EMU_OK with st.rip
 * and next_rip at the new task; EMU_FAULT before the commit point leaves
 * the old task intact, after it the fault belongs to the new task.
 */
int	emu_task_switch(struct emu_cpu *cpu, uint16_t sel, uint64_t raw,
	    enum emu_task_reason why, bool has_err, uint32_t err, uint64_t ret_rip,
	    uint32_t ext);
/* Far JMP/CALL to a TSS descriptor or task gate. */
int	emu_task_far(struct emu_cpu *cpu, uint16_t sel, uint64_t raw, bool call);
/* IRET with EFLAGS.NT outside IA-32e mode: back to the linked task. */
int	emu_task_return(struct emu_cpu *cpu);
/* Load a segment register in real mode (base = sel << 4). */
void	emu_seg_load_real(struct emu_cpu *cpu, int seg, uint16_t sel);
/* After a privilege drop, null DS/ES/FS/GS the new CPL may not use (SDM Vol. 2A IRET/RET). */
void	emu_null_outer_segs(struct emu_cpu *cpu);
/* Is the guest in a mode where CS is 64-bit code? */
static inline bool
emu_mode64(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_LONG64;
}
/* Any protected mode (CPL checks apply); V86 is not implemented. */
static inline bool
emu_protected(const struct emu_cpu *cpu)
{
	return cpu->mode != EMU_MODE_REAL;
}

/* ---- time (pvclock.c) ---- */

/* Start the VM's count at 0 now. */
void	emu_clock_init(struct emu_clock *clk);
/* This vCPU's TSC now. */
uint64_t emu_tsc_read(const struct emu_cpu *cpu);
/* WRMSR IA32_TSC / IA32_TSC_ADJUST (SDM Vol. 3B 18.17.3): each moves the other. */
void	emu_tsc_write(struct emu_cpu *cpu, uint64_t val);
void	emu_tsc_adjust_write(struct emu_cpu *cpu, uint64_t val);
/*
 * set_state gave the vCPU st.tsc and st.tsc_adjust: keep the VM's count
 * when st.tsc is 0 (a vCPU at RESET joins the VM's time) or within a
 * second of count + st.tsc_adjust (the vCPUs of one saved VM, restored one
 * after the other), else move the count to st.tsc - st.tsc_adjust.
 */
void	emu_tsc_restore(struct emu_cpu *cpu);
/* MSR_KVM_SYSTEM_TIME_NEW / MSR_KVM_WALL_CLOCK_NEW writes (KVM's semantics). */
void	emu_kvm_system_time_write(struct emu_cpu *cpu, uint64_t val);
void	emu_kvm_wall_clock_write(struct emu_cpu *cpu, uint64_t val);
/* Rewrite the vCPU's pvclock page after its TSC moved against the count. */
void	emu_pvclock_update(struct emu_cpu *cpu);

/* Mask of a register-sized value for the current code size (RIP wrap). */
static inline uint64_t
emu_ip_mask(const struct emu_cpu *cpu)
{
	return emu_mode64(cpu) ? ~0ULL : 0xffffffffULL;
}

#endif /* LHYVE_EMU_MACHINE_H */
