/*
 * test_virtio_net.c - virtio-net (bhyve/pci_virtio_net.c) driven as a guest
 * driver would, over fake guest RAM, against a test backend that records
 * what the guest sends and delivers what the test gives it; then against
 * slirp (ARP, DHCP, a host forward).  Also hostile headers and sizes, a
 * guest without receive buffers, the legacy 10-byte header, and the
 * options' errors.
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

#define ram		tg_ram
#define msi_count	tg_msi_count

/* Ring addresses per queue (modern); the legacy layout is computed. */
static const uint64_t ring_desc[2] = { 0x10000, 0x20000 };
static const uint64_t ring_avail[2] = { 0x11000, 0x21000 };
static const uint64_t ring_used[2] = { 0x12000, 0x22000 };
static uint64_t q_desc[2], q_avail[2], q_used[2];
static uint16_t q_size[2], q_next_avail[2], q_next_desc[2], q_seen_used[2];

/* ---- the test backend: records transmitted frames, delivers on demand ---- */

static struct net_backend *tbe;
static uint8_t tsent[8][NETBE_MAX_FRAME + 64];
static size_t tsent_len[8];
static int tsent_n, trx_ready;
static struct netbe_holdq tholdq;

static int
tnet_init(struct net_backend *be, struct config *cfg, const char *node, const char *devname)
{
	tbe = be;
	tsent_n = 0;
	trx_ready = 0;
	netbe_holdq_init(&tholdq);
	return 0;
}

static int
tnet_send(struct net_backend *be, const struct iovec *iov, int iovcnt, size_t len)
{
	size_t off = 0;

	if (tsent_n == 8)
		return -ENOBUFS;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(tsent[tsent_n] + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	CHECK_EQ(off, len);
	tsent_len[tsent_n++] = len;
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
	CHECK((f & 1) == 0);			/* no CSUM: no offloads */
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
	return tbe->rx(tbe->rx_arg, f, len);
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

/* ---- through slirp ---- */

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
