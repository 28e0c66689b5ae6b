/*
 * test_vatpit.c - the 8254 (vmm/io/vatpit.c) with a fake clock and IRQ 0
 * sink: mode 2 and 3 counts and IRQ 0 edges, modes 0, 1, 4, 5, channel 2
 * through port 0x61, latch and read-back commands, BCD, count 0, reloads,
 * bad input, snapshots.
 */
#include <errno.h>

#include "test.h"
#include "io/vatpit.h"

struct fake {
	uint64_t	ns;
	bool		level;
	int		rises, falls;
};

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->ns;
}

static void
fake_irq0(void *arg, bool level)
{
	struct fake *f = arg;

	if (level == f->level)
		f->rises += 1000;	/* a repeated level: never expected */
	f->level = level;
	if (level)
		f->rises++;
	else
		f->falls++;
}

static void
setup(struct vatpit *pit, struct fake *f)
{
	struct vio_clock c = { fake_now, f };
	struct vatpit_sink s = { fake_irq0, f };

	vatpit_init(pit, &c, &s);
}

/* Time of tick @k after @base. */
static uint64_t
at(uint64_t base, uint64_t k)
{
	return base + vio_ticks_to_ns(k, VATPIT_HZ);
}

static uint8_t
in(struct vatpit *pit, uint16_t port)
{
	uint8_t v = 0x5a;

	CHECK_EQ(vatpit_read(pit, port, &v), 0);
	return v;
}

static void
out(struct vatpit *pit, uint16_t port, uint8_t v)
{
	CHECK_EQ(vatpit_write(pit, port, v), 0);
}

/* Control word for channel @ch, LSB then MSB, @mode, binary; then @count. */
static void
program(struct vatpit *pit, int ch, int mode, uint32_t count)
{
	out(pit, VATPIT_PORT_CTRL, (uint8_t)(ch << 6 | 0x30 | mode << 1));
	out(pit, (uint16_t)(VATPIT_PORT + ch), (uint8_t)count);
	out(pit, (uint16_t)(VATPIT_PORT + ch), (uint8_t)(count >> 8));
}

/* Latch channel @ch and read the 16-bit count. */
static uint32_t
latched(struct vatpit *pit, int ch)
{
	uint32_t lo, hi;

	out(pit, VATPIT_PORT_CTRL, (uint8_t)(ch << 6));
	lo = in(pit, (uint16_t)(VATPIT_PORT + ch));
	hi = in(pit, (uint16_t)(VATPIT_PORT + ch));
	return hi << 8 | lo;
}

/* Advance to @ns, running the update at every deadline on the way. */
static void
run_to(struct vatpit *pit, struct fake *f, uint64_t ns)
{
	uint64_t d;

	while ((d = vatpit_deadline(pit)) <= ns) {
		CHECK(d >= f->ns);
		f->ns = d;
		vatpit_update(pit);
	}
	f->ns = ns;
	vatpit_update(pit);
}

TEST(vatpit_mode2_counts)
{
	struct fake f = { .ns = 1000 };
	struct vatpit pit;
	uint64_t b;

	setup(&pit, &f);
	program(&pit, 0, 2, 1193);		/* ~1 kHz, Linux's PIT tick at HZ=1000 */
	b = f.ns;
	CHECK(f.level);				/* OUT high in mode 2 */
	CHECK_EQ(latched(&pit, 0), 1193);
	f.ns = at(b, 100);
	CHECK_EQ(latched(&pit, 0), 1093);
	f.ns = at(b, 1191);
	CHECK_EQ(latched(&pit, 0), 2);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	f.ns = at(b, 1192);			/* CE = 1: OUT low for one tick */
	CHECK_EQ(latched(&pit, 0), 1);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	f.ns = at(b, 1193);			/* reload */
	CHECK_EQ(latched(&pit, 0), 1193);
	CHECK_EQ(vatpit_out(&pit, 0), 1);

	/* One IRQ 0 edge per period: 1000 periods, 1000 interrupts. */
	setup(&pit, &f);
	f.ns = 5000;
	program(&pit, 0, 2, 1193);
	b = f.ns;
	f.rises = f.falls = 0;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 1193));
	run_to(&pit, &f, at(b, 1193 * 1000));
	CHECK_EQ(f.rises, 1000);
	CHECK_EQ(f.falls, 1000);
	CHECK(f.level);
	CHECK_EQ(vatpit_deadline(&pit), at(b, 1193 * 1001));
	/* Periods missed while the caller slept coalesce into one edge. */
	f.ns = at(b, 1193 * 1010 + 5);
	vatpit_update(&pit);
	CHECK_EQ(f.rises, 1001);
	CHECK_EQ(vatpit_deadline(&pit), at(b, 1193 * 1011));
}

TEST(vatpit_mode3_square)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;
	uint64_t b;

	setup(&pit, &f);
	program(&pit, 0, 3, 100);
	b = f.ns;
	/* Even count: high 50 ticks, low 50; CE decrements by 2. */
	CHECK_EQ(latched(&pit, 0), 100);
	f.ns = at(b, 10);
	CHECK_EQ(latched(&pit, 0), 80);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	f.ns = at(b, 49);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	CHECK_EQ(latched(&pit, 0), 2);
	f.ns = at(b, 50);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	CHECK_EQ(latched(&pit, 0), 100);
	f.ns = at(b, 99);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	f.ns = at(b, 100);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	/* IRQ 0 sees the square wave: one rise per period. */
	f.ns = 0;
	setup(&pit, &f);
	f.rises = f.falls = 0;
	program(&pit, 0, 3, 100);
	CHECK_EQ(f.rises, 1);			/* OUT went high at the mode word */
	run_to(&pit, &f, at(b, 100 * 50));
	CHECK_EQ(f.rises, 51);

	/* Odd count: high (n+1)/2, low (n-1)/2. */
	f.ns = 0;
	setup(&pit, &f);
	program(&pit, 0, 3, 101);
	f.ns = at(0, 50);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	f.ns = at(0, 51);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	f.ns = at(0, 100);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	f.ns = at(0, 101);
	CHECK_EQ(vatpit_out(&pit, 0), 1);

	/* Count 0 is 65536: the 18.2 Hz BIOS tick. */
	f.ns = 0;
	setup(&pit, &f);
	program(&pit, 0, 3, 0);
	CHECK_EQ(latched(&pit, 0), 0);
	f.ns = at(0, 1);
	CHECK_EQ(latched(&pit, 0), 65534);
	f.ns = at(0, 32767);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	f.ns = at(0, 32768);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	CHECK_EQ(vatpit_deadline(&pit), at(0, 65536));
	/* 18.2 Hz */
	f.rises = 0;
	run_to(&pit, &f, 10 * VIO_NS_PER_SEC);
	CHECK_EQ(f.rises, 182);
}

TEST(vatpit_mode0_oneshot)
{
	struct fake f = { .ns = 100 };
	struct vatpit pit;
	uint64_t b;

	setup(&pit, &f);
	out(&pit, VATPIT_PORT_CTRL, 0x30);	/* ch0, LSB/MSB, mode 0 */
	CHECK(!f.level);
	out(&pit, VATPIT_PORT, 0x10);
	out(&pit, VATPIT_PORT, 0x00);		/* 16 */
	b = f.ns;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 16));
	f.ns = at(b, 15);
	vatpit_update(&pit);
	CHECK(!f.level);
	CHECK_EQ(latched(&pit, 0), 1);
	f.ns = at(b, 16);
	vatpit_update(&pit);
	CHECK(f.level);
	CHECK_EQ(f.rises, 1);
	CHECK_EQ(vatpit_deadline(&pit), VIO_NO_DEADLINE);
	/* The count wraps and goes on; OUT stays high. */
	f.ns = at(b, 18);
	CHECK_EQ(latched(&pit, 0), 0xfffe);
	f.ns = at(b, 100000);
	vatpit_update(&pit);
	CHECK(f.level);
	CHECK_EQ(f.rises, 1);
	/* The first byte of a new count stops counting and drives OUT low. */
	out(&pit, VATPIT_PORT, 0x20);
	CHECK(!f.level);
	uint32_t held = latched(&pit, 0);
	f.ns += 1000000;
	CHECK_EQ(latched(&pit, 0), held);
	out(&pit, VATPIT_PORT, 0x00);		/* 32: restarts */
	b = f.ns;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 32));
	/* A new count mid-way restarts at once. */
	f.ns = at(b, 20);
	program(&pit, 0, 0, 1000);
	CHECK_EQ(vatpit_deadline(&pit), at(f.ns, 1000));
}

TEST(vatpit_mode4_strobe)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;

	setup(&pit, &f);
	program(&pit, 0, 4, 10);
	CHECK(f.level);
	CHECK_EQ(vatpit_deadline(&pit), at(0, 11));
	f.ns = at(0, 10);			/* CE = 0: OUT low one tick */
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	f.ns = at(0, 11);
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	vatpit_update(&pit);
	CHECK_EQ(f.rises, 2);			/* the mode word, then the strobe */
	CHECK_EQ(vatpit_deadline(&pit), VIO_NO_DEADLINE);
	/* Not periodic. */
	f.ns = at(0, 100000);
	vatpit_update(&pit);
	CHECK_EQ(f.rises, 2);
}

TEST(vatpit_channel2_port61)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;
	uint64_t b;

	setup(&pit, &f);
	/* Gate low at reset; bits 1:0 and 3:2 read back, 7:4 are status. */
	CHECK_EQ(in(&pit, 0x61) & 0x0f, 0);
	out(&pit, 0x61, 0xff);
	CHECK_EQ(in(&pit, 0x61) & 0x0f, 0x0f);
	/* SERR# (bit 7) and IOCHK# (bit 6) NMI status: nothing in the machine signals them. */
	CHECK_EQ(in(&pit, 0x61) & 0xc0, 0);
	out(&pit, 0x61, 0x00);
	CHECK_EQ(in(&pit, 0x61) & 0xc0, 0);
	/* Refresh toggles every 15.085 us. */
	f.ns = 0;
	uint8_t r0 = in(&pit, 0x61) & NMISC_REFRESH;
	f.ns = 15085;
	CHECK((in(&pit, 0x61) & NMISC_REFRESH) != r0);
	f.ns = 30170;
	CHECK_EQ(in(&pit, 0x61) & NMISC_REFRESH, r0);

	/* Linux's pit_calibrate_tsc: gate on, speaker off, mode 0, 0xffff. */
	f.ns = 1000;
	out(&pit, 0x61, (in(&pit, 0x61) & ~NMISC_SPKR) | NMISC_GATE2);
	out(&pit, VATPIT_PORT_CTRL, 0xb0);
	out(&pit, VATPIT_PORT + 2, 0xff);
	out(&pit, VATPIT_PORT + 2, 0xff);
	b = f.ns;
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 65534);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 65535);			/* 54.9 ms */
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);
	CHECK_EQ(f.rises, 0);			/* channel 2 is not IRQ 0 */

	/* Gate low holds a mode 0 count; high resumes it. */
	program(&pit, 2, 0, 1000);
	b = f.ns;
	f.ns = at(b, 300);
	out(&pit, 0x61, 0);
	CHECK_EQ(latched(&pit, 2), 700);
	f.ns += 5000000;
	CHECK_EQ(latched(&pit, 2), 700);
	CHECK_EQ(in(&pit, 0x61) & (NMISC_OUT2 | NMISC_GATE2), 0);
	out(&pit, 0x61, NMISC_GATE2);
	b = f.ns;
	f.ns = at(b, 699);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 700);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);

	/* Mode 3 on channel 2 (the speaker): gate low forces OUT high and stops. */
	program(&pit, 2, 3, 1000);
	b = f.ns;
	f.ns = at(b, 600);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	out(&pit, 0x61, 0);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);
	CHECK_EQ(latched(&pit, 2), 800);		/* 100 ticks into the low half */
	f.ns += 1000000;
	CHECK_EQ(latched(&pit, 2), 800);
	/* The gate's rise reloads the count. */
	out(&pit, 0x61, NMISC_GATE2 | NMISC_SPKR);
	CHECK_EQ(latched(&pit, 2), 1000);
	CHECK_EQ(in(&pit, 0x61) & 0x0f, NMISC_GATE2 | NMISC_SPKR);

	/* Mode 1: the gate's rise triggers a one-shot; retriggerable. */
	out(&pit, 0x61, 0);
	program(&pit, 2, 1, 50);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);
	f.ns += 1000000;
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);	/* no trigger yet */
	out(&pit, 0x61, NMISC_GATE2);
	b = f.ns;
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 40);
	out(&pit, 0x61, 0);			/* gate low does not stop mode 1 */
	out(&pit, 0x61, NMISC_GATE2);		/* retrigger */
	b = f.ns;
	f.ns = at(b, 49);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 50);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);

	/* Mode 5: a strobe one count after the trigger. */
	out(&pit, 0x61, 0);
	program(&pit, 2, 5, 20);
	out(&pit, 0x61, NMISC_GATE2);
	b = f.ns;
	f.ns = at(b, 20);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, 0);
	f.ns = at(b, 21);
	CHECK_EQ(in(&pit, 0x61) & NMISC_OUT2, NMISC_OUT2);
}

TEST(vatpit_latch_readback)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;

	setup(&pit, &f);
	program(&pit, 1, 2, 5000);
	/* The counter latch holds until read; a second latch is ignored. */
	f.ns = at(0, 10);
	out(&pit, VATPIT_PORT_CTRL, 0x40);
	f.ns = at(0, 20);
	out(&pit, VATPIT_PORT_CTRL, 0x40);
	f.ns = at(0, 30);
	CHECK_EQ(in(&pit, 0x41), (4990 & 0xff));
	f.ns = at(0, 40);
	CHECK_EQ(in(&pit, 0x41), 4990 >> 8);
	CHECK_EQ(latched(&pit, 1), 4960);
	/* Without a latch, bytes come live. */
	CHECK_EQ(in(&pit, 0x41), 4960 & 0xff);

	/* Read-back: status of channels 0 and 1, then count of channel 1. */
	(void)in(&pit, 0x41);
	out(&pit, VATPIT_PORT_CTRL, 0xe0 | 0x02 | 0x04);	/* !COUNT off: status only */
	CHECK_EQ(in(&pit, 0x41), 0xb4);		/* OUT 1, null 0, rw 3, mode 2, bin */
	CHECK_EQ(in(&pit, 0x40), 0x40 | 0x30);	/* reset state: null count, mode 0 */
	/* Status and count together: status first. */
	f.ns = at(0, 100);
	out(&pit, VATPIT_PORT_CTRL, 0xc0 | 0x04);
	f.ns = at(0, 110);
	CHECK_EQ(in(&pit, 0x41), 0xb4);		/* OUT high */
	CHECK_EQ(in(&pit, 0x41), 4900 & 0xff);
	CHECK_EQ(in(&pit, 0x41), 4900 >> 8);
	/* Null count: set by a new count until it is loaded (end of period). */
	out(&pit, 0x41, 0x10);
	out(&pit, 0x41, 0x00);
	out(&pit, VATPIT_PORT_CTRL, 0xe4);
	CHECK_EQ(in(&pit, 0x41) & 0x40, 0x40);
	f.ns = at(0, 5000);
	out(&pit, VATPIT_PORT_CTRL, 0xe4);
	CHECK_EQ(in(&pit, 0x41) & 0x40, 0);
	/* Then the new count (16) runs. */
	CHECK_EQ(latched(&pit, 1), 16);
	f.ns = at(0, 5010);
	CHECK_EQ(latched(&pit, 1), 6);
	/* Read-back with nothing selected does nothing. */
	out(&pit, VATPIT_PORT_CTRL, 0xc0);
	CHECK_EQ(latched(&pit, 1), 6);

	/* LSB-only and MSB-only access. */
	out(&pit, VATPIT_PORT_CTRL, 0x14);	/* ch0, LSB, mode 2 */
	out(&pit, 0x40, 200);
	CHECK_EQ(in(&pit, 0x40), 200);
	CHECK_EQ(in(&pit, 0x40), 200);
	out(&pit, VATPIT_PORT_CTRL, 0x24);	/* ch0, MSB, mode 2 */
	out(&pit, 0x40, 0x02);			/* 0x200 */
	CHECK_EQ(in(&pit, 0x40), 0x02);
	uint64_t b = f.ns;
	f.ns = at(b, 256);
	CHECK_EQ(in(&pit, 0x40), 0x01);
	/* Reading the control port floats. */
	CHECK_EQ(in(&pit, 0x43), 0xff);
}

TEST(vatpit_bcd)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;

	setup(&pit, &f);
	out(&pit, VATPIT_PORT_CTRL, 0x35);	/* ch0, LSB/MSB, mode 2, BCD */
	out(&pit, 0x40, 0x34);
	out(&pit, 0x40, 0x12);			/* 1234 decimal */
	CHECK_EQ(vatpit_deadline(&pit), at(0, 1234));
	f.ns = at(0, 5);
	CHECK_EQ(latched(&pit, 0), 0x1229);
	/* Count 0 in BCD is 10000. */
	program(&pit, 0, 2, 0);
	out(&pit, VATPIT_PORT_CTRL, 0x35);
	out(&pit, 0x40, 0);
	out(&pit, 0x40, 0);
	uint64_t b = f.ns;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 10000));
	f.ns = at(b, 1);
	CHECK_EQ(latched(&pit, 0), 0x9999);
	/* Mode 0 in BCD wraps from 0 to 9999. */
	out(&pit, VATPIT_PORT_CTRL, 0x31);
	out(&pit, 0x40, 0x05);
	out(&pit, 0x40, 0x00);
	b = f.ns;
	f.ns = at(b, 7);
	CHECK_EQ(latched(&pit, 0), 0x9998);
	/* Invalid digits count at face value and never crash. */
	out(&pit, VATPIT_PORT_CTRL, 0x35);
	out(&pit, 0x40, 0xff);
	out(&pit, 0x40, 0xff);
	b = f.ns;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 16665 % 10000));
}

TEST(vatpit_reload_and_bad_input)
{
	struct fake f = { .ns = 0 };
	struct vatpit pit;
	uint8_t v;

	setup(&pit, &f);
	/* A new count in mode 2 waits for the end of the current period. */
	program(&pit, 0, 2, 1000);
	f.ns = at(0, 400);
	out(&pit, 0x40, 100);
	out(&pit, 0x40, 0);
	CHECK_EQ(latched(&pit, 0), 600);
	CHECK_EQ(vatpit_deadline(&pit), at(0, 1000));
	f.ns = at(0, 999);
	CHECK_EQ(latched(&pit, 0), 1);
	f.rises = 0;
	/* The reload is at the period's end (a rise), then every 100 ticks. */
	run_to(&pit, &f, at(at(0, 1000), 100 * 10));
	CHECK_EQ(f.rises, 11);
	CHECK_EQ(vatpit_deadline(&pit), at(at(0, 1000), 1100));

	/* Count 1 in mode 2 is illegal: it counts as 2, no crash, no storm. */
	program(&pit, 0, 2, 1);
	uint64_t b = f.ns;
	CHECK_EQ(vatpit_deadline(&pit), at(b, 2));
	/* Also when it comes as a reload at the end of a period. */
	program(&pit, 0, 2, 100);
	b = f.ns;
	out(&pit, 0x40, 1);
	out(&pit, 0x40, 0);
	f.ns = at(b, 100);
	vatpit_update(&pit);
	CHECK_EQ(vatpit_deadline(&pit), at(at(b, 100), 2));
	CHECK_EQ(latched(&pit, 0), 2);
	b = at(b, 100);
	/* Modes 6 and 7 are 2 and 3; the status reports the mode as written. */
	out(&pit, VATPIT_PORT_CTRL, 0x3c);	/* mode 6 */
	out(&pit, 0x40, 10);
	out(&pit, 0x40, 0);
	b = f.ns;
	f.ns = at(b, 9);
	CHECK_EQ(vatpit_out(&pit, 0), 0);
	out(&pit, VATPIT_PORT_CTRL, 0xe2);
	CHECK_EQ(in(&pit, 0x40), 0x3c);
	/* Mode 1 and 5 on channel 0 never trigger: its gate is tied high. */
	program(&pit, 0, 1, 10);
	f.ns += 1000000;
	CHECK_EQ(vatpit_out(&pit, 0), 1);
	CHECK_EQ(vatpit_deadline(&pit), VIO_NO_DEADLINE);
	/* Reading a counter without a count written returns something sane. */
	vatpit_reset(&pit);
	(void)in(&pit, 0x41);
	(void)in(&pit, 0x41);
	/* Other ports and channels. */
	CHECK_EQ(vatpit_read(&pit, 0x44, &v), -EINVAL);
	CHECK_EQ(vatpit_write(&pit, 0x3f, 0), -EINVAL);
	CHECK_EQ(vatpit_out(&pit, 3), -1);
	/* Every control word and a byte to every port: nothing breaks. */
	for (int w = 0; w < 256; w++) {
		out(&pit, VATPIT_PORT_CTRL, (uint8_t)w);
		for (uint16_t p = 0x40; p <= 0x42; p++) {
			out(&pit, p, (uint8_t)(w * 7));
			(void)in(&pit, p);
		}
		out(&pit, 0x61, (uint8_t)w);
		f.ns += 977;
		vatpit_update(&pit);
		CHECK(vatpit_deadline(&pit) > f.ns - 977);
	}
	CHECK(f.rises < 1000);			/* the sink never saw a repeated level */
}

TEST(vatpit_snapshot)
{
	struct fake f = { .ns = 1000 }, g = { .ns = 77 };
	struct vatpit a, b;
	uint8_t buf[VATPIT_SNAP_SIZE], bad[VATPIT_SNAP_SIZE];

	setup(&a, &f);
	program(&a, 0, 2, 1193);
	out(&a, 0x61, NMISC_GATE2 | NMISC_SPKR);
	program(&a, 2, 0, 40000);
	program(&a, 1, 3, 18);
	f.ns += 123456;
	out(&a, 0x40, 0x10);			/* a pending reload on channel 0 */
	out(&a, 0x40, 0x02);
	out(&a, VATPIT_PORT_CTRL, 0x80);	/* channel 2 latched */
	CHECK_EQ(vatpit_snapshot_save(&a, buf, 10), VATPIT_SNAP_SIZE);
	REQUIRE(vatpit_snapshot_save(&a, buf, sizeof(buf)) == VATPIT_SNAP_SIZE);
	setup(&b, &g);
	CHECK_EQ(vatpit_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(vatpit_deadline(&b) - g.ns, vatpit_deadline(&a) - f.ns);
	for (int step = 0; step < 50; step++) {
		f.ns += 33333;
		g.ns += 33333;
		CHECK_EQ(in(&b, 0x42), in(&a, 0x42));
		CHECK_EQ(in(&b, 0x61) & 0x2f, in(&a, 0x61) & 0x2f);
		CHECK_EQ(latched(&b, 0), latched(&a, 0));
		CHECK_EQ(latched(&b, 1), latched(&a, 1));
		CHECK_EQ(vatpit_deadline(&b) - g.ns, vatpit_deadline(&a) - f.ns);
	}

	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 1 }, { 4, 1 },		/* magic, version */
		{ 8, 0x10 },			/* port 0x61 status bits */
		{ 9, 2 },			/* IRQ 0 level */
		{ 10, 1 },			/* padding */
		{ 20 + 0, 0x08 },		/* ch0 mode 8 */
		{ 20 + 1, 0x03 },		/* ch0 rw 0 */
		{ 20 + 3, 0x10 },		/* unknown flag */
		{ 20 + 3, 0x04 },		/* ch0 gate low */
		{ 20 + 8 + 2, 0x02 },		/* cr > 65536 */
		{ 20 + 12 + 2, 0x02 },		/* n > 65536 */
		{ 20 + 44, 1 },			/* padding */
		{ 20 + 48 + 2, 0x20 },		/* ch1 held by its gate in mode 3 */
		{ 20 + 48 + 2, 0x10 | 0x40 },	/* ch1 pending reload, not running */
		{ 20 + 96 + 3, 0x04 },		/* ch2 gate disagrees with port 0x61 */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		if (vatpit_snapshot_restore(&b, bad, sizeof(bad)) != -EINVAL) {
			fprintf(stderr, "patch %zu accepted\n", i);
			test_failed_ = 1;
		}
	}
	CHECK_EQ(vatpit_snapshot_restore(&b, buf, sizeof(buf) - 1), -EINVAL);
	CHECK_EQ(latched(&b, 1), latched(&a, 1));

	/* A BCD control word over a binary count and latch: still valid. */
	program(&a, 0, 2, 0);			/* 65536 */
	f.ns += 1000;
	out(&a, VATPIT_PORT_CTRL, 0x00);	/* latch a count above 9999 */
	out(&a, VATPIT_PORT_CTRL, 0x23);	/* MSB only, mode 1, BCD */
	REQUIRE(vatpit_snapshot_save(&a, buf, sizeof(buf)) == VATPIT_SNAP_SIZE);
	CHECK_EQ(vatpit_snapshot_restore(&b, buf, sizeof(buf)), 0);
}
