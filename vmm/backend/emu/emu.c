/*
 * emu.c - the software x86-64 CPU behind struct vmm_backend_ops.
 *
 * run() looks up the translation block at CS:RIP and runs it (docs/cpu.md,
 * "The execution engine").  Its hot path makes no allocation and no system
 * call.  The loop leaves only when a handler builds an exit (port I/O,
 * MMIO, HLT, unknown MSR, unimplemented instruction), on a triple fault, or
 * when another thread kicks the vCPU.
 *
 * Concurrency (vmm_backend.h): run(), the state accessors and complete() are
 * called by the vCPU's owner with its lock held; only kick() and
 * mem_written() come from other threads: the kick flag is polled once per
 * block, and page code generations are atomics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_backend.h"

struct emu_vm {
	struct vmm_cpu_profile	prof;
	struct emu_clock	clock;		/* the VM's TSC and kvmclock (pvclock.c) */
	struct vmm_memmap	map;
	/* Bumped when the map changes, so vCPUs drop host pointers cached in TLBs. */
	atomic_uint_fast64_t	gen;
	/*
	 * One generation per guest-physical page below the end of RAM, odd
	 * while some vCPU holds translated code of the page (emu.c, "Translation
	 * blocks").  Reserved, not committed: untouched pages cost nothing.
	 */
	_Atomic uint32_t	*code_gen;
	uint64_t		code_npages;
};

/*
 * Translation blocks (docs/cpu.md): straight-line runs of decoded
 * instructions, keyed by the guest-physical address of their first byte and
 * the mode, within one page.  A block is valid while the generation of its
 * page (emu_vm.code_gen) is the one it was decoded under: every store path
 * and DMA bumps the generation of a page that holds code (emu_code_written),
 * so self- and cross-modifying code and device writes re-decode, and
 * nothing is compared byte by byte on the hot path.
 *
 * Blocks are private to a vCPU for now (no locking, no safe-reclamation
 * scheme needed); the page generations are shared.  A block is replaced
 * in place only by its own vCPU, between instructions.
 */
#define EMU_TB_BITS	14
#define EMU_TB_COUNT	(1 << EMU_TB_BITS)	/* per vCPU, direct-mapped */
#define EMU_TB_BYTES	(EMU_TB_COUNT * sizeof(struct emu_tb))
#define EMU_TB_INSNS	16		/* longest block */

/*
 * The slots are reserved, not committed (a kernel boot touches most of the
 * 18 MiB; a small guest a few pages): an untouched slot reads as zeros,
 * ninsns 0, which no lookup accepts.
 */
struct emu_tb {
	uint64_t	gpa;		/* first byte; ~0 while being decoded */
	uint32_t	gen;		/* code_gen of the page when decoded (odd) */
	uint8_t		mode;
	uint8_t		ninsns;
	uint16_t	nbytes;
	struct emu_insn	insns[EMU_TB_INSNS];
};

/*
 * The jump cache: 64-bit RIP -> block, skipping the ITLB probe and the
 * block hash (QEMU's tb_jmp_cache).  An entry holds while the TLB epoch is
 * the one it was made in (no flush, mode or CPL change since), the block
 * slot still holds its gpa, and the page generation still matches.
 */
#define EMU_JC_COUNT	1024

struct emu_jc {
	uint64_t	rip;
	uint64_t	gpa;
	uint64_t	epoch;
	struct emu_tb	*tb;
};

struct emu_vcpu {
	struct emu_cpu		cpu;	/* first: the cookie is also the emu_cpu */
	struct emu_vm		*vm;
	uint64_t		gen;
	struct emu_tb		*tbs;	/* EMU_TB_COUNT */
	struct emu_jc		jc[EMU_JC_COUNT];
	/*
	 * LHYVE_EMU_STOP_AFTER=N: a BACKEND_ERROR exit once N instructions
	 * have retired, so a profile (callgrind) covers a fixed stretch of a
	 * guest (docs/bench.md, "Profiling the kernel boot").  Else ~0.
	 */
	uint64_t		stop_after;
};

static inline struct emu_jc *
jc_slot(struct emu_vcpu *vc, uint64_t rip)
{
	return &vc->jc[(rip ^ (rip >> 10)) & (EMU_JC_COUNT - 1)];
}

static inline struct emu_tb *
tb_slot(struct emu_vcpu *vc, uint64_t gpa)
{
	return &vc->tbs[(gpa * 0x9e3779b97f4a7c15ULL) >> (64 - EMU_TB_BITS)];
}

/* Pages of [gpa, gpa + len) that hold translated code get a new, even generation. */
static void
code_gen_bump(_Atomic uint32_t *code_gen, uint64_t npages, uint64_t gpa, uint64_t len)
{
	uint64_t p, last;
	uint32_t g;

	if (len == 0 || gpa + len < gpa)
		return;
	last = (gpa + len - 1) >> 12;
	for (p = gpa >> 12; p <= last && p < npages; p++) {
		g = atomic_load_explicit(&code_gen[p], memory_order_relaxed);
		while ((g & 1) && !atomic_compare_exchange_weak(&code_gen[p], &g, g + 1))
			;
	}
}

void
emu_code_written_slow(struct emu_cpu *cpu, uint64_t gpa, uint64_t len)
{
	code_gen_bump(cpu->code_gen, cpu->code_npages, gpa, len);
	/* The running block may hold the bytes just written. */
	cpu->block_stop = 1;
}

static void
emu_mem_written(void *vmcookie, uint64_t gpa, uint64_t len)
{
	struct emu_vm *evm = vmcookie;

	code_gen_bump(evm->code_gen, evm->code_npages, gpa, len);
}

/* Mark the page of @gpa as holding code; returns its (odd) generation. */
static uint32_t
code_page_mark(struct emu_cpu *cpu, uint64_t gpa)
{
	_Atomic uint32_t *gp = &cpu->code_gen[gpa >> 12];
	uint32_t g = atomic_load(gp);

	while (!(g & 1) && !atomic_compare_exchange_weak(gp, &g, g | 1))
		;
	return g | 1;
}

/*
 * Does the instruction (its generic handler) end a block?  Every one that
 * may set next_rip elsewhere than the fall-through must (tb_exec relies on
 * it), and those that may change the mode or exit do.
 */
static bool
tb_ends_block(const struct emu_insn *in)
{
	emu_op_fn *fn = in->fn;

	return fn == op_jmp || fn == op_jcc || fn == op_loop || fn == op_call ||
	    fn == op_ret || fn == op_jmpfar || fn == op_callfar || fn == op_retfar ||
	    fn == op_int || fn == op_iret || fn == op_hlt || fn == op_syscall ||
	    fn == op_sysret || fn == op_sysenter || fn == op_sysexit ||
	    fn == op_unimpl || fn == op_ud || fn == op_in || fn == op_out ||
	    fn == op_ins || fn == op_outs || fn == op_movcr || fn == op_wrmsr ||
	    fn == op_rdmsr || in->rep != 0;
}

static int
emu_probe(void)
{
	return 0;
}

static int
emu_vm_init(struct vm *vm, const struct vmm_cpu_profile *prof, void **vmcookie)
{
	struct emu_vm *evm;

	evm = calloc(1, sizeof(*evm));
	if (evm == NULL)
		return -ENOMEM;
	evm->prof = *prof;
	emu_clock_init(&evm->clock);
	*vmcookie = evm;
	return 0;
}

static void
code_gen_free(struct emu_vm *evm)
{
	if (evm->code_gen != NULL)
		munmap((void *)evm->code_gen, evm->code_npages * sizeof(uint32_t));
	evm->code_gen = NULL;
	evm->code_npages = 0;
}

static void
emu_vm_cleanup(void *vmcookie)
{
	code_gen_free(vmcookie);
	free(vmcookie);
}

static int
emu_vm_memmap(void *vmcookie, const struct vmm_memmap *map)
{
	struct emu_vm *evm = vmcookie;

	uint64_t end = 0, npages;
	void *p;
	int i;

	if (map->nsegs < 0 || map->nsegs > (int)(sizeof(map->seg) / sizeof(map->seg[0])))
		return -EINVAL;
	for (i = 0; i < map->nsegs; i++) {
		if (map->seg[i].gpa + map->seg[i].len > end)
			end = map->seg[i].gpa + map->seg[i].len;
	}
	npages = (end + 4095) >> 12;
	code_gen_free(evm);
	if (npages != 0) {
		p = mmap(NULL, npages * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		evm->code_gen = p;
		evm->code_npages = npages;
	}
	evm->map = *map;
	atomic_fetch_add(&evm->gen, 1);
	return 0;
}

static void
io_log_reset(struct emu_cpu *cpu)
{
	cpu->io_log.n = 0;
	cpu->io_log.pos = 0;
	cpu->io_log.pending_read = 0;
}

/* The interrupt hint of a vCPU with no source: never set. */
static const atomic_int no_hint;

static int
emu_vcpu_init(void *vmcookie, struct vm_vcpu *vcpu, int vcpuid, void **vcpucookie)
{
	struct emu_vcpu *vc;

	vc = calloc(1, sizeof(*vc));
	if (vc == NULL)
		return -ENOMEM;
	vc->tbs = mmap(NULL, EMU_TB_BYTES, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vc->tbs == MAP_FAILED) {
		free(vc);
		return -ENOMEM;
	}
	for (int i = 0; i < EMU_JC_COUNT; i++)
		vc->jc[i].rip = ~0ULL;
	vc->vm = vmcookie;
	vc->stop_after = ~0ULL;
	if (getenv("LHYVE_EMU_STOP_AFTER") != NULL)
		vc->stop_after = strtoull(getenv("LHYVE_EMU_STOP_AFTER"), NULL, 0);
	vc->cpu.vcpuid = vcpuid;
	vc->cpu.vendor = (uint8_t)vc->vm->prof.vendor;
	vc->cpu.prof = &vc->vm->prof;
	vc->cpu.mem = &vc->vm->map;
	vc->cpu.clock = &vc->vm->clock;
	vc->cpu.exc_vector = -1;
	vc->cpu.intr_src.hint = &no_hint;
	vc->gen = atomic_load(&vc->vm->gen);
	vm_cpu_state_reset(&vc->cpu.st, vcpuid);
	emu_set_rflags(&vc->cpu, vc->cpu.st.rflags);
	emu_update_mode(&vc->cpu);
	emu_tlb_flush(&vc->cpu, false);
	vc->cpu.caps[VM_CAP_HALT_EXIT] = 1;
	vc->cpu.caps[VM_CAP_UNRESTRICTED_GUEST] = 1;
	vc->cpu.caps[VM_CAP_RDTSCP] = 1;
	*vcpucookie = vc;
	return 0;
}

static void
emu_vcpu_cleanup(void *vcpucookie)
{
	struct emu_vcpu *vc = vcpucookie;

	munmap(vc->tbs, EMU_TB_BYTES);
	free(vc);
}

/*
 * Fetch and decode the instruction at CS:RIP (SDM Vol. 3A 3.4, 5.3: CS limit
 * outside 64-bit mode; instruction fetches are data reads of the code page
 * with execute rights).  The decoder reads straight from the code page when
 * 15 bytes are available in it; otherwise the bytes are gathered across the
 * page boundary, and the second page is translated only when the
 * instruction really extends into it.
 */
static int
fetch_decode(struct emu_cpu *cpu, struct emu_insn *in, const struct emu_insn **inp)
{
	const struct vm_seg *cs = &cpu->st.seg[SEG_CS];
	uint64_t rip = cpu->st.rip, la, gpa, off;
	uint8_t *hp, buf[16];
	int acc, avail, rc, n2;
	bool limited = false;

	acc = EMU_ACC_FETCH | (cpu->cpl == 3 ? EMU_ACC_USER : 0);
	if (cpu->mode == EMU_MODE_LONG64) {
		if (!emu_canonical(rip))
			return emu_raise_err(cpu, IDT_GP, 0);
		la = rip;
	} else {
		if (rip > cs->limit)
			return emu_raise_err(cpu, IDT_GP, 0);
		la = (cs->base + rip) & 0xffffffffULL;
	}
	rc = emu_translate(cpu, la, acc, &hp, &gpa);
	if (rc != EMU_OK)
		return rc;
	off = la & 4095;
	avail = (int)(4096 - off);
	if (cpu->mode != EMU_MODE_LONG64 && cs->limit - rip + 1 < (uint64_t)avail) {
		avail = (int)(cs->limit - rip + 1);
		limited = true;
	}
	if (avail > 15)
		avail = 15;
	if (hp == NULL) {
		hp = emu_gpa_to_hva(cpu, gpa + off, (uint64_t)avail);
		if (hp == NULL)
			return emu_backend_error(cpu, EFAULT,
			    "instruction fetch from gpa %#llx, which is not RAM",
			    (unsigned long long)(gpa + off));
	} else {
		hp += off;
	}
	*inp = in;
	rc = emu_decode(hp, avail, cpu->mode, in);
	if (rc == 0)
		return EMU_OK;
	if (rc == -EAGAIN) {
		if (limited)
			return emu_raise_err(cpu, IDT_GP, 0);
		memcpy(buf, hp, avail);
		la = (la + (uint64_t)avail) & (cpu->mode == EMU_MODE_LONG64 ? ~0ULL :
		    0xffffffffULL);
		if (cpu->mode == EMU_MODE_LONG64 && !emu_canonical(la))
			return emu_raise_err(cpu, IDT_GP, 0);
		n2 = 15 - avail;
		if (cpu->mode != EMU_MODE_LONG64 &&
		    cs->limit - (rip + (uint64_t)avail) + 1 < (uint64_t)n2) {
			if (rip + (uint64_t)avail > cs->limit)
				return emu_raise_err(cpu, IDT_GP, 0);
			n2 = (int)(cs->limit - (rip + (uint64_t)avail) + 1);
			limited = true;
		}
		rc = emu_translate(cpu, la, acc, &hp, &gpa);
		if (rc != EMU_OK)
			return rc;
		if (hp == NULL)
			hp = emu_gpa_to_hva(cpu, gpa, (uint64_t)n2);
		if (hp == NULL)
			return emu_backend_error(cpu, EFAULT,
			    "instruction fetch from gpa %#llx, which is not RAM",
			    (unsigned long long)gpa);
		memcpy(buf + avail, hp, n2);
		rc = emu_decode(buf, avail + n2, cpu->mode, in);
		if (rc == -EAGAIN)
			return emu_raise_err(cpu, IDT_GP, 0);	/* ran into the CS limit */
	}
	if (rc == -EILSEQ)
		return emu_raise(cpu, IDT_UD);
	if (rc == -E2BIG)
		return emu_raise_err(cpu, IDT_GP, 0);
	return EMU_OK;
}

static int
exit_bogus(struct emu_cpu *cpu, struct vm_exit *vme)
{
	vme->exitcode = VM_EXITCODE_BOGUS;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	return 0;
}

/* Pending exception/interrupt, then NMI (SDM Vol. 3A 6.9 priorities). */
static int
deliver_pending(struct emu_cpu *cpu)
{
	int rc;

	if (cpu->st.pending_valid) {
		int vec = (int)cpu->st.pending_vector;

		cpu->st.pending_valid = 0;
		cpu->exc_vector = vec;
		cpu->exc_has_err = vec < 32 && cpu->st.pending_errcode_valid;
		cpu->exc_err = cpu->st.pending_errcode;
		rc = emu_exception_deliver(cpu, vec < 32 ? EMU_EV_EXCEPTION :
		    EMU_EV_EXTINT, cpu->st.rip);
		if (rc != EMU_OK)
			return rc;
	}
	if (cpu->st.nmi_pending &&
	    !(cpu->st.intr_shadow & (EMU_SHADOW_NMI | EMU_SHADOW_MOVSS))) {
		cpu->st.nmi_pending = 0;
		cpu->exc_vector = IDT_NMI;
		cpu->exc_has_err = 0;
		cpu->exc_err = 0;
		rc = emu_exception_deliver(cpu, EMU_EV_NMI, cpu->st.rip);
		if (rc != EMU_OK)
			return rc;
	}
	return EMU_OK;
}

/*
 * The translation block at CS:RIP, decoded now if needed.  EMU_OK with *tbp
 * set, or NULL when no block can start there (not canonical, beyond the CS
 * limit, not RAM, an instruction that crosses the page or does not decode):
 * the single-instruction path then raises or reports what it must.
 * EMU_FAULT (#PF on the fetch) or EMU_EXIT from the translation.
 */
static int
tb_find(struct emu_vcpu *vc, struct emu_tb **tbp)
{
	struct emu_cpu *cpu = &vc->cpu;
	const struct vm_seg *cs = &cpu->st.seg[SEG_CS];
	uint64_t rip = cpu->st.rip, la, gpa_page, gpa, off, avail, pos;
	const struct emu_tlb_entry *e;
	struct emu_tb *tb;
	uint8_t *hp;
	int acc, rc, n, mid;
	bool ends;

	*tbp = NULL;
	if (cpu->mode == EMU_MODE_LONG64) {
		struct emu_jc *j = jc_slot(vc, rip);

		if (j->rip == rip && j->epoch == cpu->tlb_epoch && j->tb->gpa == j->gpa &&
		    j->tb->gen == atomic_load_explicit(&cpu->code_gen[j->gpa >> 12],
		    memory_order_relaxed)) {
			*tbp = j->tb;
			return EMU_OK;
		}
		if (!emu_canonical(rip))
			return EMU_OK;
		la = rip;
	} else {
		if (rip > cs->limit)
			return EMU_OK;
		la = (cs->base + rip) & 0xffffffffULL;
	}
	/* The ITLB probe inline (mmu.c's tlb_lookup for a fetch), else a walk. */
	e = &cpu->tlb[EMU_TLB_SIZE + ((la >> 12) & (EMU_TLB_SIZE - 1))];
	if (e->vpn == la >> 12 && e->exec && (cpu->cpl != 3 || e->user)) {
		hp = e->hpage;
		gpa_page = e->gpa_page;
	} else {
		acc = EMU_ACC_FETCH | (cpu->cpl == 3 ? EMU_ACC_USER : 0);
		rc = emu_translate(cpu, la, acc, &hp, &gpa_page);
		if (rc != EMU_OK)
			return rc;
	}
	if (hp == NULL || (gpa_page >> 12) >= cpu->code_npages)
		return EMU_OK;
	off = la & 4095;
	avail = 4096 - off;
	if (cpu->mode != EMU_MODE_LONG64 && cs->limit - rip + 1 < avail)
		avail = cs->limit - rip + 1;
	gpa = gpa_page + off;
	tb = tb_slot(vc, gpa);
	if (tb->gpa == gpa && tb->mode == cpu->mode && tb->ninsns != 0 && tb->nbytes <= avail &&
	    tb->gen == atomic_load_explicit(&cpu->code_gen[gpa >> 12], memory_order_relaxed)) {
		*tbp = tb;
		goto found;
	}
	/* Mark the page before reading it, so a later write invalidates us. */
	tb->gpa = ~0ULL;
	tb->gen = code_page_mark(cpu, gpa);
	tb->mode = (uint8_t)cpu->mode;
	for (n = 0, pos = 0, mid = -1; n < EMU_TB_INSNS && pos < avail; ) {
		struct emu_insn *in = &tb->insns[n];

		if (emu_decode(hp + off + pos, (int)(avail - pos > 15 ? 15 : avail - pos),
		    cpu->mode, in) != 0)
			break;
		/* The generic handler says whether it leaves or ends the block. */
		ends = tb_ends_block(in);
		emu_specialize(in);
		/* A Jcc with a next instruction in the block takes its mid-block form. */
		if (mid >= 0)
			tb->insns[mid].fn = emu_midblock(&tb->insns[mid]);
		mid = ends && emu_midblock(in) != NULL ? n : -1;
		n++;
		pos += in->len;
		if (ends && mid < 0)
			break;
	}
	if (n == 0)
		return EMU_OK;
	tb->ninsns = (uint8_t)n;
	tb->nbytes = (uint16_t)pos;
	tb->gpa = gpa;
	*tbp = tb;
found:
	if (cpu->mode == EMU_MODE_LONG64) {
		struct emu_jc *j = jc_slot(vc, rip);

		j->rip = rip;
		j->gpa = gpa;
		j->epoch = cpu->tlb_epoch;
		j->tb = tb;
	}
	return EMU_OK;
}

/*
 * Run a block from its first instruction.  Leaves after an instruction that
 * does not fall through (branch, REP iteration, exception, a taken
 * mid-block Jcc), that sets block_stop, or that does not return EMU_OK;
 * st.rip is then the next instruction, or the one that faulted or exited.
 */
static int
tb_exec(struct emu_cpu *cpu, const struct emu_tb *tb)
{
	const struct emu_insn *in = tb->insns, *end = tb->insns + tb->ninsns;
	uint64_t mask = emu_ip_mask(cpu);
	int rc = EMU_OK;

	/*
	 * No replay log is pending here (run() steps a replayed instruction on
	 * its own), so the I/O log needs no per-instruction care.  Only the
	 * last instruction of a block can leave the fall-through (tb_ends_block
	 * ends a block at every instruction that may set next_rip), except a
	 * mid-block Jcc, which says so with EMU_BRANCH; so the others only
	 * check block_stop.
	 */
	uint64_t fall;

	cpu->block_stop = 0;
	for (end--; in < end; in++) {
		fall = (cpu->st.rip + in->len) & mask;
		cpu->next_rip = fall;
		rc = in->fn(cpu, in);
		if (__builtin_expect(rc != EMU_OK, 0)) {
			if (rc == EMU_BRANCH) {
				rc = EMU_OK;
				cpu->st.rip = cpu->next_rip;
				in++;
			}
			goto out;
		}
		cpu->st.rip = fall;
		if (cpu->block_stop) {
			in++;
			goto out;
		}
	}
	cpu->next_rip = (cpu->st.rip + in->len) & mask;
	rc = in->fn(cpu, in);
	if (rc == EMU_OK) {
		/* A REP iteration that comes back to itself has not retired yet. */
		if (!in->rep || cpu->next_rip != cpu->st.rip)
			in++;
		cpu->st.rip = cpu->next_rip;
	}
out:
	cpu->stats.insns_retired += (uint64_t)(in - tb->insns);
	return rc;
}

/*
 * After an instruction returned @rc (EMU_OK handled by the caller for
 * blocks): deliver a fault, or finish an exit.  Returns true when run()
 * must return to libvmm.
 */
static bool
insn_done(struct emu_cpu *cpu, int rc, uint32_t shadow)
{
	struct vm_exit *vme = cpu->exit;

	switch (rc) {
	case EMU_FAULT:
		io_log_reset(cpu);
		return emu_exception_deliver(cpu, EMU_EV_EXCEPTION, cpu->st.rip) == EMU_EXIT;
	case EMU_EXIT:
		if (vme->inst_length != 0) {
			/* The exiting instruction retired (HLT, WRMSR...). */
			cpu->st.rip = cpu->next_rip;
			cpu->stats.insns_retired++;
			io_log_reset(cpu);
			if (shadow)
				cpu->st.intr_shadow &= ~shadow;
		} else {
			cpu->io_log.rip = cpu->st.rip;
		}
		return true;
	default:
		emu_backend_error(cpu, EINVAL, "handler returned %d", rc);
		return true;
	}
}

/*
 * One instruction on its own: while an interrupt shadow, TF or MTRAP is in
 * force, and wherever no block can start.  Returns true when run() must
 * return.
 */
static bool
step_one(struct emu_cpu *cpu)
{
	struct vm_exit *vme = cpu->exit;
	struct emu_insn scratch;
	const struct emu_insn *in = NULL;
	uint32_t shadow;
	bool tf;
	int rc;

	shadow = cpu->st.intr_shadow & (EMU_SHADOW_STI | EMU_SHADOW_MOVSS);
	tf = (cpu->st.rflags & RFL_TF) != 0;
	cpu->io_log.pos = 0;
	cpu->exc_vector = -1;
	rc = fetch_decode(cpu, &scratch, &in);
	if (rc == EMU_OK) {
		cpu->next_rip = (cpu->st.rip + in->len) & emu_ip_mask(cpu);
		rc = in->fn(cpu, in);
	}
	if (rc != EMU_OK)
		return insn_done(cpu, rc, shadow);
	if (!in->rep || cpu->next_rip != cpu->st.rip)
		cpu->stats.insns_retired++;
	cpu->st.rip = cpu->next_rip;
	if (cpu->io_log.n != 0)
		io_log_reset(cpu);
	/* STI / MOV SS blocking lasts one instruction (SDM Vol. 3A 6.8.3). */
	if (shadow)
		cpu->st.intr_shadow &= ~shadow;
	if (__builtin_expect(tf, 0) && in->fn != op_int) {
		/* Single-step trap (SDM Vol. 3A 17.3.1.4): DR6.BS. */
		cpu->st.dr[6] |= 1ULL << 14;
		cpu->exc_vector = IDT_DB;
		cpu->exc_has_err = 0;
		if (emu_exception_deliver(cpu, EMU_EV_EXCEPTION, cpu->st.rip) == EMU_EXIT)
			return true;
	}
	if (__builtin_expect(cpu->caps[VM_CAP_MTRAP_EXIT], 0)) {
		vme->exitcode = VM_EXITCODE_MTRAP;
		vme->rip = cpu->st.rip;
		vme->inst_length = 0;
		return true;
	}
	return false;
}

/*
 * An external interrupt from the vCPU's source, when one may be taken now
 * (vmm_backend.h struct vmm_intr_source; SDM Vol. 3A 6.8.1, 6.8.3): it is
 * delivered through the IDT as the next event, before the instruction at
 * RIP, and the handler's interrupt gate clears IF.
 */
static int
deliver_extint(struct emu_cpu *cpu)
{
	int vec;

	if (!(cpu->st.rflags & RFL_IF) ||
	    (cpu->st.intr_shadow & (EMU_SHADOW_STI | EMU_SHADOW_MOVSS)))
		return EMU_OK;
	vec = cpu->intr_src.pending(cpu->intr_src.arg);
	if (vec < 16 || vec > 255)
		return EMU_OK;
	cpu->intr_src.accept(cpu->intr_src.arg, vec);
	cpu->exc_vector = vec;
	cpu->exc_has_err = 0;
	cpu->exc_err = 0;
	cpu->st.halted = 0;
	return emu_exception_deliver(cpu, EMU_EV_EXTINT, cpu->st.rip);
}

static int
emu_set_intr_source(void *vcpucookie, const struct vmm_intr_source *src)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	if (src != NULL && (src->pending == NULL || src->accept == NULL))
		return -EINVAL;
	/* Without a hint the source is asked at every boundary. */
	static const atomic_int always = 1;

	if (src != NULL) {
		cpu->intr_src = *src;
		if (src->hint == NULL)
			cpu->intr_src.hint = &always;
	} else {
		memset(&cpu->intr_src, 0, sizeof(cpu->intr_src));
		cpu->intr_src.hint = &no_hint;
	}
	return 0;
}

static int
emu_run(void *vcpucookie, uint64_t rip, struct vm_exit *vme)
{
	struct emu_vcpu *vc = vcpucookie;
	struct emu_cpu *cpu = &vc->cpu;
	struct emu_tb *tb;
	uint64_t gen;
	int rc;

	memset(vme, 0, sizeof(*vme));
	cpu->exit = vme;
	cpu->stats.backend_entries++;
	gen = atomic_load(&vc->vm->gen);
	if (gen != vc->gen) {
		/* New memory map: host pointers and code generations are new too. */
		vc->gen = gen;
		emu_tlb_flush(cpu, false);	/* a new TLB epoch: the jump cache is void */
		if (madvise(vc->tbs, EMU_TB_BYTES, MADV_DONTNEED) != 0)
			memset(vc->tbs, 0, EMU_TB_BYTES);	/* empty again */
	}
	cpu->code_gen = vc->vm->code_gen;
	cpu->code_npages = vc->vm->code_npages;
	/* Resuming elsewhere than the replayed instruction drops its log. */
	if (rip != cpu->io_log.rip)
		io_log_reset(cpu);
	cpu->st.rip = rip;
	cpu->st.halted = 0;
	if (cpu->mode != EMU_MODE_REAL && (cpu->st.rflags & RFL_VM)) {
		emu_backend_error(cpu, ENOTSUP, "virtual-8086 mode is not implemented");
		return 0;
	}

	for (;;) {
		/* Kicks, injected events and interrupts are taken between blocks. */
		if (atomic_load_explicit(&cpu->kick, memory_order_relaxed)) {
			atomic_store_explicit(&cpu->kick, 0, memory_order_relaxed);
			return exit_bogus(cpu, vme);
		}
		if (__builtin_expect(cpu->stats.insns_retired >= vc->stop_after, 0)) {
			emu_backend_error(cpu, ECANCELED, "stopped after %llu instructions "
			    "(LHYVE_EMU_STOP_AFTER)", (unsigned long long)cpu->stats.insns_retired);
			return 0;
		}
		if (__builtin_expect(cpu->st.pending_valid | cpu->st.nmi_pending, 0)) {
			rc = deliver_pending(cpu);
			if (rc == EMU_EXIT)
				return 0;
		}
		/*
		 * Not while a replayed instruction is half done (io_log.n):
		 * its device accesses happened, so it must retire first (an
		 * ICR write that raised the interrupt would be sent again).
		 */
		if (atomic_load_explicit(cpu->intr_src.hint, memory_order_relaxed) &&
		    cpu->io_log.n == 0 && deliver_extint(cpu) == EMU_EXIT)
			return 0;
		if (__builtin_expect((cpu->st.intr_shadow & (EMU_SHADOW_STI | EMU_SHADOW_MOVSS)) ||
		    (cpu->st.rflags & RFL_TF) || cpu->caps[VM_CAP_MTRAP_EXIT] ||
		    cpu->io_log.n != 0, 0)) {
			if (step_one(cpu))
				return 0;
			continue;
		}
		/*
		 * Blocks chain here while nothing the checks above look at can
		 * have changed: an injected event, MTRAP and a replay come from
		 * outside run() or end it, and what sets TF, an interrupt shadow
		 * or anything else a block assumed sets block_stop.  Only the
		 * other threads' kick and interrupt hint need a look.
		 */
chain:
		cpu->exc_vector = -1;
		rc = tb_find(vc, &tb);
		if (rc == EMU_OK && tb == NULL) {
			if (step_one(cpu))
				return 0;
			continue;
		}
		if (rc == EMU_OK)
			rc = tb_exec(cpu, tb);
		if (rc == EMU_OK) {
			if (__builtin_expect(!cpu->block_stop &&
			    !atomic_load_explicit(&cpu->kick, memory_order_relaxed) &&
			    !atomic_load_explicit(cpu->intr_src.hint, memory_order_relaxed) &&
			    cpu->stats.insns_retired < vc->stop_after, 1))
				goto chain;
			continue;
		}
		if (insn_done(cpu, rc, 0))
			return 0;
	}
}

/*
 * Userland finished the access of the last exit: record it so that the
 * replayed instruction consumes it (cpu.h).  Reads carry their data; writes
 * only mark the access done.
 */
static int
emu_complete(void *vcpucookie, const struct vm_exit *vme)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;
	struct emu_io_log *log = &cpu->io_log;
	uint64_t v;

	switch (vme->exitcode) {
	case VM_EXITCODE_INOUT:
		v = vme->u.inout.in ? vme->u.inout.eax : 0;
		break;
	case VM_EXITCODE_INST_EMUL:
		v = vme->u.mmio.write ? 0 : vme->u.mmio.data;
		break;
	case VM_EXITCODE_RDMSR:
		v = vme->u.msr.wval;
		break;
	default:
		return 0;
	}
	if (vme->inst_length != 0 || vme->rip != log->rip)
		return -EINVAL;
	if (log->n >= EMU_IO_LOG_MAX)
		return -E2BIG;
	log->data[log->n++] = v;
	log->pending_read = 0;
	return 0;
}

static void
emu_kick(void *vcpucookie)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	atomic_store_explicit(&cpu->kick, 1, memory_order_relaxed);
}

static int
emu_get_state(void *vcpucookie, struct vm_cpu_state *st)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	cpu->st.rflags = emu_rflags(cpu);
	cpu->st.tsc = emu_tsc_read(cpu);
	cpu->st.kvm_wall_clock = atomic_load(&cpu->clock->kvm_wall_clock);
	*st = cpu->st;
	return 0;
}

/* After CR0/CR3/CR4/EFER or the PDPTEs change from outside. */
static void
state_changed(struct emu_cpu *cpu)
{
	emu_update_mode(cpu);
	emu_tlb_flush(cpu, false);
}

static int
emu_set_state(void *vcpucookie, const struct vm_cpu_state *st)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	cpu->st = *st;
	emu_set_rflags(cpu, st->rflags);
	io_log_reset(cpu);
	cpu->exc_vector = -1;
	state_changed(cpu);
	emu_tsc_restore(cpu);
	return 0;
}

static uint64_t
emu_get_tsc(void *vcpucookie)
{
	return emu_tsc_read(&((struct emu_vcpu *)vcpucookie)->cpu);
}

static int
emu_get_reg(void *vcpucookie, int reg, uint64_t *val)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	if (reg == VM_REG_GUEST_RFLAGS)
		emu_rflags(cpu);
	return vm_cpu_state_get_reg(&cpu->st, reg, val);
}

static int
emu_set_reg(void *vcpucookie, int reg, uint64_t val)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;
	int rc;

	if (reg == VM_REG_GUEST_RFLAGS) {
		emu_set_rflags(cpu, val);
		return 0;
	}
	rc = vm_cpu_state_set_reg(&cpu->st, reg, val);
	if (rc != 0)
		return rc;
	switch (reg) {
	case VM_REG_GUEST_CR0:
	case VM_REG_GUEST_CR3:
	case VM_REG_GUEST_CR4:
	case VM_REG_GUEST_EFER:
	case VM_REG_GUEST_PDPTE0:
	case VM_REG_GUEST_PDPTE1:
	case VM_REG_GUEST_PDPTE2:
	case VM_REG_GUEST_PDPTE3:
		state_changed(cpu);
		break;
	case VM_REG_GUEST_CS:
	case VM_REG_GUEST_SS:
		emu_update_mode(cpu);
		break;
	case VM_REG_GUEST_RIP:
		io_log_reset(cpu);
		break;
	default:
		break;
	}
	return 0;
}

static int
emu_get_desc(void *vcpucookie, int reg, struct seg_desc *desc)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	return vm_cpu_state_get_desc(&cpu->st, reg, desc);
}

static int
emu_set_desc(void *vcpucookie, int reg, const struct seg_desc *desc)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;
	int rc;

	rc = vm_cpu_state_set_desc(&cpu->st, reg, desc);
	if (rc == 0)
		emu_update_mode(cpu);
	return rc;
}

static int
emu_inject_exception(void *vcpucookie, int vector, int errcode_valid,
    uint32_t errcode, int restart_instruction)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	/*
	 * restart_instruction needs nothing here: libvmm resumes at the rip
	 * it passes to run(), which is the exiting instruction's when it asks
	 * for a restart (bhyve's vm_restart_instruction).
	 */
	if (vector < 0 || vector >= 32)
		return -EINVAL;
	if (cpu->st.pending_valid)
		return -EBUSY;
	cpu->st.pending_valid = 1;
	cpu->st.pending_vector = (uint32_t)vector;
	cpu->st.pending_errcode_valid = errcode_valid ? 1 : 0;
	cpu->st.pending_errcode = errcode;
	return 0;
}

static int
emu_inject_nmi(void *vcpucookie)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	cpu->st.nmi_pending = 1;
	return 0;
}

/* Capabilities this backend implements; the others are -ENOENT. */
static bool
cap_supported(int type)
{
	switch (type) {
	case VM_CAP_HALT_EXIT:
	case VM_CAP_PAUSE_EXIT:
	case VM_CAP_MTRAP_EXIT:
	case VM_CAP_UNRESTRICTED_GUEST:
	case VM_CAP_BPT_EXIT:
	case VM_CAP_RDTSCP:
		return true;
	default:
		return false;
	}
}

static int
emu_get_cap(void *vcpucookie, int type, int *val)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	if (type < 0 || type >= VM_CAP_MAX || !cap_supported(type))
		return -ENOENT;
	*val = cpu->caps[type];
	return 0;
}

static int
emu_set_cap(void *vcpucookie, int type, int val)
{
	struct emu_cpu *cpu = &((struct emu_vcpu *)vcpucookie)->cpu;

	if (type < 0 || type >= VM_CAP_MAX || !cap_supported(type))
		return -ENOENT;
	/* HLT always exits, real mode always runs, RDTSCP always exists. */
	if ((type == VM_CAP_HALT_EXIT || type == VM_CAP_UNRESTRICTED_GUEST ||
	    type == VM_CAP_RDTSCP) && !val)
		return -EINVAL;
	cpu->caps[type] = val ? 1 : 0;
	return 0;
}

static void
emu_get_stats(void *vcpucookie, struct vm_backend_stats *stats)
{
	*stats = ((struct emu_vcpu *)vcpucookie)->cpu.stats;
}

/*
 * x87.c's session (cpu.h) may span the blocks of one run(): the guest's
 * x87 state goes back to st.fxsave, and the host's into its x87 unit,
 * before run() returns to libvmm.
 */
static int
emu_run_fp(void *vcpucookie, uint64_t rip, struct vm_exit *vme)
{
	int rc = emu_run(vcpucookie, rip, vme);

	emu_x87_flush(&((struct emu_vcpu *)vcpucookie)->cpu);
	return rc;
}

const struct vmm_backend_ops vmm_backend_emu = {
	.name = "emu",
	.probe = emu_probe,
	.vm_init = emu_vm_init,
	.vm_cleanup = emu_vm_cleanup,
	.vm_memmap = emu_vm_memmap,
	.mem_written = emu_mem_written,
	.vcpu_init = emu_vcpu_init,
	.vcpu_cleanup = emu_vcpu_cleanup,
	.run = emu_run_fp,
	.complete = emu_complete,
	.kick = emu_kick,
	.get_state = emu_get_state,
	.set_state = emu_set_state,
	.get_reg = emu_get_reg,
	.set_reg = emu_set_reg,
	.get_desc = emu_get_desc,
	.set_desc = emu_set_desc,
	.inject_exception = emu_inject_exception,
	.inject_nmi = emu_inject_nmi,
	.set_intr_source = emu_set_intr_source,
	.get_cap = emu_get_cap,
	.set_cap = emu_set_cap,
	.get_stats = emu_get_stats,
	.get_tsc = emu_get_tsc,
};
