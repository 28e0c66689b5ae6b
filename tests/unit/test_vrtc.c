/*
 * test_vrtc.c - the MC146818 RTC (vmm/io/vrtc.c) with a fake clock and
 * IRQ 8 sink: calendar in BCD and binary, 12/24-hour, local time and UTC,
 * the update cycle and UIP, rollovers, SET and setting the time, alarm
 * with don't-care values, periodic rates, the divider, register C, NVRAM
 * and bhyve's memory fields, bad input, snapshots.
 */
#include <errno.h>

#include "test.h"
#include "io/vrtc.h"

#define T0	1709214330ll		/* 2024-02-29 13:45:30 UTC, a Thursday */
#define NSEC	1000000000ull

struct fake {
	uint64_t	ns;		/* monotonic */
	int64_t		wall;		/* UTC s at ns = 0 */
	int32_t		tz;		/* seconds east of UTC */
	bool		irq;
	int		rises;
};

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->ns;
}

static int64_t
fake_wall(void *arg)
{
	struct fake *f = arg;

	return f->wall * (int64_t)NSEC + (int64_t)f->ns;
}

static int32_t
fake_tz(void *arg, int64_t t)
{
	return ((struct fake *)arg)->tz;
}

static void
fake_irq8(void *arg, bool level)
{
	struct fake *f = arg;

	if (level == f->irq)
		f->rises += 100000;	/* a repeated level: never expected */
	f->irq = level;
	if (level)
		f->rises++;
}

static void
setup(struct vrtc *rtc, struct fake *f, bool utc)
{
	struct vrtc_clock c = { fake_now, fake_wall, fake_tz, f };
	struct vrtc_sink s = { fake_irq8, f };

	vrtc_init(rtc, utc, &c, &s);
}

static uint8_t
rd(struct vrtc *rtc, uint8_t reg)
{
	uint8_t v = 0x5a;

	CHECK_EQ(vrtc_write(rtc, VRTC_PORT_INDEX, reg), 0);
	CHECK_EQ(vrtc_read(rtc, VRTC_PORT_DATA, &v), 0);
	return v;
}

static void
wr(struct vrtc *rtc, uint8_t reg, uint8_t v)
{
	CHECK_EQ(vrtc_write(rtc, VRTC_PORT_INDEX, reg), 0);
	CHECK_EQ(vrtc_write(rtc, VRTC_PORT_DATA, v), 0);
}

/* hh:mm:ss as read, packed 0xhhmmss. */
static uint32_t
hms(struct vrtc *rtc)
{
	return (uint32_t)rd(rtc, RTC_HOUR) << 16 | (uint32_t)rd(rtc, RTC_MIN) << 8 |
	    rd(rtc, RTC_SEC);
}

/* day-of-week, day, month, year, century packed. */
static uint64_t
date(struct vrtc *rtc)
{
	return (uint64_t)rd(rtc, RTC_WDAY) << 32 | (uint64_t)rd(rtc, RTC_MDAY) << 24 |
	    (uint32_t)rd(rtc, RTC_MONTH) << 16 | (uint32_t)rd(rtc, RTC_YEAR) << 8 |
	    rd(rtc, RTC_CENTURY);
}

/* Advance to @ns running the update at each deadline; read C at each IRQ. */
static int
run_to(struct vrtc *rtc, struct fake *f, uint64_t ns, uint8_t want)
{
	uint64_t d;
	int n = 0;

	while ((d = vrtc_deadline(rtc)) <= ns) {
		CHECK(d >= f->ns);
		f->ns = d;
		vrtc_update(rtc);
		CHECK(f->irq);
		if ((rd(rtc, RTC_REG_C) & want) == want)
			n++;
		CHECK(!f->irq);
	}
	f->ns = ns;
	vrtc_update(rtc);
	return n;
}

TEST(vrtc_calendar_formats)
{
	struct fake f = { .wall = T0, .tz = 3600 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	/* As the BIOS leaves it: BCD, 24-hour, 32.768 kHz, 1024 Hz. */
	CHECK_EQ(rd(&rtc, RTC_REG_A), 0x26);
	CHECK_EQ(rd(&rtc, RTC_REG_B), 0x02);
	CHECK_EQ(rd(&rtc, RTC_REG_D), 0x80);
	CHECK_EQ(hms(&rtc), 0x134530);
	CHECK_EQ(date(&rtc), 0x0529022420ull);
	CHECK_EQ(vrtc_gettime(&rtc), T0);
	/* Binary. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_BIN);
	CHECK_EQ(hms(&rtc), 13u << 16 | 45 << 8 | 30);
	CHECK_EQ(date(&rtc), 5ull << 32 | 29u << 24 | 2 << 16 | 24 << 8 | 20);
	/* 12-hour, BCD: 1 PM is 0x81; binary 12-hour too. */
	wr(&rtc, RTC_REG_B, 0);
	CHECK_EQ(rd(&rtc, RTC_HOUR), 0x81);
	wr(&rtc, RTC_REG_B, RTCSB_BIN);
	CHECK_EQ(rd(&rtc, RTC_HOUR), 0x81);
	/* Midnight and noon in 12-hour mode: 12 AM, 12 PM. */
	CHECK_EQ(vrtc_settime(&rtc, T0 - 13 * 3600 - 45 * 60 - 30), 0);
	CHECK_EQ(rd(&rtc, RTC_HOUR), 12);
	CHECK_EQ(vrtc_settime(&rtc, T0 - 1 * 3600 - 45 * 60 - 30), 0);
	CHECK_EQ(rd(&rtc, RTC_HOUR), 0x8c);
	wr(&rtc, RTC_REG_B, 0);
	CHECK_EQ(rd(&rtc, RTC_HOUR), 0x92);

	/* Local time: the host zone's offset (+1 h here). */
	setup(&rtc, &f, false);
	CHECK_EQ(hms(&rtc), 0x144530);
	CHECK_EQ(vrtc_gettime(&rtc), T0 + 3600);
}

TEST(vrtc_update_cycle)
{
	struct fake f = { .wall = T0, .ns = 0 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	wr(&rtc, RTC_REG_A, RTCSA_DV_NORMAL);	/* no periodic flags in the way */
	/* The seconds tick at the host's second boundaries (T0 is on one). */
	f.ns = NSEC - 1;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x30);
	f.ns = NSEC;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x31);
	/* UIP: the 244 us before each update. */
	f.ns = 2 * NSEC - 244001;
	CHECK_EQ(rd(&rtc, RTC_REG_A) & RTCSA_UIP, 0);
	f.ns = 2 * NSEC - 244000;
	CHECK_EQ(rd(&rtc, RTC_REG_A) & RTCSA_UIP, RTCSA_UIP);
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x31);
	f.ns = 2 * NSEC;
	CHECK_EQ(rd(&rtc, RTC_REG_A), 0x20);
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x32);
	/* UF is set by every update, interrupt or not. */
	(void)rd(&rtc, RTC_REG_C);
	f.ns = 3 * NSEC;
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_UF);
	CHECK_EQ(rd(&rtc, RTC_REG_C), 0);
	CHECK(!f.irq);
	/* Update-ended interrupts: one a second, each cleared by reading C. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_UIE);
	CHECK_EQ(vrtc_deadline(&rtc), 4 * NSEC);
	CHECK_EQ(run_to(&rtc, &f, 13 * NSEC, RTCIR_INT | RTCIR_UF), 10);
	CHECK_EQ(f.rises, 10);
	CHECK_EQ(hms(&rtc), 0x134543);
	/* Not cleared: IRQ 8 stays up and no new deadline for UF. */
	f.ns = 14 * NSEC;
	vrtc_update(&rtc);
	CHECK(f.irq);
	f.ns = 20 * NSEC;
	vrtc_update(&rtc);
	CHECK_EQ(f.rises, 11);
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_INT | RTCIR_UF);
	CHECK(!f.irq);
}

TEST(vrtc_rollover)
{
	struct fake f = { .wall = 4102444798ll };	/* 2099-12-31 23:59:58 */
	struct vrtc rtc;

	setup(&rtc, &f, true);
	CHECK_EQ(date(&rtc), 0x0531129920ull);
	f.ns = 2 * NSEC;
	CHECK_EQ(hms(&rtc), 0x000000);
	CHECK_EQ(date(&rtc), 0x0601010021ull);	/* Friday 2100-01-01, century 21 */
	/* 2024 is a leap year: Feb 29 -> Mar 1; 2100 is not: Feb 28 -> Mar 1. */
	CHECK_EQ(vrtc_settime(&rtc, 1709251199), 0);
	CHECK_EQ(date(&rtc), 0x0529022420ull);
	f.ns += NSEC;
	CHECK_EQ(date(&rtc), 0x0601032420ull);
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_SET);
	wr(&rtc, RTC_YEAR, 0x00);
	wr(&rtc, RTC_CENTURY, 0x21);
	wr(&rtc, RTC_MONTH, 0x02);
	wr(&rtc, RTC_MDAY, 0x28);
	wr(&rtc, RTC_HOUR, 0x23);
	wr(&rtc, RTC_MIN, 0x59);
	wr(&rtc, RTC_SEC, 0x59);
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	f.ns += NSEC;
	CHECK_EQ(date(&rtc) & 0xffffffff, 0x01030021ull);
}

TEST(vrtc_set_time)
{
	struct fake f = { .wall = T0, .ns = 0 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	wr(&rtc, RTC_REG_A, RTCSA_DV_NORMAL);
	f.ns = 300000000;			/* 0.3 s into a second */
	/* SET stops the calendar, clears UIE, and UIP reads 0. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_UIE);
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_UIE | RTCSB_SET);
	CHECK_EQ(rd(&rtc, RTC_REG_B), RTCSB_24HR | RTCSB_SET);
	f.ns = 5 * NSEC - 100000;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x30);
	CHECK_EQ(rd(&rtc, RTC_REG_A) & RTCSA_UIP, 0);
	(void)rd(&rtc, RTC_REG_C);
	/* Linux's mc146818_set_time: SET, the registers, clear SET. */
	wr(&rtc, RTC_YEAR, 0x30);
	wr(&rtc, RTC_MONTH, 0x07);
	wr(&rtc, RTC_MDAY, 0x04);
	wr(&rtc, RTC_HOUR, 0x09);
	wr(&rtc, RTC_MIN, 0x08);
	wr(&rtc, RTC_SEC, 0x07);
	CHECK_EQ(hms(&rtc), 0x090807);
	f.ns += NSEC;
	CHECK_EQ(rd(&rtc, RTC_REG_C) & RTCIR_UF, 0);	/* no updates while SET */
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	/* 2030-07-04 09:08:07 UTC; the divider ran on under SET: its
	 * second ends 100 us later, with the host's. */
	CHECK_EQ(vrtc_gettime(&rtc), 1909386487ll);
	CHECK_EQ(date(&rtc), 0x0504073020ull);	/* a Thursday */
	f.ns = 6 * NSEC - 1;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x07);
	f.ns++;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x08);
	/* A write while running sets the time at once. */
	wr(&rtc, RTC_MIN, 0x30);
	CHECK_EQ(hms(&rtc), 0x093008);
	/* An impossible date stops the clock, showing what was written. */
	wr(&rtc, RTC_MONTH, 0x13);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	(void)rd(&rtc, RTC_REG_C);
	f.ns += 10 * NSEC;
	CHECK_EQ(rd(&rtc, RTC_MONTH), 0x13);
	CHECK_EQ(hms(&rtc), 0x093008);
	CHECK_EQ(rd(&rtc, RTC_REG_C) & RTCIR_UF, 0);
	wr(&rtc, RTC_MONTH, 0x02);
	wr(&rtc, RTC_MDAY, 0x30);		/* Feb 30: still impossible */
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_MDAY, 0x28);
	CHECK_EQ(date(&rtc) & 0xffffffff, 0x28023020ull);
	f.ns += NSEC;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x09);
	/* BCD digits above 9, bad hours in either mode. */
	wr(&rtc, RTC_SEC, 0x5a);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_SEC, 0x00);
	wr(&rtc, RTC_HOUR, 0x24);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_REG_B, 0);			/* 12-hour: 0x24 is no hour either */
	wr(&rtc, RTC_HOUR, 0x00);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_HOUR, 0x92);		/* 12 PM */
	CHECK_EQ(vrtc_gettime(&rtc) % 86400, 12 * 3600 + 30 * 60);
	/* The API. */
	CHECK_EQ(vrtc_settime(&rtc, T0), 0);
	CHECK_EQ(vrtc_gettime(&rtc), T0);
	CHECK_EQ(vrtc_settime(&rtc, 7258118400ll), -EINVAL);	/* 2200-01-01 */
	CHECK_EQ(vrtc_settime(&rtc, -2208988801ll), -EINVAL);	/* 1899-12-31 23:59:59 */
	CHECK_EQ(vrtc_settime(&rtc, 7258118399ll), 0);
	CHECK_EQ(vrtc_settime(&rtc, -2208988800ll), 0);
	/* A century outside 19-21 is an impossible date. */
	wr(&rtc, RTC_CENTURY, 0x22);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_CENTURY, 0x18);
	CHECK_EQ(vrtc_gettime(&rtc), -1);
	wr(&rtc, RTC_CENTURY, 0x19);
	CHECK_EQ(vrtc_gettime(&rtc), -2208988800ll);
	CHECK_EQ(vrtc_settime(&rtc, 0), 0);
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	CHECK_EQ(date(&rtc), 0x0501017019ull);	/* 1970-01-01, a Thursday */
}

TEST(vrtc_alarm)
{
	struct fake f = { .wall = T0, .ns = 0 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	wr(&rtc, RTC_REG_A, RTCSA_DV_NORMAL);
	/* 13:45:35: five seconds away. */
	wr(&rtc, RTC_HOUR_ALARM, 0x13);
	wr(&rtc, RTC_MIN_ALARM, 0x45);
	wr(&rtc, RTC_SEC_ALARM, 0x35);
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_AIE);
	CHECK_EQ(vrtc_deadline(&rtc), 5 * NSEC);
	f.ns = 5 * NSEC - 1;
	vrtc_update(&rtc);
	CHECK(!f.irq);
	f.ns = 5 * NSEC;
	vrtc_update(&rtc);
	CHECK(f.irq);
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_INT | RTCIR_AF | RTCIR_UF);
	/* Next: tomorrow. */
	CHECK_EQ(vrtc_deadline(&rtc), (5 + 86400) * NSEC);
	/* Don't care seconds: every second of 13:46. */
	wr(&rtc, RTC_MIN_ALARM, 0x46);
	wr(&rtc, RTC_SEC_ALARM, 0xc0);
	CHECK_EQ(vrtc_deadline(&rtc), 30 * NSEC);
	CHECK_EQ(run_to(&rtc, &f, 200 * NSEC, RTCIR_AF), 60);
	/* All don't care: every second. */
	wr(&rtc, RTC_HOUR_ALARM, 0xff);
	wr(&rtc, RTC_MIN_ALARM, 0xc5);
	wr(&rtc, RTC_SEC_ALARM, 0xfe);
	CHECK_EQ(run_to(&rtc, &f, 210 * NSEC, RTCIR_AF), 10);
	/* Once an hour, at minute 0 second 0: 14:00:00 is 870 s after T0. */
	wr(&rtc, RTC_MIN_ALARM, 0x00);
	wr(&rtc, RTC_SEC_ALARM, 0x00);
	CHECK_EQ(vrtc_deadline(&rtc), 870 * NSEC);
	/* An alarm that can never match: no deadline, no flag. */
	wr(&rtc, RTC_SEC_ALARM, 0x60);
	CHECK_EQ(vrtc_deadline(&rtc), VIO_NO_DEADLINE);
	wr(&rtc, RTC_SEC_ALARM, 0x3a);
	CHECK_EQ(vrtc_deadline(&rtc), VIO_NO_DEADLINE);
	/* 12-hour mode: 1 PM is 0x81 in the alarm too. */
	wr(&rtc, RTC_REG_B, RTCSB_AIE);
	wr(&rtc, RTC_HOUR_ALARM, 0x81);
	wr(&rtc, RTC_MIN_ALARM, 0x50);
	wr(&rtc, RTC_SEC_ALARM, 0x00);
	CHECK_EQ(vrtc_deadline(&rtc), (4 * 60 + 30) * NSEC);
	wr(&rtc, RTC_HOUR_ALARM, 0x01);		/* 1 AM */
	CHECK_EQ(vrtc_deadline(&rtc), (86400 - 13 * 3600 - 45 * 60 - 30 + 3600 + 50 * 60) * NSEC);
	/* AF without AIE: the flag, no interrupt, seen at the C read. */
	(void)rd(&rtc, RTC_REG_C);
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	wr(&rtc, RTC_HOUR_ALARM, 0xc0);
	wr(&rtc, RTC_MIN_ALARM, 0xc0);
	wr(&rtc, RTC_SEC_ALARM, 0xc0);
	f.ns += 3 * NSEC;
	vrtc_update(&rtc);
	CHECK(!f.irq);
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_AF | RTCIR_UF);
	/* Enabling AIE over a pending AF raises IRQ 8 at once. */
	f.ns += NSEC;
	vrtc_update(&rtc);
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_AIE);
	CHECK(f.irq);
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_INT | RTCIR_AF | RTCIR_UF);
	/* An alarm long past while the caller slept: AF once. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	wr(&rtc, RTC_HOUR_ALARM, 0x03);
	wr(&rtc, RTC_MIN_ALARM, 0x00);
	wr(&rtc, RTC_SEC_ALARM, 0x00);
	f.ns += 3 * 86400 * NSEC;
	CHECK_EQ(rd(&rtc, RTC_REG_C), RTCIR_AF | RTCIR_UF);
}

TEST(vrtc_periodic)
{
	struct fake f = { .wall = T0, .ns = 0 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	/* 1024 Hz (RS 6): 1024 interrupts a second. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_PIE);
	CHECK_EQ(vrtc_deadline(&rtc), 976563);	/* 976562.5 ns, rounded up */
	CHECK_EQ(run_to(&rtc, &f, NSEC, RTCIR_INT | RTCIR_PF), 1024);
	/* Every rate: 2^(16 - RS) Hz for RS >= 3, RS 1, 2 as 8, 9. */
	static const int hz[16] = { 0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128,
	    64, 32, 16, 8, 4, 2 };
	for (int rs = 0; rs < 16; rs++) {
		uint64_t start = f.ns;

		wr(&rtc, RTC_REG_A, (uint8_t)(RTCSA_DV_NORMAL | rs));
		CHECK_EQ(run_to(&rtc, &f, start + 2 * NSEC, RTCIR_PF), 2 * hz[rs]);
		if (rs == 0)
			CHECK_EQ(vrtc_deadline(&rtc), VIO_NO_DEADLINE);
	}
	/* PF without PIE: flagged, no interrupt. */
	wr(&rtc, RTC_REG_A, RTCSA_DV_NORMAL | 15);
	wr(&rtc, RTC_REG_B, RTCSB_24HR);
	(void)rd(&rtc, RTC_REG_C);
	f.ns += NSEC;
	vrtc_update(&rtc);
	CHECK(!f.irq);
	CHECK_EQ(rd(&rtc, RTC_REG_C) & RTCIR_PF, RTCIR_PF);
	/* Periodic interrupts go on while SET holds the calendar. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_SET | RTCSB_PIE);
	CHECK_EQ(run_to(&rtc, &f, f.ns + 3 * NSEC, RTCIR_PF), 6);
}

TEST(vrtc_divider)
{
	struct fake f = { .wall = T0, .ns = 0 };
	struct vrtc rtc;

	setup(&rtc, &f, true);
	f.ns = 250000000;
	/* Divider reset: the calendar and the periodic taps stop. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_PIE | RTCSB_UIE);
	wr(&rtc, RTC_REG_A, 0x76);
	CHECK_EQ(vrtc_deadline(&rtc), VIO_NO_DEADLINE);
	(void)rd(&rtc, RTC_REG_C);
	f.ns += 10 * NSEC;
	vrtc_update(&rtc);
	CHECK(!f.irq);
	CHECK_EQ(hms(&rtc), 0x134530);
	CHECK_EQ(rd(&rtc, RTC_REG_A) & RTCSA_UIP, 0);
	/* Back to 010: the first update half a second later. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_UIE);
	wr(&rtc, RTC_REG_A, 0x26);
	uint64_t b = f.ns;
	CHECK_EQ(vrtc_deadline(&rtc), b + NSEC / 2);
	f.ns = b + NSEC / 2 - 1;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x30);
	f.ns = b + NSEC / 2;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x31);
	/* Other time bases (000, 001) stop it too. */
	wr(&rtc, RTC_REG_A, 0x06);
	f.ns += 5 * NSEC;
	CHECK_EQ(rd(&rtc, RTC_SEC), 0x31);
}

TEST(vrtc_ports_nvram)
{
	struct fake f = { .wall = T0 };
	struct vrtc rtc;
	uint8_t v;

	setup(&rtc, &f, true);
	/* Index with NMI mask; the index port reads 0xff. */
	CHECK(!vrtc_nmi_masked(&rtc));
	CHECK_EQ(vrtc_write(&rtc, VRTC_PORT_INDEX, 0x80 | 0x40), 0);
	CHECK(vrtc_nmi_masked(&rtc));
	CHECK_EQ(vrtc_read(&rtc, VRTC_PORT_INDEX, &v), 0);
	CHECK_EQ(v, 0xff);
	CHECK_EQ(vrtc_write(&rtc, VRTC_PORT_DATA, 0x99), 0);
	CHECK_EQ(rd(&rtc, 0x40), 0x99);
	CHECK(!vrtc_nmi_masked(&rtc));
	/* Every NVRAM byte holds what is written. */
	for (int i = 0x0e; i < 128; i++)
		if (i != RTC_CENTURY)
			wr(&rtc, (uint8_t)i, (uint8_t)(i * 3));
	for (int i = 0x0e; i < 128; i++)
		if (i != RTC_CENTURY)
			CHECK_EQ(rd(&rtc, (uint8_t)i), (uint8_t)(i * 3));
	/* C and D are read-only; A's UIP too. */
	wr(&rtc, RTC_REG_D, 0);
	CHECK_EQ(rd(&rtc, RTC_REG_D), 0x80);
	wr(&rtc, RTC_REG_C, 0xff);
	CHECK_EQ(rd(&rtc, RTC_REG_C), 0);
	wr(&rtc, RTC_REG_A, 0xa6);
	CHECK_EQ(rd(&rtc, RTC_REG_A), 0x26);
	/* Bad ports and offsets. */
	CHECK_EQ(vrtc_read(&rtc, 0x72, &v), -EINVAL);
	CHECK_EQ(vrtc_write(&rtc, 0x6f, 0), -EINVAL);
	CHECK_EQ(vrtc_nvram_read(&rtc, 128, &v), -EINVAL);
	CHECK_EQ(vrtc_nvram_write(&rtc, -1, 0), -EINVAL);
	CHECK_EQ(vrtc_nvram_write(&rtc, 0x50, 0x12), 0);
	CHECK_EQ(vrtc_nvram_read(&rtc, 0x50, &v), 0);
	CHECK_EQ(v, 0x12);
	/* bhyve's memory fields: 3 GiB low, 4 GiB high. */
	vrtc_set_memsize(&rtc, 3ull << 30, 4ull << 30);
	CHECK_EQ(rd(&rtc, RTC_LMEM_LSB), 0x00);		/* (3G - 16M) / 64K = 0xbf00 */
	CHECK_EQ(rd(&rtc, RTC_LMEM_MSB), 0xbf);
	CHECK_EQ(rd(&rtc, RTC_HMEM_LSB), 0x00);		/* 4G / 64K = 0x10000 */
	CHECK_EQ(rd(&rtc, RTC_HMEM_SB), 0x00);
	CHECK_EQ(rd(&rtc, RTC_HMEM_MSB), 0x01);
	CHECK_EQ(rd(&rtc, RTC_BASEMEM_LO) | rd(&rtc, RTC_BASEMEM_HI) << 8, 640);
	CHECK_EQ(rd(&rtc, RTC_EXTMEM_LO) | rd(&rtc, RTC_EXTMEM_HI) << 8, 0xffff);
	CHECK_EQ(rd(&rtc, RTC_EXTMEM2_LO) | rd(&rtc, RTC_EXTMEM2_HI) << 8, 0xffff);
	vrtc_set_memsize(&rtc, 32ull << 20, 0);
	CHECK_EQ(rd(&rtc, RTC_LMEM_LSB) | rd(&rtc, RTC_LMEM_MSB) << 8, 256);
	CHECK_EQ(rd(&rtc, RTC_EXTMEM_LO) | rd(&rtc, RTC_EXTMEM_HI) << 8, 31 * 1024);
	CHECK_EQ(rd(&rtc, RTC_HMEM_MSB), 0);
	/* Machine reset: enables and flags clear, the time stays. */
	wr(&rtc, RTC_REG_B, RTCSB_24HR | RTCSB_UIE | RTCSB_PIE | RTCSB_SQWE);
	f.ns += NSEC;
	vrtc_update(&rtc);
	CHECK(f.irq);
	vrtc_reset(&rtc);
	CHECK(!f.irq);
	CHECK_EQ(rd(&rtc, RTC_REG_B), RTCSB_24HR);
	CHECK_EQ(rd(&rtc, RTC_REG_C), 0);
	CHECK_EQ(hms(&rtc), 0x134531);
	/* Anything to any register: no crash, IRQ 8 consistent. */
	for (int i = 0; i < 5000; i++) {
		wr(&rtc, (uint8_t)(i * 7 % 14), (uint8_t)(i * 131));
		(void)rd(&rtc, (uint8_t)(i * 11 % 128));
		f.ns += (uint64_t)(i % 17) * 7777777;
		vrtc_update(&rtc);
		CHECK(vrtc_deadline(&rtc) >= f.ns);
	}
	CHECK(f.rises < 100000);
}

TEST(vrtc_snapshot)
{
	struct fake f = { .wall = T0, .ns = 0 }, g = { .wall = T0 + 1000, .ns = 5 };
	struct vrtc a, b;
	uint8_t buf[VRTC_SNAP_SIZE], bad[VRTC_SNAP_SIZE];

	setup(&a, &f, true);
	vrtc_settime(&a, T0 + 86400);		/* a day ahead of the host */
	wr(&a, RTC_REG_A, RTCSA_DV_NORMAL | 15);
	wr(&a, RTC_REG_B, RTCSB_24HR | RTCSB_BIN | RTCSB_PIE);
	wr(&a, 0x40, 0x77);
	f.ns = NSEC;
	vrtc_update(&a);
	CHECK(f.irq);
	CHECK_EQ(vrtc_snapshot_save(&a, buf, 4), VRTC_SNAP_SIZE);
	REQUIRE(vrtc_snapshot_save(&a, buf, sizeof(buf)) == VRTC_SNAP_SIZE);
	/* Restored 1000 s of host time later: the RTC moved on with it. */
	setup(&b, &g, true);
	CHECK_EQ(vrtc_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK(g.irq);				/* the pending PF came along */
	CHECK_EQ(vrtc_gettime(&b), T0 + 86400 + 1000);
	CHECK_EQ(rd(&b, 0x40), 0x77);
	CHECK_EQ(rd(&b, RTC_REG_B), RTCSB_24HR | RTCSB_BIN | RTCSB_PIE);
	CHECK_EQ(rd(&b, RTC_REG_C), RTCIR_INT | RTCIR_PF | RTCIR_UF);
	CHECK(!g.irq);
	/* The UTC flag does not move a restored clock. */
	setup(&b, &g, false);
	CHECK_EQ(vrtc_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(vrtc_gettime(&b), T0 + 86400 + 1000);
	/* A calendar held by SET comes back held. */
	wr(&a, RTC_REG_B, RTCSB_24HR | RTCSB_BIN | RTCSB_SET);
	wr(&a, RTC_HOUR, 7);
	REQUIRE(vrtc_snapshot_save(&a, buf, sizeof(buf)) == VRTC_SNAP_SIZE);
	CHECK_EQ(vrtc_snapshot_restore(&b, buf, sizeof(buf)), 0);
	g.ns += 5 * NSEC;
	CHECK_EQ(rd(&b, RTC_HOUR), 7);
	CHECK_EQ(rd(&b, RTC_SEC), rd(&a, RTC_SEC));
	wr(&b, RTC_REG_B, RTCSB_24HR | RTCSB_BIN);
	CHECK_EQ(vrtc_gettime(&b) % 86400, 7 * 3600 + (T0 + 86400 + 1) % 3600);

	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 1 }, { 4, 1 },		/* magic, version */
		{ 8, RTCSA_UIP },		/* UIP stored */
		{ 9, RTCSB_UIE },		/* UIE with SET */
		{ 10, 0x01 },			/* C reserved bits */
		{ 11, 0x80 },			/* index > 0x7f */
		{ 12, 0x10 },			/* unknown flag */
		{ 12, 0x02 },			/* held with SET: not stopped */
		{ 13, 1 },			/* padding */
		{ 16 + 128 + 7, 0x70 },		/* offset past 2262 */
		{ 16 + 128 + 16, 1 },		/* reserved */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		if (vrtc_snapshot_restore(&b, bad, sizeof(bad)) != -EINVAL) {
			fprintf(stderr, "patch %zu accepted\n", i);
			test_failed_ = 1;
		}
	}
	/* Running, but "broken" with a valid calendar. */
	memcpy(bad, buf, sizeof(bad));
	bad[9] &= (uint8_t)~RTCSB_SET;
	bad[12] |= 0x04;
	CHECK_EQ(vrtc_snapshot_restore(&b, bad, sizeof(bad)), -EINVAL);
	CHECK_EQ(vrtc_snapshot_restore(&b, buf, sizeof(buf) - 1), -EINVAL);
}
