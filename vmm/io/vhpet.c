/*
 * vhpet.c - the HPET (IA-PC HPET specification 1.0a, 2.3 "Register
 * Descriptions", 2.3.9 "Timer Operation").  Interfaces and concurrency:
 * vhpet.h.
 */
#include <errno.h>
#include <string.h>

#include "vhpet.h"
#include "vmm_irqmap.h"

#define NONE		VIO_NO_DEADLINE
#define ROUTE_CAP	((uint64_t)VMM_IRQMAP_HPET_ROUTE_CAP)

/* Timers 0 and 1: periodic, 64-bit; timer 2: one-shot, 32-bit (as ICH). */
static const uint64_t timer_caps[VHPET_NTIMERS] = {
	HPET_TN_PER_CAP | HPET_TN_SIZE_CAP | ROUTE_CAP << 32,
	HPET_TN_PER_CAP | HPET_TN_SIZE_CAP | ROUTE_CAP << 32,
	ROUTE_CAP << 32,
};

static uint64_t
timer_wmask(int n)
{
	uint64_t m = HPET_TN_LEVEL | HPET_TN_INT_ENB | HPET_TN_VAL_SET | HPET_TN_ROUTE_MASK;

	if (timer_caps[n] & HPET_TN_PER_CAP)
		m |= HPET_TN_PERIODIC;
	if (timer_caps[n] & HPET_TN_SIZE_CAP)
		m |= HPET_TN_32MODE;
	return m;
}

/* The comparator's width: 32 bits in 32-bit mode or on a 32-bit timer. */
static uint64_t
width_mask(const struct vhpet *hpet, int n)
{
	if (!(timer_caps[n] & HPET_TN_SIZE_CAP) || (hpet->timer[n].config & HPET_TN_32MODE))
		return 0xffffffffull;
	return UINT64_MAX;
}

static bool
enabled(const struct vhpet *hpet)
{
	return (hpet->config & HPET_CNF_ENABLE) != 0;
}

static uint64_t
counter_at(const struct vhpet *hpet, uint64_t now)
{
	if (!enabled(hpet))
		return hpet->base_count;
	return hpet->base_count + vio_ns_to_ticks(now - hpet->base_ns, VHPET_FREQ);
}

uint64_t
vhpet_counter(struct vhpet *hpet)
{
	return counter_at(hpet, vio_now(&hpet->clock));
}

/* Where timer @n's interrupt goes (spec 2.3.8, 2.3.9.3 legacy replacement). */
static void
route_of(const struct vhpet *hpet, int n, int *pin, int *isa)
{
	uint32_t r = (hpet->timer[n].config & HPET_TN_ROUTE_MASK) >> HPET_TN_ROUTE_SHIFT;

	*isa = -1;
	if ((hpet->config & HPET_CNF_LEG_RT) && n < 2) {
		*isa = n == 0 ? VMM_IRQMAP_IRQ_PIT : VMM_IRQMAP_IRQ_RTC;
		*pin = vmm_irqmap_isa_pin(*isa);
	} else if (ROUTE_CAP & (1ull << r)) {
		*pin = (int)r;
	} else {
		*pin = -1;	/* the reset route 0 is not wired */
	}
}

static void
tell(struct vhpet *hpet, int n, int pin, int isa, bool level)
{
	if (hpet->sink.irq != NULL)
		hpet->sink.irq(hpet->sink.arg, n, pin, isa, level);
}

/* Hold each level timer's line while its status bit is set (spec 2.3.6). */
static void
line_sync(struct vhpet *hpet, bool notify)
{
	for (int n = 0; n < VHPET_NTIMERS; n++) {
		struct vhpet_timer *t = &hpet->timer[n];
		int pin = -1, isa = -1;

		if ((hpet->isr & (1u << n)) && (t->config & HPET_TN_LEVEL) &&
		    (t->config & HPET_TN_INT_ENB))
			route_of(hpet, n, &pin, &isa);
		if (pin == t->line_pin && isa == t->line_isa)
			continue;
		if (notify && t->line_pin >= 0)
			tell(hpet, n, t->line_pin, t->line_isa, false);
		if (notify && pin >= 0)
			tell(hpet, n, pin, isa, true);
		t->line_pin = pin;
		t->line_isa = isa;
	}
}

static void
fire(struct vhpet *hpet, int n)
{
	struct vhpet_timer *t = &hpet->timer[n];
	int pin, isa;

	if (!(t->config & HPET_TN_INT_ENB))
		return;
	route_of(hpet, n, &pin, &isa);
	if (pin < 0)
		return;
	if (t->config & HPET_TN_LEVEL) {
		hpet->isr |= 1u << n;	/* line_sync raises it */
	} else {
		tell(hpet, n, pin, isa, true);
		tell(hpet, n, pin, isa, false);
	}
}

/*
 * Ticks after @from until timer @n's comparator matches: the comparator
 * equals the counter (its low 32 bits in 32-bit mode).  A comparator equal
 * to @from matched then; the next match is a full wrap away.
 */
static unsigned __int128
ticks_to_match(const struct vhpet *hpet, int n, uint64_t from)
{
	uint64_t w = width_mask(hpet, n);
	uint64_t d = (hpet->timer[n].comp - from) & w;

	return d != 0 ? d : (unsigned __int128)w + 1;
}

/* Matches of timer @n as the counter went from @last to @now. */
static void
timer_check(struct vhpet *hpet, int n, uint64_t last, uint64_t now)
{
	struct vhpet_timer *t = &hpet->timer[n];
	uint64_t w = width_mask(hpet, n), elapsed = now - last, p;
	unsigned __int128 d = ticks_to_match(hpet, n, last), k;

	if (d > elapsed)
		return;
	/* Periodic: the comparator steps by the period past each match (2.3.9.2.2). */
	p = t->period & w;
	if ((t->config & HPET_TN_PERIODIC) && p != 0) {
		k = 1 + (elapsed - d) / p;
		t->comp = (uint64_t)(t->comp + k * p) & w;
	}
	/* Matches missed while the caller slept coalesce into one interrupt. */
	fire(hpet, n);
}

static void
sync(struct vhpet *hpet, uint64_t now)
{
	uint64_t c;

	if (enabled(hpet)) {
		c = counter_at(hpet, now);
		for (int n = 0; n < VHPET_NTIMERS; n++)
			timer_check(hpet, n, hpet->last_count, c);
		hpet->last_count = c;
	}
	line_sync(hpet, true);
}

uint64_t
vhpet_deadline(struct vhpet *hpet)
{
	uint64_t best = NONE;
	int pin, isa;

	if (!enabled(hpet))
		return NONE;
	for (int n = 0; n < VHPET_NTIMERS; n++) {
		unsigned __int128 ticks, ns;

		route_of(hpet, n, &pin, &isa);
		if (!(hpet->timer[n].config & HPET_TN_INT_ENB) || pin < 0)
			continue;
		ticks = (unsigned __int128)(hpet->last_count - hpet->base_count) +
		    ticks_to_match(hpet, n, hpet->last_count);
		ns = (ticks * VIO_NS_PER_SEC + VHPET_FREQ - 1) / VHPET_FREQ;
		/* Farther than 2^62 ns (146 years): never. */
		if (ns > (1ull << 62))
			continue;
		/* Wrapping add: a restored base may lie "before" the clock's 0. */
		if (hpet->base_ns + (uint64_t)ns < best)
			best = hpet->base_ns + (uint64_t)ns;
	}
	return best;
}

void
vhpet_update(struct vhpet *hpet)
{
	sync(hpet, vio_now(&hpet->clock));
}

/* ---- registers ---- */

static uint64_t
cap_id(void)
{
	/* Spec 2.3.4: revision 1, timers - 1, 64-bit counter, legacy capable. */
	return VHPET_PERIOD_FS << 32 | (uint64_t)VHPET_VENDOR << 16 | 0x8000 | 0x2000 |
	    (VHPET_NTIMERS - 1) << 8 | 0x01;
}

static uint64_t
reg_read(struct vhpet *hpet, uint32_t reg, uint64_t now)
{
	int n = (int)(reg - 0x100) / 0x20;

	switch (reg) {
	case HPET_CAP:
		return cap_id();
	case HPET_CONFIG:
		return hpet->config;
	case HPET_ISR:
		return hpet->isr;
	case HPET_COUNTER:
		return counter_at(hpet, now);
	}
	if (reg < HPET_TIMER(0) || n >= VHPET_NTIMERS)
		return 0;	/* reserved */
	switch ((reg - 0x100) % 0x20) {
	case 0:
		return hpet->timer[n].config | timer_caps[n];
	case 8:
		return hpet->timer[n].comp;
	default:
		return 0;	/* FSB route: no FSB delivery; reserved */
	}
}

static void
config_write(struct vhpet *hpet, uint64_t val, uint64_t now)
{
	uint64_t old = hpet->config;

	hpet->config = val & (HPET_CNF_ENABLE | HPET_CNF_LEG_RT);
	if (!(old & HPET_CNF_ENABLE) && enabled(hpet)) {
		hpet->base_ns = now;	/* base_count holds the halted value */
		hpet->last_count = hpet->base_count;
	} else if ((old & HPET_CNF_ENABLE) && !enabled(hpet)) {
		hpet->base_count = hpet->last_count;	/* synced to now */
	}
}

static void
timer_config_write(struct vhpet *hpet, int n, uint64_t val)
{
	struct vhpet_timer *t = &hpet->timer[n];
	uint64_t old = t->config, v = val & timer_wmask(n);
	uint32_t r = (v & HPET_TN_ROUTE_MASK) >> HPET_TN_ROUTE_SHIFT;

	/* An unsupported route is not taken: it reads back unchanged (2.3.8). */
	if (!(ROUTE_CAP & (1ull << r)))
		v = (v & ~(uint64_t)HPET_TN_ROUTE_MASK) | (old & HPET_TN_ROUTE_MASK);
	t->config = v;
	if (width_mask(hpet, n) != UINT64_MAX) {
		t->comp &= 0xffffffffull;
		t->period &= 0xffffffffull;
	}
	/* Status means "level interrupt active": not for edge or disabled timers. */
	if (!(v & HPET_TN_LEVEL) || !(v & HPET_TN_INT_ENB))
		hpet->isr &= ~(1ull << n);
}

/*
 * Comparator write (2.3.9.2.2): in periodic mode the value is the period,
 * and the comparator itself only with Tn_VAL_SET_CNF, which clears.
 */
static void
comp_write(struct vhpet *hpet, int n, uint64_t val, uint64_t mask)
{
	struct vhpet_timer *t = &hpet->timer[n];
	uint64_t w = width_mask(hpet, n);
	bool periodic = t->config & HPET_TN_PERIODIC;

	if (!periodic || (t->config & HPET_TN_VAL_SET))
		t->comp = ((t->comp & ~mask) | (val & mask)) & w;
	if (periodic)
		t->period = ((t->period & ~mask) | (val & mask)) & w;
	t->config &= ~(uint64_t)HPET_TN_VAL_SET;
}

static void
reg_write(struct vhpet *hpet, uint32_t reg, uint64_t val, uint64_t mask, uint64_t now)
{
	int n = (int)(reg - 0x100) / 0x20;

	switch (reg) {
	case HPET_CAP:
		return;		/* read-only */
	case HPET_CONFIG:
		config_write(hpet, (hpet->config & ~mask) | (val & mask), now);
		return;
	case HPET_ISR:
		/* Write 1 to clear (2.3.6). */
		hpet->isr &= ~(val & mask);
		return;
	case HPET_COUNTER:
		/* Writable while halted (2.3.7); ignored while counting. */
		if (!enabled(hpet)) {
			hpet->base_count = (hpet->base_count & ~mask) | (val & mask);
			hpet->last_count = hpet->base_count;
		}
		return;
	}
	if (reg < HPET_TIMER(0) || n >= VHPET_NTIMERS)
		return;
	switch ((reg - 0x100) % 0x20) {
	case 0:
		timer_config_write(hpet, n, (hpet->timer[n].config & ~mask) | (val & mask));
		break;
	case 8:
		comp_write(hpet, n, val, mask);
		break;
	default:
		break;
	}
}

int
vhpet_mmio_read(struct vhpet *hpet, uint32_t off, int size, uint64_t *val)
{
	uint64_t now, v;

	if (off >= VHPET_SIZE || (size != 1 && size != 2 && size != 4 && size != 8))
		return -EINVAL;
	now = vio_now(&hpet->clock);
	sync(hpet, now);
	v = reg_read(hpet, off & ~7u, now) >> ((off & 7) * 8);
	if (size < 8)
		v &= (1ull << (size * 8)) - 1;
	*val = v;
	return 0;
}

int
vhpet_mmio_write(struct vhpet *hpet, uint32_t off, int size, uint64_t val)
{
	uint64_t now, mask;
	unsigned shift;

	if (off >= VHPET_SIZE || (size != 1 && size != 2 && size != 4 && size != 8))
		return -EINVAL;
	/* 32- and 64-bit aligned accesses only (spec 2.3.1). */
	if ((size != 4 && size != 8) || (off & (unsigned)(size - 1)))
		return 0;
	now = vio_now(&hpet->clock);
	sync(hpet, now);
	shift = (off & 4) * 8;
	mask = size == 8 ? UINT64_MAX : 0xffffffffull << shift;
	reg_write(hpet, off & ~7u, size == 8 ? val : (val & 0xffffffffull) << shift, mask, now);
	line_sync(hpet, true);
	return 0;
}

void
vhpet_reset(struct vhpet *hpet)
{
	hpet->config = 0;
	hpet->isr = 0;
	hpet->base_count = 0;
	hpet->last_count = 0;
	hpet->base_ns = vio_now(&hpet->clock);
	for (int n = 0; n < VHPET_NTIMERS; n++) {
		hpet->timer[n].config = 0;
		hpet->timer[n].comp = UINT64_MAX & width_mask(hpet, n);	/* all 1s */
		hpet->timer[n].period = 0;
	}
	line_sync(hpet, true);	/* drops any line held */
}

void
vhpet_init(struct vhpet *hpet, const struct vio_clock *clock, const struct vhpet_sink *sink)
{
	memset(hpet, 0, sizeof(*hpet));
	hpet->clock = *clock;
	if (sink != NULL)
		hpet->sink = *sink;
	for (int n = 0; n < VHPET_NTIMERS; n++)
		hpet->timer[n].line_pin = hpet->timer[n].line_isa = -1;
	vhpet_reset(hpet);
}

/* ---- snapshot ---- */

#define SNAP_MAGIC	0x54504856u	/* "VHPT" */
#define SNAP_VERSION	1

ssize_t
vhpet_snapshot_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vhpet *hpet = arg;
	struct vio_cur c = { .w = buf, .cap = cap };
	uint64_t now;

	if (cap < VHPET_SNAP_SIZE)
		return VHPET_SNAP_SIZE;
	now = vio_now(&hpet->clock);
	sync(hpet, now);
	vio_put32(&c, SNAP_MAGIC);
	vio_put32(&c, SNAP_VERSION);
	vio_put64(&c, hpet->config);
	vio_put64(&c, hpet->isr);
	vio_put64(&c, hpet->base_count);
	vio_put64(&c, now - hpet->base_ns);
	vio_put64(&c, hpet->last_count);
	for (int n = 0; n < VHPET_NTIMERS; n++) {
		vio_put64(&c, hpet->timer[n].config);
		vio_put64(&c, hpet->timer[n].comp);
		vio_put64(&c, hpet->timer[n].period);
	}
	return (ssize_t)c.off;
}

int
vhpet_snapshot_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vhpet *hpet = arg, n;
	struct vio_cur c = { .r = data, .cap = len };
	uint64_t elapsed;

	if (len != VHPET_SNAP_SIZE || vio_get32(&c) != SNAP_MAGIC ||
	    vio_get32(&c) != SNAP_VERSION)
		return -EINVAL;
	n = *hpet;
	n.config = vio_get64(&c);
	n.isr = vio_get64(&c);
	n.base_count = vio_get64(&c);
	elapsed = vio_get64(&c);
	n.last_count = vio_get64(&c);
	if ((n.config & ~(uint64_t)(HPET_CNF_ENABLE | HPET_CNF_LEG_RT)) ||
	    (n.isr >> VHPET_NTIMERS) || elapsed > (1ull << 62))
		return -EINVAL;
	/* Halted, matches are handled up to the counter; counting, not past it. */
	if (!(n.config & HPET_CNF_ENABLE) ? n.last_count != n.base_count :
	    n.last_count - n.base_count > vio_ns_to_ticks(elapsed, VHPET_FREQ))
		return -EINVAL;
	for (int i = 0; i < VHPET_NTIMERS; i++) {
		struct vhpet_timer *t = &n.timer[i];
		uint32_t r;

		t->config = vio_get64(&c);
		t->comp = vio_get64(&c);
		t->period = vio_get64(&c);
		r = (t->config & HPET_TN_ROUTE_MASK) >> HPET_TN_ROUTE_SHIFT;
		if ((t->config & ~timer_wmask(i)) || (r != 0 && !(ROUTE_CAP & (1ull << r))))
			return -EINVAL;
		if ((t->comp & ~width_mask(&n, i)) || (t->period & ~width_mask(&n, i)))
			return -EINVAL;
		if ((n.isr & (1u << i)) &&
		    (!(t->config & HPET_TN_LEVEL) || !(t->config & HPET_TN_INT_ENB)))
			return -EINVAL;
	}
	n.base_ns = vio_now(&hpet->clock) - elapsed;
	*hpet = n;
	line_sync(hpet, false);
	return 0;
}
