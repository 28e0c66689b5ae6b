/*
 * vio_common.h - what the vmm/io platform models (vatpic, vatpit, vhpet,
 * vpmtmr, vrtc) share: the injected clock and the snapshot byte cursor.
 *
 * The clock is the caller's monotonic host time in nanoseconds; the models
 * never read a host clock themselves and never sleep, so their tests drive
 * them with a fake clock.  Snapshots are little-endian bytes: a cursor
 * writes or reads fixed-size fields and remembers an overrun instead of
 * running past the buffer.
 */
#ifndef LHYVE_VIO_COMMON_H
#define LHYVE_VIO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIO_NS_PER_SEC		1000000000ull
#define VIO_NO_DEADLINE		UINT64_MAX

struct vio_clock {
	uint64_t	(*now_ns)(void *arg);	/* monotonic host time */
	void		*arg;
};

static inline uint64_t
vio_now(const struct vio_clock *c)
{
	return c->now_ns(c->arg);
}

/* Whole ticks of a @hz clock in @ns. */
static inline uint64_t
vio_ns_to_ticks(uint64_t ns, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)ns * hz / VIO_NS_PER_SEC);
}

/* The first time (ns) by which @ticks ticks of a @hz clock have passed. */
static inline uint64_t
vio_ticks_to_ns(uint64_t ticks, uint64_t hz)
{
	unsigned __int128 n = (unsigned __int128)ticks * VIO_NS_PER_SEC + hz - 1;

	n /= hz;
	return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

struct vio_cur {
	uint8_t		*w;		/* writing, or */
	const uint8_t	*r;		/* reading */
	size_t		off, cap;
	bool		overrun;
};

static inline bool
vio_cur_room(struct vio_cur *c, size_t n)
{
	if (c->overrun || c->cap - c->off < n) {
		c->overrun = true;
		return false;
	}
	return true;
}

static inline void
vio_put8(struct vio_cur *c, uint8_t v)
{
	if (vio_cur_room(c, 1))
		c->w[c->off++] = v;
}

static inline void
vio_put32(struct vio_cur *c, uint32_t v)
{
	if (!vio_cur_room(c, 4))
		return;
	for (int i = 0; i < 4; i++)
		c->w[c->off++] = (uint8_t)(v >> (8 * i));
}

static inline void
vio_put64(struct vio_cur *c, uint64_t v)
{
	vio_put32(c, (uint32_t)v);
	vio_put32(c, (uint32_t)(v >> 32));
}

static inline uint8_t
vio_get8(struct vio_cur *c)
{
	return vio_cur_room(c, 1) ? c->r[c->off++] : 0;
}

static inline uint32_t
vio_get32(struct vio_cur *c)
{
	uint32_t v = 0;

	if (!vio_cur_room(c, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)c->r[c->off++] << (8 * i);
	return v;
}

static inline uint64_t
vio_get64(struct vio_cur *c)
{
	uint64_t lo = vio_get32(c);

	return lo | (uint64_t)vio_get32(c) << 32;
}

/*
 * A deadline as saved in a snapshot: relative to the clock (the clock does
 * not survive a restart), UINT64_MAX for none.
 */
static inline uint64_t
vio_rel(uint64_t t, uint64_t now)
{
	if (t == VIO_NO_DEADLINE)
		return VIO_NO_DEADLINE;
	return t > now ? t - now : 0;
}

#endif /* LHYVE_VIO_COMMON_H */
