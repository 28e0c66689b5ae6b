/*
 * kvm_eventfd.c - guest writes that signal an eventfd inside KVM
 * (api.rst 4.59 KVM_IOEVENTFD), so a device's doorbell (a virtio queue
 * notify) wakes the device's thread with no exit to userland
 * (docs/kvm.md, "ioeventfd").
 *
 * KVM matches a write on the address, the length (exactly) and, with
 * DATAMATCH, the value; the vCPU completes the write in the kernel and runs
 * on.  A write that matches nothing exits as KVM_EXIT_IO or KVM_EXIT_MMIO
 * as before.  Registrations go with the VM: closing the VM's fd drops them.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

int
kvm_vm_ioeventfd(void *vmcookie, uint64_t addr, int len, uint64_t data, int fd, int flags)
{
	struct kvm_vm *kvm = vmcookie;
	struct kvm_ioeventfd io;

	/* api.rst 4.59: len 1, 2, 4 or 8 (0, "any length", is not used here). */
	if ((len != 1 && len != 2 && len != 4 && len != 8) || fd < 0 ||
	    (flags & ~(VMM_IOEVENTFD_PIO | VMM_IOEVENTFD_DATAMATCH | VMM_IOEVENTFD_DEASSIGN)))
		return -EINVAL;
	if ((flags & VMM_IOEVENTFD_PIO) && addr + (uint64_t)len > 0x10000)
		return -EINVAL;
	if (addr + (uint64_t)len < addr)
		return -EINVAL;
	memset(&io, 0, sizeof(io));
	io.addr = addr;
	io.len = (uint32_t)len;
	io.fd = fd;
	if (flags & VMM_IOEVENTFD_DATAMATCH) {
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io.datamatch = data;
	}
	if (flags & VMM_IOEVENTFD_PIO)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (flags & VMM_IOEVENTFD_DEASSIGN)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(kvm->vmfd, KVM_IOEVENTFD, &io) < 0)
		/* ENOTTY: a kernel without KVM_CAP_IOEVENTFD. */
		return errno == ENOTTY ? -ENOTSUP : -errno;
	return 0;
}
