/*
 * test_pci_uart.c - the PCI uart (bhyve/pci_uart.c) as a guest driver
 * finds and drives it: config space through 0xcf8/0xcfc, the 16550 through
 * BAR 0's ports, INTA# through the fake guest's IOAPIC hook; a pty as its
 * backend; its part of the store; bad options.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_bhyve.h"
#include "test_guestmem.h"
#include "bhyve.h"
#include "config.h"
#include "machine.h"
#include "pci_emul.h"
#include "uart_emul.h"

#define	SLOT	5

static struct bhyve_vm *
uart_vm(const char *opt, struct pci_devinst **pip)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	tg_attach(bvm);
	if (pci_parse_slot(bvm->cfg, "0,hostbridge") != 0 ||
	    pci_parse_slot(bvm->cfg, opt) != 0) {
		test_bvm_free(bvm);
		return (NULL);
	}
	bvm = test_bvm_init(bvm);
	*pip = bvm != NULL ? pci_emul_find_devinst(bvm, 0, SLOT, 0) : NULL;
	return (bvm);
}

static uint32_t
cfgr(struct bhyve_vm *bvm, int reg, int bytes)
{
	test_pio(bvm, 0, 0xcf8, 4, 0x80000000u | SLOT << 11 | (reg & 0xfc));
	return (test_pio(bvm, 1, 0xcfc + (reg & 3), bytes, 0));
}

static void
cfgw(struct bhyve_vm *bvm, int reg, int bytes, uint32_t val)
{
	test_pio(bvm, 0, 0xcf8, 4, 0x80000000u | SLOT << 11 | (reg & 0xfc));
	test_pio(bvm, 0, 0xcfc + (reg & 3), bytes, val);
}

TEST(pci_uart_config_space)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = uart_vm("5,uart", &pi);
	uint32_t bar;

	REQUIRE(bvm != NULL && pi != NULL);
	CHECK_EQ(cfgr(bvm, PCIR_VENDOR, 4), 0x2000131f);
	/* Simple communications, serial, 16550-compatible. */
	CHECK_EQ(cfgr(bvm, PCIR_REVID, 4) >> 8, 0x070002);
	CHECK_EQ(cfgr(bvm, PCIR_INTPIN, 1), 1);
	CHECK_EQ(cfgr(bvm, PCIR_INTLINE, 1), machine_pci_intx_pin(SLOT, 1));
	CHECK(cfgr(bvm, PCIR_COMMAND, 2) & PCIM_CMD_PORTEN);
	bar = cfgr(bvm, PCIR_BAR(0), 4);
	CHECK_EQ(bar & 7, PCIM_BAR_IO_SPACE);
	CHECK(bar >= MACHINE_PCI_IO_BASE && bar < MACHINE_PCI_IO_LIMIT);
	/* Sizing (PCI 3.0, 6.2.5.1): 8 ports. */
	cfgw(bvm, PCIR_BAR(0), 4, 0xffffffff);
	CHECK_EQ(cfgr(bvm, PCIR_BAR(0), 4) & 0xffff, 0xfff9);
	cfgw(bvm, PCIR_BAR(0), 4, bar);
	CHECK_EQ(cfgr(bvm, PCIR_BAR(0), 4), bar);
	CHECK_EQ(cfgr(bvm, PCIR_BAR(1), 4), 0);
	test_bvm_free(bvm);
}

TEST(pci_uart_registers_and_intx)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = uart_vm("5,uart", &pi);
	int base;

	REQUIRE(bvm != NULL && pi != NULL);
	base = (int)(cfgr(bvm, PCIR_BAR(0), 4) & ~3u);
	test_pio(bvm, 0, base + UART_REG_SCR, 1, 0x5a);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_SCR, 1, 0), 0x5a);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_LSR, 1, 0),
	    UART_LSR_THRE | UART_LSR_TEMT);
	/* Wider accesses reach consecutive registers: LSR, MSR, then SCR. */
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_LSR, 2, 0), 0xa060);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_MCR, 4, 0), 0x5aa06000);
	/* Past the 8 ports, and straddling their end: nobody answers. */
	CHECK_EQ(test_pio(bvm, 1, base + 6, 4, 0), 0xffffffff);

	/* THRE interrupt on INTA#: the slot's IOAPIC pin, until IIR is read. */
	CHECK_EQ(tg_intx_level, 0);
	test_pio(bvm, 0, base + UART_REG_IER, 1, UART_IER_ETBEI);
	CHECK_EQ(tg_intx_level, 1);
	CHECK_EQ(tg_intx_pin, machine_pci_intx_pin(SLOT, 1));
	CHECK(cfgr(bvm, PCIR_STATUS, 2) & 0x0008);	/* interrupt status */
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_IIR, 1, 0), UART_IIR_TXRDY);
	CHECK_EQ(tg_intx_level, 0);
	CHECK_EQ(cfgr(bvm, PCIR_STATUS, 2) & 0x0008, 0);

	/* Loopback: a byte sent comes back with its RX interrupt. */
	test_pio(bvm, 0, base + UART_REG_IER, 1, UART_IER_ERBFI);
	test_pio(bvm, 0, base + UART_REG_MCR, 1, UART_MCR_LOOP | UART_MCR_OUT2);
	test_pio(bvm, 0, base, 1, 'q');
	CHECK(test_pio(bvm, 1, base + UART_REG_LSR, 1, 0) & UART_LSR_DR);
	CHECK_EQ(tg_intx_level, 1);
	/* INTxDIS masks the line (PCI 3.0, 6.2.2); clearing it shows it again. */
	cfgw(bvm, PCIR_COMMAND, 2, PCIM_CMD_PORTEN | PCIM_CMD_INTxDIS);
	CHECK_EQ(tg_intx_level, 0);
	cfgw(bvm, PCIR_COMMAND, 2, PCIM_CMD_PORTEN);
	CHECK_EQ(tg_intx_level, 1);
	CHECK_EQ(test_pio(bvm, 1, base, 1, 0), 'q');
	CHECK_EQ(tg_intx_level, 0);

	/* I/O decode off: the ports are gone. */
	cfgw(bvm, PCIR_COMMAND, 2, 0);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_SCR, 1, 0) & 0xff, 0xff);
	cfgw(bvm, PCIR_COMMAND, 2, PCIM_CMD_PORTEN);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_SCR, 1, 0), 0x5a);
	/* Direct BAR calls outside the 8 ports (never from pci_emul.c). */
	CHECK_EQ(pi->pi_d->pe_barread(pi, 0, 7, 2), ~0ULL);
	CHECK_EQ(pi->pi_d->pe_barread(pi, 1, 0, 1), ~0ULL);
	pi->pi_d->pe_barwrite(pi, 0, 8, 1, 0);
	test_bvm_free(bvm);
}

TEST(pci_uart_snapshot)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm = uart_vm("5,uart", &pi);
	uint8_t buf[256];
	ssize_t n;
	int base;

	REQUIRE(bvm != NULL && pi != NULL);
	base = (int)(cfgr(bvm, PCIR_BAR(0), 4) & ~3u);
	test_pio(bvm, 0, base + UART_REG_SCR, 1, 0x77);
	test_pio(bvm, 0, base + UART_REG_LCR, 1, 0x03);
	REQUIRE(pi->pi_d->pe_snapshot_save != NULL);
	n = pi->pi_d->pe_snapshot_save(pi, NULL, 0);
	REQUIRE(n > 0 && (size_t)n <= sizeof(buf));
	CHECK_EQ(pi->pi_d->pe_snapshot_save(pi, buf, sizeof(buf)), n);
	test_pio(bvm, 0, base + UART_REG_SCR, 1, 0);
	test_pio(bvm, 0, base + UART_REG_LCR, 1, 0);
	CHECK_EQ(pi->pi_d->pe_snapshot_restore(pi, buf, (size_t)n), 0);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_SCR, 1, 0), 0x77);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_LCR, 1, 0), 0x03);
	/* Malformed: refused, nothing changed. */
	CHECK(pi->pi_d->pe_snapshot_restore(pi, buf, 1) != 0);
	CHECK_EQ(test_pio(bvm, 1, base + UART_REG_SCR, 1, 0), 0x77);
	test_bvm_free(bvm);
}

/* Two uarts whose INTA# the slot swizzle puts on one IOAPIC pin. */
static struct bhyve_vm *
shared_pin_vm(struct pci_devinst **a, struct pci_devinst **b)
{
	struct bhyve_vm *bvm = test_bvm_alloc();

	tg_attach(bvm);
	if (pci_parse_slot(bvm->cfg, "0,hostbridge") != 0 ||
	    pci_parse_slot(bvm->cfg, "5,uart") != 0 ||
	    pci_parse_slot(bvm->cfg, "13,uart") != 0) {
		test_bvm_free(bvm);
		return (NULL);
	}
	bvm = test_bvm_init(bvm);
	*a = bvm != NULL ? pci_emul_find_devinst(bvm, 0, 5, 0) : NULL;
	*b = bvm != NULL ? pci_emul_find_devinst(bvm, 0, 13, 0) : NULL;
	return (bvm);
}

static int
bar0(struct pci_devinst *pi)
{
	return ((int)(pci_get_cfgdata32(pi, PCIR_BAR(0)) & ~3u));
}

/*
 * PCI INTx is open-drain and shared (PCI 3.0, 2.2.6): the pin stays high
 * while either function asserts it, and goes low with the last.
 */
TEST(pci_intx_shared_pin_is_wired_or)
{
	struct pci_devinst *a, *b;
	struct bhyve_vm *bvm = shared_pin_vm(&a, &b);

	REQUIRE(bvm != NULL && a != NULL && b != NULL);
	REQUIRE(machine_pci_intx_pin(5, 1) == machine_pci_intx_pin(13, 1));
	test_pio(bvm, 0, bar0(a) + UART_REG_IER, 1, UART_IER_ETBEI);
	CHECK_EQ(tg_intx_level, 1);
	CHECK_EQ(tg_intx_pin, machine_pci_intx_pin(5, 1));
	test_pio(bvm, 0, bar0(b) + UART_REG_IER, 1, UART_IER_ETBEI);
	CHECK_EQ(tg_intx_level, 1);
	/* a's request goes (IIR read clears THRE): b still holds the pin. */
	CHECK_EQ(test_pio(bvm, 1, bar0(a) + UART_REG_IIR, 1, 0), UART_IIR_TXRDY);
	CHECK_EQ(tg_intx_level, 1);
	CHECK_EQ(test_pio(bvm, 1, bar0(b) + UART_REG_IIR, 1, 0), UART_IIR_TXRDY);
	CHECK_EQ(tg_intx_level, 0);
	/* INTxDIS on one function hides only its own request. */
	test_pio(bvm, 0, bar0(a) + UART_REG_IER, 1, 0);
	test_pio(bvm, 0, bar0(a) + UART_REG_IER, 1, UART_IER_ETBEI);
	test_pio(bvm, 0, bar0(b) + UART_REG_IER, 1, 0);
	test_pio(bvm, 0, bar0(b) + UART_REG_IER, 1, UART_IER_ETBEI);
	CHECK_EQ(tg_intx_level, 1);
	pci_emul_cfgwrite(bvm, 0, 5, 0, PCIR_COMMAND, 2, PCIM_CMD_PORTEN | PCIM_CMD_INTxDIS);
	CHECK_EQ(tg_intx_level, 1);
	pci_emul_cfgwrite(bvm, 0, 13, 0, PCIR_COMMAND, 2, PCIM_CMD_PORTEN | PCIM_CMD_INTxDIS);
	CHECK_EQ(tg_intx_level, 0);
	test_bvm_free(bvm);
}

static int
open_pty(char *name, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0)
		return (-1);
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, len) != 0) {
		close(m);
		return (-1);
	}
	return (m);
}

TEST(pci_uart_pty_backend)
{
	struct pci_devinst *pi;
	struct bhyve_vm *bvm;
	struct timespec ts = { 0, 1000000 };
	char name[128], opt[160], buf[4];
	struct pollfd pfd;
	size_t got;
	ssize_t n;
	int m, s, base, i;

	m = open_pty(name, sizeof(name));
	if (m < 0)
		SKIP("no pty: %s", strerror(errno));
	s = open(name, O_RDWR | O_NOCTTY);
	REQUIRE(s >= 0);
	snprintf(opt, sizeof(opt), "5,uart,%s", name);
	bvm = uart_vm(opt, &pi);
	REQUIRE(bvm != NULL && pi != NULL);
	base = (int)(cfgr(bvm, PCIR_BAR(0), 4) & ~3u);
	test_pio(bvm, 0, base, 1, 'h');
	test_pio(bvm, 0, base, 1, 'i');
	for (got = 0; got < 2; got += (size_t)n) {
		pfd = (struct pollfd){ .fd = m, .events = POLLIN };
		if (poll(&pfd, 1, 2000) != 1)
			break;
		n = read(m, buf + got, 2 - got);
		if (n <= 0)
			break;
	}
	CHECK_EQ(got, 2);
	CHECK(memcmp(buf, "hi", 2) == 0);
	/* Input: received data with its interrupt on INTA#. */
	test_pio(bvm, 0, base + UART_REG_IER, 1, UART_IER_ERBFI);
	CHECK_EQ(write(m, "z", 1), 1);
	for (i = 0; i < 2000 &&
	    !(test_pio(bvm, 1, base + UART_REG_LSR, 1, 0) & UART_LSR_DR); i++)
		nanosleep(&ts, NULL);
	CHECK_EQ(tg_intx_level, 1);
	CHECK_EQ(test_pio(bvm, 1, base, 1, 0), 'z');
	CHECK_EQ(tg_intx_level, 0);
	test_bvm_free(bvm);
	close(s);
	close(m);
}

TEST(pci_uart_bad_options)
{
	struct pci_devinst *pi;

	/* A backend that cannot be opened stops the VM's creation. */
	CHECK(uart_vm("5,uart,/nonexistent/tty", &pi) == NULL);
	CHECK(uart_vm("5,uart,/dev/null", &pi) == NULL);
	CHECK(uart_vm("5,uart,tcp=nonsense", &pi) == NULL);
}
