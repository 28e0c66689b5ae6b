/*
 * test_virtio.c - the virtio PCI transport, split virtqueues, MSI-X and
 * INTx (bhyve/virtio.c, bhyve/pci_irq.c), driven as a guest driver would
 * drive virtio-rnd, over fake guest RAM; and what a hostile driver gets:
 * bad indexes, loops, buffers outside RAM, nested indirect tables, rings
 * in the wrong place.  Each leaves the host intact and the device asking
 * for a reset; a reset brings it back.
 */
#include <errno.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "virtio.h"
#include "test_guestmem.h"

#define RAM_SIZE	TG_RAM_SIZE
#define SLOT		4

/* Guest driver's layout in fake RAM. */
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x11000
#define USED_GPA	0x12000
#define INDIR_GPA	0x13000
#define BUF_GPA		0x20000
#define QSIZE		8

#define ram		tg_ram
#define msi_count	tg_msi_count
#define msi_addr	tg_msi_addr
#define msi_data	tg_msi_data
#define intx_level	tg_intx_level
#define intx_changes	tg_intx_changes
#define put_desc	tg_put_desc
#define get16		tg_get16
#define get32		tg_get32
#define put16		tg_put16

static struct bhyve_vm *
vm_with_rnd(struct pci_devinst **pip)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	tg_attach(bvm);
	set_config_value(bvm->cfg, "pci.0.4.0.device", "virtio-rnd");
	bvm = test_bvm_init(bvm);
	*pip = bvm ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return bvm;
}

/* A new bhyve with the same -s options, the guest's RAM as it was (tg_attach clears it). */
static struct bhyve_vm *
vm_with_rnd_same_ram(struct pci_devinst **pip)
{
	uint8_t *keep = malloc(RAM_SIZE);
	struct bhyve_vm *bvm;

	if (keep == NULL)
		abort();
	memcpy(keep, ram, RAM_SIZE);
	bvm = vm_with_rnd(pip);
	memcpy(ram, keep, RAM_SIZE);
	free(keep);
	return bvm;
}

/* Modern common configuration accesses (BAR 4). */
static uint64_t
rd(struct pci_devinst *pi, uint64_t off, int size)
{
	return tg_bar_read(pi, 4, off, size);
}

static void
wr(struct pci_devinst *pi, uint64_t off, int size, uint64_t val)
{
	tg_bar_write(pi, 4, off, size, val);
}

/* Make head @head available as avail entry @slot and bump the index. */
static void
offer(uint16_t slot, uint16_t head)
{
	put16(AVAIL_GPA + 4 + 2 * (slot % QSIZE), head);
	put16(AVAIL_GPA + 2, (uint16_t)(slot + 1));
}

/* The virtio 1.2 3.1.1 driver initialisation, features as given. */
static void
driver_init(struct pci_devinst *pi, uint64_t features)
{
	wr(pi, 0x14, 1, 0);			/* reset */
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x08, 4, 0);
	wr(pi, 0x0c, 4, (uint32_t)features);
	wr(pi, 0x08, 4, 1);
	wr(pi, 0x0c, 4, (uint32_t)(features >> 32));
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	wr(pi, 0x16, 2, 0);			/* queue 0 */
	wr(pi, 0x18, 2, QSIZE);
	wr(pi, 0x20, 8, DESC_GPA);
	wr(pi, 0x28, 8, AVAIL_GPA);
	wr(pi, 0x30, 8, USED_GPA);
	wr(pi, 0x1c, 2, 1);			/* enable */
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
	    VIRTIO_S_DRIVER_OK);
}

static void
notify(struct pci_devinst *pi)
{
	wr(pi, 0x3000, 2, 0);
}

TEST(virtio_identity_and_features)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);

	REQUIRE(bvm != NULL && pi != NULL);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_VENDOR), 0x1af4);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_DEVICE), 0x1003);	/* transitional entropy */
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_SUBDEV_0), VIRTIO_ID_ENTROPY);
	CHECK_EQ(pci_get_cfgdata8(pi, PCIR_INTPIN), 1);
	/* The capability list: vendor capabilities of types 1, 3, 2, 5 and MSI-X. */
	int off = pci_get_cfgdata8(pi, PCIR_CAP_PTR), types = 0, msix = 0;
	while (off != 0) {
		if (pci_get_cfgdata8(pi, off) == 0x09)
			types |= 1 << pci_get_cfgdata8(pi, off + 3);
		if (pci_get_cfgdata8(pi, off) == 0x11)
			msix = 1;
		off = pci_get_cfgdata8(pi, off + 1);
	}
	CHECK_EQ(types, (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5));
	CHECK(msix);
	wr(pi, 0x00, 4, 1);
	CHECK(rd(pi, 0x04, 4) & 1);			/* VERSION_1 (bit 32) */
	wr(pi, 0x00, 4, 0);
	CHECK(rd(pi, 0x04, 4) & (1u << 28));		/* INDIRECT_DESC */
	CHECK_EQ(rd(pi, 0x12, 2), 1);			/* num_queues */
	/* Features we never offered, or no VERSION_1: FEATURES_OK does not stick. */
	driver_init(pi, (1ULL << 5) | VIRTIO_F_VERSION_1);
	CHECK_EQ(rd(pi, 0x14, 1) & VIRTIO_S_FEATURES_OK, 0);
	driver_init(pi, VIRTIO_F_INDIRECT_DESC);
	CHECK_EQ(rd(pi, 0x14, 1) & VIRTIO_S_FEATURES_OK, 0);
	driver_init(pi, VIRTIO_F_VERSION_1);
	CHECK(rd(pi, 0x14, 1) & VIRTIO_S_FEATURES_OK);
	test_bvm_free(bvm);
}

TEST(virtio_rnd_fills_buffers_intx)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
	/* Chain 0: two writable buffers; chain 3: an indirect table of one. */
	put_desc(DESC_GPA, 0, BUF_GPA, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(DESC_GPA, 1, BUF_GPA + 16, 48, VRING_DESC_F_WRITE, 0);
	put_desc(DESC_GPA, 3, INDIR_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(INDIR_GPA, 0, BUF_GPA + 64, 32, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	offer(1, 3);
	notify(pi);
	CHECK_EQ(get16(USED_GPA + 2), 2);
	CHECK_EQ(get32(USED_GPA + 4), 0);		/* id */
	CHECK_EQ(get32(USED_GPA + 8), 64);		/* len */
	CHECK_EQ(get32(USED_GPA + 12), 3);
	CHECK_EQ(get32(USED_GPA + 16), 32);
	int nonzero = 0;
	for (int i = 0; i < 96; i++)
		nonzero += ram[BUF_GPA + i] != 0;
	CHECK(nonzero > 80);
	/* No MSI-X: INTx (the slot's swizzled pin) and the ISR; reading the ISR lowers it. */
	CHECK_EQ(intx_level, 1);
	CHECK_EQ(tg_intx_pin, machine_pci_intx_pin(SLOT, 1));
	CHECK_EQ(msi_count, 0);
	CHECK_EQ(rd(pi, 0x1000, 1), 1);
	CHECK_EQ(intx_level, 0);
	CHECK_EQ(rd(pi, 0x1000, 1), 0);
	/* INTxDIS masks the line (PCI 3.0, 6.2.2). */
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_COMMAND, 2, PCIM_CMD_INTxDIS);
	put_desc(DESC_GPA, 2, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(2, 2);
	notify(pi);
	CHECK_EQ(get16(USED_GPA + 2), 3);
	CHECK_EQ(intx_level, 0);
	CHECK(pci_get_cfgdata16(pi, PCIR_STATUS) & 0x0008);
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_COMMAND, 2, 0);
	CHECK_EQ(intx_level, 1);
	test_bvm_free(bvm);
}

TEST(virtio_msix_masking_and_pending)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);
	int cap;

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1);
	for (cap = pci_get_cfgdata8(pi, PCIR_CAP_PTR); cap && pci_get_cfgdata8(pi, cap) != 0x11;
	    cap = pci_get_cfgdata8(pi, cap + 1))
		;
	REQUIRE(cap != 0);
	CHECK_EQ(pci_get_cfgdata16(pi, cap + 2) & 0x7ff, 1);	/* 2 vectors */
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, cap + 2, 2, 0x8000);	/* MSI-X enable */
	wr(pi, 0x16, 2, 0);
	wr(pi, 0x1a, 2, 1);				/* queue 0 -> vector 1 */
	/* Entry 1 still masked (its reset state): the message waits in the PBA. */
	pci_msix_write(pi, 16, 4, 0xfee01000);
	pci_msix_write(pi, 20, 4, 0);
	pci_msix_write(pi, 24, 4, 0x4041);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	notify(pi);
	CHECK_EQ(msi_count, 0);
	CHECK_EQ(pci_msix_read(pi, 0x1000, 8), 2);	/* pending bit 1 */
	pci_msix_write(pi, 28, 4, 0);			/* unmask: delivered now */
	CHECK_EQ(msi_count, 1);
	CHECK_EQ(msi_addr, 0xfee01000);
	CHECK_EQ(msi_data, 0x4041);
	CHECK_EQ(pci_msix_read(pi, 0x1000, 8), 0);
	CHECK_EQ(intx_changes, 0);
	/* Function mask holds everything back too. */
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, cap + 2, 2, 0xc000);
	offer(1, 0);
	notify(pi);
	CHECK_EQ(msi_count, 1);
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, cap + 2, 2, 0x8000);
	CHECK_EQ(msi_count, 2);
	/* Table accesses of odd sizes or offsets, and PBA writes, change nothing. */
	pci_msix_write(pi, 17, 4, 0);
	pci_msix_write(pi, 16, 2, 0);
	pci_msix_write(pi, 0x1000, 8, ~0ULL);
	CHECK_EQ(pci_msix_read(pi, 16, 4), 0xfee01000);
	CHECK_EQ(pci_msix_read(pi, 0x1000, 8), 0);
	test_bvm_free(bvm);
}

TEST(virtio_event_idx_suppresses)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	put16(AVAIL_GPA + 4 + 2 * QSIZE, 0);		/* used_event = 0: interrupt after entry 0 */
	offer(0, 0);
	notify(pi);
	CHECK_EQ(intx_level, 1);
	rd(pi, 0x1000, 1);
	/* used_event stays 0: the next completion (entry 1) does not interrupt. */
	offer(1, 0);
	notify(pi);
	CHECK_EQ(get16(USED_GPA + 2), 2);
	CHECK_EQ(intx_level, 0);
	put16(AVAIL_GPA + 4 + 2 * QSIZE, 2);
	offer(2, 0);
	notify(pi);
	CHECK_EQ(intx_level, 1);
	/*
	 * avail_event follows what the device took, so the driver notifies
	 * for its next buffer (2.7.10); a zero there would silence it.
	 */
	CHECK_EQ(get16(USED_GPA + 4 + 8 * QSIZE), 3);
	test_bvm_free(bvm);
}

/* One hostile chain: the queue stops with NEEDS_RESET; a reset recovers. */
static void
hostile(void (*setup)(void), const char *what)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
	setup();
	notify(pi);
	if (!(rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET)) {
		fprintf(stderr, "%s: no DEVICE_NEEDS_RESET\n", what);
		test_failed_ = 1;
	}
	CHECK_EQ(get16(USED_GPA + 2), 0);
	/* Further notifications do nothing; after a reset it works again. */
	notify(pi);
	memset(ram + DESC_GPA, 0, 0x4000);
	driver_init(pi, VIRTIO_F_VERSION_1);
	CHECK_EQ(rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET, 0);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	notify(pi);
	CHECK_EQ(get16(USED_GPA + 2), 1);
	test_bvm_free(bvm);
}

static void h_head(void) { offer(0, QSIZE); }
static void h_next(void) { put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 200); offer(0, 0); }
static void h_loop(void) {
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(DESC_GPA, 1, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	offer(0, 0);
}
static void h_outside(void) { put_desc(DESC_GPA, 0, RAM_SIZE - 4, 8, VRING_DESC_F_WRITE, 0); offer(0, 0); }
static void h_wrap(void) { put_desc(DESC_GPA, 0, ~0ULL - 3, 8, VRING_DESC_F_WRITE, 0); offer(0, 0); }
static void h_order(void) {
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	offer(0, 0);
}
static void h_nested(void) {
	put_desc(DESC_GPA, 0, INDIR_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(INDIR_GPA, 0, INDIR_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0, 0);
}
static void h_indir_len(void) { put_desc(DESC_GPA, 0, INDIR_GPA, 24, VRING_DESC_F_INDIRECT, 0); offer(0, 0); }
static void h_indir_loop(void) {
	put_desc(DESC_GPA, 0, INDIR_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(INDIR_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(INDIR_GPA, 1, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	offer(0, 0);
}
static void h_indir_next(void) { put_desc(DESC_GPA, 0, INDIR_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1); offer(0, 0); }
static void h_avail_jump(void) { put16(AVAIL_GPA + 2, QSIZE + 5); }

TEST(virtio_hostile_head) { hostile(h_head, "head beyond the queue"); }
TEST(virtio_hostile_next) { hostile(h_next, "next beyond the queue"); }
TEST(virtio_hostile_loop) { hostile(h_loop, "chain loop"); }
TEST(virtio_hostile_outside_ram) { hostile(h_outside, "buffer outside RAM"); }
TEST(virtio_hostile_wrap) { hostile(h_wrap, "buffer wrapping"); }
TEST(virtio_hostile_order) { hostile(h_order, "readable after writable"); }
TEST(virtio_hostile_nested_indirect) { hostile(h_nested, "nested indirect"); }
TEST(virtio_hostile_indirect_length) { hostile(h_indir_len, "indirect length"); }
TEST(virtio_hostile_indirect_loop) { hostile(h_indir_loop, "indirect loop"); }
TEST(virtio_hostile_indirect_next) { hostile(h_indir_next, "indirect with next"); }
TEST(virtio_hostile_avail_jump) { hostile(h_avail_jump, "avail index jump"); }

TEST(virtio_hostile_rings)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);

	REQUIRE(bvm != NULL);
	/* Rings outside RAM, a size that is no power of 2, misaligned. */
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x18, 2, 6);
	wr(pi, 0x20, 8, DESC_GPA);
	wr(pi, 0x28, 8, AVAIL_GPA);
	wr(pi, 0x30, 8, USED_GPA);
	wr(pi, 0x1c, 2, 1);
	CHECK_EQ(rd(pi, 0x1c, 2), 0);
	wr(pi, 0x18, 2, 8);
	wr(pi, 0x30, 8, RAM_SIZE - 16);
	wr(pi, 0x1c, 2, 1);
	CHECK_EQ(rd(pi, 0x1c, 2), 0);
	wr(pi, 0x30, 8, USED_GPA + 2);
	wr(pi, 0x1c, 2, 1);
	CHECK_EQ(rd(pi, 0x1c, 2), 0);
	/* Queue select beyond the queues, notify of a queue that is not there. */
	wr(pi, 0x16, 2, 7);
	CHECK_EQ(rd(pi, 0x18, 2), 0);
	wr(pi, 0x1c, 2, 1);
	wr(pi, 0x3000 + 4 * 9, 2, 9);
	/* Legacy interface: a PFN outside RAM. */
	pi->pi_d->pe_barwrite(pi, 0, 14, 2, 0);
	pi->pi_d->pe_barwrite(pi, 0, 8, 4, (RAM_SIZE >> 12) + 1);
	CHECK_EQ(pi->pi_d->pe_barread(pi, 0, 8, 4), 0);
	test_bvm_free(bvm);
}

TEST(virtio_legacy_interface)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi);
	uint64_t desc = 0x40000, avail, used;
	uint32_t qsz;

	REQUIRE(bvm != NULL);
	/* A legacy driver (4.1.4.10): features low 32 bits, PFN, I/O notify. */
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, 0);
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	CHECK(pi->pi_d->pe_barread(pi, 0, 0, 4) & (1u << 28));
	pi->pi_d->pe_barwrite(pi, 0, 4, 4, 0);
	pi->pi_d->pe_barwrite(pi, 0, 14, 2, 0);
	qsz = (uint32_t)pi->pi_d->pe_barread(pi, 0, 12, 2);
	CHECK_EQ(qsz, 64);
	avail = desc + 16 * qsz;
	used = (avail + 6 + 2 * qsz + 4095) & ~4095ULL;
	pi->pi_d->pe_barwrite(pi, 0, 8, 4, desc >> 12);
	pi->pi_d->pe_barwrite(pi, 0, 18, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER |
	    VIRTIO_S_DRIVER_OK);
	put_desc(desc, 0, BUF_GPA, 32, VRING_DESC_F_WRITE, 0);
	put16(avail + 4, 0);
	put16(avail + 2, 1);
	pi->pi_d->pe_barwrite(pi, 0, 16, 2, 0);
	CHECK_EQ(get16(used + 2), 1);
	CHECK_EQ(get32(used + 8), 32);
	CHECK_EQ(pi->pi_d->pe_barread(pi, 0, 19, 1), 1);
	test_bvm_free(bvm);
}

/*
 * A device asserting INTx when saved: the IOAPIC's own section holds the
 * pin high, so after the restore the device's deassert (the driver reads
 * the ISR) must reach the pin, or it stays high for good.
 */
TEST(virtio_snapshot_intx_asserted)
{
	struct pci_devinst *pi, *pi2;
	struct bhyve_vm *bvm = vm_with_rnd(&pi), *bvm2;
	static uint8_t snap[16384];
	ssize_t n;
	int changes;

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	notify(pi);
	REQUIRE(intx_level == 1);
	n = pci_snapshot_save(pi, snap, sizeof(snap));
	REQUIRE(n > 0 && (size_t)n <= sizeof(snap));
	bvm2 = vm_with_rnd_same_ram(&pi2);
	REQUIRE(bvm2 != NULL);
	intx_level = 1;		/* as the restored IOAPIC section has it */
	REQUIRE(pci_snapshot_restore(pi2, snap, (size_t)n) == 0);
	changes = intx_changes;
	CHECK_EQ(rd(pi2, 0x1000, 1), 1);
	CHECK_EQ(intx_level, 0);
	CHECK_EQ(intx_changes, changes + 1);
	test_bvm_free(bvm2);
	test_bvm_free(bvm);
}

TEST(virtio_snapshot_roundtrip)
{
	struct pci_devinst *pi, *pi2;
	struct bhyve_vm *bvm = vm_with_rnd(&pi), *bvm2;
	static uint8_t snap[16384];
	ssize_t n;
	int cap;

	REQUIRE(bvm != NULL);
	driver_init(pi, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
	for (cap = pci_get_cfgdata8(pi, PCIR_CAP_PTR); cap && pci_get_cfgdata8(pi, cap) != 0x11;
	    cap = pci_get_cfgdata8(pi, cap + 1))
		;
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, cap + 2, 2, 0x8000);
	wr(pi, 0x1a, 2, 1);
	pci_msix_write(pi, 16, 4, 0xfee00000);
	pci_msix_write(pi, 24, 4, 0x55);
	pci_msix_write(pi, 28, 4, 0);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	notify(pi);
	CHECK_EQ(get16(USED_GPA + 2), 1);
	n = pci_snapshot_save(pi, snap, sizeof(snap));
	REQUIRE(n > 0 && (size_t)n <= sizeof(snap));
	CHECK_EQ(pci_snapshot_save(pi, snap, 10), n);	/* too small: the size */
	/* A new bhyve (same -s options) continues the device. */
	bvm2 = vm_with_rnd_same_ram(&pi2);
	REQUIRE(bvm2 != NULL);
	/* Corrupt versions are refused and change nothing. */
	snap[0] ^= 1;
	CHECK(pci_snapshot_restore(pi2, snap, (size_t)n) != 0);
	snap[0] ^= 1;
	CHECK(pci_snapshot_restore(pi2, snap, (size_t)n - 1) != 0);
	CHECK_EQ(rd(pi2, 0x14, 1), 0);
	REQUIRE(pci_snapshot_restore(pi2, snap, (size_t)n) == 0);
	CHECK(rd(pi2, 0x14, 1) & VIRTIO_S_DRIVER_OK);
	CHECK_EQ(pci_msix_read(pi2, 24, 4), 0x55);
	msi_count = 0;
	offer(1, 0);
	pi2->pi_d->pe_barwrite(pi2, 4, 0x3000, 2, 0);
	CHECK_EQ(get16(USED_GPA + 2), 2);
	CHECK_EQ(msi_count, 1);
	CHECK_EQ(msi_data, 0x55);
	test_bvm_free(bvm2);
	test_bvm_free(bvm);
}
