/* test_tinyguest.c - see test_tinyguest.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_tinyguest.h"

void
tiny_fresh_store(const char *prefix)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lhyve-%s-XXXXXX", prefix);
	if (mkdtemp(dir) == NULL)
		abort();
	setenv("VMM_DIR", dir, 1);
}

uint8_t *
tiny_emit_store(uint8_t *p, uint32_t addr, uint32_t val)
{
	*p++ = 0xc7;
	*p++ = 0x05;
	memcpy(p, &addr, 4);
	memcpy(p + 4, &val, 4);
	return p + 8;
}

uint8_t *
tiny_emit_out(uint8_t *p, uint8_t port, uint8_t val)
{
	*p++ = 0xb0;
	*p++ = val;
	*p++ = 0xe6;
	*p++ = port;
	return p;
}

uint8_t *
tiny_emit_rte(uint8_t *p, int pin, uint32_t lo)
{
	p = tiny_emit_store(p, 0xfec00000, 0x11 + 2 * (uint32_t)pin);
	p = tiny_emit_store(p, 0xfec00010, 0);
	p = tiny_emit_store(p, 0xfec00000, 0x10 + 2 * (uint32_t)pin);
	return tiny_emit_store(p, 0xfec00010, lo);
}

static void *
tiny_vcpu_main(void *arg)
{
	struct tinyguest *g = arg;
	struct vm_exit vme;
	struct vm_run run = { .cpuid = 0, .vm_exit = &vme };

	memset(&vme, 0, sizeof(vme));
	for (;;) {
		if (vm_run(g->vcpu, &run) != 0) {
			atomic_store(&g->bad_exit, 1000);
			return NULL;
		}
		if (vme.exitcode == VM_EXITCODE_SUSPENDED)
			return NULL;
		if (vme.exitcode == VM_EXITCODE_INOUT && vme.u.inout.port == 0x80) {
			atomic_store(&g->ready, 1);
			continue;
		}
		if (vme.exitcode == VM_EXITCODE_BOGUS)
			continue;
		/* Everything else (interrupt controllers, timers) libvmm serves. */
		atomic_store(&g->bad_exit, (int)vme.exitcode + 1);
		vm_suspend(g->ctx, VM_SUSPEND_POWEROFF);
	}
}

uint32_t
tiny_count(struct tinyguest *g, int vector)
{
	return __atomic_load_n((uint32_t *)(g->mem + TINY_COUNTS + 4 * (vector - 0x60)),
	    __ATOMIC_SEQ_CST);
}

bool
tiny_wait_count(struct tinyguest *g, int vector, uint32_t n)
{
	for (int i = 0; i < 10000; i++) {
		if (tiny_count(g, vector) >= n)
			return true;
		usleep(1000);
	}
	return false;
}

static int
tiny_fail(struct tinyguest *g, const char *what)
{
	fprintf(stderr, "tinyguest: %s failed\n", what);
	if (g->vcpu != NULL)
		vm_vcpu_close(g->vcpu);
	if (g->ctx != NULL)
		vm_destroy(g->ctx);
	return -1;
}

int
tiny_start(struct tinyguest *g, const char *name,
    uint8_t *(*handler_tail)(uint8_t *q), uint8_t *(*setup)(uint8_t *p))
{
	uint8_t *p;
	uint64_t *gdt;
	int v, r;

	tiny_fresh_store(name);
	memset(g, 0, sizeof(*g));
	if (vm_create(name) != 0)
		return tiny_fail(g, "vm_create");
	if ((g->ctx = vm_openf(name, VMMAPI_OPEN_RUN)) == NULL)
		return tiny_fail(g, "vm_openf");
	if (vm_setup_memory(g->ctx, 1 << 20, VM_MMAP_ALL) != 0 ||
	    vm_attach_backend(g->ctx, "emu") != 0 ||
	    (g->mem = vm_map_gpa(g->ctx, 0, 1 << 20)) == NULL ||
	    (g->vcpu = vm_vcpu_open(g->ctx, 0)) == NULL)
		return tiny_fail(g, "memory or backend");

	/* Flat 32-bit code (0x08) and data (0x10); 32-bit interrupt gates. */
	gdt = (uint64_t *)(void *)(g->mem + TINY_GDT);
	gdt[1] = 0x00cf9a000000ffffull;
	gdt[2] = 0x00cf92000000ffffull;
	for (v = 0x60; v < 0x70; v++) {
		uint32_t h = TINY_HANDLERS + 32 * (uint32_t)(v - 0x60);
		uint32_t *gate = (uint32_t *)(void *)(g->mem + TINY_IDT + 8 * v);
		uint32_t c = TINY_COUNTS + 4 * (uint32_t)(v - 0x60);
		uint8_t *q = g->mem + h;

		gate[0] = (h & 0xffff) | (0x08u << 16);
		gate[1] = (h & 0xffff0000u) | 0x8e00u;
		*q++ = 0xff;			/* inc dword [count] */
		*q++ = 0x05;
		memcpy(q, &c, 4);
		q = tiny_emit_store(q + 4, 0xfee000b0, 0);	/* LAPIC EOI */
		if (handler_tail != NULL)
			q = handler_tail(q);
		*q++ = 0xcf;			/* iretd */
		if (q > g->mem + h + 32)
			abort();		/* the test's tail is too long */
	}
	memcpy(g->mem + TINY_IDT + 8 * 2, g->mem + TINY_IDT + 8 * TINY_NMI_VEC, 8);
	p = setup(g->mem + TINY_CODE);
	p = tiny_emit_out(p, 0x80, 1);		/* ready */
	*p++ = 0xfb; *p++ = 0xf4;		/* 1: sti; hlt */
	*p++ = 0xeb; *p++ = 0xfc;		/* jmp 1b */

	if (vm_set_register(g->vcpu, VM_REG_GUEST_CR0, 0x11) != 0 ||
	    vm_set_desc(g->vcpu, VM_REG_GUEST_CS, 0, 0xffffffff, 0xc09b) != 0 ||
	    vm_set_register(g->vcpu, VM_REG_GUEST_CS, 0x08) != 0)
		return tiny_fail(g, "CS");
	for (r = VM_REG_GUEST_ES; r <= VM_REG_GUEST_GS; r++) {
		if (r == VM_REG_GUEST_CS)
			continue;
		if (vm_set_desc(g->vcpu, r, 0, 0xffffffff, 0xc093) != 0 ||
		    vm_set_register(g->vcpu, r, 0x10) != 0)
			return tiny_fail(g, "data segments");
	}
	if (vm_set_desc(g->vcpu, VM_REG_GUEST_GDTR, TINY_GDT, 23, 0) != 0 ||
	    vm_set_desc(g->vcpu, VM_REG_GUEST_IDTR, TINY_IDT, 256 * 8 - 1, 0) != 0 ||
	    vm_set_register(g->vcpu, VM_REG_GUEST_RSP, 0x9000) != 0 ||
	    vm_set_register(g->vcpu, VM_REG_GUEST_RFLAGS, 2) != 0 ||
	    vm_set_register(g->vcpu, VM_REG_GUEST_RIP, TINY_CODE) != 0)
		return tiny_fail(g, "registers");
	if (pthread_create(&g->thread, NULL, tiny_vcpu_main, g) != 0)
		return tiny_fail(g, "pthread_create");
	for (int i = 0; i < 10000 && !atomic_load(&g->ready); i++)
		usleep(1000);
	if (!atomic_load(&g->ready)) {
		fprintf(stderr, "tinyguest: the guest never reached its HLT loop\n");
		(void)tiny_stop(g);
		return -1;
	}
	return 0;
}

int
tiny_stop(struct tinyguest *g)
{
	int bad = atomic_load(&g->bad_exit);

	vm_suspend(g->ctx, VM_SUSPEND_POWEROFF);
	pthread_join(g->thread, NULL);
	vm_vcpu_close(g->vcpu);
	vm_destroy(g->ctx);
	return bad;
}
