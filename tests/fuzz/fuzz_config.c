/*
 * fuzz_config.c - libFuzzer target: bhyve's command-line and config-file
 * parsers (-o, -k, -s, -l) on arbitrary text, then a config dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bhyve.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config *cfg;
	char *text, *line, *save = NULL;

	if (devnull == NULL) {
		devnull = fopen("/dev/null", "w");
		/* The parsers report errors on stderr: keep the fuzzer's output readable. */
		if (devnull != NULL)
			stderr = devnull;
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cfg = config_create();
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		switch (line[0]) {
		case 's': pci_parse_slot(cfg, line + 1); break;
		case 'l': lpc_device_parse(cfg, line + 1); break;
		default: config_parse_option(cfg, line); break;
		}
	}
	if (devnull != NULL)
		config_dump(cfg, devnull);
	get_config_bool_default(cfg, "x86.strictio", false);
	config_destroy(cfg);
	free(text);
	return 0;
}
