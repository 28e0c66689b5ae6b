/*
 * acpi.c - the ACPI tables (ACPI 6.3, chapter 5), generated from the
 * machine map and written into the BIOS area at bhyve's addresses: the
 * RSDP at MACHINE_ACPI_RSDP, the other tables after it.
 *
 *	RSDP -> RSDT, XSDT -> FADT -> FACS, DSDT
 *	                      MADT, HPET (when the machine has one), MCFG
 *
 * The DSDT is built with the AML builder (acpi_aml.c).  Nothing here
 * touches guest memory but acpi_build(), which runs before any vCPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "acpi_aml.h"
#include "bhyve.h"
#include "config.h"
#include "pci_emul.h"
#include "pci_lpc.h"
#include "pm.h"
#include "vmmapi.h"

#define	ACPI_OEM_ID		"BHYVE "
#define	ACPI_CREATOR_ID		"LHYV"
#define	ACPI_HDR_LEN		36

#define	FADT_LEN		276	/* ACPI 6.3, Table 5-33 */
#define	FACS_LEN		64
#define	HPET_LEN		56
#define	MCFG_LEN		60
#define	RSDP_LEN		36

/* FADT Flags (Table 5-34) and IA-PC boot architecture flags (Table 5-35). */
#define	FADT_F_WBINVD		(1u << 0)
#define	FADT_F_PROC_C1		(1u << 2)
#define	FADT_F_SLP_BUTTON	(1u << 5)	/* no sleep button */
#define	FADT_F_TMR_VAL_EXT	(1u << 8)
#define	FADT_F_RESET_REG_SUP	(1u << 10)
#define	FADT_F_HEADLESS		(1u << 12)
#define	FADT_F_APIC_PHYSICAL	(1u << 19)
#define	FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define	FADT_BOOT_NO_VGA	(1u << 2)
#define	FADT_BOOT_NO_ASPM	(1u << 4)

/* Generic Address Structure (5.2.3.2): address space and access size. */
#define	GAS_MEMORY		0
#define	GAS_IO			1
#define	GAS_ACCESS_BYTE		1
#define	GAS_ACCESS_WORD		2
#define	GAS_ACCESS_DWORD	3

/* MADT structure types (5.2.12) and MPS INTI flags (Table 5-50). */
#define	MADT_LAPIC		0
#define	MADT_IOAPIC		1
#define	MADT_ISO		2
#define	MADT_LAPIC_NMI		4
#define	MADT_PCAT_COMPAT	1u
#define	INTI_HIGH_EDGE		0x0005
#define	INTI_HIGH_LEVEL		0x000d

static void
put8(uint8_t *p, uint8_t v)
{
	p[0] = v;
}

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

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t
acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len-- > 0)
		sum = (uint8_t)(sum + *p++);
	return (sum);
}

static void
acpi_fix_checksum(uint8_t *p, size_t len, size_t off)
{
	p[off] = 0;
	p[off] = (uint8_t)-acpi_checksum(p, len);
}

/* System Description Table Header (5.2.6); the checksum comes last. */
static void
acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev,
    const char *table_id)
{
	char oemtid[9];

	memset(t, 0, ACPI_HDR_LEN);
	memcpy(t, sig, 4);
	put32(t + 4, len);
	put8(t + 8, rev);
	memcpy(t + 10, ACPI_OEM_ID, 6);
	snprintf(oemtid, sizeof(oemtid), "%-8s", table_id);
	memcpy(t + 16, oemtid, 8);
	put32(t + 24, 1);			/* OEM revision */
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, 1);			/* creator revision */
}

static void
acpi_gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
	put8(p, space);
	put8(p + 1, bits);
	put8(p + 2, 0);
	put8(p + 3, access);
	put64(p + 4, addr);
}

/* FADT (5.2.9): fixed hardware from machine.h, pm.c's registers. */
static void
acpi_fadt(uint8_t *t, const struct acpi_layout *l)
{
	acpi_header(t, "FACP", FADT_LEN, 6, "BVFACP");
	memset(t + ACPI_HDR_LEN, 0, FADT_LEN - ACPI_HDR_LEN);
	/*
	 * The FACS through X_FIRMWARE_CTRL only: with both set, OSPM may
	 * install it twice (Linux does); FIRMWARE_CTRL is ignored then anyway.
	 * The DSDT through both DSDT and X_DSDT, as ACPI 1.0 OSes need the
	 * former.
	 */
	put32(t + 36, 0);
	put32(t + 40, (uint32_t)l->al_dsdt);
	put16(t + 46, MACHINE_IRQ_SCI);
	put32(t + 48, MACHINE_IO_SMI_CMD);
	put8(t + 52, MACHINE_ACPI_ENABLE);
	put8(t + 53, MACHINE_ACPI_DISABLE);
	put32(t + 56, MACHINE_IO_PM1A_EVT);
	put32(t + 64, MACHINE_IO_PM1A_CNT);
	put32(t + 76, MACHINE_IO_PM_TMR);
	put8(t + 88, 4);			/* PM1_EVT_LEN */
	put8(t + 89, 2);			/* PM1_CNT_LEN */
	put8(t + 91, 4);			/* PM_TMR_LEN */
	put16(t + 96, 101);			/* > 100: no C2 */
	put16(t + 98, 1001);			/* > 1000: no C3 */
	put8(t + 108, MACHINE_RTC_CENTURY);
	put16(t + 109, FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_NO_VGA |
	    FADT_BOOT_NO_ASPM);
	/*
	 * No PWR_BUTTON flag: the power button is the fixed-feature one
	 * (PM1 PWRBTN_STS/EN, pm.c), which OSPM handles without AML.
	 */
	put32(t + 112, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
	    FADT_F_TMR_VAL_EXT | FADT_F_RESET_REG_SUP | FADT_F_HEADLESS |
	    FADT_F_APIC_PHYSICAL);
	acpi_gas(t + 116, GAS_IO, 8, GAS_ACCESS_BYTE, MACHINE_IO_RESET_CNT);
	put8(t + 128, RST_CNT_SYS_RST | RST_CNT_RST_CPU);
	put8(t + 131, 3);			/* FADT minor version: 6.3 */
	put64(t + 132, l->al_facs);		/* X_FIRMWARE_CTRL */
	put64(t + 140, l->al_dsdt);		/* X_DSDT */
	acpi_gas(t + 148, GAS_IO, 32, GAS_ACCESS_WORD, MACHINE_IO_PM1A_EVT);
	acpi_gas(t + 172, GAS_IO, 16, GAS_ACCESS_WORD, MACHINE_IO_PM1A_CNT);
	acpi_gas(t + 208, GAS_IO, 32, GAS_ACCESS_DWORD, MACHINE_IO_PM_TMR);
	acpi_fix_checksum(t, FADT_LEN, 9);
}

/* FACS (5.2.10): no checksum; version 2; nothing waiting to wake. */
static void
acpi_facs(uint8_t *t)
{
	memset(t, 0, FACS_LEN);
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_LEN);
	put8(t + 32, 2);
}

/* MADT (5.2.12): one local APIC per vCPU, the I/O APIC, ISA overrides. */
static size_t
acpi_madt(uint8_t *t, const struct acpi_machine *m)
{
	size_t off = 44;
	int i;

	memset(t, 0, ACPI_HDR_LEN + 8);
	put32(t + 36, (uint32_t)MACHINE_LAPIC_BASE);
	put32(t + 40, MADT_PCAT_COMPAT);
	for (i = 0; i < m->am_ncpus; i++) {
		uint8_t *e = t + off;

		put8(e, MADT_LAPIC);
		put8(e + 1, 8);
		put8(e + 2, (uint8_t)i);	/* ACPI processor UID */
		put8(e + 3, (uint8_t)i);	/* APIC ID: the vCPU id */
		put32(e + 4, 1);		/* enabled */
		off += 8;
	}
	put8(t + off, MADT_IOAPIC);
	put8(t + off + 1, 12);
	put8(t + off + 2, MACHINE_IOAPIC_ID);
	put8(t + off + 3, 0);
	put32(t + off + 4, (uint32_t)MACHINE_IOAPIC_BASE);
	put32(t + off + 8, 0);			/* GSI base */
	off += 12;
	/* The PIT's IRQ 0 arrives on pin 2 (5.2.12.5). */
	put8(t + off, MADT_ISO);
	put8(t + off + 1, 10);
	put8(t + off + 2, 0);			/* ISA */
	put8(t + off + 3, MACHINE_IRQ_PIT);
	put32(t + off + 4, MACHINE_GSI_PIT);
	put16(t + off + 8, INTI_HIGH_EDGE);
	off += 10;
	/* The SCI is level triggered, active high (5.2.12.5). */
	put8(t + off, MADT_ISO);
	put8(t + off + 1, 10);
	put8(t + off + 2, 0);
	put8(t + off + 3, MACHINE_IRQ_SCI);
	put32(t + off + 4, MACHINE_IRQ_SCI);
	put16(t + off + 8, INTI_HIGH_LEVEL);
	off += 10;
	/* NMI on LINT1 of every processor (5.2.12.7). */
	put8(t + off, MADT_LAPIC_NMI);
	put8(t + off + 1, 6);
	put8(t + off + 2, 0xff);
	put16(t + off + 3, INTI_HIGH_EDGE);
	put8(t + off + 5, 1);
	off += 6;
	acpi_header(t, "APIC", (uint32_t)off, 5, "BVMADT");
	acpi_fix_checksum(t, off, 9);
	return (off);
}

/* HPET description table (IA-PC HPET 1.0a, 3.2.4). */
static void
acpi_hpet(uint8_t *t)
{
	acpi_header(t, "HPET", HPET_LEN, 1, "BVHPET");
	memset(t + ACPI_HDR_LEN, 0, HPET_LEN - ACPI_HDR_LEN);
	put32(t + 36, MACHINE_HPET_CAP_ID);
	acpi_gas(t + 40, GAS_MEMORY, 64, 0, MACHINE_HPET_BASE);
	put8(t + 52, 0);			/* HPET number */
	put16(t + 53, 0);			/* minimum clock tick */
	put8(t + 55, 0);			/* no page protection */
	acpi_fix_checksum(t, HPET_LEN, 9);
}

/* MCFG (PCI Firmware 3.0, 4.1.2): pci_emul.c's ECAM for buses 0-255. */
static void
acpi_mcfg(uint8_t *t)
{
	acpi_header(t, "MCFG", MCFG_LEN, 1, "BVMCFG");
	memset(t + ACPI_HDR_LEN, 0, MCFG_LEN - ACPI_HDR_LEN);
	put64(t + 44, MACHINE_PCI_ECFG_BASE);
	put16(t + 52, 0);			/* segment */
	put8(t + 54, 0);			/* first bus */
	put8(t + 55, (uint8_t)((MACHINE_PCI_ECFG_SIZE >> 20) - 1));
	acpi_fix_checksum(t, MCFG_LEN, 9);
}

/* Name (_CRS, ResourceTemplate () { ... }) opening and closing. */
static void
dsdt_crs_begin(struct aml *a)
{
	aml_name(a, "_CRS");
	aml_buffer_begin(a);
}

static void
dsdt_crs_end(struct aml *a)
{
	aml_res_end(a);
	aml_end(a);
}

/* A 16550 (PNP0501) behind the LPC bridge. */
static void
dsdt_com(struct aml *a, int unit)
{
	static const struct {
		const char	*name;
		uint16_t	port;
		unsigned	irq;
	} com[4] = {
		{ "COM1", MACHINE_IO_COM1, MACHINE_IRQ_COM1 },
		{ "COM2", MACHINE_IO_COM2, MACHINE_IRQ_COM2 },
		{ "COM3", MACHINE_IO_COM3, MACHINE_IRQ_COM3 },
		{ "COM4", MACHINE_IO_COM4, MACHINE_IRQ_COM4 },
	};

	aml_device_begin(a, com[unit].name);
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", (uint64_t)unit + 1);
	dsdt_crs_begin(a);
	aml_res_io(a, com[unit].port, com[unit].port, 1, 8);
	aml_res_irq_noflags(a, com[unit].irq);
	dsdt_crs_end(a);
	aml_end(a);
}

/* The LPC bridge's ISA devices (bhyve's pci_lpc.c DSDT). */
static void
dsdt_lpc(struct aml *a, const struct acpi_machine *m)
{
	int unit;

	aml_device_begin(a, "ISA");
	aml_name_integer(a, "_ADR",
	    (uint64_t)m->am_lpc_slot << 16 | (uint64_t)m->am_lpc_func);

	aml_device_begin(a, "PIC");
	aml_name_eisaid(a, "_HID", "PNP0000");
	dsdt_crs_begin(a);
	aml_res_io(a, MACHINE_IO_PIC1, MACHINE_IO_PIC1, 1, 2);
	aml_res_io(a, MACHINE_IO_PIC2, MACHINE_IO_PIC2, 1, 2);
	aml_res_io(a, MACHINE_IO_ELCR, MACHINE_IO_ELCR, 1, 2);
	aml_res_irq_noflags(a, MACHINE_IRQ_CASCADE);
	dsdt_crs_end(a);
	aml_end(a);

	aml_device_begin(a, "TIMR");
	aml_name_eisaid(a, "_HID", "PNP0100");
	dsdt_crs_begin(a);
	aml_res_io(a, MACHINE_IO_PIT, MACHINE_IO_PIT, 1, 4);
	aml_res_irq_noflags(a, MACHINE_IRQ_PIT);
	dsdt_crs_end(a);
	aml_end(a);

	aml_device_begin(a, "RTC");
	aml_name_eisaid(a, "_HID", "PNP0B00");
	dsdt_crs_begin(a);
	aml_res_io(a, MACHINE_IO_RTC, MACHINE_IO_RTC, 1, 2);
	aml_res_irq_noflags(a, MACHINE_IRQ_RTC);
	dsdt_crs_end(a);
	aml_end(a);

	for (unit = 0; unit < LPC_UART_NUM; unit++)
		if (m->am_com_mask & (1u << unit))
			dsdt_com(a, unit);
	aml_end(a);
}

/*
 * PCI0's _PRT (6.2.13) in APIC mode: every slot of bus 0, INTA#-INTD#,
 * to the I/O APIC pin machine_pci_intx_pin() gives.
 */
static void
dsdt_prt(struct aml *a)
{
	int slot, pin;

	aml_name(a, "_PRT");
	aml_package_begin(a, MAXSLOTS * 4);
	for (slot = 0; slot < MAXSLOTS; slot++) {
		for (pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);	/* any function */
			aml_integer(a, (uint64_t)pin);
			aml_integer(a, 0);	/* no link device: a GSI */
			aml_integer(a, (uint64_t)machine_pci_intx_pin(slot, pin + 1));
			aml_end(a);
		}
	}
	aml_end(a);
}

/* The host bridge: bus numbers, config ports, I/O and memory windows. */
static void
dsdt_pci0(struct aml *a, const struct acpi_machine *m)
{
	uint64_t mem64_end = m->am_mem64_base + MACHINE_PCI_MEM64_SIZE - 1;

	aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");		/* PCI Express */
	aml_name_eisaid(a, "_CID", "PNP0A03");		/* PCI */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	dsdt_crs_begin(a);
	aml_res_word_bus(a, 0, (uint16_t)((MACHINE_PCI_ECFG_SIZE >> 20) - 1));
	aml_res_io(a, MACHINE_IO_PCI_CONF1_ADDR, MACHINE_IO_PCI_CONF1_ADDR, 1, 8);
	/* Every other port goes down to the bus: ISA devices and BARs. */
	aml_res_word_io(a, 0, MACHINE_IO_PCI_CONF1_ADDR - 1);
	aml_res_word_io(a, MACHINE_IO_PCI_CONF1_ADDR + 8, MACHINE_PCI_IO_LIMIT - 1);
	aml_res_dword_mem(a, 0, (uint32_t)m->am_mem32_base,
	    (uint32_t)(MACHINE_PCI_MEM32_LIMIT - 1));
	aml_res_qword_mem(a, 1, m->am_mem64_base, mem64_end);
	dsdt_crs_end(a);
	dsdt_prt(a);
	if (m->am_lpc_slot >= 0)
		dsdt_lpc(a, m);
	aml_end(a);
}

int
acpi_dsdt_aml(const struct acpi_machine *m, uint8_t **amlp, size_t *lenp)
{
	struct aml a;
	int error;

	aml_init(&a);
	/* \_S5: SLP_TYP for PM1a and PM1b (7.4.2); pm.c powers off on 5. */
	aml_name(&a, "_S5");
	aml_package_begin(&a, 2);
	aml_integer(&a, PM_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_end(&a);
	/* \_PIC (5.8.1): only APIC mode has a _PRT; remember the choice. */
	aml_name_integer(&a, "PICM", 0);
	aml_method_begin(&a, "_PIC", 1, 0);
	aml_store(&a);
	aml_arg(&a, 0);
	aml_namestring(&a, "PICM");
	aml_end(&a);

	aml_scope_begin(&a, "\\_SB");
	dsdt_pci0(&a, m);

	if (m->am_hpet) {
		aml_device_begin(&a, "HPET");
		aml_name_eisaid(&a, "_HID", "PNP0103");
		aml_name_integer(&a, "_UID", 0);
		dsdt_crs_begin(&a);
		aml_res_memory32_fixed(&a, 0, (uint32_t)MACHINE_HPET_BASE,
		    MACHINE_HPET_SIZE);
		dsdt_crs_end(&a);
		aml_end(&a);
	}

	/* Motherboard resources: the ECAM window, which MCFG describes. */
	aml_device_begin(&a, "MRES");
	aml_name_eisaid(&a, "_HID", "PNP0C02");
	aml_name_integer(&a, "_UID", 0);
	dsdt_crs_begin(&a);
	aml_res_memory32_fixed(&a, 1, (uint32_t)MACHINE_PCI_ECFG_BASE,
	    (uint32_t)MACHINE_PCI_ECFG_SIZE);
	dsdt_crs_end(&a);
	aml_end(&a);

	if (m->am_fwcfg) {
		/* QEMU docs/specs/fw_cfg.rst, "ACPI Interface". */
		aml_device_begin(&a, "FWCF");
		aml_name_string(&a, "_HID", "QEMU0002");
		aml_name_integer(&a, "_STA", 0x0b);	/* present, enabled, not shown */
		dsdt_crs_begin(&a);
		aml_res_io(&a, MACHINE_IO_FWCFG, MACHINE_IO_FWCFG, 1, 2);
		aml_res_io(&a, MACHINE_IO_FWCFG_DMA, MACHINE_IO_FWCFG_DMA, 1, 8);
		dsdt_crs_end(&a);
		aml_end(&a);
	}
	aml_end(&a);

	error = aml_finish(&a);
	if (error != 0) {
		aml_free(&a);
		return (error);
	}
	*amlp = a.a_buf;
	*lenp = a.a_len;
	return (0);
}

/* Next table address: 16-byte aligned, as bhyve places them. */
static uint64_t
acpi_next(uint64_t addr, size_t len, uint64_t align)
{
	return ((addr + len + align - 1) & ~(align - 1));
}

int
acpi_tables_write(uint8_t *bios, const struct acpi_machine *m,
    struct acpi_layout *lp)
{
	const uint64_t base = MACHINE_BIOS_AREA_BASE;
	const uint64_t end = MACHINE_BIOS_AREA_BASE + MACHINE_BIOS_AREA_SIZE;
	struct acpi_layout l;
	uint64_t tables[4];
	uint8_t *aml = NULL, *t;
	size_t amllen, madtlen, i, n;
	int error;

	if (m->am_ncpus < 1 || m->am_ncpus > VM_MAXCPU)
		return (-EINVAL);
	error = acpi_dsdt_aml(m, &aml, &amllen);
	if (error != 0)
		return (error);

	l.al_rsdp = MACHINE_ACPI_RSDP;
	l.al_rsdt = acpi_next(l.al_rsdp, RSDP_LEN, 16);
	l.al_xsdt = acpi_next(l.al_rsdt, ACPI_HDR_LEN + 4 * 4, 16);
	l.al_fadt = acpi_next(l.al_xsdt, ACPI_HDR_LEN + 4 * 8, 16);
	l.al_facs = acpi_next(l.al_fadt, FADT_LEN, 64);	/* 64-byte aligned (5.2.10) */
	l.al_madt = acpi_next(l.al_facs, FACS_LEN, 16);
	madtlen = 44 + 8 * (size_t)m->am_ncpus + 12 + 10 + 10 + 6;
	l.al_hpet = m->am_hpet ? acpi_next(l.al_madt, madtlen, 16) : 0;
	l.al_mcfg = m->am_hpet ? acpi_next(l.al_hpet, HPET_LEN, 16) :
	    acpi_next(l.al_madt, madtlen, 16);
	l.al_dsdt = acpi_next(l.al_mcfg, MCFG_LEN, 16);
	l.al_end = l.al_dsdt + ACPI_HDR_LEN + amllen;
	if (l.al_end > end) {
		free(aml);
		return (-ENOSPC);
	}
	memset(bios + (l.al_rsdp - base), 0, l.al_end - l.al_rsdp);

	/* Root System Description Pointer (5.2.5.3), ACPI 2.0+ form. */
	t = bios + (l.al_rsdp - base);
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, ACPI_OEM_ID, 6);
	put8(t + 15, 2);
	put32(t + 16, (uint32_t)l.al_rsdt);
	put32(t + 20, RSDP_LEN);
	put64(t + 24, l.al_xsdt);
	acpi_fix_checksum(t, 20, 8);
	acpi_fix_checksum(t, RSDP_LEN, 32);

	n = 0;
	tables[n++] = l.al_fadt;
	tables[n++] = l.al_madt;
	if (m->am_hpet)
		tables[n++] = l.al_hpet;
	tables[n++] = l.al_mcfg;

	t = bios + (l.al_rsdt - base);
	acpi_header(t, "RSDT", (uint32_t)(ACPI_HDR_LEN + 4 * n), 1, "BVRSDT");
	for (i = 0; i < n; i++)
		put32(t + ACPI_HDR_LEN + 4 * i, (uint32_t)tables[i]);
	acpi_fix_checksum(t, ACPI_HDR_LEN + 4 * n, 9);

	t = bios + (l.al_xsdt - base);
	acpi_header(t, "XSDT", (uint32_t)(ACPI_HDR_LEN + 8 * n), 1, "BVXSDT");
	for (i = 0; i < n; i++)
		put64(t + ACPI_HDR_LEN + 8 * i, tables[i]);
	acpi_fix_checksum(t, ACPI_HDR_LEN + 8 * n, 9);

	acpi_fadt(bios + (l.al_fadt - base), &l);
	acpi_facs(bios + (l.al_facs - base));
	VERIFY(acpi_madt(bios + (l.al_madt - base), m) == madtlen);
	if (m->am_hpet)
		acpi_hpet(bios + (l.al_hpet - base));
	acpi_mcfg(bios + (l.al_mcfg - base));

	t = bios + (l.al_dsdt - base);
	acpi_header(t, "DSDT", (uint32_t)(ACPI_HDR_LEN + amllen), 2, "BVDSDT");
	memcpy(t + ACPI_HDR_LEN, aml, amllen);
	acpi_fix_checksum(t, ACPI_HDR_LEN + amllen, 9);
	free(aml);
	if (lp != NULL)
		*lp = l;
	return (0);
}

int
acpi_machine_describe(struct bhyve_vm *bvm, struct acpi_machine *m)
{
	uint64_t highend = VM_HIGHMEM_BASE;

	memset(m, 0, sizeof(*m));
	m->am_ncpus = bvm->ncpus > 0 ? bvm->ncpus : 1;
	m->am_mem32_base = MACHINE_PCI_MEM32_BASE;
	if (bvm->ctx != NULL) {
		m->am_mem32_base = vm_get_lowmem_limit(bvm->ctx);
		highend = vm_get_highmem_base(bvm->ctx) +
		    vm_get_highmem_size(bvm->ctx);
	}
	m->am_mem64_base = machine_pci_mem64_base(highend);
	m->am_hpet = MACHINE_HPET_PRESENT;
	m->am_lpc_slot = -1;
	m->am_lpc_func = 0;
	lpc_firmware_info(bvm, &m->am_lpc_slot, &m->am_lpc_func,
	    &m->am_com_mask, &m->am_fwcfg);
	return (0);
}

int
acpi_build(struct bhyve_vm *bvm)
{
	struct acpi_machine m;
	uint8_t *bios;
	int error;

	bios = vm_map_gpa(bvm->ctx, MACHINE_BIOS_AREA_BASE, MACHINE_BIOS_AREA_SIZE);
	if (bios == NULL) {
		fprintf(stderr, "bhyve: ACPI tables need guest RAM at %#llx-%#llx "
		    "(at least 1 MiB of memory)\n",
		    (unsigned long long)MACHINE_BIOS_AREA_BASE,
		    (unsigned long long)(MACHINE_BIOS_AREA_BASE +
		    MACHINE_BIOS_AREA_SIZE - 1));
		return (-1);
	}
	acpi_machine_describe(bvm, &m);
	error = acpi_tables_write(bios, &m, NULL);
	if (error != 0) {
		fprintf(stderr, "bhyve: cannot build the ACPI tables: %s\n",
		    strerror(-error));
		return (-1);
	}
	return (0);
}
