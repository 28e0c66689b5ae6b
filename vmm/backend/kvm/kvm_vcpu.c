/*
 * kvm_vcpu.c - the KVM backend's vCPUs: KVM_RUN, the completion of exits,
 * kicks, event injection and capabilities (api.rst 4.10 KVM_RUN, 5 "The
 * kvm_run structure").
 *
 * Completion.  KVM finishes an IO, MMIO or MSR exit at the next KVM_RUN,
 * from the data userspace left in struct kvm_run; until then the guest's
 * registers show the instruction not executed yet (RIP at it), as the
 * software CPU shows an instruction it will replay.  vcpu->pending follows
 * it: EXIT (returned, userland busy with it), DONE (complete() has filled
 * kvm_run).  Normally the next run() enters KVM_RUN, which finishes the
 * instruction and goes on with the guest in one system call.  Otherwise:
 *
 *   - before the state is read or written, a DONE exit is finished with
 *     KVM_RUN and immediate_exit set (api.rst 5: "userspace can re-enter
 *     the guest ... with the immediate_exit field set to complete pending
 *     operations without allowing any further instructions to be
 *     executed"), so a save never lands between an exit and its completion;
 *   - an exit userland drops (libvmm resumes elsewhere, or restarts the
 *     instruction to inject a fault) is finished the same way with neutral
 *     data and the registers put back as they were: the instruction has not
 *     happened.  The one exception is #GP for an MSR (bhyve's answer to an
 *     unknown MSR): KVM raises it itself when the exit is completed with
 *     msr.error set (api.rst 5, KVM_EXIT_X86_RDMSR).
 *
 * String I/O.  KVM hands over all 'count' elements of a REP INS/OUTS in one
 * exit; lhyve's exits carry one element each (vm_inout.string is 0), so
 * run() returns them one by one and enters KVM_RUN after the last.
 *
 * Kicks.  kick() sets immediate_exit, which stays set until a KVM_RUN has
 * returned for it, and signals the thread inside run() with a signal whose
 * handler does nothing (SA_RESTART): a guest running in KVM_RUN leaves it
 * with EINTR.  The signal goes only to a thread inside run(), under
 * kick_mtx, so it never interrupts a device's system call and never hits a
 * thread that has gone.
 *
 * Interrupts (docs/kvm.md "Interrupts"): the split irqchip puts the local
 * APICs in the kernel, so HLT, the LAPIC timer, IPIs and INIT-SIPI never
 * leave KVM_RUN.  libvmm's IOAPIC reaches them as MSIs (kvm.c); here the
 * 8259's vector goes in with KVM_INTERRUPT when KVM says the BSP can take
 * it (api.rst 5: ready_for_interrupt_injection, request_interrupt_window,
 * KVM_EXIT_IRQ_WINDOW_OPEN), and KVM_EXIT_IOAPIC_EOI goes to libvmm's
 * IOAPIC.  A vCPU that sleeps in the kernel forever (HLT with IF clear, or
 * waiting for SIPI) is found by the prober, a thread that signals a vCPU
 * which has not left KVM_RUN for a while; run() then reads its mp_state
 * and tells libvmm (VM_EXITCODE_HLT), which halts the VM when every vCPU
 * is stuck, as bhyve's vm_handle_hlt does.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm.h"
#include "vmm_store.h"

static int kick_signo;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_error;

static void
kick_handler(int sig)
{
	(void)sig;	/* only there to make KVM_RUN return EINTR */
}

static void
kick_install(void)
{
	struct sigaction sa;

	/* A real-time signal nothing else in lhyve uses (docs/kvm.md). */
	kick_signo = SIGRTMIN + 4;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signo, &sa, NULL) != 0)
		kick_error = -errno;
}

int
kvm_kick_signal_init(void)
{
	pthread_once(&kick_once, kick_install);
	return kick_error;
}

/* How often the prober looks; a vCPU asleep that long is probed at the next look. */
#define PROBE_NS	100000000L

static void *
prober_main(void *arg)
{
	struct kvm_vm *kvm = arg;
	struct timespec ts;
	int i;

	pthread_mutex_lock(&kvm->vcpus_mtx);
	while (!kvm->prober_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += PROBE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&kvm->prober_cv, &kvm->vcpus_mtx, &ts);
		for (i = 0; i < VM_MAXCPU && !kvm->prober_stop; i++) {
			struct kvm_vcpu *vc = kvm->vcpus[i];

			if (vc == NULL)
				continue;
			pthread_mutex_lock(&vc->kick_mtx);
			/* Still in the same KVM_RUN as at the last look. */
			if (vc->in_run && vc->runs == vc->probe_seen) {
				atomic_store(&vc->probe, 1);
				pthread_kill(vc->thread, kick_signo);
			}
			vc->probe_seen = vc->runs;
			pthread_mutex_unlock(&vc->kick_mtx);
		}
	}
	pthread_mutex_unlock(&kvm->vcpus_mtx);
	return NULL;
}

int
kvm_prober_start(struct kvm_vm *kvm)
{
	int error;

	if (kvm->prober_on)
		return 0;
	kvm->prober_stop = false;
	error = pthread_create(&kvm->prober, NULL, prober_main, kvm);
	if (error != 0)
		return -error;
	pthread_setname_np(kvm->prober, "kvm prober");
	kvm->prober_on = true;
	return 0;
}

void
kvm_prober_stop(struct kvm_vm *kvm)
{
	if (!kvm->prober_on)
		return;
	pthread_mutex_lock(&kvm->vcpus_mtx);
	kvm->prober_stop = true;
	pthread_cond_signal(&kvm->prober_cv);
	pthread_mutex_unlock(&kvm->vcpus_mtx);
	pthread_join(kvm->prober, NULL);
	kvm->prober_on = false;
}

int
kvm_vcpu_init(void *vmcookie, struct vm_vcpu *vcpu, int vcpuid, void **vcpucookie)
{
	struct kvm_vm *kvm = vmcookie;
	struct kvm_vcpu *vc;
	int error;

	(void)vcpu;
	vc = calloc(1, sizeof(*vc));
	if (vc == NULL)
		return -ENOMEM;
	vc->vm = kvm;
	vc->id = vcpuid;
	pthread_mutex_init(&vc->kick_mtx, NULL);
	vc->fd = ioctl(kvm->vmfd, KVM_CREATE_VCPU, (unsigned long)vcpuid);
	if (vc->fd < 0) {
		error = -errno;
		goto fail;
	}
	vc->run = mmap(NULL, (size_t)kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vc->fd, 0);
	if (vc->run == MAP_FAILED) {
		error = -errno;
		vc->run = NULL;
		goto fail;
	}
	if ((error = kvm_vcpu_set_cpuid(vc)) != 0)
		goto fail;
	/* KVM_CAP_SYNC_REGS: every exit leaves the GPRs, RIP and RFLAGS in kvm_run. */
	vc->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	pthread_mutex_lock(&kvm->vcpus_mtx);
	if (vcpuid >= 0 && vcpuid < VM_MAXCPU && kvm->vcpus[vcpuid] == NULL)
		kvm->vcpus[vcpuid] = vc;
	error = kvm->prober_on ? 0 : kvm_prober_start(kvm);
	pthread_mutex_unlock(&kvm->vcpus_mtx);
	if (error != 0)
		goto fail;
	*vcpucookie = vc;
	return 0;
fail:
	kvm_vcpu_cleanup(vc);
	return error;
}

void
kvm_vcpu_cleanup(void *vcpucookie)
{
	struct kvm_vcpu *vc = vcpucookie;

	pthread_mutex_lock(&vc->vm->vcpus_mtx);
	if (vc->id >= 0 && vc->id < VM_MAXCPU && vc->vm->vcpus[vc->id] == vc)
		vc->vm->vcpus[vc->id] = NULL;
	pthread_mutex_unlock(&vc->vm->vcpus_mtx);
	if (vc->run != NULL)
		munmap(vc->run, (size_t)vc->vm->run_size);
	if (vc->fd >= 0)
		close(vc->fd);
	pthread_mutex_destroy(&vc->kick_mtx);
	free(vc);
}

/* KVM_RUN once; 0 for an exit, 1 for EINTR (kick or immediate_exit), else -errno. */
static int
kvm_run_once(struct kvm_vcpu *vc)
{
	int r;

	vc->stats.backend_entries++;
	r = ioctl(vc->fd, KVM_RUN, 0);
	if (r < 0 && errno != EINTR && errno != EAGAIN)
		return -errno;
	/* With kvm_valid_regs set, KVM stores the registers on every return. */
	vc->rip = vc->run->s.regs.regs.rip;
	if (r < 0 || vc->run->exit_reason == KVM_EXIT_INTR)
		return 1;
	return 0;
}

static bool
exit_needs_completion(uint32_t reason)
{
	return reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO ||
	    reason == KVM_EXIT_X86_RDMSR || reason == KVM_EXIT_X86_WRMSR;
}

/* An exit KVM finishes at the next KVM_RUN has arrived: remember it. */
static void
pending_set(struct kvm_vcpu *vc, enum kvm_pending how)
{
	vc->pending = how;
	vc->last_reason = vc->run->exit_reason;
	vc->exit_rip = vc->rip;
	vc->io_index = 0;
	vc->io_count = vc->run->exit_reason == KVM_EXIT_IO ? vc->run->io.count : 1;
}

/*
 * Finish the pending exit with KVM_RUN and immediate_exit: no guest
 * instruction runs.  Finishing one element batch of a string instruction
 * may raise the next exit: then it is QUEUED for run() to return.
 */
static int
pending_flush(struct kvm_vcpu *vc)
{
	int r;

	vc->run->immediate_exit = 1;
	r = kvm_run_once(vc);
	vc->run->immediate_exit = atomic_load(&vc->kicked) ? 1 : 0;
	if (r < 0)
		return r;
	if (r == 0 && exit_needs_completion(vc->run->exit_reason)) {
		pending_set(vc, KVM_PENDING_QUEUED);
		return 0;
	}
	vc->pending = KVM_PENDING_NONE;
	return 0;
}

/*
 * Drop the pending exit: finish it with neutral data (IN and MMIO reads
 * keep whatever kvm_run holds, an MSR reads 0) and put the registers back,
 * so the instruction has not happened.  A string instruction's elements
 * already in memory stay there (docs/kvm.md).
 */
static int
pending_cancel(struct kvm_vcpu *vc)
{
	struct kvm_regs regs;
	int i, error;

	if (ioctl(vc->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	for (i = 0; i < 64 && vc->pending != KVM_PENDING_NONE; i++) {
		if (vc->last_reason == KVM_EXIT_X86_RDMSR || vc->last_reason == KVM_EXIT_X86_WRMSR) {
			vc->run->msr.error = 0;
			vc->run->msr.data = 0;
		}
		if ((error = pending_flush(vc)) != 0)
			return error;
	}
	if (vc->pending != KVM_PENDING_NONE)
		return -EIO;
	if (ioctl(vc->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	vc->rip = regs.rip;
	return 0;
}

/* Before the state is read or written: nothing may be half done. */
static int
settle(struct kvm_vcpu *vc)
{
	if (vc->pending == KVM_PENDING_DONE)
		return pending_flush(vc);
	return 0;
}

/* The state as KVM has it, for a register: nothing flushed. */
static int
state_read(struct kvm_vcpu *vc, struct vm_cpu_state *st)
{
	int error;

	if ((error = settle(vc)) != 0)
		return error;
	return kvm_state_get(vc, st);
}

static int
set_rip(struct kvm_vcpu *vc, uint64_t rip)
{
	struct kvm_regs regs;

	if (ioctl(vc->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	regs.rip = rip;
	if (ioctl(vc->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	vc->rip = rip;
	return 0;
}

/*
 * The 8259's vector for the BSP (api.rst 4.16 KVM_INTERRUPT: with the
 * split irqchip, the ExtINT the in-kernel LAPIC takes through LINT0).
 * ready_for_interrupt_injection (from the last exit) says KVM can take one
 * now: IF set, no shadow, no other event, LINT0 accepting ExtINT; until
 * then request_interrupt_window makes KVM exit when it can.  The INTA
 * cycle (pending) happens only when the vector goes in.
 */
static void
extint_inject(struct kvm_vcpu *vc)
{
	struct kvm_interrupt irq;
	int v;

	vc->run->request_interrupt_window = 0;
	if (!vc->has_src || vc->src.hint == NULL ||
	    atomic_load_explicit(vc->src.hint, memory_order_acquire) == 0)
		return;
	if (!vc->run->ready_for_interrupt_injection) {
		vc->run->request_interrupt_window = 1;
		return;
	}
	if ((v = vc->src.pending(vc->src.arg)) < 0)
		return;
	irq.irq = (uint32_t)v;
	if (ioctl(vc->fd, KVM_INTERRUPT, &irq) < 0) {
		/* EEXIST: the last one is not taken yet; this one waits (the 8259 keeps it). */
		vc->run->request_interrupt_window = 1;
		return;
	}
	vc->src.accept(vc->src.arg, v);
}

/* 1: asleep in the kernel until INIT, SIPI or NMI comes (SDM Vol. 3A 9.4, 6.7). */
static int
probe_stuck(struct kvm_vcpu *vc)
{
	struct kvm_mp_state mp;

	if (ioctl(vc->fd, KVM_GET_MP_STATE, &mp) < 0)
		return -errno;
	switch (mp.mp_state) {
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
		return 1;
	case KVM_MP_STATE_HALTED:
		return (vc->run->s.regs.regs.rflags & 0x200) == 0;
	default:
		return 0;
	}
}

/* The pending exit (or its next string element) as lhyve's exit. */
static void
deliver(struct kvm_vcpu *vc, struct vm_exit *vme)
{
	struct kvm_exit_info ei = {
		.rip = vc->exit_rip,
		.rflags = vc->run->s.regs.regs.rflags,
		.vcpuid = vc->id,
		.mtrap = vc->mtrap != 0,
		.io_index = vc->io_index,
	};

	kvm_exit_translate(vc->run, &ei, vme);
	vc->pending = KVM_PENDING_EXIT;
}

int
kvm_vcpu_run(void *vcpucookie, uint64_t rip, struct vm_exit *vme)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_exit_info ei;
	int r, error = 0;

	/* The next element of a string I/O: KVM already has them all. */
	if (vc->pending == KVM_PENDING_DONE && vc->last_reason == KVM_EXIT_IO &&
	    vc->io_index + 1 < vc->io_count && rip == vc->exit_rip) {
		vc->io_index++;
		deliver(vc, vme);
		return 0;
	}
	if (vc->pending == KVM_PENDING_QUEUED && rip == vc->exit_rip) {
		deliver(vc, vme);
		return 0;
	}
	/* Userland dropped the exit (new RIP, restart): it must not happen. */
	if (vc->pending == KVM_PENDING_EXIT || vc->pending == KVM_PENDING_QUEUED)
		error = pending_cancel(vc);
	else if (vc->pending == KVM_PENDING_DONE && rip != vc->exit_rip)
		error = pending_flush(vc);
	if (error == 0 && vc->pending == KVM_PENDING_QUEUED) {
		/* A string instruction went on: its next elements come first. */
		deliver(vc, vme);
		return 0;
	}
	if (error == 0 && vc->pending == KVM_PENDING_NONE && rip != vc->rip)
		error = set_rip(vc, rip);
	if (error != 0)
		return error;

	for (;;) {
		extint_inject(vc);
		pthread_mutex_lock(&vc->kick_mtx);
		vc->in_run = true;
		vc->thread = pthread_self();
		vc->runs++;
		pthread_mutex_unlock(&vc->kick_mtx);
		r = kvm_run_once(vc);
		pthread_mutex_lock(&vc->kick_mtx);
		vc->in_run = false;
		pthread_mutex_unlock(&vc->kick_mtx);
		if (r < 0)
			return r;
		/* The DONE exit, if any, was finished by this KVM_RUN. */
		vc->pending = KVM_PENDING_NONE;
		if (r == 1 && !atomic_load(&vc->kicked) && atomic_exchange(&vc->probe, 0)) {
			int stuck = probe_stuck(vc);

			if (stuck < 0)
				return stuck;
			if ((stuck != 0) == vc->stuck)
				continue;
			/* Stuck, or no longer: libvmm's halted-VM check (vmm_backend.h, msi). */
			vc->stuck = stuck != 0;
			memset(vme, 0, sizeof(*vme));
			vme->exitcode = VM_EXITCODE_HLT;
			vme->rip = vc->rip;
			vme->u.hlt.rflags = stuck ? vc->run->s.regs.regs.rflags & ~0x200ull :
			    vc->run->s.regs.regs.rflags | 0x200;
			return 0;
		}
		if (r == 0 && vc->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN)
			continue;
		if (r == 0 && vc->run->exit_reason == KVM_EXIT_IOAPIC_EOI) {
			/* api.rst 5: a level-triggered vector of a userspace IOAPIC route. */
			if (vc->has_src && vc->src.eoi != NULL)
				vc->src.eoi(vc->src.arg, vc->run->eoi.vector);
			continue;
		}
		break;
	}
	if (r == 1) {
		/* Kicked: the kick is served; a later one sets immediate_exit again. */
		atomic_store(&vc->kicked, 0);
		vc->run->immediate_exit = 0;
		memset(vme, 0, sizeof(*vme));
		vme->exitcode = VM_EXITCODE_BOGUS;
		vme->rip = vc->rip;
		return 0;
	}
	/* The guest ran an instruction that exits: it is not stuck. */
	vc->stuck = false;
	if (exit_needs_completion(vc->run->exit_reason)) {
		pending_set(vc, KVM_PENDING_EXIT);
		deliver(vc, vme);
		return 0;
	}
	ei = (struct kvm_exit_info){
		.rip = vc->rip,
		.rflags = vc->run->s.regs.regs.rflags,
		.vcpuid = vc->id,
		.mtrap = vc->mtrap != 0,
	};
	kvm_exit_translate(vc->run, &ei, vme);
	if (vc->run->exit_reason == KVM_EXIT_INTERNAL_ERROR ||
	    vc->run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
		/* As the software CPU reports an instruction it lacks: registers, bytes. */
		size_t n = strlen(vme->u.backend_error.msg);
		char *m = vme->u.backend_error.msg;

		if (n + 3 < sizeof(vme->u.backend_error.msg)) {
			memcpy(m + n, "; ", 3);
			kvm_state_dump(vc, m + n + 2, sizeof(vme->u.backend_error.msg) - n - 2);
		}
	}
	return 0;
}

int
kvm_vcpu_complete(void *vcpucookie, const struct vm_exit *vme)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_run *run = vc->run;
	uint64_t data;

	switch (vme->exitcode) {
	case VM_EXITCODE_INOUT:
	case VM_EXITCODE_INST_EMUL:
	case VM_EXITCODE_RDMSR:
	case VM_EXITCODE_WRMSR:
		break;
	default:
		return 0;
	}
	if (vc->pending != KVM_PENDING_EXIT || vme->rip != vc->exit_rip)
		return -EINVAL;
	switch (vme->exitcode) {
	case VM_EXITCODE_INOUT:
		if (run->exit_reason != KVM_EXIT_IO)
			return -EINVAL;
		if (vme->u.inout.in)
			kvm_io_store(run, vc->io_index, vme->u.inout.eax);
		break;
	case VM_EXITCODE_INST_EMUL:
		if (run->exit_reason != KVM_EXIT_MMIO)
			return -EINVAL;
		if (!run->mmio.is_write) {
			data = vme->u.mmio.data;
			memcpy(run->mmio.data, &data, run->mmio.len <= 8 ? run->mmio.len : 8);
		}
		break;
	default:
		if (run->exit_reason != KVM_EXIT_X86_RDMSR && run->exit_reason != KVM_EXIT_X86_WRMSR)
			return -EINVAL;
		run->msr.error = 0;
		if (run->exit_reason == KVM_EXIT_X86_RDMSR)
			run->msr.data = vme->u.msr.wval;
		break;
	}
	vc->pending = KVM_PENDING_DONE;
	return 0;
}

void
kvm_vcpu_kick(void *vcpucookie)
{
	struct kvm_vcpu *vc = vcpucookie;

	atomic_store(&vc->kicked, 1);
	__atomic_store_n(&vc->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vc->kick_mtx);
	if (vc->in_run)
		pthread_kill(vc->thread, kick_signo);
	pthread_mutex_unlock(&vc->kick_mtx);
}

/*
 * Pending LAPIC timers into IRR before a save.  A timer that expires while
 * its vCPU is out of KVM_RUN is only counted (Linux's apic_timer_expired,
 * lapic_timer.pending); the next KVM_RUN moves it into IRR, and no ioctl
 * shows it before: a one-shot count then reads 0, as after an interrupt
 * long taken, and a save would lose it.  So KVM_RUN once with a signal
 * pending that KVM_SET_SIGNAL_MASK unblocks for the call (api.rst 4.21):
 * KVM gives up the entry (the exit request), moves the counted timers into
 * IRR (vcpu_run's loop) and returns EINTR, no guest instruction run.  An
 * interrupt KVM began to inject on the way stays in KVM_GET_VCPU_EVENTS,
 * which the save reads after this.  Only with no exit pending: KVM_RUN
 * would finish one with whatever kvm_run holds.
 */
static int
timer_flush(struct kvm_vcpu *vc)
{
	struct {
		struct kvm_signal_mask	m;
		uint8_t			set[8];	/* the kernel's sigset_t */
	} mask;
	struct timespec zero = { 0, 0 };
	sigset_t kick, old, during;
	int r, i, error = 0;

	if (vc->pending != KVM_PENDING_NONE)
		return 0;
	sigemptyset(&kick);
	sigaddset(&kick, kick_signo);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	during = old;
	sigdelset(&during, kick_signo);
	mask.m.len = sizeof(mask.set);
	memcpy(mask.set, &during, sizeof(mask.set));
	if (ioctl(vc->fd, KVM_SET_SIGNAL_MASK, &mask) < 0) {
		error = vmm_store_fail(errno, "vCPU %d: KVM_SET_SIGNAL_MASK: %s", vc->id,
		    strerror(errno));
		goto out;
	}
	pthread_kill(pthread_self(), kick_signo);
	vc->run->immediate_exit = 0;
	vc->run->request_interrupt_window = 0;
	for (i = 0; i < 16; i++) {
		r = ioctl(vc->fd, KVM_RUN, 0);
		/* EAGAIN: an AP waiting for INIT-SIPI, which KVM_RUN only waits in. */
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			break;
		if (r < 0) {
			error = vmm_store_fail(errno, "vCPU %d: KVM_RUN before the save: %s",
			    vc->id, strerror(errno));
			break;
		}
		/* Requests KVM serves before it sees the signal: the same as run() does. */
		if (vc->run->exit_reason == KVM_EXIT_IOAPIC_EOI) {
			if (vc->has_src && vc->src.eoi != NULL)
				vc->src.eoi(vc->src.arg, vc->run->eoi.vector);
			continue;
		}
		if (vc->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN)
			continue;
		error = vmm_store_fail(EIO, "vCPU %d: KVM_RUN before the save ended with exit %u "
		    "(%s)", vc->id, vc->run->exit_reason,
		    kvm_exit_name(vc->run->exit_reason) ? kvm_exit_name(vc->run->exit_reason) : "?");
		break;
	}
	if (i == 16)
		error = vmm_store_fail(EIO, "vCPU %d: KVM_RUN before the save did not return "
		    "for its signal", vc->id);
	if (ioctl(vc->fd, KVM_SET_SIGNAL_MASK, NULL) < 0 && error == 0)
		error = vmm_store_fail(errno, "vCPU %d: KVM_SET_SIGNAL_MASK: %s", vc->id,
		    strerror(errno));
	vc->run->immediate_exit = atomic_load(&vc->kicked) ? 1 : 0;
	vc->rip = vc->run->s.regs.regs.rip;
out:
	/* The signal, if still pending, is taken here, blocked: its handler is empty. */
	while (sigtimedwait(&kick, NULL, &zero) == kick_signo)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return error;
}

/* Whether the one-shot LAPIC count runs (SDM Vol. 3A 11.5.4): see struct kvm_vcpu's cut. */
static int
oneshot_counting(struct kvm_vcpu *vc, bool *counting)
{
	struct kvm_lapic_state ls;
	uint32_t lvtt, ccr;

	if (ioctl(vc->fd, KVM_GET_LAPIC, &ls) < 0)
		return vmm_store_fail(errno, "vCPU %d: KVM_GET_LAPIC: %s", vc->id, strerror(errno));
	memcpy(&lvtt, &ls.regs[0x320], sizeof(lvtt));
	memcpy(&ccr, &ls.regs[0x390], sizeof(ccr));
	*counting = ((lvtt >> 17) & 3) == 0 && ccr != 0;
	return 0;
}

/*
 * The state for a save (vmm_save calls this, then lapic_save): KVM's
 * pending timers flushed into IRR first, and whether a one-shot count
 * runs noted at once, so lapic_save can tell a count that runs out
 * between the two from one long run out.
 */
int
kvm_vcpu_get_state(void *vcpucookie, struct vm_cpu_state *st)
{
	struct kvm_vcpu *vc = vcpucookie;
	int error;

	vc->cut_valid = false;
	if ((error = settle(vc)) != 0 || (error = timer_flush(vc)) != 0 ||
	    (error = oneshot_counting(vc, &vc->cut_counting)) != 0)
		return error;
	vc->cut_valid = true;
	vc->cut_runs = vc->runs;
	return kvm_state_get(vc, st);
}


int
kvm_vcpu_set_state(void *vcpucookie, const struct vm_cpu_state *st)
{
	struct kvm_vcpu *vc = vcpucookie;
	int error;

	if ((error = settle(vc)) != 0)
		return error;
	vc->cut_valid = false;
	if ((error = kvm_state_set(vc, st, KVM_ST_ALL)) != 0)
		return error;
	vc->rip = st->rip;
	/* Without an in-kernel LAPIC, KVM_RUN loads CR8 from kvm_run (api.rst 5). */
	vc->run->cr8 = st->cr8;
	return 0;
}

int
kvm_vcpu_get_reg(void *vcpucookie, int reg, uint64_t *val)
{
	struct vm_cpu_state *st;
	int error;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -ENOMEM;
	error = state_read(vcpucookie, st);
	if (error == 0)
		error = vm_cpu_state_get_reg(st, reg, val);
	free(st);
	return error;
}

/* Read the whole state, change it with @edit, load the parts that changed. */
static int
edit_state(struct kvm_vcpu *vc, int parts, int (*edit)(struct vm_cpu_state *, int, const void *),
    int reg, const void *arg)
{
	struct vm_cpu_state *st;
	int error;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -ENOMEM;
	error = state_read(vc, st);
	if (error == 0)
		error = edit(st, reg, arg);
	if (error == 0)
		error = kvm_state_set(vc, st, parts);
	if (error == 0) {
		vc->rip = st->rip;
		vc->run->cr8 = st->cr8;
	}
	free(st);
	return error;
}

static int
edit_reg(struct vm_cpu_state *st, int reg, const void *arg)
{
	return vm_cpu_state_set_reg(st, reg, *(const uint64_t *)arg);
}

static int
edit_desc(struct vm_cpu_state *st, int reg, const void *arg)
{
	return vm_cpu_state_set_desc(st, reg, arg);
}

int
kvm_vcpu_set_reg(void *vcpucookie, int reg, uint64_t val)
{
	return edit_state(vcpucookie, kvm_state_reg_parts(reg), edit_reg, reg, &val);
}

int
kvm_vcpu_get_desc(void *vcpucookie, int reg, struct seg_desc *desc)
{
	struct vm_cpu_state *st;
	int error;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -ENOMEM;
	error = state_read(vcpucookie, st);
	if (error == 0)
		error = vm_cpu_state_get_desc(st, reg, desc);
	free(st);
	return error;
}

int
kvm_vcpu_set_desc(void *vcpucookie, int reg, const struct seg_desc *desc)
{
	return edit_state(vcpucookie, KVM_ST_SREGS, edit_desc, reg, desc);
}

int
kvm_vcpu_inject_exception(void *vcpucookie, int vector, int errcode_valid,
    uint32_t errcode, int restart_instruction)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_vcpu_events ev;
	int error;

	if (vector < 0 || vector >= 32)
		return -EINVAL;
	/* #GP(0) for an MSR userland refused: KVM raises it when completing the exit. */
	if (vc->pending == KVM_PENDING_EXIT && vector == IDT_GP && errcode_valid &&
	    errcode == 0 && restart_instruction &&
	    (vc->last_reason == KVM_EXIT_X86_RDMSR || vc->last_reason == KVM_EXIT_X86_WRMSR)) {
		vc->run->msr.error = 1;
		vc->pending = KVM_PENDING_DONE;
		return 0;
	}
	if ((error = settle(vc)) != 0)
		return error;
	/* A fault at the exiting instruction: the instruction must not happen. */
	if (restart_instruction && vc->pending != KVM_PENDING_NONE &&
	    (error = pending_cancel(vc)) != 0)
		return error;
	if (ioctl(vc->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	if (ev.exception.injected || ev.exception.pending)
		return -EBUSY;
	/* flags 0: the interrupt shadow, NMI and SIPI state are left as they are. */
	ev.flags = 0;
	ev.exception.injected = 1;
	ev.exception.pending = 0;
	ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = errcode_valid != 0;
	ev.exception.error_code = errcode;
	if (ioctl(vc->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

int
kvm_vcpu_inject_nmi(void *vcpucookie)
{
	struct kvm_vcpu *vc = vcpucookie;
	int error;

	if ((error = settle(vc)) != 0)
		return error;
	/* api.rst 4.74 KVM_NMI: well defined without an in-kernel irqchip. */
	if (ioctl(vc->fd, KVM_NMI) < 0)
		return -errno;
	return 0;
}

int
kvm_vcpu_set_intr_source(void *vcpucookie, const struct vmm_intr_source *src)
{
	struct kvm_vcpu *vc = vcpucookie;

	/* The 8259's ExtINT and the IOAPIC's EOIs; the LAPIC is KVM's (docs/kvm.md). */
	if (src == NULL) {
		vc->has_src = false;
		return 0;
	}
	if (src->pending == NULL || src->accept == NULL)
		return -EINVAL;
	vc->src = *src;
	vc->has_src = true;
	return 0;
}

/*
 * bhyvectl --get-lapic: the in-kernel LAPIC's register page (api.rst 4.57
 * KVM_GET_LAPIC; offsets as in SDM Vol. 3A table 11-1), APIC_BASE from
 * the sregs, the TSC deadline MSR (6E0H).
 */
static uint32_t
lapic_reg(const struct kvm_lapic_state *ls, int off)
{
	uint32_t v;

	memcpy(&v, &ls->regs[off], sizeof(v));
	return v;
}

int
kvm_vcpu_lapic_info(void *vcpucookie, struct vmm_lapic_info *li)
{
	static const int lvt_off[6] = { 0x320, 0x330, 0x340, 0x350, 0x360, 0x370 };
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_lapic_state ls;
	struct kvm_sregs sregs;
	struct kvm_msrs2 m;
	int i, error;

	if ((error = settle(vc)) != 0)
		return error;
	if (ioctl(vc->fd, KVM_GET_LAPIC, &ls) < 0 || ioctl(vc->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&m, 0, sizeof(m));
	m.nmsrs = 1;
	m.e[0].index = 0x6e0;
	if (ioctl(vc->fd, KVM_GET_MSRS, &m) != 1)
		m.e[0].data = 0;
	memset(li, 0, sizeof(*li));
	li->apicbase = sregs.apic_base;
	li->id = lapic_reg(&ls, 0x20);
	li->tpr = lapic_reg(&ls, 0x80);
	li->ppr = lapic_reg(&ls, 0xa0);
	li->ldr = lapic_reg(&ls, 0xd0);
	li->svr = lapic_reg(&ls, 0xf0);
	li->esr = lapic_reg(&ls, 0x280);
	for (i = 0; i < 8; i++) {
		li->isr[i] = lapic_reg(&ls, 0x100 + 0x10 * i);
		li->tmr[i] = lapic_reg(&ls, 0x180 + 0x10 * i);
		li->irr[i] = lapic_reg(&ls, 0x200 + 0x10 * i);
	}
	for (i = 0; i < 6; i++)
		li->lvt[i] = lapic_reg(&ls, lvt_off[i]);
	li->timer_icr = lapic_reg(&ls, 0x380);
	li->timer_ccr = lapic_reg(&ls, 0x390);
	li->timer_dcr = lapic_reg(&ls, 0x3e0);
	li->tsc_deadline = m.e[0].data;
	/* KVM does not say when its timer fires; armed or not is what is known. */
	li->timer_due_ns = li->timer_ccr != 0 || li->tsc_deadline != 0 ? 0 : -1;
	return 0;
}

/* IA32_TSC_DEADLINE and the TSC, read together (api.rst 4.18 KVM_GET_MSRS). */
static int
lapic_msrs(struct kvm_vcpu *vc, uint64_t *deadline, uint64_t *tsc)
{
	struct kvm_msrs2 m;

	memset(&m, 0, sizeof(m));
	m.nmsrs = 2;
	m.e[0].index = 0x6e0;
	m.e[1].index = 0x10;
	if (ioctl(vc->fd, KVM_GET_MSRS, &m) != 2)
		return vmm_store_fail(EIO, "vCPU %d: KVM_GET_MSRS of TSC_DEADLINE and TSC fails",
		    vc->id);
	*deadline = m.e[0].data;
	*tsc = m.e[1].data;
	return 0;
}

static uint32_t
lapic_tsc_khz(struct kvm_vcpu *vc)
{
	int khz;

	if (vc->vm->prof.tsc_khz != 0)
		return vc->vm->prof.tsc_khz;
	khz = ioctl(vc->fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint32_t)khz : 1000000;
}

/*
 * The LAPIC section of a save (kvm_lapic.c): the page, APIC_BASE, the TSC
 * deadline and the TSC it is measured against, one after the other while
 * the vCPU is held.
 */
ssize_t
kvm_vcpu_lapic_save(void *vcpucookie, uint8_t *buf, size_t cap)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_lapic_image *k;
	struct kvm_sregs sregs;
	ssize_t n;
	int error;

	if (cap < KVM_LAPIC_SECTION_SIZE)
		return KVM_LAPIC_SECTION_SIZE;
	if ((error = settle(vc)) != 0)
		return error;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -ENOMEM;
	if (ioctl(vc->fd, KVM_GET_LAPIC, &k->regs) < 0 || ioctl(vc->fd, KVM_GET_SREGS, &sregs) < 0) {
		n = vmm_store_fail(errno, "vCPU %d: KVM_GET_LAPIC: %s", vc->id, strerror(errno));
		goto out;
	}
	if ((n = lapic_msrs(vc, &k->tsc_deadline, &k->tsc)) != 0)
		goto out;
	k->apic_base = sregs.apic_base;
	k->tsc_khz = lapic_tsc_khz(vc);
	k->apic_id = (uint32_t)vc->id;		/* KVM's default: the vCPU id */
	/* Counting at the cut, run out now, no KVM_RUN between: not yet delivered. */
	k->oneshot_due = vc->cut_valid && vc->cut_runs == vc->runs && vc->cut_counting;
	n = kvm_lapic_to_section(k, buf, cap, vc->id);
out:
	free(k);
	return n;
}

/*
 * A LAPIC section into KVM's LAPIC: APIC_BASE first (its x2APIC bit
 * decides how KVM reads the ID register, api.rst 4.58), then the page,
 * then the TSC deadline, which KVM takes only in TSC-deadline mode.
 */
int
kvm_vcpu_lapic_restore(void *vcpucookie, const uint8_t *data, size_t len)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_lapic_image *k;
	struct kvm_sregs sregs;
	uint64_t deadline;
	struct kvm_msrs2 m;
	int error;

	if ((error = settle(vc)) != 0)
		return error;
	vc->cut_valid = false;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -ENOMEM;
	if (ioctl(vc->fd, KVM_GET_LAPIC, &k->regs) < 0 || ioctl(vc->fd, KVM_GET_SREGS, &sregs) < 0) {
		error = vmm_store_fail(errno, "vCPU %d: KVM_GET_LAPIC: %s", vc->id, strerror(errno));
		goto out;
	}
	if ((error = lapic_msrs(vc, &deadline, &k->tsc)) != 0)
		goto out;
	k->tsc_khz = lapic_tsc_khz(vc);
	k->apic_id = (uint32_t)vc->id;
	if ((error = kvm_lapic_from_section(k, data, len, vc->id)) != 0)
		goto out;
	if (sregs.apic_base != k->apic_base) {
		sregs.apic_base = k->apic_base;
		if (ioctl(vc->fd, KVM_SET_SREGS, &sregs) < 0) {
			error = vmm_store_fail(errno, "vCPU %d: KVM refuses APIC_BASE %#llx: %s",
			    vc->id, (unsigned long long)k->apic_base, strerror(errno));
			goto out;
		}
	}
	if (ioctl(vc->fd, KVM_SET_LAPIC, &k->regs) < 0) {
		error = vmm_store_fail(errno, "vCPU %d: KVM refuses the local APIC's registers: %s",
		    vc->id, strerror(errno));
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.nmsrs = 1;
	m.e[0].index = 0x6e0;
	m.e[0].data = k->tsc_deadline;
	if (k->tsc_deadline != 0 && ioctl(vc->fd, KVM_SET_MSRS, &m) != 1)
		error = vmm_store_fail(EINVAL, "vCPU %d: KVM refuses TSC_DEADLINE %#llx", vc->id,
		    (unsigned long long)k->tsc_deadline);
out:
	free(k);
	return error;
}

int
kvm_vcpu_get_cap(void *vcpucookie, int type, int *val)
{
	struct kvm_vcpu *vc = vcpucookie;

	switch (type) {
	case VM_CAP_HALT_EXIT:		/* every HLT exits: no in-kernel LAPIC */
	case VM_CAP_UNRESTRICTED_GUEST:	/* KVM runs real mode */
		*val = 1;
		return 0;
	case VM_CAP_MTRAP_EXIT:
		*val = vc->mtrap;
		return 0;
	case VM_CAP_PAUSE_EXIT:
		*val = vc->pause_exit;
		return 0;
	default:
		return -ENOENT;
	}
}

int
kvm_vcpu_set_cap(void *vcpucookie, int type, int val)
{
	struct kvm_vcpu *vc = vcpucookie;
	struct kvm_guest_debug dbg;

	switch (type) {
	case VM_CAP_HALT_EXIT:
	case VM_CAP_UNRESTRICTED_GUEST:
		return val ? 0 : -EINVAL;
	case VM_CAP_MTRAP_EXIT:
		/* Single-step (api.rst 4.39 KVM_SET_GUEST_DEBUG): KVM_EXIT_DEBUG after each instruction. */
		memset(&dbg, 0, sizeof(dbg));
		if (val)
			dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
		if (ioctl(vc->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
			return -errno;
		vc->mtrap = val ? 1 : 0;
		return 0;
	case VM_CAP_PAUSE_EXIT:
		/*
		 * KVM keeps PAUSE to itself: its pause-loop exiting yields the
		 * host CPU in the kernel, which is what bhyve -P is for; no
		 * PAUSE exit reaches userland (bhyve.8).
		 */
		vc->pause_exit = val ? 1 : 0;
		return 0;
	default:
		return -ENOENT;
	}
}

void
kvm_vcpu_get_stats(void *vcpucookie, struct vm_backend_stats *stats)
{
	*stats = ((struct kvm_vcpu *)vcpucookie)->stats;
}
