/*
 * vmm_core.h - libvmm: an opened instance, its vCPUs and the run loop.
 *
 * This is the "kernel" half of lhyve (bhyve's vmm.ko).  libvmmapi is its only
 * user.  An instance is opened by one owning process (it holds NAME/lock).
 * Until a backend is attached (vmm_attach_backend, done by the process that
 * runs the guest), register state lives in the loaded image and edits go
 * straight back to NAME/state; once attached, it lives in the backend and is
 * written back by vmm_save().
 *
 * Threads: one thread per running vCPU calls vmm_run(); any thread may call
 * the accessors, which pull the vCPU out of the backend first (reqidle).
 */
#ifndef LHYVE_VMM_CORE_H
#define LHYVE_VMM_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmm.h"
#include "vmm_backend.h"
#include "vmm_store.h"

struct vm;

/* Open @name as its owner.  -EBUSY if another process owns it. */
int	vmm_open(const char *name, struct vm **vmp);
/* Save (if changed) and release.  Returns the save error, if any. */
int	vmm_close(struct vm *vm);
int	vmm_save(struct vm *vm);
/* Remove the instance's files while still holding its lock, and free @vm. */
int	vmm_destroy(struct vm *vm);
const char *vmm_name(struct vm *vm);
/*
 * Crash consistency (docs/store.md): 1 if the state says a process was
 * running the instance when it stopped saving (it died), with its pid and
 * whether that was in this boot of the host; else 0.
 */
int	vmm_left_running(struct vm *vm, long *pid, bool *same_boot);
/* Every vCPU back to RESET, memory as it is, the mark cleared; no backend. */
int	vmm_force_reset(struct vm *vm);

/*
 * Pause all vCPUs at an instruction boundary and hold them (a consistent
 * cut for saves and snapshots); resume lets them go.  No vmm_* accessor of
 * a vCPU may be called in between from the same thread.
 */
void	vmm_pause_all(struct vm *vm);
void	vmm_resume_all(struct vm *vm);

/*
 * Device snapshot hooks: a device registers a name (at most 15 characters)
 * and two functions.  Registering restores the device from the instance's
 * DEVICE section of that name, if there is one (its error fails the call).
 * Every save, with all vCPUs paused, calls save(arg, buf, cap), which
 * returns the bytes of state (calling again with a larger buffer when that
 * is more than cap) or a negative errno.  Unregister with the name, or NULL
 * for all (devices stuck in I/O: their last saved sections are kept).
 */
#define VMM_SNAPSHOT_MAX	32
typedef ssize_t vmm_snapshot_save_t(void *arg, uint8_t *buf, size_t cap);
typedef int vmm_snapshot_restore_t(void *arg, const uint8_t *data, size_t len);
int	vmm_snapshot_register(struct vm *vm, const char *name, vmm_snapshot_save_t *save,
	    vmm_snapshot_restore_t *restore, void *arg);
void	vmm_snapshot_unregister(struct vm *vm, const char *name);

/*
 * Pick the CPU backend: "emu", "kvm" or "auto" (docs/kvm.md).  A negative
 * errno with a reason when it cannot run; @note: why auto did not pick KVM,
 * or a warning for kvm on PVM, else "".
 */
int	vmm_backend_lookup(const char *name, const struct vmm_backend_ops **opsp, char *note,
	    size_t notelen);
int	vmm_attach_backend(struct vm *vm, const char *backend);
/*
 * The CPU vendor the guest sees: "intel", "amd" or "host"; before a backend
 * is attached.  Without it a VM keeps the vendor it last ran with, and a new
 * one gets the host's.  -EINVAL (unknown name), -EBUSY (backend attached).
 */
int	vmm_set_cpu_vendor(struct vm *vm, const char *vendor);
const char *vmm_cpu_vendor(struct vm *vm);	/* "" until chosen */
const char *vmm_backend_name(struct vm *vm);
/* The note of the last vmm_attach_backend ("" when there is nothing to say). */
const char *vmm_backend_note(struct vm *vm);

/* Memory */
int	vmm_setup_memory(struct vm *vm, uint64_t len, int memflags);
uint8_t	*vmm_gpa_map(struct vm *vm, uint64_t gpa, uint64_t len);
/*
 * A device (DMA) wrote guest RAM [gpa, gpa + len) through a vmm_gpa_map
 * pointer: the software CPU re-decodes any code there.  Thread safe.
 */
void	vmm_mem_written(struct vm *vm, uint64_t gpa, uint64_t len);
void	vmm_mem_layout(struct vm *vm, uint64_t *lowmem, uint64_t *highmem);
int	vmm_get_memflags(struct vm *vm);
int	vmm_get_ncpus(struct vm *vm);
int	vmm_set_ncpus(struct vm *vm, int ncpus);
/*
 * CPU topology for the CPUID leaves (vmm_cpuid.h), before the backend
 * starts: sockets x cores x threads must be the vCPU count.  Kept in the
 * store (docs/store.md "The CPU topology"): -EBUSY for another topology
 * while the guest has run since bhyveload.  get: the instance's when it
 * fits the vCPU count, else one socket of single-thread cores.
 */
int	vmm_set_topology(struct vm *vm, int sockets, int cores, int threads);
void	vmm_get_topology(struct vm *vm, int *sockets, int *cores, int *threads);

/* vCPU state (vcpuid checked; -EINVAL for a bad id or register) */
int	vmm_get_reg(struct vm *vm, int vcpuid, int reg, uint64_t *val);
int	vmm_set_reg(struct vm *vm, int vcpuid, int reg, uint64_t val);
int	vmm_get_desc(struct vm *vm, int vcpuid, int reg, struct seg_desc *desc);
int	vmm_set_desc(struct vm *vm, int vcpuid, int reg, const struct seg_desc *desc);
int	vmm_get_cap(struct vm *vm, int vcpuid, int cap, int *val);
int	vmm_set_cap(struct vm *vm, int vcpuid, int cap, int val);
int	vmm_inject_exception(struct vm *vm, int vcpuid, int vector, int errcode_valid,
	    uint32_t errcode, int restart);
int	vmm_inject_nmi(struct vm *vm, int vcpuid);
int	vmm_vcpu_reset(struct vm *vm, int vcpuid);
int	vmm_restart_instruction(struct vm *vm, int vcpuid);
int	vmm_get_stats(struct vm *vm, int vcpuid, uint64_t stats[VMST_COUNT]);
int	vmm_activate_cpu(struct vm *vm, int vcpuid);

/*
 * Interrupts (vmm_intr.c; FreeBSD's vmm_lapic.c/vmm_ioapic.c calls), while a
 * backend is attached (-ENXIO before).  @op: VMM_IRQ_ASSERT, _DEASSERT,
 * _PULSE.  vmm_isa_irq: @ioapic_irq -1 takes the machine map's pin.
 */
struct vmm_lapic_info;
int	vmm_lapic_irq(struct vm *vm, int vcpuid, int vector);
int	vmm_lapic_local_irq(struct vm *vm, int vcpuid, int lvt);
int	vmm_lapic_msi(struct vm *vm, uint64_t addr, uint64_t msg);
/* vmm_backend.h's ioeventfd (flags VMM_IOEVENTFD_*); -ENOTSUP without one. */
int	vmm_ioeventfd(struct vm *vm, uint64_t addr, int len, uint64_t data, int fd, int flags);
bool	vmm_has_ioeventfd(struct vm *vm);
int	vmm_ioapic_irq(struct vm *vm, int pin, int op);
int	vmm_isa_irq(struct vm *vm, int atpic_irq, int ioapic_irq, int op);
int	vmm_ioapic_pincount(struct vm *vm);
int	vmm_rtc_read(struct vm *vm, int offset, uint8_t *val);
int	vmm_rtc_write(struct vm *vm, int offset, uint8_t val);
int	vmm_rtc_settime(struct vm *vm, int64_t secs);
int	vmm_rtc_gettime(struct vm *vm, int64_t *secs);
int	vmm_get_x2apic_state(struct vm *vm, int vcpuid, int *state);
int	vmm_set_x2apic_state(struct vm *vm, int vcpuid, int state);
int	vmm_lapic_info(struct vm *vm, int vcpuid, struct vmm_lapic_info *li);

/*
 * Run @vcpuid until an exit userland must handle.  @vme carries the
 * previous exit completed by userland (IN data, MMIO read data) and
 * receives the next one.
 */
int	vmm_run(struct vm *vm, int vcpuid, struct vm_exit *vme);
int	vmm_suspend(struct vm *vm, enum vm_suspend_how how);
enum vm_suspend_how vmm_suspended(struct vm *vm);
int	vmm_reinit(struct vm *vm);

/* Control socket (vmm_ctl.c): served while a backend is attached. */
int	vmm_ctl_start(struct vm *vm);
void	vmm_ctl_stop(struct vm *vm);

#endif /* LHYVE_VMM_CORE_H */
