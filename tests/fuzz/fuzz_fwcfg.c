/*
 * fuzz_fwcfg.c - libFuzzer target: QEMU's fw_cfg register model driven as
 * a hostile guest would, on 64 KiB of fake guest RAM.  Input: 8-byte
 * records {op, x, y, z, value:le32}: select, data read, DMA register
 * reads and writes at any offset and width, and guest stores into RAM
 * (so that DMA access structures are the fuzzer's own).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_fwcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define	RAM	(64u << 10)
static uint8_t ram[RAM];

static void *
fake_map(void *arg, uint64_t gpa, size_t len)
{
	if (gpa >= RAM || len > RAM - gpa)
		return NULL;
	return ram + gpa;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fwcfg_mem mem = { fake_map, NULL, NULL };
	struct fwcfg *fc;
	uint32_t val;
	size_t i;

	fc = fwcfg_create(&mem);
	if (fc == NULL ||
	    fwcfg_add_item(fc, FW_CFG_SIGNATURE, "QEMU", 4) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_NB_CPUS, "\2\0", 2) != 0 ||
	    fwcfg_add_item(fc, FW_CFG_ARCH_LOCAL | 3, "arch", 4) != 0 ||
	    fwcfg_add_file(fc, "etc/e820", ram, 100) != 0 ||
	    fwcfg_add_file(fc, "opt/empty", "", 0) != 0 ||
	    fwcfg_finish(fc) != 0)
		abort();
	memset(ram, 0, sizeof(ram));
	for (i = 0; i + 8 <= size; i += 8) {
		memcpy(&val, data + i + 4, 4);
		switch (data[i] % 6) {
		case 0:
			fwcfg_select(fc, (uint16_t)val);
			break;
		case 1:
			(void)fwcfg_data_read(fc);
			break;
		case 2:
			(void)fwcfg_dma_read(fc, data[i + 1] % 10);
			break;
		case 3:
			fwcfg_dma_write(fc, data[i + 1] % 9, 1 + data[i + 2] % 4, val);
			break;
		case 4:
			/* A DMA in one go, the structure wherever the input says. */
			fwcfg_dma_write(fc, 0, 4, 0);
			fwcfg_dma_write(fc, 4, 4, __builtin_bswap32(val % (RAM + 64)));
			break;
		default:
			/* A guest store: 4 bytes at (x, y) in RAM. */
			memcpy(ram + ((size_t)data[i + 1] << 8 | data[i + 2]) % (RAM - 4),
			    &val, 4);
			break;
		}
	}
	fwcfg_destroy(fc);
	return 0;
}
