/*
 * test_pm.c - bhyve's power management ports with a fake vm_suspend and
 * a fake clock.
 */
#include <errno.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pm.h"

struct fake {
	int	nsuspend;
	enum vm_suspend_how how;
};

static int
fake_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{
	struct fake *f = bvm->test_arg;

	f->nsuspend++;
	f->how = how;
	return (f->nsuspend > 1 ? -EALREADY : 0);
}

/* ISA line transitions as the interrupt controllers hear them. */
static int isa_edges[16][2];

static int
fake_isa_irq(struct bhyve_vm *bvm, int irq, bool level)
{
	isa_edges[irq][level]++;
	return (0);
}

static struct bhyve_vm *
pm_vm(struct fake *f)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	memset(f, 0, sizeof(*f));
	bvm->suspend = fake_suspend;
	bvm->isa_irq = fake_isa_irq;
	bvm->test_arg = f;
	memset(isa_edges, 0, sizeof(isa_edges));
	return (test_bvm_init(bvm));
}

TEST(pm_reset_register)
{
	struct fake f;
	struct bhyve_vm *bvm = pm_vm(&f);

	REQUIRE(bvm != NULL);
	CHECK_EQ(test_pio(bvm, 1, 0xcf9, 1, 0), 0);
	/* SYS_RST alone only selects the kind of reset. */
	test_pio(bvm, 0, 0xcf9, 1, RST_CNT_SYS_RST);
	CHECK_EQ(f.nsuspend, 0);
	CHECK_EQ(test_pio(bvm, 1, 0xcf9, 1, 0), RST_CNT_SYS_RST);
	/* Hard reset (0x06), the usual reboot=pci value. */
	test_pio(bvm, 0, 0xcf9, 1, RST_CNT_SYS_RST | RST_CNT_RST_CPU);
	CHECK_EQ(f.nsuspend, 1);
	CHECK_EQ(f.how, VM_SUSPEND_RESET);
	/* Soft reset (0x04) resets too; EALREADY from libvmmapi is fine. */
	test_pio(bvm, 0, 0xcf9, 1, RST_CNT_RST_CPU);
	CHECK_EQ(f.nsuspend, 2);
	CHECK_EQ(f.how, VM_SUSPEND_RESET);
	/* Wide accesses do nothing. */
	test_pio(bvm, 0, 0xcf9, 2, 0x0606);
	CHECK_EQ(f.nsuspend, 2);
	CHECK_EQ(test_pio(bvm, 1, 0xcf9, 2, 0), 0xffff);
	/* 0xcf8 is still the PCI address register. */
	test_pio(bvm, 0, 0xcf8, 4, 0x80000000);
	CHECK_EQ(test_pio(bvm, 1, 0xcf8, 4, 0), 0x80000000);
	CHECK_EQ(f.nsuspend, 2);
	test_bvm_free(bvm);
}

TEST(pm_s5_poweroff)
{
	struct fake f;
	struct bhyve_vm *bvm = pm_vm(&f);

	REQUIRE(bvm != NULL);
	/* SLP_TYP 5 without SLP_EN: just a register value. */
	test_pio(bvm, 0, 0x404, 2, 5 << 10);
	CHECK_EQ(f.nsuspend, 0);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0), 5 << 10);
	/* SLP_EN with another sleep type (S1): not supported, ignored. */
	test_pio(bvm, 0, 0x404, 2, PM1_SLP_EN | (1 << 10));
	CHECK_EQ(f.nsuspend, 0);
	/* S5. */
	test_pio(bvm, 0, 0x404, 2, PM1_SLP_EN | (PM_SLP_TYP_S5 << 10));
	CHECK_EQ(f.nsuspend, 1);
	CHECK_EQ(f.how, VM_SUSPEND_POWEROFF);
	/* SLP_EN is write-only; reserved bits read 0. */
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0), 5 << 10);
	test_pio(bvm, 0, 0x404, 2, 0xffff & ~PM1_SLP_EN);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0), 0xffff & ~(PM1_SLP_EN |
	    PM1_ALWAYS_ZERO));
	/* Byte writes: SLP_EN lives in the high byte. */
	test_pio(bvm, 0, 0x404, 2, 0);
	test_pio(bvm, 0, 0x405, 1, (PM1_SLP_EN | (PM_SLP_TYP_S5 << 10)) >> 8);
	CHECK_EQ(f.nsuspend, 2);
	/* A 4-byte write from 0x404 covers the control block only. */
	test_pio(bvm, 0, 0x404, 4, 0xffff0000u | PM1_SLP_EN | (5 << 10));
	CHECK_EQ(f.nsuspend, 3);
	test_bvm_free(bvm);
}

TEST(pm_sci_enable_via_smi_cmd)
{
	struct fake f;
	struct bhyve_vm *bvm = pm_vm(&f);

	REQUIRE(bvm != NULL);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0) & PM1_SCI_EN, 0);
	test_pio(bvm, 0, 0xb2, 1, MACHINE_ACPI_ENABLE);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0) & PM1_SCI_EN, PM1_SCI_EN);
	/* OSPM cannot clear SCI_EN by writing the control register. */
	test_pio(bvm, 0, 0x404, 2, 0);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0) & PM1_SCI_EN, PM1_SCI_EN);
	test_pio(bvm, 0, 0xb2, 1, 0x55);			/* unknown command */
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0) & PM1_SCI_EN, PM1_SCI_EN);
	test_pio(bvm, 0, 0xb2, 1, MACHINE_ACPI_DISABLE);
	CHECK_EQ(test_pio(bvm, 1, 0x404, 2, 0) & PM1_SCI_EN, 0);
	/* SMI_CMD is write-only. */
	CHECK_EQ(test_pio(bvm, 1, 0xb2, 1, 0), 0xff);
	test_bvm_free(bvm);
}

TEST(pm_power_button_sci)
{
	struct fake f;
	struct bhyve_vm *bvm = pm_vm(&f);

	REQUIRE(bvm != NULL);
	/* Only the supported enables stick. */
	test_pio(bvm, 0, 0x402, 2, 0xffff);
	CHECK_EQ(test_pio(bvm, 1, 0x402, 2, 0), PM1_RTC_EN | PM1_PWRBTN_EN |
	    PM1_GBL_EN);
	test_pio(bvm, 0, 0x402, 2, 0);
	pm_power_button(bvm);
	CHECK_EQ(test_pio(bvm, 1, 0x400, 2, 0), PM1_PWRBTN_STS);
	CHECK(!lpc_irq_asserted(bvm, MACHINE_IRQ_SCI));	/* not enabled */
	test_pio(bvm, 0, 0x402, 2, PM1_PWRBTN_EN);
	CHECK(lpc_irq_asserted(bvm, MACHINE_IRQ_SCI));
	/* 4-byte read at 0x400: status, then enable. */
	CHECK_EQ(test_pio(bvm, 1, 0x400, 4, 0), PM1_PWRBTN_STS |
	    (PM1_PWRBTN_EN << 16));
	/* Writing 0 clears nothing; writing 1 clears (RW1C). */
	test_pio(bvm, 0, 0x400, 2, 0);
	CHECK(lpc_irq_asserted(bvm, MACHINE_IRQ_SCI));
	test_pio(bvm, 0, 0x400, 2, PM1_PWRBTN_STS);
	CHECK_EQ(test_pio(bvm, 1, 0x400, 2, 0), 0);
	CHECK(!lpc_irq_asserted(bvm, MACHINE_IRQ_SCI));
	/* The controllers heard one rise and one fall of IRQ 9, nothing else. */
	CHECK_EQ(isa_edges[MACHINE_IRQ_SCI][1], 1);
	CHECK_EQ(isa_edges[MACHINE_IRQ_SCI][0], 1);
	CHECK_EQ(f.nsuspend, 0);
	test_bvm_free(bvm);
}

TEST(pm_default_suspend_without_ctx)
{
	struct bhyve_vm *bvm = calloc(1, sizeof(*bvm));

	/* No libvmmapi context: the default hook fails quietly. */
	bvm->cfg = config_create();
	REQUIRE(bhyve_devices_init(bvm) == 0);
	CHECK(bvm->suspend != NULL);
	CHECK_EQ(bvm->suspend(bvm, VM_SUSPEND_RESET), -ENODEV);
	test_pio(bvm, 0, 0xcf9, 1, 0x06);
	test_bvm_free(bvm);
}
