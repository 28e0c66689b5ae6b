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
#include "test_tinyguest.h"
#include "vmmapi.h"

static uint8_t *
setup_ioapic(uint8_t *p)
{
	p = tiny_emit_rte(p, 5, 0x61);		/* edge, fixed, physical, unmasked */
	p = tiny_emit_rte(p, 6, 0x8064);	/* level */
	return tiny_emit_store(p, 0xfee000f0, 0x1ff);	/* LAPIC software enable */
}

static void
guest_start(struct tinyguest *g)
{
	REQUIRE(tiny_start(g, "intr", NULL, setup_ioapic) == 0);
}

static void
guest_stop(struct tinyguest *g)
{
	CHECK_EQ(tiny_stop(g), 0);
}

TEST(ioapic_edge_wakes_hlt)
{
	struct tinyguest g;
	int pins;

	guest_start(&g);
	CHECK(vm_ioapic_pincount(g.ctx, &pins) == 0 && pins == 24);
	CHECK_EQ(tiny_count(&g, 0x61), 0);
	CHECK_EQ(vm_ioapic_pulse_irq(g.ctx, 5), 0);
	CHECK(tiny_wait_count(&g, 0x61, 1));
	/* An edge pin stays quiet until the next edge. */
	usleep(20000);
	CHECK_EQ(tiny_count(&g, 0x61), 1);
	/* ISA IRQ 5 is IOAPIC pin 5 in the machine map. */
	CHECK_EQ(vm_isa_pulse_irq(g.ctx, 5, -1), 0);
	CHECK(tiny_wait_count(&g, 0x61, 2));
	CHECK_EQ(vm_isa_pulse_irq(g.ctx, 5, 5), 0);
	CHECK(tiny_wait_count(&g, 0x61, 3));
	CHECK(vm_ioapic_pulse_irq(g.ctx, 24) == -1 && errno == EINVAL);
	CHECK(vm_isa_pulse_irq(g.ctx, 16, -1) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(ioapic_level_remote_irr)
{
	struct tinyguest g;
	uint32_t c1;

	guest_start(&g);
	/*
	 * A level pin held asserted: each EOI clears remote IRR and the
	 * IOAPIC sends it again (82093AA 3.2.4), so the count keeps growing.
	 */
	CHECK_EQ(vm_ioapic_assert_irq(g.ctx, 6), 0);
	CHECK(tiny_wait_count(&g, 0x64, 3));
	/*
	 * Deasserted: at most the one message already sent is still taken
	 * (its EOI finds the line low and sends nothing more).
	 */
	CHECK_EQ(vm_ioapic_deassert_irq(g.ctx, 6), 0);
	c1 = tiny_count(&g, 0x64);
	usleep(100000);
	CHECK(tiny_count(&g, 0x64) - c1 <= 1);
	guest_stop(&g);
}

TEST(lapic_irq_and_msi)
{
	struct vmm_lapic_info li;
	enum x2apic_state xs;
	struct tinyguest g;

	guest_start(&g);
	CHECK_EQ(vm_lapic_irq(g.vcpu, 0x62), 0);
	CHECK(tiny_wait_count(&g, 0x62, 1));
	/* MSI to APIC 0, fixed, vector 0x63 (SDM 11.11.1). */
	CHECK_EQ(vm_lapic_msi(g.ctx, 0xfee00000, 0x63), 0);
	CHECK(tiny_wait_count(&g, 0x63, 1));
	/* Logical destination 1 (flat model, LDR 0): no one takes it. */
	CHECK_EQ(vm_lapic_msi(g.ctx, 0xfee0100c, 0x65), 0);
	CHECK(vm_lapic_msi(g.ctx, 0x12345000, 0x63) == -1 && errno == EINVAL);
	CHECK(vm_lapic_irq(g.vcpu, 256) == -1 && errno == EINVAL);
	CHECK_EQ(vm_get_lapic(g.vcpu, &li), 0);
	CHECK_EQ(li.svr, 0x1ff);
	CHECK_EQ(li.apicbase, 0xfee00900);
	CHECK_EQ(li.isr[3], 0);
	usleep(20000);
	CHECK_EQ(tiny_count(&g, 0x65), 0);
	CHECK(vm_get_x2apic_state(g.vcpu, &xs) == 0 && xs == X2APIC_ENABLED);
	CHECK_EQ(vm_set_x2apic_state(g.vcpu, X2APIC_DISABLED), 0);
	CHECK(vm_get_x2apic_state(g.vcpu, &xs) == 0 && xs == X2APIC_DISABLED);
	CHECK(vm_set_x2apic_state(g.vcpu, X2APIC_STATE_LAST) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(nmi_wakes_hlt)
{
	struct tinyguest g;

	guest_start(&g);
	/* vm_inject_nmi goes through the LAPIC's event path: it ends HLT. */
	CHECK_EQ(vm_inject_nmi(g.vcpu), 0);
	CHECK(tiny_wait_count(&g, 0x6e, 1));
	/* An NMI from the LAPIC's LINT1 (FreeBSD's APIC_LVT_LINT1) is masked at reset. */
	CHECK_EQ(vm_lapic_local_irq(g.vcpu, 1), 0);
	usleep(20000);
	CHECK_EQ(tiny_count(&g, 0x6e), 1);
	CHECK(vm_lapic_local_irq(g.vcpu, 6) == -1 && errno == EINVAL);
	guest_stop(&g);
}

TEST(intr_without_backend)
{
	struct vmctx *ctx;
	struct vcpu *vcpu;

	tiny_fresh_store("intr");
	REQUIRE(vm_create("nob") == 0);
	ctx = vm_open("nob");
	REQUIRE(ctx != NULL);
	vcpu = vm_vcpu_open(ctx, 0);
	CHECK(vm_lapic_irq(vcpu, 0x40) == -1 && errno == ENXIO);
	CHECK(vm_ioapic_pulse_irq(ctx, 1) == -1 && errno == ENXIO);
	vm_vcpu_close(vcpu);
	vm_destroy(ctx);
}
