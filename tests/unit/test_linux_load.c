/*
 * test_linux_load.c - bhyveload's Linux pieces (bhyveload/linux_load.c,
 * decompress.c): the setup header checks, every payload format through its
 * library, the zero page and the memory map.  The bzImages are synthetic:
 * a setup header as boot.rst lays it out, and a payload compressed here.
 */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "kernel_load.h"
#include "test.h"
#include "../../bhyve/machine.h"

#define SETUP_SECTS	4
#define PM_OFF		((SETUP_SECTS + 1) * 512)

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* A bzImage around @payload (which includes the build's 4-byte size trailer). */
static uint8_t *
make_bzimage(const uint8_t *payload, size_t plen, size_t *lenp)
{
	size_t len = PM_OFF + 0x100 + plen;
	uint8_t *b = calloc(1, len);

	b[0x1f1] = SETUP_SECTS;
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	b[0x200] = 0xeb;			/* jmp to the end of the header */
	b[0x201] = 0x6a;			/* header ends at 0x26c (2.15) */
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = 0x0f;
	b[0x207] = 0x02;			/* version 2.15 */
	b[0x211] = 0x01;			/* LOADED_HIGH */
	put32(b + 0x214, 0x100000);
	put32(b + 0x22c, 0x7fffffff);		/* initrd_addr_max */
	put32(b + 0x230, 0x200000);		/* kernel_alignment */
	b[0x234] = 1;
	b[0x236] = 0x7f;			/* xloadflags: XLF_KERNEL_64 ... */
	put32(b + 0x238, 2047);			/* cmdline_size */
	put32(b + 0x248, 0x100);		/* payload_offset from the pm kernel */
	put32(b + 0x24c, (uint32_t)plen);
	put64(b + 0x258, 0x1000000);		/* pref_address */
	put32(b + 0x260, (uint32_t)(len + 0x100000));	/* init_size */
	memcpy(b + PM_OFF + 0x100, payload, plen);
	*lenp = len;
	return b;
}

/* Test data that compresses but is not trivial. */
static uint8_t *
make_plain(size_t n)
{
	uint8_t *p = malloc(n);
	uint32_t x = 12345;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (uint8_t)((x >> 16) % 7 + 'a');
	}
	return p;
}

/* Compress @in with @comp, as the kernel build does (size appended). */
static uint8_t *
compress_as(enum kload_comp comp, const uint8_t *in, size_t n, size_t *outlen)
{
	size_t cap = n * 2 + 65536, len = 0;
	uint8_t *out = malloc(cap + 4);

	switch (comp) {
	case KLOAD_COMP_GZIP: {
		z_stream zs = { 0 };
		deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		zs.next_in = (Bytef *)(uintptr_t)in;
		zs.avail_in = (uInt)n;
		zs.next_out = out;
		zs.avail_out = (uInt)cap;
		deflate(&zs, Z_FINISH);
		len = zs.total_out;
		deflateEnd(&zs);
		break;
	}
	case KLOAD_COMP_XZ:
		lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &len, cap);
		break;
	case KLOAD_COMP_LZMA: {
		lzma_stream ls = LZMA_STREAM_INIT;
		lzma_options_lzma opt;
		lzma_lzma_preset(&opt, 6);
		if (lzma_alone_encoder(&ls, &opt) != LZMA_OK)
			break;
		ls.next_in = in;
		ls.avail_in = n;
		ls.next_out = out;
		ls.avail_out = cap;
		while (lzma_code(&ls, LZMA_FINISH) == LZMA_OK)
			;
		len = ls.total_out;
		lzma_end(&ls);
		break;
	}
	case KLOAD_COMP_ZSTD:
		len = ZSTD_compress(out, cap, in, n, 3);
		break;
	case KLOAD_COMP_BZIP2: {
		unsigned int l = (unsigned int)cap;
		BZ2_bzBuffToBuffCompress((char *)out, &l, (char *)(uintptr_t)in, (unsigned)n, 9, 0, 0);
		len = l;
		break;
	}
	case KLOAD_COMP_LZ4: {
		/* Legacy frame: magic, then (length, block) per 8 MiB of input. */
		size_t pos = 0;
		put32(out, 0x184c2102);
		len = 4;
		while (pos < n) {
			size_t chunk = n - pos > (8u << 20) ? (8u << 20) : n - pos;
			int c = LZ4_compress_default((const char *)in + pos, (char *)out + len + 4,
			    (int)chunk, (int)(cap - len - 4));
			put32(out + len, (uint32_t)c);
			len += 4 + (size_t)c;
			pos += chunk;
		}
		break;
	}
	default:
		memcpy(out, in, n);
		len = n;
		break;
	}
	put32(out + len, (uint32_t)n);		/* scripts/Makefile.lib size_append */
	*outlen = len + 4;
	return out;
}

static void
roundtrip(enum kload_comp comp)
{
	size_t n = 3 << 20, plen, blen, outlen;
	uint8_t *plain = make_plain(n), *payload, *bzi, *out;
	struct kload_bzimage bz;
	const char *why = NULL;

	payload = compress_as(comp, plain, n, &plen);
	bzi = make_bzimage(payload, plen, &blen);
	REQUIRE(kload_parse_bzimage(bzi, blen, &bz, &why) == 0);
	CHECK_EQ(bz.comp, comp);
	CHECK_EQ(bz.payload_size_hint, n);
	CHECK_EQ(bz.payload_off, PM_OFF + 0x100);
	REQUIRE(kload_decompress(bz.comp, bzi + bz.payload_off, bz.payload_len,
	    bz.payload_size_hint, 64 << 20, &out, &outlen, &why) == 0);
	CHECK_EQ(outlen, n);
	CHECK(memcmp(out, plain, n) == 0);
	free(out);

	/* Truncated or corrupt payloads are errors, never half a kernel. */
	if (comp != KLOAD_COMP_NONE) {
		CHECK(kload_decompress(bz.comp, bzi + bz.payload_off, bz.payload_len / 2,
		    0, 64 << 20, &out, &outlen, &why) == -EINVAL);
		bzi[bz.payload_off + bz.payload_len / 2] ^= 0x55;
		bzi[bz.payload_off + bz.payload_len / 2 + 1] ^= 0xaa;
		bzi[bz.payload_off + bz.payload_len / 3] ^= 0x11;
		/*
		 * gzip, xz, bzip2 and lzma check their data; zstd frames without
		 * a checksum and LZ4's legacy frame cannot, so there a corrupt
		 * payload may decompress to something else (and then fails the
		 * ELF checks in bhyveload).
		 */
		int r = kload_decompress(bz.comp, bzi + bz.payload_off, bz.payload_len,
		    0, 64 << 20, &out, &outlen, &why);
		if (comp == KLOAD_COMP_ZSTD || comp == KLOAD_COMP_LZ4) {
			CHECK(r != 0 || outlen != n || memcmp(out, plain, n) != 0);
			if (r == 0)
				free(out);
		} else
			CHECK(r != 0);
		/* An output limit is kept. */
		bzi[bz.payload_off + bz.payload_len / 2] ^= 0x55;
		bzi[bz.payload_off + bz.payload_len / 2 + 1] ^= 0xaa;
		bzi[bz.payload_off + bz.payload_len / 3] ^= 0x11;
		CHECK(kload_decompress(bz.comp, bzi + bz.payload_off, bz.payload_len,
		    0, 1 << 20, &out, &outlen, &why) == -EFBIG);
	}
	free(plain);
	free(payload);
	free(bzi);
}

TEST(bzimage_gzip) { roundtrip(KLOAD_COMP_GZIP); }
TEST(bzimage_xz) { roundtrip(KLOAD_COMP_XZ); }
TEST(bzimage_lzma) { roundtrip(KLOAD_COMP_LZMA); }
TEST(bzimage_zstd) { roundtrip(KLOAD_COMP_ZSTD); }
TEST(bzimage_bzip2) { roundtrip(KLOAD_COMP_BZIP2); }
TEST(bzimage_lz4) { roundtrip(KLOAD_COMP_LZ4); }

TEST(bzimage_bad_headers)
{
	uint8_t pl[64] = { 0x1f, 0x8b }, *b;
	struct kload_bzimage bz;
	const char *why = NULL;
	size_t len;

	b = make_bzimage(pl, sizeof(pl), &len);
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == 0);
	/* Not Linux at all: -ENOEXEC, so bhyveload tries the other formats. */
	CHECK(kload_parse_bzimage(b, 0x200, &bz, &why) == -ENOEXEC);
	b[0x202] = 'X';
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -ENOEXEC);
	b[0x202] = 'H';
	/* Old protocol, no 64-bit entry, truncated, payload outside the file. */
	b[0x206] = 0x0b;
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	b[0x206] = 0x0f;
	b[0x236] = 0;
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	CHECK(strstr(why, "64-bit") != NULL);
	b[0x236] = 0x7f;
	CHECK(kload_parse_bzimage(b, PM_OFF, &bz, &why) == -EINVAL);
	CHECK(kload_parse_bzimage(b, len - 1, &bz, &why) == -EINVAL);
	put32(b + 0x24c, 0xffffffff);
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	put32(b + 0x24c, sizeof(pl));
	put32(b + 0x230, 0x3000);		/* alignment not a power of two */
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	put32(b + 0x230, 0x200000);
	b[0x201] = 0x10;			/* header too short for init_size */
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	b[0x201] = 0x6a;
	b[0x1fe] = 0;
	CHECK(kload_parse_bzimage(b, len, &bz, &why) == -EINVAL);
	free(b);
}

TEST(e820_layout)
{
	struct kload_e820_entry m[16];
	int n, i;
	uint64_t ram = 0;

	n = kload_e820(512ULL << 20, 0, m, 16);
	REQUIRE(n == 6);
	CHECK_EQ(m[0].addr, 0);
	CHECK_EQ(m[0].len, MACHINE_EBDA_BASE);
	CHECK_EQ(m[0].type, KLOAD_E820_RAM);
	CHECK_EQ(m[1].type, KLOAD_E820_RESERVED);
	CHECK_EQ(m[1].addr + m[1].len, 0x100000);
	CHECK_EQ(m[2].addr, 0x100000);
	CHECK_EQ(m[2].addr + m[2].len, 512ULL << 20);
	for (i = 0; i < n; i++) {
		if (m[i].type == KLOAD_E820_RAM)
			ram += m[i].len;
		/* The BIOS area holding the ACPI tables is never RAM. */
		if (m[i].type == KLOAD_E820_RAM)
			CHECK(m[i].addr + m[i].len <= MACHINE_ACPI_RSDP || m[i].addr > MACHINE_ACPI_RSDP);
	}
	CHECK_EQ(ram, (512ULL << 20) - (0x100000 - MACHINE_EBDA_BASE));
	n = kload_e820(3ULL << 30, 1ULL << 30, m, 16);
	REQUIRE(n == 7);
	CHECK_EQ(m[6].addr, 1ULL << 32);
	CHECK_EQ(m[6].len, 1ULL << 30);
	CHECK(kload_e820(3ULL << 30, 1ULL << 30, m, 3) == -ENOSPC);
}

TEST(zero_page)
{
	uint8_t pl[64] = { 0x1f, 0x8b }, zp[4096], *b;
	struct kload_e820_entry m[16];
	struct kload_linux_params p = { 0 };
	struct kload_bzimage bz;
	const char *why = NULL;
	size_t len;

	b = make_bzimage(pl, sizeof(pl), &len);
	REQUIRE(kload_parse_bzimage(b, len, &bz, &why) == 0);
	p.cmdline_gpa = 0xa000;
	p.cmdline_len = 100;
	p.initrd_gpa = 0x1f000000;
	p.initrd_len = 0x123456;
	p.rsdp = MACHINE_ACPI_RSDP;
	p.ne820 = kload_e820(512ULL << 20, 0, m, 16);
	p.e820 = m;
	REQUIRE(kload_linux_zero_page(b, &bz, &p, zp, &why) == 0);
	/* The kernel's own header, then the loader's fields (boot.rst). */
	CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
	CHECK_EQ(get32(zp + 0x230), 0x200000);
	CHECK_EQ(zp[0x210], 0xff);
	CHECK_EQ(zp[0x211] & 0x81, 0x01);
	CHECK_EQ(get32(zp + 0x228), 0xa000);
	CHECK_EQ(get32(zp + 0x218), 0x1f000000);
	CHECK_EQ(get32(zp + 0x21c), 0x123456);
	CHECK_EQ(get64(zp + 0x070), MACHINE_ACPI_RSDP);
	CHECK_EQ(zp[0x1e8], p.ne820);
	CHECK_EQ(get64(zp + 0x2d0 + 20 * 2), 0x100000);
	CHECK_EQ(get32(zp + 0x2d0 + 20 * 2 + 16), KLOAD_E820_RAM);
	/* Nothing outside the header and the loader's fields. */
	CHECK_EQ(zp[0], 0);
	CHECK_EQ(zp[0x1f0], 0);

	/* Too long a command line; an initrd above initrd_addr_max. */
	p.cmdline_len = 2048;
	CHECK(kload_linux_zero_page(b, &bz, &p, zp, &why) == -E2BIG);
	p.cmdline_len = 2047;
	CHECK(kload_linux_zero_page(b, &bz, &p, zp, &why) == 0);
	p.initrd_gpa = 0x7ffff000;
	p.initrd_len = 0x2000;
	CHECK(kload_linux_zero_page(b, &bz, &p, zp, &why) == -E2BIG);
	free(b);
}
