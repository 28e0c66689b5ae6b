/*
 * test_mmu.c - the software CPU's MMU on a fake memory map: 4-level walks
 * with 4 KiB, 2 MiB and 1 GiB pages, #PF error codes and CR2 (SDM Vol. 3A
 * 4.7), accessed/dirty bits (4.8), NX, reserved bits, the TLB and its
 * flushes, MMIO replay, page-crossing accesses and 64-bit segmentation.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"
#include "test.h"

#define RAM_SIZE	(8ULL << 20)
#define P		0x1ULL
#define RW		0x2ULL
#define US		0x4ULL
#define A		0x20ULL
#define D		0x40ULL
#define PS		0x80ULL
#define G		0x100ULL
#define XD		(1ULL << 63)

/* Page tables live at fixed guest-physical pages. */
#define PML4		0x1000ULL
#define PDPT		0x2000ULL
#define PD		0x3000ULL
#define PT		0x4000ULL

struct fixture {
	struct emu_cpu		*cpu;
	struct vmm_memmap	map;
	uint8_t			*ram;
	struct vm_exit		vme;
};

static uint64_t *
pte(struct fixture *f, uint64_t gpa)
{
	return (uint64_t *)(void *)(f->ram + gpa);
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, RAM_SIZE);
	memset(f->ram, 0, RAM_SIZE);
	f->map.nsegs = 1;
	f->map.seg[0].gpa = 0;
	f->map.seg[0].len = RAM_SIZE;
	f->map.seg[0].hva = f->ram;
	f->cpu = calloc(1, sizeof(*f->cpu));
	f->cpu->mem = &f->map;
	f->cpu->exit = &f->vme;
	f->cpu->exc_vector = -1;
	f->cpu->st.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_ET;
	f->cpu->st.cr4 = CR4_PAE | CR4_PGE;
	f->cpu->st.efer = EFER_LME | EFER_LMA | EFER_NXE;
	f->cpu->st.cr3 = PML4;
	f->cpu->st.seg[SEG_CS].access = 0xa09b;
	f->cpu->st.seg[SEG_SS].access = 0xc093;
	emu_update_mode(f->cpu);
	emu_tlb_flush(f->cpu, false);
	/* la 0 - 2M: PML4[0] -> PDPT -> PD[0] -> PT (4 KiB pages) */
	*pte(f, PML4) = PDPT | P | RW | US;
	*pte(f, PDPT) = PD | P | RW | US;
	*pte(f, PD) = PT | P | RW | US;
}

static void
fixture_fini(struct fixture *f)
{
	free(f->cpu);
	free(f->ram);
}

TEST(mmu_4k_translation_and_ad_bits)
{
	struct fixture f;
	uint32_t v = 0x11223344, r = 0;

	fixture_init(&f);
	/* la 0x5000 -> gpa 0x300000 */
	*pte(&f, PT + 5 * 8) = 0x300000 | P | RW;
	CHECK_EQ(emu_read_linear(f.cpu, 0x5010, &r, 4, 0), EMU_OK);
	CHECK_EQ(*pte(&f, PT + 5 * 8) & (A | D), A);
	CHECK_EQ(*pte(&f, PML4) & A, A);
	CHECK_EQ(*pte(&f, PDPT) & A, A);
	CHECK_EQ(*pte(&f, PD) & A, A);
	CHECK_EQ(emu_write_linear(f.cpu, 0x5010, &v, 4, 0), EMU_OK);
	CHECK_EQ(*pte(&f, PT + 5 * 8) & D, D);
	CHECK_EQ(*(uint32_t *)(void *)(f.ram + 0x300010), 0x11223344);
	fixture_fini(&f);
}

TEST(mmu_2m_and_1g_pages)
{
	struct fixture f;
	uint8_t b = 0;

	fixture_init(&f);
	/* PD[1]: la 2M -> gpa 4M (2 MiB page) */
	*pte(&f, PD + 8) = 0x400000 | P | RW | PS;
	f.ram[0x400000 + 0x1234] = 0xab;
	CHECK_EQ(emu_read_linear(f.cpu, 0x200000 + 0x1234, &b, 1, 0), EMU_OK);
	CHECK_EQ(b, 0xab);
	/* PDPT[1]: la 1G -> gpa 0 (1 GiB page) */
	*pte(&f, PDPT + 8) = 0 | P | RW | PS;
	f.ram[0x7123] = 0xcd;
	CHECK_EQ(emu_read_linear(f.cpu, 0x40000000ULL + 0x7123, &b, 1, 0), EMU_OK);
	CHECK_EQ(b, 0xcd);
	/* reserved bits 20:13 of a 2 MiB PDE */
	*pte(&f, PD + 16) = 0x600000 | P | RW | PS | (1ULL << 13);
	CHECK_EQ(emu_read_linear(f.cpu, 0x400000, &b, 1, 0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_PF);
	CHECK_EQ(f.cpu->exc_err, 0x9);
	fixture_fini(&f);
}

TEST(mmu_page_fault_error_codes)
{
	struct fixture f;
	uint8_t b = 0;

	fixture_init(&f);
	/* not present, supervisor read */
	CHECK_EQ(emu_read_linear(f.cpu, 0x7008, &b, 1, 0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_PF);
	CHECK_EQ(f.cpu->exc_err, 0x0);
	CHECK_EQ(f.cpu->st.cr2, 0x7008);
	/* not present, user write */
	CHECK_EQ(emu_write_linear(f.cpu, 0x7008, &b, 1, 1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x6);
	/* user read of a supervisor page */
	*pte(&f, PT + 7 * 8) = 0x300000 | P | RW;
	CHECK_EQ(emu_read_linear(f.cpu, 0x7000, &b, 1, 1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x5);
	/* supervisor write to a read-only page: #PF with WP=1, allowed with WP=0 */
	*pte(&f, PT + 8 * 8) = 0x301000 | P;
	CHECK_EQ(emu_write_linear(f.cpu, 0x8000, &b, 1, 0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x3);
	f.cpu->st.cr0 &= ~CR0_WP;
	CHECK_EQ(emu_write_linear(f.cpu, 0x8000, &b, 1, 0), EMU_OK);
	/* but a user write still faults */
	*pte(&f, PT + 9 * 8) = 0x302000 | P | US;
	CHECK_EQ(emu_write_linear(f.cpu, 0x9000, &b, 1, 1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x7);
	/* physical address bit above MAXPHYADDR is reserved */
	*pte(&f, PT + 10 * 8) = (1ULL << 45) | P | RW;
	CHECK_EQ(emu_read_linear(f.cpu, 0xa000, &b, 1, 0), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x9);
	/* no A bit was set by faulting walks on the faulting leaf */
	CHECK_EQ(*pte(&f, PT + 8 * 8) & D, D);	/* the WP=0 write succeeded */
	CHECK_EQ(*pte(&f, PT + 9 * 8) & A, 0);
	fixture_fini(&f);
}

TEST(mmu_nx)
{
	struct fixture f;
	uint8_t *hp;
	uint64_t gpa;

	fixture_init(&f);
	*pte(&f, PT + 3 * 8) = 0x300000 | P | RW | XD;
	CHECK_EQ(emu_translate(f.cpu, 0x3000, EMU_ACC_FETCH, &hp, &gpa), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x11);
	/* data reads are fine */
	CHECK_EQ(emu_translate(f.cpu, 0x3000, EMU_ACC_READ, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x300000);
	/* and the cached entry still refuses fetches */
	CHECK_EQ(emu_translate(f.cpu, 0x3000, EMU_ACC_FETCH, &hp, &gpa), EMU_FAULT);
	/* with EFER.NXE = 0 the XD bit is reserved */
	f.cpu->st.efer &= ~EFER_NXE;
	emu_tlb_flush(f.cpu, false);
	CHECK_EQ(emu_translate(f.cpu, 0x3000, EMU_ACC_READ, &hp, &gpa), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_err, 0x9);
	fixture_fini(&f);
}

TEST(mmu_tlb_flushes)
{
	struct fixture f;
	uint8_t *hp;
	uint64_t gpa;

	fixture_init(&f);
	*pte(&f, PT + 2 * 8) = 0x300000 | P | RW;
	*pte(&f, PT + 4 * 8) = 0x310000 | P | RW | G;
	CHECK_EQ(emu_translate(f.cpu, 0x2000, 0, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x300000);
	CHECK(hp == f.ram + 0x300000);
	CHECK_EQ(emu_translate(f.cpu, 0x4000, 0, &hp, &gpa), EMU_OK);
	/* remap both: the TLB still holds the old translations */
	*pte(&f, PT + 2 * 8) = 0x320000 | P | RW;
	*pte(&f, PT + 4 * 8) = 0x330000 | P | RW | G;
	CHECK_EQ(emu_translate(f.cpu, 0x2000, 0, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x300000);
	/* a CR3 write keeps global entries */
	emu_tlb_flush(f.cpu, true);
	CHECK_EQ(emu_translate(f.cpu, 0x2000, 0, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x320000);
	CHECK_EQ(emu_translate(f.cpu, 0x4000, 0, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x310000);
	/* INVLPG drops global ones too */
	emu_tlb_flush_page(f.cpu, 0x4000);
	CHECK_EQ(emu_translate(f.cpu, 0x4000, 0, &hp, &gpa), EMU_OK);
	CHECK_EQ(gpa, 0x330000);
	/* a write through a clean cached entry walks again to set D */
	CHECK_EQ(*pte(&f, PT + 2 * 8) & D, 0);
	CHECK_EQ(emu_translate(f.cpu, 0x2000, EMU_ACC_WRITE, &hp, &gpa), EMU_OK);
	CHECK_EQ(*pte(&f, PT + 2 * 8) & D, D);
	fixture_fini(&f);
}

TEST(mmu_page_table_outside_ram)
{
	struct fixture f;
	uint8_t b;

	fixture_init(&f);
	*pte(&f, PD + 3 * 8) = 0xfe000000ULL | P | RW;	/* PT in MMIO space */
	CHECK_EQ(emu_read_linear(f.cpu, 0x600000, &b, 1, 0), EMU_EXIT);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
	CHECK(strstr(f.vme.u.backend_error.msg, "not RAM") != NULL);
	fixture_fini(&f);
}

TEST(mmu_mmio_replay)
{
	struct fixture f;
	uint32_t v = 0;

	fixture_init(&f);
	/* PD[1]: la 2M -> gpa 0xfee00000 (not RAM) */
	*pte(&f, PD + 8) = 0xfee00000ULL | P | RW | PS;
	CHECK_EQ(emu_read(f.cpu, SEG_DS, 0x200030, &v, 4), EMU_EXIT);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INST_EMUL);
	CHECK_EQ(f.vme.u.mmio.gpa, 0xfee00030);
	CHECK_EQ(f.vme.u.mmio.size, 4);
	CHECK_EQ(f.vme.u.mmio.write, 0);
	CHECK_EQ(f.vme.inst_length, 0);
	/* userland answers; the replayed access consumes the answer */
	f.cpu->io_log.data[f.cpu->io_log.n++] = 0xcafef00d;
	f.cpu->io_log.pos = 0;
	CHECK_EQ(emu_read(f.cpu, SEG_DS, 0x200030, &v, 4), EMU_OK);
	CHECK_EQ(v, 0xcafef00d);
	/* a write exits with its data */
	v = 0x55aa;
	CHECK_EQ(emu_write(f.cpu, SEG_DS, 0x200040, &v, 2), EMU_EXIT);
	CHECK_EQ(f.vme.u.mmio.write, 1);
	CHECK_EQ(f.vme.u.mmio.size, 2);
	CHECK_EQ(f.vme.u.mmio.data, 0x55aa);
	fixture_fini(&f);
}

TEST(mmu_page_crossing)
{
	struct fixture f;
	uint64_t v = 0x8877665544332211ULL, r = 0;

	fixture_init(&f);
	*pte(&f, PT + 1 * 8) = 0x300000 | P | RW;
	*pte(&f, PT + 2 * 8) = 0x500000 | P | RW;
	CHECK_EQ(emu_write_linear(f.cpu, 0x1ffc, &v, 8, 0), EMU_OK);
	CHECK_EQ(*(uint32_t *)(void *)(f.ram + 0x300ffc), 0x44332211);
	CHECK_EQ(*(uint32_t *)(void *)(f.ram + 0x500000), 0x88776655);
	CHECK_EQ(emu_read_linear(f.cpu, 0x1ffc, &r, 8, 0), EMU_OK);
	CHECK_EQ(r, v);
	/* second page missing: #PF on it, nothing written to the first */
	*pte(&f, PT + 2 * 8) = 0;
	emu_tlb_flush(f.cpu, false);
	memset(f.ram + 0x300ff0, 0, 16);
	CHECK_EQ(emu_write_linear(f.cpu, 0x1ffc, &v, 8, 0), EMU_FAULT);
	CHECK_EQ(f.cpu->st.cr2, 0x2000);
	CHECK_EQ(f.cpu->exc_err, 0x2);
	CHECK_EQ(*(uint32_t *)(void *)(f.ram + 0x300ffc), 0);
	fixture_fini(&f);
}

TEST(mmu_segmentation_64)
{
	struct fixture f;
	uint8_t b;
	uint64_t la;

	fixture_init(&f);
	CHECK_EQ(emu_read(f.cpu, SEG_DS, 0x0000800000000000ULL, &b, 1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(emu_read(f.cpu, SEG_SS, 0x0000800000000000ULL, &b, 1), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_SS);
	/* an access that runs off the canonical range */
	CHECK_EQ(emu_read(f.cpu, SEG_DS, 0x00007ffffffffffeULL, &la, 4), EMU_FAULT);
	/* FS base applies, DS base does not */
	f.cpu->st.seg[SEG_FS].base = 0x1000;
	f.cpu->st.seg[SEG_DS].base = 0x5000;
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_FS, 0x10, 1, 0, &la), EMU_OK);
	CHECK_EQ(la, 0x1010);
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_DS, 0x10, 1, 0, &la), EMU_OK);
	CHECK_EQ(la, 0x10);
	fixture_fini(&f);
}

TEST(mmu_segmentation_protected)
{
	struct fixture f;
	uint64_t la;

	fixture_init(&f);
	f.cpu->st.efer = 0;
	f.cpu->st.cr0 = CR0_PE | CR0_ET;
	f.cpu->st.seg[SEG_CS].access = 0xc09b;
	f.cpu->st.seg[SEG_DS] = (struct vm_seg){ .base = 0x10000, .limit = 0xfff, .access = 0xc093 };
	f.cpu->st.seg[SEG_ES] = (struct vm_seg){ .base = 0, .limit = 0xfff, .access = 0xc091 };
	f.cpu->st.seg[SEG_SS] = (struct vm_seg){ .base = 0, .limit = 0xfff, .access = 0xc097 };
	emu_update_mode(f.cpu);
	CHECK_EQ(f.cpu->mode, EMU_MODE_PROT32);
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_DS, 0xffc, 4, 1, &la), EMU_OK);
	CHECK_EQ(la, 0x10ffc);
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_DS, 0xffd, 4, 0, &la), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	/* read-only data segment */
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_ES, 0, 1, 1, &la), EMU_FAULT);
	/* expand-down stack: offsets above the limit only */
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_SS, 0x800, 4, 1, &la), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_SS);
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_SS, 0x10000, 4, 1, &la), EMU_OK);
	/* code segments are never writable */
	CHECK_EQ(emu_seg_linear(f.cpu, SEG_CS, 0, 1, 1, &la), EMU_FAULT);
	fixture_fini(&f);
}

/*
 * Outside 64-bit mode the inline fast path takes flat segments only (base
 * 0, limit 4G - 1, expand-up data, writable for a write, or readable
 * code): every other segment goes through emu_seg_linear's checks.
 */
TEST(mmu_flat_segments_fast_path)
{
	struct fixture f;
	uint64_t gpa = 0;
	uint32_t v = 0x12345678, r = 0;

	fixture_init(&f);
	f.cpu->st.efer = 0;
	f.cpu->st.cr0 = CR0_PE | CR0_ET;
	f.cpu->st.seg[SEG_CS] = (struct vm_seg){ .base = 0, .limit = 0xffffffff, .access = 0xc09b };
	f.cpu->st.seg[SEG_DS] = (struct vm_seg){ .base = 0, .limit = 0xffffffff, .access = 0xc093 };
	f.cpu->st.seg[SEG_ES] = (struct vm_seg){ .base = 0, .limit = 0xffffffff, .access = 0xc091 };
	f.cpu->st.seg[SEG_FS] = (struct vm_seg){ .base = 0, .limit = 0xffffffff, .access = 0xc097 };
	f.cpu->st.seg[SEG_GS] = (struct vm_seg){ .base = 0x1000, .limit = 0xffffffff, .access = 0xc093 };
	f.cpu->st.seg[SEG_SS] = (struct vm_seg){ .base = 0, .limit = 0xffffffff, .access = 0x10000 };
	emu_update_mode(f.cpu);
	REQUIRE(f.cpu->mode == EMU_MODE_PROT32);
	CHECK_EQ(emu_write(f.cpu, SEG_DS, 0x2000, &v, 4), EMU_OK);	/* fills the DTLB */
	CHECK(emu_mem_fast(f.cpu, SEG_DS, 0x2000, 4, 0, &gpa) != NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_DS, 0x2004, 4, 1, &gpa) != NULL);
	CHECK_EQ(gpa, 0x2004);
	CHECK(emu_mem_fast(f.cpu, SEG_CS, 0x2000, 4, 0, &gpa) != NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_ES, 0x2000, 4, 0, &gpa) != NULL);
	/* not flat for the access: the general path decides */
	CHECK(emu_mem_fast(f.cpu, SEG_CS, 0x2000, 4, 1, &gpa) == NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_ES, 0x2000, 4, 1, &gpa) == NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_FS, 0x2000, 4, 0, &gpa) == NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_GS, 0x1000, 4, 0, &gpa) == NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_SS, 0x2000, 4, 0, &gpa) == NULL);
	CHECK(emu_mem_fast(f.cpu, SEG_DS, 0x100002000ULL, 4, 0, &gpa) == NULL);
	/* and it faults as the SDM says */
	CHECK_EQ(emu_write(f.cpu, SEG_ES, 0x2000, &v, 4), EMU_FAULT);
	CHECK_EQ(f.cpu->exc_vector, IDT_GP);
	CHECK_EQ(emu_write(f.cpu, SEG_CS, 0x2000, &v, 4), EMU_FAULT);
	CHECK_EQ(emu_read(f.cpu, SEG_FS, 0x2000, &r, 4), EMU_FAULT);	/* expand-down to 4G: empty */
	CHECK_EQ(emu_read(f.cpu, SEG_SS, 0x2000, &r, 4), EMU_FAULT);	/* unusable */
	CHECK_EQ(f.cpu->exc_vector, IDT_SS);
	CHECK_EQ(emu_read(f.cpu, SEG_GS, 0x1000, &r, 4), EMU_OK);	/* base 0x1000 */
	CHECK_EQ(r, 0x12345678);
	fixture_fini(&f);
}

TEST(mmu_legacy_paging)
{
	struct fixture f;
	uint32_t *pd, r = 0;

	fixture_init(&f);
	f.cpu->st.efer = 0;
	f.cpu->st.cr4 = CR4_PSE;
	f.cpu->st.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_WP;
	f.cpu->st.cr3 = 0x10000;
	f.cpu->st.seg[SEG_CS].access = 0xc09b;
	emu_update_mode(f.cpu);
	emu_tlb_flush(f.cpu, false);
	pd = (uint32_t *)(void *)(f.ram + 0x10000);
	pd[1] = 0x400000 | 0x83;			/* 4 MiB page: la 4M -> gpa 4M */
	pd[0] = 0x11000 | 0x3;				/* page table */
	((uint32_t *)(void *)(f.ram + 0x11000))[5] = 0x300000 | 0x3;
	*(uint32_t *)(void *)(f.ram + 0x300008) = 0xfeedface;
	CHECK_EQ(emu_read_linear(f.cpu, 0x5008, &r, 4, 0), EMU_OK);
	CHECK_EQ(r, 0xfeedface);
	*(uint32_t *)(void *)(f.ram + 0x400010) = 0x600df00d;
	CHECK_EQ(emu_read_linear(f.cpu, 0x400010, &r, 4, 0), EMU_OK);
	CHECK_EQ(r, 0x600df00d);
	CHECK_EQ(pd[1] & 0x20, 0x20);
	fixture_fini(&f);
}
