/*
 * bhyve.h - the per-VM context of bhyve's device layer and the entry points
 * bhyverun.c calls.
 *
 * Every registry (port table, MMIO ranges, PCI bus, LPC, power management)
 * hangs off one struct bhyve_vm, so tests can create and destroy VMs in any
 * order.  The only process-wide state is the host terminal (see
 * uart_backend.c).
 *
 * Life cycle: the caller fills ctx, ncpus and cfg (and optionally suspend),
 * calls bhyve_devices_init() before any vCPU runs, dispatches
 * exits with emulate_inout()/emulate_mem() from any number of vCPU threads,
 * and calls bhyve_devices_fini() after every vCPU thread has stopped.
 */
#ifndef LHYVE_BHYVE_H
#define LHYVE_BHYVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm.h"
#include "machine.h"

/* Host invariant, always on; never used on guest-controlled values. */
#ifndef VERIFY
#define	VERIFY(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "bhyve: %s:%d: VERIFY(%s) failed\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)
#endif

struct vmctx;
struct config;
struct inout_table;
struct mem_ranges;
struct pci_bus;
struct lpc_state;
struct pm_state;

struct bhyve_vm {
	struct vmctx		*ctx;		/* NULL in unit tests */
	int			ncpus;
	struct config		*cfg;
	struct inout_table	*inout;
	struct mem_ranges	*mem;
	struct pci_bus		*pci;
	struct lpc_state	*lpc;		/* NULL without an lpc device */
	struct pm_state		*pm;

	/*
	 * Guest power requests (reset, S5).  bhyve_devices_init() points it
	 * at a vm_suspend() wrapper unless the caller set it; tests fake it.
	 */
	int			(*suspend)(struct bhyve_vm *bvm,
				    enum vm_suspend_how how);
	/*
	 * Guest memory for device DMA: a host pointer to [gpa, gpa + len) when
	 * all of it is RAM, else NULL (MMIO, holes, beyond the end: the device
	 * reports an error, never touches it).  mem_written() tells the CPU
	 * that a device wrote guest RAM (the software CPU drops translated
	 * code of it).  Default: libvmmapi; tests fake them.
	 */
	void			*(*gpa_map)(struct bhyve_vm *bvm, uint64_t gpa,
				    size_t len);
	void			(*mem_written)(struct bhyve_vm *bvm, uint64_t gpa,
				    size_t len);
	/*
	 * Interrupt delivery: an MSI/MSI-X message to the local APICs, and the
	 * level of an IOAPIC pin (PCI INTx).  Default: libvmmapi's
	 * (vm_lapic_msi, vm_ioapic_assert/deassert_irq); tests fake them.
	 */
	int			(*msi)(struct bhyve_vm *bvm, uint64_t addr,
				    uint64_t data);
	int			(*ioapic_pin)(struct bhyve_vm *bvm, int pin, bool level);
	/* An ISA IRQ line's level changed (vm_isa_assert/deassert_irq). */
	int			(*isa_irq)(struct bhyve_vm *bvm, int irq, bool level);
	/*
	 * Doorbells without exits (libvmmapi's vm_ioeventfd, flags
	 * VM_IOEVENTFD_*): a guest write to @addr signals eventfd @fd.
	 * NULL when the CPU backend has none (the software CPU) or
	 * -o virtio.ioeventfd=false: such writes exit as before.  Tests
	 * fake it.
	 */
	int			(*ioeventfd)(struct bhyve_vm *bvm, uint64_t addr, int len,
				    uint64_t data, int fd, int flags);
	void			*test_arg;	/* free for fakes */

	/*
	 * An exit status the guest asked for (pc-testdev's isa-debug-exit),
	 * or -1.  Set with an atomic compare-and-swap before the device asks
	 * for a power-off; bhyverun reads it once the vCPUs have stopped.
	 */
	int			exit_request;

	/*
	 * ISA IRQ line levels: per line, a bitmask of the sources asserting
	 * it (LPC_IRQSRC_*).  Written with atomics by device threads; the
	 * interrupt controllers read it through lpc_irq_asserted().
	 */
	uint32_t		lpc_irq_level[MACHINE_ISA_NIRQ];
	pthread_mutex_t		lpc_irq_mtx;

	/*
	 * IOAPIC pins driven by level sources outside the LPC (PCI INTx,
	 * pc-testdev's lines 2 and 16-23): per pin, how many sources assert
	 * it.  PCI INTx is open-drain and shared (PCI 3.0, 2.2.6), so a pin
	 * is high while any of its functions asserts (pci_intx_pin_set()).
	 */
	uint16_t		intx_count[MACHINE_IOAPIC_NPINS];
	pthread_mutex_t		intx_mtx;
};

int	bhyve_devices_init(struct bhyve_vm *bvm);
void	bhyve_devices_fini(struct bhyve_vm *bvm);
int	emulate_inout(struct bhyve_vm *bvm, struct vm_exit *vme);
int	emulate_mem(struct bhyve_vm *bvm, struct vm_exit *vme);

/* Command-line parsing into the config tree (before bhyve_devices_init). */
int	pci_parse_slot(struct config *cfg, const char *opt);
int	lpc_device_parse(struct config *cfg, const char *opt);
void	pci_print_supported_devices(void);
void	lpc_print_supported_devices(void);

/*
 * A level source on an IOAPIC pin changed (pci_irq.c): callers pass
 * transitions only (assert once, deassert once).  `drive` false only counts,
 * for a restore, where the IOAPIC's own section holds the pin's level.
 */
void	pci_intx_pin_set(struct bhyve_vm *bvm, int pin, bool level, bool drive);

/* Observable ISA IRQ line state (pci_lpc.c). */
int	lpc_irq_asserted(struct bhyve_vm *bvm, int irq);

/* Async-signal-safe: puts every terminal we made raw back (uart_backend.c). */
void	uart_backend_restore_all(void);
/* What Ctrl-A x on a stdio console does (from the reader thread); NULL: SIGTERM. */
void	uart_backend_set_escape_hook(void (*fn)(void));

/*
 * ACPI power button press, as bhyve does on SIGTERM (pm.c); not from a
 * signal handler.  Returns whether the guest listens (ACPI enabled and the
 * button's event enabled): a guest that does not would never react.
 */
bool	pm_power_button(struct bhyve_vm *bvm);

#endif /* LHYVE_BHYVE_H */
