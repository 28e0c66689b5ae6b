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

/*
 * The I/O APIC and the HPET as bhyve's vmm.ko has them (82093AA datasheet;
 * IA-PC HPET spec 1.0a).
 */
#define	MACHINE_IOAPIC_ID		0	/* the I/O APIC's ID register at reset */
#define	MACHINE_IOAPIC_NPINS		24
#define	MACHINE_HPET_BASE		0xfed00000ULL
#define	MACHINE_HPET_SIZE		0x400
#define	MACHINE_HPET_NTIMERS		3
/*
 * Bits 31:0 of the HPET General Capabilities and ID register (HPET 1.0a,
 * 2.3.4): vendor 0x8086, legacy replacement capable, 64-bit counter, the
 * number of the last timer, revision 1.  The ACPI HPET table repeats it.
 */
#define	MACHINE_HPET_CAP_ID		(0x8086u << 16 | 1u << 15 | 1u << 13 | \
					 (MACHINE_HPET_NTIMERS - 1u) << 8 | 1u)
/*
 * Whether the guest has the HPET: libvmm serves its page (vmm/vmm_platform.c).
 * The ACPI tables describe an HPET only when this is 1, since a guest told
 * of one that nobody serves stops bhyve at its first access (an unhandled
 * MMIO read).
 */
#define	MACHINE_HPET_PRESENT		1

/* ISA devices the firmware tables describe (and their IRQ lines). */
#define	MACHINE_IO_PIC1			0x0020	/* 2 ports */
#define	MACHINE_IO_PIC2			0x00a0	/* 2 ports */
#define	MACHINE_IO_ELCR			0x04d0	/* 2 ports: edge/level control */
#define	MACHINE_IO_PIT			0x0040	/* 4 ports */
#define	MACHINE_IO_RTC			0x0070	/* 2 ports: index, data */
#define	MACHINE_IRQ_PIT			0
#define	MACHINE_IRQ_CASCADE		2
#define	MACHINE_IRQ_RTC			8
#define	MACHINE_GSI_PIT			2	/* IRQ0 arrives on I/O APIC pin 2 */
#define	MACHINE_RTC_CENTURY		0x32	/* CMOS index of the century (FADT) */

/*
 * 64-bit BAR window of a machine whose high RAM ends at highmem_end:
 * [base, base + MACHINE_PCI_MEM64_SIZE).
 */
static inline uint64_t
machine_pci_mem64_base(uint64_t highmem_end)
{
	return ((highmem_end + MACHINE_PCI_MEM64_ALIGN - 1) &
	    ~(MACHINE_PCI_MEM64_ALIGN - 1));
}

/* The BIOS area holds the MP table at its base, the ACPI tables from the RSDP. */
#define	MACHINE_MPTABLE_BASE		MACHINE_BIOS_AREA_BASE
#define	MACHINE_MPTABLE_SIZE		(MACHINE_ACPI_RSDP - MACHINE_MPTABLE_BASE)

/* E820 memory map (ACPI 6.x, 15.1): the types the machine uses. */
#define	MACHINE_E820_RAM		1
#define	MACHINE_E820_RESERVED		2

struct machine_e820_entry {
	uint64_t	addr;
	uint64_t	len;
	uint32_t	type;
};

#define	MACHINE_E820_MAX		7

/*
 * The guest's memory map, as loaders (bhyveload: boot_params, multiboot)
 * and fw_cfg's etc/e820 give it: base memory up to the EBDA; the EBDA, VGA
 * hole, option ROMs and BIOS area (with the MP and ACPI tables) reserved;
 * RAM from 1 MiB to the top of low memory; ECAM, the I/O APIC and the local
 * APIC reserved; RAM from 4 GiB.  Empty ranges are left out.  Returns the
 * number of entries written to e (at most MACHINE_E820_MAX).
 */
static inline int
machine_e820(uint64_t lowmem, uint64_t highmem,
    struct machine_e820_entry e[MACHINE_E820_MAX])
{
	const struct machine_e820_entry all[MACHINE_E820_MAX] = {
		{ 0, MACHINE_EBDA_BASE, MACHINE_E820_RAM },
		{ MACHINE_EBDA_BASE, 0x100000 - MACHINE_EBDA_BASE,
		    MACHINE_E820_RESERVED },
		{ 0x100000, lowmem > 0x100000 ? lowmem - 0x100000 : 0,
		    MACHINE_E820_RAM },
		{ MACHINE_PCI_ECFG_BASE, MACHINE_PCI_ECFG_SIZE,
		    MACHINE_E820_RESERVED },
		{ MACHINE_IOAPIC_BASE, 0x1000, MACHINE_E820_RESERVED },
		{ MACHINE_LAPIC_BASE, 0x1000, MACHINE_E820_RESERVED },
		{ VM_HIGHMEM_BASE, highmem, MACHINE_E820_RAM },
	};
	int i, n = 0;

	for (i = 0; i < MACHINE_E820_MAX; i++)
		if (all[i].len != 0)
			e[n++] = all[i];
	return (n);
}

/* Test devices (-l pc-testdev), as QEMU's isa-debug-exit and pc-testdev. */
#define	MACHINE_IO_DEBUG_EXIT		0x00f4	/* 4 ports */
#define	MACHINE_IO_TESTDEV		0x00e0	/* 0xe0-0xeb */
#define	MACHINE_TESTDEV_IOMEM_BASE	0xff000000ULL
#define	MACHINE_TESTDEV_IOMEM_SIZE	0x10000ULL
/*
 * pc-testdev's IRQ line ports, one per IOAPIC pin.  QEMU's 0x2000 is the
 * bottom of our PCI I/O window: with the device there, BARs start above.
 */
#define	MACHINE_IO_TESTDEV_IRQ		0x2000
#define	MACHINE_TESTDEV_NIRQ		MACHINE_IOAPIC_NPINS

/* QEMU's fw_cfg on x86 (QEMU docs/specs/fw_cfg.rst, "Register Locations"). */
#define	MACHINE_IO_FWCFG		0x0510	/* selector; data at +1 */
#define	MACHINE_IO_FWCFG_DMA		0x0514	/* 8 ports, big-endian */

#endif /* LHYVE_MACHINE_H */
