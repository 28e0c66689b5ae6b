/*
 * mmu.c - from a guest segment:offset to a host pointer.
 *
 *   seg:off --segmentation--> linear --TLB / page walk--> guest-physical
 *           --memmap bounds--> host pointer (RAM) or an MMIO exit
 *
 * Segmentation follows SDM Vol. 3A 3.4-3.5 and 5.3 (limit and type checks)
 * outside 64-bit mode, and 3.4.4 / 5.3.1 (only FS/GS bases, canonical
 * checks) in it.  Paging follows SDM Vol. 3A chapter 4: 32-bit (4.3), PAE
 * (4.4) and 4-level (4.5) walks, access rights (4.6), page-fault error codes
 * (4.7) and accessed/dirty flags (4.8).  The software TLB caches one 4 KiB
 * linear page per entry with the combined rights of every level and the host
 * pointer of the page, so that an access that hits is a bounds-free memcpy:
 * the page was checked against the memory map when the entry was filled.
 *
 * Every host pointer comes from emu_gpa_to_hva(), which returns NULL unless
 * the whole range lies inside one RAM segment: a guest can never make the
 * host touch memory outside what libvmm mapped for it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

/* Page-table entry bits (SDM Vol. 3A 4.5, tables 4-14 to 4-20) */
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_US		(1ULL << 2)
#define PTE_A		(1ULL << 5)
#define PTE_D		(1ULL << 6)
#define PTE_PS		(1ULL << 7)
#define PTE_G		(1ULL << 8)
#define PTE_XD		(1ULL << 63)
#define PTE_ADDR	0x000ffffffffff000ULL

/* Page-fault error code (SDM Vol. 3A 4.7) */
#define PFEC_P		(1U << 0)
#define PFEC_W		(1U << 1)
#define PFEC_U		(1U << 2)
#define PFEC_RSVD	(1U << 3)
#define PFEC_I		(1U << 4)

#define PAGE_SIZE	4096ULL
#define PAGE_MASK	(~(PAGE_SIZE - 1))

uint8_t *
emu_gpa_to_hva(const struct emu_cpu *cpu, uint64_t gpa, uint64_t len)
{
	const struct vmm_memmap *m = cpu->mem;
	const struct vmm_memseg *s;
	int i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < m->nsegs && i < (int)(sizeof(m->seg) / sizeof(m->seg[0])); i++) {
		s = &m->seg[i];
		if (gpa >= s->gpa && gpa - s->gpa < s->len &&
		    len <= s->len - (gpa - s->gpa))
			return s->hva + (gpa - s->gpa);
	}
	return NULL;
}

void
emu_tlb_flush(struct emu_cpu *cpu, bool keep_global)
{
	int i;

	for (i = 0; i < 2 * EMU_TLB_SIZE; i++) {
		if (!keep_global || !cpu->tlb[i].global)
			cpu->tlb[i].vpn = ~0ULL;
	}
	cpu->stats.tlb_flushes++;
	cpu->block_stop = 1;
	cpu->tlb_epoch++;
}

/*
 * INVLPG must drop every translation of the page containing @la, and a 2 MiB
 * or 1 GiB page is cached here as many 4 KiB entries: drop all the entries
 * of the surrounding 1 GiB region (over-flushing is always correct).
 */
void
emu_tlb_flush_page(struct emu_cpu *cpu, uint64_t la)
{
	uint64_t region = la >> 30;
	int i;

	for (i = 0; i < 2 * EMU_TLB_SIZE; i++) {
		if (cpu->tlb[i].vpn != ~0ULL && (cpu->tlb[i].vpn >> 18) == region)
			cpu->tlb[i].vpn = ~0ULL;
	}
	cpu->block_stop = 1;
	cpu->tlb_epoch++;
}

int
emu_stack_size(const struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return 8;
	return SEG_DESC_DEF32(cpu->st.seg[SEG_SS].access) ? 4 : 2;
}

void
emu_update_mode(struct emu_cpu *cpu)
{
	const struct vm_seg *cs = &cpu->st.seg[SEG_CS];
	bool d = SEG_DESC_DEF32(cs->access);

	if (!(cpu->st.cr0 & CR0_PE))
		cpu->mode = EMU_MODE_REAL;
	else if (cpu->st.efer & EFER_LMA)
		cpu->mode = SEG_DESC_L(cs->access) ? EMU_MODE_LONG64 :
		    d ? EMU_MODE_COMPAT32 : EMU_MODE_COMPAT16;
	else
		cpu->mode = d ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
	/*
	 * CPL: 0 in real mode; otherwise SS.DPL, the convention VMX and KVM
	 * use (SDM Vol. 3C 26.3.1.2: SS.DPL is the CPL), which stays right
	 * across CR0.PE changes where CS still holds a real-mode selector.
	 */
	cpu->cpl = cpu->mode == EMU_MODE_REAL ? 0 :
	    (uint8_t)SEG_DESC_DPL(cpu->st.seg[SEG_SS].access);
	cpu->block_stop = 1;
	cpu->tlb_epoch++;
}

/* ---- page walks ---- */

static int
page_fault(struct emu_cpu *cpu, uint64_t la, int acc, uint32_t pfec)
{
	bool pae = (cpu->st.cr4 & CR4_PAE) != 0;

	if (acc & EMU_ACC_WRITE)
		pfec |= PFEC_W;
	if (acc & EMU_ACC_USER)
		pfec |= PFEC_U;
	/* I/D is reported only when NX is in force (4.7). */
	if ((acc & EMU_ACC_FETCH) && pae && (cpu->st.efer & EFER_NXE))
		pfec |= PFEC_I;
	cpu->st.cr2 = la;
	return emu_raise_err(cpu, IDT_PF, pfec);
}

static int
walk_not_ram(struct emu_cpu *cpu, uint64_t gpa, uint64_t la)
{
	/*
	 * On hardware a paging-structure read from a device reads the device;
	 * no guest we run does that on purpose, so stop loudly.
	 */
	return emu_backend_error(cpu, EFAULT,
	    "page table at gpa %#llx (la %#llx) is not RAM",
	    (unsigned long long)gpa, (unsigned long long)la);
}

struct walk {
	uint64_t	gpa_page;	/* 4 KiB page of la */
	bool		rw, us, xd, global, dirty;
};

/* Access-rights check on the combined rights of a translation (SDM Vol. 3A 4.6). */
static bool
rights_ok(const struct emu_cpu *cpu, int acc, bool rw, bool us, bool xd)
{
	if ((acc & EMU_ACC_USER) && !us)
		return false;
	if ((acc & EMU_ACC_WRITE) && !rw &&
	    ((acc & EMU_ACC_USER) || (cpu->st.cr0 & CR0_WP)))
		return false;
	if ((acc & EMU_ACC_FETCH) && xd)
		return false;
	return true;
}

/* 4-level (4.5) and PAE (4.4) walks: 64-bit entries. */
static int
walk64(struct emu_cpu *cpu, uint64_t la, int acc, struct walk *w)
{
	uint64_t *ptes[4];
	uint64_t table, pte, rsvd_base, rsvd, page, gpa;
	bool nxe = (cpu->st.efer & EFER_NXE) != 0;
	bool lma = (cpu->st.efer & EFER_LMA) != 0;
	bool rw = true, us = true, xd = false;
	int level, n = 0, i;

	/* Physical-address bits above MAXPHYADDR, and XD when NX is off. */
	rsvd_base = PTE_ADDR & ~EMU_PHYS_MASK;
	if (!lma)
		rsvd_base |= 0x7ff0000000000000ULL;	/* PAE: bits 62:52 reserved too */
	if (!nxe)
		rsvd_base |= PTE_XD;

	if (lma) {
		table = cpu->st.cr3 & PTE_ADDR & EMU_PHYS_MASK;
		level = 4;
	} else {
		pte = cpu->st.pdpte[(la >> 30) & 3];
		if (!(pte & PTE_P))
			return page_fault(cpu, la, acc, 0);
		/* PDPTE reserved bits were checked when they were loaded (4.4.1). */
		table = pte & PTE_ADDR & EMU_PHYS_MASK;
		level = 2;
	}
	for (;; level--) {
		gpa = table + ((la >> (12 + 9 * (level - 1))) & 511) * 8;
		ptes[n] = (uint64_t *)(void *)emu_gpa_to_hva(cpu, gpa, 8);
		if (ptes[n] == NULL)
			return walk_not_ram(cpu, gpa, la);
		pte = __atomic_load_n(ptes[n], __ATOMIC_ACQUIRE);
		n++;
		if (!(pte & PTE_P))
			return page_fault(cpu, la, acc, 0);
		rsvd = rsvd_base;
		if (level == 4)
			rsvd |= PTE_PS;
		else if (level == 3 && (pte & PTE_PS))
			rsvd |= 0x3fffe000ULL;		/* bits 29:13 */
		else if (level == 2 && (pte & PTE_PS))
			rsvd |= 0x1fe000ULL;		/* bits 20:13 */
		if (pte & rsvd)
			return page_fault(cpu, la, acc, PFEC_P | PFEC_RSVD);
		rw = rw && (pte & PTE_RW);
		us = us && (pte & PTE_US);
		xd = xd || (nxe && (pte & PTE_XD));
		if (level == 1 || ((level == 2 || level == 3) && (pte & PTE_PS)))
			break;
		table = pte & PTE_ADDR & EMU_PHYS_MASK;
	}
	if (level == 3)
		page = (pte & 0x000fffffc0000000ULL & EMU_PHYS_MASK) | (la & 0x3ffff000ULL);
	else if (level == 2)
		page = (pte & 0x000fffffffe00000ULL & EMU_PHYS_MASK) | (la & 0x1ff000ULL);
	else
		page = pte & PTE_ADDR & EMU_PHYS_MASK;
	if (!rights_ok(cpu, acc, rw, us, xd))
		return page_fault(cpu, la, acc, PFEC_P);

	/* Accessed on every level used, dirty on the leaf for writes (4.8). */
	for (i = 0; i < n; i++) {
		if (!(__atomic_load_n(ptes[i], __ATOMIC_RELAXED) & PTE_A))
			__atomic_fetch_or(ptes[i], PTE_A, __ATOMIC_ACQ_REL);
	}
	if ((acc & EMU_ACC_WRITE) && !(pte & PTE_D)) {
		__atomic_fetch_or(ptes[n - 1], PTE_D, __ATOMIC_ACQ_REL);
		pte |= PTE_D;
	}
	w->gpa_page = page;
	w->rw = rw;
	w->us = us;
	w->xd = xd;
	w->global = (pte & PTE_G) && (cpu->st.cr4 & CR4_PGE);
	w->dirty = (pte & PTE_D) != 0;
	return EMU_OK;
}

/* 32-bit paging (4.3): two levels of 32-bit entries, 4 MiB pages with CR4.PSE. */
static int
walk32(struct emu_cpu *cpu, uint64_t la, int acc, struct walk *w)
{
	uint32_t *pde_p, *pte_p;
	uint32_t pde, pte;
	uint64_t gpa;
	bool rw, us;

	la &= 0xffffffffULL;
	gpa = (cpu->st.cr3 & 0xfffff000ULL) + ((la >> 22) & 1023) * 4;
	pde_p = (uint32_t *)(void *)emu_gpa_to_hva(cpu, gpa, 4);
	if (pde_p == NULL)
		return walk_not_ram(cpu, gpa, la);
	pde = __atomic_load_n(pde_p, __ATOMIC_ACQUIRE);
	if (!(pde & PTE_P))
		return page_fault(cpu, la, acc, 0);
	if ((pde & PTE_PS) && (cpu->st.cr4 & CR4_PSE)) {
		/* No PSE-36: bits 21:13 of a 4 MiB PDE are reserved. */
		if (pde & 0x3fe000U)
			return page_fault(cpu, la, acc, PFEC_P | PFEC_RSVD);
		rw = pde & PTE_RW;
		us = pde & PTE_US;
		if (!rights_ok(cpu, acc, rw, us, false))
			return page_fault(cpu, la, acc, PFEC_P);
		if (!(pde & PTE_A))
			__atomic_fetch_or(pde_p, (uint32_t)PTE_A, __ATOMIC_ACQ_REL);
		if ((acc & EMU_ACC_WRITE) && !(pde & PTE_D)) {
			__atomic_fetch_or(pde_p, (uint32_t)PTE_D, __ATOMIC_ACQ_REL);
			pde |= PTE_D;
		}
		w->gpa_page = (pde & 0xffc00000U) | (la & 0x3ff000U);
		w->global = (pde & PTE_G) && (cpu->st.cr4 & CR4_PGE);
		w->dirty = (pde & PTE_D) != 0;
		goto done;
	}
	gpa = (pde & 0xfffff000U) + ((la >> 12) & 1023) * 4;
	pte_p = (uint32_t *)(void *)emu_gpa_to_hva(cpu, gpa, 4);
	if (pte_p == NULL)
		return walk_not_ram(cpu, gpa, la);
	pte = __atomic_load_n(pte_p, __ATOMIC_ACQUIRE);
	if (!(pte & PTE_P))
		return page_fault(cpu, la, acc, 0);
	rw = (pde & PTE_RW) && (pte & PTE_RW);
	us = (pde & PTE_US) && (pte & PTE_US);
	if (!rights_ok(cpu, acc, rw, us, false))
		return page_fault(cpu, la, acc, PFEC_P);
	if (!(pde & PTE_A))
		__atomic_fetch_or(pde_p, (uint32_t)PTE_A, __ATOMIC_ACQ_REL);
	if (!(pte & PTE_A))
		__atomic_fetch_or(pte_p, (uint32_t)PTE_A, __ATOMIC_ACQ_REL);
	if ((acc & EMU_ACC_WRITE) && !(pte & PTE_D)) {
		__atomic_fetch_or(pte_p, (uint32_t)PTE_D, __ATOMIC_ACQ_REL);
		pte |= PTE_D;
	}
	w->gpa_page = pte & 0xfffff000U;
	w->global = (pte & PTE_G) && (cpu->st.cr4 & CR4_PGE);
	w->dirty = (pte & PTE_D) != 0;
done:
	w->rw = rw;
	w->us = us;
	w->xd = false;
	return EMU_OK;
}

int
emu_load_pdptes(struct emu_cpu *cpu, uint64_t cr3)
{
	/* PDPTE reserved bits: 2:1, 8:5 and above MAXPHYADDR (4.4.1, table 4-8). */
	const uint64_t rsvd = 0x1e6ULL | (0xfff0000000000000ULL | (PTE_ADDR & ~EMU_PHYS_MASK));
	uint64_t pdpte[4];
	uint8_t *p;
	int i;

	p = emu_gpa_to_hva(cpu, cr3 & 0xffffffe0ULL, 32);
	if (p == NULL)
		return emu_raise_err(cpu, IDT_GP, 0);
	memcpy(pdpte, p, sizeof(pdpte));
	for (i = 0; i < 4; i++) {
		if ((pdpte[i] & PTE_P) && (pdpte[i] & rsvd))
			return emu_raise_err(cpu, IDT_GP, 0);
	}
	memcpy(cpu->st.pdpte, pdpte, sizeof(pdpte));
	return EMU_OK;
}

static inline unsigned
tlb_index(uint64_t la, int acc)
{
	return (unsigned)((la >> 12) & (EMU_TLB_SIZE - 1)) +
	    ((acc & EMU_ACC_FETCH) ? EMU_TLB_SIZE : 0);
}

static inline struct emu_tlb_entry *
tlb_lookup(struct emu_cpu *cpu, uint64_t la, int acc)
{
	struct emu_tlb_entry *e = &cpu->tlb[tlb_index(la, acc)];

	if (e->vpn != la >> 12)
		return NULL;
	if ((acc & EMU_ACC_USER) && !e->user)
		return NULL;
	if (acc & EMU_ACC_WRITE) {
		if (!e->dirty)
			return NULL;
		if (!e->write && ((acc & EMU_ACC_USER) || (cpu->st.cr0 & CR0_WP)))
			return NULL;
	}
	if ((acc & EMU_ACC_FETCH) && !e->exec)
		return NULL;
	return e;
}

int
emu_translate(struct emu_cpu *cpu, uint64_t la, int acc, uint8_t **hpage,
    uint64_t *gpa_page)
{
	struct emu_tlb_entry *e;
	struct walk w = { 0 };
	int rc;

	if (!(cpu->st.efer & EFER_LMA))
		la &= 0xffffffffULL;
	e = tlb_lookup(cpu, la, acc);
	if (e != NULL) {
		*hpage = e->hpage;
		*gpa_page = e->gpa_page;
		return EMU_OK;
	}
	if (!(cpu->st.cr0 & CR0_PG)) {
		w.gpa_page = la & PAGE_MASK;
		w.rw = w.us = w.dirty = true;
		w.xd = w.global = false;
	} else {
		if (cpu->st.cr4 & CR4_PAE)
			rc = walk64(cpu, la, acc, &w);
		else
			rc = walk32(cpu, la, acc, &w);
		if (rc != EMU_OK)
			return rc;
	}
	e = &cpu->tlb[tlb_index(la, acc)];
	e->vpn = la >> 12;
	e->gpa_page = w.gpa_page;
	e->hpage = emu_gpa_to_hva(cpu, w.gpa_page, PAGE_SIZE);
	e->user = w.us;
	e->write = w.rw;
	e->exec = !w.xd;
	e->global = w.global;
	e->dirty = w.dirty;
	e->perm = (uint8_t)(1u | (w.us ? 2u : 0u) |
	    (w.dirty && (w.rw || !(cpu->st.cr0 & CR0_WP)) ? 4u : 0u) |
	    (w.dirty && w.us && w.rw ? 8u : 0u));
	/* Fetch entries serve instruction fetches only (the ITLB half). */
	if (acc & EMU_ACC_FETCH)
		e->perm = 0;
	*hpage = e->hpage;
	*gpa_page = e->gpa_page;
	return EMU_OK;
}

/* ---- MMIO through the replay log (see cpu.h) ---- */

static int
mmio_access(struct emu_cpu *cpu, uint64_t gpa, int size, bool write, uint8_t *buf)
{
	struct emu_io_log *log = &cpu->io_log;
	struct vm_exit *vme = cpu->exit;
	uint64_t v = 0;

	if (log->pos < log->n) {
		/* Completed on an earlier pass of this instruction. */
		v = log->data[log->pos++];
		if (!write)
			memcpy(buf, &v, size);
		return EMU_OK;
	}
	if (write)
		memcpy(&v, buf, size);
	memset(&vme->u, 0, sizeof(vme->u));
	vme->exitcode = VM_EXITCODE_INST_EMUL;
	vme->rip = cpu->st.rip;
	vme->inst_length = 0;
	vme->u.mmio.gpa = gpa;
	vme->u.mmio.size = (uint8_t)size;
	vme->u.mmio.write = write;
	vme->u.mmio.data = v;
	log->rip = cpu->st.rip;
	log->pending_read = !write;
	return EMU_EXIT;
}

/* A piece of an access that is not in a RAM page: RAM ranges, else MMIO chunks of 8/4/2/1. */
static int
phys_access_slow(struct emu_cpu *cpu, uint64_t gpa, uint8_t *buf, int len, bool write)
{
	uint8_t *p;
	int n, rc;

	p = emu_gpa_to_hva(cpu, gpa, (uint64_t)len);
	if (p != NULL) {
		if (write) {
			memcpy(p, buf, len);
			emu_code_written(cpu, gpa, (uint64_t)len);
		} else {
			memcpy(buf, p, len);
		}
		return EMU_OK;
	}
	while (len > 0) {
		n = len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
		rc = mmio_access(cpu, gpa, n, write, buf);
		if (rc != EMU_OK)
			return rc;
		gpa += n;
		buf += n;
		len -= n;
	}
	return EMU_OK;
}

/*
 * Access @size bytes at linear @la.  Every page is translated before any
 * byte moves, so a page-crossing write that faults on its second page leaves
 * the first untouched (the instruction has no partial effect).
 */
static int
linear_access(struct emu_cpu *cpu, uint64_t la, void *buf, int size, int acc)
{
	uint8_t *hp[2], *b = buf;
	uint64_t gp[2], off;
	int n1, rc;

	if (!(cpu->st.efer & EFER_LMA))
		la &= 0xffffffffULL;
	off = la & (PAGE_SIZE - 1);
	if (off + (uint64_t)size <= PAGE_SIZE) {
		struct emu_tlb_entry *e = tlb_lookup(cpu, la, acc);

		if (e != NULL && e->hpage != NULL) {
			if (acc & EMU_ACC_WRITE) {
				memcpy(e->hpage + off, b, size);
				emu_code_written(cpu, e->gpa_page + off, (uint64_t)size);
			} else {
				memcpy(b, e->hpage + off, size);
			}
			return EMU_OK;
		}
		rc = emu_translate(cpu, la, acc, &hp[0], &gp[0]);
		if (rc != EMU_OK)
			return rc;
		if (hp[0] != NULL) {
			if (acc & EMU_ACC_WRITE) {
				memcpy(hp[0] + off, b, size);
				emu_code_written(cpu, gp[0] + off, (uint64_t)size);
			} else {
				memcpy(b, hp[0] + off, size);
			}
			return EMU_OK;
		}
		return phys_access_slow(cpu, gp[0] + off, b, size,
		    (acc & EMU_ACC_WRITE) != 0);
	}
	/* Host invariant: callers never pass more than a page. */
	if (size > (int)PAGE_SIZE)
		return emu_backend_error(cpu, EINVAL, "access of %d bytes", size);
	n1 = (int)(PAGE_SIZE - off);
	rc = emu_translate(cpu, la, acc, &hp[0], &gp[0]);
	if (rc != EMU_OK)
		return rc;
	rc = emu_translate(cpu, (la + (uint64_t)n1) & (cpu->st.efer & EFER_LMA ?
	    ~0ULL : 0xffffffffULL), acc, &hp[1], &gp[1]);
	if (rc != EMU_OK)
		return rc;
	rc = phys_access_slow(cpu, gp[0] + off, b, n1, (acc & EMU_ACC_WRITE) != 0);
	if (rc != EMU_OK)
		return rc;
	return phys_access_slow(cpu, gp[1], b + n1, size - n1, (acc & EMU_ACC_WRITE) != 0);
}

int
emu_read_linear(struct emu_cpu *cpu, uint64_t la, void *buf, int size, int user)
{
	return linear_access(cpu, la, buf, size, user ? EMU_ACC_USER : 0);
}

int
emu_write_linear(struct emu_cpu *cpu, uint64_t la, const void *buf, int size, int user)
{
	return linear_access(cpu, la, (void *)(uintptr_t)buf, size,
	    EMU_ACC_WRITE | (user ? EMU_ACC_USER : 0));
}

/* ---- segmentation ---- */

static int
seg_fault(struct emu_cpu *cpu, int seg)
{
	return emu_raise_err(cpu, seg == SEG_SS ? IDT_SS : IDT_GP, 0);
}

int
emu_seg_linear(struct emu_cpu *cpu, int seg, uint64_t off, int size, int write,
    uint64_t *la)
{
	const struct vm_seg *s;
	uint64_t last, upper;
	uint32_t type;

	if (cpu->mode == EMU_MODE_LONG64) {
		/* Only FS and GS have bases; addresses must be canonical (3.3.7.1). */
		if (seg == SEG_FS || seg == SEG_GS)
			off += cpu->st.seg[seg].base;
		if (!emu_canonical(off) || !emu_canonical(off + (uint64_t)size - 1))
			return seg_fault(cpu, seg);
		*la = off;
		return EMU_OK;
	}
	if (seg < 0 || seg >= SEG_LDTR)
		return emu_raise_err(cpu, IDT_GP, 0);
	s = &cpu->st.seg[seg];
	last = off + (uint64_t)size - 1;
	if (cpu->mode == EMU_MODE_REAL) {
		if (last > s->limit)
			return seg_fault(cpu, seg);
		*la = (s->base + off) & 0xffffffffULL;
		return EMU_OK;
	}
	/* Protected mode: null selector, type, limit (SDM Vol. 3A 5.3, 5.5). */
	if (SEG_DESC_UNUSABLE(s->access) || !SEG_DESC_PRESENT(s->access))
		return seg_fault(cpu, seg);
	type = SEG_DESC_TYPE(s->access);
	if (type & 0x8) {
		/* code: never writable, readable only with R */
		if (write || !(type & 0x2))
			return emu_raise_err(cpu, IDT_GP, 0);
	} else if (write && !(type & 0x2)) {
		return seg_fault(cpu, seg);
	}
	if (!(type & 0x8) && (type & 0x4)) {
		/* expand-down: valid offsets are (limit, 64K or 4G - 1] */
		upper = SEG_DESC_DEF32(s->access) ? 0xffffffffULL : 0xffffULL;
		if (off <= s->limit || last > upper || last < off)
			return seg_fault(cpu, seg);
	} else if (last > s->limit || last < off) {
		return seg_fault(cpu, seg);
	}
	*la = (s->base + off) & 0xffffffffULL;
	return EMU_OK;
}

/* #AC: CPL 3, CR0.AM and RFLAGS.AC, misaligned data (SDM Vol. 3A 6.15, interrupt 17). */
static inline bool
misaligned_ac(const struct emu_cpu *cpu, uint64_t off, int size)
{
	return cpu->cpl == 3 && (cpu->st.cr0 & CR0_AM) &&
	    (cpu->st.rflags & RFL_AC) && size <= 8 && (off & (uint64_t)(size - 1)) != 0;
}

int
emu_read(struct emu_cpu *cpu, int seg, uint64_t off, void *buf, int size)
{
	uint64_t la, gpa;
	uint8_t *hp;
	int rc;

	hp = emu_mem_fast(cpu, seg, off, size, 0, &gpa);
	if (hp != NULL) {
		emu_copy_operand(buf, hp, size);
		return EMU_OK;
	}
	rc = emu_seg_linear(cpu, seg, off, size, 0, &la);
	if (rc != EMU_OK)
		return rc;
	if (misaligned_ac(cpu, la, size))
		return emu_raise_err(cpu, IDT_AC, 0);
	return linear_access(cpu, la, buf, size, cpu->cpl == 3 ? EMU_ACC_USER : 0);
}

int
emu_write(struct emu_cpu *cpu, int seg, uint64_t off, const void *buf, int size)
{
	uint64_t la, gpa;
	uint8_t *hp;
	int rc;

	hp = emu_mem_fast(cpu, seg, off, size, 1, &gpa);
	if (hp != NULL) {
		emu_copy_operand(hp, buf, size);
		emu_code_written(cpu, gpa, (uint64_t)size);
		return EMU_OK;
	}
	rc = emu_seg_linear(cpu, seg, off, size, 1, &la);
	if (rc != EMU_OK)
		return rc;
	if (misaligned_ac(cpu, la, size))
		return emu_raise_err(cpu, IDT_AC, 0);
	return linear_access(cpu, la, (void *)(uintptr_t)buf, size,
	    EMU_ACC_WRITE | (cpu->cpl == 3 ? EMU_ACC_USER : 0));
}

int
emu_mem_ptr(struct emu_cpu *cpu, int seg, uint64_t off, int size, uint8_t **hp)
{
	uint64_t la, gpa;
	uint8_t *page;
	int rc, acc;

	*hp = NULL;
	rc = emu_seg_linear(cpu, seg, off, size, 1, &la);
	if (rc != EMU_OK)
		return rc;
	if (misaligned_ac(cpu, la, size))
		return emu_raise_err(cpu, IDT_AC, 0);
	if (!(cpu->st.efer & EFER_LMA))
		la &= 0xffffffffULL;
	/*
	 * Page-crossing or misaligned: no host atomic can cover it (a host split
	 * lock is slow, and fatal under split_lock_detect), so the caller falls
	 * back to read + write under the emulated bus lock (family.h).
	 */
	if ((la & (PAGE_SIZE - 1)) + (uint64_t)size > PAGE_SIZE || (la & (uint64_t)(size - 1)) != 0)
		return EMU_OK;
	acc = EMU_ACC_WRITE | (cpu->cpl == 3 ? EMU_ACC_USER : 0);
	rc = emu_translate(cpu, la, acc, &page, &gpa);
	if (rc != EMU_OK)
		return rc;
	if (page != NULL)
		*hp = page + (la & (PAGE_SIZE - 1));
	else
		*hp = emu_gpa_to_hva(cpu, gpa + (la & (PAGE_SIZE - 1)), (uint64_t)size);
	/* The caller writes through *hp: translations of the page go first. */
	if (*hp != NULL)
		emu_code_written(cpu, gpa + (la & (PAGE_SIZE - 1)), (uint64_t)size);
	return EMU_OK;
}

/* ---- operands ---- */

/* Little-endian host: a size-byte copy fills the low bytes of a uint64_t. */
int
emu_rm_read(struct emu_cpu *cpu, const struct emu_insn *in, int size, uint64_t *val)
{
	uint64_t v = 0;
	int rc;

	if (!in->has_mem) {
		*val = emu_reg_read(cpu, in->rm, size, in->rex);
		return EMU_OK;
	}
	rc = emu_read(cpu, in->seg, emu_ea(cpu, in), &v, size);
	if (rc != EMU_OK)
		return rc;
	*val = v;
	return EMU_OK;
}

static inline void
put_le(uint8_t *b, uint64_t v, int size)
{
	memcpy(b, &v, size);
}

int
emu_rm_write(struct emu_cpu *cpu, const struct emu_insn *in, int size, uint64_t val)
{
	if (!in->has_mem) {
		emu_reg_write(cpu, in->rm, size, in->rex, val);
		return EMU_OK;
	}
	return emu_write(cpu, in->seg, emu_ea(cpu, in), &val, size);
}

/* ---- stack (SDM Vol. 1 6.2, 6.3) ---- */

static void
set_sp(struct emu_cpu *cpu, uint64_t v, int ss)
{
	uint64_t *rsp = &cpu->st.gpr[GPR_RSP];

	if (ss == 2)
		*rsp = (*rsp & ~0xffffULL) | (v & 0xffff);
	else if (ss == 4)
		*rsp = (uint32_t)v;
	else
		*rsp = v;
}

int
emu_push(struct emu_cpu *cpu, uint64_t val, int size)
{
	int ss = emu_stack_size(cpu), rc;
	uint64_t sp;
	uint8_t b[8];

	sp = (cpu->st.gpr[GPR_RSP] - (uint64_t)size) & emu_size_mask(ss);
	put_le(b, val, size);
	rc = emu_write(cpu, SEG_SS, sp, b, size);
	if (rc != EMU_OK)
		return rc;
	set_sp(cpu, sp, ss);
	return EMU_OK;
}

int
emu_pop(struct emu_cpu *cpu, uint64_t *val, int size)
{
	int ss = emu_stack_size(cpu), rc, i;
	uint64_t sp, v = 0;
	uint8_t b[8];

	sp = cpu->st.gpr[GPR_RSP] & emu_size_mask(ss);
	rc = emu_read(cpu, SEG_SS, sp, b, size);
	if (rc != EMU_OK)
		return rc;
	for (i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	*val = v;
	set_sp(cpu, sp + (uint64_t)size, ss);
	return EMU_OK;
}
