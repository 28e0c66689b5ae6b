/*
 * mptable.h - the Intel MultiProcessor Specification 1.4 table bhyve
 * writes at the base of the BIOS area unless -Y.
 */
#ifndef LHYVE_MPTABLE_H
#define LHYVE_MPTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct acpi_machine;
struct bhyve_vm;

/*
 * Writes the floating pointer and the configuration table into bios (a
 * host view of [MACHINE_BIOS_AREA_BASE, + MACHINE_BIOS_AREA_SIZE)),
 * within [MACHINE_MPTABLE_BASE, + MACHINE_MPTABLE_SIZE).  Returns the
 * bytes used, or -errno.
 */
ssize_t	mptable_write(uint8_t *bios, const struct acpi_machine *m);

/* Into the guest's memory; one line on stderr on failure. */
int	mptable_build(struct bhyve_vm *bvm);

#endif /* LHYVE_MPTABLE_H */
