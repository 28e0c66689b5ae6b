/*
 * vpmtmr.h - the ACPI power management timer (ACPI 6.x, 4.8.2.1; bhyve's
 * sys/amd64/vmm/io/vpmtmr.c).
 *
 * A free-running up-counter at 3.579545 MHz, 24 bits wide or 32 bits when
 * the FADT sets TMR_VAL_EXT, read-only at PM_TMR_BLK (port 0x408 on this
 * machine: MACHINE_IO_PM_TMR).  Each time its top bit changes the hardware
 * sets TMR_STS in PM1_STS (4.8.2.1): the model tells the PM1 block through
 * an optional sink, at the deadline it exposes, as vlapic does.
 *
 * Concurrency: none inside; the caller serializes calls (one lock).
 */
#ifndef LHYVE_VPMTMR_H
#define LHYVE_VPMTMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vio_common.h"

#define VPMTMR_HZ		3579545u
#define VPMTMR_PORT		0x408		/* = MACHINE_IO_PM_TMR */
#define VPMTMR_NPORTS		4

struct vpmtmr_sink {
	/* Optional: bit 23 (or 31) of the counter changed: set TMR_STS. */
	void	(*carry)(void *arg);
	void	*arg;
};

struct vpmtmr {
	struct vio_clock clock;
	struct vpmtmr_sink sink;
	bool		ext32;		/* TMR_VAL_EXT: 32-bit counter */
	uint64_t	base_ns;	/* the counter read 0 here */
	uint64_t	carry_seen;	/* top-bit changes already reported */
};

void	vpmtmr_init(struct vpmtmr *pt, bool ext32, const struct vio_clock *clock,
	    const struct vpmtmr_sink *sink);
/* Counter value now (24 or 32 bits). */
uint32_t vpmtmr_count(const struct vpmtmr *pt);

/*
 * Port access, @port absolute (0x408-0x40b), @size 1, 2 or 4: a read
 * returns the counter's bytes from that port on; writes are ignored (the
 * register is read-only).  -EINVAL for a port or size outside the block.
 */
int	vpmtmr_read(struct vpmtmr *pt, uint16_t port, int size, uint32_t *val);
int	vpmtmr_write(struct vpmtmr *pt, uint16_t port, int size, uint32_t val);

/* The next top-bit change (host ns); report what is due. */
uint64_t vpmtmr_deadline(const struct vpmtmr *pt);
void	vpmtmr_update(struct vpmtmr *pt);

/*
 * Snapshot: the time elapsed since the counter read 0, so the count goes on
 * across a restart.  Restore refuses another counter width.
 */
#define VPMTMR_SNAP_SIZE	28
ssize_t	vpmtmr_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vpmtmr_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VPMTMR_H */
