/*
 * inout.h - the x86 I/O port table (bhyve's inout.c).
 */
#ifndef LHYVE_INOUT_H
#define LHYVE_INOUT_H

#include <stdbool.h>
#include <stdint.h>

struct bhyve_vm;
struct inout_table;

#define	MAX_IOPORTS	(1 << 16)

#define	IOPORT_F_IN	0x1
#define	IOPORT_F_OUT	0x2
#define	IOPORT_F_INOUT	(IOPORT_F_IN | IOPORT_F_OUT)

/*
 * For IN, the handler stores the value in *eax (low `bytes` bytes used);
 * for OUT, *eax holds the value written.  `port` is the port the guest
 * named, which may be any port of the registered range.  Returns 0; any
 * other value makes emulate_inout() fail (bhyve's contract), so devices
 * return 0 for guest mistakes and model what the hardware would do.
 */
typedef int (*inout_func_t)(struct bhyve_vm *bvm, int in, int port, int bytes,
    uint32_t *eax, void *arg);

struct inout_port {
	const char	*name;
	int		port;
	int		size;
	int		flags;
	inout_func_t	handler;
	void		*arg;
};

struct inout_table *inout_table_create(void);
void	inout_table_destroy(struct inout_table *t);
void	inout_set_strict(struct inout_table *t, bool strict);

/* 0, -EINVAL (bad range/flags), -EEXIST (a port is taken) or -ENOMEM. */
int	register_inout(struct inout_table *t, const struct inout_port *iop);
/* 0, or -ENOENT unless exactly this handler/arg owns every port of the range. */
int	unregister_inout(struct inout_table *t, const struct inout_port *iop);

#endif /* LHYVE_INOUT_H */
