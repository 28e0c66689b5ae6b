/*
 * vlapic.h - the local APIC register model (Intel SDM Vol. 3A ch. 11).
 *
 * A pure state machine, independent of the CPU backend, as bhyve's
 * sys/amd64/vmm/io/vlapic.c: the xAPIC MMIO page and the x2APIC MSRs
 * (0x800-0x83f) over one register file, the IRR/ISR/TPR/PPR priority logic,
 * the timer (one-shot, periodic, TSC-deadline) and IPIs.  Time comes from an
 * injected clock and every effect on the outside goes through a sink, so the
 * tests drive it with a fake clock and fake callbacks.
 *
 * Concurrency: none inside.  The caller serializes all calls on one vlapic
 * (the vCPU's lock); sink callbacks run with that lock held and may call
 * back into other vlapics (an IPI) or this one (a broadcast that includes
 * the sender), never into another thread's vlapic without its lock.
 *
 * Timer: the model never sleeps.  vlapic_timer_deadline() says when the
 * next timer interrupt is due (host clock ns, UINT64_MAX for none); the
 * caller arms a host timer for it and calls vlapic_timer_update() when it
 * fires or at block boundaries.  sink.timer_changed (optional) tells it
 * that the deadline moved.
 */
#ifndef LHYVE_VLAPIC_H
#define LHYVE_VLAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* xAPIC register offsets in the 4K page (SDM Table 11-1). */
#define APIC_OFF_ID		0x020
#define APIC_OFF_VER		0x030
#define APIC_OFF_TPR		0x080
#define APIC_OFF_APR		0x090
#define APIC_OFF_PPR		0x0a0
#define APIC_OFF_EOI		0x0b0
#define APIC_OFF_RRD		0x0c0
#define APIC_OFF_LDR		0x0d0
#define APIC_OFF_DFR		0x0e0
#define APIC_OFF_SVR		0x0f0
#define APIC_OFF_ISR0		0x100
#define APIC_OFF_TMR0		0x180
#define APIC_OFF_IRR0		0x200
#define APIC_OFF_ESR		0x280
#define APIC_OFF_CMCI_LVT	0x2f0
#define APIC_OFF_ICR_LOW	0x300
#define APIC_OFF_ICR_HI		0x310
#define APIC_OFF_TIMER_LVT	0x320
#define APIC_OFF_THERM_LVT	0x330
#define APIC_OFF_PERF_LVT	0x340
#define APIC_OFF_LINT0_LVT	0x350
#define APIC_OFF_LINT1_LVT	0x360
#define APIC_OFF_ERROR_LVT	0x370
#define APIC_OFF_TIMER_ICR	0x380
#define APIC_OFF_TIMER_CCR	0x390
#define APIC_OFF_TIMER_DCR	0x3e0
#define APIC_OFF_SELF_IPI	0x3f0	/* x2APIC only */

#define MSR_APICBASE		0x01b
#define MSR_TSC_DEADLINE	0x6e0
#define MSR_X2APIC_BASE		0x800
#define MSR_X2APIC_LAST		0x83f

#define APICBASE_BSP		0x100
#define APICBASE_X2APIC		0x400
#define APICBASE_ENABLED	0x800
#define APICBASE_DEFAULT	0xfee00000ull

#define VLAPIC_VERSION		0x00050014	/* version 0x14, 6 LVT entries */
#define VLAPIC_BUS_HZ		(128u * 1000 * 1000)	/* timer input before the divider */

/* Delivery modes (ICR, LVT, IOAPIC redirection entries, MSI). */
enum {
	APIC_DM_FIXED = 0, APIC_DM_LOWPRI = 1, APIC_DM_SMI = 2, APIC_DM_NMI = 4,
	APIC_DM_INIT = 5, APIC_DM_SIPI = 6, APIC_DM_EXTINT = 7,
};
/* ICR destination shorthands (SDM 11.6.1). */
enum {
	APIC_DEST_NONE = 0, APIC_DEST_SELF = 1, APIC_DEST_ALL = 2, APIC_DEST_OTHERS = 3,
};

/* An interrupt message: an IPI, an IOAPIC redirection, an MSI. */
struct vlapic_msg {
	uint32_t	dest;		/* 8 bits in xAPIC, 32 in x2APIC */
	uint8_t		vector;
	uint8_t		mode;		/* APIC_DM_* */
	uint8_t		shorthand;	/* APIC_DEST_* (IPIs only) */
	bool		logical;	/* destination mode */
	bool		level;		/* trigger mode: level */
	bool		assert;		/* level bit (INIT de-assert has it clear) */
	int		src;		/* sending vCPU, -1 for a device */
};

/*
 * What a LAPIC hands to its vCPU rather than to IRR.  ExtINT comes from an
 * LVT in ExtINT mode (EXTINT: LINT0 wired to the 8259) or from a message
 * (EXTINT_MSG: an IOAPIC entry or an IPI in ExtINT mode); either way the
 * CPU fetches the vector from the 8259 by an INTA cycle.
 */
enum vlapic_event {
	VLAPIC_EV_NMI, VLAPIC_EV_INIT, VLAPIC_EV_SIPI, VLAPIC_EV_SMI, VLAPIC_EV_EXTINT,
	VLAPIC_EV_EXTINT_MSG,
};

struct vlapic_clock {
	uint64_t	(*now_ns)(void *arg);	/* monotonic host time */
	uint64_t	(*tsc)(void *arg);	/* the guest's TSC now */
	uint64_t	tsc_hz;			/* guest TSC frequency, > 0 */
	void		*arg;
};

struct vlapic_sink {
	/* Whether an interrupt is deliverable changed (wake a HLTed vCPU). */
	void	(*intr_changed)(void *arg, int vcpu, bool pending);
	/* EOI of a level-triggered vector: the IOAPIC clears remote IRR. */
	void	(*eoi_level)(void *arg, int vcpu, uint8_t vector);
	/* An IPI for other LAPICs; route it with vlapic_route(). */
	void	(*send_ipi)(void *arg, int vcpu, const struct vlapic_msg *msg);
	/* NMI, INIT, SIPI (vector = page), SMI, ExtINT for this vCPU. */
	void	(*cpu_event)(void *arg, int vcpu, enum vlapic_event ev, uint8_t vector);
	/* Optional: the timer deadline changed (UINT64_MAX: none). */
	void	(*timer_changed)(void *arg, int vcpu, uint64_t deadline_ns);
	void	*arg;
};

struct vlapic {
	int		vcpu;
	uint32_t	apic_id;	/* initial APIC ID (CPUID) */
	uint64_t	apicbase;
	struct vlapic_clock clock;
	struct vlapic_sink sink;
	uint32_t	bus_hz;

	uint32_t	id, tpr, ppr, ldr, dfr, svr, esr, esr_pending;
	uint32_t	isr[8], tmr[8], irr[8];
	uint32_t	icr_lo, icr_hi;
	uint32_t	lvt[6];		/* timer, thermal, perf, LINT0, LINT1, error */
	uint32_t	timer_icr, timer_dcr;
	uint64_t	tsc_deadline;	/* MSR 0x6e0 */
	uint64_t	timer_start_ns;	/* when counting (re)started from timer_icr */
	uint64_t	timer_due_ns;	/* next expiry, UINT64_MAX: none */
	bool		pending;	/* last state told to intr_changed */
};

void	vlapic_init(struct vlapic *vl, int vcpu, uint32_t apic_id, bool bsp,
	    const struct vlapic_clock *clock, const struct vlapic_sink *sink);
void	vlapic_reset(struct vlapic *vl);	/* INIT/RESET: SDM 11.4.7.1 */

bool	vlapic_x2apic(const struct vlapic *vl);
bool	vlapic_enabled(const struct vlapic *vl);	/* hardware and software */
uint64_t vlapic_get_apicbase(const struct vlapic *vl);
/* WRMSR APIC_BASE: -EINVAL (#GP) for reserved bits or an illegal transition. */
int	vlapic_set_apicbase(struct vlapic *vl, uint64_t val);

/*
 * xAPIC page, @off 0..0xfff.  -ENOENT when the page is not there (APIC
 * disabled or in x2APIC mode): the caller treats the access as memory.
 */
int	vlapic_mmio_read(struct vlapic *vl, uint32_t off, int size, uint64_t *val);
int	vlapic_mmio_write(struct vlapic *vl, uint32_t off, int size, uint64_t val);
/* x2APIC MSRs and MSR 0x6e0; -EINVAL: inject #GP. */
int	vlapic_rdmsr(struct vlapic *vl, uint32_t msr, uint64_t *val);
int	vlapic_wrmsr(struct vlapic *vl, uint32_t msr, uint64_t val);

/* TPR whatever the mode: MOV CR8 reaches it too (SDM 11.8.6.1). */
uint8_t	vlapic_get_tpr(const struct vlapic *vl);
void	vlapic_set_tpr(struct vlapic *vl, uint8_t tpr);
/* The highest deliverable vector (SDM 11.8.3-11.8.5), or -1. */
int	vlapic_pending_intr(struct vlapic *vl);
/* The CPU takes @vector (from vlapic_pending_intr): IRR -> ISR. */
void	vlapic_accept_intr(struct vlapic *vl, int vector);

/* A message that reached this LAPIC (after destination matching). */
void	vlapic_deliver(struct vlapic *vl, const struct vlapic_msg *msg);
/* LINT0/LINT1 changed level (the 8259's INTR, the NMI line). */
void	vlapic_lint(struct vlapic *vl, int pin, bool level);
/*
 * Whether the 8259's INTR reaches the CPU through this LAPIC: LVT LINT0
 * unmasked in ExtINT mode, or the LAPIC hardware-disabled, when LINT0 is
 * the CPU's INTR pin (SDM Vol. 3A 11.4.3, 11.5.1).
 */
bool	vlapic_extint_ok(const struct vlapic *vl);
/*
 * Raise the interrupt LVT entry @idx describes (0 timer, 1 thermal, 2 perf,
 * 3 LINT0, 4 LINT1, 5 error), as the event it stands for would (SDM
 * 11.5.1); a masked entry delivers nothing.  -EINVAL for another index.
 */
int	vlapic_fire_lvt(struct vlapic *vl, int idx);
/* Whether @vl is a destination of @dest in physical or logical mode. */
bool	vlapic_match_dest(const struct vlapic *vl, uint32_t dest, bool logical);
/*
 * Deliver @msg to the matching LAPICs of @vls[0..n) (shorthand, physical or
 * logical destination, lowest priority arbitration).  Returns how many got it.
 */
int	vlapic_route(struct vlapic *const *vls, int n, const struct vlapic_msg *msg);

/* Timer: next expiry (UINT64_MAX: none); fire what is due. */
uint64_t vlapic_timer_deadline(const struct vlapic *vl);
uint32_t vlapic_timer_ccr(const struct vlapic *vl);	/* current count (SDM 11.5.4) */
void	vlapic_timer_update(struct vlapic *vl);

/*
 * Snapshot: bytes, versioned, suitable for vmm_snapshot_register.  The
 * timer is saved relative to the clock, so it continues across a restart.
 * Restore validates everything and leaves @vl unchanged on error.
 */
#define VLAPIC_SNAP_SIZE	208
ssize_t	vlapic_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vlapic_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VLAPIC_H */
