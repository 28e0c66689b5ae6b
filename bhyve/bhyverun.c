/*
 * bhyverun.c - bhyve: run an instance that bhyveload prepared (bhyve.8).
 *
 * Threads: the main thread parses options, sets up devices, starts one
 * thread per vCPU and then waits for signals; vCPU threads loop on
 * vm_run() and dispatch each exit through vmexit_handlers[].  The guest's
 * fate becomes the process exit status in one place, bhyve_exit_status().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "acpi.h"
#include "bhyve.h"
#include "config.h"
#include "mptable.h"
#include "qemu_fwcfg.h"
#include "vmmapi.h"

#define BHYVE_EXIT_RESET	0
#define BHYVE_EXIT_POWEROFF	1
#define BHYVE_EXIT_HALT		2
#define BHYVE_EXIT_TRIPLEFAULT	3
#define BHYVE_EXIT_ERROR	4
#define BHYVE_EXIT_SUSPENDED	5	/* lhyve: stopped and kept (bhyvectl --suspend, Ctrl-A x) */

enum { VMEXIT_CONTINUE, VMEXIT_ABORT, VMEXIT_STOP };

static const char *progname = "bhyve";

struct vcpu_thread {
	struct bhyve_vm	*bvm;
	struct vcpu	*vcpu;
	int		id;
	pthread_t	thread;
	bool		started;
};

/* Set by the first vCPU that fails; wins over the guest's suspend reason. */
static atomic_int bhyve_error_exit;
/* The guest's fate as the vCPUs saw it (enum vm_suspend_how; first wins). */
static atomic_int bhyve_suspend_how;
static int signal_pipe[2] = { -1, -1 };

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: %s [-aACDeHhIPSuWwxY]\n"
	    "       [-c [[cpus=]numcpus][,sockets=n][,cores=n][,threads=n]]\n"
	    "       [-f name,string=STRING|file=PATH] [-k config_file] [-l lpc]\n"
	    "       [-m mem] [-o var=value]\n"
	    "       [-s pci] [-U uuid] vmname\n"
	    "       -a: local apic is in xAPIC mode (default)\n"
	    "       -A: create ACPI tables (the default)\n"
	    "       -c: number of CPUs and/or topology specification\n"
	    "       -C: include guest memory in core file\n"
	    "       -D: destroy on power-off\n"
	    "       -e: exit on unhandled I/O access\n"
	    "       -f: add a file to QEMU's fw_cfg (with -l fwcfg,qemu)\n"
	    "       -h: help\n"
	    "       -H: vmexit from the guest on HLT\n"
	    "       -k: key=value flat config file\n"
	    "       -l: LPC device configuration (-l help lists them)\n"
	    "       -m: memory size (default: the instance's)\n"
	    "       -o: set config 'var' to 'value' (vmm.backend=emu|kvm|auto,\n"
	    "           cpu.vendor=intel|amd|host)\n"
	    "       -P: vmexit from the guest on pause\n"
	    "       -s: <slot,driver,configinfo> PCI slot config (-s help lists them)\n"
	    "       -S: guest memory cannot be swapped\n"
	    "       -u: RTC keeps UTC time\n"
	    "       -U: UUID\n"
	    "       -w: ignore unimplemented MSRs\n"
	    "       -W: force virtio to use single-vector MSI\n"
	    "       -x: local APIC is in x2APIC mode\n"
	    "       -Y: disable MPtable generation\n",
	    progname);
	exit(code);
}

/*
 * The instance while set-up may still fail: an error before any vCPU runs
 * closes it, so it is not left marked as running.
 */
static struct vmctx *setup_ctx;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (setup_ctx != NULL)
		vm_close(setup_ctx);
	exit(BHYVE_EXIT_ERROR);
}

static const char *
why(void)
{
	return vm_last_error()[0] ? vm_last_error() : strerror(errno);
}

/* The one place where the guest's fate becomes bhyve's exit status (bhyve.8). */
static int
bhyve_exit_status(enum vm_suspend_how how)
{
	switch (how) {
	case VM_SUSPEND_RESET:
		return BHYVE_EXIT_RESET;
	case VM_SUSPEND_POWEROFF:
		return BHYVE_EXIT_POWEROFF;
	case VM_SUSPEND_DESTROY:
		return BHYVE_EXIT_ERROR;	/* as FreeBSD's bhyve */
	case VM_SUSPEND_KEEP:
		return BHYVE_EXIT_SUSPENDED;
	case VM_SUSPEND_HALT:
		return BHYVE_EXIT_HALT;
	case VM_SUSPEND_TRIPLEFAULT:
		return BHYVE_EXIT_TRIPLEFAULT;
	default:
		return BHYVE_EXIT_ERROR;
	}
}

/* Stop every vCPU because of an error: exit status 4 whatever the guest did. */
static void
bhyve_abort(struct bhyve_vm *bvm)
{
	int expected = 0;

	atomic_compare_exchange_strong(&bhyve_error_exit, &expected, 1);
	vm_suspend(bvm->ctx, VM_SUSPEND_POWEROFF);
}

static int
vmexit_inout(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	if (emulate_inout(bvm, vme) != 0) {
		fprintf(stderr, "%s: unhandled %s of %d byte(s) at port 0x%x, rip 0x%" PRIx64 "\n",
		    progname, vme->u.inout.in ? "in" : "out", vme->u.inout.bytes,
		    vme->u.inout.port, vme->rip);
		return VMEXIT_ABORT;
	}
	return VMEXIT_CONTINUE;
}

static int
vmexit_mmio(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	if (emulate_mem(bvm, vme) != 0)
		return VMEXIT_ABORT;	/* emulate_mem said why */
	return VMEXIT_CONTINUE;
}

/*
 * MSRs the CPU backend leaves to userland.  As bhyve: unknown ones raise
 * #GP in the guest unless -w (x86.strictmsr=false), which reads them as 0
 * and drops writes.
 */
static int
vmexit_msr(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	bool rd = vme->exitcode == VM_EXITCODE_RDMSR;

	if (get_config_bool_default(bvm->cfg, "x86.strictmsr", true)) {
		fprintf(stderr, "%s: %s of unknown MSR 0x%x on vCPU %d: #GP injected\n",
		    progname, rd ? "rdmsr" : "wrmsr", vme->u.msr.code, vt->id);
		if (vm_inject_exception(vt->vcpu, IDT_GP, 1, 0, 1) != 0) {
			fprintf(stderr, "%s: cannot inject #GP: %s\n", progname, why());
			return VMEXIT_ABORT;
		}
		return VMEXIT_CONTINUE;
	}
	if (rd)
		vme->u.msr.wval = 0;
	return VMEXIT_CONTINUE;
}

static int
vmexit_suspend(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	int expected = VM_SUSPEND_NONE;

	atomic_compare_exchange_strong(&bhyve_suspend_how, &expected,
	    (int)vme->u.suspended.how);
	return VMEXIT_STOP;
}

static int
vmexit_unimpl(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	char bytes[15 * 3 + 1] = "";
	int i, n = vme->u.inst_unimpl.num_valid;
	size_t off = 0;

	for (i = 0; i < n && i < 15; i++)
		off += (size_t)snprintf(bytes + off, sizeof(bytes) - off, "%s%02x",
		    i ? " " : "", vme->u.inst_unimpl.inst_bytes[i]);
	fprintf(stderr, "%s: vCPU %d: unimplemented instruction at rip 0x%" PRIx64 ": %s\n",
	    progname, vt->id, vme->rip, bytes);
	return VMEXIT_ABORT;
}

static int
vmexit_backend_error(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	fprintf(stderr, "%s: vCPU %d at rip 0x%" PRIx64 ": %s\n", progname, vt->id, vme->rip,
	    vme->u.backend_error.msg);
	return VMEXIT_ABORT;
}

/*
 * The RTC's time when a freshly loaded guest starts, as FreeBSD's
 * rtc_init: the host's local time, or UTC with -u (rtc.use_localtime=false).
 */
static time_t
rtc_time(struct config *cfg)
{
	time_t t = time(NULL);
	struct tm tm;

	if (get_config_bool_default(cfg, "rtc.use_localtime", true) &&
	    localtime_r(&t, &tm) != NULL)
		t += tm.tm_gmtoff;
	return (t);
}

static int
vmexit_continue(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	return VMEXIT_CONTINUE;
}

/* -P: the guest spins in PAUSE; give the host CPU to someone else. */
static int
vmexit_pause(struct bhyve_vm *bvm, struct vcpu_thread *vt, struct vm_exit *vme)
{
	sched_yield();
	return VMEXIT_CONTINUE;
}

typedef int vmexit_handler_t(struct bhyve_vm *, struct vcpu_thread *, struct vm_exit *);

static vmexit_handler_t *const vmexit_handlers[VM_EXITCODE_MAX] = {
	[VM_EXITCODE_INOUT] = vmexit_inout,
	[VM_EXITCODE_INST_EMUL] = vmexit_mmio,
	[VM_EXITCODE_RDMSR] = vmexit_msr,
	[VM_EXITCODE_WRMSR] = vmexit_msr,
	[VM_EXITCODE_SUSPENDED] = vmexit_suspend,
	[VM_EXITCODE_INST_UNIMPL] = vmexit_unimpl,
	[VM_EXITCODE_BACKEND_ERROR] = vmexit_backend_error,
	[VM_EXITCODE_BOGUS] = vmexit_continue,
	[VM_EXITCODE_REQIDLE] = vmexit_continue,
	[VM_EXITCODE_HLT] = vmexit_continue,
	[VM_EXITCODE_PAUSE] = vmexit_pause,
	[VM_EXITCODE_MTRAP] = vmexit_continue,
};

static void *
vcpu_thread_main(void *arg)
{
	struct vcpu_thread *vt = arg;
	struct vm_exit vme;
	struct vm_run vmrun = { .cpuid = vt->id, .vm_exit = &vme };
	vmexit_handler_t *h;
	int rc;
	char name[16];

	snprintf(name, sizeof(name), "vcpu %d", vt->id);
	pthread_setname_np(pthread_self(), name);
	memset(&vme, 0, sizeof(vme));
	for (;;) {
		if (vm_run(vt->vcpu, &vmrun) != 0) {
			fprintf(stderr, "%s: vCPU %d: vm_run: %s\n", progname, vt->id, why());
			bhyve_abort(vt->bvm);
			break;
		}
		h = (unsigned)vme.exitcode < VM_EXITCODE_MAX ? vmexit_handlers[vme.exitcode] : NULL;
		if (h == NULL) {
			fprintf(stderr, "%s: vCPU %d: unexpected exit code %d at rip 0x%" PRIx64 "\n",
			    progname, vt->id, vme.exitcode, vme.rip);
			bhyve_abort(vt->bvm);
			break;
		}
		rc = h(vt->bvm, vt, &vme);
		if (rc == VMEXIT_STOP)
			break;
		if (rc == VMEXIT_ABORT) {
			bhyve_abort(vt->bvm);
			break;
		}
	}
	/* Wake the main thread: a vCPU has stopped. */
	if (write(signal_pipe[1], "v", 1) != 1) {
		/* The main thread also polls thread liveness; nothing to do. */
	}
	return NULL;
}

static void
on_signal(int sig)
{
	char c = (char)sig;
	int saved = errno;

	if (write(signal_pipe[1], &c, 1) != 1) {
		/* Pipe full: a stop is already pending. */
	}
	errno = saved;
}

/* Ctrl-A x on the console: stop and keep (any thread; async-signal-safe). */
static void
on_console_escape(void)
{
	if (write(signal_pipe[1], "k", 1) != 1) {
		/* Pipe full: a stop is already pending. */
	}
}

static void
on_fatal(int sig)
{
	static const char bus[] = "bhyve: guest memory backing store is exhausted "
	    "(SIGBUS); free space in $VMM_MEM_DIR or use -S to preallocate\n";

	uart_backend_restore_all();
	if (sig == SIGBUS) {
		if (write(STDERR_FILENO, bus, sizeof(bus) - 1) < 0) {
			/* Nothing left to report with. */
		}
		_exit(BHYVE_EXIT_ERROR);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
install_signals(void)
{
	struct sigaction sa;

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		die("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* -H and -P, as bhyve's fbsdrun_set_capabilities(). */
static void
set_capabilities(struct bhyve_vm *bvm, struct vcpu *vcpu)
{
	if (get_config_bool_default(bvm->cfg, "x86.vmexit_on_hlt", false) &&
	    vm_set_capability(vcpu, VM_CAP_HALT_EXIT, 1) != 0)
		die("HLT exits are not supported by this backend");
	if (get_config_bool_default(bvm->cfg, "x86.vmexit_on_pause", false) &&
	    vm_set_capability(vcpu, VM_CAP_PAUSE_EXIT, 1) != 0)
		die("PAUSE exits are not supported by this backend");
	/* -x / -a: whether CPUID offers x2APIC; lhyve offers it unless -a. */
	if (vm_set_x2apic_state(vcpu, get_config_bool_default(bvm->cfg, "x86.x2apic", true) ?
	    X2APIC_ENABLED : X2APIC_DISABLED) != 0)
		die("-a: vCPU %d: %s", vcpu_id(vcpu), why());
}

/*
 * After the final save: the devices' snapshot hooks go first (they point
 * into the devices), then the devices.
 */
static void
release_devices(struct bhyve_vm *bvm)
{
	vm_snapshot_unregister(bvm->ctx, NULL);
	bhyve_devices_fini(bvm);
}

/*
 * Has the guest run since it was loaded?  bhyveload and vm_reinit() zero
 * the counters; every vm_run() counts.  A guest that ran already has its
 * firmware tables, and the FACS holds its state (global lock).
 */
static bool
guest_at_start(struct vmctx *ctx)
{
	struct vcpu *vcpu = vm_vcpu_open(ctx, 0);
	uint64_t *stats;
	int i, n = 0;
	bool fresh = true;

	if (vcpu == NULL)
		die("vCPU 0: %s", why());
	stats = vm_get_stats(vcpu, NULL, &n);
	if (stats == NULL)
		die("vCPU 0: counters: %s", why());
	for (i = 0; i < n; i++)
		if (stats[i] != 0)
			fresh = false;
	vm_vcpu_close(vcpu);
	return (fresh);
}

/* The ACPI tables (-A, default) and the MP table (unless -Y), as bhyve. */
static int
build_firmware_tables(struct bhyve_vm *bvm)
{
	if (!guest_at_start(bvm->ctx))
		return (0);
	if (get_config_bool_default(bvm->cfg, "acpi_tables", true) &&
	    acpi_build(bvm) != 0)
		return (-1);
	if (get_config_bool_default(bvm->cfg, "x86.mptable", true) &&
	    mptable_build(bvm) != 0)
		return (-1);
	return (0);
}

/* -c [[cpus=]n][,sockets=n][,cores=n][,threads=n] */
static int
parse_cpus(struct config *cfg, const char *opt)
{
	char *copy, *tok, *save = NULL, *end;
	long n;
	int error = 0;

	copy = strdup(opt);
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		const char *key = "cpus", *val = tok;
		char *eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq = '\0';
			key = tok;
			val = eq + 1;
		}
		if (strcmp(key, "cpus") && strcmp(key, "sockets") && strcmp(key, "cores") &&
		    strcmp(key, "threads") && strcmp(key, "maxcpus")) {
			fprintf(stderr, "%s: -c: unknown topology key '%s'\n", progname, key);
			error = -1;
			break;
		}
		n = strtol(val, &end, 10);
		if (*val == '\0' || *end != '\0' || n < 1 || n > VM_MAXCPU) {
			fprintf(stderr, "%s: -c: %s must be 1 to %d, not '%s'\n", progname, key,
			    VM_MAXCPU, val);
			error = -1;
			break;
		}
		set_config_value(cfg, key, val);
	}
	free(copy);
	return error;
}

int
main(int argc, char **argv)
{
	struct vcpu_thread vt[VM_MAXCPU];
	struct bhyve_vm bvm;
	struct config *cfg;
	struct vmctx *ctx;
	struct pollfd pfd;
	const char *vmname, *val;
	size_t memsize = 0;
	int ch, ncpus, i, status, stopped_by_signal = 0;
	int topo_sockets = 0, topo_cores = 0, topo_threads = 0;
	bool stuck = false, keep = false;
	enum vm_suspend_how how;
	char c;

	cfg = config_create();
	if (cfg == NULL)
		die("out of memory");
	while ((ch = getopt(argc, argv, "aAc:CDef:HhIk:l:m:o:PSs:uU:wWxY")) != -1) {
		switch (ch) {
		case 'a':
			set_config_bool(cfg, "x86.x2apic", false);
			break;
		case 'A':
			set_config_bool(cfg, "acpi_tables", true);
			break;
		case 'c':
			if (parse_cpus(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'C':
			set_config_bool(cfg, "memory.guest_in_core", true);
			break;
		case 'D':
			set_config_bool(cfg, "destroy_on_poweroff", true);
			break;
		case 'e':
			set_config_bool(cfg, "x86.strictio", true);
			break;
		case 'f':
			if (qemu_fwcfg_parse_file(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'H':
			set_config_bool(cfg, "x86.vmexit_on_hlt", true);
			break;
		case 'h':
			usage(0);
		case 'I':
			/* FreeBSD: deprecated, the I/O APIC is always present. */
			break;
		case 'k':
			if (config_load_file(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'l':
			if (strcmp(optarg, "help") == 0) {
				lpc_print_supported_devices();
				exit(0);
			}
			if (lpc_device_parse(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'm':
			if (vm_parse_memsize(optarg, &memsize) != 0)
				die("invalid memsize '%s'", optarg);
			set_config_value(cfg, "memory.size", optarg);
			break;
		case 'o':
			if (config_parse_option(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'P':
			set_config_bool(cfg, "x86.vmexit_on_pause", true);
			break;
		case 'S':
			set_config_bool(cfg, "memory.wired", true);
			break;
		case 's':
			if (strcmp(optarg, "help") == 0) {
				pci_print_supported_devices();
				exit(0);
			}
			if (pci_parse_slot(cfg, optarg) != 0)
				exit(BHYVE_EXIT_ERROR);
			break;
		case 'u':
			set_config_bool(cfg, "rtc.use_localtime", false);
			break;
		case 'U':
			set_config_value(cfg, "uuid", optarg);
			break;
		case 'w':
			set_config_bool(cfg, "x86.strictmsr", false);
			break;
		case 'W':
			set_config_bool(cfg, "virtio_msix", false);
			break;
		case 'x':
			set_config_bool(cfg, "x86.x2apic", true);
			break;
		case 'Y':
			set_config_bool(cfg, "x86.mptable", false);
			break;
		default:
			usage(BHYVE_EXIT_ERROR);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1)
		set_config_value(cfg, "name", argv[0]);
	else if (argc > 1 || get_config_value(cfg, "name") == NULL)
		usage(BHYVE_EXIT_ERROR);
	vmname = get_config_value(cfg, "name");
	if (get_config_bool_default(cfg, "config.dump", false)) {
		config_dump(cfg, stdout);
		exit(0);
	}
	val = get_config_value(cfg, "cpus");
	ncpus = val != NULL ? atoi(val) : 1;
	/*
	 * Topology (bhyve.8 -c): a key not given is 1, and cpus, when given,
	 * must be the product; without sockets/cores/threads the CPUID
	 * leaves describe one socket of single-thread cores.
	 */
	if (get_config_value(cfg, "sockets") != NULL || get_config_value(cfg, "cores") != NULL ||
	    get_config_value(cfg, "threads") != NULL) {
		const char *sv = get_config_value(cfg, "sockets");
		const char *cv = get_config_value(cfg, "cores");
		const char *tv = get_config_value(cfg, "threads");

		topo_sockets = sv != NULL ? atoi(sv) : 1;
		topo_cores = cv != NULL ? atoi(cv) : 1;
		topo_threads = tv != NULL ? atoi(tv) : 1;
		if (topo_sockets * topo_cores * topo_threads > VM_MAXCPU)
			die("-c: %d sockets x %d cores x %d threads is more than %d vCPUs",
			    topo_sockets, topo_cores, topo_threads, VM_MAXCPU);
		if (val == NULL)
			ncpus = topo_sockets * topo_cores * topo_threads;
		else if (ncpus != topo_sockets * topo_cores * topo_threads)
			die("-c: topology (%d sockets, %d cores, %d threads) does not match %d vCPUs",
			    topo_sockets, topo_cores, topo_threads, ncpus);
	}

	ctx = vm_openf(vmname, VMMAPI_OPEN_RUN);
	if (ctx == NULL) {
		if (errno == ENOENT)
			die("VM '%s' does not exist: load a guest first (bhyveload -k ... %s)",
			    vmname, vmname);
		if (errno == ESTALE)
			die("%s", why());	/* left running by a dead bhyve: says the ways on */
		die("cannot open VM '%s': %s", vmname, why());
	}
	setup_ctx = ctx;
	if (get_config_bool_default(cfg, "memory.wired", false))
		vm_set_memflags(ctx, VM_MEM_F_WIRED);
	if (memsize == 0 && (val = get_config_value(cfg, "memory.size")) != NULL &&
	    vm_parse_memsize(val, &memsize) != 0)
		die("invalid memory.size '%s'", val);
	if (memsize == 0)
		memsize = vm_get_lowmem_size(ctx) + vm_get_highmem_size(ctx);
	if (memsize == 0)
		die("VM '%s' has no memory: load a guest first (bhyveload)", vmname);
	if (vm_setup_memory(ctx, memsize, VM_MMAP_ALL) != 0)
		die("%s", why());
	if (!get_config_bool_default(cfg, "memory.guest_in_core", false)) {
		/* Keep guest RAM out of bhyve's core dumps unless -C (bhyve.8). */
		void *lo = vm_map_gpa(ctx, 0, vm_get_lowmem_size(ctx));
		if (lo != NULL)
			madvise(lo, vm_get_lowmem_size(ctx), MADV_DONTDUMP);
		if (vm_get_highmem_size(ctx) != 0) {
			void *hi = vm_map_gpa(ctx, vm_get_highmem_base(ctx),
			    vm_get_highmem_size(ctx));
			if (hi != NULL)
				madvise(hi, vm_get_highmem_size(ctx), MADV_DONTDUMP);
		}
	}
	if (vm_set_ncpus(ctx, ncpus) != 0)
		die("%s", why());
	if (topo_sockets > 0 && vm_set_topology(ctx, (uint16_t)topo_sockets, (uint16_t)topo_cores,
	    (uint16_t)topo_threads, 0) != 0)
		die("%s", why());
	val = get_config_value(cfg, "cpu.vendor");
	if (val != NULL && vm_set_cpu_vendor(ctx, val) != 0)
		die("-o cpu.vendor=%s: %s", val, why());
	val = get_config_value(cfg, "vmm.backend");
	if (vm_attach_backend(ctx, val != NULL ? val : "auto") != 0)
		die("%s", why());
	/* One line naming the CPU backend, and why auto chose it when it did not pick KVM. */
	fprintf(stderr, "%s: %s: CPU backend %s%s%s%s\n", progname, vmname, vm_backend_name(ctx),
	    vm_backend_note(ctx)[0] ? " (" : "", vm_backend_note(ctx),
	    vm_backend_note(ctx)[0] ? ")" : "");
	/* A guest that continues keeps its RTC (the store's vrtc section). */
	if (guest_at_start(ctx) && vm_rtc_settime(ctx, rtc_time(cfg)) != 0)
		die("cannot set the RTC: %s", why());

	memset(&bvm, 0, sizeof(bvm));
	bvm.ctx = ctx;
	bvm.ncpus = ncpus;
	bvm.cfg = cfg;
	install_signals();
	uart_backend_set_escape_hook(on_console_escape);
	atexit(uart_backend_restore_all);
	if (bhyve_devices_init(&bvm) != 0) {
		setup_ctx = NULL;
		vm_close(ctx);
		exit(BHYVE_EXIT_ERROR);
	}
	if (build_firmware_tables(&bvm) != 0) {
		release_devices(&bvm);
		vm_close(ctx);
		exit(BHYVE_EXIT_ERROR);
	}

	/*
	 * A thread for every vCPU.  Application processors sleep inside
	 * vm_run in wait-for-SIPI until the guest's INIT-SIPI-SIPI (libvmm's
	 * LAPIC starts them; bhyve never sees a SPINUP_AP exit).
	 */
	memset(vt, 0, sizeof(vt));
	setup_ctx = NULL;	/* from here on the normal exit path closes it */
	for (i = 0; i < ncpus; i++) {
		vt[i].bvm = &bvm;
		vt[i].id = i;
		vt[i].vcpu = vm_vcpu_open(ctx, i);
		if (vt[i].vcpu == NULL)
			die("vCPU %d: %s", i, why());
		vm_activate_cpu(vt[i].vcpu);
		set_capabilities(&bvm, vt[i].vcpu);
		if (pthread_create(&vt[i].thread, NULL, vcpu_thread_main, &vt[i]) != 0)
			die("cannot start vCPU %d", i);
		vt[i].started = true;
	}

	/* Wait for a signal or for a vCPU to stop. */
	bool button_pressed = false;
	pfd = (struct pollfd){ .fd = signal_pipe[0], .events = POLLIN };
	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (read(signal_pipe[0], &c, 1) != 1)
			continue;
		if (c == 'v')
			break;
		if (c == 'k') {
			/* Stop and keep: every vCPU at an instruction boundary. */
			keep = true;
			vm_suspend(ctx, VM_SUSPEND_KEEP);
			break;
		}
		/*
		 * SIGTERM presses the ACPI power button (bhyve.8): a guest that
		 * listens shuts down by itself.  One that does not (no ACPI, or
		 * the button's event disabled), a second SIGTERM, SIGINT and
		 * SIGHUP stop the guest; its state is saved below.
		 */
		if (c == SIGTERM && !button_pressed && pm_power_button(&bvm)) {
			button_pressed = true;
			fprintf(stderr, "%s: %s: ACPI power button pressed (SIGTERM again stops "
			    "the guest at once)\n", progname, vmname);
			continue;
		}
		stopped_by_signal = c;
		vm_suspend(ctx, VM_SUSPEND_POWEROFF);
		break;
	}
	/*
	 * Every vCPU sees the suspend and leaves vm_run.  One blocked inside a
	 * device (console output nobody reads) cannot: after a grace period
	 * bhyve saves the state anyway and exits without tearing the devices
	 * down under it.  Its instruction replays when the guest next runs.
	 */
	for (i = 0; i < VM_MAXCPU; i++) {
		struct timespec deadline;

		if (!vt[i].started)
			continue;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 3;
		if (pthread_timedjoin_np(vt[i].thread, NULL, &deadline) != 0) {
			fprintf(stderr, "%s: vCPU %d is blocked in a device (console output "
			    "not read?); stopping without it\n", progname, i);
			stuck = true;
			continue;
		}
		vm_vcpu_close(vt[i].vcpu);
	}
	/*
	 * Devices stay up through the final save, whose device sections they
	 * fill; release_devices() lets go of them afterwards.  A busy one
	 * (stuck) keeps its last saved state.
	 */
	if (stuck)
		vm_snapshot_unregister(ctx, NULL);

	how = (enum vm_suspend_how)atomic_load(&bhyve_suspend_how);
	if (how == VM_SUSPEND_NONE && (stopped_by_signal || keep))
		how = keep ? VM_SUSPEND_KEEP : VM_SUSPEND_POWEROFF;	/* a blocked vCPU never saw it */
	status = atomic_load(&bhyve_error_exit) ? BHYVE_EXIT_ERROR : bhyve_exit_status(how);
	if (stopped_by_signal)
		fprintf(stderr, "%s: %s stopped by signal %d; state saved\n", progname, vmname,
		    stopped_by_signal);

	if (how == VM_SUSPEND_DESTROY && !atomic_load(&bhyve_error_exit)) {
		/* bhyvectl --destroy removes the files once we let go: nothing to save. */
		fprintf(stderr, "%s: %s is being destroyed\n", progname, vmname);
		if (!stuck) {
			release_devices(&bvm);
			vm_close(ctx);
		}
	} else if (status == BHYVE_EXIT_POWEROFF && !stopped_by_signal && !stuck &&
	    get_config_bool_default(cfg, "destroy_on_poweroff", false)) {
		release_devices(&bvm);
		vm_destroy(ctx);
	} else if (vm_save_state(ctx) != 0) {
		fprintf(stderr, "%s: cannot save the state of %s: %s\n", progname, vmname, why());
		if (!stuck) {
			release_devices(&bvm);
			vm_close(ctx);
		}
		status = BHYVE_EXIT_ERROR;
	} else {
		if (status == BHYVE_EXIT_SUSPENDED)
			fprintf(stderr, "%s: %s suspended and kept; 'bhyve %s' continues it\n",
			    progname, vmname, vmname);
		if (!stuck) {
			release_devices(&bvm);
			vm_close(ctx);
		}
	}
	/* -l pc-testdev: the guest's isa-debug-exit replaces a power-off's 1. */
	if (status == BHYVE_EXIT_POWEROFF && !stopped_by_signal &&
	    __atomic_load_n(&bvm.exit_request, __ATOMIC_SEQ_CST) >= 0)
		status = __atomic_load_n(&bvm.exit_request, __ATOMIC_SEQ_CST);
	if (stuck) {
		/* The blocked thread still uses the devices: leave without teardown. */
		uart_backend_restore_all();
		_exit(status);
	}
	config_destroy(cfg);
	return status;
}
