/*
 * kvm_lapic.c - KVM's in-kernel local APIC (api.rst 4.57 KVM_GET_LAPIC,
 * 4.58 KVM_SET_LAPIC: struct kvm_lapic_state, the 1 KiB register page at
 * the offsets of SDM Vol. 3A table 11-1) to and from the store's LAPIC
 * section, which is the software CPU's (vmm/io/vlapic.c
 * vlapic_snapshot_save, docs/store.md), so a state saved on either backend
 * restores on the other.  A pure conversion: no ioctls (kvm_vcpu.c makes
 * them), unit-tested without /dev/kvm (tests/unit/test_kvm_lapic.c).
 *
 * The timer.  The section keeps it as times: ns since the count was loaded
 * and ns until it is due (all ones: not armed).  KVM's page keeps counts:
 * initial (380H), current (390H, filled in by KVM_GET_LAPIC) and the
 * divide configuration (3E0H), on KVM's 1 GHz APIC bus (1 ns a tick);
 * KVM_SET_LAPIC starts the timer from the current count, at most the
 * initial count (Linux's kvm_apic_set_state, __start_apic_timer with
 * APIC_TMCCT).  The TSC-deadline mode keeps IA32_TSC_DEADLINE (6E0H), an
 * MSR, not a register of the page.
 */
#include <errno.h>
#include <string.h>

#include "kvm.h"
#include "vmm_store.h"

/* Register offsets (SDM Vol. 3A table 11-1). */
#define R_ID		0x020
#define R_VER		0x030
#define R_TPR		0x080
#define R_LDR		0x0d0
#define R_DFR		0x0e0
#define R_SVR		0x0f0
#define R_ISR		0x100
#define R_TMR		0x180
#define R_IRR		0x200
#define R_ESR		0x280
#define R_CMCI		0x2f0
#define R_ICR_LO	0x300
#define R_ICR_HI	0x310
#define R_LVT		0x320	/* timer, thermal, perf, LINT0, LINT1, error: 10H apart */
#define R_TIMER_ICR	0x380
#define R_TIMER_CCR	0x390
#define R_TIMER_DCR	0x3e0

/* The section: vmm/io/vlapic.c's snapshot, version 1 (docs/store.md). */
#define SEC_MAGIC	0x50414c56u	/* "VLAP" */
#define SEC_VERSION	1
#define NO_DEADLINE	UINT64_MAX

#define LVT_MASKED	0x00010000u
#define ICR_LO_BUSY	0x00001000u	/* delivery status: KVM's own, read only */
#define APICBASE_BSP	0x100ull
#define APICBASE_X2APIC	0x400ull
#define APICBASE_EN	0x800ull
#define APICBASE_OK	(0x000ffffffffff000ull | APICBASE_X2APIC | APICBASE_EN | APICBASE_BSP)
#define TIMER_MODE(lvt)	(((lvt) >> 17) & 3)	/* 0 one-shot, 1 periodic, 2 TSC-deadline */

static uint32_t
reg(const struct kvm_lapic_state *p, int off)
{
	uint32_t v;

	memcpy(&v, &p->regs[off], sizeof(v));
	return v;
}

static void
set_reg(struct kvm_lapic_state *p, int off, uint32_t v)
{
	memcpy(&p->regs[off], &v, sizeof(v));
}

static uint8_t *
put32(uint8_t *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*w++ = (uint8_t)(v >> (8 * i));
	return w;
}

static uint8_t *
put64(uint8_t *w, uint64_t v)
{
	return put32(put32(w, (uint32_t)v), (uint32_t)(v >> 32));
}

static uint32_t
get32(const uint8_t **r)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)*(*r)++ << (8 * i);
	return v;
}

static uint64_t
get64(const uint8_t **r)
{
	uint64_t lo = get32(r);

	return lo | (uint64_t)get32(r) << 32;
}

/* Divide configuration to divisor (SDM Vol. 3A 11.5.4, figure 11-10). */
static uint64_t
divisor(uint32_t dcr)
{
	uint32_t v = ((dcr >> 1) & 4) | (dcr & 3);

	return v == 7 ? 1 : 2u << v;
}

static bool
x2apic_mode(uint64_t apic_base)
{
	return (apic_base & (APICBASE_X2APIC | APICBASE_EN)) == (APICBASE_X2APIC | APICBASE_EN);
}

/* TSC ticks to ns, rounded up (the timer is due once that many have passed). */
static uint64_t
tsc_to_ns(uint64_t ticks, uint32_t khz)
{
	return (uint64_t)(((unsigned __int128)ticks * 1000000 + khz - 1) / khz);
}

ssize_t
kvm_lapic_to_section(const struct kvm_lapic_image *k, uint8_t *buf, size_t cap, int vcpu)
{
	const struct kvm_lapic_state *p = &k->regs;
	uint32_t id = reg(p, R_ID), lvtt = reg(p, R_LVT), icr = reg(p, R_TIMER_ICR);
	uint32_t ccr = reg(p, R_TIMER_CCR), dcr = reg(p, R_TIMER_DCR) & 0xb;
	uint64_t elapsed = 0, due = NO_DEADLINE;
	uint8_t *w = buf;
	int i;

	if (cap < KVM_LAPIC_SECTION_SIZE)
		return KVM_LAPIC_SECTION_SIZE;
	/*
	 * LVT CMCI (2F0H), which the section has no room for: only when the
	 * version register counts it (max LVT, bits 23:16, SDM 11.4.8) and
	 * it is not as after RESET (masked, vector 0).
	 */
	if (((reg(p, R_VER) >> 16) & 0xff) >= 6 &&
	    (reg(p, R_CMCI) & 0x1ffff & ~LVT_MASKED) != 0)
		return vmm_store_fail(ENOTSUP, "vCPU %d: the local APIC's LVT CMCI (%#x) cannot "
		    "be kept in the state file", vcpu, reg(p, R_CMCI));
	/*
	 * The ID register: xAPIC format (ID in 31:24) unless KVM gives the
	 * x2APIC one in x2APIC mode (api.rst 7.x KVM_CAP_X2APIC_API,
	 * KVM_X2APIC_API_USE_32BIT_IDS); the section has the mode's own.
	 */
	if (x2apic_mode(k->apic_base) && !k->x2apic_format)
		id >>= 24;

	switch (TIMER_MODE(lvtt)) {
	case 2:
		/* TSC-deadline (SDM 11.5.4.1): 0 disarmed; KVM clears it when it fires. */
		if (k->tsc_deadline != 0)
			due = k->tsc_deadline <= k->tsc ? 0 :
			    tsc_to_ns(k->tsc_deadline - k->tsc, k->tsc_khz);
		break;
	default:
		if (icr == 0)
			break;
		if (ccr != 0) {
			/* 1 ns a tick on KVM's APIC bus. */
			elapsed = (uint64_t)(icr - (ccr < icr ? ccr : icr)) * divisor(dcr);
			due = (uint64_t)ccr * divisor(dcr);
		} else if (k->oneshot_due || TIMER_MODE(lvtt) == 1) {
			/*
			 * Due now: a one-shot count that ran out after the save's
			 * cut, its interrupt still to come; or a periodic count
			 * read at its reload, KVM's timer expired and not yet
			 * restarted, which never stays run out.
			 */
			elapsed = (uint64_t)icr * divisor(dcr);
			due = 0;
		} else {
			/* A one-shot count that has run out: loaded long ago, on any bus. */
			elapsed = 1ull << 62;
		}
		break;
	}

	w = put32(w, SEC_MAGIC);
	w = put32(w, SEC_VERSION);
	w = put32(w, k->apic_id);
	w = put64(w, k->apic_base);
	w = put32(w, id);
	w = put32(w, reg(p, R_TPR) & 0xff);
	w = put32(w, reg(p, R_LDR));
	w = put32(w, reg(p, R_DFR));
	w = put32(w, reg(p, R_SVR));
	w = put32(w, reg(p, R_ESR));
	w = put32(w, 0);		/* pending ESR bits: KVM latches none */
	for (i = 0; i < 8; i++)
		w = put32(w, reg(p, R_ISR + 0x10 * i));
	for (i = 0; i < 8; i++)
		w = put32(w, reg(p, R_TMR + 0x10 * i));
	for (i = 0; i < 8; i++)
		w = put32(w, reg(p, R_IRR + 0x10 * i));
	w = put32(w, reg(p, R_ICR_LO) & ~ICR_LO_BUSY);
	w = put32(w, reg(p, R_ICR_HI));
	for (i = 0; i < 6; i++)
		w = put32(w, reg(p, R_LVT + 0x10 * i));
	w = put32(w, icr);
	w = put32(w, dcr);
	w = put64(w, k->tsc_deadline);
	w = put64(w, elapsed);
	w = put64(w, due);
	return (ssize_t)(w - buf);
}

int
kvm_lapic_from_section(struct kvm_lapic_image *k, const uint8_t *data, size_t len, int vcpu)
{
	struct kvm_lapic_state *p = &k->regs;
	const uint8_t *r = data;
	uint32_t id, tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi, lvt[6];
	uint32_t bank[3][8], icr, dcr, ccr = 0;
	uint64_t apic_base, deadline, elapsed, due, n;
	int i, j;

	if (len != KVM_LAPIC_SECTION_SIZE)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section of %zu bytes, not %d",
		    vcpu, len, KVM_LAPIC_SECTION_SIZE);
	if (get32(&r) != SEC_MAGIC || get32(&r) != SEC_VERSION)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section: not a version %d "
		    "local APIC", vcpu, SEC_VERSION);
	if ((id = get32(&r)) != k->apic_id)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section of APIC ID %u, not %u",
		    vcpu, id, k->apic_id);
	apic_base = get64(&r);
	id = get32(&r);
	tpr = get32(&r);
	ldr = get32(&r);
	dfr = get32(&r);
	svr = get32(&r);
	esr = get32(&r);
	esr_pending = get32(&r);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 8; j++)
			bank[i][j] = get32(&r);		/* ISR, TMR, IRR */
	icr_lo = get32(&r);
	icr_hi = get32(&r);
	for (i = 0; i < 6; i++)
		lvt[i] = get32(&r);
	icr = get32(&r);
	dcr = get32(&r);
	deadline = get64(&r);
	elapsed = get64(&r);
	due = get64(&r);
	(void)elapsed;		/* KVM restarts the count from the current count */

	if ((apic_base & ~APICBASE_OK) != 0 ||
	    (apic_base & (APICBASE_X2APIC | APICBASE_EN)) == APICBASE_X2APIC)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section: APIC_BASE %#llx is not "
		    "valid (SDM Vol. 3A 11.12.1)", vcpu, (unsigned long long)apic_base);
	if (x2apic_mode(apic_base) ? id != k->apic_id : id != k->apic_id << 24)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section: ID register %#x for "
		    "APIC ID %u", vcpu, id, k->apic_id);
	if (tpr > 0xff || (dcr & ~0xbu) != 0 || (bank[0][0] | bank[1][0] | bank[2][0]) & 0xffff)
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section: TPR, divide "
		    "configuration or vectors 0-15 out of range", vcpu);
	/* KVM's ESR latches nothing: errors not yet moved into ESR have nowhere to go. */
	if (esr_pending != 0)
		return vmm_store_fail(ENOTSUP, "vCPU %d: the local APIC's pending error status "
		    "%#x cannot be carried to KVM (its ESR latches none)", vcpu, esr_pending);
	if (due != NO_DEADLINE && due > (1ull << 62))
		return vmm_store_fail(EINVAL, "vCPU %d: LAPIC section: timer due in %llu ns",
		    vcpu, (unsigned long long)due);

	k->apic_base = apic_base;
	k->tsc_deadline = 0;
	if (x2apic_mode(apic_base) && !k->x2apic_format)
		id <<= 24;
	set_reg(p, R_ID, id);
	set_reg(p, R_TPR, tpr);
	set_reg(p, R_LDR, ldr);
	set_reg(p, R_DFR, dfr);
	set_reg(p, R_SVR, svr);
	set_reg(p, R_ESR, esr);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 8; j++)
			set_reg(p, (i == 0 ? R_ISR : i == 1 ? R_TMR : R_IRR) + 0x10 * j, bank[i][j]);
	set_reg(p, R_ICR_LO, icr_lo & ~ICR_LO_BUSY);
	set_reg(p, R_ICR_HI, icr_hi);
	for (i = 0; i < 6; i++)
		set_reg(p, R_LVT + 0x10 * i, lvt[i]);
	if (TIMER_MODE(lvt[0]) == 2) {
		/* The initial count is ignored in TSC-deadline mode (SDM 11.5.4.1). */
		icr = 0;
		k->tsc_deadline = deadline;
	} else if (icr != 0 && due != NO_DEADLINE) {
		/*
		 * The count left, on KVM's 1 GHz bus, at least 1 (0 would be a
		 * one-shot count run out, and its interrupt lost) and at most
		 * the initial count, which is all KVM starts from.
		 */
		n = (due + divisor(dcr) - 1) / divisor(dcr);
		ccr = n == 0 ? 1 : n > icr ? icr : (uint32_t)n;
	} else if (TIMER_MODE(lvt[0]) == 0) {
		/*
		 * A one-shot count that has run out, its interrupt delivered.
		 * KVM cannot hold one: from current count 0 it starts the
		 * timer due at once (Linux's set_target_expiration), a second
		 * interrupt.  Initial count 0 keeps it stopped; a guest that
		 * reads the initial count back sees 0 (docs/kvm.md "State").
		 */
		icr = 0;
	}
	set_reg(p, R_TIMER_ICR, icr);
	set_reg(p, R_TIMER_CCR, ccr);
	set_reg(p, R_TIMER_DCR, dcr);
	return 0;
}
