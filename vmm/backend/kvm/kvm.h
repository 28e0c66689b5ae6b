/*
 * kvm.h - the KVM backend's private declarations (docs/kvm.md).
 *
 * vmm/backend/kvm/ is the only place in lhyve that includes <linux/kvm.h>.
 * The API is Linux's Documentation/virt/kvm/api.rst; section numbers below
 * refer to it ("api.rst 4.5") and to the SDM.
 *
 *   kvm.c        /dev/kvm checks, the VM, memory slots, CPUID, MSR filter,
 *                the ops table
 *   kvm_vcpu.c   vCPUs: KVM_RUN, completion of exits, kicks, injection,
 *                capabilities
 *   kvm_exit.c   the translation of struct kvm_run exits into struct vm_exit
 *                (a pure function, unit-tested without /dev/kvm)
 *   kvm_state.c  struct vm_cpu_state <-> regs, sregs, XSAVE, XCRs, MSRs,
 *                events, debug registers
 *   kvm_eventfd.c  KVM_IOEVENTFD: devices' doorbells without an exit
 *   kvm_lapic.c  KVM's LAPIC page <-> the store's LAPIC section (a pure
 *                conversion, unit-tested without /dev/kvm)
 */
#ifndef LHYVE_KVM_H
#define LHYVE_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm_backend.h"

/* The KVM capabilities lhyve cannot run without (checked by probe). */
struct kvm_required_cap {
	int		cap;
	const char	*name;
};
extern const struct kvm_required_cap kvm_required_caps[];

/*
 * struct kvm_msrs with room for two entries (api.rst 4.18), spelled out:
 * a struct ending in a flexible array cannot be a member of another.
 */
struct kvm_msrs2 {
	uint32_t		nmsrs;
	uint32_t		pad;
	struct kvm_msr_entry	e[2];
};
_Static_assert(offsetof(struct kvm_msrs2, e) == offsetof(struct kvm_msrs, entries),
    "struct kvm_msrs2 is struct kvm_msrs");

struct kvm_vm {
	int			sysfd;		/* /dev/kvm */
	int			vmfd;
	int			run_size;	/* KVM_GET_VCPU_MMAP_SIZE */
	struct vmm_cpu_profile	prof;
	struct kvm_cpuid2	*supported;	/* KVM_GET_SUPPORTED_CPUID */
	struct vmm_memmap	map;
	int			nslots;		/* memory slots in use */
	/* The prober (kvm_vcpu.c): finds vCPUs stuck in the kernel's HLT or wait-for-SIPI. */
	pthread_mutex_t		vcpus_mtx;
	struct kvm_vcpu		*vcpus[VM_MAXCPU];
	pthread_t		prober;
	bool			prober_on;
	bool			prober_stop;
	pthread_cond_t		prober_cv;
	/*
	 * Time (kvm_state.c): one TSC offset for every vCPU, chosen by the
	 * first whole-state load; kvmclock from the "kvmclock" section,
	 * set at that same moment.  Under tsc_mtx.
	 */
	struct vm		*vm;
	pthread_mutex_t		tsc_mtx;
	bool			tsc_attr;	/* KVM_VCPU_TSC_OFFSET (api.rst 4.1 vCPU attributes) */
	bool			tsc_chosen;
	int64_t			tsc_offset;	/* with tsc_attr: the VM's offset */
	uint64_t		tsc_base;	/* without: the TSC written first ... */
	uint64_t		tsc_base_ns;	/* ... at this CLOCK_MONOTONIC_RAW time */
	bool			clock_saved;	/* a "kvmclock" section was restored */
	uint64_t		clock_ns;	/* its kvmclock */
	uint64_t		clock_tsc0;	/* and vCPU 0's TSC in the same cut */
	bool			hook;		/* the "kvmclock" snapshot hook is registered */
	size_t			xsave_size;	/* struct kvm_xsave as KVM_CAP_XSAVE2 says (kvm_state.c) */
};

/*
 * What the kernel holds for the last exit (api.rst 5, "kvm_run"): KVM
 * finishes an IO, MMIO or MSR exit only at the next KVM_RUN, from the data
 * userspace left in struct kvm_run.
 */
enum kvm_pending {
	KVM_PENDING_NONE,
	KVM_PENDING_EXIT,	/* exit returned, userland has not completed it */
	KVM_PENDING_DONE,	/* complete() filled kvm_run; KVM_RUN finishes it */
	KVM_PENDING_QUEUED,	/* finishing one exit raised the next: run() returns it */
};

struct kvm_vcpu {
	struct kvm_vm		*vm;
	int			id;
	int			fd;
	struct kvm_run		*run;
	enum kvm_pending	pending;
	uint32_t		last_reason;	/* exit_reason of the pending exit */
	uint64_t		rip;		/* KVM's RIP as last seen or set */
	uint64_t		exit_rip;	/* RIP KVM reported with the pending exit */
	/* String I/O: KVM hands over 'count' elements at once; lhyve exits once per element. */
	uint32_t		io_index;
	uint32_t		io_count;
	int			mtrap;		/* VM_CAP_MTRAP_EXIT: single-step */
	int			pause_exit;	/* VM_CAP_PAUSE_EXIT (KVM yields in the kernel) */
	/* Kicks (kvm_vcpu.c): the thread inside run(), if any. */
	pthread_mutex_t		kick_mtx;
	bool			in_run;
	pthread_t		thread;
	atomic_int		kicked;
	/* Interrupts (kvm_vcpu.c): libvmm's source, for the 8259's ExtINT and level EOIs. */
	struct vmm_intr_source	src;
	bool			has_src;
	/* The prober: KVM_RUN calls (under kick_mtx), its last look, its signal. */
	uint64_t		runs;
	uint64_t		probe_seen;
	atomic_int		probe;
	bool			stuck;		/* as last reported to libvmm (VM_EXITCODE_HLT) */
	/*
	 * The save's cut (kvm_vcpu.c timer_flush): a one-shot LAPIC count was
	 * running when get_state flushed KVM's pending timers, at KVM_RUN
	 * call cut_runs.  lapic_save reads it to find a count that ran out
	 * after.
	 */
	bool			cut_valid;
	bool			cut_counting;
	uint64_t		cut_runs;
	struct vm_backend_stats	stats;
};

/* kvm_exit.c: translate the exit in @run into @vme.  rip: KVM's RIP after the exit. */
struct kvm_exit_info {
	uint64_t	rip;
	uint64_t	rflags;
	int		vcpuid;
	bool		mtrap;		/* single-stepping for VM_CAP_MTRAP_EXIT */
	uint32_t	io_index;	/* element of a string I/O exit */
};
void	kvm_exit_translate(const struct kvm_run *run, const struct kvm_exit_info *ei,
	    struct vm_exit *vme);
/* The name of a KVM_EXIT_* reason, or NULL. */
const char *kvm_exit_name(uint32_t reason);
/* A KVM_EXIT_IO element's value and where it lives in the kvm_run page. */
uint32_t kvm_io_value(const struct kvm_run *run, uint32_t index);
void	kvm_io_store(struct kvm_run *run, uint32_t index, uint32_t value);

/* kvm_state.c */
int	kvm_state_get(struct kvm_vcpu *vc, struct vm_cpu_state *st);
/* Which parts of a state to load (set_reg loads only what the register touches). */
#define KVM_ST_REGS	0x01
#define KVM_ST_SREGS	0x02
#define KVM_ST_FPU	0x04
#define KVM_ST_MSRS	0x08
#define KVM_ST_EVENTS	0x10
#define KVM_ST_DEBUG	0x20
#define KVM_ST_TSC	0x40	/* the TSC MSR: only with the whole state */
#define KVM_ST_MP	0x80	/* the activity state (mp_state: the LAPIC is KVM's) */
#define KVM_ST_ALL	0xff
int	kvm_state_set(struct kvm_vcpu *vc, const struct vm_cpu_state *st, int parts);
/* The parts of the state that register @reg (enum vm_reg_name) lives in. */
int	kvm_state_reg_parts(int reg);
/* One line: the registers and the bytes at RIP, for a failure report. */
void	kvm_state_dump(struct kvm_vcpu *vc, char *buf, size_t len);

/*
 * kvm_lapic.c: KVM's local APIC (api.rst 4.57 KVM_GET_LAPIC) and what goes
 * with it, to and from the store's LAPIC section (docs/store.md).
 */
struct kvm_lapic_image {
	struct kvm_lapic_state	regs;		/* the register page */
	uint64_t		apic_base;	/* IA32_APIC_BASE (1BH) */
	uint64_t		tsc_deadline;	/* IA32_TSC_DEADLINE (6E0H) */
	uint64_t		tsc;		/* the guest's TSC when regs was read */
	uint32_t		tsc_khz;	/* its rate, > 0 */
	uint32_t		apic_id;	/* the vCPU's initial APIC ID */
	bool			x2apic_format;	/* KVM_X2APIC_API_USE_32BIT_IDS is on */
	/*
	 * The one-shot count ran out after the save's cut and its interrupt
	 * is still only counted in KVM (kvm_vcpu.c timer_flush): due now.
	 */
	bool			oneshot_due;
};
#define KVM_LAPIC_SECTION_SIZE	208
/* The section's bytes into @buf: its length (KVM_LAPIC_SECTION_SIZE), or -errno and why. */
ssize_t	kvm_lapic_to_section(const struct kvm_lapic_image *k, uint8_t *buf, size_t cap,
	    int vcpu);
/*
 * The section into @k, whose regs hold KVM's page as it is (registers the
 * section has no word on stay) and whose apic_id, tsc, tsc_khz and
 * x2apic_format are set; fills regs, apic_base, tsc_deadline.  0, or
 * -errno with the reason in vmm_store_strerror().
 */
int	kvm_lapic_from_section(struct kvm_lapic_image *k, const uint8_t *data, size_t len,
	    int vcpu);

/* kvm_state.c: the VM's kvmclock as the store's "kvmclock" DEVICE section (docs/store.md). */
ssize_t	kvm_clock_save(void *arg, uint8_t *buf, size_t cap);
int	kvm_clock_restore(void *arg, const uint8_t *data, size_t len);
#define KVM_CLOCK_SECTION	"kvmclock"

/* kvm.c */
int	kvm_vcpu_set_cpuid(struct kvm_vcpu *vc);
/* The host address of guest-physical [gpa, gpa + len), or NULL. */
uint8_t	*kvm_gpa_hva(struct kvm_vm *kvm, uint64_t gpa, uint64_t len);

/* kvm_vcpu.c */
int	kvm_vcpu_init(void *vmcookie, struct vm_vcpu *vcpu, int vcpuid, void **vcpucookie);
void	kvm_vcpu_cleanup(void *vcpucookie);
int	kvm_vcpu_run(void *vcpucookie, uint64_t rip, struct vm_exit *vme);
int	kvm_vcpu_complete(void *vcpucookie, const struct vm_exit *vme);
void	kvm_vcpu_kick(void *vcpucookie);
int	kvm_vcpu_get_state(void *vcpucookie, struct vm_cpu_state *st);
int	kvm_vcpu_set_state(void *vcpucookie, const struct vm_cpu_state *st);
int	kvm_vcpu_get_reg(void *vcpucookie, int reg, uint64_t *val);
int	kvm_vcpu_set_reg(void *vcpucookie, int reg, uint64_t val);
int	kvm_vcpu_get_desc(void *vcpucookie, int reg, struct seg_desc *desc);
int	kvm_vcpu_set_desc(void *vcpucookie, int reg, const struct seg_desc *desc);
int	kvm_vcpu_inject_exception(void *vcpucookie, int vector, int errcode_valid,
	    uint32_t errcode, int restart_instruction);
int	kvm_vcpu_inject_nmi(void *vcpucookie);
int	kvm_vcpu_set_intr_source(void *vcpucookie, const struct vmm_intr_source *src);
int	kvm_vcpu_get_cap(void *vcpucookie, int type, int *val);
int	kvm_vcpu_set_cap(void *vcpucookie, int type, int val);
void	kvm_vcpu_get_stats(void *vcpucookie, struct vm_backend_stats *stats);
/* Install the kick signal's handler (once per process). */
int	kvm_kick_signal_init(void);
/* The prober thread of a VM: start with its first vCPU, stop before cleanup. */
int	kvm_prober_start(struct kvm_vm *kvm);
void	kvm_prober_stop(struct kvm_vm *kvm);
int	kvm_vm_msi(void *vmcookie, uint64_t addr, uint32_t data);
int	kvm_vm_ioapic_routes(void *vmcookie, const struct vmm_msi_route *r, int n);
int	kvm_vcpu_lapic_info(void *vcpucookie, struct vmm_lapic_info *li);
ssize_t	kvm_vcpu_lapic_save(void *vcpucookie, uint8_t *buf, size_t cap);
int	kvm_vcpu_lapic_restore(void *vcpucookie, const uint8_t *data, size_t len);

/* kvm_eventfd.c: KVM_IOEVENTFD (vmm_backend_ops.ioeventfd). */
int	kvm_vm_ioeventfd(void *vmcookie, uint64_t addr, int len, uint64_t data, int fd,
	    int flags);

#endif /* LHYVE_KVM_H */
