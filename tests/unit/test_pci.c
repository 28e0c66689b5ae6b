/*
 * test_pci.c - the PCI bus through the guest's eyes: configuration
 * mechanism #1 via emulate_inout(), ECAM via emulate_mem(), on VMs built by
 * bhyve_devices_init() from a config.  A test-only device with BARs and MSI
 * registers itself exactly as a real device file does.
 */
#include <errno.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"

/* --- a device with one BAR of each kind --- */

#define	TDEV_IO_SIZE	32
#define	TDEV_MEM_SIZE	4096
#define	TDEV_BIG_SIZE	(256ULL << 20)	/* 64-bit, above 4G */
#define	TDEV_SMALL64	8192		/* 64-bit, in the 32-bit hole */

static struct {
	int	idx;
	uint64_t off;
	int	size;
	uint64_t val;
	int	nwrites;
} tdev_last;

static int
tdev_init(struct pci_devinst *pi, const char *node)
{

	pci_set_cfgdata16(pi, PCIR_VENDOR, 0xabcd);
	pci_set_cfgdata16(pi, PCIR_DEVICE, 0x0001);
	pci_set_cfgdata8(pi, PCIR_CLASS, 0xff);
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_IO, TDEV_IO_SIZE) != 0 ||
	    pci_emul_alloc_bar(pi, 1, PCIBAR_MEM32, TDEV_MEM_SIZE - 100) != 0 ||
	    pci_emul_alloc_bar(pi, 2, PCIBAR_MEM64, TDEV_BIG_SIZE) != 0 ||
	    pci_emul_alloc_bar(pi, 4, PCIBAR_MEM64, TDEV_SMALL64) != 0)
		return (-1);
	return (pci_emul_add_msicap(pi, 4));
}

static uint64_t
tdev_barread(struct pci_devinst *pi, int idx, uint64_t off, int size)
{

	return (((uint64_t)idx << 56) | off);
}

static void
tdev_barwrite(struct pci_devinst *pi, int idx, uint64_t off, int size,
    uint64_t val)
{

	tdev_last.idx = idx;
	tdev_last.off = off;
	tdev_last.size = size;
	tdev_last.val = val;
	tdev_last.nwrites++;
}

static const struct pci_devemu pci_de_testdev = {
	.pe_emu = "testdev",
	.pe_init = tdev_init,
	.pe_barread = tdev_barread,
	.pe_barwrite = tdev_barwrite,
};
PCI_EMUL_SET(pci_de_testdev);

/* --- helpers --- */

static struct bhyve_vm *
vm_build(const char *const *slots)
{
	struct bhyve_vm *bvm;
	int i;

	bvm = test_bvm_alloc();
	for (i = 0; slots[i] != NULL; i++)
		if (pci_parse_slot(bvm->cfg, slots[i]) != 0) {
			test_bvm_free(bvm);
			return (NULL);
		}
	return (test_bvm_init(bvm));
}

static int
mmio(struct bhyve_vm *bvm, int write, uint64_t gpa, int size, uint64_t *val)
{
	struct vm_exit vme;
	int error;

	memset(&vme, 0, sizeof(vme));
	vme.exitcode = VM_EXITCODE_INST_EMUL;
	vme.u.mmio.gpa = gpa;
	vme.u.mmio.size = (uint8_t)size;
	vme.u.mmio.write = (uint8_t)write;
	vme.u.mmio.data = *val;
	error = emulate_mem(bvm, &vme);
	if (!write)
		*val = vme.u.mmio.data;
	return (error);
}

static uint32_t
cfg_addr(int bus, int slot, int func, int reg)
{

	return (0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 |
	    (uint32_t)func << 8 | (uint32_t)(reg & 0xfc));
}

/* A guest config read through 0xcf8/0xcfc at any width. */
static uint32_t
cfgr(struct bhyve_vm *bvm, int b, int s, int f, int reg, int bytes)
{

	test_pio(bvm, 0, 0xcf8, 4, cfg_addr(b, s, f, reg));
	return (test_pio(bvm, 1, 0xcfc + (reg & 3), bytes, 0));
}

static void
cfgw(struct bhyve_vm *bvm, int b, int s, int f, int reg, int bytes,
    uint32_t val)
{

	test_pio(bvm, 0, 0xcf8, 4, cfg_addr(b, s, f, reg));
	test_pio(bvm, 0, 0xcfc + (reg & 3), bytes, val);
}

static const char *const std_slots[] = { "0,hostbridge", "31,lpc", NULL };
static const char *const test_slots[] = { "0,hostbridge", "3,testdev",
    "31,lpc", NULL };

/* --- tests --- */

TEST(pci_devemu_table_complete)
{
	const struct pci_devemu *const *tab;
	static const char *const expected[] = { "hostbridge",
	    "amd_hostbridge", "lpc", "testdev", "virtio-blk", "virtio-rnd",
	    "virtio-net", "virtio-console", "uart" };
	size_t i, j, n;

	/*
	 * Link-time registration drops a device silently when its object is
	 * left out of the link; this catches it.
	 */
	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		if (pci_emul_finddev(expected[i]) == NULL) {
			fprintf(stderr, "device '%s' missing from the table\n",
			    expected[i]);
			CHECK(0);
		}
	}
	tab = pci_emul_table(&n);
	CHECK(n >= 4);
	for (i = 0; i < n; i++) {
		CHECK(tab[i]->pe_emu != NULL && tab[i]->pe_init != NULL);
		for (j = i + 1; j < n; j++)
			CHECK(strcmp(tab[i]->pe_emu, tab[j]->pe_emu) != 0);
	}
	CHECK(pci_emul_finddev("nosuchdevice") == NULL);
}

TEST(pci_conf1_ids)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(std_slots);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_VENDOR, 4), 0x12751275);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_REVID, 4), 0x06000000);
	CHECK_EQ(cfgr(bvm, 0, 31, 0, PCIR_VENDOR, 4), 0x70008086);
	CHECK_EQ(cfgr(bvm, 0, 31, 0, PCIR_CLASS, 1), PCIC_BRIDGE);
	CHECK_EQ(cfgr(bvm, 0, 31, 0, PCIR_SUBCLASS, 1), PCIS_BRIDGE_ISA);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_SUBCLASS, 1), PCIS_BRIDGE_HOST);
	/* CONFIG_ADDRESS reads back without its reserved bits. */
	test_pio(bvm, 0, 0xcf8, 4, 0xff00ff03u | 0x80000000u);
	CHECK_EQ(test_pio(bvm, 1, 0xcf8, 4, 0), 0x8000ff00u);
	CHECK_EQ(test_pio(bvm, 1, 0xcf8, 1, 0), 0xff);	/* dword only */
	CHECK_EQ(test_pio(bvm, 1, 0xcf8, 2, 0), 0xffff);
	test_pio(bvm, 0, 0xcf8, 2, 0);
	CHECK_EQ(test_pio(bvm, 1, 0xcf8, 4, 0), 0x8000ff00u);
	test_bvm_free(bvm);
}

TEST(pci_conf1_amd_hostbridge)
{
	static const char *const slots[] = { "0,amd_hostbridge", NULL };
	struct bhyve_vm *bvm;

	bvm = vm_build(slots);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_VENDOR, 4), 0x74321022);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_CLASS, 1), PCIC_BRIDGE);
	test_bvm_free(bvm);
}

TEST(pci_conf1_absent_and_disabled)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(std_slots);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 0, 5, 0, 0, 4), 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 1, 0, 4), 0xffffffff);
	CHECK_EQ(cfgr(bvm, 7, 0, 0, 0, 4), 0xffffffff);
	CHECK_EQ(cfgr(bvm, 255, 31, 7, 0xfc, 4), 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 5, 0, 0, 2), 0xffff);
	CHECK_EQ(cfgr(bvm, 0, 5, 0, 0, 1), 0xff);
	/* Writes to nobody go nowhere. */
	cfgw(bvm, 0, 5, 0, 0x10, 4, 0);
	/* Without the enable bit, 0xcfc is not config space. */
	test_pio(bvm, 0, 0xcf8, 4, 0x00000000);
	CHECK_EQ(test_pio(bvm, 1, 0xcfc, 4, 0), 0xffffffff);
	test_pio(bvm, 0, 0xcfc, 4, 0);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0, 4), 0x12751275);
	test_bvm_free(bvm);
}

TEST(pci_conf1_widths_and_offsets)
{
	struct bhyve_vm *bvm;
	int i;

	bvm = vm_build(std_slots);
	REQUIRE(bvm != NULL);
	/* Every byte lane of 0xcfc-0xcff. */
	test_pio(bvm, 0, 0xcf8, 4, cfg_addr(0, 31, 0, 0));
	CHECK_EQ(test_pio(bvm, 1, 0xcfc, 1, 0), 0x86);
	CHECK_EQ(test_pio(bvm, 1, 0xcfd, 1, 0), 0x80);
	CHECK_EQ(test_pio(bvm, 1, 0xcfe, 1, 0), 0x00);
	CHECK_EQ(test_pio(bvm, 1, 0xcff, 1, 0), 0x70);
	CHECK_EQ(test_pio(bvm, 1, 0xcfc, 2, 0), 0x8086);
	CHECK_EQ(test_pio(bvm, 1, 0xcfe, 2, 0), 0x7000);
	/* Unaligned: 2 bytes at lane 1 or 3, 4 bytes past lane 0. */
	CHECK_EQ(test_pio(bvm, 1, 0xcfd, 2, 0), 0xffff);
	CHECK_EQ(test_pio(bvm, 1, 0xcff, 2, 0), 0xffff);
	for (i = 1; i < 4; i++)
		CHECK_EQ(test_pio(bvm, 1, 0xcfc + i, 4, 0), 0xffffffff);
	/* Beyond 0xcff the ports belong to nobody. */
	CHECK_EQ(test_pio(bvm, 1, 0xd00, 4, 0), 0xffffffff);
	/* The dword offset comes from 0xcf8 bits 7:2. */
	CHECK_EQ(cfgr(bvm, 0, 31, 0, 0x0b, 1), PCIC_BRIDGE);
	CHECK_EQ(cfgr(bvm, 0, 31, 0, 0x0a, 2), 0x0601);
	test_bvm_free(bvm);
}

TEST(pci_header_readonly_fields)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(std_slots);
	REQUIRE(bvm != NULL);
	cfgw(bvm, 0, 0, 0, PCIR_VENDOR, 4, 0xdeadbeef);
	cfgw(bvm, 0, 0, 0, PCIR_REVID, 4, 0xdeadbeef);
	cfgw(bvm, 0, 0, 0, PCIR_CAP_PTR, 1, 0x99);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_VENDOR, 4), 0x12751275);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_REVID, 4), 0x06000000);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_CAP_PTR, 1), 0x40);
	/* Command: bits 0-6 and 8-10 only; status is read-only. */
	cfgw(bvm, 0, 0, 0, PCIR_COMMAND, 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_COMMAND, 2), 0x077f);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_STATUS, 2), PCIM_STATUS_CAPPRESENT);
	cfgw(bvm, 0, 0, 0, PCIR_COMMAND + 1, 1, 0);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_COMMAND, 2), 0x007f);
	/* Interrupt line is scratch for the OS; the pin is not. */
	cfgw(bvm, 0, 0, 0, PCIR_INTLINE, 2, 0xffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_INTLINE, 2), 0x00ff);
	/* No expansion ROM: the ROM BAR stays 0 even when sized. */
	cfgw(bvm, 0, 0, 0, PCIR_BIOS, 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_BIOS, 4), 0);
	/* Unimplemented BARs read 0 after sizing. */
	cfgw(bvm, 0, 0, 0, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_BAR(0), 4), 0);
	test_bvm_free(bvm);
}

TEST(pci_hostbridge_pcie_capability)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(std_slots);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_STATUS, 2) & PCIM_STATUS_CAPPRESENT,
	    PCIM_STATUS_CAPPRESENT);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_CAP_PTR, 1), 0x40);
	/* Capability id, next = end, version 2 root port. */
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0x40, 4), 0x00420010);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0x4c, 4), 0x00000411);	/* gen1 x1 */
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0x52, 2), 0x0011);
	/* Header and capability registers resist writes; controls don't. */
	cfgw(bvm, 0, 0, 0, 0x40, 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0x40, 4), 0x00420010);
	cfgw(bvm, 0, 0, 0, 0x48, 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0x48, 4), 0x00007fff);
	/* The LPC bridge has no capabilities. */
	CHECK_EQ(cfgr(bvm, 0, 31, 0, PCIR_STATUS, 2) & PCIM_STATUS_CAPPRESENT,
	    0);
	test_bvm_free(bvm);
}

TEST(pci_multifunction_bit)
{
	static const char *const slots[] = { "0:0,hostbridge", "0:1,lpc",
	    "4,hostbridge", NULL };
	struct bhyve_vm *bvm;

	bvm = vm_build(slots);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, PCIR_HDRTYPE, 1), PCIM_MFDEV);
	CHECK_EQ(cfgr(bvm, 0, 0, 1, PCIR_VENDOR, 2), 0x8086);
	CHECK_EQ(cfgr(bvm, 0, 4, 0, PCIR_HDRTYPE, 1), 0);
	test_bvm_free(bvm);
}

TEST(pci_lpc_placement_rules)
{
	static const char *const bus1[] = { "1:31:0,lpc", NULL };
	static const char *const two[] = { "30,lpc", "31,lpc", NULL };
	struct bhyve_vm *bvm;

	CHECK(vm_build(bus1) == NULL);
	CHECK(vm_build(two) == NULL);
	/* A device on another bus is fine for the hostbridge. */
	static const char *const hb1[] = { "0,hostbridge", "2:0:0,hostbridge",
	    NULL };
	bvm = vm_build(hb1);
	REQUIRE(bvm != NULL);
	CHECK_EQ(cfgr(bvm, 2, 0, 0, 0, 4), 0x12751275);
	test_bvm_free(bvm);
}

TEST(pci_init_config_errors)
{
	struct bhyve_vm bvm;

	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	set_config_value(bvm.cfg, "pci.0.3.0.foo", "bar");	/* no device */
	CHECK_EQ(bhyve_devices_init(&bvm), -1);
	CHECK(bvm.inout == NULL && bvm.pci == NULL);
	config_destroy(bvm.cfg);

	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	set_config_value(bvm.cfg, "pci.0.3.0.device", "nosuch");
	CHECK_EQ(bhyve_devices_init(&bvm), -1);
	config_destroy(bvm.cfg);

	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	set_config_value(bvm.cfg, "pci.0.0.0.device", "hostbridge");
	set_config_value(bvm.cfg, "pci.0.0.0.vendor", "0x12345");
	CHECK_EQ(bhyve_devices_init(&bvm), -1);
	config_destroy(bvm.cfg);

	/* -l com1 without an LPC bridge. */
	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	set_config_value(bvm.cfg, "lpc.com1.path", "stdio");
	CHECK_EQ(bhyve_devices_init(&bvm), -1);
	config_destroy(bvm.cfg);

	/* Devices from -o alone, with an id override. */
	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	set_config_value(bvm.cfg, "pci.0.0.0.device", "hostbridge");
	set_config_value(bvm.cfg, "pci.0.0.0.devid", "0xbeef");
	REQUIRE(bhyve_devices_init(&bvm) == 0);
	CHECK_EQ(cfgr(&bvm, 0, 0, 0, 0, 4), 0xbeef1275);
	bhyve_devices_fini(&bvm);
	config_destroy(bvm.cfg);
}

TEST(pci_bar_allocation)
{
	struct bhyve_vm *bvm;
	struct pci_devinst *pi;
	uint32_t cmd;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	pi = pci_emul_find_devinst(bvm, 0, 3, 0);
	REQUIRE(pi != NULL);
	/* I/O in the PCI port window, 32-bit memory in the hole. */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(0), 4), 0x2001);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(1), 4), 0xc0000000);
	CHECK_EQ(pi->pi_bar[1].size, TDEV_MEM_SIZE);	/* rounded up */
	/* Big 64-bit BAR above 4G (high RAM end rounded to 32G). */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(2), 4),
	    PCIM_BAR_MEM_64 | PCIM_BAR_MEM_PREFETCH);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(3), 4), 8);	/* 32G >> 32 */
	/* Small 64-bit BAR below 4G, naturally aligned. */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(4), 4), 0xc0002000 |
	    PCIM_BAR_MEM_64);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(5), 4), 0);
	cmd = cfgr(bvm, 0, 3, 0, PCIR_COMMAND, 2);
	CHECK_EQ(cmd & (PCIM_CMD_PORTEN | PCIM_CMD_MEMEN),
	    PCIM_CMD_PORTEN | PCIM_CMD_MEMEN);
	test_bvm_free(bvm);
}

TEST(pci_bar_sizing)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	/* All-ones write reads back the size mask and the type bits. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(0), 4),
	    (~(TDEV_IO_SIZE - 1) & 0xffff) | PCIM_BAR_IO_SPACE);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0x2001);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(0), 4), 0x2001);

	cfgw(bvm, 0, 3, 0, PCIR_BAR(1), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(1), 4), ~(TDEV_MEM_SIZE - 1u));
	cfgw(bvm, 0, 3, 0, PCIR_BAR(1), 4, 0xc0000000);

	/* 64-bit: both halves. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(2), 4, 0xffffffff);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(3), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(2), 4),
	    (uint32_t)~(TDEV_BIG_SIZE - 1) | PCIM_BAR_MEM_64 |
	    PCIM_BAR_MEM_PREFETCH);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(3), 4), 0xffffffff);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(2), 4, 0);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(3), 4, 8);

	/* Narrow writes do not program BARs. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(1), 2, 0xffff);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(1) + 2, 2, 0xffff);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(1), 4), 0xc0000000);
	test_bvm_free(bvm);
}

TEST(pci_bar_decode_and_dispatch)
{
	struct bhyve_vm *bvm;
	uint64_t val;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	/* I/O BAR at 0x2000. */
	CHECK_EQ(test_pio(bvm, 1, 0x2004, 4, 0), 0x4);
	CHECK_EQ(test_pio(bvm, 1, 0x201f, 1, 0), 0x1f);
	CHECK_EQ(test_pio(bvm, 1, 0x201e, 4, 0), 0xffffffff);	/* straddles */
	test_pio(bvm, 0, 0x2008, 2, 0x1234);
	CHECK_EQ(tdev_last.idx, 0);
	CHECK_EQ(tdev_last.off, 8);
	CHECK_EQ(tdev_last.size, 2);
	CHECK_EQ(tdev_last.val, 0x1234);
	/* Memory BARs. */
	val = 0;
	CHECK_EQ(mmio(bvm, 0, 0xc0000010, 8, &val), 0);
	CHECK_EQ(val, (1ULL << 56) | 0x10);
	val = 0;
	CHECK_EQ(mmio(bvm, 0, 0x800000000ULL + 0x100, 4, &val), 0);
	CHECK_EQ(val, 0x100);		/* masked to 4 bytes */
	val = 0xabcdef;
	CHECK_EQ(mmio(bvm, 1, 0xc0002008, 2, &val), 0);
	CHECK_EQ(tdev_last.idx, 4);
	CHECK_EQ(tdev_last.off, 8);
	CHECK_EQ(tdev_last.val, 0xcdef);

	/* Command register decode bits switch the BARs off and on. */
	cfgw(bvm, 0, 3, 0, PCIR_COMMAND, 2, 0);
	CHECK_EQ(test_pio(bvm, 1, 0x2004, 4, 0), 0xffffffff);
	val = 0;
	CHECK_EQ(mmio(bvm, 0, 0xc0000010, 4, &val), -1);
	cfgw(bvm, 0, 3, 0, PCIR_COMMAND, 2, PCIM_CMD_MEMEN);
	CHECK_EQ(test_pio(bvm, 1, 0x2004, 4, 0), 0xffffffff);
	CHECK_EQ(mmio(bvm, 0, 0xc0000010, 4, &val), 0);
	cfgw(bvm, 0, 3, 0, PCIR_COMMAND, 2, PCIM_CMD_MEMEN | PCIM_CMD_PORTEN);
	CHECK_EQ(test_pio(bvm, 1, 0x2004, 4, 0), 0x4);

	/* Moving a BAR moves the decode. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0x3000);
	CHECK_EQ(test_pio(bvm, 1, 0x2004, 4, 0), 0xffffffff);
	CHECK_EQ(test_pio(bvm, 1, 0x3004, 4, 0), 0x4);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(1), 4, 0xd0000000);
	CHECK_EQ(mmio(bvm, 0, 0xc0000010, 4, &val), -1);
	CHECK_EQ(mmio(bvm, 0, 0xd0000010, 4, &val), 0);
	test_bvm_free(bvm);
}

TEST(pci_bar_conflict_is_harmless)
{
	struct bhyve_vm *bvm;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	/* Over com1: the first owner keeps the ports. */
	test_pio(bvm, 0, 0x3f8 + 7, 1, 0x5a);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0x3e0);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(0), 4), 0x3e1);
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + 7, 1, 0), 0x5a);
	CHECK_EQ(test_pio(bvm, 1, 0x3e0, 1, 0), 0xff);
	/* Over the config ports themselves. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0xce0);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0, 4), 0x12751275);
	/* Move back to a free range: decodes again. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(0), 4, 0x4000);
	CHECK_EQ(test_pio(bvm, 1, 0x4000, 1, 0), 0);
	/* A memory BAR over the ECAM window. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(1), 4, 0xe0000000);
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0, 4), 0x12751275);
	/* A 64-bit BAR at the top of the address space does not wrap. */
	cfgw(bvm, 0, 3, 0, PCIR_BAR(2), 4, 0xffffffff);
	cfgw(bvm, 0, 3, 0, PCIR_BAR(3), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_BAR(3), 4), 0xffffffff);
	test_bvm_free(bvm);
}

TEST(pci_msi_capability)
{
	struct bhyve_vm *bvm;
	struct pci_devinst *pi;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	pi = pci_emul_find_devinst(bvm, 0, 3, 0);
	REQUIRE(pi != NULL);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, PCIR_CAP_PTR, 1), 0x40);
	/* id 5, end of list, 64-bit, 4 messages capable (MMC = 2). */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, 0x40, 4), 0x00840005);
	cfgw(bvm, 0, 3, 0, 0x44, 4, 0xfee00003);
	cfgw(bvm, 0, 3, 0, 0x48, 4, 0x1);
	cfgw(bvm, 0, 3, 0, 0x4c, 2, 0x4041);
	cfgw(bvm, 0, 3, 0, 0x42, 2, 0xffff);	/* enable, MME = 7 */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, 0x42, 2), 0x00f5);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, 0x44, 4), 0xfee00000);
	CHECK(pi->pi_msi.enabled);
	CHECK_EQ(pi->pi_msi.addr, 0x1fee00000ULL);
	CHECK_EQ(pi->pi_msi.msg_data, 0x4041);
	CHECK_EQ(pi->pi_msi.msgnum, 4);		/* capped at capable */
	cfgw(bvm, 0, 3, 0, 0x40, 4, 0);		/* header is read-only */
	CHECK_EQ(cfgr(bvm, 0, 3, 0, 0x40, 4), 0x00840005);
	CHECK(!pi->pi_msi.enabled);
	test_bvm_free(bvm);
}

TEST(pci_ecam)
{
	struct bhyve_vm *bvm;
	uint64_t val, base = MACHINE_PCI_ECFG_BASE;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	val = 0;
	CHECK_EQ(mmio(bvm, 0, base, 4, &val), 0);
	CHECK_EQ(val, 0x12751275);
	CHECK_EQ(mmio(bvm, 0, base + (31 << 15) + 2, 2, &val), 0);
	CHECK_EQ(val, 0x7000);
	CHECK_EQ(mmio(bvm, 0, base + (31 << 15), 8, &val), 0);
	CHECK_EQ(val, 0x70008086ULL);	/* command and status are 0 */
	/* Extended space: no extended capabilities, read-only. */
	CHECK_EQ(mmio(bvm, 0, base + 0x100, 4, &val), 0);
	CHECK_EQ(val, 0);
	val = 0xffffffff;
	CHECK_EQ(mmio(bvm, 1, base + 0x100, 4, &val), 0);
	CHECK_EQ(mmio(bvm, 0, base + 0x100, 4, &val), 0);
	CHECK_EQ(val, 0);
	/* Absent functions and unaligned accesses read all ones. */
	CHECK_EQ(mmio(bvm, 0, base + (9 << 15), 4, &val), 0);
	CHECK_EQ(val, 0xffffffff);
	CHECK_EQ(mmio(bvm, 0, base + (255ULL << 20) + 0xfff, 1, &val), 0);
	CHECK_EQ(val, 0xff);
	CHECK_EQ(mmio(bvm, 0, base + 1, 2, &val), 0);
	CHECK_EQ(val, 0xffff);
	/* A BAR moved through ECAM (the range is immutable: no deadlock). */
	val = 0x5000;
	CHECK_EQ(mmio(bvm, 1, base + (3 << 15) + PCIR_BAR(0), 4, &val), 0);
	CHECK_EQ(test_pio(bvm, 1, 0x5004, 4, 0), 0x4);
	/* Just past the window: nobody. */
	CHECK_EQ(mmio(bvm, 0, base + MACHINE_PCI_ECFG_SIZE, 4, &val), -1);
	test_bvm_free(bvm);
}

/* A hostile guest hammering config space cannot crash or corrupt ids. */
TEST(pci_config_fuzz)
{
	struct bhyve_vm *bvm;
	uint64_t val;
	unsigned int seed = 12345;
	int i, width, port;

	bvm = vm_build(test_slots);
	REQUIRE(bvm != NULL);
	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245 + 12345;
		width = 1 << ((seed >> 8) % 3);
		port = 0xcf8 + (int)((seed >> 12) % 8);
		if (seed & 1) {
			/* Keep bus 0 most of the time to reach devices. */
			test_pio(bvm, 0, 0xcf8, 4, (seed & 0x8000fffc) |
			    ((seed & 0x10) ? 0x80000000u : 0));
		} else if (seed & 2)
			test_pio(bvm, 0, port, width, seed * 2654435761u);
		else
			(void)test_pio(bvm, 1, port, width, 0);
		if ((seed & 0x3c) == 0) {
			val = seed;
			(void)mmio(bvm, (seed >> 6) & 1, MACHINE_PCI_ECFG_BASE +
			    ((seed >> 7) & 0x7ffff), 1 << ((seed >> 3) % 4),
			    &val);
		}
	}
	CHECK_EQ(cfgr(bvm, 0, 0, 0, 0, 4), 0x12751275);
	CHECK_EQ(cfgr(bvm, 0, 31, 0, 0, 4), 0x70008086);
	CHECK_EQ(cfgr(bvm, 0, 3, 0, 0, 4), 0x0001abcd);
	test_bvm_free(bvm);
}

TEST(pci_create_destroy_many)
{
	struct bhyve_vm *a, *b;
	int i;

	for (i = 0; i < 50; i++) {
		a = vm_build(test_slots);
		b = vm_build(std_slots);
		REQUIRE(a != NULL && b != NULL);
		/* Two VMs side by side do not share state. */
		cfgw(a, 0, 0, 0, PCIR_INTLINE, 1, 0x11);
		CHECK_EQ(cfgr(b, 0, 0, 0, PCIR_INTLINE, 1), 0);
		CHECK_EQ(cfgr(a, 0, 0, 0, PCIR_INTLINE, 1), 0x11);
		if (i & 1) {
			test_bvm_free(a);
			test_bvm_free(b);
		} else {
			test_bvm_free(b);
			test_bvm_free(a);
		}
	}
}
