/*
 * mem.h - guest-physical MMIO ranges (bhyve's mem.c).
 */
#ifndef LHYVE_MEM_H
#define LHYVE_MEM_H

#include <stdint.h>

struct bhyve_vm;
struct mem_ranges;

#define	MEM_F_READ		0x1
#define	MEM_F_WRITE		0x2
#define	MEM_F_RW		(MEM_F_READ | MEM_F_WRITE)
/*
 * Never unregistered: the handler runs without the ranges lock and may
 * therefore register or unregister other ranges (the ECAM window does when
 * a guest moves a BAR).
 */
#define	MEM_F_IMMUTABLE		0x4

/* dir is MEM_F_READ (store into *val) or MEM_F_WRITE; size is 1, 2, 4 or 8. */
typedef int (*mem_func_t)(struct bhyve_vm *bvm, int dir, uint64_t addr,
    int size, uint64_t *val, void *arg1, long arg2);

struct mem_range {
	const char	*name;
	int		flags;
	mem_func_t	handler;
	void		*arg1;
	long		arg2;
	uint64_t	base;
	uint64_t	size;
};

struct mem_ranges *mem_ranges_create(void);
void	mem_ranges_destroy(struct mem_ranges *mr);

/* 0, -EINVAL (empty range, or wrapping past 2^64), -EEXIST (overlap) or -ENOMEM. */
int	register_mem(struct mem_ranges *mr, const struct mem_range *memp);
/* 0, or -ENOENT unless a mutable range with this base and size exists. */
int	unregister_mem(struct mem_ranges *mr, const struct mem_range *memp);

#endif /* LHYVE_MEM_H */
