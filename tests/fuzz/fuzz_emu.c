/*
 * fuzz_emu.c - libFuzzer target: the software CPU runs hostile code.
 *
 * The input becomes a program at 0x10000 (and the data it finds around it)
 * in 4 MiB of guest RAM: 64-bit with identity paging, or (first byte odd)
 * 32-bit protected mode without paging; the IDT, the upper GDT entries
 * (call gates, task gates, TSSs: gate.c, task.c) and the current TSS are
 * the fuzzer's choosing.  Whatever it does (rewrite its page tables,
 * point descriptors anywhere, fault recursively, touch MMIO), the host must
 * not crash, read or write outside guest RAM, or hang: a kicker thread
 * ends every run within a millisecond.  CR4.OSFXSR and OSXMMEXCPT are set
 * (second byte odd: clear), so x87, MMX and SSE code runs on the host's
 * units: after every run the host's FP environment (FCW, FSW, tags, MXCSR
 * controls) must be as before.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "vmm_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	(4ULL << 20)
#define PML4		0x1000ULL
#define PDPT		0x2000ULL
#define PD		0x3000ULL
#define GDT		0x4000ULL
#define IDT		0x5000ULL
#define TSS		0x6000ULL
#define CODE		0x10000ULL

static const struct vmm_backend_ops *ops = &vmm_backend_emu;
static void *vm, *vcpu;
static uint8_t *ram;
static struct vmm_memmap map;

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void *
kicker(void *arg)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (;;) {
		nanosleep(&ts, NULL);
		ops->kick(vcpu);
	}
	return NULL;
}

/* The host's FP environment: FCW, FSW, abridged FTW, MXCSR without its flags. */
static void
host_fpenv(uint8_t env[8])
{
	uint8_t img[512] __attribute__((aligned(16)));
	uint32_t mx;

	__asm__ volatile("fxsave64 %0" : "=m" (img));
	memcpy(env, img, 5);
	memcpy(&mx, img + 24, 4);
	mx &= ~0x3fu;
	env[5] = 0;
	memcpy(env + 6, &mx, 2);
}

static void
setup_once(void)
{
	pthread_t t;

	ram = aligned_alloc(4096, RAM_SIZE);
	map.nsegs = 1;
	map.seg[0].len = RAM_SIZE;
	map.seg[0].hva = ram;
	struct vmm_cpu_profile prof;

	vmm_cpu_profile_default(&prof);
	if (ram == NULL || ops->vm_init(NULL, &prof, &vm) != 0 || ops->vm_memmap(vm, &map) != 0 ||
	    ops->vcpu_init(vm, NULL, 0, &vcpu) != 0)
		abort();
	pthread_create(&t, NULL, kicker, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct vm_cpu_state st;
	struct vm_exit vme;
	int i, n, prot32, rc;

	if (!ready) {
		setup_once();
		ready = 1;
	}
	memset(ram, 0, 0x20000);
	put64(ram + PML4, PDPT | 0x7);
	put64(ram + PDPT, PD | 0x7);
	for (i = 0; i < 512; i++)
		put64(ram + PD + i * 8, ((uint64_t)i << 21) | 0x87);
	put64(ram + GDT + 0x8, 0x00af9b000000ffffULL);
	put64(ram + GDT + 0x10, 0x00cf93000000ffffULL);
	put64(ram + GDT + 0x18, 0x00008b0000000067ULL | TSS << 16);	/* busy TSS */
	put64(ram + GDT + 0x28, 0x00cf9b000000ffffULL);		/* 32-bit code */
	/* The input: the first 256 bytes also land in the IDT, bytes 256-335
	   in GDT entries 30H-7FH, the first 104 in the TSS; the rest is code. */
	memcpy(ram + IDT, data, size < 256 ? size : 256);
	if (size > 256)
		memcpy(ram + GDT + 0x30, data + 256, size - 256 < 80 ? size - 256 : 80);
	memcpy(ram + TSS, data, size < 0x68 ? size : 0x68);
	memcpy(ram + CODE, data, size < 0x8000 ? size : 0x8000);
	prot32 = size > 0 && (data[0] & 1);

	vm_cpu_state_reset(&st, 0);
	st.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE | CR0_WP;
	st.cr4 = CR4_PAE;
	if (size < 2 || !(data[1] & 1))
		st.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	st.cr3 = PML4;
	st.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
	st.rflags = 0x2;
	st.seg[SEG_CS] = (struct vm_seg){ .sel = 0x8, .limit = 0xffffffff, .access = 0xa09b };
	for (i = 0; i < SEG_COUNT; i++) {
		if (i == SEG_CS || i == SEG_LDTR || i == SEG_TR)
			continue;
		st.seg[i] = (struct vm_seg){ .sel = 0x10, .limit = 0xffffffff, .access = 0xc093 };
	}
	st.seg[SEG_TR] = (struct vm_seg){ .sel = 0x18, .base = TSS, .limit = 0x67, .access = 0x8b };
	st.seg[SEG_LDTR].access = DESC_UNUSABLE;
	st.gdtr.base = GDT;
	st.gdtr.limit = 0x7f;
	if (prot32) {
		st.cr0 = CR0_PE | CR0_ET;
		st.cr4 &= CR4_OSFXSR | CR4_OSXMMEXCPT;
		st.efer = 0;
		st.seg[SEG_CS] = (struct vm_seg){ .sel = 0x28, .limit = 0xffffffff, .access = 0xc09b };
	}
	st.idtr.base = IDT;
	st.idtr.limit = prot32 ? 0x7ff : 0xfff;
	st.gpr[GPR_RSP] = 0x80000;
	for (i = 0; i < 8 && (size_t)(i * 8 + 8) <= size; i++)
		memcpy(&st.gpr[8 + i], data + i * 8, 8);	/* r8-r15 from the input */
	st.rip = CODE;
	if (ops->set_state(vcpu, &st) != 0)
		abort();

	for (n = 0; n < 64; n++) {
		uint8_t env0[8], env1[8];

		memset(&vme, 0, sizeof(vme));
		host_fpenv(env0);
		rc = ops->run(vcpu, st.rip, &vme);
		host_fpenv(env1);
		if (memcmp(env0, env1, sizeof(env0)) != 0)
			abort();	/* guest FP state leaked into the host */
		if (rc != 0)
			break;
		switch (vme.exitcode) {
		case VM_EXITCODE_INOUT:
		case VM_EXITCODE_INST_EMUL:
		case VM_EXITCODE_RDMSR:
		case VM_EXITCODE_WRMSR:
			vme.u.inout.eax = 0xffffffff;
			vme.u.mmio.data = 0x5555aaaa5555aaaaULL;
			ops->complete(vcpu, &vme);
			st.rip = vme.rip + (uint64_t)vme.inst_length;
			continue;
		default:
			break;
		}
		break;
	}
	return 0;
}
