/*
 * pci_virtio_net.h - what virtio-net counts (for tests and diagnostics).
 */
#ifndef LHYVE_PCI_VIRTIO_NET_H
#define LHYVE_PCI_VIRTIO_NET_H

#include <stdint.h>

struct pci_devinst;

struct vnet_stats {
	uint64_t	tx_frames;	/* handed to the backend */
	uint64_t	tx_csum;	/* of which the device completed the checksum */
	uint64_t	tx_tso;		/* of which the device segmented (TSO) */
	uint64_t	tx_segments;	/* segments those made */
	uint64_t	tx_bad_hdr;	/* header short, bad, or asking for offloads not negotiated */
	uint64_t	tx_too_big;	/* frame over 64 KiB */
	uint64_t	tx_runt;	/* shorter than an Ethernet header */
	uint64_t	tx_dropped;	/* no backend, or the backend refused it */
	uint64_t	rx_frames;	/* delivered to the guest */
	uint64_t	rx_too_big;	/* larger than the guest's buffers can ever hold */
	uint64_t	rx_down;	/* arrived while the driver was not running */
	uint64_t	rx_bad_offload;	/* the backend's header asked for offloads not negotiated */
};

/* A copy of the counters of the virtio-net device @pi; -ENODEV if it is not one. */
int	vnet_get_stats(struct pci_devinst *pi, struct vnet_stats *st);

#endif /* LHYVE_PCI_VIRTIO_NET_H */
