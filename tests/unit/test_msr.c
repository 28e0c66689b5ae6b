/*
 * test_msr.c - the MSRs the software CPU owns (msr.c) under both vendor
 * profiles, the VM-wide TSC and kvmclock (pvclock.c), and the CPUID leaves
 * that describe them (vmm_cpuid.c): values, read/write, #GP on reserved
 * bits, exits for MSRs the CPU does not own, the pvclock page and its
 * version protocol, TSC synchronisation across vCPUs and restores.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "isa_fixture.h"
#include "test.h"
#include "vmm_backend.h"
#include "vmm_cpuid.h"

#define GP	IDT_GP

/* WRMSR: EMU_OK, or the vector raised, or -EXIT for an exit. */
static int
wrmsr(struct fx *f, uint32_t msr, uint64_t val)
{
	int rc;

	f->cpu->st.gpr[GPR_RCX] = msr;
	f->cpu->st.gpr[GPR_RAX] = (uint32_t)val;
	f->cpu->st.gpr[GPR_RDX] = val >> 32;
	rc = FX_RUN(f, 0x0f, 0x30);
	if (rc == EMU_FAULT)
		return f->cpu->exc_vector;
	return rc == EMU_EXIT ? -EMU_EXIT : rc;
}

static int
rdmsr(struct fx *f, uint32_t msr, uint64_t *val)
{
	int rc;

	f->cpu->st.gpr[GPR_RCX] = msr;
	f->cpu->st.gpr[GPR_RAX] = 0xdead;
	f->cpu->st.gpr[GPR_RDX] = 0xbeef;
	rc = FX_RUN(f, 0x0f, 0x32);
	*val = (f->cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)f->cpu->st.gpr[GPR_RAX];
	if (rc == EMU_FAULT)
		return f->cpu->exc_vector;
	return rc == EMU_EXIT ? -EMU_EXIT : rc;
}

static uint64_t
rd(struct fx *f, uint32_t msr)
{
	uint64_t v;

	CHECK_EQ(rdmsr(f, msr, &v), EMU_OK);
	return v;
}

static int
fx_vendor(struct fx *f, enum vmm_vendor v)
{
	if (fx_init(f, EMU_MODE_LONG64) != 0)
		return -1;
	f->cpu->vendor = (uint8_t)v;
	/* RESET values of the MSRs the fixture does not set. */
	f->cpu->st.mtrr_deftype = 0x806;
	f->cpu->st.misc_enable = 0x1801;
	f->cpu->st.hwcr = 0x01000001;
	return 0;
}

static const enum vmm_vendor vendors[] = { VMM_VENDOR_INTEL, VMM_VENDOR_AMD };

TEST(msr_both_profiles)
{
	struct fx f;
	uint64_t v;
	unsigned i;

	for (i = 0; i < 2; i++) {
		REQUIRE(fx_vendor(&f, vendors[i]) == 0);
		/* UCODE_REV: revision 1 in EDX; writes (Intel's "write 0, CPUID") are ignored. */
		CHECK_EQ(rd(&f, 0x8b), 0x100000000ULL);
		CHECK_EQ(wrmsr(&f, 0x8b, 0), EMU_OK);
		CHECK_EQ(rd(&f, 0x8b), 0x100000000ULL);
		/* ARCH_CAPABILITIES: the "not affected" bits, read-only. */
		v = rd(&f, 0x10a);
		CHECK_EQ(v & 0x7f, 0x7b);		/* RDCL_NO IBRS_ALL SKIP_L1DFL SSB_NO MDS_NO PSCHANGE_MC_NO */
		CHECK(v & (1ULL << 8));			/* TAA_NO */
		CHECK_EQ(v & (7ULL << 13), 7ULL << 13);	/* SBDR_SSDP_NO FBSDP_NO PSDP_NO */
		CHECK(v & (1ULL << 20) && v & (1ULL << 24) && v & (1ULL << 26) && v & (1ULL << 27));
		CHECK(v & (1ULL << 62));		/* ITS_NO */
		CHECK(!(v & (1ULL << 2)) && !(v & (1ULL << 7)) && !(v & (1ULL << 19)));	/* RSBA TSX_CTRL RRSBA */
		CHECK_EQ(wrmsr(&f, 0x10a, v), GP);
		/* SPEC_CTRL: IBRS is a plain bit; STIBP and SSBD are not offered. */
		CHECK_EQ(rd(&f, 0x48), 0);
		CHECK_EQ(wrmsr(&f, 0x48, 1), EMU_OK);
		CHECK_EQ(rd(&f, 0x48), 1);
		CHECK_EQ(wrmsr(&f, 0x48, 2), GP);
		CHECK_EQ(wrmsr(&f, 0x48, 4), GP);
		CHECK_EQ(rd(&f, 0x48), 1);
		/* BHI_DIS_S: Intel only (CPUID 7.2:EDX[4]). */
		CHECK_EQ(wrmsr(&f, 0x48, 0x401), vendors[i] == VMM_VENDOR_INTEL ? EMU_OK : GP);
		CHECK_EQ(rd(&f, 0x48), vendors[i] == VMM_VENDOR_INTEL ? 0x401 : 1);
		CHECK_EQ(wrmsr(&f, 0x48, 1), EMU_OK);
		/* PRED_CMD: write-only IBPB. */
		CHECK_EQ(wrmsr(&f, 0x49, 1), EMU_OK);
		CHECK_EQ(wrmsr(&f, 0x49, 2), GP);
		CHECK_EQ(rdmsr(&f, 0x49, &v), GP);
		/* MTRRcap: 8 variable ranges, fixed ranges, WC; read-only. */
		CHECK_EQ(rd(&f, 0xfe), 0x508);
		CHECK_EQ(wrmsr(&f, 0xfe, 0x508), GP);
		/* PAT: reserved types 2, 3, 8+ fault. */
		CHECK_EQ(wrmsr(&f, 0x277, 0x0007040600070406ULL), EMU_OK);
		CHECK_EQ(wrmsr(&f, 0x277, 0x0007040600070402ULL), GP);
		CHECK_EQ(rd(&f, 0x277), 0x0007040600070406ULL);
		/* An MSR nobody owns exits; RDMSR replays, WRMSR has retired. */
		CHECK_EQ(rdmsr(&f, 0x12345, &v), -EMU_EXIT);
		CHECK_EQ(f.vme.exitcode, VM_EXITCODE_RDMSR);
		CHECK_EQ(f.vme.inst_length, 0);
		CHECK_EQ(f.vme.u.msr.code, 0x12345);
		CHECK_EQ(wrmsr(&f, 0x12345, 7), -EMU_EXIT);
		CHECK_EQ(f.vme.exitcode, VM_EXITCODE_WRMSR);
		CHECK_EQ(f.vme.inst_length, 2);
		CHECK_EQ(f.vme.u.msr.wval, 7);
		/* Machine-check architecture without banks. */
		CHECK_EQ(rd(&f, 0x179), 0);
		CHECK_EQ(wrmsr(&f, 0x179, 0), GP);
		CHECK_EQ(rd(&f, 0x17a), 0);
		CHECK_EQ(wrmsr(&f, 0x17a, 0), EMU_OK);
		CHECK_EQ(wrmsr(&f, 0x17a, 4), GP);
		CHECK_EQ(rdmsr(&f, 0x17b, &v), -EMU_EXIT);	/* no MCG_CTL (MCG_CTL_P = 0) */
		CHECK_EQ(rdmsr(&f, 0x400, &v), -EMU_EXIT);	/* no bank 0 */
		/* The K7 counters are not offered: userland's. */
		CHECK_EQ(rdmsr(&f, 0xc0010000, &v), -EMU_EXIT);
		/* CPL 3: #GP before anything. */
		f.cpu->cpl = 3;
		CHECK_EQ(rdmsr(&f, 0x8b, &v), GP);
		CHECK_EQ(wrmsr(&f, 0x48, 0), GP);
		CHECK_EQ(f.cpu->st.spec_ctrl, 1);
		fx_fini(&f);
	}
}

TEST(msr_mtrrs)
{
	static const uint32_t fixed[] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b,
	    0x26c, 0x26d, 0x26e, 0x26f };
	static const uint8_t types[] = { 0, 1, 4, 5, 6 };
	struct fx f;
	uint64_t v;
	unsigned i, k;

	for (k = 0; k < 2; k++) {
		REQUIRE(fx_vendor(&f, vendors[k]) == 0);
		/* MTRRdefType: type 7:0, FE 10, E 11. */
		CHECK_EQ(rd(&f, 0x2ff), 0x806);
		CHECK_EQ(wrmsr(&f, 0x2ff, 0), EMU_OK);		/* Linux's pat_init disables them */
		CHECK_EQ(rd(&f, 0x2ff), 0);
		CHECK_EQ(wrmsr(&f, 0x2ff, 0xc01), EMU_OK);	/* WC is offered */
		CHECK_EQ(wrmsr(&f, 0x2ff, 0x802), GP);		/* reserved type */
		CHECK_EQ(wrmsr(&f, 0x2ff, 0x807), GP);		/* UC- is PAT only */
		CHECK_EQ(wrmsr(&f, 0x2ff, 0x906), GP);		/* bit 8 */
		CHECK_EQ(wrmsr(&f, 0x2ff, 0x1806), GP);		/* bit 12 */
		CHECK_EQ(rd(&f, 0x2ff), 0xc01);
		/* Fixed ranges: eight type bytes each. */
		for (i = 0; i < 11; i++) {
			CHECK_EQ(wrmsr(&f, fixed[i], 0x0605040106050400ULL | types[i % 5]), EMU_OK);
			CHECK_EQ(wrmsr(&f, fixed[i], 0x0306060606060606ULL), GP);
		}
		for (i = 0; i < 11; i++)
			CHECK_EQ(rd(&f, fixed[i]), 0x0605040106050400ULL | types[i % 5]);
		CHECK_EQ(rdmsr(&f, 0x251, &v), -EMU_EXIT);
		/* Variable ranges: 8 pairs, bits above MAXPHYADDR (39) reserved. */
		for (i = 0; i < 8; i++) {
			CHECK_EQ(wrmsr(&f, 0x200 + 2 * i, 0x80000000ULL * i | 6), EMU_OK);
			CHECK_EQ(wrmsr(&f, 0x201 + 2 * i, 0x7fc0000800ULL), EMU_OK);
		}
		for (i = 0; i < 8; i++) {
			CHECK_EQ(rd(&f, 0x200 + 2 * i), 0x80000000ULL * i | 6);
			CHECK_EQ(rd(&f, 0x201 + 2 * i), 0x7fc0000800ULL);
		}
		CHECK_EQ(wrmsr(&f, 0x200, 0x1000 | 2), GP);		/* type */
		CHECK_EQ(wrmsr(&f, 0x200, 0x1000 | 0x100 | 6), GP);	/* bit 8 */
		CHECK_EQ(wrmsr(&f, 0x200, (1ULL << 39) | 6), GP);	/* MAXPHYADDR */
		CHECK_EQ(wrmsr(&f, 0x201, 0x7fc0000801ULL), GP);	/* bit 0 */
		CHECK_EQ(wrmsr(&f, 0x201, 0xffc0000800ULL), GP);	/* bit 39 */
		CHECK_EQ(rd(&f, 0x200), 6);
		CHECK_EQ(rdmsr(&f, 0x210, &v), -EMU_EXIT);		/* no ninth pair */
		fx_fini(&f);
	}
}

TEST(msr_intel_profile)
{
	struct fx f;
	uint64_t v;

	REQUIRE(fx_vendor(&f, VMM_VENDOR_INTEL) == 0);
	/* FEATURE_CONTROL: locked, VMX off. */
	CHECK_EQ(rd(&f, 0x3a), 1);
	CHECK_EQ(wrmsr(&f, 0x3a, 5), GP);
	/* PLATFORM_INFO: ratio 10 (1 GHz), no CPUID faulting. */
	CHECK_EQ(rd(&f, 0xce), 0xa00);
	CHECK_EQ(wrmsr(&f, 0xce, 0), GP);
	CHECK_EQ(rd(&f, 0x140), 0);
	CHECK_EQ(wrmsr(&f, 0x140, 0), EMU_OK);
	CHECK_EQ(wrmsr(&f, 0x140, 1), GP);
	/* MISC_ENABLE: fast strings on (else Linux drops ERMS); only that bit moves. */
	CHECK_EQ(rd(&f, 0x1a0), 0x1801);
	CHECK_EQ(wrmsr(&f, 0x1a0, 0x1800), EMU_OK);
	CHECK_EQ(rd(&f, 0x1a0), 0x1800);
	CHECK_EQ(wrmsr(&f, 0x1a0, 0x1800 | (1ULL << 22)), GP);	/* limit CPUID */
	CHECK_EQ(wrmsr(&f, 0x1a0, 0x0800), GP);			/* PEBS unavailable is RO */
	/* AMD's MSRs are not this CPU's. */
	CHECK_EQ(rdmsr(&f, 0xc0010015, &v), -EMU_EXIT);
	CHECK_EQ(rdmsr(&f, 0xc0011029, &v), -EMU_EXIT);
	CHECK_EQ(rdmsr(&f, 0xc0010010, &v), -EMU_EXIT);
	fx_fini(&f);
}

TEST(msr_amd_profile)
{
	struct fx f;
	uint64_t v;

	REQUIRE(fx_vendor(&f, VMM_VENDOR_AMD) == 0);
	/* HWCR: SMMLOCK and TscFreqSel stay 1; Linux sets FFDIS (6) on K8. */
	CHECK_EQ(rd(&f, 0xc0010015), 0x01000001);
	CHECK_EQ(wrmsr(&f, 0xc0010015, 0x01000041), EMU_OK);
	CHECK_EQ(rd(&f, 0xc0010015), 0x01000041);
	CHECK_EQ(wrmsr(&f, 0xc0010015, 0x01000040), GP);
	CHECK_EQ(wrmsr(&f, 0xc0010015, 0x00000041), GP);
	CHECK_EQ(wrmsr(&f, 0xc0010015, 0x101000041ULL), GP);
	/* SYSCFG: nothing to enable; Linux only clears MtrrFixDramModEn when set. */
	CHECK_EQ(rd(&f, 0xc0010010), 0);
	CHECK_EQ(wrmsr(&f, 0xc0010010, 0), EMU_OK);
	CHECK_EQ(wrmsr(&f, 0xc0010010, 1ULL << 19), GP);
	/* INT_PENDING_MSG: read by the erratum 400 check, no C1E. */
	CHECK_EQ(rd(&f, 0xc0010055), 0);
	/* VM_CR: SVM disabled and locked. */
	CHECK_EQ(rd(&f, 0xc0010114), 0x18);
	CHECK_EQ(wrmsr(&f, 0xc0010114, 0), GP);
	/* TSEG: locked by SMMLOCK. */
	CHECK_EQ(rd(&f, 0xc0010112), 0);
	CHECK_EQ(wrmsr(&f, 0xc0010113, 0), GP);
	/* DE_CFG: LFENCE serializing. */
	CHECK_EQ(rd(&f, 0xc0011029), 2);
	CHECK_EQ(wrmsr(&f, 0xc0011029, 2), EMU_OK);
	CHECK_EQ(wrmsr(&f, 0xc0011029, 6), GP);
	CHECK_EQ(rd(&f, 0xc0011029), 2);
	/* Intel's MSRs are not this CPU's. */
	CHECK_EQ(rdmsr(&f, 0x3a, &v), -EMU_EXIT);
	CHECK_EQ(rdmsr(&f, 0xce, &v), -EMU_EXIT);
	CHECK_EQ(rdmsr(&f, 0x1a0, &v), -EMU_EXIT);
	CHECK_EQ(rdmsr(&f, 0x140, &v), -EMU_EXIT);
	fx_fini(&f);
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
rdtsc(struct fx *f)
{
	CHECK_EQ(FX_RUN(f, 0x0f, 0x31), EMU_OK);
	return (f->cpu->st.gpr[GPR_RDX] << 32) | (uint32_t)f->cpu->st.gpr[GPR_RAX];
}

TEST(tsc_rate_and_adjust)
{
	struct fx f;
	uint64_t t0, t1, adj;
	int64_t h0, h1;

	REQUIRE(fx_vendor(&f, VMM_VENDOR_INTEL) == 0);
	/* 1 GHz: the TSC moves as host nanoseconds do. */
	h0 = mono_ns();
	t0 = rdtsc(&f);
	h1 = mono_ns();
	while (mono_ns() - h1 < 20000000)
		;
	t1 = rdtsc(&f);
	h1 = mono_ns();
	/*
	 * Both counts come from CLOCK_MONOTONIC: t1 - t0 lies within the
	 * host interval that brackets it, however long the host stopped us.
	 */
	CHECK(t1 - t0 >= 20000000 && t1 - t0 <= (uint64_t)(h1 - h0));
	/* WRMSR TSC moves TSC_ADJUST by the same amount (SDM Vol. 3B 18.17.3). */
	t0 = rd(&f, 0x10);
	CHECK_EQ(wrmsr(&f, 0x10, t0 + 5000000000ULL), EMU_OK);
	/* Bounds wide enough for a loaded host that stops us for a while. */
	adj = rd(&f, 0x3b);
	CHECK(adj >= 3000000000ULL && adj <= 5000000000ULL);
	t1 = rd(&f, 0x10);
	CHECK(t1 >= t0 + 5000000000ULL && t1 < t0 + 7000000000ULL);
	/* ... and the reverse. */
	CHECK_EQ(wrmsr(&f, 0x3b, 0), EMU_OK);
	CHECK_EQ(rd(&f, 0x3b), 0);
	CHECK(rd(&f, 0x10) < t0 + 3000000000ULL);
	CHECK_EQ(wrmsr(&f, 0x3b, -1000000ULL), EMU_OK);
	CHECK(rd(&f, 0x10) < t0 + 3000000000ULL - 1000000ULL);
	fx_fini(&f);
}

/* The guest's time from its pvclock page, as Linux's pvclock_clocksource_read. */
static uint64_t
pvclock_ns(const uint8_t *p, uint64_t tsc)
{
	uint64_t ts, sys, delta;
	uint32_t mul;
	int8_t shift;

	memcpy(&ts, p + 8, 8);
	memcpy(&sys, p + 16, 8);
	memcpy(&mul, p + 24, 4);
	memcpy(&shift, p + 28, 1);
	delta = tsc - ts;
	delta = shift < 0 ? delta >> -shift : delta << shift;
	return sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

TEST(kvmclock_page)
{
	struct fx f;
	uint8_t *p;
	uint64_t tsc, ns, v;
	uint32_t mul;

	REQUIRE(fx_vendor(&f, VMM_VENDOR_AMD) == 0);
	p = f.ram + FX_DATA;
	memset(p, 0x81, 64);
	memcpy(p, &(uint32_t){ 5 }, 4);		/* odd junk version */
	/* Disabled: kept, nothing written. */
	CHECK_EQ(wrmsr(&f, 0x4b564d01, FX_DATA), EMU_OK);
	CHECK_EQ(rd(&f, 0x4b564d01), FX_DATA);
	CHECK_EQ(p[8], 0x81);
	/* Enabled: the page is filled, version even (5 -> 6 -> 7 -> 8). */
	CHECK_EQ(wrmsr(&f, 0x4b564d01, FX_DATA | 1), EMU_OK);
	CHECK_EQ(rd(&f, 0x4b564d01), FX_DATA | 1);
	CHECK_EQ(get32(p), 8);
	memcpy(&mul, p + 24, 4);
	CHECK_EQ(mul, 0x80000000u);
	CHECK_EQ(p[28], 1);		/* tsc_shift */
	CHECK_EQ(p[29], 1);		/* PVCLOCK_TSC_STABLE_BIT */
	CHECK_EQ(p[30] | p[31], 0);
	CHECK_EQ(p[32], 0x81);		/* nothing past the structure */
	/* The clock it gives is the VM's count, from this vCPU's TSC. */
	tsc = rdtsc(&f);
	ns = pvclock_ns(p, tsc);
	CHECK_EQ(ns, tsc - f.cpu->st.tsc_adjust);
	/* PVCLOCK_GUEST_STOPPED is the guest's to clear (KVM keeps it). */
	p[29] = 2;
	CHECK_EQ(wrmsr(&f, 0x4b564d01, FX_DATA | 1), EMU_OK);
	CHECK_EQ(p[29], 3);
	p[29] = 1;
	CHECK_EQ(get32(p), 10);
	/* A TSC write rewrites the page: time does not jump. */
	CHECK_EQ(wrmsr(&f, 0x10, tsc + 777000000000ULL), EMU_OK);
	CHECK_EQ(get32(p), 12);
	tsc = rdtsc(&f);
	v = pvclock_ns(p, tsc);
	CHECK(v >= ns && v - ns < 1000000000ULL);
	CHECK_EQ(v, tsc - f.cpu->st.tsc_adjust);
	/* An address outside RAM or across a page is kept, nothing is written. */
	CHECK_EQ(wrmsr(&f, 0x4b564d01, (1ULL << 38) | 1), EMU_OK);
	CHECK_EQ(rd(&f, 0x4b564d01), (1ULL << 38) | 1);
	memset(f.ram + FX_DATA + 4096 - 16, 0xaa, 32);
	CHECK_EQ(wrmsr(&f, 0x4b564d01, (FX_DATA + 4096 - 16) | 1), EMU_OK);
	CHECK_EQ(f.ram[FX_DATA + 4096 - 16 + 8], 0xaa);
	CHECK_EQ(get32(p), 12);
	fx_fini(&f);
}

TEST(kvmclock_wall_clock)
{
	struct fx f;
	uint8_t *p;
	uint32_t sec;
	struct timespec now;
	uint64_t boot, count;

	REQUIRE(fx_vendor(&f, VMM_VENDOR_INTEL) == 0);
	p = f.ram + FX_DATA + 100;		/* any alignment */
	memset(p, 0, 16);
	CHECK_EQ(wrmsr(&f, 0x4b564d00, FX_DATA + 100), EMU_OK);
	CHECK_EQ(rd(&f, 0x4b564d00), FX_DATA + 100);
	CHECK_EQ(get32(p), 2);
	memcpy(&sec, p + 4, 4);
	CHECK(get32(p + 8) < 1000000000u);
	/* sec is the wall-clock second at which the count was 0. */
	clock_gettime(CLOCK_REALTIME, &now);
	count = rdtsc(&f);
	boot = (uint64_t)now.tv_sec - count / 1000000000ULL;
	CHECK(sec + 2 >= boot && sec <= boot + 2);
	CHECK_EQ(wrmsr(&f, 0x4b564d00, FX_DATA + 100), EMU_OK);
	CHECK_EQ(get32(p), 4);
	/* Outside RAM: kept for reads, nothing written. */
	CHECK_EQ(wrmsr(&f, 0x4b564d00, 1ULL << 40), EMU_OK);
	CHECK_EQ(rd(&f, 0x4b564d00), 1ULL << 40);
	fx_fini(&f);
}

/*
 * Reads vCPU a then vCPU b and returns b's TSC minus a's. Both come from
 * CLOCK_MONOTONIC, so for vCPUs on one count the difference lies in
 * [0, *span], the host interval bracketing the reads: a bound a loaded
 * host cannot break by stopping us.
 */
static int64_t
tsc_gap(const struct vmm_backend_ops *ops, void *a, struct vm_cpu_state *sa,
    void *b, struct vm_cpu_state *sb, int64_t *span)
{
	int64_t h0 = mono_ns();

	ops->get_state(a, sa);
	ops->get_state(b, sb);
	*span = mono_ns() - h0;
	return (int64_t)(sb->tsc - sa->tsc);
}

/* Two vCPUs of one VM through the backend: the TSC is the VM's. */
TEST(tsc_vm_wide_and_restore)
{
	const struct vmm_backend_ops *ops = &vmm_backend_emu;
	const struct vmm_cpu_profile prof = { .vendor = VMM_VENDOR_INTEL };
	static struct vm_cpu_state st0, st1;
	struct vmm_memmap map = { 0 };
	void *vm, *v0, *v1;
	int64_t d, span;

	REQUIRE(ops->vm_init(NULL, &prof, &vm) == 0);
	REQUIRE(ops->vm_memmap(vm, &map) == 0);
	REQUIRE(ops->vcpu_init(vm, NULL, 0, &v0) == 0);
	/* A vCPU created later, or reset (TSC 0), joins the VM's count. */
	st0.tsc = 0;
	while (st0.tsc < 30000000)
		ops->get_state(v0, &st0);
	REQUIRE(ops->vcpu_init(vm, NULL, 1, &v1) == 0);
	d = tsc_gap(ops, v1, &st1, v0, &st0, &span);
	CHECK(d >= 0 && d <= span);
	vm_cpu_state_reset(&st1, 1);
	REQUIRE(ops->set_state(v1, &st1) == 0);
	d = tsc_gap(ops, v1, &st1, v0, &st0, &span);
	CHECK(d >= 0 && d <= span);
	/* Restoring a saved VM: the first vCPU moves the count, the next keeps it. */
	st0.tsc = 9000000000000ULL;
	st0.tsc_adjust = 0;
	REQUIRE(ops->set_state(v0, &st0) == 0);
	st1.tsc = 9000000000000ULL + 123456;
	st1.tsc_adjust = 0;
	REQUIRE(ops->set_state(v1, &st1) == 0);
	d = tsc_gap(ops, v0, &st0, v1, &st1, &span);
	CHECK(st0.tsc >= 9000000000000ULL && st0.tsc < 9001000000000ULL);
	CHECK(d >= 0 && d <= span);
	/* A vCPU's own TSC_ADJUST survives: its TSC differs by exactly that. */
	st1.tsc += 5000;
	st1.tsc_adjust = 5000;
	REQUIRE(ops->set_state(v1, &st1) == 0);
	d = tsc_gap(ops, v0, &st0, v1, &st1, &span);
	CHECK_EQ(st1.tsc_adjust, 5000);
	CHECK(d >= 5000 && d <= span + 5000);
	/* The wall-clock MSR is the VM's: a reset vCPU (0) does not clear it. */
	st0.kvm_wall_clock = 0x1000;
	REQUIRE(ops->set_state(v0, &st0) == 0);
	vm_cpu_state_reset(&st1, 1);
	REQUIRE(ops->set_state(v1, &st1) == 0);
	ops->get_state(v1, &st1);
	CHECK_EQ(st1.kvm_wall_clock, 0x1000);
	ops->vcpu_cleanup(v1);
	ops->vcpu_cleanup(v0);
	ops->vm_cleanup(vm);
}

TEST(cpuid_time_leaves)
{
	struct vmm_cpu_profile intel = { .vendor = VMM_VENDOR_INTEL };
	struct vmm_cpu_profile amd = { .vendor = VMM_VENDOR_AMD };
	uint32_t r[4];

	vmm_cpuid(&intel, 0, 0, 0, r);
	CHECK_EQ(r[0], 0x1f);
	vmm_cpuid(&amd, 0, 0, 0, r);
	CHECK_EQ(r[0], 0xd);
	/* 15H: crystal = the LAPIC timer's clock, TSC = crystal * 125 / 16 = 1 GHz. */
	vmm_cpuid(&intel, 0, 0x15, 0, r);
	CHECK_EQ(r[2], 128000000u);
	CHECK_EQ((uint64_t)r[2] * r[1] / r[0], 1000000000ULL);
	vmm_cpuid(&intel, 0, 0x16, 0, r);
	CHECK_EQ(r[0], 1000);
	CHECK_EQ(r[1], 1000);
	CHECK_EQ(r[2], 100);
	vmm_cpuid(&amd, 0, 0x15, 0, r);
	CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
	/* Both: KVM's signature and kvmclock features, invariant TSC, hypervisor bit. */
	for (int i = 0; i < 2; i++) {
		const struct vmm_cpu_profile *p = i ? &amd : &intel;
		char sig[13];

		vmm_cpuid(p, 0, 0x40000000u, 0, r);
		CHECK_EQ(r[0], 0x40000001u);
		memcpy(sig, &r[1], 4);
		memcpy(sig + 4, &r[2], 4);
		memcpy(sig + 8, &r[3], 4);
		sig[12] = 'x';
		CHECK(memcmp(sig, "KVMKVMKVM\0\0\0", 12) == 0);
		vmm_cpuid(p, 0, 0x40000001u, 0, r);
		CHECK_EQ(r[0], (1u << 3) | (1u << 24));
		CHECK_EQ(r[1] | r[2] | r[3], 0);
		vmm_cpuid(p, 0, 0x80000007u, 0, r);
		CHECK(r[3] & (1u << 8));
		vmm_cpuid(p, 0, 1, 0, r);
		CHECK(r[2] & (1u << 31));
		CHECK(r[3] & (1u << 12));		/* MTRR */
		CHECK_EQ(r[3] & 0x4080, 0x4080);	/* MCE, MCA */
		/* 7: TSC_ADJUST; EDX: SPEC_CTRL, ARCH_CAPABILITIES; no STIBP/SSBD/MD_CLEAR. */
		vmm_cpuid(p, 0, 7, 0, r);
		CHECK_EQ(r[0], 2);
		CHECK(r[1] & (1u << 1));
		CHECK_EQ(r[3], (1u << 26) | (1u << 29));
		/* 7.2:EDX BHI_CTRL on Intel (Linux assumes BHI under a hypervisor). */
		vmm_cpuid(p, 0, 7, 2, r);
		CHECK_EQ(r[3], i ? 0 : 1u << 4);
	}
}
