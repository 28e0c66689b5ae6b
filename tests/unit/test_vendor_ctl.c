/*
 * test_vendor_ctl.c - where Intel and AMD transfer control differently, on
 * fixed vectors under both profiles (docs/cpu.md, "Vendor profiles"):
 * 66-prefixed near branches in 64-bit mode, SYSCALL/SYSRET outside 64-bit
 * mode and with a non-canonical RCX, SYSRET's SS, SYSENTER/SYSEXIT in and
 * out of long mode.  Bytes are decoded and run on the fixture CPU
 * (isa_fixture.h); the expected values follow SDM Vol. 2A/2B and AMD APM
 * Vol. 3 on each instruction's page.
 */
#include <stdint.h>

#include "cpu.h"
#include "isa_fixture.h"
#include "test.h"
#include "vmm_cpuid.h"

#define RIP0	0x12345678ULL
#define STK	(FX_DATA + 0x1000)

enum { I, A };		/* want[] index: Intel, AMD */

static const enum vmm_vendor vendors[2] = { VMM_VENDOR_INTEL, VMM_VENDOR_AMD };

struct bwant {
	int		vector;		/* -1: EMU_OK */
	uint64_t	next;		/* next_rip */
	int		push;		/* bytes pushed (> 0) or popped (< 0) */
	uint64_t	pushed;		/* value pushed, at that size */
};

struct bvec {
	const char	*name;
	uint8_t		code[8];
	int		n;
	uint64_t	rax, rcx, stack0, mem;
	int		zf;
	struct bwant	want[2];
};

static const struct bvec branches[] = {
	/* rel16/32: AMD reads 2 bytes of displacement, the instruction is 4 long */
	{ "66 jmp rel", { 0x66, 0xe9, 0x10, 0x00, 0x01, 0x00 }, 6, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 6 + 0x10010, 0, 0 }, { -1, (RIP0 + 4 + 0x10) & 0xffff, 0, 0 } } },
	{ "66 jmp rel8", { 0x66, 0xeb, 0x10 }, 3, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 3 + 0x10, 0, 0 }, { -1, (RIP0 + 3 + 0x10) & 0xffff, 0, 0 } } },
	{ "66 jz rel not taken", { 0x66, 0x0f, 0x84, 0x10, 0x00, 0x00, 0x00 }, 7, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 7, 0, 0 }, { -1, RIP0 + 5, 0, 0 } } },
	{ "66 jz rel taken", { 0x66, 0x0f, 0x84, 0x10, 0x00, 0x00, 0x00 }, 7, 0, 0, 0, 0, 1,
	    { { -1, RIP0 + 7 + 0x10, 0, 0 }, { -1, (RIP0 + 5 + 0x10) & 0xffff, 0, 0 } } },
	{ "66 jz rel8 back", { 0x66, 0x74, 0xf0 }, 3, 0, 0, 0, 0, 1,
	    { { -1, RIP0 + 3 - 0x10, 0, 0 }, { -1, (RIP0 + 3 - 0x10) & 0xffff, 0, 0 } } },
	{ "66 call rel", { 0x66, 0xe8, 0x10, 0x00, 0x00, 0x00 }, 6, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 6 + 0x10, 8, RIP0 + 6 },
	      { -1, (RIP0 + 4 + 0x10) & 0xffff, 2, (RIP0 + 4) & 0xffff } } },
	{ "66 call r", { 0x66, 0xff, 0xd0 }, 3, 0xffff800000001234ULL, 0, 0, 0, 0,
	    { { -1, 0xffff800000001234ULL, 8, RIP0 + 3 }, { -1, 0x1234, 2, (RIP0 + 3) & 0xffff } } },
	/* Intel reads 8 bytes, not canonical: #GP(0); AMD reads 2 */
	{ "66 jmp m", { 0x66, 0xff, 0x20 }, 3, FX_DATA, 0, 0, 0x1122334455667788ULL, 0,
	    { { IDT_GP, 0, 0, 0 }, { -1, 0x7788, 0, 0 } } },
	{ "66 ret", { 0x66, 0xc3 }, 2, 0, 0, 0xaabbccddULL, 0, 0,
	    { { -1, 0xaabbccdd, -8, 0 }, { -1, 0xccdd, -2, 0 } } },
	{ "66 ret imm", { 0x66, 0xc2, 0x08, 0x00 }, 4, 0, 0, 0xaabbccddULL, 0, 0,
	    { { -1, 0xaabbccdd, -16, 0 }, { -1, 0xccdd, -10, 0 } } },
	{ "66 loop", { 0x66, 0xe2, 0x10 }, 3, 0, 2, 0, 0, 0,
	    { { -1, RIP0 + 3 + 0x10, 0, 0 }, { -1, (RIP0 + 3 + 0x10) & 0xffff, 0, 0 } } },
	{ "66 jrcxz", { 0x66, 0xe3, 0x10 }, 3, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 3 + 0x10, 0, 0 }, { -1, (RIP0 + 3 + 0x10) & 0xffff, 0, 0 } } },
	/* REX.W wins over 66 on AMD too; without 66 nothing differs */
	{ "66 rex.w jmp rel8", { 0x66, 0x48, 0xeb, 0x10 }, 4, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 4 + 0x10, 0, 0 }, { -1, RIP0 + 4 + 0x10, 0, 0 } } },
	{ "jmp rel", { 0xe9, 0x10, 0x00, 0x00, 0x00 }, 5, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 5 + 0x10, 0, 0 }, { -1, RIP0 + 5 + 0x10, 0, 0 } } },
	{ "call rel", { 0xe8, 0x10, 0x00, 0x00, 0x00 }, 5, 0, 0, 0, 0, 0,
	    { { -1, RIP0 + 5 + 0x10, 8, RIP0 + 5 }, { -1, RIP0 + 5 + 0x10, 8, RIP0 + 5 } } },
};

static void
run_branch(const struct bvec *v, int vi)
{
	const struct bwant *w = &v->want[vi];
	struct fx f;
	uint64_t rsp, got = 0;
	int rc, size;

	REQUIRE(fx_init(&f, EMU_MODE_LONG64) == 0);
	f.cpu->vendor = (uint8_t)vendors[vi];
	f.cpu->st.rip = RIP0;
	f.cpu->st.gpr[GPR_RSP] = STK;
	f.cpu->st.gpr[GPR_RAX] = v->rax;
	f.cpu->st.gpr[GPR_RCX] = v->rcx;
	fx_put64(&f, STK, v->stack0);
	fx_put64(&f, FX_DATA, v->mem);
	emu_set_rflags(f.cpu, 0x2 | (v->zf ? RFL_ZF : 0));
	rc = fx_run(&f, v->code, v->n);
	rsp = f.cpu->st.gpr[GPR_RSP];
	if (w->vector >= 0) {
		if (rc != EMU_FAULT || f.cpu->exc_vector != w->vector || rsp != STK) {
			fprintf(stderr, "%s (%s): rc %d vector %d, want vector %d\n", v->name,
			    vmm_vendor_name(vendors[vi]), rc, f.cpu->exc_vector, w->vector);
			test_failed_ = 1;
		}
		fx_fini(&f);
		return;
	}
	size = w->push > 0 ? w->push : 0;
	if (size)
		memcpy(&got, f.ram + rsp, (size_t)size);
	if (rc != EMU_OK || f.cpu->next_rip != w->next ||
	    rsp != STK - (uint64_t)(int64_t)w->push || got != w->pushed) {
		fprintf(stderr, "%s (%s): rc %d next %#llx rsp %+lld pushed %#llx, "
		    "want next %#llx rsp %+d pushed %#llx\n", v->name,
		    vmm_vendor_name(vendors[vi]), rc, (unsigned long long)f.cpu->next_rip,
		    (long long)(STK - rsp), (unsigned long long)got,
		    (unsigned long long)w->next, w->push, (unsigned long long)w->pushed);
		test_failed_ = 1;
	}
	fx_fini(&f);
}

/* AMD honours 66 on near branches in 64-bit mode; Intel ignores it. */
TEST(vendor_near_branch_66)
{
	size_t i;

	for (i = 0; i < sizeof(branches) / sizeof(branches[0]); i++) {
		run_branch(&branches[i], I);
		run_branch(&branches[i], A);
	}
}

/* Outside 64-bit mode 66 selects a 16-bit operand on both. */
TEST(vendor_near_branch_66_prot32)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init(&f, EMU_MODE_PROT32) == 0);
		f.cpu->vendor = (uint8_t)vendors[vi];
		f.cpu->st.rip = 0x5678;
		CHECK_EQ(FX_RUN(&f, 0x66, 0xe9, 0x10, 0x00), EMU_OK);
		CHECK_EQ(f.in.len, 4);
		CHECK_EQ(f.cpu->next_rip, 0x5678 + 4 + 0x10);
		fx_fini(&f);
	}
}

/* ---- SYSCALL / SYSRET / SYSENTER / SYSEXIT ---- */

/* Make the fixture run at CPL 3 on the code segment @cs (VMCS access rights). */
static void
user_mode(struct fx *f, uint16_t cs_sel, uint32_t cs_access)
{
	f->cpu->st.seg[SEG_CS] = fx_flat(cs_sel, cs_access);
	f->cpu->st.seg[SEG_SS] = fx_flat(0x23, 0xc0f3);
	emu_update_mode(f->cpu);
}

static int
fx_init_vendor(struct fx *f, enum emu_mode mode, int vi)
{
	if (fx_init(f, mode) != 0)
		return -1;
	f->cpu->vendor = (uint8_t)vendors[vi];
	f->cpu->st.rip = 0x1000;
	return 0;
}

/* Linux's layout: kernel CS 0x10, SS 0x18; user CS32 0x23, SS 0x2b, CS64 0x33. */
#define STAR_LINUX	((0x23ULL << 48) | (0x10ULL << 32))

/* Intel: #UD outside 64-bit mode.  AMD legacy mode: STAR[31:0], no SFMASK. */
TEST(vendor_syscall_legacy)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_PROT32, vi) == 0);
		user_mode(&f, 0x23, 0xc0fb);
		f.cpu->st.efer = EFER_SCE;
		f.cpu->st.star = STAR_LINUX | 0x5000;
		f.cpu->st.sfmask = RFL_DF;
		f.cpu->st.gpr[GPR_RCX] = 0xdeadbeef00000000ULL;
		emu_set_rflags(f.cpu, 0x2 | RFL_IF | RFL_DF | RFL_RF);
		if (vi == I) {
			CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_UD);
			CHECK_EQ(f.cpu->cpl, 3);
			fx_fini(&f);
			continue;
		}
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x5000);
		CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 0x1002);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x10);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xc09b);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x18);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc093);
		CHECK_EQ(f.cpu->mode, EMU_MODE_PROT32);
		CHECK_EQ(f.cpu->cpl, 0);
		/* IF and RF cleared, DF kept although SFMASK has it */
		CHECK_EQ(emu_rflags(f.cpu), 0x2 | RFL_DF);
		/* SCE = 0: #UD; real mode: #UD (see syscall.c) */
		user_mode(&f, 0x23, 0xc0fb);
		f.cpu->st.efer = 0;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_UD);
		fx_fini(&f);

		REQUIRE(fx_init_vendor(&f, EMU_MODE_REAL, vi) == 0);
		f.cpu->st.efer = EFER_SCE;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_UD);
		fx_fini(&f);
	}
}

/* Compatibility mode: Intel #UD; AMD enters 64-bit code at CSTAR. */
TEST(vendor_syscall_compat)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		user_mode(&f, 0x23, 0xc0fb);
		REQUIRE(f.cpu->mode == EMU_MODE_COMPAT32);
		f.cpu->st.efer |= EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.lstar = 0xffff800000006000ULL;
		f.cpu->st.cstar = 0xffff800000007000ULL;
		f.cpu->st.sfmask = RFL_IF;
		emu_set_rflags(f.cpu, 0x2 | RFL_IF | RFL_RF);
		if (vi == I) {
			CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_UD);
			fx_fini(&f);
			continue;
		}
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0xffff800000007000ULL);
		CHECK_EQ(f.cpu->st.gpr[GPR_RCX], 0x1002);
		CHECK_EQ(f.cpu->st.gpr[GPR_R11], 0x2 | RFL_IF);	/* RF cleared */
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xa09b);
		CHECK_EQ(f.cpu->mode, EMU_MODE_LONG64);
		CHECK_EQ(f.cpu->cpl, 0);
		CHECK_EQ(emu_rflags(f.cpu), 0x2);
		fx_fini(&f);
	}
}

/* 64-bit SYSCALL: the same on both but R11.RF (AMD clears it). */
TEST(vendor_syscall_64)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		user_mode(&f, 0x33, 0xa0fb);
		f.cpu->st.efer |= EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.lstar = 0xffff800000006000ULL;
		emu_set_rflags(f.cpu, 0x2 | RFL_IF | RFL_RF);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x05), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0xffff800000006000ULL);
		CHECK_EQ(f.cpu->st.gpr[GPR_R11], 0x2 | RFL_IF | (vi == A ? 0 : RFL_RF));
		CHECK_EQ(f.cpu->cpl, 0);
		fx_fini(&f);
	}
}

/* SYSRETQ to a non-canonical RCX: Intel #GP(0) in ring 0; AMD returns. */
TEST(vendor_sysret_noncanonical)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		f.cpu->st.efer |= EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.gpr[GPR_RCX] = 0x0000800000000000ULL;
		f.cpu->st.gpr[GPR_R11] = 0x202;
		if (vi == I) {
			CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x07), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_GP);
			CHECK_EQ(f.cpu->exc_err, 0);
			CHECK_EQ(f.cpu->cpl, 0);
			CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x08);
		} else {
			CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x07), EMU_OK);
			CHECK_EQ(f.cpu->next_rip, 0x0000800000000000ULL);
			CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x33);
			CHECK_EQ(f.cpu->cpl, 3);
			CHECK_EQ(f.cpu->mode, EMU_MODE_LONG64);
		}
		fx_fini(&f);
	}
}

/*
 * SYSRETL after an interrupt left SS null: Intel loads flat ring-3 SS
 * attributes; AMD changes the selector only, so SS stays unusable and the
 * first push in compatibility mode is #SS(0).  A flat SS keeps its limit.
 */
TEST(vendor_sysret_ss)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		f.cpu->st.efer |= EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.seg[SEG_SS] = (struct vm_seg){ .sel = 0, .access = DESC_UNUSABLE };
		f.cpu->st.gpr[GPR_RCX] = 0xffffffff00001234ULL;
		f.cpu->st.gpr[GPR_RSP] = STK;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x07), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x1234);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x23);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xc0fb);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x2b);
		CHECK_EQ(f.cpu->mode, EMU_MODE_COMPAT32);
		CHECK_EQ(f.cpu->cpl, 3);
		if (vi == I) {
			CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc0f3);
			CHECK_EQ(FX_RUN(&f, 0x50), EMU_OK);
		} else {
			CHECK_EQ(f.cpu->st.seg[SEG_SS].access, DESC_UNUSABLE | 0x60);
			CHECK_EQ(FX_RUN(&f, 0x50), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_SS);
		}
		fx_fini(&f);

		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		f.cpu->st.efer |= EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.seg[SEG_SS].limit = 0xfffff;
		CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x07), EMU_OK);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc0f3);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].limit, vi == A ? 0xfffff : 0xffffffff);
		fx_fini(&f);
	}
}

/* Legacy mode SYSRET: Intel #UD; AMD to 32-bit code at ECX with IF set. */
TEST(vendor_sysret_legacy)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_PROT32, vi) == 0);
		f.cpu->st.efer = EFER_SCE;
		f.cpu->st.star = STAR_LINUX;
		f.cpu->st.gpr[GPR_RCX] = 0x1234;
		f.cpu->st.gpr[GPR_R11] = 0;
		emu_set_rflags(f.cpu, 0x2 | RFL_DF);
		if (vi == I) {
			CHECK_EQ(FX_RUN(&f, 0x0f, 0x07), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_UD);
			fx_fini(&f);
			continue;
		}
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x07), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x1234);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x23);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xc0fb);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x2b);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc0f3);
		CHECK_EQ(f.cpu->mode, EMU_MODE_PROT32);
		CHECK_EQ(f.cpu->cpl, 3);
		CHECK_EQ(emu_rflags(f.cpu), 0x2 | RFL_DF | RFL_IF);
		/* now at CPL 3: #GP(0) */
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x07), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		fx_fini(&f);
	}
	/* Real mode with SCE: Intel #UD, AMD #GP(0) */
	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_REAL, vi) == 0);
		f.cpu->st.efer = EFER_SCE;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x07), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, vi == A ? IDT_GP : IDT_UD);
		fx_fini(&f);
	}
}

/* SYSENTER/SYSEXIT in legacy protected mode: the same on both. */
TEST(vendor_sysenter_legacy)
{
	struct fx f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		REQUIRE(fx_init_vendor(&f, EMU_MODE_PROT32, vi) == 0);
		user_mode(&f, 0x23, 0xc0fb);
		f.cpu->st.sysenter_cs = 0x10;
		f.cpu->st.sysenter_esp = 0x9000;
		f.cpu->st.sysenter_eip = 0x4000;
		emu_set_rflags(f.cpu, 0x2 | RFL_IF | RFL_DF);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x34), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x4000);
		CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0x9000);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x10);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xc09b);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x18);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc093);
		CHECK_EQ(f.cpu->mode, EMU_MODE_PROT32);
		CHECK_EQ(f.cpu->cpl, 0);
		CHECK_EQ(emu_rflags(f.cpu), 0x2 | RFL_DF);

		f.cpu->st.gpr[GPR_RCX] = 0x8000;
		f.cpu->st.gpr[GPR_RDX] = 0x3000;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x35), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x3000);
		CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0x8000);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x23);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xc0fb);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x2b);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].access, 0xc0f3);
		CHECK_EQ(f.cpu->cpl, 3);

		/* SYSEXIT at CPL 3; either with IA32_SYSENTER_CS[15:2] = 0: #GP(0) */
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x35), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		f.cpu->st.sysenter_cs = 0x3;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x34), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		CHECK_EQ(f.cpu->cpl, 3);
		fx_fini(&f);

		/* real mode: #GP(0) */
		REQUIRE(fx_init_vendor(&f, EMU_MODE_REAL, vi) == 0);
		f.cpu->st.sysenter_cs = 0x10;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x34), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x35), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		fx_fini(&f);
	}
}

/* IA-32e mode: Intel enters 64-bit code, SYSEXIT by REX.W; AMD #UD. */
TEST(vendor_sysenter_long)
{
	struct fx f;
	int vi, compat;

	for (vi = 0; vi < 2; vi++) {
		for (compat = 0; compat < 2; compat++) {
			REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
			if (compat)
				user_mode(&f, 0x23, 0xc0fb);
			else
				user_mode(&f, 0x33, 0xa0fb);
			f.cpu->st.sysenter_cs = 0x10;
			f.cpu->st.sysenter_esp = 0xffff800000009000ULL;
			f.cpu->st.sysenter_eip = 0xffff800000004000ULL;
			if (vi == A) {
				CHECK_EQ(FX_RUN(&f, 0x0f, 0x34), EMU_FAULT);
				CHECK_EQ(f.cpu->exc_vector, IDT_UD);
				CHECK_EQ(f.cpu->cpl, 3);
				fx_fini(&f);
				continue;
			}
			CHECK_EQ(FX_RUN(&f, 0x0f, 0x34), EMU_OK);
			CHECK_EQ(f.cpu->next_rip, 0xffff800000004000ULL);
			CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0xffff800000009000ULL);
			CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xa09b);
			CHECK_EQ(f.cpu->mode, EMU_MODE_LONG64);
			CHECK_EQ(f.cpu->cpl, 0);
			fx_fini(&f);
		}

		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		f.cpu->st.sysenter_cs = 0x10;
		f.cpu->st.gpr[GPR_RCX] = 0x00007fffffff0000ULL;
		f.cpu->st.gpr[GPR_RDX] = 0x0000800000001000ULL;
		if (vi == A) {
			CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x35), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_UD);
			CHECK_EQ(FX_RUN(&f, 0x0f, 0x35), EMU_FAULT);
			CHECK_EQ(f.cpu->exc_vector, IDT_UD);
			fx_fini(&f);
			continue;
		}
		/* REX.W with a non-canonical RDX: #GP(0) */
		CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x35), EMU_FAULT);
		CHECK_EQ(f.cpu->exc_vector, IDT_GP);
		CHECK_EQ(f.cpu->cpl, 0);
		f.cpu->st.gpr[GPR_RDX] = 0x00007fff00001000ULL;
		CHECK_EQ(FX_RUN(&f, 0x48, 0x0f, 0x35), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x00007fff00001000ULL);
		CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0x00007fffffff0000ULL);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x33);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].access, 0xa0fb);
		CHECK_EQ(f.cpu->st.seg[SEG_SS].sel, 0x3b);
		CHECK_EQ(f.cpu->mode, EMU_MODE_LONG64);
		CHECK_EQ(f.cpu->cpl, 3);
		fx_fini(&f);

		/* without REX.W: to compatibility mode at EDX, ESP = ECX */
		REQUIRE(fx_init_vendor(&f, EMU_MODE_LONG64, vi) == 0);
		f.cpu->st.sysenter_cs = 0x10;
		f.cpu->st.gpr[GPR_RCX] = 0xffffffff00008000ULL;
		f.cpu->st.gpr[GPR_RDX] = 0xffffffff00001000ULL;
		CHECK_EQ(FX_RUN(&f, 0x0f, 0x35), EMU_OK);
		CHECK_EQ(f.cpu->next_rip, 0x1000);
		CHECK_EQ(f.cpu->st.gpr[GPR_RSP], 0x8000);
		CHECK_EQ(f.cpu->st.seg[SEG_CS].sel, 0x23);
		CHECK_EQ(f.cpu->mode, EMU_MODE_COMPAT32);
		CHECK_EQ(f.cpu->cpl, 3);
		fx_fini(&f);
	}
}

/* CPUID.1:EDX.SEP on both (AMD reports it too; its SYSENTER is legacy-only). */
TEST(vendor_cpuid_sep)
{
	int vi;

	for (vi = 0; vi < 2; vi++) {
		struct vmm_cpu_profile p = { .vendor = vendors[vi] };
		uint32_t r[4];

		vmm_cpuid(&p, 0, 1, 0, r);
		CHECK(r[3] & (1u << 11));
		vmm_cpuid(&p, 0, 0x80000001u, 0, r);
		CHECK(r[3] & (1u << 11));	/* SYSCALL */
	}
}
