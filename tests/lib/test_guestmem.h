/*
 * test_guestmem.h - a fake guest for device tests: RAM the devices reach
 * through bvm->gpa_map, and the interrupt hooks (bvm->msi, ioapic_pin)
 * counting what the devices raise; plus the small things a virtio test
 * driver does (BAR accesses, descriptors, little-endian fields in RAM).
 */
#ifndef LHYVE_TEST_GUESTMEM_H
#define LHYVE_TEST_GUESTMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "bhyve.h"
#include "pci_emul.h"

#define TG_RAM_SIZE	(16u << 20)

/* The fake guest: one per test binary, reset by tg_attach. */
extern uint8_t *tg_ram;
extern int tg_msi_count, tg_intx_level, tg_intx_changes, tg_intx_pin;
extern uint64_t tg_msi_addr, tg_msi_data;

/* Zeroed RAM and counters, and @bvm's gpa_map/msi/ioapic_pin hooks. */
void	tg_attach(struct bhyve_vm *bvm);

/* A function's BAR, as the guest driver reaches it. */
uint64_t tg_bar_read(struct pci_devinst *pi, int bar, uint64_t off, int size);
void	tg_bar_write(struct pci_devinst *pi, int bar, uint64_t off, int size, uint64_t val);

/* A split-ring descriptor (virtio 1.2, 2.7.5) in table @table, entry @i. */
void	tg_put_desc(uint64_t table, int i, uint64_t addr, uint32_t len, uint16_t flags,
	    uint16_t next);
uint16_t tg_get16(uint64_t gpa);
uint32_t tg_get32(uint64_t gpa);
void	tg_put16(uint64_t gpa, uint16_t v);

#endif /* LHYVE_TEST_GUESTMEM_H */
