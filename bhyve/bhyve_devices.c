/*
 * bhyve_devices.c - builds and tears down a VM's device layer from its
 * config tree (bhyverun.c's init_inout/init_mem/init_pci in FreeBSD).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "mem.h"
#include "pci_emul.h"
#include "pci_lpc.h"
#include "pm.h"
#include "vmmapi.h"

static int
bhyve_vm_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{

	if (bvm->ctx == NULL)
		return (-ENODEV);
	/* EALREADY: another vCPU asked first; the first request wins. */
	if (vm_suspend(bvm->ctx, how) != 0 && errno != EALREADY)
		return (-errno);
	return (0);
}

static void *
bhyve_vm_gpa_map(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{

	if (bvm->ctx == NULL || len == 0)
		return (NULL);
	return (vm_map_gpa(bvm->ctx, gpa, len));
}

static void
bhyve_vm_mem_written(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{

	if (bvm->ctx != NULL)
		vm_mem_written(bvm->ctx, gpa, len);
}

/* Interrupts go to libvmm's LAPICs, IOAPIC (and 8259) through libvmmapi. */
static int
bhyve_vm_msi(struct bhyve_vm *bvm, uint64_t addr, uint64_t data)
{
	return (vm_lapic_msi(bvm->ctx, addr, data) == 0 ? 0 : -errno);
}

static int
bhyve_vm_ioapic_pin(struct bhyve_vm *bvm, int pin, bool level)
{
	int error = level ? vm_ioapic_assert_irq(bvm->ctx, pin) :
	    vm_ioapic_deassert_irq(bvm->ctx, pin);

	return (error == 0 ? 0 : -errno);
}

static int
bhyve_vm_isa_irq(struct bhyve_vm *bvm, int irq, bool level)
{
	/* -1: the IOAPIC pin the machine map gives the ISA line. */
	int error = level ? vm_isa_assert_irq(bvm->ctx, irq, -1) :
	    vm_isa_deassert_irq(bvm->ctx, irq, -1);

	return (error == 0 ? 0 : -errno);
}

static int
bhyve_vm_ioeventfd(struct bhyve_vm *bvm, uint64_t addr, int len, uint64_t data, int fd,
    int flags)
{
	return (vm_ioeventfd(bvm->ctx, addr, len, data, fd, flags) == 0 ? 0 : -errno);
}

int
bhyve_devices_init(struct bhyve_vm *bvm)
{
	bool strict = false, ioeventfd = true;
	int error;

	if (bvm->cfg == NULL) {
		fprintf(stderr, "bhyve: no configuration\n");
		return (-1);
	}
	bvm->inout = NULL;
	bvm->mem = NULL;
	bvm->pci = NULL;
	bvm->lpc = NULL;
	bvm->pm = NULL;
	memset(bvm->lpc_irq_level, 0, sizeof(bvm->lpc_irq_level));
	pthread_mutex_init(&bvm->lpc_irq_mtx, NULL);
	memset(bvm->intx_count, 0, sizeof(bvm->intx_count));
	pthread_mutex_init(&bvm->intx_mtx, NULL);
	bvm->exit_request = -1;
	if (bvm->suspend == NULL)
		bvm->suspend = bhyve_vm_suspend;
	if (bvm->gpa_map == NULL)
		bvm->gpa_map = bhyve_vm_gpa_map;
	if (bvm->mem_written == NULL)
		bvm->mem_written = bhyve_vm_mem_written;
	if (bvm->ctx != NULL) {
		if (bvm->msi == NULL)
			bvm->msi = bhyve_vm_msi;
		if (bvm->ioapic_pin == NULL)
			bvm->ioapic_pin = bhyve_vm_ioapic_pin;
		if (bvm->isa_irq == NULL)
			bvm->isa_irq = bhyve_vm_isa_irq;
	}
	error = config_get_bool(bvm->cfg, "virtio.ioeventfd", &ioeventfd);
	if (error == -EINVAL) {
		fprintf(stderr, "bhyve: virtio.ioeventfd: '%s' is not a boolean\n",
		    get_config_value(bvm->cfg, "virtio.ioeventfd"));
		return (-1);
	}
	if (bvm->ioeventfd == NULL && bvm->ctx != NULL && ioeventfd &&
	    vm_has_ioeventfd(bvm->ctx))
		bvm->ioeventfd = bhyve_vm_ioeventfd;

	error = config_get_bool(bvm->cfg, "x86.strictio", &strict);
	if (error == -EINVAL) {
		fprintf(stderr, "bhyve: x86.strictio: '%s' is not a boolean\n",
		    get_config_value(bvm->cfg, "x86.strictio"));
		return (-1);
	}
	bvm->inout = inout_table_create();
	bvm->mem = mem_ranges_create();
	if (bvm->inout == NULL || bvm->mem == NULL) {
		fprintf(stderr, "bhyve: out of memory\n");
		goto fail;
	}
	inout_set_strict(bvm->inout, strict);
	if (pm_init(bvm) != 0 || pci_emul_init(bvm) != 0 ||
	    lpc_check_config(bvm) != 0)
		goto fail;
	return (0);
fail:
	/* The devices' snapshot hooks point at what fini frees. */
	if (bvm->ctx != NULL)
		vm_snapshot_unregister(bvm->ctx, NULL);
	bhyve_devices_fini(bvm);
	return (-1);
}

void
bhyve_devices_fini(struct bhyve_vm *bvm)
{

	/* Devices first: they stop their threads and leave the tables. */
	pci_emul_fini(bvm);
	pm_fini(bvm);
	mem_ranges_destroy(bvm->mem);
	bvm->mem = NULL;
	inout_table_destroy(bvm->inout);
	bvm->inout = NULL;
	memset(bvm->lpc_irq_level, 0, sizeof(bvm->lpc_irq_level));
	pthread_mutex_destroy(&bvm->lpc_irq_mtx);
	pthread_mutex_destroy(&bvm->intx_mtx);
}
