/*
 * test_store_topology.c - the state file's TOPOLOGY section (vmm_state.c,
 * docs/store.md): written once a run chose the topology, read back as it
 * was, and every count or length out of range refused with one line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "test.h"
#include "vmm_store.h"

#define SEC_TOPOLOGY	6

static struct vmm_image *
image(uint32_t s, uint32_t c, uint32_t t)
{
	struct vmm_image *img = calloc(1, sizeof(*img));

	if (img == NULL)
		abort();
	vmm_image_init(img);
	img->memsize = img->lowmem = 64 << 20;
	img->ncpus = s * c * t != 0 ? s * c * t : 1;
	img->topo.sockets = s;
	img->topo.cores = c;
	img->topo.threads = t;
	return img;
}

/* Offset of the first section of @type in a serialized file, or 0. */
static size_t
find_section(const uint8_t *buf, size_t len, uint32_t type)
{
	uint32_t n, i, st, sl;
	size_t off = 32;

	memcpy(&n, buf + 24, 4);
	for (i = 0; i < n && off + 32 <= len; i++) {
		memcpy(&st, buf + off, 4);
		memcpy(&sl, buf + off + 8, 4);
		if (st == type)
			return off;
		off += 32 + sl;
	}
	return 0;
}

/* The section's CRC after an edit of its data (docs/store.md "Sections"). */
static void
reseal(uint8_t *buf, size_t off)
{
	uint32_t sl, crc;

	memcpy(&sl, buf + off + 8, 4);
	crc = (uint32_t)crc32(0, buf + off, 12);
	crc = (uint32_t)crc32(crc, buf + off + 16, 16);
	crc = (uint32_t)crc32(crc, buf + off + 32, sl);
	memcpy(buf + off + 12, &crc, 4);
}

TEST(topology_section_round_trips)
{
	struct vmm_image *img = image(2, 1, 2), *back = calloc(1, sizeof(*back));
	uint8_t *buf;
	size_t len, off;
	uint32_t v;
	uint16_t flags, vcpu;

	REQUIRE(back != NULL);
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	off = find_section(buf, len, SEC_TOPOLOGY);
	REQUIRE(off != 0);
	memcpy(&flags, buf + off + 4, 2);
	memcpy(&vcpu, buf + off + 6, 2);
	memcpy(&v, buf + off + 8, 4);
	CHECK_EQ(flags, 1);		/* REQUIRED */
	CHECK_EQ(vcpu, 0xffff);		/* VM-level */
	CHECK_EQ(v, 16);
	memcpy(&v, buf + off + 32, 4);
	CHECK_EQ(v, 2);
	memcpy(&v, buf + off + 36, 4);
	CHECK_EQ(v, 1);
	memcpy(&v, buf + off + 40, 4);
	CHECK_EQ(v, 2);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	CHECK_EQ(back->topo.sockets, 2);
	CHECK_EQ(back->topo.cores, 1);
	CHECK_EQ(back->topo.threads, 2);
	CHECK(memcmp(img, back, sizeof(*img)) == 0);
	vmm_image_fini(back);
	free(buf);
	free(img);
	free(back);
}

/* Until a run chooses it there is none, and none read is all zeros. */
TEST(topology_section_absent_until_chosen)
{
	struct vmm_image *img = image(0, 0, 0), *back = calloc(1, sizeof(*back));
	uint8_t *buf;
	size_t len;

	REQUIRE(back != NULL);
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	CHECK_EQ(find_section(buf, len, SEC_TOPOLOGY), 0);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	CHECK_EQ(back->topo.sockets | back->topo.cores | back->topo.threads, 0);
	vmm_image_fini(back);
	free(buf);
	free(img);
	free(back);
}

/* Counts of 0, above 16 or multiplying past 16, and a non-zero pad: refused. */
TEST(topology_section_refused_out_of_range)
{
	static const uint32_t bad[][4] = {
		{ 0, 1, 1, 0 }, { 1, 0, 1, 0 }, { 1, 1, 0, 0 }, { 17, 1, 1, 0 },
		{ 1, 1, 0x80000000u, 0 }, { 4, 4, 2, 0 }, { 65536, 65536, 1, 0 },
		{ 1, 1, 1, 1 },
	};
	struct vmm_image *img = image(1, 2, 1), *back = calloc(1, sizeof(*back));
	uint8_t *buf;
	size_t len, off, i;

	REQUIRE(back != NULL);
	REQUIRE(vmm_state_serialize(img, &buf, &len) == 0);
	off = find_section(buf, len, SEC_TOPOLOGY);
	REQUIRE(off != 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf + off + 32, bad[i], 16);
		reseal(buf, off);
		CHECK_EQ(vmm_state_parse(buf, len, back), -EBADMSG);
		CHECK(strchr(vmm_store_strerror(), '\n') == NULL);
	}
	/* the largest that fits still loads */
	memcpy(buf + off + 32, (const uint32_t[]){ 2, 4, 2, 0 }, 16);
	reseal(buf, off);
	CHECK_EQ(vmm_state_parse(buf, len, back), 0);
	CHECK_EQ(back->topo.cores, 4);
	vmm_image_fini(back);
	/* a section of another length */
	memcpy(buf + off + 8, (const uint32_t[]){ 12 }, 4);
	reseal(buf, off);
	CHECK(vmm_state_parse(buf, len, back) < 0);
	free(buf);
	free(img);
	free(back);
}
