/*
 * pci_virtio_console.h - virtio-console's control events (virtio 1.2,
 * 5.3.6.2) and what the device counts (for tests and diagnostics).
 */
#ifndef LHYVE_PCI_VIRTIO_CONSOLE_H
#define LHYVE_PCI_VIRTIO_CONSOLE_H

#include <stdint.h>

struct pci_devinst;

#define VIRTIO_CONSOLE_DEVICE_READY	0
#define VIRTIO_CONSOLE_DEVICE_ADD	1
#define VIRTIO_CONSOLE_DEVICE_REMOVE	2
#define VIRTIO_CONSOLE_PORT_READY	3
#define VIRTIO_CONSOLE_CONSOLE_PORT	4
#define VIRTIO_CONSOLE_RESIZE		5
#define VIRTIO_CONSOLE_PORT_OPEN	6
#define VIRTIO_CONSOLE_PORT_NAME	7

struct vtcon_stats {
	uint64_t	rx_bytes;	/* client -> guest */
	uint64_t	tx_bytes;	/* guest -> client */
	uint64_t	tx_discarded;	/* guest buffers sent while no client was there */
	uint64_t	connects;
	uint64_t	ctrl_sent, ctrl_received;
	uint64_t	ctrl_ignored;	/* short, unknown or out of place */
	uint64_t	work_passes;	/* the device thread's rounds (tests wait on it) */
};

/* A copy of the counters of the virtio-console device @pi; -ENODEV if it is not one. */
int	vtcon_get_stats(struct pci_devinst *pi, struct vtcon_stats *st);

#endif /* LHYVE_PCI_VIRTIO_CONSOLE_H */
