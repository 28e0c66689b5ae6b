/*
 * vrtc.c - the MC146818 RTC (Motorola MC146818A datasheet: "Time,
 * Calendar and Alarm Locations", "Registers A-D", "Update Cycle",
 * "Interrupts").  Interfaces and concurrency: vrtc.h.
 *
 * Two clocks: the divider chain (the 32.768 kHz time base, in ns of "RTC
 * time") runs while register A's DV is 010; the calendar follows it while
 * SET is clear.  Divider time = host UTC + offset_ns.  Seconds boundaries
 * of divider time are the update cycles; periodic interrupts are taps of
 * the same chain, so they stay in phase with the seconds.
 */
#include <errno.h>
#include <string.h>

#include "vrtc.h"

#define NS		1000000000ll
#define UIP_NS		244000ll		/* UIP before the update (datasheet) */
#define DAY		86400ll
#define NONE		VIO_NO_DEADLINE
/*
 * Years 1900-2199 can be set (century bytes 19-21): time is kept in int64
 * nanoseconds, which reach from 1677 to 2262.
 */
#define MIN_YEAR	1900
#define MAX_YEAR	2199
#define MIN_SECS	(-2208988800ll)		/* 1900-01-01 00:00:00 */
#define MAX_SECS	(7258118399ll)		/* 2199-12-31 23:59:59 */
#define MAX_OFFSET	(8000000000000000000ll)

/* ---- calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms) ---- */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
	static const uint8_t dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- register formats (register B: DM, 24/12) ---- */

static bool
binary(const struct vrtc *rtc)
{
	return (rtc->reg_b & RTCSB_BIN) != 0;
}

static uint8_t
enc(const struct vrtc *rtc, int v)
{
	return binary(rtc) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* A register's value, or -1 for BCD digits above 9. */
static int
dec(const struct vrtc *rtc, uint8_t v)
{
	if (binary(rtc))
		return v;
	if ((v & 0xf) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t
enc_hour(const struct vrtc *rtc, int h)
{
	if (rtc->reg_b & RTCSB_24HR)
		return enc(rtc, h);
	/* 12-hour: 12, 1..11 with bit 7 for PM. */
	return (uint8_t)(enc(rtc, h % 12 == 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0));
}

/* Hour 0-23 of an hour register, or -1. */
static int
dec_hour(const struct vrtc *rtc, uint8_t v)
{
	int h;

	if (rtc->reg_b & RTCSB_24HR) {
		h = dec(rtc, v);
		return h >= 0 && h <= 23 ? h : -1;
	}
	h = dec(rtc, v & 0x7f);
	if (h < 1 || h > 12)
		return -1;
	return h % 12 + ((v & 0x80) ? 12 : 0);
}

/* Write the calendar for @secs into @ram, in the current format. */
static void
secs_to_regs(const struct vrtc *rtc, int64_t secs, uint8_t *ram)
{
	int64_t days = floordiv(secs, DAY), sod = secs - days * DAY, y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	ram[RTC_SEC] = enc(rtc, (int)(sod % 60));
	ram[RTC_MIN] = enc(rtc, (int)(sod / 60 % 60));
	ram[RTC_HOUR] = enc_hour(rtc, (int)(sod / 3600));
	ram[RTC_WDAY] = enc(rtc, (int)((days % 7 + 11) % 7) + 1);	/* 1 = Sunday */
	ram[RTC_MDAY] = enc(rtc, d);
	ram[RTC_MONTH] = enc(rtc, m);
	ram[RTC_YEAR] = enc(rtc, (int)(y % 100));
	ram[RTC_CENTURY] = enc(rtc, (int)(y / 100));
}

/* The calendar in @ram as seconds, or false for an impossible date. */
static bool
regs_to_secs(const struct vrtc *rtc, const uint8_t *ram, int64_t *secs)
{
	int s = dec(rtc, ram[RTC_SEC]), mi = dec(rtc, ram[RTC_MIN]);
	int h = dec_hour(rtc, ram[RTC_HOUR]), d = dec(rtc, ram[RTC_MDAY]);
	int mo = dec(rtc, ram[RTC_MONTH]), y = dec(rtc, ram[RTC_YEAR]);
	int c = dec(rtc, ram[RTC_CENTURY]);
	int64_t year;

	/* The day of the week is not checked: the chip only counts it. */
	if (s < 0 || s > 59 || mi < 0 || mi > 59 || h < 0 || mo < 1 || mo > 12 ||
	    y < 0 || y > 99 || c < 0 || c > 99)
		return false;
	year = (int64_t)c * 100 + y;
	if (year < MIN_YEAR || year > MAX_YEAR || d < 1 || d > days_in_month(year, mo))
		return false;
	*secs = days_from_civil(year, mo, d) * DAY + h * 3600 + mi * 60 + s;
	return true;
}

/* ---- time ---- */

static int64_t
host_ns(const struct vrtc *rtc)
{
	return rtc->wall_base + (int64_t)(rtc->clock.now_ns(rtc->clock.arg) - rtc->mono_base);
}

static bool
divider_on(const struct vrtc *rtc)
{
	return (rtc->reg_a & RTCSA_DV) == RTCSA_DV_NORMAL;
}

static int64_t
dv_ns(const struct vrtc *rtc)
{
	return divider_on(rtc) ? host_ns(rtc) + rtc->offset_ns : rtc->dv_frozen_ns;
}

static bool
cal_running(const struct vrtc *rtc)
{
	return !rtc->stopped;
}

/* Periodic rate as a divider tap: 32768 Hz ticks per interrupt, or 0. */
static int64_t
periodic_ticks(const struct vrtc *rtc)
{
	int rs = rtc->reg_a & RTCSA_RS;

	if (rs == 0)
		return 0;
	/* RS 1 and 2 are 256 and 128 Hz, as RS 8 and 9 (datasheet Table 5). */
	return rs <= 2 ? 1ll << (rs + 6) : 1ll << (rs - 1);
}

/* 32.768 kHz ticks of divider time, floored. */
static int64_t
ticks32k(int64_t ns)
{
	return floordiv(ns, NS) * 32768 + (ns - floordiv(ns, NS) * NS) * 32768 / NS;
}

/* Divider time of the first 32.768 kHz tick >= @t. */
static int64_t
ticks32k_ns(int64_t t)
{
	int64_t s = floordiv(t, 32768), r = t - s * 32768;

	return s * NS + (r * NS + 32767) / 32768;
}

/* The alarm's allowed values: @ok[v] for v in 0..n-1; false if none can match. */
static bool
alarm_set(const struct vrtc *rtc, uint8_t reg, bool hour, bool *ok, int n)
{
	int v;

	/* Don't care: both top bits set (datasheet, "Alarm"). */
	if ((reg & 0xc0) == 0xc0) {
		for (int i = 0; i < n; i++)
			ok[i] = true;
		return true;
	}
	memset(ok, 0, (size_t)n * sizeof(*ok));
	v = hour ? dec_hour(rtc, reg) : dec(rtc, reg);
	if (v < 0 || v >= n)
		return false;
	ok[v] = true;
	return true;
}

/* The first calendar second after @t that matches the alarm, or INT64_MAX. */
static int64_t
next_alarm(const struct vrtc *rtc, int64_t t)
{
	bool hok[24], mok[60], sok[60];
	int64_t day0 = floordiv(t, DAY) * DAY, start = t - day0 + 1;

	if (!alarm_set(rtc, rtc->ram[RTC_HOUR_ALARM], true, hok, 24) ||
	    !alarm_set(rtc, rtc->ram[RTC_MIN_ALARM], false, mok, 60) ||
	    !alarm_set(rtc, rtc->ram[RTC_SEC_ALARM], false, sok, 60))
		return INT64_MAX;
	for (int day = 0; day < 2; day++, start = 0) {
		int h0 = (int)(start / 3600), m0 = (int)(start % 3600 / 60), s0 = (int)(start % 60);

		for (int h = h0; h < 24; h++) {
			if (!hok[h])
				continue;
			for (int m = h == h0 ? m0 : 0; m < 60; m++) {
				if (!mok[m])
					continue;
				for (int s = h == h0 && m == m0 ? s0 : 0; s < 60; s++)
					if (sok[s])
						return day0 + day * DAY + h * 3600 + m * 60 + s;
			}
		}
	}
	return INT64_MAX;
}

static void
set_irq(struct vrtc *rtc)
{
	uint8_t c = rtc->reg_c & ~RTCIR_INT;
	bool on = (c & rtc->reg_b & (RTCIR_PF | RTCIR_AF | RTCIR_UF)) != 0;

	rtc->reg_c = c | (on ? RTCIR_INT : 0);
	if (on != rtc->irq) {
		rtc->irq = on;
		if (rtc->sink.irq8 != NULL)
			rtc->sink.irq8(rtc->sink.arg, on);
	}
}

/* Set the flags of what happened in divider time (ev_ns, now]. */
static void
sync(struct vrtc *rtc)
{
	int64_t now = dv_ns(rtc), from = rtc->ev_ns, per = periodic_ticks(rtc);

	if (now > from && divider_on(rtc)) {
		if (per != 0 && floordiv(ticks32k(now), per) > floordiv(ticks32k(from), per))
			rtc->reg_c |= RTCIR_PF;
		if (cal_running(rtc) && floordiv(now, NS) > floordiv(from, NS)) {
			rtc->reg_c |= RTCIR_UF;
			if (next_alarm(rtc, floordiv(from, NS)) <= floordiv(now, NS))
				rtc->reg_c |= RTCIR_AF;
		}
	}
	rtc->ev_ns = now;
	set_irq(rtc);
}

/* Divider time jumped (time set, divider restarted): no events for the jump. */
static void
rebase(struct vrtc *rtc)
{
	rtc->ev_ns = dv_ns(rtc);
	set_irq(rtc);
}

/* Hold the calendar in ram[] as it reads now. */
static void
stop(struct vrtc *rtc)
{
	if (rtc->stopped)
		return;
	secs_to_regs(rtc, floordiv(dv_ns(rtc), NS), rtc->ram);
	rtc->stopped = true;
}

/*
 * Run the calendar from ram[] if nothing holds it: the divider goes on
 * within its second (@frac_ns, the phase to keep).
 */
static void
try_start(struct vrtc *rtc, int64_t frac_ns)
{
	int64_t secs;

	if (!divider_on(rtc) || (rtc->reg_b & RTCSB_SET))
		return;
	if (!regs_to_secs(rtc, rtc->ram, &secs)) {
		rtc->broken = true;
		return;
	}
	rtc->broken = false;
	rtc->stopped = false;
	rtc->offset_ns = secs * NS + frac_ns - host_ns(rtc);
	rebase(rtc);
}

static int64_t
phase(const struct vrtc *rtc)
{
	int64_t t = dv_ns(rtc);

	return t - floordiv(t, NS) * NS;
}

static void
write_a(struct vrtc *rtc, uint8_t val)
{
	bool was_on = divider_on(rtc), on = (val & RTCSA_DV) == RTCSA_DV_NORMAL;
	int64_t dv = dv_ns(rtc);

	/* The chain stops (reset or another time base): so does the calendar. */
	if (was_on && !on) {
		stop(rtc);
		rtc->dv_frozen_ns = dv;
	}
	rtc->reg_a = val & ~RTCSA_UIP;
	if (!was_on && on) {
		/* "The first update cycle begins one-half second later." */
		rtc->offset_ns = floordiv(rtc->dv_frozen_ns, NS) * NS + NS / 2 - host_ns(rtc);
		try_start(rtc, NS / 2);
	}
	rebase(rtc);
}

static void
write_b(struct vrtc *rtc, uint8_t val)
{
	bool was_set = rtc->reg_b & RTCSB_SET;

	if (!was_set && (val & RTCSB_SET))
		stop(rtc);
	/* SET clears UIE (datasheet, register B). */
	if (val & RTCSB_SET)
		val &= ~RTCSB_UIE;
	rtc->reg_b = val;
	if (was_set && !(val & RTCSB_SET))
		try_start(rtc, phase(rtc));
	set_irq(rtc);	/* an enable over a pending flag raises IRQF */
}

static bool
is_calendar(int off)
{
	return (off <= RTC_YEAR && off != RTC_SEC_ALARM && off != RTC_MIN_ALARM &&
	    off != RTC_HOUR_ALARM) || off == RTC_CENTURY;
}

static uint8_t
reg_read(struct vrtc *rtc, int off)
{
	uint8_t ram[VRTC_NREGS], v;

	sync(rtc);
	if (is_calendar(off)) {
		if (rtc->stopped)
			return rtc->ram[off];
		secs_to_regs(rtc, floordiv(dv_ns(rtc), NS), ram);
		return ram[off];
	}
	switch (off) {
	case RTC_REG_A:
		/* UIP: the 244 us before an update of a running calendar. */
		if (cal_running(rtc) && phase(rtc) >= NS - UIP_NS)
			return rtc->reg_a | RTCSA_UIP;
		return rtc->reg_a;
	case RTC_REG_B:
		return rtc->reg_b;
	case RTC_REG_C:
		/* Reading C clears the flags and releases IRQ 8. */
		v = rtc->reg_c;
		rtc->reg_c = 0;
		set_irq(rtc);
		return v;
	case RTC_REG_D:
		return RTCSD_VRT;	/* the battery is fine */
	default:
		return rtc->ram[off];
	}
}

static void
reg_write(struct vrtc *rtc, int off, uint8_t val)
{
	int64_t frac;

	sync(rtc);
	if (is_calendar(off)) {
		/* While running, a write sets the time from the new value at once. */
		frac = phase(rtc);
		stop(rtc);
		rtc->ram[off] = val;
		try_start(rtc, frac);
		return;
	}
	switch (off) {
	case RTC_REG_A:
		write_a(rtc, val);
		break;
	case RTC_REG_B:
		write_b(rtc, val);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;		/* read-only */
	default:
		rtc->ram[off] = val;
		break;
	}
}

int
vrtc_read(struct vrtc *rtc, uint16_t port, uint8_t *val)
{
	switch (port) {
	case VRTC_PORT_INDEX:
		*val = 0xff;	/* write-only on the PC */
		return 0;
	case VRTC_PORT_DATA:
		*val = reg_read(rtc, rtc->index);
		return 0;
	default:
		return -EINVAL;
	}
}

int
vrtc_write(struct vrtc *rtc, uint16_t port, uint8_t val)
{
	switch (port) {
	case VRTC_PORT_INDEX:
		rtc->index = val & 0x7f;
		rtc->nmi_masked = (val & 0x80) != 0;
		return 0;
	case VRTC_PORT_DATA:
		reg_write(rtc, rtc->index, val);
		return 0;
	default:
		return -EINVAL;
	}
}

bool
vrtc_nmi_masked(const struct vrtc *rtc)
{
	return rtc->nmi_masked;
}

int
vrtc_nvram_read(struct vrtc *rtc, int off, uint8_t *val)
{
	if (off < 0 || off >= VRTC_NREGS)
		return -EINVAL;
	*val = reg_read(rtc, off);
	return 0;
}

int
vrtc_nvram_write(struct vrtc *rtc, int off, uint8_t val)
{
	if (off < 0 || off >= VRTC_NREGS)
		return -EINVAL;
	reg_write(rtc, off, val);
	return 0;
}

int
vrtc_settime(struct vrtc *rtc, int64_t secs)
{
	if (secs < MIN_SECS || secs > MAX_SECS)
		return -EINVAL;
	sync(rtc);
	if (rtc->stopped) {
		secs_to_regs(rtc, secs, rtc->ram);
		try_start(rtc, 0);
	} else {
		rtc->offset_ns = secs * NS - host_ns(rtc);
		rebase(rtc);
	}
	return 0;
}

int64_t
vrtc_gettime(struct vrtc *rtc)
{
	int64_t secs;

	if (!rtc->stopped)
		return floordiv(dv_ns(rtc), NS);
	return regs_to_secs(rtc, rtc->ram, &secs) ? secs : -1;
}

void
vrtc_set_memsize(struct vrtc *rtc, uint64_t lowmem, uint64_t highmem)
{
	uint64_t ext = lowmem > (1u << 20) ? (lowmem - (1u << 20)) / 1024 : 0;
	uint64_t low = lowmem > (16u << 20) ? (lowmem - (16u << 20)) / 65536 : 0;
	uint64_t high = highmem / 65536;

	ext = ext > 0xffff ? 0xffff : ext;
	low = low > 0xffff ? 0xffff : low;
	high = high > 0xffffff ? 0xffffff : high;
	rtc->ram[RTC_BASEMEM_LO] = 640 & 0xff;
	rtc->ram[RTC_BASEMEM_HI] = 640 >> 8;
	rtc->ram[RTC_EXTMEM_LO] = rtc->ram[RTC_EXTMEM2_LO] = (uint8_t)ext;
	rtc->ram[RTC_EXTMEM_HI] = rtc->ram[RTC_EXTMEM2_HI] = (uint8_t)(ext >> 8);
	rtc->ram[RTC_LMEM_LSB] = (uint8_t)low;
	rtc->ram[RTC_LMEM_MSB] = (uint8_t)(low >> 8);
	rtc->ram[RTC_HMEM_LSB] = (uint8_t)high;
	rtc->ram[RTC_HMEM_SB] = (uint8_t)(high >> 8);
	rtc->ram[RTC_HMEM_MSB] = (uint8_t)(high >> 16);
}

/* ---- deadline ---- */

uint64_t
vrtc_deadline(struct vrtc *rtc)
{
	int64_t now = dv_ns(rtc), best = INT64_MAX, per = periodic_ticks(rtc), t, a;
	uint64_t mono = rtc->clock.now_ns(rtc->clock.arg);

	if (!divider_on(rtc))
		return NONE;
	/* Only interrupts that are enabled and not already flagged. */
	if ((rtc->reg_b & RTCSB_PIE) && !(rtc->reg_c & RTCIR_PF) && per != 0) {
		t = (floordiv(ticks32k(rtc->ev_ns), per) + 1) * per;
		best = ticks32k_ns(t);
	}
	if (cal_running(rtc)) {
		t = (floordiv(rtc->ev_ns, NS) + 1) * NS;
		if ((rtc->reg_b & RTCSB_UIE) && !(rtc->reg_c & RTCIR_UF) && t < best)
			best = t;
		if ((rtc->reg_b & RTCSB_AIE) && !(rtc->reg_c & RTCIR_AF)) {
			a = next_alarm(rtc, floordiv(rtc->ev_ns, NS));
			if (a != INT64_MAX && a * NS < best)
				best = a * NS;
		}
	}
	if (best == INT64_MAX)
		return NONE;
	return best <= now ? mono : mono + (uint64_t)(best - now);
}

void
vrtc_update(struct vrtc *rtc)
{
	sync(rtc);
}

/* ---- init, reset ---- */

void
vrtc_reset(struct vrtc *rtc)
{
	sync(rtc);
	/* RESET clears PIE, AIE, UIE, SQWE and the flags; time and RAM stay. */
	rtc->reg_b &= ~(RTCSB_PIE | RTCSB_AIE | RTCSB_UIE | RTCSB_SQWE);
	rtc->reg_c = 0;
	set_irq(rtc);
}

void
vrtc_init(struct vrtc *rtc, bool utc, const struct vrtc_clock *clock,
    const struct vrtc_sink *sink)
{
	int64_t tz = 0;

	memset(rtc, 0, sizeof(*rtc));
	rtc->clock = *clock;
	if (sink != NULL)
		rtc->sink = *sink;
	rtc->mono_base = clock->now_ns(clock->arg);
	rtc->wall_base = clock->wall_ns(clock->arg);
	if (!utc && clock->utc_offset != NULL)
		tz = clock->utc_offset(clock->arg, floordiv(rtc->wall_base, NS));
	/* As a PC BIOS leaves it: 32.768 kHz, 1024 Hz rate; 24-hour BCD. */
	rtc->reg_a = RTCSA_DV_NORMAL | 0x06;
	rtc->reg_b = RTCSB_24HR;
	rtc->offset_ns = tz * NS;
	/* Outside years 1900-2199 (a host clock gone mad): start at 2000-01-01. */
	if (floordiv(dv_ns(rtc), NS) < MIN_SECS || floordiv(dv_ns(rtc), NS) > MAX_SECS)
		rtc->offset_ns = 946684800ll * NS - host_ns(rtc);
	rtc->ev_ns = dv_ns(rtc);
}

/* ---- snapshot ---- */

#define SNAP_MAGIC	0x43545256u	/* "VRTC" */
#define SNAP_VERSION	1
enum { F_NMI = 0x01, F_STOPPED = 0x02, F_BROKEN = 0x04, F_IRQ = 0x08 };

ssize_t
vrtc_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vrtc *rtc = arg;
	struct vio_cur c = { .w = buf, .cap = cap };

	if (cap < VRTC_SNAP_SIZE)
		return VRTC_SNAP_SIZE;
	sync(rtc);
	vio_put32(&c, SNAP_MAGIC);
	vio_put32(&c, SNAP_VERSION);
	vio_put8(&c, rtc->reg_a);
	vio_put8(&c, rtc->reg_b);
	vio_put8(&c, rtc->reg_c);
	vio_put8(&c, rtc->index);
	vio_put8(&c, (uint8_t)((rtc->nmi_masked ? F_NMI : 0) | (rtc->stopped ? F_STOPPED : 0) |
	    (rtc->broken ? F_BROKEN : 0) | (rtc->irq ? F_IRQ : 0)));
	vio_put8(&c, 0);
	vio_put8(&c, 0);
	vio_put8(&c, 0);
	for (int i = 0; i < VRTC_NREGS; i++)
		vio_put8(&c, rtc->ram[i]);
	vio_put64(&c, (uint64_t)rtc->offset_ns);
	vio_put64(&c, (uint64_t)rtc->dv_frozen_ns);
	vio_put64(&c, 0);
	return (ssize_t)c.off;
}

int
vrtc_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vrtc *rtc = arg, n;
	struct vio_cur c = { .r = data, .cap = len };
	uint8_t f;
	int64_t secs;

	if (len != VRTC_SNAP_SIZE || vio_get32(&c) != SNAP_MAGIC ||
	    vio_get32(&c) != SNAP_VERSION)
		return -EINVAL;
	n = *rtc;
	n.reg_a = vio_get8(&c);
	n.reg_b = vio_get8(&c);
	n.reg_c = vio_get8(&c);
	n.index = vio_get8(&c);
	f = vio_get8(&c);
	if (vio_get8(&c) | vio_get8(&c) | vio_get8(&c))
		return -EINVAL;
	for (int i = 0; i < VRTC_NREGS; i++)
		n.ram[i] = vio_get8(&c);
	n.offset_ns = (int64_t)vio_get64(&c);
	n.dv_frozen_ns = (int64_t)vio_get64(&c);
	if (vio_get64(&c) != 0)
		return -EINVAL;
	n.nmi_masked = f & F_NMI;
	n.stopped = f & F_STOPPED;
	n.broken = f & F_BROKEN;
	n.irq = f & F_IRQ;
	/* What the registers cannot hold, and states no sequence reaches. */
	if ((f & ~0x0f) || (n.reg_a & RTCSA_UIP) || n.index > 0x7f ||
	    (n.reg_c & 0x0f) || ((n.reg_b & RTCSB_SET) && (n.reg_b & RTCSB_UIE)))
		return -EINVAL;
	if (n.broken && !n.stopped)
		return -EINVAL;
	if (!(n.reg_b & RTCSB_SET) && divider_on(&n)) {
		/* Free to run: stopped only by an impossible date. */
		if (n.stopped != n.broken || (n.broken && regs_to_secs(&n, n.ram, &secs)))
			return -EINVAL;
	} else if (!n.stopped) {
		return -EINVAL;
	}
	/* The divider time must stay within the years that can be set. */
	if (n.offset_ns > MAX_OFFSET || n.offset_ns < -MAX_OFFSET ||
	    n.dv_frozen_ns > MAX_SECS * NS || n.dv_frozen_ns < MIN_SECS * NS ||
	    dv_ns(&n) > MAX_SECS * NS || dv_ns(&n) < MIN_SECS * NS)
		return -EINVAL;
	n.ev_ns = dv_ns(&n);
	n.irq = rtc->irq;	/* set_irq tells the sink if IRQF differs */
	*rtc = n;
	set_irq(rtc);
	return 0;
}
