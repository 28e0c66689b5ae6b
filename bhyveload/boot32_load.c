/*
 * boot32_load.c - the two ways to enter a kernel in 32-bit protected mode
 * with paging off: Xen's PVH boot ABI (an ELF note names the 32-bit entry;
 * the kernel gets a struct hvm_start_info: xen/include/public/arch-x86/hvm/
 * start_info.h, docs/misc/pvh.pandoc) and Multiboot 1 (the Multiboot
 * Specification 0.6.96: a header in the first 8 KiB, a multiboot_info
 * structure).  QEMU, Firecracker and GRUB load kernels these ways, and
 * hypervisor test suites are Multiboot kernels.
 *
 * Pure functions over buffers, fuzzed in tests/fuzz/fuzz_boot32.c.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "kernel_load.h"

#define XEN_ELFNOTE_PHYS32_ENTRY	18

/* Walk the notes in [off, off + len) of @buf for Xen's PHYS32_ENTRY. */
static int
find_pvh_note(const uint8_t *buf, size_t len, uint64_t off, uint64_t sz, uint32_t *entry)
{
	uint64_t pos = off, end;

	if (off > len || sz > len - off)
		return -EINVAL;
	end = off + sz;
	while (end - pos >= 12) {
		uint32_t namesz = kload_rd32(buf + pos), descsz = kload_rd32(buf + pos + 4);
		uint32_t type = kload_rd32(buf + pos + 8);
		uint64_t name = pos + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ULL);

		if (next > end || desc > end)
			return -EINVAL;
		if (namesz == 4 && memcmp(buf + name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY && (descsz == 4 || descsz == 8)) {
			*entry = kload_rd32(buf + desc);
			return 0;
		}
		pos = next;
	}
	return -ENOENT;
}

int
kload_parse_pvh(const uint8_t *buf, size_t len, struct kload_image *img, const char **why)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint32_t entry = 0;
	int i, found = 0, error;

	if ((error = kload_parse_elf(buf, len, img, why)) != 0)
		return error;
	memcpy(&eh, buf, sizeof(eh));	/* validated by kload_parse_elf */
	for (i = 0; i < eh.e_phnum && !found; i++) {
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE)
			continue;
		error = find_pvh_note(buf, len, ph.p_offset, ph.p_filesz, &entry);
		if (error == -EINVAL) {
			*why = "ELF note segment is malformed";
			return -EINVAL;
		}
		found = error == 0;
	}
	if (!found) {
		*why = "no Xen PVH entry note";
		return -ENOEXEC;
	}
	img->entry = entry;
	return 0;
}

int
kload_pvh_start_info(const struct kload_boot32_params *p, uint8_t *page, size_t cap,
    uint64_t page_gpa, const char **why)
{
	/* start_info (56 bytes), the module list (32 each), then the memory map. */
	size_t mods = 56, map = mods + 32 * (size_t)p->nmods, need = map + 24 * (size_t)p->ne820;
	int i;

	if (p->ne820 < 0 || p->nmods < 0 || p->nmods > KLOAD_MAX_MODS || need > cap) {
		*why = "modules and memory map do not fit in the start_info page";
		return -ENOSPC;
	}
	memset(page, 0, need);
	kload_wr32(page + 0, 0x336ec578);		/* XEN_HVM_START_MAGIC_VALUE */
	kload_wr32(page + 4, 1);			/* version 1: with the memory map */
	kload_wr32(page + 12, (uint32_t)p->nmods);
	kload_wr64(page + 16, p->nmods ? page_gpa + mods : 0);
	kload_wr64(page + 24, p->cmdline_gpa);
	kload_wr64(page + 32, p->rsdp);
	kload_wr64(page + 40, page_gpa + map);
	kload_wr32(page + 48, (uint32_t)p->ne820);
	for (i = 0; i < p->nmods; i++) {
		uint8_t *m = page + mods + 32 * i;
		kload_wr64(m, p->mods[i].gpa);
		kload_wr64(m + 8, p->mods[i].len);
		kload_wr64(m + 16, p->mods[i].cmdline_gpa);
	}
	for (i = 0; i < p->ne820; i++) {
		uint8_t *e = page + map + 24 * i;
		kload_wr64(e, p->e820[i].addr);
		kload_wr64(e + 8, p->e820[i].len);
		kload_wr32(e + 16, p->e820[i].type);
	}
	return 0;
}

/* ---- Multiboot 1 ---- */

#define MB_MAGIC		0x1badb002u
#define MB_SEARCH		8192
#define MB_PAGE_ALIGN		0x00000001u	/* modules on 4 KiB boundaries */
#define MB_MEMORY_INFO		0x00000002u
#define MB_VIDEO_MODE		0x00000004u
#define MB_AOUT_KLUDGE		0x00010000u
/* Required features we do not know (bits 0-15) make the kernel unloadable. */
#define MB_KNOWN_REQUIRED	(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE)

static int
parse_elf32(const uint8_t *buf, size_t len, struct kload_image *img, const char **why)
{
	Elf32_Ehdr eh;
	Elf32_Phdr ph;
	int i;

	memset(img, 0, sizeof(*img));
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_386 || eh.e_type != ET_EXEC) {
		*why = "multiboot kernel is not a 32-bit x86 ELF executable";
		return -EINVAL;
	}
	if (eh.e_phentsize != sizeof(ph) || eh.e_phnum == 0 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(ph) > len - eh.e_phoff) {
		*why = "program headers lie outside the file";
		return -EINVAL;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->nsegs == KLOAD_MAX_SEGS) {
			*why = "too many loadable segments";
			return -EINVAL;
		}
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset ||
		    (uint64_t)ph.p_paddr + ph.p_memsz > (1ULL << 32)) {
			*why = "a segment lies outside the file or above 4 GiB";
			return -EINVAL;
		}
		img->seg[img->nsegs++] = (struct kload_seg){ ph.p_paddr, ph.p_offset,
		    ph.p_filesz, ph.p_memsz };
	}
	if (img->nsegs == 0) {
		*why = "no loadable segments";
		return -EINVAL;
	}
	img->entry = eh.e_entry;
	return 0;
}

int
kload_parse_multiboot(const uint8_t *buf, size_t len, struct kload_image *img,
    uint32_t *mbflags, const char **why)
{
	size_t off, lim = len < MB_SEARCH ? len : MB_SEARCH;
	const uint8_t *h = NULL;
	uint32_t flags;

	/* The header is 32-bit aligned within the first 8192 bytes (spec 3.1.1). */
	for (off = 0; off + 12 <= lim; off += 4) {
		if (kload_rd32(buf + off) == MB_MAGIC &&
		    (uint32_t)(kload_rd32(buf + off) + kload_rd32(buf + off + 4) + kload_rd32(buf + off + 8)) == 0) {
			h = buf + off;
			break;
		}
	}
	if (h == NULL) {
		*why = "no multiboot header";
		return -ENOEXEC;
	}
	flags = kload_rd32(h + 4);
	*mbflags = flags;
	if ((flags & 0xffff) & ~MB_KNOWN_REQUIRED) {
		*why = "multiboot header requires features this loader lacks";
		return -EINVAL;
	}
	if (flags & MB_AOUT_KLUDGE) {
		/* Addresses from the header (spec 3.1.3): the file maps to memory linearly. */
		uint32_t header_addr, load_addr, load_end, bss_end, entry;
		uint64_t file_start, load_len;

		if (off + 32 > len) {
			*why = "multiboot header is truncated";
			return -EINVAL;
		}
		header_addr = kload_rd32(h + 12);
		load_addr = kload_rd32(h + 16);
		load_end = kload_rd32(h + 20);
		bss_end = kload_rd32(h + 24);
		entry = kload_rd32(h + 28);
		if (load_addr > header_addr || header_addr - load_addr > off) {
			*why = "multiboot header has impossible addresses (load_addr above the header)";
			return -EINVAL;
		}
		file_start = off - (header_addr - load_addr);
		load_len = load_end ? (uint64_t)load_end - load_addr : len - file_start;
		if (load_end && load_end < load_addr) {
			*why = "multiboot header has impossible addresses (load_end_addr below load_addr)";
			return -EINVAL;
		}
		if (load_len > len - file_start) {
			*why = "multiboot load range runs past the end of the file";
			return -EINVAL;
		}
		if (bss_end && bss_end < load_addr + load_len) {
			*why = "multiboot header has impossible addresses (bss_end_addr below load_end_addr)";
			return -EINVAL;
		}
		if (entry < load_addr || entry >= (bss_end ? bss_end : load_addr + load_len)) {
			*why = "multiboot entry address lies outside the loaded image";
			return -EINVAL;
		}
		memset(img, 0, sizeof(*img));
		img->nsegs = 1;
		img->seg[0] = (struct kload_seg){ load_addr, file_start, load_len,
		    bss_end ? (uint64_t)bss_end - load_addr : load_len };
		img->entry = entry;
		return 0;
	}
	if (len < sizeof(Elf32_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		*why = "multiboot kernel is neither ELF nor gives load addresses";
		return -EINVAL;
	}
	if (buf[EI_CLASS] == ELFCLASS64) {
		/* GRUB loads ELF64 multiboot kernels too; the entry is still 32-bit code. */
		int error = kload_parse_elf(buf, len, img, why);
		if (error == 0 && img->entry >= (1ULL << 32)) {
			*why = "multiboot entry point lies above 4 GiB";
			return -EINVAL;
		}
		return error == -ENOEXEC ? -EINVAL : error;
	}
	if (buf[EI_CLASS] != ELFCLASS32) {
		*why = "multiboot kernel has an unknown ELF class";
		return -EINVAL;
	}
	return parse_elf32(buf, len, img, why);
}

int
kload_multiboot_info(const struct kload_boot32_params *p, uint8_t *page, size_t cap,
    uint64_t page_gpa, const char **why)
{
	/* multiboot_info (88 bytes), the modules (16 each), the memory map (24 each). */
	size_t mods = 88, map = mods + 16 * (size_t)p->nmods, need = map + 24 * (size_t)p->ne820;
	uint64_t lower = 0, upper = 0;
	uint32_t flags = 0x1 | 0x4 | 0x40 | 0x200;	/* mem, cmdline, mmap, loader name */
	size_t namelen = strlen(p->loader_name);
	int i;

	if (p->ne820 < 0 || p->nmods < 0 || p->nmods > KLOAD_MAX_MODS ||
	    need + namelen + 1 > cap) {
		*why = "modules and memory map do not fit in the multiboot information page";
		return -ENOSPC;
	}
	memset(page, 0, need);
	for (i = 0; i < p->nmods; i++) {
		uint8_t *m = page + mods + 16 * i;

		if (p->mods[i].gpa + p->mods[i].len > (1ULL << 32)) {
			*why = "a multiboot module lies above 4 GiB";
			return -EINVAL;
		}
		kload_wr32(m, (uint32_t)p->mods[i].gpa);
		kload_wr32(m + 4, (uint32_t)(p->mods[i].gpa + p->mods[i].len));
		kload_wr32(m + 8, (uint32_t)p->mods[i].cmdline_gpa);
	}
	for (i = 0; i < p->ne820; i++) {
		const struct kload_e820_entry *e = &p->e820[i];
		uint8_t *m = page + map + 24 * i;

		if (e->type == KLOAD_E820_RAM && e->addr == 0)
			lower = e->len;
		if (e->type == KLOAD_E820_RAM && e->addr == 0x100000)
			upper = e->len;
		kload_wr32(m, 20);			/* size of the rest of the entry */
		kload_wr64(m + 4, e->addr);
		kload_wr64(m + 12, e->len);
		kload_wr32(m + 20, e->type);
	}
	kload_wr32(page + 4, (uint32_t)(lower >> 10));	/* mem_lower, KiB */
	kload_wr32(page + 8, (uint32_t)((upper >> 10) > UINT32_MAX ? UINT32_MAX : upper >> 10));
	kload_wr32(page + 16, (uint32_t)p->cmdline_gpa);
	if (p->nmods) {
		flags |= 0x8;
		kload_wr32(page + 20, (uint32_t)p->nmods);
		kload_wr32(page + 24, (uint32_t)(page_gpa + mods));
	}
	kload_wr32(page + 44, (uint32_t)(24 * p->ne820));	/* mmap_length */
	kload_wr32(page + 48, (uint32_t)(page_gpa + map));
	memcpy(page + need, p->loader_name, namelen + 1);
	kload_wr32(page + 64, (uint32_t)(page_gpa + need));	/* boot_loader_name */
	kload_wr32(page, flags);
	return 0;
}
