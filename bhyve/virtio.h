/*
 * virtio.h - the virtio PCI transport and split virtqueues that bhyve's
 * virtio devices share (virtio 1.2: 2.7 split virtqueues, 4.1 virtio over
 * PCI), modern interface with the transitional legacy I/O BAR.
 *
 * A device embeds a struct virtio_softc, describes itself with a struct
 * virtio_consts, calls vs_init() from its pe_init, and takes buffers from
 * its queues with vq_getchain() / vq_relchain() / vq_endchains().
 *
 * Every guest value is checked (descriptor indexes, chain lengths and
 * loops, indirect tables, buffer addresses and lengths, ring addresses and
 * sizes).  A queue the guest breaks stops: the device sets
 * DEVICE_NEEDS_RESET, logs one line, and raises a configuration interrupt;
 * the other queues and devices go on (virtio 1.2, 2.1.2).
 */
#ifndef LHYVE_VIRTIO_H
#define LHYVE_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "pci_emul.h"

#define VIRTIO_VENDOR		0x1af4
#define VIRTIO_ID_NETWORK	1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_ENTROPY	4

/* Device status (2.1). */
#define VIRTIO_S_ACKNOWLEDGE	0x01
#define VIRTIO_S_DRIVER		0x02
#define VIRTIO_S_DRIVER_OK	0x04
#define VIRTIO_S_FEATURES_OK	0x08
#define VIRTIO_S_NEEDS_RESET	0x40
#define VIRTIO_S_FAILED		0x80

/* Transport features (6). */
#define VIRTIO_F_INDIRECT_DESC	(1ULL << 28)
#define VIRTIO_F_EVENT_IDX	(1ULL << 29)
#define VIRTIO_F_VERSION_1	(1ULL << 32)

/* Descriptor flags (2.7.5). */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4

#define VIRTIO_MSI_NO_VECTOR	0xffff
/* Largest queue we offer, and the longest chain a device accepts. */
#define VQ_MAX_SIZE		1024
#define VQ_CHAIN_MAX		256

/* A chain taken from a queue: its buffers, readable ones first. */
struct vq_chain {
	uint16_t	head;
	int		n;
	struct iovec	iov[VQ_CHAIN_MAX];
	uint64_t	gpa[VQ_CHAIN_MAX];
	uint16_t	flags[VQ_CHAIN_MAX];	/* VRING_DESC_F_WRITE */
};

struct virtio_softc;

struct vqueue_info {
	struct virtio_softc *vs;
	int		num;		/* index in the device's queues */
	uint16_t	max;		/* the largest size the device offers */
	uint16_t	size;		/* guest's choice (modern), else max */
	bool		enabled;	/* rings mapped; the device may use it */
	bool		broken;		/* the guest broke it: stopped until reset */
	uint64_t	desc_gpa, avail_gpa, used_gpa;
	/* Host mappings of the rings, valid while enabled. */
	uint8_t		*desc;
	uint8_t		*avail;		/* flags, idx, ring[size], used_event */
	uint8_t		*used;		/* flags, idx, ring[size] {id, len}, avail_event */
	uint16_t	last_avail;	/* next avail entry to take */
	uint16_t	used_idx;	/* next used entry to fill */
	uint16_t	signalled_used;	/* used_idx at the last interrupt (EVENT_IDX) */
	bool		signalled_valid;
	uint16_t	msix_vector;
	/* Called on a guest notify (a vCPU thread); NULL: the device's qnotify. */
	void		(*notify)(void *dev, struct vqueue_info *vq);
	/*
	 * ioeventfd (docs/virtio.md, "Notifications without exits"): the
	 * eventfd the CPU backend signals when the guest notifies this queue
	 * (-1: none), and the doorbells registered for it now, under vs->mtx.
	 */
	int		ioev_fd;
	bool		ioev_mmio_on, ioev_pio_on;
	uint64_t	ioev_mmio;	/* modern: BAR 4 + 0x3000 + 4 * num */
	uint64_t	ioev_pio;	/* legacy: BAR 0 + QUEUE_NOTIFY, data num */
};

/* What a device tells the transport about itself. */
struct virtio_consts {
	const char	*name;		/* for messages: "virtio-blk" */
	int		nvq;
	uint16_t	device_id;	/* VIRTIO_ID_* */
	uint8_t		class, subclass; /* PCI class code */
	uint64_t	features;	/* device features offered (besides the transport's) */
	void		*cfg;		/* device configuration space, little-endian */
	uint32_t	cfgsize;
	void		(*reset)(void *dev);	/* stop I/O, forget negotiated state */
	void		(*qnotify)(void *dev, struct vqueue_info *vq);
	/* Optional: a guest write to the device configuration (after it is stored). */
	void		(*cfgwrite)(void *dev, uint32_t offset, int size);
	/*
	 * Optional: FEATURES_OK (or legacy feature write) with these features.
	 * The callbacks run without the transport's lock held.
	 */
	void		(*apply_features)(void *dev, uint64_t features);
	/* Optional: DRIVER_OK was set: queues are ready. */
	void		(*driver_ok)(void *dev);
	/* Optional: finish the I/O in flight before the state is saved. */
	void		(*quiesce)(void *dev);
};

struct virtio_softc {
	const struct virtio_consts *vc;
	struct pci_devinst *pi;
	void		*dev;
	pthread_mutex_t	mtx;		/* the transport's registers */
	uint8_t		status;
	uint8_t		isr;		/* bit 0 queue, bit 1 configuration */
	uint8_t		cfg_gen;
	uint32_t	dfselect, gfselect;
	uint64_t	offered;	/* device + transport features */
	uint64_t	negotiated;
	uint64_t	driver_features;	/* being written, before FEATURES_OK */
	uint16_t	queue_sel;
	uint16_t	cfg_msix;
	bool		legacy;		/* the driver uses the legacy interface */
	struct vqueue_info *queues;
	/* VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9). */
	int		pcicfg_off;
	/*
	 * ioeventfd: when the backend offers it (bvm->ioeventfd), each
	 * enabled queue's doorbell signals its eventfd inside the backend,
	 * and ioev_thread serves the notification, with ioev_mtx held (a
	 * save holds it too, so none is served during the cut).
	 */
	bool		ioev;
	int		ioev_stop;	/* eventfd: the thread ends */
	pthread_t	ioev_thread;
	pthread_mutex_t	ioev_mtx;
	uint64_t	ioev_served;	/* notifications the thread served (atomic) */
};

/*
 * From pe_init: set up config space, capabilities and BARs (legacy I/O
 * BAR 0, MSI-X table in BAR 1, modern registers in BAR 4) and INTx.
 * @queues holds vc->nvq entries; queues[i].max (a power of 2 up to
 * VQ_MAX_SIZE) may be set before the call, 0 means VQ_MAX_SIZE.
 */
int	vs_init(struct virtio_softc *vs, const struct virtio_consts *vc, void *dev,
	    struct pci_devinst *pi, struct vqueue_info *queues);
/*
 * From the device's pe_deinit, before it frees anything the queues use:
 * stops the notification thread and removes the doorbells.
 */
void	vs_deinit(struct virtio_softc *vs);
/* pe_baraddr: a BAR started or stopped decoding; the doorbells follow it. */
void	vs_baraddr(struct pci_devinst *pi, int baridx, bool decoding, uint64_t addr);
/* The device's pe_barread/pe_barwrite and config hooks. */
uint64_t vs_bar_read(struct pci_devinst *pi, int baridx, uint64_t offset, int size);
void	vs_bar_write(struct pci_devinst *pi, int baridx, uint64_t offset, int size,
	    uint64_t value);
int	vs_cfgread(struct pci_devinst *pi, int offset, int bytes, uint32_t *val);
int	vs_cfgwrite(struct pci_devinst *pi, int offset, int bytes, uint32_t val);
/*
 * The transport's state for the instance store, as a device's
 * pe_snapshot_save/restore (the generic PCI state is saved beside it).
 * Restore re-maps the enabled queues' rings and refuses state that does
 * not fit this device (other queue count, sizes or offered features).
 */
ssize_t	vs_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap);
int	vs_snapshot_restore(struct pci_devinst *pi, const uint8_t *data, size_t len);
/* The device configuration changed (e.g. a new disk size): tell the guest. */
void	vs_config_changed(struct virtio_softc *vs);
/* A device-side fatal error: DEVICE_NEEDS_RESET, a configuration interrupt. */
void	vs_needs_reset(struct virtio_softc *vs, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The guest broke the queue (@why, for the log): stop it until a reset. */
void	vq_break(struct vqueue_info *vq, const char *why);
/* Whether the driver made the queue usable and the device is running. */
bool	vq_ready(struct vqueue_info *vq);
/* Whether the guest has made buffers available that we have not taken. */
bool	vq_has_descs(struct vqueue_info *vq);
/*
 * Take the next available chain into @c (at most @maxbufs buffers, at most
 * VQ_CHAIN_MAX).  Returns c->n (>= 1), 0 when none is available, -1 when
 * the chain is invalid (the queue is then broken and the device needs a
 * reset).
 */
int	vq_getchain(struct vqueue_info *vq, struct vq_chain *c, int maxbufs);
/* Give back the chain last taken, unused (e.g. no room for a packet yet). */
void	vq_retchain(struct vqueue_info *vq);
/*
 * Return a chain with @len bytes written into its device-writable buffers
 * (in order); tells the CPU which guest RAM changed.
 */
void	vq_relchain(struct vqueue_info *vq, const struct vq_chain *c, uint32_t len);
/*
 * After returning chains: interrupt the guest unless it asked not to
 * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX, 2.7.7-2.7.10).
 * @used_all_avail: the device took everything available (for the legacy
 * "notify on empty" feature; we never offer it, so it is ignored).
 */
void	vq_endchains(struct vqueue_info *vq, bool used_all_avail);

/*
 * A virtio device's PCI emulation: its name, -s option parser (may be
 * NULL), init and deinit; the transport serves the BARs, the PCI
 * configuration window and, when @snapshot is true, the saved state.
 */
#define VIRTIO_PCI_EMUL(var, name, legacy_config, init, deinit, snapshot)	\
	static const struct pci_devemu var = {				\
		.pe_emu = (name),					\
		.pe_legacy_config = (legacy_config),			\
		.pe_init = (init),					\
		.pe_deinit = (deinit),					\
		.pe_barread = vs_bar_read,				\
		.pe_barwrite = vs_bar_write,				\
		.pe_cfgread = vs_cfgread,				\
		.pe_cfgwrite = vs_cfgwrite,				\
		.pe_baraddr = vs_baraddr,				\
		.pe_snapshot_save = (snapshot) ? vs_snapshot_save : NULL, \
		.pe_snapshot_restore = (snapshot) ? vs_snapshot_restore : NULL, \
	};								\
	PCI_EMUL_SET(var)

#endif /* LHYVE_VIRTIO_H */
