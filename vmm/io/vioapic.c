/*
 * vioapic.c - the I/O APIC register model (Intel 82093AA datasheet, 3.0
 * "Register Description").  Interfaces and concurrency: vioapic.h.
 */
#include <errno.h>
#include <string.h>

#include "vioapic.h"

#define ID_MASK		0x0f000000u	/* ID bits 27:24 (datasheet 3.2.1) */
/* Redirection entry, low word: writable bits; delivery status and remote IRR are RO. */
#define RTE_LO_WMASK	0x0001afffu
#define RTE_LO_RO	0x00005000u
#define RTE_HI_WMASK	0xff000000u	/* destination, bits 63:56 */

static uint32_t
pin_bit(int pin)
{
	return 1u << pin;
}

static bool
rte_level(uint64_t rte)
{
	return (rte & IOART_TRIGGER_LEVEL) != 0;
}

/* Send pin @pin's message (datasheet 3.2.4); level entries set remote IRR. */
static void
send(struct vioapic *vio, int pin)
{
	uint64_t rte = vio->rte[pin];
	struct vlapic_msg m = {
		.vector = rte & 0xff,
		.mode = (rte >> 8) & 7,
		.logical = (rte & IOART_DEST_LOGICAL) != 0,
		.level = rte_level(rte),
		.assert = true,
		.shorthand = APIC_DEST_NONE,
		.dest = (uint32_t)(rte >> 56),
		.src = -1,
	};

	if (m.mode == 3 || m.mode == APIC_DM_SIPI)
		return;		/* reserved delivery modes */
	/* Remote IRR waits for the EOI of fixed and lowest-priority messages. */
	if (m.level && (m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWPRI))
		vio->rte[pin] |= IOART_REMOTE_IRR;
	if (vio->sink.deliver != NULL)
		vio->sink.deliver(vio->sink.arg, &m);
}

/* A level pin that is asserted, unmasked and not awaiting EOI fires. */
static void
check_level(struct vioapic *vio, int pin)
{
	uint64_t rte = vio->rte[pin];

	if (rte_level(rte) && (vio->asserted & pin_bit(pin)) &&
	    !(rte & IOART_MASKED) && !(rte & IOART_REMOTE_IRR))
		send(vio, pin);
}

void
vioapic_reset(struct vioapic *vio)
{
	vio->id = 0;
	vio->regsel = 0;
	/* Entries come up masked (datasheet 3.2.4, bit 16). */
	for (int i = 0; i < VIOAPIC_PINS; i++)
		vio->rte[i] = IOART_MASKED;
	vio->asserted = 0;
}

void
vioapic_init(struct vioapic *vio, const struct vioapic_sink *sink)
{
	memset(vio, 0, sizeof(*vio));
	vio->sink = *sink;
	vioapic_reset(vio);
}

static uint32_t
reg_read(struct vioapic *vio, uint32_t sel)
{
	int pin;

	switch (sel) {
	case IOAPIC_ID:
		return vio->id;
	case IOAPIC_VER:
		return VIOAPIC_VERSION;
	case IOAPIC_ARB:
		return vio->id;		/* arbitration ID follows the ID */
	}
	if (sel >= IOAPIC_REDTBL && sel < IOAPIC_REDTBL + 2 * VIOAPIC_PINS) {
		pin = (int)(sel - IOAPIC_REDTBL) / 2;
		return (sel & 1) ? (uint32_t)(vio->rte[pin] >> 32) : (uint32_t)vio->rte[pin];
	}
	return 0;	/* reserved */
}

static void
reg_write(struct vioapic *vio, uint32_t sel, uint32_t val)
{
	uint64_t old, rte;
	int pin;

	if (sel == IOAPIC_ID) {
		vio->id = val & ID_MASK;
		return;
	}
	if (sel < IOAPIC_REDTBL || sel >= IOAPIC_REDTBL + 2 * VIOAPIC_PINS)
		return;		/* version, arbitration: RO; reserved */
	pin = (int)(sel - IOAPIC_REDTBL) / 2;
	old = rte = vio->rte[pin];
	if (sel & 1) {
		rte = (rte & 0xffffffffu) | (uint64_t)(val & RTE_HI_WMASK) << 32;
	} else {
		rte = (rte & ~0xffffffffull) | (val & RTE_LO_WMASK) | (old & RTE_LO_RO);
		/* Remote IRR is meaningless for an edge entry: clear it (as bhyve). */
		if (!rte_level(rte))
			rte &= ~(uint64_t)IOART_REMOTE_IRR;
	}
	vio->rte[pin] = rte;
	/* Unmasking (or making level) an asserted line delivers it now. */
	check_level(vio, pin);
}

int
vioapic_mmio_read(struct vioapic *vio, uint32_t off, int size, uint64_t *val)
{
	uint32_t v;

	switch (off) {
	case IOAPIC_REGSEL:
		v = vio->regsel;
		break;
	case IOAPIC_WINDOW:
		v = reg_read(vio, vio->regsel);
		break;
	default:
		v = 0;
		break;
	}
	if (size < 4)
		v &= (1u << (size * 8)) - 1;
	*val = v;
	return 0;
}

int
vioapic_mmio_write(struct vioapic *vio, uint32_t off, int size, uint64_t val)
{
	switch (off) {
	case IOAPIC_REGSEL:
		vio->regsel = val & 0xff;	/* bits 7:0 (datasheet 3.1.1) */
		break;
	case IOAPIC_WINDOW:
		/* The window is a 32-bit register (datasheet 3.1.2). */
		if (size >= 4)
			reg_write(vio, vio->regsel, (uint32_t)val);
		break;
	default:
		break;
	}
	return 0;
}

int
vioapic_assert(struct vioapic *vio, int pin)
{
	bool was;

	if (pin < 0 || pin >= VIOAPIC_PINS)
		return -EINVAL;
	was = vio->asserted & pin_bit(pin);
	vio->asserted |= pin_bit(pin);
	if (rte_level(vio->rte[pin]))
		check_level(vio, pin);
	else if (!was && !(vio->rte[pin] & IOART_MASKED))
		send(vio, pin);		/* an edge while masked is lost */
	return 0;
}

int
vioapic_deassert(struct vioapic *vio, int pin)
{
	if (pin < 0 || pin >= VIOAPIC_PINS)
		return -EINVAL;
	vio->asserted &= ~pin_bit(pin);
	return 0;
}

int
vioapic_pulse(struct vioapic *vio, int pin)
{
	int error = vioapic_assert(vio, pin);

	if (error == 0)
		error = vioapic_deassert(vio, pin);
	return error;
}

void
vioapic_eoi(struct vioapic *vio, uint8_t vector)
{
	for (int pin = 0; pin < VIOAPIC_PINS; pin++) {
		uint64_t rte = vio->rte[pin];

		if ((rte & 0xff) != vector || !(rte & IOART_REMOTE_IRR))
			continue;
		vio->rte[pin] &= ~(uint64_t)IOART_REMOTE_IRR;
		/* Still asserted: the interrupt is sent again. */
		check_level(vio, pin);
	}
}

#define SNAP_MAGIC	0x414f4956u	/* "VIOA" */
#define SNAP_VERSION	1

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

ssize_t
vioapic_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vioapic *vio = arg;
	uint8_t *p = buf;

	if (cap < VIOAPIC_SNAP_SIZE)
		return VIOAPIC_SNAP_SIZE;
	put32(p, SNAP_MAGIC);
	put32(p + 4, SNAP_VERSION);
	put32(p + 8, vio->id);
	put32(p + 12, vio->regsel);
	put32(p + 16, vio->asserted);
	p += 20;
	for (int i = 0; i < VIOAPIC_PINS; i++, p += 8) {
		put32(p, (uint32_t)vio->rte[i]);
		put32(p + 4, (uint32_t)(vio->rte[i] >> 32));
	}
	return VIOAPIC_SNAP_SIZE;
}

int
vioapic_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vioapic *vio = arg;
	uint64_t rte[VIOAPIC_PINS];
	uint32_t id, regsel, asserted;
	const uint8_t *p = data + 20;

	if (len != VIOAPIC_SNAP_SIZE || get32(data) != SNAP_MAGIC ||
	    get32(data + 4) != SNAP_VERSION)
		return -EINVAL;
	id = get32(data + 8);
	regsel = get32(data + 12);
	asserted = get32(data + 16);
	if ((id & ~ID_MASK) || regsel > 0xff || (asserted >> VIOAPIC_PINS))
		return -EINVAL;
	for (int i = 0; i < VIOAPIC_PINS; i++, p += 8) {
		uint32_t lo = get32(p), hi = get32(p + 4);

		/* Reserved bits, a delivery status we never set, remote IRR on edge. */
		if ((lo & ~(RTE_LO_WMASK | IOART_REMOTE_IRR)) || (hi & ~RTE_HI_WMASK) ||
		    ((lo & IOART_REMOTE_IRR) && !(lo & IOART_TRIGGER_LEVEL)))
			return -EINVAL;
		rte[i] = (uint64_t)hi << 32 | lo;
	}
	vio->id = id;
	vio->regsel = regsel;
	vio->asserted = asserted;
	memcpy(vio->rte, rte, sizeof(rte));
	return 0;
}
