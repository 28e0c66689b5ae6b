/*
 * test_mptable.c - the MP table (MP spec 1.4) for 1 and 4 vCPUs: the
 * floating pointer, both checksums, the entry count and every entry.
 */
#include <errno.h>
#include <stdint.h>

#include "test.h"
#include "acpi.h"
#include "bhyve.h"	/* bhyve/machine.h */
#include "mptable.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint8_t
sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n-- > 0)
		s = (uint8_t)(s + *p++);
	return s;
}

static void
check_mptable(int ncpus)
{
	struct acpi_machine m = { .am_ncpus = ncpus, .am_lpc_slot = 31 };
	uint8_t *bios = calloc(1, MACHINE_BIOS_AREA_SIZE), *fp, *ct, *e;
	int count, i, nproc = 0, nbus = 0, nioapic = 0, nioint = 0, nlint = 0;
	int pci_slot3_pinb = -1, isa0 = -1, sci_flags = -1, nbsp = 0;
	ssize_t n;
	uint16_t len;

	REQUIRE(bios != NULL);
	memset(bios, 0x5a, MACHINE_BIOS_AREA_SIZE);
	n = mptable_write(bios, &m);
	REQUIRE(n > 0);
	CHECK(MACHINE_MPTABLE_BASE + (uint64_t)n <= MACHINE_ACPI_RSDP);
	CHECK_EQ(bios[n], 0x5a);		/* nothing past what it says */

	fp = bios + (MACHINE_MPTABLE_BASE - MACHINE_BIOS_AREA_BASE);
	CHECK(memcmp(fp, "_MP_", 4) == 0);
	CHECK_EQ(sum(fp, 16), 0);
	CHECK_EQ(fp[8], 1);
	CHECK_EQ(fp[9], 4);
	CHECK_EQ(fp[11], 0);			/* a table, not a default config */
	REQUIRE(get32(fp + 4) >= MACHINE_MPTABLE_BASE + 16 &&
	    get32(fp + 4) < MACHINE_ACPI_RSDP);
	ct = bios + (get32(fp + 4) - MACHINE_BIOS_AREA_BASE);
	CHECK(memcmp(ct, "PCMP", 4) == 0);
	len = (uint16_t)(ct[4] | ct[5] << 8);
	CHECK_EQ(sum(ct, len), 0);
	CHECK_EQ(ct[6], 4);
	CHECK_EQ(get32(ct + 36), MACHINE_LAPIC_BASE);
	count = ct[34] | ct[35] << 8;

	e = ct + 44;
	for (i = 0; i < count; i++) {
		REQUIRE(e < ct + len);
		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], nproc);
			CHECK(e[3] & 1);
			nbsp += (e[3] & 2) != 0;
			nproc++;
			e += 20;
			break;
		case 1:
			nbus++;
			e += 8;
			break;
		case 2:
			CHECK_EQ(get32(e + 4), MACHINE_IOAPIC_BASE);
			nioapic++;
			e += 8;
			break;
		case 3:
			if (e[4] == 0 && e[5] == (3 << 2 | 1))
				pci_slot3_pinb = e[7];
			if (e[4] == 1 && e[5] == 0 && e[1] == 0)
				isa0 = e[7];
			if (e[4] == 1 && e[5] == 9)
				sci_flags = e[2];
			CHECK(e[7] < MACHINE_IOAPIC_NPINS);
			nioint++;
			e += 8;
			break;
		case 4:
			nlint++;
			e += 8;
			break;
		default:
			CHECK(0);
			return;
		}
	}
	CHECK(e == ct + len);
	CHECK_EQ(nproc, ncpus);
	CHECK_EQ(nbsp, 1);
	CHECK_EQ(nbus, 2);
	CHECK_EQ(nioapic, 1);
	CHECK_EQ(nioint, 16 + 32 * 4);
	CHECK_EQ(nlint, 2);
	CHECK_EQ(isa0, 2);
	CHECK_EQ(sci_flags, 0x0d);
	CHECK_EQ(pci_slot3_pinb, machine_pci_intx_pin(3, 2));
	CHECK_EQ(pci_slot3_pinb, 16 + 4);
	free(bios);
}

TEST(mptable_1cpu)
{
	check_mptable(1);
}

TEST(mptable_4cpus)
{
	check_mptable(4);
}

TEST(mptable_bad_counts)
{
	struct acpi_machine m = { .am_ncpus = 0 };
	uint8_t *bios = calloc(1, MACHINE_BIOS_AREA_SIZE);

	REQUIRE(bios != NULL);
	CHECK_EQ(mptable_write(bios, &m), -EINVAL);
	m.am_ncpus = VM_MAXCPU;
	CHECK(mptable_write(bios, &m) > 0);
	free(bios);
}
