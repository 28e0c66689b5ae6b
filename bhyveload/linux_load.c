/*
 * linux_load.c - the Linux x86 boot protocol, loader side
 * (Documentation/arch/x86/boot.rst; struct boot_params and struct
 * setup_header in arch/x86/include/uapi/asm/bootparam.h).
 *
 * Pure functions over buffers, fuzzed in tests/fuzz/fuzz_bzimage.c:
 * kload_parse_bzimage() validates a bzImage's setup header and finds its
 * pieces; kload_linux_zero_page() builds the "zero page" (struct
 * boot_params) the kernel reads at entry; kload_e820() derives the memory
 * map from the guest's RAM layout.  bhyveload.c copies things into guest
 * memory and sets the registers.
 */
#include <errno.h>
#include <string.h>

#include "kernel_load.h"
#include "../bhyve/machine.h"	/* the machine map (not the CPU's machine.h) */

/* Setup header offsets in the file and in struct boot_params (the same). */
#define HDR_SETUP_SECTS		0x1f1
#define HDR_BOOT_FLAG		0x1fe
#define HDR_JUMP		0x200
#define HDR_HEADER		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_HEAP_END_PTR	0x224
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_RELOCATABLE		0x234
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_HARDWARE_SUBARCH	0x23c
#define HDR_PAYLOAD_OFFSET	0x248
#define HDR_PAYLOAD_LENGTH	0x24c
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260

/* struct boot_params fields outside the setup header. */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128

#define LOADFLAGS_LOADED_HIGH	0x01
#define LOADFLAGS_CAN_USE_HEAP	0x80
#define XLF_KERNEL_64		0x01

/* The compression formats the kernel's build can use (arch/x86/boot/compressed/Makefile). */
static enum kload_comp
detect_comp(const uint8_t *p, size_t len)
{
	static const struct { enum kload_comp c; uint8_t n; uint8_t magic[6]; } magics[] = {
		{ KLOAD_COMP_GZIP, 2, { 0x1f, 0x8b } },
		{ KLOAD_COMP_XZ, 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } },
		{ KLOAD_COMP_ZSTD, 4, { 0x28, 0xb5, 0x2f, 0xfd } },
		{ KLOAD_COMP_LZ4, 4, { 0x02, 0x21, 0x4c, 0x18 } },	/* legacy frame */
		{ KLOAD_COMP_BZIP2, 3, { 'B', 'Z', 'h' } },
		{ KLOAD_COMP_LZO, 4, { 0x89, 'L', 'Z', 'O' } },
		{ KLOAD_COMP_LZMA, 3, { 0x5d, 0x00, 0x00 } },
		{ KLOAD_COMP_NONE, 4, { 0x7f, 'E', 'L', 'F' } },
	};
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].n && memcmp(p, magics[i].magic, magics[i].n) == 0)
			return magics[i].c;
	return KLOAD_COMP_UNKNOWN;
}

const char *
kload_comp_name(enum kload_comp c)
{
	switch (c) {
	case KLOAD_COMP_NONE: return "uncompressed";
	case KLOAD_COMP_GZIP: return "gzip";
	case KLOAD_COMP_XZ: return "xz";
	case KLOAD_COMP_ZSTD: return "zstd";
	case KLOAD_COMP_LZ4: return "lz4";
	case KLOAD_COMP_BZIP2: return "bzip2";
	case KLOAD_COMP_LZO: return "lzo";
	case KLOAD_COMP_LZMA: return "lzma";
	case KLOAD_COMP_UNKNOWN: break;
	}
	return "unknown";
}

int
kload_parse_bzimage(const uint8_t *buf, size_t len, struct kload_bzimage *bz, const char **why)
{
	size_t hdr_end;

	memset(bz, 0, sizeof(*bz));
	if (len < 0x300 || memcmp(buf + HDR_HEADER, "HdrS", 4) != 0) {
		*why = "not a Linux bzImage (no \"HdrS\" setup header)";
		return -ENOEXEC;
	}
	if (kload_rd16(buf + HDR_BOOT_FLAG) != 0xaa55) {
		*why = "bzImage boot sector lacks its 0xAA55 signature";
		return -EINVAL;
	}
	bz->version = kload_rd16(buf + HDR_VERSION);
	/* 2.12 brought xloadflags (the 64-bit entry); 64-bit kernels since 3.8 have it. */
	if (bz->version < 0x20c) {
		*why = "boot protocol older than 2.12: not a 64-bit bzImage this loader can enter";
		return -EINVAL;
	}
	bz->setup_sects = buf[HDR_SETUP_SECTS] ? buf[HDR_SETUP_SECTS] : 4;
	bz->setup_len = ((size_t)bz->setup_sects + 1) * 512;
	/* The header runs to the end of the 2-byte jump's target (boot.rst "the setup header"). */
	hdr_end = 0x202 + buf[HDR_JUMP + 1];
	if (buf[HDR_JUMP] != 0xeb || hdr_end < HDR_INIT_SIZE + 4 || hdr_end > 0x280) {
		*why = "bzImage setup header has an impossible length";
		return -EINVAL;
	}
	bz->hdr_len = hdr_end - HDR_SETUP_SECTS;
	if (bz->setup_len >= len) {
		*why = "bzImage is truncated: no protected-mode kernel after the setup code";
		return -EINVAL;
	}
	bz->loadflags = buf[HDR_LOADFLAGS];
	bz->xloadflags = kload_rd16(buf + HDR_XLOADFLAGS);
	if (!(bz->loadflags & LOADFLAGS_LOADED_HIGH) || !(bz->xloadflags & XLF_KERNEL_64)) {
		*why = "bzImage has no 64-bit entry point (not an x86-64 kernel)";
		return -EINVAL;
	}
	bz->initrd_addr_max = kload_rd32(buf + HDR_INITRD_ADDR_MAX);
	bz->kernel_alignment = kload_rd32(buf + HDR_KERNEL_ALIGNMENT);
	bz->relocatable = buf[HDR_RELOCATABLE] != 0;
	bz->cmdline_size = kload_rd32(buf + HDR_CMDLINE_SIZE);
	bz->pref_address = kload_rd64(buf + HDR_PREF_ADDRESS);
	bz->init_size = kload_rd32(buf + HDR_INIT_SIZE);
	bz->pm_off = bz->setup_len;
	bz->pm_len = len - bz->setup_len;
	if (bz->kernel_alignment == 0 || (bz->kernel_alignment & (bz->kernel_alignment - 1)) != 0 ||
	    bz->pref_address < 0x100000 || bz->pref_address >= (1ULL << 40) ||
	    (bz->pref_address & 0xfff) != 0 || bz->init_size < bz->pm_len ||
	    bz->init_size > (1U << 30)) {
		*why = "bzImage setup header has impossible alignment, address or size fields";
		return -EINVAL;
	}
	bz->payload_off = bz->pm_off + kload_rd32(buf + HDR_PAYLOAD_OFFSET);
	bz->payload_len = kload_rd32(buf + HDR_PAYLOAD_LENGTH);
	if (bz->payload_len < 8 || bz->payload_off < bz->pm_off || bz->payload_off > len ||
	    bz->payload_len > len - bz->payload_off) {
		*why = "bzImage payload lies outside the file (truncated?)";
		return -EINVAL;
	}
	bz->comp = detect_comp(buf + bz->payload_off, bz->payload_len);
	/*
	 * The build appends the uncompressed size, little-endian, to every
	 * compressed payload but an uncompressed one (scripts/Makefile.lib
	 * size_append); a hint only, checked against what decompresses.
	 */
	if (bz->comp != KLOAD_COMP_NONE)
		bz->payload_size_hint = kload_rd32(buf + bz->payload_off + bz->payload_len - 4);
	return 0;
}

/* The machine map's memory map (machine_e820), in the loader's type. */
int
kload_e820(uint64_t lowmem, uint64_t highmem, struct kload_e820_entry *map, int max)
{
	struct machine_e820_entry e[MACHINE_E820_MAX];
	int i, n;

	n = machine_e820(lowmem, highmem, e);
	if (n > max)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		map[i] = (struct kload_e820_entry){ e[i].addr, e[i].len, e[i].type };
	return n;
}

int
kload_linux_zero_page(const uint8_t *file, const struct kload_bzimage *bz,
    const struct kload_linux_params *p, uint8_t zp[4096], const char **why)
{
	int i;

	if (p->cmdline_len > bz->cmdline_size) {
		*why = "kernel command line is longer than the kernel accepts (cmdline_size)";
		return -E2BIG;
	}
	if (p->initrd_len != 0 && (p->initrd_gpa + p->initrd_len - 1 > bz->initrd_addr_max ||
	    p->initrd_gpa + p->initrd_len < p->initrd_gpa)) {
		*why = "initrd does not fit below the kernel's initrd_addr_max";
		return -E2BIG;
	}
	if (p->ne820 < 0 || p->ne820 > BP_E820_MAX) {
		*why = "too many memory map entries";
		return -EINVAL;
	}
	memset(zp, 0, 4096);
	/* The setup header as the kernel has it, then the loader's fields (boot.rst). */
	memcpy(zp + HDR_SETUP_SECTS, file + HDR_SETUP_SECTS, bz->hdr_len);
	zp[HDR_TYPE_OF_LOADER] = 0xff;		/* undefined boot loader: no version */
	zp[HDR_LOADFLAGS] = (uint8_t)((bz->loadflags & ~LOADFLAGS_CAN_USE_HEAP) |
	    LOADFLAGS_LOADED_HIGH);		/* no real-mode heap: setup does not run */
	kload_wr32(zp + HDR_HEAP_END_PTR, 0);
	kload_wr32(zp + HDR_CMD_LINE_PTR, (uint32_t)p->cmdline_gpa);
	kload_wr32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(p->cmdline_gpa >> 32));
	kload_wr32(zp + HDR_RAMDISK_IMAGE, (uint32_t)p->initrd_gpa);
	kload_wr32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(p->initrd_gpa >> 32));
	kload_wr32(zp + HDR_RAMDISK_SIZE, (uint32_t)p->initrd_len);
	kload_wr32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(p->initrd_len >> 32));
	kload_wr32(zp + HDR_HARDWARE_SUBARCH, 0);	/* X86_SUBARCH_PC */
	kload_wr64(zp + BP_ACPI_RSDP_ADDR, p->rsdp);
	zp[BP_E820_ENTRIES] = (uint8_t)p->ne820;
	for (i = 0; i < p->ne820; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		kload_wr64(e, p->e820[i].addr);
		kload_wr64(e + 8, p->e820[i].len);
		kload_wr32(e + 16, p->e820[i].type);
	}
	return 0;
}
