/*
 * test_vhpet.c - the HPET (vmm/io/vhpet.c) with a fake clock and line
 * sink: registers and masks, 32-bit halves, the main counter, one-shot and
 * periodic comparators, 32-bit mode, comparators in the past, legacy
 * replacement routing, level status, bad input, snapshots.
 */
#include <errno.h>

#include "test.h"
#include "io/vhpet.h"

struct fake {
	uint64_t	ns;
	int		pulses[VHPET_NTIMERS];	/* rise-fall pairs */
	int		up[VHPET_NTIMERS];	/* line held */
	int		pin[VHPET_NTIMERS], isa[VHPET_NTIMERS];
	int		calls;
};

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->ns;
}

static void
fake_irq(void *arg, int timer, int pin, int isa, bool level)
{
	struct fake *f = arg;

	f->calls++;
	f->pin[timer] = pin;
	f->isa[timer] = isa;
	if (level) {
		f->up[timer]++;
	} else {
		f->up[timer]--;
		f->pulses[timer]++;
	}
	if (f->up[timer] < 0 || f->up[timer] > 1)
		f->calls += 100000;	/* unbalanced: never expected */
}

static void
setup(struct vhpet *h, struct fake *f)
{
	struct vio_clock c = { fake_now, f };
	struct vhpet_sink s = { fake_irq, f };

	vhpet_init(h, &c, &s);
}

static uint64_t
rd(struct vhpet *h, uint32_t off, int size)
{
	uint64_t v = 0xdeadbeef;

	CHECK_EQ(vhpet_mmio_read(h, off, size, &v), 0);
	return v;
}

static void
wr(struct vhpet *h, uint32_t off, int size, uint64_t v)
{
	CHECK_EQ(vhpet_mmio_write(h, off, size, v), 0);
}

static uint64_t
ticks_ns(uint64_t ticks)
{
	return vio_ticks_to_ns(ticks, VHPET_FREQ);
}

/* Advance to @ns, running the update at every deadline on the way. */
static void
run_to(struct vhpet *h, struct fake *f, uint64_t ns)
{
	uint64_t d;

	while ((d = vhpet_deadline(h)) <= ns) {
		CHECK(d >= f->ns);
		f->ns = d;
		vhpet_update(h);
	}
	f->ns = ns;
	vhpet_update(h);
}

#define ROUTE(pin)	((uint64_t)(pin) << HPET_TN_ROUTE_SHIFT)

TEST(vhpet_registers)
{
	struct fake f = { 0 };
	struct vhpet h;
	uint64_t v;

	setup(&h, &f);
	CHECK_EQ(rd(&h, HPET_CAP, 8), 59604644ull << 32 | 0x8086a201);
	CHECK_EQ(rd(&h, HPET_CAP, 4), 0x8086a201);
	CHECK_EQ(rd(&h, HPET_CAP + 4, 4), 59604644);
	CHECK_EQ(rd(&h, HPET_CAP + 2, 2), 0x8086);
	CHECK_EQ(rd(&h, HPET_CAP + 1, 1), 0xa2);
	/* 10^15 / period: within a part in 10^7 of 2^24 Hz. */
	CHECK_EQ(1000000000000000ull / 59604644ull, VHPET_FREQ);
	wr(&h, HPET_CAP, 8, 0);
	CHECK_EQ(rd(&h, HPET_CAP, 4), 0x8086a201);
	/* Timer capabilities: routes 20-23; 0 and 1 periodic 64-bit; 2 neither. */
	CHECK_EQ(rd(&h, HPET_TIMER(0), 8), 0x00f00000ull << 32 | 0x30);
	CHECK_EQ(rd(&h, HPET_TIMER(1), 8), 0x00f00000ull << 32 | 0x30);
	CHECK_EQ(rd(&h, HPET_TIMER(2), 8), 0x00f00000ull << 32);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), UINT64_MAX);	/* all 1s at reset */
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(2), 8), 0xffffffff);
	/* Write masks: read-only caps, FSB not writable, no periodic on 2. */
	wr(&h, HPET_TIMER(0), 8, UINT64_MAX);
	CHECK_EQ(rd(&h, HPET_TIMER(0), 8) & 0xffff, 0x017e);	/* route 31 refused; no FSB */
	wr(&h, HPET_TIMER(2), 8, UINT64_MAX);
	CHECK_EQ(rd(&h, HPET_TIMER(2), 8) & 0xffff, 0x0046);
	/* Routes: only pins 20-23 are taken. */
	wr(&h, HPET_TIMER(0), 4, ROUTE(21));
	CHECK_EQ(rd(&h, HPET_TIMER(0), 4), ROUTE(21) | 0x30);
	wr(&h, HPET_TIMER(0), 4, ROUTE(2));
	CHECK_EQ(rd(&h, HPET_TIMER(0), 4), ROUTE(21) | 0x30);
	wr(&h, HPET_TIMER(0), 4, ROUTE(23));
	CHECK_EQ(rd(&h, HPET_TIMER(0), 4), ROUTE(23) | 0x30);
	/* General configuration: only ENABLE and LEG_RT. */
	wr(&h, HPET_CONFIG, 8, UINT64_MAX & ~1ull);
	CHECK_EQ(rd(&h, HPET_CONFIG, 8), 2);
	wr(&h, HPET_CONFIG, 8, 0);
	/* Reserved registers and the FSB route read 0 and drop writes. */
	wr(&h, 0x008, 8, UINT64_MAX);
	CHECK_EQ(rd(&h, 0x008, 8), 0);
	wr(&h, HPET_TIMER_FSB(1), 8, UINT64_MAX);
	CHECK_EQ(rd(&h, HPET_TIMER_FSB(1), 8), 0);
	CHECK_EQ(rd(&h, 0x3f8, 8), 0);
	CHECK_EQ(rd(&h, 0x3ff, 1), 0);
	/* Outside the block; bad sizes; narrow or unaligned writes dropped. */
	CHECK_EQ(vhpet_mmio_read(&h, 0x400, 4, &v), -EINVAL);
	CHECK_EQ(vhpet_mmio_write(&h, 0x400, 4, 0), -EINVAL);
	CHECK_EQ(vhpet_mmio_read(&h, 0, 3, &v), -EINVAL);
	wr(&h, HPET_CONFIG, 1, 1);
	wr(&h, HPET_CONFIG, 2, 1);
	wr(&h, HPET_CONFIG + 2, 4, 1);
	wr(&h, HPET_CONFIG + 4, 8, 1);
	CHECK_EQ(rd(&h, HPET_CONFIG, 8), 0);
}

TEST(vhpet_counter)
{
	struct fake f = { .ns = 1000 };
	struct vhpet h;

	setup(&h, &f);
	f.ns += 5000000;
	CHECK_EQ(rd(&h, HPET_COUNTER, 8), 0);	/* halted */
	/* Writable while halted, in 32-bit halves too. */
	wr(&h, HPET_COUNTER, 4, 0x11223344);
	wr(&h, HPET_COUNTER + 4, 4, 0x55667788);
	CHECK_EQ(rd(&h, HPET_COUNTER, 8), 0x5566778811223344ull);
	wr(&h, HPET_COUNTER, 8, 100);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	uint64_t b = f.ns;
	f.ns = b + VIO_NS_PER_SEC;
	CHECK_EQ(rd(&h, HPET_COUNTER, 8), 100 + VHPET_FREQ);
	CHECK_EQ(rd(&h, HPET_COUNTER + 4, 4), 0);
	f.ns = b + 60;				/* one tick is 59.6 ns */
	CHECK_EQ(vhpet_counter(&h), 101);
	/* Ignored while counting. */
	wr(&h, HPET_COUNTER, 8, 0);
	CHECK_EQ(vhpet_counter(&h), 101);
	/* Halting holds the value; enabling resumes from it. */
	f.ns = b + ticks_ns(5000);
	wr(&h, HPET_CONFIG, 4, 0);
	f.ns += VIO_NS_PER_SEC;
	CHECK_EQ(vhpet_counter(&h), 5100);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	f.ns += ticks_ns(10);
	CHECK_EQ(vhpet_counter(&h), 5110);
}

TEST(vhpet_oneshot)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;

	setup(&h, &f);
	wr(&h, HPET_TIMER(2), 4, HPET_TN_INT_ENB | ROUTE(20));
	wr(&h, HPET_TIMER_CMP(2), 4, 1000);
	CHECK_EQ(vhpet_deadline(&h), VIO_NO_DEADLINE);	/* not enabled */
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(1000));
	f.ns = ticks_ns(1000) - 1;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 0);
	f.ns = ticks_ns(1000);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 1);
	CHECK_EQ(f.pin[2], 20);
	CHECK_EQ(f.isa[2], -1);
	CHECK_EQ(rd(&h, HPET_ISR, 8), 0);	/* edge: no status */
	/* One-shot: the next match is a 32-bit wrap away (timer 2 is 32-bit). */
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(1000 + (1ull << 32)));
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(2), 8), 1000);
	f.ns = ticks_ns(1ull << 31);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 1);
	/* Linux's hpet_clkevt_set_next_event: counter + delta. */
	uint64_t c = vhpet_counter(&h);
	wr(&h, HPET_TIMER_CMP(2), 4, (uint32_t)(c + 16777));
	run_to(&h, &f, f.ns + VIO_NS_PER_SEC);
	CHECK_EQ(f.pulses[2], 2);
	/* Disabled interrupts: no pulse, no deadline. */
	wr(&h, HPET_TIMER(2), 4, ROUTE(20));
	wr(&h, HPET_TIMER_CMP(2), 4, (uint32_t)(vhpet_counter(&h) + 10));
	CHECK_EQ(vhpet_deadline(&h), VIO_NO_DEADLINE);
	f.ns += VIO_NS_PER_SEC;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 2);
	/* No route ever set (0 is not wired): nothing either. */
	wr(&h, HPET_TIMER(1), 4, HPET_TN_INT_ENB);
	wr(&h, HPET_TIMER_CMP(1), 8, vhpet_counter(&h) + 10);
	CHECK_EQ(vhpet_deadline(&h), VIO_NO_DEADLINE);
	f.ns += VIO_NS_PER_SEC;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[1], 0);
}

TEST(vhpet_periodic)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;
	uint64_t period = VHPET_FREQ / 1000;	/* 1 kHz */

	setup(&h, &f);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	f.ns = ticks_ns(500);
	/* Linux's hpet_set_periodic: VAL_SET, counter + delta, then delta. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_INT_ENB | HPET_TN_PERIODIC | HPET_TN_VAL_SET |
	    ROUTE(22));
	CHECK_EQ(rd(&h, HPET_TIMER(0), 4) & HPET_TN_VAL_SET, HPET_TN_VAL_SET);
	wr(&h, HPET_TIMER_CMP(0), 8, 500 + period);
	CHECK_EQ(rd(&h, HPET_TIMER(0), 4) & HPET_TN_VAL_SET, 0);
	wr(&h, HPET_TIMER_CMP(0), 8, period);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 500 + period);	/* the first match */
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(500 + period));
	run_to(&h, &f, ticks_ns(500 + 1000 * period));
	CHECK_EQ(f.pulses[0], 1000);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 500 + 1001 * period);
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(500 + 1001 * period));
	/* Matches missed while the caller slept: one interrupt, comparator in step. */
	f.ns = ticks_ns(500 + 1010 * period + 3);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[0], 1001);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 500 + 1011 * period);
	/* A new period (no VAL_SET) applies after the next match. */
	wr(&h, HPET_TIMER_CMP(0), 8, 2 * period);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 500 + 1011 * period);
	run_to(&h, &f, ticks_ns(500 + 1015 * period));
	CHECK_EQ(f.pulses[0], 1004);		/* 1011, 1013, 1015 */
	/* Periodic bit on a timer that cannot: one-shot. */
	wr(&h, HPET_TIMER(2), 4, HPET_TN_INT_ENB | HPET_TN_PERIODIC | ROUTE(23));
	CHECK_EQ(rd(&h, HPET_TIMER(2), 4) & HPET_TN_PERIODIC, 0);
	/* Period 0 in periodic mode: matches once per counter wrap (no storm). */
	wr(&h, HPET_TIMER(1), 4, HPET_TN_INT_ENB | HPET_TN_PERIODIC | HPET_TN_VAL_SET |
	    HPET_TN_32MODE | ROUTE(21));
	uint64_t c = vhpet_counter(&h);
	wr(&h, HPET_TIMER_CMP(1), 4, (uint32_t)(c + 10));
	wr(&h, HPET_TIMER_CMP(1), 4, 0);
	f.ns += ticks_ns(10);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[1], 1);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(1), 8), (uint32_t)(c + 10));
	f.ns += ticks_ns(1000000);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[1], 1);
}

TEST(vhpet_32bit_mode)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;

	setup(&h, &f);
	/* 32-bit mode truncates the comparator; high-half writes are dropped. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_32MODE | HPET_TN_INT_ENB | ROUTE(20));
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 0xffffffff);
	wr(&h, HPET_TIMER_CMP(0), 8, 0x123456789ull);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 0x23456789);
	wr(&h, HPET_TIMER_CMP(0) + 4, 4, 0x1);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 0x23456789);
	/* It matches on the counter's low 32 bits. */
	wr(&h, HPET_COUNTER, 8, 0x500000000ull);
	wr(&h, HPET_TIMER_CMP(0), 4, 100);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(100));
	run_to(&h, &f, ticks_ns(100));
	CHECK_EQ(f.pulses[0], 1);
	/* 64-bit mode on the same timer: 0x500000064 has passed; 0x600000000 not. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_INT_ENB | ROUTE(20));
	wr(&h, HPET_TIMER_CMP(0), 8, 0x600000000ull);
	CHECK_EQ(vhpet_deadline(&h), ticks_ns(0x100000000ull));
	/* 32-bit halves of a 64-bit comparator. */
	wr(&h, HPET_TIMER_CMP(0), 4, 0x10);
	wr(&h, HPET_TIMER_CMP(0) + 4, 4, 0x5);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0), 8), 0x500000010ull);
	CHECK_EQ(rd(&h, HPET_TIMER_CMP(0) + 4, 4), 0x5);
}

TEST(vhpet_comparator_in_past)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;

	setup(&h, &f);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	f.ns = ticks_ns(10000);
	/* 64-bit: a comparator behind the counter waits for the 2^64 wrap: never. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_INT_ENB | ROUTE(20));
	wr(&h, HPET_TIMER_CMP(0), 8, 5000);
	CHECK_EQ(vhpet_deadline(&h), VIO_NO_DEADLINE);
	f.ns += 1000 * VIO_NS_PER_SEC;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[0], 0);
	/* Equal to the counter: matched "now", next after a wrap. */
	wr(&h, HPET_TIMER(2), 4, HPET_TN_INT_ENB | ROUTE(20));
	uint64_t c = vhpet_counter(&h);
	wr(&h, HPET_TIMER_CMP(2), 4, (uint32_t)c);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 0);
	/* 32-bit: behind by 5000 ticks, fires 2^32 - 5000 ticks later (256 s). */
	wr(&h, HPET_TIMER_CMP(2), 4, (uint32_t)(c - 5000));
	uint64_t when = f.ns - ticks_ns(c) + ticks_ns(c - 5000 + (1ull << 32));
	CHECK(vhpet_deadline(&h) - when <= 1 || when - vhpet_deadline(&h) <= 1);
	f.ns = vhpet_deadline(&h) - 1;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 0);
	f.ns++;
	vhpet_update(&h);
	CHECK_EQ(f.pulses[2], 1);
}

TEST(vhpet_legacy_route)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;

	setup(&h, &f);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE | HPET_CNF_LEG_RT);
	wr(&h, HPET_TIMER(0), 4, HPET_TN_INT_ENB | ROUTE(20));
	wr(&h, HPET_TIMER(1), 4, HPET_TN_INT_ENB | ROUTE(21));
	wr(&h, HPET_TIMER(2), 4, HPET_TN_INT_ENB | ROUTE(22));
	for (int n = 0; n < 3; n++)
		wr(&h, HPET_TIMER_CMP(n), 8, 100 + (uint32_t)n);
	run_to(&h, &f, ticks_ns(200));
	CHECK_EQ(f.pin[0], 2);			/* IRQ 0 -> IOAPIC pin 2 */
	CHECK_EQ(f.isa[0], 0);
	CHECK_EQ(f.pin[1], 8);			/* IRQ 8 */
	CHECK_EQ(f.isa[1], 8);
	CHECK_EQ(f.pin[2], 22);			/* timer 2 keeps its route */
	CHECK_EQ(f.isa[2], -1);
	for (int n = 0; n < 3; n++)
		CHECK_EQ(f.pulses[n], 1);
	/* Legacy off: back to the timers' own routes. */
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	wr(&h, HPET_TIMER_CMP(0), 8, 300);
	run_to(&h, &f, ticks_ns(400));
	CHECK_EQ(f.pin[0], 20);
	CHECK_EQ(f.isa[0], -1);
}

TEST(vhpet_level)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;

	setup(&h, &f);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	wr(&h, HPET_TIMER(0), 4, HPET_TN_LEVEL | HPET_TN_INT_ENB | ROUTE(20));
	wr(&h, HPET_TIMER_CMP(0), 8, 50);
	run_to(&h, &f, ticks_ns(60));
	CHECK_EQ(rd(&h, HPET_ISR, 8), 1);
	CHECK_EQ(f.up[0], 1);
	CHECK_EQ(f.pin[0], 20);
	/* Writing 0 does nothing; 1 clears and drops the line. */
	wr(&h, HPET_ISR, 4, 0);
	CHECK_EQ(rd(&h, HPET_ISR, 8), 1);
	wr(&h, HPET_ISR, 4, 1);
	CHECK_EQ(rd(&h, HPET_ISR, 8), 0);
	CHECK_EQ(f.up[0], 0);
	/* Held line follows a route change, and legacy mode. */
	wr(&h, HPET_TIMER_CMP(0), 8, 100);
	run_to(&h, &f, ticks_ns(110));
	CHECK_EQ(f.up[0], 1);
	wr(&h, HPET_TIMER(0), 4, HPET_TN_LEVEL | HPET_TN_INT_ENB | ROUTE(23));
	CHECK_EQ(f.up[0], 1);
	CHECK_EQ(f.pin[0], 23);
	wr(&h, HPET_CONFIG, 4, HPET_CNF_ENABLE | HPET_CNF_LEG_RT);
	CHECK_EQ(f.pin[0], 2);
	CHECK_EQ(f.isa[0], 0);
	CHECK_EQ(f.up[0], 1);
	/* Disabling the interrupt drops the line and the status. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_LEVEL | ROUTE(23));
	CHECK_EQ(f.up[0], 0);
	CHECK_EQ(rd(&h, HPET_ISR, 8), 0);
	/* Edge timers never set status. */
	wr(&h, HPET_TIMER(1), 4, HPET_TN_INT_ENB | ROUTE(21));
	wr(&h, HPET_TIMER_CMP(1), 8, vhpet_counter(&h) + 5);
	f.ns += ticks_ns(10);
	vhpet_update(&h);
	CHECK_EQ(f.pulses[1], 1);
	CHECK_EQ(rd(&h, HPET_ISR, 8), 0);
	/* Reset drops a held line. */
	wr(&h, HPET_TIMER(0), 4, HPET_TN_LEVEL | HPET_TN_INT_ENB | ROUTE(23));
	wr(&h, HPET_TIMER_CMP(0), 8, vhpet_counter(&h) + 5);
	f.ns += ticks_ns(10);
	vhpet_update(&h);
	CHECK_EQ(f.up[0], 1);
	vhpet_reset(&h);
	CHECK_EQ(f.up[0], 0);
	CHECK(f.calls < 100000);
}

TEST(vhpet_bad_input)
{
	struct fake f = { .ns = 0 };
	struct vhpet h;
	uint64_t v;

	setup(&h, &f);
	/* Every register, every value pattern, random time steps: no crash,
	 * deadlines never in the past, lines balanced. */
	for (uint32_t i = 0; i < 20000; i++) {
		uint32_t off = (i * 8 * 2654435761u) % VHPET_SIZE & ~3u;
		uint64_t val = (uint64_t)i * 0x9e3779b97f4a7c15ull;

		if (i % 5 == 0)
			off = HPET_CONFIG;
		if (i % 7 == 0)
			val &= 0x3e4e;
		wr(&h, off, (i & 1) ? 4 : 8, val);
		(void)vhpet_mmio_read(&h, off, 8, &v);
		f.ns += (i % 13) * 1000;
		vhpet_update(&h);
		CHECK(vhpet_deadline(&h) > f.ns);
	}
	CHECK(f.calls < 100000);
}

TEST(vhpet_snapshot)
{
	struct fake f = { .ns = 5000 }, g = { .ns = 1 };
	struct vhpet a, b;
	uint8_t buf[VHPET_SNAP_SIZE], bad[VHPET_SNAP_SIZE];
	uint64_t period = 16777;

	setup(&a, &f);
	wr(&a, HPET_CONFIG, 4, HPET_CNF_ENABLE);
	wr(&a, HPET_TIMER(0), 4, HPET_TN_INT_ENB | HPET_TN_PERIODIC | HPET_TN_VAL_SET |
	    ROUTE(22));
	wr(&a, HPET_TIMER_CMP(0), 8, period);
	wr(&a, HPET_TIMER_CMP(0), 8, period);
	wr(&a, HPET_TIMER(1), 4, HPET_TN_LEVEL | HPET_TN_INT_ENB | ROUTE(21));
	wr(&a, HPET_TIMER_CMP(1), 8, 10);
	f.ns += ticks_ns(period * 3 + 7);
	vhpet_update(&a);
	CHECK_EQ(f.up[1], 1);
	CHECK_EQ(vhpet_snapshot_save(&a, buf, 2), VHPET_SNAP_SIZE);
	REQUIRE(vhpet_snapshot_save(&a, buf, sizeof(buf)) == VHPET_SNAP_SIZE);
	setup(&b, &g);
	CHECK_EQ(vhpet_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(g.calls, 0);			/* the IOAPIC keeps the line level */
	CHECK_EQ(vhpet_counter(&b), vhpet_counter(&a));
	CHECK_EQ(vhpet_deadline(&b) - g.ns, vhpet_deadline(&a) - f.ns);
	for (uint32_t off = 0; off < 0x160; off += 8)
		CHECK_EQ(rd(&b, off, 8), rd(&a, off, 8));
	/* The held line is known: clearing the status drops it (this fake
	 * saw no rise: the line's level came with the IOAPIC). */
	wr(&b, HPET_ISR, 4, 2);
	CHECK_EQ(g.up[1], -1);
	CHECK_EQ(g.pin[1], 21);
	/* Both go on alike. */
	int fa = f.pulses[0];
	for (int i = 0; i < 5; i++) {
		f.ns += ticks_ns(period);
		g.ns += ticks_ns(period);
		vhpet_update(&a);
		vhpet_update(&b);
	}
	CHECK_EQ(f.pulses[0] - fa, 5);
	CHECK_EQ(g.pulses[0], 5);

	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 1 }, { 4, 1 },		/* magic, version */
		{ 8, 0x04 },			/* config reserved bit */
		{ 16, 0x08 },			/* status of timer 3 */
		{ 16, 0x01 },			/* status of an edge timer */
		{ 31, 0x80 },			/* elapsed > 2^62 */
		{ 47, 0x10 },			/* last count far ahead of the counter */
		{ 48 + 1, 0x80 },		/* timer 0 FSB enable */
		{ 48 + 1, 0x20 },		/* timer 0 route 6: not wired */
		{ 48 + 24 + 1, 0x40 },		/* timer 1 FSB enable */
		{ 48 + 48 + 0, 0x08 },		/* timer 2 periodic */
		{ 48 + 48 + 12, 0x01 },		/* timer 2 comparator > 32 bits */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		if (vhpet_snapshot_restore(&b, bad, sizeof(bad)) != -EINVAL) {
			fprintf(stderr, "patch %zu accepted\n", i);
			test_failed_ = 1;
		}
	}
	CHECK_EQ(vhpet_snapshot_restore(&b, buf, sizeof(buf) - 8), -EINVAL);
}
