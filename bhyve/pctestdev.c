/*
 * pctestdev.c - -l pc-testdev: the test devices of QEMU that public
 * hypervisor test suites (kvm-unit-tests and the like) drive, at QEMU's
 * addresses (hw/misc/pc-testdev.c, hw/misc/debugexit.c):
 *
 *	0xf4-0xf7	isa-debug-exit: writing V ends bhyve with exit status
 *			(V << 1) | 1, as "-device isa-debug-exit,iobase=0xf4,
 *			iosize=4" does
 *	0xe0-0xe3	a 32-bit scratch register, any width at any offset
 *	0xe4-0xe7	"flush page": a dword write names a guest page
 *	0xe8-0xeb	the same scratch register, a byte at a time
 *	0xff000000	64 KiB of scratch memory, any width
 *	0x2000-0x2017	IRQ lines: a byte written to 0x2000 + N raises line
 *			N (nonzero) or lowers it (zero), as QEMU's
 *			test_irq_line (N is a GSI: ISA IRQ N, IOAPIC pin N)
 *
 * The ISA lines are wired-OR with the LPC bridge's other sources
 * (lpc_irq_set); pins 16-23, the PCI INTx pins, go to the IOAPIC as the
 * PCI functions' do (FreeBSD's pctestdev.c: vm_ioapic_assert_irq).
 *
 * Concurrency: the scratch register and memory are under pt_mtx; the exit
 * request is one atomic in struct bhyve_vm.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "inout.h"
#include "mem.h"
#include "config.h"
#include "pci_lpc.h"
#include "pctestdev.h"

#define	PT_SCRATCH	MACHINE_IO_TESTDEV		/* 0xe0 */
#define	PT_FLUSH	(MACHINE_IO_TESTDEV + 4)	/* 0xe4 */
#define	PT_SCRATCH_BYTE	(MACHINE_IO_TESTDEV + 8)	/* 0xe8 */

struct pctestdev {
	pthread_mutex_t	pt_mtx;
	uint32_t	pt_ioport;
	uint32_t	pt_pin_level;	/* lines 2 and 16-23 this device raises */
	uint8_t		pt_iomem[MACHINE_TESTDEV_IOMEM_SIZE];
};

/*
 * isa-debug-exit.  The first request wins; bhyverun turns it into the exit
 * status once the vCPUs have stopped (a power-off otherwise: the state is
 * saved, -D applies).
 */
static int
pctestdev_debug_exit(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	int expected = -1, status;

	if (in) {
		*eax = 0;
		return (0);
	}
	/* As QEMU: exit((val << 1) | 1); the host keeps the low 8 bits. */
	status = (int)((((uint64_t)*eax << 1) | 1) & 0xff);
	__atomic_compare_exchange_n(&bvm->exit_request, &expected, status,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (bvm->suspend != NULL)
		(void)bvm->suspend(bvm, VM_SUSPEND_POWEROFF);
	return (0);
}

/*
 * The scratch register.  An access of `bytes` at `port` covers register
 * bytes (port & 3) on; bytes past the register find nothing, as an access
 * straddling two of QEMU's regions would.
 */
static int
pctestdev_scratch(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pctestdev *pt = arg;
	uint32_t val = 0;
	int i, off = port & 3;

	pthread_mutex_lock(&pt->pt_mtx);
	for (i = 0; i < bytes; i++) {
		if (off + i >= 4) {
			val |= 0xffu << (8 * i);
			continue;
		}
		if (in)
			val |= ((pt->pt_ioport >> (8 * (off + i))) & 0xff) << (8 * i);
		else {
			pt->pt_ioport &= ~(0xffu << (8 * (off + i)));
			pt->pt_ioport |= ((*eax >> (8 * i)) & 0xff) << (8 * (off + i));
		}
	}
	pthread_mutex_unlock(&pt->pt_mtx);
	if (in)
		*eax = val;
	return (0);
}

/*
 * Flush page: QEMU drops and restores its host mapping of the page so
 * that KVM faults it in again.  The software CPU keeps no host-side state
 * for a page that such a flush would reset (its translation blocks follow
 * guest writes), so the write has nothing to do; reads give 0 as QEMU's.
 */
static int
pctestdev_flush(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	if (in)
		*eax = 0;
	return (0);
}

/*
 * IRQ line N.  GSIs as QEMU's gsi_handler: 0-15 are the ISA IRQs (the
 * 8259's input N and, by the machine map, IOAPIC pin N, IRQ 0 on pin 2),
 * 16-23 IOAPIC pins only, wired-OR with the PCI functions on them.  Line 2,
 * the 8259's cascade input, is IOAPIC pin 2 alone (QEMU's GSI 2).  Byte writes only (QEMU and FreeBSD); other
 * accesses do nothing, reads give 0.
 */
static int
pctestdev_irq(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg)
{
	struct pctestdev *pt = arg;
	int line = port - MACHINE_IO_TESTDEV_IRQ;
	uint32_t bit;
	bool level;

	if (in) {
		*eax = 0;
		return (0);
	}
	if (bytes != 1 || line < 0 || line >= MACHINE_TESTDEV_NIRQ)
		return (0);
	level = (*eax & 0xff) != 0;
	if (line < MACHINE_ISA_NIRQ && line != 2) {
		lpc_irq_set(bvm, line, LPC_IRQSRC_TESTDEV, level);
		return (0);
	}
	/* One source among the PCI functions on the pin: transitions only. */
	bit = 1u << line;
	pthread_mutex_lock(&pt->pt_mtx);
	if (level != ((pt->pt_pin_level & bit) != 0)) {
		pt->pt_pin_level ^= bit;
		pci_intx_pin_set(bvm, line, level, true);
	}
	pthread_mutex_unlock(&pt->pt_mtx);
	return (0);
}

static int
pctestdev_iomem(struct bhyve_vm *bvm, int dir, uint64_t addr, int size,
    uint64_t *val, void *arg1, long arg2)
{
	struct pctestdev *pt = arg1;
	uint64_t off = addr - MACHINE_TESTDEV_IOMEM_BASE;

	/* mem.c hands over accesses that lie inside the range only. */
	VERIFY(off + (uint64_t)size <= MACHINE_TESTDEV_IOMEM_SIZE);
	pthread_mutex_lock(&pt->pt_mtx);
	if (dir == MEM_F_WRITE)
		memcpy(pt->pt_iomem + off, val, (size_t)size);
	else {
		*val = 0;
		memcpy(val, pt->pt_iomem + off, (size_t)size);
	}
	pthread_mutex_unlock(&pt->pt_mtx);
	return (0);
}

int
pctestdev_parse(struct config *cfg, const char *opts)
{
	if (opts != NULL) {
		fprintf(stderr, "bhyve: -l pc-testdev takes no options, not '%s'\n",
		    opts);
		return (-1);
	}
	return (set_config_bool(cfg, "lpc.pc-testdev", true) == 0 ? 0 : -1);
}

int
pctestdev_init(struct bhyve_vm *bvm, struct pctestdev **ptp)
{
	struct pctestdev *pt;
	struct inout_port iop[5];
	struct mem_range mr;
	int i;

	*ptp = NULL;
	if (!get_config_bool_default(bvm->cfg, "lpc.pc-testdev", false))
		return (0);
	pt = calloc(1, sizeof(*pt));
	if (pt == NULL)
		return (-1);
	pthread_mutex_init(&pt->pt_mtx, NULL);
	*ptp = pt;
	iop[0] = (struct inout_port){ "isa-debug-exit", MACHINE_IO_DEBUG_EXIT, 4,
	    IOPORT_F_INOUT, pctestdev_debug_exit, pt };
	iop[1] = (struct inout_port){ "pc-testdev", PT_SCRATCH, 4,
	    IOPORT_F_INOUT, pctestdev_scratch, pt };
	iop[2] = (struct inout_port){ "pc-testdev-flush", PT_FLUSH, 4,
	    IOPORT_F_INOUT, pctestdev_flush, pt };
	iop[3] = (struct inout_port){ "pc-testdev-byte", PT_SCRATCH_BYTE, 4,
	    IOPORT_F_INOUT, pctestdev_scratch, pt };
	iop[4] = (struct inout_port){ "pc-testdev-irq-line", MACHINE_IO_TESTDEV_IRQ,
	    MACHINE_TESTDEV_NIRQ, IOPORT_F_INOUT, pctestdev_irq, pt };
	for (i = 0; i < 5; i++) {
		if (register_inout(bvm->inout, &iop[i]) != 0) {
			fprintf(stderr, "bhyve: pc-testdev: ports %#x-%#x are taken\n",
			    iop[i].port, iop[i].port + iop[i].size - 1);
			return (-1);
		}
	}
	mr = (struct mem_range){ .name = "pc-testdev-iomem", .flags = MEM_F_RW |
	    MEM_F_IMMUTABLE, .handler = pctestdev_iomem, .arg1 = pt,
	    .base = MACHINE_TESTDEV_IOMEM_BASE, .size = MACHINE_TESTDEV_IOMEM_SIZE };
	if (register_mem(bvm->mem, &mr) != 0) {
		fprintf(stderr, "bhyve: pc-testdev: %#llx is taken\n",
		    (unsigned long long)MACHINE_TESTDEV_IOMEM_BASE);
		return (-1);
	}
	return (0);
}

/* After every vCPU has stopped: the tables no longer name pt. */
void
pctestdev_fini(struct pctestdev *pt)
{
	if (pt == NULL)
		return;
	pthread_mutex_destroy(&pt->pt_mtx);
	free(pt);
}
