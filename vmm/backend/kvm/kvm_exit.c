/*
 * kvm_exit.c - one table from KVM's exits (struct kvm_run, api.rst 5) to
 * lhyve's struct vm_exit, filled exactly as the software CPU fills it, so
 * that libvmm and bhyve cannot tell the backends apart:
 *
 *   KVM_EXIT_IO            INOUT, once per element of a string I/O (string
 *                          and rep 0, as vm_inout says), inst_length 0
 *   KVM_EXIT_MMIO          INST_EMUL (gpa, size, write, data for writes)
 *   KVM_EXIT_HLT           HLT, retired (KVM has moved RIP past it)
 *   KVM_EXIT_SHUTDOWN      SUSPENDED, triple fault (SDM Vol. 3A 6.15, #DF)
 *   KVM_EXIT_SYSTEM_EVENT  SUSPENDED power-off or reset
 *   KVM_EXIT_X86_RDMSR/WRMSR  RDMSR/WRMSR (MSRs KVM leaves to userspace)
 *   KVM_EXIT_INTR          BOGUS (a kick)
 *   KVM_EXIT_DEBUG         MTRAP while single-stepping for VM_CAP_MTRAP_EXIT
 *   KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR and anything else
 *                          BACKEND_ERROR; kvm_vcpu.c appends the registers
 *
 * IO, MMIO and MSR exits are completed by KVM at the next KVM_RUN from
 * what userland left in kvm_run (kvm_vcpu.c): they carry inst_length 0 and
 * the RIP of the exiting instruction, and libvmm resumes at that RIP.
 */
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm.h"

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_IO] = "KVM_EXIT_IO",
	[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
	[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
	[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
	[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "KVM_EXIT_IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "KVM_EXIT_HYPERV",
	[KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "KVM_EXIT_DIRTY_RING_FULL",
	[KVM_EXIT_X86_BUS_LOCK] = "KVM_EXIT_X86_BUS_LOCK",
};

const char *
kvm_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]))
		return exit_names[reason];
	return NULL;
}

/* api.rst 5, KVM_EXIT_IO: count elements of size bytes at data_offset. */
uint32_t
kvm_io_value(const struct kvm_run *run, uint32_t index)
{
	const uint8_t *p = (const uint8_t *)run + run->io.data_offset +
	    (size_t)index * run->io.size;
	uint32_t v = 0;

	memcpy(&v, p, run->io.size <= 4 ? run->io.size : 4);
	return v;
}

void
kvm_io_store(struct kvm_run *run, uint32_t index, uint32_t value)
{
	uint8_t *p = (uint8_t *)run + run->io.data_offset + (size_t)index * run->io.size;

	memcpy(p, &value, run->io.size <= 4 ? run->io.size : 4);
}

static void __attribute__((format(printf, 3, 4)))
backend_error(struct vm_exit *vme, int error, const char *fmt, ...)
{
	va_list ap;

	vme->exitcode = VM_EXITCODE_BACKEND_ERROR;
	vme->u.backend_error.error = error;
	va_start(ap, fmt);
	vsnprintf(vme->u.backend_error.msg, sizeof(vme->u.backend_error.msg), fmt, ap);
	va_end(ap);
}

static const char *
internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit";
	default: return "unknown suberror";
	}
}

void
kvm_exit_translate(const struct kvm_run *run, const struct kvm_exit_info *ei,
    struct vm_exit *vme)
{
	const char *name;

	memset(vme, 0, sizeof(*vme));
	vme->rip = ei->rip;
	vme->inst_length = 0;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vme->exitcode = VM_EXITCODE_INOUT;
		vme->u.inout.bytes = run->io.size;
		vme->u.inout.in = run->io.direction == KVM_EXIT_IO_IN;
		vme->u.inout.port = run->io.port;
		vme->u.inout.eax = vme->u.inout.in ? 0 : kvm_io_value(run, ei->io_index);
		break;
	case KVM_EXIT_MMIO: {
		uint64_t v = 0;

		vme->exitcode = VM_EXITCODE_INST_EMUL;
		vme->u.mmio.gpa = run->mmio.phys_addr;
		vme->u.mmio.size = (uint8_t)run->mmio.len;
		vme->u.mmio.write = run->mmio.is_write;
		if (run->mmio.is_write)
			memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
		vme->u.mmio.data = v;
		break;
	}
	case KVM_EXIT_HLT:
		/* KVM skipped the one-byte HLT (F4) before exiting (api.rst 5). */
		vme->exitcode = VM_EXITCODE_HLT;
		vme->rip = ei->rip - 1;
		vme->inst_length = 1;
		vme->u.hlt.rflags = ei->rflags;
		break;
	case KVM_EXIT_SHUTDOWN:
		/* SVM's and VMX's shutdown exit: a triple fault (api.rst 5). */
		vme->exitcode = VM_EXITCODE_SUSPENDED;
		vme->u.suspended.how = VM_SUSPEND_TRIPLEFAULT;
		vme->u.suspended.source = ei->vcpuid;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ||
		    run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vme->exitcode = VM_EXITCODE_SUSPENDED;
			vme->u.suspended.how = run->system_event.type == KVM_SYSTEM_EVENT_RESET ?
			    VM_SUSPEND_RESET : VM_SUSPEND_POWEROFF;
			vme->u.suspended.source = ei->vcpuid;
		} else {
			backend_error(vme, EIO, "KVM_EXIT_SYSTEM_EVENT of type %u%s",
			    run->system_event.type,
			    run->system_event.type == KVM_SYSTEM_EVENT_CRASH ? " (guest crash)" : "");
		}
		break;
	case KVM_EXIT_X86_RDMSR:
		vme->exitcode = VM_EXITCODE_RDMSR;
		vme->u.msr.code = run->msr.index;
		break;
	case KVM_EXIT_X86_WRMSR:
		vme->exitcode = VM_EXITCODE_WRMSR;
		vme->u.msr.code = run->msr.index;
		vme->u.msr.wval = run->msr.data;
		break;
	case KVM_EXIT_INTR:
		vme->exitcode = VM_EXITCODE_BOGUS;
		break;
	case KVM_EXIT_DEBUG:
		if (ei->mtrap) {
			vme->exitcode = VM_EXITCODE_MTRAP;
			break;
		}
		backend_error(vme, EIO, "KVM_EXIT_DEBUG: exception %u at %#llx with no debugger",
		    run->debug.arch.exception, (unsigned long long)run->debug.arch.pc);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		backend_error(vme, EIO, "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason %#llx "
		    "on host CPU %u",
		    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		    run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		backend_error(vme, EIO, "KVM_EXIT_INTERNAL_ERROR: %s (suberror %u)",
		    internal_error_name(run->internal.suberror), run->internal.suberror);
		break;
	default:
		name = kvm_exit_name(run->exit_reason);
		backend_error(vme, EIO, "unexpected KVM exit %s (reason %u)",
		    name != NULL ? name : "?", run->exit_reason);
		break;
	}
}
