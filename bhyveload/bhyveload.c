/*
 * bhyveload - create an instance and load a guest into it (bhyveload.8).
 *
 * Like FreeBSD's bhyveload it leaves a ready-to-run instance and exits:
 * guest memory filled, and the boot CPU set so that the first instruction
 * runs in 64-bit long mode (identity page tables, flat GDT), with no BIOS.
 * lhyve adds -k/-i/-a for direct kernel boot: Linux bzImages (the 64-bit
 * boot protocol, linux_load.c, with the payload decompressed on the host),
 * static ELF64 executables and flat binaries (-k file@address).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel_load.h"
#include "../bhyve/machine.h"	/* the machine map (not the CPU's machine.h) */
#include "vmmapi.h"

/*
 * Low guest memory used by the loader itself (below the usual 1 MiB+ kernel
 * addresses, above the real-mode IVT/BDA): page tables for the first 4 GiB
 * with 2 MiB pages, the GDT, and the initial stack.
 */
#define LOADER_PML4	0x1000
#define LOADER_PDPT	0x2000
#define LOADER_PD	0x3000		/* four pages: 0x3000-0x6fff */
#define LOADER_GDT	0x7000
#define LOADER_STACK	0x9000		/* grows down through 0x8000 */
#define LOADER_END	0x9000

/*
 * Linux (Documentation/arch/x86/boot.rst, "64-bit boot protocol"): the zero
 * page (struct boot_params) right above the stack, the command line after
 * it, both in base memory, which the kernel copies out early.
 */
#define LINUX_ZERO_PAGE	0x9000
#define LINUX_CMDLINE	0xa000
#define LINUX_CMDLINE_END 0x10000	/* strings end here; kernels start above */
#define LINUX_BOOT_CS	0x10		/* __BOOT_CS */
#define LINUX_BOOT_DS	0x18		/* __BOOT_DS */
/* The largest vmlinux the host decompressor produces (Debian's: ~66 MiB). */
#define LINUX_MAX_VMLINUX (1UL << 30)

#define PG_V	0x001
#define PG_RW	0x002
#define PG_PS	0x080

static const char *progname = "bhyveload";
/* An instance this run created: removed again if loading fails. */
static struct vmctx *created_ctx;

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: %s [-S] [-c cons-dev] [-d disk-path] [-e name=value] [-h host-path]\n"
	    "       [-l os-loader] [-m mem-size] [-k kernel[@addr]] [-i initrd[,string]]... [-a append]\n"
	    "       [-o boot.decompress=host|guest] vmname\n",
	    progname);
	exit(code);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (created_ctx != NULL)
		vm_destroy(created_ctx);
	exit(1);
}

static const char *
why(void)
{
	return vm_last_error()[0] ? vm_last_error() : strerror(errno);
}

/* Identity-map the first 4 GiB (2 MiB pages) so the guest starts with paging on. */
static void
build_page_tables(struct vmctx *ctx)
{
	uint64_t *pml4, *pdpt, *pd;
	int i;

	pml4 = vm_map_gpa(ctx, LOADER_PML4, 4096);
	pdpt = vm_map_gpa(ctx, LOADER_PDPT, 4096);
	pd = vm_map_gpa(ctx, LOADER_PD, 4 * 4096);
	if (pml4 == NULL || pdpt == NULL || pd == NULL)
		die("guest memory too small for page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LOADER_PDPT | PG_V | PG_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (LOADER_PD + (uint64_t)i * 4096) | PG_V | PG_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PG_V | PG_RW | PG_PS;
}

static void
copy_segment(struct vmctx *ctx, const char *path, const uint8_t *file,
    const struct kload_seg *seg)
{
	uint8_t *dst;

	if (seg->gpa < LOADER_END)
		die("%s: segment at 0x%llx overlaps the loader's page tables (below 0x%x)",
		    path, (unsigned long long)seg->gpa, LOADER_END);
	dst = vm_map_gpa(ctx, seg->gpa, seg->memsz);
	if (dst == NULL)
		die("%s: segment 0x%llx-0x%llx does not fit in guest memory (use a larger -m)",
		    path, (unsigned long long)seg->gpa,
		    (unsigned long long)(seg->gpa + seg->memsz));
	memcpy(dst, file + seg->file_off, seg->filesz);
	memset(dst + seg->filesz, 0, seg->memsz - seg->filesz);
}

/* The whole of a regular file, read-only; dies naming @what on error. */
static uint8_t *
map_file(const char *what, const char *path, size_t *lenp)
{
	struct stat sb;
	uint8_t *file;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
		die("%s '%s' is not a non-empty regular file", what, path);
	file = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		die("cannot read %s '%s': %s", what, path, strerror(errno));
	*lenp = (size_t)sb.st_size;
	return file;
}

/* What the command line asks to load. */
struct load_request {
	const char	*kernel;		/* -k, with an optional @address */
	const char	*mod[KLOAD_MAX_MODS];	/* -i, in order: "file" or "file,string" */
	int		nmods;
	const char	*append;		/* -a */
	int		host_decompress;	/* -o boot.decompress= */
};

/* How the boot CPU starts. */
enum boot_mode {
	BOOT_LONG,		/* 64-bit, identity map (ELF64, flat binaries) */
	BOOT_LINUX64,		/* 64-bit Linux boot protocol: RSI = zero page */
	BOOT_PVH,		/* 32-bit, paging off: EBX = hvm_start_info */
	BOOT_MULTIBOOT,		/* 32-bit, paging off: EAX = 0x2BADB002, EBX = info */
};

struct boot_entry {
	uint64_t	rip;
	enum boot_mode	mode;
};

/* Strings for the guest in base memory from LINUX_CMDLINE up. */
struct lowstr {
	uint64_t	next;
};

static uint64_t
put_string(struct vmctx *ctx, struct lowstr *ls, const char *str, size_t len)
{
	uint64_t gpa = ls->next;
	char *dst;

	if (len + 1 > LINUX_CMDLINE_END - gpa)
		die("command line and module strings do not fit in base memory");
	if ((dst = vm_map_gpa(ctx, gpa, len + 1)) == NULL)
		die("guest memory too small for the command line");
	memcpy(dst, str, len);
	dst[len] = '\0';
	ls->next = (gpa + len + 1 + 15) & ~15ULL;
	return gpa;
}

/*
 * Modules (the initrd) go top down from @top, page aligned, above @floor
 * (the kernel's end).  For Multiboot "file,string" gives the module a
 * command line.
 */
static int
place_modules(struct vmctx *ctx, const struct load_request *rq, int with_strings,
    uint64_t floor, uint64_t top, struct lowstr *ls, struct kload_module *out)
{
	int i;

	for (i = 0; i < rq->nmods; i++) {
		char path[4096];
		const char *comma = with_strings ? strchr(rq->mod[i], ',') : NULL;
		size_t ilen, plen = comma ? (size_t)(comma - rq->mod[i]) : strlen(rq->mod[i]);
		uint8_t *ifile, *dst;

		snprintf(path, sizeof(path), "%.*s", (int)plen, rq->mod[i]);
		ifile = map_file("initrd", path, &ilen);
		if (ilen > top || ((top - ilen) & ~0xfffULL) < floor)
			die("initrd '%s' (%zu MiB) does not fit between the kernel and 0x%llx; "
			    "give -m more memory", path, ilen >> 20, (unsigned long long)top);
		top = (top - ilen) & ~0xfffULL;
		if ((dst = vm_map_gpa(ctx, top, ilen)) == NULL)
			die("initrd '%s' does not fit in guest memory", path);
		memcpy(dst, ifile, ilen);
		munmap(ifile, ilen);
		out[i] = (struct kload_module){ top, ilen, 0 };
		if (with_strings)
			out[i].cmdline_gpa = comma ? put_string(ctx, ls, comma + 1, strlen(comma + 1)) :
			    put_string(ctx, ls, path, strlen(path));
	}
	return rq->nmods;
}

static uint64_t load_linux(struct vmctx *ctx, const char *path, const uint8_t *file,
    size_t len, const struct load_request *rq);
static struct boot_entry load_boot32(struct vmctx *ctx, const char *path, const uint8_t *file,
    size_t len, const struct load_request *rq);

/* -k file or -k file@address; returns how to enter it. */
static struct boot_entry
load_kernel(struct vmctx *ctx, const struct load_request *rq)
{
	struct kload_image img;
	struct kload_bzimage bz;
	struct kload_seg flat;
	struct boot_entry be;
	const char *reason = NULL;
	char path[4096], *at, *end;
	uint64_t addr = 0;
	uint32_t mbflags;
	size_t len;
	uint8_t *file;
	int error, i, have_addr = 0;

	snprintf(path, sizeof(path), "%s", rq->kernel);
	at = strrchr(path, '@');
	if (at != NULL) {
		*at = '\0';
		errno = 0;
		addr = strtoull(at + 1, &end, 0);
		if (errno != 0 || end == at + 1 || *end != '\0')
			die("-k %s: '%s' is not an address", rq->kernel, at + 1);
		have_addr = 1;
	}
	file = map_file("kernel", path, &len);

	if (have_addr) {
		/* A flat binary: the bytes go at @addr and execution starts there. */
		if (rq->nmods != 0 || rq->append != NULL)
			die("-i/-a go with a Linux, PVH or multiboot kernel; '%s' is loaded as a flat binary",
			    path);
		flat = (struct kload_seg){ addr, 0, (uint64_t)len, (uint64_t)len };
		copy_segment(ctx, path, file, &flat);
		munmap(file, len);
		return (struct boot_entry){ addr, BOOT_LONG };
	}
	/* Formats are told apart by their headers, not by file names. */
	if (kload_parse_bzimage(file, len, &bz, &reason) != -ENOEXEC) {
		be = (struct boot_entry){ load_linux(ctx, path, file, len, rq), BOOT_LINUX64 };
		munmap(file, len);
		return be;
	}
	if (kload_parse_multiboot(file, len, &img, &mbflags, &reason) != -ENOEXEC ||
	    kload_parse_pvh(file, len, &img, &reason) != -ENOEXEC) {
		be = load_boot32(ctx, path, file, len, rq);
		munmap(file, len);
		return be;
	}
	if (rq->nmods != 0 || rq->append != NULL)
		die("-i/-a go with a Linux, PVH or multiboot kernel, and '%s' is none of them", path);
	error = kload_parse_elf(file, len, &img, &reason);
	if (error == -ENOEXEC)
		die("kernel '%s': %s (a flat binary is given as -k %s@address)", path,
		    reason, path);
	if (error != 0)
		die("kernel '%s': %s", path, reason);
	for (i = 0; i < img.nsegs; i++)
		copy_segment(ctx, path, file, &img.seg[i]);
	munmap(file, len);
	return (struct boot_entry){ img.entry, BOOT_LONG };
}

/*
 * A kernel entered in 32-bit protected mode: Multiboot (header in the first
 * 8 KiB; checked first, as GRUB does) or an ELF with a Xen PVH entry note.
 * The information structure goes in the page at LINUX_ZERO_PAGE, strings
 * from LINUX_CMDLINE, modules at the top of memory below 4 GiB.
 */
static struct boot_entry
load_boot32(struct vmctx *ctx, const char *path, const uint8_t *file, size_t len,
    const struct load_request *rq)
{
	struct kload_e820_entry e820[16];
	struct kload_boot32_params bp;
	struct kload_image img;
	struct lowstr ls = { LINUX_CMDLINE };
	const char *reason = NULL;
	uint64_t kend = 0, top = vm_get_lowmem_size(ctx);
	uint32_t mbflags = 0;
	uint8_t *page;
	int i, error, multiboot;

	error = kload_parse_multiboot(file, len, &img, &mbflags, &reason);
	multiboot = error != -ENOEXEC;
	if (!multiboot)
		error = kload_parse_pvh(file, len, &img, &reason);
	if (error != 0)
		die("kernel '%s': %s", path, reason);
	if (!multiboot && rq->nmods > 1)
		die("-i: a PVH kernel takes one initrd");
	for (i = 0; i < img.nsegs; i++) {
		if (img.seg[i].gpa < LINUX_CMDLINE_END)
			die("kernel '%s': segment at 0x%llx overlaps the loader's data (below 0x%x)",
			    path, (unsigned long long)img.seg[i].gpa, LINUX_CMDLINE_END);
		copy_segment(ctx, path, file, &img.seg[i]);
		if (img.seg[i].gpa + img.seg[i].memsz > kend)
			kend = img.seg[i].gpa + img.seg[i].memsz;
	}
	memset(&bp, 0, sizeof(bp));
	if (multiboot) {
		/* Multiboot's command line starts with the kernel's name (GRUB, QEMU). */
		char cl[4096];
		int n = snprintf(cl, sizeof(cl), "%s%s%s", path, rq->append ? " " : "",
		    rq->append ? rq->append : "");
		if (n < 0 || (size_t)n >= sizeof(cl))
			die("-a: the command line is too long (at most %zu bytes)", sizeof(cl) - 1);
		bp.cmdline_gpa = put_string(ctx, &ls, cl, (size_t)n);
		bp.loader_name = "lhyve bhyveload";
	} else {
		bp.cmdline_gpa = put_string(ctx, &ls, rq->append ? rq->append : "",
		    rq->append ? strlen(rq->append) : 0);
		bp.rsdp = MACHINE_ACPI_RSDP;
	}
	if (top > (1ULL << 32))
		top = 1ULL << 32;
	bp.nmods = place_modules(ctx, rq, multiboot, kend, top, &ls, bp.mods);
	bp.ne820 = kload_e820(vm_get_lowmem_size(ctx), vm_get_highmem_size(ctx), e820, 16);
	bp.e820 = e820;
	if ((page = vm_map_gpa(ctx, LINUX_ZERO_PAGE, 4096)) == NULL)
		die("guest memory too small for the boot information");
	error = multiboot ? kload_multiboot_info(&bp, page, 4096, LINUX_ZERO_PAGE, &reason) :
	    kload_pvh_start_info(&bp, page, 4096, LINUX_ZERO_PAGE, &reason);
	if (error != 0)
		die("kernel '%s': %s", path, reason);
	return (struct boot_entry){ img.entry, multiboot ? BOOT_MULTIBOOT : BOOT_PVH };
}

/*
 * A bzImage.  Host path: decompress the payload here, load the vmlinux ELF's
 * segments at their physical addresses (the kernel's preferred ones, so no
 * relocation is needed) and enter its startup_64.  Guest path: load the
 * protected-mode kernel at pref_address and enter its 64-bit entry (+0x200),
 * where the kernel's own decompressor runs.  Returns the entry point.
 */
static uint64_t
load_linux(struct vmctx *ctx, const char *path, const uint8_t *file, size_t len,
    const struct load_request *rq)
{
	struct kload_e820_entry e820[16];
	struct kload_linux_params lp;
	struct kload_module mod;
	struct kload_bzimage bz;
	struct kload_image img;
	struct lowstr ls = { LINUX_CMDLINE };
	const char *reason = NULL;
	uint64_t entry, kend = 0, lowmem, top;
	size_t cmdlen = rq->append != NULL ? strlen(rq->append) : 0;
	uint8_t *zp, *vmlinux = NULL;
	int i, error, host_decompress = rq->host_decompress;

	if ((error = kload_parse_bzimage(file, len, &bz, &reason)) != 0)
		die("kernel '%s': %s", path, reason);
	if (rq->nmods > 1)
		die("-i: a Linux kernel takes one initrd");
	if (host_decompress && (bz.comp == KLOAD_COMP_LZO || bz.comp == KLOAD_COMP_UNKNOWN)) {
		fprintf(stderr, "%s: kernel '%s': %s payload, decompressed by the guest\n",
		    progname, path, kload_comp_name(bz.comp));
		host_decompress = 0;
	}
	lowmem = vm_get_lowmem_size(ctx);
	if (host_decompress) {
		size_t vlen;

		error = kload_decompress(bz.comp, file + bz.payload_off, bz.payload_len,
		    bz.payload_size_hint, LINUX_MAX_VMLINUX, &vmlinux, &vlen, &reason);
		if (error != 0)
			die("kernel '%s': %s", path, reason);
		if ((error = kload_parse_elf(vmlinux, vlen, &img, &reason)) != 0)
			die("kernel '%s': the decompressed payload: %s", path, reason);
		for (i = 0; i < img.nsegs; i++)
			if (img.seg[i].gpa + img.seg[i].memsz > kend)
				kend = img.seg[i].gpa + img.seg[i].memsz;
		if (kend > lowmem)
			die("kernel '%s' needs memory up to 0x%llx; give -m larger than %llu MiB",
			    path, (unsigned long long)kend, (unsigned long long)(kend >> 20));
		for (i = 0; i < img.nsegs; i++)
			copy_segment(ctx, path, vmlinux, &img.seg[i]);
		entry = img.entry;
		free(vmlinux);
	} else {
		struct kload_seg pm = { bz.pref_address, bz.pm_off, bz.pm_len, bz.pm_len };

		kend = bz.pref_address + bz.init_size;
		if (kend > lowmem)
			die("kernel '%s' needs memory up to 0x%llx; give -m larger than %llu MiB",
			    path, (unsigned long long)kend, (unsigned long long)(kend >> 20));
		copy_segment(ctx, path, file, &pm);
		entry = bz.pref_address + 0x200;	/* startup_64 of the decompressor */
	}
	/* The kernel also needs init_size bytes from where it runs (boot.rst). */
	if (bz.pref_address + bz.init_size > kend)
		kend = bz.pref_address + bz.init_size;
	if (kend > lowmem)
		die("kernel '%s' needs memory up to 0x%llx; give -m larger than %llu MiB", path,
		    (unsigned long long)kend, (unsigned long long)(kend >> 20));

	memset(&lp, 0, sizeof(lp));
	if (cmdlen > bz.cmdline_size)
		die("-a: the command line has %zu bytes; kernel '%s' takes at most %u", cmdlen,
		    path, bz.cmdline_size);
	lp.cmdline_gpa = put_string(ctx, &ls, rq->append ? rq->append : "", cmdlen);
	lp.cmdline_len = (uint32_t)cmdlen;

	/* The initrd at the top of low RAM, below initrd_addr_max, page aligned. */
	top = lowmem;
	if (top > (uint64_t)bz.initrd_addr_max + 1)
		top = (uint64_t)bz.initrd_addr_max + 1;
	if (place_modules(ctx, rq, 0, kend, top, &ls, &mod) == 1) {
		lp.initrd_gpa = mod.gpa;
		lp.initrd_len = mod.len;
	}

	lp.rsdp = MACHINE_ACPI_RSDP;	/* bhyve writes the ACPI tables there (-A) */
	lp.ne820 = kload_e820(lowmem, vm_get_highmem_size(ctx), e820, 16);
	lp.e820 = e820;
	if (lp.ne820 < 0)
		die("memory map has too many entries");
	zp = vm_map_gpa(ctx, LINUX_ZERO_PAGE, 4096);
	if (zp == NULL)
		die("guest memory too small for the zero page");
	if (kload_linux_zero_page(file, &bz, &lp, zp, &reason) != 0)
		die("kernel '%s': %s", path, reason);
	return entry;
}

/*
 * The boot CPU in 32-bit protected mode with paging off, as PVH (pvh.pandoc)
 * and Multiboot (spec 3.2) want it: flat 4 GiB CS (0x08) and data segments
 * (0x10), a 32-bit TSS in TR, CR4 = EFER = 0, interrupts off.
 */
static int
setup_prot32_registers(struct vmctx *ctx, struct vcpu *vcpu, uint64_t eip, uint32_t eax,
    uint32_t ebx)
{
	static const int segs[] = { VM_REG_GUEST_DS, VM_REG_GUEST_ES, VM_REG_GUEST_FS,
	    VM_REG_GUEST_GS, VM_REG_GUEST_SS };
	uint64_t *gdt = vm_map_gpa(ctx, LOADER_GDT, 0x1000);
	size_t i;

	if (gdt == NULL)
		return -1;
	memset(gdt, 0, 0x1000);
	gdt[1] = 0x00cf9b000000ffffULL;		/* 32-bit code, flat, accessed */
	gdt[2] = 0x00cf93000000ffffULL;		/* data, flat, accessed */
	gdt[3] = 0x00008b0000000067ULL;		/* 32-bit TSS (busy) at 0 */
	if (vm_set_register(vcpu, VM_REG_GUEST_EFER, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CR4, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CR0, 0x11) ||		/* ET PE */
	    vm_set_register(vcpu, VM_REG_GUEST_CR3, 0) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_CS, 0, 0xffffffff, 0x0000c09b) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CS, 0x08) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_TR, 0, 0x67, 0x0000008b) ||
	    vm_set_register(vcpu, VM_REG_GUEST_TR, 0x18) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_LDTR, 0, 0, DESC_UNUSABLE) ||
	    vm_set_register(vcpu, VM_REG_GUEST_LDTR, 0) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_GDTR, LOADER_GDT, 4 * 8 - 1, 0) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_IDTR, 0, 0, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RFLAGS, 0x2) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RSP, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RAX, eax) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RBX, ebx) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RIP, eip))
		return -1;
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (vm_set_desc(vcpu, segs[i], 0, 0xffffffff, 0x0000c093) ||
		    vm_set_register(vcpu, segs[i], 0x10))
			return -1;
	return 0;
}

/*
 * The boot CPU for the 64-bit Linux boot protocol: long mode with the
 * identity map, CS = __BOOT_CS and DS = ES = SS = __BOOT_DS (flat 4 GiB
 * segments), RSI = the zero page, interrupts off (boot.rst).
 */
static int
setup_linux_registers(struct vmctx *ctx, struct vcpu *vcpu, uint64_t rip)
{
	static const int segs[] = { VM_REG_GUEST_DS, VM_REG_GUEST_ES, VM_REG_GUEST_FS,
	    VM_REG_GUEST_GS, VM_REG_GUEST_SS };
	size_t i;

	/* The FreeBSD set-up gives long mode, paging, TR, LDTR; then Linux's GDT. */
	if (vm_setup_freebsd_registers(vcpu, rip, LOADER_PML4, LOADER_GDT, LOADER_STACK) != 0)
		return -1;
	uint64_t *gdt = vm_map_gpa(ctx, LOADER_GDT, 0x1000);
	if (gdt == NULL)
		return -1;
	gdt[LINUX_BOOT_CS >> 3] = 0x00af9b000000ffffULL;	/* 64-bit code, flat, accessed */
	gdt[LINUX_BOOT_DS >> 3] = 0x00cf93000000ffffULL;	/* data, flat 4 GiB, accessed */
	if (vm_set_desc(vcpu, VM_REG_GUEST_CS, 0, 0xffffffff, 0x0000a09b) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CS, LINUX_BOOT_CS) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_GDTR, LOADER_GDT, 4 * 8 - 1, 0))
		return -1;
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (vm_set_desc(vcpu, segs[i], 0, 0xffffffff, 0x0000c093) ||
		    vm_set_register(vcpu, segs[i], LINUX_BOOT_DS))
			return -1;
	return vm_set_register(vcpu, VM_REG_GUEST_RSI, LINUX_ZERO_PAGE);
}

int
main(int argc, char **argv)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;
	struct load_request rq = { .host_decompress = 1 };
	const char *disk = NULL, *vmname;
	size_t memsize = 256UL << 20;
	int ch, wired = 0, incore = 0, need_reinit = 0;
	struct boot_entry entry;
	int error;

	while ((ch = getopt(argc, argv, "a:c:Cd:e:h:i:k:l:m:o:S")) != -1) {
		switch (ch) {
		case 'a':
			rq.append = optarg;
			break;
		case 'C':
			incore = 1;
			break;
		case 'c':
		case 'e':
		case 'h':
		case 'l':
			/* FreeBSD loader options: no FreeBSD loader runs here (see bhyveload.8). */
			fprintf(stderr, "%s: -%c ignored: it configures FreeBSD's loader\n",
			    progname, ch);
			break;
		case 'd':
			disk = optarg;
			break;
		case 'i':
			if (rq.nmods == KLOAD_MAX_MODS)
				die("-i: at most %d modules", KLOAD_MAX_MODS);
			rq.mod[rq.nmods++] = optarg;
			break;
		case 'k':
			rq.kernel = optarg;
			break;
		case 'm':
			if (vm_parse_memsize(optarg, &memsize) != 0)
				die("invalid memory size '%s'", optarg);
			break;
		case 'o':
			/* lhyve's own settings, as bhyve's -o key=value. */
			if (strcmp(optarg, "boot.decompress=host") == 0)
				rq.host_decompress = 1;
			else if (strcmp(optarg, "boot.decompress=guest") == 0)
				rq.host_decompress = 0;
			else
				die("-o %s: unknown setting (bhyveload knows boot.decompress=host|guest)",
				    optarg);
			break;
		case 'S':
			wired = 1;
			break;
		default:
			usage(1);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage(1);
	vmname = argv[0];
	if (disk != NULL)
		die("-d %s: loading a kernel from a disk image is not supported yet; give -k kernel",
		    disk);
	if (rq.kernel == NULL)
		die("no kernel given (-k kernel or -k file@address)");
	if (memsize < (1UL << 20) || (memsize & 0xfff) != 0)
		die("memory size %zu is too small or not a multiple of 4 KiB", memsize);

	if (vm_create(vmname) != 0) {
		if (errno != EEXIST)
			die("cannot create VM '%s': %s", vmname, why());
		need_reinit = 1;
	}
	ctx = vm_open(vmname);
	if (ctx == NULL)
		die("cannot open VM '%s': %s", vmname, why());
	if (vm_is_running(ctx))
		die("VM '%s' is running (bhyve pid %ld)", vmname, vm_runner_pid(ctx));
	if (!need_reinit)
		created_ctx = ctx;
	else if (vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx) != 0 &&
	    vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx) != memsize)
		die("VM '%s' has %zu MiB of memory, not %zu MiB (destroy it first)", vmname,
		    (vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx)) >> 20, memsize >> 20);
	if (need_reinit && vm_reinit(ctx) != 0)
		die("cannot reinitialise VM '%s': %s", vmname, why());
	vm_set_memflags(ctx, (wired ? VM_MEM_F_WIRED : 0) | (incore ? VM_MEM_F_INCORE : 0));
	if (vm_setup_memory(ctx, memsize, VM_MMAP_ALL) != 0)
		die("cannot set up %zu MiB of guest memory: %s", memsize >> 20, why());

	build_page_tables(ctx);
	entry = load_kernel(ctx, &rq);

	vcpu = vm_vcpu_open(ctx, 0);
	if (vcpu == NULL)
		die("vCPU 0: %s", why());
	switch (entry.mode) {
	case BOOT_LINUX64:
		error = setup_linux_registers(ctx, vcpu, entry.rip);
		break;
	case BOOT_PVH:
		error = setup_prot32_registers(ctx, vcpu, entry.rip, 0, LINUX_ZERO_PAGE);
		break;
	case BOOT_MULTIBOOT:
		error = setup_prot32_registers(ctx, vcpu, entry.rip, 0x2badb002, LINUX_ZERO_PAGE);
		break;
	default:
		error = vm_setup_freebsd_registers(vcpu, entry.rip, LOADER_PML4, LOADER_GDT,
		    LOADER_STACK);
		break;
	}
	if (error != 0)
		die("cannot set the boot CPU's registers: %s", why());
	vm_vcpu_close(vcpu);
	if (vm_save_state(ctx) != 0)
		die("cannot save VM '%s': %s", vmname, why());
	created_ctx = NULL;
	vm_close(ctx);
	return 0;
}
