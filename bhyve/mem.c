/*
 * mem.c - guest-physical MMIO ranges: a sorted array of non-overlapping
 * [base, base + size) ranges searched by binary search.
 *
 * Concurrency: ranges are set up before vCPUs start; at run time a guest may
 * move a BAR from any vCPU thread.  Lookups take mr_lock for reading.  For a
 * mutable range the read lock is held across the handler, so once
 * unregister_mem() (write lock) returns no handler of that range is still
 * running.  MEM_F_IMMUTABLE ranges drop the lock before the handler, which
 * may then change the ranges itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "mem.h"

struct mem_ranges {
	pthread_rwlock_t	mr_lock;
	struct mem_range	*mr_ent;	/* sorted by base */
	size_t			mr_num;
	size_t			mr_cap;
};

struct mem_ranges *
mem_ranges_create(void)
{
	struct mem_ranges *mr;

	mr = calloc(1, sizeof(*mr));
	if (mr == NULL)
		return (NULL);
	if (pthread_rwlock_init(&mr->mr_lock, NULL) != 0) {
		free(mr);
		return (NULL);
	}
	return (mr);
}

void
mem_ranges_destroy(struct mem_ranges *mr)
{

	if (mr == NULL)
		return;
	pthread_rwlock_destroy(&mr->mr_lock);
	free(mr->mr_ent);
	free(mr);
}

/* Index of the first range whose base is > addr. */
static size_t
mem_upper_bound(const struct mem_ranges *mr, uint64_t addr)
{
	size_t lo = 0, hi = mr->mr_num, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mr->mr_ent[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The range holding addr, or NULL. */
static struct mem_range *
mem_lookup(const struct mem_ranges *mr, uint64_t addr)
{
	struct mem_range *r;
	size_t i;

	i = mem_upper_bound(mr, addr);
	if (i == 0)
		return (NULL);
	r = &mr->mr_ent[i - 1];
	if (addr - r->base < r->size)
		return (r);
	return (NULL);
}

int
register_mem(struct mem_ranges *mr, const struct mem_range *memp)
{
	struct mem_range *nent;
	size_t i, ncap;
	int error = 0;

	/* [base, base + size) may end at 2^64 but not wrap past it. */
	if (memp->size == 0 || memp->size - 1 > ~0ULL - memp->base ||
	    memp->handler == NULL || (memp->flags & MEM_F_RW) == 0)
		return (-EINVAL);
	pthread_rwlock_wrlock(&mr->mr_lock);
	i = mem_upper_bound(mr, memp->base);
	/* Overlap with the range below, or with the next one up. */
	if ((i > 0 && memp->base - mr->mr_ent[i - 1].base <
	    mr->mr_ent[i - 1].size) ||
	    (i < mr->mr_num && mr->mr_ent[i].base - memp->base < memp->size)) {
		error = -EEXIST;
		goto out;
	}
	if (mr->mr_num == mr->mr_cap) {
		ncap = mr->mr_cap == 0 ? 16 : mr->mr_cap * 2;
		nent = realloc(mr->mr_ent, ncap * sizeof(*nent));
		if (nent == NULL) {
			error = -ENOMEM;
			goto out;
		}
		mr->mr_ent = nent;
		mr->mr_cap = ncap;
	}
	memmove(&mr->mr_ent[i + 1], &mr->mr_ent[i],
	    (mr->mr_num - i) * sizeof(*nent));
	mr->mr_ent[i] = *memp;
	mr->mr_num++;
out:
	pthread_rwlock_unlock(&mr->mr_lock);
	return (error);
}

int
unregister_mem(struct mem_ranges *mr, const struct mem_range *memp)
{
	struct mem_range *r;
	size_t i;
	int error = -ENOENT;

	pthread_rwlock_wrlock(&mr->mr_lock);
	r = mem_lookup(mr, memp->base);
	if (r != NULL && r->base == memp->base && r->size == memp->size &&
	    (r->flags & MEM_F_IMMUTABLE) == 0) {
		i = (size_t)(r - mr->mr_ent);
		memmove(&mr->mr_ent[i], &mr->mr_ent[i + 1],
		    (mr->mr_num - i - 1) * sizeof(*r));
		mr->mr_num--;
		error = 0;
	}
	pthread_rwlock_unlock(&mr->mr_lock);
	return (error);
}

static uint64_t
mem_mask(int size)
{

	return (size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1);
}

int
emulate_mem(struct bhyve_vm *bvm, struct vm_exit *vme)
{
	struct mem_ranges *mr = bvm->mem;
	struct mem_range *r, copy;
	uint64_t gpa, val;
	int size, dir, error;
	bool locked;

	gpa = vme->u.mmio.gpa;
	size = vme->u.mmio.size;
	dir = vme->u.mmio.write ? MEM_F_WRITE : MEM_F_READ;
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		fprintf(stderr, "bhyve: bad memory access size %d at 0x%lx\n",
		    size, (unsigned long)gpa);
		return (-1);
	}

	pthread_rwlock_rdlock(&mr->mr_lock);
	r = mem_lookup(mr, gpa);
	/* The whole access must fall in one range; bhyve's rule too. */
	if (r == NULL || gpa + size - 1 - r->base >= r->size ||
	    gpa + size - 1 < gpa) {
		pthread_rwlock_unlock(&mr->mr_lock);
		fprintf(stderr, "bhyve: unhandled memory access to 0x%lx\n",
		    (unsigned long)gpa);
		return (-1);
	}
	copy = *r;
	locked = (copy.flags & MEM_F_IMMUTABLE) == 0;
	if (!locked)
		pthread_rwlock_unlock(&mr->mr_lock);

	if ((copy.flags & dir) == 0) {
		/* Write to a read-only range is dropped; reads float high. */
		val = ~0ULL;
		error = 0;
	} else {
		val = dir == MEM_F_WRITE ? vme->u.mmio.data & mem_mask(size) :
		    ~0ULL;
		error = copy.handler(bvm, dir, gpa, size, &val, copy.arg1,
		    copy.arg2);
	}
	if (locked)
		pthread_rwlock_unlock(&mr->mr_lock);
	if (error != 0) {
		fprintf(stderr, "bhyve: %s: %s of 0x%lx failed\n", copy.name,
		    dir == MEM_F_WRITE ? "write" : "read", (unsigned long)gpa);
		return (-1);
	}
	if (dir == MEM_F_READ)
		vme->u.mmio.data = val & mem_mask(size);
	return (0);
}
