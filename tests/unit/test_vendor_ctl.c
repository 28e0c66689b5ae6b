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
