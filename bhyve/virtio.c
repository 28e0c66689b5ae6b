/*
 * virtio.c - the virtio PCI transport and split virtqueues (virtio 1.2,
 * sections 2.7 and 4.1).  See virtio.h.
 *
 * Register layout:
 *   BAR 0  I/O   legacy interface (4.1.4.10): features, queue PFN/size/
 *                select/notify, status, ISR, [MSI-X vectors], device config
 *   BAR 1  MEM32 MSI-X table and PBA (config vector + one per queue)
 *   BAR 4  MEM64 modern interface: common config at 0x0000, ISR at 0x1000,
 *                device config at 0x2000, notifications at 0x3000 + 4 * q
 * plus the vendor capabilities that point at them, and the PCI
 * configuration access capability (4.1.4.9).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bhyve.h"
#include "vmmapi.h"
#include "virtio.h"

#define VS_BAR_LEGACY		0
#define VS_BAR_MSIX		1
#define VS_BAR_MODERN		4

#define VS_COMMON_OFF		0x0000
#define VS_COMMON_SIZE		0x38
#define VS_ISR_OFF		0x1000
#define VS_DEVCFG_OFF		0x2000
#define VS_NOTIFY_OFF		0x3000
#define VS_NOTIFY_MULT		4
#define VS_MODERN_SIZE		0x4000

/* Vendor capability cfg_type (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4
#define VIRTIO_PCI_CAP_PCI_CFG		5
#define PCIY_VENDOR			0x09

/* Legacy header (4.1.4.10). */
#define VL_HOST_FEATURES	0
#define VL_GUEST_FEATURES	4
#define VL_QUEUE_PFN		8
#define VL_QUEUE_NUM		12
#define VL_QUEUE_SEL		14
#define VL_QUEUE_NOTIFY		16
#define VL_STATUS		18
#define VL_ISR			19
#define VL_CONFIG_VECTOR	20
#define VL_QUEUE_VECTOR		22
#define VL_PFN_SHIFT		12
#define VL_ALIGN		4096

#define VRING_AVAIL_F_NO_INTERRUPT	1

static inline uint16_t
ld16(const uint8_t *p)
{
	uint16_t v;

	__atomic_load((const uint16_t *)(const void *)p, &v, __ATOMIC_RELAXED);
	return v;
}

static inline uint16_t
ld16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static inline void
st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static inline void
st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

static void
vs_log(struct virtio_softc *vs, const char *fmt, va_list ap)
{
	fprintf(stderr, "bhyve: %s at %d:%d.%d: ", vs->vc->name, vs->pi->pi_bus,
	    vs->pi->pi_slot, vs->pi->pi_func);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void vs_ioev_sync(struct virtio_softc *vs);

/* ---- interrupts ---- */

static void
vs_interrupt(struct virtio_softc *vs, uint8_t isrbit, uint16_t vector)
{
	if (pci_msix_enabled(vs->pi)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_generate_msix(vs->pi, vector);
		return;
	}
	pthread_mutex_lock(&vs->mtx);
	vs->isr |= isrbit;
	pthread_mutex_unlock(&vs->mtx);
	pci_lintr_assert(vs->pi);
}

void
vs_config_changed(struct virtio_softc *vs)
{
	pthread_mutex_lock(&vs->mtx);
	vs->cfg_gen++;
	pthread_mutex_unlock(&vs->mtx);
	vs_interrupt(vs, 2, vs->cfg_msix);
}

void
vs_needs_reset(struct virtio_softc *vs, const char *fmt, ...)
{
	va_list ap;
	bool first;

	pthread_mutex_lock(&vs->mtx);
	first = (vs->status & VIRTIO_S_NEEDS_RESET) == 0;
	/* Only a driver that finished set-up is told (2.1.2). */
	if (vs->status & VIRTIO_S_DRIVER_OK)
		vs->status |= VIRTIO_S_NEEDS_RESET;
	pthread_mutex_unlock(&vs->mtx);
	if (!first)
		return;
	va_start(ap, fmt);
	vs_log(vs, fmt, ap);
	va_end(ap);
	vs_interrupt(vs, 2, vs->cfg_msix);
}

void
vq_break(struct vqueue_info *vq, const char *why)
{
	vq->broken = true;
	vs_needs_reset(vq->vs, "queue %d stopped: %s (the device needs a reset)", vq->num, why);
}

/* ---- queues ---- */

bool
vq_ready(struct vqueue_info *vq)
{
	return __atomic_load_n(&vq->enabled, __ATOMIC_ACQUIRE) && !vq->broken &&
	    (__atomic_load_n(&vq->vs->status, __ATOMIC_ACQUIRE) & VIRTIO_S_DRIVER_OK);
}

bool
vq_has_descs(struct vqueue_info *vq)
{
	return vq_ready(vq) && ld16_acquire(vq->avail + 2) != vq->last_avail;
}

/* Map the rings at their addresses; false when any is not in RAM or misaligned. */
static bool
vq_map(struct vqueue_info *vq)
{
	struct bhyve_vm *bvm = vq->vs->pi->pi_vm;
	uint32_t n = vq->size;

	/* Alignment: descriptors 16, driver area 2, device area 4 (2.7). */
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return false;
	vq->desc = bvm->gpa_map(bvm, vq->desc_gpa, 16 * n);
	vq->avail = bvm->gpa_map(bvm, vq->avail_gpa, 6 + 2 * n);
	vq->used = bvm->gpa_map(bvm, vq->used_gpa, 6 + 8 * n);
	return vq->desc != NULL && vq->avail != NULL && vq->used != NULL;
}

static void
vq_reset(struct vqueue_info *vq)
{
	vq->size = vq->max;
	__atomic_store_n(&vq->enabled, false, __ATOMIC_RELEASE);
	vq->broken = false;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->desc = vq->avail = vq->used = NULL;
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
}

/* One descriptor, copied once: the guest may change the table under us. */
struct vdesc {
	uint64_t	addr;
	uint32_t	len;
	uint16_t	flags, next;
};

static void
vdesc_read(const uint8_t *table, uint32_t i, struct vdesc *d)
{
	memcpy(&d->addr, table + 16 * (size_t)i, 8);
	memcpy(&d->len, table + 16 * (size_t)i + 8, 4);
	memcpy(&d->flags, table + 16 * (size_t)i + 12, 2);
	memcpy(&d->next, table + 16 * (size_t)i + 14, 2);
}

/* Add one buffer to the chain; NULL on success, else why the chain is bad. */
static const char *
chain_add(struct vqueue_info *vq, struct vq_chain *c, int maxbufs, const struct vdesc *d)
{
	struct bhyve_vm *bvm = vq->vs->pi->pi_vm;
	bool wr = (d->flags & VRING_DESC_F_WRITE) != 0;
	void *p = NULL;

	if (c->n >= maxbufs)
		return "a chain has more buffers than the device accepts";
	/* Device-writable buffers come after the readable ones (2.7.4.2). */
	if (!wr && c->n > 0 && (c->flags[c->n - 1] & VRING_DESC_F_WRITE))
		return "a readable buffer follows a writable one";
	if (d->len != 0) {
		if (d->addr + d->len < d->addr)
			return "a buffer wraps around the address space";
		p = bvm->gpa_map(bvm, d->addr, d->len);
		if (p == NULL)
			return "a buffer lies outside guest RAM";
	}
	c->iov[c->n].iov_base = p;
	c->iov[c->n].iov_len = d->len;
	c->gpa[c->n] = d->addr;
	c->flags[c->n] = wr ? VRING_DESC_F_WRITE : 0;
	c->n++;
	return NULL;
}

/* An indirect table (2.7.5.3): its own chain, no nesting, no NEXT alongside. */
static const char *
chain_indirect(struct vqueue_info *vq, struct vq_chain *c, int maxbufs, const struct vdesc *d)
{
	struct bhyve_vm *bvm = vq->vs->pi->pi_vm;
	uint32_t count, i, seen;
	const uint8_t *table;
	struct vdesc e;
	const char *why;

	if (!(vq->vs->negotiated & VIRTIO_F_INDIRECT_DESC))
		return "an indirect descriptor without VIRTIO_F_INDIRECT_DESC";
	if (d->flags & VRING_DESC_F_NEXT)
		return "an indirect descriptor with NEXT set";
	if (d->len == 0 || (d->len % 16) != 0 || d->len / 16 > VQ_MAX_SIZE)
		return "an indirect table has an impossible length";
	count = d->len / 16;
	if (d->addr + d->len < d->addr || (table = bvm->gpa_map(bvm, d->addr, d->len)) == NULL)
		return "an indirect table lies outside guest RAM";
	for (i = 0, seen = 0;; ) {
		vdesc_read(table, i, &e);
		if (e.flags & VRING_DESC_F_INDIRECT)
			return "an indirect table holds an indirect descriptor";
		if ((why = chain_add(vq, c, maxbufs, &e)) != NULL)
			return why;
		if (!(e.flags & VRING_DESC_F_NEXT))
			return NULL;
		i = e.next;
		if (i >= count)
			return "an indirect descriptor's next lies outside its table";
		if (++seen >= count)
			return "an indirect chain loops";
	}
}

int
vq_getchain(struct vqueue_info *vq, struct vq_chain *c, int maxbufs)
{
	uint16_t avail_idx, head;
	uint32_t i, seen;
	struct vdesc d;
	const char *why = NULL;

	c->n = 0;
	if (maxbufs > VQ_CHAIN_MAX)
		maxbufs = VQ_CHAIN_MAX;
	if (!vq_ready(vq))
		return 0;
	avail_idx = ld16_acquire(vq->avail + 2);
	if (avail_idx == vq->last_avail) {
		if (!(vq->vs->negotiated & VIRTIO_F_EVENT_IDX))
			return 0;
		/*
		 * Ask for a notification when the driver makes the next entry
		 * available (avail_event, 2.7.10), then look again: an entry
		 * added before the driver could see it would otherwise wait.
		 */
		st16_release(vq->used + 4 + 8 * (size_t)vq->size, vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = ld16_acquire(vq->avail + 2);
		if (avail_idx == vq->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		vq_break(vq, "the available index ran ahead by more than the queue size");
		return -1;
	}
	head = ld16(vq->avail + 4 + 2 * (vq->last_avail % vq->size));
	if (head >= vq->size) {
		vq_break(vq, "an available ring entry names a descriptor beyond the queue");
		return -1;
	}
	vq->last_avail++;
	c->head = head;
	for (i = head, seen = 0;; ) {
		vdesc_read(vq->desc, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			why = chain_indirect(vq, c, maxbufs, &d);
			break;
		}
		if ((why = chain_add(vq, c, maxbufs, &d)) != NULL)
			break;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= vq->size) {
			why = "a descriptor's next lies beyond the queue";
			break;
		}
		if (++seen >= vq->size) {
			why = "a descriptor chain loops";
			break;
		}
	}
	if (why != NULL) {
		vq_break(vq, why);
		return -1;
	}
	return c->n;
}

void
vq_retchain(struct vqueue_info *vq)
{
	vq->last_avail--;
}

void
vq_relchain(struct vqueue_info *vq, const struct vq_chain *c, uint32_t len)
{
	struct bhyve_vm *bvm = vq->vs->pi->pi_vm;
	uint32_t left = len;
	uint8_t *e;
	int i;

	if (!vq->enabled || vq->used == NULL)
		return;
	/* What the device wrote, for the CPU's translated code (vmm_mem_written). */
	for (i = 0; i < c->n && left > 0; i++) {
		if (!(c->flags[i] & VRING_DESC_F_WRITE))
			continue;
		uint32_t n = c->iov[i].iov_len < left ? (uint32_t)c->iov[i].iov_len : left;
		if (n != 0 && bvm->mem_written != NULL)
			bvm->mem_written(bvm, c->gpa[i], n);
		left -= n;
	}
	e = vq->used + 4 + 8 * (vq->used_idx % vq->size);
	st32(e, c->head);
	st32(e + 4, len);
	vq->used_idx++;
	/* The entry before the index (2.7.8). */
	st16_release(vq->used + 2, vq->used_idx);
}

void
vq_endchains(struct vqueue_info *vq, bool used_all_avail)
{
	struct virtio_softc *vs = vq->vs;
	uint16_t old, new, event;
	bool intr;

	(void)used_all_avail;
	if (!vq->enabled || vq->avail == NULL)
		return;
	/* Our used index must be visible before we read the guest's flags (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	new = vq->used_idx;
	old = vq->signalled_used;
	if (vs->negotiated & VIRTIO_F_EVENT_IDX) {
		/* vring_need_event(): did used_event fall in (old, new]? (2.7.10) */
		event = ld16(vq->avail + 4 + 2 * vq->size);
		intr = !vq->signalled_valid || (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		intr = new != old && !(ld16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (intr)
		vs_interrupt(vs, 1, vq->msix_vector);
}

/* ---- the transport's registers ---- */

/* Reset (status 0): stop the device, forget everything negotiated (2.4). */
static void
vs_reset(struct virtio_softc *vs)
{
	int i;

	pthread_mutex_lock(&vs->mtx);
	__atomic_store_n(&vs->status, 0, __ATOMIC_RELEASE);
	for (i = 0; i < vs->vc->nvq; i++)
		__atomic_store_n(&vs->queues[i].enabled, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vs->mtx);
	/* The device waits for its I/O in flight; it must not hold vs->mtx. */
	if (vs->vc->reset != NULL)
		vs->vc->reset(vs->dev);
	pthread_mutex_lock(&vs->mtx);
	for (i = 0; i < vs->vc->nvq; i++)
		vq_reset(&vs->queues[i]);
	vs_ioev_sync(vs);
	vs->negotiated = vs->driver_features = 0;
	vs->isr = 0;
	vs->dfselect = vs->gfselect = 0;
	vs->queue_sel = 0;
	vs->cfg_msix = VIRTIO_MSI_NO_VECTOR;
	vs->legacy = false;
	pthread_mutex_unlock(&vs->mtx);
	pci_lintr_deassert(vs->pi);
}

/* Called with vs->mtx held; returns with it held. */
static void
vs_set_status(struct virtio_softc *vs, uint8_t val)
{
	uint8_t old = vs->status;

	if (val == 0) {
		pthread_mutex_unlock(&vs->mtx);
		vs_reset(vs);
		pthread_mutex_lock(&vs->mtx);
		return;
	}
	if ((val & VIRTIO_S_FEATURES_OK) && !(old & VIRTIO_S_FEATURES_OK)) {
		/* A modern driver accepts a subset with VERSION_1 (3.1.1, 6.1). */
		if ((vs->driver_features & ~vs->offered) != 0 ||
		    !(vs->driver_features & VIRTIO_F_VERSION_1))
			val &= (uint8_t)~VIRTIO_S_FEATURES_OK;
		else {
			vs->negotiated = vs->driver_features;
			/* Devices take their own locks: not under the transport's. */
			if (vs->vc->apply_features != NULL) {
				uint64_t f = vs->negotiated;
				pthread_mutex_unlock(&vs->mtx);
				vs->vc->apply_features(vs->dev, f);
				pthread_mutex_lock(&vs->mtx);
			}
		}
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it. */
	val = (uint8_t)((val & ~VIRTIO_S_NEEDS_RESET) | (old & VIRTIO_S_NEEDS_RESET));
	__atomic_store_n(&vs->status, val, __ATOMIC_RELEASE);
	if ((val & VIRTIO_S_DRIVER_OK) && !(old & VIRTIO_S_DRIVER_OK) &&
	    vs->vc->driver_ok != NULL) {
		pthread_mutex_unlock(&vs->mtx);
		vs->vc->driver_ok(vs->dev);
		pthread_mutex_lock(&vs->mtx);
	}
}

static struct vqueue_info *
vs_selected(struct virtio_softc *vs)
{
	return vs->queue_sel < vs->vc->nvq ? &vs->queues[vs->queue_sel] : NULL;
}

static void
vs_notify(struct virtio_softc *vs, uint32_t q)
{
	struct vqueue_info *vq;

	if (q >= (uint32_t)vs->vc->nvq)
		return;		/* a notification for no queue: ignored */
	vq = &vs->queues[q];
	if (!vq_ready(vq))
		return;
	if (vq->notify != NULL)
		vq->notify(vs->dev, vq);
	else if (vs->vc->qnotify != NULL)
		vs->vc->qnotify(vs->dev, vq);
}

/*
 * ---- notifications without exits (ioeventfd) ----
 *
 * With a backend that offers it (KVM_IOEVENTFD), each enabled queue's
 * doorbells go into the backend: the modern one (a 16-bit write to
 * BAR 4 + 0x3000 + 4 * q, virtio 1.2 4.1.4.4; Linux writes the queue
 * index, 16 bits) and the legacy one (a 16-bit write of q to BAR 0 +
 * QUEUE_NOTIFY, 4.1.4.10), each signalling the queue's eventfd.  The
 * device's thread then serves the notification as vs_notify() does on a
 * vCPU thread after an exit.  A doorbell the backend refuses, another
 * width, or the configuration window (4.1.4.9) still exits: both paths
 * end in vs_notify(), which checks the queue.
 *
 * The registrations follow the state they depend on (vs_ioev_sync(), with
 * vs->mtx held): the BAR's address and decoding (pe_baraddr), the queue's
 * enable (and a device reset, which disables every queue), a restore, and
 * the device's end.
 */

static int
vs_ioev_call(struct virtio_softc *vs, uint64_t addr, uint64_t data, int fd, int flags)
{
	struct bhyve_vm *bvm = vs->pi->pi_vm;

	return bvm->ioeventfd(bvm, addr, 2, data, fd, flags);
}

/* Called with vs->mtx held. */
static void
vs_ioev_sync(struct virtio_softc *vs)
{
	const struct pcibar *lb = &vs->pi->pi_bar[VS_BAR_LEGACY];
	const struct pcibar *mb = &vs->pi->pi_bar[VS_BAR_MODERN];
	uint64_t addr;
	bool want;
	int q, error;

	if (vs->queues == NULL || vs->pi->pi_vm->ioeventfd == NULL)
		return;
	for (q = 0; q < vs->vc->nvq; q++) {
		struct vqueue_info *vq = &vs->queues[q];

		if (vq->ioev_fd < 0)
			continue;
		want = vs->ioev && vq->enabled && mb->decoding;
		addr = mb->addr + VS_NOTIFY_OFF + VS_NOTIFY_MULT * (uint64_t)q;
		if (vq->ioev_mmio_on && (!want || vq->ioev_mmio != addr)) {
			if ((error = vs_ioev_call(vs, vq->ioev_mmio, 0, vq->ioev_fd,
			    VM_IOEVENTFD_DEASSIGN)) != 0)
				fprintf(stderr, "bhyve: %s: queue %d: removing the doorbell at "
				    "%#lx: %s\n", vs->vc->name, q, (unsigned long)vq->ioev_mmio,
				    strerror(-error));
			vq->ioev_mmio_on = false;
		}
		if (want && !vq->ioev_mmio_on &&
		    vs_ioev_call(vs, addr, 0, vq->ioev_fd, 0) == 0) {
			vq->ioev_mmio = addr;
			vq->ioev_mmio_on = true;
		}
		want = vs->ioev && vq->enabled && lb->decoding;
		addr = lb->addr + VL_QUEUE_NOTIFY;
		if (vq->ioev_pio_on && (!want || vq->ioev_pio != addr)) {
			if ((error = vs_ioev_call(vs, vq->ioev_pio, (uint64_t)q, vq->ioev_fd,
			    VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH |
			    VM_IOEVENTFD_DEASSIGN)) != 0)
				fprintf(stderr, "bhyve: %s: queue %d: removing the doorbell at "
				    "port %#lx: %s\n", vs->vc->name, q, (unsigned long)vq->ioev_pio,
				    strerror(-error));
			vq->ioev_pio_on = false;
		}
		/* A hostile guest can put BAR 0 where the port would pass 0xffff: refused. */
		if (want && !vq->ioev_pio_on && addr <= 0xfffe &&
		    vs_ioev_call(vs, addr, (uint64_t)q, vq->ioev_fd,
		    VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH) == 0) {
			vq->ioev_pio = addr;
			vq->ioev_pio_on = true;
		}
	}
}

/* Queue @q's eventfd was signalled (or may have been): serve it.  ioev_mtx held. */
static void
vs_ioev_serve(struct virtio_softc *vs, int q)
{
	uint64_t n;

	if (read(vs->queues[q].ioev_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;		/* EAGAIN: not signalled */
	__atomic_add_fetch(&vs->ioev_served, 1, __ATOMIC_RELAXED);
	vs_notify(vs, (uint32_t)q);
}

static void *
vs_ioev_thread(void *arg)
{
	struct virtio_softc *vs = arg;
	int n = vs->vc->nvq, q;
	struct pollfd *pfd = calloc((size_t)n + 1, sizeof(*pfd));

	VERIFY(pfd != NULL);
	for (q = 0; q < n; q++)
		pfd[q] = (struct pollfd){ .fd = vs->queues[q].ioev_fd, .events = POLLIN };
	pfd[n] = (struct pollfd){ .fd = vs->ioev_stop, .events = POLLIN };
	for (;;) {
		if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
			VERIFY(errno == EINTR);
			continue;
		}
		if (pfd[n].revents != 0)
			break;
		pthread_mutex_lock(&vs->ioev_mtx);
		for (q = 0; q < n; q++)
			if (pfd[q].revents & POLLIN)
				vs_ioev_serve(vs, q);
		pthread_mutex_unlock(&vs->ioev_mtx);
	}
	free(pfd);
	return NULL;
}

/* At the end of vs_init: eventfds and the thread, when the backend can use them. */
static int
vs_ioev_init(struct virtio_softc *vs)
{
	int q;

	for (q = 0; q < vs->vc->nvq; q++)
		vs->queues[q].ioev_fd = -1;
	vs->ioev_stop = -1;
	pthread_mutex_init(&vs->ioev_mtx, NULL);
	if (vs->pi->pi_vm->ioeventfd == NULL)
		return 0;
	for (q = 0; q < vs->vc->nvq; q++)
		if ((vs->queues[q].ioev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			goto fail;
	if ((vs->ioev_stop = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    pthread_create(&vs->ioev_thread, NULL, vs_ioev_thread, vs) != 0)
		goto fail;
	pthread_mutex_lock(&vs->mtx);
	vs->ioev = true;
	vs_ioev_sync(vs);
	pthread_mutex_unlock(&vs->mtx);
	return 0;
fail:
	fprintf(stderr, "bhyve: %s: no eventfd for queue notifications: %s\n", vs->vc->name,
	    strerror(errno));
	for (q = 0; q < vs->vc->nvq; q++) {
		if (vs->queues[q].ioev_fd >= 0)
			close(vs->queues[q].ioev_fd);
		vs->queues[q].ioev_fd = -1;
	}
	if (vs->ioev_stop >= 0)
		close(vs->ioev_stop);
	vs->ioev_stop = -1;
	return -1;
}

void
vs_deinit(struct virtio_softc *vs)
{
	int q;

	if (vs->vc == NULL || vs->queues == NULL)
		return;
	if (vs->ioev) {
		VERIFY(eventfd_write(vs->ioev_stop, 1) == 0);
		pthread_join(vs->ioev_thread, NULL);
		pthread_mutex_lock(&vs->mtx);
		vs->ioev = false;
		vs_ioev_sync(vs);	/* removes every doorbell */
		pthread_mutex_unlock(&vs->mtx);
		close(vs->ioev_stop);
		vs->ioev_stop = -1;
	}
	for (q = 0; q < vs->vc->nvq; q++) {
		if (vs->queues[q].ioev_fd >= 0)
			close(vs->queues[q].ioev_fd);
		vs->queues[q].ioev_fd = -1;
	}
}

void
vs_baraddr(struct pci_devinst *pi, int baridx, bool decoding, uint64_t addr)
{
	struct virtio_softc *vs = pi->pi_arg;

	(void)decoding;
	(void)addr;
	if (vs == NULL || !vs->ioev || (baridx != VS_BAR_LEGACY && baridx != VS_BAR_MODERN))
		return;
	pthread_mutex_lock(&vs->mtx);
	vs_ioev_sync(vs);
	pthread_mutex_unlock(&vs->mtx);
}

static uint32_t
vs_isr_read(struct virtio_softc *vs)
{
	uint32_t v;

	pthread_mutex_lock(&vs->mtx);
	v = vs->isr;
	vs->isr = 0;
	pthread_mutex_unlock(&vs->mtx);
	/* Reading the ISR acknowledges the interrupt (4.1.4.5). */
	pci_lintr_deassert(vs->pi);
	return v;
}

/* Device configuration space (both interfaces): bytes, little-endian. */
static uint64_t
vs_devcfg_read(struct virtio_softc *vs, uint64_t off, int size)
{
	uint64_t v = 0;

	if (off >= vs->vc->cfgsize || (uint64_t)size > vs->vc->cfgsize - off)
		return 0;
	pthread_mutex_lock(&vs->mtx);
	memcpy(&v, (uint8_t *)vs->vc->cfg + off, (size_t)size);
	pthread_mutex_unlock(&vs->mtx);
	return v;
}

static void
vs_devcfg_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	if (off >= vs->vc->cfgsize || (uint64_t)size > vs->vc->cfgsize - off ||
	    vs->vc->cfgwrite == NULL)
		return;		/* read-only configuration: ignored */
	pthread_mutex_lock(&vs->mtx);
	memcpy((uint8_t *)vs->vc->cfg + off, &val, (size_t)size);
	pthread_mutex_unlock(&vs->mtx);
	vs->vc->cfgwrite(vs->dev, (uint32_t)off, size);
}

/* Modern common configuration (4.1.4.3), natural widths only. */
static uint64_t
vs_common_read(struct virtio_softc *vs, uint64_t off, int size)
{
	struct vqueue_info *vq;
	uint64_t v = 0;

	pthread_mutex_lock(&vs->mtx);
	vq = vs_selected(vs);
	switch (off << 4 | (uint64_t)size) {
	case 0x00 << 4 | 4: v = vs->dfselect; break;
	case 0x04 << 4 | 4:
		v = vs->dfselect < 2 ? (uint32_t)(vs->offered >> (32 * vs->dfselect)) : 0;
		break;
	case 0x08 << 4 | 4: v = vs->gfselect; break;
	case 0x0c << 4 | 4:
		v = vs->gfselect < 2 ? (uint32_t)(vs->driver_features >> (32 * vs->gfselect)) : 0;
		break;
	case 0x10 << 4 | 2: v = vs->cfg_msix; break;
	case 0x12 << 4 | 2: v = (uint64_t)vs->vc->nvq; break;
	case 0x14 << 4 | 1: v = vs->status; break;
	case 0x15 << 4 | 1: v = vs->cfg_gen; break;
	case 0x16 << 4 | 2: v = vs->queue_sel; break;
	case 0x18 << 4 | 2: v = vq ? vq->size : 0; break;
	case 0x1a << 4 | 2: v = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR; break;
	case 0x1c << 4 | 2: v = vq ? vq->enabled : 0; break;
	case 0x1e << 4 | 2: v = vq ? (uint64_t)vq->num : 0; break;	/* queue_notify_off */
	case 0x20 << 4 | 4: v = vq ? (uint32_t)vq->desc_gpa : 0; break;
	case 0x24 << 4 | 4: v = vq ? vq->desc_gpa >> 32 : 0; break;
	case 0x28 << 4 | 4: v = vq ? (uint32_t)vq->avail_gpa : 0; break;
	case 0x2c << 4 | 4: v = vq ? vq->avail_gpa >> 32 : 0; break;
	case 0x30 << 4 | 4: v = vq ? (uint32_t)vq->used_gpa : 0; break;
	case 0x34 << 4 | 4: v = vq ? vq->used_gpa >> 32 : 0; break;
	case 0x20 << 4 | 8: v = vq ? vq->desc_gpa : 0; break;
	case 0x28 << 4 | 8: v = vq ? vq->avail_gpa : 0; break;
	case 0x30 << 4 | 8: v = vq ? vq->used_gpa : 0; break;
	default: break;
	}
	pthread_mutex_unlock(&vs->mtx);
	return v;
}

static void
set_half(uint64_t *p, int hi, uint32_t v)
{
	*p = hi ? (*p & 0xffffffffULL) | (uint64_t)v << 32 : (*p & ~0xffffffffULL) | v;
}

static void
vs_common_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	struct vqueue_info *vq;
	/* Queue registers may change only while the queue is disabled (4.1.4.3.2). */
	bool qw;

	pthread_mutex_lock(&vs->mtx);
	vq = vs_selected(vs);
	qw = vq != NULL && !vq->enabled;
	switch (off << 4 | (uint64_t)size) {
	case 0x00 << 4 | 4: vs->dfselect = (uint32_t)val; break;
	case 0x08 << 4 | 4: vs->gfselect = (uint32_t)val; break;
	case 0x0c << 4 | 4:
		if (vs->gfselect < 2 && !(vs->status & VIRTIO_S_FEATURES_OK))
			set_half(&vs->driver_features, (int)vs->gfselect, (uint32_t)val);
		break;
	case 0x10 << 4 | 2: vs->cfg_msix = (uint16_t)val; break;
	case 0x14 << 4 | 1: vs_set_status(vs, (uint8_t)val); break;
	case 0x16 << 4 | 2: vs->queue_sel = (uint16_t)val; break;
	case 0x18 << 4 | 2:
		/* A size of 0 or above our maximum is kept out: the enable fails. */
		if (qw)
			vq->size = (uint16_t)val;
		break;
	case 0x1a << 4 | 2: if (vq) vq->msix_vector = (uint16_t)val; break;
	case 0x1c << 4 | 2:
		if (qw && val == 1) {
			if (vq->size == 0 || vq->size > vq->max ||
			    (vq->size & (vq->size - 1)) != 0 || !vq_map(vq)) {
				pthread_mutex_unlock(&vs->mtx);
				vq_break(vq, "the driver enabled it with an impossible size or ring address");
				return;
			}
			vq->last_avail = vq->used_idx = 0;
			__atomic_store_n(&vq->enabled, true, __ATOMIC_RELEASE);
			vs_ioev_sync(vs);
		}
		break;
	case 0x20 << 4 | 4: if (qw) set_half(&vq->desc_gpa, 0, (uint32_t)val); break;
	case 0x24 << 4 | 4: if (qw) set_half(&vq->desc_gpa, 1, (uint32_t)val); break;
	case 0x28 << 4 | 4: if (qw) set_half(&vq->avail_gpa, 0, (uint32_t)val); break;
	case 0x2c << 4 | 4: if (qw) set_half(&vq->avail_gpa, 1, (uint32_t)val); break;
	case 0x30 << 4 | 4: if (qw) set_half(&vq->used_gpa, 0, (uint32_t)val); break;
	case 0x34 << 4 | 4: if (qw) set_half(&vq->used_gpa, 1, (uint32_t)val); break;
	case 0x20 << 4 | 8: if (qw) vq->desc_gpa = val; break;
	case 0x28 << 4 | 8: if (qw) vq->avail_gpa = val; break;
	case 0x30 << 4 | 8: if (qw) vq->used_gpa = val; break;
	default: break;		/* read-only or unknown: ignored */
	}
	pthread_mutex_unlock(&vs->mtx);
}

/* The legacy interface (4.1.4.10), on BAR 0. */
static uint64_t
vs_legacy_read(struct virtio_softc *vs, uint64_t off, int size)
{
	uint32_t hdr = pci_msix_enabled(vs->pi) ? 24 : 20;
	struct vqueue_info *vq;
	uint64_t v = 0;

	if (off >= hdr)
		return vs_devcfg_read(vs, off - hdr, size);
	if (off == VL_ISR && size == 1)
		return vs_isr_read(vs);
	pthread_mutex_lock(&vs->mtx);
	vs->legacy = true;
	vq = vs_selected(vs);
	switch (off << 4 | (uint64_t)size) {
	case VL_HOST_FEATURES << 4 | 4: v = (uint32_t)vs->offered; break;
	case VL_GUEST_FEATURES << 4 | 4: v = (uint32_t)vs->negotiated; break;
	case VL_QUEUE_PFN << 4 | 4: v = vq && vq->enabled ? vq->desc_gpa >> VL_PFN_SHIFT : 0; break;
	case VL_QUEUE_NUM << 4 | 2: v = vq ? vq->size : 0; break;
	case VL_QUEUE_SEL << 4 | 2: v = vs->queue_sel; break;
	case VL_STATUS << 4 | 1: v = vs->status; break;
	case VL_CONFIG_VECTOR << 4 | 2: v = vs->cfg_msix; break;
	case VL_QUEUE_VECTOR << 4 | 2: v = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR; break;
	default: break;
	}
	pthread_mutex_unlock(&vs->mtx);
	return v;
}

static void
vs_legacy_write(struct virtio_softc *vs, uint64_t off, int size, uint64_t val)
{
	uint32_t hdr = pci_msix_enabled(vs->pi) ? 24 : 20;
	struct vqueue_info *vq;

	if (off >= hdr) {
		vs_devcfg_write(vs, off - hdr, size, val);
		return;
	}
	if (off == VL_QUEUE_NOTIFY && size == 2) {
		vs_notify(vs, (uint32_t)val);
		return;
	}
	pthread_mutex_lock(&vs->mtx);
	vs->legacy = true;
	vq = vs_selected(vs);
	switch (off << 4 | (uint64_t)size) {
	case VL_GUEST_FEATURES << 4 | 4:
		/* Legacy drivers see the low 32 bits and never VERSION_1. */
		vs->negotiated = (uint32_t)val & vs->offered;
		if (vs->vc->apply_features != NULL) {
			uint64_t f = vs->negotiated;
			pthread_mutex_unlock(&vs->mtx);
			vs->vc->apply_features(vs->dev, f);
			return;
		}
		break;
	case VL_QUEUE_PFN << 4 | 4:
		if (vq == NULL)
			break;
		if (val == 0) {
			__atomic_store_n(&vq->enabled, false, __ATOMIC_RELEASE);
			vs_ioev_sync(vs);
			break;
		}
		/* Legacy layout: descriptors, avail, then used on the next 4 KiB (2.7.2). */
		vq->desc_gpa = val << VL_PFN_SHIFT;
		vq->avail_gpa = vq->desc_gpa + 16 * (uint64_t)vq->size;
		vq->used_gpa = (vq->avail_gpa + 6 + 2 * (uint64_t)vq->size + VL_ALIGN - 1) &
		    ~(uint64_t)(VL_ALIGN - 1);
		if (!vq_map(vq)) {
			pthread_mutex_unlock(&vs->mtx);
			vq_break(vq, "the driver placed its rings outside guest RAM");
			return;
		}
		vq->last_avail = vq->used_idx = 0;
		__atomic_store_n(&vq->enabled, true, __ATOMIC_RELEASE);
		vs_ioev_sync(vs);
		break;
	case VL_QUEUE_SEL << 4 | 2: vs->queue_sel = (uint16_t)val; break;
	case VL_STATUS << 4 | 1:
		if (val == 0) {
			pthread_mutex_unlock(&vs->mtx);
			vs_reset(vs);
			return;
		}
		/* Legacy has no FEATURES_OK handshake. */
		vs->driver_features = vs->negotiated;
		__atomic_store_n(&vs->status, (uint8_t)((val & ~VIRTIO_S_NEEDS_RESET) |
		    (vs->status & VIRTIO_S_NEEDS_RESET)), __ATOMIC_RELEASE);
		if ((val & VIRTIO_S_DRIVER_OK) && vs->vc->driver_ok != NULL) {
			pthread_mutex_unlock(&vs->mtx);
			vs->vc->driver_ok(vs->dev);
			return;
		}
		break;
	case VL_CONFIG_VECTOR << 4 | 2: vs->cfg_msix = (uint16_t)val; break;
	case VL_QUEUE_VECTOR << 4 | 2: if (vq) vq->msix_vector = (uint16_t)val; break;
	default: break;
	}
	pthread_mutex_unlock(&vs->mtx);
}

uint64_t
vs_bar_read(struct pci_devinst *pi, int baridx, uint64_t offset, int size)
{
	struct virtio_softc *vs = pi->pi_arg;

	if (baridx == VS_BAR_LEGACY)
		return vs_legacy_read(vs, offset, size);
	if (baridx != VS_BAR_MODERN)
		return 0;
	if (offset < VS_COMMON_OFF + VS_COMMON_SIZE)
		return vs_common_read(vs, offset - VS_COMMON_OFF, size);
	if (offset == VS_ISR_OFF && size == 1)
		return vs_isr_read(vs);
	if (offset >= VS_DEVCFG_OFF && offset < VS_NOTIFY_OFF)
		return vs_devcfg_read(vs, offset - VS_DEVCFG_OFF, size);
	return 0;
}

void
vs_bar_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size, uint64_t value)
{
	struct virtio_softc *vs = pi->pi_arg;

	if (baridx == VS_BAR_LEGACY) {
		vs_legacy_write(vs, offset, size, value);
		return;
	}
	if (baridx != VS_BAR_MODERN)
		return;
	if (offset < VS_COMMON_OFF + VS_COMMON_SIZE)
		vs_common_write(vs, offset - VS_COMMON_OFF, size, value);
	else if (offset >= VS_DEVCFG_OFF && offset < VS_NOTIFY_OFF)
		vs_devcfg_write(vs, offset - VS_DEVCFG_OFF, size, value);
	else if (offset >= VS_NOTIFY_OFF && (size == 2 || size == 4) &&
	    (offset - VS_NOTIFY_OFF) % VS_NOTIFY_MULT == 0)
		vs_notify(vs, (uint32_t)((offset - VS_NOTIFY_OFF) / VS_NOTIFY_MULT));
}

/*
 * The PCI configuration access capability: a window in config space onto
 * any BAR (4.1.4.9).  pci_cfg_data at capability offset 16.
 */
int
vs_cfgread(struct pci_devinst *pi, int offset, int bytes, uint32_t *val)
{
	struct virtio_softc *vs = pi->pi_arg;
	int off = vs->pcicfg_off;
	uint32_t len;

	if (off == 0 || offset < off + 16 || offset >= off + 20)
		return 1;
	len = pci_get_cfgdata32(pi, off + 12);
	*val = 0;
	if (len == 1 || len == 2 || len == 4)
		*val = (uint32_t)vs_bar_read(pi, pci_get_cfgdata8(pi, off + 4),
		    pci_get_cfgdata32(pi, off + 8), (int)len) >> (8 * (offset - off - 16));
	return 0;
}

int
vs_cfgwrite(struct pci_devinst *pi, int offset, int bytes, uint32_t val)
{
	struct virtio_softc *vs = pi->pi_arg;
	int off = vs->pcicfg_off;
	uint32_t len;

	if (off == 0 || offset < off + 16 || offset >= off + 20)
		return 1;
	len = pci_get_cfgdata32(pi, off + 12);
	if ((len == 1 || len == 2 || len == 4) && offset == off + 16)
		vs_bar_write(pi, pci_get_cfgdata8(pi, off + 4), pci_get_cfgdata32(pi, off + 8),
		    (int)len, val);
	return 0;
}

static int
vs_add_vcap(struct pci_devinst *pi, uint8_t type, uint8_t bar, uint32_t off, uint32_t len,
    int extra, uint32_t extra_val)
{
	uint8_t cap[20];
	int caplen = 16 + extra;

	memset(cap, 0, sizeof(cap));
	cap[0] = PCIY_VENDOR;
	cap[2] = (uint8_t)caplen;
	cap[3] = type;
	cap[4] = bar;
	memcpy(cap + 8, &off, 4);
	memcpy(cap + 12, &len, 4);
	if (extra)
		memcpy(cap + 16, &extra_val, 4);
	return pci_emul_add_capability(pi, cap, caplen);
}

int
vs_init(struct virtio_softc *vs, const struct virtio_consts *vc, void *dev,
    struct pci_devinst *pi, struct vqueue_info *queues)
{
	uint64_t iosize;
	int i, off;

	VERIFY(vc->nvq >= 1 && vc->cfgsize <= VS_NOTIFY_OFF - VS_DEVCFG_OFF);
	vs->vc = vc;
	vs->pi = pi;
	vs->dev = dev;
	vs->queues = queues;
	vs->offered = vc->features | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC |
	    VIRTIO_F_EVENT_IDX;
	vs->cfg_msix = VIRTIO_MSI_NO_VECTOR;
	pthread_mutex_init(&vs->mtx, NULL);
	pi->pi_arg = vs;
	for (i = 0; i < vc->nvq; i++) {
		queues[i].vs = vs;
		queues[i].num = i;
		if (queues[i].max == 0)
			queues[i].max = VQ_MAX_SIZE;
		VERIFY(queues[i].max <= VQ_MAX_SIZE && (queues[i].max & (queues[i].max - 1)) == 0);
		queues[i].ioev_fd = -1;
		vq_reset(&queues[i]);
	}
	/* A transitional device (4.1.2.1): legacy ID, revision 0, subsystem = type. */
	pci_set_cfgdata16(pi, PCIR_VENDOR, VIRTIO_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, (uint16_t)(0x1000 + vc->device_id - 1));
	pci_set_cfgdata8(pi, PCIR_REVID, 0);
	pci_set_cfgdata8(pi, PCIR_CLASS, vc->class);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, vc->subclass);
	pci_set_cfgdata16(pi, PCIR_SUBVEND_0, VIRTIO_VENDOR);
	pci_set_cfgdata16(pi, PCIR_SUBDEV_0, vc->device_id);

	iosize = 24 + vc->cfgsize;
	if (pci_emul_alloc_bar(pi, VS_BAR_LEGACY, PCIBAR_IO, iosize) != 0 ||
	    pci_emul_add_msixcap(pi, vc->nvq + 1, VS_BAR_MSIX) != 0 ||
	    pci_emul_alloc_bar(pi, VS_BAR_MODERN, PCIBAR_MEM64, VS_MODERN_SIZE) != 0)
		return -1;
	if (vs_add_vcap(pi, VIRTIO_PCI_CAP_COMMON_CFG, VS_BAR_MODERN, VS_COMMON_OFF,
	    VS_COMMON_SIZE, 0, 0) < 0 ||
	    vs_add_vcap(pi, VIRTIO_PCI_CAP_ISR_CFG, VS_BAR_MODERN, VS_ISR_OFF, 1, 0, 0) < 0 ||
	    (vc->cfgsize && vs_add_vcap(pi, VIRTIO_PCI_CAP_DEVICE_CFG, VS_BAR_MODERN,
	    VS_DEVCFG_OFF, vc->cfgsize, 0, 0) < 0) ||
	    vs_add_vcap(pi, VIRTIO_PCI_CAP_NOTIFY_CFG, VS_BAR_MODERN, VS_NOTIFY_OFF,
	    (uint32_t)(VS_NOTIFY_MULT * vc->nvq), 4, VS_NOTIFY_MULT) < 0)
		return -1;
	if ((off = vs_add_vcap(pi, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 4, 0)) < 0)
		return -1;
	/* bar, offset, length are the driver's; the data window goes through vs_cfg*. */
	pci_emul_set_wmask(pi, off + 4, 1, 0xff);
	pci_emul_set_wmask(pi, off + 8, 4, 0xffffffff);
	pci_emul_set_wmask(pi, off + 12, 4, 0xffffffff);
	vs->pcicfg_off = off;
	if (pci_lintr_request(pi) != 0)
		return -1;
	/* Without eventfds the doorbells exit, as on the software CPU. */
	(void)vs_ioev_init(vs);
	return 0;
}

/* ---- the instance store ---- */

#define VS_SNAP_VERSION		1
#define VS_SNAP_HDR		48
#define VS_SNAP_QUEUE		48
/* The most queues a saved device may have (virtio-console: 2 * 17). */
#define VS_SNAP_MAXQ		64

ssize_t
vs_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap)
{
	struct virtio_softc *vs = pi->pi_arg;
	size_t len = VS_SNAP_HDR + VS_SNAP_QUEUE * (size_t)vs->vc->nvq;
	uint8_t *p;
	int i;

	if (buf == NULL || cap < len)
		return (ssize_t)len;
	/*
	 * The vCPUs are stopped: a notification still in an eventfd was
	 * written before the cut, and is served now, as its exit would have
	 * been; the thread serves none until the state is taken.
	 */
	if (vs->ioev) {
		pthread_mutex_lock(&vs->ioev_mtx);
		for (i = 0; i < vs->vc->nvq; i++)
			vs_ioev_serve(vs, i);
	}
	/* Requests in flight complete (used ring, interrupt) before the cut. */
	if (vs->vc->quiesce != NULL)
		vs->vc->quiesce(vs->dev);
	memset(buf, 0, len);
	pthread_mutex_lock(&vs->mtx);
	buf[0] = VS_SNAP_VERSION;
	buf[1] = vs->status;
	buf[2] = vs->isr;
	buf[3] = vs->cfg_gen;
	buf[4] = vs->legacy;
	memcpy(buf + 6, &vs->queue_sel, 2);
	memcpy(buf + 8, &vs->cfg_msix, 2);
	memcpy(buf + 10, &(uint16_t){ (uint16_t)vs->vc->nvq }, 2);
	memcpy(buf + 12, &vs->dfselect, 4);
	memcpy(buf + 16, &vs->gfselect, 4);
	memcpy(buf + 24, &vs->offered, 8);
	memcpy(buf + 32, &vs->negotiated, 8);
	memcpy(buf + 40, &vs->driver_features, 8);
	for (i = 0; i < vs->vc->nvq; i++) {
		struct vqueue_info *vq = &vs->queues[i];

		p = buf + VS_SNAP_HDR + VS_SNAP_QUEUE * (size_t)i;
		memcpy(p, &vq->max, 2);
		memcpy(p + 2, &vq->size, 2);
		p[4] = vq->enabled;
		p[5] = vq->broken;
		p[6] = vq->signalled_valid;
		memcpy(p + 8, &vq->last_avail, 2);
		memcpy(p + 10, &vq->used_idx, 2);
		memcpy(p + 12, &vq->signalled_used, 2);
		memcpy(p + 14, &vq->msix_vector, 2);
		memcpy(p + 16, &vq->desc_gpa, 8);
		memcpy(p + 24, &vq->avail_gpa, 8);
		memcpy(p + 32, &vq->used_gpa, 8);
	}
	pthread_mutex_unlock(&vs->mtx);
	if (vs->ioev)
		pthread_mutex_unlock(&vs->ioev_mtx);
	return (ssize_t)len;
}

int
vs_snapshot_restore(struct pci_devinst *pi, const uint8_t *data, size_t len)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vqueue_info saved[VS_SNAP_MAXQ], *vq;
	uint64_t offered;
	uint16_t nvq;
	int i;

	if (data == NULL || len < VS_SNAP_HDR || data[0] != VS_SNAP_VERSION)
		return -EINVAL;
	memcpy(&nvq, data + 10, 2);
	memcpy(&offered, data + 24, 8);
	/* The file's queue count must be this device's, and the section exactly its size. */
	if (vs->vc->nvq < 0 || vs->vc->nvq > VS_SNAP_MAXQ || nvq != vs->vc->nvq ||
	    len != VS_SNAP_HDR + VS_SNAP_QUEUE * (size_t)nvq || offered != vs->offered)
		return -EINVAL;
	/* Check every queue before changing anything. */
	for (i = 0; i < nvq; i++) {
		const uint8_t *p = data + VS_SNAP_HDR + VS_SNAP_QUEUE * (size_t)i;

		vq = &saved[i];
		*vq = vs->queues[i];
		memcpy(&vq->size, p + 2, 2);
		vq->enabled = p[4] != 0;
		vq->broken = p[5] != 0;
		vq->signalled_valid = p[6] != 0;
		memcpy(&vq->last_avail, p + 8, 2);
		memcpy(&vq->used_idx, p + 10, 2);
		memcpy(&vq->signalled_used, p + 12, 2);
		memcpy(&vq->msix_vector, p + 14, 2);
		memcpy(&vq->desc_gpa, p + 16, 8);
		memcpy(&vq->avail_gpa, p + 24, 8);
		memcpy(&vq->used_gpa, p + 32, 8);
		if (memcmp(p, &vs->queues[i].max, 2) != 0)
			return -EINVAL;
		if (vq->enabled && (vq->size == 0 || vq->size > vq->max ||
		    (vq->size & (vq->size - 1)) != 0 || !vq_map(vq)))
			return -EINVAL;
		if (!vq->enabled)
			vq->desc = vq->avail = vq->used = NULL;
	}
	pthread_mutex_lock(&vs->mtx);
	vs->status = data[1];
	vs->isr = data[2] & 3;
	vs->cfg_gen = data[3];
	vs->legacy = data[4] != 0;
	memcpy(&vs->queue_sel, data + 6, 2);
	memcpy(&vs->cfg_msix, data + 8, 2);
	memcpy(&vs->dfselect, data + 12, 4);
	memcpy(&vs->gfselect, data + 16, 4);
	memcpy(&vs->negotiated, data + 32, 8);
	memcpy(&vs->driver_features, data + 40, 8);
	vs->negotiated &= vs->offered;
	for (i = 0; i < nvq; i++) {
		/* The doorbells registered now stay with the queue (saved[] copied them). */
		vs->queues[i] = saved[i];
	}
	vs_ioev_sync(vs);
	pthread_mutex_unlock(&vs->mtx);
	if (vs->negotiated != 0 && vs->vc->apply_features != NULL)
		vs->vc->apply_features(vs->dev, vs->negotiated);
	if ((vs->status & VIRTIO_S_DRIVER_OK) && vs->vc->driver_ok != NULL)
		vs->vc->driver_ok(vs->dev);
	return 0;
}
