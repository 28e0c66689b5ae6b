/*
 * cpu.h - the software x86-64 CPU: its state, the decoded instruction, and
 * the contract between the decoder/dispatcher and the instruction families.
 *
 * Life of an instruction (see docs/cpu.md, "The execution engine"):
 *   decode (decode.c) -> struct emu_insn, with insn->fn chosen from the
 *   opcode tables, then specialised (fast.c) -> kept in a translation block
 *   (emu.c) -> dispatch: cpu->next_rip = rip + len; rc = insn->fn(cpu, insn)
 *   -> EMU_OK: commit rip = next_rip, count it retired
 *      EMU_FAULT: an exception was raised (emu_raise), it is delivered through
 *                 the IDT before the next instruction; rip stays at the faulting one
 *      EMU_EXIT: cpu->exit was filled (port I/O, MMIO, HLT, unimplemented...);
 *                the run loop returns to libvmm.
 *
 * Port I/O and MMIO exits use replay: the exit carries inst_length 0, so the
 * instruction runs again when the vCPU resumes, and the access that caused the
 * exit is then satisfied from cpu->io_log (for reads, with the data userland
 * supplied).  An instruction that needs several accesses makes one exit per
 * access and retires only when it runs to the end.  Side effects on registers
 * must therefore come after the last access that can exit.
 */
#ifndef LHYVE_EMU_CPU_H
#define LHYVE_EMU_CPU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmm_backend.h"

/*
 * Handler results.  EMU_BRANCH: a conditional branch inside a translation
 * block was taken (next_rip set); only the mid-block variants that
 * emu_midblock() hands to emu.c return it, and only tb_exec sees it.
 */
enum { EMU_OK = 0, EMU_FAULT = 1, EMU_EXIT = 2, EMU_BRANCH = 3 };

enum { EMU_KICK_EXIT = 1, EMU_KICK_QS = 2 };

/* Processor mode, recomputed from CR0/EFER/CS whenever one changes. */
enum emu_mode {
	EMU_MODE_REAL,		/* CR0.PE = 0 */
	EMU_MODE_PROT16,	/* protected, CS.D = 0 */
	EMU_MODE_PROT32,	/* protected, CS.D = 1 */
	EMU_MODE_LONG64,	/* IA-32e, CS.L = 1 */
	EMU_MODE_COMPAT16,	/* IA-32e compatibility, CS.D = 0 */
	EMU_MODE_COMPAT32,	/* IA-32e compatibility, CS.D = 1 */
};

/* RFLAGS bits (SDM Vol. 1 3.4.3) */
#define RFL_CF	0x0001ULL
#define RFL_PF	0x0004ULL
#define RFL_AF	0x0010ULL
#define RFL_ZF	0x0040ULL
#define RFL_SF	0x0080ULL
#define RFL_TF	0x0100ULL
#define RFL_IF	0x0200ULL
#define RFL_DF	0x0400ULL
#define RFL_OF	0x0800ULL
#define RFL_IOPL 0x3000ULL
#define RFL_NT	0x4000ULL
#define RFL_RF	0x10000ULL
#define RFL_VM	0x20000ULL
#define RFL_AC	0x40000ULL
#define RFL_VIF	0x80000ULL
#define RFL_VIP	0x100000ULL
#define RFL_ID	0x200000ULL
#define RFL_ARITH (RFL_CF | RFL_PF | RFL_AF | RFL_ZF | RFL_SF | RFL_OF)

/* Control register bits (SDM Vol. 3A 2.5) */
#define CR0_PE	(1ULL << 0)
#define CR0_MP	(1ULL << 1)
#define CR0_EM	(1ULL << 2)
#define CR0_TS	(1ULL << 3)
#define CR0_ET	(1ULL << 4)
#define CR0_NE	(1ULL << 5)
#define CR0_WP	(1ULL << 16)
#define CR0_AM	(1ULL << 18)
#define CR0_NW	(1ULL << 29)
#define CR0_CD	(1ULL << 30)
#define CR0_PG	(1ULL << 31)
#define CR4_VME	(1ULL << 0)
#define CR4_PVI	(1ULL << 1)
#define CR4_TSD	(1ULL << 2)
#define CR4_DE	(1ULL << 3)
#define CR4_PSE	(1ULL << 4)
#define CR4_PAE	(1ULL << 5)
#define CR4_MCE	(1ULL << 6)
#define CR4_PGE	(1ULL << 7)
#define CR4_PCE	(1ULL << 8)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_FSGSBASE (1ULL << 16)
#define CR4_OSXSAVE (1ULL << 18)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

/*
 * Lazy arithmetic flags (the Bochs/Blink technique): an instruction that sets
 * flags records its operands and result; CF/PF/AF/ZF/SF/OF are computed only
 * when something reads them.  flags.c owns the encoding of lf_op.
 */
struct emu_lazyflags {
	uint64_t	res;
	uint64_t	src1;
	uint64_t	src2;
	uint8_t		op;		/* enum emu_flagop; EMU_LF_NONE = flags materialized in rflags */
	uint8_t		size;		/* operand size in bytes */
	uint8_t		cf_in;		/* carry in, for ADC/SBB/RCL/RCR */
};

enum emu_flagop {
	EMU_LF_NONE,	/* RFLAGS arithmetic bits are up to date in st.rflags */
	EMU_LF_ADD,	/* res = src1 + src2 (+ cf_in for ADC) */
	EMU_LF_SUB,	/* res = src1 - src2 (- cf_in for SBB); CMP too */
	EMU_LF_LOGIC,	/* AND/OR/XOR/TEST: CF=OF=0, AF=0 */
	EMU_LF_INC,	/* CF preserved: src2 holds the previous CF */
	EMU_LF_DEC,	/* CF preserved: src2 holds the previous CF */
	EMU_LF_NEG,
	EMU_LF_SHIFT,	/* src1 holds CF, OF and AF as RFLAGS bits; ZF SF PF from res */
	EMU_LF_COUNT
};

/* The decoded instruction: everything execution needs, nothing more. */
struct emu_insn;
struct emu_cpu;
typedef int emu_op_fn(struct emu_cpu *cpu, const struct emu_insn *in);

/* Operand forms, set by the decoder from the opcode table (insn->form). */
enum emu_form {
	EMU_FORM_NONE,
	EMU_FORM_RM_REG,	/* op r/m, reg   (e.g. 01 /r add r/m, r) */
	EMU_FORM_REG_RM,	/* op reg, r/m   (e.g. 03 /r add r, r/m) */
	EMU_FORM_ACC_IMM,	/* op AL/eAX/rAX, imm (e.g. 05 add eAX, imm) */
	EMU_FORM_RM_IMM,	/* op r/m, imm  (e.g. 81 /0) */
	EMU_FORM_RM,		/* op r/m        (e.g. F7 /3 neg) */
	EMU_FORM_RM_1,		/* shift by 1    (D1 /4) */
	EMU_FORM_RM_CL,		/* shift by CL   (D3 /4) */
	EMU_FORM_REG_OP,	/* register in the opcode's low 3 bits (+REX.B): in->rm */
};

#define EMU_REG_NONE	0xff	/* no base / no index */
#define EMU_REG_RIP	0x10	/* RIP-relative base */

struct emu_insn {
	emu_op_fn	*fn;		/* handler chosen by the decoder */
	uint64_t	imm;		/* immediate, sign- or zero-extended as the opcode defines */
	uint64_t	imm2;		/* second immediate: ENTER level, far pointer selector */
	int64_t		disp;		/* displacement, sign-extended */
	uint8_t		len;		/* total length in bytes, 1..15 */
	uint8_t		map;		/* 0 one-byte, 1 0F, 2 0F38, 3 0F3A */
	uint8_t		opcode;		/* last opcode byte */
	uint8_t		form;		/* enum emu_form */
	uint8_t		opsize;		/* operand size in bytes: 1, 2, 4, 8 */
	uint8_t		addrsize;	/* address size in bytes: 2, 4, 8 */
	uint8_t		seg;		/* segment of the memory operand (override or default) */
	uint8_t		rep;		/* 0, 0xf2 (REPNE) or 0xf3 (REP/REPE) */
	uint8_t		lock;		/* LOCK prefix present */
	uint8_t		rex;		/* REX byte, or 0x40 | W R X B of a VEX prefix in 64-bit mode, or 0 */
	uint8_t		opsize_prefix;	/* 66 seen (SSE uses it as a mandatory prefix) */
	uint8_t		sub;		/* ModRM.reg for group opcodes; condition code for Jcc/SETcc/CMOVcc */
	uint8_t		reg;		/* ModRM.reg + REX.R: register operand */
	uint8_t		rm;		/* ModRM.rm + REX.B when has_mem == 0, or opcode register */
	uint8_t		has_modrm;
	uint8_t		has_mem;	/* the r/m operand is memory */
	uint8_t		base;		/* memory: base register, EMU_REG_RIP or EMU_REG_NONE */
	uint8_t		index;		/* memory: index register or EMU_REG_NONE */
	uint8_t		scale;		/* memory: index shift 0..3 */
	uint8_t		vex;		/* VEX-encoded (C4/C5 prefix) */
	uint8_t		vex_vvvv;	/* VEX.vvvv, un-inverted: the extra register operand (0-15) */
	uint8_t		vex_l;		/* VEX.L */
	uint8_t		vex_w;		/* VEX.W (also in rex bit 3 in 64-bit mode) */
	uint8_t		bytes[15];	/* raw bytes, for diagnostics */
};

/*
 * Software TLB: direct-mapped, one entry per 4 KiB linear page, in two
 * halves like a CPU's ITLB and DTLB (fetches use the second), so that code
 * and the data it touches never evict each other.
 */
#define EMU_TLB_SIZE	512
struct emu_tlb_entry {
	uint64_t	vpn;		/* linear address >> 12, or ~0 when empty */
	uint8_t		*hpage;		/* host pointer to the page, NULL for non-RAM */
	uint64_t	gpa_page;	/* guest-physical address of the page */
	uint8_t		user;		/* U/S allowed */
	uint8_t		write;		/* writes allowed (with CR0.WP/U rules applied at fill) */
	uint8_t		exec;		/* fetch allowed (NX) */
	uint8_t		global;		/* G bit, survives CR3 writes */
	uint8_t		dirty;		/* D already set in the PTE: a write needs no walk */
	/*
	 * Rights for the inline fast path (emu_mem_fast), bit (write * 2 +
	 * user): kernel read, user read, kernel write, user write; writes only
	 * once D is set.  CR0.WP is folded in: changing it flushes the TLB.
	 */
	uint8_t		perm;
};

/* One completed port/MMIO access of the instruction being replayed. */
#define EMU_IO_LOG_MAX	4
struct emu_io_log {
	int		n;		/* entries completed by userland */
	int		pos;		/* next entry the replaying instruction consumes */
	uint64_t	data[EMU_IO_LOG_MAX];
	uint64_t	rip;		/* instruction the log belongs to */
	uint8_t		pending_read;	/* last exit was a read awaiting data */
};

/*
 * x87.c's session (docs/cpu.md, "x87"): the guest's x87 state loaded in the
 * host's x87 unit across consecutive x87 instructions, the host's own saved
 * in @host.  Each instruction run then records its stub, guest RIP, operand
 * address and opcode in the ring, so that the FIP, FDP and FOP the host
 * unit holds (a stub's address, a ring buffer's) map back to the guest's.
 * emu_x87_flush() writes the state back to st.fxsave and restores the
 * host's: emu.c calls it when run() returns.
 */
#define EMU_X87_RING	64
struct emu_x87_live {
	uint8_t		host[512] __attribute__((aligned(16)));
	uint8_t		img[512] __attribute__((aligned(16)));
	struct {
		uint8_t		buf[16] __attribute__((aligned(16)));	/* memory operand */
		const uint8_t	*stub;
		uint64_t	rip, ea;
		uint16_t	fop;
	} ring[EMU_X87_RING];
	uint16_t	fsw, fcw;	/* the host unit's, after the last instruction */
	uint8_t		n;		/* ring entries used */
	bool		on;		/* the guest's x87 state is in the host unit */
};

struct emu_cpu {
	struct vm_cpu_state	st;	/* architectural state; arithmetic flags lazy in lf */
	struct emu_lazyflags	lf;
	enum emu_mode		mode;
	uint8_t			cpl;
	uint64_t		next_rip;	/* set by dispatch; control flow changes it */
	int			vcpuid;
	/*
	 * Vendor profile (vmm_cpuid.h): handlers test cpu->vendor where Intel
	 * and AMD differ (docs/cpu.md, "Vendor profiles").
	 */
	uint8_t			vendor;		/* enum vmm_vendor */
	const struct vmm_cpu_profile *prof;	/* the VM's, for CPUID */
	const struct vmm_memmap	*mem;		/* guest RAM, owned by libvmm */
	struct vm_exit		*exit;		/* where an EMU_EXIT handler writes */
	struct emu_io_log	io_log;
	struct emu_tlb_entry	tlb[2 * EMU_TLB_SIZE];	/* DTLB, then ITLB */
	/*
	 * Set by other threads, tested once per block: EMU_KICK_EXIT, leave
	 * run(); EMU_KICK_QS, a grace period of the VM's translation blocks
	 * began: pass a quiescent point (emu.c, struct emu_tbs).
	 */
	atomic_int		kick;
	/*
	 * Set by anything that invalidates what the running translation
	 * block assumed (mode, paging, TLB, RFLAGS.TF/IF, interrupt shadow,
	 * a write to a page holding code): the block ends after the current
	 * instruction and the next one is looked up afresh (emu.c).
	 */
	uint8_t			block_stop;
	/*
	 * Bumped whenever a linear address may stop meaning what it meant:
	 * TLB flushes, mode, CPL or CS changes, a new memory map.  The block
	 * jump cache (emu.c) trusts an entry only from the same epoch.
	 */
	uint64_t		tlb_epoch;
	/*
	 * Per guest-physical page: a generation, odd while translated code
	 * of the page exists (emu.c).  Owned by the VM; shared by its vCPUs.
	 */
	_Atomic uint32_t	*code_gen;
	uint64_t		code_npages;
	struct vm_backend_stats	stats;
	int			caps[VM_CAP_MAX];
	/* Exception being raised by the current instruction (emu_raise). */
	int			exc_vector;	/* -1 none */
	int			exc_has_err;
	uint32_t		exc_err;
	int			exc_nesting;	/* for #DF / triple fault (SDM Vol. 3A 6.15 table 6-5) */
	struct vmm_intr_source	intr_src;	/* external interrupts (pending == NULL: none) */
	/* The VM's time base, shared by its vCPUs (pvclock.c). */
	struct emu_clock	*clock;
	struct emu_x87_live	x87;	/* x87.c only, through emu_x87_flush() */
};

void	emu_x87_writeback(struct emu_cpu *cpu);

/*
 * Put the guest's x87 state back into st.fxsave and the host's into the
 * host unit, if an x87 session is open (x87.c).  Called before anything
 * outside x87.c/sse.c reads or writes st.fxsave, or host code that may
 * use the x87 unit runs: emu.c when run() returns to libvmm.  In between,
 * run() itself (blocks, the run loop, exception delivery, the interrupt
 * source's callbacks) touches neither st.fxsave's x87 part nor the x87
 * unit (no long double).
 */
static inline void
emu_x87_flush(struct emu_cpu *cpu)
{
	if (__builtin_expect(cpu->x87.on, 0))
		emu_x87_writeback(cpu);
}

/*
 * One VM-wide time base (pvclock.c): the TSC counts at EMU_TSC_HZ from
 * @origin (host CLOCK_MONOTONIC nanoseconds at which the VM's count was
 * 0); a vCPU's TSC is that count plus its IA32_TSC_ADJUST.  kvm_wall_clock
 * is MSR_KVM_WALL_CLOCK_NEW, which KVM keeps per VM.
 */
#define EMU_TSC_HZ	1000000000ULL
struct emu_clock {
	_Atomic int64_t		origin;
	_Atomic uint64_t	kvm_wall_clock;
};

/* ---- register access (inline: used by every handler) ---- */

static inline uint64_t
emu_size_mask(int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/*
 * Read general register @reg at @size bytes.  For size 1 without REX,
 * registers 4-7 are AH, CH, DH, BH (SDM Vol. 2A 3.1.1.1).
 */
static inline uint64_t
emu_reg_read(const struct emu_cpu *cpu, int reg, int size, int rex)
{
	if (size == 1 && !rex && reg >= 4 && reg < 8)
		return (cpu->st.gpr[reg - 4] >> 8) & 0xff;
	return cpu->st.gpr[reg] & emu_size_mask(size);
}

/* Write: 32-bit writes zero the upper half, 8/16-bit writes merge (SDM Vol. 1 3.4.1.1). */
static inline void
emu_reg_write(struct emu_cpu *cpu, int reg, int size, int rex, uint64_t val)
{
	uint64_t *r;

	if (size == 1 && !rex && reg >= 4 && reg < 8) {
		r = &cpu->st.gpr[reg - 4];
		*r = (*r & ~0xff00ULL) | ((val & 0xff) << 8);
		return;
	}
	r = &cpu->st.gpr[reg];
	switch (size) {
	case 1: *r = (*r & ~0xffULL) | (val & 0xff); break;
	case 2: *r = (*r & ~0xffffULL) | (val & 0xffff); break;
	case 4: *r = (uint32_t)val; break;
	default: *r = val; break;
	}
}

/* ---- flags (flags.c) ---- */

/* Record the flags of an arithmetic result (lazy). */
static inline void
emu_flags_set(struct emu_cpu *cpu, enum emu_flagop op, int size,
    uint64_t src1, uint64_t src2, uint64_t res)
{
	cpu->lf.op = (uint8_t)op;
	cpu->lf.size = (uint8_t)size;
	cpu->lf.src1 = src1;
	cpu->lf.src2 = src2;
	cpu->lf.res = res;
	cpu->lf.cf_in = 0;
}
uint64_t emu_rflags(struct emu_cpu *cpu);		/* materialize and return RFLAGS */
void	emu_set_rflags(struct emu_cpu *cpu, uint64_t val); /* replaces all; lazy state dropped */
/* Set arithmetic flags explicitly (mask of RFL_ARITH bits to replace). */
void	emu_set_arith_flags(struct emu_cpu *cpu, uint64_t mask, uint64_t val);
/* CF of a lazy record (inline: ADC, SBB, INC and DEC read it on the hot path). */
static inline bool
emu_lf_cf(const struct emu_lazyflags *lf)
{
	uint64_t s1 = lf->src1, s2 = lf->src2, r = lf->res;
	uint64_t top = 1ULL << (lf->size * 8 - 1);

	switch (lf->op) {
	case EMU_LF_ADD:
		/* Carry out of the top bit, carry-in included (ADC). */
		return (((s1 & s2) | ((s1 | s2) & ~r)) & top) != 0;
	case EMU_LF_SUB:
		/* Borrow out of the top bit, borrow-in included (SBB). */
		return (((~s1 & s2) | (~(s1 ^ s2) & r)) & top) != 0;
	case EMU_LF_NEG:
		return (s1 & emu_size_mask(lf->size)) != 0;
	case EMU_LF_INC:
	case EMU_LF_DEC:
		return s2 != 0;
	case EMU_LF_SHIFT:
		return (s1 & RFL_CF) != 0;
	default:
		return false;
	}
}

static inline bool
emu_get_cf(const struct emu_cpu *cpu)
{
	if (cpu->lf.op == EMU_LF_NONE)
		return (cpu->st.rflags & RFL_CF) != 0;
	return emu_lf_cf(&cpu->lf);
}
bool	emu_cond(struct emu_cpu *cpu, int cc);		/* condition code 0..15, SDM Vol. 1 B.1 */
uint8_t	emu_parity(uint8_t v);				/* PF: 1 when even parity */

/* ---- memory and operands (mmu.c) ---- */

/*
 * Copy an operand of 1, 2, 4 or 8 bytes (anything else: memcpy).  Fixed
 * sizes compile to one move; a variable-length memcpy would not.
 */
static inline void
emu_copy_operand(void *dst, const void *src, int size)
{
	switch (size) {
	case 1: memcpy(dst, src, 1); break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	default: memcpy(dst, src, (size_t)size); break;
	}
}

/*
 * The inline fast path of a data access: 64-bit mode or a flat segment
 * (below), a RAM page in the DTLB with the rights, the access within the
 * page, no #AC to raise.  Returns the host pointer, or NULL for the general
 * path (emu_read/emu_write: segmentation, walks, MMIO, page crossing,
 * faults).  A write through the pointer must be followed by
 * emu_code_written().
 */
/*
 * A flat segment outside 64-bit mode (protected or compatibility mode):
 * base 0, limit 4G - 1, usable and present, an expand-up data segment
 * (writable for a write) or a readable code segment (read only).  Then
 * every offset below 4G passes the checks of SDM Vol. 3A 5.3 and the
 * linear address is the offset, so the access may take the fast path; a
 * page-crossing access goes the general way anyway.  What 32-bit kernels
 * and user code use for DS, ES, SS and CS; checked from the descriptor
 * cache at each access (a few compares), so a segment load needs no hook.
 */
static inline bool
emu_seg_flat(const struct emu_cpu *cpu, int seg, uint64_t off, int write)
{
	const struct vm_seg *s;
	uint32_t type;

	if (cpu->mode == EMU_MODE_REAL || (unsigned)seg > SEG_GS || off > 0xffffffffULL)
		return false;
	s = &cpu->st.seg[seg];
	if (s->base != 0 || s->limit != 0xffffffffu ||
	    SEG_DESC_UNUSABLE(s->access) || !SEG_DESC_PRESENT(s->access))
		return false;
	type = SEG_DESC_TYPE(s->access);
	if (type & 0x8)			/* code: readable, never written */
		return !write && (type & 0x2);
	return !(type & 0x4) && (!write || (type & 0x2));	/* data: expand-up */
}

/* The DTLB probe of the fast paths: the host pointer of @la, or NULL. */
static inline uint8_t *
emu_dtlb_probe(const struct emu_cpu *cpu, uint64_t la, int write, uint64_t *gpa)
{
	const struct emu_tlb_entry *e = &cpu->tlb[(la >> 12) & (EMU_TLB_SIZE - 1)];
	unsigned bit;

	if (e->vpn != la >> 12 || e->hpage == NULL)
		return NULL;
	bit = (write ? 2u : 0u) | (cpu->cpl == 3);
	if (!(e->perm & (1u << bit)))
		return NULL;
	*gpa = e->gpa_page + (la & 4095);
	return e->hpage + (la & 4095);
}

static inline uint8_t *
emu_mem_fast(const struct emu_cpu *cpu, int seg, uint64_t off, int size, int write,
    uint64_t *gpa)
{
	uint64_t la = off;

	if (__builtin_expect(cpu->mode != EMU_MODE_LONG64, 0)) {
		if (!emu_seg_flat(cpu, seg, off, write))
			return NULL;
	} else if (seg >= 4) {	/* FS, GS: the only bases in 64-bit mode */
		la += cpu->st.seg[seg].base;
	}
	if ((la & 4095) + (unsigned)size > 4096)
		return NULL;
	/* #AC (SDM Vol. 3A 6.15): CPL 3, CR0.AM, RFLAGS.AC, misaligned. */
	if ((la & (uint64_t)(size - 1)) && cpu->cpl == 3)
		return NULL;
	return emu_dtlb_probe(cpu, la, write, gpa);
}

/*
 * The same for a run of @len bytes (1..4096) within one page, for the bulk
 * string instructions: no #AC case (CPL 3 with CR0.AM and RFLAGS.AC goes
 * the general way), @la is the linear address already computed.
 */
static inline uint8_t *
emu_mem_range(const struct emu_cpu *cpu, uint64_t la, uint64_t len, int write,
    uint64_t *gpa)
{
	if ((la & 4095) + len > 4096)
		return NULL;
	if (cpu->cpl == 3 && (cpu->st.cr0 & CR0_AM) && (cpu->st.rflags & RFL_AC))
		return NULL;
	return emu_dtlb_probe(cpu, la, write, gpa);
}

/* Effective address (offset within in->seg) of the ModRM memory operand. */
static inline uint64_t
emu_ea(const struct emu_cpu *cpu, const struct emu_insn *in)
{
	uint64_t ea = (uint64_t)in->disp;

	if (in->base == EMU_REG_RIP)
		ea += cpu->st.rip + in->len;
	else if (in->base != EMU_REG_NONE)
		ea += cpu->st.gpr[in->base];
	if (in->index != EMU_REG_NONE)
		ea += cpu->st.gpr[in->index] << in->scale;
	return ea & emu_size_mask(in->addrsize);
}
/* Segmented access: segment checks, paging, RAM or MMIO.  EMU_OK/FAULT/EXIT. */
int	emu_read(struct emu_cpu *cpu, int seg, uint64_t off, void *buf, int size);
int	emu_write(struct emu_cpu *cpu, int seg, uint64_t off, const void *buf, int size);
/* Linear-address access (descriptor tables, IDT, page-crossing handled). */
int	emu_read_linear(struct emu_cpu *cpu, uint64_t la, void *buf, int size, int user);
int	emu_write_linear(struct emu_cpu *cpu, uint64_t la, const void *buf, int size, int user);
/*
 * Host pointer to @size bytes at seg:off for an atomic read-modify-write
 * (LOCK prefix, XCHG with memory).  EMU_OK with *hp set when the operand is
 * in RAM, aligned, and does not cross a page; EMU_OK with *hp NULL when it
 * is not (MMIO, misaligned, page-crossing): the caller then uses
 * emu_read/emu_write under emu_bus_lock() (family.h).
 */
int	emu_mem_ptr(struct emu_cpu *cpu, int seg, uint64_t off, int size, uint8_t **hp);
/* The r/m operand at in->opsize (or @size): register or memory. */
int	emu_rm_read(struct emu_cpu *cpu, const struct emu_insn *in, int size, uint64_t *val);
int	emu_rm_write(struct emu_cpu *cpu, const struct emu_insn *in, int size, uint64_t val);
/* Stack: push/pop @size bytes on SS:RSP with the stack-address size of the mode. */
int	emu_push(struct emu_cpu *cpu, uint64_t val, int size);
int	emu_pop(struct emu_cpu *cpu, uint64_t *val, int size);
/*
 * A write reached guest-physical [gpa, gpa + len): drop the translations of
 * the pages that hold code.  Called on every store path (mmu.c) and for
 * DMA; the check is one load per page.
 */
void	emu_code_written_slow(struct emu_cpu *cpu, uint64_t gpa, uint64_t len);
static inline void
emu_code_written(struct emu_cpu *cpu, uint64_t gpa, uint64_t len)
{
	uint64_t p = gpa >> 12, last = (gpa + len - 1) >> 12;

	if (p < cpu->code_npages &&
	    ((atomic_load_explicit(&cpu->code_gen[p], memory_order_relaxed) & 1) ||
	    (last != p && last < cpu->code_npages &&
	    (atomic_load_explicit(&cpu->code_gen[last], memory_order_relaxed) & 1))))
		emu_code_written_slow(cpu, gpa, len);
}
/*
 * The VM's translation blocks (emu.c), shared by its vCPUs; for tests and
 * measurements.  emu_tb_flush retires every block (a new memory map does).
 * emu_tb_chained: the blocks a vCPU entered through a link (its owner's
 * to read, outside run()).
 */
struct emu_tb_stats {
	uint64_t	decoded;	/* blocks decoded and put in the table */
	uint64_t	discarded;	/* decoded by two vCPUs at once: the second */
	uint64_t	live;		/* in the table now */
	uint64_t	retired;	/* taken out of the table */
	uint64_t	waiting;	/* retired, in a grace period, not freed yet */
	uint64_t	freed;		/* retired, then freed after their grace period */
	uint64_t	links;		/* successor links made */
};
void	emu_tb_get_stats(void *vmcookie, struct emu_tb_stats *st);
void	emu_tb_flush(void *vmcookie);
uint64_t emu_tb_chained(void *vcpucookie);
/* Flush the TLB: all entries, or all but global ones. */
void	emu_tlb_flush(struct emu_cpu *cpu, bool keep_global);
void	emu_tlb_flush_page(struct emu_cpu *cpu, uint64_t la);
/* Recompute cpu->mode and cpu->cpl after a CR0/EFER/CS change. */
void	emu_update_mode(struct emu_cpu *cpu);

/* ---- port I/O (io.c) ---- */
/* EMU_OK with the value when the replay log has it, else EMU_EXIT (INOUT exit built). */
int	emu_port_in(struct emu_cpu *cpu, uint16_t port, int size, uint32_t *val);
int	emu_port_out(struct emu_cpu *cpu, uint16_t port, int size, uint32_t val);
/* I/O permission check for IN/OUT/INS/OUTS (SDM Vol. 1 19.5.1): EMU_OK or EMU_FAULT. */
int	emu_io_allowed(struct emu_cpu *cpu, uint16_t port, int size);

/* ---- exceptions (exception.c) ---- */
/* Raise an exception from the current instruction; returns EMU_FAULT. */
int	emu_raise(struct emu_cpu *cpu, int vector);
int	emu_raise_err(struct emu_cpu *cpu, int vector, uint32_t errcode);
/* Build a VM_EXITCODE_INST_UNIMPL exit for @in; returns EMU_EXIT. */
int	emu_unimplemented(struct emu_cpu *cpu, const struct emu_insn *in);

/* ---- decode (decode.c) ---- */
/*
 * Decode up to @avail bytes at @code.  Returns 0 and fills *in, or
 * -EAGAIN when more bytes are needed (instruction crosses the buffer),
 * -EILSEQ when the bytes do not form a valid instruction (#UD), or
 * -E2BIG when the instruction would exceed 15 bytes (#GP(0)).
 */
int	emu_decode(const uint8_t *code, int avail, enum emu_mode mode, struct emu_insn *in);
/*
 * Replace in->fn by a handler specialised for its operation, form, size and
 * register/memory operand where one exists (fast.c).  The execution engine
 * calls it after emu_decode; in->fn stays the generic handler otherwise, so
 * tools that look at the decode (the oracle tests) see the operation.
 */
void	emu_specialize(struct emu_insn *in);
emu_op_fn *emu_midblock(const struct emu_insn *in);

/*
 * ---- instruction handlers, by family file ----
 * Register/memory forms are told apart by in->has_mem, operation variants by
 * in->sub (ModRM.reg of group opcodes, or the ALU row: 0 add 1 or 2 adc 3 sbb
 * 4 and 5 sub 6 xor 7 cmp), operand layout by in->form.
 */
/* alu.c */
emu_op_fn op_alu;		/* 00-3D rows and 80/81/83 groups: in->sub selects */
emu_op_fn op_test;		/* 84/85, A8/A9, F6/F7 /0 /1 */
emu_op_fn op_incdec;		/* FE/FF /0 /1 (sub 0 inc, 1 dec) */
emu_op_fn op_not;		/* F6/F7 /2 */
emu_op_fn op_neg;		/* F6/F7 /3 */
emu_op_fn op_xadd;		/* 0F C0/C1 */
emu_op_fn op_cmpxchg;		/* 0F B0/B1 */
emu_op_fn op_cmpxchg8b;		/* 0F C7 /1 (CMPXCHG8B/16B by REX.W) */
/* shift.c */
emu_op_fn op_shift;		/* C0/C1/D0-D3 group 2: in->sub = rol ror rcl rcr shl shr sal sar */
emu_op_fn op_shld;		/* 0F A4/A5 */
emu_op_fn op_shrd;		/* 0F AC/AD */
/* Specialised C1/D1 register forms, [ModRM.reg][size 4, 8] (NULL: RCL RCR). */
extern emu_op_fn *const emu_shift_reg_imm[8][2];
/* muldiv.c */
emu_op_fn op_muldiv;		/* F6/F7 /4-/7: mul imul div idiv */
emu_op_fn op_imul2;		/* 0F AF imul r, r/m */
emu_op_fn op_imul3;		/* 69/6B imul r, r/m, imm */
/* bit.c */
emu_op_fn op_bt;		/* 0F A3/AB/B3/BB (sub from opcode) and 0F BA /4-/7 */
emu_op_fn op_bsf;		/* 0F BC */
emu_op_fn op_bsr;		/* 0F BD */
emu_op_fn op_bswap;		/* 0F C8+r */
emu_op_fn op_popcnt;		/* F3 0F B8 */
emu_op_fn op_tzcnt;		/* F3 0F BC (BMI1) */
emu_op_fn op_lzcnt;		/* F3 0F BD (ABM) */
emu_op_fn op_crc32;		/* F2 0F 38 F0/F1 (SSE4.2) */
/* bmi.c: BMI1, BMI2 (VEX 0F38/0F3A, register operand B is in->vex_vvvv), ADX */
emu_op_fn op_andn;		/* VEX 0F38 F2 */
emu_op_fn op_blsx;		/* VEX 0F38 F3 /1 blsr /2 blsmsk /3 blsi */
emu_op_fn op_bzhi;		/* VEX 0F38 F5 */
emu_op_fn op_pdep;		/* VEX F2 0F38 F5 pdep (sub 0), F3 pext (sub 1) */
emu_op_fn op_mulx;		/* VEX F2 0F38 F6 */
emu_op_fn op_bextr;		/* VEX 0F38 F7 */
emu_op_fn op_shiftx;		/* VEX 66/F3/F2 0F38 F7 shlx/sarx/shrx (sub 4/7/5) */
emu_op_fn op_rorx;		/* VEX F2 0F3A F0 */
emu_op_fn op_adx;		/* 66 0F 38 F6 adcx (sub 0), F3 adox (sub 1) */
/* string.c: REP handled per iteration (one iteration per dispatch) */
emu_op_fn op_movs;
emu_op_fn op_cmps;
emu_op_fn op_stos;
emu_op_fn op_lods;
emu_op_fn op_scas;
emu_op_fn op_ins;
emu_op_fn op_outs;
/* move.c */
emu_op_fn op_mov;		/* 88-8B, C6/C7, B0-BF, A0-A3 (moffs) */
emu_op_fn op_movzx;		/* 0F B6/B7 */
emu_op_fn op_movsx;		/* 0F BE/BF */
emu_op_fn op_movsxd;		/* 63 in 64-bit mode */
emu_op_fn op_lea;		/* 8D */
emu_op_fn op_xchg;		/* 86/87, 90+r */
emu_op_fn op_cbw;		/* 98: CBW/CWDE/CDQE */
emu_op_fn op_cwd;		/* 99: CWD/CDQ/CQO */
emu_op_fn op_cmov;		/* 0F 40-4F */
emu_op_fn op_setcc;		/* 0F 90-9F */
emu_op_fn op_flagop;		/* F5 cmc, F8 clc, F9 stc, FC cld, FD std (by in->opcode) */
emu_op_fn op_lahf;		/* 9F */
emu_op_fn op_sahf;		/* 9E */
emu_op_fn op_nop;		/* 90, 0F 1F /0, F3 90 (pause), prefetch hints */
emu_op_fn op_movseg;		/* 8C/8E mov r/m <-> Sreg */
emu_op_fn op_xlat;		/* D7 */
emu_op_fn op_movbe;		/* 0F 38 F0/F1 */
emu_op_fn op_lfp;		/* far pointer loads: C4 les, C5 lds, 0F B2 lss, 0F B4 lfs, 0F B5 lgs */
/* stack.c */
emu_op_fn op_push;		/* 50+r, FF /6, 68, 6A */
emu_op_fn op_pop;		/* 58+r, 8F /0 */
emu_op_fn op_pushseg;		/* 0F A0/A8 (FS/GS) */
emu_op_fn op_popseg;		/* 0F A1/A9 */
emu_op_fn op_pushf;		/* 9C */
emu_op_fn op_popf;		/* 9D */
emu_op_fn op_enter;		/* C8 */
emu_op_fn op_leave;		/* C9 */
emu_op_fn op_pusha;		/* 60 (not 64-bit) */
emu_op_fn op_popa;		/* 61 (not 64-bit) */
/* control.c */
emu_op_fn op_jmp;		/* E9, EB, FF /4 */
emu_op_fn op_jcc;		/* 70-7F, 0F 80-8F */
emu_op_fn op_call;		/* E8, FF /2 */
emu_op_fn op_ret;		/* C3, C2 */
emu_op_fn op_loop;		/* E0 loopne, E1 loope, E2 loop, E3 jrcxz */
emu_op_fn op_jmpfar;		/* FF /5, EA (not 64-bit) */
emu_op_fn op_callfar;		/* FF /3, 9A (not 64-bit) */
emu_op_fn op_retfar;		/* CB, CA */
emu_op_fn op_int;		/* CC int3, CD int n, F1 int1 */
emu_op_fn op_iret;		/* CF */
emu_op_fn op_bound;		/* 62 (not 64-bit) */
/* io.c */
emu_op_fn op_in;		/* E4/E5, EC/ED */
emu_op_fn op_out;		/* E6/E7, EE/EF */
/* system.c */
emu_op_fn op_hlt;
emu_op_fn op_cli;
emu_op_fn op_sti;
emu_op_fn op_cpuid;
emu_op_fn op_rdtsc;
emu_op_fn op_rdtscp;
emu_op_fn op_rdpmc;		/* 0F 33 */
emu_op_fn op_movcr;		/* 0F 20/22 */
emu_op_fn op_movdr;		/* 0F 21/23 */
emu_op_fn op_grp6;		/* 0F 00: sldt str lldt ltr verr verw */
emu_op_fn op_grp7;		/* 0F 01: sgdt sidt lgdt lidt smsw lmsw invlpg swapgs rdtscp ... */
emu_op_fn op_clts;
emu_op_fn op_invd;		/* 0F 08 invd, 0F 09 wbinvd */
emu_op_fn op_ud;		/* 0F 0B ud2, and invalid encodings */
emu_op_fn op_larlsl;		/* 0F 02 lar, 0F 03 lsl */
emu_op_fn op_arpl;		/* 63 outside 64-bit mode */
emu_op_fn op_rdrand;		/* 0F C7 /6 rdrand, /7 rdseed (in->sub = ModRM.reg), register forms */
emu_op_fn op_rdpid;		/* F3 0F C7 /7 */
emu_op_fn op_fsgsbase;		/* F3 0F AE /0-/3 (mod 3): RDFSBASE RDGSBASE WRFSBASE WRGSBASE */
/* msr.c */
emu_op_fn op_rdmsr;		/* 0F 32 */
emu_op_fn op_wrmsr;		/* 0F 30 */
/* syscall.c: vendor rules in the file's header comment */
emu_op_fn op_syscall;		/* 0F 05 */
emu_op_fn op_sysret;		/* 0F 07 */
emu_op_fn op_sysenter;		/* 0F 34 */
emu_op_fn op_sysexit;		/* 0F 35 */
/* x87.c */
emu_op_fn op_x87;		/* D8-DF: in->sub = ModRM.reg; register forms by in->rm */
emu_op_fn op_fwait;		/* 9B */
emu_op_fn op_fxsave;		/* 0F AE /0 (REX.W: FXSAVE64) */
emu_op_fn op_fxrstor;		/* 0F AE /1 (REX.W: FXRSTOR64) */
emu_op_fn op_xsave;		/* 0F AE /4 (REX.W: XSAVE64) */
emu_op_fn op_xrstor;		/* 0F AE /5 (REX.W: XRSTOR64) */
emu_op_fn op_xsaveopt_clwb;	/* 0F AE /6: XSAVEOPT, 66: CLWB */
emu_op_fn op_xsavec;		/* 0F C7 /4 */
/* XGETBV, XSETBV (0F 01 D0, D1: grp7 calls them); XINUSE of the state. */
int	emu_xgetbv(struct emu_cpu *cpu);
int	emu_xsetbv(struct emu_cpu *cpu);
uint64_t emu_xinuse(const struct emu_cpu *cpu);
/* An x87 escape whose encoding is reserved (#UD whatever the state). */
bool	emu_x87_invalid(const struct emu_insn *in);
/* sse.c: MMX, SSE-SSE4.2; in->sub is the operation (sse.h) */
emu_op_fn op_sse;		/* XMM forms (66/F2/F3 or none; sse_decode.h) */
emu_op_fn op_mmx;		/* MMX forms of the integer instructions (no prefix) */
emu_op_fn op_emms;		/* 0F 77 */
emu_op_fn op_ldmxcsr;		/* 0F AE /2 */
emu_op_fn op_stmxcsr;		/* 0F AE /3 */
/* bcd.c (none in 64-bit mode) */
emu_op_fn op_daa;		/* 27 */
emu_op_fn op_das;		/* 2F */
emu_op_fn op_aaa;		/* 37 */
emu_op_fn op_aas;		/* 3F */
emu_op_fn op_aam;		/* D4 ib */
emu_op_fn op_aad;		/* D5 ib */

#endif /* LHYVE_EMU_CPU_H */
