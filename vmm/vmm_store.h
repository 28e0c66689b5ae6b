/*
 * vmm_store.h - the instance store, lhyve's /dev/vmm (docs/store.md).
 *
 *   $VMM_DIR/NAME/state   versioned, checksummed record of the instance
 *   $VMM_DIR/NAME/lock    flock()ed by the process that owns the instance
 *   $VMM_DIR/NAME/ctl     unix socket served by the bhyve that runs it
 *   $VMM_DIR/NAME/mem     guest RAM (a symlink into $VMM_MEM_DIR, default /dev/shm)
 *
 * Every function returns 0 or a negative errno; on error a one-line reason
 * is left in vmm_store_strerror() for the programs to print.
 */
#ifndef LHYVE_VMM_STORE_H
#define LHYVE_VMM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm_backend.h"

#define VMM_STATE_MAGIC		"LHYVEVM"	/* 8 bytes with the NUL */
#define VMM_STATE_VERSION	2		/* version 1 files are read and converted */

/* Section types of the state file (docs/store.md, "Sections"). */
enum vmm_sec_type {
	VMM_SEC_VM = 1,		/* memory layout, vCPU count, backend */
	VMM_SEC_PROFILE = 4,	/* CPU vendor the guest sees */
	VMM_SEC_RUN = 5,	/* running: owner pid and boot id */
	VMM_SEC_TOPOLOGY = 6,	/* CPU topology the guest sees: sockets, cores, threads */
	VMM_SEC_CPU = 16,	/* per vCPU: registers */
	VMM_SEC_XSAVE = 17,	/* per vCPU: XSAVE area, standard format, any size */
	VMM_SEC_MSRS = 18,	/* per vCPU: (index, value) pairs */
	VMM_SEC_EVENTS = 19,	/* per vCPU: shadow, HLT, pending exception/NMI */
	VMM_SEC_STATS = 20,	/* per vCPU: counters */
	VMM_SEC_LAPIC = 21,	/* per vCPU: local APIC page (reserved: Platform) */
	VMM_SEC_DEVICE = 32,	/* VM-level device state, by name (snapshot hooks) */
	VMM_SEC_BACKEND = 33,	/* backend-private, tagged with the backend's name */
};
#define VMM_SECF_REQUIRED	0x0001	/* a reader that cannot use it must refuse the file */
#define VMM_SEC_VM_LEVEL	0xffff	/* vcpu field of a section that is not per vCPU */
#define VMM_SEC_NAMELEN		16
#define VMM_STATE_MAX_SIZE	(1u << 24)	/* larger files are refused */

/* Per-vCPU counters kept by libvmm (names in vmm_stat_names[]). */
enum vmm_stat {
	VMST_RUNS,		/* vm_run() calls */
	VMST_EXITS,		/* exits to userland */
	VMST_BACKEND_ENTRIES,	/* backend run() calls */
	VMST_INSNS,		/* instructions retired (software CPU) */
	VMST_TLB_FLUSHES,
	VMST_HLT_SLEEPS,
	VMST_KICKS,
	VMST_EXIT_BASE,		/* then one counter per enum vm_exitcode */
	VMST_COUNT = VMST_EXIT_BASE + VM_EXITCODE_MAX
};
extern const char *const vmm_stat_names[VMST_COUNT];

/* The record of an instance, as loaded from and saved to NAME/state. */
struct vmm_image {
	uint64_t		memsize;	/* 0 until vm_setup_memory */
	uint64_t		lowmem;
	uint64_t		highmem;
	uint32_t		memflags;
	uint32_t		ncpus;		/* vCPUs in use (bhyve -c), >= 1 */
	char			backend[16];	/* backend that last ran it, or "" */
	/*
	 * CPU vendor the guest sees ("intel", "amd"), or "" until the first
	 * run chooses it (bhyve -o cpu.vendor, else the host's).  Kept, so a
	 * guest never sees its CPU change vendor under it.
	 */
	char			vendor[16];
	/*
	 * CPU topology the guest sees (bhyve -c sockets=,cores=,threads=, or
	 * one socket of ncpus cores), all 0 until the first run chooses it.
	 * Kept like the vendor; a guest that continues keeps it (vmm.c).
	 */
	struct {
		uint32_t	sockets, cores, threads;
	} topo;
	struct vm_cpu_state	cpu[VM_MAXCPU];
	uint64_t		stats[VM_MAXCPU][VMST_COUNT];
	/*
	 * Crash consistency: set while a bhyve runs the instance, so that one
	 * that dies without saving leaves the mark behind (docs/store.md).
	 */
	struct {
		uint32_t	running;
		int64_t		pid;		/* of the process that last ran it */
		char		boot_id[40];	/* host boot it ran in */
	} run;
	/*
	 * Sections kept as bytes and written back as they came: device state
	 * (VMM_SEC_DEVICE, by name), backend-private sections, and sections
	 * of types this lhyve does not know.  Free with vmm_image_fini().
	 */
	struct vmm_section	*sec;
	size_t			nsec;
};

struct vmm_section {
	uint32_t	type;
	uint16_t	flags;
	uint16_t	vcpu;		/* VMM_SEC_VM_LEVEL or a vCPU */
	char		name[VMM_SEC_NAMELEN];	/* NUL-terminated */
	uint32_t	len;
	uint8_t		*data;
};

const char *vmm_store_strerror(void);
void	vmm_store_clear_error(void);
/* Set the reason for the last failure (printf style); returns -err. */
int	vmm_store_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The store directory: $VMM_DIR, /run/vmm as root, $XDG_RUNTIME_DIR/vmm. */
const char *vmm_store_dir(void);
/* Where guest RAM files go: $VMM_MEM_DIR, else /dev/shm, else the instance. */
const char *vmm_store_mem_dir(void);
/* 0 if @name is a usable instance name (1-31 of [A-Za-z0-9._-], not "." "..") */
int	vmm_store_check_name(const char *name);
/* Path of NAME/@file (file may be NULL for the directory). */
int	vmm_store_path(char *buf, size_t len, const char *name, const char *file);

int	vmm_store_create(const char *name);		/* -EEXIST if it exists */
int	vmm_store_exists(const char *name);		/* 1, 0 */
int	vmm_store_destroy(const char *name);		/* removes mem, state, dir */
/* flock NAME/lock; returns the fd, -EBUSY if another process holds it. */
int	vmm_store_lock(const char *name);
/* pid recorded by the lock holder, or -1 */
long	vmm_store_lock_owner(const char *name);

/* Guest RAM: create (sparse, space checked) or open NAME/mem; returns fd. */
int	vmm_store_mem_create(const char *name, uint64_t size, int prealloc);
int	vmm_store_mem_open(const char *name, uint64_t *size);

/* State: serialize/parse are pure (fuzzed); load/save do the file I/O. */
int	vmm_state_serialize(const struct vmm_image *img, uint8_t **bufp, size_t *lenp);
int	vmm_state_parse(const uint8_t *buf, size_t len, struct vmm_image *img);
int	vmm_store_load(const char *name, struct vmm_image *img);
int	vmm_store_save(const char *name, const struct vmm_image *img);	/* atomic */
/* A fresh image: no memory, every vCPU at its RESET state. */
void	vmm_image_init(struct vmm_image *img);
/* Frees the kept sections (the image itself belongs to the caller). */
void	vmm_image_fini(struct vmm_image *img);
/* A kept section by type, vCPU and name (NULL: none). */
const struct vmm_section *vmm_image_section(const struct vmm_image *img, uint32_t type,
	    uint16_t vcpu, const char *name);
/* Add or replace a kept section (copies @data). */
int	vmm_image_put_section(struct vmm_image *img, uint32_t type, uint16_t flags,
	    uint16_t vcpu, const char *name, const void *data, size_t len);
/* Copy @src's kept sections into @dst (replacing dst's). */
void	vmm_image_drop_section(struct vmm_image *img, uint32_t type, uint16_t vcpu,
	    const char *name);
int	vmm_image_copy_sections(struct vmm_image *dst, const struct vmm_image *src);
/*
 * This host's boot: /proc/sys/kernel/random/boot_id, or $LHYVE_BOOT_ID
 * when set (tests simulate a reboot with it).
 */
void	vmm_store_boot_id(char *buf, size_t len);
/* Remove what a dead owner left: NAME/ctl, NAME/state.XXXXXX.  Lock held. */
void	vmm_store_clean_stale(const char *name);

#endif /* LHYVE_VMM_STORE_H */
