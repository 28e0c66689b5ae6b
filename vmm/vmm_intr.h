/*
 * vmm_intr.h - libvmm's interrupt controllers: one local APIC per vCPU and
 * one I/O APIC per VM (vmm/io models), their timer and message routing, as
 * in FreeBSD's vmm.ko (vlapic.c, vioapic.c, vmm_lapic.c, vmm_ioapic.c).
 *
 * vmm_run serves the LAPIC page, the IOAPIC window and the APIC MSRs
 * through this file without an exit to userland; libvmmapi's interrupt
 * calls (vm_lapic_irq, vm_ioapic_*, vm_isa_*, vm_lapic_msi) land here.
 *
 * Locking (no vCPU lock is ever taken here; the vCPU thread holds its own
 * while it runs, so other threads could not):
 *   cpu[i].lk   one per LAPIC, around every call into its model.  A
 *               register write that sends an IPI or EOIs a level vector
 *               leaves the message in the LAPIC's outbox; it is routed
 *               after lk is dropped, so no thread holds two LAPIC locks
 *               except the router, which takes all of them in ascending
 *               order.
 *   iolk        the IOAPIC.  Order: iolk before any LAPIC lock.
 *   tmr.mtx     the timer thread's deadlines; taken under a LAPIC lock
 *               (sink.timer_changed), never held while taking one.
 *   ext.lk      the 8259's INTR line to the BSP (vmm_intr_extint): a leaf,
 *               taken under the 8259's lock and under the BSP's LAPIC lock.
 *   The 8259's lock is taken before iolk: its INTR also drives IOAPIC
 *   pin 0 (vmm_platform.c), and no path takes it under iolk or a LAPIC lock.
 * Each vCPU's "an interrupt may be deliverable" flag (hint) is an atomic
 * the CPU reads at block boundaries before it asks the LAPIC (bit 0) or
 * the 8259 through ExtINT: on the BSP's LINT0 (bit 1), or an ExtINT
 * message from the IOAPIC or an IPI on any vCPU (bit 2).
 */
#ifndef LHYVE_VMM_INTR_H
#define LHYVE_VMM_INTR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm.h"
#include "vmm_backend.h"

struct vmm_intr;

/* What the interrupt controllers ask of libvmm (vmm.c). */
struct vmm_intr_cb {
	/*
	 * Something new for vCPU @vcpu: wake it if it sleeps (HLT, wait-for-
	 * SIPI); with @kick also make a running vCPU leave run().  Called with
	 * LAPIC locks held: takes only leaf locks.
	 */
	void	(*notify)(void *arg, int vcpu, bool kick);
	/* The guest TSC of @vcpu now; called on the vCPU's own thread. */
	uint64_t (*tsc)(void *arg, int vcpu);
	void	*arg;
};

/* The guest TSC's rate (vmm/backend/emu/system.c: CLOCK_MONOTONIC ns). */
#define VMM_TSC_HZ		1000000000ull

/* vCPU events the LAPIC hands to the run loop (vmm_intr_take_events). */
#define VMM_EV_NMI		0x1u
#define VMM_EV_INIT		0x2u
#define VMM_EV_SIPI		0x4u

int	vmm_intr_create(struct vmm_intr **inp, const struct vmm_intr_cb *cb, int ncpus);
void	vmm_intr_destroy(struct vmm_intr *in);
/* vCPUs that receive messages: 1..VM_MAXCPU. */
void	vmm_intr_set_ncpus(struct vmm_intr *in, int ncpus);
/* Every LAPIC and the IOAPIC to their RESET state. */
void	vmm_intr_reset(struct vmm_intr *in);

/* The CPU's external interrupt source for @vcpu (set_intr_source). */
void	vmm_intr_source(struct vmm_intr *in, int vcpu, struct vmm_intr_source *src);
/* Whether @vcpu's LAPIC has a deliverable interrupt (the hint). */
bool	vmm_intr_pending(struct vmm_intr *in, int vcpu);
/* NMI/INIT/SIPI bits posted for @vcpu; take clears them. */
unsigned vmm_intr_events(struct vmm_intr *in, int vcpu);
unsigned vmm_intr_take_events(struct vmm_intr *in, int vcpu, uint8_t *sipi_vector);
/* RESET of one LAPIC (vcpu_reset): enabled, xAPIC, default base (SDM 11.4.7.1). */
void	vmm_intr_reset_lapic(struct vmm_intr *in, int vcpu);
/* INIT: the LAPIC resets, keeping its APIC_BASE mode (SDM 11.4.7.3, 11.12.5.1). */
void	vmm_intr_init_lapic(struct vmm_intr *in, int vcpu);

/*
 * Guest accesses, on @vcpu's thread.  mmio: 1 served (a read's data in
 * vme->u.mmio.data), 0 not a LAPIC/IOAPIC address (userland's).  MSRs:
 * 0 served, -ENOENT not an APIC MSR, -EINVAL the guest gets #GP.
 */
int	vmm_intr_mmio(struct vmm_intr *in, int vcpu, struct vm_exit *vme);
bool	vmm_intr_is_msr(uint32_t msr);
int	vmm_intr_rdmsr(struct vmm_intr *in, int vcpu, uint32_t msr, uint64_t *val);
int	vmm_intr_wrmsr(struct vmm_intr *in, int vcpu, uint32_t msr, uint64_t val);

/* libvmmapi (FreeBSD's calls).  0 or -EINVAL. */
int	vmm_intr_nmi(struct vmm_intr *in, int vcpu);	/* as the LAPIC's NMI */
int	vmm_intr_lapic_irq(struct vmm_intr *in, int vcpu, int vector);
int	vmm_intr_lapic_local_irq(struct vmm_intr *in, int vcpu, int lvt);
int	vmm_intr_msi(struct vmm_intr *in, uint64_t addr, uint64_t msg);
enum vmm_irq_op { VMM_IRQ_ASSERT, VMM_IRQ_DEASSERT, VMM_IRQ_PULSE };
int	vmm_intr_ioapic_irq(struct vmm_intr *in, int pin, enum vmm_irq_op op);
/* ISA IRQ @irq to the 8259 and IOAPIC pin @pin (-1: the machine map's). */
int	vmm_intr_isa_irq(struct vmm_intr *in, int irq, int pin, enum vmm_irq_op op);
int	vmm_intr_ioapic_pincount(void);

/*
 * The 8259 pair (vmm_platform.c), attached before any vCPU runs: isa()
 * drives its input @irq (ISA IRQs reach both controllers, as FreeBSD's
 * vm_isa_assert_irq); ack() is the INTA cycle, the vector or -1 when the
 * 8259 no longer requests.  isa() is called with no vmm_intr lock held.
 */
struct vmm_intr_pic {
	void	(*isa)(void *arg, int irq, enum vmm_irq_op op);
	int	(*ack)(void *arg);
	void	*arg;
};
void	vmm_intr_set_pic(struct vmm_intr *in, const struct vmm_intr_pic *pic);
/* The 8259's INT output, wired to the BSP's LINT0 (ExtINT, level sensitive). */
void	vmm_intr_extint(struct vmm_intr *in, bool level);
/* FreeBSD's enum x2apic_state: whether the guest may switch to x2APIC mode. */
int	vmm_intr_get_x2apic(struct vmm_intr *in, int vcpu, int *state);
int	vmm_intr_set_x2apic(struct vmm_intr *in, int vcpu, int state);
/* Bit i set: vCPU i has x2APIC disabled (CPUID hides it); read by vmm_cpuid. */
const _Atomic uint32_t *vmm_intr_x2apic_off(struct vmm_intr *in);

/* The MSR APIC_BASE value, for the state file's MSRS section. */
uint64_t vmm_intr_apicbase(struct vmm_intr *in, int vcpu);
void	vmm_intr_set_apicbase(struct vmm_intr *in, int vcpu, uint64_t val);

#define VMM_INTR_LAPIC_SNAP_MAX	512
/* State: a LAPIC's bytes (the store's per-vCPU LAPIC section), the IOAPIC's. */
ssize_t	vmm_intr_lapic_save(struct vmm_intr *in, int vcpu, uint8_t *buf, size_t cap);
int	vmm_intr_lapic_restore(struct vmm_intr *in, int vcpu, const uint8_t *data, size_t len);
ssize_t	vmm_intr_ioapic_save(void *in, uint8_t *buf, size_t cap);
int	vmm_intr_ioapic_restore(void *in, const uint8_t *data, size_t len);

int	vmm_intr_lapic_info(struct vmm_intr *in, int vcpu, struct vmm_lapic_info *li);

/*
 * The backend has the local APICs (vmm_backend_ops.msi): from here on every
 * message goes to msi() instead of vmm/io's LAPICs, the IOAPIC's entries
 * are mirrored to routes() after each change, and the 8259 reaches the BSP
 * whenever it requests (the backend's LAPIC decides on LINT0).  Set once,
 * after the backend started and before any vCPU runs.
 */
struct vmm_intr_lapic {
	int	(*msi)(void *arg, uint64_t addr, uint32_t data);
	int	(*routes)(void *arg, const struct vmm_msi_route *r, int n);
	void	*arg;
};
int	vmm_intr_set_lapic(struct vmm_intr *in, const struct vmm_intr_lapic *lb);

#endif /* LHYVE_VMM_INTR_H */
