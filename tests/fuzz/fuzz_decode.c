/* fuzz_decode.c - libFuzzer target: the decoder on arbitrary bytes, every mode. */
#include <stdint.h>
#include <stdlib.h>

#include "cpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum emu_mode modes[] = { EMU_MODE_REAL, EMU_MODE_PROT16,
	    EMU_MODE_PROT32, EMU_MODE_LONG64, EMU_MODE_COMPAT16, EMU_MODE_COMPAT32 };
	struct emu_insn in;
	size_t m;

	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		int avail = size > 15 ? 15 : (int)size;
		if (emu_decode(data, avail, modes[m], &in) == 0 &&
		    (in.len == 0 || in.len > avail || in.len > 15 || in.fn == NULL))
			abort();
	}
	return 0;
}
