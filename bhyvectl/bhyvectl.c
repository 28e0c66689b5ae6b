/*
 * bhyvectl - inspect, change and destroy lhyve instances (bhyvectl.8).
 *
 * While a bhyve runs the instance, every request goes to it over the
 * instance's control socket; otherwise bhyvectl opens the instance itself.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmapi.h"

static const char *progname = "bhyvectl";

struct regdef {
	const char	*name;
	int		reg;
	int		is_seg;		/* has a descriptor (desc-NAME options) */
	int		is_dtr;		/* GDTR/IDTR: base/limit only */
};

/* Registers bhyvectl.8 lists, in --get-all order. */
static const struct regdef regs[] = {
	{ "efer", VM_REG_GUEST_EFER, 0, 0 },
	{ "cr0", VM_REG_GUEST_CR0, 0, 0 },
	{ "cr2", VM_REG_GUEST_CR2, 0, 0 },
	{ "cr3", VM_REG_GUEST_CR3, 0, 0 },
	{ "cr4", VM_REG_GUEST_CR4, 0, 0 },
	{ "xcr0", VM_REG_GUEST_XCR0, 0, 0 },
	{ "dr0", VM_REG_GUEST_DR0, 0, 0 },
	{ "dr1", VM_REG_GUEST_DR1, 0, 0 },
	{ "dr2", VM_REG_GUEST_DR2, 0, 0 },
	{ "dr3", VM_REG_GUEST_DR3, 0, 0 },
	{ "dr6", VM_REG_GUEST_DR6, 0, 0 },
	{ "dr7", VM_REG_GUEST_DR7, 0, 0 },
	{ "rsp", VM_REG_GUEST_RSP, 0, 0 },
	{ "rip", VM_REG_GUEST_RIP, 0, 0 },
	{ "rax", VM_REG_GUEST_RAX, 0, 0 },
	{ "rbx", VM_REG_GUEST_RBX, 0, 0 },
	{ "rcx", VM_REG_GUEST_RCX, 0, 0 },
	{ "rdx", VM_REG_GUEST_RDX, 0, 0 },
	{ "rsi", VM_REG_GUEST_RSI, 0, 0 },
	{ "rdi", VM_REG_GUEST_RDI, 0, 0 },
	{ "rbp", VM_REG_GUEST_RBP, 0, 0 },
	{ "r8", VM_REG_GUEST_R8, 0, 0 },
	{ "r9", VM_REG_GUEST_R9, 0, 0 },
	{ "r10", VM_REG_GUEST_R10, 0, 0 },
	{ "r11", VM_REG_GUEST_R11, 0, 0 },
	{ "r12", VM_REG_GUEST_R12, 0, 0 },
	{ "r13", VM_REG_GUEST_R13, 0, 0 },
	{ "r14", VM_REG_GUEST_R14, 0, 0 },
	{ "r15", VM_REG_GUEST_R15, 0, 0 },
	{ "rflags", VM_REG_GUEST_RFLAGS, 0, 0 },
	{ "fs_base", VM_REG_GUEST_FS_BASE, 0, 0 },
	{ "gs_base", VM_REG_GUEST_GS_BASE, 0, 0 },
	{ "kgs_base", VM_REG_GUEST_KGS_BASE, 0, 0 },
	{ "cs", VM_REG_GUEST_CS, 1, 0 },
	{ "ds", VM_REG_GUEST_DS, 1, 0 },
	{ "es", VM_REG_GUEST_ES, 1, 0 },
	{ "fs", VM_REG_GUEST_FS, 1, 0 },
	{ "gs", VM_REG_GUEST_GS, 1, 0 },
	{ "ss", VM_REG_GUEST_SS, 1, 0 },
	{ "tr", VM_REG_GUEST_TR, 1, 0 },
	{ "ldtr", VM_REG_GUEST_LDTR, 1, 0 },
	{ "gdtr", VM_REG_GUEST_GDTR, 0, 1 },
	{ "idtr", VM_REG_GUEST_IDTR, 0, 1 },
};
#define NREGS	(sizeof(regs) / sizeof(regs[0]))

/* Option codes: fixed ones, then 3 per register (get, set, get-desc/set-desc). */
enum {
	OPT_VM = 1000, OPT_CPU, OPT_CREATE, OPT_DESTROY, OPT_GET_ALL, OPT_GET_STATS,
	OPT_FORCE_RESET, OPT_FORCE_POWEROFF, OPT_GET_LOWMEM, OPT_GET_HIGHMEM,
	OPT_INJECT_NMI, OPT_CAPNAME, OPT_GETCAP, OPT_SETCAP, OPT_DESC_BASE,
	OPT_DESC_LIMIT, OPT_DESC_ACCESS, OPT_LIST, OPT_HELP, OPT_SUSPEND, OPT_GET_LAPIC,
	OPT_REG_BASE = 2000	/* + 4*i: get, set, get-desc, set-desc */
};

static const struct option fixed[] = {
	{ "vm", required_argument, NULL, OPT_VM },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "destroy", no_argument, NULL, OPT_DESTROY },
	{ "get-all", no_argument, NULL, OPT_GET_ALL },
	{ "get-stats", no_argument, NULL, OPT_GET_STATS },
	{ "get-lapic", no_argument, NULL, OPT_GET_LAPIC },
	{ "force-reset", no_argument, NULL, OPT_FORCE_RESET },
	{ "force-poweroff", no_argument, NULL, OPT_FORCE_POWEROFF },
	{ "suspend", no_argument, NULL, OPT_SUSPEND },
	{ "get-lowmem", no_argument, NULL, OPT_GET_LOWMEM },
	{ "get-highmem", no_argument, NULL, OPT_GET_HIGHMEM },
	{ "inject-nmi", no_argument, NULL, OPT_INJECT_NMI },
	{ "capname", required_argument, NULL, OPT_CAPNAME },
	{ "getcap", no_argument, NULL, OPT_GETCAP },
	{ "setcap", required_argument, NULL, OPT_SETCAP },
	{ "desc-base", required_argument, NULL, OPT_DESC_BASE },
	{ "desc-limit", required_argument, NULL, OPT_DESC_LIMIT },
	{ "desc-access", required_argument, NULL, OPT_DESC_ACCESS },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "help", no_argument, NULL, OPT_HELP },
};
#define NFIXED	(sizeof(fixed) / sizeof(fixed[0]))

struct request {
	int	get;
	int	set;
	uint64_t setval;
	int	get_desc;
	int	set_desc;
};

static void
usage(int code)
{
	size_t i;

	fprintf(code ? stderr : stdout,
	    "usage: %s --vm=<name> [--cpu=<vcpu>] [--create] [--destroy] [--get-all]\n"
	    "       [--get-stats] [--get-lapic] [--get-<reg>] [--set-<reg>=<value>] [--get-desc-<seg>]\n"
	    "       [--set-desc-<seg> --desc-base=B --desc-limit=L --desc-access=A]\n"
	    "       [--get-lowmem] [--get-highmem] [--inject-nmi] [--force-reset]\n"
	    "       [--force-poweroff] [--suspend] [--capname=<cap> [--getcap] [--setcap=0|1]]\n"
	    "       [--list]\n"
	    "registers:", progname);
	for (i = 0; i < NREGS; i++)
		fprintf(code ? stderr : stdout, " %s", regs[i].name);
	fprintf(code ? stderr : stdout, "\n");
	exit(code);
}

static uint64_t
parse_u64(const char *opt, const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "%s: --%s: '%s' is not a number\n", progname, opt, s);
		exit(1);
	}
	return v;
}

static void
fail(const char *what)
{
	const char *why = vm_last_error();

	fprintf(stderr, "%s: %s: %s\n", progname, what, why[0] ? why : strerror(errno));
	exit(1);
}

static void
print_reg(struct vcpu *vcpu, int id, const struct regdef *r)
{
	uint64_t val, base;
	uint32_t limit, access;

	if (r->is_dtr) {
		if (vm_get_desc(vcpu, r->reg, &base, &limit, &access) != 0)
			fail(r->name);
		printf("%s[%d]\t\t0x%016" PRIx64 "/0x%08x\n", r->name, id, base, limit);
		return;
	}
	if (vm_get_register(vcpu, r->reg, &val) != 0)
		fail(r->name);
	if (r->is_seg)
		printf("%s[%d]\t\t0x%04" PRIx64 "\n", r->name, id, val);
	else
		printf("%s[%d]\t%s0x%016" PRIx64 "\n", r->name, id,
		    strlen(r->name) < 6 ? "\t" : "", val);
}

static void
print_desc(struct vcpu *vcpu, int id, const struct regdef *r)
{
	uint64_t base;
	uint32_t limit, access;

	if (vm_get_desc(vcpu, r->reg, &base, &limit, &access) != 0)
		fail(r->name);
	printf("%s desc[%d]\t0x%016" PRIx64 "/0x%08x/0x%08x\n", r->name, id, base, limit,
	    access);
}

static void
print_stats(struct vmctx *ctx, struct vcpu *vcpu, int id)
{
	uint64_t *stats;
	int i, n;

	stats = vm_get_stats(vcpu, NULL, &n);
	if (stats == NULL)
		fail("get-stats");
	printf("vcpu%d stats:\n", id);
	printf("%-40s\t%s\n", "stat name", "value");
	printf("%-40s\t%s\n", "CPU backend", vm_backend_name(ctx)[0] ? vm_backend_name(ctx) : "none");
	for (i = 0; i < n; i++)
		printf("%-40s\t%" PRIu64 "\n", vm_get_stat_desc(ctx, i), stats[i]);
}

static void
print_bank(int id, const char *name, const uint32_t *bank)
{
	int i;

	printf("%s[%d]\t", name, id);
	for (i = 7; i >= 0; i--)
		printf("%08x%s", bank[i], i ? " " : "\n");
}

/* The local APIC (SDM Vol. 3A 11.4): its registers and the timer. */
static void
print_lapic(struct vcpu *vcpu, int id)
{
	static const char *const lvt[6] = { "timer", "thermal", "perf", "lint0", "lint1",
	    "error" };
	struct vmm_lapic_info li;
	int i;

	if (vm_get_lapic(vcpu, &li) != 0)
		fail("get-lapic");
	printf("apic_base[%d]\t0x%016" PRIx64 " (%s)\n", id, li.apicbase,
	    !(li.apicbase & 0x800) ? "disabled" : (li.apicbase & 0x400) ? "x2APIC" : "xAPIC");
	printf("apic_id[%d]\t0x%08x\n", id, li.id);
	printf("tpr[%d]\t\t0x%02x\nppr[%d]\t\t0x%02x\n", id, li.tpr, id, li.ppr);
	printf("svr[%d]\t\t0x%08x\nesr[%d]\t\t0x%08x\nldr[%d]\t\t0x%08x\n", id, li.svr,
	    id, li.esr, id, li.ldr);
	/* Banks as 256-bit numbers, vector 255 first, like the SDM's figures. */
	print_bank(id, "irr", li.irr);
	print_bank(id, "isr", li.isr);
	print_bank(id, "tmr", li.tmr);
	for (i = 0; i < 6; i++)
		printf("lvt_%s[%d]\t0x%08x\n", lvt[i], id, li.lvt[i]);
	printf("timer_icr[%d]\t0x%08x\ntimer_ccr[%d]\t0x%08x\ntimer_dcr[%d]\t0x%08x\n", id,
	    li.timer_icr, id, li.timer_ccr, id, li.timer_dcr);
	printf("tsc_deadline[%d]\t0x%016" PRIx64 "\n", id, li.tsc_deadline);
	if (li.timer_due_ns < 0)
		printf("timer_due[%d]\tnot armed\n", id);
	else
		printf("timer_due[%d]\tin %" PRId64 " ns\n", id, li.timer_due_ns);
}

int
main(int argc, char **argv)
{
	static struct option longopts[NFIXED + 4 * NREGS + 1];
	static struct request req[NREGS];
	static char names[4 * NREGS][32];
	struct vmctx *ctx;
	struct vcpu *vcpu;
	const char *vmname = NULL, *capname = NULL;
	int create = 0, destroy = 0, get_all = 0, get_stats = 0, force_reset = 0;
	int force_poweroff = 0, get_lowmem = 0, get_highmem = 0, inject_nmi = 0;
	int get_lapic = 0, getcap = 0, setcap = -1, list = 0, cpu = 0, ch, nopts = 0, acted = 0, suspend = 0;
	uint64_t desc_base = 0;
	uint32_t desc_limit = 0, desc_access = 0;
	int have_desc_base = 0, have_desc_limit = 0, have_desc_access = 0;
	size_t i;

	const size_t nfixed = NFIXED;

	memcpy(longopts, fixed, sizeof(fixed));
	nopts = (int)nfixed;
	for (i = 0; i < NREGS; i++) {
		int code = OPT_REG_BASE + 4 * (int)i;
		snprintf(names[4 * i], 32, "get-%s", regs[i].name);
		snprintf(names[4 * i + 1], 32, "set-%s", regs[i].name);
		longopts[nopts++] = (struct option){ names[4 * i], no_argument, NULL, code };
		longopts[nopts++] = (struct option){ names[4 * i + 1], required_argument, NULL, code + 1 };
		if (regs[i].is_seg || regs[i].is_dtr) {
			snprintf(names[4 * i + 2], 32, "get-desc-%s", regs[i].name);
			snprintf(names[4 * i + 3], 32, "set-desc-%s", regs[i].name);
			longopts[nopts++] = (struct option){ names[4 * i + 2], no_argument, NULL, code + 2 };
			longopts[nopts++] = (struct option){ names[4 * i + 3], no_argument, NULL, code + 3 };
		}
	}

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_VM: vmname = optarg; break;
		case OPT_CPU: cpu = (int)parse_u64("cpu", optarg); break;
		case OPT_CREATE: create = 1; break;
		case OPT_DESTROY: destroy = 1; break;
		case OPT_GET_ALL: get_all = 1; break;
		case OPT_GET_STATS: get_stats = 1; break;
		case OPT_GET_LAPIC: get_lapic = 1; break;
		case OPT_FORCE_RESET: force_reset = 1; break;
		case OPT_FORCE_POWEROFF: force_poweroff = 1; break;
		case OPT_SUSPEND: suspend = 1; break;
		case OPT_GET_LOWMEM: get_lowmem = 1; break;
		case OPT_GET_HIGHMEM: get_highmem = 1; break;
		case OPT_INJECT_NMI: inject_nmi = 1; break;
		case OPT_CAPNAME: capname = optarg; break;
		case OPT_GETCAP: getcap = 1; break;
		case OPT_SETCAP: setcap = (int)parse_u64("setcap", optarg); break;
		case OPT_DESC_BASE: desc_base = parse_u64("desc-base", optarg); have_desc_base = 1; break;
		case OPT_DESC_LIMIT: desc_limit = (uint32_t)parse_u64("desc-limit", optarg); have_desc_limit = 1; break;
		case OPT_DESC_ACCESS: desc_access = (uint32_t)parse_u64("desc-access", optarg); have_desc_access = 1; break;
		case OPT_LIST: list = 1; break;
		case OPT_HELP: usage(0); break;
		default:
			if (ch >= OPT_REG_BASE && ch < OPT_REG_BASE + 4 * (int)NREGS) {
				struct request *r = &req[(ch - OPT_REG_BASE) / 4];
				switch ((ch - OPT_REG_BASE) % 4) {
				case 0: r->get = 1; break;
				case 1: r->set = 1; r->setval = parse_u64(names[ch - OPT_REG_BASE], optarg); break;
				case 2: r->get_desc = 1; break;
				case 3: r->set_desc = 1; break;
				}
				break;
			}
			usage(1);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", progname, argv[optind]);
		usage(1);
	}
	if (list) {
		/* FreeBSD lists /dev/vmm; we list the store. */
		DIR *d = opendir(vm_store_dir());
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				printf("%s\n", de->d_name);
		if (d != NULL)
			closedir(d);
		return 0;
	}
	if (vmname == NULL) {
		fprintf(stderr, "%s: --vm=<name> is required\n", progname);
		usage(1);
	}
	if (cpu < 0 || cpu >= VM_MAXCPU) {
		fprintf(stderr, "%s: --cpu=%d: vCPUs are 0 to %d\n", progname, cpu, VM_MAXCPU - 1);
		exit(1);
	}

	if (create) {
		if (vm_create(vmname) != 0)
			fail("create");
		acted = 1;
	}
	ctx = vm_open(vmname);
	if (ctx == NULL && destroy && errno != EBUSY) {
		/* Damaged (corrupt state, lost memory): remove it without loading. */
		if (vm_destroy_name(vmname) != 0)
			fail(vmname);
		exit(0);
	}
	if (ctx == NULL)
		fail(vmname);
	if (cpu >= vm_get_ncpus(ctx) && cpu != 0) {
		fprintf(stderr, "%s: vCPU %d does not exist (the VM has %d)\n", progname, cpu,
		    vm_get_ncpus(ctx));
		exit(1);
	}
	vcpu = vm_vcpu_open(ctx, cpu);
	if (vcpu == NULL)
		fail("vcpu");

	for (i = 0; i < NREGS; i++) {
		struct request *r = &req[i];
		if (r->set) {
			if (regs[i].is_dtr) {
				uint64_t b;
				uint32_t l, a;
				if (vm_get_desc(vcpu, regs[i].reg, &b, &l, &a) != 0 ||
				    vm_set_desc(vcpu, regs[i].reg, r->setval, l, a) != 0)
					fail(names[4 * i + 1]);
			} else if (vm_set_register(vcpu, regs[i].reg, r->setval) != 0)
				fail(names[4 * i + 1]);
			acted = 1;
		}
		if (r->set_desc) {
			if (!have_desc_base || !have_desc_limit || !have_desc_access) {
				fprintf(stderr, "%s: --%s needs --desc-base, --desc-limit and --desc-access\n",
				    progname, names[4 * i + 3]);
				exit(1);
			}
			if (vm_set_desc(vcpu, regs[i].reg, desc_base, desc_limit, desc_access) != 0)
				fail(names[4 * i + 3]);
			acted = 1;
		}
	}
	for (i = 0; i < NREGS; i++) {
		if (req[i].get || get_all) {
			print_reg(vcpu, cpu, &regs[i]);
			acted = 1;
		}
		if (req[i].get_desc && regs[i].is_dtr) {
			print_reg(vcpu, cpu, &regs[i]);
			acted = 1;
		}
		if ((req[i].get_desc || get_all) && regs[i].is_seg) {
			print_desc(vcpu, cpu, &regs[i]);
			acted = 1;
		}
	}
	if (get_lowmem || get_all) {
		printf("lowmem\t\t0x%016zx\n", vm_get_lowmem_size(ctx));
		acted = 1;
	}
	if (get_highmem || get_all) {
		printf("highmem\t\t0x%016zx\n", vm_get_highmem_size(ctx));
		acted = 1;
	}
	if (get_stats) {
		print_stats(ctx, vcpu, cpu);
		acted = 1;
	}
	if (get_lapic) {
		print_lapic(vcpu, cpu);
		acted = 1;
	}
	if (capname != NULL) {
		int cap = vm_capability_name2type(capname), val;
		if (cap < 0) {
			fprintf(stderr, "%s: unknown capability '%s'\n", progname, capname);
			exit(1);
		}
		if (setcap >= 0 && vm_set_capability(vcpu, cap, setcap) != 0)
			fail("setcap");
		if (getcap) {
			if (vm_get_capability(vcpu, cap, &val) != 0)
				fail("getcap");
			printf("Capability \"%s\" is %s on vcpu %d\n", capname,
			    val ? "set" : "not set", cpu);
		}
		acted = 1;
	}
	if (inject_nmi) {
		if (vm_inject_nmi(vcpu) != 0)
			fail("inject-nmi");
		acted = 1;
	}
	if (force_reset && !vm_is_running(ctx)) {
		/* Stopped, or left running by a bhyve that died: start over from reset. */
		if (vm_force_reset(ctx) != 0)
			fail("force-reset");
		acted = 1;
	} else if (force_reset || force_poweroff || suspend) {
		if (!vm_is_running(ctx)) {
			fprintf(stderr, "%s: VM '%s' is not running\n", progname, vmname);
			exit(1);
		}
		if (vm_suspend(ctx, suspend ? VM_SUSPEND_KEEP : force_reset ? VM_SUSPEND_RESET :
		    VM_SUSPEND_POWEROFF) != 0)
			fail(suspend ? "suspend" : force_reset ? "force-reset" : "force-poweroff");
		acted = 1;
	}
	vm_vcpu_close(vcpu);
	if (destroy) {
		/* A running VM is stopped first: its bhyve exits (status 4). */
		vm_close(ctx);
		if (vm_destroy_name(vmname) != 0)
			fail("destroy");
		acted = 1;
	} else {
		vm_close(ctx);
	}
	if (!acted) {
		fprintf(stderr, "%s: nothing to do for VM '%s'\n", progname, vmname);
		usage(1);
	}
	return 0;
}
