/*
 * acpi.h - the ACPI tables bhyve writes into the BIOS area at start-up
 * (-A, on by default), and the description of the machine they and the MP
 * table (mptable.h) are generated from.
 */
#ifndef LHYVE_ACPI_H
#define LHYVE_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bhyve_vm;

/* What the firmware tables describe; everything else comes from machine.h. */
struct acpi_machine {
	int		am_ncpus;
	uint64_t	am_mem32_base;	/* 32-bit PCI window: [base, ECAM) */
	uint64_t	am_mem64_base;	/* 64-bit PCI window, MACHINE_PCI_MEM64_SIZE */
	int		am_lpc_slot;	/* the LPC bridge on bus 0; -1: none */
	int		am_lpc_func;
	unsigned	am_com_mask;	/* bit N: COM(N+1) has a backend (-l) */
	bool		am_fwcfg;	/* QEMU's fw_cfg ports (-l fwcfg,qemu) */
	bool		am_hpet;	/* the HPET at MACHINE_HPET_BASE answers */
};

/*
 * Table addresses, all inside the BIOS area (filled by acpi_tables_write);
 * al_hpet is 0 without an HPET.
 */
struct acpi_layout {
	uint64_t	al_rsdp, al_rsdt, al_xsdt, al_fadt, al_facs, al_dsdt;
	uint64_t	al_madt, al_hpet, al_mcfg, al_end;
};

/* The machine bhyve_devices_init() built. */
int	acpi_machine_describe(struct bhyve_vm *bvm, struct acpi_machine *m);

/*
 * Writes RSDP, RSDT, XSDT, FADT, FACS, MADT, HPET (with am_hpet), MCFG
 * and DSDT into bios, a host view of guest-physical [MACHINE_BIOS_AREA_BASE,
 * + MACHINE_BIOS_AREA_SIZE), from MACHINE_ACPI_RSDP on.  0 or -errno.
 */
int	acpi_tables_write(uint8_t *bios, const struct acpi_machine *m,
	    struct acpi_layout *layout);

/* The DSDT's AML body alone, for tests (malloc'd into *aml). */
int	acpi_dsdt_aml(const struct acpi_machine *m, uint8_t **aml, size_t *len);

/* Into the guest's memory; one line on stderr on failure. */
int	acpi_build(struct bhyve_vm *bvm);

/* Sum of the bytes, mod 256 (a valid table sums to 0; ACPI 6.x, 5.2.6). */
uint8_t	acpi_checksum(const uint8_t *p, size_t len);

#endif /* LHYVE_ACPI_H */
