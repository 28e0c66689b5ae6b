/*
 * fuzz_virtio_console.c - libFuzzer target: a hostile virtio-console
 * driver.  The input is guest RAM holding the rings and buffers of the six
 * queues of a two-port device (control messages included) and whether
 * MULTIPORT is negotiated; a client is connected to port 0 and sends a few
 * bytes.  The device thread works asynchronously: the target waits for two
 * of its rounds after notifying every queue.
 *
 * Input: byte 0 bit 0 MULTIPORT, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC;
 * then guest RAM from 0: available rings at 0x10 * q, descriptor tables at
 * 0x60 + 0x40 * q (4 entries per queue); used rings at 0x2000.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "pci_virtio_console.h"
#include "virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	(256u << 10)
#define QSIZE		4
#define NQ		6

static uint8_t ram[RAM_SIZE];
static char dir[64], path0[128], path1[128];

static void *
fake_gpa_map(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	return ram + gpa;
}

static int
fake_msi(struct bhyve_vm *bvm, uint64_t addr, uint64_t data)
{
	return 0;
}

static int
fake_pin(struct bhyve_vm *bvm, int pin, bool level)
{
	return 0;
}

static void
remove_dir(void)
{
	rmdir(dir);
}

static void
mwr(struct pci_devinst *pi, uint64_t off, int size, uint64_t val)
{
	pi->pi_d->pe_barwrite(pi, 4, off, size, val);
}

/* Two more rounds of the device thread, each started after a notification. */
static void
settle(struct pci_devinst *pi)
{
	struct vtcon_stats st;
	struct timespec ts = { 0, 20000 };

	for (int round = 0; round < 2; round++) {
		uint64_t start;

		vtcon_get_stats(pi, &st);
		start = st.work_passes;
		mwr(pi, 0x3000 + 4 * 3, 2, 0);	/* the control transmit queue: a wake-up */
		for (int i = 0; i < 5000; i++) {
			vtcon_get_stats(pi, &st);
			if (st.work_passes > start)
				break;
			nanosleep(&ts, NULL);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bhyve_vm bvm;
	struct pci_devinst *pi;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint64_t features;
	char opts[400];
	int fd;

	if (size < 1)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/lhyve-fuzzcon.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path0, sizeof(path0), "%s/p0", dir);
		snprintf(path1, sizeof(path1), "%s/p1", dir);
		atexit(remove_dir);
	}
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 1, size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE);
	memset(&bvm, 0, sizeof(bvm));
	bvm.cfg = config_create();
	bvm.gpa_map = fake_gpa_map;
	bvm.msi = fake_msi;
	bvm.ioapic_pin = fake_pin;
	snprintf(opts, sizeof(opts), "5,virtio-console,p0=%s,p1=%s,console=p1", path0, path1);
	if (pci_parse_slot(bvm.cfg, opts) != 0 || bhyve_devices_init(&bvm) != 0)
		abort();
	pi = pci_emul_find_devinst(&bvm, 0, 5, 0);
	/* A client on port 0 with something to say. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		abort();
	(void)!write(fd, "client bytes", 12);
	features = VIRTIO_F_VERSION_1 | ((data[0] & 1) ? 1ULL << 1 : 0) |
	    ((data[0] & 2) ? VIRTIO_F_EVENT_IDX : 0) | ((data[0] & 4) ? VIRTIO_F_INDIRECT_DESC : 0);
	mwr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mwr(pi, 0x08, 4, 0);
	mwr(pi, 0x0c, 4, (uint32_t)features);
	mwr(pi, 0x08, 4, 1);
	mwr(pi, 0x0c, 4, (uint32_t)(features >> 32));
	mwr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (int q = 0; q < NQ; q++) {
		mwr(pi, 0x16, 2, (uint64_t)q);
		mwr(pi, 0x18, 2, QSIZE);
		mwr(pi, 0x20, 8, 0x60 + 0x40 * (uint64_t)q);
		mwr(pi, 0x28, 8, 0x10 * (uint64_t)q);
		mwr(pi, 0x30, 8, 0x2000 + 0x100 * (uint64_t)q);
		mwr(pi, 0x1c, 2, 1);
	}
	mwr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
	    VIRTIO_S_DRIVER_OK);
	for (int q = 0; q < NQ; q++)
		mwr(pi, 0x3000 + 4 * (uint64_t)q, 2, 0);
	settle(pi);
	/* The device's replies used control buffers: the same rings, once more. */
	settle(pi);
	close(fd);
	settle(pi);
	bhyve_devices_fini(&bvm);
	config_destroy(bvm.cfg);
	return 0;
}
