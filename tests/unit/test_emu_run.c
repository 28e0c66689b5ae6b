/*
 * test_emu_run.c - the software CPU through vmm_backend_emu, as libvmm
 * drives it: a fake memory map, long-mode (or real-mode) state set with
 * set_state, small byte programs, and the exits they produce: port I/O and
 * its completion, MMIO replay, RDMSR completion, HLT, exceptions delivered
 * through the IDT, triple fault, unimplemented instructions, kick.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"
#include "machine.h"
#include "vmm_backend.h"
#include "test.h"

#define RAM_SIZE	(4ULL << 20)
#define PML4		0x1000ULL
#define PDPT		0x2000ULL
#define PD		0x3000ULL
#define GDT		0x4000ULL
#define IDT		0x5000ULL
#define TSS		0x6000ULL
#define CODE		0x10000ULL
#define HANDLER		0x11000ULL
#define STACK		0x80000ULL

struct vmf {
	void			*vm, *vcpu;
	uint8_t			*ram;
	struct vmm_memmap	map;
	struct vm_cpu_state	st;
	struct vm_exit		vme;
};

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* 64-bit interrupt gate for @vector to @target, CS 0x8. */
static void
set_gate(struct vmf *f, int vector, uint64_t target, int type)
{
	uint8_t *g = f->ram + IDT + vector * 16;
	uint64_t lo;

	lo = (target & 0xffff) | (0x8ULL << 16) | ((uint64_t)(0x80 | type) << 40) |
	    ((target & 0xffff0000ULL) << 32);
	put64(g, lo);
	put64(g + 8, target >> 32);
}

static int
vmf_init_vendor(struct vmf *f, enum vmm_vendor vendor)
{
	const struct vmm_backend_ops *ops = &vmm_backend_emu;
	const struct vmm_cpu_profile prof = { .vendor = vendor };
	int i;

	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, RAM_SIZE);
	if (f->ram == NULL)
		return -1;
	memset(f->ram, 0, RAM_SIZE);
	f->map.nsegs = 1;
	f->map.seg[0].len = RAM_SIZE;
	f->map.seg[0].hva = f->ram;
	if (ops->vm_init(NULL, &prof, &f->vm) != 0 || ops->vm_memmap(f->vm, &f->map) != 0 ||
	    ops->vcpu_init(f->vm, NULL, 0, &f->vcpu) != 0)
		return -1;

	/* Identity map the first 1 GiB with 2 MiB pages; 0xfee00000 at la 0x200000. */
	put64(f->ram + PML4, PDPT | 0x7);
	put64(f->ram + PDPT, PD | 0x7);
	for (i = 0; i < 512; i++)
		put64(f->ram + PD + i * 8, ((uint64_t)i << 21) | 0x87);
	put64(f->ram + PD + 8, 0xfee00000ULL | 0x83);
	/* GDT: null, 64-bit code 0x8, data 0x10, TSS 0x18 (16 bytes) */
	put64(f->ram + GDT + 0x8, 0x00af9b000000ffffULL);
	put64(f->ram + GDT + 0x10, 0x00cf93000000ffffULL);
	put64(f->ram + GDT + 0x18, 0x0000890000000067ULL | (TSS << 16));

	ops->get_state(f->vcpu, &f->st);
	f->st.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE | CR0_WP;
	f->st.cr4 = CR4_PAE;
	f->st.cr3 = PML4;
	f->st.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
	f->st.rflags = 0x2;
	f->st.seg[SEG_CS] = (struct vm_seg){ .sel = 0x8, .limit = 0xffffffff, .access = 0xa09b };
	for (i = 0; i < SEG_COUNT; i++) {
		if (i == SEG_CS || i == SEG_LDTR || i == SEG_TR)
			continue;
		f->st.seg[i] = (struct vm_seg){ .sel = 0x10, .limit = 0xffffffff, .access = 0xc093 };
	}
	f->st.seg[SEG_TR] = (struct vm_seg){ .sel = 0x18, .base = TSS, .limit = 0x67, .access = 0x8b };
	f->st.seg[SEG_LDTR].access = DESC_UNUSABLE;
	f->st.gdtr.base = GDT;
	f->st.gdtr.limit = 0x27;
	f->st.idtr.base = IDT;
	f->st.idtr.limit = 256 * 16 - 1;
	f->st.gpr[GPR_RSP] = STACK;
	return ops->set_state(f->vcpu, &f->st);
}

/* These guests pin the Intel profile; vendor tests choose theirs. */
static int
vmf_init(struct vmf *f)
{
	return vmf_init_vendor(f, VMM_VENDOR_INTEL);
}

static void
vmf_fini(struct vmf *f)
{
	vmm_backend_emu.vcpu_cleanup(f->vcpu);
	vmm_backend_emu.vm_cleanup(f->vm);
	free(f->ram);
}

static void
load(struct vmf *f, uint64_t gpa, const uint8_t *code, size_t len)
{
	memcpy(f->ram + gpa, code, len);
}

static int
run(struct vmf *f, uint64_t rip)
{
	return vmm_backend_emu.run(f->vcpu, rip, &f->vme);
}

/* Resume as libvmm does: at rip + inst_length. */
static int
resume(struct vmf *f)
{
	return run(f, f->vme.rip + (uint64_t)f->vme.inst_length);
}

static uint64_t
reg(struct vmf *f, int r)
{
	uint64_t v = 0;

	vmm_backend_emu.get_reg(f->vcpu, r, &v);
	return v;
}

TEST(emu_out_then_hlt)
{
	static const uint8_t prog[] = { 0xb0, 0x41, 0xe6, 0xe9, 0xf4 };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INOUT);
	CHECK_EQ(f.vme.rip, CODE + 2);
	CHECK_EQ(f.vme.inst_length, 0);
	CHECK_EQ(f.vme.u.inout.port, 0xe9);
	CHECK_EQ(f.vme.u.inout.bytes, 1);
	CHECK_EQ(f.vme.u.inout.in, 0);
	CHECK_EQ(f.vme.u.inout.eax, 0x41);
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, CODE + 4);
	CHECK_EQ(f.vme.inst_length, 1);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RIP), CODE + 5);
	vmf_fini(&f);
}

TEST(emu_in_completion)
{
	/* mov $-1,%rax; mov $0x60,%dx; in (%dx),%eax; in $0x61,%al; hlt */
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, 0x66, 0xba, 0x60, 0x00,
		0xed, 0xe4, 0x61, 0xf4
	};
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INOUT);
	CHECK_EQ(f.vme.u.inout.in, 1);
	CHECK_EQ(f.vme.u.inout.port, 0x60);
	CHECK_EQ(f.vme.u.inout.bytes, 4);
	f.vme.u.inout.eax = 0x12345678;
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	/* 32-bit IN zero-extends into RAX */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 0x12345678);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INOUT);
	CHECK_EQ(f.vme.u.inout.port, 0x61);
	CHECK_EQ(f.vme.u.inout.bytes, 1);
	f.vme.u.inout.eax = 0xab;
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	/* 8-bit IN merges into AL */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 0x123456ab);
	vmf_fini(&f);
}

TEST(emu_mmio_replay)
{
	/* mov 0x200010,%eax; movl $0x1234,0x200020; hlt */
	static const uint8_t prog[] = {
		0x8b, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00, 0xc7, 0x04, 0x25, 0x20, 0x00,
		0x20, 0x00, 0x34, 0x12, 0x00, 0x00, 0xf4
	};
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INST_EMUL);
	CHECK_EQ(f.vme.rip, CODE);
	CHECK_EQ(f.vme.inst_length, 0);
	CHECK_EQ(f.vme.u.mmio.gpa, 0xfee00010ULL);
	CHECK_EQ(f.vme.u.mmio.size, 4);
	CHECK_EQ(f.vme.u.mmio.write, 0);
	f.vme.u.mmio.data = 0xdeadbeef;
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 0xdeadbeef);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INST_EMUL);
	CHECK_EQ(f.vme.rip, CODE + 7);
	CHECK_EQ(f.vme.u.mmio.gpa, 0xfee00020ULL);
	CHECK_EQ(f.vme.u.mmio.write, 1);
	CHECK_EQ(f.vme.u.mmio.data, 0x1234);
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	vmf_fini(&f);
}

TEST(emu_rdmsr_completion)
{
	/* mov $0x1234,%ecx; rdmsr; hlt */
	static const uint8_t prog[] = { 0xb9, 0x34, 0x12, 0x00, 0x00, 0x0f, 0x32, 0xf4 };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_RDMSR);
	CHECK_EQ(f.vme.u.msr.code, 0x1234);
	CHECK_EQ(f.vme.inst_length, 0);
	f.vme.u.msr.wval = 0x1122334455667788ULL;
	CHECK_EQ(vmm_backend_emu.complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 0x55667788);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RDX), 0x11223344);
	vmf_fini(&f);
}

TEST(emu_gp_through_idt)
{
	/* movabs $0x8000000000000000,%rax; mov (%rax),%rbx; hlt */
	static const uint8_t prog[] = {
		0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x48, 0x8b,
		0x18, 0xf4
	};
	static const uint8_t handler[] = { 0xf4 };
	struct vmf f;
	uint64_t rsp;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, IDT_GP, HANDLER, 0xe);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	rsp = reg(&f, VM_REG_GUEST_RSP);
	CHECK_EQ(rsp, STACK - 48);
	CHECK_EQ(get64(f.ram + rsp), 0);		/* error code */
	CHECK_EQ(get64(f.ram + rsp + 8), CODE + 10);	/* faulting RIP */
	CHECK_EQ(get64(f.ram + rsp + 16), 0x8);		/* CS */
	CHECK_EQ(get64(f.ram + rsp + 24) & RFL_RF, RFL_RF);	/* fault: RF in the image */
	CHECK_EQ(get64(f.ram + rsp + 32), STACK);	/* RSP */
	CHECK_EQ(get64(f.ram + rsp + 40), 0x10);	/* SS */
	vmf_fini(&f);
}

TEST(emu_page_fault_through_idt)
{
	/* mov $0x300000,%rax... here: movq $7,(%rax) with rax = 0x40000000 (unmapped) */
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc0, 0x00, 0x00, 0x00, 0x40, 0x48, 0xc7, 0x00, 0x07, 0x00,
		0x00, 0x00, 0xf4
	};
	static const uint8_t handler[] = { 0xf4 };
	struct vmf f;
	uint64_t rsp;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, IDT_PF, HANDLER, 0xe);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	CHECK_EQ(reg(&f, VM_REG_GUEST_CR2), 0x40000000);
	rsp = reg(&f, VM_REG_GUEST_RSP);
	CHECK_EQ(get64(f.ram + rsp), 0x2);		/* not present, write, supervisor */
	CHECK_EQ(get64(f.ram + rsp + 8), CODE + 7);
	vmf_fini(&f);
}

TEST(emu_int_and_iretq)
{
	/* int $0x80; hlt  -- handler: iretq */
	static const uint8_t prog[] = { 0xcd, 0x80, 0xf4 };
	static const uint8_t handler[] = { 0x48, 0xcf };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, 0x80, HANDLER, 0xf);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, CODE + 2);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), STACK);
	vmf_fini(&f);
}

TEST(emu_triple_fault_without_idt)
{
	static const uint8_t prog[] = { 0x0f, 0x0b };	/* ud2 */
	struct vmf f;
	struct seg_desc d = { .base = 0, .limit = 0, .access = 0 };

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(vmm_backend_emu.set_desc(f.vcpu, VM_REG_GUEST_IDTR, &d), 0);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_SUSPENDED);
	CHECK_EQ(f.vme.u.suspended.how, VM_SUSPEND_TRIPLEFAULT);
	vmf_fini(&f);
}

TEST(emu_double_fault)
{
	/* #GP whose gate is not present (#NP) escalates to #DF */
	static const uint8_t prog[] = {
		0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x48, 0x8b,
		0x18, 0xf4
	};
	static const uint8_t handler[] = { 0xf4 };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, IDT_DF, HANDLER, 0xe);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	CHECK_EQ(get64(f.ram + reg(&f, VM_REG_GUEST_RSP)), 0);
	vmf_fini(&f);
}

/*
 * No decoded instruction is unimplemented any more (RDPMC was the last):
 * the exit op_unimpl builds, on a decoded instruction, carries its bytes
 * and RIP and retires nothing.
 */
TEST(emu_unimplemented_exit)
{
	static const uint8_t bytes[] = { 0x66, 0x0f, 0x33 };
	struct emu_cpu *cpu = calloc(1, sizeof(*cpu));
	struct vm_exit vme;
	struct emu_insn in;

	REQUIRE(cpu != NULL);
	REQUIRE(emu_decode(bytes, sizeof(bytes), EMU_MODE_LONG64, &in) == 0);
	cpu->exit = &vme;
	cpu->st.rip = CODE;
	CHECK_EQ(op_unimpl(cpu, &in), EMU_EXIT);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_INST_UNIMPL);
	CHECK_EQ(vme.rip, CODE);
	CHECK_EQ(vme.inst_length, 0);
	CHECK_EQ(vme.u.inst_unimpl.num_valid, 3);
	CHECK(memcmp(vme.u.inst_unimpl.inst_bytes, bytes, 3) == 0);
	free(cpu);
}

/* RDPMC: no counter exists, so #GP(0) at any CPL (SDM Vol. 2B RDPMC). */
TEST(emu_rdpmc_gp)
{
	static const uint8_t prog[] = { 0x0f, 0x33 };
	static const uint8_t handler[] = { 0xf4 };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, IDT_GP, HANDLER, 0xe);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	CHECK_EQ(get64(f.ram + reg(&f, VM_REG_GUEST_RSP)), 0);		/* error code */
	CHECK_EQ(get64(f.ram + reg(&f, VM_REG_GUEST_RSP) + 8), CODE);	/* faulting RIP */
	vmf_fini(&f);
}

TEST(emu_syscall_sysret)
{
	/* syscall -> handler: sysretq; back at CPL 3: hlt -> #GP -> gate hlt */
	static const uint8_t prog[] = { 0x0f, 0x05, 0xf4 };
	static const uint8_t sysh[] = { 0x48, 0x0f, 0x07 };
	static const uint8_t gph[] = { 0xf4 };
	struct vmf f;
	struct seg_desc d;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, 0x12000, sysh, sizeof(sysh));
	load(&f, HANDLER, gph, sizeof(gph));
	set_gate(&f, IDT_GP, HANDLER, 0xe);
	/* ring-3 selectors: STAR[63:48] = 0x18 -> SS 0x23, CS 0x2b */
	put64(f.ram + GDT + 0x18, 0);
	put64(f.ram + GDT + 0x20, 0);
	put64(f.ram + TSS + 4, 0x90000);		/* RSP0 */
	f.st.star = (0x18ULL << 48) | (0x8ULL << 32);
	f.st.lstar = 0x12000;
	f.st.sfmask = RFL_IF;
	REQUIRE(vmm_backend_emu.set_state(f.vcpu, &f.st) == 0);
	REQUIRE(vmm_backend_emu.set_reg(f.vcpu, VM_REG_GUEST_RFLAGS, 0x202) == 0);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RCX), CODE + 2);
	CHECK_EQ(reg(&f, VM_REG_GUEST_R11), 0x202);
	/* the #GP came from CPL 3: frame has CS 0x2b and the ring-0 stack was used */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), 0x90000 - 48);
	CHECK_EQ(get64(f.ram + 0x90000 - 48 + 8), CODE + 2);
	CHECK_EQ(get64(f.ram + 0x90000 - 48 + 16), 0x2b);
	CHECK_EQ(get64(f.ram + 0x90000 - 48 + 40), 0x23);
	vmm_backend_emu.get_desc(f.vcpu, VM_REG_GUEST_CS, &d);
	CHECK_EQ(reg(&f, VM_REG_GUEST_CS), 0x8);
	vmf_fini(&f);
}

/*
 * SYSRETQ to a non-canonical RCX (docs/cpu.md, "Vendor profiles"): Intel
 * raises #GP(0) in ring 0, on the kernel stack in use; AMD returns and the
 * fetch faults at CPL 3, so the #GP frame on the RSP0 stack holds the
 * non-canonical RIP and the user CS/SS.
 */
TEST(emu_sysret_noncanonical_per_vendor)
{
	static const uint8_t prog[] = { 0x48, 0x0f, 0x07 };	/* sysretq */
	static const uint8_t gph[] = { 0xf4 };
	const uint64_t bad = 0x0000800000000000ULL;
	struct vmf f;
	int vi;

	for (vi = 0; vi < 2; vi++) {
		bool amd = vi == 1;

		REQUIRE(vmf_init_vendor(&f, amd ? VMM_VENDOR_AMD : VMM_VENDOR_INTEL) == 0);
		load(&f, CODE, prog, sizeof(prog));
		load(&f, HANDLER, gph, sizeof(gph));
		set_gate(&f, IDT_GP, HANDLER, 0xe);
		put64(f.ram + TSS + 4, 0x90000);		/* RSP0 */
		/* STAR[63:48] = 0x1b: CS 0x2b, SS 0x23 */
		f.st.star = (0x1bULL << 48) | (0x8ULL << 32);
		f.st.gpr[GPR_RCX] = bad;
		f.st.gpr[GPR_R11] = 0x2;
		f.st.gpr[GPR_RSP] = 0x70000;		/* the user stack */
		REQUIRE(vmm_backend_emu.set_state(f.vcpu, &f.st) == 0);
		CHECK_EQ(run(&f, CODE), 0);
		CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
		CHECK_EQ(f.vme.rip, HANDLER);
		if (amd) {
			CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), 0x90000 - 48);
			CHECK_EQ(get64(f.ram + 0x90000 - 48), 0);		/* error code */
			CHECK_EQ(get64(f.ram + 0x90000 - 48 + 8), bad);
			CHECK_EQ(get64(f.ram + 0x90000 - 48 + 16), 0x2b);
			CHECK_EQ(get64(f.ram + 0x90000 - 48 + 32), 0x70000);
			CHECK_EQ(get64(f.ram + 0x90000 - 48 + 40), 0x23);
		} else {
			/* same privilege: no stack switch, the frame is on RSP */
			CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), 0x70000 - 48);
			CHECK_EQ(get64(f.ram + 0x70000 - 48 + 8), CODE);
			CHECK_EQ(get64(f.ram + 0x70000 - 48 + 16), 0x8);
		}
		vmf_fini(&f);
	}
}

TEST(emu_real_mode_ivt)
{
	/* mov $0x42,%al; out %al,$0x80; int $0x10; hlt -- handler: iret */
	static const uint8_t prog[] = { 0xb0, 0x42, 0xe6, 0x80, 0xcd, 0x10, 0xf4 };
	static const uint8_t handler[] = { 0xcf };
	const struct vmm_backend_ops *ops = &vmm_backend_emu;
	struct vmf f;
	struct seg_desc d = { .base = 0, .limit = 0xffff, .access = 0x9b };

	REQUIRE(vmf_init(&f) == 0);
	vm_cpu_state_reset(&f.st, 0);
	REQUIRE(ops->set_state(f.vcpu, &f.st) == 0);
	REQUIRE(ops->set_desc(f.vcpu, VM_REG_GUEST_CS, &d) == 0);
	REQUIRE(ops->set_reg(f.vcpu, VM_REG_GUEST_CS, 0) == 0);
	REQUIRE(ops->set_reg(f.vcpu, VM_REG_GUEST_RSP, 0x7000) == 0);
	load(&f, 0x7c00, prog, sizeof(prog));
	load(&f, 0x8000, handler, sizeof(handler));
	/* IVT[0x10] = 0800:0000 */
	f.ram[0x40] = 0x00;
	f.ram[0x41] = 0x00;
	f.ram[0x42] = 0x00;
	f.ram[0x43] = 0x08;
	CHECK_EQ(run(&f, 0x7c00), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_INOUT);
	CHECK_EQ(f.vme.u.inout.port, 0x80);
	CHECK_EQ(f.vme.u.inout.eax, 0x42);
	CHECK_EQ(ops->complete(f.vcpu, &f.vme), 0);
	CHECK_EQ(resume(&f), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, 0x7c06);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), 0x7000);
	CHECK_EQ(reg(&f, VM_REG_GUEST_CS), 0);
	vmf_fini(&f);
}

TEST(emu_kick_and_reset_state)
{
	static const uint8_t prog[] = { 0xeb, 0xfe };	/* jmp . */
	struct vmf f;
	struct vm_backend_stats stats;
	struct vm_cpu_state st;
	struct seg_desc d;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	vmm_backend_emu.kick(f.vcpu);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_BOGUS);
	CHECK_EQ(f.vme.rip, CODE);
	vmm_backend_emu.get_stats(f.vcpu, &stats);
	CHECK_EQ(stats.backend_entries, 1);
	/* the RESET state of SDM Vol. 3A table 9-1 */
	vm_cpu_state_reset(&st, 1);
	CHECK_EQ(st.rip, 0xfff0);
	CHECK_EQ(st.cr0, 0x60000010);
	CHECK_EQ(st.rflags, 0x2);
	CHECK_EQ(st.seg[SEG_CS].sel, 0xf000);
	CHECK_EQ(st.seg[SEG_CS].base, 0xffff0000ULL);
	CHECK_EQ(st.apic_base & 0x100, 0);
	CHECK(vm_cpu_state_get_desc(&st, VM_REG_GUEST_TR, &d) == 0 && d.access == 0x8b);
	CHECK(vm_cpu_state_get_desc(&st, VM_REG_GUEST_LDTR, &d) == 0 && d.access == 0x82);
	vmf_fini(&f);
}

TEST(emu_cpuid_and_cr_checks)
{
	/*
	 * xor %eax,%eax; cpuid; mov $0x100000,%eax (CR4 bit 20: SMEP, not
	 * advertised); mov %rax,%cr4 -> #GP
	 */
	static const uint8_t prog[] = {
		0x31, 0xc0, 0x0f, 0xa2, 0xb8, 0x00, 0x00, 0x10, 0x00, 0x0f, 0x22, 0xe0, 0xf4
	};
	static const uint8_t handler[] = { 0xf4 };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, IDT_GP, HANDLER, 0xe);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RBX), 0x756e6547);	/* "Genu" */
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, HANDLER);
	CHECK_EQ(get64(f.ram + reg(&f, VM_REG_GUEST_RSP) + 8), CODE + 9);
	vmf_fini(&f);
}

/* LOCKed RMW on operands no host atomic covers: page-crossing, misaligned. */
TEST(emu_lock_misaligned)
{
	static const uint8_t prog[] = {
		0xbb, 0xfe, 0x0f, 0x02, 0x00,			/* mov $0x20ffe,%ebx */
		0xf0, 0x81, 0x03, 0x01, 0x01, 0x01, 0x01,	/* lock addl $0x01010101,(%rbx) */
		0xb9, 0x01, 0x00, 0x03, 0x00,			/* mov $0x30001,%ecx */
		0xb8, 0x03, 0x00, 0x00, 0x00,			/* mov $3,%eax */
		0xf0, 0x48, 0x0f, 0xc1, 0x01,			/* lock xadd %rax,(%rcx) */
		0xf4,						/* hlt */
	};
	uint32_t v32 = 0x11223344;
	uint64_t v64 = 5;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	memcpy(f.ram + 0x20ffe, &v32, 4);
	memcpy(f.ram + 0x30001, &v64, 8);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	memcpy(&v32, f.ram + 0x20ffe, 4);
	memcpy(&v64, f.ram + 0x30001, 8);
	CHECK_EQ(v32, 0x12233445);
	CHECK_EQ(v64, 8);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);
	vmf_fini(&f);
}

struct lock_runner {
	void		*vcpu;
	struct vm_exit	vme;
};

static void *
lock_runner_main(void *arg)
{
	struct lock_runner *r = arg;

	vmm_backend_emu.run(r->vcpu, CODE, &r->vme);
	return NULL;
}

/* Two vCPUs increment one page-crossing counter: no increment is lost. */
TEST(emu_lock_misaligned_two_vcpus)
{
	static const uint8_t prog[] = {
		0xbb, 0xfe, 0x0f, 0x02, 0x00,		/* mov $0x20ffe,%ebx */
		0xb9, 0x40, 0x0d, 0x03, 0x00,		/* mov $200000,%ecx */
		0xf0, 0xff, 0x03,			/* 1: lock incl (%rbx) */
		0xff, 0xc9,				/* dec %ecx */
		0x75, 0xf9,				/* jnz 1b */
		0xf4,					/* hlt */
	};
	struct lock_runner r[2];
	pthread_t t[2];
	uint32_t v = 0;
	struct vmf f;
	int i;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	memcpy(f.ram + 0x20ffe, &v, 4);
	r[0].vcpu = f.vcpu;
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &r[1].vcpu) == 0);
	REQUIRE(vmm_backend_emu.set_state(r[1].vcpu, &f.st) == 0);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, lock_runner_main, &r[i]);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	memcpy(&v, f.ram + 0x20ffe, 4);
	CHECK_EQ(r[0].vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(r[1].vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(v, 400000);
	vmm_backend_emu.vcpu_cleanup(r[1].vcpu);
	vmf_fini(&f);
}

/*
 * Self-modifying code within a block: the store into the block's own page
 * ends the block and the loop re-decodes the patched instruction.  Then a
 * device (DMA) writes the byte back: after mem_written, the cached block
 * must not be used.
 */
TEST(emu_self_modifying_code)
{
	static const uint8_t prog[] = {
		0xb9, 0x02, 0x00, 0x00, 0x00,			/* mov $2,%ecx */
		0xb8, 0x01, 0x00, 0x00, 0x00,			/* L: mov $1,%eax */
		0xc6, 0x05, 0xf5, 0xff, 0xff, 0xff, 0x07,	/* movb $7,L+1(%rip) */
		0xff, 0xc9,					/* dec %ecx */
		0x75, 0xf0,					/* jnz L */
		0xf4,						/* hlt */
	};
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 7);
	/* DMA puts $1 back; one pass from L (ecx = 1) must execute it. */
	f.ram[CODE + 6] = 1;
	vmm_backend_emu.mem_written(f.vm, CODE + 6, 1);
	CHECK_EQ(vmm_backend_emu.set_reg(f.vcpu, VM_REG_GUEST_RCX, 1), 0);
	CHECK_EQ(run(&f, CODE + 5), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 1);
	vmf_fini(&f);
}

/*
 * Jcc inside a block (emu.c): the block goes on past a Jcc that falls
 * through and ends at one that is taken; JZ and the generic condition
 * (JL) both ways, with the count of instructions retired.
 */
TEST(emu_jcc_inside_block)
{
	static const uint8_t prog[] = {
		0x31, 0xc0,					/* xor %eax,%eax */
		0x31, 0xd2,					/* xor %edx,%edx */
		0xb9, 0x0a, 0x00, 0x00, 0x00,			/* mov $10,%ecx */
		0xf6, 0xc1, 0x01,				/* L: test $1,%cl */
		0x74, 0x02,					/* jz 1f */
		0xff, 0xc0,					/* inc %eax */
		0x83, 0xf9, 0x05,				/* 1: cmp $5,%ecx */
		0x7c, 0x02,					/* jl 2f */
		0x01, 0xca,					/* add %ecx,%edx */
		0xff, 0xc9,					/* 2: dec %ecx */
		0x75, 0xee,					/* jnz L */
		0xf4,						/* hlt */
	};
	struct vm_backend_stats st;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);		/* odd ECX: 9 7 5 3 1 */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RDX), 45);	/* 10 + 9 + ... + 5 */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RCX), 0);
	vmm_backend_emu.get_stats(f.vcpu, &st);
	/* 3 + 10 x 6 + 5 INCs + 6 ADDs + HLT */
	CHECK_EQ(st.insns_retired, 75);
	vmf_fini(&f);
}

/* A block that patches another block (another page) before jumping to it. */
TEST(emu_code_patched_across_blocks)
{
	static const uint8_t target[] = {
		0xb8, 0x05, 0x00, 0x00, 0x00,			/* T: mov $5,%eax */
		0xf4,						/* hlt */
	};
	static const uint8_t patcher[] = {
		/* movb $9,T+1 with T = CODE + 0x2000, RIP-relative from CODE + 7 */
		0xc6, 0x05, 0xfa, 0x1f, 0x00, 0x00, 0x09,
		0xe9, 0xf4, 0x1f, 0x00, 0x00,			/* jmp T */
	};
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE + 0x2000, target, sizeof(target));
	load(&f, CODE, patcher, sizeof(patcher));
	CHECK_EQ(run(&f, CODE + 0x2000), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);		/* T is now translated */
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 9);
	vmf_fini(&f);
}

/*
 * One physical page at two linear addresses: code written through one
 * mapping and executed through the other runs the new bytes (blocks are
 * keyed by physical address).
 */
TEST(emu_code_patched_through_alias)
{
	static const uint8_t target[] = {
		0xb8, 0x05, 0x00, 0x00, 0x00,			/* mov $5,%eax */
		0xf4,						/* hlt */
	};
	static const uint8_t patcher[] = {
		0xc6, 0x04, 0x25, 0x01, 0x20, 0x01, 0x00, 0x0b,	/* movb $11,CODE+0x2001 */
		0xf4,						/* hlt */
	};
	const uint64_t alias = 0x400000ULL;		/* PD entry 2 -> physical 0 */
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	put64(f.ram + PD + 2 * 8, 0x0ULL | 0x87);
	load(&f, CODE + 0x2000, target, sizeof(target));
	load(&f, CODE, patcher, sizeof(patcher));
	CHECK_EQ(run(&f, alias + CODE + 0x2000), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);
	CHECK_EQ(run(&f, CODE), 0);			/* writes through the identity map */
	CHECK_EQ(run(&f, alias + CODE + 0x2000), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 11);
	vmf_fini(&f);
}

/* Cross-modifying code: vCPU 1 patches what vCPU 0 has translated. */
TEST(emu_code_patched_by_other_vcpu)
{
	static const uint8_t target[] = {
		0xb8, 0x05, 0x00, 0x00, 0x00,			/* mov $5,%eax */
		0xf4,						/* hlt */
	};
	static const uint8_t patcher[] = {
		0xc6, 0x04, 0x25, 0x01, 0x20, 0x01, 0x00, 0x0d,	/* movb $13,CODE+0x2001 */
		0xf4,						/* hlt */
	};
	struct vm_exit vme;
	void *vcpu1;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE + 0x2000, target, sizeof(target));
	load(&f, CODE, patcher, sizeof(patcher));
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &vcpu1) == 0);
	REQUIRE(vmm_backend_emu.set_state(vcpu1, &f.st) == 0);
	CHECK_EQ(run(&f, CODE + 0x2000), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);
	CHECK_EQ(vmm_backend_emu.run(vcpu1, CODE, &vme), 0);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(run(&f, CODE + 0x2000), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 13);
	vmm_backend_emu.vcpu_cleanup(vcpu1);
	vmf_fini(&f);
}

/* A fake interrupt source: one vector pending until accepted. */
struct fake_intr {
	int	vector;		/* -1: nothing pending */
	int	accepted;
};

static int
fake_pending(void *arg)
{
	return ((struct fake_intr *)arg)->vector;
}

static void
fake_accept(void *arg, int vector)
{
	struct fake_intr *fi = arg;

	CHECK_EQ(vector, fi->vector);
	fi->vector = -1;
	fi->accepted++;
}

/*
 * External interrupts are taken only with IF set and after the STI shadow
 * (SDM Vol. 3A 6.8.3): "sti; mov $2,%eax; hlt" takes it after the MOV, and
 * the handler (interrupt gate: IF clear) sees EAX = 2.
 */
TEST(emu_external_interrupt_window)
{
	static const uint8_t cli_prog[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,		/* mov $1,%eax */
		0xf4,					/* hlt */
	};
	static const uint8_t sti_prog[] = {
		0xfb,					/* sti */
		0xb8, 0x02, 0x00, 0x00, 0x00,		/* mov $2,%eax */
		0xf4,					/* hlt */
	};
	static const uint8_t handler[] = {
		0x89, 0xc1,				/* mov %eax,%ecx */
		0xbb, 0x99, 0x00, 0x00, 0x00,		/* mov $0x99,%ebx */
		0x48, 0xcf,				/* iretq */
	};
	struct fake_intr fi = { .vector = 0x40 };
	struct vmm_intr_source src = { .pending = fake_pending, .accept = fake_accept,
	    .arg = &fi };
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, cli_prog, sizeof(cli_prog));
	load(&f, CODE + 0x100, sti_prog, sizeof(sti_prog));
	load(&f, HANDLER, handler, sizeof(handler));
	set_gate(&f, 0x40, HANDLER, 0xe);
	REQUIRE(vmm_backend_emu.set_intr_source(f.vcpu, &src) == 0);

	/* IF clear: the interrupt waits. */
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(fi.accepted, 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RBX), 0);

	/* STI, one more instruction, then the interrupt; IRETQ back to HLT. */
	CHECK_EQ(run(&f, CODE + 0x100), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(f.vme.rip, CODE + 0x106);
	CHECK_EQ(fi.accepted, 1);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RBX), 0x99);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RCX), 2);
	CHECK(reg(&f, VM_REG_GUEST_RFLAGS) & RFL_IF);	/* IRETQ restored it */
	CHECK_EQ(reg(&f, VM_REG_GUEST_RSP), STACK);

	/* Detached: nothing is asked. */
	fi.vector = 0x41;
	REQUIRE(vmm_backend_emu.set_intr_source(f.vcpu, NULL) == 0);
	CHECK_EQ(run(&f, CODE + 0x106), 0);
	CHECK_EQ(fi.accepted, 1);

	/* With a hint, the source is asked only while the hint is set. */
	atomic_int hint = 0;
	src.hint = &hint;
	REQUIRE(vmm_backend_emu.set_intr_source(f.vcpu, &src) == 0);
	CHECK_EQ(run(&f, CODE + 0x106), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(fi.accepted, 1);
	atomic_store(&hint, 1);
	CHECK_EQ(run(&f, CODE + 0x106), 0);
	CHECK_EQ(fi.accepted, 2);
	vmf_fini(&f);
}

/* ---- the VM-wide block table (emu.c, "Translation blocks") ---- */

/* Two vCPUs running the same code use the blocks the first one decoded. */
TEST(emu_blocks_shared_by_vcpus)
{
	static const uint8_t prog[] = {
		0x31, 0xc0,					/* xor %eax,%eax */
		0xb9, 0x64, 0x00, 0x00, 0x00,			/* mov $100,%ecx */
		0x01, 0xc8,					/* L: add %ecx,%eax */
		0xff, 0xc9,					/* dec %ecx */
		0x75, 0xfa,					/* jnz L */
		0xf4,						/* hlt */
	};
	struct emu_tb_stats st0, st1;
	struct vm_exit vme;
	uint64_t v = 0;
	void *vcpu1;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &vcpu1) == 0);
	REQUIRE(vmm_backend_emu.set_state(vcpu1, &f.st) == 0);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5050);
	emu_tb_get_stats(f.vm, &st0);
	CHECK(st0.decoded >= 2);
	CHECK_EQ(vmm_backend_emu.run(vcpu1, CODE, &vme), 0);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_HLT);
	vmm_backend_emu.get_reg(vcpu1, VM_REG_GUEST_RAX, &v);
	CHECK_EQ(v, 5050);
	emu_tb_get_stats(f.vm, &st1);
	CHECK_EQ(st1.decoded, st0.decoded);		/* nothing decoded twice */
	CHECK_EQ(st1.live, st0.live);
	vmm_backend_emu.vcpu_cleanup(vcpu1);
	vmf_fini(&f);
}

/*
 * Reclamation: a block retired while a vCPU runs it is freed only after
 * that vCPU passes a quiescent point.  The vCPU is inside its block while
 * MOV CR8 calls the interrupt source's set_tpr; there the test retires
 * every block (emu_tb_flush).  Another vCPU, outside run(), holds nothing
 * up.  Under ASan, freeing too early is also a use after free.
 */
struct tpr_probe {
	void			*vm;
	int			calls;
	struct emu_tb_stats	st[2];
};

static void
tpr_probe_set(void *arg, uint8_t tpr)
{
	struct tpr_probe *p = arg;

	if (p->calls == 0)
		emu_tb_flush(p->vm);
	if (p->calls < 2)
		emu_tb_get_stats(p->vm, &p->st[p->calls]);
	p->calls++;
}

static uint8_t
tpr_probe_get(void *arg)
{
	return 0;
}

static int
tpr_probe_pending(void *arg)
{
	return -1;
}

static void
tpr_probe_accept(void *arg, int vector)
{
}

TEST(emu_block_freed_after_quiescent_point)
{
	static const uint8_t other[] = {
		0xb8, 0x07, 0x00, 0x00, 0x00,			/* mov $7,%eax */
		0xf4,						/* hlt */
	};
	static const uint8_t prog[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,			/* mov $1,%eax */
		0x44, 0x0f, 0x22, 0xc0,				/* mov %rax,%cr8: call 1 */
		0xbb, 0x02, 0x00, 0x00, 0x00,			/* mov $2,%ebx */
		0x44, 0x0f, 0x22, 0xc0,				/* mov %rax,%cr8: call 2 */
		0xf4,						/* hlt */
	};
	atomic_int no_hint = 0;
	struct tpr_probe probe = { 0 };
	struct vmm_intr_source src = { .pending = tpr_probe_pending, .accept = tpr_probe_accept,
	    .arg = &probe, .hint = &no_hint, .get_tpr = tpr_probe_get,
	    .set_tpr = tpr_probe_set };
	struct vm_exit vme;
	void *vcpu1;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	probe.vm = f.vm;
	load(&f, CODE, prog, sizeof(prog));
	load(&f, CODE + 0x1000, other, sizeof(other));
	/* vCPU 1 has run (and holds blocks in its jump cache), then left run(). */
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &vcpu1) == 0);
	REQUIRE(vmm_backend_emu.set_state(vcpu1, &f.st) == 0);
	CHECK_EQ(vmm_backend_emu.run(vcpu1, CODE + 0x1000, &vme), 0);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_HLT);
	REQUIRE(vmm_backend_emu.set_intr_source(f.vcpu, &src) == 0);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(probe.calls, 2);
	/* Inside the block: retired, waiting for us, nothing freed. */
	CHECK_EQ(probe.st[0].live, 0);
	CHECK_EQ(probe.st[0].retired, 2);
	CHECK_EQ(probe.st[0].waiting, 2);
	CHECK_EQ(probe.st[0].freed, 0);
	/* One block later the vCPU has passed a quiescent point: freed. */
	CHECK_EQ(probe.st[1].waiting, 0);
	CHECK_EQ(probe.st[1].freed, 2);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RBX), 2);
	vmm_backend_emu.vcpu_cleanup(vcpu1);
	vmf_fini(&f);
}

/*
 * The jump cache does not outlive a grace period: blocks freed while the
 * vCPU was outside run() are decoded again, not taken from its cache
 * (under ASan, a use after free otherwise).
 */
TEST(emu_jump_cache_dropped_after_grace_period)
{
	static const uint8_t prog[] = {
		0xb8, 0x05, 0x00, 0x00, 0x00,			/* mov $5,%eax */
		0xf4,						/* hlt */
	};
	struct emu_tb_stats st0, st1;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(run(&f, CODE), 0);			/* from the jump cache */
	emu_tb_get_stats(f.vm, &st0);
	CHECK_EQ(st0.decoded, 1);
	emu_tb_flush(f.vm);
	emu_tb_get_stats(f.vm, &st0);
	CHECK_EQ(st0.freed, 1);				/* nobody in run() */
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 5);
	emu_tb_get_stats(f.vm, &st1);
	CHECK_EQ(st1.decoded, 2);
	vmf_fini(&f);
}

/*
 * Direct chaining: the loop's two blocks enter each other through their
 * links, not the lookup.
 */
TEST(emu_blocks_chained)
{
	static const uint8_t prog[] = {
		0xb9, 0xe8, 0x03, 0x00, 0x00,			/* mov $1000,%ecx */
		0xff, 0xc9,					/* L: dec %ecx */
		0xeb, 0x00,					/* jmp M */
		0x85, 0xc9,					/* M: test %ecx,%ecx */
		0x75, 0xf8,					/* jnz L */
		0xf4,						/* hlt */
	};
	struct emu_tb_stats st;
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RCX), 0);
	emu_tb_get_stats(f.vm, &st);
	CHECK(st.links >= 2);
	CHECK(emu_tb_chained(f.vcpu) >= 1990);
	vmf_fini(&f);
}

/*
 * A link to a block whose page was written since is not followed: the
 * loop patches the immediate of the block it jumps to, whose block the
 * jump's block is linked to, so each pass must add the new immediate.
 */
TEST(emu_chain_to_patched_block)
{
	uint8_t prog[32], target[16];
	const uint64_t l = CODE + 7, t = CODE + 0x2000;
	struct vmf f;
	int32_t rel;
	size_t n = 0;

	prog[n++] = 0x31; prog[n++] = 0xc0;		/* xor %eax,%eax */
	prog[n++] = 0xb9; prog[n++] = 3; prog[n++] = 0; prog[n++] = 0; prog[n++] = 0;
	/* L: mov %ecx,T+1(%rip) */
	prog[n++] = 0x89; prog[n++] = 0x0d;
	rel = (int32_t)(t + 1 - (l + 6));
	memcpy(prog + n, &rel, 4);
	n += 4;
	/* jmp T */
	prog[n++] = 0xe9;
	rel = (int32_t)(t - (l + 11));
	memcpy(prog + n, &rel, 4);
	n += 4;
	n = 0;
	target[n++] = 0x05; target[n++] = 0; target[n++] = 0; target[n++] = 0;
	target[n++] = 0;				/* T: add $imm32,%eax */
	target[n++] = 0xff; target[n++] = 0xc9;		/* dec %ecx */
	target[n++] = 0x0f; target[n++] = 0x85;		/* jnz L */
	rel = (int32_t)(l - (t + 13));
	memcpy(target + n, &rel, 4);
	n += 4;
	target[n++] = 0xf4;				/* hlt */

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, 18);
	load(&f, t, target, n);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 3 + 2 + 1);
	vmf_fini(&f);
}

/*
 * A link across a page boundary is followed only if the ITLB maps the
 * next RIP to the linked block's page now: after the guest remaps the
 * target's linear page, the jump runs the code now mapped there.
 */
TEST(emu_chain_across_page_rechecks_tlb)
{
	static const uint8_t one[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 };
	static const uint8_t two[] = { 0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4 };
	const uint64_t la = 0x630000ULL;		/* PD entry 3 */
	struct emu_tb_stats st0;
	uint64_t chained;
	uint8_t jmp[5] = { 0xe9 };
	int32_t rel = (int32_t)(la - (CODE + 5));
	struct vmf f;

	REQUIRE(vmf_init(&f) == 0);
	memcpy(jmp + 1, &rel, 4);
	load(&f, CODE, jmp, sizeof(jmp));
	load(&f, 0x230000, one, sizeof(one));
	load(&f, 0x030000, two, sizeof(two));
	put64(f.ram + PD + 3 * 8, 0x200000ULL | 0x87);
	REQUIRE(vmm_backend_emu.set_reg(f.vcpu, VM_REG_GUEST_CR3, PML4) == 0);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 1);
	emu_tb_get_stats(f.vm, &st0);
	CHECK_EQ(st0.links, 1);
	/* Remap (a CR3 write flushes the TLB), then fetch there once. */
	put64(f.ram + PD + 3 * 8, 0x0ULL | 0x87);
	REQUIRE(vmm_backend_emu.set_reg(f.vcpu, VM_REG_GUEST_CR3, PML4) == 0);
	CHECK_EQ(run(&f, la), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 2);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 2);
	/* Now linked to the new target too, and that link is followed. */
	chained = emu_tb_chained(f.vcpu);
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 2);
	CHECK_EQ(emu_tb_chained(f.vcpu), chained + 1);
	vmf_fini(&f);
}

/*
 * Two vCPUs on one code page.  vCPU 0 rewrites an instruction of the page
 * every pass and then waits for vCPU 1 to count once more, so vCPU 1 runs
 * between any two rewrites and must decode its loop again each time (its
 * block, linked to itself, is stale); both keep decoding, replacing,
 * retiring and chaining blocks while the other may be inside them (a
 * stress for the reclamation, under ASan in particular).
 */
#define STRESS_N	2000

struct stress_runner {
	void		*vcpu;
	uint64_t	rip;
	struct vm_exit	vme;
};

static void *
stress_main(void *arg)
{
	struct stress_runner *r = arg;

	vmm_backend_emu.run(r->vcpu, r->rip, &r->vme);
	return NULL;
}

TEST(emu_blocks_retired_under_two_vcpus)
{
	const uint64_t l = CODE + 5, t = CODE + 0x3000, b = CODE + 0x3100;
	static const uint8_t counter[] = {
		0xf0, 0xff, 0x04, 0x25, 0x04, 0x00, 0x02, 0x00,	/* L: lock incl 0x20004 */
		0x80, 0x3c, 0x25, 0x00, 0x00, 0x02, 0x00, 0x00,	/* cmpb $0,0x20000 */
		0x74, 0xee,					/* je L */
		0xf4,						/* hlt */
	};
	uint8_t prog[32], target[24];
	struct stress_runner r[2];
	struct emu_tb_stats st;
	pthread_t th[2];
	uint64_t v = 0;
	struct vmf f;
	int32_t rel;
	int i;

	prog[0] = 0xb9;					/* mov $STRESS_N,%ecx */
	v = STRESS_N;
	memcpy(prog + 1, &v, 4);
	prog[5] = 0x89; prog[6] = 0x0d;			/* L: mov %ecx,T+1(%rip) */
	rel = (int32_t)(t + 1 - (l + 6));
	memcpy(prog + 7, &rel, 4);
	/* mov 0x20004,%edx; W: cmp 0x20004,%edx; je W */
	memcpy(prog + 11, "\x8b\x14\x25\x04\x00\x02\x00\x3b\x14\x25\x04\x00\x02\x00"
	    "\x74\xf7", 16);
	prog[27] = 0xe9;				/* jmp T */
	rel = (int32_t)(t - (l + 27));
	memcpy(prog + 28, &rel, 4);
	target[0] = 0x05;				/* T: add $0,%eax */
	memset(target + 1, 0, 4);
	target[5] = 0xff; target[6] = 0xc9;		/* dec %ecx */
	target[7] = 0x0f; target[8] = 0x85;		/* jnz L */
	rel = (int32_t)(l - (t + 13));
	memcpy(target + 9, &rel, 4);
	/* movb $1,0x20000 (vCPU 1 may stop); hlt */
	memcpy(target + 13, "\xc6\x04\x25\x00\x00\x02\x00\x01\xf4", 9);

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, t, target, 22);
	load(&f, b, counter, sizeof(counter));
	r[0].vcpu = f.vcpu;
	r[0].rip = CODE;
	r[1].rip = b;
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &r[1].vcpu) == 0);
	REQUIRE(vmm_backend_emu.set_state(r[1].vcpu, &f.st) == 0);
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, stress_main, &r[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(r[0].vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(r[1].vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), (uint64_t)STRESS_N * (STRESS_N + 1) / 2);
	emu_tb_get_stats(f.vm, &st);
	/* Each pass: vCPU 0's target and vCPU 1's loop, decoded again. */
	CHECK(st.decoded >= 2 * STRESS_N - 2);
	CHECK_EQ(st.retired + st.live, st.decoded);
	CHECK(emu_tb_chained(r[1].vcpu) >= STRESS_N);
	vmm_backend_emu.vcpu_cleanup(r[1].vcpu);
	vmf_fini(&f);
}

/*
 * A vCPU that loops in one block linked to itself, never looking a block
 * up, still passes quiescent points when a grace period begins (the
 * EMU_KICK_QS bit), so the blocks another vCPU retires meanwhile are freed
 * while it loops.
 */
static int
wait_for(const struct vmf *f, uint64_t gpa, uint32_t above)
{
	for (int i = 0; i < 10000; i++) {	/* 10 s: a loaded host is slow */
		if (__atomic_load_n((const uint32_t *)(f->ram + gpa), __ATOMIC_RELAXED) > above)
			return 0;
		usleep(1000);
	}
	return -1;
}

TEST(emu_looping_vcpu_passes_quiescent_points)
{
	static const uint8_t looper[] = {
		0xf0, 0xff, 0x04, 0x25, 0x04, 0x00, 0x02, 0x00,	/* L: lock incl 0x20004 */
		0x80, 0x3c, 0x25, 0x00, 0x00, 0x02, 0x00, 0x00,	/* cmpb $0,0x20000 */
		0x74, 0xee,					/* je L */
		0xf4,						/* hlt */
	};
	const uint64_t l = CODE + 5, t = CODE + 0x2000;
	uint8_t prog[16], target[16];
	struct stress_runner r;
	struct emu_tb_stats st;
	pthread_t th;
	struct vmf f;
	int32_t rel;
	int i;

	/* mov $200,%ecx; L: mov %ecx,T+1(%rip); jmp T */
	memcpy(prog, "\xb9\xc8\x00\x00\x00\x89\x0d", 7);
	rel = (int32_t)(t + 1 - (l + 6));
	memcpy(prog + 7, &rel, 4);
	prog[11] = 0xe9;
	rel = (int32_t)(t - (l + 11));
	memcpy(prog + 12, &rel, 4);
	/* T: add $imm32,%eax; dec %ecx; jnz L; hlt */
	memcpy(target, "\x05\x00\x00\x00\x00\xff\xc9\x0f\x85", 9);
	rel = (int32_t)(l - (t + 13));
	memcpy(target + 9, &rel, 4);
	target[13] = 0xf4;

	REQUIRE(vmf_init(&f) == 0);
	load(&f, CODE, prog, sizeof(prog));
	load(&f, t, target, 14);
	load(&f, CODE + 0x3000, looper, sizeof(looper));
	r.rip = CODE + 0x3000;
	REQUIRE(vmm_backend_emu.vcpu_init(f.vm, NULL, 1, &r.vcpu) == 0);
	REQUIRE(vmm_backend_emu.set_state(r.vcpu, &f.st) == 0);
	pthread_create(&th, NULL, stress_main, &r);
	CHECK_EQ(wait_for(&f, 0x20004, 1000), 0);	/* looping, chained */
	/* 200 passes, each retiring T's block: a grace period begins. */
	CHECK_EQ(run(&f, CODE), 0);
	CHECK_EQ(f.vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(reg(&f, VM_REG_GUEST_RAX), 200 * 201 / 2);
	for (i = 0; i < 10000; i++) {
		emu_tb_get_stats(f.vm, &st);
		if (st.retired >= 128 && st.waiting == 0)
			break;
		usleep(1000);
	}
	CHECK(st.retired >= 128);
	CHECK_EQ(st.waiting, 0);
	CHECK(st.freed >= 128);
	__atomic_store_n(f.ram + 0x20000, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	CHECK_EQ(r.vme.exitcode, VM_EXITCODE_HLT);
	vmm_backend_emu.vcpu_cleanup(r.vcpu);
	vmf_fini(&f);
}
