/*
 * machine.h - the machine map: every absolute port, IRQ and guest-physical
 * address of the emulated PC, in one place.
 *
 * Devices receive their ports, lines and windows from here; the ACPI tables
 * (DSDT, FADT, MCFG) must describe the same values.  The numbers are
 * bhyve's (usr.sbin/bhyve: pci_emul.c, pm.c, uart_emul.c, acpi.h) so that
 * guests and firmware built for bhyve find their devices where they expect.
 */
#ifndef LHYVE_MACHINE_H
#define LHYVE_MACHINE_H

#include "vmm.h"

/* PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2). */
#define	MACHINE_IO_PCI_CONF1_ADDR	0x0cf8
#define	MACHINE_IO_PCI_CONF1_DATA	0x0cfc	/* 4 ports: 0xcfc-0xcff */

/* Reset control register (Intel ICH/PIIX RST_CNT), as bhyve's pm.c. */
#define	MACHINE_IO_RESET_CNT		0x0cf9

/* ACPI fixed hardware, as bhyve's FADT (ACPI 6.x, 4.8). */
#define	MACHINE_IO_SMI_CMD		0x00b2
#define	MACHINE_IO_PM1A_EVT		0x0400	/* 4 ports: status, enable */
#define	MACHINE_IO_PM1A_CNT		0x0404	/* 2 ports */
#define	MACHINE_IO_PM_TMR		0x0408	/* 4 ports */
#define	MACHINE_IRQ_SCI			9
#define	MACHINE_ACPI_ENABLE		0xa0	/* SMI_CMD values in the FADT */
#define	MACHINE_ACPI_DISABLE		0xa1

/* Legacy serial ports behind the LPC bridge. */
#define	MACHINE_IO_COM1			0x03f8
#define	MACHINE_IO_COM2			0x02f8
#define	MACHINE_IO_COM3			0x03e8
#define	MACHINE_IO_COM4			0x02e8
#define	MACHINE_IRQ_COM1		4
#define	MACHINE_IRQ_COM2		3
#define	MACHINE_IRQ_COM3		4
#define	MACHINE_IRQ_COM4		3

/* ISA IRQ lines 0-15 whose levels the LPC bridge records. */
#define	MACHINE_ISA_NIRQ		16

/* Port window for PCI I/O BARs: [base, limit). */
#define	MACHINE_PCI_IO_BASE		0x2000
#define	MACHINE_PCI_IO_LIMIT		0x10000

/*
 * 32-bit PCI hole: [lowmem limit, ECAM).  The base is the top of low RAM
 * (VM_LOWMEM_LIMIT unless libvmmapi says otherwise).
 */
#define	MACHINE_PCI_MEM32_BASE		VM_LOWMEM_LIMIT		/* 0xc0000000 */
#define	MACHINE_PCI_MEM32_LIMIT		0xe0000000ULL

/* PCI Express enhanced configuration window (ECAM), buses 0-255. */
#define	MACHINE_PCI_ECFG_BASE		0xe0000000ULL
#define	MACHINE_PCI_ECFG_SIZE		(256ULL << 20)

/*
 * 64-bit BARs larger than MACHINE_PCI_MEM64_MINBAR go above high RAM, at
 * high RAM's end rounded up to MACHINE_PCI_MEM64_ALIGN; smaller ones go in
 * the 32-bit hole because some drivers mishandle 64-bit BARs above 4G
 * (bhyve's rule).
 */
#define	MACHINE_PCI_MEM64_ALIGN		(32ULL << 30)
#define	MACHINE_PCI_MEM64_SIZE		(32ULL << 30)
#define	MACHINE_PCI_MEM64_MINBAR	(128ULL << 20)

/*
 * Low memory as a PC BIOS leaves it: RAM up to the extended BIOS data area,
 * then the EBDA, the VGA hole and the BIOS area up to 1 MiB, all reserved
 * in the e820 map.  bhyve writes the ACPI tables (RSDP first) and the MP
 * table into the BIOS area, where firmware-less guests scan for them.
 */
#define	MACHINE_EBDA_BASE		0x9fc00ULL
#define	MACHINE_BIOS_AREA_BASE		0xf0000ULL
#define	MACHINE_BIOS_AREA_SIZE		0x10000ULL
#define	MACHINE_ACPI_RSDP		0xf2400ULL

/* Interrupt controllers' register windows (SDM Vol. 3A 11.4.1; 82093AA). */
#define	MACHINE_IOAPIC_BASE		0xfec00000ULL
#define	MACHINE_LAPIC_BASE		0xfee00000ULL

/*
 * PCI INTx: IOAPIC pins 16-23 (24 pins, the ISA IRQs take 0-15), the usual
 * swizzle of slot and pin (PCI-to-PCI Bridge spec 1.2, 9.1) so that
 * neighbouring slots share no line.  The DSDT's _PRT is generated from this.
 */
#define	MACHINE_PCI_INTX_FIRST_PIN	16
#define	MACHINE_PCI_INTX_NPINS		8

static inline int
machine_pci_intx_pin(int slot, int intpin)	/* intpin 1-4: INTA#-INTD# */
{
	return MACHINE_PCI_INTX_FIRST_PIN +
	    (slot + intpin - 1) % MACHINE_PCI_INTX_NPINS;
}

#endif /* LHYVE_MACHINE_H */
