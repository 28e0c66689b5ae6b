/*
 * vmm_ctl.h - the control socket: how other processes reach a running VM.
 *
 * While bhyve runs an instance it owns NAME/lock, so bhyvectl cannot load
 * the instance itself; it sends requests over NAME/ctl (SOCK_SEQPACKET,
 * one request and one reply per message) to the libvmm inside that bhyve,
 * which performs them exactly as local calls would.
 */
#ifndef LHYVE_VMM_CTL_H
#define LHYVE_VMM_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm.h"
#include "vmm_store.h"

#define VMM_CTL_VERSION	0x4c430001u	/* "LC" v1 */
#define VMM_CTL_TIMEOUT_S	10	/* a client gives up on a request after this */

enum vmm_ctl_op {
	VMM_CTL_INFO,
	VMM_CTL_GET_REG,
	VMM_CTL_SET_REG,
	VMM_CTL_GET_DESC,
	VMM_CTL_SET_DESC,
	VMM_CTL_GET_STATS,
	VMM_CTL_SUSPEND,
	VMM_CTL_INJECT_EXC,
	VMM_CTL_INJECT_NMI,
	VMM_CTL_GET_CAP,
	VMM_CTL_SET_CAP,
	VMM_CTL_VCPU_RESET,
	VMM_CTL_INTR,		/* reg: enum vmm_ctl_intr */
	VMM_CTL_OP_COUNT
};

/* VMM_CTL_INTR requests: arg, arg2 (int), val and desc.base carry the operands. */
enum vmm_ctl_intr {
	VMM_CTL_INTR_LAPIC_IRQ,		/* vcpu, arg vector */
	VMM_CTL_INTR_LOCAL_IRQ,		/* vcpu, arg lvt */
	VMM_CTL_INTR_MSI,		/* val addr, desc.base msg */
	VMM_CTL_INTR_IOAPIC,		/* arg pin, arg2 op */
	VMM_CTL_INTR_ISA,		/* arg atpic irq, val ioapic irq (int), arg2 op */
	VMM_CTL_INTR_PINCOUNT,		/* -> val */
	VMM_CTL_INTR_GET_X2APIC,	/* vcpu -> val */
	VMM_CTL_INTR_SET_X2APIC,	/* vcpu, arg state */
	VMM_CTL_INTR_LAPIC_INFO,	/* vcpu -> stats[] holds a struct vmm_lapic_info */
	VMM_CTL_INTR_RTC_READ,		/* arg offset -> val */
	VMM_CTL_INTR_RTC_WRITE,		/* arg offset, arg2 value */
	VMM_CTL_INTR_RTC_SETTIME,	/* val secs (int64) */
	VMM_CTL_INTR_RTC_GETTIME,	/* -> val secs (int64) */
};

struct vmm_ctl_req {
	uint32_t	version;
	uint32_t	op;
	int32_t		vcpu;
	int32_t		reg;		/* register, capability, vector or suspend type */
	int32_t		arg;		/* errcode_valid, cap value */
	uint32_t	arg2;		/* errcode */
	uint64_t	val;
	struct seg_desc	desc;
};

struct vmm_ctl_reply {
	int32_t		error;		/* 0 or a positive errno */
	int32_t		ncpus;
	uint64_t	val;
	struct seg_desc	desc;
	int64_t		pid;
	uint64_t	lowmem, highmem;
	int32_t		memflags;
	char		backend[16];
	char		msg[160];	/* reason when error != 0 */
	uint64_t	stats[VMST_COUNT];
};

/* Server side: one per opened instance, inside struct vm (vmm.c). */
struct vmm_ctl_server {
	bool		cs_running;
	pthread_t	cs_thread;
	int		cs_fd;		/* listening socket */
	int		cs_wake[2];	/* pipe: written once to stop the thread */
};
struct vm;
struct vmm_ctl_server *vmm_ctl_server(struct vm *vm);

/* Client side: connect to NAME/ctl (fd or -errno), and make one call. */
int	vmm_ctl_connect(const char *name);
int	vmm_ctl_call(int fd, const struct vmm_ctl_req *req, struct vmm_ctl_reply *rep);

#endif /* LHYVE_VMM_CTL_H */
