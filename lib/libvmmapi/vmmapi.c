/*
 * vmmapi.c - libvmmapi for lhyve: FreeBSD 14's API over libvmm.
 *
 * A context is either the owner of the instance (ctx->vm: the calls are
 * libvmm calls in this process) or, while a bhyve runs the instance, a
 * client of that bhyve's control socket (ctx->ctlfd).  Errors are -1 with
 * errno, as in FreeBSD; vm_last_error() says why in one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmmapi.h"
#include "vmm_core.h"
#include "vmm_ctl.h"
#include "vmm_intr.h"

struct vcpu {
	struct vmctx	*ctx;
	int		vcpuid;
};

struct vmctx {
	char		name[VM_MAX_NAMELEN + 1];
	struct vm	*vm;		/* owner */
	int		ctlfd;		/* client of a running bhyve */
	pthread_mutex_t	ctlmtx;
	long		runner_pid;
	int		memflags;
	/* remote mapping of guest RAM (owner uses libvmm's) */
	uint8_t		*rbase;
	size_t		rreserved;
	uint64_t	lowmem, highmem;
	char		backend[16];
	uint64_t	stats[VMST_COUNT];
};

/* -errno from libvmm -> -1 + errno */
static int
ret(int error)
{
	if (error < 0) {
		errno = -error;
		return -1;
	}
	return error;
}

const char *
vm_last_error(void)
{
	return vmm_store_strerror();
}

const char *
vm_store_dir(void)
{
	return vmm_store_dir();
}

int
vm_create(const char *name)
{
	return ret(vmm_store_create(name));
}

static int
remote_call(struct vmctx *ctx, struct vmm_ctl_req *req, struct vmm_ctl_reply *rep)
{
	int error;

	req->version = VMM_CTL_VERSION;
	pthread_mutex_lock(&ctx->ctlmtx);
	error = vmm_ctl_call(ctx->ctlfd, req, rep);
	pthread_mutex_unlock(&ctx->ctlmtx);
	return error;
}

static struct vmctx *
ctx_alloc(const char *name)
{
	struct vmctx *ctx;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		vmm_store_fail(ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	snprintf(ctx->name, sizeof(ctx->name), "%s", name);
	ctx->ctlfd = -1;
	ctx->runner_pid = -1;
	pthread_mutex_init(&ctx->ctlmtx, NULL);
	return ctx;
}

static void
ctx_free(struct vmctx *ctx)
{
	if (ctx->rbase != NULL)
		munmap(ctx->rbase, ctx->rreserved);
	if (ctx->ctlfd >= 0)
		close(ctx->ctlfd);
	pthread_mutex_destroy(&ctx->ctlmtx);
	free(ctx);
}

/* The instance is owned by someone else: reach it through its bhyve. */
static int
open_remote(struct vmctx *ctx)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_INFO };
	struct vmm_ctl_reply *rep;
	long owner;
	int fd, error;

	owner = vmm_store_lock_owner(ctx->name);
	fd = vmm_ctl_connect(ctx->name);
	if (fd < 0)
		return vmm_store_fail(EBUSY, "VM '%s' is in use by process %ld", ctx->name, owner);
	ctx->ctlfd = fd;
	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		return vmm_store_fail(ENOMEM, "out of memory");
	error = remote_call(ctx, &req, rep);
	if (error == 0) {
		ctx->runner_pid = (long)rep->pid;
		ctx->lowmem = rep->lowmem;
		ctx->highmem = rep->highmem;
		ctx->memflags = rep->memflags;
		snprintf(ctx->backend, sizeof(ctx->backend), "%s", rep->backend);
	}
	free(rep);
	return error;
}

struct vmctx *
vm_openf(const char *name, int flags)
{
	struct vmctx *ctx;
	bool created = false;
	int error;

	if ((error = vmm_store_check_name(name)) != 0)
		goto fail_noctx;
	if ((flags & VMMAPI_OPEN_CREATE) && !vmm_store_exists(name)) {
		error = vmm_store_create(name);
		if (error != 0 && error != -EEXIST)
			goto fail_noctx;
		created = error == 0;
	}
	ctx = ctx_alloc(name);
	if (ctx == NULL)
		return NULL;
	error = vmm_open(name, &ctx->vm);
	for (int tries = 0; error == -EBUSY && !(flags & VMMAPI_OPEN_RUN); tries++) {
		error = open_remote(ctx);
		if (error != -EBUSY || tries == 40)
			break;
		/*
		 * Locked but not serving: a bhyve is starting or saving on
		 * its way out (at most a moment).  Try to own it again.
		 */
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		error = vmm_open(name, &ctx->vm);
	}
	if (error == -EBUSY && !(flags & VMMAPI_OPEN_RUN)) {
		/* still busy after waiting: error set by open_remote */
	} else if (error == -EBUSY) {
		error = vmm_store_fail(EBUSY, "VM '%s' is already running (process %ld)", name,
		    vmm_store_lock_owner(name));
	}
	if (error == 0 && ctx->vm != NULL && (flags & VMMAPI_OPEN_REINIT) && !created)
		error = vmm_reinit(ctx->vm);
	if (error == 0 && ctx->vm != NULL && (flags & VMMAPI_OPEN_RUN)) {
		long pid;
		bool same_boot;

		/* Its memory moved on after the state was saved: never run that. */
		if (vmm_left_running(ctx->vm, &pid, &same_boot))
			error = vmm_store_fail(ESTALE,
			    "VM '%s' was left running by process %ld, %s: its saved CPU state is "
			    "older than its memory; 'bhyvectl --vm=%s --force-reset' starts it "
			    "from reset with its memory as it is, or load it again with bhyveload",
			    name, pid, same_boot ? "which is gone (killed or crashed)" :
			    "when the host went down", name);
	}
	if (error != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", vmm_store_strerror());
		if (ctx->vm != NULL)
			vmm_close(ctx->vm);
		ctx_free(ctx);
		vmm_store_fail(-error, "%s", msg);
		errno = -error;
		return NULL;
	}
	return ctx;
fail_noctx:
	errno = -error;
	return NULL;
}

struct vmctx *
vm_open(const char *name)
{
	return vm_openf(name, 0);
}

void
vm_close(struct vmctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->vm != NULL)
		vmm_close(ctx->vm);
	ctx_free(ctx);
}

int
vm_save_state(struct vmctx *ctx)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "only the owner can save the state"));
	return ret(vmm_save(ctx->vm));
}

void
vm_destroy(struct vmctx *ctx)
{
	char name[VM_MAX_NAMELEN + 1];

	if (ctx == NULL)
		return;
	if (ctx->vm != NULL) {
		/* The owner removes the files before it lets go of the lock. */
		vmm_destroy(ctx->vm);
		ctx->vm = NULL;
		ctx_free(ctx);
		return;
	}
	snprintf(name, sizeof(name), "%s", ctx->name);
	vm_close(ctx);
	vm_destroy_name(name);
}

int
vm_destroy_name(const char *name)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	long owner = -1;
	int fd, error, i;

	if ((error = vmm_store_check_name(name)) != 0)
		return ret(error);
	if (!vmm_store_exists(name))
		return ret(vmm_store_fail(ENOENT, "VM '%s' does not exist (in %s)", name,
		    vmm_store_dir()));
	/*
	 * Running: ask its bhyve to stop (as FreeBSD's destroy does: bhyve
	 * exits with status 4), then wait until it has let go of the lock.
	 * A process that owns it without serving NAME/ctl (bhyveload at work)
	 * is waited for in the same way.
	 */
	for (i = 0; (fd = vmm_store_lock(name)) == -EBUSY && i < 500; i++) {
		if (i == 0) {
			struct vmm_ctl_req req = { .version = VMM_CTL_VERSION,
			    .op = VMM_CTL_SUSPEND, .reg = VM_SUSPEND_DESTROY };
			struct vmm_ctl_reply *rep = malloc(sizeof(*rep));
			int cfd = vmm_ctl_connect(name);

			owner = vmm_store_lock_owner(name);
			if (cfd >= 0 && rep != NULL)
				vmm_ctl_call(cfd, &req, rep);
			if (cfd >= 0)
				close(cfd);
			free(rep);
		}
		nanosleep(&ts, NULL);
	}
	if (fd < 0) {
		if (fd == -EBUSY)
			return ret(vmm_store_fail(EBUSY,
			    "VM '%s' is still in use by process %ld after 10 s; not destroyed",
			    name, owner));
		return ret(fd);
	}
	/* The files go while we hold NAME/lock. */
	error = vmm_store_destroy(name);
	close(fd);
	return ret(error);
}

int
vm_force_reset(struct vmctx *ctx)
{
	if (ctx->vm == NULL)
		return vm_suspend(ctx, VM_SUSPEND_RESET);
	return ret(vmm_force_reset(ctx->vm));
}

int
vm_snapshot_register(struct vmctx *ctx, const char *name, vm_snapshot_save_t *save,
    vm_snapshot_restore_t *restore, void *arg)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "only the owner keeps device state"));
	return ret(vmm_snapshot_register(ctx->vm, name, save, restore, arg));
}

void
vm_snapshot_unregister(struct vmctx *ctx, const char *name)
{
	if (ctx->vm != NULL)
		vmm_snapshot_unregister(ctx->vm, name);
}

int
vm_limit_rights(struct vmctx *ctx)
{
	(void)ctx;
	return 0;
}

const char *
vm_get_name(struct vmctx *ctx)
{
	return ctx->name;
}

int
vm_is_running(struct vmctx *ctx)
{
	return ctx->vm == NULL;
}

long
vm_runner_pid(struct vmctx *ctx)
{
	return ctx->vm == NULL ? ctx->runner_pid : -1;
}

const char *
vm_backend_name(struct vmctx *ctx)
{
	return ctx->vm != NULL ? vmm_backend_name(ctx->vm) : ctx->backend;
}

const char *
vm_backend_note(struct vmctx *ctx)
{
	return ctx->vm != NULL ? vmm_backend_note(ctx->vm) : "";
}

int
vm_set_cpu_vendor(struct vmctx *ctx, const char *vendor)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is run by process %ld", ctx->name,
		    ctx->runner_pid));
	return ret(vmm_set_cpu_vendor(ctx->vm, vendor));
}

int
vm_attach_backend(struct vmctx *ctx, const char *backend)
{
	int error;

	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is run by process %ld", ctx->name,
		    ctx->runner_pid));
	if ((error = vmm_attach_backend(ctx->vm, backend)) != 0)
		return ret(error);
	return ret(vmm_ctl_start(ctx->vm));
}

/*
 * Memory sizes as bhyve takes them: a number with an optional k/m/g/t
 * suffix (any case); a bare number below 1 MiB... is taken as MiB, as
 * FreeBSD's vm_parse_memsize does.
 */
int
vm_parse_memsize(const char *opt, size_t *ret_memsize)
{
	unsigned long long n, mult = 1;
	char *end;

	if (opt == NULL || *opt < '0' || *opt > '9') {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	n = strtoull(opt, &end, 0);
	if (errno != 0 || end == opt) {
		errno = EINVAL;
		return -1;
	}
	switch (*end) {
	case '\0':
		/* FreeBSD: a plain number under 1024*1024 means megabytes. */
		mult = n < 1024 * 1024 ? 1ULL << 20 : 1;
		break;
	case 'k': case 'K': mult = 1ULL << 10; end++; break;
	case 'm': case 'M': mult = 1ULL << 20; end++; break;
	case 'g': case 'G': mult = 1ULL << 30; end++; break;
	case 't': case 'T': mult = 1ULL << 40; end++; break;
	default:
		errno = EINVAL;
		return -1;
	}
	if ((*end == 'b' || *end == 'B') && mult != 1)
		end++;
	if (*end != '\0' || n == 0 || n > (~0ULL) / mult) {
		errno = EINVAL;
		return -1;
	}
	*ret_memsize = (size_t)(n * mult);
	return 0;
}

int
vm_setup_memory(struct vmctx *ctx, size_t len, enum vm_mmap_style s)
{
	(void)s;
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is running", ctx->name));
	return ret(vmm_setup_memory(ctx->vm, len, ctx->memflags));
}

static int
remote_map(struct vmctx *ctx)
{
	uint64_t size;
	uint8_t *base;
	size_t reserve;
	int fd;

	fd = vmm_store_mem_open(ctx->name, &size);
	if (fd < 0)
		return fd;
	if (size != ctx->lowmem + ctx->highmem) {
		close(fd);
		return vmm_store_fail(EBADMSG, "guest memory size mismatch");
	}
	reserve = ctx->highmem ? VM_HIGHMEM_BASE + ctx->highmem : ctx->lowmem;
	base = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED ||
	    mmap(base, ctx->lowmem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    (ctx->highmem && mmap(base + VM_HIGHMEM_BASE, ctx->highmem, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_FIXED, fd, (off_t)ctx->lowmem) == MAP_FAILED)) {
		int error = errno;
		if (base != MAP_FAILED)
			munmap(base, reserve);
		close(fd);
		return vmm_store_fail(error, "cannot map guest memory: %s", strerror(error));
	}
	close(fd);
	ctx->rbase = base;
	ctx->rreserved = reserve;
	return 0;
}

void *
vm_map_gpa(struct vmctx *ctx, vm_paddr_t gaddr, size_t len)
{
	if (ctx->vm != NULL)
		return vmm_gpa_map(ctx->vm, gaddr, len);
	if (ctx->rbase == NULL && remote_map(ctx) != 0)
		return NULL;
	if (gaddr < ctx->lowmem && len <= ctx->lowmem - gaddr)
		return ctx->rbase + gaddr;
	if (gaddr >= VM_HIGHMEM_BASE && gaddr - VM_HIGHMEM_BASE < ctx->highmem &&
	    len <= ctx->highmem - (gaddr - VM_HIGHMEM_BASE))
		return ctx->rbase + gaddr;
	return NULL;
}

void
vm_mem_written(struct vmctx *ctx, vm_paddr_t gaddr, size_t len)
{
	/* Only the process running the VM has CPUs with translated code. */
	if (ctx->vm != NULL)
		vmm_mem_written(ctx->vm, gaddr, len);
}

int
vm_get_memflags(struct vmctx *ctx)
{
	return ctx->vm != NULL ? vmm_get_memflags(ctx->vm) | ctx->memflags : ctx->memflags;
}

void
vm_set_memflags(struct vmctx *ctx, int flags)
{
	ctx->memflags = flags;
}

uint32_t
vm_get_lowmem_limit(struct vmctx *ctx)
{
	(void)ctx;
	return (uint32_t)VM_LOWMEM_LIMIT;
}

size_t
vm_get_lowmem_size(struct vmctx *ctx)
{
	uint64_t lo, hi;

	if (ctx->vm == NULL)
		return ctx->lowmem;
	vmm_mem_layout(ctx->vm, &lo, &hi);
	return lo;
}

vm_paddr_t
vm_get_highmem_base(struct vmctx *ctx)
{
	(void)ctx;
	return VM_HIGHMEM_BASE;
}

size_t
vm_get_highmem_size(struct vmctx *ctx)
{
	uint64_t lo, hi;

	if (ctx->vm == NULL)
		return ctx->highmem;
	vmm_mem_layout(ctx->vm, &lo, &hi);
	return hi;
}

int
vm_get_ncpus(struct vmctx *ctx)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_INFO };
	struct vmm_ctl_reply *rep;
	int n;

	if (ctx->vm != NULL)
		return vmm_get_ncpus(ctx->vm);
	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		return ret(-ENOMEM);
	n = remote_call(ctx, &req, rep) == 0 ? rep->ncpus : -1;
	free(rep);
	return n;
}

int
vm_set_ncpus(struct vmctx *ctx, int ncpus)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is running", ctx->name));
	return ret(vmm_set_ncpus(ctx->vm, ncpus));
}

int
vm_set_topology(struct vmctx *ctx, uint16_t sockets, uint16_t cores, uint16_t threads,
    uint16_t maxcpus)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is running", ctx->name));
	/* No CPU hot-plug: maxcpus is the vCPU count (0: the same). */
	if (maxcpus != 0 && maxcpus != vmm_get_ncpus(ctx->vm))
		return ret(vmm_store_fail(EINVAL, "maxcpus %u: lhyve has no CPU hot-plug, "
		    "maxcpus must be the vCPU count", maxcpus));
	return ret(vmm_set_topology(ctx->vm, sockets, cores, threads));
}

int
vm_get_topology(struct vmctx *ctx, uint16_t *sockets, uint16_t *cores, uint16_t *threads,
    uint16_t *maxcpus)
{
	int s, c, t;

	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is running", ctx->name));
	vmm_get_topology(ctx->vm, &s, &c, &t);
	*sockets = (uint16_t)s;
	*cores = (uint16_t)c;
	*threads = (uint16_t)t;
	*maxcpus = (uint16_t)vmm_get_ncpus(ctx->vm);
	return 0;
}

struct vcpu *
vm_vcpu_open(struct vmctx *ctx, int vcpuid)
{
	struct vcpu *vcpu;

	if (vcpuid < 0 || vcpuid >= VM_MAXCPU) {
		vmm_store_fail(EINVAL, "vCPU %d does not exist", vcpuid);
		errno = EINVAL;
		return NULL;
	}
	vcpu = malloc(sizeof(*vcpu));
	if (vcpu == NULL)
		return NULL;
	vcpu->ctx = ctx;
	vcpu->vcpuid = vcpuid;
	return vcpu;
}

void
vm_vcpu_close(struct vcpu *vcpu)
{
	free(vcpu);
}

int
vcpu_id(struct vcpu *vcpu)
{
	return vcpu->vcpuid;
}

/* One request to the running bhyve; the reply is left in *rep. */
static int
vcpu_remote(struct vcpu *vcpu, struct vmm_ctl_req *req, struct vmm_ctl_reply **repp)
{
	struct vmm_ctl_reply *rep;
	int error;

	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		return -ENOMEM;
	req->vcpu = vcpu->vcpuid;
	error = remote_call(vcpu->ctx, req, rep);
	if (error != 0 || repp == NULL)
		free(rep);
	else
		*repp = rep;
	return error;
}

int
vm_set_desc(struct vcpu *vcpu, int reg, uint64_t base, uint32_t limit, uint32_t access)
{
	struct seg_desc d = { base, limit, access };
	struct vmm_ctl_req req = { .op = VMM_CTL_SET_DESC, .reg = reg, .desc = d };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_set_desc(vcpu->ctx->vm, vcpu->vcpuid, reg, &d));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

int
vm_get_desc(struct vcpu *vcpu, int reg, uint64_t *base, uint32_t *limit, uint32_t *access)
{
	struct seg_desc d;

	if (vm_get_seg_desc(vcpu, reg, &d) != 0)
		return -1;
	*base = d.base;
	*limit = d.limit;
	*access = d.access;
	return 0;
}

int
vm_get_seg_desc(struct vcpu *vcpu, int reg, struct seg_desc *seg_desc)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_GET_DESC, .reg = reg };
	struct vmm_ctl_reply *rep;
	int error;

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_get_desc(vcpu->ctx->vm, vcpu->vcpuid, reg, seg_desc));
	if ((error = vcpu_remote(vcpu, &req, &rep)) != 0)
		return ret(error);
	*seg_desc = rep->desc;
	free(rep);
	return 0;
}

int
vm_set_register(struct vcpu *vcpu, int reg, uint64_t val)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_SET_REG, .reg = reg, .val = val };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_set_reg(vcpu->ctx->vm, vcpu->vcpuid, reg, val));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

int
vm_get_register(struct vcpu *vcpu, int reg, uint64_t *retval)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_GET_REG, .reg = reg };
	struct vmm_ctl_reply *rep;
	int error;

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_get_reg(vcpu->ctx->vm, vcpu->vcpuid, reg, retval));
	if ((error = vcpu_remote(vcpu, &req, &rep)) != 0)
		return ret(error);
	*retval = rep->val;
	free(rep);
	return 0;
}

int
vm_set_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
    uint64_t *regvals)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (vm_set_register(vcpu, regnums[i], regvals[i]) != 0)
			return -1;
	return 0;
}

int
vm_get_register_set(struct vcpu *vcpu, unsigned int count, const int *regnums,
    uint64_t *regvals)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (vm_get_register(vcpu, regnums[i], &regvals[i]) != 0)
			return -1;
	return 0;
}

int
vm_run(struct vcpu *vcpu, struct vm_run *vmrun)
{
	if (vcpu->ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is run by process %ld",
		    vcpu->ctx->name, vcpu->ctx->runner_pid));
	if (vmrun == NULL || vmrun->vm_exit == NULL)
		return ret(-EINVAL);
	return ret(vmm_run(vcpu->ctx->vm, vcpu->vcpuid, vmrun->vm_exit));
}

int
vm_suspend(struct vmctx *ctx, enum vm_suspend_how how)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_SUSPEND, .reg = (int)how };
	struct vmm_ctl_reply *rep;
	int error;

	if (ctx->vm != NULL)
		return ret(vmm_suspend(ctx->vm, how));
	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		return ret(-ENOMEM);
	error = remote_call(ctx, &req, rep);
	free(rep);
	return ret(error);
}

int
vm_reinit(struct vmctx *ctx)
{
	if (ctx->vm == NULL)
		return ret(vmm_store_fail(EBUSY, "VM '%s' is running", ctx->name));
	return ret(vmm_reinit(ctx->vm));
}

int
vm_restart_instruction(struct vcpu *vcpu)
{
	if (vcpu->ctx->vm == NULL)
		return ret(-EBUSY);
	return ret(vmm_restart_instruction(vcpu->ctx->vm, vcpu->vcpuid));
}

int
vm_inject_exception(struct vcpu *vcpu, int vector, int errcode_valid, uint32_t errcode,
    int restart_instruction)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_INJECT_EXC, .reg = vector,
	    .arg = errcode_valid, .arg2 = errcode };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_inject_exception(vcpu->ctx->vm, vcpu->vcpuid, vector,
		    errcode_valid, errcode, restart_instruction));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

int
vm_inject_nmi(struct vcpu *vcpu)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_INJECT_NMI };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_inject_nmi(vcpu->ctx->vm, vcpu->vcpuid));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

static const char *const capnames[VM_CAP_MAX] = {
	[VM_CAP_HALT_EXIT] = "hlt_exit",
	[VM_CAP_MTRAP_EXIT] = "mtrap_exit",
	[VM_CAP_PAUSE_EXIT] = "pause_exit",
	[VM_CAP_UNRESTRICTED_GUEST] = "unrestricted_guest",
	[VM_CAP_ENABLE_INVPCID] = "enable_invpcid",
	[VM_CAP_BPT_EXIT] = "bpt_exit",
	[VM_CAP_RDPID] = "rdpid",
	[VM_CAP_RDTSCP] = "rdtscp",
	[VM_CAP_IPI_EXIT] = "ipi_exit",
	[VM_CAP_MASK_HWINTR] = "mask_hwintr",
	[VM_CAP_RFLAGS_TF] = "rflags_tf",
};

int
vm_capability_name2type(const char *capname)
{
	int i;

	for (i = 0; i < VM_CAP_MAX; i++)
		if (capnames[i] != NULL && strcmp(capnames[i], capname) == 0)
			return i;
	return -1;
}

const char *
vm_capability_type2name(int type)
{
	if (type < 0 || type >= VM_CAP_MAX)
		return NULL;
	return capnames[type];
}

int
vm_get_capability(struct vcpu *vcpu, enum vm_cap_type cap, int *retval)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_GET_CAP, .reg = (int)cap };
	struct vmm_ctl_reply *rep;
	int error;

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_get_cap(vcpu->ctx->vm, vcpu->vcpuid, (int)cap, retval));
	if ((error = vcpu_remote(vcpu, &req, &rep)) != 0)
		return ret(error);
	*retval = (int)rep->val;
	free(rep);
	return 0;
}

int
vm_set_capability(struct vcpu *vcpu, enum vm_cap_type cap, int val)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_SET_CAP, .reg = (int)cap, .arg = val };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_set_cap(vcpu->ctx->vm, vcpu->vcpuid, (int)cap, val));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

uint64_t *
vm_get_stats(struct vcpu *vcpu, struct timeval *ret_tv, int *ret_entries)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_GET_STATS };
	struct vmm_ctl_reply *rep;
	struct vmctx *ctx = vcpu->ctx;
	int error;

	if (ctx->vm != NULL) {
		error = vmm_get_stats(ctx->vm, vcpu->vcpuid, ctx->stats);
	} else if ((error = vcpu_remote(vcpu, &req, &rep)) == 0) {
		memcpy(ctx->stats, rep->stats, sizeof(ctx->stats));
		free(rep);
	}
	if (error != 0) {
		ret(error);
		return NULL;
	}
	if (ret_tv != NULL)
		gettimeofday(ret_tv, NULL);
	if (ret_entries != NULL)
		*ret_entries = VMST_COUNT;
	return ctx->stats;
}

const char *
vm_get_stat_desc(struct vmctx *ctx, int index)
{
	(void)ctx;
	if (index < 0 || index >= VMST_COUNT)
		return NULL;
	return vmm_stat_names[index];
}

int
vcpu_reset(struct vcpu *vcpu)
{
	struct vmm_ctl_req req = { .op = VMM_CTL_VCPU_RESET };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_vcpu_reset(vcpu->ctx->vm, vcpu->vcpuid));
	return ret(vcpu_remote(vcpu, &req, NULL));
}

int
vm_activate_cpu(struct vcpu *vcpu)
{
	if (vcpu->ctx->vm == NULL)
		return ret(-EBUSY);
	return ret(vmm_activate_cpu(vcpu->ctx->vm, vcpu->vcpuid));
}

/*
 * Long mode with a flat 64-bit code segment, as FreeBSD's libvmmapi does for
 * its loaders: a three-entry GDT (null, code, data) at @gdtbase, paging on
 * with @cr3, and the rest of the state a 64-bit kernel expects at entry.
 */
#define GUEST_CODE_SEL	1
#define GUEST_DATA_SEL	2
#define GUEST_GDTR_LIMIT64 (3 * 8 - 1)

int
vm_setup_freebsd_registers(struct vcpu *vcpu, uint64_t rip, uint64_t cr3,
    uint64_t gdtbase, uint64_t rsp)
{
	static const int segs[] = { VM_REG_GUEST_DS, VM_REG_GUEST_ES, VM_REG_GUEST_FS,
	    VM_REG_GUEST_GS, VM_REG_GUEST_SS };
	uint64_t *gdt;
	size_t i;

	gdt = vm_map_gpa(vcpu->ctx, gdtbase, 0x1000);
	if (gdt == NULL) {
		vmm_store_fail(EFAULT, "GDT address 0x%llx is not in guest memory",
		    (unsigned long long)gdtbase);
		errno = EFAULT;
		return -1;
	}
	memset(gdt, 0, 0x1000);
	gdt[GUEST_CODE_SEL] = 0x0020980000000000ULL;	/* P, DPL0, code, L */
	/* Writable: SS must be (IRET and SS loads check it, SDM Vol. 3A 5.7). */
	gdt[GUEST_DATA_SEL] = 0x0000920000000000ULL;	/* P, DPL0, data, RW */
	if (vm_set_register(vcpu, VM_REG_GUEST_CR0, 0x80000021ULL) ||	/* PG NE PE */
	    vm_set_register(vcpu, VM_REG_GUEST_CR4, 0x20) ||		/* PAE */
	    vm_set_register(vcpu, VM_REG_GUEST_EFER, 0x500) ||		/* LMA LME */
	    vm_set_register(vcpu, VM_REG_GUEST_CR3, cr3) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_CS, 0, 0, 0x0000209B) ||
	    vm_set_register(vcpu, VM_REG_GUEST_CS, GUEST_CODE_SEL << 3))
		return -1;
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (vm_set_desc(vcpu, segs[i], 0, 0, 0x00000093) ||
		    vm_set_register(vcpu, segs[i], GUEST_DATA_SEL << 3))
			return -1;
	if (vm_set_desc(vcpu, VM_REG_GUEST_TR, 0, 0, 0x0000008b) ||
	    vm_set_register(vcpu, VM_REG_GUEST_TR, 0) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_LDTR, 0, 0, DESC_UNUSABLE) ||
	    vm_set_register(vcpu, VM_REG_GUEST_LDTR, 0) ||
	    vm_set_desc(vcpu, VM_REG_GUEST_GDTR, gdtbase, GUEST_GDTR_LIMIT64, 0) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RFLAGS, 0x2) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RSP, rsp) ||
	    vm_set_register(vcpu, VM_REG_GUEST_RIP, rip))
		return -1;
	return 0;
}

/* ---- interrupts: libvmm's LAPICs and IOAPIC (vmm_intr.c) ---- */

static int
intr_remote(struct vmctx *ctx, int vcpuid, struct vmm_ctl_req *req, struct vmm_ctl_reply **repp)
{
	struct vmm_ctl_reply *rep;
	int error;

	rep = malloc(sizeof(*rep));
	if (rep == NULL)
		return -ENOMEM;
	req->op = VMM_CTL_INTR;
	req->vcpu = vcpuid;
	error = remote_call(ctx, req, rep);
	if (error != 0 || repp == NULL)
		free(rep);
	else
		*repp = rep;
	return error;
}

int
vm_lapic_irq(struct vcpu *vcpu, int vector)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_LAPIC_IRQ, .arg = vector };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_lapic_irq(vcpu->ctx->vm, vcpu->vcpuid, vector));
	return ret(intr_remote(vcpu->ctx, vcpu->vcpuid, &req, NULL));
}

int
vm_lapic_local_irq(struct vcpu *vcpu, int vector)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_LOCAL_IRQ, .arg = vector };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_lapic_local_irq(vcpu->ctx->vm, vcpu->vcpuid, vector));
	return ret(intr_remote(vcpu->ctx, vcpu->vcpuid, &req, NULL));
}

int
vm_lapic_msi(struct vmctx *ctx, uint64_t addr, uint64_t msg)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_MSI, .val = addr, .desc.base = msg };

	if (ctx->vm != NULL)
		return ret(vmm_lapic_msi(ctx->vm, addr, msg));
	return ret(intr_remote(ctx, 0, &req, NULL));
}

_Static_assert(VM_IOEVENTFD_PIO == VMM_IOEVENTFD_PIO &&
    VM_IOEVENTFD_DATAMATCH == VMM_IOEVENTFD_DATAMATCH &&
    VM_IOEVENTFD_DEASSIGN == VMM_IOEVENTFD_DEASSIGN, "ioeventfd flags");

int
vm_ioeventfd(struct vmctx *ctx, uint64_t addr, int len, uint64_t data, int fd, int flags)
{
	/* An eventfd is this process's: a remote context cannot hand one over. */
	if (ctx->vm == NULL)
		return ret(-ENOTSUP);
	if ((flags & ~(VM_IOEVENTFD_PIO | VM_IOEVENTFD_DATAMATCH | VM_IOEVENTFD_DEASSIGN)) != 0)
		return ret(-EINVAL);
	return ret(vmm_ioeventfd(ctx->vm, addr, len, data, fd, flags));
}

int
vm_has_ioeventfd(struct vmctx *ctx)
{
	return ctx->vm != NULL && vmm_has_ioeventfd(ctx->vm);
}

static int
ioapic_op(struct vmctx *ctx, int irq, int op)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_IOAPIC, .arg = irq, .arg2 = (uint32_t)op };

	if (ctx->vm != NULL)
		return ret(vmm_ioapic_irq(ctx->vm, irq, op));
	return ret(intr_remote(ctx, 0, &req, NULL));
}

int
vm_ioapic_assert_irq(struct vmctx *ctx, int irq)
{
	return ioapic_op(ctx, irq, VMM_IRQ_ASSERT);
}

int
vm_ioapic_deassert_irq(struct vmctx *ctx, int irq)
{
	return ioapic_op(ctx, irq, VMM_IRQ_DEASSERT);
}

int
vm_ioapic_pulse_irq(struct vmctx *ctx, int irq)
{
	return ioapic_op(ctx, irq, VMM_IRQ_PULSE);
}

int
vm_ioapic_pincount(struct vmctx *ctx, int *pincount)
{
	*pincount = vmm_intr_ioapic_pincount();
	return 0;
}

int
vm_rtc_write(struct vmctx *ctx, int offset, uint8_t value)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_RTC_WRITE, .arg = offset,
	    .arg2 = value };

	if (ctx->vm != NULL)
		return ret(vmm_rtc_write(ctx->vm, offset, value));
	return ret(intr_remote(ctx, 0, &req, NULL));
}

int
vm_rtc_read(struct vmctx *ctx, int offset, uint8_t *retval)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_RTC_READ, .arg = offset };
	struct vmm_ctl_reply *rep;
	int error;

	if (ctx->vm != NULL)
		return ret(vmm_rtc_read(ctx->vm, offset, retval));
	if ((error = intr_remote(ctx, 0, &req, &rep)) == 0) {
		*retval = (uint8_t)rep->val;
		free(rep);
	}
	return ret(error);
}

int
vm_rtc_settime(struct vmctx *ctx, time_t secs)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_RTC_SETTIME,
	    .val = (uint64_t)(int64_t)secs };

	if (ctx->vm != NULL)
		return ret(vmm_rtc_settime(ctx->vm, (int64_t)secs));
	return ret(intr_remote(ctx, 0, &req, NULL));
}

int
vm_rtc_gettime(struct vmctx *ctx, time_t *secs)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_RTC_GETTIME };
	struct vmm_ctl_reply *rep;
	int64_t s = 0;
	int error;

	if (ctx->vm != NULL) {
		error = vmm_rtc_gettime(ctx->vm, &s);
		*secs = (time_t)s;
		return ret(error);
	}
	if ((error = intr_remote(ctx, 0, &req, &rep)) == 0) {
		*secs = (time_t)(int64_t)rep->val;
		free(rep);
	}
	return ret(error);
}

static int
isa_op(struct vmctx *ctx, int atpic_irq, int ioapic_irq, int op)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_ISA, .arg = atpic_irq,
	    .val = (uint64_t)(int64_t)ioapic_irq, .arg2 = (uint32_t)op };

	if (ctx->vm != NULL)
		return ret(vmm_isa_irq(ctx->vm, atpic_irq, ioapic_irq, op));
	return ret(intr_remote(ctx, 0, &req, NULL));
}

int
vm_isa_assert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	return isa_op(ctx, atpic_irq, ioapic_irq, VMM_IRQ_ASSERT);
}

int
vm_isa_deassert_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	return isa_op(ctx, atpic_irq, ioapic_irq, VMM_IRQ_DEASSERT);
}

int
vm_isa_pulse_irq(struct vmctx *ctx, int atpic_irq, int ioapic_irq)
{
	return isa_op(ctx, atpic_irq, ioapic_irq, VMM_IRQ_PULSE);
}

int
vm_get_x2apic_state(struct vcpu *vcpu, enum x2apic_state *s)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_GET_X2APIC };
	struct vmm_ctl_reply *rep;
	int error, v = 0;

	if (vcpu->ctx->vm != NULL) {
		error = vmm_get_x2apic_state(vcpu->ctx->vm, vcpu->vcpuid, &v);
	} else if ((error = intr_remote(vcpu->ctx, vcpu->vcpuid, &req, &rep)) == 0) {
		v = (int)rep->val;
		free(rep);
	}
	if (error == 0)
		*s = (enum x2apic_state)v;
	return ret(error);
}

int
vm_set_x2apic_state(struct vcpu *vcpu, enum x2apic_state s)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_SET_X2APIC, .arg = (int)s };

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_set_x2apic_state(vcpu->ctx->vm, vcpu->vcpuid, (int)s));
	return ret(intr_remote(vcpu->ctx, vcpu->vcpuid, &req, NULL));
}

int
vm_get_lapic(struct vcpu *vcpu, struct vmm_lapic_info *li)
{
	struct vmm_ctl_req req = { .reg = VMM_CTL_INTR_LAPIC_INFO };
	struct vmm_ctl_reply *rep;
	int error;

	if (vcpu->ctx->vm != NULL)
		return ret(vmm_lapic_info(vcpu->ctx->vm, vcpu->vcpuid, li));
	if ((error = intr_remote(vcpu->ctx, vcpu->vcpuid, &req, &rep)) == 0) {
		memcpy(li, rep->stats, sizeof(*li));
		free(rep);
	}
	return ret(error);
}
