/*
 * pm.c - bhyve's power management ports (usr.sbin/bhyve/pm.c): the reset
 * control register at 0xcf9, the ACPI PM1a event block (status, enable),
 * the PM1a control block with SLP_TYP/SLP_EN, the SMI command port that
 * switches ACPI mode on and off.  The ACPI PM timer (port 0x408) is
 * libvmm's (vmm/vmm_platform.c, vpmtmr), as vmm.ko serves it on FreeBSD;
 * this PM1 block has no TMR_STS/TMR_EN (the FADT does not offer them).
 *
 * Concurrency: every register lives in struct pm_state under pm_mtx; the
 * guest may touch them from any vCPU and bhyverun from its signal thread
 * (pm_power_button).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bhyve.h"
#include "inout.h"
#include "pci_lpc.h"
#include "pm.h"

struct pm_state {
	pthread_mutex_t	pm_mtx;
	uint8_t		pm_reset_cnt;
	uint16_t	pm1_status;
	uint16_t	pm1_enable;
	uint16_t	pm1_control;
};

/* The SCI is level triggered: it follows (status & enable) (ACPI 4.8.3.1). */
static void
pm_sci_update(struct bhyve_vm *bvm, struct pm_state *pm)
{

	lpc_irq_set(bvm, MACHINE_IRQ_SCI, LPC_IRQSRC_SCI,
	    (pm->pm1_status & pm->pm1_enable) != 0);
}

static void
pm_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{

	if (bvm->suspend != NULL)
		(void)bvm->suspend(bvm, how);
}

/*
 * Reset control (Intel ICH RST_CNT).  Writing RST_CPU resets the machine;
 * hard (SYS_RST) and soft resets are the same here, as in bhyve.
 */
static int
pm_reset_handler(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pm_state *pm = arg;
	bool reset;

	if (bytes != 1) {
		/* A byte register: wider cycles find nothing. */
		if (in)
			*eax = 0xffffffff;
		return (0);
	}
	pthread_mutex_lock(&pm->pm_mtx);
	if (in) {
		*eax = pm->pm_reset_cnt;
		reset = false;
	} else {
		pm->pm_reset_cnt = (uint8_t)*eax;
		reset = (*eax & RST_CNT_RST_CPU) != 0;
	}
	pthread_mutex_unlock(&pm->pm_mtx);
	if (reset)
		pm_suspend(bvm, VM_SUSPEND_RESET);
	return (0);
}

static uint16_t
pm1_reg_read(struct pm_state *pm, int reg)
{

	switch (reg) {
	case 0:
		return (pm->pm1_status);
	case 1:
		return (pm->pm1_enable);
	default:
		return (pm->pm1_control);
	}
}

/*
 * Writes to one 16-bit register; mask says which bytes the access covered.
 * Returns true when the write requests S5.
 */
static bool
pm1_reg_write(struct pm_state *pm, int reg, uint16_t val, uint16_t mask)
{

	val &= mask;
	switch (reg) {
	case 0:
		/* Status bits are write-1-to-clear (ACPI 4.8.3.1). */
		pm->pm1_status &= ~(val & (PM1_WAK_STS | PM1_RTC_STS |
		    PM1_SLPBTN_STS | PM1_PWRBTN_STS | PM1_BM_STS));
		return (false);
	case 1:
		/* Only events bhyve can raise; GBL_EN for ACPI's global lock. */
		pm->pm1_enable = (uint16_t)((pm->pm1_enable & ~mask) |
		    (val & (PM1_RTC_EN | PM1_PWRBTN_EN | PM1_GBL_EN)));
		return (false);
	default:
		/*
		 * SLP_EN is write-only and reads 0; reserved bits read 0;
		 * SCI_EN belongs to the SMI_CMD handshake, not to OSPM.
		 */
		pm->pm1_control = (uint16_t)((pm->pm1_control & PM1_SCI_EN) |
		    (((pm->pm1_control & ~mask) | val) &
		    ~(PM1_SLP_EN | PM1_ALWAYS_ZERO)));
		return ((val & PM1_SLP_EN) != 0 &&
		    ((pm->pm1_control & PM1_SLP_TYP) >> 10) == PM_SLP_TYP_S5);
	}
}

/* PM1a_EVT (status, enable) and PM1a_CNT: six ports of 16-bit registers. */
static int
pm1_handler(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t *eax,
    void *arg)
{
	struct pm_state *pm = arg;
	uint16_t wval[3] = { 0, 0, 0 }, wmask[3] = { 0, 0, 0 };
	uint32_t val = 0;
	bool poweroff = false;
	int i, p, reg, shift;

	pthread_mutex_lock(&pm->pm_mtx);
	for (i = 0; i < bytes; i++) {
		p = port - MACHINE_IO_PM1A_EVT + i;
		if (p >= 6) {
			val |= 0xffu << (8 * i);
			continue;
		}
		reg = p / 2;
		shift = 8 * (p % 2);
		if (in)
			val |= (uint32_t)((pm1_reg_read(pm, reg) >> shift) &
			    0xff) << (8 * i);
		else {
			wval[reg] |= (uint16_t)(((*eax >> (8 * i)) & 0xff) <<
			    shift);
			wmask[reg] |= (uint16_t)(0xff << shift);
		}
	}
	if (in)
		*eax = val;
	else {
		for (reg = 0; reg < 3; reg++)
			if (wmask[reg] != 0 &&
			    pm1_reg_write(pm, reg, wval[reg], wmask[reg]))
				poweroff = true;
		pm_sci_update(bvm, pm);
	}
	pthread_mutex_unlock(&pm->pm_mtx);
	if (poweroff)
		pm_suspend(bvm, VM_SUSPEND_POWEROFF);
	return (0);
}

/* SMI_CMD: the OS asks "firmware" to enter or leave ACPI mode (ACPI 4.8.2.5). */
static int
pm_smi_cmd_handler(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pm_state *pm = arg;

	if (bytes != 1)
		return (0);
	pthread_mutex_lock(&pm->pm_mtx);
	switch (*eax & 0xff) {
	case MACHINE_ACPI_ENABLE:
		pm->pm1_control |= PM1_SCI_EN;
		break;
	case MACHINE_ACPI_DISABLE:
		pm->pm1_control &= ~PM1_SCI_EN;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&pm->pm_mtx);
	return (0);
}

bool
pm_power_button(struct bhyve_vm *bvm)
{
	struct pm_state *pm = bvm->pm;
	bool heard;

	if (pm == NULL)
		return (false);
	pthread_mutex_lock(&pm->pm_mtx);
	pm->pm1_status |= PM1_PWRBTN_STS;
	pm_sci_update(bvm, pm);
	/* Someone listens: ACPI mode (SCI_EN) with the button's event enabled. */
	heard = (pm->pm1_control & PM1_SCI_EN) && (pm->pm1_enable & PM1_PWRBTN_EN);
	pthread_mutex_unlock(&pm->pm_mtx);
	return (heard);
}

int
pm_init(struct bhyve_vm *bvm)
{
	struct pm_state *pm;
	struct inout_port ports[4];
	int i;

	pm = calloc(1, sizeof(*pm));
	if (pm == NULL)
		return (-1);
	pthread_mutex_init(&pm->pm_mtx, NULL);
	bvm->pm = pm;

	ports[0] = (struct inout_port){ "reset_reg", MACHINE_IO_RESET_CNT, 1,
	    IOPORT_F_INOUT, pm_reset_handler, pm };
	ports[1] = (struct inout_port){ "pm1_evt", MACHINE_IO_PM1A_EVT, 4,
	    IOPORT_F_INOUT, pm1_handler, pm };
	ports[2] = (struct inout_port){ "pm1_cnt", MACHINE_IO_PM1A_CNT, 2,
	    IOPORT_F_INOUT, pm1_handler, pm };
	ports[3] = (struct inout_port){ "smi_cmd", MACHINE_IO_SMI_CMD, 1,
	    IOPORT_F_OUT, pm_smi_cmd_handler, pm };
	for (i = 0; i < 4; i++) {
		if (register_inout(bvm->inout, &ports[i]) != 0) {
			fprintf(stderr, "bhyve: pm: port %#x is taken\n",
			    ports[i].port);
			return (-1);
		}
	}
	return (0);
}

void
pm_fini(struct bhyve_vm *bvm)
{
	struct pm_state *pm = bvm->pm;

	if (pm == NULL)
		return;
	pthread_mutex_destroy(&pm->pm_mtx);
	free(pm);
	bvm->pm = NULL;
}
