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
 * block, and page code generations are atomics.  The translation blocks are
 * the VM's, shared by its vCPUs (struct emu_tbs has their contract).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_backend.h"

/*
 * Translation blocks (docs/cpu.md): straight-line runs of decoded
 * instructions, keyed by the guest-physical address of their first byte and
 * the mode, within one page.  A block is valid while the generation of its
 * page (emu_vm.code_gen) is the one it was decoded under: every store path
 * and DMA bumps the generation of a page that holds code (emu_code_written),
 * so self- and cross-modifying code and device writes re-decode, and
 * nothing is compared byte by byte on the hot path.
 *
 * Blocks are shared by the VM's vCPUs and never change once published,
 * except their successor links.  Concurrency contract of struct emu_tbs:
 * readers (vCPUs in run()) take no lock: they load a table slot or a link
 * and check the block's key and generation.  Insertion, replacement,
 * linking and unlinking hold tbs.lock.  A block taken out of the table is
 * retired: its links in and out are cleared under the lock, and it is
 * freed only after every vCPU then inside run() has passed a quiescent
 * point (quiescent-state-based reclamation; the epoch scheme below).
 */
#define EMU_TB_BITS	15
#define EMU_TB_COUNT	(1 << EMU_TB_BITS)	/* per VM, direct-mapped */
#define EMU_TB_INSNS	16		/* longest block */
/* Retired blocks wait for a grace period in batches of this many. */
#define EMU_TB_RETIRE_BATCH	128

struct emu_tb {
	uint64_t	gpa;		/* first byte */
	uint32_t	gen;		/* code_gen of the page when decoded (odd) */
	uint8_t		mode;
	uint8_t		ninsns;
	uint16_t	nbytes;
	/* The last instruction leaves to a fixed place (fall-through, direct branch). */
	uint8_t		linkable;
	_Atomic uint8_t	retired;	/* set under tbs.lock */
	/*
	 * Direct chaining: up to two successors, each the block that
	 * followed one of this block's fixed exits.  Readers load them
	 * without the lock and accept one only if its gpa is the next
	 * instruction's, its mode the CPU's and its generation current
	 * (tb_chained).  Set and cleared under tbs.lock; each link is also
	 * on its successor's list of incoming links, so that retiring the
	 * successor clears it.  A link is (block | slot) in a uintptr_t.
	 */
	struct emu_tb *_Atomic	succ[2];
	uintptr_t	succ_next[2];	/* next link on succ[k]'s incoming list */
	uintptr_t	incoming;	/* first link into this block */
	struct emu_tb	*retired_next;	/* on tbs.pending or tbs.waiting */
	uint64_t	grace_epoch;	/* freed once every online vCPU has seen it */
	struct emu_insn	insns[];
};

/*
 * The VM's blocks.  Quiescent-state-based reclamation: tbs.epoch counts
 * grace periods.  Each vCPU publishes in emu_vcpu.qs the epoch it saw at
 * its last quiescent point (a point in run() where it holds no block:
 * between blocks, before the lookup), or 0 while it is outside run()
 * (exits, HLT, waiting for SIPI), where it holds none either.  Retired
 * blocks gather on `pending`; a full batch starts a grace period: the
 * epoch is bumped and the batch, tagged with the new epoch, moves to
 * `waiting`, from which a block is freed once every vCPU's qs is 0 or at
 * least its tag.  A vCPU notices a new epoch at its next block boundary
 * (one load), publishes it, and voids its jump cache, the only block
 * pointers it keeps across quiescent points.
 */
struct emu_tbs {
	pthread_mutex_t		lock;
	struct emu_tb *_Atomic	*slot;		/* EMU_TB_COUNT */
	_Atomic uint64_t	epoch;		/* from 1 */
	struct emu_tb		*pending;	/* retired, no grace period yet */
	unsigned		npending;
	struct emu_tb		*waiting, **waiting_tail;	/* oldest first */
	atomic_uint		nwaiting;
	struct emu_vcpu		*vcpus;		/* the VM's vCPUs, for their qs */
	struct emu_tb_stats	stats;		/* under the lock */
};

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
	struct emu_tbs		tbs;
};

/*
 * The jump cache: 64-bit RIP -> block, skipping the ITLB probe and the
 * block hash (QEMU's tb_jmp_cache).  An entry holds while the TLB epoch is
 * the one it was made in (no flush, mode or CPL change since, and no new
 * reclamation epoch seen: tb_quiescent bumps it) and the page generation
 * still matches.
 */
#define EMU_JC_COUNT	1024

struct emu_jc {
	uint64_t	rip;
	uint64_t	epoch;
	struct emu_tb	*tb;
};

struct emu_vcpu {
	struct emu_cpu		cpu;	/* first: the cookie is also the emu_cpu */
	struct emu_vm		*vm;
	uint64_t		gen;
	struct emu_jc		jc[EMU_JC_COUNT];
	/* Reclamation (struct emu_tbs): published epoch, 0 outside run(). */
	_Atomic uint64_t	qs;
	uint64_t		qs_seen;	/* the last epoch published */
	struct emu_vcpu		*next;		/* on tbs.vcpus */
	uint64_t		chained;	/* blocks entered through a link */
	/* A block being decoded, before it is copied to its exact size. */
	struct emu_insn		scratch[EMU_TB_INSNS];
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

static inline struct emu_tb *_Atomic *
tb_slot(struct emu_tbs *t, uint64_t gpa)
{
	return &t->slot[(gpa * 0x9e3779b97f4a7c15ULL) >> (64 - EMU_TB_BITS)];
}

/* ---- block lifetime (all under tbs.lock) ---- */

static inline struct emu_tb *
link_tb(uintptr_t l)
{
	return (struct emu_tb *)(l & ~(uintptr_t)1);
}

/* Take link @k of @a off its successor's incoming list and clear it. */
static void
tb_unlink_out(struct emu_tb *a, int k)
{
	struct emu_tb *s = atomic_load_explicit(&a->succ[k], memory_order_relaxed);
	uintptr_t me = (uintptr_t)a | (uintptr_t)k, *pp;

	if (s == NULL)
		return;
	for (pp = &s->incoming; *pp != me; pp = &link_tb(*pp)->succ_next[*pp & 1]) {
		if (*pp == 0)
			abort();	/* a link is always on its successor's list */
	}
	*pp = a->succ_next[k];
	a->succ_next[k] = 0;
	atomic_store_explicit(&a->succ[k], NULL, memory_order_relaxed);
}

/* Clear every link into @s. */
static void
tb_unlink_in(struct emu_tb *s)
{
	uintptr_t l = s->incoming, next;
	struct emu_tb *a;

	while (l != 0) {
		a = link_tb(l);
		next = a->succ_next[l & 1];
		a->succ_next[l & 1] = 0;
		atomic_store_explicit(&a->succ[l & 1], NULL, memory_order_relaxed);
		l = next;
	}
	s->incoming = 0;
}

/* Free what every vCPU inside run() has passed a quiescent point since. */
static void
tb_reclaim(struct emu_tbs *t)
{
	uint64_t min = UINT64_MAX, q;
	struct emu_vcpu *v;
	struct emu_tb *tb;
	unsigned n = 0;

	for (v = t->vcpus; v != NULL; v = v->next) {
		q = atomic_load(&v->qs);
		if (q != 0 && q < min)
			min = q;
	}
	while ((tb = t->waiting) != NULL && tb->grace_epoch <= min) {
		t->waiting = tb->retired_next;
		free(tb);
		n++;
	}
	if (t->waiting == NULL)
		t->waiting_tail = &t->waiting;
	t->stats.freed += n;
	atomic_fetch_sub_explicit(&t->nwaiting, n, memory_order_relaxed);
}

/*
 * Start a grace period for the pending blocks: they are out of the table
 * and unlinked (which the epoch bump publishes), so a vCPU that has seen
 * the new epoch can no longer reach them.
 */
static void
tb_grace_start(struct emu_tbs *t)
{
	uint64_t e;
	struct emu_tb *tb;

	if (t->pending == NULL)
		return;
	e = atomic_fetch_add(&t->epoch, 1) + 1;
	/* vCPUs in run() leave their chains of blocks to pass a quiescent point. */
	for (struct emu_vcpu *v = t->vcpus; v != NULL; v = v->next) {
		if (atomic_load(&v->qs) != 0)
			atomic_fetch_or(&v->cpu.kick, EMU_KICK_QS);
	}
	while ((tb = t->pending) != NULL) {
		t->pending = tb->retired_next;
		tb->grace_epoch = e;
		tb->retired_next = NULL;
		*t->waiting_tail = tb;
		t->waiting_tail = &tb->retired_next;
		atomic_fetch_add_explicit(&t->nwaiting, 1, memory_order_relaxed);
	}
	t->npending = 0;
	tb_reclaim(t);
}

/* @tb has left the table: unlink it and queue it for freeing. */
static void
tb_retire(struct emu_tbs *t, struct emu_tb *tb)
{
	atomic_store_explicit(&tb->retired, 1, memory_order_relaxed);
	tb_unlink_out(tb, 0);
	tb_unlink_out(tb, 1);
	tb_unlink_in(tb);
	tb->retired_next = t->pending;
	t->pending = tb;
	t->stats.live--;
	t->stats.retired++;
	if (++t->npending >= EMU_TB_RETIRE_BATCH)
		tb_grace_start(t);
}

/* Retire every block (a new memory map; tests); frees what it can now. */
static void
tb_flush_locked(struct emu_tbs *t)
{
	struct emu_tb *tb;

	for (int i = 0; i < EMU_TB_COUNT; i++) {
		tb = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
		if (tb != NULL) {
			atomic_store_explicit(&t->slot[i], NULL, memory_order_release);
			tb_retire(t, tb);
		}
	}
	tb_grace_start(t);
}

void
emu_tb_flush(void *vmcookie)
{
	struct emu_tbs *t = &((struct emu_vm *)vmcookie)->tbs;

	pthread_mutex_lock(&t->lock);
	tb_flush_locked(t);
	pthread_mutex_unlock(&t->lock);
}

void
emu_tb_get_stats(void *vmcookie, struct emu_tb_stats *st)
{
	struct emu_tbs *t = &((struct emu_vm *)vmcookie)->tbs;

	pthread_mutex_lock(&t->lock);
	*st = t->stats;
	st->waiting = atomic_load(&t->nwaiting);
	pthread_mutex_unlock(&t->lock);
}

uint64_t
emu_tb_chained(void *vcpucookie)
{
	return ((struct emu_vcpu *)vcpucookie)->chained;
}

/*
 * A quiescent point of @vc (it holds no block): publish epoch @e, then let
 * the jump cache go (a new TLB epoch voids it), and free what waited on us.
 */
static void
tb_quiescent(struct emu_vcpu *vc, uint64_t e)
{
	struct emu_tbs *t = &vc->vm->tbs;

	vc->qs_seen = e;
	atomic_store(&vc->qs, e);
	/* The lookups that follow must not be ordered before the store. */
	atomic_thread_fence(memory_order_seq_cst);
	vc->cpu.tlb_epoch++;
	if (atomic_load_explicit(&t->nwaiting, memory_order_relaxed) != 0) {
		pthread_mutex_lock(&t->lock);
		tb_reclaim(t);
		pthread_mutex_unlock(&t->lock);
	}
}

/*
 * Entering run(): online again with the epoch published when we left, so
 * that a jump cache filled then stays usable if no grace period began
 * meanwhile; else a quiescent point at the current epoch.
 */
static void
tb_online(struct emu_vcpu *vc)
{
	uint64_t e;

	atomic_store(&vc->qs, vc->qs_seen);
	atomic_thread_fence(memory_order_seq_cst);
	e = atomic_load(&vc->vm->tbs.epoch);
	if (e != vc->qs_seen)
		tb_quiescent(vc, e);
}

/* Leaving run(): hold nothing up, and free what waited on us. */
static void
tb_offline(struct emu_vcpu *vc)
{
	struct emu_tbs *t = &vc->vm->tbs;

	atomic_store(&vc->qs, 0);
	if (atomic_load_explicit(&t->nwaiting, memory_order_relaxed) != 0) {
		pthread_mutex_lock(&t->lock);
		tb_reclaim(t);
		pthread_mutex_unlock(&t->lock);
	}
}

/*
 * Is linking @a's fixed exit to @s, which followed it, worth the lock: a
 * free slot, not linked yet, both still in the table (a jump cache may
 * hand out a retired block until its grace period).
 */
static inline bool
tb_link_wanted(struct emu_tb *a, struct emu_tb *s)
{
	struct emu_tb *s0 = atomic_load_explicit(&a->succ[0], memory_order_relaxed);
	struct emu_tb *s1 = atomic_load_explicit(&a->succ[1], memory_order_relaxed);

	return a->mode == EMU_MODE_LONG64 && s->mode == EMU_MODE_LONG64 &&
	    (s0 == NULL || s1 == NULL) && s0 != s &&
	    s1 != s && !atomic_load_explicit(&a->retired, memory_order_relaxed) &&
	    !atomic_load_explicit(&s->retired, memory_order_relaxed);
}

/* Link @a's fixed exit to @s, when tb_link_wanted still holds under the lock. */
static void
tb_link(struct emu_tbs *t, struct emu_tb *a, struct emu_tb *s)
{
	int k;

	pthread_mutex_lock(&t->lock);
	if (tb_link_wanted(a, s)) {
		for (k = 0; k < 2; k++) {
			if (atomic_load_explicit(&a->succ[k], memory_order_relaxed) == NULL) {
				a->succ_next[k] = s->incoming;
				s->incoming = (uintptr_t)a | (uintptr_t)k;
				atomic_store_explicit(&a->succ[k], s, memory_order_release);
				t->stats.links++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
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

/*
 * Does the block's last instruction (its generic handler) leave to a place
 * fixed by the block, so that its successor may be linked: one that does
 * not end a block (the block ended at its size or the page end), a Jcc, a
 * LOOP, a direct JMP or CALL.  Not returns, indirect branches, far
 * transfers or anything that exits.
 */
static bool
tb_exit_linkable(const struct emu_insn *in, bool ends)
{
	emu_op_fn *fn = in->fn;

	return !ends || fn == op_jcc || fn == op_loop ||
	    ((fn == op_jmp || fn == op_call) && in->opcode != 0xff);
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
	evm->tbs.slot = calloc(EMU_TB_COUNT, sizeof(*evm->tbs.slot));
	if (evm->tbs.slot == NULL) {
		free(evm);
		return -ENOMEM;
	}
	pthread_mutex_init(&evm->tbs.lock, NULL);
	atomic_init(&evm->tbs.epoch, 1);
	evm->tbs.waiting_tail = &evm->tbs.waiting;
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
	struct emu_vm *evm = vmcookie;
	struct emu_tbs *t = &evm->tbs;

	/* No vCPU is left: the grace periods are over. */
	pthread_mutex_lock(&t->lock);
	tb_flush_locked(t);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_destroy(&t->lock);
	free(t->slot);
	code_gen_free(evm);
	free(evm);
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
	/*
	 * The map changes while no vCPU runs (vmm_backend.h): every block
	 * goes, so that none matches a page generation of the new array.
	 */
	emu_tb_flush(evm);
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
	for (int i = 0; i < EMU_JC_COUNT; i++)
		vc->jc[i].rip = ~0ULL;
	vc->vm = vmcookie;
	pthread_mutex_lock(&vc->vm->tbs.lock);
	vc->next = vc->vm->tbs.vcpus;
	vc->vm->tbs.vcpus = vc;
	pthread_mutex_unlock(&vc->vm->tbs.lock);
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
	struct emu_tbs *t = &vc->vm->tbs;
	struct emu_vcpu **pp;

	pthread_mutex_lock(&t->lock);
	for (pp = &t->vcpus; *pp != vc; pp = &(*pp)->next)
		;
	*pp = vc->next;
	pthread_mutex_unlock(&t->lock);
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
 * Decode the block at @gpa (host pointer @hp, @avail bytes to the page end
 * or CS limit) into a block of its own size.  NULL when no instruction
 * decodes there, or out of memory: the single-instruction path then does
 * what it must.
 */
static struct emu_tb *
tb_decode(struct emu_vcpu *vc, uint64_t gpa, const uint8_t *hp, uint64_t avail)
{
	struct emu_cpu *cpu = &vc->cpu;
	struct emu_insn *scratch = vc->scratch;
	struct emu_tb *tb;
	uint64_t pos;
	uint32_t gen;
	int n, mid;
	bool ends, linkable = false;

	/* Mark the page before reading it, so a later write invalidates us. */
	gen = code_page_mark(cpu, gpa);
	for (n = 0, pos = 0, mid = -1; n < EMU_TB_INSNS && pos < avail; ) {
		struct emu_insn *in = &scratch[n];

		if (emu_decode(hp + pos, (int)(avail - pos > 15 ? 15 : avail - pos),
		    cpu->mode, in) != 0)
			break;
		/* The generic handler says whether it leaves or ends the block. */
		ends = tb_ends_block(in);
		linkable = tb_exit_linkable(in, ends);
		emu_specialize(in);
		/* A Jcc with a next instruction in the block takes its mid-block form. */
		if (mid >= 0)
			scratch[mid].fn = emu_midblock(&scratch[mid]);
		mid = ends && emu_midblock(in) != NULL ? n : -1;
		n++;
		pos += in->len;
		if (ends && mid < 0)
			break;
	}
	if (n == 0)
		return NULL;
	tb = malloc(sizeof(*tb) + (size_t)n * sizeof(tb->insns[0]));
	if (tb == NULL)
		return NULL;
	memset(tb, 0, sizeof(*tb));
	tb->gpa = gpa;
	tb->gen = gen;
	tb->mode = (uint8_t)cpu->mode;
	tb->ninsns = (uint8_t)n;
	tb->nbytes = (uint16_t)pos;
	tb->linkable = linkable;
	memcpy(tb->insns, scratch, (size_t)n * sizeof(tb->insns[0]));
	return tb;
}

static inline bool
tb_current(const struct emu_cpu *cpu, const struct emu_tb *tb)
{
	return tb->gen == atomic_load_explicit(&cpu->code_gen[tb->gpa >> 12],
	    memory_order_relaxed);
}

/*
 * Put @tb, just decoded, in the table, unless another vCPU put a current
 * block for the same place there meanwhile: then that one is returned and
 * ours goes (nobody saw it).  The block it replaces is retired.
 */
static struct emu_tb *
tb_insert(struct emu_vcpu *vc, struct emu_tb *tb, uint64_t avail)
{
	struct emu_tbs *t = &vc->vm->tbs;
	struct emu_tb *_Atomic *slot = tb_slot(t, tb->gpa);
	struct emu_tb *old;

	pthread_mutex_lock(&t->lock);
	old = atomic_load_explicit(slot, memory_order_relaxed);
	if (old != NULL && old->gpa == tb->gpa && old->mode == tb->mode &&
	    old->nbytes <= avail && tb_current(&vc->cpu, old)) {
		t->stats.discarded++;
		pthread_mutex_unlock(&t->lock);
		free(tb);
		return old;
	}
	/* Release: a vCPU that loads the pointer sees the decoded block. */
	atomic_store_explicit(slot, tb, memory_order_release);
	t->stats.decoded++;
	t->stats.live++;
	if (old != NULL)
		tb_retire(t, old);
	pthread_mutex_unlock(&t->lock);
	return tb;
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
	uint64_t rip = cpu->st.rip, la, gpa_page, gpa, off, avail;
	const struct emu_tlb_entry *e;
	struct emu_tb *tb;
	uint8_t *hp;
	int acc, rc;

	*tbp = NULL;
	if (cpu->mode == EMU_MODE_LONG64) {
		struct emu_jc *j = jc_slot(vc, rip);

		if (j->rip == rip && j->epoch == cpu->tlb_epoch && tb_current(cpu, j->tb)) {
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
	/* Acquire: the block's contents were written before it was published. */
	tb = atomic_load_explicit(tb_slot(&vc->vm->tbs, gpa), memory_order_acquire);
	if (tb == NULL || tb->gpa != gpa || tb->mode != cpu->mode || tb->nbytes > avail ||
	    !tb_current(cpu, tb)) {
		tb = tb_decode(vc, gpa, hp + off, avail);
		if (tb == NULL)
			return EMU_OK;
		tb = tb_insert(vc, tb, avail);
	}
	*tbp = tb;
	if (cpu->mode == EMU_MODE_LONG64) {
		struct emu_jc *j = jc_slot(vc, rip);

		j->rip = rip;
		j->epoch = cpu->tlb_epoch;
		j->tb = tb;
	}
	return EMU_OK;
}

/*
 * The block linked from @tb (entered at @tb_rip) that starts at RIP, if it
 * is still what tb_find would return: same guest-physical address (within
 * @tb's page the translation is the one @tb was fetched through, as nothing
 * flushed the TLB since; across a page the ITLB must map RIP there now),
 * current generation.  Only 64-bit blocks are linked, to 64-bit blocks,
 * and a mode change ends the chain (block_stop), so the mode is the
 * block's.  Else NULL.
 */
static inline struct emu_tb *
tb_chained(const struct emu_cpu *cpu, const struct emu_tb *tb, uint64_t tb_rip)
{
	uint64_t rip = cpu->st.rip, gpa;
	const struct emu_tlb_entry *e;
	struct emu_tb *s;

	if (((rip ^ tb_rip) >> 12) == 0) {
		gpa = (tb->gpa & ~4095ULL) | (rip & 4095);
	} else {
		/* An ITLB entry is for a canonical address: no RIP check needed. */
		e = &cpu->tlb[EMU_TLB_SIZE + ((rip >> 12) & (EMU_TLB_SIZE - 1))];
		if (e->vpn != rip >> 12 || !e->exec || (cpu->cpl == 3 && !e->user) ||
		    e->hpage == NULL)
			return NULL;
		gpa = e->gpa_page | (rip & 4095);
	}
	s = atomic_load_explicit(&tb->succ[0], memory_order_acquire);
	if (s == NULL || s->gpa != gpa) {
		s = atomic_load_explicit(&tb->succ[1], memory_order_acquire);
		if (s == NULL || s->gpa != gpa)
			return NULL;
	}
	return tb_current(cpu, s) ? s : NULL;
}

/*
 * Run a block from its first instruction.  Leaves after an instruction that
 * does not fall through (branch, REP iteration, exception, a taken
 * mid-block Jcc), that sets block_stop, or that does not return EMU_OK;
 * st.rip is then the next instruction, or the one that faulted or exited.
 * *@fixed_exit: the block left to a place it fixes (its successor may be
 * linked).
 */
static int
tb_exec(struct emu_cpu *cpu, const struct emu_tb *tb, bool *fixed_exit)
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
	*fixed_exit = true;	/* a mid-block Jcc or the fall-through */
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
	*fixed_exit = tb->linkable;
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

/* The body of run(), between tb_online and tb_offline. */
static int
run_loop(struct emu_vcpu *vc, uint64_t rip, struct vm_exit *vme)
{
	struct emu_cpu *cpu = &vc->cpu;
	struct emu_tbs *t = &vc->vm->tbs;
	struct emu_tb *tb, *next, *link_from = NULL;
	uint64_t gen, epoch, tb_rip;
	bool fixed_exit;
	int rc;

	memset(vme, 0, sizeof(*vme));
	cpu->exit = vme;
	cpu->stats.backend_entries++;
	gen = atomic_load(&vc->vm->gen);
	if (gen != vc->gen) {
		/* New memory map: host pointers and code generations are new too. */
		vc->gen = gen;
		emu_tlb_flush(cpu, false);	/* a new TLB epoch: the jump cache is void */
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
			if (atomic_load_explicit(&cpu->kick, memory_order_relaxed) & EMU_KICK_EXIT) {
				atomic_store_explicit(&cpu->kick, 0, memory_order_relaxed);
				return exit_bogus(cpu, vme);
			}
			/*
			 * A grace period began: the quiescent point below
			 * publishes it (seq_cst, so that its epoch load sees
			 * the bump of whoever set the bit we clear).
			 */
			atomic_fetch_and(&cpu->kick, ~EMU_KICK_QS);
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
		link_from = NULL;
chain:
		/* A quiescent point: no block is held here (struct emu_tbs). */
		epoch = atomic_load(&t->epoch);
		if (__builtin_expect(epoch != vc->qs_seen, 0)) {
			tb_quiescent(vc, epoch);
			link_from = NULL;
		}
		cpu->exc_vector = -1;
		rc = tb_find(vc, &tb);
		if (rc == EMU_OK && tb == NULL) {
			if (step_one(cpu))
				return 0;
			continue;
		}
		if (rc != EMU_OK) {
			if (insn_done(cpu, rc, 0))
				return 0;
			continue;
		}
		if (link_from != NULL && tb_link_wanted(link_from, tb))
			tb_link(t, link_from, tb);
exec:
		tb_rip = cpu->st.rip;
		rc = tb_exec(cpu, tb, &fixed_exit);
		if (rc == EMU_OK) {
			if (__builtin_expect(!cpu->block_stop &&
			    !atomic_load_explicit(&cpu->kick, memory_order_relaxed) &&
			    !atomic_load_explicit(cpu->intr_src.hint, memory_order_relaxed) &&
			    cpu->stats.insns_retired < vc->stop_after, 1)) {
				/*
				 * Follow a link.  A grace period that began since
				 * our quiescent point has set EMU_KICK_QS, so the
				 * kick test above leaves the chain for one.
				 */
				next = tb_chained(cpu, tb, tb_rip);
				if (next != NULL) {
					vc->chained++;
					tb = next;
					cpu->exc_vector = -1;
					goto exec;
				}
				link_from = fixed_exit ? tb : NULL;
				goto chain;
			}
			continue;
		}
		if (insn_done(cpu, rc, 0))
			return 0;
	}
}

static int
emu_run(void *vcpucookie, uint64_t rip, struct vm_exit *vme)
{
	struct emu_vcpu *vc = vcpucookie;
	int rc;

	tb_online(vc);
	rc = run_loop(vc, rip, vme);
	tb_offline(vc);
	return rc;
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

	atomic_fetch_or_explicit(&cpu->kick, EMU_KICK_EXIT, memory_order_relaxed);
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
	.xstate = VM_XSTATE_X87 | VM_XSTATE_SSE,
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
