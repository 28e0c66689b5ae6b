/*
 * test_kvm_lapic.c - KVM's LAPIC page (struct kvm_lapic_state, api.rst
 * 4.57) to and from the store's LAPIC section (vmm/backend/kvm/kvm_lapic.c),
 * against the software CPU's LAPIC (vmm/io/vlapic.c) that writes and reads
 * the same section: no /dev/kvm needed.
 */
#include <errno.h>

#include "test.h"
#include "backend/kvm/kvm.h"
#include "io/vlapic.h"
#include "vmm_store.h"

static uint64_t clock_ns;

static uint64_t
fake_now(void *arg)
{
	return clock_ns;
}

/* The software CPU's guest TSC: 1 GHz, one tick a nanosecond. */
static uint64_t
fake_tsc(void *arg)
{
	return clock_ns;
}

static void
vl_setup(struct vlapic *vl, int vcpu)
{
	struct vlapic_clock c = { fake_now, fake_tsc, 1000000000ull, NULL };
	struct vlapic_sink s = { 0 };

	vlapic_init(vl, vcpu, (uint32_t)vcpu, vcpu == 0, &c, &s);
}

static uint32_t
vrd(struct vlapic *vl, uint32_t off)
{
	uint64_t v = 0xdead;

	CHECK_EQ(vlapic_mmio_read(vl, off, 4, &v), 0);
	return (uint32_t)v;
}

static void
vwr(struct vlapic *vl, uint32_t off, uint32_t v)
{
	CHECK_EQ(vlapic_mmio_write(vl, off, 4, v), 0);
}

static uint32_t
kreg(const struct kvm_lapic_image *k, int off)
{
	uint32_t v;

	memcpy(&v, &k->regs.regs[off], 4);
	return v;
}

static void
kset(struct kvm_lapic_image *k, int off, uint32_t v)
{
	memcpy(&k->regs.regs[off], &v, 4);
}

/* KVM's page after RESET (Linux's kvm_lapic_reset): version 14H, 6 LVTs, all masked. */
static void
kvm_reset(struct kvm_lapic_image *k, uint32_t apic_id)
{
	memset(k, 0, sizeof(*k));
	k->apic_id = apic_id;
	k->apic_base = 0xfee00800 | (apic_id == 0 ? 0x100 : 0);
	k->tsc_khz = 2000000;		/* 2 GHz */
	kset(k, 0x20, apic_id << 24);
	kset(k, 0x30, 0x01050014);
	kset(k, 0xe0, 0xffffffff);
	kset(k, 0xf0, 0xff);
	for (int i = 0; i < 6; i++)
		kset(k, 0x320 + 0x10 * i, 0x10000);
}

/* The software CPU's LAPIC with an armed one-shot timer, pending and in-service vectors. */
TEST(vlapic_to_kvm_oneshot_and_vectors)
{
	struct vlapic a;
	struct kvm_lapic_image k;
	uint8_t sec[VLAPIC_SNAP_SIZE];
	ssize_t n;

	clock_ns = 1000000;
	vl_setup(&a, 1);
	vwr(&a, APIC_OFF_SVR, 0x1ff);
	vwr(&a, APIC_OFF_TPR, 0x10);
	vwr(&a, APIC_OFF_LDR, 0x02000000);
	vwr(&a, APIC_OFF_LINT0_LVT, 0x700);
	vlapic_deliver(&a, &(struct vlapic_msg){ .vector = 0x81, .mode = APIC_DM_FIXED,
	    .assert = true, .src = -1 });
	vlapic_accept_intr(&a, 0x81);
	vlapic_deliver(&a, &(struct vlapic_msg){ .vector = 0x61, .mode = APIC_DM_FIXED,
	    .level = true, .assert = true, .src = -1 });
	vwr(&a, APIC_OFF_TIMER_DCR, 0x3);		/* divide by 16 */
	vwr(&a, APIC_OFF_TIMER_LVT, 0x40);		/* one-shot, vector 40H */
	vwr(&a, APIC_OFF_TIMER_ICR, 100000);		/* 100000 * 16 / 128 MHz = 12.5 ms */
	clock_ns += 2500000;				/* 10 ms left */
	n = vlapic_snapshot_save(&a, sec, sizeof(sec));
	REQUIRE(n == KVM_LAPIC_SECTION_SIZE);

	kvm_reset(&k, 1);
	REQUIRE(kvm_lapic_from_section(&k, sec, (size_t)n, 1) == 0);
	CHECK_EQ(k.apic_base, 0xfee00800);
	CHECK_EQ(kreg(&k, 0x20), 1u << 24);
	CHECK_EQ(kreg(&k, 0x30), 0x01050014);		/* KVM's own version stays */
	CHECK_EQ(kreg(&k, 0x80), 0x10);
	CHECK_EQ(kreg(&k, 0xd0), 0x02000000);
	CHECK_EQ(kreg(&k, 0xf0), 0x1ff);
	CHECK_EQ(kreg(&k, 0x100 + 0x10 * 4), 1u << 1);	/* ISR 81H */
	CHECK_EQ(kreg(&k, 0x200 + 0x10 * 3), 1u << 1);	/* IRR 61H */
	CHECK_EQ(kreg(&k, 0x180 + 0x10 * 3), 1u << 1);	/* TMR 61H: level */
	CHECK_EQ(kreg(&k, 0x350), 0x700);
	CHECK_EQ(kreg(&k, 0x320), 0x40);
	CHECK_EQ(kreg(&k, 0x380), 100000);
	CHECK_EQ(kreg(&k, 0x3e0), 0x3);
	/* 10 ms on KVM's 1 GHz bus, divided by 16: 625000, more than the initial count. */
	CHECK_EQ(kreg(&k, 0x390), 100000);
	CHECK_EQ(k.tsc_deadline, 0);

	/* Divide by 128, 95 ms into a 100 ms count: 5 ms left, 39063 of KVM's ticks. */
	vwr(&a, APIC_OFF_TIMER_DCR, 0xa);
	vwr(&a, APIC_OFF_TIMER_ICR, 100000);
	clock_ns += 95000000;
	n = vlapic_snapshot_save(&a, sec, sizeof(sec));
	REQUIRE(n == KVM_LAPIC_SECTION_SIZE);
	kvm_reset(&k, 1);
	REQUIRE(kvm_lapic_from_section(&k, sec, (size_t)n, 1) == 0);
	CHECK_EQ(kreg(&k, 0x3e0), 0xa);
	CHECK_EQ(kreg(&k, 0x390), 39063);
}

/* KVM's page back to the section, which the software CPU's LAPIC takes. */
TEST(kvm_to_vlapic_periodic)
{
	struct vlapic b;
	struct kvm_lapic_image k;
	uint8_t sec[VLAPIC_SNAP_SIZE];
	ssize_t n;

	kvm_reset(&k, 2);
	kset(&k, 0xf0, 0x1ff);
	kset(&k, 0x80, 0x20);
	kset(&k, 0x200 + 0x10 * 7, 0x80000000);		/* IRR FFH */
	kset(&k, 0x300, 0x000040fd | 0x1000);		/* ICR with delivery status */
	kset(&k, 0x310, 0x01000000);
	kset(&k, 0x320, 0x20000 | 0xef);		/* periodic */
	kset(&k, 0x380, 1000000);
	kset(&k, 0x390, 400000);
	kset(&k, 0x3e0, 0xb);				/* divide by 1 */
	n = kvm_lapic_to_section(&k, sec, 10, 2);
	CHECK_EQ(n, KVM_LAPIC_SECTION_SIZE);		/* asks for room */
	n = kvm_lapic_to_section(&k, sec, sizeof(sec), 2);
	REQUIRE(n == KVM_LAPIC_SECTION_SIZE);

	clock_ns = 50000000;
	vl_setup(&b, 2);
	REQUIRE(vlapic_snapshot_restore(&b, sec, (size_t)n) == 0);
	CHECK_EQ(vrd(&b, APIC_OFF_SVR), 0x1ff);
	CHECK_EQ(vrd(&b, APIC_OFF_TPR), 0x20);
	CHECK_EQ(vrd(&b, APIC_OFF_ICR_LOW), 0x40fd);
	CHECK_EQ(vrd(&b, APIC_OFF_IRR0 + 0x70), 0x80000000);
	CHECK_EQ(vrd(&b, APIC_OFF_TIMER_LVT), 0x200ef);
	CHECK_EQ(vrd(&b, APIC_OFF_TIMER_ICR), 1000000);
	/* Due when KVM's count would have run out: 400000 ns later. */
	CHECK_EQ(vlapic_timer_deadline(&b), clock_ns + 400000);
	CHECK_EQ(vlapic_pending_intr(&b), 0xff);

	/* And round again: the same page, the count as it was. */
	n = vlapic_snapshot_save(&b, sec, sizeof(sec));
	REQUIRE(n == KVM_LAPIC_SECTION_SIZE);
	kvm_reset(&k, 2);
	REQUIRE(kvm_lapic_from_section(&k, sec, (size_t)n, 2) == 0);
	CHECK_EQ(kreg(&k, 0x390), 400000);
	CHECK_EQ(kreg(&k, 0x300), 0x40fd);
	CHECK_EQ(kreg(&k, 0x310), 0x01000000);

	/*
	 * Read at the instant of its reload (KVM's timer expired, not yet
	 * restarted: current count 0): due now, and periodic on after, not
	 * stopped as a one-shot count that ran out.
	 */
	kvm_reset(&k, 2);
	kset(&k, 0xf0, 0x1ff);
	kset(&k, 0x320, 0x20000 | 0xef);
	kset(&k, 0x380, 1000000);
	kset(&k, 0x390, 0);
	kset(&k, 0x3e0, 0xb);
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 2) == KVM_LAPIC_SECTION_SIZE);
	vl_setup(&b, 2);
	REQUIRE(vlapic_snapshot_restore(&b, sec, sizeof(sec)) == 0);
	CHECK_EQ(vlapic_timer_deadline(&b), clock_ns);
}

/* x2APIC mode: KVM's page has the ID in 31:24 without KVM_CAP_X2APIC_API. */
TEST(x2apic_id_formats)
{
	struct vlapic b;
	struct kvm_lapic_image k;
	uint8_t sec[VLAPIC_SNAP_SIZE];

	kvm_reset(&k, 3);
	k.apic_base = 0xfee00c00;
	kset(&k, 0xd0, 0x00000008);			/* x2APIC LDR of ID 3 */
	kset(&k, 0xf0, 0x1ff);
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 3) == KVM_LAPIC_SECTION_SIZE);
	clock_ns = 1;
	vl_setup(&b, 3);
	REQUIRE(vlapic_snapshot_restore(&b, sec, sizeof(sec)) == 0);
	CHECK(vlapic_x2apic(&b));
	CHECK_EQ(b.id, 3);

	kvm_reset(&k, 3);
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 3) == 0);
	CHECK_EQ(k.apic_base, 0xfee00c00);
	CHECK_EQ(kreg(&k, 0x20), 3u << 24);
	k.x2apic_format = true;
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 3) == 0);
	CHECK_EQ(kreg(&k, 0x20), 3);
}

/* TSC-deadline: the MSR travels as it is, the section's due time from the TSC's rate. */
TEST(tsc_deadline)
{
	struct kvm_lapic_image k;
	uint8_t sec[VLAPIC_SNAP_SIZE];
	uint64_t due;

	kvm_reset(&k, 0);
	kset(&k, 0xf0, 0x1ff);
	kset(&k, 0x320, 0x40000 | 0xec);
	k.tsc = 10000000000ull;
	k.tsc_deadline = k.tsc + 3000000;		/* 1.5 ms at 2 GHz */
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 0) == KVM_LAPIC_SECTION_SIZE);
	memcpy(&due, sec + 200, 8);
	CHECK_EQ(due, 1500000);
	memcpy(&due, sec + 184, 8);
	CHECK_EQ(due, k.tsc_deadline);

	kvm_reset(&k, 0);
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 0) == 0);
	CHECK_EQ(k.tsc_deadline, 10000000000ull + 3000000);
	CHECK_EQ(kreg(&k, 0x380), 0);
	CHECK_EQ(kreg(&k, 0x390), 0);

	/* Disarmed (0), and passed: not armed, due now. */
	kvm_reset(&k, 0);
	kset(&k, 0x320, 0x40000 | 0xec);
	k.tsc = 5000;
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 0) == KVM_LAPIC_SECTION_SIZE);
	memcpy(&due, sec + 200, 8);
	CHECK_EQ(due, UINT64_MAX);
	k.tsc_deadline = 4000;
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 0) == KVM_LAPIC_SECTION_SIZE);
	memcpy(&due, sec + 200, 8);
	CHECK_EQ(due, 0);
}

/* A one-shot count that ran out stays run out; one due now still fires. */
TEST(oneshot_expired_and_due_now)
{
	struct vlapic b;
	struct kvm_lapic_image k;
	uint8_t sec[VLAPIC_SNAP_SIZE];

	kvm_reset(&k, 1);
	kset(&k, 0xf0, 0x1ff);
	kset(&k, 0x320, 0x30);
	kset(&k, 0x380, 5000);
	kset(&k, 0x390, 0);
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 1) == KVM_LAPIC_SECTION_SIZE);
	clock_ns = 77;
	vl_setup(&b, 1);
	REQUIRE(vlapic_snapshot_restore(&b, sec, sizeof(sec)) == 0);
	CHECK_EQ(vrd(&b, APIC_OFF_TIMER_CCR), 0);
	CHECK_EQ(vlapic_timer_deadline(&b), UINT64_MAX);
	kvm_reset(&k, 1);
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 1) == 0);
	/* KVM would fire a count of 0 again at once: initial count 0 keeps it stopped. */
	CHECK_EQ(kreg(&k, 0x380), 0);
	CHECK_EQ(kreg(&k, 0x390), 0);

	/* Run out after the save's cut, its interrupt only counted in KVM: due now. */
	kvm_reset(&k, 1);
	kset(&k, 0xf0, 0x1ff);
	kset(&k, 0x320, 0x30);
	kset(&k, 0x380, 5000);
	kset(&k, 0x390, 0);
	k.oneshot_due = true;
	REQUIRE(kvm_lapic_to_section(&k, sec, sizeof(sec), 1) == KVM_LAPIC_SECTION_SIZE);
	vl_setup(&b, 1);
	REQUIRE(vlapic_snapshot_restore(&b, sec, sizeof(sec)) == 0);
	CHECK_EQ(vlapic_timer_deadline(&b), clock_ns);
	kvm_reset(&k, 1);
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 1) == 0);
	CHECK_EQ(kreg(&k, 0x380), 5000);
	CHECK_EQ(kreg(&k, 0x390), 1);

	/* The software CPU's timer due this instant: KVM gets 1, not 0 (lost). */
	vl_setup(&b, 1);
	vwr(&b, APIC_OFF_SVR, 0x1ff);
	vwr(&b, APIC_OFF_TIMER_LVT, 0x30);
	vwr(&b, APIC_OFF_TIMER_DCR, 0xb);
	vwr(&b, APIC_OFF_TIMER_ICR, 128);		/* 1 us */
	clock_ns += 1000;
	REQUIRE(vlapic_snapshot_save(&b, sec, sizeof(sec)) == KVM_LAPIC_SECTION_SIZE);
	kvm_reset(&k, 1);
	REQUIRE(kvm_lapic_from_section(&k, sec, sizeof(sec), 1) == 0);
	CHECK_EQ(kreg(&k, 0x390), 1);
}

/* What cannot be carried, or is not a LAPIC: refused, with a line that names it. */
TEST(refused)
{
	struct vlapic a;
	struct kvm_lapic_image k, before;
	uint8_t sec[VLAPIC_SNAP_SIZE], bad[VLAPIC_SNAP_SIZE];

	clock_ns = 1000;
	vl_setup(&a, 1);
	vwr(&a, APIC_OFF_SVR, 0x1ff);
	REQUIRE(vlapic_snapshot_save(&a, sec, sizeof(sec)) == KVM_LAPIC_SECTION_SIZE);
	kvm_reset(&before, 1);

	struct { size_t off; uint8_t val; const char *says; } patches[] = {
		{ 0, 'X', "not a version 1" },
		{ 8, 7, "APIC ID 6" },
		{ 12, 0x01, "APIC_BASE" },
		{ 19, 0x80, "APIC_BASE" },
		{ 13, 0x04, "ID register" },	/* x2APIC mode, ID in xAPIC form */
		{ 23, 0x09, "ID register" },
		{ 25, 1, "TPR" },
		{ 44, 0x20, "pending error status 0x20" },
		{ 48, 1, "vectors 0-15" },
		{ 180, 0x10, "divide" },
		{ 207, 0x70, "due in" },
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		memcpy(bad, sec, sizeof(bad));
		bad[patches[i].off] ^= patches[i].val;
		k = before;
		vmm_store_clear_error();
		CHECK(kvm_lapic_from_section(&k, bad, sizeof(bad), 1) < 0);
		if (strstr(vmm_store_strerror(), patches[i].says) == NULL)
			fprintf(stderr, "patch %zu: '%s'\n", i, vmm_store_strerror());
		CHECK(strstr(vmm_store_strerror(), patches[i].says) != NULL);
		CHECK(memcmp(&k, &before, sizeof(k)) == 0);
	}
	k = before;
	CHECK(kvm_lapic_from_section(&k, sec, sizeof(sec) - 1, 1) < 0);
	k.apic_id = 2;
	CHECK(kvm_lapic_from_section(&k, sec, sizeof(sec), 2) < 0);	/* another vCPU's */

	/* KVM's LVT CMCI, written: the section has no room for it. */
	kvm_reset(&k, 1);
	kset(&k, 0x30, 0x01060014);
	kset(&k, 0x2f0, 0x00000052);
	vmm_store_clear_error();
	CHECK(kvm_lapic_to_section(&k, sec, sizeof(sec), 1) < 0);
	CHECK(strstr(vmm_store_strerror(), "LVT CMCI") != NULL);
	kset(&k, 0x2f0, 0x00010052);			/* masked, but its vector */
	CHECK(kvm_lapic_to_section(&k, sec, sizeof(sec), 1) < 0);
	kset(&k, 0x2f0, 0x00010000);			/* as after RESET: nothing lost */
	CHECK_EQ(kvm_lapic_to_section(&k, sec, sizeof(sec), 1), KVM_LAPIC_SECTION_SIZE);
}
