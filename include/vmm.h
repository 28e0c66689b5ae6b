/*
 * vmm.h - the ABI between libvmm (the "kernel" part) and its users.
 *
 * Names and numbering follow FreeBSD's <machine/vmm.h> so that code written
 * against bhyve's libvmmapi reads the same here.  Additions that bhyve does not
 * have are marked "lhyve:".
 */
#ifndef LHYVE_VMM_H
#define LHYVE_VMM_H

#include <stdint.h>
#include <stdbool.h>

#define VM_MAX_NAMELEN	31	/* bhyve: VM_MAX_NAMELEN */
#define VM_MAXCPU	16	/* vCPUs per instance */

enum vm_suspend_how {
	VM_SUSPEND_NONE,
	VM_SUSPEND_RESET,
	VM_SUSPEND_POWEROFF,
	VM_SUSPEND_HALT,
	VM_SUSPEND_TRIPLEFAULT,
	VM_SUSPEND_DESTROY,
	VM_SUSPEND_KEEP,	/* lhyve: stop and keep everything (bhyvectl --suspend) */
	VM_SUSPEND_LAST
};

/* Register names, in FreeBSD's order (enum vm_reg_name). */
enum vm_reg_name {
	VM_REG_GUEST_RAX,
	VM_REG_GUEST_RBX,
	VM_REG_GUEST_RCX,
	VM_REG_GUEST_RDX,
	VM_REG_GUEST_RSI,
	VM_REG_GUEST_RDI,
	VM_REG_GUEST_RBP,
	VM_REG_GUEST_R8,
	VM_REG_GUEST_R9,
	VM_REG_GUEST_R10,
	VM_REG_GUEST_R11,
	VM_REG_GUEST_R12,
	VM_REG_GUEST_R13,
	VM_REG_GUEST_R14,
	VM_REG_GUEST_R15,
	VM_REG_GUEST_CR0,
	VM_REG_GUEST_CR3,
	VM_REG_GUEST_CR4,
	VM_REG_GUEST_DR7,
	VM_REG_GUEST_RSP,
	VM_REG_GUEST_RIP,
	VM_REG_GUEST_RFLAGS,
	VM_REG_GUEST_ES,
	VM_REG_GUEST_CS,
	VM_REG_GUEST_SS,
	VM_REG_GUEST_DS,
	VM_REG_GUEST_FS,
	VM_REG_GUEST_GS,
	VM_REG_GUEST_LDTR,
	VM_REG_GUEST_TR,
	VM_REG_GUEST_IDTR,
	VM_REG_GUEST_GDTR,
	VM_REG_GUEST_EFER,
	VM_REG_GUEST_CR2,
	VM_REG_GUEST_PDPTE0,
	VM_REG_GUEST_PDPTE1,
	VM_REG_GUEST_PDPTE2,
	VM_REG_GUEST_PDPTE3,
	VM_REG_GUEST_INTR_SHADOW,
	VM_REG_GUEST_DR0,
	VM_REG_GUEST_DR1,
	VM_REG_GUEST_DR2,
	VM_REG_GUEST_DR3,
	VM_REG_GUEST_DR6,
	VM_REG_GUEST_ENTRY_INST_LENGTH,
	VM_REG_GUEST_FS_BASE,
	VM_REG_GUEST_GS_BASE,
	VM_REG_GUEST_KGS_BASE,
	VM_REG_GUEST_TPR,
	VM_REG_GUEST_XCR0,		/* lhyve's: XCR0 (SDM Vol. 1 13.3) */
	VM_REG_LAST
};

/*
 * Segment descriptor as libvmmapi sees it: base, byte-granular limit, and the
 * access rights in the VMCS layout (Intel SDM Vol. 3C 24.4.1, table 24-2):
 * bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
 */
struct seg_desc {
	uint64_t	base;
	uint32_t	limit;
	uint32_t	access;
};
#define SEG_DESC_TYPE(access)		((access) & 0x000f)
#define SEG_DESC_S(access)		(((access) >> 4) & 1)
#define SEG_DESC_DPL(access)		(((access) >> 5) & 0x3)
#define SEG_DESC_PRESENT(access)	(((access) & 0x0080) ? 1 : 0)
#define SEG_DESC_L(access)		(((access) >> 13) & 1)
#define SEG_DESC_DEF32(access)		(((access) & 0x4000) ? 1 : 0)
#define SEG_DESC_GRANULARITY(access)	(((access) & 0x8000) ? 1 : 0)
#define SEG_DESC_UNUSABLE(access)	(((access) & 0x10000) ? 1 : 0)
#define DESC_UNUSABLE			0x00010000

enum vm_cap_type {
	VM_CAP_HALT_EXIT,
	VM_CAP_MTRAP_EXIT,
	VM_CAP_PAUSE_EXIT,
	VM_CAP_UNRESTRICTED_GUEST,
	VM_CAP_ENABLE_INVPCID,
	VM_CAP_BPT_EXIT,
	VM_CAP_RDPID,
	VM_CAP_RDTSCP,
	VM_CAP_IPI_EXIT,
	VM_CAP_MASK_HWINTR,
	VM_CAP_RFLAGS_TF,
	VM_CAP_MAX
};

enum vm_intr_trigger {
	EDGE_TRIGGER,
	LEVEL_TRIGGER
};

enum vm_exitcode {
	VM_EXITCODE_INOUT,
	VM_EXITCODE_VMX,
	VM_EXITCODE_BOGUS,
	VM_EXITCODE_RDMSR,
	VM_EXITCODE_WRMSR,
	VM_EXITCODE_HLT,
	VM_EXITCODE_MTRAP,
	VM_EXITCODE_PAUSE,
	VM_EXITCODE_PAGING,
	VM_EXITCODE_INST_EMUL,
	VM_EXITCODE_SPINUP_AP,
	VM_EXITCODE_DEPRECATED1,
	VM_EXITCODE_RENDEZVOUS,
	VM_EXITCODE_IOAPIC_EOI,
	VM_EXITCODE_SUSPENDED,
	VM_EXITCODE_MWAIT,
	VM_EXITCODE_SVM,
	VM_EXITCODE_REQIDLE,
	VM_EXITCODE_DEBUG,
	VM_EXITCODE_VMINSN,
	VM_EXITCODE_BPT,
	VM_EXITCODE_IPI,
	VM_EXITCODE_DBG,
	/* lhyve: the software CPU met an instruction it does not implement. */
	VM_EXITCODE_INST_UNIMPL,
	/* lhyve: the backend failed (KVM error, internal inconsistency). */
	VM_EXITCODE_BACKEND_ERROR,
	VM_EXITCODE_MAX
};

struct vm_inout {
	uint16_t	bytes:3;	/* 1 or 2 or 4 */
	uint16_t	in:1;
	uint16_t	string:1;	/* always 0: string I/O exits once per element */
	uint16_t	rep:1;
	uint16_t	port;
	uint32_t	eax;		/* valid for out */
};

/*
 * lhyve: a guest access to a physical address that is not RAM.  Unlike bhyve,
 * the backend has already decoded the instruction; userland only performs the
 * access.  For a read, userland stores the result in .data before the next
 * vm_run() and the backend completes the instruction with it.
 */
struct vm_mmio {
	uint64_t	gpa;
	uint64_t	data;
	uint8_t		size;		/* 1, 2, 4 or 8 */
	uint8_t		write;
};

struct vm_exit {
	enum vm_exitcode	exitcode;
	int			inst_length;	/* 0 means unknown */
	uint64_t		rip;
	union {
		struct vm_inout	inout;
		struct vm_mmio	mmio;		/* VM_EXITCODE_INST_EMUL */
		struct {
			uint32_t	code;		/* ecx value */
			uint64_t	wval;
		} msr;
		struct {
			int		vcpu;
			uint64_t	rip;
		} spinup_ap;
		struct {
			uint64_t	rflags;
			uint64_t	intr_status;
		} hlt;
		struct {
			enum vm_suspend_how how;
			int		source;		/* vCPU that asked, or -1 */
		} suspended;
		struct {
			uint8_t		inst_bytes[15];
			uint8_t		num_valid;
		} inst_unimpl;
		struct {
			int		error;		/* positive errno */
			char		msg[256];	/* one line: what failed, registers, bytes */
		} backend_error;
	} u;
};

/* lhyve: a local APIC as bhyvectl --get-lapic shows it (vm_get_lapic). */
struct vmm_lapic_info {
	uint64_t	apicbase;
	uint32_t	id, tpr, ppr, svr, esr, ldr;
	uint32_t	irr[8], isr[8], tmr[8];
	uint32_t	lvt[6];		/* timer, thermal, perf, LINT0, LINT1, error */
	uint32_t	timer_icr, timer_ccr, timer_dcr;
	uint64_t	tsc_deadline;
	int64_t		timer_due_ns;	/* from now; -1: not armed */
};

/* Exception vectors (Intel SDM Vol. 3A 6.3.1). */
#define IDT_DE	0
#define IDT_DB	1
#define IDT_NMI	2
#define IDT_BP	3
#define IDT_OF	4
#define IDT_BR	5
#define IDT_UD	6
#define IDT_NM	7
#define IDT_DF	8
#define IDT_TS	10
#define IDT_NP	11
#define IDT_SS	12
#define IDT_GP	13
#define IDT_PF	14
#define IDT_MF	16
#define IDT_AC	17
#define IDT_MC	18
#define IDT_XF	19

/* Guest memory map (bhyve's): RAM below 4G up to the lowmem limit, the rest at 4G. */
#define VM_LOWMEM_LIMIT		(3ULL << 30)
#define VM_HIGHMEM_BASE		(4ULL << 30)

#endif /* LHYVE_VMM_H */
