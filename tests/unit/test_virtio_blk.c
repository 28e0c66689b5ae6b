/*
 * test_virtio_blk.c - virtio-blk over a file image (bhyve/pci_virtio_block.c,
 * block_if.c) driven as a guest driver would: reads and writes through
 * scattered buffers, flush, GET_ID, discard and write-zeroes; requests
 * outside the disk, of partial sectors, of unknown types; a read-only
 * image; and the options' errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "virtio.h"
#include "test_guestmem.h"

#define SLOT		5
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x11000
#define USED_GPA	0x12000
#define HDR_GPA		0x14000
#define DATA_GPA	0x20000
#define STATUS_GPA	0x15000
#define QSIZE		16
#define DISK_SIZE	(1u << 20)

static uint16_t next_avail;
static char img[64];

#define ram	tg_ram

static struct bhyve_vm *
vm_with_blk(const char *opts, struct pci_devinst **pip)
{
	struct bhyve_vm *bvm = test_bvm_alloc();
	char slot[256];

	tg_attach(bvm);
	next_avail = 0;
	snprintf(slot, sizeof(slot), "%d,virtio-blk,%s", SLOT, opts);
	if (pci_parse_slot(bvm->cfg, slot) != 0) {
		test_bvm_free(bvm);
		return NULL;
	}
	bvm = test_bvm_init(bvm);
	*pip = bvm ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return bvm;
}

static void
make_image(void)
{
	int fd;

	snprintf(img, sizeof(img), "/tmp/lhyve-vblk.XXXXXX");
	fd = mkstemp(img);
	if (fd < 0 || ftruncate(fd, DISK_SIZE) != 0)
		abort();
	close(fd);
}

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

static void
driver_init(struct pci_devinst *pi)
{
	uint32_t lo;

	wr(pi, 0x14, 1, 0);
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x00, 4, 0);
	lo = (uint32_t)rd(pi, 0x04, 4);
	wr(pi, 0x08, 4, 0);
	wr(pi, 0x0c, 4, lo);				/* everything offered */
	wr(pi, 0x08, 4, 1);
	wr(pi, 0x0c, 4, 1);				/* VERSION_1 */
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	wr(pi, 0x16, 2, 0);
	wr(pi, 0x18, 2, QSIZE);
	wr(pi, 0x20, 8, DESC_GPA);
	wr(pi, 0x28, 8, AVAIL_GPA);
	wr(pi, 0x30, 8, USED_GPA);
	wr(pi, 0x1c, 2, 1);
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
	    VIRTIO_S_DRIVER_OK);
}

static void
put_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	tg_put_desc(DESC_GPA, i, addr, len, flags, next);
}

static uint16_t
used_idx(void)
{
	return tg_get16(USED_GPA + 2);
}

/*
 * One request: header, then @nbufs data buffers of @buflen each at
 * DATA_GPA (writable for reads), then the status byte.  Waits for it
 * and returns the status; *usedlen gets the used length.
 */
static int
request(struct pci_devinst *pi, uint32_t type, uint64_t sector, int nbufs, uint32_t buflen,
    uint32_t *usedlen)
{
	uint8_t hdr[16] = { 0 };
	uint16_t want = (uint16_t)(next_avail + 1), d = 0;
	bool devwrites = type == 0 || type == 8;
	struct timespec ts = { 0, 1000000 };

	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(ram + HDR_GPA, hdr, 16);
	ram[STATUS_GPA] = 0xee;
	put_desc(d, HDR_GPA, 16, VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	for (int i = 0; i < nbufs; i++, d++)
		put_desc(d, DATA_GPA + (uint64_t)i * buflen, buflen,
		    (uint16_t)(VRING_DESC_F_NEXT | (devwrites ? VRING_DESC_F_WRITE : 0)),
		    (uint16_t)(d + 1));
	put_desc(d, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	memcpy(ram + AVAIL_GPA + 4 + 2 * (next_avail % QSIZE), &(uint16_t){ 0 }, 2);
	__atomic_store_n((uint16_t *)(ram + AVAIL_GPA + 2), want, __ATOMIC_RELEASE);
	next_avail = want;
	wr(pi, 0x3000, 2, 0);
	for (int i = 0; i < 5000 && used_idx() != want; i++)
		nanosleep(&ts, NULL);
	if (used_idx() != want)
		return -1;
	if (usedlen != NULL)
		memcpy(usedlen, ram + USED_GPA + 4 + 8 * ((want - 1) % QSIZE) + 4, 4);
	return ram[STATUS_GPA];
}

TEST(vblk_config_space)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;

	make_image();
	bvm = vm_with_blk(img, &pi);
	REQUIRE(bvm != NULL && pi != NULL);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_DEVICE), 0x1001);
	CHECK_EQ(rd(pi, 0x2000, 4), DISK_SIZE / 512);	/* capacity, low half */
	CHECK_EQ(rd(pi, 0x2004, 4), 0);
	CHECK_EQ(rd(pi, 0x200c, 4), VQ_CHAIN_MAX - 2);	/* seg_max */
	CHECK_EQ(rd(pi, 0x2014, 4), 512);		/* blk_size */
	wr(pi, 0x00, 4, 0);
	uint32_t f = (uint32_t)rd(pi, 0x04, 4);
	CHECK(f & (1u << 9));				/* FLUSH */
	CHECK(f & (1u << 13));				/* DISCARD */
	CHECK((f & (1u << 5)) == 0);			/* not RO */
	test_bvm_free(bvm);
	unlink(img);
}

TEST(vblk_read_write_flush_id)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	uint32_t len = 0;
	uint8_t buf[4096];
	int fd;

	make_image();
	bvm = vm_with_blk(img, &pi);
	REQUIRE(bvm != NULL);
	driver_init(pi);
	/* Write 3 scattered 1 KiB buffers at sector 8. */
	for (int i = 0; i < 3072; i++)
		ram[DATA_GPA + i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(request(pi, 1, 8, 3, 1024, &len), 0);
	CHECK_EQ(len, 1);
	CHECK_EQ(request(pi, 4, 0, 0, 0, NULL), 0);	/* flush */
	fd = open(img, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ(pread(fd, buf, 3072, 8 * 512), 3072);
	close(fd);
	CHECK(memcmp(buf, ram + DATA_GPA, 3072) == 0);
	/* Read it back in 512-byte pieces. */
	memset(ram + DATA_GPA, 0, 3072);
	CHECK_EQ(request(pi, 0, 8, 6, 512, &len), 0);
	CHECK_EQ(len, 3072 + 1);
	CHECK(memcmp(buf, ram + DATA_GPA, 3072) == 0);
	/* GET_ID: 20 bytes of serial. */
	CHECK_EQ(request(pi, 8, 0, 1, 20, &len), 0);
	CHECK_EQ(len, 21);
	CHECK(memcmp(ram + DATA_GPA, "BHYVE-", 6) == 0);
	/* Write zeroes over the first sector written, then discard the rest. */
	uint8_t seg[16] = { 0 };
	uint64_t s = 8;
	uint32_t n = 1;
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(ram + DATA_GPA, seg, 16);
	CHECK_EQ(request(pi, 13, 0, 1, 16, NULL), 0);
	s = 9;
	n = 5;
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(ram + DATA_GPA, seg, 16);
	CHECK_EQ(request(pi, 11, 0, 1, 16, NULL), 0);
	fd = open(img, O_RDONLY);
	CHECK_EQ(pread(fd, buf, 3072, 8 * 512), 3072);
	close(fd);
	int nz = 0;
	for (int i = 0; i < 3072; i++)
		nz += buf[i] != 0;
	CHECK_EQ(nz, 0);
	test_bvm_free(bvm);
	unlink(img);
}

TEST(vblk_bad_requests)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;

	make_image();
	bvm = vm_with_blk(img, &pi);
	REQUIRE(bvm != NULL);
	driver_init(pi);
	/* Past the end, straddling the end, partial sectors, unknown type. */
	CHECK_EQ(request(pi, 0, DISK_SIZE / 512, 1, 512, NULL), 1);
	CHECK_EQ(request(pi, 1, DISK_SIZE / 512 - 1, 2, 512, NULL), 1);
	CHECK_EQ(request(pi, 0, ~0ULL / 256, 1, 512, NULL), 1);
	CHECK_EQ(request(pi, 0, 0, 1, 100, NULL), 1);
	CHECK_EQ(request(pi, 77, 0, 1, 512, NULL), 2);
	/* Discard with flags, or beyond the disk. */
	uint8_t seg[16] = { 0 };
	uint64_t s = DISK_SIZE / 512 - 1;
	uint32_t n = 2, fl = 1;
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(ram + DATA_GPA, seg, 16);
	CHECK_EQ(request(pi, 11, 0, 1, 16, NULL), 1);
	s = 0;
	memcpy(seg, &s, 8);
	memcpy(seg + 12, &fl, 4);
	memcpy(ram + DATA_GPA, seg, 16);
	CHECK_EQ(request(pi, 11, 0, 1, 16, NULL), 2);
	/* The device still works, and the disk did not grow. */
	CHECK_EQ(request(pi, 0, 0, 1, 512, NULL), 0);
	struct stat sb;
	CHECK(stat(img, &sb) == 0 && sb.st_size == DISK_SIZE);
	test_bvm_free(bvm);
	unlink(img);
}

TEST(vblk_read_only)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	char opts[128];

	make_image();
	snprintf(opts, sizeof(opts), "%s,ro", img);
	bvm = vm_with_blk(opts, &pi);
	REQUIRE(bvm != NULL);
	wr(pi, 0x00, 4, 0);
	CHECK(rd(pi, 0x04, 4) & (1u << 5));		/* VIRTIO_BLK_F_RO */
	driver_init(pi);
	CHECK_EQ(request(pi, 1, 0, 1, 512, NULL), 1);
	CHECK_EQ(request(pi, 0, 0, 1, 512, NULL), 0);
	test_bvm_free(bvm);
	unlink(img);
}

TEST(vblk_option_errors)
{
	struct pci_devinst *pi;
	char opts[128];

	CHECK(vm_with_blk("/nonexistent/disk.img", &pi) == NULL);
	make_image();
	snprintf(opts, sizeof(opts), "%s,sectorsize=1000", img);
	CHECK(vm_with_blk(opts, &pi) == NULL);
	snprintf(opts, sizeof(opts), "%s,ro=maybe", img);
	CHECK(vm_with_blk(opts, &pi) == NULL);
	CHECK(vm_with_blk("/tmp", &pi) == NULL);
	/* Two devices on one image: the second is refused (flock). */
	struct bhyve_vm *a;
	snprintf(opts, sizeof(opts), "%s", img);
	a = vm_with_blk(opts, &pi);
	REQUIRE(a != NULL);
	CHECK(vm_with_blk(opts, &pi) == NULL);
	test_bvm_free(a);
	snprintf(opts, sizeof(opts), "%s,sectorsize=4096", img);
	a = vm_with_blk(opts, &pi);
	REQUIRE(a != NULL);
	CHECK_EQ(rd(pi, 0x2014, 4), 4096);
	test_bvm_free(a);
	unlink(img);
}
