/*
 * vmm_irqmap.h - the machine's interrupt lines: where each ISA IRQ and
 * each PCI INTx lands on the IOAPIC and the 8259 pair, with the polarity
 * and trigger the MADT and FADT must announce.  One place, as bhyve.8's
 * machine (usr.sbin/bhyve: ioapic.c, pci_irq.c, acpi.c, pm.c).
 *
 * ISA (IRQ 0-15):
 *  - IRQ n is 8259 input n (master 0-7, slave 8-15 through master IR2);
 *    IRQ 2 is the cascade and no device has it.
 *  - IRQ 0 (the 8254's OUT0, or HPET timer 0 in legacy replacement) goes
 *    to IOAPIC pin 2; every other IRQ n goes to pin n.  The MADT carries
 *    the override 0 -> 2 (ACPI 6.x, 5.2.12.5).
 *  - ISA IRQs are active high, edge triggered, except the SCI (IRQ 9),
 *    which is active high, level triggered: the MADT's override for 9
 *    says so, the FADT's SCI_INT is 9, and the 8259 pair has ELCR bit 9
 *    set (bhyve's pm.c: sci_init).
 *
 * PCI INTx: IOAPIC pins 16-23, active low, level triggered.  Slot s (bus
 * 0), pin p (1 = INTA# .. 4 = INTD#) lands on pin 16 + (s + p - 1) % 8,
 * the usual swizzle (PCI-to-PCI Bridge spec 1.2, 9.1), as bhyve/machine.h's
 * machine_pci_intx_pin() says for bhyve's side and the DSDT's _PRT (the
 * unit tests check that the two agree).  Unlike bhyve's allocation-order
 * rule (ioapic.c), it depends on nothing but the slot.  Lines of several
 * devices on one pin are wire-ORed by the caller.
 *
 * The master 8259's INT output: the BSP's LINT0 and IOAPIC pin 0 (MP spec
 * 1.4, 5.3.1: ExtINT on pin 0, as the MP table's entry says), so a guest
 * may take the 8259 through either virtual wire mode.
 *
 * HPET: timers route to IOAPIC pins 20-23 (VMM_IRQMAP_HPET_ROUTE_CAP) or,
 * in legacy replacement, timer 0 -> IRQ 0 (pin 2) and timer 1 -> IRQ 8.
 */
#ifndef LHYVE_VMM_IRQMAP_H
#define LHYVE_VMM_IRQMAP_H

#include <stdbool.h>

#define VMM_IRQMAP_ISA_NIRQ	16
#define VMM_IRQMAP_IOAPIC_PINS	24
#define VMM_IRQMAP_CASCADE	2	/* master IR2 <- slave INTR */
#define VMM_IRQMAP_PIC_PIN	0	/* IOAPIC pin <- master INT */

#define VMM_IRQMAP_IRQ_PIT	0
#define VMM_IRQMAP_IRQ_RTC	8
#define VMM_IRQMAP_IRQ_SCI	9
#define VMM_IRQMAP_IRQ_FERR	13	/* x87 FERR# (IGNNE# at port 0xf0) */

/* PCI INTx pins on the IOAPIC: [first, first + count). */
#define VMM_IRQMAP_PCI_PIN0	16
#define VMM_IRQMAP_PCI_NPINS	8

/* IOAPIC pins the HPET may route to (Tn_INT_ROUTE_CAP): 20-23. */
#define VMM_IRQMAP_HPET_ROUTE_CAP	0x00f00000u

/* The IOAPIC pin of ISA IRQ @irq (0-15), or -1 (the cascade, or out of range). */
static inline int
vmm_irqmap_isa_pin(int irq)
{
	if (irq < 0 || irq >= VMM_IRQMAP_ISA_NIRQ || irq == VMM_IRQMAP_CASCADE)
		return -1;
	return irq == 0 ? 2 : irq;
}

/* Whether ISA IRQ @irq is level triggered (and the 8259's ELCR bit set). */
static inline bool
vmm_irqmap_isa_level(int irq)
{
	return irq == VMM_IRQMAP_IRQ_SCI;
}

/* The ELCR value at reset: bit n set for each level-triggered IRQ n. */
#define VMM_IRQMAP_ELCR		(1u << VMM_IRQMAP_IRQ_SCI)

/* The IOAPIC pin of PCI bus 0 slot @slot (0-31), INTx @intpin (1-4), or -1. */
static inline int
vmm_irqmap_pci_pin(int slot, int intpin)
{
	if (slot < 0 || slot > 31 || intpin < 1 || intpin > 4)
		return -1;
	return VMM_IRQMAP_PCI_PIN0 + (slot + intpin - 1) % VMM_IRQMAP_PCI_NPINS;
}

#endif /* LHYVE_VMM_IRQMAP_H */
