/*
 * fuzz_state.c - libFuzzer target for the state-file parser (user data).
 *
 * Seed corpus: the files tests/unit/test_store.c builds and the state files
 * tests/cli/test_store.sh's guests leave (tests/run.sh points
 * $LHYVE_STATE_SEEDS at this target's corpus).  A file the parser accepts,
 * of either version, must write back as version 2 and read again to the
 * same image, every kept section included, and that file must write back
 * byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_image(const struct vmm_image *a, const struct vmm_image *b)
{
	size_t i;

	if (a->memsize != b->memsize || a->lowmem != b->lowmem || a->highmem != b->highmem ||
	    a->memflags != b->memflags || a->ncpus != b->ncpus ||
	    memcmp(a->backend, b->backend, sizeof(a->backend)) != 0 ||
	    memcmp(a->vendor, b->vendor, sizeof(a->vendor)) != 0 ||
	    memcmp(a->cpu, b->cpu, sizeof(a->cpu)) != 0 ||
	    memcmp(a->stats, b->stats, sizeof(a->stats)) != 0 ||
	    memcmp(&a->run, &b->run, sizeof(a->run)) != 0 || a->nsec != b->nsec)
		abort();
	for (i = 0; i < a->nsec; i++) {
		const struct vmm_section *s = &a->sec[i], *t = &b->sec[i];
		if (s->type != t->type || s->flags != t->flags || s->vcpu != t->vcpu ||
		    strcmp(s->name, t->name) != 0 || s->len != t->len ||
		    (s->len != 0 && memcmp(s->data, t->data, s->len) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmm_image img, again;
	uint8_t *buf, *buf2;
	size_t len, len2;

	if (vmm_state_parse(data, size, &img) != 0)
		return 0;
	if (vmm_state_serialize(&img, &buf, &len) == 0) {
		if (vmm_state_parse(buf, len, &again) != 0)
			abort();
		same_image(&img, &again);
		if (vmm_state_serialize(&again, &buf2, &len2) != 0 || len2 != len ||
		    memcmp(buf, buf2, len) != 0)
			abort();
		free(buf2);
		vmm_image_fini(&again);
		free(buf);
	}
	vmm_image_fini(&img);
	return 0;
}
