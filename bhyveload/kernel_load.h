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

/* Little-endian fields of boot structures (the files may be unaligned). */
static inline uint16_t
kload_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
kload_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
kload_rd64(const uint8_t *p)
{
	return kload_rd32(p) | (uint64_t)kload_rd32(p + 4) << 32;
}

static inline void
kload_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
kload_wr64(uint8_t *p, uint64_t v)
{
	kload_wr32(p, (uint32_t)v);
	kload_wr32(p + 4, (uint32_t)(v >> 32));
}

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

/* ---- Linux bzImage (linux_load.c; Documentation/arch/x86/boot.rst) ---- */

enum kload_comp {
	KLOAD_COMP_UNKNOWN, KLOAD_COMP_NONE, KLOAD_COMP_GZIP, KLOAD_COMP_XZ, KLOAD_COMP_ZSTD,
	KLOAD_COMP_LZ4, KLOAD_COMP_BZIP2, KLOAD_COMP_LZO, KLOAD_COMP_LZMA,
};

/* What a bzImage's setup header says, validated. */
struct kload_bzimage {
	uint16_t	version;		/* boot protocol, >= 0x20c */
	uint8_t		setup_sects;
	uint8_t		loadflags;
	uint16_t	xloadflags;
	int		relocatable;
	uint32_t	initrd_addr_max;	/* highest byte the initrd may use */
	uint32_t	kernel_alignment;
	uint32_t	cmdline_size;		/* longest command line, without NUL */
	uint32_t	init_size;		/* memory the kernel needs from its load address */
	uint64_t	pref_address;		/* where it wants to run */
	size_t		setup_len;		/* boot sector + real-mode setup */
	size_t		hdr_len;		/* setup header bytes from 0x1f1 */
	size_t		pm_off, pm_len;		/* the protected-mode kernel in the file */
	size_t		payload_off, payload_len; /* its compressed vmlinux in the file */
	enum kload_comp	comp;
	uint32_t	payload_size_hint;	/* appended by the build: uncompressed size */
};

int	kload_parse_bzimage(const uint8_t *buf, size_t len, struct kload_bzimage *bz,
	    const char **why);
const char *kload_comp_name(enum kload_comp c);

/*
 * Decompress a payload with the library for its format (decompress.c).
 * At most @max bytes out; *out is malloc'ed.  -ENOTSUP for a format this
 * build cannot read, -EINVAL for corrupt data (reason in *why).
 */
int	kload_decompress(enum kload_comp comp, const uint8_t *in, size_t inlen,
	    size_t size_hint, size_t max, uint8_t **out, size_t *outlen, const char **why);

#define KLOAD_E820_RAM		1
#define KLOAD_E820_RESERVED	2

struct kload_e820_entry {
	uint64_t	addr, len;
	uint32_t	type;
};

/* The guest's memory map for a RAM layout (machine.h); returns the count. */
int	kload_e820(uint64_t lowmem, uint64_t highmem, struct kload_e820_entry *map, int max);

struct kload_linux_params {
	uint64_t	cmdline_gpa;
	uint32_t	cmdline_len;		/* without the NUL */
	uint64_t	initrd_gpa, initrd_len;
	uint64_t	rsdp;			/* ACPI RSDP, 0: the kernel scans for it */
	int		ne820;
	const struct kload_e820_entry *e820;
};

/* Build struct boot_params (the zero page) for a bzImage. */
int	kload_linux_zero_page(const uint8_t *file, const struct kload_bzimage *bz,
	    const struct kload_linux_params *p, uint8_t zp[4096], const char **why);

/* ---- 32-bit entries: Xen PVH and Multiboot 1 (boot32_load.c) ---- */

#define KLOAD_MAX_MODS	16

struct kload_module {
	uint64_t	gpa, len;
	uint64_t	cmdline_gpa;		/* 0: none */
};

struct kload_boot32_params {
	uint64_t	cmdline_gpa;
	uint64_t	rsdp;			/* PVH only; 0: none */
	int		nmods;
	struct kload_module mods[KLOAD_MAX_MODS];
	int		ne820;
	const struct kload_e820_entry *e820;
	const char	*loader_name;		/* Multiboot only */
};

/*
 * An ELF64 kernel with Xen's PHYS32_ENTRY note: segments as kload_parse_elf,
 * img->entry the 32-bit entry.  -ENOEXEC: no such note (a plain ELF).
 */
int	kload_parse_pvh(const uint8_t *buf, size_t len, struct kload_image *img,
	    const char **why);
/* Fill struct hvm_start_info (with modules and memory map) at @page_gpa. */
int	kload_pvh_start_info(const struct kload_boot32_params *p, uint8_t *page, size_t cap,
	    uint64_t page_gpa, const char **why);

/*
 * A Multiboot 1 kernel: the header's load addresses (a.out kludge) or its
 * ELF32/ELF64 segments.  -ENOEXEC: no header in the first 8 KiB.
 */
int	kload_parse_multiboot(const uint8_t *buf, size_t len, struct kload_image *img,
	    uint32_t *mbflags, const char **why);
/* Fill struct multiboot_info (modules, memory map, loader name) at @page_gpa. */
int	kload_multiboot_info(const struct kload_boot32_params *p, uint8_t *page, size_t cap,
	    uint64_t page_gpa, const char **why);

#endif /* LHYVE_KERNEL_LOAD_H */
