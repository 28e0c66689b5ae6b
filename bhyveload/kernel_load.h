/*
 * kernel_load.h - what bhyveload can put in guest memory.  The parsers are
 * pure functions over a buffer (fuzzed in tests/fuzz/): they validate a file
 * and describe where its pieces go; the caller copies them.
 */
#ifndef LHYVE_KERNEL_LOAD_H
#define LHYVE_KERNEL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define KLOAD_MAX_SEGS	16

struct kload_seg {
	uint64_t	gpa;		/* where it goes in guest-physical memory */
	uint64_t	file_off;	/* bytes [file_off, file_off+filesz) of the file */
	uint64_t	filesz;
	uint64_t	memsz;		/* >= filesz: the rest is zeroed (.bss) */
};

struct kload_image {
	uint64_t	entry;		/* first instruction (guest-physical = virtual) */
	int		nsegs;
	struct kload_seg seg[KLOAD_MAX_SEGS];
};

/*
 * Parse a static ELF64 x86-64 executable.  Returns 0, or -ENOEXEC when the
 * buffer is not such a file (with a reason in *why), -EINVAL when it is one
 * but malformed.
 */
int	kload_parse_elf(const uint8_t *buf, size_t len, struct kload_image *img,
	    const char **why);

#endif /* LHYVE_KERNEL_LOAD_H */
