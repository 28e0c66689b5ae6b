/*
 * pctestdev.h - -l pc-testdev: QEMU's isa-debug-exit and pc-testdev
 * (pctestdev.c), created by the LPC bridge.
 */
#ifndef LHYVE_PCTESTDEV_H
#define LHYVE_PCTESTDEV_H

#include "config.h"

struct bhyve_vm;
struct pctestdev;

/* -l pc-testdev[,opts]: no options are taken. */
int	pctestdev_parse(struct config *cfg, const char *opts);
/* Creates the device if lpc.pc-testdev is set (*ptp stays NULL if not). */
int	pctestdev_init(struct bhyve_vm *bvm, struct pctestdev **ptp);
void	pctestdev_fini(struct pctestdev *pt);

#endif /* LHYVE_PCTESTDEV_H */
