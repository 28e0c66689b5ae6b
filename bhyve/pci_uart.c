/*
 * pci_uart.c - "-s N,uart[,backend]": a 16550 behind a PCI function, as
 * bhyve's pci_uart.c.  The IDs are those bhyve picked, a SIIG CyberSerial
 * 1-port card (0x131f:0x2000), which FreeBSD's puc(4) and Linux's 8250_pci
 * drive as one 16550 at BAR 0.  The class code says what it is: simple
 * communications controller, serial, 16550-compatible (PCI Code and ID
 * Assignment spec 1.11, 1.8: 07h 00h 02h).
 *
 * BAR 0 is 8 I/O ports, the registers of uart_emul.c; its INTR output is
 * INTA# of the function (pci_irq.c: the slot's IOAPIC pin, level, active
 * low, as the _PRT says).  The backend is the COM ports' (uart_backend.c):
 * stdio, a terminal path, /dev/ptmx, tcp=ip:port; none drops the output.
 *
 * Concurrency: pu_mtx serializes the register model between the vCPUs
 * (BAR accesses) and the backend's reader thread (input).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "uart_backend.h"
#include "uart_emul.h"

#define	PCI_UART_VENDOR		0x131f	/* SIIG, as bhyve's COM_VENDOR */
#define	PCI_UART_DEVICE		0x2000	/* CyberSerial 1-port 16550 */
#define	PCIC_SIMPLECOMM		0x07
#define	PCIS_SIMPLECOMM_UART	0x00
#define	PCIP_SIMPLECOMM_16550A	0x02

struct pci_uart {
	struct pci_devinst	*pu_pi;
	pthread_mutex_t		pu_mtx;
	struct uart_softc	pu_sc;
	struct uart_backend	*pu_be;		/* NULL: output dropped */
};

static void
pci_uart_intr(void *arg, bool level)
{
	struct pci_uart *pu = arg;

	if (level)
		pci_lintr_assert(pu->pu_pi);
	else
		pci_lintr_deassert(pu->pu_pi);
}

static void
pci_uart_tx(void *arg, uint8_t byte)
{
	struct pci_uart *pu = arg;

	uart_backend_write(pu->pu_be, byte);	/* no backend: dropped */
}

static void
pci_uart_rx_space(void *arg)
{
	struct pci_uart *pu = arg;

	uart_backend_rx_wakeup(pu->pu_be);
}

static const struct uart_ops pci_uart_ops = {
	.uo_intr = pci_uart_intr,
	.uo_tx = pci_uart_tx,
	.uo_rx_space = pci_uart_rx_space,
};

/* The backend's reader thread: host input into the receive FIFO. */
static size_t
pci_uart_rx(void *arg, const uint8_t *buf, size_t len)
{
	struct pci_uart *pu = arg;
	size_t n;

	pthread_mutex_lock(&pu->pu_mtx);
	n = uart_rx_push(&pu->pu_sc, buf, len);
	pthread_mutex_unlock(&pu->pu_mtx);
	return (n);
}

/*
 * The 16550 has an 8-bit data bus: a wider I/O access reaches the
 * registers at consecutive offsets, a byte each (its byte enables), as
 * the LPC ports do.  pci_emul.c passes accesses inside the BAR only.
 */
static uint64_t
pci_uart_barread(struct pci_devinst *pi, int baridx, uint64_t offset,
    int size)
{
	struct pci_uart *pu = pi->pi_arg;
	uint64_t val = 0;
	int i;

	if (baridx != 0 || offset + (uint64_t)size > UART_IO_BAR_SIZE)
		return (~0ULL);
	pthread_mutex_lock(&pu->pu_mtx);
	for (i = 0; i < size; i++)
		val |= (uint64_t)uart_read(&pu->pu_sc, (int)offset + i) << (8 * i);
	pthread_mutex_unlock(&pu->pu_mtx);
	return (val);
}

static void
pci_uart_barwrite(struct pci_devinst *pi, int baridx, uint64_t offset,
    int size, uint64_t value)
{
	struct pci_uart *pu = pi->pi_arg;
	int i;

	if (baridx != 0 || offset + (uint64_t)size > UART_IO_BAR_SIZE)
		return;
	pthread_mutex_lock(&pu->pu_mtx);
	for (i = 0; i < size; i++)
		uart_write(&pu->pu_sc, (int)offset + i, (uint8_t)(value >> (8 * i)));
	pthread_mutex_unlock(&pu->pu_mtx);
}

/* The emulation's part of the store's "pci.B.S.F" section. */
static ssize_t
pci_uart_snapshot_save(struct pci_devinst *pi, uint8_t *buf, size_t cap)
{
	struct pci_uart *pu = pi->pi_arg;
	ssize_t n;

	pthread_mutex_lock(&pu->pu_mtx);
	n = uart_snapshot_save(&pu->pu_sc, buf, buf == NULL ? 0 : cap);
	pthread_mutex_unlock(&pu->pu_mtx);
	return (n);
}

static int
pci_uart_snapshot_restore(struct pci_devinst *pi, const uint8_t *data,
    size_t len)
{
	struct pci_uart *pu = pi->pi_arg;
	int error;

	pthread_mutex_lock(&pu->pu_mtx);
	error = uart_snapshot_restore(&pu->pu_sc, data, len);
	pthread_mutex_unlock(&pu->pu_mtx);
	return (error);
}

/* -s N,uart,BACKEND: the whole option is the backend ("tcp=..." has an '='). */
static int
pci_uart_legacy_config(struct config *cfg, const char *node, const char *opts)
{

	if (opts == NULL || *opts == '\0')
		return (0);
	return (set_config_value_node(cfg, node, "path", opts));
}

static int
pci_uart_init(struct pci_devinst *pi, const char *node)
{
	struct pci_uart *pu;
	const char *path;

	pu = calloc(1, sizeof(*pu));
	if (pu == NULL) {
		fprintf(stderr, "bhyve: %s: out of memory\n", pi->pi_name);
		return (-1);
	}
	pu->pu_pi = pi;
	pthread_mutex_init(&pu->pu_mtx, NULL);
	uart_init(&pu->pu_sc, &pci_uart_ops, pu);
	pi->pi_arg = pu;

	pci_set_cfgdata16(pi, PCIR_VENDOR, PCI_UART_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, PCI_UART_DEVICE);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_SIMPLECOMM);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_SIMPLECOMM_UART);
	pci_set_cfgdata8(pi, PCIR_PROGIF, PCIP_SIMPLECOMM_16550A);
	if (pci_emul_alloc_bar(pi, 0, PCIBAR_IO, UART_IO_BAR_SIZE) != 0 ||
	    pci_lintr_request(pi) != 0)
		return (-1);

	path = get_config_value_node(pi->pi_vm->cfg, node, "path");
	if (path != NULL && uart_backend_open(&pu->pu_be, pi->pi_name, path,
	    pci_uart_rx, pu) != 0)
		return (-1);
	return (0);
}

static void
pci_uart_deinit(struct pci_devinst *pi)
{
	struct pci_uart *pu = pi->pi_arg;

	if (pu == NULL)
		return;
	/* Joins the reader thread, the last user of pu_mtx besides the vCPUs. */
	uart_backend_close(pu->pu_be);
	pthread_mutex_destroy(&pu->pu_mtx);
	free(pu);
	pi->pi_arg = NULL;
}

static const struct pci_devemu pci_de_uart = {
	.pe_emu = "uart",
	.pe_legacy_config = pci_uart_legacy_config,
	.pe_init = pci_uart_init,
	.pe_deinit = pci_uart_deinit,
	.pe_barread = pci_uart_barread,
	.pe_barwrite = pci_uart_barwrite,
	.pe_snapshot_save = pci_uart_snapshot_save,
	.pe_snapshot_restore = pci_uart_snapshot_restore,
};
PCI_EMUL_SET(pci_de_uart);
