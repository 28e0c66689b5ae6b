/*
 * fuzz_boot32.c - libFuzzer target for bhyveload's PVH and Multiboot
 * parsers (user data): what they accept lies inside the file.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kernel_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct kload_image *img, size_t size)
{
	int i;

	for (i = 0; i < img->nsegs; i++)
		if (img->seg[i].file_off + img->seg[i].filesz > size ||
		    img->seg[i].filesz > img->seg[i].memsz)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kload_image img;
	const char *why;
	uint32_t flags;

	if (kload_parse_multiboot(data, size, &img, &flags, &why) == 0)
		check(&img, size);
	if (kload_parse_pvh(data, size, &img, &why) == 0)
		check(&img, size);
	return 0;
}
