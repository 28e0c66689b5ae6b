/*
 * isa_fixture.h - a software CPU on a fake memory map for the instruction
 * tests (test_isa.c, test_isa_diff.c): 64-bit mode with the first 1 GiB
 * identity-mapped by 2 MiB pages, or 32-bit (and 16-bit) protected mode
 * and real mode with paging off; flat segments, CPL 0.  Instructions are
 * given as bytes, decoded by emu_decode and run by their handler, so each
 * test covers the decoder's choice too.
 */
#ifndef LHYVE_ISA_FIXTURE_H
#define LHYVE_ISA_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "machine.h"

#define FX_RAM_SIZE	(4ULL << 20)
#define FX_PML4		0x1000ULL
#define FX_PDPT		0x2000ULL
#define FX_PD		0x3000ULL
#define FX_GDT		0x4000ULL
#define FX_DATA		0x100000ULL	/* a free area for test data */

struct fx {
	struct emu_cpu		*cpu;
	struct vmm_memmap	map;
	uint8_t			*ram;
	struct vm_exit		vme;
	struct emu_insn		in;
	struct emu_clock	clock;
};

static inline void
fx_put64(struct fx *f, uint64_t gpa, uint64_t v)
{
	memcpy(f->ram + gpa, &v, 8);
}

static inline uint64_t
fx_get64(struct fx *f, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, f->ram + gpa, 8);
	return v;
}

/* A flat 4 GiB segment with @access (VMCS layout). */
static inline struct vm_seg
fx_flat(uint16_t sel, uint32_t access)
{
	return (struct vm_seg){ .sel = sel, .base = 0, .limit = 0xffffffff, .access = access };
}

/*
 * @mode: EMU_MODE_LONG64, EMU_MODE_PROT32, EMU_MODE_PROT16 or EMU_MODE_REAL.
 * GDT: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 16-bit code.
 */
static inline int
fx_init(struct fx *f, enum emu_mode mode)
{
	uint32_t csacc;
	int i;

	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, FX_RAM_SIZE);
	f->cpu = calloc(1, sizeof(*f->cpu));
	if (f->ram == NULL || f->cpu == NULL)
		return -1;
	memset(f->ram, 0, FX_RAM_SIZE);
	f->map.nsegs = 1;
	f->map.seg[0].len = FX_RAM_SIZE;
	f->map.seg[0].hva = f->ram;
	f->cpu->mem = &f->map;
	f->cpu->exit = &f->vme;
	emu_clock_init(&f->clock);
	f->cpu->clock = &f->clock;
	f->cpu->exc_vector = -1;
	fx_put64(f, FX_GDT + 0x08, 0x00af9b000000ffffULL);
	fx_put64(f, FX_GDT + 0x10, 0x00cf93000000ffffULL);
	fx_put64(f, FX_GDT + 0x18, 0x00cf9b000000ffffULL);
	fx_put64(f, FX_GDT + 0x20, 0x000f9b000000ffffULL);
	f->cpu->st.gdtr.base = FX_GDT;
	f->cpu->st.gdtr.limit = 0xff;
	f->cpu->st.seg[SEG_LDTR].access = DESC_UNUSABLE;
	f->cpu->st.rflags = 0x2;
	switch (mode) {
	case EMU_MODE_LONG64:
		fx_put64(f, FX_PML4, FX_PDPT | 0x7);
		fx_put64(f, FX_PDPT, FX_PD | 0x7);
		for (i = 0; i < 512; i++)
			fx_put64(f, FX_PD + (uint64_t)i * 8, ((uint64_t)i << 21) | 0x87);
		f->cpu->st.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE;
		f->cpu->st.cr4 = CR4_PAE;
		f->cpu->st.cr3 = FX_PML4;
		f->cpu->st.efer = EFER_LME | EFER_LMA;
		csacc = 0xa09b;
		break;
	case EMU_MODE_REAL:
		csacc = 0x9b;
		break;
	default:
		f->cpu->st.cr0 = CR0_PE | CR0_ET | CR0_NE;
		csacc = mode == EMU_MODE_PROT32 ? 0xc09b : 0x009b;
		break;
	}
	for (i = 0; i < SEG_COUNT; i++) {
		if (i == SEG_LDTR || i == SEG_TR)
			continue;
		f->cpu->st.seg[i] = fx_flat(0x10, 0xc093);
	}
	f->cpu->st.seg[SEG_CS] = fx_flat(mode == EMU_MODE_LONG64 ? 0x08 :
	    mode == EMU_MODE_PROT32 ? 0x18 : 0x20, csacc);
	if (mode == EMU_MODE_REAL || mode == EMU_MODE_PROT16) {
		for (i = 0; i < SEG_COUNT; i++) {
			if (i != SEG_LDTR && i != SEG_TR)
				f->cpu->st.seg[i].access &= ~0x4000u;	/* 16-bit */
		}
		if (mode == EMU_MODE_REAL) {
			for (i = 0; i < SEG_COUNT; i++) {
				if (i != SEG_LDTR && i != SEG_TR) {
					f->cpu->st.seg[i].sel = 0;
					f->cpu->st.seg[i].limit = 0xffff;
				}
			}
		}
	}
	emu_update_mode(f->cpu);
	emu_tlb_flush(f->cpu, false);
	return f->cpu->mode == mode ? 0 : -1;
}

static inline void
fx_fini(struct fx *f)
{
	free(f->cpu);
	free(f->ram);
}

/*
 * Decode @code in the current mode and run its handler: EMU_OK/FAULT/EXIT,
 * or -1 when the bytes do not decode.  The vector raised, if any, is in
 * f->cpu->exc_vector (reset first).
 */
static inline int
fx_run(struct fx *f, const uint8_t *code, int n)
{
	int rc;

	if (emu_decode(code, n, f->cpu->mode, &f->in) != 0)
		return -1;
	f->cpu->exc_vector = -1;
	f->cpu->next_rip = f->cpu->st.rip + f->in.len;
	rc = f->in.fn(f->cpu, &f->in);
	emu_x87_flush(f->cpu);	/* as emu.c after an instruction */
	return rc;
}

#define FX_RUN(f, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	fx_run(f, b_, (int)sizeof(b_)); })

#endif /* LHYVE_ISA_FIXTURE_H */
