/*
 * vpmtmr.c - the ACPI PM timer (ACPI 6.x, 4.8.2.1).  Interfaces: vpmtmr.h.
 */
#include <errno.h>
#include <string.h>

#include "vpmtmr.h"

static int
width(const struct vpmtmr *pt)
{
	return pt->ext32 ? 32 : 24;
}

static uint64_t
ticks(const struct vpmtmr *pt)
{
	/* Wrapping subtraction: a restored base may lie "before" the clock's 0. */
	return vio_ns_to_ticks(vio_now(&pt->clock) - pt->base_ns, VPMTMR_HZ);
}

uint32_t
vpmtmr_count(const struct vpmtmr *pt)
{
	return (uint32_t)(ticks(pt) & ((1ull << width(pt)) - 1));
}

void
vpmtmr_init(struct vpmtmr *pt, bool ext32, const struct vio_clock *clock,
    const struct vpmtmr_sink *sink)
{
	memset(pt, 0, sizeof(*pt));
	pt->clock = *clock;
	if (sink != NULL)
		pt->sink = *sink;
	pt->ext32 = ext32;
	pt->base_ns = vio_now(clock);
}

int
vpmtmr_read(struct vpmtmr *pt, uint16_t port, int size, uint32_t *val)
{
	unsigned off = (unsigned)port - VPMTMR_PORT;

	if (port < VPMTMR_PORT || (size != 1 && size != 2 && size != 4) ||
	    off + (unsigned)size > VPMTMR_NPORTS)
		return -EINVAL;
	/* Bits above the counter's width read as 0 (TMR_VAL, 4.8.2.1). */
	*val = vpmtmr_count(pt) >> (8 * off);
	if (size < 4)
		*val &= (1u << (8 * size)) - 1;
	return 0;
}

int
vpmtmr_write(struct vpmtmr *pt, uint16_t port, int size, uint32_t val)
{
	unsigned off = (unsigned)port - VPMTMR_PORT;

	if (port < VPMTMR_PORT || (size != 1 && size != 2 && size != 4) ||
	    off + (unsigned)size > VPMTMR_NPORTS)
		return -EINVAL;
	return 0;
}

/* The top bit changes every 2^(width-1) ticks. */
static uint64_t
half_period(const struct vpmtmr *pt)
{
	return 1ull << (width(pt) - 1);
}

uint64_t
vpmtmr_deadline(const struct vpmtmr *pt)
{
	if (pt->sink.carry == NULL)
		return VIO_NO_DEADLINE;
	return pt->base_ns + vio_ticks_to_ns((pt->carry_seen + 1) * half_period(pt),
	    VPMTMR_HZ);
}

void
vpmtmr_update(struct vpmtmr *pt)
{
	uint64_t n = ticks(pt) / half_period(pt);

	/* Changes missed while the caller slept set TMR_STS once. */
	if (n > pt->carry_seen) {
		pt->carry_seen = n;
		if (pt->sink.carry != NULL)
			pt->sink.carry(pt->sink.arg);
	}
}

#define SNAP_MAGIC	0x544d5056u	/* "VPMT" */
#define SNAP_VERSION	1

ssize_t
vpmtmr_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vpmtmr *pt = arg;
	struct vio_cur c = { .w = buf, .cap = cap };
	uint64_t now = vio_now(&pt->clock);

	if (cap < VPMTMR_SNAP_SIZE)
		return VPMTMR_SNAP_SIZE;
	vio_put32(&c, SNAP_MAGIC);
	vio_put32(&c, SNAP_VERSION);
	vio_put32(&c, pt->ext32);
	vio_put64(&c, now - pt->base_ns);
	vio_put64(&c, pt->carry_seen);
	return (ssize_t)c.off;
}

int
vpmtmr_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vpmtmr *pt = arg;
	struct vio_cur c = { .r = data, .cap = len };
	uint64_t elapsed, seen, now;
	uint32_t ext;

	if (len != VPMTMR_SNAP_SIZE || vio_get32(&c) != SNAP_MAGIC ||
	    vio_get32(&c) != SNAP_VERSION)
		return -EINVAL;
	ext = vio_get32(&c);
	elapsed = vio_get64(&c);
	seen = vio_get64(&c);
	now = vio_now(&pt->clock);
	/* The width is the machine's (FADT), not the guest's to change. */
	if (ext != pt->ext32 || elapsed > (1ull << 62))
		return -EINVAL;
	/* Changes reported cannot be ahead of the count. */
	if (seen > vio_ns_to_ticks(elapsed, VPMTMR_HZ) / half_period(pt))
		return -EINVAL;
	pt->base_ns = now - elapsed;
	pt->carry_seen = seen;
	return 0;
}
