/*
 * vatpit.h - the 8254 programmable interval timer (Intel 82C54 datasheet;
 * bhyve's sys/amd64/vmm/io/vatpit.c) and port 0x61 (NMI status and
 * control: the channel 2 gate and output).
 *
 * Three channels clocked at 1.193182 MHz behind ports 0x40-0x42 and the
 * control word at 0x43: modes 0-5, binary or BCD, LSB/MSB/both access,
 * counter latch and read-back commands; a count of 0 is 65536 (10000 in
 * BCD).  Channel 0's OUT drives ISA IRQ 0 through the sink (a level;
 * an edge-triggered 8259 or IOAPIC input sees its rising edges); channel
 * 1 (the old DRAM refresh) counts with nothing attached; channel 2's gate
 * and output are bits 0 and 5 of port 0x61.
 *
 * The count is computed from the clock, never stepped: the model never
 * sleeps.  vatpit_deadline() says when OUT0 next rises (host ns); the
 * caller arms a host timer for it and calls vatpit_update(), which hands
 * the edges that are due to the sink (those missed while the caller slept
 * coalesce into one, as the LAPIC timer's).
 *
 * Simplification: the count is loaded into the counting element at the
 * write, not at the next CLK edge (one 838 ns tick early), as QEMU and
 * bhyve do.
 *
 * Concurrency: none inside; the caller serializes calls (one lock).
 */
#ifndef LHYVE_VATPIT_H
#define LHYVE_VATPIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vio_common.h"

#define VATPIT_HZ		1193182u
#define VATPIT_PORT		0x40	/* 0x40-0x42 counters, 0x43 control */
#define VATPIT_PORT_CTRL	0x43
#define VATPIT_PORT_NMISC	0x61

/* Port 0x61 bits. */
#define NMISC_GATE2		0x01
#define NMISC_SPKR		0x02	/* speaker data enable */
#define NMISC_RW_MASK		0x0f	/* gate, speaker, parity/IOCHK enables */
#define NMISC_REFRESH		0x10	/* toggles every 15.085 us */
#define NMISC_OUT2		0x20

struct vatpit_sink {
	/* Channel 0's OUT (ISA IRQ 0) changed level. */
	void	(*irq0)(void *arg, bool level);
	void	*arg;
};

struct vatpit_chan {
	uint8_t		mode;		/* as programmed, 0-7 */
	uint8_t		rw;		/* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool		bcd;
	bool		wr_msb;		/* next write is the MSB */
	bool		rd_msb;		/* next read is the MSB */
	uint8_t		wr_lsb;		/* LSB written, waiting for the MSB */
	uint32_t	cr;		/* count register, 1..65536 (10000 BCD) */
	bool		armed;		/* a count was written since the mode */
	bool		running;	/* the counting element is loaded */
	bool		frozen;		/* counting held (gate low in 0/4, mode 0 MSB) */
	uint64_t	frozen_t;	/* ticks counted when held */
	uint32_t	n;		/* count loaded, 1..65536 */
	uint64_t	base_ns;	/* t = 0: when n was loaded */
	uint32_t	ce_idle;	/* counting element while not running */
	bool		pend;		/* modes 2/3: cr loads at pend_ns */
	uint64_t	pend_ns;
	bool		null_count;
	bool		ol_latched, st_latched;
	uint16_t	ol;		/* output latch */
	uint8_t		st;		/* status latch */
	bool		gate;
	bool		out_idle;	/* OUT while not running */
};

struct vatpit {
	struct vio_clock clock;
	struct vatpit_sink sink;
	struct vatpit_chan ch[3];
	uint8_t		nmisc;		/* port 0x61 bits 3:0 */
	bool		irq0_level;	/* last level told to the sink */
	uint64_t	irq0_seen_ns;	/* OUT0 edges up to here are reported */
};

void	vatpit_init(struct vatpit *pit, const struct vio_clock *clock,
	    const struct vatpit_sink *sink);
void	vatpit_reset(struct vatpit *pit);

/*
 * Ports 0x40-0x43 and 0x61, one byte at a time (wider accesses are split
 * by the caller, as the ISA bus does).  -EINVAL for another port.  Reads
 * of 0x43 return 0xff (the control word is write-only).
 */
int	vatpit_read(struct vatpit *pit, uint16_t port, uint8_t *val);
int	vatpit_write(struct vatpit *pit, uint16_t port, uint8_t val);

/* A channel's OUT now (0-2); -1 for another channel. */
int	vatpit_out(struct vatpit *pit, int chan);

/* When OUT0 next rises (UINT64_MAX: never); report what is due. */
uint64_t vatpit_deadline(struct vatpit *pit);
void	vatpit_update(struct vatpit *pit);

/* Snapshot: times relative to the clock, validated on restore. */
#define VATPIT_SNAP_SIZE	(20 + 3 * 48)
ssize_t	vatpit_snapshot_save(void *arg, uint8_t *buf, size_t cap);
int	vatpit_snapshot_restore(void *arg, const uint8_t *data, size_t len);

#endif /* LHYVE_VATPIT_H */
