/*
 * pci_virtio_net.c - virtio network device (virtio 1.2, 5.1) over a
 * network backend (net_backends.h): one receive and one transmit queue.
 *
 * -s N,virtio-net[,BACKEND][,mac=xx:xx:xx:xx:xx:xx][,mtu=N][,backend options]
 *
 * Features: MAC, STATUS (the link is always up), MRG_RXBUF, and MTU when
 * mtu= is given; no checksum or segmentation offloads, so every frame is
 * whole and checksummed in both directions.
 *
 * Threads: transmission runs on the notifying vCPU's thread (the backends
 * never block it); reception runs on the backend's thread.  Each queue has
 * its own lock.  When the guest has no receive buffers the backend holds
 * the frame and the guest's next rx notification wakes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "net_backends.h"
#include "pci_emul.h"
#include "pci_virtio_net.h"
#include "virtio.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_MTU		(1ULL << 3)
#define VIRTIO_NET_F_MAC		(1ULL << 5)
#define VIRTIO_NET_F_MRG_RXBUF		(1ULL << 15)
#define VIRTIO_NET_F_STATUS		(1ULL << 16)
#define VIRTIO_NET_S_LINK_UP		1

/* struct virtio_net_hdr flags and gso_type (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_GSO_NONE		0

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
vnet_tx_one(struct vnet_softc *sc, const struct vq_chain *c)
{
	struct iovec iov[VQ_CHAIN_MAX];
	uint8_t hdr[VNET_HDR_V1];
	size_t total = chain_len(c, false), len;
	size_t hdrlen = vnet_hdrlen(__atomic_load_n(&sc->features, __ATOMIC_ACQUIRE));
	int n;

	/* The header (5.1.6.2): without CSUM/GSO negotiated, no offload may be asked for. */
	if (total < hdrlen) {
		sc->st.tx_bad_hdr++;
		return;
	}
	n = chain_slice(c, 0, hdrlen, iov);
	for (int i = 0, off = 0; i < n; off += (int)iov[i].iov_len, i++)
		memcpy(hdr + off, iov[i].iov_base, iov[i].iov_len);
	if ((hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr[1] != VIRTIO_NET_HDR_GSO_NONE) {
		sc->st.tx_bad_hdr++;
		return;
	}
	len = total - hdrlen;
	if (len > NETBE_MAX_FRAME) {
		sc->st.tx_too_big++;
		return;
	}
	if (len < ETHER_HDR_LEN) {
		sc->st.tx_runt++;
		return;
	}
	n = chain_slice(c, hdrlen, len, iov);
	if (sc->be == NULL || netbe_send(sc->be, iov, n, len) != 0) {
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
static int
vnet_rx(void *arg, const void *frame, size_t len)
{
	struct vnet_softc *sc = arg;
	struct vqueue_info *vq = &sc->vq[VNET_RXQ];
	uint8_t hdr[VNET_HDR_V1];
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
	/* The header: no offloads, so all zero but num_buffers (5.1.6.4). */
	memset(hdr, 0, sizeof(hdr));
	nbufs = (uint16_t)k;
	if (hdrlen == VNET_HDR_V1)
		memcpy(hdr + 10, &nbufs, 2);
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
 * Called with the transport's lock held, which the rx and tx paths take
 * (interrupts) while holding theirs: no queue lock here.  The features
 * are set before DRIVER_OK, when neither path uses its queue.
 */
static void
vnet_apply_features(void *dev, uint64_t features)
{
	struct vnet_softc *sc = dev;

	__atomic_store_n(&sc->features, features, __ATOMIC_RELEASE);
}

static void
vnet_reset(void *dev)
{
	struct vnet_softc *sc = dev;

	/* The queues are disabled now; let a transmission or delivery in progress finish. */
	pthread_mutex_lock(&sc->rx_mtx);
	pthread_mutex_lock(&sc->tx_mtx);
	__atomic_store_n(&sc->features, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sc->tx_mtx);
	pthread_mutex_unlock(&sc->rx_mtx);
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
	if (sc->rx_chains == NULL)
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
	return netbe_init(cfg, node, sc->name, vnet_rx, sc, &sc->be);
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
