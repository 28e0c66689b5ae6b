/*
 * vatpic.c - two cascaded 8259As (Intel 8259A datasheet: "Programming the
 * 8259A", "Operation Command Words", "The Special Fully Nested Mode") and
 * the ELCR.  Interfaces and concurrency: vatpic.h.
 */
#include <errno.h>
#include <string.h>

#include "vatpic.h"

#define CASCADE_IRQ	2
/* ELCR bits that must stay 0: IRQ 0, 1, 2 and IRQ 8, 13 (PIIX ELCR1/ELCR2). */
static const uint8_t elcr_wmask[2] = { 0xf8, 0xde };

enum { MASTER, SLAVE };

static uint8_t
level_mask(const struct vatpic_chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* IRR as the chip sees it: latched edges, and level inputs that are high. */
static uint8_t
requests(const struct vatpic_chip *c)
{
	return c->irr | (c->pins & level_mask(c));
}

static bool
is_cascade(const struct vatpic *pic, int chip, int irq)
{
	const struct vatpic_chip *m = &pic->chip[MASTER];

	return chip == MASTER && !m->single && irq == CASCADE_IRQ &&
	    (m->icw3 & (1u << CASCADE_IRQ));
}

/*
 * The input that would be acknowledged now, or -1 (datasheet, "Fully
 * Nested Mode", "Special Mask Mode", "Special Fully Nested Mode"): walk
 * from the highest priority; an in-service level stops the walk unless
 * special mask mode has it masked, or special fully nested mode lets the
 * cascade input in again.
 */
static int
resolve(const struct vatpic *pic, int chip)
{
	const struct vatpic_chip *c = &pic->chip[chip];
	uint8_t req, isr;

	if (c->icw_next != 0)
		return -1;	/* not initialized: no INT */
	req = requests(c) & ~c->imr;
	isr = c->smm ? c->isr & ~c->imr : c->isr;
	for (int i = 0; i < 8; i++) {
		int irq = (c->lowprio + 1 + i) & 7;
		uint8_t bit = (uint8_t)(1u << irq);

		if (req & bit) {
			if (!(isr & bit) || (c->sfnm && is_cascade(pic, chip, irq)))
				return irq;
			return -1;
		}
		if (isr & bit)
			return -1;
	}
	return -1;
}

static void
set_pin(struct vatpic_chip *c, int irq, bool level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	/* An edge input latches its request on the rising edge. */
	if (level && !(c->pins & bit) && !(level_mask(c) & bit))
		c->irr |= bit;
	if (level)
		c->pins |= bit;
	else
		c->pins &= (uint8_t)~bit;
}

/* Propagate the slave's INT to master IR2 and the master's INT to the sink. */
static void
update(struct vatpic *pic)
{
	struct vatpic_chip *m = &pic->chip[MASTER], *s = &pic->chip[SLAVE];
	bool intr;

	s->intr = resolve(pic, SLAVE) >= 0;
	set_pin(m, CASCADE_IRQ, s->intr);
	/*
	 * The cascade is a wire, not a device pulse: its request ends with
	 * the slave's INT (datasheet: an IR input must stay high until the
	 * first INTA), so a slave request masked or withdrawn before the
	 * acknowledge leaves no spurious IRQ 15 behind.
	 */
	if (!s->intr)
		m->irr &= (uint8_t)~(1u << CASCADE_IRQ);
	intr = resolve(pic, MASTER) >= 0;
	if (intr != m->intr) {
		m->intr = intr;
		if (pic->sink.intr_changed != NULL)
			pic->sink.intr_changed(pic->sink.arg, intr);
	}
}

/* INTA on one chip: IRR -> ISR, or straight out with auto-EOI. */
static void
accept(struct vatpic_chip *c, int irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	c->irr &= (uint8_t)~bit;
	if (c->aeoi) {
		if (c->rotate_aeoi)
			c->lowprio = (uint8_t)irq;
	} else {
		c->isr |= bit;
	}
}

uint8_t
vatpic_intr_ack(struct vatpic *pic)
{
	struct vatpic_chip *m = &pic->chip[MASTER], *s = &pic->chip[SLAVE];
	int irq = resolve(pic, MASTER), sirq;
	uint8_t vec;

	if (irq < 0) {
		vec = m->base | 7;	/* spurious IRQ 7: no ISR bit */
	} else if (is_cascade(pic, MASTER, irq)) {
		accept(m, irq);
		sirq = resolve(pic, SLAVE);
		if (sirq < 0) {
			/* Slave not initialized at the INTA: spurious IRQ 15. */
			vec = s->base | 7;
		} else {
			accept(s, sirq);
			vec = (uint8_t)(s->base | sirq);
		}
	} else {
		accept(m, irq);
		vec = (uint8_t)(m->base | irq);
	}
	update(pic);
	return vec;
}

bool
vatpic_intr_pending(const struct vatpic *pic)
{
	return pic->chip[MASTER].intr;
}

/* The highest-priority in-service input (for a non-specific EOI), or -1. */
static int
highest_isr(const struct vatpic_chip *c)
{
	for (int i = 0; i < 8; i++) {
		int irq = (c->lowprio + 1 + i) & 7;

		if (c->isr & (1u << irq))
			return irq;
	}
	return -1;
}

static void
ocw2(struct vatpic_chip *c, uint8_t val)
{
	int l = val & 7, irq;

	switch (val >> 5) {
	case 1:		/* non-specific EOI */
	case 5:		/* rotate on non-specific EOI */
		irq = highest_isr(c);
		if (irq < 0)
			break;
		c->isr &= (uint8_t)~(1u << irq);
		if (val >> 5 == 5)
			c->lowprio = (uint8_t)irq;
		break;
	case 3:		/* specific EOI */
		c->isr &= (uint8_t)~(1u << l);
		break;
	case 7:		/* rotate on specific EOI */
		c->isr &= (uint8_t)~(1u << l);
		c->lowprio = (uint8_t)l;
		break;
	case 6:		/* set priority */
		c->lowprio = (uint8_t)l;
		break;
	case 4:		/* rotate in auto-EOI mode: set */
		c->rotate_aeoi = true;
		break;
	case 0:		/* ... clear */
		c->rotate_aeoi = false;
		break;
	default:	/* 2: no operation */
		break;
	}
}

static void
ocw3(struct vatpic_chip *c, uint8_t val)
{
	if (val & 0x40)			/* ESMM: SMM takes bit 5 */
		c->smm = (val & 0x20) != 0;
	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)			/* RR: RIS selects ISR or IRR */
		c->read_isr = val & 1;
}

static void
icw1(struct vatpic_chip *c, uint8_t val)
{
	c->icw_next = 2;
	c->icw4 = val & 0x01;
	c->single = val & 0x02;
	c->ltim = val & 0x08;
	/*
	 * Datasheet, "Initialization Command Words": what ICW1 resets.  ISR
	 * too, as QEMU: a guest re-initializing the pair (kexec, a reboot
	 * into another kernel) must not find a level stuck in service.
	 */
	c->irr = 0;			/* the edge sense circuit */
	c->isr = 0;
	c->imr = 0;
	c->lowprio = 7;
	c->smm = false;
	c->read_isr = false;
	c->poll = false;
	c->rotate_aeoi = false;
	c->icw3 = 0;
	if (!c->icw4)
		c->aeoi = c->sfnm = false;
}

static void
odd_write(struct vatpic_chip *c, uint8_t val)
{
	switch (c->icw_next) {
	case 2:
		c->base = val & 0xf8;	/* T7-T3; A10-A8 are 8080-mode only */
		c->icw_next = c->single ? (c->icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->icw3 = val;
		c->icw_next = c->icw4 ? 4 : 0;
		break;
	case 4:
		c->aeoi = val & 0x02;
		c->sfnm = val & 0x10;
		c->icw_next = 0;
		break;
	default:
		c->imr = val;		/* OCW1 */
		break;
	}
}

/* Poll command (datasheet, "The Poll Command"): I bit and level, acknowledged. */
static uint8_t
poll_read(struct vatpic *pic, int chip)
{
	struct vatpic_chip *c = &pic->chip[chip];
	int irq;

	c->poll = false;
	irq = resolve(pic, chip);
	if (irq < 0)
		return 0;
	accept(c, irq);
	return (uint8_t)(0x80 | irq);
}

static int
port_chip(uint16_t port)
{
	switch (port & ~1) {
	case VATPIC_MASTER: return MASTER;
	case VATPIC_SLAVE: return SLAVE;
	default: return -1;
	}
}

int
vatpic_read(struct vatpic *pic, uint16_t port, uint8_t *val)
{
	int chip = port_chip(port);
	struct vatpic_chip *c;

	if (port == VATPIC_ELCR || port == VATPIC_ELCR + 1) {
		*val = pic->chip[port - VATPIC_ELCR].elcr;
		return 0;
	}
	if (chip < 0)
		return -EINVAL;
	c = &pic->chip[chip];
	if (c->poll)
		*val = poll_read(pic, chip);
	else if (port & 1)
		*val = c->imr;
	else
		*val = c->read_isr ? c->isr : requests(c);
	update(pic);
	return 0;
}

int
vatpic_write(struct vatpic *pic, uint16_t port, uint8_t val)
{
	int chip = port_chip(port);
	struct vatpic_chip *c;

	if (port == VATPIC_ELCR || port == VATPIC_ELCR + 1) {
		c = &pic->chip[port - VATPIC_ELCR];
		c->elcr = val & elcr_wmask[port - VATPIC_ELCR];
		update(pic);
		return 0;
	}
	if (chip < 0)
		return -EINVAL;
	c = &pic->chip[chip];
	if (port & 1)
		odd_write(c, val);
	else if (val & 0x10)
		icw1(c, val);
	else if (val & 0x08)
		ocw3(c, val);
	else
		ocw2(c, val);
	update(pic);
	return 0;
}

int
vatpic_set_irq(struct vatpic *pic, int irq, bool level)
{
	if (irq < 0 || irq >= VATPIC_NIRQ || irq == CASCADE_IRQ)
		return -EINVAL;
	set_pin(&pic->chip[irq >> 3], irq & 7, level);
	update(pic);
	return 0;
}

int
vatpic_assert_irq(struct vatpic *pic, int irq)
{
	return vatpic_set_irq(pic, irq, true);
}

int
vatpic_deassert_irq(struct vatpic *pic, int irq)
{
	return vatpic_set_irq(pic, irq, false);
}

int
vatpic_pulse_irq(struct vatpic *pic, int irq)
{
	int error = vatpic_set_irq(pic, irq, true);

	if (error == 0)
		error = vatpic_set_irq(pic, irq, false);
	return error;
}

void
vatpic_reset(struct vatpic *pic, uint16_t elcr)
{
	bool intr = pic->chip[MASTER].intr;

	for (int i = 0; i < 2; i++) {
		struct vatpic_chip *c = &pic->chip[i];

		memset(c, 0, sizeof(*c));
		c->icw_next = 1;	/* no INT until the guest initializes it */
		c->lowprio = 7;
		c->elcr = (uint8_t)(elcr >> (8 * i)) & elcr_wmask[i];
	}
	pic->chip[MASTER].intr = intr;
	update(pic);
}

void
vatpic_init(struct vatpic *pic, uint16_t elcr, const struct vatpic_sink *sink)
{
	memset(pic, 0, sizeof(*pic));
	if (sink != NULL)
		pic->sink = *sink;
	vatpic_reset(pic, elcr);
}

/* ---- snapshot ---- */

#define SNAP_MAGIC	0x43495056u	/* "VPIC" */
#define SNAP_VERSION	1

enum {
	F_ICW4 = 0x01, F_SINGLE = 0x02, F_LTIM = 0x04, F_AEOI = 0x08, F_SFNM = 0x10,
	F_ROT_AEOI = 0x20, F_SMM = 0x40, F_READ_ISR = 0x80,
};

ssize_t
vatpic_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vatpic *pic = arg;
	uint8_t *p = buf + 8;

	if (cap < VATPIC_SNAP_SIZE)
		return VATPIC_SNAP_SIZE;
	memset(buf, 0, VATPIC_SNAP_SIZE);
	for (int i = 0; i < 4; i++) {
		buf[i] = (uint8_t)(SNAP_MAGIC >> (8 * i));
		buf[4 + i] = (uint8_t)(SNAP_VERSION >> (8 * i));
	}
	for (int i = 0; i < 2; i++, p += 16) {
		const struct vatpic_chip *ch = &pic->chip[i];

		p[0] = ch->icw_next;
		p[1] = (uint8_t)((ch->icw4 ? F_ICW4 : 0) | (ch->single ? F_SINGLE : 0) |
		    (ch->ltim ? F_LTIM : 0) | (ch->aeoi ? F_AEOI : 0) |
		    (ch->sfnm ? F_SFNM : 0) | (ch->rotate_aeoi ? F_ROT_AEOI : 0) |
		    (ch->smm ? F_SMM : 0) | (ch->read_isr ? F_READ_ISR : 0));
		p[2] = ch->poll;
		p[3] = ch->base;
		p[4] = ch->icw3;
		p[5] = ch->irr;
		p[6] = ch->isr;
		p[7] = ch->imr;
		p[8] = ch->elcr;
		p[9] = ch->pins;
		p[10] = ch->lowprio;
	}
	return VATPIC_SNAP_SIZE;
}

int
vatpic_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vatpic *pic = arg;
	struct vatpic_chip n[2];
	const uint8_t *p = data + 8;
	uint32_t magic = 0, version = 0;
	bool intr;

	if (len != VATPIC_SNAP_SIZE)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		magic |= (uint32_t)data[i] << (8 * i);
		version |= (uint32_t)data[4 + i] << (8 * i);
	}
	if (magic != SNAP_MAGIC || version != SNAP_VERSION)
		return -EINVAL;
	for (int i = 0; i < 2; i++, p += 16) {
		struct vatpic_chip *ch = &n[i];

		memset(ch, 0, sizeof(*ch));
		ch->icw_next = p[0];
		ch->icw4 = p[1] & F_ICW4;
		ch->single = p[1] & F_SINGLE;
		ch->ltim = p[1] & F_LTIM;
		ch->aeoi = p[1] & F_AEOI;
		ch->sfnm = p[1] & F_SFNM;
		ch->rotate_aeoi = p[1] & F_ROT_AEOI;
		ch->smm = p[1] & F_SMM;
		ch->read_isr = p[1] & F_READ_ISR;
		ch->poll = p[2];
		ch->base = p[3];
		ch->icw3 = p[4];
		ch->irr = p[5];
		ch->isr = p[6];
		ch->imr = p[7];
		ch->elcr = p[8];
		ch->pins = p[9];
		ch->lowprio = p[10];
		/* States the ICW sequence cannot reach, fields with reserved bits. */
		if (ch->icw_next > 4 || (ch->icw_next == 3 && ch->single) ||
		    (ch->icw_next == 4 && !ch->icw4) || p[2] > 1 || (ch->base & 7) || (ch->elcr & ~elcr_wmask[i]) ||
		    ch->lowprio > 7)
			return -EINVAL;
		for (int j = 11; j < 16; j++)
			if (p[j] != 0)
				return -EINVAL;
	}
	intr = pic->chip[MASTER].intr;
	memcpy(pic->chip, n, sizeof(n));
	pic->chip[MASTER].intr = intr;
	update(pic);
	return 0;
}
