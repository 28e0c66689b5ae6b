/*
 * vlapic.c - the local APIC register model (Intel SDM Vol. 3A ch. 11).
 * Interfaces and concurrency contract: vlapic.h.
 */
#include <errno.h>
#include <string.h>

#include "vlapic.h"

#define NS_PER_SEC	1000000000ull
#define NO_DEADLINE	UINT64_MAX

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_MASKED		0x00010000u
#define LVT_DM(v)		(((v) >> 8) & 7)
#define LVT_TRIGGER_LEVEL	0x00008000u
#define TIMER_MODE(v)		(((v) >> 17) & 3)
enum { TIMER_ONESHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE };

/* Writable bits of each LVT (SDM Figure 11-8); delivery status is never set. */
static const uint32_t lvt_wmask[LVT_COUNT] = {
	[LVT_TIMER] = 0x000700ff,	/* vector, mask, timer mode 18:17 */
	[LVT_THERMAL] = 0x000107ff,	/* vector, delivery mode, mask */
	[LVT_PERF] = 0x000107ff,
	[LVT_LINT0] = 0x0001a7ff,	/* + polarity, trigger mode; remote IRR is RO */
	[LVT_LINT1] = 0x0001a7ff,
	[LVT_ERROR] = 0x000100ff,
};
#define LVT_RO_BITS	0x00005000u	/* delivery status, remote IRR */

#define SVR_ENABLE	0x100u
#define SVR_WMASK	0x000003ffu	/* vector, APIC enable, focus check (SDM 11.9) */
#define DFR_WMASK	0xf0000000u
#define LDR_WMASK	0xff000000u
#define DCR_WMASK	0x0000000bu
/* ICR low: vector, mode, dest mode, level, trigger, shorthand (SDM 11.6.1) */
#define ICR_LO_WMASK	0x000ccfffu
#define ICR_LO_RO	0x00001000u	/* delivery status */

/* ESR bits (SDM 11.5.3) */
#define ESR_SEND_ILLEGAL	0x20u
#define ESR_RECV_ILLEGAL	0x40u
#define ESR_ILLEGAL_REG		0x80u

/* APIC_BASE: BSP (RO), EXTD, EN, base 12..51; everything else reserved. */
#define APICBASE_ADDR_MASK	0x000ffffffffff000ull
#define APICBASE_RESERVED	(~(APICBASE_ADDR_MASK | APICBASE_X2APIC | \
				   APICBASE_ENABLED | APICBASE_BSP))

static uint64_t
now_ns(const struct vlapic *vl)
{
	return vl->clock.now_ns(vl->clock.arg);
}

bool
vlapic_x2apic(const struct vlapic *vl)
{
	return (vl->apicbase & (APICBASE_ENABLED | APICBASE_X2APIC)) ==
	    (APICBASE_ENABLED | APICBASE_X2APIC);
}

static bool
hw_enabled(const struct vlapic *vl)
{
	return (vl->apicbase & APICBASE_ENABLED) != 0;
}

static bool
sw_enabled(const struct vlapic *vl)
{
	return (vl->svr & SVR_ENABLE) != 0;
}

bool
vlapic_enabled(const struct vlapic *vl)
{
	return hw_enabled(vl) && sw_enabled(vl);
}

uint64_t
vlapic_get_apicbase(const struct vlapic *vl)
{
	return vl->apicbase;
}

/* Highest set bit of a 256-bit bank, or -1. */
static int
bank_highest(const uint32_t *bank)
{
	for (int i = 7; i >= 0; i--)
		if (bank[i] != 0)
			return i * 32 + 31 - __builtin_clz(bank[i]);
	return -1;
}

static bool
bank_test(const uint32_t *bank, int v)
{
	return (bank[v / 32] >> (v % 32)) & 1;
}

static void
bank_set(uint32_t *bank, int v, bool on)
{
	if (on)
		bank[v / 32] |= 1u << (v % 32);
	else
		bank[v / 32] &= ~(1u << (v % 32));
}

/* PPR from TPR and the highest in-service vector (SDM 11.8.3.1). */
static void
update_ppr(struct vlapic *vl)
{
	int isrv = bank_highest(vl->isr);
	uint32_t isr_class = isrv < 0 ? 0 : ((uint32_t)isrv & 0xf0);

	if ((vl->tpr & 0xf0) >= isr_class)
		vl->ppr = vl->tpr & 0xff;
	else
		vl->ppr = isr_class;
}

int
vlapic_pending_intr(struct vlapic *vl)
{
	int v;

	if (!hw_enabled(vl))
		return -1;
	v = bank_highest(vl->irr);
	/* Deliverable only above the processor-priority class (SDM 11.8.3). */
	if (v < 0 || ((uint32_t)v & 0xf0) <= (vl->ppr & 0xf0))
		return -1;
	return v;
}

/* Tell the vCPU when "an interrupt is deliverable" changes. */
static void
update_pending(struct vlapic *vl)
{
	bool p = vlapic_pending_intr(vl) >= 0;

	if (p != vl->pending) {
		vl->pending = p;
		if (vl->sink.intr_changed != NULL)
			vl->sink.intr_changed(vl->sink.arg, vl->vcpu, p);
	}
}

static void set_irr(struct vlapic *vl, int vector, bool level);

/*
 * Record an error; an unmasked LVT error then raises its vector (SDM
 * 11.5.3).  An illegal error vector only adds "receive illegal vector".
 */
static void
set_error(struct vlapic *vl, uint32_t bits)
{
	uint32_t lvt = vl->lvt[LVT_ERROR];

	vl->esr_pending |= bits;
	if (lvt & LVT_MASKED)
		return;
	if ((lvt & 0xff) < 16)
		vl->esr_pending |= ESR_RECV_ILLEGAL;
	else
		set_irr(vl, lvt & 0xff, false);
}

/* Accept a fixed interrupt into IRR; TMR records its trigger (SDM 11.5.5). */
static void
set_irr(struct vlapic *vl, int vector, bool level)
{
	if (vector < 16) {
		set_error(vl, ESR_RECV_ILLEGAL);
		return;
	}
	/* A software-disabled APIC takes no fixed interrupts (SDM 11.4.7.2). */
	if (!sw_enabled(vl))
		return;
	bank_set(vl->irr, vector, true);
	bank_set(vl->tmr, vector, level);
	update_pending(vl);
}

void
vlapic_accept_intr(struct vlapic *vl, int vector)
{
	if (vector < 16 || vector > 255 || !bank_test(vl->irr, vector))
		return;
	bank_set(vl->irr, vector, false);
	bank_set(vl->isr, vector, true);
	update_ppr(vl);
	update_pending(vl);
}

/* EOI: retire the highest in-service vector (SDM 11.8.5). */
static void
do_eoi(struct vlapic *vl)
{
	int v = bank_highest(vl->isr);

	if (v < 0)
		return;
	bank_set(vl->isr, v, false);
	update_ppr(vl);
	if (bank_test(vl->tmr, v) && vl->sink.eoi_level != NULL)
		vl->sink.eoi_level(vl->sink.arg, vl->vcpu, (uint8_t)v);
	update_pending(vl);
}

static void
cpu_event(struct vlapic *vl, enum vlapic_event ev, uint8_t vector)
{
	if (vl->sink.cpu_event != NULL)
		vl->sink.cpu_event(vl->sink.arg, vl->vcpu, ev, vector);
}

/* Raise the interrupt an LVT entry describes (SDM 11.5.1). */
static void
fire_lvt(struct vlapic *vl, int idx)
{
	uint32_t lvt = vl->lvt[idx];
	uint32_t dm = (idx == LVT_TIMER || idx == LVT_ERROR) ? APIC_DM_FIXED : LVT_DM(lvt);

	if ((lvt & LVT_MASKED) || !hw_enabled(vl))
		return;
	switch (dm) {
	case APIC_DM_FIXED:
		set_irr(vl, lvt & 0xff, (idx == LVT_LINT0 || idx == LVT_LINT1) &&
		    (lvt & LVT_TRIGGER_LEVEL));
		break;
	case APIC_DM_NMI:
		cpu_event(vl, VLAPIC_EV_NMI, 0);
		break;
	case APIC_DM_SMI:
		cpu_event(vl, VLAPIC_EV_SMI, 0);
		break;
	case APIC_DM_INIT:
		cpu_event(vl, VLAPIC_EV_INIT, 0);
		break;
	case APIC_DM_EXTINT:
		cpu_event(vl, VLAPIC_EV_EXTINT, 0);
		break;
	default:
		break;	/* reserved delivery modes deliver nothing */
	}
}

uint8_t
vlapic_get_tpr(const struct vlapic *vl)
{
	return (uint8_t)vl->tpr;
}

void
vlapic_set_tpr(struct vlapic *vl, uint8_t tpr)
{
	vl->tpr = tpr;
	update_ppr(vl);
	update_pending(vl);
}

int
vlapic_fire_lvt(struct vlapic *vl, int idx)
{
	if (idx < 0 || idx >= LVT_COUNT)
		return -EINVAL;
	fire_lvt(vl, idx);
	return 0;
}

void
vlapic_lint(struct vlapic *vl, int pin, bool level)
{
	if (pin < 0 || pin > 1)
		return;
	/* LINT pins are sampled on the asserting edge. */
	if (level)
		fire_lvt(vl, LVT_LINT0 + pin);
}

bool
vlapic_extint_ok(const struct vlapic *vl)
{
	uint32_t lvt = vl->lvt[LVT_LINT0];

	if (!hw_enabled(vl))
		return true;
	return sw_enabled(vl) && !(lvt & LVT_MASKED) && LVT_DM(lvt) == APIC_DM_EXTINT;
}

/* ---- timer (SDM 11.5.4) ---- */

static uint32_t
timer_divisor(uint32_t dcr)
{
	uint32_t v = ((dcr >> 1) & 4) | (dcr & 3);

	return v == 7 ? 1 : 2u << v;
}

/* Timer ticks in @ns with the current divider. */
static uint64_t
ns_to_ticks(const struct vlapic *vl, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * vl->bus_hz /
	    ((unsigned __int128)NS_PER_SEC * timer_divisor(vl->timer_dcr)));
}

/* Time for @ticks, rounded up so the count has reached it by then. */
static uint64_t
ticks_to_ns(const struct vlapic *vl, uint64_t ticks)
{
	unsigned __int128 n = (unsigned __int128)ticks * timer_divisor(vl->timer_dcr) *
	    NS_PER_SEC;

	return (uint64_t)((n + vl->bus_hz - 1) / vl->bus_hz);
}

static uint32_t
timer_mode(const struct vlapic *vl)
{
	uint32_t m = TIMER_MODE(vl->lvt[LVT_TIMER]);

	return m == 3 ? TIMER_ONESHOT : m;	/* 11b is reserved */
}

static void
set_deadline(struct vlapic *vl, uint64_t due)
{
	if (due == vl->timer_due_ns)
		return;
	vl->timer_due_ns = due;
	if (vl->sink.timer_changed != NULL)
		vl->sink.timer_changed(vl->sink.arg, vl->vcpu, due);
}

/* Compute the next expiry from the counting state. */
static void
timer_arm(struct vlapic *vl)
{
	uint64_t due = NO_DEADLINE;

	if (timer_mode(vl) == TIMER_TSC_DEADLINE) {
		uint64_t tsc = vl->clock.tsc(vl->clock.arg), now = now_ns(vl);

		if (vl->tsc_deadline == 0)
			due = NO_DEADLINE;
		else if (vl->tsc_deadline <= tsc)
			due = now;
		else
			due = now + (uint64_t)(((unsigned __int128)(vl->tsc_deadline - tsc) *
			    NS_PER_SEC + vl->clock.tsc_hz - 1) / vl->clock.tsc_hz);
	} else if (vl->timer_icr != 0) {
		due = vl->timer_start_ns + ticks_to_ns(vl, vl->timer_icr);
	}
	set_deadline(vl, due);
}

static uint32_t
timer_ccr(const struct vlapic *vl)
{
	uint64_t t;

	if (timer_mode(vl) == TIMER_TSC_DEADLINE || vl->timer_icr == 0)
		return 0;
	t = ns_to_ticks(vl, now_ns(vl) - vl->timer_start_ns);
	if (timer_mode(vl) == TIMER_PERIODIC)
		return vl->timer_icr - (uint32_t)(t % vl->timer_icr);
	return t >= vl->timer_icr ? 0 : vl->timer_icr - (uint32_t)t;
}

uint32_t
vlapic_timer_ccr(const struct vlapic *vl)
{
	return timer_ccr(vl);
}

uint64_t
vlapic_timer_deadline(const struct vlapic *vl)
{
	return vl->timer_due_ns;
}

void
vlapic_timer_update(struct vlapic *vl)
{
	uint64_t now = now_ns(vl), period;

	if (vl->timer_due_ns == NO_DEADLINE || now < vl->timer_due_ns)
		return;
	/* Expiries missed while the caller slept coalesce into one interrupt. */
	fire_lvt(vl, LVT_TIMER);
	switch (timer_mode(vl)) {
	case TIMER_PERIODIC:
		period = ticks_to_ns(vl, vl->timer_icr);
		vl->timer_start_ns += (now - vl->timer_start_ns) / period * period;
		set_deadline(vl, vl->timer_start_ns + period);
		break;
	case TIMER_TSC_DEADLINE:
		vl->tsc_deadline = 0;	/* SDM 11.5.4.1: the MSR reads 0 once fired */
		set_deadline(vl, NO_DEADLINE);
		break;
	default:
		set_deadline(vl, NO_DEADLINE);
		break;
	}
}

static void
write_timer_lvt(struct vlapic *vl, uint32_t val)
{
	uint32_t old = timer_mode(vl);

	vl->lvt[LVT_TIMER] = val;
	/* Switching to or from TSC-deadline mode disarms the timer (11.5.4.1). */
	if ((old == TIMER_TSC_DEADLINE) != (timer_mode(vl) == TIMER_TSC_DEADLINE)) {
		vl->timer_icr = 0;
		vl->tsc_deadline = 0;
	}
	timer_arm(vl);
}

static void
write_timer_icr(struct vlapic *vl, uint32_t val)
{
	/* Ignored in TSC-deadline mode (SDM 11.5.4.1). */
	if (timer_mode(vl) == TIMER_TSC_DEADLINE)
		return;
	vl->timer_icr = val;
	vl->timer_start_ns = now_ns(vl);
	timer_arm(vl);
}

static void
write_timer_dcr(struct vlapic *vl, uint32_t val)
{
	uint32_t ccr = timer_ccr(vl);
	uint64_t now = now_ns(vl);

	vl->timer_dcr = val & DCR_WMASK;
	/* The count goes on from where it is, at the new rate. */
	if (vl->timer_icr != 0 && timer_mode(vl) != TIMER_TSC_DEADLINE) {
		vl->timer_start_ns = now - ticks_to_ns(vl, vl->timer_icr - ccr);
		if (vl->timer_due_ns != NO_DEADLINE)
			timer_arm(vl);
	}
}

/* ---- IPIs and destinations (SDM 11.6) ---- */

bool
vlapic_match_dest(const struct vlapic *vl, uint32_t dest, bool logical)
{
	if (!hw_enabled(vl))
		return false;
	if (vlapic_x2apic(vl)) {
		if (dest == 0xffffffff)
			return true;
		if (!logical)
			return dest == vl->id;
		/* x2APIC logical: cluster in 31:16, bitmap in 15:0 (SDM 11.12.10.2) */
		return (dest >> 16) == (vl->ldr >> 16) && (dest & vl->ldr & 0xffff) != 0;
	}
	dest &= 0xff;
	if (dest == 0xff)
		return true;
	if (!logical)
		return dest == vl->id >> 24;
	uint32_t ldr = vl->ldr >> 24;
	switch (vl->dfr >> 28) {
	case 0xf:	/* flat (SDM 11.6.2.2) */
		return (dest & ldr) != 0;
	case 0x0:	/* cluster: 4-bit cluster, 4-bit member mask */
		return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf) != 0;
	default:
		return false;
	}
}

void
vlapic_deliver(struct vlapic *vl, const struct vlapic_msg *msg)
{
	switch (msg->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWPRI:
		if (hw_enabled(vl))
			set_irr(vl, msg->vector, msg->level);
		break;
	case APIC_DM_NMI:
		cpu_event(vl, VLAPIC_EV_NMI, 0);
		break;
	case APIC_DM_INIT:
		/* INIT level de-assert does nothing on P4 and later (SDM 11.6.1). */
		if (msg->assert || !msg->level)
			cpu_event(vl, VLAPIC_EV_INIT, 0);
		break;
	case APIC_DM_SIPI:
		cpu_event(vl, VLAPIC_EV_SIPI, msg->vector);
		break;
	case APIC_DM_SMI:
		cpu_event(vl, VLAPIC_EV_SMI, 0);
		break;
	case APIC_DM_EXTINT:
		cpu_event(vl, VLAPIC_EV_EXTINT_MSG, 0);
		break;
	default:
		break;
	}
}

int
vlapic_route(struct vlapic *const *vls, int n, const struct vlapic_msg *msg)
{
	struct vlapic *best = NULL;
	int count = 0;

	for (int i = 0; i < n; i++) {
		struct vlapic *vl = vls[i];
		bool hit;

		switch (msg->shorthand) {
		case APIC_DEST_SELF:
			hit = vl->vcpu == msg->src;
			break;
		case APIC_DEST_ALL:
			hit = true;
			break;
		case APIC_DEST_OTHERS:
			hit = vl->vcpu != msg->src;
			break;
		default:
			hit = vlapic_match_dest(vl, msg->dest, msg->logical);
			break;
		}
		if (!hit)
			continue;
		/*
		 * Lowest priority: one target, the lowest TPR (a simplified
		 * arbitration priority, SDM 11.6.2.4); ties go to the first.
		 */
		if (msg->mode == APIC_DM_LOWPRI) {
			if (best == NULL || (vl->tpr & 0xf0) < (best->tpr & 0xf0))
				best = vl;
			continue;
		}
		vlapic_deliver(vl, msg);
		count++;
	}
	if (best != NULL) {
		vlapic_deliver(best, msg);
		count++;
	}
	return count;
}

static void
send_ipi(struct vlapic *vl)
{
	uint32_t lo = vl->icr_lo;
	struct vlapic_msg m = {
		.vector = lo & 0xff,
		.mode = LVT_DM(lo),
		.logical = (lo & 0x800) != 0,
		.assert = (lo & 0x4000) != 0,
		.level = (lo & 0x8000) != 0,
		.shorthand = (lo >> 18) & 3,
		.src = vl->vcpu,
		.dest = vlapic_x2apic(vl) ? vl->icr_hi : vl->icr_hi >> 24,
	};

	if ((m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWPRI) && m.vector < 16) {
		set_error(vl, ESR_SEND_ILLEGAL);
		return;
	}
	if (m.mode == 3)
		return;		/* reserved */
	/* The self shorthand carries fixed interrupts only (SDM 11.6.1). */
	if (m.shorthand == APIC_DEST_SELF) {
		if (m.mode == APIC_DM_FIXED)
			vlapic_deliver(vl, &m);
		return;
	}
	if (vl->sink.send_ipi != NULL)
		vl->sink.send_ipi(vl->sink.arg, vl->vcpu, &m);
}

/* ---- registers ---- */

static void
write_svr(struct vlapic *vl, uint32_t val)
{
	vl->svr = val & SVR_WMASK;
	/* Software disable masks every LVT (SDM 11.4.7.2). */
	if (!sw_enabled(vl))
		for (int i = 0; i < LVT_COUNT; i++)
			vl->lvt[i] |= LVT_MASKED;
	update_pending(vl);
}

static void
write_lvt(struct vlapic *vl, int idx, uint32_t val)
{
	val = (val & lvt_wmask[idx]) | (vl->lvt[idx] & LVT_RO_BITS);
	/* While software-disabled the mask bits cannot be cleared. */
	if (!sw_enabled(vl))
		val |= LVT_MASKED;
	if (idx == LVT_TIMER)
		write_timer_lvt(vl, val);
	else
		vl->lvt[idx] = val;
}

static int
lvt_index(uint32_t off)
{
	switch (off) {
	case APIC_OFF_TIMER_LVT: return LVT_TIMER;
	case APIC_OFF_THERM_LVT: return LVT_THERMAL;
	case APIC_OFF_PERF_LVT: return LVT_PERF;
	case APIC_OFF_LINT0_LVT: return LVT_LINT0;
	case APIC_OFF_LINT1_LVT: return LVT_LINT1;
	case APIC_OFF_ERROR_LVT: return LVT_ERROR;
	default: return -1;
	}
}

/* Read a 32-bit register at a 16-byte-aligned offset; -ENOENT: reserved. */
static int
reg_read(struct vlapic *vl, uint32_t off, uint32_t *val)
{
	int i;

	if (off >= APIC_OFF_ISR0 && off < APIC_OFF_ISR0 + 0x80) {
		*val = vl->isr[(off - APIC_OFF_ISR0) >> 4];
		return 0;
	}
	if (off >= APIC_OFF_TMR0 && off < APIC_OFF_TMR0 + 0x80) {
		*val = vl->tmr[(off - APIC_OFF_TMR0) >> 4];
		return 0;
	}
	if (off >= APIC_OFF_IRR0 && off < APIC_OFF_IRR0 + 0x80) {
		*val = vl->irr[(off - APIC_OFF_IRR0) >> 4];
		return 0;
	}
	if ((i = lvt_index(off)) >= 0) {
		*val = vl->lvt[i];
		return 0;
	}
	switch (off) {
	case APIC_OFF_ID: *val = vl->id; break;
	case APIC_OFF_VER: *val = VLAPIC_VERSION; break;
	case APIC_OFF_TPR: *val = vl->tpr; break;
	case APIC_OFF_APR: *val = 0; break;
	case APIC_OFF_PPR: *val = vl->ppr; break;
	case APIC_OFF_EOI: *val = 0; break;
	case APIC_OFF_RRD: *val = 0; break;
	case APIC_OFF_LDR: *val = vl->ldr; break;
	case APIC_OFF_DFR: *val = vl->dfr; break;
	case APIC_OFF_SVR: *val = vl->svr; break;
	case APIC_OFF_ESR: *val = vl->esr; break;
	case APIC_OFF_ICR_LOW: *val = vl->icr_lo; break;
	case APIC_OFF_ICR_HI: *val = vl->icr_hi; break;
	case APIC_OFF_TIMER_ICR: *val = vl->timer_icr; break;
	case APIC_OFF_TIMER_CCR: *val = timer_ccr(vl); break;
	case APIC_OFF_TIMER_DCR: *val = vl->timer_dcr; break;
	default: return -ENOENT;
	}
	return 0;
}

/* Write a 32-bit register (xAPIC semantics); -ENOENT: reserved or RO. */
static int
reg_write(struct vlapic *vl, uint32_t off, uint32_t val)
{
	int i;

	if ((i = lvt_index(off)) >= 0) {
		write_lvt(vl, i, val);
		return 0;
	}
	switch (off) {
	case APIC_OFF_ID:
		/* Kept read-only, as bhyve: the machine map routes by it. */
		break;
	case APIC_OFF_TPR:
		vl->tpr = val & 0xff;
		update_ppr(vl);
		update_pending(vl);
		break;
	case APIC_OFF_EOI:
		do_eoi(vl);
		break;
	case APIC_OFF_LDR:
		vl->ldr = val & LDR_WMASK;
		break;
	case APIC_OFF_DFR:
		vl->dfr = (val & DFR_WMASK) | ~DFR_WMASK;	/* 27:0 read as 1s */
		break;
	case APIC_OFF_SVR:
		write_svr(vl, val);
		break;
	case APIC_OFF_ESR:
		/* A write latches the errors seen since the last one (SDM 11.5.3). */
		vl->esr = vl->esr_pending;
		vl->esr_pending = 0;
		break;
	case APIC_OFF_ICR_LOW:
		vl->icr_lo = val & ICR_LO_WMASK;
		send_ipi(vl);
		break;
	case APIC_OFF_ICR_HI:
		vl->icr_hi = val & 0xff000000;
		break;
	case APIC_OFF_TIMER_ICR:
		write_timer_icr(vl, val);
		break;
	case APIC_OFF_TIMER_DCR:
		write_timer_dcr(vl, val);
		break;
	case APIC_OFF_VER: case APIC_OFF_APR: case APIC_OFF_PPR: case APIC_OFF_RRD:
	case APIC_OFF_TIMER_CCR:
		break;	/* read-only */
	default:
		if (off >= APIC_OFF_ISR0 && off < APIC_OFF_IRR0 + 0x80)
			break;	/* ISR, TMR, IRR: read-only */
		return -ENOENT;
	}
	return 0;
}

int
vlapic_mmio_read(struct vlapic *vl, uint32_t off, int size, uint64_t *val)
{
	uint32_t v;

	if (!hw_enabled(vl) || vlapic_x2apic(vl) || off >= 4096)
		return -ENOENT;
	*val = 0;
	/*
	 * Registers are 32 bits at 16-byte alignment (SDM 11.4.1); other
	 * bytes read as 0.  A reserved register sets "illegal register address".
	 */
	if ((off & 0xf) >= 4)
		return 0;
	if (reg_read(vl, off & ~0xfu, &v) < 0) {
		set_error(vl, ESR_ILLEGAL_REG);
		return 0;
	}
	v >>= (off & 3) * 8;
	if (size < 4)
		v &= (1u << (size * 8)) - 1;
	*val = v;
	return 0;
}

int
vlapic_mmio_write(struct vlapic *vl, uint32_t off, int size, uint64_t val)
{
	if (!hw_enabled(vl) || vlapic_x2apic(vl) || off >= 4096)
		return -ENOENT;
	/* Only aligned 32-bit writes are defined (SDM 11.4.1); others are dropped. */
	if ((off & 0xf) != 0 || size < 4)
		return 0;
	if (reg_write(vl, off, (uint32_t)val) < 0)
		set_error(vl, ESR_ILLEGAL_REG);
	return 0;
}

/* ---- x2APIC MSRs (SDM 11.12.1) ---- */

int
vlapic_rdmsr(struct vlapic *vl, uint32_t msr, uint64_t *val)
{
	uint32_t off, v;

	if (msr == MSR_APICBASE) {
		*val = vl->apicbase;
		return 0;
	}
	if (msr == MSR_TSC_DEADLINE) {
		*val = timer_mode(vl) == TIMER_TSC_DEADLINE ? vl->tsc_deadline : 0;
		return 0;
	}
	if (msr < MSR_X2APIC_BASE || msr > MSR_X2APIC_LAST || !vlapic_x2apic(vl))
		return -EINVAL;
	off = (msr - MSR_X2APIC_BASE) << 4;
	switch (off) {
	case APIC_OFF_ICR_LOW:
		*val = (uint64_t)vl->icr_hi << 32 | vl->icr_lo;
		return 0;
	/* Not in x2APIC mode, or write-only (Table 11-6). */
	case APIC_OFF_APR: case APIC_OFF_RRD: case APIC_OFF_DFR: case APIC_OFF_EOI:
	case APIC_OFF_ICR_HI: case APIC_OFF_SELF_IPI:
		return -EINVAL;
	}
	if (reg_read(vl, off, &v) < 0)
		return -EINVAL;
	*val = v;
	return 0;
}

int
vlapic_wrmsr(struct vlapic *vl, uint32_t msr, uint64_t val)
{
	uint32_t off;
	int i;

	if (msr == MSR_APICBASE)
		return vlapic_set_apicbase(vl, val);
	if (msr == MSR_TSC_DEADLINE) {
		/* Writes outside TSC-deadline mode are ignored (SDM 11.5.4.1). */
		if (timer_mode(vl) == TIMER_TSC_DEADLINE) {
			vl->tsc_deadline = val;
			timer_arm(vl);
		}
		return 0;
	}
	if (msr < MSR_X2APIC_BASE || msr > MSR_X2APIC_LAST || !vlapic_x2apic(vl))
		return -EINVAL;
	off = (msr - MSR_X2APIC_BASE) << 4;
	/* Reserved bits set in an x2APIC register write raise #GP. */
	if ((i = lvt_index(off)) >= 0) {
		if (val & ~(uint64_t)(lvt_wmask[i] | LVT_RO_BITS))
			return -EINVAL;
		write_lvt(vl, i, (uint32_t)val);
		return 0;
	}
	switch (off) {
	case APIC_OFF_TPR:
		if (val > 0xff)
			return -EINVAL;
		break;
	case APIC_OFF_EOI:
	case APIC_OFF_ESR:
		if (val != 0)
			return -EINVAL;
		break;
	case APIC_OFF_SVR:
		if (val & ~(uint64_t)SVR_WMASK)
			return -EINVAL;
		break;
	case APIC_OFF_TIMER_ICR:
		if (val > 0xffffffffu)
			return -EINVAL;
		break;
	case APIC_OFF_TIMER_DCR:
		if (val & ~(uint64_t)DCR_WMASK)
			return -EINVAL;
		break;
	case APIC_OFF_ICR_LOW:
		/* One 64-bit register: destination in 63:32 (SDM 11.12.9). */
		if (val & ~(((uint64_t)0xffffffff << 32) | ICR_LO_WMASK | ICR_LO_RO))
			return -EINVAL;
		vl->icr_hi = (uint32_t)(val >> 32);
		vl->icr_lo = (uint32_t)val & ICR_LO_WMASK;
		send_ipi(vl);
		return 0;
	case APIC_OFF_SELF_IPI:
		/* SELF IPI: a fixed, edge interrupt to this APIC (SDM 11.12.11). */
		if (val > 0xff)
			return -EINVAL;
		set_irr(vl, (int)val, false);
		return 0;
	default:
		/* ID, LDR (derived), VER, PPR, banks, CCR: read-only; DFR etc.: absent. */
		return -EINVAL;
	}
	return reg_write(vl, off, (uint32_t)val) < 0 ? -EINVAL : 0;
}

/* ---- reset and APIC_BASE ---- */

static void
reset_regs(struct vlapic *vl)
{
	vl->id = vl->apic_id << 24;
	vl->tpr = vl->ppr = vl->ldr = vl->esr = vl->esr_pending = 0;
	vl->dfr = 0xffffffff;
	vl->svr = 0xff;
	memset(vl->isr, 0, sizeof(vl->isr));
	memset(vl->tmr, 0, sizeof(vl->tmr));
	memset(vl->irr, 0, sizeof(vl->irr));
	vl->icr_lo = vl->icr_hi = 0;
	for (int i = 0; i < LVT_COUNT; i++)
		vl->lvt[i] = LVT_MASKED;
	vl->timer_icr = vl->timer_dcr = 0;
	vl->tsc_deadline = 0;
	vl->timer_start_ns = 0;
	set_deadline(vl, NO_DEADLINE);
	update_pending(vl);
}

void
vlapic_reset(struct vlapic *vl)
{
	/* RESET: enabled, xAPIC, default base (SDM 11.4.4, 11.4.7.1). */
	vl->apicbase = APICBASE_DEFAULT | APICBASE_ENABLED | (vl->apicbase & APICBASE_BSP);
	reset_regs(vl);
}

void
vlapic_init(struct vlapic *vl, int vcpu, uint32_t apic_id, bool bsp,
    const struct vlapic_clock *clock, const struct vlapic_sink *sink)
{
	memset(vl, 0, sizeof(*vl));
	vl->vcpu = vcpu;
	vl->apic_id = apic_id;
	vl->clock = *clock;
	vl->sink = *sink;
	vl->bus_hz = VLAPIC_BUS_HZ;
	vl->timer_due_ns = NO_DEADLINE;
	vl->apicbase = bsp ? APICBASE_BSP : 0;
	vlapic_reset(vl);
}

static uint32_t
x2apic_ldr(uint32_t id)
{
	/* Cluster id[31:4] in 31:16, one bit for id[3:0] (SDM 11.12.10.2). */
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

int
vlapic_set_apicbase(struct vlapic *vl, uint64_t val)
{
	uint64_t old = vl->apicbase;
	bool en = val & APICBASE_ENABLED, x2 = val & APICBASE_X2APIC;
	bool was_en = old & APICBASE_ENABLED, was_x2 = old & APICBASE_X2APIC;

	if (val & APICBASE_RESERVED)
		return -EINVAL;
	/* Illegal states and transitions (SDM 11.12.5, Figure 11-28). */
	if (x2 && !en)
		return -EINVAL;
	if (was_en && was_x2 && en && !x2)
		return -EINVAL;		/* x2APIC -> xAPIC */
	if (!was_en && en && x2)
		return -EINVAL;		/* disabled -> x2APIC */
	vl->apicbase = (val & ~(uint64_t)APICBASE_BSP) | (old & APICBASE_BSP);
	if (!en && was_en) {
		/* Global disable: the APIC returns to its reset state (11.4.3). */
		reset_regs(vl);
	} else if (en && x2 && !was_x2) {
		vl->id = vl->apic_id;
		vl->ldr = x2apic_ldr(vl->apic_id);
	}
	update_pending(vl);
	return 0;
}

/* ---- snapshot ---- */

#define SNAP_MAGIC	0x50414c56u	/* "VLAP" */
#define SNAP_VERSION	1

struct cur {
	uint8_t		*w;
	const uint8_t	*r;
	size_t		off;
};

static void
put32(struct cur *c, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c->w[c->off++] = (uint8_t)(v >> (8 * i));
}

static void
put64(struct cur *c, uint64_t v)
{
	put32(c, (uint32_t)v);
	put32(c, (uint32_t)(v >> 32));
}

static uint32_t
get32(struct cur *c)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)c->r[c->off++] << (8 * i);
	return v;
}

static uint64_t
get64(struct cur *c)
{
	uint64_t lo = get32(c);

	return lo | (uint64_t)get32(c) << 32;
}

ssize_t
vlapic_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vlapic *vl = arg;
	struct cur c = { .w = buf };
	uint64_t now;

	if (cap < VLAPIC_SNAP_SIZE)
		return VLAPIC_SNAP_SIZE;
	now = now_ns(vl);
	put32(&c, SNAP_MAGIC);
	put32(&c, SNAP_VERSION);
	put32(&c, vl->apic_id);
	put64(&c, vl->apicbase);
	put32(&c, vl->id);
	put32(&c, vl->tpr);
	put32(&c, vl->ldr);
	put32(&c, vl->dfr);
	put32(&c, vl->svr);
	put32(&c, vl->esr);
	put32(&c, vl->esr_pending);
	for (int i = 0; i < 8; i++)
		put32(&c, vl->isr[i]);
	for (int i = 0; i < 8; i++)
		put32(&c, vl->tmr[i]);
	for (int i = 0; i < 8; i++)
		put32(&c, vl->irr[i]);
	put32(&c, vl->icr_lo);
	put32(&c, vl->icr_hi);
	for (int i = 0; i < LVT_COUNT; i++)
		put32(&c, vl->lvt[i]);
	put32(&c, vl->timer_icr);
	put32(&c, vl->timer_dcr);
	put64(&c, vl->tsc_deadline);
	/* Timer as times relative to now: the clock does not survive a restart. */
	put64(&c, now - vl->timer_start_ns);
	put64(&c, vl->timer_due_ns == NO_DEADLINE ? NO_DEADLINE :
	    vl->timer_due_ns > now ? vl->timer_due_ns - now : 0);
	return (ssize_t)c.off;
}

int
vlapic_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vlapic *vl = arg, n;
	struct cur c = { .r = data };
	uint64_t elapsed, due_rel, now;
	bool bad = false;

	if (len != VLAPIC_SNAP_SIZE)
		return -EINVAL;
	if (get32(&c) != SNAP_MAGIC || get32(&c) != SNAP_VERSION)
		return -EINVAL;
	n = *vl;
	if (get32(&c) != vl->apic_id)
		return -EINVAL;		/* another vCPU's LAPIC */
	n.apicbase = get64(&c);
	n.id = get32(&c);
	n.tpr = get32(&c);
	n.ldr = get32(&c);
	n.dfr = get32(&c);
	n.svr = get32(&c);
	n.esr = get32(&c);
	n.esr_pending = get32(&c);
	for (int i = 0; i < 8; i++)
		n.isr[i] = get32(&c);
	for (int i = 0; i < 8; i++)
		n.tmr[i] = get32(&c);
	for (int i = 0; i < 8; i++)
		n.irr[i] = get32(&c);
	n.icr_lo = get32(&c);
	n.icr_hi = get32(&c);
	for (int i = 0; i < LVT_COUNT; i++) {
		n.lvt[i] = get32(&c);
		bad |= (n.lvt[i] & ~(lvt_wmask[i] | LVT_RO_BITS)) != 0;
	}
	n.timer_icr = get32(&c);
	n.timer_dcr = get32(&c);
	n.tsc_deadline = get64(&c);
	elapsed = get64(&c);
	due_rel = get64(&c);

	bad |= (n.apicbase & APICBASE_RESERVED) != 0;
	bad |= (n.apicbase & (APICBASE_X2APIC | APICBASE_ENABLED)) == APICBASE_X2APIC;
	bad |= (n.apicbase & APICBASE_BSP) != (vl->apicbase & APICBASE_BSP);
	if (vlapic_x2apic(&n))
		bad |= n.id != n.apic_id || n.ldr != x2apic_ldr(n.apic_id);
	else
		bad |= n.id != n.apic_id << 24 || (n.ldr & ~LDR_WMASK) != 0 ||
		    (n.dfr | DFR_WMASK) != 0xffffffff;
	bad |= n.tpr > 0xff || (n.svr & ~SVR_WMASK) != 0 || (n.timer_dcr & ~DCR_WMASK) != 0;
	bad |= (n.esr | n.esr_pending) & ~(uint32_t)(ESR_SEND_ILLEGAL | ESR_RECV_ILLEGAL |
	    ESR_ILLEGAL_REG);
	/* Vectors 0-15 never reach IRR or ISR. */
	bad |= (n.isr[0] & 0xffff) != 0 || (n.irr[0] & 0xffff) != 0 || (n.tmr[0] & 0xffff) != 0;
	bad |= (n.icr_lo & ~ICR_LO_WMASK) != 0;
	if (!vlapic_x2apic(&n))
		bad |= (n.icr_hi & 0x00ffffff) != 0;
	bad |= elapsed > (1ull << 62) || (due_rel != NO_DEADLINE && due_rel > (1ull << 62));
	if (bad)
		return -EINVAL;

	now = now_ns(vl);
	n.timer_start_ns = now - elapsed;
	n.timer_due_ns = vl->timer_due_ns;	/* set_deadline notifies the change */
	update_ppr(&n);
	*vl = n;
	set_deadline(vl, due_rel == NO_DEADLINE ? NO_DEADLINE : now + due_rel);
	update_pending(vl);
	return 0;
}
