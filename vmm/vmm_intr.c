/*
 * vmm_intr.c - the LAPICs and the IOAPIC of a VM, wired to its vCPUs:
 * locking, message routing, the LAPIC timer thread, guest accesses and
 * libvmmapi's interrupt calls.  Interfaces and the locking contract:
 * vmm_intr.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm_intr.h"
#include "io/vioapic.h"
#include "io/vlapic.h"
#include "io/vmm_irqmap.h"

#define OUTBOX_MAX	4
#define NO_DEADLINE	UINT64_MAX
/*
 * The timer thread fires one LAPIC at most once per this many ns: a guest
 * that programs a periodic timer of a few bus cycles gets coalesced
 * interrupts (vlapic_timer_update) instead of a host thread spinning.
 * KVM bounds periodic timers the same way (min_timer_period_us).
 */
#define TIMER_MIN_NS	50000ull

/* intr_cpu.hint bits */
#define HINT_LAPIC	0x1	/* the LAPIC has a deliverable vector */
#define HINT_EXTINT	0x2	/* BSP: the 8259 requests and LINT0 takes ExtINT */
#define HINT_EXTMSG	0x4	/* an ExtINT message came (IOAPIC pin 0, an IPI) */

/* FreeBSD's enum x2apic_state */
enum { X2APIC_DISABLED, X2APIC_ENABLED, X2APIC_STATE_LAST };

struct intr_cpu {
	struct vmm_intr		*in;
	int			id;
	pthread_mutex_t		lk;
	struct vlapic		vl;
	atomic_int		hint;		/* HINT_*, readable without lk */
	atomic_int		extvec;		/* 8259 vector acknowledged, not yet taken */
	atomic_uint		events;		/* VMM_EV_* */
	atomic_uint		sipi_vector;
	/* Messages a register write produced, routed once lk is dropped. */
	struct vlapic_msg	ipi[OUTBOX_MAX];
	int			nipi;
	uint8_t			eoi[OUTBOX_MAX];
	int			neoi;
	/* timer thread (tmr.mtx) */
	uint64_t		due;		/* vlapic deadline, NO_DEADLINE: none */
	uint64_t		last_fire;
};

struct vmm_intr {
	struct vmm_intr_cb	cb;
	struct vmm_intr_lapic	lb;		/* the backend's LAPICs, msi NULL: ours */
	struct vmm_msi_route	routes[VIOAPIC_PINS];	/* last given to lb.routes (iolk) */
	atomic_int		ncpus;
	_Atomic uint32_t	x2apic_off;	/* bit per vCPU: x2APIC not offered */
	struct intr_cpu		cpu[VM_MAXCPU];
	pthread_mutex_t		iolk;
	struct vioapic		io;
	struct vmm_intr_pic	pic;
	struct {
		pthread_mutex_t	lk;
		bool		line;		/* the 8259's INT */
		atomic_bool	ok;		/* vlapic_extint_ok(BSP), written under its lk */
	} ext;
	struct {
		pthread_mutex_t	mtx;
		pthread_cond_t	cv;
		pthread_t	thread;
		bool		stop;
	} tmr;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the models' clock and sinks ---- */

static uint64_t
clk_now(void *arg)
{
	(void)arg;
	return mono_ns();
}

static uint64_t
clk_tsc(void *arg)
{
	struct intr_cpu *c = arg;

	return c->in->cb.tsc(c->in->cb.arg, c->id);
}

static void
sink_intr_changed(void *arg, int vcpu, bool pending)
{
	struct intr_cpu *c = arg;

	(void)vcpu;
	if (pending)
		atomic_fetch_or_explicit(&c->hint, HINT_LAPIC, memory_order_release);
	else
		atomic_fetch_and_explicit(&c->hint, ~HINT_LAPIC, memory_order_release);
	if (pending)
		c->in->cb.notify(c->in->cb.arg, c->id, true);
}

static void
sink_eoi_level(void *arg, int vcpu, uint8_t vector)
{
	struct intr_cpu *c = arg;

	(void)vcpu;
	if (c->neoi < OUTBOX_MAX)
		c->eoi[c->neoi++] = vector;
}

static void
sink_send_ipi(void *arg, int vcpu, const struct vlapic_msg *msg)
{
	struct intr_cpu *c = arg;

	(void)vcpu;
	if (c->nipi < OUTBOX_MAX)
		c->ipi[c->nipi++] = *msg;
}

static void
sink_cpu_event(void *arg, int vcpu, enum vlapic_event ev, uint8_t vector)
{
	struct intr_cpu *c = arg;
	unsigned bit;

	(void)vcpu;
	switch (ev) {
	case VLAPIC_EV_NMI:
		bit = VMM_EV_NMI;
		break;
	case VLAPIC_EV_INIT:
		bit = VMM_EV_INIT;
		break;
	case VLAPIC_EV_SIPI:
		atomic_store(&c->sipi_vector, vector);
		bit = VMM_EV_SIPI;
		break;
	case VLAPIC_EV_EXTINT_MSG:
		/*
		 * An IOAPIC entry in ExtINT mode (pin 0, the 8259's INT: MP
		 * spec 5.3.1, "virtual wire" through the I/O APIC) or an IPI:
		 * this CPU runs an INTA cycle (src_pending).
		 */
		atomic_fetch_or_explicit(&c->hint, HINT_EXTMSG, memory_order_release);
		c->in->cb.notify(c->in->cb.arg, c->id, true);
		return;
	default:
		/*
		 * SMI: no SMM, ignored as bhyve does.  ExtINT from LINT0: an
		 * edge there says nothing more than the 8259's INT level,
		 * which vmm_intr_extint follows (ext.line).
		 */
		return;
	}
	atomic_fetch_or(&c->events, bit);
	c->in->cb.notify(c->in->cb.arg, c->id, true);
}

static void
sink_timer_changed(void *arg, int vcpu, uint64_t deadline)
{
	struct intr_cpu *c = arg;
	struct vmm_intr *in = c->in;

	(void)vcpu;
	pthread_mutex_lock(&in->tmr.mtx);
	c->due = deadline;
	pthread_cond_signal(&in->tmr.cv);
	pthread_mutex_unlock(&in->tmr.mtx);
}

/* ---- routing ---- */

/*
 * @m as an MSI for the backend's LAPICs (SDM Vol. 3A 11.11.1, 11.11.2):
 * destination in address 19:12, DM in bit 2 (RH set with it, so that
 * both backends read it as logical); vector, delivery mode and trigger
 * mode in the data, level asserted.
 */
static void
msg_to_msi(const struct vlapic_msg *m, uint64_t *addr, uint32_t *data)
{
	*addr = 0xfee00000ull | ((uint64_t)(m->dest & 0xff) << 12) | (m->logical ? 0xc : 0);
	*data = m->vector | (uint32_t)(m->mode & 7) << 8 | 1u << 14 | (m->level ? 1u << 15 : 0);
}

static void
route_backend(struct vmm_intr *in, const struct vlapic_msg *m)
{
	uint64_t addr;
	uint32_t data;

	msg_to_msi(m, &addr, &data);
	in->lb.msi(in->lb.arg, addr, data);
}

/* Deliver @m to its LAPICs, all locks taken in ascending order. */
static void
route(struct vmm_intr *in, const struct vlapic_msg *m)
{
	struct vlapic *vls[VM_MAXCPU] = { NULL };
	int n = atomic_load(&in->ncpus), i;

	if (in->lb.msi != NULL) {
		route_backend(in, m);
		return;
	}
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&in->cpu[i].lk);
		vls[i] = &in->cpu[i].vl;
	}
	vlapic_route(vls, n, m);
	for (i = n - 1; i >= 0; i--)
		pthread_mutex_unlock(&in->cpu[i].lk);
}

static void
ioapic_deliver(void *arg, const struct vlapic_msg *msg)
{
	route(arg, msg);	/* iolk held: the lock order allows LAPIC locks */
}

/* HINT_EXTINT of the BSP from the line and its LINT0; ext.lk held. */
static void
extint_update(struct vmm_intr *in)
{
	struct intr_cpu *c = &in->cpu[0];

	if (in->ext.line && atomic_load(&in->ext.ok)) {
		atomic_fetch_or_explicit(&c->hint, HINT_EXTINT, memory_order_release);
		in->cb.notify(in->cb.arg, 0, true);
	} else {
		atomic_fetch_and_explicit(&c->hint, ~HINT_EXTINT, memory_order_release);
	}
}

static void
cpu_lock(struct intr_cpu *c)
{
	pthread_mutex_lock(&c->lk);
}

/* Drop the LAPIC lock, then route what the call left in the outbox. */
static void
cpu_unlock(struct intr_cpu *c)
{
	struct vlapic_msg ipi[OUTBOX_MAX];
	uint8_t eoi[OUTBOX_MAX];
	int nipi = c->nipi, neoi = c->neoi, i;

	/* The BSP's LINT0 may have started or stopped taking ExtINT. */
	if (c->id == 0 && c->in->lb.msi == NULL &&
	    vlapic_extint_ok(&c->vl) != atomic_load(&c->in->ext.ok)) {
		pthread_mutex_lock(&c->in->ext.lk);
		atomic_store(&c->in->ext.ok, vlapic_extint_ok(&c->vl));
		extint_update(c->in);
		pthread_mutex_unlock(&c->in->ext.lk);
	}
	memcpy(ipi, c->ipi, sizeof(ipi[0]) * (size_t)nipi);
	memcpy(eoi, c->eoi, (size_t)neoi);
	c->nipi = c->neoi = 0;
	pthread_mutex_unlock(&c->lk);
	for (i = 0; i < nipi; i++)
		route(c->in, &ipi[i]);
	if (neoi > 0) {
		/* Level-triggered EOI: the IOAPIC clears remote IRR (82093AA 3.2.4). */
		pthread_mutex_lock(&c->in->iolk);
		for (i = 0; i < neoi; i++)
			vioapic_eoi(&c->in->io, eoi[i]);
		pthread_mutex_unlock(&c->in->iolk);
	}
}

/* ---- the timer thread ---- */

static void *
timer_main(void *arg)
{
	struct vmm_intr *in = arg;
	struct timespec ts;
	uint64_t now, next, eff;
	int i, fire;

	pthread_mutex_lock(&in->tmr.mtx);
	while (!in->tmr.stop) {
		now = mono_ns();
		next = NO_DEADLINE;
		fire = -1;
		for (i = 0; i < VM_MAXCPU; i++) {
			struct intr_cpu *c = &in->cpu[i];

			if (c->due == NO_DEADLINE)
				continue;
			eff = c->due;
			if (c->last_fire != 0 && eff < c->last_fire + TIMER_MIN_NS)
				eff = c->last_fire + TIMER_MIN_NS;
			if (eff <= now) {
				fire = i;
				break;
			}
			if (eff < next)
				next = eff;
		}
		if (fire >= 0) {
			struct intr_cpu *c = &in->cpu[fire];

			c->last_fire = now;
			pthread_mutex_unlock(&in->tmr.mtx);
			cpu_lock(c);
			vlapic_timer_update(&c->vl);
			cpu_unlock(c);
			pthread_mutex_lock(&in->tmr.mtx);
			continue;
		}
		if (next == NO_DEADLINE) {
			pthread_cond_wait(&in->tmr.cv, &in->tmr.mtx);
		} else {
			ts.tv_sec = (time_t)(next / 1000000000ull);
			ts.tv_nsec = (long)(next % 1000000000ull);
			pthread_cond_timedwait(&in->tmr.cv, &in->tmr.mtx, &ts);
		}
	}
	pthread_mutex_unlock(&in->tmr.mtx);
	return NULL;
}

static int routes_update(struct vmm_intr *in, bool force);

/* ---- life ---- */

int
vmm_intr_create(struct vmm_intr **inp, const struct vmm_intr_cb *cb, int ncpus)
{
	struct vmm_intr *in;
	pthread_condattr_t ca;
	int i, error;

	if (ncpus < 1 || ncpus > VM_MAXCPU)
		return -EINVAL;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return -ENOMEM;
	in->cb = *cb;
	atomic_init(&in->ncpus, ncpus);
	pthread_mutex_init(&in->iolk, NULL);
	pthread_mutex_init(&in->ext.lk, NULL);
	pthread_mutex_init(&in->tmr.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&in->tmr.cv, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < VM_MAXCPU; i++) {
		struct intr_cpu *c = &in->cpu[i];
		struct vlapic_clock clk = { .now_ns = clk_now, .tsc = clk_tsc,
		    .tsc_hz = VMM_TSC_HZ, .arg = c };
		struct vlapic_sink sink = { .intr_changed = sink_intr_changed,
		    .eoi_level = sink_eoi_level, .send_ipi = sink_send_ipi,
		    .cpu_event = sink_cpu_event, .timer_changed = sink_timer_changed, .arg = c };

		c->in = in;
		c->id = i;
		atomic_init(&c->extvec, -1);
		c->due = NO_DEADLINE;
		pthread_mutex_init(&c->lk, NULL);
		/* Initial APIC ID = vCPU id, as CPUID.1:EBX[31:24] and the MADT say. */
		vlapic_init(&c->vl, i, (uint32_t)i, i == 0, &clk, &sink);
	}
	vioapic_init(&in->io, &(struct vioapic_sink){ .deliver = ioapic_deliver, .arg = in });
	error = pthread_create(&in->tmr.thread, NULL, timer_main, in);
	if (error != 0) {
		free(in);
		return -error;
	}
	pthread_setname_np(in->tmr.thread, "lapic timer");
	*inp = in;
	return 0;
}

void
vmm_intr_destroy(struct vmm_intr *in)
{
	int i;

	if (in == NULL)
		return;
	pthread_mutex_lock(&in->tmr.mtx);
	in->tmr.stop = true;
	pthread_cond_signal(&in->tmr.cv);
	pthread_mutex_unlock(&in->tmr.mtx);
	pthread_join(in->tmr.thread, NULL);
	for (i = 0; i < VM_MAXCPU; i++)
		pthread_mutex_destroy(&in->cpu[i].lk);
	pthread_mutex_destroy(&in->ext.lk);
	pthread_mutex_destroy(&in->iolk);
	pthread_mutex_destroy(&in->tmr.mtx);
	pthread_cond_destroy(&in->tmr.cv);
	free(in);
}

void
vmm_intr_set_ncpus(struct vmm_intr *in, int ncpus)
{
	if (ncpus >= 1 && ncpus <= VM_MAXCPU)
		atomic_store(&in->ncpus, ncpus);
}

void
vmm_intr_reset(struct vmm_intr *in)
{
	int i;

	pthread_mutex_lock(&in->iolk);
	vioapic_reset(&in->io);
	routes_update(in, false);
	pthread_mutex_unlock(&in->iolk);
	for (i = 0; i < VM_MAXCPU; i++) {
		struct intr_cpu *c = &in->cpu[i];

		atomic_store(&c->extvec, -1);	/* no vCPU runs */
		atomic_fetch_and(&c->hint, ~HINT_EXTMSG);
		cpu_lock(c);
		vlapic_reset(&c->vl);
		c->nipi = c->neoi = 0;
		atomic_store(&c->events, 0);
		cpu_unlock(c);
	}
}

/* ---- the CPU side ---- */

/*
 * The 8259's vector comes first, as bhyve's vm_extint_pending comes
 * before the LAPIC's: on the BSP while its LINT0 takes the 8259's INT, on
 * any CPU an ExtINT message sent (HINT_EXTMSG).  The INTA cycle happens
 * here, when the CPU can take an interrupt now (vmm_intr_source); the
 * vector waits in extvec for accept().  A message is used up by its INTA;
 * with nothing to acknowledge it is dropped.  Vectors 0-15 are exceptions'
 * and the CPU takes none (struct vmm_intr_source): an 8259 programmed with
 * such a base loses its interrupts, rather than raising faults.
 */
static int
extint_pending(struct intr_cpu *c)
{
	int v = atomic_load(&c->extvec), hint = atomic_load(&c->hint);

	if (v >= 0)
		return v;
	if (!((c->id == 0 && (hint & HINT_EXTINT)) || (hint & HINT_EXTMSG)))
		return -1;
	atomic_fetch_and(&c->hint, ~HINT_EXTMSG);
	if (c->in->pic.ack == NULL)
		return -1;
	v = c->in->pic.ack(c->in->pic.arg);
	if (v < 16)
		return -1;
	atomic_store(&c->extvec, v);
	return v;
}

static int
src_pending(void *arg)
{
	struct intr_cpu *c = arg;
	int v;

	/* The backend's own LAPIC asks only for the 8259's vector, at the BSP. */
	if (c->in->lb.msi != NULL)
		return c->id == 0 ? extint_pending(c) : -1;
	if ((v = extint_pending(c)) >= 0)
		return v;
	cpu_lock(c);
	v = vlapic_pending_intr(&c->vl);
	cpu_unlock(c);
	return v;
}

static void
src_accept(void *arg, int vector)
{
	struct intr_cpu *c = arg;

	if (atomic_load(&c->extvec) >= 0 && vector == atomic_load(&c->extvec)) {
		atomic_store(&c->extvec, -1);
		return;
	}
	if (c->in->lb.msi != NULL)
		return;
	cpu_lock(c);
	vlapic_accept_intr(&c->vl, vector);
	cpu_unlock(c);
}

static uint8_t
src_get_tpr(void *arg)
{
	struct intr_cpu *c = arg;
	uint8_t tpr;

	cpu_lock(c);
	tpr = vlapic_get_tpr(&c->vl);
	cpu_unlock(c);
	return tpr;
}

static void
src_set_tpr(void *arg, uint8_t tpr)
{
	struct intr_cpu *c = arg;

	cpu_lock(c);
	vlapic_set_tpr(&c->vl, tpr);
	cpu_unlock(c);
}

/* A level-triggered EOI from the backend's LAPIC: the IOAPIC clears remote IRR. */
static void
src_eoi(void *arg, int vector)
{
	struct intr_cpu *c = arg;

	if (vector < 0 || vector > 255)
		return;
	pthread_mutex_lock(&c->in->iolk);
	vioapic_eoi(&c->in->io, (uint8_t)vector);
	pthread_mutex_unlock(&c->in->iolk);
}

/* FERR#: ISA IRQ 13, as the PC/AT wires the coprocessor's error line. */
static void
src_ferr(void *arg)
{
	struct intr_cpu *c = arg;

	vmm_intr_isa_irq(c->in, 13, -1, VMM_IRQ_ASSERT);
}

void
vmm_intr_source(struct vmm_intr *in, int vcpu, struct vmm_intr_source *src)
{
	struct intr_cpu *c = &in->cpu[vcpu];

	*src = (struct vmm_intr_source){ .pending = src_pending, .accept = src_accept,
	    .hint = &c->hint, .get_tpr = src_get_tpr, .set_tpr = src_set_tpr,
	    .eoi = src_eoi, .ferr = src_ferr, .arg = c };
	if (in->lb.msi != NULL) {
		/* CR8 is the backend's LAPIC's TPR. */
		src->get_tpr = NULL;
		src->set_tpr = NULL;
	}
}

/*
 * The IOAPIC's entries as messages (82093AA 3.2.4: vector 7:0, delivery
 * mode 10:8, destination mode 11, trigger mode 15, mask 16, destination
 * 63:56), given to the backend when they changed.  iolk held.
 */
static int
routes_update(struct vmm_intr *in, bool force)
{
	struct vmm_msi_route r[VIOAPIC_PINS];
	int i;

	if (in->lb.routes == NULL)
		return 0;
	memset(r, 0, sizeof(r));
	for (i = 0; i < VIOAPIC_PINS; i++) {
		uint64_t e = in->io.rte[i];
		struct vlapic_msg m = { .dest = (uint32_t)(e >> 56), .vector = (uint8_t)e,
		    .mode = (uint8_t)((e >> 8) & 7), .logical = (e & IOART_DEST_LOGICAL) != 0,
		    .level = (e & IOART_TRIGGER_LEVEL) != 0 };

		if (e & IOART_MASKED)
			continue;
		msg_to_msi(&m, &r[i].addr, &r[i].data);
		r[i].valid = 1;
	}
	if (!force && memcmp(r, in->routes, sizeof(r)) == 0)
		return 0;
	memcpy(in->routes, r, sizeof(r));
	return in->lb.routes(in->lb.arg, r, VIOAPIC_PINS);
}

int
vmm_intr_set_lapic(struct vmm_intr *in, const struct vmm_intr_lapic *lb)
{
	int error;

	pthread_mutex_lock(&in->iolk);
	in->lb = *lb;
	error = routes_update(in, true);
	pthread_mutex_unlock(&in->iolk);
	/* LINT0 is the backend's to check: the 8259's INT always reaches the BSP. */
	pthread_mutex_lock(&in->ext.lk);
	atomic_store(&in->ext.ok, true);
	extint_update(in);
	pthread_mutex_unlock(&in->ext.lk);
	return error;
}

bool
vmm_intr_pending(struct vmm_intr *in, int vcpu)
{
	return atomic_load_explicit(&in->cpu[vcpu].hint, memory_order_acquire) != 0 ||
	    atomic_load(&in->cpu[vcpu].extvec) >= 0;
}

void
vmm_intr_set_pic(struct vmm_intr *in, const struct vmm_intr_pic *pic)
{
	in->pic = *pic;
}

void
vmm_intr_extint(struct vmm_intr *in, bool level)
{
	pthread_mutex_lock(&in->ext.lk);
	in->ext.line = level;
	extint_update(in);
	pthread_mutex_unlock(&in->ext.lk);
}

unsigned
vmm_intr_events(struct vmm_intr *in, int vcpu)
{
	return atomic_load(&in->cpu[vcpu].events);
}

unsigned
vmm_intr_take_events(struct vmm_intr *in, int vcpu, uint8_t *sipi_vector)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	unsigned ev = atomic_exchange(&c->events, 0);

	*sipi_vector = (uint8_t)atomic_load(&c->sipi_vector);
	return ev;
}

void
vmm_intr_reset_lapic(struct vmm_intr *in, int vcpu)
{
	struct intr_cpu *c = &in->cpu[vcpu];

	cpu_lock(c);
	vlapic_reset(&c->vl);
	c->nipi = c->neoi = 0;
	atomic_store(&c->events, 0);
	cpu_unlock(c);
}

void
vmm_intr_init_lapic(struct vmm_intr *in, int vcpu)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	uint64_t base;

	cpu_lock(c);
	base = vlapic_get_apicbase(&c->vl);
	vlapic_reset(&c->vl);
	/* INIT keeps APIC_BASE, x2APIC mode included (SDM 11.12.5.1). */
	vlapic_set_apicbase(&c->vl, base & ~(uint64_t)APICBASE_X2APIC);
	if (base & APICBASE_X2APIC)
		vlapic_set_apicbase(&c->vl, base);
	cpu_unlock(c);
}

/* ---- guest accesses ---- */

int
vmm_intr_mmio(struct vmm_intr *in, int vcpu, struct vm_exit *vme)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	uint64_t gpa = vme->u.mmio.gpa, base;
	int size = vme->u.mmio.size, error;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	if (in->lb.msi != NULL)
		goto ioapic;	/* the backend serves its LAPIC page */
	cpu_lock(c);
	base = vlapic_get_apicbase(&c->vl) & 0x000ffffffffff000ull;
	if (gpa >= base && gpa - base < 4096) {
		/* This vCPU's own page (SDM 11.4.1): it hides anything behind it. */
		if (vme->u.mmio.write)
			error = vlapic_mmio_write(&c->vl, (uint32_t)(gpa - base), size,
			    vme->u.mmio.data);
		else
			error = vlapic_mmio_read(&c->vl, (uint32_t)(gpa - base), size,
			    &vme->u.mmio.data);
		cpu_unlock(c);
		if (error != -ENOENT)
			return 1;
	} else {
		cpu_unlock(c);
	}
ioapic:
	if (gpa >= VIOAPIC_BASE && gpa - VIOAPIC_BASE < VIOAPIC_SIZE) {
		pthread_mutex_lock(&in->iolk);
		if (vme->u.mmio.write) {
			vioapic_mmio_write(&in->io, (uint32_t)(gpa - VIOAPIC_BASE), size,
			    vme->u.mmio.data);
			routes_update(in, false);
		} else {
			vioapic_mmio_read(&in->io, (uint32_t)(gpa - VIOAPIC_BASE), size,
			    &vme->u.mmio.data);
		}
		pthread_mutex_unlock(&in->iolk);
		return 1;
	}
	return 0;
}

bool
vmm_intr_is_msr(uint32_t msr)
{
	/* APIC_BASE, TSC_DEADLINE, and the x2APIC range 800H-8FFH (SDM 11.12.1). */
	return msr == MSR_APICBASE || msr == MSR_TSC_DEADLINE ||
	    (msr >= MSR_X2APIC_BASE && msr <= 0x8ff);
}

int
vmm_intr_rdmsr(struct vmm_intr *in, int vcpu, uint32_t msr, uint64_t *val)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	int error;

	if (!vmm_intr_is_msr(msr))
		return -ENOENT;
	cpu_lock(c);
	error = vlapic_rdmsr(&c->vl, msr, val);
	cpu_unlock(c);
	return error < 0 ? -EINVAL : 0;
}

int
vmm_intr_wrmsr(struct vmm_intr *in, int vcpu, uint32_t msr, uint64_t val)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	int error;

	if (!vmm_intr_is_msr(msr))
		return -ENOENT;
	/* x2APIC not offered (CPUID.1:ECX.21 clear): EXTD is reserved. */
	if (msr == MSR_APICBASE && (val & APICBASE_X2APIC) &&
	    (atomic_load(&in->x2apic_off) >> vcpu & 1))
		return -EINVAL;
	cpu_lock(c);
	error = vlapic_wrmsr(&c->vl, msr, val);
	cpu_unlock(c);
	return error < 0 ? -EINVAL : 0;
}

/* ---- libvmmapi ---- */

static int
check_cpu(struct vmm_intr *in, int vcpu)
{
	return vcpu >= 0 && vcpu < atomic_load(&in->ncpus) ? 0 : -EINVAL;
}

int
vmm_intr_nmi(struct vmm_intr *in, int vcpu)
{
	struct intr_cpu *c;

	if (vcpu < 0 || vcpu >= VM_MAXCPU)
		return -EINVAL;
	c = &in->cpu[vcpu];
	atomic_fetch_or(&c->events, VMM_EV_NMI);
	in->cb.notify(in->cb.arg, vcpu, true);
	return 0;
}

int
vmm_intr_lapic_irq(struct vmm_intr *in, int vcpu, int vector)
{
	struct vlapic_msg m = { .vector = (uint8_t)vector, .mode = APIC_DM_FIXED,
	    .assert = true, .src = -1 };
	struct intr_cpu *c;

	if (check_cpu(in, vcpu) != 0 || vector < 0 || vector > 255)
		return -EINVAL;
	if (in->lb.msi != NULL) {
		/* Physical destination: APIC ID = vCPU id (vmm_intr_create). */
		m.dest = (uint32_t)vcpu;
		route_backend(in, &m);
		return 0;
	}
	/* An edge-triggered fixed interrupt to this LAPIC (FreeBSD lapic_intr_edge). */
	c = &in->cpu[vcpu];
	cpu_lock(c);
	vlapic_deliver(&c->vl, &m);
	cpu_unlock(c);
	return 0;
}

/* FreeBSD's APIC_LVT_* numbering of vm_lapic_local_irq -> vlapic's LVT index. */
static int
lvt_from_freebsd(int lvt)
{
	static const int map[] = { 3 /* LINT0 */, 4 /* LINT1 */, 0 /* timer */,
	    5 /* error */, 2 /* PMC */, 1 /* thermal */ };

	return lvt >= 0 && lvt < (int)(sizeof(map) / sizeof(map[0])) ? map[lvt] : -1;
}

int
vmm_intr_lapic_local_irq(struct vmm_intr *in, int vcpu, int lvt)
{
	int idx = lvt_from_freebsd(lvt), i, n = atomic_load(&in->ncpus);

	if (idx < 0 || vcpu < -1 || vcpu >= n)
		return -EINVAL;
	/* The backend's LAPICs take messages only: their LVTs are theirs to fire. */
	if (in->lb.msi != NULL)
		return -ENOTSUP;
	/* vcpu -1: every vCPU, as FreeBSD's vm_lapic_local_irq. */
	for (i = 0; i < n; i++) {
		if (vcpu != -1 && i != vcpu)
			continue;
		cpu_lock(&in->cpu[i]);
		vlapic_fire_lvt(&in->cpu[i].vl, idx);
		cpu_unlock(&in->cpu[i]);
	}
	return 0;
}

/* MSI (SDM Vol. 3A 11.11): address FEEx_xxxxH, destination in 19:12. */
int
vmm_intr_msi(struct vmm_intr *in, uint64_t addr, uint64_t msg)
{
	bool rh = addr & 0x8, dm = addr & 0x4;
	struct vlapic_msg m = {
		.dest = (uint32_t)(addr >> 12) & 0xff,
		.vector = (uint8_t)msg,
		.mode = (msg >> 8) & 7,
		/* Logical only with RH and DM both set (as FreeBSD's lapic_intr_msi). */
		.logical = rh && dm,
		.level = (msg & 0x8000) != 0,
		.assert = true,
		.shorthand = APIC_DEST_NONE,
		.src = -1,
	};

	if ((addr & 0xfff00000ull) != 0xfee00000ull || (addr >> 32) != 0)
		return -EINVAL;
	/* Reserved and start-up modes carry nothing (11.11.2). */
	if (m.mode == 3 || m.mode == APIC_DM_SIPI)
		return 0;
	route(in, &m);
	return 0;
}

int
vmm_intr_ioapic_irq(struct vmm_intr *in, int pin, enum vmm_irq_op op)
{
	int error;

	if (pin < 0 || pin >= VIOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&in->iolk);
	switch (op) {
	case VMM_IRQ_ASSERT:
		error = vioapic_assert(&in->io, pin);
		break;
	case VMM_IRQ_DEASSERT:
		error = vioapic_deassert(&in->io, pin);
		break;
	case VMM_IRQ_PULSE:
		error = vioapic_pulse(&in->io, pin);
		break;
	default:
		error = -EINVAL;
		break;
	}
	pthread_mutex_unlock(&in->iolk);
	return error;
}

/*
 * An ISA line reaches both interrupt controllers, as FreeBSD's
 * vm_isa_assert_irq feeds vatpic and vioapic: the 8259 on @irq, the IOAPIC
 * on @pin, or with @pin -1 on the machine map's (vmm_irqmap.h: IRQ 0 on
 * pin 2; IRQ 2 is the cascade, no line of its own).
 */
int
vmm_intr_isa_irq(struct vmm_intr *in, int irq, int pin, enum vmm_irq_op op)
{
	if (irq < 0 || irq >= VMM_IRQMAP_ISA_NIRQ || (unsigned)op > VMM_IRQ_PULSE)
		return -EINVAL;
	if (pin < 0 && (pin = vmm_irqmap_isa_pin(irq)) < 0)
		return -EINVAL;
	if (pin >= VIOAPIC_PINS)
		return -EINVAL;
	if (irq != VMM_IRQMAP_CASCADE && in->pic.isa != NULL)
		in->pic.isa(in->pic.arg, irq, op);
	return vmm_intr_ioapic_irq(in, pin, op);
}

int
vmm_intr_ioapic_pincount(void)
{
	return VIOAPIC_PINS;
}

int
vmm_intr_get_x2apic(struct vmm_intr *in, int vcpu, int *state)
{
	if (vcpu < 0 || vcpu >= VM_MAXCPU)
		return -EINVAL;
	*state = (atomic_load(&in->x2apic_off) >> vcpu & 1) ? X2APIC_DISABLED : X2APIC_ENABLED;
	return 0;
}

int
vmm_intr_set_x2apic(struct vmm_intr *in, int vcpu, int state)
{
	struct intr_cpu *c;
	bool x2;

	if (vcpu < 0 || vcpu >= VM_MAXCPU || state < 0 || state >= X2APIC_STATE_LAST)
		return -EINVAL;
	c = &in->cpu[vcpu];
	cpu_lock(c);
	x2 = vlapic_x2apic(&c->vl);
	cpu_unlock(c);
	/* A LAPIC in x2APIC mode cannot lose the feature under it. */
	if (state == X2APIC_DISABLED && x2)
		return -EBUSY;
	if (state == X2APIC_DISABLED)
		atomic_fetch_or(&in->x2apic_off, 1u << vcpu);
	else
		atomic_fetch_and(&in->x2apic_off, ~(1u << vcpu));
	return 0;
}

const _Atomic uint32_t *
vmm_intr_x2apic_off(struct vmm_intr *in)
{
	return &in->x2apic_off;
}

uint64_t
vmm_intr_apicbase(struct vmm_intr *in, int vcpu)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	uint64_t v;

	cpu_lock(c);
	v = vlapic_get_apicbase(&c->vl);
	cpu_unlock(c);
	return v;
}

void
vmm_intr_set_apicbase(struct vmm_intr *in, int vcpu, uint64_t val)
{
	struct intr_cpu *c = &in->cpu[vcpu];

	cpu_lock(c);
	/* A value the LAPIC refuses (a corrupt or foreign MSRS entry) leaves RESET's. */
	if (vlapic_set_apicbase(&c->vl, val & ~(uint64_t)APICBASE_X2APIC) == 0 &&
	    (val & APICBASE_X2APIC))
		vlapic_set_apicbase(&c->vl, val);
	cpu_unlock(c);
}

ssize_t
vmm_intr_lapic_save(struct vmm_intr *in, int vcpu, uint8_t *buf, size_t cap)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	ssize_t n;

	cpu_lock(c);
	n = vlapic_snapshot_save(&c->vl, buf, cap);
	cpu_unlock(c);
	return n;
}

int
vmm_intr_lapic_restore(struct vmm_intr *in, int vcpu, const uint8_t *data, size_t len)
{
	struct intr_cpu *c = &in->cpu[vcpu];
	int error;

	cpu_lock(c);
	error = vlapic_snapshot_restore(&c->vl, data, len);
	cpu_unlock(c);
	return error;
}

ssize_t
vmm_intr_ioapic_save(void *arg, uint8_t *buf, size_t cap)
{
	struct vmm_intr *in = arg;
	ssize_t n;

	pthread_mutex_lock(&in->iolk);
	n = vioapic_snapshot_save(&in->io, buf, cap);
	pthread_mutex_unlock(&in->iolk);
	return n;
}

int
vmm_intr_ioapic_restore(void *arg, const uint8_t *data, size_t len)
{
	struct vmm_intr *in = arg;
	int error;

	pthread_mutex_lock(&in->iolk);
	error = vioapic_snapshot_restore(&in->io, data, len);
	if (error == 0)
		routes_update(in, false);
	pthread_mutex_unlock(&in->iolk);
	return error;
}

int
vmm_intr_lapic_info(struct vmm_intr *in, int vcpu, struct vmm_lapic_info *li)
{
	struct intr_cpu *c;
	const struct vlapic *vl;
	uint64_t now;

	if (vcpu < 0 || vcpu >= VM_MAXCPU)
		return -EINVAL;
	c = &in->cpu[vcpu];
	vl = &c->vl;
	memset(li, 0, sizeof(*li));
	cpu_lock(c);
	now = mono_ns();
	li->apicbase = vl->apicbase;
	li->id = vl->id;
	li->tpr = vl->tpr;
	li->ppr = vl->ppr;
	li->svr = vl->svr;
	li->esr = vl->esr;
	li->ldr = vl->ldr;
	memcpy(li->irr, vl->irr, sizeof(li->irr));
	memcpy(li->isr, vl->isr, sizeof(li->isr));
	memcpy(li->tmr, vl->tmr, sizeof(li->tmr));
	memcpy(li->lvt, vl->lvt, sizeof(li->lvt));
	li->timer_icr = vl->timer_icr;
	li->timer_ccr = vlapic_timer_ccr(vl);
	li->timer_dcr = vl->timer_dcr;
	li->tsc_deadline = vl->tsc_deadline;
	li->timer_due_ns = vl->timer_due_ns == NO_DEADLINE ? -1 :
	    vl->timer_due_ns > now ? (int64_t)(vl->timer_due_ns - now) : 0;
	cpu_unlock(c);
	return 0;
}
