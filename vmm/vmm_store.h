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
#define VMM_STATE_VERSION	1

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
	struct vm_cpu_state	cpu[VM_MAXCPU];
	uint64_t		stats[VM_MAXCPU][VMST_COUNT];
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

#endif /* LHYVE_VMM_STORE_H */
