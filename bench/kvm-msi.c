/*
 * kvm-msi - what one MSI costs the sender on KVM, two ways (docs/kvm.md,
 * "irqfd"): KVM_SIGNAL_MSI, lhyve's way (api.rst 4.71), against a write()
 * to an eventfd bound to the same MSI through a GSI route and KVM_IRQFD
 * (api.rst 4.75, 4.52).  The VM is set up as lhyve's: split irqchip (LAPIC
 * in the kernel), one vCPU, which does not run, so each MSI is delivered
 * to its LAPIC's IRR (the same vector, coalesced there) and nothing else
 * runs.  Prints "BENCH msi signal_msi NS" and "BENCH msi irqfd NS", the
 * nanoseconds per MSI, best of 3 runs of N.  Run by bench/kvm-l1.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define N		200000
#define MSI_ADDR	0xfee00000u	/* APIC ID 0, physical (Intel SDM Vol. 3A 11.11.1) */
#define MSI_DATA	0x0041u		/* vector 41H, fixed, edge */
#define GSI		24		/* the first after the IOAPIC's 24 pins */

static void
die(const char *what)
{
	fprintf(stderr, "kvm-msi: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(void)
{
	struct kvm_enable_cap cap;
	struct kvm_msi msi;
	struct {			/* struct kvm_irq_routing with one entry */
		uint32_t			nr, flags;
		struct kvm_irq_routing_entry	e[1];
	} rt;
	struct kvm_irqfd irqfd;
	double t0, best_sig = 1e30, best_fd = 1e30;
	uint64_t one = 1;
	int sys, vm, vcpu, efd, run, i;

	if ((sys = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		die("/dev/kvm");
	if ((vm = ioctl(sys, KVM_CREATE_VM, 0UL)) < 0)
		die("KVM_CREATE_VM");
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_SPLIT_IRQCHIP;
	cap.args[0] = 24;
	if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0)
		die("KVM_CAP_SPLIT_IRQCHIP");
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL)) < 0)
		die("KVM_CREATE_VCPU");

	memset(&msi, 0, sizeof(msi));
	msi.address_lo = MSI_ADDR;
	msi.data = MSI_DATA;
	memset(&rt, 0, sizeof(rt));
	rt.nr = 1;
	rt.e[0].gsi = GSI;
	rt.e[0].type = KVM_IRQ_ROUTING_MSI;
	rt.e[0].u.msi.address_lo = MSI_ADDR;
	rt.e[0].u.msi.data = MSI_DATA;
	if (ioctl(vm, KVM_SET_GSI_ROUTING, &rt) < 0)
		die("KVM_SET_GSI_ROUTING");
	if ((efd = eventfd(0, EFD_CLOEXEC)) < 0)
		die("eventfd");
	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = (uint32_t)efd;
	irqfd.gsi = GSI;
	if (ioctl(vm, KVM_IRQFD, &irqfd) < 0)
		die("KVM_IRQFD");

	for (run = 0; run < 3; run++) {
		t0 = now_ns();
		for (i = 0; i < N; i++)
			if (ioctl(vm, KVM_SIGNAL_MSI, &msi) < 0)
				die("KVM_SIGNAL_MSI");
		if ((now_ns() - t0) / N < best_sig)
			best_sig = (now_ns() - t0) / N;
		t0 = now_ns();
		for (i = 0; i < N; i++)
			if (write(efd, &one, sizeof(one)) != sizeof(one))
				die("write(eventfd)");
		if ((now_ns() - t0) / N < best_fd)
			best_fd = (now_ns() - t0) / N;
	}
	printf("BENCH msi signal_msi %.0f\n", best_sig);
	printf("BENCH msi irqfd %.0f\n", best_fd);
	close(efd);
	close(vcpu);
	close(vm);
	close(sys);
	return 0;
}
