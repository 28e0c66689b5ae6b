/*
 * fuzz_virtio_net.c - libFuzzer target: a hostile virtio-net driver.  The
 * input is guest RAM holding both queues' rings and buffers (descriptors,
 * available rings, headers, frames), the features the driver negotiates,
 * and the frames a backend delivers; the device transmits whatever the
 * rings say and receives into whatever buffers they offer.
 *
 * Input: byte 0 features (bit 0 MRG_RXBUF, bit 1 legacy interface, bit 2
 * EVENT_IDX, bit 3 INDIRECT_DESC, bit 4 the offloads, bit 5 a backend that
 * carries the virtio-net header as a tap does, bit 6 also the checksum and
 * segmentation functions on their own), byte 1 frame length / 32, then
 * guest RAM from address 0, where the driver's side of the rings comes
 * first so that short inputs reach it: rx avail 0x00, tx avail 0x10, rx
 * descriptors 0x20, tx descriptors 0x60 (4 entries each); the used rings
 * lie at 0x1000.  The header a backend hands over with a received frame
 * (bit 5), and the one the functions get (bit 6), are the 12 bytes at
 * 0x800, followed there by the frame for bit 6.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "config.h"
#include "net_backends.h"
#include "net_offload.h"
#include "pci_emul.h"
#include "virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	(256u << 10)
#define QSIZE		4

static uint8_t ram[RAM_SIZE];
static struct net_backend *fbe;
static uint8_t frame[NETBE_MAX_FRAME + 1], seg[NETBE_MAX_FRAME];
static bool fnet_vnet;

#define OFFLOADS	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | \
			 VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 | \
			 VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN)

static int
fnet_init(struct net_backend *be, struct config *cfg, const char *node, const char *devname)
{
	fbe = be;
	be->vnet_hdr = fnet_vnet;
	be->caps = fnet_vnet ? OFFLOADS : 0;
	be->rx_csum_valid = !fnet_vnet;
	return 0;
}

/* A segment, or a frame with its checksum completed: whole, and no bigger than allowed. */
static int
fuzz_emit(void *arg, const uint8_t *s, size_t len)
{
	if (s != seg || len > NETBE_MAX_FRAME || len < 14 + 20 + 20)
		abort();
	return 0;
}

static int
fnet_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
    int iovcnt, size_t len)
{
	size_t total = 0;

	/* A header exactly for a backend that carries one, its checksum field inside the frame. */
	if ((hdr != NULL) != be->vnet_hdr)
		abort();
	if (hdr != NULL && (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)hdr->csum_start + hdr->csum_offset + 2 > len)
		abort();

	/*
	 * What the device hands over must be inside guest RAM, or be one
	 * buffer of its own (a frame it checksummed or a segment), and add up.
	 */
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0 && ((uint8_t *)iov[i].iov_base < ram ||
		    (uint8_t *)iov[i].iov_base + iov[i].iov_len > ram + RAM_SIZE) &&
		    (iovcnt != 1 || hdr != NULL))
			abort();
		total += iov[i].iov_len;
	}
	if (total != len || len > NETBE_MAX_FRAME)
		abort();
	return 0;
}

static void
fnet_rx_ready(struct net_backend *be)
{
}

static void
fnet_cleanup(struct net_backend *be)
{
	fbe = NULL;
}

static const struct net_backend_ops fnet_backend = {
	.prefix = "fuzznet",
	.init = fnet_init,
	.send = fnet_send,
	.rx_ready = fnet_rx_ready,
	.cleanup = fnet_cleanup,
};
NET_BACKEND_SET(fnet_backend);

static void *
fake_gpa_map(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	return ram + gpa;
}

static int
fake_msi(struct bhyve_vm *bvm, uint64_t addr, uint64_t data)
{
	return 0;
}

static int
fake_pin(struct bhyve_vm *bvm, int pin, bool level)
{
	return 0;
}

static void
mwr(struct pci_devinst *pi, int bar, uint64_t off, int size, uint64_t val)
{
	pi->pi_d->pe_barwrite(pi, bar, off, size, val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bhyve_vm bvm;
	struct pci_devinst *pi;
	uint64_t features;
	size_t flen;
	int fl;

	if (size < 2)
		return 0;
	fl = data[0];
	flen = (size_t)data[1] * 32;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 2, size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE);
	if (fl & 0x40) {
		/* The offload functions alone, on the header and frame at 0x800. */
		struct vnet_hdr h;
		const char *why;
		size_t len = flen < RAM_SIZE - 0x80c ? flen : RAM_SIZE - 0x80c;

		memcpy(&h, ram + 0x800, sizeof(h));
		if (netoff_tx_check(&h, len, OFFLOADS | VIRTIO_NET_F_HOST_UFO, &why) == 0) {
			if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
				int r = netoff_tso(ram + 0x80c, len, &h, seg, fuzz_emit, NULL, &why);

				if (r == 0 || (r < 0 && why == NULL))
					abort();
			} else if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			    netoff_csum_complete(ram + 0x80c, len, h.csum_start, h.csum_offset) != 0)
				abort();
		}
	}
	fnet_vnet = (fl & 0x20) != 0;
	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	bvm.gpa_map = fake_gpa_map;
	bvm.msi = fake_msi;
	bvm.ioapic_pin = fake_pin;
	set_config_value(bvm.cfg, "pci.0.3.0.device", "virtio-net");
	set_config_value(bvm.cfg, "pci.0.3.0.backend", "fuzznet");
	if (bhyve_devices_init(&bvm) != 0)
		abort();
	pi = pci_emul_find_devinst(&bvm, 0, 3, 0);
	features = (1ULL << 5) | ((fl & 1) ? 1ULL << 15 : 0) | ((fl & 4) ? VIRTIO_F_EVENT_IDX : 0) |
	    ((fl & 8) ? VIRTIO_F_INDIRECT_DESC : 0);
	if (fl & 0x10)
		features |= fnet_vnet ? OFFLOADS : VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 |
		    VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_GUEST_CSUM;
	if (fl & 2) {
		/* Legacy: rings at 0x1000 (rx) and 0x9000 (tx), 256 entries each. */
		mwr(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
		mwr(pi, 0, 4, 4, (uint32_t)features);
		for (int q = 0; q < 2; q++) {
			mwr(pi, 0, 14, 2, (uint64_t)q);
			mwr(pi, 0, 8, 4, q ? 9 : 1);
		}
		mwr(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_DRIVER_OK);
	} else {
		features |= VIRTIO_F_VERSION_1;
		mwr(pi, 4, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
		mwr(pi, 4, 0x08, 4, 0);
		mwr(pi, 4, 0x0c, 4, (uint32_t)features);
		mwr(pi, 4, 0x08, 4, 1);
		mwr(pi, 4, 0x0c, 4, (uint32_t)(features >> 32));
		mwr(pi, 4, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
		for (int q = 0; q < 2; q++) {
			mwr(pi, 4, 0x16, 2, (uint64_t)q);
			mwr(pi, 4, 0x18, 2, QSIZE);
			mwr(pi, 4, 0x20, 8, 0x20 + 0x40 * (uint64_t)q);
			mwr(pi, 4, 0x28, 8, 0x10 * (uint64_t)q);
			mwr(pi, 4, 0x30, 8, 0x1000 + 0x100 * (uint64_t)q);
			mwr(pi, 4, 0x1c, 2, 1);
		}
		mwr(pi, 4, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
		    VIRTIO_S_DRIVER_OK);
	}
	/* Transmit what the tx ring holds, receive frames into the rx ring, twice. */
	for (int round = 0; round < 2; round++) {
		if (fl & 2)
			mwr(pi, 0, 16, 2, 1);
		else
			mwr(pi, 4, 0x3004, 2, 0);
		if (fbe != NULL) {
			const struct vnet_hdr *bh = fnet_vnet ? (const struct vnet_hdr *)(ram + 0x800) :
			    NULL;

			memset(frame, round, flen);
			fbe->rx(fbe->rx_arg, bh, frame, flen ? flen : 60);
			fbe->rx(fbe->rx_arg, bh, frame, round ? NETBE_MAX_FRAME + 1 : 14);
		}
	}
	bhyve_devices_fini(&bvm);
	config_destroy(bvm.cfg);
	return 0;
}
