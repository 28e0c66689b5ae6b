/*
 * vmm_backend.h - the seam between libvmm and a CPU backend (KVM or the
 * software CPU), in the spirit of bhyve's struct vmm_ops (Intel or AMD).
 *
 * The rest of libvmm never names a backend; a backend never names a device.
 * Both backends fill the same struct vm_exit, so userland cannot tell which
 * one ran.
 *
 * Concurrency: run() is called only by the vCPU's own thread with the vCPU's
 * lock held.  get/set_state, get/set_reg and get/set_desc are called with the
 * same lock held, so never concurrently with run() on the same vCPU.  kick()
 * may be called from any thread at any time, including while run() executes.
 */
#ifndef LHYVE_VMM_BACKEND_H
#define LHYVE_VMM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "vmm.h"
#include "vmm_cpuid.h"

/* One segment register as the architecture keeps it (selector + hidden part). */
struct vm_seg {
	uint64_t	base;
	uint32_t	limit;		/* byte granular, as in struct seg_desc */
	uint32_t	access;		/* VMCS access-rights layout, see vmm.h */
	uint16_t	sel;
	uint16_t	pad[3];
};

/* Segment register indexes: hardware encoding order (SDM Vol. 2A 3.1.1.3 Sreg). */
enum vm_segidx { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };

/* General registers: hardware encoding order (RAX=0 ... R15=15). */
enum vm_gpridx {
	GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
	GPR_COUNT
};

/*
 * XSAVE state components lhyve keeps (SDM Vol. 1 13.1, 13.4.1): bit, and
 * offset and size in the standard format (CPUID.(EAX=0DH,ECX=i)).
 */
#define VM_XSTATE_X87		(1ULL << 0)
#define VM_XSTATE_SSE		(1ULL << 1)
#define VM_XSTATE_AVX		(1ULL << 2)	/* YMM0-15 upper halves: 576, 256 */
#define VM_XSTATE_OPMASK	(1ULL << 5)	/* k0-k7: 1088, 64 */
#define VM_XSTATE_ZMM_HI256	(1ULL << 6)	/* ZMM0-15 upper halves: 1152, 512 */
#define VM_XSTATE_HI16_ZMM	(1ULL << 7)	/* ZMM16-31: 1664, 1024 */
#define VM_XSTATE_AVX512	(VM_XSTATE_OPMASK | VM_XSTATE_ZMM_HI256 | VM_XSTATE_HI16_ZMM)
#define VM_XSTATE_XTILECFG	(1ULL << 17)	/* AMX TILECFG: 2752, 64 */
#define VM_XSTATE_XTILEDATA	(1ULL << 18)	/* AMX TMM0-7: 2816, 8192 */
#define VM_XSTATE_AMX		(VM_XSTATE_XTILECFG | VM_XSTATE_XTILEDATA)
#define VM_XSTATE_EXT		(VM_XSTATE_AVX | VM_XSTATE_AVX512 | VM_XSTATE_AMX)
#define VM_XSTATE_ALL		(VM_XSTATE_X87 | VM_XSTATE_SSE | VM_XSTATE_EXT)
#define VM_XSAVE_LEGACY		576	/* legacy region (512) and XSAVE header (64) */
#define VM_XSAVE_END		11008	/* the end of XTILEDATA */

/* Offset and size of kept extended component @bit (2, 5-7, 17, 18); false for others. */
static inline bool
vm_xstate_layout(int bit, uint32_t *off, uint32_t *size)
{
	switch (bit) {
	case 2: *off = 576; *size = 256; return true;
	case 5: *off = 1088; *size = 64; return true;
	case 6: *off = 1152; *size = 512; return true;
	case 7: *off = 1664; *size = 1024; return true;
	case 17: *off = 2752; *size = 64; return true;
	case 18: *off = 2816; *size = 8192; return true;
	default: return false;
	}
}

/*
 * An XCR0 value XSETBV accepts, as far as lhyve's components go (SDM Vol. 1
 * 13.3): x87 always; AVX needs SSE; the three AVX-512 components together
 * and with AVX; the two AMX components together.
 */
static inline bool
vm_xcr0_valid(uint64_t xcr0)
{
	return (xcr0 & VM_XSTATE_X87) &&
	    (!(xcr0 & VM_XSTATE_AVX) || (xcr0 & VM_XSTATE_SSE)) &&
	    (!(xcr0 & VM_XSTATE_AVX512) || ((xcr0 & VM_XSTATE_AVX512) == VM_XSTATE_AVX512 &&
	    (xcr0 & VM_XSTATE_AVX))) &&
	    ((xcr0 & VM_XSTATE_AMX) == 0 || (xcr0 & VM_XSTATE_AMX) == VM_XSTATE_AMX);
}

/*
 * The whole architectural state of one vCPU, as saved in the instance store.
 * In memory only: the state file's sections have their own layout
 * (vmm_state.c, docs/store.md).
 */
struct vm_cpu_state {
	uint64_t	gpr[GPR_COUNT];
	uint64_t	rip;
	uint64_t	rflags;
	uint64_t	cr0, cr2, cr3, cr4, cr8;
	uint64_t	efer;
	uint64_t	dr[8];			/* DR0-DR3, (4,5 unused), DR6, DR7 */
	struct vm_seg	seg[SEG_COUNT];
	struct vm_seg	gdtr, idtr;		/* base and limit only */
	/* MSRs (SDM Vol. 4) */
	uint64_t	star, lstar, cstar, sfmask, kgs_base;
	uint64_t	sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t	pat, apic_base, tsc, tsc_aux, misc_enable;
	uint64_t	pdpte[4];
	uint32_t	intr_shadow;		/* blocking by STI / MOV SS */
	/* Activity state, VMX's encoding (SDM Vol. 3C 25.4.2): VM_ACTIVITY_*. */
	uint32_t	halted;
	/* An exception or interrupt accepted but not yet delivered. */
	uint32_t	pending_valid;
	uint32_t	pending_vector;
	uint32_t	pending_errcode_valid;
	uint32_t	pending_errcode;
	uint32_t	nmi_pending;
	uint32_t	pad0;
	uint8_t		fxsave[512];		/* x87/SSE state, FXSAVE layout (SDM Vol. 1 10.5.1) */
	uint64_t	xcr0;
	/* MTRRs (SDM Vol. 3A 12.11): MTRRdefType, the 11 fixed-range MSRs, 8 variable pairs */
	uint64_t	mtrr_deftype;
	uint64_t	mtrr_fixed[11];		/* 250, 258, 259, 268-26F */
	uint64_t	mtrr_var[16];		/* PhysBase0, PhysMask0, ... PhysMask7 (200-20F) */
	uint64_t	tsc_adjust;		/* IA32_TSC_ADJUST (3BH) */
	uint64_t	spec_ctrl;		/* IA32_SPEC_CTRL (48H) */
	uint64_t	hwcr;			/* AMD HWCR (C001_0015H) */
	uint64_t	kvm_system_time;	/* MSR_KVM_SYSTEM_TIME_NEW: pvclock page | enable */
	uint64_t	kvm_wall_clock;		/* MSR_KVM_WALL_CLOCK_NEW (the same on every vCPU) */
	uint64_t	xfd, xfd_err;		/* IA32_XFD (1C4H), IA32_XFD_ERR (1C5H): AMX, KVM only */
	uint64_t	reserved[13];
	/*
	 * XSAVE state components beyond x87 and SSE (SDM Vol. 1 13.1), which
	 * the KVM backend offers where the host has them (docs/kvm.md
	 * "XSAVE"); the software CPU has none.  xstate_bv is the area's
	 * XSTATE_BV for them: a bit set means xsave_ext holds the component,
	 * clear means it is in its initial configuration (13.6).  xsave_ext
	 * is the standard-format area from byte 576 on, at the offsets every
	 * processor with these components reports in CPUID 0DH (VM_XSAVE_*).
	 */
	uint64_t	xstate_bv;
	uint8_t		xsave_ext[VM_XSAVE_END - VM_XSAVE_LEGACY];
};

#define VM_ACTIVITY_ACTIVE	0
#define VM_ACTIVITY_HLT		1
#define VM_ACTIVITY_WAIT_SIPI	3	/* an AP after RESET or INIT (SDM Vol. 3A 9.4) */

/* Counters every backend keeps per vCPU; libvmm adds its own after these. */
struct vm_backend_stats {
	uint64_t	insns_retired;		/* emu: instructions executed; kvm: 0 */
	uint64_t	tlb_flushes;
	uint64_t	backend_entries;	/* calls to run() */
};

struct vm;
struct vm_vcpu;

/*
 * Where a vCPU's external interrupts come from (its local APIC, vmm/io, or
 * the 8259 through ExtINT).  The CPU asks at an instruction boundary where
 * an interrupt may be taken: RFLAGS.IF set, no STI or MOV SS shadow (SDM
 * Vol. 3A 6.8.3), no higher-priority event pending (6.9).  pending()
 * returns the vector the source would deliver now (16-255), or -1;
 * accept() says it is being delivered (the LAPIC moves it from IRR to
 * ISR).  Both run on the vCPU's thread.  @hint, when not NULL, is non-zero
 * whenever pending() may return a vector: the CPU reads it (one relaxed
 * load) at each boundary and calls pending() only when it is set.  It is
 * set before a new interrupt's sender wakes or kicks the vCPU.
 */
struct vmm_intr_source {
	int	(*pending)(void *arg);
	void	(*accept)(void *arg, int vector);
	void	*arg;
	const atomic_int *hint;
	/*
	 * Optional: the LAPIC's TPR, which MOV CR8 reads and writes as
	 * CR8[3:0] = TPR[7:4] (SDM Vol. 3A 11.8.6.1).  NULL: CR8 is a plain
	 * register.
	 */
	uint8_t	(*get_tpr)(void *arg);
	void	(*set_tpr)(void *arg, uint8_t tpr);
	/*
	 * For a backend whose local APICs are its own (vmm_backend_ops.msi):
	 * the guest EOId level-triggered @vector, which libvmm's IOAPIC
	 * takes as the end of the line's interrupt (82093AA 3.2.4).  Such a
	 * backend asks pending() only for the 8259's ExtINT (the BSP).
	 */
	void	(*eoi)(void *arg, int vector);
	/*
	 * Optional: assert FERR# (an unmasked x87 exception with CR0.NE
	 * clear), which a PC/AT routes to ISA IRQ 13; a write to port F0H
	 * deasserts it (vmm_platform.c).
	 */
	void	(*ferr)(void *arg);
};

/* An interrupt message (SDM Vol. 3A 11.11): the IOAPIC's pins as MSIs. */
struct vmm_msi_route {
	uint64_t	addr;		/* FEEx_xxxxH */
	uint32_t	data;
	uint32_t	valid;		/* 0: the pin is masked */
};

struct vmm_memseg {
	uint64_t	gpa;
	uint64_t	len;
	uint8_t		*hva;			/* host mapping of [gpa, gpa+len) */
};

/* RAM as the backends see it; fixed while any vCPU runs. */
struct vmm_memmap {
	int			nsegs;
	struct vmm_memseg	seg[2];		/* lowmem, highmem */
};

struct vmm_backend_ops {
	const char *name;
	/*
	 * XSAVE state components (XCR0 bits) its vCPUs can have at most:
	 * libvmm refuses a saved state beyond them in one line.  The host
	 * may offer fewer (KVM then refuses the XCR0).
	 */
	uint64_t xstate;
	/*
	 * 0 when this backend can run on this host, else a negative errno
	 * with the reason in vmm_store_strerror().  1: it can run, but "auto"
	 * must not pick it (KVM on a PVM host), the reason likewise.
	 */
	int	(*probe)(void);
	/* @prof: the vendor and features the guest sees, fixed for the VM's life. */
	int	(*vm_init)(struct vm *vm, const struct vmm_cpu_profile *prof, void **vmcookie);
	void	(*vm_cleanup)(void *vmcookie);
	/* Guest RAM changed (vm_setup_memory); called with no vCPU running. */
	int	(*vm_memmap)(void *vmcookie, const struct vmm_memmap *map);
	/*
	 * Guest RAM [gpa, gpa + len) was written by something other than a vCPU
	 * (device DMA, a debugger): a backend that keeps translated code of it
	 * drops that.  Thread safe; may be NULL (KVM needs nothing).
	 */
	void	(*mem_written)(void *vmcookie, uint64_t gpa, uint64_t len);
	int	(*vcpu_init)(void *vmcookie, struct vm_vcpu *vcpu, int vcpuid, void **vcpucookie);
	void	(*vcpu_cleanup)(void *vcpucookie);
	/*
	 * Run from @rip until something needs libvmm or userland.  Returns 0 with
	 * *vme filled, or a negative errno for a backend failure.  vme->rip is the
	 * address of the exiting instruction and vme->inst_length its length, so
	 * that libvmm resumes at rip + inst_length (bhyve's nextrip).
	 */
	int	(*run)(void *vcpucookie, uint64_t rip, struct vm_exit *vme);
	/*
	 * Userland finished the exit @vme (the last one run() returned): for
	 * INOUT in, u.inout.eax holds the data; for INST_EMUL reads, u.mmio.data;
	 * for RDMSR, u.msr.wval.  Called before the next run().
	 */
	int	(*complete)(void *vcpucookie, const struct vm_exit *vme);
	/* Make a running run() return (with VM_EXITCODE_BOGUS) soon.  Thread safe. */
	void	(*kick)(void *vcpucookie);
	int	(*get_state)(void *vcpucookie, struct vm_cpu_state *st);
	int	(*set_state)(void *vcpucookie, const struct vm_cpu_state *st);
	int	(*get_reg)(void *vcpucookie, int reg, uint64_t *val);
	int	(*set_reg)(void *vcpucookie, int reg, uint64_t val);
	int	(*get_desc)(void *vcpucookie, int reg, struct seg_desc *desc);
	int	(*set_desc)(void *vcpucookie, int reg, const struct seg_desc *desc);
	/* Queue an exception (vector < 32) or NMI (vector 2) for delivery on next run. */
	int	(*inject_exception)(void *vcpucookie, int vector, int errcode_valid,
		    uint32_t errcode, int restart_instruction);
	int	(*inject_nmi)(void *vcpucookie);
	/* Attach (or with NULL detach) the vCPU's external interrupt source. */
	int	(*set_intr_source)(void *vcpucookie, const struct vmm_intr_source *src);
	int	(*get_cap)(void *vcpucookie, int type, int *val);
	int	(*set_cap)(void *vcpucookie, int type, int val);
	void	(*get_stats)(void *vcpucookie, struct vm_backend_stats *stats);
	/*
	 * The guest's TSC now (VMM_TSC_HZ ticks per second), for the LAPIC's
	 * TSC-deadline timer.  Same lock rules as get_reg.  May be NULL: libvmm
	 * then reads it through get_state.
	 */
	uint64_t (*get_tsc)(void *vcpucookie);
	/*
	 * Optional: the backend has the local APICs (KVM's in-kernel LAPIC
	 * with the split irqchip, docs/kvm.md "Interrupts").  libvmm then
	 * keeps the IOAPIC, 8259 and timers (vmm/io), hands every message for
	 * a LAPIC to msi(), and the backend serves the LAPIC page, the APIC
	 * MSRs, INIT-SIPI and HLT itself.  run() then returns VM_EXITCODE_HLT
	 * only to say whether the vCPU is stuck (HLT with RFLAGS.IF clear, or
	 * waiting for SIPI: u.hlt.rflags with IF clear) or no longer is (IF
	 * set); it never sleeps in libvmm.  get_state's halted is the
	 * backend's.  NULL: libvmm's own LAPICs serve the vCPUs.
	 */
	int	(*msi)(void *vmcookie, uint64_t addr, uint32_t data);
	/* The IOAPIC's 24 pins as messages, so that level EOIs come back (eoi). */
	int	(*ioapic_routes)(void *vmcookie, const struct vmm_msi_route *r, int n);
	/* bhyvectl --get-lapic; same lock rules as get_reg. */
	int	(*lapic_info)(void *vcpucookie, struct vmm_lapic_info *li);
	/*
	 * Optional: a guest write of @len bytes (1, 2, 4 or 8) to @addr, an
	 * I/O port with VMM_IOEVENTFD_PIO, else a guest-physical address,
	 * and equal to @data with VMM_IOEVENTFD_DATAMATCH, signals eventfd
	 * @fd, and the vCPU goes on without an exit (KVM_IOEVENTFD).
	 * VMM_IOEVENTFD_DEASSIGN removes that same registration.  Thread
	 * safe, any time after vm_init.  NULL (the software CPU): every
	 * such write exits as before.
	 */
	int	(*ioeventfd)(void *vmcookie, uint64_t addr, int len, uint64_t data, int fd,
		    int flags);
	/*
	 * With msi: the vCPU's local APIC as the store's LAPIC section (the
	 * software CPU's format, docs/store.md), so a save on either backend
	 * restores on the other.  lapic_save returns the section's length
	 * (more than @cap: call again with that room) or -errno;
	 * lapic_restore 0 or -errno, the reason in vmm_store_strerror().
	 * Called after set_state (APIC_BASE is in it); same lock rules as
	 * get_state.
	 */
	ssize_t	(*lapic_save)(void *vcpucookie, uint8_t *buf, size_t cap);
	int	(*lapic_restore)(void *vcpucookie, const uint8_t *data, size_t len);
};

#define VMM_IOEVENTFD_PIO	0x1
#define VMM_IOEVENTFD_DATAMATCH	0x2
#define VMM_IOEVENTFD_DEASSIGN	0x4

extern const struct vmm_backend_ops vmm_backend_emu;
extern const struct vmm_backend_ops vmm_backend_kvm;	/* vmm/backend/kvm, docs/kvm.md */

/*
 * Helpers libvmm gives the backends (vmm/vmm_cpustate.c): register access on
 * a struct vm_cpu_state by enum vm_reg_name, so each backend needs only
 * get_state/set_state-shaped storage.  Return 0 or -EINVAL.
 */
int	vm_cpu_state_get_reg(const struct vm_cpu_state *st, int reg, uint64_t *val);
int	vm_cpu_state_set_reg(struct vm_cpu_state *st, int reg, uint64_t val);
int	vm_cpu_state_get_desc(const struct vm_cpu_state *st, int reg, struct seg_desc *d);
int	vm_cpu_state_set_desc(struct vm_cpu_state *st, int reg, const struct seg_desc *d);
/* The state of a vCPU after RESET (SDM Vol. 3A 9.1.1, table 9-1). */
void	vm_cpu_state_reset(struct vm_cpu_state *st, int vcpuid);

#endif /* LHYVE_VMM_BACKEND_H */
