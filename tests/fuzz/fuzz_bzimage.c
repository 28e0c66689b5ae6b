/*
 * fuzz_bzimage.c - libFuzzer target for bhyveload's Linux loader (user
 * data): the setup header parser, the zero page, and the payload
 * decompressors with a small output limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kload_e820_entry map[16];
	struct kload_linux_params p = { 0 };
	struct kload_bzimage bz;
	const char *why;
	uint8_t zp[4096], *out;
	size_t outlen;

	if (kload_parse_bzimage(data, size, &bz, &why) != 0)
		return 0;
	/* What the parser accepts lies inside the buffer. */
	if (bz.payload_off + bz.payload_len > size || bz.pm_off + bz.pm_len != size ||
	    0x1f1 + bz.hdr_len > bz.setup_len)
		abort();
	p.cmdline_gpa = 0xa000;
	p.cmdline_len = 16;
	p.ne820 = kload_e820(256ULL << 20, 0, map, 16);
	p.e820 = map;
	(void)kload_linux_zero_page(data, &bz, &p, zp, &why);
	if (kload_decompress(bz.comp, data + bz.payload_off, bz.payload_len, 0, 1 << 20,
	    &out, &outlen, &why) == 0) {
		if (outlen > (1 << 20))
			abort();
		free(out);
	}
	return 0;
}
