/*
 * vhpet.h - the High Precision Event Timer (IA-PC HPET specification 1.0a;
 * bhyve's sys/amd64/vmm/io/vhpet.c).
 *
 * One block of 3 timers behind 1 KiB of MMIO at 0xfed00000: a 64-bit main
 * counter at 2^24 Hz (bhyve's 16.7 MHz; the period in femtoseconds is in
 * the capabilities register), legacy replacement capable, Intel's vendor
 * ID, no FSB (MSI) delivery.  Timer 0 and 1 are 64-bit and periodic
 * capable; timer 2 is a 32-bit one-shot timer, as on Intel's ICH.
 *
 * Comparators match when the counter reaches them, 64-bit or, in 32-bit
 * mode, on the counter's low 32 bits; a comparator written in the past
 * matches after the counter wraps (2^32 ticks = 256 s in 32-bit mode), as
 * hardware does.  Interrupts go to a sink: each timer's line is its
 * Tn_INT_ROUTE IOAPIC pin (pins 20-23, VMM_IRQMAP_HPET_ROUTE_CAP), or in
 * legacy replacement mode timer 0 -> ISA IRQ 0 (IOAPIC pin 2) and timer 1
 * -> ISA IRQ 8.  Edge timers pulse the line; level timers set their
 * interrupt status bit and hold the line until the guest writes 1 to it.
 *
 * The model never sleeps: vhpet_deadline() is the next match of a timer
 * with interrupts enabled (host ns), vhpet_update() handles what is due;
 * periodic matches missed meanwhile coalesce into one interrupt.
 *
 * Concurrency: none inside; the caller serializes calls (one lock); the
 * sink runs with it held.
 */
#ifndef LHYVE_VHPET_H
#define LHYVE_VHPET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vio_common.h"

#define VHPET_BASE		0xfed00000ull
#define VHPET_SIZE		0x400
#define VHPET_NTIMERS		3
#define VHPET_FREQ		16777216ull		/* 2^24 Hz */
#define VHPET_PERIOD_FS		59604644ull		/* 10^15 / 2^24, truncated */
#define VHPET_VENDOR		0x8086

/* Register offsets (spec 2.3.1, Table 2). */
#define HPET_CAP		0x000
#define HPET_CONFIG		0x010
#define HPET_ISR		0x020
#define HPET_COUNTER		0x0f0
#define HPET_TIMER(n)		(0x100 + 0x20 * (n))	/* config and capabilities */
#define HPET_TIMER_CMP(n)	(0x108 + 0x20 * (n))
#define HPET_TIMER_FSB(n)	(0x110 + 0x20 * (n))

#define HPET_CNF_ENABLE		0x1
#define HPET_CNF_LEG_RT		0x2

#define HPET_TN_LEVEL		0x0002
#define HPET_TN_INT_ENB		0x0004
#define HPET_TN_PERIODIC	0x0008
#define HPET_TN_PER_CAP		0x0010
#define HPET_TN_SIZE_CAP	0x0020
#define HPET_TN_VAL_SET		0x0040
#define HPET_TN_32MODE		0x0100
#define HPET_TN_ROUTE_SHIFT	9
#define HPET_TN_ROUTE_MASK	0x3e00
#define HPET_TN_FSB_EN		0x4000
#define HPET_TN_FSB_CAP		0x8000

struct vhpet_sink {
	/*
	 * Timer @timer's line changed: IOAPIC pin @pin, and ISA IRQ @isa_irq
	 * (the 8259's line too) in legacy replacement mode, else -1.
	 */
	void	(*irq)(void *arg, int timer, int pin, int isa_irq, bool level);
	void	*arg;
};

struct vhpet_timer {
	uint64_t	config;		/* writable bits, as the guest set them */
	uint64_t	comp;		/* next match */
	uint64_t	period;		/* periodic: added at each match */
	int		line_pin;	/* level line held: pin, or -1 */
	int		line_isa;
};

struct vhpet {
	struct vio_clock clock;
	struct vhpet_sink sink;
	uint64_t	config;		/* general configuration */
	uint64_t	isr;		/* general interrupt status */
	uint64_t	base_count;	/* counter at base_ns, or while halted */
	uint64_t	base_ns;
	uint64_t	last_count;	/* matches up to here are handled */
	struct vhpet_timer timer[VHPET_NTIMERS];
};

void	vhpet_init(struct vhpet *hpet, const struct vio_clock *clock,
	    const struct vhpet_sink *sink);
void	vhpet_reset(struct vhpet *hpet);

/*
 * @off within the block (0..0x3ff), @size 1, 2, 4 or 8.  Reads of any
 * size return the bytes at @off (reserved registers read 0); writes take
 * 4 bytes at a 4-byte boundary or 8 at an 8-byte boundary, others are
 * dropped.  -EINVAL for an offset outside the block.
 */
int	vhpet_mmio_read(struct vhpet *hpet, uint32_t off, int size, uint64_t *val);
int	vhpet_mmio_write(struct vhpet *hpet, uint32_t off, int size, uint64_t val);

/* The main counter now. */
uint64_t vhpet_counter(struct vhpet *hpet);

uint64_t vhpet_deadline(struct vhpet *hpet);
void	vhpet_update(struct vhpet *hpet);

/*
 * Snapshot: the counter relative to the clock.  Restore re-establishes
 * which level lines are held without calling the sink: the IOAPIC's own
 * snapshot carries the pin levels.
 */
#define VHPET_SNAP_SIZE		(48 + VHPET_NTIMERS * 24)
ssize_t	vhpet_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vhpet_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VHPET_H */
