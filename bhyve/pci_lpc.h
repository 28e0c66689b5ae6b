/*
 * pci_lpc.h - the LPC (PCI-ISA) bridge: legacy serial ports and the ISA
 * IRQ line levels.
 */
#ifndef LHYVE_PCI_LPC_H
#define LHYVE_PCI_LPC_H

#include <stdbool.h>
#include <stdint.h>

struct bhyve_vm;

#define	LPC_UART_NUM		4

/* Sources that drive ISA IRQ lines, one bit each in lpc_irq_level[]. */
#define	LPC_IRQSRC_COM(unit)	(1u << (unit))
#define	LPC_IRQSRC_SCI		(1u << LPC_UART_NUM)
#define	LPC_IRQSRC_TESTDEV	(1u << (LPC_UART_NUM + 1))	/* pc-testdev */

/* Drives one ISA line from one source; lines wire-OR their sources. */
void	lpc_irq_set(struct bhyve_vm *bvm, int irq, uint32_t source, bool level);

/*
 * For the firmware tables: the bridge's slot and function on bus 0, the
 * COM ports with a backend (bit N: COM(N+1)) and whether QEMU's fw_cfg is
 * there.  Without a bridge, *slot is left alone.
 */
void	lpc_firmware_info(struct bhyve_vm *bvm, int *slot, int *func,
	    unsigned *com_mask, bool *fwcfg);

/* After PCI init: -l options need an lpc device to attach to. */
int	lpc_check_config(struct bhyve_vm *bvm);

#endif /* LHYVE_PCI_LPC_H */
