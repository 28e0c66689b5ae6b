/*
 * vmm_platform.c - the 8259 pair, the 8254, the HPET, the RTC and the PM
 * timer of a VM (vmm/io models), wired to vmm_intr's interrupt lines and
 * to one timer thread, as FreeBSD's vmm.ko wires vatpic, vatpit, vhpet,
 * vrtc and vpmtmr.  Interfaces and the locking contract: vmm_platform.h;
 * the models and the machine's interrupt map: docs/platform.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm_core.h"
#include "vmm_platform.h"
#include "io/vatpic.h"
#include "io/vatpit.h"
#include "io/vhpet.h"
#include "io/vmm_irqmap.h"
#include "io/vpmtmr.h"
#include "io/vrtc.h"

/*
 * The timer thread fires one device at most once per this many ns, as
 * vmm_intr's LAPIC timer: a PIT count of 2 or an HPET period of one tick
 * gets coalesced interrupts (the models' *_update) instead of a host
 * thread spinning.
 */
#define TIMER_MIN_NS	50000ull

enum { T_PIT, T_HPET, T_RTC, T_COUNT };

struct vmm_platform {
	struct vmm_intr		*in;
	pthread_mutex_t		piclk, pitlk, hpetlk, rtclk, pmlk;
	struct vatpic		pic;
	struct vatpit		pit;
	struct vhpet		hpet;
	struct vrtc		rtc;
	struct vpmtmr		pm;
	struct {
		pthread_mutex_t	mtx;
		pthread_cond_t	cv;
		pthread_t	thread;
		bool		stop;
		uint64_t	due[T_COUNT];	/* VIO_NO_DEADLINE: none */
		uint64_t	last_fire[T_COUNT];
	} tmr;
};

static uint64_t
mono_ns(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t
wall_ns(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The host zone's offset at @utc_secs (bhyve's rtc.use_localtime). */
static int32_t
utc_offset(void *arg, int64_t utc_secs)
{
	time_t t = (time_t)utc_secs;
	struct tm tm;

	(void)arg;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

/* ---- timers ---- */

/* A model's next deadline changed; its lock is held. */
static void
rearm(struct vmm_platform *p, int t, uint64_t due)
{
	pthread_mutex_lock(&p->tmr.mtx);
	if (p->tmr.due[t] != due) {
		p->tmr.due[t] = due;
		pthread_cond_signal(&p->tmr.cv);
	}
	pthread_mutex_unlock(&p->tmr.mtx);
}

static void
pit_rearm(struct vmm_platform *p)
{
	rearm(p, T_PIT, vatpit_deadline(&p->pit));
}

static void
hpet_rearm(struct vmm_platform *p)
{
	rearm(p, T_HPET, vhpet_deadline(&p->hpet));
}

static void
rtc_rearm(struct vmm_platform *p)
{
	rearm(p, T_RTC, vrtc_deadline(&p->rtc));
}

static void
fire(struct vmm_platform *p, int t)
{
	switch (t) {
	case T_PIT:
		pthread_mutex_lock(&p->pitlk);
		vatpit_update(&p->pit);
		pit_rearm(p);
		pthread_mutex_unlock(&p->pitlk);
		break;
	case T_HPET:
		pthread_mutex_lock(&p->hpetlk);
		vhpet_update(&p->hpet);
		hpet_rearm(p);
		pthread_mutex_unlock(&p->hpetlk);
		break;
	case T_RTC:
		pthread_mutex_lock(&p->rtclk);
		vrtc_update(&p->rtc);
		rtc_rearm(p);
		pthread_mutex_unlock(&p->rtclk);
		break;
	}
}

/* Sleeps until the earliest deadline (vmm_intr.c's timer_main, for these). */
static void *
timer_main(void *arg)
{
	struct vmm_platform *p = arg;
	struct timespec ts;
	uint64_t now, next, eff;
	int t, f;

	pthread_mutex_lock(&p->tmr.mtx);
	while (!p->tmr.stop) {
		now = mono_ns(NULL);
		next = VIO_NO_DEADLINE;
		f = -1;
		for (t = 0; t < T_COUNT; t++) {
			if (p->tmr.due[t] == VIO_NO_DEADLINE)
				continue;
			eff = p->tmr.due[t];
			if (p->tmr.last_fire[t] != 0 && eff < p->tmr.last_fire[t] + TIMER_MIN_NS)
				eff = p->tmr.last_fire[t] + TIMER_MIN_NS;
			if (eff <= now) {
				f = t;
				break;
			}
			if (eff < next)
				next = eff;
		}
		if (f >= 0) {
			p->tmr.last_fire[f] = now;
			pthread_mutex_unlock(&p->tmr.mtx);
			fire(p, f);
			pthread_mutex_lock(&p->tmr.mtx);
			continue;
		}
		if (next == VIO_NO_DEADLINE) {
			pthread_cond_wait(&p->tmr.cv, &p->tmr.mtx);
		} else {
			ts.tv_sec = (time_t)(next / 1000000000ull);
			ts.tv_nsec = (long)(next % 1000000000ull);
			pthread_cond_timedwait(&p->tmr.cv, &p->tmr.mtx, &ts);
		}
	}
	pthread_mutex_unlock(&p->tmr.mtx);
	return NULL;
}

/* ---- interrupt lines ---- */

/*
 * The master 8259's INT goes to the BSP's LINT0 and to IOAPIC pin 0 (MP
 * spec 5.3.1, both virtual wire modes), as bhyve's vatpic_notify_intr;
 * pin 0 has no other source (ISA IRQ 0 is on pin 2).  A guest that sets
 * pin 0's entry to ExtINT mode gets the 8259's vector through the I/O
 * APIC.  Called with piclk held, which the lock order puts before iolk.
 */
static void
pic_intr_changed(void *arg, bool level)
{
	struct vmm_platform *p = arg;

	vmm_intr_extint(p->in, level);
	(void)vmm_intr_ioapic_irq(p->in, VMM_IRQMAP_PIC_PIN,
	    level ? VMM_IRQ_ASSERT : VMM_IRQ_DEASSERT);
}

/* vmm_intr's ISA path, the 8259 side. */
static void
pic_isa(void *arg, int irq, enum vmm_irq_op op)
{
	struct vmm_platform *p = arg;

	pthread_mutex_lock(&p->piclk);
	switch (op) {
	case VMM_IRQ_ASSERT:
		vatpic_assert_irq(&p->pic, irq);
		break;
	case VMM_IRQ_DEASSERT:
		vatpic_deassert_irq(&p->pic, irq);
		break;
	case VMM_IRQ_PULSE:
		vatpic_pulse_irq(&p->pic, irq);
		break;
	}
	pthread_mutex_unlock(&p->piclk);
}

/* The INTA cycle of a CPU taking the 8259's vector (ExtINT). */
static int
pic_ack(void *arg)
{
	struct vmm_platform *p = arg;
	int v = -1;

	pthread_mutex_lock(&p->piclk);
	if (vatpic_intr_pending(&p->pic))
		v = vatpic_intr_ack(&p->pic);
	pthread_mutex_unlock(&p->piclk);
	return v;
}

static void
isa_line(struct vmm_platform *p, int irq, bool level)
{
	vmm_intr_isa_irq(p->in, irq, -1, level ? VMM_IRQ_ASSERT : VMM_IRQ_DEASSERT);
}

/* PIT OUT0: ISA IRQ 0 (8259 IR0, IOAPIC pin 2). */
static void
pit_irq0(void *arg, bool level)
{
	isa_line(arg, VMM_IRQMAP_IRQ_PIT, level);
}

/*
 * An HPET timer's line: in legacy replacement mode the ISA IRQ (timer 0:
 * IRQ 0, the IOAPIC's pin 2; timer 1: IRQ 8, spec 2.3.9.2.2), else its
 * own IOAPIC pin (Tn_INT_ROUTE_CNF).
 */
static void
hpet_irq(void *arg, int timer, int pin, int isa_irq, bool level)
{
	struct vmm_platform *p = arg;

	(void)timer;
	if (isa_irq >= 0) {
		isa_line(p, isa_irq, level);
		if (pin >= 0 && pin != vmm_irqmap_isa_pin(isa_irq))
			vmm_intr_ioapic_irq(p->in, pin, level ? VMM_IRQ_ASSERT :
			    VMM_IRQ_DEASSERT);
	} else if (pin >= 0) {
		vmm_intr_ioapic_irq(p->in, pin, level ? VMM_IRQ_ASSERT : VMM_IRQ_DEASSERT);
	}
}

/* RTC IRQF: ISA IRQ 8 (8259 slave IR0, IOAPIC pin 8). */
static void
rtc_irq8(void *arg, bool level)
{
	isa_line(arg, VMM_IRQMAP_IRQ_RTC, level);
}

/* ---- life ---- */

int
vmm_platform_create(struct vmm_platform **pp, struct vmm_intr *in, bool utc)
{
	struct vmm_platform *p;
	struct vio_clock clk = { .now_ns = mono_ns };
	struct vrtc_clock rclk = { .now_ns = mono_ns, .wall_ns = wall_ns,
	    .utc_offset = utc_offset };
	pthread_condattr_t ca;
	int t, error;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->in = in;
	pthread_mutex_init(&p->piclk, NULL);
	pthread_mutex_init(&p->pitlk, NULL);
	pthread_mutex_init(&p->hpetlk, NULL);
	pthread_mutex_init(&p->rtclk, NULL);
	pthread_mutex_init(&p->pmlk, NULL);
	pthread_mutex_init(&p->tmr.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->tmr.cv, &ca);
	pthread_condattr_destroy(&ca);
	for (t = 0; t < T_COUNT; t++)
		p->tmr.due[t] = VIO_NO_DEADLINE;
	vatpic_init(&p->pic, VMM_IRQMAP_ELCR,
	    &(struct vatpic_sink){ .intr_changed = pic_intr_changed, .arg = p });
	vatpit_init(&p->pit, &clk, &(struct vatpit_sink){ .irq0 = pit_irq0, .arg = p });
	vhpet_init(&p->hpet, &clk, &(struct vhpet_sink){ .irq = hpet_irq, .arg = p });
	vrtc_init(&p->rtc, utc, &rclk, &(struct vrtc_sink){ .irq8 = rtc_irq8, .arg = p });
	/* 32 bits: the FADT's TMR_VAL_EXT, as pm.c's counter had. */
	vpmtmr_init(&p->pm, true, &clk, NULL);
	error = pthread_create(&p->tmr.thread, NULL, timer_main, p);
	if (error != 0) {
		free(p);
		return -error;
	}
	pthread_setname_np(p->tmr.thread, "platform timer");
	vmm_intr_set_pic(in, &(struct vmm_intr_pic){ .isa = pic_isa, .ack = pic_ack,
	    .arg = p });
	pthread_mutex_lock(&p->rtclk);
	rtc_rearm(p);
	pthread_mutex_unlock(&p->rtclk);
	*pp = p;
	return 0;
}

void
vmm_platform_destroy(struct vmm_platform *p)
{
	if (p == NULL)
		return;
	vmm_intr_set_pic(p->in, &(struct vmm_intr_pic){ .isa = NULL });
	pthread_mutex_lock(&p->tmr.mtx);
	p->tmr.stop = true;
	pthread_cond_signal(&p->tmr.cv);
	pthread_mutex_unlock(&p->tmr.mtx);
	pthread_join(p->tmr.thread, NULL);
	pthread_mutex_destroy(&p->piclk);
	pthread_mutex_destroy(&p->pitlk);
	pthread_mutex_destroy(&p->hpetlk);
	pthread_mutex_destroy(&p->rtclk);
	pthread_mutex_destroy(&p->pmlk);
	pthread_mutex_destroy(&p->tmr.mtx);
	pthread_cond_destroy(&p->tmr.cv);
	free(p);
}

void
vmm_platform_reset(struct vmm_platform *p)
{
	pthread_mutex_lock(&p->pitlk);
	vatpit_reset(&p->pit);
	pit_rearm(p);
	pthread_mutex_unlock(&p->pitlk);
	pthread_mutex_lock(&p->hpetlk);
	vhpet_reset(&p->hpet);
	hpet_rearm(p);
	pthread_mutex_unlock(&p->hpetlk);
	pthread_mutex_lock(&p->rtclk);
	vrtc_reset(&p->rtc);
	rtc_rearm(p);
	pthread_mutex_unlock(&p->rtclk);
	pthread_mutex_lock(&p->piclk);
	vatpic_reset(&p->pic, VMM_IRQMAP_ELCR);
	pthread_mutex_unlock(&p->piclk);
}

/* ---- snapshots: each under its model's lock ---- */

#define SNAP_FUNCS(name, field, lk, after)				\
static ssize_t								\
name##_save(void *arg, uint8_t *buf, size_t cap)			\
{									\
	struct vmm_platform *p = arg;					\
	ssize_t n;							\
									\
	pthread_mutex_lock(&p->lk);					\
	n = name##_snapshot_save(&p->field, buf, cap);			\
	after;								\
	pthread_mutex_unlock(&p->lk);					\
	return n;							\
}									\
static int								\
name##_restore(void *arg, const uint8_t *data, size_t len)		\
{									\
	struct vmm_platform *p = arg;					\
	int error;							\
									\
	pthread_mutex_lock(&p->lk);					\
	error = name##_snapshot_restore(&p->field, data, len);		\
	after;								\
	pthread_mutex_unlock(&p->lk);					\
	return error;							\
}

SNAP_FUNCS(vatpic, pic, piclk, (void)0)
SNAP_FUNCS(vatpit, pit, pitlk, pit_rearm(p))
SNAP_FUNCS(vhpet, hpet, hpetlk, hpet_rearm(p))
SNAP_FUNCS(vrtc, rtc, rtclk, rtc_rearm(p))
SNAP_FUNCS(vpmtmr, pm, pmlk, (void)0)

static const struct {
	const char		*name;
	vmm_snapshot_save_t	*save;
	vmm_snapshot_restore_t	*restore;
} snaps[] = {
	/* The 8259 first: the timers' restores may re-raise their lines into it. */
	{ "vatpic", vatpic_save, vatpic_restore },
	{ "vatpit", vatpit_save, vatpit_restore },
	{ "vhpet", vhpet_save, vhpet_restore },
	{ "vrtc", vrtc_save, vrtc_restore },
	{ "vpmtmr", vpmtmr_save, vpmtmr_restore },
};

int
vmm_platform_register(struct vmm_platform *p, struct vm *vm)
{
	size_t i;
	int error;

	for (i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++) {
		error = vmm_snapshot_register(vm, snaps[i].name, snaps[i].save,
		    snaps[i].restore, p);
		if (error != 0) {
			while (i-- > 0)
				vmm_snapshot_unregister(vm, snaps[i].name);
			return error;
		}
	}
	return 0;
}

void
vmm_platform_unregister(struct vmm_platform *p, struct vm *vm)
{
	size_t i;

	(void)p;
	for (i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
		vmm_snapshot_unregister(vm, snaps[i].name);
}

/* ---- guest accesses ---- */

/*
 * Byte-wide ISA devices: a 2- or 4-byte access to them is that many byte
 * accesses to consecutive ports (the ISA bus splits it), each served by
 * the device that owns it; an IN from a port nobody owns reads 0xff.
 */
static bool
byte_port(uint16_t port)
{
	switch (port) {
	case VATPIC_MASTER: case VATPIC_MASTER + 1:
	case VATPIC_SLAVE: case VATPIC_SLAVE + 1:
	case VATPIC_ELCR: case VATPIC_ELCR + 1:
	case VATPIT_PORT: case VATPIT_PORT + 1: case VATPIT_PORT + 2:
	case VATPIT_PORT_CTRL: case VATPIT_PORT_NMISC:
	case VRTC_PORT_INDEX: case VRTC_PORT_DATA:
		return true;
	default:
		return false;
	}
}

static void
byte_io(struct vmm_platform *p, uint16_t port, bool in, uint8_t *val)
{
	switch (port) {
	case VATPIC_MASTER: case VATPIC_MASTER + 1:
	case VATPIC_SLAVE: case VATPIC_SLAVE + 1:
	case VATPIC_ELCR: case VATPIC_ELCR + 1:
		pthread_mutex_lock(&p->piclk);
		if (in)
			vatpic_read(&p->pic, port, val);
		else
			vatpic_write(&p->pic, port, *val);
		pthread_mutex_unlock(&p->piclk);
		break;
	case VATPIT_PORT: case VATPIT_PORT + 1: case VATPIT_PORT + 2:
	case VATPIT_PORT_CTRL: case VATPIT_PORT_NMISC:
		pthread_mutex_lock(&p->pitlk);
		/* Edges due by now first, so a read sees them (docs/platform.md). */
		vatpit_update(&p->pit);
		if (in)
			vatpit_read(&p->pit, port, val);
		else
			vatpit_write(&p->pit, port, *val);
		pit_rearm(p);
		pthread_mutex_unlock(&p->pitlk);
		break;
	case VRTC_PORT_INDEX: case VRTC_PORT_DATA:
		pthread_mutex_lock(&p->rtclk);
		if (in)
			vrtc_read(&p->rtc, port, val);
		else
			vrtc_write(&p->rtc, port, *val);
		rtc_rearm(p);
		pthread_mutex_unlock(&p->rtclk);
		break;
	default:
		if (in)
			*val = 0xff;
		break;
	}
}

int
vmm_platform_inout(struct vmm_platform *p, struct vm_exit *vme)
{
	uint16_t port = vme->u.inout.port;
	int bytes = vme->u.inout.bytes, i;
	bool in = vme->u.inout.in;
	uint32_t v = 0;
	uint8_t b;

	if (bytes != 1 && bytes != 2 && bytes != 4)
		return 0;
	if (port >= VPMTMR_PORT && port < VPMTMR_PORT + VPMTMR_NPORTS) {
		/* Reads of 1, 2 or 4 bytes from any of its ports; writes ignored. */
		if (!in)
			return 1;
		pthread_mutex_lock(&p->pmlk);
		if (vpmtmr_read(&p->pm, port, bytes, &v) != 0)
			v = 0xffffffffu;
		pthread_mutex_unlock(&p->pmlk);
		vme->u.inout.eax = v;
		return 1;
	}
	/* PC/AT: a write to port F0H clears the coprocessor's FERR# (IRQ 13). */
	if (port == 0xf0 && !in) {
		vmm_intr_isa_irq(p->in, 13, -1, VMM_IRQ_DEASSERT);
		return 1;
	}
	if (!byte_port(port))
		return 0;
	for (i = 0; i < bytes; i++) {
		b = (uint8_t)(vme->u.inout.eax >> (8 * i));
		byte_io(p, (uint16_t)(port + i), in, &b);
		v |= (uint32_t)b << (8 * i);
	}
	if (in)
		vme->u.inout.eax = v;
	return 1;
}

int
vmm_platform_mmio(struct vmm_platform *p, struct vm_exit *vme)
{
	uint64_t gpa = vme->u.mmio.gpa;
	int size = vme->u.mmio.size;

	if (gpa < VHPET_BASE || gpa - VHPET_BASE >= VHPET_SIZE)
		return 0;
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	pthread_mutex_lock(&p->hpetlk);
	if (vme->u.mmio.write) {
		vhpet_mmio_write(&p->hpet, (uint32_t)(gpa - VHPET_BASE), size, vme->u.mmio.data);
	} else if (vhpet_mmio_read(&p->hpet, (uint32_t)(gpa - VHPET_BASE), size,
	    &vme->u.mmio.data) != 0) {
		vme->u.mmio.data = ~0ull;
	}
	hpet_rearm(p);
	pthread_mutex_unlock(&p->hpetlk);
	return 1;
}

/* ---- libvmmapi ---- */

void
vmm_platform_set_memsize(struct vmm_platform *p, uint64_t lowmem, uint64_t highmem)
{
	pthread_mutex_lock(&p->rtclk);
	vrtc_set_memsize(&p->rtc, lowmem, highmem);
	pthread_mutex_unlock(&p->rtclk);
}

int
vmm_platform_rtc_read(struct vmm_platform *p, int offset, uint8_t *val)
{
	int error;

	pthread_mutex_lock(&p->rtclk);
	error = vrtc_nvram_read(&p->rtc, offset, val);
	rtc_rearm(p);
	pthread_mutex_unlock(&p->rtclk);
	return error;
}

int
vmm_platform_rtc_write(struct vmm_platform *p, int offset, uint8_t val)
{
	int error;

	pthread_mutex_lock(&p->rtclk);
	error = vrtc_nvram_write(&p->rtc, offset, val);
	rtc_rearm(p);
	pthread_mutex_unlock(&p->rtclk);
	return error;
}

int
vmm_platform_rtc_settime(struct vmm_platform *p, int64_t secs)
{
	int error;

	pthread_mutex_lock(&p->rtclk);
	error = vrtc_settime(&p->rtc, secs);
	rtc_rearm(p);
	pthread_mutex_unlock(&p->rtclk);
	return error;
}

int
vmm_platform_rtc_gettime(struct vmm_platform *p, int64_t *secs)
{
	pthread_mutex_lock(&p->rtclk);
	*secs = vrtc_gettime(&p->rtc);
	pthread_mutex_unlock(&p->rtclk);
	return *secs < 0 ? -EINVAL : 0;
}
