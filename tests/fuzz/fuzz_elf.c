/* fuzz_elf.c - libFuzzer target for bhyveload's ELF64 parser (user data). */
#include <stdint.h>
#include <stdlib.h>

#include "kernel_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kload_image img;
	const char *why;
	int i;

	if (kload_parse_elf(data, size, &img, &why) == 0) {
		/* What the parser accepts must lie inside the buffer. */
		for (i = 0; i < img.nsegs; i++)
			if (img.seg[i].file_off + img.seg[i].filesz > size ||
			    img.seg[i].filesz > img.seg[i].memsz)
				abort();
	}
	return 0;
}
