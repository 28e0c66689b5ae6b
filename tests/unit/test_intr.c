/*
 * test_intr.c - libvmm's interrupt controllers through libvmmapi: a
 * 32-bit guest programs the IOAPIC and its LAPIC, then sleeps in HLT with
 * interrupts on while the test raises IOAPIC pins (edge and level), fixed
 * LAPIC interrupts and MSIs from another thread; each handler counts its
 * vector in guest memory and EOIs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "vmmapi.h"

#define CODE	0x1000
#define GDT	0x2000
#define IDT	0x3000
#define HANDLERS 0x4000		/* 32 bytes per vector 0x60-0x6f */
#define COUNTS	0x5000		/* u32 per vector 0x60-0x6f */

static void
fresh_store(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/lhyve-intr-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	setenv("VMM_DIR", dir, 1);
}

/* mov dword [addr], val (C7 05 addr32 imm32) */
static uint8_t *
emit_store(uint8_t *p, uint32_t addr, uint32_t val)
{
	*p++ = 0xc7;
	*p++ = 0x05;
	memcpy(p, &addr, 4);
	memcpy(p + 4, &val, 4);
	return p + 8;
}

/* IOAPIC pin @pin: redirection entry @lo, destination APIC 0. */
static uint8_t *
emit_rte(uint8_t *p, int pin, uint32_t lo)
{
	p = emit_store(p, 0xfec00000, 0x11 + 2 * (uint32_t)pin);
	p = emit_store(p, 0xfec00010, 0);
	p = emit_store(p, 0xfec00000, 0x10 + 2 * (uint32_t)pin);
	return emit_store(p, 0xfec00010, lo);
}

struct guest {
	struct vmctx	*ctx;
	struct vcpu	*vcpu;
	uint8_t		*mem;
	pthread_t	thread;
	atomic_int	ready;
	atomic_int	bad_exit;	/* exit code + 1 of an unexpected exit */
};

static void *
vcpu_main(void *arg)
{
	struct guest *g = arg;
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
		atomic_store(&g->bad_exit, (int)vme.exitcode + 1);
		vm_suspend(g->ctx, VM_SUSPEND_POWEROFF);
	}
}

static uint32_t
count(struct guest *g, int vector)
{
	return __atomic_load_n((uint32_t *)(g->mem + COUNTS + 4 * (vector - 0x60)),
	    __ATOMIC_SEQ_CST);
}

/* Wait (up to 10 s) until @vector was taken at least @n times. */
static bool
wait_count(struct guest *g, int vector, uint32_t n)
{
	for (int i = 0; i < 10000; i++) {
		if (count(g, vector) >= n)
			return true;
		usleep(1000);
	}
	return false;
}

static void
guest_start(struct guest *g)
{
	uint8_t *p;
	uint64_t *gdt;
	int v;

	fresh_store();
	memset(g, 0, sizeof(*g));
	REQUIRE(vm_create("intr") == 0);
	g->ctx = vm_openf("intr", VMMAPI_OPEN_RUN);
	REQUIRE(g->ctx != NULL);
	REQUIRE(vm_setup_memory(g->ctx, 1 << 20, VM_MMAP_ALL) == 0);
	REQUIRE(vm_attach_backend(g->ctx, "emu") == 0);
	g->mem = vm_map_gpa(g->ctx, 0, 1 << 20);
	REQUIRE(g->mem != NULL);
	g->vcpu = vm_vcpu_open(g->ctx, 0);

	/* Flat 32-bit code (0x08) and data (0x10); 32-bit interrupt gates. */
	gdt = (uint64_t *)(g->mem + GDT);
	gdt[1] = 0x00cf9a000000ffffull;
	gdt[2] = 0x00cf92000000ffffull;
	for (v = 0x60; v < 0x70; v++) {
		uint32_t h = HANDLERS + 32 * (uint32_t)(v - 0x60);
		uint32_t *gate = (uint32_t *)(g->mem + IDT + 8 * v);
		uint8_t *q = g->mem + h;

		gate[0] = (h & 0xffff) | (0x08u << 16);
		gate[1] = (h & 0xffff0000u) | 0x8e00u;
		*q++ = 0xff;			/* inc dword [count] */
		*q++ = 0x05;
		uint32_t c = COUNTS + 4 * (uint32_t)(v - 0x60);
		memcpy(q, &c, 4);
		q = emit_store(q + 4, 0xfee000b0, 0);	/* EOI */
		*q = 0xcf;			/* iretd */
	}
	/* NMI (vector 2) shares 0x6e's handler and count. */
	memcpy(g->mem + IDT + 8 * 2, g->mem + IDT + 8 * 0x6e, 8);
	p = g->mem + CODE;
	p = emit_rte(p, 5, 0x61);		/* edge, fixed, physical, unmasked */
	p = emit_rte(p, 6, 0x8064);		/* level */
	p = emit_store(p, 0xfee000f0, 0x1ff);	/* LAPIC software enable */
	*p++ = 0xb0; *p++ = 0x01;		/* mov $1,%al */
	*p++ = 0xe6; *p++ = 0x80;		/* out %al,$0x80: ready */
	*p++ = 0xfb; *p++ = 0xf4;		/* 1: sti; hlt */
	*p++ = 0xeb; *p++ = 0xfc;		/* jmp 1b */

	REQUIRE(vm_set_register(g->vcpu, VM_REG_GUEST_CR0, 0x11) == 0);
	REQUIRE(vm_set_desc(g->vcpu, VM_REG_GUEST_CS, 0, 0xffffffff, 0xc09b) == 0);
	REQUIRE(vm_set_register(g->vcpu, VM_REG_GUEST_CS, 0x08) == 0);
	for (int r = VM_REG_GUEST_ES; r <= VM_REG_GUEST_GS; r++) {
		if (r == VM_REG_GUEST_CS)
			continue;
		REQUIRE(vm_set_desc(g->vcpu, r, 0, 0xffffffff, 0xc093) == 0);
		REQUIRE(vm_set_register(g->vcpu, r, 0x10) == 0);
	}
	REQUIRE(vm_set_desc(g->vcpu, VM_REG_GUEST_GDTR, GDT, 23, 0) == 0);
	REQUIRE(vm_set_desc(g->vcpu, VM_REG_GUEST_IDTR, IDT, 256 * 8 - 1, 0) == 0);
	REQUIRE(vm_set_register(g->vcpu, VM_REG_GUEST_RSP, 0x9000) == 0);
	REQUIRE(vm_set_register(g->vcpu, VM_REG_GUEST_RFLAGS, 2) == 0);
	REQUIRE(vm_set_register(g->vcpu, VM_REG_GUEST_RIP, CODE) == 0);
	REQUIRE(pthread_create(&g->thread, NULL, vcpu_main, g) == 0);
	for (int i = 0; i < 10000 && !atomic_load(&g->ready); i++)
		usleep(1000);
	REQUIRE(atomic_load(&g->ready));
}

static void
guest_stop(struct guest *g)
{
	CHECK_EQ(atomic_load(&g->bad_exit), 0);
	vm_suspend(g->ctx, VM_SUSPEND_POWEROFF);
	pthread_join(g->thread, NULL);
	vm_vcpu_close(g->vcpu);
	vm_destroy(g->ctx);
}

TEST(ioapic_edge_wakes_hlt)
{
	struct guest g;
	int pins;

	guest_start(&g);
	CHECK(vm_ioapic_pincount(g.ctx, &pins) == 0 && pins == 24);
	CHECK_EQ(count(&g, 0x61), 0);
	CHECK_EQ(vm_ioapic_pulse_irq(g.ctx, 5), 0);
	CHECK(wait_count(&g, 0x61, 1));
	/* An edge pin stays quiet until the next edge. */
	usleep(20000);
	CHECK_EQ(count(&g, 0x61), 1);
	/* ISA IRQ 5 is IOAPIC pin 5 in the machine map. */
	CHECK_EQ(vm_isa_pulse_irq(g.ctx, 5, -1), 0);
	CHECK(wait_count(&g, 0x61, 2));
	CHECK_EQ(vm_isa_pulse_irq(g.ctx, 5, 5), 0);
	CHECK(wait_count(&g, 0x61, 3));
	CHECK(vm_ioapic_pulse_irq(g.ctx, 24) == -1 && errno == EINVAL);
	CHECK(vm_isa_pulse_irq(g.ctx, 16, -1) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(ioapic_level_remote_irr)
{
	struct guest g;
	uint32_t c1;

	guest_start(&g);
	/*
	 * A level pin held asserted: each EOI clears remote IRR and the
	 * IOAPIC sends it again (82093AA 3.2.4), so the count keeps growing.
	 */
	CHECK_EQ(vm_ioapic_assert_irq(g.ctx, 6), 0);
	CHECK(wait_count(&g, 0x64, 3));
	/*
	 * Deasserted: at most the one message already sent is still taken
	 * (its EOI finds the line low and sends nothing more).
	 */
	CHECK_EQ(vm_ioapic_deassert_irq(g.ctx, 6), 0);
	c1 = count(&g, 0x64);
	usleep(100000);
	CHECK(count(&g, 0x64) - c1 <= 1);
	guest_stop(&g);
}

TEST(lapic_irq_and_msi)
{
	struct vmm_lapic_info li;
	enum x2apic_state xs;
	struct guest g;

	guest_start(&g);
	CHECK_EQ(vm_lapic_irq(g.vcpu, 0x62), 0);
	CHECK(wait_count(&g, 0x62, 1));
	/* MSI to APIC 0, fixed, vector 0x63 (SDM 11.11.1). */
	CHECK_EQ(vm_lapic_msi(g.ctx, 0xfee00000, 0x63), 0);
	CHECK(wait_count(&g, 0x63, 1));
	/* Logical destination 1 (flat model, LDR 0): no one takes it. */
	CHECK_EQ(vm_lapic_msi(g.ctx, 0xfee0100c, 0x65), 0);
	CHECK(vm_lapic_msi(g.ctx, 0x12345000, 0x63) == -1 && errno == EINVAL);
	CHECK(vm_lapic_irq(g.vcpu, 256) == -1 && errno == EINVAL);
	CHECK_EQ(vm_get_lapic(g.vcpu, &li), 0);
	CHECK_EQ(li.svr, 0x1ff);
	CHECK_EQ(li.apicbase, 0xfee00900);
	CHECK_EQ(li.isr[3], 0);
	usleep(20000);
	CHECK_EQ(count(&g, 0x65), 0);
	CHECK(vm_get_x2apic_state(g.vcpu, &xs) == 0 && xs == X2APIC_ENABLED);
	CHECK_EQ(vm_set_x2apic_state(g.vcpu, X2APIC_DISABLED), 0);
	CHECK(vm_get_x2apic_state(g.vcpu, &xs) == 0 && xs == X2APIC_DISABLED);
	CHECK(vm_set_x2apic_state(g.vcpu, X2APIC_STATE_LAST) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(nmi_wakes_hlt)
{
	struct guest g;

	guest_start(&g);
	/* vm_inject_nmi goes through the LAPIC's event path: it ends HLT. */
	CHECK_EQ(vm_inject_nmi(g.vcpu), 0);
	CHECK(wait_count(&g, 0x6e, 1));
	/* An NMI from the LAPIC's LINT1 (FreeBSD's APIC_LVT_LINT1) is masked at reset. */
	CHECK_EQ(vm_lapic_local_irq(g.vcpu, 1), 0);
	usleep(20000);
	CHECK_EQ(count(&g, 0x6e), 1);
	CHECK(vm_lapic_local_irq(g.vcpu, 6) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(intr_without_backend)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;

	fresh_store();
	REQUIRE(vm_create("nob") == 0);
	ctx = vm_open("nob");
	REQUIRE(ctx != NULL);
	vcpu = vm_vcpu_open(ctx, 0);
	CHECK(vm_lapic_irq(vcpu, 0x40) == -1 && errno == ENXIO);
	CHECK(vm_ioapic_pulse_irq(ctx, 1) == -1 && errno == ENXIO);
	vm_vcpu_close(vcpu);
	vm_destroy(ctx);
}
