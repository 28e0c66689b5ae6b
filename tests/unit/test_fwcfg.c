/*
 * test_fwcfg.c - QEMU's fw_cfg: the register model on fake guest memory
 * (selector, data, directory, every DMA operation and its checks), and the
 * device on its ports with -f items and the option errors.
 */
#include <errno.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "qemu_fwcfg.h"

#define	RAM_SIZE	(1u << 20)	/* fake guest RAM at 0 */

static uint8_t ram[RAM_SIZE];
static uint64_t written_lo = ~0ULL, written_hi;

static void *
fake_map(void *arg, uint64_t gpa, size_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	return ram + gpa;
}

static void
fake_written(void *arg, uint64_t gpa, size_t len)
{
	if (gpa < written_lo)
		written_lo = gpa;
	if (gpa + len > written_hi)
		written_hi = gpa + len;
}

static const struct fwcfg_mem fake_mem = { fake_map, fake_written, NULL };

static struct fwcfg *
model(void)
{
	struct fwcfg *fc = fwcfg_create(&fake_mem);

	if (fc == NULL || fwcfg_add_item(fc, FW_CFG_SIGNATURE, "QEMU", 4) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_ID, (uint8_t[4]){ 3, 0, 0, 0 }, 4) != 0 ||
	    fwcfg_add_file(fc, "opt/z", "zzz", 3) != 0 ||
	    fwcfg_add_file(fc, "etc/e820", "0123456789abcdefghij", 20) != 0 ||
	    fwcfg_add_file(fc, "opt/a", "hello", 5) != 0 ||
	    fwcfg_finish(fc) != 0)
		abort();
	memset(ram, 0, sizeof(ram));
	written_lo = ~0ULL;
	written_hi = 0;
	return fc;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a FWCfgDmaAccess at acc and starts it, as a guest does. */
static uint32_t
dma(struct fwcfg *fc, uint64_t acc, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t *p = ram + acc;

	be32(p, control);
	be32(p + 4, len);
	be32(p + 8, (uint32_t)(addr >> 32));
	be32(p + 12, (uint32_t)addr);
	/* outl(bswap32(hi), 0x514); outl(bswap32(lo), 0x518) */
	fwcfg_dma_write(fc, 0, 4, __builtin_bswap32((uint32_t)(acc >> 32)));
	fwcfg_dma_write(fc, 4, 4, __builtin_bswap32((uint32_t)acc));
	return get_be32(p);
}

static void
read_bytes(struct fwcfg *fc, uint8_t *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = fwcfg_data_read(fc);
}

TEST(signature_id_and_past_the_end)
{
	struct fwcfg *fc = model();
	uint8_t b[6];

	fwcfg_select(fc, FW_CFG_SIGNATURE);
	read_bytes(fc, b, 6);
	CHECK(memcmp(b, "QEMU\0\0", 6) == 0);
	fwcfg_select(fc, FW_CFG_ID);
	CHECK_EQ(fwcfg_data_read(fc), 3);
	/* Reselecting starts over. */
	fwcfg_select(fc, FW_CFG_SIGNATURE);
	CHECK_EQ(fwcfg_data_read(fc), 'Q');
	/* The write channel and arch bits select the same table or its twin. */
	fwcfg_select(fc, FW_CFG_SIGNATURE | FW_CFG_WRITE_CHANNEL);
	CHECK_EQ(fwcfg_data_read(fc), 'Q');
	fwcfg_select(fc, FW_CFG_ARCH_LOCAL);
	CHECK_EQ(fwcfg_data_read(fc), 0);
	/* Keys beyond the table, unset items, empty file slots: zeros. */
	fwcfg_select(fc, 0x3fff);
	CHECK_EQ(fwcfg_data_read(fc), 0);
	fwcfg_select(fc, 0x07);
	CHECK_EQ(fwcfg_data_read(fc), 0);
	fwcfg_select(fc, FW_CFG_FILE_FIRST + 10);
	CHECK_EQ(fwcfg_data_read(fc), 0);
	/* The DMA register reads "QEMU CFG". */
	for (int i = 0; i < 8; i++)
		CHECK_EQ(fwcfg_dma_read(fc, i), (uint8_t)"QEMU CFG"[i]);
	fwcfg_destroy(fc);
}

TEST(file_directory_sorted)
{
	struct fwcfg *fc = model();
	uint8_t d[4 + 3 * 64], b[5];

	fwcfg_select(fc, FW_CFG_FILE_DIR);
	read_bytes(fc, d, sizeof(d));
	CHECK_EQ(get_be32(d), 3);
	CHECK(strcmp((char *)d + 4 + 8, "etc/e820") == 0);
	CHECK(strcmp((char *)d + 4 + 64 + 8, "opt/a") == 0);
	CHECK(strcmp((char *)d + 4 + 128 + 8, "opt/z") == 0);
	CHECK_EQ(get_be32(d + 4), 20);
	CHECK_EQ(get_be32(d + 4 + 64), 5);
	CHECK_EQ(d[4 + 64 + 4] << 8 | d[4 + 64 + 5], FW_CFG_FILE_FIRST + 1);
	CHECK_EQ(fwcfg_data_read(fc), 0);	/* past the directory */
	fwcfg_select(fc, FW_CFG_FILE_FIRST + 1);
	read_bytes(fc, b, 5);
	CHECK(memcmp(b, "hello", 5) == 0);
	fwcfg_destroy(fc);

	fc = fwcfg_create(&fake_mem);
	REQUIRE(fc != NULL);
	CHECK_EQ(fwcfg_add_file(fc, "x", "1", 1), 0);
	CHECK_EQ(fwcfg_add_file(fc, "x", "2", 1), -EEXIST);
	CHECK_EQ(fwcfg_add_file(fc, "", "2", 1), -EINVAL);
	CHECK_EQ(fwcfg_add_file(fc, "0123456789012345678901234567890123456789012345678901234", "", 0), 0);
	CHECK_EQ(fwcfg_add_file(fc, "01234567890123456789012345678901234567890123456789012345", "", 0), -EINVAL);
	for (int i = 2; i < FW_CFG_FILE_SLOTS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(fwcfg_add_file(fc, name, "", 0), 0);
	}
	CHECK_EQ(fwcfg_add_file(fc, "one-too-many", "", 0), -ENOSPC);
	CHECK_EQ(fwcfg_add_item(fc, FW_CFG_FILE_FIRST, "", 0), -EINVAL);
	CHECK_EQ(fwcfg_finish(fc), 0);
	fwcfg_destroy(fc);
}

TEST(dma_select_read_skip)
{
	struct fwcfg *fc = model();

	/* Select the directory and read its count. */
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    FW_CFG_FILE_DIR << 16, 4, 0x2000), 0);
	CHECK_EQ(get_be32(ram + 0x2000), 3);
	CHECK(written_lo <= 0x1000 && written_hi >= 0x2004);
	/* Skip the first entry's size, key and reserved, read its name. */
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SKIP, 8, 0), 0);
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_READ, 9, 0x3000), 0);
	CHECK(strcmp((char *)ram + 0x3000, "etc/e820") == 0);
	/* The port-side reads continue where DMA left off. */
	CHECK_EQ(fwcfg_data_read(fc), 0);
	/* Reads past the end fill with zeros. */
	memset(ram + 0x4000, 0xee, 16);
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    (FW_CFG_FILE_FIRST + 1) << 16, 16, 0x4000), 0);
	CHECK(memcmp(ram + 0x4000, "hello\0\0\0\0\0\0\0\0\0\0\0", 16) == 0);
	/* No operation bits: nothing moves, success. */
	CHECK_EQ(dma(fc, 0x1000, 0, 100, 0x5000), 0);
	/* The address register reads 0 again... as the signature. */
	CHECK_EQ(fwcfg_dma_read(fc, 0), 'Q');
	fwcfg_destroy(fc);
}

TEST(dma_errors)
{
	struct fwcfg *fc = model();

	/* Every item is read-only. */
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE |
	    FW_CFG_SIGNATURE << 16, 4, 0x2000), FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE |
	    0x3fff << 16, 4, 0x2000), FW_CFG_DMA_CTL_ERROR);
	/* Destinations outside RAM, straddling its end, or wrapping. */
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    FW_CFG_SIGNATURE << 16, 4, 0x80000000ULL), FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    FW_CFG_SIGNATURE << 16, 4, RAM_SIZE - 2), FW_CFG_DMA_CTL_ERROR);
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    FW_CFG_SIGNATURE << 16, 0xffffffff, 0xffffffffffffff00ULL),
	    FW_CFG_DMA_CTL_ERROR);
	/* Zero-filling past the end is checked the same way. */
	CHECK_EQ(dma(fc, 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ |
	    0x3fff << 16, 0x100000, 0x1000), FW_CFG_DMA_CTL_ERROR);
	/* An access structure outside RAM: nothing to do, nothing written. */
	written_lo = ~0ULL;
	fwcfg_dma_write(fc, 0, 4, __builtin_bswap32(1));
	fwcfg_dma_write(fc, 4, 4, 0);
	CHECK_EQ(written_lo, ~0ULL);
	/* Writes other than dwords at 0 and 4 are dropped. */
	be32(ram + 0x1000, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
	be32(ram + 0x1004, 4);
	be32(ram + 0x100c, 0x2000);
	fwcfg_dma_write(fc, 4, 2, 0x1000);
	fwcfg_dma_write(fc, 6, 4, 0x1000);
	fwcfg_dma_write(fc, 1, 4, 0x1000);
	CHECK_EQ(get_be32(ram + 0x1000), FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
	fwcfg_destroy(fc);
}

/* --- the device on its ports --- */

static struct bhyve_vm *
fwcfg_vm(const char *const *files)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	bvm->ncpus = 3;
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	if (lpc_device_parse(bvm->cfg, "fwcfg,qemu") != 0)
		abort();
	for (; files != NULL && *files != NULL; files++)
		if (qemu_fwcfg_parse_file(bvm->cfg, *files) != 0)
			abort();
	return test_bvm_init(bvm);
}

static void
pio_select(struct bhyve_vm *bvm, uint16_t key)
{
	test_pio(bvm, 0, 0x510, 2, key);
}

TEST(ports_and_standard_items)
{
	static const char *const files[] = { "opt/s,string=50%(x)", NULL };
	struct bhyve_vm *bvm = fwcfg_vm(files);
	char s[8];
	int i;

	REQUIRE(bvm != NULL);
	pio_select(bvm, FW_CFG_SIGNATURE);
	for (i = 0; i < 4; i++)
		s[i] = (char)test_pio(bvm, 1, 0x511, 1, 0);
	CHECK(memcmp(s, "QEMU", 4) == 0);
	pio_select(bvm, FW_CFG_ID);
	CHECK_EQ(test_pio(bvm, 1, 0x511, 1, 0), FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
	pio_select(bvm, FW_CFG_NB_CPUS);
	CHECK_EQ(test_pio(bvm, 1, 0x511, 1, 0), 3);
	pio_select(bvm, FW_CFG_MAX_CPUS);
	CHECK_EQ(test_pio(bvm, 1, 0x511, 1, 0), 3);
	/* Accesses QEMU does not accept: all ones, no effect. */
	CHECK_EQ(test_pio(bvm, 1, 0x511, 2, 0), 0xffff);
	CHECK_EQ(test_pio(bvm, 1, 0x510, 2, 0), 0xffff);
	test_pio(bvm, 0, 0x511, 1, 0x55);
	CHECK_EQ(test_pio(bvm, 1, 0x514, 4, 0), 0x554d4551);	/* "QEMU" */
	CHECK_EQ(test_pio(bvm, 1, 0x518, 4, 0), 0x47464320);	/* " CFG" */
	/* The -f string, with its '%' kept, after etc/e820 in the directory. */
	pio_select(bvm, FW_CFG_FILE_DIR);
	for (i = 0; i < 4; i++)
		test_pio(bvm, 1, 0x511, 1, 0);
	for (i = 0; i < 64 + 8; i++)
		test_pio(bvm, 1, 0x511, 1, 0);
	for (i = 0; i < 6; i++)
		s[i] = (char)test_pio(bvm, 1, 0x511, 1, 0);
	CHECK(memcmp(s, "opt/s", 6) == 0);
	pio_select(bvm, FW_CFG_FILE_FIRST + 1);
	for (i = 0; i < 7; i++)
		s[i] = (char)test_pio(bvm, 1, 0x511, 1, 0);
	CHECK(memcmp(s, "50%(x)", 7) == 0);
	/* Without guest memory (no VM here), DMA finds nothing: no crash. */
	test_pio(bvm, 0, 0x514, 4, 0);
	test_pio(bvm, 0, 0x518, 4, 0x00100000);
	test_bvm_free(bvm);
}

TEST(file_items)
{
	char path[] = "/tmp/lhyve-fwcfg.XXXXXX", opt[128];
	const char *files[2] = { opt, NULL };
	struct bhyve_vm *bvm;
	int fd = mkstemp(path), i;
	char s[4];

	REQUIRE(fd >= 0);
	CHECK_EQ(write(fd, "abc", 3), 3);
	close(fd);
	snprintf(opt, sizeof(opt), "opt/f,file=%s", path);
	bvm = fwcfg_vm(files);
	REQUIRE(bvm != NULL);
	pio_select(bvm, FW_CFG_FILE_FIRST + 1);
	for (i = 0; i < 4; i++)
		s[i] = (char)test_pio(bvm, 1, 0x511, 1, 0);
	CHECK(memcmp(s, "abc", 4) == 0);
	test_bvm_free(bvm);

	/* The file gone by the time the device is built: refused. */
	bvm = test_bvm_alloc();
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	CHECK_EQ(lpc_device_parse(bvm->cfg, "fwcfg,qemu"), 0);
	CHECK_EQ(qemu_fwcfg_parse_file(bvm->cfg, opt), 0);
	unlink(path);
	CHECK(test_bvm_init(bvm) == NULL);
}

TEST(option_errors)
{
	struct config *cfg = config_create();
	struct bhyve_vm *bvm;

	REQUIRE(cfg != NULL);
	CHECK(lpc_device_parse(cfg, "fwcfg") != 0);
	CHECK(lpc_device_parse(cfg, "fwcfg,bhyve") != 0);
	CHECK(lpc_device_parse(cfg, "fwcfg,junk") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, "string=abc") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, ",string=abc") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, "opt/x") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, "opt/x,data=1") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, "opt/x,file=/nonexistent/file") != 0);
	CHECK(qemu_fwcfg_parse_file(cfg, "opt/0123456789012345678901234567890123456789012345678901,string=") != 0);
	CHECK(!config_node_exists(cfg, "fw_cfg"));
	config_destroy(cfg);

	/* -f without -l fwcfg,qemu; the same name twice. */
	bvm = test_bvm_alloc();
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	CHECK_EQ(qemu_fwcfg_parse_file(bvm->cfg, "opt/x,string=1"), 0);
	CHECK(test_bvm_init(bvm) == NULL);
	bvm = test_bvm_alloc();
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	CHECK_EQ(lpc_device_parse(bvm->cfg, "fwcfg,qemu"), 0);
	CHECK_EQ(qemu_fwcfg_parse_file(bvm->cfg, "opt/x,string=1"), 0);
	CHECK_EQ(qemu_fwcfg_parse_file(bvm->cfg, "opt/x,string=2"), 0);
	CHECK(test_bvm_init(bvm) == NULL);
	/* -l fwcfg,qemu without the LPC bridge. */
	bvm = test_bvm_alloc();
	CHECK_EQ(lpc_device_parse(bvm->cfg, "fwcfg,qemu"), 0);
	CHECK(test_bvm_init(bvm) == NULL);
}
