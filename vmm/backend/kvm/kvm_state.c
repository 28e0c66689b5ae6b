/*
 * kvm_state.c - a vCPU's whole state between lhyve's struct vm_cpu_state
 * (the store's record, docs/store.md) and KVM's pieces of it (api.rst 4):
 *
 *   gpr, rip, rflags                    KVM_GET/SET_REGS
 *   cr0-cr4, cr8, efer, apic_base,      KVM_GET/SET_SREGS
 *   segments, gdtr, idtr
 *   x87/SSE (FXSAVE image), xcr0        KVM_GET_XSAVE2/SET_XSAVE, KVM_GET/SET_XCRS
 *   SYSCALL/SYSENTER MSRs, PAT,         KVM_GET/SET_MSRS
 *   TSC_AUX, MISC_ENABLE, KERNEL_GS_BASE,
 *   kvmclock's MSRs
 *   TSC                                 one offset for the VM (tsc_load)
 *   the VM's kvmclock                   KVM_GET/SET_CLOCK, "kvmclock" section
 *   interrupt shadow, pending           KVM_GET/SET_VCPU_EVENTS
 *   exception or interrupt, NMI
 *   dr0-dr3, dr6, dr7                   KVM_GET/SET_DEBUGREGS
 *
 * The PDPTEs are not kept (KVM reloads them from CR3 in PAE mode).  The
 * activity state is KVM_GET/SET_MP_STATE (the in-kernel LAPIC takes HLT
 * and INIT-SIPI); the LAPIC itself is kvm_lapic.c's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "kvm.h"
#include "vmm_store.h"

/* The MSRs of struct vm_cpu_state that KVM_GET/SET_MSRS carry (SDM Vol. 4). */
#define MSR_TSC			0x00000010
#define MSR_SYSENTER_CS		0x00000174
#define MSR_SYSENTER_ESP	0x00000175
#define MSR_SYSENTER_EIP	0x00000176
#define MSR_MISC_ENABLE		0x000001a0
#define MSR_PAT			0x00000277
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SFMASK		0xc0000084
#define MSR_KGSBASE		0xc0000102
#define MSR_TSC_AUX		0xc0000103
/* AMX's extended feature disable (SDM Vol. 1 13.14): KVM has them with XFD in CPUID. */
#define MSR_XFD			0x000001c4
#define MSR_XFD_ERR		0x000001c5
/* kvmclock (Linux Documentation/virt/kvm/x86/msr.rst), which the profile offers. */
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

#define NMSRS	16
static const struct {
	uint32_t	index;
	size_t		off;
} state_msrs[NMSRS] = {
	{ MSR_TSC, offsetof(struct vm_cpu_state, tsc) },
	{ MSR_SYSENTER_CS, offsetof(struct vm_cpu_state, sysenter_cs) },
	{ MSR_SYSENTER_ESP, offsetof(struct vm_cpu_state, sysenter_esp) },
	{ MSR_SYSENTER_EIP, offsetof(struct vm_cpu_state, sysenter_eip) },
	{ MSR_MISC_ENABLE, offsetof(struct vm_cpu_state, misc_enable) },
	{ MSR_PAT, offsetof(struct vm_cpu_state, pat) },
	{ MSR_STAR, offsetof(struct vm_cpu_state, star) },
	{ MSR_LSTAR, offsetof(struct vm_cpu_state, lstar) },
	{ MSR_CSTAR, offsetof(struct vm_cpu_state, cstar) },
	{ MSR_SFMASK, offsetof(struct vm_cpu_state, sfmask) },
	{ MSR_KGSBASE, offsetof(struct vm_cpu_state, kgs_base) },
	{ MSR_TSC_AUX, offsetof(struct vm_cpu_state, tsc_aux) },
	{ MSR_KVM_WALL_CLOCK_NEW, offsetof(struct vm_cpu_state, kvm_wall_clock) },
	{ MSR_KVM_SYSTEM_TIME_NEW, offsetof(struct vm_cpu_state, kvm_system_time) },
	{ MSR_XFD, offsetof(struct vm_cpu_state, xfd) },
	{ MSR_XFD_ERR, offsetof(struct vm_cpu_state, xfd_err) },
};

/* Interrupt shadow: lhyve's bits (vmm/backend/emu/machine.h) and KVM's. */
#define ST_SHADOW_STI		0x1
#define ST_SHADOW_MOVSS		0x2
#define ST_SHADOW_NMI		0x8

/* XSAVE header (SDM Vol. 1 13.4.2): XSTATE_BV at 512; x87 = bit 0, SSE = bit 1. */
#define XSAVE_HDR		512
#define XSTATE_X87		0x1
#define XSTATE_SSE		0x2

/* Segment registers: VMCS access rights (include/vmm.h) <-> struct kvm_segment. */
static void
seg_from_kvm(struct vm_seg *s, const struct kvm_segment *k)
{
	memset(s, 0, sizeof(*s));
	s->base = k->base;
	s->limit = k->limit;
	s->sel = k->selector;
	s->access = (uint32_t)(k->type & 0xf) | (uint32_t)(k->s & 1) << 4 |
	    (uint32_t)(k->dpl & 3) << 5 | (uint32_t)(k->present & 1) << 7 |
	    (uint32_t)(k->avl & 1) << 12 | (uint32_t)(k->l & 1) << 13 |
	    (uint32_t)(k->db & 1) << 14 | (uint32_t)(k->g & 1) << 15 |
	    (uint32_t)(k->unusable & 1) << 16;
}

static void
seg_to_kvm(struct kvm_segment *k, const struct vm_seg *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->sel;
	k->type = s->access & 0xf;
	k->s = (s->access >> 4) & 1;
	k->dpl = (s->access >> 5) & 3;
	k->present = (s->access >> 7) & 1;
	k->avl = (s->access >> 12) & 1;
	k->l = (s->access >> 13) & 1;
	k->db = (s->access >> 14) & 1;
	k->g = (s->access >> 15) & 1;
	k->unusable = (s->access >> 16) & 1;
}

static struct kvm_segment *
sregs_seg(struct kvm_sregs *sr, int i)
{
	switch (i) {
	case SEG_ES: return &sr->es;
	case SEG_CS: return &sr->cs;
	case SEG_SS: return &sr->ss;
	case SEG_DS: return &sr->ds;
	case SEG_FS: return &sr->fs;
	case SEG_GS: return &sr->gs;
	case SEG_LDTR: return &sr->ldt;
	default: return &sr->tr;
	}
}

static void
regs_from_kvm(struct vm_cpu_state *st, const struct kvm_regs *r)
{
	st->gpr[GPR_RAX] = r->rax; st->gpr[GPR_RCX] = r->rcx;
	st->gpr[GPR_RDX] = r->rdx; st->gpr[GPR_RBX] = r->rbx;
	st->gpr[GPR_RSP] = r->rsp; st->gpr[GPR_RBP] = r->rbp;
	st->gpr[GPR_RSI] = r->rsi; st->gpr[GPR_RDI] = r->rdi;
	st->gpr[GPR_R8] = r->r8; st->gpr[GPR_R9] = r->r9;
	st->gpr[GPR_R10] = r->r10; st->gpr[GPR_R11] = r->r11;
	st->gpr[GPR_R12] = r->r12; st->gpr[GPR_R13] = r->r13;
	st->gpr[GPR_R14] = r->r14; st->gpr[GPR_R15] = r->r15;
	st->rip = r->rip;
	st->rflags = r->rflags;
}

static void
regs_to_kvm(struct kvm_regs *r, const struct vm_cpu_state *st)
{
	memset(r, 0, sizeof(*r));
	r->rax = st->gpr[GPR_RAX]; r->rcx = st->gpr[GPR_RCX];
	r->rdx = st->gpr[GPR_RDX]; r->rbx = st->gpr[GPR_RBX];
	r->rsp = st->gpr[GPR_RSP]; r->rbp = st->gpr[GPR_RBP];
	r->rsi = st->gpr[GPR_RSI]; r->rdi = st->gpr[GPR_RDI];
	r->r8 = st->gpr[GPR_R8]; r->r9 = st->gpr[GPR_R9];
	r->r10 = st->gpr[GPR_R10]; r->r11 = st->gpr[GPR_R11];
	r->r12 = st->gpr[GPR_R12]; r->r13 = st->gpr[GPR_R13];
	r->r14 = st->gpr[GPR_R14]; r->r15 = st->gpr[GPR_R15];
	r->rip = st->rip;
	r->rflags = st->rflags;
}

static int
xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* struct kvm_msrs with room for NMSRS entries (api.rst 4.18). */
struct msr_buf {
	uint32_t		nmsrs;
	uint32_t		pad;
	struct kvm_msr_entry	e[NMSRS];
};
_Static_assert(offsetof(struct msr_buf, e) == offsetof(struct kvm_msrs, entries),
    "struct msr_buf is struct kvm_msrs");

/*
 * A struct kvm_xsave of the size this VM's KVM reads and writes: 4 KiB, or
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM when larger (api.rst 4.139).
 */
static struct kvm_xsave *
xsave_alloc(struct kvm_vcpu *vc)
{
	struct kvm_vm *kvm = vc->vm;
	int n;

	if (kvm->xsave_size == 0) {
		n = ioctl(kvm->vmfd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		kvm->xsave_size = n > (int)sizeof(struct kvm_xsave) ? (size_t)n :
		    sizeof(struct kvm_xsave);
	}
	return calloc(1, kvm->xsave_size);
}

int
kvm_state_get(struct kvm_vcpu *vc, struct vm_cpu_state *st)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xs;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dbg;
	struct msr_buf msrs;
	struct kvm_mp_state mp;
	uint64_t bv;
	int i, n, first, error;

	memset(st, 0, sizeof(*st));
	if ((error = xioctl(vc->fd, KVM_GET_REGS, &regs)) != 0 ||
	    (error = xioctl(vc->fd, KVM_GET_SREGS, &sregs)) != 0 ||
	    (error = xioctl(vc->fd, KVM_GET_VCPU_EVENTS, &ev)) != 0 ||
	    (error = xioctl(vc->fd, KVM_GET_DEBUGREGS, &dbg)) != 0)
		return error;
	regs_from_kvm(st, &regs);
	st->cr0 = sregs.cr0; st->cr2 = sregs.cr2; st->cr3 = sregs.cr3;
	st->cr4 = sregs.cr4; st->cr8 = sregs.cr8; st->efer = sregs.efer;
	st->apic_base = sregs.apic_base;
	for (i = 0; i < SEG_COUNT; i++)
		seg_from_kvm(&st->seg[i], sregs_seg(&sregs, i));
	st->gdtr.base = sregs.gdt.base;
	st->gdtr.limit = sregs.gdt.limit;
	st->idtr.base = sregs.idt.base;
	st->idtr.limit = sregs.idt.limit;

	for (i = 0; i < 4; i++)
		st->dr[i] = dbg.db[i];
	st->dr[6] = dbg.dr6;
	st->dr[7] = dbg.dr7;

	/* SDM Vol. 3A 6.8.3 (STI, MOV SS blocking), 6.7.1 (NMI blocking). */
	st->intr_shadow = ((ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI) ? ST_SHADOW_STI : 0) |
	    ((ev.interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS) ? ST_SHADOW_MOVSS : 0) |
	    (ev.nmi.masked ? ST_SHADOW_NMI : 0);
	if (ev.exception.injected || ev.exception.pending) {
		st->pending_valid = 1;
		st->pending_vector = ev.exception.nr;
		st->pending_errcode_valid = ev.exception.has_error_code;
		st->pending_errcode = ev.exception.error_code;
	} else if (ev.interrupt.injected && !ev.interrupt.soft) {
		st->pending_valid = 1;
		st->pending_vector = ev.interrupt.nr;
	}
	st->nmi_pending = ev.nmi.pending || ev.nmi.injected;

	/* The activity state is KVM's, whose LAPIC takes HLT and INIT-SIPI (api.rst 4.38). */
	if ((error = xioctl(vc->fd, KVM_GET_MP_STATE, &mp)) != 0)
		return error;
	st->halted = mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
	    mp.mp_state == KVM_MP_STATE_INIT_RECEIVED ? VM_ACTIVITY_WAIT_SIPI :
	    mp.mp_state == KVM_MP_STATE_HALTED ? VM_ACTIVITY_HLT : VM_ACTIVITY_ACTIVE;

	/*
	 * KVM_GET_MSRS stops at the first MSR this host's KVM lacks (TSC_AUX
	 * without RDTSCP, api.rst 4.18): that one reads as 0, the rest go on.
	 */
	for (first = 0; first < NMSRS; first += n + 1) {
		memset(&msrs, 0, sizeof(msrs));
		for (i = first; i < NMSRS; i++)
			msrs.e[i - first].index = state_msrs[i].index;
		msrs.nmsrs = (uint32_t)(NMSRS - first);
		n = ioctl(vc->fd, KVM_GET_MSRS, &msrs);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			memcpy((uint8_t *)st + state_msrs[first + i].off, &msrs.e[i].data,
			    sizeof(uint64_t));
	}

	/*
	 * The whole XSAVE area, standard format (api.rst 4.42 KVM_GET_XSAVE,
	 * 4.139 KVM_GET_XSAVE2 with the size KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)
	 * gives, more than 4 KiB when the VM may use AMX).  The store keeps
	 * x87, SSE and the components the profile offers (AVX, AVX-512:
	 * docs/kvm.md "XSAVE"), which kvm.c checked are at lhyve's offsets
	 * on this host; one in use beyond them cannot be kept: one line.
	 */
	if ((xs = xsave_alloc(vc)) == NULL)
		return -ENOMEM;
	if ((error = xioctl(vc->fd, vc->vm->xsave_size > sizeof(*xs) ? KVM_GET_XSAVE2 :
	    KVM_GET_XSAVE, xs)) != 0) {
		free(xs);
		return error;
	}
	memcpy(st->fxsave, xs->region, sizeof(st->fxsave));
	memcpy(&bv, (uint8_t *)xs->region + XSAVE_HDR, sizeof(bv));
	if (bv & ~(uint64_t)(XSTATE_X87 | XSTATE_SSE | (vc->vm->prof.xstate & VM_XSTATE_EXT))) {
		free(xs);
		return vmm_store_fail(ENOTSUP, "vCPU %d: XSAVE state components %#llx are in use; "
		    "the state file keeps x87, SSE and %#llx", vc->id,
		    (unsigned long long)(bv & ~(uint64_t)(XSTATE_X87 | XSTATE_SSE |
		    (vc->vm->prof.xstate & VM_XSTATE_EXT))),
		    (unsigned long long)(vc->vm->prof.xstate & VM_XSTATE_EXT));
	}
	st->xstate_bv = bv & VM_XSTATE_EXT;
	for (i = 2; i < 64; i++) {
		uint32_t off, size;

		if (!(st->xstate_bv & (1ULL << i)) || !vm_xstate_layout(i, &off, &size))
			continue;
		if (off + size > vc->vm->xsave_size) {
			free(xs);
			return vmm_store_fail(EIO, "vCPU %d: KVM's XSAVE area of %zu bytes ends "
			    "inside state component %d", vc->id, vc->vm->xsave_size, i);
		}
		memcpy(st->xsave_ext + (off - VM_XSAVE_LEGACY), (uint8_t *)xs->region + off, size);
	}
	free(xs);
	/* A component in its initial configuration may be left unwritten (SDM Vol. 1 13.6). */
	if (!(bv & XSTATE_X87)) {
		memset(st->fxsave, 0, 24);
		memset(st->fxsave + 32, 0, 128);
		st->fxsave[0] = 0x7f;		/* FCW 037FH */
		st->fxsave[1] = 0x03;
	}
	if (!(bv & XSTATE_SSE))
		memset(st->fxsave + 160, 0, 256);
	st->xcr0 = XSTATE_X87;
	if (xioctl(vc->fd, KVM_GET_XCRS, &xcrs) == 0) {
		for (i = 0; i < (int)xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (xcrs.xcrs[i].xcr == 0)
				st->xcr0 = xcrs.xcrs[i].value;
	}
	return 0;
}

/* A KVM_SET_* the state cannot pass: say which part (libvmm prints it). */
static int
set_ioctl(struct kvm_vcpu *vc, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vc->fd, req, arg) < 0)
		return vmm_store_fail(errno, "KVM refuses the %s: %s", what, strerror(errno));
	return 0;
}

static int
set_msrs(struct kvm_vcpu *vc, const struct vm_cpu_state *st)
{
	struct msr_buf msrs;
	int i, n = 0, r, done;

	memset(&msrs, 0, sizeof(msrs));
	for (i = 0; i < NMSRS; i++) {
		if (state_msrs[i].index == MSR_TSC)	/* tsc_load */
			continue;
		msrs.e[n].index = state_msrs[i].index;
		memcpy(&msrs.e[n].data, (const uint8_t *)st + state_msrs[i].off, sizeof(uint64_t));
		n++;
	}
	/*
	 * KVM_SET_MSRS stops at the first MSR it refuses (api.rst 4.19).  One
	 * this host's KVM lacks may hold 0 (its RESET value, as kvm_state_get
	 * reads it); any other value cannot be kept here.
	 */
	for (done = 0; done < n; done += r + 1) {
		msrs.nmsrs = (uint32_t)(n - done);
		if (done != 0)
			memmove(&msrs.e[0], &msrs.e[r + 1], (size_t)(n - done) * sizeof(msrs.e[0]));
		r = ioctl(vc->fd, KVM_SET_MSRS, &msrs);
		if (r < 0)
			return vmm_store_fail(errno, "KVM refuses the MSRs: %s", strerror(errno));
		if (r < n - done && msrs.e[r].data != 0)
			return vmm_store_fail(EINVAL, "KVM refuses MSR %#x = %#llx",
			    msrs.e[r].index, (unsigned long long)msrs.e[r].data);
	}
	return 0;
}

static uint64_t
mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One MSR of a vCPU (api.rst 4.18/4.19). */
static int
msr_get(struct kvm_vcpu *vc, uint32_t index, uint64_t *val)
{
	struct msr_buf m;

	memset(&m, 0, sizeof(m));
	m.nmsrs = 1;
	m.e[0].index = index;
	if (ioctl(vc->fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	*val = m.e[0].data;
	return 0;
}

static int
msr_set(struct kvm_vcpu *vc, uint32_t index, uint64_t val)
{
	struct msr_buf m;

	memset(&m, 0, sizeof(m));
	m.nmsrs = 1;
	m.e[0].index = index;
	m.e[0].data = val;
	if (ioctl(vc->fd, KVM_SET_MSRS, &m) != 1)
		return vmm_store_fail(EINVAL, "KVM refuses MSR %#x = %#llx", index,
		    (unsigned long long)val);
	return 0;
}

/* The vCPU's TSC offset, api.rst 4.1 "vCPU TSC attributes" (KVM_VCPU_TSC_CTRL). */
static int
tsc_offset_attr(struct kvm_vcpu *vc, unsigned long req, int64_t *offset)
{
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)offset,
	};

	return ioctl(vc->fd, req, &a) < 0 ? -errno : 0;
}

/*
 * The kvmclock at the moment the VM's TSC is chosen: the saved one when
 * its section was cut with this TSC (the same save: vCPU 0's TSC within a
 * second of the section's), else the TSC as nanoseconds, which is the
 * software CPU's kvmclock (pvclock.c: 1 GHz, counted from 0), the only
 * other writer of a state.  api.rst 4.55 KVM_SET_CLOCK.
 */
static int
clock_load(struct kvm_vcpu *vc, uint64_t tsc0)
{
	struct kvm_vm *kvm = vc->vm;
	struct kvm_clock_data cd;
	uint64_t window = (uint64_t)(kvm->prof.tsc_khz ? kvm->prof.tsc_khz : 1000000) * 1000;

	memset(&cd, 0, sizeof(cd));
	cd.clock = tsc0;
	if (kvm->clock_saved && (tsc0 > kvm->clock_tsc0 ? tsc0 - kvm->clock_tsc0 :
	    kvm->clock_tsc0 - tsc0) < window)
		cd.clock = kvm->clock_ns;
	if (ioctl(kvm->vmfd, KVM_SET_CLOCK, &cd) < 0)
		return vmm_store_fail(errno, "KVM refuses kvmclock %llu ns: %s",
		    (unsigned long long)cd.clock, strerror(errno));
	return 0;
}

/*
 * The guest's TSC: one offset for the whole VM, so every vCPU reads the
 * same TSC at the same instant (Linux checks, arch/x86/kernel/tsc_sync.c).
 * vCPU 0's state (or the first loaded) chooses it: its saved TSC goes on
 * from where it was.  With KVM_VCPU_TSC_OFFSET the others get the very
 * same offset; without, each gets the first value advanced by the time
 * since, which KVM matches to the first's offset (Linux's
 * kvm_synchronize_tsc: a write within a second of the expected value).
 */
static int
tsc_load(struct kvm_vcpu *vc, uint64_t tsc)
{
	struct kvm_vm *kvm = vc->vm;
	struct kvm_device_attr probe = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };
	int64_t offset;
	uint64_t now;
	int error = 0;

	pthread_mutex_lock(&kvm->tsc_mtx);
	if (!kvm->tsc_chosen) {
		kvm->tsc_attr = ioctl(kvm->sysfd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_ATTRIBUTES) > 0 &&
		    ioctl(vc->fd, KVM_HAS_DEVICE_ATTR, &probe) == 0;
		if (kvm->tsc_attr) {
			uint64_t cur;

			if ((error = tsc_offset_attr(vc, KVM_GET_DEVICE_ATTR, &offset)) != 0 ||
			    (error = msr_get(vc, MSR_TSC, &cur)) != 0)
				goto out;
			offset += (int64_t)(tsc - cur);
			if ((error = tsc_offset_attr(vc, KVM_SET_DEVICE_ATTR, &offset)) != 0) {
				error = vmm_store_fail(-error, "KVM refuses TSC offset %lld: %s",
				    (long long)offset, strerror(-error));
				goto out;
			}
			kvm->tsc_offset = offset;
		} else {
			if ((error = msr_set(vc, MSR_TSC, tsc)) != 0)
				goto out;
			kvm->tsc_base = tsc;
			kvm->tsc_base_ns = mono_raw_ns();
		}
		if ((error = clock_load(vc, tsc)) != 0)
			goto out;
		kvm->tsc_chosen = true;
	} else if (kvm->tsc_attr) {
		offset = kvm->tsc_offset;
		if ((error = tsc_offset_attr(vc, KVM_SET_DEVICE_ATTR, &offset)) != 0)
			error = vmm_store_fail(-error, "KVM refuses TSC offset %lld: %s",
			    (long long)offset, strerror(-error));
	} else {
		now = mono_raw_ns();
		error = msr_set(vc, MSR_TSC, kvm->tsc_base + (uint64_t)((unsigned __int128)
		    (now - kvm->tsc_base_ns) * (kvm->prof.tsc_khz ? kvm->prof.tsc_khz : 1000000) /
		    1000000));
	}
out:
	pthread_mutex_unlock(&kvm->tsc_mtx);
	return error;
}

/*
 * The "kvmclock" section (docs/store.md): version 1 u32, KVM's flags of
 * the reading u32, the kvmclock in ns u64 (api.rst 4.55 KVM_GET_CLOCK),
 * vCPU 0's TSC in the same cut u64.  Written while every vCPU is held.
 */
#define CLOCK_SEC_SIZE	24

ssize_t
kvm_clock_save(void *arg, uint8_t *buf, size_t cap)
{
	struct kvm_vm *kvm = arg;
	struct kvm_clock_data cd;
	uint64_t tsc0 = 0;
	uint32_t v = 1;

	if (cap < CLOCK_SEC_SIZE)
		return CLOCK_SEC_SIZE;
	memset(&cd, 0, sizeof(cd));
	if (ioctl(kvm->vmfd, KVM_GET_CLOCK, &cd) < 0)
		return vmm_store_fail(errno, "KVM_GET_CLOCK: %s", strerror(errno));
	pthread_mutex_lock(&kvm->vcpus_mtx);
	if (kvm->vcpus[0] != NULL && msr_get(kvm->vcpus[0], MSR_TSC, &tsc0) != 0)
		tsc0 = 0;
	pthread_mutex_unlock(&kvm->vcpus_mtx);
	memcpy(buf, &v, 4);
	memcpy(buf + 4, &cd.flags, 4);
	memcpy(buf + 8, &cd.clock, 8);
	memcpy(buf + 16, &tsc0, 8);
	return CLOCK_SEC_SIZE;
}

int
kvm_clock_restore(void *arg, const uint8_t *data, size_t len)
{
	struct kvm_vm *kvm = arg;
	uint32_t v;

	if (len != CLOCK_SEC_SIZE)
		return vmm_store_fail(EINVAL, "kvmclock section of %zu bytes, not %d", len,
		    CLOCK_SEC_SIZE);
	memcpy(&v, data, 4);
	if (v != 1)
		return vmm_store_fail(EINVAL, "kvmclock section version %u, not 1", v);
	memcpy(&kvm->clock_ns, data + 8, 8);
	memcpy(&kvm->clock_tsc0, data + 16, 8);
	if (kvm->clock_ns > (1ull << 62))
		return vmm_store_fail(EINVAL, "kvmclock section: %llu ns",
		    (unsigned long long)kvm->clock_ns);
	kvm->clock_saved = true;
	return 0;
}

int
kvm_state_set(struct kvm_vcpu *vc, const struct vm_cpu_state *st, int parts)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xs;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dbg;
	struct kvm_mp_state mp;
	uint64_t bv = XSTATE_X87 | XSTATE_SSE;
	int i, error;

	if (parts & KVM_ST_SREGS) {
		/* Read first: the interrupt bitmap and anything lhyve does not keep stay. */
		if ((error = xioctl(vc->fd, KVM_GET_SREGS, &sregs)) != 0)
			return error;
		sregs.cr0 = st->cr0; sregs.cr2 = st->cr2; sregs.cr3 = st->cr3;
		sregs.cr4 = st->cr4; sregs.cr8 = st->cr8; sregs.efer = st->efer;
		sregs.apic_base = st->apic_base;
		for (i = 0; i < SEG_COUNT; i++)
			seg_to_kvm(sregs_seg(&sregs, i), &st->seg[i]);
		sregs.gdt.base = st->gdtr.base;
		sregs.gdt.limit = (uint16_t)st->gdtr.limit;
		sregs.idt.base = st->idtr.base;
		sregs.idt.limit = (uint16_t)st->idtr.limit;
		memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
		if ((error = set_ioctl(vc, KVM_SET_SREGS, &sregs,
		    "control and segment registers")) != 0)
			return error;
	}
	if (parts & KVM_ST_REGS) {
		regs_to_kvm(&regs, st);
		if ((error = set_ioctl(vc, KVM_SET_REGS, &regs, "general registers")) != 0)
			return error;
	}
	if (parts & KVM_ST_FPU) {
		/* XCR0 before the XSAVE image, whose XSTATE_BV must fit in it. */
		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = st->xcr0;
		error = xioctl(vc->fd, KVM_SET_XCRS, &xcrs);
		if (error != 0 && st->xcr0 != XSTATE_X87)	/* x87 alone needs no XSAVE */
			return vmm_store_fail(-error, "KVM refuses XCR0 %#llx: %s",
			    (unsigned long long)st->xcr0, strerror(-error));
		if ((xs = xsave_alloc(vc)) == NULL)
			return -ENOMEM;
		memcpy(xs->region, st->fxsave, sizeof(st->fxsave));
		bv |= st->xstate_bv & st->xcr0 & VM_XSTATE_EXT;
		memcpy((uint8_t *)xs->region + XSAVE_HDR, &bv, sizeof(bv));
		for (i = 2; i < 64; i++) {
			uint32_t off, size;

			if (!(bv & (1ULL << i)) || !vm_xstate_layout(i, &off, &size))
				continue;
			if (off + size > vc->vm->xsave_size) {
				free(xs);
				return vmm_store_fail(ENOTSUP, "KVM's XSAVE area of %zu bytes has no "
				    "room for state component %d", vc->vm->xsave_size, i);
			}
			memcpy((uint8_t *)xs->region + off, st->xsave_ext + (off - VM_XSAVE_LEGACY), size);
		}
		error = set_ioctl(vc, KVM_SET_XSAVE, xs, "x87/SSE/AVX state (XSAVE image)");
		free(xs);
		if (error != 0)
			return error;
	}
	if (parts & KVM_ST_MSRS) {
		if ((error = set_msrs(vc, st)) != 0)
			return error;
	}
	if (parts & KVM_ST_TSC) {
		if ((error = tsc_load(vc, st->tsc)) != 0)
			return error;
	}
	if (parts & KVM_ST_EVENTS) {
		memset(&ev, 0, sizeof(ev));
		ev.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
		ev.interrupt.shadow = ((st->intr_shadow & ST_SHADOW_STI) ? KVM_X86_SHADOW_INT_STI : 0) |
		    ((st->intr_shadow & ST_SHADOW_MOVSS) ? KVM_X86_SHADOW_INT_MOV_SS : 0);
		ev.nmi.masked = (st->intr_shadow & ST_SHADOW_NMI) != 0;
		ev.nmi.pending = st->nmi_pending != 0;
		if (st->pending_valid && st->pending_vector < 32) {
			ev.exception.injected = 1;
			ev.exception.nr = (uint8_t)st->pending_vector;
			ev.exception.has_error_code = st->pending_errcode_valid != 0;
			ev.exception.error_code = st->pending_errcode;
		} else if (st->pending_valid) {
			ev.interrupt.injected = 1;
			ev.interrupt.nr = (uint8_t)st->pending_vector;
		}
		if ((error = set_ioctl(vc, KVM_SET_VCPU_EVENTS, &ev,
		    "pending events and interrupt shadow")) != 0)
			return error;
	}
	if (parts & KVM_ST_DEBUG) {
		memset(&dbg, 0, sizeof(dbg));
		for (i = 0; i < 4; i++)
			dbg.db[i] = st->dr[i];
		dbg.dr6 = st->dr[6];
		dbg.dr7 = st->dr[7];
		if ((error = set_ioctl(vc, KVM_SET_DEBUGREGS, &dbg, "debug registers")) != 0)
			return error;
	}
	if (parts & KVM_ST_MP) {
		/* Wait-for-SIPI is INIT_RECEIVED: a SIPI starts it (api.rst 4.39). */
		mp.mp_state = st->halted == VM_ACTIVITY_WAIT_SIPI ? KVM_MP_STATE_INIT_RECEIVED :
		    st->halted == VM_ACTIVITY_HLT ? KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE;
		if ((error = set_ioctl(vc, KVM_SET_MP_STATE, &mp, "activity state")) != 0)
			return error;
		/* What libvmm knows of it (vcpu_set_activity), for the prober. */
		vc->stuck = st->halted == VM_ACTIVITY_WAIT_SIPI ||
		    (st->halted == VM_ACTIVITY_HLT && !(st->rflags & 0x200));
	}
	return 0;
}

int
kvm_state_reg_parts(int reg)
{
	switch (reg) {
	case VM_REG_GUEST_RAX: case VM_REG_GUEST_RBX: case VM_REG_GUEST_RCX:
	case VM_REG_GUEST_RDX: case VM_REG_GUEST_RSI: case VM_REG_GUEST_RDI:
	case VM_REG_GUEST_RBP: case VM_REG_GUEST_R8: case VM_REG_GUEST_R9:
	case VM_REG_GUEST_R10: case VM_REG_GUEST_R11: case VM_REG_GUEST_R12:
	case VM_REG_GUEST_R13: case VM_REG_GUEST_R14: case VM_REG_GUEST_R15:
	case VM_REG_GUEST_RSP: case VM_REG_GUEST_RIP: case VM_REG_GUEST_RFLAGS:
		return KVM_ST_REGS;
	case VM_REG_GUEST_DR0: case VM_REG_GUEST_DR1: case VM_REG_GUEST_DR2:
	case VM_REG_GUEST_DR3: case VM_REG_GUEST_DR6: case VM_REG_GUEST_DR7:
		return KVM_ST_DEBUG;
	case VM_REG_GUEST_KGS_BASE:
		return KVM_ST_MSRS;
	case VM_REG_GUEST_INTR_SHADOW:
		return KVM_ST_EVENTS;
	case VM_REG_GUEST_XCR0:
		return KVM_ST_FPU;	/* KVM_SET_XCRS, then the XSAVE image */
	case VM_REG_GUEST_PDPTE0: case VM_REG_GUEST_PDPTE1:
	case VM_REG_GUEST_PDPTE2: case VM_REG_GUEST_PDPTE3:
		return 0;	/* KVM loads them from CR3 */
	default:
		/* Control registers, EFER, CR8, segments, descriptor tables. */
		return KVM_ST_SREGS;
	}
}

void
kvm_state_dump(struct kvm_vcpu *vc, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_translation tr;
	const uint8_t *p;
	size_t off;
	int i, n;

	if (ioctl(vc->fd, KVM_GET_REGS, &regs) < 0 || ioctl(vc->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(buf, len, "registers unreadable: %s", strerror(errno));
		return;
	}
	off = (size_t)snprintf(buf, len, "rip %#llx rsp %#llx rflags %#llx cr0 %#llx cr3 %#llx "
	    "cr4 %#llx efer %#llx cs %#x; bytes at rip:",
	    (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
	    (unsigned long long)regs.rflags, (unsigned long long)sregs.cr0,
	    (unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
	    (unsigned long long)sregs.efer, sregs.cs.selector);
	if (off >= len)
		return;
	/* KVM_TRANSLATE: the guest's page tables walked by KVM (api.rst 4.15). */
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = sregs.cs.base + regs.rip;
	if (ioctl(vc->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
		snprintf(buf + off, len - off, " (not mapped)");
		return;
	}
	n = 15;
	if ((tr.physical_address & 4095) + (uint64_t)n > 4096)
		n = (int)(4096 - (tr.physical_address & 4095));
	p = kvm_gpa_hva(vc->vm, tr.physical_address, (uint64_t)n);
	if (p == NULL) {
		snprintf(buf + off, len - off, " (gpa %#llx is not RAM)",
		    (unsigned long long)tr.physical_address);
		return;
	}
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %02x", p[i]);
}
