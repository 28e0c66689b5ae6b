/*
 * fuzz_apic.c - libFuzzer target: a hostile guest against libvmm's
 * interrupt controllers (vmm_intr.c over vmm/io's vlapic and vioapic)
 * and platform devices (vmm_platform.c: 8259, 8254, HPET, RTC, PM timer,
 * with their timer thread): LAPIC page, IOAPIC window and HPET accesses,
 * the platform's ports, APIC MSRs, IOAPIC and ISA lines, MSIs, fixed
 * interrupts, the CPU taking interrupts (ExtINT too), INIT, and snapshots,
 * on four vCPUs.  Input: 12-byte records {kind, vcpu, size, pad, addr:u32,
 * value:u32}.  Every call must return; nothing may crash or trip ASan/UBSan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_core.h"
#include "vmm_intr.h"
#include "vmm_platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCPUS	4

static void
fake_notify(void *arg, int vcpu, bool kick)
{
	if (vcpu < 0 || vcpu >= NCPUS)
		abort();
}

static uint64_t
fake_tsc(void *arg, int vcpu)
{
	return 1000000000ull;
}

/* vmm.c's snapshot hooks, as the platform registers them: kept for case 15. */
static struct {
	vmm_snapshot_save_t	*save;
	vmm_snapshot_restore_t	*restore;
	void			*arg;
} hooks[8];
static int nhooks;

int
vmm_snapshot_register(struct vm *vm, const char *name, vmm_snapshot_save_t *save,
    vmm_snapshot_restore_t *restore, void *arg)
{
	if (nhooks == 8)
		abort();
	hooks[nhooks].save = save;
	hooks[nhooks].restore = restore;
	hooks[nhooks].arg = arg;
	nhooks++;
	return 0;
}

void
vmm_snapshot_unregister(struct vm *vm, const char *name)
{
	nhooks = 0;
}

/* The platform's ports, and a few around them. */
static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41,
    0x42, 0x43, 0x61, 0x70, 0x71, 0x408, 0x409, 0x40a, 0x40b, 0x1f, 0x44, 0x72 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int sizes[4] = { 1, 2, 4, 8 };
	struct vmm_intr_cb cb = { .notify = fake_notify, .tsc = fake_tsc };
	struct vmm_intr_source src;
	struct vmm_lapic_info li;
	struct vmm_intr *in;
	struct vmm_platform *plat;
	struct vm_exit vme;
	uint8_t snap[VMM_INTR_LAPIC_SNAP_MAX], vec;
	uint32_t addr, val, msr;
	uint64_t v;
	ssize_t n;
	size_t i;
	int vcpu, st;

	if (vmm_intr_create(&in, &cb, NCPUS) != 0 ||
	    vmm_platform_create(&plat, in, (size & 1) != 0) != 0 ||
	    vmm_platform_register(plat, NULL) != 0)
		abort();
	for (i = 0; i + 12 <= size; i += 12) {
		vcpu = data[i + 1] % NCPUS;
		memcpy(&addr, data + i + 4, 4);
		memcpy(&val, data + i + 8, 4);
		memset(&vme, 0, sizeof(vme));
		switch (data[i] % 16) {
		case 0:		/* LAPIC page (wherever APIC_BASE put it) */
		case 1:
			vme.exitcode = VM_EXITCODE_INST_EMUL;
			vme.u.mmio.gpa = (vmm_intr_apicbase(in, vcpu) & ~0xfffull) + (addr & 0xfff);
			vme.u.mmio.size = (uint8_t)sizes[data[i + 2] & 3];
			vme.u.mmio.write = data[i] % 16 == 1;
			vme.u.mmio.data = val;
			vmm_intr_mmio(in, vcpu, &vme);
			break;
		case 2:		/* IOAPIC window, and anywhere near it */
			vme.exitcode = VM_EXITCODE_INST_EMUL;
			vme.u.mmio.gpa = 0xfec00000ull + (addr & 0x1fff) - 0x800;
			vme.u.mmio.size = (uint8_t)sizes[data[i + 2] & 3];
			vme.u.mmio.write = data[i + 2] >> 7;
			vme.u.mmio.data = val;
			vmm_intr_mmio(in, vcpu, &vme);
			break;
		case 3:		/* APIC MSRs: APIC_BASE, TSC_DEADLINE, 800H-8FFH */
		case 4:
			msr = (addr & 0x300) == 0 ? 0x1b : (addr & 0x300) == 0x100 ? 0x6e0 :
			    0x800 + (addr & 0xff);
			v = (uint64_t)val << (data[i + 2] & 32) | val;
			if (data[i] % 14 == 3)
				vmm_intr_rdmsr(in, vcpu, msr, &v);
			else
				vmm_intr_wrmsr(in, vcpu, msr, v);
			break;
		case 5:
			vmm_intr_ioapic_irq(in, (int)(addr % 30) - 2, (enum vmm_irq_op)(val % 4));
			break;
		case 6:
			vmm_intr_isa_irq(in, (int)(addr % 20) - 2, (int)(val >> 8) % 26 - 2,
			    (enum vmm_irq_op)(val % 4));
			break;
		case 7:
			vmm_intr_msi(in, 0xfee00000ull | (addr & 0xfffff) |
			    ((uint64_t)(data[i + 2] & 1) << 32), val);
			break;
		case 8:
			vmm_intr_lapic_irq(in, (int)(addr % 6) - 1, (int)(val % 300) - 20);
			break;
		case 9:		/* the CPU takes what is pending */
			vmm_intr_source(in, vcpu, &src);
			if (vmm_intr_pending(in, vcpu)) {
				int p = src.pending(src.arg);
				if (p >= 0)
					src.accept(src.arg, p);
			}
			break;
		case 10:
			if (vmm_intr_take_events(in, vcpu, &vec) & VMM_EV_INIT)
				vmm_intr_init_lapic(in, vcpu);
			break;
		case 11:	/* snapshot round trip, then a corrupted restore */
			n = vmm_intr_lapic_save(in, vcpu, snap, sizeof(snap));
			if (n < 0 || (size_t)n > sizeof(snap))
				abort();
			if (vmm_intr_lapic_restore(in, vcpu, snap, (size_t)n) != 0)
				abort();
			snap[addr % (size_t)n] ^= (uint8_t)val;
			vmm_intr_lapic_restore(in, vcpu, snap, (size_t)n);
			break;
		case 12:
			vmm_intr_lapic_local_irq(in, (int)(addr % 6) - 1, (int)(val % 8) - 1);
			vmm_intr_set_x2apic(in, vcpu, (int)(val % 3));
			vmm_intr_get_x2apic(in, vcpu, &st);
			break;
		case 14:	/* the platform's ports, any size */
			vme.exitcode = VM_EXITCODE_INOUT;
			vme.u.inout.port = ports[addr % (sizeof(ports) / sizeof(ports[0]))];
			vme.u.inout.bytes = (uint16_t)sizes[data[i + 2] & 3];
			vme.u.inout.in = data[i + 2] >> 7;
			vme.u.inout.eax = val;
			vmm_platform_inout(plat, &vme);
			break;
		case 15:	/* the HPET page and around it; the platform's snapshots */
			vme.exitcode = VM_EXITCODE_INST_EMUL;
			vme.u.mmio.gpa = 0xfed00000ull + (addr & 0x7ff) - 0x200;
			vme.u.mmio.size = (uint8_t)sizes[data[i + 2] & 3];
			vme.u.mmio.write = data[i + 2] >> 7;
			vme.u.mmio.data = val | (uint64_t)addr << 32;
			vmm_platform_mmio(plat, &vme);
			if (data[i + 2] & 0x40) {
				int h = (int)(val % (uint32_t)nhooks);
				uint8_t buf[512];

				n = hooks[h].save(hooks[h].arg, buf, sizeof(buf));
				if (n < 0 || (size_t)n > sizeof(buf) ||
				    hooks[h].restore(hooks[h].arg, buf, (size_t)n) != 0)
					abort();
			}
			break;
		default:
			vmm_intr_lapic_info(in, vcpu, &li);
			n = vmm_intr_ioapic_save(in, snap, sizeof(snap));
			if (n < 0 || vmm_intr_ioapic_restore(in, snap, (size_t)n) != 0)
				abort();
			break;
		}
	}
	vmm_platform_unregister(plat, NULL);
	vmm_platform_destroy(plat);
	vmm_intr_destroy(in);
	return 0;
}
