/*
 * test_kvm_exit.c - the KVM backend's exit table (vmm/backend/kvm/kvm_exit.c)
 * on struct kvm_run pages built in ordinary memory: no /dev/kvm needed.
 * Each exit must come out as the software CPU builds it (vmm/backend/emu).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "backend/kvm/kvm.h"
#include "vmm_core.h"

/* A kvm_run page with room for string I/O data after the structure. */
static union {
	struct kvm_run	run;
	uint8_t		page[8192];
} pg;

static struct kvm_run *
fresh(uint32_t reason)
{
	memset(&pg, 0, sizeof(pg));
	pg.run.exit_reason = reason;
	return &pg.run;
}

static const struct kvm_exit_info ei = { .rip = 0x10020, .rflags = 0x202, .vcpuid = 3 };

TEST(io_out_one_element)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct vm_exit vme;

	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 2;
	run->io.port = 0x404;
	run->io.count = 1;
	run->io.data_offset = 4096;
	pg.page[4096] = 0x00;
	pg.page[4097] = 0x34;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_INOUT);
	CHECK_EQ(vme.rip, 0x10020);
	CHECK_EQ(vme.inst_length, 0);	/* KVM finishes it at the next KVM_RUN */
	CHECK_EQ(vme.u.inout.port, 0x404);
	CHECK_EQ(vme.u.inout.bytes, 2);
	CHECK_EQ(vme.u.inout.in, 0);
	CHECK_EQ(vme.u.inout.string, 0);
	CHECK_EQ(vme.u.inout.rep, 0);
	CHECK_EQ(vme.u.inout.eax, 0x3400);
}

TEST(io_string_element_by_element)
{
	struct kvm_run *run = fresh(KVM_EXIT_IO);
	struct kvm_exit_info e = ei;
	struct vm_exit vme;
	uint32_t i;

	/* REP OUTSB of "abc": one exit per byte, string and rep 0 as the emu does. */
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 1;
	run->io.port = 0x3f8;
	run->io.count = 3;
	run->io.data_offset = 4096;
	memcpy(pg.page + 4096, "abc", 3);
	for (i = 0; i < 3; i++) {
		e.io_index = i;
		kvm_exit_translate(run, &e, &vme);
		CHECK_EQ(vme.exitcode, VM_EXITCODE_INOUT);
		CHECK_EQ(vme.u.inout.string, 0);
		CHECK_EQ(vme.u.inout.eax, (uint32_t)"abc"[i]);
	}
	/* REP INSW: userland's answers land element by element. */
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.size = 2;
	kvm_io_store(run, 0, 0x1111);
	kvm_io_store(run, 2, 0x3333);
	kvm_io_store(run, 1, 0x2222);
	CHECK_EQ(pg.page[4096], 0x11);
	CHECK_EQ(pg.page[4098], 0x22);
	CHECK_EQ(pg.page[4101], 0x33);
	CHECK_EQ(kvm_io_value(run, 1), 0x2222);
	e.io_index = 1;
	kvm_exit_translate(run, &e, &vme);
	CHECK_EQ(vme.u.inout.in, 1);
	CHECK_EQ(vme.u.inout.eax, 0);	/* an IN carries no data out */
}

TEST(mmio)
{
	struct kvm_run *run = fresh(KVM_EXIT_MMIO);
	struct vm_exit vme;

	run->mmio.phys_addr = 0xe0000010;
	run->mmio.len = 4;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, "\x78\x56\x34\x12\xff\xff\xff\xff", 8);
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_INST_EMUL);
	CHECK_EQ(vme.u.mmio.gpa, 0xe0000010);
	CHECK_EQ(vme.u.mmio.size, 4);
	CHECK_EQ(vme.u.mmio.write, 1);
	CHECK_EQ(vme.u.mmio.data, 0x12345678);	/* only len bytes */
	CHECK_EQ(vme.inst_length, 0);
	run->mmio.is_write = 0;
	run->mmio.len = 8;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.u.mmio.write, 0);
	CHECK_EQ(vme.u.mmio.size, 8);
	CHECK_EQ(vme.u.mmio.data, 0);		/* reads carry nothing out */
}

TEST(hlt_retired)
{
	struct vm_exit vme;

	/* KVM reports HLT with RIP already past it; lhyve reports the HLT retired. */
	kvm_exit_translate(fresh(KVM_EXIT_HLT), &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_HLT);
	CHECK_EQ(vme.rip, 0x1001f);
	CHECK_EQ(vme.inst_length, 1);
	CHECK_EQ(vme.u.hlt.rflags, 0x202);
}

TEST(shutdown_and_system_events)
{
	struct kvm_run *run;
	struct vm_exit vme;

	kvm_exit_translate(fresh(KVM_EXIT_SHUTDOWN), &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_SUSPENDED);
	CHECK_EQ(vme.u.suspended.how, VM_SUSPEND_TRIPLEFAULT);
	CHECK_EQ(vme.u.suspended.source, 3);

	run = fresh(KVM_EXIT_SYSTEM_EVENT);
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_SUSPENDED);
	CHECK_EQ(vme.u.suspended.how, VM_SUSPEND_RESET);
	run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.u.suspended.how, VM_SUSPEND_POWEROFF);
	run->system_event.type = KVM_SYSTEM_EVENT_CRASH;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
	CHECK(strstr(vme.u.backend_error.msg, "crash") != NULL);
}

TEST(msr)
{
	struct kvm_run *run = fresh(KVM_EXIT_X86_RDMSR);
	struct vm_exit vme;

	run->msr.index = 0x12345;
	run->msr.reason = KVM_MSR_EXIT_REASON_UNKNOWN;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_RDMSR);
	CHECK_EQ(vme.u.msr.code, 0x12345);
	CHECK_EQ(vme.inst_length, 0);
	CHECK_EQ(vme.rip, 0x10020);
	run = fresh(KVM_EXIT_X86_WRMSR);
	run->msr.index = 0x4b564d01;
	run->msr.data = 0x123456789abcdefULL;
	run->msr.reason = KVM_MSR_EXIT_REASON_FILTER;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_WRMSR);
	CHECK_EQ(vme.u.msr.code, 0x4b564d01);
	CHECK_EQ(vme.u.msr.wval, 0x123456789abcdefULL);
}

TEST(kick_and_single_step)
{
	struct kvm_exit_info e = ei;
	struct vm_exit vme;

	kvm_exit_translate(fresh(KVM_EXIT_INTR), &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BOGUS);
	CHECK_EQ(vme.rip, 0x10020);
	e.mtrap = true;
	kvm_exit_translate(fresh(KVM_EXIT_DEBUG), &e, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_MTRAP);
	CHECK_EQ(vme.inst_length, 0);
	/* A debug exit nobody asked for is a backend error, not a guest event. */
	kvm_exit_translate(fresh(KVM_EXIT_DEBUG), &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
}

TEST(failures_are_backend_errors)
{
	struct kvm_run *run;
	struct vm_exit vme;

	run = fresh(KVM_EXIT_INTERNAL_ERROR);
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
	CHECK_EQ(vme.u.backend_error.error, EIO);
	CHECK(strstr(vme.u.backend_error.msg, "KVM_EXIT_INTERNAL_ERROR: instruction emulation "
	    "failed (suberror 1)") != NULL);

	run = fresh(KVM_EXIT_FAIL_ENTRY);
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	run->fail_entry.cpu = 1;
	kvm_exit_translate(run, &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
	CHECK(strstr(vme.u.backend_error.msg, "reason 0x21 on host CPU 1") != NULL);

	kvm_exit_translate(fresh(KVM_EXIT_IRQ_WINDOW_OPEN), &ei, &vme);
	CHECK_EQ(vme.exitcode, VM_EXITCODE_BACKEND_ERROR);
	CHECK(strstr(vme.u.backend_error.msg, "KVM_EXIT_IRQ_WINDOW_OPEN (reason 7)") != NULL);
	kvm_exit_translate(fresh(1000), &ei, &vme);
	CHECK(strstr(vme.u.backend_error.msg, "unexpected KVM exit ? (reason 1000)") != NULL);
}

TEST(required_caps_are_named)
{
	int i, n = 0;

	/* Every capability probe() checks has a name for its error message. */
	for (i = 0; kvm_required_caps[i].name != NULL; i++) {
		CHECK(strncmp(kvm_required_caps[i].name, "KVM_CAP_", 8) == 0);
		n++;
	}
	CHECK(n >= 10);
}

TEST(backend_choice_without_dev_kvm)
{
	const struct vmm_backend_ops *ops = NULL;
	char note[192];

	/* libvmm's choice (vmm.c): auto falls back to the software CPU and says why. */
	setenv("LHYVE_KVM_DEV", "/nonexistent/kvm", 1);
	REQUIRE(vmm_backend_lookup("auto", &ops, note, sizeof(note)) == 0);
	CHECK(ops == &vmm_backend_emu);
	CHECK(strstr(note, "auto: /nonexistent/kvm does not exist") != NULL);
	CHECK_EQ(vmm_backend_lookup("kvm", &ops, note, sizeof(note)), -ENOENT);
	CHECK(strstr(vmm_store_strerror(), "/nonexistent/kvm does not exist") != NULL);
	setenv("LHYVE_KVM_DEV", "/dev/null", 1);
	CHECK_EQ(vmm_backend_lookup("kvm", &ops, note, sizeof(note)), -ENODEV);
	CHECK(strstr(vmm_store_strerror(), "/dev/null is not a KVM device") != NULL);
	REQUIRE(vmm_backend_lookup("emu", &ops, note, sizeof(note)) == 0);
	CHECK(ops == &vmm_backend_emu);
	CHECK_EQ(note[0], 0);
	CHECK_EQ(vmm_backend_lookup("qemu", &ops, note, sizeof(note)), -EINVAL);
	unsetenv("LHYVE_KVM_DEV");
}
