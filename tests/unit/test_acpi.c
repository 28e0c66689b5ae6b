/*
 * test_acpi.c - the AML builder's encodings, the ACPI tables for 1 and 4
 * vCPUs (checksums, lengths, pointers, contents), and Debian's acpica-tools
 * on them: `iasl -d` disassembles every table and `iasl` compiles the
 * disassembly back without errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "acpi.h"
#include "acpi_aml.h"
#include "bhyve.h"	/* bhyve/machine.h */

#define	AT(addr)	(bios + ((addr) - MACHINE_BIOS_AREA_BASE))

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static struct acpi_machine
machine(int ncpus)
{
	struct acpi_machine m = {
		.am_ncpus = ncpus,
		.am_mem32_base = MACHINE_PCI_MEM32_BASE,
		.am_mem64_base = machine_pci_mem64_base(VM_HIGHMEM_BASE),
		.am_lpc_slot = 31,
		.am_lpc_func = 0,
		.am_com_mask = 0x3,
		.am_fwcfg = true,
		.am_hpet = true,
	};
	return m;
}

/* --- the AML builder --- */

TEST(aml_integer_encodings)
{
	struct aml a;
	static const uint8_t want[] = {
		0x00, 0x01, 0x0a, 0x05, 0x0b, 0x34, 0x12,
		0x0c, 0x78, 0x56, 0x34, 0x12,
		0x0e, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	};

	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x0102030405060708ULL);
	CHECK_EQ(aml_finish(&a), 0);
	CHECK_EQ(a.a_len, sizeof(want));
	CHECK(a.a_len == sizeof(want) && memcmp(a.a_buf, want, sizeof(want)) == 0);
	aml_free(&a);
}

TEST(aml_names_and_eisaid)
{
	struct aml a;
	static const uint8_t want[] = {
		0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',	/* \_SB.PCI0 */
		'_', 'H', 'I', 'D',
		0x5e, 'I', 'S', 'A', '_',				/* ^ISA */
		0x2f, 3, 'A', '_', '_', '_', 'B', 'C', '_', '_', 'D', 'E', 'F', 'G',
		0x08, 'X', '_', '_', '_', 0x0d, 'h', 'i', 0,		/* Name (X, "hi") */
	};

	aml_init(&a);
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "_HID");
	aml_namestring(&a, "^ISA");
	aml_namestring(&a, "A.BC.DEFG");
	aml_name_string(&a, "X", "hi");
	CHECK_EQ(aml_finish(&a), 0);
	CHECK(a.a_len == sizeof(want) && memcmp(a.a_buf, want, sizeof(want)) == 0);
	aml_free(&a);

	CHECK_EQ(aml_eisaid_value("PNP0A03"), 0x030ad041);
	CHECK_EQ(aml_eisaid_value("PNP0501"), 0x0105d041);
	CHECK_EQ(aml_eisaid_value("pnp0501"), 0);
	CHECK_EQ(aml_eisaid_value("PNP05"), 0);

	/* Bad names stick as an error. */
	aml_init(&a);
	aml_namestring(&a, "TOOLONG");
	CHECK_EQ(aml_finish(&a), -EINVAL);
	aml_free(&a);
	aml_init(&a);
	aml_namestring(&a, "1ABC");
	CHECK_EQ(aml_finish(&a), -EINVAL);
	aml_free(&a);
}

/* PkgLength (20.2.4): one byte up to 63, then two bytes up to 4095. */
TEST(aml_pkglength)
{
	struct aml a;
	uint8_t fill[200];
	size_t total;

	memset(fill, 0xaa, sizeof(fill));
	aml_init(&a);
	aml_scope_begin(&a, "ABCD");		/* 4 bytes of name */
	aml_bytes(&a, fill, 58);		/* 62 + 1 = 63: one byte */
	aml_end(&a);
	CHECK_EQ(aml_finish(&a), 0);
	CHECK_EQ(a.a_len, 1 + 1 + 62);
	CHECK_EQ(a.a_buf[0], 0x10);
	CHECK_EQ(a.a_buf[1], 63);
	aml_free(&a);

	aml_init(&a);
	aml_scope_begin(&a, "ABCD");
	aml_bytes(&a, fill, 59);		/* 63 + 2 = 65: two bytes */
	aml_end(&a);
	CHECK_EQ(aml_finish(&a), 0);
	total = 63 + 2;
	CHECK_EQ(a.a_len, 1 + total);
	CHECK_EQ(a.a_buf[1], 0x40 | (total & 0xf));
	CHECK_EQ(a.a_buf[2], total >> 4);
	aml_free(&a);

	/* Buffer: PkgLength, then BufferSize, then the bytes. */
	aml_init(&a);
	aml_buffer_begin(&a);
	aml_bytes(&a, fill, 3);
	aml_end(&a);
	CHECK_EQ(aml_finish(&a), 0);
	{
		static const uint8_t want[] = { 0x11, 6, 0x0a, 3, 0xaa, 0xaa, 0xaa };
		CHECK(a.a_len == sizeof(want) && memcmp(a.a_buf, want, sizeof(want)) == 0);
	}
	aml_free(&a);

	/* An unclosed construct, or one closed twice, is an error. */
	aml_init(&a);
	aml_package_begin(&a, 0);
	CHECK_EQ(aml_finish(&a), -EINVAL);
	aml_free(&a);
	aml_init(&a);
	aml_end(&a);
	CHECK_EQ(aml_finish(&a), -EINVAL);
	aml_free(&a);
}

TEST(aml_resources)
{
	struct aml a;
	static const uint8_t io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08 };
	static const uint8_t irq[] = { 0x22, 0x10, 0x00 };
	static const uint8_t end[] = { 0x79, 0x00 };

	aml_init(&a);
	aml_res_io(&a, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&a, 4);
	aml_res_word_bus(&a, 0, 0xff);
	aml_res_dword_mem(&a, 0, 0xc0000000, 0xdfffffff);
	aml_res_qword_mem(&a, 1, 0x800000000ULL, 0xfffffffffULL);
	aml_res_end(&a);
	CHECK_EQ(aml_finish(&a), 0);
	REQUIRE(a.a_len == 8 + 3 + 16 + 26 + 46 + 2);
	CHECK(memcmp(a.a_buf, io, 8) == 0);
	CHECK(memcmp(a.a_buf + 8, irq, 3) == 0);
	/* WordBusNumber: length 13, bus type 2, 0x00-0xff, 256 buses. */
	CHECK_EQ(a.a_buf[11], 0x88);
	CHECK_EQ(a.a_buf[12], 13);
	CHECK_EQ(a.a_buf[14], 2);
	CHECK_EQ(a.a_buf[11 + 14] | a.a_buf[11 + 15] << 8, 0x100);
	/* DWordMemory: length 23, 0x20000000 bytes. */
	CHECK_EQ(a.a_buf[27], 0x87);
	CHECK_EQ(a.a_buf[28], 23);
	CHECK_EQ(get32(a.a_buf + 27 + 22), 0x20000000);
	/* QWordMemory: length 43, 32 GiB. */
	CHECK_EQ(a.a_buf[53], 0x8a);
	CHECK_EQ(a.a_buf[54], 43);
	CHECK_EQ(get64(a.a_buf + 53 + 38), 0x800000000ULL);
	CHECK(memcmp(a.a_buf + a.a_len - 2, end, 2) == 0);
	aml_free(&a);
}

/* --- the tables --- */

static void
check_table(const uint8_t *bios, uint64_t addr, const char *sig, uint32_t minlen)
{
	const uint8_t *t = AT(addr);
	uint32_t len = get32(t + 4);

	CHECK(addr >= MACHINE_ACPI_RSDP && addr < MACHINE_BIOS_AREA_BASE +
	    MACHINE_BIOS_AREA_SIZE);
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK(len >= minlen);
	CHECK(addr + len <= MACHINE_BIOS_AREA_BASE + MACHINE_BIOS_AREA_SIZE);
	CHECK(memcmp(t + 10, "BHYVE ", 6) == 0);
	if (acpi_checksum(t, len) != 0) {
		fprintf(stderr, "table %s: bad checksum\n", sig);
		test_failed_ = 1;
	}
}

static void
check_tables(int ncpus, bool hpet)
{
	struct acpi_machine m = machine(ncpus);
	struct acpi_layout l;
	uint8_t *bios, *t;
	uint32_t n, i;
	int nlapic = 0, niso = 0, nioapic = 0, nnmi = 0;
	uint32_t off, len;
	static const char *const with_hpet[] = { "FACP", "APIC", "HPET", "MCFG" };
	static const char *const without[] = { "FACP", "APIC", "MCFG" };
	const char *const *sigs = hpet ? with_hpet : without;

	bios = calloc(1, MACHINE_BIOS_AREA_SIZE);
	REQUIRE(bios != NULL);
	memset(bios, 0x5a, MACHINE_BIOS_AREA_SIZE);
	m.am_hpet = hpet;
	REQUIRE(acpi_tables_write(bios, &m, &l) == 0);
	CHECK(l.al_end <= MACHINE_BIOS_AREA_BASE + MACHINE_BIOS_AREA_SIZE);
	/* The MP table's space below the RSDP is not touched. */
	CHECK_EQ(bios[MACHINE_ACPI_RSDP - MACHINE_BIOS_AREA_BASE - 1], 0x5a);

	/* RSDP: both checksums, revision 2, length 36, XSDT and RSDT. */
	t = AT(MACHINE_ACPI_RSDP);
	CHECK(memcmp(t, "RSD PTR ", 8) == 0);
	CHECK_EQ(acpi_checksum(t, 20), 0);
	CHECK_EQ(acpi_checksum(t, 36), 0);
	CHECK_EQ(t[15], 2);
	CHECK_EQ(get32(t + 20), 36);
	CHECK_EQ(get32(t + 16), l.al_rsdt);
	CHECK_EQ(get64(t + 24), l.al_xsdt);

	check_table(bios, l.al_xsdt, "XSDT", 36);
	check_table(bios, l.al_rsdt, "RSDT", 36);
	n = (get32(AT(l.al_xsdt) + 4) - 36) / 8;
	CHECK_EQ(n, hpet ? 4 : 3);
	CHECK_EQ((get32(AT(l.al_rsdt) + 4) - 36) / 4, n);
	for (i = 0; i < n && i < (hpet ? 4u : 3u); i++) {
		uint64_t a = get64(AT(l.al_xsdt) + 36 + 8 * i);

		CHECK_EQ(get32(AT(l.al_rsdt) + 36 + 4 * i), a);
		check_table(bios, a, sigs[i], 36);
	}

	/* FADT: revision 6, 276 bytes, its pointers and fixed hardware. */
	t = AT(l.al_fadt);
	CHECK_EQ(get32(t + 4), 276);
	CHECK_EQ(t[8], 6);
	CHECK_EQ(get32(t + 36), 0);			/* FACS via X_ only */
	CHECK_EQ(get32(t + 40), l.al_dsdt);
	CHECK_EQ(get64(t + 132), l.al_facs);
	CHECK_EQ(get64(t + 140), l.al_dsdt);
	CHECK_EQ(t[46], MACHINE_IRQ_SCI);
	CHECK_EQ(get32(t + 48), MACHINE_IO_SMI_CMD);
	CHECK_EQ(t[52], MACHINE_ACPI_ENABLE);
	CHECK_EQ(t[53], MACHINE_ACPI_DISABLE);
	CHECK_EQ(get32(t + 56), MACHINE_IO_PM1A_EVT);
	CHECK_EQ(get32(t + 64), MACHINE_IO_PM1A_CNT);
	CHECK_EQ(get32(t + 76), MACHINE_IO_PM_TMR);
	CHECK_EQ(t[108], 0x32);
	CHECK(get32(t + 112) & (1u << 10));		/* RESET_REG_SUP */
	CHECK(!(get32(t + 112) & (1u << 4)));		/* fixed power button */
	CHECK(!(get32(t + 112) & (1u << 20)));		/* not hardware-reduced */
	CHECK(get32(t + 112) & (1u << 8));		/* 32-bit PM timer */
	CHECK_EQ(t[116], 1);				/* reset reg in I/O space */
	CHECK_EQ(get64(t + 120), 0xcf9);
	CHECK_EQ(t[128], 6);
	CHECK_EQ(get64(t + 148 + 4), MACHINE_IO_PM1A_EVT);
	CHECK_EQ(get64(t + 172 + 4), MACHINE_IO_PM1A_CNT);
	CHECK_EQ(get64(t + 208 + 4), MACHINE_IO_PM_TMR);

	/* FACS: 64-byte aligned, 64 bytes. */
	CHECK_EQ(l.al_facs % 64, 0);
	CHECK(memcmp(AT(l.al_facs), "FACS", 4) == 0);
	CHECK_EQ(get32(AT(l.al_facs) + 4), 64);

	/* DSDT. */
	check_table(bios, l.al_dsdt, "DSDT", 37);
	CHECK_EQ(AT(l.al_dsdt)[8], 2);

	/* MADT: a local APIC per vCPU, the I/O APIC, two overrides, LINT1 NMI. */
	t = AT(l.al_madt);
	len = get32(t + 4);
	CHECK_EQ(get32(t + 36), MACHINE_LAPIC_BASE);
	CHECK_EQ(get32(t + 40), 1);			/* PCAT_COMPAT */
	for (off = 44; off + 2 <= len; off += t[off + 1]) {
		REQUIRE(t[off + 1] >= 2);
		switch (t[off]) {
		case 0:
			CHECK_EQ(t[off + 3], nlapic);
			CHECK_EQ(get32(t + off + 4), 1);
			nlapic++;
			break;
		case 1:
			CHECK_EQ(get32(t + off + 4), MACHINE_IOAPIC_BASE);
			CHECK_EQ(get32(t + off + 8), 0);
			nioapic++;
			break;
		case 2:
			if (t[off + 3] == 0)
				CHECK_EQ(get32(t + off + 4), 2);
			else {
				CHECK_EQ(t[off + 3], 9);
				CHECK_EQ(get32(t + off + 4), 9);
				CHECK_EQ(t[off + 8], 0x0d);	/* level, high */
			}
			niso++;
			break;
		case 4:
			CHECK_EQ(t[off + 5], 1);
			nnmi++;
			break;
		default:
			CHECK(0);
		}
	}
	CHECK_EQ(off, len);
	CHECK_EQ(nlapic, ncpus);
	CHECK_EQ(nioapic, 1);
	CHECK_EQ(niso, 2);
	CHECK_EQ(nnmi, 1);

	/* HPET and MCFG. */
	if (hpet) {
		t = AT(l.al_hpet);
		CHECK_EQ(get32(t + 36), MACHINE_HPET_CAP_ID);
		CHECK_EQ(get64(t + 44), MACHINE_HPET_BASE);
	} else
		CHECK_EQ(l.al_hpet, 0);
	t = AT(l.al_mcfg);
	CHECK_EQ(get32(t + 4), 60);
	CHECK_EQ(get64(t + 44), MACHINE_PCI_ECFG_BASE);
	CHECK_EQ(t[55], 255);
	free(bios);
}

TEST(tables_1cpu)
{
	check_tables(1, true);
}

TEST(tables_4cpus)
{
	check_tables(4, true);
}

/* Without an HPET (MACHINE_HPET_PRESENT 0): no HPET table. */
TEST(tables_without_hpet)
{
	check_tables(2, false);
}

TEST(tables_16cpus_fit_and_bad_counts)
{
	struct acpi_machine m = machine(VM_MAXCPU);
	uint8_t *bios = calloc(1, MACHINE_BIOS_AREA_SIZE);

	REQUIRE(bios != NULL);
	CHECK_EQ(acpi_tables_write(bios, &m, NULL), 0);
	m.am_ncpus = 0;
	CHECK_EQ(acpi_tables_write(bios, &m, NULL), -EINVAL);
	m.am_ncpus = VM_MAXCPU + 1;
	CHECK_EQ(acpi_tables_write(bios, &m, NULL), -EINVAL);
	free(bios);
}

/* The DSDT names what exists: no LPC bridge, no ISA devices. */
TEST(dsdt_follows_the_machine)
{
	struct acpi_machine m = machine(1);
	uint8_t *aml;
	size_t len;

	REQUIRE(acpi_dsdt_aml(&m, &aml, &len) == 0);
	CHECK(memmem(aml, len, "COM1", 4) != NULL);
	CHECK(memmem(aml, len, "COM2", 4) != NULL);
	CHECK(memmem(aml, len, "COM3", 4) == NULL);
	CHECK(memmem(aml, len, "FWCF", 4) != NULL);
	CHECK(memmem(aml, len, "RTC_", 4) != NULL);
	free(aml);

	m.am_lpc_slot = -1;
	m.am_fwcfg = false;
	REQUIRE(acpi_dsdt_aml(&m, &aml, &len) == 0);
	CHECK(memmem(aml, len, "COM1", 4) == NULL);
	CHECK(memmem(aml, len, "ISA_", 4) == NULL);
	CHECK(memmem(aml, len, "FWCF", 4) == NULL);
	CHECK(memmem(aml, len, "PCI0", 4) != NULL);
	CHECK(memmem(aml, len, "HPET", 4) != NULL);
	free(aml);

	m.am_hpet = false;
	REQUIRE(acpi_dsdt_aml(&m, &aml, &len) == 0);
	CHECK(memmem(aml, len, "HPET", 4) == NULL);
	free(aml);
}

/* --- acpica-tools --- */

static int
run(const char *dir, const char *const argv[], const char *log)
{
	pid_t pid = fork();
	int status, fd;

	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(127);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
have_tool(const char *tool)
{
	const char *path = getenv("PATH");
	char buf[4096], *p, *save = NULL;

	if (path == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = strtok_r(buf, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
		char f[4200];

		snprintf(f, sizeof(f), "%s/%s", p, tool);
		if (access(f, X_OK) == 0)
			return 1;
	}
	return 0;
}

static void
dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	fp = fopen(path, "wb");
	REQUIRE(fp != NULL);
	CHECK_EQ(fwrite(p, 1, len, fp), len);
	fclose(fp);
}

static void
iasl_roundtrip(int ncpus)
{
	/*
	 * Not the RSDP: iasl takes it for a table header whose length is
	 * "PTR " and refuses the file; the checks above cover it.
	 */
	static const char *const names[] = { "xsdt", "rsdt", "facp",
	    "facs", "dsdt", "apic", "hpet", "mcfg" };
	struct acpi_machine m = machine(ncpus);
	struct acpi_layout l;
	char dir[] = "/tmp/lhyve-acpi.XXXXXX", log[600], cmd[700], dsl[64];
	uint8_t *bios;
	uint64_t addr[8];
	size_t i;

	if (!have_tool("iasl"))
		SKIP("iasl (Debian's acpica-tools) is not installed");
	bios = calloc(1, MACHINE_BIOS_AREA_SIZE);
	REQUIRE(bios != NULL);
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(acpi_tables_write(bios, &m, &l) == 0);
	addr[0] = l.al_xsdt; addr[1] = l.al_rsdt; addr[2] = l.al_fadt;
	addr[3] = l.al_facs; addr[4] = l.al_dsdt; addr[5] = l.al_madt;
	addr[6] = l.al_hpet; addr[7] = l.al_mcfg;
	for (i = 0; i < 8; i++) {
		size_t len = get32(AT(addr[i]) + 4);
		dump(dir, names[i], AT(addr[i]), len);
	}
	snprintf(log, sizeof(log), "%s/iasl.log", dir);
	for (i = 0; i < 8; i++) {
		char dat[64];
		const char *dis[] = { "iasl", "-d", dat, NULL };
		const char *comp[] = { "iasl", dsl, NULL };

		snprintf(dat, sizeof(dat), "%s.dat", names[i]);
		snprintf(dsl, sizeof(dsl), "%s.dsl", names[i]);
		if (run(dir, dis, log) != 0) {
			fprintf(stderr, "iasl -d %s failed\n", dat);
			test_failed_ = 1;
			continue;
		}
		/* Everything disassembled compiles back, with no errors. */
		if (run(dir, comp, log) != 0) {
			fprintf(stderr, "iasl %s failed\n", dsl);
			test_failed_ = 1;
		}
	}
	/* iasl -d reports what it did not like as "Error"/"Warning" lines too. */
	snprintf(cmd, sizeof(cmd), "grep -iE '(^|[^a-z])error([^s]|$)|[1-9][0-9]* Errors' %s >&2", log);
	if (system(cmd) == 0) {
		fprintf(stderr, "iasl reported errors (log in %s)\n", log);
		test_failed_ = 1;
	}
	/* The disassembled DSDT says what the machine has. */
	snprintf(cmd, sizeof(cmd), "grep -q 'PNP0A08' %s/dsdt.dsl && grep -q 'PNP0501' %s/dsdt.dsl"
	    " && grep -q 'QEMU0002' %s/dsdt.dsl && grep -q '_S5_' %s/dsdt.dsl", dir, dir, dir, dir);
	CHECK(system(cmd) == 0);
	if (!test_failed_) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	free(bios);
}

TEST(iasl_roundtrip_1cpu)
{
	iasl_roundtrip(1);
}

TEST(iasl_roundtrip_4cpus)
{
	iasl_roundtrip(4);
}

/*
 * acpiexec (acpica-tools) loads the DSDT into ACPICA's interpreter, as an
 * OS does, and evaluates what OSPM evaluates: \_PIC, \_S5, PCI0's _CRS
 * and _PRT, a COM port's _CRS.  No AE_ status or error may come out.
 */
TEST(acpiexec_evaluates_the_dsdt)
{
	struct acpi_machine m = machine(2);
	char dir[] = "/tmp/lhyve-acpiexec.XXXXXX", cmd[1024], out[64];
	struct acpi_layout l;
	uint8_t *bios;

	if (!have_tool("acpiexec"))
		SKIP("acpiexec (Debian's acpica-tools) is not installed");
	bios = calloc(1, MACHINE_BIOS_AREA_SIZE);
	REQUIRE(bios != NULL);
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(acpi_tables_write(bios, &m, &l) == 0);
	dump(dir, "dsdt", AT(l.al_dsdt), get32(AT(l.al_dsdt) + 4));
	free(bios);
	snprintf(out, sizeof(out), "%s/acpiexec.out", dir);
	snprintf(cmd, sizeof(cmd), "cd %s && acpiexec -b 'evaluate \\_PIC 1;"
	    "evaluate \\PICM;evaluate \\_S5;evaluate \\_SB.PCI0._CRS;"
	    "evaluate \\_SB.PCI0._PRT;evaluate \\_SB.PCI0.ISA.COM1._CRS;"
	    "evaluate \\_SB.FWCF._STA' dsdt.dat >%s 2>&1", dir, out);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "grep -E 'AE_|[Ee]rror|[Ee]xception' %s >&2", out);
	CHECK(system(cmd) != 0);
	/* Each evaluation answered, with what the machine has. */
	snprintf(cmd, sizeof(cmd), "test $(grep -c '^Evaluation of .* returned object' %s) = 6 &&"
	    " grep -q 'Contains 128 Elements' %s &&"
	    " grep -q '\\[Integer\\] = 0000000000000001' %s &&"
	    " grep -q '47 01 F8 03 F8 03 01 08 22 10 00 79' %s", out, out, out, out);
	if (system(cmd) != 0) {
		fprintf(stderr, "acpiexec did not answer as expected (%s)\n", out);
		test_failed_ = 1;
	}
	if (!test_failed_) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
}
