/*
 * fuzz_state.c - libFuzzer target for the state-file parser (user data).
 *
 * Seed corpus: the files tests/unit/test_store.c writes (tests/run.sh points
 * $LHYVE_STATE_SEEDS at this target's corpus).  A file the parser accepts
 * must write back and read again to the same image.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmm_image img, again;
	uint8_t *buf;
	size_t len;

	if (vmm_state_parse(data, size, &img) != 0)
		return 0;
	if (vmm_state_serialize(&img, &buf, &len) == 0) {
		if (vmm_state_parse(buf, len, &again) != 0 ||
		    memcmp(img.cpu, again.cpu, sizeof(img.cpu)) != 0 || img.nsec != again.nsec)
			abort();
		vmm_image_fini(&again);
		free(buf);
	}
	vmm_image_fini(&img);
	return 0;
}
