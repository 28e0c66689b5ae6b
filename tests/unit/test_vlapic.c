/*
 * test_vlapic.c - the local APIC model (vmm/io/vlapic.c) with a fake clock
 * and fake sinks: registers, priority and EOI, timer modes, IPIs, x2APIC,
 * snapshots.
 */
#include <errno.h>

#include "test.h"
#include "io/vlapic.h"

#define NCPU	4

struct fake {
	uint64_t	ns;
	int		nchanged;
	bool		pending[NCPU];
	int		neoi;
	uint8_t		eoi[16];
	int		nipi;
	struct vlapic_msg ipi;
	int		nev[NCPU];
	enum vlapic_event ev[NCPU];
	uint8_t		ev_vec[NCPU];
	int		ntimer;
	uint64_t	deadline;
	struct vlapic	*all[NCPU];
	int		nall;		/* route IPIs among all[] when set */
};

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->ns;
}

/* The guest TSC runs at 2 GHz: two ticks a nanosecond. */
static uint64_t
fake_tsc(void *arg)
{
	return ((struct fake *)arg)->ns * 2;
}

static void
fake_changed(void *arg, int vcpu, bool p)
{
	struct fake *f = arg;

	f->nchanged++;
	f->pending[vcpu] = p;
}

static void
fake_eoi(void *arg, int vcpu, uint8_t v)
{
	struct fake *f = arg;

	if (f->neoi < 16)
		f->eoi[f->neoi] = v;
	f->neoi++;
}

static void
fake_ipi(void *arg, int vcpu, const struct vlapic_msg *m)
{
	struct fake *f = arg;

	f->nipi++;
	f->ipi = *m;
	if (f->nall > 0)
		vlapic_route(f->all, f->nall, m);
}

static void
fake_event(void *arg, int vcpu, enum vlapic_event ev, uint8_t vec)
{
	struct fake *f = arg;

	f->nev[vcpu]++;
	f->ev[vcpu] = ev;
	f->ev_vec[vcpu] = vec;
}

static void
fake_timer(void *arg, int vcpu, uint64_t deadline)
{
	struct fake *f = arg;

	f->ntimer++;
	f->deadline = deadline;
}

static void
setup(struct vlapic *vl, struct fake *f, int vcpu)
{
	struct vlapic_clock c = { fake_now, fake_tsc, 2000000000ull, f };
	struct vlapic_sink s = { fake_changed, fake_eoi, fake_ipi, fake_event, fake_timer, f };

	vlapic_init(vl, vcpu, (uint32_t)vcpu, vcpu == 0, &c, &s);
}

static uint32_t
rd(struct vlapic *vl, uint32_t off)
{
	uint64_t v = 0xdead;

	CHECK_EQ(vlapic_mmio_read(vl, off, 4, &v), 0);
	return (uint32_t)v;
}

static void
wr(struct vlapic *vl, uint32_t off, uint32_t v)
{
	CHECK_EQ(vlapic_mmio_write(vl, off, 4, v), 0);
}

/* A software-enabled APIC, as a guest leaves it. */
static void
enable(struct vlapic *vl)
{
	wr(vl, APIC_OFF_SVR, 0x1ff);
}

static void
fixed(struct vlapic *vl, int vector, bool level)
{
	struct vlapic_msg m = { .vector = (uint8_t)vector, .mode = APIC_DM_FIXED,
	    .level = level, .assert = true, .src = -1 };

	vlapic_deliver(vl, &m);
}

static uint32_t
latch_esr(struct vlapic *vl)
{
	wr(vl, APIC_OFF_ESR, 0);
	return rd(vl, APIC_OFF_ESR);
}

TEST(vlapic_reset_values)
{
	struct fake f = { 0 };
	struct vlapic vl, ap;

	setup(&vl, &f, 0);
	setup(&ap, &f, 3);
	CHECK_EQ(vlapic_get_apicbase(&vl), 0xfee00900);
	CHECK_EQ(vlapic_get_apicbase(&ap), 0xfee00800);
	CHECK_EQ(rd(&ap, APIC_OFF_ID), 3u << 24);
	CHECK_EQ(rd(&vl, APIC_OFF_VER), 0x50014);
	CHECK_EQ(rd(&vl, APIC_OFF_TPR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_APR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_LDR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_DFR), 0xffffffff);
	CHECK_EQ(rd(&vl, APIC_OFF_SVR), 0xff);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_EQ(rd(&vl, APIC_OFF_ISR0 + i * 16), 0);
		CHECK_EQ(rd(&vl, APIC_OFF_TMR0 + i * 16), 0);
		CHECK_EQ(rd(&vl, APIC_OFF_IRR0 + i * 16), 0);
	}
	CHECK_EQ(rd(&vl, APIC_OFF_ESR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_ICR_LOW), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_ICR_HI), 0);
	for (uint32_t off = APIC_OFF_TIMER_LVT; off <= APIC_OFF_ERROR_LVT; off += 16)
		CHECK_EQ(rd(&vl, off), 0x10000);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_ICR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_DCR), 0);
	CHECK(!vlapic_enabled(&vl));
	CHECK(!vlapic_x2apic(&vl));
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
}

TEST(vlapic_writable_bits)
{
	struct fake f = { 0 };
	struct vlapic vl;
	static const struct { uint32_t off, val; } regs[] = {
		{ APIC_OFF_ID, 0 },		/* read-only, as bhyve */
		{ APIC_OFF_VER, 0x50014 },
		{ APIC_OFF_TPR, 0xff },
		{ APIC_OFF_LDR, 0xff000000 },
		{ APIC_OFF_SVR, 0x3ff },
		{ APIC_OFF_ICR_HI, 0xff000000 },
		{ APIC_OFF_THERM_LVT, 0x107ff },
		{ APIC_OFF_PERF_LVT, 0x107ff },
		{ APIC_OFF_LINT0_LVT, 0x1a7ff },
		{ APIC_OFF_LINT1_LVT, 0x1a7ff },
		{ APIC_OFF_ERROR_LVT, 0x100ff },
		{ APIC_OFF_TIMER_DCR, 0xb },
		{ APIC_OFF_TIMER_ICR, 0xffffffff },
		{ APIC_OFF_TIMER_CCR, 0xffffffff },	/* counting from the ICR */
		{ APIC_OFF_ISR0 + 0x10, 0 },
		{ APIC_OFF_IRR0 + 0x10, 0 },
		{ APIC_OFF_PPR, 0xff },		/* follows TPR */
	};

	setup(&vl, &f, 0);
	enable(&vl);
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		wr(&vl, regs[i].off, 0xffffffff);
		if (rd(&vl, regs[i].off) != regs[i].val)
			fprintf(stderr, "register 0x%x\n", regs[i].off);
		CHECK_EQ(rd(&vl, regs[i].off), regs[i].val);
	}
	wr(&vl, APIC_OFF_DFR, 0x0fffffff - 0x123);	/* model cluster; 27:0 read 1s */
	CHECK_EQ(rd(&vl, APIC_OFF_DFR), 0x0fffffff);
	/* Timer LVT: vector, mask, modes; delivery status never. */
	wr(&vl, APIC_OFF_TIMER_LVT, 0xffffffff);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_LVT), 0x700ff);

	/* Software disable masks every LVT and keeps them masked. */
	wr(&vl, APIC_OFF_LINT0_LVT, 0x700);
	wr(&vl, APIC_OFF_SVR, 0xff);
	CHECK_EQ(rd(&vl, APIC_OFF_LINT0_LVT), 0x10700);
	wr(&vl, APIC_OFF_LINT0_LVT, 0x700);
	CHECK_EQ(rd(&vl, APIC_OFF_LINT0_LVT), 0x10700);

	/* Reserved registers read 0 and report an illegal register address. */
	CHECK_EQ(latch_esr(&vl), 0);
	CHECK_EQ(rd(&vl, 0x040), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_CMCI_LVT), 0);
	CHECK_EQ(latch_esr(&vl), 0x80);
	CHECK_EQ(latch_esr(&vl), 0);
	/* Narrow and misaligned accesses. */
	uint64_t v;
	wr(&vl, APIC_OFF_TPR, 0x34);
	CHECK_EQ(vlapic_mmio_read(&vl, APIC_OFF_TPR, 1, &v), 0);
	CHECK_EQ(v, 0x34);
	CHECK_EQ(vlapic_mmio_read(&vl, APIC_OFF_VER + 2, 1, &v), 0);
	CHECK_EQ(v, 0x05);
	CHECK_EQ(vlapic_mmio_read(&vl, APIC_OFF_VER + 4, 4, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(vlapic_mmio_write(&vl, APIC_OFF_TPR + 4, 4, 0x99), 0);
	CHECK_EQ(vlapic_mmio_write(&vl, APIC_OFF_TPR, 1, 0x99), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_TPR), 0x34);
	CHECK_EQ(vlapic_mmio_read(&vl, 4096, 4, &v), -ENOENT);
}

TEST(vlapic_priority_and_eoi)
{
	struct fake f = { 0 };
	struct vlapic vl;

	setup(&vl, &f, 0);
	/* Software-disabled: fixed interrupts are not taken. */
	fixed(&vl, 0x40, false);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	enable(&vl);

	fixed(&vl, 0x31, false);
	CHECK(f.pending[0]);
	fixed(&vl, 0x52, false);
	CHECK_EQ(rd(&vl, APIC_OFF_IRR0 + 0x10), 1u << 0x11);
	CHECK_EQ(rd(&vl, APIC_OFF_IRR0 + 0x20), 1u << 0x12);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x52);
	vlapic_accept_intr(&vl, 0x52);
	CHECK_EQ(rd(&vl, APIC_OFF_ISR0 + 0x20), 1u << 0x12);
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0x50);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);	/* 0x31 is below PPR */
	CHECK(!f.pending[0]);
	/* Same class as in service: not deliverable. */
	fixed(&vl, 0x5f, false);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	/* A higher class nests. */
	fixed(&vl, 0x61, false);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x61);
	vlapic_accept_intr(&vl, 0x61);
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0x60);
	wr(&vl, APIC_OFF_EOI, 0);		/* retires 0x61 */
	CHECK_EQ(rd(&vl, APIC_OFF_ISR0 + 0x30), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0x50);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	wr(&vl, APIC_OFF_EOI, 0);		/* retires 0x52 */
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x5f);
	vlapic_accept_intr(&vl, 0x5f);
	wr(&vl, APIC_OFF_EOI, 0);
	CHECK_EQ(f.neoi, 0);			/* all edge */
	/* TPR masks by class. */
	wr(&vl, APIC_OFF_TPR, 0x40);
	CHECK_EQ(rd(&vl, APIC_OFF_PPR), 0x40);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	wr(&vl, APIC_OFF_TPR, 0x3f);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);	/* 0x31: class 3 not above 3 */
	wr(&vl, APIC_OFF_TPR, 0x2f);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x31);
	CHECK(f.pending[0]);
	/* Accepting what is not pending changes nothing. */
	vlapic_accept_intr(&vl, 0x99);
	vlapic_accept_intr(&vl, 3);
	vlapic_accept_intr(&vl, 1000);
	CHECK_EQ(rd(&vl, APIC_OFF_ISR0 + 0x40), 0);
	vlapic_accept_intr(&vl, 0x31);
	/* EOI with nothing in service is harmless. */
	wr(&vl, APIC_OFF_EOI, 0);
	wr(&vl, APIC_OFF_EOI, 0);

	/* Level: TMR set, EOI goes to the IOAPIC. */
	wr(&vl, APIC_OFF_TPR, 0);
	fixed(&vl, 0x71, true);
	CHECK_EQ(rd(&vl, APIC_OFF_TMR0 + 0x30), 1u << 0x11);
	vlapic_accept_intr(&vl, 0x71);
	wr(&vl, APIC_OFF_EOI, 0);
	CHECK_EQ(f.neoi, 1);
	CHECK_EQ(f.eoi[0], 0x71);

	/* Illegal vectors are not taken; ESR says so. */
	latch_esr(&vl);
	fixed(&vl, 5, false);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	CHECK_EQ(latch_esr(&vl), 0x40);
	/* An unmasked LVT error raises its vector. */
	wr(&vl, APIC_OFF_ERROR_LVT, 0xe3);
	fixed(&vl, 15, false);
	CHECK_EQ(vlapic_pending_intr(&vl), 0xe3);
}

TEST(vlapic_lint)
{
	struct fake f = { 0 };
	struct vlapic vl;

	setup(&vl, &f, 0);
	enable(&vl);
	vlapic_lint(&vl, 0, true);		/* masked */
	CHECK_EQ(f.nev[0], 0);
	wr(&vl, APIC_OFF_LINT0_LVT, 0x700);	/* ExtINT */
	wr(&vl, APIC_OFF_LINT1_LVT, 0x400);	/* NMI */
	vlapic_lint(&vl, 0, true);
	CHECK_EQ(f.nev[0], 1);
	CHECK_EQ(f.ev[0], VLAPIC_EV_EXTINT);
	vlapic_lint(&vl, 1, true);
	CHECK_EQ(f.ev[0], VLAPIC_EV_NMI);
	vlapic_lint(&vl, 2, true);		/* no such pin */
	vlapic_lint(&vl, -1, true);
	CHECK_EQ(f.nev[0], 2);
	wr(&vl, APIC_OFF_LINT0_LVT, 0x8045);	/* fixed, level */
	vlapic_lint(&vl, 0, true);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x45);
	CHECK_EQ(rd(&vl, APIC_OFF_TMR0 + 0x20), 1u << 5);
}

TEST(vlapic_timer_oneshot)
{
	struct fake f = { .ns = 1000000 };
	struct vlapic vl;

	setup(&vl, &f, 0);
	enable(&vl);
	wr(&vl, APIC_OFF_TIMER_DCR, 0xb);		/* divide by 1: 128 MHz */
	wr(&vl, APIC_OFF_TIMER_LVT, 0x30);
	wr(&vl, APIC_OFF_TIMER_ICR, 128000);		/* 1 ms */
	CHECK_EQ(vlapic_timer_deadline(&vl), 2000000);
	CHECK_EQ(f.deadline, 2000000);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 128000);
	f.ns += 500000;
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 64000);
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	f.ns = 2000000;
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x30);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
	CHECK_EQ(f.deadline, UINT64_MAX);
	f.ns += 10000000;
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 0);

	/* Divide by 2 (DCR 0): 128 counts take 2 us. */
	vlapic_accept_intr(&vl, 0x30);
	wr(&vl, APIC_OFF_EOI, 0);
	wr(&vl, APIC_OFF_TIMER_DCR, 0);
	wr(&vl, APIC_OFF_TIMER_ICR, 128);
	CHECK_EQ(vlapic_timer_deadline(&vl), f.ns + 2000);
	/* Changing the divider mid-count keeps the count and changes the rate. */
	f.ns += 1000;
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 64);
	wr(&vl, APIC_OFF_TIMER_DCR, 0xa);		/* divide by 128: 1 us per count */
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 64);
	CHECK_EQ(vlapic_timer_deadline(&vl), f.ns + 64000);

	/* Masked: counts down without an interrupt. */
	wr(&vl, APIC_OFF_TIMER_DCR, 0xb);
	wr(&vl, APIC_OFF_TIMER_LVT, 0x10030);
	wr(&vl, APIC_OFF_TIMER_ICR, 128);
	f.ns += 1000;
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 0);
	/* Writing 0 stops the timer. */
	wr(&vl, APIC_OFF_TIMER_LVT, 0x30);
	wr(&vl, APIC_OFF_TIMER_ICR, 1000);
	wr(&vl, APIC_OFF_TIMER_ICR, 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
}

TEST(vlapic_timer_periodic)
{
	struct fake f = { .ns = 0 };
	struct vlapic vl;

	setup(&vl, &f, 0);
	enable(&vl);
	wr(&vl, APIC_OFF_TIMER_DCR, 0xb);
	wr(&vl, APIC_OFF_TIMER_LVT, 0x20000 | 0x40);
	wr(&vl, APIC_OFF_TIMER_ICR, 1280);		/* 10 us */
	CHECK_EQ(vlapic_timer_deadline(&vl), 10000);
	f.ns = 10000;
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x40);
	CHECK_EQ(vlapic_timer_deadline(&vl), 20000);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 1280);
	vlapic_accept_intr(&vl, 0x40);
	wr(&vl, APIC_OFF_EOI, 0);
	/* Missed periods coalesce into one interrupt; the phase is kept. */
	f.ns = 45000;
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 640);
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x40);
	CHECK_EQ(vlapic_timer_deadline(&vl), 50000);
	vlapic_accept_intr(&vl, 0x40);
	vlapic_timer_update(&vl);
	CHECK_EQ(rd(&vl, APIC_OFF_IRR0 + 0x20), 0);
	/* Back to one-shot keeps the count running to its next zero. */
	wr(&vl, APIC_OFF_TIMER_LVT, 0x40);
	CHECK_EQ(vlapic_timer_deadline(&vl), 50000);
}

TEST(vlapic_timer_tsc_deadline)
{
	struct fake f = { .ns = 1000 };
	struct vlapic vl;
	uint64_t v;

	setup(&vl, &f, 0);
	enable(&vl);
	/* Outside TSC-deadline mode the MSR ignores writes and reads 0. */
	CHECK_EQ(vlapic_wrmsr(&vl, MSR_TSC_DEADLINE, 5000), 0);
	CHECK_EQ(vlapic_rdmsr(&vl, MSR_TSC_DEADLINE, &v), 0);
	CHECK_EQ(v, 0);
	wr(&vl, APIC_OFF_TIMER_ICR, 1000);
	wr(&vl, APIC_OFF_TIMER_LVT, 0x40000 | 0x50);	/* disarms the count */
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_ICR), 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
	wr(&vl, APIC_OFF_TIMER_ICR, 1000);		/* ignored in this mode */
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_ICR), 0);
	CHECK_EQ(rd(&vl, APIC_OFF_TIMER_CCR), 0);
	/* 2 GHz TSC: 2000 ticks ahead is 1 us. */
	CHECK_EQ(vlapic_wrmsr(&vl, MSR_TSC_DEADLINE, 2 * f.ns + 2000), 0);
	CHECK_EQ(vlapic_rdmsr(&vl, MSR_TSC_DEADLINE, &v), 0);
	CHECK_EQ(v, 4000);
	CHECK_EQ(vlapic_timer_deadline(&vl), 2000);
	f.ns = 1999;
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	f.ns = 2000;
	vlapic_timer_update(&vl);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x50);
	CHECK_EQ(vlapic_rdmsr(&vl, MSR_TSC_DEADLINE, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
	/* A deadline in the past is due at once; 0 disarms. */
	CHECK_EQ(vlapic_wrmsr(&vl, MSR_TSC_DEADLINE, 1), 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), f.ns);
	CHECK_EQ(vlapic_wrmsr(&vl, MSR_TSC_DEADLINE, 0), 0);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
	/* Leaving the mode disarms an armed deadline. */
	CHECK_EQ(vlapic_wrmsr(&vl, MSR_TSC_DEADLINE, 1000000), 0);
	wr(&vl, APIC_OFF_TIMER_LVT, 0x50);
	CHECK_EQ(vlapic_timer_deadline(&vl), UINT64_MAX);
}

/* Four LAPICs that route each other's IPIs. */
static void
setup_all(struct vlapic *vls, struct fake *f)
{
	for (int i = 0; i < NCPU; i++) {
		setup(&vls[i], f, i);
		enable(&vls[i]);
		f->all[i] = &vls[i];
	}
	f->nall = NCPU;
}

static int
irr_has(struct vlapic *vl, int v)
{
	return (rd(vl, APIC_OFF_IRR0 + (uint32_t)(v / 32) * 16) >> (v % 32)) & 1;
}

static void
clear_irr(struct vlapic *vls)
{
	for (int i = 0; i < NCPU; i++)
		while (vlapic_pending_intr(&vls[i]) >= 0) {
			vlapic_accept_intr(&vls[i], vlapic_pending_intr(&vls[i]));
			if (vlapic_x2apic(&vls[i]))
				CHECK_EQ(vlapic_wrmsr(&vls[i], 0x80b, 0), 0);
			else
				wr(&vls[i], APIC_OFF_EOI, 0);
		}
}

static void
ipi(struct vlapic *vl, uint32_t hi, uint32_t lo)
{
	wr(vl, APIC_OFF_ICR_HI, hi);
	wr(vl, APIC_OFF_ICR_LOW, lo);
}

TEST(vlapic_ipi)
{
	struct fake f = { 0 };
	struct vlapic v[NCPU];

	setup_all(v, &f);
	/* Physical, fixed, to APIC ID 2. */
	ipi(&v[0], 2u << 24, 0x41);
	CHECK_EQ(f.nipi, 1);
	CHECK_EQ(f.ipi.dest, 2);
	CHECK_EQ(f.ipi.src, 0);
	CHECK(irr_has(&v[2], 0x41) && !irr_has(&v[1], 0x41) && !irr_has(&v[0], 0x41));
	CHECK_EQ(rd(&v[0], APIC_OFF_ICR_LOW), 0x41);	/* delivery status idle */
	clear_irr(v);
	/* Physical broadcast. */
	ipi(&v[1], 0xffu << 24, 0x42);
	for (int i = 0; i < NCPU; i++)
		CHECK(irr_has(&v[i], 0x42));
	clear_irr(v);
	/* Shorthands: self (no sink call), all, all but self. */
	f.nipi = 0;
	ipi(&v[3], 0, (1u << 18) | 0x43);
	CHECK_EQ(f.nipi, 0);
	CHECK(irr_has(&v[3], 0x43) && !irr_has(&v[0], 0x43));
	clear_irr(v);
	ipi(&v[3], 0, (2u << 18) | 0x44);
	for (int i = 0; i < NCPU; i++)
		CHECK(irr_has(&v[i], 0x44));
	clear_irr(v);
	ipi(&v[3], 0, (3u << 18) | 0x45);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(irr_has(&v[i], 0x45), i != 3);
	clear_irr(v);
	/* Logical flat: one bit per CPU. */
	for (int i = 0; i < NCPU; i++)
		wr(&v[i], APIC_OFF_LDR, 1u << (24 + i));
	ipi(&v[0], 0x0au << 24, 0x800 | 0x46);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(irr_has(&v[i], 0x46), i == 1 || i == 3);
	clear_irr(v);
	/* Logical cluster: cluster 1 members 0,1; cluster 2 members 0,1. */
	for (int i = 0; i < NCPU; i++) {
		wr(&v[i], APIC_OFF_DFR, 0x0fffffff);
		wr(&v[i], APIC_OFF_LDR, (uint32_t)(((i / 2 + 1) << 4) | (1 << (i % 2))) << 24);
	}
	ipi(&v[0], 0x23u << 24, 0x800 | 0x47);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(irr_has(&v[i], 0x47), i >= 2);
	clear_irr(v);
	/* Lowest priority: the lowest TPR among the destinations. */
	for (int i = 0; i < NCPU; i++) {
		wr(&v[i], APIC_OFF_DFR, 0xffffffff);
		wr(&v[i], APIC_OFF_LDR, 1u << (24 + i));
		wr(&v[i], APIC_OFF_TPR, i == 2 ? 0x10 : 0x20);
	}
	ipi(&v[0], 0xffu << 24, 0x800 | 0x100 | 0x48);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(irr_has(&v[i], 0x48), i == 2);
	clear_irr(v);
	for (int i = 0; i < NCPU; i++)
		wr(&v[i], APIC_OFF_TPR, 0);
	/* NMI, INIT, SIPI go to the vCPU. */
	ipi(&v[0], 1u << 24, 0x400);
	CHECK_EQ(f.nev[1], 1);
	CHECK_EQ(f.ev[1], VLAPIC_EV_NMI);
	ipi(&v[0], 1u << 24, 0x4500);			/* INIT assert */
	CHECK_EQ(f.ev[1], VLAPIC_EV_INIT);
	ipi(&v[0], 0xffu << 24, 0x8500);		/* INIT level de-assert: nothing */
	CHECK_EQ(f.nev[1], 2);
	CHECK_EQ(f.nev[2], 0);
	ipi(&v[0], 0, (3u << 18) | 0x4600 | 0x9a);	/* SIPI to all others */
	for (int i = 1; i < NCPU; i++) {
		CHECK_EQ(f.ev[i], VLAPIC_EV_SIPI);
		CHECK_EQ(f.ev_vec[i], 0x9a);
	}
	CHECK_EQ(f.nev[0], 0);
	/* Illegal vector: not sent, "send illegal vector". */
	f.nipi = 0;
	latch_esr(&v[0]);
	ipi(&v[0], 1u << 24, 0x0e);
	CHECK_EQ(f.nipi, 0);
	CHECK_EQ(latch_esr(&v[0]), 0x20);
	/* Reserved bits of the ICR are dropped. */
	wr(&v[0], APIC_OFF_ICR_HI, 0xffffffff);
	CHECK_EQ(rd(&v[0], APIC_OFF_ICR_HI), 0xff000000);
}

TEST(vlapic_x2apic)
{
	struct fake f = { 0 };
	struct vlapic v[NCPU], *vl = &v[0];
	uint64_t val;

	setup_all(v, &f);
	for (int i = 0; i < NCPU; i++)
		v[i].apic_id = (uint32_t)(i == 3 ? 0x21 : i);	/* cluster 2 */
	vlapic_reset(&v[3]);
	enable(&v[3]);
	/* Not yet in x2APIC mode: the MSRs #GP. */
	CHECK_EQ(vlapic_rdmsr(vl, 0x802, &val), -EINVAL);
	/* Illegal APIC_BASE values. */
	CHECK_EQ(vlapic_set_apicbase(vl, 0xfee00000 | APICBASE_X2APIC), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, MSR_APICBASE, 0xfee00000 | APICBASE_ENABLED | 0x1), -EINVAL);
	CHECK_EQ(vlapic_set_apicbase(vl, (1ull << 60) | 0xfee00800), -EINVAL);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(vlapic_set_apicbase(&v[i], 0xfee00c00), 0);
	CHECK(vlapic_x2apic(vl));
	CHECK_EQ(vlapic_get_apicbase(vl), 0xfee00d00);	/* BSP kept */
	/* The page is gone. */
	CHECK_EQ(vlapic_mmio_read(vl, APIC_OFF_TPR, 4, &val), -ENOENT);
	CHECK_EQ(vlapic_mmio_write(vl, APIC_OFF_TPR, 4, 1), -ENOENT);
	/* ID is the 32-bit ID; LDR is derived from it and read-only. */
	CHECK_EQ(vlapic_rdmsr(&v[3], 0x802, &val), 0);
	CHECK_EQ(val, 0x21);
	CHECK_EQ(vlapic_rdmsr(&v[3], 0x80d, &val), 0);
	CHECK_EQ(val, (2u << 16) | 2);
	CHECK_EQ(vlapic_wrmsr(&v[3], 0x80d, 0), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x802, 5), -EINVAL);
	CHECK_EQ(vlapic_rdmsr(vl, 0x803, &val), 0);
	CHECK_EQ(val, 0x50014);
	CHECK_EQ(vlapic_rdmsr(vl, 0x80f, &val), 0);
	CHECK_EQ(val, 0x1ff);
	/* Absent registers and write-only ones #GP on read. */
	CHECK_EQ(vlapic_rdmsr(vl, 0x80e, &val), -EINVAL);	/* DFR */
	CHECK_EQ(vlapic_wrmsr(vl, 0x80e, 0), -EINVAL);
	CHECK_EQ(vlapic_rdmsr(vl, 0x80b, &val), -EINVAL);	/* EOI */
	CHECK_EQ(vlapic_rdmsr(vl, 0x831, &val), -EINVAL);	/* ICR high */
	CHECK_EQ(vlapic_rdmsr(vl, 0x83f, &val), -EINVAL);	/* SELF IPI */
	CHECK_EQ(vlapic_rdmsr(vl, 0x809, &val), -EINVAL);	/* APR */
	CHECK_EQ(vlapic_rdmsr(vl, 0x82f, &val), -EINVAL);	/* CMCI: not here */
	CHECK_EQ(vlapic_rdmsr(vl, 0x840, &val), -EINVAL);
	/* Reserved bits #GP. */
	CHECK_EQ(vlapic_wrmsr(vl, 0x808, 0x100), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x80b, 1), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x828, 1), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x832, 0x80000), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x83e, 4), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x83f, 0x100), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x830, 1ull << 20), -EINVAL);
	CHECK_EQ(vlapic_wrmsr(vl, 0x808, 0x20), 0);
	CHECK_EQ(vlapic_rdmsr(vl, 0x80a, &val), 0);		/* PPR */
	CHECK_EQ(val, 0x20);
	CHECK_EQ(vlapic_wrmsr(vl, 0x808, 0), 0);
	/* SELF IPI. */
	CHECK_EQ(vlapic_wrmsr(vl, 0x83f, 0x55), 0);
	CHECK_EQ(vlapic_pending_intr(vl), 0x55);
	vlapic_accept_intr(vl, 0x55);
	CHECK_EQ(vlapic_rdmsr(vl, 0x812, &val), 0);		/* ISR bank 2 */
	CHECK_EQ(val, 1u << 0x15);
	CHECK_EQ(vlapic_wrmsr(vl, 0x80b, 0), 0);
	CHECK_EQ(vlapic_rdmsr(vl, 0x812, &val), 0);
	CHECK_EQ(val, 0);
	/* ICR: one 64-bit write, 32-bit physical destination. */
	CHECK_EQ(vlapic_wrmsr(vl, 0x830, (0x21ull << 32) | 0x56), 0);
	CHECK_EQ(vlapic_pending_intr(&v[3]), 0x56);
	CHECK_EQ(vlapic_rdmsr(vl, 0x830, &val), 0);
	CHECK_EQ(val, (0x21ull << 32) | 0x56);
	clear_irr(v);
	/* x2APIC logical: cluster 0, members 1 and 2 (bits 1, 2). */
	CHECK_EQ(vlapic_wrmsr(vl, 0x830, (0x6ull << 32) | 0x800 | 0x57), 0);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(vlapic_pending_intr(&v[i]), (i == 1 || i == 2) ? 0x57 : -1);
	clear_irr(v);
	CHECK_EQ(vlapic_wrmsr(vl, 0x830, (0xffffffffull << 32) | 0x58), 0);
	for (int i = 0; i < NCPU; i++)
		CHECK_EQ(vlapic_pending_intr(&v[i]), 0x58);
	clear_irr(v);
	/* Timer through the MSRs. */
	CHECK_EQ(vlapic_wrmsr(vl, 0x83e, 0xb), 0);
	CHECK_EQ(vlapic_wrmsr(vl, 0x832, 0x60), 0);
	CHECK_EQ(vlapic_wrmsr(vl, 0x838, 128), 0);
	f.ns += 500;
	CHECK_EQ(vlapic_rdmsr(vl, 0x839, &val), 0);
	CHECK_EQ(val, 64);
	/* x2APIC -> xAPIC is illegal; disabling resets the APIC. */
	CHECK_EQ(vlapic_set_apicbase(vl, 0xfee00800), -EINVAL);
	CHECK_EQ(vlapic_set_apicbase(vl, 0xfee00000), 0);
	CHECK(!vlapic_x2apic(vl));
	CHECK_EQ(vlapic_timer_deadline(vl), UINT64_MAX);
	CHECK_EQ(vlapic_mmio_read(vl, APIC_OFF_SVR, 4, &val), -ENOENT);
	CHECK(!vlapic_match_dest(vl, 0xff, false));
	CHECK_EQ(vlapic_set_apicbase(vl, 0xfee00c00), -EINVAL);	/* disabled -> x2 */
	CHECK_EQ(vlapic_set_apicbase(vl, 0xfee00800), 0);
	CHECK_EQ(rd(vl, APIC_OFF_SVR), 0xff);
	CHECK_EQ(rd(vl, APIC_OFF_ID), 0);
}

TEST(vlapic_snapshot)
{
	struct fake f = { .ns = 5000 };
	struct vlapic a, b;
	uint8_t buf[VLAPIC_SNAP_SIZE], bad[VLAPIC_SNAP_SIZE];
	ssize_t n;

	setup(&a, &f, 1);
	enable(&a);
	wr(&a, APIC_OFF_TPR, 0x20);
	wr(&a, APIC_OFF_LDR, 0x02000000);
	fixed(&a, 0x70, true);
	fixed(&a, 0x81, false);
	vlapic_accept_intr(&a, 0x81);
	wr(&a, APIC_OFF_TIMER_DCR, 0xb);
	wr(&a, APIC_OFF_TIMER_LVT, 0x20000 | 0x33);
	wr(&a, APIC_OFF_TIMER_ICR, 1280);
	f.ns += 2500;
	CHECK_EQ(vlapic_snapshot_save(&a, buf, 10), VLAPIC_SNAP_SIZE);
	n = vlapic_snapshot_save(&a, buf, sizeof(buf));
	REQUIRE(n == VLAPIC_SNAP_SIZE);

	/* Restore into a fresh LAPIC, with the clock somewhere else. */
	f.ns = 1000000000;
	setup(&b, &f, 1);
	CHECK_EQ(vlapic_snapshot_restore(&b, buf, (size_t)n), 0);
	for (uint32_t off = 0x20; off < 0x400; off += 16)
		if (off != APIC_OFF_CMCI_LVT && off != 0x40 && off != 0x50 && off != 0x60 &&
		    off != 0x70 && (off < 0x290 || off > 0x2e0) && (off < 0x3a0 || off > 0x3d0) &&
		    off != 0x3f0 && off != APIC_OFF_TIMER_CCR)
			CHECK_EQ(rd(&b, off), rd(&a, off));
	CHECK_EQ(rd(&b, APIC_OFF_TIMER_CCR), 1280 - 320);
	CHECK_EQ(vlapic_timer_deadline(&b), f.ns + 7500);
	CHECK_EQ(vlapic_pending_intr(&b), -1);	/* 0x70 below the 0x80 in service */
	wr(&b, APIC_OFF_EOI, 0);
	CHECK_EQ(vlapic_pending_intr(&b), 0x70);

	/* Malformed: each refused, the LAPIC unchanged. */
	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 'X' },		/* magic */
		{ 4, 2 },		/* version */
		{ 8, 7 },		/* another vCPU's APIC ID */
		{ 12, 0x01 },		/* APIC_BASE reserved bit */
		{ 13, 0x04 },		/* x2APIC without enable */
		{ 12 + 8, 9 },		/* ID is not ours */
		{ 12 + 8 + 5, 1 },	/* TPR > 0xff */
		{ 12 + 8 + 8, 1 },	/* LDR reserved bits */
		{ 12 + 8 + 17, 0x04 },	/* SVR reserved bits */
		{ 12 + 8 + 28, 1 },	/* ISR vector 0 */
		{ 12 + 8 + 28 + 64, 1 },	/* IRR vector 0 */
		{ 12 + 8 + 28 + 96 + 1, 0x10 },	/* ICR delivery status */
		{ 12 + 8 + 28 + 96 + 8 + 3, 1 },	/* timer LVT reserved bits */
		{ 12 + 8 + 28 + 96 + 8 + 24 + 4, 0x10 },	/* DCR reserved bits */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		CHECK_EQ(vlapic_snapshot_restore(&b, bad, sizeof(bad)), -EINVAL);
	}
	CHECK_EQ(vlapic_snapshot_restore(&b, buf, (size_t)n - 1), -EINVAL);
	CHECK_EQ(vlapic_snapshot_restore(&b, buf, 0), -EINVAL);
	CHECK_EQ(rd(&b, APIC_OFF_TPR), 0x20);
	CHECK_EQ(vlapic_pending_intr(&b), 0x70);
	/* The same bytes again restore fine. */
	CHECK_EQ(vlapic_snapshot_restore(&b, buf, (size_t)n), 0);
}
