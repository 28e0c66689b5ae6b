/*
 * bhyveload - create an instance and load a guest into it (bhyveload.8).
 *
 * Like FreeBSD's bhyveload it leaves a ready-to-run instance and exits:
 * guest memory filled, and the boot CPU set so that the first instruction
 * runs in 64-bit long mode (identity page tables, flat GDT), with no BIOS.
 * lhyve adds -k/-i/-a for direct kernel boot; this version loads static
 * ELF64 executables and flat binaries (-k file@address).
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
	    "       [-l os-loader] [-m mem-size] [-k kernel[@addr]] [-i initrd] [-a append] vmname\n",
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

/* -k file or -k file@address; returns the entry point. */
static uint64_t
load_kernel(struct vmctx *ctx, const char *spec)
{
	struct kload_image img;
	struct kload_seg flat;
	const char *reason = NULL;
	char path[4096], *at, *end;
	uint64_t addr = 0;
	struct stat sb;
	uint8_t *file;
	int fd, error, i, have_addr = 0;

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
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("cannot open kernel '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
		die("kernel '%s' is not a non-empty regular file", path);
	file = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		die("cannot read kernel '%s': %s", path, strerror(errno));

	if (have_addr) {
		/* A flat binary: the bytes go at @addr and execution starts there. */
		flat = (struct kload_seg){ addr, 0, (uint64_t)sb.st_size, (uint64_t)sb.st_size };
		copy_segment(ctx, path, file, &flat);
		munmap(file, (size_t)sb.st_size);
		return addr;
	}
	error = kload_parse_elf(file, (size_t)sb.st_size, &img, &reason);
	if (error == -ENOEXEC)
		die("kernel '%s': %s (a flat binary is given as -k %s@address)", path,
		    reason, path);
	if (error != 0)
		die("kernel '%s': %s", path, reason);
	for (i = 0; i < img.nsegs; i++)
		copy_segment(ctx, path, file, &img.seg[i]);
	munmap(file, (size_t)sb.st_size);
	return img.entry;
}

int
main(int argc, char **argv)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;
	const char *kernel = NULL, *initrd = NULL, *disk = NULL, *append = NULL, *vmname;
	size_t memsize = 256UL << 20;
	int ch, wired = 0, incore = 0, need_reinit = 0;
	uint64_t entry;

	while ((ch = getopt(argc, argv, "a:c:Cd:e:h:i:k:l:m:S")) != -1) {
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
	if (append != NULL)
		die("-a: a command line goes with a Linux bzImage kernel, which this bhyveload does not load yet");
	if (initrd != NULL)
		die("-i: an initrd goes with a Linux bzImage kernel, which this bhyveload does not load yet");
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
	entry = load_kernel(ctx, kernel);

	vcpu = vm_vcpu_open(ctx, 0);
	if (vcpu == NULL)
		die("vCPU 0: %s", why());
	if (vm_setup_freebsd_registers(vcpu, entry, LOADER_PML4, LOADER_GDT,
	    LOADER_STACK) != 0)
		die("cannot set the boot CPU's registers: %s", why());
	vm_vcpu_close(vcpu);
	if (vm_save_state(ctx) != 0)
		die("cannot save VM '%s': %s", vmname, why());
	created_ctx = NULL;
	vm_close(ctx);
	return 0;
}
