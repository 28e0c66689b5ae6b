/*
 * pci_lpc.c - the LPC bridge (bhyve's pci_lpc.c): a PCI-ISA bridge
 * function on bus 0 that owns the legacy serial ports com1-com4 and
 * records the level of each ISA IRQ line for the interrupt controllers.
 *
 * Each port is a 16550 model (uart_emul.c) guarded by lu_mtx, which the
 * vCPUs take for register accesses and the backend's reader thread takes to
 * push input.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bhyve.h"
#include "config.h"
#include "inout.h"
#include "pci_emul.h"
#include "pci_lpc.h"
#include "pctestdev.h"
#include "qemu_fwcfg.h"
#include "uart_backend.h"
#include "uart_emul.h"
#include "vmmapi.h"

#define	LPC_VENDOR	0x8086	/* Intel 82371SB PIIX3 ISA bridge, as bhyve */
#define	LPC_DEVICE	0x7000

struct lpc_uart {
	struct bhyve_vm		*lu_vm;
	const char		*lu_name;
	int			lu_unit;
	int			lu_irq;
	int			lu_iobase;
	bool			lu_inited;
	pthread_mutex_t		lu_mtx;
	struct uart_softc	lu_sc;
	struct uart_backend	*lu_be;
};

struct lpc_state {
	struct pci_devinst	*ls_pi;
	struct lpc_uart		ls_uart[LPC_UART_NUM];
	struct pctestdev	*ls_testdev;	/* -l pc-testdev */
	struct fwcfg		*ls_fwcfg;	/* -l fwcfg,qemu */
};

static const struct {
	const char	*name;
	int		iobase;
	int		irq;
} lpc_uart_map[LPC_UART_NUM] = {
	{ "com1", MACHINE_IO_COM1, MACHINE_IRQ_COM1 },
	{ "com2", MACHINE_IO_COM2, MACHINE_IRQ_COM2 },
	{ "com3", MACHINE_IO_COM3, MACHINE_IRQ_COM3 },
	{ "com4", MACHINE_IO_COM4, MACHINE_IRQ_COM4 },
};

/*
 * An ISA line is the wired OR of its sources; the interrupt controllers
 * hear its transitions (bvm->isa_irq: libvmmapi's vm_isa_assert_irq and
 * vm_isa_deassert_irq).  The lock keeps the transitions in order when
 * several threads drive one line.
 */
void
lpc_irq_set(struct bhyve_vm *bvm, int irq, uint32_t source, bool level)
{
	uint32_t old, new;

	VERIFY(irq >= 0 && irq < MACHINE_ISA_NIRQ);
	pthread_mutex_lock(&bvm->lpc_irq_mtx);
	old = __atomic_load_n(&bvm->lpc_irq_level[irq], __ATOMIC_RELAXED);
	new = level ? old | source : old & ~source;
	__atomic_store_n(&bvm->lpc_irq_level[irq], new, __ATOMIC_SEQ_CST);
	if ((old != 0) != (new != 0) && bvm->isa_irq != NULL)
		bvm->isa_irq(bvm, irq, new != 0);
	pthread_mutex_unlock(&bvm->lpc_irq_mtx);
}

int
lpc_irq_asserted(struct bhyve_vm *bvm, int irq)
{

	if (irq < 0 || irq >= MACHINE_ISA_NIRQ)
		return (0);
	return (__atomic_load_n(&bvm->lpc_irq_level[irq],
	    __ATOMIC_SEQ_CST) != 0);
}

int
lpc_device_parse(struct config *cfg, const char *opt)
{
	char *copy, *str, *name, path[32];
	int unit, error = -1;

	copy = str = strdup(opt);
	if (copy == NULL)
		return (-1);
	name = strsep(&str, ",");
	if (strcasecmp(name, "bootrom") == 0) {
		fprintf(stderr, "bhyve: -l bootrom is not supported yet\n");
		goto done;
	}
	if (strcasecmp(name, "fwcfg") == 0) {
		error = qemu_fwcfg_parse(cfg, str);
		goto done;
	}
	if (strcasecmp(name, "pc-testdev") == 0) {
		error = pctestdev_parse(cfg, str);
		goto done;
	}
	for (unit = 0; unit < LPC_UART_NUM; unit++) {
		if (strcasecmp(name, lpc_uart_map[unit].name) != 0)
			continue;
		if (str == NULL || *str == '\0') {
			fprintf(stderr, "bhyve: -l %s needs a backend: stdio "
			    "or a terminal path\n", lpc_uart_map[unit].name);
			goto done;
		}
		snprintf(path, sizeof(path), "lpc.%s.path",
		    lpc_uart_map[unit].name);
		error = set_config_value(cfg, path, str) == 0 ? 0 : -1;
		goto done;
	}
	fprintf(stderr, "bhyve: unknown LPC device '%s' (try -l help)\n",
	    name);
done:
	free(copy);
	return (error);
}

void
lpc_print_supported_devices(void)
{
	int unit;

	for (unit = 0; unit < LPC_UART_NUM; unit++)
		printf("%s\n", lpc_uart_map[unit].name);
	printf("fwcfg\n");
	printf("pc-testdev\n");
}

void
lpc_firmware_info(struct bhyve_vm *bvm, int *slot, int *func,
    unsigned *com_mask, bool *fwcfg)
{
	struct lpc_state *ls = bvm->lpc;
	int unit;

	*com_mask = 0;
	*fwcfg = false;
	if (ls == NULL)
		return;
	*slot = ls->ls_pi->pi_slot;
	*func = ls->ls_pi->pi_func;
	for (unit = 0; unit < LPC_UART_NUM; unit++)
		if (ls->ls_uart[unit].lu_be != NULL)
			*com_mask |= 1u << unit;
	*fwcfg = ls->ls_fwcfg != NULL;
}

int
lpc_check_config(struct bhyve_vm *bvm)
{
	char path[32];
	int unit;

	if (qemu_fwcfg_check_config(bvm->cfg) != 0)
		return (-1);
	if (bvm->lpc != NULL)
		return (0);
	for (unit = 0; unit < LPC_UART_NUM; unit++) {
		snprintf(path, sizeof(path), "lpc.%s.path",
		    lpc_uart_map[unit].name);
		if (get_config_value(bvm->cfg, path) != NULL) {
			fprintf(stderr, "bhyve: -l %s needs an LPC bridge "
			    "(e.g. -s 31,lpc)\n", lpc_uart_map[unit].name);
			return (-1);
		}
	}
	if (get_config_bool_default(bvm->cfg, "lpc.pc-testdev", false) ||
	    qemu_fwcfg_enabled(bvm->cfg)) {
		fprintf(stderr, "bhyve: -l %s needs an LPC bridge "
		    "(e.g. -s 31,lpc)\n", qemu_fwcfg_enabled(bvm->cfg) ?
		    "fwcfg" : "pc-testdev");
		return (-1);
	}
	return (0);
}

static void
lpc_uart_intr(void *arg, bool level)
{
	struct lpc_uart *lu = arg;

	lpc_irq_set(lu->lu_vm, lu->lu_irq, LPC_IRQSRC_COM(lu->lu_unit), level);
}

static void
lpc_uart_tx(void *arg, uint8_t byte)
{
	struct lpc_uart *lu = arg;

	uart_backend_write(lu->lu_be, byte);
}

static void
lpc_uart_rx_space(void *arg)
{
	struct lpc_uart *lu = arg;

	uart_backend_rx_wakeup(lu->lu_be);
}

static const struct uart_ops lpc_uart_ops = {
	.uo_intr = lpc_uart_intr,
	.uo_tx = lpc_uart_tx,
	.uo_rx_space = lpc_uart_rx_space,
};

/* Backend reader thread: host input into the receive FIFO. */
static size_t
lpc_uart_rx(void *arg, const uint8_t *buf, size_t len)
{
	struct lpc_uart *lu = arg;
	size_t n;

	pthread_mutex_lock(&lu->lu_mtx);
	n = uart_rx_push(&lu->lu_sc, buf, len);
	pthread_mutex_unlock(&lu->lu_mtx);
	return (n);
}

/*
 * LPC I/O cycles are 8 bits wide; the bridge splits a wider access into
 * byte cycles at consecutive ports (Intel LPC Interface Spec 1.1, 5.2).
 * Bytes past the port's eight registers find nothing and read as 0xff.
 */
static int
lpc_uart_io_handler(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct lpc_uart *lu = arg;
	uint32_t val = 0;
	int i, off;

	off = port - lu->lu_iobase;
	pthread_mutex_lock(&lu->lu_mtx);
	for (i = 0; i < bytes; i++) {
		if (off + i >= UART_IO_BAR_SIZE) {
			val |= 0xffu << (8 * i);
			continue;
		}
		if (in)
			val |= (uint32_t)uart_read(&lu->lu_sc, off + i) << (8 * i);
		else
			uart_write(&lu->lu_sc, off + i,
			    (uint8_t)(*eax >> (8 * i)));
	}
	pthread_mutex_unlock(&lu->lu_mtx);
	if (in)
		*eax = val;
	return (0);
}

/* Device sections "lpc.comN" of the store (vm_snapshot_register). */
static ssize_t
lpc_uart_snap_save(void *arg, uint8_t *buf, size_t cap)
{
	struct lpc_uart *lu = arg;
	ssize_t n;

	pthread_mutex_lock(&lu->lu_mtx);
	n = uart_snapshot_save(&lu->lu_sc, buf, cap);
	pthread_mutex_unlock(&lu->lu_mtx);
	return (n);
}

static int
lpc_uart_snap_restore(void *arg, const uint8_t *data, size_t len)
{
	struct lpc_uart *lu = arg;
	int error;

	pthread_mutex_lock(&lu->lu_mtx);
	error = uart_snapshot_restore(&lu->lu_sc, data, len);
	pthread_mutex_unlock(&lu->lu_mtx);
	return (error);
}

static int
lpc_uart_init(struct bhyve_vm *bvm, struct lpc_uart *lu, int unit)
{
	struct inout_port iop;
	const char *backend;
	char path[32];

	lu->lu_vm = bvm;
	lu->lu_unit = unit;
	lu->lu_name = lpc_uart_map[unit].name;
	lu->lu_iobase = lpc_uart_map[unit].iobase;
	lu->lu_irq = lpc_uart_map[unit].irq;
	pthread_mutex_init(&lu->lu_mtx, NULL);
	uart_init(&lu->lu_sc, &lpc_uart_ops, lu);
	lu->lu_inited = true;
	/* A kept guest (bhyvectl --suspend) finds its UART as it left it. */
	snprintf(path, sizeof(path), "lpc.%s", lu->lu_name);
	if (bvm->ctx != NULL && vm_snapshot_register(bvm->ctx, path,
	    lpc_uart_snap_save, lpc_uart_snap_restore, lu) != 0) {
		fprintf(stderr, "bhyve: lpc: %s: saved state: %s\n", lu->lu_name,
		    vm_last_error());
		return (-1);
	}

	snprintf(path, sizeof(path), "lpc.%s.path", lu->lu_name);
	backend = get_config_value(bvm->cfg, path);
	if (backend != NULL &&
	    uart_backend_open(&lu->lu_be, lu->lu_name, backend, lpc_uart_rx,
	    lu) != 0)
		return (-1);

	iop = (struct inout_port){ .name = lu->lu_name, .port = lu->lu_iobase,
	    .size = UART_IO_BAR_SIZE, .flags = IOPORT_F_INOUT,
	    .handler = lpc_uart_io_handler, .arg = lu };
	if (register_inout(bvm->inout, &iop) != 0) {
		fprintf(stderr, "bhyve: lpc: ports %#x-%#x of %s are taken\n",
		    lu->lu_iobase, lu->lu_iobase + UART_IO_BAR_SIZE - 1,
		    lu->lu_name);
		return (-1);
	}
	return (0);
}

static void
pci_lpc_deinit(struct pci_devinst *pi)
{
	struct lpc_state *ls = pi->pi_arg;
	struct lpc_uart *lu;
	int unit;

	if (ls == NULL)
		return;
	for (unit = 0; unit < LPC_UART_NUM; unit++) {
		lu = &ls->ls_uart[unit];
		if (!lu->lu_inited)
			continue;
		/* Joins the reader thread, the last user of lu_mtx. */
		uart_backend_close(lu->lu_be);
		lu->lu_be = NULL;
		pthread_mutex_destroy(&lu->lu_mtx);
	}
	pctestdev_fini(ls->ls_testdev);
	qemu_fwcfg_fini(pi->pi_vm, ls->ls_fwcfg);
	if (pi->pi_vm->lpc == ls)
		pi->pi_vm->lpc = NULL;
	free(ls);
	pi->pi_arg = NULL;
}

static int
pci_lpc_init(struct pci_devinst *pi, const char *node)
{
	struct bhyve_vm *bvm = pi->pi_vm;
	struct lpc_state *ls;
	int unit;

	if (bvm->lpc != NULL) {
		fprintf(stderr, "bhyve: %s: only one LPC bridge is allowed\n",
		    pi->pi_name);
		return (-1);
	}
	/* Bus 0 only, so the DSDT can route all legacy ports there (bhyve). */
	if (pi->pi_bus != 0) {
		fprintf(stderr, "bhyve: %s: the LPC bridge must be on bus 0\n",
		    pi->pi_name);
		return (-1);
	}
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		return (-1);
	ls->ls_pi = pi;
	pi->pi_arg = ls;
	bvm->lpc = ls;
	for (unit = 0; unit < LPC_UART_NUM; unit++)
		if (lpc_uart_init(bvm, &ls->ls_uart[unit], unit) != 0)
			return (-1);
	if (pctestdev_init(bvm, &ls->ls_testdev) != 0 ||
	    qemu_fwcfg_init(bvm, &ls->ls_fwcfg) != 0)
		return (-1);

	pci_set_cfgdata16(pi, PCIR_VENDOR, LPC_VENDOR);
	pci_set_cfgdata16(pi, PCIR_DEVICE, LPC_DEVICE);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_BRIDGE);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_BRIDGE_ISA);
	return (0);
}

static const struct pci_devemu pci_de_lpc = {
	.pe_emu = "lpc",
	.pe_init = pci_lpc_init,
	.pe_deinit = pci_lpc_deinit,
};
PCI_EMUL_SET(pci_de_lpc);
