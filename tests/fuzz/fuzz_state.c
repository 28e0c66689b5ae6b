/* fuzz_state.c - libFuzzer target for the state-file parser (guest/user data). */
#include <stdint.h>
#include <stdlib.h>

#include "vmm_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmm_image img;

	vmm_state_parse(data, size, &img);
	return 0;
}
