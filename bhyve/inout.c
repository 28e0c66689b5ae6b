/*
 * inout.c - the x86 I/O port table: one entry per port (64K), each naming
 * the registration (handler, arg, flags) that owns it.
 *
 * Concurrency: registrations happen at init and, at run time, when a guest
 * moves or enables an I/O BAR (from any vCPU thread).  Lookups take the read
 * side of it_lock only long enough to copy the registration; the handler then
 * runs without the lock, so a handler may itself register or unregister
 * ports.  Hence a handler's arg must stay valid until inout_table_destroy()
 * even after unregister_inout() (devices live until bhyve_devices_fini()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "inout.h"

struct inout_table {
	pthread_rwlock_t	it_lock;
	bool			it_strict;	/* x86.strictio */
	/* Per port: 0 if unclaimed, else 1 + index into it_regs. */
	uint16_t		it_map[MAX_IOPORTS];
	struct inout_port	*it_regs;	/* .handler == NULL: free slot */
	size_t			it_nregs;	/* slots in use or freed */
	size_t			it_cap;		/* slots allocated */
	size_t			it_nfree;	/* freed slots below it_nregs */
};

struct inout_table *
inout_table_create(void)
{
	struct inout_table *t;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return (NULL);
	if (pthread_rwlock_init(&t->it_lock, NULL) != 0) {
		free(t);
		return (NULL);
	}
	return (t);
}

void
inout_table_destroy(struct inout_table *t)
{

	if (t == NULL)
		return;
	pthread_rwlock_destroy(&t->it_lock);
	free(t->it_regs);
	free(t);
}

void
inout_set_strict(struct inout_table *t, bool strict)
{

	t->it_strict = strict;
}

static bool
inout_range_valid(const struct inout_port *iop)
{

	return (iop->port >= 0 && iop->size > 0 &&
	    iop->port + iop->size <= MAX_IOPORTS &&
	    (iop->flags & IOPORT_F_INOUT) != 0 &&
	    (iop->flags & ~IOPORT_F_INOUT) == 0 && iop->handler != NULL);
}

int
register_inout(struct inout_table *t, const struct inout_port *iop)
{
	struct inout_port *nregs;
	size_t idx, ncap;
	int p, error = 0;

	if (!inout_range_valid(iop))
		return (-EINVAL);
	pthread_rwlock_wrlock(&t->it_lock);
	for (p = iop->port; p < iop->port + iop->size; p++) {
		if (t->it_map[p] != 0) {
			error = -EEXIST;
			goto out;
		}
	}
	/* Reuse a freed slot if there is one; otherwise append (amortised O(1)). */
	idx = t->it_nregs;
	if (t->it_nfree > 0) {
		for (idx = 0; idx < t->it_nregs; idx++)
			if (t->it_regs[idx].handler == NULL)
				break;
		t->it_nfree--;
	}
	if (idx == t->it_nregs) {
		/* it_map holds idx + 1 in 16 bits: at most 65535 live ranges */
		if (idx >= MAX_IOPORTS - 1) {
			error = -ENOSPC;
			goto out;
		}
		if (t->it_nregs == t->it_cap) {
			ncap = t->it_cap ? 2 * t->it_cap : 16;
			nregs = realloc(t->it_regs, ncap * sizeof(*nregs));
			if (nregs == NULL) {
				error = -ENOMEM;
				goto out;
			}
			t->it_regs = nregs;
			t->it_cap = ncap;
		}
		t->it_nregs++;
	}
	t->it_regs[idx] = *iop;
	for (p = iop->port; p < iop->port + iop->size; p++)
		t->it_map[p] = (uint16_t)(idx + 1);
out:
	pthread_rwlock_unlock(&t->it_lock);
	return (error);
}

int
unregister_inout(struct inout_table *t, const struct inout_port *iop)
{
	struct inout_port *r;
	uint16_t m;
	int p, error = 0;

	if (!inout_range_valid(iop))
		return (-EINVAL);
	pthread_rwlock_wrlock(&t->it_lock);
	m = t->it_map[iop->port];
	if (m == 0) {
		error = -ENOENT;
		goto out;
	}
	r = &t->it_regs[m - 1];
	if (r->port != iop->port || r->size != iop->size ||
	    r->handler != iop->handler || r->arg != iop->arg) {
		error = -ENOENT;
		goto out;
	}
	for (p = iop->port; p < iop->port + iop->size; p++)
		t->it_map[p] = 0;
	memset(r, 0, sizeof(*r));
	t->it_nfree++;
out:
	pthread_rwlock_unlock(&t->it_lock);
	return (error);
}

static uint32_t
inout_mask(int bytes)
{

	return (bytes == 4 ? 0xffffffffu : (1u << (8 * bytes)) - 1);
}

int
emulate_inout(struct bhyve_vm *bvm, struct vm_exit *vme)
{
	struct inout_table *t = bvm->inout;
	struct inout_port r = { 0 };
	uint32_t eax;
	uint16_t m;
	int bytes, in, port, flag, error;
	bool strict;

	bytes = vme->u.inout.bytes;
	in = vme->u.inout.in;
	port = vme->u.inout.port;
	if (bytes != 1 && bytes != 2 && bytes != 4) {
		fprintf(stderr, "bhyve: bad in/out width %d at port 0x%x\n",
		    bytes, port);
		return (-1);
	}

	pthread_rwlock_rdlock(&t->it_lock);
	m = t->it_map[port];
	if (m != 0)
		r = t->it_regs[m - 1];
	strict = t->it_strict;
	pthread_rwlock_unlock(&t->it_lock);

	flag = in ? IOPORT_F_IN : IOPORT_F_OUT;
	if (m == 0 || (r.flags & flag) == 0) {
		if (strict)
			return (-1);	/* the caller reports it, with the RIP */
		/* Nothing drives the bus: reads float high, writes vanish. */
		if (in)
			vme->u.inout.eax = inout_mask(bytes);
		return (0);
	}

	eax = in ? inout_mask(bytes) : vme->u.inout.eax & inout_mask(bytes);
	error = r.handler(bvm, in, port, bytes, &eax, r.arg);
	if (error != 0) {
		fprintf(stderr, "bhyve: %s: %s of port 0x%x failed\n", r.name,
		    in ? "in" : "out", port);
		return (-1);
	}
	if (in)
		vme->u.inout.eax = eax & inout_mask(bytes);
	return (0);
}
