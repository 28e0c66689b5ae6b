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
#define LINUX_CMDLINE_END MACHINE_EBDA_BASE
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
	    "       [-l os-loader] [-m mem-size] [-k kernel[@addr]] [-i initrd] [-a append]\n"
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

/* What the boot CPU needs besides the entry point. */
struct boot_entry {
	uint64_t	rip;
	int		is_linux;		/* 64-bit Linux boot protocol: RSI = zero page */
};

static uint64_t load_linux(struct vmctx *ctx, const char *path, const uint8_t *file,
    size_t len, const char *initrd, const char *append, int host_decompress);

/* -k file or -k file@address; returns the entry point. */
static struct boot_entry
load_kernel(struct vmctx *ctx, const char *spec, const char *initrd, const char *append,
    int host_decompress)
{
	struct kload_image img;
	struct kload_bzimage bz;
	struct kload_seg flat;
	const char *reason = NULL;
	char path[4096], *at, *end;
	uint64_t addr = 0;
	size_t len;
	uint8_t *file;
	int error, i, have_addr = 0;

	snprintf(path, sizeof(path), "%s", spec);
	at = strrchr(path, '@');
	if (at != NULL) {
		*at = '\0';
		errno = 0;
		addr = strtoull(at + 1, &end, 0);
		if (errno != 0 || end == at + 1 || *end != '\0')
			die("-k %s: '%s' is not an address", spec, at + 1);
		have_addr = 1;
	}
	file = map_file("kernel", path, &len);

	if (have_addr) {
		/* A flat binary: the bytes go at @addr and execution starts there. */
		if (initrd != NULL || append != NULL)
			die("-i/-a go with a Linux bzImage; '%s' is loaded as a flat binary", path);
		flat = (struct kload_seg){ addr, 0, (uint64_t)len, (uint64_t)len };
		copy_segment(ctx, path, file, &flat);
		munmap(file, len);
		return (struct boot_entry){ addr, 0 };
	}
	/* Formats are told apart by their headers, not by file names. */
	if (kload_parse_bzimage(file, len, &bz, &reason) != -ENOEXEC) {
		struct boot_entry be = { load_linux(ctx, path, file, len, initrd, append,
		    host_decompress), 1 };
		munmap(file, len);
		return be;
	}
	if (initrd != NULL || append != NULL)
		die("-i/-a go with a Linux bzImage, and '%s' is not one", path);
	error = kload_parse_elf(file, len, &img, &reason);
	if (error == -ENOEXEC)
		die("kernel '%s': %s (a flat binary is given as -k %s@address)", path,
		    reason, path);
	if (error != 0)
		die("kernel '%s': %s", path, reason);
	for (i = 0; i < img.nsegs; i++)
		copy_segment(ctx, path, file, &img.seg[i]);
	munmap(file, len);
	return (struct boot_entry){ img.entry, 0 };
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
    const char *initrd, const char *append, int host_decompress)
{
	struct kload_e820_entry e820[16];
	struct kload_linux_params lp;
	struct kload_bzimage bz;
	struct kload_image img;
	const char *reason = NULL;
	uint64_t entry, kend = 0, lowmem, top;
	size_t cmdlen = append != NULL ? strlen(append) : 0;
	uint8_t *zp, *vmlinux = NULL;
	int i, error;

	if ((error = kload_parse_bzimage(file, len, &bz, &reason)) != 0)
		die("kernel '%s': %s", path, reason);
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
		for (i = 0; i < img.nsegs; i++) {
			copy_segment(ctx, path, vmlinux, &img.seg[i]);
			if (img.seg[i].gpa + img.seg[i].memsz > kend)
				kend = img.seg[i].gpa + img.seg[i].memsz;
		}
		entry = img.entry;
		free(vmlinux);
	} else {
		struct kload_seg pm = { bz.pref_address, bz.pm_off, bz.pm_len, bz.pm_len };

		copy_segment(ctx, path, file, &pm);
		kend = bz.pref_address + bz.init_size;
		entry = bz.pref_address + 0x200;	/* startup_64 of the decompressor */
	}
	/* The kernel also needs init_size bytes from where it runs (boot.rst). */
	if (bz.pref_address + bz.init_size > kend)
		kend = bz.pref_address + bz.init_size;
	if (kend > lowmem)
		die("kernel '%s' needs memory up to 0x%llx; give -m larger than %llu MiB", path,
		    (unsigned long long)kend, (unsigned long long)(kend >> 20) + 1);

	memset(&lp, 0, sizeof(lp));
	/* The command line, NUL-terminated, in base memory. */
	if (cmdlen > bz.cmdline_size || cmdlen + 1 > LINUX_CMDLINE_END - LINUX_CMDLINE)
		die("-a: the command line has %zu bytes; kernel '%s' takes at most %u", cmdlen,
		    path, bz.cmdline_size);
	char *cl = vm_map_gpa(ctx, LINUX_CMDLINE, cmdlen + 1);
	if (cl == NULL)
		die("guest memory too small for the command line");
	memcpy(cl, append != NULL ? append : "", cmdlen + 1);
	lp.cmdline_gpa = LINUX_CMDLINE;
	lp.cmdline_len = (uint32_t)cmdlen;

	/* The initrd at the top of low RAM, below initrd_addr_max, page aligned. */
	if (initrd != NULL) {
		size_t ilen;
		uint8_t *ifile = map_file("initrd", initrd, &ilen);
		uint8_t *dst;

		top = lowmem;
		if (top > (uint64_t)bz.initrd_addr_max + 1)
			top = (uint64_t)bz.initrd_addr_max + 1;
		if (ilen > top || ((top - ilen) & ~0xfffULL) < kend)
			die("initrd '%s' (%zu MiB) does not fit between the kernel and 0x%llx; "
			    "give -m more memory", initrd, ilen >> 20, (unsigned long long)top);
		lp.initrd_gpa = (top - ilen) & ~0xfffULL;
		lp.initrd_len = ilen;
		dst = vm_map_gpa(ctx, lp.initrd_gpa, ilen);
		if (dst == NULL)
			die("initrd '%s' does not fit in guest memory", initrd);
		memcpy(dst, ifile, ilen);
		munmap(ifile, ilen);
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
	const char *kernel = NULL, *initrd = NULL, *disk = NULL, *append = NULL, *vmname;
	size_t memsize = 256UL << 20;
	int ch, wired = 0, incore = 0, need_reinit = 0, host_decompress = 1;
	struct boot_entry entry;

	while ((ch = getopt(argc, argv, "a:c:Cd:e:h:i:k:l:m:o:S")) != -1) {
		switch (ch) {
		case 'a':
			append = optarg;
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
			initrd = optarg;
			break;
		case 'k':
			kernel = optarg;
			break;
		case 'm':
			if (vm_parse_memsize(optarg, &memsize) != 0)
				die("invalid memory size '%s'", optarg);
			break;
		case 'o':
			/* lhyve's own settings, as bhyve's -o key=value. */
			if (strcmp(optarg, "boot.decompress=host") == 0)
				host_decompress = 1;
			else if (strcmp(optarg, "boot.decompress=guest") == 0)
				host_decompress = 0;
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
	if (kernel == NULL)
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
	entry = load_kernel(ctx, kernel, initrd, append, host_decompress);

	vcpu = vm_vcpu_open(ctx, 0);
	if (vcpu == NULL)
		die("vCPU 0: %s", why());
	if ((entry.is_linux ? setup_linux_registers(ctx, vcpu, entry.rip) :
	    vm_setup_freebsd_registers(vcpu, entry.rip, LOADER_PML4, LOADER_GDT,
	    LOADER_STACK)) != 0)
		die("cannot set the boot CPU's registers: %s", why());
	vm_vcpu_close(vcpu);
	if (vm_save_state(ctx) != 0)
		die("cannot save VM '%s': %s", vmname, why());
	created_ctx = NULL;
	vm_close(ctx);
	return 0;
}
