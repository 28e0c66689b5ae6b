/*
 * net_offload.c - checksum completion and TCP segmentation for frames a
 * guest hands over with offloads (see net_offload.h), and the checks of
 * the header that asks for them.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>

#include "net_backends.h"
#include "net_offload.h"

#define ETHER_HDR_LEN	14
#define ETHERTYPE_IP	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define IPPROTO_TCP_	6
#define TH_FIN		0x01
#define TH_PSH		0x08
#define TH_CWR		0x80

int
netoff_tx_check(const struct vnet_hdr *h, size_t len, uint64_t features, const char **why)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	/* Flag bits other than NEEDS_CSUM are ignored (5.1.6.2.2). */
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & VIRTIO_NET_F_CSUM)) {
			*why = "NEEDS_CSUM without CSUM negotiated";
			return -EINVAL;
		}
		if (h->csum_start >= len || (size_t)h->csum_offset + 2 > len - h->csum_start) {
			*why = "csum_start + csum_offset beyond the frame";
			return -EINVAL;
		}
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN) {
			*why = "GSO_ECN without a GSO type";
			return -EINVAL;
		}
		return 0;
	}
	if (!((gso == VIRTIO_NET_HDR_GSO_TCPV4 && (features & VIRTIO_NET_F_HOST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (features & VIRTIO_NET_F_HOST_TSO6)) ||
	    (gso == VIRTIO_NET_HDR_GSO_UDP && (features & VIRTIO_NET_F_HOST_UFO)))) {
		*why = "a gso_type not negotiated";
		return -EINVAL;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & VIRTIO_NET_F_HOST_ECN)) {
		*why = "GSO_ECN without HOST_ECN negotiated";
		return -EINVAL;
	}
	/* 5.1.6.2.1: a GSO frame sets NEEDS_CSUM and gso_size (the MSS). */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		*why = "GSO without NEEDS_CSUM";
		return -EINVAL;
	}
	if (h->gso_size == 0) {
		*why = "GSO with gso_size 0";
		return -EINVAL;
	}
	return 0;
}

/*
 * RFC 1071 2(B), 2(C): the sum is independent of byte order when words
 * are added in host order and the result is stored in host order; 32-bit
 * words into a 64-bit accumulator carry in the same way.
 */
uint32_t
netoff_csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t acc = sum;
	uint32_t w32;
	uint16_t w16;

	for (; len >= 4; b += 4, len -= 4) {
		memcpy(&w32, b, 4);
		acc += w32;
	}
	if (len >= 2) {
		memcpy(&w16, b, 2);
		acc += w16;
		b += 2;
		len -= 2;
	}
	if (len == 1) {
		/* The odd byte is the first of a word padded with zero. */
		uint8_t pad[2] = { b[0], 0 };

		memcpy(&w16, pad, 2);
		acc += w16;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t
netoff_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

int
netoff_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
	uint16_t c;

	if (csum_start >= len || (size_t)csum_offset + 2 > len - csum_start)
		return -EINVAL;
	c = netoff_csum_fold(netoff_csum_add(0, frame + csum_start, len - csum_start));
	/* RFC 768: a computed zero is sent as all ones (the same value for TCP). */
	put16(frame + csum_start + csum_offset, c == 0 ? 0xffff : c);
	return 0;
}

#define BAD(msg)	do { *why = (msg); return -EINVAL; } while (0)

int
netoff_tso(const uint8_t *f, size_t len, const struct vnet_hdr *h, uint8_t *seg,
    netoff_emit_t emit, void *arg, const char **why)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	size_t l3 = ETHER_HDR_LEN, l4, pay, plen, mss = h->gso_size, nseg, iphl;
	uint16_t etype, ipid;
	uint32_t seq;
	bool v4;

	*why = NULL;
	if (len < ETHER_HDR_LEN || len > NETBE_MAX_FRAME)
		BAD("TSO frame shorter than an Ethernet header or over 64 KiB");
	etype = (uint16_t)(f[12] << 8 | f[13]);
	if (etype == ETHERTYPE_VLAN) {
		if (len < ETHER_HDR_LEN + 4)
			BAD("TSO frame ends in its VLAN tag");
		etype = (uint16_t)(f[16] << 8 | f[17]);
		l3 += 4;
	}
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4) {
		const uint8_t *ip = f + l3;

		if (etype != ETHERTYPE_IP || len < l3 + 20 || ip[0] >> 4 != 4)
			BAD("GSO_TCPV4 frame is not IPv4");
		iphl = (size_t)(ip[0] & 15) * 4;
		if (iphl < 20 || len < l3 + iphl)
			BAD("GSO_TCPV4 frame with a bad IPv4 header length");
		if (ip[9] != IPPROTO_TCP_)
			BAD("GSO_TCPV4 frame is not TCP");
		/* RFC 791: MF or a fragment offset. */
		if ((ip[6] & 0x3f) != 0 || ip[7] != 0)
			BAD("GSO_TCPV4 frame is a fragment");
		v4 = true;
	} else if (gso == VIRTIO_NET_HDR_GSO_TCPV6) {
		const uint8_t *ip = f + l3;

		if (etype != ETHERTYPE_IPV6 || len < l3 + 40 || ip[0] >> 4 != 6)
			BAD("GSO_TCPV6 frame is not IPv6");
		if (ip[6] != IPPROTO_TCP_)
			BAD("GSO_TCPV6 frame has extension headers or is not TCP");
		iphl = 40;
		v4 = false;
	} else
		BAD("gso_type cannot be segmented here");
	l4 = l3 + iphl;
	if (len < l4 + 20 || (size_t)(f[l4 + 12] >> 4) * 4 < 20 ||
	    len < l4 + (size_t)(f[l4 + 12] >> 4) * 4)
		BAD("TSO frame with a bad TCP header length");
	pay = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
	plen = len - pay;
	if (mss == 0)
		BAD("GSO with gso_size 0");
	nseg = plen == 0 ? 1 : (plen + mss - 1) / mss;
	if (nseg > NETOFF_MAX_SEGS)
		BAD("TSO frame of more segments than allowed (gso_size too small)");
	memcpy(&ipid, f + l3 + 4, 2);
	ipid = ntohs(ipid);
	memcpy(&seq, f + l4 + 4, 4);
	seq = ntohl(seq);
	for (size_t i = 0; i < nseg; i++) {
		size_t off = i * mss, n = plen - off < mss ? plen - off : mss;
		size_t tcplen = pay - l4 + n;
		uint8_t *ip = seg + l3, *th = seg + l4;
		uint32_t sum;
		int r;

		memcpy(seg, f, pay);
		memcpy(seg + pay, f + pay + off, n);
		if (v4) {
			/* RFC 791: total length, a fresh identification, the header checksum. */
			put16(ip + 2, htons((uint16_t)(iphl + tcplen)));
			put16(ip + 4, htons((uint16_t)(ipid + i)));
			put16(ip + 10, 0);
			put16(ip + 10, netoff_csum_fold(netoff_csum_add(0, ip, iphl)));
			/* RFC 793 3.1: the pseudo-header, source and destination, protocol, length. */
			sum = netoff_csum_add(0, ip + 12, 8);
		} else {
			put16(ip + 4, htons((uint16_t)tcplen));
			/* RFC 2460 8.1: addresses, upper-layer length, next header. */
			sum = netoff_csum_add(0, ip + 8, 32);
		}
		sum += htons(IPPROTO_TCP_) + htons((uint16_t)tcplen);
		uint32_t s = htonl(seq + (uint32_t)off);
		memcpy(th + 4, &s, 4);
		if (i + 1 < nseg)
			th[13] &= (uint8_t)~(TH_FIN | TH_PSH);
		if (i > 0)
			th[13] &= (uint8_t)~TH_CWR;	/* RFC 3168 6.1.2: once per window */
		put16(th + 16, 0);
		put16(th + 16, netoff_csum_fold(netoff_csum_add(sum, th, tcplen)));
		if ((r = emit(arg, seg, pay + n)) != 0)
			return r;
	}
	return (int)nseg;
}
