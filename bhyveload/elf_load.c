/*
 * elf_load.c - static ELF64 executables (System V gABI, ELF-64 Object File
 * Format 1.5; x86-64 psABI).  Segments are loaded at their physical address
 * (p_paddr): bhyveload's page tables map guest memory one to one, so a
 * kernel linked at its load address starts with paging already on.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "kernel_load.h"

int
kload_parse_elf(const uint8_t *buf, size_t len, struct kload_image *img, const char **why)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t off;
	int i;

	memset(img, 0, sizeof(*img));
	if (len < sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		*why = "not an x86-64 ELF64 file";
		return -ENOEXEC;
	}
	if (eh.e_type != ET_EXEC) {
		*why = "not a static executable (ET_EXEC)";
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		*why = "program headers lie outside the file";
		return -EINVAL;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		off = eh.e_phoff + (uint64_t)i * sizeof(Elf64_Phdr);
		memcpy(&ph, buf + off, sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->nsegs == KLOAD_MAX_SEGS) {
			*why = "too many loadable segments";
			return -EINVAL;
		}
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset) {
			*why = "a segment lies outside the file";
			return -EINVAL;
		}
		if (ph.p_paddr + ph.p_memsz < ph.p_paddr) {
			*why = "a segment wraps around the address space";
			return -EINVAL;
		}
		img->seg[img->nsegs++] = (struct kload_seg){
			.gpa = ph.p_paddr, .file_off = ph.p_offset,
			.filesz = ph.p_filesz, .memsz = ph.p_memsz };
	}
	if (img->nsegs == 0) {
		*why = "no loadable segments";
		return -EINVAL;
	}
	img->entry = eh.e_entry;
	return 0;
}
