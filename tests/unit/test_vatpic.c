/*
 * test_vatpic.c - the 8259A pair (vmm/io/vatpic.c) with a fake INT sink:
 * initialization, cascade, priority and EOI forms, rotation, auto-EOI,
 * poll, IRR/ISR reads, masks, special mask and special fully nested
 * modes, ELCR level inputs, spurious IRQ 7/15, bad input, snapshots; and
 * the machine's interrupt map (vmm_irqmap.h).
 */
#include <errno.h>

#include "test.h"
#include "io/vatpic.h"
#include "io/vmm_irqmap.h"
#include "../../bhyve/machine.h"	/* not the CPU's machine.h */

struct fake {
	bool	intr;
	int	changes;
};

static void
fake_intr(void *arg, bool level)
{
	struct fake *f = arg;

	if (level == f->intr)
		f->changes += 1000;	/* a repeated level: never expected */
	f->intr = level;
	f->changes++;
}

static void
out(struct vatpic *pic, uint16_t port, uint8_t v)
{
	CHECK_EQ(vatpic_write(pic, port, v), 0);
}

static uint8_t
in(struct vatpic *pic, uint16_t port)
{
	uint8_t v = 0x5a;

	CHECK_EQ(vatpic_read(pic, port, &v), 0);
	return v;
}

/* Linux's init_8259A: vectors 0x20/0x28, slave on IR2, 8086 mode. */
static void
init_chips(struct vatpic *pic, uint8_t icw4_master, uint8_t icw4_slave)
{
	out(pic, 0x20, 0x11);
	out(pic, 0x21, 0x20);
	out(pic, 0x21, 0x04);
	out(pic, 0x21, icw4_master);
	out(pic, 0xa0, 0x11);
	out(pic, 0xa1, 0x28);
	out(pic, 0xa1, 0x02);
	out(pic, 0xa1, icw4_slave);
}

static void
setup(struct vatpic *pic, struct fake *f)
{
	struct vatpic_sink s = { fake_intr, f };

	vatpic_init(pic, VMM_IRQMAP_ELCR, &s);
	init_chips(pic, 0x01, 0x01);
}

static uint8_t
isr(struct vatpic *pic, uint16_t port)
{
	out(pic, port, 0x0b);
	return in(pic, port);
}

static uint8_t
irr(struct vatpic *pic, uint16_t port)
{
	out(pic, port, 0x0a);
	return in(pic, port);
}

TEST(vatpic_init_and_ack)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	CHECK(!f.intr && !vatpic_intr_pending(&pic));
	CHECK_EQ(in(&pic, 0x21), 0);		/* IMR cleared by ICW1 */
	CHECK_EQ(vatpic_assert_irq(&pic, 1), 0);
	CHECK(f.intr && vatpic_intr_pending(&pic));
	CHECK_EQ(irr(&pic, 0x20), 0x02);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	CHECK(!f.intr);
	CHECK_EQ(isr(&pic, 0x20), 0x02);
	CHECK_EQ(irr(&pic, 0x20), 0x00);	/* edge: the request is consumed */
	/* Held high, an edge input does not fire again after EOI. */
	out(&pic, 0x20, 0x20);
	CHECK_EQ(isr(&pic, 0x20), 0);
	CHECK(!f.intr);
	/* Low then high again: a new edge. */
	vatpic_deassert_irq(&pic, 1);
	vatpic_assert_irq(&pic, 1);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	/* The RR/RIS choice sticks until changed. */
	out(&pic, 0x20, 0x0b);
	CHECK_EQ(in(&pic, 0x20), 0x02);
	CHECK_EQ(in(&pic, 0x20), 0x02);
	out(&pic, 0x20, 0x08);			/* OCW3 with RR clear: no change */
	CHECK_EQ(in(&pic, 0x20), 0x02);
	CHECK_EQ(f.changes, 4);
}

TEST(vatpic_uninitialized)
{
	struct fake f = { 0 };
	struct vatpic pic;
	struct vatpic_sink s = { fake_intr, &f };

	vatpic_init(&pic, 0, &s);
	/* Before the ICWs, no INT, and the acknowledge is spurious. */
	vatpic_pulse_irq(&pic, 0);
	CHECK(!f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic) & 7, 7);
	/* Mid-sequence too; the latched edge survives until ICW1 resets it. */
	out(&pic, 0x20, 0x11);
	vatpic_pulse_irq(&pic, 0);
	out(&pic, 0x21, 0x08);
	CHECK(!f.intr);
	out(&pic, 0x21, 0x04);
	out(&pic, 0x21, 0x01);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x08);
}

TEST(vatpic_cascade)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	vatpic_pulse_irq(&pic, 10);
	CHECK(f.intr);
	CHECK_EQ(irr(&pic, 0x20), 0x04);
	CHECK_EQ(irr(&pic, 0xa0), 0x04);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2a);
	CHECK(!f.intr);
	CHECK_EQ(isr(&pic, 0x20), 0x04);
	CHECK_EQ(isr(&pic, 0xa0), 0x04);
	/* While IRQ 10 is in service, IRQ 12 (lower) waits; IRQ 1 (higher) not. */
	vatpic_pulse_irq(&pic, 12);
	CHECK(!f.intr);
	vatpic_pulse_irq(&pic, 1);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	out(&pic, 0x20, 0x20);			/* EOI IRQ 1 */
	CHECK(!f.intr);
	/* Linux's order: slave EOI, then master: IRQ 12 comes. */
	out(&pic, 0xa0, 0x20);
	CHECK(!f.intr);
	out(&pic, 0x20, 0x20);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2c);
	out(&pic, 0xa0, 0x64);			/* specific EOI, IR4 */
	out(&pic, 0x20, 0x62);			/* specific EOI, IR2 */
	CHECK_EQ(isr(&pic, 0x20) | isr(&pic, 0xa0), 0);
	/* Slave masked at the master: nothing gets through. */
	out(&pic, 0x21, 0x04);
	vatpic_pulse_irq(&pic, 15);
	CHECK(!f.intr);
	out(&pic, 0x21, 0x00);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2f);
}

TEST(vatpic_priority_and_eoi)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	vatpic_pulse_irq(&pic, 5);
	vatpic_pulse_irq(&pic, 3);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	CHECK(!f.intr);				/* 5 is below 3 */
	vatpic_pulse_irq(&pic, 0);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x20);
	CHECK_EQ(isr(&pic, 0x20), 0x09);
	/* Non-specific EOI retires the highest: 0, then 3. */
	out(&pic, 0x20, 0x20);
	CHECK_EQ(isr(&pic, 0x20), 0x08);
	CHECK(!f.intr);
	out(&pic, 0x20, 0x20);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x25);
	/* Specific EOI of a level not in service: nothing. */
	out(&pic, 0x20, 0x66);
	CHECK_EQ(isr(&pic, 0x20), 0x20);
	out(&pic, 0x20, 0x65);
	CHECK_EQ(isr(&pic, 0x20), 0);
	/* EOI with nothing in service; no-operation OCW2. */
	out(&pic, 0x20, 0x20);
	out(&pic, 0x20, 0x40);
	CHECK_EQ(isr(&pic, 0x20), 0);
	/* Masks: a masked request waits in IRR. */
	out(&pic, 0x21, 0x10);
	vatpic_pulse_irq(&pic, 4);
	CHECK(!f.intr);
	CHECK_EQ(irr(&pic, 0x20), 0x10);
	CHECK_EQ(in(&pic, 0x21), 0x10);
	out(&pic, 0x21, 0x00);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x24);
}

TEST(vatpic_rotation)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	/* Rotate on non-specific EOI: the serviced level becomes lowest. */
	vatpic_pulse_irq(&pic, 3);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	out(&pic, 0x20, 0xa0);
	vatpic_pulse_irq(&pic, 0);
	vatpic_pulse_irq(&pic, 4);
	vatpic_pulse_irq(&pic, 3);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x24);	/* order now 4 5 6 7 0 1 2 3 */
	out(&pic, 0x20, 0x20);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x20);
	out(&pic, 0x20, 0x20);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	/* Rotate on specific EOI: 3 retires, 6 becomes lowest. */
	out(&pic, 0x20, 0xe6);
	CHECK_EQ(isr(&pic, 0x20), 0x08);
	out(&pic, 0x20, 0x63);
	vatpic_pulse_irq(&pic, 6);
	vatpic_pulse_irq(&pic, 7);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);	/* 7 is now highest */
	out(&pic, 0x20, 0x20);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x26);
	out(&pic, 0x20, 0x20);
	/* Set priority: IR1 lowest, so IR2 highest; IR1 behind IR7. */
	out(&pic, 0x20, 0xc1);
	vatpic_pulse_irq(&pic, 1);
	vatpic_pulse_irq(&pic, 7);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
	/* 1 is lower than 7 now: blocked by 7 in service. */
	CHECK(!f.intr);
	out(&pic, 0x20, 0x20);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	out(&pic, 0x20, 0x20);
	/* ICW1 restores IR7 lowest. */
	init_chips(&pic, 0x01, 0x01);
	vatpic_pulse_irq(&pic, 7);
	vatpic_pulse_irq(&pic, 1);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
}

TEST(vatpic_auto_eoi)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	init_chips(&pic, 0x03, 0x03);		/* AEOI */
	vatpic_pulse_irq(&pic, 5);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x25);
	CHECK_EQ(isr(&pic, 0x20), 0);		/* never in service */
	vatpic_pulse_irq(&pic, 6);
	CHECK(f.intr);				/* no EOI needed */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x26);
	/* Rotate in AEOI mode: each acknowledged level becomes lowest. */
	out(&pic, 0x20, 0x80);
	vatpic_pulse_irq(&pic, 2 + 1);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	vatpic_pulse_irq(&pic, 1);
	vatpic_pulse_irq(&pic, 4);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x24);	/* 4 after 3 */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	out(&pic, 0x20, 0x00);			/* rotate in AEOI: clear */
	vatpic_pulse_irq(&pic, 1);
	vatpic_pulse_irq(&pic, 0);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x20);	/* 1 stays lowest */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x21);
	vatpic_pulse_irq(&pic, 2 + 1);
	vatpic_pulse_irq(&pic, 4);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x24);
	/* Cascade through AEOI slaves. */
	vatpic_pulse_irq(&pic, 11);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2b);
	CHECK_EQ(isr(&pic, 0x20) | isr(&pic, 0xa0), 0);
}

TEST(vatpic_poll)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	out(&pic, 0x20, 0x0c);			/* poll, nothing pending */
	CHECK_EQ(in(&pic, 0x20), 0x00);
	vatpic_pulse_irq(&pic, 6);
	vatpic_pulse_irq(&pic, 4);
	out(&pic, 0x20, 0x0c);
	CHECK_EQ(in(&pic, 0x21), 0x84);		/* either port; acknowledges */
	CHECK_EQ(isr(&pic, 0x20), 0x10);
	CHECK_EQ(in(&pic, 0x21), 0x00);		/* one read only: IMR again */
	out(&pic, 0x20, 0x20);
	out(&pic, 0x20, 0x0c);
	CHECK_EQ(in(&pic, 0x20), 0x86);
	out(&pic, 0x20, 0x20);
	/* Poll through the cascade: master says 2, then poll the slave. */
	vatpic_pulse_irq(&pic, 13);
	out(&pic, 0x20, 0x0c);
	CHECK_EQ(in(&pic, 0x20), 0x82);
	out(&pic, 0xa0, 0x0c);
	CHECK_EQ(in(&pic, 0xa0), 0x85);
	CHECK_EQ(isr(&pic, 0xa0), 0x20);
	CHECK_EQ(isr(&pic, 0x20), 0x04);
	CHECK(!f.intr);
}

TEST(vatpic_special_mask_mode)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	vatpic_pulse_irq(&pic, 3);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x23);
	vatpic_pulse_irq(&pic, 5);
	CHECK(!f.intr);
	/* Mask IR3 and enter special mask mode: lower levels come through. */
	out(&pic, 0x21, 0x08);
	out(&pic, 0x20, 0x68);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x25);
	CHECK_EQ(isr(&pic, 0x20), 0x28);
	/* Still IR5 in service and unmasked: it blocks IR6. */
	vatpic_pulse_irq(&pic, 6);
	CHECK(!f.intr);
	out(&pic, 0x20, 0x65);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x26);
	out(&pic, 0x20, 0x66);
	/* Leave SMM: IR3 in service blocks again. */
	out(&pic, 0x20, 0x48);
	vatpic_pulse_irq(&pic, 7);
	CHECK(!f.intr);
	out(&pic, 0x20, 0x28);			/* ESMM clear: SMM unchanged */
	CHECK(!f.intr);
	out(&pic, 0x20, 0x63);
	out(&pic, 0x21, 0x00);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
}

TEST(vatpic_special_fully_nested)
{
	struct fake f = { 0 };
	struct vatpic pic;

	/* Without SFNM a higher slave request waits for the master EOI. */
	setup(&pic, &f);
	vatpic_pulse_irq(&pic, 12);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2c);
	vatpic_pulse_irq(&pic, 11);
	CHECK(!f.intr);
	/* With SFNM on the master it comes through. */
	setup(&pic, &f);
	init_chips(&pic, 0x11, 0x01);
	vatpic_pulse_irq(&pic, 12);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2c);
	vatpic_pulse_irq(&pic, 11);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2b);
	CHECK_EQ(isr(&pic, 0xa0), 0x18);
	/* A lower slave request still waits (the slave's own nesting). */
	vatpic_pulse_irq(&pic, 14);
	CHECK(!f.intr);
}

TEST(vatpic_level_elcr)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	/* The map's ELCR: IRQ 9 (SCI) level at reset. */
	CHECK_EQ(in(&pic, 0x4d0), 0x00);
	CHECK_EQ(in(&pic, 0x4d1), 0x02);
	/* Reserved bits: IRQ 0-2, 8, 13. */
	out(&pic, 0x4d0, 0xff);
	out(&pic, 0x4d1, 0xff);
	CHECK_EQ(in(&pic, 0x4d0), 0xf8);
	CHECK_EQ(in(&pic, 0x4d1), 0xde);
	out(&pic, 0x4d0, 0x00);
	out(&pic, 0x4d1, 0x02);
	/* Level: redelivered after EOI while the line is high. */
	vatpic_assert_irq(&pic, 9);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x29);
	CHECK(!f.intr);
	out(&pic, 0xa0, 0x20);
	out(&pic, 0x20, 0x20);
	CHECK(f.intr);
	CHECK_EQ(irr(&pic, 0xa0), 0x02);
	vatpic_deassert_irq(&pic, 9);
	CHECK(!f.intr);				/* the request goes with the line */
	CHECK_EQ(irr(&pic, 0xa0), 0x00);
	/* A pulse on a level input never latches. */
	vatpic_pulse_irq(&pic, 9);
	CHECK(!f.intr);
	/* ICW1 LTIM makes every input level triggered. */
	out(&pic, 0x20, 0x19);
	out(&pic, 0x21, 0x20);
	out(&pic, 0x21, 0x04);
	out(&pic, 0x21, 0x01);
	vatpic_pulse_irq(&pic, 5);
	CHECK(!f.intr);
	vatpic_assert_irq(&pic, 5);
	CHECK(f.intr);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x25);
	out(&pic, 0x20, 0x20);
	CHECK(f.intr);
}

TEST(vatpic_spurious)
{
	struct fake f = { 0 };
	struct vatpic pic;

	setup(&pic, &f);
	/* Nothing pending: IRQ 7's vector, no ISR bit. */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
	CHECK_EQ(isr(&pic, 0x20), 0);
	/* A level line that drops before the acknowledge. */
	out(&pic, 0x4d0, 0x08);
	vatpic_assert_irq(&pic, 3);
	CHECK(f.intr);
	vatpic_deassert_irq(&pic, 3);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
	CHECK_EQ(isr(&pic, 0x20), 0);
	/* A slave request masked before the ack takes the master's INT with it. */
	vatpic_pulse_irq(&pic, 10);
	CHECK(f.intr);
	out(&pic, 0xa1, 0x04);
	CHECK(!f.intr);
	CHECK_EQ(irr(&pic, 0x20), 0);
	out(&pic, 0xa1, 0x00);
	CHECK(f.intr);				/* the slave raises INT again */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x2a);
	out(&pic, 0xa0, 0x20);
	out(&pic, 0x20, 0x20);
	/* Spurious IRQ 15: the slave is re-initialized under a pending INT. */
	vatpic_pulse_irq(&pic, 10);
	CHECK(f.intr);
	out(&pic, 0x20, 0x11);			/* master mid-init: no INT */
	CHECK(!f.intr);
	out(&pic, 0x21, 0x20);
	out(&pic, 0x21, 0x04);
	out(&pic, 0x21, 0x01);
	CHECK(!f.intr);				/* its edge latch was reset */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
	out(&pic, 0xa0, 0x11);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x27);
}

TEST(vatpic_single_and_odd_icws)
{
	struct fake f = { 0 };
	struct vatpic pic;
	uint8_t v;

	setup(&pic, &f);
	/* Single mode without ICW4: ICW1, ICW2, ready; IR2 is an input. */
	out(&pic, 0x20, 0x12);
	out(&pic, 0x21, 0x47);			/* T2-T0 ignored: base 0x40 */
	out(&pic, 0x21, 0xfe);			/* OCW1 already */
	CHECK_EQ(in(&pic, 0x21), 0xfe);
	vatpic_pulse_irq(&pic, 0);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x40);
	out(&pic, 0x20, 0x20);
	out(&pic, 0x21, 0x00);
	vatpic_pulse_irq(&pic, 10);		/* the slave's INT is a plain input */
	CHECK_EQ(vatpic_intr_ack(&pic), 0x42);
	/* Cascade without ICW4. */
	out(&pic, 0x20, 0x10);
	out(&pic, 0x21, 0x08);
	out(&pic, 0x21, 0x04);
	out(&pic, 0x21, 0x00);			/* IMR, not ICW4 */
	vatpic_pulse_irq(&pic, 1);
	CHECK_EQ(vatpic_intr_ack(&pic), 0x09);
	/* Bad lines and ports. */
	CHECK_EQ(vatpic_assert_irq(&pic, 2), -EINVAL);
	CHECK_EQ(vatpic_assert_irq(&pic, 16), -EINVAL);
	CHECK_EQ(vatpic_pulse_irq(&pic, -1), -EINVAL);
	CHECK_EQ(vatpic_deassert_irq(&pic, 99), -EINVAL);
	CHECK_EQ(vatpic_read(&pic, 0x22, &v), -EINVAL);
	CHECK_EQ(vatpic_write(&pic, 0x4d2, 0), -EINVAL);
	/* Any byte sequence, any line: INT always agrees with the sink. */
	for (int i = 0; i < 4096; i++) {
		static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
		uint8_t b = (uint8_t)(i * 37 + (i >> 3));

		out(&pic, ports[i % 6], b);
		(void)in(&pic, ports[(i * 5) % 6]);
		vatpic_set_irq(&pic, (i * 7) % 16, (i >> 2) & 1);
		if (i % 3 == 0)
			(void)vatpic_intr_ack(&pic);
		CHECK_EQ(f.intr, vatpic_intr_pending(&pic));
	}
	CHECK(f.changes < 1000);
}

TEST(vatpic_snapshot)
{
	struct fake f = { 0 }, g = { 0 };
	struct vatpic a, b;
	struct vatpic_sink s = { fake_intr, &g };
	uint8_t buf[VATPIC_SNAP_SIZE], bad[VATPIC_SNAP_SIZE];

	setup(&a, &f);
	out(&a, 0x21, 0x40);
	vatpic_pulse_irq(&a, 10);
	vatpic_pulse_irq(&a, 6);
	CHECK_EQ(vatpic_intr_ack(&a), 0x2a);	/* IRQ 10 in service */
	vatpic_assert_irq(&a, 9);		/* level, pending */
	vatpic_assert_irq(&a, 10);		/* slave IR2's line held high */
	out(&a, 0x20, 0xc3);			/* rotated */
	out(&a, 0xa0, 0x0b);			/* reading ISR */
	CHECK_EQ(vatpic_snapshot_save(&a, buf, 1), VATPIC_SNAP_SIZE);
	REQUIRE(vatpic_snapshot_save(&a, buf, sizeof(buf)) == VATPIC_SNAP_SIZE);
	vatpic_init(&b, 0, &s);
	CHECK_EQ(vatpic_snapshot_restore(&b, buf, sizeof(buf)), 0);
	CHECK_EQ(g.intr, f.intr);
	CHECK_EQ(in(&b, 0xa0), in(&a, 0xa0));
	CHECK_EQ(in(&b, 0x21), in(&a, 0x21));
	CHECK_EQ(in(&b, 0x4d1), in(&a, 0x4d1));
	/* Both go on the same way. */
	for (int i = 0; i < 6; i++) {
		out(&a, 0xa0, 0x20);
		out(&b, 0xa0, 0x20);
		out(&a, 0x20, 0x20);
		out(&b, 0x20, 0x20);
		CHECK_EQ(vatpic_intr_pending(&b), vatpic_intr_pending(&a));
		CHECK_EQ(vatpic_intr_ack(&b), vatpic_intr_ack(&a));
		if (i == 2) {
			vatpic_deassert_irq(&a, 9);
			vatpic_deassert_irq(&b, 9);
			out(&a, 0x21, 0);
			out(&b, 0x21, 0);
		}
	}

	struct { size_t off; uint8_t val; } patches[] = {
		{ 0, 1 }, { 4, 1 },		/* magic, version */
		{ 8 + 0, 0x08 },		/* icw_next 8 */
		{ 8 + 2, 0x02 },		/* poll 2 */
		{ 8 + 3, 0x01 },		/* base bits 2:0 */
		{ 8 + 8, 0x01 },		/* master ELCR IRQ 0 */
		{ 8 + 10, 0x08 },		/* lowprio 8+ */
		{ 8 + 11, 0x01 },		/* padding */
		{ 24 + 8, 0x20 },		/* slave ELCR IRQ 13 */
		{ 24 + 15, 0x80 },		/* padding */
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		if (vatpic_snapshot_restore(&b, bad, sizeof(bad)) != -EINVAL) {
			fprintf(stderr, "patch %zu accepted\n", i);
			test_failed_ = 1;
		}
	}
	CHECK_EQ(vatpic_snapshot_restore(&b, buf, sizeof(buf) + 1), -EINVAL);
	/* ICW3 expected in single mode: a state no sequence reaches. */
	memcpy(bad, buf, sizeof(bad));
	bad[8 + 0] = 3;
	bad[8 + 1] |= 0x02;
	CHECK_EQ(vatpic_snapshot_restore(&b, bad, sizeof(bad)), -EINVAL);
}

TEST(vmm_irqmap)
{
	CHECK_EQ(vmm_irqmap_isa_pin(0), 2);
	CHECK_EQ(vmm_irqmap_isa_pin(1), 1);
	CHECK_EQ(vmm_irqmap_isa_pin(2), -1);
	CHECK_EQ(vmm_irqmap_isa_pin(8), 8);
	CHECK_EQ(vmm_irqmap_isa_pin(9), 9);
	CHECK_EQ(vmm_irqmap_isa_pin(15), 15);
	CHECK_EQ(vmm_irqmap_isa_pin(16), -1);
	CHECK_EQ(vmm_irqmap_isa_pin(-1), -1);
	CHECK(vmm_irqmap_isa_level(9));
	for (int irq = 0; irq < 16; irq++) {
		if (irq != 9)
			CHECK(!vmm_irqmap_isa_level(irq));
		CHECK_EQ((VMM_IRQMAP_ELCR >> irq) & 1, vmm_irqmap_isa_level(irq));
	}
	/* The swizzle: 16 + (slot + pin - 1) % 8. */
	CHECK_EQ(vmm_irqmap_pci_pin(0, 1), 16);
	CHECK_EQ(vmm_irqmap_pci_pin(3, 1), 19);
	CHECK_EQ(vmm_irqmap_pci_pin(3, 4), 22);
	CHECK_EQ(vmm_irqmap_pci_pin(31, 4), 18);
	CHECK_EQ(vmm_irqmap_pci_pin(32, 1), -1);
	CHECK_EQ(vmm_irqmap_pci_pin(3, 0), -1);
	CHECK_EQ(vmm_irqmap_pci_pin(3, 5), -1);
	/* One machine: bhyve's side (machine.h) routes INTx and SCI the same. */
	for (int s = 0; s < 32; s++)
		for (int p = 1; p <= 4; p++) {
			int pin = vmm_irqmap_pci_pin(s, p);

			CHECK(pin >= 16 && pin < VMM_IRQMAP_IOAPIC_PINS);
			CHECK_EQ(pin, machine_pci_intx_pin(s, p));
		}
	CHECK_EQ(VMM_IRQMAP_IRQ_SCI, MACHINE_IRQ_SCI);
	CHECK_EQ(VMM_IRQMAP_PCI_PIN0, MACHINE_PCI_INTX_FIRST_PIN);
	CHECK_EQ(VMM_IRQMAP_PCI_NPINS, MACHINE_PCI_INTX_NPINS);
	CHECK_EQ(VMM_IRQMAP_ISA_NIRQ, MACHINE_ISA_NIRQ);
	/* HPET routes stay off the ISA pins. */
	CHECK_EQ(VMM_IRQMAP_HPET_ROUTE_CAP & 0xffff, 0);
}
