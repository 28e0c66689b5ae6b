/*
 * test_vpmtmr.c - the ACPI PM timer (vmm/io/vpmtmr.c) with a fake clock:
 * rate, 24- and 32-bit wrap, byte access, TMR_STS carries, snapshots.
 */
#include <errno.h>

#include "test.h"
#include "io/vpmtmr.h"

struct fake {
	uint64_t	ns;
	int		ncarry;
};

static uint64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->ns;
}

static void
fake_carry(void *arg)
{
	((struct fake *)arg)->ncarry++;
}

static void
setup(struct vpmtmr *pt, struct fake *f, bool ext32)
{
	struct vio_clock c = { fake_now, f };
	struct vpmtmr_sink s = { fake_carry, f };

	vpmtmr_init(pt, ext32, &c, &s);
}

static uint32_t
rd(struct vpmtmr *pt, uint16_t port, int size)
{
	uint32_t v = 0xdeadbeef;

	CHECK_EQ(vpmtmr_read(pt, port, size, &v), 0);
	return v;
}

TEST(vpmtmr_rate)
{
	struct fake f = { .ns = 5000 };
	struct vpmtmr pt;

	setup(&pt, &f, false);
	CHECK_EQ(rd(&pt, 0x408, 4), 0);
	/* One second is 3579545 ticks; 1 ms is 3579 (truncated). */
	f.ns += 1000000;
	CHECK_EQ(rd(&pt, 0x408, 4), 3579);
	f.ns = 5000 + 1000000000;
	CHECK_EQ(rd(&pt, 0x408, 4), 3579545);
	/* A tick is 279.365 ns: 279 ns is not yet one, 280 is. */
	f.ns = 5000 + 279;
	CHECK_EQ(vpmtmr_count(&pt), 0);
	f.ns = 5000 + 280;
	CHECK_EQ(vpmtmr_count(&pt), 1);
	/* Monotonic between reads, whatever the step. */
	uint32_t last = 0;
	for (int i = 0; i < 1000; i++) {
		f.ns += 977 * (uint64_t)i;
		uint32_t v = vpmtmr_count(&pt);
		CHECK(v >= last);
		last = v;
	}
}

TEST(vpmtmr_wrap24)
{
	struct fake f = { 0 };
	struct vpmtmr pt;

	setup(&pt, &f, false);
	/* 2^24 ticks = 4.687 s; just before and after the wrap. */
	f.ns = vio_ticks_to_ns((1u << 24) - 1, VPMTMR_HZ);
	CHECK_EQ(rd(&pt, 0x408, 4), 0xffffff);
	f.ns = vio_ticks_to_ns(1u << 24, VPMTMR_HZ);
	CHECK_EQ(rd(&pt, 0x408, 4), 0);
	f.ns = vio_ticks_to_ns((1u << 24) + 0x123456, VPMTMR_HZ);
	CHECK_EQ(rd(&pt, 0x408, 4), 0x123456);
	/* Bytes and words from each port; bits 31:24 read 0. */
	CHECK_EQ(rd(&pt, 0x408, 1), 0x56);
	CHECK_EQ(rd(&pt, 0x409, 1), 0x34);
	CHECK_EQ(rd(&pt, 0x40a, 1), 0x12);
	CHECK_EQ(rd(&pt, 0x40b, 1), 0);
	CHECK_EQ(rd(&pt, 0x408, 2), 0x3456);
	CHECK_EQ(rd(&pt, 0x40a, 2), 0x0012);
}

TEST(vpmtmr_wrap32)
{
	struct fake f = { 0 };
	struct vpmtmr pt;

	setup(&pt, &f, true);
	f.ns = vio_ticks_to_ns(0xfedcba98u, VPMTMR_HZ);
	CHECK_EQ(rd(&pt, 0x408, 4), 0xfedcba98u);
	CHECK_EQ(rd(&pt, 0x40b, 1), 0xfe);
	/* 2^32 ticks = 1199.57 s, then it wraps. */
	f.ns = vio_ticks_to_ns((1ull << 32) + 7, VPMTMR_HZ);
	CHECK_EQ(rd(&pt, 0x408, 4), 7);
}

TEST(vpmtmr_bad_access)
{
	struct fake f = { 0 };
	struct vpmtmr pt;
	uint32_t v;

	setup(&pt, &f, false);
	f.ns = 1000000000;
	CHECK_EQ(vpmtmr_read(&pt, 0x407, 1, &v), -EINVAL);
	CHECK_EQ(vpmtmr_read(&pt, 0x40c, 1, &v), -EINVAL);
	CHECK_EQ(vpmtmr_read(&pt, 0x409, 4, &v), -EINVAL);	/* past the block */
	CHECK_EQ(vpmtmr_read(&pt, 0x40b, 2, &v), -EINVAL);
	CHECK_EQ(vpmtmr_read(&pt, 0x408, 3, &v), -EINVAL);
	CHECK_EQ(vpmtmr_read(&pt, 0x408, 8, &v), -EINVAL);
	CHECK_EQ(vpmtmr_write(&pt, 0x40c, 1, 0), -EINVAL);
	/* Writes are ignored: the counter goes on. */
	CHECK_EQ(vpmtmr_write(&pt, 0x408, 4, 0), 0);
	CHECK_EQ(vpmtmr_count(&pt), 3579545);
}

TEST(vpmtmr_carry)
{
	struct fake f = { 0 };
	struct vpmtmr pt;
	uint64_t d;

	setup(&pt, &f, false);
	/* Bit 23 changes every 2^23 ticks (2.343 s). */
	d = vpmtmr_deadline(&pt);
	CHECK_EQ(d, vio_ticks_to_ns(1u << 23, VPMTMR_HZ));
	f.ns = d - 1;
	vpmtmr_update(&pt);
	CHECK_EQ(f.ncarry, 0);
	CHECK_EQ(vpmtmr_count(&pt), (1u << 23) - 1);
	f.ns = d;
	vpmtmr_update(&pt);
	CHECK_EQ(f.ncarry, 1);
	CHECK_EQ(vpmtmr_count(&pt), 1u << 23);
	vpmtmr_update(&pt);
	CHECK_EQ(f.ncarry, 1);
	/* The 1 -> 0 change (the wrap) too. */
	CHECK_EQ(vpmtmr_deadline(&pt), vio_ticks_to_ns(1u << 24, VPMTMR_HZ));
	/* Several changes missed: one report. */
	f.ns = vio_ticks_to_ns(5ull << 23, VPMTMR_HZ);
	vpmtmr_update(&pt);
	CHECK_EQ(f.ncarry, 2);
	CHECK_EQ(vpmtmr_deadline(&pt), vio_ticks_to_ns(6ull << 23, VPMTMR_HZ));

	/* No sink: no deadline. */
	struct vio_clock c = { fake_now, &f };
	vpmtmr_init(&pt, true, &c, NULL);
	CHECK_EQ(vpmtmr_deadline(&pt), VIO_NO_DEADLINE);
	vpmtmr_update(&pt);
}

TEST(vpmtmr_snapshot)
{
	struct fake f = { .ns = 1000 }, g = { .ns = 10 };
	struct vpmtmr a, b, c;
	uint8_t buf[VPMTMR_SNAP_SIZE], bad[VPMTMR_SNAP_SIZE];

	setup(&a, &f, false);
	f.ns += 3000000000ull;
	vpmtmr_update(&a);
	CHECK_EQ(f.ncarry, 1);
	CHECK_EQ(vpmtmr_snapshot_save(&a, buf, 3), VPMTMR_SNAP_SIZE);
	REQUIRE(vpmtmr_snapshot_save(&a, buf, sizeof(buf)) == VPMTMR_SNAP_SIZE);
	/* Another clock whose time is smaller than the elapsed time. */
	setup(&b, &g, false);
	CHECK_EQ(vpmtmr_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(vpmtmr_count(&b), vpmtmr_count(&a));
	g.ns += 1000000000;
	f.ns += 1000000000;
	CHECK_EQ(vpmtmr_count(&b), vpmtmr_count(&a));
	/* The carry already reported is not reported again. */
	vpmtmr_update(&b);
	CHECK_EQ(g.ncarry, 0);
	CHECK_EQ(vpmtmr_deadline(&b) - g.ns, vpmtmr_deadline(&a) - f.ns);

	setup(&c, &g, true);
	CHECK_EQ(vpmtmr_snapshot_restore(&c, buf, sizeof(buf)), -EINVAL);	/* width */
	CHECK_EQ(vpmtmr_snapshot_restore(&b, buf, sizeof(buf) - 1), -EINVAL);
	size_t offs[] = { 0, 4, 8, 19, 20 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[offs[i]] ^= 0x40;
		CHECK_EQ(vpmtmr_snapshot_restore(&b, bad, sizeof(bad)), -EINVAL);
	}
	CHECK_EQ(vpmtmr_count(&b), vpmtmr_count(&a));
}
