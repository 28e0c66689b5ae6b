/*
 * test_bhyve.h - a bhyve device layer without a VM, for unit tests: build a
 * struct bhyve_vm from a config, poke its ports as a vCPU would, free it.
 */
#ifndef LHYVE_TEST_BHYVE_H
#define LHYVE_TEST_BHYVE_H

#include <stdint.h>

#include "bhyve.h"
#include "config.h"

/* A bhyve_vm with an empty config; fill cfg and the fakes, then init. */
struct bhyve_vm *test_bvm_alloc(void);
/* bhyve_devices_init(); on failure frees @bvm and returns NULL. */
struct bhyve_vm *test_bvm_init(struct bhyve_vm *bvm);
void	test_bvm_free(struct bhyve_vm *bvm);
/* One port access through emulate_inout(); 0xdeadbeef if unhandled. */
uint32_t test_pio(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t val);

#endif /* LHYVE_TEST_BHYVE_H */
