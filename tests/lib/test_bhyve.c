/* test_bhyve.c - see test_bhyve.h. */
#include <stdlib.h>
#include <string.h>

#include "test_bhyve.h"

struct bhyve_vm *
test_bvm_alloc(void)
{
	struct bhyve_vm *bvm = calloc(1, sizeof(*bvm));

	if (bvm == NULL || (bvm->cfg = config_create()) == NULL)
		abort();
	return bvm;
}

struct bhyve_vm *
test_bvm_init(struct bhyve_vm *bvm)
{
	if (bhyve_devices_init(bvm) != 0) {
		config_destroy(bvm->cfg);
		free(bvm);
		return NULL;
	}
	return bvm;
}

void
test_bvm_free(struct bhyve_vm *bvm)
{
	if (bvm == NULL)
		return;
	bhyve_devices_fini(bvm);
	config_destroy(bvm->cfg);
	free(bvm);
}

uint32_t
test_pio(struct bhyve_vm *bvm, int in, int port, int bytes, uint32_t val)
{
	struct vm_exit vme;

	memset(&vme, 0, sizeof(vme));
	vme.exitcode = VM_EXITCODE_INOUT;
	vme.u.inout.in = in;
	vme.u.inout.port = (uint16_t)port;
	vme.u.inout.bytes = bytes;
	vme.u.inout.eax = val;
	if (emulate_inout(bvm, &vme) != 0)
		return 0xdeadbeef;
	return vme.u.inout.eax;
}
