/*
 * fuzz_pio.c - libFuzzer target: a guest's port and MMIO accesses against
 * bhyve's device layer (PCI conf1 and ECAM, hostbridge, the PCI uart, LPC
 * bridge with pc-testdev and fw_cfg, power management).  Input: 12-byte records
 * {kind, size, port/addr, value}.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "config.h"
#include "machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fake_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int sizes[4] = { 1, 2, 4, 8 };
	struct bhyve_vm bvm;
	struct vm_exit vme;
	uint32_t addr, val;
	size_t i;

	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	bvm.suspend = fake_suspend;
	set_config_value(bvm.cfg, "pci.0.0.0.device", "hostbridge");
	set_config_value(bvm.cfg, "pci.0.5.0.device", "uart");
	set_config_value(bvm.cfg, "pci.0.31.0.device", "lpc");
	set_config_value(bvm.cfg, "lpc.pc-testdev", "true");
	set_config_value(bvm.cfg, "lpc.fwcfg", "qemu");
	if (bhyve_devices_init(&bvm) != 0)
		abort();
	for (i = 0; i + 12 <= size; i += 12) {
		memcpy(&addr, data + i + 4, 4);
		memcpy(&val, data + i + 8, 4);
		memset(&vme, 0, sizeof(vme));
		if (data[i] & 1) {
			/* MMIO somewhere in the PCI hole and ECAM window */
			vme.exitcode = VM_EXITCODE_INST_EMUL;
			vme.u.mmio.gpa = MACHINE_PCI_MEM32_BASE + (addr % 0x3f000000u);
			vme.u.mmio.size = (uint8_t)sizes[data[i + 1] & 3];
			vme.u.mmio.write = (data[i] >> 1) & 1;
			vme.u.mmio.data = val;
			emulate_mem(&bvm, &vme);
		} else {
			vme.exitcode = VM_EXITCODE_INOUT;
			vme.u.inout.in = (data[i] >> 1) & 1;
			vme.u.inout.bytes = (uint16_t)sizes[data[i + 1] % 3];
			vme.u.inout.port = (uint16_t)addr;
			vme.u.inout.eax = val;
			emulate_inout(&bvm, &vme);
		}
	}
	bhyve_devices_fini(&bvm);
	config_destroy(bvm.cfg);
	return 0;
}
