/*
 * fuzz_virtio.c - libFuzzer target: a hostile virtio driver against the
 * transport, the virtqueues, virtio-rnd and virtio-blk (on a scratch disk
 * image).  The input is a list of 12-byte records {kind, size, offset,
 * value}: register writes and reads on the modern and legacy BARs, queue
 * notifications, MSI-X table and config space accesses, stores to guest
 * RAM; the input is also guest RAM's first bytes and, again, its bytes
 * from 0x10000, so rings and descriptors come from the same data.  Whatever the guest writes, the host must not
 * crash, hang or touch memory outside guest RAM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	(1u << 20)
static uint8_t ram[RAM_SIZE];
static char img[64];

static void *
gpa_map(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa ? ram + gpa : NULL;
}

static int
msi(struct bhyve_vm *bvm, uint64_t addr, uint64_t data)
{
	return 0;
}

static int
pin(struct bhyve_vm *bvm, int p, bool level)
{
	return 0;
}

static int
fake_suspend(struct bhyve_vm *bvm, enum vm_suspend_how how)
{
	return 0;
}

static void
remove_image(void)
{
	unlink(img);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int sizes[4] = { 1, 2, 4, 8 };
	struct pci_devinst *dev[2];
	struct bhyve_vm bvm;
	size_t i, nram;

	if (img[0] == '\0') {
		int fd;
		snprintf(img, sizeof(img), "/tmp/lhyve-fuzz-vblk.XXXXXX");
		fd = mkstemp(img);
		if (fd < 0 || ftruncate(fd, 1 << 20) != 0)
			abort();
		close(fd);
		atexit(remove_image);
	}
	nram = size < 0x10000 ? size : 0x10000;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data, nram);
	memcpy(ram + 0x10000, data, nram);
	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	bvm.suspend = fake_suspend;
	bvm.gpa_map = gpa_map;
	bvm.msi = msi;
	bvm.ioapic_pin = pin;
	set_config_value(bvm.cfg, "pci.0.4.0.device", "virtio-rnd");
	set_config_value(bvm.cfg, "pci.0.5.0.device", "virtio-blk");
	set_config_value(bvm.cfg, "pci.0.5.0.path", img);
	if (bhyve_devices_init(&bvm) != 0)
		abort();
	dev[0] = pci_emul_find_devinst(&bvm, 0, 4, 0);
	dev[1] = pci_emul_find_devinst(&bvm, 0, 5, 0);
	for (i = 0; i + 12 <= size; i += 12) {
		struct pci_devinst *pi = dev[data[i] & 1];
		int kind = (data[i] >> 1) & 7, sz = sizes[data[i + 1] & 3];
		uint16_t off;
		uint64_t val;

		memcpy(&off, data + i + 2, 2);
		memcpy(&val, data + i + 4, 8);
		switch (kind) {
		case 0:	/* modern common config, ISR, device config */
			pi->pi_d->pe_barwrite(pi, 4, off % 0x2100, sz, val);
			break;
		case 1:
			(void)pi->pi_d->pe_barread(pi, 4, off % 0x2100, sz);
			break;
		case 2:	/* notify a queue (sometimes one that does not exist) */
			pi->pi_d->pe_barwrite(pi, 4, 0x3000 + 4 * (off % 4), 2, val);
			break;
		case 3:	/* legacy I/O BAR */
			pi->pi_d->pe_barwrite(pi, 0, off % 96, sz > 4 ? 4 : sz, val);
			break;
		case 4:
			(void)pi->pi_d->pe_barread(pi, 0, off % 96, sz > 4 ? 4 : sz);
			break;
		case 5:	/* MSI-X table and PBA */
			pci_msix_write(pi, off % 0x1010, sz, val);
			break;
		case 6:	/* config space, including the MSI-X control and PCI cfg window */
			pci_emul_cfgwrite(&bvm, 0, pi->pi_slot, 0, off % 256, sz > 4 ? 4 : sz,
			    (uint32_t)val);
			break;
		default:	/* guest RAM changes under the device */
			memcpy(ram + (off % (RAM_SIZE - 8)) , &val, 8);
			break;
		}
	}
	bhyve_devices_fini(&bvm);
	config_destroy(bvm.cfg);
	return 0;
}
