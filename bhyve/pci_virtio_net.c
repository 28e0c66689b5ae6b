/*
 * pci_virtio_net.c - virtio network device (virtio 1.2, 5.1) over a
 * network backend (net_backends.h): one receive and one transmit queue.
 *
 * -s N,virtio-net[,BACKEND][,mac=xx:xx:xx:xx:xx:xx][,mtu=N][,backend options]
 *
 * Features: MAC, STATUS (the link is always up), MRG_RXBUF, MTU when mtu=
 * is given, and offloads (5.1.6.2, 5.1.6.4): with a backend that carries
 * the virtio-net header (tap) the header passes through, checked, and the
 * backend says which offloads it takes; otherwise (slirp) the device
 * itself completes partial checksums and segments TSO frames
 * (net_offload.c), and says DATA_VALID on received frames when the
 * backend vouches for their checksums.
 *
 * Threads: transmission runs on the notifying vCPU's thread (the backends
 * never block it); reception runs on the backend's thread.  Each queue has
 * its own lock.  When the guest has no receive buffers the backend holds
 * the frame and the guest's next rx notification wakes it.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "net_backends.h"
#include "net_offload.h"
#include "pci_emul.h"
#include "pci_virtio_net.h"
#include "virtio.h"

#define VIRTIO_NET_S_LINK_UP		1
/* What the device does itself for a backend of plain frames. */
#define VNET_SOFT_OFFLOADS	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | \
				 VIRTIO_NET_F_HOST_TSO6)

#define VNET_RXQ		0
#define VNET_TXQ		1
#define VNET_NQ			2
#define VNET_QSIZE		256
/* Receive chains one frame may span with MRG_RXBUF. */
#define VNET_MAX_MRG		64
#define VNET_HDR_LEGACY		10	/* legacy driver without MRG_RXBUF (5.1.6.1) */
#define VNET_HDR_V1		12	/* struct virtio_net_hdr_v1 */
#define ETHER_HDR_LEN		14
#define VNET_MIN_MTU		68
#define VNET_MAX_MTU		(NETBE_MAX_FRAME - ETHER_HDR_LEN)

/* Device configuration (5.1.4), little-endian. */
struct vnet_config {
	uint8_t		mac[6];
	uint16_t	status;
	uint16_t	max_virtqueue_pairs;
	uint16_t	mtu;
} __attribute__((packed));

struct vnet_softc {
	struct virtio_softc	vs;
	struct vqueue_info	vq[VNET_NQ];
	struct virtio_consts	consts;
	struct vnet_config	cfg;
	struct net_backend	*be;
	char			name[PI_NAMESZ + 32];
	/* rx_mtx: the receive queue; tx_mtx: the transmit queue. */
	pthread_mutex_t		rx_mtx, tx_mtx;
	uint64_t		features;	/* negotiated; atomic */
	struct vq_chain		*rx_chains;	/* VNET_MAX_MRG */
	struct vq_chain		tx_chain;
	/* Offloads done here: the frame made contiguous, and one segment. */
	uint8_t			*tx_buf, *tx_seg;	/* NETBE_MAX_FRAME each */
	bool			tx_logged, rx_logged;	/* one line per driver */
	struct vnet_stats	st;		/* rx_* under rx_mtx, tx_* under tx_mtx */
};

/* 5.1.6.1: the 12-byte header, except for a legacy driver without MRG_RXBUF. */
static size_t
vnet_hdrlen(uint64_t features)
{
	return (features & (VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF)) ? VNET_HDR_V1 :
	    VNET_HDR_LEGACY;
}

/* ---- the byte stream of a chain's readable or writable buffers ---- */

static size_t
chain_len(const struct vq_chain *c, bool writable)
{
	size_t len = 0;

	for (int i = 0; i < c->n; i++)
		if (((c->flags[i] & VRING_DESC_F_WRITE) != 0) == writable)
			len += c->iov[i].iov_len;
	return len;
}

/* The readable bytes at [off, off + len) as iovecs; returns their count. */
static int
chain_slice(const struct vq_chain *c, size_t off, size_t len, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < c->n && len > 0; i++) {
		if (c->flags[i] & VRING_DESC_F_WRITE)
			continue;
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		size_t k = c->iov[i].iov_len - off < len ? c->iov[i].iov_len - off : len;
		out[n].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

/* Write @len bytes of @src at @off into the chain's writable buffers. */
static void
chain_write(const struct vq_chain *c, size_t off, const void *src, size_t len)
{
	const uint8_t *s = src;

	for (int i = 0; i < c->n && len > 0; i++) {
		if (!(c->flags[i] & VRING_DESC_F_WRITE))
			continue;
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		size_t k = c->iov[i].iov_len - off < len ? c->iov[i].iov_len - off : len;
		memcpy((uint8_t *)c->iov[i].iov_base + off, s, k);
		s += k;
		len -= k;
		off = 0;
	}
}

/* ---- transmit: guest -> backend ---- */

static void
vnet_tx_bad(struct vnet_softc *sc, const char *why)
{
	sc->st.tx_bad_hdr++;
	if (!sc->tx_logged) {
		sc->tx_logged = true;
		fprintf(stderr, "bhyve: %s: transmit header: %s; frame dropped (the next ones "
		    "are only counted)\n", sc->name, why);
	}
}

/* One segment of a TSO frame to the backend (netoff_emit_t). */
static int
vnet_tx_emit(void *arg, const uint8_t *seg, size_t len)
{
	struct vnet_softc *sc = arg;
	struct iovec iov = { .iov_base = (void *)seg, .iov_len = len };

	sc->st.tx_segments++;
	return netbe_send(sc->be, NULL, &iov, 1, len);
}

/*
 * The offloads the header asks for, done here for a backend of plain
 * frames: the frame copied out of guest memory (which the guest may
 * change meanwhile) and its checksum completed, or segmented.  0 when
 * handed over; -EBADMSG for a frame that cannot be (counted and logged
 * here), another negative errno when the backend dropped it.
 */
static int
vnet_tx_soft(struct vnet_softc *sc, const struct vnet_hdr *h, const struct iovec *iov, int n,
    size_t len)
{
	struct iovec one = { .iov_base = sc->tx_buf, .iov_len = len };
	const char *why;
	size_t off = 0;
	int r;

	for (int i = 0; i < n; off += iov[i].iov_len, i++)
		memcpy(sc->tx_buf + off, iov[i].iov_base, iov[i].iov_len);
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		r = netoff_tso(sc->tx_buf, len, h, sc->tx_seg, vnet_tx_emit, sc, &why);
		if (r == -EINVAL && why != NULL) {
			vnet_tx_bad(sc, why);
			return -EBADMSG;
		}
		if (r > 0)
			sc->st.tx_tso++;
		return r < 0 ? r : 0;
	}
	/* netoff_tx_check() saw the field inside the frame. */
	if (netoff_csum_complete(sc->tx_buf, len, h->csum_start, h->csum_offset) != 0) {
		vnet_tx_bad(sc, "csum_start + csum_offset beyond the frame");
		return -EBADMSG;
	}
	sc->st.tx_csum++;
	return netbe_send(sc->be, NULL, &one, 1, len);
}

static void
vnet_tx_one(struct vnet_softc *sc, const struct vq_chain *c)
{
	struct iovec iov[VQ_CHAIN_MAX];
	struct vnet_hdr h;
	uint64_t features = __atomic_load_n(&sc->features, __ATOMIC_ACQUIRE);
	size_t total = chain_len(c, false), len;
	size_t hdrlen = vnet_hdrlen(features);
	const char *why;
	int n, r;

	if (total < hdrlen) {
		vnet_tx_bad(sc, "chain shorter than the header");
		return;
	}
	/* The header (5.1.6.2), copied once: the guest may rewrite it meanwhile. */
	memset(&h, 0, sizeof(h));
	n = chain_slice(c, 0, hdrlen, iov);
	for (int i = 0, off = 0; i < n; off += (int)iov[i].iov_len, i++)
		memcpy((uint8_t *)&h + off, iov[i].iov_base, iov[i].iov_len);
	h.hdr_len = le16toh(h.hdr_len);
	h.gso_size = le16toh(h.gso_size);
	h.csum_start = le16toh(h.csum_start);
	h.csum_offset = le16toh(h.csum_offset);
	len = total - hdrlen;
	if (len > NETBE_MAX_FRAME) {
		sc->st.tx_too_big++;
		return;
	}
	if (len < ETHER_HDR_LEN) {
		sc->st.tx_runt++;
		return;
	}
	if (netoff_tx_check(&h, len, features, &why) != 0) {
		vnet_tx_bad(sc, why);
		return;
	}
	/* Flags other than NEEDS_CSUM mean nothing here (5.1.6.2.2). */
	h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.num_buffers = 0;
	n = chain_slice(c, hdrlen, len, iov);
	if (sc->be == NULL)
		r = -ENODEV;
	else if (sc->be->vnet_hdr)
		r = netbe_send(sc->be, &h, iov, n, len);
	else if (h.flags == 0 && h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		r = netbe_send(sc->be, NULL, iov, n, len);
	else if ((r = vnet_tx_soft(sc, &h, iov, n, len)) == -EBADMSG)
		return;
	if (r != 0) {
		sc->st.tx_dropped++;
		return;
	}
	sc->st.tx_frames++;
}

static void
vnet_tx_notify(void *dev, struct vqueue_info *vq)
{
	struct vnet_softc *sc = dev;

	pthread_mutex_lock(&sc->tx_mtx);
	while (vq_getchain(vq, &sc->tx_chain, VQ_CHAIN_MAX) > 0) {
		vnet_tx_one(sc, &sc->tx_chain);
		vq_relchain(vq, &sc->tx_chain, 0);
	}
	vq_endchains(vq, true);
	pthread_mutex_unlock(&sc->tx_mtx);
}

/* ---- receive: backend -> guest ---- */

static void
vnet_rx_retchains(struct vqueue_info *vq, int k)
{
	while (k-- > 0)
		vq_retchain(vq);
}

/*
 * One frame into the receive queue (5.1.6.3, 5.1.6.4): the header, then
 * the frame, in one chain, or with MRG_RXBUF in as many chains as it needs
 * (num_buffers says how many).  Backend thread.
 */
/*
 * The header for the guest (5.1.6.4.1): a backend's header keeps only the
 * offloads the driver negotiated (a frame needing another is dropped);
 * a plain frame from a backend that vouches for its checksums is
 * DATA_VALID when the driver takes GUEST_CSUM.  -EINVAL: drop the frame.
 */
static int
vnet_rx_hdr(struct vnet_softc *sc, uint64_t features, const struct vnet_hdr *bh,
    struct vnet_hdr *h)
{
	uint8_t gso;

	memset(h, 0, sizeof(*h));
	if (bh == NULL) {
		/* Only a backend with rx_csum_valid has GUEST_CSUM offered (vnet_init). */
		if (features & VIRTIO_NET_F_GUEST_CSUM)
			h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		return 0;
	}
	gso = bh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	if (features & VIRTIO_NET_F_GUEST_CSUM)
		h->flags = bh->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID);
	else if (bh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return -EINVAL;
	if (gso != VIRTIO_NET_HDR_GSO_NONE &&
	    !((gso == VIRTIO_NET_HDR_GSO_TCPV4 && (features & VIRTIO_NET_F_GUEST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (features & VIRTIO_NET_F_GUEST_TSO6))))
		return -EINVAL;
	if ((bh->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(features & VIRTIO_NET_F_GUEST_ECN))
		return -EINVAL;
	if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		h->gso_type = bh->gso_type;
		h->gso_size = bh->gso_size;
		h->hdr_len = bh->hdr_len;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		h->csum_start = bh->csum_start;
		h->csum_offset = bh->csum_offset;
	}
	return 0;
}

static int
vnet_rx(void *arg, const struct vnet_hdr *bhdr, const void *frame, size_t len)
{
	struct vnet_softc *sc = arg;
	struct vqueue_info *vq = &sc->vq[VNET_RXQ];
	struct vnet_hdr vh;
	uint8_t *hdr = (uint8_t *)&vh;
	uint64_t features = __atomic_load_n(&sc->features, __ATOMIC_ACQUIRE);
	size_t hdrlen = vnet_hdrlen(features), need, room = 0, off = 0, used;
	bool mrg = (features & VIRTIO_NET_F_MRG_RXBUF) != 0;
	uint16_t nbufs;
	int k = 0, n;

	pthread_mutex_lock(&sc->rx_mtx);
	if (!vq_ready(vq)) {
		sc->st.rx_down++;
		pthread_mutex_unlock(&sc->rx_mtx);
		return 0;
	}
	if (len > NETBE_MAX_FRAME) {
		sc->st.rx_too_big++;
		pthread_mutex_unlock(&sc->rx_mtx);
		return 0;
	}
	if (vnet_rx_hdr(sc, features, bhdr, &vh) != 0) {
		sc->st.rx_bad_offload++;
		if (!sc->rx_logged) {
			sc->rx_logged = true;
			fprintf(stderr, "bhyve: %s: the backend gave a frame with offloads the "
			    "driver did not negotiate; dropped\n", sc->name);
		}
		pthread_mutex_unlock(&sc->rx_mtx);
		return 0;
	}
	need = hdrlen + len;
	while (room < need) {
		if (k == (mrg ? VNET_MAX_MRG : 1)) {
			/* The buffers can never hold it: drop it, leave them to the next. */
			vnet_rx_retchains(vq, k);
			sc->st.rx_too_big++;
			pthread_mutex_unlock(&sc->rx_mtx);
			return 0;
		}
		n = vq_getchain(vq, &sc->rx_chains[k], VQ_CHAIN_MAX);
		if (n < 0) {
			/* The guest broke the queue; it stopped: nothing to give back. */
			sc->st.rx_down++;
			pthread_mutex_unlock(&sc->rx_mtx);
			return 0;
		}
		if (n == 0) {
			/* Not enough room yet: the guest notifies when it adds buffers. */
			vnet_rx_retchains(vq, k);
			pthread_mutex_unlock(&sc->rx_mtx);
			return -EAGAIN;
		}
		room += chain_len(&sc->rx_chains[k], true);
		k++;
	}
	/* num_buffers is in the 12-byte header only (5.1.6.4). */
	nbufs = (uint16_t)k;
	vh.num_buffers = htole16(nbufs);
	for (int i = 0; i < k; i++) {
		size_t cap = chain_len(&sc->rx_chains[i], true), w = 0;

		if (off < hdrlen) {
			w = hdrlen - off < cap ? hdrlen - off : cap;
			chain_write(&sc->rx_chains[i], 0, hdr + off, w);
			off += w;
		}
		if (w < cap && off < need) {
			size_t f = need - off < cap - w ? need - off : cap - w;

			chain_write(&sc->rx_chains[i], w, (const uint8_t *)frame + (off - hdrlen), f);
			off += f;
			w += f;
		}
		used = w;
		vq_relchain(vq, &sc->rx_chains[i], (uint32_t)used);
	}
	sc->st.rx_frames++;
	vq_endchains(vq, false);
	pthread_mutex_unlock(&sc->rx_mtx);
	return 0;
}

static void
vnet_rx_notify(void *dev, struct vqueue_info *vq)
{
	struct vnet_softc *sc = dev;

	/* New receive buffers: the backend delivers what it holds. */
	netbe_rx_ready(sc->be);
}

static void
vnet_driver_ok(void *dev)
{
	struct vnet_softc *sc = dev;

	netbe_rx_ready(sc->be);
}

/*
 * No queue lock here: the transport may hold its own, which the rx and tx
 * paths take (interrupts) while holding theirs.  The features are set
 * before DRIVER_OK, when neither path uses its queue.
 */
static void
vnet_apply_features(void *dev, uint64_t features)
{
	struct vnet_softc *sc = dev;

	__atomic_store_n(&sc->features, features, __ATOMIC_RELEASE);
	if (netbe_set_features(sc->be, features) != 0)
		fprintf(stderr, "bhyve: %s: the backend refused the negotiated offloads; "
		    "it keeps the previous ones\n", sc->name);
}

static void
vnet_reset(void *dev)
{
	struct vnet_softc *sc = dev;

	/* The queues are disabled now; let a transmission or delivery in progress finish. */
	pthread_mutex_lock(&sc->rx_mtx);
	pthread_mutex_lock(&sc->tx_mtx);
	__atomic_store_n(&sc->features, 0, __ATOMIC_RELEASE);
	sc->tx_logged = sc->rx_logged = false;
	pthread_mutex_unlock(&sc->tx_mtx);
	pthread_mutex_unlock(&sc->rx_mtx);
	(void)netbe_set_features(sc->be, 0);
}

static void
vnet_qnotify(void *dev, struct vqueue_info *vq)
{
	if (vq->num == VNET_RXQ)
		vnet_rx_notify(dev, vq);
	else
		vnet_tx_notify(dev, vq);
}

/* "xx:xx:xx:xx:xx:xx", ethers(5) style: one or two hex digits per byte. */
static int
vnet_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int v = 0, d = 0;

		for (; d < 2 && ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')); d++, s++)
			v = v * 16 + (*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
		if (d == 0 || *s != (i < 5 ? ':' : '\0'))
			return -1;
		if (i < 5)
			s++;
		mac[i] = (uint8_t)v;
	}
	/* A station address: not multicast, not all zero. */
	if ((mac[0] & 1) || (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return -1;
	return 0;
}

/*
 * Without mac=, a stable address from the VM name and the slot (as bhyve
 * derives one): 02:a0:98 (bhyve's 00:a0:98, locally administered), then
 * three bytes of an FNV-1a hash.
 */
static void
vnet_default_mac(struct pci_devinst *pi, uint8_t mac[6])
{
	const char *vm = get_config_value(pi->pi_vm->cfg, "name");
	char key[128];
	uint64_t h = 1469598103934665603ULL;

	snprintf(key, sizeof(key), "%d-%d-%d-%s", pi->pi_bus, pi->pi_slot, pi->pi_func,
	    vm != NULL ? vm : "");
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	mac[0] = 0x02;
	mac[1] = 0xa0;
	mac[2] = 0x98;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int
vnet_init(struct pci_devinst *pi, const char *node)
{
	struct config *cfg = pi->pi_vm->cfg;
	const char *mac = get_config_value_node(cfg, node, "mac");
	const char *mtu = get_config_value_node(cfg, node, "mtu");
	const char *backend = get_config_value_node(cfg, node, "backend");
	uint64_t features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF;
	struct vnet_softc *sc;

	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return -1;
	pthread_mutex_init(&sc->rx_mtx, NULL);
	pthread_mutex_init(&sc->tx_mtx, NULL);
	sc->vs.pi = pi;
	sc->vs.dev = sc;
	pi->pi_arg = &sc->vs;
	snprintf(sc->name, sizeof(sc->name), "virtio-net at %d:%d.%d", pi->pi_bus, pi->pi_slot,
	    pi->pi_func);
	if (mac != NULL && vnet_parse_mac(mac, sc->cfg.mac) != 0) {
		fprintf(stderr, "bhyve: %s: mac '%s' is not a unicast address xx:xx:xx:xx:xx:xx\n",
		    sc->name, mac);
		return -1;
	}
	if (mac == NULL)
		vnet_default_mac(pi, sc->cfg.mac);
	if (mtu != NULL) {
		char *end;
		unsigned long v = strtoul(mtu, &end, 10);

		if (*mtu < '0' || *mtu > '9' || *end != '\0' || v < VNET_MIN_MTU || v > VNET_MAX_MTU) {
			fprintf(stderr, "bhyve: %s: mtu '%s' is not a number from %d to %d\n",
			    sc->name, mtu, VNET_MIN_MTU, VNET_MAX_MTU);
			return -1;
		}
		sc->cfg.mtu = (uint16_t)v;
		features |= VIRTIO_NET_F_MTU;
	}
	if (get_config_value_node(cfg, node, "hostfwd") != NULL &&
	    (backend == NULL || strcmp(backend, "slirp") != 0)) {
		fprintf(stderr, "bhyve: %s: hostfwd is an option of the slirp backend\n", sc->name);
		return -1;
	}
	if (get_config_value_node(cfg, node, "tap") != NULL &&
	    (backend == NULL || strcmp(backend, "tap") != 0)) {
		fprintf(stderr, "bhyve: %s: tap= names the interface of the tap backend\n", sc->name);
		return -1;
	}
	sc->cfg.status = VIRTIO_NET_S_LINK_UP;
	sc->cfg.max_virtqueue_pairs = 1;
	sc->rx_chains = calloc(VNET_MAX_MRG, sizeof(*sc->rx_chains));
	sc->tx_buf = malloc(NETBE_MAX_FRAME);
	sc->tx_seg = malloc(NETBE_MAX_FRAME);
	if (sc->rx_chains == NULL || sc->tx_buf == NULL || sc->tx_seg == NULL)
		return -1;
	sc->consts = (struct virtio_consts){
		.name = "virtio-net",
		.nvq = VNET_NQ,
		.device_id = VIRTIO_ID_NETWORK,
		.class = 0x02, .subclass = 0x00,	/* network, Ethernet */
		.features = features,
		.cfg = &sc->cfg,
		.cfgsize = sizeof(sc->cfg),
		.reset = vnet_reset,
		.qnotify = vnet_qnotify,
		.apply_features = vnet_apply_features,
		.driver_ok = vnet_driver_ok,
	};
	sc->vq[VNET_RXQ].max = VNET_QSIZE;
	sc->vq[VNET_TXQ].max = VNET_QSIZE;
	if (vs_init(&sc->vs, &sc->consts, sc, pi, sc->vq) != 0)
		return -1;
	/* Last: from here the backend's thread may deliver frames. */
	if (netbe_init(cfg, node, sc->name, vnet_rx, sc, &sc->be) != 0)
		return -1;
	/* The offloads, by what the backend takes; no driver runs yet. */
	if (sc->be != NULL && sc->be->vnet_hdr)
		features = sc->be->caps & (VNET_SOFT_OFFLOADS | VIRTIO_NET_F_HOST_ECN |
		    VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |
		    VIRTIO_NET_F_GUEST_ECN);
	else
		features = VNET_SOFT_OFFLOADS |
		    (sc->be != NULL && sc->be->rx_csum_valid ? VIRTIO_NET_F_GUEST_CSUM : 0);
	sc->consts.features |= features;
	pthread_mutex_lock(&sc->vs.mtx);
	sc->vs.offered |= features;
	pthread_mutex_unlock(&sc->vs.mtx);
	return 0;
}

static void
vnet_deinit(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vnet_softc *sc;

	if (vs == NULL)
		return;
	sc = vs->dev;
	vs_deinit(&sc->vs);
	netbe_cleanup(sc->be);
	free(sc->rx_chains);
	free(sc->tx_buf);
	free(sc->tx_seg);
	pthread_mutex_destroy(&sc->rx_mtx);
	pthread_mutex_destroy(&sc->tx_mtx);
	if (sc->vs.vc != NULL)
		pthread_mutex_destroy(&sc->vs.mtx);
	free(sc);
	pi->pi_arg = NULL;
}

int
vnet_get_stats(struct pci_devinst *pi, struct vnet_stats *st)
{
	struct virtio_softc *vs = pi->pi_arg;
	struct vnet_softc *sc;

	if (vs == NULL || vs->vc == NULL || vs->vc->device_id != VIRTIO_ID_NETWORK)
		return -ENODEV;
	sc = vs->dev;
	pthread_mutex_lock(&sc->rx_mtx);
	pthread_mutex_lock(&sc->tx_mtx);
	*st = sc->st;
	pthread_mutex_unlock(&sc->tx_mtx);
	pthread_mutex_unlock(&sc->rx_mtx);
	return 0;
}

VIRTIO_PCI_EMUL(pci_de_vnet, "virtio-net", netbe_legacy_config, vnet_init, vnet_deinit, true);
