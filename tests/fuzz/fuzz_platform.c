/*
 * fuzz_platform.c - libFuzzer target: a guest's accesses to the vmm/io
 * platform models (8259 pair, 8254 and port 0x61, HPET, RTC, PM timer),
 * wired as the machine wires them (PIT OUT0, HPET legacy lines and the
 * RTC's IRQ 8 into the 8259s), with time moving, the models' updates run
 * at their deadlines, and snapshot round trips in the loop.
 *
 * Input: 8-byte records {op, a, b, c, value (4 bytes)}.  Checked: no
 * crash or sanitizer report, deadlines never behind the clock after an
 * update, the 8259 sink agrees with the INT output, and a snapshot
 * restores into a fresh model and saves back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/vatpic.h"
#include "io/vatpit.h"
#include "io/vhpet.h"
#include "io/vpmtmr.h"
#include "io/vrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	uint64_t	ns;
	bool		intr;
	struct vatpic	pic;
	struct vatpit	pit;
	struct vhpet	hpet;
	struct vrtc	rtc;
	struct vpmtmr	pmtmr;
};

static uint64_t
now_ns(void *arg)
{
	return ((struct machine *)arg)->ns;
}

static int64_t
wall_ns(void *arg)
{
	return 1700000000ll * 1000000000ll + (int64_t)((struct machine *)arg)->ns;
}

static void
pic_intr(void *arg, bool level)
{
	((struct machine *)arg)->intr = level;
}

static void
pit_irq0(void *arg, bool level)
{
	vatpic_set_irq(&((struct machine *)arg)->pic, 0, level);
}

static void
hpet_irq(void *arg, int timer, int pin, int isa, bool level)
{
	if (isa >= 0)
		vatpic_set_irq(&((struct machine *)arg)->pic, isa, level);
}

static void
rtc_irq8(void *arg, bool level)
{
	vatpic_set_irq(&((struct machine *)arg)->pic, 8, level);
}

static void
machine_init(struct machine *m)
{
	struct vio_clock c = { now_ns, m };
	struct vatpic_sink ps = { pic_intr, m };
	struct vatpit_sink ts = { pit_irq0, m };
	struct vhpet_sink hs = { hpet_irq, m };
	struct vrtc_clock rc = { now_ns, wall_ns, NULL, m };
	struct vrtc_sink rs = { rtc_irq8, m };
	struct vpmtmr_sink pms = { NULL, NULL };

	vatpic_init(&m->pic, 1u << 9, &ps);
	vatpit_init(&m->pit, &c, &ts);
	vhpet_init(&m->hpet, &c, &hs);
	vrtc_init(&m->rtc, true, &rc, &rs);
	vpmtmr_init(&m->pmtmr, false, &c, &pms);
}

/* Save @arg, restore into @fresh, save again: the same bytes. */
static void
roundtrip(void *arg, void *fresh, ssize_t (*save)(void *, uint8_t *, size_t),
    int (*restore)(void *, const uint8_t *, size_t))
{
	uint8_t a[512], b[512];
	ssize_t n = save(arg, a, sizeof(a)), n2;

	if (n <= 0 || (size_t)n > sizeof(a))
		abort();
	if (restore(fresh, a, (size_t)n) != 0)
		abort();
	n2 = save(fresh, b, sizeof(b));
	if (n2 != n || memcmp(a, b, (size_t)n) != 0)
		abort();
	/* A truncated or corrupted one is refused or accepted, never a crash. */
	if (restore(fresh, a, (size_t)n - 1) == 0)
		abort();
	a[(size_t)b[0] % (size_t)n] ^= b[1] | 1;
	(void)restore(fresh, a, (size_t)n);
}

static void
snapshot_all(struct machine *m)
{
	static struct machine f;

	f = *m;		/* same clock and sinks, fresh device state */
	machine_init(&f);
	f.ns = m->ns;
	roundtrip(&m->pic, &f.pic, vatpic_snapshot_save, vatpic_snapshot_restore);
	roundtrip(&m->pit, &f.pit, vatpit_snapshot_save, vatpit_snapshot_restore);
	roundtrip(&m->hpet, &f.hpet, vhpet_snapshot_save, vhpet_snapshot_restore);
	roundtrip(&m->rtc, &f.rtc, vrtc_snapshot_save, vrtc_snapshot_restore);
	roundtrip(&m->pmtmr, &f.pmtmr, vpmtmr_snapshot_save, vpmtmr_snapshot_restore);
}

static void
advance(struct machine *m, uint64_t step)
{
	uint64_t target = m->ns + step, d;

	/* Run each model's update at its deadlines, as the caller's timer would. */
	for (int guard = 0; guard < 64; guard++) {
		d = vatpit_deadline(&m->pit);
		if (vhpet_deadline(&m->hpet) < d)
			d = vhpet_deadline(&m->hpet);
		if (vrtc_deadline(&m->rtc) < d)
			d = vrtc_deadline(&m->rtc);
		if (d > target)
			break;
		if (d > m->ns)
			m->ns = d;
		vatpit_update(&m->pit);
		vhpet_update(&m->hpet);
		vrtc_update(&m->rtc);
	}
	m->ns = target;
	vatpit_update(&m->pit);
	vhpet_update(&m->hpet);
	vrtc_update(&m->rtc);
	vpmtmr_update(&m->pmtmr);
	if (vatpit_deadline(&m->pit) < m->ns || vhpet_deadline(&m->hpet) < m->ns ||
	    vrtc_deadline(&m->rtc) < m->ns)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	static const uint16_t pic_ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	static const uint16_t pit_ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };
	uint8_t b8;
	uint32_t v32;
	uint64_t v64;

	memset(&m, 0, sizeof(m));
	m.ns = 1000;
	machine_init(&m);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		uint8_t op = data[i], a = data[i + 1], b = data[i + 2], c = data[i + 3];
		uint32_t val;

		memcpy(&val, data + i + 4, 4);
		switch (op % 9) {
		case 0:
			if (b & 1)
				(void)vatpic_read(&m.pic, pic_ports[a % 6], &b8);
			else
				(void)vatpic_write(&m.pic, pic_ports[a % 6], (uint8_t)val);
			break;
		case 1:
			(void)vatpic_set_irq(&m.pic, a % 17, b & 1);
			if (c & 1)
				(void)vatpic_intr_ack(&m.pic);
			break;
		case 2:
			if (b & 1)
				(void)vatpit_read(&m.pit, pit_ports[a % 5], &b8);
			else
				(void)vatpit_write(&m.pit, pit_ports[a % 5], (uint8_t)val);
			break;
		case 3: {
			static const int sizes[4] = { 1, 2, 4, 8 };
			uint32_t off = ((uint32_t)a << 8 | c) % 0x420;

			if (b & 1)
				(void)vhpet_mmio_read(&m.hpet, off, sizes[b >> 1 & 3], &v64);
			else
				(void)vhpet_mmio_write(&m.hpet, off, sizes[b >> 1 & 3],
				    (uint64_t)val << (c & 32) | val);
			break;
		}
		case 4:
			if (b & 1)
				(void)vrtc_read(&m.rtc, (uint16_t)(0x70 + (a & 1)), &b8);
			else
				(void)vrtc_write(&m.rtc, (uint16_t)(0x70 + (a & 1)), (uint8_t)val);
			break;
		case 5:
			(void)vpmtmr_read(&m.pmtmr, (uint16_t)(0x406 + a % 8), 1 << (b % 4), &v32);
			(void)vpmtmr_write(&m.pmtmr, (uint16_t)(0x408 + a % 4), 1, val);
			break;
		case 6:
			/* Steps from a nanosecond to about 18 minutes. */
			advance(&m, (uint64_t)val << (a % 19));
			break;
		case 7:
			snapshot_all(&m);
			break;
		default:
			(void)vrtc_settime(&m.rtc, (int64_t)(int32_t)val * 4);
			(void)vrtc_nvram_write(&m.rtc, a, b);
			break;
		}
		if (m.intr != vatpic_intr_pending(&m.pic))
			abort();
	}
	snapshot_all(&m);
	return 0;
}
