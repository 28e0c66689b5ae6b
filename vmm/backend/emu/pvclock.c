/*
 * pvclock.c - time on the software CPU: one VM-wide, constant-rate TSC and
 * KVM's paravirtual clock (kvmclock) on top of it.
 *
 * The TSC runs at EMU_TSC_HZ (1 GHz, whatever the host's TSC does) from
 * the VM's origin, a host CLOCK_MONOTONIC instant at which the VM's count
 * was 0.  A vCPU's TSC is that count plus its IA32_TSC_ADJUST, as on
 * hardware, where every TSC is reset together and a WRMSR to IA32_TSC
 * moves only that processor's TSC_ADJUST (SDM Vol. 3B 18.17.3).  So the
 * TSCs of all vCPUs are the same unless the guest writes one, and Linux's
 * TSC_ADJUST and warp checks (arch/x86/kernel/tsc_sync.c) pass.  CPUID
 * 15H/16H (Intel) and 80000007H EDX[8] (invariant TSC) describe it.
 *
 * kvmclock follows KVM (arch/x86/kvm/x86.c) and what Linux reads
 * (arch/x86/kernel/kvmclock.c, pvclock.c, include/asm/pvclock-abi.h):
 * MSR_KVM_SYSTEM_TIME_NEW holds the guest-physical address of a 32-byte
 * struct pvclock_vcpu_time_info with bit 0 enabling it; the CPU fills it
 * when the MSR is written, when the vCPU's TSC moves against the count,
 * and when the vCPU's state is restored.  system_time is the VM's count in
 * nanoseconds at tsc_timestamp (the vCPU's TSC at the same instant), the
 * scale is exact for 1 GHz (mul 2^31, shift 1), and PVCLOCK_TSC_STABLE_BIT
 * is set: every vCPU computes the same time from its own TSC.
 * MSR_KVM_WALL_CLOCK_NEW (per VM) names a struct pvclock_wall_clock that
 * gets the wall-clock time at which the count was 0.  As KVM, the MSRs
 * take any value; an address whose structure is not wholly in RAM (for the
 * per-vCPU page: not within one page) is kept but nothing is written.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "machine.h"

/* struct pvclock_vcpu_time_info (32 bytes, packed) */
#define PVTI_SIZE		32
#define PVTI_VERSION		0
#define PVTI_TSC_TIMESTAMP	8
#define PVTI_SYSTEM_TIME	16
#define PVTI_MUL		24
#define PVTI_SHIFT		28
#define PVTI_FLAGS		29
#define PVCLOCK_TSC_STABLE_BIT	0x01
#define PVCLOCK_GUEST_STOPPED	0x02
/* struct pvclock_wall_clock: version, sec, nsec (12 bytes) */
#define PVWC_SIZE		12

static int64_t
host_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
emu_clock_init(struct emu_clock *clk)
{
	atomic_store(&clk->origin, host_ns(CLOCK_MONOTONIC));
	atomic_store(&clk->kvm_wall_clock, 0);
}

/* The VM's count at host time @now (1 GHz: one tick per nanosecond). */
static uint64_t
count_at(const struct emu_cpu *cpu, int64_t now)
{
	return (uint64_t)(now - atomic_load_explicit(&cpu->clock->origin, memory_order_relaxed));
}

uint64_t
emu_tsc_read(const struct emu_cpu *cpu)
{
	return count_at(cpu, host_ns(CLOCK_MONOTONIC)) + cpu->st.tsc_adjust;
}

void
emu_tsc_write(struct emu_cpu *cpu, uint64_t val)
{
	cpu->st.tsc_adjust += val - emu_tsc_read(cpu);
	emu_pvclock_update(cpu);
}

void
emu_tsc_adjust_write(struct emu_cpu *cpu, uint64_t val)
{
	cpu->st.tsc_adjust = val;
	emu_pvclock_update(cpu);
}

void
emu_tsc_restore(struct emu_cpu *cpu)
{
	int64_t now = host_ns(CLOCK_MONOTONIC);
	uint64_t want = cpu->st.tsc - cpu->st.tsc_adjust;
	int64_t diff = (int64_t)(want - count_at(cpu, now));

	/*
	 * KVM's rules for TSC values userland writes (kvm_synchronize_tsc):
	 * 0 (a vCPU created or reset) or a value within a second of the
	 * VM's count keeps the count; anything else moves it.
	 */
	if (cpu->st.tsc != 0 && (diff <= -(int64_t)EMU_TSC_HZ || diff >= (int64_t)EMU_TSC_HZ))
		atomic_store(&cpu->clock->origin, now - (int64_t)want);
	/* The wall-clock MSR is the VM's: a vCPU reset to 0 does not clear it. */
	if (cpu->st.kvm_wall_clock != 0)
		atomic_store(&cpu->clock->kvm_wall_clock, cpu->st.kvm_wall_clock);
	emu_pvclock_update(cpu);
}

/*
 * The version protocol (pvclock_read_begin/retry): odd while the fields
 * change.  Guest addresses may be misaligned, so memcpy, with full fences
 * (x86 keeps stores in order; the fences keep the compiler from moving
 * them, and other vCPUs read the structure concurrently).
 */
static uint32_t
version_begin(uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	/* An odd version is junk from before the first update (KVM does the same). */
	if (v & 1)
		v++;
	v++;
	memcpy(p, &v, 4);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return v;
}

static void
version_end(uint8_t *p, uint32_t odd)
{
	uint32_t v = odd + 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(p, &v, 4);
}

void
emu_pvclock_update(struct emu_cpu *cpu)
{
	uint64_t gpa = cpu->st.kvm_system_time & ~1ULL, count, tsc;
	uint32_t odd, mul = 1u << 31;
	uint8_t *p, flags;
	int8_t shift = 1;
	int64_t now;

	if (!(cpu->st.kvm_system_time & 1) || (gpa & 4095) + PVTI_SIZE > 4096 ||
	    cpu->mem == NULL || (p = emu_gpa_to_hva(cpu, gpa, PVTI_SIZE)) == NULL)
		return;
	now = host_ns(CLOCK_MONOTONIC);
	count = count_at(cpu, now);
	tsc = count + cpu->st.tsc_adjust;
	odd = version_begin(p + PVTI_VERSION);
	/* The guest clears PVCLOCK_GUEST_STOPPED itself; keep it as KVM does. */
	flags = PVCLOCK_TSC_STABLE_BIT | (p[PVTI_FLAGS] & PVCLOCK_GUEST_STOPPED);
	memcpy(p + PVTI_TSC_TIMESTAMP, &tsc, 8);
	memcpy(p + PVTI_SYSTEM_TIME, &count, 8);
	/* ns = ((tsc delta << 1) * 2^31) >> 32: exactly the delta at 1 GHz. */
	memcpy(p + PVTI_MUL, &mul, 4);
	memcpy(p + PVTI_SHIFT, &shift, 1);
	p[PVTI_FLAGS] = flags;
	p[30] = p[31] = 0;
	version_end(p + PVTI_VERSION, odd);
	emu_code_written(cpu, gpa, PVTI_SIZE);
}

void
emu_kvm_system_time_write(struct emu_cpu *cpu, uint64_t val)
{
	cpu->st.kvm_system_time = val;
	emu_pvclock_update(cpu);
}

void
emu_kvm_wall_clock_write(struct emu_cpu *cpu, uint64_t val)
{
	uint64_t boot_ns;
	uint32_t odd, sec, nsec;
	uint8_t *p;

	atomic_store(&cpu->clock->kvm_wall_clock, val);
	cpu->st.kvm_wall_clock = val;
	p = cpu->mem != NULL ? emu_gpa_to_hva(cpu, val, PVWC_SIZE) : NULL;
	if (p == NULL)
		return;
	/* The wall-clock time at which the VM's count (kvmclock's time) was 0. */
	boot_ns = (uint64_t)(host_ns(CLOCK_REALTIME) - host_ns(CLOCK_MONOTONIC) +
	    atomic_load(&cpu->clock->origin));
	sec = (uint32_t)(boot_ns / 1000000000ULL);
	nsec = (uint32_t)(boot_ns % 1000000000ULL);
	odd = version_begin(p);
	memcpy(p + 4, &sec, 4);
	memcpy(p + 8, &nsec, 4);
	version_end(p, odd);
	emu_code_written(cpu, val, PVWC_SIZE);
}
