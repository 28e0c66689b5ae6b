/*
 * vmmapi.h - lhyve's libvmmapi: FreeBSD 14's API, with its -1 + errno ABI.
 *
 * An instance lives in the store ($VMM_DIR/NAME, see docs/store.md).  A
 * process that opens it while no bhyve runs it owns it: changes are written
 * back to NAME/state.  While a bhyve runs it, other processes reach it through
 * that bhyve's control socket (NAME/ctl); the calls are the same.
 */
#ifndef LHYVE_VMMAPI_H
#define LHYVE_VMMAPI_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/time.h>
#include <sys/types.h>

#include "vmm.h"

struct vmctx;
struct vcpu;

typedef uint64_t vm_paddr_t;

enum vm_mmap_style {
	VM_MMAP_NONE,		/* no mapping */
	VM_MMAP_ALL,		/* fully and statically mapped */
	VM_MMAP_SPARSE,		/* mappings created on-demand */
};

#define	VM_MEM_F_INCORE	0x01	/* include guest memory in core file */
#define	VM_MEM_F_WIRED	0x02	/* guest memory is wired (-S: preallocated and locked) */

/* vm_openf() flags */
#define	VMMAPI_OPEN_CREATE	0x01	/* create if the VM does not exist */
#define	VMMAPI_OPEN_REINIT	0x02	/* reinitialize the VM if it exists */
#define	VMMAPI_OPEN_RUN		0x100	/* lhyve: own the VM to run it; EBUSY if running */

/* vm_run() argument, FreeBSD 14's struct vm_run */
struct vm_run {
	int		cpuid;
	void		*cpuset;	/* unused, kept for source compatibility */
	size_t		cpusetsize;
	struct vm_exit	*vm_exit;
};

int	vm_create(const char *name);
struct vmctx *vm_open(const char *name);
struct vmctx *vm_openf(const char *name, int flags);
void	vm_close(struct vmctx *ctx);
void	vm_destroy(struct vmctx *ctx);
int	vm_limit_rights(struct vmctx *ctx);
const char *vm_get_name(struct vmctx *ctx);
int	vm_parse_memsize(const char *optarg, size_t *memsize);
int	vm_setup_memory(struct vmctx *ctx, size_t len, enum vm_mmap_style s);
void	*vm_map_gpa(struct vmctx *ctx, vm_paddr_t gaddr, size_t len);
/* lhyve: a device wrote guest RAM [gaddr, gaddr + len) (DMA): the CPU drops stale code. */
void	vm_mem_written(struct vmctx *ctx, vm_paddr_t gaddr, size_t len);
int	vm_get_memflags(struct vmctx *ctx);
void	vm_set_memflags(struct vmctx *ctx, int flags);
uint32_t vm_get_lowmem_limit(struct vmctx *ctx);
size_t	vm_get_lowmem_size(struct vmctx *ctx);
vm_paddr_t vm_get_highmem_base(struct vmctx *ctx);
size_t	vm_get_highmem_size(struct vmctx *ctx);
int	vm_get_ncpus(struct vmctx *ctx);	/* lhyve: vCPUs the instance was created with */
int	vm_set_ncpus(struct vmctx *ctx, int ncpus);	/* lhyve: before the first run */
/* As FreeBSD's; after vm_set_ncpus, before the vCPUs run.  maxcpus must be ncpus. */
int	vm_set_topology(struct vmctx *ctx, uint16_t sockets, uint16_t cores, uint16_t threads,
	    uint16_t maxcpus);
int	vm_get_topology(struct vmctx *ctx, uint16_t *sockets, uint16_t *cores, uint16_t *threads,
	    uint16_t *maxcpus);

struct vcpu *vm_vcpu_open(struct vmctx *ctx, int vcpuid);
void	vm_vcpu_close(struct vcpu *vcpu);
int	vcpu_id(struct vcpu *vcpu);

int	vm_set_desc(struct vcpu *vcpu, int reg, uint64_t base, uint32_t limit, uint32_t access);
int	vm_get_desc(struct vcpu *vcpu, int reg, uint64_t *base, uint32_t *limit, uint32_t *access);
int	vm_get_seg_desc(struct vcpu *vcpu, int reg, struct seg_desc *seg_desc);
int	vm_set_register(struct vcpu *vcpu, int reg, uint64_t val);
int	vm_get_register(struct vcpu *vcpu, int reg, uint64_t *retval);
int	vm_set_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
	    uint64_t *regvals);
int	vm_get_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
	    uint64_t *regvals);
int	vm_run(struct vcpu *vcpu, struct vm_run *vmrun);
int	vm_suspend(struct vmctx *ctx, enum vm_suspend_how how);
int	vm_reinit(struct vmctx *ctx);
int	vm_restart_instruction(struct vcpu *vcpu);
int	vm_inject_exception(struct vcpu *vcpu, int vector, int errcode_valid,
	    uint32_t errcode, int restart_instruction);
int	vm_inject_nmi(struct vcpu *vcpu);
int	vm_get_capability(struct vcpu *vcpu, enum vm_cap_type cap, int *retval);
int	vm_set_capability(struct vcpu *vcpu, enum vm_cap_type cap, int val);
int	vm_capability_name2type(const char *capname);
const char *vm_capability_type2name(int type);
uint64_t *vm_get_stats(struct vcpu *vcpu, struct timeval *ret_tv, int *ret_entries);
const char *vm_get_stat_desc(struct vmctx *ctx, int index);
int	vcpu_reset(struct vcpu *vcpu);
int	vm_setup_freebsd_registers(struct vcpu *vcpu, uint64_t rip, uint64_t cr3,
	    uint64_t gdtbase, uint64_t rsp);
int	vm_activate_cpu(struct vcpu *vcpu);

/*
 * Interrupts (FreeBSD's calls), served by libvmm's LAPICs and IOAPIC while
 * a bhyve runs the VM (ENXIO otherwise).  vm_isa_*: lhyve has no 8259 yet,
 * so @atpic_irq only chooses the IOAPIC pin when @ioapic_irq is -1 (the
 * machine map: IRQ 0 on pin 2, the others on their own pin).
 * vm_lapic_local_irq: @vector is FreeBSD's LVT index (APIC_LVT_LINT0 0,
 * LINT1 1, TIMER 2, ERROR 3, PMC 4, THERMAL 5).
 */
enum x2apic_state {
	X2APIC_DISABLED,
	X2APIC_ENABLED,
	X2APIC_STATE_LAST
};
int	vm_lapic_irq(struct vcpu *vcpu, int vector);
int	vm_lapic_local_irq(struct vcpu *vcpu, int vector);
int	vm_lapic_msi(struct vmctx *ctx, uint64_t addr, uint64_t msg);
int	vm_ioapic_assert_irq(struct vmctx *ctx, int irq);
int	vm_ioapic_deassert_irq(struct vmctx *ctx, int irq);
int	vm_ioapic_pulse_irq(struct vmctx *ctx, int irq);
int	vm_ioapic_pincount(struct vmctx *ctx, int *pincount);
/*
 * lhyve: a guest write that signals an eventfd without an exit to
 * userland (KVM_IOEVENTFD), for devices' doorbells.  A write of @len bytes
 * (1, 2, 4, 8) to @addr, an I/O port with VM_IOEVENTFD_PIO, else
 * guest-physical, equal to @data with VM_IOEVENTFD_DATAMATCH, signals
 * eventfd @fd; VM_IOEVENTFD_DEASSIGN undoes that same call.  Only in the
 * process running the VM; ENOTSUP when the CPU backend has none (the
 * software CPU): the write then exits as any other.  vm_has_ioeventfd:
 * 1 when the backend offers it.
 */
#define VM_IOEVENTFD_PIO	0x1
#define VM_IOEVENTFD_DATAMATCH	0x2
#define VM_IOEVENTFD_DEASSIGN	0x4
int	vm_ioeventfd(struct vmctx *ctx, uint64_t addr, int len, uint64_t data, int fd, int flags);
int	vm_has_ioeventfd(struct vmctx *ctx);
/* The RTC and CMOS (libvmm's vrtc): bytes 0-127, the time in seconds. */
int	vm_rtc_write(struct vmctx *ctx, int offset, uint8_t value);
int	vm_rtc_read(struct vmctx *ctx, int offset, uint8_t *retval);
int	vm_rtc_settime(struct vmctx *ctx, time_t secs);
int	vm_rtc_gettime(struct vmctx *ctx, time_t *secs);
int	vm_isa_assert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);
int	vm_isa_deassert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);
int	vm_isa_pulse_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq);
int	vm_get_x2apic_state(struct vcpu *vcpu, enum x2apic_state *s);
int	vm_set_x2apic_state(struct vcpu *vcpu, enum x2apic_state s);
/* lhyve: the LAPIC of @vcpu as bhyvectl --get-lapic shows it. */
int	vm_get_lapic(struct vcpu *vcpu, struct vmm_lapic_info *li);

/* lhyve additions */
const char *vm_store_dir(void);		/* $VMM_DIR, /run/vmm or $XDG_RUNTIME_DIR/vmm */
int	vm_is_running(struct vmctx *ctx);	/* 1 if a bhyve runs it (this ctx is remote) */
long	vm_runner_pid(struct vmctx *ctx);	/* pid of that bhyve, or -1 */
const char *vm_backend_name(struct vmctx *ctx);
/* After vm_attach_backend: why "auto" chose the software CPU, or a warning; else "". */
const char *vm_backend_note(struct vmctx *ctx);
int	vm_save_state(struct vmctx *ctx);	/* write NAME/state now (owner only) */
/* Attach a CPU backend ("emu", "kvm", "auto") and serve NAME/ctl: bhyve does this. */
int	vm_attach_backend(struct vmctx *ctx, const char *backend);
/*
 * The CPU vendor the guest sees, "intel", "amd" or "host", set before
 * vm_attach_backend (EINVAL, EBUSY).  Without it the VM keeps the vendor it
 * last ran with, and a new one gets the host's.
 */
int	vm_set_cpu_vendor(struct vmctx *ctx, const char *vendor);
/*
 * Remove instance @name from the store without loading it, so that one whose
 * state or memory file is damaged can still be destroyed.  A running one is
 * stopped first (its bhyve exits with status 4); EBUSY if its owner does
 * not let go within 10 s.  The files are removed under NAME/lock.
 */
int	vm_destroy_name(const char *name);
/*
 * A running VM: stop it as if it had reset (bhyve exits 0).  A stopped one,
 * also one a dead bhyve left marked running: every vCPU back to RESET with
 * memory as it is, as a machine after a power cut, so it can run again.
 */
int	vm_force_reset(struct vmctx *ctx);
/*
 * Device snapshot hooks, owner only (see vmm_snapshot_register in
 * vmm/vmm_core.h): @restore runs at once if the instance holds state saved
 * under @name; @save runs at every save with every vCPU paused.
 */
typedef ssize_t vm_snapshot_save_t(void *arg, uint8_t *buf, size_t cap);
typedef int vm_snapshot_restore_t(void *arg, const uint8_t *data, size_t len);
int	vm_snapshot_register(struct vmctx *ctx, const char *name, vm_snapshot_save_t *save,
	    vm_snapshot_restore_t *restore, void *arg);
void	vm_snapshot_unregister(struct vmctx *ctx, const char *name);
/* One line saying why the last call of this thread failed. */
const char *vm_last_error(void);

#endif /* LHYVE_VMMAPI_H */
