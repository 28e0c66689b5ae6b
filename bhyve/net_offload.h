/*
 * net_offload.h - the virtio-net header (virtio 1.2, 5.1.6) and what a
 * device does for a backend that takes only whole, checksummed frames:
 * checksum completion (NEEDS_CSUM) and TCP segmentation (GSO_TCPV4/6).
 *
 * Pure functions over buffers in ordinary memory: no device state, no
 * system calls; the guest-controlled header fields are checked here.
 */
#ifndef LHYVE_NET_OFFLOAD_H
#define LHYVE_NET_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM		(1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM		(1ULL << 1)
#define VIRTIO_NET_F_MTU		(1ULL << 3)
#define VIRTIO_NET_F_MAC		(1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4		(1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6		(1ULL << 8)
#define VIRTIO_NET_F_GUEST_ECN		(1ULL << 9)
#define VIRTIO_NET_F_GUEST_UFO		(1ULL << 10)
#define VIRTIO_NET_F_HOST_TSO4		(1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6		(1ULL << 12)
#define VIRTIO_NET_F_HOST_ECN		(1ULL << 13)
#define VIRTIO_NET_F_HOST_UFO		(1ULL << 14)
#define VIRTIO_NET_F_MRG_RXBUF		(1ULL << 15)
#define VIRTIO_NET_F_STATUS		(1ULL << 16)

/* struct virtio_net_hdr flags and gso_type (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2
#define VIRTIO_NET_HDR_GSO_NONE		0
#define VIRTIO_NET_HDR_GSO_TCPV4	1
#define VIRTIO_NET_HDR_GSO_UDP		3
#define VIRTIO_NET_HDR_GSO_TCPV6	4
#define VIRTIO_NET_HDR_GSO_ECN		0x80

/*
 * struct virtio_net_hdr_v1 (5.1.6), little-endian; also the layout of the
 * header a Linux tap with IFF_VNET_HDR and TUNSETVNETHDRSZ 12 reads and
 * writes (host order, which is little-endian on the x86-64 hosts lhyve
 * runs on).  The legacy header is the first 10 bytes.
 */
struct vnet_hdr {
	uint8_t		flags;
	uint8_t		gso_type;
	uint16_t	hdr_len;
	uint16_t	gso_size;
	uint16_t	csum_start;
	uint16_t	csum_offset;
	uint16_t	num_buffers;
} __attribute__((packed));

#define VNET_HDR_LEN		12

/* Segments one TSO frame may become; more is refused (a 64 KiB frame at an MSS of 64). */
#define NETOFF_MAX_SEGS		1024

/*
 * Check a transmitted header against the negotiated features (5.1.6.2):
 * offloads asked for must be negotiated, csum_start/csum_offset must lie
 * in the @len bytes of frame, a GSO frame must ask for NEEDS_CSUM and have
 * a gso_size.  0, or -EINVAL with *why saying what was wrong.
 */
int	netoff_tx_check(const struct vnet_hdr *h, size_t len, uint64_t features,
	    const char **why);

/*
 * The Internet checksum (RFC 1071) of @len bytes, added to @sum: a 32-bit
 * accumulator of 16-bit words in host order, folded by netoff_csum_fold().
 */
uint32_t netoff_csum_add(uint32_t sum, const void *p, size_t len);
/* Fold and complement: the 16-bit field to store, in host order. */
uint16_t netoff_csum_fold(uint32_t sum);

/*
 * Complete a partial checksum (5.1.6.2, NEEDS_CSUM): the one's complement
 * sum from @csum_start to the end of the frame, the driver's pseudo-header
 * sum included, stored at csum_start + csum_offset.  0, or -EINVAL when
 * the field does not lie in the frame.
 */
int	netoff_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start,
	    uint16_t csum_offset);

/* One segment of netoff_tso(): 0 to go on, anything else stops it. */
typedef int (*netoff_emit_t)(void *arg, const uint8_t *seg, size_t len);

/*
 * Segment the TCP frame @frame (Ethernet, optionally one 802.1Q tag, then
 * IPv4 or IPv6 without extension headers as @h->gso_type says, then TCP)
 * into frames of at most @h->gso_size bytes of payload: each with the
 * headers of the original, IPv4 total length, identification (+1 each)
 * and header checksum, IPv6 payload length, the TCP sequence number
 * advanced, CWR on the first segment only, FIN and PSH on the last only,
 * and the TCP checksum computed (RFC 793, 1071; RFC 2460 8.1 for IPv6).
 * hdr_len is not trusted (5.1.6.2.2): the headers are parsed.  @seg is
 * scratch of at least NETBE_MAX_FRAME bytes.  Returns the number of
 * segments emitted, -EINVAL with *why for a frame that cannot be
 * segmented, or what @emit returned if it stopped.
 */
int	netoff_tso(const uint8_t *frame, size_t len, const struct vnet_hdr *h, uint8_t *seg,
	    netoff_emit_t emit, void *arg, const char **why);

#endif /* LHYVE_NET_OFFLOAD_H */
