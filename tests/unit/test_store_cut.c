/*
 * test_store_cut.c - a save while two vCPUs run is one consistent cut
 * (docs/store.md, "Writing"): vmm_save pauses every vCPU, reads them, runs
 * the device hooks, and only then lets them go.
 *
 * Each vCPU of a 32-bit guest loops "inc ecx; mov [OWN + 4 * id], ecx".
 * A device hook copies both words of guest memory into its section.  In
 * one cut, each vCPU's word is its ECX or ECX - 1 (stopped between the two
 * instructions); a vCPU that ran on between the read of its registers and
 * the hook would leave its word far ahead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "vmm_store.h"
#include "vmmapi.h"

#define CODE	0x1000		/* vCPU i's loop at CODE + 0x100 * i */
#define GDT	0x2000
#define OWN	0x5000

struct cut_vcpu {
	struct vmctx	*ctx;
	struct vcpu	*vcpu;
	pthread_t	thread;
	atomic_int	bad;
};

static void *
cut_vcpu_main(void *arg)
{
	struct cut_vcpu *c = arg;
	struct vm_exit vme;
	struct vm_run run = { .vm_exit = &vme };

	memset(&vme, 0, sizeof(vme));
	for (;;) {
		if (vm_run(c->vcpu, &run) != 0) {
			atomic_store(&c->bad, 1000);
			return NULL;
		}
		if (vme.exitcode == VM_EXITCODE_SUSPENDED)
			return NULL;
		if (vme.exitcode == VM_EXITCODE_BOGUS)
			continue;
		atomic_store(&c->bad, (int)vme.exitcode + 1);
		vm_suspend(c->ctx, VM_SUSPEND_POWEROFF);
	}
}

/* The hook: both counters as the guest's memory holds them at the cut. */
static ssize_t
cut_hook_save(void *arg, uint8_t *buf, size_t cap)
{
	if (cap >= 8)
		memcpy(buf, (uint8_t *)arg + OWN, 8);
	return 8;
}

static void
flat32(struct vcpu *v, uint64_t rip)
{
	REQUIRE(vm_set_register(v, VM_REG_GUEST_CR0, 0x11) == 0);
	REQUIRE(vm_set_desc(v, VM_REG_GUEST_CS, 0, 0xffffffff, 0xc09b) == 0);
	REQUIRE(vm_set_register(v, VM_REG_GUEST_CS, 0x08) == 0);
	for (int r = VM_REG_GUEST_ES; r <= VM_REG_GUEST_GS; r++) {
		if (r == VM_REG_GUEST_CS)
			continue;
		REQUIRE(vm_set_desc(v, r, 0, 0xffffffff, 0xc093) == 0);
		REQUIRE(vm_set_register(v, r, 0x10) == 0);
	}
	REQUIRE(vm_set_desc(v, VM_REG_GUEST_GDTR, GDT, 23, 0) == 0);
	REQUIRE(vm_set_register(v, VM_REG_GUEST_RFLAGS, 2) == 0);
	REQUIRE(vm_set_register(v, VM_REG_GUEST_RCX, 0) == 0);
	REQUIRE(vm_set_register(v, VM_REG_GUEST_RIP, rip) == 0);
}

TEST(save_while_two_vcpus_run_is_one_cut)
{
	static char dir[64];
	struct vmm_image *img = calloc(1, sizeof(*img));
	struct cut_vcpu c[2];
	struct vmctx *ctx;
	uint8_t *mem;
	int i, k, cuts = 0;

	REQUIRE(img != NULL);
	snprintf(dir, sizeof(dir), "/tmp/lhyve-cut-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	setenv("VMM_DIR", dir, 1);
	unsetenv("VMM_MEM_DIR");

	/* Loaded as bhyveload would: memory, code, both vCPUs' registers. */
	REQUIRE(vm_create("cut") == 0);
	ctx = vm_openf("cut", 0);
	REQUIRE(ctx != NULL);
	REQUIRE(vm_setup_memory(ctx, 1 << 20, VM_MMAP_ALL) == 0);
	REQUIRE(vm_set_ncpus(ctx, 2) == 0);
	mem = vm_map_gpa(ctx, 0, 1 << 20);
	REQUIRE(mem != NULL);
	((uint64_t *)(mem + GDT))[1] = 0x00cf9a000000ffffull;
	((uint64_t *)(mem + GDT))[2] = 0x00cf92000000ffffull;
	for (i = 0; i < 2; i++) {
		uint8_t *p = mem + CODE + 0x100 * i;
		uint32_t own = OWN + 4 * (uint32_t)i;

		*p++ = 0x41;				/* 1: inc %ecx */
		*p++ = 0x89; *p++ = 0x0d;		/* mov %ecx, own */
		memcpy(p, &own, 4);
		p += 4;
		*p++ = 0xeb; *p++ = 0xf7;		/* jmp 1b */
		struct vcpu *v = vm_vcpu_open(ctx, i);
		REQUIRE(v != NULL);
		flat32(v, CODE + 0x100 * (uint64_t)i);
		vm_vcpu_close(v);
	}
	vm_close(ctx);
	/* vCPU 1 runs from its loop, as an AP past INIT-SIPI would. */
	REQUIRE(vmm_store_load("cut", img) == 0);
	img->cpu[1].halted = 0;
	REQUIRE(vmm_store_save("cut", img) == 0);
	vmm_image_fini(img);

	ctx = vm_openf("cut", VMMAPI_OPEN_RUN);
	REQUIRE(ctx != NULL);
	REQUIRE(vm_attach_backend(ctx, "emu") == 0);
	mem = vm_map_gpa(ctx, 0, 1 << 20);
	REQUIRE(mem != NULL);
	REQUIRE(vm_snapshot_register(ctx, "cut", cut_hook_save, NULL, mem) == 0);
	for (i = 0; i < 2; i++) {
		c[i] = (struct cut_vcpu){ .ctx = ctx, .vcpu = vm_vcpu_open(ctx, i) };
		REQUIRE(c[i].vcpu != NULL);
		REQUIRE(pthread_create(&c[i].thread, NULL, cut_vcpu_main, &c[i]) == 0);
	}
	for (k = 0; k < 5000; k++) {
		uint32_t a = __atomic_load_n((uint32_t *)(mem + OWN), __ATOMIC_SEQ_CST);
		uint32_t b = __atomic_load_n((uint32_t *)(mem + OWN + 4), __ATOMIC_SEQ_CST);
		if (a > 10000 && b > 10000)
			break;
		usleep(1000);
	}
	/* Saves while both run: each one a cut. */
	for (k = 0; k < 20; k++) {
		const struct vmm_section *s;
		uint32_t own[2];

		usleep(5000);
		CHECK_EQ(vm_save_state(ctx), 0);
		REQUIRE(vmm_store_load("cut", img) == 0);
		s = vmm_image_section(img, VMM_SEC_DEVICE, VMM_SEC_VM_LEVEL, "cut");
		REQUIRE(s != NULL && s->len == 8);
		memcpy(own, s->data, 8);
		for (i = 0; i < 2; i++) {
			uint32_t ecx = (uint32_t)img->cpu[i].gpr[GPR_RCX];

			if (own[i] != ecx && own[i] != ecx - 1) {
				fprintf(stderr, "save %d: vCPU %d: ECX %u but its word %u\n", k,
				    i, ecx, own[i]);
				test_failed_ = 1;
			}
			cuts += own[i] > 0;
		}
		CHECK_EQ(img->run.running, 1);
		vmm_image_fini(img);
	}
	CHECK_EQ(cuts, 40);	/* both vCPUs had run at every save */
	vm_suspend(ctx, VM_SUSPEND_POWEROFF);
	for (i = 0; i < 2; i++) {
		pthread_join(c[i].thread, NULL);
		CHECK_EQ(atomic_load(&c[i].bad), 0);
		vm_vcpu_close(c[i].vcpu);
	}
	vm_destroy(ctx);
	rmdir(dir);
	free(img);
}
