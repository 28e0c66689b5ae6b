/*
 * vioapic.h - the I/O APIC register model (Intel 82093AA datasheet).
 *
 * 24 pins behind the indirect register window (IOREGSEL at 0x00, IOWIN at
 * 0x10 of its MMIO page); each pin's redirection entry turns a line change
 * into an interrupt message for the LAPICs, handed to a sink (the machine
 * routes it with vlapic_route()).  Pin states are logical: "asserted" means
 * active, whatever the entry's polarity says (the machine map knows how a
 * line is wired), as in bhyve's vioapic.c.
 *
 * Concurrency: none inside; the caller serializes every call (one lock
 * for the IOAPIC).  The sink runs with it held.
 */
#ifndef LHYVE_VIOAPIC_H
#define LHYVE_VIOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vlapic.h"

#define VIOAPIC_PINS		24
#define VIOAPIC_BASE		0xfec00000ull
#define VIOAPIC_SIZE		0x1000
#define VIOAPIC_VERSION		0x00170011	/* max entry 0x17, version 0x11 */

#define IOAPIC_REGSEL		0x00
#define IOAPIC_WINDOW		0x10
#define IOAPIC_ID		0x00
#define IOAPIC_VER		0x01
#define IOAPIC_ARB		0x02
#define IOAPIC_REDTBL		0x10	/* entry n: 0x10 + 2n (low), 0x11 + 2n (high) */

#define IOART_MASKED		0x00010000u
#define IOART_TRIGGER_LEVEL	0x00008000u
#define IOART_REMOTE_IRR	0x00004000u
#define IOART_DEST_LOGICAL	0x00000800u

struct vioapic_sink {
	void	(*deliver)(void *arg, const struct vlapic_msg *msg);
	void	*arg;
};

struct vioapic {
	uint32_t	id;			/* ID register, bits 27:24 */
	uint32_t	regsel;
	uint64_t	rte[VIOAPIC_PINS];
	uint32_t	asserted;		/* one bit per pin */
	struct vioapic_sink sink;
};

void	vioapic_init(struct vioapic *vio, const struct vioapic_sink *sink);
void	vioapic_reset(struct vioapic *vio);

/* @off within the page; other offsets read 0 and ignore writes. */
int	vioapic_mmio_read(struct vioapic *vio, uint32_t off, int size, uint64_t *val);
int	vioapic_mmio_write(struct vioapic *vio, uint32_t off, int size, uint64_t val);

/* Line changes; -EINVAL for a pin out of range. */
int	vioapic_assert(struct vioapic *vio, int pin);
int	vioapic_deassert(struct vioapic *vio, int pin);
int	vioapic_pulse(struct vioapic *vio, int pin);
/* A LAPIC's EOI of a level-triggered @vector (vlapic sink.eoi_level). */
void	vioapic_eoi(struct vioapic *vio, uint8_t vector);

#define VIOAPIC_SNAP_SIZE	(4 * 5 + 8 * VIOAPIC_PINS)
ssize_t	vioapic_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vioapic_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VIOAPIC_H */
