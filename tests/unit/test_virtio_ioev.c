/*
 * test_virtio_ioev.c - virtio notifications without exits (bhyve/virtio.c,
 * docs/virtio.md "Notifications without exits"): the transport's doorbells
 * registered with a fake backend that does what KVM_IOEVENTFD does (a
 * write that matches a registration signals its eventfd; anything else
 * exits), driven as a guest driver drives virtio-rnd.  The registrations
 * follow the queue's enable, the BAR's address and decoding, a reset, a
 * restore and the device's end; a save serves a notification still in an
 * eventfd; a refused registration, and the software CPU, take the exit path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "virtio.h"
#include "vmmapi.h"
#include "test_guestmem.h"

#define SLOT		4
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x11000
#define USED_GPA	0x12000
#define BUF_GPA		0x20000
#define QSIZE		8

/* ---- a fake KVM_IOEVENTFD (api.rst 4.59) ---- */

struct fk_reg {
	struct bhyve_vm	*bvm;
	uint64_t	addr, data;
	int		len, fd, flags;
};

#define FK_MAX	64
static struct fk_reg fk[FK_MAX];
static int fk_n, fk_assigns, fk_deassigns, fk_refuse;
static pthread_mutex_t fk_mtx = PTHREAD_MUTEX_INITIALIZER;

static bool
fk_same(const struct fk_reg *r, struct bhyve_vm *bvm, uint64_t addr, int len, uint64_t data,
    int flags)
{
	int kind = flags & (VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH);

	return r->bvm == bvm && r->addr == addr && r->len == len && r->flags == kind &&
	    (!(kind & VM_IOEVENTFD_DATAMATCH) || r->data == data);
}

static int
fk_ioeventfd(struct bhyve_vm *bvm, uint64_t addr, int len, uint64_t data, int fd, int flags)
{
	int i, error = 0;

	pthread_mutex_lock(&fk_mtx);
	for (i = 0; i < fk_n; i++)
		if (fk_same(&fk[i], bvm, addr, len, data, flags))
			break;
	if (flags & VM_IOEVENTFD_DEASSIGN) {
		/* KVM removes only an exact match, fd included. */
		if (i == fk_n || fk[i].fd != fd)
			error = -ENOENT;
		else {
			fk[i] = fk[--fk_n];
			fk_deassigns++;
		}
	} else if (fk_refuse)
		error = -ENOSPC;
	else if (i < fk_n || fk_n == FK_MAX)
		error = -EEXIST;
	else {
		fk[fk_n++] = (struct fk_reg){ .bvm = bvm, .addr = addr, .data = data, .len = len,
		    .fd = fd, .flags = flags };
		fk_assigns++;
	}
	pthread_mutex_unlock(&fk_mtx);
	return error;
}

/* Registrations of @bvm with these flags (PIO or not). */
static int
fk_count(struct bhyve_vm *bvm, bool pio)
{
	int i, n = 0;

	pthread_mutex_lock(&fk_mtx);
	for (i = 0; i < fk_n; i++)
		n += fk[i].bvm == bvm && !!(fk[i].flags & VM_IOEVENTFD_PIO) == pio;
	pthread_mutex_unlock(&fk_mtx);
	return n;
}

static bool
fk_has(struct bhyve_vm *bvm, uint64_t addr, int len, uint64_t data, int flags)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&fk_mtx);
	for (i = 0; i < fk_n; i++)
		found |= fk_same(&fk[i], bvm, addr, len, data, flags);
	pthread_mutex_unlock(&fk_mtx);
	return found;
}

/* The guest writes @val: signalled in the "kernel" (true), or not matched (false). */
static bool
fk_write(struct bhyve_vm *bvm, bool pio, uint64_t addr, int len, uint64_t val)
{
	int i, fd = -1;

	pthread_mutex_lock(&fk_mtx);
	for (i = 0; i < fk_n; i++) {
		const struct fk_reg *r = &fk[i];
		if (r->bvm == bvm && r->addr == addr && r->len == len &&
		    !!(r->flags & VM_IOEVENTFD_PIO) == pio &&
		    (!(r->flags & VM_IOEVENTFD_DATAMATCH) || r->data == val))
			fd = r->fd;
	}
	pthread_mutex_unlock(&fk_mtx);
	return fd >= 0 && eventfd_write(fd, 1) == 0;
}

/* A modern doorbell of queue @q: an eventfd when registered, else the MMIO exit. */
static bool
doorbell(struct pci_devinst *pi, int q, int len)
{
	if (fk_write(pi->pi_vm, false, pi->pi_bar[4].addr + 0x3000 + 4 * (uint64_t)q, len,
	    (uint64_t)q))
		return true;
	tg_bar_write(pi, 4, 0x3000 + 4 * (uint64_t)q, len, (uint64_t)q);
	return false;
}

/* The legacy doorbell: a 16-bit OUT of the queue number to BAR 0 + 16. */
static bool
doorbell_legacy(struct pci_devinst *pi, int q)
{
	if (fk_write(pi->pi_vm, true, pi->pi_bar[0].addr + 16, 2, (uint64_t)q))
		return true;
	tg_bar_write(pi, 0, 16, 2, (uint64_t)q);
	return false;
}

/* The device's thread serves a notification in its own time: wait for it (10 s). */
static bool
wait_used(uint16_t idx)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 10000; i++) {
		if (tg_get16(USED_GPA + 2) == idx)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static struct bhyve_vm *
vm_with_rnd(struct pci_devinst **pip, bool ioev)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	tg_attach(bvm);
	if (ioev)
		bvm->ioeventfd = fk_ioeventfd;
	set_config_value(bvm->cfg, "pci.0.4.0.device", "virtio-rnd");
	bvm = test_bvm_init(bvm);
	*pip = bvm ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return bvm;
}

static void
wr(struct pci_devinst *pi, uint64_t off, int size, uint64_t val)
{
	tg_bar_write(pi, 4, off, size, val);
}

/* virtio 1.2 3.1.1, modern, one queue of QSIZE. */
static void
driver_init(struct pci_devinst *pi)
{
	wr(pi, 0x14, 1, 0);
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x08, 4, 1);
	wr(pi, 0x0c, 4, 1);			/* VERSION_1 */
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

/* Chain @slot: one writable buffer, offered as avail entry @slot. */
static void
offer(uint16_t slot)
{
	tg_put_desc(DESC_GPA, slot % QSIZE, BUF_GPA + 64 * (uint64_t)(slot % QSIZE), 16,
	    VRING_DESC_F_WRITE, 0);
	tg_put16(AVAIL_GPA + 4 + 2 * (slot % QSIZE), slot % QSIZE);
	tg_put16(AVAIL_GPA + 2, (uint16_t)(slot + 1));
}

static uint64_t
served(struct pci_devinst *pi)
{
	struct virtio_softc *vs = pi->pi_arg;

	return __atomic_load_n(&vs->ioev_served, __ATOMIC_RELAXED);
}

TEST(virtio_ioev_doorbells)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi, true);

	REQUIRE(bvm != NULL && pi != NULL);
	CHECK(((struct virtio_softc *)pi->pi_arg)->ioev);
	/* No queue is enabled yet: nothing registered. */
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
	driver_init(pi);
	/* Queue 0: the modern doorbell (any value, 16 bits) and the legacy one (value 0). */
	CHECK(fk_has(bvm, pi->pi_bar[4].addr + 0x3000, 2, 0, 0));
	CHECK(fk_has(bvm, pi->pi_bar[0].addr + 16, 2, 0,
	    VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH));
	CHECK_EQ(fk_count(bvm, false), 1);
	CHECK_EQ(fk_count(bvm, true), 1);

	offer(0);
	CHECK(doorbell(pi, 0, 2));		/* no exit */
	CHECK(wait_used(1));
	CHECK_EQ(served(pi), 1);
	offer(1);
	CHECK(doorbell_legacy(pi, 0));
	CHECK(wait_used(2));
	CHECK_EQ(served(pi), 2);
	/* A 32-bit write is not what was registered: it exits, and still notifies. */
	offer(2);
	CHECK(!doorbell(pi, 0, 4));
	CHECK_EQ(tg_get16(USED_GPA + 2), 3);
	CHECK_EQ(served(pi), 2);
	/* A legacy notify of a queue the device does not have exits and is ignored. */
	offer(3);
	CHECK(!doorbell_legacy(pi, 1));
	CHECK_EQ(tg_get16(USED_GPA + 2), 3);
	test_bvm_free(bvm);
	/* The device's end removed its doorbells. */
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
}

TEST(virtio_ioev_follows_bar_and_reset)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = vm_with_rnd(&pi, true);
	uint64_t old, moved;
	uint16_t cmd;

	REQUIRE(bvm != NULL && pi != NULL);
	driver_init(pi);
	old = pi->pi_bar[4].addr;
	/* The guest moves BAR 4 (its low dword): the doorbell moves with it. */
	moved = old ^ 0x100000;
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_BAR(4), 4, (uint32_t)moved);
	REQUIRE(pi->pi_bar[4].addr == moved && pi->pi_bar[4].decoding);
	CHECK(!fk_has(bvm, old + 0x3000, 2, 0, 0));
	CHECK(fk_has(bvm, moved + 0x3000, 2, 0, 0));
	CHECK_EQ(fk_count(bvm, false), 1);
	offer(0);
	CHECK(!fk_write(bvm, false, old + 0x3000, 2, 0));
	CHECK(doorbell(pi, 0, 2));
	CHECK(wait_used(1));
	/* Memory decoding off: no MMIO doorbell; the I/O one stays. */
	cmd = pci_get_cfgdata16(pi, PCIR_COMMAND);
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_COMMAND, 2, cmd & ~PCIM_CMD_MEMEN);
	CHECK_EQ(fk_count(bvm, false), 0);
	CHECK_EQ(fk_count(bvm, true), 1);
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_COMMAND, 2, cmd);
	CHECK_EQ(fk_count(bvm, false), 1);
	/* The legacy BAR moves too. */
	old = pi->pi_bar[0].addr;
	pci_emul_cfgwrite(bvm, 0, SLOT, 0, PCIR_BAR(0), 4, (uint32_t)(old + 0x100) | 1);
	REQUIRE(pi->pi_bar[0].addr == old + 0x100);
	CHECK(fk_has(bvm, old + 0x100 + 16, 2, 0, VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH));
	CHECK_EQ(fk_count(bvm, true), 1);
	/* A reset disables the queue: no doorbells until it is enabled again. */
	wr(pi, 0x14, 1, 0);
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
	memset(tg_ram + AVAIL_GPA, 0, USED_GPA + 0x1000 - AVAIL_GPA);
	driver_init(pi);
	CHECK_EQ(fk_count(bvm, false), 1);
	CHECK_EQ(fk_count(bvm, true), 1);
	offer(0);
	CHECK(doorbell(pi, 0, 2));
	CHECK(wait_used(1));
	/* Legacy: a queue PFN of 0 disables the queue, and its doorbells go. */
	tg_bar_write(pi, 0, 14, 2, 0);		/* QUEUE_SEL */
	tg_bar_write(pi, 0, 8, 4, 0);		/* QUEUE_PFN */
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
	tg_bar_write(pi, 0, 8, 4, DESC_GPA >> 12);
	CHECK_EQ(fk_count(bvm, false), 1);
	CHECK_EQ(fk_count(bvm, true), 1);
	test_bvm_free(bvm);
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
}

TEST(virtio_ioev_refused_takes_exits)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;

	fk_refuse = 1;
	bvm = vm_with_rnd(&pi, true);
	REQUIRE(bvm != NULL && pi != NULL);
	driver_init(pi);
	CHECK_EQ(fk_count(bvm, false) + fk_count(bvm, true), 0);
	offer(0);
	CHECK(!doorbell(pi, 0, 2));
	CHECK_EQ(tg_get16(USED_GPA + 2), 1);	/* served at once, on the "vCPU" */
	CHECK_EQ(served(pi), 0);
	fk_refuse = 0;
	test_bvm_free(bvm);
}

TEST(virtio_ioev_save_and_restore)
{
	static uint8_t snap[16384];
	struct pci_devinst *pi, *pi2;
	struct bhyve_vm *bvm = vm_with_rnd(&pi, true), *bvm2;
	uint8_t *keep;
	uint16_t last_avail;
	ssize_t n;

	REQUIRE(bvm != NULL && pi != NULL);
	driver_init(pi);
	/*
	 * A notification the vCPU made before it stopped is in the eventfd;
	 * the save serves it (or the thread did first): either way the cut
	 * has the chain taken and used.
	 */
	offer(0);
	CHECK(doorbell(pi, 0, 2));
	n = pci_snapshot_save(pi, snap, sizeof(snap));
	REQUIRE(n > 0 && (size_t)n <= sizeof(snap));
	CHECK_EQ(tg_get16(USED_GPA + 2), 1);
	CHECK_EQ(served(pi), 1);
	keep = malloc(TG_RAM_SIZE);
	REQUIRE(keep != NULL);
	memcpy(keep, tg_ram, TG_RAM_SIZE);
	bvm2 = vm_with_rnd(&pi2, true);
	memcpy(tg_ram, keep, TG_RAM_SIZE);
	free(keep);
	REQUIRE(bvm2 != NULL && pi2 != NULL);
	CHECK_EQ(fk_count(bvm2, false) + fk_count(bvm2, true), 0);
	REQUIRE(pci_snapshot_restore(pi2, snap, (size_t)n) == 0);
	/* The restored queue is enabled: its doorbells are registered again. */
	CHECK(fk_has(bvm2, pi2->pi_bar[4].addr + 0x3000, 2, 0, 0));
	CHECK_EQ(fk_count(bvm2, true), 1);
	/* The chain is taken in the saved state: the new device does not serve it again. */
	last_avail = ((struct virtio_softc *)pi2->pi_arg)->queues[0].last_avail;
	CHECK_EQ(last_avail, 1);
	offer(1);
	CHECK(doorbell(pi2, 0, 2));
	CHECK(wait_used(2));
	CHECK_EQ(served(pi2), 1);
	test_bvm_free(bvm2);
	test_bvm_free(bvm);
	CHECK_EQ(fk_n, 0);
	CHECK_EQ(fk_assigns, fk_deassigns);
}

/* The software CPU has no ioeventfd: libvmmapi says so, and bhyve keeps the exits. */
TEST(virtio_ioev_software_cpu_falls_back)
{
	static char dir[64];
	struct vmctx *ctx, *remote;
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/lhyve-ioev-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	setenv("VMM_DIR", dir, 1);
	REQUIRE(vm_create("ioev") == 0);
	ctx = vm_openf("ioev", VMMAPI_OPEN_RUN);
	REQUIRE(ctx != NULL);
	REQUIRE(vm_setup_memory(ctx, 16 << 20, VM_MMAP_ALL) == 0);
	REQUIRE(vm_attach_backend(ctx, "emu") == 0);
	CHECK(!vm_has_ioeventfd(ctx));
	fd = eventfd(0, EFD_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK(vm_ioeventfd(ctx, 0x3000, 2, 0, fd, 0) == -1 && errno == ENOTSUP);
	/* Another process's view cannot take an eventfd of this one. */
	remote = vm_open("ioev");
	REQUIRE(remote != NULL);
	CHECK(!vm_has_ioeventfd(remote));
	CHECK(vm_ioeventfd(remote, 0x3000, 2, 0, fd, 0) == -1 && errno == ENOTSUP);
	vm_close(remote);
	close(fd);

	bvm = test_bvm_alloc();
	tg_attach(bvm);
	bvm->ctx = ctx;
	set_config_value(bvm->cfg, "pci.0.4.0.device", "virtio-rnd");
	bvm = test_bvm_init(bvm);
	REQUIRE(bvm != NULL);
	pi = pci_emul_find_devinst(bvm, 0, SLOT, 0);
	REQUIRE(pi != NULL);
	CHECK(bvm->ioeventfd == NULL);
	CHECK(!((struct virtio_softc *)pi->pi_arg)->ioev);
	driver_init(pi);
	offer(0);
	tg_bar_write(pi, 4, 0x3000, 2, 0);	/* the MMIO exit's path */
	CHECK_EQ(tg_get16(USED_GPA + 2), 1);
	CHECK_EQ(served(pi), 0);
	vm_snapshot_unregister(ctx, NULL);
	test_bvm_free(bvm);
	vm_destroy(ctx);
}

/* -o virtio.ioeventfd=false keeps the exits even where the backend has eventfds. */
TEST(virtio_ioev_option)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	set_config_value(bvm->cfg, "virtio.ioeventfd", "maybe");
	CHECK(test_bvm_init(bvm) == NULL);	/* not a boolean: one line, failure */
}
