/*
 * kvm.c - the KVM backend: /dev/kvm checks, the VM, guest memory slots,
 * CPUID, the MSR filter, and the ops table (docs/kvm.md).
 *
 * Guest RAM is the instance's mem file, already mapped MAP_SHARED by libvmm
 * (vm_map_memory): each segment of the memory map becomes one memory slot
 * over that mapping (api.rst 4.35 KVM_SET_USER_MEMORY_REGION), so
 * bhyveload, bhyvectl and the devices see the very pages the guest writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <asm/prctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm.h"
#include "vmm_core.h"
#include "vmm_store.h"

/*
 * Addresses KVM needs on Intel hosts (api.rst 4.47 KVM_SET_TSS_ADDR, 4.71
 * KVM_SET_IDENTITY_MAP_ADDR): three pages for the real-mode TSS and one
 * for the EPT identity map, below 4 GiB and outside RAM and every device
 * window (bhyve/machine.h); QEMU uses the same two.  AMD hosts ignore them.
 */
#define KVM_IDENTITY_MAP_ADDR	0xfeffc000ULL
#define KVM_TSS_ADDR		0xfeffd000ULL

#define KVM_MAX_CPUID		256

const struct kvm_required_cap kvm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR" },
	{ KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER" },
	{ KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
	{ KVM_CAP_XCRS, "KVM_CAP_XCRS" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
	{ KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_TSC_DEADLINE_TIMER, "KVM_CAP_TSC_DEADLINE_TIMER" },
	{ KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ" },
	{ 0, NULL },
};

/* The KVM device: /dev/kvm, or $LHYVE_KVM_DEV (tests give a missing or wrong one). */
static const char *
kvm_dev_path(void)
{
	const char *p = getenv("LHYVE_KVM_DEV");

	return p != NULL && p[0] != '\0' ? p : "/dev/kvm";
}

/* PVM hosts: KVM without hardware virtualization (module kvm_pvm). */
static bool
kvm_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* Open and check /dev/kvm; the reason of a failure in vmm_store_strerror(). */
static int
kvm_open_checked(void)
{
	const char *dev = kvm_dev_path();
	int fd, v, i, error;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		error = errno;
		if (error == ENOENT)
			return vmm_store_fail(ENOENT, "%s does not exist (no hardware "
			    "virtualization, or the kvm module is not loaded)", dev);
		if (error == EACCES || error == EPERM)
			return vmm_store_fail(error, "no permission to open %s (the user "
			    "needs to be in its group, usually kvm)", dev);
		return vmm_store_fail(error, "cannot open %s: %s", dev, strerror(error));
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(fd);
		if (v < 0)
			return vmm_store_fail(ENODEV, "%s is not a KVM device", dev);
		return vmm_store_fail(ENOTSUP, "%s has KVM API version %d; lhyve needs %d", dev,
		    v, KVM_API_VERSION);
	}
	for (i = 0; kvm_required_caps[i].name != NULL; i++) {
		v = ioctl(fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap);
		if (v <= 0 || (kvm_required_caps[i].cap == KVM_CAP_SYNC_REGS &&
		    !(v & KVM_SYNC_X86_REGS))) {
			close(fd);
			return vmm_store_fail(ENOTSUP, "%s lacks %s, which lhyve needs", dev,
			    kvm_required_caps[i].name);
		}
	}
	return fd;
}

/*
 * 0: KVM works here.  1: it works, but auto must not pick it (PVM), with
 * the reason in vmm_store_strerror().  Else a negative errno and the reason.
 */
static int
kvm_probe(void)
{
	int fd = kvm_open_checked();

	if (fd < 0)
		return fd;
	close(fd);
	if (kvm_is_pvm()) {
		vmm_store_fail(ENOTSUP, "/dev/kvm is PVM (module kvm_pvm), which runs only "
		    "PVM-enlightened guest kernels");
		return 1;
	}
	return 0;
}

/*
 * AMX's tile data (XSAVE component 18, 8 KiB) is a dynamic feature: Linux
 * gives it to a guest only after the process asked (Linux
 * Documentation/arch/x86/xstate.rst, ARCH_REQ_XCOMP_GUEST_PERM), before
 * its vCPUs are created; KVM_GET_SUPPORTED_CPUID leaves it out until then.
 * A host without AMX refuses the request, and the profile then has none.
 */
#ifndef ARCH_REQ_XCOMP_GUEST_PERM
#define ARCH_REQ_XCOMP_GUEST_PERM	0x1025
#endif
#define XFEATURE_XTILEDATA		18

static void
amx_permission(void)
{
	(void)syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_GUEST_PERM, XFEATURE_XTILEDATA);
}

static int
get_supported_cpuid(struct kvm_vm *kvm)
{
	struct kvm_cpuid2 *c;
	int n;

	for (n = 64; n <= 4096; n *= 2) {
		c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (c == NULL)
			return -ENOMEM;
		c->nent = (uint32_t)n;
		if (ioctl(kvm->sysfd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kvm->supported = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

/*
 * MSRs that reach userland even though KVM implements them: KVM's
 * paravirtual MSRs that lhyve's CPUID profile does not offer.  The profile
 * offers kvmclock through the new MSRs only (KVM_FEATURE_CLOCKSOURCE2:
 * 0x4b564d00 wall clock, 0x4b564d01 system time), which KVM serves itself;
 * the old clock MSRs (0x11, 0x12) and the rest of 0x4b564d00-0x4b564dff
 * (async PF, steal time, PV EOI, ...) must be absent, as on the software
 * CPU: the filter denies them, KVM exits with KVM_MSR_EXIT_REASON_FILTER,
 * and bhyve answers as for any unknown MSR (#GP, or 0 with -w).  In a
 * range's bitmap a set bit allows (api.rst 4.121 KVM_X86_SET_MSR_FILTER).
 */
static int
kvm_msr_setup(struct kvm_vm *kvm)
{
	static uint8_t deny_pv[256 / 8] = { 0x03 }, deny_old[1];
	struct kvm_enable_cap cap;
	struct kvm_msr_filter filter;

	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL |
	    KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(kvm->vmfd, KVM_ENABLE_CAP, &cap) < 0)
		return vmm_store_fail(errno, "KVM_CAP_X86_USER_SPACE_MSR: %s", strerror(errno));
	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	filter.ranges[0] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 256, .base = 0x4b564d00, .bitmap = deny_pv,
	};
	filter.ranges[1] = (struct kvm_msr_filter_range){
		.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		.nmsrs = 2, .base = 0x11, .bitmap = deny_old,
	};
	if (ioctl(kvm->vmfd, KVM_X86_SET_MSR_FILTER, &filter) < 0)
		return vmm_store_fail(errno, "KVM_X86_SET_MSR_FILTER: %s", strerror(errno));
	return 0;
}

static void
kvm_vm_cleanup(void *vmcookie)
{
	struct kvm_vm *kvm = vmcookie;

	kvm_prober_stop(kvm);
	if (kvm->hook)
		vmm_snapshot_unregister(kvm->vm, KVM_CLOCK_SECTION);
	if (kvm->vmfd >= 0)
		close(kvm->vmfd);
	if (kvm->sysfd >= 0)
		close(kvm->sysfd);
	free(kvm->supported);
	pthread_mutex_destroy(&kvm->vcpus_mtx);
	pthread_mutex_destroy(&kvm->tsc_mtx);
	pthread_cond_destroy(&kvm->prober_cv);
	free(kvm);
}

/*
 * The split irqchip (api.rst 7.15 KVM_CAP_SPLIT_IRQCHIP): the local APICs
 * in the kernel, the IOAPIC and 8259 in userspace (libvmm's vmm/io), with
 * 24 GSI routes reserved for the IOAPIC's pins.  Before any vCPU exists.
 */
static int
kvm_irqchip_setup(struct kvm_vm *kvm)
{
	struct kvm_enable_cap cap;

	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_SPLIT_IRQCHIP;
	cap.args[0] = 24;
	if (ioctl(kvm->vmfd, KVM_ENABLE_CAP, &cap) < 0)
		return vmm_store_fail(errno, "KVM_CAP_SPLIT_IRQCHIP: %s", strerror(errno));
	return 0;
}

/*
 * A message for the local APICs (api.rst 4.71 KVM_SIGNAL_MSI): delivered
 * (> 0) or blocked by the guest's own masking (0); either way done.
 */
int
kvm_vm_msi(void *vmcookie, uint64_t addr, uint32_t data)
{
	struct kvm_vm *kvm = vmcookie;
	struct kvm_msi msi;

	memset(&msi, 0, sizeof(msi));
	msi.address_lo = (uint32_t)addr;
	msi.address_hi = (uint32_t)(addr >> 32);
	msi.data = data;
	if (ioctl(kvm->vmfd, KVM_SIGNAL_MSI, &msi) < 0)
		return -errno;
	return 0;
}

/*
 * The IOAPIC's pins as MSI routes on GSIs 0-23 (api.rst 4.52
 * KVM_SET_GSI_ROUTING).  Delivery goes through KVM_SIGNAL_MSI; the routes
 * are there because with the split irqchip KVM finds the level-triggered
 * vectors whose EOI userspace must see (KVM_EXIT_IOAPIC_EOI) in them.
 */
int
kvm_vm_ioapic_routes(void *vmcookie, const struct vmm_msi_route *r, int n)
{
	struct kvm_vm *kvm = vmcookie;
	struct kvm_irq_routing *rt;
	int i, error = 0;

	if (n < 0 || n > 24)
		return -EINVAL;
	rt = calloc(1, sizeof(*rt) + (size_t)n * sizeof(rt->entries[0]));
	if (rt == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e;

		if (!r[i].valid)
			continue;
		e = &rt->entries[rt->nr++];
		e->gsi = (uint32_t)i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)r[i].addr;
		e->u.msi.address_hi = (uint32_t)(r[i].addr >> 32);
		e->u.msi.data = r[i].data;
	}
	if (ioctl(kvm->vmfd, KVM_SET_GSI_ROUTING, rt) < 0)
		error = -errno;
	free(rt);
	return error;
}

static uint64_t supported_xstate(const struct kvm_vm *kvm);

static int
kvm_vm_init(struct vm *vm, const struct vmm_cpu_profile *prof, void **vmcookie)
{
	struct kvm_vm *kvm;
	pthread_condattr_t ca;
	int error;

	if ((error = kvm_kick_signal_init()) != 0)
		return error;
	kvm = calloc(1, sizeof(*kvm));
	if (kvm == NULL)
		return -ENOMEM;
	kvm->vmfd = -1;
	kvm->vm = vm;
	pthread_mutex_init(&kvm->vcpus_mtx, NULL);
	pthread_mutex_init(&kvm->tsc_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&kvm->prober_cv, &ca);
	pthread_condattr_destroy(&ca);
	kvm->prof = *prof;
	kvm->prof.engine = VMM_ENGINE_KVM;
	kvm->sysfd = kvm_open_checked();
	if (kvm->sysfd < 0) {
		error = kvm->sysfd;
		goto fail;
	}
	kvm->vmfd = ioctl(kvm->sysfd, KVM_CREATE_VM, 0UL);
	if (kvm->vmfd < 0) {
		error = vmm_store_fail(errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	kvm->run_size = ioctl(kvm->sysfd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size < (int)sizeof(struct kvm_run)) {
		error = vmm_store_fail(EINVAL, "KVM_GET_VCPU_MMAP_SIZE: %d", kvm->run_size);
		goto fail;
	}
	amx_permission();
	if ((error = get_supported_cpuid(kvm)) != 0) {
		vmm_store_fail(-error, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-error));
		goto fail;
	}
	kvm->prof.xstate = supported_xstate(kvm);
	if (ioctl(kvm->vmfd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		error = vmm_store_fail(errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(kvm->sysfd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = KVM_IDENTITY_MAP_ADDR;

		if (ioctl(kvm->vmfd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
			error = vmm_store_fail(errno, "KVM_SET_IDENTITY_MAP_ADDR: %s",
			    strerror(errno));
			goto fail;
		}
	}
	if ((error = kvm_msr_setup(kvm)) != 0)
		goto fail;
	if ((error = kvm_irqchip_setup(kvm)) != 0)
		goto fail;
	/* kvmclock, saved with the VM; its restore waits for the TSC (kvm_state.c). */
	if ((error = vmm_snapshot_register(vm, KVM_CLOCK_SECTION, kvm_clock_save,
	    kvm_clock_restore, kvm)) != 0)
		goto fail;
	kvm->hook = true;
	*vmcookie = kvm;
	return 0;
fail:
	kvm_vm_cleanup(kvm);
	return error;
}

static int
kvm_vm_memmap(void *vmcookie, const struct vmm_memmap *map)
{
	struct kvm_vm *kvm = vmcookie;
	struct kvm_userspace_memory_region r;
	int i, n;

	if (map->nsegs < 0 || map->nsegs > (int)(sizeof(map->seg) / sizeof(map->seg[0])))
		return -EINVAL;
	n = map->nsegs > kvm->nslots ? map->nsegs : kvm->nslots;
	for (i = 0; i < n; i++) {
		/* A slot of size 0 deletes it (api.rst 4.35). */
		memset(&r, 0, sizeof(r));
		r.slot = (uint32_t)i;
		if (i < map->nsegs && map->seg[i].len != 0) {
			r.guest_phys_addr = map->seg[i].gpa;
			r.memory_size = map->seg[i].len;
			r.userspace_addr = (uint64_t)(uintptr_t)map->seg[i].hva;
		}
		if (ioctl(kvm->vmfd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	kvm->nslots = map->nsegs;
	kvm->map = *map;
	return 0;
}

uint8_t *
kvm_gpa_hva(struct kvm_vm *kvm, uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < kvm->map.nsegs; i++) {
		const struct vmm_memseg *s = &kvm->map.seg[i];
		if (gpa >= s->gpa && len <= s->len && gpa - s->gpa <= s->len - len)
			return s->hva + (gpa - s->gpa);
	}
	return NULL;
}

/* Leaves whose subleaf (ECX) selects the answer (SDM Vol. 2A CPUID). */
static bool
cpuid_indexed(uint32_t leaf)
{
	switch (leaf) {
	case 0x4: case 0x7: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12:
	case 0x14: case 0x17: case 0x18: case 0x1d: case 0x1e: case 0x1f: case 0x20:
	case 0x24: case 0x8000001d: case 0x80000020: case 0x80000026:
		return true;
	default:
		return false;
	}
}

/*
 * Feature words: a bit the policy sets reaches the guest only when KVM can
 * give it (api.rst 4.46 KVM_GET_SUPPORTED_CPUID).  Other words (vendor,
 * signature, brand, sizes, APIC ID) are the policy's alone.
 */
static const struct {
	uint32_t	leaf, sub;
	int		reg;		/* 0 EAX, 1 EBX, 2 ECX, 3 EDX */
	uint32_t	keep;		/* bits not masked: informational only */
} cpuid_features[] = {
	/*
	 * ECX; bit 31: running under a hypervisor; 21 x2APIC and 24
	 * TSC-deadline: the in-kernel LAPIC has both, and api.rst 4.46 says
	 * KVM_GET_SUPPORTED_CPUID reports TSC-deadline as clear regardless.
	 */
	{ 0x1, 0, 2, 1u << 31 | 1u << 21 | 1u << 24 },
	{ 0x1, 0, 3, 0 },
	{ 0x6, 0, 0, 0 },
	{ 0x7, 0, 1, 0 },
	{ 0x7, 0, 2, 0 },
	{ 0x7, 0, 3, 0 },
	{ 0x7, 1, 0, 0 },
	{ 0xd, 1, 0, 0 },
	{ 0x80000001, 0, 2, 0 },
	{ 0x80000001, 0, 3, 0 },
	{ 0x80000007, 0, 3, 0 },
	{ 0x80000008, 0, 1, 0 },
};

static const struct kvm_cpuid_entry2 *
supported_entry(const struct kvm_vm *kvm, uint32_t leaf, uint32_t sub)
{
	uint32_t i;

	for (i = 0; i < kvm->supported->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &kvm->supported->entries[i];
		if (e->function == leaf &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == sub))
			return e;
	}
	return NULL;
}

/*
 * The XSAVE components beyond x87 and SSE the profile offers on this host:
 * those KVM supports (CPUID 0DH.0 EAX/EDX) whose size and standard-format
 * offset (0DH.i EAX, EBX) are lhyve's (vmm_backend.h), since the state
 * file keeps them there and KVM's XSAVE area has the host's layout.
 * AVX-512 needs its three components and AVX, AMX its two (SDM Vol. 1
 * 13.3); KVM reports AMX only to a process with the permission
 * (amx_permission).
 */
static uint64_t
supported_xstate(const struct kvm_vm *kvm)
{
	const struct kvm_cpuid_entry2 *s0 = supported_entry(kvm, 0xd, 0), *s;
	uint64_t sup, x = 0;
	uint32_t off, size;
	int bit;

	if (s0 == NULL)
		return 0;
	sup = s0->eax | (uint64_t)s0->edx << 32;
	for (bit = 2; bit < 64; bit++) {
		if (!(sup & (1ULL << bit)) || !vm_xstate_layout(bit, &off, &size))
			continue;
		s = supported_entry(kvm, 0xd, (uint32_t)bit);
		if (s != NULL && s->eax == size && s->ebx == off)
			x |= 1ULL << bit;
	}
	if (!(x & VM_XSTATE_AVX) || (x & VM_XSTATE_AVX512) != VM_XSTATE_AVX512)
		x &= ~VM_XSTATE_AVX512;
	if ((x & VM_XSTATE_AMX) != VM_XSTATE_AMX)
		x &= ~VM_XSTATE_AMX;
	return x & VM_XSTATE_EXT;
}

static void
cpuid_mask(const struct kvm_vm *kvm, struct kvm_cpuid_entry2 *e)
{
	const struct kvm_cpuid_entry2 *s;
	uint32_t *regs[4] = { &e->eax, &e->ebx, &e->ecx, &e->edx };
	uint32_t sup[4];
	size_t i;

	for (i = 0; i < sizeof(cpuid_features) / sizeof(cpuid_features[0]); i++) {
		if (cpuid_features[i].leaf != e->function || cpuid_features[i].sub != e->index)
			continue;
		s = supported_entry(kvm, e->function, e->index);
		memset(sup, 0, sizeof(sup));
		if (s != NULL) {
			sup[0] = s->eax; sup[1] = s->ebx; sup[2] = s->ecx; sup[3] = s->edx;
		}
		*regs[cpuid_features[i].reg] &= sup[cpuid_features[i].reg] | cpuid_features[i].keep;
	}
}

/* The host kernel's clocksource is its TSC (sysfs, Linux's clocksource ABI). */
static bool
host_clocksource_tsc(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	return strcmp(buf, "tsc\n") == 0 || strcmp(buf, "tsc") == 0;
}

static void
cpuid_add(struct kvm_cpuid2 *c, const struct kvm_vm *kvm, uint32_t leaf, uint32_t sub,
    bool indexed, const uint32_t r[4])
{
	struct kvm_cpuid_entry2 *e;

	if (c->nent >= KVM_MAX_CPUID)
		return;
	e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = leaf;
	e->index = sub;
	e->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	e->eax = r[0]; e->ebx = r[1]; e->ecx = r[2]; e->edx = r[3];
	cpuid_mask(kvm, e);
	/*
	 * A kept XSAVE component's flags (CPUID 0DH.i ECX: bit 1 aligned to
	 * 64 bytes in the compacted format, bit 2 XFD applies) are the
	 * host's: XSAVEC in the guest lays the area out by them.
	 */
	if (leaf == 0xd && sub >= 2 && e->eax != 0) {
		const struct kvm_cpuid_entry2 *s = supported_entry(kvm, leaf, sub);

		e->ecx = s != NULL ? s->ecx & 0x6 : 0;
	}
	/*
	 * Invariant TSC (80000007H EDX[8]), which the policy offers: KVM
	 * reports it only when the host's CPUID says so, but the guest's TSC
	 * runs at a constant rate whenever the host kernel clocks itself by
	 * its TSC (a TSC it found unstable it would not use), and every vCPU
	 * has one offset (kvm_state.c).  Without it, Linux on an AMD profile
	 * with two or more CPUs marks the TSC unstable ("TSCs
	 * unsynchronized", arch/x86/kernel/tsc.c unsynchronized_tsc).
	 */
	if (leaf == 0x80000007 && (r[3] & (1u << 8)) && host_clocksource_tsc())
		e->edx |= 1u << 8;
}

/* The policy of vmm/vmm_cpuid.c, leaf by leaf, into KVM_SET_CPUID2 (api.rst 4.73). */
int
kvm_vcpu_set_cpuid(struct kvm_vcpu *vc)
{
	const struct kvm_vm *kvm = vc->vm;
	struct kvm_cpuid2 *c;
	uint32_t r[4], max, leaf, sub, base;
	int error = 0, b;

	c = calloc(1, sizeof(*c) + KVM_MAX_CPUID * sizeof(c->entries[0]));
	if (c == NULL)
		return -ENOMEM;
	/* CPUID 15H/16H describe KVM's TSC (api.rst 4.56 KVM_GET_TSC_KHZ). */
	if (kvm->prof.tsc_khz == 0) {
		int khz = ioctl(vc->fd, KVM_GET_TSC_KHZ, 0);

		if (khz > 0)
			vc->vm->prof.tsc_khz = (uint32_t)khz;
	}
	/* Basic, hypervisor (KVM's signature and kvmclock features) and extended leaves. */
	for (b = 0; b < 3; b++) {
		base = b == 0 ? 0 : b == 1 ? 0x40000000u : 0x80000000u;
		vmm_cpuid(&kvm->prof, vc->id, base, 0, r);
		max = r[0];
		if (max < base || max - base > 0xff)
			continue;
		for (leaf = base; leaf <= max; leaf++) {
			if (!cpuid_indexed(leaf)) {
				vmm_cpuid(&kvm->prof, vc->id, leaf, 0, r);
				cpuid_add(c, kvm, leaf, 0, false, r);
				continue;
			}
			for (sub = 0; sub < 64; sub++) {
				vmm_cpuid(&kvm->prof, vc->id, leaf, sub, r);
				if (sub == 0 || (r[0] | r[1] | r[2] | r[3]) != 0)
					cpuid_add(c, kvm, leaf, sub, true, r);
			}
		}
	}
	if (ioctl(vc->fd, KVM_SET_CPUID2, c) < 0)
		error = -errno;
	free(c);
	return error;
}

const struct vmm_backend_ops vmm_backend_kvm = {
	.name = "kvm",
	.xstate = VM_XSTATE_ALL,
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_cleanup = kvm_vm_cleanup,
	.vm_memmap = kvm_vm_memmap,
	.mem_written = NULL,	/* KVM decodes from guest memory every time */
	.vcpu_init = kvm_vcpu_init,
	.vcpu_cleanup = kvm_vcpu_cleanup,
	.run = kvm_vcpu_run,
	.complete = kvm_vcpu_complete,
	.kick = kvm_vcpu_kick,
	.get_state = kvm_vcpu_get_state,
	.set_state = kvm_vcpu_set_state,
	.get_reg = kvm_vcpu_get_reg,
	.set_reg = kvm_vcpu_set_reg,
	.get_desc = kvm_vcpu_get_desc,
	.set_desc = kvm_vcpu_set_desc,
	.inject_exception = kvm_vcpu_inject_exception,
	.inject_nmi = kvm_vcpu_inject_nmi,
	.set_intr_source = kvm_vcpu_set_intr_source,
	.get_cap = kvm_vcpu_get_cap,
	.set_cap = kvm_vcpu_set_cap,
	.get_stats = kvm_vcpu_get_stats,
	.msi = kvm_vm_msi,
	.ioapic_routes = kvm_vm_ioapic_routes,
	.lapic_info = kvm_vcpu_lapic_info,
	.ioeventfd = kvm_vm_ioeventfd,
	.lapic_save = kvm_vcpu_lapic_save,
	.lapic_restore = kvm_vcpu_lapic_restore,
};
