/*
 * vmm.c - instances, vCPUs and the run loop (bhyve's sys/amd64/vmm/vmm.c).
 *
 * Locking:
 *   vm->mtx      the image, memory layout, halted/active sets, suspend.
 *   vcpu->mtx    held by the vCPU thread for the whole of vmm_run() except
 *                while it sleeps (HLT, reqidle).  An accessor raises
 *                vcpu->reqidle and kicks the backend; the vCPU thread then
 *                waits on vcpu->cv with the mutex released, and the accessor
 *                gets the mutex.  Lock order: vcpu->mtx before vm->mtx.
 *   vcpu->slp    a leaf lock for a vCPU asleep in HLT or wait-for-SIPI:
 *                it sleeps on vcpu->slpcv with vcpu->mtx released, until
 *                one of the conditions of vcpu_wake_cond() holds; whoever
 *                makes one true (an interrupt, NMI, INIT, SIPI, an accessor,
 *                a suspend) sets it first, then signals under slp.
 *   The interrupt controllers have their own locks (vmm_intr.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm_core.h"
#include "vmm_ctl.h"
#include "vmm_intr.h"
#include "vmm_platform.h"

struct vm_vcpu {
	struct vm		*vm;
	int			id;
	pthread_mutex_t		mtx;
	pthread_cond_t		cv;
	atomic_int		reqidle;
	void			*cookie;	/* backend vCPU, NULL until first use */
	uint64_t		nextrip;
	bool			halted;		/* sleeping in HLT until an interrupt */
	bool			hlt_if;		/* RFLAGS.IF when it halted */
	bool			wait_sipi;	/* an AP waiting for SIPI (SDM 9.4) */
	pthread_mutex_t		slp;
	pthread_cond_t		slpcv;
	bool			need_complete;	/* last exit awaits userland data */
	/*
	 * complete() handed the backend an access of an instruction that has
	 * not retired yet (the software CPU replays it): the vCPU is between
	 * instruction boundaries until the next run() returns an exit.
	 */
	bool			replaying;
	struct vm_exit		lastexit;
	uint64_t		stats[VMST_COUNT];
};

struct vm {
	char			name[VM_MAX_NAMELEN + 1];
	int			lockfd;
	pthread_mutex_t		mtx;
	struct vmm_image	*img;
	bool			dirty;
	/* guest RAM */
	int			memfd;
	uint8_t			*base;		/* hva of gpa 0 */
	size_t			reserved;	/* bytes of address space reserved at base */
	struct vmm_memmap	memmap;
	/* backend */
	const struct vmm_backend_ops *ops;
	void			*cookie;
	struct vm_vcpu		vcpu[VM_MAXCPU];
	atomic_int		suspend;	/* enum vm_suspend_how */
	int			suspend_source;
	uint32_t		active_cpus;	/* bitmask, vm->mtx */
	bool			closing;	/* vmm_close: the final save says "not running" */
	/* RUN says "running" on disk (mark_running, before the first instruction). */
	atomic_bool		run_marked;
	uint32_t		halted_cpus;	/* HLT with IF clear, or wait-for-SIPI */
	_Atomic uint32_t	ran_cpus;	/* vCPUs vmm_run ran (without vm_activate_cpu) */
	struct vmm_ctl_server	ctl;
	struct vmm_intr		*intr;		/* LAPICs and IOAPIC, with the backend */
	struct vmm_platform	*plat;		/* 8259, 8254, HPET, RTC, PM timer, with intr */
	/* Device snapshot hooks (vmm_snapshot_register), vm->mtx. */
	struct vmm_snapshot_hook {
		char			name[VMM_SEC_NAMELEN];
		vmm_snapshot_save_t	*save;
		void			*arg;
	}			hooks[VMM_SNAPSHOT_MAX];
	int			nhooks;
	bool			hooks_off;	/* a device is stuck: keep their last sections */
	char			backend_note[192];	/* why auto chose, or a warning */
};

struct vmm_ctl_server *
vmm_ctl_server(struct vm *vm)
{
	return &vm->ctl;
}

const char *
vmm_name(struct vm *vm)
{
	return vm->name;
}

/*
 * -o vmm.backend: "emu", "kvm" or "auto" (NULL).  auto is KVM when
 * /dev/kvm works and is not PVM, else the software CPU; @note says why auto
 * passed KVM over, or warns that an explicit kvm runs on PVM.
 */
int
vmm_backend_lookup(const char *name, const struct vmm_backend_ops **opsp, char *note,
    size_t notelen)
{
	int r;

	note[0] = '\0';
	if (name == NULL || strcmp(name, "auto") == 0) {
		r = vmm_backend_kvm.probe();
		if (r == 0) {
			*opsp = &vmm_backend_kvm;
			return 0;
		}
		snprintf(note, notelen, "auto: %s; the software CPU runs the guest",
		    vmm_store_strerror());
		vmm_store_clear_error();
		*opsp = &vmm_backend_emu;
		return 0;
	}
	if (strcmp(name, "emu") == 0) {
		*opsp = &vmm_backend_emu;
		return 0;
	}
	if (strcmp(name, "kvm") == 0) {
		r = vmm_backend_kvm.probe();
		if (r < 0)
			return r;	/* the reason is set: no device, permission, capability */
		if (r == 1)
			snprintf(note, notelen, "warning: %s: the guest may hang or crawl",
			    vmm_store_strerror());
		vmm_store_clear_error();
		*opsp = &vmm_backend_kvm;
		return 0;
	}
	return vmm_store_fail(EINVAL, "unknown backend '%s' (emu, kvm or auto)", name);
}

const char *
vmm_backend_note(struct vm *vm)
{
	return vm->backend_note;
}

static int
vm_map_memory(struct vm *vm, int fd, uint64_t size)
{
	uint64_t lowmem, highmem;
	size_t reserve;
	uint8_t *base;

	lowmem = size > VM_LOWMEM_LIMIT ? VM_LOWMEM_LIMIT : size;
	highmem = size - lowmem;
	reserve = highmem ? VM_HIGHMEM_BASE + highmem : lowmem;
	/* Reserve the whole guest-physical span so vm_map_gpa is base + gpa. */
	base = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return vmm_store_fail(errno, "cannot reserve %zu MiB of address space",
		    reserve >> 20);
	if (mmap(base, lowmem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    (highmem && mmap(base + VM_HIGHMEM_BASE, highmem, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_FIXED, fd, (off_t)lowmem) == MAP_FAILED)) {
		int error = errno;
		munmap(base, reserve);
		return vmm_store_fail(error, "cannot map guest memory: %s", strerror(error));
	}
	vm->memfd = fd;
	vm->base = base;
	vm->reserved = reserve;
	vm->memmap.nsegs = highmem ? 2 : 1;
	vm->memmap.seg[0] = (struct vmm_memseg){ 0, lowmem, base };
	vm->memmap.seg[1] = (struct vmm_memseg){ VM_HIGHMEM_BASE, highmem,
	    highmem ? base + VM_HIGHMEM_BASE : NULL };
	return 0;
}

int
vmm_open(const char *name, struct vm **vmp)
{
	struct vm *vm;
	uint64_t size;
	int error, fd, i;

	if ((error = vmm_store_check_name(name)) != 0)
		return error;
	if (!vmm_store_exists(name))
		return vmm_store_fail(ENOENT, "VM '%s' does not exist (in %s)", name,
		    vmm_store_dir());
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL || (vm->img = calloc(1, sizeof(*vm->img))) == NULL) {
		free(vm);
		return vmm_store_fail(ENOMEM, "out of memory");
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->memfd = -1;
	vm->ctl.cs_fd = -1;
	vm->ctl.cs_wake[0] = vm->ctl.cs_wake[1] = -1;
	pthread_mutex_init(&vm->mtx, NULL);
	for (i = 0; i < VM_MAXCPU; i++) {
		vm->vcpu[i].vm = vm;
		vm->vcpu[i].id = i;
		pthread_mutex_init(&vm->vcpu[i].mtx, NULL);
		pthread_cond_init(&vm->vcpu[i].cv, NULL);
		pthread_mutex_init(&vm->vcpu[i].slp, NULL);
		pthread_cond_init(&vm->vcpu[i].slpcv, NULL);
	}
	vm->lockfd = vmm_store_lock(name);
	if (vm->lockfd < 0) {
		error = vm->lockfd;
		goto fail;
	}
	/* Load only after taking the lock: the previous owner has saved by then. */
	if ((error = vmm_store_load(name, vm->img)) != 0)
		goto fail;
	vmm_store_clean_stale(name);
	if (vm->img->memsize != 0) {
		fd = vmm_store_mem_open(name, &size);
		if (fd < 0) {
			error = fd;
			goto fail;
		}
		if (size != vm->img->memsize) {
			close(fd);
			error = vmm_store_fail(EBADMSG,
			    "VM '%s': guest memory file is %llu bytes, state says %llu",
			    name, (unsigned long long)size,
			    (unsigned long long)vm->img->memsize);
			goto fail;
		}
		if ((error = vm_map_memory(vm, fd, size)) != 0) {
			close(fd);
			goto fail;
		}
	}
	for (i = 0; i < VM_MAXCPU; i++)
		memcpy(vm->vcpu[i].stats, vm->img->stats[i], sizeof(vm->vcpu[i].stats));
	*vmp = vm;
	return 0;
fail:
	if (vm->lockfd >= 0)
		close(vm->lockfd);
	vmm_image_fini(vm->img);
	free(vm->img);
	free(vm);
	return error;
}

/* Wake the vCPU if it sleeps in HLT or wait-for-SIPI; its condition is set. */
static void
vcpu_wake(struct vm_vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->slp);
	pthread_cond_broadcast(&vcpu->slpcv);
	pthread_mutex_unlock(&vcpu->slp);
}

/* The thread that runs a vCPU of this process, if this one does. */
static __thread struct vm_vcpu *cur_vcpu;

/* vmm_intr_cb.notify: an interrupt or event for @id. */
static void
intr_notify(void *arg, int id, bool kick)
{
	struct vm *vm = arg;
	struct vm_vcpu *vcpu = &vm->vcpu[id];

	/* The vCPU's own thread takes it at its next boundary anyway. */
	if (kick && cur_vcpu != vcpu && vcpu->cookie != NULL)
		vm->ops->kick(vcpu->cookie);
	vcpu_wake(vcpu);
}

/* vmm_intr_cb.tsc: on the vCPU's thread, which holds vcpu->mtx. */
static uint64_t
intr_tsc(void *arg, int id)
{
	struct vm *vm = arg;
	struct vm_vcpu *vcpu = &vm->vcpu[id];
	struct vm_cpu_state *st;
	uint64_t tsc = 0;

	if (vcpu->cookie == NULL)
		return 0;
	if (vm->ops->get_tsc != NULL)
		return vm->ops->get_tsc(vcpu->cookie);
	if ((st = malloc(sizeof(*st))) != NULL && vm->ops->get_state(vcpu->cookie, st) == 0)
		tsc = st->tsc;
	free(st);
	return tsc;
}

/* Get vCPU @id out of the backend and hold it (see the locking note). */
static struct vm_vcpu *
vcpu_acquire(struct vm *vm, int id)
{
	struct vm_vcpu *vcpu = &vm->vcpu[id];

	atomic_fetch_add(&vcpu->reqidle, 1);
	if (vcpu->cookie != NULL)
		vm->ops->kick(vcpu->cookie);
	vcpu_wake(vcpu);
	pthread_mutex_lock(&vcpu->mtx);
	atomic_fetch_sub(&vcpu->reqidle, 1);
	return vcpu;
}

static void
vcpu_release(struct vm_vcpu *vcpu)
{
	pthread_cond_broadcast(&vcpu->cv);
	pthread_mutex_unlock(&vcpu->mtx);
}

/* Make every vCPU see a suspend: kick running ones, wake sleeping ones. */
static void
vmm_suspend_wake(struct vm *vm)
{
	int i;

	for (i = 0; i < VM_MAXCPU; i++) {
		if (vm->vcpu[i].cookie != NULL)
			vm->ops->kick(vm->vcpu[i].cookie);
		vcpu_wake(&vm->vcpu[i]);
	}
}

/*
 * A vCPU that cannot leave its state without help from outside (HLT with
 * interrupts disabled, wait-for-SIPI) is in vm->halted_cpus; when every
 * active vCPU is, nothing can wake any of them and the VM is halted
 * (bhyve's vm_handle_hlt).  vcpu->mtx held.
 */
static void
vcpu_set_stuck(struct vm *vm, struct vm_vcpu *vcpu, bool stuck)
{
	uint32_t bit = 1u << vcpu->id, active;
	bool all;

	pthread_mutex_lock(&vm->mtx);
	if (stuck)
		vm->halted_cpus |= bit;
	else
		vm->halted_cpus &= ~bit;
	active = vm->active_cpus ? vm->active_cpus : atomic_load(&vm->ran_cpus);
	all = stuck && (active & bit) && (vm->halted_cpus & active) == active;
	pthread_mutex_unlock(&vm->mtx);
	if (all) {
		int expected = VM_SUSPEND_NONE;

		atomic_compare_exchange_strong(&vm->suspend, &expected, VM_SUSPEND_HALT);
		vmm_suspend_wake(vm);
	}
}

/* Enter an activity state (VM_ACTIVITY_*).  vcpu->mtx held. */
static void
vcpu_set_activity(struct vm *vm, struct vm_vcpu *vcpu, uint32_t act, bool intr_enabled)
{
	vcpu->halted = act == VM_ACTIVITY_HLT;
	vcpu->hlt_if = intr_enabled;
	vcpu->wait_sipi = act == VM_ACTIVITY_WAIT_SIPI;
	vcpu_set_stuck(vm, vcpu, vcpu->wait_sipi || (vcpu->halted && !intr_enabled));
}

static uint32_t
vcpu_activity(const struct vm_vcpu *vcpu)
{
	return vcpu->wait_sipi ? VM_ACTIVITY_WAIT_SIPI :
	    vcpu->halted ? VM_ACTIVITY_HLT : VM_ACTIVITY_ACTIVE;
}

/*
 * The backend vCPU's state from the image: registers, LAPIC, interrupt
 * source.  A part the backend refuses is named in one line.
 */
static int
vcpu_backend_load(struct vm *vm, struct vm_vcpu *vcpu)
{
	int error;

	error = vm->ops->set_state(vcpu->cookie, &vm->img->cpu[vcpu->id]);
	if (error != 0) {
		char why[160];

		/* Which part the backend refused, when it says (a state from the other backend). */
		snprintf(why, sizeof(why), "%s", vmm_store_strerror()[0] ? vmm_store_strerror() :
		    strerror(-error));
		return vmm_store_fail(-error, "cannot load vCPU %d state into the %s backend: %s",
		    vcpu->id, vm->ops->name, why);
	}
	vcpu->nextrip = vm->img->cpu[vcpu->id].rip;
	vcpu_set_activity(vm, vcpu, vm->img->cpu[vcpu->id].halted,
	    (vm->img->cpu[vcpu->id].rflags & 0x200) != 0);
	/* A backend's own LAPIC takes the vCPU's LAPIC section (docs/kvm.md "State"). */
	if (vm->ops->lapic_restore != NULL && (uint32_t)vcpu->id < vm->img->ncpus) {
		const struct vmm_section *sec = vmm_image_section(vm->img, VMM_SEC_LAPIC,
		    (uint16_t)vcpu->id, "");

		vmm_store_clear_error();
		if (sec != NULL &&
		    (error = vm->ops->lapic_restore(vcpu->cookie, sec->data, sec->len)) != 0) {
			char why[200];

			snprintf(why, sizeof(why), "%s", vmm_store_strerror()[0] ?
			    vmm_store_strerror() : strerror(-error));
			return vmm_store_fail(-error, "cannot load vCPU %d's local APIC into the "
			    "%s backend: %s", vcpu->id, vm->ops->name, why);
		}
	}
	if (vm->intr != NULL) {
		struct vmm_intr_source src;

		vmm_intr_source(vm->intr, vcpu->id, &src);
		error = vm->ops->set_intr_source(vcpu->cookie, &src);
		/*
		 * -ENOTSUP: the backend cannot take libvmm's interrupts yet (KVM,
		 * until its split irqchip: docs/kvm.md); the guest still sees the
		 * LAPIC's registers, and runs as long as it needs no interrupt.
		 */
		if (error != 0 && error != -ENOTSUP)
			return vmm_store_fail(-error, "vCPU %d: cannot attach its local APIC",
			    vcpu->id);
	}
	return 0;
}

/* The feature names of XSAVE state components @bits, for messages. */
static const char *
xstate_names(uint64_t bits)
{
	static const char *const names[8] = {
		"", "AVX", "AVX-512", "AVX and AVX-512", "AMX", "AVX and AMX", "AVX-512 and AMX",
		"AVX, AVX-512 and AMX",
	};

	return names[((bits & VM_XSTATE_AVX) ? 1 : 0) | ((bits & VM_XSTATE_AVX512) ? 2 : 0) |
	    ((bits & VM_XSTATE_AMX) ? 4 : 0)];
}

/*
 * The backend vCPU, created on first use from the image.  vcpu->mtx held.
 * A vCPU whose state did not load is not kept: the image, not the
 * backend's RESET state, is what a save then writes (nothing is lost).
 */
static int
vcpu_backend(struct vm *vm, struct vm_vcpu *vcpu)
{
	const struct vm_cpu_state *st = &vm->img->cpu[vcpu->id];
	int error;

	if (vcpu->cookie != NULL)
		return 0;
	/* AVX, AVX-512 and AMX state from KVM cannot go on on the software CPU (docs/kvm.md "XSAVE"). */
	if (st->xcr0 & ~vm->ops->xstate)
		return vmm_store_fail(ENOTSUP, "cannot load vCPU %d state into the %s backend: "
		    "XCR0 %#llx enables XSAVE state components %#llx (%s) that it does not have",
		    vcpu->id, vm->ops->name, (unsigned long long)st->xcr0,
		    (unsigned long long)(st->xcr0 & ~vm->ops->xstate),
		    xstate_names(st->xcr0 & ~vm->ops->xstate));
	if ((st->xfd | st->xfd_err) != 0 && !(vm->ops->xstate & VM_XSTATE_AMX))
		return vmm_store_fail(ENOTSUP, "cannot load vCPU %d state into the %s backend: "
		    "IA32_XFD %#llx / IA32_XFD_ERR %#llx are set and it has no AMX", vcpu->id,
		    vm->ops->name, (unsigned long long)st->xfd, (unsigned long long)st->xfd_err);
	error = vm->ops->vcpu_init(vm->cookie, vcpu, vcpu->id, &vcpu->cookie);
	if (error != 0)
		return vmm_store_fail(-error, "cannot create vCPU %d: %s", vcpu->id,
		    strerror(-error));
	vmm_store_clear_error();
	if ((error = vcpu_backend_load(vm, vcpu)) != 0) {
		vm->ops->vcpu_cleanup(vcpu->cookie);
		vcpu->cookie = NULL;
	}
	return error;
}

static void intr_detach(struct vm *vm);
static int vcpu_take_events(struct vm *vm, struct vm_vcpu *vcpu);

/*
 * The LAPICs and the IOAPIC come with the backend (FreeBSD's vm_init
 * creates them with the VM), from the state file: each LAPIC's section,
 * else APIC_BASE from its MSRS; the IOAPIC's DEVICE section "vioapic";
 * then the platform devices (vmm_platform.h), each from its own section.
 */
static int
intr_attach(struct vm *vm, const struct vmm_backend_ops *ops)
{
	const struct vmm_section *sec;
	struct vmm_intr_cb cb = { .notify = intr_notify, .tsc = intr_tsc, .arg = vm };
	int i, error;

	if ((error = vmm_intr_create(&vm->intr, &cb, (int)vm->img->ncpus)) != 0)
		return vmm_store_fail(-error, "cannot create the interrupt controllers");
	for (i = 0; i < VM_MAXCPU; i++) {
		sec = vmm_image_section(vm->img, VMM_SEC_LAPIC, (uint16_t)i, "");
		/* A backend with its own LAPICs takes the section itself (vcpu_backend). */
		if (sec == NULL || ops->msi != NULL) {
			vmm_intr_set_apicbase(vm->intr, i, vm->img->cpu[i].apic_base);
			continue;
		}
		if ((error = vmm_intr_lapic_restore(vm->intr, i, sec->data, sec->len)) != 0) {
			intr_detach(vm);
			return vmm_store_fail(-error, "VM '%s': the saved local APIC of vCPU %d "
			    "cannot be restored", vm->name, i);
		}
	}
	error = vmm_snapshot_register(vm, "vioapic", vmm_intr_ioapic_save,
	    vmm_intr_ioapic_restore, vm->intr);
	if (error != 0) {
		intr_detach(vm);
		return error;
	}
	/* The RTC in local time, as FreeBSD's rtc.use_localtime; bhyve -u sets UTC. */
	if ((error = vmm_platform_create(&vm->plat, vm->intr, false)) != 0) {
		intr_detach(vm);
		return vmm_store_fail(-error, "cannot create the platform devices");
	}
	/* CMOS memory size (bhyve's rtc_init); a saved RTC brings its own. */
	vmm_platform_set_memsize(vm->plat, vm->img->lowmem, vm->img->highmem);
	if ((error = vmm_platform_register(vm->plat, vm)) != 0)
		intr_detach(vm);
	return error;
}

static void
intr_detach(struct vm *vm)
{
	if (vm->intr == NULL)
		return;
	if (vm->plat != NULL) {
		vmm_platform_unregister(vm->plat, vm);
		vmm_platform_destroy(vm->plat);
		vm->plat = NULL;
	}
	vmm_snapshot_unregister(vm, "vioapic");
	vmm_intr_destroy(vm->intr);
	vm->intr = NULL;
}

/*
 * The guest has run since bhyveload loaded it: vCPU 0's counters, as
 * bhyve's guest_at_start.  Before a backend attaches (they are the image's).
 */
static bool
guest_started(const struct vm *vm)
{
	int k;

	for (k = 0; k < VMST_COUNT; k++)
		if (vm->vcpu[0].stats[k] != 0)
			return true;
	return false;
}

/*
 * The topology a run starts with (docs/store.md, "The CPU topology"): the
 * instance's when it multiplies to the vCPU count, else one socket of
 * single-thread cores.
 */
static void
topology_for_run(struct vm *vm, int *sockets, int *cores, int *threads)
{
	uint32_t s = vm->img->topo.sockets, c = vm->img->topo.cores, t = vm->img->topo.threads;

	if (s != 0 && s * c * t == vm->img->ncpus) {
		*sockets = (int)s;
		*cores = (int)c;
		*threads = (int)t;
	} else {
		*sockets = 1;
		*cores = (int)vm->img->ncpus;
		*threads = 1;
	}
}

int
vmm_attach_backend(struct vm *vm, const char *backend)
{
	const struct vmm_backend_ops *ops;
	struct vmm_cpu_profile prof;
	int error;

	if (vm->ops != NULL)
		return 0;
	if ((error = vmm_backend_lookup(backend, &ops, vm->backend_note,
	    sizeof(vm->backend_note))) != 0)
		return error;
	vmm_cpu_profile_default(&prof);
	if (vm->img->vendor[0] != '\0' &&
	    vmm_vendor_parse(vm->img->vendor, &prof.vendor) != 0)
		return vmm_store_fail(EINVAL, "unknown CPU vendor '%s'", vm->img->vendor);
	topology_for_run(vm, &prof.sockets, &prof.cores, &prof.threads);
	if ((error = intr_attach(vm, ops)) != 0)
		return error;
	prof.ncpus = (int)vm->img->ncpus;
	prof.x2apic_off = vmm_intr_x2apic_off(vm->intr);
	vmm_store_clear_error();
	if ((error = ops->vm_init(vm, &prof, &vm->cookie)) != 0) {
		char why[160];

		/* The backend's own reason when it gave one (KVM names the ioctl). */
		snprintf(why, sizeof(why), "%s", vmm_store_strerror()[0] ?
		    vmm_store_strerror() : strerror(-error));
		intr_detach(vm);
		return vmm_store_fail(-error, "backend '%s' failed to start: %s", ops->name, why);
	}
	if (vm->memmap.nsegs > 0 && (error = ops->vm_memmap(vm->cookie, &vm->memmap)) != 0) {
		ops->vm_cleanup(vm->cookie);
		intr_detach(vm);
		return vmm_store_fail(-error, "backend '%s' cannot map guest memory", ops->name);
	}
	if (ops->msi != NULL) {
		/* The backend has the LAPICs: our IOAPIC and 8259 send them messages. */
		struct vmm_intr_lapic lb = { .msi = ops->msi, .routes = ops->ioapic_routes,
		    .arg = vm->cookie };

		if ((error = vmm_intr_set_lapic(vm->intr, &lb)) != 0) {
			ops->vm_cleanup(vm->cookie);
			intr_detach(vm);
			return vmm_store_fail(-error, "backend '%s' refused the IOAPIC's routes",
			    ops->name);
		}
	}
	vm->ops = ops;
	snprintf(vm->img->backend, sizeof(vm->img->backend), "%s", ops->name);
	snprintf(vm->img->vendor, sizeof(vm->img->vendor), "%s", vmm_vendor_name(prof.vendor));
	vm->img->topo.sockets = (uint32_t)prof.sockets;
	vm->img->topo.cores = (uint32_t)prof.cores;
	vm->img->topo.threads = (uint32_t)prof.threads;
	atomic_store(&vm->suspend, VM_SUSPEND_NONE);
	/*
	 * Nothing is written yet: the devices register (and may refuse their
	 * saved state) before the guest runs, and a bhyve that stops then
	 * leaves the file as it was.  mark_running writes "running" first.
	 */
	return 0;
}

/*
 * Crash consistency: from the first guest instruction on, the guest may
 * change its memory, so the record on disk says "running" (with our pid
 * and boot id) until a save of a stopped VM says otherwise.  A process that
 * dies leaves the mark behind.  Called by vmm_run before it enters the
 * backend; vcpu->mtx not held.
 */
static int
mark_running(struct vm *vm)
{
	int error = 0;

	if (atomic_load(&vm->run_marked))
		return 0;
	pthread_mutex_lock(&vm->mtx);
	if (!atomic_load(&vm->run_marked)) {
		vm->img->run.running = 1;
		vm->img->run.pid = (int64_t)getpid();
		vmm_store_boot_id(vm->img->run.boot_id, sizeof(vm->img->run.boot_id));
		if ((error = vmm_store_save(vm->name, vm->img)) == 0)
			atomic_store(&vm->run_marked, true);
		else
			vm->img->run.running = 0;
	}
	pthread_mutex_unlock(&vm->mtx);
	return error;
}

int
vmm_left_running(struct vm *vm, long *pid, bool *same_boot)
{
	char boot[sizeof(vm->img->run.boot_id)];

	if (!vm->img->run.running || vm->ops != NULL)
		return 0;
	vmm_store_boot_id(boot, sizeof(boot));
	*pid = (long)vm->img->run.pid;
	*same_boot = strcmp(boot, vm->img->run.boot_id) == 0;
	return 1;
}

int
vmm_force_reset(struct vm *vm)
{
	int i, error;

	if (vm->ops != NULL)
		return vmm_store_fail(EBUSY, "VM '%s' is running", vm->name);
	/* A machine after a power cut: every vCPU from RESET, memory as it is. */
	pthread_mutex_lock(&vm->mtx);
	for (i = 0; i < VM_MAXCPU; i++) {
		vm_cpu_state_reset(&vm->img->cpu[i], i);
		vmm_image_drop_section(vm->img, VMM_SEC_LAPIC, (uint16_t)i, "");
	}
	vmm_image_drop_section(vm->img, VMM_SEC_DEVICE, VMM_SEC_VM_LEVEL, "vioapic");
	vm->img->run.running = 0;
	pthread_mutex_unlock(&vm->mtx);
	vm->dirty = true;
	if ((error = vmm_save(vm)) != 0)
		return error;
	return 0;
}

int
vmm_set_cpu_vendor(struct vm *vm, const char *vendor)
{
	enum vmm_vendor v;

	if (vm->ops != NULL)
		return vmm_store_fail(EBUSY, "the CPU vendor is chosen before the VM runs");
	if (vmm_vendor_parse(vendor, &v) != 0)
		return vmm_store_fail(EINVAL, "unknown CPU vendor '%s' (intel, amd or host)",
		    vendor);
	snprintf(vm->img->vendor, sizeof(vm->img->vendor), "%s", vmm_vendor_name(v));
	return 0;
}

const char *
vmm_cpu_vendor(struct vm *vm)
{
	return vm->img->vendor;
}

const char *
vmm_backend_name(struct vm *vm)
{
	return vm->ops != NULL ? vm->ops->name : vm->img->backend;
}

static void
vmm_autosave(struct vm *vm)
{
	vm->dirty = true;
	/* Without a backend nothing runs: every edit is written through at once. */
	if (vm->ops == NULL)
		vmm_save(vm);
}

/*
 * Pause every vCPU: each is taken out of the backend and held, at an
 * instruction boundary (vmm_run finishes a replayed instruction before it
 * lets go).  Lock order among vCPUs: ascending id.
 */
void
vmm_pause_all(struct vm *vm)
{
	int i;

	for (i = 0; i < VM_MAXCPU; i++)
		vcpu_acquire(vm, i);
}

void
vmm_resume_all(struct vm *vm)
{
	int i;

	for (i = VM_MAXCPU - 1; i >= 0; i--)
		vcpu_release(&vm->vcpu[i]);
}

/* Counters of a held vCPU: libvmm's plus the backend's of this run. */
static void
vcpu_stats_held(struct vm *vm, struct vm_vcpu *vcpu, uint64_t stats[VMST_COUNT])
{
	struct vm_backend_stats bs;

	memcpy(stats, vcpu->stats, sizeof(vcpu->stats));
	if (vcpu->cookie != NULL) {
		vm->ops->get_stats(vcpu->cookie, &bs);
		stats[VMST_INSNS] += bs.insns_retired;
		stats[VMST_TLB_FLUSHES] += bs.tlb_flushes;
		stats[VMST_BACKEND_ENTRIES] += bs.backend_entries;
	}
}

/* Device hooks: each device's state becomes its DEVICE section.  vm->mtx held. */
static int
save_devices(struct vm *vm)
{
	uint8_t *buf = NULL, *nb;
	size_t cap = 0;
	ssize_t n;
	int i, error = 0;

	for (i = 0; i < vm->nhooks && !vm->hooks_off && error == 0; i++) {
		struct vmm_snapshot_hook *h = &vm->hooks[i];
		for (;;) {
			n = h->save(h->arg, buf, cap);
			if (n < 0) {
				error = vmm_store_fail((int)-n, "device %s cannot save its state",
				    h->name);
				break;
			}
			if ((size_t)n <= cap) {
				error = vmm_image_put_section(vm->img, VMM_SEC_DEVICE, 0,
				    VMM_SEC_VM_LEVEL, h->name, buf, (size_t)n);
				break;
			}
			if ((size_t)n > VMM_STATE_MAX_SIZE / 2 || (nb = realloc(buf, (size_t)n)) == NULL) {
				error = vmm_store_fail(ENOMEM, "device %s: state too large", h->name);
				break;
			}
			buf = nb;
			cap = (size_t)n;
		}
	}
	free(buf);
	return error;
}

/* vCPU @i's LAPIC into its LAPIC section, APIC_BASE into its MSRs. */
static int
save_lapic(struct vm *vm, int i)
{
	uint8_t buf[VMM_INTR_LAPIC_SNAP_MAX];
	ssize_t n;

	vm->img->cpu[i].apic_base = vmm_intr_apicbase(vm->intr, i);
	if ((uint32_t)i >= vm->img->ncpus)
		return 0;
	n = vmm_intr_lapic_save(vm->intr, i, buf, sizeof(buf));
	if (n < 0 || (size_t)n > sizeof(buf))
		return vmm_store_fail(EOVERFLOW, "vCPU %d: local APIC state too large", i);
	return vmm_image_put_section(vm->img, VMM_SEC_LAPIC, 0, (uint16_t)i, "", buf,
	    (size_t)n);
}

/* The backend's LAPIC of @vcpu into its LAPIC section (vmm_backend.h lapic_save). */
static int
save_backend_lapic(struct vm *vm, struct vm_vcpu *vcpu)
{
	uint8_t buf[VMM_INTR_LAPIC_SNAP_MAX];
	ssize_t n;

	vmm_store_clear_error();
	n = vm->ops->lapic_save(vcpu->cookie, buf, sizeof(buf));
	if (n < 0)
		return vmm_store_strerror()[0] ? (int)n : vmm_store_fail((int)-n,
		    "vCPU %d: cannot read its local APIC: %s", vcpu->id, strerror((int)-n));
	if ((size_t)n > sizeof(buf))
		return vmm_store_fail(EOVERFLOW, "vCPU %d: local APIC state too large", vcpu->id);
	return vmm_image_put_section(vm->img, VMM_SEC_LAPIC, 0, (uint16_t)vcpu->id, "", buf,
	    (size_t)n);
}

/* Guest memory reaches its file before the state that describes it. */
static int
sync_memory(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->memmap.nsegs; i++) {
		const struct vmm_memseg *s = &vm->memmap.seg[i];
		if (s->len != 0 && msync(s->hva, s->len, MS_SYNC) != 0)
			return vmm_store_fail(errno, "cannot write guest memory back: %s",
			    strerror(errno));
	}
	return 0;
}

/*
 * LHYVE_SAVE_HOLD_MS=N (a test knob, docs/store.md): hold the paused vCPUs
 * N ms before the cut is read, so a guest's timer runs out while its vCPU
 * is out of the backend (tests/cli/test_backend.sh, cli_oneshot).
 */
static void
save_hold(void)
{
	const char *env = getenv("LHYVE_SAVE_HOLD_MS");
	unsigned long ms;

	if (env == NULL || (ms = strtoul(env, NULL, 10)) == 0 || ms > 60000)
		return;
	usleep((useconds_t)(ms * 1000));
}

int
vmm_save(struct vm *vm)
{
	struct vm_vcpu *vcpu;
	int i, error = 0;

	/* One consistent cut: every vCPU and every device at the same moment. */
	vmm_pause_all(vm);
	save_hold();
	for (i = 0; i < VM_MAXCPU && error == 0; i++) {
		vcpu = &vm->vcpu[i];
		/* NMI/INIT/SIPI posted but not yet taken: into the state of the cut. */
		if (vcpu->cookie != NULL && (error = vcpu_take_events(vm, vcpu)) != 0)
			error = vmm_store_fail(-error, "vCPU %d: cannot take its INIT/SIPI/NMI", i);
		if (vcpu->cookie != NULL && error == 0) {
			error = vm->ops->get_state(vcpu->cookie, &vm->img->cpu[i]);
			/*
			 * libvmm, not the backend, knows the vCPU sleeps in HLT or
			 * waits for SIPI, unless the backend has the LAPIC.
			 */
			if (vm->ops->msi == NULL)
				vm->img->cpu[i].halted = vcpu_activity(vcpu);
			if (error != 0)
				error = vmm_store_fail(-error, "cannot read vCPU %d state", i);
		}
		/* A backend's own LAPIC: APIC_BASE came with its state (docs/kvm.md). */
		if (vm->intr != NULL && error == 0 && vm->ops->msi == NULL)
			error = save_lapic(vm, i);
		else if (error == 0 && vcpu->cookie != NULL && vm->ops->lapic_save != NULL &&
		    (uint32_t)i < vm->img->ncpus)
			error = save_backend_lapic(vm, vcpu);
		vcpu_stats_held(vm, vcpu, vm->img->stats[i]);
	}
	pthread_mutex_lock(&vm->mtx);
	if (error == 0)
		error = save_devices(vm);
	/*
	 * Running means: vCPUs may go on after this save.  Without a backend
	 * the mark stays as loaded: editing a register of an instance a dead
	 * bhyve left does not make its state any less stale.
	 */
	if (vm->ops != NULL)
		vm->img->run.running = atomic_load(&vm->run_marked) && !vm->closing &&
		    vmm_suspended(vm) == VM_SUSPEND_NONE;
	if (error == 0)
		error = sync_memory(vm);
	if (error == 0)
		error = vmm_store_save(vm->name, vm->img);
	if (error == 0)
		vm->dirty = false;
	pthread_mutex_unlock(&vm->mtx);
	vmm_resume_all(vm);
	return error;
}

int
vmm_snapshot_register(struct vm *vm, const char *name, vmm_snapshot_save_t *save,
    vmm_snapshot_restore_t *restore, void *arg)
{
	const struct vmm_section *s;
	int i, error = 0;

	if (name == NULL || name[0] == '\0' || strlen(name) >= VMM_SEC_NAMELEN)
		return vmm_store_fail(EINVAL, "device name '%s' for a snapshot hook",
		    name ? name : "");
	pthread_mutex_lock(&vm->mtx);
	for (i = 0; i < vm->nhooks; i++)
		if (strcmp(vm->hooks[i].name, name) == 0)
			break;
	if (i < vm->nhooks)
		error = vmm_store_fail(EEXIST, "device %s has a snapshot hook already", name);
	else if (vm->nhooks == VMM_SNAPSHOT_MAX)
		error = vmm_store_fail(ENOSPC, "more than %d snapshot hooks", VMM_SNAPSHOT_MAX);
	s = vmm_image_section(vm->img, VMM_SEC_DEVICE, VMM_SEC_VM_LEVEL, name);
	/* The device continues from its saved state, if the instance has one. */
	if (error == 0 && s != NULL && restore != NULL) {
		char why[160];

		/* The reason is the device's own, never an earlier error's. */
		vmm_store_clear_error();
		if ((error = restore(arg, s->data, s->len)) != 0) {
			snprintf(why, sizeof(why), "%s", vmm_store_strerror()[0] ?
			    vmm_store_strerror() : strerror(-error));
			error = vmm_store_fail(-error, "VM '%s': the saved state of device %s "
			    "cannot be restored (%s)", vm->name, name, why);
		}
	}
	if (error == 0) {
		snprintf(vm->hooks[vm->nhooks].name, VMM_SEC_NAMELEN, "%s", name);
		vm->hooks[vm->nhooks].save = save;
		vm->hooks[vm->nhooks].arg = arg;
		vm->nhooks++;
	}
	pthread_mutex_unlock(&vm->mtx);
	return error;
}

void
vmm_snapshot_unregister(struct vm *vm, const char *name)
{
	int i;

	pthread_mutex_lock(&vm->mtx);
	for (i = 0; i < vm->nhooks; i++) {
		if (name != NULL && strcmp(vm->hooks[i].name, name) != 0)
			continue;
		memmove(&vm->hooks[i], &vm->hooks[i + 1],
		    (size_t)(vm->nhooks - i - 1) * sizeof(vm->hooks[0]));
		vm->nhooks--;
		i--;
	}
	if (name == NULL)
		vm->hooks_off = true;
	pthread_mutex_unlock(&vm->mtx);
}

/* Let go of everything but the files. */
static void
vm_release(struct vm *vm)
{
	int i;

	/*
	 * The interrupt controllers first: their timer threads kick vCPUs
	 * (a LAPIC timer firing during a suspend did so into a freed vCPU).
	 */
	intr_detach(vm);
	if (vm->ops != NULL) {
		for (i = 0; i < VM_MAXCPU; i++)
			if (vm->vcpu[i].cookie != NULL)
				vm->ops->vcpu_cleanup(vm->vcpu[i].cookie);
		vm->ops->vm_cleanup(vm->cookie);
	}
	if (vm->base != NULL)
		munmap(vm->base, vm->reserved);
	if (vm->memfd >= 0)
		close(vm->memfd);
	for (i = 0; i < VM_MAXCPU; i++) {
		pthread_mutex_destroy(&vm->vcpu[i].mtx);
		pthread_cond_destroy(&vm->vcpu[i].cv);
		pthread_mutex_destroy(&vm->vcpu[i].slp);
		pthread_cond_destroy(&vm->vcpu[i].slpcv);
	}
	pthread_mutex_destroy(&vm->mtx);
	vmm_image_fini(vm->img);
	free(vm->img);
}

int
vmm_close(struct vm *vm)
{
	int error = 0;

	vmm_ctl_stop(vm);
	/* The owner lets go: no vCPU of this process runs it any more. */
	vm->closing = true;
	/*
	 * A VM being destroyed is not saved: its files go next.  One whose
	 * guest never ran, with nothing edited, is left as it was on disk.
	 */
	if ((vm->dirty || (vm->ops != NULL && atomic_load(&vm->run_marked))) &&
	    vmm_suspended(vm) != VM_SUSPEND_DESTROY)
		error = vmm_save(vm);
	vm_release(vm);
	close(vm->lockfd);
	free(vm);
	return error;
}

int
vmm_destroy(struct vm *vm)
{
	char name[sizeof(vm->name)];
	int error;

	vmm_ctl_stop(vm);
	snprintf(name, sizeof(name), "%s", vm->name);
	vm_release(vm);
	/* The files go while we still hold NAME/lock: no one loads them meanwhile. */
	error = vmm_store_destroy(name);
	close(vm->lockfd);
	free(vm);
	return error;
}

int
vmm_setup_memory(struct vm *vm, uint64_t len, int memflags)
{
	int fd, error;

	if (len == 0 || (len & 0xfff) != 0)
		return vmm_store_fail(EINVAL, "memory size must be a non-zero multiple of 4 KiB");
	if (len > (1ULL << 40))
		return vmm_store_fail(EINVAL, "memory size %llu GiB is larger than 1 TiB",
		    (unsigned long long)(len >> 30));
	pthread_mutex_lock(&vm->mtx);
	if (vm->img->memsize != 0) {
		error = 0;
		if (vm->img->memsize != len)
			error = vmm_store_fail(EEXIST,
			    "VM '%s' already has %llu MiB of memory (asked for %llu MiB)",
			    vm->name, (unsigned long long)(vm->img->memsize >> 20),
			    (unsigned long long)(len >> 20));
		else if (memflags & 0x02 /* VM_MEM_F_WIRED */) {
			/* -S on an existing instance: back every page now and lock it. */
			if ((error = posix_fallocate(vm->memfd, 0, (off_t)len)) != 0)
				error = vmm_store_fail(error,
				    "cannot preallocate %llu MiB of guest memory: %s",
				    (unsigned long long)(len >> 20), strerror(error));
			else if (mlock(vm->base, vm->memmap.seg[0].len) != 0 ||
			    (vm->memmap.nsegs > 1 &&
			    mlock(vm->memmap.seg[1].hva, vm->memmap.seg[1].len) != 0))
				error = vmm_store_fail(errno, "cannot wire guest memory: %s",
				    strerror(errno));
		}
		pthread_mutex_unlock(&vm->mtx);
		return error;
	}
	fd = vmm_store_mem_create(vm->name, len, memflags & 0x02);
	if (fd < 0) {
		pthread_mutex_unlock(&vm->mtx);
		return fd;
	}
	if ((error = vm_map_memory(vm, fd, len)) != 0) {
		close(fd);
		pthread_mutex_unlock(&vm->mtx);
		return error;
	}
	vm->img->memsize = len;
	vm->img->lowmem = vm->memmap.seg[0].len;
	vm->img->highmem = vm->memmap.seg[1].len;
	vm->img->memflags = (uint32_t)memflags;
	pthread_mutex_unlock(&vm->mtx);
	if (vm->ops != NULL && (error = vm->ops->vm_memmap(vm->cookie, &vm->memmap)) != 0)
		return vmm_store_fail(-error, "backend cannot map guest memory");
	if (vm->plat != NULL)
		vmm_platform_set_memsize(vm->plat, vm->img->lowmem, vm->img->highmem);
	vmm_autosave(vm);
	return 0;
}

uint8_t *
vmm_gpa_map(struct vm *vm, uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < vm->memmap.nsegs; i++) {
		const struct vmm_memseg *s = &vm->memmap.seg[i];
		if (gpa >= s->gpa && len <= s->len && gpa - s->gpa <= s->len - len)
			return s->hva + (gpa - s->gpa);
	}
	return NULL;
}

void
vmm_mem_written(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (vm->ops != NULL && vm->ops->mem_written != NULL)
		vm->ops->mem_written(vm->cookie, gpa, len);
}

void
vmm_mem_layout(struct vm *vm, uint64_t *lowmem, uint64_t *highmem)
{
	*lowmem = vm->img->lowmem;
	*highmem = vm->img->highmem;
}

int
vmm_get_memflags(struct vm *vm)
{
	return (int)vm->img->memflags;
}

int
vmm_get_ncpus(struct vm *vm)
{
	return (int)vm->img->ncpus;
}

int
vmm_set_ncpus(struct vm *vm, int ncpus)
{
	if (ncpus < 1 || ncpus > VM_MAXCPU)
		return vmm_store_fail(EINVAL, "%d vCPUs: lhyve supports 1 to %d", ncpus,
		    VM_MAXCPU);
	vm->img->ncpus = (uint32_t)ncpus;
	if (vm->intr != NULL)
		vmm_intr_set_ncpus(vm->intr, ncpus);
	vmm_autosave(vm);
	return 0;
}

int
vmm_set_topology(struct vm *vm, int sockets, int cores, int threads)
{
	if (sockets < 1 || cores < 1 || threads < 1 ||
	    sockets * cores * threads != (int)vm->img->ncpus)
		return vmm_store_fail(EINVAL,
		    "topology (%d sockets, %d cores, %d threads) does not match %u vCPUs",
		    sockets, cores, threads, vm->img->ncpus);
	if (vm->ops != NULL)
		return vmm_store_fail(EBUSY, "the topology is set before the vCPUs start");
	if (vm->img->topo.sockets != 0 && guest_started(vm) &&
	    (vm->img->topo.sockets != (uint32_t)sockets || vm->img->topo.cores != (uint32_t)cores ||
	    vm->img->topo.threads != (uint32_t)threads))
		return vmm_store_fail(EBUSY, "VM '%s' runs with %u sockets x %u cores x %u threads, "
		    "not %d x %d x %d: a guest that continues keeps its topology (bhyveload "
		    "starts it afresh)", vm->name, vm->img->topo.sockets, vm->img->topo.cores,
		    vm->img->topo.threads, sockets, cores, threads);
	vm->img->topo.sockets = (uint32_t)sockets;
	vm->img->topo.cores = (uint32_t)cores;
	vm->img->topo.threads = (uint32_t)threads;
	return 0;
}

void
vmm_get_topology(struct vm *vm, int *sockets, int *cores, int *threads)
{
	uint32_t s = vm->img->topo.sockets, c = vm->img->topo.cores, t = vm->img->topo.threads;

	if (s != 0 && s * c * t == vm->img->ncpus) {
		*sockets = (int)s;
		*cores = (int)c;
		*threads = (int)t;
	} else {
		/* The default: one socket of single-thread cores (vmm_cpuid.c). */
		*sockets = 1;
		*cores = (int)vm->img->ncpus;
		*threads = 1;
	}
}

static int
check_vcpu(struct vm *vm, int vcpuid)
{
	if (vcpuid < 0 || vcpuid >= VM_MAXCPU)
		return vmm_store_fail(EINVAL, "vCPU %d does not exist", vcpuid);
	return 0;
}

/* A register/descriptor/capability the backend refused: say so. */
static void
vmm_access_fail(int vcpuid, int error)
{
	vmm_store_fail(-error, "vCPU %d: %s", vcpuid,
	    error == -EINVAL ? "invalid register or value" : strerror(-error));
}

/*
 * Accessors: with a backend they go through it (the vCPU pulled out of
 * run()); without one they edit the image and write it through.
 */
#define VCPU_ACCESS(vm, vcpuid, backend_call, image_call, writes) ({	\
	int error_ = check_vcpu(vm, vcpuid);				\
	if (error_ == 0 && (vm)->ops != NULL) {				\
		struct vm_vcpu *vcpu_ = vcpu_acquire(vm, vcpuid);	\
		error_ = vcpu_backend(vm, vcpu_);			\
		if (error_ == 0) {					\
			void *cookie_ = vcpu_->cookie;			\
			(void)cookie_;					\
			error_ = (backend_call);			\
			if (error_ != 0)				\
				vmm_access_fail(vcpuid, error_);	\
		}							\
		vcpu_release(vcpu_);					\
		if (error_ == 0 && (writes))				\
			(vm)->dirty = true;				\
	} else if (error_ == 0) {					\
		pthread_mutex_lock(&(vm)->mtx);				\
		struct vm_cpu_state *st_ = &(vm)->img->cpu[vcpuid];	\
		(void)st_;						\
		error_ = (image_call);					\
		pthread_mutex_unlock(&(vm)->mtx);			\
		if (error_ != 0)					\
			vmm_access_fail(vcpuid, error_);		\
		if (error_ == 0 && (writes))				\
			vmm_autosave(vm);				\
	}								\
	error_;								\
})

int
vmm_get_reg(struct vm *vm, int vcpuid, int reg, uint64_t *val)
{
	return VCPU_ACCESS(vm, vcpuid, vm->ops->get_reg(cookie_, reg, val),
	    vm_cpu_state_get_reg(st_, reg, val), false);
}

/*
 * Where the vCPU resumes follows RIP changes made from outside (bhyve's
 * nextrip), inside the same critical section as the change, so a running
 * vCPU cannot slip back to the old RIP in between.
 */
static void
vcpu_resume_at(struct vm_vcpu *vcpu, uint64_t rip)
{
	vcpu->nextrip = rip;
	vcpu->need_complete = false;
	vcpu->replaying = false;
	vcpu->halted = false;	/* resume at the new RIP, not in HLT */
	vcpu_set_stuck(vcpu->vm, vcpu, vcpu->wait_sipi);
}

int
vmm_set_reg(struct vm *vm, int vcpuid, int reg, uint64_t val)
{
	struct vm_vcpu *vcpu;
	int error;

	if ((error = check_vcpu(vm, vcpuid)) != 0)
		return error;
	if (vm->ops == NULL)
		return VCPU_ACCESS(vm, vcpuid, -EINVAL, vm_cpu_state_set_reg(st_, reg, val),
		    true);
	/* No AVX on the software CPU (docs/kvm.md "XSAVE"). */
	if (reg == VM_REG_GUEST_XCR0 && (val & ~vm->ops->xstate))
		return vmm_store_fail(EINVAL, "vCPU %d: XCR0 %#llx enables XSAVE state components "
		    "%#llx that the %s backend does not have", vcpuid, (unsigned long long)val,
		    (unsigned long long)(val & ~vm->ops->xstate), vm->ops->name);
	vcpu = vcpu_acquire(vm, vcpuid);
	error = vcpu_backend(vm, vcpu);
	if (error == 0)
		error = vm->ops->set_reg(vcpu->cookie, reg, val);
	if (error == 0 && reg == VM_REG_GUEST_RIP)
		vcpu_resume_at(vcpu, val);
	vcpu_release(vcpu);
	if (error != 0)
		vmm_access_fail(vcpuid, error);
	else
		vm->dirty = true;
	return error;
}

int
vmm_get_desc(struct vm *vm, int vcpuid, int reg, struct seg_desc *desc)
{
	return VCPU_ACCESS(vm, vcpuid, vm->ops->get_desc(cookie_, reg, desc),
	    vm_cpu_state_get_desc(st_, reg, desc), false);
}

int
vmm_set_desc(struct vm *vm, int vcpuid, int reg, const struct seg_desc *desc)
{
	return VCPU_ACCESS(vm, vcpuid, vm->ops->set_desc(cookie_, reg, desc),
	    vm_cpu_state_set_desc(st_, reg, desc), true);
}

int
vmm_get_cap(struct vm *vm, int vcpuid, int cap, int *val)
{
	int error = check_vcpu(vm, vcpuid);

	if (error != 0)
		return error;
	/* Capabilities belong to the backend that runs the vCPU. */
	if (vm->ops == NULL)
		return vmm_store_fail(ENXIO,
		    "capabilities exist only while a bhyve runs the VM");
	return VCPU_ACCESS(vm, vcpuid, vm->ops->get_cap(cookie_, cap, val), -EINVAL, false);
}

int
vmm_set_cap(struct vm *vm, int vcpuid, int cap, int val)
{
	int error = check_vcpu(vm, vcpuid);

	if (error != 0)
		return error;
	if (vm->ops == NULL)
		return vmm_store_fail(ENXIO,
		    "capabilities exist only while a bhyve runs the VM");
	struct vm_vcpu *vcpu = vcpu_acquire(vm, vcpuid);
	error = vcpu_backend(vm, vcpu);
	if (error == 0)
		error = vm->ops->set_cap(vcpu->cookie, cap, val);
	vcpu_release(vcpu);
	return error;
}

static int
image_inject(struct vm_cpu_state *st, int vector, int errcode_valid, uint32_t errcode)
{
	if (vector < 0 || vector >= 32 || vector == IDT_NMI)
		return -EINVAL;
	st->pending_valid = 1;
	st->pending_vector = (uint32_t)vector;
	st->pending_errcode_valid = errcode_valid ? 1 : 0;
	st->pending_errcode = errcode;
	return 0;
}

int
vmm_inject_exception(struct vm *vm, int vcpuid, int vector, int errcode_valid,
    uint32_t errcode, int restart)
{
	int error;

	if (vector < 0 || vector >= 32 || vector == IDT_NMI)
		return vmm_store_fail(EINVAL, "vector %d is not an exception", vector);
	error = VCPU_ACCESS(vm, vcpuid,
	    vm->ops->inject_exception(cookie_, vector, errcode_valid, errcode, restart),
	    image_inject(st_, vector, errcode_valid, errcode), true);
	/* As FreeBSD: a fault reports the exiting instruction, not the next one. */
	if (error == 0 && restart)
		error = vmm_restart_instruction(vm, vcpuid);
	return error;
}

static int
image_nmi(struct vm_cpu_state *st)
{
	st->nmi_pending = 1;
	return 0;
}

int
vmm_inject_nmi(struct vm *vm, int vcpuid)
{
	/* Through the LAPIC's event path, so that it also ends HLT (SDM 6.7). */
	if (vm->intr != NULL && check_vcpu(vm, vcpuid) == 0) {
		vm->dirty = true;
		return vmm_intr_nmi(vm->intr, vcpuid);
	}
	return VCPU_ACCESS(vm, vcpuid, vm->ops->inject_nmi(cookie_),
	    image_nmi(st_), true);
}

static int
intr_check(struct vm *vm)
{
	if (vm->intr == NULL)
		return vmm_store_fail(ENXIO,
		    "interrupt controllers exist only while a bhyve runs the VM");
	return 0;
}

#define INTR_CALL(vm, call) ({						\
	int e_ = intr_check(vm);					\
	if (e_ == 0 && (e_ = (call)) != 0)				\
		vmm_store_fail(-e_, "%s", "invalid interrupt request");	\
	e_;								\
})

int
vmm_lapic_irq(struct vm *vm, int vcpuid, int vector)
{
	return INTR_CALL(vm, vmm_intr_lapic_irq(vm->intr, vcpuid, vector));
}

int
vmm_lapic_local_irq(struct vm *vm, int vcpuid, int lvt)
{
	return INTR_CALL(vm, vmm_intr_lapic_local_irq(vm->intr, vcpuid, lvt));
}

int
vmm_lapic_msi(struct vm *vm, uint64_t addr, uint64_t msg)
{
	return INTR_CALL(vm, vmm_intr_msi(vm->intr, addr, msg));
}

/*
 * A guest write that signals an eventfd inside the backend (vmm_backend.h
 * ioeventfd): -ENOTSUP when the backend has none, so the caller keeps
 * taking the write as an exit.
 */
int
vmm_ioeventfd(struct vm *vm, uint64_t addr, int len, uint64_t data, int fd, int flags)
{
	if (vm->ops == NULL)
		return vmm_store_fail(ENXIO, "no CPU backend is attached");
	if (vm->ops->ioeventfd == NULL)
		return -ENOTSUP;
	return vm->ops->ioeventfd(vm->cookie, addr, len, data, fd, flags);
}

bool
vmm_has_ioeventfd(struct vm *vm)
{
	return vm->ops != NULL && vm->ops->ioeventfd != NULL;
}

int
vmm_ioapic_irq(struct vm *vm, int pin, int op)
{
	return INTR_CALL(vm, vmm_intr_ioapic_irq(vm->intr, pin, (enum vmm_irq_op)op));
}

int
vmm_isa_irq(struct vm *vm, int atpic_irq, int ioapic_irq, int op)
{
	if (atpic_irq < 0 || atpic_irq > 15)
		return vmm_store_fail(EINVAL, "ISA IRQ %d does not exist (0 to 15)", atpic_irq);
	return INTR_CALL(vm, vmm_intr_isa_irq(vm->intr, atpic_irq, ioapic_irq,
	    (enum vmm_irq_op)op));
}

/* The RTC (FreeBSD's vm_rtc_*; vrtc.c): CMOS bytes and the time in seconds. */
int
vmm_rtc_read(struct vm *vm, int offset, uint8_t *val)
{
	return INTR_CALL(vm, vmm_platform_rtc_read(vm->plat, offset, val));
}

int
vmm_rtc_write(struct vm *vm, int offset, uint8_t val)
{
	return INTR_CALL(vm, vmm_platform_rtc_write(vm->plat, offset, val));
}

int
vmm_rtc_settime(struct vm *vm, int64_t secs)
{
	return INTR_CALL(vm, vmm_platform_rtc_settime(vm->plat, secs));
}

int
vmm_rtc_gettime(struct vm *vm, int64_t *secs)
{
	return INTR_CALL(vm, vmm_platform_rtc_gettime(vm->plat, secs));
}

int
vmm_ioapic_pincount(struct vm *vm)
{
	return vmm_intr_ioapic_pincount();
}

int
vmm_get_x2apic_state(struct vm *vm, int vcpuid, int *state)
{
	return INTR_CALL(vm, vmm_intr_get_x2apic(vm->intr, vcpuid, state));
}

int
vmm_set_x2apic_state(struct vm *vm, int vcpuid, int state)
{
	return INTR_CALL(vm, vmm_intr_set_x2apic(vm->intr, vcpuid, state));
}

int
vmm_lapic_info(struct vm *vm, int vcpuid, struct vmm_lapic_info *li)
{
	if (vm->ops != NULL && vm->ops->lapic_info != NULL)
		return VCPU_ACCESS(vm, vcpuid, vm->ops->lapic_info(cookie_, li), -ENXIO, false);
	return INTR_CALL(vm, vmm_intr_lapic_info(vm->intr, vcpuid, li));
}

int
vmm_vcpu_reset(struct vm *vm, int vcpuid)
{
	struct vm_cpu_state *st;
	int error;

	if ((error = check_vcpu(vm, vcpuid)) != 0)
		return error;
	st = malloc(sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	vm_cpu_state_reset(st, vcpuid);
	if (vm->ops == NULL) {
		pthread_mutex_lock(&vm->mtx);
		vmm_image_drop_section(vm->img, VMM_SEC_LAPIC, (uint16_t)vcpuid, "");
		pthread_mutex_unlock(&vm->mtx);
		error = VCPU_ACCESS(vm, vcpuid, -EINVAL, (memcpy(st_, st, sizeof(*st)), 0),
		    true);
	} else {
		struct vm_vcpu *vcpu = vcpu_acquire(vm, vcpuid);
		error = vcpu_backend(vm, vcpu);
		if (error == 0)
			error = vm->ops->set_state(vcpu->cookie, st);
		if (error == 0) {
			vcpu_resume_at(vcpu, st->rip);
			vcpu_set_activity(vm, vcpu, st->halted, false);
			vmm_intr_reset_lapic(vm->intr, vcpuid);
		}
		vcpu_release(vcpu);
		vm->dirty = true;
	}
	free(st);
	return error;
}

int
vmm_restart_instruction(struct vm *vm, int vcpuid)
{
	struct vm_vcpu *vcpu;

	if (check_vcpu(vm, vcpuid) != 0)
		return -EINVAL;
	vcpu = vcpu_acquire(vm, vcpuid);
	vcpu->nextrip = vcpu->lastexit.rip;
	vcpu->need_complete = false;
	vcpu->replaying = false;
	vcpu_release(vcpu);
	return 0;
}

int
vmm_get_stats(struct vm *vm, int vcpuid, uint64_t stats[VMST_COUNT])
{
	struct vm_vcpu *vcpu;

	if (check_vcpu(vm, vcpuid) != 0)
		return -EINVAL;
	/* Backend counters are per run; the image holds earlier runs. */
	vcpu = vcpu_acquire(vm, vcpuid);
	vcpu_stats_held(vm, vcpu, stats);
	vcpu_release(vcpu);
	return 0;
}

int
vmm_activate_cpu(struct vm *vm, int vcpuid)
{
	if (check_vcpu(vm, vcpuid) != 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->mtx);
	if (vm->active_cpus & (1u << vcpuid)) {
		pthread_mutex_unlock(&vm->mtx);
		return -EBUSY;
	}
	vm->active_cpus |= 1u << vcpuid;
	pthread_mutex_unlock(&vm->mtx);
	return 0;
}

enum vm_suspend_how
vmm_suspended(struct vm *vm)
{
	return (enum vm_suspend_how)atomic_load(&vm->suspend);
}

int
vmm_suspend(struct vm *vm, enum vm_suspend_how how)
{
	int expected = VM_SUSPEND_NONE, i;

	if (how <= VM_SUSPEND_NONE || how >= VM_SUSPEND_LAST)
		return vmm_store_fail(EINVAL, "invalid suspend type %d", how);
	/* The first reason wins, as in bhyve's vm_suspend(). */
	if (!atomic_compare_exchange_strong(&vm->suspend, &expected, (int)how))
		return -EALREADY;
	/* Wake every vCPU: running ones through the backend, sleeping ones by cv. */
	for (i = 0; i < VM_MAXCPU; i++) {
		struct vm_vcpu *vcpu = &vm->vcpu[i];
		if (vcpu->cookie == NULL)
			continue;
		vcpu = vcpu_acquire(vm, i);
		vcpu_release(vcpu);
	}
	return 0;
}

/*
 * A reinitialized VM is a machine after reset: every device starts from
 * its reset state, as vm_reinit() re-creates vmm.ko's devices and a new
 * bhyve process brings up its own (FreeBSD keeps no device state across
 * bhyve runs).  So the saved state of every device goes, vmm's and
 * bhyve's alike (vioapic, pci.B.S.F, lpc.com1, ...), but the RTC's: its
 * clock and CMOS are battery-backed and outlive a reset.
 */
static void
vmm_drop_device_state(struct vmm_image *img)
{
	size_t i = 0;

	while (i < img->nsec) {
		const struct vmm_section *s = &img->sec[i];

		if (s->type == VMM_SEC_DEVICE && s->vcpu == VMM_SEC_VM_LEVEL &&
		    strcmp(s->name, "vrtc") != 0)
			vmm_image_drop_section(img, s->type, s->vcpu, s->name);
		else
			i++;
	}
}

int
vmm_reinit(struct vm *vm)
{
	int i, error;

	for (i = 0; i < VM_MAXCPU; i++) {
		if ((error = vmm_vcpu_reset(vm, i)) != 0)
			return error;
		memset(vm->vcpu[i].stats, 0, sizeof(vm->vcpu[i].stats));
	}
	pthread_mutex_lock(&vm->mtx);
	vm->active_cpus = 0;
	vm->img->run.running = 0;	/* reloaded: nothing stale is left */
	vmm_drop_device_state(vm->img);
	pthread_mutex_unlock(&vm->mtx);
	if (vm->intr != NULL) {
		vmm_intr_reset(vm->intr);
		vmm_platform_reset(vm->plat);
	}
	atomic_store(&vm->suspend, VM_SUSPEND_NONE);
	vmm_autosave(vm);
	return 0;
}

/*
 * HLT (bhyve: vm_handle_hlt).  With interrupts disabled a vCPU can only be
 * woken by NMI/INIT; when every active vCPU sits like that (or waits for
 * SIPI) the VM is halted.  With interrupts enabled it sleeps until its
 * LAPIC has an interrupt to deliver.
 */
static void
vcpu_handle_hlt(struct vm *vm, struct vm_vcpu *vcpu, const struct vm_exit *vme)
{
	vcpu->stats[VMST_HLT_SLEEPS]++;
	vcpu_set_activity(vm, vcpu, VM_ACTIVITY_HLT, (vme->u.hlt.rflags & 0x200) != 0);
}

/*
 * Whether a sleeping vCPU must wake (vcpu->slp held, vcpu->mtx not: the
 * activity is passed in).  An interrupt ends HLT only with IF set; NMI
 * and INIT end HLT; INIT and SIPI end wait-for-SIPI (SDM Vol. 3A 9.4,
 * 11.6.1); accessors and suspends end any sleep.
 */
static bool
vcpu_wake_cond(struct vm *vm, struct vm_vcpu *vcpu, uint32_t act, bool hlt_if)
{
	unsigned ev;

	if (atomic_load(&vcpu->reqidle) > 0 || vmm_suspended(vm) != VM_SUSPEND_NONE)
		return true;
	if (vm->intr == NULL)
		return false;
	ev = vmm_intr_events(vm->intr, vcpu->id);
	if (act == VM_ACTIVITY_WAIT_SIPI)
		return (ev & (VMM_EV_INIT | VMM_EV_SIPI)) != 0;
	return (ev & (VMM_EV_NMI | VMM_EV_INIT)) != 0 ||
	    (hlt_if && vmm_intr_pending(vm->intr, vcpu->id));
}

/* Sleep in HLT or wait-for-SIPI, vcpu->mtx released meanwhile. */
static void
vcpu_sleep(struct vm *vm, struct vm_vcpu *vcpu)
{
	uint32_t act = vcpu_activity(vcpu);
	bool hlt_if = vcpu->hlt_if;

	pthread_mutex_unlock(&vcpu->mtx);
	pthread_mutex_lock(&vcpu->slp);
	while (!vcpu_wake_cond(vm, vcpu, act, hlt_if))
		pthread_cond_wait(&vcpu->slpcv, &vcpu->slp);
	pthread_mutex_unlock(&vcpu->slp);
	pthread_mutex_lock(&vcpu->mtx);
}

/*
 * INIT: the vCPU's RESET state but for the BSP flag kept in APIC_BASE and
 * the LAPIC's mode (SDM Vol. 3A 9.1.1, 11.4.7.3), and wait-for-SIPI.
 * SIPI, only in wait-for-SIPI: real mode at vector << 12, CS = vector << 8,
 * IP = 0 (9.4.3, 11.6.1).  NMI: delivered by the CPU; dropped while the vCPU
 * waits for SIPI.  vcpu->mtx held.
 */
static int
vcpu_take_events(struct vm *vm, struct vm_vcpu *vcpu)
{
	struct vm_cpu_state *st;
	struct seg_desc cs;
	uint8_t vec;
	unsigned ev;
	int error = 0;

	if (vm->intr == NULL || vmm_intr_events(vm->intr, vcpu->id) == 0)
		return 0;
	ev = vmm_intr_take_events(vm->intr, vcpu->id, &vec);
	if (ev & VMM_EV_INIT) {
		if ((st = malloc(sizeof(*st))) == NULL)
			return -ENOMEM;
		vm_cpu_state_reset(st, vcpu->id);
		error = vm->ops->set_state(vcpu->cookie, st);
		free(st);
		if (error != 0)
			return error;
		vmm_intr_init_lapic(vm->intr, vcpu->id);
		vcpu->need_complete = vcpu->replaying = false;
		vcpu_set_activity(vm, vcpu, VM_ACTIVITY_WAIT_SIPI, false);
	}
	if ((ev & VMM_EV_SIPI) && vcpu->wait_sipi) {
		cs = (struct seg_desc){ .base = (uint64_t)vec << 12, .limit = 0xffff,
		    .access = 0x9b };
		if ((error = vm->ops->set_desc(vcpu->cookie, VM_REG_GUEST_CS, &cs)) != 0 ||
		    (error = vm->ops->set_reg(vcpu->cookie, VM_REG_GUEST_CS,
		    (uint64_t)vec << 8)) != 0 ||
		    (error = vm->ops->set_reg(vcpu->cookie, VM_REG_GUEST_RIP, 0)) != 0)
			return error;
		vcpu->nextrip = 0;
		vcpu_set_activity(vm, vcpu, VM_ACTIVITY_ACTIVE, false);
	}
	if ((ev & VMM_EV_NMI) && !vcpu->wait_sipi) {
		if ((error = vm->ops->inject_nmi(vcpu->cookie)) != 0)
			return error;
		if (vcpu->halted)
			vcpu_set_activity(vm, vcpu, VM_ACTIVITY_ACTIVE, false);
	}
	return 0;
}

/*
 * Exits the interrupt controllers and platform devices serve (FreeBSD's
 * vmm.ko serves the LAPIC, IOAPIC, 8259, 8254, HPET, RTC and PM timer in
 * the kernel): 1 when served, 0 when userland's.
 */
static int
vcpu_intr_exit(struct vm *vm, struct vm_vcpu *vcpu, struct vm_exit *vme)
{
	uint64_t val;
	int error;

	switch (vme->exitcode) {
	case VM_EXITCODE_INOUT:
		if (!vmm_platform_inout(vm->plat, vme))
			return 0;
		break;
	case VM_EXITCODE_INST_EMUL:
		if (!vmm_intr_mmio(vm->intr, vcpu->id, vme) && !vmm_platform_mmio(vm->plat, vme))
			return 0;
		break;
	case VM_EXITCODE_RDMSR:
		error = vmm_intr_rdmsr(vm->intr, vcpu->id, vme->u.msr.code, &val);
		if (error == -ENOENT)
			return 0;
		if (error != 0)
			goto gp;
		vme->u.msr.wval = val;
		break;
	case VM_EXITCODE_WRMSR:
		error = vmm_intr_wrmsr(vm->intr, vcpu->id, vme->u.msr.code, vme->u.msr.wval);
		if (error == -ENOENT)
			return 0;
		if (error != 0)
			goto gp;
		return 1;	/* retired: nothing to complete */
	default:
		return 0;
	}
	/* The replayed instruction consumes the access (docs/cpu.md "Exits and replay"). */
	vcpu->lastexit = *vme;
	error = vm->ops->complete(vcpu->cookie, &vcpu->lastexit);
	if (error != 0)
		return 0;	/* userland reports what the backend cannot complete */
	vcpu->replaying = vme->inst_length == 0;
	return 1;
gp:
	/* #GP(0) at the MSR instruction, which does not retire (SDM Vol. 2B RDMSR/WRMSR). */
	if (vm->ops->inject_exception(vcpu->cookie, IDT_GP, 1, 0, 1) != 0)
		return 0;
	vcpu->nextrip = vme->rip;
	vcpu->replaying = false;
	return 1;
}

static void
vcpu_fill_suspended(struct vm *vm, struct vm_vcpu *vcpu, struct vm_exit *vme)
{
	memset(vme, 0, sizeof(*vme));
	vme->exitcode = VM_EXITCODE_SUSPENDED;
	vme->rip = vcpu->nextrip;
	vme->u.suspended.how = vmm_suspended(vm);
	vme->u.suspended.source = vm->suspend_source;
}

int
vmm_run(struct vm *vm, int vcpuid, struct vm_exit *vme)
{
	struct vm_vcpu *vcpu;
	int error;

	if (check_vcpu(vm, vcpuid) != 0)
		return -EINVAL;
	if (vm->ops == NULL)
		return vmm_store_fail(ENXIO, "no CPU backend attached");
	if (vm->memmap.nsegs == 0)
		return vmm_store_fail(ENXIO, "VM '%s' has no memory (run bhyveload first)",
		    vm->name);
	/*
	 * A backend with its own LAPICs gets every vCPU before any runs: an
	 * INIT-SIPI for an AP whose thread has not started yet must find its
	 * LAPIC.  One vCPU at a time, taken as an accessor takes it (its
	 * thread may already run it), none held here.
	 */
	if (vm->ops->msi != NULL) {
		int i;

		for (i = 0; i < (int)vm->img->ncpus && i < VM_MAXCPU; i++) {
			if (i == vcpuid || vm->vcpu[i].cookie != NULL)
				continue;
			vcpu = vcpu_acquire(vm, i);
			error = vcpu_backend(vm, vcpu);
			vcpu_release(vcpu);
			if (error != 0)
				return error;
		}
	}
	if ((error = mark_running(vm)) != 0)
		return error;
	vcpu = &vm->vcpu[vcpuid];
	pthread_mutex_lock(&vcpu->mtx);
	if ((error = vcpu_backend(vm, vcpu)) != 0) {
		pthread_mutex_unlock(&vcpu->mtx);
		return error;
	}
	vcpu->stats[VMST_RUNS]++;
	if (vcpu->need_complete) {
		/* Hand userland's answer (IN data, MMIO read) to the backend. */
		vcpu->lastexit = *vme;
		vcpu->need_complete = false;
		error = vm->ops->complete(vcpu->cookie, &vcpu->lastexit);
		/* inst_length 0: the backend replays the instruction to finish it. */
		vcpu->replaying = error == 0 && vcpu->lastexit.inst_length == 0;
		if (error != 0) {
			/* e.g. one instruction making more device accesses than replay holds */
			memset(vme, 0, sizeof(*vme));
			vme->exitcode = VM_EXITCODE_BACKEND_ERROR;
			vme->rip = vcpu->lastexit.rip;
			vme->u.backend_error.error = -error;
			snprintf(vme->u.backend_error.msg, sizeof(vme->u.backend_error.msg),
			    "%s backend cannot complete the device access: %s",
			    vm->ops->name, strerror(-error));
			vcpu->stats[VMST_EXITS]++;
			pthread_mutex_unlock(&vcpu->mtx);
			return 0;
		}
	}
	cur_vcpu = vcpu;
	atomic_fetch_or(&vm->ran_cpus, 1u << vcpuid);
	for (;;) {
		/*
		 * Someone wants the vCPU (an accessor, a save, stop-and-keep)
		 * while an instruction is half done: step it to its end first,
		 * with MTRAP, so that the vCPU is let go at an instruction
		 * boundary.  The guest's own power-off, reset and halt keep
		 * bhyve's old behaviour: the exiting instruction replays when
		 * the instance runs again.
		 */
		bool step = vcpu->replaying && (atomic_load(&vcpu->reqidle) > 0 ||
		    vmm_suspended(vm) == VM_SUSPEND_KEEP);
		int mtrap_was = 0;

		if (step && (vm->ops->get_cap(vcpu->cookie, VM_CAP_MTRAP_EXIT, &mtrap_was) != 0 ||
		    vm->ops->set_cap(vcpu->cookie, VM_CAP_MTRAP_EXIT, 1) != 0))
			step = false;	/* the backend cannot step: stop where it is */
		if (!step) {
			while (atomic_load(&vcpu->reqidle) > 0)
				pthread_cond_wait(&vcpu->cv, &vcpu->mtx);
			if (vmm_suspended(vm) != VM_SUSPEND_NONE) {
				vcpu_fill_suspended(vm, vcpu, vme);
				break;
			}
			if ((error = vcpu_take_events(vm, vcpu)) != 0) {
				memset(vme, 0, sizeof(*vme));
				vme->exitcode = VM_EXITCODE_BACKEND_ERROR;
				vme->rip = vcpu->nextrip;
				vme->u.backend_error.error = -error;
				snprintf(vme->u.backend_error.msg, sizeof(vme->u.backend_error.msg),
				    "%s backend cannot take INIT/SIPI/NMI: %s", vm->ops->name,
				    strerror(-error));
				break;
			}
			/* A backend with its own LAPIC sleeps in run() (vmm_backend.h, msi). */
			if ((vcpu->wait_sipi || vcpu->halted) && vm->ops->msi == NULL) {
				uint32_t act = vcpu_activity(vcpu);

				if (!vcpu_wake_cond(vm, vcpu, act, vcpu->hlt_if)) {
					vcpu_sleep(vm, vcpu);
					continue;
				}
				if (atomic_load(&vcpu->reqidle) > 0 || act == VM_ACTIVITY_WAIT_SIPI)
					continue;	/* the top of the loop sorts it out */
				/* An interrupt (IF set): HLT ends, the CPU takes it. */
				vcpu_set_activity(vm, vcpu, VM_ACTIVITY_ACTIVE, false);
			}
		}
		error = vm->ops->run(vcpu->cookie, vcpu->nextrip, vme);
		if (step)
			vm->ops->set_cap(vcpu->cookie, VM_CAP_MTRAP_EXIT, mtrap_was);
		if (error != 0) {
			memset(vme, 0, sizeof(*vme));
			vme->exitcode = VM_EXITCODE_BACKEND_ERROR;
			vme->rip = vcpu->nextrip;
			vme->u.backend_error.error = -error;
			snprintf(vme->u.backend_error.msg, sizeof(vme->u.backend_error.msg),
			    "%s backend: %s", vm->ops->name, strerror(-error));
			break;
		}
		vcpu->nextrip = vme->rip + (uint64_t)vme->inst_length;
		if ((unsigned)vme->exitcode < VM_EXITCODE_MAX)
			vcpu->stats[VMST_EXIT_BASE + vme->exitcode]++;
		if (vme->exitcode == VM_EXITCODE_BOGUS) {
			/*
			 * A kick taken before the replayed instruction ran: still
			 * half done.  Unless RIP moved on: the backend finished it
			 * first (KVM completes an exit at any KVM_RUN, and its vCPU
			 * may then sleep in HLT, where no MTRAP step ever ends).
			 */
			if (vcpu->replaying && vme->rip != vcpu->lastexit.rip)
				vcpu->replaying = false;
			vcpu->stats[VMST_KICKS]++;
			continue;
		}
		vcpu->replaying = false;
		/* The backend's LAPIC: any other exit says the vCPU runs again. */
		if (vm->ops->msi != NULL && vme->exitcode != VM_EXITCODE_HLT &&
		    (vcpu->halted || vcpu->wait_sipi))
			vcpu_set_activity(vm, vcpu, VM_ACTIVITY_ACTIVE, false);
		if (vm->intr != NULL && vcpu_intr_exit(vm, vcpu, vme))
			continue;
		if (step && vme->exitcode == VM_EXITCODE_MTRAP && !mtrap_was)
			continue;	/* retired: now the vCPU can be let go */
		if (vme->exitcode == VM_EXITCODE_HLT) {
			vcpu_handle_hlt(vm, vcpu, vme);
			continue;
		}
		if (vme->exitcode == VM_EXITCODE_SUSPENDED) {
			/* The backend saw a triple fault: record it as the VM's fate. */
			int expected = VM_SUSPEND_NONE;
			if (atomic_compare_exchange_strong(&vm->suspend, &expected,
			    (int)vme->u.suspended.how))
				vm->suspend_source = vcpuid;
			vme->u.suspended.how = vmm_suspended(vm);
			break;
		}
		break;
	}
	vcpu->lastexit = *vme;
	vcpu->need_complete = vme->exitcode == VM_EXITCODE_INOUT ||
	    vme->exitcode == VM_EXITCODE_INST_EMUL ||
	    vme->exitcode == VM_EXITCODE_RDMSR || vme->exitcode == VM_EXITCODE_WRMSR;
	vcpu->stats[VMST_EXITS]++;
	vm->dirty = true;
	cur_vcpu = NULL;
	pthread_mutex_unlock(&vcpu->mtx);
	return 0;
}
