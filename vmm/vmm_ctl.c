/*
 * vmm_ctl.c - serving NAME/ctl from the process that runs the instance.
 *
 * One server thread serves every connection and answers requests one at a time;
 * each request becomes the same vmm_*() call a local owner would make, so it
 * pulls the vCPU out of the backend like any other accessor.  Only the user
 * who owns the store (or root) may connect (SO_PEERCRED).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm_core.h"
#include "vmm_ctl.h"
#include "vmm_intr.h"

static int
ctl_sockaddr(const char *name, struct sockaddr_un *sun)
{
	char path[PATH_MAX];
	int error;

	if ((error = vmm_store_path(path, sizeof(path), name, "ctl")) != 0)
		return error;
	if (strlen(path) >= sizeof(sun->sun_path))
		return vmm_store_fail(ENAMETOOLONG, "control socket path too long: %s", path);
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

static int
ctl_intr(struct vm *vm, const struct vmm_ctl_req *req, struct vmm_ctl_reply *rep)
{
	struct vmm_lapic_info li;
	int64_t secs = 0;
	uint8_t b = 0;
	int error, ival = 0;

	_Static_assert(sizeof(li) <= sizeof(rep->stats), "LAPIC info fits a reply");
	switch (req->reg) {
	case VMM_CTL_INTR_LAPIC_IRQ:
		return vmm_lapic_irq(vm, req->vcpu, req->arg);
	case VMM_CTL_INTR_LOCAL_IRQ:
		return vmm_lapic_local_irq(vm, req->vcpu, req->arg);
	case VMM_CTL_INTR_MSI:
		return vmm_lapic_msi(vm, req->val, req->desc.base);
	case VMM_CTL_INTR_IOAPIC:
		return vmm_ioapic_irq(vm, req->arg, (int)req->arg2);
	case VMM_CTL_INTR_ISA:
		return vmm_isa_irq(vm, req->arg, (int)(int64_t)req->val, (int)req->arg2);
	case VMM_CTL_INTR_PINCOUNT:
		rep->val = (uint64_t)vmm_ioapic_pincount(vm);
		return 0;
	case VMM_CTL_INTR_GET_X2APIC:
		error = vmm_get_x2apic_state(vm, req->vcpu, &ival);
		rep->val = (uint64_t)ival;
		return error;
	case VMM_CTL_INTR_SET_X2APIC:
		return vmm_set_x2apic_state(vm, req->vcpu, req->arg);
	case VMM_CTL_INTR_LAPIC_INFO:
		if ((error = vmm_lapic_info(vm, req->vcpu, &li)) == 0)
			memcpy(rep->stats, &li, sizeof(li));
		return error;
	case VMM_CTL_INTR_RTC_READ:
		error = vmm_rtc_read(vm, req->arg, &b);
		rep->val = b;
		return error;
	case VMM_CTL_INTR_RTC_WRITE:
		return vmm_rtc_write(vm, req->arg, (uint8_t)req->arg2);
	case VMM_CTL_INTR_RTC_SETTIME:
		return vmm_rtc_settime(vm, (int64_t)req->val);
	case VMM_CTL_INTR_RTC_GETTIME:
		error = vmm_rtc_gettime(vm, &secs);
		rep->val = (uint64_t)secs;
		return error;
	default:
		return -EOPNOTSUPP;
	}
}

static void
ctl_handle(struct vm *vm, const struct vmm_ctl_req *req, struct vmm_ctl_reply *rep)
{
	uint64_t lowmem, highmem;
	int error = 0, ival = 0;

	memset(rep, 0, sizeof(*rep));
	vmm_store_clear_error();
	if (req->version != VMM_CTL_VERSION) {
		rep->error = EPROTO;
		snprintf(rep->msg, sizeof(rep->msg), "control protocol version mismatch");
		return;
	}
	switch (req->op) {
	case VMM_CTL_INFO:
		vmm_mem_layout(vm, &lowmem, &highmem);
		rep->pid = (int64_t)getpid();
		rep->lowmem = lowmem;
		rep->highmem = highmem;
		rep->ncpus = vmm_get_ncpus(vm);
		rep->memflags = vmm_get_memflags(vm);
		snprintf(rep->backend, sizeof(rep->backend), "%s", vmm_backend_name(vm));
		break;
	case VMM_CTL_GET_REG:
		error = vmm_get_reg(vm, req->vcpu, req->reg, &rep->val);
		break;
	case VMM_CTL_SET_REG:
		error = vmm_set_reg(vm, req->vcpu, req->reg, req->val);
		break;
	case VMM_CTL_GET_DESC:
		error = vmm_get_desc(vm, req->vcpu, req->reg, &rep->desc);
		break;
	case VMM_CTL_SET_DESC:
		error = vmm_set_desc(vm, req->vcpu, req->reg, &req->desc);
		break;
	case VMM_CTL_GET_STATS:
		error = vmm_get_stats(vm, req->vcpu, rep->stats);
		break;
	case VMM_CTL_SUSPEND:
		error = vmm_suspend(vm, (enum vm_suspend_how)req->reg);
		break;
	case VMM_CTL_INJECT_EXC:
		error = vmm_inject_exception(vm, req->vcpu, req->reg, req->arg, req->arg2, 0);
		break;
	case VMM_CTL_INJECT_NMI:
		error = vmm_inject_nmi(vm, req->vcpu);
		break;
	case VMM_CTL_GET_CAP:
		error = vmm_get_cap(vm, req->vcpu, req->reg, &ival);
		rep->val = (uint64_t)ival;
		break;
	case VMM_CTL_SET_CAP:
		error = vmm_set_cap(vm, req->vcpu, req->reg, req->arg);
		break;
	case VMM_CTL_VCPU_RESET:
		error = vmm_vcpu_reset(vm, req->vcpu);
		break;
	case VMM_CTL_INTR:
		error = ctl_intr(vm, req, rep);
		break;
	default:
		error = -EOPNOTSUPP;
		break;
	}
	if (error != 0) {
		rep->error = -error;
		snprintf(rep->msg, sizeof(rep->msg), "%s", vmm_store_strerror()[0] ?
		    vmm_store_strerror() : strerror(-error));
	}
}

static bool
ctl_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/*
 * Several clients at once: one poll() over the listening socket and every
 * connection, one request answered at a time.  A request never waits for
 * a client: replies are sent without blocking (a client that does not
 * read them is dropped), and a connection idle for CTL_IDLE_MS is closed,
 * so neither an idle nor a stuck client holds up another one or a vCPU.
 */
#define CTL_MAX_CLIENTS	32
#define CTL_IDLE_MS	(60 * 1000)

static int64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
ctl_thread_main(void *arg)
{
	struct vm *vm = arg;
	struct vmm_ctl_server *cs = vmm_ctl_server(vm);
	struct vmm_ctl_req req;
	struct vmm_ctl_reply rep;
	struct pollfd pfd[2 + CTL_MAX_CLIENTS];
	int cfd[CTL_MAX_CLIENTS];
	int64_t last[CTL_MAX_CLIENTS], now;
	int n = 0, i, fd;
	ssize_t got;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = cs->cs_wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = cs->cs_fd, .events = POLLIN };
		for (i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){ .fd = cfd[i], .events = POLLIN };
		if (poll(pfd, (nfds_t)(2 + n), 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		now = ctl_now_ms();
		for (i = 0; i < n; i++) {
			bool drop = false;

			if (pfd[2 + i].revents & POLLIN) {
				got = recv(cfd[i], &req, sizeof(req), MSG_DONTWAIT);
				if (got == (ssize_t)sizeof(req)) {
					ctl_handle(vm, &req, &rep);
					drop = send(cfd[i], &rep, sizeof(rep),
					    MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(rep);
					last[i] = now;
				} else if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
					/* spurious wakeup */
				} else {
					drop = true;	/* hung up, or not one request */
				}
			} else if (pfd[2 + i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				drop = true;
			} else if (now - last[i] > CTL_IDLE_MS) {
				drop = true;
			}
			if (drop) {
				close(cfd[i]);
				cfd[i] = cfd[n - 1];
				last[i] = last[n - 1];
				pfd[2 + i] = pfd[2 + n - 1];
				n--;
				i--;
			}
		}
		if (pfd[1].revents & POLLIN) {
			fd = accept4(cs->cs_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (!ctl_peer_allowed(fd) || n == CTL_MAX_CLIENTS) {
				close(fd);
				continue;
			}
			cfd[n] = fd;
			last[n] = now;
			n++;
		}
	}
	for (i = 0; i < n; i++)
		close(cfd[i]);
	return NULL;
}

int
vmm_ctl_start(struct vm *vm)
{
	struct vmm_ctl_server *cs = vmm_ctl_server(vm);
	struct sockaddr_un sun;
	int fd, error;

	if (cs->cs_running)
		return 0;
	if ((error = ctl_sockaddr(vmm_name(vm), &sun)) != 0)
		return error;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vmm_store_fail(errno, "cannot create control socket: %s", strerror(errno));
	/* We hold NAME/lock, so a leftover socket is from a process that died. */
	unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 4) != 0) {
		error = errno;
		close(fd);
		return vmm_store_fail(error, "cannot serve %s: %s", sun.sun_path, strerror(error));
	}
	if (pipe2(cs->cs_wake, O_CLOEXEC) != 0) {
		error = errno;
		close(fd);
		unlink(sun.sun_path);
		return vmm_store_fail(error, "pipe: %s", strerror(error));
	}
	cs->cs_fd = fd;
	if ((error = pthread_create(&cs->cs_thread, NULL, ctl_thread_main, vm)) != 0) {
		close(fd);
		close(cs->cs_wake[0]);
		close(cs->cs_wake[1]);
		unlink(sun.sun_path);
		return vmm_store_fail(error, "cannot start control thread");
	}
	cs->cs_running = true;
	return 0;
}

void
vmm_ctl_stop(struct vm *vm)
{
	struct vmm_ctl_server *cs = vmm_ctl_server(vm);
	struct sockaddr_un sun;
	char c = 0;

	if (!cs->cs_running)
		return;
	if (ctl_sockaddr(vmm_name(vm), &sun) == 0)
		unlink(sun.sun_path);
	if (write(cs->cs_wake[1], &c, 1) != 1) {
		/* The pipe cannot be full: it is written once. */
	}
	pthread_join(cs->cs_thread, NULL);
	close(cs->cs_fd);
	close(cs->cs_wake[0]);
	close(cs->cs_wake[1]);
	cs->cs_fd = -1;
	cs->cs_running = false;
}

int
vmm_ctl_connect(const char *name)
{
	struct sockaddr_un sun;
	int fd, error;

	if ((error = ctl_sockaddr(name, &sun)) != 0)
		return error;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A request that cannot finish in time is an error, never a hang. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ VMM_CTL_TIMEOUT_S, 0 },
	    sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ VMM_CTL_TIMEOUT_S, 0 },
	    sizeof(struct timeval));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		error = errno;
		close(fd);
		return -error;
	}
	return fd;
}

int
vmm_ctl_call(int fd, const struct vmm_ctl_req *req, struct vmm_ctl_reply *rep)
{
	ssize_t n;

	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
		return vmm_store_fail(EPIPE, "the VM's bhyve went away");
	n = recv(fd, rep, sizeof(*rep), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return vmm_store_fail(ETIMEDOUT, "the VM's bhyve did not answer within %d s",
		    VMM_CTL_TIMEOUT_S);
	if (n != (ssize_t)sizeof(*rep))
		return vmm_store_fail(EPIPE, "the VM's bhyve went away");
	if (rep->error != 0)
		return vmm_store_fail(rep->error, "%s", rep->msg[0] ? rep->msg : strerror(rep->error));
	return 0;
}
