/*
 * mptable.c - the MP table (Intel MultiProcessor Specification 1.4,
 * chapter 4): the MP floating pointer at MACHINE_MPTABLE_BASE, then the
 * configuration table with a processor entry per vCPU, the PCI and ISA
 * buses, the I/O APIC, an I/O interrupt entry per ISA IRQ and per PCI
 * INTx line (routed as machine_pci_intx_pin() and the DSDT's _PRT say),
 * and LINT0/LINT1.  Same machine as the ACPI tables (acpi.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "acpi.h"
#include "bhyve.h"
#include "mptable.h"
#include "pci_emul.h"
#include "vmmapi.h"

#define	MPFP_LEN		16
#define	MPCT_HDR_LEN		44

/* Entry types and sizes (4.3, Table 4-3). */
#define	MPE_PROCESSOR		0
#define	MPE_BUS			1
#define	MPE_IOAPIC		2
#define	MPE_IOINT		3
#define	MPE_LINT		4

/* Interrupt types (Table 4-11) and INTI flags (Table 4-10). */
#define	MP_INT_INT		0
#define	MP_INT_NMI		1
#define	MP_INT_EXTINT		3
#define	MP_FLAGS_CONFORM	0x0000
#define	MP_FLAGS_HIGH_LEVEL	0x000d

#define	MP_BUS_PCI		0
#define	MP_BUS_ISA		1

/* The local APIC and I/O APIC versions vmm/io's models report. */
#define	MP_LAPIC_VERSION	0x14
#define	MP_IOAPIC_VERSION	0x11

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint8_t *
mp_ioint(uint8_t *e, uint8_t type, uint16_t flags, uint8_t bus, uint8_t irq,
    uint8_t pin)
{
	e[0] = MPE_IOINT;
	e[1] = type;
	put16(e + 2, flags);
	e[4] = bus;
	e[5] = irq;
	e[6] = MACHINE_IOAPIC_ID;
	e[7] = pin;
	return (e + 8);
}

static uint8_t *
mp_lint(uint8_t *e, uint8_t type, uint8_t lint)
{
	e[0] = MPE_LINT;
	e[1] = type;
	put16(e + 2, MP_FLAGS_CONFORM);
	e[4] = MP_BUS_ISA;
	e[5] = 0;
	e[6] = 0xff;				/* every local APIC */
	e[7] = lint;
	return (e + 8);
}

ssize_t
mptable_write(uint8_t *bios, const struct acpi_machine *m)
{
	uint8_t *fp, *ct, *e;
	uint64_t ctaddr = MACHINE_MPTABLE_BASE + MPFP_LEN;
	size_t need;
	unsigned count = 0;
	int i, irq, slot, pin;

	if (m->am_ncpus < 1 || m->am_ncpus > VM_MAXCPU)
		return (-EINVAL);
	need = MPFP_LEN + MPCT_HDR_LEN + 20 * (size_t)m->am_ncpus +
	    8 * (2 + 1 + 16 + MAXSLOTS * 4 + 2);
	if (need > MACHINE_MPTABLE_SIZE)
		return (-ENOSPC);
	fp = bios + (MACHINE_MPTABLE_BASE - MACHINE_BIOS_AREA_BASE);
	ct = fp + MPFP_LEN;
	memset(fp, 0, need);

	/* Processors (4.3.1): the BSP is vCPU 0; family 6, FPU and APIC. */
	e = ct + MPCT_HDR_LEN;
	for (i = 0; i < m->am_ncpus; i++, count++) {
		e[0] = MPE_PROCESSOR;
		e[1] = (uint8_t)i;		/* local APIC ID */
		e[2] = MP_LAPIC_VERSION;
		e[3] = (uint8_t)(0x01 | (i == 0 ? 0x02 : 0));	/* EN, BP */
		put32(e + 4, 6u << 8);		/* CPU signature: family 6 */
		put32(e + 8, 1u << 0 | 1u << 9);	/* FPU, APIC */
		e += 20;
	}
	/* Buses (4.3.2). */
	e[0] = MPE_BUS;
	e[1] = MP_BUS_PCI;
	memcpy(e + 2, "PCI   ", 6);
	e += 8;
	e[0] = MPE_BUS;
	e[1] = MP_BUS_ISA;
	memcpy(e + 2, "ISA   ", 6);
	e += 8;
	count += 2;
	/* The I/O APIC (4.3.3). */
	e[0] = MPE_IOAPIC;
	e[1] = MACHINE_IOAPIC_ID;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = 0x01;				/* enabled */
	put32(e + 4, (uint32_t)MACHINE_IOAPIC_BASE);
	e += 8;
	count++;
	/*
	 * ISA interrupts (4.3.4): the 8259's ExtINT on pin 0, IRQ 0 on pin 2
	 * (as the MADT's override), the others on their own pins except the
	 * cascade; the SCI level triggered, active high.
	 */
	e = mp_ioint(e, MP_INT_EXTINT, MP_FLAGS_CONFORM, MP_BUS_ISA, 0, 0);
	count++;
	for (irq = 0; irq < MACHINE_ISA_NIRQ; irq++) {
		if (irq == MACHINE_IRQ_CASCADE)
			continue;
		e = mp_ioint(e, MP_INT_INT, irq == MACHINE_IRQ_SCI ?
		    MP_FLAGS_HIGH_LEVEL : MP_FLAGS_CONFORM, MP_BUS_ISA,
		    (uint8_t)irq, (uint8_t)(irq == MACHINE_IRQ_PIT ?
		    MACHINE_GSI_PIT : irq));
		count++;
	}
	/* PCI INTx (D.3): source IRQ is slot << 2 | pin; level, low (conform). */
	for (slot = 0; slot < MAXSLOTS; slot++)
		for (pin = 0; pin < 4; pin++, count++)
			e = mp_ioint(e, MP_INT_INT, MP_FLAGS_CONFORM, MP_BUS_PCI,
			    (uint8_t)(slot << 2 | pin),
			    (uint8_t)machine_pci_intx_pin(slot, pin + 1));
	/* Local interrupts (4.3.5): virtual wire, ExtINT on LINT0, NMI on LINT1. */
	e = mp_lint(e, MP_INT_EXTINT, 0);
	e = mp_lint(e, MP_INT_NMI, 1);
	count += 2;
	VERIFY((size_t)(e - fp) == need);

	/* Configuration table header (4.2). */
	memcpy(ct, "PCMP", 4);
	put16(ct + 4, (uint16_t)(e - ct));
	ct[6] = 4;				/* spec revision 1.4 */
	memcpy(ct + 8, "BHyVe   ", 8);
	memcpy(ct + 16, "lhyve       ", 12);
	put16(ct + 34, (uint16_t)count);
	put32(ct + 36, (uint32_t)MACHINE_LAPIC_BASE);
	ct[7] = (uint8_t)-acpi_checksum(ct, (size_t)(e - ct));

	/* Floating pointer (4.1): the table above, no default configuration. */
	memcpy(fp, "_MP_", 4);
	put32(fp + 4, (uint32_t)ctaddr);
	fp[8] = 1;				/* length in 16-byte units */
	fp[9] = 4;
	fp[10] = (uint8_t)-acpi_checksum(fp, MPFP_LEN);
	return ((ssize_t)need);
}

int
mptable_build(struct bhyve_vm *bvm)
{
	struct acpi_machine m;
	uint8_t *bios;
	ssize_t n;

	bios = vm_map_gpa(bvm->ctx, MACHINE_BIOS_AREA_BASE, MACHINE_BIOS_AREA_SIZE);
	if (bios == NULL) {
		fprintf(stderr, "bhyve: the MP table needs guest RAM at %#llx "
		    "(at least 1 MiB of memory; -Y leaves it out)\n",
		    (unsigned long long)MACHINE_MPTABLE_BASE);
		return (-1);
	}
	acpi_machine_describe(bvm, &m);
	n = mptable_write(bios, &m);
	if (n < 0) {
		fprintf(stderr, "bhyve: cannot build the MP table: %s\n",
		    strerror((int)-n));
		return (-1);
	}
	return (0);
}
