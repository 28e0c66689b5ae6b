/*
 * decompress.c - a bzImage's payload (the compressed vmlinux) decompressed
 * on the host with the library each format comes from: liblzma (xz, lzma),
 * zlib (gzip), libzstd, liblz4 (the legacy frame "lz4 -l" makes) and
 * libbz2.  Debian's kernels are xz; the in-guest decompressor would spend
 * about three quarters of a software-CPU boot doing this.
 *
 * Input is untrusted: every library is told the real input length and an
 * output limit, and the result must be complete (a truncated stream is an
 * error, never a half-loaded kernel).
 */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "kernel_load.h"

/* A growing output buffer bounded by @max. */
struct outbuf {
	uint8_t	*p;
	size_t	len, cap, max;
};

static int
out_reserve(struct outbuf *o, size_t want)
{
	size_t cap;
	uint8_t *np;

	if (want <= o->cap)
		return 0;
	if (want > o->max)
		return -EFBIG;
	cap = o->cap ? o->cap : 1 << 20;
	while (cap < want)
		cap = cap > o->max / 2 ? o->max : cap * 2;
	if ((np = realloc(o->p, cap)) == NULL)
		return -ENOMEM;
	o->p = np;
	o->cap = cap;
	return 0;
}

/* Room for more output: at least 1 MiB free, or -EFBIG at the limit. */
static int
out_more(struct outbuf *o)
{
	size_t want = o->len + (1 << 20);

	if (want > o->max)
		want = o->max;
	if (want <= o->len)
		return -EFBIG;
	return out_reserve(o, want);
}

static int
run_gzip(const uint8_t *in, size_t inlen, struct outbuf *o, const char **why)
{
	z_stream zs;
	int zr, error = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)(uintptr_t)in;
	do {
		size_t chunk = inlen - (size_t)((const uint8_t *)zs.next_in - in);
		zs.avail_in = chunk > UINT32_MAX ? UINT32_MAX : (uInt)chunk;
		if (o->len == o->cap && (error = out_more(o)) != 0)
			break;
		size_t room = o->cap - o->len;
		zs.next_out = o->p + o->len;
		zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
		zr = inflate(&zs, Z_NO_FLUSH);
		o->len = (size_t)(zs.next_out - o->p);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			*why = "gzip payload is truncated";
			error = -EINVAL;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			*why = "gzip payload is corrupt";
			error = -EINVAL;
		}
	} while (error == 0);
	inflateEnd(&zs);
	return error;
}

/* xz (.xz container) and lzma ("lzma_alone") through liblzma. */
static int
run_lzma(const uint8_t *in, size_t inlen, struct outbuf *o, int alone, const char **why)
{
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret lr;
	int error = 0;

	lr = alone ? lzma_alone_decoder(&ls, UINT64_MAX) : lzma_stream_decoder(&ls, UINT64_MAX, 0);
	if (lr != LZMA_OK)
		return -ENOMEM;
	ls.next_in = in;
	ls.avail_in = inlen;
	for (;;) {
		if (o->len == o->cap && (error = out_more(o)) != 0)
			break;
		ls.next_out = o->p + o->len;
		ls.avail_out = o->cap - o->len;
		lr = lzma_code(&ls, LZMA_FINISH);
		o->len = (size_t)(ls.next_out - o->p);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr == LZMA_BUF_ERROR && ls.avail_in == 0) {
			*why = alone ? "lzma payload is truncated" : "xz payload is truncated";
			error = -EINVAL;
			break;
		}
		if (lr != LZMA_OK && lr != LZMA_BUF_ERROR) {
			*why = lr == LZMA_MEM_ERROR ? "out of memory decompressing the kernel" :
			    alone ? "lzma payload is corrupt" : "xz payload is corrupt";
			error = lr == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	lzma_end(&ls);
	return error;
}

static int
run_zstd(const uint8_t *in, size_t inlen, struct outbuf *o, const char **why)
{
	ZSTD_DStream *zd = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, inlen, 0 };
	size_t r = 1;
	int error = 0;

	if (zd == NULL)
		return -ENOMEM;
	/* The kernel's build uses long windows (zstd --ultra -22): allow them. */
	ZSTD_DCtx_setParameter(zd, ZSTD_d_windowLogMax, 31);
	while (r != 0) {
		if (o->len == o->cap && (error = out_more(o)) != 0)
			break;
		ZSTD_outBuffer ob = { o->p, o->cap, o->len };
		r = ZSTD_decompressStream(zd, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(r)) {
			*why = "zstd payload is corrupt";
			error = -EINVAL;
			break;
		}
		if (r != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			*why = "zstd payload is truncated";
			error = -EINVAL;
			break;
		}
	}
	ZSTD_freeDStream(zd);
	return error;
}

static int
run_bzip2(const uint8_t *in, size_t inlen, struct outbuf *o, const char **why)
{
	bz_stream bs;
	int br, error = 0;

	memset(&bs, 0, sizeof(bs));
	if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK)
		return -ENOMEM;
	bs.next_in = (char *)(uintptr_t)in;
	bs.avail_in = inlen > UINT32_MAX ? UINT32_MAX : (unsigned)inlen;
	for (;;) {
		if (o->len == o->cap && (error = out_more(o)) != 0)
			break;
		size_t room = o->cap - o->len;
		bs.next_out = (char *)o->p + o->len;
		bs.avail_out = room > UINT32_MAX ? UINT32_MAX : (unsigned)room;
		br = BZ2_bzDecompress(&bs);
		o->len = (size_t)((uint8_t *)bs.next_out - o->p);
		if (br == BZ_STREAM_END)
			break;
		if (br != BZ_OK) {
			*why = "bzip2 payload is corrupt";
			error = -EINVAL;
			break;
		}
		if (bs.avail_in == 0 && bs.avail_out != 0) {
			*why = "bzip2 payload is truncated";
			error = -EINVAL;
			break;
		}
	}
	BZ2_bzDecompressEnd(&bs);
	return error;
}

/*
 * LZ4's legacy frame (lz4 -l, what the kernel build makes): a magic, then
 * blocks of a little-endian compressed length and data, each at most 8 MiB
 * when decompressed; the magic may repeat (concatenated frames).
 */
#define LZ4_LEGACY_MAGIC	0x184c2102u
#define LZ4_LEGACY_BLOCK	(8u << 20)

static int
run_lz4(const uint8_t *in, size_t inlen, struct outbuf *o, const char **why)
{
	size_t pos = 0;
	int error;

	while (pos + 4 <= inlen) {
		uint32_t n = (uint32_t)in[pos] | (uint32_t)in[pos + 1] << 8 |
		    (uint32_t)in[pos + 2] << 16 | (uint32_t)in[pos + 3] << 24;
		pos += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue;
		if (n == 0 || n > LZ4_COMPRESSBOUND(LZ4_LEGACY_BLOCK) || n > inlen - pos) {
			*why = "lz4 payload is corrupt or truncated";
			return -EINVAL;
		}
		if ((error = out_reserve(o, o->len + LZ4_LEGACY_BLOCK > o->max ? o->max :
		    o->len + LZ4_LEGACY_BLOCK)) != 0)
			return error;
		int room = (int)(o->cap - o->len < LZ4_LEGACY_BLOCK ? o->cap - o->len : LZ4_LEGACY_BLOCK);
		int got = LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)n, room);
		if (got < 0) {
			/* A block that would overrun the output limit fails too. */
			if (room < (int)LZ4_LEGACY_BLOCK && o->cap == o->max)
				return -EFBIG;
			*why = "lz4 payload is corrupt";
			return -EINVAL;
		}
		o->len += (size_t)got;
		pos += n;
	}
	if (pos != inlen || o->len == 0) {
		*why = "lz4 payload is truncated";
		return -EINVAL;
	}
	return 0;
}

int
kload_decompress(enum kload_comp comp, const uint8_t *in, size_t inlen, size_t size_hint,
    size_t max, uint8_t **out, size_t *outlen, const char **why)
{
	struct outbuf o = { NULL, 0, 0, max };
	int error;

	*out = NULL;
	*outlen = 0;
	/* Start at the size the build recorded, so the usual case never copies. */
	if (size_hint != 0 && (error = out_reserve(&o, size_hint < max ? size_hint : max)) != 0) {
		*why = "out of memory decompressing the kernel";
		return error;
	}
	switch (comp) {
	case KLOAD_COMP_NONE:
		error = out_reserve(&o, inlen);
		if (error == 0) {
			memcpy(o.p, in, inlen);
			o.len = inlen;
		}
		break;
	case KLOAD_COMP_GZIP:
		error = run_gzip(in, inlen, &o, why);
		break;
	case KLOAD_COMP_XZ:
		error = run_lzma(in, inlen, &o, 0, why);
		break;
	case KLOAD_COMP_LZMA:
		error = run_lzma(in, inlen, &o, 1, why);
		break;
	case KLOAD_COMP_ZSTD:
		error = run_zstd(in, inlen, &o, why);
		break;
	case KLOAD_COMP_BZIP2:
		error = run_bzip2(in, inlen, &o, why);
		break;
	case KLOAD_COMP_LZ4:
		/* The 4-byte size the build appends is not part of the frame. */
		error = inlen >= 4 ? run_lz4(in, inlen - 4, &o, why) : -EINVAL;
		if (inlen < 4)
			*why = "lz4 payload is truncated";
		break;
	default:
		*why = "the kernel's payload format has no host decompressor here";
		error = -ENOTSUP;
		break;
	}
	if (error == -EFBIG)
		*why = "the decompressed kernel is larger than the loader allows";
	else if (error == -ENOMEM)
		*why = "out of memory decompressing the kernel";
	if (error != 0) {
		free(o.p);
		return error;
	}
	*out = o.p;
	*outlen = o.len;
	return 0;
}
