/* test_guestmem.c - see test_guestmem.h. */
#include <stdlib.h>
#include <string.h>

#include "test_guestmem.h"

uint8_t *tg_ram;
int tg_msi_count, tg_intx_level, tg_intx_changes, tg_intx_pin;
uint64_t tg_msi_addr, tg_msi_data;

static void *
tg_gpa_map(struct bhyve_vm *bvm, uint64_t gpa, size_t len)
{
	if (gpa >= TG_RAM_SIZE || len > TG_RAM_SIZE - gpa)
		return NULL;
	return tg_ram + gpa;
}

static int
tg_msi(struct bhyve_vm *bvm, uint64_t addr, uint64_t data)
{
	__atomic_add_fetch(&tg_msi_count, 1, __ATOMIC_RELAXED);
	tg_msi_addr = addr;
	tg_msi_data = data;
	return 0;
}

static int
tg_pin(struct bhyve_vm *bvm, int pin, bool level)
{
	tg_intx_pin = pin;
	tg_intx_level = level;
	tg_intx_changes++;
	return 0;
}

void
tg_attach(struct bhyve_vm *bvm)
{
	if (tg_ram == NULL && (tg_ram = malloc(TG_RAM_SIZE)) == NULL)
		abort();
	memset(tg_ram, 0, TG_RAM_SIZE);
	tg_msi_count = tg_intx_level = tg_intx_changes = tg_intx_pin = 0;
	tg_msi_addr = tg_msi_data = 0;
	bvm->gpa_map = tg_gpa_map;
	bvm->msi = tg_msi;
	bvm->ioapic_pin = tg_pin;
}

uint64_t
tg_bar_read(struct pci_devinst *pi, int bar, uint64_t off, int size)
{
	return pi->pi_d->pe_barread(pi, bar, off, size);
}

void
tg_bar_write(struct pci_devinst *pi, int bar, uint64_t off, int size, uint64_t val)
{
	pi->pi_d->pe_barwrite(pi, bar, off, size, val);
}

void
tg_put_desc(uint64_t table, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = tg_ram + table + 16 * (uint64_t)i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

uint16_t
tg_get16(uint64_t gpa)
{
	return __atomic_load_n((uint16_t *)(void *)(tg_ram + gpa), __ATOMIC_ACQUIRE);
}

uint32_t
tg_get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, tg_ram + gpa, 4);
	return v;
}

void
tg_put16(uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)(tg_ram + gpa), v, __ATOMIC_RELEASE);
}
