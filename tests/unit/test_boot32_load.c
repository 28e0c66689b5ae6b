/*
 * test_boot32_load.c - bhyveload's 32-bit entries (bhyveload/boot32_load.c):
 * Xen PVH notes and hvm_start_info, Multiboot 1 headers (a.out kludge and
 * ELF32) and multiboot_info, on hand-built images.
 */
#include <elf.h>
#include <errno.h>

#include "kernel_load.h"
#include "test.h"

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* An ELF64 executable with one PT_LOAD and one PT_NOTE holding @notes. */
static size_t
make_elf64(uint8_t *b, const uint8_t *notes, size_t nlen)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_entry = 0x1000000;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = 0x1000;
	ph[0].p_paddr = 0x1000000;
	ph[0].p_filesz = 0x100;
	ph[0].p_memsz = 0x2000;
	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = 0x800;
	ph[1].p_filesz = nlen;
	memcpy(b, &eh, sizeof(eh));
	memcpy(b + sizeof(eh), ph, sizeof(ph));
	memcpy(b + 0x800, notes, nlen);
	return 0x1100;
}

static size_t
note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t dlen)
{
	uint32_t nlen = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	memcpy(p, &nlen, 4);
	memcpy(p + 4, &dlen, 4);
	memcpy(p + 8, &type, 4);
	memcpy(p + off, name, nlen);
	off += (nlen + 3) & ~3u;
	memcpy(p + off, desc, dlen);
	return off + ((dlen + 3) & ~3u);
}

TEST(pvh_note)
{
	static uint8_t b[0x1100], notes[256];
	struct kload_image img;
	const char *why = NULL;
	uint32_t entry = 0x1000850, other = 7;
	size_t n = 0, len;

	/* Notes of other owners and types come first, as in Linux's vmlinux. */
	n += note(notes + n, "Xen", 6, "linux", 6);
	n += note(notes + n, "GNU", 18, &other, 4);
	n += note(notes + n, "Xen", 18, &entry, 4);
	len = make_elf64(b, notes, n);
	REQUIRE(kload_parse_pvh(b, len, &img, &why) == 0);
	CHECK_EQ(img.entry, 0x1000850);
	CHECK_EQ(img.nsegs, 1);
	CHECK_EQ(img.seg[0].gpa, 0x1000000);
	/* Without the note: a plain ELF for the long-mode path. */
	len = make_elf64(b, notes, 28);
	CHECK(kload_parse_pvh(b, len, &img, &why) == -ENOEXEC);
	/* A note running past its segment. */
	n = note(notes, "Xen", 18, &entry, 4);
	memset(notes + 4, 0xff, 4);
	len = make_elf64(b, notes, n);
	CHECK(kload_parse_pvh(b, len, &img, &why) == -EINVAL);
}

TEST(pvh_start_info)
{
	struct kload_e820_entry m[16];
	struct kload_boot32_params p = { 0 };
	const char *why = NULL;
	uint8_t page[4096];

	p.cmdline_gpa = 0xa000;
	p.rsdp = 0xf2400;
	p.nmods = 1;
	p.mods[0] = (struct kload_module){ 0x1f000000, 0x4000, 0 };
	p.ne820 = kload_e820(512ULL << 20, 0, m, 16);
	p.e820 = m;
	REQUIRE(kload_pvh_start_info(&p, page, sizeof(page), 0x9000, &why) == 0);
	CHECK_EQ(get32(page), 0x336ec578);
	CHECK_EQ(get32(page + 4), 1);
	CHECK_EQ(get32(page + 12), 1);
	CHECK_EQ(get64(page + 16), 0x9000 + 56);
	CHECK_EQ(get64(page + 24), 0xa000);
	CHECK_EQ(get64(page + 32), 0xf2400);
	CHECK_EQ(get64(page + 40), 0x9000 + 56 + 32);
	CHECK_EQ(get32(page + 48), p.ne820);
	CHECK_EQ(get64(page + 56), 0x1f000000);
	CHECK_EQ(get64(page + 64), 0x4000);
	CHECK_EQ(get64(page + 88 + 24 * 2), 0x100000);
	CHECK(kload_pvh_start_info(&p, page, 100, 0x9000, &why) == -ENOSPC);
}

/* A flat image at 0x100000 with a Multiboot header (a.out kludge) at 0x40. */
static size_t
make_mb_kludge(uint8_t *b, uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	uint32_t h[8] = { 0x1badb002, 0x00010003, 0, 0x100040, 0x100000, load_end, bss_end, entry };

	h[2] = -(h[0] + h[1]);
	memset(b, 0x90, 0x1000);
	memcpy(b + 0x40, h, sizeof(h));
	return 0x1000;
}

TEST(multiboot_kludge)
{
	static uint8_t b[0x1000];
	struct kload_image img;
	const char *why = NULL;
	uint32_t flags;
	size_t len;

	len = make_mb_kludge(b, 0x100800, 0x102000, 0x100080);
	REQUIRE(kload_parse_multiboot(b, len, &img, &flags, &why) == 0);
	CHECK_EQ(flags, 0x00010003);
	CHECK_EQ(img.entry, 0x100080);
	CHECK_EQ(img.seg[0].gpa, 0x100000);
	CHECK_EQ(img.seg[0].file_off, 0);
	CHECK_EQ(img.seg[0].filesz, 0x800);
	CHECK_EQ(img.seg[0].memsz, 0x2000);
	/* load_end 0: the whole file; bss_end 0: no bss. */
	len = make_mb_kludge(b, 0, 0, 0x100080);
	REQUIRE(kload_parse_multiboot(b, len, &img, &flags, &why) == 0);
	CHECK_EQ(img.seg[0].filesz, 0x1000);
	CHECK_EQ(img.seg[0].memsz, 0x1000);
	/* Impossible: load past the file, bss below the load end, entry outside. */
	len = make_mb_kludge(b, 0x200000, 0, 0x100080);
	CHECK(kload_parse_multiboot(b, len, &img, &flags, &why) == -EINVAL);
	len = make_mb_kludge(b, 0x100800, 0x100400, 0x100080);
	CHECK(kload_parse_multiboot(b, len, &img, &flags, &why) == -EINVAL);
	len = make_mb_kludge(b, 0x100800, 0, 0x300000);
	CHECK(kload_parse_multiboot(b, len, &img, &flags, &why) == -EINVAL);
	/* A bad checksum is no header at all; unknown required flags refuse. */
	len = make_mb_kludge(b, 0, 0, 0x100080);
	b[0x48] ^= 1;
	CHECK(kload_parse_multiboot(b, len, &img, &flags, &why) == -ENOEXEC);
	uint32_t h[3] = { 0x1badb002, 0x00010010, 0 };
	h[2] = -(h[0] + h[1]);
	memcpy(b + 0x40, h, sizeof(h));
	CHECK(kload_parse_multiboot(b, len, &img, &flags, &why) == -EINVAL);
}

TEST(multiboot_elf32)
{
	static uint8_t b[0x2000];
	Elf32_Ehdr eh = { 0 };
	Elf32_Phdr ph = { 0 };
	struct kload_image img;
	const char *why = NULL;
	uint32_t flags, h[3] = { 0x1badb002, 0x3, 0 };

	h[2] = -(h[0] + h[1]);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_entry = 0x100010;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_offset = 0x1000;
	ph.p_paddr = 0x100000;
	ph.p_filesz = 0x1000;
	ph.p_memsz = 0x3000;
	memcpy(b, &eh, sizeof(eh));
	memcpy(b + sizeof(eh), &ph, sizeof(ph));
	memcpy(b + 0x1000, h, sizeof(h));
	REQUIRE(kload_parse_multiboot(b, sizeof(b), &img, &flags, &why) == 0);
	CHECK_EQ(img.entry, 0x100010);
	CHECK_EQ(img.seg[0].gpa, 0x100000);
	CHECK_EQ(img.seg[0].memsz, 0x3000);
	/* A segment reaching above 4 GiB. */
	ph.p_paddr = 0xfffff000;
	memcpy(b + sizeof(eh), &ph, sizeof(ph));
	CHECK(kload_parse_multiboot(b, sizeof(b), &img, &flags, &why) == -EINVAL);
}

TEST(multiboot_info)
{
	struct kload_e820_entry m[16];
	struct kload_boot32_params p = { 0 };
	const char *why = NULL;
	uint8_t page[4096];

	p.cmdline_gpa = 0xa000;
	p.nmods = 2;
	p.mods[0] = (struct kload_module){ 0x3000000, 0x10, 0xa100 };
	p.mods[1] = (struct kload_module){ 0x3001000, 0x20, 0xa200 };
	p.ne820 = kload_e820(64ULL << 20, 0, m, 16);
	p.e820 = m;
	p.loader_name = "lhyve";
	REQUIRE(kload_multiboot_info(&p, page, sizeof(page), 0x9000, &why) == 0);
	CHECK_EQ(get32(page) & 0x24d, 0x24d);
	CHECK_EQ(get32(page + 4), 639);
	CHECK_EQ(get32(page + 8), 63 * 1024);
	CHECK_EQ(get32(page + 16), 0xa000);
	CHECK_EQ(get32(page + 20), 2);
	CHECK_EQ(get32(page + 24), 0x9000 + 88);
	CHECK_EQ(get32(page + 88 + 16), 0x3001000);
	CHECK_EQ(get32(page + 88 + 16 + 4), 0x3001020);
	CHECK_EQ(get32(page + 88 + 16 + 8), 0xa200);
	CHECK_EQ(get32(page + 44), 24 * p.ne820);
	/* mmap entries: size 20, then base, length, type. */
	CHECK_EQ(get32(page + 88 + 32), 20);
	CHECK_EQ(get64(page + 88 + 32 + 24 * 2 + 4), 0x100000);
	CHECK(strcmp((char *)page + get32(page + 64) - 0x9000, "lhyve") == 0);
	p.mods[1].gpa = 0xfffff000;
	p.mods[1].len = 0x2000;
	CHECK(kload_multiboot_info(&p, page, sizeof(page), 0x9000, &why) == -EINVAL);
}
