/*
 * test_virtio_net.c - virtio-net (bhyve/pci_virtio_net.c) driven as a guest
 * driver would, over fake guest RAM, against a test backend that records
 * what the guest sends and delivers what the test gives it; then against
 * slirp (ARP, DHCP, a host forward).  Also hostile headers and sizes, a
 * guest without receive buffers, the legacy 10-byte header, and the
 * options' errors; the offloads: checksum completion and TSO segmentation
 * checked against checksums computed here (RFC 1071 by 16-bit big-endian
 * words), a backend that carries the header (as a tap does), DATA_VALID.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "net_backends.h"
#include "net_offload.h"
#include "pci_emul.h"
#include "pci_virtio_net.h"
#include "virtio.h"
#include "test_guestmem.h"

#define RAM_SIZE	TG_RAM_SIZE
#define SLOT		3
#define QSIZE		16
#define RXQ		0
#define TXQ		1
#define BUF_GPA		0x40000		/* rx buffers, 64 KiB apart */
#define TXBUF_GPA	0x200000

#define F_MAC		(1ULL << 5)
#define F_MRG		(1ULL << 15)
#define F_STATUS	(1ULL << 16)
#define F_MTU		(1ULL << 3)
#define F_CSUM		(1ULL << 0)
#define F_GCSUM		(1ULL << 1)
#define F_GTSO4		(1ULL << 7)
#define F_GTSO6		(1ULL << 8)
#define F_HTSO4		(1ULL << 11)
#define F_HTSO6		(1ULL << 12)
#define F_HECN		(1ULL << 13)

#define ram		tg_ram
#define msi_count	tg_msi_count

/* Ring addresses per queue (modern); the legacy layout is computed. */
static const uint64_t ring_desc[2] = { 0x10000, 0x20000 };
static const uint64_t ring_avail[2] = { 0x11000, 0x21000 };
static const uint64_t ring_used[2] = { 0x12000, 0x22000 };
static uint64_t q_desc[2], q_avail[2], q_used[2];
static uint16_t q_size[2], q_next_avail[2], q_next_desc[2], q_seen_used[2];

/* ---- the test backend: records transmitted frames, delivers on demand ---- */

#define TSENT_MAX	64
static struct net_backend *tbe;
static uint8_t tsent[TSENT_MAX][NETBE_MAX_FRAME + 64];
static size_t tsent_len[TSENT_MAX];
static struct vnet_hdr tsent_hdr[TSENT_MAX];
static bool tsent_had_hdr[TSENT_MAX];
static int tsent_n, trx_ready;
static struct netbe_holdq tholdq;
/* How the next test backend behaves: set before vm_with_net(). */
static bool tnet_vnet, tnet_csum_valid;
static uint64_t tnet_caps, tnet_features;
static int tnet_setf_calls;

static int
tnet_init(struct net_backend *be, struct config *cfg, const char *node, const char *devname)
{
	tbe = be;
	tsent_n = 0;
	trx_ready = 0;
	tnet_features = 0;
	tnet_setf_calls = 0;
	be->vnet_hdr = tnet_vnet;
	be->caps = tnet_caps;
	be->rx_csum_valid = tnet_csum_valid;
	netbe_holdq_init(&tholdq);
	return 0;
}

static int
tnet_send(struct net_backend *be, const struct vnet_hdr *hdr, const struct iovec *iov,
    int iovcnt, size_t len)
{
	size_t off = 0;

	if (tsent_n == TSENT_MAX)
		return -ENOBUFS;
	/* A header exactly for a backend that asked for one. */
	CHECK_EQ(hdr != NULL, be->vnet_hdr);
	tsent_had_hdr[tsent_n] = hdr != NULL;
	if (hdr != NULL)
		tsent_hdr[tsent_n] = *hdr;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(tsent[tsent_n] + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	CHECK_EQ(off, len);
	tsent_len[tsent_n++] = len;
	return 0;
}

static int
tnet_set_features(struct net_backend *be, uint64_t features)
{
	tnet_features = features;
	tnet_setf_calls++;
	return 0;
}

static void
tnet_rx_ready(struct net_backend *be)
{
	trx_ready++;
}

static void
tnet_cleanup(struct net_backend *be)
{
	netbe_holdq_fini(&tholdq);
	tbe = NULL;
}

static const struct net_backend_ops tnet_backend = {
	.prefix = "testnet",
	.init = tnet_init,
	.send = tnet_send,
	.rx_ready = tnet_rx_ready,
	.set_features = tnet_set_features,
	.cleanup = tnet_cleanup,
};
NET_BACKEND_SET(tnet_backend);

/* ---- fake VM ---- */

static struct bhyve_vm *
vm_with_net(const char *opts, struct pci_devinst **pip)
{
	struct bhyve_vm *bvm = test_bvm_alloc();
	char slot[512];

	tg_attach(bvm);
	memset(q_next_avail, 0, sizeof(q_next_avail));
	memset(q_next_desc, 0, sizeof(q_next_desc));
	memset(q_seen_used, 0, sizeof(q_seen_used));
	set_config_value(bvm->cfg, "name", "vm0");
	snprintf(slot, sizeof(slot), "%d,virtio-net%s%s", SLOT, opts ? "," : "", opts ? opts : "");
	if (pci_parse_slot(bvm->cfg, slot) != 0) {
		test_bvm_free(bvm);
		return NULL;
	}
	bvm = test_bvm_init(bvm);
	*pip = bvm ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return bvm;
}

static uint64_t
rd(struct pci_devinst *pi, uint64_t off, int size)
{
	return pi->pi_d->pe_barread(pi, 4, off, size);
}

static void
wr(struct pci_devinst *pi, uint64_t off, int size, uint64_t val)
{
	pi->pi_d->pe_barwrite(pi, 4, off, size, val);
}

static uint64_t
offered(struct pci_devinst *pi)
{
	wr(pi, 0x00, 4, 0);
	uint64_t lo = rd(pi, 0x04, 4);
	wr(pi, 0x00, 4, 1);
	return lo | rd(pi, 0x04, 4) << 32;
}

/* Modern driver initialisation (3.1.1) with @features, both queues. */
static void
driver_init(struct pci_devinst *pi, uint64_t features)
{
	wr(pi, 0x14, 1, 0);
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x08, 4, 0);
	wr(pi, 0x0c, 4, (uint32_t)features);
	wr(pi, 0x08, 4, 1);
	wr(pi, 0x0c, 4, (uint32_t)(features >> 32));
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (int q = 0; q < 2; q++) {
		q_desc[q] = ring_desc[q];
		q_avail[q] = ring_avail[q];
		q_used[q] = ring_used[q];
		q_size[q] = QSIZE;
		wr(pi, 0x16, 2, (uint64_t)q);
		wr(pi, 0x18, 2, QSIZE);
		wr(pi, 0x20, 8, q_desc[q]);
		wr(pi, 0x28, 8, q_avail[q]);
		wr(pi, 0x30, 8, q_used[q]);
		wr(pi, 0x1c, 2, 1);
	}
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
	    VIRTIO_S_DRIVER_OK);
}

/* The legacy interface (4.1.4.10) on BAR 0: 32 feature bits, rings by PFN. */
static void
legacy_init(struct pci_devinst *pi, uint32_t features)
{
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, 0);
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	pi->pi_d->pe_barwrite(pi, 0, 4, 4, features);
	for (int q = 0; q < 2; q++) {
		pi->pi_d->pe_barwrite(pi, 0, 14, 2, (uint64_t)q);
		q_size[q] = (uint16_t)pi->pi_d->pe_barread(pi, 0, 12, 2);
		q_desc[q] = 0x100000 + (uint64_t)q * 0x10000;
		q_avail[q] = q_desc[q] + 16u * q_size[q];
		q_used[q] = (q_avail[q] + 6 + 2u * q_size[q] + 4095) & ~4095ULL;
		pi->pi_d->pe_barwrite(pi, 0, 8, 4, q_desc[q] >> 12);
	}
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER |
	    VIRTIO_S_DRIVER_OK);
}

static void
put_desc(int q, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + q_desc[q] + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t
get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static uint32_t
get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/*
 * Make a chain of @n buffers available on @q: @addrs/@lens, all
 * device-writable when @writable.  Returns its head.
 */
static uint16_t
offer_chain(int q, int n, const uint64_t *addrs, const uint32_t *lens, bool writable)
{
	uint16_t head = q_next_desc[q];

	for (int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % q_size[q]);

		put_desc(q, d, addrs[i], lens[i],
		    (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) | (writable ? VRING_DESC_F_WRITE : 0)),
		    (uint16_t)((d + 1) % q_size[q]));
	}
	q_next_desc[q] = (uint16_t)((head + n) % q_size[q]);
	memcpy(ram + q_avail[q] + 4 + 2 * (q_next_avail[q] % q_size[q]), &head, 2);
	q_next_avail[q]++;
	__atomic_store_n((uint16_t *)(ram + q_avail[q] + 2), q_next_avail[q], __ATOMIC_RELEASE);
	return head;
}

static uint16_t
used_idx(int q)
{
	return __atomic_load_n((uint16_t *)(ram + q_used[q] + 2), __ATOMIC_ACQUIRE);
}

/* The used entry @i of @q: its id and length. */
static void
used_entry(int q, uint16_t i, uint32_t *id, uint32_t *len)
{
	*id = get32(q_used[q] + 4 + 8 * (i % q_size[q]));
	*len = get32(q_used[q] + 8 + 8 * (i % q_size[q]));
}

static void
notify(struct pci_devinst *pi, int q, bool legacy)
{
	if (legacy)
		pi->pi_d->pe_barwrite(pi, 0, 16, 2, (uint64_t)q);
	else
		wr(pi, 0x3000 + 4 * (uint64_t)q, 2, 0);
}

/* Transmit: a header of @hdrlen bytes (@hdr, or zeros) then @frame, over @nseg buffers. */
static void
transmit(struct pci_devinst *pi, const uint8_t *hdr, size_t hdrlen, const uint8_t *frame,
    size_t len, int nseg, bool legacy)
{
	uint64_t addrs[8];
	uint32_t lens[8];
	size_t total = hdrlen + len, off = 0;
	uint8_t *p = ram + TXBUF_GPA;

	if (hdr != NULL)
		memcpy(p, hdr, hdrlen);
	else
		memset(p, 0, hdrlen);
	memcpy(p + hdrlen, frame, len);
	for (int i = 0; i < nseg; i++) {
		size_t k = i + 1 < nseg ? total / (size_t)nseg : total - off;

		addrs[i] = TXBUF_GPA + off;
		lens[i] = (uint32_t)k;
		off += k;
	}
	offer_chain(TXQ, nseg, addrs, lens, false);
	notify(pi, TXQ, legacy);
}

static void
make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 13);
	memset(f, 0xff, 6);		/* broadcast */
}

static struct vnet_stats
stats(struct pci_devinst *pi)
{
	struct vnet_stats st;

	memset(&st, 0, sizeof(st));
	CHECK_EQ(vnet_get_stats(pi, &st), 0);
	return st;
}

/* The reference: RFC 1071 by big-endian 16-bit words, independent of net_offload.c. */
static uint16_t
ip_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- tests ---- */

TEST(vnet_identity_config_features)
{
	struct pci_devinst *pi, *pi2;
	struct bhyve_vm *bvm, *bvm2;
	uint8_t mac[6], mac2[6];

	bvm = vm_with_net("testnet", &pi);
	REQUIRE(bvm != NULL && pi != NULL);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_DEVICE), 0x1000);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_SUBDEV_0), VIRTIO_ID_NETWORK);
	CHECK_EQ(pci_get_cfgdata8(pi, PCIR_CLASS), 0x02);
	uint64_t f = offered(pi);
	CHECK((f & (F_MAC | F_STATUS | F_MRG)) == (F_MAC | F_STATUS | F_MRG));
	CHECK((f & F_MTU) == 0);
	/* Plain frames: the device does checksums and TSO itself; nothing for rx. */
	CHECK((f & (F_CSUM | F_HTSO4 | F_HTSO6)) == (F_CSUM | F_HTSO4 | F_HTSO6));
	CHECK((f & (F_GCSUM | F_GTSO4 | F_GTSO6 | F_HECN)) == 0);
	CHECK_EQ(rd(pi, 0x12, 2), 2);		/* two queues */
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)rd(pi, 0x2000 + (uint64_t)i, 1);
	CHECK_EQ(mac[0], 0x02);			/* locally administered, unicast */
	CHECK_EQ(rd(pi, 0x2006, 2), 1);		/* link up */
	CHECK_EQ(rd(pi, 0x2008, 2), 1);		/* one queue pair */
	/* The legacy header carries the same configuration after 20 bytes. */
	CHECK_EQ(pi->pi_d->pe_barread(pi, 0, 20, 1), mac[0]);
	test_bvm_free(bvm);

	/* The same VM and slot: the same address. */
	bvm = vm_with_net("testnet", &pi);
	REQUIRE(bvm != NULL);
	for (int i = 0; i < 6; i++)
		mac2[i] = (uint8_t)rd(pi, 0x2000 + (uint64_t)i, 1);
	CHECK(memcmp(mac, mac2, 6) == 0);
	test_bvm_free(bvm);

	/* mac= and mtu= */
	bvm2 = vm_with_net("testnet,mac=52:54:0:12:34:ab,mtu=9000", &pi2);
	REQUIRE(bvm2 != NULL);
	CHECK_EQ(rd(pi2, 0x2000, 1), 0x52);
	CHECK_EQ(rd(pi2, 0x2002, 1), 0x00);
	CHECK_EQ(rd(pi2, 0x2005, 1), 0xab);
	CHECK(offered(pi2) & F_MTU);
	CHECK_EQ(rd(pi2, 0x200a, 2), 9000);
	test_bvm_free(bvm2);

	/* No backend: an unconnected interface, frames sent are dropped. */
	bvm = vm_with_net(NULL, &pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | VIRTIO_F_VERSION_1);
	uint8_t fr[60];
	make_frame(fr, sizeof(fr), 1);
	transmit(pi, NULL, 12, fr, sizeof(fr), 1, false);
	CHECK_EQ(used_idx(TXQ), 1);
	CHECK_EQ(stats(pi).tx_dropped, 1);
	test_bvm_free(bvm);
}

TEST(vnet_tx_reaches_backend)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[1514];
	uint32_t id, len;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	make_frame(fr, sizeof(fr), 7);
	transmit(pi, NULL, 12, fr, sizeof(fr), 3, false);
	CHECK_EQ(used_idx(TXQ), 1);
	used_entry(TXQ, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	REQUIRE(tsent_n == 1);
	CHECK_EQ(tsent_len[0], sizeof(fr));
	CHECK(memcmp(tsent[0], fr, sizeof(fr)) == 0);
	/* Header and frame in one buffer; a minimum frame. */
	transmit(pi, NULL, 12, fr, 14, 1, false);
	REQUIRE(tsent_n == 2);
	CHECK_EQ(tsent_len[1], 14);
	CHECK(msi_count == 0);			/* MSI-X not enabled: INTx */
	CHECK_EQ(stats(pi).tx_frames, 2);
	test_bvm_free(bvm);
}

TEST(vnet_tx_hostile)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[NETBE_MAX_FRAME + 100];
	uint8_t hdr[12];
	struct vnet_stats st;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | VIRTIO_F_VERSION_1);
	make_frame(fr, sizeof(fr), 3);
	/* Shorter than the header. */
	transmit(pi, NULL, 5, fr, 0, 1, false);
	/* Offloads never negotiated: checksum, then segmentation. */
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = 1;
	transmit(pi, hdr, 12, fr, 100, 1, false);
	hdr[0] = 0;
	hdr[1] = 1;				/* GSO_TCPV4 */
	transmit(pi, hdr, 12, fr, 100, 2, false);
	/* A runt, and a frame over 64 KiB. */
	transmit(pi, NULL, 12, fr, 10, 1, false);
	transmit(pi, NULL, 12, fr, NETBE_MAX_FRAME + 1, 4, false);
	CHECK_EQ(used_idx(TXQ), 5);		/* every chain comes back */
	CHECK_EQ(tsent_n, 0);
	st = stats(pi);
	CHECK_EQ(st.tx_bad_hdr, 3);
	CHECK_EQ(st.tx_runt, 1);
	CHECK_EQ(st.tx_too_big, 1);
	/* Exactly 64 KiB passes; and the device still works. */
	transmit(pi, NULL, 12, fr, NETBE_MAX_FRAME, 4, false);
	CHECK_EQ(tsent_n, 1);
	CHECK_EQ(tsent_len[0], NETBE_MAX_FRAME);
	/* Device-writable buffers on the transmit queue are not frame bytes. */
	uint64_t a[2] = { TXBUF_GPA, TXBUF_GPA + 0x1000 };
	uint32_t l[2] = { 12 + 60, 500 };
	memset(ram + TXBUF_GPA, 0, 12);
	put_desc(TXQ, q_next_desc[TXQ], a[0], l[0], VRING_DESC_F_NEXT,
	    (uint16_t)((q_next_desc[TXQ] + 1) % QSIZE));
	put_desc(TXQ, (q_next_desc[TXQ] + 1) % QSIZE, a[1], l[1], VRING_DESC_F_WRITE, 0);
	memcpy(ram + q_avail[TXQ] + 4 + 2 * (q_next_avail[TXQ] % QSIZE), &q_next_desc[TXQ], 2);
	q_next_avail[TXQ]++;
	__atomic_store_n((uint16_t *)(ram + q_avail[TXQ] + 2), q_next_avail[TXQ], __ATOMIC_RELEASE);
	notify(pi, TXQ, false);
	CHECK_EQ(tsent_n, 2);
	CHECK_EQ(tsent_len[1], 60);
	CHECK((rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET) == 0);
	test_bvm_free(bvm);
}

/* Deliver a frame as the backend's thread would: 0 or -EAGAIN. */
static int
deliver(const uint8_t *f, size_t len)
{
	return tbe->rx(tbe->rx_arg, NULL, f, len);
}

TEST(vnet_rx_one_buffer)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	uint8_t fr[100];
	uint32_t id, len;

	REQUIRE(bvm != NULL);
	/* Before the driver is running: dropped, not held. */
	make_frame(fr, sizeof(fr), 9);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	CHECK_EQ(stats(pi).rx_down, 1);
	driver_init(pi, F_MAC | VIRTIO_F_VERSION_1);
	CHECK(trx_ready >= 1);			/* DRIVER_OK tells the backend */
	uint64_t a = BUF_GPA;
	uint32_t l = 2048;
	memset(ram + BUF_GPA, 0xee, 2048);
	offer_chain(RXQ, 1, &a, &l, true);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	used_entry(RXQ, 0, &id, &len);
	CHECK_EQ(len, 12 + sizeof(fr));
	/* virtio_net_hdr_v1: no offloads, num_buffers 1 (5.1.6.4). */
	for (int i = 0; i < 10; i++)
		CHECK_EQ(ram[BUF_GPA + i], 0);
	CHECK_EQ(get16(BUF_GPA + 10), 1);
	CHECK(memcmp(ram + BUF_GPA + 12, fr, sizeof(fr)) == 0);
	CHECK_EQ(ram[BUF_GPA + 12 + sizeof(fr)], 0xee);
	/* Without MRG_RXBUF a buffer too small for the frame: dropped, the buffer kept. */
	a = BUF_GPA + 0x10000;
	l = 64;
	offer_chain(RXQ, 1, &a, &l, true);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(stats(pi).rx_too_big, 1);
	CHECK_EQ(deliver(fr, 40), 0);
	CHECK_EQ(used_idx(RXQ), 2);
	used_entry(RXQ, 1, &id, &len);
	CHECK_EQ(len, 52);
	CHECK_EQ(stats(pi).rx_frames, 2);
	/* A frame over 64 KiB from a backend is dropped. */
	static uint8_t big[NETBE_MAX_FRAME + 1];
	CHECK_EQ(deliver(big, sizeof(big)), 0);
	CHECK_EQ(stats(pi).rx_too_big, 2);
	test_bvm_free(bvm);
}

TEST(vnet_rx_mergeable)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[2500], got[4096];
	uint32_t id, len;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	/* Four 1000-byte buffers, the second made of two descriptors. */
	uint64_t a0 = BUF_GPA, a1[2] = { BUF_GPA + 0x10000, BUF_GPA + 0x18000 };
	uint64_t a2 = BUF_GPA + 0x20000, a3 = BUF_GPA + 0x30000;
	uint32_t l0 = 1000, l1[2] = { 400, 600 }, l2 = 1000, l3 = 1000;
	offer_chain(RXQ, 1, &a0, &l0, true);
	offer_chain(RXQ, 2, a1, l1, true);
	offer_chain(RXQ, 1, &a2, &l2, true);
	offer_chain(RXQ, 1, &a3, &l3, true);
	make_frame(fr, sizeof(fr), 5);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	/* 12 + 2500 bytes: three buffers, num_buffers 3 in the first. */
	CHECK_EQ(used_idx(RXQ), 3);
	used_entry(RXQ, 0, &id, &len);
	CHECK_EQ(len, 1000);
	used_entry(RXQ, 1, &id, &len);
	CHECK_EQ(len, 1000);
	used_entry(RXQ, 2, &id, &len);
	CHECK_EQ(len, 512);
	CHECK_EQ(get16(BUF_GPA + 10), 3);
	memcpy(got, ram + BUF_GPA + 12, 988);
	memcpy(got + 988, ram + a1[0], 400);
	memcpy(got + 1388, ram + a1[1], 600);
	memcpy(got + 1988, ram + a2, 512);
	CHECK(memcmp(got, fr, sizeof(fr)) == 0);
	/* A small frame takes one buffer: num_buffers 1. */
	CHECK_EQ(deliver(fr, 60), 0);
	CHECK_EQ(used_idx(RXQ), 4);
	CHECK_EQ(get16(a3 + 10), 1);
	test_bvm_free(bvm);
}

TEST(vnet_rx_no_buffers_held)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[2500];
	int ready;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
	make_frame(fr, sizeof(fr), 11);
	/* No buffers: the backend holds the frames, in order. */
	netbe_holdq_deliver(tbe, &tholdq, fr, sizeof(fr));
	netbe_holdq_deliver(tbe, &tholdq, fr, 70);
	CHECK_EQ(tholdq.count, 2);
	/* One buffer is not enough for 2512 bytes: still held, the buffer not used. */
	uint64_t a = BUF_GPA;
	uint32_t l = 1500;
	ready = trx_ready;
	offer_chain(RXQ, 1, &a, &l, true);
	notify(pi, RXQ, false);
	CHECK_EQ(trx_ready, ready + 1);
	netbe_holdq_flush(tbe, &tholdq);
	CHECK_EQ(tholdq.count, 2);
	CHECK_EQ(used_idx(RXQ), 0);
	/* With EVENT_IDX the device asked to hear of the next buffer (2.7.10). */
	CHECK_EQ(get16(q_used[RXQ] + 4 + 8 * QSIZE), 1);
	uint64_t b[2] = { BUF_GPA + 0x10000, BUF_GPA + 0x20000 };
	uint32_t bl = 1500;
	offer_chain(RXQ, 1, &b[0], &bl, true);
	offer_chain(RXQ, 1, &b[1], &bl, true);
	netbe_holdq_flush(tbe, &tholdq);
	CHECK_EQ(tholdq.count, 0);
	CHECK_EQ(used_idx(RXQ), 3);
	CHECK_EQ(get16(BUF_GPA + 10), 2);
	CHECK_EQ(get16(b[1] + 10), 1);
	CHECK(memcmp(ram + b[1] + 12, fr, 70) == 0);
	/* The hold queue is bounded: a guest that never gives buffers costs drops, not memory. */
	for (int i = 0; i < 5000; i++)
		netbe_holdq_deliver(tbe, &tholdq, fr, 60);
	CHECK(tholdq.count <= 1024);
	CHECK(tbe->rx_dropped >= 5000 - 1024);
	test_bvm_free(bvm);
}

TEST(vnet_legacy_header)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	uint8_t fr[80];
	uint32_t id, len;

	REQUIRE(bvm != NULL);
	/* A legacy driver without MRG_RXBUF: the 10-byte header (5.1.6.1). */
	legacy_init(pi, (uint32_t)F_MAC);
	CHECK_EQ(q_size[TXQ], 256);
	make_frame(fr, sizeof(fr), 2);
	transmit(pi, NULL, 10, fr, sizeof(fr), 2, true);
	REQUIRE(tsent_n == 1);
	CHECK_EQ(tsent_len[0], sizeof(fr));
	CHECK(memcmp(tsent[0], fr, sizeof(fr)) == 0);
	uint64_t a = BUF_GPA;
	uint32_t l = 1526;
	offer_chain(RXQ, 1, &a, &l, true);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	used_entry(RXQ, 0, &id, &len);
	CHECK_EQ(len, 10 + sizeof(fr));
	CHECK(memcmp(ram + BUF_GPA + 10, fr, sizeof(fr)) == 0);
	/* With MRG_RXBUF the legacy header has num_buffers: 12 bytes. */
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, 0);		/* reset, then clean rings */
	memset(q_next_avail, 0, sizeof(q_next_avail));
	memset(q_next_desc, 0, sizeof(q_next_desc));
	memset(ram + 0x100000, 0, 0x20000);
	legacy_init(pi, (uint32_t)(F_MAC | F_MRG));
	offer_chain(RXQ, 1, &a, &l, true);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	used_entry(RXQ, 0, &id, &len);
	CHECK_EQ(len, 12 + sizeof(fr));
	CHECK_EQ(get16(BUF_GPA + 10), 1);
	test_bvm_free(bvm);
}

TEST(vnet_hostile_rx_ring)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	uint8_t fr[60];

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	/* A receive buffer outside guest RAM breaks the queue; the frame is dropped. */
	uint64_t a = RAM_SIZE - 16;
	uint32_t l = 4096;
	offer_chain(RXQ, 1, &a, &l, true);
	make_frame(fr, sizeof(fr), 4);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	CHECK(rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);	/* stopped: dropped, never held */
	/* Transmission still works (another queue), and a reset brings rx back. */
	transmit(pi, NULL, 12, fr, sizeof(fr), 1, false);
	CHECK_EQ(tsent_n, 1);
	memset(ram + 0x10000, 0, 0x20000);
	memset(q_next_avail, 0, sizeof(q_next_avail));
	memset(q_next_desc, 0, sizeof(q_next_desc));
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	a = BUF_GPA;
	offer_chain(RXQ, 1, &a, &l, true);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	test_bvm_free(bvm);
}

TEST(vnet_option_errors)
{
	struct pci_devinst *pi;

	CHECK(vm_with_net("nosuchbackend", &pi) == NULL);
	CHECK(vm_with_net("testnet,nosuchopt=1", &pi) == NULL);
	CHECK(vm_with_net("testnet,flag", &pi) == NULL);
	CHECK(vm_with_net("testnet,mac=01:00:00:00:00:01", &pi) == NULL);	/* multicast */
	CHECK(vm_with_net("testnet,mac=52:54:00:12:34", &pi) == NULL);
	CHECK(vm_with_net("testnet,mac=52:54:00:12:34:567", &pi) == NULL);
	CHECK(vm_with_net("testnet,mac=00:00:00:00:00:00", &pi) == NULL);
	CHECK(vm_with_net("testnet,mtu=20", &pi) == NULL);
	CHECK(vm_with_net("testnet,mtu=70000", &pi) == NULL);
	CHECK(vm_with_net("testnet,mtu=15x", &pi) == NULL);
	CHECK(vm_with_net("testnet,hostfwd=tcp::2222-:22", &pi) == NULL);
	CHECK(vm_with_net("tap=averyveryverylongname", &pi) == NULL);
	CHECK(vm_with_net("tap", &pi) == NULL);
	CHECK(vm_with_net("slirp,hostfwd=tcp:2222-:22", &pi) == NULL);
}

TEST(vnet_legacy_config_syntax)
{
	struct config *cfg = config_create();

	REQUIRE(cfg != NULL);
	CHECK_EQ(netbe_legacy_config(cfg, "n", "slirp,hostfwd=tcp::1-:2,mac=02:00:00:00:00:01,"
	    "hostfwd=udp:127.0.0.1:3-10.0.2.16:4"), 0);
	CHECK(strcmp(get_config_value_node(cfg, "n", "backend"), "slirp") == 0);
	CHECK(strcmp(get_config_value_node(cfg, "n", "hostfwd"),
	    "tcp::1-:2;udp:127.0.0.1:3-10.0.2.16:4") == 0);
	CHECK_EQ(netbe_legacy_config(cfg, "m", "tap=mytap,mtu=1400"), 0);
	CHECK(strcmp(get_config_value_node(cfg, "m", "backend"), "tap") == 0);
	CHECK(strcmp(get_config_value_node(cfg, "m", "tap"), "mytap") == 0);
	CHECK_EQ(netbe_legacy_config(cfg, "t", "tap0"), 0);
	CHECK(strcmp(get_config_value_node(cfg, "t", "backend"), "tap0") == 0);
	config_destroy(cfg);
}

TEST(slirp_hostfwd_parse)
{
	struct sockaddr_in h, g;
	bool udp;

	CHECK_EQ(slirp_parse_hostfwd("tcp::2222-:22", &udp, &h, &g, "t"), 0);
	CHECK(!udp && h.sin_addr.s_addr == htonl(INADDR_ANY) && ntohs(h.sin_port) == 2222);
	CHECK(g.sin_addr.s_addr == htonl(0x0a00020f) && ntohs(g.sin_port) == 22);
	CHECK_EQ(slirp_parse_hostfwd("udp:127.0.0.1:5353-10.0.2.20:53", &udp, &h, &g, "t"), 0);
	CHECK(udp && h.sin_addr.s_addr == htonl(0x7f000001) && ntohs(h.sin_port) == 5353);
	CHECK(g.sin_addr.s_addr == htonl(0x0a000214) && ntohs(g.sin_port) == 53);
	static const char *const bad[] = {
		"", "tcp", "tcp:", "icmp::1-:2", "tcp::2222", "tcp:2222-:22", "tcp::2222-22",
		"tcp::99999-:22", "tcp::0-:22", "tcp::-:22", "tcp::22-:", "tcp:1.2.3:22-:22",
		"tcp:localhost:22-:22", "tcp::22-:22x", "tcp::+22-:22", "tcp::22--:22",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = slirp_parse_hostfwd(bad[i], &udp, &h, &g, "t");
		if (r == 0)
			fprintf(stderr, "hostfwd '%s' accepted\n", bad[i]);
		CHECK(r != 0);
	}
}

/* ---- offloads ---- */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Wait until the guest's receive queue has @n used entries. */
static bool
wait_used(int q, uint16_t n, int ms)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < ms && used_idx(q) < n; i++)
		nanosleep(&ts, NULL);
	return used_idx(q) >= n;
}

static void
post_rx_buffers(int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t a = BUF_GPA + (uint64_t)i * 0x10000;
		uint32_t l = 0x10000;

		offer_chain(RXQ, 1, &a, &l, true);
	}
}


static const uint8_t host_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

#define TH_FIN	0x01
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_CWR	0x80

/*
 * A TCP frame from 10.0.2.15:4660 to 10.0.2.2:80 (or fe80::15 to fe80::2
 * with @v6), with an 802.1Q tag when @vlan, a 32-byte TCP header
 * (timestamps) and @plen bytes of payload; its TCP checksum field holds
 * the pseudo-header sum, as a driver leaves it for NEEDS_CSUM.  Returns
 * the frame's length; *l3p and *l4p are the IP and TCP headers' offsets.
 */
static size_t
tcp_frame(uint8_t *f, bool v6, bool vlan, size_t plen, uint32_t seq, uint8_t flags,
    size_t *l3p, size_t *l4p)
{
	size_t l3 = vlan ? 18 : 14, l4 = l3 + (v6 ? 40 : 20), thl = 32, len = l4 + thl + plen;
	uint8_t *ip = f + l3, *th = f + l4, ph[40];
	uint16_t pc;

	memset(f, 0, l4 + thl);
	memcpy(f, host_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	if (vlan) {
		f[12] = 0x81;
		f[15] = 5;
	}
	f[l3 - 2] = v6 ? 0x86 : 0x08;
	f[l3 - 1] = v6 ? 0xdd : 0x00;
	if (!v6) {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((len - l3) >> 8);
		ip[3] = (uint8_t)(len - l3);
		ip[4] = 0xab;
		ip[5] = 0xcd;			/* identification */
		ip[6] = 0x40;			/* DF */
		ip[8] = 64;
		ip[9] = 6;
		ip[12] = 10; ip[14] = 2; ip[15] = 15;
		ip[16] = 10; ip[18] = 2; ip[19] = 2;
		pc = ip_csum(ip, 20);
		ip[10] = (uint8_t)(pc >> 8);
		ip[11] = (uint8_t)pc;
	} else {
		ip[0] = 0x60;
		ip[4] = (uint8_t)((len - l4) >> 8);
		ip[5] = (uint8_t)(len - l4);
		ip[6] = 6;
		ip[7] = 64;
		ip[8] = 0xfe; ip[9] = 0x80; ip[23] = 0x15;
		ip[24] = 0xfe; ip[25] = 0x80; ip[39] = 0x02;
	}
	th[0] = 0x12; th[1] = 0x34; th[3] = 80;
	th[4] = (uint8_t)(seq >> 24); th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8); th[7] = (uint8_t)seq;
	th[11] = 1;				/* ack */
	th[12] = 8 << 4;			/* 32 bytes */
	th[13] = flags;
	th[14] = 0x10;				/* window */
	th[20] = 1; th[21] = 1; th[22] = 8; th[23] = 10;	/* NOP NOP timestamps */
	th[27] = 7; th[31] = 9;
	for (size_t i = 0; i < plen; i++)
		f[l4 + thl + i] = (uint8_t)(i * 7 + 3 + i / 251);
	/* The pseudo-header sum, not complemented (what Linux leaves for CHECKSUM_PARTIAL). */
	if (v6) {
		memcpy(ph, ip + 8, 32);
		memset(ph + 32, 0, 8);
		ph[34] = (uint8_t)((len - l4) >> 8);
		ph[35] = (uint8_t)(len - l4);
		ph[39] = 6;
		pc = (uint16_t)~ip_csum(ph, 40);
	} else {
		memcpy(ph, ip + 12, 8);
		ph[8] = 0;
		ph[9] = 6;
		ph[10] = (uint8_t)((len - l4) >> 8);
		ph[11] = (uint8_t)(len - l4);
		pc = (uint16_t)~ip_csum(ph, 12);
	}
	th[16] = (uint8_t)(pc >> 8);
	th[17] = (uint8_t)pc;
	*l3p = l3;
	*l4p = l4;
	return len;
}

/* The transport checksum of the frame verifies: pseudo-header and segment sum to all ones. */
static bool
l4_csum_ok(const uint8_t *f, size_t len, size_t l3, bool v6, uint8_t proto)
{
	static uint8_t buf[NETBE_MAX_FRAME + 64];
	size_t l4 = l3 + (v6 ? 40 : 20), n = len - l4, ph;

	if (v6) {
		memcpy(buf, f + l3 + 8, 32);
		memset(buf + 32, 0, 8);
		buf[34] = (uint8_t)(n >> 8);
		buf[35] = (uint8_t)n;
		buf[39] = proto;
		ph = 40;
	} else {
		memcpy(buf, f + l3 + 12, 8);
		buf[8] = 0;
		buf[9] = proto;
		buf[10] = (uint8_t)(n >> 8);
		buf[11] = (uint8_t)n;
		ph = 12;
	}
	memcpy(buf + ph, f + l4, n);
	return ip_csum(buf, ph + n) == 0;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A header asking for offloads (little-endian fields, 5.1.6). */
static void
offload_hdr(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
    uint16_t csum_start, uint16_t csum_offset)
{
	memset(h, 0, 12);
	h[0] = flags;
	h[1] = gso;
	memcpy(h + 2, &hdr_len, 2);
	memcpy(h + 4, &gso_size, 2);
	memcpy(h + 6, &csum_start, 2);
	memcpy(h + 8, &csum_offset, 2);
}

TEST(netoff_csum_matches_reference)
{
	static uint8_t buf[4100];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (uint8_t)(x >> 16);
	}
	/* Every length to 300 and some long ones, from even and odd addresses. */
	for (size_t start = 0; start < 4; start++)
		for (size_t len = 0; len < 4096; len = len < 300 ? len + 1 : len * 2 + 1) {
			uint16_t c = netoff_csum_fold(netoff_csum_add(0, buf + start, len));
			uint8_t b[2];

			memcpy(b, &c, 2);
			if (be16(b) != ip_csum(buf + start, len)) {
				fprintf(stderr, "start %zu len %zu: %04x, want %04x\n", start, len,
				    be16(b), ip_csum(buf + start, len));
				CHECK(0);
			}
		}
	/* Sums split anywhere even add up to the whole. */
	uint32_t s = netoff_csum_add(netoff_csum_add(0, buf, 1000), buf + 1000, 3001);
	uint16_t c = netoff_csum_fold(s);
	uint8_t b[2];
	memcpy(b, &c, 2);
	CHECK_EQ(be16(b), ip_csum(buf, 4001));
	/* A computed zero is stored as 0xffff (RFC 768); a field outside the frame is refused. */
	uint8_t z[4] = { 0xff, 0xff, 0x00, 0x00 };
	CHECK_EQ(netoff_csum_complete(z, 4, 0, 2), 0);
	CHECK(z[2] == 0xff && z[3] == 0xff);
	CHECK_EQ(netoff_csum_complete(z, 4, 0, 3), -EINVAL);
	CHECK_EQ(netoff_csum_complete(z, 4, 4, 0), -EINVAL);
	CHECK_EQ(netoff_csum_complete(z, 4, 3, 0), -EINVAL);
	CHECK_EQ(netoff_csum_complete(z, 4, 2, 0), 0);
}

TEST(vnet_tx_csum_completed)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[2000];
	uint8_t hdr[12];
	size_t l3, l4, len;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | F_CSUM | VIRTIO_F_VERSION_1);
	/* TCP, an odd payload, over three buffers. */
	len = tcp_frame(fr, false, false, 999, 1000, TH_ACK | TH_PSH, &l3, &l4);
	CHECK(!l4_csum_ok(fr, len, l3, false, 6));	/* partial until completed */
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 3, false);
	REQUIRE(tsent_n == 1);
	CHECK_EQ(tsent_len[0], len);
	CHECK(l4_csum_ok(tsent[0], len, l3, false, 6));
	CHECK(memcmp(tsent[0], fr, l4 + 16) == 0);
	CHECK(memcmp(tsent[0] + l4 + 18, fr + l4 + 18, len - l4 - 18) == 0);
	/* UDP over IPv6 behind a VLAN tag: csum_offset 6. */
	len = tcp_frame(fr, true, true, 41, 0, 0, &l3, &l4);
	fr[l3 + 6] = 17;
	fr[l4 + 4] = 0;
	fr[l4 + 5] = (uint8_t)(len - l4);
	uint8_t ph[40];
	memcpy(ph, fr + l3 + 8, 32);
	memset(ph + 32, 0, 8);
	ph[35] = (uint8_t)(len - l4);
	ph[39] = 17;
	uint16_t pc = (uint16_t)~ip_csum(ph, 40);
	fr[l4 + 6] = (uint8_t)(pc >> 8);
	fr[l4 + 7] = (uint8_t)pc;
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)l4, 6);
	transmit(pi, hdr, 12, fr, len, 1, false);
	REQUIRE(tsent_n == 2);
	CHECK(l4_csum_ok(tsent[1], len, l3, true, 17));
	/* No NEEDS_CSUM: the frame goes as it is. */
	offload_hdr(hdr, 0, 0, 0, 0, 0, 0);
	transmit(pi, hdr, 12, fr, len, 2, false);
	REQUIRE(tsent_n == 3);
	CHECK(memcmp(tsent[2], fr, len) == 0);
	struct vnet_stats st = stats(pi);
	CHECK_EQ(st.tx_frames, 3);
	CHECK_EQ(st.tx_csum, 2);
	CHECK_EQ(st.tx_bad_hdr, 0);
	test_bvm_free(bvm);
}

/* Check the segments tsent[first..] of a TSO frame @orig against what they must be. */
static void
check_segments(const uint8_t *orig, size_t len, bool v6, size_t l3, size_t l4, size_t mss,
    int first, int nseg)
{
	size_t pay = l4 + 32, plen = len - pay;
	uint32_t seq0 = be32(orig + l4 + 4);
	uint8_t flags = orig[l4 + 13];

	REQUIRE(tsent_n == first + nseg);
	for (int i = 0; i < nseg; i++) {
		const uint8_t *s = tsent[first + i];
		size_t off = (size_t)i * mss, n = plen - off < mss ? plen - off : mss;
		uint8_t want = flags;

		CHECK_EQ(tsent_len[first + i], pay + n);
		CHECK(memcmp(s, orig, l3) == 0);			/* Ethernet, tag */
		if (v6) {
			CHECK_EQ(be16(s + l3 + 4), 32 + n);
			CHECK(memcmp(s + l3 + 6, orig + l3 + 6, 34) == 0);
		} else {
			CHECK_EQ(be16(s + l3 + 2), 20 + 32 + n);
			CHECK_EQ(be16(s + l3 + 4), (uint16_t)(be16(orig + l3 + 4) + i));
			CHECK_EQ(ip_csum(s + l3, 20), 0);
			CHECK(memcmp(s + l3 + 12, orig + l3 + 12, 8) == 0);
			CHECK_EQ(s[l3 + 9], 6);
		}
		CHECK(memcmp(s + l4, orig + l4, 4) == 0);		/* ports */
		CHECK_EQ(be32(s + l4 + 4), seq0 + (uint32_t)off);
		CHECK(memcmp(s + l4 + 8, orig + l4 + 8, 5) == 0);	/* ack, offset */
		if (i + 1 < nseg)
			want &= (uint8_t)~(TH_FIN | TH_PSH);
		if (i > 0)
			want &= (uint8_t)~TH_CWR;
		CHECK_EQ(s[l4 + 13], want);
		CHECK(memcmp(s + l4 + 18, orig + l4 + 18, 14) == 0);	/* options */
		CHECK(memcmp(s + pay, orig + pay + off, n) == 0);
		CHECK(l4_csum_ok(s, pay + n, l3, v6, 6));
	}
}

TEST(vnet_tx_tso_segmented)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[NETBE_MAX_FRAME];
	uint8_t hdr[12];
	size_t l3, l4, len;
	struct vnet_stats st;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | F_CSUM | F_HTSO4 | F_HTSO6 | VIRTIO_F_VERSION_1);
	/* IPv4, 10000 bytes at MSS 1448: 6 full segments and 1304; the sequence wraps. */
	len = tcp_frame(fr, false, false, 10000, 0xfffff000, TH_ACK | TH_PSH | TH_FIN | TH_CWR,
	    &l3, &l4);
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, (uint16_t)(l4 + 32),
	    1448, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 5, false);
	check_segments(fr, len, false, l3, l4, 1448, 0, 7);
	st = stats(pi);
	CHECK_EQ(st.tx_frames, 1);
	CHECK_EQ(st.tx_tso, 1);
	CHECK_EQ(st.tx_segments, 7);
	/* IPv6 behind a VLAN tag, payload an exact multiple; hdr_len wrong (only a hint). */
	len = tcp_frame(fr, true, true, 3000, 77, TH_ACK | TH_PSH, &l3, &l4);
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 9, 1000,
	    (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 2, false);
	check_segments(fr, len, true, l3, l4, 1000, 7, 3);
	/* Less payload than one MSS: one segment, checksummed. */
	len = tcp_frame(fr, false, false, 100, 5, TH_ACK | TH_FIN, &l3, &l4);
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 1448,
	    (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false);
	check_segments(fr, len, false, l3, l4, 1448, 10, 1);
	/* A 64 KiB frame at a small MSS. */
	len = tcp_frame(fr, false, false, NETBE_MAX_FRAME - 66, 1, TH_ACK, &l3, &l4);
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 1460,
	    (uint16_t)l4, 16);
	tsent_n = 0;
	transmit(pi, hdr, 12, fr, len, 8, false);
	CHECK_EQ(tsent_n, 45);
	st = stats(pi);
	CHECK_EQ(st.tx_tso, 4);
	CHECK_EQ(st.tx_segments, 7 + 3 + 1 + 45);
	CHECK_EQ(st.tx_bad_hdr, 0);
	test_bvm_free(bvm);
}

TEST(vnet_tx_offload_hostile)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("testnet", &pi);
	static uint8_t fr[4000], bad[4000];
	uint8_t hdr[12];
	size_t l3, l4, len;
	int sent = 0;
	const uint8_t NC = VIRTIO_NET_HDR_F_NEEDS_CSUM, V4 = VIRTIO_NET_HDR_GSO_TCPV4;

	REQUIRE(bvm != NULL);
	/* TSO4 but not TSO6 nor ECN. */
	driver_init(pi, F_MAC | F_MRG | F_CSUM | F_HTSO4 | VIRTIO_F_VERSION_1);
	len = tcp_frame(fr, false, false, 2000, 1, TH_ACK, &l3, &l4);
	/* The checksum field outside the frame, three ways. */
	offload_hdr(hdr, NC, 0, 0, 0, (uint16_t)len, 0);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, 0, 0, 0, (uint16_t)(len - 1), 0);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, 0, 0, 0, (uint16_t)l4, 0xffff);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	/* GSO without NEEDS_CSUM, with gso_size 0, of types not negotiated, ECN alone. */
	offload_hdr(hdr, 0, V4, 0, 1448, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, V4, 0, 0, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, VIRTIO_NET_HDR_GSO_TCPV6, 0, 1448, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, V4 | VIRTIO_NET_HDR_GSO_ECN, 0, 1448, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, NC, VIRTIO_NET_HDR_GSO_UDP, 0, 1448, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	offload_hdr(hdr, 0, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 0, 0);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	CHECK_EQ(stats(pi).tx_bad_hdr, sent);
	/* Frames TSO cannot parse, each a copy of the good one with one thing wrong. */
	offload_hdr(hdr, NC, V4, 0, 1448, (uint16_t)l4, 16);
	static const struct { size_t off; uint8_t val; } breaks[] = {
		{ 12, 0x08 }, { 13, 0x06 },	/* ARP, not IPv4 */
		{ 14, 0x44 },			/* IHL 4 */
		{ 14, 0x65 },			/* version 6 */
		{ 23, 17 },			/* UDP */
		{ 20, 0x20 },			/* MF: a fragment */
		{ 21, 0x01 },			/* a fragment offset */
		{ 46, 0x40 },			/* TCP data offset 4 */
	};
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		memcpy(bad, fr, len);
		bad[breaks[i].off] = breaks[i].val;
		if (breaks[i].off == 12)
			bad[13] = 0x06;
		if (breaks[i].off == 13)
			continue;
		transmit(pi, hdr, 12, bad, len, 2, false), sent++;
	}
	/* Headers longer than the frame: IHL 15, TCP offset 15, in a header-only frame. */
	len = tcp_frame(bad, false, false, 0, 1, TH_ACK, &l3, &l4);
	bad[14] = 0x4f;
	transmit(pi, hdr, 12, bad, len, 1, false), sent++;
	len = tcp_frame(bad, false, false, 0, 1, TH_ACK, &l3, &l4);
	bad[l4 + 12] = 0xf0;
	transmit(pi, hdr, 12, bad, len, 1, false), sent++;
	/* Cut inside the IPv4 header, and inside a VLAN tag. */
	transmit(pi, hdr, 12, fr, 14 + 10, 1, false), sent++;
	memcpy(bad, fr, 16);
	bad[12] = 0x81;
	bad[13] = 0x00;
	transmit(pi, hdr, 12, bad, 16, 1, false), sent++;
	/* An MSS of 1 for 2000 bytes: more segments than allowed. */
	len = tcp_frame(fr, false, false, 2000, 1, TH_ACK, &l3, &l4);
	offload_hdr(hdr, NC, V4, 0, 1, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false), sent++;
	CHECK_EQ(tsent_n, 0);
	CHECK_EQ(stats(pi).tx_bad_hdr, sent);
	/* Every chain came back, nothing broke, and a good TSO frame still goes. */
	CHECK_EQ(used_idx(TXQ), sent);
	CHECK((rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET) == 0);
	offload_hdr(hdr, NC, V4, 0, 1000, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false);
	check_segments(fr, len, false, l3, l4, 1000, 0, 2);
	test_bvm_free(bvm);

	/* IPv6 with an extension header (hop-by-hop) is not segmented. */
	bvm = vm_with_net("testnet", &pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | F_CSUM | F_HTSO6 | VIRTIO_F_VERSION_1);
	len = tcp_frame(fr, true, false, 2000, 1, TH_ACK, &l3, &l4);
	fr[l3 + 6] = 0;
	offload_hdr(hdr, NC, VIRTIO_NET_HDR_GSO_TCPV6, 0, 1000, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false);
	CHECK_EQ(tsent_n, 0);
	CHECK_EQ(stats(pi).tx_bad_hdr, 1);
	test_bvm_free(bvm);
}

/* The header the guest got with the used rx entry @i (one buffer per frame here). */
static const uint8_t *
rx_hdr(uint16_t i)
{
	uint32_t id, len;

	used_entry(RXQ, i, &id, &len);
	return ram + BUF_GPA + (uint64_t)id * 0x10000;
}

TEST(vnet_rx_data_valid)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	uint8_t fr[100];

	/* A backend that vouches for its checksums (slirp): GUEST_CSUM offered. */
	tnet_csum_valid = true;
	bvm = vm_with_net("testnet", &pi);
	tnet_csum_valid = false;
	REQUIRE(bvm != NULL);
	CHECK(offered(pi) & F_GCSUM);
	CHECK((offered(pi) & (F_GTSO4 | F_GTSO6)) == 0);
	driver_init(pi, F_MAC | F_MRG | F_GCSUM | VIRTIO_F_VERSION_1);
	post_rx_buffers(2);
	make_frame(fr, sizeof(fr), 1);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	REQUIRE(used_idx(RXQ) == 1);
	CHECK_EQ(rx_hdr(0)[0], VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK_EQ(rx_hdr(0)[1], 0);
	CHECK_EQ(get16(BUF_GPA + 10), 1);
	test_bvm_free(bvm);
	/* Without GUEST_CSUM negotiated: flags 0 (5.1.6.4.1). */
	tnet_csum_valid = true;
	bvm = vm_with_net("testnet", &pi);
	tnet_csum_valid = false;
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(2);
	memset(ram + BUF_GPA, 0xee, 12);
	CHECK_EQ(deliver(fr, sizeof(fr)), 0);
	REQUIRE(used_idx(RXQ) == 1);
	CHECK_EQ(rx_hdr(0)[0], 0);
	test_bvm_free(bvm);
	/* A backend that does not vouch: no GUEST_CSUM offered, so none to negotiate. */
	bvm = vm_with_net("testnet", &pi);
	REQUIRE(bvm != NULL);
	CHECK((offered(pi) & F_GCSUM) == 0);
	test_bvm_free(bvm);
}

/* Deliver a frame with a backend's header, as a tap's thread does. */
static int
deliver_hdr(const struct vnet_hdr *h, const uint8_t *f, size_t len)
{
	return tbe->rx(tbe->rx_arg, h, f, len);
}

TEST(vnet_hdr_backend_passthrough)
{
	const uint64_t all = F_CSUM | F_HTSO4 | F_HTSO6 | F_HECN | F_GCSUM | F_GTSO4 | F_GTSO6 |
	    (1ULL << 9);
	const uint64_t nego = F_MAC | F_MRG | F_CSUM | F_HTSO4 | F_GCSUM | F_GTSO4 |
	    VIRTIO_F_VERSION_1;
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	static uint8_t fr[5000];
	uint8_t hdr[12];
	size_t l3, l4, len;
	struct vnet_hdr bh;

	/* A backend carrying headers (a tap) offers what it takes. */
	tnet_vnet = true;
	tnet_caps = all;
	bvm = vm_with_net("testnet", &pi);
	tnet_vnet = false;
	tnet_caps = 0;
	REQUIRE(bvm != NULL);
	CHECK_EQ(offered(pi) & all, all);
	driver_init(pi, nego);
	/* The backend hears what the driver took. */
	CHECK_EQ(tnet_features, nego);
	/* A TSO frame passes whole, with its header; other flags and num_buffers cleared. */
	len = tcp_frame(fr, false, false, 4000, 9, TH_ACK | TH_PSH, &l3, &l4);
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID,
	    VIRTIO_NET_HDR_GSO_TCPV4, (uint16_t)(l4 + 32), 1448, (uint16_t)l4, 16);
	hdr[10] = 7;
	transmit(pi, hdr, 12, fr, len, 3, false);
	REQUIRE(tsent_n == 1);
	CHECK(tsent_had_hdr[0]);
	CHECK_EQ(tsent_len[0], len);
	CHECK(memcmp(tsent[0], fr, len) == 0);
	CHECK_EQ(tsent_hdr[0].flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(tsent_hdr[0].gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(tsent_hdr[0].gso_size, 1448);
	CHECK_EQ(tsent_hdr[0].hdr_len, l4 + 32);
	CHECK_EQ(tsent_hdr[0].csum_start, l4);
	CHECK_EQ(tsent_hdr[0].csum_offset, 16);
	CHECK_EQ(tsent_hdr[0].num_buffers, 0);
	/* Still checked: TSO6 was not negotiated. */
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	transmit(pi, hdr, 12, fr, len, 1, false);
	CHECK_EQ(tsent_n, 1);
	CHECK_EQ(stats(pi).tx_bad_hdr, 1);
	/* Receive: a GSO frame keeps its header, num_buffers added. */
	post_rx_buffers(4);
	memset(&bh, 0, sizeof(bh));
	bh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	bh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	bh.hdr_len = (uint16_t)(l4 + 32);
	bh.gso_size = 1448;
	bh.csum_start = (uint16_t)l4;
	bh.csum_offset = 16;
	bh.num_buffers = 99;
	CHECK_EQ(deliver_hdr(&bh, fr, len), 0);
	REQUIRE(used_idx(RXQ) == 1);
	const uint8_t *g = rx_hdr(0);
	CHECK_EQ(g[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(g[1], VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(g[2] | g[3] << 8, l4 + 32);
	CHECK_EQ(g[4] | g[5] << 8, 1448);
	CHECK_EQ(g[6] | g[7] << 8, l4);
	CHECK_EQ(g[8] | g[9] << 8, 16);
	CHECK_EQ(g[10] | g[11] << 8, 1);
	CHECK(memcmp(g + 12, fr, len) == 0);
	/* Offloads the driver did not take are dropped: TSO6, ECN. */
	bh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	CHECK_EQ(deliver_hdr(&bh, fr, len), 0);
	bh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(deliver_hdr(&bh, fr, len), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(stats(pi).rx_bad_offload, 2);
	/* A reset turns the backend's offloads off; a driver without GUEST_CSUM. */
	wr(pi, 0x14, 1, 0);
	CHECK_EQ(tnet_features, 0);
	memset(ram + 0x10000, 0, 0x20000);
	memset(q_next_avail, 0, sizeof(q_next_avail));
	memset(q_next_desc, 0, sizeof(q_next_desc));
	memset(q_seen_used, 0, sizeof(q_seen_used));
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	CHECK_EQ(tnet_features, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(4);
	memset(&bh, 0, sizeof(bh));
	bh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	memset(ram + BUF_GPA, 0xee, 12);
	CHECK_EQ(deliver_hdr(&bh, fr, 100), 0);
	REQUIRE(used_idx(RXQ) == 1);
	CHECK_EQ(rx_hdr(0)[0], 0);		/* flags zero without GUEST_CSUM */
	bh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	CHECK_EQ(deliver_hdr(&bh, fr, 100), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(stats(pi).rx_bad_offload, 3);
	/* Transmit: NEEDS_CSUM now refused; a plain frame gets a zero header. */
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false);
	CHECK_EQ(tsent_n, 1);
	transmit(pi, NULL, 12, fr, 60, 1, false);
	REQUIRE(tsent_n == 2);
	CHECK(tsent_had_hdr[1]);
	CHECK_EQ(tsent_hdr[1].flags | tsent_hdr[1].gso_type, 0);
	test_bvm_free(bvm);
}

/* ---- through slirp ---- */

/* The frame in the used rx entry @i (MRG_RXBUF, one buffer each here). */
static const uint8_t *
rx_frame(uint16_t i, uint32_t *len)
{
	uint32_t id;

	used_entry(RXQ, i, &id, len);
	*len -= 12;
	return ram + BUF_GPA + (uint64_t)id * 0x10000 + 12;
}

/* Find a received frame of @ethertype satisfying @match among those used so far. */
static const uint8_t *
find_rx(uint16_t ethertype, bool (*match)(const uint8_t *, uint32_t), uint32_t *lenp)
{
	for (uint16_t i = 0; i < used_idx(RXQ); i++) {
		uint32_t len;
		const uint8_t *f = rx_frame(i, &len);

		if (len >= 14 && (f[12] << 8 | f[13]) == ethertype && match(f, len)) {
			*lenp = len;
			return f;
		}
	}
	return NULL;
}

static bool
is_arp_reply_10_0_2_2(const uint8_t *f, uint32_t len)
{
	static const uint8_t ip[4] = { 10, 0, 2, 2 };

	return len >= 42 && f[20] == 0 && f[21] == 2 && memcmp(f + 28, ip, 4) == 0 &&
	    memcmp(f + 32, guest_mac, 6) == 0;
}

TEST(slirp_arp_reply)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("slirp", &pi);
	uint8_t f[42];
	uint32_t len;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(8);
	notify(pi, RXQ, false);
	/* ARP who-has 10.0.2.2 tell 10.0.2.15 (RFC 826). */
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08; f[13] = 0x06;
	f[14] = 0; f[15] = 1; f[16] = 0x08; f[17] = 0; f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;
	memcpy(f + 22, guest_mac, 6);
	f[28] = 10; f[29] = 0; f[30] = 2; f[31] = 15;
	memset(f + 32, 0, 6);
	f[38] = 10; f[39] = 0; f[40] = 2; f[41] = 2;
	transmit(pi, NULL, 12, f, sizeof(f), 1, false);
	CHECK_EQ(stats(pi).tx_frames, 1);
	REQUIRE(wait_used(RXQ, 1, 5000));
	const uint8_t *r = find_rx(0x0806, is_arp_reply_10_0_2_2, &len);
	CHECK(r != NULL);
	if (r != NULL)
		CHECK(memcmp(r, guest_mac, 6) == 0);	/* to us */
	CHECK(msi_count == 0);
	test_bvm_free(bvm);
}

static bool
is_dhcp_offer(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + 14, *udp, *bootp;
	size_t ihl;

	if (len < 14 + 20 + 8 + 240 || ip[9] != 17)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	udp = ip + ihl;
	bootp = udp + 8;
	if ((udp[0] << 8 | udp[1]) != 67 || (udp[2] << 8 | udp[3]) != 68 || bootp[0] != 2)
		return false;
	/* yiaddr 10.0.2.15, and option 53 (message type) = 2, OFFER (RFC 2131/2132). */
	if (bootp[16] != 10 || bootp[17] != 0 || bootp[18] != 2 || bootp[19] != 15)
		return false;
	for (size_t o = 240; 14 + ihl + 8 + o + 2 < len; ) {
		uint8_t code = bootp[o];

		if (code == 255)
			break;
		if (code == 0) {
			o++;
			continue;
		}
		if (code == 53)
			return bootp[o + 2] == 2;
		o += 2 + (size_t)bootp[o + 1];
	}
	return false;
}

TEST(slirp_dhcp_offer)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_net("slirp", &pi);
	static uint8_t f[14 + 20 + 8 + 300];
	uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8;
	uint32_t len;

	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(8);
	/* DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 (RFC 2131). */
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08; f[13] = 0x00;
	b[0] = 1; b[1] = 1; b[2] = 6;			/* BOOTREQUEST, Ethernet */
	b[4] = 0x12; b[5] = 0x34; b[6] = 0x56; b[7] = 0x78;	/* xid */
	memcpy(b + 28, guest_mac, 6);			/* chaddr */
	b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99;	/* magic cookie */
	b[240] = 53; b[241] = 1; b[242] = 1;		/* DHCPDISCOVER */
	b[243] = 255;
	size_t blen = 300, ulen = 8 + blen, iplen = 20 + ulen;
	udp[0] = 0; udp[1] = 68; udp[2] = 0; udp[3] = 67;
	udp[4] = (uint8_t)(ulen >> 8); udp[5] = (uint8_t)ulen;	/* checksum 0: none */
	ip[0] = 0x45; ip[2] = (uint8_t)(iplen >> 8); ip[3] = (uint8_t)iplen;
	ip[8] = 64; ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	uint16_t cs = ip_csum(ip, 20);
	ip[10] = (uint8_t)(cs >> 8); ip[11] = (uint8_t)cs;
	transmit(pi, NULL, 12, f, 14 + iplen, 2, false);
	REQUIRE(wait_used(RXQ, 1, 5000));
	/* slirp may ARP first; wait a little for the offer itself. */
	for (int i = 0; i < 50 && find_rx(0x0800, is_dhcp_offer, &len) == NULL; i++)
		wait_used(RXQ, (uint16_t)(used_idx(RXQ) + 1), 100);
	CHECK(find_rx(0x0800, is_dhcp_offer, &len) != NULL);
	test_bvm_free(bvm);
}

/* A free TCP port on 127.0.0.1, and a socket holding it when @keep. */
static int
free_port(int *keep)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		abort();
	if (keep != NULL) {
		listen(fd, 1);
		*keep = fd;
	} else
		close(fd);
	return ntohs(sin.sin_port);
}

static bool
is_to_guest_15(const uint8_t *f, uint32_t len)
{
	static const uint8_t ip15[4] = { 10, 0, 2, 15 };

	/* An ARP request for 10.0.2.15, or an IPv4 packet to it. */
	if ((f[12] << 8 | f[13]) == 0x0806)
		return len >= 42 && f[21] == 1 && memcmp(f + 38, ip15, 4) == 0;
	return len >= 34 && memcmp(f + 30, ip15, 4) == 0;
}

TEST(slirp_hostfwd)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	char opts[128];
	int held, port, fd;
	uint32_t len;

	/* A port in use: refused before the guest runs. */
	port = free_port(&held);
	snprintf(opts, sizeof(opts), "slirp,hostfwd=tcp:127.0.0.1:%d-:22", port);
	CHECK(vm_with_net(opts, &pi) == NULL);
	close(held);
	/* Several rules, repeated and ';'-separated; a host connection reaches the guest. */
	port = free_port(NULL);
	snprintf(opts, sizeof(opts), "slirp,hostfwd=tcp:127.0.0.1:%d-:22;udp:127.0.0.1:%d-:53,"
	    "hostfwd=tcp:127.0.0.1:%d-:80", port, free_port(NULL), free_port(NULL));
	bvm = vm_with_net(opts, &pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(8);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	REQUIRE(fd >= 0);
	int r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	CHECK(r == 0 || errno == EINPROGRESS);
	for (int i = 0; i < 50 && find_rx(0x0806, is_to_guest_15, &len) == NULL &&
	    find_rx(0x0800, is_to_guest_15, &len) == NULL; i++)
		wait_used(RXQ, (uint16_t)(used_idx(RXQ) + 1), 100);
	CHECK(find_rx(0x0806, is_to_guest_15, &len) != NULL ||
	    find_rx(0x0800, is_to_guest_15, &len) != NULL);
	close(fd);
	test_bvm_free(bvm);
}


/* The MSS option of a SYN-ACK from 10.0.2.2:@port to the guest; 0 if none yet. */
static int syn_port;
static bool
is_synack(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + 14, *th;
	size_t ihl;

	if (len < 14 + 20 + 20 || ip[9] != 6)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	th = ip + ihl;
	return len >= 14 + ihl + 20 && be16(th) == syn_port && (th[13] & 0x12) == 0x12;
}

static unsigned
synack_mss(const uint8_t *f, uint32_t len)
{
	const uint8_t *th = f + 14 + (size_t)(f[14] & 15) * 4;
	size_t thl = (size_t)(th[12] >> 4) * 4;

	for (size_t o = 20; o + 1 < thl && th + o + 4 <= f + len; ) {
		if (th[o] == 0)
			break;
		if (th[o] == 1) {
			o++;
			continue;
		}
		if (th[o] == 2 && th[o + 1] == 4)
			return be16(th + o + 2);
		o += th[o + 1] ? th[o + 1] : 1;
	}
	return 0;
}

/* ARP who-has 10.0.2.2 tell 10.0.2.15 (RFC 826): slirp learns the guest's address. */
static void
send_arp_request(struct pci_devinst *pi)
{
	uint8_t f[42];

	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08; f[13] = 0x06;
	f[14] = 0; f[15] = 1; f[16] = 0x08; f[17] = 0; f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;
	memcpy(f + 22, guest_mac, 6);
	f[28] = 10; f[29] = 0; f[30] = 2; f[31] = 15;
	memset(f + 32, 0, 6);
	f[38] = 10; f[39] = 0; f[40] = 2; f[41] = 2;
	transmit(pi, NULL, 12, f, sizeof(f), 1, false);
}

/*
 * A SYN from the guest to 10.0.2.2:port, its TCP checksum left to the
 * device (NEEDS_CSUM: slirp drops a segment with a bad one), reaches a
 * listener on the host's 127.0.0.1; slirp's SYN-ACK offers the MSS of the
 * device's mtu= (slirp's MTU follows it).  Returns that MSS, 0 if none came.
 */
static unsigned
slirp_syn_mss(const char *extra)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	static uint8_t fr[200];
	uint8_t hdr[12];
	char opts[64];
	size_t l3, l4, len;
	uint32_t flen;
	unsigned mss = 0;
	int lfd;
	const uint8_t *r;

	syn_port = free_port(&lfd);
	snprintf(opts, sizeof(opts), "slirp%s", extra);
	bvm = vm_with_net(opts, &pi);
	if (bvm == NULL) {
		close(lfd);
		return 0;
	}
	driver_init(pi, F_MAC | F_MRG | F_CSUM | VIRTIO_F_VERSION_1);
	post_rx_buffers(8);
	send_arp_request(pi);
	len = tcp_frame(fr, false, false, 0, 1000, 0x02, &l3, &l4);	/* SYN */
	fr[l4 + 2] = (uint8_t)(syn_port >> 8);
	fr[l4 + 3] = (uint8_t)syn_port;
	fr[l4 + 11] = 0;					/* no ACK number */
	/* The pseudo-header sum does not cover the ports: still right. */
	offload_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)l4, 16);
	transmit(pi, hdr, 12, fr, len, 1, false);
	CHECK_EQ(stats(pi).tx_csum, 1);
	for (int i = 0; i < 100 && (r = find_rx(0x0800, is_synack, &flen)) == NULL; i++)
		wait_used(RXQ, (uint16_t)(used_idx(RXQ) + 1), 100);
	if ((r = find_rx(0x0800, is_synack, &flen)) != NULL) {
		mss = synack_mss(r, flen);
		/* slirp's own checksum of what it built, as DATA_VALID promises (not negotiated here). */
		CHECK(l4_csum_ok(r, flen, 14, false, 6));
	}
	close(lfd);
	test_bvm_free(bvm);
	return mss;
}

TEST(slirp_tcp_csum_and_mtu)
{
	unsigned mss = slirp_syn_mss("");

	if (mss != 1460)
		fprintf(stderr, "MSS %u, want 1460\n", mss);
	CHECK_EQ(mss, 1460);
	mss = slirp_syn_mss(",mtu=4000");
	if (mss != 3960)
		fprintf(stderr, "MSS %u, want 3960 with mtu=4000\n", mss);
	CHECK_EQ(mss, 3960);
	struct pci_devinst *pi;
	CHECK(vm_with_net("slirp,mtu=65522", &pi) == NULL);	/* over libslirp's 65521 */
}

/* ---- tap, where this user may make one ---- */

static bool
if_up(const char *name)
{
	struct ifreq ifr;
	char path[96];
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;
	FILE *f;

	/*
	 * No IPv6 on the test's own tap: the host's router and neighbour
	 * solicitations on a new link would take the guest's few receive
	 * buffers before the test's frame (best effort: absent without IPv6).
	 */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("1\n", f);
		fclose(f);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* A frame of the local experimental ethertype 0x88b5 carrying @tag. */
static size_t
tagged_frame(uint8_t *f, const uint8_t *dst, const char *tag)
{
	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, tag, strlen(tag));
	return 64;
}

TEST(tap_frames_both_ways)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	struct sockaddr_ll sll;
	char name[IFNAMSIZ], opts[64];
	uint8_t f[64], buf[2048];
	bool seen = false;
	int ps;

	snprintf(name, sizeof(name), "lhvt%d", (int)(getpid() % 100000));
	snprintf(opts, sizeof(opts), "tap=%s", name);
	ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (ps < 0)
		SKIP("no packet socket here (needs CAP_NET_RAW)");
	bvm = vm_with_net(opts, &pi);
	if (bvm == NULL) {
		close(ps);
		SKIP("cannot make tap %s (needs CAP_NET_ADMIN)", name);
	}
	if (!if_up(name)) {
		close(ps);
		test_bvm_free(bvm);
		SKIP("cannot bring %s up", name);
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(name);
	REQUIRE(bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	/* IFF_VNET_HDR: the tap takes the offloads both ways (TUNSETOFFLOAD probed). */
	CHECK_EQ(offered(pi) & (F_CSUM | F_HTSO4 | F_HTSO6 | F_GCSUM | F_GTSO4 | F_GTSO6),
	    F_CSUM | F_HTSO4 | F_HTSO6 | F_GCSUM | F_GTSO4 | F_GTSO6);
	driver_init(pi, F_MAC | F_MRG | VIRTIO_F_VERSION_1);
	post_rx_buffers(8);
	/* Guest -> tap: the host sees the frame on the interface. */
	tagged_frame(f, bcast, "lhyve-guest-to-host");
	transmit(pi, NULL, 12, f, sizeof(f), 2, false);
	for (int i = 0; i < 50 && !seen; i++) {
		struct pollfd p = { .fd = ps, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = recv(ps, buf, sizeof(buf), 0);
		seen = n >= 64 && memcmp(buf + 14, "lhyve-guest-to-host", 19) == 0;
	}
	CHECK(seen);
	/* Host -> tap: the guest receives it. */
	tagged_frame(f, bcast, "lhyve-host-to-guest");
	CHECK_EQ(send(ps, f, sizeof(f), 0), (ssize_t)sizeof(f));
	seen = false;
	for (int i = 0; i < 50 && !seen; i++) {
		for (uint16_t u = 0; u < used_idx(RXQ) && !seen; u++) {
			uint32_t len;
			const uint8_t *r = rx_frame(u, &len);

			seen = len >= 33 && memcmp(r + 14, "lhyve-host-to-guest", 19) == 0;
		}
		if (!seen)
			wait_used(RXQ, (uint16_t)(used_idx(RXQ) + 1), 100);
	}
	CHECK(seen);
	close(ps);
	test_bvm_free(bvm);
}
