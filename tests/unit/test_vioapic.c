/*
 * test_vioapic.c - the I/O APIC model (vmm/io/vioapic.c) with a fake sink:
 * the register window, edge and level pins, remote IRR and EOI, masks,
 * delivery modes, snapshots; then an IOAPIC wired to LAPICs.
 */
#include <errno.h>

#include "test.h"
#include "io/vioapic.h"

struct fake {
	int		n;
	struct vlapic_msg m;
	struct vlapic	*lapic;		/* when set, route there */
	struct vioapic	*vio;
};

static void
fake_deliver(void *arg, const struct vlapic_msg *m)
{
	struct fake *f = arg;

	f->n++;
	f->m = *m;
	if (f->lapic != NULL)
		vlapic_route(&f->lapic, 1, m);
}

static void
setup(struct vioapic *vio, struct fake *f)
{
	struct vioapic_sink s = { fake_deliver, f };

	vioapic_init(vio, &s);
	f->vio = vio;
}

static uint32_t
rd(struct vioapic *vio, uint32_t reg)
{
	uint64_t v = 0xdead;

	CHECK_EQ(vioapic_mmio_write(vio, IOAPIC_REGSEL, 4, reg), 0);
	CHECK_EQ(vioapic_mmio_read(vio, IOAPIC_WINDOW, 4, &v), 0);
	return (uint32_t)v;
}

static void
wr(struct vioapic *vio, uint32_t reg, uint32_t val)
{
	CHECK_EQ(vioapic_mmio_write(vio, IOAPIC_REGSEL, 4, reg), 0);
	CHECK_EQ(vioapic_mmio_write(vio, IOAPIC_WINDOW, 4, val), 0);
}

static void
set_rte(struct vioapic *vio, int pin, uint32_t hi, uint32_t lo)
{
	wr(vio, IOAPIC_REDTBL + 2 * (uint32_t)pin + 1, hi);
	wr(vio, IOAPIC_REDTBL + 2 * (uint32_t)pin, lo);
}

TEST(vioapic_registers)
{
	struct fake f = { 0 };
	struct vioapic vio;
	uint64_t v;

	setup(&vio, &f);
	CHECK_EQ(rd(&vio, IOAPIC_ID), 0);
	CHECK_EQ(rd(&vio, IOAPIC_VER), 0x170011);
	CHECK_EQ(rd(&vio, IOAPIC_ARB), 0);
	for (uint32_t pin = 0; pin < VIOAPIC_PINS; pin++) {
		CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 2 * pin), 0x10000);
		CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 2 * pin + 1), 0);
	}
	/* Writable bits. */
	wr(&vio, IOAPIC_ID, 0xffffffff);
	CHECK_EQ(rd(&vio, IOAPIC_ID), 0x0f000000);
	CHECK_EQ(rd(&vio, IOAPIC_ARB), 0x0f000000);
	wr(&vio, IOAPIC_VER, 0);
	CHECK_EQ(rd(&vio, IOAPIC_VER), 0x170011);
	wr(&vio, IOAPIC_REDTBL + 1, 0xffffffff);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 1), 0xff000000);
	wr(&vio, IOAPIC_REDTBL, 0xffffffff);	/* masked: nothing is sent */
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL), 0x1afff);
	CHECK_EQ(f.n, 0);
	/* Reserved registers, other offsets, narrow accesses. */
	CHECK_EQ(rd(&vio, 0x03), 0);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 2 * VIOAPIC_PINS), 0);
	CHECK_EQ(rd(&vio, 0xff), 0);
	wr(&vio, 0x40, 0x1234);
	CHECK_EQ(vioapic_mmio_write(&vio, IOAPIC_REGSEL, 4, 0x1ff), 0);
	CHECK_EQ(vioapic_mmio_read(&vio, IOAPIC_REGSEL, 4, &v), 0);
	CHECK_EQ(v, 0xff);
	CHECK_EQ(vioapic_mmio_read(&vio, 0x20, 4, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(vioapic_mmio_write(&vio, IOAPIC_REGSEL, 1, IOAPIC_VER), 0);
	CHECK_EQ(vioapic_mmio_read(&vio, IOAPIC_WINDOW, 2, &v), 0);
	CHECK_EQ(v, 0x0011);
	CHECK_EQ(vioapic_mmio_write(&vio, IOAPIC_REGSEL, 4, IOAPIC_ID), 0);
	CHECK_EQ(vioapic_mmio_write(&vio, IOAPIC_WINDOW, 1, 0), 0);	/* dropped */
	CHECK_EQ(rd(&vio, IOAPIC_ID), 0x0f000000);
	/* Bad pins. */
	CHECK_EQ(vioapic_assert(&vio, 24), -EINVAL);
	CHECK_EQ(vioapic_assert(&vio, -1), -EINVAL);
	CHECK_EQ(vioapic_deassert(&vio, 100), -EINVAL);
	CHECK_EQ(vioapic_pulse(&vio, 24), -EINVAL);
	vioapic_reset(&vio);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL), 0x10000);
}

TEST(vioapic_edge)
{
	struct fake f = { 0 };
	struct vioapic vio;

	setup(&vio, &f);
	set_rte(&vio, 4, 0x03000000, 0x30);
	CHECK_EQ(vioapic_assert(&vio, 4), 0);
	CHECK_EQ(f.n, 1);
	CHECK_EQ(f.m.vector, 0x30);
	CHECK_EQ(f.m.dest, 3);
	CHECK_EQ(f.m.mode, APIC_DM_FIXED);
	CHECK(!f.m.logical && !f.m.level);
	CHECK_EQ(f.m.src, -1);
	CHECK_EQ(vioapic_assert(&vio, 4), 0);	/* no new edge */
	CHECK_EQ(f.n, 1);
	CHECK_EQ(vioapic_deassert(&vio, 4), 0);
	CHECK_EQ(vioapic_pulse(&vio, 4), 0);
	CHECK_EQ(f.n, 2);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 8) & IOART_REMOTE_IRR, 0);
	/* Masked: the edge is lost, unmasking does not replay it. */
	set_rte(&vio, 4, 0x03000000, 0x10030);
	vioapic_pulse(&vio, 4);
	vioapic_assert(&vio, 4);
	set_rte(&vio, 4, 0x03000000, 0x30);
	CHECK_EQ(f.n, 2);
	/* EOI does nothing to edge pins. */
	vioapic_eoi(&vio, 0x30);
	CHECK_EQ(f.n, 2);
	/* Other pins are untouched (masked at reset). */
	vioapic_pulse(&vio, 23);
	CHECK_EQ(f.n, 2);
}

TEST(vioapic_level)
{
	struct fake f = { 0 };
	struct vioapic vio;

	setup(&vio, &f);
	set_rte(&vio, 9, 0x01000000, IOART_TRIGGER_LEVEL | IOART_DEST_LOGICAL | 0x41);
	vioapic_assert(&vio, 9);
	CHECK_EQ(f.n, 1);
	CHECK(f.m.level && f.m.logical);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 18), 0xc841);	/* remote IRR set */
	/* Remote IRR holds further deliveries; writes cannot clear it. */
	vioapic_deassert(&vio, 9);
	vioapic_assert(&vio, 9);
	set_rte(&vio, 9, 0x01000000, IOART_TRIGGER_LEVEL | IOART_DEST_LOGICAL | 0x41);
	CHECK_EQ(f.n, 1);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 18) & IOART_REMOTE_IRR, IOART_REMOTE_IRR);
	/* EOI of another vector: nothing.  Ours, line still high: again. */
	vioapic_eoi(&vio, 0x42);
	CHECK_EQ(f.n, 1);
	vioapic_eoi(&vio, 0x41);
	CHECK_EQ(f.n, 2);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 18) & IOART_REMOTE_IRR, IOART_REMOTE_IRR);
	/* Line low at EOI: remote IRR clears, nothing sent. */
	vioapic_deassert(&vio, 9);
	vioapic_eoi(&vio, 0x41);
	CHECK_EQ(f.n, 2);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 18) & IOART_REMOTE_IRR, 0);
	/* Masked while asserted: held until unmasked. */
	set_rte(&vio, 9, 0, IOART_MASKED | IOART_TRIGGER_LEVEL | 0x41);
	vioapic_assert(&vio, 9);
	CHECK_EQ(f.n, 2);
	set_rte(&vio, 9, 0, IOART_TRIGGER_LEVEL | 0x41);
	CHECK_EQ(f.n, 3);
	/* Switching the entry to edge drops remote IRR. */
	set_rte(&vio, 9, 0, IOART_MASKED | 0x41);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 18), 0x10041);
}

TEST(vioapic_delivery_modes)
{
	struct fake f = { 0 };
	struct vioapic vio;
	static const uint32_t modes[] = { APIC_DM_LOWPRI, APIC_DM_SMI, APIC_DM_NMI,
	    APIC_DM_INIT, APIC_DM_EXTINT };

	setup(&vio, &f);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		set_rte(&vio, 2, 0xff000000, modes[i] << 8 | 0x20);
		vioapic_pulse(&vio, 2);
		CHECK_EQ(f.n, (int)i + 1);
		CHECK_EQ(f.m.mode, modes[i]);
		CHECK_EQ(f.m.dest, 0xff);
	}
	/* Reserved modes send nothing. */
	set_rte(&vio, 2, 0, 3u << 8 | 0x20);
	vioapic_pulse(&vio, 2);
	set_rte(&vio, 2, 0, 6u << 8 | 0x20);
	vioapic_pulse(&vio, 2);
	CHECK_EQ(f.n, 5);
	/* A level NMI does not wait for an EOI that never comes. */
	set_rte(&vio, 3, 0, IOART_TRIGGER_LEVEL | APIC_DM_NMI << 8);
	vioapic_assert(&vio, 3);
	CHECK_EQ(f.n, 6);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 6) & IOART_REMOTE_IRR, 0);
}

static void
lapic_eoi(void *arg, int vcpu, uint8_t vector)
{
	struct fake *f = arg;

	vioapic_eoi(f->vio, vector);
}

static uint64_t
zero_clock(void *arg)
{
	return 0;
}

/* A level-triggered line through a LAPIC: accept, EOI, redelivery. */
TEST(vioapic_with_vlapic)
{
	struct fake f = { 0 };
	struct vioapic vio;
	struct vlapic vl;
	struct vlapic_clock c = { zero_clock, zero_clock, 1000000000, NULL };
	struct vlapic_sink s = { .eoi_level = lapic_eoi, .arg = &f };

	setup(&vio, &f);
	vlapic_init(&vl, 0, 0, true, &c, &s);
	REQUIRE(vlapic_mmio_write(&vl, APIC_OFF_SVR, 4, 0x1ff) == 0);
	f.lapic = &vl;
	set_rte(&vio, 11, 0, IOART_TRIGGER_LEVEL | 0x61);
	vioapic_assert(&vio, 11);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x61);
	vlapic_accept_intr(&vl, 0x61);
	/* Still asserted at EOI: delivered again. */
	CHECK_EQ(vlapic_mmio_write(&vl, APIC_OFF_EOI, 4, 0), 0);
	CHECK_EQ(f.n, 2);
	CHECK_EQ(vlapic_pending_intr(&vl), 0x61);
	vlapic_accept_intr(&vl, 0x61);
	vioapic_deassert(&vio, 11);
	CHECK_EQ(vlapic_mmio_write(&vl, APIC_OFF_EOI, 4, 0), 0);
	CHECK_EQ(f.n, 2);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
	CHECK_EQ(rd(&vio, IOAPIC_REDTBL + 22) & IOART_REMOTE_IRR, 0);
	/* Physical destination that is not this LAPIC: sent, not taken. */
	set_rte(&vio, 12, 0x05000000, 0x62);
	vioapic_pulse(&vio, 12);
	CHECK_EQ(f.n, 3);
	CHECK_EQ(vlapic_pending_intr(&vl), -1);
}

TEST(vioapic_snapshot)
{
	struct fake f = { 0 };
	struct vioapic a, b;
	uint8_t buf[VIOAPIC_SNAP_SIZE], bad[VIOAPIC_SNAP_SIZE];

	setup(&a, &f);
	wr(&a, IOAPIC_ID, 0x02000000);
	set_rte(&a, 9, 0x01000000, IOART_TRIGGER_LEVEL | 0x41);
	set_rte(&a, 23, 0xff000000, IOART_MASKED | 0x77);
	vioapic_assert(&a, 9);
	CHECK_EQ(vioapic_snapshot_save(&a, buf, 4), VIOAPIC_SNAP_SIZE);
	REQUIRE(vioapic_snapshot_save(&a, buf, sizeof(buf)) == VIOAPIC_SNAP_SIZE);
	setup(&b, &f);
	CHECK_EQ(vioapic_snapshot_restore(&b, buf, sizeof(buf)), 0);
	for (uint32_t r = 0; r < IOAPIC_REDTBL + 2 * VIOAPIC_PINS; r++)
		CHECK_EQ(rd(&b, r), rd(&a, r));
	/* Remote IRR and the line level came along: EOI redelivers. */
	f.n = 0;
	vioapic_eoi(&b, 0x41);
	CHECK_EQ(f.n, 1);

	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 1 }, { 4, 1 },		/* magic, version */
		{ 8, 1 },			/* ID reserved bits */
		{ 13, 1 },			/* IOREGSEL > 0xff */
		{ 19, 1 },			/* pin 24 asserted */
		{ 20 + 1, 0x10 },		/* delivery status */
		{ 20 + 2, 0x04 },		/* reserved low bits */
		{ 20 + 4, 1 },			/* reserved high bits */
		{ 20 + 1, 0x40 },		/* remote IRR on an edge entry */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		CHECK_EQ(vioapic_snapshot_restore(&b, bad, sizeof(bad)), -EINVAL);
	}
	CHECK_EQ(vioapic_snapshot_restore(&b, buf, sizeof(buf) - 1), -EINVAL);
	CHECK_EQ(rd(&b, IOAPIC_ID), 0x02000000);
}
