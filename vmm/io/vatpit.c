/*
 * vatpit.c - the 8254 interval timer (Intel 82C54 datasheet, "Modes",
 * "Read-Back Command") and port 0x61.  Interfaces and concurrency: vatpit.h.
 *
 * Each channel keeps the count it loaded (n) and when (base_ns); the
 * counting element, OUT and OUT's rising edges are functions of the ticks
 * t since then, per mode:
 *   0  OUT low until t = n, then high     (CE: n - t, wrapping)
 *   1  as 0, from a gate trigger
 *   2  OUT low for the tick where CE = 1; CE n..1, reloads every n
 *   3  OUT high (n+1)/2 ticks, low n/2; CE decrements by 2, reloads every n
 *   4  OUT low for the one tick at t = n  (CE: n - t, wrapping)
 *   5  as 4, from a gate trigger
 */
#include <errno.h>
#include <string.h>

#include "vatpit.h"

#define NONE		UINT64_MAX
#define REFRESH_NS	15085		/* port 0x61 bit 4 period / 2 */

/* Modes 6 and 7 are 2 and 3 (datasheet, control word format). */
static int
mode_of(const struct vatpit_chan *ch)
{
	return ch->mode > 5 ? ch->mode - 4 : ch->mode;
}

static uint32_t
modulus(const struct vatpit_chan *ch)
{
	return ch->bcd ? 10000 : 65536;
}

static uint64_t
ticks(const struct vatpit_chan *ch, uint64_t now)
{
	if (ch->frozen)
		return ch->frozen_t;
	return vio_ns_to_ticks(now - ch->base_ns, VATPIT_HZ);
}

/* The count register as the counting element loads it. */
static uint32_t
load_count(const struct vatpit_chan *ch)
{
	int mode = mode_of(ch);

	/* A count of 1 is illegal in modes 2 and 3; it counts as 2 here. */
	if ((mode == 2 || mode == 3) && ch->cr < 2)
		return 2;
	return ch->cr;
}

/* A count register written in modes 2 and 3 reloads at the period's end. */
static void
chan_sync(struct vatpit_chan *ch, uint64_t now)
{
	if (ch->pend && (int64_t)(now - ch->pend_ns) >= 0) {
		ch->base_ns = ch->pend_ns;
		ch->n = load_count(ch);
		ch->pend = false;
		ch->null_count = false;
	}
}

static uint32_t
chan_ce(const struct vatpit_chan *ch, uint64_t now)
{
	uint64_t t, p, n = ch->n, m = modulus(ch);
	uint64_t v;

	if (!ch->running)
		return ch->ce_idle;
	t = ticks(ch, now);
	switch (mode_of(ch)) {
	case 2:
		v = n - t % n;
		break;
	case 3:
		p = t % n;
		if (p >= (n + 1) / 2)
			p -= (n + 1) / 2;
		v = (n & ~1ull) - 2 * p;
		break;
	default:	/* 0, 1, 4, 5: counts down through 0 and wraps */
		v = (n + m - t % m) % m;
		break;
	}
	return (uint32_t)(v % m);
}

static bool
chan_out(const struct vatpit_chan *ch, uint64_t now)
{
	uint64_t t, n = ch->n;

	if (!ch->running)
		return ch->out_idle;
	t = ticks(ch, now);
	switch (mode_of(ch)) {
	case 0:
	case 1:
		return t >= n;
	case 2:
		return t % n != n - 1;
	case 3:
		return t % n < (n + 1) / 2;
	default:	/* 4, 5 */
		return t != n;
	}
}

/* OUT's rising edges in the ticks (t0, t1]. */
static uint64_t
chan_rises(const struct vatpit_chan *ch, uint64_t t0, uint64_t t1)
{
	uint64_t n = ch->n;

	if (t1 <= t0)
		return 0;
	switch (mode_of(ch)) {
	case 0:
	case 1:
		return t0 < n && n <= t1;
	case 2:
	case 3:
		return t1 / n - t0 / n;
	default:
		return t0 < n + 1 && n + 1 <= t1;
	}
}

/* The first rising edge after tick t, or NONE. */
static uint64_t
chan_next_rise(const struct vatpit_chan *ch, uint64_t t)
{
	uint64_t n = ch->n;

	switch (mode_of(ch)) {
	case 0:
	case 1:
		return t < n ? n : NONE;
	case 2:
	case 3:
		return (t / n + 1) * n;
	default:
		return t < n + 1 ? n + 1 : NONE;
	}
}

/* Load the count register into the counting element now. */
static void
chan_start(struct vatpit_chan *ch, uint64_t now)
{
	int mode = mode_of(ch);

	ch->running = true;
	ch->base_ns = now;
	ch->n = load_count(ch);
	ch->pend = false;
	ch->null_count = false;
	/* Modes 0 and 4 count only while the gate is high. */
	ch->frozen = (mode == 0 || mode == 4) && !ch->gate;
	ch->frozen_t = 0;
}

static void
chan_stop(struct vatpit_chan *ch, uint64_t now, bool out)
{
	ch->ce_idle = chan_ce(ch, now);
	ch->running = false;
	ch->frozen = false;
	ch->pend = false;
	ch->out_idle = out;
}

static uint32_t
bcd_to_bin(uint32_t v)
{
	/* Digits above 9 count at face value: the chip has no defined use for them. */
	return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 +
	    (v & 0xf);
}

static uint32_t
bin_to_bcd(uint32_t v)
{
	return (v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
}

/* A whole count was written (datasheet: "Mode Definitions", new counts). */
static void
chan_count_written(struct vatpit_chan *ch, uint32_t raw, uint64_t now)
{
	uint32_t v = ch->bcd ? bcd_to_bin(raw) % 10000 : raw;

	ch->cr = v == 0 ? modulus(ch) : v;	/* 0 is the largest count */
	ch->armed = true;
	ch->null_count = true;
	switch (mode_of(ch)) {
	case 0:
	case 4:
		chan_start(ch, now);		/* restarts at once */
		break;
	case 2:
	case 3:
		if (!ch->running) {
			if (ch->gate)
				chan_start(ch, now);
		} else {
			/* Takes effect when the current period ends. */
			uint64_t end = chan_next_rise(ch, ticks(ch, now));

			ch->pend = true;
			ch->pend_ns = ch->base_ns + vio_ticks_to_ns(end, VATPIT_HZ);
		}
		break;
	default:	/* 1, 5: loaded at the next gate trigger */
		break;
	}
}

static void
chan_gate(struct vatpit_chan *ch, bool gate, uint64_t now)
{
	bool rise = gate && !ch->gate;

	if (gate == ch->gate)
		return;
	switch (mode_of(ch)) {
	case 0:
	case 4:
		/* The gate holds and resumes the count. */
		if (ch->running && rise && ch->frozen) {
			ch->base_ns = now - vio_ticks_to_ns(ch->frozen_t, VATPIT_HZ);
			ch->frozen = false;
		} else if (ch->running && !rise && !ch->frozen) {
			ch->frozen_t = ticks(ch, now);
			ch->frozen = true;
		}
		break;
	case 2:
	case 3:
		/* Low: OUT high and counting stops; the rise reloads. */
		if (rise && ch->armed)
			chan_start(ch, now);
		else if (!rise && ch->running)
			chan_stop(ch, now, true);
		break;
	default:
		/* 1, 5: a rising edge (re)triggers. */
		if (rise && ch->armed) {
			chan_start(ch, now);
			ch->frozen = false;
		}
		break;
	}
	ch->gate = gate;
}

static uint8_t
chan_status(const struct vatpit_chan *ch, uint64_t now)
{
	/* Read-back status byte: OUT, NULL COUNT, RW, M, BCD. */
	return (uint8_t)(chan_out(ch, now) << 7 | ch->null_count << 6 | ch->rw << 4 |
	    ch->mode << 1 | ch->bcd);
}

static void
chan_latch(struct vatpit_chan *ch, uint64_t now)
{
	/* A second latch before the first is read is ignored. */
	if (ch->ol_latched)
		return;
	ch->ol = (uint16_t)chan_ce(ch, now);
	ch->ol_latched = true;
}

static void
chan_reset(struct vatpit_chan *ch, bool gate)
{
	memset(ch, 0, sizeof(*ch));
	/* Undefined at power-up: mode 0, LSB then MSB, binary, nothing loaded. */
	ch->rw = 3;
	ch->null_count = true;
	ch->cr = 65536;
	ch->n = 65536;
	ch->gate = gate;
}

/* ---- OUT0 -> IRQ 0 ---- */

static void
irq0_tell(struct vatpit *pit, bool level)
{
	pit->irq0_level = level;
	if (pit->sink.irq0 != NULL)
		pit->sink.irq0(pit->sink.arg, level);
}

/* Hand the sink OUT0's level and any rising edge since the last call. */
static void
irq0_sync(struct vatpit *pit, uint64_t now)
{
	struct vatpit_chan *ch = &pit->ch[0];
	bool rose = false, level;
	uint64_t t0;

	/* A pending reload ends a period: that is a rising edge. */
	if (ch->pend && (int64_t)(now - ch->pend_ns) >= 0 &&
	    (int64_t)(pit->irq0_seen_ns - ch->pend_ns) < 0)
		rose = true;
	chan_sync(ch, now);
	if (ch->running && !ch->frozen) {
		t0 = (int64_t)(pit->irq0_seen_ns - ch->base_ns) > 0 ?
		    ticks(ch, pit->irq0_seen_ns) : 0;
		rose |= chan_rises(ch, t0, ticks(ch, now)) > 0;
	}
	level = chan_out(ch, now);
	if (rose) {
		if (pit->irq0_level)
			irq0_tell(pit, false);
		irq0_tell(pit, true);
		if (!level)
			irq0_tell(pit, false);
	} else if (level != pit->irq0_level) {
		irq0_tell(pit, level);
	}
	pit->irq0_seen_ns = now;
}

uint64_t
vatpit_deadline(struct vatpit *pit)
{
	struct vatpit_chan *ch = &pit->ch[0];
	uint64_t seen = pit->irq0_seen_ns, t, next;

	if (ch->pend)
		return ch->pend_ns;
	if (!ch->running || ch->frozen)
		return NONE;
	t = (int64_t)(seen - ch->base_ns) > 0 ? ticks(ch, seen) : 0;
	next = chan_next_rise(ch, t);
	if (next == NONE)
		return NONE;
	return ch->base_ns + vio_ticks_to_ns(next, VATPIT_HZ);
}

void
vatpit_update(struct vatpit *pit)
{
	irq0_sync(pit, vio_now(&pit->clock));
}

int
vatpit_out(struct vatpit *pit, int chan)
{
	uint64_t now = vio_now(&pit->clock);

	if (chan < 0 || chan > 2)
		return -1;
	chan_sync(&pit->ch[chan], now);
	return chan_out(&pit->ch[chan], now);
}

/* ---- ports ---- */

static void
control_write(struct vatpit *pit, uint8_t val, uint64_t now)
{
	int sc = val >> 6, rw = (val >> 4) & 3;
	struct vatpit_chan *ch;

	if (sc == 3) {
		/* Read-back: bit 5 = !COUNT, bit 4 = !STATUS, bits 3:1 = counters 2..0. */
		for (int i = 0; i < 3; i++) {
			if (!(val & (2 << i)))
				continue;
			ch = &pit->ch[i];
			chan_sync(ch, now);
			if (!(val & 0x10) && !ch->st_latched) {
				ch->st = chan_status(ch, now);
				ch->st_latched = true;
			}
			if (!(val & 0x20))
				chan_latch(ch, now);
		}
		return;
	}
	ch = &pit->ch[sc];
	chan_sync(ch, now);
	if (rw == 0) {
		chan_latch(ch, now);	/* counter latch command */
		return;
	}
	/* A control word stops the channel until a count is written. */
	chan_stop(ch, now, ((val >> 1) & 7) != 0);	/* OUT low only in mode 0 */
	ch->mode = (val >> 1) & 7;
	ch->rw = (uint8_t)rw;
	ch->bcd = val & 1;
	ch->wr_msb = ch->rd_msb = false;
	ch->armed = false;
	ch->null_count = true;
	ch->ol_latched = ch->st_latched = false;
	ch->ol = 0;
	/* Nothing loads until a count is written: keep the old ones in range. */
	ch->ce_idle %= modulus(ch);
	if (ch->cr > modulus(ch))
		ch->cr = modulus(ch);
	if (ch->n > modulus(ch))
		ch->n = modulus(ch);
}

static uint8_t
counter_read(struct vatpit_chan *ch, uint64_t now)
{
	uint32_t v;
	uint8_t b;

	chan_sync(ch, now);
	if (ch->st_latched) {
		ch->st_latched = false;
		return ch->st;
	}
	v = ch->ol_latched ? ch->ol : chan_ce(ch, now);
	if (ch->bcd)
		v = bin_to_bcd(v % 10000);
	switch (ch->rw) {
	case 1:
		b = (uint8_t)v;
		ch->ol_latched = false;
		break;
	case 2:
		b = (uint8_t)(v >> 8);
		ch->ol_latched = false;
		break;
	default:
		if (!ch->rd_msb) {
			b = (uint8_t)v;
			ch->rd_msb = true;
		} else {
			b = (uint8_t)(v >> 8);
			ch->rd_msb = false;
			ch->ol_latched = false;
		}
		break;
	}
	return b;
}

static void
counter_write(struct vatpit_chan *ch, uint8_t val, uint64_t now)
{
	chan_sync(ch, now);
	switch (ch->rw) {
	case 1:
		chan_count_written(ch, val, now);
		break;
	case 2:
		chan_count_written(ch, (uint32_t)val << 8, now);
		break;
	default:
		if (!ch->wr_msb) {
			ch->wr_lsb = val;
			ch->wr_msb = true;
			/* Mode 0: the first byte stops the count and drives OUT low. */
			if (mode_of(ch) == 0 && ch->running)
				chan_stop(ch, now, false);
			else if (mode_of(ch) == 0)
				ch->out_idle = false;
		} else {
			ch->wr_msb = false;
			chan_count_written(ch, ch->wr_lsb | (uint32_t)val << 8, now);
		}
		break;
	}
}

int
vatpit_read(struct vatpit *pit, uint16_t port, uint8_t *val)
{
	uint64_t now = vio_now(&pit->clock);
	struct vatpit_chan *ch2 = &pit->ch[2];

	switch (port) {
	case VATPIT_PORT:
	case VATPIT_PORT + 1:
	case VATPIT_PORT + 2:
		*val = counter_read(&pit->ch[port - VATPIT_PORT], now);
		return 0;
	case VATPIT_PORT_CTRL:
		*val = 0xff;	/* no operation: the bus floats */
		return 0;
	case VATPIT_PORT_NMISC:
		chan_sync(ch2, now);
		*val = (uint8_t)(pit->nmisc | (now / REFRESH_NS % 2 ? NMISC_REFRESH : 0) |
		    (chan_out(ch2, now) ? NMISC_OUT2 : 0));
		return 0;
	default:
		return -EINVAL;
	}
}

int
vatpit_write(struct vatpit *pit, uint16_t port, uint8_t val)
{
	uint64_t now = vio_now(&pit->clock);

	switch (port) {
	case VATPIT_PORT:
	case VATPIT_PORT + 1:
	case VATPIT_PORT + 2:
		irq0_sync(pit, now);
		counter_write(&pit->ch[port - VATPIT_PORT], val, now);
		break;
	case VATPIT_PORT_CTRL:
		irq0_sync(pit, now);
		control_write(pit, val, now);
		break;
	case VATPIT_PORT_NMISC:
		/* Bits 7:4 are status, read-only. */
		pit->nmisc = val & NMISC_RW_MASK;
		chan_sync(&pit->ch[2], now);
		chan_gate(&pit->ch[2], val & NMISC_GATE2, now);
		return 0;
	default:
		return -EINVAL;
	}
	irq0_sync(pit, now);
	return 0;
}

void
vatpit_reset(struct vatpit *pit)
{
	/* Gates of channels 0 and 1 are tied high on the PC. */
	chan_reset(&pit->ch[0], true);
	chan_reset(&pit->ch[1], true);
	chan_reset(&pit->ch[2], false);
	pit->nmisc = 0;
	pit->irq0_seen_ns = vio_now(&pit->clock);
	if (pit->irq0_level)
		irq0_tell(pit, false);
}

void
vatpit_init(struct vatpit *pit, const struct vio_clock *clock,
    const struct vatpit_sink *sink)
{
	memset(pit, 0, sizeof(*pit));
	pit->clock = *clock;
	if (sink != NULL)
		pit->sink = *sink;
	vatpit_reset(pit);
}

/* ---- snapshot ---- */

#define SNAP_MAGIC	0x54495056u	/* "VPIT" */
#define SNAP_VERSION	1

enum {
	F_BCD = 0x01, F_WR_MSB = 0x02, F_RD_MSB = 0x04, F_ARMED = 0x08, F_RUNNING = 0x10,
	F_FROZEN = 0x20, F_PEND = 0x40, F_NULL = 0x80,
};
enum { G_OL = 0x01, G_ST = 0x02, G_GATE = 0x04, G_OUT = 0x08 };
#define MAX_REL		(1ull << 62)

ssize_t
vatpit_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vatpit *pit = arg;
	struct vio_cur c = { .w = buf, .cap = cap };
	uint64_t now;

	if (cap < VATPIT_SNAP_SIZE)
		return VATPIT_SNAP_SIZE;
	now = vio_now(&pit->clock);
	vio_put32(&c, SNAP_MAGIC);
	vio_put32(&c, SNAP_VERSION);
	vio_put8(&c, pit->nmisc);
	vio_put8(&c, pit->irq0_level);
	vio_put8(&c, 0);
	vio_put8(&c, 0);
	vio_put64(&c, now - pit->irq0_seen_ns);
	for (int i = 0; i < 3; i++) {
		struct vatpit_chan *ch = &pit->ch[i];

		vio_put8(&c, ch->mode);
		vio_put8(&c, ch->rw);
		vio_put8(&c, (uint8_t)((ch->bcd ? F_BCD : 0) | (ch->wr_msb ? F_WR_MSB : 0) |
		    (ch->rd_msb ? F_RD_MSB : 0) | (ch->armed ? F_ARMED : 0) |
		    (ch->running ? F_RUNNING : 0) | (ch->frozen ? F_FROZEN : 0) |
		    (ch->pend ? F_PEND : 0) | (ch->null_count ? F_NULL : 0)));
		vio_put8(&c, (uint8_t)((ch->ol_latched ? G_OL : 0) | (ch->st_latched ? G_ST : 0) |
		    (ch->gate ? G_GATE : 0) | (ch->out_idle ? G_OUT : 0)));
		vio_put8(&c, ch->wr_lsb);
		vio_put8(&c, ch->st);
		vio_put8(&c, (uint8_t)ch->ol);
		vio_put8(&c, (uint8_t)(ch->ol >> 8));
		vio_put32(&c, ch->cr);
		vio_put32(&c, ch->n);
		vio_put32(&c, ch->ce_idle);
		vio_put64(&c, ch->frozen_t);
		vio_put64(&c, now - ch->base_ns);
		vio_put64(&c, ch->pend ? vio_rel(ch->pend_ns, now) : 0);
		vio_put32(&c, 0);
	}
	return (ssize_t)c.off;
}

int
vatpit_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vatpit *pit = arg;
	struct vio_cur c = { .r = data, .cap = len };
	struct vatpit_chan chs[3];
	uint64_t now, seen_rel, rel[3], pend_rel[3];
	uint8_t nmisc, level;

	if (len != VATPIT_SNAP_SIZE || vio_get32(&c) != SNAP_MAGIC ||
	    vio_get32(&c) != SNAP_VERSION)
		return -EINVAL;
	nmisc = vio_get8(&c);
	level = vio_get8(&c);
	if (vio_get8(&c) != 0 || vio_get8(&c) != 0 || nmisc & ~NMISC_RW_MASK || level > 1)
		return -EINVAL;
	seen_rel = vio_get64(&c);
	if (seen_rel > MAX_REL)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		struct vatpit_chan *ch = &chs[i];
		uint8_t f, g;
		uint32_t m;

		memset(ch, 0, sizeof(*ch));
		ch->mode = vio_get8(&c);
		ch->rw = vio_get8(&c);
		f = vio_get8(&c);
		g = vio_get8(&c);
		ch->wr_lsb = vio_get8(&c);
		ch->st = vio_get8(&c);
		ch->ol = vio_get8(&c);
		ch->ol |= (uint16_t)(vio_get8(&c) << 8);
		ch->cr = vio_get32(&c);
		ch->n = vio_get32(&c);
		ch->ce_idle = vio_get32(&c);
		ch->frozen_t = vio_get64(&c);
		rel[i] = vio_get64(&c);
		pend_rel[i] = vio_get64(&c);
		if (vio_get32(&c) != 0 || (g & ~0x0f))
			return -EINVAL;
		ch->bcd = f & F_BCD;
		ch->wr_msb = f & F_WR_MSB;
		ch->rd_msb = f & F_RD_MSB;
		ch->armed = f & F_ARMED;
		ch->running = f & F_RUNNING;
		ch->frozen = f & F_FROZEN;
		ch->pend = f & F_PEND;
		ch->null_count = f & F_NULL;
		ch->ol_latched = g & G_OL;
		ch->st_latched = g & G_ST;
		ch->gate = g & G_GATE;
		ch->out_idle = g & G_OUT;
		m = modulus(ch);
		/* Fields the model could never have produced. */
		if (ch->mode > 7 || ch->rw < 1 || ch->rw > 3 || ch->cr < 1 || ch->cr > m ||
		    ch->n < 1 || ch->n > m || ch->ce_idle >= m || (ch->ol_latched && ch->ol >= m) ||
		    rel[i] > MAX_REL || pend_rel[i] > MAX_REL || ch->frozen_t > MAX_REL)
			return -EINVAL;
		if (ch->running && (mode_of(ch) == 2 || mode_of(ch) == 3) && ch->n < 2)
			return -EINVAL;
		if ((ch->pend || ch->frozen) && !ch->running)
			return -EINVAL;
		if (ch->pend && mode_of(ch) != 2 && mode_of(ch) != 3)
			return -EINVAL;
		if (ch->frozen && mode_of(ch) != 0 && mode_of(ch) != 4)
			return -EINVAL;
		if (ch->gate != (i < 2 ? true : (nmisc & NMISC_GATE2) != 0))
			return -EINVAL;
	}
	now = vio_now(&pit->clock);
	for (int i = 0; i < 3; i++) {
		chs[i].base_ns = now - rel[i];
		chs[i].pend_ns = now + pend_rel[i];
	}
	memcpy(pit->ch, chs, sizeof(chs));
	pit->nmisc = nmisc;
	pit->irq0_level = level;
	pit->irq0_seen_ns = now - seen_rel;
	return 0;
}
