/*
 * test_pctestdev.c - -l pc-testdev with a fake vm_suspend: isa-debug-exit's
 * status, the scratch register through both windows, the scratch memory,
 * the IRQ line ports with fake interrupt hooks, and the option's parsing.
 */
#include <errno.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"

static int nsuspend;
static int isa_level[16], isa_changes, pin_level[24], pin_changes;
static enum vm_suspend_how last_how;

static int
fake_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{
	nsuspend++;
	last_how = how;
	return 0;
}

static int
fake_isa_irq(struct bhyve_vm *bvm, int irq, bool level)
{
	isa_level[irq] = level;
	isa_changes++;
	return 0;
}

static int
fake_ioapic_pin(struct bhyve_vm *bvm, int pin, bool level)
{
	pin_level[pin] = level;
	pin_changes++;
	return 0;
}

static struct bhyve_vm *
testdev_vm(void)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	nsuspend = 0;
	memset(isa_level, 0, sizeof(isa_level));
	memset(pin_level, 0, sizeof(pin_level));
	isa_changes = pin_changes = 0;
	bvm->suspend = fake_suspend;
	bvm->isa_irq = fake_isa_irq;
	bvm->ioapic_pin = fake_ioapic_pin;
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	if (lpc_device_parse(bvm->cfg, "pc-testdev") != 0)
		abort();
	return test_bvm_init(bvm);
}

static uint64_t
mmio(struct bhyve_vm *bvm, int write, uint64_t gpa, int size, uint64_t val)
{
	struct vm_exit vme;

	memset(&vme, 0, sizeof(vme));
	vme.exitcode = VM_EXITCODE_INST_EMUL;
	vme.u.mmio.gpa = gpa;
	vme.u.mmio.size = (uint8_t)size;
	vme.u.mmio.write = (uint8_t)write;
	vme.u.mmio.data = val;
	if (emulate_mem(bvm, &vme) != 0)
		return 0xdeadbeefdeadbeefULL;
	return vme.u.mmio.data;
}

TEST(debug_exit_status)
{
	struct bhyve_vm *bvm = testdev_vm();

	REQUIRE(bvm != NULL);
	CHECK_EQ(bvm->exit_request, -1);
	test_pio(bvm, 0, 0xf4, 1, 0x10);
	CHECK_EQ(nsuspend, 1);
	CHECK_EQ(last_how, VM_SUSPEND_POWEROFF);
	CHECK_EQ(bvm->exit_request, 33);
	/* The first request wins. */
	test_pio(bvm, 0, 0xf4, 1, 0);
	CHECK_EQ(bvm->exit_request, 33);
	test_bvm_free(bvm);

	/* V = 0 is status 1; wider values keep the host's low 8 bits. */
	bvm = testdev_vm();
	REQUIRE(bvm != NULL);
	test_pio(bvm, 0, 0xf6, 2, 0);
	CHECK_EQ(bvm->exit_request, 1);
	test_bvm_free(bvm);
	bvm = testdev_vm();
	REQUIRE(bvm != NULL);
	test_pio(bvm, 0, 0xf4, 4, 0x1ff);
	CHECK_EQ(bvm->exit_request, 0xff);
	CHECK_EQ(test_pio(bvm, 1, 0xf4, 1, 0), 0);
	test_bvm_free(bvm);
}

TEST(scratch_register)
{
	struct bhyve_vm *bvm = testdev_vm();

	REQUIRE(bvm != NULL);
	test_pio(bvm, 0, 0xe0, 4, 0x12345678);
	CHECK_EQ(test_pio(bvm, 1, 0xe0, 4, 0), 0x12345678);
	CHECK_EQ(test_pio(bvm, 1, 0xe1, 1, 0), 0x56);
	CHECK_EQ(test_pio(bvm, 1, 0xe2, 2, 0), 0x1234);
	/* The byte window is the same register. */
	CHECK_EQ(test_pio(bvm, 1, 0xe8, 4, 0), 0x12345678);
	test_pio(bvm, 0, 0xeb, 1, 0xab);
	CHECK_EQ(test_pio(bvm, 1, 0xe0, 4, 0), 0xab345678);
	test_pio(bvm, 0, 0xe2, 2, 0xbeef);
	CHECK_EQ(test_pio(bvm, 1, 0xe8, 4, 0), 0xbeef5678);
	/* Bytes past the register find nothing. */
	CHECK_EQ(test_pio(bvm, 1, 0xe2, 4, 0), 0xffffbeef);
	/* The flush port takes a page address and reads 0. */
	test_pio(bvm, 0, 0xe4, 4, 0x10000);
	CHECK_EQ(test_pio(bvm, 1, 0xe4, 4, 0), 0);
	CHECK_EQ(nsuspend, 0);
	test_bvm_free(bvm);
}

TEST(scratch_memory)
{
	struct bhyve_vm *bvm = testdev_vm();

	REQUIRE(bvm != NULL);
	CHECK_EQ(mmio(bvm, 0, 0xff000000, 8, 0), 0);
	mmio(bvm, 1, 0xff000010, 8, 0x1122334455667788ULL);
	CHECK_EQ(mmio(bvm, 0, 0xff000010, 8, 0), 0x1122334455667788ULL);
	CHECK_EQ(mmio(bvm, 0, 0xff000012, 2, 0), 0x5566);
	mmio(bvm, 1, 0xff000013, 1, 0xaa);
	CHECK_EQ(mmio(bvm, 0, 0xff000010, 4, 0), 0xaa667788);
	mmio(bvm, 1, 0xff00fff8, 8, 0x0102030405060708ULL);
	CHECK_EQ(mmio(bvm, 0, 0xff00fffc, 4, 0), 0x01020304);
	test_bvm_free(bvm);
}

TEST(irq_lines)
{
	struct bhyve_vm *bvm = testdev_vm();

	REQUIRE(bvm != NULL);
	/* ISA lines: the interrupt controllers hear each transition once. */
	test_pio(bvm, 0, 0x2005, 1, 1);
	CHECK_EQ(isa_level[5], 1);
	test_pio(bvm, 0, 0x2005, 1, 0x80);
	CHECK_EQ(isa_changes, 1);
	test_pio(bvm, 0, 0x2005, 1, 0);
	CHECK_EQ(isa_level[5], 0);
	CHECK_EQ(isa_changes, 2);
	test_pio(bvm, 0, 0x2000, 1, 1);			/* IRQ 0 (the map: pin 2) */
	CHECK_EQ(isa_level[0], 1);
	test_pio(bvm, 0, 0x2000, 1, 0);
	/* Wired-OR with COM1 on IRQ 4: the line stays up until both let go. */
	test_pio(bvm, 0, 0x2004, 1, 1);
	test_pio(bvm, 0, 0x3f8 + 1, 1, 0x02);		/* COM1 IER: THRE */
	test_pio(bvm, 0, 0x2004, 1, 0);
	CHECK_EQ(isa_level[4], 1);
	CHECK_EQ(test_pio(bvm, 1, 0x3f8 + 2, 1, 0) & 0x0f, 0x02);	/* IIR read */
	CHECK_EQ(isa_level[4], 0);
	/* Line 2 (the cascade) and 16-23: IOAPIC pins alone. */
	test_pio(bvm, 0, 0x2002, 1, 1);
	CHECK_EQ(pin_level[2], 1);
	CHECK_EQ(isa_level[2], 0);
	test_pio(bvm, 0, 0x2010, 1, 1);
	test_pio(bvm, 0, 0x2017, 1, 7);
	CHECK_EQ(pin_level[16], 1);
	CHECK_EQ(pin_level[23], 1);
	test_pio(bvm, 0, 0x2017, 1, 0);
	CHECK_EQ(pin_level[23], 0);
	CHECK_EQ(pin_changes, 4);
	/* A line already up: writing 1 again is no new source. */
	test_pio(bvm, 0, 0x2010, 1, 1);
	test_pio(bvm, 0, 0x2010, 1, 0);
	CHECK_EQ(pin_level[16], 0);
	CHECK_EQ(pin_changes, 5);
	/* Other widths do nothing; reads give 0; 0x2018 is not ours. */
	test_pio(bvm, 0, 0x2016, 2, 0x0101);
	CHECK_EQ(pin_level[22], 0);
	CHECK_EQ(pin_changes, 5);
	CHECK_EQ(test_pio(bvm, 1, 0x2010, 1, 0), 0);
	CHECK_EQ(test_pio(bvm, 1, 0x2018, 1, 0) & 0xff, 0xff);
	test_bvm_free(bvm);
}

/* Lines 16-23 are wired-OR with the PCI functions on the same pin. */
TEST(irq_line_shares_a_pci_pin)
{
	struct bhyve_vm *bvm = test_bvm_alloc();
	struct pci_devinst *pi;
	int base;

	nsuspend = 0;
	memset(pin_level, 0, sizeof(pin_level));
	pin_changes = 0;
	bvm->ioapic_pin = fake_ioapic_pin;
	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	set_config_value(bvm->cfg, "pci.0.8.0.device", "uart");	/* INTA# -> pin 16 */
	REQUIRE(lpc_device_parse(bvm->cfg, "pc-testdev") == 0);
	bvm = test_bvm_init(bvm);
	REQUIRE(bvm != NULL);
	pi = pci_emul_find_devinst(bvm, 0, 8, 0);
	REQUIRE(pi != NULL && pi->pi_lintr.ioapic_pin == 16);
	base = (int)pi->pi_bar[0].addr;
	test_pio(bvm, 0, 0x2010, 1, 1);
	test_pio(bvm, 0, base + 1, 1, 0x02);		/* the uart's IER: THRE */
	test_pio(bvm, 0, 0x2010, 1, 0);
	CHECK_EQ(pin_level[16], 1);			/* the uart still asserts */
	CHECK_EQ(test_pio(bvm, 1, base + 2, 1, 0) & 0x0f, 0x02);	/* IIR read */
	CHECK_EQ(pin_level[16], 0);
	CHECK_EQ(pin_changes, 2);
	test_bvm_free(bvm);
}

TEST(pci_io_bars_above_irq_lines)
{
	struct bhyve_vm *bvm = test_bvm_alloc();
	struct pci_devinst *pi;

	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	set_config_value(bvm->cfg, "pci.0.5.0.device", "uart");
	REQUIRE(lpc_device_parse(bvm->cfg, "pc-testdev") == 0);
	bvm = test_bvm_init(bvm);
	REQUIRE(bvm != NULL);
	pi = pci_emul_find_devinst(bvm, 0, 5, 0);
	REQUIRE(pi != NULL);
	CHECK(pi->pi_bar[0].addr >= 0x2018);
	test_bvm_free(bvm);
}

TEST(absent_without_option)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	set_config_value(bvm->cfg, "pci.0.31.0.device", "lpc");
	bvm = test_bvm_init(bvm);
	REQUIRE(bvm != NULL);
	CHECK_EQ(test_pio(bvm, 1, 0xe0, 4, 0), 0xffffffff);
	CHECK_EQ(test_pio(bvm, 1, 0x2000, 1, 0) & 0xff, 0xff);
	test_pio(bvm, 0, 0xf4, 1, 1);
	CHECK_EQ(bvm->exit_request, -1);
	test_bvm_free(bvm);
}

TEST(parse_options)
{
	struct config *cfg = config_create();

	REQUIRE(cfg != NULL);
	CHECK_EQ(lpc_device_parse(cfg, "pc-testdev"), 0);
	CHECK(get_config_bool(cfg, "lpc.pc-testdev"));
	CHECK(lpc_device_parse(cfg, "pc-testdev,junk") != 0);
	CHECK(lpc_device_parse(cfg, "pc-testdev,") != 0);
	config_destroy(cfg);

	/* Without the LPC bridge: refused at init. */
	{
		struct bhyve_vm *bvm = test_bvm_alloc();

		set_config_bool(bvm->cfg, "lpc.pc-testdev", true);
		CHECK(test_bvm_init(bvm) == NULL);
	}
}
