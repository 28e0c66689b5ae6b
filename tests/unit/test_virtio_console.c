/*
 * test_virtio_console.c - virtio-console (bhyve/pci_virtio_console.c)
 * driven as a guest driver would, over fake guest RAM, with UNIX socket
 * clients on the host side: the control protocol (DEVICE_READY,
 * DEVICE_ADD, PORT_READY, CONSOLE_PORT, PORT_NAME, PORT_OPEN), bytes both
 * ways, disconnect and reconnect, a client that does not read, a second
 * client, hostile control messages, emergency write, and the options'
 * errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "pci_virtio_console.h"
#include "virtio.h"
#include "test_guestmem.h"

#define RAM_SIZE	TG_RAM_SIZE
#define SLOT		5
#define QSIZE		16
#define NQ		6		/* two ports */
#define RING_GPA(q)	(0x10000 + (uint64_t)(q) * 0x4000)
#define BUF_GPA(q, i)	(0x100000 + (uint64_t)(q) * 0x10000 + (uint64_t)(i) * 0x1000)
#define BIG_GPA		0x800000
#define CTRL_RX		2
#define CTRL_TX		3
#define F_MULTIPORT	(1ULL << 1)
#define F_EMERG_WRITE	(1ULL << 2)

#define ram		tg_ram
static char dir[40], sock1[64], sock2[64];
static uint16_t next_avail[NQ], next_desc[NQ], seen[NQ];
static uint64_t desc_addr[NQ][QSIZE];

static void
make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lhyve-vcon.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(sock1, sizeof(sock1), "%s/port1.sock", dir);
	snprintf(sock2, sizeof(sock2), "%s/cons.sock", dir);
}

static void
remove_dir(void)
{
	unlink(sock1);
	unlink(sock2);
	rmdir(dir);
}

static struct bhyve_vm *
vm_with_con(const char *opts, struct pci_devinst **pip)
{
	struct bhyve_vm *bvm = test_bvm_alloc();
	char slot[1024];

	tg_attach(bvm);
	memset(next_avail, 0, sizeof(next_avail));
	memset(next_desc, 0, sizeof(next_desc));
	memset(seen, 0, sizeof(seen));
	snprintf(slot, sizeof(slot), "%d,virtio-console,%s", SLOT, opts);
	if (pci_parse_slot(bvm->cfg, slot) != 0) {
		test_bvm_free(bvm);
		return NULL;
	}
	bvm = test_bvm_init(bvm);
	*pip = bvm ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return bvm;
}

static struct bhyve_vm *
vm_two_ports(struct pci_devinst **pip)
{
	char opts[400];

	snprintf(opts, sizeof(opts), "port1=%s,cons=%s,console=cons", sock1, sock2);
	return vm_with_con(opts, pip);
}

static uint64_t
rd(struct pci_devinst *pi, uint64_t off, int size)
{
	return pi->pi_d->pe_barread(pi, 4, off, size);
}

static void
wr(struct pci_devinst *pi, uint64_t off, int size, uint64_t val)
{
	pi->pi_d->pe_barwrite(pi, 4, off, size, val);
}

static void
driver_init(struct pci_devinst *pi, uint64_t features, int nq)
{
	wr(pi, 0x14, 1, 0);
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	wr(pi, 0x08, 4, 0);
	wr(pi, 0x0c, 4, (uint32_t)features);
	wr(pi, 0x08, 4, 1);
	wr(pi, 0x0c, 4, (uint32_t)(features >> 32));
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	for (int q = 0; q < nq; q++) {
		wr(pi, 0x16, 2, (uint64_t)q);
		wr(pi, 0x18, 2, QSIZE);
		wr(pi, 0x20, 8, RING_GPA(q));
		wr(pi, 0x28, 8, RING_GPA(q) + 0x1000);
		wr(pi, 0x30, 8, RING_GPA(q) + 0x2000);
		wr(pi, 0x1c, 2, 1);
	}
	wr(pi, 0x14, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
	    VIRTIO_S_DRIVER_OK);
}

static void
notify(struct pci_devinst *pi, int q)
{
	wr(pi, 0x3000 + 4 * (uint64_t)q, 2, 0);
}

/* One buffer on queue @q: @len bytes at @addr, device-writable when @writable. */
static void
offer(struct pci_devinst *pi, int q, uint64_t addr, uint32_t len, bool writable)
{
	uint16_t d = next_desc[q];
	uint8_t *p = ram + RING_GPA(q) + 16 * d;
	uint16_t flags = writable ? VRING_DESC_F_WRITE : 0, zero = 0;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &zero, 2);
	desc_addr[q][d] = addr;
	next_desc[q] = (uint16_t)((d + 1) % QSIZE);
	memcpy(ram + RING_GPA(q) + 0x1000 + 4 + 2 * (next_avail[q] % QSIZE), &d, 2);
	next_avail[q]++;
	__atomic_store_n((uint16_t *)(ram + RING_GPA(q) + 0x1000 + 2), next_avail[q],
	    __ATOMIC_RELEASE);
	notify(pi, q);
}

static uint16_t
used_idx(int q)
{
	return __atomic_load_n((uint16_t *)(ram + RING_GPA(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

static bool
wait_used(int q, uint16_t n)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 5000 && (int16_t)(used_idx(q) - n) < 0; i++)
		nanosleep(&ts, NULL);
	return (int16_t)(used_idx(q) - n) >= 0;
}

/* The next used buffer of @q: its bytes (in guest RAM) and length; NULL if none comes. */
static const uint8_t *
next_used(int q, uint32_t *len)
{
	uint32_t id;
	uint64_t e;

	if (!wait_used(q, (uint16_t)(seen[q] + 1)))
		return NULL;
	e = RING_GPA(q) + 0x2000 + 4 + 8 * (seen[q] % QSIZE);
	memcpy(&id, ram + e, 4);
	memcpy(len, ram + e + 4, 4);
	seen[q]++;
	return id < QSIZE ? ram + desc_addr[q][id] : NULL;
}

/* Give the driver's control receive queue @n buffers of 256 bytes. */
static void
ctrl_buffers(struct pci_devinst *pi, int n)
{
	static int k;

	for (int i = 0; i < n; i++, k++)
		offer(pi, CTRL_RX, BUF_GPA(CTRL_RX, k % QSIZE), 256, true);
}

static void
ctrl_send(struct pci_devinst *pi, uint32_t id, uint16_t event, uint16_t value)
{
	static int k;
	uint64_t a = BUF_GPA(CTRL_TX, k++ % QSIZE);

	memcpy(ram + a, &id, 4);
	memcpy(ram + a + 4, &event, 2);
	memcpy(ram + a + 6, &value, 2);
	offer(pi, CTRL_TX, a, 8, false);
}

/* Expect the next control message from the device to be {id, event, value}. */
static bool
ctrl_expect(uint32_t id, uint16_t event, uint16_t value, const char *name)
{
	uint32_t len, gid;
	uint16_t gev, gval;
	const uint8_t *m = next_used(CTRL_RX, &len);

	if (m == NULL || len < 8) {
		fprintf(stderr, "no control message (wanted event %u)\n", event);
		return false;
	}
	memcpy(&gid, m, 4);
	memcpy(&gev, m + 4, 2);
	memcpy(&gval, m + 6, 2);
	if (gid != id || gev != event || (name == NULL && gval != value)) {
		fprintf(stderr, "control message {%u, %u, %u}, wanted {%u, %u, %u}\n", gid, gev,
		    gval, id, event, value);
		return false;
	}
	if (name != NULL && (len != 8 + strlen(name) || memcmp(m + 8, name, strlen(name)) != 0)) {
		fprintf(stderr, "PORT_NAME '%.*s', wanted '%s'\n", (int)len - 8, m + 8, name);
		return false;
	}
	return true;
}

static int
client(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read exactly @len bytes from @fd within a few seconds. */
static bool
read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return false;
		n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* The multiport handshake for the two ports, port 0 without a client. */
static bool
handshake(struct pci_devinst *pi)
{
	bool ok = true;

	ctrl_buffers(pi, 8);
	ctrl_send(pi, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ok &= ctrl_expect(0, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
	ok &= ctrl_expect(1, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
	ctrl_send(pi, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	ok &= ctrl_expect(0, VIRTIO_CONSOLE_PORT_NAME, 0, "port1");
	ctrl_send(pi, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	/* The console port: CONSOLE_PORT, its name, and that nobody is on the host side. */
	ok &= ctrl_expect(1, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	ok &= ctrl_expect(1, VIRTIO_CONSOLE_PORT_NAME, 0, "cons");
	ok &= ctrl_expect(1, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
	return ok;
}

TEST(vcon_identity_and_config)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL && pi != NULL);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_DEVICE), 0x1002);
	CHECK_EQ(pci_get_cfgdata16(pi, PCIR_SUBDEV_0), VIRTIO_ID_CONSOLE);
	wr(pi, 0x00, 4, 0);
	CHECK((rd(pi, 0x04, 4) & (F_MULTIPORT | F_EMERG_WRITE)) == (F_MULTIPORT | F_EMERG_WRITE));
	CHECK_EQ(rd(pi, 0x12, 2), NQ);			/* (ports + 1) * 2 queues */
	CHECK_EQ(rd(pi, 0x2004, 4), 2);			/* max_nr_ports */
	struct stat sb;
	CHECK(stat(sock1, &sb) == 0 && S_ISSOCK(sb.st_mode));
	test_bvm_free(bvm);
	/* The sockets go with the device. */
	CHECK(stat(sock1, &sb) != 0 && stat(sock2, &sb) != 0);
	remove_dir();
}

TEST(vcon_control_and_data)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	struct vtcon_stats st;
	uint32_t len;
	char buf[64];
	int fd, fd2;

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, NQ);
	REQUIRE(handshake(pi));
	/* A client on port 0: the guest hears of it. */
	fd = client(sock1);
	REQUIRE(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	ctrl_send(pi, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);	/* the guest opens it too */
	/* Client -> guest, into port 0's receive queue (queue 0). */
	offer(pi, 0, BUF_GPA(0, 0), 64, true);
	CHECK_EQ(write(fd, "hello", 5), 5);
	const uint8_t *m = next_used(0, &len);
	REQUIRE(m != NULL);
	CHECK_EQ(len, 5);
	CHECK(memcmp(m, "hello", 5) == 0);
	/* Guest -> client, from port 0's transmit queue (queue 1). */
	memcpy(ram + BUF_GPA(1, 0), "world", 5);
	offer(pi, 1, BUF_GPA(1, 0), 5, false);
	CHECK(read_all(fd, buf, 5) && memcmp(buf, "world", 5) == 0);
	/* A second client is turned away while the first is there. */
	fd2 = client(sock1);
	REQUIRE(fd2 >= 0);
	CHECK(read(fd2, buf, 1) == 0);
	close(fd2);
	/* Disconnect, reconnect: the guest hears both, bytes flow again. */
	close(fd);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL));
	ctrl_buffers(pi, 4);
	fd = client(sock1);
	REQUIRE(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	offer(pi, 0, BUF_GPA(0, 1), 64, true);
	CHECK_EQ(write(fd, "again", 5), 5);
	m = next_used(0, &len);
	REQUIRE(m != NULL);
	CHECK(len == 5 && memcmp(m, "again", 5) == 0);
	/* The console port (1): queues 4 and 5. */
	fd2 = client(sock2);
	REQUIRE(fd2 >= 0);
	CHECK(ctrl_expect(1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	memcpy(ram + BUF_GPA(5, 0), "login: ", 7);
	offer(pi, 5, BUF_GPA(5, 0), 7, false);
	CHECK(read_all(fd2, buf, 7) && memcmp(buf, "login: ", 7) == 0);
	offer(pi, 4, BUF_GPA(4, 0), 64, true);
	CHECK_EQ(write(fd2, "root\n", 5), 5);
	m = next_used(4, &len);
	CHECK(m != NULL && len == 5 && memcmp(m, "root\n", 5) == 0);
	/* Emergency write (5.3.4): a byte to port 0's client. */
	wr(pi, 0x2008, 4, 'E');
	CHECK(read_all(fd, buf, 1) && buf[0] == 'E');
	/* The rest of the configuration is read-only. */
	wr(pi, 0x2004, 4, 99);
	wr(pi, 0x2000, 2, 1);
	CHECK_EQ(rd(pi, 0x2004, 4), 2);
	CHECK_EQ(rd(pi, 0x2000, 2), 80);
	CHECK_EQ(vtcon_get_stats(pi, &st), 0);
	CHECK_EQ(st.connects, 3);			/* the one turned away is not counted */
	CHECK_EQ(st.rx_bytes, 15);
	close(fd);
	close(fd2);
	test_bvm_free(bvm);
	remove_dir();
}

TEST(vcon_slow_and_absent_clients)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	struct vtcon_stats st;
	static uint8_t got[3u << 20];
	const size_t chunk = 1u << 20;
	struct timespec t0, t1;
	int fd;

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, NQ);
	REQUIRE(handshake(pi));
	/* Nobody on port 0: what the guest sends is consumed and dropped. */
	memcpy(ram + BUF_GPA(1, 0), "void", 4);
	offer(pi, 1, BUF_GPA(1, 0), 4, false);
	CHECK(wait_used(1, 1));
	/* A client that does not read: three 1 MiB buffers, the notifications return at once. */
	fd = client(sock1);
	REQUIRE(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	for (size_t i = 0; i < 3 * chunk; i++)
		ram[BIG_GPA + i] = (uint8_t)(i * 7 + i / 251);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++)
		offer(pi, 1, BIG_GPA + (uint64_t)i * chunk, (uint32_t)chunk, false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 500000000L);
	struct timespec ts = { 0, 50000000 };
	nanosleep(&ts, NULL);
	CHECK((uint16_t)(used_idx(1) - 1) < 3);	/* held back, not lost */
	/* The client reads: every byte arrives, in order. */
	CHECK(read_all(fd, got, 3 * chunk));
	CHECK(memcmp(got, ram + BIG_GPA, 3 * chunk) == 0);
	CHECK(wait_used(1, 4));
	CHECK_EQ(vtcon_get_stats(pi, &st), 0);
	CHECK_EQ(st.tx_bytes, 3 * chunk);
	CHECK_EQ(st.tx_discarded, 1);
	/* A client that hangs up with bytes the guest has no room for: nothing is stuck. */
	CHECK_EQ(write(fd, "late", 4), 4);
	close(fd);
	nanosleep(&ts, NULL);
	offer(pi, 0, BUF_GPA(0, 0), 64, true);
	uint32_t len;
	const uint8_t *m = next_used(0, &len);
	CHECK(m != NULL && len == 4 && memcmp(m, "late", 4) == 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL));
	ctrl_buffers(pi, 2);
	fd = client(sock1);
	CHECK(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	close(fd);
	test_bvm_free(bvm);
	remove_dir();
}

/*
 * The instance store: a guest whose driver set the ports up keeps using
 * them after save and restore into a fresh device (the same -s options);
 * the host client is not saved, so the port shows closed until one
 * connects again.
 */
TEST(vcon_snapshot_round_trip)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	uint16_t na[NQ], nd[NQ], sn[NQ];
	uint8_t *img, *buf;
	ssize_t n;
	uint32_t len;
	char got[8];
	int fd;

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, NQ);
	REQUIRE(handshake(pi));
	fd = client(sock1);
	REQUIRE(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	ctrl_send(pi, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	CHECK(wait_used(CTRL_TX, 4));
	/* One control buffer left for the guest to hear of the lost client. */
	n = pci_snapshot_save(pi, NULL, 0);
	REQUIRE(n > 0);
	buf = malloc((size_t)n);
	img = malloc(RAM_SIZE);
	REQUIRE(buf != NULL && img != NULL);
	CHECK_EQ(pci_snapshot_save(pi, buf, (size_t)n), n);
	memcpy(img, ram, RAM_SIZE);
	memcpy(na, next_avail, sizeof(na));
	memcpy(nd, next_desc, sizeof(nd));
	memcpy(sn, seen, sizeof(sn));
	close(fd);
	test_bvm_free(bvm);

	/* A new bhyve with the same options, the guest's RAM, the saved state. */
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	memcpy(ram, img, RAM_SIZE);
	memcpy(next_avail, na, sizeof(na));
	memcpy(next_desc, nd, sizeof(nd));
	memcpy(seen, sn, sizeof(sn));
	REQUIRE(pci_snapshot_restore(pi, buf, (size_t)n) == 0);
	CHECK_EQ(rd(pi, 0x14, 1) & VIRTIO_S_DRIVER_OK, VIRTIO_S_DRIVER_OK);
	CHECK_EQ(rd(pi, 0x2004, 4), 2);
	/* Port 0's client did not come back: the guest hears it is closed. */
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL));
	ctrl_buffers(pi, 2);
	fd = client(sock1);
	REQUIRE(fd >= 0);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL));
	/* The port is still ready (no new PORT_READY): bytes both ways. */
	CHECK_EQ(write(fd, "back", 4), 4);
	offer(pi, 0, BUF_GPA(0, 3), 64, true);
	const uint8_t *m = next_used(0, &len);
	CHECK(m != NULL && len == 4 && memcmp(m, "back", 4) == 0);
	memcpy(ram + BUF_GPA(1, 3), "again", 5);
	offer(pi, 1, BUF_GPA(1, 3), 5, false);
	CHECK(read_all(fd, got, 5) && memcmp(got, "again", 5) == 0);
	CHECK((rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET) == 0);
	close(fd);
	test_bvm_free(bvm);
	free(img);
	free(buf);
	remove_dir();
}

/* A console section that does not fit is refused whole. */
TEST(vcon_snapshot_bad_input)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	uint8_t *buf, *bad;
	uint32_t vlen, huge = 0xfffffff0u;
	ssize_t n;

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, NQ);
	REQUIRE(handshake(pi));
	n = pi->pi_d->pe_snapshot_save(pi, NULL, 0);
	REQUIRE(n > 24);
	buf = malloc((size_t)n);
	bad = malloc((size_t)n + 1);
	REQUIRE(buf != NULL && bad != NULL);
	CHECK_EQ(pi->pi_d->pe_snapshot_save(pi, buf, (size_t)n), n);
	memcpy(&vlen, buf, 4);
	CHECK_EQ((size_t)n, 4 + vlen + 16 + 2);
	/* Truncated, oversized, empty. */
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, buf, (size_t)n - 1), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n + 1), -EINVAL);
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, buf, 3), -EINVAL);
	/* A transport length past the end. */
	memcpy(bad, buf, (size_t)n);
	memcpy(bad, &huge, 4);
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	/* Another port count, a changed max_nr_ports, a flag no driver can set. */
	memcpy(bad, buf, (size_t)n);
	bad[4 + vlen + 1] = 3;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[4 + vlen + 8] = 16;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[4 + vlen + 16] |= 0x80;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	/* PORT_OPEN from the driver on a port it never made ready. */
	memcpy(bad, buf, (size_t)n);
	bad[4 + vlen + 16] = 0x01 | 0x04;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	/* The transport's queue count, bigger than the device's. */
	memcpy(bad, buf, (size_t)n);
	bad[4 + 10] = 34;
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, bad, (size_t)n), -EINVAL);
	/* The real one still restores. */
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, buf, (size_t)n), 0);
	test_bvm_free(bvm);
	free(bad);
	free(buf);
	remove_dir();
}

/* 16 ports are 34 queues: all of them saved and restored. */
TEST(vcon_snapshot_16_ports)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	char opts[2400], path[16][80];
	uint8_t *buf;
	ssize_t n;
	size_t o = 0;

	make_dir();
	for (int i = 0; i < 16; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/p%d.sock", dir, i);
		o += (size_t)snprintf(opts + o, sizeof(opts) - o, "%sp%d=%s", i ? "," : "", i,
		    path[i]);
	}
	bvm = vm_with_con(opts, &pi);
	REQUIRE(bvm != NULL && pi != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, 34);
	CHECK_EQ(rd(pi, 0x12, 2), 34);
	n = pi->pi_d->pe_snapshot_save(pi, NULL, 0);
	REQUIRE(n > 0);
	buf = malloc((size_t)n);
	REQUIRE(buf != NULL);
	CHECK_EQ(pi->pi_d->pe_snapshot_save(pi, buf, (size_t)n), n);
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, buf, (size_t)n), 0);
	wr(pi, 0x16, 2, 33);
	CHECK_EQ(rd(pi, 0x1c, 2), 1);			/* the last queue still enabled */
	CHECK_EQ(rd(pi, 0x20, 8), RING_GPA(33));
	test_bvm_free(bvm);
	free(buf);
	for (int i = 0; i < 16; i++)
		unlink(path[i]);
	remove_dir();
}

TEST(vcon_hostile_control)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	struct vtcon_stats st;
	uint64_t a = BUF_GPA(CTRL_TX, 15);

	make_dir();
	bvm = vm_two_ports(&pi);
	REQUIRE(bvm != NULL);
	driver_init(pi, F_MULTIPORT | VIRTIO_F_VERSION_1, NQ);
	ctrl_buffers(pi, 8);
	/* Before DEVICE_READY: PORT_READY for a port not announced, unknown events. */
	ctrl_send(pi, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_send(pi, 7, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_send(pi, 0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl_send(pi, 0, 999, 1);
	ctrl_send(pi, 0, VIRTIO_CONSOLE_DEVICE_ADD, 1);	/* the device's to send */
	ctrl_send(pi, 0, VIRTIO_CONSOLE_DEVICE_READY, 0);	/* the driver failed */
	/* A message of 4 bytes. */
	memset(ram + a, 0, 8);
	offer(pi, CTRL_TX, a, 4, false);
	CHECK(wait_used(CTRL_TX, 7));
	CHECK_EQ(used_idx(CTRL_RX), 0);			/* nothing said yet */
	CHECK_EQ(vtcon_get_stats(pi, &st), 0);
	CHECK_EQ(st.ctrl_ignored, 3);
	/* The real handshake still works; a second DEVICE_READY adds nothing. */
	ctrl_send(pi, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL));
	CHECK(ctrl_expect(1, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL));
	ctrl_send(pi, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctrl_send(pi, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK(ctrl_expect(0, VIRTIO_CONSOLE_PORT_NAME, 0, "port1"));
	/* A control receive buffer too small: the message is cut, the rest go on. */
	offer(pi, CTRL_RX, BUF_GPA(CTRL_RX, 15), 6, true);
	ctrl_send(pi, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	CHECK((rd(pi, 0x14, 1) & VIRTIO_S_NEEDS_RESET) == 0);
	test_bvm_free(bvm);
	remove_dir();
}

TEST(vcon_without_multiport)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	char opts[200], buf[8];
	uint32_t len;
	int fd;

	make_dir();
	snprintf(opts, sizeof(opts), "port1=%s", sock1);
	bvm = vm_with_con(opts, &pi);
	REQUIRE(bvm != NULL);
	CHECK_EQ(rd(pi, 0x12, 2), 4);
	/* A driver without MULTIPORT has port 0 only, and no control queues. */
	driver_init(pi, VIRTIO_F_VERSION_1, 2);
	fd = client(sock1);
	REQUIRE(fd >= 0);
	offer(pi, 0, BUF_GPA(0, 0), 64, true);
	CHECK_EQ(write(fd, "hi", 2), 2);
	const uint8_t *m = next_used(0, &len);
	CHECK(m != NULL && len == 2 && memcmp(m, "hi", 2) == 0);
	memcpy(ram + BUF_GPA(1, 0), "yo", 2);
	offer(pi, 1, BUF_GPA(1, 0), 2, false);
	CHECK(read_all(fd, buf, 2) && memcmp(buf, "yo", 2) == 0);
	/* A reset keeps the client; the driver starts over with clean rings. */
	wr(pi, 0x14, 1, 0);
	memset(next_avail, 0, sizeof(next_avail));
	memset(next_desc, 0, sizeof(next_desc));
	memset(seen, 0, sizeof(seen));
	memset(ram + RING_GPA(0), 0, 0x8000);
	driver_init(pi, VIRTIO_F_VERSION_1, 2);
	offer(pi, 0, BUF_GPA(0, 1), 64, true);
	CHECK_EQ(write(fd, "ok", 2), 2);
	m = next_used(0, &len);
	CHECK(m != NULL && len == 2 && memcmp(m, "ok", 2) == 0);
	close(fd);
	test_bvm_free(bvm);
	remove_dir();
}

TEST(vcon_option_errors)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	char opts[2048], longpath[200];
	int fd;

	make_dir();
	CHECK(vm_with_con("", &pi) == NULL);				/* no port */
	CHECK(vm_with_con("port1", &pi) == NULL);			/* no path */
	CHECK(vm_with_con("=/tmp/x", &pi) == NULL);
	snprintf(opts, sizeof(opts), "bad/name=%s", sock1);
	CHECK(vm_with_con(opts, &pi) == NULL);
	snprintf(opts, sizeof(opts), "a=%s,a=%s", sock1, sock2);
	CHECK(vm_with_con(opts, &pi) == NULL);				/* two named a */
	snprintf(opts, sizeof(opts), "a=%s,console=b", sock1);
	CHECK(vm_with_con(opts, &pi) == NULL);				/* no port b */
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(opts, sizeof(opts), "a=%s", longpath);
	CHECK(vm_with_con(opts, &pi) == NULL);
	CHECK(vm_with_con("a=/nonexistent/dir/a.sock", &pi) == NULL);
	int off = 0;
	for (int i = 0; i < 17; i++)
		off += snprintf(opts + off, sizeof(opts) - (size_t)off, "%sp%d=%s/%d", i ? "," : "",
		    i, dir, i);
	CHECK(vm_with_con(opts, &pi) == NULL);				/* 17 ports */
	/* A regular file where the socket goes is not replaced. */
	fd = open(sock1, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(opts, sizeof(opts), "a=%s", sock1);
	CHECK(vm_with_con(opts, &pi) == NULL);
	unlink(sock1);
	/* A socket in use by another device is not taken over; a stale one is replaced. */
	bvm = vm_with_con(opts, &pi);
	REQUIRE(bvm != NULL);
	struct bhyve_vm *b2 = vm_with_con(opts, &pi);
	CHECK(b2 == NULL);
	test_bvm_free(b2);
	test_bvm_free(bvm);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(fd);					/* stale: nobody listens */
	bvm = vm_with_con(opts, &pi);
	CHECK(bvm != NULL);
	test_bvm_free(bvm);
	remove_dir();
	/* 16 ports is the most. */
	make_dir();
	off = 0;
	for (int i = 0; i < 16; i++)
		off += snprintf(opts + off, sizeof(opts) - (size_t)off, "%sp%d=%s/%d", i ? "," : "",
		    i, dir, i);
	bvm = vm_with_con(opts, &pi);
	CHECK(bvm != NULL);
	if (bvm != NULL)
		CHECK_EQ(rd(pi, 0x12, 2), 34);
	test_bvm_free(bvm);
	remove_dir();
}
