/*
 * vmm_platform.h - the PC's other interrupt and timer devices of a VM,
 * wired as FreeBSD's vmm.ko wires them (vatpic.c, vatpit.c, vhpet.c,
 * vrtc.c, vpmtmr.c): the 8259 pair and ELCR, the 8254 and port 0x61, the
 * HPET, the RTC/CMOS and the ACPI PM timer.  vmm_run serves their ports
 * and MMIO here without an exit to userland (docs/platform.md).
 *
 * Locking: one lock per model, around every call into it.  Their sinks
 * raise interrupts through vmm_intr's ISA/IOAPIC path with the model's
 * lock held; order: PIT, HPET or RTC lock, then the 8259's, then vmm_intr's
 * (iolk, LAPIC locks, ext.lk).  The 8259's lock is taken by vmm_intr's ISA
 * path and ExtINT acknowledge with no vmm_intr lock held.  tmr.mtx (the
 * timer thread's deadlines) is a leaf.  No vCPU lock is taken here.
 */
#ifndef LHYVE_VMM_PLATFORM_H
#define LHYVE_VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm.h"
#include "vmm_intr.h"

struct vmm_platform;
struct vm;

/* @utc: the RTC shows UTC (bhyve -u), else the host's local time. */
int	vmm_platform_create(struct vmm_platform **pp, struct vmm_intr *in, bool utc);
void	vmm_platform_destroy(struct vmm_platform *p);
/* The devices to their power-on state (vm_reinit); time and CMOS stay. */
void	vmm_platform_reset(struct vmm_platform *p);
/* Their snapshots as DEVICE sections "vatpic", "vatpit", "vhpet", "vrtc", "vpmtmr". */
int	vmm_platform_register(struct vmm_platform *p, struct vm *vm);
void	vmm_platform_unregister(struct vmm_platform *p, struct vm *vm);

/*
 * Guest accesses on a vCPU's thread: 1 served (an IN's data in
 * vme->u.inout.eax, a read's in vme->u.mmio.data), 0 not these devices'.
 */
int	vmm_platform_inout(struct vmm_platform *p, struct vm_exit *vme);
int	vmm_platform_mmio(struct vmm_platform *p, struct vm_exit *vme);

/* CMOS memory size fields (bhyve's rtc_init). */
void	vmm_platform_set_memsize(struct vmm_platform *p, uint64_t lowmem, uint64_t highmem);

/* libvmmapi's vm_rtc_*: 0 or -EINVAL. */
int	vmm_platform_rtc_read(struct vmm_platform *p, int offset, uint8_t *val);
int	vmm_platform_rtc_write(struct vmm_platform *p, int offset, uint8_t val);
int	vmm_platform_rtc_settime(struct vmm_platform *p, int64_t secs);
int	vmm_platform_rtc_gettime(struct vmm_platform *p, int64_t *secs);

#endif /* LHYVE_VMM_PLATFORM_H */
